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

use std::{collections::BTreeMap, fmt, net::IpAddr};

use async_trait::async_trait;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{DeserializeOwned, Error as _},
    ser::SerializeMap,
};

use crate::{
    BirthDate, Carrier, Error, FlowRules, Gender, Name, Nationality, OtpCode, PhoneNumber, ProviderId, ProviderKey,
    ProviderState, Purpose, Timestamp, Verification, VerificationId, VerifiedIdentity,
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
#[derive(Clone, PartialEq, Eq)]
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
    /// What the caller already knows of the person, for providers whose window shows it filled in
    /// (or fixes it). It travels in the [`Launch`], which the browser sees: see [`Prefill`].
    pub prefill: Option<Prefill>,
    /// The caller's own JSON text, kept by the provider with its record where it can (PortOne V2
    /// `customData`). It travels in the [`Launch`] too, so it must hold nothing the browser may not
    /// see; `Debug` shows only whether it is set.
    pub custom_data: Option<String>,
}

impl fmt::Debug for WindowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowRequest")
            .field("verification_id", &self.verification_id)
            .field("return_url", &self.return_url)
            .field("display", &self.display)
            .field("purpose", &self.purpose)
            .field("min_age", &self.min_age)
            .field("carrier_hint", &self.carrier_hint)
            .field("launch_url", &self.launch_url)
            .field("prefill", &self.prefill)
            .field("custom_data", &self.custom_data.as_ref().map(|_| "<set>"))
            .finish()
    }
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
            prefill: None,
            custom_data: None,
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

    /// Sets what the window shows filled in; an empty prefill counts as none.
    pub fn with_prefill(mut self, prefill: Option<Prefill>) -> Self {
        self.prefill = prefill.filter(|p| !p.is_empty());
        self
    }

    /// Sets the caller's data kept with the provider's record.
    pub fn with_custom_data(mut self, custom_data: Option<String>) -> Self {
        self.custom_data = custom_data;
        self
    }
}

/// What the caller already knows of the person a window is opened for, so the provider's window
/// shows it filled in instead of asking for it again: PortOne V2 `customer` (Danal fixes the name
/// and number it is given; KG Inicis reads the birth date), PortOne V1 `IMP.certification`'s `name`,
/// `phone` and `carrier` (Danal only; `carrier` limits the carriers the window offers).
///
/// It is the person's own data, shown back to them, but it travels in the [`Launch`] and so
/// through their browser: a caller passes only what it got from that person. A provider verifies
/// whoever completes the window, so the verified identity is still the one to trust; a window a
/// provider fixes to these details is meant for that person alone. `Debug` shows only which
/// fields are set.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Prefill {
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// Mobile number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<PhoneNumber>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<BirthDate>,
    /// Carrier of the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<Carrier>,
}

impl fmt::Debug for Prefill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |present: bool| if present { "<redacted>" } else { "-" };
        f.debug_struct("Prefill")
            .field("name", &set(self.name.is_some()))
            .field("phone", &set(self.phone.is_some()))
            .field("birth_date", &set(self.birth_date.is_some()))
            .field("carrier", &set(self.carrier.is_some()))
            .finish()
    }
}

impl Prefill {
    /// Nothing filled in.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the name.
    pub fn with_name(mut self, name: Option<Name>) -> Self {
        self.name = name;
        self
    }

    /// Sets the mobile number.
    pub fn with_phone(mut self, phone: Option<PhoneNumber>) -> Self {
        self.phone = phone;
        self
    }

    /// Sets the date of birth.
    pub fn with_birth_date(mut self, birth_date: Option<BirthDate>) -> Self {
        self.birth_date = birth_date;
        self
    }

    /// Sets the carrier.
    pub fn with_carrier(mut self, carrier: Option<Carrier>) -> Self {
        self.carrier = carrier;
        self
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.birth_date.is_none() && self.carrier.is_none()
    }
}

/// What the browser needs to open the provider window. Contains nothing secret.
///
/// On the wire it is one JSON object whose `kind` names the shape: `"form"` for a [`FormLaunch`]
/// (its fields beside `kind`), anything else for a [`ScriptLaunch`] (`kind`, `script_url` and the
/// script's own fields side by side). A provider adds a launch of its own by choosing a new
/// script kind; the domain does not need to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Launch {
    /// Submit an HTML form (e.g. NICE 표준창).
    Form(FormLaunch),
    /// Load a provider's browser SDK and call it with the launch's fields (e.g. mobileOK's
    /// `MOBILEOK.process`, iamport.js `IMP.certification`, PortOne's `requestIdentityVerification`).
    Script(ScriptLaunch),
}

/// The `kind` of a [`Launch::Form`] on the wire; a [`ScriptLaunch`] cannot take it.
const FORM_KIND: &str = "form";

/// The keys a [`ScriptLaunch`] writes itself, which its fields cannot use.
const SCRIPT_KEYS: [&str; 2] = ["kind", "script_url"];

/// A provider's browser SDK to load and call: which one (`kind`, chosen by the provider's
/// adapter, e.g. `"mobileok"`), the script to load, and the fields the page hands to it. The
/// adapter that built it reads the fields back with [`ScriptLaunch::fields_as`].
///
/// The fields may carry what a [`Prefill`] filled in (a person's name or number), so `Debug`
/// shows only their names.
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptLaunch {
    kind: String,
    script_url: String,
    fields: BTreeMap<String, serde_json::Value>,
}

impl ScriptLaunch {
    /// A launch of `kind` loading `script_url`, with `fields` (anything that serializes to a JSON
    /// object) beside them. A `kind` that is empty or `"form"`, or fields that are not an object or
    /// use the keys `kind` or `script_url`, are `Misconfigured`: the adapter built a launch the
    /// browser could not read back.
    pub fn new(kind: impl Into<String>, script_url: impl Into<String>, fields: &impl Serialize) -> Result<Self, Error> {
        let kind = kind.into();
        check_script_kind(&kind).map_err(Error::misconfigured)?;
        let fields = match serde_json::to_value(fields) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(_) => return Err(Error::misconfigured("a script launch's fields must form a JSON object")),
            Err(_) => return Err(Error::misconfigured("a script launch's fields could not be serialized")),
        };
        if SCRIPT_KEYS.iter().any(|key| fields.contains_key(*key)) {
            return Err(Error::misconfigured("a script launch's fields must not use the keys `kind` or `script_url`"));
        }
        Ok(Self { kind, script_url: script_url.into(), fields: fields.into_iter().collect() })
    }

    /// Which SDK call this is (the adapter's own name for it).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The SDK script to load.
    pub fn script_url(&self) -> &str {
        &self.script_url
    }

    /// The fields, untyped.
    pub fn fields(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.fields
    }

    /// The launch read as `T`: its `script_url` and fields, everything on the wire but `kind` (so
    /// `T` may be the adapter's typed launch, `script_url` included, or a view of some fields).
    /// Fields that do not fit `T` are `InvalidInput`.
    pub fn fields_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let mut object: serde_json::Map<String, serde_json::Value> =
            self.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        object.insert("script_url".into(), serde_json::Value::String(self.script_url.clone()));
        serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|_| Error::invalid_input("launch", "its fields do not have the shape this kind of launch needs"))
    }

    /// Reads the wire object (with `kind` and `script_url` still in it).
    fn from_object(mut object: serde_json::Map<String, serde_json::Value>) -> Result<Self, &'static str> {
        let kind = match object.remove("kind") {
            Some(serde_json::Value::String(kind)) => kind,
            Some(_) => return Err("`kind` must be a string"),
            None => return Err("missing field `kind`"),
        };
        check_script_kind(&kind)?;
        let script_url = match object.remove("script_url") {
            Some(serde_json::Value::String(url)) => url,
            Some(_) => return Err("`script_url` must be a string"),
            None => return Err("missing field `script_url`"),
        };
        Ok(Self { kind, script_url, fields: object.into_iter().collect() })
    }
}

fn check_script_kind(kind: &str) -> Result<(), &'static str> {
    if kind.is_empty() {
        Err("a script launch's kind must not be empty")
    } else if kind == FORM_KIND {
        Err("a script launch's kind must not be `form`")
    } else {
        Ok(())
    }
}

impl fmt::Debug for ScriptLaunch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptLaunch")
            .field("kind", &self.kind)
            .field("script_url", &self.script_url)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Serialize for ScriptLaunch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len() + SCRIPT_KEYS.len()))?;
        map.serialize_entry("kind", &self.kind)?;
        map.serialize_entry("script_url", &self.script_url)?;
        for (key, value) in &self.fields {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ScriptLaunch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        Self::from_object(object).map_err(D::Error::custom)
    }
}

impl Serialize for Launch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// A form launch with `kind` beside its fields.
        #[derive(Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        enum Tagged<'a> {
            Form(&'a FormLaunch),
        }
        match self {
            Self::Form(form) => Tagged::Form(form).serialize(serializer),
            Self::Script(script) => script.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Launch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        if object.get("kind").and_then(serde_json::Value::as_str) == Some(FORM_KIND) {
            object.remove("kind");
            FormLaunch::deserialize(serde_json::Value::Object(object)).map(Self::Form).map_err(D::Error::custom)
        } else {
            ScriptLaunch::from_object(object).map(Self::Script).map_err(D::Error::custom)
        }
    }
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

/// What the return landing answers a popup window whose provider brings the browser back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PopupLanding {
    /// The popup page, which reports the outcome to its opener and closes (the provider navigates
    /// the popup to the landing).
    #[default]
    Page,
    /// A JSON body with the verification's status and id, for a provider whose browser SDK fetches
    /// the landing itself and hands the body to the page's callback without following a redirect
    /// (e.g. mobileOK's 표준창 SDK).
    Json,
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

    /// The rules this provider's sessions are held to (stored with each session when it starts);
    /// [`FlowRules::DEFAULT`] unless the provider states its own.
    fn rules(&self) -> FlowRules {
        FlowRules::DEFAULT
    }

    /// What the return landing answers a popup window of this provider; [`PopupLanding::Page`]
    /// unless the provider's SDK reads the landing itself.
    fn popup_landing(&self) -> PopupLanding {
        PopupLanding::Page
    }

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

    /// The rules this provider's sessions are held to (stored with each session when it starts);
    /// [`FlowRules::DEFAULT`] unless the provider states its own.
    fn rules(&self) -> FlowRules {
        FlowRules::DEFAULT
    }

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn prefill() -> Prefill {
        Prefill::new()
            .with_name(Some(Name::new("홍길동").unwrap()))
            .with_phone(Some(PhoneNumber::new("010-1234-5678").unwrap()))
            .with_birth_date(Some(BirthDate::parse("1990-02-15").unwrap()))
            .with_carrier(Some(Carrier::KtMvno))
    }

    #[test]
    fn prefill_and_custom_data_stay_out_of_debug_output() {
        let id = VerificationId::parse("vf0123456789abcdefghjkmnpq").unwrap();
        let request = WindowRequest::new(id, "https://bonin.example/return")
            .with_prefill(Some(prefill()))
            .with_custom_data(Some(r#"{"member":"m-secret-77"}"#.into()));
        let text = format!("{request:?}");
        for value in ["홍길동", "01012345678", "1990", "KtMvno", "kt_mvno", "m-secret-77"] {
            assert!(!text.contains(value), "{value} in {text}");
        }
        assert!(text.contains("prefill: Some(Prefill { name: \"<redacted>\""), "{text}");
    }

    #[test]
    fn prefill_reads_the_rest_shapes_and_refuses_what_it_does_not_know() {
        let read: Prefill = serde_json::from_str(
            r#"{"name": "홍길동", "phone": "010-1234-5678", "birth_date": "1990-02-15", "carrier": "kt_mvno"}"#,
        )
        .unwrap();
        assert_eq!(read, prefill());
        assert!(serde_json::from_str::<Prefill>(r#"{"phone": "02-123-4567"}"#).is_err());
        assert!(serde_json::from_str::<Prefill>(r#"{"email": "a@b.example"}"#).is_err());
        let empty: Prefill = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
        let id = VerificationId::parse("vf0123456789abcdefghjkmnpq").unwrap();
        assert_eq!(WindowRequest::new(id, "https://x.example").with_prefill(Some(empty)).prefill, None);
    }
}
