//! The session store port.

use std::{borrow::Cow, time::Duration};

use async_trait::async_trait;

use crate::{Dependency, Error, OutboxEvent, ProviderKey, Verification, VerificationId, events::no_outbox};

/// What a store can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `create` found a record with the same id or provider key.
    #[error("a verification with this id or provider key already exists")]
    AlreadyExists,
    /// The backend could not be reached or did not answer.
    #[error("the session store is unavailable: {0}")]
    Unavailable(Cow<'static, str>),
    /// A record could not be decoded (or decrypted).
    #[error("a stored session could not be read: {0}")]
    Corrupt(Cow<'static, str>),
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists => Error::invalid_input("id", "a verification with this id already exists"),
            StoreError::Unavailable(reason) => Error::Unavailable { dependency: Dependency::Store, reason },
            StoreError::Corrupt(reason) => Error::Indeterminate { dependency: Dependency::Store, reason },
        }
    }
}

/// The result of a compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasOutcome {
    /// The record was at the expected version and now holds the new one.
    Swapped,
    /// The record had moved on (or is gone): nothing was written. Holds what is stored now.
    Conflict(Option<Box<Verification>>),
}

/// Where sessions live between the two halves of a flow, possibly shared by many instances.
///
/// Contract (checked by the conformance suite in `bonin-adapters-store`):
/// - a record is invisible (to `get`, `find_by_provider_key` and `compare_and_swap`) once its TTL has
///   passed, and eventually purged;
/// - `create` refuses an existing id or an existing provider key of a live record;
/// - `compare_and_swap` writes only if the stored version equals `expected_version`, atomically,
///   across every instance sharing the backend; of N racing swaps from the same version exactly one
///   wins;
/// - the provider-key index follows the record (a swap that changes the key moves it; delete and
///   expiry drop it);
/// - a store that keeps an [`Outbox`](crate::Outbox) writes the events given to
///   [`Self::create_with_events`] and [`Self::compare_and_swap_with_events`] in the same atomic
///   step as the record: both or neither. A store without one keeps the default methods, which
///   refuse events (the service sends events only when they are switched on).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new record that lives for `ttl`.
    async fn create(&self, verification: &Verification, ttl: Duration) -> Result<(), StoreError>;

    /// The live record with this id.
    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError>;

    /// The live record holding this provider key.
    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError>;

    /// Replaces the record with `next` (same id) if it is still at `expected_version`; the record then
    /// lives for `ttl` from now.
    async fn compare_and_swap(
        &self,
        expected_version: u64,
        next: &Verification,
        ttl: Duration,
    ) -> Result<CasOutcome, StoreError>;

    /// [`Self::create`], and appends `events` to the outbox in the same atomic step.
    async fn create_with_events(
        &self,
        verification: &Verification,
        ttl: Duration,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        if events.is_empty() { self.create(verification, ttl).await } else { Err(no_outbox()) }
    }

    /// [`Self::compare_and_swap`], and appends `events` to the outbox in the same atomic step: a
    /// swap that does not happen writes no event.
    async fn compare_and_swap_with_events(
        &self,
        expected_version: u64,
        next: &Verification,
        ttl: Duration,
        events: &[OutboxEvent],
    ) -> Result<CasOutcome, StoreError> {
        if events.is_empty() { self.compare_and_swap(expected_version, next, ttl).await } else { Err(no_outbox()) }
    }

    /// Removes a record; `true` if one was there.
    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError>;

    /// Checks that the backend answers.
    async fn ping(&self) -> Result<(), StoreError>;
}
