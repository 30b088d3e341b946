//! One error taxonomy for every provider, telling the caller what to do next.
//!
//! `Display` texts are fixed sentences plus field names and provider codes: never a request or
//! response body, never personal data, never a secret. The raw provider code rides along as data.

use std::{borrow::Cow, fmt};

use serde::{Deserialize, Serialize};

use crate::ProviderId;

/// The longest browser-reported code [`Error::unconfirmed`] keeps.
pub const UNCONFIRMED_CODE_MAX: usize = 40;

/// Something bonin depends on for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "provider")]
#[non_exhaustive]
pub enum Dependency {
    /// A provider's API.
    Provider(ProviderId),
    /// The session store.
    Store,
    /// The operating system (entropy, clock).
    System,
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Provider(p) => write!(f, "provider {p}"),
            Self::Store => f.write_str("the session store"),
            Self::System => f.write_str("the operating system"),
        }
    }
}

/// Why a verification step did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller sent something unusable; nothing was changed.
    #[error("invalid input in `{field}`: {reason}")]
    InvalidInput {
        /// The offending field (a name, never a value).
        field: Cow<'static, str>,
        /// What is wrong with it.
        reason: Cow<'static, str>,
    },
    /// The step does not fit the verification's method or where it (or a signing workflow) stands:
    /// completing an OTP verification, confirming before a code was sent, reminding the signer of a
    /// cancelled document. Nothing was changed.
    #[error("this step does not fit where it stands: {reason}")]
    WrongStep {
        /// What the verification expects instead.
        reason: Cow<'static, str>,
    },
    /// No such verification (or it has been purged).
    #[error("verification not found")]
    NotFound,
    /// The verification, its provider token or its result is past its validity window.
    #[error("the verification has expired")]
    Expired,
    /// The verification was already completed (a replayed callback or a repeated confirm).
    #[error("the verification was already completed")]
    AlreadyCompleted,
    /// The allowed number of OTP attempts is used up.
    #[error("no OTP attempts left")]
    AttemptsExhausted,
    /// A callback was tampered with, replayed into another session, or failed a signature/hash check.
    #[error("integrity check failed: {reason}")]
    IntegrityMismatch {
        /// Which check failed.
        reason: Cow<'static, str>,
    },
    /// The provider said no. Its raw code is kept verbatim, even when bonin does not know it.
    #[error("{provider} rejected the request with code `{code}`")]
    Rejected {
        /// Which provider.
        provider: ProviderId,
        /// The provider's code, verbatim (layered codes are written `layer:code`).
        code: String,
        /// The provider's own message, if any (a fixed provider text, not a body).
        message: Option<String>,
    },
    /// The browser (or whoever called the open landing) reported a failure the provider did not
    /// authenticate: a cancel code from an SDK, a PortOne V2 `code` while the record is still
    /// `READY`, an uncertified PortOne V1 record. Anyone holding a pending id could send it, so it
    /// never ends the verification; it stays open until the user finishes or it expires.
    #[error(
        "{provider} reported `{code}` through the browser; the provider did not confirm it, so the verification stays open"
    )]
    Unconfirmed {
        /// Which provider's UI the report is about.
        provider: ProviderId,
        /// The reported code, verbatim.
        code: String,
    },
    /// The verified person is younger than the verification's `min_age`.
    #[error("the verified person is younger than the required minimum age")]
    AgeRestricted,
    /// Too many requests from one client, or too many open verifications.
    #[error("too many requests ({reason}); retry later")]
    RateLimited {
        /// Which limit.
        reason: Cow<'static, str>,
    },
    /// The request was not processed; it is safe to retry.
    #[error("{dependency} is unavailable ({reason}); the request was not processed and may be retried")]
    Unavailable {
        /// What was unavailable.
        dependency: Dependency,
        /// A fixed description (connect refused, HTTP 503, …).
        reason: Cow<'static, str>,
    },
    /// The request may have been processed; do not retry blindly.
    #[error("{dependency} gave no usable answer ({reason}); the request may have been processed")]
    Indeterminate {
        /// What did not answer.
        dependency: Dependency,
        /// A fixed description (timeout after sending, connection reset, …).
        reason: Cow<'static, str>,
    },
    /// The provider answered something that could not be parsed or was not expected.
    #[error("{provider} sent an unexpected reply: {reason}")]
    Protocol {
        /// Which provider.
        provider: ProviderId,
        /// What was wrong (a field name or shape, never the body).
        reason: Cow<'static, str>,
    },
    /// bonin's configuration (keys, credentials, registration at the provider) is wrong.
    #[error("misconfigured: {reason}")]
    Misconfigured {
        /// What to fix.
        reason: Cow<'static, str>,
    },
}

impl Error {
    /// [`Error::InvalidInput`].
    pub fn invalid_input(field: impl Into<Cow<'static, str>>, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::InvalidInput { field: field.into(), reason: reason.into() }
    }

    /// [`Error::WrongStep`].
    pub fn wrong_step(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::WrongStep { reason: reason.into() }
    }

    /// [`Error::IntegrityMismatch`].
    pub fn integrity(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::IntegrityMismatch { reason: reason.into() }
    }

    /// [`Error::Unconfirmed`]: a failure only the browser asserts. Whoever posts to the landing
    /// chooses the code, so it is kept only as far as it looks like a code: at most
    /// [`UNCONFIRMED_CODE_MAX`] characters, each an ASCII letter, digit or one of `_-.:`, and any
    /// other character replaced by `?`.
    pub fn unconfirmed(provider: ProviderId, code: impl Into<String>) -> Self {
        let code: String = code
            .into()
            .chars()
            .take(UNCONFIRMED_CODE_MAX)
            .map(|c| if c.is_ascii_alphanumeric() || "_-.:".contains(c) { c } else { '?' })
            .collect();
        Self::Unconfirmed { provider, code }
    }

    /// [`Error::Rejected`].
    pub fn rejected(provider: ProviderId, code: impl Into<String>, message: Option<String>) -> Self {
        Self::Rejected { provider, code: code.into(), message }
    }

    /// [`Error::Protocol`].
    pub fn protocol(provider: ProviderId, reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Protocol { provider, reason: reason.into() }
    }

    /// [`Error::Misconfigured`].
    pub fn misconfigured(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::Misconfigured { reason: reason.into() }
    }

    /// The stable code a REST client sees for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput { .. } => ErrorCode::InvalidRequest,
            Self::WrongStep { .. } => ErrorCode::WrongStep,
            Self::NotFound => ErrorCode::NotFound,
            Self::Expired => ErrorCode::Expired,
            Self::AlreadyCompleted => ErrorCode::AlreadyCompleted,
            Self::AttemptsExhausted => ErrorCode::AttemptsExhausted,
            Self::IntegrityMismatch { .. } => ErrorCode::IntegrityMismatch,
            Self::Rejected { .. } | Self::Unconfirmed { .. } => ErrorCode::ProviderRejected,
            Self::AgeRestricted => ErrorCode::AgeRestricted,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable { .. } => ErrorCode::ProviderUnavailable,
            Self::Indeterminate { .. } | Self::Protocol { .. } => ErrorCode::ProviderIndeterminate,
            Self::Misconfigured { .. } => ErrorCode::Misconfigured,
        }
    }

    /// Whether repeating the same request is known to be safe.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// The stable error codes of the REST API (`code` in problem+json bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request was malformed or failed validation.
    InvalidRequest,
    /// Missing or wrong API key.
    Unauthorized,
    /// No such verification.
    NotFound,
    /// Past its validity window.
    Expired,
    /// Already completed; a callback or confirm is applied at most once.
    AlreadyCompleted,
    /// OTP attempts used up.
    AttemptsExhausted,
    /// The step does not fit the verification's (or signing workflow's) method or status.
    WrongStep,
    /// Tampered, replayed or foreign callback.
    IntegrityMismatch,
    /// The provider refused; see `provider_code`.
    ProviderRejected,
    /// Not processed; safe to retry.
    ProviderUnavailable,
    /// May have been processed; check status before retrying.
    ProviderIndeterminate,
    /// bonin's configuration must be fixed.
    Misconfigured,
    /// The verified person is younger than `min_age`; the verification failed.
    AgeRestricted,
    /// A rate limit or capacity limit was hit; nothing was changed.
    RateLimited,
}

impl ErrorCode {
    /// Every code, in documentation order.
    pub const ALL: [ErrorCode; 14] = [
        Self::InvalidRequest,
        Self::Unauthorized,
        Self::NotFound,
        Self::Expired,
        Self::AlreadyCompleted,
        Self::AttemptsExhausted,
        Self::WrongStep,
        Self::IntegrityMismatch,
        Self::ProviderRejected,
        Self::ProviderUnavailable,
        Self::ProviderIndeterminate,
        Self::Misconfigured,
        Self::AgeRestricted,
        Self::RateLimited,
    ];

    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::Expired => "expired",
            Self::AlreadyCompleted => "already_completed",
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::WrongStep => "wrong_step",
            Self::IntegrityMismatch => "integrity_mismatch",
            Self::ProviderRejected => "provider_rejected",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::ProviderIndeterminate => "provider_indeterminate",
            Self::Misconfigured => "misconfigured",
            Self::AgeRestricted => "age_restricted",
            Self::RateLimited => "rate_limited",
        }
    }

    /// The HTTP status the REST API answers with.
    pub const fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Unauthorized => 401,
            Self::NotFound => 404,
            Self::Expired => 410,
            Self::AlreadyCompleted | Self::AttemptsExhausted | Self::WrongStep => 409,
            Self::IntegrityMismatch | Self::ProviderRejected => 422,
            Self::ProviderUnavailable => 503,
            Self::ProviderIndeterminate => 502,
            Self::Misconfigured => 500,
            Self::AgeRestricted => 403,
            Self::RateLimited => 429,
        }
    }

    /// What the caller should do.
    pub const fn advice(self) -> &'static str {
        match self {
            Self::InvalidRequest => "Fix the request; nothing was changed.",
            Self::Unauthorized => "Send a valid API key as `Authorization: Bearer <key>`.",
            Self::NotFound => "The verification does not exist or was purged after its retention time.",
            Self::Expired => "Start a new verification.",
            Self::AlreadyCompleted => "Read the verification's status; the first completion stands.",
            Self::AttemptsExhausted => "Start a new verification.",
            Self::WrongStep => "Read the verification's (or workflow's) status, and call the step it expects.",
            Self::IntegrityMismatch => "Treat the callback as hostile; start a new verification.",
            Self::ProviderRejected => "Show the user the provider's refusal; `provider_code` is verbatim.",
            Self::ProviderUnavailable => "Nothing was processed; retry with backoff.",
            Self::ProviderIndeterminate => "The step may have happened; read the status before retrying.",
            Self::Misconfigured => "An operator must fix bonin's configuration or the provider contract.",
            Self::AgeRestricted => "The person does not meet the minimum age; the verification has failed.",
            Self::RateLimited => "Nothing was changed; retry after the time in `Retry-After`.",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
