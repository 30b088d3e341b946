//! The one conformance suite every [`SessionStore`] passes.
//!
//! Each check is a public async function taking a [`Harness`]; [`store_conformance_tests!`]
//! turns all of them into `#[tokio::test]`s for one backend. Ids and provider keys are random, so
//! the suite can run against a shared, persistent backend (PostgreSQL, Redis) without cleanup.
//!
//! [`store_conformance_tests!`]: crate::store_conformance_tests

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use bonin_domain::{
    CasOutcome, Clock, EventData, FlowRules, Method, OsRng, Outbox, OutboxEvent, ProviderId, ProviderKey,
    ProviderState, SessionStore, Status, StoreError, Verification, VerificationId, VerifiedIdentity,
};

/// What a backend provides to the suite.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The store under test.
    fn store(&self) -> Arc<dyn SessionStore>;
    /// The wall clock the store measures TTLs against.
    fn clock(&self) -> Arc<dyn Clock>;
    /// Lets `by` pass for the store (advance a manual clock, or sleep for a real backend).
    async fn advance(&self, by: Duration);
}

/// The TTL used by expiry checks; real backends sleep this long, so it is short.
pub const SHORT_TTL: Duration = Duration::from_secs(2);
/// The provider the suite's sessions claim: any will do, a store never looks inside.
const ANY_PROVIDER: ProviderId = ProviderId::ALL[0];

const LONG_TTL: Duration = Duration::from_secs(600);

fn fresh_id() -> VerificationId {
    VerificationId::generate(&OsRng).unwrap_or_else(|e| panic!("entropy failed: {e}"))
}

fn fresh_key() -> ProviderKey {
    ProviderKey::new(ANY_PROVIDER, format!("tvid-{}", fresh_id()))
}

/// The rules of a window session: an hour in total (as NICE's adapter states).
const WINDOW_RULES: FlowRules = FlowRules::new(Duration::from_secs(60 * 60));

/// The rules of an OTP session with every limit set (as mobileOK's adapter states): 10 minutes in
/// total, 7 to confirm, 3 attempts, a result at most 600 s old.
const OTP_RULES: FlowRules = FlowRules::new(Duration::from_secs(10 * 60))
    .with_confirm_window(Some(Duration::from_secs(7 * 60)))
    .with_max_otp_attempts(3)
    .with_max_result_age(Some(Duration::from_secs(600)));

fn pending(h: &dyn Harness, key: Option<ProviderKey>) -> Verification {
    Verification::start(fresh_id(), ANY_PROVIDER, Method::Window, WINDOW_RULES, h.clock().now())
        .with_return_url(Some("https://shop.example/done".into()))
        .with_provider_session(key, ProviderState::new(r#"{"k":"v"}"#), None)
}

fn verified(h: &dyn Harness, v: &Verification) -> Verification {
    let now = h.clock().now();
    v.verified(now, VerifiedIdentity::new(v.provider(), now)).unwrap_or_else(|e| panic!("transition failed: {e}"))
}

async fn must<T>(what: &str, f: impl std::future::Future<Output = Result<T, StoreError>>) -> T {
    f.await.unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// A created record reads back equal, by id and by provider key.
pub async fn create_then_get_round_trips(h: &dyn Harness) {
    let store = h.store();
    let key = fresh_key();
    let v = pending(h, Some(key.clone()));
    must("create", store.create(&v, LONG_TTL)).await;
    assert_eq!(must("get", store.get(v.id())).await.as_ref(), Some(&v));
    assert_eq!(must("find", store.find_by_provider_key(&key)).await.as_ref(), Some(&v));
    assert_eq!(must("get unknown", store.get(&fresh_id())).await, None);
    assert_eq!(must("find unknown", store.find_by_provider_key(&fresh_key())).await, None);
}

/// `create` refuses an id that is already live, and leaves the record untouched.
pub async fn create_refuses_a_duplicate_id(h: &dyn Harness) {
    let store = h.store();
    let v = pending(h, None);
    must("create", store.create(&v, LONG_TTL)).await;
    let twin = verified(h, &v);
    assert_eq!(store.create(&twin, LONG_TTL).await, Err(StoreError::AlreadyExists));
    assert_eq!(must("get", store.get(v.id())).await.as_ref(), Some(&v));
}

/// `create` refuses a provider key held by another live record (mobileOK `clientTxId` reuse).
pub async fn create_refuses_a_duplicate_provider_key(h: &dyn Harness) {
    let store = h.store();
    let key = fresh_key();
    let first = pending(h, Some(key.clone()));
    must("create", store.create(&first, LONG_TTL)).await;
    let second = pending(h, Some(key.clone()));
    assert_eq!(store.create(&second, LONG_TTL).await, Err(StoreError::AlreadyExists));
    assert_eq!(must("get second", store.get(second.id())).await, None, "a refused create writes nothing");
    assert_eq!(must("find", store.find_by_provider_key(&key)).await.map(|v| v.id().clone()), Some(first.id().clone()));
}

/// A swap from the stored version wins once; a swap from a stale version is a conflict that reports
/// the current record and writes nothing.
pub async fn compare_and_swap_applies_once(h: &dyn Harness) {
    let store = h.store();
    let v = pending(h, Some(fresh_key()));
    must("create", store.create(&v, LONG_TTL)).await;
    let next = verified(h, &v);
    assert_eq!(must("cas", store.compare_and_swap(v.version(), &next, LONG_TTL)).await, CasOutcome::Swapped);
    assert_eq!(must("get", store.get(v.id())).await.as_ref(), Some(&next));
    let replay = verified(h, &v);
    match must("stale cas", store.compare_and_swap(v.version(), &replay, LONG_TTL)).await {
        CasOutcome::Conflict(Some(current)) => assert_eq!(*current, next),
        other => panic!("a stale swap must conflict with the current record, got {other:?}"),
    }
    assert_eq!(must("get", store.get(v.id())).await.map(|v| v.stored_status()), Some(Status::Verified));
}

/// A swap on a record that does not exist is a conflict with nothing, and creates nothing.
pub async fn compare_and_swap_on_a_missing_record_conflicts(h: &dyn Harness) {
    let store = h.store();
    let v = pending(h, None);
    let next = verified(h, &v);
    assert_eq!(must("cas", store.compare_and_swap(0, &next, LONG_TTL)).await, CasOutcome::Conflict(None));
    assert_eq!(must("get", store.get(v.id())).await, None);
}

/// Of 100 concurrent swaps from the same version exactly one wins.
pub async fn concurrent_swaps_have_exactly_one_winner(h: &dyn Harness) {
    let store = h.store();
    let v = pending(h, Some(fresh_key()));
    must("create", store.create(&v, LONG_TTL)).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = store.clone();
            let next = verified(h, &v);
            tokio::spawn(async move { store.compare_and_swap(0, &next, LONG_TTL).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await {
            Ok(Ok(CasOutcome::Swapped)) => winners += 1,
            Ok(Ok(CasOutcome::Conflict(Some(current)))) => assert_eq!(current.version(), 1),
            Ok(other) => panic!("unexpected outcome {other:?}"),
            Err(join) => panic!("task failed: {join}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(must("get", store.get(v.id())).await.map(|v| v.version()), Some(1));
}

/// A swap that changes the provider key moves the index with it.
pub async fn compare_and_swap_moves_the_provider_key(h: &dyn Harness) {
    let store = h.store();
    let old_key = fresh_key();
    let v = Verification::start(fresh_id(), ANY_PROVIDER, Method::Otp, OTP_RULES, h.clock().now())
        .with_provider_session(Some(old_key.clone()), ProviderState::new("t1"), None);
    must("create", store.create(&v, LONG_TTL)).await;
    let new_key = fresh_key();
    let next = v
        .otp_sent(h.clock().now(), ProviderState::new("t2"), Some(new_key.clone()))
        .unwrap_or_else(|e| panic!("transition failed: {e}"));
    assert_eq!(must("cas", store.compare_and_swap(0, &next, LONG_TTL)).await, CasOutcome::Swapped);
    assert_eq!(must("find old", store.find_by_provider_key(&old_key)).await, None);
    assert_eq!(must("find new", store.find_by_provider_key(&new_key)).await.as_ref(), Some(&next));
}

/// Past its TTL a record is invisible to every read and cannot be swapped; its key is free again.
pub async fn expired_records_are_invisible(h: &dyn Harness) {
    let store = h.store();
    let key = fresh_key();
    let v = pending(h, Some(key.clone()));
    must("create", store.create(&v, SHORT_TTL)).await;
    assert!(must("get", store.get(v.id())).await.is_some());
    h.advance(SHORT_TTL + Duration::from_millis(500)).await;
    assert_eq!(must("get", store.get(v.id())).await, None);
    assert_eq!(must("find", store.find_by_provider_key(&key)).await, None);
    let next = verified(h, &v);
    assert_eq!(must("cas", store.compare_and_swap(0, &next, LONG_TTL)).await, CasOutcome::Conflict(None));
    let reuse = pending(h, Some(key.clone()));
    must("create with the freed key", store.create(&reuse, LONG_TTL)).await;
    assert_eq!(must("find", store.find_by_provider_key(&key)).await.map(|v| v.id().clone()), Some(reuse.id().clone()));
}

/// A swap sets a new TTL from now (e.g. a verified record is kept for its retention time).
pub async fn compare_and_swap_sets_a_new_ttl(h: &dyn Harness) {
    let store = h.store();
    let v = pending(h, None);
    must("create", store.create(&v, SHORT_TTL)).await;
    let next = verified(h, &v);
    assert_eq!(must("cas", store.compare_and_swap(0, &next, LONG_TTL)).await, CasOutcome::Swapped);
    h.advance(SHORT_TTL + Duration::from_millis(500)).await;
    assert_eq!(must("get", store.get(v.id())).await.as_ref(), Some(&next));
}

/// Delete removes the record and its key; deleting again reports nothing was there.
pub async fn delete_removes_record_and_key(h: &dyn Harness) {
    let store = h.store();
    let key = fresh_key();
    let v = pending(h, Some(key.clone()));
    must("create", store.create(&v, LONG_TTL)).await;
    assert!(must("delete", store.delete(v.id())).await);
    assert_eq!(must("get", store.get(v.id())).await, None);
    assert_eq!(must("find", store.find_by_provider_key(&key)).await, None);
    assert!(!must("delete again", store.delete(v.id())).await);
}

/// The backend answers a ping.
pub async fn ping_answers(h: &dyn Harness) {
    must("ping", h.store().ping()).await;
}

/// What someone with write access to a persistent store's database can do to one row: read and
/// overwrite its plain version column and its sealed record. Implemented by each persistent store's
/// tests for [`rolled_back_records_are_refused`].
#[async_trait]
pub trait RawRows: Send + Sync {
    /// The version column and the sealed record of `id`.
    async fn read(&self, id: &VerificationId) -> (u64, Vec<u8>);
    /// Overwrites the version column and the sealed record of `id`, nothing else.
    async fn write(&self, id: &VerificationId, version: u64, sealed: &[u8]);
}

/// A persistent store does not take back an older state of a record that someone with write
/// access to the database puts in its row. A sealed record copied under another version, or a
/// version column changed under the sealed record, does not authenticate for any instance (the
/// version is sealed with the record). A whole row rolled back to an earlier version (old record
/// and old version together) is refused by an instance that has seen a newer version of it, for
/// reads and swaps alike. `other` is a second instance on the same database that has seen none of
/// it.
pub async fn rolled_back_records_are_refused(h: &dyn Harness, raw: &dyn RawRows, other: Arc<dyn SessionStore>) {
    let store = h.store();
    let key = fresh_key();
    let v0 = pending(h, Some(key.clone()));
    must("create", store.create(&v0, LONG_TTL)).await;
    let row0 = raw.read(v0.id()).await;
    let v1 = verified(h, &v0);
    assert_eq!(must("cas", store.compare_and_swap(0, &v1, LONG_TTL)).await, CasOutcome::Swapped);
    let row1 = raw.read(v1.id()).await;
    assert_eq!((row0.0, row1.0), (0, 1), "the version column follows the record");
    let corrupt = |what: &str, outcome: Result<Option<Verification>, StoreError>| {
        assert!(matches!(outcome, Err(StoreError::Corrupt(_))), "{what}: must be refused, got {outcome:?}");
    };

    // The old sealed record under the current version.
    raw.write(v0.id(), 1, &row0.1).await;
    corrupt("old record, current version", store.get(v0.id()).await);
    corrupt("old record, current version (another instance)", other.get(v0.id()).await);
    corrupt("old record, current version (by provider key)", other.find_by_provider_key(&key).await);

    // The current sealed record under an old version.
    raw.write(v0.id(), 0, &row1.1).await;
    corrupt("current record, old version", store.get(v0.id()).await);
    corrupt("current record, old version (another instance)", other.get(v0.id()).await);

    // The whole row as it was before the swap.
    raw.write(v0.id(), 0, &row0.1).await;
    corrupt("whole row rolled back", store.get(v0.id()).await);
    corrupt("whole row rolled back (by provider key)", store.find_by_provider_key(&key).await);
    let replay = verified(h, &v0);
    let swapped = store.compare_and_swap(0, &replay, LONG_TTL).await;
    assert!(
        matches!(swapped, Err(StoreError::Corrupt(_))),
        "a swap from the rolled-back version must be refused, got {swapped:?}"
    );
    assert_eq!(raw.read(v0.id()).await, row0, "the refused swap wrote nothing");

    // Put back, the current row reads as before.
    raw.write(v0.id(), 1, &row1.1).await;
    assert_eq!(must("get restored", store.get(v0.id())).await.as_ref(), Some(&v1));
    assert_eq!(must("get restored (another instance)", other.get(v0.id())).await.as_ref(), Some(&v1));
}

/// Claims are made with a limit this large, so that events other runs left in a shared backend do
/// not crowd out the check's own.
const CLAIM_ALL: usize = 10_000;

fn event(h: &dyn Harness, kind: &str) -> OutboxEvent {
    let id = bonin_domain::events::generate_event_id(&OsRng).unwrap_or_else(|e| panic!("entropy failed: {e}"));
    OutboxEvent::new(id, kind, EventData::signing("test-provider", None, "wf-1", "completed"), h.clock().now())
}

/// The ids among `claimed` that are in `mine`.
fn ours(claimed: &[OutboxEvent], mine: &[&OutboxEvent]) -> Vec<String> {
    let mut found: Vec<String> =
        claimed.iter().filter(|c| mine.iter().any(|m| m.id == c.id)).map(|c| c.id.clone()).collect();
    found.sort();
    found
}

/// Every outbox check, in sequence (they share one backend's outbox). `store` and `outbox` are the
/// same backend; `other` is a second handle on it, as a second instance would hold.
pub async fn outbox_conformance(h: &dyn Harness, outbox: Arc<dyn Outbox>, other: Arc<dyn Outbox>) {
    events_are_written_with_the_swap_or_not_at_all(h, outbox.as_ref()).await;
    claims_are_exclusive_within_their_lease(h, outbox.as_ref(), other.as_ref()).await;
    only_the_claim_holder_reschedules_or_removes(h, outbox.as_ref(), other.as_ref()).await;
    a_named_lease_has_one_holder(h, outbox.as_ref(), other.as_ref()).await;
}

/// Events ride `create_with_events` and `compare_and_swap_with_events`: a write that does not
/// happen (a lost swap, a refused create) writes no event; one that happens writes all of them.
pub async fn events_are_written_with_the_swap_or_not_at_all(h: &dyn Harness, outbox: &dyn Outbox) {
    let store = h.store();
    let v0 = pending(h, None);
    let at_create = event(h, "test.created");
    must("create", store.create_with_events(&v0, LONG_TTL, std::slice::from_ref(&at_create))).await;
    let refused = event(h, "test.refused_create");
    let duplicate = store.create_with_events(&v0, LONG_TTL, std::slice::from_ref(&refused)).await;
    assert_eq!(duplicate, Err(StoreError::AlreadyExists));
    let v1 = verified(h, &v0);
    let won = event(h, "test.won");
    let outcome =
        must("swap", store.compare_and_swap_with_events(v0.version(), &v1, LONG_TTL, std::slice::from_ref(&won))).await;
    assert_eq!(outcome, CasOutcome::Swapped);
    let lost = event(h, "test.lost");
    let outcome = must(
        "stale swap",
        store.compare_and_swap_with_events(v0.version(), &v1, LONG_TTL, std::slice::from_ref(&lost)),
    )
    .await;
    assert!(matches!(outcome, CasOutcome::Conflict(_)), "a stale swap must conflict");
    // A version the store has not reached (the backend itself must refuse it, whatever an instance
    // remembers), and a record that does not exist: neither writes its events.
    let ahead = event(h, "test.ahead");
    let outcome = must(
        "swap from a version ahead",
        store.compare_and_swap_with_events(v1.version() + 5, &v1, LONG_TTL, std::slice::from_ref(&ahead)),
    )
    .await;
    assert!(matches!(outcome, CasOutcome::Conflict(_)), "a swap from a wrong version must conflict");
    let missing = event(h, "test.missing");
    let absent = pending(h, None);
    let outcome = must(
        "swap of a missing record",
        store.compare_and_swap_with_events(
            absent.version(),
            &verified(h, &absent),
            LONG_TTL,
            std::slice::from_ref(&missing),
        ),
    )
    .await;
    assert_eq!(outcome, CasOutcome::Conflict(None));
    let claimed = must("claim", outbox.claim("holder-a", CLAIM_ALL, LONG_TTL)).await;
    assert_eq!(
        ours(&claimed, &[&at_create, &refused, &won, &lost, &ahead, &missing]),
        {
            let mut expected = vec![at_create.id.clone(), won.id.clone()];
            expected.sort();
            expected
        },
        "only the events of writes that happened are in the outbox"
    );
    let stored = claimed.iter().find(|c| c.id == won.id).cloned();
    assert_eq!(stored.as_ref(), Some(&won), "an event reads back as written");
    for id in [&at_create.id, &won.id] {
        assert!(must("remove", outbox.remove(id, "holder-a")).await);
    }
}

/// Two instances claiming at once never both get an event, and a claimed event is not handed out
/// again until its lease lapses.
pub async fn claims_are_exclusive_within_their_lease(h: &dyn Harness, a: &dyn Outbox, b: &dyn Outbox) {
    let events: Vec<OutboxEvent> = (0..20).map(|_| event(h, "test.race")).collect();
    let mine: Vec<&OutboxEvent> = events.iter().collect();
    let depth_before = must("depth", a.depth()).await;
    must("enqueue", a.enqueue(&events)).await;
    assert_eq!(must("depth", a.depth()).await, depth_before + 20);
    let (first, second) =
        tokio::join!(a.claim("holder-a", CLAIM_ALL, SHORT_TTL), b.claim("holder-b", CLAIM_ALL, SHORT_TTL));
    let (first, second) =
        (ours(&must("claim a", async { first }).await, &mine), ours(&must("claim b", async { second }).await, &mine));
    assert!(first.iter().all(|id| !second.contains(id)), "an event was handed to two holders");
    assert_eq!(first.len() + second.len(), 20, "every due event is claimed by one of them");
    let again = must("claim again", b.claim("holder-c", CLAIM_ALL, SHORT_TTL)).await;
    assert!(ours(&again, &mine).is_empty(), "a claimed event was handed out within its lease");
    h.advance(SHORT_TTL + Duration::from_millis(100)).await;
    let taken_over = must("claim after the lease", b.claim("holder-c", CLAIM_ALL, LONG_TTL)).await;
    assert_eq!(ours(&taken_over, &mine).len(), 20, "a lapsed claim is taken over");
    for e in &events {
        assert!(!must("old holder removes", a.remove(&e.id, "holder-a")).await, "a former holder removed an event");
        assert!(must("new holder removes", b.remove(&e.id, "holder-c")).await);
    }
    assert_eq!(must("depth", a.depth()).await, depth_before);
}

/// `reschedule` writes the delivery state and defers the event; neither it nor `remove` works for
/// anyone but the current claim holder; a removed event is gone for good.
pub async fn only_the_claim_holder_reschedules_or_removes(h: &dyn Harness, a: &dyn Outbox, b: &dyn Outbox) {
    let e = event(h, "test.retry");
    must("enqueue", a.enqueue(std::slice::from_ref(&e))).await;
    let claimed = must("claim", a.claim("holder-a", CLAIM_ALL, LONG_TTL)).await;
    assert_eq!(ours(&claimed, &[&e]), vec![e.id.clone()]);
    assert!(!must("stranger removes", b.remove(&e.id, "holder-b")).await, "a non-holder removed an event");
    let mut retried = e.clone();
    retried.attempts = 1;
    retried.delivered_to = vec!["first".into()];
    retried.due_at = h.clock().now() + SHORT_TTL;
    assert!(!must("stranger reschedules", b.reschedule(&retried, "holder-b")).await);
    assert!(must("holder reschedules", a.reschedule(&retried, "holder-a")).await);
    assert!(
        ours(&must("claim before due", b.claim("holder-b", CLAIM_ALL, LONG_TTL)).await, &[&e]).is_empty(),
        "claimed before due"
    );
    h.advance(SHORT_TTL + Duration::from_millis(100)).await;
    let due = must("claim when due", b.claim("holder-b", CLAIM_ALL, LONG_TTL)).await;
    let back = due.iter().find(|c| c.id == e.id).cloned();
    assert_eq!(back.as_ref().map(|c| (c.attempts, c.delivered_to.clone())), Some((1, vec!["first".to_owned()])));
    assert!(!must("former holder removes", a.remove(&e.id, "holder-a")).await, "a former holder removed an event");
    assert!(must("holder removes", b.remove(&e.id, "holder-b")).await);
    assert!(ours(&must("claim after remove", a.claim("holder-a", CLAIM_ALL, LONG_TTL)).await, &[&e]).is_empty());
}

/// A named lease has one holder until it lapses; the holder renews it.
pub async fn a_named_lease_has_one_holder(h: &dyn Harness, a: &dyn Outbox, b: &dyn Outbox) {
    let name = format!("test-lease-{}", fresh_id());
    let (first, second) =
        tokio::join!(a.hold_lease(&name, "holder-a", SHORT_TTL), b.hold_lease(&name, "holder-b", SHORT_TTL));
    let (first, second) = (must("lease a", async { first }).await, must("lease b", async { second }).await);
    assert!(first ^ second, "exactly one of two racing holders gets the lease");
    let (holder, waiting, holder_name, waiting_name) =
        if first { (a, b, "holder-a", "holder-b") } else { (b, a, "holder-b", "holder-a") };
    assert!(must("renew", holder.hold_lease(&name, holder_name, SHORT_TTL)).await);
    assert!(!must("take", waiting.hold_lease(&name, waiting_name, SHORT_TTL)).await);
    h.advance(SHORT_TTL + Duration::from_millis(100)).await;
    assert!(
        must("take over", waiting.hold_lease(&name, waiting_name, SHORT_TTL)).await,
        "a lapsed lease is taken over"
    );
    assert!(!must("old holder", holder.hold_lease(&name, holder_name, SHORT_TTL)).await);
    // Released by someone who does not hold it: nothing changes; by its holder: free at once.
    must("release by another", holder.release_lease(&name, holder_name)).await;
    assert!(!must("still held", holder.hold_lease(&name, holder_name, SHORT_TTL)).await);
    must("release", waiting.release_lease(&name, waiting_name)).await;
    assert!(must("taken after release", holder.hold_lease(&name, holder_name, SHORT_TTL)).await);
}

/// The backend URL in `variable`. When it is unset the test says so loudly and is skipped, except
/// under `CI=true`, where it fails.
pub fn backend_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let message = format!("{variable} is not set: this store's conformance tests cannot run");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message} (required under CI=true)");
            tracing_free_warning(&message);
            None
        }
    }
}

#[allow(clippy::print_stderr)] // a skipped suite must be visible in the test output
fn tracing_free_warning(message: &str) {
    eprintln!("SKIPPED: {message}");
}

/// Generates one `#[tokio::test]` per conformance check. `$harness` is evaluated anew in each test
/// (it may `.await`) and must implement [`Harness`]. With `optional:`, `$harness` yields an
/// `Option` and a `None` skips the check (see [`backend_url`]).
#[macro_export]
macro_rules! store_conformance_tests {
    (optional: $harness:expr) => {
        $crate::__every_conformance_check!(@optional $harness);
    };
    ($harness:expr) => {
        $crate::__every_conformance_check!(@each $harness);
    };
    (@optional $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(harness) = $harness else { return };
                $crate::conformance::$check(&harness).await;
            }
        )*
    };
    (@each $harness:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let harness = $harness;
                $crate::conformance::$check(&harness).await;
            }
        )*
    };
}

/// The list of checks, once, for both forms of [`store_conformance_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __every_conformance_check {
    (@$form:ident $harness:expr) => {
        $crate::store_conformance_tests!(@$form $harness;
            create_then_get_round_trips,
            create_refuses_a_duplicate_id,
            create_refuses_a_duplicate_provider_key,
            compare_and_swap_applies_once,
            compare_and_swap_on_a_missing_record_conflicts,
            concurrent_swaps_have_exactly_one_winner,
            compare_and_swap_moves_the_provider_key,
            expired_records_are_invisible,
            compare_and_swap_sets_a_new_ttl,
            delete_removes_record_and_key,
            ping_answers,
        );
    };
}
