//! The PortOne adapters (V1 and V2) against the provider conformance suite, window and OTP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_portone::{PortoneV1Client, PortoneV1Config, PortoneV2Client, PortoneV2Config};
use bonin_adapters_store::MemoryStore;
use bonin_domain::{ProviderId, SecretString, SystemClock};
use bonin_sandbox::{
    SandboxServer,
    conformance::{CodeKept, Repeat, Step, Subject},
    play::Simulators,
    portone::{self as sim, PortoneSimConfig, PortoneSimulator},
};

/// Retries that take no time, so the retry rules are exercised quickly.
const FAST_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };

fn http(provider: ProviderId) -> HttpClient {
    HttpClient::new(provider, Arc::new(ReqwestTransport::new(&HttpConfig::default()).unwrap()), FAST_RETRY)
}

async fn simulator() -> (PortoneSimulator, SandboxServer) {
    let simulator = PortoneSimulator::new(PortoneSimConfig::default());
    let server = SandboxServer::start(simulator.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (simulator, server)
}

async fn v1_subject() -> Subject {
    let (simulator, server) = simulator().await;
    let base = server.base_url();
    let mut config = PortoneV1Config::new(
        sim::SANDBOX_IMP_KEY,
        SecretString::from(sim::SANDBOX_IMP_SECRET),
        sim::SANDBOX_MERCHANT_CODE,
    )
    .with_endpoints(base.clone(), format!("{base}{}", sim::V1_SCRIPT_PATH));
    config.channel_key = Some(sim::SANDBOX_V1_CHANNEL_KEY.into());
    // PortOne's timeouts are whole seconds: the shortest keeps hangs short.
    config.timeout_secs = 1;
    let client =
        Arc::new(PortoneV1Client::new(config, http(ProviderId::PortoneV1), Arc::new(SystemClock::new())).unwrap());
    Subject::new(ProviderId::PortoneV1, server, Simulators::new().with_portone(simulator), Arc::new(MemoryStore::new()))
        .with_window(client.clone())
        .with_otp(client)
        .with_endpoint(Step::WindowComplete, "/users/getToken", Repeat::Safe, CodeKept::Unconfirmed)
        .with_endpoint(Step::WindowComplete, "/certifications/{imp_uid}", Repeat::Safe, CodeKept::Unconfirmed)
        .with_endpoint(Step::OtpSend, "/users/getToken", Repeat::Safe, CodeKept::Rejected)
        .with_endpoint(Step::OtpSend, "/certifications/otp/request", Repeat::Never, CodeKept::Rejected)
        .with_endpoint(Step::OtpConfirm, "/certifications/otp/confirm/{imp_uid}", Repeat::Never, CodeKept::Rejected)
        .with_secret(sim::SANDBOX_IMP_SECRET)
        .with_unknown_code("9999")
}

async fn v2_subject() -> Subject {
    let (simulator, server) = simulator().await;
    let base = server.base_url();
    let mut config = PortoneV2Config::new(
        SecretString::from(sim::SANDBOX_V2_SECRET),
        sim::SANDBOX_STORE_ID,
        sim::SANDBOX_V2_CHANNEL_KEY,
    )
    .with_endpoints(base.clone(), format!("{base}{}", sim::V2_SCRIPT_PATH));
    config.timeout_secs = 1;
    let client =
        Arc::new(PortoneV2Client::new(config, http(ProviderId::PortoneV2), Arc::new(SystemClock::new())).unwrap());
    Subject::new(ProviderId::PortoneV2, server, Simulators::new().with_portone(simulator), Arc::new(MemoryStore::new()))
        .with_window(client.clone())
        .with_otp(client)
        .with_endpoint(Step::WindowComplete, "/identity-verifications/{id}", Repeat::Safe, CodeKept::Unconfirmed)
        .with_endpoint(Step::OtpSend, "/identity-verifications/{id}/send", Repeat::Never, CodeKept::Rejected)
        .with_endpoint(Step::OtpConfirm, "/identity-verifications/{id}/confirm", Repeat::Never, CodeKept::Rejected)
        .with_secret(sim::SANDBOX_V2_SECRET)
        .with_unknown_code("SIM9999")
}

mod v1 {
    bonin_sandbox::provider_conformance_tests! {
        setup: super::v1_subject,
        flows: [window, otp],
        opt_out: {
            window_no_retry_after_timeout: "the V1 window flow only reads (getToken and GET /certifications/{imp_uid}), both safe to repeat",
        },
    }
}

mod v2 {
    bonin_sandbox::provider_conformance_tests! {
        setup: super::v2_subject,
        flows: [window, otp],
        opt_out: {
            window_no_retry_after_timeout: "the V2 window flow only reads the identity verification (GET), safe to repeat",
            otp_no_retry_after_timeout: "V2 sends and confirms carry an Idempotency-Key derived from the verification, operation, version and body: after a timeout the same request goes again and PortOne replays the first answer instead of applying it twice (contract test v2_a_confirm_retried_after_a_timeout_is_applied_once)",
        },
    }
}
