//! The REST API through its router (`oneshot`): every endpoint, every error code, the whole NICE
//! window flow against the in-process simulator.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use bonin_app::{api, wiring::App};
use bonin_domain::*;
use bonin_sandbox::{
    Fault, Times,
    nice::{CRYPTO_TOKEN_PATH, ResultOverrides},
};
use serde_json::{Value, json};
use support::{
    Reply, StandInOtp, api_settings, app, encode, get, launch_fields, otp_service, post_json, send, subject,
};

mod support;

const KEY: &str = "test-api-key-0123456789";

async fn keyed_app() -> App {
    app(&[("BONIN_SERVER__API_KEYS", KEY)]).await
}

fn start_body(display: &str) -> Value {
    json!({"provider": "nice", "method": "window", "return_url": "http://127.0.0.1:8080/demo/done?from=shop", "display": display})
}

/// Starts a window verification through the API; returns (id, launch fields).
async fn start(app: &App, display: &str, key: Option<&str>) -> (String, Vec<(String, String)>) {
    let reply = send(&app.router, post_json("/v1/verifications", &start_body(display), key)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["status"], "pending");
    assert_eq!(body["launch"]["kind"], "form");
    let fields = launch_fields(&body);
    (body["id"].as_str().unwrap().to_owned(), fields)
}

fn window(app: &App, fields: &[(String, String)], persona: &str, overrides: &ResultOverrides) -> Vec<(String, String)> {
    let sandbox = app.sandbox.as_ref().unwrap();
    let callback = sandbox
        .simulator::<bonin_sandbox::nice::NiceSimulator>()
        .unwrap()
        .complete_window(fields, persona, overrides)
        .unwrap();
    assert!(callback.return_url.contains("/v1/verifications/"), "NICE returns to bonin's landing");
    callback.params
}

fn landing_post(id: &str, params: &[(String, String)]) -> Request<Body> {
    Request::post(format!("/v1/verifications/{id}/return"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(encode(params)))
        .unwrap()
}

fn landing_get(id: &str, params: &[(String, String)]) -> Request<Body> {
    Request::get(format!("/v1/verifications/{id}/return?{}", encode(params))).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn whole_nice_window_flow_through_the_http_api() {
    let app = keyed_app().await;
    let (id, fields) = start(&app, "page", Some(KEY)).await;
    let params = window(&app, &fields, "hong", &ResultOverrides::default());

    let landing = send(&app.router, landing_post(&id, &params)).await;
    assert_eq!(landing.status, StatusCode::SEE_OTHER);
    assert_eq!(
        landing.location(),
        format!("http://127.0.0.1:8080/demo/done?from=shop&verification_id={id}&status=verified")
    );

    let first = send(&app.router, get(&format!("/v1/verifications/{id}"), Some(KEY))).await;
    assert_eq!(first.status, StatusCode::OK);
    let body = first.json();
    assert_eq!(body["status"], "verified");
    let identity = &body["identity"];
    assert_eq!(identity["name"], "홍길동");
    assert_eq!(identity["birth_date"], "1990-02-15");
    assert_eq!(identity["gender"], "male");
    assert_eq!(identity["nationality"], "domestic");
    assert_eq!(identity["phone"], "01012345678");
    assert_eq!(identity["carrier"], "skt");
    assert_eq!(identity["provider"], "nice");
    assert!(identity["ci"].as_str().unwrap().len() == 88 && identity["di"].is_string());
    assert!(body.get("launch").is_none());

    // Within the grace period after the first read (an answer lost in transit), it can be read
    // again; the read-once rule after it is tested with a controlled clock in bonin-domain's tests/service.rs.
    let second = send(&app.router, get(&format!("/v1/verifications/{id}"), Some(KEY))).await;
    assert_eq!(second.json()["status"], "verified");
    assert_eq!(second.json()["identity"]["name"], "홍길동");

    // A replayed callback changes nothing and says so.
    let replay = send(&app.router, landing_get(&id, &params)).await;
    assert!(replay.location().ends_with("&status=verified&error=already_completed"), "{}", replay.location());
}

#[tokio::test]
async fn popup_landing_posts_to_the_opener_at_the_return_origin_only() {
    let app = app(&[]).await;
    let (id, fields) = start(&app, "popup", None).await;
    let params = window(&app, &fields, "wilson", &ResultOverrides::default());
    let landing = send(&app.router, landing_get(&id, &params)).await;
    assert_eq!(landing.status, StatusCode::OK);
    let html = landing.text();
    assert!(html.contains("window.opener.postMessage"));
    assert!(html.contains(r#""http://127.0.0.1:8080""#), "targetOrigin is the return URL's origin");
    assert!(html.contains(r#"data-status="verified""#));
    let csp = landing.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("'nonce-"));
    assert_eq!(landing.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(landing.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(landing.headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn a_tampered_callback_changes_nothing_and_the_real_one_still_completes() {
    let app = app(&[]).await;
    let (id, fields) = start(&app, "page", None).await;
    let params = window(&app, &fields, "hong", &ResultOverrides::default());
    let tampered: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.clone(), if k == "integrity_value" { "AAAA".into() } else { v.clone() }))
        .collect();
    let reply = send(&app.router, landing_post(&id, &tampered)).await;
    assert!(reply.location().ends_with("&status=pending&error=integrity_mismatch"), "{}", reply.location());
    let reply = send(&app.router, landing_post(&id, &params)).await;
    assert!(reply.location().ends_with("&status=verified"));
}

#[tokio::test]
async fn server_to_server_completion_applies_once() {
    let app = keyed_app().await;
    let (id, fields) = start(&app, "popup", Some(KEY)).await;
    let params: serde_json::Map<String, Value> = window(&app, &fields, "kim-mvno", &ResultOverrides::default())
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let path = format!("/v1/verifications/{id}/complete");
    let mut tampered = params.clone();
    tampered.insert("integrity_value".into(), json!("AAAA"));
    let refused = send(&app.router, post_json(&path, &json!({"params": tampered}), Some(KEY))).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "integrity_mismatch"));
    let first = send(&app.router, post_json(&path, &json!({"params": params}), Some(KEY))).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.json()["identity"]["carrier"], "lgu_mvno");
    let second = send(&app.router, post_json(&path, &json!({"params": params}), Some(KEY))).await;
    assert_eq!((second.status, second.code().as_str()), (StatusCode::CONFLICT, "already_completed"));
}

#[tokio::test]
async fn a_provider_refusal_fails_the_verification_with_the_raw_code() {
    let app = app(&[]).await;
    let (id, fields) = start(&app, "page", None).await;
    let overrides = ResultOverrides { resultcode: Some("9001".into()), ..ResultOverrides::default() };
    let params = window(&app, &fields, "hong", &overrides);
    let reply = send(&app.router, landing_post(&id, &params)).await;
    assert!(reply.location().ends_with("&status=failed&error=provider_rejected"));
    let body = send(&app.router, get(&format!("/v1/verifications/{id}"), None)).await.json();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["error"], json!({"code": "provider_rejected", "provider_code": "resultcode:9001"}));
}

#[tokio::test]
async fn api_keys_are_required_on_server_endpoints_only() {
    let app = keyed_app().await;
    for request in [
        post_json("/v1/verifications", &start_body("page"), None),
        post_json("/v1/verifications", &start_body("page"), Some("wrong-key-wrong-key-123")),
        get("/v1/verifications/vf000000000000000000000000", None),
        post_json("/v1/verifications/vf000000000000000000000000/complete", &json!({"params": {}}), None),
        post_json("/v1/verifications/vf000000000000000000000000/otp", &json!({}), None),
        post_json("/v1/verifications/vf000000000000000000000000/confirm", &json!({}), None),
        post_json("/v1/verifications/vf000000000000000000000000/resend", &json!({}), None),
    ] {
        let reply = send(&app.router, request).await;
        assert_eq!((reply.status, reply.code().as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
    }
    // The browser landing needs no key.
    let reply = send(&app.router, get("/v1/verifications/vf000000000000000000000000/return", None)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_requests_are_invalid_request_and_change_nothing() {
    let app = app(&[]).await;
    let cases = [
        json!({"method": "window"}),
        json!({"method": "window", "return_url": "https://evil.example/steal"}),
        json!({"method": "window", "return_url": "javascript:alert(1)"}),
        json!({"provider": "esignon", "method": "window", "return_url": "http://127.0.0.1:8080/x"}),
        json!({"provider": "nice", "method": "otp"}),
        json!({"provider": "nowhere", "method": "window"}),
        json!({"method": "fax"}),
        json!({"method": "window", "unexpected": true}),
    ];
    for body in cases {
        let reply = send(&app.router, post_json("/v1/verifications", &body, None)).await;
        assert_eq!((reply.status, reply.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_request"), "{body}");
    }
    let reply = send(
        &app.router,
        Request::post("/v1/verifications")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let reply = send(&app.router, Request::post("/v1/verifications").body(Body::from("{}")).unwrap()).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid_request"));
    let huge = json!({"method": "window", "return_url": format!("http://127.0.0.1:8080/{}", "a".repeat(70_000))});
    let reply = send(&app.router, post_json("/v1/verifications", &huge, None)).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"));
    assert_eq!(app.service.render_metrics().matches("bonin_flows_started_total{").count(), 0, "nothing was started");
}

#[tokio::test]
async fn unknown_verifications_are_not_found() {
    let app = app(&[]).await;
    for path in
        ["/v1/verifications/vf000000000000000000000000", "/v1/verifications/../../etc/passwd", "/v1/verifications/x"]
    {
        let reply = send(&app.router, get(path, None)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let reply = send(&app.router, get("/v1/verifications/vf000000000000000000000000", None)).await;
    assert_eq!(reply.code(), "not_found");
    let reply = send(&app.router, get("/no/such/endpoint", None)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/problem+json");
}

#[tokio::test]
async fn provider_failures_map_to_their_stable_codes() {
    let app = app(&[]).await;
    let faults = app.sandbox.as_ref().unwrap().server.faults().clone();
    let cases = [
        (Fault::status(503), Times::Always, StatusCode::SERVICE_UNAVAILABLE, "provider_unavailable"),
        (Fault::Truncated, Times::Once, StatusCode::BAD_GATEWAY, "provider_indeterminate"),
        (Fault::provider_code("1702"), Times::Once, StatusCode::INTERNAL_SERVER_ERROR, "misconfigured"),
        (Fault::provider_code("0099"), Times::Once, StatusCode::UNPROCESSABLE_ENTITY, "provider_rejected"),
    ];
    for (fault, times, status, code) in cases {
        faults.clear();
        faults.inject(CRYPTO_TOKEN_PATH, fault, times);
        let reply = send(&app.router, post_json("/v1/verifications", &start_body("page"), None)).await;
        assert_eq!((reply.status, reply.code().as_str()), (status, code), "{}", reply.text());
    }
    let reply = send(&app.router, post_json("/v1/verifications", &start_body("page"), None)).await;
    assert_eq!(reply.json()["provider_code"], Value::Null);
    faults.clear();
    faults.inject(CRYPTO_TOKEN_PATH, Fault::provider_code("0099"), Times::Once);
    let reply = send(&app.router, post_json("/v1/verifications", &start_body("page"), None)).await;
    assert_eq!(reply.json()["provider_code"], "result_cd:0099");
    let metrics = app.service.render_metrics();
    assert!(
        metrics.contains(r#"bonin_flows_failed_total{provider="nice",code="provider_unavailable"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_slow_provider_hits_the_request_time_limit() {
    let app = app(&[("BONIN_SERVER__REQUEST_TIMEOUT_SECS", "1")]).await;
    let faults = app.sandbox.as_ref().unwrap().server.faults().clone();
    faults.inject(CRYPTO_TOKEN_PATH, Fault::latency(Duration::from_secs(3)), Times::Once);
    let reply = send(&app.router, post_json("/v1/verifications", &start_body("page"), None)).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::BAD_GATEWAY, "provider_indeterminate"));
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = app(&[]).await;
    assert_eq!(send(&app.router, get("/healthz", None)).await.text(), "ok");
    assert_eq!(send(&app.router, get("/readyz", None)).await.text(), "ready");
    let (id, fields) = start(&app, "page", None).await;
    let params = window(&app, &fields, "hong", &ResultOverrides::default());
    send(&app.router, landing_post(&id, &params)).await;
    let metrics = send(&app.router, get("/metrics", None)).await.text();
    for line in [
        r#"bonin_flows_started_total{provider="nice"} 1"#,
        r#"bonin_flows_completed_total{provider="nice"} 1"#,
        r#"bonin_upstream_seconds_count{provider="nice",operation="start"} 1"#,
        r#"bonin_token_cache_misses_total{provider="nice"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    assert!(!metrics.contains("홍길동") && !metrics.contains(&id), "metrics carry no personal data or ids");
    let spec = send(&app.router, get("/openapi.json", None)).await.json();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/v1/verifications",
        "/v1/verifications/{id}",
        "/v1/verifications/{id}/return",
        "/v1/verifications/{id}/launch",
        "/v1/verifications/{id}/complete",
        "/v1/verifications/{id}/otp",
        "/v1/verifications/{id}/confirm",
        "/v1/verifications/{id}/resend",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/signing",
        "/v1/signing/{id}",
        "/v1/signing/{id}/cancel",
        "/v1/signing/{id}/remind",
        "/v1/signing/events",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is not described");
    }
}

#[tokio::test]
async fn the_demo_is_served_in_the_sandbox_and_not_in_production_style_configs() {
    let app = app(&[]).await;
    let page = send(&app.router, get("/", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains(r#"<option value="nice" data-method="window">"#));
    assert!(page.text().contains(r#"<option value="toss" data-method="app">"#));
    assert!(page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(send(&app.router, get("/demo.js", None)).await.status, StatusCode::OK);
    let off = app_with_demo_off().await;
    assert_eq!(send(&off.router, get("/", None)).await.status, StatusCode::NOT_FOUND);
}

async fn app_with_demo_off() -> App {
    app(&[("BONIN_SERVER__DEMO", "false")]).await
}

// --- Rules that need a controlled clock, and the OTP endpoints (with a stand-in OTP provider). ---

fn controlled() -> (Router, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let service = otp_service(clock.clone(), Arc::new(StandInOtp));
    (api::router(Arc::new(service), api_settings(Duration::from_secs(5))), clock)
}

async fn otp_started(router: &Router) -> String {
    let reply = send(router, post_json("/v1/verifications", &json!({"method": "otp"}), None)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let sent = send(router, post_json(&format!("/v1/verifications/{id}/otp"), &subject(), None)).await;
    assert_eq!(sent.json()["status"], "otp_sent", "{}", sent.text());
    assert_eq!(sent.json()["otp_attempts_left"], 3);
    id
}

#[tokio::test]
async fn otp_flow_wrong_twice_then_right() {
    let (router, _) = controlled();
    let id = otp_started(&router).await;
    let confirm = format!("/v1/verifications/{id}/confirm");
    for _ in 0..2 {
        let reply = send(&router, post_json(&confirm, &json!({"code": "000000"}), None)).await;
        assert_eq!((reply.status, reply.code().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "provider_rejected"));
        assert_eq!(reply.json()["provider_code"], "3001");
    }
    let resent = send(&router, post_json(&format!("/v1/verifications/{id}/resend"), &json!({}), None)).await;
    assert_eq!(resent.json()["otp_attempts_left"], 1);
    let reply = send(&router, post_json(&confirm, &json!({"code": "123456"}), None)).await;
    assert_eq!(reply.json()["status"], "verified");
    let again = send(&router, post_json(&confirm, &json!({"code": "123456"}), None)).await;
    assert_eq!((again.status, again.code().as_str()), (StatusCode::CONFLICT, "already_completed"));
}

#[tokio::test]
async fn three_wrong_codes_exhaust_the_attempts() {
    let (router, _) = controlled();
    let id = otp_started(&router).await;
    let confirm = format!("/v1/verifications/{id}/confirm");
    send(&router, post_json(&confirm, &json!({"code": "000000"}), None)).await;
    send(&router, post_json(&confirm, &json!({"code": "000000"}), None)).await;
    let third = send(&router, post_json(&confirm, &json!({"code": "000000"}), None)).await;
    assert_eq!((third.status, third.code().as_str()), (StatusCode::CONFLICT, "attempts_exhausted"));
    let status = send(&router, get(&format!("/v1/verifications/{id}"), None)).await.json();
    assert_eq!(status["status"], "failed");
    assert_eq!(status["error"]["code"], "attempts_exhausted");
}

#[tokio::test]
async fn confirming_after_seven_minutes_is_expired() {
    let (router, clock) = controlled();
    let id = otp_started(&router).await;
    clock.advance(Duration::from_secs(7 * 60));
    let reply =
        send(&router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "123456"}), None)).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::GONE, "expired"));
    assert_eq!(send(&router, get(&format!("/v1/verifications/{id}"), None)).await.json()["status"], "expired");
}

#[tokio::test]
async fn min_age_is_an_integer_from_0_to_255_however_it_is_written() {
    let (router, _) = controlled();
    for accepted in [json!(19), json!(19.0), json!(0), json!(255)] {
        let reply =
            send(&router, post_json("/v1/verifications", &json!({"method": "otp", "min_age": accepted}), None)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{accepted}: {}", reply.text());
    }
    for refused in [json!(19.5), json!(-1), json!(256), json!(273075.0), json!("19")] {
        let reply =
            send(&router, post_json("/v1/verifications", &json!({"method": "otp", "min_age": refused}), None)).await;
        assert_eq!(reply.code(), "invalid_request", "{refused}");
    }
}

#[tokio::test]
async fn otp_input_is_validated_before_anything_is_sent() {
    let (router, _) = controlled();
    let reply = send(&router, post_json("/v1/verifications", &json!({"method": "otp"}), None)).await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let mut bad = subject();
    bad["phone"] = json!("02-123-4567");
    let reply = send(&router, post_json(&format!("/v1/verifications/{id}/otp"), &bad, None)).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert!(!reply.text().contains("02-123-4567"), "the value is not echoed");
    assert_eq!(send(&router, get(&format!("/v1/verifications/{id}"), None)).await.json()["status"], "pending");
    let reply =
        send(&router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "123456"}), None)).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::CONFLICT, "wrong_step"), "nothing was sent yet");
    let reply =
        send(&router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "12"}), None)).await;
    assert_eq!(reply.code(), "invalid_request");
}

#[tokio::test]
async fn the_identity_is_gone_after_the_retention_time() {
    let (router, clock) = controlled();
    let id = otp_started(&router).await;
    send(&router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "123456"}), None)).await;
    clock.advance(Duration::from_secs(600));
    let reply = send(&router, get(&format!("/v1/verifications/{id}"), None)).await;
    assert_eq!((reply.status, reply.code().as_str()), (StatusCode::NOT_FOUND, "not_found"));
}

// --- mobileOK through the API, against its simulator ---

async fn mobileok_window(app: &App, display: &str) -> (String, String) {
    let body = json!({"provider": "mobileok", "method": "window", "return_url": "http://127.0.0.1:8080/demo/done", "display": display});
    let reply = send(&app.router, post_json("/v1/verifications", &body, None)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let started = reply.json();
    assert_eq!(started["launch"]["kind"], "mobileok");
    let id = started["id"].as_str().unwrap().to_owned();
    assert_eq!(started["launch"]["request_url"], format!("http://127.0.0.1:8080/v1/verifications/{id}/launch"));
    // The SDK posts to the request URL from the merchant's page.
    let request = Request::post(format!("/v1/verifications/{id}/launch"))
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    let info = send(&app.router, request).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:8080");
    assert_eq!(info.json()["retTransferType"], "MOKToken");
    (id, info.text())
}

#[tokio::test]
async fn mobileok_window_flow_through_the_http_api() {
    let app = app(&[]).await;
    let (id, info) = mobileok_window(&app, "page").await;
    let sandbox = app.sandbox.as_ref().unwrap();
    let delivery = sandbox
        .simulator::<bonin_sandbox::mobileok::MobileokSimulator>()
        .unwrap()
        .complete_window(&info, Some("kim-mvno"))
        .unwrap();
    assert_eq!(delivery.return_url, format!("http://127.0.0.1:8080/v1/verifications/{id}/return"));
    let landing = Request::post(format!("/v1/verifications/{id}/return"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(delivery.form_body()))
        .unwrap();
    let reply = send(&app.router, landing).await;
    assert!(reply.location().ends_with("&status=verified"), "{}", reply.location());
    let body = send(&app.router, get(&format!("/v1/verifications/{id}"), None)).await.json();
    assert_eq!(body["identity"]["name"], "김알뜰");
    assert_eq!(body["identity"]["carrier"], "lgu_mvno");
    // Once used, the request info is no longer served, and other origins get no CORS grant.
    let again =
        send(&app.router, Request::post(format!("/v1/verifications/{id}/launch")).body(Body::empty()).unwrap()).await;
    assert_eq!(again.code(), "already_completed");
}

#[tokio::test]
async fn mobileok_popup_landing_answers_200_with_a_body_never_a_redirect() {
    let app = app(&[]).await;
    let (id, info) = mobileok_window(&app, "popup").await;
    let delivery = app
        .sandbox
        .as_ref()
        .unwrap()
        .simulator::<bonin_sandbox::mobileok::MobileokSimulator>()
        .unwrap()
        .complete_window(&info, Some("hong"))
        .unwrap();
    let landing = Request::post(format!("/v1/verifications/{id}/return"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(delivery.form_body()))
        .unwrap();
    let reply = send(&app.router, landing).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"verification_id": id, "status": "verified", "error": null}));
    let foreign = Request::post(format!("/v1/verifications/{id}/launch"))
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let reply = send(&app.router, foreign).await;
    assert!(!reply.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn mobileok_otp_flow_through_the_http_api() {
    let app = app(&[]).await;
    let reply = send(
        &app.router,
        post_json("/v1/verifications", &json!({"provider": "mobileok", "method": "otp", "purpose": "sign_up"}), None),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let subject = json!({"name": "EMMA WILSON", "phone": "01098761234", "birth_date": "1995-07-21", "gender": "female",
                         "nationality": "foreign", "carrier": "kt", "auth_type": "sms"});
    let sent = send(&app.router, post_json(&format!("/v1/verifications/{id}/otp"), &subject, None)).await;
    assert_eq!(sent.json()["status"], "otp_sent", "{}", sent.text());
    let wrong =
        send(&app.router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "111111"}), None))
            .await;
    assert_eq!((wrong.code().as_str(), wrong.json()["provider_code"].as_str()), ("provider_rejected", Some("4030")));
    let resent = send(&app.router, post_json(&format!("/v1/verifications/{id}/resend"), &json!({}), None)).await;
    assert_eq!(resent.json()["otp_attempts_left"], 2);
    let done =
        send(&app.router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "234567"}), None))
            .await;
    assert_eq!(done.json()["status"], "verified", "{}", done.text());
    assert_eq!(done.json()["identity"]["nationality"], "foreign");
}

/// Starts a PortOne window through the API, completes it in the simulator and lands the redirect.
async fn portone_window(app: &App, provider: &str, persona: Option<&str>) -> (String, Reply) {
    let body = json!({"provider": provider, "method": "window", "return_url": "http://127.0.0.1:8080/demo/done", "display": "page"});
    let reply = send(&app.router, post_json("/v1/verifications", &body, None)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let started = reply.json();
    let id = started["id"].as_str().unwrap().to_owned();
    let sandbox = app.sandbox.as_ref().unwrap();
    let outcome = match started["launch"]["kind"].as_str().unwrap() {
        "iamport" => {
            assert_eq!(started["launch"]["params"]["merchant_uid"], id.as_str());
            let code = started["launch"]["merchant_code"].as_str().unwrap();
            sandbox
                .simulator::<bonin_sandbox::portone::PortoneSimulator>()
                .unwrap()
                .complete_v1_window(code, &started["launch"]["params"], persona)
                .unwrap()
        }
        "portone" => {
            assert_eq!(started["launch"]["params"]["identityVerificationId"], id.as_str());
            sandbox
                .simulator::<bonin_sandbox::portone::PortoneSimulator>()
                .unwrap()
                .complete_v2_window(&started["launch"]["params"], persona)
                .unwrap()
        }
        other => panic!("unexpected launch {other}"),
    };
    let bonin_sandbox::portone::WindowOutcome::Redirect(url) = outcome else { panic!("no redirect") };
    let path = url.strip_prefix("http://127.0.0.1:8080").unwrap();
    assert!(path.starts_with(&format!("/v1/verifications/{id}/return?")), "{path}");
    let landed = send(&app.router, Request::get(path).body(Body::empty()).unwrap()).await;
    (id, landed)
}

#[tokio::test]
async fn portone_window_flows_through_the_http_api() {
    let app = app(&[]).await;
    for (provider, persona, carrier) in [("portone_v1", "wilson", "kt"), ("portone_v2", "kim-mvno", "lgu_mvno")] {
        let (id, landed) = portone_window(&app, provider, Some(persona)).await;
        assert!(landed.location().ends_with("&status=verified"), "{provider}: {}", landed.location());
        let body = send(&app.router, get(&format!("/v1/verifications/{id}"), None)).await.json();
        assert_eq!(body["identity"]["carrier"], carrier, "{provider}");
        assert_eq!(body["identity"]["provider"], provider);
        // A cancelled window is only the browser's word (anyone holding the id could send it): the
        // landing reports it, and the verification stays open until it is finished or expires.
        let (id, landed) = portone_window(&app, provider, None).await;
        assert!(
            landed.location().ends_with("&status=pending&error=provider_rejected"),
            "{provider}: {}",
            landed.location()
        );
        let body = send(&app.router, get(&format!("/v1/verifications/{id}"), None)).await.json();
        assert_eq!(body["status"], "pending");
    }
}

#[tokio::test]
async fn portone_otp_flows_through_the_http_api() {
    let app = app(&[]).await;
    for (provider, wrong_code) in [("portone_v1", "1"), ("portone_v2", "PG_PROVIDER:SIM0201")] {
        let reply =
            send(&app.router, post_json("/v1/verifications", &json!({"provider": provider, "method": "otp"}), None))
                .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let id = reply.json()["id"].as_str().unwrap().to_owned();
        let subject = json!({"name": "홍길동", "phone": "01012345678", "birth_date": "1990-02-15", "gender": "male",
                             "nationality": "domestic", "carrier": "skt", "auth_type": "sms", "client_ip": "203.0.113.7"});
        let sent = send(&app.router, post_json(&format!("/v1/verifications/{id}/otp"), &subject, None)).await;
        assert_eq!(sent.json()["status"], "otp_sent", "{provider}: {}", sent.text());
        let wrong =
            send(&app.router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "111111"}), None))
                .await;
        assert_eq!(
            (wrong.code().as_str(), wrong.json()["provider_code"].as_str()),
            ("provider_rejected", Some(wrong_code)),
            "{provider}: {}",
            wrong.text()
        );
        let done =
            send(&app.router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "123456"}), None))
                .await;
        assert_eq!(done.json()["status"], "verified", "{provider}: {}", done.text());
        assert_eq!(done.json()["identity"]["ci"].as_str().map(str::len), Some(88));
        let again =
            send(&app.router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "123456"}), None))
                .await;
        assert_eq!(again.code(), "already_completed", "a confirm is applied at most once");
    }
}

fn keyed_post(path: &str, body: &Value) -> Request<Body> {
    post_json(path, body, Some(KEY))
}

#[tokio::test]
async fn signing_start_status_sign_and_cancel_through_the_http_api() {
    let app = app(&[
        ("BONIN_SERVER__API_KEYS", KEY),
        ("BONIN_PROVIDERS__ESIGNON__COMPANY_ID", "bonin-sandbox"),
        ("BONIN_PROVIDERS__ESIGNON__EMAIL", "hr@shop.example"),
        ("BONIN_PROVIDERS__ESIGNON__PASSWORD", "hr-password-in-the-sandbox"),
        ("BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION", "callback-authorization-0123456789abcdef"),
    ])
    .await;
    let start = json!({"template_id": "170", "workflow_name": "근로계약서 2026",
        "signers": [{"name": "홍길동", "email": "hong@shop.example"}, {"name": "김알뜰", "phone": "01055556666"}],
        "fields": {"contract_date": "2026-11-23", "agree": "Y"}});
    assert_eq!(send(&app.router, post_json("/v1/signing", &start, None)).await.status, StatusCode::UNAUTHORIZED);
    let started = send(&app.router, keyed_post("/v1/signing", &start)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let body = started.json();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!((body["provider"].as_str(), body["status"].as_str()), (Some("esignon"), Some("in_progress")));
    // eSignon sends each signer their own link; the start answers none (not the member's page).
    assert!(body.get("signing_url").is_none() && body.get("signers").is_none(), "{body}");
    let read = send(&app.router, get(&format!("/v1/signing/{id}"), Some(KEY))).await.json();
    assert_eq!(read["status"], "in_progress", "{read}");
    assert!(read.get("download_url").is_none());

    let workflow = body["provider_workflow_id"].as_str().unwrap();
    app.sandbox
        .as_ref()
        .unwrap()
        .simulator::<bonin_sandbox::esignon::EsignonSimulator>()
        .unwrap()
        .sign(workflow, true)
        .unwrap();
    let read = send(&app.router, get(&format!("/v1/signing/{id}"), Some(KEY))).await.json();
    assert_eq!(read["status"], "completed");
    assert!(read["download_url"].is_string() && read["certificate_url"].is_string());
    // A completed workflow cannot be cancelled, only disposed of (with a reason).
    let refused = send(&app.router, keyed_post(&format!("/v1/signing/{id}/cancel"), &json!({}))).await;
    assert_eq!((refused.status, refused.code().as_str()), (StatusCode::CONFLICT, "wrong_step"), "{}", refused.text());
    let disposed = send(
        &app.router,
        keyed_post(&format!("/v1/signing/{id}/cancel"), &json!({"command": "dispose", "reason": "해지"})),
    )
    .await;
    assert_eq!(disposed.json()["status"], "disposed", "{}", disposed.text());

    let other = send(&app.router, keyed_post("/v1/signing", &start)).await.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app.router, keyed_post(&format!("/v1/signing/{other}/remind"), &json!({}))).await.status,
        StatusCode::NO_CONTENT
    );
    // A body that is not an object (an array would otherwise be read as one) is refused.
    let array = send(&app.router, keyed_post(&format!("/v1/signing/{other}/cancel"), &json!([null, null]))).await;
    assert_eq!(array.code(), "invalid_request", "{}", array.text());
    // JSON `null` is no body: a plain cancel.
    let cancelled = send(&app.router, keyed_post(&format!("/v1/signing/{other}/cancel"), &json!(null))).await;
    assert_eq!(cancelled.json()["status"], "cancelled", "{}", cancelled.text());

    // Bad input changes nothing; unknown ids are not found.
    let starts = bonin_sandbox::esignon::EsignonCounters::get(
        &app.sandbox
            .as_ref()
            .unwrap()
            .simulator::<bonin_sandbox::esignon::EsignonSimulator>()
            .unwrap()
            .counters()
            .starts,
    );
    for bad in [
        json!({"template_id": "170", "workflow_name": "계약서.pdf", "signers": [{"name": "홍길동", "email": "hong@shop.example"}]}),
        json!({"template_id": "170", "workflow_name": "ok", "signers": [{"name": "홍길동", "email": "not-an-email"}]}),
        json!({"template_id": "170", "workflow_name": "ok", "signers": [{"name": "홍길동"}], "expires_on": "2020-01-01"}),
        json!({"template_id": "170", "workflow_name": "ok", "signers": []}),
    ] {
        let reply = send(&app.router, keyed_post("/v1/signing", &bad)).await;
        assert_eq!(
            (reply.status, reply.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{bad}: {}",
            reply.text()
        );
    }
    assert_eq!(
        bonin_sandbox::esignon::EsignonCounters::get(
            &app.sandbox
                .as_ref()
                .unwrap()
                .simulator::<bonin_sandbox::esignon::EsignonSimulator>()
                .unwrap()
                .counters()
                .starts
        ),
        starts
    );
    assert_eq!(send(&app.router, get("/v1/signing/nice-1", Some(KEY))).await.code(), "not_found");
    assert_eq!(send(&app.router, get("/v1/signing/esignon-999999", Some(KEY))).await.code(), "invalid_request");

    // Callbacks: only with the configured authorization, only an Export API body.
    let callback =
        json!({"header": {"api_name": "export"}, "body": {"wfuid": workflow, "status": "Complete", "worktype": "CF"}})
            .to_string();
    let post_event = |authorization: Option<&str>, body: String| {
        let mut request = Request::post("/v1/signing/events").header(header::CONTENT_TYPE, "application/json");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        request.body(Body::from(body)).unwrap()
    };
    let ok = send(&app.router, post_event(Some("callback-authorization-0123456789abcdef"), callback.clone())).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(
        send(&app.router, post_event(Some("callback-authorization-wrong"), callback.clone())).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&app.router, post_event(None, callback)).await.status, StatusCode::UNAUTHORIZED);
    let odd =
        send(&app.router, post_event(Some("callback-authorization-0123456789abcdef"), "{\"body\":{}}".into())).await;
    assert_eq!(odd.status, StatusCode::OK, "authorized, so answered 200 although unreadable");
}

#[tokio::test]
async fn min_age_is_enforced_on_a_nice_window_verification() {
    let app = keyed_app().await;
    let mut body = start_body("page");
    body["min_age"] = json!(60);
    let reply = send(&app.router, post_json("/v1/verifications", &body, Some(KEY))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let fields = launch_fields(&reply.json());
    // "hong" was born in 1990: younger than 60.
    let params = window(&app, &fields, "hong", &ResultOverrides::default());
    let landing = send(&app.router, landing_post(&id, &params)).await;
    assert!(landing.location().ends_with("&status=failed&error=age_restricted"), "{}", landing.location());
    let read = send(&app.router, get(&format!("/v1/verifications/{id}"), Some(KEY))).await.json();
    assert_eq!(read["status"], "failed");
    assert_eq!(read["error"]["code"], "age_restricted");
    assert!(read.get("identity").is_none(), "no identity for a refused person");

    // The same person passes a lower minimum.
    let mut body = start_body("page");
    body["min_age"] = json!(19);
    let reply = send(&app.router, post_json("/v1/verifications", &body, Some(KEY))).await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let fields = launch_fields(&reply.json());
    let params = window(&app, &fields, "hong", &ResultOverrides::default());
    let landing = send(&app.router, landing_post(&id, &params)).await;
    assert!(landing.location().ends_with("&status=verified"), "{}", landing.location());
}
