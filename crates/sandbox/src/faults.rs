//! Per-endpoint fault injection.
//!
//! An endpoint is named by its route path as registered (`/digital/niceid/api/v1.0/common/crypto/token`,
//! `/certifications/{imp_uid}`). Faults queue per endpoint and are consumed one request at a time;
//! endpoints without a queued fault answer normally.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    body::{Body, to_bytes},
    extract::{FromRequestParts, MatchedPath, Request, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long, then answer normally.
    Latency {
        /// The delay in milliseconds.
        millis: u64,
    },
    /// Answer with this HTTP status and a short plain-text body, without running the simulator.
    Status {
        /// The status code.
        status: u16,
    },
    /// Never answer (the client's timeout must fire). The connection is held for an hour.
    Hang,
    /// Answer 200 with a body that is not valid JSON.
    Malformed,
    /// Run the simulator, then cut its body in half.
    Truncated,
    /// Have the simulator answer with this provider error code, in the provider's own envelope.
    ProviderCode {
        /// The provider's code, verbatim.
        code: String,
    },
}

impl Fault {
    /// [`Fault::Latency`] from a duration.
    pub fn latency(delay: Duration) -> Self {
        Self::Latency { millis: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX) }
    }

    /// [`Fault::Status`].
    pub fn status(status: u16) -> Self {
        Self::Status { status }
    }

    /// [`Fault::ProviderCode`].
    pub fn provider_code(code: impl Into<String>) -> Self {
        Self::ProviderCode { code: code.into() }
    }
}

/// How many requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Times {
    /// The next request only.
    Once,
    /// The next `n` requests.
    Count(u32),
    /// Every request until cleared.
    Always,
}

#[derive(Debug)]
struct Scheduled {
    fault: Fault,
    remaining: Option<u32>,
}

/// The fault registry of one sandbox server. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    queues: Arc<Mutex<HashMap<String, VecDeque<Scheduled>>>>,
}

impl Faults {
    /// Queues `fault` on `endpoint` for `times` requests (after any fault already queued there).
    pub fn inject(&self, endpoint: &str, fault: Fault, times: Times) {
        let remaining = match times {
            Times::Once => Some(1),
            Times::Count(0) => return,
            Times::Count(n) => Some(n),
            Times::Always => None,
        };
        self.lock().entry(endpoint.to_owned()).or_default().push_back(Scheduled { fault, remaining });
    }

    /// Removes every queued fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Takes the fault for the next request to `endpoint`, if any.
    pub fn take(&self, endpoint: &str) -> Option<Fault> {
        let mut queues = self.lock();
        let queue = queues.get_mut(endpoint)?;
        let head = queue.front_mut()?;
        let fault = head.fault.clone();
        if let Some(remaining) = head.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                queue.pop_front();
            }
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Scheduled>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A provider error code injected for this request ([`Fault::ProviderCode`]); simulators extract it
/// and answer with that code in their own envelope. `None` when no code was injected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedProviderCode(pub Option<String>);

#[derive(Clone)]
struct InjectedCodeExtension(String);

impl<S: Send + Sync> FromRequestParts<S> for InjectedProviderCode {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<InjectedCodeExtension>().map(|c| c.0.clone())))
    }
}

/// The middleware applying queued faults; installed by [`SandboxServer`](crate::SandboxServer) as a
/// route layer, so the matched route path names the endpoint.
pub(crate) async fn apply_faults(State(faults): State<Faults>, mut request: Request, next: Next) -> Response {
    let endpoint = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(fault) = endpoint.as_deref().and_then(|e| faults.take(e)) else {
        return next.run(request).await;
    };
    tracing::debug!(endpoint = endpoint.as_deref().unwrap_or(""), ?fault, "injecting fault");
    match fault {
        Fault::Latency { millis } => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(request).await
        }
        Fault::Status { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, "injected fault").into_response()
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Fault::Malformed => {
            let mut response = Response::new(Body::from("{\"dataHeader\": [<<not json"));
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Fault::Truncated => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(cut))
        }
        Fault::ProviderCode { code } => {
            request.extensions_mut().insert(InjectedCodeExtension(code));
            next.run(request).await
        }
    }
}
