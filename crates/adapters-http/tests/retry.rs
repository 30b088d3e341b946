//! Retry rules through the test double seam.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bonin_adapters_http::*;
use bonin_domain::{Dependency, Error, ProviderId};

const FAST: RetryPolicy =
    RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2) };

/// A transport that fails the first `failures` attempts with `error` (or answers `status`), then 200.
fn flaky(
    calls: Arc<AtomicUsize>,
    failures: usize,
    fail: impl Fn() -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
) -> HttpClient {
    let transport = FnTransport::new(move |_req: &HttpRequest| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if n < failures { fail() } else { Ok(HttpResponse::new(200, "ok")) }
    });
    HttpClient::new(ProviderId::PortoneV2, Arc::new(transport), FAST)
}

#[tokio::test]
async fn connect_failures_are_retried_even_for_non_idempotent_requests() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 2, || Err(TransportError::Connect));
    let response = client.send(HttpRequest::post("otp.send", "https://api.example/send")).await.unwrap();
    assert_eq!((response.status, calls.load(Ordering::SeqCst)), (200, 3));
}

#[tokio::test]
async fn a_timed_out_non_idempotent_request_is_not_retried_and_is_indeterminate() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 1, || Err(TransportError::Timeout));
    let error = client.send(HttpRequest::post("otp.send", "https://api.example/send")).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(matches!(error, Error::Indeterminate { dependency: Dependency::Provider(ProviderId::PortoneV2), .. }));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_timed_out_idempotent_request_is_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 2, || Err(TransportError::Timeout));
    let response = client.send(HttpRequest::get("iv.get", "https://api.example/iv/1")).await.unwrap();
    assert_eq!((response.status, calls.load(Ordering::SeqCst)), (200, 3));
}

#[tokio::test]
async fn gateway_errors_are_retried_only_when_idempotent() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 1, || Ok(HttpResponse::new(503, "busy")));
    let response = client.send(HttpRequest::get("iv.get", "https://api.example/iv/1")).await.unwrap();
    assert_eq!((response.status, calls.load(Ordering::SeqCst)), (200, 2));

    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 1, || Ok(HttpResponse::new(503, "busy")));
    let response = client.send(HttpRequest::post("otp.send", "https://api.example/send")).await.unwrap();
    assert_eq!((response.status, calls.load(Ordering::SeqCst)), (503, 1), "the 503 is handed to the adapter");

    let marked = HttpRequest::post("otp.confirm", "https://api.example/confirm").idempotency(Idempotency::Idempotent);
    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 1, || Ok(HttpResponse::new(502, "bad gateway")));
    assert_eq!(client.send(marked).await.unwrap().status, 200);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 5, || Ok(HttpResponse::new(400, "bad")));
    assert_eq!(client.send(HttpRequest::get("iv.get", "https://api.example/iv/1")).await.unwrap().status, 400);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retries_stop_at_max_attempts_and_report_unavailable() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = flaky(calls.clone(), 100, || Err(TransportError::Connect));
    let error = client.send(HttpRequest::post("otp.send", "https://api.example/send")).await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(matches!(error, Error::Unavailable { .. }));
    assert!(error.is_retryable());
}

#[tokio::test]
async fn request_and_response_debug_never_show_values_or_bodies() {
    let request = HttpRequest::post("token", "https://api.example/token")
        .header("Authorization", "Basic c2VjcmV0LXZhbHVlLTEyMw==")
        .body(b"imp_secret=topsecret-xyz".to_vec());
    let text = format!("{request:?}");
    assert!(!text.contains("c2VjcmV0") && !text.contains("topsecret"));
    assert!(text.contains("Authorization"));
    let response = HttpResponse::new(200, r#"{"name":"홍길동","phone":"01012345678"}"#);
    let text = format!("{response:?}");
    assert!(!text.contains("홍길동") && !text.contains("0101234"));
}
