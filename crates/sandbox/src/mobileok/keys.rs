//! The simulator's keys and its own reading of the mobileOK crypto (protocol §2–§3).

use aws_lc_rs::{
    cipher::{
        AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
        UnboundCipherKey,
    },
    digest,
    encoding::AsDer,
    iv::FixedLength,
    rsa::{
        KeySize, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
        PublicEncryptingKey,
    },
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{OsRng, Rng};
use rsa::{BoxedUint, pkcs8::DecodePublicKey, traits::PublicKeyParts};

/// One RSA-2048 key pair as DER.
pub(crate) struct Pair {
    pub pkcs8: Vec<u8>,
    pub spki: Vec<u8>,
}

impl Pair {
    pub(crate) fn generate() -> Option<Self> {
        let key = PrivateDecryptingKey::generate(KeySize::Rsa2048).ok()?;
        let pkcs8 = key.as_der().ok()?.as_ref().to_vec();
        let spki = key.public_key().as_der().ok()?.as_ref().to_vec();
        Some(Self { pkcs8, spki })
    }

    fn private(&self) -> Option<OaepPrivateDecryptingKey> {
        OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(&self.pkcs8).ok()?).ok()
    }
}

fn password_key(password: &str) -> ([u8; 32], [u8; 16]) {
    let h1 = digest::digest(&digest::SHA256, password.as_bytes());
    let h2 = digest::digest(&digest::SHA256, h1.as_ref());
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&h1.as_ref()[..16]);
    key[16..].copy_from_slice(&h2.as_ref()[16..]);
    let mut iv = [0u8; 16];
    iv.copy_from_slice(&h2.as_ref()[..16]);
    (key, iv)
}

fn aes_encrypt(key: &[u8], iv: [u8; 16], plaintext: &[u8]) -> Option<Vec<u8>> {
    let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, key).ok()?).ok()?;
    let mut data = plaintext.to_vec();
    cipher.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv))).ok()?;
    Some(data)
}

fn aes_decrypt(key: &[u8], iv: [u8; 16], ciphertext: &[u8]) -> Option<Vec<u8>> {
    let cipher = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, key).ok()?).ok()?;
    let mut data = ciphertext.to_vec();
    Some(cipher.decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv))).ok()?.to_vec())
}

/// `mok_keyInfo.dat`: the JSON, AES-256-CBC under the password-derived key.
pub(crate) fn key_file(service_id: &str, client: &Pair, server: Option<&Pair>, password: &str) -> Option<Vec<u8>> {
    let mut json = serde_json::json!({"ServiceId": service_id, "ClientPrivateKey": STANDARD.encode(&client.pkcs8)});
    if let Some(server) = server {
        json["ServerPublicKey"] = serde_json::json!(STANDARD.encode(&server.spki));
    }
    let (key, iv) = password_key(password);
    aes_encrypt(&key, iv, json.to_string().as_bytes())
}

/// Gen-1: recovers the message of a PKCS#1 v1.5 type-1 "private-key encryption" with the client's
/// public key.
pub(crate) fn recover_gen1(client: &Pair, encrypted_b64: &str) -> Option<String> {
    let signature = STANDARD.decode(encrypted_b64.trim()).ok()?;
    let public = rsa::PublicKey::from_public_key_der(&client.spki).ok()?;
    if signature.len() != public.size() {
        return None;
    }
    let s = BoxedUint::from_be_slice(&signature, public.n_bits_precision()).ok()?;
    let m = rsa::hazmat::rsa_encrypt(&public, &s).ok()?;
    let bytes = m.to_be_bytes();
    let size = public.size();
    let mut em = vec![0u8; size];
    let take = bytes.len().min(size);
    em[size - take..].copy_from_slice(&bytes[bytes.len() - take..]);
    // 00 01 FF…FF 00 message
    if em.first() != Some(&0) || em.get(1) != Some(&1) {
        return None;
    }
    let separator = em.iter().skip(2).position(|b| *b != 0xFF)? + 2;
    if em[separator] != 0 || separator < 10 {
        return None;
    }
    String::from_utf8(em[separator + 1..].to_vec()).ok()
}

/// Gen-2 and the key part of envelopes: RSA-OAEP (SHA-256, MGF1-SHA-256) decryption.
pub(crate) fn oaep_decrypt(pair: &Pair, ciphertext: &[u8]) -> Option<Vec<u8>> {
    let key = pair.private()?;
    let mut out = vec![0u8; key.min_output_size()];
    Some(key.decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None).ok()?.to_vec())
}

fn sha256_b64(data: &[u8]) -> String {
    STANDARD.encode(digest::digest(&digest::SHA256, data))
}

/// Opens `encKey|data` sent to the server (`encryptMOKAuthInfo`, `encryptMOKVerifyInfo`).
pub(crate) fn open_envelope(server: &Pair, value: &str) -> Option<Vec<u8>> {
    let (enc_key, data) = value.split_once('|')?;
    let key_part = oaep_decrypt(server, &STANDARD.decode(enc_key).ok()?)?;
    let (key_iv, hash) = std::str::from_utf8(&key_part).ok()?.split_once('|')?;
    let key_iv = STANDARD.decode(key_iv).ok()?;
    if key_iv.len() != 48 {
        return None;
    }
    let plaintext = aes_decrypt(&key_iv[..32], key_iv[32..].try_into().ok()?, &STANDARD.decode(data).ok()?)?;
    (sha256_b64(&plaintext) == hash).then_some(plaintext)
}

/// Seals a result to the client (`encryptMOKResult`). `break_hash` corrupts the integrity hash.
pub(crate) fn seal_result(client: &Pair, plaintext: &[u8], break_hash: bool) -> Option<String> {
    seal_to(&client.spki, plaintext, break_hash)
}

/// Seals `plaintext` to the RSA public key `spki` (SubjectPublicKeyInfo DER) as `encryptMOKResult`.
pub(crate) fn seal_to(spki: &[u8], plaintext: &[u8], break_hash: bool) -> Option<String> {
    let mut key_iv = [0u8; 48];
    OsRng.fill_bytes(&mut key_iv).ok()?;
    let data = aes_encrypt(&key_iv[..32], key_iv[32..].try_into().ok()?, plaintext)?;
    let mut hash = sha256_b64(plaintext);
    if break_hash {
        hash = sha256_b64(b"something else");
    }
    let key_part = format!("{}|{hash}", STANDARD.encode(key_iv));
    let public = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(spki).ok()?).ok()?;
    let mut out = vec![0u8; public.ciphertext_size()];
    let enc_key = public.encrypt(&OAEP_SHA256_MGF1SHA256, key_part.as_bytes(), &mut out, None).ok()?;
    Some(format!("{}|{}", STANDARD.encode(enc_key), STANDARD.encode(data)))
}
