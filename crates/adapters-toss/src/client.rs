//! The Toss calls: the client-credentials token behind the single-flight cache, then request,
//! status and result.

use std::{
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use bonin_adapters_http::{
    HttpClient, HttpRequest, Idempotency, encode_component as encode,
    provider::{HeldToken, TokenHolder},
};
use bonin_domain::{
    BirthDate, Clock, Error, ExposeSecret, IssuedToken, Name, PhoneNumber, ProviderId, RefreshPolicy, Rng,
    SharedTokens, Token, TokenCache, TokenCacheStats, TokenSource,
};
use serde_json::{Value, json};

use crate::{
    ApiError, TossConfig, TossIdentity, TossLaunch, TossPublicKey, TossSession, TossStatus, TriggerType,
    wire::{parse_token, valid_tx_id},
};

/// How long before its end a token is replaced. Test tokens live a year; a few minutes' lead
/// keeps a token from dying mid-call without re-issuing it while it is valid, as Toss asks \[C2\].
const REFRESH_BEFORE: Duration = Duration::from_secs(300);

/// `POST {oauth_base}/token`, form-encoded `grant_type=client_credentials&scope=ca&client_id&client_secret`.
struct ClientCredentials {
    config: Arc<TossConfig>,
    http: HttpClient,
    /// The lifetime of the last token this instance was issued (for `bonin token`).
    last_lifetime: Arc<Mutex<Option<Duration>>>,
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        let config = &self.config;
        let form = format!(
            "grant_type=client_credentials&scope=ca&client_id={}&client_secret={}",
            encode(&config.client_id),
            encode(config.client_secret.expose_secret())
        );
        let request = HttpRequest::post("toss.token", config.token_url())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.into_bytes())
            .timeout(config.timeout())
            // Issuing a token twice is harmless (the other adapters' token calls are retried alike).
            .idempotency(Idempotency::Idempotent);
        let response = self.http.send(request).await?;
        let issued = parse_token(&response, self.http.provider())?;
        *self.last_lifetime.lock().unwrap_or_else(PoisonError::into_inner) = Some(issued.lifetime);
        Ok(issued)
    }
}

/// Who the request is for.
#[derive(Debug, Clone)]
enum Subject {
    /// `USER_NONE`: the person enters their details in Toss's window.
    None,
    /// `USER_PERSONAL`: bonin sends them, encrypted.
    Personal { name: Name, phone: PhoneNumber, birth_date: BirthDate },
}

/// A 본인확인 request. `Debug` masks the personal data.
#[derive(Debug, Clone)]
pub struct TossRequest {
    subject: Subject,
    trigger: Option<TriggerType>,
    request_url: Option<String>,
}

impl TossRequest {
    /// `USER_NONE`: the person enters everything at Toss (the web popup, `authUrl`).
    pub fn user_none() -> Self {
        Self { subject: Subject::None, trigger: None, request_url: None }
    }

    /// `USER_PERSONAL`: Toss finds the person from their name, phone (digits) and birth date, sent
    /// encrypted under a fresh session with its `sessionKey`.
    pub fn user_personal(name: Name, phone: PhoneNumber, birth_date: BirthDate) -> Self {
        Self { subject: Subject::Personal { name, phone, birth_date }, trigger: None, request_url: None }
    }

    /// The trigger of a `USER_PERSONAL` request (the configured `trigger_type` otherwise). Not sent
    /// with `USER_NONE`, whose person Toss cannot push to before they identify themselves \[I\].
    pub fn with_trigger(mut self, trigger: TriggerType) -> Self {
        self.trigger = Some(trigger);
        self
    }

    /// `requestUrl` for this request (the configured `request_url` otherwise).
    pub fn with_request_url(mut self, url: impl Into<String>) -> Self {
        self.request_url = Some(url.into());
        self
    }
}

/// What a result read found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TossResult {
    /// The verified person (one of the at most two successful reads is used up).
    Completed(Box<TossIdentity>),
    /// `CE3102`: the person has not completed yet; poll the status and read again later.
    NotCompleted,
}

/// Calls a result read may take at worst ([`TossClient::result_read_budget`]).
pub(crate) const RESULT_READ_CALLS: u32 = 3;

/// The Toss 본인확인 client: one token per `client_id`, shared by every call (and, with
/// [`TossClient::with_shared_tokens`], by every instance).
pub struct TossClient {
    config: Arc<TossConfig>,
    http: HttpClient,
    provider: ProviderId,
    tokens: TokenCache<Arc<dyn TokenSource>>,
    public_key: Option<Arc<TossPublicKey>>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    last_lifetime: Arc<Mutex<Option<Duration>>>,
    poll_time_limit: Duration,
}

impl fmt::Debug for TossClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossClient")
            .field("provider", &self.provider)
            .field("config", &self.config)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl TossClient {
    /// A client over `http`, which names the provider id bonin reports Toss under (errors and
    /// logs take it from there), on `clock` and `rng` (session ids, keys and IVs).
    pub fn new(config: TossConfig, http: HttpClient, clock: Arc<dyn Clock>, rng: Arc<dyn Rng>) -> Result<Self, Error> {
        Self::build(config, http, clock, rng, None)
    }

    /// [`TossClient::new`], with the token shared between the instances of a deployment under
    /// the name `toss:<client_id>`.
    pub fn with_shared_tokens(
        config: TossConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        shared: Arc<dyn SharedTokens>,
    ) -> Result<Self, Error> {
        Self::build(config, http, clock, rng, Some(shared))
    }

    fn build(
        config: TossConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
        shared: Option<Arc<dyn SharedTokens>>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let public_key = config.public_key()?.map(Arc::new);
        let config = Arc::new(config);
        let last_lifetime = Arc::new(Mutex::new(None));
        let source =
            ClientCredentials { config: config.clone(), http: http.clone(), last_lifetime: last_lifetime.clone() };
        let name = format!("toss:{}", config.client_id);
        let policy = RefreshPolicy { refresh_before: REFRESH_BEFORE };
        let tokens = TokenCache::maybe_shared(source, shared, name, clock.clone(), policy);
        Ok(Self {
            provider: http.provider(),
            config,
            http,
            tokens,
            public_key,
            clock,
            rng,
            last_lifetime,
            poll_time_limit: bonin_domain::POLL_TIME_LIMIT,
        })
    }

    /// Limits each app poll to `limit` rather than [`bonin_domain::POLL_TIME_LIMIT`] (never more:
    /// a longer poll would outlive its lease in the store).
    #[must_use]
    pub fn with_poll_time_limit(mut self, limit: Duration) -> Self {
        self.poll_time_limit = limit.min(bonin_domain::POLL_TIME_LIMIT);
        self
    }

    /// The time limit of one app poll.
    pub fn poll_time_limit(&self) -> Duration {
        self.poll_time_limit
    }

    /// The time a result read needs, at worst, within a poll: a token fetch, the read, and the read
    /// once more after a refused token, each up to `timeout_secs`. A poll with less time left leaves
    /// the read to the next poll rather than start a read that its limit could cut, spending one of
    /// Toss's two reads for nothing.
    pub fn result_read_budget(&self) -> Duration {
        self.config.timeout() * RESULT_READ_CALLS
    }

    /// The configuration in use.
    pub fn config(&self) -> &TossConfig {
        &self.config
    }

    /// The provider id this client reports under (its [`HttpClient`]'s).
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// The clock the client runs on.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The access token (cached; issued on first use), e.g. for `bonin token`.
    pub async fn access_token(&self) -> Result<Token, Error> {
        self.tokens.get().await
    }

    /// The lifetime Toss stated (`expires_in`) for the last token this instance was issued; `None`
    /// before any, or when the token came from another instance.
    pub fn token_lifetime(&self) -> Option<Duration> {
        *self.last_lifetime.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Token cache counters.
    pub fn token_stats(&self) -> TokenCacheStats {
        self.tokens.stats()
    }

    fn public_key(&self) -> Result<&TossPublicKey, Error> {
        self.public_key.as_deref().ok_or_else(|| {
            Error::misconfigured(
                "providers.toss.public_key_base64 is not set: Toss's public key (from its SDK) is needed to send a sessionKey",
            )
        })
    }

    /// A fresh session and its `sessionKey`.
    fn session(&self) -> Result<(TossSession, String), Error> {
        let public_key = self.public_key()?;
        let session = TossSession::generate(&*self.rng)?;
        let session_key = session.session_key(public_key).map_err(|_| {
            Error::misconfigured("the sessionKey could not be encrypted with providers.toss.public_key_base64")
        })?;
        Ok((session, session_key))
    }

    /// One authenticated call: `POST {api_base}{family}/{call}`, JSON, Bearer. A refused token
    /// (HTTP 401, `CE1000`) gets one fresh token and one more attempt: the call was turned away
    /// before it was processed, so even a request is safe to send again.
    async fn call(
        &self,
        label: &'static str,
        call: &str,
        body: &Value,
        idempotency: Idempotency,
    ) -> Result<Result<Value, ApiError>, Error> {
        let url = self.config.api_url(call);
        let body = body.to_string().into_bytes();
        let refused = |outcome: &Result<Value, ApiError>| {
            let refused = matches!(outcome, Err(error) if error.is_token_refused());
            if refused {
                tracing::debug!(provider = %self.provider, endpoint = label, "access token refused; issuing a fresh one once");
            }
            refused
        };
        self.tokens
            .call_with_refresh(refused, |token| {
                let request = HttpRequest::post(label, url.clone())
                    .header("Authorization", format!("Bearer {}", token.expose_secret()))
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .timeout(self.config.timeout())
                    .idempotency(idempotency);
                async move { Ok(ApiError::check(&self.http.send(request).await?)) }
            })
            .await
    }

    /// Starts a 본인확인 (`…/request`). Never repeated automatically: a second request would be a
    /// second transaction (and a second push), so a timeout is [`Error::Indeterminate`].
    pub async fn request(&self, request: &TossRequest) -> Result<TossLaunch, Error> {
        let mut body = match &request.subject {
            Subject::None => json!({"requestType": "USER_NONE"}),
            Subject::Personal { name, phone, birth_date } => {
                let (session, session_key) = self.session()?;
                let sealed = |plain: &str| session.encrypt(plain).map_err(Error::from);
                json!({
                    "requestType": "USER_PERSONAL",
                    "triggerType": request.trigger.unwrap_or(self.config.trigger_type).as_str(),
                    "userName": sealed(name.expose())?,
                    "userPhone": sealed(phone.expose())?,
                    "userBirthday": sealed(&birth_date.yyyymmdd())?,
                    "sessionKey": session_key,
                })
            }
        };
        if let Some(url) = request.request_url.as_ref().or(self.config.request_url.as_ref()) {
            body["requestUrl"] = json!(url);
        }
        let success = self
            .call("toss.request", "request", &body, Idempotency::NotIdempotent)
            .await?
            .map_err(|e| e.into_error(self.provider, "request", false))?;
        let launch = TossLaunch::from_success(&success, self.provider)?;
        // Toss's own pages are https: a plain-http page only from an API reached over http (the
        // sandbox).
        let plain = |url: &str| url.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
        if launch.auth_url.as_deref().is_some_and(plain) && !plain(&self.config.api_base) {
            return Err(Error::protocol(self.provider, "request: authUrl is not https"));
        }
        Ok(launch)
    }

    /// Where `tx_id` stands (`…/status`). A read: retried when that is safe.
    pub async fn status(&self, tx_id: &str) -> Result<TossStatus, Error> {
        check_tx_id(tx_id)?;
        let success = self
            .call("toss.status", "status", &json!({"txId": tx_id}), Idempotency::Idempotent)
            .await?
            .map_err(|e| e.into_error(self.provider, "status", true))?;
        TossStatus::from_success(&success, tx_id, self.provider)
    }

    /// Reads the result of `tx_id` (`…/result`) under a new session, decrypting `personalData`.
    ///
    /// Toss allows at most two successful reads, within 60 minutes of completion \[S\]: this call is
    /// never repeated automatically (a timeout is [`Error::Indeterminate`]), and the caller keeps
    /// the identity rather than reading again. `CE3102` is [`TossResult::NotCompleted`].
    pub async fn result(&self, tx_id: &str) -> Result<TossResult, Error> {
        check_tx_id(tx_id)?;
        let (session, session_key) = self.session()?;
        let body = json!({"txId": tx_id, "sessionKey": session_key});
        let success = match self.call("toss.result", "result", &body, Idempotency::NotIdempotent).await? {
            Ok(success) => success,
            Err(error) if error.is_not_completed() => return Ok(TossResult::NotCompleted),
            Err(error) => return Err(error.into_error(self.provider, "result", false)),
        };
        let identity = TossIdentity::from_success(&success, tx_id, &session, self.provider)?;
        Ok(TossResult::Completed(Box::new(identity)))
    }
}

fn check_tx_id(tx_id: &str) -> Result<(), Error> {
    if valid_tx_id(tx_id) { Ok(()) } else { Err(Error::invalid_input("tx_id", "must be a Toss txId")) }
}

#[async_trait]
impl TokenHolder for TossClient {
    async fn current_token(&self) -> Result<HeldToken, Error> {
        let token = self.access_token().await?;
        let lifetime = match self.token_lifetime() {
            Some(lifetime) => format!(
                "Toss stated expires_in {} s (about {} days) for this instance's last token; bonin replaces it {} s early",
                lifetime.as_secs(),
                lifetime.as_secs() / 86_400,
                REFRESH_BEFORE.as_secs()
            ),
            None => "lifetime unknown here (the token came from another instance); Toss states it in expires_in".into(),
        };
        Ok(HeldToken::new(token, lifetime))
    }

    fn token_stats(&self) -> TokenCacheStats {
        TossClient::token_stats(self)
    }
}
