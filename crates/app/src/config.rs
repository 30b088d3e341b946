//! Configuration: built-in defaults < `bonin.toml` (or the file named by `BONIN_CONFIG`) <
//! `BONIN_*` environment variables, `__` separating levels
//! (`BONIN_PROVIDERS__NICE__CLIENT_SECRET`).
//!
//! Environment values are kept as strings (a secret such as `0123…` must not become a number);
//! numbers and booleans are read from them only where a setting is numeric or boolean. Lists
//! (`api_keys`, `allowed_return_origins`) may be given in the environment comma-separated. Every
//! error names the key and where its value came from.

use std::{collections::BTreeMap, fmt, net::SocketAddr, path::PathBuf};

use bonin_domain::{ExposeSecret, ProviderId, SecretString};
use figment::{
    Figment, Metadata, Profile, Provider,
    providers::{Format, Serialized, Toml},
    value::{Dict, Map, Value},
};
use serde::{Deserialize, Deserializer};

/// `sandbox` (simulated providers, loopback, demo page) or `production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// Simulated providers on loopback; the default with no configuration.
    #[default]
    Sandbox,
    /// Real providers; strict validation.
    Production,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address.
    pub bind: SocketAddr,
    /// A second listener for `/metrics`, `/healthz` and `/readyz`, which then leave `bind`.
    #[serde(default)]
    pub admin_bind: Option<SocketAddr>,
    /// The public base URL of this service; return URLs handed to providers are built from it.
    /// Defaults to `http://<bind>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Bearer keys for server-to-server endpoints.
    #[serde(default, deserialize_with = "secret_list")]
    pub api_keys: Vec<SecretString>,
    /// Origins (`https://shop.example`) a verification may send the browser back to.
    #[serde(default, deserialize_with = "string_list")]
    pub allowed_return_origins: Vec<String>,
    /// Time allowed for one API request, in seconds.
    pub request_timeout_secs: u64,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// A connection that has not sent a whole request head within this many seconds is closed
    /// (slow clients, idle keep-alive connections).
    pub header_read_timeout_secs: u64,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// How long a verified identity stays readable, in seconds; it is also dropped once read.
    pub pii_retention_secs: u64,
    /// How long after its first read the identity can be read again, in seconds (0: read once).
    pub identity_grace_secs: u64,
    /// Serve the demo page at `/` (defaults to on in the sandbox profile, off in production).
    #[serde(default)]
    pub demo: Option<bool>,
}

/// `[store]`. `Debug` shows `url` without its password.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `memory:`, `sqlite://PATH`, `postgres://…`, `redis://…` or `rediss://…` (Redis over TLS).
    pub url: String,
    /// Keys that seal stored sessions (`ID:BASE64`, 32 bytes; the first seals, all open).
    #[serde(default, deserialize_with = "secret_list")]
    pub encryption_keys: Vec<SecretString>,
    /// PostgreSQL connections.
    pub pool_size: usize,
    /// Share provider access tokens between instances through the store (Redis or PostgreSQL), so
    /// a cluster logs in once instead of once per instance.
    #[serde(default)]
    pub share_tokens: bool,
    /// CA certificates (PEM) the store server's certificate is verified against (PostgreSQL with
    /// `sslmode=require`, Redis with `rediss://`); the system's roots when absent.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &redact_url(&self.url))
            .field("encryption_keys", &format!("<{} redacted>", self.encryption_keys.len()))
            .field("pool_size", &self.pool_size)
            .field("share_tokens", &self.share_tokens)
            .field("tls_ca_file", &self.tls_ca_file)
            .finish()
    }
}

/// An event endpoint as logs, errors, `Debug` and `bonin config` show it: its origin, with
/// `/<redacted>` for any path or query (receivers' URLs often carry a token in either).
pub fn redact_endpoint(url: &str) -> String {
    let Some(origin) = origin_of(url) else { return "<unreadable>".to_owned() };
    let rest = url.get(origin.len()..).unwrap_or_default();
    if rest.is_empty() || rest == "/" { origin } else { format!("{origin}/<redacted>") }
}

/// `url` with the password of its user info and the values of password-, secret- or token-named
/// query parameters replaced by `<redacted>` (`postgres://bonin:<redacted>@db/bonin`); text without
/// `://` is returned as it is. Where an unencoded `@` makes the URL ambiguous, more is redacted,
/// never less.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let mut hidden = vec![false; rest.len()];
    // The user info's password: from its first `:` to the last `@`.
    if let (Some(colon), Some(at)) = (rest.find(':'), rest.rfind('@'))
        && colon < at
    {
        hidden[colon + 1..at].fill(true);
    }
    // Secret-named parameters, wherever a `?` or `&` starts one; a value runs to the next `&` or
    // `#` (an `@` in it does not end it).
    let secret_name = |name: &str| {
        let name = name.to_ascii_lowercase();
        ["pass", "secret", "token"].iter().any(|word| name.contains(word))
    };
    for (start, _) in rest.match_indices(['?', '&']) {
        let Some((name, _)) = rest[start + 1..].split_once('=') else { continue };
        if name.contains(['?', '&', '#', '/', '@']) || !secret_name(name) {
            continue;
        }
        let value = start + 1 + name.len() + 1;
        let end = rest[value..].find(['&', '#']).map_or(rest.len(), |e| value + e);
        hidden[value..end].fill(true);
    }
    let mut out = format!("{scheme}://");
    let mut in_hidden = false;
    for (i, c) in rest.char_indices() {
        if hidden[i] {
            if !in_hidden {
                out.push_str("<redacted>");
            }
            in_hidden = true;
        } else {
            in_hidden = false;
            out.push(c);
        }
    }
    out
}

/// The fixed key the sandbox profile seals with when none is configured. Not a secret: sandbox
/// data is synthetic.
pub const SANDBOX_STORE_KEY: &str = "0:Ym9uaW4tc2FuZGJveC1ub3QtYS1zZWNyZXQtMDAwMDA=";

/// `[verification]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationConfig {
    /// The provider used when a request names none.
    pub default_provider: ProviderId,
}

/// `[providers]`: one section per provider, by id. Each registered provider reads and validates
/// its own ([`crate::providers`]). `Debug` names the sections only: they hold secrets.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct ProvidersConfig(pub BTreeMap<String, serde_json::Value>);

impl fmt::Debug for ProvidersConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl ProvidersConfig {
    /// The section of `provider`, as configured.
    pub fn section(&self, provider: ProviderId) -> Option<&serde_json::Value> {
        self.0.get(provider.as_str())
    }

    /// Whether `provider` has a section.
    pub fn is_configured(&self, provider: ProviderId) -> bool {
        self.0.contains_key(provider.as_str())
    }

    /// Sets the section of `provider` (keys as in `[providers.<id>]`).
    pub fn set(&mut self, provider: ProviderId, section: serde_json::Value) {
        self.0.insert(provider.as_str().to_owned(), section);
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `[limits]`: what one client, or all of them together, may ask of one instance. A rate of 0 is
/// no limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Verifications one client (API key, else peer address) may start per minute.
    pub starts_per_minute: u32,
    /// OTP sends and resends one client may ask for per minute (each one is a paid SMS).
    pub otp_sends_per_minute: u32,
    /// OTP confirms one client may make per minute.
    pub confirms_per_minute: u32,
    /// Returns to the open landing per existing verification per minute.
    pub callbacks_per_minute: u32,
    /// Verifications started on this instance and not yet finished; 0 is no limit.
    pub max_open_verifications: usize,
    /// Calls in progress toward each provider from this instance.
    pub provider_concurrency: usize,
    /// How long a call waits for one of those slots before it is answered `provider_unavailable`,
    /// in milliseconds.
    pub provider_wait_ms: u64,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
}

/// `[sandbox]`: the in-process simulators of the sandbox profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    /// Where the simulators listen (loopback only; port 0 for any free port).
    pub bind: SocketAddr,
}

/// `[events]`: signed events to the host application (see `docs/EVENTS.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// Where events are posted; each endpoint gets every event. None: no events are written. In
    /// the environment: a JSON list (`[{"url": "…", "secret": "whsec_…"}]`).
    #[serde(default, deserialize_with = "endpoint_list")]
    pub endpoints: Vec<EventEndpoint>,
    /// An event no endpoint took within this many seconds of its creation is dropped (counted and
    /// logged).
    pub give_up_after_secs: u64,
    /// Time allowed for one delivery (one endpoint), in seconds.
    pub timeout_secs: u64,
    /// The first retry waits about this long (milliseconds); each further one twice as long.
    pub retry_base_ms: u64,
    /// The longest wait between two attempts, in seconds.
    pub retry_max_secs: u64,
    /// How long the delivering instance's lease lasts without renewal, in seconds: another
    /// instance takes over delivery this long after the holder died.
    pub lease_secs: u64,
}

/// One `[[events.endpoints]]`. `Debug` shows the URL's origin, never its path, query or the secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventEndpoint {
    /// The URL events are posted to.
    pub url: String,
    /// The Standard Webhooks secret (`whsec_` + padded Base64 of at least 24 bytes), as the
    /// receiver's verifier holds it.
    #[serde(deserialize_with = "secret_string")]
    pub secret: SecretString,
}

impl fmt::Debug for EventEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventEndpoint")
            .field("url", &redact_endpoint(&self.url))
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A list of endpoint tables, or (from the environment) the same list as JSON text. Errors quote
/// no value: the text holds secrets.
fn endpoint_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EventEndpoint>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<EventEndpoint>),
        Text(String),
    }
    let unreadable = || {
        serde::de::Error::custom("must be a list of {url, secret} tables (in the environment: the same list as JSON)")
    };
    match Form::deserialize(d).map_err(|_| unreadable())? {
        Form::List(list) => Ok(list),
        Form::Text(text) => serde_json::from_str(&text).map_err(|_| unreadable()),
    }
}

fn secret_string<'de, D: Deserializer<'de>>(d: D) -> Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// `sandbox` or `production`.
    pub profile: ProfileName,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[verification]`.
    pub verification: VerificationConfig,
    /// `[providers]`.
    #[serde(default)]
    pub providers: ProvidersConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[sandbox]`.
    pub sandbox: SandboxConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[events]`.
    pub events: EventsConfig,
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match StringOrList::deserialize(d)? {
        StringOrList::One(text) => split_list(&text),
        StringOrList::Many(items) => items,
    })
}

fn secret_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SecretString>, D::Error> {
    string_list(d).map(|items| items.into_iter().map(SecretString::from).collect())
}

/// The built-in defaults, the lowest layer.
pub fn default_values() -> serde_json::Value {
    defaults()
}

fn defaults() -> serde_json::Value {
    serde_json::json!({
        "profile": "sandbox",
        "server": {
            "bind": "127.0.0.1:8080",
            "request_timeout_secs": 30,
            "body_limit_bytes": 65536,
            "header_read_timeout_secs": 20,
            "max_connections": 1024,
            "pii_retention_secs": 600,
            "identity_grace_secs": 60,
        },
        "store": { "url": "sqlite://bonin.db", "pool_size": 16 },
        "verification": { "default_provider": crate::providers::verifying().first().map_or("none", |p| p.as_str()) },
        "limits": {
            "starts_per_minute": 300,
            "otp_sends_per_minute": 60,
            "confirms_per_minute": 300,
            "callbacks_per_minute": 30,
            "max_open_verifications": 10000,
            "provider_concurrency": 64,
            "provider_wait_ms": 2000,
        },
        "log": { "format": "text", "level": "info" },
        "sandbox": { "bind": "127.0.0.1:0" },
        "events": {
            "give_up_after_secs": 259_200,
            "timeout_secs": 10,
            "retry_base_ms": 5000,
            "retry_max_secs": 3600,
            "lease_secs": 30,
        },
    })
}

/// `BONIN_*` variables as string values, nested by `__`. `Debug` names the variables, never their
/// values (they hold secrets).
#[derive(Clone)]
pub struct StringEnv {
    vars: Vec<(String, String)>,
}

impl fmt::Debug for StringEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.vars.iter().map(|(name, _)| format!("BONIN_{name}")).collect();
        f.debug_struct("StringEnv").field("variables", &names).finish()
    }
}

/// Variables that are not settings.
const NOT_SETTINGS: &[&str] = &["CONFIG", "LOG", "KEYFILE_PASSWORD"];

impl StringEnv {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Uses the given variables.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars = vars
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("BONIN_").map(|rest| (rest.to_owned(), v)))
            .filter(|(k, _)| !NOT_SETTINGS.contains(&k.as_str()) && !k.starts_with("TEST_") && !k.is_empty())
            .collect();
        Self { vars }
    }
}

impl Provider for StringEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").interpolater(|_, keys| {
            format!("BONIN_{}", keys.iter().map(|k| k.to_uppercase()).collect::<Vec<_>>().join("__"))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut root = Dict::new();
        for (key, value) in &self.vars {
            let path: Vec<String> = key.split("__").map(str::to_lowercase).collect();
            insert(&mut root, &path, Value::from(value.clone())).map_err(figment::Error::from)?;
        }
        Ok(Map::from([(Profile::Default, root)]))
    }
}

fn insert(dict: &mut Dict, path: &[String], value: Value) -> Result<(), String> {
    match path {
        [] => Ok(()),
        [last] => {
            dict.insert(last.clone(), value);
            Ok(())
        }
        [head, rest @ ..] => {
            let entry = dict.entry(head.clone()).or_insert_with(|| Value::from(Dict::new()));
            match entry {
                Value::Dict(_, inner) => insert(inner, rest, value),
                _ => Err(format!("BONIN_{} conflicts with another variable", head.to_uppercase())),
            }
        }
    }
}

/// A configuration error: the key, where its value came from, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The loaded configuration with the figment it came from (for provenance).
#[derive(Clone)]
pub struct LoadedConfig {
    /// The values.
    pub config: AppConfig,
    /// The layers, for provenance.
    pub figment: Figment,
}

impl fmt::Debug for LoadedConfig {
    // The figment holds every raw value, secrets included: it is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedConfig").field("config", &self.config).finish_non_exhaustive()
    }
}

/// What a build without the cargo feature `sandbox` answers when asked for the simulators (the
/// sandbox profile, which is also what no configuration at all means; `bonin sandbox`; `bonin
/// verify`).
pub const NO_SIMULATORS: &str = "this build of bonin leaves out the provider simulators that the sandbox profile, \
     `bonin sandbox` and `bonin verify` run (cargo feature `sandbox`): build it with `--features sandbox` \
     (`cargo run -p bonin-app --features sandbox -- serve`), or run against your providers with \
     profile = \"production\", their credentials and API keys (docs/OPERATIONS.md)";

/// Builds the layered figment: defaults < file < environment.
pub fn figment(file: Option<PathBuf>, env: StringEnv) -> Figment {
    let path = file.unwrap_or_else(|| PathBuf::from("bonin.toml"));
    Figment::new().merge(Serialized::defaults(defaults())).merge(Toml::file(path)).merge(env)
}

/// The figment for this process: `BONIN_CONFIG` or `./bonin.toml`, then `BONIN_*`.
pub fn process_figment() -> Figment {
    figment(std::env::var_os("BONIN_CONFIG").map(PathBuf::from), StringEnv::from_process())
}

/// Where `key` got its value, for error messages.
pub fn source_of(figment: &Figment, key: &str) -> String {
    match figment.find_metadata(key) {
        Some(metadata) => {
            let name = metadata.name.as_ref();
            if name == "environment variable" {
                let keys: Vec<&str> = key.split('.').collect();
                format!("environment variable {}", metadata.interpolate(&Profile::Default, &keys))
            } else if let Some(figment::Source::File(path)) = &metadata.source {
                format!("file {}", path.display())
            } else {
                "built-in default".to_owned()
            }
        }
        None => "built-in default".to_owned(),
    }
}

fn error_at(figment: &Figment, key: &str, problem: &str) -> ConfigError {
    ConfigError(format!("`{key}` (from {}): {problem}", source_of(figment, key)))
}

pub use bonin_domain::service::origin_of;

fn is_loopback_url(url: &str) -> bool {
    let Some(origin) = origin_of(url) else { return false };
    let host = origin.split_once("://").map_or("", |(_, h)| h);
    let host = host
        .rsplit_once(':')
        .filter(|(h, p)| !h.ends_with(']') || p.is_empty())
        .map_or(host, |(h, p)| if p.bytes().all(|b| b.is_ascii_digit()) { h } else { host });
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl AppConfig {
    /// The built-in defaults (the sandbox profile) as typed values, for embedders who assemble the
    /// configuration in code.
    pub fn sandbox_defaults() -> Result<Self, ConfigError> {
        Figment::new()
            .merge(Serialized::defaults(defaults()))
            .extract()
            .map_err(|e| ConfigError(describe_figment_error(&e)))
    }
}

impl LoadedConfig {
    /// Validates a configuration assembled in code. Without a figment there is no provenance, and
    /// no endpoint counts as explicitly set (in the sandbox profile every provider points at the
    /// simulators).
    pub fn from_config(config: AppConfig) -> Result<Self, ConfigError> {
        let loaded = Self { config, figment: Figment::new() };
        loaded.validate()?;
        Ok(loaded)
    }

    /// Loads and validates; errors name the key and its source.
    pub fn load(figment: Figment) -> Result<Self, ConfigError> {
        let config: AppConfig = figment.extract_lossy().map_err(|e| ConfigError(describe_figment_error(&e)))?;
        let loaded = Self { config, figment };
        loaded.validate()?;
        Ok(loaded)
    }

    /// The section of `provider`, read as its typed configuration (`NiceConfig`, …) the way the
    /// provider reads it.
    pub fn section_as<C: serde::de::DeserializeOwned>(&self, provider: ProviderId) -> Result<C, ConfigError> {
        let key = format!("providers.{provider}");
        if !self.config.providers.is_configured(provider) {
            return Err(ConfigError(format!("`{key}` is not configured")));
        }
        let figment = if self.figment.find_value(&key).is_ok() {
            self.figment.clone()
        } else {
            Figment::from(Serialized::default("providers", &self.config.providers.0))
        };
        figment.extract_inner_lossy(&key).map_err(|e| ConfigError(describe_figment_error(&e)))
    }

    /// Whether `key` was set by the file or the environment (not a default).
    pub fn is_explicit(&self, key: &str) -> bool {
        self.figment.find_metadata(key).is_some_and(|m| {
            matches!(m.source, Some(figment::Source::File(_))) || m.name.as_ref() == "environment variable"
        }) && self.figment.find_value(key).is_ok()
    }

    /// The public base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.config
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.config.server.bind))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The sandbox profile runs the simulators: a build without them (`simulators_built` false, no
    /// cargo feature `sandbox`) refuses it, saying how to get them and what to run instead.
    fn require_simulators(&self, simulators_built: bool) -> Result<(), ConfigError> {
        if self.config.profile == ProfileName::Sandbox && !simulators_built {
            return Err(error_at(&self.figment, "profile", NO_SIMULATORS));
        }
        Ok(())
    }

    /// Whether the demo page is served.
    pub fn demo_enabled(&self) -> bool {
        self.config.server.demo.unwrap_or(self.config.profile == ProfileName::Sandbox)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.require_simulators(cfg!(feature = "sandbox"))?;
        let f = &self.figment;
        let c = &self.config;
        let public_url = self.public_url();
        if origin_of(&public_url).is_none() {
            return Err(error_at(f, "server.public_url", "must be an absolute http(s) URL"));
        }
        for origin in &c.server.allowed_return_origins {
            if origin_of(origin).as_deref() != Some(origin.trim_end_matches('/').to_ascii_lowercase().as_str()) {
                return Err(error_at(
                    f,
                    "server.allowed_return_origins",
                    "each entry must be an origin like https://shop.example (no path)",
                ));
            }
        }
        if c.server.request_timeout_secs == 0 || c.server.body_limit_bytes < 1024 {
            return Err(error_at(
                f,
                "server.request_timeout_secs",
                "timeouts must be positive and body_limit_bytes at least 1024",
            ));
        }
        if c.server.header_read_timeout_secs == 0 {
            return Err(error_at(
                f,
                "server.header_read_timeout_secs",
                "must be positive: a client that never finishes its request would hold a connection forever",
            ));
        }
        if c.server.max_connections == 0 {
            return Err(error_at(f, "server.max_connections", "must be at least 1"));
        }
        if let Some(admin) = c.server.admin_bind {
            let clashes = |other: SocketAddr| {
                other.port() != 0 && other.port() == admin.port() && {
                    let (a, b) = (other.ip(), admin.ip());
                    a == b || a.is_unspecified() || b.is_unspecified()
                }
            };
            if clashes(c.server.bind) || clashes(c.sandbox.bind) {
                return Err(error_at(
                    f,
                    "server.admin_bind",
                    "must be another address or port than server.bind and sandbox.bind: metrics, readiness and liveness get a listener of their own",
                ));
            }
        }
        if !c.sandbox.bind.ip().is_loopback() {
            return Err(error_at(f, "sandbox.bind", "the simulators listen on a loopback address only"));
        }
        if c.limits.provider_concurrency == 0 {
            return Err(error_at(f, "limits.provider_concurrency", "must be at least 1"));
        }
        match crate::providers::find(c.verification.default_provider) {
            Some(provider) if provider.capabilities().verifies() => {}
            Some(provider) => {
                return Err(error_at(
                    f,
                    "verification.default_provider",
                    &format!(
                        "{} {}; choose {}",
                        provider.id(),
                        if provider.capabilities().signing {
                            "is a signing provider (/v1/signing)"
                        } else {
                            "does not verify identities"
                        },
                        names(&crate::providers::verifying())
                    ),
                ));
            }
            None => {
                return Err(error_at(
                    f,
                    "verification.default_provider",
                    &format!(
                        "{} is not in this build; choose {}",
                        c.verification.default_provider,
                        names(&crate::providers::verifying())
                    ),
                ));
            }
        }
        let endpoints = self.check_providers()?;
        let shared_store =
            ["postgres://", "postgresql://", "redis://", "rediss://"].iter().any(|p| c.store.url.starts_with(p));
        if c.store.share_tokens && !shared_store {
            return Err(error_at(
                f,
                "store.share_tokens",
                "needs store.url to be a shared store (redis://…, rediss://… or postgres://…)",
            ));
        }
        let known = ["memory:", "sqlite://", "postgres://", "postgresql://", "redis://", "rediss://"];
        if !known.iter().any(|p| c.store.url.starts_with(p)) {
            return Err(error_at(
                f,
                "store.url",
                "must be memory:, sqlite://PATH, postgres://…, redis://… or rediss://…",
            ));
        }
        if c.log.level.parse::<tracing::Level>().is_err() {
            return Err(error_at(f, "log.level", "must be error, warn, info, debug or trace"));
        }
        if c.server.api_keys.iter().any(|k| k.expose_secret().len() < 16) {
            return Err(error_at(f, "server.api_keys", "each key must be at least 16 characters"));
        }
        match c.profile {
            ProfileName::Sandbox => {
                if c.server.api_keys.is_empty() && !c.server.bind.ip().is_loopback() {
                    return Err(error_at(
                        f,
                        "server.bind",
                        "without api_keys the sandbox profile binds to loopback only",
                    ));
                }
                if c.server.api_keys.is_empty() {
                    // Anyone on this machine may call a keyless sandbox: it must not reach a real
                    // provider, where each verification is paid for and real people are asked.
                    for (key, url) in &endpoints {
                        if self.used_as_configured_in_sandbox(key) && !is_loopback_url(url) {
                            return Err(error_at(
                                f,
                                key,
                                "without server.api_keys the sandbox profile talks to loopback endpoints (the simulators) only: set server.api_keys to use a real provider",
                            ));
                        }
                    }
                }
                // A sandbox that reaches a real provider handles real people's data: not under the
                // sandbox's public sealing key, and not for anyone beyond this machine (that is
                // what the production profile, with its checks, is for).
                let real = endpoints
                    .iter()
                    .find(|(key, url)| self.used_as_configured_in_sandbox(key) && !is_loopback_url(url));
                if let Some((key, _)) = real {
                    let memory = c.store.url.trim().starts_with("memory:");
                    if c.store.encryption_keys.is_empty() && !memory {
                        return Err(error_at(
                            f,
                            "store.encryption_keys",
                            &format!(
                                "{key} is a real provider: set store.encryption_keys (the sandbox profile's built-in key is public), or use the production profile"
                            ),
                        ));
                    }
                    if !c.server.bind.ip().is_loopback() {
                        return Err(error_at(
                            f,
                            "server.bind",
                            &format!(
                                "{key} is a real provider: a sandbox that reaches one binds to loopback only; serve others with profile = \"production\""
                            ),
                        ));
                    }
                }
            }
            ProfileName::Production => self.validate_production(&endpoints)?,
        }
        self.validate_events()
    }

    /// Event endpoints are absolute URLs (`https://` in production), each once, with a usable
    /// secret; every duration is positive.
    fn validate_events(&self) -> Result<(), ConfigError> {
        let f = &self.figment;
        let events = &self.config.events;
        for endpoint in &events.endpoints {
            if origin_of(&endpoint.url).is_none() {
                return Err(error_at(
                    f,
                    "events.endpoints",
                    "each url must be an absolute http(s) URL without user information",
                ));
            }
            if self.config.profile == ProfileName::Production && !endpoint.url.starts_with("https://") {
                return Err(error_at(f, "events.endpoints", "production posts events over https:// only"));
            }
            if bonin_adapters_http::standard_webhooks::WebhookVerifier::for_signing(endpoint.secret.expose_secret())
                .is_err()
            {
                return Err(error_at(
                    f,
                    "events.endpoints",
                    "each secret must be whsec_ followed by padded Base64 of at least 24 random bytes, as `echo \"whsec_$(openssl rand -base64 32)\"` makes (secret)",
                ));
            }
        }
        let urls: std::collections::BTreeSet<&str> = events.endpoints.iter().map(|e| e.url.as_str()).collect();
        if urls.len() != events.endpoints.len() {
            return Err(error_at(f, "events.endpoints", "each url may appear once"));
        }
        for (key, value) in [
            ("events.give_up_after_secs", events.give_up_after_secs),
            ("events.timeout_secs", events.timeout_secs),
            ("events.retry_base_ms", events.retry_base_ms),
            ("events.retry_max_secs", events.retry_max_secs),
            ("events.lease_secs", events.lease_secs),
        ] {
            if value == 0 {
                return Err(error_at(f, key, "must be at least 1"));
            }
        }
        Ok(())
    }

    fn validate_production(&self, endpoints: &[(String, String)]) -> Result<(), ConfigError> {
        let f = &self.figment;
        let c = &self.config;
        if c.server.api_keys.is_empty() {
            return Err(error_at(f, "server.api_keys", "production needs at least one API key"));
        }
        if c.store.url != "memory:" && c.store.encryption_keys.is_empty() {
            return Err(error_at(
                f,
                "store.encryption_keys",
                "production seals stored sessions: configure at least one key",
            ));
        }
        if !self.public_url().starts_with("https://") {
            return Err(error_at(f, "server.public_url", "production needs an https:// public URL"));
        }
        if c.server.allowed_return_origins.is_empty() {
            return Err(error_at(
                f,
                "server.allowed_return_origins",
                "production needs at least one allowed return origin",
            ));
        }
        if c.server.demo == Some(true) {
            return Err(error_at(f, "server.demo", "production does not serve the demo page"));
        }
        self.validate_production_store()?;
        // Every configured provider must talk to real https endpoints; the default one must be configured.
        if !c.providers.is_configured(c.verification.default_provider) {
            let key = format!("providers.{}", c.verification.default_provider);
            return Err(error_at(f, &key, "the default provider must be configured in production"));
        }
        for (key, url) in endpoints {
            if !url.starts_with("https://") || is_loopback_url(url) {
                return Err(error_at(f, key, "production refuses sandbox or plain-http provider endpoints"));
            }
        }
        Ok(())
    }

    /// A shared store on another machine is reached over TLS (a database holds every session and
    /// decides which callback wins: nobody on the network may read or rewrite that traffic).
    fn validate_production_store(&self) -> Result<(), ConfigError> {
        let url = &self.config.store.url;
        if url == "memory:" || url.starts_with("sqlite://") {
            return Ok(());
        }
        match bonin_adapters_store::reach(url) {
            Ok(reach) if reach.tls || reach.local => Ok(()),
            Ok(_) => Err(error_at(
                &self.figment,
                "store.url",
                "production reaches a store on another host over TLS only: add sslmode=require (or verify-full) to a postgres:// URL, use rediss:// for Redis",
            )),
            Err(e) => Err(error_at(&self.figment, "store.url", &e.to_string())),
        }
    }

    /// Reads and validates every configured provider section (a section of a provider this build
    /// does not have is an error), and answers their endpoints: the dotted key and the URL.
    fn check_providers(&self) -> Result<Vec<(String, String)>, ConfigError> {
        let f = &self.figment;
        let c = &self.config;
        let registered = crate::providers::registered();
        for name in c.providers.0.keys() {
            if !registered.iter().any(|p| p.id().as_str() == name) {
                let known: Vec<ProviderId> = registered.iter().map(crate::providers::Registered::id).collect();
                return Err(error_at(
                    f,
                    &format!("providers.{name}"),
                    &format!("not a provider of this build (it has {})", names(&known)),
                ));
            }
        }
        let profile = match c.profile {
            ProfileName::Sandbox => bonin_adapters_http::provider::Profile::Sandbox,
            ProfileName::Production => bonin_adapters_http::provider::Profile::Production,
        };
        let mut endpoints = Vec::new();
        for provider in registered.iter().filter(|p| c.providers.is_configured(p.id())) {
            let section = provider.section();
            // A configuration assembled in code has no figment: its sections are read as given.
            let mut figment = if f.find_value(&section).is_ok() {
                f.clone()
            } else {
                Figment::from(Serialized::default("providers", &c.providers.0))
            };
            if c.profile == ProfileName::Sandbox
                && let Some(patch) = self.sandbox_preparation(provider)
            {
                figment = figment.merge(Serialized::default(&section, patch));
            }
            match provider.check(&figment, profile) {
                Ok(found) => {
                    endpoints.extend(found.into_iter().map(|e| (format!("{section}.{}", e.key), e.url)));
                }
                Err(crate::providers::Checked::Unreadable(e)) => return Err(ConfigError(describe_figment_error(&e))),
                Err(crate::providers::Checked::Invalid(e)) => {
                    let problem = e.to_string();
                    // The most specific key the problem names, for its source.
                    let key = provider
                        .settings()
                        .iter()
                        .map(|s| format!("{section}.{}", s.key))
                        .filter(|key| problem.contains(key.as_str()))
                        .max_by_key(String::len)
                        .unwrap_or(section);
                    return Err(error_at(f, &key, &problem));
                }
            }
        }
        Ok(endpoints)
    }

    /// What the sandbox fills in of `provider`'s section before it is validated.
    #[cfg(feature = "sandbox")]
    fn sandbox_preparation(&self, provider: &crate::providers::Registered) -> Option<serde_json::Value> {
        let counterpart = bonin_sandbox::counterpart::of(provider.id())?;
        let section = self.config.providers.section(provider.id())?;
        let prefix = provider.section();
        let explicit = |key: &str| self.is_explicit(&format!("{prefix}.{key}"));
        counterpart.prepare(provider.id(), section, &self.public_url(), &explicit)
    }

    #[cfg(not(feature = "sandbox"))]
    fn sandbox_preparation(&self, _provider: &crate::providers::Registered) -> Option<serde_json::Value> {
        None
    }

    /// Whether the sandbox profile uses endpoint `key` as configured rather than pointing it at a
    /// simulator: when the provider's simulator does not stand in for it (by default: when it is
    /// set explicitly), and always in a build without simulators.
    #[cfg(feature = "sandbox")]
    fn used_as_configured_in_sandbox(&self, key: &str) -> bool {
        let Some((section, field)) = key.strip_prefix("providers.").and_then(|k| k.split_once('.')) else {
            return self.is_explicit(key);
        };
        let Some(provider) = crate::providers::registered().iter().find(|p| p.id().as_str() == section) else {
            return true;
        };
        let Some(counterpart) = bonin_sandbox::counterpart::of(provider.id()) else { return true };
        let explicit = |k: &str| self.is_explicit(&format!("providers.{section}.{k}"));
        !counterpart.stands_in(provider.id(), field, &explicit)
    }

    #[cfg(not(feature = "sandbox"))]
    fn used_as_configured_in_sandbox(&self, _key: &str) -> bool {
        true
    }
}

/// `a, b or c`.
fn names(ids: &[ProviderId]) -> String {
    let names: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
    match names.split_last() {
        None => "none".to_owned(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// figment's error, which already names the key and the source, as one line. The value of a
/// secret key is never repeated in it ("found `…`").
pub(crate) fn describe_figment_error(error: &figment::Error) -> String {
    use figment::error::Kind;
    let secret = secret_keys();
    let mut lines = Vec::new();
    for mut e in error.clone() {
        if e.path.iter().any(|part| secret.contains(&part.as_str())) {
            e.kind = match e.kind {
                kind @ (Kind::MissingField(_) | Kind::UnknownField(..) | Kind::DuplicateField(_)) => kind,
                Kind::InvalidType(_, expected) => {
                    Kind::Message(format!("invalid type: expected {expected} (the value is secret and not shown)"))
                }
                _ => Kind::Message("invalid value (the value is secret and not shown)".to_owned()),
            };
        }
        lines.push(e.to_string());
    }
    lines.join("; ")
}

/// Keys of the host's own sections whose values are secrets.
const HOST_SECRET_KEYS: &[&str] = &["api_keys", "encryption_keys", "secret"];

/// Keys whose values are secrets and are never printed: the host's, and every key a registered
/// provider marks secret (a key of that name is treated as secret in every section).
pub fn secret_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = HOST_SECRET_KEYS.to_vec();
    for provider in crate::providers::registered() {
        keys.extend(provider.settings().iter().filter(|s| s.secret).map(|s| s.key));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The effective configuration as `key = value  # source` lines, secrets redacted.
pub fn describe(figment: &Figment) -> Result<Vec<(String, String, String)>, ConfigError> {
    let value: serde_json::Value = figment.extract().map_err(|e| ConfigError(describe_figment_error(&e)))?;
    let mut out = Vec::new();
    walk(figment, "", &value, &secret_keys(), &mut out);
    Ok(out)
}

fn walk(
    figment: &Figment,
    prefix: &str,
    value: &serde_json::Value,
    secret: &[&str],
    out: &mut Vec<(String, String, String)>,
) {
    if let serde_json::Value::Object(map) = value {
        for (k, v) in map {
            let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            walk(figment, &key, v, secret, out);
        }
        return;
    }
    // Endpoints from the environment arrive as JSON text: shown entry by entry, secrets redacted.
    if prefix.rsplit('.').next() == Some("endpoints")
        && let serde_json::Value::String(text) = value
    {
        let parsed = serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null);
        if parsed.is_array() {
            return walk(figment, prefix, &parsed, secret, out);
        }
        out.push((prefix.to_owned(), "<unreadable, redacted>".to_owned(), source_of(figment, prefix)));
        return;
    }
    // A list of tables (`[[events.endpoints]]`): each entry's keys, under the list's provenance.
    if let serde_json::Value::Array(items) = value
        && items.iter().any(serde_json::Value::is_object)
    {
        for (index, item) in items.iter().enumerate() {
            let serde_json::Value::Object(map) = item else { continue };
            for (k, v) in map {
                let shown = if secret.contains(&k.as_str()) {
                    "<redacted>".to_owned()
                } else if k == "url" && prefix == "events.endpoints" {
                    serde_json::Value::String(v.as_str().map(redact_endpoint).unwrap_or_default()).to_string()
                } else {
                    match v {
                        serde_json::Value::String(text) => serde_json::Value::String(redact_url(text)).to_string(),
                        _ => v.to_string(),
                    }
                };
                out.push((format!("{prefix}[{index}].{k}"), shown, source_of(figment, prefix)));
            }
        }
        return;
    }
    let leaf = prefix.rsplit('.').next().unwrap_or(prefix);
    let shown = match value {
        _ if secret.contains(&leaf) => "<redacted>".to_owned(),
        // A URL's password (`store.url = "postgres://bonin:…@db/bonin"`) is a secret too.
        serde_json::Value::String(text) => serde_json::Value::String(redact_url(text)).to_string(),
        _ => value.to_string(),
    };
    out.push((prefix.to_owned(), shown, source_of(figment, prefix)));
}

/// One documented setting: key, default, what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Dotted key.
    pub key: String,
    /// The default, as TOML, or `—`.
    pub default: &'static str,
    /// What it does.
    pub about: &'static str,
}

/// One of the host's own settings.
#[derive(Debug, Clone, Copy)]
struct HostSetting {
    key: &'static str,
    default: &'static str,
    about: &'static str,
}

/// Every setting, documented: the host's own, then each registered provider's section.
/// `docs/CONFIG.md` is generated from it.
pub fn reference() -> Vec<Setting> {
    let mut settings: Vec<Setting> =
        HOST_SETTINGS.iter().map(|s| Setting { key: s.key.to_owned(), default: s.default, about: s.about }).collect();
    for provider in crate::providers::registered() {
        let section = provider.section();
        settings.extend(provider.settings().iter().map(|s| Setting {
            key: format!("{section}.{}", s.key),
            default: s.default,
            about: s.about,
        }));
    }
    settings
}

const HOST_SETTINGS: &[HostSetting] = &[
    HostSetting {
        key: "profile",
        default: "\"sandbox\"",
        about: "`sandbox` (simulated providers on loopback, demo page; needs a build with the cargo feature `sandbox`, which the default build leaves out) or `production` (strict validation, no simulators).",
    },
    HostSetting {
        key: "server.bind",
        default: "\"127.0.0.1:8080\"",
        about: "Listen address. Without `api_keys` the sandbox profile accepts loopback addresses only.",
    },
    HostSetting {
        key: "server.admin_bind",
        default: "none",
        about: "A second listen address for `/metrics`, `/healthz` and `/readyz` (e.g. `\"10.0.0.5:9090\"`, reachable by the scraper and the orchestrator only). When set, those endpoints leave `server.bind`; when unset, they are served there with the API. Must differ from `server.bind`.",
    },
    HostSetting {
        key: "server.public_url",
        default: "`http://<bind>`",
        about: "Public base URL; return URLs handed to providers are built from it. Must be `https://` in production.",
    },
    HostSetting {
        key: "server.api_keys",
        default: "[]",
        about: "Bearer keys (≥ 16 characters) for server-to-server endpoints; comma-separated in the environment. Required in production; without any, the sandbox accepts unauthenticated calls, and only with a `Host` naming loopback, the bind address or the public URL's host (a page whose name rebinds to 127.0.0.1 is refused). Without keys the sandbox also talks to loopback provider endpoints (the simulators) only: a provider endpoint set to a real host needs keys.",
    },
    HostSetting {
        key: "server.allowed_return_origins",
        default: "[] (sandbox: the public URL's origin)",
        about: "Origins (`https://shop.example`) a verification may send the browser back to; anything else is refused. Required in production.",
    },
    HostSetting { key: "server.request_timeout_secs", default: "30", about: "Time limit of one API request." },
    HostSetting { key: "server.body_limit_bytes", default: "65536", about: "Largest accepted request body." },
    HostSetting {
        key: "server.header_read_timeout_secs",
        default: "20",
        about: "A connection that has not sent a whole request head within this time is closed: a client sending its headers byte by byte (slowloris), or an idle keep-alive connection.",
    },
    HostSetting {
        key: "server.max_connections",
        default: "1024",
        about: "Connections served at once by `bonin serve`; further ones are not refused but wait in the operating system's listen backlog until one closes. Keep it below the open-file limit (`ulimit -n`).",
    },
    HostSetting {
        key: "server.pii_retention_secs",
        default: "600",
        about: "How long a completed verification and its identity are kept; the identity is also dropped once read (see `server.identity_grace_secs`).",
    },
    HostSetting {
        key: "server.identity_grace_secs",
        default: "60",
        about: "After the first `GET` that returns the identity, it can be read again for this long (a reader whose answer was lost does not lose it); the first read after that drops it. 0: the first read drops it.",
    },
    HostSetting {
        key: "server.demo",
        default: "true in sandbox, false in production",
        about: "Serve the demo page at `/`. Production refuses `true`.",
    },
    HostSetting {
        key: "store.url",
        default: "\"sqlite://bonin.db\"",
        about: "Session store: `memory:` (one instance, lost on restart), `sqlite://PATH` (one instance, survives restarts), `postgres://…`, `redis://…` or `rediss://…` (Redis over TLS) (shared by several instances). TLS to PostgreSQL is `?sslmode=require` (or `verify-ca`, `verify-full`: the certificate and host name are always verified); production refuses a shared store on another host without TLS. A password in the URL is a secret: `bonin config` shows it redacted.",
    },
    HostSetting {
        key: "store.encryption_keys",
        default: "[] (sandbox: a fixed, public key)",
        about: "Keys sealing stored sessions, `ID:BASE64` of 32 bytes (`1:$(openssl rand -base64 32)`); the first seals, all open. Each record is sealed for its id and version, so a row put back to an older version is refused by an instance that has seen a newer one. Rotate by putting a new key first and dropping the old one after the retention time. Required in production for persistent stores (secret).",
    },
    HostSetting { key: "store.pool_size", default: "16", about: "PostgreSQL connections per instance." },
    HostSetting {
        key: "store.tls_ca_file",
        default: "—",
        about: "PEM CA certificates for the store over TLS (PostgreSQL with `?sslmode=require`, Redis with `rediss://`; the certificate and host name are always verified); the system's roots when absent.",
    },
    HostSetting {
        key: "store.share_tokens",
        default: "false",
        about: "Share provider access tokens between instances through the store (Redis, plain or TLS, or PostgreSQL): one instance logs in under a short lock, the others read the sealed token.",
    },
    HostSetting {
        key: "verification.default_provider",
        default: "the first verification provider",
        about: "Provider used when a request names none: a provider that verifies identities (see Providers below; signing-only providers cannot be chosen). The default is the first of them in the registry's order.",
    },
    HostSetting {
        key: "limits.starts_per_minute",
        default: "300",
        about: "Verifications one client may start per minute (bursts up to the same number); beyond it `429 rate_limited` with `Retry-After`. A client is its API key, or without keys its peer address (IPv6 by /64; `X-Forwarded-For` is not trusted). 0: no limit.",
    },
    HostSetting {
        key: "limits.otp_sends_per_minute",
        default: "60",
        about: "OTP sends and resends one client may ask for per minute; each one is an SMS someone pays for. 0: no limit.",
    },
    HostSetting {
        key: "limits.confirms_per_minute",
        default: "300",
        about: "OTP confirms one client may make per minute. 0: no limit.",
    },
    HostSetting {
        key: "limits.callbacks_per_minute",
        default: "30",
        about: "Returns to the open landing (`/v1/verifications/{id}/return`) and fetches of its launch data (`…/launch`) per existing verification per minute; each may cost a provider call or a private-key operation. Counted per verification, not per address (behind a proxy or a carrier's NAT everyone shares one), and only for verifications that exist, so nobody without an id can use up anyone's budget. 0: no limit.",
    },
    HostSetting {
        key: "limits.max_open_verifications",
        default: "10000",
        about: "Verifications started on this instance that are still open; a start beyond it is `429 rate_limited`. One counts until this instance answers it as verified, failed or expired, or its deadline passes (with several instances, each counts its own starts). 0: no limit.",
    },
    HostSetting {
        key: "limits.provider_concurrency",
        default: "64",
        about: "Calls in progress toward each provider from this instance; a call that finds them all taken waits (`limits.provider_wait_ms`).",
    },
    HostSetting {
        key: "limits.provider_wait_ms",
        default: "2000",
        about: "How long a provider call waits for a free slot before it is answered `503 provider_unavailable` (not sent, safe to retry).",
    },
    HostSetting {
        key: "sandbox.bind",
        default: "\"127.0.0.1:0\"",
        about: "Where the sandbox profile's simulators listen (loopback only; port 0: any free port). Their `/_sandbox/*` control API, `/_sandbox/play` included, is there.",
    },
    HostSetting {
        key: "log.format",
        default: "\"text\"",
        about: "`text` or `json` (one object per line). Logs carry verification ids and providers, never personal data.",
    },
    HostSetting { key: "log.level", default: "\"info\"", about: "`error`, `warn`, `info`, `debug` or `trace`." },
    HostSetting {
        key: "events.endpoints",
        default: "[]",
        about: "Where signed events go (`docs/EVENTS.md`): a list of `{ url = \"https://…\", secret = \"whsec_…\" }` tables (`[[events.endpoints]]` in the file; in the environment the same list as JSON, `[{\"url\": …, \"secret\": …}]`). Each endpoint gets every event, signed with its own secret (secret). `https://` in production. With none, no events are written. The events wait in the store (`memory:` loses them on restart).",
    },
    HostSetting {
        key: "events.give_up_after_secs",
        default: "259200",
        about: "An event some endpoint has not taken this long after it happened is dropped, counted in `bonin_events_given_up_total` and logged (ids only).",
    },
    HostSetting {
        key: "events.timeout_secs",
        default: "10",
        about: "Time allowed for one delivery to one endpoint; only a 2xx answer counts, redirects are not followed.",
    },
    HostSetting {
        key: "events.retry_base_ms",
        default: "5000",
        about: "The first retry waits between half and all of this; each further one twice as long (random jitter), up to `events.retry_max_secs`.",
    },
    HostSetting {
        key: "events.retry_max_secs",
        default: "3600",
        about: "The longest wait between two delivery attempts of one event.",
    },
    HostSetting {
        key: "events.lease_secs",
        default: "30",
        about: "One instance of a cluster delivers at a time, under a lease in the store renewed every second; when its holder dies, another instance takes over after this long.",
    },
];

/// `docs/CONFIG.md`.
pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Configuration\n\n\
         Layers, lowest first: built-in defaults, `bonin.toml` (or the file named by `BONIN_CONFIG` or \
         `--config`), then environment variables `BONIN_<SECTION>__<KEY>` (`__` between levels, e.g. \
         `BONIN_SERVER__API_KEYS`, `BONIN_PROVIDERS__<ID>__<KEY>`). Environment values stay strings; numbers and booleans \
         are read from them where a setting is numeric or boolean; lists may be comma-separated. \
         `bonin config` prints the effective values, secrets redacted, with where each came from.\n\n\
         | key | environment | default | meaning |\n|---|---|---|---|\n",
    );
    for s in reference() {
        let env = format!("BONIN_{}", s.key.replace('.', "__").to_uppercase());
        out.push_str(&format!(
            "| `{}` | `{env}` | {} | {} |\n",
            s.key,
            s.default.replace('|', "\\|"),
            s.about.replace('|', "\\|")
        ));
    }
    out.push_str(
        "\n## Providers\n\nEach `[providers.<id>]` section configures one provider of this build; in the \
         sandbox profile a provider without a section runs against its simulator.\n\n\
         | id | methods | what it is |\n|---|---|---|\n",
    );
    for provider in crate::providers::registered() {
        let capabilities = provider.capabilities();
        let mut methods = capabilities.methods();
        if capabilities.signing {
            methods.push("signing (`/v1/signing`)");
        }
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            provider.id(),
            methods.join(", "),
            provider.about().replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_endpoint_shows_its_origin_only() {
        assert_eq!(redact_endpoint("https://hooks.example"), "https://hooks.example");
        assert_eq!(redact_endpoint("https://hooks.example/"), "https://hooks.example");
        assert_eq!(
            redact_endpoint("https://Hooks.Example/services/T0/B0/XyZtoken"),
            "https://hooks.example/<redacted>"
        );
        assert_eq!(redact_endpoint("https://hooks.example?code=abc"), "https://hooks.example/<redacted>");
        // A backslash ends the host, as URL parsers read it: what follows is hidden too.
        assert_eq!(redact_endpoint("https://hooks.example\\T0KEN"), "https://hooks.example/<redacted>");
        assert_eq!(redact_endpoint("not a url"), "<unreadable>");
    }

    fn unvalidated(file: Option<&str>, env: &[(&str, &str)]) -> LoadedConfig {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bonin-profile-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bonin.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let vars = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        let figment = figment(Some(path), StringEnv::from_vars(vars));
        let config = figment.extract_lossy().unwrap_or_else(|e| panic!("{e}"));
        LoadedConfig { config, figment }
    }

    #[test]
    fn a_build_without_simulators_refuses_the_sandbox_profile_and_says_what_to_do() {
        for (loaded, source) in [
            (unvalidated(None, &[]), "built-in default"),
            (unvalidated(None, &[("BONIN_PROFILE", "sandbox")]), "environment variable BONIN_PROFILE"),
            (unvalidated(Some("profile = \"sandbox\"\n"), &[]), "bonin.toml"),
        ] {
            let refused = loaded.require_simulators(false).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.starts_with("`profile` (from "), "{refused}");
            assert!(refused.contains(source), "{refused}");
            for needed in ["cargo feature `sandbox`", "--features sandbox", "profile = \"production\""] {
                assert!(refused.contains(needed), "{refused} lacks {needed}");
            }
            assert!(loaded.require_simulators(true).is_ok());
        }
        let production = unvalidated(None, &[("BONIN_PROFILE", "production")]);
        assert!(production.require_simulators(false).is_ok());
    }

    /// The build this test runs in: without the feature, loading the defaults is refused.
    #[test]
    fn loading_the_sandbox_profile_depends_on_the_simulators_being_built() {
        let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars([])));
        if cfg!(feature = "sandbox") {
            assert!(loaded.is_ok(), "{:?}", loaded.err().map(|e| e.to_string()));
        } else {
            let refused = loaded.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(refused.contains(NO_SIMULATORS), "{refused}");
        }
    }
}
