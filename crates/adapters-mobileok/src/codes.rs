//! mobileOK server result codes. Dream publishes almost none: `2000` (success on every endpoint),
//! `4101` (SDK given JSON instead of a request URL) and `5028` (returnUrl not registered) are known;
//! every other code is kept verbatim as `Rejected { code }` with Dream's `resultMsg`.

use bonin_domain::{Error, ProviderId};

/// Success.
pub const SUCCESS: &str = "2000";

/// The error for a non-success `resultCode`.
pub fn to_error(code: &str, message: Option<&str>) -> Error {
    match code {
        "5028" => Error::misconfigured("mobileOK 5028: the return URL is not registered in the Dream console"),
        "4101" => Error::misconfigured("mobileOK 4101: MOBILEOK.process must be given the request URL"),
        // The code for an unregistered calling site is not published; Dream's message is.
        _ if message.is_some_and(|m| m.contains("등록되지 않은 사이트")) => Error::misconfigured(format!(
            "mobileOK {code}: this site (siteUrl / calling domain) is not registered with Dream"
        )),
        _ => Error::rejected(ProviderId::Mobileok, code, message.map(str::to_owned)),
    }
}
