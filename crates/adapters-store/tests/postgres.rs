//! The PostgreSQL store against the conformance suite (`BONIN_TEST_POSTGRES_URL`).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::sync::Arc;

use bonin_adapters_store::{
    PostgresStore,
    conformance::{RawRows, backend_url},
};
use bonin_domain::VerificationId;
use support::{ManualHarness, cipher, manual_clock};

async fn harness() -> Option<ManualHarness> {
    let url = backend_url("BONIN_TEST_POSTGRES_URL")?;
    let clock = manual_clock();
    let store = PostgresStore::connect(&url, 8, cipher(), clock.clone()).await.unwrap();
    Some(ManualHarness { store: Arc::new(store), clock })
}

bonin_adapters_store::store_conformance_tests!(optional: harness().await);

/// The database reached behind the store's back.
struct RawTable(tokio_postgres::Client);

#[async_trait::async_trait]
impl RawRows for RawTable {
    async fn read(&self, id: &VerificationId) -> (u64, Vec<u8>) {
        let row = self
            .0
            .query_one("SELECT version, record FROM bonin_verifications WHERE id = $1", &[&id.as_str()])
            .await
            .unwrap();
        (u64::try_from(row.get::<_, i64>(0)).unwrap(), row.get(1))
    }
    async fn write(&self, id: &VerificationId, version: u64, sealed: &[u8]) {
        let changed = self
            .0
            .execute(
                "UPDATE bonin_verifications SET version = $1, record = $2 WHERE id = $3",
                &[&i64::try_from(version).unwrap(), &sealed, &id.as_str()],
            )
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_record_is_refused() {
    let Some(harness) = harness().await else { return };
    let Some(url) = backend_url("BONIN_TEST_POSTGRES_URL") else { return };
    let other = Arc::new(PostgresStore::connect(&url, 2, cipher(), harness.clock.clone()).await.unwrap());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    bonin_adapters_store::conformance::rolled_back_records_are_refused(&harness, &RawTable(client), other).await;
}

#[tokio::test]
async fn an_unreachable_database_is_unavailable_quickly() {
    let started = std::time::Instant::now();
    let error =
        PostgresStore::connect("postgres://postgres@127.0.0.1:1/test", 2, cipher(), manual_clock()).await.unwrap_err();
    assert!(matches!(error, bonin_domain::StoreError::Unavailable(_)), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_conformance() {
    let Some(url) = backend_url("BONIN_TEST_POSTGRES_URL") else { return };
    let clock = manual_clock();
    let store = Arc::new(PostgresStore::connect(&url, 4, cipher(), clock.clone()).await.unwrap());
    let other = Arc::new(PostgresStore::connect(&url, 4, cipher(), clock.clone()).await.unwrap());
    let harness = ManualHarness { store: store.clone(), clock };
    bonin_adapters_store::conformance::outbox_conformance(&harness, store, other).await;
}
