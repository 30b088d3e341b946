//! Hostile input for the PortOne adapters: V1 envelopes, certifications and `getToken` answers, V2
//! error bodies and identity verifications, the window callbacks of both, and Standard Webhooks
//! headers and bodies. No input may panic and no error may carry a certification's personal data.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::{Arc, Mutex};

use bonin_adapters_http::{FnTransport, HttpClient, HttpRequest, HttpResponse, RetryPolicy};
use bonin_adapters_portone::{
    Certification, IdentityVerification, PortoneV1Client, PortoneV1Config, PortoneV2Client, PortoneV2Config, V1Error,
    V2Error, WebhookError, WebhookVerifier,
};
use bonin_domain::*;
use bonin_sandbox::fuzz::{any_text, canary, check, json_body, mutated, mutated_json, no_leak};
use proptest::{prelude::*, test_runner::TestCaseError};
use serde_json::{Value, json};

const ID: &str = "vf0123456789abcdefghjkmnpq";

fn now() -> Timestamp {
    time::macros::datetime!(2026-01-01 00:00 UTC)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

/// Answers each request with the status and body set for the first matching path (`{}` when none).
type Answers = Arc<Mutex<Vec<(&'static str, u16, Vec<u8>)>>>;

fn http(provider: ProviderId, answers: &Answers) -> HttpClient {
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
    HttpClient::new(provider, Arc::new(transport), RetryPolicy::NONE)
}

fn v1(answers: &Answers) -> PortoneV1Client {
    let mut config = PortoneV1Config::new("imp-key", SecretString::from("imp-secret"), "imp12345678")
        .with_endpoints("https://portone.test", "https://portone.test/v1.js");
    config.channel_key = Some("channel-key".into());
    PortoneV1Client::new(config, http(ProviderId::PortoneV1, answers), Arc::new(ManualClock::new(now()))).unwrap()
}

fn v2(answers: &Answers) -> PortoneV2Client {
    let config = PortoneV2Config::new(SecretString::from("api-secret"), "store-1", "channel-key")
        .with_endpoints("https://portone.test", "https://portone.test/v2.js");
    PortoneV2Client::new(config, http(ProviderId::PortoneV2, answers), Arc::new(ManualClock::new(now()))).unwrap()
}

fn session(provider: ProviderId, state: Value) -> Verification {
    let id = VerificationId::parse(ID).unwrap();
    Verification::start(id, provider, Method::Window, FlowRules::new(std::time::Duration::from_secs(600)), now())
        .with_provider_session(None, ProviderState::new(state.to_string()), None)
}

/// HTTP statuses: mostly success, sometimes anything. 409 is left to the keyed-retry tests of the
/// adapter (it waits between attempts).
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![4 => Just(200u16), 1 => prop::sample::select(&[400u16, 401, 403, 404, 500, 502, 503][..]), 1 => 100u16..600]
        .prop_filter("409 waits", |s| *s != 409)
}

/// The personal data of one certification, as canaries.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    birthday: String,
    phone: String,
    ci: String,
    di: String,
}

fn person() -> impl Strategy<Value = Person> {
    ("카나리[가-힣]{1,4}", 1900u16..2030, 1u8..13, 1u8..29, "010[0-9]{8}", canary(), canary()).prop_map(
        |(name, y, m, d, phone, ci, di)| Person {
            name,
            birthday: format!("{y:04}-{m:02}-{d:02}"),
            phone,
            ci: format!("CI{ci}"),
            di: format!("DI{di}"),
        },
    )
}

fn pii_stays_out(error: &Error, person: &Person) -> Result<(), TestCaseError> {
    let rendered = format!("{error} {error:?}");
    for value in [&person.name, &person.birthday, &person.phone, &person.ci, &person.di] {
        no_leak(&rendered, value)?;
    }
    Ok(())
}

/// Unix times at the ends of what PortOne could send.
fn unix_time() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(1_767_225_600i64),
        Just(253_402_300_799),
        Just(253_402_300_800),
        Just(-377_705_116_800),
        Just(i64::MAX),
        Just(i64::MIN),
        any::<i64>(),
    ]
}

fn certification(person: &Person, birth: i64, certified_at: i64) -> Value {
    json!({
        "imp_uid": "imp_1", "merchant_uid": ID, "pg_tid": "pg-1", "pg_provider": "danal", "certified": true,
        "certified_at": certified_at, "name": person.name, "gender": "male", "birthday": person.birthday,
        "birth": birth, "foreigner": false, "foreigner_v2": null, "phone": person.phone, "carrier": "SKT_MVNO",
        "unique_key": person.ci, "unique_in_site": person.di,
    })
}

/// A certification as PortOne returns it, mutated; sometimes without `birthday`, so `birth` is read.
fn certification_body() -> impl Strategy<Value = (Person, Value)> {
    (person(), unix_time(), unix_time(), any::<bool>()).prop_flat_map(|(person, birth, at, legacy)| {
        let mut value = certification(&person, birth, at);
        if legacy {
            value.as_object_mut().unwrap().remove("birthday");
        }
        (Just(person), mutated_json(value))
    })
}

#[test]
fn legacy_birth_at_the_end_of_the_calendar_is_ignored_not_a_panic() {
    let person = Person {
        name: "홍길동".into(),
        birthday: String::new(),
        phone: "01012345678".into(),
        ci: "Q0k=".into(),
        di: "REk=".into(),
    };
    let value = certification(&person, 253_402_300_799, 1_767_225_600);
    let certification: Certification = serde_json::from_value(value).unwrap();
    assert_eq!(certification.identity(now()).birth_date, None);
}

#[test]
fn prop_v1_certification() {
    check!("prop_v1_certification", certification_body(), |(person, value)| {
        if let Ok(certification) = serde_json::from_value::<Certification>(value) {
            let identity = certification.identity(now());
            let debug = format!("{certification:?} {identity:?}");
            prop_assert!(!debug.contains(&person.phone), "Debug shows the phone");
            prop_assert!(!debug.contains(&person.name), "Debug shows the name");
        }
        Ok(())
    });
}

#[test]
fn prop_v1_envelope() {
    let valid = json!({"code": 0, "message": null, "response": {"access_token": "t", "now": 1, "expired_at": 2}});
    check!("prop_v1_envelope", (status(), json_body(valid)), |(status, body)| {
        let response = HttpResponse::new(status, body);
        match V1Error::check(&response) {
            Ok(value) => prop_assert!(!value.is_null()),
            Err(error) => {
                let code = error.provider_code();
                prop_assert!(!code.is_empty());
                let _ = error.clone().into_error("call", true);
                let _ = error.into_error("call", false);
            }
        }
        Ok(())
    });
}

#[test]
fn prop_v1_window_and_otp() {
    let runtime = runtime();
    let token = json!({"code": 0, "message": null, "response": {"access_token": "token", "now": 1_767_225_600, "expired_at": 1_767_227_400}});
    let strategy = (
        (status(), json_body(token)),
        (status(), certification_body()),
        prop::collection::vec(
            (
                prop::sample::select(&["imp_uid", "merchant_uid", "success", "error_code"][..]),
                prop_oneof![Just("imp_1".to_owned()), Just(ID.to_owned()), any_text()],
            ),
            0..5,
        ),
    );
    check!("prop_v1_window_and_otp", strategy, |((token_status, token), (status, (person, certification)), params)| {
        let envelope = json!({"code": 0, "message": null, "response": certification}).to_string().into_bytes();
        let answers = Answers::new(Mutex::new(vec![
            ("/users/getToken", token_status, token),
            ("/certifications/otp/confirm", status, envelope.clone()),
            ("/certifications/", status, envelope),
        ]));
        let client = v1(&answers);
        let callback = CallbackParams::from_pairs(
            CallbackTransport::Get,
            params.into_iter().map(|(n, v)| (n.to_owned(), v)).chain([("imp_uid".to_owned(), "imp_1".to_owned())]),
        );
        let window = session(ProviderId::PortoneV1, json!({"merchant_uid": ID}));
        if let Err(error) = runtime.block_on(client.complete(&window, &callback)) {
            pii_stays_out(&error, &person)?;
        }
        let otp = session(ProviderId::PortoneV1, json!({"merchant_uid": ID, "imp_uid": "imp_1"}));
        if let Err(error) = runtime.block_on(client.confirm(&otp, OtpCode::new("123456").ok())) {
            pii_stays_out(&error, &person)?;
        }
        Ok(())
    });
}

fn identity_verification(person: &Person, verified_at: &str) -> Value {
    json!({
        "status": "VERIFIED", "id": ID, "channel": {"key": "channel-key"}, "verifiedAt": verified_at,
        "pgTxId": "pg-1", "verifiedCustomer": {
            "id": "c-1", "name": person.name, "operator": "LGU_MVNO", "phoneNumber": person.phone,
            "birthDate": person.birthday, "gender": "FEMALE", "isForeigner": false, "ci": person.ci, "di": person.di,
        },
        "failure": {"reason": "reason", "pgCode": "PG1", "pgMessage": "message"},
    })
}

fn verified_at() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2026-01-01T00:00:00Z".to_owned()),
        Just("0000-01-01T00:00:00+23:59".to_owned()),
        Just("9999-12-31T23:59:59-23:59".to_owned()),
        mutated(Just("2026-01-01T09:00:00.123456789+09:00".to_owned())),
    ]
}

fn identity_verification_body() -> impl Strategy<Value = (Person, Value)> {
    (person(), verified_at(), prop::sample::select(&["VERIFIED", "READY", "FAILED", "NEW"][..])).prop_flat_map(
        |(person, at, status)| {
            let mut value = identity_verification(&person, &at);
            value["status"] = json!(status);
            (Just(person), mutated_json(value))
        },
    )
}

#[test]
fn prop_v2_identity_verification() {
    check!("prop_v2_identity_verification", identity_verification_body(), |(person, value)| {
        match IdentityVerification::from_json(&value, now()) {
            Ok(record) => {
                let debug = format!("{record:?}");
                prop_assert!(!debug.contains(&person.phone), "Debug shows the phone");
            }
            Err(error) => pii_stays_out(&error, &person)?,
        }
        Ok(())
    });
}

#[test]
fn prop_v2_error() {
    let valid = json!({"type": "PG_PROVIDER", "message": "m", "pgCode": "P1", "pgMessage": "pm"});
    check!("prop_v2_error", (status(), json_body(valid)), |(status, body)| {
        if let Some(error) = V2Error::parse(&HttpResponse::new(status, body)) {
            let _ = error.provider_code();
            let _ = error.into_error();
        }
        Ok(())
    });
}

#[test]
fn prop_v2_window_and_otp() {
    let runtime = runtime();
    let strategy = (
        (status(), identity_verification_body()),
        prop::collection::vec(
            (
                prop::sample::select(&["identityVerificationId", "code", "message"][..]),
                prop_oneof![Just(ID.to_owned()), any_text()],
            ),
            0..4,
        ),
    );
    check!("prop_v2_window_and_otp", strategy, |((status, (person, record)), params)| {
        let confirm = json!({"identityVerification": record}).to_string().into_bytes();
        let answers = Answers::new(Mutex::new(vec![
            ("/confirm", status, confirm),
            ("/identity-verifications/", status, record.to_string().into_bytes()),
        ]));
        let client = v2(&answers);
        let callback =
            CallbackParams::from_pairs(CallbackTransport::Get, params.into_iter().map(|(n, v)| (n.to_owned(), v)));
        let session = session(ProviderId::PortoneV2, json!({"id": ID}));
        if let Err(error) = runtime.block_on(client.complete(&session, &callback)) {
            pii_stays_out(&error, &person)?;
        }
        if let Err(error) = runtime.block_on(client.confirm(&session, OtpCode::new("123456").ok())) {
            pii_stays_out(&error, &person)?;
        }
        Ok(())
    });
}

// Standard Webhooks.

const SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=";
const NOW: i64 = 1_795_000_000;

#[test]
fn webhook_timestamp_at_the_end_of_i64_is_refused_not_a_panic() {
    let verifier = WebhookVerifier::new(SECRET).unwrap();
    let signature = verifier.sign("msg_1", 0, b"{}");
    let at = time::OffsetDateTime::from_unix_timestamp(NOW).unwrap();
    for timestamp in [i64::MIN.to_string(), i64::MAX.to_string()] {
        let headers =
            [("webhook-id", "msg_1"), ("webhook-timestamp", timestamp.as_str()), ("webhook-signature", &signature)];
        assert!(verifier.verify(headers, b"{}", at).is_err());
    }
}

#[test]
fn prop_webhook() {
    let verifier = WebhookVerifier::new(SECRET).unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(NOW).unwrap();
    let timestamps = prop_oneof![
        (-400i64..400).prop_map(|d| (NOW + d).to_string()),
        Just(i64::MIN.to_string()),
        Just(i64::MAX.to_string()),
        any::<i64>().prop_map(|t| t.to_string()),
        mutated(Just(NOW.to_string())),
    ];
    let names = prop::sample::select(
        &["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", "webhook-signature", "content-type"][..],
    );
    let strategy = (
        "msg_[a-z0-9]{1,8}",
        timestamps,
        json_body(json!({"type": "Transaction.Paid", "timestamp": "2026-11-23T00:00:00Z", "data": {"paymentId": "p"}})),
        prop::collection::vec((names, any_text()), 0..3),
        any::<bool>(),
    );
    check!("prop_webhook", strategy, |(id, timestamp, body, extra, tamper)| {
        let seconds: Option<i64> = timestamp.trim().parse().ok();
        let signature = seconds.map_or_else(|| "v1,AAAA".to_owned(), |s| verifier.sign(&id, s, &body));
        let signature = if tamper { format!("v2,x {}", signature.replace("v1,", "v1,A")) } else { signature };
        let mut headers = vec![
            ("webhook-id".to_owned(), id),
            ("webhook-timestamp".to_owned(), timestamp.clone()),
            ("webhook-signature".to_owned(), signature),
        ];
        headers.extend(extra.into_iter().map(|(n, v)| (n.to_owned(), v)));
        let expected = seconds.filter(|s| (NOW - 300..=NOW + 300).contains(s) && timestamp.trim() == s.to_string());
        match verifier.verify(headers.clone(), &body, at) {
            Ok(()) => prop_assert!(expected.is_some()),
            Err(error) => {
                let clean = headers.len() == 3;
                prop_assert!(!(clean && !tamper && expected.is_some()), "a valid message was refused: {error}");
                prop_assert!(error != WebhookError::InvalidSecret);
            }
        }
        Ok(())
    });
}

#[test]
fn prop_webhook_secret() {
    check!("prop_webhook_secret", prop_oneof![any_text(), mutated(Just(SECRET.to_owned()))], |secret| {
        if let Ok(verifier) = WebhookVerifier::new(&secret) {
            prop_assert_eq!(format!("{verifier:?}"), "WebhookVerifier(<secret>)");
            let signature = verifier.sign("msg", NOW, b"{}");
            let headers =
                [("webhook-id", "msg"), ("webhook-timestamp", "1795000000"), ("webhook-signature", signature.as_str())];
            prop_assert_eq!(
                verifier.verify(headers, b"{}", time::OffsetDateTime::from_unix_timestamp(NOW).unwrap()),
                Ok(())
            );
        }
        Ok(())
    });
}
