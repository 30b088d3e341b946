//! Toss's own known answers (`tests/data/toss/`, from toss/toss-cert-examples): every RSA vector
//! opens to its key and IV, every AES vector encrypts byte for byte and decrypts; and what Toss
//! would refuse is refused with a typed error, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_toss::{CryptoError, TossPublicKey, TossSession, open_session_key};
use bonin_domain::{Error, OsRng};
use common::{csv, private_key, public_key_base64};

fn vector_session() -> (TossSession, String) {
    let row = &csv("aes_test_data.csv")[0];
    (TossSession::from_parts(&row[0], &row[1], &row[2]).unwrap(), row[4].clone())
}

#[test]
fn all_100_rsa_vectors_open_to_aes_gcm_key_and_iv() {
    let private = private_key();
    let rows = csv("rsa_test_data.csv");
    assert_eq!(rows.len(), 100);
    for (i, row) in rows.iter().enumerate() {
        let [session_id, key, iv, session_key] = row.as_slice() else { panic!("row {i} has {} columns", row.len()) };
        let opened = open_session_key(&private, session_key).unwrap_or_else(|e| panic!("row {i}: {e}"));
        assert_eq!(opened.session_id(), session_id, "row {i}");
        assert_eq!(opened.key_text(), format!("AES_GCM${key}${iv}"), "row {i}");
        assert_eq!(opened.session().unwrap().id(), session_id, "row {i}");
    }
}

#[test]
fn all_100_aes_vectors_encrypt_byte_exact_and_decrypt() {
    let rows = csv("aes_test_data.csv");
    assert_eq!(rows.len(), 100);
    for (i, row) in rows.iter().enumerate() {
        let [session_id, key, iv, plain, encrypted] = row.as_slice() else {
            panic!("row {i} has {} columns", row.len())
        };
        let session = TossSession::from_parts(session_id, key, iv).unwrap();
        assert_eq!(&session.encrypt(plain).unwrap(), encrypted, "row {i}");
        assert_eq!(&session.decrypt(encrypted).unwrap(), plain, "row {i}");
    }
}

#[test]
fn own_session_key_under_the_test_public_key_opens_with_the_test_private_key() {
    let public = TossPublicKey::from_base64(&public_key_base64()).unwrap();
    let session = TossSession::generate(&OsRng).unwrap();
    let session_key = session.session_key(&public).unwrap();
    assert!(session_key.starts_with(&format!("v1${}$", session.id())));
    // OAEP is randomised: the same session gives another sessionKey each time, each one valid.
    assert_ne!(session.session_key(&public).unwrap(), session_key);
    let opened = open_session_key(&private_key(), &session_key).unwrap();
    assert_eq!(opened.session_id(), session.id());
    let toss_side = opened.session().unwrap();
    let sealed = toss_side.encrypt("김토스").unwrap();
    assert_eq!(session.decrypt(&sealed).unwrap(), "김토스");
    assert_eq!(session.encrypt("19930324").unwrap(), toss_side.encrypt("19930324").unwrap());
    assert!(!format!("{session:?} {opened:?}").contains(opened.key_text()));
}

#[test]
fn tampered_ciphertext_is_refused() {
    let (session, sealed) = vector_session();
    let (head, payload) = sealed.rsplit_once('$').unwrap();
    let mut bytes = STANDARD.decode(payload).unwrap();
    for i in [0, bytes.len() - 1] {
        let mut flipped = bytes.clone();
        flipped[i] ^= 1;
        let forged = format!("{head}${}", STANDARD.encode(&flipped));
        assert_eq!(session.decrypt(&forged), Err(CryptoError::Authentication), "byte {i}");
    }
    bytes.truncate(15);
    assert_eq!(session.decrypt(&format!("{head}${}", STANDARD.encode(&bytes))), Err(CryptoError::Authentication));
}

#[test]
fn a_field_sealed_without_the_key_as_aad_is_refused() {
    let row = &csv("aes_test_data.csv")[0];
    let (key, iv) = (STANDARD.decode(&row[1]).unwrap(), STANDARD.decode(&row[2]).unwrap());
    let session = TossSession::from_parts(&row[0], &row[1], &row[2]).unwrap();
    for aad in [&b""[..], b"another-aad"] {
        let sealer = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).unwrap());
        let mut data = row[3].as_bytes().to_vec();
        let nonce = Nonce::assume_unique_for_key(iv.as_slice().try_into().unwrap());
        sealer.seal_in_place_append_tag(nonce, Aad::from(aad), &mut data).unwrap();
        let forged = format!("v1${}${}", row[0], STANDARD.encode(&data));
        assert_eq!(session.decrypt(&forged), Err(CryptoError::Authentication));
    }
}

#[test]
fn a_field_of_another_session_is_refused() {
    let rows = csv("aes_test_data.csv");
    let session = TossSession::from_parts(&rows[0][0], &rows[0][1], &rows[0][2]).unwrap();
    assert_eq!(session.decrypt(&rows[1][4]), Err(CryptoError::SessionMismatch));
    // The right payload under another id is refused too, before any key is tried.
    let renamed = rows[0][4].replace(&rows[0][0], &rows[1][0]);
    assert_eq!(session.decrypt(&renamed), Err(CryptoError::SessionMismatch));
    // The same id with another key (a forged session) does not authenticate.
    let forged = TossSession::from_parts(&rows[0][0], &rows[1][1], &rows[0][2]).unwrap();
    assert_eq!(forged.decrypt(&rows[0][4]), Err(CryptoError::Authentication));
    let error: Error = CryptoError::SessionMismatch.into();
    assert!(matches!(error, Error::IntegrityMismatch { .. }));
}

#[test]
fn versions_other_than_v1_are_refused_and_the_sdk_prefix_is_read() {
    let (session, sealed) = vector_session();
    let rest = sealed.strip_prefix("v1$").unwrap();
    assert_eq!(session.decrypt(&format!("v2${rest}")), Err(CryptoError::Version));
    assert_eq!(session.decrypt(&format!("V1${rest}")), Err(CryptoError::Version));
    assert_eq!(session.decrypt(&format!("v1_0.0.14${rest}")), session.decrypt(&sealed));
    assert!(session.encrypt("x").unwrap().starts_with("v1$"), "bonin writes plain v1$");
}

#[test]
fn malformed_values_are_typed_errors() {
    let (session, sealed) = vector_session();
    let id = session.id().to_owned();
    for (text, expected) in [
        (String::new(), CryptoError::Format),
        ("v1".to_owned(), CryptoError::Format),
        (format!("v1${id}"), CryptoError::Format),
        (format!("v1${id}$"), CryptoError::Format),
        (format!("{sealed}$extra"), CryptoError::Format),
        (format!("v1${id}$not base64!"), CryptoError::Base64),
        (format!("v1${id}$QUJD"), CryptoError::Authentication),
    ] {
        assert_eq!(session.decrypt(&text), Err(expected), "{text:?}");
    }
    assert_eq!(TossSession::from_parts(&id, "c2hvcnQ=", "AAAAAAAAAAAAAAAA").err(), Some(CryptoError::SessionParts));
    assert_eq!(
        TossSession::from_parts("a$b", &STANDARD.encode([0u8; 32]), &STANDARD.encode([0u8; 12])).err(),
        Some(CryptoError::SessionParts)
    );
    assert_eq!(open_session_key(b"not a key", &csv("rsa_test_data.csv")[0][3]).err(), Some(CryptoError::PrivateKey));
    assert_eq!(open_session_key(&private_key(), &sealed).err(), Some(CryptoError::Rsa));
    assert_eq!(TossPublicKey::from_base64("bm90IGEga2V5").err(), Some(CryptoError::PublicKey));
}
