//! The NICE calls and the window flow.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_http::{
    HttpClient, HttpConfig, HttpRequest, HttpResponse, Idempotency, ReqwestTransport, RetryPolicy,
};
use bonin_domain::{
    BirthDate, CallbackParams, Carrier, Ci, Clock, Completion, Dependency, Di, Display, Error, ExposeSecret, FlowRules,
    FormField, FormLaunch, Gender, IssuedToken, KST, Launch, Name, Nationality, PhoneNumber, ProviderId, ProviderKey,
    ProviderState, ProviderTxId, RefreshPolicy, SecretString, SharedTokens, SystemClock, Timestamp, Token, TokenCache,
    TokenCacheStats, TokenSource, Verification, VerifiedIdentity, WindowRequest, WindowStart, WindowVerifier,
};
use serde::{Deserialize, Serialize};
use time::{PrimitiveDateTime, format_description::BorrowedFormatItem, macros::format_description};

use crate::{
    CallbackMethod, NiceConfig, RevokeScheme,
    codes::{self, Class},
    crypto::{SessionKeys, derive_session_keys},
    wire,
};

const TOKEN_PATH: &str = "/digital/niceid/oauth/oauth/token";
const REVOKE_PATH: &str = "/digital/niceid/oauth/oauth/token/revokeById";
const CRYPTO_TOKEN_PATH: &str = "/digital/niceid/api/v1.0/common/crypto/token";
const NICE_TIME: &[BorrowedFormatItem<'static>] = format_description!("[year][month][day][hour][minute][second]");
/// NICE's limit on `returnurl`.
const MAX_RETURN_URL: usize = 250;

fn nice_time(at: Timestamp) -> String {
    at.to_offset(KST).format(NICE_TIME).unwrap_or_default()
}

fn b64(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

/// Reads a NICE envelope from any HTTP answer; an answer that is not one becomes `Unavailable` (5xx)
/// or `Protocol`.
fn envelope(response: &HttpResponse, what: &'static str) -> Result<wire::Envelope, Error> {
    // NICE may label the body `charset=UTF8`; the bytes are decoded as UTF-8 whatever the header says.
    serde_json::from_slice::<wire::Envelope>(&response.body).map_err(|_| {
        if response.status >= 500 {
            Error::Unavailable {
                dependency: Dependency::Provider(ProviderId::Nice),
                reason: format!("{what}: HTTP {}", response.status).into(),
            }
        } else {
            Error::protocol(
                ProviderId::Nice,
                format!("{what}: the reply is not a NICE envelope (HTTP {})", response.status),
            )
        }
    })
}

/// Gateway layer: `Ok(None)` when 1200, `Ok(Some(message))` for a rejected token (1800).
fn check_gateway(envelope: &wire::Envelope) -> Result<Option<Option<String>>, Error> {
    let code = envelope.header.gw_rslt_cd.as_str();
    match codes::classify(codes::GATEWAY, code) {
        Class::Ok => Ok(None),
        Class::TokenRejected => Ok(Some(envelope.header.gw_rslt_msg.clone())),
        class => Err(codes::to_error("GW_RSLT_CD", code, class, envelope.header.gw_rslt_msg.clone())),
    }
}

fn body<T: for<'de> Deserialize<'de>>(envelope: wire::Envelope, what: &'static str) -> Result<T, Error> {
    serde_json::from_value(envelope.body)
        .map_err(|_| Error::protocol(ProviderId::Nice, format!("{what}: dataBody does not have the expected fields")))
}

/// Issues the institution access token (E1).
struct AccessTokenSource {
    config: Arc<NiceConfig>,
    http: HttpClient,
    preissued: Mutex<Option<SecretString>>,
}

#[async_trait]
impl TokenSource for AccessTokenSource {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        // A configured token is used first; once NICE rejects it, the credentials issue a new one.
        if let Some(value) = self.preissued.lock().unwrap_or_else(PoisonError::into_inner).take() {
            return Ok(IssuedToken { value, lifetime: Duration::from_secs(50 * 365 * 24 * 3600) });
        }
        let basic = format!("{}:{}", self.config.client_id, self.config.client_secret.expose_secret());
        let request = HttpRequest::post("nice.access_token", format!("{}{TOKEN_PATH}", self.config.api_base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Authorization", format!("Basic {}", b64(&basic)))
            .body(b"grant_type=client_credentials&scope=default".to_vec())
            // Issuing a token twice is harmless.
            .idempotency(Idempotency::Idempotent);
        let response = self.http.send(request).await?;
        let envelope = envelope(&response, "access token")?;
        if check_gateway(&envelope)?.is_some() {
            return Err(Error::misconfigured(
                "NICE refused the client credentials (gateway 1800); check client_id and client_secret",
            ));
        }
        let token: wire::AccessTokenBody = body(envelope, "access token")?;
        if token.access_token.is_empty() || !token.expires_in.is_finite() || token.expires_in <= 0.0 {
            return Err(Error::protocol(ProviderId::Nice, "access token: empty token or non-positive expires_in"));
        }
        Ok(IssuedToken {
            value: SecretString::from(token.access_token),
            lifetime: Duration::from_secs_f64(token.expires_in.min(100.0 * 365.0 * 24.0 * 3600.0)),
        })
    }
}

/// A crypto token (E3 reply).
struct CryptoToken {
    site_code: String,
    token_version_id: String,
    token_val: SecretString,
    period: Duration,
}

enum CryptoAttempt {
    Issued(CryptoToken),
    TokenRejected(Option<String>),
}

/// What the callback needs, stored with the session (secret).
#[derive(Serialize, Deserialize)]
struct StoredState {
    key: String,
    iv: String,
    hmac_key: String,
    requestno: String,
    token_version_id: String,
    /// The crypto token's `site_code` (absent in sessions stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    site_code: Option<String>,
}

/// Whether a result's `sitecode` names this site: the crypto token's `site_code` as issued, its
/// Base64-decoded text, or the configured site code. A result without one, or a session that knows
/// no site code, passes.
fn names_this_site(reported: Option<&str>, issued: Option<&str>, configured: Option<&str>) -> bool {
    let Some(reported) = reported.map(str::trim).filter(|r| !r.is_empty()) else {
        return true;
    };
    let decoded = issued.and_then(|i| STANDARD.decode(i.trim()).ok()).and_then(|bytes| String::from_utf8(bytes).ok());
    let known: Vec<&str> = [issued, decoded.as_deref(), configured]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    known.is_empty() || known.contains(&reported)
}

/// The NICE adapter. Holds no per-verification state; cheap to share behind an `Arc`.
pub struct NiceClient {
    config: Arc<NiceConfig>,
    http: HttpClient,
    tokens: TokenCache<Arc<dyn TokenSource>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for NiceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NiceClient").field("config", &self.config).field("tokens", &self.tokens).finish_non_exhaustive()
    }
}

impl NiceClient {
    /// A client over `http` (which must speak for [`ProviderId::Nice`]) on `clock`.
    pub fn new(config: NiceConfig, http: HttpClient, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        Self::build(config, http, clock, None)
    }

    /// [`NiceClient::new`], with the access token shared between the instances of a deployment
    /// (see [`SharedTokens`]) under the name `nice:<client_id>`.
    pub fn with_shared_tokens(
        config: NiceConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        shared: Arc<dyn SharedTokens>,
    ) -> Result<Self, Error> {
        Self::build(config, http, clock, Some(shared))
    }

    fn build(
        config: NiceConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        shared: Option<Arc<dyn SharedTokens>>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let config = Arc::new(config);
        let source = AccessTokenSource {
            config: config.clone(),
            http: http.clone(),
            preissued: Mutex::new(config.access_token.clone()),
        };
        let name = format!("nice:{}", config.client_id);
        let tokens = TokenCache::maybe_shared(source, shared, name, clock.clone(), RefreshPolicy::default());
        Ok(Self { config, http, tokens, clock })
    }

    /// A client with the default HTTP settings and the system clock.
    pub fn from_config(config: NiceConfig) -> Result<Self, Error> {
        let transport = ReqwestTransport::new(&HttpConfig::default())?;
        let http = HttpClient::new(ProviderId::Nice, Arc::new(transport), RetryPolicy::default());
        Self::new(config, http, Arc::new(SystemClock::new()))
    }

    /// The configuration in use.
    pub fn config(&self) -> &NiceConfig {
        &self.config
    }

    /// The institution access token (cached; issued on first use).
    pub async fn access_token(&self) -> Result<Token, Error> {
        self.tokens.get().await
    }

    /// Token cache counters, for metrics.
    pub fn token_stats(&self) -> TokenCacheStats {
        self.tokens.stats()
    }

    /// The lookup key a callback carries (`token_version_id`), for finding its session.
    pub fn callback_key(callback: &CallbackParams) -> Option<ProviderKey> {
        callback.get("token_version_id").filter(|v| !v.is_empty()).map(|v| ProviderKey::new(ProviderId::Nice, v))
    }

    fn signed_token_header(&self, scheme: &str, token: &Token) -> String {
        let stamp = self.clock.now().unix_timestamp();
        format!("{scheme} {}", b64(&format!("{}:{stamp}:{}", token.expose_secret(), self.config.client_id)))
    }

    /// Revokes the access token at NICE (E2) and drops it from the cache. Returns NICE's verdict.
    pub async fn revoke_access_token(&self) -> Result<bool, Error> {
        let token = self.tokens.get().await?;
        let scheme = match self.config.revoke_scheme {
            RevokeScheme::Basic => "Basic",
            RevokeScheme::Bearer => "bearer",
        };
        let request = HttpRequest::post("nice.revoke", format!("{}{REVOKE_PATH}", self.config.api_base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Authorization", self.signed_token_header(scheme, &token))
            .idempotency(Idempotency::Idempotent);
        let response = self.http.send(request).await?;
        let envelope = envelope(&response, "revoke")?;
        if let Some(message) = check_gateway(&envelope)? {
            return Err(codes::to_error("GW_RSLT_CD", "1800", Class::Rejected, message));
        }
        let revoked: wire::RevokeBody = body(envelope, "revoke")?;
        let revoked = match revoked.result {
            serde_json::Value::String(s) => s == "true",
            serde_json::Value::Bool(b) => b,
            _ => return Err(Error::protocol(ProviderId::Nice, "revoke: result is neither \"true\" nor \"false\"")),
        };
        if revoked {
            self.tokens.invalidate();
        }
        Ok(revoked)
    }

    async fn request_crypto_token(&self, token: &Token, req_dtim: &str, req_no: &str) -> Result<CryptoAttempt, Error> {
        let payload = wire::CryptoTokenRequest {
            header: wire::CryptoTokenRequestHeader { cnty_cd: "ko" },
            body: wire::CryptoTokenRequestBody { req_dtim, req_no, enc_mode: "1" },
        };
        let json =
            serde_json::to_vec(&payload).map_err(|_| Error::misconfigured("crypto token request did not serialize"))?;
        let request = HttpRequest::post("nice.crypto_token", format!("{}{CRYPTO_TOKEN_PATH}", self.config.api_base))
            .header("Content-Type", "application/json")
            .header("Authorization", self.signed_token_header("bearer", token))
            .header("ProductID", self.config.product_id.clone())
            .header("client_id", self.config.client_id.clone())
            .body(json)
            // A second crypto token for the same req_no is harmless: only the one returned is used.
            .idempotency(Idempotency::Idempotent);
        let response = self.http.send(request).await?;
        let envelope = envelope(&response, "crypto token")?;
        if let Some(message) = check_gateway(&envelope)? {
            return Ok(CryptoAttempt::TokenRejected(message));
        }
        let body: wire::CryptoTokenBody = body(envelope, "crypto token")?;
        let class = codes::classify(codes::RESPONSE, &body.rsp_cd);
        if class != Class::Ok {
            return Err(codes::to_error("rsp_cd", &body.rsp_cd, class, body.res_msg));
        }
        let result_cd = body.result_cd.unwrap_or_default();
        let class = codes::classify(codes::CRYPTO_TOKEN_RESULT, &result_cd);
        if class != Class::Ok {
            return Err(codes::to_error("result_cd", &result_cd, class, None));
        }
        let missing =
            |field: &'static str| Error::protocol(ProviderId::Nice, format!("crypto token: `{field}` missing"));
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let period = body.period.filter(|p| p.is_finite() && *p > 0.0).ok_or_else(|| missing("period"))?;
        Ok(CryptoAttempt::Issued(CryptoToken {
            site_code: non_empty(body.site_code).ok_or_else(|| missing("site_code"))?,
            token_version_id: non_empty(body.token_version_id).ok_or_else(|| missing("token_version_id"))?,
            token_val: SecretString::from(non_empty(body.token_val).ok_or_else(|| missing("token_val"))?),
            period: Duration::from_secs_f64(period.min(86_400.0)),
        }))
    }

    /// E3, refreshing the access token once if NICE rejects it (1800).
    async fn crypto_token(&self, req_dtim: &str, req_no: &str) -> Result<CryptoToken, Error> {
        let refused = |attempt: &CryptoAttempt| {
            let refused = matches!(attempt, CryptoAttempt::TokenRejected(_));
            if refused {
                tracing::info!(provider = "nice", "access token rejected (1800); issuing a new one and retrying once");
            }
            refused
        };
        let attempt = self
            .tokens
            .call_with_refresh(
                refused,
                |token| async move { self.request_crypto_token(&token, req_dtim, req_no).await },
            )
            .await?;
        match attempt {
            CryptoAttempt::Issued(crypto) => Ok(crypto),
            CryptoAttempt::TokenRejected(message) => {
                Err(codes::to_error("GW_RSLT_CD", "1800", Class::Rejected, message))
            }
        }
    }
}

fn carrier_preselection(carrier: Carrier) -> &'static str {
    match carrier.network() {
        Carrier::Kt => "K",
        Carrier::Lgu => "L",
        _ => "S",
    }
}

/// Base64 never contains spaces: a query parser that turned `+` into a space is undone here.
fn restore_plus(value: &str) -> String {
    value.replace(' ', "+")
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Logs (without the value) that an optional field was unusable and leaves it empty.
fn tolerate<T>(field: &'static str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        tracing::warn!(provider = "nice", field, "NICE sent an unexpected value; the field is left empty");
    }
    value
}

fn decode_utf8_name(encoded: &str) -> Option<String> {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(|s| s.into_owned())
}

fn to_identity(result: &wire::ResultPlaintext, now: Timestamp) -> VerifiedIdentity {
    let verified_at = present(&result.enctime)
        .and_then(|t| PrimitiveDateTime::parse(t, NICE_TIME).ok())
        // A time that has no UTC reading (year -9999 in KST) is no time at all.
        .and_then(|t| t.assume_offset(KST).checked_to_offset(time::UtcOffset::UTC))
        .unwrap_or(now);
    let mut identity = VerifiedIdentity::new(ProviderId::Nice, verified_at);
    identity.name = present(&result.utf8_name)
        .and_then(decode_utf8_name)
        .or_else(|| present(&result.name).map(str::to_owned))
        .and_then(|n| tolerate("name", Name::new(n).ok()));
    identity.birth_date = present(&result.birthdate).and_then(|b| tolerate("birthdate", BirthDate::parse(b).ok()));
    identity.gender = present(&result.gender).and_then(|g| {
        tolerate(
            "gender",
            match g {
                "1" => Some(Gender::Male),
                "0" => Some(Gender::Female),
                _ => None,
            },
        )
    });
    identity.nationality = present(&result.nationalinfo).and_then(|n| {
        tolerate(
            "nationalinfo",
            match n {
                "0" => Some(Nationality::Domestic),
                "1" => Some(Nationality::Foreign),
                _ => None,
            },
        )
    });
    identity.carrier = present(&result.mobileco).and_then(|c| {
        tolerate(
            "mobileco",
            match c {
                "1" => Some(Carrier::Skt),
                "2" => Some(Carrier::Kt),
                "3" => Some(Carrier::Lgu),
                "5" => Some(Carrier::SktMvno),
                "6" => Some(Carrier::KtMvno),
                "7" => Some(Carrier::LguMvno),
                _ => None,
            },
        )
    });
    identity.phone = present(&result.mobileno).and_then(|p| tolerate("mobileno", PhoneNumber::new(p).ok()));
    identity.ci = present(&result.ci).and_then(|c| tolerate("ci", Ci::new(c).ok()));
    identity.di = present(&result.di).and_then(|d| tolerate("di", Di::new(d).ok()));
    identity.provider_tx_id = present(&result.responseno).and_then(|r| ProviderTxId::new(r).ok());
    identity
}

#[async_trait]
impl WindowVerifier for NiceClient {
    fn provider(&self) -> ProviderId {
        ProviderId::Nice
    }

    fn rules(&self) -> FlowRules {
        crate::FLOW_RULES
    }

    async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error> {
        let return_url = request.return_url.as_str();
        if !self.config.accepts_return_url(return_url) {
            return Err(Error::invalid_input(
                "return_url",
                "must be an absolute http(s) URL or use an app scheme listed in providers.nice.app_return_schemes",
            ));
        }
        // An app is reached only by a redirect: NICE must deliver its result by GET.
        let methodtype =
            if self.config.is_app_return_url(return_url) { CallbackMethod::Get } else { self.config.callback_method };
        if return_url.len() > MAX_RETURN_URL {
            return Err(Error::invalid_input("return_url", "NICE accepts at most 250 characters"));
        }
        let now = self.clock.now();
        let req_dtim = nice_time(now);
        let req_no = request.verification_id.as_str();
        let crypto = self.crypto_token(&req_dtim, req_no).await?;
        let keys = derive_session_keys(&req_dtim, req_no, crypto.token_val.expose_secret());
        let plaintext = wire::WindowRequestPlaintext {
            requestno: req_no,
            returnurl: return_url,
            sitecode: &crypto.site_code,
            authtype: self.config.auth_type.as_deref(),
            mobilceco: request.carrier_hint.map(carrier_preselection),
            methodtype: Some(methodtype.as_str()),
            popupyn: Some(if request.display == Display::Popup { "Y" } else { "N" }),
            receivedata: None,
        };
        let plaintext =
            serde_json::to_vec(&plaintext).map_err(|_| Error::misconfigured("window request did not serialize"))?;
        let enc_data = keys.encrypt(&plaintext)?;
        let integrity_value = keys.integrity_value(&enc_data);
        let (key, iv, hmac_key) = keys.to_stored();
        let state = StoredState {
            key,
            iv,
            hmac_key,
            requestno: req_no.to_owned(),
            token_version_id: crypto.token_version_id.clone(),
            site_code: Some(crypto.site_code.clone()),
        };
        let state =
            serde_json::to_string(&state).map_err(|_| Error::misconfigured("session state did not serialize"))?;
        let field = |name: &str, value: &str| FormField { name: name.to_owned(), value: value.to_owned() };
        let launch = Launch::Form(FormLaunch {
            action: self.config.window_url.clone(),
            method: self.config.window_form_method,
            fields: vec![
                field("m", "service"),
                field("token_version_id", &crypto.token_version_id),
                field("enc_data", &enc_data),
                field("integrity_value", &integrity_value),
            ],
        });
        Ok(WindowStart::new(launch, ProviderState::new(state))
            .with_provider_key(ProviderKey::new(ProviderId::Nice, crypto.token_version_id))
            .with_valid_until(now + crypto.period))
    }

    async fn complete(&self, session: &Verification, callback: &CallbackParams) -> Result<Completion, Error> {
        session.ensure_open(self.clock.now())?;
        let state = session.provider_state().ok_or(Error::AlreadyCompleted)?;
        let state: StoredState = serde_json::from_str(state.expose()).map_err(|_| Error::Indeterminate {
            dependency: Dependency::Store,
            reason: "the stored NICE session state could not be read".into(),
        })?;
        for name in ["token_version_id", "enc_data", "integrity_value"] {
            if callback.is_repeated(name) {
                return Err(Error::integrity("a callback parameter appears more than once"));
            }
        }
        if callback.require("token_version_id")? != state.token_version_id {
            return Err(Error::integrity("the callback belongs to another NICE session"));
        }
        let enc_data = restore_plus(callback.require("enc_data")?);
        let integrity_value = restore_plus(callback.require("integrity_value")?);
        let keys = SessionKeys::from_stored(&state.key, &state.iv, &state.hmac_key)?;
        keys.verify_integrity(&enc_data, &integrity_value)?;
        let plaintext = keys.decrypt(&enc_data)?;
        // NICE encodes the result as EUC-KR; CP949 (what encoding_rs calls EUC-KR) is a superset.
        let text = encoding_rs::EUC_KR
            .decode_without_bom_handling_and_without_replacement(&plaintext)
            .ok_or_else(|| Error::protocol(ProviderId::Nice, "the result is not EUC-KR text"))?;
        let result: wire::ResultPlaintext = serde_json::from_str(&text)
            .map_err(|_| Error::protocol(ProviderId::Nice, "the result is not the expected JSON"))?;
        if result.requestno != state.requestno {
            return Err(Error::integrity("requestno does not match this session"));
        }
        // The format of the result's `sitecode` is not published: with `site_code` configured it
        // must match; without, a mismatch is only reported (the HMAC already binds the result to
        // this session's keys), so an unforeseen spelling cannot refuse every real result.
        let matches =
            names_this_site(result.sitecode.as_deref(), state.site_code.as_deref(), self.config.site_code.as_deref());
        if !matches && self.config.site_code.is_some() {
            return Err(Error::integrity("the result's sitecode names another site"));
        }
        if !matches {
            tracing::warn!(
                provider = "nice",
                "the result's sitecode matches neither spelling of the crypto token's site_code; set providers.nice.site_code to check it"
            );
        }
        if result.resultcode != "0000" {
            return Err(Error::rejected(ProviderId::Nice, format!("resultcode:{}", result.resultcode), None));
        }
        Ok(Completion::new(to_identity(&result, self.clock.now())))
    }
}
