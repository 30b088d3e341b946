//! The Toss client against a canned transport: the token (form, lifetime, single flight, sharing,
//! refusals), each call's body and retry rule, the envelope decided on `resultType`, the codes, and
//! the result decrypted under a new session each read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use bonin_adapters_http::{HttpResponse, Idempotency, TransportError, provider::TokenHolder};
use bonin_adapters_toss::{
    AgeGroup, ApiError, PathFamily, TossClient, TossRequest, TossResult, TossStatus, TriggerType, codes,
    open_session_key,
};
use bonin_domain::*;
use common::*;
use serde_json::{Value, json};

fn personal() -> TossRequest {
    TossRequest::user_personal(
        Name::new("홍길동").unwrap(),
        PhoneNumber::new("010-1234-5678").unwrap(),
        BirthDate::parse("1990-02-15").unwrap(),
    )
}

fn completed(result: TossResult) -> Box<bonin_adapters_toss::TossIdentity> {
    match result {
        TossResult::Completed(identity) => identity,
        other => panic!("expected a completed result, got {other:?}"),
    }
}

// --- token ---

#[tokio::test]
async fn token_is_a_form_encoded_client_credentials_grant_with_scope_ca() {
    let fake = Fake::with_api(|_, _| respond(200, &success(json!({"txId": TX_ID, "status": "REQUESTED"}))));
    let client = client(&fake);
    client.status(TX_ID).await.unwrap();
    let token = &fake.seen("token")[0];
    assert_eq!(token.url, "https://oauth.toss.test/token");
    assert_eq!(token.header("Content-Type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        token.body,
        format!("grant_type=client_credentials&scope=ca&client_id={TEST_CLIENT_ID}&client_secret={TEST_CLIENT_SECRET}")
    );
    assert_eq!(token.idempotency, Idempotency::Idempotent);
    let status = &fake.seen("status")[0];
    assert_eq!(status.header("Authorization"), Some("Bearer token-1"));
    assert_eq!(status.header("Content-Type"), Some("application/json"));
}

#[tokio::test]
async fn token_lifetime_comes_from_expires_in() {
    let fake = Fake::new(|seen, n| match seen.call.as_str() {
        "token" => Ok(token(&format!("token-{n}"), 3600)),
        _ => respond(200, &success(json!({"status": "IN_PROGRESS"}))),
    });
    let clock = Arc::new(ManualClock::new(now()));
    let client = client_on(&fake, config(), clock.clone());
    client.status(TX_ID).await.unwrap();
    clock.advance(Duration::from_secs(3600 - 301));
    client.status(TX_ID).await.unwrap();
    assert_eq!(fake.count("token"), 1, "still inside expires_in minus the refresh lead");
    clock.advance(Duration::from_secs(2));
    client.status(TX_ID).await.unwrap();
    assert_eq!(fake.count("token"), 2, "replaced before expires_in runs out");
    assert_eq!(fake.seen("status")[2].header("Authorization"), Some("Bearer token-2"));
    assert_eq!(client.token_lifetime(), Some(Duration::from_secs(3600)));
    let held = client.current_token().await.unwrap();
    assert_eq!(held.token.expose_secret(), "token-2");
    assert!(held.lifetime.contains("3600"));
    assert_eq!(TokenHolder::token_stats(&client).fetches, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_flows_share_one_token() {
    let fake = Fake::new(|seen, _| match seen.call.as_str() {
        "token" => {
            // A slow token answer, so the flows really wait on it together.
            std::thread::sleep(Duration::from_millis(50));
            Ok(token("shared-token", 31_536_000))
        }
        _ => respond(200, &success(json!({"txId": TX_ID, "status": "IN_PROGRESS"}))),
    });
    let client = Arc::new(client(&fake));
    let flows: Vec<_> = (0..1000)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.status(TX_ID).await })
        })
        .collect();
    for flow in flows {
        assert_eq!(flow.await.unwrap().unwrap(), TossStatus::InProgress);
    }
    assert_eq!(fake.count("token"), 1);
    assert_eq!(fake.count("status"), 1000);
    let stats = client.token_stats();
    assert_eq!((stats.fetches, stats.failures), (1, 0));
}

#[derive(Default)]
struct CountingShare {
    names: Mutex<Vec<String>>,
}

#[async_trait]
impl SharedTokens for CountingShare {
    async fn fetch_shared(&self, name: &str, source: &dyn TokenSource) -> Result<IssuedToken, Error> {
        self.names.lock().unwrap().push(name.to_owned());
        source.fetch().await
    }
}

#[tokio::test]
async fn shared_tokens_go_through_the_store_under_the_client_id() {
    let fake = Fake::with_api(|_, _| respond(200, &success(json!({"status": "COMPLETED"}))));
    let share = Arc::new(CountingShare::default());
    let client = TossClient::with_shared_tokens(
        config(),
        fake.http(),
        Arc::new(ManualClock::new(now())),
        Arc::new(OsRng),
        share.clone(),
    )
    .unwrap();
    assert_eq!(client.status(TX_ID).await.unwrap(), TossStatus::Completed);
    assert_eq!(*share.names.lock().unwrap(), [format!("toss:{TEST_CLIENT_ID}")]);
}

#[tokio::test]
async fn refused_credentials_are_misconfigured_and_not_cached() {
    let fake = Fake::new(|seen, _| match seen.call.as_str() {
        "token" => respond(401, &json!({"error": "invalid_client", "error_description": "Bad client credentials"})),
        _ => panic!("no API call without a token"),
    });
    let client = client(&fake);
    let error = client.status(TX_ID).await.unwrap_err();
    assert!(matches!(&error, Error::Misconfigured { reason } if reason.contains("invalid_client")), "{error:?}");
    assert!(!error.to_string().contains(TEST_CLIENT_SECRET));
    client.status(TX_ID).await.unwrap_err();
    assert_eq!(fake.count("token"), 2, "a failed token request is not cached");
}

#[tokio::test]
async fn token_answers_toss_must_not_be_believed_are_protocol_errors() {
    for body in [
        json!({"access_token": "t", "token_type": "Bearer"}),
        json!({"access_token": "t", "expires_in": 0}),
        json!({"access_token": "t", "expires_in": "soon"}),
        json!({"access_token": "t x", "expires_in": 60}),
        json!({"access_token": "t", "token_type": "MAC", "expires_in": 60}),
        json!({"expires_in": 60}),
    ] {
        let answer = body.clone();
        let fake = Fake::new(move |_, _| respond(200, &answer));
        let error = client(&fake).access_token().await.unwrap_err();
        assert!(matches!(error, Error::Protocol { .. }), "{body}: {error:?}");
    }
    // expires_in as a string of digits is read; an absurd one is capped, not a panic.
    let fake = Fake::new(|_, _| respond(200, &json!({"access_token": "t", "expires_in": u64::MAX})));
    let client = client(&fake);
    client.access_token().await.unwrap();
    assert_eq!(client.token_lifetime(), Some(bonin_adapters_toss::MAX_TOKEN_LIFETIME));
    let fake = Fake::new(|_, _| respond(200, &json!({"access_token": "t", "expires_in": "31536000"})));
    let client = common::client(&fake);
    client.access_token().await.unwrap();
    assert_eq!(client.token_lifetime(), Some(Duration::from_secs(31_536_000)));
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_retried() {
    let fake = Fake::new(|seen, n| match (seen.call.as_str(), n) {
        ("token", 1) => Ok(HttpResponse::new(503, "busy")),
        ("token", 2) => Err(TransportError::Timeout),
        ("token", _) => Ok(token("t", 60)),
        _ => respond(200, &success(json!({"status": "REQUESTED"}))),
    });
    assert_eq!(client(&fake).status(TX_ID).await.unwrap(), TossStatus::Requested);
    assert_eq!(fake.count("token"), 3);
}

#[tokio::test]
async fn a_refused_token_is_replaced_once_and_the_call_sent_once_more() {
    for refusal in [fail("CE1000"), json!({"message": "Unauthorized"})] {
        let status = if refusal.get("resultType").is_some() { 200 } else { 401 };
        let fake = Fake::with_api(move |seen, n| {
            if n == 1 {
                assert_eq!(seen.header("Authorization"), Some("Bearer token-1"));
                respond(status, &refusal)
            } else {
                assert_eq!(seen.header("Authorization"), Some("Bearer token-2"));
                respond(200, &success(launch()))
            }
        });
        let launch = client(&fake).request(&TossRequest::user_none()).await.unwrap();
        assert_eq!(launch.tx_id.as_str(), TX_ID);
        assert_eq!((fake.count("token"), fake.count("request")), (2, 2));
    }
}

#[tokio::test]
async fn a_fresh_token_refused_again_is_misconfigured_naming_the_code() {
    let fake = Fake::with_api(|_, _| respond(200, &fail("CE1000")));
    let error = client(&fake).status(TX_ID).await.unwrap_err();
    assert!(matches!(&error, Error::Misconfigured { reason } if reason.contains("CE1000")), "{error:?}");
    assert_eq!((fake.count("token"), fake.count("status")), (2, 2), "one refresh, one retry, never a loop");
}

// --- request ---

#[tokio::test]
async fn user_personal_request_sends_its_fields_encrypted_under_its_session_key() {
    let fake = Fake::with_api(|_, _| respond(200, &success(launch())));
    let mut config = config();
    config.request_url = Some("https://shop.example/toss/back".into());
    let client = client_on(&fake, config, Arc::new(ManualClock::new(now())));
    client.request(&personal()).await.unwrap();
    let seen = &fake.seen("request")[0];
    assert_eq!(seen.url, "https://cert.toss.test/api/v2/sign/user/auth/id/request");
    assert_eq!(seen.idempotency, Idempotency::NotIdempotent);
    let body = seen.json();
    assert_eq!(body["requestType"], "USER_PERSONAL");
    assert_eq!(body["triggerType"], "APP_SCHEME");
    assert_eq!(body["requestUrl"], "https://shop.example/toss/back");
    let session_key = body["sessionKey"].as_str().unwrap();
    let session = open_session_key(&private_key(), session_key).unwrap().session().unwrap();
    assert!(session_key.starts_with(&format!("v1${}$", session.id())));
    let open = |field: &str| session.decrypt(body[field].as_str().unwrap()).unwrap();
    assert_eq!(
        (open("userName"), open("userPhone"), open("userBirthday")),
        ("홍길동".into(), "01012345678".into(), "19900215".into())
    );
    assert!(!seen.body.contains("홍길동") && !seen.body.contains("01012345678"));
}

#[tokio::test]
async fn user_none_request_carries_no_personal_data_and_no_trigger() {
    let fake = Fake::with_api(|_, _| respond(200, &success(launch())));
    let client = client(&fake);
    client.request(&TossRequest::user_none().with_request_url("myapp://toss")).await.unwrap();
    let body = fake.seen("request")[0].json();
    assert_eq!(body, json!({"requestType": "USER_NONE", "requestUrl": "myapp://toss"}));
    client.request(&personal().with_trigger(TriggerType::Push)).await.unwrap();
    assert_eq!(fake.seen("request")[1].json()["triggerType"], "PUSH");
}

#[tokio::test]
async fn launch_keeps_the_tx_id_and_reads_the_string_null_as_absent() {
    let fake = Fake::with_api(|_, _| respond(200, &success(launch())));
    let launch = client(&fake).request(&TossRequest::user_none()).await.unwrap();
    assert_eq!(launch.tx_id.as_str(), TX_ID);
    assert!(launch.auth_url.as_deref().unwrap().starts_with("https://"));
    assert!(launch.app_scheme.as_deref().unwrap().starts_with("supertoss://"));
    assert_eq!((launch.android_app_uri, launch.ios_app_uri), (None, None));
    assert_eq!(launch.requested_at, Some(time::macros::datetime!(2026-11-30 11:00 UTC)));
}

#[tokio::test]
async fn a_plain_http_page_from_an_https_api_is_a_protocol_error() {
    let mut answer = launch();
    answer["authUrl"] = json!("http://auth.cert.toss.im/type-cert?txId=1");
    let fake = Fake::with_api(move |_, _| respond(200, &success(answer.clone())));
    let error = client(&fake).request(&TossRequest::user_none()).await.unwrap_err();
    assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
}

#[tokio::test]
async fn a_request_without_a_tx_id_is_a_protocol_error() {
    let fake = Fake::with_api(|_, _| respond(200, &success(json!({"txId": "null", "authUrl": "https://x"}))));
    assert!(matches!(client(&fake).request(&TossRequest::user_none()).await, Err(Error::Protocol { .. })));
}

#[tokio::test]
async fn a_request_is_never_sent_twice_after_it_may_have_left() {
    for outcome in [Err(TransportError::Timeout), Err(TransportError::Interrupted), Ok(HttpResponse::new(503, ""))] {
        let fake = Fake::with_api(move |_, _| outcome.clone());
        let error = client(&fake).request(&personal()).await.unwrap_err();
        assert!(matches!(error, Error::Indeterminate { .. }), "{error:?}");
        assert_eq!(fake.count("request"), 1);
    }
    // A connection never made is retried: nothing left.
    let fake =
        Fake::with_api(|_, n| if n == 1 { Err(TransportError::Connect) } else { respond(200, &success(launch())) });
    client(&fake).request(&personal()).await.unwrap();
    assert_eq!(fake.count("request"), 2);
}

#[tokio::test]
async fn user_personal_without_tosss_public_key_is_misconfigured_before_any_call() {
    let fake = Fake::with_api(|_, _| panic!("nothing may be sent"));
    let config = {
        let mut tweaked = config();
        tweaked.public_key_base64 = None;
        tweaked
    };
    let client = client_on(&fake, config, Arc::new(ManualClock::new(now())));
    assert!(matches!(client.request(&personal()).await, Err(Error::Misconfigured { .. })));
    assert!(matches!(client.result(TX_ID).await, Err(Error::Misconfigured { .. })));
    assert_eq!(fake.count("token"), 0);
}

#[tokio::test]
async fn the_auth_path_family_is_a_setting() {
    let fake = Fake::with_api(|_, _| respond(200, &success(json!({"status": "EXPIRED"}))));
    let config = {
        let mut tweaked = config();
        tweaked.path_family = PathFamily::Auth;
        tweaked
    };
    let client = client_on(&fake, config, Arc::new(ManualClock::new(now())));
    assert_eq!(client.status(TX_ID).await.unwrap(), TossStatus::Expired);
    assert_eq!(fake.seen("status")[0].url, "https://cert.toss.test/api/v2/sign/user/auth/status");
}

// --- status ---

#[tokio::test]
async fn status_words_are_read_and_unknown_ones_kept_verbatim() {
    for (word, expected) in [
        ("REQUESTED", TossStatus::Requested),
        ("IN_PROGRESS", TossStatus::InProgress),
        ("COMPLETED", TossStatus::Completed),
        ("EXPIRED", TossStatus::Expired),
        ("CANCELED", TossStatus::Other("CANCELED".into())),
    ] {
        let fake = Fake::with_api(move |seen, _| {
            assert_eq!(seen.json(), json!({"txId": TX_ID}));
            respond(200, &success(json!({"txId": TX_ID, "status": word, "requestedDt": "2026-11-30T20:00:00+09:00"})))
        });
        assert_eq!(client(&fake).status(TX_ID).await.unwrap(), expected);
    }
}

#[tokio::test]
async fn status_is_a_read_and_is_retried_when_safe() {
    let fake = Fake::with_api(|seen, n| {
        assert_eq!(seen.idempotency, Idempotency::Idempotent);
        match n {
            1 => Err(TransportError::Timeout),
            2 => Ok(HttpResponse::new(502, "bad gateway")),
            _ => respond(200, &success(json!({"status": "COMPLETED"}))),
        }
    });
    assert_eq!(client(&fake).status(TX_ID).await.unwrap(), TossStatus::Completed);
    assert_eq!(fake.count("status"), 3);
    let fake = Fake::with_api(|_, _| Ok(HttpResponse::new(500, "<html>")));
    assert!(matches!(client(&fake).status(TX_ID).await, Err(Error::Unavailable { .. })));
}

#[tokio::test]
async fn status_of_another_tx_id_is_an_integrity_failure() {
    let fake = Fake::with_api(|_, _| respond(200, &success(json!({"txId": "other", "status": "COMPLETED"}))));
    assert!(matches!(client(&fake).status(TX_ID).await, Err(Error::IntegrityMismatch { .. })));
    let fake = Fake::with_api(|_, _| panic!("nothing may be sent"));
    assert!(matches!(client(&fake).status("").await, Err(Error::InvalidInput { .. })));
    assert!(matches!(client(&fake).status("tx id").await, Err(Error::InvalidInput { .. })));
}

// --- envelope and codes ---

#[tokio::test]
async fn fail_is_decided_on_result_type_whatever_the_http_status() {
    for status in [200, 400, 500] {
        let fake = Fake::with_api(move |_, _| respond(status, &fail("CE3100")));
        let error = client(&fake).status(TX_ID).await.unwrap_err();
        assert!(
            matches!(&error, Error::Rejected { provider, code, message: Some(_) } if *provider == PROVIDER && code == "CE3100"),
            "HTTP {status}: {error:?}"
        );
        assert_eq!(fake.count("status"), 1, "a FAIL is an answer, not a reason to retry");
    }
}

#[tokio::test]
async fn unknown_codes_are_kept_verbatim() {
    let fake = Fake::with_api(|_, _| respond(200, &fail("CE4242")));
    let error = client(&fake).request(&TossRequest::user_none()).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "CE4242"));
    assert!(error.to_string().contains("CE4242"));
    assert!(matches!(codes::to_error(PROVIDER, "CE4242", None), Error::Rejected { code, .. } if code == "CE4242"));
    assert!(
        matches!(codes::to_error(PROVIDER, "CE1000", None), Error::Misconfigured { reason } if reason.contains("CE1000"))
    );
}

#[test]
fn envelopes_are_read_as_toss_writes_them() {
    let check = |status: u16, body: &str| ApiError::check(&HttpResponse::new(status, body.to_owned()));
    assert_eq!(check(200, r#"{"resultType":"SUCCESS","success":{"a":1}}"#), Ok(json!({"a": 1})));
    assert_eq!(check(500, r#"{"resultType":"SUCCESS","success":{"a":1}}"#), Ok(json!({"a": 1})));
    assert_eq!(check(200, r#"{"resultType":"SUCCESS","success":null}"#), Err(ApiError::Decode { status: 200 }));
    assert_eq!(check(200, r#"{"resultType":"MAYBE"}"#), Err(ApiError::Decode { status: 200 }));
    assert_eq!(check(200, "not json"), Err(ApiError::Decode { status: 200 }));
    assert_eq!(check(401, ""), Err(ApiError::Unauthorized));
    assert_eq!(check(404, "<html>"), Err(ApiError::Http { status: 404 }));
    let fail =
        check(200, r#"{"resultType":"FAIL","error":{"errorType":0,"errorCode":"CE3102","reason":"r"}}"#).unwrap_err();
    assert!(fail.is_not_completed() && !fail.is_token_refused());
    assert_eq!(fail.provider_code(), "CE3102");
    let bare = check(200, r#"{"resultType":"FAIL","error":null}"#).unwrap_err();
    assert_eq!(bare.provider_code(), "FAIL");
    assert!(check(200, r#"{"resultType":"FAIL","error":{"errorCode":"CE1000"}}"#).unwrap_err().is_token_refused());
    let rejected = ApiError::Http { status: 404 }.into_error(PROVIDER, "status", true);
    assert!(matches!(rejected, Error::Rejected { code, .. } if code == "http404"));
    let garbled = ApiError::Decode { status: 200 }.into_error(PROVIDER, "result", false);
    assert!(matches!(garbled, Error::Protocol { .. }));
}

// --- result ---

#[tokio::test]
async fn result_decrypts_personal_data_into_the_domain_types() {
    let person = test_person();
    let answer = person.clone();
    let fake = Fake::with_api(move |seen, _| respond(200, &success(result_for(seen, &answer))));
    let client = client(&fake);
    let identity = completed(client.result(TX_ID).await.unwrap());
    assert_eq!(identity.tx_id.as_str(), TX_ID);
    assert_eq!(identity.name.as_ref().unwrap().expose(), "김토스");
    assert_eq!(identity.birth_date.unwrap().yyyymmdd(), "19930324");
    assert_eq!(identity.gender, Some(Gender::Female));
    assert_eq!(identity.nationality, Some(Nationality::Domestic));
    assert_eq!(identity.ci.as_ref().unwrap().expose(), person.ci);
    assert_eq!(identity.di.as_ref().unwrap().expose(), person.di);
    assert_eq!(identity.age_group, Some(AgeGroup::Adult));
    assert!(identity.signature.as_ref().unwrap().expose().starts_with("MIIG"));
    assert_eq!(identity.completed_at, Some(time::macros::datetime!(2026-11-30 11:01:30 UTC)));
    let debug = format!("{identity:?}");
    for secret in
        ["김토스", "19930324", &person.ci[..20], &person.di[..20], "MIIG", "FEMALE", "Female", "ADULT", "Adult"]
    {
        assert!(!debug.contains(secret), "Debug shows {secret}: {debug}");
    }
    let verified = identity.to_verified(client.provider(), now());
    assert_eq!(verified.verified_at, time::macros::datetime!(2026-11-30 11:01:30 UTC));
    assert_eq!((verified.phone, verified.carrier), (None, None));
    assert_eq!(verified.provider_tx_id.unwrap().as_str(), TX_ID);
    let seen = &fake.seen("result")[0];
    assert_eq!(seen.idempotency, Idempotency::NotIdempotent);
    assert_eq!(seen.json()["txId"], TX_ID);
}

#[tokio::test]
async fn each_result_read_and_each_request_has_its_own_session() {
    let fake = Fake::with_api(|seen, _| match seen.call.as_str() {
        "result" => respond(200, &success(result_for(seen, &test_person()))),
        _ => respond(200, &success(launch())),
    });
    let client = client(&fake);
    client.request(&personal()).await.unwrap();
    client.result(TX_ID).await.unwrap();
    client.result(TX_ID).await.unwrap();
    let keys: Vec<String> = fake
        .seen("request")
        .iter()
        .chain(&fake.seen("result"))
        .map(|s| {
            let opened = open_session_key(&private_key(), s.json()["sessionKey"].as_str().unwrap()).unwrap();
            format!("{} {}", opened.session_id(), opened.key_text())
        })
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2], "sessions are never reused");
}

#[tokio::test]
async fn not_completed_yet_is_its_own_answer() {
    let fake = Fake::with_api(|_, _| respond(200, &fail("CE3102")));
    assert_eq!(client(&fake).result(TX_ID).await.unwrap(), TossResult::NotCompleted);
    let fake = Fake::with_api(|_, _| respond(200, &fail("CE3100")));
    assert!(matches!(client(&fake).result(TX_ID).await, Err(Error::Rejected { code, .. }) if code == "CE3100"));
}

#[tokio::test]
async fn a_result_read_is_never_repeated_automatically() {
    for outcome in [Err(TransportError::Timeout), Ok(HttpResponse::new(504, ""))] {
        let fake = Fake::with_api(move |_, _| outcome.clone());
        assert!(matches!(client(&fake).result(TX_ID).await, Err(Error::Indeterminate { .. })));
        assert_eq!(fake.count("result"), 1, "each read may use up one of Toss's two");
    }
}

#[tokio::test]
async fn a_result_sealed_under_another_session_is_an_integrity_failure() {
    // Toss answering with fields of an earlier session (the request's, or a replay).
    let stale = Arc::new(Mutex::new(None::<Value>));
    let keep = stale.clone();
    let fake = Fake::with_api(move |seen, _| {
        let mut stale = keep.lock().unwrap();
        let fresh = result_for(seen, &test_person());
        let answer = stale.clone().unwrap_or_else(|| fresh.clone());
        *stale = Some(fresh);
        respond(200, &success(answer))
    });
    let client = client(&fake);
    completed(client.result(TX_ID).await.unwrap());
    let error = client.result(TX_ID).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
}

#[tokio::test]
async fn a_result_for_another_tx_id_or_not_completed_is_refused() {
    let fake = Fake::with_api(|seen, _| {
        let mut body = result_for(seen, &test_person());
        body["txId"] = json!("another");
        respond(200, &success(body))
    });
    assert!(matches!(client(&fake).result(TX_ID).await, Err(Error::IntegrityMismatch { .. })));
    let fake = Fake::with_api(|seen, _| {
        let mut body = result_for(seen, &test_person());
        body["status"] = json!("IN_PROGRESS");
        respond(200, &success(body))
    });
    assert!(matches!(client(&fake).result(TX_ID).await, Err(Error::Protocol { .. })));
}

#[tokio::test]
async fn unreadable_personal_data_names_the_field_never_the_value() {
    let person = Person { gender: "UNKNOWN".into(), ..test_person() };
    let fake = Fake::with_api(move |seen, _| respond(200, &success(result_for(seen, &person))));
    let error = client(&fake).result(TX_ID).await.unwrap_err();
    assert!(matches!(&error, Error::Protocol { reason, .. } if reason.contains("gender")), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("UNKNOWN"));
    let fake = Fake::with_api(|seen, _| {
        let mut body = result_for(seen, &test_person());
        body["personalData"]["ageGroup"] = Value::Null;
        body["personalData"]["di"] = json!("null");
        body.as_object_mut().unwrap().remove("signature");
        respond(200, &success(body))
    });
    let identity = completed(client(&fake).result(TX_ID).await.unwrap());
    assert_eq!((identity.age_group, identity.di, identity.signature), (None, None, None));
}

#[tokio::test]
async fn debug_of_the_client_shows_no_secret() {
    let fake = Fake::with_api(|_, _| respond(200, &success(json!({"status": "COMPLETED"}))));
    let client = client(&fake);
    client.status(TX_ID).await.unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains(TEST_CLIENT_SECRET) && !debug.contains("token-1") && !debug.contains("MIIC"));
}

#[test]
fn sessions_count_on_the_domain_rng() {
    // A failing random source fails the call; it never falls back to a weaker one.
    #[derive(Debug)]
    struct Broken;
    impl Rng for Broken {
        fn fill_bytes(&self, _: &mut [u8]) -> Result<(), Error> {
            Err(Error::Unavailable { dependency: Dependency::System, reason: "no entropy".into() })
        }
    }
    let fake = Fake::with_api(|_, _| panic!("nothing may be sent"));
    let client = TossClient::new(config(), fake.http(), Arc::new(ManualClock::new(now())), Arc::new(Broken)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    assert!(matches!(runtime.block_on(client.result(TX_ID)), Err(Error::Unavailable { .. })));
    assert_eq!(fake.count("result"), 0);
}
