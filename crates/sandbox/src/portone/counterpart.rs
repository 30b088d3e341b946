//! The PortOne simulator as the sandbox counterpart of PortOne V1 and V2.

use std::{any::Any, path::Path};

use axum::Router;
use bonin_domain::{Error, ProviderId};
use serde_json::Value;

use super::{
    PortoneSimConfig, PortoneSimulator, SANDBOX_IMP_KEY, SANDBOX_IMP_SECRET, SANDBOX_MERCHANT_CODE, SANDBOX_STORE_ID,
    SANDBOX_V1_CHANNEL_KEY, SANDBOX_V2_CHANNEL_KEY, SANDBOX_V2_SECRET, V1_SCRIPT_PATH, V2_SCRIPT_PATH,
};
use crate::{
    counterpart::{Sections, Simulated, patch_of, text},
    play::Simulators,
};

/// Stands in for PortOne V1 and V2 (one simulator serves both).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counterpart;

impl crate::counterpart::Counterpart for Counterpart {
    fn providers(&self) -> &'static [ProviderId] {
        &[ProviderId::PortoneV1, ProviderId::PortoneV2]
    }

    fn simulate(&self, sections: &Sections, _public_url: &str) -> Result<Box<dyn Simulated>, Error> {
        let mut config = PortoneSimConfig::default();
        // A channel configured as KCP's is KCP's in the simulator too.
        let kcp = |section: Option<&Value>| {
            text(section, "pg_provider").is_some_and(|pg| pg.trim().eq_ignore_ascii_case("kcp_v2"))
        };
        let v1 = sections.get(&ProviderId::PortoneV1);
        if let (Some(key), Some(secret)) = (text(v1, "imp_key"), text(v1, "imp_secret")) {
            config.v1_keys.push((key, secret));
        }
        config.merchant_codes.extend(text(v1, "merchant_code"));
        if let Some(channel_key) = text(v1, "channel_key") {
            config.v1_channel_keys.push(channel_key.clone());
            if kcp(v1) {
                config.kcp_channel_keys.push(channel_key);
            }
        }
        let v2 = sections.get(&ProviderId::PortoneV2);
        if let (Some(secret), Some(store_id)) = (text(v2, "api_secret"), text(v2, "store_id")) {
            config.v2_secrets.push((secret, vec![store_id]));
        }
        if let Some(channel_key) = text(v2, "channel_key") {
            config.v2_channel_keys.push(channel_key.clone());
            if kcp(v2) {
                config.kcp_channel_keys.push(channel_key);
            }
        }
        Ok(Box::new(PortoneSimulator::new(config)))
    }
}

impl Simulated for PortoneSimulator {
    fn router(&self) -> Router {
        PortoneSimulator::router(self)
    }

    fn patch(
        &self,
        provider: ProviderId,
        configured: Option<&Value>,
        base_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value> {
        let mut pairs = Vec::new();
        let script = match provider {
            ProviderId::PortoneV1 => {
                if configured.is_none() {
                    pairs.push(("imp_key", Value::from(SANDBOX_IMP_KEY)));
                    pairs.push(("imp_secret", Value::from(SANDBOX_IMP_SECRET)));
                    pairs.push(("merchant_code", Value::from(SANDBOX_MERCHANT_CODE)));
                    pairs.push(("channel_key", Value::from(SANDBOX_V1_CHANNEL_KEY)));
                }
                V1_SCRIPT_PATH
            }
            ProviderId::PortoneV2 => {
                if configured.is_none() {
                    pairs.push(("api_secret", Value::from(SANDBOX_V2_SECRET)));
                    pairs.push(("store_id", Value::from(SANDBOX_STORE_ID)));
                    pairs.push(("channel_key", Value::from(SANDBOX_V2_CHANNEL_KEY)));
                }
                V2_SCRIPT_PATH
            }
            _ => return None,
        };
        if !explicit("api_base") {
            pairs.push(("api_base", Value::from(base_url)));
        }
        if !explicit("script_url") {
            pairs.push(("script_url", Value::from(format!("{base_url}{script}"))));
        }
        Some(patch_of(pairs))
    }

    fn players(&self, simulators: Simulators) -> Simulators {
        simulators.with_portone(self.clone())
    }

    fn banner(&self, base_url: &str, _dir: &Path) -> Vec<String> {
        vec![
            format!(
                "portone_v1: api_base = {base_url}, script_url = {base_url}{V1_SCRIPT_PATH}, imp_key = {SANDBOX_IMP_KEY}, merchant_code = {SANDBOX_MERCHANT_CODE}, channel_key = {SANDBOX_V1_CHANNEL_KEY}"
            ),
            format!(
                "portone_v2: api_base = {base_url}, script_url = {base_url}{V2_SCRIPT_PATH}, store_id = {SANDBOX_STORE_ID}, channel_key = {SANDBOX_V2_CHANNEL_KEY}"
            ),
        ]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
