//! RFC 9457 problem+json responses with bonin's stable codes. The `detail` is the error's fixed
//! sentence: never a body, personal data or a secret.

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bonin_domain::{Error, ErrorCode};
use serde_json::json;

/// An API error.
#[derive(Debug)]
pub enum ApiError {
    /// A domain error.
    Domain(Error),
    /// Missing or wrong API key.
    Unauthorized,
    /// The request body could not be read (`status` 400, 413 or 415).
    Body {
        /// HTTP status.
        status: StatusCode,
        /// What was wrong (a fixed description).
        detail: String,
    },
    /// A limit was reached: `429 rate_limited` with `Retry-After`.
    Limited {
        /// Which limit (a fixed description naming its setting).
        reason: &'static str,
        /// When the client may try again.
        retry_after: Duration,
    },
    /// The keyless API was addressed by a host name that is not loopback or this service's own
    /// (DNS rebinding).
    ForeignHost,
    /// A handler panicked ([`crate::panic::catch_panic`]): `500 misconfigured` with a fixed detail;
    /// the panic's message never reaches the answer.
    Internal,
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::Domain(error)
    }
}

fn problem(status: StatusCode, code: ErrorCode, detail: &str, provider_code: Option<&str>) -> Response {
    let mut body = json!({
        "type": format!("urn:bonin:error:{}", code.as_str()),
        "title": code.advice(),
        "status": status.as_u16(),
        "detail": detail,
        "code": code.as_str(),
    });
    if let Some(provider_code) = provider_code {
        body["provider_code"] = json!(provider_code);
    }
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Domain(error) => {
                let code = error.code();
                let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let provider_code = match &error {
                    Error::Rejected { code, .. } => Some(code.as_str()),
                    _ => None,
                };
                let mut response = problem(status, code, &error.to_string(), provider_code);
                if matches!(error, Error::RateLimited { .. }) {
                    // Every `rate_limited` answer says when to come back; without a better
                    // estimate, after the per-minute window.
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                }
                response
            }
            Self::Unauthorized => {
                let mut response =
                    problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, "missing or invalid API key", None);
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Self::Body { status, detail } => problem(status, ErrorCode::InvalidRequest, &detail, None),
            Self::Limited { reason, retry_after } => {
                let error = Error::RateLimited { reason: reason.into() };
                let mut response = problem(StatusCode::TOO_MANY_REQUESTS, error.code(), &error.to_string(), None);
                // Whole seconds, rounded up, at least one.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
                response
            }
            Self::ForeignHost => problem(
                StatusCode::FORBIDDEN,
                ErrorCode::InvalidRequest,
                "without server.api_keys this API answers only requests addressed to a loopback name, the bind \
                 address or server.public_url's host (DNS rebinding protection); configure API keys to serve \
                 other names",
                None,
            ),
            Self::Internal => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Misconfigured,
                "an internal error occurred while handling the request; read the current status before retrying",
                None,
            ),
        }
    }
}
