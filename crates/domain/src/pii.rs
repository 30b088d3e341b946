//! Personal data and secrets as newtypes.
//!
//! Every type here masks its `Debug` output and has no `Display`, so a value cannot reach a log line,
//! an error message or a panic by accident. Reading the value is always an explicit, greppable call to
//! `expose()`. Constructors validate and reject empty values, so an identity field is either a real
//! value or `None`, never `""`.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::Error;

/// Declares a validated string newtype holding personal data.
macro_rules! pii_string {
    ($(#[$meta:meta])* $name:ident, $field:literal, $validate:path) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps the value. The error names the field, never the value.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                $validate(value.into()).map(Self)
                    .map_err(|reason| Error::invalid_input($field, reason))
            }

            /// The raw value. Call only where the value must leave the process (a provider request,
            /// an API response to an authenticated caller, an encrypted store record).
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(value: String) -> Result<Self, Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

fn validate_name(value: String) -> Result<String, &'static str> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("must not be empty");
    }
    if trimmed.chars().count() > 100 {
        return Err("must be at most 100 characters");
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(if trimmed.len() == value.len() { value } else { trimmed.to_owned() })
}

fn validate_email(value: String) -> Result<String, &'static str> {
    let trimmed = value.trim();
    let Some((local, domain)) = trimmed.split_once('@') else { return Err("must be an email address") };
    if local.is_empty() || domain.is_empty() || !domain.contains('.') || domain.contains('@') {
        return Err("must be an email address");
    }
    if trimmed.chars().count() > 254 || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an email address of at most 254 characters without spaces");
    }
    Ok(trimmed.to_owned())
}

fn validate_phone(value: String) -> Result<String, &'static str> {
    let digits: String = value.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    if digits.is_empty() {
        return Err("must not be empty");
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must contain only digits (dashes and spaces are ignored)");
    }
    if !(10..=11).contains(&digits.len()) || !digits.starts_with("01") {
        return Err("must be a Korean mobile number (01X, 10 or 11 digits)");
    }
    Ok(digits)
}

fn validate_linking_info(value: String) -> Result<String, &'static str> {
    if value.is_empty() {
        return Err("must not be empty");
    }
    if value.len() > 128 {
        return Err("must be at most 128 characters");
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII");
    }
    Ok(value)
}

fn validate_otp(value: String) -> Result<String, &'static str> {
    let trimmed = value.trim();
    if !(4..=8).contains(&trimmed.len()) || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be 4 to 8 digits");
    }
    Ok(trimmed.to_owned())
}

pii_string!(
    /// A person's name as the provider reports it (Hangul or Latin).
    Name, "name", validate_name
);
pii_string!(
    /// A Korean mobile phone number, digits only (`01012345678`).
    PhoneNumber, "phone", validate_phone
);
pii_string!(
    /// CI (연계정보): identifies a person across services. Base64 text, usually 88 characters.
    Ci, "ci", validate_linking_info
);
pii_string!(
    /// DI (중복가입확인정보): identifies a person within one site.
    Di, "di", validate_linking_info
);
pii_string!(
    /// An email address (a signer's, a member's).
    Email, "email", validate_email
);
pii_string!(
    /// A one-time code the user typed. Treated as a secret.
    OtpCode, "code", validate_otp
);

impl PhoneNumber {
    /// The number with its carrier prefix dropped into groups (`010-1234-5678`), for providers that
    /// want dashes.
    pub fn dashed(&self) -> String {
        let d = &self.0;
        let (head, rest) = d.split_at(3);
        let (mid, tail) = rest.split_at(rest.len() - 4);
        format!("{head}-{mid}-{tail}")
    }
}

/// A date of birth. Serialized as `YYYY-MM-DD`; `Debug` is masked.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BirthDate(Date);

impl BirthDate {
    /// From calendar parts.
    pub fn from_ymd(year: i32, month: u8, day: u8) -> Result<Self, Error> {
        let month = Month::try_from(month).map_err(|_| Error::invalid_input("birth_date", "month out of range"))?;
        Date::from_calendar_date(year, month, day)
            .map(Self)
            .map_err(|_| Error::invalid_input("birth_date", "not a calendar date"))
    }

    /// Parses `YYYYMMDD` (NICE, mobileOK) or `YYYY-MM-DD` (PortOne, the REST API).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let digits: String = match text.len() {
            8 => text.to_owned(),
            // Only the two separators go: a dash anywhere else is not a digit and is refused below.
            10 if text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' => {
                text.char_indices().filter(|(i, _)| *i != 4 && *i != 7).map(|(_, c)| c).collect()
            }
            _ => return Err(Error::invalid_input("birth_date", "expected YYYYMMDD or YYYY-MM-DD")),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid_input("birth_date", "expected YYYYMMDD or YYYY-MM-DD"));
        }
        let number = |range: std::ops::Range<usize>| digits[range].parse::<u16>().unwrap_or(0);
        let year = i32::from(number(0..4));
        let month = u8::try_from(number(4..6)).unwrap_or(0);
        let day = u8::try_from(number(6..8)).unwrap_or(0);
        Self::from_ymd(year, month, day)
    }

    /// The date itself.
    pub fn expose(&self) -> Date {
        self.0
    }

    /// `YYYYMMDD`.
    pub fn yyyymmdd(&self) -> String {
        format!("{:04}{:02}{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }

    /// `YYMMDD` (the first six digits of a resident registration number).
    pub fn yymmdd(&self) -> String {
        format!("{:02}{:02}{:02}", self.0.year().rem_euclid(100), u8::from(self.0.month()), self.0.day())
    }

    /// `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }
}

impl fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BirthDate(<redacted>)")
    }
}

impl TryFrom<String> for BirthDate {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        Self::parse(&value)
    }
}

impl From<BirthDate> for String {
    fn from(value: BirthDate) -> String {
        value.iso()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_rejected_not_stored() {
        assert!(Name::new("  ").is_err());
        assert!(PhoneNumber::new("").is_err());
        assert!(Ci::new("").is_err());
        assert!(Di::new("").is_err());
    }

    #[test]
    fn phone_is_normalised_to_digits() {
        let phone = PhoneNumber::new("010-1234 5678").unwrap();
        assert_eq!(phone.expose(), "01012345678");
        assert_eq!(phone.dashed(), "010-1234-5678");
        assert!(PhoneNumber::new("02-123-4567").is_err());
        assert!(PhoneNumber::new("0101234567a").is_err());
    }

    #[test]
    fn invalid_input_error_never_contains_the_value() {
        let err = PhoneNumber::new("0299999999999").unwrap_err();
        assert!(!err.to_string().contains("0299999999999"));
        assert!(!format!("{err:?}").contains("0299999999999"));
    }

    #[test]
    fn birth_date_parses_both_formats_and_rejects_nonsense() {
        let a = BirthDate::parse("19900215").unwrap();
        let b = BirthDate::parse("1990-02-15").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.yymmdd(), "900215");
        assert_eq!(a.iso(), "1990-02-15");
        assert!(BirthDate::parse("19900230").is_err());
        assert!(BirthDate::parse("1990/02/15").is_err());
        assert!(BirthDate::parse("199002").is_err());
    }

    #[test]
    fn serde_round_trip_validates() {
        let name: Name = serde_json::from_str("\"홍길동\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"홍길동\"");
        assert!(serde_json::from_str::<Name>("\"\"").is_err());
        let date: BirthDate = serde_json::from_str("\"2001-12-31\"").unwrap();
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2001-12-31\"");
    }
}
