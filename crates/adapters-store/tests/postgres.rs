//! The PostgreSQL store against the conformance suite (`BONIN_TEST_POSTGRES_URL`).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::sync::Arc;

use bonin_adapters_store::{PostgresStore, conformance::backend_url};
use support::{ManualHarness, cipher, manual_clock};

async fn harness() -> Option<ManualHarness> {
    let url = backend_url("BONIN_TEST_POSTGRES_URL")?;
    let clock = manual_clock();
    let store = PostgresStore::connect(&url, 8, cipher(), clock.clone()).await.unwrap();
    Some(ManualHarness { store: Arc::new(store), clock })
}

bonin_adapters_store::store_conformance_tests!(optional: harness().await);

#[tokio::test]
async fn an_unreachable_database_is_unavailable_quickly() {
    let started = std::time::Instant::now();
    let error =
        PostgresStore::connect("postgres://postgres@127.0.0.1:1/test", 2, cipher(), manual_clock()).await.unwrap_err();
    assert!(matches!(error, bonin_domain::StoreError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
