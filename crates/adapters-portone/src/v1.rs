//! PortOne V1 (iamport): `getToken`, certifications, the OTP API.

use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use bonin_adapters_http::{
    HttpClient, HttpConfig, HttpMethod, HttpRequest, HttpResponse, Idempotency, ReqwestTransport, RetryPolicy,
};
use bonin_domain::{
    BirthDate, CallbackParams, Ci, Clock, Completion, Dependency, Di, Display, Error, ExposeSecret, Gender,
    IssuedToken, KST, Name, Nationality, OtpChannel, OtpCode, OtpDispatch, OtpOutcome, OtpRequest, OtpVerifier,
    PhoneNumber, ProviderId, ProviderKey, ProviderState, ProviderTxId, RefreshPolicy, SecretString, SharedTokens,
    SystemClock, Token, TokenCache, TokenCacheStats, TokenSource, Verification, VerifiedIdentity, WindowRequest,
    WindowStart, WindowVerifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    IamportLaunch, IamportParams, PortoneV1Config,
    common::{
        carrier_name, danal_carrier, encode, kcp_otp_bypass, parse_carrier, read_state, state_error, storable_time,
        text, write_state,
    },
    config::Pg,
};

const PROVIDER: ProviderId = ProviderId::PortoneV1;
/// The longest a getToken token is cached: PortOne's live 30 minutes (35 once extended), so a
/// longer stated lifetime is not believed.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The V1 envelope `{code, message, response}`.
#[derive(Clone, PartialEq, Deserialize)]
pub struct Envelope {
    /// `0` on success.
    pub code: i64,
    /// PortOne's message (a fixed Korean text).
    #[serde(default)]
    pub message: Option<String>,
    /// The payload.
    #[serde(default)]
    pub response: Option<Value>,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload may hold personal data.
        f.debug_struct("Envelope").field("code", &self.code).field("message", &self.message).finish_non_exhaustive()
    }
}

/// A V1 call that did not succeed, before it is turned into a domain [`Error`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum V1Error {
    /// HTTP 401: the token (or, at `getToken`, the key and secret) was refused.
    Unauthorized {
        /// The envelope, when the body was one.
        body: Option<Envelope>,
    },
    /// HTTP 404 (`code: -1`, "인증결과가 존재하지 않습니다.").
    NotFound {
        /// PortOne's message.
        message: Option<String>,
    },
    /// Another non-2xx status.
    Http {
        /// The status.
        status: u16,
        /// The envelope's code, when the body was one.
        code: Option<i64>,
        /// The envelope's message.
        message: Option<String>,
    },
    /// HTTP 2xx with `code ≠ 0` (a business error, e.g. `code: 1`).
    Api {
        /// The code, verbatim.
        code: i64,
        /// PortOne's message.
        message: Option<String>,
    },
    /// A 2xx body that is not an envelope with a `response`.
    Decode {
        /// The status.
        status: u16,
    },
}

impl V1Error {
    /// Reads an answer: success needs HTTP 2xx **and** `code == 0`.
    pub fn check(response: &HttpResponse) -> Result<Value, Self> {
        let envelope = serde_json::from_slice::<Envelope>(&response.body).ok();
        match (response.status, envelope) {
            (401, body) => Err(Self::Unauthorized { body }),
            (404, envelope) => Err(Self::NotFound { message: envelope.and_then(|e| e.message) }),
            (status, envelope) if !(200..300).contains(&status) => Err(Self::Http {
                status,
                code: envelope.as_ref().map(|e| e.code),
                message: envelope.and_then(|e| e.message),
            }),
            (_, Some(Envelope { code: 0, response: Some(value), .. })) if !value.is_null() => Ok(value),
            (_, Some(Envelope { code, message, .. })) if code != 0 => Err(Self::Api { code, message }),
            (status, _) => Err(Self::Decode { status }),
        }
    }

    /// The provider code kept in a domain error: the envelope code, prefixed by the HTTP status when
    /// that was not 2xx (`http400:1`).
    pub fn provider_code(&self) -> String {
        match self {
            Self::Unauthorized { body } => {
                format!("http401:{}", body.as_ref().map_or(String::new(), |b| b.code.to_string()))
            }
            Self::NotFound { .. } => "http404:-1".into(),
            Self::Http { status, code, .. } => {
                format!("http{status}:{}", code.map_or(String::new(), |c| c.to_string()))
            }
            Self::Api { code, .. } => code.to_string(),
            Self::Decode { status } => format!("http{status}"),
        }
    }

    /// The domain error for a call that was `idempotent` (a 5xx then means "not processed, retry").
    pub fn into_error(self, what: &'static str, idempotent: bool) -> Error {
        let code = self.provider_code();
        match self {
            Self::Unauthorized { .. } => Error::misconfigured(format!(
                "PortOne V1 refused the access token for {what} even after a fresh one was issued"
            )),
            Self::NotFound { message } => Error::rejected(PROVIDER, code, message),
            Self::Http { status, .. } if status >= 500 && idempotent => Error::Unavailable {
                dependency: Dependency::Provider(PROVIDER),
                reason: format!("{what}: HTTP {status}").into(),
            },
            Self::Http { status, code: None, .. } if status >= 500 => Error::Indeterminate {
                dependency: Dependency::Provider(PROVIDER),
                reason: format!("{what}: HTTP {status}").into(),
            },
            Self::Http { message, .. } | Self::Api { message, .. } => Error::rejected(PROVIDER, code, message),
            Self::Decode { status } => {
                Error::protocol(PROVIDER, format!("{what}: the reply is not a PortOne envelope (HTTP {status})"))
            }
        }
    }
}

/// A certification (`CertificationAnnotation`) as PortOne returns it. Every field PortOne marks as
/// availability-dependent is optional; `Debug` shows ids and flags only.
#[derive(Clone, Default, Deserialize)]
#[non_exhaustive]
pub struct Certification {
    /// PortOne's id.
    pub imp_uid: String,
    /// The merchant's id (bonin's verification id).
    #[serde(default)]
    pub merchant_uid: Option<String>,
    /// PG-side transaction id.
    #[serde(default)]
    pub pg_tid: Option<String>,
    /// `danal`, `kcp_v2`, `inicis_unified`, …
    #[serde(default)]
    pub pg_provider: Option<String>,
    /// Whether the person was verified.
    #[serde(default)]
    pub certified: bool,
    /// When (unix seconds).
    #[serde(default)]
    pub certified_at: Option<i64>,
    /// Verified name.
    #[serde(default)]
    pub name: Option<String>,
    /// `male` / `female`.
    #[serde(default)]
    pub gender: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub birthday: Option<String>,
    /// Legacy birth date in unix seconds, read only when `birthday` is absent.
    #[serde(default)]
    pub birth: Option<i64>,
    /// Always `false` unless the Danal contract includes foreigner detection.
    #[serde(default)]
    pub foreigner: bool,
    /// `null` when that feature is not contracted; preferred over `foreigner`.
    #[serde(default)]
    pub foreigner_v2: Option<bool>,
    /// Digits; absent without carrier approval.
    #[serde(default)]
    pub phone: Option<String>,
    /// `SKT`, `KT`, `LGT`, `*_MVNO`; absent without carrier approval.
    #[serde(default)]
    pub carrier: Option<String>,
    /// CI.
    #[serde(default)]
    pub unique_key: Option<String>,
    /// DI.
    #[serde(default)]
    pub unique_in_site: Option<String>,
}

impl fmt::Debug for Certification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certification")
            .field("imp_uid", &self.imp_uid)
            .field("merchant_uid", &self.merchant_uid)
            .field("pg_provider", &self.pg_provider)
            .field("certified", &self.certified)
            .finish_non_exhaustive()
    }
}

impl Certification {
    /// The verified identity. `now` stands in when PortOne gives no `certified_at`, or one that is
    /// no storable time.
    pub fn identity(&self, now: bonin_domain::Timestamp) -> VerifiedIdentity {
        let verified_at = self
            .certified_at
            .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
            .and_then(storable_time)
            .unwrap_or(now);
        let mut identity = VerifiedIdentity::new(PROVIDER, verified_at);
        identity.name = self.name.as_deref().and_then(|n| Name::new(n.trim()).ok());
        identity.birth_date = match self.birthday.as_deref().filter(|b| !b.trim().is_empty()) {
            Some(birthday) => BirthDate::parse(birthday.trim()).ok(),
            // The legacy field is a unix time in seconds; its calendar date is read in KST.
            None => self.birth.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok()).and_then(|t| {
                // A time whose KST date lies past the calendar's end is no birth date.
                let d = t.checked_to_offset(KST)?.date();
                BirthDate::from_ymd(d.year(), u8::from(d.month()), d.day()).ok()
            }),
        };
        identity.gender = match self.gender.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("male") => Some(Gender::Male),
            Some("female") => Some(Gender::Female),
            _ => None,
        };
        identity.nationality = match (self.foreigner_v2, self.foreigner) {
            (Some(true), _) | (None, true) => Some(Nationality::Foreign),
            (Some(false), _) => Some(Nationality::Domestic),
            // `foreigner: false` without `foreigner_v2` only means "not contracted".
            (None, false) => None,
        };
        identity.phone = self.phone.as_deref().and_then(|p| PhoneNumber::new(p).ok());
        identity.carrier = self.carrier.as_deref().and_then(parse_carrier);
        identity.ci = self.unique_key.as_deref().and_then(|c| Ci::new(c).ok());
        identity.di = self.unique_in_site.as_deref().and_then(|d| Di::new(d).ok());
        identity.provider_tx_id = ProviderTxId::new(self.imp_uid.clone()).ok();
        identity
    }
}

/// `POST /users/getToken`.
struct GetToken {
    config: Arc<PortoneV1Config>,
    http: HttpClient,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    now: i64,
    expired_at: i64,
}

#[async_trait]
impl TokenSource for GetToken {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        let body = json!({"imp_key": self.config.imp_key, "imp_secret": self.config.imp_secret.expose_secret()});
        let request = HttpRequest::post("portone_v1.get_token", format!("{}/users/getToken", self.config.api_base))
            .header("Content-Type", "application/json")
            .body(body.to_string().into_bytes())
            .timeout(self.config.timeout())
            // getToken hands back the live token: asking twice is harmless.
            .idempotency(Idempotency::Idempotent);
        let response = self.http.send(request).await?;
        let value = V1Error::check(&response).map_err(|e| match e {
            V1Error::Unauthorized { .. } => {
                Error::misconfigured("PortOne V1 refused imp_key/imp_secret (HTTP 401 at getToken)")
            }
            other => other.into_error("getToken", true),
        })?;
        let token: TokenResponse = serde_json::from_value(value)
            .map_err(|_| Error::protocol(PROVIDER, "getToken: access_token, now or expired_at missing"))?;
        // The lifetime is PortOne's own arithmetic (server clock), applied to the local monotonic clock.
        let remaining = token.expired_at.saturating_sub(token.now);
        if token.access_token.is_empty() || remaining <= 0 {
            return Err(Error::protocol(PROVIDER, "getToken: empty token or expired_at not after now"));
        }
        // It goes into every Authorization header: visible ASCII only.
        if !token.access_token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::protocol(PROVIDER, "getToken: the access token is not a header-safe string"));
        }
        let lifetime = Duration::from_secs(u64::try_from(remaining).unwrap_or(0)).min(MAX_TOKEN_LIFETIME);
        Ok(IssuedToken { value: SecretString::from(token.access_token), lifetime })
    }
}

/// What a window session keeps.
#[derive(Serialize, Deserialize)]
struct WindowState {
    merchant_uid: String,
}

/// What an OTP session keeps.
#[derive(Serialize, Deserialize)]
struct OtpState {
    merchant_uid: String,
    imp_uid: String,
}

/// The work handed back through [`Completion::after_commit`]: the certification to delete at
/// PortOne once bonin has stored the result (an id, no personal data).
#[derive(Serialize, Deserialize)]
struct AfterCommit {
    delete_certification: String,
}

/// The PortOne V1 adapter: window ([`WindowVerifier`]) and OTP ([`OtpVerifier`]) flows over one
/// shared access token.
pub struct PortoneV1Client {
    config: Arc<PortoneV1Config>,
    http: HttpClient,
    tokens: TokenCache<Arc<dyn TokenSource>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for PortoneV1Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortoneV1Client")
            .field("config", &self.config)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl PortoneV1Client {
    /// A client over `http` (speaking for [`ProviderId::PortoneV1`]) on `clock`.
    pub fn new(config: PortoneV1Config, http: HttpClient, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        Self::build(config, http, clock, None)
    }

    /// [`PortoneV1Client::new`], with the access token shared between the instances of a deployment
    /// under the name `portone_v1:<imp_key>`.
    pub fn with_shared_tokens(
        config: PortoneV1Config,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        shared: Arc<dyn SharedTokens>,
    ) -> Result<Self, Error> {
        Self::build(config, http, clock, Some(shared))
    }

    fn build(
        config: PortoneV1Config,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        shared: Option<Arc<dyn SharedTokens>>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let config = Arc::new(config);
        let source = GetToken { config: config.clone(), http: http.clone() };
        // getToken extends a token only inside its last minute; asking earlier returns the same one.
        let policy = RefreshPolicy { refresh_before: Duration::from_secs(60) };
        let name = format!("portone_v1:{}", config.imp_key);
        let tokens = TokenCache::maybe_shared(source, shared, name, clock.clone(), policy);
        Ok(Self { config, http, tokens, clock })
    }

    /// A client with the default HTTP settings and the system clock.
    pub fn from_config(config: PortoneV1Config) -> Result<Self, Error> {
        let transport = ReqwestTransport::new(&HttpConfig::default())?;
        let http = HttpClient::new(PROVIDER, Arc::new(transport), RetryPolicy::default());
        Self::new(config, http, Arc::new(SystemClock::new()))
    }

    /// The configuration in use.
    pub fn config(&self) -> &PortoneV1Config {
        &self.config
    }

    /// The access token (cached, shared by every call).
    pub async fn access_token(&self) -> Result<Token, Error> {
        self.tokens.get().await
    }

    /// Token cache counters.
    pub fn token_stats(&self) -> TokenCacheStats {
        self.tokens.stats()
    }

    /// The lookup key of an OTP session (`imp_uid`).
    pub fn provider_key(imp_uid: &str) -> ProviderKey {
        ProviderKey::new(PROVIDER, imp_uid)
    }

    fn request(
        &self,
        label: &'static str,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
        token: &Token,
    ) -> HttpRequest {
        let mut request = HttpRequest::new(label, method, format!("{}{path}", self.config.api_base))
            .header("Authorization", format!("Bearer {}", token.expose_secret()))
            .timeout(self.config.timeout());
        if let Some(tier) = &self.config.tier {
            request = request.header("Tier", tier.clone());
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_string().into_bytes());
        }
        request.idempotency(if method == HttpMethod::Get {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        })
    }

    /// One authenticated call; a 401 forces one token refresh and one retry (the call was refused
    /// before it was processed, so repeating it is safe even for a POST).
    async fn call(
        &self,
        label: &'static str,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Result<Value, V1Error>, Error> {
        let refused = |outcome: &Result<Value, V1Error>| {
            let refused = matches!(outcome, Err(V1Error::Unauthorized { .. }));
            if refused {
                tracing::debug!(provider = %PROVIDER, endpoint = label, "access token refused; refreshing once");
            }
            refused
        };
        self.tokens
            .call_with_refresh(refused, |token| async move {
                let response = self.http.send(self.request(label, method, path, body, &token)).await?;
                Ok(V1Error::check(&response))
            })
            .await
    }

    /// `GET /certifications/{imp_uid}`.
    pub async fn certification(&self, imp_uid: &str) -> Result<Certification, Error> {
        match self.read(imp_uid).await? {
            Ok(certification) => Ok(certification),
            Err(V1Error::NotFound { .. }) => {
                Err(Error::invalid_input("imp_uid", "PortOne has no certification with this imp_uid"))
            }
            Err(error) => Err(error.into_error("certification lookup", true)),
        }
    }

    /// `GET /certifications/{imp_uid}`, with PortOne's refusal left for the caller to read.
    async fn read(&self, imp_uid: &str) -> Result<Result<Certification, V1Error>, Error> {
        let path = format!("/certifications/{}", encode(imp_uid));
        match self.call("portone_v1.certification", HttpMethod::Get, &path, None).await? {
            Ok(value) => decode_certification(value).map(Ok),
            Err(error) => Ok(Err(error)),
        }
    }

    /// `DELETE /certifications/{imp_uid}`: removes the record (and its personal data) at PortOne.
    pub async fn delete_certification(&self, imp_uid: &str) -> Result<(), Error> {
        let path = format!("/certifications/{}", encode(imp_uid));
        match self.call("portone_v1.delete_certification", HttpMethod::Delete, &path, None).await? {
            Ok(_) | Err(V1Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into_error("certification delete", false)),
        }
    }

    /// The completion for a certified certification (its owner already checked with
    /// [`ensure_owner`]). With `delete_after_read`, the delete is handed back as after-commit work:
    /// deleting now would lose the result if bonin then failed to store it.
    fn accept(&self, certification: &Certification) -> Result<Completion, Error> {
        let completion = Completion::new(certification.identity(self.clock.now()));
        if !self.config.delete_after_read {
            return Ok(completion);
        }
        let work = AfterCommit { delete_certification: certification.imp_uid.clone() };
        Ok(completion.with_after_commit(write_state(PROVIDER, &work)?))
    }

    /// Runs the work [`accept`](Self::accept) handed back, once bonin has stored the result. A
    /// certification already gone counts as deleted, so running it twice is harmless.
    async fn after_commit_work(&self, work: &ProviderState) -> Result<(), Error> {
        let work: AfterCommit = serde_json::from_str(work.expose()).map_err(|_| state_error(PROVIDER))?;
        self.delete_certification(&work.delete_certification).await
    }
}

/// The code an unconfirmed window failure is reported with: the browser's `error_code` when it
/// sent one (kept for display; whoever posts to the landing chooses it), else `fallback`.
fn window_code(callback: &CallbackParams, fallback: &str) -> String {
    callback
        .get("error_code")
        .filter(|c| !c.is_empty())
        .map_or_else(|| fallback.to_owned(), |c| format!("error_code:{c}"))
}

/// A certification made for another verification is never used, whatever its state.
fn ensure_owner(certification: &Certification, merchant_uid: &str) -> Result<(), Error> {
    if certification.merchant_uid.as_deref() == Some(merchant_uid) {
        Ok(())
    } else {
        Err(Error::integrity("the certification was made for another verification (merchant_uid)"))
    }
}

fn decode_certification(value: Value) -> Result<Certification, Error> {
    let certification: Certification = serde_json::from_value(value)
        .map_err(|_| Error::protocol(PROVIDER, "the certification does not have the expected fields"))?;
    if certification.imp_uid.is_empty() {
        return Err(Error::protocol(PROVIDER, "the certification has no imp_uid"));
    }
    Ok(certification)
}

#[async_trait]
impl WindowVerifier for PortoneV1Client {
    fn provider(&self) -> ProviderId {
        PROVIDER
    }

    async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error> {
        if !request.return_url.starts_with("https://") && !request.return_url.starts_with("http://") {
            return Err(Error::invalid_input("return_url", "must be an absolute http(s) URL"));
        }
        let merchant_uid = request.verification_id.as_str().to_owned();
        // The caller's prefill, which passes through the person's browser: Danal fills in the
        // name and number and offers only the carrier given (PortOne documents these for Danal
        // only), and shows the company as the service's name.
        let prefill = request.prefill.as_ref();
        let launch = IamportLaunch {
            script_url: self.config.script_url.clone(),
            merchant_code: self.config.merchant_code.clone(),
            params: IamportParams {
                merchant_uid: merchant_uid.clone(),
                channel_key: self.config.channel_key.clone(),
                pg: if self.config.channel_key.is_some() { None } else { self.config.pg.clone() },
                m_redirect_url: Some(request.return_url.clone()),
                min_age: request.min_age,
                popup: Some(request.display == Display::Popup),
                name: prefill.and_then(|p| p.name.clone()),
                phone: prefill.and_then(|p| p.phone.clone()),
                carrier: prefill.and_then(|p| p.carrier).or(request.carrier_hint).map(|c| danal_carrier(c).to_owned()),
                company: self.config.company.clone(),
            },
        }
        .to_launch()?;
        Ok(WindowStart::new(launch, write_state(PROVIDER, &WindowState { merchant_uid })?))
    }

    /// Decides on the certification PortOne holds for the `imp_uid` the browser brought back,
    /// never on the browser's `success` or `error_code`.
    ///
    /// Only a certified certification for this verification's `merchant_uid` completes it. Nothing
    /// else the landing can bring ends it, because nothing else is the person's own answer: the
    /// landing is open, the `merchant_uid` is the verification id, and `IMP.init`'s merchant code
    /// and the channel key are public in the launch. Anyone who knows a pending id can therefore
    /// open `IMP.certification` with it, close the window, and post the resulting `imp_uid`; PortOne
    /// then holds a record for the right `merchant_uid` with `certified: false`, which says that
    /// *someone's* window ended without a verified person, not that this person gave up. So:
    ///
    /// - `certified: false` (cancelled, failed, or under `min_age`; PortOne does not tell these
    ///   apart) is [`Error::Unconfirmed`], with the browser's `error_code` for display
    ///   (`error_code:<code>`, else `certified:false`); the verification stays open until the person
    ///   finishes or it expires.
    /// - No record (404, which PortOne may also answer for a certification that is not certified)
    ///   is [`Error::Unconfirmed`] too (`error_code:<code>`, else `http404:-1`), as is any other
    ///   refusal of a lookup whose `imp_uid` the browser chose (`lookup:<code>`).
    /// - A certification made for another verification is [`Error::IntegrityMismatch`].
    async fn complete(&self, session: &Verification, callback: &CallbackParams) -> Result<Completion, Error> {
        session.ensure_open(self.clock.now())?;
        let state: WindowState = read_state(PROVIDER, session)?;
        for field in ["imp_uid", "merchant_uid", "success"] {
            if callback.is_repeated(field) {
                return Err(Error::integrity("a callback parameter appears more than once"));
            }
        }
        if let Some(reported) = callback.get("merchant_uid").filter(|m| !m.is_empty())
            && reported != state.merchant_uid
        {
            return Err(Error::integrity("the callback's merchant_uid is not this verification's"));
        }
        let imp_uid = callback.require("imp_uid")?;
        // A refused token or lookup says nothing about the person: it never ends the verification.
        let read = self.read(imp_uid).await.map_err(|error| match error {
            Error::Rejected { code, .. } => Error::unconfirmed(PROVIDER, format!("lookup:{code}")),
            other => other,
        })?;
        let certification = match read {
            Ok(certification) => certification,
            Err(V1Error::NotFound { .. }) => {
                return Err(Error::unconfirmed(PROVIDER, window_code(callback, "http404:-1")));
            }
            Err(error @ (V1Error::Api { .. } | V1Error::Http { status: 400..=499, .. })) => {
                return Err(Error::unconfirmed(PROVIDER, format!("lookup:{}", error.provider_code())));
            }
            Err(error) => return Err(error.into_error("certification lookup", true)),
        };
        ensure_owner(&certification, &state.merchant_uid)?;
        if !certification.certified {
            return Err(Error::unconfirmed(PROVIDER, window_code(callback, "certified:false")));
        }
        self.accept(&certification)
    }

    async fn after_commit(&self, session: &Verification, work: &ProviderState) -> Result<(), Error> {
        let _ = session;
        self.after_commit_work(work).await
    }
}

#[async_trait]
impl OtpVerifier for PortoneV1Client {
    fn provider(&self) -> ProviderId {
        PROVIDER
    }

    /// `otp/request`. Through a KCP channel (`pg_provider = "kcp_v2"`) it also carries what KCP
    /// requires: `verification_method` (`SMS` or `APP`) and `bypass.kcpV2` with the configured
    /// `media_type` and, where set, `web_siteid`, `cp_sms_msg` and `cp_callback`; a Danal request
    /// names only a non-SMS method.
    async fn send(&self, request: &OtpRequest) -> Result<OtpDispatch, Error> {
        let kcp = self.config.pg() == Pg::KcpV2;
        let method = match request.channel {
            OtpChannel::Sms if kcp => Some("SMS"),
            OtpChannel::Sms => None,
            OtpChannel::App => Some("APP"),
            _ => return Err(Error::invalid_input("channel", "PortOne V1 sends sms (or app with kcp_v2)")),
        };
        let subject = &request.subject;
        let merchant_uid = request.verification_id.as_str().to_owned();
        let base_carrier = carrier_name(subject.carrier, "LGT");
        let mut body = json!({
            "name": subject.name.expose(),
            "phone": subject.phone.expose(),
            "birth": subject.birth_date.yymmdd(),
            "gender_digit": subject.rrn_gender_digit().to_string(),
            "carrier": base_carrier.trim_end_matches("_MVNO"),
            "is_mvno": subject.carrier.is_mvno(),
            "merchant_uid": merchant_uid,
        });
        if let Some(company) = &self.config.company {
            body["company"] = json!(company);
        }
        if let Some(channel_key) = &self.config.channel_key {
            body["channel_key"] = json!(channel_key);
        } else if let Some(pg) = &self.config.pg {
            body["pg"] = json!(pg);
        }
        if let Some(method) = method {
            body["verification_method"] = json!(method);
        }
        if kcp {
            let config = &self.config;
            let bypass = kcp_otp_bypass(
                &config.kcp_media_type,
                config.kcp_web_siteid.as_deref(),
                config.kcp_sms_message.as_deref(),
                config.kcp_callback.as_deref(),
            );
            body["bypass"] = if config.kcp_bypass_as_json_string { json!(bypass.to_string()) } else { bypass };
        }
        // Sends an SMS: never repeated automatically.
        let value = self
            .call("portone_v1.otp_request", HttpMethod::Post, "/certifications/otp/request", Some(&body))
            .await?
            .map_err(|e| e.into_error("OTP request", false))?;
        let imp_uid =
            text(&value, "imp_uid").ok_or_else(|| Error::protocol(PROVIDER, "OTP request: imp_uid missing"))?;
        let state = OtpState { merchant_uid, imp_uid: imp_uid.clone() };
        Ok(OtpDispatch::new(write_state(PROVIDER, &state)?).with_provider_key(Self::provider_key(&imp_uid)))
    }

    /// PortOne V1 has no resend call: a new `otp/request` would need the person's details again
    /// (bonin does not keep them), so a new verification is the way to send another code.
    async fn resend(&self, session: &Verification) -> Result<OtpDispatch, Error> {
        let _ = session;
        Err(Error::invalid_input("resend", "PortOne V1 has no resend; start a new verification to send another code"))
    }

    /// A refused confirm (HTTP 400 or a `code ≠ 0`) counts as one wrong code, unless the
    /// certification turns out to be certified already (a confirm that went through but whose
    /// answer was lost), in which case that result is used. A certification that is not certified
    /// may read back as 404 rather than `certified: false`: that is a wrong code too. PortOne
    /// publishes no OTP error codes.
    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        let state: OtpState = read_state(PROVIDER, session)?;
        let body = match &code {
            Some(code) => json!({"otp": code.expose()}),
            None => json!({}),
        };
        let path = format!("/certifications/otp/confirm/{}", encode(&state.imp_uid));
        match self.call("portone_v1.otp_confirm", HttpMethod::Post, &path, Some(&body)).await? {
            Ok(value) => {
                let certification = decode_certification(value)?;
                if !certification.certified {
                    return Err(Error::protocol(PROVIDER, "OTP confirm: success without certified"));
                }
                ensure_owner(&certification, &state.merchant_uid)?;
                Ok(OtpOutcome::Verified(self.accept(&certification)?))
            }
            Err(error @ (V1Error::Api { .. } | V1Error::Http { status: 400, .. })) => {
                match self.read(&state.imp_uid).await? {
                    Ok(certification) if certification.certified => {
                        ensure_owner(&certification, &state.merchant_uid)?;
                        return Ok(OtpOutcome::Verified(self.accept(&certification)?));
                    }
                    Ok(_) | Err(V1Error::NotFound { .. }) => {}
                    Err(other) => return Err(other.into_error("certification lookup", true)),
                }
                Ok(OtpOutcome::WrongCode { retry_state: None, provider_code: error.provider_code() })
            }
            Err(error) => Err(error.into_error("OTP confirm", false)),
        }
    }

    async fn after_commit(&self, session: &Verification, work: &ProviderState) -> Result<(), Error> {
        let _ = session;
        self.after_commit_work(work).await
    }
}
