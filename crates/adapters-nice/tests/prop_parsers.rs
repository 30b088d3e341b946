//! Hostile input for the NICE adapter: the callback (`token_version_id`, `enc_data`,
//! `integrity_value`), the decrypted EUC-KR result JSON behind a valid HMAC, the E1/E2/E3 answers,
//! the code tables and the session-key crypto. No input may panic and no error may carry the
//! result's personal data.
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

use bonin_adapters_http::{FnTransport, HttpClient, HttpRequest, HttpResponse, RetryPolicy};
use bonin_adapters_nice::{
    NiceClient, NiceConfig,
    codes::{self, CRYPTO_TOKEN_RESULT, GATEWAY, RESPONSE},
    crypto::{SessionKeys, derive_session_keys},
};
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

// The adapter over canned answers.

const TOKEN_VERSION_ID: &str = "tvid-20260101";
const REQUEST_NO: &str = "vf0123456789abcdefghjkmnpq";

fn now() -> Timestamp {
    time::macros::datetime!(2026-01-01 00:00 UTC)
}

fn keys() -> SessionKeys {
    derive_session_keys("20260101090000", REQUEST_NO, "dG9rZW4tdmFsdWU=")
}

/// Answers each request with the body set for its path (`""` when none), at the status set.
type Answers = Arc<Mutex<Vec<(&'static str, u16, Vec<u8>)>>>;

fn client(answers: &Answers) -> NiceClient {
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
    let http = HttpClient::new(ProviderId::Nice, Arc::new(transport), RetryPolicy::NONE);
    let config = NiceConfig::new("client", SecretString::from("secret"))
        .with_endpoints("https://nice.test", "https://nice.test/window");
    NiceClient::new(config, http, Arc::new(ManualClock::new(now()))).unwrap()
}

fn session() -> Verification {
    let (key, iv, hmac_key) = keys().to_stored();
    let state = json!({
        "key": key, "iv": iv, "hmac_key": hmac_key, "requestno": REQUEST_NO, "token_version_id": TOKEN_VERSION_ID,
    });
    let id = VerificationId::parse(REQUEST_NO).unwrap();
    Verification::start(id, ProviderId::Nice, Method::Window, FlowRules::nice(), now()).with_provider_session(
        Some(ProviderKey::new(ProviderId::Nice, TOKEN_VERSION_ID)),
        ProviderState::new(state.to_string()),
        None,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

/// The personal data of one result, as canaries.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    birthdate: String,
    mobileno: String,
    ci: String,
    di: String,
}

fn person() -> impl Strategy<Value = Person> {
    ("카나리[가-힣]{1,4}", 1900u16..2030, 1u8..13, 1u8..29, "010[0-9]{8}", canary(), canary()).prop_map(
        |(name, y, m, d, mobileno, ci, di)| Person {
            name,
            birthdate: format!("{y:04}{m:02}{d:02}"),
            mobileno,
            ci: format!("CI{ci}"),
            di: format!("DI{di}"),
        },
    )
}

/// Times that are valid `[year][month][day][hour][minute][second]` text at the ends of the range.
fn enctime() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("20260101085959".to_owned()),
        Just("-99990101000000".to_owned()),
        Just("99991231235959".to_owned()),
        Just("00000101000000".to_owned()),
        mutated(Just("20251231235959".to_owned())),
    ]
}

fn result_json(person: &Person, enctime: &str) -> Value {
    json!({
        "resultcode": "0000", "requestno": REQUEST_NO, "enctime": enctime, "responseno": "R-1",
        "name": person.name, "utf8_name": "%EC%B9%B4", "birthdate": person.birthdate, "gender": "1",
        "nationalinfo": "0", "mobileco": "5", "mobileno": person.mobileno, "ci": person.ci, "di": person.di,
        "sitecode": "Q0cyMzI=", "authtype": "M",
    })
}

/// The plaintext as NICE sends it (EUC-KR), or as raw bytes.
fn encoded(text: &str, euc_kr: bool) -> Vec<u8> {
    if euc_kr { encoding_rs::EUC_KR.encode(text).0.into_owned() } else { text.as_bytes().to_vec() }
}

fn callback(enc_data: &str, integrity_value: &str) -> CallbackParams {
    CallbackParams::new(CallbackTransport::Post)
        .with("token_version_id", TOKEN_VERSION_ID)
        .with("enc_data", enc_data)
        .with("integrity_value", integrity_value)
}

fn pii_stays_out(error: &Error, person: &Person) -> Result<(), TestCaseError> {
    let rendered = format!("{error} {error:?}");
    for value in [&person.name, &person.birthdate, &person.mobileno, &person.ci, &person.di] {
        no_leak(&rendered, value)?;
    }
    Ok(())
}

#[test]
fn result_time_at_the_edge_of_the_calendar_is_ignored_not_a_panic() {
    let person = Person {
        name: "홍길동".into(),
        birthdate: "19900215".into(),
        mobileno: "01012345678".into(),
        ci: "Q0k=".into(),
        di: "REk=".into(),
    };
    let keys = keys();
    let enc_data = keys.encrypt(&encoded(&result_json(&person, "-99990101000000").to_string(), true)).unwrap();
    let callback = callback(&enc_data, &keys.integrity_value(&enc_data));
    let completion = runtime().block_on(client(&Answers::default()).complete(&session(), &callback)).unwrap();
    assert_eq!(completion.identity.verified_at, now());
}

#[test]
fn prop_authenticated_result() {
    let runtime = runtime();
    let client = client(&Answers::default());
    let session = session();
    let plaintexts = (person(), enctime(), any::<bool>()).prop_flat_map(|(person, enctime, euc_kr)| {
        let body = json_body(result_json(&person, &enctime));
        (Just(person), body, Just(euc_kr))
    });
    check("prop_authenticated_result", plaintexts, |(person, body, euc_kr)| {
        let text = String::from_utf8_lossy(&body);
        let plaintext = if euc_kr { encoded(&text, true) } else { body.clone() };
        let keys = keys();
        let enc_data = keys.encrypt(&plaintext).unwrap();
        let mac = keys.integrity_value(&enc_data);
        match runtime.block_on(client.complete(&session, &callback(&enc_data, &mac))) {
            Ok(completion) => {
                let identity = completion.identity;
                prop_assert_eq!(identity.provider, ProviderId::Nice);
                let debug = format!("{identity:?}");
                prop_assert!(!debug.contains(&person.mobileno), "Debug shows the phone");
            }
            Err(error) => pii_stays_out(&error, &person)?,
        }
        Ok(())
    });
}

#[test]
fn prop_callback_params() {
    let runtime = runtime();
    let client = client(&Answers::default());
    let session = session();
    let keys = keys();
    let enc_data = keys
        .encrypt(
            result_json(
                &Person {
                    name: "홍길동".into(),
                    birthdate: "19900215".into(),
                    mobileno: "01012345678".into(),
                    ci: "Q0k=".into(),
                    di: "REk=".into(),
                },
                "20260101085959",
            )
            .to_string()
            .as_bytes(),
        )
        .unwrap();
    let mac = keys.integrity_value(&enc_data);
    let names = prop::sample::select(&["token_version_id", "enc_data", "integrity_value", "m"][..]);
    let values = prop_oneof![
        any_text(),
        mutated(Just(enc_data.clone())),
        mutated(Just(mac.clone())),
        mutated(Just(enc_data.replace('+', " "))),
        Just(TOKEN_VERSION_ID.to_owned()),
    ];
    let params = prop::collection::vec((names, values), 0..6);
    let valid = Just(vec![
        ("token_version_id", TOKEN_VERSION_ID.to_owned()),
        ("enc_data", enc_data.clone()),
        ("integrity_value", mac.clone()),
    ]);
    let strategy = prop_oneof![
        params,
        (valid, any::<Index>(), any_text()).prop_map(|(mut v, at, text)| {
            let slot = at.index(v.len());
            v[slot].1 = text;
            v
        })
    ];
    check("prop_callback_params", strategy, |pairs| {
        let callback =
            CallbackParams::from_pairs(CallbackTransport::Get, pairs.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        if let Err(error) = runtime.block_on(client.complete(&session, &callback)) {
            let rendered = format!("{error} {error:?}");
            for (_, value) in &pairs {
                prop_assert!(value.chars().count() < 8 || !rendered.contains(value.as_str()), "{}", rendered);
            }
        }
        Ok(())
    });
}

fn envelope(body: Value) -> Value {
    json!({"dataHeader": {"GW_RSLT_CD": "1200", "GW_RSLT_MSG": "오류 없음"}, "dataBody": body})
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![4 => Just(200u16), 1 => prop::sample::select(&[400u16, 401, 404, 500, 502, 503][..]), 1 => 100u16..600]
}

#[test]
fn prop_provider_answers() {
    let runtime = runtime();
    let token = envelope(
        json!({"access_token": "at", "expires_in": 1.576983049e9, "token_type": "bearer", "scope": "default"}),
    );
    let crypto = envelope(json!({
        "rsp_cd": "P000", "result_cd": "0000", "site_code": "Q0cyMzI=", "token_version_id": TOKEN_VERSION_ID,
        "token_val": "dG9rZW4=", "period": 3600.0,
    }));
    let revoke = envelope(json!({"result": "true"}));
    let answers = (status(), json_body(token), status(), json_body(crypto), status(), json_body(revoke));
    check("prop_provider_answers", answers, |(s1, token, s3, crypto, s2, revoke)| {
        let answers = Answers::new(Mutex::new(vec![
            ("/crypto/token", s3, crypto),
            ("/revokeById", s2, revoke),
            ("/oauth/token", s1, token),
        ]));
        let client = client(&answers);
        let id = VerificationId::parse(REQUEST_NO).unwrap();
        let request = WindowRequest::new(id, "https://bonin.test/v1/verifications/x/return");
        if let Ok(start) = runtime.block_on(client.start(&request)) {
            prop_assert!(start.provider_key.is_some());
            prop_assert!(start.valid_until.is_some_and(|t| t > now()));
        }
        let _ = runtime.block_on(client.revoke_access_token());
        Ok(())
    });
}

#[test]
fn prop_code_tables() {
    let texts = prop_oneof![any_text(), mutated(Just("1200".to_owned())), mutated(Just("P000".to_owned()))];
    check("prop_code_tables", (texts, proptest::option::of(any_text())), |(code, message)| {
        for table in [GATEWAY, RESPONSE, CRYPTO_TOKEN_RESULT] {
            let class = codes::classify(table, &code);
            let _ = codes::to_error("rsp_cd", &code, class, message.clone());
        }
        Ok(())
    });
}

#[test]
fn prop_session_crypto() {
    let keys = keys();
    let (key, iv, hmac_key) = keys.to_stored();
    let stored = (mutated(Just(key)), mutated(Just(iv)), mutated(Just(hmac_key)));
    let inputs = (stored, prop::collection::vec(any::<u8>(), 0..200), any_text(), any_text());
    check("prop_session_crypto", inputs, |((k, i, h), plaintext, enc_data, mac)| {
        let keys = match SessionKeys::from_stored(&k, &i, &h) {
            Ok(keys) => keys,
            Err(error) => {
                prop_assert!(matches!(error, Error::IntegrityMismatch { .. }), "not IntegrityMismatch");
                return Ok(());
            }
        };
        let (k2, i2, h2) = keys.to_stored();
        prop_assert_eq!((k2, i2, h2), (k, i, h));
        let encrypted = keys.encrypt(&plaintext).unwrap();
        prop_assert_eq!(keys.decrypt(&encrypted).unwrap(), plaintext);
        keys.verify_integrity(&encrypted, &keys.integrity_value(&encrypted)).unwrap();
        let _ = keys.decrypt(&enc_data);
        let _ = keys.verify_integrity(&enc_data, &mac);
        Ok(())
    });
}
