//! Hostile input for the store's parser of configuration: `store.encryption_keys` entries (`ID:BASE64`)
//! in any shape, and sealed records that were truncated or tampered with. No input may panic, no
//! error may show key material, and what is sealed opens to what went in.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![cfg(feature = "encryption")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_store::RecordCipher;
use bonin_domain::{Error, SecretString, StoreError};
use bonin_sandbox::fuzz::{any_text, canary, check, mutated, mutated_bytes, no_leak};
use proptest::prelude::*;

/// One `ID:BASE64` entry: valid (random key), mutated, or any text.
fn entry() -> impl Strategy<Value = String> {
    let valid = (any::<u8>(), any::<[u8; 32]>()).prop_map(|(id, key)| format!("{id}:{}", STANDARD.encode(key)));
    prop_oneof![3 => valid.clone(), 2 => mutated(valid), 1 => any_text(), 1 => canary()]
}

#[test]
fn prop_encryption_keys() {
    let strategy = (prop::collection::vec(entry(), 0..4), prop::collection::vec(any::<u8>(), 0..64), "vf[a-z0-9]{24}");
    check!("prop_encryption_keys", strategy, |(entries, plaintext, id)| {
        let secrets: Vec<SecretString> = entries.iter().map(|e| SecretString::from(e.as_str())).collect();
        match RecordCipher::from_config(&secrets) {
            Ok(cipher) => {
                let sealed = cipher.seal(&id, &plaintext).unwrap();
                prop_assert_eq!(cipher.open(&id, &sealed).unwrap(), plaintext);
                let debug = format!("{cipher:?}");
                for entry in &entries {
                    let key = entry.split_once(':').map_or("", |(_, key)| key.trim());
                    prop_assert!(key.len() < 8 || !debug.contains(key), "Debug shows a key");
                }
            }
            Err(error) => {
                prop_assert!(matches!(error, Error::Misconfigured { .. }), "not Misconfigured");
                let rendered = format!("{error} {error:?}");
                for entry in &entries {
                    if let Some((_, key)) = entry.split_once(':') {
                        no_leak(&rendered, key.trim())?;
                    }
                }
            }
        }
        Ok(())
    });
}

#[test]
fn prop_sealed_records() {
    let key = |id: u8, byte: u8| SecretString::from(format!("{id}:{}", STANDARD.encode([byte; 32])));
    let cipher = RecordCipher::from_config(&[key(2, 9), key(1, 7)]).unwrap();
    let sealed = cipher.seal("vf-record", br#"{"name":"canary"}"#).unwrap();
    let records = prop_oneof![3 => mutated_bytes(sealed), 1 => prop::collection::vec(any::<u8>(), 0..64)];
    check!("prop_sealed_records", (records, prop_oneof![Just("vf-record".to_owned()), any_text()]), |(bytes, id)| {
        match cipher.open(&id, &bytes) {
            Ok(plain) => prop_assert_eq!(plain, br#"{"name":"canary"}"#.to_vec()),
            Err(error) => prop_assert!(matches!(error, StoreError::Corrupt(_)), "not Corrupt"),
        }
        Ok(())
    });
}
