//! The REST API (see `docs/openapi.json`).
//!
//! | method, path | auth | what |
//! |---|---|---|
//! | `POST /v1/verifications` | API key | start |
//! | `GET\|POST /v1/verifications/{id}/return` | none (browser) | provider landing |
//! | `POST /v1/verifications/{id}/complete` | API key | server-to-server completion |
//! | `POST /v1/verifications/{id}/otp`, `/confirm`, `/resend` | API key | OTP flow |
//! | `GET /v1/verifications/{id}` | API key | status, identity once |
//! | `GET /healthz`, `/readyz`, `/metrics`, `/openapi.json`, `/` | none | |
//!
//! The e-signature endpoints (`/v1/signing…`) are in [`crate::signing`].

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Duration};

use axum::{
    Form, Json, Router,
    extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State, rejection::JsonRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bonin_domain::{
    BirthDate, CallbackParams, CallbackTransport, Carrier, Dependency, Display, Error, ExposeSecret, Gender, Launch,
    Method, Name, Nationality, OtpChannel, OtpCode, OtpSubject, PhoneNumber, ProviderId, Purpose, SecretString, Status,
    Verification, VerificationId, VerifiedIdentity,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
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
            .field("signing", &self.signing)
            .finish()
    }
}

#[derive(Clone)]
struct AppState {
    service: Arc<VerificationService>,
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

/// `POST /v1/verifications` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// Provider id, or the configured default.
    #[serde(default)]
    pub provider: Option<ProviderId>,
    /// `window` or `otp`.
    pub method: Method,
    /// Final browser destination; its origin must be allowed.
    #[serde(default)]
    pub return_url: Option<String>,
    /// Purpose.
    #[serde(default)]
    pub purpose: Option<Purpose>,
    /// `popup` (default) or `page`.
    #[serde(default)]
    pub display: Option<Display>,
    /// Minimum age.
    #[serde(default)]
    pub min_age: Option<u8>,
}

/// The error part of a verification.
#[derive(Debug, Serialize)]
pub struct FailureBody {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_code: Option<String>,
}

/// A verification as the API shows it.
#[derive(Debug, Serialize)]
pub struct VerificationBody {
    id: String,
    provider: ProviderId,
    method: Method,
    status: Status,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: time::OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    launch: Option<Launch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<VerifiedIdentity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<FailureBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    otp_attempts_left: Option<u8>,
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
    }
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

async fn start(State(state): State<AppState>, JsonBody(body): JsonBody<StartBody>) -> Result<Response, ApiError> {
    let started = state
        .service
        .start(StartRequest {
            provider: body.provider,
            method: body.method,
            return_url: body.return_url,
            purpose: body.purpose,
            display: body.display.unwrap_or_default(),
            min_age: body.min_age,
        })
        .await?;
    let body = body_of(&started.verification, now(), started.launch);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let v = state.service.get(&id).await?;
    Ok(Json(body_of(&v, now(), None)))
}

/// `POST /v1/verifications/{id}/complete` body: the callback parameters as received.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// Parameter name → value.
    pub params: BTreeMap<String, String>,
}

async fn complete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CompleteBody>,
) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let callback = CallbackParams::from_pairs(CallbackTransport::Api, body.params);
    let v = state.service.complete(&id, &callback).await?;
    Ok(Json(body_of(&v, now(), None)))
}

/// `POST /v1/verifications/{id}/otp` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtpSendBody {
    name: String,
    phone: String,
    birth_date: String,
    gender: Gender,
    nationality: Nationality,
    carrier: Carrier,
    #[serde(default)]
    auth_type: Option<OtpChannel>,
    /// The end user's IP address (some providers require it).
    #[serde(default)]
    client_ip: Option<IpAddr>,
}

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
    let v = state.service.otp_send(&id, subject, body.auth_type.unwrap_or(OtpChannel::Sms), body.client_ip).await?;
    Ok(Json(body_of(&v, now(), None)))
}

/// `POST /v1/verifications/{id}/confirm` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The code; absent for app approval (PASS).
    #[serde(default)]
    code: Option<String>,
}

async fn otp_confirm(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ConfirmBody>,
) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let code = body.code.map(OtpCode::new).transpose()?;
    let v = state.service.otp_confirm(&id, code).await?;
    Ok(Json(body_of(&v, now(), None)))
}

async fn otp_resend(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<VerificationBody>, ApiError> {
    let id = parse_id(&id)?;
    let v = state.service.otp_resend(&id).await?;
    Ok(Json(body_of(&v, now(), None)))
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

async fn landing(state: AppState, id: String, callback: CallbackParams) -> Response {
    let Ok(id) = VerificationId::parse(&id) else {
        return pages::error_page(StatusCode::NOT_FOUND, "not_found", "This verification does not exist.");
    };
    let outcome = state.service.complete(&id, &callback).await;
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
    let status = serde_json::to_value(record.status_at(now()))
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
        // mobileOK's SDK hands the landing's body to the page's callback and follows no redirect.
        Display::Popup if record.provider() == ProviderId::Mobileok => {
            let body = serde_json::json!({"verification_id": id.as_str(), "status": status, "error": error});
            ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body.to_string())
                .into_response()
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

async fn landing_get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    landing(state, id, CallbackParams::from_pairs(CallbackTransport::Get, pairs)).await
}

async fn landing_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    landing(state, id, CallbackParams::from_pairs(CallbackTransport::Post, pairs)).await
}

/// `GET|POST /v1/verifications/{id}/launch`: the data a provider SDK fetches (mobileOK posts here
/// from the merchant's page, possibly cross-origin: allowed return origins get CORS).
async fn launch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let data = state.service.launch_data(&id).await?;
    let mut response =
        ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], data).into_response();
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && state.service.is_allowed_origin(origin)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        response.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(response)
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.service.ready().await?;
    Ok("ready")
}

async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.service.render_metrics()).into_response()
}

async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

async fn demo_index(State(state): State<AppState>) -> Response {
    let providers = state.service.window_providers();
    let names: Vec<&str> = providers.iter().map(|p| p.as_str()).collect();
    pages::demo_index(&names)
}

async fn demo_done() -> Response {
    pages::demo_done()
}

async fn demo_js() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], pages::DEMO_JS)
        .into_response()
}

/// Hashes a key so comparisons run over equal-length inputs.
fn digest(key: &[u8]) -> aws_lc_rs::digest::Digest {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key)
}

pub(crate) async fn require_api_key(
    State(keys): State<Arc<Vec<SecretString>>>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if keys.is_empty() {
        return next.run(request).await;
    }
    let presented = headers
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
    if matched { next.run(request).await } else { ApiError::Unauthorized.into_response() }
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

/// The whole router. Nest it under a prefix in a host application if wanted.
pub fn router(service: Arc<VerificationService>, settings: ApiSettings) -> Router {
    let state = AppState { service };
    let protected = Router::new()
        .route("/v1/verifications", post(start))
        .route("/v1/verifications/{id}", get(read))
        .route("/v1/verifications/{id}/complete", post(complete))
        .route("/v1/verifications/{id}/otp", post(otp_send))
        .route("/v1/verifications/{id}/confirm", post(otp_confirm))
        .route("/v1/verifications/{id}/resend", post(otp_resend))
        .route_layer(middleware::from_fn_with_state(settings.api_keys.clone(), require_api_key));
    let mut open = Router::new()
        .route("/v1/verifications/{id}/return", get(landing_get).post(landing_post))
        .route("/v1/verifications/{id}/launch", get(launch).post(launch))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi));
    if settings.demo {
        open = open.route("/", get(demo_index)).route("/demo/done", get(demo_done)).route("/demo.js", get(demo_js));
    }
    let mut router = protected.merge(open).fallback(fallback).with_state(state);
    if let Some(signing) = settings.signing {
        router = router.merge(crate::signing::routes(signing, settings.api_keys.clone()));
    }
    router
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(middleware::from_fn_with_state(settings.request_timeout, time_limit))
}
