//! Hostile input for the eSignon adapter: `expire_date` in any shape, every API answer (login,
//! start, status, cancel, remind), the Export API callback's `Authorization` header and body, and the
//! result-code tables. No input may panic and no error may carry a signer's personal data.
//!
//! Each property runs `BONIN_FUZZ_CASES` cases (256 by default); `cargo xtask fuzz` raises the count
//! and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    io::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use bonin_adapters_esignon::{
    EsignonClient, EsignonConfig, ExportError, codes, parse_expire_date, receive_export, workflow_status,
};
use bonin_adapters_http::{FnTransport, HttpClient, HttpRequest, HttpResponse, RetryPolicy};
use bonin_domain::*;
use proptest::{
    prelude::*,
    sample::Index,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::{Value, json};

// The harness: the same in every crate's `prop_parsers.rs`.

/// Cases per property: `BONIN_FUZZ_CASES`, else a count that keeps an ordinary test run quick.
fn cases() -> u32 {
    std::env::var("BONIN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Runs `test` on values of `strategy`, records how many cases ran, and fails with the shrunk
/// counterexample.
fn check<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::with_cases(cases()) });
    let ran = AtomicU64::new(0);
    let result = runner.run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    record(name, ran.into_inner(), result.is_ok());
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
}

/// Appends `<crate> <property> <cases> <ok|FAILED>` to `BONIN_FUZZ_REPORT`, when set.
fn record(name: &str, ran: u64, passed: bool) {
    let Ok(path) = std::env::var("BONIN_FUZZ_REPORT") else { return };
    let line = format!("{} {name} {ran} {}\n", env!("CARGO_PKG_NAME"), if passed { "ok" } else { "FAILED" });
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("fuzz report");
    file.write_all(line.as_bytes()).expect("fuzz report");
}

/// Characters that break parsers: separators, controls, invisible and wide characters, lookalike
/// digits.
const ODD: &[char] = &[
    '0',
    '1',
    '9',
    '-',
    ' ',
    '/',
    '+',
    '%',
    '.',
    ':',
    '|',
    '@',
    '=',
    '"',
    '\\',
    '{',
    '}',
    '[',
    ']',
    ',',
    'T',
    'Z',
    'a',
    '\0',
    '\t',
    '\n',
    '\u{7f}',
    '\u{a0}',
    '\u{200b}',
    '\u{feff}',
    'é',
    '가',
    '𝟘',
    '٣',
    '\u{10ffff}',
];

/// `base` with up to four edits: a character replaced, inserted, removed, swapped, or the text cut.
fn mutated(base: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    (base, prop::collection::vec((0u8..6, any::<Index>(), prop::sample::select(ODD)), 0..5)).prop_map(
        |(text, edits)| {
            let mut chars: Vec<char> = text.chars().collect();
            for (kind, at, c) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 if i < chars.len() => chars[i] = c,
                    1 => chars.insert(i, c),
                    2 if i < chars.len() => {
                        chars.remove(i);
                    }
                    3 if i + 1 < chars.len() => chars.swap(i, i + 1),
                    4 => chars.truncate(i),
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        },
    )
}

/// Any text at all: arbitrary Unicode, and arbitrary bytes read as UTF-8.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Canary-like personal data: a marker and random digits or Hangul, so a leak is unmistakable.
fn canary() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{6,12}", "CANARY[A-Za-z0-9+/]{4,16}", "카나리[가-힣]{1,6}", "[A-Za-z0-9+/]{40,100}={0,2}",]
}

/// Fails when `rendered` (an error's Display or Debug) holds a run of four or more digits of
/// `input`, or `input` itself once it is long enough to be personal data.
fn no_leak(rendered: &str, input: &str) -> Result<(), TestCaseError> {
    let digits: Vec<&str> = input.split(|c: char| !c.is_ascii_digit()).filter(|run| run.len() >= 4).collect();
    for run in digits {
        prop_assert!(!rendered.contains(run), "the error shows digits of the input: {rendered}");
    }
    let trimmed = input.trim();
    if trimmed.chars().count() >= 6 {
        prop_assert!(!rendered.contains(trimmed), "the error shows the input: {rendered}");
    }
    Ok(())
}

/// Any JSON value, with the numbers and strings that trip readers.
fn json_value() -> impl Strategy<Value = Value> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).prop_map(Value::from),
        any_text().prop_map(Value::from),
        canary().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `valid` with some of its fields (at any depth) replaced by arbitrary JSON, removed, or joined
/// by new ones.
fn mutated_json(valid: Value) -> impl Strategy<Value = Value> {
    (Just(valid), prop::collection::vec((any::<Index>(), 0u8..3, json_value()), 0..4)).prop_map(|(mut value, edits)| {
        for (at, kind, replacement) in edits {
            let mut paths = Vec::new();
            object_paths(&value, String::new(), &mut paths);
            if paths.is_empty() {
                break;
            }
            let path = &paths[at.index(paths.len())];
            let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
            let Some(object) = value.pointer_mut(parent).and_then(Value::as_object_mut) else { continue };
            match kind {
                0 => {
                    object.insert(key.to_owned(), replacement);
                }
                1 => {
                    object.remove(key);
                }
                _ => {
                    object.insert(format!("{key}_"), replacement);
                }
            }
        }
        value
    })
}

/// JSON pointers of every member of every object in `value`.
fn object_paths(value: &Value, at: String, out: &mut Vec<String>) {
    if let Value::Object(object) = value {
        for (key, member) in object {
            let path = format!("{at}/{key}");
            out.push(path.clone());
            object_paths(member, path, out);
        }
    }
}

/// `valid` as JSON text, mutated as text or as structure, or any text at all.
fn json_body(valid: Value) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => mutated_json(valid.clone()).prop_map(|v| v.to_string().into_bytes()),
        2 => mutated(Just(valid.to_string())).prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn now() -> Timestamp {
    time::macros::datetime!(2026-01-01 00:00 UTC)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

/// Answers each request with the status and body set for the first matching path (`{}` when none).
type Answers = Arc<Mutex<Vec<(&'static str, u16, Vec<u8>)>>>;

fn client(answers: &Answers) -> EsignonClient {
    let answers = answers.clone();
    let transport = FnTransport::new(move |request: &HttpRequest| {
        let answers = answers.lock().unwrap();
        let (_, status, body) = answers.iter().find(|(path, _, _)| request.url.contains(path)).cloned().unwrap_or((
            "",
            200,
            b"{}".to_vec(),
        ));
        Ok(HttpResponse::new(status, body))
    });
    let http = HttpClient::new(ProviderId::Esignon, Arc::new(transport), RetryPolicy::NONE);
    let config = EsignonConfig::new("company", "member@esignon.test", SecretString::from("password"))
        .with_api_base("https://esignon.test");
    EsignonClient::new(config, http, Arc::new(ManualClock::new(now()))).unwrap()
}

/// `expire_date` as eSignon might write it: every documented-by-example shape, the ends of the
/// calendar, and mutations of them.
fn expire_date() -> impl Strategy<Value = String> {
    let shapes = prop_oneof![
        Just("2026-12-23 10:00:00".to_owned()),
        Just("2026-12-23 10:00:00.0".to_owned()),
        Just("2026-12-23T10:00:00".to_owned()),
        Just("2026-12-23T01:00:00Z".to_owned()),
        Just("2026-12-23T10:00:00+09:00".to_owned()),
        Just("2026-12-23".to_owned()),
        Just("-9999-01-01 00:00:00".to_owned()),
        Just("-9999-01-01".to_owned()),
        Just("9999-12-31".to_owned()),
        Just("9999-12-31T23:59:59-23:59".to_owned()),
        Just("+9999-12-31T23:59:59Z".to_owned()),
    ];
    prop_oneof![3 => mutated(shapes), 1 => any_text()]
}

#[test]
fn prop_expire_date() {
    check("prop_expire_date", expire_date(), |text| {
        if let Some(at) = parse_expire_date(&text) {
            // What the login does with it.
            let cap = now() + std::time::Duration::from_secs(30 * 24 * 3600);
            let ends = at.min(cap);
            let _ = std::time::Duration::try_from(ends - now());
        }
        Ok(())
    });
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![4 => Just(200u16), 1 => prop::sample::select(&[400u16, 401, 404, 500, 502, 503][..]), 1 => 100u16..600]
}

fn header(code: &str) -> Value {
    json!({"result_code": code, "result_msg": "ok", "request_code": "1001A"})
}

fn signer() -> Signer {
    Signer {
        name: Name::new("카나리서명자").unwrap(),
        email: Email::new("canary.signer@esignon.test").ok(),
        phone: PhoneNumber::new("01087654321").ok(),
    }
}

#[test]
fn prop_api_answers() {
    let runtime = runtime();
    let login =
        json!({"header": header("00"), "body": {"access_token": "token", "expire_date": "2026-12-23 10:00:00"}});
    let start = json!({"header": header("00"), "body": {"workflow_id": "123", "token": "sign+token"}});
    let workflow = json!({"header": header("00"), "body": {
        "workflow_id": "123", "workflow_name": "계약", "workflow_status": "Complete", "download_url": "https://d",
        "certificate_url": "https://c", "action_history_list": [{"step_code": "1", "confirm_date": "2026-01-01"}],
    }});
    let common = json!({"header": header("00"), "body": {}});
    let strategy = (
        (status(), json_body(login), expire_date()),
        (status(), json_body(start)),
        (status(), json_body(workflow)),
        (status(), json_body(common)),
        prop_oneof![Just("123".to_owned()), any_text()],
    );
    check("prop_api_answers", strategy, |((s1, login, expire), (s2, start), (s3, workflow), (s4, common), id)| {
        let login = match serde_json::from_slice::<Value>(&login) {
            Ok(mut value) if value.pointer("/body/expire_date").is_some() => {
                value["body"]["expire_date"] = json!(expire);
                value.to_string().into_bytes()
            }
            _ => login,
        };
        let answers = Answers::new(Mutex::new(vec![
            ("/login", s1, login),
            ("/startsimple", s2, start),
            ("/api/v2/workflows/", s3, workflow),
            ("/JEDOC/Common.do", s4, common),
        ]));
        let client = client(&answers);
        let leaks = |error: &Error| -> Result<(), TestCaseError> {
            let rendered = format!("{error} {error:?}");
            for value in ["카나리서명자", "canary.signer@esignon.test", "01087654321"] {
                no_leak(&rendered, value)?;
            }
            Ok(())
        };
        let request = SigningRequest::new("170", "근로계약서", vec![signer()])
            .with_fields(vec![("주소".into(), "01087654321".into())]);
        if let Err(error) = runtime.block_on(client.start(&request)) {
            leaks(&error)?;
        }
        if let Ok(info) = runtime.block_on(client.status(&id)) {
            prop_assert_eq!(info.provider, ProviderId::Esignon);
        }
        let _ = runtime.block_on(client.cancel(&id, CancelCommand::Dispose { reason: "사유".into() }));
        let _ = runtime.block_on(client.remind(&id));
        if let Some(expiry) = client.token_expiry() {
            prop_assert!(expiry.expires_at > now());
        }
        Ok(())
    });
}

const AUTHORIZATION: &str = "callback-authorization-0123456789";

#[test]
fn prop_export_callback() {
    let secret = SecretString::from(AUTHORIZATION);
    let body = json!({"header": {"api_name": "export", "session_id": "", "request_code": ""}, "body": {
        "wfuid": "12584", "status": "Complete", "worktype": "CF", "actionid": "2", "workdatetime": "2020-01-31 04:23:28.0",
        "useremail": "canary.signer@esignon.test", "opinion": "카나리의견", "download_url": "https://d", "cert_url": "https://c",
    }});
    let authorization = proptest::option::of(
        prop_oneof![3 => Just(AUTHORIZATION.to_owned()), 1 => mutated(Just(AUTHORIZATION.to_owned())), 1 => any_text()],
    );
    check("prop_export_callback", (authorization, json_body(body)), |(authorization, body)| {
        match receive_export(&secret, authorization.as_deref(), &body) {
            Ok(callback) => {
                prop_assert_eq!(authorization.as_deref().map(str::trim), Some(AUTHORIZATION));
                prop_assert!(!callback.workflow_id.is_empty());
                let debug = format!("{callback:?}");
                prop_assert!(
                    !debug.contains("canary.signer") && !debug.contains("카나리의견"),
                    "Debug shows the signer"
                );
            }
            Err(error) => {
                let rendered = format!("{error} {error:?}");
                prop_assert!(!rendered.contains("canary.signer") && !rendered.contains(AUTHORIZATION), "{}", rendered);
                if authorization.as_deref().map(str::trim) != Some(AUTHORIZATION) {
                    prop_assert_eq!(error, ExportError::Unauthorized);
                }
            }
        }
        Ok(())
    });
}

#[test]
fn prop_codes_and_statuses() {
    let endpoints = prop::sample::select(&["1001Q", "5005Q", "1510Q", "1429Q", "v2.workflows", "9999Q"][..]);
    let codes = prop_oneof![Just("00".to_owned()), Just("94".to_owned()), "[0-9]{1,3}", any_text()];
    check(
        "prop_codes_and_statuses",
        (endpoints, codes, proptest::option::of(any_text())),
        |(endpoint, code, message)| {
            let _ = codes::classify(endpoint, &code);
            let _ = codes::to_error(endpoint, &code, message);
            let _ = workflow_status(&code);
            Ok(())
        },
    );
}
