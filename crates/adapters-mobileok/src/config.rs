//! mobileOK configuration (`[providers.mobileok]`).

use std::path::PathBuf;

use bonin_domain::{Error, SecretString};
use serde::Deserialize;

use crate::{CryptoGeneration, KeyFile};

/// The mobileOK section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MobileokConfig {
    /// Path of `mok_keyInfo.dat`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The key file as Base64 (containers, environment variables); used when `key_file` is absent.
    #[serde(default)]
    pub key_file_base64: Option<SecretString>,
    /// The key file's password.
    pub key_password: SecretString,
    /// The `siteUrl` registered with Dream for the 본인확인-API, sent exactly as configured.
    /// Required: mobileOK refuses a token request without it ("등록되지 않은 사이트입니다.").
    /// Dream's samples send a bare domain (`www.example.com`), integrators also `https://…`; which
    /// form Dream requires is not published, so both are accepted here (production deployments
    /// of bonin require an absolute `https://` URL, see [`MobileokConfig::validate_for_production`]).
    #[serde(default)]
    pub site_url: String,
    /// 본인확인-API host (`https://cert-dir.mobile-ok.com`; dev: `https://scert-dir.mobile-ok.com`).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// 표준창 host (`https://cert.mobile-ok.com`; dev: `https://scert.mobile-ok.com`).
    #[serde(default = "default_window_base")]
    pub window_base: String,
    /// `encryptReqClientInfo` generation: `v1` (legacy libraries) or `v2` (key files with a
    /// `ServerPublicKey`). Also picks the token endpoint unless
    /// [`token_endpoint`](Self::token_endpoint) is set.
    #[serde(default)]
    pub crypto: CryptoGeneration,
    /// Which `token/get` the 본인확인-API calls: `v2` (`/agent/v2/token/get`, the only one Dream's
    /// 본인확인-API guide lists) or `v1` (`/agent/v1/token/get`, called by the v1.0.x vendor
    /// libraries). Which request-crypto generation each endpoint accepts is not published; the
    /// known pairings are Gen-1 with `/agent/v1` (the vendor libraries) and Gen-2 with `/agent/v2`
    /// (the guide), so unset it follows [`crypto`](Self::crypto), and it can be set on its own
    /// where a contract says otherwise.
    #[serde(default)]
    pub token_endpoint: Option<TokenEndpoint>,
    /// `usageCode` when a request gives no purpose (`01005` 본인확인용).
    #[serde(default = "default_usage_code")]
    pub usage_code: String,
}

/// The `token/get` endpoint of the 본인확인-API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenEndpoint {
    /// `/agent/v1/token/get` (the v1.0.x vendor libraries).
    V1,
    /// `/agent/v2/token/get` (Dream's 본인확인-API guide).
    V2,
}

impl TokenEndpoint {
    /// The path under the API host.
    pub fn path(self) -> &'static str {
        match self {
            Self::V1 => "/agent/v1/token/get",
            Self::V2 => "/agent/v2/token/get",
        }
    }
}

/// Longest `siteUrl` accepted.
const MAX_SITE_URL: usize = 255;

/// Checks a `siteUrl`: a bare host (`www.example.com`, with a port or path if registered so) or an
/// absolute `http(s)://` URL with a host; no spaces or control characters.
fn check_site_url(site_url: &str) -> Result<(), Error> {
    let refuse = |why: &str| Err(Error::misconfigured(format!("providers.mobileok.site_url {why}")));
    if site_url.trim().is_empty() {
        return refuse("is required: the siteUrl registered with Dream for the 본인확인-API");
    }
    if site_url.len() > MAX_SITE_URL || site_url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("must be a URL or host name without spaces (at most 255 characters)");
    }
    let host = match site_url.split_once("://") {
        Some(("https" | "http", rest)) => rest,
        Some(_) => return refuse("must be an http(s) URL or a bare host name"),
        None => site_url,
    };
    let host = host.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') || host.contains('@') {
        return refuse("must name a host");
    }
    Ok(())
}

fn default_api_base() -> String {
    "https://cert-dir.mobile-ok.com".into()
}
fn default_window_base() -> String {
    "https://cert.mobile-ok.com".into()
}
fn default_usage_code() -> String {
    "01005".into()
}

impl MobileokConfig {
    /// A config with production hosts for a key file at `key_file`.
    pub fn new(key_file: PathBuf, key_password: SecretString, site_url: impl Into<String>) -> Self {
        Self {
            key_file: Some(key_file),
            key_file_base64: None,
            key_password,
            site_url: site_url.into(),
            api_base: default_api_base(),
            window_base: default_window_base(),
            crypto: CryptoGeneration::default(),
            token_endpoint: None,
            usage_code: default_usage_code(),
        }
    }

    /// Unlocks the configured key file.
    pub fn load_key_file(&self) -> Result<KeyFile, Error> {
        match (&self.key_file, &self.key_file_base64) {
            (Some(path), _) => KeyFile::from_path(path, &self.key_password),
            (None, Some(base64)) => {
                use secrecy::ExposeSecret;
                KeyFile::from_base64(base64.expose_secret(), &self.key_password)
            }
            (None, None) => Err(Error::misconfigured("providers.mobileok needs key_file or key_file_base64")),
        }
    }

    /// Checks the values that can be checked without the network.
    pub fn validate(&self) -> Result<(), Error> {
        for (key, url) in
            [("providers.mobileok.api_base", &self.api_base), ("providers.mobileok.window_base", &self.window_base)]
        {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::misconfigured(format!("{key} must be an http(s) URL")));
            }
        }
        if self.usage_code.len() != 5 || !self.usage_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::misconfigured("providers.mobileok.usage_code must be five digits (e.g. 01005)"));
        }
        check_site_url(&self.site_url)
    }

    /// [`validate`](Self::validate) plus what a production deployment needs besides: `site_url` an
    /// absolute `https://` URL.
    /// The token endpoint called: the configured one, else the one paired with the crypto
    /// generation.
    pub fn effective_token_endpoint(&self) -> TokenEndpoint {
        self.token_endpoint.unwrap_or(match self.crypto {
            CryptoGeneration::V1 => TokenEndpoint::V1,
            _ => TokenEndpoint::V2,
        })
    }

    /// [`MobileokConfig::validate`], and in production no plain-`http://` `siteUrl`. A bare host
    /// (`www.shop.example`) stays accepted: Dream's samples register sites that way, and the value
    /// must be sent exactly as registered.
    pub fn validate_for_production(&self) -> Result<(), Error> {
        self.validate()?;
        if self.site_url.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://")) {
            return Err(Error::misconfigured(
                "providers.mobileok.site_url must not be a plain http:// URL in production (use the https:// URL or the bare host registered with Dream)",
            ));
        }
        Ok(())
    }
}
