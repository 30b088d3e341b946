//! The third flow shape: the person approves in the provider's app (a push, an app switch, or a web
//! popup at the provider), and bonin learns the outcome by polling. There is no callback.
//!
//! Call order: [`AppVerifier::request`] at start (the launch carries the provider's transaction id
//! and the links that open its app or page), then [`AppVerifier::poll`] until it answers
//! [`AppPoll::Completed`], [`AppPoll::Expired`] or [`AppPoll::Refused`]. The service polls when a
//! client reads the verification (no more often than [`MIN_POLL_INTERVAL`]) and in the background
//! ([`crate::VerificationService::poll_watched`]); a poll holds a lease in the store
//! ([`POLL_LEASE`]), so one instance at a time asks the provider about a verification, and the
//! result is applied with compare-and-swap, once.

use std::{fmt, time::Duration};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    BirthDate, Completion, Error, FlowRules, Launch, Name, PhoneNumber, ProviderId, ProviderKey, ProviderState,
    Purpose, Verification, VerificationId,
};

/// The shortest time between two polls of one verification, from all instances together: a client
/// reading in a loop does not make bonin hammer the provider.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How long one poll may take, the provider's calls and retries included. An [`AppVerifier`] gives
/// up a poll still running then (an error), so it never outlives its lease; `bonin serve` also
/// enforces it around every poll.
pub const POLL_TIME_LIMIT: Duration = Duration::from_secs(120);

/// How long one poll holds a verification before another instance may poll it: longer than
/// [`POLL_TIME_LIMIT`] with room for the store writes around it, so two polls of one verification
/// never overlap (a provider that allows few result reads loses none to a race).
pub const POLL_LEASE: Duration = Duration::from_secs(180);

/// Who is to approve, when the provider asks for the subject up front (the request then names
/// the person; without one the person identifies themselves in the app).
#[derive(Clone, PartialEq, Eq)]
pub struct AppSubject {
    /// Name.
    pub name: Name,
    /// Mobile number.
    pub phone: PhoneNumber,
    /// Date of birth.
    pub birth_date: BirthDate,
}

impl fmt::Debug for AppSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSubject")
            .field("name", &self.name)
            .field("phone", &self.phone)
            .field("birth_date", &self.birth_date)
            .finish()
    }
}

/// What [`AppVerifier::request`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppRequest {
    /// bonin's id.
    pub verification_id: VerificationId,
    /// The person, when the caller names them.
    pub subject: Option<AppSubject>,
    /// Where the provider's app or page sends the person back, if anywhere.
    pub return_url: Option<String>,
    /// Why.
    pub purpose: Option<Purpose>,
}

impl AppRequest {
    /// A request naming no one.
    pub fn new(verification_id: VerificationId) -> Self {
        Self { verification_id, subject: None, return_url: None, purpose: None }
    }

    /// Names the person.
    pub fn with_subject(mut self, subject: Option<AppSubject>) -> Self {
        self.subject = subject;
        self
    }

    /// Sets where the person returns.
    pub fn with_return_url(mut self, url: Option<String>) -> Self {
        self.return_url = url;
        self
    }

    /// Sets the purpose.
    pub fn with_purpose(mut self, purpose: Option<Purpose>) -> Self {
        self.purpose = purpose;
        self
    }
}

/// What the provider answered a request with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppStart {
    /// What opens the provider's app or page (contains nothing secret).
    pub launch: Launch,
    /// The provider's transaction, as the session's provider key.
    pub provider_key: Option<ProviderKey>,
    /// What polls need (the transaction id), stored with the session.
    pub provider_state: ProviderState,
}

impl AppStart {
    /// A start.
    pub fn new(launch: Launch, provider_key: Option<ProviderKey>, provider_state: ProviderState) -> Self {
        Self { launch, provider_key, provider_state }
    }
}

/// Where an approval stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AppState {
    /// Requested; the person has not opened it yet.
    Requested,
    /// Opened in the app or page, not approved yet.
    InProgress,
    /// Approved at the provider; the result is being read.
    Completed,
}

impl AppState {
    /// The state as the API names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
        }
    }
}

/// What one poll learned.
#[derive(Debug)]
#[non_exhaustive]
pub enum AppPoll {
    /// Not decided yet.
    Waiting(AppState),
    /// Approved, and the result read.
    Completed(Box<Completion>),
    /// The provider let the request lapse.
    Expired,
    /// The provider refused it, with its code.
    Refused {
        /// The provider's code, verbatim.
        provider_code: String,
    },
}

/// A provider whose person approves in its app, polled for the outcome.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AppVerifier: Send + Sync {
    /// Which provider this is.
    fn provider(&self) -> ProviderId;

    /// The rules its sessions are held to.
    fn rules(&self) -> FlowRules {
        FlowRules::DEFAULT
    }

    /// Asks the provider for an approval. Not idempotent: never retried after a timeout.
    async fn request(&self, request: &AppRequest) -> Result<AppStart, Error>;

    /// Asks where the approval stands and, once it is approved, reads the result. Finishes within
    /// [`POLL_TIME_LIMIT`].
    async fn poll(&self, session: &Verification) -> Result<AppPoll, Error>;
}
