//! The shared harness: faults per endpoint, the control API, personas.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::time::{Duration, Instant};

use axum::{Json, Router, routing::get};
use bonin_sandbox::{Fault, InjectedProviderCode, SandboxServer, Times, personas};

/// A stand-in simulator: `/token` answers JSON, `/code` echoes an injected provider code, and
/// `/items/{id}` shows that endpoints are named by route pattern.
fn simulator() -> Router {
    Router::new()
        .route("/token", get(|| async { Json(serde_json::json!({"access_token": "abc", "expires_in": 3600})) }))
        .route(
            "/code",
            get(|InjectedProviderCode(code): InjectedProviderCode| async move {
                Json(serde_json::json!({"result_code": code.unwrap_or_else(|| "0000".into())}))
            }),
        )
        .route("/items/{id}", get(|| async { "item" }))
}

async fn start() -> SandboxServer {
    SandboxServer::start(simulator(), "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

async fn get_status(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn endpoints_answer_normally_without_faults() {
    let server = start().await;
    let (status, body) = get_status(format!("{}/token", server.base_url())).await;
    assert_eq!(status, 200);
    assert!(body.contains("access_token"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_status_fault_applies_once_and_only_to_its_endpoint() {
    let server = start().await;
    server.faults().inject("/token", Fault::status(503), Times::Once);
    assert_eq!(get_status(format!("{}/code", server.base_url())).await.0, 200, "other endpoints unaffected");
    assert_eq!(get_status(format!("{}/token", server.base_url())).await.0, 503);
    assert_eq!(get_status(format!("{}/token", server.base_url())).await.0, 200);
}

#[tokio::test]
async fn counted_and_permanent_faults() {
    let server = start().await;
    server.faults().inject("/token", Fault::status(500), Times::Count(2));
    let base = server.base_url();
    let statuses = [
        get_status(format!("{base}/token")).await.0,
        get_status(format!("{base}/token")).await.0,
        get_status(format!("{base}/token")).await.0,
    ];
    assert_eq!(statuses, [500, 500, 200]);
    server.faults().inject("/token", Fault::status(502), Times::Always);
    for _ in 0..3 {
        assert_eq!(get_status(format!("{base}/token")).await.0, 502);
    }
    server.faults().clear();
    assert_eq!(get_status(format!("{base}/token")).await.0, 200);
}

#[tokio::test]
async fn endpoints_are_named_by_route_pattern() {
    let server = start().await;
    server.faults().inject("/items/{id}", Fault::status(404), Times::Once);
    assert_eq!(get_status(format!("{}/items/42", server.base_url())).await.0, 404);
    assert_eq!(get_status(format!("{}/items/42", server.base_url())).await.0, 200);
}

#[tokio::test]
async fn malformed_and_truncated_bodies_do_not_parse() {
    let server = start().await;
    server.faults().inject("/token", Fault::Malformed, Times::Once);
    let (status, body) = get_status(format!("{}/token", server.base_url())).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<serde_json::Value>(&body).is_err());

    let (_, whole) = get_status(format!("{}/token", server.base_url())).await;
    server.faults().inject("/token", Fault::Truncated, Times::Once);
    let (status, cut) = get_status(format!("{}/token", server.base_url())).await;
    assert_eq!(status, 200);
    assert_eq!(cut.len(), whole.len() / 2);
    assert!(whole.starts_with(&cut));
    assert!(serde_json::from_str::<serde_json::Value>(&cut).is_err());
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let server = start().await;
    server.faults().inject("/token", Fault::latency(Duration::from_millis(300)), Times::Once);
    let started = Instant::now();
    assert_eq!(get_status(format!("{}/token", server.base_url())).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "a sleep never ends early");
}

#[tokio::test]
async fn a_hang_makes_the_client_time_out() {
    let server = start().await;
    server.faults().inject("/token", Fault::Hang, Times::Once);
    let client = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let error = client.get(format!("{}/token", server.base_url())).send().await.unwrap_err();
    assert!(error.is_timeout());
    server.shutdown().await;
}

#[tokio::test]
async fn a_provider_code_reaches_the_simulator() {
    let server = start().await;
    server.faults().inject("/code", Fault::provider_code("1800"), Times::Once);
    assert!(get_status(format!("{}/code", server.base_url())).await.1.contains("\"1800\""));
    assert!(get_status(format!("{}/code", server.base_url())).await.1.contains("\"0000\""));
}

#[tokio::test]
async fn faults_can_be_switched_over_http() {
    let server = start().await;
    let client = reqwest::Client::new();
    let base = server.base_url();
    let post = |body: &'static str| {
        client.post(format!("{base}/_sandbox/faults")).header("content-type", "application/json").body(body).send()
    };
    assert_eq!(
        post(r#"{"endpoint":"/token","fault":{"kind":"status"}}"#).await.unwrap().status().as_u16(),
        422,
        "a malformed fault is refused"
    );
    assert_eq!(
        post(r#"{"endpoint":"/token","fault":{"kind":"status","status":503}}"#).await.unwrap().status().as_u16(),
        204
    );
    assert_eq!(get_status(format!("{base}/token")).await.0, 503);
    assert_eq!(
        post(r#"{"endpoint":"/code","fault":{"kind":"provider_code","code":"1702"}}"#).await.unwrap().status().as_u16(),
        204
    );
    assert!(get_status(format!("{base}/code")).await.1.contains("\"1702\""));
    assert_eq!(
        post(r#"{"endpoint":"/token","fault":{"kind":"malformed"},"times":{"count":2}}"#)
            .await
            .unwrap()
            .status()
            .as_u16(),
        204
    );
    assert!(get_status(format!("{base}/token")).await.1.contains("not json"));
    client.delete(format!("{base}/_sandbox/faults")).send().await.unwrap();
    assert!(get_status(format!("{base}/token")).await.1.contains("access_token"));
}

#[tokio::test]
async fn personas_are_listed_and_cover_the_required_cases() {
    let server = start().await;
    let (status, body) = get_status(format!("{}/_sandbox/personas", server.base_url())).await;
    assert_eq!(status, 200);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(listed.len(), personas::ALL.len());
    assert!(personas::ALL.iter().any(|p| p.name.chars().any(|c| ('가'..='힣').contains(&c))), "a Hangul name");
    assert!(personas::ALL.iter().any(|p| p.nationality == bonin_domain::Nationality::Foreign), "a foreigner");
    assert!(personas::ALL.iter().any(|p| p.carrier.is_mvno()), "an MVNO subscriber");
    for p in personas::ALL {
        assert_eq!(personas::by_key(p.key), Some(&p));
        assert_eq!(personas::by_phone(p.phone), Some(&p));
        bonin_domain::Name::new(p.name).unwrap();
        bonin_domain::PhoneNumber::new(p.phone).unwrap();
        bonin_domain::BirthDate::parse(p.birth_date).unwrap();
        assert_eq!(p.ci.len(), 88);
        bonin_domain::Di::new(p.di).unwrap();
    }
}

#[tokio::test]
async fn the_sandbox_refuses_non_loopback_addresses() {
    let error = SandboxServer::start(simulator(), "0.0.0.0:0".parse().unwrap()).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
