//! The retrying client adapters call.

use std::{sync::Arc, time::Duration};

use bonin_domain::{Dependency, Error, OsRng, ProviderId, Rng};

use crate::{HttpRequest, HttpResponse, HttpTransport, Idempotency, TransportError};

/// When and how often to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (1 = never retry).
    pub max_attempts: u32,
    /// Backoff base: attempt *n* waits a random time up to `base_delay · 2ⁿ⁻¹` ("full jitter").
    pub base_delay: Duration,
    /// Upper bound of one wait.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// Never retry.
    pub const NONE: Self = Self { max_attempts: 1, base_delay: Duration::ZERO, max_delay: Duration::ZERO };
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 3, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(2) }
    }
}

/// A transport plus the retry rules, speaking for one provider.
#[derive(Debug, Clone)]
pub struct HttpClient {
    provider: ProviderId,
    transport: Arc<dyn HttpTransport>,
    retry: RetryPolicy,
}

/// HTTP statuses that mean "not processed, try again" from a gateway or an overloaded server.
fn is_retryable_status(status: u16) -> bool {
    matches!(status, 502..=504)
}

impl HttpClient {
    /// A client for `provider`.
    pub fn new(provider: ProviderId, transport: Arc<dyn HttpTransport>, retry: RetryPolicy) -> Self {
        Self { provider, transport, retry }
    }

    /// The provider this client speaks for.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// Sends `request`, retrying only when safe, and returns the response whatever its status (the
    /// adapter reads provider error envelopes from 4xx/5xx bodies). Transport failures become
    /// `Unavailable` (not processed, or idempotent) or `Indeterminate` (may have been processed).
    pub async fn send(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let idempotent = request.idempotency == Idempotency::Idempotent;
        let mut attempt = 1;
        loop {
            let started = std::time::Instant::now();
            let outcome = self.transport.execute(&request).await;
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let retry = match &outcome {
                Ok(response) => {
                    tracing::debug!(provider = %self.provider, endpoint = request.label, method = request.method.as_str(),
                        status = response.status, elapsed_ms, attempt, "provider call");
                    idempotent && is_retryable_status(response.status)
                }
                Err(error) => {
                    tracing::debug!(provider = %self.provider, endpoint = request.label, method = request.method.as_str(),
                        error = %error, elapsed_ms, attempt, "provider call failed");
                    matches!(error, TransportError::Connect)
                        || (idempotent && !matches!(error, TransportError::InvalidRequest(_)))
                }
            };
            if !retry || attempt >= self.retry.max_attempts {
                return outcome.map_err(|error| self.to_domain(error, idempotent));
            }
            tokio::time::sleep(self.backoff(attempt)).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.retry.base_delay.saturating_mul(1 << (attempt - 1).min(16)).min(self.retry.max_delay);
        let mut bytes = [0u8; 4];
        let fraction = match OsRng.fill_bytes(&mut bytes) {
            Ok(()) => f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        ceiling.mul_f64(fraction)
    }

    fn to_domain(&self, error: TransportError, idempotent: bool) -> Error {
        let dependency = Dependency::Provider(self.provider);
        match error {
            TransportError::InvalidRequest(reason) => {
                Error::misconfigured(format!("request to {} refused before sending: {reason}", self.provider))
            }
            TransportError::Connect => Error::Unavailable { dependency, reason: "could not connect".into() },
            error if idempotent => Error::Unavailable { dependency, reason: error.to_string().into() },
            error => Error::Indeterminate { dependency, reason: error.to_string().into() },
        }
    }
}
