//! mobileOK (Dream Security) 본인확인: the hosted window (본인확인-표준창, JS SDK
//! `MOBILEOK.process`) and the server-driven API (본인확인-API: SMS/LMS OTP and PASS).
//!
//! [`MobileokClient`] implements [`WindowVerifier`](bonin_domain::WindowVerifier) and
//! [`OtpVerifier`](bonin_domain::OtpVerifier). Its [`KeyFile`] is unlocked once and held as a value,
//! so dev and prod configurations can live side by side in one process.
//!
//! # Call order, 표준창
//!
//! 1. `start` (with [`WindowRequest::launch_url`](bonin_domain::WindowRequest::launch_url) set):
//!    returns a `mobileok` launch (the SDK script and the request URL) and the session state.
//! 2. The SDK posts to the request URL; answer it with `launch_data(session)`, the
//!    `MOKReqClientInfo` JSON. Each call builds it afresh with a new `clientTxId` (the verification
//!    id plus a random suffix), since the window may be opened more than once and mobileOK refuses
//!    a `clientTxId` it has seen.
//! 3. Dream's window posts `data` to the return URL; `complete` exchanges the `encryptMOKKeyToken`
//!    at once (`result/request`), decrypts the result, checks `clientTxId`, and reports `issueDate`
//!    so the 600-second rule is enforced. In popup (`WB`) mode the return URL must answer 200 with a
//!    body.
//!
//! # Who may end a 표준창 session
//!
//! The return URL is open: anyone holding a pending verification id can post `data` to it, so
//! nothing in `data` is believed. Only a result bonin itself fetched from mobileOK's server with a
//! key token, decrypted with the key file, naming this session's `clientTxId` and carrying a
//! readable `issueDate`, changes the session: it verifies it, or, when older than 600 seconds,
//! expires it. Everything else leaves it pending:
//!
//! * an `encryptMOKResult` in `data` is an `IntegrityMismatch`. bonin always asks for `MOKToken`,
//!   and such a result is sealed only to the client's public key, so anyone could have built it;
//! * a `resultCode` other than `2000` in `data` (a cancel, or one made up) is `Unconfirmed`, its
//!   code kept verbatim for display;
//! * a key token mobileOK will not exchange (made up, spent or stale) is an `IntegrityMismatch`.
//!
//! `complete` therefore never returns `Rejected`.
//!
//! # Call order, 본인확인-API
//!
//! `send` (token/get at the configured [`TokenEndpoint`], then auth/request, with a fresh
//! `clientTxId`) → `confirm` (confirm/request; a wrong code hands back a new token for the next
//! attempt) → or `resend`. LMS is sent as `reqAuthType: "SMS"` with `serviceType:
//! "telcoAuth-LMS"`. mobileOK's rules ([`FLOW_RULES`]: 10 min, 7 min, 3 attempts) apply to the
//! session.
//! Every reply here comes from mobileOK's server to bonin, so its refusals are mobileOK's own: a
//! refused request is `Rejected`, a refused SMS/LMS confirm an attempt, and a refused PASS confirm
//! that hands back a new token `NotYetApproved` (the push is not answered yet; no attempt is
//! used).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codes;
mod config;
pub mod crypto;
mod flow;
mod keyfile;
mod launch;
mod provider;

use std::time::Duration;

use bonin_domain::FlowRules;
pub use config::{MobileokConfig, TokenEndpoint};
pub use crypto::CryptoGeneration;
pub use flow::MobileokClient;
pub use keyfile::KeyFile;
pub use launch::MobileokLaunch;
pub use provider::Mobileok;

/// mobileOK's rules, which [`MobileokClient`] states for both flows: the token lives 10 minutes
/// in total, authentication must finish within 7 minutes after the auth request, the OTP may be
/// retried twice (3 attempts), and a result may be at most 600 s old (`issueDate`).
pub const FLOW_RULES: FlowRules = FlowRules::new(Duration::from_secs(10 * 60))
    .with_confirm_window(Some(Duration::from_secs(7 * 60)))
    .with_max_otp_attempts(3)
    .with_max_result_age(Some(Duration::from_secs(600)));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flow_rules_are_mobileoks_limits() {
        assert_eq!(FLOW_RULES.session_ttl, Duration::from_secs(600));
        assert_eq!(FLOW_RULES.confirm_window, Some(Duration::from_secs(420)));
        assert_eq!(FLOW_RULES.max_otp_attempts, 3);
        assert_eq!(FLOW_RULES.max_result_age, Some(Duration::from_secs(600)));
    }
}
