//! NICE API-method crypto: key derivation, AES-128-CBC, HMAC-SHA256 integrity.
//!
//! ```text
//! b64      = Base64(SHA-256(req_dtim + req_no + token_val))
//! key      = b64[0..16]    iv = b64[28..44]    hmac_key = b64[0..32]
//! ```
//! The key, IV and HMAC key are the ASCII bytes of the Base64 *text*, not decoded digest bytes.

use std::fmt;

use aws_lc_rs::{
    cipher::{
        AES_128, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
        UnboundCipherKey,
    },
    digest, hmac,
    iv::FixedLength,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::Error;

/// The per-crypto-token keys. Secret: `Debug` is masked.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    key: [u8; 16],
    iv: [u8; 16],
    hmac_key: [u8; 32],
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKeys(<redacted>)")
    }
}

fn ascii<const N: usize>(text: &str) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(text.as_bytes()).map_err(|_| Error::integrity("stored NICE key material has the wrong length"))
}

/// Derives the keys from the exact `req_dtim`, `req_no` and `token_val` strings of the crypto-token
/// exchange.
pub fn derive_session_keys(req_dtim: &str, req_no: &str, token_val: &str) -> SessionKeys {
    let input = format!("{}{}{}", req_dtim.trim(), req_no.trim(), token_val.trim());
    let b64 = STANDARD.encode(digest::digest(&digest::SHA256, input.as_bytes()));
    let bytes = b64.as_bytes();
    let mut keys = SessionKeys { key: [0; 16], iv: [0; 16], hmac_key: [0; 32] };
    keys.key.copy_from_slice(&bytes[0..16]);
    keys.iv.copy_from_slice(&bytes[28..44]);
    keys.hmac_key.copy_from_slice(&bytes[0..32]);
    keys
}

impl SessionKeys {
    /// Rebuilds keys from their stored ASCII form.
    pub fn from_stored(key: &str, iv: &str, hmac_key: &str) -> Result<Self, Error> {
        Ok(Self { key: ascii(key)?, iv: ascii(iv)?, hmac_key: ascii(hmac_key)? })
    }

    /// The key, IV and HMAC key as the ASCII text they are (for the session store).
    pub fn to_stored(&self) -> (String, String, String) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (text(&self.key), text(&self.iv), text(&self.hmac_key))
    }

    /// `enc_data`: Base64(AES-128-CBC(PKCS#7(plaintext))).
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, Error> {
        let failed = |_| Error::misconfigured("AES encryption failed");
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &self.key).map_err(failed)?)
            .map_err(failed)?;
        let mut buffer = plaintext.to_vec();
        key.less_safe_encrypt(&mut buffer, EncryptionContext::Iv128(FixedLength::from(self.iv))).map_err(failed)?;
        Ok(STANDARD.encode(buffer))
    }

    /// Decrypts `enc_data` (Base64 text) to the plaintext bytes.
    pub fn decrypt(&self, enc_data: &str) -> Result<Vec<u8>, Error> {
        let mut buffer = STANDARD.decode(enc_data).map_err(|_| Error::integrity("enc_data is not Base64"))?;
        let failed = |_| Error::integrity("enc_data does not decrypt with this session's key");
        let key = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &self.key).map_err(failed)?)
            .map_err(failed)?;
        let plaintext =
            key.decrypt(&mut buffer, DecryptionContext::Iv128(FixedLength::from(self.iv))).map_err(failed)?;
        Ok(plaintext.to_vec())
    }

    /// `integrity_value`: Base64(HMAC-SHA256(hmac_key, enc_data as Base64 text)).
    pub fn integrity_value(&self, enc_data: &str) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.hmac_key);
        STANDARD.encode(hmac::sign(&key, enc_data.as_bytes()))
    }

    /// Checks `integrity_value` against `enc_data` in constant time.
    pub fn verify_integrity(&self, enc_data: &str, integrity_value: &str) -> Result<(), Error> {
        let tag = STANDARD.decode(integrity_value).map_err(|_| Error::integrity("integrity_value is not Base64"))?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.hmac_key);
        hmac::verify(&key, enc_data.as_bytes(), &tag)
            .map_err(|_| Error::integrity("integrity_value does not match enc_data"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example in the protocol reference, byte for byte.
    #[test]
    fn worked_example_is_reproduced_byte_for_byte() {
        let keys = derive_session_keys(
            "20210622162600",
            "111111111122222222223333333333",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
        let (key, iv, hmac_key) = keys.to_stored();
        assert_eq!(key, "kNJrajzjZubcdSBG");
        assert_eq!(iv, "pV7m4/y1XOvFDGE=");
        assert_eq!(hmac_key, "kNJrajzjZubcdSBG9Na3BFuM7T2HpV7m");
        let plaintext = r#"{"requestno":"111111111122222222223333333333","returnurl":"https://example.com/nice/callback","sitecode":"Q0cyMzI=","methodtype":"get","popupyn":"Y"}"#;
        let enc_data = keys.encrypt(plaintext.as_bytes()).unwrap();
        assert_eq!(
            enc_data,
            "56rMR+CdGr4cbyPGLJPgdXY3NSUxCAukB2ruGxWcdb4zBCY9wvINBj66NrPXm8MCI6DoLrpResDHrL6AOE25yveDIyJFWZ3scKJLATQEXcLxehh+/+51toYK4dQgtR3xuoFyKH9GgffoEXRG0Q/0HkUfsLhenUsZeKpV2UDIxYGvCbpmDA4eHH89+pn+LNPUcgKWh+T8EcX53X0tcTiQqA=="
        );
        assert_eq!(keys.integrity_value(&enc_data), "nFc/iFee7CU0RS7uJjZZSBa8NOr4TV068nxgthPeogE=");
        keys.verify_integrity(&enc_data, "nFc/iFee7CU0RS7uJjZZSBa8NOr4TV068nxgthPeogE=").unwrap();
        assert_eq!(keys.decrypt(&enc_data).unwrap(), plaintext.as_bytes());
    }

    #[test]
    fn a_changed_byte_fails_the_integrity_check() {
        let keys = derive_session_keys("20260101000000", "req", "dG9rZW4=");
        let enc = keys.encrypt(b"{}").unwrap();
        let mac = keys.integrity_value(&enc);
        let mut tampered = enc.clone().into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(matches!(keys.verify_integrity(&tampered, &mac), Err(Error::IntegrityMismatch { .. })));
        assert!(matches!(keys.verify_integrity(&enc, "AAAA"), Err(Error::IntegrityMismatch { .. })));
        assert!(matches!(keys.verify_integrity(&enc, "%%%"), Err(Error::IntegrityMismatch { .. })));
    }

    #[test]
    fn stored_keys_round_trip_and_stay_masked() {
        let keys = derive_session_keys("20260101000000", "req", "dG9rZW4=");
        let (k, i, h) = keys.to_stored();
        assert_eq!(SessionKeys::from_stored(&k, &i, &h).unwrap(), keys);
        assert!(SessionKeys::from_stored("short", &i, &h).is_err());
        assert_eq!(format!("{keys:?}"), "SessionKeys(<redacted>)");
    }
}
