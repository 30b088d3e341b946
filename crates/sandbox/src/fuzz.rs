//! The property-test harness of every crate's `tests/prop_parsers.rs` (cargo feature `fuzz`):
//! running a property a counted number of times, recording what ran for `cargo xtask fuzz`, the
//! strategies that mutate text, bytes and JSON, and the check that an error shows no personal data.
//!
//! Each property runs `BONIN_FUZZ_CASES` cases (256 by default) and appends
//! `<crate> <property> <cases> <ok|FAILED>` to the file named by `BONIN_FUZZ_REPORT`, when set;
//! `cargo xtask fuzz` raises the count and sums those lines.
//!
//! ```
//! use bonin_sandbox::fuzz::{any_text, check, mutated};
//! use proptest::prelude::*;
//!
//! check!("prop_trimmed_digits", prop_oneof![any_text(), mutated("[0-9]{6}")], |text| {
//!     prop_assert_eq!(text.trim().trim().len(), text.trim().len());
//!     Ok(())
//! });
//! ```

use std::{
    io::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use proptest::{
    prelude::*,
    sample::Index,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::Value;

/// Runs a property: `check!(name, strategy, test)` is [`run`] with the calling crate's name, so the
/// report says which crate the property belongs to.
#[doc(hidden)]
#[macro_export]
macro_rules! fuzz_check {
    ($name:expr, $strategy:expr, $test:expr $(,)?) => {
        $crate::fuzz::run(env!("CARGO_PKG_NAME"), $name, $strategy, $test)
    };
}

/// Runs a property: `check!(name, strategy, test)` is [`run`] with the calling crate's name, so the
/// report says which crate the property belongs to.
pub use crate::fuzz_check as check;

/// Cases per property: `BONIN_FUZZ_CASES`, else a count that keeps an ordinary test run quick.
pub fn cases() -> u32 {
    std::env::var("BONIN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

/// Runs `test` on [`cases`] values of `strategy`, records how many cases ran under `package` and
/// `name`, and fails with the shrunk counterexample. Called through [`check!`].
pub fn run<S: Strategy>(package: &str, name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(Config { failure_persistence: None, ..Config::with_cases(cases()) });
    let ran = AtomicU64::new(0);
    let result = runner.run(&strategy, |value| {
        ran.fetch_add(1, Ordering::Relaxed);
        test(value)
    });
    record(package, name, ran.into_inner(), result.is_ok());
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
}

/// Appends `<package> <property> <cases> <ok|FAILED>` to `BONIN_FUZZ_REPORT`, when set.
fn record(package: &str, name: &str, ran: u64, passed: bool) {
    let Ok(path) = std::env::var("BONIN_FUZZ_REPORT") else { return };
    let line = format!("{package} {name} {ran} {}\n", if passed { "ok" } else { "FAILED" });
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = written {
        panic!("fuzz report {path}: {error}");
    }
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
pub fn mutated(base: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
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

/// `bytes` with up to four bytes replaced, inserted or removed, or cut short.
pub fn mutated_bytes(base: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
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

/// Any text at all: arbitrary Unicode, and arbitrary bytes read as UTF-8.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

/// Canary-like personal data: a marker and random digits or Hangul, so a leak is unmistakable.
pub fn canary() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{6,12}", "CANARY[A-Za-z0-9+/]{4,16}", "카나리[가-힣]{1,6}", "[A-Za-z0-9+/]{40,100}={0,2}",]
}

/// Fails when `rendered` (an error's Display or Debug) holds a run of four or more digits of
/// `input`, or `input` itself once it is long enough to be personal data.
pub fn no_leak(rendered: &str, input: &str) -> Result<(), TestCaseError> {
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

/// Any JSON value, with the numbers and strings that trip readers.
pub fn json_value() -> impl Strategy<Value = Value> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).prop_map(Value::from),
        any_text().prop_map(Value::from),
        canary().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `valid` with some of its fields (at any depth) replaced by arbitrary JSON, removed, or joined
/// by new ones.
pub fn mutated_json(valid: Value) -> impl Strategy<Value = Value> {
    (Just(valid), prop::collection::vec((any::<Index>(), 0u8..3, json_value()), 0..4)).prop_map(|(mut value, edits)| {
        for (at, kind, replacement) in edits {
            let mut paths = Vec::new();
            object_paths(&value, String::new(), &mut paths);
            if paths.is_empty() {
                break;
            }
            let path = &paths[at.index(paths.len())];
            let (parent, key) = path.rsplit_once('/').unwrap_or(("", path));
            let Some(object) = value.pointer_mut(parent).and_then(Value::as_object_mut) else { continue };
            match kind {
                0 => {
                    object.insert(key.to_owned(), replacement);
                }
                1 => {
                    object.remove(key);
                }
                _ => {
                    object.insert(format!("{key}_"), replacement);
                }
            }
        }
        value
    })
}

/// JSON pointers of every member of every object in `value`.
fn object_paths(value: &Value, at: String, out: &mut Vec<String>) {
    if let Value::Object(object) = value {
        for (key, member) in object {
            let path = format!("{at}/{key}");
            out.push(path.clone());
            object_paths(member, path, out);
        }
    }
}

/// `valid` as JSON text, mutated as text or as structure, or any text at all.
pub fn json_body(valid: Value) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => mutated_json(valid.clone()).prop_map(|v| v.to_string().into_bytes()),
        2 => mutated(Just(valid.to_string())).prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}
