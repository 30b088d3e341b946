//! Playing the person in a simulated provider window: what the browser brings back to bonin's
//! landing when a persona goes through the window a [`Launch`] opens.
//!
//! One function per outcome, dispatching on the launch kind to the right simulator:
//! [`window`] (a persona verifies) and [`window_failure`] (the window ends with a given provider
//! code). Whatever drives a window without a browser (a CLI command, an example, a test) plays it
//! here, as the provider conformance suite ([`crate::conformance`]) does.
//!
//! ```no_run
//! # fn run(sims: &bonin_sandbox::play::Simulators, launch: &bonin_domain::Launch) -> Result<(), bonin_sandbox::play::PlayError> {
//! // `request_info` is what bonin's launch URL answers (mobileOK's SDK fetches it); `None` for the
//! // other providers.
//! let played = bonin_sandbox::play::window(sims, launch, None, "hong")?;
//! // hand `played.callback` to `VerificationService::complete` as the landing would
//! # let _ = played; Ok(()) }
//! ```

use std::fmt;

use bonin_domain::{
    BirthDate, CallbackParams, CallbackTransport, Error, Launch, Name, OtpCode, OtpSubject, PhoneNumber, ScriptLaunch,
};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    mobileok::{self, MobileokSimulator},
    nice::{self, NiceSimulator, ResultOverrides},
    personas::{self, Persona},
    portone::{self, PortoneSimulator, WindowOutcome},
};

/// The simulators a window may belong to. Clones share the simulators' state.
#[derive(Debug, Clone, Default)]
pub struct Simulators {
    /// The NICE simulator (`form` launches).
    pub nice: Option<NiceSimulator>,
    /// The mobileOK simulator (`mobileok` script launches).
    pub mobileok: Option<MobileokSimulator>,
    /// The PortOne simulator (`iamport` and `portone` script launches).
    pub portone: Option<PortoneSimulator>,
}

impl Simulators {
    /// No simulators.
    pub fn new() -> Self {
        Self::default()
    }

    /// With the NICE simulator.
    pub fn with_nice(mut self, simulator: NiceSimulator) -> Self {
        self.nice = Some(simulator);
        self
    }

    /// With the mobileOK simulator.
    pub fn with_mobileok(mut self, simulator: MobileokSimulator) -> Self {
        self.mobileok = Some(simulator);
        self
    }

    /// With the PortOne simulator.
    pub fn with_portone(mut self, simulator: PortoneSimulator) -> Self {
        self.portone = Some(simulator);
        self
    }
}

/// What the window sends the browser back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    /// Where the browser is sent: the launch's return URL, without a query the provider added.
    pub return_url: String,
    /// What bonin's landing receives, decoded once by its form layer.
    pub callback: CallbackParams,
}

/// Who vouches for the code a window ends with ([`window_failure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportedBy {
    /// The provider: the code travels sealed or is read from the provider's server (NICE's
    /// encrypted result). An adapter answers it with `Rejected`.
    Provider,
    /// Only the browser: the code is a plain field the landing receives, which anyone holding a
    /// pending verification id could send. An adapter answers it with `Unconfirmed`.
    Browser,
}

/// Why a window could not be played.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlayError {
    /// The launch belongs to a simulator that was not given (its name).
    NoSimulator(&'static str),
    /// A mobileOK launch needs the request info bonin's launch URL answers.
    NeedsRequestInfo,
    /// No persona with that key.
    UnknownPersona,
    /// The NICE window refused.
    Nice(nice::WindowError),
    /// The mobileOK window refused.
    Mobileok(mobileok::WindowError),
    /// A PortOne window refused.
    Portone(portone::WindowError),
    /// The window resolved in the page and never sent the browser back to the return URL.
    NoReturn,
    /// The window's answer did not have the expected shape (which part).
    Unexpected(&'static str),
    /// A launch kind no simulator plays.
    UnsupportedLaunch,
}

impl fmt::Display for PlayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSimulator(name) => write!(f, "the launch needs the {name} simulator, which was not given"),
            Self::NeedsRequestInfo => f.write_str("a mobileOK window needs the request info from bonin's launch URL"),
            Self::UnknownPersona => f.write_str("unknown persona"),
            Self::Nice(error) => write!(f, "the simulated NICE window refused: {error}"),
            Self::Mobileok(error) => write!(f, "the simulated mobileOK window refused: {error}"),
            Self::Portone(error) => write!(f, "the simulated PortOne window refused: {error}"),
            Self::NoReturn => f.write_str("the window resolved in the page and did not return to the return URL"),
            Self::Unexpected(what) => write!(f, "the simulated window answered an unexpected {what}"),
            Self::UnsupportedLaunch => f.write_str("no simulator plays this kind of launch"),
        }
    }
}

impl std::error::Error for PlayError {}

/// The person `persona` (a [`personas`] key) goes through the window `launch` opens and verifies.
/// `request_info` is what bonin's launch URL answers for this verification (mobileOK's SDK fetches
/// it; `VerificationService::launch_data`); other providers need none.
pub fn window(
    simulators: &Simulators,
    launch: &Launch,
    request_info: Option<&str>,
    persona: &str,
) -> Result<Played, PlayError> {
    personas::by_key(persona).ok_or(PlayError::UnknownPersona)?;
    match launch {
        Launch::Form(form) => {
            let sim = simulators.nice.as_ref().ok_or(PlayError::NoSimulator("NICE"))?;
            let fields: Vec<(String, String)> = form.fields.iter().map(|f| (f.name.clone(), f.value.clone())).collect();
            let callback =
                sim.complete_window(&fields, persona, &ResultOverrides::default()).map_err(PlayError::Nice)?;
            Ok(nice_played(callback))
        }
        Launch::Script(script) => match script.kind() {
            "mobileok" => {
                let sim = simulators.mobileok.as_ref().ok_or(PlayError::NoSimulator("mobileOK"))?;
                let info = request_info.ok_or(PlayError::NeedsRequestInfo)?;
                let delivery = sim.complete_window(info, Some(persona)).map_err(PlayError::Mobileok)?;
                Ok(mobileok_played(delivery.return_url, delivery.data))
            }
            "iamport" => {
                let sim = simulators.portone.as_ref().ok_or(PlayError::NoSimulator("PortOne"))?;
                let launch: IamportView = fields(script)?;
                let outcome = sim
                    .complete_v1_window(&launch.merchant_code, &launch.params, Some(persona))
                    .map_err(PlayError::Portone)?;
                redirect_played(outcome)
            }
            "portone" => {
                let sim = simulators.portone.as_ref().ok_or(PlayError::NoSimulator("PortOne"))?;
                let launch: PortoneView = fields(script)?;
                let outcome = sim.complete_v2_window(&launch.params, Some(persona)).map_err(PlayError::Portone)?;
                redirect_played(outcome)
            }
            _ => Err(PlayError::UnsupportedLaunch),
        },
        _ => Err(PlayError::UnsupportedLaunch),
    }
}

/// The window `launch` opens ends without a verified person, with the provider code `code` (one
/// the adapter need not know), and says who vouches for that code.
///
/// - NICE seals its `resultcode` in the encrypted result: the default persona's result carries
///   `code` ([`ReportedBy::Provider`]).
/// - mobileOK posts `data` with a `resultCode`; PortOne V1 redirects with `error_code`, V2 with
///   `code`. The person cancels in the simulated window and the field carries `code` instead of the
///   simulator's cancel code ([`ReportedBy::Browser`]).
pub fn window_failure(
    simulators: &Simulators,
    launch: &Launch,
    request_info: Option<&str>,
    code: &str,
) -> Result<(Played, ReportedBy), PlayError> {
    match launch {
        Launch::Form(form) => {
            let sim = simulators.nice.as_ref().ok_or(PlayError::NoSimulator("NICE"))?;
            let fields: Vec<(String, String)> = form.fields.iter().map(|f| (f.name.clone(), f.value.clone())).collect();
            let overrides = ResultOverrides { resultcode: Some(code.to_owned()), ..ResultOverrides::default() };
            let callback =
                sim.complete_window(&fields, personas::default_persona().key, &overrides).map_err(PlayError::Nice)?;
            Ok((nice_played(callback), ReportedBy::Provider))
        }
        Launch::Script(script) => match script.kind() {
            "mobileok" => {
                let sim = simulators.mobileok.as_ref().ok_or(PlayError::NoSimulator("mobileOK"))?;
                let info = request_info.ok_or(PlayError::NeedsRequestInfo)?;
                let delivery = sim.complete_window(info, None).map_err(PlayError::Mobileok)?;
                // `data` is URL-encoded JSON; the window's outcome code is its `resultCode`.
                let json =
                    percent_decode_str(&delivery.data).decode_utf8().map_err(|_| PlayError::Unexpected("data"))?;
                let mut data: Value = serde_json::from_str(&json).map_err(|_| PlayError::Unexpected("data"))?;
                let object = data.as_object_mut().ok_or(PlayError::Unexpected("data"))?;
                object.insert("resultCode".into(), Value::String(code.to_owned()));
                let data = utf8_percent_encode(&data.to_string(), NON_ALPHANUMERIC).to_string();
                Ok((mobileok_played(delivery.return_url, data), ReportedBy::Browser))
            }
            "iamport" => {
                let sim = simulators.portone.as_ref().ok_or(PlayError::NoSimulator("PortOne"))?;
                let launch: IamportView = fields(script)?;
                let outcome =
                    sim.complete_v1_window(&launch.merchant_code, &launch.params, None).map_err(PlayError::Portone)?;
                Ok((redirect_with(outcome, "error_code", code)?, ReportedBy::Browser))
            }
            "portone" => {
                let sim = simulators.portone.as_ref().ok_or(PlayError::NoSimulator("PortOne"))?;
                let launch: PortoneView = fields(script)?;
                let outcome = sim.complete_v2_window(&launch.params, None).map_err(PlayError::Portone)?;
                Ok((redirect_with(outcome, "code", code)?, ReportedBy::Browser))
            }
            _ => Err(PlayError::UnsupportedLaunch),
        },
        _ => Err(PlayError::UnsupportedLaunch),
    }
}

/// What the simulated window reads of an `iamport` script launch (iamport.js `IMP.init` and
/// `IMP.certification`).
#[derive(Deserialize)]
struct IamportView {
    merchant_code: String,
    params: Value,
}

/// What the simulated window reads of a `portone` script launch
/// (`PortOne.requestIdentityVerification`).
#[derive(Deserialize)]
struct PortoneView {
    params: Value,
}

/// The fields of `script` as the view `T`.
fn fields<T: DeserializeOwned>(script: &ScriptLaunch) -> Result<T, PlayError> {
    script.fields_as().map_err(|_| PlayError::Unexpected("launch"))
}

/// The details a person types to receive an OTP, as `persona` would type them.
pub fn otp_subject(persona: &Persona) -> Result<OtpSubject, Error> {
    Ok(OtpSubject {
        name: Name::new(persona.name)?,
        phone: PhoneNumber::new(persona.phone)?,
        birth_date: BirthDate::parse(persona.birth_date)?,
        gender: persona.gender,
        nationality: persona.nationality,
        carrier: persona.carrier,
    })
}

/// The code the simulators send `persona`.
pub fn otp_code(persona: &Persona) -> Result<OtpCode, Error> {
    OtpCode::new(persona.otp)
}

fn nice_played(callback: nice::WindowCallback) -> Played {
    let transport = if callback.method == "post" { CallbackTransport::Post } else { CallbackTransport::Get };
    Played { return_url: callback.return_url, callback: CallbackParams::from_pairs(transport, callback.params) }
}

fn mobileok_played(return_url: String, data: String) -> Played {
    // The form layer decodes the posted body once: `data` stays URL-encoded JSON.
    Played { return_url, callback: CallbackParams::from_pairs(CallbackTransport::Post, [("data".to_owned(), data)]) }
}

fn redirect_played(outcome: WindowOutcome) -> Result<Played, PlayError> {
    let (return_url, pairs) = redirect(outcome)?;
    Ok(Played { return_url, callback: CallbackParams::from_pairs(CallbackTransport::Get, pairs) })
}

/// A redirect's URL without its query, and the query as the landing's form layer decodes it.
fn redirect(outcome: WindowOutcome) -> Result<(String, Vec<(String, String)>), PlayError> {
    let pairs = outcome.query_pairs();
    match outcome {
        WindowOutcome::Redirect(url) => {
            Ok((url.split_once('?').map_or(url.as_str(), |(base, _)| base).to_owned(), pairs))
        }
        _ => Err(PlayError::NoReturn),
    }
}

/// The redirect of `outcome` with the value of its query field `name` replaced by `value`.
fn redirect_with(outcome: WindowOutcome, name: &str, value: &str) -> Result<Played, PlayError> {
    let (return_url, mut pairs) = redirect(outcome)?;
    let field = pairs.iter_mut().find(|(n, _)| n == name).ok_or(PlayError::Unexpected("redirect without its code"))?;
    field.1 = value.to_owned();
    Ok(Played { return_url, callback: CallbackParams::from_pairs(CallbackTransport::Get, pairs) })
}
