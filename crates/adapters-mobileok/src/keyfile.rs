//! `mok_keyInfo.dat`: raw AES-256-CBC ciphertext of a UTF-8 JSON object, unlocked with a password.
//!
//! ```text
//! H1 = SHA-256(password)   H2 = SHA-256(H1)
//! key = H1[0..16) ‖ H2[16..32)   IV = H2[0..16)
//! JSON: {"ServiceId", "ClientPrivateKey": Base64 PKCS#8 DER, "ServerPublicKey"?: Base64 SPKI DER}
//! ```
//! Each [`KeyFile`] is a value: several (dev and prod) can live in one process.

use std::{fmt, path::Path};

use aws_lc_rs::{
    cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey},
    digest,
    iv::FixedLength,
    rsa::{OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{Error, ExposeSecret, SecretString};
use rsa::pkcs8::DecodePrivateKey;
use serde::Deserialize;

/// Key material from an unlocked key file. `Debug` shows the service id and which keys are present.
pub struct KeyFile {
    service_id: String,
    /// For OAEP decryption of results (aws-lc-rs, blinded).
    decrypting: OaepPrivateDecryptingKey,
    /// For the Gen-1 `encryptReqClientInfo` (PKCS#1 v1.5 private-key operation).
    signing: rsa::PrivateKey,
    server_public: Option<OaepPublicEncryptingKey>,
    client_public_spki: Vec<u8>,
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("service_id", &self.service_id)
            .field("client_private_key", &"<redacted>")
            .field("server_public_key", &self.server_public.is_some())
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyFileJson {
    service_id: String,
    client_private_key: String,
    #[serde(default)]
    server_public_key: Option<String>,
}

/// The AES key and IV the password unlocks.
fn password_key(password: &[u8]) -> ([u8; 32], [u8; 16]) {
    let h1 = digest::digest(&digest::SHA256, password);
    let h2 = digest::digest(&digest::SHA256, h1.as_ref());
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&h1.as_ref()[..16]);
    key[16..].copy_from_slice(&h2.as_ref()[16..32]);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&h2.as_ref()[..16]);
    (key, iv)
}

fn bad_file() -> Error {
    Error::misconfigured(
        "the mobileOK key file could not be unlocked: wrong key_password, or not a mok_keyInfo.dat file",
    )
}

impl KeyFile {
    /// Unlocks key-file bytes.
    pub fn unlock(bytes: &[u8], password: &SecretString) -> Result<Self, Error> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(16) {
            return Err(Error::misconfigured(
                "the mobileOK key file is empty or truncated (not a multiple of 16 bytes)",
            ));
        }
        let (key, iv) = password_key(password.expose_secret().as_bytes());
        let cipher =
            PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &key).map_err(|_| bad_file())?)
                .map_err(|_| bad_file())?;
        let mut buffer = bytes.to_vec();
        let plaintext =
            cipher.decrypt(&mut buffer, DecryptionContext::Iv128(FixedLength::from(iv))).map_err(|_| bad_file())?;
        let json: KeyFileJson = serde_json::from_slice(plaintext).map_err(|_| bad_file())?;
        Self::from_parts(&json.service_id, &json.client_private_key, json.server_public_key.as_deref())
    }

    /// Unlocks the file at `path`.
    pub fn from_path(path: &Path, password: &SecretString) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::misconfigured(format!("the mobileOK key file {} could not be read: {}", path.display(), e.kind()))
        })?;
        Self::unlock(&bytes, password)
    }

    /// Unlocks a key file given as Base64 (for containers and environment variables).
    pub fn from_base64(text: &str, password: &SecretString) -> Result<Self, Error> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = STANDARD
            .decode(compact)
            .map_err(|_| Error::misconfigured("providers.mobileok.key_file_base64 is not Base64"))?;
        Self::unlock(&bytes, password)
    }

    fn from_parts(service_id: &str, private_key: &str, server_public: Option<&str>) -> Result<Self, Error> {
        if service_id.trim().is_empty() {
            return Err(Error::misconfigured("the mobileOK key file has no ServiceId"));
        }
        let der = STANDARD
            .decode(private_key)
            .map_err(|_| Error::misconfigured("the mobileOK key file's ClientPrivateKey is not Base64"))?;
        let bad_key = || Error::misconfigured("the mobileOK key file's ClientPrivateKey is not an RSA PKCS#8 key");
        let private = PrivateDecryptingKey::from_pkcs8(&der).map_err(|_| bad_key())?;
        let client_public_spki = {
            use aws_lc_rs::encoding::AsDer;
            private.public_key().as_der().map_err(|_| bad_key())?.as_ref().to_vec()
        };
        let decrypting = OaepPrivateDecryptingKey::new(private).map_err(|_| bad_key())?;
        let signing = rsa::PrivateKey::from_pkcs8_der(&der).map_err(|_| bad_key())?;
        let server_public = match server_public.filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(text) => {
                let bad = || {
                    Error::misconfigured("the mobileOK key file's ServerPublicKey is not an RSA SubjectPublicKeyInfo")
                };
                let der = STANDARD.decode(text).map_err(|_| bad())?;
                Some(
                    OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&der).map_err(|_| bad())?)
                        .map_err(|_| bad())?,
                )
            }
        };
        Ok(Self { service_id: service_id.to_owned(), decrypting, signing, server_public, client_public_spki })
    }

    /// `ServiceId`.
    pub fn service_id(&self) -> &str {
        &self.service_id
    }

    /// Whether the file carries a `ServerPublicKey` (needed for Gen-2 request crypto).
    pub fn has_server_public_key(&self) -> bool {
        self.server_public.is_some()
    }

    pub(crate) fn decrypting(&self) -> &OaepPrivateDecryptingKey {
        &self.decrypting
    }

    pub(crate) fn signing(&self) -> &rsa::PrivateKey {
        &self.signing
    }

    pub(crate) fn server_public(&self) -> Option<&OaepPublicEncryptingKey> {
        self.server_public.as_ref()
    }

    /// The client's public key (SubjectPublicKeyInfo DER), for checking what the provider encrypts to.
    pub fn client_public_key_der(&self) -> &[u8] {
        &self.client_public_spki
    }

    /// RSA modulus size in bits (for `bonin keyfile inspect`).
    pub fn client_key_bits(&self) -> usize {
        self.decrypting.key_size_bytes() * 8
    }
}
