//! Hostile input for the NICE adapter: the callback (`token_version_id`, `enc_data`,
//! `integrity_value`), the decrypted EUC-KR result JSON behind a valid HMAC, the E1/E2/E3 answers,
//! the code tables and the session-key crypto. No input may panic and no error may carry the
//! result's personal data.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::{Arc, Mutex};

use bonin_adapters_http::{FnTransport, HttpClient, HttpRequest, HttpResponse, RetryPolicy};
use bonin_adapters_nice::{
    NiceClient, NiceConfig,
    codes::{self, CRYPTO_TOKEN_RESULT, GATEWAY, RESPONSE},
    crypto::{SessionKeys, derive_session_keys},
};
use bonin_domain::*;
use bonin_sandbox::fuzz::{any_text, canary, check, json_body, mutated, no_leak};
use proptest::{prelude::*, sample::Index, test_runner::TestCaseError};
use serde_json::{Value, json};

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
    Verification::start(id, ProviderId::Nice, Method::Window, bonin_adapters_nice::FLOW_RULES, now())
        .with_provider_session(
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
    check!("prop_authenticated_result", plaintexts, |(person, body, euc_kr)| {
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
    check!("prop_callback_params", strategy, |pairs| {
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
    check!("prop_provider_answers", answers, |(s1, token, s3, crypto, s2, revoke)| {
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
    check!("prop_code_tables", (texts, proptest::option::of(any_text())), |(code, message)| {
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
    check!("prop_session_crypto", inputs, |((k, i, h), plaintext, enc_data, mac)| {
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
