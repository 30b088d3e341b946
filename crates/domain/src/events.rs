//! Outbound events and the durable outbox they wait in.
//!
//! When a verification reaches a final state (`verified`, `failed`, `expired`), the service writes
//! an [`OutboxEvent`] **in the same atomic store step** as the state change
//! ([`SessionStore::compare_and_swap_with_events`](crate::SessionStore::compare_and_swap_with_events)):
//! a process killed between the transition and the enqueue cannot lose the event, because there
//! is no "between". A deliverer (in `bonin serve`, one per cluster through
//! [`Outbox::hold_lease`]) then claims due events, posts them to the host's endpoints, and removes
//! each once every endpoint took it, or reschedules it with its per-endpoint progress.
//!
//! Guarantees and their limits:
//! - **At least once**: an event leaves the outbox only after every endpoint answered 2xx, or
//!   after the give-up horizon. A deliverer that dies after a 2xx but before recording it sends the
//!   event again, under the same [`OutboxEvent::id`] (the receiver deduplicates on it).
//! - **No personal data**: [`EventData`] holds ids, provider, method, status and a stable error
//!   code, nothing a person typed or a provider returned about them.
//! - **No ordering**: events are claimed by due time, and a retried event is overtaken by newer
//!   ones.
//!
//! `verification.expired` has no request that causes it: a verification lapses by time. At start
//! the service enqueues (atomically with the create) an internal [`EXPIRY_CHECK`] due at the
//! verification's `expires_at`; when due, the deliverer calls
//! [`VerificationService::expire_if_due`](crate::VerificationService::expire_if_due), which
//! stores the `expired` state (and with it the `verification.expired` event) only if the
//! verification is still open. Internal checks are never sent to an endpoint.

use std::{fmt, time::Duration};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Error, Rng, StoreError, Timestamp, Verification};

/// The type of the internal timer that checks a verification for expiry; never delivered.
pub const EXPIRY_CHECK: &str = "bonin.expiry_check";

/// The longest an event id may be (and the alphabet is `[0-9a-z_]`), as stores index it.
pub const EVENT_ID_MAX: usize = 64;

/// What happened, with ids and statuses only: the `data` of a delivered event.
///
/// Fields that do not apply are absent. There is deliberately no field for a name, a phone number,
/// a birth date, CI/DI, a token or a provider's free text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventData {
    /// bonin's verification id (`verification.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_id: Option<String>,
    /// bonin's signing id (`signing.*`), when the workflow is known to this instance's store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_id: Option<String>,
    /// The provider's workflow id (`signing.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_workflow_id: Option<String>,
    /// The provider id (`nice`, `mobileok`, …, `esignon`).
    pub provider: String,
    /// The verification method (`window`, `otp`, `app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The status reached (`verified`, `failed`, `expired`; a signing status).
    pub status: String,
    /// The stable error code of a failed verification (`provider_rejected`, `age_restricted`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl EventData {
    /// The data of a signing event: the workflow ids, the provider and the status.
    pub fn signing(
        provider: impl Into<String>,
        signing_id: Option<String>,
        provider_workflow_id: impl Into<String>,
        status: impl Into<String>,
    ) -> Self {
        Self {
            signing_id,
            provider_workflow_id: Some(provider_workflow_id.into()),
            provider: provider.into(),
            status: status.into(),
            ..Self::default()
        }
    }
}

/// An event id: `evt_` and 24 lower-case base32 characters (120 random bits). Stable across every
/// retry of the event: it is the `webhook-id` a receiver deduplicates on.
pub fn generate_event_id(rng: &dyn Rng) -> Result<String, Error> {
    // A verification id is 120 random bits in the same alphabet; an event id reuses the generator.
    let id = crate::VerificationId::generate(rng)?;
    Ok(format!("evt_{}", id.as_str().trim_start_matches("vf")))
}

/// One event in the outbox, with its delivery state.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    /// The event id (`webhook-id`), stable across retries.
    pub id: String,
    /// `verification.verified`, `signing.completed`, … or [`EXPIRY_CHECK`].
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: Timestamp,
    /// What happened.
    pub data: EventData,
    /// Not claimed before this time.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: Timestamp,
    /// Delivery rounds tried so far.
    #[serde(default)]
    pub attempts: u32,
    /// Endpoints (by a key derived from their configuration, never a URL) that have taken the event.
    #[serde(default)]
    pub delivered_to: Vec<String>,
}

impl fmt::Debug for OutboxEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Everything in it is an id or a status; listed for completeness.
        f.debug_struct("OutboxEvent")
            .field("id", &self.id)
            .field("type", &self.event_type)
            .field("occurred_at", &self.occurred_at)
            .field("data", &self.data)
            .field("due_at", &self.due_at)
            .field("attempts", &self.attempts)
            .field("delivered_to", &self.delivered_to)
            .finish()
    }
}

impl OutboxEvent {
    /// A new event, due at once.
    pub fn new(id: String, event_type: impl Into<String>, data: EventData, now: Timestamp) -> Self {
        Self {
            id,
            event_type: event_type.into(),
            occurred_at: now,
            data,
            due_at: now,
            attempts: 0,
            delivered_to: Vec::new(),
        }
    }

    /// The event a transition from `previous` to `next` causes: one when an open verification
    /// reaches a final state, none otherwise (a re-write of a final record, an OTP resend, …).
    pub fn for_transition(
        previous: &Verification,
        next: &Verification,
        rng: &dyn Rng,
        now: Timestamp,
    ) -> Result<Option<Self>, Error> {
        if previous.stored_status().is_final() || !next.stored_status().is_final() {
            return Ok(None);
        }
        let status = next.stored_status().as_str();
        let data = EventData {
            verification_id: Some(next.id().as_str().to_owned()),
            provider: next.provider().as_str().to_owned(),
            method: Some(next.method().as_str().to_owned()),
            status: status.to_owned(),
            error_code: next.failure().map(|f| f.code.as_str().to_owned()),
            ..EventData::default()
        };
        Ok(Some(Self::new(generate_event_id(rng)?, format!("verification.{status}"), data, now)))
    }

    /// The internal expiry check of a just-started verification, due at its `expires_at`.
    pub fn expiry_check(verification: &Verification, rng: &dyn Rng, now: Timestamp) -> Result<Self, Error> {
        let data = EventData {
            verification_id: Some(verification.id().as_str().to_owned()),
            provider: verification.provider().as_str().to_owned(),
            method: Some(verification.method().as_str().to_owned()),
            status: verification.stored_status().as_str().to_owned(),
            ..EventData::default()
        };
        let mut event = Self::new(generate_event_id(rng)?, EXPIRY_CHECK, data, now);
        event.due_at = verification.expires_at();
        Ok(event)
    }

    /// Whether this is an internal timer rather than an event for the host.
    pub fn is_internal(&self) -> bool {
        self.event_type.starts_with("bonin.")
    }
}

/// The durable queue of events, kept by the session store (in the same database, so that an event
/// can be written in the transaction of the state change that causes it).
///
/// Contract (checked by the conformance suite in `bonin-adapters-store`):
/// - `claim` hands out only events due now that no live claim holds, marks them claimed by
///   `holder` for `lease`, and never hands one event to two holders within its lease;
/// - `reschedule` and `remove` act only for the holder of a live claim (a claim that lapsed and was
///   taken over belongs to the new holder);
/// - events written with a compare-and-swap that lost are not written at all;
/// - `hold_lease` grants a named lease to one holder at a time until it lapses; the holder renews
///   it by calling again.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Appends events on their own (ones no state change causes, such as a forwarded signing
    /// progress).
    async fn enqueue(&self, events: &[OutboxEvent]) -> Result<(), StoreError>;

    /// Claims up to `limit` due events for `holder`, for `lease`, soonest due first.
    async fn claim(&self, holder: &str, limit: usize, lease: Duration) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Writes back `event`'s delivery state (`due_at`, `attempts`, `delivered_to`) and releases the
    /// claim; `false` (and nothing written) when `holder` no longer holds it.
    async fn reschedule(&self, event: &OutboxEvent, holder: &str) -> Result<bool, StoreError>;

    /// Removes a delivered (or given-up) event; `false` (and nothing removed) when `holder` no
    /// longer holds it.
    async fn remove(&self, id: &str, holder: &str) -> Result<bool, StoreError>;

    /// Events in the outbox, claimed or not, internal timers excluded.
    async fn depth(&self) -> Result<u64, StoreError>;

    /// Takes or renews the lease `name` for `holder` for `ttl`; `true` when `holder` holds it now.
    async fn hold_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Gives up the lease `name` if `holder` holds it (a clean shutdown), so that another holder
    /// need not wait for it to lapse. The default lets it lapse.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let _ = (name, holder);
        Ok(())
    }
}

/// A store without an outbox, for [`crate::SessionStore`]'s default methods.
pub(crate) fn no_outbox() -> StoreError {
    StoreError::Unavailable("this session store keeps no event outbox".into())
}
