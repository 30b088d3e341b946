//! Requests and responses as plain data.

use std::{fmt, time::Duration};

use bytes::Bytes;

/// The HTTP methods the providers use (a provider may need another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    /// The method name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }
}

/// Whether repeating a request can change anything beyond the first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// Safe to repeat (reads, token requests, calls carrying an idempotency key).
    Idempotent,
    /// Not safe to repeat (OTP send, contract start): retried only when it provably never left.
    NotIdempotent,
}

/// An outgoing request. `Debug` shows the label, method and header *names* only: header values and
/// bodies carry credentials and personal data.
#[derive(Clone)]
pub struct HttpRequest {
    /// A stable endpoint name for logs and metrics (`nice.crypto_token`).
    pub label: &'static str,
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
    /// Retry safety.
    pub idempotency: Idempotency,
    /// Overrides the transport's total timeout for this request.
    pub timeout: Option<Duration>,
}

impl HttpRequest {
    /// A request; `GET` and `DELETE` default to idempotent, `POST`/`PUT` to not idempotent.
    pub fn new(label: &'static str, method: HttpMethod, url: impl Into<String>) -> Self {
        let idempotency = match method {
            HttpMethod::Get | HttpMethod::Delete => Idempotency::Idempotent,
            HttpMethod::Post | HttpMethod::Put => Idempotency::NotIdempotent,
        };
        Self { label, method, url: url.into(), headers: Vec::new(), body: Vec::new(), idempotency, timeout: None }
    }

    /// A `GET`.
    pub fn get(label: &'static str, url: impl Into<String>) -> Self {
        Self::new(label, HttpMethod::Get, url)
    }

    /// A `POST`.
    pub fn post(label: &'static str, url: impl Into<String>) -> Self {
        Self::new(label, HttpMethod::Post, url)
    }

    /// A `DELETE`.
    pub fn delete(label: &'static str, url: impl Into<String>) -> Self {
        Self::new(label, HttpMethod::Delete, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Sets retry safety.
    pub fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }

    /// Sets a per-request total timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("label", &self.label)
            .field("method", &self.method)
            .field("headers", &self.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .field("idempotency", &self.idempotency)
            .finish_non_exhaustive()
    }
}

/// A response, whatever its status. `Debug` shows the status and body length only.
#[derive(Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers in order (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The body (at most the transport's limit).
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with a body and no headers.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self { status, headers: Vec::new(), body: body.into() }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse").field("status", &self.status).field("body_len", &self.body.len()).finish()
    }
}

/// Everything but the RFC 3986 unreserved characters (`A–Z a–z 0–9 - _ . ~`).
const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a path segment or a query value (`encodeURIComponent`).
pub fn encode_component(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

#[cfg(test)]
mod encode_tests {
    #[test]
    fn components_are_encoded_like_encode_uri_component() {
        assert_eq!(super::encode_component("vf abc/../x?y"), "vf%20abc%2F..%2Fx%3Fy");
        assert_eq!(super::encode_component("imp_123-4.5~"), "imp_123-4.5~");
        assert_eq!(super::encode_component("홍+="), "%ED%99%8D%2B%3D");
    }
}
