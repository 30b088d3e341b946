//! Toss 본인확인 (tosscert) for bonin: the app-approval shape. The server asks Toss to verify a
//! person, the person approves in the Toss app (push, app switch or Toss's web popup), the server
//! polls, then reads the result. There is no callback and no webhook \[C2\].
//!
//! Confidence tags (\[C3+\], \[C2\], \[S\], \[I\]) are the protocol reference's (`protocols/toss.md`).
//!
//! # Call order
//!
//! 1. **Token**: `POST {oauth_base}/token` (form: `grant_type=client_credentials&scope=ca&client_id&client_secret`).
//!    One token per `client_id`, held in the domain's single-flight cache for the `expires_in` Toss
//!    states (a year for test credentials) and shared across instances with
//!    [`TossClient::with_shared_tokens`]. A refused token (HTTP 401, `CE1000`) is replaced once and
//!    the call sent once more.
//! 2. **Request** ([`TossClient::request`]): `USER_NONE`, or `USER_PERSONAL` with the name, phone and
//!    birth date encrypted under a fresh session and its `sessionKey`. Toss answers a
//!    [`TossLaunch`]: the `txId` and the ways to reach the person (`authUrl`, app URIs). Never
//!    retried after it may have been sent.
//! 3. The person approves in the Toss app.
//! 4. **Status** ([`TossClient::status`]) until `COMPLETED` (or `EXPIRED`); a read, retried when safe.
//!    `COMPLETED` is not final: the result decides.
//! 5. **Result** ([`TossClient::result`]), under another fresh session: at most two successful
//!    reads, within 60 minutes of completion \[S\]; never retried automatically. `CE3102` is
//!    [`TossResult::NotCompleted`].
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use bonin_adapters_toss::*;
//! # use bonin_domain::*;
//! # async fn run(http: bonin_adapters_http::HttpClient) -> Result<(), Error> {
//! let config = TossConfig::new("client-id", SecretString::from("client-secret"))
//!     .with_public_key("MIICIjANBgkqhkiG9w0BAQEFAAOCAg8A…"); // Toss's, from its SDK
//! let toss = TossClient::new(config, http, Arc::new(SystemClock::new()), Arc::new(OsRng))?;
//! let person = TossRequest::user_personal(
//!     Name::new("홍길동")?, PhoneNumber::new("01012345678")?, BirthDate::parse("19900215")?,
//! );
//! let launch = toss.request(&person).await?; // hand launch.app_scheme (or auth_url) to the person
//! let tx_id = launch.tx_id.as_str();
//! while toss.status(tx_id).await? != TossStatus::Completed {
//!     tokio::time::sleep(std::time::Duration::from_secs(2)).await; // stop on EXPIRED in real code
//! }
//! if let TossResult::Completed(identity) = toss.result(tx_id).await? {
//!     let verified = identity.to_verified(toss.provider(), toss.clock().now());
//!     # let _ = verified;
//! }
//! # Ok(()) }
//! ```
//!
//! # What is kept
//!
//! From the result: CI, DI, name, birth date, gender, nationality and age group, decrypted into the
//! domain's masked types ([`TossIdentity`]); Toss sends no phone and no carrier \[S\]. The
//! `signature` (PKCS#7 by the person's Toss certificate) is kept opaque as evidence with the `txId`
//! and `completedDt`. Unknown statuses and error codes are kept verbatim.
//!
//! # What is never logged
//!
//! Request and response bodies, the personal data (clear or encrypted), the `sessionKey`, session
//! keys and IVs, the client secret, the access token and the signature. Logs carry the endpoint,
//! status and timing (through [`bonin_adapters_http::HttpClient`]); `Debug` of every type here masks
//! the same things, and error texts are fixed sentences with provider codes.
//!
//! # Provider id
//!
//! The [`ProviderId`](bonin_domain::ProviderId) this adapter reports under is the one its
//! [`HttpClient`](bonin_adapters_http::HttpClient) was built for, so the crate names no id of its
//! own; the host builds that client with `ProviderId::Toss` once the domain has it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod codes;
mod config;
mod crypto;
mod identity;
mod provider;
mod wire;

pub use client::{TossClient, TossRequest, TossResult};
pub use config::{PathFamily, TossConfig, TriggerType};
pub use crypto::{
    CryptoError, IV_LEN, KEY_LEN, OpenedSessionKey, TossPublicKey, TossSession, VERSION, open_session_key,
};
pub use identity::{AgeGroup, TossIdentity, TossSignature};
pub use provider::{LAUNCH_KIND, SCRIPT_URL, Toss};
pub use wire::{ApiError, MAX_TOKEN_LIFETIME, TossLaunch, TossStatus, parse_time, parse_token};
