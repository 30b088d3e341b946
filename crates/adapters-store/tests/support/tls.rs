//! A test CA and a TLS-terminating proxy in front of a local server, for the store's TLS tests.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use bonin_domain::{OsRng, VerificationId};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA (its PEM file, removed on drop) and a server certificate it signed.
pub struct TestCa {
    pub pem_file: PathBuf,
    leaf: CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pem_file);
    }
}

/// A CA, and a server certificate for `name` signed by it.
pub fn test_ca(name: &str) -> TestCa {
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

/// How a client starts TLS with the proxied server.
#[derive(Clone, Copy)]
pub enum Preamble {
    /// TLS from the first byte (Redis).
    None,
    /// PostgreSQL's SSLRequest, answered `S`, then TLS; anything else is dropped.
    PostgresSslRequest,
}

/// Terminates TLS with `ca`'s server certificate and forwards the plaintext to `upstream`.
pub async fn tls_proxy(upstream: SocketAddr, ca: &TestCa, preamble: Preamble) -> SocketAddr {
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
                if let Preamble::PostgresSslRequest = preamble {
                    let mut request = [0u8; 8];
                    if inbound.read_exact(&mut request).await.is_err() || request[4..] != [0x04, 0xd2, 0x16, 0x2f] {
                        return; // not an SSLRequest: this proxy speaks TLS only
                    }
                    if inbound.write_all(b"S").await.is_err() {
                        return;
                    }
                }
                let Ok(mut tls) = acceptor.accept(inbound).await else { return };
                let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut outbound).await;
            });
        }
    });
    addr
}
