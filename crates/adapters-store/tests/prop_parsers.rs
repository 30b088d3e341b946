//! Hostile input for the store's parser of configuration: `store.encryption_keys` entries (`ID:BASE64`)
//! in any shape, and sealed records that were truncated or tampered with. No input may panic, no
//! error may show key material, and what is sealed opens to what went in.
//!
//! Each property runs `BONIN_FUZZ_CASES` cases (256 by default); `cargo xtask fuzz` raises the count
//! and sums what each property records in `BONIN_FUZZ_REPORT`.
#![cfg(feature = "encryption")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    io::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_store::RecordCipher;
use bonin_domain::{Error, SecretString, StoreError};
use proptest::{
    prelude::*,
    sample::Index,
    test_runner::{Config, TestCaseError, TestRunner},
};

// The harness: the same in every crate's `prop_parsers.rs`.

/// Cases per property: `BONIN_FUZZ_CASES`, else a count that keeps an ordinary test run quick.
fn cases() -> u32 {
    std::env::var("BONIN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Runs `test` on values of `strategy`, records how many cases ran, and fails with the shrunk
/// counterexample.
fn check<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::with_cases(cases()) });
    let ran = AtomicU64::new(0);
    let result = runner.run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    record(name, ran.into_inner(), result.is_ok());
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
}

/// Appends `<crate> <property> <cases> <ok|FAILED>` to `BONIN_FUZZ_REPORT`, when set.
fn record(name: &str, ran: u64, passed: bool) {
    let Ok(path) = std::env::var("BONIN_FUZZ_REPORT") else { return };
    let line = format!("{} {name} {ran} {}\n", env!("CARGO_PKG_NAME"), if passed { "ok" } else { "FAILED" });
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("fuzz report");
    file.write_all(line.as_bytes()).expect("fuzz report");
}

/// Characters that break parsers: separators, controls, invisible and wide characters, lookalike
/// digits.
const ODD: &[char] = &[
    '0',
    '1',
    '9',
    '-',
    ' ',
    '/',
    '+',
    '%',
    '.',
    ':',
    '|',
    '@',
    '=',
    '"',
    '\\',
    '{',
    '}',
    '[',
    ']',
    ',',
    'T',
    'Z',
    'a',
    '\0',
    '\t',
    '\n',
    '\u{7f}',
    '\u{a0}',
    '\u{200b}',
    '\u{feff}',
    'é',
    '가',
    '𝟘',
    '٣',
    '\u{10ffff}',
];

/// `base` with up to four edits: a character replaced, inserted, removed, swapped, or the text cut.
fn mutated(base: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    (base, prop::collection::vec((0u8..6, any::<Index>(), prop::sample::select(ODD)), 0..5)).prop_map(
        |(text, edits)| {
            let mut chars: Vec<char> = text.chars().collect();
            for (kind, at, c) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 if i < chars.len() => chars[i] = c,
                    1 => chars.insert(i, c),
                    2 if i < chars.len() => {
                        chars.remove(i);
                    }
                    3 if i + 1 < chars.len() => chars.swap(i, i + 1),
                    4 => chars.truncate(i),
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        },
    )
}

/// Any text at all: arbitrary Unicode, and arbitrary bytes read as UTF-8.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Canary-like personal data: a marker and random digits or Hangul, so a leak is unmistakable.
fn canary() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{6,12}", "CANARY[A-Za-z0-9+/]{4,16}", "카나리[가-힣]{1,6}", "[A-Za-z0-9+/]{40,100}={0,2}",]
}

/// Fails when `rendered` (an error's Display or Debug) holds a run of four or more digits of
/// `input`, or `input` itself once it is long enough to be personal data.
fn no_leak(rendered: &str, input: &str) -> Result<(), TestCaseError> {
    let digits: Vec<&str> = input.split(|c: char| !c.is_ascii_digit()).filter(|run| run.len() >= 4).collect();
    for run in digits {
        prop_assert!(!rendered.contains(run), "the error shows digits of the input: {rendered}");
    }
    let trimmed = input.trim();
    if trimmed.chars().count() >= 6 {
        prop_assert!(!rendered.contains(trimmed), "the error shows the input: {rendered}");
    }
    Ok(())
}

/// `bytes` with up to four bytes replaced, inserted or removed, or cut short.
fn mutated_bytes(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    (Just(base), prop::collection::vec((0u8..4, any::<Index>(), any::<u8>()), 0..5)).prop_map(|(mut bytes, edits)| {
        for (kind, at, byte) in edits {
            let i = at.index(bytes.len() + 1);
            match kind {
                0 if i < bytes.len() => bytes[i] ^= byte | 1,
                1 => bytes.insert(i, byte),
                2 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.truncate(i),
            }
        }
        bytes
    })
}

/// One `ID:BASE64` entry: valid (random key), mutated, or any text.
fn entry() -> impl Strategy<Value = String> {
    let valid = (any::<u8>(), any::<[u8; 32]>()).prop_map(|(id, key)| format!("{id}:{}", STANDARD.encode(key)));
    prop_oneof![3 => valid.clone(), 2 => mutated(valid), 1 => any_text(), 1 => canary()]
}

#[test]
fn prop_encryption_keys() {
    let strategy = (prop::collection::vec(entry(), 0..4), prop::collection::vec(any::<u8>(), 0..64), "vf[a-z0-9]{24}");
    check("prop_encryption_keys", strategy, |(entries, plaintext, id)| {
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
    check("prop_sealed_records", (records, prop_oneof![Just("vf-record".to_owned()), any_text()]), |(bytes, id)| {
        match cipher.open(&id, &bytes) {
            Ok(plain) => prop_assert_eq!(plain, br#"{"name":"canary"}"#.to_vec()),
            Err(error) => prop_assert!(matches!(error, StoreError::Corrupt(_)), "not Corrupt"),
        }
        Ok(())
    });
}
