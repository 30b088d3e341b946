//! The single-flight expiring token cache every adapter with a token uses.
//!
//! - N concurrent callers at a cold or expiring cache cause exactly one upstream fetch; every caller
//!   that waited on that fetch gets its result (token or error).
//! - A token is refreshed `refresh_before` ahead of its end; before that, callers get the same token
//!   without any fetch.
//! - Errors are never cached: the next caller after a failed fetch starts a new one. If a refresh
//!   fails while the old token is still inside its lifetime, the old token is used.
//! - A provider's 401-style rejection of a token forces one refresh
//!   ([`TokenCache::refresh_rejected`]); many callers rejecting the same token still cause one fetch.
//!
//! Lifetimes are measured on the injected clock's monotonic reading, from the moment the fetch was
//! sent, so a slow token response never makes a token look fresher than it is.

use std::{
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::{Clock, Error};

/// A token as the provider issued it.
pub struct IssuedToken {
    /// The token.
    pub value: SecretString,
    /// How long it stays valid from the moment the request was sent (adapters convert the
    /// provider's `expires_in` / `expired_at - now` into this).
    pub lifetime: Duration,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken").field("value", &"<redacted>").field("lifetime", &self.lifetime).finish()
    }
}

/// Fetches a fresh token from the provider.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// One upstream token request.
    async fn fetch(&self) -> Result<IssuedToken, Error>;
}

/// A token handed out by the cache. Cheap to clone; `Debug` is masked.
#[derive(Clone)]
pub struct Token {
    value: Arc<SecretString>,
    generation: u64,
}

impl Token {
    /// The token text, for the one header that carries it.
    pub fn expose_secret(&self) -> &str {
        self.value.expose_secret()
    }

    /// Which fetch produced it (1 for the first).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<redacted>, generation {})", self.generation)
    }
}

/// How early a token is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Refresh this long before the token's end. When a token's whole lifetime is shorter than
    /// twice this, it is refreshed at half its lifetime instead.
    pub refresh_before: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self { refresh_before: Duration::from_secs(60) }
    }
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCacheStats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Upstream fetches started.
    pub fetches: u64,
    /// Upstream fetches that failed.
    pub failures: u64,
    /// Tokens the provider refused before their time ([`TokenCache::refresh_rejected`]); each
    /// forces a refresh, counted in `fetches` too.
    pub rejected: u64,
}

#[derive(Clone)]
struct Cached {
    token: Token,
    refresh_at: Duration,
    expires_at: Duration,
}

#[derive(Default)]
struct State {
    current: Option<Cached>,
    /// Fetches finished so far (success or failure).
    flights_done: u64,
    /// The error of the last finished fetch, if it failed.
    last_error: Option<Error>,
    generation: u64,
}

/// The cache. One per credential set; share it with `Arc`.
pub struct TokenCache<S> {
    source: S,
    clock: Arc<dyn Clock>,
    policy: RefreshPolicy,
    state: Mutex<State>,
    flight: tokio::sync::Mutex<()>,
    hits: AtomicU64,
    fetches: AtomicU64,
    failures: AtomicU64,
    rejected: AtomicU64,
}

impl<S> fmt::Debug for TokenCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache").field("policy", &self.policy).field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl<S> TokenCache<S> {
    /// The token source.
    pub fn source(&self) -> &S {
        &self.source
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the cached token (e.g. after revoking it upstream).
    pub fn invalidate(&self) {
        self.lock().current = None;
    }

    /// Counters since creation.
    pub fn stats(&self) -> TokenCacheStats {
        TokenCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

impl<S: TokenSource> TokenCache<S> {
    /// An empty cache in front of `source`.
    pub fn new(source: S, clock: Arc<dyn Clock>, policy: RefreshPolicy) -> Self {
        Self {
            source,
            clock,
            policy,
            state: Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
            hits: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// A valid token: cached, or fetched by exactly one of the concurrent callers.
    pub async fn get(&self) -> Result<Token, Error> {
        let flights_seen = {
            let state = self.lock();
            if let Some(cached) = &state.current
                && self.clock.monotonic() < cached.refresh_at
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(cached.token.clone());
            }
            state.flights_done
        };

        let _flight = self.flight.lock().await;
        {
            let state = self.lock();
            let now = self.clock.monotonic();
            if let Some(cached) = &state.current
                && now < cached.refresh_at
            {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(cached.token.clone());
            }
            if state.flights_done != flights_seen {
                // A fetch finished while this caller waited: share its outcome rather than start
                // another one.
                if let Some(error) = &state.last_error {
                    return match &state.current {
                        Some(cached) if now < cached.expires_at => Ok(cached.token.clone()),
                        _ => Err(error.clone()),
                    };
                }
            }
        }
        self.fetch_locked().await
    }

    /// Called when the provider rejected `rejected` as invalid (HTTP 401, NICE 1800, eSignon 94):
    /// drops it and returns a fresh token. If another caller already replaced it, returns that one
    /// without a new fetch.
    pub async fn refresh_rejected(&self, rejected: &Token) -> Result<Token, Error> {
        {
            let mut state = self.lock();
            if state.current.as_ref().is_some_and(|c| c.token.generation == rejected.generation) {
                state.current = None;
                self.rejected.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.get().await
    }

    /// Runs `call` with the current token. When `refused` says the provider refused that token
    /// (the call was turned away before it was processed), forces one refresh and runs `call` once
    /// more with the new token, whatever that second outcome is: one retry, never a loop.
    pub async fn call_with_refresh<T, F, Fut>(&self, refused: impl Fn(&T) -> bool, mut call: F) -> Result<T, Error>
    where
        F: FnMut(Token) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let token = self.get().await?;
        let outcome = call(token.clone()).await?;
        if !refused(&outcome) {
            return Ok(outcome);
        }
        let fresh = self.refresh_rejected(&token).await?;
        call(fresh).await
    }

    /// Fetches while holding the flight lock.
    async fn fetch_locked(&self) -> Result<Token, Error> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let sent_at = self.clock.monotonic();
        let outcome = self.source.fetch().await;
        let mut state = self.lock();
        state.flights_done += 1;
        match outcome {
            Ok(issued) => {
                state.generation += 1;
                let lifetime = issued.lifetime;
                let lead =
                    if lifetime >= self.policy.refresh_before * 2 { self.policy.refresh_before } else { lifetime / 2 };
                let token = Token { value: Arc::new(issued.value), generation: state.generation };
                state.current = Some(Cached {
                    token: token.clone(),
                    refresh_at: sent_at + (lifetime - lead),
                    expires_at: sent_at + lifetime,
                });
                state.last_error = None;
                Ok(token)
            }
            Err(error) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                state.last_error = Some(error.clone());
                match &state.current {
                    Some(cached) if self.clock.monotonic() < cached.expires_at => Ok(cached.token.clone()),
                    _ => Err(error),
                }
            }
        }
    }
}

#[async_trait]
impl<T: TokenSource + ?Sized> TokenSource for Arc<T> {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        (**self).fetch().await
    }
}

/// Shares provider tokens between the instances of a deployment (through their common store),
/// so N instances do not each log in. Implementations hold a short cross-instance lock while one
/// instance fetches, and hand the stored token to the others.
#[async_trait]
pub trait SharedTokens: Send + Sync {
    /// A token for `name`: the shared one while it has life left and this instance has not been
    /// handed it before (a second request for the same token means it was rejected or is due for
    /// refresh); otherwise one fetched from `source` by exactly one instance and shared.
    async fn fetch_shared(&self, name: &str, source: &dyn TokenSource) -> Result<IssuedToken, Error>;
}

/// A [`TokenSource`] that goes through [`SharedTokens`]: put it under an instance's [`TokenCache`].
pub struct SharedTokenSource<S> {
    inner: S,
    shared: Arc<dyn SharedTokens>,
    name: String,
}

impl<S> fmt::Debug for SharedTokenSource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTokenSource").field("name", &self.name).finish_non_exhaustive()
    }
}

impl<S: TokenSource> SharedTokenSource<S> {
    /// Shares `inner`'s tokens under `name` (unique per credential set, e.g. `nice:<client_id>`).
    pub fn new(inner: S, shared: Arc<dyn SharedTokens>, name: impl Into<String>) -> Self {
        Self { inner, shared, name: name.into() }
    }
}

impl TokenCache<Arc<dyn TokenSource>> {
    /// The cache an adapter holds: in front of `source`, shared between the instances of a
    /// deployment through `shared` under `name` when given, local otherwise.
    pub fn maybe_shared<S: TokenSource + 'static>(
        source: S,
        shared: Option<Arc<dyn SharedTokens>>,
        name: impl Into<String>,
        clock: Arc<dyn Clock>,
        policy: RefreshPolicy,
    ) -> Self {
        let source: Arc<dyn TokenSource> = match shared {
            Some(shared) => Arc::new(SharedTokenSource::new(source, shared, name)),
            None => Arc::new(source),
        };
        Self::new(source, clock, policy)
    }
}

#[async_trait]
impl<S: TokenSource> TokenSource for SharedTokenSource<S> {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        self.shared.fetch_shared(&self.name, &self.inner).await
    }
}
