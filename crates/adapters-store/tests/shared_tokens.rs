//! Provider tokens shared by several instances through Redis or PostgreSQL: one upstream login for
//! the whole cluster, one more after a rejection, errors not shared as tokens.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use bonin_adapters_store::{SharedTokenStore, conformance::backend_url};
use bonin_domain::*;
use support::cipher;

/// The provider's token endpoint: counts logins, takes a moment, can fail.
#[derive(Default)]
struct Upstream {
    logins: AtomicUsize,
    fail_next: AtomicUsize,
}

#[async_trait]
impl TokenSource for Upstream {
    async fn fetch(&self) -> Result<IssuedToken, Error> {
        let n = self.logins.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
        if self.fail_next.load(Ordering::SeqCst) > 0 {
            self.fail_next.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Unavailable {
                dependency: Dependency::Provider(ProviderId::PortoneV1),
                reason: "HTTP 503".into(),
            });
        }
        Ok(IssuedToken { value: SecretString::from(format!("token-{n}")), lifetime: Duration::from_secs(1800) })
    }
}

type Cache = Arc<TokenCache<SharedTokenSource<Arc<Upstream>>>>;

/// One instance: its own shared-token client and local cache, the same upstream and backend.
async fn instance(url: &str, upstream: &Arc<Upstream>, name: &str) -> Cache {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let shared: Arc<dyn SharedTokens> =
        Arc::new(SharedTokenStore::open(url, None, cipher(), clock.clone()).await.unwrap());
    Arc::new(TokenCache::new(SharedTokenSource::new(upstream.clone(), shared, name), clock, RefreshPolicy::default()))
}

async fn burst(caches: &[Cache], n: usize) -> Vec<String> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let cache = caches[i % caches.len()].clone();
            tokio::spawn(async move { cache.get().await.map(|t| t.expose_secret().to_owned()) })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap().unwrap());
    }
    out
}

async fn one_login_for_the_cluster(url: &str) {
    let upstream = Arc::new(Upstream::default());
    let name = format!("test:{}", VerificationId::generate(&OsRng).unwrap());
    let a = instance(url, &upstream, &name).await;
    let b = instance(url, &upstream, &name).await;

    let tokens = burst(&[a.clone(), b.clone()], 200).await;
    assert_eq!(upstream.logins.load(Ordering::SeqCst), 1, "one login for two instances and 200 callers");
    assert!(tokens.iter().all(|t| t == "token-1"));

    // The provider rejects the token on A: one new login, and B picks it up after its own rejection.
    let old = a.get().await.unwrap();
    assert_eq!(a.refresh_rejected(&old).await.unwrap().expose_secret(), "token-2");
    let b_old = b.get().await.unwrap();
    assert_eq!(b_old.expose_secret(), "token-1", "B still holds its local copy");
    assert_eq!(b.refresh_rejected(&b_old).await.unwrap().expose_secret(), "token-2");
    assert_eq!(upstream.logins.load(Ordering::SeqCst), 2);

    // A failed login is reported, not stored: the next caller logs in again.
    let upstream = Arc::new(Upstream::default());
    upstream.fail_next.store(1, Ordering::SeqCst);
    let name = format!("test:{}", VerificationId::generate(&OsRng).unwrap());
    let c = instance(url, &upstream, &name).await;
    assert!(matches!(c.get().await, Err(Error::Unavailable { .. })));
    assert_eq!(c.get().await.unwrap().expose_secret(), "token-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_shares_one_login_between_instances() {
    let Some(url) = backend_url("BONIN_TEST_REDIS_URL") else { return };
    one_login_for_the_cluster(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_shares_one_login_between_instances() {
    let Some(url) = backend_url("BONIN_TEST_POSTGRES_URL") else { return };
    one_login_for_the_cluster(&url).await;
}
