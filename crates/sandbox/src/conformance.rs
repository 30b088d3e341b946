//! The one conformance suite every verification provider passes, as the store suite is for stores.
//!
//! A test describes its provider as a [`Subject`]: the adapter behind the domain ports
//! ([`WindowVerifier`] and/or [`OtpVerifier`]), the sandbox server its simulator runs in, a
//! [`SessionStore`], and the provider's endpoints ([`Endpoint`]: which flow step calls them, whether
//! a call may be repeated, what an unknown provider code there must become).
//! [`provider_conformance_tests!`] turns every check of the declared flows into a `#[tokio::test]`,
//! each building fresh subjects from the test's setup function. The checks drive the adapter
//! through [`VerificationService`], so they hold the adapter to what bonin's front ends see:
//!
//! | check | what it holds the provider to |
//! |---|---|
//! | `*_every_persona_verifies` | every persona verifies, with its own name and birth date, and any other field the provider reports equal to the persona's |
//! | `window_foreign_callback_is_integrity_mismatch` | another verification's callback is `IntegrityMismatch` and changes nothing (the right callback still verifies) |
//! | `*_replay_is_already_completed` | a callback or confirm applied again is `AlreadyCompleted` and changes nothing |
//! | `window_unknown_code_is_kept` | a window ending with an unknown code keeps it verbatim: `Rejected` when the provider vouches for it, `Unconfirmed` (changing nothing) when only the browser reports it |
//! | `*_unknown_code_is_kept` | an unknown provider code at each declared endpoint is kept verbatim (`layer:` prefixes allowed) as the endpoint declares |
//! | `otp_wrong_code_uses_an_attempt` | a wrong code is `Rejected`, uses one attempt, and the right code still verifies |
//! | `*_faults_are_typed_errors` | latency is absorbed; an HTTP 500 or 503, a hang, a malformed or a truncated body at each declared endpoint is `provider_unavailable` or `provider_indeterminate`, never a panic, never a provider decision, and never ends the verification |
//! | `*_no_retry_after_timeout` | a call declared [`Repeat::Never`] that timed out was sent once and is `Indeterminate` |
//! | `*_secrets_stay_out_of_debug_and_errors` | no persona value, configured secret or response body reaches an error's text, a record's or callback's `Debug`, or the adapter's `Debug` |
//!
//! Build the subject's adapter with a retrying `RetryPolicy` (more than one attempt) and a short
//! timeout, so that the retry checks mean something and hangs end in seconds. Attempts are counted
//! at the sandbox's fault layer: each request to a route takes one queued fault, so the hangs left
//! in the queue were never sent.
//!
//! A check that does not apply to a provider is opted out of in the macro, with the reason; the
//! reason is shown in the test output as an ignored test (`opted_out::<check>`). A subject whose
//! flows differ from the declared ones, or a flow check with no endpoint to run on, fails instead of
//! passing silently.
//!
//! [`provider_conformance_tests!`]: crate::provider_conformance_tests

use std::{collections::HashMap, fmt, future::Future, net::IpAddr, sync::Arc, time::Duration};

use bonin_domain::{
    Display as WindowDisplay, Error, ErrorCode, Method, NoObserver, OsRng, OtpChannel, OtpCode, OtpVerifier,
    ProviderId, ServiceSettings, SessionStore, StartRequest, Started, Status, SystemClock, Verification,
    VerificationId, VerificationService, VerifiedIdentity, WindowVerifier,
};
use tokio::task::JoinSet;

use crate::{
    Fault, Faults, SandboxServer, Times,
    personas::{self, Persona},
    play::{self, Played, ReportedBy, Simulators},
};

/// The flow step in which an endpoint is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `WindowVerifier::start`.
    WindowStart,
    /// `WindowVerifier::complete` (after the window was played).
    WindowComplete,
    /// `OtpVerifier::send`.
    OtpSend,
    /// `OtpVerifier::confirm` (after a send).
    OtpConfirm,
}

impl Step {
    fn flow(self) -> Flow {
        match self {
            Self::WindowStart | Self::WindowComplete => Flow::Window,
            Self::OtpSend | Self::OtpConfirm => Flow::Otp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Window,
    Otp,
}

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::Otp => "otp",
        }
    }
}

/// Whether a call may be sent again when no answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Safe to repeat (a read, a token request): the client may retry it.
    Safe,
    /// Not safe (it sends a message, spends a single-use token, applies a code): after a timeout
    /// it is never sent again, and the error says it may have been processed.
    Never,
}

/// What an unknown provider code answered at an endpoint must become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKept {
    /// `Rejected` by this provider with the code verbatim (after a `layer:` prefix, if any).
    Rejected,
    /// `Unconfirmed` with the code verbatim (after a `layer:` prefix), changing nothing: the call
    /// looked up something the browser chose.
    Unconfirmed,
    /// Not kept, for the reason given: the adapter folds any refusal here into another error by
    /// design.
    NotKept(&'static str),
}

/// One provider endpoint, by its route as the simulator registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The step that calls it.
    pub step: Step,
    /// The route (`/certifications/{imp_uid}`): where faults are injected.
    pub route: &'static str,
    /// Whether it may be repeated.
    pub repeat: Repeat,
    /// What an unknown code there must become.
    pub code: CodeKept,
}

impl Endpoint {
    /// An endpoint.
    pub fn new(step: Step, route: &'static str, repeat: Repeat, code: CodeKept) -> Self {
        Self { step, route, repeat, code }
    }
}

/// A provider under test: its adapter, its simulator's server and what the checks need to know.
pub struct Subject {
    provider: ProviderId,
    server: SandboxServer,
    simulators: Simulators,
    store: Arc<dyn SessionStore>,
    window: Option<Arc<dyn WindowVerifier>>,
    otp: Option<Arc<dyn OtpVerifier>>,
    adapters: Vec<Arc<dyn fmt::Debug + Send + Sync>>,
    endpoints: Vec<Endpoint>,
    secrets: Vec<String>,
    unknown_code: String,
    unknown_codes_at: Vec<(&'static str, String)>,
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("provider", &self.provider)
            .field("server", &self.server)
            .field("window", &self.window.is_some())
            .field("otp", &self.otp.is_some())
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Subject {
    /// A subject for `provider`, whose simulators (in `simulators`) run in `server`, with sessions
    /// in `store` (the test's choice: the sandbox depends on no store). Add its adapter with
    /// [`Subject::with_window`] and/or [`Subject::with_otp`].
    pub fn new(
        provider: ProviderId,
        server: SandboxServer,
        simulators: Simulators,
        store: Arc<dyn SessionStore>,
    ) -> Self {
        Self {
            provider,
            server,
            simulators,
            store,
            window: None,
            otp: None,
            adapters: Vec::new(),
            endpoints: Vec::new(),
            secrets: Vec::new(),
            unknown_code: "SIM9999".into(),
            unknown_codes_at: Vec::new(),
        }
    }

    /// The adapter's window flow. Its `Debug` is checked for secrets.
    pub fn with_window<A: WindowVerifier + fmt::Debug + 'static>(mut self, adapter: Arc<A>) -> Self {
        assert_eq!(adapter.provider(), self.provider, "the window adapter speaks for another provider");
        self.adapters.push(adapter.clone());
        self.window = Some(adapter);
        self
    }

    /// The adapter's OTP flow. Its `Debug` is checked for secrets.
    pub fn with_otp<A: OtpVerifier + fmt::Debug + 'static>(mut self, adapter: Arc<A>) -> Self {
        assert_eq!(adapter.provider(), self.provider, "the OTP adapter speaks for another provider");
        self.adapters.push(adapter.clone());
        self.otp = Some(adapter);
        self
    }

    /// Declares an endpoint of the provider.
    pub fn with_endpoint(mut self, step: Step, route: &'static str, repeat: Repeat, code: CodeKept) -> Self {
        self.endpoints.push(Endpoint::new(step, route, repeat, code));
        self
    }

    /// A secret the adapter was configured with (client secret, API secret, key password): it
    /// must never appear in an error or a `Debug` output.
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// The unknown code injected at endpoints and reported by windows, in a form the simulator
    /// can answer (PortOne V1 codes are numbers). Default `SIM9999`.
    pub fn with_unknown_code(mut self, code: impl Into<String>) -> Self {
        self.unknown_code = code.into();
        self
    }

    /// The unknown code to inject at `route` instead, where the endpoint answers codes of another
    /// form (NICE's access-token endpoint answers gateway codes only).
    pub fn with_unknown_code_at(mut self, route: &'static str, code: impl Into<String>) -> Self {
        self.unknown_codes_at.push((route, code.into()));
        self
    }

    fn unknown_code_at(&self, route: &str) -> String {
        self.unknown_codes_at
            .iter()
            .find(|(r, _)| *r == route)
            .map_or_else(|| self.unknown_code.clone(), |(_, code)| code.clone())
    }

    fn endpoints_of(&self, flow: Flow) -> Vec<Endpoint> {
        self.endpoints.iter().filter(|e| e.step.flow() == flow).cloned().collect()
    }

    fn has(&self, flow: Flow) -> bool {
        match flow {
            Flow::Window => self.window.is_some(),
            Flow::Otp => self.otp.is_some(),
        }
    }
}

/// How the suite gets fresh subjects: an `async fn() -> Subject` (or a closure returning such a
/// future). Each check, and each fault case, runs on a subject of its own.
pub trait Setup: Clone + Send + Sync + 'static {
    /// The future of a subject.
    type Future: Future<Output = Subject> + Send + 'static;
    /// A fresh subject.
    fn subject(&self) -> Self::Future;
}

impl<F, Fut> Setup for F
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Subject> + Send + 'static,
{
    type Future = Fut;
    fn subject(&self) -> Fut {
        self()
    }
}

const PUBLIC_URL: &str = "https://bonin.example";
const RETURN_URL: &str = "https://shop.example/done";
/// A latency every provider call absorbs.
const LATENCY: Duration = Duration::from_millis(150);
/// How many hangs are queued when counting attempts.
const HANGS: u32 = 5;
/// No step may take longer, whatever the fault.
const CASE_DEADLINE: Duration = Duration::from_secs(60);
/// Fault bodies of the sandbox: no error may quote them.
const FAULT_BODIES: [&str; 2] = ["injected fault", "<<not json"];

fn client_ip() -> Option<IpAddr> {
    Some(IpAddr::from([203, 0, 113, 7]))
}

/// A subject and the service over it.
struct Run {
    subject: Subject,
    service: VerificationService,
}

impl Run {
    async fn new<S: Setup>(setup: &S, flow: Flow) -> Self {
        let subject = setup.subject().await;
        assert!(
            subject.has(flow),
            "{}: the {} checks run, but the subject has no {} adapter",
            subject.provider,
            flow.name(),
            flow.name()
        );
        let settings = ServiceSettings::new(PUBLIC_URL, subject.provider)
            .with_allowed_return_origins(["https://shop.example"])
            .with_pii_retention(Duration::from_secs(600))
            .with_identity_grace(Duration::ZERO);
        let mut service = VerificationService::new(
            subject.store.clone(),
            Arc::new(SystemClock::new()),
            Arc::new(OsRng),
            settings,
            Arc::new(NoObserver),
        );
        if let Some(window) = &subject.window {
            service = service.with_window(window.clone());
        }
        if let Some(otp) = &subject.otp {
            service = service.with_otp(otp.clone());
        }
        Self { subject, service }
    }

    fn provider(&self) -> ProviderId {
        self.subject.provider
    }

    fn faults(&self) -> &Faults {
        self.subject.server.faults()
    }

    fn must<T>(&self, what: &str, result: Result<T, Error>) -> T {
        result.unwrap_or_else(|error| panic!("{}: {what} failed: {error:?}", self.provider()))
    }

    async fn start(&self, method: Method) -> Result<Started, Error> {
        self.service
            .start({
                let mut request =
                    StartRequest::new(method).with_provider(self.provider()).with_display(WindowDisplay::Page);
                request.return_url = (method == Method::Window).then(|| RETURN_URL.to_owned());
                request
            })
            .await
    }

    async fn started(&self, method: Method) -> Started {
        let started = self.start(method).await;
        self.must("start", started)
    }

    /// What bonin's launch URL answers for `id` (mobileOK's request info), if the provider has it.
    async fn request_info(&self, id: &VerificationId) -> Option<String> {
        match self.service.launch_data(id).await {
            Ok(info) => Some(info),
            Err(Error::NotFound) => None,
            Err(error) => panic!("{}: launch data failed: {error:?}", self.provider()),
        }
    }

    fn launch<'a>(&self, started: &'a Started) -> &'a bonin_domain::Launch {
        started.launch.as_ref().unwrap_or_else(|| panic!("{}: a window start without a launch", self.provider()))
    }

    fn landing(id: &VerificationId) -> String {
        format!("{PUBLIC_URL}/v1/verifications/{id}/return")
    }

    /// `persona` goes through the window of `started`; the provider returns to its landing.
    async fn play(&self, started: &Started, persona: &str) -> Played {
        let id = started.verification.id();
        let info = self.request_info(id).await;
        let played = play::window(&self.subject.simulators, self.launch(started), info.as_deref(), persona)
            .unwrap_or_else(|e| panic!("{}: playing the window as {persona} failed: {e}", self.provider()));
        assert!(
            played.return_url.starts_with(&Self::landing(id)),
            "{}: the window returned somewhere else than the verification's landing",
            self.provider()
        );
        played
    }

    async fn failing_window(&self, started: &Started) -> (Played, ReportedBy) {
        let info = self.request_info(started.verification.id()).await;
        let code = &self.subject.unknown_code;
        play::window_failure(&self.subject.simulators, self.launch(started), info.as_deref(), code)
            .unwrap_or_else(|e| panic!("{}: playing a failing window failed: {e}", self.provider()))
    }

    async fn send(&self, id: &VerificationId, persona: &Persona) -> Result<Verification, Error> {
        let subject = self.must("persona details", play::otp_subject(persona));
        self.service.otp_send(id, subject, OtpChannel::Sms, client_ip()).await
    }

    async fn confirm(&self, id: &VerificationId, code: &str) -> Result<Verification, Error> {
        let code = self.must("OTP code", OtpCode::new(code));
        self.service.otp_confirm(id, Some(code)).await
    }

    async fn peek(&self, id: &VerificationId) -> Verification {
        let record = self.service.peek(id).await;
        self.must("reading the record", record)
    }

    /// Prepares a verification up to `step`, calls `arm` (to inject faults), then runs the step.
    /// Returns the verification's id, if one was started, and the step's outcome.
    async fn step(&self, step: Step, arm: impl FnOnce(&Faults)) -> (Option<VerificationId>, Result<(), Error>) {
        let persona = personas::default_persona();
        match step {
            Step::WindowStart => {
                arm(self.faults());
                match self.start(Method::Window).await {
                    Ok(started) => (Some(started.verification.id().clone()), Ok(())),
                    Err(error) => (None, Err(error)),
                }
            }
            Step::WindowComplete => {
                let started = self.started(Method::Window).await;
                let played = self.play(&started, persona.key).await;
                let id = started.verification.id().clone();
                arm(self.faults());
                let outcome = self.service.complete(&id, &played.callback).await;
                (Some(id), outcome.map(drop))
            }
            Step::OtpSend => {
                let id = self.started(Method::Otp).await.verification.id().clone();
                arm(self.faults());
                let outcome = self.send(&id, persona).await;
                (Some(id), outcome.map(drop))
            }
            Step::OtpConfirm => {
                let id = self.started(Method::Otp).await.verification.id().clone();
                let sent = self.send(&id, persona).await;
                self.must("OTP send", sent);
                arm(self.faults());
                let outcome = self.confirm(&id, persona.otp).await;
                (Some(id), outcome.map(drop))
            }
        }
    }

    /// [`Run::step`] within [`CASE_DEADLINE`].
    async fn step_within(
        &self,
        step: Step,
        arm: impl FnOnce(&Faults),
    ) -> Result<(Option<VerificationId>, Result<(), Error>), String> {
        tokio::time::timeout(CASE_DEADLINE, self.step(step, arm))
            .await
            .map_err(|_| format!("{step:?} did not end within {CASE_DEADLINE:?}"))
    }

    /// The identity fields that differ from `persona`'s (names only). Name and birth date are
    /// required; any other field the provider reports must be the persona's.
    fn identity_mismatches(&self, identity: &VerifiedIdentity, persona: &Persona) -> Vec<&'static str> {
        let mut wrong = Vec::new();
        let mut check = |ok: bool, field: &'static str| {
            if !ok {
                wrong.push(field);
            }
        };
        check(identity.provider == self.provider(), "provider");
        check(identity.name.as_ref().map(|n| n.expose()) == Some(persona.name), "name");
        check(identity.birth_date.as_ref().map(|b| b.yyyymmdd()).as_deref() == Some(persona.birth_date), "birth_date");
        check(identity.gender.is_none_or(|g| g == persona.gender), "gender");
        check(identity.nationality.is_none_or(|n| n == persona.nationality), "nationality");
        check(identity.carrier.is_none_or(|c| c == persona.carrier), "carrier");
        check(identity.phone.as_ref().is_none_or(|p| p.expose() == persona.phone), "phone");
        check(identity.ci.as_ref().is_none_or(|c| c.expose() == persona.ci), "ci");
        check(identity.di.as_ref().is_none_or(|d| d.expose() == persona.di), "di");
        wrong
    }

    async fn assert_verified_as(&self, id: &VerificationId, persona: &Persona) {
        let read = self.service.get(id).await;
        let read = self.must("reading the verified record", read);
        assert_eq!(read.stored_status(), Status::Verified, "{}: persona {}", self.provider(), persona.key);
        let identity =
            read.identity().unwrap_or_else(|| panic!("{}: persona {}: no identity", self.provider(), persona.key));
        let wrong = self.identity_mismatches(identity, persona);
        assert!(
            wrong.is_empty(),
            "{}: persona {}: these fields are not the persona's: {wrong:?}",
            self.provider(),
            persona.key
        );
    }

    /// Fails unless the record of `id` is still open at `version`.
    async fn assert_unchanged(&self, id: &VerificationId, version: u64, what: &str) {
        let after = self.peek(id).await;
        assert!(
            is_open(after.stored_status()) && after.version() == version,
            "{}: {what} changed the verification ({:?}, version {} → {})",
            self.provider(),
            after.stored_status(),
            version,
            after.version()
        );
    }
}

/// Whether `reported` is `injected` verbatim, after a `layer:` prefix at most.
fn is_kept(reported: &str, injected: &str) -> bool {
    reported == injected || reported.strip_suffix(injected).is_some_and(|prefix| prefix.ends_with(':'))
}

fn is_open(status: Status) -> bool {
    matches!(status, Status::Pending | Status::OtpSent)
}

fn panic_text(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "the case was cancelled".into();
    }
    let payload = error.into_panic();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    format!("panicked: {message}")
}

/// Runs the cases, hangs all at once and the others one after another, and fails with every
/// case's failure.
async fn run_cases<F>(provider: ProviderId, check: &str, cases: Vec<(String, bool, F)>)
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut hangs = JoinSet::new();
    let mut hang_labels = HashMap::new();
    let mut others = Vec::new();
    for (label, hang, case) in cases {
        if hang {
            hang_labels.insert(hangs.spawn(case).id(), label);
        } else {
            others.push((label, case));
        }
    }
    let mut failures = Vec::new();
    for (label, case) in others {
        match tokio::spawn(case).await {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => failures.push(format!("{label}: {failure}")),
            Err(error) => failures.push(format!("{label}: {}", panic_text(error))),
        }
    }
    while let Some(joined) = hangs.join_next_with_id().await {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, outcome),
            Err(error) => (error.id(), Err(panic_text(error))),
        };
        if let Err(failure) = outcome {
            let label = hang_labels.get(&id).map_or("a hang case", String::as_str);
            failures.push(format!("{label}: {failure}"));
        }
    }
    assert!(failures.is_empty(), "{provider}: {check}:\n  {}", failures.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// Window checks

/// Every persona verifies through the window, with its own values.
pub async fn window_every_persona_verifies<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Window).await;
    for persona in &personas::ALL {
        let started = run.started(Method::Window).await;
        let played = run.play(&started, persona.key).await;
        let id = started.verification.id();
        let done = run.service.complete(id, &played.callback).await;
        let done = run.must(&format!("completing persona {}", persona.key), done);
        assert_eq!(done.stored_status(), Status::Verified, "{}: persona {}", run.provider(), persona.key);
        run.assert_verified_as(id, persona).await;
    }
}

/// Another verification's callback is an integrity mismatch and changes nothing: this
/// verification's own callback still verifies it.
pub async fn window_foreign_callback_is_integrity_mismatch<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Window).await;
    let mine = run.started(Method::Window).await;
    let other = run.started(Method::Window).await;
    let foreign = run.play(&other, "wilson").await;
    let id = mine.verification.id();
    let before = run.peek(id).await;
    let outcome = run.service.complete(id, &foreign.callback).await;
    assert!(
        matches!(outcome, Err(Error::IntegrityMismatch { .. })),
        "{}: another verification's callback must be an integrity mismatch, got {outcome:?}",
        run.provider()
    );
    run.assert_unchanged(id, before.version(), "another verification's callback").await;
    let own = run.play(&mine, "hong").await;
    let done = run.service.complete(id, &own.callback).await;
    run.must("completing with the verification's own callback", done);
    run.assert_verified_as(id, personas::default_persona()).await;
}

/// A callback applied again is `AlreadyCompleted` and changes nothing.
pub async fn window_replay_is_already_completed<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Window).await;
    let started = run.started(Method::Window).await;
    let played = run.play(&started, "kim-mvno").await;
    let id = started.verification.id();
    let done = run.service.complete(id, &played.callback).await;
    let done = run.must("completing", done);
    let again = run.service.complete(id, &played.callback).await;
    assert_eq!(again.map(drop), Err(Error::AlreadyCompleted), "{}: a replayed callback", run.provider());
    let after = run.peek(id).await;
    assert_eq!(
        (after.stored_status(), after.version()),
        (Status::Verified, done.version()),
        "{}: a replayed callback changed the verification",
        run.provider()
    );
}

/// A window ending with an unknown code keeps it verbatim (`Rejected` when the provider vouches
/// for it, `Unconfirmed` changing nothing when only the browser reports it), and so does every
/// declared endpoint of the window flow.
pub async fn window_unknown_code_is_kept<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Window).await;
    let provider = run.provider();
    let code = run.subject.unknown_code.clone();
    let started = run.started(Method::Window).await;
    let id = started.verification.id();
    let (played, reported_by) = run.failing_window(&started).await;
    let outcome = run.service.complete(id, &played.callback).await;
    match reported_by {
        ReportedBy::Provider => {
            assert!(
                matches!(&outcome, Err(Error::Rejected { provider: p, code: c, .. }) if *p == provider && is_kept(c, &code)),
                "{provider}: a code the provider vouches for must be Rejected with `{code}` kept, got {outcome:?}"
            );
            assert_eq!(run.peek(id).await.stored_status(), Status::Failed, "{provider}: a provider's refusal ends it");
        }
        ReportedBy::Browser => {
            assert!(
                matches!(&outcome, Err(Error::Unconfirmed { provider: p, code: c }) if *p == provider && is_kept(c, &code)),
                "{provider}: a code only the browser reports must be Unconfirmed with `{code}` kept, got {outcome:?}"
            );
            run.assert_unchanged(id, started.verification.version(), "a code only the browser reported").await;
            let own = run.play(&started, "hong").await;
            let done = run.service.complete(id, &own.callback).await;
            run.must("completing after an unconfirmed failure", done);
        }
    }
    endpoint_codes(setup, Flow::Window, "window_unknown_code_is_kept").await;
}

/// Faults at every declared endpoint of the window flow are typed errors.
pub async fn window_faults_are_typed_errors<S: Setup>(setup: S) {
    faults_are_typed_errors(setup, Flow::Window, "window_faults_are_typed_errors").await;
}

/// A window call declared [`Repeat::Never`] that timed out was sent once.
pub async fn window_no_retry_after_timeout<S: Setup>(setup: S) {
    no_retry_after_timeout(setup, Flow::Window, "window_no_retry_after_timeout").await;
}

/// No secret reaches errors or `Debug` output along the window flow.
pub async fn window_secrets_stay_out_of_debug_and_errors<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Window).await;
    let mut seen = Seen::default();
    let verified = run.started(Method::Window).await;
    seen.debug(&verified);
    let played = run.play(&verified, "hong").await;
    seen.debug(&played.callback);
    let id = verified.verification.id();
    seen.outcome(run.service.complete(id, &played.callback).await);
    seen.outcome(run.service.complete(id, &played.callback).await);
    let open = run.started(Method::Window).await;
    let other = run.started(Method::Window).await;
    let foreign = run.play(&other, "lee-cp949").await;
    seen.debug(&foreign.callback);
    seen.outcome(run.service.complete(open.verification.id(), &foreign.callback).await);
    let (failing, _) = run.failing_window(&open).await;
    seen.outcome(run.service.complete(open.verification.id(), &failing.callback).await);
    for id in [id, open.verification.id(), other.verification.id()] {
        seen.debug(&run.peek(id).await);
    }
    for endpoint in run.subject.endpoints_of(Flow::Window) {
        for fault in [Fault::Malformed, Fault::status(500)] {
            let (_, outcome) = run.step(endpoint.step, |f| f.inject(endpoint.route, fault, Times::Always)).await;
            run.faults().clear();
            seen.outcome(outcome);
        }
    }
    seen.assert_clean(&run);
}

// ---------------------------------------------------------------------------------------------
// OTP checks

/// Every persona verifies by OTP, with its own values.
pub async fn otp_every_persona_verifies<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Otp).await;
    for persona in &personas::ALL {
        let id = run.started(Method::Otp).await.verification.id().clone();
        let sent = run.send(&id, persona).await;
        let sent = run.must(&format!("sending to persona {}", persona.key), sent);
        assert_eq!(sent.stored_status(), Status::OtpSent, "{}: persona {}", run.provider(), persona.key);
        let done = run.confirm(&id, persona.otp).await;
        let done = run.must(&format!("confirming persona {}", persona.key), done);
        assert_eq!(done.stored_status(), Status::Verified, "{}: persona {}", run.provider(), persona.key);
        run.assert_verified_as(&id, persona).await;
    }
}

/// A wrong code is `Rejected`, uses one attempt and keeps the verification open; the right code
/// then verifies.
pub async fn otp_wrong_code_uses_an_attempt<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Otp).await;
    let persona = personas::default_persona();
    let id = run.started(Method::Otp).await.verification.id().clone();
    let sent = run.send(&id, persona).await;
    let sent = run.must("sending", sent);
    let wrong = if persona.otp == "000000" { "999999" } else { "000000" };
    let outcome = run.confirm(&id, wrong).await;
    assert!(
        matches!(&outcome, Err(Error::Rejected { provider, .. }) if *provider == run.provider()),
        "{}: a wrong code must be Rejected by the provider, got {outcome:?}",
        run.provider()
    );
    let after = run.peek(&id).await;
    assert_eq!(after.stored_status(), Status::OtpSent, "{}: a wrong code ended the verification", run.provider());
    assert_eq!(
        after.otp_attempts_left() + 1,
        sent.otp_attempts_left(),
        "{}: a wrong code must use exactly one attempt",
        run.provider()
    );
    let done = run.confirm(&id, persona.otp).await;
    run.must("confirming the right code after a wrong one", done);
    run.assert_verified_as(&id, persona).await;
}

/// A confirm (or a send) after the verification completed is `AlreadyCompleted` and changes
/// nothing.
pub async fn otp_replay_is_already_completed<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Otp).await;
    let persona = personas::default_persona();
    let id = run.started(Method::Otp).await.verification.id().clone();
    let sent = run.send(&id, persona).await;
    run.must("sending", sent);
    let done = run.confirm(&id, persona.otp).await;
    let done = run.must("confirming", done);
    let again = run.confirm(&id, persona.otp).await;
    assert_eq!(again.map(drop), Err(Error::AlreadyCompleted), "{}: a repeated confirm", run.provider());
    let resent = run.send(&id, persona).await;
    assert_eq!(resent.map(drop), Err(Error::AlreadyCompleted), "{}: a send after completion", run.provider());
    let after = run.peek(&id).await;
    assert_eq!(
        (after.stored_status(), after.version()),
        (Status::Verified, done.version()),
        "{}: a repeated confirm changed the verification",
        run.provider()
    );
}

/// An unknown provider code at every declared endpoint of the OTP flow is kept verbatim.
pub async fn otp_unknown_code_is_kept<S: Setup>(setup: S) {
    endpoint_codes(setup, Flow::Otp, "otp_unknown_code_is_kept").await;
}

/// Faults at every declared endpoint of the OTP flow are typed errors.
pub async fn otp_faults_are_typed_errors<S: Setup>(setup: S) {
    faults_are_typed_errors(setup, Flow::Otp, "otp_faults_are_typed_errors").await;
}

/// An OTP call declared [`Repeat::Never`] (send, confirm) that timed out was sent once.
pub async fn otp_no_retry_after_timeout<S: Setup>(setup: S) {
    no_retry_after_timeout(setup, Flow::Otp, "otp_no_retry_after_timeout").await;
}

/// No secret reaches errors or `Debug` output along the OTP flow.
pub async fn otp_secrets_stay_out_of_debug_and_errors<S: Setup>(setup: S) {
    let run = Run::new(&setup, Flow::Otp).await;
    let mut seen = Seen::default();
    let [hong, wilson, ..] = &personas::ALL;
    let id = run.started(Method::Otp).await.verification.id().clone();
    seen.outcome(run.send(&id, hong).await);
    seen.outcome(run.confirm(&id, if hong.otp == "000000" { "999999" } else { "000000" }).await);
    seen.outcome(run.confirm(&id, hong.otp).await);
    seen.outcome(run.confirm(&id, hong.otp).await);
    seen.debug(&run.peek(&id).await);
    // Details that match no subscriber: one person's name with another's number.
    let mismatched = run.started(Method::Otp).await.verification.id().clone();
    let mut subject = run.must("persona details", play::otp_subject(hong));
    subject.phone = run.must("persona details", play::otp_subject(wilson)).phone;
    seen.outcome(run.service.otp_send(&mismatched, subject, OtpChannel::Sms, client_ip()).await);
    seen.debug(&run.peek(&mismatched).await);
    for endpoint in run.subject.endpoints_of(Flow::Otp) {
        for fault in [Fault::Malformed, Fault::status(500)] {
            let (id, outcome) = run.step(endpoint.step, |f| f.inject(endpoint.route, fault, Times::Always)).await;
            run.faults().clear();
            seen.outcome(outcome);
            if let Some(id) = id {
                seen.debug(&run.peek(&id).await);
            }
        }
    }
    seen.assert_clean(&run);
}

// ---------------------------------------------------------------------------------------------
// Shared by both flows

async fn endpoint_codes<S: Setup>(setup: S, flow: Flow, check: &str) {
    let subject = setup.subject().await;
    let provider = subject.provider;
    let endpoints: Vec<Endpoint> =
        subject.endpoints_of(flow).into_iter().filter(|e| !matches!(e.code, CodeKept::NotKept(_))).collect();
    drop(subject);
    if flow == Flow::Otp {
        assert!(
            !endpoints.is_empty(),
            "{provider}: {check}: no endpoint of the OTP flow keeps a provider code; declare them, or opt out with the reason"
        );
    }
    let cases = endpoints
        .into_iter()
        .map(|endpoint| {
            let setup = setup.clone();
            (format!("code at {} ({:?})", endpoint.route, endpoint.step), false, code_case(setup, flow, endpoint))
        })
        .collect();
    run_cases(provider, check, cases).await;
}

async fn code_case<S: Setup>(setup: S, flow: Flow, endpoint: Endpoint) -> Result<(), String> {
    let run = Run::new(&setup, flow).await;
    let provider = run.provider();
    let code = run.subject.unknown_code_at(endpoint.route);
    let injected = Fault::provider_code(code.clone());
    let (id, outcome) = run.step_within(endpoint.step, |f| f.inject(endpoint.route, injected, Times::Always)).await?;
    run.faults().clear();
    match (endpoint.code, &outcome) {
        (CodeKept::Rejected, Err(Error::Rejected { provider: p, code: c, .. }))
            if *p == provider && is_kept(c, &code) =>
        {
            Ok(())
        }
        (CodeKept::Unconfirmed, Err(Error::Unconfirmed { provider: p, code: c }))
            if *p == provider && is_kept(c, &code) =>
        {
            match id {
                Some(id) if !is_open(run.peek(&id).await.stored_status()) => {
                    Err("an unconfirmed code ended the verification".into())
                }
                _ => Ok(()),
            }
        }
        (expected, _) => Err(format!("expected {expected:?} keeping `{code}`, got {outcome:?}")),
    }
}

async fn faults_are_typed_errors<S: Setup>(setup: S, flow: Flow, check: &str) {
    let subject = setup.subject().await;
    let provider = subject.provider;
    let endpoints = subject.endpoints_of(flow);
    drop(subject);
    assert!(
        !endpoints.is_empty(),
        "{provider}: {check}: no endpoint of the {} flow is declared; declare them, or opt out with the reason",
        flow.name()
    );
    let faults = [
        Fault::latency(LATENCY),
        Fault::status(500),
        Fault::status(503),
        Fault::Hang,
        Fault::Malformed,
        Fault::Truncated,
    ];
    let mut cases = Vec::new();
    for endpoint in &endpoints {
        for fault in &faults {
            let label = format!("{fault:?} at {} ({:?})", endpoint.route, endpoint.step);
            let hang = *fault == Fault::Hang;
            cases.push((label, hang, fault_case(setup.clone(), flow, endpoint.clone(), fault.clone())));
        }
    }
    run_cases(provider, check, cases).await;
}

async fn fault_case<S: Setup>(setup: S, flow: Flow, endpoint: Endpoint, fault: Fault) -> Result<(), String> {
    let run = Run::new(&setup, flow).await;
    let absorbed = matches!(fault, Fault::Latency { .. });
    let (id, outcome) = run.step_within(endpoint.step, |f| f.inject(endpoint.route, fault, Times::Always)).await?;
    run.faults().clear();
    match &outcome {
        Ok(()) if absorbed => {}
        Err(error) if !absorbed => {
            let code = error.code();
            if !matches!(code, ErrorCode::ProviderUnavailable | ErrorCode::ProviderIndeterminate) {
                return Err(format!(
                    "a provider that gave no usable answer must be provider_unavailable or provider_indeterminate, got {error:?}"
                ));
            }
        }
        _ => {
            let expected = if absorbed { "success" } else { "an error" };
            return Err(format!("expected {expected}, got {outcome:?}"));
        }
    }
    if !absorbed && let Some(id) = id {
        let status = run.peek(&id).await.stored_status();
        if !is_open(status) {
            return Err(format!("a fault ended the verification ({status:?})"));
        }
    }
    Ok(())
}

async fn no_retry_after_timeout<S: Setup>(setup: S, flow: Flow, check: &str) {
    let subject = setup.subject().await;
    let provider = subject.provider;
    let endpoints: Vec<Endpoint> =
        subject.endpoints_of(flow).into_iter().filter(|e| e.repeat == Repeat::Never).collect();
    drop(subject);
    assert!(
        !endpoints.is_empty(),
        "{provider}: {check}: no endpoint of the {} flow is declared Repeat::Never; if none may not be repeated, opt out with the reason",
        flow.name()
    );
    let cases = endpoints
        .into_iter()
        .map(|endpoint| {
            let label = format!("hang at {} ({:?})", endpoint.route, endpoint.step);
            (label, true, hang_case(setup.clone(), flow, endpoint))
        })
        .collect();
    run_cases(provider, check, cases).await;
}

async fn hang_case<S: Setup>(setup: S, flow: Flow, endpoint: Endpoint) -> Result<(), String> {
    let run = Run::new(&setup, flow).await;
    let (id, outcome) =
        run.step_within(endpoint.step, |f| f.inject(endpoint.route, Fault::Hang, Times::Count(HANGS))).await?;
    // Each request to the route took one queued hang: the ones left were never sent.
    let mut left = 0;
    while run.faults().take(endpoint.route).is_some() {
        left += 1;
    }
    run.faults().clear();
    let sent = HANGS - left;
    if sent != 1 {
        return Err(format!("a call that must not be repeated was sent {sent} times after timing out"));
    }
    if !matches!(outcome, Err(Error::Indeterminate { .. })) {
        return Err(format!("a timed-out call that may have been processed must be Indeterminate, got {outcome:?}"));
    }
    if let Some(id) = id {
        let status = run.peek(&id).await.stored_status();
        if !is_open(status) {
            return Err(format!("a timeout ended the verification ({status:?})"));
        }
    }
    Ok(())
}

/// Texts gathered along a flow, to be checked for canaries.
#[derive(Default)]
struct Seen {
    /// `Debug` and `Display` of errors: no persona value, OTP code, secret or fault body.
    errors: Vec<String>,
    /// `Debug` of records, launches and callbacks: no persona value or secret.
    debug: Vec<String>,
}

impl Seen {
    fn outcome<T>(&mut self, outcome: Result<T, Error>) {
        if let Err(error) = outcome {
            self.errors.push(format!("{error:?} {error}"));
        }
    }

    fn debug(&mut self, value: &dyn fmt::Debug) {
        self.debug.push(format!("{value:?}"));
    }

    fn assert_clean(mut self, run: &Run) {
        assert!(!self.errors.is_empty(), "{}: the flow produced no error to check", run.provider());
        for adapter in &run.subject.adapters {
            self.errors.push(format!("{adapter:?}"));
        }
        let mut personal = Vec::new();
        for p in &personas::ALL {
            personal.extend([p.name, p.phone, p.ci, p.di, p.birth_date]);
        }
        let secrets: Vec<&str> = run.subject.secrets.iter().map(String::as_str).collect();
        let in_errors: Vec<&str> = personal
            .iter()
            .copied()
            .chain(personas::ALL.iter().map(|p| p.otp))
            .chain(secrets.iter().copied())
            .chain(FAULT_BODIES)
            .collect();
        let in_debug: Vec<&str> = personal.iter().copied().chain(secrets.iter().copied()).collect();
        let mut leaks = Vec::new();
        for (texts, canaries, kind) in
            [(&self.errors, &in_errors, "error or adapter"), (&self.debug, &in_debug, "Debug")]
        {
            for text in texts.iter() {
                for canary in canaries.iter().filter(|c| !c.is_empty() && text.contains(**c)) {
                    leaks.push(format!("a canary ({} characters) in {kind} text: {text}", canary.chars().count()));
                }
            }
        }
        assert!(leaks.is_empty(), "{}: secrets leaked:\n  {}", run.provider(), leaks.join("\n  "));
    }
}

// ---------------------------------------------------------------------------------------------
// The declaration the macro checks

/// The checks of each flow, as [`provider_conformance_tests!`](crate::provider_conformance_tests)
/// generates them.
pub const WINDOW_CHECKS: &[&str] = crate::__provider_window_checks!(__provider_check_names!());
/// See [`WINDOW_CHECKS`].
pub const OTP_CHECKS: &[&str] = crate::__provider_otp_checks!(__provider_check_names!());

/// Whether `check` is opted out of.
#[doc(hidden)]
pub fn opted_out(opt_outs: &[(&str, &str)], check: &str) -> bool {
    opt_outs.iter().any(|(name, _)| *name == check)
}

/// Checks a macro invocation: every opt-out names a generated check and gives a reason, and the
/// declared flows are exactly the subject's.
#[doc(hidden)]
pub async fn check_declaration<S: Setup>(setup: S, flows: &[&str], opt_outs: &[(&str, &str)]) {
    let generated: Vec<&str> = flows
        .iter()
        .flat_map(|flow| match *flow {
            "window" => WINDOW_CHECKS,
            "otp" => OTP_CHECKS,
            other => panic!("unknown flow `{other}` (window, otp)"),
        })
        .copied()
        .collect();
    for (check, reason) in opt_outs {
        assert!(
            generated.contains(check),
            "opt-out of `{check}`, which is not one of the generated checks {generated:?}"
        );
        assert!(reason.trim().len() >= 10, "the opt-out of `{check}` needs a reason");
    }
    let subject = setup.subject().await;
    for flow in [Flow::Window, Flow::Otp] {
        assert_eq!(
            subject.has(flow),
            flows.contains(&flow.name()),
            "{}: the subject {} a {} adapter, but the {} flow is {}declared",
            subject.provider,
            if subject.has(flow) { "has" } else { "has no" },
            flow.name(),
            flow.name(),
            if flows.contains(&flow.name()) { "" } else { "not " }
        );
    }
}

/// The window checks, handed to `$then`.
#[doc(hidden)]
#[macro_export]
macro_rules! __provider_window_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then! { $($args)*
            window_every_persona_verifies,
            window_foreign_callback_is_integrity_mismatch,
            window_replay_is_already_completed,
            window_unknown_code_is_kept,
            window_faults_are_typed_errors,
            window_no_retry_after_timeout,
            window_secrets_stay_out_of_debug_and_errors
        }
    };
}

/// The OTP checks, handed to `$then`.
#[doc(hidden)]
#[macro_export]
macro_rules! __provider_otp_checks {
    ($then:ident!($($args:tt)*)) => {
        $crate::$then! { $($args)*
            otp_every_persona_verifies,
            otp_wrong_code_uses_an_attempt,
            otp_replay_is_already_completed,
            otp_unknown_code_is_kept,
            otp_faults_are_typed_errors,
            otp_no_retry_after_timeout,
            otp_secrets_stay_out_of_debug_and_errors
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __provider_check_names {
    ($($check:ident),* $(,)?) => {
        &[$(stringify!($check)),*]
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __provider_check_tests {
    ($setup:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if $crate::conformance::opted_out(__PROVIDER_OPT_OUTS, stringify!($check)) {
                    return;
                }
                $crate::conformance::$check($setup).await;
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __provider_flow_tests {
    (window, $setup:path) => {
        $crate::__provider_window_checks!(__provider_check_tests!($setup;));
    };
    (otp, $setup:path) => {
        $crate::__provider_otp_checks!(__provider_check_tests!($setup;));
    };
}

/// Generates the provider conformance suite ([`conformance`](crate::conformance)) for one
/// subject: a `#[tokio::test]` per check of each declared flow, plus `conformance_declaration`,
/// which fails when the flows are not exactly the subject's or an opt-out names no check.
///
/// ```ignore
/// async fn subject() -> bonin_sandbox::conformance::Subject { /* adapter, simulator, store */ }
///
/// bonin_sandbox::provider_conformance_tests! {
///     setup: subject,
///     flows: [window, otp],
///     opt_out: {
///         otp_no_retry_after_timeout: "sends and confirms carry an Idempotency-Key; a repeat is replayed",
///     },
/// }
/// ```
///
/// Each opted-out check is listed as an ignored test `opted_out::<check>` with its reason. One
/// invocation per module.
#[macro_export]
macro_rules! provider_conformance_tests {
    (
        setup: $setup:path,
        flows: [$($flow:ident),+ $(,)?]
        $(, opt_out: { $($check:ident: $reason:literal),* $(,)? })?
        $(,)?
    ) => {
        const __PROVIDER_OPT_OUTS: &[(&str, &str)] = &[$($((stringify!($check), $reason)),*)?];

        $( $crate::__provider_flow_tests!($flow, $setup); )+

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn conformance_declaration() {
            $crate::conformance::check_declaration($setup, &[$(stringify!($flow)),+], __PROVIDER_OPT_OUTS).await;
        }

        /// The checks opted out of, each with its reason.
        mod opted_out {
            $($(
                #[test]
                #[ignore = $reason]
                fn $check() {}
            )*)?
        }
    };
}
