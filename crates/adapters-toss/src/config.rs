//! Toss configuration (`[providers.toss]`).
//!
//! Confidence tags in the doc comments are the protocol reference's (`protocols/toss.md`): \[C3+\]
//! three or more sources, \[C2\] two, \[S\] one, \[I\] inference. Where the reference is uncertain, the
//! setting lets bonin follow what Toss actually does without a code change.

use std::{fmt, time::Duration};

use bonin_domain::{Error, ExposeSecret, SecretString};
use serde::Deserialize;

use crate::crypto::TossPublicKey;

/// The two families of API paths Toss serves. Both coexist \[C2\]; which one a contract uses is not
/// settled in the reference \[I\], hence the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathFamily {
    /// 본인확인: `/api/v2/sign/user/auth/id/{request,status,result}` (request \[C3+\], status and
    /// result \[C2\]).
    #[default]
    AuthId,
    /// 본인인증 (간편인증): `/api/v2/sign/user/auth/{request,status,result}` (\[C2\]/\[S\]).
    Auth,
}

impl PathFamily {
    /// The path prefix the call names are appended to.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::AuthId => "/api/v2/sign/user/auth/id",
            Self::Auth => "/api/v2/sign/user/auth",
        }
    }
}

/// How a `USER_PERSONAL` request reaches the person \[C2\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TriggerType {
    /// Toss answers app links (`appScheme`, `androidAppUri`, `iosAppUri`) for the caller to open.
    #[default]
    #[serde(alias = "app_scheme")]
    AppScheme,
    /// Toss sends a push to the person's Toss app.
    #[serde(alias = "push")]
    Push,
}

impl TriggerType {
    /// As Toss spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AppScheme => "APP_SCHEME",
            Self::Push => "PUSH",
        }
    }
}

/// The Toss section.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TossConfig {
    /// OAuth client id (`test_…` for Toss's public test credentials).
    pub client_id: String,
    /// OAuth client secret (secret).
    pub client_secret: SecretString,
    /// OAuth host; `POST {oauth_base}/token` \[C3+\].
    #[serde(default = "default_oauth_base")]
    pub oauth_base: String,
    /// API host \[C3+\].
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Which path family the calls use (`auth_id` by default; `auth` for 본인인증). \[I\]: the
    /// reference finds both families and does not say which a contract gets.
    #[serde(default)]
    pub path_family: PathFamily,
    /// Toss's RSA public key, Base64 of an X.509 SubjectPublicKeyInfo DER, to which every
    /// `sessionKey` is encrypted. Toss publishes it only inside its SDK
    /// (`TossCertSessionGenerator.publicKey`); the protocol reference does not carry it, so there is
    /// no default: production must set it from Toss's SDK (validated by
    /// [`TossConfig::validate_for_production`]). Without it, `USER_PERSONAL` requests and result
    /// reads fail as misconfigured. A simulator publishes its own.
    #[serde(default)]
    pub public_key_base64: Option<String>,
    /// The trigger of `USER_PERSONAL` requests when the caller names none (`APP_SCHEME` or `PUSH`)
    /// \[C2\].
    #[serde(default)]
    pub trigger_type: TriggerType,
    /// `requestUrl`: where the Toss app sends the person back when done \[C2\]; an https URL or an
    /// app scheme. Not sent when unset. Whether Toss requires it with `APP_SCHEME` is not in the
    /// reference \[I\]; bonin does not refuse a request without it (the sandbox simulator does).
    #[serde(default)]
    pub request_url: Option<String>,
    /// Time limit per call in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

impl fmt::Debug for TossConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("oauth_base", &self.oauth_base)
            .field("api_base", &self.api_base)
            .field("path_family", &self.path_family)
            .field("public_key_base64", &self.public_key_base64.as_ref().map(|_| "<set>"))
            .field("trigger_type", &self.trigger_type)
            .field("request_url", &self.request_url)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

fn default_oauth_base() -> String {
    "https://oauth2.cert.toss.im".into()
}
fn default_api_base() -> String {
    "https://cert.toss.im".into()
}
fn default_timeout() -> u64 {
    30
}

fn is_http_url(url: &str) -> bool {
    url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).is_some_and(|rest| !rest.is_empty())
}

impl TossConfig {
    /// A config for Toss's production hosts.
    pub fn new(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            oauth_base: default_oauth_base(),
            api_base: default_api_base(),
            path_family: PathFamily::default(),
            public_key_base64: None,
            trigger_type: TriggerType::default(),
            request_url: None,
            timeout_secs: default_timeout(),
        }
    }

    /// Points both hosts elsewhere (a simulator, a proxy).
    pub fn with_endpoints(mut self, oauth_base: impl Into<String>, api_base: impl Into<String>) -> Self {
        self.oauth_base = oauth_base.into();
        self.api_base = api_base.into();
        self
    }

    /// Sets Toss's public key (Base64 SPKI).
    pub fn with_public_key(mut self, public_key_base64: impl Into<String>) -> Self {
        self.public_key_base64 = Some(public_key_base64.into());
        self
    }

    /// The per-call time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    /// `{oauth_base}/token`.
    pub(crate) fn token_url(&self) -> String {
        format!("{}/token", self.oauth_base.trim_end_matches('/'))
    }

    /// `{api_base}{family prefix}/{call}`.
    pub(crate) fn api_url(&self, call: &str) -> String {
        format!("{}{}/{call}", self.api_base.trim_end_matches('/'), self.path_family.prefix())
    }

    /// The parsed public key, when one is set.
    pub fn public_key(&self) -> Result<Option<TossPublicKey>, Error> {
        self.public_key_base64.as_deref().map(TossPublicKey::from_base64).transpose().map_err(Error::from)
    }

    /// Checks what can be checked without the network: http(s) hosts, non-empty credentials, a
    /// readable public key when one is set, a positive timeout.
    pub fn validate(&self) -> Result<(), Error> {
        if !is_http_url(&self.oauth_base) {
            return Err(Error::misconfigured("providers.toss.oauth_base must be an http(s) URL"));
        }
        if !is_http_url(&self.api_base) {
            return Err(Error::misconfigured("providers.toss.api_base must be an http(s) URL"));
        }
        if self.client_id.trim().is_empty() {
            return Err(Error::misconfigured("providers.toss.client_id is empty"));
        }
        if self.client_secret.expose_secret().trim().is_empty() {
            return Err(Error::misconfigured("providers.toss.client_secret is empty"));
        }
        if let Some(url) = &self.request_url
            && (url.trim().is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(Error::misconfigured("providers.toss.request_url must be a URL without spaces"));
        }
        if self.timeout_secs == 0 {
            return Err(Error::misconfigured("providers.toss.timeout_secs must be positive"));
        }
        // A poll reads the status first; a result read starts only with its whole budget left. The
        // status must leave that budget, or a completed approval would never be read.
        let longest = bonin_domain::POLL_TIME_LIMIT.as_secs() / u64::from(crate::client::RESULT_READ_CALLS + 1);
        if self.timeout_secs > longest {
            return Err(Error::misconfigured(format!(
                "providers.toss.timeout_secs must be at most {longest}: a status read and a result read (up to {} calls) must fit in one poll ({} s)",
                crate::client::RESULT_READ_CALLS,
                bonin_domain::POLL_TIME_LIMIT.as_secs()
            )));
        }
        self.public_key().map(|_| ())
    }

    /// [`validate`](Self::validate), plus what production needs: https hosts, credentials that are
    /// not Toss's public `test_` ones, and Toss's public key.
    pub fn validate_for_production(&self) -> Result<(), Error> {
        self.validate()?;
        for (key, url) in [("oauth_base", &self.oauth_base), ("api_base", &self.api_base)] {
            if !url.starts_with("https://") {
                return Err(Error::misconfigured(format!("providers.toss.{key} must be https in production")));
            }
        }
        if self.client_id.starts_with("test_") || self.client_secret.expose_secret().starts_with("test_") {
            return Err(Error::misconfigured(
                "providers.toss: test_ credentials answer a fixed virtual person; production needs the contract's",
            ));
        }
        if self.public_key_base64.is_none() {
            return Err(Error::misconfigured(
                "providers.toss.public_key_base64 must be set in production (Toss's SDK, TossCertSessionGenerator.publicKey)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TEST_ID: &str = "test_a8e23336d673ca70922b485fe806eb2d";
    const TEST_SECRET: &str = "test_418087247d66da09fda1964dc4734e453c7cf66a7a9e3";

    fn test_key() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/toss/test_public_key.b64")).unwrap()
    }

    #[test]
    fn defaults_are_tosss_hosts_and_the_auth_id_family() {
        let config: TossConfig =
            serde_json::from_value(serde_json::json!({"client_id": TEST_ID, "client_secret": TEST_SECRET})).unwrap();
        assert_eq!(config.token_url(), "https://oauth2.cert.toss.im/token");
        assert_eq!(config.api_url("request"), "https://cert.toss.im/api/v2/sign/user/auth/id/request");
        assert_eq!(config.trigger_type, TriggerType::AppScheme);
        assert!(config.public_key_base64.is_none());
        config.validate().unwrap();
        let auth = TossConfig { path_family: PathFamily::Auth, ..config };
        assert_eq!(auth.api_url("status"), "https://cert.toss.im/api/v2/sign/user/auth/status");
    }

    #[test]
    fn settings_are_read_as_documented_and_unknown_keys_refused() {
        let config: TossConfig = serde_json::from_value(serde_json::json!({
            "client_id": "c", "client_secret": "s", "path_family": "auth", "trigger_type": "PUSH",
            "request_url": "myapp://back",
        }))
        .unwrap();
        assert_eq!((config.path_family, config.trigger_type), (PathFamily::Auth, TriggerType::Push));
        let unknown = serde_json::json!({"client_id": "c", "client_secret": "s", "scope": "ca"});
        assert!(serde_json::from_value::<TossConfig>(unknown).is_err());
    }

    #[test]
    fn a_call_timeout_that_would_not_let_a_result_read_fit_in_a_poll_is_refused() {
        let config = TossConfig::new("c", SecretString::from("s"));
        TossConfig { timeout_secs: 30, ..config.clone() }.validate().unwrap();
        let long = TossConfig { timeout_secs: 31, ..config };
        assert!(
            matches!(long.validate(), Err(Error::Misconfigured { reason }) if reason.contains("timeout_secs must be at most 30"))
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let config = TossConfig::new(TEST_ID, SecretString::from(TEST_SECRET)).with_public_key(test_key());
        let debug = format!("{config:?}");
        assert!(!debug.contains(TEST_SECRET) && !debug.contains("MIIC"));
    }

    #[test]
    fn production_refuses_test_credentials_plain_http_and_a_missing_key() {
        let test = TossConfig::new(TEST_ID, SecretString::from(TEST_SECRET)).with_public_key(test_key());
        test.validate().unwrap();
        assert!(test.validate_for_production().is_err());
        let real = TossConfig::new("client-1", SecretString::from("secret-1"));
        assert!(
            matches!(real.validate_for_production(), Err(Error::Misconfigured { reason }) if reason.contains("public_key_base64"))
        );
        let real = real.with_public_key(test_key());
        real.validate_for_production().unwrap();
        let http = real.clone().with_endpoints("http://oauth.example", "https://cert.example");
        http.validate().unwrap();
        assert!(http.validate_for_production().is_err());
    }

    #[test]
    fn a_public_key_that_is_not_one_is_refused() {
        let config = TossConfig::new("c", SecretString::from("s")).with_public_key("bm90IGEga2V5");
        assert!(matches!(config.validate(), Err(Error::Misconfigured { .. })));
        let config =
            TossConfig { oauth_base: "oauth2.cert.toss.im".into(), ..TossConfig::new("c", SecretString::from("s")) };
        assert!(config.validate().is_err());
        let config =
            TossConfig { request_url: Some("https://a b".into()), ..TossConfig::new("c", SecretString::from("s")) };
        assert!(config.validate().is_err());
    }
}
