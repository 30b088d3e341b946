//! The NICE simulator's own reading of the crypto recipe (nice.md §2.4–2.6).

use aws_lc_rs::{
    cipher::{
        AES_128, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
        UnboundCipherKey,
    },
    digest, hmac,
    iv::FixedLength,
};
use base64::{Engine, engine::general_purpose::STANDARD};

/// key / iv / hmac key as the ASCII bytes of Base64(SHA-256(req_dtim + req_no + token_val)).
#[derive(Clone)]
pub(crate) struct Keys {
    key: [u8; 16],
    iv: [u8; 16],
    mac: [u8; 32],
}

impl Keys {
    pub(crate) fn derive(req_dtim: &str, req_no: &str, token_val: &str) -> Self {
        let text =
            STANDARD.encode(digest::digest(&digest::SHA256, format!("{req_dtim}{req_no}{token_val}").as_bytes()));
        let b = text.as_bytes();
        let mut keys = Self { key: [0; 16], iv: [0; 16], mac: [0; 32] };
        keys.key.copy_from_slice(&b[..16]);
        keys.iv.copy_from_slice(&b[b.len() - 16..]);
        keys.mac.copy_from_slice(&b[..32]);
        keys
    }

    pub(crate) fn seal(&self, plaintext: &[u8]) -> Option<(String, String)> {
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &self.key).ok()?).ok()?;
        let mut data = plaintext.to_vec();
        key.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(self.iv))).ok()?;
        let enc_data = STANDARD.encode(data);
        let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &self.mac), enc_data.as_bytes());
        Some((enc_data.clone(), STANDARD.encode(mac)))
    }

    /// Verifies the HMAC, then decrypts. `None` for any failure.
    pub(crate) fn open(&self, enc_data: &str, integrity_value: &str) -> Option<Vec<u8>> {
        let tag = STANDARD.decode(integrity_value).ok()?;
        hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, &self.mac), enc_data.as_bytes(), &tag).ok()?;
        let mut data = STANDARD.decode(enc_data).ok()?;
        let key = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &self.key).ok()?).ok()?;
        let plain = key.decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(self.iv))).ok()?;
        Some(plain.to_vec())
    }
}
