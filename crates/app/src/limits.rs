//! What keeps one client, or a flood of them, from exhausting an instance or the money behind it:
//!
//! - [`serve`]: the server loop of `bonin serve`, with a header-read timeout (a client that sends
//!   its request head byte by byte is cut off) and a cap on connections served at once (further
//!   ones wait in the listen backlog, they are not refused).
//! - [`RateLimiter`]: per-client token buckets for starts, OTP sends and confirms; a client is its
//!   API key, or without keys its peer address.
//! - [`OpenVerifications`]: a cap on the verifications started on this instance and still open.
//! - [`ProviderGate`] and [`Bounded`]: bounded concurrency toward each provider; a call that finds
//!   every slot taken for too long is `Unavailable` (not sent, safe to retry).

use std::{
    collections::{BTreeSet, HashMap},
    future::Future,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use axum::{Router, extract::ConnectInfo, http::Request};
use bonin_domain::{
    CallbackParams, CancelCommand, Clock, Completion, Dependency, Error, FlowRules, OtpCode, OtpDispatch, OtpOutcome,
    OtpRequest, OtpVerifier, PopupLanding, ProviderId, ProviderState, SigningRequest, SigningWorkflows, Timestamp,
    Verification, VerificationId, WindowRequest, WindowStart, WindowVerifier, WorkflowInfo, WorkflowStarted,
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt as _;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// --- Connections ---

/// Connection handling of [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection that has not sent a whole request head within this time is closed; this also
    /// ends idle keep-alive connections.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { header_read_timeout: Duration::from_secs(20), max_connections: 1024 }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the open connections finish.
/// Each request carries [`ConnectInfo`] with the peer's `SocketAddr`, the address the rate
/// limits fall back to without API keys.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first: while every slot is taken, new connections stay in the backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    pause_after_accept_error(&error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            // A header-read timeout or a client that went away ends the connection; nothing to report.
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Errors of one connection (reset before it was accepted) are skipped; anything else (out of
/// file descriptors) is logged and waited out, so the loop does not spin.
async fn pause_after_accept_error(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

// --- Per-client rate limits ---

/// The limits the REST API enforces. A rate of 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiLimits {
    /// Verifications one client may start per minute.
    pub starts_per_minute: u32,
    /// OTP sends and resends one client may ask for per minute.
    pub otp_sends_per_minute: u32,
    /// OTP confirms one client may make per minute.
    pub confirms_per_minute: u32,
    /// Returns to the open landing per existing verification per minute.
    pub callbacks_per_minute: u32,
    /// Verifications started on this instance and still open; 0 is no limit.
    pub max_open_verifications: usize,
}

impl Default for ApiLimits {
    fn default() -> Self {
        Self {
            starts_per_minute: 300,
            otp_sends_per_minute: 60,
            confirms_per_minute: 300,
            callbacks_per_minute: 30,
            max_open_verifications: 10_000,
        }
    }
}

/// What a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// `POST /v1/verifications`.
    Start,
    /// `POST /v1/verifications/{id}/otp` and `/resend`.
    OtpSend,
    /// `POST /v1/verifications/{id}/confirm`.
    Confirm,
    /// `GET|POST /v1/verifications/{id}/return` and `/launch`, the open endpoints of one verification.
    Callback,
}

impl Budget {
    /// Which limit was reached, naming its setting (for problem details).
    pub const fn reason(self) -> &'static str {
        match self {
            Self::Start => "starts by this client, limits.starts_per_minute",
            Self::OtpSend => "OTP sends by this client, limits.otp_sends_per_minute",
            Self::Confirm => "OTP confirms by this client, limits.confirms_per_minute",
            Self::Callback => "landing returns and launch fetches for this verification, limits.callbacks_per_minute",
        }
    }
}

/// The reason of a start refused by [`OpenVerifications`].
pub const OPEN_VERIFICATIONS_REASON: &str = "open verifications on this instance, limits.max_open_verifications";

/// Who spends: the API key presented (by a digest of it), else the peer address.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// The first bytes of the SHA-256 of the presented (and accepted) API key.
    Key([u8; 16]),
    /// A peer address; IPv6 addresses by their /64, which one subscriber usually holds whole.
    Address(IpAddr),
    /// One existing verification (the first bytes of the SHA-256 of its id): the open landing is
    /// limited per verification, so nobody without its id can use up its budget.
    Verification([u8; 16]),
    /// No key and no known peer (a router served without connect info), or more clients than
    /// are tracked: these share one budget.
    Unknown,
}

impl std::fmt::Debug for Client {
    // Neither a key's digest nor an address is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Key(_) => "Client::Key(<redacted>)",
            Self::Address(_) => "Client::Address(<redacted>)",
            Self::Verification(_) => "Client::Verification(<redacted>)",
            Self::Unknown => "Client::Unknown",
        })
    }
}

impl Client {
    /// The client at `address`.
    pub fn at(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => Self::Address(address),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Address(IpAddr::V4(v4)),
                None => {
                    let mut segments = v6.segments();
                    segments[4..].fill(0);
                    Self::Address(IpAddr::V6(Ipv6Addr::from(segments)))
                }
            },
        }
    }
}

/// Buckets kept at most; beyond it, full (idle) buckets are dropped, and if that is not enough
/// new clients share [`Client::Unknown`]'s.
const MAX_BUCKETS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Duration,
}

#[derive(Debug, Default)]
struct Buckets {
    map: HashMap<(Client, Budget), Bucket>,
    swept_at: Option<Duration>,
}

/// Token buckets per client and [`Budget`]: each holds up to a minute's allowance and refills
/// evenly over the minute.
pub struct RateLimiter {
    limits: ApiLimits,
    clock: Arc<dyn Clock>,
    buckets: Mutex<Buckets>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits)
            .field("tracked", &lock(&self.buckets).map.len())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// Limits on `clock`'s monotonic time.
    pub fn new(limits: ApiLimits, clock: Arc<dyn Clock>) -> Self {
        Self { limits, clock, buckets: Mutex::new(Buckets::default()) }
    }

    fn per_minute(&self, budget: Budget) -> u32 {
        match budget {
            Budget::Start => self.limits.starts_per_minute,
            Budget::OtpSend => self.limits.otp_sends_per_minute,
            Budget::Confirm => self.limits.confirms_per_minute,
            Budget::Callback => self.limits.callbacks_per_minute,
        }
    }

    /// Spends one unit of `client`'s `budget`, or says how long until one is available.
    pub fn spend(&self, client: Client, budget: Budget) -> Result<(), Duration> {
        let per_minute = self.per_minute(budget);
        if per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(per_minute);
        let per_second = capacity / 60.0;
        let now = self.clock.monotonic();
        let refilled = |bucket: &Bucket| {
            let elapsed = now.saturating_sub(bucket.at).as_secs_f64();
            (bucket.tokens + elapsed * per_second).min(capacity)
        };
        let mut buckets = lock(&self.buckets);
        let mut key = (client, budget);
        if !buckets.map.contains_key(&key) && buckets.map.len() >= MAX_BUCKETS {
            // Sweep at most once a second: a full bucket is the same as none.
            if buckets.swept_at.is_none_or(|at| now.saturating_sub(at) >= Duration::from_secs(1)) {
                buckets.swept_at = Some(now);
                buckets.map.retain(|(_, b), bucket| {
                    let per_minute = f64::from(self.per_minute(*b));
                    let elapsed = now.saturating_sub(bucket.at).as_secs_f64();
                    bucket.tokens + elapsed * per_minute / 60.0 < per_minute
                });
            }
            if buckets.map.len() >= MAX_BUCKETS {
                key = (Client::Unknown, budget);
            }
        }
        let bucket = buckets.map.entry(key).or_insert(Bucket { tokens: capacity, at: now });
        let tokens = refilled(bucket);
        if tokens >= 1.0 {
            *bucket = Bucket { tokens: tokens - 1.0, at: now };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(Duration::from_secs_f64((1.0 - tokens) / per_second))
        }
    }
}

// --- Open verifications ---

#[derive(Debug, Default)]
struct Open {
    reserved: usize,
    until: HashMap<VerificationId, Timestamp>,
    by_end: BTreeSet<(Timestamp, VerificationId)>,
}

impl Open {
    fn forget(&mut self, id: &VerificationId) {
        if let Some(end) = self.until.remove(id) {
            self.by_end.remove(&(end, id.clone()));
        }
    }

    fn forget_ended(&mut self, now: Timestamp) {
        while let Some((end, id)) = self.by_end.first().cloned() {
            if end > now {
                break;
            }
            self.by_end.pop_first();
            self.until.remove(&id);
        }
    }
}

/// The verifications started on this instance and still open, capped. One counts from its start
/// until this instance answers it as finished ([`settle`](Self::settle)) or its deadline passes;
/// a verification completed on another instance counts here until its deadline.
pub struct OpenVerifications {
    max: usize,
    clock: Arc<dyn Clock>,
    open: Mutex<Open>,
}

impl std::fmt::Debug for OpenVerifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = lock(&self.open);
        f.debug_struct("OpenVerifications")
            .field("max", &self.max)
            .field("open", &open.until.len())
            .field("reserved", &open.reserved)
            .finish()
    }
}

/// A slot taken by a start in progress; [`opened`](Self::opened) keeps it for the verification,
/// dropping it gives it back.
#[derive(Debug)]
pub struct Reservation {
    gate: Arc<OpenVerifications>,
    held: bool,
}

impl Reservation {
    /// The start succeeded: `id` holds the slot until `until` at the latest.
    pub fn opened(mut self, id: &VerificationId, until: Timestamp) {
        if self.held {
            self.held = false;
            let mut open = lock(&self.gate.open);
            open.reserved = open.reserved.saturating_sub(1);
            open.forget(id);
            open.until.insert(id.clone(), until);
            open.by_end.insert((until, id.clone()));
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held {
            let mut open = lock(&self.gate.open);
            open.reserved = open.reserved.saturating_sub(1);
        }
    }
}

impl OpenVerifications {
    /// At most `max` open at once (0: no limit, nothing tracked).
    pub fn new(max: usize, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self { max, clock, open: Mutex::new(Open::default()) })
    }

    /// Takes a slot for a start, or says how long until the first open one ends.
    pub fn reserve(self: &Arc<Self>) -> Result<Reservation, Duration> {
        if self.max == 0 {
            return Ok(Reservation { gate: self.clone(), held: false });
        }
        let now = self.clock.now();
        let mut open = lock(&self.open);
        open.forget_ended(now);
        if open.until.len() + open.reserved >= self.max {
            let first = open.by_end.first().map(|(end, _)| *end - now);
            let wait = first.and_then(|d| Duration::try_from(d).ok()).unwrap_or(Duration::ZERO);
            return Err(wait.max(Duration::from_secs(1)));
        }
        open.reserved += 1;
        Ok(Reservation { gate: self.clone(), held: true })
    }

    /// Gives the slot of `verification` back once it is finished (as of the clock's now).
    pub fn settle(&self, verification: &Verification) {
        if self.max == 0 || !verification.status_at(self.clock.now()).is_final() {
            return;
        }
        lock(&self.open).forget(verification.id());
    }
}

// --- Provider concurrency ---

/// The slots for calls toward one provider.
#[derive(Debug)]
pub struct ProviderGate {
    provider: ProviderId,
    slots: Semaphore,
    wait: Duration,
}

impl ProviderGate {
    /// `concurrency` calls at once toward `provider`; a call waits up to `wait` for a slot.
    pub fn new(provider: ProviderId, concurrency: usize, wait: Duration) -> Arc<Self> {
        Arc::new(Self { provider, slots: Semaphore::new(concurrency.max(1)), wait })
    }

    /// Runs `call` in a slot, or answers `Unavailable` without running it.
    async fn run<T>(&self, call: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let slot = match tokio::time::timeout(self.wait, self.slots.acquire()).await {
            Ok(Ok(slot)) => slot,
            _ => {
                tracing::warn!(provider = %self.provider, "every provider call slot is taken (limits.provider_concurrency)");
                return Err(Error::Unavailable {
                    dependency: Dependency::Provider(self.provider),
                    reason: "too many calls to it are in progress (limits.provider_concurrency)".into(),
                });
            }
        };
        let result = call.await;
        drop(slot);
        result
    }
}

/// A provider adapter whose calls go through its provider's [`ProviderGate`]. Wrap every port of
/// one provider with the same gate.
pub struct Bounded<T: ?Sized> {
    inner: Arc<T>,
    gate: Arc<ProviderGate>,
}

impl<T: ?Sized> Bounded<T> {
    /// `inner` behind `gate`.
    pub fn new(inner: Arc<T>, gate: Arc<ProviderGate>) -> Self {
        Self { inner, gate }
    }
}

impl<T: ?Sized> std::fmt::Debug for Bounded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bounded").field("gate", &self.gate).finish_non_exhaustive()
    }
}

#[async_trait]
impl<T: WindowVerifier + ?Sized> WindowVerifier for Bounded<T> {
    fn provider(&self) -> ProviderId {
        WindowVerifier::provider(&*self.inner)
    }

    fn rules(&self) -> FlowRules {
        WindowVerifier::rules(&*self.inner)
    }

    fn popup_landing(&self) -> PopupLanding {
        self.inner.popup_landing()
    }

    async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error> {
        self.gate.run(self.inner.start(request)).await
    }

    async fn complete(&self, session: &Verification, callback: &CallbackParams) -> Result<Completion, Error> {
        self.gate.run(self.inner.complete(session, callback)).await
    }

    async fn after_commit(&self, session: &Verification, work: &ProviderState) -> Result<(), Error> {
        self.gate.run(WindowVerifier::after_commit(&*self.inner, session, work)).await
    }

    fn launch_data(&self, session: &Verification) -> Result<Option<String>, Error> {
        self.inner.launch_data(session)
    }
}

#[async_trait]
impl<T: bonin_domain::AppVerifier + ?Sized> bonin_domain::AppVerifier for Bounded<T> {
    fn provider(&self) -> ProviderId {
        bonin_domain::AppVerifier::provider(&*self.inner)
    }

    fn rules(&self) -> FlowRules {
        bonin_domain::AppVerifier::rules(&*self.inner)
    }

    async fn request(&self, request: &bonin_domain::AppRequest) -> Result<bonin_domain::AppStart, Error> {
        self.gate.run(self.inner.request(request)).await
    }

    async fn poll(&self, session: &Verification) -> Result<bonin_domain::AppPoll, Error> {
        let provider = bonin_domain::AppVerifier::provider(&*self.inner);
        match tokio::time::timeout(bonin_domain::POLL_TIME_LIMIT, self.gate.run(self.inner.poll(session))).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::Indeterminate {
                dependency: bonin_domain::Dependency::Provider(provider),
                reason: "the poll took longer than its time limit".into(),
            }),
        }
    }
}

#[async_trait]
impl<T: OtpVerifier + ?Sized> OtpVerifier for Bounded<T> {
    fn provider(&self) -> ProviderId {
        OtpVerifier::provider(&*self.inner)
    }

    fn rules(&self) -> FlowRules {
        OtpVerifier::rules(&*self.inner)
    }

    async fn send(&self, request: &OtpRequest) -> Result<OtpDispatch, Error> {
        self.gate.run(self.inner.send(request)).await
    }

    async fn resend(&self, session: &Verification) -> Result<OtpDispatch, Error> {
        self.gate.run(self.inner.resend(session)).await
    }

    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        self.gate.run(self.inner.confirm(session, code)).await
    }

    async fn after_commit(&self, session: &Verification, work: &ProviderState) -> Result<(), Error> {
        self.gate.run(OtpVerifier::after_commit(&*self.inner, session, work)).await
    }
}

#[async_trait]
impl<T: SigningWorkflows + ?Sized> SigningWorkflows for Bounded<T> {
    fn provider(&self) -> ProviderId {
        SigningWorkflows::provider(&*self.inner)
    }

    async fn start(&self, request: &SigningRequest) -> Result<WorkflowStarted, Error> {
        self.gate.run(SigningWorkflows::start(&*self.inner, request)).await
    }

    async fn status(&self, provider_workflow_id: &str) -> Result<WorkflowInfo, Error> {
        self.gate.run(self.inner.status(provider_workflow_id)).await
    }

    async fn cancel(&self, provider_workflow_id: &str, command: CancelCommand) -> Result<(), Error> {
        self.gate.run(self.inner.cancel(provider_workflow_id, command)).await
    }

    async fn remind(&self, provider_workflow_id: &str) -> Result<(), Error> {
        self.gate.run(self.inner.remind(provider_workflow_id)).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bonin_domain::ManualClock;

    use super::*;

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH))
    }

    #[test]
    fn a_bucket_holds_a_minute_and_refills_evenly() {
        let clock = clock();
        let limits = ApiLimits { starts_per_minute: 3, ..ApiLimits::default() };
        let limiter = RateLimiter::new(limits, clock.clone());
        let client = Client::at("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            limiter.spend(client, Budget::Start).unwrap();
        }
        let wait = limiter.spend(client, Budget::Start).unwrap_err();
        assert_eq!(wait.as_secs_f64().round(), 20.0, "one start every 20 s");
        limiter.spend(Client::at("192.0.2.2".parse().unwrap()), Budget::Start).unwrap();
        limiter.spend(client, Budget::OtpSend).unwrap();
        clock.advance(Duration::from_secs(21));
        limiter.spend(client, Budget::Start).unwrap();
        limiter.spend(client, Budget::Start).unwrap_err();
    }

    #[test]
    fn an_ipv6_subscriber_is_one_client_and_debug_shows_no_address() {
        let a = Client::at("2001:db8:1:2::1".parse().unwrap());
        let b = Client::at("2001:db8:1:2:ffff::9".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, Client::at("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(Client::at("::ffff:192.0.2.1".parse().unwrap()), Client::at("192.0.2.1".parse().unwrap()));
        assert!(!format!("{a:?}").contains("2001"));
    }

    #[test]
    fn zero_is_no_limit() {
        let limits = ApiLimits { confirms_per_minute: 0, ..ApiLimits::default() };
        let limiter = RateLimiter::new(limits, clock());
        for _ in 0..10_000 {
            limiter.spend(Client::Unknown, Budget::Confirm).unwrap();
        }
    }
}
