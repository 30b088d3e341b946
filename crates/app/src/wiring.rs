//! Assembles the service from configuration: store, providers (pointed at the in-process
//! simulators in the sandbox profile unless their endpoints are set explicitly), router.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use bonin_domain::{Clock, Error, OsRng, SessionStore, SystemClock};

use crate::{
    api::{self, ApiSettings, Guards},
    config::{LoadedConfig, ProfileName, origin_of},
    limits::{ApiLimits, Bounded, ConnectionLimits, ProviderGate},
    metrics::Metrics,
    service::{ServiceSettings, VerificationService},
};

/// Why a service could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// The configuration is invalid (the message names the key and its source).
    Config(crate::config::ConfigError),
    /// A provider, the store or the sandbox could not be set up.
    Setup(Error),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(e) => write!(f, "configuration: {e}"),
            Self::Setup(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

/// A wired bonin: the service, its router, and the simulators it started.
///
/// ```no_run
/// # async fn run() -> Result<(), bonin_app::wiring::BuildError> {
/// use figment::{Figment, providers::Serialized};
/// // From the host's own figment (here: the sandbox with an in-memory store)…
/// let app = bonin_app::wiring::App::from_figment(Figment::from(Serialized::defaults(
///     serde_json::json!({"store": {"url": "memory:"}, "server": {"public_url": "http://127.0.0.1:3000/identity"}}),
/// ))).await?;
/// // …nested under a prefix of the host's router (public_url carries the prefix).
/// let host: axum::Router = axum::Router::new().nest("/identity", app.router.clone());
/// # let _ = host; Ok(()) }
/// ```
pub struct App {
    /// The service: `start`, `complete`, `get`, `otp_send`, `otp_confirm`, `otp_resend`.
    pub service: Arc<VerificationService>,
    /// The metrics registry (share one between several services; append `render` output to the
    /// host's own exposition).
    pub metrics: Arc<Metrics>,
    /// The HTTP router (nest it, or serve it with [`App::serve`]).
    pub router: Router,
    /// Where `serve` listens.
    pub bind: SocketAddr,
    /// How `serve` treats connections.
    pub connections: ConnectionLimits,
    /// The public base URL.
    pub public_url: String,
    /// The NICE client, when NICE is enabled.
    #[cfg(feature = "nice")]
    pub nice: Option<Arc<bonin_adapters_nice::NiceClient>>,
    /// The mobileOK client, when mobileOK is enabled.
    #[cfg(feature = "mobileok")]
    pub mobileok: Option<Arc<bonin_adapters_mobileok::MobileokClient>>,
    /// The PortOne V1 client, when enabled.
    #[cfg(feature = "portone")]
    pub portone_v1: Option<Arc<bonin_adapters_portone::PortoneV1Client>>,
    /// The PortOne V2 client, when enabled.
    #[cfg(feature = "portone")]
    pub portone_v2: Option<Arc<bonin_adapters_portone::PortoneV2Client>>,
    /// The eSignon client, when enabled.
    #[cfg(feature = "esignon")]
    pub esignon: Option<Arc<bonin_adapters_esignon::EsignonClient>>,
    /// The in-process simulators (sandbox profile).
    #[cfg(feature = "sandbox")]
    pub sandbox: Option<Sandbox>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("bind", &self.bind).field("public_url", &self.public_url).finish_non_exhaustive()
    }
}

/// The simulators of the sandbox profile.
#[cfg(feature = "sandbox")]
#[derive(Debug)]
pub struct Sandbox {
    /// Their server.
    pub server: bonin_sandbox::SandboxServer,
    /// The NICE simulator.
    #[cfg(feature = "nice")]
    pub nice: bonin_sandbox::nice::NiceSimulator,
    /// The mobileOK simulator.
    #[cfg(feature = "mobileok")]
    pub mobileok: bonin_sandbox::mobileok::MobileokSimulator,
    /// The PortOne simulator (V1 and V2).
    #[cfg(feature = "portone")]
    pub portone: bonin_sandbox::portone::PortoneSimulator,
    /// The eSignon simulator.
    #[cfg(feature = "esignon")]
    pub esignon: bonin_sandbox::esignon::EsignonSimulator,
}

impl Sandbox {
    /// The window simulators, for [`bonin_sandbox::play::window`] (plays any launch as a persona).
    pub fn players(&self) -> bonin_sandbox::play::Simulators {
        #[allow(unused_mut)]
        let mut simulators = bonin_sandbox::play::Simulators::new();
        #[cfg(feature = "nice")]
        {
            simulators = simulators.with_nice(self.nice.clone());
        }
        #[cfg(feature = "mobileok")]
        {
            simulators = simulators.with_mobileok(self.mobileok.clone());
        }
        #[cfg(feature = "portone")]
        {
            simulators = simulators.with_portone(self.portone.clone());
        }
        simulators
    }
}

/// The password of the key file the mobileOK simulator hands to bonin in the sandbox profile.
#[cfg(all(feature = "sandbox", feature = "mobileok"))]
pub const SANDBOX_KEY_PASSWORD: &str = "bonin-sandbox";

/// Starts the simulators on `bind` (port 0 for any free port).
#[cfg(feature = "sandbox")]
pub async fn start_sandbox(loaded: &LoadedConfig, bind: SocketAddr) -> Result<Sandbox, Error> {
    let simulators = Router::new();
    #[cfg(feature = "nice")]
    let (simulators, nice) = {
        let mut config = bonin_sandbox::nice::NiceSimConfig::default();
        // Credentials configured for NICE are accepted by the simulator, so a sandbox run works with them.
        if let Some(nice) = &loaded.config.providers.nice {
            use bonin_domain::ExposeSecret;
            config.clients.push((nice.client_id.clone(), nice.client_secret.expose_secret().to_owned()));
            config.product_id.clone_from(&nice.product_id);
        }
        let sim = bonin_sandbox::nice::NiceSimulator::new(config);
        (simulators.merge(sim.router()), sim)
    };
    #[cfg(feature = "mobileok")]
    let (simulators, mobileok) = {
        // A configured siteUrl is the one registered with the simulator; without one it takes any.
        let site_urls = loaded
            .config
            .providers
            .mobileok
            .as_ref()
            .map(|m| m.site_url.clone())
            .filter(|s| !s.trim().is_empty())
            .into_iter()
            .collect();
        let config = bonin_sandbox::mobileok::MobileokSimConfig {
            // The 표준창 returns only to this bonin.
            return_url_prefixes: vec![format!("{}/v1/verifications/", loaded.public_url())],
            site_urls,
            ..bonin_sandbox::mobileok::MobileokSimConfig::default()
        };
        let sim = bonin_sandbox::mobileok::MobileokSimulator::new(config)
            .ok_or_else(|| Error::misconfigured("the mobileOK simulator could not generate its keys"))?;
        (simulators.merge(sim.router()), sim)
    };
    #[cfg(feature = "portone")]
    let (simulators, portone) = {
        let mut config = bonin_sandbox::portone::PortoneSimConfig::default();
        // Credentials configured for PortOne are accepted by the simulator, so a sandbox run works with them.
        {
            use bonin_domain::ExposeSecret;
            // A channel configured as KCP's is KCP's in the simulator too.
            let kcp = |pg: Option<&String>| pg.is_some_and(|pg| pg.trim().eq_ignore_ascii_case("kcp_v2"));
            if let Some(v1) = &loaded.config.providers.portone_v1 {
                config.v1_keys.push((v1.imp_key.clone(), v1.imp_secret.expose_secret().to_owned()));
                config.merchant_codes.push(v1.merchant_code.clone());
                config.v1_channel_keys.extend(v1.channel_key.clone());
                if kcp(v1.pg_provider.as_ref()) {
                    config.kcp_channel_keys.extend(v1.channel_key.clone());
                }
            }
            if let Some(v2) = &loaded.config.providers.portone_v2 {
                config.v2_secrets.push((v2.api_secret.expose_secret().to_owned(), vec![v2.store_id.clone()]));
                config.v2_channel_keys.push(v2.channel_key.clone());
                if kcp(v2.pg_provider.as_ref()) {
                    config.kcp_channel_keys.push(v2.channel_key.clone());
                }
            }
        }
        let sim = bonin_sandbox::portone::PortoneSimulator::new(config);
        (simulators.merge(sim.router()), sim)
    };
    #[cfg(feature = "esignon")]
    let (simulators, esignon) = {
        let mut config = bonin_sandbox::esignon::EsignonSimConfig::default();
        // A configured member is accepted by the simulator, so a sandbox run works with it.
        if let Some(esignon) = &loaded.config.providers.esignon {
            use bonin_domain::ExposeSecret;
            config.company_id.clone_from(&esignon.company_id);
            config.members.push((esignon.email.clone(), esignon.password.expose_secret().to_owned()));
        }
        let sim = bonin_sandbox::esignon::EsignonSimulator::new(config);
        (simulators.merge(sim.router()), sim)
    };
    #[cfg(not(any(feature = "nice", feature = "portone", feature = "esignon")))]
    let _ = loaded;
    let server = bonin_sandbox::SandboxServer::start(simulators, bind)
        .await
        .map_err(|e| Error::misconfigured(format!("the sandbox could not listen on {bind}: {e}")))?;
    Ok(Sandbox {
        server,
        #[cfg(feature = "nice")]
        nice,
        #[cfg(feature = "mobileok")]
        mobileok,
        #[cfg(feature = "portone")]
        portone,
        #[cfg(feature = "esignon")]
        esignon,
    })
}

fn http_client(provider: bonin_domain::ProviderId) -> Result<bonin_adapters_http::HttpClient, Error> {
    let transport = bonin_adapters_http::ReqwestTransport::new(&bonin_adapters_http::HttpConfig::default())?;
    Ok(bonin_adapters_http::HttpClient::new(provider, Arc::new(transport), bonin_adapters_http::RetryPolicy::default()))
}

impl App {
    /// Loads configuration from `figment` (defaults are merged in below it) and builds.
    pub async fn from_figment(figment: figment::Figment) -> Result<Self, BuildError> {
        let figment = figment::Figment::new()
            .merge(figment::providers::Serialized::defaults(crate::config::default_values()))
            .merge(figment);
        let loaded = LoadedConfig::load(figment).map_err(BuildError::Config)?;
        build(&loaded).await.map_err(BuildError::Setup)
    }

    /// Builds from a configuration assembled in code (see [`AppConfig::sandbox_defaults`](crate::config::AppConfig::sandbox_defaults)).
    pub async fn from_config(config: crate::config::AppConfig) -> Result<Self, BuildError> {
        let loaded = LoadedConfig::from_config(config).map_err(BuildError::Config)?;
        build(&loaded).await.map_err(BuildError::Setup)
    }
}

/// Builds everything `loaded` describes. In the sandbox profile this starts the simulators.
pub async fn build(loaded: &LoadedConfig) -> Result<App, Error> {
    build_with_metrics(loaded, Arc::new(Metrics::default())).await
}

/// [`build`], recording into `metrics` (shared with other services of the host).
pub async fn build_with_metrics(loaded: &LoadedConfig, metrics: Arc<Metrics>) -> Result<App, Error> {
    let config = &loaded.config;
    let public_url = loaded.public_url();
    let mut allowed = config.server.allowed_return_origins.clone();
    if config.profile == ProfileName::Sandbox && allowed.is_empty() {
        allowed.extend(origin_of(&public_url));
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let mut encryption_keys = config.store.encryption_keys.clone();
    if encryption_keys.is_empty() && config.profile == ProfileName::Sandbox {
        encryption_keys.push(bonin_domain::SecretString::from(crate::config::SANDBOX_STORE_KEY));
    }
    let shared_tokens: Option<Arc<dyn bonin_domain::SharedTokens>> = if config.store.share_tokens {
        let cipher = Arc::new(bonin_adapters_store::RecordCipher::from_config(&encryption_keys)?);
        Some(Arc::new(
            bonin_adapters_store::SharedTokenStore::open(
                &config.store.url,
                config.store.tls_ca_file.as_deref(),
                cipher,
                clock.clone(),
            )
            .await?,
        ))
    } else {
        None
    };
    let options = bonin_adapters_store::StoreOptions {
        encryption_keys,
        pool_size: config.store.pool_size,
        tls_ca_file: config.store.tls_ca_file.clone(),
        ..bonin_adapters_store::StoreOptions::default()
    };
    let store: Arc<dyn SessionStore> = bonin_adapters_store::open(&config.store.url, &options, clock.clone()).await?;
    let settings = ServiceSettings {
        public_url: public_url.clone(),
        allowed_return_origins: allowed,
        default_provider: config.verification.default_provider,
        pii_retention: Duration::from_secs(config.server.pii_retention_secs),
        identity_grace: Duration::from_secs(config.server.identity_grace_secs),
    };
    let mut service = VerificationService::new(store, clock.clone(), Arc::new(OsRng), settings, metrics.clone());
    // One gate per provider, shared by all of its ports.
    let gate = |provider| {
        ProviderGate::new(
            provider,
            config.limits.provider_concurrency,
            Duration::from_millis(config.limits.provider_wait_ms),
        )
    };

    #[cfg(feature = "sandbox")]
    let sandbox = if config.profile == ProfileName::Sandbox {
        Some(start_sandbox(loaded, "127.0.0.1:0".parse().map_err(|_| Error::misconfigured("sandbox address"))?).await?)
    } else {
        None
    };

    #[cfg(feature = "nice")]
    let nice = {
        let mut nice_config = config.providers.nice.clone();
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = &sandbox {
            let base = sandbox.server.base_url();
            let window = format!("{base}{}", bonin_sandbox::nice::WINDOW_PATH);
            nice_config = Some(match nice_config {
                None => {
                    let (id, secret) = sandbox.nice.client();
                    bonin_adapters_nice::NiceConfig::new(id, bonin_domain::SecretString::from(secret))
                        .with_endpoints(base, window)
                }
                Some(mut explicit) => {
                    if !loaded.is_explicit("providers.nice.api_base") {
                        explicit.api_base = base;
                    }
                    if !loaded.is_explicit("providers.nice.window_url") {
                        explicit.window_url = window;
                    }
                    explicit
                }
            });
        }
        match nice_config {
            Some(nice_config) => {
                let http = http_client(bonin_domain::ProviderId::Nice)?;
                let client = Arc::new(match &shared_tokens {
                    Some(shared) => bonin_adapters_nice::NiceClient::with_shared_tokens(
                        nice_config,
                        http,
                        clock.clone(),
                        shared.clone(),
                    )?,
                    None => bonin_adapters_nice::NiceClient::new(nice_config, http, clock.clone())?,
                });
                let stats = client.clone();
                service = service
                    .with_window(Arc::new(Bounded::new(client.clone(), gate(bonin_domain::ProviderId::Nice))))
                    .with_token_stats(bonin_domain::ProviderId::Nice, Arc::new(move || stats.token_stats()));
                Some(client)
            }
            None => None,
        }
    };

    #[cfg(feature = "mobileok")]
    let mobileok = {
        let mut mobileok_config = config.providers.mobileok.clone();
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = &sandbox {
            let explicit = loaded.is_explicit("providers.mobileok.api_base")
                || loaded.is_explicit("providers.mobileok.window_base");
            if !explicit {
                // The simulator has its own keys, so it hands bonin a key file that fits them.
                use base64::Engine;
                let key_file = sandbox.mobileok.key_file(SANDBOX_KEY_PASSWORD, true);
                let mut sim_config = mobileok_config.unwrap_or_else(|| {
                    bonin_adapters_mobileok::MobileokConfig::new(
                        std::path::PathBuf::new(),
                        bonin_domain::SecretString::from(SANDBOX_KEY_PASSWORD),
                        loaded.public_url(),
                    )
                });
                if sim_config.site_url.trim().is_empty() {
                    sim_config.site_url = loaded.public_url();
                }
                sim_config.key_file = None;
                sim_config.key_file_base64 =
                    Some(bonin_domain::SecretString::from(base64::engine::general_purpose::STANDARD.encode(key_file)));
                sim_config.key_password = bonin_domain::SecretString::from(SANDBOX_KEY_PASSWORD);
                sim_config.api_base = sandbox.server.base_url();
                sim_config.window_base = sandbox.server.base_url();
                mobileok_config = Some(sim_config);
            }
        }
        match mobileok_config {
            Some(mobileok_config) => {
                let client = Arc::new(bonin_adapters_mobileok::MobileokClient::new(
                    mobileok_config,
                    http_client(bonin_domain::ProviderId::Mobileok)?,
                    clock.clone(),
                    Arc::new(OsRng),
                )?);
                let bounded = Arc::new(Bounded::new(client.clone(), gate(bonin_domain::ProviderId::Mobileok)));
                service = service.with_window(bounded.clone()).with_otp(bounded);
                Some(client)
            }
            None => None,
        }
    };

    #[cfg(feature = "portone")]
    let (portone_v1, portone_v2) = {
        let mut v1_config = config.providers.portone_v1.clone();
        let mut v2_config = config.providers.portone_v2.clone();
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = &sandbox {
            use bonin_sandbox::portone as sim;
            let base = sandbox.server.base_url();
            let explicit = |key: &str| loaded.is_explicit(key);
            let mut v1 = v1_config.unwrap_or_else(|| {
                let mut v1 = bonin_adapters_portone::PortoneV1Config::new(
                    sim::SANDBOX_IMP_KEY,
                    bonin_domain::SecretString::from(sim::SANDBOX_IMP_SECRET),
                    sim::SANDBOX_MERCHANT_CODE,
                );
                v1.channel_key = Some(sim::SANDBOX_V1_CHANNEL_KEY.into());
                v1
            });
            if !explicit("providers.portone_v1.api_base") {
                v1.api_base.clone_from(&base);
            }
            if !explicit("providers.portone_v1.script_url") {
                v1.script_url = format!("{base}{}", sim::V1_SCRIPT_PATH);
            }
            v1_config = Some(v1);
            let mut v2 = v2_config.unwrap_or_else(|| {
                bonin_adapters_portone::PortoneV2Config::new(
                    bonin_domain::SecretString::from(sim::SANDBOX_V2_SECRET),
                    sim::SANDBOX_STORE_ID,
                    sim::SANDBOX_V2_CHANNEL_KEY,
                )
            });
            if !explicit("providers.portone_v2.api_base") {
                v2.api_base.clone_from(&base);
            }
            if !explicit("providers.portone_v2.script_url") {
                v2.script_url = format!("{base}{}", sim::V2_SCRIPT_PATH);
            }
            v2_config = Some(v2);
        }
        let v1 = match v1_config {
            Some(v1_config) => {
                let http = http_client(bonin_domain::ProviderId::PortoneV1)?;
                let client = Arc::new(match &shared_tokens {
                    Some(shared) => bonin_adapters_portone::PortoneV1Client::with_shared_tokens(
                        v1_config,
                        http,
                        clock.clone(),
                        shared.clone(),
                    )?,
                    None => bonin_adapters_portone::PortoneV1Client::new(v1_config, http, clock.clone())?,
                });
                let stats = client.clone();
                let bounded = Arc::new(Bounded::new(client.clone(), gate(bonin_domain::ProviderId::PortoneV1)));
                service = service
                    .with_window(bounded.clone())
                    .with_otp(bounded)
                    .with_token_stats(bonin_domain::ProviderId::PortoneV1, Arc::new(move || stats.token_stats()));
                Some(client)
            }
            None => None,
        };
        let v2 = match v2_config {
            Some(v2_config) => {
                let client = Arc::new(bonin_adapters_portone::PortoneV2Client::new(
                    v2_config,
                    http_client(bonin_domain::ProviderId::PortoneV2)?,
                    clock.clone(),
                )?);
                let bounded = Arc::new(Bounded::new(client.clone(), gate(bonin_domain::ProviderId::PortoneV2)));
                service = service.with_window(bounded.clone()).with_otp(bounded);
                Some(client)
            }
            None => None,
        };
        (v1, v2)
    };

    #[cfg(feature = "esignon")]
    let (esignon, signing) = {
        let mut esignon_config = config.providers.esignon.clone();
        #[cfg(feature = "sandbox")]
        if let Some(sandbox) = &sandbox
            && !loaded.is_explicit("providers.esignon.api_base")
        {
            use bonin_sandbox::esignon as sim;
            let mut esignon = esignon_config.unwrap_or_else(|| {
                bonin_adapters_esignon::EsignonConfig::new(
                    sim::SANDBOX_COMPANY_ID,
                    sim::SANDBOX_EMAIL,
                    bonin_domain::SecretString::from(sim::SANDBOX_PASSWORD),
                )
            });
            esignon.api_base = sandbox.server.base_url();
            esignon_config = Some(esignon);
        }
        match esignon_config {
            Some(esignon_config) => {
                let first_link_only = esignon_config.embed;
                let export = esignon_config.webhook_authorization.clone().map(|authorization| {
                    bonin_domain::ExportTarget { url: format!("{public_url}/v1/signing/events"), authorization }
                });
                let http = http_client(bonin_domain::ProviderId::Esignon)?;
                let client = Arc::new(match &shared_tokens {
                    Some(shared) => bonin_adapters_esignon::EsignonClient::with_shared_tokens(
                        esignon_config,
                        http,
                        clock.clone(),
                        shared.clone(),
                    )?,
                    None => bonin_adapters_esignon::EsignonClient::new(esignon_config, http, clock.clone())?,
                });
                let stats = client.clone();
                service =
                    service.with_token_stats(bonin_domain::ProviderId::Esignon, Arc::new(move || stats.token_stats()));
                let workflows = Arc::new(Bounded::new(client.clone(), gate(bonin_domain::ProviderId::Esignon)));
                let signing = crate::signing::SigningApi { workflows, export, first_link_only };
                (Some(client), Some(signing))
            }
            None => (None, None),
        }
    };
    #[cfg(not(feature = "esignon"))]
    let signing = None;

    let service = Arc::new(service);
    let limits = &config.limits;
    let guards = Guards {
        clock,
        limits: ApiLimits {
            starts_per_minute: limits.starts_per_minute,
            otp_sends_per_minute: limits.otp_sends_per_minute,
            confirms_per_minute: limits.confirms_per_minute,
            callbacks_per_minute: limits.callbacks_per_minute,
            max_open_verifications: limits.max_open_verifications,
        },
        hosts: vec![config.server.bind.ip().to_string()],
    };
    let router = api::router_with(
        service.clone(),
        ApiSettings {
            api_keys: Arc::new(config.server.api_keys.clone()),
            request_timeout: Duration::from_secs(config.server.request_timeout_secs),
            body_limit: config.server.body_limit_bytes,
            demo: loaded.demo_enabled(),
            signing,
        },
        guards,
    );
    Ok(App {
        service,
        metrics,
        router,
        bind: config.server.bind,
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_secs(config.server.header_read_timeout_secs),
            max_connections: config.server.max_connections,
        },
        public_url,
        #[cfg(feature = "nice")]
        nice,
        #[cfg(feature = "mobileok")]
        mobileok,
        #[cfg(feature = "portone")]
        portone_v1,
        #[cfg(feature = "portone")]
        portone_v2,
        #[cfg(feature = "esignon")]
        esignon,
        #[cfg(feature = "sandbox")]
        sandbox,
    })
}

impl App {
    /// Serves the router on `listener` until `shutdown` resolves, with the configured
    /// [`ConnectionLimits`] (see [`crate::limits::serve`]).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // A verified result the store refused is parked on this instance; write it as soon as the
        // store is back, even when no request for that verification arrives here.
        let service = self.service.clone();
        let flusher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tick.tick().await;
                service.flush_all_parked().await;
            }
        });
        let served = crate::limits::serve(listener, self.router, self.connections, shutdown).await;
        flusher.abort();
        served
    }
}
