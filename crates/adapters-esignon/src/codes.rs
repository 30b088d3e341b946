//! eSignon result codes, per endpoint (the tables are generated from
//! `data/result-codes.tsv` by the crate's build script).

use bonin_domain::{Error, ProviderId};

/// One endpoint's codes: (result_code, class, meaning).
pub type Table = &'static [(&'static str, Class, &'static str)];

/// What a result code means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Class {
    /// Success.
    Ok,
    /// The token was refused: log in again once and retry once.
    Token,
    /// Credentials or the contract must be fixed.
    Misconfigured,
    /// Refused as sent; nothing changed.
    InvalidInput,
    /// No such document or template.
    NotFound,
    /// The workflow's state does not allow this.
    State,
    /// The plan's limits.
    Quota,
    /// The provider failed; the code is kept.
    Failed,
}

/// The class and meaning of `code` at `endpoint` (a request code like `1510Q`, or `v2.workflows`).
/// `94` is a refused token wherever it appears; unknown codes are `Failed`.
pub fn classify(endpoint: &str, code: &str) -> (Class, &'static str) {
    let known = crate::codes_generated::TABLES
        .iter()
        .find(|(e, _)| *e == endpoint)
        .and_then(|(_, rows)| rows.iter().find(|(c, _, _)| *c == code))
        .map(|(_, class, meaning)| (*class, *meaning));
    match known {
        Some(found) => found,
        None if code == "94" => (Class::Token, "the authentication key (token) is invalid"),
        None => (Class::Failed, "a result code eSignon does not document for this call"),
    }
}

/// The domain error for a refused call: the code is kept as `endpoint:code`.
pub fn to_error(endpoint: &str, code: &str, message: Option<String>) -> Error {
    let (class, meaning) = classify(endpoint, code);
    let provider_code = format!("{endpoint}:{code}");
    match class {
        Class::Misconfigured => {
            Error::misconfigured(format!("eSignon refused {endpoint} ({provider_code}: {meaning})"))
        }
        // The workflow's state refuses the step (a reminder for a cancelled document): `wrong_step`.
        Class::State => Error::wrong_step(format!("eSignon {provider_code}: {meaning}")),
        Class::InvalidInput | Class::NotFound => {
            let field = if class == Class::NotFound { "workflow_id" } else { "request" };
            Error::invalid_input(field, format!("eSignon {provider_code}: {meaning}"))
        }
        _ => Error::rejected(ProviderId::Esignon, provider_code, message.or(Some(meaning.to_owned()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_number_means_different_things_per_endpoint() {
        assert_eq!(classify("1001Q", "12").0, Class::InvalidInput);
        assert_eq!(classify("5005Q", "12").0, Class::Quota);
        assert_eq!(classify("1429Q", "12").0, Class::State);
        assert_eq!(classify("1001Q", "95").0, Class::Misconfigured);
        assert_eq!(classify("5005Q", "94").0, Class::Token, "94 is a token refusal everywhere");
        assert_eq!(classify("5005Q", "77").0, Class::Failed);
        assert!(matches!(to_error("5005Q", "77", None), Error::Rejected { code, .. } if code == "5005Q:77"));
        assert!(matches!(to_error("1001Q", "10", None), Error::Misconfigured { .. }));
        assert!(matches!(to_error("5005Q", "20", None), Error::InvalidInput { .. }));
    }
}
