//! The one HTTP client every bonin adapter uses.
//!
//! - [`HttpRequest`] / [`HttpResponse`] are plain data, so adapters can be tested by handing a
//!   [`FnTransport`] canned responses (the test double seam), and provider simulators can be reached
//!   over real loopback HTTP with [`ReqwestTransport`].
//! - [`ReqwestTransport`]: rustls with TLS ≥ 1.2, connect and total timeouts, redirects never
//!   followed, response bodies capped, plain `http://` refused except to loopback hosts (unless
//!   allowed explicitly).
//! - [`HttpClient`] retries only when that is provably safe: a connect failure (the request never
//!   left), or an idempotent request that timed out or got HTTP 502/503/504.
//! - [`standard_webhooks`]: Standard Webhooks signing and verification (PortOne's webhooks in,
//!   bonin's events out).
//! - Bodies are never copied into errors or logs; logs carry the endpoint label, method, status and
//!   timing only.
//!
//! ```no_run
//! # async fn run() -> Result<(), bonin_domain::Error> {
//! use std::sync::Arc;
//! use bonin_adapters_http::{HttpClient, HttpConfig, HttpRequest, Idempotency, ReqwestTransport, RetryPolicy};
//! use bonin_domain::ProviderId;
//!
//! let transport = ReqwestTransport::new(&HttpConfig::default())?;
//! let client = HttpClient::new(ProviderId::Nice, Arc::new(transport), RetryPolicy::default());
//! let request = HttpRequest::post("nice.crypto_token", "https://svc.niceapi.co.kr:22001/digital/niceid/api/v1.0/common/crypto/token")
//!     .header("Content-Type", "application/json")
//!     .body(br#"{"dataHeader":{"CNTY_CD":"ko"}}"#.to_vec())
//!     .idempotency(Idempotency::Idempotent);
//! let response = client.send(request).await?;
//! # let _ = response.status; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod message;
pub mod provider;
pub mod standard_webhooks;
mod transport;

pub use client::{HttpClient, RetryPolicy};
pub use message::{HttpMethod, HttpRequest, HttpResponse, Idempotency, encode_component};
pub use transport::{FnTransport, HttpConfig, HttpTransport, ReqwestTransport, TransportError};
