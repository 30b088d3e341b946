//! mobileOK configuration (`[providers.mobileok]`).

use std::path::PathBuf;

use bonin_domain::{Error, SecretString};
use serde::Deserialize;

use crate::{CryptoGeneration, KeyFile};

/// The mobileOK section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileokConfig {
    /// Path of `mok_keyInfo.dat`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The key file as Base64 (containers, environment variables); used when `key_file` is absent.
    #[serde(default)]
    pub key_file_base64: Option<SecretString>,
    /// The key file's password.
    pub key_password: SecretString,
    /// The `siteUrl` registered with Dream for the 본인확인-API (send exactly what was registered;
    /// whether a scheme is expected is not documented).
    #[serde(default)]
    pub site_url: String,
    /// 본인확인-API host (`https://cert-dir.mobile-ok.com`; dev: `https://scert-dir.mobile-ok.com`).
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// 표준창 host (`https://cert.mobile-ok.com`; dev: `https://scert.mobile-ok.com`).
    #[serde(default = "default_window_base")]
    pub window_base: String,
    /// `encryptReqClientInfo` generation: `v1` (legacy libraries) or `v2` (key files with a
    /// `ServerPublicKey`). Which token endpoint pairs with which is not published; bonin uses
    /// `/agent/v1/token/get` for v1 and `/agent/v2/token/get` for v2.
    #[serde(default)]
    pub crypto: CryptoGeneration,
    /// `usageCode` when a request gives no purpose (`01005` 본인확인용).
    #[serde(default = "default_usage_code")]
    pub usage_code: String,
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
        Ok(())
    }
}
