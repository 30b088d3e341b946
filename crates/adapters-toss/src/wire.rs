//! Toss's answers as they arrive: the token answer, the `{resultType, success, error}` envelope,
//! and the `success` of a request and of a status read. (The result's `success` is read with its
//! session in [`crate::identity`].) Every reader takes untrusted bytes and returns a typed error,
//! never a panic, and no error carries a body.

use std::{fmt, time::Duration};

use bonin_adapters_http::HttpResponse;
use bonin_domain::{Dependency, Error, IssuedToken, KST, ProviderId, ProviderTxId, SecretString, Timestamp};
use serde_json::Value;
use time::{OffsetDateTime, PrimitiveDateTime, format_description::well_known::Iso8601, macros::format_description};

use crate::codes::{self, Class};

/// The longest a token is believed to live. Test tokens state a year (`expires_in: 31536000`) and
/// production's "may differ" \[S\], so the lifetime always comes from `expires_in`; this cap only keeps
/// an absurd value from overflowing the cache's clock arithmetic (a shorter life than stated merely
/// refreshes early, which Toss allows).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);
/// The longest `reason` kept from a `FAIL` (Toss's fixed texts are far shorter).
const MAX_REASON_CHARS: usize = 200;

/// A string or number member, trimmed; `None` when absent, `null`, empty, or the *string* `"null"`
/// (Toss writes `"null"` for absent app URIs \[C2\]).
pub(crate) fn member(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty() && s != "null"),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Toss's `…Dt` times: ISO-8601 with an offset (`2026-11-30T20:31:00+09:00`), or without one, then
/// read as KST. `None` when unreadable or outside the years bonin stores (1970–9999).
pub fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let at = OffsetDateTime::parse(text, &Iso8601::DEFAULT).ok().or_else(|| {
        [
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
            format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        ]
        .into_iter()
        .find_map(|format| PrimitiveDateTime::parse(text, format).ok())
        .map(|at| at.assume_offset(KST))
    })?;
    at.checked_to_offset(time::UtcOffset::UTC).filter(|t| (1970..=9999).contains(&t.year()))
}

/// A Toss `txId` as bonin accepts it (from Toss or from a caller): 1–128 visible ASCII characters.
pub(crate) fn valid_tx_id(tx_id: &str) -> bool {
    !tx_id.is_empty() && tx_id.len() <= 128 && tx_id.bytes().all(|b| b.is_ascii_graphic())
}

/// An API call that did not succeed, before it becomes a domain [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// `resultType: "FAIL"` (whatever the HTTP status: Toss answers 200 + FAIL too \[S/I\]).
    Fail {
        /// The HTTP status.
        status: u16,
        /// `error.errorCode`, verbatim (`FAIL` when Toss sent none).
        code: String,
        /// `error.reason`: Toss's own text.
        reason: Option<String>,
        /// `error.errorType`.
        error_type: Option<i64>,
    },
    /// HTTP 401 without a `FAIL` envelope: the token was refused.
    Unauthorized,
    /// Another non-2xx status without an envelope.
    Http {
        /// The status.
        status: u16,
    },
    /// A 2xx without a readable envelope (no `resultType`, an unknown one, or `SUCCESS` without
    /// a `success` object).
    Decode {
        /// The status.
        status: u16,
    },
}

impl ApiError {
    /// Reads an answer, deciding on `resultType`, not on the HTTP status: `SUCCESS` gives its
    /// `success` object, `FAIL` its code; only a body that is no envelope falls back to the status.
    pub fn check(response: &HttpResponse) -> Result<Value, Self> {
        let status = response.status;
        let envelope = serde_json::from_slice::<Value>(&response.body).ok().filter(Value::is_object);
        let result_type = envelope.as_ref().and_then(|e| e.get("resultType")).and_then(Value::as_str);
        match (result_type, &envelope) {
            (Some("SUCCESS"), Some(envelope)) => match envelope.get("success") {
                Some(success) if success.is_object() => Ok(success.clone()),
                _ => Err(Self::Decode { status }),
            },
            (Some("FAIL"), Some(envelope)) => {
                let error = envelope.get("error").cloned().unwrap_or(Value::Null);
                Err(Self::Fail {
                    status,
                    code: member(&error, "errorCode").unwrap_or_else(|| "FAIL".to_owned()),
                    reason: member(&error, "reason").map(|r| r.chars().take(MAX_REASON_CHARS).collect()),
                    error_type: error.get("errorType").and_then(Value::as_i64),
                })
            }
            _ if status == 401 => Err(Self::Unauthorized),
            _ if !(200..300).contains(&status) => Err(Self::Http { status }),
            _ => Err(Self::Decode { status }),
        }
    }

    /// Whether the access token was what Toss refused (HTTP 401, or `CE1000`): the call was turned
    /// away unprocessed, so one fresh token and one more attempt are safe.
    pub fn is_token_refused(&self) -> bool {
        match self {
            Self::Unauthorized => true,
            Self::Fail { code, .. } => codes::classify(code).0 == Class::TokenRefused,
            _ => false,
        }
    }

    /// Whether this is `CE3102`: the person has not completed the verification yet.
    pub fn is_not_completed(&self) -> bool {
        matches!(self, Self::Fail { code, .. } if codes::classify(code).0 == Class::NotCompleted)
    }

    /// The provider code a domain error keeps: the `errorCode`, or `http<status>` without one.
    pub fn provider_code(&self) -> String {
        match self {
            Self::Fail { code, .. } => code.clone(),
            Self::Unauthorized => "http401".into(),
            Self::Http { status } | Self::Decode { status } => format!("http{status}"),
        }
    }

    /// The domain error for a call that was `idempotent` or not (a 5xx without an envelope then
    /// means "not processed, retry" or "may have been processed").
    pub fn into_error(self, provider: ProviderId, what: &'static str, idempotent: bool) -> Error {
        match self {
            Self::Fail { code, reason, .. } => codes::to_error(provider, &code, reason),
            Self::Unauthorized => Error::misconfigured(format!(
                "Toss refused the access token for {what} even after a fresh one was issued (HTTP 401)"
            )),
            Self::Http { status } if status >= 500 => {
                let dependency = Dependency::Provider(provider);
                let reason = format!("{what}: HTTP {status}").into();
                if idempotent {
                    Error::Unavailable { dependency, reason }
                } else {
                    Error::Indeterminate { dependency, reason }
                }
            }
            Self::Http { status } => Error::rejected(provider, format!("http{status}"), None),
            Self::Decode { status } => {
                Error::protocol(provider, format!("{what}: the reply is not a Toss envelope (HTTP {status})"))
            }
        }
    }
}

/// A short OAuth-style code from a refused token answer (`invalid_client`), when it looks like one.
fn token_refusal_code(response: &HttpResponse) -> Option<String> {
    let body = serde_json::from_slice::<Value>(&response.body).ok()?;
    let code = member(&body, "error").or_else(|| body.get("error").and_then(|e| member(e, "errorCode")))?;
    let looks_like_code =
        code.len() <= 40 && code.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    looks_like_code.then_some(code)
}

/// Reads the answer of `POST {oauth_base}/token`: `{access_token, token_type, expires_in, scope}`.
/// The lifetime is `expires_in` (capped at [`MAX_TOKEN_LIFETIME`]); a refusal (4xx, or a `FAIL`
/// envelope) is bonin's configuration; a 5xx is "not processed" (issuing a token twice is harmless).
pub fn parse_token(response: &HttpResponse, provider: ProviderId) -> Result<IssuedToken, Error> {
    let status = response.status;
    if status >= 500 {
        return Err(Error::Unavailable {
            dependency: Dependency::Provider(provider),
            reason: format!("token: HTTP {status}").into(),
        });
    }
    let refused = (400..500).contains(&status) || matches!(ApiError::check(response), Err(ApiError::Fail { .. }));
    if refused {
        let code = token_refusal_code(response).map_or(String::new(), |c| format!(", {c}"));
        return Err(Error::misconfigured(format!(
            "Toss refused the token request (HTTP {status}{code}); check providers.toss.client_id and client_secret"
        )));
    }
    let body = serde_json::from_slice::<Value>(&response.body).ok().filter(|_| (200..300).contains(&status));
    let body =
        body.ok_or_else(|| Error::protocol(provider, format!("token: the reply is not JSON (HTTP {status})")))?;
    let token =
        member(&body, "access_token").ok_or_else(|| Error::protocol(provider, "token: access_token missing"))?;
    // It goes into every Authorization header: visible ASCII only.
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::protocol(provider, "token: the access token is not a header-safe string"));
    }
    if let Some(kind) = member(&body, "token_type")
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(Error::protocol(provider, "token: token_type is not Bearer"));
    }
    let seconds = match body.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    let seconds = seconds
        .filter(|s| *s > 0)
        .ok_or_else(|| Error::protocol(provider, "token: expires_in missing or not positive"))?;
    Ok(IssuedToken { value: SecretString::from(token), lifetime: Duration::from_secs(seconds).min(MAX_TOKEN_LIFETIME) })
}

/// What a request's `success` hands back: the transaction and how to reach the person.
/// `Debug` shows the `txId` and which links are present.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TossLaunch {
    /// `txId`: keep it; status and result take it.
    pub tx_id: ProviderTxId,
    /// `authUrl`: the web popup (`TossCert().start({authUrl, txId, …})`), mainly for `USER_NONE`.
    pub auth_url: Option<String>,
    /// `appScheme`: opens the Toss app (`APP_SCHEME` trigger).
    pub app_scheme: Option<String>,
    /// `androidAppUri`.
    pub android_app_uri: Option<String>,
    /// `iosAppUri`.
    pub ios_app_uri: Option<String>,
    /// `requestedDt`.
    pub requested_at: Option<Timestamp>,
}

impl fmt::Debug for TossLaunch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossLaunch")
            .field("tx_id", &self.tx_id)
            .field("auth_url", &self.auth_url.is_some())
            .field("app_scheme", &self.app_scheme.is_some())
            .field("android_app_uri", &self.android_app_uri.is_some())
            .field("ios_app_uri", &self.ios_app_uri.is_some())
            .field("requested_at", &self.requested_at)
            .finish()
    }
}

impl TossLaunch {
    /// Reads a request's `success`. A `txId` is required; absent links (or the string `"null"`)
    /// are `None`.
    pub fn from_success(success: &Value, provider: ProviderId) -> Result<Self, Error> {
        let tx_id = member(success, "txId")
            .filter(|t| valid_tx_id(t))
            .and_then(|t| ProviderTxId::new(t).ok())
            .ok_or_else(|| Error::protocol(provider, "request: txId missing or malformed"))?;
        // The browser navigates to these: the page must be http(s), an app link must not be a
        // script, data or local scheme. A page that is not one is a hostile or broken answer; an
        // app link that is not one is left out (the page still works).
        let auth_url = match member(success, "authUrl") {
            Some(url) if !safe_link(&url, true) => {
                return Err(Error::protocol(provider, "request: authUrl is not a usable link"));
            }
            other => other,
        };
        let app_link = |key: &str| member(success, key).filter(|url| safe_link(url, false));
        Ok(Self {
            tx_id,
            auth_url,
            app_scheme: app_link("appScheme"),
            android_app_uri: app_link("androidAppUri"),
            ios_app_uri: app_link("iosAppUri"),
            requested_at: member(success, "requestedDt").and_then(|t| parse_time(&t)),
        })
    }
}

/// Whether a link Toss gave may be opened: `page` links are `https://` (or `http://`, as the
/// sandbox serves), app links have a scheme that is neither a script, data nor local one.
fn safe_link(url: &str, page: bool) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else { return false };
    let scheme = scheme.to_ascii_lowercase();
    let well_formed = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        && !rest.is_empty()
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    if !well_formed {
        return false;
    }
    if page {
        return (scheme == "https" || scheme == "http") && rest.starts_with("//");
    }
    !matches!(scheme.as_str(), "javascript" | "data" | "vbscript" | "blob" | "file" | "about" | "filesystem")
}

/// Where a transaction stands. `Completed` is not final: only the result read decides \[S\].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TossStatus {
    /// `REQUESTED`: sent, not yet opened.
    Requested,
    /// `IN_PROGRESS`: the person is in the app.
    InProgress,
    /// `COMPLETED`: approved; read the result.
    Completed,
    /// `EXPIRED`: too late; start over.
    Expired,
    /// A status bonin does not know, verbatim.
    Other(String),
}

impl TossStatus {
    /// Reads Toss's word; unknown words are kept.
    pub fn parse(word: &str) -> Self {
        match word {
            "REQUESTED" => Self::Requested,
            "IN_PROGRESS" => Self::InProgress,
            "COMPLETED" => Self::Completed,
            "EXPIRED" => Self::Expired,
            other => Self::Other(other.to_owned()),
        }
    }

    /// As Toss spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Requested => "REQUESTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Expired => "EXPIRED",
            Self::Other(word) => word,
        }
    }

    /// Reads a status read's `success` for `tx_id`: `status` is required, and a `txId` other
    /// than the one asked about is an integrity failure.
    pub fn from_success(success: &Value, tx_id: &str, provider: ProviderId) -> Result<Self, Error> {
        if let Some(answered) = member(success, "txId")
            && answered != tx_id
        {
            return Err(Error::integrity("Toss answered the status of another txId"));
        }
        member(success, "status")
            .map(|s| Self::parse(&s))
            .ok_or_else(|| Error::protocol(provider, "status: status missing"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn times_with_and_without_an_offset_are_read() {
        let kst = parse_time("2026-11-30T20:31:00+09:00").unwrap();
        assert_eq!(kst, time::macros::datetime!(2026-11-30 11:31 UTC));
        assert_eq!(parse_time("2026-11-30T20:31:00.123"), Some(time::macros::datetime!(2026-11-30 11:31:00.123 UTC)));
        assert_eq!(parse_time("2026-11-30 20:31:00"), Some(kst));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("0001-01-01T00:00:00Z"), None);
    }

    #[test]
    fn the_string_null_is_absent() {
        let value = serde_json::json!({"a": "null", "b": " x ", "c": null, "d": 7, "e": ""});
        assert_eq!(member(&value, "a"), None);
        assert_eq!(member(&value, "b").as_deref(), Some("x"));
        assert_eq!(member(&value, "c"), None);
        assert_eq!(member(&value, "d").as_deref(), Some("7"));
        assert_eq!(member(&value, "e"), None);
    }

    #[test]
    fn links_the_browser_would_open_are_pages_or_app_links_never_scripts() {
        let success =
            |key: &str, url: &str| serde_json::json!({"txId": "0a1b2c3d-4e5f-6789-abcd-ef0123456789", key: url});
        let read = |key: &str, url: &str| TossLaunch::from_success(&success(key, url), ProviderId::Toss);
        assert!(read("authUrl", "https://auth.cert.toss.im/type-cert?txId=1").is_ok());
        assert!(read("authUrl", "http://127.0.0.1:9000/toss/auth").is_ok());
        assert!(read("appScheme", "supertoss://toss-cert?txId=1").is_ok());
        assert!(read("androidAppUri", "intent://toss-cert#Intent;scheme=supertoss;end").is_ok());
        for hostile in
            ["javascript:opener.document.title='x'", "JavaScript:alert(1)", "supertoss://toss-cert", "https:/x"]
        {
            let error = read("authUrl", hostile).unwrap_err();
            assert!(matches!(error, Error::Protocol { .. }), "authUrl = {hostile}: {error:?}");
            assert!(!error.to_string().contains(hostile), "the value is not echoed");
        }
        // An app link that is not one is left out; the page still opens.
        for (key, hostile) in [
            ("appScheme", "javascript:alert(1)"),
            ("appScheme", "data:text/html,<script>alert(1)</script>"),
            ("iosAppUri", "vbscript:x"),
            ("androidAppUri", "file:///etc/passwd"),
            ("appScheme", "java\tscript:alert(1)"),
            ("appScheme", "no scheme at all"),
        ] {
            let launch = read(key, hostile).unwrap();
            assert!(
                launch.app_scheme.is_none() && launch.android_app_uri.is_none() && launch.ios_app_uri.is_none(),
                "{key} = {hostile}"
            );
        }
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_kept() {
        for word in ["REQUESTED", "IN_PROGRESS", "COMPLETED", "EXPIRED", "CANCELLED"] {
            assert_eq!(TossStatus::parse(word).as_str(), word);
        }
        assert_eq!(TossStatus::parse("CANCELLED"), TossStatus::Other("CANCELLED".into()));
    }
}
