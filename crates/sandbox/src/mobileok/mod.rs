//! The mobileOK simulator: 본인확인-API (`/agent/v1|v2/token/get`, `auth/request`, `auth/resend`,
//! `confirm/request`) and 본인확인-표준창 (SDK stand-in, window, `gui/service/v1/result/request`).
//!
//! Written from `shared/protocols/mobileok.md`, independently of the adapter. It generates its own
//! RSA-2048 key pairs and writes password-protected key files of both generations
//! ([`MobileokSimulator::key_file`]).
//!
//! Dream publishes only `2000`, `4101` and `5028`; the other codes below are this simulator's own,
//! chosen so tests can tell the cases apart: `4000` malformed request, `4001` request crypto does not
//! verify, `4003` site not registered or no `siteUrl` at all ("등록되지 않은 사이트입니다."), `4004`
//! reused `clientTxId`, `4010` unknown or already used token, `4011` token past its 10 minutes or the
//! 7 minutes after auth/request, `4020` user details match no subscriber, `4030` wrong code (a new
//! token comes with it), `4031` third wrong code (no token), `4032` PASS not approved yet (a new
//! token comes with it; no attempt is used), `4040` unknown, already exchanged or expired key token,
//! `3100` the user cancelled in the window (posted to the return URL, like every window outcome).
//!
//! What it holds the client to, beyond the crypto:
//!
//! * `token/get` is served at `/agent/v2/token/get` (the endpoint Dream's 본인확인-API guide lists)
//!   and, unless [`MobileokSimConfig::v1_token_endpoint`] is off, at `/agent/v1/token/get` (the
//!   vendor libraries' endpoint). Either reads either request-crypto generation: the generation is
//!   told by the value, not by the path.
//! * A `clientTxId` is used once, whether by `token/get` or by opening a window: a window opened
//!   again with the same request info is refused (`4004`).
//! * `siteUrl` is required.
//! * `reqAuthType` is `SMS` or `PASS`; LMS is chosen by `serviceType: "telcoAuth-LMS"` with
//!   `reqAuthType: "SMS"` (a `reqAuthType` of `LMS` is refused).
//! * A PASS request is approved in the person's PASS app, a scripted event here
//!   ([`MobileokSimulator::approve_pass`], `POST /_sandbox/mobileok/approve {"phone": …}`, or
//!   [`MobileokSimConfig::pass_auto_approve`]); a confirm before that answers `4032` with a new
//!   token and uses no attempt.
//!
//! The window honours `retTransferType`: with `MOKToken` (what bonin asks for) it posts only a
//! single-use `encryptMOKKeyToken`, never the result; with `MOKResult` it hands the sealed result
//! to the browser, so tests can show that such a result is refused.

mod counterpart;
mod keys;

pub use counterpart::{Counterpart, SANDBOX_KEY_PASSWORD};
mod window;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{OsRng, Rng, Timestamp};
use serde_json::{Value, json};

use crate::{InjectedProviderCode, personas::Persona};

pub use window::{WindowDelivery, WindowError};

/// How the simulated mobileOK behaves.
#[derive(Debug, Clone)]
pub struct MobileokSimConfig {
    /// The service id in the key files.
    pub service_id: String,
    /// Registered `siteUrl`s for the 본인확인-API (empty: any).
    pub site_urls: Vec<String>,
    /// Registered return URL prefixes for the 표준창 (empty: any); others get 5028.
    pub return_url_prefixes: Vec<String>,
    /// How long a 표준창 key token can be exchanged.
    pub key_token_ttl: Duration,
    /// Spell the result's site field `siteId` instead of `siteID`.
    pub site_id_lower_camel: bool,
    /// Serve `/agent/v1/token/get` besides `/agent/v2/token/get`. Dream's current 본인확인-API guide
    /// lists only v2; the v1.0.x vendor libraries call v1. Off models a service that kept only v2.
    pub v1_token_endpoint: bool,
    /// Approve every PASS request at once, as if the person had already tapped the push.
    pub pass_auto_approve: bool,
}

impl Default for MobileokSimConfig {
    fn default() -> Self {
        Self {
            service_id: "a1b2c3d4-sand-box0-mobi-leok00000001".into(),
            site_urls: Vec::new(),
            return_url_prefixes: Vec::new(),
            key_token_ttl: Duration::from_secs(30),
            site_id_lower_camel: false,
            v1_token_endpoint: true,
            pass_auto_approve: false,
        }
    }
}

/// Test-only changes to the next results.
#[derive(Debug, Clone, Default)]
pub struct ResultTweaks {
    /// Makes `issueDate` this many seconds old.
    pub issue_age_secs: u64,
    /// Corrupts the integrity hash of the sealed result.
    pub break_hash: bool,
    /// Reports another `clientTxId`.
    pub client_tx_id: Option<String>,
    /// Sets these fields of the result (after every other tweak), for results of odd shapes.
    pub fields: serde_json::Map<String, Value>,
}

const TOKEN_LIFETIME: Duration = Duration::from_secs(600);
const AUTH_WINDOW: Duration = Duration::from_secs(420);
const MAX_ATTEMPTS: u8 = 3;

#[derive(Clone)]
struct Subscriber {
    persona: &'static Persona,
    auth_type: String,
    service_type: String,
    deadline: Timestamp,
    attempts: u8,
    /// PASS only: whether the person approved the push.
    approved: bool,
}

/// A one-time code the simulator "sent".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The number it went to.
    pub phone: String,
    /// The code.
    pub code: String,
    /// `SMS` or `LMS`, as `serviceType` chose.
    pub channel: &'static str,
}

#[derive(Clone)]
struct TokenRecord {
    client_tx_id: String,
    created_at: Timestamp,
    subscriber: Option<Subscriber>,
}

#[derive(Default)]
struct SimState {
    used_client_tx_ids: HashSet<String>,
    tokens: HashMap<String, TokenRecord>,
    key_tokens: HashMap<String, (String, Timestamp)>,
    windows: HashMap<String, window::OpenWindow>,
    sent: Vec<SentMessage>,
    tweaks: ResultTweaks,
}

/// Request counters.
#[derive(Debug, Default)]
pub struct MobileokCounters {
    /// token/get calls.
    pub token_requests: AtomicU64,
    /// OTPs "sent".
    pub codes_sent: AtomicU64,
    /// result/request calls.
    pub result_requests: AtomicU64,
}

/// The simulator. Clone shares state.
#[derive(Clone)]
pub struct MobileokSimulator {
    config: Arc<MobileokSimConfig>,
    client: Arc<keys::Pair>,
    server: Arc<keys::Pair>,
    state: Arc<Mutex<SimState>>,
    counters: Arc<MobileokCounters>,
}

impl std::fmt::Debug for MobileokSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobileokSimulator").field("counters", &self.counters).finish_non_exhaustive()
    }
}

/// An opaque token. Always contains a `+`, so every run exercises the URL-encoding pitfalls.
fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let _ = OsRng.fill_bytes(&mut buf);
    let text = STANDARD.encode(buf);
    format!("{}+{}", &text[..text.len() / 2], &text[text.len() / 2..])
}

fn now() -> Timestamp {
    time::OffsetDateTime::now_utc()
}

fn answer(code: &str, message: &str) -> Response {
    Json(json!({"resultCode": code, "resultMsg": message})).into_response()
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl MobileokSimulator {
    /// A simulator with fresh key pairs. Generating RSA keys takes a moment; share one per test run
    /// where you can.
    pub fn new(config: MobileokSimConfig) -> Option<Self> {
        Some(Self {
            config: Arc::new(config),
            client: Arc::new(keys::Pair::generate()?),
            server: Arc::new(keys::Pair::generate()?),
            state: Arc::default(),
            counters: Arc::default(),
        })
    }

    /// A simulator with the same key pairs (so existing key files still fit) but fresh state and
    /// `config`.
    pub fn fresh(&self, config: MobileokSimConfig) -> Self {
        Self {
            config: Arc::new(config),
            client: self.client.clone(),
            server: self.server.clone(),
            state: Arc::default(),
            counters: Arc::default(),
        }
    }

    /// A password-protected key file: Gen-1 (`ServiceId`, `ClientPrivateKey`) or, with
    /// `with_server_public_key`, Gen-2 (plus `ServerPublicKey`).
    pub fn key_file(&self, password: &str, with_server_public_key: bool) -> Vec<u8> {
        keys::key_file(&self.config.service_id, &self.client, with_server_public_key.then_some(&*self.server), password)
            .unwrap_or_default()
    }

    /// An `encryptMOKResult` as anyone can build it, for hostile tests: the result `persona` (a
    /// persona key) would get for `client_tx_id`, sealed to `client_public_key` (SPKI DER) the way
    /// mobileOK seals results. Sealing needs nothing but the public key, which is no secret (with
    /// Gen-1 request crypto it can even be recovered from two `encryptReqClientInfo` values), so
    /// such a value proves nothing about who made it. `None` for an unknown persona or a key that is
    /// not RSA.
    pub fn forge_result(&self, client_public_key: &[u8], client_tx_id: &str, persona: &str) -> Option<String> {
        let persona = crate::personas::by_key(persona)?;
        let result = self.result_json(client_tx_id, persona, "SMS", "telcoAuth");
        keys::seal_to(client_public_key, result.to_string().as_bytes(), false)
    }

    /// Counters.
    pub fn counters(&self) -> &MobileokCounters {
        &self.counters
    }

    /// The codes "sent" so far, as (phone, code).
    pub fn sent_codes(&self) -> Vec<(String, String)> {
        self.lock().sent.iter().map(|m| (m.phone.clone(), m.code.clone())).collect()
    }

    /// The codes "sent" so far, with the channel each went by.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.lock().sent.clone()
    }

    /// The person with this phone number approves their pending PASS requests in the PASS app.
    /// Returns how many were pending.
    pub fn approve_pass(&self, phone: &str) -> usize {
        let mut state = self.lock();
        let mut approved = 0;
        for subscriber in state.tokens.values_mut().filter_map(|t| t.subscriber.as_mut()) {
            if subscriber.auth_type == "PASS" && !subscriber.approved && subscriber.persona.phone == phone {
                subscriber.approved = true;
                approved += 1;
            }
        }
        approved
    }

    fn record_sent(&self, persona: &Persona, service_type: &str) {
        let channel = if service_type == "telcoAuth-LMS" { "LMS" } else { "SMS" };
        self.lock().sent.push(SentMessage { phone: persona.phone.to_owned(), code: persona.otp.to_owned(), channel });
        self.counters.codes_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Applies `tweaks` to every result from now on.
    pub fn set_tweaks(&self, tweaks: ResultTweaks) {
        self.lock().tweaks = tweaks;
    }

    /// Makes every token and deadline `by` older.
    pub fn age(&self, by: Duration) {
        let mut state = self.lock();
        for token in state.tokens.values_mut() {
            token.created_at -= by;
            if let Some(s) = token.subscriber.as_mut() {
                s.deadline -= by;
            }
        }
        for (_, created) in state.key_tokens.values_mut() {
            *created -= by;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The routes.
    pub fn router(&self) -> Router {
        let router = if self.config.v1_token_endpoint {
            Router::new().route("/agent/v1/token/get", post(token_v1))
        } else {
            Router::new()
        };
        router
            .route("/agent/v2/token/get", post(token_v2))
            .route("/agent/v1/auth/request", post(auth_request))
            .route("/agent/v1/auth/resend", post(auth_resend))
            .route("/agent/v1/confirm/request", post(confirm_request))
            .route("/resources/js/index.js", get(window::sdk_script))
            .route(window::WINDOW_PATH, post(window::open))
            .route(window::AUTHENTICATE_PATH, post(window::authenticate))
            .route("/gui/service/v1/result/request", post(window::result_request))
            .route("/_sandbox/mobileok/complete", post(window::complete_api))
            .route("/_sandbox/mobileok/approve", post(approve_api))
            .with_state(self.clone())
    }

    /// Checks `encryptReqClientInfo` and returns its `clientTxId`; the id may not have been used
    /// before. `generation` is the one the request declares (the 표준창's `encryptVersion`); `None`
    /// (token/get, which declares none) reads whichever the value is.
    fn verify_client_info(
        &self,
        encrypted: &str,
        generation: Option<u8>,
    ) -> Result<String, (&'static str, &'static str)> {
        let generation =
            generation.unwrap_or_else(|| if keys::recover_gen1(&self.client, encrypted).is_some() { 1 } else { 2 });
        let client_tx_id = match generation {
            1 => {
                let message =
                    keys::recover_gen1(&self.client, encrypted).ok_or(("4001", "encryptReqClientInfo 검증 실패"))?;
                let mut parts = message.split('|');
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some("V2"), Some(id), Some(time), None) if time.len() == 14 => id.to_owned(),
                    _ => return Err(("4001", "encryptReqClientInfo 형식 오류")),
                }
            }
            _ => {
                let bytes =
                    STANDARD.decode(encrypted.trim()).map_err(|_| ("4001", "encryptReqClientInfo 형식 오류"))?;
                let plain =
                    keys::oaep_decrypt(&self.server, &bytes).ok_or(("4001", "encryptReqClientInfo 검증 실패"))?;
                let json: Value =
                    serde_json::from_slice(&plain).map_err(|_| ("4001", "encryptReqClientInfo 형식 오류"))?;
                match (text(&json, "version").as_deref(), text(&json, "clientTxId"), text(&json, "requestTime")) {
                    (Some("V2"), Some(id), Some(time)) if time.len() == 14 => id,
                    _ => return Err(("4001", "encryptReqClientInfo 형식 오류")),
                }
            }
        };
        if !(20..=40).contains(&client_tx_id.len()) {
            return Err(("4000", "clientTxId 길이 오류"));
        }
        if !self.lock().used_client_tx_ids.insert(client_tx_id.clone()) {
            return Err(("4004", "이미 사용된 clientTxId 입니다."));
        }
        Ok(client_tx_id)
    }

    fn issue_token(&self, record: TokenRecord) -> String {
        let token = random_token(24);
        self.lock().tokens.insert(token.clone(), record);
        token
    }

    /// Takes a live token (single use) of the right stage: before auth/request (`after_auth` false)
    /// or after it.
    fn take_token(&self, body: &Value, after_auth: bool) -> Result<TokenRecord, (&'static str, &'static str)> {
        const INVALID: (&str, &str) = ("4010", "유효하지 않은 토큰입니다.");
        let token = text(body, "encryptMOKToken").unwrap_or_default();
        let record = self.lock().tokens.remove(&token).ok_or(INVALID)?;
        let now = now();
        let past_auth_window = record.subscriber.as_ref().is_some_and(|s| now >= s.deadline);
        if now >= record.created_at + TOKEN_LIFETIME || past_auth_window {
            return Err(("4011", "토큰 유효시간이 지났습니다."));
        }
        if record.subscriber.is_some() != after_auth {
            return Err(INVALID);
        }
        Ok(record)
    }

    fn result_json(&self, client_tx_id: &str, persona: &Persona, auth_type: &str, service_type: &str) -> Value {
        let tweaks = self.lock().tweaks.clone();
        let issued = now() - Duration::from_secs(tweaks.issue_age_secs);
        let kst = issued.to_offset(bonin_domain::KST);
        let stamp = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            kst.year(),
            u8::from(kst.month()),
            kst.day(),
            kst.hour(),
            kst.minute(),
            kst.second()
        );
        let site_field = if self.config.site_id_lower_camel { "siteId" } else { "siteID" };
        let mut result = json!({
            site_field: self.config.service_id,
            "clientTxId": tweaks.client_tx_id.unwrap_or_else(|| client_tx_id.to_owned()),
            "txId": random_token(12).replace(['+', '/', '='], "A"),
            "providerId": window::provider_id(persona),
            "serviceType": service_type,
            "ci": persona.ci,
            "di": persona.di,
            "userName": persona.name,
            "userPhone": persona.phone,
            "userBirthday": persona.birth_date,
            "userGender": if persona.gender == bonin_domain::Gender::Male { "1" } else { "2" },
            "userNation": if persona.nationality == bonin_domain::Nationality::Foreign { "1" } else { "0" },
            "reqAuthType": auth_type,
            "reqDate": stamp,
            "issuer": "bonin-sandbox",
            "issueDate": stamp,
        });
        if let Some(object) = result.as_object_mut() {
            object.extend(tweaks.fields);
        }
        result
    }

    fn seal(&self, result: &Value) -> Option<String> {
        let break_hash = self.lock().tweaks.break_hash;
        keys::seal_result(&self.client, result.to_string().as_bytes(), break_hash)
    }
}

async fn token(sim: MobileokSimulator, code: Option<String>, body: Value) -> Response {
    sim.counters.token_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(code) = code {
        return answer(&code, "injected");
    }
    let (Some(service_id), Some(encrypted)) = (text(&body, "serviceId"), text(&body, "encryptReqClientInfo")) else {
        return answer("4000", "필수값 누락");
    };
    if service_id != sim.config.service_id {
        return answer("4001", "등록되지 않은 서비스입니다.");
    }
    let site_url = text(&body, "siteUrl").unwrap_or_default();
    let registered = sim.config.site_urls.is_empty() || sim.config.site_urls.contains(&site_url);
    if site_url.trim().is_empty() || !registered {
        return answer("4003", "등록되지 않은 사이트입니다.");
    }
    let client_tx_id = match sim.verify_client_info(&encrypted, None) {
        Ok(id) => id,
        Err((code, message)) => return answer(code, message),
    };
    let token = sim.issue_token(TokenRecord { client_tx_id, created_at: now(), subscriber: None });
    Json(json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKToken": token, "publicKey": STANDARD.encode(&sim.server.spki)}))
        .into_response()
}

async fn token_v1(
    State(sim): State<MobileokSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    Json(body): Json<Value>,
) -> Response {
    token(sim, code, body).await
}

async fn token_v2(
    State(sim): State<MobileokSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    Json(body): Json<Value>,
) -> Response {
    token(sim, code, body).await
}

async fn auth_request(
    State(sim): State<MobileokSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    Json(body): Json<Value>,
) -> Response {
    if let Some(code) = code {
        return answer(&code, "injected");
    }
    let record = match sim.take_token(&body, false) {
        Ok(r) => r,
        Err((code, message)) => return answer(code, message),
    };
    let Some(info) = text(&body, "encryptMOKAuthInfo").and_then(|v| keys::open_envelope(&sim.server, &v)) else {
        return answer("4001", "encryptMOKAuthInfo 검증 실패");
    };
    let Ok(info) = serde_json::from_slice::<Value>(&info) else {
        return answer("4000", "encryptMOKAuthInfo 형식 오류");
    };
    // LMS is a serviceType (`telcoAuth-LMS`), not a reqAuthType.
    let auth_type = text(&info, "reqAuthType").unwrap_or_default();
    if !matches!(auth_type.as_str(), "SMS" | "PASS") {
        return answer("4000", "reqAuthType 오류");
    }
    let service_type = text(&info, "serviceType").unwrap_or_default();
    let known_service = match auth_type.as_str() {
        "SMS" => matches!(service_type.as_str(), "telcoAuth" | "telcoAuth-LMS"),
        _ => service_type == "telcoAuth",
    };
    if !known_service {
        return answer("4000", "serviceType 오류");
    }
    let persona = crate::personas::by_phone(&text(&info, "userPhone").unwrap_or_default()).filter(|p| {
        text(&info, "userName").as_deref() == Some(p.name)
            && text(&info, "providerId").as_deref() == Some(window::provider_id(p))
            && (auth_type == "PASS" || text(&info, "userBirthday").as_deref() == Some(p.birth_date))
    });
    let Some(persona) = persona else { return answer("4020", "본인확인 정보가 일치하지 않습니다.") };
    if auth_type != "PASS" {
        sim.record_sent(persona, &service_type);
    }
    let subscriber = Subscriber {
        persona,
        approved: auth_type != "PASS" || sim.config.pass_auto_approve,
        auth_type,
        service_type,
        deadline: now() + AUTH_WINDOW,
        attempts: 0,
    };
    let token = sim.issue_token(TokenRecord { subscriber: Some(subscriber), ..record });
    Json(json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKToken": token})).into_response()
}

async fn auth_resend(
    State(sim): State<MobileokSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    Json(body): Json<Value>,
) -> Response {
    if let Some(code) = code {
        return answer(&code, "injected");
    }
    let record = match sim.take_token(&body, true) {
        Ok(r) => r,
        Err((code, message)) => return answer(code, message),
    };
    if let Some(s) = &record.subscriber
        && s.auth_type != "PASS"
    {
        sim.record_sent(s.persona, &s.service_type);
    }
    let token = sim.issue_token(record);
    Json(json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKToken": token})).into_response()
}

async fn confirm_request(
    State(sim): State<MobileokSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    Json(body): Json<Value>,
) -> Response {
    if let Some(code) = code {
        return answer(&code, "injected");
    }
    let mut record = match sim.take_token(&body, true) {
        Ok(r) => r,
        Err((code, message)) => return answer(code, message),
    };
    let Some(subscriber) = record.subscriber.clone() else {
        return answer("4010", "유효하지 않은 토큰입니다.");
    };
    if !subscriber.approved {
        // The PASS push is not answered yet: nothing is decided and no attempt is used; the new
        // token carries the request on.
        let token = sim.issue_token(record);
        return Json(json!({
            "resultCode": "4032", "resultMsg": "PASS 앱에서 인증이 완료되지 않았습니다.", "encryptMOKToken": token
        }))
        .into_response();
    }
    let accepted = if subscriber.auth_type == "PASS" {
        // Approved in the PASS app (a scripted event).
        true
    } else {
        let code = text(&body, "encryptMOKVerifyInfo")
            .and_then(|v| keys::open_envelope(&sim.server, &v))
            .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok())
            .and_then(|json| text(&json, "authNumber"));
        code.as_deref() == Some(subscriber.persona.otp)
    };
    if !accepted {
        let attempts = subscriber.attempts + 1;
        if attempts >= MAX_ATTEMPTS {
            return answer("4031", "인증번호 입력 횟수를 초과했습니다.");
        }
        record.subscriber = Some(Subscriber { attempts, ..subscriber });
        let token = sim.issue_token(record);
        return Json(
            json!({"resultCode": "4030", "resultMsg": "인증번호가 일치하지 않습니다.", "encryptMOKToken": token}),
        )
        .into_response();
    }
    let result =
        sim.result_json(&record.client_tx_id, subscriber.persona, &subscriber.auth_type, &subscriber.service_type);
    match sim.seal(&result) {
        Some(sealed) => {
            Json(json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKResult": sealed})).into_response()
        }
        None => answer("5000", "내부 오류"),
    }
}

#[derive(serde::Deserialize)]
struct ApproveRequest {
    phone: String,
}

/// `POST /_sandbox/mobileok/approve {"phone": …}`: the person approves their pending PASS requests.
async fn approve_api(State(sim): State<MobileokSimulator>, Json(request): Json<ApproveRequest>) -> Response {
    Json(json!({"approved": sim.approve_pass(&request.phone)})).into_response()
}
