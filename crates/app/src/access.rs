//! Request ids and the access log: the router's outermost layer ([`access_log`]).
//!
//! Every request gets an id. One sent in `x-request-id` is kept when it is 1–64 characters of
//! `[A-Za-z0-9._:-]` (what proxies and tracing systems generate); anything else is replaced and
//! never repeated, in the answer or in a log. Otherwise the id is 16 random bytes in hex. The id is
//! answered in `x-request-id`, handed to the handler in that header and as a [`RequestId`]
//! extension, and names the `request` span the handler runs in, so the service's `verification`
//! and `provider_call` spans (and every line logged in them) nest under it.
//!
//! When the answer is ready, one line is logged at INFO with target `bonin::access`: the method,
//! the route *template* (`/v1/verifications/{id}`; `-` when no route matched), the status, the
//! latency in milliseconds (until the answer's head, not its body) and the request id. Never the
//! path as sent (it carries verification ids), its query string, a header value or a body.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{MatchedPath, Request},
    http::{HeaderMap, HeaderName, HeaderValue, Method},
    middleware::Next,
    response::Response,
};
use bonin_domain::{OsRng, Rng};
use tracing::Instrument;

/// The header a request id travels in, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from a client.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The `tracing` target of the access log lines.
pub const ACCESS_TARGET: &str = "bonin::access";

/// The id of the request being handled (a request extension set by [`access_log`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id as text: 1–64 characters of `[A-Za-z0-9._:-]`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `value` may be used as a request id: 1–64 characters of `[A-Za-z0-9._:-]`.
pub fn is_valid_request_id(value: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&value.len())
        && value.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The client's request id, when it sent exactly one and it is acceptable.
fn incoming(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(&REQUEST_ID_HEADER).iter();
    let value = values.next()?;
    if values.next().is_some() || !is_valid_request_id(value.as_bytes()) {
        return None;
    }
    // Checked above: ASCII only.
    value.to_str().ok().map(str::to_owned)
}

/// A new request id: 16 random bytes in hex. Should the operating system's generator fail, the
/// time and a counter stand in (an id names a request in the logs; it guards nothing).
fn generate() -> String {
    let mut bytes = [0u8; 16];
    if OsRng.fill_bytes(&mut bytes).is_err() {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        return format!("{:016x}{count:016x}", nanos as u64);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The method as logged: the standard ones by name, any other as `OTHER` (an extension method is
/// text the client chose).
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// Middleware: assigns the request id, runs the request in a `request` span and logs its access
/// line (see the module documentation). Add it with `Router::layer`, after every other layer, so
/// that it sees the matched route and every answer, a panic's `500` included.
pub async fn access_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = incoming(request.headers()).unwrap_or_else(generate);
    // Either checked or hex: always a valid header value.
    let header = HeaderValue::from_str(&id).ok();
    match &header {
        Some(value) => {
            request.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
        }
        None => {
            request.headers_mut().remove(REQUEST_ID_HEADER);
        }
    }
    request.extensions_mut().insert(RequestId(id.clone()));
    let method = method_name(request.method());
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());

    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(request).instrument(span).await;

    if let Some(value) = header {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    tracing::info!(
        target: ACCESS_TARGET,
        method,
        route = route.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        latency_ms,
        request_id = %id,
        "request handled"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_and_of_a_safe_alphabet() {
        for good in ["a", "0123abcdef", "req-1.2_3:4", "ABC-xyz", &"x".repeat(64)] {
            assert!(is_valid_request_id(good.as_bytes()), "{good}");
        }
        for bad in ["", &"x".repeat(65), "<script>", "a b", "a\tb", "a/b", "a%20", "é", "a\"b", "id;drop"] {
            assert!(!is_valid_request_id(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn one_acceptable_id_is_kept_and_anything_else_is_not() {
        let mut headers = HeaderMap::new();
        assert_eq!(incoming(&headers), None);
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(incoming(&headers).as_deref(), Some("abc-123"));
        headers.append(REQUEST_ID_HEADER, HeaderValue::from_static("def-456"));
        assert_eq!(incoming(&headers), None, "two ids are ambiguous");
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("<script>"));
        assert_eq!(incoming(&headers), None);
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{a}");
        assert_ne!(a, b);
        assert!(is_valid_request_id(a.as_bytes()));
    }

    #[test]
    fn extension_methods_are_not_logged_by_name() {
        assert_eq!(method_name(&Method::POST), "POST");
        assert_eq!(method_name(&Method::from_bytes(b"SECRETVALUE").unwrap()), "OTHER");
    }
}
