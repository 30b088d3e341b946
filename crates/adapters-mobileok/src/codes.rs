//! mobileOK server result codes. Dream publishes almost none: `2000` (success on every endpoint),
//! `4101` (SDK given JSON instead of a request URL) and `5028` (returnUrl not registered) are known.
//!
//! Who a code comes from decides what it may do:
//!
//! * a reply of mobileOK's own server to bonin (token/get, auth/request, auth/resend): every code
//!   other than the published ones is kept verbatim as `Rejected { code }` with Dream's
//!   `resultMsg` (a refused confirm is an attempt, see the flow);
//! * `result/request` refusing a key token: the token is unknown, spent or stale, which says
//!   nothing about the user, so it is an `IntegrityMismatch` ([`key_token_refused`]);
//! * a `resultCode` in the `data` the browser posts to the return URL: nobody authenticated it, so
//!   it is `Unconfirmed { code }` and never ends a verification.

use bonin_domain::{Error, ProviderId};

/// Success.
pub const SUCCESS: &str = "2000";

/// The error for a non-success `resultCode` in a reply of mobileOK's server.
pub fn to_error(code: &str, message: Option<&str>) -> Error {
    match code {
        "5028" => Error::misconfigured("mobileOK 5028: the return URL is not registered in the Dream console"),
        "4101" => Error::misconfigured("mobileOK 4101: MOBILEOK.process must be given the request URL"),
        // The code for an unregistered calling site is not published; Dream's message is.
        _ if message.is_some_and(|m| m.contains("등록되지 않은 사이트")) => {
            Error::misconfigured("mobileOK: this site (siteUrl / calling domain) is not registered with Dream")
        }
        _ => Error::rejected(ProviderId::Mobileok, code, message.map(str::to_owned)),
    }
}

/// The error when `result/request` will not exchange a key token. A configuration refusal stays
/// `Misconfigured`; anything else means the token was not one mobileOK issued for a live window
/// (made up, spent or stale): an `IntegrityMismatch`, never a refusal of the user's verification.
pub fn key_token_refused(code: &str, message: Option<&str>) -> Error {
    match to_error(code, message) {
        error @ Error::Misconfigured { .. } => error,
        _ => Error::integrity("mobileOK did not exchange the key token (unknown, already used or expired)"),
    }
}
