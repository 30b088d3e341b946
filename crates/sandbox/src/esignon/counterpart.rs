//! The eSignon simulator as the sandbox counterpart of eSignon.

use std::{any::Any, path::Path};

use axum::Router;
use bonin_domain::{Error, ProviderId};
use serde_json::Value;

use super::{
    EsignonSimConfig, EsignonSimulator, SANDBOX_COMPANY_ID, SANDBOX_EMAIL, SANDBOX_PASSWORD, SANDBOX_TEMPLATE_ID,
};
use crate::counterpart::{Sections, Simulated, patch_of, text};

/// Stands in for eSignon.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counterpart;

impl crate::counterpart::Counterpart for Counterpart {
    fn providers(&self) -> &'static [ProviderId] {
        &[ProviderId::Esignon]
    }

    fn simulate(&self, sections: &Sections, _public_url: &str) -> Result<Box<dyn Simulated>, Error> {
        let mut config = EsignonSimConfig::default();
        // A configured member is accepted by the simulator, so a sandbox run works with it.
        let section = sections.get(&ProviderId::Esignon);
        if let Some(company_id) = text(section, "company_id") {
            config.company_id = company_id;
        }
        if let (Some(email), Some(password)) = (text(section, "email"), text(section, "password")) {
            config.members.push((email, password));
        }
        Ok(Box::new(EsignonSimulator::new(config)))
    }
}

impl Simulated for EsignonSimulator {
    fn router(&self) -> Router {
        EsignonSimulator::router(self)
    }

    fn patch(
        &self,
        _provider: ProviderId,
        configured: Option<&Value>,
        base_url: &str,
        explicit: &dyn Fn(&str) -> bool,
    ) -> Option<Value> {
        if explicit("api_base") {
            return configured.map(|_| patch_of([]));
        }
        let mut pairs = vec![("api_base", Value::from(base_url))];
        if configured.is_none() {
            pairs.push(("company_id", Value::from(SANDBOX_COMPANY_ID)));
            pairs.push(("email", Value::from(SANDBOX_EMAIL)));
            pairs.push(("password", Value::from(SANDBOX_PASSWORD)));
        }
        Some(patch_of(pairs))
    }

    fn banner(&self, base_url: &str, _dir: &Path) -> Vec<String> {
        vec![format!(
            "esignon: api_base = {base_url}, company_id = {SANDBOX_COMPANY_ID}, email = {SANDBOX_EMAIL}, template = {SANDBOX_TEMPLATE_ID} (sign: POST /_sandbox/esignon/sign)"
        )]
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
