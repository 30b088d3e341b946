//! Hostile input for every domain parser of outside input: the PII newtypes, verification and
//! provider ids, and the JSON forms they arrive in. No input may panic, no error may carry the
//! input's personal data, and what parses writes back to what it read.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use bonin_domain::*;
use bonin_sandbox::fuzz::{any_text, canary, check, json_body, mutated, no_leak};
use proptest::{prelude::*, test_runner::TestCaseError};
use serde_json::{Value, json};

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
    check!("prop_birth_date_any_text", any_text(), |text| check_birth_date(&text));
}

#[test]
fn prop_birth_date_near_valid() {
    check!("prop_birth_date_near_valid", mutated(date_text()), |text| check_birth_date(&text));
}

#[test]
fn prop_birth_date_from_parts_round_trips() {
    check!("prop_birth_date_from_parts_round_trips", (any::<i32>(), any::<u8>(), any::<u8>()), |(y, m, d)| {
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
    check!("prop_name", name_text(), |text| check_text(&text, |t| Name::new(t), |n| n.expose().to_owned()));
}

fn phone_text() -> impl Strategy<Value = String> {
    let valid = ("01[016789]", "[0-9]{3,4}", "[0-9]{4}", prop::sample::select(&["", "-", " "][..]))
        .prop_map(|(head, mid, tail, sep)| format!("{head}{sep}{mid}{sep}{tail}"));
    prop_oneof![any_text(), mutated(valid), mutated(canary())]
}

#[test]
fn prop_phone_number() {
    check!("prop_phone_number", phone_text(), |text| {
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
    check!("prop_ci_and_di", linking_text(), |text| {
        check_text(&text, |t| Ci::new(t), |c| c.expose().to_owned())?;
        check_text(&text, |t| Di::new(t), |d| d.expose().to_owned())
    });
}

#[test]
fn prop_email() {
    let valid = ("[a-z0-9._%+-]{1,20}", "[a-z0-9-]{1,20}", "[a-z]{2,6}").prop_map(|(l, d, t)| format!("{l}@{d}.{t}"));
    check!("prop_email", prop_oneof![any_text(), mutated(valid)], |text| {
        check_text(&text, |t| Email::new(t), |e| e.expose().to_owned())
    });
}

#[test]
fn prop_otp_code() {
    check!("prop_otp_code", prop_oneof![any_text(), mutated("[0-9]{4,8}")], |text| {
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
    check!("prop_verification_id", ids, |text| match VerificationId::parse(&text) {
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
    check!("prop_provider_id", prop_oneof![any_text(), mutated(names)], |text| {
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
    check!("prop_identity_json", json_body(identity_json()), |bytes| {
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
    check!("prop_callback_params_hide_values", pairs, |pairs| {
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
