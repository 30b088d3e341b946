//! What the app's integration tests share: the app from `BONIN_*` variables, requests through its
//! router and their replies, a stand-in OTP provider and a service over it, and a writer that
//! captures log output.
#![allow(dead_code, reason = "each test binary uses the part it needs")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use axum::{
    Router,
    body::{Body, to_bytes},
    http::{HeaderMap, Request, StatusCode, header},
};
use bonin_app::{
    api::ApiSettings,
    config::{LoadedConfig, StringEnv, figment},
    metrics::Metrics,
    service::{ServiceSettings, VerificationService},
    wiring::{self, App},
};
use bonin_domain::*;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tower::ServiceExt;

// --- The app and requests through its router ---

/// The configuration from `env` over a memory store, without a file.
pub fn loaded(env: &[(&str, &str)]) -> LoadedConfig {
    let vars = [("BONIN_STORE__URL", "memory:")].iter().chain(env).map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    LoadedConfig::load(figment(None, StringEnv::from_vars(vars))).unwrap()
}

/// The app wired from [`loaded`]`(env)`.
pub async fn app(env: &[(&str, &str)]) -> App {
    wiring::build(&loaded(env)).await.unwrap()
}

/// A router's answer, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The problem's `code`, or `""`.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_owned()
    }
    pub fn location(&self) -> String {
        self.headers[header::LOCATION].to_str().unwrap().to_owned()
    }
    pub fn retry_after(&self) -> u64 {
        self.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec();
    Reply { status, headers, body }
}

/// A JSON `POST`, with the API key `key` when given.
pub fn post_json(path: &str, body: &Value, key: Option<&str>) -> Request<Body> {
    let mut builder = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

/// A `GET`, with the API key `key` when given.
pub fn get(path: &str, key: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(key) = key {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    builder.body(Body::empty()).unwrap()
}

/// `pairs` as a form body or query string.
pub fn encode(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))).collect::<Vec<_>>().join("&")
}

/// The fields of a started window verification's form launch.
pub fn launch_fields(started: &Value) -> Vec<(String, String)> {
    started["launch"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["value"].as_str().unwrap().to_owned()))
        .collect()
}

// --- A service over a stand-in OTP provider ---

/// An OTP provider stand-in: accepts `123456` (홍길동, verified when the session was created),
/// holding its sessions to mobileOK's limits.
pub struct StandInOtp;

#[async_trait]
impl OtpVerifier for StandInOtp {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }
    /// mobileOK's: 10 minutes in total, 7 to confirm after the send, 3 attempts, a result at most
    /// 600 s old.
    fn rules(&self) -> FlowRules {
        FlowRules::new(Duration::from_secs(10 * 60))
            .with_confirm_window(Some(Duration::from_secs(7 * 60)))
            .with_max_otp_attempts(3)
            .with_max_result_age(Some(Duration::from_secs(600)))
    }
    async fn send(&self, _: &OtpRequest) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn resend(&self, _: &Verification) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1-again")))
    }
    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        if code.as_ref().map(OtpCode::expose) == Some("123456") {
            let mut identity = VerifiedIdentity::new(session.provider(), session.created_at());
            identity.name = Some(Name::new("홍길동").unwrap());
            Ok(OtpOutcome::Verified(Completion::new(identity)))
        } else {
            Ok(OtpOutcome::WrongCode { retry_state: Some(ProviderState::new("t2")), provider_code: "3001".into() })
        }
    }
}

/// The subject of an OTP send.
pub fn subject() -> Value {
    json!({"name": "홍길동", "phone": "010-1234-5678", "birth_date": "1990-02-15", "gender": "male",
           "nationality": "domestic", "carrier": "skt", "auth_type": "sms"})
}

/// A service on `clock` over a memory store, with `otp` as its only provider (and the default one).
pub fn otp_service(clock: Arc<dyn Clock>, otp: Arc<dyn OtpVerifier>) -> VerificationService {
    let store = Arc::new(bonin_adapters_store::MemoryStore::with_clock(clock.clone()));
    let settings = ServiceSettings::new("http://127.0.0.1:8080", otp.provider())
        .with_allowed_return_origins(["http://127.0.0.1:8080"])
        .with_pii_retention(Duration::from_secs(600))
        .with_identity_grace(Duration::ZERO);
    VerificationService::new(store, clock, Arc::new(OsRng), settings, Arc::new(Metrics::default())).with_otp(otp)
}

/// Keyless API settings without the demo or signing, with `request_timeout`.
pub fn api_settings(request_timeout: Duration) -> ApiSettings {
    ApiSettings {
        api_keys: Arc::new(Vec::new()),
        request_timeout,
        body_limit: 65536,
        demo: false,
        ops: true,
        signing: None,
    }
}

// --- Log output ---

/// A `tracing` writer that keeps everything written to it.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
