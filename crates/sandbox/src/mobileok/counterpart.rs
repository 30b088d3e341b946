//! The mobileOK simulator as the sandbox counterpart of mobileOK.

use std::{any::Any, path::Path};

use axum::Router;
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{Error, ProviderId};
use serde_json::Value;

use super::{MobileokSimConfig, MobileokSimulator};
use crate::{
    counterpart::{Sections, Simulated, patch_of, text},
    play::Simulators,
};

/// The password of the key file the simulator hands to bonin.
pub const SANDBOX_KEY_PASSWORD: &str = "bonin-sandbox";

/// Stands in for mobileOK.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counterpart;

fn site_url_missing(section: Option<&Value>) -> bool {
    text(section, "site_url").is_none_or(|s| s.trim().is_empty())
}

impl crate::counterpart::Counterpart for Counterpart {
    fn providers(&self) -> &'static [ProviderId] {
        &[ProviderId::Mobileok]
    }

    fn simulate(&self, sections: &Sections, public_url: &str) -> Result<Box<dyn Simulated>, Error> {
        // A configured siteUrl is the one registered with the simulator; without one it takes any.
        let site_urls = text(sections.get(&ProviderId::Mobileok), "site_url")
            .filter(|s| !s.trim().is_empty())
            .into_iter()
            .collect();
        let config = MobileokSimConfig {
            // The 표준창 returns only to this bonin.
            return_url_prefixes: vec![format!("{}/v1/verifications/", public_url.trim_end_matches('/'))],
            site_urls,
            ..MobileokSimConfig::default()
        };
        let simulator = MobileokSimulator::new(config)
            .ok_or_else(|| Error::misconfigured("the mobileOK simulator could not generate its keys"))?;
        Ok(Box::new(simulator))
    }

    /// The two endpoints go together: setting one keeps the other's configured value or default.
    fn stands_in(&self, _provider: ProviderId, _key: &str, explicit: &dyn Fn(&str) -> bool) -> bool {
        !(explicit("api_base") || explicit("window_base"))
    }

    /// Where the simulator stands in and no siteUrl is set, bonin's public URL is sent (and the
    /// simulator takes any).
    fn prepare(
        &self,
        provider: ProviderId,
        section: &Value,
        public_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value> {
        let simulated = self.stands_in(provider, "api_base", explicit);
        (simulated && site_url_missing(Some(section))).then(|| patch_of([("site_url", Value::from(public_url))]))
    }
}

impl Simulated for MobileokSimulator {
    fn router(&self) -> Router {
        MobileokSimulator::router(self)
    }

    fn patch(
        &self,
        _provider: ProviderId,
        configured: Option<&Value>,
        base_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value> {
        if explicit("api_base") || explicit("window_base") {
            return configured.map(|_| patch_of([]));
        }
        // The simulator has its own keys, so it hands bonin a key file that fits them.
        let key_file = STANDARD.encode(self.key_file(SANDBOX_KEY_PASSWORD, true));
        Some(patch_of([
            ("key_file", Value::Null),
            ("key_file_base64", Value::from(key_file)),
            ("key_password", Value::from(SANDBOX_KEY_PASSWORD)),
            ("api_base", Value::from(base_url)),
            ("window_base", Value::from(base_url)),
        ]))
    }

    fn players(&self, simulators: Simulators) -> Simulators {
        simulators.with_mobileok(self.clone())
    }

    fn banner(&self, base_url: &str, dir: &Path) -> Vec<String> {
        let path = dir.join("bonin-sandbox-mok_keyInfo.dat");
        match std::fs::write(&path, self.key_file(SANDBOX_KEY_PASSWORD, true)) {
            Ok(()) => vec![format!(
                "mobileok: api_base = window_base = {base_url}, key_file = {} (password \"{SANDBOX_KEY_PASSWORD}\", crypto v1 or v2)",
                path.display()
            )],
            Err(e) => {
                vec![format!("mobileok: api_base = window_base = {base_url} (the key file could not be written: {e})")]
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
