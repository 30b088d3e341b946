//! Redis over TLS (`rediss://`): a TLS-terminating proxy with a test CA stands in front of the
//! local Redis. The store and the shared tokens connect and work when they trust that CA
//! (`store.tls_ca_file`), and refuse an untrusted certificate or one for another name; a server
//! that does not speak TLS is met with a TLS handshake, never with plain Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bonin_adapters_store::{SharedTokenStore, StoreOptions, conformance::backend_url, open};
use bonin_domain::*;
use support::{
    RealTimeHarness, cipher,
    tls::{Preamble, TestCa, test_ca, tls_proxy},
};
use tokio::io::AsyncReadExt;

/// `redis://[userinfo@]host:port[/db]` → (userinfo with its `@`, address, `/db`).
fn parts(url: &str) -> (String, SocketAddr, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (userinfo, rest) = rest.rsplit_once('@').map_or((String::new(), rest), |(u, r)| (format!("{u}@"), r));
    let (host, db) = rest.split_once('/').map_or((rest, String::new()), |(h, d)| (h, format!("/{d}")));
    let addr = if host.contains(':') { host.to_owned() } else { format!("{host}:6379") };
    (userinfo, addr.parse().unwrap(), db)
}

fn options(ca_file: Option<&std::path::Path>) -> StoreOptions {
    StoreOptions::default()
        .with_encryption_keys(vec![SecretString::from(format!(
            "1:{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [42u8; 32])
        ))])
        .with_tls_ca_file(ca_file.map(std::path::Path::to_path_buf))
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock::new())
}

/// The local Redis behind a TLS proxy with a certificate from `ca`: the `rediss://` URL.
async fn behind_tls(ca: &TestCa) -> Option<String> {
    let url = backend_url("BONIN_TEST_REDIS_URL")?;
    let (userinfo, redis, db) = parts(&url);
    let proxy = tls_proxy(redis, ca, Preamble::None).await;
    Some(format!("rediss://{userinfo}127.0.0.1:{}{db}", proxy.port()))
}

async fn tls_harness() -> Option<RealTimeHarness> {
    let ca = test_ca("127.0.0.1");
    let url = behind_tls(&ca).await?;
    let store = open(&url, &options(Some(&ca.pem_file)), clock()).await.unwrap();
    Some(RealTimeHarness { store })
}

// The whole suite, over TLS.
bonin_adapters_store::store_conformance_tests!(optional: tls_harness().await);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_is_spoken_over_tls_not_refused_as_unsupported() {
    // A server that is not Redis over TLS: it records what the client sends first, then hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let first_bytes = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 3];
        socket.read_exact(&mut head).await.unwrap();
        head
    });
    let error = open(&format!("rediss://127.0.0.1:{port}"), &options(None), clock()).await.map(|_| ()).unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "a TLS failure, not a refused URL: {error:?}");
    let head = tokio::time::timeout(Duration::from_secs(10), first_bytes).await.unwrap().unwrap();
    assert_eq!(head[..2], [0x16, 0x03], "the client opened with a TLS handshake record, not a Redis command");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_tokens_travel_to_redis_over_verified_tls() {
    let ca = test_ca("127.0.0.1");
    let Some(url) = behind_tls(&ca).await else { return };
    let store = open(&url, &options(Some(&ca.pem_file)), clock()).await.unwrap();
    store.ping().await.unwrap();
    let session = Verification::start(
        VerificationId::generate(&OsRng).unwrap(),
        ProviderId::Nice,
        Method::Window,
        FlowRules::new(Duration::from_secs(60 * 60)),
        clock().now(),
    )
    .with_provider_session(None, ProviderState::new("tls"), None);
    store.create(&session, Duration::from_secs(60)).await.unwrap();
    assert_eq!(store.get(session.id()).await.unwrap().as_ref(), Some(&session));

    // Provider tokens shared over the same TLS connection settings.
    let shared = SharedTokenStore::open(&url, Some(&ca.pem_file), cipher(), clock()).await.unwrap();
    struct Fixed;
    #[async_trait::async_trait]
    impl TokenSource for Fixed {
        async fn fetch(&self) -> Result<IssuedToken, Error> {
            Ok(IssuedToken { value: SecretString::from("tls-token"), lifetime: Duration::from_secs(600) })
        }
    }
    let name = format!("tls-test-{}", VerificationId::generate(&OsRng).unwrap());
    let token = shared.fetch_shared(&name, &Fixed).await.unwrap();
    assert_eq!(token.value.expose_secret(), "tls-token");

    // Another CA, or the system roots: the proxy's certificate is refused.
    let stranger = test_ca("127.0.0.1");
    let refused = open(&url, &options(Some(&stranger.pem_file)), clock()).await.map(|_| ());
    assert!(matches!(refused, Err(Error::Unavailable { .. })), "an untrusted certificate must be refused: {refused:?}");
    let refused = open(&url, &options(None), clock()).await.map(|_| ());
    assert!(matches!(refused, Err(Error::Unavailable { .. })), "{refused:?}");
    let refused = SharedTokenStore::open(&url, Some(&stranger.pem_file), cipher(), clock()).await.map(|_| ());
    assert!(refused.is_err(), "shared tokens refuse an untrusted certificate too");

    // A certificate for another name is refused even from the trusted CA.
    let misnamed = test_ca("cache.example");
    let misnamed_url = behind_tls(&misnamed).await.unwrap();
    let refused = open(&misnamed_url, &options(Some(&misnamed.pem_file)), clock()).await.map(|_| ());
    assert!(matches!(refused, Err(Error::Unavailable { .. })), "the host name is verified: {refused:?}");

    // `#insecure` (no certificate check) is not available.
    let insecure = open(&format!("{url}#insecure"), &options(Some(&ca.pem_file)), clock()).await.map(|_| ());
    assert!(insecure.is_err(), "certificate checks cannot be turned off");
}
