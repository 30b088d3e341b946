//! Assembles the service from configuration: store, providers (pointed at the in-process
//! simulators in the sandbox profile unless their endpoints are set explicitly), router.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use bonin_adapters_http::provider::{Built, Parts};
use bonin_domain::{Clock, Error, OsRng, ProviderId, SessionStore, SystemClock};

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
    /// The operations listener (`server.admin_bind`): `/metrics`, `/healthz` and `/readyz`, which
    /// are then not on [`App::router`].
    pub admin: Option<AdminListener>,
    /// How `serve` treats connections.
    pub connections: ConnectionLimits,
    /// The public base URL.
    pub public_url: String,
    /// The providers built from the configuration, in registry order.
    pub providers: Vec<BuiltProvider>,
    /// The in-process simulators (sandbox profile).
    #[cfg(feature = "sandbox")]
    pub sandbox: Option<Sandbox>,
    /// The event deliverer, when `events.endpoints` are configured ([`App::serve`] runs it).
    pub deliverer: Option<Arc<crate::events::Deliverer>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("bind", &self.bind).field("public_url", &self.public_url).finish_non_exhaustive()
    }
}

/// The operations listener of `server.admin_bind`.
#[derive(Debug, Clone)]
pub struct AdminListener {
    /// Where it listens.
    pub bind: SocketAddr,
    /// Its router ([`api::ops_router`]).
    pub router: Router,
}

/// A provider built from the configuration.
#[derive(Debug, Clone)]
pub struct BuiltProvider {
    /// Its id.
    pub id: ProviderId,
    /// Its ports and client.
    pub built: Built,
}

impl App {
    /// The built provider `id`, if it is configured (or simulated).
    pub fn provider(&self, id: ProviderId) -> Option<&Built> {
        self.providers.iter().find(|p| p.id == id).map(|p| &p.built)
    }

    /// The concrete client of provider `id` (`Arc<NiceClient>`, …).
    pub fn client<C: Send + Sync + 'static>(&self, id: ProviderId) -> Option<Arc<C>> {
        self.provider(id).and_then(Built::client::<C>)
    }
}

/// The simulators of the sandbox profile.
#[cfg(feature = "sandbox")]
#[derive(Debug)]
pub struct Sandbox {
    /// Their server.
    pub server: bonin_sandbox::SandboxServer,
    /// The started simulators, each the counterpart of one or more registered providers.
    pub simulators: Vec<(Vec<ProviderId>, Arc<dyn bonin_sandbox::counterpart::Simulated>)>,
}

#[cfg(feature = "sandbox")]
impl Sandbox {
    /// The window simulators, for [`bonin_sandbox::play::window`] (plays any launch as a persona).
    pub fn players(&self) -> bonin_sandbox::play::Simulators {
        players_of(&self.simulators)
    }

    /// The simulator of type `S` (`NiceSimulator`, …), if one runs.
    pub fn simulator<S: 'static>(&self) -> Option<&S> {
        self.simulators.iter().find_map(|(_, sim)| sim.as_any().downcast_ref::<S>())
    }

    /// Approves an app launch as `persona` on the simulator that issued it.
    pub fn approve(&self, launch: &bonin_domain::Launch, persona: &str) -> Option<Result<(), String>> {
        approve_on(&self.simulators, launch, persona)
    }

    /// The simulator standing in for `provider`.
    pub fn simulating(&self, provider: ProviderId) -> Option<&dyn bonin_sandbox::counterpart::Simulated> {
        self.simulators.iter().find(|(ids, _)| ids.contains(&provider)).map(|(_, sim)| sim.as_ref())
    }

    /// Lines for a person setting up a sandbox by hand (endpoints and credentials of each
    /// simulator); key files are written into `dir`.
    pub fn banner(&self, dir: &std::path::Path) -> Vec<String> {
        let base = self.server.base_url();
        self.simulators.iter().flat_map(|(_, sim)| sim.banner(&base, dir)).collect()
    }
}

/// The started simulators, each with the providers it stands in for.
#[cfg(feature = "sandbox")]
type Simulations = [(Vec<ProviderId>, Arc<dyn bonin_sandbox::counterpart::Simulated>)];

/// The window players of `simulators`.
#[cfg(feature = "sandbox")]
fn players_of(simulators: &Simulations) -> bonin_sandbox::play::Simulators {
    simulators.iter().fold(bonin_sandbox::play::Simulators::new(), |players, (_, sim)| sim.players(players))
}

/// Approves an app launch on whichever of `simulators` issued it.
#[cfg(feature = "sandbox")]
fn approve_on(simulators: &Simulations, launch: &bonin_domain::Launch, persona: &str) -> Option<Result<(), String>> {
    simulators.iter().find_map(|(_, sim)| sim.approve(launch, persona))
}

/// Starts the simulators of the registered providers on `bind` (port 0 for any free port).
#[cfg(feature = "sandbox")]
pub async fn start_sandbox(loaded: &LoadedConfig, bind: SocketAddr) -> Result<Sandbox, Error> {
    let mut sections = bonin_sandbox::counterpart::Sections::new();
    for provider in crate::providers::registered() {
        if let Some(section) = loaded.config.providers.section(provider.id()) {
            sections.insert(provider.id(), section.clone());
        }
    }
    let public_url = loaded.public_url();
    let mut router = Router::new();
    let mut simulators: Vec<(Vec<ProviderId>, Box<dyn bonin_sandbox::counterpart::Simulated>)> = Vec::new();
    for provider in crate::providers::registered() {
        if simulators.iter().any(|(ids, _)| ids.contains(&provider.id())) {
            continue;
        }
        let Some(counterpart) = bonin_sandbox::counterpart::of(provider.id()) else { continue };
        let simulated = counterpart.simulate(&sections, &public_url)?;
        router = router.merge(simulated.router());
        simulators.push((counterpart.providers().to_vec(), simulated));
    }
    let simulators: Vec<(Vec<ProviderId>, Arc<dyn bonin_sandbox::counterpart::Simulated>)> =
        simulators.into_iter().map(|(ids, sim)| (ids, Arc::from(sim))).collect();
    let players = players_of(&simulators);
    let approving = simulators.clone();
    let approvers: bonin_sandbox::counterpart::Approvers =
        Arc::new(move |launch, persona| approve_on(&approving, launch, persona));
    router = router.merge(bonin_sandbox::counterpart::play_router(players, approvers));
    let server = bonin_sandbox::SandboxServer::start(router, bind)
        .await
        .map_err(|e| Error::misconfigured(format!("the sandbox could not listen on {bind}: {e}")))?;
    Ok(Sandbox { server, simulators })
}

/// The final section of `provider`: as configured, and in the sandbox profile pointed at its
/// simulator (`None`: neither configured nor simulated).
fn final_section(
    loaded: &LoadedConfig,
    provider: &crate::providers::Registered,
    #[cfg(feature = "sandbox")] sandbox: Option<&Sandbox>,
) -> Option<serde_json::Value> {
    let configured = loaded.config.providers.section(provider.id());
    #[cfg(feature = "sandbox")]
    if let Some(sandbox) = sandbox
        && let (Some(counterpart), Some(simulated)) =
            (bonin_sandbox::counterpart::of(provider.id()), sandbox.simulating(provider.id()))
    {
        use bonin_sandbox::counterpart::merge_patch;
        let prefix = provider.section();
        let explicit = |key: &str| loaded.is_explicit(&format!("{prefix}.{key}"));
        let patch = simulated.patch(provider.id(), configured, &sandbox.server.base_url(), &explicit)?;
        let mut section = configured.cloned().unwrap_or_else(|| serde_json::json!({}));
        if let Some(prepared) = counterpart.prepare(provider.id(), &section, &loaded.public_url(), &explicit) {
            merge_patch(&mut section, &prepared);
        }
        merge_patch(&mut section, &patch);
        return Some(section);
    }
    configured.cloned()
}

/// The store every instance shares provider tokens through (`store.share_tokens`).
#[cfg(any(feature = "redis", feature = "postgres"))]
async fn shared_tokens(
    config: &crate::config::AppConfig,
    encryption_keys: &[bonin_domain::SecretString],
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn bonin_domain::SharedTokens>, Error> {
    let cipher = Arc::new(bonin_adapters_store::RecordCipher::from_config(encryption_keys)?);
    Ok(Arc::new(
        bonin_adapters_store::SharedTokenStore::open(
            &config.store.url,
            config.store.tls_ca_file.as_deref(),
            cipher,
            clock,
        )
        .await?,
    ))
}

#[cfg(not(any(feature = "redis", feature = "postgres")))]
async fn shared_tokens(
    _config: &crate::config::AppConfig,
    _encryption_keys: &[bonin_domain::SecretString],
    _clock: Arc<dyn Clock>,
) -> Result<Arc<dyn bonin_domain::SharedTokens>, Error> {
    Err(Error::misconfigured("store.share_tokens needs a build with the redis or postgres feature"))
}

fn http_client(provider: ProviderId) -> Result<bonin_adapters_http::HttpClient, Error> {
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
    let shared_tokens = if config.store.share_tokens {
        Some(shared_tokens(config, &encryption_keys, clock.clone()).await?)
    } else {
        None
    };
    let options = bonin_adapters_store::StoreOptions::default()
        .with_encryption_keys(encryption_keys)
        .with_pool_size(config.store.pool_size)
        .with_tls_ca_file(config.store.tls_ca_file.clone());
    let (store, outbox): (Arc<dyn SessionStore>, _) =
        bonin_adapters_store::open_with_outbox(&config.store.url, &options, clock.clone()).await?;
    let events_on = !config.events.endpoints.is_empty();
    let outbox = match outbox {
        Some(outbox) if events_on => Some(outbox),
        None if events_on => {
            return Err(Error::misconfigured("events.endpoints: this store keeps no event outbox"));
        }
        _ => None,
    };
    let settings = ServiceSettings::new(public_url.clone(), config.verification.default_provider)
        .with_allowed_return_origins(allowed)
        .with_pii_retention(Duration::from_secs(config.server.pii_retention_secs))
        .with_identity_grace(Duration::from_secs(config.server.identity_grace_secs));
    let mut service = VerificationService::new(store, clock.clone(), Arc::new(OsRng), settings, metrics.clone())
        .with_events(events_on);
    let signing_events = outbox.clone().map(|outbox| crate::events::SigningEventSink::new(outbox, clock.clone()));
    let gate = |provider| {
        ProviderGate::new(
            provider,
            config.limits.provider_concurrency,
            Duration::from_millis(config.limits.provider_wait_ms),
        )
    };

    #[cfg(feature = "sandbox")]
    let sandbox = if config.profile == ProfileName::Sandbox {
        Some(start_sandbox(loaded, config.sandbox.bind).await?)
    } else {
        None
    };

    let mut providers = Vec::new();
    let mut signing = None;
    for provider in crate::providers::registered() {
        let Some(section) = final_section(
            loaded,
            provider,
            #[cfg(feature = "sandbox")]
            sandbox.as_ref(),
        ) else {
            continue;
        };
        let id = provider.id();
        let parts = Parts::new(http_client(id)?, clock.clone(), Arc::new(OsRng), public_url.clone())
            .with_shared_tokens(shared_tokens.clone());
        let built = provider.build(section, parts)?;
        // One gate per provider, shared by all of its ports.
        let gate = gate(id);
        if let Some(window) = &built.window {
            service = service.with_window(Arc::new(Bounded::new(window.clone(), gate.clone())));
        }
        if let Some(otp) = &built.otp {
            service = service.with_otp(Arc::new(Bounded::new(otp.clone(), gate.clone())));
        }
        if let Some(app) = &built.app {
            service = service.with_app(Arc::new(Bounded::new(app.clone(), gate.clone())));
        }
        if let Some(tokens) = built.tokens.clone() {
            service = service.with_token_stats(id, Arc::new(move || tokens.token_stats()));
        }
        if let Some(ports) = &built.signing {
            signing = Some(crate::signing::SigningApi {
                workflows: Arc::new(Bounded::new(ports.workflows.clone(), gate.clone())),
                events: ports.events.clone(),
                first_link_only: ports.first_link_only,
                outbox: signing_events.clone(),
            });
        }
        providers.push(BuiltProvider { id, built });
    }

    let service = Arc::new(service);
    let deliverer = match outbox {
        Some(outbox) => crate::events::Deliverer::new(
            &config.events,
            outbox,
            service.clone(),
            Arc::new(OsRng),
            metrics.clone(),
            config.profile == ProfileName::Sandbox,
        )?
        .map(Arc::new),
        None => None,
    };
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
            ops: config.server.admin_bind.is_none(),
            signing,
        },
        guards,
    );
    let admin = config.server.admin_bind.map(|bind| AdminListener { bind, router: api::ops_router(service.clone()) });
    Ok(App {
        service,
        metrics,
        router,
        bind: config.server.bind,
        admin,
        connections: ConnectionLimits {
            header_read_timeout: Duration::from_secs(config.server.header_read_timeout_secs),
            max_connections: config.server.max_connections,
        },
        public_url,
        providers,
        #[cfg(feature = "sandbox")]
        sandbox,
        deliverer,
    })
}

impl App {
    /// Serves the router on `listener` until `shutdown` resolves, with the configured
    /// [`ConnectionLimits`] (see [`crate::limits::serve`]); the operations router too, on `admin`
    /// (a listener bound to [`AdminListener::bind`]) when [`App::admin`] is set. Without a listener
    /// for a configured `admin`, it binds one itself.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with_admin(listener, None, shutdown).await
    }

    /// [`App::serve`], with the operations listener bound by the caller (who can then learn its
    /// address, e.g. after binding port 0).
    pub async fn serve_with_admin(
        self,
        listener: tokio::net::TcpListener,
        admin: Option<tokio::net::TcpListener>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use futures::FutureExt as _;
        let shutdown = shutdown.boxed().shared();
        let admin = match (self.admin.clone(), admin) {
            (None, _) => None,
            (Some(ops), Some(listener)) => Some((ops.router, listener)),
            (Some(ops), None) => Some((ops.router, tokio::net::TcpListener::bind(ops.bind).await?)),
        };
        let admin = admin.map(|(router, listener)| {
            tokio::spawn(crate::limits::serve(listener, router, self.connections, shutdown.clone()))
        });
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
        // App approvals are polled in the background too, so one nobody reads still ends. Its own
        // task: a slow provider does not hold up the flushes above.
        let service = self.service.clone();
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = stopping.clone();
        let poller = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            // A round that takes longer than a tick (many approvals pending) is not made up for.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                service.poll_watched().await;
            }
        });
        // Events go out from the outbox; one instance of a cluster delivers at a time (a lease).
        let deliverer = self.deliverer.clone().map(|deliverer| tokio::spawn(deliverer.run(stopping.clone())));
        let served = crate::limits::serve(listener, self.router, self.connections, shutdown).await;
        let admin_served = match admin {
            Some(task) => task.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
            None => Ok(()),
        };
        flusher.abort();
        // A poll in progress may hold a provider's result: let the round finish (for a while).
        stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        if tokio::time::timeout(Duration::from_secs(30), &mut Box::pin(poller)).await.is_err() {
            tracing::warn!("background polls were still running at shutdown and were stopped");
        }
        // A delivery in flight is sent again by the next deliverer if cut off here (same event id).
        if let Some(mut deliverer) = deliverer
            && tokio::time::timeout(Duration::from_secs(10), &mut deliverer).await.is_err()
        {
            deliverer.abort();
            tracing::warn!("event deliveries were still running at shutdown and were stopped");
        }
        served.and(admin_served)
    }
}
