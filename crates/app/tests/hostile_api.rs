//! The REST API under attack: slow and numerous connections, clients that start, send OTPs or
//! confirm too often, more open verifications than an instance keeps, a provider that stops
//! answering, a page that rebinds its name to 127.0.0.1; and the small wiring bugs that would
//! hide them (a registry not recorded into, the wall clock read instead of the service's).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{net::SocketAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use bonin_app::{
    api::{self, Guards},
    config::{LoadedConfig, StringEnv, figment},
    limits::ApiLimits,
    metrics::Metrics,
    wiring::{self, App},
};
use bonin_domain::*;
use bonin_sandbox::{
    Fault, Times,
    nice::{CRYPTO_TOKEN_PATH, ResultOverrides},
};
use serde_json::{Value, json};
use support::{
    Reply, StandInOtp, api_settings, app, encode, get, launch_fields, loaded, otp_service, post_json, send, subject,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

const KEY: &str = "test-api-key-0123456789";
const OTHER_KEY: &str = "test-api-key-9876543210";

/// `app` served on a loopback port by `bonin serve`'s own loop.
async fn served(env: &[(&str, &str)]) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app(env).await;
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

fn nice_start() -> Value {
    json!({"provider": "nice", "method": "window", "return_url": "http://127.0.0.1:8080/demo/done", "display": "page"})
}

/// Starts a NICE window verification; returns (id, launch fields).
async fn start_nice(app: &App, key: Option<&str>) -> (String, Vec<(String, String)>) {
    let reply = send(&app.router, post_json("/v1/verifications", &nice_start(), key)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let body = reply.json();
    let fields = launch_fields(&body);
    (body["id"].as_str().unwrap().to_owned(), fields)
}

/// The browser comes back from NICE's window, persona "hong" authenticated.
async fn finish_nice(app: &App, id: &str, fields: &[(String, String)]) {
    let sandbox = app.sandbox.as_ref().unwrap();
    let callback = sandbox
        .simulator::<bonin_sandbox::nice::NiceSimulator>()
        .unwrap()
        .complete_window(fields, "hong", &ResultOverrides::default())
        .unwrap();
    let landing = Request::post(format!("/v1/verifications/{id}/return"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(encode(&callback.params)))
        .unwrap();
    assert_eq!(send(&app.router, landing).await.status, StatusCode::SEE_OTHER);
}

fn assert_rate_limited(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "{}",
        reply.text()
    );
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/problem+json");
    assert!(reply.retry_after() >= 1, "Retry-After is a whole number of seconds");
}

// --- Connections ---

#[tokio::test]
async fn a_slowloris_connection_is_closed_after_the_header_read_timeout() {
    let addr = served(&[("BONIN_SERVER__HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // The request head, one byte at a time, never finished.
    let drip = tokio::spawn(async move {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".iter().chain(b"a".repeat(10_000).iter()) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // The guard only keeps a failing run from hanging; the server's own timeout is 1 s.
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buffer = [0u8; 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    drip.abort();
    assert!(closed.is_ok(), "the server kept a connection whose request head never ended");
}

/// Sends a whole keep-alive request on `stream` and reads the status line of its answer.
async fn healthz_on(stream: &mut tokio::net::TcpStream) -> String {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut buffer = vec![0u8; 1024];
    let n = stream.read(&mut buffer).await.unwrap();
    String::from_utf8_lossy(&buffer[..n]).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn connections_beyond_max_connections_wait_until_one_closes() {
    let addr = served(&[("BONIN_SERVER__MAX_CONNECTIONS", "1")]).await;
    let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(healthz_on(&mut first).await, "HTTP/1.1 200 OK");
    // The only slot is held by the first (kept-alive) connection: the second waits, unanswered.
    let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let waiting = tokio::spawn(async move { healthz_on(&mut second).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a connection beyond server.max_connections was served");
    drop(first);
    let answered = tokio::time::timeout(Duration::from_secs(30), waiting).await.unwrap().unwrap();
    assert_eq!(answered, "HTTP/1.1 200 OK", "the waiting connection is served once a slot frees");
}

// --- Per-client rate limits ---

#[tokio::test]
async fn starts_beyond_the_per_client_rate_are_rate_limited_with_retry_after() {
    let keys = format!("{KEY},{OTHER_KEY}");
    let app = app(&[("BONIN_SERVER__API_KEYS", &keys), ("BONIN_LIMITS__STARTS_PER_MINUTE", "2")]).await;
    start_nice(&app, Some(KEY)).await;
    start_nice(&app, Some(KEY)).await;
    let third = send(&app.router, post_json("/v1/verifications", &nice_start(), Some(KEY))).await;
    assert_rate_limited(&third);
    assert!(third.retry_after() <= 60, "a bucket refills within the minute");
    assert_eq!(app.service.render_metrics().matches(r#"bonin_flows_started_total{provider="nice"} 2"#).count(), 1);
    // Another key is another client with its own budget.
    start_nice(&app, Some(OTHER_KEY)).await;
    // A refused key spends nothing.
    let wrong = send(&app.router, post_json("/v1/verifications", &nice_start(), Some("not-a-key-at-all-000"))).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn keyless_clients_are_limited_by_peer_address() {
    let addr = served(&[("BONIN_LIMITS__STARTS_PER_MINUTE", "1")]).await;
    let client = reqwest::Client::new();
    let start = || {
        client
            .post(format!("http://{addr}/v1/verifications"))
            .header("content-type", "application/json")
            .body(nice_start().to_string())
            .send()
    };
    assert_eq!(start().await.unwrap().status().as_u16(), 201);
    let refused = start().await.unwrap();
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = serde_json::from_slice(&refused.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "rate_limited");
}

/// A router over the stand-in OTP provider on `clock`, with `limits`.
fn otp_router(clock: Arc<ManualClock>, limits: ApiLimits) -> Router {
    let service = otp_service(clock.clone(), Arc::new(StandInOtp));
    api::router_with(Arc::new(service), api_settings(Duration::from_secs(5)), Guards { limits, ..Guards::new(clock) })
}

#[tokio::test]
async fn otp_sends_and_resends_share_a_per_client_budget_and_confirms_have_their_own() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let limits = ApiLimits { otp_sends_per_minute: 2, confirms_per_minute: 1, ..ApiLimits::default() };
    let router = otp_router(clock.clone(), limits);
    let started = send(&router, post_json("/v1/verifications", &json!({"method": "otp"}), None)).await;
    let id = started.json()["id"].as_str().unwrap().to_owned();
    let sent = send(&router, post_json(&format!("/v1/verifications/{id}/otp"), &subject(), None)).await;
    assert_eq!(sent.json()["status"], "otp_sent", "{}", sent.text());
    let resend = format!("/v1/verifications/{id}/resend");
    assert_eq!(send(&router, post_json(&resend, &json!({}), None)).await.status, StatusCode::OK);
    let pumped = send(&router, post_json(&resend, &json!({}), None)).await;
    assert_rate_limited(&pumped);
    assert!(pumped.json()["detail"].as_str().unwrap().contains("limits.otp_sends_per_minute"));

    let confirm = format!("/v1/verifications/{id}/confirm");
    let wrong = send(&router, post_json(&confirm, &json!({"code": "000000"}), None)).await;
    assert_eq!(wrong.code(), "provider_rejected");
    assert_rate_limited(&send(&router, post_json(&confirm, &json!({"code": "123456"}), None)).await);
    // The budget refills with the clock.
    clock.advance(Duration::from_secs(61));
    let right = send(&router, post_json(&confirm, &json!({"code": "123456"}), None)).await;
    assert_eq!(right.json()["status"], "verified", "{}", right.text());
}

// --- Open verifications ---

#[tokio::test]
async fn open_verifications_beyond_the_cap_are_refused_until_one_finishes() {
    let app = app(&[("BONIN_LIMITS__MAX_OPEN_VERIFICATIONS", "2")]).await;
    let (first, fields) = start_nice(&app, None).await;
    start_nice(&app, None).await;
    let refused = send(&app.router, post_json("/v1/verifications", &nice_start(), None)).await;
    assert_rate_limited(&refused);
    assert!(refused.json()["detail"].as_str().unwrap().contains("limits.max_open_verifications"));
    assert_eq!(app.service.render_metrics().matches(r#"bonin_flows_started_total{provider="nice"} 2"#).count(), 1);
    // The first one finishes; once the API has answered it as verified its slot is free.
    finish_nice(&app, &first, &fields).await;
    let read = send(&app.router, get(&format!("/v1/verifications/{first}"), None)).await;
    assert_eq!(read.json()["status"], "verified");
    start_nice(&app, None).await;
}

// --- Providers ---

#[tokio::test]
async fn provider_calls_beyond_the_concurrency_limit_are_unavailable_not_queued_forever() {
    let app = app(&[
        ("BONIN_LIMITS__PROVIDER_CONCURRENCY", "1"),
        ("BONIN_LIMITS__PROVIDER_WAIT_MS", "100"),
        ("BONIN_SERVER__REQUEST_TIMEOUT_SECS", "5"),
    ])
    .await;
    app.sandbox.as_ref().unwrap().server.faults().inject(CRYPTO_TOKEN_PATH, Fault::Hang, Times::Always);
    let calls = (0..2).map(|_| {
        let router = app.router.clone();
        tokio::spawn(async move { send(&router, post_json("/v1/verifications", &nice_start(), None)).await })
    });
    let mut outcomes = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        let reply = call.await.unwrap();
        outcomes.push((reply.status.as_u16(), reply.code()));
    }
    outcomes.sort();
    // One call holds the only slot and hangs until the request time limit; the other is not sent.
    assert_eq!(
        outcomes,
        [(502, "provider_indeterminate".to_owned()), (503, "provider_unavailable".to_owned())],
        "{outcomes:?}"
    );
}

// --- DNS rebinding ---

fn with_host(mut request: Request<Body>, host: &str) -> Request<Body> {
    request.headers_mut().insert(header::HOST, host.parse().unwrap());
    request
}

#[tokio::test]
async fn a_keyless_api_refuses_requests_addressed_to_a_foreign_host() {
    let keyless = app(&[]).await;
    for host in ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example:8080"] {
        let reply = send(&keyless.router, with_host(post_json("/v1/verifications", &nice_start(), None), host)).await;
        assert_eq!((reply.status, reply.code().as_str()), (StatusCode::FORBIDDEN, "invalid_request"), "{host}");
        assert!(reply.json()["detail"].as_str().unwrap().contains("DNS rebinding"), "{}", reply.text());
        let page = send(&keyless.router, with_host(get("/", None), host)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{host}: the demo page too");
    }
    assert_eq!(
        keyless.service.render_metrics().matches("bonin_flows_started_total{").count(),
        0,
        "nothing was started"
    );
    for host in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "127.0.0.2", "bonin.localhost:8080"] {
        let reply = send(&keyless.router, with_host(post_json("/v1/verifications", &nice_start(), None), host)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{host}: {}", reply.text());
    }
    // The public URL's host is this service's own name.
    let named = app(&[("BONIN_SERVER__PUBLIC_URL", "http://bonin.test:8080")]).await;
    let reply = send(&named.router, with_host(get("/healthz", None), "bonin.test:8080")).await;
    assert_eq!(reply.status, StatusCode::OK);
    // With API keys the key is the protection, whatever the name.
    let keyed = app(&[("BONIN_SERVER__API_KEYS", KEY)]).await;
    let reply =
        send(&keyed.router, with_host(post_json("/v1/verifications", &nice_start(), Some(KEY)), "id.shop.example"))
            .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
}

// --- Wiring ---

#[tokio::test]
async fn build_with_metrics_records_into_the_given_registry() {
    let registry = Arc::new(Metrics::default());
    let app = wiring::build_with_metrics(&loaded(&[]), registry.clone()).await.unwrap();
    start_nice(&app, None).await;
    let text = registry.render(&[]);
    assert!(text.contains(r#"bonin_flows_started_total{provider="nice"} 1"#), "{text}");
}

#[tokio::test]
async fn statuses_are_read_against_the_service_clock() {
    // The service's clock stands a day behind the wall clock.
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc() - Duration::from_secs(86_400)));
    let router = otp_router(clock.clone(), ApiLimits::default());
    let started = send(&router, post_json("/v1/verifications", &json!({"method": "otp"}), None)).await;
    assert_eq!(started.json()["status"], "pending", "{}", started.text());
    let id = started.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(send(&router, get(&format!("/v1/verifications/{id}"), None)).await.json()["status"], "pending");
    clock.advance(Duration::from_secs(11 * 60));
    assert_eq!(send(&router, get(&format!("/v1/verifications/{id}"), None)).await.json()["status"], "expired");
}

// --- eSignon is signing-only ---

#[tokio::test]
async fn esignon_is_refused_as_a_verification_provider_and_not_offered_for_one() {
    let app = app(&[]).await;
    for method in ["window", "otp"] {
        let body = json!({"provider": "esignon", "method": method, "return_url": "http://127.0.0.1:8080/x"});
        let reply = send(&app.router, post_json("/v1/verifications", &body, None)).await;
        assert_eq!((reply.status, reply.code().as_str()), (StatusCode::BAD_REQUEST, "invalid_request"));
        assert!(reply.json()["detail"].as_str().unwrap().contains("/v1/signing"), "{}", reply.text());
    }
    let spec = send(&app.router, get("/openapi.json", None)).await.json();
    let offered = &spec["components"]["schemas"]["VerificationProvider"]["enum"];
    assert!(!offered.as_array().unwrap().contains(&json!("esignon")), "{offered}");
    let error = LoadedConfig::load(figment(
        None,
        StringEnv::from_vars([("BONIN_VERIFICATION__DEFAULT_PROVIDER".to_owned(), "esignon".to_owned())]),
    ))
    .unwrap_err()
    .to_string();
    assert!(error.contains("verification.default_provider") && error.contains("signing"), "{error}");
}

#[tokio::test]
async fn returns_to_the_open_landing_are_limited_per_existing_verification_not_per_address() {
    let addr = served(&[("BONIN_LIMITS__CALLBACKS_PER_MINUTE", "2")]).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let start = async || {
        let started = client
            .post(format!("http://{addr}/v1/verifications"))
            .header("content-type", "application/json")
            .body(nice_start().to_string())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        serde_json::from_slice::<Value>(&started).unwrap()["id"].as_str().unwrap().to_owned()
    };
    let garbage = |id: &str| {
        client
            .post(format!("http://{addr}/v1/verifications/{id}/return"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("token_version_id=x&enc_data=y&integrity_value=z")
            .send()
    };
    let id = start().await;
    for _ in 0..2 {
        assert_ne!(garbage(&id).await.unwrap().status().as_u16(), 429);
    }
    let refused = garbage(&id).await.unwrap();
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    // Everyone else, from the same address, is untouched: ids that do not exist cost nothing, and
    // another verification has its own budget.
    for path in ["nonsense", "vf0000000000000000000000000", "vf00000000000000000000000000"] {
        for _ in 0..5 {
            let reply = client.get(format!("http://{addr}/v1/verifications/{path}/return")).send().await.unwrap();
            assert_eq!(reply.status().as_u16(), 404);
        }
    }
    let reply = garbage(&start().await).await.unwrap();
    assert_ne!(reply.status().as_u16(), 429);
}

/// An OTP provider that takes its time to accept the code.
struct SlowOtp;

#[async_trait]
impl OtpVerifier for SlowOtp {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }
    async fn send(&self, _: &OtpRequest) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn resend(&self, _: &Verification) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn confirm(&self, session: &Verification, _: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        tokio::time::sleep(Duration::from_millis(400)).await;
        Ok(OtpOutcome::Verified(Completion::new(VerifiedIdentity::new(session.provider(), session.created_at()))))
    }
}

#[tokio::test]
async fn a_confirm_cut_off_by_the_request_time_limit_is_still_applied() {
    let clock = Arc::new(SystemClock::new());
    let service = Arc::new(otp_service(clock.clone(), Arc::new(SlowOtp)));
    let router = api::router_with(service.clone(), api_settings(Duration::from_millis(100)), Guards::new(clock));
    let started = send(&router, post_json("/v1/verifications", &json!({"method": "otp"}), None)).await;
    let id = started.json()["id"].as_str().unwrap().to_owned();
    send(&router, post_json(&format!("/v1/verifications/{id}/otp"), &subject(), None)).await;
    let cut =
        send(&router, post_json(&format!("/v1/verifications/{id}/confirm"), &json!({"code": "123456"}), None)).await;
    assert_eq!(cut.code(), "provider_indeterminate", "{}", cut.text());
    // The provider's answer still lands: poll the status (bounded) until it does.
    let id = VerificationId::parse(&id).unwrap();
    let mut status = Status::OtpSent;
    for _ in 0..50 {
        status = service.peek(&id).await.unwrap().stored_status();
        if status != Status::OtpSent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Status::Verified);
}
