//! The two flow shapes every provider fits, as ports.
//!
//! **Hosted window** ([`WindowVerifier`]): `start` → [`Launch`] (what the browser needs) → the provider
//! sends the browser back → `complete(callback)` → [`Completion`].
//!
//! **Server-driven OTP** ([`OtpVerifier`]): `send(subject)` → `confirm(code)` (→ `resend`) →
//! [`Completion`].
//!
//! Adapters hold no per-verification state in memory: whatever the second half needs goes into the
//! returned [`ProviderState`], which the caller stores with the session, so the two halves may run on
//! different instances.

use std::{fmt, net::IpAddr};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{
    BirthDate, Carrier, Error, Gender, Name, Nationality, OtpCode, PhoneNumber, ProviderId, ProviderKey, ProviderState,
    Purpose, Timestamp, Verification, VerificationId, VerifiedIdentity,
};

/// How the provider window is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Display {
    /// A popup that reports back to its opener (desktop).
    #[default]
    Popup,
    /// A full-page redirect flow (mobile, in-app browsers).
    Page,
}

/// What the caller asks of a window flow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowRequest {
    /// bonin's id; adapters use it as the merchant-side transaction id where the protocol has one.
    pub verification_id: VerificationId,
    /// The absolute URL the provider sends the browser back to (bonin's landing).
    pub return_url: String,
    /// Popup or page.
    pub display: Display,
    /// Why the user is verified.
    pub purpose: Option<Purpose>,
    /// Minimum age, for providers that enforce it in the window (Danal through PortOne V1 `min_age`
    /// and PortOne V2 `bypass.danal.AGELIMIT`). bonin checks it against the verified birth date
    /// for every provider as well ([`Verification::check_min_age`]).
    pub min_age: Option<u8>,
    /// Preselects a carrier in the window, where the provider supports it.
    pub carrier_hint: Option<Carrier>,
    /// Where the browser-side SDK fetches the request data from (mobileOK's request URL), served
    /// by the caller from [`WindowVerifier::launch_data`].
    pub launch_url: Option<String>,
}

impl WindowRequest {
    /// A popup request with no hints.
    pub fn new(verification_id: VerificationId, return_url: impl Into<String>) -> Self {
        Self {
            verification_id,
            return_url: return_url.into(),
            display: Display::Popup,
            purpose: None,
            min_age: None,
            carrier_hint: None,
            launch_url: None,
        }
    }

    /// Sets the launch-data URL.
    pub fn with_launch_url(mut self, url: Option<String>) -> Self {
        self.launch_url = url;
        self
    }

    /// Sets popup or page.
    pub fn with_display(mut self, display: Display) -> Self {
        self.display = display;
        self
    }

    /// Sets the purpose.
    pub fn with_purpose(mut self, purpose: Option<Purpose>) -> Self {
        self.purpose = purpose;
        self
    }

    /// Sets the minimum age.
    pub fn with_min_age(mut self, min_age: Option<u8>) -> Self {
        self.min_age = min_age;
        self
    }
}

/// What the browser needs to open the provider window. Contains nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Launch {
    /// Submit an HTML form (NICE 표준창).
    Form(FormLaunch),
    /// Load the mobileOK SDK and call `MOBILEOK.process(request_url, …)`.
    Mobileok(MobileokLaunch),
    /// Load iamport.js and call `IMP.init(merchant_code)` then `IMP.certification(params)` (PortOne V1).
    Iamport(IamportLaunch),
    /// Load the PortOne browser SDK and call `PortOne.requestIdentityVerification(params)` (V2).
    Portone(PortoneLaunch),
}

/// HTTP method of a form launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// One hidden form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormField {
    /// Field name.
    pub name: String,
    /// Field value.
    pub value: String,
}

/// A form to submit in the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormLaunch {
    /// The form's `action`.
    pub action: String,
    /// The form's `method`.
    pub method: FormMethod,
    /// Hidden fields, in order.
    pub fields: Vec<FormField>,
}

/// The mobileOK 표준창 SDK call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileokLaunch {
    /// The SDK script to load.
    pub script_url: String,
    /// The URL the SDK posts to; it answers the MOKReqClientInfo JSON.
    pub request_url: String,
}

/// `IMP.certification` parameters (PortOne V1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamportLaunch {
    /// iamport.js.
    pub script_url: String,
    /// `IMP.init` argument (가맹점 식별코드).
    pub merchant_code: String,
    /// The `IMP.certification` parameter object.
    pub params: IamportParams,
}

/// The `IMP.certification` parameter object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IamportParams {
    /// bonin's verification id.
    pub merchant_uid: String,
    /// V2-console channel key, if configured.
    #[serde(default, rename = "channelKey", skip_serializing_if = "Option::is_none")]
    pub channel_key: Option<String>,
    /// Deprecated `pg` (e.g. `danal`), if configured instead of a channel key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg: Option<String>,
    /// Where mobile redirect mode returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m_redirect_url: Option<String>,
    /// Minimum age (Danal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<u8>,
    /// Popup mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popup: Option<bool>,
}

/// `PortOne.requestIdentityVerification` parameters (PortOne V2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortoneLaunch {
    /// The browser SDK.
    pub script_url: String,
    /// The parameter object.
    pub params: PortoneParams,
}

/// The `requestIdentityVerification` parameter object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortoneParams {
    /// Store id.
    pub store_id: String,
    /// bonin's verification id.
    pub identity_verification_id: String,
    /// Channel key.
    pub channel_key: String,
    /// Where the result is sent by redirect (mobile always; desktop with `force_redirect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// `forceRedirect`: on desktop the SDK resolves its Promise with the result instead of
    /// redirecting unless this is `true` (it needs `redirect_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_redirect: Option<bool>,
    /// `{ pc, mobile }` window types, provider-defined strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_type: Option<PortoneWindowType>,
    /// `bypass`: integer values the SDK hands to one PG as they are, by PG and parameter name
    /// (`{"danal": {"AGELIMIT": 19}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>>>,
}

/// PortOne V2 window types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortoneWindowType {
    /// Desktop (`IFRAME`, `POPUP`, …).
    pub pc: String,
    /// Mobile (`REDIRECTION`, …).
    pub mobile: String,
}

/// What a window flow's `start` hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowStart {
    /// For the browser.
    pub launch: Launch,
    /// For the session: what the callback needs (secret).
    pub provider_state: ProviderState,
    /// A provider-side key the callback can be matched by.
    pub provider_key: Option<ProviderKey>,
    /// A provider deadline (NICE crypto-token `period`); the session cannot outlive it.
    pub valid_until: Option<Timestamp>,
}

impl WindowStart {
    /// A start with no key and no provider deadline.
    pub fn new(launch: Launch, provider_state: ProviderState) -> Self {
        Self { launch, provider_state, provider_key: None, valid_until: None }
    }

    /// Sets the provider key.
    pub fn with_provider_key(mut self, key: ProviderKey) -> Self {
        self.provider_key = Some(key);
        self
    }

    /// Sets the provider deadline.
    pub fn with_valid_until(mut self, until: Timestamp) -> Self {
        self.valid_until = Some(until);
        self
    }
}

/// How a callback reached bonin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackTransport {
    /// Browser GET (query string).
    Get,
    /// Browser POST (form body).
    Post,
    /// Server-to-server `complete` call.
    Api,
}

/// The parameters a provider sent back (query string or form fields, already decoded once by the
/// form layer). Values may carry personal data or tokens: `Debug` prints only the names.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackParams {
    transport: CallbackTransport,
    fields: Vec<(String, String)>,
}

impl CallbackParams {
    /// Empty parameters.
    pub fn new(transport: CallbackTransport) -> Self {
        Self { transport, fields: Vec::new() }
    }

    /// Parameters from decoded pairs.
    pub fn from_pairs(transport: CallbackTransport, pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self { transport, fields: pairs.into_iter().collect() }
    }

    /// Adds a field.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// How it arrived.
    pub fn transport(&self) -> CallbackTransport {
        self.transport
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or `InvalidInput` naming the field.
    pub fn require(&self, name: &'static str) -> Result<&str, Error> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Error::invalid_input(name, "missing from the callback")),
        }
    }

    /// Whether `name` appears more than once (a sign of parameter pollution).
    pub fn is_repeated(&self, name: &str) -> bool {
        self.fields.iter().filter(|(n, _)| n == name).count() > 1
    }
}

impl fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackParams")
            .field("transport", &self.transport)
            .field("fields", &self.fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

/// A successful end of either flow shape.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Completion {
    /// Who was verified.
    pub identity: VerifiedIdentity,
    /// When the provider issued the result, if it says (mobileOK `issueDate`); checked against
    /// [`FlowRules::max_result_age`](crate::FlowRules::max_result_age).
    pub result_issued_at: Option<Timestamp>,
    /// Provider-side work that would lose the result if it ran before bonin stored it (PortOne V1
    /// deletes the certification it read). The caller hands it back to the adapter's
    /// `after_commit` once the verified record is committed, and never otherwise.
    pub after_commit: Option<ProviderState>,
}

impl Completion {
    /// A completion without a provider issue time.
    pub fn new(identity: VerifiedIdentity) -> Self {
        Self { identity, result_issued_at: None, after_commit: None }
    }

    /// Sets the work to run once the result is stored (see [`Completion::after_commit`]).
    pub fn with_after_commit(mut self, work: ProviderState) -> Self {
        self.after_commit = Some(work);
        self
    }

    /// Sets the provider's issue time.
    pub fn with_result_issued_at(mut self, issued_at: Timestamp) -> Self {
        self.result_issued_at = Some(issued_at);
        self
    }
}

/// The hosted-window flow of a provider.
///
/// Call order: [`start`](WindowVerifier::start) → store the session with the returned
/// [`ProviderState`] → the browser opens the [`Launch`] → the provider returns the browser with
/// [`CallbackParams`] → [`complete`](WindowVerifier::complete) with the stored session → apply the
/// `verified` transition with compare-and-swap.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait WindowVerifier: Send + Sync {
    /// Which provider this is.
    fn provider(&self) -> ProviderId;

    /// Prepares the provider window.
    async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error>;

    /// Verifies and decodes the callback for the stored `session`. Must not change anything: the
    /// caller applies the result with compare-and-swap, so a replay is refused there.
    async fn complete(&self, session: &Verification, callback: &CallbackParams) -> Result<Completion, Error>;

    /// Runs [`Completion::after_commit`] once the verified record is stored. Its failure does not
    /// undo the verification; the caller logs it (without the work's contents).
    async fn after_commit(&self, session: &Verification, work: &ProviderState) -> Result<(), Error> {
        let _ = (session, work);
        Ok(())
    }

    /// The data a browser SDK fetches from [`WindowRequest::launch_url`] (mobileOK's
    /// `MOKReqClientInfo` JSON), for an open session. `None` for providers without such a step.
    fn launch_data(&self, session: &Verification) -> Result<Option<String>, Error> {
        let _ = session;
        Ok(None)
    }
}

/// How the OTP reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OtpChannel {
    /// SMS.
    Sms,
    /// LMS (long message).
    Lms,
    /// PASS app push (no code to type).
    Pass,
    /// A provider app (PortOne V2 `APP`).
    App,
}

/// The person an OTP is sent to, as they typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpSubject {
    /// Name.
    pub name: Name,
    /// Mobile number.
    pub phone: PhoneNumber,
    /// Date of birth.
    pub birth_date: BirthDate,
    /// Gender.
    pub gender: Gender,
    /// Domestic or foreign.
    pub nationality: Nationality,
    /// Carrier of the number.
    pub carrier: Carrier,
}

impl OtpSubject {
    /// The 7th digit of a resident registration number (PortOne `gender_digit`, the last digit of
    /// V2's `identityNumber`): 1/2 born before 2000, 3/4 from 2000; foreigners 5/6 and 7/8.
    pub fn rrn_gender_digit(&self) -> char {
        let born_2000s = self.birth_date.expose().year() >= 2000;
        match (self.nationality, born_2000s, self.gender) {
            (Nationality::Domestic, false, Gender::Male) => '1',
            (Nationality::Domestic, false, Gender::Female) => '2',
            (Nationality::Domestic, true, Gender::Male) => '3',
            (Nationality::Domestic, true, Gender::Female) => '4',
            (Nationality::Foreign, false, Gender::Male) => '5',
            (Nationality::Foreign, false, Gender::Female) => '6',
            (Nationality::Foreign, true, Gender::Male) => '7',
            (Nationality::Foreign, true, Gender::Female) => '8',
        }
    }
}

/// What the caller asks of an OTP flow.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtpRequest {
    /// bonin's id.
    pub verification_id: VerificationId,
    /// Who.
    pub subject: OtpSubject,
    /// How the code travels.
    pub channel: OtpChannel,
    /// Why.
    pub purpose: Option<Purpose>,
    /// The end user's IP address (PortOne V2 requires it).
    pub client_ip: Option<IpAddr>,
}

impl OtpRequest {
    /// A request by SMS with no purpose or IP.
    pub fn new(verification_id: VerificationId, subject: OtpSubject, channel: OtpChannel) -> Self {
        Self { verification_id, subject, channel, purpose: None, client_ip: None }
    }

    /// Sets the purpose.
    pub fn with_purpose(mut self, purpose: Option<Purpose>) -> Self {
        self.purpose = purpose;
        self
    }

    /// Sets the end user's IP.
    pub fn with_client_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.client_ip = ip;
        self
    }
}

/// The provider accepted an OTP send or resend.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtpDispatch {
    /// What confirm needs (mobileOK token chain, PortOne `imp_uid`, …).
    pub provider_state: ProviderState,
    /// A provider-side key, if any.
    pub provider_key: Option<ProviderKey>,
}

impl OtpDispatch {
    /// A dispatch with no provider key.
    pub fn new(provider_state: ProviderState) -> Self {
        Self { provider_state, provider_key: None }
    }

    /// Sets the provider key.
    pub fn with_provider_key(mut self, key: ProviderKey) -> Self {
        self.provider_key = Some(key);
        self
    }
}

/// The answer to a confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtpOutcome {
    /// The code was right.
    Verified(Completion),
    /// The code was wrong; the provider allows another attempt with `retry_state` (mobileOK hands out
    /// a fresh token for the retry).
    WrongCode {
        /// State for the next attempt, if the provider changed it.
        retry_state: Option<ProviderState>,
        /// The provider's raw code.
        provider_code: String,
    },
    /// Nothing was decided: the user has not approved in the provider's app yet (PASS), so the
    /// attempt is not counted and the same confirm may be sent again after approving.
    NotYetApproved {
        /// State for the next attempt, if the provider changed it (mobileOK's token chain).
        retry_state: Option<ProviderState>,
        /// The provider's raw code.
        provider_code: String,
    },
}

/// The server-driven OTP flow of a provider.
///
/// Call order: [`send`](OtpVerifier::send) → `otp_sent` transition → the user reads the code →
/// [`confirm`](OtpVerifier::confirm) (after [`Verification::ensure_can_confirm`]) → `verified` or
/// `otp_rejected` transition; [`resend`](OtpVerifier::resend) at any time while `OtpSent`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OtpVerifier: Send + Sync {
    /// Which provider this is.
    fn provider(&self) -> ProviderId;

    /// Asks the provider to send the OTP. Not idempotent: never retried automatically.
    async fn send(&self, request: &OtpRequest) -> Result<OtpDispatch, Error>;

    /// Asks the provider to send the OTP again.
    async fn resend(&self, session: &Verification) -> Result<OtpDispatch, Error>;

    /// Checks the code (`None` for PASS/app approval, which has no code).
    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error>;

    /// Runs [`Completion::after_commit`] once the verified record is stored (see
    /// [`WindowVerifier::after_commit`]).
    async fn after_commit(&self, session: &Verification, work: &ProviderState) -> Result<(), Error> {
        let _ = (session, work);
        Ok(())
    }
}
