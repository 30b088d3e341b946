//! The single-flight token cache under concurrency, with a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use bonin_domain::*;
use time::macros::datetime;

/// A source that counts fetches, takes a while (so callers pile up), and fails on request.
#[derive(Default)]
struct CountingSource {
    fetches: AtomicUsize,
    fail_next: AtomicUsize,
    lifetime_secs: AtomicU64,
}

#[async_trait]
impl TokenSource for CountingSource {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Unavailable {
                dependency: Dependency::Provider(ProviderId::PortoneV1),
                reason: "HTTP 503".into(),
            });
        }
        Ok(IssuedToken {
            value: SecretString::from(format!("token-{n}")),
            lifetime: Duration::from_secs(self.lifetime_secs.load(Ordering::SeqCst)),
        })
    }
}

fn setup(lifetime_secs: u64) -> (Arc<CountingSource>, Arc<ManualClock>, Arc<TokenCache<Arc<CountingSource>>>) {
    let source = Arc::new(CountingSource::default());
    source.lifetime_secs.store(lifetime_secs, Ordering::SeqCst);
    let clock = Arc::new(ManualClock::new(datetime!(2026-01-01 00:00 UTC)));
    let cache = Arc::new(TokenCache::new(source.clone(), clock.clone(), RefreshPolicy::default()));
    (source, clock, cache)
}

async fn burst(cache: &Arc<TokenCache<Arc<CountingSource>>>, n: usize) -> Vec<Result<Token, Error>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get().await })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousand_concurrent_callers_on_a_cold_cache_cause_one_fetch() {
    let (source, clock, cache) = setup(1800);
    let results = burst(&cache, 1000).await;
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    assert!(results.iter().all(|r| r.as_ref().unwrap().expose_secret() == "token-1"));

    // Before the refresh point: still the same token, no fetch.
    clock.advance(Duration::from_secs(1800 - 61));
    burst(&cache, 1000).await;
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);

    // Past the refresh point (60 s before the end): exactly one more fetch for the whole burst.
    clock.advance(Duration::from_secs(1));
    let results = burst(&cache, 1000).await;
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    assert!(results.iter().all(|r| r.as_ref().unwrap().expose_secret() == "token-2"));
    let stats = cache.stats();
    assert_eq!(stats.fetches, 2);
    assert_eq!(stats.hits, 3000 - 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_fetch_is_not_cached() {
    let (source, _clock, cache) = setup(1800);
    source.fail_next.store(1, Ordering::SeqCst);
    assert!(matches!(cache.get().await, Err(Error::Unavailable { .. })));
    let token = cache.get().await.unwrap();
    assert_eq!(token.expose_secret(), "token-2");
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callers_waiting_on_a_failed_fetch_share_its_error_instead_of_stampeding() {
    let (source, _clock, cache) = setup(1800);
    source.fail_next.store(1, Ordering::SeqCst);
    let results = burst(&cache, 200).await;
    let fetches = source.fetches.load(Ordering::SeqCst);
    let failures = results.iter().filter(|r| r.is_err()).count();
    // The first fetch fails and is shared by those who waited on it; any caller that arrived after it
    // finished starts one new fetch, which succeeds. Never one fetch per caller.
    assert!(failures >= 1);
    assert!(fetches <= 2, "{fetches} fetches for 200 callers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rejected_token_forces_exactly_one_refresh_for_all_rejecters() {
    let (source, _clock, cache) = setup(1800);
    let first = cache.get().await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            let first = first.clone();
            tokio::spawn(async move { cache.refresh_rejected(&first).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().expose_secret(), "token-2");
    }
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    // Rejecting an already-replaced token does not fetch again.
    let again = cache.refresh_rejected(&first).await.unwrap();
    assert_eq!((again.generation(), source.fetches.load(Ordering::SeqCst)), (2, 2));
}

#[tokio::test]
async fn failed_refresh_falls_back_to_the_still_valid_token() {
    let (source, clock, cache) = setup(1800);
    cache.get().await.unwrap();
    clock.advance(Duration::from_secs(1750)); // inside the refresh window, 50 s of life left
    source.fail_next.store(1, Ordering::SeqCst);
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-1");
    clock.advance(Duration::from_secs(50)); // now fully expired
    source.fail_next.store(1, Ordering::SeqCst);
    assert!(cache.get().await.is_err());
    assert_eq!(cache.get().await.unwrap().expose_secret(), "token-4");
}

#[tokio::test]
async fn short_lived_tokens_refresh_at_half_life() {
    let (source, clock, cache) = setup(60);
    cache.get().await.unwrap();
    clock.advance(Duration::from_secs(29));
    cache.get().await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1));
    cache.get().await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_call_is_sent_once_more_with_a_fresh_token_and_never_loops() {
    let (source, _clock, cache) = setup(3600);
    let seen = std::sync::Mutex::new(Vec::new());
    // The provider refuses every token: the call runs twice, with two different tokens, then stops.
    let outcome = cache
        .call_with_refresh(
            |refused: &bool| *refused,
            |token| {
                seen.lock().unwrap().push(token.expose_secret().to_owned());
                async { Ok(true) }
            },
        )
        .await
        .unwrap();
    assert!(outcome, "the second outcome is returned as it is");
    assert_eq!(*seen.lock().unwrap(), ["token-1", "token-2"]);
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    // The refusal is counted (metrics tell forced refreshes from scheduled ones).
    assert_eq!((cache.stats().rejected, cache.stats().fetches), (1, 2));
    // Accepted at once: one call, no refresh.
    let calls = AtomicUsize::new(0);
    cache
        .call_with_refresh(
            |refused: &bool| *refused,
            |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(false) }
            },
        )
        .await
        .unwrap();
    assert_eq!((calls.load(Ordering::SeqCst), source.fetches.load(Ordering::SeqCst)), (1, 2));
    assert_eq!(cache.stats().rejected, 1);
    // An error from the call itself is returned without a refresh.
    let error = cache.call_with_refresh(|_: &bool| true, |_| async { Err::<bool, _>(Error::NotFound) }).await;
    assert_eq!(error.unwrap_err(), Error::NotFound);
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
}
