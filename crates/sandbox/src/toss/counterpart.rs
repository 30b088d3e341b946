//! The Toss simulator as the sandbox counterpart of Toss.

use std::{any::Any, path::Path};

use axum::Router;
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{Error, ProviderId};
use serde_json::Value;

use super::{ServerKeySource, TEST_CLIENT_ID, TEST_CLIENT_SECRET, TossSimConfig, TossSimulator};
use crate::counterpart::{Sections, Simulated, patch_of, text};

/// Toss's published test key pair (the one its test vectors use): the sandbox's simulator signs
/// with it, so starting a sandbox does not generate an RSA-4096 key. Test material, never a
/// production key.
const TEST_PRIVATE_KEY: &str = include_str!("test_private_key.b64");

/// Stands in for Toss.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counterpart;

impl crate::counterpart::Counterpart for Counterpart {
    fn providers(&self) -> &'static [ProviderId] {
        &[ProviderId::Toss]
    }

    fn simulate(&self, sections: &Sections, _public_url: &str) -> Result<Box<dyn Simulated>, Error> {
        let key = STANDARD
            .decode(TEST_PRIVATE_KEY.trim())
            .map_err(|_| Error::misconfigured("the Toss simulator's test key is not Base64"))?;
        let mut config = TossSimConfig { server_key: ServerKeySource::Pkcs8(key), ..TossSimConfig::default() };
        // Configured credentials are accepted by the simulator, so a sandbox run works with them.
        let section = sections.get(&ProviderId::Toss);
        if let (Some(id), Some(secret)) = (text(section, "client_id"), text(section, "client_secret")) {
            config.clients.push((id, secret));
        }
        let simulator = TossSimulator::new(config)
            .ok_or_else(|| Error::misconfigured("the Toss simulator could not load its key"))?;
        Ok(Box::new(simulator))
    }

    /// The three go together: the simulator's key only fits its own endpoints.
    fn stands_in(&self, _provider: ProviderId, _key: &str, explicit: &dyn Fn(&str) -> bool) -> bool {
        !(explicit("api_base") || explicit("oauth_base"))
    }
}

impl Simulated for TossSimulator {
    fn router(&self) -> Router {
        TossSimulator::router(self)
    }

    fn patch(
        &self,
        _provider: ProviderId,
        configured: Option<&Value>,
        base_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value> {
        if explicit("api_base") || explicit("oauth_base") {
            return configured.map(|_| patch_of([]));
        }
        let mut pairs = vec![
            ("api_base", Value::from(base_url)),
            ("oauth_base", Value::from(base_url)),
            ("public_key_base64", Value::from(self.public_key_base64())),
        ];
        if configured.is_none() {
            pairs.push(("client_id", Value::from(TEST_CLIENT_ID)));
            pairs.push(("client_secret", Value::from(TEST_CLIENT_SECRET)));
        }
        Some(patch_of(pairs))
    }

    fn approve(&self, launch: &bonin_domain::Launch, persona: &str) -> Option<Result<(), String>> {
        let bonin_domain::Launch::Script(script) = launch else { return None };
        if script.kind() != "toss" {
            return None;
        }
        let tx_id = script.fields().get("tx_id").and_then(Value::as_str)?.to_owned();
        if !self.tx_ids().contains(&tx_id) {
            return None;
        }
        Some(TossSimulator::approve(self, &tx_id, Some(persona)).map(|_| ()).map_err(|e| e.to_string()))
    }

    fn banner(&self, base_url: &str, _dir: &Path) -> Vec<String> {
        vec![format!(
            "toss: oauth_base = api_base = {base_url}, client_id = {TEST_CLIENT_ID}, public_key_base64 = {}… (approve: POST /_sandbox/toss/approve)",
            self.public_key_base64().chars().take(16).collect::<String>()
        )]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
