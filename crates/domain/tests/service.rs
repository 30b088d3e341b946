//! The verification service's guarantees, attacked, over the memory store and stand-in providers
//! that count what reaches them: racing OTP confirms, `min_age`, a store that fails while a
//! provider's one-time result is in hand, a browser-only failure, an app approval confirmed too
//! early, and the identity's read-once rule with its grace period.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use bonin_adapters_store::MemoryStore;
use bonin_domain::*;

fn settings(grace: Duration) -> ServiceSettings {
    ServiceSettings::new("http://127.0.0.1:8080", ProviderId::Mobileok)
        .with_allowed_return_origins(["http://127.0.0.1:8080"])
        .with_pii_retention(Duration::from_secs(600))
        .with_identity_grace(grace)
}

/// The rules a provider with mobileOK's limits states: 10 minutes in total, 7 to confirm after the
/// request, 3 OTP attempts, a result at most 600 s old.
fn strict_rules() -> FlowRules {
    FlowRules::new(Duration::from_secs(10 * 60))
        .with_confirm_window(Some(Duration::from_secs(7 * 60)))
        .with_max_otp_attempts(3)
        .with_max_result_age(Some(Duration::from_secs(600)))
}

/// The rules NICE's adapter states: an hour, bounded by the crypto token's `period`.
fn nice_rules() -> FlowRules {
    FlowRules::new(Duration::from_secs(60 * 60))
}

fn identity(provider: ProviderId, born: (i32, u8, u8)) -> VerifiedIdentity {
    let mut identity = VerifiedIdentity::new(provider, time::OffsetDateTime::now_utc());
    identity.name = Some(Name::new("홍길동").unwrap());
    identity.birth_date = Some(BirthDate::from_ymd(born.0, born.1, born.2).unwrap());
    identity
}

/// An OTP provider that takes a while to answer and counts the codes it sees; accepts `123456`.
struct CountingOtp {
    confirms: AtomicUsize,
    born: (i32, u8, u8),
}

#[async_trait]
impl OtpVerifier for CountingOtp {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }
    fn rules(&self) -> FlowRules {
        strict_rules()
    }
    async fn send(&self, _: &OtpRequest) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn resend(&self, _: &Verification) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        self.confirms.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        if code.is_none() {
            return Ok(OtpOutcome::NotYetApproved {
                retry_state: Some(ProviderState::new("t3")),
                provider_code: "4000".into(),
            });
        }
        match code.as_ref().map(OtpCode::expose) {
            Some("999999") => {
                return Err(Error::Unavailable {
                    dependency: Dependency::Provider(ProviderId::Mobileok),
                    reason: "HTTP 503".into(),
                });
            }
            Some("555555") => {
                return Ok(OtpOutcome::NotYetApproved { retry_state: None, provider_code: "4000".into() });
            }
            _ => {}
        }
        if code.as_ref().map(OtpCode::expose) == Some("123456") {
            Ok(OtpOutcome::Verified(Completion::new(identity(session.provider(), self.born))))
        } else {
            Ok(OtpOutcome::WrongCode { retry_state: Some(ProviderState::new("t2")), provider_code: "3001".into() })
        }
    }
}

fn subject() -> OtpSubject {
    OtpSubject {
        name: Name::new("홍길동").unwrap(),
        phone: PhoneNumber::new("01012345678").unwrap(),
        birth_date: BirthDate::from_ymd(1990, 2, 15).unwrap(),
        gender: Gender::Male,
        nationality: Nationality::Domestic,
        carrier: Carrier::Skt,
    }
}

fn start(method: Method, min_age: Option<u8>) -> StartRequest {
    let mut request =
        StartRequest::new(method).with_return_url("http://127.0.0.1:8080/done").with_display(Display::Page);
    request.min_age = min_age;
    request
}

async fn otp_service(
    born: (i32, u8, u8),
    min_age: Option<u8>,
) -> (Arc<VerificationService>, Arc<CountingOtp>, VerificationId) {
    let clock = Arc::new(SystemClock::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let otp = Arc::new(CountingOtp { confirms: AtomicUsize::new(0), born });
    let service =
        VerificationService::new(store, clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
            .with_otp(otp.clone());
    let started = service.start(start(Method::Otp, min_age)).await.unwrap();
    let id = started.verification.id().clone();
    service.otp_send(&id, subject(), OtpChannel::Sms, None).await.unwrap();
    (Arc::new(service), otp, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_wrong_confirms_reach_the_provider_at_most_attempts_times() {
    let (service, otp, id) = otp_service((1990, 2, 15), None).await;
    let attempts = service.get(&id).await.unwrap().rules().max_otp_attempts;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (service, id) = (service.clone(), id.clone());
        tasks.push(tokio::spawn(async move { service.otp_confirm(&id, Some(OtpCode::new("000000").unwrap())).await }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap().unwrap_err().code());
    }
    assert!(
        otp.confirms.load(Ordering::SeqCst) <= usize::from(attempts),
        "{} codes tested",
        otp.confirms.load(Ordering::SeqCst)
    );
    assert!(
        codes.iter().all(|c| matches!(
            c,
            ErrorCode::RateLimited
                | ErrorCode::ProviderRejected
                | ErrorCode::AttemptsExhausted
                | ErrorCode::AlreadyCompleted
        )),
        "{codes:?}"
    );
    // Keep trying, one at a time, until the verification gives up: still never more than the rules allow.
    for _ in 0..10 {
        let _ = service.otp_confirm(&id, Some(OtpCode::new("000000").unwrap())).await;
    }
    assert_eq!(otp.confirms.load(Ordering::SeqCst), usize::from(attempts));
    let after = service.get(&id).await.unwrap();
    assert_eq!(after.stored_status(), Status::Failed);
    // The right code after that is refused without reaching the provider.
    let late = service.otp_confirm(&id, Some(OtpCode::new("123456").unwrap())).await.unwrap_err();
    assert_eq!(late, Error::AlreadyCompleted);
    assert_eq!(otp.confirms.load(Ordering::SeqCst), usize::from(attempts));
}

#[tokio::test]
async fn min_age_is_enforced_on_an_otp_verification() {
    let (service, _, id) = otp_service((2015, 6, 1), Some(19)).await;
    let error = service.otp_confirm(&id, Some(OtpCode::new("123456").unwrap())).await.unwrap_err();
    assert_eq!(error, Error::AgeRestricted);
    let after = service.get(&id).await.unwrap();
    assert_eq!(after.stored_status(), Status::Failed);
    assert_eq!(after.failure().unwrap().code, ErrorCode::AgeRestricted);
    assert!(after.identity().is_none(), "a refused person's identity is not kept");

    let (service, _, id) = otp_service((1990, 2, 15), Some(19)).await;
    let done = service.otp_confirm(&id, Some(OtpCode::new("123456").unwrap())).await.unwrap();
    assert_eq!(done.stored_status(), Status::Verified);
}

/// A window provider whose result can be fetched only once (like mobileOK's key token) and which
/// records its after-commit clean-up.
struct OneShotWindow {
    taken: AtomicBool,
    cleaned: AtomicUsize,
    fail_in_browser: bool,
}

#[async_trait]
impl WindowVerifier for OneShotWindow {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }
    fn rules(&self) -> FlowRules {
        strict_rules()
    }
    fn popup_landing(&self) -> PopupLanding {
        PopupLanding::Json
    }
    async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error> {
        let launch =
            Launch::Form(FormLaunch { action: request.return_url.clone(), method: FormMethod::Post, fields: vec![] });
        Ok(WindowStart::new(launch, ProviderState::new("s")))
    }
    async fn complete(&self, session: &Verification, _: &CallbackParams) -> Result<Completion, Error> {
        if self.fail_in_browser {
            return Err(Error::unconfirmed(ProviderId::Mobileok, "9999"));
        }
        if self.taken.swap(true, Ordering::SeqCst) {
            return Err(Error::integrity("the key token was already used"));
        }
        Ok(Completion::new(identity(session.provider(), (1990, 2, 15))).with_after_commit(ProviderState::new("delete")))
    }
    async fn after_commit(&self, _: &Verification, work: &ProviderState) -> Result<(), Error> {
        assert_eq!(work.expose(), "delete");
        self.cleaned.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A memory store that refuses writes of final records while `broken` is set.
struct FlakyStore {
    inner: MemoryStore,
    broken: AtomicBool,
    /// Once: just before a final record is written, another change to the open record wins.
    interloper: AtomicBool,
}

#[async_trait]
impl SessionStore for FlakyStore {
    async fn create(&self, v: &Verification, ttl: Duration) -> Result<(), StoreError> {
        self.inner.create(v, ttl).await
    }
    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        self.inner.get(id).await
    }
    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError> {
        self.inner.find_by_provider_key(key).await
    }
    async fn compare_and_swap(
        &self,
        expected: u64,
        next: &Verification,
        ttl: Duration,
    ) -> Result<CasOutcome, StoreError> {
        if self.broken.load(Ordering::SeqCst) && next.stored_status().is_final() {
            return Err(StoreError::Unavailable("connection reset".into()));
        }
        if next.stored_status().is_final() && self.interloper.swap(false, Ordering::SeqCst) {
            let open = self.inner.get(next.id()).await?.unwrap();
            let bumped = open.without_identity();
            assert_eq!(self.inner.compare_and_swap(open.version(), &bumped, ttl).await?, CasOutcome::Swapped);
        }
        self.inner.compare_and_swap(expected, next, ttl).await
    }
    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError> {
        self.inner.delete(id).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A service over a store that refuses final writes (until `broken` is cleared), with a window
/// provider whose result can be taken once.
fn service_over_a_broken_store(clock: Arc<dyn Clock>) -> (Arc<FlakyStore>, Arc<OneShotWindow>, VerificationService) {
    let store = Arc::new(FlakyStore {
        inner: MemoryStore::with_clock(clock.clone()),
        broken: AtomicBool::new(true),
        interloper: AtomicBool::new(false),
    });
    let window =
        Arc::new(OneShotWindow { taken: AtomicBool::new(false), cleaned: AtomicUsize::new(0), fail_in_browser: false });
    let service =
        VerificationService::new(store.clone(), clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
            .with_window(window.clone());
    (store, window, service)
}

#[tokio::test]
async fn a_store_failure_after_a_one_time_result_loses_nothing_and_cleans_up_only_after_commit() {
    let (store, window, service) = service_over_a_broken_store(Arc::new(SystemClock::new()));
    let id = service.start(start(Method::Window, None)).await.unwrap().verification.id().clone();
    let callback = CallbackParams::new(CallbackTransport::Post).with("data", "x");

    let error = service.complete(&id, &callback).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ProviderIndeterminate, "the caller is told to read the status");
    assert_eq!(window.cleaned.load(Ordering::SeqCst), 0, "no provider clean-up before the store has the result");
    assert_eq!(service.parked_count(), 1);

    store.broken.store(false, Ordering::SeqCst);
    let read = service.get(&id).await.unwrap();
    assert_eq!(read.stored_status(), Status::Verified);
    assert!(read.identity().is_some(), "the result the provider handed over once is not lost");
    assert_eq!(window.cleaned.load(Ordering::SeqCst), 1);
    assert_eq!(service.parked_count(), 0);
}

#[tokio::test]
async fn a_failure_only_the_browser_asserts_leaves_the_verification_open() {
    let clock = Arc::new(SystemClock::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let window =
        Arc::new(OneShotWindow { taken: AtomicBool::new(false), cleaned: AtomicUsize::new(0), fail_in_browser: true });
    let service =
        VerificationService::new(store, clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
            .with_window(window);
    let id = service.start(start(Method::Window, None)).await.unwrap().verification.id().clone();
    let error = service.complete(&id, &CallbackParams::new(CallbackTransport::Post)).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ProviderRejected);
    assert_eq!(service.peek(&id).await.unwrap().stored_status(), Status::Pending);
}

#[tokio::test]
async fn the_identity_survives_a_lost_first_read_and_is_dropped_after_the_grace_period() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let otp = Arc::new(CountingOtp { confirms: AtomicUsize::new(0), born: (1990, 2, 15) });
    let service = VerificationService::new(
        store,
        clock.clone(),
        Arc::new(OsRng),
        settings(Duration::from_secs(60)),
        Arc::new(NoObserver),
    )
    .with_otp(otp);
    let id = service.start(start(Method::Otp, None)).await.unwrap().verification.id().clone();
    service.otp_send(&id, subject(), OtpChannel::Sms, None).await.unwrap();
    service.otp_confirm(&id, Some(OtpCode::new("123456").unwrap())).await.unwrap();

    assert!(service.get(&id).await.unwrap().identity().is_some(), "first read");
    clock.advance(Duration::from_secs(59));
    assert!(service.get(&id).await.unwrap().identity().is_some(), "the first answer was lost: read again");
    clock.advance(Duration::from_secs(1));
    assert!(service.get(&id).await.unwrap().identity().is_none(), "after the grace period it is gone");
    assert!(service.peek(&id).await.unwrap().identity().is_none(), "and dropped from the store");
}

#[tokio::test]
async fn with_no_grace_the_first_read_is_the_only_one() {
    let (service, _, id) = otp_service((1990, 2, 15), None).await;
    service.otp_confirm(&id, Some(OtpCode::new("123456").unwrap())).await.unwrap();
    assert!(service.get(&id).await.unwrap().identity().is_some());
    assert!(service.get(&id).await.unwrap().identity().is_none());
}

#[tokio::test]
async fn an_app_approval_confirmed_too_early_costs_no_attempt() {
    let (service, _, id) = otp_service((1990, 2, 15), None).await;
    for _ in 0..5 {
        let error = service.otp_confirm(&id, None).await.unwrap_err();
        assert_eq!(error.code(), ErrorCode::ProviderRejected);
    }
    let v = service.peek(&id).await.unwrap();
    assert_eq!((v.stored_status(), v.otp_attempts_left(), v.confirm_lease()), (Status::OtpSent, 3, None));
    assert_eq!(v.provider_state().unwrap().expose(), "t3", "the provider's new state is kept");
    let done = service.otp_confirm(&id, Some(OtpCode::new("123456").unwrap())).await.unwrap();
    assert_eq!(done.stored_status(), Status::Verified);
}

fn window_service(adapter: MockWindowVerifier) -> VerificationService {
    let clock = Arc::new(SystemClock::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    VerificationService::new(store, clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
        .with_window(Arc::new(adapter))
}

fn mock_window(outcome: fn() -> Result<Completion, Error>) -> MockWindowVerifier {
    let mut adapter = MockWindowVerifier::new();
    adapter.expect_provider().return_const(ProviderId::Nice);
    adapter.expect_rules().return_const(nice_rules());
    adapter.expect_popup_landing().return_const(PopupLanding::Page);
    adapter.expect_start().returning(|request| {
        let launch =
            Launch::Form(FormLaunch { action: request.return_url.clone(), method: FormMethod::Post, fields: vec![] });
        Ok(WindowStart::new(launch, ProviderState::new("s")))
    });
    adapter.expect_complete().returning(move |_, _| outcome());
    adapter.expect_after_commit().returning(|_, _| Ok(()));
    adapter
}

fn nice_start() -> StartRequest {
    start(Method::Window, None).with_provider(ProviderId::Nice)
}

#[tokio::test]
async fn a_verification_is_held_to_the_rules_of_the_verifier_registered_for_its_method() {
    let service = window_service(mock_window(|| Err(Error::integrity("unused"))));
    let started = service.start(nice_start()).await.unwrap();
    let v = &started.verification;
    assert_eq!(*v.rules(), nice_rules());
    assert_eq!(v.expires_at() - v.created_at(), time::Duration::hours(1));

    let (service, _, id) = otp_service((1990, 2, 15), None).await;
    let v = service.peek(&id).await.unwrap();
    assert_eq!((*v.rules(), v.otp_attempts_left()), (strict_rules(), 3));

    /// A window verifier that states no rules of its own.
    struct Plain;
    #[async_trait]
    impl WindowVerifier for Plain {
        fn provider(&self) -> ProviderId {
            ProviderId::Toss
        }
        async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error> {
            let launch =
                Launch::Script(ScriptLaunch::new("plain", request.return_url.clone(), &serde_json::json!({}))?);
            Ok(WindowStart::new(launch, ProviderState::new("s")))
        }
        async fn complete(&self, _: &Verification, _: &CallbackParams) -> Result<Completion, Error> {
            Err(Error::integrity("unused"))
        }
    }
    let clock = Arc::new(SystemClock::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let service =
        VerificationService::new(store, clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
            .with_window(Arc::new(Plain));
    let request = start(Method::Window, None).with_provider(ProviderId::Toss);
    let started = service.start(request).await.unwrap();
    assert_eq!(*started.verification.rules(), FlowRules::DEFAULT);
    assert_eq!(FlowRules::DEFAULT, FlowRules::new(Duration::from_secs(30 * 60)));
    assert_eq!(service.popup_landing(ProviderId::Toss), PopupLanding::Page, "the default");
    // OTP is not registered for it: refused, whatever the rules.
    let request = start(Method::Otp, None).with_provider(ProviderId::Toss);
    assert_eq!(service.start(request).await.unwrap_err().code(), ErrorCode::InvalidRequest);
}

#[test]
fn the_popup_landing_is_the_registered_window_verifiers() {
    let clock = Arc::new(SystemClock::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let one_shot =
        OneShotWindow { taken: AtomicBool::new(false), cleaned: AtomicUsize::new(0), fail_in_browser: false };
    let service =
        VerificationService::new(store, clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
            .with_window(Arc::new(one_shot))
            .with_window(Arc::new(mock_window(|| Err(Error::integrity("unused")))));
    assert_eq!(service.popup_landing(ProviderId::Mobileok), PopupLanding::Json);
    assert_eq!(service.popup_landing(ProviderId::Nice), PopupLanding::Page);
    assert_eq!(service.popup_landing(ProviderId::PortoneV2), PopupLanding::Page, "not registered");
}

#[tokio::test]
async fn a_tampered_callback_changes_nothing_and_an_authenticated_refusal_ends_the_verification() {
    let service = window_service(mock_window(|| Err(Error::integrity("bad HMAC"))));
    let id = service.start(nice_start()).await.unwrap().verification.id().clone();
    let callback = CallbackParams::new(CallbackTransport::Post);
    assert_eq!(service.complete(&id, &callback).await.unwrap_err().code(), ErrorCode::IntegrityMismatch);
    let v = service.peek(&id).await.unwrap();
    assert_eq!((v.stored_status(), v.version()), (Status::Pending, 0), "nothing was written");

    let service = window_service(mock_window(|| Err(Error::rejected(ProviderId::Nice, "resultcode:9001", None))));
    let id = service.start(nice_start()).await.unwrap().verification.id().clone();
    assert_eq!(service.complete(&id, &callback).await.unwrap_err().code(), ErrorCode::ProviderRejected);
    let v = service.peek(&id).await.unwrap();
    assert_eq!(v.stored_status(), Status::Failed);
    assert_eq!(v.failure().unwrap().provider_code.as_deref(), Some("resultcode:9001"));
    // A replay finds a final state.
    assert_eq!(service.complete(&id, &callback).await.unwrap_err(), Error::AlreadyCompleted);
}

#[tokio::test]
async fn a_window_callback_verifies_once_however_many_race() {
    let service =
        Arc::new(window_service(mock_window(|| Ok(Completion::new(identity(ProviderId::Nice, (1990, 2, 15)))))));
    let id = service.start(nice_start()).await.unwrap().verification.id().clone();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (service, id) = (service.clone(), id.clone());
        tasks.push(tokio::spawn(
            async move { service.complete(&id, &CallbackParams::new(CallbackTransport::Post)).await },
        ));
    }
    let mut verified = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(v) => {
                assert_eq!(v.stored_status(), Status::Verified);
                verified += 1;
            }
            Err(e) => {
                assert!(matches!(e.code(), ErrorCode::AlreadyCompleted | ErrorCode::ProviderIndeterminate), "{e}")
            }
        }
    }
    assert_eq!(verified, 1);
}

#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn an_embedders_subscriber_sees_spans_per_verification_and_provider_call_with_ids_only() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(captured.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let id = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let service =
                window_service(mock_window(|| Ok(Completion::new(identity(ProviderId::Nice, (1990, 2, 15))))));
            let id = service.start(nice_start()).await.unwrap().verification.id().clone();
            service.complete(&id, &CallbackParams::new(CallbackTransport::Post).with("enc_data", "x")).await.unwrap();
            service.get(&id).await.unwrap();
            id
        })
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for needle in [
        r#""name":"verification""#,
        r#""step":"start""#,
        r#""step":"complete""#,
        r#""name":"provider_call""#,
        r#""operation":"complete""#,
    ] {
        assert!(logs.contains(needle), "{needle} missing:\n{logs}");
    }
    assert!(logs.contains(id.as_str()) && logs.contains(r#""provider":"nice""#), "{logs}");
    for pii in ["홍길동", "1990-02-15", "19900215"] {
        assert!(!logs.contains(pii), "personal data in the spans:\n{logs}");
    }
}

#[tokio::test]
async fn a_verified_answer_is_reapplied_over_a_concurrent_change_never_parked() {
    let clock = Arc::new(SystemClock::new());
    let store = Arc::new(FlakyStore {
        inner: MemoryStore::with_clock(clock.clone()),
        broken: AtomicBool::new(false),
        interloper: AtomicBool::new(true),
    });
    let otp = Arc::new(CountingOtp { confirms: AtomicUsize::new(0), born: (1990, 2, 15) });
    let service =
        VerificationService::new(store.clone(), clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
            .with_otp(otp);
    let id = service.start(start(Method::Otp, None)).await.unwrap().verification.id().clone();
    service.otp_send(&id, subject(), OtpChannel::Sms, None).await.unwrap();
    let done = service.otp_confirm(&id, Some(OtpCode::new("123456").unwrap())).await.unwrap();
    assert_eq!(done.stored_status(), Status::Verified);
    assert!(!store.interloper.load(Ordering::SeqCst), "the concurrent change happened");
    assert_eq!(service.parked_count(), 0);
    assert_eq!(service.peek(&id).await.unwrap().stored_status(), Status::Verified);
}

#[tokio::test]
async fn a_failed_confirm_keeps_its_attempt_and_a_coded_not_yet_answer_counts_too() {
    let (service, _, id) = otp_service((1990, 2, 15), None).await;
    let error = service.otp_confirm(&id, Some(OtpCode::new("999999").unwrap())).await.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ProviderUnavailable);
    let v = service.peek(&id).await.unwrap();
    assert_eq!((v.otp_attempts_left(), v.confirm_lease()), (2, None), "counted, and the lease is released");
    service.otp_confirm(&id, Some(OtpCode::new("555555").unwrap())).await.unwrap_err();
    assert_eq!(service.peek(&id).await.unwrap().otp_attempts_left(), 1);
}

#[tokio::test]
async fn resends_wait_for_a_confirm_in_flight_and_are_capped() {
    let (service, _, id) = otp_service((1990, 2, 15), None).await;
    let confirm = {
        let (service, id) = (service.clone(), id.clone());
        tokio::spawn(async move { service.otp_confirm(&id, Some(OtpCode::new("000000").unwrap())).await })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(matches!(service.otp_resend(&id).await, Err(Error::RateLimited { .. })), "a resend during a confirm");
    confirm.await.unwrap().unwrap_err();
    for _ in 0..MAX_OTP_RESENDS {
        service.otp_resend(&id).await.unwrap();
    }
    assert_eq!(service.otp_resend(&id).await.unwrap_err(), Error::AttemptsExhausted);
    assert_eq!(service.peek(&id).await.unwrap().stored_status(), Status::OtpSent, "still open for a confirm");
}

#[tokio::test]
async fn an_age_refused_result_is_cleaned_up_at_the_provider_too() {
    let clock = Arc::new(SystemClock::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let window =
        Arc::new(OneShotWindow { taken: AtomicBool::new(false), cleaned: AtomicUsize::new(0), fail_in_browser: false });
    let service =
        VerificationService::new(store, clock, Arc::new(OsRng), settings(Duration::ZERO), Arc::new(NoObserver))
            .with_window(window.clone());
    let id = service.start(start(Method::Window, Some(60))).await.unwrap().verification.id().clone();
    let error = service.complete(&id, &CallbackParams::new(CallbackTransport::Post)).await.unwrap_err();
    assert_eq!(error, Error::AgeRestricted);
    assert_eq!(window.cleaned.load(Ordering::SeqCst), 1);
    assert!(service.peek(&id).await.unwrap().identity().is_none());
}

/// A result held because the store refused it, across the deadline: the expiry check writes it
/// first and does not expire the verification, and waits while the store still refuses it.
#[tokio::test]
async fn an_expiry_check_writes_a_held_result_first_and_never_expires_over_it() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let (store, _, service) = service_over_a_broken_store(clock.clone());
    let started = service.start(start(Method::Window, None)).await.unwrap().verification;
    let id = started.id().clone();
    let callback = CallbackParams::new(CallbackTransport::Post).with("data", "x");
    assert!(service.complete(&id, &callback).await.is_err());
    assert_eq!(service.parked_count(), 1);

    // Past the deadline and its grace, the store still refusing: nothing is expired.
    clock.advance((started.expires_at() - clock.now()).unsigned_abs() + EXPIRY_GRACE + Duration::from_secs(1));
    assert_eq!(service.expire_if_due(&id).await, Ok(false));
    assert_eq!(store.inner.get(&id).await.unwrap().unwrap().stored_status(), Status::Pending);

    // The store is back: the held result is written, and stands.
    store.broken.store(false, Ordering::SeqCst);
    assert_eq!(service.expire_if_due(&id).await, Ok(true));
    assert_eq!(service.parked_count(), 0);
    assert_eq!(store.inner.get(&id).await.unwrap().unwrap().stored_status(), Status::Verified);
}

/// Without a held result, an open verification is expired only once its grace has passed.
#[tokio::test]
async fn an_expiry_check_waits_out_the_grace_after_the_deadline() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let service = VerificationService::new(
        store.clone(),
        clock.clone(),
        Arc::new(OsRng),
        settings(Duration::ZERO),
        Arc::new(NoObserver),
    )
    .with_window(Arc::new(OneShotWindow {
        taken: AtomicBool::new(false),
        cleaned: AtomicUsize::new(0),
        fail_in_browser: false,
    }));
    let started = service.start(start(Method::Window, None)).await.unwrap().verification;
    let id = started.id().clone();
    clock.advance((started.expires_at() - clock.now()).unsigned_abs() + Duration::from_secs(1));
    assert_eq!(service.expire_if_due(&id).await, Ok(false));
    clock.advance(EXPIRY_GRACE);
    assert_eq!(service.expire_if_due(&id).await, Ok(true));
    assert_eq!(store.get(&id).await.unwrap().unwrap().stored_status(), Status::Expired);
}
