//! eSignon configuration (`[providers.esignon]`).

use std::time::Duration;

use bonin_domain::{Error, SecretString};
use serde::Deserialize;

/// The eSignon section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EsignonConfig {
    /// The company's id (설정 > 회사프로필; only the company leader sees it).
    pub company_id: String,
    /// The member the API acts as (login email; starts documents, cancels them).
    pub email: String,
    /// That member's password (secret).
    pub password: SecretString,
    /// Obsolete per-company client id: accepted so old configurations load, never sent.
    #[serde(default)]
    pub client_id: Option<String>,
    /// API host (`https://docs.esignon.net`; there is no sandbox host).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// `ko`, `en` or `ja`: the language of eSignon's messages and of the signers' mails.
    #[serde(default = "default_lang")]
    pub lang: String,
    /// The static `Authorization` value eSignon must send with progress callbacks (secret); when
    /// set, workflows started through bonin report to bonin's callback endpoint.
    #[serde(default)]
    pub webhook_authorization: Option<SecretString>,
    /// eSignon's embed mode (`export_api_info.request_code: "embed"`): eSignon sends the signers no
    /// mail or KakaoTalk; the start answers the first signer's own link and each progress callback
    /// the next signer's. Needs a callback target. Off: eSignon delivers each signer's link itself.
    #[serde(default)]
    pub embed: bool,
    /// Time limit per call in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How long before the token's end it is replaced, in seconds (default one day).
    #[serde(default = "default_margin")]
    pub token_margin_secs: u64,
}

fn default_api_base() -> String {
    "https://docs.esignon.net".into()
}
fn default_lang() -> String {
    "ko".into()
}
fn default_timeout() -> u64 {
    30
}
fn default_margin() -> u64 {
    24 * 3600
}

impl EsignonConfig {
    /// A config for the production host.
    pub fn new(company_id: impl Into<String>, email: impl Into<String>, password: SecretString) -> Self {
        Self {
            company_id: company_id.into(),
            email: email.into(),
            password,
            client_id: None,
            api_base: default_api_base(),
            lang: default_lang(),
            webhook_authorization: None,
            embed: false,
            timeout_secs: default_timeout(),
            token_margin_secs: default_margin(),
        }
    }

    /// Points the calls at another host (a simulator).
    pub fn with_api_base(mut self, api_base: impl Into<String>) -> Self {
        self.api_base = api_base.into();
        self
    }

    /// The per-call time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Checks the values that can be checked without the network.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.api_base.starts_with("https://") || self.api_base.starts_with("http://")) {
            return Err(Error::misconfigured("providers.esignon.api_base must be an http(s) URL"));
        }
        let id_ok = !self.company_id.is_empty()
            && self.company_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err(Error::misconfigured(
                "providers.esignon.company_id must be the company's id (letters, digits, - _ .), not its name",
            ));
        }
        if !self.email.contains('@') {
            return Err(Error::misconfigured("providers.esignon.email must be the member's login email"));
        }
        if !matches!(self.lang.as_str(), "ko" | "en" | "ja") {
            return Err(Error::misconfigured("providers.esignon.lang must be ko, en or ja"));
        }
        if self.timeout_secs == 0 {
            return Err(Error::misconfigured("providers.esignon.timeout_secs must be positive"));
        }
        Ok(())
    }
}
