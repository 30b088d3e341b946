//! The Redis store against the conformance suite (`BONIN_TEST_REDIS_URL`). Redis keeps time
//! itself, so the expiry checks sleep.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::sync::Arc;

use bonin_adapters_store::{
    RedisStore,
    conformance::{RawRows, backend_url},
};
use bonin_domain::VerificationId;
use support::{RealTimeHarness, cipher};

async fn harness() -> Option<RealTimeHarness> {
    let url = backend_url("BONIN_TEST_REDIS_URL")?;
    let store = RedisStore::connect(&url, cipher()).await.unwrap();
    Some(RealTimeHarness { store: Arc::new(store) })
}

bonin_adapters_store::store_conformance_tests!(optional: harness().await);

/// The Redis node reached behind the store's back.
struct RawHashes(redis::aio::MultiplexedConnection);

#[async_trait::async_trait]
impl RawRows for RawHashes {
    async fn read(&self, id: &VerificationId) -> (u64, Vec<u8>) {
        let (version, sealed): (u64, Vec<u8>) = redis::cmd("HMGET")
            .arg(format!("bonin:v:{}", id.as_str()))
            .arg("version")
            .arg("record")
            .query_async(&mut self.0.clone())
            .await
            .unwrap();
        (version, sealed)
    }
    async fn write(&self, id: &VerificationId, version: u64, sealed: &[u8]) {
        let () = redis::cmd("HSET")
            .arg(format!("bonin:v:{}", id.as_str()))
            .arg("version")
            .arg(version.to_string())
            .arg("record")
            .arg(sealed)
            .query_async(&mut self.0.clone())
            .await
            .map(|_: i64| ())
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_record_is_refused() {
    let Some(harness) = harness().await else { return };
    let Some(url) = backend_url("BONIN_TEST_REDIS_URL") else { return };
    let other = Arc::new(RedisStore::connect(&url, cipher()).await.unwrap());
    let raw = redis::Client::open(url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    bonin_adapters_store::conformance::rolled_back_records_are_refused(&harness, &RawHashes(raw), other).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable() {
    let error = RedisStore::connect("redis://127.0.0.1:1", cipher()).await.unwrap_err();
    assert!(matches!(error, bonin_domain::StoreError::Unavailable(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_conformance() {
    let Some(url) = backend_url("BONIN_TEST_REDIS_URL") else { return };
    let store = Arc::new(RedisStore::connect(&url, cipher()).await.unwrap());
    let other = Arc::new(RedisStore::connect(&url, cipher()).await.unwrap());
    let harness = RealTimeHarness { store: store.clone() };
    bonin_adapters_store::conformance::outbox_conformance(&harness, store, other).await;
}
