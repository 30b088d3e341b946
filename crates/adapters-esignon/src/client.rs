//! The eSignon calls: login (1001Q) behind the token cache, 5005Q start, v2 status, 1510Q cancel,
//! 1429Q remind.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use bonin_adapters_http::{
    HttpClient, HttpConfig, HttpMethod, HttpRequest, HttpResponse, Idempotency, ReqwestTransport, RetryPolicy,
};
use bonin_domain::{
    CancelCommand, Clock, Dependency, Error, ExposeSecret, IssuedToken, KST, ProviderId, RefreshPolicy, SecretString,
    SharedTokens, SigningRequest, SigningWorkflows, SystemClock, Timestamp, Token, TokenCache, TokenCacheStats,
    TokenSource, WorkflowEvent, WorkflowInfo, WorkflowStarted, WorkflowStatus,
};
use serde_json::{Value, json};
use time::{
    Date, OffsetDateTime, PrimitiveDateTime, format_description::well_known::Iso8601, macros::format_description,
};

use crate::{EsignonConfig, codes};

const PROVIDER: ProviderId = ProviderId::Esignon;
/// The lifetime eSignon once documented; also the cap on whatever `expire_date` says.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Characters eSignon refuses in a workflow name.
const FORBIDDEN_IN_NAME: &[char] = &['\'', '"', '\\', '/', ':', '|', '<', '>', '.', '?'];

use bonin_adapters_http::encode_component as encode;

/// A string or number field, trimmed, `None` when absent or empty.
pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key) {
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads `expire_date` leniently: `yyyy-MM-dd`, `yyyy-MM-dd HH:mm:ss[.fraction]`, or ISO 8601 with or
/// without an offset. eSignon never documented the format; values without an offset are read as
/// KST, the earlier of the two plausible readings. `None` when nothing fits.
pub fn parse_expire_date(value: &str) -> Option<Timestamp> {
    let value = value.trim();
    if let Ok(at) = OffsetDateTime::parse(value, &Iso8601::DEFAULT) {
        return Some(at);
    }
    let naive = [
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    ];
    for format in naive {
        if let Ok(at) = PrimitiveDateTime::parse(value, format) {
            return Some(at.assume_offset(KST));
        }
    }
    // A bare date: the end of that day, KST.
    Date::parse(value, format_description!("[year]-[month]-[day]"))
        .ok()
        .and_then(|d| d.next_day())
        .map(|d| d.midnight().assume_offset(KST))
}

/// When the current token ends, and whether that came from `expire_date` (else: issue + 30 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenExpiry {
    /// When the token ends.
    pub expires_at: Timestamp,
    /// `true` when `expire_date` was read, `false` when bonin assumed 30 days.
    pub from_expire_date: bool,
}

/// One parsed answer.
enum Reply {
    Ok(Value),
    /// HTTP 401 or result 94 (or HTTP 400 on a call that may be repeated): the token looks refused
    /// and the call was turned away unprocessed.
    TokenRefused,
    /// HTTP 400 on a call that must not be repeated. eSignon answers 400 for any failure ("실패"),
    /// so it does not prove the call was turned away before it was processed.
    Failed400,
    Refused(Error),
}

fn read(endpoint: &'static str, response: &HttpResponse, idempotent: bool) -> Reply {
    match response.status {
        401 => return Reply::TokenRefused,
        400 if idempotent => return Reply::TokenRefused,
        400 => return Reply::Failed400,
        _ => {}
    }
    if response.status >= 500 {
        let reason = format!("{endpoint}: HTTP {}", response.status).into();
        let dependency = Dependency::Provider(PROVIDER);
        return Reply::Refused(if idempotent {
            Error::Unavailable { dependency, reason }
        } else {
            Error::Indeterminate { dependency, reason }
        });
    }
    let Ok(envelope) = serde_json::from_slice::<Value>(&response.body) else {
        return Reply::Refused(Error::protocol(
            PROVIDER,
            format!("{endpoint}: the reply is not JSON (HTTP {})", response.status),
        ));
    };
    let header = envelope.get("header").cloned().unwrap_or(Value::Null);
    let Some(code) = text(&header, "result_code") else {
        return Reply::Refused(Error::protocol(PROVIDER, format!("{endpoint}: the reply has no header.result_code")));
    };
    if response.status != 200 {
        return Reply::Refused(Error::protocol(
            PROVIDER,
            format!("{endpoint}: HTTP {} with result {code}", response.status),
        ));
    }
    match codes::classify(endpoint, &code).0 {
        codes::Class::Ok => Reply::Ok(envelope.get("body").cloned().unwrap_or(Value::Null)),
        codes::Class::Token => Reply::TokenRefused,
        _ => Reply::Refused(codes::to_error(endpoint, &code, text(&header, "result_msg"))),
    }
}

/// `POST /api/{companyId}/login` (1001Q).
struct Login {
    config: Arc<EsignonConfig>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    expiry: Arc<Mutex<Option<TokenExpiry>>>,
}

#[async_trait]
impl TokenSource for Login {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        let config = &self.config;
        // `client_id` is obsolete and never sent, even when configured.
        let body = json!({
            "header": {"request_code": "1001Q"},
            "body": {"memb_email": config.email, "memb_pwd": config.password.expose_secret()},
        });
        let url = format!("{}/api/{}/login?lang={}", config.api_base, encode(&config.company_id), config.lang);
        let request = HttpRequest::post("esignon.login", url)
            .header("Content-Type", "application/json")
            .body(body.to_string().into_bytes())
            .timeout(config.timeout())
            // Logging in twice is harmless.
            .idempotency(Idempotency::Idempotent);
        let issued_at = self.clock.now();
        let response = self.http.send(request).await?;
        let body = match read("1001Q", &response, true) {
            Reply::Ok(body) => body,
            Reply::TokenRefused | Reply::Failed400 => {
                return Err(Error::misconfigured(format!(
                    "eSignon refused the login (HTTP {}); check company_id, email and password",
                    response.status
                )));
            }
            Reply::Refused(error) => return Err(error),
        };
        let token =
            text(&body, "access_token").ok_or_else(|| Error::protocol(PROVIDER, "1001A: access_token missing"))?;
        let cap = issued_at + MAX_TOKEN_LIFETIME;
        let parsed = text(&body, "expire_date").and_then(|d| parse_expire_date(&d));
        // A date already past says more about its format (or eSignon's clock) than about a token
        // eSignon has just issued: the documented lifetime applies, and a token refused before then
        // is replaced on the spot.
        let parsed = parsed.filter(|at| {
            let future = *at > issued_at;
            if !future {
                tracing::debug!(provider = %PROVIDER, "expire_date is already past; assuming 30 days");
            }
            future
        });
        let expires_at = parsed.map_or(cap, |at| at.min(cap));
        let lifetime = Duration::try_from(expires_at - issued_at).unwrap_or(MAX_TOKEN_LIFETIME);
        *self.expiry.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(TokenExpiry { expires_at, from_expire_date: parsed.is_some() });
        Ok(IssuedToken { value: SecretString::from(token), lifetime })
    }
}

/// The eSignon adapter ([`SigningWorkflows`]), acting as one company member.
pub struct EsignonClient {
    config: Arc<EsignonConfig>,
    http: HttpClient,
    tokens: TokenCache<Arc<dyn TokenSource>>,
    clock: Arc<dyn Clock>,
    expiry: Arc<Mutex<Option<TokenExpiry>>>,
}

impl fmt::Debug for EsignonClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EsignonClient")
            .field("config", &self.config)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl EsignonClient {
    /// A client over `http` (speaking for [`ProviderId::Esignon`]) on `clock`.
    pub fn new(config: EsignonConfig, http: HttpClient, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        Self::build(config, http, clock, None)
    }

    /// [`EsignonClient::new`], with the token shared between the instances of a deployment under
    /// the name `esignon:<company_id>:<email>`.
    pub fn with_shared_tokens(
        config: EsignonConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        shared: Arc<dyn SharedTokens>,
    ) -> Result<Self, Error> {
        Self::build(config, http, clock, Some(shared))
    }

    fn build(
        config: EsignonConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        shared: Option<Arc<dyn SharedTokens>>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let config = Arc::new(config);
        let expiry = Arc::new(Mutex::new(None));
        let login = Login { config: config.clone(), http: http.clone(), clock: clock.clone(), expiry: expiry.clone() };
        let policy = RefreshPolicy { refresh_before: Duration::from_secs(config.token_margin_secs) };
        let name = format!("esignon:{}:{}", config.company_id, config.email);
        let tokens = TokenCache::maybe_shared(login, shared, name, clock.clone(), policy);
        Ok(Self { config, http, tokens, clock, expiry })
    }

    /// A client with the default HTTP settings and the system clock.
    pub fn from_config(config: EsignonConfig) -> Result<Self, Error> {
        let transport = ReqwestTransport::new(&HttpConfig::default())?;
        let http = HttpClient::new(PROVIDER, Arc::new(transport), RetryPolicy::default());
        Self::new(config, http, Arc::new(SystemClock::new()))
    }

    /// The configuration in use.
    pub fn config(&self) -> &EsignonConfig {
        &self.config
    }

    /// The API token (cached; logs in on first use).
    pub async fn access_token(&self) -> Result<Token, Error> {
        self.tokens.get().await
    }

    /// When the token from this instance's last login ends (`None` before any login here, e.g.
    /// when another instance logged in and shared the token).
    pub fn token_expiry(&self) -> Option<TokenExpiry> {
        *self.expiry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Token cache counters.
    pub fn token_stats(&self) -> TokenCacheStats {
        self.tokens.stats()
    }

    fn request(
        &self,
        (label, endpoint): (&'static str, &'static str),
        method: HttpMethod,
        url: &str,
        body: Option<&Value>,
        token: &Token,
        idempotent: bool,
    ) -> HttpRequest {
        let value = format!("esignon {}", token.expose_secret());
        let mut request = HttpRequest::new(label, method, url.to_owned())
            .timeout(self.config.timeout())
            .idempotency(if idempotent { Idempotency::Idempotent } else { Idempotency::NotIdempotent });
        if endpoint.starts_with("v2.") {
            // The v2 pages name the header `Authentication`, everything else `Authorization`.
            request = request.header("Authentication", value.clone());
        }
        request = request.header("Authorization", value);
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string().into_bytes());
        }
        request
    }

    /// One authenticated call. A refused token (HTTP 401, result 94) logs in once more and sends the
    /// call once more: it was refused before it was processed. HTTP 400 does the same for a call
    /// that may be repeated; a call that must not be is not sent again: the error is indeterminate,
    /// and the token is dropped so the next call logs in afresh.
    async fn call(
        &self,
        label: &'static str,
        endpoint: &'static str,
        method: HttpMethod,
        url: String,
        body: Option<Value>,
        idempotent: bool,
    ) -> Result<Value, Error> {
        let refused = |reply: &Reply| {
            let refused = matches!(reply, Reply::TokenRefused);
            if refused {
                tracing::debug!(provider = %PROVIDER, endpoint = label, "token refused; logging in again once");
            }
            refused
        };
        let reply = self
            .tokens
            .call_with_refresh(refused, |token| {
                let request = self.request((label, endpoint), method, &url, body.as_ref(), &token, idempotent);
                async move { Ok(read(endpoint, &self.http.send(request).await?, idempotent)) }
            })
            .await?;
        match reply {
            Reply::Ok(body) => Ok(body),
            Reply::Refused(error) => Err(error),
            Reply::Failed400 => {
                // If the token was what eSignon refused, the next call must not meet it again.
                self.tokens.invalidate();
                Err(Error::Indeterminate {
                    dependency: Dependency::Provider(PROVIDER),
                    reason: format!("{endpoint}: HTTP 400; not sent again, as it may have been processed").into(),
                })
            }
            Reply::TokenRefused => Err(Error::rejected(
                PROVIDER,
                format!("{endpoint}:token"),
                Some("eSignon refused a freshly issued token".to_owned()),
            )),
        }
    }

    /// A link eSignon gave, made absolute against the API host; `None` unless it is an http(s) URL
    /// or a path.
    fn absolute(&self, url: &str) -> Option<SecretString> {
        if url.starts_with("https://") || url.starts_with("http://") {
            Some(SecretString::from(url.to_owned()))
        } else if url.starts_with('/') && !url.starts_with("//") {
            Some(SecretString::from(format!("{}{url}", self.config.api_base)))
        } else {
            None
        }
    }

    fn common_url(&self) -> String {
        format!("{}/JEDOC/Common.do?lang={}", self.config.api_base, self.config.lang)
    }

    fn language(&self) -> &'static str {
        match self.config.lang.as_str() {
            "en" => "en-US",
            "ja" => "ja-JP",
            _ => "ko-KR",
        }
    }
}

/// Checks a request the way eSignon would, so bad input fails here, before anything is sent.
fn validate(request: &SigningRequest, today: Date) -> Result<(), Error> {
    let name = request.workflow_name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(Error::invalid_input("workflow_name", "must be 1 to 128 characters"));
    }
    if name.contains(FORBIDDEN_IN_NAME) {
        return Err(Error::invalid_input("workflow_name", "must not contain ' \" \\ / : | < > . ?"));
    }
    if request.template_id.trim().is_empty() {
        return Err(Error::invalid_input("template_id", "must not be empty"));
    }
    if request.signers.is_empty() {
        return Err(Error::invalid_input("signers", "at least one signer is needed"));
    }
    if request.signers.iter().any(|s| s.email.is_none() && s.phone.is_none()) {
        return Err(Error::invalid_input("signers", "every signer needs an email or a phone number"));
    }
    if request.expires_on.is_some_and(|d| d < today) {
        return Err(Error::invalid_input("expires_on", "is in the past"));
    }
    if request.fields.iter().any(|(name, _)| name.trim().is_empty()) {
        return Err(Error::invalid_input("fields", "every field needs a name"));
    }
    Ok(())
}

pub(crate) fn status_of(value: &str) -> WorkflowStatus {
    match value {
        "Playing" => WorkflowStatus::InProgress,
        "Complete" => WorkflowStatus::Completed,
        "Canceled" | "Cancelled" => WorkflowStatus::Cancelled,
        "Disposal" => WorkflowStatus::Disposed,
        "Truncate" => WorkflowStatus::Deleted,
        other => WorkflowStatus::Other(other.to_owned()),
    }
}

/// The workflow status of an eSignon status word (`Playing`, `Complete`, …); unknown words are kept.
pub fn workflow_status(value: &str) -> WorkflowStatus {
    status_of(value)
}

#[async_trait]
impl SigningWorkflows for EsignonClient {
    fn provider(&self) -> ProviderId {
        PROVIDER
    }

    async fn start(&self, request: &SigningRequest) -> Result<WorkflowStarted, Error> {
        validate(request, self.clock.now().to_offset(KST).date())?;
        if self.config.embed && request.export.is_none() {
            return Err(Error::misconfigured(
                "providers.esignon.embed needs a callback target (providers.esignon.webhook_authorization): \
                 in embed mode the signers' links arrive only with eSignon's callbacks",
            ));
        }
        let players: Vec<Value> = request
            .signers
            .iter()
            .enumerate()
            .map(|(i, signer)| {
                let address = signer.email.as_ref().map_or_else(
                    || signer.phone.as_ref().map(|p| p.expose().to_owned()).unwrap_or_default(),
                    |e| e.expose().to_owned(),
                );
                let mut player =
                    json!({"field_owner": (i + 1).to_string(), "email": address, "name": signer.name.expose()});
                if let Some(phone) = &signer.phone {
                    player["mobile_number"] = json!(phone.expose());
                }
                player
            })
            .collect();
        let mut body = json!({
            "biz_id": "0",
            "memb_email": self.config.email,
            "doc_id": request.template_id.trim(),
            "workflow_name": request.workflow_name.trim(),
            "language": self.language(),
            "player_list": players,
            "field_list": request.fields.iter().map(|(n, v)| json!({"field_name": n, "field_value": v})).collect::<Vec<_>>(),
        });
        if let Some(date) = request.expires_on {
            body["expireddate"] = json!(format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()));
        }
        if let Some(export) = &request.export {
            body["export_api_info"] = json!({
                "url": export.url,
                "api_type": "ALL",
                "authorization": export.authorization.expose_secret(),
            });
            if self.config.embed {
                // No mail or KakaoTalk to the signers: each one's link comes back to bonin, and the
                // completed document's URLs are download URLs rather than viewer pages.
                body["export_api_info"]["request_code"] = json!("embed");
                body["export_api_info"]["link_type"] = json!("download");
            }
        }
        let envelope = json!({"header": {"request_code": "5005Q", "version": "9.9.99"}, "body": body});
        let url = format!(
            "{}/api/{}/startsimple?lang={}",
            self.config.api_base,
            encode(&self.config.company_id),
            self.config.lang
        );
        // Starting twice would make two contracts: never repeated automatically.
        let reply = self.call("esignon.start", "5005Q", HttpMethod::Post, url, Some(envelope), false).await?;
        let workflow_id =
            text(&reply, "workflow_id").ok_or_else(|| Error::protocol(PROVIDER, "5005A: workflow_id missing"))?;
        // The answer's `token` is the starting member's own page (it signs only while that member
        // is the current signer, and otherwise shows the document): never a signer's link. Only
        // embed mode answers the first signer's own link, `play_url`; otherwise eSignon sends each
        // signer theirs.
        let signing_url = if self.config.embed {
            let link = text(&reply, "play_url").and_then(|url| self.absolute(&url));
            if link.is_none() {
                tracing::warn!(provider = %PROVIDER, workflow_id = %workflow_id,
                    "embed mode: eSignon's answer has no usable play_url; the first signer has no link");
            }
            link
        } else {
            None
        };
        Ok(WorkflowStarted::new(workflow_id, signing_url))
    }

    async fn status(&self, provider_workflow_id: &str) -> Result<WorkflowInfo, Error> {
        let id = provider_workflow_id.trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) {
            return Err(Error::invalid_input("workflow_id", "must be an eSignon workflow id"));
        }
        let url = format!("{}/api/v2/workflows/{}?offset=%2B09%3A00", self.config.api_base, encode(id));
        let body = self.call("esignon.workflow", "v2.workflows", HttpMethod::Get, url, None, true).await?;
        let status = text(&body, "workflow_status").map_or(WorkflowStatus::Other(String::new()), |s| status_of(&s));
        let mut info = WorkflowInfo::new(
            PROVIDER,
            text(&body, "workflow_id").unwrap_or_else(|| id.to_owned()),
            status,
            self.clock.now(),
        );
        info.name = text(&body, "workflow_name");
        info.download_url = text(&body, "download_url");
        info.certificate_url = text(&body, "certificate_url");
        info.history = body
            .get("action_history_list")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|e| {
                        Some(WorkflowEvent { step_code: text(e, "step_code")?, at: text(e, "confirm_date") })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(info)
    }

    async fn cancel(&self, provider_workflow_id: &str, command: CancelCommand) -> Result<(), Error> {
        let mut body = json!({
            "comp_id": self.config.company_id,
            "biz_id": "0",
            "memb_email": self.config.email,
            "workflow_id": provider_workflow_id,
        });
        match command {
            CancelCommand::Cancel => body["command"] = json!("CANCEL"),
            CancelCommand::Delete => body["command"] = json!("DELETE"),
            CancelCommand::Dispose { reason } => {
                if reason.trim().is_empty() {
                    return Err(Error::invalid_input("reason", "disposing of a document needs a reason"));
                }
                body["command"] = json!("DISPOSAL");
                body["description"] = json!(reason);
                body["timezone_offset"] = json!("+09:00");
            }
            _ => return Err(Error::invalid_input("command", "not supported by eSignon")),
        }
        let envelope = json!({
            "header": {"request_code": "1510Q", "request_msg": "", "request_lang": self.config.lang, "session_id": "", "version": "9.9.99"},
            "body": body,
        });
        self.call("esignon.cancel", "1510Q", HttpMethod::Post, self.common_url(), Some(envelope), false)
            .await
            .map(|_| ())
    }

    async fn remind(&self, provider_workflow_id: &str) -> Result<(), Error> {
        let envelope = json!({
            "header": {"request_code": "1429Q", "request_msg": "", "session_id": ""},
            "body": {"comp_id": self.config.company_id, "biz_id": "0", "memb_email": self.config.email, "workflow_id": provider_workflow_id},
        });
        self.call("esignon.remind", "1429Q", HttpMethod::Post, self.common_url(), Some(envelope), false)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expire_date_is_read_leniently() {
        let kst = |y, m, d, h| {
            Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d)
                .unwrap()
                .with_hms(h, 0, 0)
                .unwrap()
                .assume_offset(KST)
        };
        assert_eq!(parse_expire_date("2026-12-23 10:00:00"), Some(kst(2026, 12, 23, 10)));
        assert_eq!(parse_expire_date("2026-12-23 10:00:00.0"), Some(kst(2026, 12, 23, 10)));
        assert_eq!(parse_expire_date("2026-12-23T10:00:00"), Some(kst(2026, 12, 23, 10)));
        assert_eq!(parse_expire_date("2026-12-23T01:00:00Z"), Some(kst(2026, 12, 23, 10)));
        assert_eq!(parse_expire_date("2026-12-23T10:00:00+09:00"), Some(kst(2026, 12, 23, 10)));
        assert_eq!(parse_expire_date("2026-12-23"), Some(kst(2026, 12, 24, 0)));
        assert_eq!(parse_expire_date("{만료일}"), None);
        assert_eq!(parse_expire_date(""), None);
    }

    #[test]
    fn requests_are_checked_like_esignon_checks_them() {
        use bonin_domain::{Email, Name, Signer};
        let today = Date::from_calendar_date(2026, time::Month::November, 23).unwrap();
        let signer =
            Signer {
                name: Name::new("홍길동").unwrap(), email: Some(Email::new("a@b.example").unwrap()), phone: None
            };
        let ok = SigningRequest::new("170", "근로계약서 2026", vec![signer.clone()]);
        assert!(validate(&ok, today).is_ok());
        for bad in ["", "a.b", "a/b", "a?b", "a:b", "a|b", "a<b", "'q'", "\"q\"", "a\\b"] {
            let request = SigningRequest::new("170", bad, vec![signer.clone()]);
            assert!(
                matches!(validate(&request, today), Err(Error::InvalidInput { field, .. }) if field == "workflow_name"),
                "{bad}"
            );
        }
        assert!(validate(&SigningRequest::new("170", "x".repeat(129), vec![signer.clone()]), today).is_err());
        let past = ok.clone().with_expires_on(today.previous_day());
        assert!(matches!(validate(&past, today), Err(Error::InvalidInput { field, .. }) if field == "expires_on"));
        assert!(validate(&ok.clone().with_expires_on(Some(today)), today).is_ok());
        let nobody = Signer { email: None, ..signer };
        assert!(validate(&SigningRequest::new("170", "x", vec![nobody]), today).is_err());
        assert!(validate(&SigningRequest::new("170", "x", vec![]), today).is_err());
    }
}
