//! The eSignon simulator: 1001Q login, 5005Q `startsimple`, `GET /api/v2/workflows/{id}`, 1510Q
//! cancel/dispose/delete and 1429Q remind on `/JEDOC/Common.do`, signing (a control endpoint plays
//! the signers), and Export API callbacks delivered to the URL given at start.
//!
//! Written from `shared/protocols/esignon.md`, independently of the adapter. Business errors come as
//! HTTP 200 with the endpoint's own `result_code`. What eSignon does not document is configurable:
//! the token lifetime and `expire_date` format, whether a new login invalidates earlier tokens, and
//! how a bad token is refused ([`TokenFailure`]).

mod deliver;

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
}

impl Default for EsignonSimConfig {
    fn default() -> Self {
        Self {
            company_id: SANDBOX_COMPANY_ID.into(),
            api_registered: true,
            members: vec![(SANDBOX_EMAIL.into(), SANDBOX_PASSWORD.into())],
            templates: vec![SimTemplate {
                id: SANDBOX_TEMPLATE_ID.into(),
                steps: 2,
                fields: vec!["contract_date".into(), "agree".into()],
            }],
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            expire_format: ExpireFormat::default(),
            invalidate_on_relogin: false,
            token_failure: TokenFailure::default(),
            max_starts: None,
            service_expired: false,
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
}

#[derive(Clone)]
struct Workflow {
    id: String,
    name: String,
    template: String,
    starter: String,
    status: &'static str,
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
    /// Signing-page tokens → workflow id.
    signing_tokens: HashMap<String, String>,
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
    fn json(&self, base: &str) -> Value {
        let history: Vec<Value> = self
            .history
            .iter()
            .map(|(code, action, at)| json!({"step_code": code, "action_id": action, "confirm_date": stamp(*at), "name": "", "comment": ""}))
            .collect();
        let complete = self.status == "Complete";
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

    /// The callbacks delivered so far: (workflow id, status, the receiver's HTTP status).
    pub fn deliveries(&self) -> Vec<(String, String, u16)> {
        self.lock().deliveries.clone()
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
            .with_state(self.clone())
    }

    /// The member a request's token belongs to, or the refusal.
    fn authorize(&self, headers: &HeaderMap, response_code: &str) -> Result<String, Box<Response>> {
        let header = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
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

    /// Signs the next step of a workflow (`all`: every remaining step) as its signers would.
    pub fn sign(&self, workflow_id: &str, all: bool) -> Result<&'static str, &'static str> {
        let now = self.now();
        let mut callbacks = Vec::new();
        let status = {
            let mut state = self.lock();
            let workflow = state.workflows.get_mut(workflow_id).ok_or("no such workflow")?;
            if workflow.status != "Playing" {
                return Err("the workflow is not in progress");
            }
            loop {
                workflow.signed += 1;
                let action = workflow.signed.to_string();
                workflow.history.push(("SIGN_COMPLETE".into(), action.clone(), now));
                let done = workflow.signed >= workflow.players.len();
                if done {
                    workflow.status = "Complete";
                    workflow.history.push(("WORKFLOW_COMPLETE".into(), action.clone(), now));
                }
                if let Some(export) = &workflow.export
                    && (export.api_type == "ALL" || done)
                {
                    callbacks.push((export.clone(), callback_body(workflow, &action, "CF", now)));
                }
                if done || !all {
                    break;
                }
            }
            workflow.status
        };
        for (export, body) in callbacks {
            self.deliver(export, body);
        }
        Ok(status)
    }

    fn deliver(&self, export: Export, body: Value) {
        let sim = self.clone();
        tokio::spawn(async move {
            let workflow = text(&body["body"], "wfuid").unwrap_or_default();
            let status = text(&body["body"], "status").unwrap_or_default();
            match deliver::post(&export.url, &export.authorization, &body.to_string()).await {
                Ok(code) => {
                    sim.counters.callbacks_delivered.fetch_add(1, Ordering::SeqCst);
                    sim.lock().deliveries.push((workflow, status, code));
                }
                Err(error) => {
                    sim.counters.callbacks_failed.fetch_add(1, Ordering::SeqCst);
                    tracing::debug!(%error, "esignon simulator: callback not delivered");
                }
            }
        });
    }
}

/// The legacy callback body (`workdatetime` in UTC, like `2020-01-31 04:23:28.0`).
fn callback_body(workflow: &Workflow, action: &str, work_type: &str, at: Timestamp) -> Value {
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
    json!({
        "header": {"api_name": "export", "session_id": "", "request_code": ""},
        "body": {
            "wfuid": workflow.id, "clientid": "", "processid": workflow.id, "requestid": "", "actionid": action,
            "workdatetime": when, "worktype": work_type, "useremail": workflow.starter, "opinion": "",
            "status": workflow.status,
        },
    })
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
    let starter = match sim.authorize(&headers, "5005A") {
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
        })
    });
    let workflow = {
        let mut state = sim.lock();
        state.next_id += 1;
        let id = (12_583 + state.next_id).to_string();
        let workflow = Workflow {
            id: id.clone(),
            name: text(body, "workflow_name").unwrap_or_default(),
            template: template.id,
            starter: starter.clone(),
            status: "Playing",
            players,
            signed: 0,
            history: vec![("WORKFLOW_START".into(), "1".into(), now), ("SIGN_REQ".into(), "1".into(), now)],
            export,
            created_at: now,
            expiry,
        };
        state.workflows.insert(id, workflow.clone());
        workflow
    };
    sim.counters.starts.fetch_add(1, Ordering::SeqCst);
    let signing_token = opaque_token();
    sim.lock().signing_tokens.insert(signing_token.clone(), workflow.id.clone());
    if let Some(export) = workflow.export.clone() {
        sim.deliver(export, callback_body(&workflow, "1", "", now));
    }
    envelope(
        "5005A",
        "00",
        "성공",
        json!({"comp_id": company_id, "biz_id": "0", "memb_email": starter, "workflow_id": workflow.id,
               "workflow_name": workflow.name, "token": signing_token, "lang": "ko", "doc_id": workflow.template}),
    )
}

async fn workflow(
    State(sim): State<EsignonSimulator>,
    Path(workflow_id): Path<String>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
) -> Response {
    const ROUTE: &str = "/api/v2/workflows/:workflowId";
    if let Err(refusal) = sim.authorize(&headers, ROUTE) {
        return *refusal;
    }
    if let Some(code) = injected {
        return envelope(ROUTE, &code, "injected", Value::Null);
    }
    let found = sim.lock().workflows.get(&workflow_id).cloned();
    match found {
        Some(workflow) => envelope(ROUTE, "00", "성공", workflow.json("https://sandbox.esignon.invalid")),
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
    if let Err(refusal) = sim.authorize(&headers, &response_code) {
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
        let next = match (command.as_str(), workflow.status) {
            ("CANCEL", "Playing") => ("Canceled", "WORKFLOW_CANCEL"),
            ("DISPOSAL", "Complete")
                if text(body, "description").is_some() && text(body, "timezone_offset").is_some() =>
            {
                ("Disposal", "DISPOSAL")
            }
            ("DELETE", "Canceled") => ("Truncate", "TRUNCATE"),
            _ => return envelope("1510A", "11", "문서 상태가 올바르지 않거나 필수 값이 없습니다.", Value::Null),
        };
        workflow.status = next.0;
        workflow.history.push((next.1.into(), workflow.signed.to_string(), now));
        let callback = (next.0 == "Canceled").then(|| workflow.export.clone()).flatten();
        callback.map(|export| (export, callback_body(workflow, &workflow.signed.to_string(), "", now)))
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
    match workflow.status {
        "Complete" => envelope("1429A", "11", "이미 완료된 문서는 재전송할 수 없습니다.", Value::Null),
        "Canceled" | "Truncate" => envelope("1429A", "12", "취소된 문서는 재전송할 수 없습니다.", Value::Null),
        _ => {
            workflow.history.push(("RESEND".into(), (workflow.signed + 1).to_string(), now));
            envelope("1429A", "00", "성공", json!({"workflow_id": workflow_id}))
        }
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

/// `GET /api/{companyId}/sign?token=`: a stand-in for eSignon's signing page (the next signer signs).
async fn signing_page(
    State(sim): State<EsignonSimulator>,
    axum::extract::Query(query): axum::extract::Query<SigningPageQuery>,
) -> Response {
    let found = {
        let state = sim.lock();
        state.signing_tokens.get(&query.token).and_then(|id| state.workflows.get(id)).cloned()
    };
    let Some(workflow) = found else {
        let mut page = crate::window_page::page("eSignon", r#"<p id="error">유효하지 않은 서명 링크입니다.</p>"#);
        *page.status_mut() = StatusCode::NOT_FOUND;
        return page;
    };
    let next = workflow.players.get(workflow.signed).map_or_else(String::new, |p| crate::window_page::escape(&p.name));
    let body = if workflow.status == "Playing" {
        format!(
            r#"<p>Simulated eSignon signing page.</p><p>문서: <strong id="workflow">{}</strong> · 상태: <span id="status">{}</span></p>
<p>다음 서명자: <span id="signer">{next}</span></p>
<form method="post"><input type="hidden" name="token" value="{}"><button id="sign" type="submit">서명</button></form>"#,
            crate::window_page::escape(&workflow.name),
            workflow.status,
            crate::window_page::escape(&query.token)
        )
    } else {
        format!(
            r#"<p>문서: <strong id="workflow">{}</strong> · 상태: <span id="status">{}</span></p>"#,
            crate::window_page::escape(&workflow.name),
            workflow.status
        )
    };
    crate::window_page::page("eSignon 전자서명 (sandbox)", &body)
}

async fn signing_page_submit(
    State(sim): State<EsignonSimulator>,
    axum::Form(form): axum::Form<SigningPageQuery>,
) -> Response {
    let workflow = sim.lock().signing_tokens.get(&form.token).cloned();
    if let Some(workflow) = workflow {
        let _ = sim.sign(&workflow, false);
    }
    signing_page(State(sim), axum::extract::Query(form)).await
}
