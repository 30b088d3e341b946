//! PostgreSQL over TLS (`sslmode=require`): a TLS-terminating proxy with a test CA stands in front
//! of the local PostgreSQL. The store connects and works when it trusts that CA, and refuses an
//! untrusted certificate or one for another name: no silent fallback to plain TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod support;

use std::{net::SocketAddr, time::Duration};

use bonin_adapters_store::{PostgresStore, conformance::backend_url};
use bonin_domain::*;
use support::{
    cipher, manual_clock,
    tls::{Preamble, test_ca, tls_proxy},
};

fn parts(url: &str) -> (String, SocketAddr, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (user, rest) = rest.split_once('@').unwrap_or(("postgres", rest));
    let (host, db) = rest.split_once('/').unwrap_or((rest, "test"));
    let addr = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
    (user.to_owned(), addr.parse().unwrap(), db.split('?').next().unwrap_or("test").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_travel_over_verified_tls() {
    let Some(url) = backend_url("BONIN_TEST_POSTGRES_URL") else { return };
    let (user, database, db) = parts(&url);
    let ca = test_ca("127.0.0.1");
    let proxy = tls_proxy(database, &ca, Preamble::PostgresSslRequest).await;
    let tls_url = format!("postgres://{user}@127.0.0.1:{}/{db}?sslmode=require", proxy.port());

    let clock = manual_clock();
    let store = PostgresStore::connect_with_ca(&tls_url, 2, Some(&ca.pem_file), cipher(), clock.clone()).await.unwrap();
    store.ping().await.unwrap();
    let session = Verification::start(
        VerificationId::generate(&OsRng).unwrap(),
        ProviderId::Nice,
        Method::Window,
        FlowRules::new(Duration::from_secs(60 * 60)),
        clock.now(),
    )
    .with_provider_session(None, ProviderState::new("tls"), None);
    store.create(&session, Duration::from_secs(60)).await.unwrap();
    assert_eq!(store.get(session.id()).await.unwrap().as_ref(), Some(&session));

    // Another CA, or the system roots: the proxy's certificate is refused.
    let stranger = test_ca("127.0.0.1");
    let refused = PostgresStore::connect_with_ca(&tls_url, 1, Some(&stranger.pem_file), cipher(), clock.clone()).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "an untrusted certificate must be refused");
    let refused = PostgresStore::connect(&tls_url, 1, cipher(), clock.clone()).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))));

    // A certificate for another name is refused even from the trusted CA.
    let misnamed = test_ca("db.example");
    let proxy = tls_proxy(database, &misnamed, Preamble::PostgresSslRequest).await;
    let url = format!("postgres://{user}@127.0.0.1:{}/{db}?sslmode=require", proxy.port());
    let refused = PostgresStore::connect_with_ca(&url, 1, Some(&misnamed.pem_file), cipher(), clock).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "the host name is verified");
}
