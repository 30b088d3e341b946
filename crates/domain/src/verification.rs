//! The `Verification` session and its state machine.
//!
//! ```text
//!            otp_sent              verified
//! Pending ───────────────▶ OtpSent ────────▶ Verified
//!    │  ╲                    │  ╲
//!    │   ╲ verified (window) │   ╲ otp_rejected × max_otp_attempts / failed
//!    │    ╲─────────────────────────▶ Verified        ─▶ Failed
//!    └─ deadline passes ─────┴──────▶ Expired
//! ```
//!
//! Every transition is a pure function from one record to the next (with `version + 1`); the caller
//! writes it with [`SessionStore::compare_and_swap`](crate::SessionStore::compare_and_swap), so a
//! callback or OTP confirm is applied at most once however many requests race. A record is usable
//! strictly *before* its deadline: at exactly the deadline it is expired.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{Display, Error, ErrorCode, ProviderId, Rng, Timestamp, VerifiedIdentity};

/// bonin's id for a verification: `vf` followed by 24 lower-case base32 characters (120 random bits).
///
/// It fits every provider's merchant-side id field (NICE `requestno` ≤ 30, mobileOK `clientTxId`
/// 20–40 alphanumerics, PortOne `merchant_uid` / `identityVerificationId`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VerificationId(String);

const ID_PREFIX: &str = "vf";
const ID_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const ID_LEN: usize = 26;

impl VerificationId {
    /// A fresh random id.
    pub fn generate(rng: &dyn Rng) -> Result<Self, Error> {
        let mut bytes = [0u8; 15];
        rng.fill_bytes(&mut bytes)?;
        let mut out = String::with_capacity(ID_LEN);
        out.push_str(ID_PREFIX);
        // 15 bytes = 120 bits = 24 groups of 5 bits.
        let mut acc: u32 = 0;
        let mut bits = 0;
        for byte in bytes {
            acc = (acc << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ID_ALPHABET[((acc >> bits) & 31) as usize]));
            }
        }
        Ok(Self(out))
    }

    /// Parses an id received from outside; anything else is `InvalidInput`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let valid = text.len() == ID_LEN
            && text.starts_with(ID_PREFIX)
            && text.bytes().skip(ID_PREFIX.len()).all(|b| ID_ALPHABET.contains(&b));
        if valid { Ok(Self(text.to_owned())) } else { Err(Error::invalid_input("id", "not a verification id")) }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VerificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for VerificationId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        Self::parse(&value)
    }
}

impl From<VerificationId> for String {
    fn from(value: VerificationId) -> String {
        value.0
    }
}

/// A provider-side key a callback can be matched by (NICE `token_version_id`, mobileOK `clientTxId`).
/// Unique per provider across live sessions. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProviderKey {
    /// Whose key.
    pub provider: ProviderId,
    /// The key itself.
    pub value: String,
}

impl ProviderKey {
    /// A key for `provider`.
    pub fn new(provider: ProviderId, value: impl Into<String>) -> Self {
        Self { provider, value: value.into() }
    }
}

/// What an adapter must remember between the two halves of a flow (NICE key/iv/hmac key, mobileOK
/// token chain, …), serialized by the adapter. Secret: `Debug` is masked; stores encrypt it at rest.
/// Dropped from the record as soon as the verification reaches a final state.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderState(String);

impl ProviderState {
    /// Wraps adapter-serialized state.
    pub fn new(serialized: impl Into<String>) -> Self {
        Self(serialized.into())
    }

    /// The serialized state, for the adapter that wrote it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProviderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProviderState(<redacted, {} bytes>)", self.0.len())
    }
}

/// Which flow shape a verification uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Method {
    /// A hosted provider window: start → launch → callback.
    Window,
    /// A server-driven OTP: send → confirm (→ resend).
    Otp,
    /// Approval in the provider's app, learned by polling: request → poll (no callback).
    App,
}

impl Method {
    /// The method as the API names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::Otp => "otp",
            Self::App => "app",
        }
    }
}

/// Where a verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Started; waiting for the window callback or for the OTP to be sent.
    Pending,
    /// An OTP was sent; waiting for the code.
    OtpSent,
    /// Done: the identity is known.
    Verified,
    /// Done: the provider refused or the attempts ran out.
    Failed,
    /// Done: a deadline passed first.
    Expired,
}

impl Status {
    /// Whether no further transition is possible.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Verified | Self::Failed | Self::Expired)
    }

    /// The status as the API names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::OtpSent => "otp_sent",
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

/// Why the user is being verified (maps to mobileOK `usageCode`, NICE/PortOne ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// 회원가입.
    SignUp,
    /// 정보변경.
    ChangeInfo,
    /// ID찾기.
    FindId,
    /// 비밀번호찾기.
    FindPassword,
    /// 본인확인용.
    IdentityCheck,
    /// 성인인증.
    AdultCheck,
    /// 상품구매/결제.
    Purchase,
    /// 기타.
    Other,
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }

    pub(super) mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_some(&d.as_secs()),
                None => s.serialize_none(),
            }
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Option::<u64>::deserialize(d).map(|o| o.map(Duration::from_secs))
        }
    }
}

/// The provider rules a session is held to. Stored with the session, so every instance enforces the
/// rules the session started under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlowRules {
    /// Total lifetime from start (mobileOK: 10 minutes).
    #[serde(with = "duration_secs")]
    pub session_ttl: Duration,
    /// Time allowed after the OTP was requested (mobileOK: 7 minutes), never beyond `session_ttl`.
    #[serde(with = "duration_secs::option")]
    pub confirm_window: Option<Duration>,
    /// OTP attempts allowed in total (mobileOK: 3 = first + 2 retries).
    pub max_otp_attempts: u8,
    /// Maximum age of a provider result when it reaches bonin (mobileOK `issueDate`: 600 s).
    #[serde(with = "duration_secs::option")]
    pub max_result_age: Option<Duration>,
}

/// Resends one verification's OTP allows; each is a message someone pays for.
pub const MAX_OTP_RESENDS: u8 = 5;

/// How far a result's issue time may be ahead of bonin's clock before it is refused as forged.
pub const MAX_RESULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

impl FlowRules {
    /// The rules of a provider that states none of its own (see
    /// [`WindowVerifier::rules`](crate::WindowVerifier::rules)): 30 minutes in total, 5 OTP
    /// attempts, no confirm window, no limit on a result's age.
    pub const DEFAULT: Self = Self::new(Duration::from_secs(30 * 60));

    /// Rules with a total lifetime and otherwise no limits beyond 5 OTP attempts.
    pub const fn new(session_ttl: Duration) -> Self {
        Self { session_ttl, confirm_window: None, max_otp_attempts: 5, max_result_age: None }
    }

    /// Sets the total lifetime.
    pub const fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    /// Sets the OTP confirm window.
    pub const fn with_confirm_window(mut self, window: Option<Duration>) -> Self {
        self.confirm_window = window;
        self
    }

    /// Sets the number of OTP attempts.
    pub const fn with_max_otp_attempts(mut self, attempts: u8) -> Self {
        self.max_otp_attempts = attempts;
        self
    }

    /// Sets the maximum result age.
    pub const fn with_max_result_age(mut self, age: Option<Duration>) -> Self {
        self.max_result_age = age;
        self
    }
}

/// OTP progress of a session in `OtpSent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpProgress {
    /// When the first OTP was requested.
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: Timestamp,
    /// The code must be confirmed strictly before this.
    #[serde(with = "time::serde::rfc3339")]
    pub confirm_deadline: Timestamp,
    /// Wrong codes so far.
    pub failed_attempts: u8,
    /// Resends so far.
    pub resends: u8,
}

/// An OTP confirm in flight. Its attempt is counted when the lease is taken, before the provider
/// sees the code, so racing confirms cannot test more codes than the rules allow; while the lease
/// runs, other confirms of the same verification are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmLease {
    /// The lease ends (and a crashed holder's confirm may be retried) at this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub until: Timestamp,
}

/// Where an app approval stands, and who is polling it ([`Method::App`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppProgress {
    /// The provider's last answer.
    pub state: crate::AppState,
    /// Polls so far.
    pub polls: u32,
    /// When the last poll began.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub polled_at: Option<Timestamp>,
    /// A poll in progress holds the verification until then.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub lease_until: Option<Timestamp>,
}

/// Why a verification failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The stable code.
    pub code: ErrorCode,
    /// The provider's raw code, when the provider refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_code: Option<String>,
}

impl Failure {
    /// The failure an error represents.
    pub fn from_error(error: &Error) -> Self {
        let provider_code = match error {
            Error::Rejected { code, .. } => Some(code.clone()),
            _ => None,
        };
        Self { code: error.code(), provider_code }
    }
}

/// One identity verification, from start to its final state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    id: VerificationId,
    provider: ProviderId,
    method: Method,
    status: Status,
    version: u64,
    rules: FlowRules,
    #[serde(with = "time::serde::rfc3339")]
    created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purpose: Option<Purpose>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_url: Option<String>,
    #[serde(default)]
    display: Display,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_key: Option<ProviderKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provider_state: Option<ProviderState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    otp: Option<OtpProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<VerifiedIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    completed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_age: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirm_lease: Option<ConfirmLease>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    identity_released_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app: Option<AppProgress>,
}

impl Verification {
    /// A new `Pending` verification (version 0) that expires `rules.session_ttl` after `now`.
    pub fn start(id: VerificationId, provider: ProviderId, method: Method, rules: FlowRules, now: Timestamp) -> Self {
        Self {
            id,
            provider,
            method,
            status: Status::Pending,
            version: 0,
            rules,
            created_at: now,
            expires_at: now + rules.session_ttl,
            purpose: None,
            return_url: None,
            display: Display::Popup,
            provider_key: None,
            provider_state: None,
            otp: None,
            identity: None,
            failure: None,
            completed_at: None,
            min_age: None,
            confirm_lease: None,
            identity_released_at: None,
            app: None,
        }
    }

    /// Requires the verified person to be at least `min_age` full years old (만 나이, on the
    /// current date in Korea) when the verification completes, whatever the provider.
    pub fn with_min_age(mut self, min_age: Option<u8>) -> Self {
        self.min_age = min_age;
        self
    }

    /// Records why the user is verified.
    pub fn with_purpose(mut self, purpose: Option<Purpose>) -> Self {
        self.purpose = purpose;
        self
    }

    /// Records where the browser goes when the flow ends (validated by the caller).
    pub fn with_return_url(mut self, return_url: Option<String>) -> Self {
        self.return_url = return_url;
        self
    }

    /// Records how the provider window is shown (decides how the browser is handed back).
    pub fn with_display(mut self, display: Display) -> Self {
        self.display = display;
        self
    }

    /// Attaches what the adapter returned from its start step. A provider deadline earlier than the
    /// session's own (NICE crypto-token `period`) becomes the session's deadline.
    pub fn with_provider_session(
        mut self,
        key: Option<ProviderKey>,
        state: ProviderState,
        provider_deadline: Option<Timestamp>,
    ) -> Self {
        self.provider_key = key;
        self.provider_state = Some(state);
        if let Some(deadline) = provider_deadline {
            self.expires_at = self.expires_at.min(deadline);
        }
        self
    }

    /// The id.
    pub fn id(&self) -> &VerificationId {
        &self.id
    }
    /// The provider.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }
    /// The flow shape.
    pub fn method(&self) -> Method {
        self.method
    }
    /// The stored status (see [`Verification::status_at`] for the status at a given time).
    pub fn stored_status(&self) -> Status {
        self.status
    }
    /// The CAS version: 0 when created, +1 per transition.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The rules this session is held to.
    pub fn rules(&self) -> &FlowRules {
        &self.rules
    }
    /// When it was started.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// The session deadline (before any OTP confirm window).
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
    /// Why the user is verified.
    pub fn purpose(&self) -> Option<Purpose> {
        self.purpose
    }
    /// Where the browser goes at the end.
    pub fn return_url(&self) -> Option<&str> {
        self.return_url.as_deref()
    }
    /// Popup or page.
    pub fn display(&self) -> Display {
        self.display
    }
    /// The provider-side lookup key.
    pub fn provider_key(&self) -> Option<&ProviderKey> {
        self.provider_key.as_ref()
    }
    /// The adapter's state (gone once final).
    pub fn provider_state(&self) -> Option<&ProviderState> {
        self.provider_state.as_ref()
    }
    /// OTP progress.
    pub fn otp(&self) -> Option<&OtpProgress> {
        self.otp.as_ref()
    }
    /// The identity, once verified.
    pub fn identity(&self) -> Option<&VerifiedIdentity> {
        self.identity.as_ref()
    }
    /// The failure, once failed.
    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }
    /// When it reached a final state.
    pub fn completed_at(&self) -> Option<Timestamp> {
        self.completed_at
    }
    /// The minimum age the verified person must have.
    pub fn min_age(&self) -> Option<u8> {
        self.min_age
    }
    /// The OTP confirm in flight, if any (it may have lapsed; see [`Verification::reserve_confirm`]).
    pub fn confirm_lease(&self) -> Option<&ConfirmLease> {
        self.confirm_lease.as_ref()
    }
    /// When the identity was first handed out.
    pub fn identity_released_at(&self) -> Option<Timestamp> {
        self.identity_released_at
    }

    /// Checks `identity` against [`Verification::min_age`]: the person must have had their
    /// `min_age`-th birthday on or before today's date in Korea (UTC+9). A person born on 29
    /// February reaches a new age on 1 March in common years. With a minimum age set, an identity
    /// without a birth date fails: nothing proves the age.
    pub fn check_min_age(&self, identity: &VerifiedIdentity, now: Timestamp) -> Result<(), Error> {
        let Some(min_age) = self.min_age else { return Ok(()) };
        let Some(birth) = identity.birth_date.as_ref().map(|b| b.expose()) else {
            return Err(Error::AgeRestricted);
        };
        let today = now.to_offset(crate::KST).date();
        let mut age = i64::from(today.year()) - i64::from(birth.year());
        if (u8::from(today.month()), today.day()) < (u8::from(birth.month()), birth.day()) {
            age -= 1;
        }
        if age >= i64::from(min_age) { Ok(()) } else { Err(Error::AgeRestricted) }
    }

    /// The instant from which the open session counts as expired.
    pub fn deadline(&self) -> Timestamp {
        match &self.otp {
            Some(otp) if self.status == Status::OtpSent => otp.confirm_deadline.min(self.expires_at),
            _ => self.expires_at,
        }
    }

    /// The status at `now`: an open session whose deadline has been reached is `Expired`.
    pub fn status_at(&self, now: Timestamp) -> Status {
        if !self.status.is_final() && now >= self.deadline() { Status::Expired } else { self.status }
    }

    /// Succeeds when a step may still be applied at `now`.
    pub fn ensure_open(&self, now: Timestamp) -> Result<(), Error> {
        match self.status_at(now) {
            Status::Pending | Status::OtpSent => Ok(()),
            Status::Expired => Err(Error::Expired),
            Status::Verified | Status::Failed => Err(Error::AlreadyCompleted),
        }
    }

    fn next(&self) -> Self {
        let mut next = self.clone();
        next.version += 1;
        next
    }

    fn ensure_method(&self, method: Method) -> Result<(), Error> {
        if self.method == method {
            Ok(())
        } else {
            Err(Error::wrong_step("this step does not belong to the verification's method"))
        }
    }

    /// `Pending` → `OtpSent`: the provider accepted the OTP request. The confirm deadline is the
    /// earlier of `now + confirm_window` and the session deadline.
    pub fn otp_sent(&self, now: Timestamp, state: ProviderState, key: Option<ProviderKey>) -> Result<Self, Error> {
        self.ensure_method(Method::Otp)?;
        self.ensure_open(now)?;
        if self.status != Status::Pending {
            return Err(Error::wrong_step("an OTP was already sent for this verification; use resend"));
        }
        let confirm_deadline = match self.rules.confirm_window {
            Some(window) => (now + window).min(self.expires_at),
            None => self.expires_at,
        };
        let mut next = self.next();
        next.status = Status::OtpSent;
        next.provider_state = Some(state);
        if key.is_some() {
            next.provider_key = key;
        }
        next.otp = Some(OtpProgress { sent_at: now, confirm_deadline, failed_attempts: 0, resends: 0 });
        Ok(next)
    }

    /// `OtpSent` → `OtpSent`: the OTP was sent again. The confirm window still counts from the first
    /// request (the provider's clock started then), so a resend never extends it.
    ///
    /// Refused while a confirm is at the provider (`RateLimited`: its answer would race the new
    /// code) and after [`MAX_OTP_RESENDS`] resends (`AttemptsExhausted`: each is a paid message).
    pub fn otp_resent(&self, now: Timestamp, state: ProviderState) -> Result<Self, Error> {
        let progress = self.ensure_can_resend(now)?;
        let mut next = self.next();
        next.provider_state = Some(state);
        next.otp = Some(OtpProgress { resends: progress.resends.saturating_add(1), ..progress });
        Ok(next)
    }

    /// Succeeds when the OTP may be sent again at `now` (see [`Verification::otp_resent`]).
    pub fn ensure_can_resend(&self, now: Timestamp) -> Result<OtpProgress, Error> {
        let progress = self.open_otp(now)?;
        if self.confirm_lease.is_some_and(|l| l.until > now) {
            return Err(Error::RateLimited { reason: "a confirm of this verification is in progress".into() });
        }
        if progress.resends >= MAX_OTP_RESENDS {
            return Err(Error::AttemptsExhausted);
        }
        Ok(progress)
    }

    /// Succeeds when a code may be confirmed at `now` (open, `OtpSent`, attempts left).
    pub fn ensure_can_confirm(&self, now: Timestamp) -> Result<(), Error> {
        self.open_otp(now).map(|_| ())
    }

    /// `OtpSent` → `OtpSent` with a [`ConfirmLease`] until `now + lease`: the attempt is counted
    /// *before* the provider sees the code. Refused while another confirm's lease runs
    /// (`RateLimited`) and when no attempt is left. Write it with compare-and-swap and call the
    /// provider only if the swap wins; then apply [`Verification::verified`],
    /// [`Verification::otp_rejected`] or [`Verification::release_confirm`] to the reserved record.
    pub fn reserve_confirm(&self, now: Timestamp, lease: Duration) -> Result<Self, Error> {
        let progress = self.open_otp(now)?;
        if self.confirm_lease.is_some_and(|l| l.until > now) {
            return Err(Error::RateLimited { reason: "another confirm of this verification is in progress".into() });
        }
        let mut next = self.next();
        next.otp = Some(OtpProgress { failed_attempts: progress.failed_attempts.saturating_add(1), ..progress });
        next.confirm_lease = Some(ConfirmLease { until: (now + lease).min(self.deadline()) });
        Ok(next)
    }

    /// Ends a confirm lease without an answer on the code. `refund` gives the attempt back, for a
    /// provider call that provably did not reach the provider (`Unavailable`) or that the provider
    /// did not decide (an app approval still pending); any other outcome keeps it counted, since
    /// the provider may have checked the code. `retry_state` replaces the provider state when the
    /// provider handed out a new one.
    pub fn release_confirm_with(&self, refund: bool, retry_state: Option<ProviderState>) -> Result<Self, Error> {
        let mut next = self.release_confirm(refund)?;
        if let Some(state) = retry_state {
            next.provider_state = Some(state);
        }
        Ok(next)
    }

    /// [`Verification::release_confirm_with`] without a new provider state.
    pub fn release_confirm(&self, refund: bool) -> Result<Self, Error> {
        let (Some(_), Some(progress)) = (self.confirm_lease, self.otp) else {
            return Err(Error::wrong_step("no confirm is in progress"));
        };
        let mut next = self.next();
        next.confirm_lease = None;
        if refund {
            next.otp = Some(OtpProgress { failed_attempts: progress.failed_attempts.saturating_sub(1), ..progress });
        }
        Ok(next)
    }

    /// Like `open_otp`, for applying a confirm's answer: with a lease, its attempt is already
    /// counted, so the attempts check is the one made when the lease was taken.
    fn otp_answer(&self, now: Timestamp) -> Result<OtpProgress, Error> {
        if self.confirm_lease.is_none() {
            return self.open_otp(now);
        }
        self.ensure_method(Method::Otp)?;
        self.ensure_open(now)?;
        match (self.status, self.otp) {
            (Status::OtpSent, Some(progress)) => Ok(progress),
            _ => Err(Error::wrong_step("no OTP has been sent for this verification")),
        }
    }

    fn open_otp(&self, now: Timestamp) -> Result<OtpProgress, Error> {
        self.ensure_method(Method::Otp)?;
        self.ensure_open(now)?;
        match (self.status, self.otp) {
            (Status::OtpSent, Some(progress)) if progress.failed_attempts < self.rules.max_otp_attempts => Ok(progress),
            (Status::OtpSent, Some(_)) => Err(Error::AttemptsExhausted),
            _ => Err(Error::wrong_step("no OTP has been sent for this verification")),
        }
    }

    /// A wrong code. Stays `OtpSent` with the provider's retry state while attempts remain; the
    /// attempt that uses up `max_otp_attempts` moves to `Failed` (`attempts_exhausted`).
    ///
    /// After [`Verification::reserve_confirm`] the attempt is already counted and the lease ends.
    pub fn otp_rejected(&self, now: Timestamp, retry_state: Option<ProviderState>) -> Result<Self, Error> {
        let progress = self.otp_answer(now)?;
        let failed_attempts = if self.confirm_lease.is_some() {
            progress.failed_attempts
        } else {
            progress.failed_attempts.saturating_add(1)
        };
        let mut next = self.next();
        next.confirm_lease = None;
        next.otp = Some(OtpProgress { failed_attempts, ..progress });
        if failed_attempts >= self.rules.max_otp_attempts {
            next.finish(now, Status::Failed);
            next.failure = Some(Failure { code: ErrorCode::AttemptsExhausted, provider_code: None });
        } else if let Some(state) = retry_state {
            next.provider_state = Some(state);
        }
        Ok(next)
    }

    /// Attempts left before the session fails.
    pub fn otp_attempts_left(&self) -> u8 {
        let used = self.otp.map_or(0, |p| p.failed_attempts);
        self.rules.max_otp_attempts.saturating_sub(used)
    }

    /// → `Verified`. A window flow completes from `Pending`, an OTP flow from `OtpSent`; anything
    /// final refuses (`AlreadyCompleted` or `Expired`), which makes every callback single-use.
    pub fn verified(&self, now: Timestamp, identity: VerifiedIdentity) -> Result<Self, Error> {
        self.ensure_open(now)?;
        match (self.method, self.status) {
            (Method::Window, Status::Pending) => {}
            (Method::Otp, Status::OtpSent) => self.otp_answer(now).map(|_| ())?,
            (Method::App, Status::Pending) => {}
            _ => return Err(Error::wrong_step("the verification is not waiting for this step")),
        }
        if identity.provider != self.provider {
            return Err(Error::integrity("identity from another provider"));
        }
        self.check_min_age(&identity, now)?;
        let mut next = self.next();
        next.confirm_lease = None;
        if let Some(progress) = next.app.as_mut() {
            progress.state = crate::AppState::Completed;
            progress.lease_until = None;
        }
        next.identity = Some(identity);
        next.finish(now, Status::Verified);
        Ok(next)
    }

    /// Where an app approval stands ([`Method::App`]).
    pub fn app(&self) -> Option<&AppProgress> {
        self.app.as_ref()
    }

    /// An open app verification → the same with a poll lease until `now + lease`: refused while
    /// another poll holds it or when the last poll began less than `min_interval` ago.
    pub fn reserve_poll(&self, now: Timestamp, lease: Duration, min_interval: Duration) -> Result<Self, Error> {
        self.ensure_open(now)?;
        self.ensure_method(Method::App)?;
        let progress = self.app.unwrap_or(AppProgress {
            state: crate::AppState::Requested,
            polls: 0,
            polled_at: None,
            lease_until: None,
        });
        if progress.lease_until.is_some_and(|until| until > now) {
            return Err(Error::RateLimited { reason: "another poll of this verification is in progress".into() });
        }
        if progress.polled_at.is_some_and(|at| now < at + min_interval) {
            return Err(Error::RateLimited { reason: "this verification was polled moments ago".into() });
        }
        let mut next = self.next();
        next.app = Some(AppProgress {
            polls: progress.polls.saturating_add(1),
            polled_at: Some(now),
            lease_until: Some((now + lease).min(self.deadline())),
            ..progress
        });
        Ok(next)
    }

    /// A polled app verification → the same with the provider's `state` and the lease released.
    pub fn app_progressed(&self, state: crate::AppState) -> Result<Self, Error> {
        self.ensure_method(Method::App)?;
        let mut next = self.next();
        let progress = next.app.get_or_insert(AppProgress { state, polls: 0, polled_at: None, lease_until: None });
        progress.state = state;
        progress.lease_until = None;
        Ok(next)
    }

    /// → `Expired`: the provider let the request lapse before bonin's deadline.
    pub fn lapsed(&self, now: Timestamp) -> Result<Self, Error> {
        self.ensure_open(now)?;
        let mut next = self.next();
        next.failure = Some(Failure { code: ErrorCode::Expired, provider_code: None });
        next.finish(now, Status::Expired);
        Ok(next)
    }

    /// → `Failed` with the error's code (and the provider's raw code).
    pub fn failed(&self, now: Timestamp, error: &Error) -> Result<Self, Error> {
        self.ensure_open(now)?;
        let mut next = self.next();
        next.failure = Some(Failure::from_error(error));
        next.finish(now, Status::Failed);
        Ok(next)
    }

    /// → `Expired`, persisting what [`Verification::status_at`] already reports. Refused before the
    /// deadline.
    pub fn expired(&self, now: Timestamp) -> Result<Self, Error> {
        match self.status_at(now) {
            Status::Expired if !self.status.is_final() => {
                let mut next = self.next();
                next.failure = Some(Failure { code: ErrorCode::Expired, provider_code: None });
                next.finish(now, Status::Expired);
                Ok(next)
            }
            Status::Pending | Status::OtpSent => Err(Error::wrong_step("the verification has not expired")),
            _ => Err(Error::AlreadyCompleted),
        }
    }

    /// Drops the identity (read, or PII retention ended) and keeps the status.
    pub fn without_identity(&self) -> Self {
        let mut next = self.next();
        next.identity = None;
        next
    }

    /// Notes that the identity was handed out at `now` (kept for a short grace period so a reader
    /// whose answer was lost can read it again; see the service's read-once rule).
    pub fn identity_released(&self, now: Timestamp) -> Self {
        let mut next = self.next();
        next.identity_released_at = Some(now);
        next
    }

    fn finish(&mut self, now: Timestamp, status: Status) {
        self.status = status;
        self.completed_at = Some(now);
        self.confirm_lease = None;
        // Keys and provider tokens are useless now and must not linger.
        self.provider_state = None;
    }

    /// Checks a provider result's issue time (mobileOK `issueDate`) against `max_result_age`: a
    /// result exactly `max_result_age` old is accepted, one second older is `Expired`; a result from
    /// more than [`MAX_RESULT_CLOCK_SKEW`] in the future is an `IntegrityMismatch`.
    pub fn check_result_age(&self, issued_at: Timestamp, now: Timestamp) -> Result<(), Error> {
        if issued_at > now + MAX_RESULT_CLOCK_SKEW {
            return Err(Error::integrity("result issued in the future"));
        }
        match self.rules.max_result_age {
            Some(max) if now - issued_at > max => Err(Error::Expired),
            _ => Ok(()),
        }
    }
}
