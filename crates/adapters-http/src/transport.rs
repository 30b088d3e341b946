//! Transports: the real one over reqwest, and a function-backed double for tests.

use std::{fmt, net::IpAddr, time::Duration};

use async_trait::async_trait;
use bytes::BytesMut;

use crate::{HttpMethod, HttpRequest, HttpResponse};

/// Why no response was received. Never carries a body, URL query or header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The connection (TCP or TLS) could not be established: the request never left.
    #[error("could not connect")]
    Connect,
    /// No complete response within the timeout, after the request may have been sent.
    #[error("timed out waiting for the response")]
    Timeout,
    /// The connection broke after the request may have been sent.
    #[error("the connection failed after the request was sent")]
    Interrupted,
    /// The response body exceeded the configured limit.
    #[error("the response body exceeded {0} bytes")]
    BodyTooLarge(usize),
    /// The request could not be built (bad URL, refused scheme); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
}

impl TransportError {
    /// Whether the provider provably did not see the request.
    pub fn not_sent(&self) -> bool {
        matches!(self, Self::Connect | Self::InvalidRequest(_))
    }
}

/// Sends one request, once.
#[async_trait]
pub trait HttpTransport: Send + Sync + fmt::Debug {
    /// One attempt.
    async fn execute(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// Settings for [`ReqwestTransport`]: `HttpConfig::default()`, then the `with_*` setters (new
/// settings come with a default, so this struct is `#[non_exhaustive]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Time allowed to establish TCP and TLS.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request and response (per attempt).
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
    /// Allow `http://` to non-loopback hosts (never in production).
    pub allow_insecure_http: bool,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Read only the status and headers of each answer, never its body (which then has no size
    /// limit and comes back empty): for calls whose outcome is the status alone, such as event
    /// delivery, where a receiver's large `2xx` body must not turn a delivery into a failure.
    pub status_only: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
            allow_insecure_http: false,
            user_agent: concat!("bonin/", env!("CARGO_PKG_VERSION")).to_owned(),
            status_only: false,
        }
    }
}

impl HttpConfig {
    /// Time allowed to establish TCP and TLS.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole request and response (per attempt).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Largest response body accepted.
    #[must_use]
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Allow `http://` to non-loopback hosts (never in production).
    #[must_use]
    pub fn with_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The `User-Agent` header.
    #[must_use]
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Read only each answer's status and headers (see [`HttpConfig::status_only`]).
    #[must_use]
    pub fn with_status_only(mut self, status_only: bool) -> Self {
        self.status_only = status_only;
        self
    }
}

/// The real transport.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    max_response_bytes: usize,
    allow_insecure_http: bool,
    status_only: bool,
}

impl ReqwestTransport {
    /// Builds the client. Fails only if the TLS backend cannot initialise.
    pub fn new(config: &HttpConfig) -> Result<Self, bonin_domain::Error> {
        let client = reqwest::Client::builder()
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|_| bonin_domain::Error::misconfigured("the HTTP client could not be built (TLS backend)"))?;
        Ok(Self {
            client,
            max_response_bytes: config.max_response_bytes,
            allow_insecure_http: config.allow_insecure_http,
            status_only: config.status_only,
        })
    }

    fn check_url(&self, url: &str) -> Result<reqwest::Url, TransportError> {
        let url = reqwest::Url::parse(url).map_err(|_| TransportError::InvalidRequest("not an absolute URL"))?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_insecure_http || is_loopback(&url) => Ok(url),
            "http" => Err(TransportError::InvalidRequest("plain http is allowed only to loopback hosts")),
            _ => Err(TransportError::InvalidRequest("unsupported URL scheme")),
        }
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => {
            host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

fn classify(error: &reqwest::Error) -> TransportError {
    if error.is_connect() {
        TransportError::Connect
    } else if error.is_timeout() {
        TransportError::Timeout
    } else if error.is_builder() {
        TransportError::InvalidRequest("the request could not be built")
    } else {
        TransportError::Interrupted
    }
}

#[async_trait]
impl HttpTransport for ReqwestTransport {
    async fn execute(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = self.check_url(&request.url)?;
        let method = match request.method {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client.request(method, url);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let mut response = builder.send().await.map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned())))
            .collect();
        if self.status_only {
            // Dropping the response closes its connection without reading the body.
            return Ok(HttpResponse { status, headers, body: bytes::Bytes::new() });
        }
        if response.content_length().is_some_and(|len| len > self.max_response_bytes as u64) {
            return Err(TransportError::BodyTooLarge(self.max_response_bytes));
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e))? {
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(TransportError::BodyTooLarge(self.max_response_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse { status, headers, body: body.freeze() })
    }
}

/// A transport answered by a function: the test double seam. The function sees every request and
/// decides the outcome.
pub struct FnTransport<F> {
    respond: F,
}

impl<F> FnTransport<F>
where
    F: Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync,
{
    /// Wraps `respond`.
    pub fn new(respond: F) -> Self {
        Self { respond }
    }
}

impl<F> fmt::Debug for FnTransport<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnTransport")
    }
}

#[async_trait]
impl<F> HttpTransport for FnTransport<F>
where
    F: Fn(&HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync,
{
    async fn execute(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        (self.respond)(request)
    }
}
