//! PostgreSQL over TLS (`sslmode=require`): a TLS-terminating proxy with a test CA stands in front
//! of the local PostgreSQL. The store connects and works when it trusts that CA, and refuses an
//! untrusted certificate or one for another name: no silent fallback to plain TCP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod support;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use bonin_adapters_store::{PostgresStore, conformance::backend_url};
use bonin_domain::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use support::{cipher, manual_clock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct TestCa {
    pem_file: PathBuf,
    leaf: CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

/// A CA, and a server certificate for `name` signed by it.
fn test_ca(name: &str) -> TestCa {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec![name.to_owned()]).unwrap().signed_by(&leaf_key, &ca).unwrap();
    let pem_file =
        std::env::temp_dir().join(format!("bonin-test-ca-{}.pem", VerificationId::generate(&OsRng).unwrap()));
    std::fs::write(&pem_file, ca.pem()).unwrap();
    TestCa { pem_file, leaf: leaf.der().clone(), leaf_key: leaf_key.serialize_der() }
}

/// Answers PostgreSQL's SSLRequest with `S`, terminates TLS with `ca`'s leaf certificate and
/// forwards the plaintext to `database`.
async fn tls_proxy(database: SocketAddr, ca: &TestCa) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ca.leaf.clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ca.leaf_key.clone())))
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 8];
                if inbound.read_exact(&mut request).await.is_err() || request[4..] != [0x04, 0xd2, 0x16, 0x2f] {
                    return; // not an SSLRequest: this proxy speaks TLS only
                }
                if inbound.write_all(b"S").await.is_err() {
                    return;
                }
                let Ok(mut tls) = acceptor.accept(inbound).await else { return };
                let Ok(mut outbound) = tokio::net::TcpStream::connect(database).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut outbound).await;
            });
        }
    });
    addr
}

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
    let proxy = tls_proxy(database, &ca).await;
    let tls_url = format!("postgres://{user}@127.0.0.1:{}/{db}?sslmode=require", proxy.port());

    let clock = manual_clock();
    let store = PostgresStore::connect_with_ca(&tls_url, 2, Some(&ca.pem_file), cipher(), clock.clone()).await.unwrap();
    store.ping().await.unwrap();
    let session = Verification::start(
        VerificationId::generate(&OsRng).unwrap(),
        ProviderId::Nice,
        Method::Window,
        FlowRules::nice(),
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
    let proxy = tls_proxy(database, &misnamed).await;
    let url = format!("postgres://{user}@127.0.0.1:{}/{db}?sslmode=require", proxy.port());
    let refused = PostgresStore::connect_with_ca(&url, 1, Some(&misnamed.pem_file), cipher(), clock).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(_))), "the host name is verified");
    for file in [ca.pem_file, stranger.pem_file, misnamed.pem_file] {
        let _ = std::fs::remove_file(file);
    }
}
