//! The app-approval flow (request, then polls) through the service, over the memory store and a
//! stand-in provider whose answer the test decides: polls are spaced and leased so one instance at
//! a time asks the provider, an approval nobody reads still ends verified, and it is applied once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use bonin_adapters_store::MemoryStore;
use bonin_domain::*;

const PROVIDER: ProviderId = ProviderId::Toss;

/// What the stand-in answers next.
#[derive(Clone)]
enum Next {
    Waiting(AppState),
    Approved,
    Lapsed,
    Refused(&'static str),
    Down,
}

struct StandIn {
    next: Mutex<Next>,
    polls: AtomicUsize,
    requests: Mutex<Vec<AppRequest>>,
    delay: Duration,
}

impl StandIn {
    fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            next: Mutex::new(Next::Waiting(AppState::Requested)),
            polls: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            delay,
        })
    }

    fn answer(&self, next: Next) {
        *self.next.lock().unwrap() = next;
    }
}

#[async_trait]
impl AppVerifier for StandIn {
    fn provider(&self) -> ProviderId {
        PROVIDER
    }

    async fn request(&self, request: &AppRequest) -> Result<AppStart, Error> {
        self.requests.lock().unwrap().push(request.clone());
        let launch = Launch::Script(
            ScriptLaunch::new("stand_in", "https://app.example/sdk.js", &serde_json::json!({"tx_id": "tx-1"})).unwrap(),
        );
        Ok(AppStart::new(launch, None, ProviderState::new("tx-1")))
    }

    async fn poll(&self, _: &Verification) -> Result<AppPoll, Error> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let next = self.next.lock().unwrap().clone();
        match next {
            Next::Waiting(state) => Ok(AppPoll::Waiting(state)),
            Next::Approved => {
                let mut identity = VerifiedIdentity::new(PROVIDER, time::OffsetDateTime::now_utc());
                identity.name = Some(Name::new("김토스").unwrap());
                identity.birth_date = Some(BirthDate::from_ymd(1993, 3, 24).unwrap());
                Ok(AppPoll::Completed(Box::new(Completion::new(identity))))
            }
            Next::Lapsed => Ok(AppPoll::Expired),
            Next::Refused(code) => Ok(AppPoll::Refused { provider_code: code.into() }),
            Next::Down => Err(Error::Unavailable { dependency: Dependency::Provider(PROVIDER), reason: "down".into() }),
        }
    }
}

fn settings() -> ServiceSettings {
    ServiceSettings::new("http://127.0.0.1:8080", PROVIDER)
        .with_allowed_return_origins(["http://127.0.0.1:8080"])
        .with_pii_retention(Duration::from_secs(600))
        .with_identity_grace(Duration::ZERO)
}

fn service(store: Arc<MemoryStore>, clock: Arc<ManualClock>, provider: Arc<StandIn>) -> VerificationService {
    VerificationService::new(store, clock, Arc::new(OsRng), settings(), Arc::new(NoObserver)).with_app(provider)
}

fn start_request(prefill: Option<Prefill>) -> StartRequest {
    let mut request = StartRequest::new(Method::App).with_provider(PROVIDER).with_display(Display::Popup);
    request.prefill = prefill;
    request
}

fn setup(delay: Duration) -> (Arc<MemoryStore>, Arc<ManualClock>, Arc<StandIn>, VerificationService) {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let provider = StandIn::new(delay);
    let service = service(store.clone(), clock.clone(), provider.clone());
    (store, clock, provider, service)
}

#[tokio::test]
async fn a_read_polls_at_most_every_interval_and_reports_the_state() {
    let (_, clock, provider, service) = setup(Duration::ZERO);
    let started = service.start(start_request(None)).await.unwrap();
    let id = started.verification.id().clone();
    assert!(started.launch.is_some());
    provider.answer(Next::Waiting(AppState::InProgress));
    let read = service.get(&id).await.unwrap();
    assert_eq!(read.stored_status(), Status::Pending);
    assert_eq!(read.app().unwrap().state, AppState::InProgress);
    // A client reading in a loop does not reach the provider more than once per interval.
    for _ in 0..10 {
        service.get(&id).await.unwrap();
    }
    assert_eq!(provider.polls.load(Ordering::SeqCst), 1);
    clock.advance(MIN_POLL_INTERVAL);
    service.get(&id).await.unwrap();
    assert_eq!(provider.polls.load(Ordering::SeqCst), 2);
    assert!(matches!(service.poll(&id).await, Err(Error::RateLimited { .. })));
}

#[tokio::test]
async fn an_approval_nobody_reads_ends_verified_through_the_background_poll_once() {
    let (_, clock, provider, service) = setup(Duration::ZERO);
    let id = service.start(start_request(None)).await.unwrap().verification.id().clone();
    assert_eq!(service.watched_count(), 1);
    provider.answer(Next::Approved);
    service.poll_watched().await;
    let stored = service.peek(&id).await.unwrap();
    assert_eq!(stored.stored_status(), Status::Verified);
    assert_eq!(provider.polls.load(Ordering::SeqCst), 1);
    // Ended: forgotten by the background poll, never polled again.
    clock.advance(Duration::from_secs(30));
    service.poll_watched().await;
    assert_eq!(service.watched_count(), 0);
    assert_eq!(provider.polls.load(Ordering::SeqCst), 1);
    let read = service.get(&id).await.unwrap();
    assert_eq!(read.identity().and_then(|i| i.name.as_ref()).map(|n| n.expose().to_owned()).as_deref(), Some("김토스"));
}

#[tokio::test]
async fn two_instances_polling_one_verification_reach_the_provider_once() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let provider = StandIn::new(Duration::from_millis(50));
    provider.answer(Next::Approved);
    let a = Arc::new(service(store.clone(), clock.clone(), provider.clone()));
    let b = Arc::new(service(store.clone(), clock.clone(), provider.clone()));
    let id = a.start(start_request(None)).await.unwrap().verification.id().clone();
    let mut tasks = Vec::new();
    for n in 0..20 {
        let (service, id) = (if n % 2 == 0 { a.clone() } else { b.clone() }, id.clone());
        tasks.push(tokio::spawn(async move { service.poll(&id).await }));
    }
    let mut verified = 0;
    for task in tasks {
        if task.await.unwrap().is_ok_and(|v| v.stored_status() == Status::Verified) {
            verified += 1;
        }
    }
    assert_eq!(provider.polls.load(Ordering::SeqCst), 1, "one poll held the lease");
    assert_eq!(verified, 1, "the approval was applied once");
    assert_eq!(store.get(&id).await.unwrap().unwrap().stored_status(), Status::Verified);
}

#[tokio::test]
async fn a_lapsed_or_refused_approval_ends_and_a_failed_poll_changes_nothing() {
    let (_, clock, provider, service) = setup(Duration::ZERO);
    let lapsed = service.start(start_request(None)).await.unwrap().verification.id().clone();
    let refused = service.start(start_request(None)).await.unwrap().verification.id().clone();
    let down = service.start(start_request(None)).await.unwrap().verification.id().clone();
    provider.answer(Next::Lapsed);
    assert_eq!(service.poll(&lapsed).await.unwrap().stored_status(), Status::Expired);
    provider.answer(Next::Refused("CE9999"));
    let failed = service.poll(&refused).await.unwrap();
    assert_eq!(failed.stored_status(), Status::Failed);
    assert_eq!(failed.failure().unwrap().provider_code.as_deref(), Some("CE9999"));
    provider.answer(Next::Down);
    assert!(matches!(service.poll(&down).await, Err(Error::Unavailable { .. })));
    let still = service.peek(&down).await.unwrap();
    assert_eq!(still.stored_status(), Status::Pending);
    assert!(still.app().unwrap().lease_until.is_none(), "the lease is released");
    clock.advance(MIN_POLL_INTERVAL);
    provider.answer(Next::Approved);
    assert_eq!(service.poll(&down).await.unwrap().stored_status(), Status::Verified);
}

#[tokio::test]
async fn the_subject_is_named_whole_or_not_at_all_and_complete_is_refused() {
    let (_, _, provider, service) = setup(Duration::ZERO);
    let whole = Prefill::default()
        .with_name(Some(Name::new("김토스").unwrap()))
        .with_phone(Some(PhoneNumber::new("01012345678").unwrap()))
        .with_birth_date(Some(BirthDate::from_ymd(1993, 3, 24).unwrap()));
    let partial = Prefill::default().with_name(Some(Name::new("김토스").unwrap()));
    service.start(start_request(Some(whole))).await.unwrap();
    let id = service.start(start_request(None)).await.unwrap().verification.id().clone();
    // A partial subject would silently become a request anyone can approve: refused, nothing sent.
    let refused = service.start(start_request(Some(partial))).await;
    assert!(matches!(refused, Err(Error::InvalidInput { ref field, .. }) if field == "prefill"), "{refused:?}");
    let requests = provider.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].subject.is_some());
    assert!(requests[1].subject.is_none());
    let callback = CallbackParams::new(CallbackTransport::Get);
    assert!(matches!(service.complete(&id, &callback).await, Err(Error::WrongStep { .. })));
}
