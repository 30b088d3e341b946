//! Hostile posts to mobileOK's open return landing (`/v1/verifications/{id}/return`). Anyone who
//! holds a pending id can post there; only a result bonin fetched from mobileOK's server with a key
//! token may change the verification. A result sealed to the (public) client key, a failure code
//! typed by the poster, or a key token mobileOK will not exchange leaves it pending, and the real
//! window still completes it afterwards.
#![cfg(all(feature = "mobileok", feature = "sandbox"))]
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
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn app() -> App {
    let vars = [("BONIN_STORE__URL".to_owned(), "memory:".to_owned())];
    let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars(vars))).unwrap();
    wiring::build(&loaded).await.unwrap()
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    (status, to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec())
}

async fn send_json(router: &Router, request: Request<Body>) -> Value {
    let (status, body) = send(router, request).await;
    assert!(status.is_success(), "{status}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Starts a mobileOK window verification and fetches its request info as the SDK does.
async fn start(app: &App) -> (String, String) {
    let body = json!({"provider": "mobileok", "method": "window", "return_url": "http://127.0.0.1:8080/demo/done", "display": "page"});
    let request = Request::post("/v1/verifications")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let started = send_json(&app.router, request).await;
    assert_eq!(started["status"], "pending");
    let id = started["id"].as_str().unwrap().to_owned();
    let request = Request::post(format!("/v1/verifications/{id}/launch"))
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    let (status, info) = send(&app.router, request).await;
    assert_eq!(status, StatusCode::OK);
    (id, String::from_utf8(info).unwrap())
}

/// Posts a raw form body to the landing.
async fn land(app: &App, id: &str, form_body: String) {
    let request = Request::post(format!("/v1/verifications/{id}/return"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form_body))
        .unwrap();
    let (status, _) = send(&app.router, request).await;
    assert!(!status.is_server_error(), "{status}");
}

/// Posts `data` the way mobileOK's window does: URL-encoded JSON in a URL-encoded form.
async fn post_data(app: &App, id: &str, data: &Value) {
    let once = utf8_percent_encode(&data.to_string(), NON_ALPHANUMERIC).to_string();
    land(app, id, format!("data={}", utf8_percent_encode(&once, NON_ALPHANUMERIC))).await;
}

async fn status(app: &App, id: &str) -> Value {
    send_json(&app.router, Request::get(format!("/v1/verifications/{id}")).body(Body::empty()).unwrap()).await
}

/// The user finishes in the (simulated) mobileOK window; the verification verifies as `persona`.
async fn genuine_completion(app: &App, id: &str, info: &str, persona: &str, name: &str) {
    let delivery = app
        .sandbox
        .as_ref()
        .unwrap()
        .simulator::<bonin_sandbox::mobileok::MobileokSimulator>()
        .unwrap()
        .complete_window(info, Some(persona))
        .unwrap();
    land(app, id, delivery.form_body()).await;
    let body = status(app, id).await;
    assert_eq!(body["status"], "verified", "{body}");
    assert_eq!(body["identity"]["name"], name);
}

#[tokio::test]
async fn a_result_sealed_with_the_public_key_leaves_the_verification_pending() {
    let app = app().await;
    let (id, info) = start(&app).await;
    // The client key's public half is all it takes to seal a result bonin's key file opens.
    let public_key = app
        .client::<bonin_adapters_mobileok::MobileokClient>(bonin_domain::ProviderId::Mobileok)
        .unwrap()
        .key_file()
        .client_public_key_der()
        .to_vec();
    let forged = app
        .sandbox
        .as_ref()
        .unwrap()
        .simulator::<bonin_sandbox::mobileok::MobileokSimulator>()
        .unwrap()
        .forge_result(&public_key, &id, "wilson")
        .unwrap();
    for data in [
        json!({"encryptMOKResult": forged}),
        json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKResult": forged}),
    ] {
        post_data(&app, &id, &data).await;
        let body = status(&app, &id).await;
        assert_eq!(body["status"], "pending", "{body}");
        assert!(body.get("identity").is_none());
    }
    genuine_completion(&app, &id, &info, "hong", "홍길동").await;
}

#[tokio::test]
async fn a_failure_code_posted_to_the_landing_leaves_the_verification_pending() {
    let app = app().await;
    let (id, info) = start(&app).await;
    for data in [
        json!({"resultCode": "3100", "resultMsg": "사용자가 본인확인을 취소했습니다."}),
        json!({"resultCode": "9999"}),
        json!({"resultCode": 4000, "encryptMOKKeyToken": "AAAA+BBBB"}),
    ] {
        post_data(&app, &id, &data).await;
        assert_eq!(status(&app, &id).await["status"], "pending", "{data}");
    }
    genuine_completion(&app, &id, &info, "wilson", "EMMA WILSON").await;
}

#[tokio::test]
async fn a_key_token_mobileok_refuses_leaves_the_verification_pending() {
    let app = app().await;
    let (id, info) = start(&app).await;
    let before = app
        .sandbox
        .as_ref()
        .unwrap()
        .simulator::<bonin_sandbox::mobileok::MobileokSimulator>()
        .unwrap()
        .counters()
        .result_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    for data in [
        json!({"encryptMOKKeyToken": "garbage"}),
        json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKKeyToken": "AAAA+BBBB/CCCC=="}),
    ] {
        post_data(&app, &id, &data).await;
        assert_eq!(status(&app, &id).await["status"], "pending", "{data}");
    }
    let after = app
        .sandbox
        .as_ref()
        .unwrap()
        .simulator::<bonin_sandbox::mobileok::MobileokSimulator>()
        .unwrap()
        .counters()
        .result_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(after - before, 2, "both tokens were taken to mobileOK, which refused them");
    genuine_completion(&app, &id, &info, "kim-mvno", "김알뜰").await;
}

#[tokio::test]
async fn malformed_posts_leave_the_verification_pending() {
    let app = app().await;
    let (id, info) = start(&app).await;
    for body in ["", "data=", "data=%25", "data=%25E2%2582", "data=%7B", "data=%255B%255D", "data=a&data=b", "other=1"]
    {
        land(&app, &id, body.to_owned()).await;
        assert_eq!(status(&app, &id).await["status"], "pending", "{body}");
    }
    genuine_completion(&app, &id, &info, "hong", "홍길동").await;
}
