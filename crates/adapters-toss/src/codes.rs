//! Toss's `errorCode`s (a `FAIL` envelope's `error.errorCode`) → domain errors, in one table.
//!
//! Toss publishes no full table; these are the codes the reference has seen \[S\]. Every other code
//! is kept verbatim in [`Error::Rejected`].

use bonin_domain::{Error, ProviderId};

/// What a code means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Class {
    /// The access token was refused: issue a fresh one once and send the call once more.
    TokenRefused,
    /// No request with this `txId`.
    UnknownTransaction,
    /// The person has not finished yet: read the status again later, not a failure.
    NotCompleted,
    /// Any other refusal, kept verbatim.
    Refused,
}

/// Invalid access token.
pub const INVALID_TOKEN: &str = "CE1000";
/// No such request.
pub const UNKNOWN_TRANSACTION: &str = "CE3100";
/// Not completed yet.
pub const NOT_COMPLETED: &str = "CE3102";

/// The codes the reference names: (errorCode, class, meaning).
pub const TABLE: &[(&str, Class, &str)] = &[
    (INVALID_TOKEN, Class::TokenRefused, "the access token is invalid"),
    (UNKNOWN_TRANSACTION, Class::UnknownTransaction, "there is no request with this txId"),
    (NOT_COMPLETED, Class::NotCompleted, "the person has not completed the verification yet"),
];

/// The class and meaning of `code`; unknown codes are [`Class::Refused`].
pub fn classify(code: &str) -> (Class, &'static str) {
    TABLE
        .iter()
        .find(|(known, _, _)| *known == code)
        .map_or((Class::Refused, "a code Toss does not document"), |(_, class, meaning)| (*class, *meaning))
}

/// The domain error for a `FAIL` with `code` (and Toss's `reason`), once any token refresh is
/// spent. The code stays verbatim: [`Error::Rejected`] for every code but a token refused even when
/// fresh, which is [`Error::Misconfigured`] (credentials or contract) naming the code.
pub fn to_error(provider: ProviderId, code: &str, reason: Option<String>) -> Error {
    match classify(code).0 {
        Class::TokenRefused => Error::misconfigured(format!(
            "Toss refused a freshly issued access token ({code}); check client_id, client_secret and the contract"
        )),
        _ => Error::rejected(provider, code, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_have_their_class_and_unknown_ones_are_kept() {
        assert_eq!(classify("CE1000").0, Class::TokenRefused);
        assert_eq!(classify("CE3100").0, Class::UnknownTransaction);
        assert_eq!(classify("CE3102").0, Class::NotCompleted);
        assert_eq!(classify("CE9999").0, Class::Refused);
    }
}
