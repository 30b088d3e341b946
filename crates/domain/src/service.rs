//! The verification service: providers, store, clock and rules together, pure over the ports.
//! `bonin serve`'s REST API and CLI call it, and so does a Rust backend that embeds adapters: every
//! guarantee below comes with it.
//!
//! ```text
//! let service = VerificationService::new(store, clock, rng, settings, observer)
//!     .with_window(nice_adapter)          // WindowVerifier
//!     .with_otp(mobileok_adapter);        // OtpVerifier
//! ```
//!
//! Call order, window: [`VerificationService::start`] → browser → [`VerificationService::complete`]
//! (from the return landing, or server-to-server) → [`VerificationService::get`].
//! OTP: `start` (method `otp`) → [`VerificationService::otp_send`] → [`VerificationService::otp_confirm`]
//! (→ [`VerificationService::otp_resend`]) → `get`.
//!
//! Every change is a compare-and-swap on the store, so a callback or a confirm is applied at most
//! once. A callback that fails its integrity check changes nothing (anyone can post garbage to a
//! landing URL; that must not end a real user's verification). A provider's authenticated refusal
//! ends the verification as `failed`.
//!
//! PII retention: a verified record, with its identity, is kept for `pii_retention` after
//! completion; the identity is removed the first time [`VerificationService::get`] returns it. After
//! the retention time the record is gone (`not_found`).

use std::{collections::HashMap, fmt, net::IpAddr, sync::Arc, time::Duration};

use tracing::Instrument;

use crate::{
    CallbackParams, CasOutcome, Clock, Display, Error, FlowRules, Launch, Method, OtpChannel, OtpCode, OtpOutcome,
    OtpRequest, OtpSubject, OtpVerifier, PopupLanding, ProviderId, Purpose, Rng, SessionStore, Status, Timestamp,
    TokenCacheStats, Verification, VerificationId, WindowRequest, WindowVerifier,
};

/// What the service reports as it works: counters and provider call times, never personal data.
/// `bonin serve` exports them as Prometheus text; an embedder plugs in its own metrics.
pub trait ServiceObserver: Send + Sync {
    /// A verification was started.
    fn started(&self, provider: ProviderId) {
        let _ = provider;
    }
    /// A verification was verified.
    fn completed(&self, provider: ProviderId) {
        let _ = provider;
    }
    /// A step failed with `code`.
    fn failed(&self, provider: ProviderId, code: &'static str) {
        let _ = (provider, code);
    }
    /// A provider call (`start`, `complete`, `send`, `confirm`) took `elapsed`.
    fn upstream(&self, provider: ProviderId, operation: &'static str, elapsed: Duration) {
        let _ = (provider, operation, elapsed);
    }
    /// The observer's text export (Prometheus), given the token caches' statistics; `None` when it
    /// has none.
    fn export(&self, tokens: &[(ProviderId, TokenCacheStats)]) -> Option<String> {
        let _ = tokens;
        None
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl ServiceObserver for NoObserver {}

/// The origin (`scheme://host[:port]`, lower case) of an absolute http(s) URL; `None` for anything
/// else, including URLs with user information.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    // A backslash ends the authority too: browsers and URL parsers read it as `/` in http(s) URLs.
    let authority = rest.split(['/', '\\', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Settings of the service: [`ServiceSettings::new`], then the `with_*` setters (new settings come
/// with a default, so this struct is `#[non_exhaustive]`).
///
/// ```
/// use std::time::Duration;
/// use bonin_domain::{ProviderId, ServiceSettings};
/// let settings = ServiceSettings::new("https://my.app/identity", ProviderId::Nice)
///     .with_allowed_return_origins(["https://my.app"])
///     .with_pii_retention(Duration::from_secs(600));
/// assert_eq!(settings.identity_grace, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceSettings {
    /// Base of the return URLs handed to providers (no trailing slash).
    pub public_url: String,
    /// Origins a verification may return the browser to.
    pub allowed_return_origins: Vec<String>,
    /// The provider when a request names none.
    pub default_provider: ProviderId,
    /// How long a completed record (and its identity) is kept.
    pub pii_retention: Duration,
    /// How long after the first read the identity can be read again (a reader whose answer was
    /// lost in transit reads it once more); zero makes the first read the only one.
    pub identity_grace: Duration,
}

impl ServiceSettings {
    /// Settings with `public_url` (the base of the return URLs handed to providers) and the default
    /// provider; no allowed return origins, a completed record kept 10 minutes, the identity
    /// readable again for 60 seconds after its first read (what `bonin serve` defaults to).
    pub fn new(public_url: impl Into<String>, default_provider: ProviderId) -> Self {
        Self {
            public_url: public_url.into(),
            allowed_return_origins: Vec::new(),
            default_provider,
            pii_retention: Duration::from_secs(600),
            identity_grace: Duration::from_secs(60),
        }
    }

    /// The origins (`https://shop.example`) a verification may send the browser back to.
    #[must_use]
    pub fn with_allowed_return_origins(mut self, origins: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.allowed_return_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// How long a completed record (and its identity) is kept.
    #[must_use]
    pub fn with_pii_retention(mut self, retention: Duration) -> Self {
        self.pii_retention = retention;
        self
    }

    /// How long after the first read the identity can be read again (zero: read once).
    #[must_use]
    pub fn with_identity_grace(mut self, grace: Duration) -> Self {
        self.identity_grace = grace;
        self
    }
}

/// What `start` needs: [`StartRequest::new`] with the method, then the `with_*` setters (new
/// options come with a default, so this struct is `#[non_exhaustive]`).
///
/// ```
/// use bonin_domain::{Display, Method, StartRequest};
/// let request = StartRequest::new(Method::Window)
///     .with_return_url("https://my.app/signup/done")
///     .with_display(Display::Page)
///     .with_min_age(19);
/// assert_eq!(request.provider, None); // the default provider
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct StartRequest {
    /// The provider, or the default.
    pub provider: Option<ProviderId>,
    /// Window or OTP.
    pub method: Method,
    /// Where the browser goes at the end (required for windows; must match an allowed origin).
    pub return_url: Option<String>,
    /// Why.
    pub purpose: Option<Purpose>,
    /// Popup or page.
    pub display: Display,
    /// Minimum age: checked by bonin against the verified birth date for every provider, and
    /// passed to providers that enforce it in their window.
    pub min_age: Option<u8>,
    /// The person's details for windows that can be filled in with them (PortOne; Danal fixes
    /// name and phone, other channels may only pre-fill). They reach the launch, which the user's
    /// own browser sees; compare the verified identity where it matters.
    pub prefill: Option<crate::Prefill>,
    /// The merchant's own data kept with the provider's record (PortOne V2 `customData`).
    pub custom_data: Option<String>,
}

impl StartRequest {
    /// A request for `method` with the default provider, no return URL, no purpose, a popup, no
    /// minimum age, no prefill and no custom data.
    pub fn new(method: Method) -> Self {
        Self {
            provider: None,
            method,
            return_url: None,
            purpose: None,
            display: Display::default(),
            min_age: None,
            prefill: None,
            custom_data: None,
        }
    }

    /// The provider (instead of the default one).
    #[must_use]
    pub fn with_provider(mut self, provider: ProviderId) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Where the browser goes at the end (required for windows; must match an allowed origin).
    #[must_use]
    pub fn with_return_url(mut self, url: impl Into<String>) -> Self {
        self.return_url = Some(url.into());
        self
    }

    /// Why the identity is verified.
    #[must_use]
    pub fn with_purpose(mut self, purpose: Purpose) -> Self {
        self.purpose = Some(purpose);
        self
    }

    /// Popup or page.
    #[must_use]
    pub fn with_display(mut self, display: Display) -> Self {
        self.display = display;
        self
    }

    /// The minimum age, checked against the verified birth date.
    #[must_use]
    pub fn with_min_age(mut self, min_age: u8) -> Self {
        self.min_age = Some(min_age);
        self
    }

    /// The person's details, for windows that can be filled in with them.
    #[must_use]
    pub fn with_prefill(mut self, prefill: crate::Prefill) -> Self {
        self.prefill = Some(prefill);
        self
    }

    /// The merchant's own data kept with the provider's record.
    #[must_use]
    pub fn with_custom_data(mut self, data: impl Into<String>) -> Self {
        self.custom_data = Some(data.into());
        self
    }
}

impl fmt::Debug for StartRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartRequest")
            .field("provider", &self.provider)
            .field("method", &self.method)
            .field("return_url", &self.return_url.as_ref().map(|_| "<set>"))
            .field("purpose", &self.purpose)
            .field("display", &self.display)
            .field("min_age", &self.min_age)
            .field("prefill", &self.prefill)
            .field("custom_data", &self.custom_data.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A started verification.
#[derive(Debug, Clone)]
pub struct Started {
    /// The record.
    pub verification: Verification,
    /// What the browser opens (window flows).
    pub launch: Option<Launch>,
}

/// A token cache to report in metrics.
pub type TokenStatsSource = Arc<dyn Fn() -> TokenCacheStats + Send + Sync>;

/// How long past its deadline an open verification waits before [`VerificationService::expire_if_due`]
/// expires it (see there).
pub const EXPIRY_GRACE: Duration = Duration::from_secs(30);

/// The service.
pub struct VerificationService {
    store: Arc<dyn SessionStore>,
    windows: HashMap<ProviderId, Arc<dyn WindowVerifier>>,
    otps: HashMap<ProviderId, Arc<dyn OtpVerifier>>,
    apps: HashMap<ProviderId, Arc<dyn crate::AppVerifier>>,
    tokens: Vec<(ProviderId, TokenStatsSource)>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    settings: ServiceSettings,
    metrics: Arc<dyn ServiceObserver>,
    /// Verified results the store refused, held on this instance until a write succeeds.
    held: std::sync::Mutex<Held>,
    /// App verifications this instance started or read, polled in the background until they end.
    watched: std::sync::Mutex<std::collections::BTreeSet<VerificationId>>,
    /// Whether state changes write events to the store's outbox (see [`crate::events`]).
    events: bool,
}

impl fmt::Debug for VerificationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationService")
            .field("window_providers", &self.windows.keys().collect::<Vec<_>>())
            .field("otp_providers", &self.otps.keys().collect::<Vec<_>>())
            .field("app_providers", &self.apps.keys().collect::<Vec<_>>())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How long an OTP confirm holds its lease: longer than any provider call with its retries, so a
/// second confirm cannot start while the first may still be at the provider.
pub const CONFIRM_LEASE: Duration = Duration::from_secs(120);

/// Store writes of a verified result are tried this many times before the result is parked.
const COMMIT_TRIES: u32 = 3;

/// A verified result the store refused to take, held until a write succeeds (see
/// [`VerificationService::complete`]).
struct Parked {
    current: Verification,
    identity: crate::VerifiedIdentity,
    at: Timestamp,
    after_commit: Option<crate::ProviderState>,
}

/// Held results: waiting for a write, or being written now. One lock over both, so that a result
/// is always in one of them until it is written (an expiry check never finds it in neither).
#[derive(Default)]
struct Held {
    waiting: HashMap<VerificationId, Parked>,
    writing: std::collections::HashSet<VerificationId>,
}

impl Held {
    /// Takes `id`'s result for a write.
    fn take(&mut self, id: &VerificationId) -> Option<Parked> {
        let parked = self.waiting.remove(id)?;
        self.writing.insert(id.clone());
        Some(parked)
    }

    /// `id`'s write ended; `back` when it must wait for another.
    fn written(&mut self, id: &VerificationId, back: Option<Parked>) {
        self.writing.remove(id);
        if let Some(parked) = back {
            self.waiting.insert(id.clone(), parked);
        }
    }

    fn holds(&self, id: &VerificationId) -> bool {
        self.waiting.contains_key(id) || self.writing.contains(id)
    }
}

/// The record a provider's verified answer makes of `base`: verified, or failed when the person is
/// younger than the verification's `min_age`.
fn settled(base: &Verification, identity: &crate::VerifiedIdentity, at: Timestamp) -> Result<Verification, Error> {
    match base.verified(at, identity.clone()) {
        Err(Error::AgeRestricted) => base.failed(at, &Error::AgeRestricted),
        other => other,
    }
}

/// Concurrent changes to an open record (a resend, a lapsed lease taken over) a verified answer is
/// re-applied over before giving up.
const COMMIT_RACES: u32 = 5;

/// The span of one provider call: provider and operation, nothing else.
fn call_span(provider: ProviderId, operation: &'static str) -> tracing::Span {
    tracing::info_span!("provider_call", provider = %provider, operation)
}

/// The span of one step on a verification: its id (and provider, once known), nothing else.
fn step_span(step: &'static str, id: Option<&VerificationId>) -> tracing::Span {
    match id {
        Some(id) => tracing::info_span!("verification", step, verification_id = %id, provider = tracing::field::Empty),
        None => tracing::info_span!(
            "verification",
            step,
            verification_id = tracing::field::Empty,
            provider = tracing::field::Empty
        ),
    }
}

fn remaining(until: Timestamp, now: Timestamp) -> Duration {
    let left = until - now;
    if left.is_positive() { Duration::try_from(left).unwrap_or(Duration::ZERO) } else { Duration::ZERO }
}

impl VerificationService {
    /// A service over `store`, with no providers yet.
    pub fn new(
        store: Arc<dyn SessionStore>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        settings: ServiceSettings,
        metrics: Arc<dyn ServiceObserver>,
    ) -> Self {
        Self {
            store,
            windows: HashMap::new(),
            otps: HashMap::new(),
            apps: HashMap::new(),
            tokens: Vec::new(),
            clock,
            rng,
            settings,
            metrics,
            held: std::sync::Mutex::new(Held::default()),
            watched: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            events: false,
        }
    }

    /// Writes outbound events (see [`crate::events`]) with every state change that causes one: a
    /// verification reaching `verified`, `failed` or `expired`, and an expiry check at start. The
    /// store must keep an [`crate::Outbox`]; off by default.
    pub fn with_events(mut self, enabled: bool) -> Self {
        self.events = enabled;
        self
    }

    /// The events a change from `previous` to `next` writes with it.
    fn events_for(&self, previous: &Verification, next: &Verification) -> Result<Vec<crate::OutboxEvent>, Error> {
        if !self.events {
            return Ok(Vec::new());
        }
        Ok(crate::OutboxEvent::for_transition(previous, next, self.rng.as_ref(), self.clock.now())?
            .into_iter()
            .collect())
    }

    /// Stores `expired` for a verification still open past its deadline, with its
    /// `verification.expired` event; the deliverer calls it when an expiry check falls due.
    /// `Ok(true)` when nothing is left to do (expired now, finished earlier, or gone), `Ok(false)`
    /// when the deadline has not passed yet (the check is rescheduled).
    ///
    /// A result this instance holds for the verification (the store refused it earlier) is written
    /// first, and while it cannot be (or is being written), the verification is not expired. A
    /// verification is expired only [`EXPIRY_GRACE`] past its deadline, so that a result another
    /// instance holds is usually written first once the store is back (instances retry held
    /// results every few seconds); one held by another instance through an outage longer than
    /// that can lose to the expiry.
    pub async fn expire_if_due(&self, id: &VerificationId) -> Result<bool, Error> {
        self.flush_parked(id).await;
        if self.held.lock().map(|held| held.holds(id)).unwrap_or(true) {
            return Ok(false);
        }
        let Some(current) = self.store.get(id).await? else { return Ok(true) };
        if current.stored_status().is_final() {
            return Ok(true);
        }
        let now = self.clock.now();
        match current.ensure_open(now - EXPIRY_GRACE) {
            Ok(()) => Ok(false),
            Err(Error::Expired) => match self.swap(&current, &current.expired(now)?).await {
                // A concurrent finish (or expiry) wrote its own event.
                Ok(()) | Err(Error::AlreadyCompleted | Error::NotFound) => Ok(true),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// Adds a window provider.
    pub fn with_window(mut self, verifier: Arc<dyn WindowVerifier>) -> Self {
        self.windows.insert(verifier.provider(), verifier);
        self
    }

    /// Adds an OTP provider.
    pub fn with_otp(mut self, verifier: Arc<dyn OtpVerifier>) -> Self {
        self.otps.insert(verifier.provider(), verifier);
        self
    }

    /// Adds an app-approval provider.
    pub fn with_app(mut self, verifier: Arc<dyn crate::AppVerifier>) -> Self {
        self.apps.insert(verifier.provider(), verifier);
        self
    }

    /// Reports a provider's token cache in metrics.
    pub fn with_token_stats(mut self, provider: ProviderId, source: TokenStatsSource) -> Self {
        self.tokens.push((provider, source));
        self
    }

    /// The clock the service runs on.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The settings.
    pub fn settings(&self) -> &ServiceSettings {
        &self.settings
    }

    /// The providers that run window flows, sorted.
    pub fn window_providers(&self) -> Vec<ProviderId> {
        let mut providers: Vec<_> = self.windows.keys().copied().collect();
        providers.sort();
        providers
    }

    /// What the return landing answers a popup window of `provider` (the registered window
    /// verifier's [`WindowVerifier::popup_landing`]; [`PopupLanding::Page`] for a provider without
    /// one).
    pub fn popup_landing(&self, provider: ProviderId) -> PopupLanding {
        self.windows.get(&provider).map_or(PopupLanding::Page, |adapter| adapter.popup_landing())
    }

    /// The providers that run app approvals, sorted.
    pub fn app_providers(&self) -> Vec<ProviderId> {
        let mut providers: Vec<_> = self.apps.keys().copied().collect();
        providers.sort();
        providers
    }

    /// The token caches' statistics, per provider.
    pub fn token_stats(&self) -> Vec<(ProviderId, TokenCacheStats)> {
        self.tokens.iter().map(|(p, source)| (*p, source())).collect()
    }

    /// The observer's text export with the token statistics (the Prometheus text of `bonin
    /// serve`); empty when the observer exports nothing.
    pub fn render_metrics(&self) -> String {
        self.metrics.export(&self.token_stats()).unwrap_or_default()
    }

    /// Checks the store answers.
    pub async fn ready(&self) -> Result<(), Error> {
        self.store.ping().await.map_err(Error::from)
    }

    fn check_return_url(&self, url: &str) -> Result<(), Error> {
        let origin =
            origin_of(url).ok_or_else(|| Error::invalid_input("return_url", "must be an absolute http(s) URL"))?;
        let allowed =
            self.settings.allowed_return_origins.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(&origin));
        if allowed {
            Ok(())
        } else {
            Err(Error::invalid_input("return_url", "its origin is not in server.allowed_return_origins"))
        }
    }

    fn record(&self, provider: ProviderId, error: &Error) {
        self.metrics.failed(provider, error.code().as_str());
    }

    /// Starts a verification.
    pub async fn start(&self, request: StartRequest) -> Result<Started, Error> {
        self.start_step(request).instrument(step_span("start", None)).await
    }

    async fn start_step(&self, request: StartRequest) -> Result<Started, Error> {
        let provider = request.provider.unwrap_or(self.settings.default_provider);
        let now = self.clock.now();
        let id = VerificationId::generate(self.rng.as_ref())?;
        let span = tracing::Span::current();
        span.record("verification_id", tracing::field::display(&id));
        span.record("provider", tracing::field::display(provider));
        // The rules of the verifier registered for the method; one that is not registered is
        // refused below, before anything is stored.
        let rules = match request.method {
            Method::Window => self.windows.get(&provider).map(|adapter| adapter.rules()),
            Method::App => self.apps.get(&provider).map(|adapter| adapter.rules()),
            _ => self.otps.get(&provider).map(|adapter| adapter.rules()),
        }
        .unwrap_or(FlowRules::DEFAULT);
        let mut verification = Verification::start(id.clone(), provider, request.method, rules, now)
            .with_purpose(request.purpose)
            .with_display(request.display)
            .with_min_age(request.min_age);
        if let Some(url) = &request.return_url {
            self.check_return_url(url)?;
            verification = verification.with_return_url(Some(url.clone()));
        }
        let launch = match request.method {
            Method::Window => {
                let adapter = self.windows.get(&provider).ok_or_else(|| {
                    Error::invalid_input("provider", format!("{provider} is not enabled for window verification"))
                })?;
                if request.return_url.is_none() {
                    return Err(Error::invalid_input("return_url", "required for window verification"));
                }
                let landing = format!("{}/v1/verifications/{id}/return", self.settings.public_url);
                let launch_url = format!("{}/v1/verifications/{id}/launch", self.settings.public_url);
                let window = WindowRequest::new(id.clone(), landing)
                    .with_launch_url(Some(launch_url))
                    .with_display(request.display)
                    .with_purpose(request.purpose)
                    .with_min_age(request.min_age)
                    .with_prefill(request.prefill.clone())
                    .with_custom_data(request.custom_data.clone());
                let began = std::time::Instant::now();
                let start = adapter.start(&window).instrument(call_span(provider, "start")).await;
                self.metrics.upstream(provider, "start", began.elapsed());
                let start = start.inspect_err(|e| self.record(provider, e))?;
                verification =
                    verification.with_provider_session(start.provider_key, start.provider_state, start.valid_until);
                Some(start.launch)
            }
            Method::App => {
                let adapter = self.apps.get(&provider).ok_or_else(|| {
                    Error::invalid_input("provider", format!("{provider} is not enabled for app verification"))
                })?;
                // The person is named whole (name, phone and birth date) or not at all: a partial
                // subject would silently become a request anyone can approve.
                let subject = match request.prefill.as_ref().map(|p| (&p.name, &p.phone, &p.birth_date)) {
                    None | Some((None, None, None)) => None,
                    Some((Some(name), Some(phone), Some(birth_date))) => {
                        Some(crate::AppSubject { name: name.clone(), phone: phone.clone(), birth_date: *birth_date })
                    }
                    Some(_) => {
                        return Err(Error::invalid_input(
                            "prefill",
                            "an app approval names the person with name, phone and birth_date together, or not at all",
                        ));
                    }
                };
                let app = crate::AppRequest::new(id.clone())
                    .with_subject(subject)
                    .with_return_url(request.return_url.clone())
                    .with_purpose(request.purpose);
                let began = std::time::Instant::now();
                let start = adapter.request(&app).instrument(call_span(provider, "request")).await;
                self.metrics.upstream(provider, "request", began.elapsed());
                let start = start.inspect_err(|e| self.record(provider, e))?;
                verification = verification.with_provider_session(start.provider_key, start.provider_state, None);
                Some(start.launch)
            }
            _ => {
                if !self.otps.contains_key(&provider) {
                    return Err(Error::invalid_input(
                        "provider",
                        format!("{provider} is not enabled for OTP verification"),
                    ));
                }
                None
            }
        };
        let ttl = remaining(verification.expires_at(), now) + self.settings.pii_retention;
        let events = if self.events {
            vec![crate::OutboxEvent::expiry_check(&verification, self.rng.as_ref(), now)?]
        } else {
            Vec::new()
        };
        self.store.create_with_events(&verification, ttl, &events).await?;
        self.metrics.started(provider);
        if request.method == Method::App {
            self.watch(&id);
        }
        tracing::info!(verification_id = %id, provider = %provider, "verification started");
        Ok(Started { verification, launch })
    }

    async fn load(&self, id: &VerificationId) -> Result<Verification, Error> {
        self.flush_parked(id).await;
        let loaded = self.store.get(id).await?.ok_or(Error::NotFound)?;
        tracing::Span::current().record("provider", tracing::field::display(loaded.provider()));
        Ok(loaded)
    }

    /// Writes a parked result for `id`, if this instance holds one.
    async fn flush_parked(&self, id: &VerificationId) {
        let parked = match self.held.lock() {
            Ok(mut held) => held.take(id),
            Err(_) => None,
        };
        let Some(parked) = parked else { return };
        let done = |back: Option<Parked>| {
            if let Ok(mut held) = self.held.lock() {
                held.written(id, back);
            }
        };
        match self.commit(&parked.current, &parked.identity, parked.at).await {
            Ok(stored) => {
                done(None);
                self.after_commit(&stored, parked.after_commit.as_ref()).await;
            }
            Err(Error::Unavailable { dependency: crate::Dependency::Store, .. })
            | Err(Error::Indeterminate { dependency: crate::Dependency::Store, .. }) => done(Some(parked)),
            Err(error) => {
                done(None);
                tracing::warn!(verification_id = %id, code = error.code().as_str(), "a parked result could not be applied");
            }
        }
    }

    /// Results parked because the store refused them; each is written on the next request for its
    /// verification on this instance, or by [`VerificationService::flush_all_parked`].
    pub fn parked_count(&self) -> usize {
        self.held.lock().map(|held| held.waiting.len() + held.writing.len()).unwrap_or(0)
    }

    /// Tries to write every parked result (call it periodically).
    pub async fn flush_all_parked(&self) {
        let ids: Vec<VerificationId> = match self.held.lock() {
            Ok(held) => held.waiting.keys().cloned().collect(),
            Err(_) => return,
        };
        for id in ids {
            self.flush_parked(&id).await;
        }
    }

    /// Writes the record a verified answer makes of `current` (see [`settled`]) and returns it. A
    /// store error is tried [`COMMIT_TRIES`] times in a row (a pooled store reconnects in between);
    /// a write that erred but landed shows up as a conflict whose winner is this very result, which
    /// counts as success. When another change to the still-open record won the race (a resend, a
    /// lapsed lease taken over), the answer is re-applied over the winner: the provider's verdict
    /// stands. A final winner is `AlreadyCompleted`.
    async fn commit(
        &self,
        current: &Verification,
        identity: &crate::VerifiedIdentity,
        at: Timestamp,
    ) -> Result<Verification, Error> {
        let mut base = current.clone();
        let (mut failures, mut races) = (0, 0);
        let mut erred = false;
        loop {
            let next = settled(&base, identity, at)?;
            let ttl = self.ttl_for(&next);
            let events = self.events_for(&base, &next)?;
            match self.store.compare_and_swap_with_events(base.version(), &next, ttl, &events).await {
                Ok(CasOutcome::Swapped) => return Ok(next),
                Ok(CasOutcome::Conflict(Some(winner))) if winner.stored_status().is_final() => {
                    let ours =
                        erred && winner.version() == next.version() && winner.stored_status() == next.stored_status();
                    return if ours { Ok(*winner) } else { Err(Error::AlreadyCompleted) };
                }
                Ok(CasOutcome::Conflict(Some(winner))) => {
                    races += 1;
                    if races > COMMIT_RACES {
                        return Err(Error::Indeterminate {
                            dependency: crate::Dependency::Store,
                            reason: "the verification keeps changing concurrently; read its status".into(),
                        });
                    }
                    base = *winner;
                }
                Ok(CasOutcome::Conflict(None)) => return Err(Error::NotFound),
                Err(error) => {
                    failures += 1;
                    erred = true;
                    if failures >= COMMIT_TRIES {
                        return Err(error.into());
                    }
                }
            }
        }
    }

    async fn after_commit(&self, verified: &Verification, work: Option<&crate::ProviderState>) {
        let Some(work) = work else { return };
        let result = match verified.method() {
            Method::Window => match self.windows.get(&verified.provider()) {
                Some(adapter) => {
                    adapter
                        .after_commit(verified, work)
                        .instrument(call_span(verified.provider(), "after_commit"))
                        .await
                }
                None => Ok(()),
            },
            _ => match self.otps.get(&verified.provider()) {
                Some(adapter) => {
                    adapter
                        .after_commit(verified, work)
                        .instrument(call_span(verified.provider(), "after_commit"))
                        .await
                }
                None => Ok(()),
            },
        };
        if let Err(error) = result {
            self.record(verified.provider(), &error);
            tracing::warn!(
                verification_id = %verified.id(),
                provider = %verified.provider(),
                code = error.code().as_str(),
                "provider clean-up after the verified result was stored failed"
            );
        }
    }

    /// Stores a verified (or age-refused) result, then runs the adapter's after-commit work. When
    /// the store keeps failing, the result is parked on this instance so that nothing the
    /// provider handed over only once (mobileOK's key token) is lost: it is written on the next
    /// request for the verification, and the caller is told the step is indeterminate.
    async fn settle(
        &self,
        current: &Verification,
        completion: crate::Completion,
        now: Timestamp,
    ) -> Result<Verification, Error> {
        // A result that cannot apply (expired, another provider's) fails in `commit` before any
        // write. The provider-side clean-up runs for an age-refused result too: the person's data must
        // not linger at the provider either.
        let work = completion.after_commit;
        let next = match self.commit(current, &completion.identity, now).await {
            Ok(next) => next,
            Err(error @ (Error::Unavailable { .. } | Error::Indeterminate { .. })) => {
                tracing::warn!(
                    verification_id = %current.id(),
                    provider = %current.provider(),
                    code = error.code().as_str(),
                    "the store refused a verified result; it is held on this instance until a write succeeds"
                );
                if let Ok(mut held) = self.held.lock() {
                    let parked =
                        Parked { current: current.clone(), identity: completion.identity, at: now, after_commit: work };
                    held.waiting.insert(current.id().clone(), parked);
                }
                return Err(Error::Indeterminate {
                    dependency: crate::Dependency::Store,
                    reason: "the result was received but not yet stored; read the status".into(),
                });
            }
            Err(error) => return Err(error),
        };
        self.after_commit(&next, work.as_ref()).await;
        match next.stored_status() {
            Status::Verified => {
                self.metrics.completed(current.provider());
                tracing::info!(verification_id = %current.id(), provider = %current.provider(), "verification verified");
                Ok(next)
            }
            _ => {
                let error = Error::AgeRestricted;
                self.record(current.provider(), &error);
                tracing::info!(verification_id = %current.id(), provider = %current.provider(), "verified person is under the minimum age");
                Err(error)
            }
        }
    }

    /// Writes `next` over `current`; a lost race is `AlreadyCompleted` when the winner finished the
    /// verification.
    async fn swap(&self, current: &Verification, next: &Verification) -> Result<(), Error> {
        self.swap_or(current, next, || Error::Indeterminate {
            dependency: crate::Dependency::Store,
            reason: "the verification changed concurrently; read its status".into(),
        })
        .await
    }

    /// [`Self::swap`], answering `on_race` when another open version won.
    async fn swap_or(
        &self,
        current: &Verification,
        next: &Verification,
        on_race: impl FnOnce() -> Error,
    ) -> Result<(), Error> {
        let ttl = self.ttl_for(next);
        let events = self.events_for(current, next)?;
        match self.store.compare_and_swap_with_events(current.version(), next, ttl, &events).await? {
            CasOutcome::Swapped => Ok(()),
            CasOutcome::Conflict(Some(winner)) if winner.stored_status().is_final() => Err(Error::AlreadyCompleted),
            CasOutcome::Conflict(Some(_)) => Err(on_race()),
            CasOutcome::Conflict(None) => Err(Error::NotFound),
        }
    }

    /// How long the store keeps `next`: the retention time after a final state, else the time left
    /// plus the retention time.
    ///
    /// An open record outlives its deadline by at least twice [`EXPIRY_GRACE`], so that its
    /// expiry check finds it whatever the retention time.
    fn ttl_for(&self, next: &Verification) -> Duration {
        if next.stored_status().is_final() {
            self.settings.pii_retention
        } else {
            remaining(next.expires_at(), self.clock.now()) + self.settings.pii_retention.max(EXPIRY_GRACE * 2)
        }
    }

    /// Persists expiry if the deadline passed; returns the open-check result.
    async fn ensure_open(&self, current: &Verification) -> Result<(), Error> {
        let now = self.clock.now();
        match current.ensure_open(now) {
            Err(Error::Expired) => {
                if let Ok(expired) = current.expired(now) {
                    let _ = self.swap(current, &expired).await;
                }
                Err(Error::Expired)
            }
            other => other,
        }
    }

    /// Applies a provider callback. Returns the updated record.
    pub async fn complete(&self, id: &VerificationId, callback: &CallbackParams) -> Result<Verification, Error> {
        self.complete_step(id, callback).instrument(step_span("complete", Some(id))).await
    }

    async fn complete_step(&self, id: &VerificationId, callback: &CallbackParams) -> Result<Verification, Error> {
        let current = self.load(id).await?;
        let provider = current.provider();
        let outcome = self.try_complete(&current, callback).await;
        if let Err(error) = &outcome {
            self.record(provider, error);
            tracing::info!(verification_id = %id, provider = %provider, code = error.code().as_str(), "completion refused");
        }
        outcome
    }

    async fn try_complete(&self, current: &Verification, callback: &CallbackParams) -> Result<Verification, Error> {
        self.ensure_open(current).await?;
        match current.method() {
            Method::Window => {}
            Method::App => {
                return Err(Error::wrong_step("an app verification completes by itself: read its status"));
            }
            _ => return Err(Error::wrong_step("an OTP verification is completed with confirm")),
        }
        let adapter = self
            .windows
            .get(&current.provider())
            .ok_or_else(|| Error::misconfigured("the verification's provider is no longer enabled"))?;
        let began = std::time::Instant::now();
        let result = adapter.complete(current, callback).instrument(call_span(current.provider(), "complete")).await;
        self.metrics.upstream(current.provider(), "complete", began.elapsed());
        let now = self.clock.now();
        let checked = result.and_then(|completion| {
            if let Some(issued_at) = completion.result_issued_at {
                current.check_result_age(issued_at, now)?;
            }
            Ok(completion)
        });
        match checked {
            Ok(completion) => self.settle(current, completion, now).await,
            // Only refusals the provider authenticated end the verification; anything the browser
            // alone asserts (`Unconfirmed`), or a callback that fails its checks, changes nothing.
            Err(error @ (Error::Rejected { .. } | Error::Expired)) => {
                let next = current.failed(now, &error)?;
                self.swap(current, &next).await?;
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    /// What the provider's browser SDK fetches for an open window verification (mobileOK's
    /// request info). `NotFound` when the provider has no such step.
    pub async fn launch_data(&self, id: &VerificationId) -> Result<String, Error> {
        let current = self.load(id).await?;
        current.ensure_open(self.clock.now())?;
        let adapter = self.windows.get(&current.provider()).ok_or(Error::NotFound)?;
        adapter.launch_data(&current)?.ok_or(Error::NotFound)
    }

    /// Whether `origin` may receive the browser back (and call browser-facing endpoints).
    pub fn is_allowed_origin(&self, origin: &str) -> bool {
        self.settings.allowed_return_origins.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    /// The record as it stands, without releasing its identity (for status pages).
    pub async fn peek(&self, id: &VerificationId) -> Result<Verification, Error> {
        self.load(id).await
    }

    /// The record as it stands; a verified identity is handed out, can be read again for
    /// [`ServiceSettings::identity_grace`] after the first read (so a reader whose answer was lost
    /// does not lose the identity), and is dropped by the first read after that. With a zero grace
    /// the first read drops it.
    pub async fn get(&self, id: &VerificationId) -> Result<Verification, Error> {
        self.get_step(id).instrument(step_span("read", Some(id))).await
    }

    async fn get_step(&self, id: &VerificationId) -> Result<Verification, Error> {
        let mut current = self.load(id).await?;
        if current.method() == Method::App && !current.status_at(self.clock.now()).is_final() {
            self.watch(id);
            // A reader learns the outcome as soon as the provider has it; a poll that cannot run now
            // (another holds it, or one ran moments ago) or fails leaves the record as it stands.
            if let Ok(polled) = self.poll_once(&current).await {
                current = polled;
            }
        }
        if current.identity().is_none() {
            return Ok(current);
        }
        let now = self.clock.now();
        let grace = self.settings.identity_grace;
        let (stored, answer) = match current.identity_released_at() {
            None if !grace.is_zero() => (current.identity_released(now), current.clone()),
            Some(first) if now < first + grace => return Ok(current),
            _ => {
                let dropped = current.without_identity();
                (dropped.clone(), if current.identity_released_at().is_none() { current.clone() } else { dropped })
            }
        };
        match self.store.compare_and_swap(current.version(), &stored, remaining_ttl(&current, self)).await? {
            CasOutcome::Swapped => Ok(answer),
            // Another reader got there first: answer with what it left.
            CasOutcome::Conflict(Some(winner)) => {
                Ok(if winner.identity().is_some() && winner.identity_released_at().is_some_and(|t| now < t + grace) {
                    *winner
                } else {
                    winner.without_identity()
                })
            }
            CasOutcome::Conflict(None) => Err(Error::NotFound),
        }
    }

    fn watch(&self, id: &VerificationId) {
        if let Ok(mut watched) = self.watched.lock() {
            watched.insert(id.clone());
        }
    }

    /// Asks the provider where an app verification stands and applies what it says, once:
    /// the poll holds a lease in the store, so one instance at a time polls a verification, and
    /// no more often than [`crate::MIN_POLL_INTERVAL`]. Returns the record after the poll;
    /// `RateLimited` when a poll is held elsewhere or ran moments ago.
    pub async fn poll(&self, id: &VerificationId) -> Result<Verification, Error> {
        async {
            let current = self.load(id).await?;
            self.poll_once(&current).await
        }
        .instrument(step_span("poll", Some(id)))
        .await
    }

    async fn poll_once(&self, loaded: &Verification) -> Result<Verification, Error> {
        self.ensure_open(loaded).await?;
        let adapter = self
            .apps
            .get(&loaded.provider())
            .ok_or_else(|| Error::misconfigured("the verification's provider is no longer enabled"))?;
        let reserved = loaded.reserve_poll(self.clock.now(), crate::POLL_LEASE, crate::MIN_POLL_INTERVAL)?;
        self.swap_or(loaded, &reserved, || Error::RateLimited {
            reason: "another poll of this verification is in progress".into(),
        })
        .await?;
        let current = reserved;
        let began = std::time::Instant::now();
        let outcome = adapter.poll(&current).instrument(call_span(current.provider(), "poll")).await;
        self.metrics.upstream(current.provider(), "poll", began.elapsed());
        let now = self.clock.now();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                self.record(current.provider(), &error);
                // The lease lapses by itself; releasing it lets the next poll run sooner.
                let state = current.app().map_or(crate::AppState::Requested, |a| a.state);
                if let Ok(released) = current.app_progressed(state) {
                    let _ = self.swap(&current, &released).await;
                }
                return Err(error);
            }
        };
        match outcome {
            crate::AppPoll::Waiting(state) => {
                let next = current.app_progressed(state)?;
                self.swap(&current, &next).await?;
                Ok(next)
            }
            crate::AppPoll::Completed(completion) => match self.settle(&current, *completion, now).await {
                Ok(next) => Ok(next),
                Err(Error::AgeRestricted) => self.load(current.id()).await,
                Err(error) => Err(error),
            },
            crate::AppPoll::Expired => {
                let next = current.lapsed(now)?;
                self.swap(&current, &next).await?;
                tracing::info!(verification_id = %current.id(), provider = %current.provider(), "the provider let the approval lapse");
                Ok(next)
            }
            crate::AppPoll::Refused { provider_code } => {
                let error = Error::rejected(current.provider(), provider_code, None);
                self.record(current.provider(), &error);
                let next = current.failed(now, &error)?;
                self.swap(&current, &next).await?;
                Ok(next)
            }
        }
    }

    /// Polls every app verification this instance started or read that is due (see
    /// [`Self::poll`]), and forgets the ones that ended. A host calls it every few seconds
    /// (`bonin serve` does), so an approval nobody is watching still ends `verified`. Polls back
    /// off with the verification's age: every 2 s in its first minute, every 5 s up to five
    /// minutes, then every 15 s.
    pub async fn poll_watched(&self) {
        let ids: Vec<VerificationId> = match self.watched.lock() {
            Ok(watched) => watched.iter().cloned().collect(),
            Err(_) => return,
        };
        for id in ids {
            // `load` first writes a result this instance holds parked, so a verification whose
            // result is in hand is never polled (and its result read) again.
            let current = match self.load(&id).await {
                Ok(current) => Some(current),
                Err(Error::NotFound) => None,
                Err(_) => continue,
            };
            if self.held.lock().is_ok_and(|held| held.holds(&id)) {
                continue;
            }
            let now = self.clock.now();
            let Some(current) = current.filter(|c| !c.status_at(now).is_final()) else {
                if let Ok(mut watched) = self.watched.lock() {
                    watched.remove(&id);
                }
                continue;
            };
            let age = remaining(now, current.created_at());
            let interval = if age < Duration::from_secs(60) {
                crate::MIN_POLL_INTERVAL
            } else if age < Duration::from_secs(300) {
                Duration::from_secs(5)
            } else {
                Duration::from_secs(15)
            };
            if current.app().and_then(|a| a.polled_at).is_some_and(|at| now < at + interval) {
                continue;
            }
            let _ = self.poll_once(&current).instrument(step_span("poll", Some(&id))).await;
        }
    }

    /// App verifications this instance polls in the background.
    pub fn watched_count(&self) -> usize {
        self.watched.lock().map_or(0, |w| w.len())
    }

    fn otp_adapter(&self, current: &Verification) -> Result<&Arc<dyn OtpVerifier>, Error> {
        if current.method() != Method::Otp {
            return Err(Error::wrong_step("this verification uses a provider window, not an OTP"));
        }
        self.otps
            .get(&current.provider())
            .ok_or_else(|| Error::misconfigured("the verification's provider is no longer enabled"))
    }

    /// Sends the OTP (not retried: the provider may have sent it).
    pub async fn otp_send(
        &self,
        id: &VerificationId,
        subject: OtpSubject,
        channel: OtpChannel,
        client_ip: Option<IpAddr>,
    ) -> Result<Verification, Error> {
        self.otp_send_step(id, subject, channel, client_ip).instrument(step_span("otp_send", Some(id))).await
    }

    async fn otp_send_step(
        &self,
        id: &VerificationId,
        subject: OtpSubject,
        channel: OtpChannel,
        client_ip: Option<IpAddr>,
    ) -> Result<Verification, Error> {
        let current = self.load(id).await?;
        self.ensure_open(&current).await?;
        let adapter = self.otp_adapter(&current)?;
        if current.stored_status() != Status::Pending {
            return Err(Error::wrong_step("an OTP was already sent for this verification; use resend"));
        }
        let request =
            OtpRequest::new(id.clone(), subject, channel).with_purpose(current.purpose()).with_client_ip(client_ip);
        let began = std::time::Instant::now();
        let dispatch = adapter.send(&request).instrument(call_span(current.provider(), "send")).await;
        self.metrics.upstream(current.provider(), "send", began.elapsed());
        let dispatch = dispatch.inspect_err(|e| self.record(current.provider(), e))?;
        let next = current.otp_sent(self.clock.now(), dispatch.provider_state, dispatch.provider_key)?;
        self.swap(&current, &next).await?;
        Ok(next)
    }

    /// Sends the OTP again.
    pub async fn otp_resend(&self, id: &VerificationId) -> Result<Verification, Error> {
        self.otp_resend_step(id).instrument(step_span("otp_resend", Some(id))).await
    }

    async fn otp_resend_step(&self, id: &VerificationId) -> Result<Verification, Error> {
        let current = self.load(id).await?;
        self.ensure_open(&current).await?;
        let adapter = self.otp_adapter(&current)?;
        current.ensure_can_resend(self.clock.now())?;
        let dispatch = adapter
            .resend(&current)
            .instrument(call_span(current.provider(), "resend"))
            .await
            .inspect_err(|e| self.record(current.provider(), e))?;
        let next = current.otp_resent(self.clock.now(), dispatch.provider_state)?;
        self.swap(&current, &next).await?;
        Ok(next)
    }

    /// Confirms a code (`None` for app approval). Every confirm uses up one attempt, reserved
    /// with compare-and-swap *before* the provider sees the code, so racing confirms cannot test
    /// more codes than the rules allow; while one confirm is at the provider, others of the same
    /// verification are refused (`rate_limited`). A failed call keeps its attempt counted (even an
    /// "unavailable" answer may come after the provider checked the code); only a code-less
    /// confirm the provider did not decide yet (`OtpOutcome::NotYetApproved`) gives it back.
    pub async fn otp_confirm(&self, id: &VerificationId, code: Option<OtpCode>) -> Result<Verification, Error> {
        self.otp_confirm_step(id, code).instrument(step_span("otp_confirm", Some(id))).await
    }

    async fn otp_confirm_step(&self, id: &VerificationId, code: Option<OtpCode>) -> Result<Verification, Error> {
        let loaded = self.load(id).await?;
        self.ensure_open(&loaded).await?;
        let adapter = self.otp_adapter(&loaded)?;
        let reserved = loaded.reserve_confirm(self.clock.now(), CONFIRM_LEASE)?;
        self.swap_or(&loaded, &reserved, || Error::RateLimited {
            reason: "another confirm of this verification is in progress".into(),
        })
        .await?;
        let current = reserved;
        let began = std::time::Instant::now();
        let code_less = code.is_none();
        let outcome = adapter.confirm(&current, code).instrument(call_span(current.provider(), "confirm")).await;
        self.metrics.upstream(current.provider(), "confirm", began.elapsed());
        let now = self.clock.now();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                self.record(current.provider(), &error);
                // The attempt stays counted: even an "unavailable" answer may come after the
                // provider checked the code (a refused confirm whose re-read failed).
                if let Ok(released) = current.release_confirm(false) {
                    let _ = self.swap(&current, &released).await;
                }
                return Err(error);
            }
        };
        match outcome {
            OtpOutcome::Verified(completion) => self.settle(&current, completion, now).await,
            OtpOutcome::WrongCode { retry_state, provider_code } => {
                let next = current.otp_rejected(now, retry_state)?;
                self.swap(&current, &next).await?;
                let error = if next.stored_status() == Status::Failed {
                    Error::AttemptsExhausted
                } else {
                    Error::rejected(current.provider(), provider_code, None)
                };
                self.record(current.provider(), &error);
                Err(error)
            }
            OtpOutcome::NotYetApproved { retry_state, provider_code } => {
                // Only a confirm without a code can be "not yet approved"; one with a code was
                // checked, so its attempt stays counted.
                let next = current.release_confirm_with(code_less, retry_state)?;
                self.swap(&current, &next).await?;
                Err(Error::rejected(current.provider(), provider_code, None))
            }
        }
    }
}

fn remaining_ttl(current: &Verification, service: &VerificationService) -> Duration {
    let now = service.clock.now();
    match current.completed_at() {
        Some(done) => remaining(done + service.settings.pii_retention, now).max(Duration::from_secs(1)),
        None => remaining(current.expires_at(), now) + service.settings.pii_retention,
    }
}
