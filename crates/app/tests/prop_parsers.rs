//! Hostile input for the service's own parsers: every REST body and path through the router (JSON
//! mutated as structure and as text, arbitrary bytes, ids of any shape), the landing's query and
//! form, the configuration from `BONIN_*` variables, and `origin_of`. No request may panic or get a
//! 500, no answer may echo the personal data it was sent, no configuration error may show a secret.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::OnceLock;

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use bonin_app::{
    config::{LoadedConfig, StringEnv, describe, figment, origin_of, reference},
    wiring::{self, App},
};
use bonin_sandbox::fuzz::{any_text, check, json_body, mutated, no_leak};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::{prelude::*, sample::Index, test_runner::TestCaseError};
use serde_json::{Value, json};
use tower::ServiceExt;

// The service in the sandbox profile, shared by every property of this binary.

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: App,
    /// A window verification (NICE).
    window_id: String,
    /// An OTP verification (mobileOK).
    otp_id: String,
}

const WEBHOOK_AUTHORIZATION: &str = "export-authorization-0123456789abcdef";

const ENV: &[(&str, &str)] = &[
    ("BONIN_STORE__URL", "memory:"),
    ("BONIN_PROVIDERS__ESIGNON__COMPANY_ID", "bonin-sandbox"),
    ("BONIN_PROVIDERS__ESIGNON__EMAIL", "hr@shop.example"),
    ("BONIN_PROVIDERS__ESIGNON__PASSWORD", "hr-password-in-the-sandbox"),
    ("BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION", WEBHOOK_AUTHORIZATION),
];

/// Request limits, raised (where this build has them) so that fuzzing measures parsing, not rate
/// limiting.
const LIMITS: &[&str] = &[
    "limits.starts_per_minute",
    "limits.otp_sends_per_minute",
    "limits.confirms_per_minute",
    "limits.callbacks_per_minute",
    "limits.max_open_verifications",
];

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let limits = LIMITS
            .iter()
            .filter(|key| reference().iter().any(|s| s.key == **key))
            .map(|key| (format!("BONIN_{}", key.replace('.', "__").to_uppercase()), "100000000".to_owned()));
        let vars = ENV.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).chain(limits);
        let loaded =
            LoadedConfig::load(figment(Some("/nonexistent/bonin.toml".into()), StringEnv::from_vars(vars))).unwrap();
        let app = runtime.block_on(wiring::build(&loaded)).unwrap();
        let start = |body: Value| {
            let reply = runtime.block_on(send(&app, "POST", "/v1/verifications", Some(body.to_string().into_bytes())));
            assert_eq!(reply.0, StatusCode::CREATED, "{}", String::from_utf8_lossy(&reply.1));
            serde_json::from_slice::<Value>(&reply.1).unwrap()["id"].as_str().unwrap().to_owned()
        };
        let window_id =
            start(json!({"provider": "nice", "method": "window", "return_url": "http://127.0.0.1:8080/demo/done"}));
        let otp_id = start(json!({"provider": "mobileok", "method": "otp"}));
        Fixture { runtime, app, window_id, otp_id }
    })
}

async fn send(app: &App, method: &str, path: &str, body: Option<Vec<u8>>) -> (StatusCode, Vec<u8>) {
    send_with(app, method, path, header::CONTENT_TYPE.as_str(), "application/json", body).await
}

async fn send_with(
    app: &App,
    method: &str,
    path: &str,
    header_name: &str,
    header_value: &str,
    body: Option<Vec<u8>>,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    if let Ok(value) = axum::http::HeaderValue::from_str(header_value) {
        request = request.header(header_name, value);
    }
    // A request line HTTP itself refuses never reaches the router.
    let Ok(request) = request.body(body.map_or_else(Body::empty, Body::from)) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec())
}

/// What a query keeps unencoded: its separators, and `%` so that broken escapes arrive as sent.
const QUERY: &percent_encoding::AsciiSet =
    &NON_ALPHANUMERIC.remove(b'=').remove(b'&').remove(b'%').remove(b'+').remove(b'-').remove(b'_').remove(b'.');

/// A path segment from any id: a real one, a mutated one, or any text, percent-encoded.
fn path_id(real: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(real.to_owned()),
        2 => mutated(Just(real.to_owned())),
        1 => any_text(),
    ]
    .prop_map(|id| utf8_percent_encode(&id, NON_ALPHANUMERIC).to_string())
}

fn not_a_server_error(status: StatusCode, body: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "500: {}", String::from_utf8_lossy(body));
    Ok(())
}

#[test]
fn otp_send_with_a_dash_for_a_month_digit_in_the_birth_date_is_a_400_not_a_dropped_connection() {
    let fixture = fixture();
    let body = json!({"name": "홍길동", "phone": "01012345678", "birth_date": "1990-0--15", "gender": "male",
                      "nationality": "domestic", "carrier": "skt"});
    let path = format!("/v1/verifications/{}/otp", fixture.otp_id);
    let (status, answer) =
        fixture.runtime.block_on(send(&fixture.app, "POST", &path, Some(body.to_string().into_bytes())));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["code"], "invalid_request");
    assert!(!answer.to_string().contains("1990"));
}

/// The personal data of one OTP subject, as canaries.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    phone: String,
    birth: String,
}

fn person() -> impl Strategy<Value = Person> {
    ("카나리[가-힣]{1,4}", "010[0-9]{8}", 1900u16..2025, 1u8..13, 1u8..29).prop_map(|(name, phone, y, m, d)| Person {
        name,
        phone,
        birth: format!("{y:04}-{m:02}-{d:02}"),
    })
}

/// Fails when the answer shows the person's name, phone or birth date.
fn echoes_nothing(answer: &[u8], person: &Person) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(answer);
    for value in [person.name.clone(), person.phone.clone(), person.birth.clone(), person.birth.replace('-', "")] {
        prop_assert!(!text.contains(&value), "the answer echoes personal data: {text}");
    }
    Ok(())
}

#[test]
fn prop_otp_send_body() {
    let fixture = fixture();
    let strategy = person().prop_flat_map(|person| {
        let subject = json!({"name": person.name, "phone": person.phone, "birth_date": person.birth,
            "gender": "male", "nationality": "domestic", "carrier": "skt", "auth_type": "sms", "client_ip": "203.0.113.7"});
        (Just(person), json_body(subject), path_id(&fixture.otp_id))
    });
    check!("prop_otp_send_body", strategy, |(person, body, id)| {
        let path = format!("/v1/verifications/{id}/otp");
        let (status, answer) = fixture.runtime.block_on(send(&fixture.app, "POST", &path, Some(body)));
        not_a_server_error(status, &answer)?;
        echoes_nothing(&answer, &person)
    });
}

/// One request to any endpoint: the method, the path, the body.
fn any_request() -> impl Strategy<Value = (&'static str, String, Option<Vec<u8>>)> {
    let f = fixture();
    let window = || path_id(&f.window_id);
    let otp = || path_id(&f.otp_id);
    let start = json!({"provider": "nice", "method": "window", "return_url": "http://127.0.0.1:8080/demo/done?x=1#f",
                       "purpose": "sign_up", "display": "page", "min_age": 19});
    let complete = json!({"params": {"token_version_id": "t", "enc_data": "ZW5j", "integrity_value": "bWFj"}});
    let signer = json!({"template_id": "170", "workflow_name": "근로계약서 2026", "expires_on": "2099-12-31",
        "signers": [{"name": "카나리", "email": "canary@shop.example", "phone": "010-8765-4321"}], "fields": {"주소": "서울"}});
    let events = json!({"header": {"api_name": "export"}, "body": {"wfuid": "1", "status": "Playing"}});
    prop_oneof![
        json_body(start).prop_map(|b| ("POST", "/v1/verifications".to_owned(), Some(b))),
        (window(), json_body(complete)).prop_map(|(id, b)| (
            "POST",
            format!("/v1/verifications/{id}/complete"),
            Some(b)
        )),
        (otp(), json_body(json!({"code": "123456"}))).prop_map(|(id, b)| (
            "POST",
            format!("/v1/verifications/{id}/confirm"),
            Some(b)
        )),
        (otp(), proptest::option::of(json_body(json!({})))).prop_map(|(id, b)| (
            "POST",
            format!("/v1/verifications/{id}/resend"),
            b
        )),
        window().prop_map(|id| ("GET", format!("/v1/verifications/{id}"), None)),
        (window(), mutated(Just("token_version_id=t&enc_data=a%2Bb&integrity_value=c".to_owned()))).prop_map(
            |(id, q)| ("GET", format!("/v1/verifications/{id}/return?{}", utf8_percent_encode(&q, QUERY)), None)
        ),
        window().prop_map(|id| ("POST", format!("/v1/verifications/{id}/launch"), None)),
        json_body(signer).prop_map(|b| ("POST", "/v1/signing".to_owned(), Some(b))),
        (path_id("esignon-1"), json_body(json!({"command": "dispose", "reason": "해지"}))).prop_map(|(id, b)| (
            "POST",
            format!("/v1/signing/{id}/cancel"),
            Some(b)
        )),
        path_id("esignon-1").prop_map(|id| ("GET", format!("/v1/signing/{id}"), None)),
        json_body(events).prop_map(|b| ("POST", "/v1/signing/events".to_owned(), Some(b))),
    ]
}

#[test]
fn prop_any_request() {
    let fixture = fixture();
    check!("prop_any_request", (any_request(), any::<bool>()), |((method, path, body), form)| {
        let app = &fixture.app;
        let (status, answer) = if path.ends_with("/events") {
            fixture.runtime.block_on(send_with(app, method, &path, "authorization", WEBHOOK_AUTHORIZATION, body))
        } else if form && path.contains("/return") {
            let (path, query) = path.split_once('?').unwrap_or((&path, ""));
            let body = Some(query.as_bytes().to_vec());
            fixture.runtime.block_on(send_with(
                app,
                "POST",
                path,
                "content-type",
                "application/x-www-form-urlencoded",
                body,
            ))
        } else {
            fixture.runtime.block_on(send(app, method, &path, body))
        };
        not_a_server_error(status, &answer)?;
        let text = String::from_utf8_lossy(&answer);
        prop_assert!(
            !text.contains("canary@shop.example") && !text.contains("8765-4321"),
            "the answer echoes personal data"
        );
        Ok(())
    });
}

#[test]
fn prop_return_url_and_landing() {
    let fixture = fixture();
    let urls = mutated(Just("http://127.0.0.1:8080/demo/done?from=shop&x=<b>\"'#frag".to_owned()));
    let strategy =
        (urls, prop::sample::select(&["page", "popup"][..]), prop::sample::select(&["nice", "mobileok"][..]));
    check!("prop_return_url_and_landing", strategy, |(return_url, display, provider)| {
        let start = json!({"provider": provider, "method": "window", "return_url": return_url, "display": display});
        let (status, answer) = fixture.runtime.block_on(send(
            &fixture.app,
            "POST",
            "/v1/verifications",
            Some(start.to_string().into_bytes()),
        ));
        not_a_server_error(status, &answer)?;
        if status != StatusCode::CREATED {
            return Ok(());
        }
        let id = serde_json::from_slice::<Value>(&answer).unwrap()["id"].as_str().unwrap().to_owned();
        let (status, page) =
            fixture.runtime.block_on(send(&fixture.app, "GET", &format!("/v1/verifications/{id}/return?x=1"), None));
        not_a_server_error(status, &page)?;
        let page = String::from_utf8_lossy(&page);
        prop_assert!(page.matches("<script").count() <= 1, "the return URL opened a script element: {page}");
        Ok(())
    });
}

// Configuration.

/// A secret value to spot in error messages.
const SECRET: &str = "CANARYsecret0123456789abcdef";

fn config_vars() -> impl Strategy<Value = Vec<(String, String)>> {
    let keys: Vec<String> = reference().into_iter().map(|s| s.key).collect();
    let var = (prop::sample::select(keys), any::<Index>(), 0u8..8, any_text()).prop_map(|(key, _, kind, text)| {
        let name = format!("BONIN_{}", key.replace('.', "__").to_uppercase());
        let leaf = key.rsplit('.').next().unwrap_or(&key);
        let secretish =
            ["secret", "password", "api_keys", "access_token", "authorization", "key_file_base64", "encryption_keys"]
                .iter()
                .any(|s| leaf.contains(s));
        let value = match kind {
            _ if secretish && kind < 4 => SECRET.to_owned(),
            0 => String::new(),
            1 => "0".to_owned(),
            2 => "18446744073709551616".to_owned(),
            3 => "https://shop.example, http://127.0.0.1:8080/x".to_owned(),
            4 => "[not toml".to_owned(),
            _ => text,
        };
        (name, value)
    });
    let odd = (
        prop_oneof![
            Just("BONIN_SERVER".to_owned()),
            Just("BONIN_SERVER__BIND__PORT".to_owned()),
            Just("BONIN___".to_owned()),
            Just("BONIN_PROVIDERS__NICE".to_owned()),
            "BONIN_[A-Z_]{0,20}"
        ],
        any_text(),
    );
    prop::collection::vec(prop_oneof![6 => var, 1 => odd], 0..6)
}

#[test]
fn described_configuration_redacts_the_store_encryption_keys() {
    let vars = [("BONIN_STORE__ENCRYPTION_KEYS".to_owned(), format!("1:{SECRET}"))];
    let loaded =
        LoadedConfig::load(figment(Some("/nonexistent/bonin.toml".into()), StringEnv::from_vars(vars))).unwrap();
    let lines = describe(&loaded.figment).unwrap();
    let (_, shown, _) = lines.iter().find(|(key, _, _)| key == "store.encryption_keys").unwrap();
    assert!(!shown.contains(SECRET), "{shown}");
}

#[test]
fn prop_config_from_environment() {
    check!("prop_config_from_environment", config_vars(), |vars| {
        let figment = figment(Some("/nonexistent/bonin.toml".into()), StringEnv::from_vars(vars));
        match LoadedConfig::load(figment.clone()) {
            Ok(loaded) => {
                prop_assert!(!format!("{loaded:?}").contains(SECRET), "Debug shows a secret");
                if let Ok(lines) = describe(&loaded.figment) {
                    for (key, value, _) in lines {
                        prop_assert!(!value.contains(SECRET), "`{key}` is described with its secret");
                    }
                }
            }
            Err(error) => no_leak(&error.to_string(), SECRET)?,
        }
        Ok(())
    });
}

#[test]
fn prop_origin_of() {
    let urls = prop_oneof![
        mutated(Just("https://Shop.Example:8443/path?q=1#frag".to_owned())),
        mutated(Just("http://[::1]:8080".to_owned())),
        any_text(),
    ];
    check!("prop_origin_of", urls, |url| {
        if let Some(origin) = origin_of(&url) {
            prop_assert!(origin.starts_with("http://") || origin.starts_with("https://"));
            prop_assert_eq!(origin_of(&origin), Some(origin.clone()), "an origin is its own origin");
        }
        Ok(())
    });
}
