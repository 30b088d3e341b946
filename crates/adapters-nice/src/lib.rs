//! NICE평가정보 본인확인 (통합형), "API 방식": an institution access token, a crypto token per
//! verification, an AES/HMAC-protected request to the hosted 표준창, and an encrypted EUC-KR result
//! delivered to the return URL.
//!
//! [`NiceClient`] implements [`WindowVerifier`](bonin_domain::WindowVerifier).
//!
//! # Call order
//!
//! 1. [`WindowVerifier::start`](bonin_domain::WindowVerifier::start): gets the access token (cached
//!    for its ~50-year life, or taken from config), requests a crypto token, derives the session
//!    keys, encrypts the request and returns a `form` launch (`m=service`, `token_version_id`,
//!    `enc_data`, `integrity_value`) plus the keys as [`ProviderState`](bonin_domain::ProviderState)
//!    keyed by `token_version_id`. Store it server-side; the keys never reach the browser.
//! 2. The browser submits the form to NICE's window; NICE sends it back to the return URL by GET or
//!    POST with `token_version_id`, `enc_data`, `integrity_value`.
//! 3. [`WindowVerifier::complete`](bonin_domain::WindowVerifier::complete) with the stored session:
//!    checks expiry, verifies the HMAC in constant time, decrypts, decodes EUC-KR/CP949, checks
//!    `requestno`, `sitecode` (when the result carries one) and `resultcode`, and returns the
//!    identity. Apply it with compare-and-swap so a replay is refused.
//!
//! The return URL is an `https`/`http` URL, or an app scheme listed in
//! [`NiceConfig::app_return_schemes`] (then NICE is asked to deliver by GET).
//!
//! ```no_run
//! # async fn run() -> Result<(), bonin_domain::Error> {
//! use bonin_adapters_nice::{NiceClient, NiceConfig};
//! use bonin_domain::{OsRng, VerificationId, WindowRequest, WindowVerifier};
//!
//! let config: NiceConfig = serde_json::from_str(r#"{"client_id": "my-client", "client_secret": "…"}"#)
//!     .map_err(|_| bonin_domain::Error::misconfigured("bad NICE config"))?;
//! let nice = NiceClient::from_config(config)?;
//! let id = VerificationId::generate(&OsRng)?;
//! let start = nice.start(&WindowRequest::new(id, "https://id.example/v1/verifications/…/return")).await?;
//! # let _ = start; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codes;
mod config;
pub mod crypto;
mod flow;
mod provider;
mod wire;

use std::time::Duration;

use bonin_domain::FlowRules;
pub use config::{CallbackMethod, NiceConfig, RevokeScheme};
pub use flow::NiceClient;
pub use provider::Nice;

/// NICE's rules, which [`NiceClient`] states: an hour in total, and the session cannot outlive
/// the crypto token's `period`, whose end the client passes as the session's provider deadline
/// (see [`Verification::with_provider_session`](bonin_domain::Verification::with_provider_session)).
pub const FLOW_RULES: FlowRules = FlowRules::new(Duration::from_secs(60 * 60));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_rules_are_an_hour_and_nothing_else() {
        assert_eq!(FLOW_RULES, FlowRules::new(Duration::from_secs(3600)));
        assert_eq!((FLOW_RULES.confirm_window, FLOW_RULES.max_result_age), (None, None));
    }
}
