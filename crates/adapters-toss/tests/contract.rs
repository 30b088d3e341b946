//! The Toss adapter against the sandbox's Toss simulator over loopback HTTP: two independent
//! readings of the protocol meeting. The whole flow (token → request → approve → status → result
//! twice, then refused), both request types, both path families, and the simulator's refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::sync::Arc;

use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_toss::{PathFamily, TossClient, TossConfig, TossRequest, TossResult, TossStatus};
use bonin_domain::*;
use bonin_sandbox::{
    SandboxServer,
    toss::{self as sim, ServerKeySource, TossSimConfig, TossSimulator},
};
use common::{PROVIDER, private_key};

struct Harness {
    sim: TossSimulator,
    server: SandboxServer,
}

async fn harness_with(config: TossSimConfig) -> Harness {
    // Toss's published test key: no RSA-4096 generation per test.
    let sim =
        TossSimulator::new(TossSimConfig { server_key: ServerKeySource::Pkcs8(private_key()), ..config }).unwrap();
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Harness { sim, server }
}

async fn harness() -> Harness {
    harness_with(TossSimConfig::default()).await
}

impl Harness {
    fn config(&self) -> TossConfig {
        TossConfig::new(sim::TEST_CLIENT_ID, SecretString::from(sim::TEST_CLIENT_SECRET))
            .with_endpoints(self.server.base_url(), self.server.base_url())
            .with_public_key(self.sim.public_key_base64())
    }

    fn client_with(&self, config: TossConfig) -> TossClient {
        let transport = ReqwestTransport::new(&HttpConfig::default()).unwrap();
        let http = HttpClient::new(PROVIDER, Arc::new(transport), RetryPolicy::NONE);
        TossClient::new(config, http, Arc::new(SystemClock::new()), Arc::new(OsRng)).unwrap()
    }

    fn client(&self) -> TossClient {
        self.client_with(self.config())
    }
}

fn completed(result: TossResult) -> Box<bonin_adapters_toss::TossIdentity> {
    match result {
        TossResult::Completed(identity) => identity,
        other => panic!("expected a completed result, got {other:?}"),
    }
}

#[tokio::test]
async fn user_none_flow_reads_the_test_person_at_most_twice() {
    let h = harness().await;
    let client = h.client();
    let launch = client.request(&TossRequest::user_none()).await.unwrap();
    let tx_id = launch.tx_id.as_str().to_owned();
    assert!(launch.auth_url.is_some());
    assert_eq!(client.status(&tx_id).await.unwrap(), TossStatus::Requested);
    assert_eq!(client.result(&tx_id).await.unwrap(), TossResult::NotCompleted);
    h.sim.approve(&tx_id, None).unwrap();
    assert_eq!(client.status(&tx_id).await.unwrap(), TossStatus::Completed);
    let identity = completed(client.result(&tx_id).await.unwrap());
    assert_eq!(identity.name.as_ref().unwrap().expose(), sim::TOSS_TEST_PERSON.name);
    assert_eq!(identity.birth_date.unwrap().yyyymmdd(), sim::TOSS_TEST_PERSON.birth_date);
    assert_eq!(identity.gender, Some(Gender::Female));
    assert_eq!(identity.nationality, Some(Nationality::Domestic));
    assert_eq!(identity.ci.as_ref().unwrap().expose(), sim::TOSS_TEST_PERSON.ci);
    assert_eq!(identity.di.as_ref().unwrap().expose(), sim::TOSS_TEST_PERSON.di);
    completed(client.result(&tx_id).await.unwrap());
    let third = client.result(&tx_id).await.unwrap_err();
    assert!(matches!(third, Error::Rejected { .. }), "{third:?}");
    assert_eq!(h.sim.tokens_issued(), 1);
}

#[tokio::test]
async fn user_personal_flow_is_approved_by_its_subject() {
    let h = harness().await;
    let client = h.client();
    let hong = TossRequest::user_personal(
        Name::new("홍길동").unwrap(),
        PhoneNumber::new("010-1234-5678").unwrap(),
        BirthDate::parse("19900215").unwrap(),
    );
    // The simulator is strict where the reference is silent: APP_SCHEME needs a requestUrl.
    let refused = client.request(&hong).await.unwrap_err();
    assert!(matches!(refused, Error::Rejected { .. }), "{refused:?}");
    let launch = client.request(&hong.with_request_url("https://shop.example/toss/back")).await.unwrap();
    let tx_id = launch.tx_id.as_str().to_owned();
    h.sim.approve(&tx_id, None).unwrap();
    let identity = completed(client.result(&tx_id).await.unwrap());
    assert_eq!(identity.name.as_ref().unwrap().expose(), "홍길동");
    assert_eq!(identity.birth_date.unwrap().yyyymmdd(), "19900215");
}

#[tokio::test]
async fn the_auth_family_and_http_400_failures_are_read_alike() {
    let h = harness_with(TossSimConfig { business_errors_as_200: false, ..TossSimConfig::default() }).await;
    let client = h.client_with(TossConfig { path_family: PathFamily::Auth, ..h.config() });
    let tx_id = client.request(&TossRequest::user_none()).await.unwrap().tx_id.as_str().to_owned();
    assert_eq!(client.result(&tx_id).await.unwrap(), TossResult::NotCompleted);
    let unknown = client.status("no-such-tx").await.unwrap_err();
    assert!(matches!(&unknown, Error::Rejected { code, .. } if code == "CE3100"), "{unknown:?}");
}

#[tokio::test]
async fn a_revoked_token_is_replaced_once() {
    let h = harness().await;
    let client = h.client();
    let tx_id = client.request(&TossRequest::user_none()).await.unwrap().tx_id.as_str().to_owned();
    h.sim.revoke_tokens();
    assert_eq!(client.status(&tx_id).await.unwrap(), TossStatus::Requested);
    assert_eq!(h.sim.tokens_issued(), 2);
}

#[tokio::test]
async fn wrong_credentials_are_misconfigured() {
    let h = harness().await;
    let client = h.client_with(TossConfig { client_secret: SecretString::from("wrong"), ..h.config() });
    let error = client.status("tx").await.unwrap_err();
    assert!(matches!(error, Error::Misconfigured { .. }), "{error:?}");
}
