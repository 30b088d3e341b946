//! The eSignon simulator: 1001Q login, 5005Q `startsimple`, `GET /api/v2/workflows/{id}`, 1510Q
//! cancel/dispose/delete and 1429Q remind on `/JEDOC/Common.do`, the signing pages
//! (`/api/{companyId}/sign?token=`, `/mail/sign?token=`), a control endpoint that plays the signers,
//! and Export API callbacks delivered to the URL given at start.
//!
//! Written from `shared/protocols/esignon.md`, independently of the adapter. Business errors come as
//! HTTP 200 with the endpoint's own `result_code`.
//!
//! Signing links. The 5005A `token` is issued for the API member who started the document: its page
//! signs only while that member is the current signer and otherwise only shows the document. Each
//! signer gets a link of their own: by mail or KakaoTalk ([`EsignonSimulator::notifications`]), or,
//! in embed mode (`export_api_info.request_code: "embed"`), as `play_url` in the 5005A answer (the
//! first signer) and in each progress callback (the next one), with no mail sent.
//!
//! What eSignon does not document is configurable: the token lifetime and `expire_date` format,
//! whether a new login invalidates earlier tokens, how a bad token is refused ([`TokenFailure`]),
//! which header the v2 GETs read ([`V2AuthHeader`]), where callbacks carry their authorization and
//! which body shape they use ([`CallbackStyle`]), and the status after a rejection.

mod counterpart;
mod deliver;

pub use counterpart::Counterpart;

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
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{KST, OsRng, Rng, Timestamp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::InjectedProviderCode;

/// The sandbox company.
pub const SANDBOX_COMPANY_ID: &str = "bonin-sandbox";
/// The sandbox member's login email.
pub const SANDBOX_EMAIL: &str = "api@sandbox.bonin.local";
/// The sandbox member's password.
pub const SANDBOX_PASSWORD: &str = "sandbox-esignon-password";
/// The sandbox template (two signers, fields `contract_date` and `agree`).
pub const SANDBOX_TEMPLATE_ID: &str = "170";
/// A sandbox template with one signer (field `agree`).
pub const SANDBOX_ONE_SIGNER_TEMPLATE_ID: &str = "171";

/// How a missing, unknown or expired token is refused (eSignon documents only `94` on 1510Q).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFailure {
    /// HTTP 200 with `result_code` `94`.
    #[default]
    Code94,
    /// HTTP 401.
    Http401,
    /// HTTP 400.
    Http400,
}

/// How `expire_date` is written (its format is undocumented).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireFormat {
    /// `2026-12-23 10:00:00` (KST).
    #[default]
    DateTime,
    /// `2026-12-23T01:00:00Z`.
    Iso,
    /// The documentation's placeholder `{만료일}` (clients must fall back to 30 days).
    Placeholder,
    /// A readable date a day before the login (a server clock or time zone off): the token itself
    /// lives [`EsignonSimConfig::token_ttl`].
    Past,
}

/// Which header the v2 GETs read the token from: their pages say `Authentication`, the README and
/// every other page `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum V2AuthHeader {
    /// Either header (`Authorization` first).
    #[default]
    Either,
    /// `Authorization` only.
    Authorization,
    /// `Authentication` only.
    Authentication,
}

/// How progress callbacks are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallbackStyle {
    /// The legacy envelope `{header: {api_name: "export", …}, body: {wfuid, status, …}}` with the
    /// authorization in the HTTP `Authorization` header.
    #[default]
    Legacy,
    /// The legacy envelope with the authorization only in the JSON `header.authorization` (as the
    /// 5005Q page's sample shows it).
    LegacyJsonHeader,
    /// The flat body of the current docs (`{workflow_id, client_id, status, …}`), with the
    /// authorization in the HTTP `Authorization` header.
    Flat,
}

/// A template: its signing steps and field names.
#[derive(Debug, Clone)]
pub struct SimTemplate {
    /// `doc_id`.
    pub id: String,
    /// Number of signers.
    pub steps: usize,
    /// Field names.
    pub fields: Vec<String>,
}

/// How the simulated eSignon behaves.
#[derive(Debug, Clone)]
pub struct EsignonSimConfig {
    /// The company id.
    pub company_id: String,
    /// Registered for API use (else login answers `95`).
    pub api_registered: bool,
    /// Members: (email, password).
    pub members: Vec<(String, String)>,
    /// Templates.
    pub templates: Vec<SimTemplate>,
    /// Token lifetime.
    pub token_ttl: Duration,
    /// How `expire_date` is written.
    pub expire_format: ExpireFormat,
    /// A new login invalidates the member's earlier tokens.
    pub invalidate_on_relogin: bool,
    /// How a bad token is refused.
    pub token_failure: TokenFailure,
    /// Starts allowed (`13` after that).
    pub max_starts: Option<u64>,
    /// The service period has ended (`12` on start).
    pub service_expired: bool,
    /// Which header the v2 GETs read.
    pub v2_auth_header: V2AuthHeader,
    /// How callbacks are written.
    pub callback_style: CallbackStyle,
    /// The status a workflow takes when a signer rejects it (undocumented beyond "the first signer's
    /// rejection cancels the document").
    pub reject_status: String,
}

impl Default for EsignonSimConfig {
    fn default() -> Self {
        Self {
            company_id: SANDBOX_COMPANY_ID.into(),
            api_registered: true,
            members: vec![(SANDBOX_EMAIL.into(), SANDBOX_PASSWORD.into())],
            templates: vec![
                SimTemplate {
                    id: SANDBOX_TEMPLATE_ID.into(),
                    steps: 2,
                    fields: vec!["contract_date".into(), "agree".into()],
                },
                SimTemplate { id: SANDBOX_ONE_SIGNER_TEMPLATE_ID.into(), steps: 1, fields: vec!["agree".into()] },
            ],
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            expire_format: ExpireFormat::default(),
            invalidate_on_relogin: false,
            token_failure: TokenFailure::default(),
            max_starts: None,
            service_expired: false,
            v2_auth_header: V2AuthHeader::default(),
            callback_style: CallbackStyle::default(),
            reject_status: "Canceled".into(),
        }
    }
}

/// Request counters.
#[derive(Debug, Default)]
pub struct EsignonCounters {
    /// Successful logins.
    pub logins: AtomicU64,
    /// Calls refused for their token.
    pub token_refusals: AtomicU64,
    /// Workflows started.
    pub starts: AtomicU64,
    /// Authenticated calls answered.
    pub calls: AtomicU64,
    /// Callbacks delivered (any HTTP answer).
    pub callbacks_delivered: AtomicU64,
    /// Callbacks that could not be delivered.
    pub callbacks_failed: AtomicU64,
}

impl EsignonCounters {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct TokenRecord {
    email: String,
    expires_at: Timestamp,
}

#[derive(Clone)]
struct Player {
    name: String,
    address: String,
}

#[derive(Clone)]
struct Export {
    url: String,
    api_type: String,
    authorization: String,
    request_code: String,
    /// `link_type: "download"`: completion URLs are download URLs rather than viewer URLs.
    download_links: bool,
}

impl Export {
    fn embed(&self) -> bool {
        self.request_code == "embed"
    }
}

/// What a signing-page token opens.
#[derive(Clone)]
enum Grant {
    /// The 5005A token: the page of the member who started the document.
    Member { workflow: String, email: String },
    /// One signer's own link, for one step (1-based).
    Step { workflow: String, step: usize },
}

impl Grant {
    fn workflow(&self) -> &str {
        match self {
            Self::Member { workflow, .. } | Self::Step { workflow, .. } => workflow,
        }
    }
}

/// A mail or KakaoTalk eSignon sent a signer (never in embed mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The workflow.
    pub workflow_id: String,
    /// The step the signer signs (1-based).
    pub step: usize,
    /// The address as given at start (an email or a mobile number).
    pub address: String,
    /// The signer's own link.
    pub url: String,
}

#[derive(Clone)]
struct Workflow {
    id: String,
    name: String,
    template: String,
    starter: String,
    status: String,
    /// Where the simulator's pages are (`http://<host>` of the start request).
    base: String,
    players: Vec<Player>,
    signed: usize,
    history: Vec<(String, String, Timestamp)>,
    export: Option<Export>,
    created_at: Timestamp,
    expiry: Option<String>,
}

#[derive(Default)]
struct SimState {
    offset: Duration,
    tokens: HashMap<String, TokenRecord>,
    workflows: HashMap<String, Workflow>,
    next_id: u64,
    /// (workflow id, status) of every delivered callback, with the receiver's HTTP status.
    deliveries: Vec<(String, String, u16)>,
    /// Every callback body sent or attempted, in order.
    callbacks: Vec<Value>,
    /// Signing-page tokens.
    grants: HashMap<String, Grant>,
    /// Mails and KakaoTalks sent to signers.
    notifications: Vec<Notification>,
    /// Starts still to be made and then answered HTTP 400.
    fail_after_processing: u32,
}

/// The simulator. Clone shares state.
#[derive(Clone)]
pub struct EsignonSimulator {
    config: Arc<EsignonSimConfig>,
    state: Arc<Mutex<SimState>>,
    counters: Arc<EsignonCounters>,
}

impl std::fmt::Debug for EsignonSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsignonSimulator").field("counters", &self.counters).finish_non_exhaustive()
    }
}

fn envelope(response_code: &str, result_code: &str, message: &str, body: Value) -> Response {
    Json(json!({
        "header": {"response_code": response_code, "result_code": result_code, "result_msg": message},
        "body": body,
    }))
    .into_response()
}

/// An opaque token like eSignon's: about 150 Base64 characters with `+`, `/` and `=`.
fn opaque_token() -> String {
    let mut bytes = [0u8; 110];
    let _ = OsRng.fill_bytes(&mut bytes);
    let text = STANDARD.encode(bytes);
    format!("{}+/{}=", &text[..70], &text[70..146])
}

fn stamp(at: Timestamp) -> String {
    let kst = at.to_offset(KST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        kst.year(),
        u8::from(kst.month()),
        kst.day(),
        kst.hour(),
        kst.minute(),
        kst.second()
    )
}

fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key) {
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl Workflow {
    fn json(&self) -> Value {
        let history: Vec<Value> = self
            .history
            .iter()
            .map(|(code, action, at)| json!({"step_code": code, "action_id": action, "confirm_date": stamp(*at), "name": "", "comment": ""}))
            .collect();
        let complete = self.status == "Complete";
        let base = &self.base;
        json!({
            "workflow_id": self.id,
            "workflow_name": self.name,
            "workflow_status": self.status,
            "create_date": stamp(self.created_at),
            "last_modify_date": self.history.last().map(|(_, _, at)| stamp(*at)),
            "expiry_date": self.expiry,
            "creator_email": self.starter,
            "biz_id": "0",
            "action_history_list": history,
            "current_action_id": (self.signed + 1).min(self.players.len()).to_string(),
            "total_action_count": self.players.len().to_string(),
            "view_url": format!("{base}/viewer?workflow={}", self.id),
            "download_url": if complete { Some(format!("{base}/files/{}.pdf", self.id)) } else { None },
            "certificate_url": if complete { Some(format!("{base}/files/{}-certificate.pdf", self.id)) } else { None },
            "owner_list": self.players.iter().enumerate().map(|(i, p)| json!({"action_id": (i + 1).to_string(), "turn_yn": if i == self.signed { "Y" } else { "N" }, "name": p.name, "email": p.address})).collect::<Vec<_>>(),
        })
    }

    fn embed(&self) -> bool {
        self.export.as_ref().is_some_and(Export::embed)
    }

    /// Whether the holder of `grant` may sign now.
    fn may_sign(&self, grant: &Grant) -> bool {
        self.status == "Playing"
            && match grant {
                Grant::Member { email, .. } => {
                    self.players.get(self.signed).is_some_and(|p| p.address.eq_ignore_ascii_case(email))
                }
                Grant::Step { step, .. } => self.signed + 1 == *step,
            }
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl EsignonSimulator {
    /// A simulator.
    pub fn new(config: EsignonSimConfig) -> Self {
        Self { config: Arc::new(config), state: Arc::default(), counters: Arc::default() }
    }

    /// The configuration.
    pub fn config(&self) -> &EsignonSimConfig {
        &self.config
    }

    /// Counters.
    pub fn counters(&self) -> &EsignonCounters {
        &self.counters
    }

    /// Moves the simulator's clock forward (token expiry).
    pub fn advance(&self, by: Duration) {
        self.lock().offset += by;
    }

    /// Forgets every issued token, as if eSignon had revoked them.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The next `n` starts are made (the workflow exists, its first signer is told) and then answered
    /// HTTP 400 "실패", as eSignon documents for a failed call.
    pub fn fail_starts_after_processing(&self, n: u32) {
        self.lock().fail_after_processing = n;
    }

    /// The callbacks delivered so far: (workflow id, status, the receiver's HTTP status).
    pub fn deliveries(&self) -> Vec<(String, String, u16)> {
        self.lock().deliveries.clone()
    }

    /// Every callback body sent or attempted, in order (delivered or not).
    pub fn callbacks(&self) -> Vec<Value> {
        self.lock().callbacks.clone()
    }

    /// The mails and KakaoTalks sent to signers, each with the signer's own link.
    pub fn notifications(&self) -> Vec<Notification> {
        self.lock().notifications.clone()
    }

    /// The simulator's current time.
    pub fn now(&self) -> Timestamp {
        time::OffsetDateTime::now_utc() + self.lock().offset
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/{company_id}/login", post(login))
            .route("/api/{company_id}/startsimple", post(start))
            .route("/api/v2/workflows/{workflow_id}", get(workflow))
            .route("/JEDOC/Common.do", post(common))
            .route("/_sandbox/esignon/sign", post(sign_api))
            .route("/api/{company_id}/sign", get(signing_page).post(signing_page_submit))
            .route("/mail/sign", get(signing_page).post(signing_page_submit))
            .with_state(self.clone())
    }

    /// The member a request's token belongs to, or the refusal. The token is read from the first of
    /// `names` present.
    fn authorize(&self, headers: &HeaderMap, response_code: &str, names: &[&str]) -> Result<String, Box<Response>> {
        let header = names.iter().find_map(|name| headers.get(*name)).and_then(|v| v.to_str().ok()).unwrap_or_default();
        // Exactly `esignon`, one space, the token.
        let token = header.strip_prefix("esignon ").filter(|t| !t.is_empty() && !t.starts_with(' '));
        let now = self.now();
        let member =
            token.and_then(|t| self.lock().tokens.get(t).filter(|r| now < r.expires_at).map(|r| r.email.clone()));
        match member {
            Some(email) => {
                self.counters.calls.fetch_add(1, Ordering::SeqCst);
                Ok(email)
            }
            None => {
                self.counters.token_refusals.fetch_add(1, Ordering::SeqCst);
                let message = "인증키가 올바르지 않습니다.";
                Err(Box::new(match self.config.token_failure {
                    TokenFailure::Code94 => envelope(response_code, "94", message, Value::Null),
                    TokenFailure::Http401 => (StatusCode::UNAUTHORIZED, message).into_response(),
                    TokenFailure::Http400 => (StatusCode::BAD_REQUEST, "실패").into_response(),
                }))
            }
        }
    }

    /// Gives the signer of `step` their own link: by mail or KakaoTalk, or, in embed mode, returned
    /// for the caller to put in an answer or a callback.
    fn hand_out(
        &self,
        grants: &mut HashMap<String, Grant>,
        notifications: &mut Vec<Notification>,
        workflow: &Workflow,
        step: usize,
    ) -> Option<String> {
        let token = opaque_token();
        grants.insert(token.clone(), Grant::Step { workflow: workflow.id.clone(), step });
        if workflow.embed() {
            return Some(format!("{}/api/{}/sign?token={}", workflow.base, self.config.company_id, encode(&token)));
        }
        let address = workflow.players.get(step - 1).map(|p| p.address.clone()).unwrap_or_default();
        let url = format!("{}/mail/sign?token={}", workflow.base, encode(&token));
        notifications.push(Notification { workflow_id: workflow.id.clone(), step, address, url });
        None
    }

    /// Signs the next step of a workflow (`all`: every remaining step) as its signers would.
    pub fn sign(&self, workflow_id: &str, all: bool) -> Result<&'static str, &'static str> {
        let now = self.now();
        let mut callbacks = Vec::new();
        let done = {
            let mut guard = self.lock();
            let SimState { workflows, grants, notifications, .. } = &mut *guard;
            let workflow = workflows.get_mut(workflow_id).ok_or("no such workflow")?;
            if workflow.status != "Playing" {
                return Err("the workflow is not in progress");
            }
            loop {
                workflow.signed += 1;
                let action = workflow.signed.to_string();
                workflow.history.push(("SIGN_COMPLETE".into(), action.clone(), now));
                let done = workflow.signed >= workflow.players.len();
                let mut extras = json!({});
                if done {
                    workflow.status = "Complete".into();
                    workflow.history.push(("WORKFLOW_COMPLETE".into(), action.clone(), now));
                    if workflow.embed() {
                        let download = workflow.export.as_ref().is_some_and(|e| e.download_links);
                        let (base, id) = (&workflow.base, &workflow.id);
                        extras = if download {
                            json!({"download_url": format!("{base}/files/{id}.pdf"), "cert_url": format!("{base}/files/{id}-certificate.pdf")})
                        } else {
                            json!({"download_url": format!("{base}/viewer?workflow={id}"), "cert_url": format!("{base}/viewer?workflow={id}&certificate=1")})
                        };
                        extras["user_name"] = json!(workflow.players[workflow.signed - 1].name);
                    }
                } else {
                    let next = workflow.signed + 1;
                    if let Some(play_url) = self.hand_out(grants, notifications, workflow, next) {
                        let (current, following) =
                            (&workflow.players[workflow.signed - 1], &workflow.players[next - 1]);
                        extras = json!({"play_url": play_url, "next_play_user": following.address,
                            "next_user_name": following.name, "user_name": current.name});
                    }
                }
                if let Some(export) = &workflow.export
                    && (export.api_type == "ALL" || done)
                {
                    callbacks.push((export.clone(), self.callback_body(workflow, &action, "CF", now, extras)));
                }
                if done || !all {
                    break done;
                }
            }
        };
        for (export, body) in callbacks {
            self.deliver(export, body);
        }
        Ok(if done { "Complete" } else { "Playing" })
    }

    /// The current signer rejects the workflow (`RT`): it takes [`EsignonSimConfig::reject_status`].
    pub fn reject(&self, workflow_id: &str) -> Result<String, &'static str> {
        let now = self.now();
        let (status, callback) = {
            let mut state = self.lock();
            let workflow = state.workflows.get_mut(workflow_id).ok_or("no such workflow")?;
            if workflow.status != "Playing" {
                return Err("the workflow is not in progress");
            }
            let action = (workflow.signed + 1).to_string();
            workflow.history.push(("SIGN_RETURN".into(), action.clone(), now));
            workflow.history.push(("WORKFLOW_REJECT".into(), action.clone(), now));
            workflow.status.clone_from(&self.config.reject_status);
            let callback = workflow
                .export
                .clone()
                .map(|export| (export, self.callback_body(workflow, &action, "RT", now, json!({}))));
            (workflow.status.clone(), callback)
        };
        if let Some((export, body)) = callback {
            self.deliver(export, body);
        }
        Ok(status)
    }

    /// A callback body in the configured style (`workdatetime` in UTC, like `2020-01-31 04:23:28.0`),
    /// with `extras` (embed mode's links) added.
    fn callback_body(&self, workflow: &Workflow, action: &str, work_type: &str, at: Timestamp, extras: Value) -> Value {
        let utc = at.to_offset(time::UtcOffset::UTC);
        let when = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.0",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second()
        );
        let request_code = workflow.export.as_ref().map(|e| e.request_code.clone()).unwrap_or_default();
        let actor = workflow.players.get(action.parse::<usize>().unwrap_or(1).saturating_sub(1));
        let mut body = json!({
            "wfluid": "0", "clientid": "", "processid": action, "requestid": request_code, "actionid": action,
            "workdatetime": when, "worktype": work_type, "wfuid": workflow.id,
            "useremail": actor.map_or_else(|| workflow.starter.clone(), |p| p.address.clone()), "opinion": "",
            "status": workflow.status,
        });
        if let (Some(body), Some(extras)) = (body.as_object_mut(), extras.as_object()) {
            body.extend(extras.clone());
        }
        match self.config.callback_style {
            CallbackStyle::Legacy => json!({
                "header": {"api_name": "export", "session_id": "S1001", "request_code": request_code},
                "body": body,
            }),
            CallbackStyle::LegacyJsonHeader => {
                let authorization = workflow.export.as_ref().map(|e| e.authorization.clone()).unwrap_or_default();
                json!({
                    "header": {"api_name": "export", "session_id": "S1001", "request_code": request_code, "authorization": authorization},
                    "body": body,
                })
            }
            CallbackStyle::Flat => {
                let mut flat = body;
                if let Some(map) = flat.as_object_mut() {
                    map.remove("wfuid");
                    map.remove("clientid");
                    map.insert(
                        "workflow_id".into(),
                        workflow.id.parse::<u64>().map_or_else(|_| json!(workflow.id), |n| json!(n)),
                    );
                    map.insert("client_id".into(), json!("eSignon API"));
                }
                flat
            }
        }
    }

    fn deliver(&self, export: Export, body: Value) {
        self.lock().callbacks.push(body.clone());
        // The JSON-header style carries the authorization in the body only.
        let authorization = match self.config.callback_style {
            CallbackStyle::LegacyJsonHeader => None,
            CallbackStyle::Legacy | CallbackStyle::Flat => Some(export.authorization.clone()),
        };
        let sim = self.clone();
        tokio::spawn(async move {
            let (workflow, status) = match body.get("body") {
                Some(inner) => (text(inner, "wfuid"), text(inner, "status")),
                None => (text(&body, "workflow_id"), text(&body, "status")),
            };
            match deliver::post(&export.url, authorization.as_deref(), &body.to_string()).await {
                Ok(code) => {
                    sim.counters.callbacks_delivered.fetch_add(1, Ordering::SeqCst);
                    sim.lock().deliveries.push((workflow.unwrap_or_default(), status.unwrap_or_default(), code));
                }
                Err(error) => {
                    sim.counters.callbacks_failed.fetch_add(1, Ordering::SeqCst);
                    tracing::debug!(%error, "esignon simulator: callback not delivered");
                }
            }
        });
    }
}

fn parse(body: &Bytes) -> Option<Value> {
    serde_json::from_slice::<Value>(body).ok().filter(|v| v.get("body").is_some_and(Value::is_object))
}

async fn login(
    State(sim): State<EsignonSimulator>,
    Path(company_id): Path<String>,
    InjectedProviderCode(injected): InjectedProviderCode,
    body: Bytes,
) -> Response {
    if let Some(code) = injected {
        return envelope("1001A", &code, "injected", Value::Null);
    }
    let Some(request) = parse(&body) else {
        return envelope("1001A", "12", "요청 본문을 해석할 수 없습니다.", Value::Null);
    };
    if text(&request["header"], "request_code").as_deref() != Some("1001Q") {
        return envelope("1001A", "99", "request_code 가 올바르지 않습니다.", Value::Null);
    }
    if company_id != sim.config.company_id || !sim.config.api_registered {
        return envelope("1001A", "95", "API 사용이 허가되지 않은 회사입니다.", Value::Null);
    }
    let email = text(&request["body"], "memb_email").unwrap_or_default();
    let password = text(&request["body"], "memb_pwd").unwrap_or_default();
    if !sim.config.members.iter().any(|(e, p)| *e == email && *p == password) {
        return envelope("1001A", "10", "로그인 정보가 올바르지 않습니다.", Value::Null);
    }
    let now = sim.now();
    let expires_at = now + sim.config.token_ttl;
    let token = opaque_token();
    {
        let mut state = sim.lock();
        if sim.config.invalidate_on_relogin {
            state.tokens.retain(|_, r| r.email != email);
        }
        state.tokens.insert(token.clone(), TokenRecord { email: email.clone(), expires_at });
    }
    sim.counters.logins.fetch_add(1, Ordering::SeqCst);
    let expire_date = match sim.config.expire_format {
        ExpireFormat::DateTime => stamp(expires_at),
        ExpireFormat::Iso => expires_at
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        ExpireFormat::Placeholder => "{만료일}".into(),
        ExpireFormat::Past => stamp(now - Duration::from_secs(24 * 3600)),
    };
    envelope(
        "1001A",
        "00",
        "성공",
        json!({"access_token": token, "comp_id": company_id, "device_id": format!("api-{}", sim.lock().tokens.len()), "expire_date": expire_date, "memb_email": email}),
    )
}

/// A checked start: the template, the signers, the deadline.
type Checked = (SimTemplate, Vec<Player>, Option<String>);

fn check_start(
    sim: &EsignonSimulator,
    body: &Value,
    today: time::Date,
) -> Result<Checked, (&'static str, &'static str)> {
    let invalid = |field: &'static str| ("-1", field);
    let name = text(body, "workflow_name").ok_or(invalid("workflow_name 값이 올바르지 않습니다."))?;
    if name.chars().count() > 128 || name.contains(['\'', '"', '\\', '/', ':', '|', '<', '>', '.', '?']) {
        return Err(invalid("workflow_name 값이 올바르지 않습니다."));
    }
    let template = text(body, "doc_id")
        .and_then(|id| sim.config.templates.iter().find(|t| t.id == id).cloned())
        .ok_or(invalid("doc_id 값이 올바르지 않습니다."))?;
    let starter = text(body, "memb_email").unwrap_or_default();
    if !sim.config.members.iter().any(|(e, _)| *e == starter) {
        return Err(invalid("memb_email 값이 올바르지 않습니다."));
    }
    let players: Vec<Player> = body
        .get("player_list")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .enumerate()
                .filter(|(i, p)| text(p, "field_owner") == Some((i + 1).to_string()))
                .filter_map(|(_, p)| Some(Player { name: text(p, "name")?, address: text(p, "email")? }))
                .collect()
        })
        .unwrap_or_default();
    if players.len() != template.steps || body["player_list"].as_array().map(Vec::len) != Some(template.steps) {
        return Err(invalid("player_list 값이 올바르지 않습니다."));
    }
    if let Some(fields) = body.get("field_list").and_then(Value::as_array)
        && fields.iter().any(|f| text(f, "field_name").is_none_or(|n| !template.fields.contains(&n)))
    {
        return Err(invalid("field_list 값이 올바르지 않습니다."));
    }
    let expiry = match text(body, "expireddate") {
        None => None,
        Some(date) => {
            let parsed = time::Date::parse(&date, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| ("19", "expireddate 형식이 올바르지 않습니다. (YYYY-MM-DD)"))?;
            if parsed < today {
                return Err(("20", "마감일이 지난 날짜입니다."));
            }
            Some(date)
        }
    };
    Ok((template, players, expiry))
}

async fn start(
    State(sim): State<EsignonSimulator>,
    Path(company_id): Path<String>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let starter = match sim.authorize(&headers, "5005A", &["authorization"]) {
        Ok(member) => member,
        Err(refusal) => return *refusal,
    };
    if let Some(code) = injected {
        return envelope("5005A", &code, "injected", Value::Null);
    }
    let Some(request) = parse(&body) else {
        return envelope("5005A", "11", "요청 본문을 해석할 수 없습니다.", Value::Null);
    };
    if company_id != sim.config.company_id {
        return envelope("5005A", "10", "실패", Value::Null);
    }
    if sim.config.service_expired {
        return envelope("5005A", "12", "서비스 기간이 만료되었습니다.", Value::Null);
    }
    if sim.config.max_starts.is_some_and(|max| EsignonCounters::get(&sim.counters.starts) >= max) {
        return envelope("5005A", "13", "사용 건수를 초과했습니다.", Value::Null);
    }
    let now = sim.now();
    let body = &request["body"];
    let (template, players, expiry) = match check_start(&sim, body, now.to_offset(KST).date()) {
        Ok(checked) => checked,
        Err((code, message)) => return envelope("5005A", code, message, Value::Null),
    };
    let export = body.get("export_api_info").and_then(|e| {
        Some(Export {
            url: text(e, "url")?,
            api_type: text(e, "api_type").unwrap_or_else(|| "ALL".into()),
            authorization: text(e, "authorization").unwrap_or_default(),
            request_code: text(e, "request_code").unwrap_or_default(),
            download_links: text(e, "link_type").as_deref() == Some("download"),
        })
    });
    // The pages are served where the request came in.
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    let (workflow, member_token, play_url, failed) = {
        let mut guard = sim.lock();
        let state = &mut *guard;
        state.next_id += 1;
        let id = (12_583 + state.next_id).to_string();
        let workflow = Workflow {
            id: id.clone(),
            name: text(body, "workflow_name").unwrap_or_default(),
            template: template.id,
            starter: starter.clone(),
            status: "Playing".into(),
            base: format!("http://{host}"),
            players,
            signed: 0,
            history: vec![("WORKFLOW_START".into(), "1".into(), now), ("SIGN_REQ".into(), "1".into(), now)],
            export,
            created_at: now,
            expiry,
        };
        // The 5005A token is the starting member's own page.
        let member_token = opaque_token();
        state.grants.insert(member_token.clone(), Grant::Member { workflow: id.clone(), email: starter.clone() });
        let play_url = sim.hand_out(&mut state.grants, &mut state.notifications, &workflow, 1);
        state.workflows.insert(id, workflow.clone());
        let failed = state.fail_after_processing > 0;
        state.fail_after_processing = state.fail_after_processing.saturating_sub(1);
        (workflow, member_token, play_url, failed)
    };
    sim.counters.starts.fetch_add(1, Ordering::SeqCst);
    if let Some(export) = workflow.export.clone() {
        sim.deliver(export, sim.callback_body(&workflow, "1", "", now, json!({})));
    }
    if failed {
        return (StatusCode::BAD_REQUEST, "실패").into_response();
    }
    let mut answer = json!({"comp_id": company_id, "biz_id": "0", "memb_email": starter, "workflow_id": workflow.id,
        "workflow_name": workflow.name, "token": member_token, "lang": "ko", "doc_id": workflow.template});
    if let Some(play_url) = play_url {
        answer["play_url"] = json!(play_url);
    }
    envelope("5005A", "00", "성공", answer)
}

async fn workflow(
    State(sim): State<EsignonSimulator>,
    Path(workflow_id): Path<String>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "/api/v2/workflows/:workflowId";
    let names: &[&str] = match sim.config.v2_auth_header {
        V2AuthHeader::Either => &["authorization", "authentication"],
        V2AuthHeader::Authorization => &["authorization"],
        V2AuthHeader::Authentication => &["authentication"],
    };
    if let Err(refusal) = sim.authorize(&headers, ROUTE, names) {
        return *refusal;
    }
    if let Some(code) = injected {
        return envelope(ROUTE, &code, "injected", Value::Null);
    }
    let found = sim.lock().workflows.get(&workflow_id).cloned();
    match found {
        Some(workflow) => envelope(ROUTE, "00", "성공", workflow.json()),
        None => envelope(ROUTE, "10", "문서 정보 조회가 실패했습니다. id를 확인하세요", Value::Null),
    }
}

async fn common(
    State(sim): State<EsignonSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let request_code = text(&request["header"], "request_code").unwrap_or_default();
    let response_code = request_code.replace('Q', "A");
    if let Err(refusal) = sim.authorize(&headers, &response_code, &["authorization"]) {
        return *refusal;
    }
    if let Some(code) = injected {
        return envelope(&response_code, &code, "injected", Value::Null);
    }
    match request_code.as_str() {
        "1510Q" => cancel(&sim, &request),
        "1429Q" => remind(&sim, &request),
        _ => envelope(&response_code, "99", "지원하지 않는 request_code 입니다.", Value::Null),
    }
}

fn cancel(sim: &EsignonSimulator, request: &Value) -> Response {
    let Some(body) = request.get("body").filter(|b| b.is_object()) else {
        return envelope("1510A", "-1", "요청 본문을 해석할 수 없습니다.", Value::Null);
    };
    let (Some(workflow_id), Some(command)) = (text(body, "workflow_id"), text(body, "command")) else {
        return envelope("1510A", "11", "필수 값이 없습니다.", Value::Null);
    };
    let now = sim.now();
    let outcome = {
        let mut state = sim.lock();
        let Some(workflow) = state.workflows.get_mut(&workflow_id) else {
            return envelope("1510A", "11", "문서를 찾을 수 없습니다.", Value::Null);
        };
        let next = match (command.as_str(), workflow.status.as_str()) {
            ("CANCEL", "Playing") => ("Canceled", "WORKFLOW_CANCEL"),
            ("DISPOSAL", "Complete")
                if text(body, "description").is_some() && text(body, "timezone_offset").is_some() =>
            {
                ("Disposal", "DISPOSAL")
            }
            ("DELETE", "Canceled") => ("Truncate", "TRUNCATE"),
            _ => return envelope("1510A", "11", "문서 상태가 올바르지 않거나 필수 값이 없습니다.", Value::Null),
        };
        workflow.status = next.0.into();
        workflow.history.push((next.1.into(), workflow.signed.to_string(), now));
        let callback = (next.0 == "Canceled").then(|| workflow.export.clone()).flatten();
        callback.map(|export| {
            let body = sim.callback_body(workflow, &workflow.signed.to_string(), "", now, json!({}));
            (export, body)
        })
    };
    if let Some((export, callback)) = outcome {
        sim.deliver(export, callback);
    }
    envelope(
        "1510A",
        "00",
        "성공",
        json!({"comp_id": sim.config.company_id, "biz_id": "0", "workflow_id": workflow_id, "command": command}),
    )
}

fn remind(sim: &EsignonSimulator, request: &Value) -> Response {
    let workflow_id = text(&request["body"], "workflow_id").unwrap_or_default();
    let now = sim.now();
    let mut state = sim.lock();
    let Some(workflow) = state.workflows.get_mut(&workflow_id) else {
        return envelope("1429A", "10", "실패", Value::Null);
    };
    match workflow.status.as_str() {
        "Complete" => envelope("1429A", "11", "이미 완료된 문서는 재전송할 수 없습니다.", Value::Null),
        "Playing" => {
            workflow.history.push(("RESEND".into(), (workflow.signed + 1).to_string(), now));
            envelope("1429A", "00", "성공", json!({"workflow_id": workflow_id}))
        }
        _ => envelope("1429A", "12", "취소된 문서는 재전송할 수 없습니다.", Value::Null),
    }
}

#[derive(Deserialize)]
struct SignRequest {
    workflow_id: String,
    #[serde(default)]
    all: bool,
}

/// `POST /_sandbox/esignon/sign {workflow_id, all?}`: the next signer (or every one) signs.
async fn sign_api(State(sim): State<EsignonSimulator>, Json(request): Json<SignRequest>) -> Response {
    match sim.sign(&request.workflow_id, request.all) {
        Ok(status) => Json(json!({"workflow_status": status})).into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, Json(json!({"error": error}))).into_response(),
    }
}

#[derive(Deserialize)]
struct SigningPageQuery {
    #[serde(default)]
    token: String,
}

/// `GET /api/{companyId}/sign?token=` and `/mail/sign?token=`: a stand-in for eSignon's signing
/// page. Whoever holds the token sees the document; only the signer whose turn it is may sign.
async fn signing_page(
    State(sim): State<EsignonSimulator>,
    axum::extract::Query(query): axum::extract::Query<SigningPageQuery>,
) -> Response {
    sim.signing_page(&query.token, false)
}

async fn signing_page_submit(
    State(sim): State<EsignonSimulator>,
    axum::Form(form): axum::Form<SigningPageQuery>,
) -> Response {
    sim.signing_page(&form.token, true)
}

impl EsignonSimulator {
    fn signing_page(&self, token: &str, submit: bool) -> Response {
        let found = {
            let state = self.lock();
            state.grants.get(token).and_then(|g| Some((g.clone(), state.workflows.get(g.workflow())?.clone())))
        };
        let Some((grant, mut workflow)) = found else {
            let mut page = crate::window_page::page("eSignon", r#"<p id="error">유효하지 않은 서명 링크입니다.</p>"#);
            *page.status_mut() = StatusCode::NOT_FOUND;
            return page;
        };
        let mut refused = false;
        if submit {
            if workflow.may_sign(&grant) {
                let _ = self.sign(&workflow.id, false);
                if let Some(now) = self.lock().workflows.get(&workflow.id).cloned() {
                    workflow = now;
                }
            } else {
                refused = true;
            }
        }
        let head = format!(
            r#"<p>Simulated eSignon signing page.</p><p>문서: <strong id="workflow">{}</strong> · 상태: <span id="status">{}</span></p>"#,
            crate::window_page::escape(&workflow.name),
            crate::window_page::escape(&workflow.status)
        );
        let body = if workflow.may_sign(&grant) {
            format!(
                r#"{head}<form method="post"><input type="hidden" name="token" value="{}"><button id="sign" type="submit">서명</button></form>"#,
                crate::window_page::escape(token)
            )
        } else {
            format!(r#"{head}<p id="view-only">문서 보기 전용: 지금 이 링크로 서명할 차례가 아닙니다.</p>"#)
        };
        let mut page = crate::window_page::page("eSignon 전자서명 (sandbox)", &body);
        if refused {
            *page.status_mut() = StatusCode::FORBIDDEN;
        }
        page
    }
}
