//! The NICE adapter against the provider conformance suite (window flow).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_nice::{NiceClient, NiceConfig};
use bonin_adapters_store::MemoryStore;
use bonin_domain::{ProviderId, SecretString, SystemClock};
use bonin_sandbox::{
    SandboxServer,
    conformance::{CodeKept, Repeat, Step, Subject},
    nice::{CRYPTO_TOKEN_PATH, NiceSimConfig, NiceSimulator, TOKEN_PATH, WINDOW_PATH},
    play::Simulators,
};

/// Retries that take no time, so the retry rules are exercised quickly.
const FAST_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };

async fn subject() -> Subject {
    let sim = NiceSimulator::new(NiceSimConfig::default());
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (id, secret) = sim.client();
    let (id, secret) = (id.to_owned(), secret.to_owned());
    let config = NiceConfig::new(id, SecretString::from(secret.clone()))
        .with_endpoints(server.base_url(), format!("{}{WINDOW_PATH}", server.base_url()));
    let transport = ReqwestTransport::new(&HttpConfig::default().with_timeout(Duration::from_millis(500))).unwrap();
    let http = HttpClient::new(ProviderId::Nice, Arc::new(transport), FAST_RETRY);
    let client = NiceClient::new(config, http, Arc::new(SystemClock::new())).unwrap();
    Subject::new(ProviderId::Nice, server, Simulators::new().with_nice(sim), Arc::new(MemoryStore::new()))
        .with_window(Arc::new(client))
        .with_endpoint(Step::WindowStart, TOKEN_PATH, Repeat::Safe, CodeKept::Rejected)
        .with_endpoint(Step::WindowStart, CRYPTO_TOKEN_PATH, Repeat::Safe, CodeKept::Rejected)
        .with_secret(secret)
        .with_unknown_code("ZZ9999")
        // The gateway answers the access-token endpoint; its codes are four digits from 1000.
        .with_unknown_code_at(TOKEN_PATH, "1987")
}

bonin_sandbox::provider_conformance_tests! {
    setup: subject,
    flows: [window],
    opt_out: {
        window_no_retry_after_timeout: "NICE's window flow calls only the access-token and crypto-token endpoints, both safe to repeat; the completion makes no call",
    },
}
