//! The NICE simulator as the sandbox counterpart of NICE.

use std::{any::Any, path::Path};

use axum::Router;
use bonin_domain::{Error, ProviderId};
use serde_json::Value;

use super::{NiceSimConfig, NiceSimulator, WINDOW_PATH};
use crate::{
    counterpart::{Sections, Simulated, patch_of, text},
    play::Simulators,
};

/// Stands in for NICE.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counterpart;

impl crate::counterpart::Counterpart for Counterpart {
    fn providers(&self) -> &'static [ProviderId] {
        &[ProviderId::Nice]
    }

    fn simulate(&self, sections: &Sections, _public_url: &str) -> Result<Box<dyn Simulated>, Error> {
        let mut config = NiceSimConfig::default();
        let section = sections.get(&ProviderId::Nice);
        if let (Some(id), Some(secret)) = (text(section, "client_id"), text(section, "client_secret")) {
            config.clients.push((id, secret));
        }
        if let Some(product_id) = text(section, "product_id") {
            config.product_id = product_id;
        }
        Ok(Box::new(NiceSimulator::new(config)))
    }
}

impl Simulated for NiceSimulator {
    fn router(&self) -> Router {
        NiceSimulator::router(self)
    }

    fn patch(
        &self,
        _provider: ProviderId,
        configured: Option<&Value>,
        base_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value> {
        let window = format!("{base_url}{WINDOW_PATH}");
        let mut pairs = Vec::new();
        if configured.is_none() {
            let (id, secret) = self.client();
            pairs.push(("client_id", Value::from(id)));
            pairs.push(("client_secret", Value::from(secret)));
        }
        if !explicit("api_base") {
            pairs.push(("api_base", Value::from(base_url)));
        }
        if !explicit("window_url") {
            pairs.push(("window_url", Value::from(window)));
        }
        Some(patch_of(pairs))
    }

    fn players(&self, simulators: Simulators) -> Simulators {
        simulators.with_nice(self.clone())
    }

    fn banner(&self, base_url: &str, _dir: &Path) -> Vec<String> {
        let (id, _) = self.client();
        vec![format!("nice: api_base = {base_url}, window_url = {base_url}{WINDOW_PATH}, client_id = {id}")]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
