//! The server's side of Toss's session crypto (`shared/protocols/toss.md` "Crypto", pinned by
//! `shared/vectors/toss/`): opening a `sessionKey` with the server's RSA key, and sealing and
//! opening `v1$<sessionId>$<Base64(ct‖tag)>` fields with AES-256-GCM (nonce = iv, AAD = the raw
//! key bytes).
//!
//! ```
//! use bonin_sandbox::toss::crypto::TossSession;
//!
//! // A session as a client makes one: a UUIDv4, 32 key bytes, a 12-byte IV.
//! let session = TossSession::new("b94ea687-0a72-43f8-be24-7be5029fa998", &[7; 32], &[9; 12]).unwrap();
//! let field = session.seal("김토스").unwrap();
//! assert!(field.starts_with("v1$b94ea687-0a72-43f8-be24-7be5029fa998$"));
//! assert_eq!(session.open(&field).unwrap(), "김토스");
//! ```

use std::fmt;

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey},
    encoding::AsDer,
    rsa::{KeySize, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, PrivateDecryptingKey},
};
use base64::{Engine, engine::general_purpose::STANDARD};

/// AES-256 key length.
pub const KEY_LEN: usize = 32;
/// GCM nonce (Toss's `iv`) length. Toss's SDK used 16 bytes before 2022-05; only 12 is accepted.
pub const IV_LEN: usize = 12;
/// The algorithm name inside a session key's plaintext (`AES_GCM$<key>$<iv>`); the SDK's CBC
/// variant (`AES_CBC`) is for old JDKs and is refused.
const ALGORITHM: &str = "AES_GCM";

/// Why a `sessionKey` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionKeyError {
    /// Not `<version>$<sessionId>$<Base64>`.
    Format,
    /// The version is not `v1` (or the SDK's `v1_<sdk version>`).
    Version,
    /// The session id is not a lowercase canonical UUIDv4.
    SessionId,
    /// The encrypted part is not standard padded Base64.
    Base64,
    /// RSA-OAEP (SHA-1, MGF1-SHA-1) under the server's key does not open it.
    Decrypt,
    /// The plaintext is not `AES_GCM$<Base64 32-byte key>$<Base64 12-byte iv>`.
    Plaintext,
}

impl fmt::Display for SessionKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "sessionKey is not <version>$<sessionId>$<Base64>",
            Self::Version => "sessionKey version is not v1",
            Self::SessionId => "sessionKey sessionId is not a lowercase UUIDv4",
            Self::Base64 => "sessionKey is not Base64",
            Self::Decrypt => "sessionKey does not decrypt under the server key (RSA-OAEP SHA-1)",
            Self::Plaintext => "sessionKey does not carry AES_GCM$<32-byte key>$<12-byte iv>",
        })
    }
}

/// Why an encrypted field was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldError {
    /// Not `<version>$<sessionId>$<Base64>`.
    Format,
    /// The version is not `v1` (or `v1_<sdk version>`).
    Version,
    /// The field names another session than the one it is opened with.
    SessionMismatch,
    /// The ciphertext is not standard padded Base64.
    Base64,
    /// AES-256-GCM does not open it (wrong key, nonce or AAD, or tampered).
    Decrypt,
    /// The plaintext is not UTF-8.
    Utf8,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "encrypted field is not <version>$<sessionId>$<Base64>",
            Self::Version => "encrypted field version is not v1",
            Self::SessionMismatch => "encrypted field names another sessionId than the sessionKey",
            Self::Base64 => "encrypted field is not Base64",
            Self::Decrypt => "encrypted field does not decrypt under the session",
            Self::Utf8 => "encrypted field is not UTF-8",
        })
    }
}

/// Whether `version` is what Toss's SDKs write: `v1`, or `v1_` and the SDK version (`v1_0.0.14`).
fn is_v1(version: &str) -> bool {
    version == "v1"
        || version.strip_prefix("v1_").is_some_and(|sdk| {
            !sdk.is_empty() && sdk.bytes().all(|b| b.is_ascii_digit() || b == b'.') && sdk.bytes().any(|b| b != b'.')
        })
}

/// Whether `id` is a UUIDv4 as `java.util.UUID.randomUUID().toString()` writes it: lowercase,
/// 8-4-4-4-12, version nibble 4, RFC 4122 variant.
pub fn is_session_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
        && bytes[14] == b'4'
        && matches!(bytes[19], b'8' | b'9' | b'a' | b'b')
}

/// Splits `<version>$<sessionId>$<payload>` into its three parts.
fn split3(value: &str) -> Option<(&str, &str, &str)> {
    let mut parts = value.split('$');
    let (version, id, payload) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !payload.is_empty()).then_some((version, id, payload))
}

/// One session: its id, AES-256 key and GCM nonce.
#[derive(Clone, PartialEq, Eq)]
pub struct TossSession {
    id: String,
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
}

impl fmt::Debug for TossSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossSession").field("id", &self.id).finish_non_exhaustive()
    }
}

impl TossSession {
    /// A session from its parts; `None` unless `key` is 32 bytes and `iv` 12. The id is taken as
    /// given (the vectors' ids are UUIDv4s; the server checks ids where they arrive).
    pub fn new(id: &str, key: &[u8], iv: &[u8]) -> Option<Self> {
        Some(Self { id: id.to_owned(), key: key.try_into().ok()?, iv: iv.try_into().ok()? })
    }

    /// A session from the Base64 key and iv, as the vectors and the session-key plaintext write them.
    pub fn from_base64(id: &str, key: &str, iv: &str) -> Option<Self> {
        Self::new(id, &STANDARD.decode(key).ok()?, &STANDARD.decode(iv).ok()?)
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether `other` uses the same AES key (a reused key under the same nonce breaks GCM).
    pub fn same_key(&self, other: &Self) -> bool {
        self.key == other.key
    }

    fn cipher(&self) -> Option<LessSafeKey> {
        Some(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).ok()?))
    }

    /// `v1$<id>$<Base64(ciphertext ‖ tag)>` of `plain`. `None` only if the AEAD refuses (it does not
    /// for any text a field can hold).
    pub fn seal(&self, plain: &str) -> Option<String> {
        let mut data = plain.as_bytes().to_vec();
        self.cipher()?
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(self.iv), Aad::from(self.key), &mut data)
            .ok()?;
        Some(format!("v1${}${}", self.id, STANDARD.encode(data)))
    }

    /// The plaintext of a field sealed under this session.
    pub fn open(&self, field: &str) -> Result<String, FieldError> {
        let (version, id, payload) = split3(field).ok_or(FieldError::Format)?;
        if !is_v1(version) {
            return Err(FieldError::Version);
        }
        if id != self.id {
            return Err(FieldError::SessionMismatch);
        }
        let mut data = STANDARD.decode(payload).map_err(|_| FieldError::Base64)?;
        let cipher = self.cipher().ok_or(FieldError::Decrypt)?;
        let plain = cipher
            .open_in_place(Nonce::assume_unique_for_key(self.iv), Aad::from(self.key), &mut data)
            .map_err(|_| FieldError::Decrypt)?;
        String::from_utf8(plain.to_vec()).map_err(|_| FieldError::Utf8)
    }
}

/// The server's RSA key pair.
pub(crate) struct ServerKey {
    private: OaepPrivateDecryptingKey,
    spki: Vec<u8>,
}

impl ServerKey {
    /// A fresh key pair of `size`.
    pub(crate) fn generate(size: KeySize) -> Option<Self> {
        Self::from_private(PrivateDecryptingKey::generate(size).ok()?)
    }

    /// The key pair of an RSA private key in PKCS#8 DER.
    pub(crate) fn from_pkcs8(pkcs8: &[u8]) -> Option<Self> {
        Self::from_private(PrivateDecryptingKey::from_pkcs8(pkcs8).ok()?)
    }

    fn from_private(key: PrivateDecryptingKey) -> Option<Self> {
        let spki = key.public_key().as_der().ok()?.as_ref().to_vec();
        Some(Self { private: OaepPrivateDecryptingKey::new(key).ok()?, spki })
    }

    /// The public key, X.509 SubjectPublicKeyInfo DER.
    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The modulus size in bits.
    pub(crate) fn bits(&self) -> usize {
        self.private.key_size_bits()
    }

    /// Opens `v1$<sessionId>$<Base64(RSA-OAEP-SHA1(AES_GCM$<key>$<iv>))>`.
    pub(crate) fn open_session_key(&self, session_key: &str) -> Result<TossSession, SessionKeyError> {
        let (version, id, payload) = split3(session_key).ok_or(SessionKeyError::Format)?;
        if !is_v1(version) {
            return Err(SessionKeyError::Version);
        }
        if !is_session_id(id) {
            return Err(SessionKeyError::SessionId);
        }
        let ciphertext = STANDARD.decode(payload).map_err(|_| SessionKeyError::Base64)?;
        let mut out = vec![0u8; self.private.min_output_size()];
        let plain = self
            .private
            .decrypt(&OAEP_SHA1_MGF1SHA1, &ciphertext, &mut out, None)
            .map_err(|_| SessionKeyError::Decrypt)?;
        let plain = std::str::from_utf8(plain).map_err(|_| SessionKeyError::Plaintext)?;
        let (algorithm, key, iv) = split3(plain).ok_or(SessionKeyError::Plaintext)?;
        if algorithm != ALGORITHM {
            return Err(SessionKeyError::Plaintext);
        }
        TossSession::from_base64(id, key, iv).ok_or(SessionKeyError::Plaintext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_lowercase_uuid_v4() {
        assert!(is_session_id("b94ea687-0a72-43f8-be24-7be5029fa998"));
        assert!(!is_session_id("B94EA687-0A72-43F8-BE24-7BE5029FA998"), "uppercase");
        assert!(!is_session_id("b94ea687-0a72-13f8-be24-7be5029fa998"), "version 1");
        assert!(!is_session_id("b94ea687-0a72-43f8-7e24-7be5029fa998"), "NCS variant");
        assert!(!is_session_id("b94ea6870a7243f8be247be5029fa998"), "no dashes");
    }

    #[test]
    fn versions_are_v1_with_an_optional_sdk_version() {
        assert!(is_v1("v1"));
        assert!(is_v1("v1_0.0.14"));
        assert!(!is_v1("v2"));
        assert!(!is_v1("v1_"));
        assert!(!is_v1("v1_..."));
        assert!(!is_v1("V1"));
    }
}
