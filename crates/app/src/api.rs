//! The REST API (see `docs/openapi.json`).
//!
//! | method, path | auth | what |
//! |---|---|---|
//! | `POST /v1/verifications` | API key | start |
//! | `GET\|POST /v1/verifications/{id}/return` | none (browser) | provider landing |
//! | `POST /v1/verifications/{id}/complete` | API key | server-to-server completion |
//! | `POST /v1/verifications/{id}/otp`, `/confirm`, `/resend` | API key | OTP flow |
//! | `GET /v1/verifications/{id}` | API key | status, identity once |
//! | `GET /bonin.js`, `/bonin.<hash>.js`, `/bonin.d.ts` | none | the browser launcher ([`crate::browser_js`]) |
//! | `GET /healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/` | none | |
//!
//! The e-signature endpoints (`/v1/signing…`) are in [`crate::signing`].
//!
//! Besides its keys the API is guarded by per-client rate limits on start, OTP send/resend and
//! confirm, a cap on open verifications ([`crate::limits`]) and, without API keys, a check that
//! requests are addressed to loopback or this service's own name (a page on `evil.example` whose
//! name resolves to 127.0.0.1 gets nowhere).

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Path, Query, Request, State, rejection::JsonRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bonin_domain::{
    BirthDate, CallbackParams, CallbackTransport, Carrier, Clock, Dependency, Display, Error, ExposeSecret, Gender,
    Launch, Method, Name, Nationality, OtpChannel, OtpCode, OtpSubject, PhoneNumber, PopupLanding, Prefill, ProviderId,
    Purpose, SecretString, Status, SystemClock, Timestamp, Verification, VerificationId, VerifiedIdentity,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::ToSchema;

use crate::{
    limits::{ApiLimits, Budget, Client, OPEN_VERIFICATIONS_REASON, OpenVerifications, RateLimiter},
    openapi::{BodyProblems, KeyProblems, LandingProblems, LaunchProblems, OpsProblems},
    pages,
    problem::ApiError,
    service::{StartRequest, VerificationService},
};

/// Router settings.
#[derive(Clone)]
pub struct ApiSettings {
    /// Bearer keys; empty means unauthenticated (sandbox on loopback only).
    pub api_keys: Arc<Vec<SecretString>>,
    /// Per-request time limit.
    pub request_timeout: Duration,
    /// Largest request body.
    pub body_limit: usize,
    /// Serve the demo page.
    pub demo: bool,
    /// Serve `/healthz`, `/readyz` and `/metrics` here too; off when they have a listener of their
    /// own ([`ops_router`], `server.admin_bind`).
    pub ops: bool,
    /// The e-signature endpoints, when a signing provider is enabled.
    pub signing: Option<crate::signing::SigningApi>,
}

impl std::fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSettings")
            .field("api_keys", &format!("<{} redacted>", self.api_keys.len()))
            .field("request_timeout", &self.request_timeout)
            .field("body_limit", &self.body_limit)
            .field("demo", &self.demo)
            .field("ops", &self.ops)
            .field("signing", &self.signing)
            .finish()
    }
}

/// What guards the API besides its keys, and the clock it reads statuses against.
#[derive(Clone)]
pub struct Guards {
    /// The clock the service runs on.
    pub clock: Arc<dyn Clock>,
    /// Per-client rate limits and the cap on open verifications.
    pub limits: ApiLimits,
    /// Names the keyless API answers to besides loopback names and the public URL's host (the
    /// bind address).
    pub hosts: Vec<String>,
}

impl Guards {
    /// Default limits on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, limits: ApiLimits::default(), hosts: Vec::new() }
    }
}

impl Default for Guards {
    /// Default limits on the system clock.
    fn default() -> Self {
        Self::new(Arc::new(SystemClock::new()))
    }
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards").field("limits", &self.limits).field("hosts", &self.hosts).finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct AppState {
    service: Arc<VerificationService>,
    clock: Arc<dyn Clock>,
    open: Arc<OpenVerifications>,
    limiter: Arc<RateLimiter>,
}

impl AppState {
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The API body of `v`; a finished verification no longer counts as open.
    fn body(&self, v: &Verification, launch: Option<Launch>) -> VerificationBody {
        self.open.settle(v);
        body_of(v, self.now(), launch)
    }
}

/// A JSON body whose rejections become problem responses.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => {
                let mut status = rejection.status();
                let detail = match rejection {
                    JsonRejection::JsonDataError(_) => {
                        status = StatusCode::BAD_REQUEST;
                        "the JSON body does not have the expected fields or values"
                    }
                    JsonRejection::JsonSyntaxError(_) => {
                        status = StatusCode::BAD_REQUEST;
                        "the body is not valid JSON"
                    }
                    JsonRejection::MissingJsonContentType(_) => "send the body as application/json",
                    _ if status == StatusCode::PAYLOAD_TOO_LARGE => "the body is too large",
                    _ => "the body could not be read",
                };
                Err(ApiError::Body { status, detail: detail.to_owned() })
            }
        }
    }
}

fn parse_id(id: &str) -> Result<VerificationId, ApiError> {
    // An id that cannot exist is simply not found.
    VerificationId::parse(id).map_err(|_| ApiError::Domain(Error::NotFound))
}

/// `POST /v1/verifications` body. `Debug` shows no prefill value and no custom data.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StartRequest, description = "Without `provider`, `verification.default_provider` is used. Each provider offers only some methods; a method it lacks is refused (`invalid_request`).", example = json!({"method": "window", "return_url": "https://shop.example/verified", "purpose": "sign_up"}))]
pub struct StartBody {
    /// Provider id, or the configured default.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::VerificationProvider>)]
    pub provider: Option<ProviderId>,
    /// `window`, `otp` or `app`.
    #[schema(value_type = crate::openapi::Method)]
    pub method: Method,
    /// Final browser destination; its origin must be in `server.allowed_return_origins`.
    #[serde(default)]
    #[schema(format = "uri")]
    pub return_url: Option<String>,
    /// Purpose.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::Purpose>)]
    pub purpose: Option<Purpose>,
    /// `popup` (default) or `page`.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::Display>)]
    pub display: Option<Display>,
    /// Checked by bonin against the verified birth date for every provider (`age_restricted`),
    /// and passed to providers that enforce it in their window.
    #[serde(default, deserialize_with = "integral_u8")]
    #[schema(maximum = 255)]
    pub min_age: Option<u8>,
    /// The person's details, for windows that can be filled in with them (where the provider's
    /// window takes them: some fix name and phone, others only pre-fill). They reach the launch,
    /// which the user's own browser sees. Compare the verified identity with what you expect where
    /// it matters.
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::PrefillSchema>)]
    pub prefill: Option<Prefill>,
    /// The merchant's own data kept with the provider's record, where the provider keeps such data
    /// (JSON text).
    #[serde(default)]
    pub custom_data: Option<String>,
}

/// An optional integer from 0 to 255, also when written `19.0` (JSON numbers do not tell the two
/// apart, and JSON Schema's `integer` takes both).
fn integral_u8<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else { return Ok(None) };
    let whole = number
        .as_u64()
        .or_else(|| number.as_f64().filter(|f| f.fract() == 0.0 && (0.0..=255.0).contains(f)).map(|f| f as u64));
    whole
        .and_then(|n| u8::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("expected an integer from 0 to 255"))
}

impl std::fmt::Debug for StartBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartBody")
            .field("provider", &self.provider)
            .field("method", &self.method)
            .field("purpose", &self.purpose)
            .field("display", &self.display)
            .field("min_age", &self.min_age)
            .field("prefill", &self.prefill)
            .field("custom_data", &self.custom_data.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The error part of a verification.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = VerificationError)]
pub struct FailureBody {
    /// The stable code.
    #[schema(value_type = crate::openapi::ErrorCodeSchema)]
    code: &'static str,
    /// The provider's own code, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    provider_code: Option<String>,
}

/// A verification as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Verification, example = json!({"id": "vfhq3tzk5m2xw7rbn4c6dpyaue", "method": "window", "status": "pending", "expires_at": "2026-01-01T00:10:00Z", "launch": {"kind": "form", "action": "https://window.provider.example/start", "method": "post", "fields": [{"name": "m", "value": "service"}]}}))]
pub struct VerificationBody {
    /// The verification's id.
    id: String,
    #[schema(value_type = crate::openapi::VerificationProvider)]
    provider: ProviderId,
    #[schema(value_type = crate::openapi::Method)]
    method: Method,
    #[schema(value_type = crate::openapi::Status)]
    status: Status,
    /// When the verification expires.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: time::OffsetDateTime,
    /// start only, window and app methods: what the browser opens.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::Launch)]
    launch: Option<Launch>,
    /// Once verified, the first time the verification is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::IdentitySchema)]
    identity: Option<VerifiedIdentity>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = FailureBody)]
    error: Option<FailureBody>,
    /// otp method, once a code was sent: confirmations left.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u8)]
    otp_attempts_left: Option<u8>,
    /// app method only: where the approval stands at the provider. Reading the verification polls
    /// the provider (at most every 2 s across all readers); bonin also polls in the background.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::openapi::AppState)]
    app_state: Option<&'static str>,
}

fn body_of(v: &Verification, now: time::OffsetDateTime, launch: Option<Launch>) -> VerificationBody {
    VerificationBody {
        id: v.id().to_string(),
        provider: v.provider(),
        method: v.method(),
        status: v.status_at(now),
        expires_at: v.deadline(),
        launch,
        identity: v.identity().cloned(),
        error: v.failure().map(|f| FailureBody { code: f.code.as_str(), provider_code: f.provider_code.clone() }),
        otp_attempts_left: (v.method() == Method::Otp && v.otp().is_some()).then(|| v.otp_attempts_left()),
        app_state: (v.method() == Method::App).then(|| v.app().map_or("requested", |a| a.state.as_str())),
    }
}

/// Refuses a provider this build lacks, or a method the provider cannot do, with a clear error.
fn check_capability(provider: ProviderId, method: Method) -> Result<(), Error> {
    let verifying = crate::providers::verifying();
    let choices = || verifying.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ");
    let Some(registered) = crate::providers::find(provider) else {
        return Err(Error::invalid_input(
            "provider",
            format!("{provider} is not in this build (verification providers: {})", choices()),
        ));
    };
    let capabilities = registered.capabilities();
    if !capabilities.verifies() {
        let hint = if capabilities.signing {
            "an e-signature provider: use /v1/signing"
        } else {
            "not a verification provider"
        };
        return Err(Error::invalid_input(
            "provider",
            format!("{provider} is {hint} (verification providers: {})", choices()),
        ));
    }
    let (offered, name) = match method {
        Method::Window => (capabilities.window, "window"),
        Method::Otp => (capabilities.otp, "otp"),
        Method::App => (capabilities.app, "app"),
        _ => (false, "this method"),
    };
    if !offered {
        return Err(Error::invalid_input(
            "method",
            format!("{provider} cannot verify by {name} (it offers: {})", capabilities.methods().join(", ")),
        ));
    }
    Ok(())
}

/// Start a verification
#[utoipa::path(post, path = "/v1/verifications", operation_id = "startVerification", tag = "verifications",
    security(("apiKey" = [])), request_body = StartBody,
    responses((status = 201, description = "started", body = VerificationBody, links(("GetVerification" = (operation_id = "getVerification", parameters(("id" = "$response.body#/id")))),("CompleteVerification" = (operation_id = "completeVerification", parameters(("id" = "$response.body#/id")))),("SendOtp" = (operation_id = "sendOtp", parameters(("id" = "$response.body#/id")))),("ConfirmOtp" = (operation_id = "confirmOtp", parameters(("id" = "$response.body#/id")))),("ResendOtp" = (operation_id = "resendOtp", parameters(("id" = "$response.body#/id")))),("GetLaunchData" = (operation_id = "getLaunchData", parameters(("id" = "$response.body#/id")))))), BodyProblems))]
async fn start(State(state): State<AppState>, JsonBody(body): JsonBody<StartBody>) -> Result<Response, ApiError> {
    check_capability(body.provider.unwrap_or(state.service.settings().default_provider), body.method)?;
    let slot = state
        .open
        .reserve()
        .map_err(|retry_after| ApiError::Limited { reason: OPEN_VERIFICATIONS_REASON, retry_after })?;
    let started = state
        .service
        .start({
            let mut request = StartRequest::new(body.method).with_display(body.display.unwrap_or_default());
            request.provider = body.provider;
            request.return_url = body.return_url;
            request.purpose = body.purpose;
            request.min_age = body.min_age;
            request.prefill = body.prefill;
            request.custom_data = body.custom_data;
            request
        })
        .await?;
    slot.opened(started.verification.id(), started.verification.expires_at());
    let body = state.body(&started.verification, started.launch);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Status, and the identity the first time it is read
#[utoipa::path(get, path = "/v1/verifications/{id}", operation_id = "getVerification", tag = "verifications",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The verification's id.")),
    responses((status = 200, description = "the verification", body = VerificationBody), KeyProblems))]
async fn read(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    // Detached: a read of an app verification may poll the provider, and a dropped request must
    // not stop a poll that has the provider's result in hand.
    let service = state.service.clone();
    let v = detached(async move { service.get(&id).await }).await?;
    Ok(Json(state.body(&v, None)))
}

/// `POST /v1/verifications/{id}/complete` body: the callback parameters as received.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CompleteRequest, example = json!({"params": {"enc_data": "…", "integrity_value": "…", "token_version_id": "…"}}))]
pub struct CompleteBody {
    /// Parameter name → value.
    pub params: BTreeMap<String, String>,
}

/// Server-to-server completion with the callback parameters
#[utoipa::path(post, path = "/v1/verifications/{id}/complete", operation_id = "completeVerification", tag = "verifications",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The verification's id.")), request_body = CompleteBody,
    responses((status = 200, description = "the verification", body = VerificationBody), BodyProblems))]
async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let callback = CallbackParams::from_pairs(CallbackTransport::Api, body.params);
    let service = state.service.clone();
    let v = detached(async move { service.complete(&id, &callback).await }).await?;
    Ok(Json(state.body(&v, None)))
}

/// `POST /v1/verifications/{id}/otp` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OtpSendRequest, example = json!({"name": "홍길동", "phone": "01012345678", "birth_date": "1990-01-01", "gender": "male", "nationality": "domestic", "carrier": "skt", "auth_type": "sms", "client_ip": "203.0.113.7"}))]
pub struct OtpSendBody {
    name: String,
    phone: String,
    #[schema(format = Date)]
    birth_date: String,
    #[schema(value_type = crate::openapi::Gender)]
    gender: Gender,
    #[schema(value_type = crate::openapi::Nationality)]
    nationality: Nationality,
    #[schema(value_type = crate::openapi::Carrier)]
    carrier: Carrier,
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::OtpChannel>)]
    auth_type: Option<OtpChannel>,
    /// The end user's IP address (some providers require it).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = "ip")]
    client_ip: Option<IpAddr>,
}

/// Send the OTP
#[utoipa::path(post, path = "/v1/verifications/{id}/otp", operation_id = "sendOtp", tag = "verifications",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The verification's id.")), request_body = OtpSendBody,
    responses((status = 200, description = "the verification", body = VerificationBody), BodyProblems))]
async fn otp_send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OtpSendBody>,
) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let subject = OtpSubject {
        name: Name::new(body.name)?,
        phone: PhoneNumber::new(body.phone)?,
        birth_date: BirthDate::parse(&body.birth_date)?,
        gender: body.gender,
        nationality: body.nationality,
        carrier: body.carrier,
    };
    let (service, channel) = (state.service.clone(), body.auth_type.unwrap_or(OtpChannel::Sms));
    let v = detached(async move { service.otp_send(&id, subject, channel, body.client_ip).await }).await?;
    Ok(Json(state.body(&v, None)))
}

/// `POST /v1/verifications/{id}/confirm` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ConfirmRequest, example = json!({"code": "123456"}))]
pub struct ConfirmBody {
    /// The code; absent for app approval (PASS).
    #[serde(default)]
    code: Option<String>,
}

/// Confirm the OTP
#[utoipa::path(post, path = "/v1/verifications/{id}/confirm", operation_id = "confirmOtp", tag = "verifications",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The verification's id.")), request_body = ConfirmBody,
    responses((status = 200, description = "the verification", body = VerificationBody), BodyProblems))]
async fn otp_confirm(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ConfirmBody>,
) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let code = body.code.map(OtpCode::new).transpose()?;
    let service = state.service.clone();
    let v = detached(async move { service.otp_confirm(&id, code).await }).await?;
    Ok(Json(state.body(&v, None)))
}

/// Send the OTP again
#[utoipa::path(post, path = "/v1/verifications/{id}/resend", operation_id = "resendOtp", tag = "verifications",
    security(("apiKey" = [])), params(("id" = String, Path, description = "The verification's id.")),
    responses((status = 200, description = "the verification", body = VerificationBody), KeyProblems))]
async fn otp_resend(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let service = state.service.clone();
    let v = detached(async move { service.otp_resend(&id).await }).await?;
    Ok(Json(state.body(&v, None)))
}

fn redirect_with(return_url: &str, pairs: &[(&str, &str)]) -> Response {
    use bonin_adapters_http::encode_component;
    let (base, fragment) = return_url.split_once('#').map_or((return_url, None), |(b, f)| (b, Some(f)));
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    let separator = if base.contains('?') { '&' } else { '?' };
    let mut location = format!("{base}{separator}{}", query.join("&"));
    if let Some(fragment) = fragment {
        location.push('#');
        location.push_str(fragment);
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Spends the per-verification budget of the open endpoints (the landing, the launch data, which
/// may cost a provider call or a private-key operation): only for a verification that exists, so
/// an id that does not exist costs nothing, and nobody without an id can use up another's budget.
async fn spend_for_verification(state: &AppState, id: &VerificationId) -> Result<(), ApiError> {
    state.service.peek(id).await?;
    let name = bucket_name(&digest(id.as_str().as_bytes()));
    state.limiter.spend(Client::Verification(name), Budget::Callback).map_err(|retry_after| {
        tracing::debug!(verification_id = %id, limit = Budget::Callback.reason(), "refused by a rate limit");
        ApiError::Limited { reason: Budget::Callback.reason(), retry_after }
    })
}

/// Who asked the landing, besides the provider's parameters: a page's script that wants the
/// outcome as JSON (`Accept: application/json`: `bonin.js` handing over an SDK's answer), and the
/// page's origin.
struct LandingCaller {
    wants_json: bool,
    origin: Option<String>,
}

impl LandingCaller {
    fn of(headers: &HeaderMap) -> Self {
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
        Self {
            wants_json: accept.trim_start().starts_with("application/json"),
            origin: headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned),
        }
    }
}

async fn landing(state: AppState, id: String, callback: CallbackParams, caller: LandingCaller) -> Response {
    let Ok(id) = VerificationId::parse(&id) else {
        return pages::error_page(StatusCode::NOT_FOUND, "not_found", "This verification does not exist.");
    };
    if let Err(error) = spend_for_verification(&state, &id).await {
        return match error {
            ApiError::Limited { .. } => error.into_response(),
            _ => pages::error_page(StatusCode::NOT_FOUND, "not_found", "This verification does not exist."),
        };
    }
    let outcome = {
        let (service, id) = (state.service.clone(), id.clone());
        detached(async move { service.complete(&id, &callback).await }).await
    };
    let error = outcome.as_ref().err().map(|e| e.code().as_str());
    let record = match outcome {
        Ok(v) => v,
        Err(_) => match state.service.peek(&id).await {
            Ok(v) => v,
            Err(e) => {
                return pages::error_page(
                    StatusCode::NOT_FOUND,
                    e.code().as_str(),
                    "This verification does not exist.",
                );
            }
        },
    };
    let status = serde_json::to_value(record.status_at(state.now()))
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "pending".into());
    let Some(return_url) = record.return_url() else {
        return pages::html(
            StatusCode::OK,
            "본인확인",
            r#"<p id="status">본인확인이 끝났습니다. 창을 닫아 주세요.</p>"#,
        );
    };
    let mut pairs = vec![("verification_id", id.as_str()), ("status", status.as_str())];
    if let Some(code) = error {
        pairs.push(("error", code));
    }
    match record.display() {
        Display::Page => redirect_with(return_url, &pairs),
        // A provider SDK that fetches the landing itself (mobileOK's) hands the body to the page's
        // callback and follows no redirect; so does bonin.js with an SDK's answer. An allowed
        // return origin may read it.
        Display::Popup if caller.wants_json || state.service.popup_landing(record.provider()) == PopupLanding::Json => {
            let body = serde_json::json!({"verification_id": id.as_str(), "status": status, "error": error});
            let mut response =
                ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body.to_string())
                    .into_response();
            // Only the verification's own return origin, as the popup landing posts only there.
            let own = crate::config::origin_of(return_url);
            if caller.origin.is_some() && caller.origin == own {
                allow_origin(&state, caller.origin.as_deref(), &mut response);
            }
            response
        }
        Display::Popup => {
            let origin = crate::config::origin_of(return_url).unwrap_or_default();
            let url = {
                let response = redirect_with(return_url, &pairs);
                response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or(return_url).to_owned()
            };
            pages::popup_landing(id.as_str(), &status, error, &origin, &url)
        }
    }
}

/// Browser landing for the provider's redirect
#[utoipa::path(get, path = "/v1/verifications/{id}/return", operation_id = "returnFromProvider", tag = "verifications",
    params(("id" = String, Path, description = "The verification's id.")),
    responses((status = 200, description = "popup: a page that posts the outcome to the opener (HTML), or JSON for an SDK that fetches the landing itself", content(("text/html"), (crate::openapi::LandingOutcome = "application/json"))),
        (status = 303, description = "page display: back to return_url with verification_id, status and error"),
        (status = 404, description = "unknown verification (an HTML page)", content_type = "text/html"), LandingProblems))]
async fn landing_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    landing(state, id, CallbackParams::from_pairs(CallbackTransport::Get, pairs), LandingCaller::of(&headers)).await
}

/// Browser landing for the provider's post-back
#[utoipa::path(post, path = "/v1/verifications/{id}/return", operation_id = "postBackFromProvider", tag = "verifications",
    params(("id" = String, Path, description = "The verification's id.")),
    request_body(content_type = "application/x-www-form-urlencoded", content = inline(BTreeMap<String, String>), description = "the provider's parameters as it posts them"),
    responses((status = 200, description = "popup: a page that posts the outcome to the opener (HTML), or JSON for an SDK that fetches the landing itself", content(("text/html"), (crate::openapi::LandingOutcome = "application/json"))),
        (status = 303, description = "page display: back to return_url with verification_id, status and error"),
        (status = 404, description = "unknown verification (an HTML page)", content_type = "text/html"), (status = 415, description = "the body is not sent as application/x-www-form-urlencoded", content_type = "text/plain"), LandingProblems))]
async fn landing_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    landing(state, id, CallbackParams::from_pairs(CallbackTransport::Post, pairs), LandingCaller::of(&headers)).await
}

/// Lets a page at an allowed return origin read `response`.
fn allow_origin(state: &AppState, origin: Option<&str>, response: &mut Response) {
    if let Some(origin) = origin
        && state.service.is_allowed_origin(origin)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// `GET|POST /v1/verifications/{id}/launch`: the data a provider SDK fetches (mobileOK posts here
/// from the merchant's page, possibly cross-origin: allowed return origins get CORS).
/// The data a provider's browser SDK fetches (the request it posts to the provider)
#[utoipa::path(get, path = "/v1/verifications/{id}/launch", operation_id = "getLaunchData", tag = "verifications",
    params(("id" = String, Path, description = "The verification's id.")),
    responses((status = 200, description = "provider-defined JSON", content_type = "application/json", body = inline(Object)), LaunchProblems))]
async fn launch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    spend_for_verification(&state, &id).await?;
    let data = state.service.launch_data(&id).await?;
    let mut response =
        ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], data).into_response();
    allow_origin(&state, headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), &mut response);
    Ok(response)
}

/// Liveness
#[utoipa::path(get, path = "/healthz", operation_id = "health", tag = "operations",
    responses((status = 200, description = "ok", body = String, content_type = "text/plain"), OpsProblems))]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness (the session store answers)
#[utoipa::path(get, path = "/readyz", operation_id = "readiness", tag = "operations",
    responses((status = 200, description = "ready", body = String, content_type = "text/plain"), OpsProblems))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.service.ready().await?;
    Ok("ready")
}

/// Prometheus metrics
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "text exposition", body = String, content_type = "text/plain"), OpsProblems))]
async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.service.render_metrics()).into_response()
}

/// This document
#[utoipa::path(get, path = "/openapi.json", operation_id = "openApiDocument", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", body = inline(Object)), OpsProblems))]
async fn openapi(served: crate::openapi::Served) -> Response {
    Json(crate::openapi::served(served)).into_response()
}

async fn demo_index(State(state): State<AppState>, signing: bool) -> Response {
    // Every provider the demo can drive in a browser: windows, and approvals in an app.
    let mut choices: Vec<(&'static str, &'static str)> =
        state.service.window_providers().into_iter().map(|p| (p.as_str(), "window")).collect();
    choices.extend(state.service.app_providers().into_iter().map(|p| (p.as_str(), "app")));
    pages::demo_index(&choices, signing)
}

async fn demo_done() -> Response {
    pages::demo_done()
}

async fn demo_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], pages::demo_js())
        .into_response()
}

/// Runs a step that may reach a provider to its end even when the request is dropped (the client
/// went away, or the request time limit answered first): a provider's answer (a consumed key token,
/// a confirmed code) is then still applied, and the caller reads the status. A panic in the step
/// is resumed here, so it is answered like any handler's panic.
async fn detached<T: Send + 'static>(
    step: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    use tracing::Instrument;
    match tokio::spawn(step.in_current_span()).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(Error::Indeterminate {
            dependency: Dependency::System,
            reason: "the step was stopped; read the status".into(),
        }),
    }
}

/// Hashes a key so comparisons run over equal-length inputs.
fn digest(key: &[u8]) -> aws_lc_rs::digest::Digest {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key)
}

/// The first 16 bytes of a digest: how a rate-limit bucket names a key or a verification without
/// holding it.
fn bucket_name(digest: &aws_lc_rs::digest::Digest) -> [u8; 16] {
    let mut name = [0; 16];
    name.copy_from_slice(&digest.as_ref()[..16]);
    name
}

/// The API key a request was accepted with, by a digest of it: the client its rate limits count.
#[derive(Debug, Clone, Copy)]
struct AcceptedKey([u8; 16]);

pub(crate) async fn require_api_key(
    State(keys): State<Arc<Vec<SecretString>>>,
    mut request: Request,
    next: Next,
) -> Response {
    if keys.is_empty() {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|v| digest(v.trim().as_bytes()));
    let Some(presented) = presented else { return ApiError::Unauthorized.into_response() };
    // Every key is compared (constant time each), so timing does not reveal which one matched.
    let mut matched = false;
    for key in keys.iter() {
        let expected = digest(key.expose_secret().as_bytes());
        matched |= aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_ref(), expected.as_ref()).is_ok();
    }
    if !matched {
        return ApiError::Unauthorized.into_response();
    }
    request.extensions_mut().insert(AcceptedKey(bucket_name(&presented)));
    next.run(request).await
}

/// Who a request counts against: its accepted API key, else its peer address.
fn client_of(request: &Request) -> Client {
    if let Some(AcceptedKey(digest)) = request.extensions().get::<AcceptedKey>() {
        return Client::Key(*digest);
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => Client::at(peer.ip()),
        None => Client::Unknown,
    }
}

async fn rate_limit(
    State((limiter, budget)): State<(Arc<RateLimiter>, Budget)>,
    request: Request,
    next: Next,
) -> Response {
    match limiter.spend(client_of(&request), budget) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            tracing::debug!(limit = budget.reason(), "request refused by a rate limit");
            ApiError::Limited { reason: budget.reason(), retry_after }.into_response()
        }
    }
}

/// The names a keyless API answers to.
#[derive(Debug)]
struct LocalNames {
    extra: Vec<String>,
}

/// The host part of a `Host` value (`name`, `name:port`, `[v6]:port`), lower-cased, without a
/// trailing dot.
fn host_name(authority: &str) -> String {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl LocalNames {
    fn allows(&self, authority: &str) -> bool {
        let name = host_name(authority);
        let ip = name.parse::<IpAddr>().ok();
        name == "localhost"
            || name.ends_with(".localhost")
            || ip.is_some_and(|ip| ip.is_loopback())
            || self.extra.contains(&ip.map_or(name, |ip| ip.to_string()))
    }
}

/// Without API keys, a browser on any page could drive the API through a name that resolves to
/// loopback (DNS rebinding); the `Host` it sends then names the attacker's domain. Requests
/// without a `Host` come from no browser and pass.
async fn require_local_host(State(names): State<Arc<LocalNames>>, request: Request, next: Next) -> Response {
    let authority = match request.headers().get(header::HOST) {
        Some(value) => Some(value.to_str().unwrap_or_default()),
        None => request.uri().authority().map(|a| a.as_str()),
    };
    match authority {
        Some(authority) if !names.allows(authority) => ApiError::ForeignHost.into_response(),
        _ => next.run(request).await,
    }
}

async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Domain(Error::Indeterminate {
            dependency: Dependency::System,
            reason: "the request took longer than server.request_timeout_secs".into(),
        })
        .into_response(),
    }
}

async fn fallback() -> ApiError {
    ApiError::Body { status: StatusCode::NOT_FOUND, detail: "no such endpoint".into() }
}

/// The whole router, with default [`Guards`] on the service's clock. Nest it under a prefix in a host
/// application if wanted; a service on another clock is served with [`router_with`].
pub fn router(service: Arc<VerificationService>, settings: ApiSettings) -> Router {
    let clock = service.clock();
    router_with(service, settings, Guards::new(clock))
}

/// The whole router, guarded by `guards`.
pub fn router_with(service: Arc<VerificationService>, settings: ApiSettings, guards: Guards) -> Router {
    let name = |host: &String| match host.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => host_name(host),
    };
    let mut local = LocalNames { extra: guards.hosts.iter().map(name).collect() };
    if let Some(origin) = crate::config::origin_of(&service.settings().public_url) {
        local.extra.extend(origin.split_once("://").map(|(_, authority)| host_name(authority)));
    }
    let limiter = Arc::new(RateLimiter::new(guards.limits, guards.clock.clone()));
    let limited = |budget: Budget| middleware::from_fn_with_state((limiter.clone(), budget), rate_limit);
    let default_provider = service.settings().default_provider;
    let state = AppState {
        service,
        open: OpenVerifications::new(guards.limits.max_open_verifications, guards.clock.clone()),
        clock: guards.clock,
        limiter: limiter.clone(),
    };
    let protected = Router::new()
        .route("/v1/verifications", post(start).route_layer(limited(Budget::Start)))
        .route("/v1/verifications/{id}", get(read))
        .route("/v1/verifications/{id}/complete", post(complete))
        .route("/v1/verifications/{id}/otp", post(otp_send).route_layer(limited(Budget::OtpSend)))
        .route("/v1/verifications/{id}/confirm", post(otp_confirm).route_layer(limited(Budget::Confirm)))
        .route("/v1/verifications/{id}/resend", post(otp_resend).route_layer(limited(Budget::OtpSend)))
        .route_layer(middleware::from_fn_with_state(settings.api_keys.clone(), require_api_key));
    let mut open = Router::new()
        .route("/v1/verifications/{id}/return", get(landing_get).post(landing_post))
        .route("/v1/verifications/{id}/launch", get(launch).post(launch))
        .route("/openapi.json", {
            // What this server answers: the operations routes only when they are on this port,
            // `/v1/signing` only when signing is configured.
            let served = crate::openapi::Served {
                ops: settings.ops,
                signing: settings.signing.is_some(),
                default_provider: Some(default_provider),
            };
            get(move || openapi(served))
        })
        .merge(crate::browser_js::routes());
    if settings.ops {
        open = open.route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics));
    }
    if settings.demo {
        let signing = settings.signing.is_some();
        open = open
            .route("/", get(move |state: State<AppState>| demo_index(state, signing)))
            .route("/demo/done", get(demo_done))
            .route("/demo.js", get(demo_js));
    }
    let mut router = protected.merge(open).fallback(fallback).with_state(state);
    if let Some(signing) = settings.signing {
        router = router.merge(crate::signing::routes(signing, settings.api_keys.clone()));
    }
    router = router
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(middleware::from_fn_with_state(settings.request_timeout, time_limit));
    if settings.api_keys.is_empty() {
        router = router.layer(middleware::from_fn_with_state(Arc::new(local), require_local_host));
    }
    // A panic anywhere below is answered with a fixed 500 problem, its message unread.
    // Outermost: the request id and the access line, around the panic catcher so that a panic's
    // 500 is logged and carries the id too.
    router.layer(middleware::from_fn(crate::panic::catch_panic)).layer(middleware::from_fn(crate::access::access_log))
}

/// The operations router of `server.admin_bind`: `/healthz`, `/readyz` and `/metrics` alone, with
/// request ids, the access log and the panic catcher of the API's router, and no API key (serve it
/// where only the scraper and the orchestrator reach it).
pub fn ops_router(service: Arc<VerificationService>) -> Router {
    let clock = service.clock();
    let state = AppState {
        service,
        open: OpenVerifications::new(ApiLimits::default().max_open_verifications, clock.clone()),
        limiter: Arc::new(RateLimiter::new(ApiLimits::default(), clock.clone())),
        clock,
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(fallback)
        .with_state(state)
        .layer(middleware::from_fn(crate::panic::catch_panic))
        .layer(middleware::from_fn(crate::access::access_log))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_read_without_port_brackets_case_or_trailing_dot() {
        let names = LocalNames { extra: vec!["bonin.test".into(), "::2".into()] };
        for allowed in ["localhost", "LocalHost.:8080", "a.localhost", "127.9.9.9:1", "[::1]", "[::1]:8080"] {
            assert!(names.allows(allowed), "{allowed}");
        }
        for allowed in ["bonin.test:8080", "BONIN.TEST.", "[::2]:8080", "[0:0:0:0:0:0:0:2]"] {
            assert!(names.allows(allowed), "{allowed}");
        }
        for refused in ["", "evil.example", "localhost.evil.example", "127.0.0.1.evil.example:80", "::1", "[::3]"] {
            assert!(!names.allows(refused), "{refused}");
        }
    }
}
