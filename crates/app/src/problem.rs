//! RFC 9457 problem+json responses with bonin's stable codes. The `detail` is the error's fixed
//! sentence: never a body, personal data or a secret.

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
                problem(status, code, &error.to_string(), provider_code)
            }
            Self::Unauthorized => {
                let mut response =
                    problem(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, "missing or invalid API key", None);
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                response
            }
            Self::Body { status, detail } => problem(status, ErrorCode::InvalidRequest, &detail, None),
        }
    }
}
