//! Hostile input for every domain parser of outside input: the PII newtypes, verification and
//! provider ids, and the JSON forms they arrive in. No input may panic, no error may carry the
//! input's personal data, and what parses writes back to what it read.
//!
//! Each property runs `BONIN_FUZZ_CASES` cases (256 by default); `cargo xtask fuzz` raises the count
//! and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    io::Write,
    sync::atomic::{AtomicU64, Ordering},
};

use bonin_domain::*;
use proptest::{
    prelude::*,
    sample::Index,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::{Value, json};

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

/// Any JSON value, with the numbers and strings that trip readers.
fn json_value() -> impl Strategy<Value = Value> {
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
fn mutated_json(valid: Value) -> impl Strategy<Value = Value> {
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
fn json_body(valid: Value) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => mutated_json(valid.clone()).prop_map(|v| v.to_string().into_bytes()),
        2 => mutated(Just(valid.to_string())).prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn error_leaks_nothing(error: &Error, input: &str) -> Result<(), TestCaseError> {
    no_leak(&error.to_string(), input)?;
    no_leak(&format!("{error:?}"), input)
}

// Regressions.

#[test]
fn birth_date_with_a_dash_for_a_month_digit_is_an_error_not_a_panic() {
    let error = BirthDate::parse("1990-0--15").unwrap_err();
    assert!(matches!(&error, Error::InvalidInput { field, .. } if field == "birth_date"));
    assert!(!format!("{error} {error:?}").contains("1990"));
}

// Birth dates.

fn check_birth_date(text: &str) -> Result<(), TestCaseError> {
    match BirthDate::parse(text) {
        Ok(date) => {
            prop_assert_eq!(BirthDate::parse(&date.iso()).ok(), Some(date));
            prop_assert_eq!(BirthDate::parse(&date.yyyymmdd()).ok(), Some(date));
            let json = serde_json::to_string(&date).unwrap();
            prop_assert_eq!(serde_json::from_str::<BirthDate>(&json).ok(), Some(date));
            prop_assert_eq!(format!("{date:?}"), "BirthDate(<redacted>)");
            Ok(())
        }
        Err(error) => {
            prop_assert!(
                matches!(&error, Error::InvalidInput { field, .. } if field == "birth_date"),
                "not InvalidInput"
            );
            error_leaks_nothing(&error, text)
        }
    }
}

/// A calendar-shaped date (days up to 31 in every month), in either format.
fn date_text() -> impl Strategy<Value = String> {
    (0u16..=9999, 1u8..=12, 1u8..=31, any::<bool>()).prop_map(|(y, m, d, dashed)| {
        if dashed { format!("{y:04}-{m:02}-{d:02}") } else { format!("{y:04}{m:02}{d:02}") }
    })
}

#[test]
fn prop_birth_date_any_text() {
    check("prop_birth_date_any_text", any_text(), |text| check_birth_date(&text));
}

#[test]
fn prop_birth_date_near_valid() {
    check("prop_birth_date_near_valid", mutated(date_text()), |text| check_birth_date(&text));
}

#[test]
fn prop_birth_date_from_parts_round_trips() {
    check("prop_birth_date_from_parts_round_trips", (any::<i32>(), any::<u8>(), any::<u8>()), |(y, m, d)| {
        let Ok(date) = BirthDate::from_ymd(y, m, d) else { return Ok(()) };
        prop_assert_eq!((date.expose().year(), u8::from(date.expose().month()), date.expose().day()), (y, m, d));
        if (0..=9999).contains(&y) {
            prop_assert_eq!(BirthDate::parse(&date.iso()).ok(), Some(date));
            prop_assert_eq!(BirthDate::parse(&date.yyyymmdd()).ok(), Some(date));
        }
        let _ = (date.yymmdd(), date.iso(), date.yyyymmdd());
        Ok(())
    });
}

// The string newtypes.

fn check_text<T: std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned + PartialEq>(
    input: &str,
    parse: impl Fn(&str) -> Result<T, Error>,
    expose: impl Fn(&T) -> String,
) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(value) => {
            let exposed = expose(&value);
            prop_assert!(!exposed.is_empty());
            let again = parse(&exposed).ok();
            prop_assert_eq!(again.as_ref(), Some(&value), "parsing what was read changes it");
            let json = serde_json::to_string(&value).unwrap();
            let read_back = serde_json::from_str::<T>(&json).ok();
            prop_assert_eq!(read_back.as_ref(), Some(&value));
            prop_assert!(format!("{value:?}").ends_with("(<redacted>)"), "Debug shows the value");
            Ok(())
        }
        Err(error) => error_leaks_nothing(&error, input),
    }
}

fn name_text() -> impl Strategy<Value = String> {
    prop_oneof![any_text(), mutated(canary()), mutated("[가-힣]{2,5}"), mutated("[A-Za-z ]{1,120}")]
}

#[test]
fn prop_name() {
    check("prop_name", name_text(), |text| check_text(&text, |t| Name::new(t), |n| n.expose().to_owned()));
}

fn phone_text() -> impl Strategy<Value = String> {
    let valid = ("01[016789]", "[0-9]{3,4}", "[0-9]{4}", prop::sample::select(&["", "-", " "][..]))
        .prop_map(|(head, mid, tail, sep)| format!("{head}{sep}{mid}{sep}{tail}"));
    prop_oneof![any_text(), mutated(valid), mutated(canary())]
}

#[test]
fn prop_phone_number() {
    check("prop_phone_number", phone_text(), |text| {
        check_text(&text, |t| PhoneNumber::new(t), |p| p.expose().to_owned())?;
        if let Ok(phone) = PhoneNumber::new(&text) {
            prop_assert!(phone.expose().bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(PhoneNumber::new(phone.dashed()).ok(), Some(phone));
        }
        Ok(())
    });
}

fn linking_text() -> impl Strategy<Value = String> {
    prop_oneof![any_text(), mutated(canary()), mutated("[A-Za-z0-9+/]{86}==")]
}

#[test]
fn prop_ci_and_di() {
    check("prop_ci_and_di", linking_text(), |text| {
        check_text(&text, |t| Ci::new(t), |c| c.expose().to_owned())?;
        check_text(&text, |t| Di::new(t), |d| d.expose().to_owned())
    });
}

#[test]
fn prop_email() {
    let valid = ("[a-z0-9._%+-]{1,20}", "[a-z0-9-]{1,20}", "[a-z]{2,6}").prop_map(|(l, d, t)| format!("{l}@{d}.{t}"));
    check("prop_email", prop_oneof![any_text(), mutated(valid)], |text| {
        check_text(&text, |t| Email::new(t), |e| e.expose().to_owned())
    });
}

#[test]
fn prop_otp_code() {
    check("prop_otp_code", prop_oneof![any_text(), mutated("[0-9]{4,8}")], |text| {
        check_text(&text, |t| OtpCode::new(t), |c| c.expose().to_owned())
    });
}

// Ids.

/// An `Rng` that hands out the bytes it was made with.
#[derive(Debug)]
struct Bytes([u8; 15]);

impl bonin_domain::Rng for Bytes {
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), Error> {
        for (d, s) in dest.iter_mut().zip(self.0.iter().cycle()) {
            *d = *s;
        }
        Ok(())
    }
}

#[test]
fn prop_verification_id() {
    let generated = any::<[u8; 15]>().prop_map(|b| VerificationId::generate(&Bytes(b)).unwrap().to_string());
    let ids = prop_oneof![any_text(), mutated(generated), mutated("vf[0-9a-z]{24}")];
    check("prop_verification_id", ids, |text| match VerificationId::parse(&text) {
        Ok(id) => {
            prop_assert_eq!(id.as_str(), text.as_str());
            prop_assert_eq!(id.to_string(), text.clone());
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<VerificationId>(&json).ok(), Some(id));
            Ok(())
        }
        Err(error) => {
            prop_assert!(matches!(error, Error::InvalidInput { .. }), "not InvalidInput");
            error_leaks_nothing(&error, &text)
        }
    });
}

#[test]
fn prop_provider_id() {
    let names = prop::sample::select(ProviderId::ALL.map(|p| p.as_str().to_owned()).to_vec());
    check("prop_provider_id", prop_oneof![any_text(), mutated(names)], |text| {
        match text.parse::<ProviderId>() {
            Ok(provider) => {
                prop_assert_eq!(provider.as_str(), text.as_str());
                prop_assert_eq!(serde_json::from_value::<ProviderId>(json!(text)).ok(), Some(provider));
            }
            Err(error) => prop_assert!(matches!(error, Error::InvalidInput { .. }), "not InvalidInput"),
        }
        Ok(())
    });
}

// JSON forms.

fn identity_json() -> Value {
    json!({
        "name": "홍길동", "birth_date": "1990-02-15", "gender": "male", "nationality": "domestic",
        "phone": "01012345678", "carrier": "kt_mvno", "ci": "Q0k=", "di": "REk=", "provider": "nice",
        "provider_tx_id": "tx-1", "verified_at": "2026-01-01T00:00:00Z",
    })
}

#[test]
fn prop_identity_json() {
    check("prop_identity_json", json_body(identity_json()), |bytes| {
        if let Ok(identity) = serde_json::from_slice::<VerifiedIdentity>(&bytes) {
            let json = serde_json::to_string(&identity).unwrap();
            prop_assert_eq!(serde_json::from_str::<VerifiedIdentity>(&json).ok(), Some(identity));
        }
        Ok(())
    });
}

#[test]
fn prop_callback_params_hide_values() {
    let pairs = prop::collection::vec(("[a-z_]{1,16}", canary()), 0..6);
    check("prop_callback_params_hide_values", pairs, |pairs| {
        let params = CallbackParams::from_pairs(CallbackTransport::Post, pairs.clone());
        let debug = format!("{params:?}");
        for (name, value) in &pairs {
            prop_assert_eq!(params.get(name).is_some(), true);
            prop_assert!(!debug.contains(value.as_str()), "Debug shows a callback value");
            if params.is_repeated(name) {
                prop_assert!(pairs.iter().filter(|(n, _)| n == name).count() > 1);
            }
        }
        Ok(())
    });
}
