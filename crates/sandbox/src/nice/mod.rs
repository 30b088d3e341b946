//! The NICE simulator (API 방식): E1 access token, E2 revoke, E3 crypto token, and the 표준창
//! (`service.cb`) with a persona picker, delivering the encrypted EUC-KR result to `returnurl`.
//!
//! Written from `shared/protocols/nice.md`, independently of the adapter. What it enforces:
//! - E1: Basic credentials of a configured client; `grant_type=client_credentials`.
//! - E3: `bearer base64(access_token:unix_seconds:client_id)` with a known token and a timestamp
//!   within 3 minutes (else 1800), the contracted `ProductID` (else 1706), the `dataHeader`/`dataBody`
//!   split (else 1500), an empty body (1300), valid `req_dtim`/`req_no`/`enc_mode` (else `result_cd`
//!   0001).
//! - The window: known, unexpired `token_version_id`, a valid HMAC, decryptable data, the right
//!   `sitecode`; many verifications per crypto token within `period`. `returnurl` is an http(s) URL
//!   or an app scheme (`myapp://…`, for apps that hand the result to their server); an app is
//!   reached only by a GET redirect, so a result for an app scheme with `methodtype` `post` never
//!   arrives (the window shows an error instead).
//!
//! A [`Fault::ProviderCode`](crate::Fault::ProviderCode) on E1/E3 answers with that code in the right
//! layer: `1xxx` → `GW_RSLT_CD` (with `dataBody: ""`), `00xx` → `result_cd`, anything else → `rsp_cd`.

mod counterpart;
mod crypto;

pub use counterpart::Counterpart;
mod window;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{OsRng, Rng, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{InjectedProviderCode, personas::Persona};

pub use window::{WindowCallback, WindowError};

/// The access-token path (E1).
pub const TOKEN_PATH: &str = "/digital/niceid/oauth/oauth/token";
/// The revoke path (E2).
pub const REVOKE_PATH: &str = "/digital/niceid/oauth/oauth/token/revokeById";
/// The crypto-token path (E3).
pub const CRYPTO_TOKEN_PATH: &str = "/digital/niceid/api/v1.0/common/crypto/token";
/// The window entry path (E4).
pub const WINDOW_PATH: &str = "/CheckPlusSafeModel/service.cb";

/// How the simulated NICE behaves.
#[derive(Debug, Clone)]
pub struct NiceSimConfig {
    /// Registered clients: (client_id, client_secret).
    pub clients: Vec<(String, String)>,
    /// The contracted product.
    pub product_id: String,
    /// `site_code` handed out with crypto tokens (Base64 of the 5-character site code).
    pub site_code: String,
    /// Crypto-token lifetime in seconds.
    pub period_secs: u64,
    /// Serialize `expires_in` and `period` as floats (`1.5768E9`, `3600.0`) as NICE sometimes does.
    pub floats: bool,
    /// Deliver results by POST whatever `methodtype` says (iOS Safari / KakaoTalk in-app browser).
    pub force_post: bool,
    /// Result fields the contract does not include (e.g. `ci`, `mobileno`).
    pub omitted_fields: Vec<String>,
    /// Write the result's `sitecode` as the plain site code (`CG232`) rather than as the crypto
    /// token carried it (`Q0cyMzI=`). Which one NICE writes is not publicly documented.
    pub result_site_code_decoded: bool,
}

impl Default for NiceSimConfig {
    fn default() -> Self {
        Self {
            clients: vec![("sandbox-nice-client".into(), "sandbox-nice-secret".into())],
            product_id: "2101979031".into(),
            site_code: "Q0cyMzI=".into(),
            period_secs: 3600,
            floats: true,
            force_post: false,
            omitted_fields: Vec::new(),
            result_site_code_decoded: false,
        }
    }
}

/// One issued crypto token.
#[derive(Clone)]
struct CryptoToken {
    req_dtim: String,
    req_no: String,
    token_val: String,
    issued_at: Timestamp,
    period: Duration,
}

#[derive(Default)]
struct SimState {
    /// access token → client id
    access_tokens: HashMap<String, String>,
    crypto_tokens: HashMap<String, CryptoToken>,
    /// open window sessions: id → decoded request
    windows: HashMap<String, window::OpenWindow>,
}

/// Request counters, for tests of token economy.
#[derive(Debug, Default)]
pub struct NiceCounters {
    /// E1 calls answered (success or not).
    pub access_token_requests: AtomicU64,
    /// E3 calls answered.
    pub crypto_token_requests: AtomicU64,
    /// Results delivered.
    pub results_delivered: AtomicU64,
}

/// The simulator. Clone shares state.
#[derive(Clone)]
pub struct NiceSimulator {
    config: Arc<NiceSimConfig>,
    state: Arc<Mutex<SimState>>,
    counters: Arc<NiceCounters>,
}

impl std::fmt::Debug for NiceSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NiceSimulator").field("counters", &self.counters).finish_non_exhaustive()
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS generator only fails on a broken system; the simulator then hands out zeros.
    let _ = OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `yyyyMMddHHmmss` in KST, as NICE writes times.
fn kst_stamp(at: Timestamp) -> String {
    let t = at.to_offset(bonin_domain::KST);
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

fn gw_error(code: &str, message: &str) -> Response {
    Json(json!({"dataHeader": {"GW_RSLT_CD": code, "GW_RSLT_MSG": message}, "dataBody": ""})).into_response()
}

fn ok_envelope(cnty_cd: Option<&str>, body: Value) -> Response {
    let mut header = json!({"GW_RSLT_CD": "1200", "GW_RSLT_MSG": "오류 없음"});
    if let Some(c) = cnty_cd {
        header["CNTY_CD"] = json!(c);
    }
    Json(json!({"dataHeader": header, "dataBody": body})).into_response()
}

/// Answers an injected provider code in its layer.
fn injected(code: &str) -> Response {
    if code.len() == 4 && code.starts_with('1') {
        gw_error(code, "injected")
    } else if code.starts_with("00") {
        ok_envelope(Some("ko"), json!({"rsp_cd": "P000", "result_cd": code}))
    } else {
        ok_envelope(Some("ko"), json!({"rsp_cd": code, "res_msg": "injected"}))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn seconds(value: u64, float: bool) -> Value {
    if float {
        // Precision loss is irrelevant for simulated lifetimes.
        #[allow(clippy::cast_precision_loss)]
        let float = value as f64;
        json!(float)
    } else {
        json!(value)
    }
}

impl NiceSimulator {
    /// A simulator with `config`.
    pub fn new(config: NiceSimConfig) -> Self {
        Self { config: Arc::new(config), state: Arc::default(), counters: Arc::default() }
    }

    /// The first configured client (id, secret).
    pub fn client(&self) -> (&str, &str) {
        self.config.clients.first().map_or(("", ""), |(id, secret)| (id.as_str(), secret.as_str()))
    }

    /// Request counters.
    pub fn counters(&self) -> &NiceCounters {
        &self.counters
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes every crypto token issued so far look `by` older (to test `period` expiry).
    pub fn age_crypto_tokens(&self, by: Duration) {
        for token in self.lock().crypto_tokens.values_mut() {
            token.issued_at -= by;
        }
    }

    /// The routes: E1, E2, E3, the window and the browserless completion
    /// (`POST /_sandbox/nice/complete`).
    pub fn router(&self) -> Router {
        Router::new()
            .route(TOKEN_PATH, post(access_token))
            .route(REVOKE_PATH, post(revoke))
            .route(CRYPTO_TOKEN_PATH, post(crypto_token))
            .route(WINDOW_PATH, get(window::open_get).post(window::open_post))
            .route(window::AUTHENTICATE_PATH, post(window::authenticate))
            .route("/_sandbox/nice/complete", post(window::complete_api))
            .with_state(self.clone())
    }

    fn crypto_token_for(&self, token_version_id: &str) -> Option<CryptoToken> {
        self.lock().crypto_tokens.get(token_version_id).cloned()
    }
}

async fn access_token(
    State(sim): State<NiceSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.counters.access_token_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(code) = code {
        return injected(&code);
    }
    let credentials = header(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    let client = credentials.and_then(|c| {
        let (id, secret) = c.split_once(':')?;
        sim.config.clients.iter().find(|(i, s)| i == id && s == secret).map(|(i, _)| i.clone())
    });
    let Some(client_id) = client else {
        return (StatusCode::UNAUTHORIZED, gw_error("1401", "인증 필요")).into_response();
    };
    let form = String::from_utf8_lossy(&body);
    if !form.split('&').any(|pair| pair == "grant_type=client_credentials") {
        return gw_error("1400", "잘못된 요청");
    }
    let h = random_hex(16);
    let token = format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]);
    sim.lock().access_tokens.insert(token.clone(), client_id);
    ok_envelope(
        None,
        json!({"access_token": token, "token_type": "bearer", "expires_in": seconds(1_576_800_000, sim.config.floats), "scope": "default"}),
    )
}

/// Decodes `scheme base64(token:ts:client_id)`; `None` if malformed.
fn signed_token(value: &str, scheme: &str) -> Option<(String, i64, String)> {
    let encoded = value.strip_prefix(scheme)?.strip_prefix(' ')?;
    let text = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let mut parts = text.split(':');
    let (token, ts, client) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((token.to_owned(), ts.parse().ok()?, client.to_owned()))
}

async fn revoke(
    State(sim): State<NiceSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    headers: HeaderMap,
) -> Response {
    if let Some(code) = code {
        return injected(&code);
    }
    let auth = header(&headers, "authorization").unwrap_or("");
    let parsed = signed_token(auth, "Basic").or_else(|| signed_token(auth, "bearer"));
    let revoked = parsed.is_some_and(|(token, _, client)| {
        let mut state = sim.lock();
        if state.access_tokens.get(&token) == Some(&client) {
            state.access_tokens.remove(&token);
            true
        } else {
            false
        }
    });
    ok_envelope(None, json!({"result": if revoked { "true" } else { "false" }}))
}

#[derive(Deserialize)]
struct CryptoTokenRequest {
    #[serde(rename = "dataHeader")]
    header: Value,
    #[serde(rename = "dataBody")]
    body: CryptoTokenBody,
}

#[derive(Deserialize)]
struct CryptoTokenBody {
    #[serde(default)]
    req_dtim: Option<String>,
    #[serde(default)]
    req_no: Option<String>,
    #[serde(default)]
    enc_mode: Option<String>,
}

/// The gateway accepts the bearer header of a known token stamped within three minutes of its clock.
const MAX_SKEW_SECS: i64 = 180;

async fn crypto_token(
    State(sim): State<NiceSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.counters.crypto_token_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(code) = code {
        return injected(&code);
    }
    let now = time::OffsetDateTime::now_utc();
    let Some((token, stamp, client)) = header(&headers, "authorization").and_then(|v| signed_token(v, "bearer")) else {
        return gw_error("1800", "잘못된 토큰");
    };
    let known = sim.lock().access_tokens.get(&token) == Some(&client);
    if !known || (now.unix_timestamp() - stamp).abs() >= MAX_SKEW_SECS {
        return gw_error("1800", "잘못된 토큰");
    }
    if header(&headers, "productid") != Some(sim.config.product_id.as_str()) {
        return gw_error("1706", "액세스 불허: Client ID + Product Code");
    }
    if body.is_empty() {
        return gw_error("1300", "request body 가 비었습니다");
    }
    let Ok(request) = serde_json::from_slice::<CryptoTokenRequest>(&body) else {
        return gw_error("1500", "서버 내부 오류");
    };
    let cnty_cd = request.header.get("CNTY_CD").and_then(Value::as_str).unwrap_or("ko").to_owned();
    let valid_dtim =
        request.body.req_dtim.as_deref().is_some_and(|d| d.len() == 14 && d.bytes().all(|b| b.is_ascii_digit()));
    let valid_no = request.body.req_no.as_deref().is_some_and(|n| !n.is_empty() && n.len() <= 30);
    let (Some(req_dtim), Some(req_no), true, true, Some("1")) =
        (request.body.req_dtim, request.body.req_no, valid_dtim, valid_no, request.body.enc_mode.as_deref())
    else {
        return ok_envelope(Some(&cnty_cd), json!({"rsp_cd": "P000", "result_cd": "0001"}));
    };
    let mut val = [0u8; 32];
    let _ = OsRng.fill_bytes(&mut val);
    let token_val = STANDARD.encode(val);
    let token_version_id = format!(
        "{}{}-NCCDCG232-{}-{}",
        kst_stamp(now),
        &random_hex(1)[..2],
        random_hex(3)[..5].to_uppercase(),
        random_hex(5).to_uppercase()
    );
    let period = Duration::from_secs(sim.config.period_secs);
    sim.lock().crypto_tokens.insert(
        token_version_id.clone(),
        CryptoToken { req_dtim, req_no, token_val: token_val.clone(), issued_at: now, period },
    );
    ok_envelope(
        Some(&cnty_cd),
        json!({
            "rsp_cd": "P000",
            "result_cd": "0000",
            "site_code": sim.config.site_code,
            "token_version_id": token_version_id,
            "token_val": token_val,
            "period": seconds(sim.config.period_secs, sim.config.floats),
        }),
    )
}

/// What a test may change in a delivered result to exercise the adapter's checks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ResultOverrides {
    /// Replaces the echoed `requestno`.
    pub requestno: Option<String>,
    /// Replaces `resultcode` (`0000`).
    pub resultcode: Option<String>,
    /// Replaces `sitecode`.
    pub sitecode: Option<String>,
}

fn mobileco(persona: &Persona) -> &'static str {
    use bonin_domain::Carrier;
    match persona.carrier {
        Carrier::Skt => "1",
        Carrier::Kt => "2",
        Carrier::Lgu => "3",
        Carrier::SktMvno => "5",
        Carrier::KtMvno => "6",
        _ => "7",
    }
}
