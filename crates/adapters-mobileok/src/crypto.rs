//! mobileOK crypto (protocol §3): `encryptReqClientInfo` in both generations, the hybrid
//! RSA-OAEP(SHA-256) + AES-256-CBC envelope towards the server (`RSAServerEncrypt`), and the
//! decryption of `encryptMOKResult`.

use aws_lc_rs::{
    cipher::{
        AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey,
        UnboundCipherKey,
    },
    digest,
    iv::FixedLength,
    rsa::{OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{Error, KST, ProviderId, Rng, Timestamp};
use serde::Deserialize;

use crate::KeyFile;

/// Which `encryptReqClientInfo` the contract and key file use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CryptoGeneration {
    /// Gen-1: `"V2|clientTxId|yyyyMMddHHmmss"` under the client private key (PKCS#1 v1.5 type 1).
    #[default]
    V1,
    /// Gen-2: JSON under the key file's `ServerPublicKey` (RSA-OAEP SHA-256), with
    /// `encryptVersion: "V2"` in the 표준창 request.
    V2,
}

fn failed(what: &'static str) -> Error {
    Error::misconfigured(format!("mobileOK crypto failed: {what}"))
}

/// `yyyyMMddHHmmss` in KST.
pub fn kst_compact(at: Timestamp) -> String {
    let t = at.to_offset(KST);
    format!("{:04}{:02}{:02}{:02}{:02}{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// Parses `issueDate` (`yyyy-MM-dd HH:mm:ss`, KST).
pub fn parse_issue_date(text: &str) -> Option<Timestamp> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(text.trim(), format).ok().map(|t| t.assume_offset(KST))
}

/// `encryptReqClientInfo` for `client_tx_id` at `now`.
pub fn encrypt_req_client_info(
    key_file: &KeyFile,
    generation: CryptoGeneration,
    client_tx_id: &str,
    now: Timestamp,
) -> Result<String, Error> {
    let time = kst_compact(now);
    match generation {
        CryptoGeneration::V1 => {
            let message = format!("V2|{client_tx_id}|{time}");
            let signature = key_file
                .signing()
                .sign(rsa::Pkcs1v15Sign::new_unprefixed(), message.as_bytes())
                .map_err(|_| failed("Gen-1 encryptReqClientInfo"))?;
            Ok(STANDARD.encode(signature))
        }
        CryptoGeneration::V2 => {
            let server = key_file.server_public().ok_or_else(|| {
                Error::misconfigured("providers.mobileok.crypto = \"v2\" needs a key file with a ServerPublicKey")
            })?;
            let json =
                serde_json::json!({"version": "V2", "clientTxId": client_tx_id, "requestTime": time}).to_string();
            oaep_encrypt(server, json.as_bytes()).map(|c| STANDARD.encode(c))
        }
    }
}

fn oaep_encrypt(key: &OaepPublicEncryptingKey, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; key.ciphertext_size()];
    let written =
        key.encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None).map_err(|_| failed("RSA-OAEP encryption"))?;
    Ok(written.to_vec())
}

/// The `publicKey` of a token reply (Base64 SubjectPublicKeyInfo).
pub fn parse_public_key(text: &str) -> Result<OaepPublicEncryptingKey, Error> {
    let bad = || Error::protocol(ProviderId::Mobileok, "publicKey is not an RSA SubjectPublicKeyInfo");
    let der = STANDARD.decode(text.trim()).map_err(|_| bad())?;
    OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&der).map_err(|_| bad())?).map_err(|_| bad())
}

fn sha256_b64(data: &[u8]) -> String {
    STANDARD.encode(digest::digest(&digest::SHA256, data))
}

/// `RSAServerEncrypt`: `Base64(OAEP(Base64(K‖IV) + "|" + Base64(SHA-256(pt)))) + "|" + Base64(AES-256-CBC(pt))`
/// with a fresh random key and IV.
pub fn server_encrypt(server_key: &OaepPublicEncryptingKey, plaintext: &[u8], rng: &dyn Rng) -> Result<String, Error> {
    let mut key_iv = [0u8; 48];
    rng.fill_bytes(&mut key_iv)?;
    let (key, iv) = key_iv.split_at(32);
    let cipher =
        PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, key).map_err(|_| failed("AES key"))?)
            .map_err(|_| failed("AES key"))?;
    let mut data = plaintext.to_vec();
    let iv: [u8; 16] = iv.try_into().map_err(|_| failed("IV"))?;
    cipher.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv))).map_err(|_| failed("AES"))?;
    let key_iv_hash = format!("{}|{}", STANDARD.encode(key_iv), sha256_b64(plaintext));
    let enc_key = oaep_encrypt(server_key, key_iv_hash.as_bytes())?;
    Ok(format!("{}|{}", STANDARD.encode(enc_key), STANDARD.encode(data)))
}

/// Decrypts `encryptMOKResult` with the client private key and checks its SHA-256.
pub fn decrypt_result(key_file: &KeyFile, value: &str) -> Result<Vec<u8>, Error> {
    let mismatch = |what: &'static str| Error::integrity(what);
    let (enc_key, enc_data) = value.split_once('|').ok_or_else(|| mismatch("encryptMOKResult has no key part"))?;
    let enc_key = STANDARD.decode(enc_key.trim()).map_err(|_| mismatch("encryptMOKResult key is not Base64"))?;
    let private = key_file.decrypting();
    let mut out = vec![0u8; private.min_output_size()];
    let key_iv_hash = private
        .decrypt(&OAEP_SHA256_MGF1SHA256, &enc_key, &mut out, None)
        .map_err(|_| mismatch("encryptMOKResult was not encrypted to this key file"))?;
    let key_iv_hash =
        std::str::from_utf8(key_iv_hash).map_err(|_| mismatch("encryptMOKResult key part is not text"))?;
    let (key_iv, hash) =
        key_iv_hash.split_once('|').ok_or_else(|| mismatch("encryptMOKResult key part has no hash"))?;
    let key_iv = STANDARD.decode(key_iv).map_err(|_| mismatch("encryptMOKResult key is not Base64"))?;
    if key_iv.len() != 48 {
        return Err(mismatch("encryptMOKResult key is not 32 + 16 bytes"));
    }
    let iv: [u8; 16] = key_iv[32..].try_into().map_err(|_| mismatch("IV"))?;
    let cipher = PaddedBlockDecryptingKey::cbc_pkcs7(
        UnboundCipherKey::new(&AES_256, &key_iv[..32]).map_err(|_| mismatch("encryptMOKResult AES key"))?,
    )
    .map_err(|_| mismatch("encryptMOKResult AES key"))?;
    let mut data = STANDARD.decode(enc_data.trim()).map_err(|_| mismatch("encryptMOKResult data is not Base64"))?;
    let plaintext = cipher
        .decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(iv)))
        .map_err(|_| mismatch("encryptMOKResult data does not decrypt"))?;
    if sha256_b64(plaintext) != hash.trim() {
        return Err(mismatch("encryptMOKResult hash does not match its content"));
    }
    Ok(plaintext.to_vec())
}
