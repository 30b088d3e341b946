//! `/v1/signing` against the eSignon simulator where eSignon's documents and behaviour bite: the
//! link in eSignon's start answer belongs to the API member and is never handed out as a signer's
//! page; embed mode answers the first signer's own link; callbacks come in every documented shape,
//! with the authorization in the HTTP header or in the JSON header, and any status is accepted
//! (an error answer would lose the event).
#![cfg(all(feature = "esignon", feature = "sandbox"))]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use bonin_app::{
    config::{LoadedConfig, StringEnv, figment},
    wiring::{self, App},
};
use serde_json::{Value, json};
use tower::ServiceExt;

const KEY: &str = "test-api-key-0123456789";
const AUTHORIZATION: &str = "callback-authorization-0123456789abcdef";

fn vars(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    [
        ("BONIN_STORE__URL", "memory:"),
        ("BONIN_SERVER__API_KEYS", KEY),
        ("BONIN_PROVIDERS__ESIGNON__COMPANY_ID", "bonin-sandbox"),
        ("BONIN_PROVIDERS__ESIGNON__EMAIL", "hr@shop.example"),
        ("BONIN_PROVIDERS__ESIGNON__PASSWORD", "hr-password-in-the-sandbox"),
        ("BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION", AUTHORIZATION),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

async fn app(extra: &[(&str, &str)]) -> App {
    let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars(vars(extra)))).unwrap();
    wiring::build(&loaded).await.unwrap()
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Starts the sandbox contract: the API member (hr@shop.example) is not one of its signers.
async fn start(app: &App) -> Value {
    let signers = json!([{"name": "홍길동", "email": "hong@shop.example"}, {"name": "김알뜰", "phone": "01055556666"}]);
    let (status, started) = start_with(app, signers).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    started
}

async fn start_with(app: &App, signers: Value) -> (StatusCode, Value) {
    let template = if signers.as_array().map(Vec::len) == Some(1) {
        bonin_sandbox::esignon::SANDBOX_ONE_SIGNER_TEMPLATE_ID
    } else {
        bonin_sandbox::esignon::SANDBOX_TEMPLATE_ID
    };
    let body = json!({"template_id": template, "workflow_name": "근로계약서 2026", "signers": signers});
    let request = Request::post("/v1/signing")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    send(&app.router, request).await
}

/// Posts a signature to the (simulated) signing page at `url`; the page's HTTP status.
async fn sign_at(url: &str) -> u16 {
    let token = url.split("token=").nth(1).unwrap();
    reqwest::Client::new()
        .post(url.split('?').next().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn event(app: &App, authorization: Option<&str>, body: &Value) -> StatusCode {
    let mut request = Request::post("/v1/signing/events").header(header::CONTENT_TYPE, "application/json");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    send(&app.router, request.body(Body::from(body.to_string())).unwrap()).await.0
}

#[tokio::test]
async fn the_start_hands_out_no_page_that_is_not_the_signers_own() {
    let app = app(&[]).await;
    let started = start(&app).await;
    // eSignon's start answer carries the API member's page; it signs only on the member's turn
    // and shows the document to whoever holds it. It is not answered as anybody's link.
    assert!(started.get("signing_url").is_none() && started.get("signers").is_none(), "{started}");
    // eSignon itself sent the first signer their own link, which signs.
    let sim = app.sandbox.as_ref().unwrap().simulator::<bonin_sandbox::esignon::EsignonSimulator>().unwrap();
    let workflow = started["provider_workflow_id"].as_str().unwrap();
    let mail = sim.notifications().into_iter().find(|n| n.workflow_id == workflow && n.step == 1).unwrap();
    assert_eq!(mail.address, "hong@shop.example");
    assert_eq!(sign_at(&mail.url).await, 200);
}

#[tokio::test]
async fn embed_mode_answers_the_first_signers_own_link() {
    let app = app(&[("BONIN_PROVIDERS__ESIGNON__EMBED", "true")]).await;
    // Later signers' links arrive only in eSignon's callbacks, which bonin serve does not relay: a
    // contract with several signers would wait for them forever, so it is refused.
    let (status, refused) = start_with(&app, json!([{"name": "홍길동"}, {"name": "김알뜰"}])).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{refused}");
    let (status, started) = start_with(&app, json!([{"name": "홍길동", "email": "hong@shop.example"}])).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let signers = started["signers"].as_array().unwrap();
    assert_eq!(signers.len(), 1, "{started}");
    assert_eq!(signers[0]["order"], 1);
    let link = signers[0]["signing_url"].as_str().unwrap();
    assert_eq!(started["signing_url"].as_str(), Some(link), "signing_url stays, as the first signer's page");
    let sim = app.sandbox.as_ref().unwrap().simulator::<bonin_sandbox::esignon::EsignonSimulator>().unwrap();
    assert!(sim.notifications().is_empty(), "in embed mode eSignon sends no mail or KakaoTalk");
    assert_eq!(sign_at(link).await, 200, "the signer signs with it");
    assert_eq!(sign_at(link).await, 403, "once");
}

#[tokio::test]
async fn embed_mode_needs_the_callback_authorization() {
    let mut vars = vars(&[("BONIN_PROVIDERS__ESIGNON__EMBED", "true")]);
    vars.retain(|(k, _)| k != "BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION");
    let error = LoadedConfig::load(figment(None, StringEnv::from_vars(vars))).unwrap_err().to_string();
    assert!(error.contains("providers.esignon.embed") && error.contains("webhook_authorization"), "{error}");
}

#[tokio::test]
async fn callbacks_in_every_documented_shape_and_with_any_status_are_answered_200() {
    let app = app(&[]).await;
    let legacy = |status: Value| {
        json!({"header": {"api_name": "export", "session_id": "S1001", "request_code": ""},
        "body": {"wfuid": "12584", "status": status, "worktype": "CF", "actionid": "1", "workdatetime": "2020-01-31 04:23:28.0"}})
    };
    let mut in_json_header = legacy(json!("Playing"));
    in_json_header["header"]["authorization"] = json!(AUTHORIZATION);
    let flat = json!({"workflow_id": 12584, "client_id": "eSignon API", "status": "Complete"});
    let mut without_status = legacy(Value::Null);
    without_status["body"].as_object_mut().unwrap().remove("status");
    for (what, authorization, body) in [
        ("legacy, HTTP header", Some(AUTHORIZATION), legacy(json!("Playing"))),
        ("legacy, JSON header", None, in_json_header.clone()),
        ("flat", Some(AUTHORIZATION), flat),
        ("unknown status", Some(AUTHORIZATION), legacy(json!("Rejected"))),
        ("a status that is personal data", Some(AUTHORIZATION), legacy(json!("hong@shop.example"))),
        ("no status", Some(AUTHORIZATION), without_status),
    ] {
        assert_eq!(event(&app, authorization, &body).await, StatusCode::OK, "{what}");
    }
    // Without the value in either place: refused; with it, a body bonin cannot read is still
    // answered 200 (an error answer would only lose the event) and reported in the log.
    assert_eq!(event(&app, None, &legacy(json!("Playing"))).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        event(&app, Some("callback-authorization-wrong"), &legacy(json!("Playing"))).await,
        StatusCode::UNAUTHORIZED
    );
    let mut wrong_json = in_json_header;
    wrong_json["header"]["authorization"] = json!("callback-authorization-wrong");
    assert_eq!(event(&app, None, &wrong_json).await, StatusCode::UNAUTHORIZED);
    assert_eq!(event(&app, Some(AUTHORIZATION), &json!({"body": {}})).await, StatusCode::OK);
}

#[tokio::test]
async fn an_authorized_callback_in_an_unreadable_shape_is_answered_200_so_the_event_is_not_retried_forever() {
    let app = app(&[]).await;
    for body in [json!({"header": {"api_name": "something-new"}, "body": {"status": "Complete"}}), json!([1, 2, 3])] {
        assert_eq!(event(&app, Some(AUTHORIZATION), &body).await, StatusCode::OK, "{body}");
        // Without the authorization, nothing changes and the answer says so.
        assert_ne!(event(&app, None, &body).await, StatusCode::OK, "{body}");
        assert_ne!(event(&app, Some("not-the-authorization-value-0000"), &body).await, StatusCode::OK, "{body}");
    }
}

/// With events on, every authorized callback becomes one signed `signing.*` event at the host,
/// carrying the workflow's ids and a status label, never the callback's raw text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_forwarded_as_signing_events_without_their_raw_text() {
    use std::sync::{Arc, Mutex};
    let secret = "whsec_c2lnbmluZy1ldmVudHMtdGVzdC1zZWNyZXQ=";
    let received: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let sink = received.clone();
    let receiver = Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let pairs: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                let verifier = bonin_adapters_http::standard_webhooks::WebhookVerifier::new(
                    "whsec_c2lnbmluZy1ldmVudHMtdGVzdC1zZWNyZXQ=",
                )
                .unwrap();
                assert!(verifier.verify(pairs.clone(), &body, time::OffsetDateTime::now_utc()).is_ok());
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                sink.lock().unwrap().push((id, String::from_utf8_lossy(&body).into_owned()));
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let events =
        figment::providers::Serialized::defaults(json!({"events": {"endpoints": [{"url": hook, "secret": secret}]}}));
    let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars(vars(&[]))).merge(events)).unwrap();
    let app = wiring::build(&loaded).await.unwrap();
    let legacy = |status: &str| {
        json!({"header": {"api_name": "export", "session_id": "S1001", "request_code": ""},
        "body": {"wfuid": "12584", "status": status, "worktype": "CF", "actionid": "1", "workdatetime": "2020-01-31 04:23:28.0"}})
    };
    for status in ["Playing", "Complete", "hong@shop.example"] {
        assert_eq!(event(&app, Some(AUTHORIZATION), &legacy(status)).await, StatusCode::OK);
    }
    // A callback the provider sends again (its answer was lost) is the same event, not a new one.
    assert_eq!(event(&app, Some(AUTHORIZATION), &legacy("Complete")).await, StatusCode::OK);
    // Unauthorized callbacks write nothing.
    assert_eq!(event(&app, None, &legacy("Complete")).await, StatusCode::UNAUTHORIZED);
    let deliverer = app.deliverer.clone().expect("events are configured");
    while deliverer.round().await.unwrap() > 0 {}
    // Delivered, then sent again by the provider: the copy carries the delivered event's id, so a
    // receiver deduplicating on webhook-id drops it.
    assert_eq!(event(&app, Some(AUTHORIZATION), &legacy("Complete")).await, StatusCode::OK);
    while deliverer.round().await.unwrap() > 0 {}
    let mut received = received.lock().unwrap();
    assert_eq!(received.len(), 4, "{received:?}");
    let copy = received.pop().unwrap();
    assert!(received.iter().any(|(id, _)| *id == copy.0), "the copy reuses its event's id: {copy:?}");
    let mut ids: Vec<&String> = received.iter().map(|(id, _)| id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "one id per event");
    for (_, body) in received.iter() {
        assert!(!body.contains("hong@shop.example") && !body.contains(AUTHORIZATION), "{body}");
        let event: Value = serde_json::from_str(body).unwrap();
        assert!(event["type"].as_str().unwrap().starts_with("signing."), "{event}");
        assert_eq!(event["data"]["provider_workflow_id"], "12584");
        assert_eq!(event["data"]["signing_id"], "esignon-12584");
        assert_eq!(event["data"]["provider"], "esignon");
    }
}
