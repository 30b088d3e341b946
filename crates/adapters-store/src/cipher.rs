//! Encryption at rest for stored sessions (they hold provider keys and, once verified, personal
//! data): AES-256-GCM with a random nonce and a key id byte so keys can be rotated. What a sealed
//! value is bound to goes in as associated data, so it opens only there:
//!
//! - format 2, a session record: its id and its version (`id ‖ version` as 8 big-endian bytes).
//!   A sealed record cannot be moved to another id, nor shown under another version than the one
//!   it was sealed at; the stores also require the plain version column to match it.
//! - format 1, a value with a name (a shared provider token), and session records written before
//!   records were bound to their version: the name or id alone. Such records are still read, and
//!   each is rewritten in format 2 at its next change; all of them are gone once the session TTL
//!   plus `server.pii_retention_secs` has passed since the upgrade.
//!
//! Rotation: put the new key first in `store.encryption_keys` and keep the old one after it.
//! New and updated records are sealed with the first key; every listed key can still open.
//! Once the old records have expired (at most the session TTL plus the PII retention), drop the
//! old key.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{Error, ExposeSecret, OsRng, Rng, SecretString, StoreError};

/// A value bound to its name only (shared tokens; session records before format 2).
const NAMED: u8 = 1;
/// A session record bound to its id and version.
const VERSIONED: u8 = 2;

/// The keys a store seals and opens records with.
pub struct RecordCipher {
    keys: Vec<(u8, LessSafeKey)>,
}

impl fmt::Debug for RecordCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordCipher")
            .field("key_ids", &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .finish()
    }
}

impl RecordCipher {
    /// Keys written `ID:BASE64` (ID 0–255, 32 random bytes in Base64); the first one seals.
    pub fn from_config(entries: &[SecretString]) -> Result<Self, Error> {
        let mut keys = Vec::new();
        for entry in entries {
            let bad = || {
                Error::misconfigured(
                    "store.encryption_keys entries must look like `ID:BASE64` with 32 key bytes (e.g. `1:` + `openssl rand -base64 32`)",
                )
            };
            let (id, key) = entry.expose_secret().split_once(':').ok_or_else(bad)?;
            let id: u8 = id.trim().parse().map_err(|_| bad())?;
            let bytes = STANDARD.decode(key.trim()).map_err(|_| bad())?;
            let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| bad())?;
            if keys.iter().any(|(existing, _)| *existing == id) {
                return Err(Error::misconfigured("store.encryption_keys has two keys with the same id"));
            }
            keys.push((id, LessSafeKey::new(key)));
        }
        if keys.is_empty() {
            return Err(Error::misconfigured("store.encryption_keys needs at least one key for a persistent store"));
        }
        Ok(Self { keys })
    }

    /// Seals `plaintext` for the value named `name`: `[1][key id][nonce][ciphertext+tag]`.
    pub fn seal(&self, name: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.seal_with(NAMED, name.as_bytes(), plaintext)
    }

    /// Opens a value sealed by [`RecordCipher::seal`] for `name`.
    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.open_with(NAMED, name.as_bytes(), sealed)
    }

    /// Seals session record `id` at `version`: `[2][key id][nonce][ciphertext+tag]`.
    pub fn seal_record(&self, id: &str, version: u64, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.seal_with(VERSIONED, &record_aad(id, version), plaintext)
    }

    /// Opens session record `id`, stored as `version`. A record sealed at another version (or for
    /// another id) does not open. A record written before records were bound to their version
    /// (format 1) opens with its id alone: the caller must compare the version inside it with
    /// `version`.
    pub fn open_record(&self, id: &str, version: u64, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        match sealed.first() {
            Some(&VERSIONED) => self.open_with(VERSIONED, &record_aad(id, version), sealed),
            _ => self.open_with(NAMED, id.as_bytes(), sealed),
        }
    }

    fn seal_with(&self, format: u8, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let (key_id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .fill_bytes(&mut nonce)
            .map_err(|_| StoreError::Unavailable("no randomness for the record nonce".into()))?;
        let mut data = plaintext.to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut data)
            .map_err(|_| StoreError::Corrupt("the record could not be sealed".into()))?;
        let mut out = Vec::with_capacity(2 + NONCE_LEN + data.len());
        out.push(format);
        out.push(*key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        Ok(out)
    }

    fn open_with(&self, format: u8, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        let corrupt = |what: &'static str| StoreError::Corrupt(what.into());
        if sealed.len() < 2 + NONCE_LEN || sealed[0] != format {
            return Err(corrupt("unknown record format"));
        }
        let key = self
            .keys
            .iter()
            .find(|(kid, _)| *kid == sealed[1])
            .map(|(_, k)| k)
            .ok_or_else(|| corrupt("sealed with a key that is no longer configured"))?;
        let nonce = Nonce::try_assume_unique_for_key(&sealed[2..2 + NONCE_LEN]).map_err(|_| corrupt("bad nonce"))?;
        let mut data = sealed[2 + NONCE_LEN..].to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(aad), &mut data)
            .map_err(|_| corrupt("the record does not authenticate (altered, or sealed for another id or version)"))?;
        Ok(plain.to_vec())
    }
}

/// A record's associated data: its id, then its version as 8 big-endian bytes (fixed width, so
/// the split is unambiguous).
fn record_aad(id: &str, version: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(id.len() + 8);
    aad.extend_from_slice(id.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u8, byte: u8) -> SecretString {
        SecretString::from(format!("{id}:{}", STANDARD.encode([byte; 32])))
    }

    #[test]
    fn records_round_trip_and_are_bound_to_their_id() {
        let cipher = RecordCipher::from_config(&[key(1, 7)]).unwrap();
        let sealed = cipher.seal("vf-a", b"{\"name\":\"secret\"}").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(cipher.open("vf-a", &sealed).unwrap(), b"{\"name\":\"secret\"}");
        assert!(cipher.open("vf-b", &sealed).is_err(), "moved to another id");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(cipher.open("vf-a", &tampered).is_err());
    }

    #[test]
    fn records_are_bound_to_their_version() {
        let cipher = RecordCipher::from_config(&[key(1, 7)]).unwrap();
        let sealed = cipher.seal_record("vf-a", 3, b"{}").unwrap();
        assert_eq!(sealed[0], VERSIONED);
        assert_eq!(cipher.open_record("vf-a", 3, &sealed).unwrap(), b"{}");
        for (id, version) in [("vf-a", 2), ("vf-a", 4), ("vf-b", 3)] {
            assert!(matches!(cipher.open_record(id, version, &sealed), Err(StoreError::Corrupt(_))), "{id} {version}");
        }
        assert!(cipher.open("vf-a", &sealed).is_err(), "a record is not a named value");
    }

    #[test]
    fn records_sealed_before_version_binding_still_open() {
        let cipher = RecordCipher::from_config(&[key(1, 7)]).unwrap();
        let legacy = cipher.seal("vf-a", b"{\"version\":3}").unwrap();
        assert_eq!(legacy[0], NAMED);
        assert_eq!(cipher.open_record("vf-a", 3, &legacy).unwrap(), b"{\"version\":3}");
        assert!(cipher.open_record("vf-b", 3, &legacy).is_err(), "still bound to its id");
    }

    #[test]
    fn rotation_opens_old_records_and_seals_with_the_new_key() {
        let old = RecordCipher::from_config(&[key(1, 7)]).unwrap();
        let sealed_old = old.seal("id", b"x").unwrap();
        let rotated = RecordCipher::from_config(&[key(2, 9), key(1, 7)]).unwrap();
        assert_eq!(rotated.open("id", &sealed_old).unwrap(), b"x");
        let sealed_new = rotated.seal("id", b"y").unwrap();
        assert_eq!(sealed_new[1], 2);
        assert!(old.open("id", &sealed_new).is_err());
        let retired = RecordCipher::from_config(&[key(2, 9)]).unwrap();
        assert!(matches!(retired.open("id", &sealed_old), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn bad_keys_are_misconfigured_without_echoing_them() {
        for entry in ["nokey", "1:short", "x:AAAA", ""] {
            let error = RecordCipher::from_config(&[SecretString::from(entry)]).unwrap_err();
            assert!(matches!(&error, Error::Misconfigured { reason } if !reason.contains("short")), "{entry}");
        }
        assert!(RecordCipher::from_config(&[]).is_err());
        assert!(RecordCipher::from_config(&[key(1, 1), key(1, 2)]).is_err());
    }
}
