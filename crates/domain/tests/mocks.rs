//! The `mock` feature: every port has a mockall double that works with the documented call order.
#![cfg(feature = "mock")]
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::time::Duration;

use bonin_domain::*;
use time::macros::datetime;

const T0: Timestamp = datetime!(2026-05-01 12:00 UTC);

/// The rules NICE's adapter states: an hour, bounded by the crypto token's `period`.
fn nice_rules() -> FlowRules {
    FlowRules::new(Duration::from_secs(60 * 60))
}

/// The call order from the crate docs, over mocked ports.
async fn complete_window(
    adapter: &dyn WindowVerifier,
    store: &dyn SessionStore,
    clock: &dyn Clock,
    id: &VerificationId,
    callback: &CallbackParams,
) -> Result<Verification, Error> {
    let session = store.get(id).await?.ok_or(Error::NotFound)?;
    session.ensure_open(clock.now())?;
    let completion = adapter.complete(&session, callback).await?;
    let next = session.verified(clock.now(), completion.identity)?;
    match store.compare_and_swap(session.version(), &next, Duration::from_secs(600)).await? {
        CasOutcome::Swapped => Ok(next),
        CasOutcome::Conflict(_) => Err(Error::AlreadyCompleted),
    }
}

fn session() -> Verification {
    let id = VerificationId::generate(&SequenceRng::default()).unwrap();
    Verification::start(id, ProviderId::Nice, Method::Window, nice_rules(), T0).with_provider_session(
        None,
        ProviderState::new("keys"),
        None,
    )
}

fn mocks(stored: Verification, cas: CasOutcome) -> (MockWindowVerifier, MockSessionStore, MockClock) {
    let mut adapter = MockWindowVerifier::new();
    adapter
        .expect_complete()
        .times(1)
        .returning(|session, _| Ok(Completion::new(VerifiedIdentity::new(session.provider(), T0))));
    let mut store = MockSessionStore::new();
    store.expect_get().times(1).returning(move |_| Ok(Some(stored.clone())));
    store
        .expect_compare_and_swap()
        .withf(|expected, next, _| *expected == 0 && next.version() == 1 && next.stored_status() == Status::Verified)
        .times(1)
        .returning(move |_, _, _| Ok(cas.clone()));
    let mut clock = MockClock::new();
    clock.expect_now().return_const(T0 + Duration::from_secs(30));
    (adapter, store, clock)
}

#[tokio::test]
async fn a_window_callback_is_applied_through_compare_and_swap() {
    let stored = session();
    let (adapter, store, clock) = mocks(stored.clone(), CasOutcome::Swapped);
    let callback = CallbackParams::new(CallbackTransport::Get).with("enc_data", "x");
    let done = complete_window(&adapter, &store, &clock, stored.id(), &callback).await.unwrap();
    assert_eq!(done.stored_status(), Status::Verified);
}

#[tokio::test]
async fn a_lost_compare_and_swap_is_already_completed() {
    let stored = session();
    let (adapter, store, clock) = mocks(stored.clone(), CasOutcome::Conflict(None));
    let callback = CallbackParams::new(CallbackTransport::Post);
    let error = complete_window(&adapter, &store, &clock, stored.id(), &callback).await.unwrap_err();
    assert_eq!(error, Error::AlreadyCompleted);
}
