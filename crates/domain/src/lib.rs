//! bonin's pure core: the verification flows, the session state machine, the ports every adapter and
//! store implements, one error taxonomy, and personal data as masked newtypes.
//!
//! This crate does no I/O: no HTTP, no database, no runtime. Time and randomness come in through
//! [`Clock`] and [`Rng`], so every provider rule can be tested at its exact edge.
//!
//! # Call order of a hosted-window verification
//!
//! ```
//! # use std::{sync::Arc, time::Duration};
//! # use bonin_domain::*;
//! # async fn run(adapter: &dyn WindowVerifier, store: &dyn SessionStore, clock: &dyn Clock,
//! #              rng: &dyn Rng, callback: CallbackParams) -> Result<(), Error> {
//! // 1. Start: ask the adapter for the launch and keep its state server-side.
//! let id = VerificationId::generate(rng)?;
//! let request = WindowRequest::new(id.clone(), format!("https://id.example/v1/verifications/{id}/return"));
//! let start = adapter.start(&request).await?;
//! let session = Verification::start(id.clone(), adapter.provider(), Method::Window, adapter.rules(), clock.now())
//!     .with_provider_session(start.provider_key, start.provider_state, start.valid_until);
//! let ttl = Duration::from_secs(3600);
//! store.create(&session, ttl).await?;
//! // 2. Hand `start.launch` to the browser. The provider brings the browser back with `callback`.
//! // 3. Complete: verify the callback against the stored session, then apply it exactly once.
//! let session = store.get(&id).await?.ok_or(Error::NotFound)?;
//! session.ensure_open(clock.now())?;
//! let completion = adapter.complete(&session, &callback).await?;
//! if let Some(issued_at) = completion.result_issued_at {
//!     session.check_result_age(issued_at, clock.now())?;
//! }
//! let next = session.verified(clock.now(), completion.identity)?;
//! match store.compare_and_swap(session.version(), &next, ttl).await? {
//!     CasOutcome::Swapped => Ok(()),
//!     CasOutcome::Conflict(_) => Err(Error::AlreadyCompleted), // another request applied it first
//! }
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// On docs.rs (nightly), each item gated by a cargo feature is badged with it.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod app_flow;
mod clock;
mod error;
pub mod events;
mod flow;
mod identity;
mod pii;
pub mod service;
mod signing;
mod store;
mod token;
mod verification;

#[cfg(feature = "mock")]
pub use app_flow::MockAppVerifier;
pub use app_flow::{
    AppPoll, AppRequest, AppStart, AppState, AppSubject, AppVerifier, MIN_POLL_INTERVAL, POLL_LEASE, POLL_TIME_LIMIT,
};
pub use clock::{Clock, KST, ManualClock, OsRng, Rng, SequenceRng, SystemClock, Timestamp};
#[cfg(feature = "mock")]
pub use clock::{MockClock, MockRng};
pub use error::{Dependency, Error, ErrorCode, UNCONFIRMED_CODE_MAX};
#[cfg(feature = "mock")]
pub use events::MockOutbox;
pub use events::{EventData, Outbox, OutboxEvent};
pub use flow::{
    CallbackParams, CallbackTransport, Completion, Display, FormField, FormLaunch, FormMethod, Launch, OtpChannel,
    OtpDispatch, OtpOutcome, OtpRequest, OtpSubject, OtpVerifier, PopupLanding, Prefill, ScriptLaunch, WindowRequest,
    WindowStart, WindowVerifier,
};
#[cfg(feature = "mock")]
pub use flow::{MockOtpVerifier, MockWindowVerifier};
pub use identity::{Carrier, Evidence, Gender, Nationality, ProviderId, ProviderTxId, VerifiedIdentity};
pub use pii::{BirthDate, Ci, Di, Email, Name, OtpCode, PhoneNumber};
/// Credentials are `secrecy` strings: zeroized on drop, masked in `Debug`.
pub use secrecy::{ExposeSecret, SecretString};
pub use service::{
    EXPIRY_GRACE, NoObserver, ServiceObserver, ServiceSettings, StartRequest, Started, VerificationService,
};
#[cfg(feature = "mock")]
pub use signing::MockSigningWorkflows;
pub use signing::{
    CancelCommand, ExportTarget, Signer, SigningRequest, SigningWorkflows, WorkflowEvent, WorkflowInfo,
    WorkflowStarted, WorkflowStatus,
};
#[cfg(feature = "mock")]
pub use store::MockSessionStore;
pub use store::{CasOutcome, SessionStore, StoreError};
#[cfg(feature = "mock")]
pub use token::MockTokenSource;
pub use token::{
    IssuedToken, RefreshPolicy, SharedTokenSource, SharedTokens, Token, TokenCache, TokenCacheStats, TokenSource,
};
pub use verification::{
    AppProgress, ConfirmLease, Failure, FlowRules, MAX_OTP_RESENDS, MAX_RESULT_CLOCK_SKEW, Method, OtpProgress,
    ProviderKey, ProviderState, Purpose, Status, Verification, VerificationId,
};
