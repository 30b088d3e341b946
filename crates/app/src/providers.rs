//! The provider registry: the one place that lists the providers this build offers. Everything
//! else (configuration, validation, wiring, the CLI, the API's capability checks, OpenAPI, the
//! settings reference, the demo page) iterates over [`registered`].
//!
//! Adding a provider: its adapter crate implements [`Provider`], its simulator implements
//! [`Counterpart`](bonin_sandbox::counterpart::Counterpart), and one line here (behind a feature of
//! this crate) registers it.

use std::{fmt, path::Path, sync::Arc};

use bonin_adapters_http::provider::{Built, Capabilities, Endpoint, Launcher, Parts, Profile, Provider, Setting};
use bonin_domain::{Error, ProviderId, SecretString};
use figment::{Figment, providers::Serialized};

/// Every provider of this build, in a stable order (built once).
pub fn registered() -> &'static [Registered] {
    static REGISTERED: std::sync::OnceLock<Vec<Registered>> = std::sync::OnceLock::new();
    REGISTERED.get_or_init(|| {
        vec![
            #[cfg(feature = "nice")]
            Registered::of(bonin_adapters_nice::Nice),
            #[cfg(feature = "mobileok")]
            Registered::of(bonin_adapters_mobileok::Mobileok),
            #[cfg(feature = "portone")]
            Registered::of(bonin_adapters_portone::PortoneV1),
            #[cfg(feature = "portone")]
            Registered::of(bonin_adapters_portone::PortoneV2),
            #[cfg(feature = "esignon")]
            Registered::of(bonin_adapters_esignon::Esignon),
            #[cfg(feature = "toss")]
            Registered::of(bonin_adapters_toss::Toss),
        ]
    })
}

/// The registered provider `id`, if this build has it.
pub fn find(id: ProviderId) -> Option<Registered> {
    registered().iter().find(|p| p.id() == id).cloned()
}

/// The ids of the providers that verify identities (window, OTP or app), in order.
pub fn verifying() -> Vec<ProviderId> {
    registered().iter().filter(|p| p.capabilities().verifies()).map(Registered::id).collect()
}

/// A registered provider, its configuration type erased.
#[derive(Clone)]
pub struct Registered {
    entry: Arc<dyn Entry>,
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered").field("id", &self.id()).field("capabilities", &self.capabilities()).finish()
    }
}

impl Registered {
    /// Registers `provider`.
    pub fn of<P: Provider>(provider: P) -> Self {
        Self { entry: Arc::new(Typed(provider)) }
    }

    /// Its id.
    pub fn id(&self) -> ProviderId {
        self.entry.id()
    }

    /// Its section: `providers.<id>`.
    pub fn section(&self) -> String {
        format!("providers.{}", self.id())
    }

    /// One line on what it is.
    pub fn about(&self) -> &'static str {
        self.entry.about()
    }

    /// What it can do.
    pub fn capabilities(&self) -> Capabilities {
        self.entry.capabilities()
    }

    /// Its section's keys, documented.
    pub fn settings(&self) -> &'static [Setting] {
        self.entry.settings()
    }

    /// The browser code of its launch kinds.
    pub fn launchers(&self) -> &'static [Launcher] {
        self.entry.launchers()
    }

    /// Reads its section from `figment` (strings from the environment read as numbers or
    /// booleans where the key is one), validates it for `profile`, and answers its endpoints.
    /// Errors carry figment's description (key and source); the caller redacts secrets.
    pub fn check(&self, figment: &Figment, profile: Profile) -> Result<Vec<Endpoint>, Checked> {
        self.entry.check(figment, &self.section(), profile)
    }

    /// Builds it from its final section (a JSON object, as configured and patched).
    pub fn build(&self, section: serde_json::Value, parts: Parts) -> Result<Built, Error> {
        self.entry.build(section, &self.section(), parts)
    }

    /// Describes a key file it issues, if it issues any.
    pub fn inspect_key_file(&self, path: &Path, password: &SecretString) -> Option<Result<Vec<String>, Error>> {
        self.entry.inspect_key_file(path, password)
    }
}

/// Why a section did not check out.
#[derive(Debug)]
pub enum Checked {
    /// It could not be read as the provider's configuration.
    Unreadable(Box<figment::Error>),
    /// It was read, and the provider refused it.
    Invalid(Error),
}

trait Entry: Send + Sync {
    fn id(&self) -> ProviderId;
    fn about(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    fn settings(&self) -> &'static [Setting];
    fn launchers(&self) -> &'static [Launcher];
    fn check(&self, figment: &Figment, section: &str, profile: Profile) -> Result<Vec<Endpoint>, Checked>;
    fn build(&self, section: serde_json::Value, key: &str, parts: Parts) -> Result<Built, Error>;
    fn inspect_key_file(&self, path: &Path, password: &SecretString) -> Option<Result<Vec<String>, Error>>;
}

struct Typed<P>(P);

impl<P: Provider> Entry for Typed<P> {
    fn id(&self) -> ProviderId {
        self.0.id()
    }

    fn about(&self) -> &'static str {
        self.0.about()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    fn settings(&self) -> &'static [Setting] {
        self.0.settings()
    }

    fn launchers(&self) -> &'static [Launcher] {
        self.0.launchers()
    }

    fn check(&self, figment: &Figment, section: &str, profile: Profile) -> Result<Vec<Endpoint>, Checked> {
        let config: P::Config = figment.extract_inner_lossy(section).map_err(|e| Checked::Unreadable(Box::new(e)))?;
        self.0.validate(&config, profile).map_err(Checked::Invalid)?;
        Ok(self.0.endpoints(&config))
    }

    fn build(&self, section: serde_json::Value, key: &str, parts: Parts) -> Result<Built, Error> {
        let config: P::Config = Figment::from(Serialized::default(key, section))
            .extract_inner_lossy(key)
            .map_err(|e| Error::misconfigured(crate::config::describe_figment_error(&e)))?;
        self.0.build(config, parts)
    }

    fn inspect_key_file(&self, path: &Path, password: &SecretString) -> Option<Result<Vec<String>, Error>> {
        self.0.inspect_key_file(path, password)
    }
}
