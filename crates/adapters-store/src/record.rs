//! What the SQL and Redis stores keep per session: the plain columns they index and compare on,
//! and the sealed record; and what each store instance remembers of the versions it has seen.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use bonin_domain::{Clock, ProviderKey, StoreError, Verification};

use crate::RecordCipher;

/// The provider-key index value (`nice:<token_version_id>`).
pub(crate) fn key_column(key: &ProviderKey) -> String {
    format!("{}:{}", key.provider, key.value)
}

/// Unix milliseconds at `now + ttl` on `clock`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn dead_at(clock: &dyn Clock, ttl: std::time::Duration) -> i64 {
    let at = clock.now() + ttl;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Unix milliseconds now on `clock`.
pub(crate) fn now_ms(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Unix milliseconds of `at`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn ms(at: bonin_domain::Timestamp) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// An outbox event as stored: plain JSON (it holds ids and statuses only, nothing to seal).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn event_text(event: &bonin_domain::OutboxEvent) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|_| StoreError::Corrupt("an event could not be serialized".into()))
}

/// An outbox event read back.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn event_of(text: &str) -> Result<bonin_domain::OutboxEvent, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt("a stored event could not be read".into()))
}

/// A claimed event, or `None` when it cannot be read (written by a newer version, or edited by
/// hand): it is left where it is, claimed, and logged by its id, so that one unreadable event does
/// not hold back every other (it is claimed and skipped again when its claim lapses, and read by
/// a version that understands it).
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
pub(crate) fn claimed_event(text: &str) -> Option<bonin_domain::OutboxEvent> {
    match event_of(text) {
        Ok(event) => Some(event),
        Err(_) => {
            // The id only (`evt_…`, or a hash), and only when it looks like one.
            let id = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("id").and_then(serde_json::Value::as_str).map(str::to_owned))
                .filter(|id| id.len() <= 80 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
                .unwrap_or_else(|| "<unreadable>".to_owned());
            tracing::warn!(event_id = %id, "a stored event could not be read and is skipped; it stays in the outbox");
            None
        }
    }
}

/// Serializes and seals a record, bound to its id and version.
pub(crate) fn seal(cipher: &RecordCipher, verification: &Verification) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(verification)
        .map_err(|_| StoreError::Corrupt("the record could not be serialized".into()))?;
    cipher.seal_record(verification.id().as_str(), verification.version(), &json)
}

/// Opens and parses the record of row `id` whose version column holds `version`. The record must
/// have been sealed for that id and version, and say so inside.
pub(crate) fn open(cipher: &RecordCipher, id: &str, version: u64, sealed: &[u8]) -> Result<Verification, StoreError> {
    let json = cipher.open_record(id, version, sealed)?;
    let verification: Verification =
        serde_json::from_slice(&json).map_err(|_| StoreError::Corrupt("a stored record could not be parsed".into()))?;
    if verification.id().as_str() != id {
        return Err(StoreError::Corrupt("a stored record belongs to another id".into()));
    }
    if verification.version() != version {
        return Err(StoreError::Corrupt("a stored record does not match its row's version".into()));
    }
    Ok(verification)
}

/// A version column as stored (SQL `BIGINT`, never negative when written by bonin).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn version_column(stored: i64) -> Result<u64, StoreError> {
    u64::try_from(stored).map_err(|_| StoreError::Corrupt("a stored record has a negative version".into()))
}

/// How many records an instance remembers the newest version of; past it, the least recently
/// seen half is forgotten.
const SEEN_CAPACITY: usize = 100_000;

/// The newest version of each record this store instance has written or read. A record read back
/// at an older version than one seen before the read began was rolled back behind the store
/// (someone with write access to the database put an earlier row back, or a failover lost
/// writes): versions only grow, so it is refused instead of acted on again. An instance that never
/// saw the newer version cannot tell; nothing outside the database remembers it.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    inner: Mutex<SeenInner>,
}

#[derive(Debug, Default)]
struct SeenInner {
    versions: HashMap<String, SeenVersion>,
    /// Counts every record seen: orders what was seen before a read began from what was seen while
    /// it ran.
    tick: u64,
}

#[derive(Debug, Clone, Copy)]
struct SeenVersion {
    newest: u64,
    /// The tick at which `newest` was first seen.
    since: u64,
    /// The tick at which the record was last seen (what is forgotten first).
    touched: u64,
}

impl SeenInner {
    fn touch(&mut self, id: &str, version: u64) {
        self.tick += 1;
        let tick = self.tick;
        let entry =
            self.versions.entry(id.to_owned()).or_insert(SeenVersion { newest: version, since: tick, touched: tick });
        if version > entry.newest {
            *entry = SeenVersion { newest: version, since: tick, touched: tick };
        }
        entry.touched = tick;
        if self.versions.len() > SEEN_CAPACITY {
            let keep_after = tick.saturating_sub(SEEN_CAPACITY as u64 / 2);
            self.versions.retain(|_, seen| seen.touched > keep_after);
        }
    }
}

impl Seen {
    fn lock(&self) -> std::sync::MutexGuard<'_, SeenInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Taken before a read: what is seen from now on (a write committed while the read runs) does
    /// not count against it.
    pub(crate) fn before_read(&self) -> u64 {
        self.lock().tick
    }

    /// The newest version of `id` seen, if remembered.
    pub(crate) fn newest(&self, id: &str) -> Option<u64> {
        self.lock().versions.get(id).map(|seen| seen.newest)
    }

    /// A record read from the store by a read that began at `began` (from [`Seen::before_read`]):
    /// refused if it is older than a version seen before that.
    pub(crate) fn read(&self, began: u64, verification: Verification) -> Result<Verification, StoreError> {
        let id = verification.id().as_str();
        let mut inner = self.lock();
        if inner.versions.get(id).is_some_and(|seen| seen.since <= began && verification.version() < seen.newest) {
            return Err(StoreError::Corrupt(
                "a stored record is older than a version already seen: rolled back".into(),
            ));
        }
        inner.touch(id, verification.version());
        Ok(verification)
    }

    /// [`Seen::read`] for a read that may have found nothing.
    pub(crate) fn read_opt(
        &self,
        began: u64,
        verification: Option<Verification>,
    ) -> Result<Option<Verification>, StoreError> {
        verification.map(|v| self.read(began, v)).transpose()
    }

    /// A record this instance created: a new record, whatever was remembered under its id.
    pub(crate) fn created(&self, verification: &Verification) {
        let mut inner = self.lock();
        inner.versions.remove(verification.id().as_str());
        inner.touch(verification.id().as_str(), verification.version());
    }

    /// A record this instance swapped in.
    pub(crate) fn swapped(&self, verification: &Verification) {
        self.lock().touch(verification.id().as_str(), verification.version());
    }

    /// A record this instance deleted.
    pub(crate) fn deleted(&self, id: &str) {
        self.lock().versions.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use bonin_domain::{FlowRules, Method, OsRng, ProviderId, SystemClock, VerificationId, VerifiedIdentity};

    use super::*;

    fn pending() -> Verification {
        let id = VerificationId::generate(&OsRng).unwrap();
        Verification::start(
            id,
            ProviderId::ALL[0],
            Method::Window,
            FlowRules::new(std::time::Duration::from_secs(60 * 60)),
            SystemClock::new().now(),
        )
    }

    #[test]
    fn an_older_version_than_one_seen_is_refused() {
        let seen = Seen::default();
        let v0 = pending();
        let now = SystemClock::new().now();
        let v1 = v0.verified(now, VerifiedIdentity::new(ProviderId::ALL[0], now)).unwrap();
        seen.created(&v0);
        assert!(seen.read(seen.before_read(), v0.clone()).is_ok());
        seen.swapped(&v1);
        assert!(matches!(seen.read(seen.before_read(), v0.clone()), Err(StoreError::Corrupt(_))));
        assert!(seen.read(seen.before_read(), v1.clone()).is_ok());
        seen.deleted(v0.id().as_str());
        assert!(seen.read(seen.before_read(), v0.clone()).is_ok(), "a deleted record is forgotten");
        seen.swapped(&v1);
        seen.created(&v0);
        assert!(seen.read(seen.before_read(), v0).is_ok(), "a record created anew starts again");
    }

    #[test]
    fn a_read_that_raced_a_swap_is_not_mistaken_for_a_rollback() {
        let seen = Seen::default();
        let v0 = pending();
        let now = SystemClock::new().now();
        let v1 = v0.verified(now, VerifiedIdentity::new(ProviderId::ALL[0], now)).unwrap();
        seen.created(&v0);
        let began = seen.before_read();
        // The swap commits and is recorded while the read, which found v0, is still running.
        seen.swapped(&v1);
        assert_eq!(seen.read(began, v0.clone()).map(|v| v.version()), Ok(0));
        // A read that began after it must not find v0.
        assert!(seen.read(seen.before_read(), v0).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let mut inner = SeenInner::default();
        for i in 0..(SEEN_CAPACITY + 10) {
            inner.touch(&format!("id-{i}"), 1);
        }
        assert!(inner.versions.len() <= SEEN_CAPACITY);
        assert!(inner.versions.contains_key(&format!("id-{}", SEEN_CAPACITY + 9)), "the most recent are kept");
    }
}
