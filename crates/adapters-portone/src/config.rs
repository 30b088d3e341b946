//! PortOne configuration (`[providers.portone_v1]`, `[providers.portone_v2]`).

use std::time::Duration;

use bonin_domain::{Error, SecretString};
use serde::Deserialize;

/// The V1 (iamport) section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortoneV1Config {
    /// REST API key (`imp_key`).
    pub imp_key: String,
    /// REST API secret (`imp_secret`).
    pub imp_secret: SecretString,
    /// 가맹점 식별코드 for `IMP.init` (`imp########`).
    pub merchant_code: String,
    /// Channel key of the identity-verification channel (preferred over `pg`).
    #[serde(default)]
    pub channel_key: Option<String>,
    /// Deprecated `pg` (`danal`, `danal.{CPID}`, `inicis_unified`), when no channel key is used.
    #[serde(default)]
    pub pg: Option<String>,
    /// REST host (`https://api.iamport.kr`; the static-IP host is `https://static-api.iamport.kr`).
    #[serde(default = "default_v1_api_base")]
    pub api_base: String,
    /// The browser SDK.
    #[serde(default = "default_v1_script_url")]
    pub script_url: String,
    /// Sub-merchant tier code, sent as the `Tier` header.
    #[serde(default)]
    pub tier: Option<String>,
    /// Delete the certification at PortOne (`DELETE /certifications/{imp_uid}`) once bonin has stored
    /// the verified result, so the personal data does not linger there.
    #[serde(default = "yes")]
    pub delete_after_read: bool,
    /// Service name shown in the OTP SMS (`company`).
    #[serde(default)]
    pub company: Option<String>,
    /// Per-call time limit in seconds.
    #[serde(default = "default_v1_timeout")]
    pub timeout_secs: u64,
}

/// The V2 section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortoneV2Config {
    /// V2 API secret (sent as `Authorization: PortOne <secret>`).
    pub api_secret: SecretString,
    /// Store id (`store-…`).
    pub store_id: String,
    /// Channel key of the identity-verification channel.
    pub channel_key: String,
    /// REST host.
    #[serde(default = "default_v2_api_base")]
    pub api_base: String,
    /// The browser SDK.
    #[serde(default = "default_v2_script_url")]
    pub script_url: String,
    /// `windowType.pc` for the browser SDK (`POPUP`, `IFRAME`); PortOne's default when unset.
    #[serde(default)]
    pub window_type_pc: Option<String>,
    /// `windowType.mobile` (`REDIRECTION`, `POPUP`); PortOne's default when unset.
    #[serde(default)]
    pub window_type_mobile: Option<String>,
    /// Read timeout per call in seconds. PortOne asks clients for at least 60 (its PG calls can take
    /// that long, and a disconnect does not cancel them); lower it only for tests.
    #[serde(default = "default_v2_timeout")]
    pub timeout_secs: u64,
}

fn yes() -> bool {
    true
}
fn default_v1_api_base() -> String {
    "https://api.iamport.kr".into()
}
fn default_v1_script_url() -> String {
    "https://cdn.iamport.kr/v1/iamport.js".into()
}
fn default_v1_timeout() -> u64 {
    30
}
fn default_v2_api_base() -> String {
    "https://api.portone.io".into()
}
fn default_v2_script_url() -> String {
    "https://cdn.portone.io/v2/browser-sdk.js".into()
}
fn default_v2_timeout() -> u64 {
    60
}

fn check_url(key: &str, url: &str) -> Result<(), Error> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(Error::misconfigured(format!("{key} must be an http(s) URL")))
    }
}

impl PortoneV1Config {
    /// A config for the production hosts.
    pub fn new(imp_key: impl Into<String>, imp_secret: SecretString, merchant_code: impl Into<String>) -> Self {
        Self {
            imp_key: imp_key.into(),
            imp_secret,
            merchant_code: merchant_code.into(),
            channel_key: None,
            pg: None,
            api_base: default_v1_api_base(),
            script_url: default_v1_script_url(),
            tier: None,
            delete_after_read: true,
            company: None,
            timeout_secs: default_v1_timeout(),
        }
    }

    /// Points the REST calls and the SDK at other hosts (a simulator).
    pub fn with_endpoints(mut self, api_base: impl Into<String>, script_url: impl Into<String>) -> Self {
        self.api_base = api_base.into();
        self.script_url = script_url.into();
        self
    }

    /// The per-call time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Checks the values that can be checked without the network.
    pub fn validate(&self) -> Result<(), Error> {
        check_url("providers.portone_v1.api_base", &self.api_base)?;
        check_url("providers.portone_v1.script_url", &self.script_url)?;
        if self.imp_key.trim().is_empty() {
            return Err(Error::misconfigured("providers.portone_v1.imp_key is empty"));
        }
        if self.merchant_code.trim().is_empty() {
            return Err(Error::misconfigured("providers.portone_v1.merchant_code (imp########) is empty"));
        }
        if self.channel_key.is_none() && self.pg.is_none() {
            return Err(Error::misconfigured(
                "providers.portone_v1 needs channel_key (or the deprecated pg, e.g. \"danal.CPID\")",
            ));
        }
        if let Some(tier) = &self.tier
            && tier.len() != 3
        {
            return Err(Error::misconfigured("providers.portone_v1.tier must be the 3-character tier code"));
        }
        if self.timeout_secs == 0 {
            return Err(Error::misconfigured("providers.portone_v1.timeout_secs must be positive"));
        }
        Ok(())
    }
}

impl PortoneV2Config {
    /// A config for the production host.
    pub fn new(api_secret: SecretString, store_id: impl Into<String>, channel_key: impl Into<String>) -> Self {
        Self {
            api_secret,
            store_id: store_id.into(),
            channel_key: channel_key.into(),
            api_base: default_v2_api_base(),
            script_url: default_v2_script_url(),
            window_type_pc: None,
            window_type_mobile: None,
            timeout_secs: default_v2_timeout(),
        }
    }

    /// Points the REST calls and the SDK at other hosts (a simulator).
    pub fn with_endpoints(mut self, api_base: impl Into<String>, script_url: impl Into<String>) -> Self {
        self.api_base = api_base.into();
        self.script_url = script_url.into();
        self
    }

    /// The per-call read timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// Checks the values that can be checked without the network.
    pub fn validate(&self) -> Result<(), Error> {
        check_url("providers.portone_v2.api_base", &self.api_base)?;
        check_url("providers.portone_v2.script_url", &self.script_url)?;
        if self.store_id.trim().is_empty() {
            return Err(Error::misconfigured("providers.portone_v2.store_id is empty"));
        }
        if self.channel_key.trim().is_empty() {
            return Err(Error::misconfigured("providers.portone_v2.channel_key is empty"));
        }
        if self.timeout_secs == 0 {
            return Err(Error::misconfigured("providers.portone_v2.timeout_secs must be positive"));
        }
        Ok(())
    }
}
