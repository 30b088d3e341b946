//! Hostile input for the eSignon adapter: `expire_date` in any shape, every API answer (login,
//! start, status, cancel, remind), the Export API callback's `Authorization` header and body, and the
//! result-code tables. No input may panic and no error may carry a signer's personal data.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::{Arc, Mutex};

use bonin_adapters_esignon::{
    EsignonClient, EsignonConfig, ExportError, codes, parse_expire_date, receive_export, workflow_status,
};
use bonin_adapters_http::{FnTransport, HttpClient, HttpRequest, HttpResponse, RetryPolicy};
use bonin_domain::*;
use bonin_sandbox::fuzz::{any_text, check, json_body, mutated, no_leak};
use proptest::{prelude::*, test_runner::TestCaseError};
use serde_json::{Value, json};

fn now() -> Timestamp {
    time::macros::datetime!(2026-01-01 00:00 UTC)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

/// Answers each request with the status and body set for the first matching path (`{}` when none).
type Answers = Arc<Mutex<Vec<(&'static str, u16, Vec<u8>)>>>;

fn client(answers: &Answers, embed: bool) -> EsignonClient {
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
    let mut config = EsignonConfig::new("company", "member@esignon.test", SecretString::from("password"))
        .with_api_base("https://esignon.test");
    config.embed = embed;
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
    check!("prop_expire_date", expire_date(), |text| {
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
    let start = json!({"header": header("00"), "body": {"workflow_id": "123", "token": "sign+token", "play_url": "/api/c/sign?token=p"}});
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
        (prop_oneof![Just("123".to_owned()), any_text()], any::<bool>()),
    );
    check!("prop_api_answers", strategy, |(
        (s1, login, expire),
        (s2, start),
        (s3, workflow),
        (s4, common),
        (id, embed),
    )| {
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
        let client = client(&answers, embed);
        let leaks = |error: &Error| -> Result<(), TestCaseError> {
            let rendered = format!("{error} {error:?}");
            for value in ["카나리서명자", "canary.signer@esignon.test", "01087654321"] {
                no_leak(&rendered, value)?;
            }
            Ok(())
        };
        let export = ExportTarget {
            url: "https://bonin.test/v1/signing/events".into(),
            authorization: SecretString::from(AUTHORIZATION),
        };
        let request = SigningRequest::new("170", "근로계약서", vec![signer()])
            .with_fields(vec![("주소".into(), "01087654321".into())])
            .with_export(Some(export));
        match runtime.block_on(client.start(&request)) {
            Err(error) => leaks(&error)?,
            Ok(started) => {
                if let Some(url) = &started.signing_url {
                    let url = url.expose_secret();
                    prop_assert!(embed, "a signer's link only in embed mode");
                    prop_assert!(url.starts_with("https://") || url.starts_with("http://"), "{}", url);
                }
                let debug = format!("{started:?}");
                prop_assert!(!debug.contains("sign+token"), "{}", debug);
            }
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
    let fields = json!({
        "wfuid": "12584", "status": "Complete", "worktype": "CF", "actionid": "2", "workdatetime": "2020-01-31 04:23:28.0",
        "useremail": "canary.signer@esignon.test", "opinion": "카나리의견", "download_url": "https://d", "cert_url": "https://c",
        "next_play_user": "canary.next@esignon.test", "play_url": "https://docs.esignon.net/api/c/sign?token=CANARYplay",
        "user_name": "카나리서명자",
    });
    // The three documented shapes: the legacy envelope (the value in the HTTP header or in the JSON
    // header) and the flat body.
    let legacy =
        json!({"header": {"api_name": "export", "session_id": "", "request_code": ""}, "body": fields.clone()});
    let mut in_header = legacy.clone();
    in_header["header"]["authorization"] = json!(AUTHORIZATION);
    let mut flat = fields;
    flat["workflow_id"] = json!(12584);
    let body = prop_oneof![json_body(legacy), json_body(in_header), json_body(flat)];
    let authorization = proptest::option::of(
        prop_oneof![3 => Just(AUTHORIZATION.to_owned()), 1 => mutated(Just(AUTHORIZATION.to_owned())), 1 => any_text()],
    );
    check!("prop_export_callback", (authorization, body), |(authorization, body)| {
        let presented = authorization.as_deref().map(str::trim) == Some(AUTHORIZATION);
        let in_body = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.pointer("/header/authorization").and_then(Value::as_str).map(|a| a.trim() == AUTHORIZATION))
            .unwrap_or(false);
        match receive_export(&secret, authorization.as_deref(), &body) {
            Ok(callback) => {
                prop_assert!(presented || in_body, "accepted without the authorization");
                prop_assert!(!callback.workflow_id.is_empty());
                let debug = format!("{callback:?} {}", callback.status_label());
                for value in ["canary.signer", "canary.next", "CANARYplay", "카나리의견", "카나리서명자"] {
                    prop_assert!(!debug.contains(value), "Debug shows {}: {}", value, debug);
                }
            }
            Err(error) => {
                let rendered = format!("{error} {error:?}");
                prop_assert!(!rendered.contains("canary.signer") && !rendered.contains(AUTHORIZATION), "{}", rendered);
                if !presented && !in_body {
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
    check!("prop_codes_and_statuses", (endpoints, codes, proptest::option::of(any_text())), |(
        endpoint,
        code,
        message,
    )| {
        let _ = codes::classify(endpoint, &code);
        let _ = codes::to_error(endpoint, &code, message);
        let _ = workflow_status(&code);
        Ok(())
    },);
}
