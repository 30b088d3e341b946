//! Outbound events, as the service writes them into the store's outbox: one per final state, never
//! one for a write that does not change the state, exactly one however many requests race, the
//! expiry check that turns a lapsed verification into `verification.expired`, and nothing at all
//! when events are off.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use bonin_adapters_store::MemoryStore;
use bonin_domain::*;

/// An OTP provider with mobileOK's limits that accepts `123456`.
struct StandIn;

#[async_trait]
impl OtpVerifier for StandIn {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }
    fn rules(&self) -> FlowRules {
        FlowRules::new(Duration::from_secs(10 * 60)).with_max_otp_attempts(3)
    }
    async fn send(&self, _: &OtpRequest) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn resend(&self, _: &Verification) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if code.as_ref().map(OtpCode::expose) == Some("123456") {
            let mut identity = VerifiedIdentity::new(session.provider(), time::OffsetDateTime::now_utc());
            identity.name = Some(Name::new("홍길동").unwrap());
            Ok(OtpOutcome::Verified(Completion::new(identity)))
        } else {
            Ok(OtpOutcome::WrongCode { retry_state: Some(ProviderState::new("t2")), provider_code: "3001".into() })
        }
    }
}

struct Setup {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    service: Arc<VerificationService>,
}

fn setup(events: bool) -> Setup {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let settings = ServiceSettings::new("http://127.0.0.1:8080", ProviderId::Mobileok)
        .with_allowed_return_origins(["http://127.0.0.1:8080"])
        .with_pii_retention(Duration::from_secs(3600))
        .with_identity_grace(Duration::ZERO);
    let service =
        VerificationService::new(store.clone(), clock.clone(), Arc::new(OsRng), settings, Arc::new(NoObserver))
            .with_otp(Arc::new(StandIn))
            .with_events(events);
    Setup { store, clock, service: Arc::new(service) }
}

async fn started(s: &Setup) -> VerificationId {
    let request = StartRequest::new(Method::Otp).with_display(Display::Page);
    let id = s.service.start(request).await.unwrap().verification.id().clone();
    let subject = OtpSubject {
        name: Name::new("홍길동").unwrap(),
        phone: PhoneNumber::new("01012345678").unwrap(),
        birth_date: BirthDate::from_ymd(1990, 2, 15).unwrap(),
        gender: Gender::Male,
        nationality: Nationality::Domestic,
        carrier: Carrier::Skt,
    };
    s.service.otp_send(&id, subject, OtpChannel::Sms, None).await.unwrap();
    id
}

/// Every due event, claimed and removed.
async fn drain(s: &Setup) -> Vec<OutboxEvent> {
    let claimed = s.store.claim("test", 1000, Duration::from_secs(60)).await.unwrap();
    for event in &claimed {
        assert!(s.store.remove(&event.id, "test").await.unwrap());
    }
    claimed
}

fn code(text: &str) -> Option<OtpCode> {
    Some(OtpCode::new(text).unwrap())
}

#[tokio::test]
async fn a_verification_writes_one_event_and_reads_write_none() {
    let s = setup(true);
    let id = started(&s).await;
    assert!(drain(&s).await.is_empty(), "only the expiry check is written at start, due at expiry");
    s.service.otp_confirm(&id, code("123456")).await.unwrap();
    assert_eq!(s.service.get(&id).await.unwrap().stored_status(), Status::Verified); // a write, no transition
    assert_eq!(s.service.otp_confirm(&id, code("123456")).await.unwrap_err(), Error::AlreadyCompleted);
    let events = drain(&s).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.event_type, "verification.verified");
    assert!(event.id.starts_with("evt_") && event.id.len() == 28, "{}", event.id);
    assert_eq!(event.data.verification_id.as_deref(), Some(id.as_str()));
    assert_eq!((event.data.provider.as_str(), event.data.method.as_deref()), ("mobileok", Some("otp")));
    assert_eq!((event.data.status.as_str(), event.data.error_code.as_deref()), ("verified", None));
    assert!(!serde_json::to_string(event).unwrap().contains("홍길동"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_confirms_write_exactly_one_event() {
    let s = setup(true);
    let id = started(&s).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (service, id) = (s.service.clone(), id.clone());
        tasks.push(tokio::spawn(async move { service.otp_confirm(&id, code("123456")).await }));
    }
    for task in tasks {
        let _ = task.await.unwrap();
    }
    let events = drain(&s).await;
    assert_eq!(events.iter().filter(|e| e.event_type == "verification.verified").count(), 1, "{events:?}");
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn running_out_of_attempts_writes_failed_with_its_code() {
    let s = setup(true);
    let id = started(&s).await;
    for _ in 0..5 {
        let _ = s.service.otp_confirm(&id, code("000000")).await;
    }
    let events = drain(&s).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_type, "verification.failed");
    assert_eq!(events[0].data.status, "failed");
    assert_eq!(events[0].data.error_code.as_deref(), Some("attempts_exhausted"));
}

#[tokio::test]
async fn the_expiry_check_expires_an_open_verification_once() {
    let s = setup(true);
    let id = started(&s).await;
    s.clock.advance(Duration::from_secs(10 * 60 + 1));
    let due = drain(&s).await;
    assert_eq!(due.len(), 1);
    assert!(due[0].is_internal() && due[0].event_type == events::EXPIRY_CHECK);
    assert_eq!(due[0].data.verification_id.as_deref(), Some(id.as_str()));
    // Due at the deadline, it waits out the grace (a result held elsewhere is written first).
    assert!(!s.service.expire_if_due(&id).await.unwrap());
    s.clock.advance(EXPIRY_GRACE);
    assert!(s.service.expire_if_due(&id).await.unwrap());
    assert!(s.service.expire_if_due(&id).await.unwrap(), "a second check finds it final");
    let events = drain(&s).await;
    assert_eq!(events.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(), ["verification.expired"]);
    assert_eq!(events[0].data.status, "expired");
}

#[tokio::test]
async fn the_expiry_check_of_a_finished_verification_writes_nothing() {
    let s = setup(true);
    let id = started(&s).await;
    s.service.otp_confirm(&id, code("123456")).await.unwrap();
    // A verification that is gone (retention passed) leaves nothing to do.
    assert!(s.service.expire_if_due(&VerificationId::generate(&OsRng).unwrap()).await.unwrap());
    // Not due yet: the check is kept.
    let open = started(&s).await;
    assert!(!s.service.expire_if_due(&open).await.unwrap());
    drain(&s).await;
    s.clock.advance(Duration::from_secs(10 * 60 + 1));
    assert!(s.service.expire_if_due(&id).await.unwrap());
    let events = drain(&s).await;
    assert!(
        events
            .iter()
            .all(|e| e.event_type != "verification.expired" || e.data.verification_id.as_deref() != Some(id.as_str())),
        "{events:?}"
    );
}

#[tokio::test]
async fn with_events_off_nothing_is_written() {
    let s = setup(false);
    let id = started(&s).await;
    s.service.otp_confirm(&id, code("123456")).await.unwrap();
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(s.store.depth().await.unwrap(), 0);
    assert!(drain(&s).await.is_empty());
}
