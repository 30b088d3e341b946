//! The Redis store against the conformance suite (`BONIN_TEST_REDIS_URL`). Redis keeps time
//! itself, so the expiry checks sleep.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::sync::Arc;

use bonin_adapters_store::{RedisStore, conformance::backend_url};
use support::{RealTimeHarness, cipher};

async fn harness() -> Option<RealTimeHarness> {
    let url = backend_url("BONIN_TEST_REDIS_URL")?;
    let store = RedisStore::connect(&url, cipher()).await.unwrap();
    Some(RealTimeHarness { store: Arc::new(store) })
}

bonin_adapters_store::store_conformance_tests!(optional: harness().await);

#[tokio::test]
async fn an_unreachable_redis_is_unavailable() {
    let error = RedisStore::connect("redis://127.0.0.1:1", cipher()).await.unwrap_err();
    assert!(matches!(error, bonin_domain::StoreError::Unavailable(_)), "{error:?}");
}
