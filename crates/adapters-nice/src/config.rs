//! NICE configuration.

use bonin_domain::{Error, FormMethod, SecretString};
use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

/// A list given as a list, or as one comma-separated string.
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match StringOrList::deserialize(d)? {
        StringOrList::One(text) => {
            text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
        StringOrList::Many(items) => items,
    })
}

/// The NICE section of the configuration (`[providers.nice]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NiceConfig {
    /// The client id from the NICE API portal (My App).
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
    /// `ProductID` header: `2101979031` for 본인확인(통합형).
    #[serde(default = "default_product_id")]
    pub product_id: String,
    /// Base of the token and crypto-token APIs (`https://svc.niceapi.co.kr:22001`).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// The 표준창 entry (`https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb`).
    #[serde(default = "default_window_url")]
    pub window_url: String,
    /// A pre-issued access token (~50-year lifetime); when absent one is issued on first use. If NICE
    /// rejects it (1800), a new one is issued with the client credentials.
    #[serde(default)]
    pub access_token: Option<SecretString>,
    /// Fixes the authentication method in the window (`M` phone, `C` card, `X` certificate, `U`
    /// 공동인증서, `F` 금융인증서, `S` PASS); absent shows NICE's selection screen.
    #[serde(default)]
    pub auth_type: Option<String>,
    /// How NICE delivers the result to the return URL (`methodtype`). Browsers and in-app views may
    /// POST regardless; bonin's landing accepts both.
    #[serde(default)]
    pub callback_method: CallbackMethod,
    /// How the browser submits the launch form to the window (the official samples use GET).
    #[serde(default = "default_form_method")]
    pub window_form_method: FormMethod,
    /// Authorization scheme of the token revoke call. NICE's requirement is not documented publicly:
    /// most clients send `Basic`, some `bearer`; configurable for that reason.
    #[serde(default)]
    pub revoke_scheme: RevokeScheme,
    /// App schemes (`myapp`) a `returnurl` may use besides `https`/`http`, for apps that receive
    /// NICE's result themselves and forward it to their server. NICE's sample allows an app scheme
    /// as `returnurl`; an app can only be reached by a redirect, so such windows are sent with
    /// `methodtype=get` whatever [`callback_method`](Self::callback_method) says. Empty (the
    /// default): only web URLs. A single string is read as a comma-separated list (environment
    /// variables).
    #[serde(default, deserialize_with = "string_list")]
    pub app_return_schemes: Vec<String>,
    /// The site code NICE assigned to the contract, if known. A result's `sitecode`, when present,
    /// must name this site: the crypto token's `site_code` as issued, its Base64-decoded text (the
    /// one observed `site_code` was Base64 of the plain code; NICE does not document which form the
    /// result carries), or this value.
    #[serde(default)]
    pub site_code: Option<String>,
}

/// `methodtype` of the window request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackMethod {
    /// Result by GET (query string).
    Get,
    /// Result by POST (form body), keeping the encrypted result out of URLs and access logs.
    #[default]
    Post,
}

impl CallbackMethod {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
        }
    }
}

/// Authorization scheme of the revoke call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevokeScheme {
    /// `Authorization: Basic base64(access_token:unix_seconds:client_id)`.
    #[default]
    Basic,
    /// `Authorization: bearer base64(access_token:unix_seconds:client_id)`.
    Bearer,
}

fn default_product_id() -> String {
    "2101979031".into()
}
fn default_api_base() -> String {
    "https://svc.niceapi.co.kr:22001".into()
}
fn default_window_url() -> String {
    "https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb".into()
}
fn default_form_method() -> FormMethod {
    FormMethod::Get
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Schemes that never name an app.
const NOT_APP_SCHEMES: &[&str] = &["http", "https", "javascript", "data", "vbscript", "file", "blob", "about"];

/// Whether `scheme` has URI scheme syntax (a letter, then letters, digits, `+`, `-`, `.`).
fn is_scheme(scheme: &str) -> bool {
    scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

impl NiceConfig {
    /// A config with the production defaults.
    pub fn new(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            product_id: default_product_id(),
            api_base: default_api_base(),
            window_url: default_window_url(),
            access_token: None,
            auth_type: None,
            callback_method: CallbackMethod::default(),
            window_form_method: default_form_method(),
            revoke_scheme: RevokeScheme::default(),
            app_return_schemes: Vec::new(),
            site_code: None,
        }
    }

    /// Points the APIs and the window somewhere else (the sandbox, a proxy).
    pub fn with_endpoints(mut self, api_base: impl Into<String>, window_url: impl Into<String>) -> Self {
        self.api_base = api_base.into();
        self.window_url = window_url.into();
        self
    }

    /// Checks the values; errors name the key, never a secret.
    pub fn validate(&self) -> Result<(), Error> {
        use secrecy::ExposeSecret;
        if self.client_id.trim().is_empty() || self.client_id.contains(':') {
            return Err(Error::misconfigured("providers.nice.client_id must be set and must not contain ':'"));
        }
        if self.client_secret.expose_secret().is_empty() {
            return Err(Error::misconfigured("providers.nice.client_secret must be set"));
        }
        if self.product_id.is_empty() || !self.product_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::misconfigured("providers.nice.product_id must be digits (2101979031 for 본인확인)"));
        }
        if !is_http_url(&self.api_base) {
            return Err(Error::misconfigured("providers.nice.api_base must be an http(s) URL"));
        }
        if !is_http_url(&self.window_url) {
            return Err(Error::misconfigured("providers.nice.window_url must be an http(s) URL"));
        }
        if let Some(auth_type) = &self.auth_type
            && !matches!(auth_type.as_str(), "M" | "C" | "X" | "U" | "F" | "S")
        {
            return Err(Error::misconfigured("providers.nice.auth_type must be one of M, C, X, U, F, S"));
        }
        for scheme in &self.app_return_schemes {
            if !is_scheme(scheme) || NOT_APP_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
                return Err(Error::misconfigured(
                    "providers.nice.app_return_schemes lists app URL schemes only (e.g. myapp), without ':'",
                ));
            }
        }
        if self.site_code.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(Error::misconfigured("providers.nice.site_code must not be empty when set"));
        }
        Ok(())
    }

    /// Whether `url` may be the `returnurl`: an `https`/`http` URL, or a URL of a configured app
    /// scheme ([`app_return_schemes`](Self::app_return_schemes)).
    pub fn accepts_return_url(&self, url: &str) -> bool {
        is_http_url(url) || self.is_app_return_url(url)
    }

    /// Whether `url` uses one of the configured app schemes.
    pub fn is_app_return_url(&self, url: &str) -> bool {
        url.split_once(':').is_some_and(|(scheme, rest)| {
            !rest.is_empty()
                && is_scheme(scheme)
                && self.app_return_schemes.iter().any(|allowed| allowed.eq_ignore_ascii_case(scheme))
        })
    }
}
