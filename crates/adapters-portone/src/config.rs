//! PortOne configuration (`[providers.portone_v1]`, `[providers.portone_v2]`).

use std::time::Duration;

use bonin_domain::{Error, SecretString};
use serde::Deserialize;

/// The V1 (iamport) section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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
    /// The service's name or domain (`company`): named in the OTP SMS and shown in the
    /// `IMP.certification` window (PortOne's own name when unset; KISA's ePrivacy Clean service
    /// lists verifications under it).
    #[serde(default)]
    pub company: Option<String>,
    /// The PG behind `channel_key` (or `pg`), as PortOne names it: `danal`, `kcp_v2` or
    /// `inicis_unified` (V2 spellings such as `KCP_V2` are read too). It decides which PG-specific
    /// parameters are sent. Unset, it is read from `pg` (`danal.{CPID}` is Danal), else Danal. A
    /// value bonin does not know is kept and treated like Danal, whose parameters other PGs ignore.
    #[serde(default)]
    pub pg_provider: Option<String>,
    /// KCP `media_type` of OTP requests through a `kcp_v2` channel (KCP requires it): `MC01` for
    /// a PC, `MC02` for a mobile device. bonin's OTP requests do not say which device the person
    /// uses, so one value serves all; `MC01`, PortOne's example, by default.
    #[serde(default = "default_kcp_media_type")]
    pub kcp_media_type: String,
    /// KCP `web_siteid`: the site id KCP derives the DI with (KCP's own when unset).
    #[serde(default)]
    pub kcp_web_siteid: Option<String>,
    /// KCP `cp_sms_msg`: the OTP SMS text, with `[000000]` where the code goes (KCP's own text
    /// when unset).
    #[serde(default)]
    pub kcp_sms_message: Option<String>,
    /// KCP `cp_callback`: the number the OTP SMS comes from (KCP's when unset; KISA refuses
    /// 070/060 and unused numbers).
    #[serde(default)]
    pub kcp_callback: Option<String>,
    /// Sends KCP's `bypass` as JSON text rather than as an object. PortOne's V1 API schema
    /// describes `bypass` as a JSON string while its KCP guide posts an object; which one PortOne
    /// reads is not settled, so the object (the guide) is the default and this is the other way.
    #[serde(default)]
    pub kcp_bypass_as_json_string: bool,
    /// Per-call time limit in seconds.
    #[serde(default = "default_v1_timeout")]
    pub timeout_secs: u64,
}

/// Checks a section's KCP settings.
fn validate_kcp(section: &str, media_type: &str, sms_message: Option<&str>) -> Result<(), Error> {
    if !matches!(media_type, "MC01" | "MC02") {
        return Err(Error::misconfigured(format!(
            "providers.{section}.kcp_media_type must be MC01 (PC) or MC02 (mobile)"
        )));
    }
    if sms_message.is_some_and(|m| !m.contains("[000000]")) {
        return Err(Error::misconfigured(format!(
            "providers.{section}.kcp_sms_message must contain [000000] where KCP puts the code"
        )));
    }
    Ok(())
}

/// The V2 section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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
    /// `windowType.pc` for the browser SDK (`IFRAME`, `POPUP`, `REDIRECTION`, `UI`; upper-cased
    /// as the SDK spells them); the PG's default when unset.
    #[serde(default)]
    pub window_type_pc: Option<String>,
    /// `windowType.mobile`, likewise.
    #[serde(default)]
    pub window_type_mobile: Option<String>,
    /// The service's URL or name, sent to Danal as `CPTITLE` (window and OTP send); Danal shows
    /// PortOne's name when unset, and KISA's ePrivacy Clean service lists verifications under it.
    #[serde(default)]
    pub company: Option<String>,
    /// The PG behind `channel_key`: `danal` (the default), `kcp_v2` or `inicis_unified` (V1
    /// spellings and PortOne's upper-case ones alike). It decides which PG-specific parameters are
    /// sent. A value bonin does not know is kept and treated like Danal, whose parameters other PGs
    /// ignore.
    #[serde(default)]
    pub pg_provider: Option<String>,
    /// KCP `media_type` of OTP requests through a `kcp_v2` channel (KCP requires it): `MC01` for
    /// a PC, `MC02` for a mobile device. bonin's OTP requests do not say which device the person
    /// uses, so one value serves all; `MC01`, PortOne's example, by default.
    #[serde(default = "default_kcp_media_type")]
    pub kcp_media_type: String,
    /// KCP `web_siteid`: the site id KCP derives the DI with (KCP's own when unset); sent in
    /// the window too.
    #[serde(default)]
    pub kcp_web_siteid: Option<String>,
    /// KCP `cp_sms_msg`: the OTP SMS text, with `[000000]` where the code goes (KCP's own text
    /// when unset).
    #[serde(default)]
    pub kcp_sms_message: Option<String>,
    /// KCP `cp_callback`: the number the OTP SMS comes from (KCP's when unset; KISA refuses
    /// 070/060 and unused numbers).
    #[serde(default)]
    pub kcp_callback: Option<String>,
    /// Read timeout per call in seconds. PortOne asks clients for at least 60 (its PG calls can take
    /// that long, and a disconnect does not cancel them); lower it only for tests.
    #[serde(default = "default_v2_timeout")]
    pub timeout_secs: u64,
}

/// The PG behind a channel, as far as bonin treats PGs differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pg {
    /// Danal (and any PG bonin does not know: Danal's parameters are ignored by the others).
    Danal,
    /// KCP's new module (`kcp_v2`).
    KcpV2,
    /// KG Inicis 통합인증.
    InicisUnified,
}

impl Pg {
    fn parse(name: &str) -> Self {
        match name.trim().to_ascii_lowercase().as_str() {
            "kcp_v2" => Self::KcpV2,
            "inicis_unified" => Self::InicisUnified,
            _ => Self::Danal,
        }
    }
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
fn default_kcp_media_type() -> String {
    "MC01".into()
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
            pg_provider: None,
            kcp_media_type: default_kcp_media_type(),
            kcp_web_siteid: None,
            kcp_sms_message: None,
            kcp_callback: None,
            kcp_bypass_as_json_string: false,
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

    /// The PG behind the channel: `pg_provider`, else the prefix of `pg`, else Danal.
    pub(crate) fn pg(&self) -> Pg {
        match (&self.pg_provider, &self.pg) {
            (Some(name), _) => Pg::parse(name),
            (None, Some(pg)) => Pg::parse(pg.split('.').next().unwrap_or_default()),
            (None, None) => Pg::Danal,
        }
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
        if self.pg() == Pg::KcpV2 && self.channel_key.is_none() {
            return Err(Error::misconfigured("providers.portone_v1 needs channel_key for a kcp_v2 channel"));
        }
        validate_kcp("portone_v1", &self.kcp_media_type, self.kcp_sms_message.as_deref())
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
            company: None,
            pg_provider: None,
            kcp_media_type: default_kcp_media_type(),
            kcp_web_siteid: None,
            kcp_sms_message: None,
            kcp_callback: None,
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

    /// The PG behind the channel: `pg_provider`, else Danal.
    pub(crate) fn pg(&self) -> Pg {
        self.pg_provider.as_deref().map_or(Pg::Danal, Pg::parse)
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
        validate_kcp("portone_v2", &self.kcp_media_type, self.kcp_sms_message.as_deref())
    }
}
