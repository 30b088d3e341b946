//! `POST /v1/verifications` with the person's details: they reach the provider's launch (PortOne
//! fills its window in and fixes it to them), are validated first, and custom data is kept.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use bonin_app::{
    config::{LoadedConfig, StringEnv, figment},
    wiring,
};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn start(body: Value) -> (StatusCode, Value) {
    let vars = [("BONIN_STORE__URL".to_owned(), "memory:".to_owned())];
    let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars(vars))).unwrap();
    let app = wiring::build(&loaded).await.unwrap();
    let request = Request::post("/v1/verifications")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn prefill_and_custom_data_reach_the_portone_launches() {
    let prefill = json!({"name": "홍길동", "phone": "010-1234-5678", "birth_date": "1990-02-15", "carrier": "kt_mvno"});
    let (status, v2) = start(json!({"provider": "portone_v2", "method": "window", "display": "page",
        "return_url": "http://127.0.0.1:8080/done", "prefill": prefill, "custom_data": "{\"member\":\"m-1\"}"}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    let params = &v2["launch"]["params"];
    assert_eq!(params["customer"]["fullName"], "홍길동", "{params}");
    assert_eq!(params["customer"]["phoneNumber"], "01012345678");
    assert_eq!(params["customData"], "{\"member\":\"m-1\"}");

    let (status, v1) = start(json!({"provider": "portone_v1", "method": "window", "display": "page",
        "return_url": "http://127.0.0.1:8080/done", "prefill": prefill}))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_eq!(v1["launch"]["params"]["name"], "홍길동", "{v1}");
}

#[tokio::test]
async fn a_malformed_prefill_is_refused_and_not_echoed() {
    let (status, problem) = start(json!({"provider": "portone_v2", "method": "window",
        "return_url": "http://127.0.0.1:8080/done", "prefill": {"phone": "02-9876-5432"}}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(!problem.to_string().contains("9876"), "{problem}");
    let (status, _) = start(json!({"provider": "portone_v2", "method": "window",
        "return_url": "http://127.0.0.1:8080/done", "prefill": {"ssn": "x"}}))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
