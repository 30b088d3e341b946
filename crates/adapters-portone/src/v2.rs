//! PortOne V2: identity verifications with `Authorization: PortOne <secret>`.

use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use aws_lc_rs::digest;
use bonin_adapters_http::{
    HttpClient, HttpConfig, HttpMethod, HttpRequest, HttpResponse, Idempotency, ReqwestTransport, RetryPolicy,
};
use bonin_domain::{
    BirthDate, CallbackParams, Ci, Clock, Completion, Dependency, Di, Error, ExposeSecret, Gender, Name, Nationality,
    OtpChannel, OtpCode, OtpDispatch, OtpOutcome, OtpRequest, OtpVerifier, PhoneNumber, ProviderId, ProviderKey,
    ProviderTxId, SystemClock, Verification, VerificationId, VerifiedIdentity, WindowRequest, WindowStart,
    WindowVerifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    DanalBypass, KcpV2Bypass, PortoneBypass, PortoneCustomer, PortoneLaunch, PortoneParams, PortoneV2Config,
    PortoneWindowType,
    common::{
        carrier_name, danal_carrier, encode, kcp_otp_bypass, parse_carrier, read_state, storable_time, text,
        write_state,
    },
    config::Pg,
};

const PROVIDER: ProviderId = ProviderId::PortoneV2;
/// How often a request is sent again after a timeout or while PortOne reports the same
/// Idempotency-Key as still in flight.
const KEYED_ATTEMPTS: u32 = 6;

/// The `type` of a V2 error body. New types may appear at any time: they are kept in
/// [`V2ErrorType::Unknown`], never flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum V2ErrorType {
    /// 400.
    InvalidRequest,
    /// 401: the API secret was refused.
    Unauthorized,
    /// 403: the credential may not use this store.
    Forbidden,
    /// 404.
    IdentityVerificationNotFound,
    /// 404: confirm or resend before send.
    IdentityVerificationNotSent,
    /// 409.
    IdentityVerificationAlreadyVerified,
    /// 409: send while a sent attempt is pending.
    IdentityVerificationAlreadySent,
    /// 404: unknown `channelKey`.
    ChannelNotFound,
    /// 400: attempt cap.
    MaxTransactionCountReached,
    /// 502: the PG refused (e.g. a wrong code).
    PgProvider {
        /// The PG's code.
        pg_code: String,
        /// The PG's message.
        pg_message: String,
    },
    /// 409: a request with the same Idempotency-Key is still being processed.
    IdempotencyOutstandingRequest,
    /// A type this version of bonin does not know, verbatim.
    Unknown(String),
}

impl V2ErrorType {
    fn parse(kind: &str, body: &Value) -> Self {
        match kind {
            "INVALID_REQUEST" => Self::InvalidRequest,
            "UNAUTHORIZED" => Self::Unauthorized,
            "FORBIDDEN" => Self::Forbidden,
            "IDENTITY_VERIFICATION_NOT_FOUND" => Self::IdentityVerificationNotFound,
            "IDENTITY_VERIFICATION_NOT_SENT" => Self::IdentityVerificationNotSent,
            "IDENTITY_VERIFICATION_ALREADY_VERIFIED" => Self::IdentityVerificationAlreadyVerified,
            "IDENTITY_VERIFICATION_ALREADY_SENT" => Self::IdentityVerificationAlreadySent,
            "CHANNEL_NOT_FOUND" => Self::ChannelNotFound,
            "MAX_TRANSACTION_COUNT_REACHED" => Self::MaxTransactionCountReached,
            "PG_PROVIDER" => Self::PgProvider {
                pg_code: text(body, "pgCode").unwrap_or_default(),
                pg_message: text(body, "pgMessage").unwrap_or_default(),
            },
            "IDEMPOTENCY_OUTSTANDING_REQUEST" => Self::IdempotencyOutstandingRequest,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The type as PortOne spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::IdentityVerificationNotFound => "IDENTITY_VERIFICATION_NOT_FOUND",
            Self::IdentityVerificationNotSent => "IDENTITY_VERIFICATION_NOT_SENT",
            Self::IdentityVerificationAlreadyVerified => "IDENTITY_VERIFICATION_ALREADY_VERIFIED",
            Self::IdentityVerificationAlreadySent => "IDENTITY_VERIFICATION_ALREADY_SENT",
            Self::ChannelNotFound => "CHANNEL_NOT_FOUND",
            Self::MaxTransactionCountReached => "MAX_TRANSACTION_COUNT_REACHED",
            Self::PgProvider { .. } => "PG_PROVIDER",
            Self::IdempotencyOutstandingRequest => "IDEMPOTENCY_OUTSTANDING_REQUEST",
            Self::Unknown(kind) => kind,
        }
    }
}

/// A V2 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct V2Error {
    /// The HTTP status.
    pub status: u16,
    /// The `type`.
    pub kind: V2ErrorType,
    /// PortOne's message.
    pub message: Option<String>,
}

impl V2Error {
    /// Reads a non-2xx answer; `None` when the body is not a V2 error body.
    pub fn parse(response: &HttpResponse) -> Option<Self> {
        let body: Value = serde_json::from_slice(&response.body).ok()?;
        let kind = text(&body, "type")?;
        Some(Self { status: response.status, kind: V2ErrorType::parse(&kind, &body), message: text(&body, "message") })
    }

    /// The provider code kept in domain errors: the type, plus the PG code for `PG_PROVIDER`.
    pub fn provider_code(&self) -> String {
        match &self.kind {
            V2ErrorType::PgProvider { pg_code, .. } => format!("PG_PROVIDER:{pg_code}"),
            kind => kind.as_str().to_owned(),
        }
    }

    /// The domain error.
    pub fn into_error(self) -> Error {
        let code = self.provider_code();
        match self.kind {
            V2ErrorType::Unauthorized => Error::misconfigured(
                "PortOne V2 refused the API secret (UNAUTHORIZED); check providers.portone_v2.api_secret",
            ),
            V2ErrorType::Forbidden => Error::misconfigured(
                "PortOne V2 refused access to the store (FORBIDDEN); check providers.portone_v2.store_id",
            ),
            V2ErrorType::ChannelNotFound => Error::misconfigured(
                "PortOne V2 does not know the channel (CHANNEL_NOT_FOUND); check providers.portone_v2.channel_key",
            ),
            V2ErrorType::IdentityVerificationAlreadyVerified => Error::AlreadyCompleted,
            V2ErrorType::IdempotencyOutstandingRequest => Error::Indeterminate {
                dependency: Dependency::Provider(PROVIDER),
                reason: "the same request is still being processed by PortOne".into(),
            },
            V2ErrorType::PgProvider { pg_message, .. } => {
                Error::rejected(PROVIDER, code, Some(pg_message).filter(|m| !m.is_empty()))
            }
            _ => Error::rejected(PROVIDER, code, self.message),
        }
    }
}

/// An identity verification, by `status`. Unknown statuses are kept.
#[derive(Clone)]
#[non_exhaustive]
pub enum IdentityVerification {
    /// Not finished.
    Ready,
    /// Verified.
    Verified(Box<VerifiedIdentity>),
    /// Failed, with PortOne's `failure` fields.
    Failed {
        /// `failure.reason`.
        reason: Option<String>,
        /// `failure.pgCode`.
        pg_code: Option<String>,
        /// `failure.pgMessage`.
        pg_message: Option<String>,
    },
    /// A status this version of bonin does not know.
    Unknown(String),
}

impl fmt::Debug for IdentityVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready => f.write_str("Ready"),
            Self::Verified(_) => f.write_str("Verified(<identity>)"),
            Self::Failed { reason, pg_code, .. } => {
                f.debug_struct("Failed").field("reason", reason).field("pg_code", pg_code).finish_non_exhaustive()
            }
            Self::Unknown(status) => f.debug_tuple("Unknown").field(status).finish(),
        }
    }
}

impl IdentityVerification {
    /// Reads the object PortOne returns. Every `verifiedCustomer` field but `name` is optional.
    pub fn from_json(value: &Value, now: bonin_domain::Timestamp) -> Result<Self, Error> {
        let status =
            text(value, "status").ok_or_else(|| Error::protocol(PROVIDER, "identity verification: no status"))?;
        Ok(match status.as_str() {
            "READY" => Self::Ready,
            "FAILED" => {
                let failure = value.get("failure").cloned().unwrap_or(Value::Null);
                Self::Failed {
                    reason: text(&failure, "reason"),
                    pg_code: text(&failure, "pgCode"),
                    pg_message: text(&failure, "pgMessage"),
                }
            }
            "VERIFIED" => {
                let customer = value.get("verifiedCustomer").ok_or_else(|| {
                    Error::protocol(PROVIDER, "identity verification: VERIFIED without verifiedCustomer")
                })?;
                let verified_at = text(value, "verifiedAt")
                    .and_then(|t| time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok())
                    .and_then(storable_time)
                    .unwrap_or(now);
                let mut identity = VerifiedIdentity::new(PROVIDER, verified_at);
                identity.name = text(customer, "name").and_then(|n| Name::new(n).ok());
                identity.phone = text(customer, "phoneNumber").and_then(|p| PhoneNumber::new(p).ok());
                identity.birth_date = text(customer, "birthDate").and_then(|b| BirthDate::parse(&b).ok());
                identity.gender = match text(customer, "gender").as_deref() {
                    Some("MALE") => Some(Gender::Male),
                    Some("FEMALE") => Some(Gender::Female),
                    _ => None,
                };
                identity.nationality = match customer.get("isForeigner") {
                    Some(Value::Bool(true)) => Some(Nationality::Foreign),
                    Some(Value::Bool(false)) => Some(Nationality::Domestic),
                    _ => None,
                };
                identity.carrier = text(customer, "operator").and_then(|o| parse_carrier(&o));
                identity.ci = text(customer, "ci").and_then(|c| Ci::new(c).ok());
                identity.di = text(customer, "di").and_then(|d| Di::new(d).ok());
                identity.provider_tx_id = text(value, "pgTxId").and_then(|t| ProviderTxId::new(t).ok());
                Self::Verified(Box::new(identity))
            }
            other => Self::Unknown(other.to_owned()),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct SessionState {
    id: String,
}

/// The Idempotency-Key of one operation on one verification: the same operation with the same body
/// on the same session version gets the same key (so a retry is replayed, not repeated); anything
/// else gets a new one. Sent as an RFC 8941 quoted string.
pub fn idempotency_key(id: &VerificationId, operation: &str, version: u64, body: &[u8]) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in [id.as_str().as_bytes(), operation.as_bytes(), &version.to_be_bytes(), body] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part);
    }
    let hash = context.finish();
    let hex: String = hash.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"bonin-{operation}-{hex}\"")
}

/// The PortOne V2 adapter: window ([`WindowVerifier`]) and OTP ([`OtpVerifier`]) flows.
pub struct PortoneV2Client {
    config: Arc<PortoneV2Config>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for PortoneV2Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortoneV2Client").field("config", &self.config).finish_non_exhaustive()
    }
}

enum Answer {
    Ok(Value),
    Refused(V2Error),
}

impl PortoneV2Client {
    /// A client over `http` (speaking for [`ProviderId::PortoneV2`]) on `clock`.
    pub fn new(config: PortoneV2Config, http: HttpClient, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self { config: Arc::new(config), http, clock })
    }

    /// A client with the default HTTP settings and the system clock.
    pub fn from_config(config: PortoneV2Config) -> Result<Self, Error> {
        let transport = ReqwestTransport::new(&HttpConfig::default())?;
        let http = HttpClient::new(PROVIDER, Arc::new(transport), RetryPolicy::default());
        Self::new(config, http, Arc::new(SystemClock::new()))
    }

    /// The configuration in use.
    pub fn config(&self) -> &PortoneV2Config {
        &self.config
    }

    /// The lookup key of a session (`identityVerificationId` = bonin's id).
    pub fn provider_key(id: &str) -> ProviderKey {
        ProviderKey::new(PROVIDER, id)
    }

    fn path(&self, id: &str, action: Option<&str>) -> String {
        let action = action.map_or(String::new(), |a| format!("/{a}"));
        format!(
            "{}/identity-verifications/{}{action}?storeId={}",
            self.config.api_base,
            encode(id),
            encode(&self.config.store_id)
        )
    }

    /// One call. A POST carries `key`, so after a timeout, or while PortOne reports the key as still
    /// in flight, it is sent again with the same key: PortOne replays the first answer instead of
    /// repeating the operation.
    async fn call(
        &self,
        label: &'static str,
        method: HttpMethod,
        url: String,
        body: Option<Vec<u8>>,
        key: Option<String>,
    ) -> Result<Answer, Error> {
        let mut request = HttpRequest::new(label, method, url)
            .header("Authorization", format!("PortOne {}", self.config.api_secret.expose_secret()))
            .timeout(self.config.timeout());
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let keyed = key.is_some();
        request = match key {
            Some(key) => request.header("Idempotency-Key", key).idempotency(Idempotency::NotIdempotent),
            None => request.idempotency(Idempotency::Idempotent),
        };
        let mut attempt = 1;
        loop {
            let outcome = self.http.send(request.clone()).await;
            let again = match &outcome {
                Err(Error::Indeterminate { .. }) => keyed,
                Ok(response) if response.status == 409 => {
                    matches!(
                        V2Error::parse(response),
                        Some(V2Error { kind: V2ErrorType::IdempotencyOutstandingRequest, .. })
                    )
                }
                _ => false,
            };
            if !again || attempt >= KEYED_ATTEMPTS {
                let response = outcome?;
                return self.read(label, &response);
            }
            tracing::debug!(provider = %PROVIDER, endpoint = label, attempt, "sending again with the same Idempotency-Key");
            tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
            attempt += 1;
        }
    }

    fn read(&self, label: &'static str, response: &HttpResponse) -> Result<Answer, Error> {
        if response.is_success() {
            return serde_json::from_slice::<Value>(&response.body)
                .ok()
                .filter(Value::is_object)
                .map(Answer::Ok)
                .ok_or_else(|| Error::protocol(PROVIDER, format!("{label}: the reply is not a JSON object")));
        }
        match V2Error::parse(response) {
            Some(error) => Ok(Answer::Refused(error)),
            None if response.status >= 500 => Err(Error::Unavailable {
                dependency: Dependency::Provider(PROVIDER),
                reason: format!("{label}: HTTP {}", response.status).into(),
            }),
            None => Err(Error::protocol(PROVIDER, format!("{label}: HTTP {} without an error type", response.status))),
        }
    }

    /// `GET /identity-verifications/{id}`.
    pub async fn identity_verification(&self, id: &str) -> Result<IdentityVerification, Error> {
        match self.call("portone_v2.get", HttpMethod::Get, self.path(id, None), None, None).await? {
            Answer::Ok(value) => IdentityVerification::from_json(&value, self.clock.now()),
            Answer::Refused(V2Error { kind: V2ErrorType::IdentityVerificationNotFound, .. }) => {
                Err(Error::invalid_input("identityVerificationId", "PortOne has no identity verification with this id"))
            }
            Answer::Refused(error) => Err(error.into_error()),
        }
    }

    async fn verified(&self, id: &str) -> Result<Option<Completion>, Error> {
        Ok(match self.identity_verification(id).await? {
            IdentityVerification::Verified(identity) => Some(Completion::new(*identity)),
            _ => None,
        })
    }
}

fn not_yet(status: &str) -> Error {
    Error::Indeterminate {
        dependency: Dependency::Provider(PROVIDER),
        reason: format!("PortOne reports the verification as {status}, not finished; complete it again later").into(),
    }
}

#[async_trait]
impl WindowVerifier for PortoneV2Client {
    fn provider(&self) -> ProviderId {
        PROVIDER
    }

    /// The `requestIdentityVerification` launch. Besides the ids and the landing (with
    /// `forceRedirect`), it carries what the caller and the configuration give:
    ///
    /// - the caller's [`Prefill`](bonin_domain::Prefill) as `customer` (`fullName`, `phoneNumber`,
    ///   `birthYear`/`birthMonth`/`birthDay`); Danal fixes the name and number in its window. This is
    ///   the person's own data, but it passes through their browser with the launch;
    /// - the caller's `custom_data` as `customData` (JSON text, kept by PortOne with its record);
    /// - configured window types, upper-cased as the SDK spells them (`popup` becomes `POPUP`),
    ///   only the ones set;
    /// - per PG, its own `bypass`: Danal (the default) gets `min_age` as `AGELIMIT`, the company as
    ///   `CPTITLE` and the prefilled carrier as `IsCarrier`; a KCP channel gets `kcpV2.web_siteid`
    ///   when configured (the browser SDK takes no other KCP parameter); KG Inicis gets none.
    ///   bonin checks `min_age` against the verified birth date for every PG either way.
    async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error> {
        if !request.return_url.starts_with("https://") && !request.return_url.starts_with("http://") {
            return Err(Error::invalid_input("return_url", "must be an absolute http(s) URL"));
        }
        if let Some(data) = &request.custom_data
            && serde_json::from_str::<serde::de::IgnoredAny>(data).is_err()
        {
            return Err(Error::invalid_input("custom_data", "must be JSON text (PortOne's customData)"));
        }
        let id = request.verification_id.as_str().to_owned();
        let upper =
            |kind: &Option<String>| kind.as_deref().map(|k| k.trim().to_ascii_uppercase()).filter(|k| !k.is_empty());
        let window_type = match (upper(&self.config.window_type_pc), upper(&self.config.window_type_mobile)) {
            (None, None) => None,
            (pc, mobile) => Some(PortoneWindowType { pc, mobile }),
        };
        let prefill = request.prefill.as_ref();
        let customer = prefill.map(|p| {
            let birth = p.birth_date.map(|b| b.expose());
            PortoneCustomer {
                full_name: p.name.clone(),
                phone_number: p.phone.clone(),
                birth_year: birth.map(|b| format!("{:04}", b.year())),
                birth_month: birth.map(|b| format!("{:02}", u8::from(b.month()))),
                birth_day: birth.map(|b| format!("{:02}", b.day())),
            }
        });
        let carrier = prefill.and_then(|p| p.carrier).or(request.carrier_hint);
        let bypass = match self.config.pg() {
            Pg::Danal => {
                let danal = DanalBypass {
                    age_limit: request.min_age.map(u32::from),
                    cp_title: self.config.company.clone(),
                    is_carrier: carrier.map(|c| danal_carrier(c).to_owned()),
                };
                (danal != DanalBypass::default()).then_some(PortoneBypass { danal: Some(danal), kcp_v2: None })
            }
            Pg::KcpV2 => self
                .config
                .kcp_web_siteid
                .clone()
                .map(|site| PortoneBypass { danal: None, kcp_v2: Some(KcpV2Bypass { web_siteid: Some(site) }) }),
            Pg::InicisUnified => None,
        };
        let launch = PortoneLaunch {
            script_url: self.config.script_url.clone(),
            params: PortoneParams {
                store_id: self.config.store_id.clone(),
                identity_verification_id: id.clone(),
                channel_key: self.config.channel_key.clone(),
                customer: customer.filter(|c| *c != PortoneCustomer::default()),
                redirect_url: Some(request.return_url.clone()),
                // On a PC the SDK would otherwise resolve its Promise in the page and never come
                // to the landing.
                force_redirect: Some(true),
                window_type,
                custom_data: request.custom_data.clone(),
                bypass,
            },
        }
        .to_launch()?;
        Ok(WindowStart::new(launch, write_state(PROVIDER, &SessionState { id: id.clone() })?)
            .with_provider_key(Self::provider_key(&id)))
    }

    /// Decides on PortOne's record, never on the browser's word. `VERIFIED` completes it; `FAILED`
    /// (PortOne's own record) ends it with the PG's code. `READY` is not an answer yet
    /// (`provider_indeterminate`, the session stays open); a failure `code` the browser brings
    /// with it is [`Error::Unconfirmed`] (the code verbatim, the browser's `message` dropped): the
    /// landing is open and the id is the verification id, so anyone who knows a pending id can
    /// post a `code` for it, and it must not end someone else's verification.
    async fn complete(&self, session: &Verification, callback: &CallbackParams) -> Result<Completion, Error> {
        session.ensure_open(self.clock.now())?;
        let state: SessionState = read_state(PROVIDER, session)?;
        for field in ["identityVerificationId", "code"] {
            if callback.is_repeated(field) {
                return Err(Error::integrity("a callback parameter appears more than once"));
            }
        }
        if let Some(reported) = callback.get("identityVerificationId").filter(|v| !v.is_empty())
            && reported != state.id
        {
            return Err(Error::integrity("the callback's identityVerificationId is not this verification's"));
        }
        // A refused lookup says nothing about the person: it never ends the verification.
        let record = self.identity_verification(&state.id).await.map_err(|error| match error {
            Error::Rejected { code, .. } => Error::unconfirmed(PROVIDER, format!("lookup:{code}")),
            other => other,
        })?;
        match record {
            IdentityVerification::Verified(identity) => Ok(Completion::new(*identity)),
            // PortOne keeps an identity verification open for further attempts until one is
            // VERIFIED, and anyone holding the id (with the merchant's public store id and channel
            // key) can make a failed attempt for it: a FAILED attempt is kept as the reported code
            // and the verification stays open until the user verifies or it expires.
            IdentityVerification::Failed { pg_code, .. } => {
                let code = match pg_code {
                    Some(pg_code) => format!("FAILED:{pg_code}"),
                    None => "FAILED".to_owned(),
                };
                Err(Error::unconfirmed(PROVIDER, code))
            }
            IdentityVerification::Ready => match callback.get("code").filter(|c| !c.is_empty()) {
                Some(code) => Err(Error::unconfirmed(PROVIDER, code)),
                None => Err(not_yet("READY")),
            },
            IdentityVerification::Unknown(status) => Err(not_yet(&status)),
        }
    }
}

fn operator(carrier: bonin_domain::Carrier) -> String {
    carrier_name(carrier, "LGU")
}

#[async_trait]
impl OtpVerifier for PortoneV2Client {
    fn provider(&self) -> ProviderId {
        PROVIDER
    }

    /// `send`. Through a KCP channel (`pg_provider = "kcp_v2"`) it carries KCP's required
    /// `bypass.kcpV2.media_type` and the KCP settings that are configured; through Danal, the
    /// company as `CPTITLE` when one is configured.
    async fn send(&self, request: &OtpRequest) -> Result<OtpDispatch, Error> {
        let method = match request.channel {
            OtpChannel::Sms => "SMS",
            OtpChannel::App => "APP",
            _ => return Err(Error::invalid_input("channel", "PortOne V2 sends sms or app")),
        };
        let ip = request
            .client_ip
            .ok_or_else(|| Error::invalid_input("client_ip", "PortOne V2 needs the end user's IP address"))?;
        let subject = &request.subject;
        let id = request.verification_id.as_str().to_owned();
        let mut body = json!({
            "storeId": self.config.store_id,
            "channelKey": self.config.channel_key,
            "customer": {
                "name": subject.name.expose(),
                "phoneNumber": subject.phone.expose(),
                "identityNumber": format!("{}{}", subject.birth_date.yymmdd(), subject.rrn_gender_digit()),
                "ipAddress": ip.to_string(),
            },
            "operator": operator(subject.carrier),
            "method": method,
        });
        let config = &self.config;
        match config.pg() {
            Pg::KcpV2 => {
                body["bypass"] = kcp_otp_bypass(
                    &config.kcp_media_type,
                    config.kcp_web_siteid.as_deref(),
                    config.kcp_sms_message.as_deref(),
                    config.kcp_callback.as_deref(),
                );
            }
            Pg::Danal => {
                if let Some(company) = &config.company {
                    body["bypass"] = json!({"danal": {"CPTITLE": company}});
                }
            }
            Pg::InicisUnified => {}
        }
        let body = body.to_string().into_bytes();
        let key = idempotency_key(&request.verification_id, "send", 0, &body);
        match self
            .call("portone_v2.send", HttpMethod::Post, self.path(&id, Some("send")), Some(body), Some(key))
            .await?
        {
            Answer::Ok(_) => Ok(OtpDispatch::new(write_state(PROVIDER, &SessionState { id: id.clone() })?)
                .with_provider_key(Self::provider_key(&id))),
            Answer::Refused(error) => Err(error.into_error()),
        }
    }

    async fn resend(&self, session: &Verification) -> Result<OtpDispatch, Error> {
        let state: SessionState = read_state(PROVIDER, session)?;
        let key = idempotency_key(session.id(), "resend", session.version(), b"");
        match self
            .call("portone_v2.resend", HttpMethod::Post, self.path(&state.id, Some("resend")), None, Some(key))
            .await?
        {
            Answer::Ok(_) => Ok(OtpDispatch::new(write_state(PROVIDER, &state)?)),
            Answer::Refused(error) => Err(error.into_error()),
        }
    }

    /// A `PG_PROVIDER` refusal counts as a wrong code (which PG codes mean "wrong code" is not
    /// published); `IDENTITY_VERIFICATION_ALREADY_VERIFIED` reads the record and returns it (a
    /// confirm that went through but whose answer was lost).
    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        let state: SessionState = read_state(PROVIDER, session)?;
        let mut body = json!({"storeId": self.config.store_id});
        if let Some(code) = &code {
            body["otp"] = json!(code.expose());
        }
        let body = body.to_string().into_bytes();
        let key = idempotency_key(session.id(), "confirm", session.version(), &body);
        let answer = self
            .call("portone_v2.confirm", HttpMethod::Post, self.path(&state.id, Some("confirm")), Some(body), Some(key))
            .await?;
        match answer {
            Answer::Ok(value) => {
                let record = value
                    .get("identityVerification")
                    .ok_or_else(|| Error::protocol(PROVIDER, "confirm: identityVerification missing"))?;
                match IdentityVerification::from_json(record, self.clock.now())? {
                    IdentityVerification::Verified(identity) => Ok(OtpOutcome::Verified(Completion::new(*identity))),
                    _ => Err(Error::protocol(PROVIDER, "confirm: success without VERIFIED")),
                }
            }
            Answer::Refused(error) => match &error.kind {
                V2ErrorType::PgProvider { .. } => {
                    Ok(OtpOutcome::WrongCode { retry_state: None, provider_code: error.provider_code() })
                }
                V2ErrorType::IdentityVerificationAlreadyVerified => match self.verified(&state.id).await? {
                    Some(completion) => Ok(OtpOutcome::Verified(completion)),
                    None => Err(error.into_error()),
                },
                _ => Err(error.into_error()),
            },
        }
    }
}
