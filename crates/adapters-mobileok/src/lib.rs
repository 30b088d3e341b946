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
//!    builds the `MOKReqClientInfo` JSON (`clientTxId` = the verification id) and returns a
//!    `mobileok` launch: the SDK script and the request URL.
//! 2. The SDK posts to the request URL; answer it with `launch_data(session)`.
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
//! `send` (token/get → auth/request) → `confirm` (confirm/request; a wrong code hands back a new
//! token for the next attempt) → or `resend`. The domain's mobileOK rules (10 min, 7 min, 3
//! attempts) apply to the session. Every reply here comes from mobileOK's server to bonin, so its
//! refusals are mobileOK's own: a refused request is `Rejected`, a refused confirm an attempt.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codes;
mod config;
pub mod crypto;
mod flow;
mod keyfile;

pub use config::MobileokConfig;
pub use crypto::CryptoGeneration;
pub use flow::MobileokClient;
pub use keyfile::KeyFile;
