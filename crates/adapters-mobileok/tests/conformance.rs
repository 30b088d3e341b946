//! The mobileOK adapter against the provider conformance suite (표준창 and 본인확인-API).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_mobileok::{MobileokClient, MobileokConfig};
use bonin_adapters_store::MemoryStore;
use bonin_domain::{OsRng, ProviderId, SecretString, SystemClock};
use bonin_sandbox::{
    SandboxServer,
    conformance::{CodeKept, Repeat, Step, Subject},
    mobileok::{MobileokSimConfig, MobileokSimulator},
    play::Simulators,
};

const PASSWORD: &str = "sandbox-key-password";

/// Retries that take no time, so the retry rules are exercised quickly.
const FAST_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };

/// Key generation is slow in debug builds: one set of key pairs for the whole test binary.
fn keys() -> &'static MobileokSimulator {
    static SIM: OnceLock<MobileokSimulator> = OnceLock::new();
    SIM.get_or_init(|| MobileokSimulator::new(MobileokSimConfig::default()).expect("key generation"))
}

async fn subject() -> Subject {
    let sim = keys().fresh(MobileokSimConfig::default());
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let key_file = STANDARD.encode(sim.key_file(PASSWORD, true));
    let mut config = MobileokConfig::new(PathBuf::new(), SecretString::from(PASSWORD), "https://shop.example");
    config.key_file = None;
    config.key_file_base64 = Some(SecretString::from(key_file.clone()));
    config.api_base = server.base_url();
    config.window_base = server.base_url();
    let token_route = config.effective_token_endpoint().path();
    let transport = ReqwestTransport::new(&HttpConfig::default().with_timeout(Duration::from_secs(2))).unwrap();
    let http = HttpClient::new(ProviderId::Mobileok, Arc::new(transport), FAST_RETRY);
    let client = Arc::new(MobileokClient::new(config, http, Arc::new(SystemClock::new()), Arc::new(OsRng)).unwrap());
    Subject::new(ProviderId::Mobileok, server, Simulators::new().with_mobileok(sim), Arc::new(MemoryStore::new()))
        .with_window(client.clone())
        .with_otp(client)
        .with_endpoint(
            Step::WindowComplete,
            "/gui/service/v1/result/request",
            Repeat::Never,
            CodeKept::NotKept(
                "a key token mobileOK will not exchange is an integrity mismatch: the landing is open to anyone, so the refusal says nothing about the person",
            ),
        )
        .with_endpoint(Step::OtpSend, token_route, Repeat::Never, CodeKept::Rejected)
        .with_endpoint(Step::OtpSend, "/agent/v1/auth/request", Repeat::Never, CodeKept::Rejected)
        .with_endpoint(Step::OtpConfirm, "/agent/v1/confirm/request", Repeat::Never, CodeKept::Rejected)
        .with_secret(PASSWORD)
        .with_secret(key_file)
        .with_unknown_code("9876")
}

bonin_sandbox::provider_conformance_tests! {
    setup: subject,
    flows: [window, otp],
}
