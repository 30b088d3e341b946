//! What the SQL and Redis stores keep per session: the plain columns they index and compare on,
//! and the sealed record.

use std::time::Duration;

use bonin_domain::{Clock, ProviderKey, StoreError, Verification};

use crate::RecordCipher;

/// The provider-key index value (`nice:<token_version_id>`).
pub(crate) fn key_column(key: &ProviderKey) -> String {
    format!("{}:{}", key.provider, key.value)
}

/// Unix milliseconds at `now + ttl` on `clock`.
pub(crate) fn dead_at(clock: &dyn Clock, ttl: Duration) -> i64 {
    let at = clock.now() + ttl;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Unix milliseconds now on `clock`.
pub(crate) fn now_ms(clock: &dyn Clock) -> i64 {
    i64::try_from(clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Serializes and seals a record.
pub(crate) fn seal(cipher: &RecordCipher, verification: &Verification) -> Result<Vec<u8>, StoreError> {
    let json = serde_json::to_vec(verification)
        .map_err(|_| StoreError::Corrupt("the record could not be serialized".into()))?;
    cipher.seal(verification.id().as_str(), &json)
}

/// Opens and parses a record.
pub(crate) fn open(cipher: &RecordCipher, id: &str, sealed: &[u8]) -> Result<Verification, StoreError> {
    let json = cipher.open(id, sealed)?;
    let verification: Verification =
        serde_json::from_slice(&json).map_err(|_| StoreError::Corrupt("a stored record could not be parsed".into()))?;
    if verification.id().as_str() != id {
        return Err(StoreError::Corrupt("a stored record belongs to another id".into()));
    }
    Ok(verification)
}
