//! Toss's session crypto, as pinned by Toss's own vectors (`tests/data/toss/`).
//!
//! - A session is a `sessionId` (UUIDv4), a 32-byte AES key and a 12-byte IV, all fresh per
//!   request or result read.
//! - `sessionKey` = `v1$<sessionId>$` + Base64(RSA-OAEP SHA-1 / MGF1-SHA-1 over the UTF-8 text
//!   `AES_GCM$<Base64 key>$<Base64 iv>`) under Toss's public key: the one way Toss learns the key.
//! - A field = `v1$<sessionId>$` + Base64(AES-256-GCM ciphertext ‖ 16-byte tag), with nonce = the
//!   IV and **AAD = the raw key bytes** (Toss's examples `update(key)` before sealing).
//!
//! Every field of one session shares the key and the nonce: that is Toss's protocol, not a choice
//! here, and the reason a session serves one call only (a result read always gets a new one).
//! Standard Base64 with padding throughout. Nothing here logs, and `Debug` never shows a key or IV.

use std::fmt;

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rsa::{
        OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
        PublicEncryptingKey,
    },
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{Error, ExposeSecret, Rng, SecretString};
use secrecy::{SecretBox, zeroize::Zeroizing};

/// The version this crate writes in front of a `sessionKey` and of every field.
pub const VERSION: &str = "v1";
/// The algorithm name inside the RSA-encrypted part of a `sessionKey`.
const ALGORITHM: &str = "AES_GCM";
/// AES-256.
pub const KEY_LEN: usize = 32;
/// GCM's 96-bit nonce (Toss's `iv`).
pub const IV_LEN: usize = NONCE_LEN;
/// The GCM tag appended to every ciphertext.
const TAG_LEN: usize = 16;
/// The smallest RSA key accepted as Toss's (Toss publishes RSA-4096).
const MIN_RSA_BITS: usize = 2048;

/// Why a key, a `sessionKey` or a field could not be used. `Display` is a fixed sentence: never a
/// value, a key or a plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The configured public key is not Base64 of an RSA SubjectPublicKeyInfo of at least 2048 bits.
    #[error("the Toss public key is not a Base64 RSA SubjectPublicKeyInfo (at least 2048 bits)")]
    PublicKey,
    /// The private key is not Base64 or DER of an RSA PKCS#8 key.
    #[error("the private key is not an RSA PKCS#8 key")]
    PrivateKey,
    /// Not `<version>$<sessionId>$<Base64>`.
    #[error("the encrypted value is not <version>$<sessionId>$<Base64>")]
    Format,
    /// The version is not `v1` (nor an SDK's `v1_<x.y.z>`).
    #[error("the encrypted value's version is not v1")]
    Version,
    /// The value names another session.
    #[error("the encrypted value belongs to another session")]
    SessionMismatch,
    /// The payload is not standard padded Base64.
    #[error("the encrypted value is not Base64")]
    Base64,
    /// The ciphertext or its tag was altered, or it was sealed under another key, IV or AAD.
    #[error("the encrypted value does not authenticate under this session's key")]
    Authentication,
    /// It authenticated, but the plaintext is not UTF-8.
    #[error("the decrypted value is not UTF-8 text")]
    NotUtf8,
    /// A session's parts are malformed: a `sessionId` that is empty or not printable ASCII without
    /// `$`, a key that is not 32 bytes or an IV that is not 12 (Base64-decoded).
    #[error("the session's id, key or IV is malformed")]
    SessionParts,
    /// The RSA-decrypted part of a `sessionKey` is not `AES_GCM$<key>$<iv>`.
    #[error("the session key does not hold AES_GCM$<key>$<iv>")]
    SessionKeyText,
    /// RSA-OAEP refused the input (a ciphertext not made for this private key, or too long a text).
    #[error("RSA-OAEP failed")]
    Rsa,
}

impl CryptoError {
    /// The domain error: a bad key is bonin's configuration; anything else means a value that is
    /// not what this session sealed, i.e. an integrity failure.
    pub fn into_error(self) -> Error {
        match self {
            Self::PublicKey => Error::misconfigured(
                "providers.toss.public_key_base64 is not a Base64 RSA SubjectPublicKeyInfo (at least 2048 bits)",
            ),
            Self::PrivateKey => Error::misconfigured("the Toss private key is not an RSA PKCS#8 key"),
            other => Error::integrity(format!("Toss field crypto: {other}")),
        }
    }
}

impl From<CryptoError> for Error {
    fn from(error: CryptoError) -> Self {
        error.into_error()
    }
}

/// Toss's RSA public key, the one `sessionKey`s are encrypted to.
pub struct TossPublicKey {
    key: OaepPublicEncryptingKey,
}

impl fmt::Debug for TossPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossPublicKey").field("bits", &self.key.key_size_bits()).finish()
    }
}

impl TossPublicKey {
    /// Reads Base64 (standard, padded; surrounding whitespace ignored) of an X.509
    /// SubjectPublicKeyInfo DER, as Toss's SDK publishes it (`TossCertSessionGenerator.publicKey`).
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let der = STANDARD.decode(text.trim()).map_err(|_| CryptoError::PublicKey)?;
        Self::from_der(&der)
    }

    /// Reads an X.509 SubjectPublicKeyInfo DER.
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        let public = PublicEncryptingKey::from_der(der).map_err(|_| CryptoError::PublicKey)?;
        if public.key_size_bits() < MIN_RSA_BITS {
            return Err(CryptoError::PublicKey);
        }
        let key = OaepPublicEncryptingKey::new(public).map_err(|_| CryptoError::PublicKey)?;
        Ok(Self { key })
    }

    /// RSA-OAEP SHA-1 / MGF1-SHA-1 without a label (the examples' library defaults).
    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut out = vec![0u8; self.key.ciphertext_size()];
        let sealed = self.key.encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None).map_err(|_| CryptoError::Rsa)?;
        Ok(sealed.to_vec())
    }
}

/// One session: a `sessionId`, an AES-256 key and a GCM IV. Used for one call, then dropped (the
/// key is zeroed on drop). `Debug` shows the id only.
pub struct TossSession {
    id: String,
    key: SecretBox<[u8; KEY_LEN]>,
    iv: SecretBox<[u8; IV_LEN]>,
}

impl fmt::Debug for TossSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossSession").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A version Toss may write: `v1`, or an SDK's `v1_<x.y.z>` (the reference notes the SDK may
/// prefix `v1_0.0.14$` \[S\]). Only the format generation is read from it; integrity rests on GCM.
fn known_version(version: &str) -> bool {
    version == VERSION
        || version
            .strip_prefix("v1_")
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// Splits `<version>$<sessionId>$<payload>`, checking the version.
fn split_sealed(text: &str) -> Result<(&str, &str), CryptoError> {
    let mut parts = text.split('$');
    let (Some(version), Some(id), Some(payload), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(CryptoError::Format);
    };
    if id.is_empty() || payload.is_empty() {
        return Err(CryptoError::Format);
    }
    if !known_version(version) {
        return Err(CryptoError::Version);
    }
    Ok((id, payload))
}

fn valid_session_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic() && b != b'$')
}

/// Formats 16 random bytes as a UUIDv4 (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`, lower case), as
/// Java's `UUID.randomUUID().toString()` does.
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

impl TossSession {
    /// A fresh session from `rng`: a UUIDv4 id, 32 key bytes, 12 IV bytes.
    pub fn generate(rng: &dyn Rng) -> Result<Self, Error> {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id)?;
        let mut key = SecretBox::new(Box::new([0u8; KEY_LEN]));
        rng.fill_bytes(secrecy::ExposeSecretMut::expose_secret_mut(&mut key))?;
        let mut iv = SecretBox::new(Box::new([0u8; IV_LEN]));
        rng.fill_bytes(secrecy::ExposeSecretMut::expose_secret_mut(&mut iv))?;
        Ok(Self { id: uuid_v4(id), key, iv })
    }

    /// A session from its parts as Toss writes them: the `sessionId`, and the key and IV in
    /// Base64. For known answers and simulators; bonin itself only [`generate`](Self::generate)s.
    pub fn from_parts(session_id: &str, key_base64: &str, iv_base64: &str) -> Result<Self, CryptoError> {
        if !valid_session_id(session_id) {
            return Err(CryptoError::SessionParts);
        }
        let key = Zeroizing::new(STANDARD.decode(key_base64).map_err(|_| CryptoError::SessionParts)?);
        let iv = STANDARD.decode(iv_base64).map_err(|_| CryptoError::SessionParts)?;
        let key: [u8; KEY_LEN] = key.as_slice().try_into().map_err(|_| CryptoError::SessionParts)?;
        let iv: [u8; IV_LEN] = iv.as_slice().try_into().map_err(|_| CryptoError::SessionParts)?;
        Ok(Self { id: session_id.to_owned(), key: SecretBox::new(Box::new(key)), iv: SecretBox::new(Box::new(iv)) })
    }

    /// The `sessionId`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `AES_GCM$<Base64 key>$<Base64 iv>`: what the `sessionKey` carries, RSA-encrypted.
    fn key_text(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{ALGORITHM}${}${}",
            STANDARD.encode(self.key.expose_secret()),
            STANDARD.encode(self.iv.expose_secret())
        ))
    }

    /// The `sessionKey` for Toss: `v1$<sessionId>$<Base64(RSA-OAEP(AES_GCM$key$iv))>`. OAEP is
    /// randomised: two calls give two different (equally valid) values.
    pub fn session_key(&self, public_key: &TossPublicKey) -> Result<String, CryptoError> {
        let sealed = public_key.encrypt(self.key_text().as_bytes())?;
        Ok(format!("{VERSION}${}${}", self.id, STANDARD.encode(sealed)))
    }

    fn aead_key(&self) -> Result<LessSafeKey, CryptoError> {
        // Cannot fail for 32 bytes; mapped rather than unwrapped all the same.
        let key = UnboundKey::new(&AES_256_GCM, self.key.expose_secret()).map_err(|_| CryptoError::SessionParts)?;
        Ok(LessSafeKey::new(key))
    }

    fn nonce(&self) -> Nonce {
        Nonce::assume_unique_for_key(*self.iv.expose_secret())
    }

    /// Encrypts one field: `v1$<sessionId>$<Base64(ciphertext ‖ tag)>`. Deterministic for a session.
    pub fn encrypt(&self, plaintext: &str) -> Result<String, CryptoError> {
        let mut data = plaintext.as_bytes().to_vec();
        self.aead_key()?
            .seal_in_place_append_tag(self.nonce(), Aad::from(self.key.expose_secret()), &mut data)
            .map_err(|_| CryptoError::Authentication)?;
        Ok(format!("{VERSION}${}${}", self.id, STANDARD.encode(data)))
    }

    /// Decrypts one field Toss sealed under this session: the version must be `v1` (or an SDK's
    /// `v1_<x.y.z>`), the `sessionId` this session's, and the GCM tag must verify with this key, IV
    /// and AAD. Anything else is an error, never a panic.
    pub fn decrypt(&self, sealed: &str) -> Result<String, CryptoError> {
        let (id, payload) = split_sealed(sealed)?;
        if id != self.id {
            return Err(CryptoError::SessionMismatch);
        }
        let mut data = STANDARD.decode(payload).map_err(|_| CryptoError::Base64)?;
        if data.len() < TAG_LEN {
            return Err(CryptoError::Authentication);
        }
        let plaintext = self
            .aead_key()?
            .open_in_place(self.nonce(), Aad::from(self.key.expose_secret()), &mut data)
            .map_err(|_| CryptoError::Authentication)?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| CryptoError::NotUtf8)
    }
}

/// A `sessionKey` opened with the private key: what Toss's server reads from it.
pub struct OpenedSessionKey {
    session_id: String,
    text: SecretString,
}

impl fmt::Debug for OpenedSessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedSessionKey").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

impl OpenedSessionKey {
    /// The `sessionId` in front of the RSA part.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The decrypted text, `AES_GCM$<Base64 key>$<Base64 iv>` (a secret).
    pub fn key_text(&self) -> &str {
        self.text.expose_secret()
    }

    /// The session the text describes.
    pub fn session(&self) -> Result<TossSession, CryptoError> {
        let mut parts = self.key_text().split('$');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(ALGORITHM), Some(key), Some(iv), None) => TossSession::from_parts(&self.session_id, key, iv),
            _ => Err(CryptoError::SessionKeyText),
        }
    }
}

/// Opens a `sessionKey` with an RSA private key (PKCS#8 DER), as Toss's server does. bonin never
/// holds Toss's private key: this exists for Toss's published test vectors and for simulators that
/// play Toss with their own key pair.
pub fn open_session_key(private_key_pkcs8: &[u8], session_key: &str) -> Result<OpenedSessionKey, CryptoError> {
    let (session_id, payload) = split_sealed(session_key)?;
    let sealed = STANDARD.decode(payload).map_err(|_| CryptoError::Base64)?;
    let private = PrivateDecryptingKey::from_pkcs8(private_key_pkcs8).map_err(|_| CryptoError::PrivateKey)?;
    let private = OaepPrivateDecryptingKey::new(private).map_err(|_| CryptoError::PrivateKey)?;
    let mut out = Zeroizing::new(vec![0u8; private.min_output_size()]);
    let text = private.decrypt(&OAEP_SHA1_MGF1SHA1, &sealed, &mut out, None).map_err(|_| CryptoError::Rsa)?;
    let text = std::str::from_utf8(text).map_err(|_| CryptoError::SessionKeyText)?;
    Ok(OpenedSessionKey { session_id: session_id.to_owned(), text: SecretString::from(text) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use bonin_domain::SequenceRng;

    use super::*;

    #[test]
    fn session_ids_are_uuid_v4() {
        let session = TossSession::generate(&SequenceRng::default()).unwrap();
        let id = session.id();
        assert_eq!(id.len(), 36);
        let groups: Vec<&str> = id.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(groups[2].starts_with('4'));
        assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn two_sessions_from_one_rng_differ() {
        let rng = SequenceRng::default();
        let (a, b) = (TossSession::generate(&rng).unwrap(), TossSession::generate(&rng).unwrap());
        assert_ne!(a.id(), b.id());
        assert_ne!(a.encrypt("x").unwrap().split('$').nth(2), b.encrypt("x").unwrap().split('$').nth(2));
    }

    #[test]
    fn debug_shows_the_id_only() {
        let session = TossSession::from_parts("sid", &STANDARD.encode([7u8; 32]), &STANDARD.encode([9u8; 12])).unwrap();
        let debug = format!("{session:?}");
        assert!(debug.contains("sid"));
        assert!(!debug.contains(&STANDARD.encode([7u8; 32])) && !debug.contains("7, 7"));
    }

    #[test]
    fn sdk_versions_are_read_and_others_refused() {
        assert!(known_version("v1"));
        assert!(known_version("v1_0.0.14"));
        assert!(!known_version("v1_"));
        assert!(!known_version("v2"));
        assert!(!known_version("V1"));
        assert!(!known_version("v1_0.0.14x"));
    }
}
