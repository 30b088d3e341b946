//! The Toss adapter against the sandbox's Toss simulator over loopback HTTP: two independent
//! readings of the protocol meeting. The whole flow (token → request → approve → status → result
//! twice, then refused), both request types, both path families, and the simulator's refusals.
//!
//! Then what issue 17 asks of them: one token for 1,000 concurrent requests through one client;
//! every state (`REQUESTED`, `IN_PROGRESS`, `COMPLETED`, `EXPIRED`), through the client and through
//! its `AppVerifier`; the sandbox's faults on token, request, status and result, each a typed
//! error, with the attempts counted (the fault queue counts what reached the server, the
//! simulator's counters what it processed): a request and a result read are sent once, a status
//! read is retried; unknown, foreign and spent `txId`s refused with the code kept verbatim.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::{
    collections::HashSet,
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_toss::{PathFamily, TossClient, TossConfig, TossRequest, TossResult, TossStatus};
use bonin_domain::*;
use bonin_sandbox::{
    Fault, SandboxServer, Times,
    toss::{self as sim, ServerKeySource, TossCounters, TossSimConfig, TossSimulator},
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
    let client = h.client_with({
        let mut tweaked = h.config();
        tweaked.path_family = PathFamily::Auth;
        tweaked
    });
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
    let client = h.client_with({
        let mut tweaked = h.config();
        tweaked.client_secret = SecretString::from("wrong");
        tweaked
    });
    let error = client.status("tx").await.unwrap_err();
    assert!(matches!(error, Error::Misconfigured { .. }), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// Issue 17: token economy, every state, faults, replayed and foreign txIds, the AppVerifier port.
// ---------------------------------------------------------------------------------------------

/// A second client the simulator knows, to own transactions the test client must not see.
const OTHER_CLIENT_ID: &str = "test_other_client_0000000000000000";
const OTHER_CLIENT_SECRET: &str = "test_other_secret_000000000000000";

/// The simulator with a second registered client.
fn two_clients() -> TossSimConfig {
    TossSimConfig {
        clients: vec![
            (sim::TEST_CLIENT_ID.into(), sim::TEST_CLIENT_SECRET.into()),
            (OTHER_CLIENT_ID.into(), OTHER_CLIENT_SECRET.into()),
        ],
        ..TossSimConfig::default()
    }
}

fn count(counter: &AtomicU64) -> u64 {
    TossCounters::get(counter)
}

impl Harness {
    /// A client that retries like production (3 attempts, without the waits) and gives each call
    /// one second.
    fn retrying_client(&self) -> TossClient {
        let transport = ReqwestTransport::new(&HttpConfig::default()).unwrap();
        let retry = RetryPolicy { max_attempts: 3, base_delay: Duration::ZERO, max_delay: Duration::ZERO };
        let http = HttpClient::new(PROVIDER, Arc::new(transport), retry);
        let config = {
            let mut tweaked = self.config();
            tweaked.timeout_secs = 1;
            tweaked
        };
        TossClient::new(config, http, Arc::new(SystemClock::new()), Arc::new(OsRng)).unwrap()
    }

    /// The client of the simulator's second registered client.
    fn other_client(&self) -> TossClient {
        self.client_with({
            let mut tweaked = self.config();
            tweaked.client_id = OTHER_CLIENT_ID.into();
            tweaked.client_secret = SecretString::from(OTHER_CLIENT_SECRET);
            tweaked
        })
    }

    /// How many requests the faults queued on `endpoint` still apply to (and drops them). Only for
    /// faults queued with `Times::Count`: each attempt that reached the server took one.
    fn faults_left(&self, endpoint: &str) -> u32 {
        let mut left = 0;
        while left < 100 && self.server.faults().take(endpoint).is_some() {
            left += 1;
        }
        left
    }

    /// A `USER_NONE` request, approved by Toss's test person.
    async fn approved_tx(&self, client: &TossClient) -> String {
        let tx_id = client.request(&TossRequest::user_none()).await.unwrap().tx_id.as_str().to_owned();
        assert_eq!(self.sim.approve(&tx_id, None).unwrap(), sim::TossStatus::Completed);
        tx_id
    }
}

/// The provider code of a Toss refusal; anything else fails the test.
fn rejected_code(error: &Error) -> &str {
    match error {
        Error::Rejected { provider: ProviderId::Toss, code, .. } => code,
        other => panic!("expected a Toss refusal, got {other:?}"),
    }
}

/// A Toss-app verification as the service stores it after `start`.
fn verification_of(start: &AppStart) -> Verification {
    let id = VerificationId::generate(&OsRng).unwrap();
    Verification::start(id, ProviderId::Toss, Method::App, FlowRules::DEFAULT, SystemClock::new().now())
        .with_provider_session(start.provider_key.clone(), start.provider_state.clone(), None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_through_one_client_cost_one_token() {
    let h = harness().await;
    let client = Arc::new(h.client());
    let mut flows = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let client = client.clone();
        flows
            .spawn(async move { client.request(&TossRequest::user_none()).await.map(|l| l.tx_id.as_str().to_owned()) });
    }
    let mut tx_ids = HashSet::new();
    while let Some(flow) = flows.join_next().await {
        assert!(tx_ids.insert(flow.unwrap().unwrap()), "a txId came back twice");
    }
    assert_eq!(tx_ids.len(), 1_000);
    assert_eq!(h.sim.tokens_issued(), 1);
    assert_eq!(count(&h.sim.counters().token_refusals), 0);
    assert_eq!(count(&h.sim.counters().requests), 1_000);
    assert_eq!(h.sim.tx_ids().into_iter().collect::<HashSet<_>>(), tx_ids);
    let stats = client.token_stats();
    assert_eq!((stats.fetches, stats.failures), (1, 0), "{stats:?}");
}

#[tokio::test]
async fn every_state_is_read_as_the_simulator_reports_it() {
    let h = harness().await;
    let client = h.client();
    let request = || async { client.request(&TossRequest::user_none()).await.unwrap().tx_id.as_str().to_owned() };

    // REQUESTED → IN_PROGRESS (opened in the app) → COMPLETED.
    let approved = request().await;
    assert_eq!(client.status(&approved).await.unwrap(), TossStatus::Requested);
    assert_eq!(h.sim.open(&approved).unwrap(), sim::TossStatus::InProgress);
    assert_eq!(client.status(&approved).await.unwrap(), TossStatus::InProgress);
    assert_eq!(client.result(&approved).await.unwrap(), TossResult::NotCompleted);
    h.sim.approve(&approved, None).unwrap();
    assert_eq!(client.status(&approved).await.unwrap(), TossStatus::Completed);

    // Never opened, then past the request TTL: EXPIRED, and its result is never readable.
    let lapsed = request().await;
    // A refusal in the app is IN_PROGRESS until the TTL (the reference lists no refused status).
    let refused = request().await;
    h.sim.open(&refused).unwrap();
    h.sim.refuse(&refused).unwrap();
    assert_eq!(client.status(&refused).await.unwrap(), TossStatus::InProgress);
    h.sim.advance(h.sim.config().request_ttl);
    assert_eq!(client.status(&lapsed).await.unwrap(), TossStatus::Expired);
    assert_eq!(client.status(&refused).await.unwrap(), TossStatus::Expired);
    assert_eq!(client.result(&lapsed).await.unwrap(), TossResult::NotCompleted);
    assert!(matches!(h.sim.approve(&lapsed, None), Err(sim::ControlError::Expired)));

    // Approval is final: the TTL does not turn a completed request into an expired one.
    assert_eq!(client.status(&approved).await.unwrap(), TossStatus::Completed);
    completed(client.result(&approved).await.unwrap());
    assert_eq!(count(&h.sim.counters().status_queries), 7);
    assert_eq!((h.sim.result_reads(&approved), h.sim.result_reads(&lapsed)), (Some(1), Some(0)));
    assert_eq!(h.sim.tokens_issued(), 1);
}

#[tokio::test]
async fn the_app_verifier_waits_then_completes_with_the_evidence() {
    let h = harness().await;
    let client = h.client();
    let start =
        AppVerifier::request(&client, &AppRequest::new(VerificationId::generate(&OsRng).unwrap())).await.unwrap();
    let tx_id = start.provider_state.expose().to_owned();
    assert_eq!(h.sim.tx_ids(), vec![tx_id.clone()]);
    assert_eq!(start.provider_key, Some(ProviderKey::new(ProviderId::Toss, tx_id.clone())));
    let Launch::Script(script) = &start.launch else { panic!("expected a script launch, got {:?}", start.launch) };
    assert_eq!(script.kind(), bonin_adapters_toss::LAUNCH_KIND);
    assert_eq!(script.fields()["tx_id"], tx_id.as_str());
    let auth_url = script.fields()["auth_url"].as_str().unwrap();
    assert!(auth_url.starts_with(&format!("{}{}?code=", h.server.base_url(), sim::AUTH_PAGE_PATH)), "{auth_url}");

    let verification = verification_of(&start);
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Waiting(AppState::Requested)));
    h.sim.open(&tx_id).unwrap();
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Waiting(AppState::InProgress)));
    assert_eq!(h.sim.result_reads(&tx_id), Some(0), "no result read before COMPLETED");
    h.sim.approve(&tx_id, None).unwrap();
    let AppPoll::Completed(completion) = client.poll(&verification).await.unwrap() else {
        panic!("expected a completed poll")
    };
    let identity = &completion.identity;
    assert_eq!(identity.provider, ProviderId::Toss);
    assert_eq!(identity.provider_tx_id.as_ref().unwrap().as_str(), tx_id);
    assert_eq!((identity.phone.as_ref(), identity.carrier), (None, None));
    assert_eq!(identity.name.as_ref().unwrap().expose(), sim::TOSS_TEST_PERSON.name);
    assert_eq!(identity.ci.as_ref().unwrap().expose(), sim::TOSS_TEST_PERSON.ci);
    let evidence = STANDARD.decode(identity.evidence.as_ref().unwrap().expose()).unwrap();
    assert_eq!(evidence.first(), Some(&0x30), "the signature is kept as it came: a DER SEQUENCE");
    assert_eq!(h.sim.result_reads(&tx_id), Some(1));
    assert_eq!(count(&h.sim.counters().status_queries), 3);
}

#[tokio::test]
async fn the_app_verifier_names_the_subject_and_returns_to_the_return_url() {
    let h = harness().await;
    let client = h.client();
    let subject = AppSubject {
        name: Name::new("홍길동").unwrap(),
        phone: PhoneNumber::new("010-1234-5678").unwrap(),
        birth_date: BirthDate::parse("19900215").unwrap(),
    };
    let request = AppRequest::new(VerificationId::generate(&OsRng).unwrap())
        .with_subject(Some(subject))
        .with_return_url(Some("https://shop.example/toss/back".into()));
    let start = AppVerifier::request(&client, &request).await.unwrap();
    let tx_id = start.provider_state.expose().to_owned();
    // Only the subject may approve a USER_PERSONAL request.
    assert!(matches!(h.sim.approve(&tx_id, Some(sim::TOSS_TEST_PERSON.key)), Err(sim::ControlError::NotTheSubject)));
    h.sim.approve(&tx_id, None).unwrap();
    let AppPoll::Completed(completion) = client.poll(&verification_of(&start)).await.unwrap() else {
        panic!("expected a completed poll")
    };
    assert_eq!(completion.identity.name.as_ref().unwrap().expose(), "홍길동");
    assert_eq!(completion.identity.birth_date.unwrap().yyyymmdd(), "19900215");
    assert_eq!(completion.identity.phone, None);
}

#[tokio::test]
async fn the_app_verifier_reports_expiry_and_refuses_what_it_cannot_poll() {
    let h = harness_with(TossSimConfig { refusal_expires_at_once: true, ..two_clients() }).await;
    let client = h.client();
    let start = || async {
        AppVerifier::request(&client, &AppRequest::new(VerificationId::generate(&OsRng).unwrap())).await.unwrap()
    };
    let refused = start().await;
    h.sim.refuse(refused.provider_state.expose()).unwrap();
    assert!(matches!(client.poll(&verification_of(&refused)).await.unwrap(), AppPoll::Expired));
    let lapsed = start().await;
    let verification = verification_of(&lapsed);
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Waiting(AppState::Requested)));
    h.sim.advance(h.sim.config().request_ttl);
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Expired));
    assert_eq!(count(&h.sim.counters().result_reads), 0);

    // Another client's transaction (approved by its person): Toss's CE3100, verbatim, and final.
    let other = h.other_client();
    let foreign =
        AppVerifier::request(&other, &AppRequest::new(VerificationId::generate(&OsRng).unwrap())).await.unwrap();
    let foreign_tx = foreign.provider_state.expose().to_owned();
    h.sim.approve(&foreign_tx, None).unwrap();
    let AppPoll::Refused { provider_code } = client.poll(&verification_of(&foreign)).await.unwrap() else {
        panic!("a foreign transaction must be refused")
    };
    assert_eq!(provider_code, sim::codes::NO_SUCH_REQUEST);
    assert_eq!(h.sim.result_reads(&foreign_tx), Some(0));

    // A completed transaction whose two reads are spent: the simulator's code, verbatim.
    completed(other.result(&foreign_tx).await.unwrap());
    completed(other.result(&foreign_tx).await.unwrap());
    let AppPoll::Refused { provider_code } = other.poll(&verification_of(&foreign)).await.unwrap() else {
        panic!("a spent result must be refused")
    };
    assert_eq!(provider_code, sim::codes::READ_LIMIT);

    // A session that holds no transaction asks Toss nothing.
    let bare = Verification::start(
        VerificationId::generate(&OsRng).unwrap(),
        ProviderId::Toss,
        Method::App,
        FlowRules::DEFAULT,
        SystemClock::new().now(),
    );
    let error = client.poll(&bare).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
    assert_eq!(count(&h.sim.counters().status_queries), 4, "refused, lapsed twice, spent");
    assert_eq!(count(&h.sim.counters().result_reads), 2);
}

#[tokio::test]
async fn an_app_poll_retries_its_status_read_but_not_its_result_read() {
    let h = harness().await;
    let client = h.retrying_client();
    let start =
        AppVerifier::request(&client, &AppRequest::new(VerificationId::generate(&OsRng).unwrap())).await.unwrap();
    let tx_id = start.provider_state.expose().to_owned();
    let verification = verification_of(&start);
    h.server.faults().inject(sim::ID_STATUS_PATH, Fault::status(503), Times::Count(2));
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Waiting(AppState::Requested)));
    assert_eq!(h.faults_left(sim::ID_STATUS_PATH), 0);
    h.sim.approve(&tx_id, None).unwrap();
    h.server.faults().inject(sim::ID_RESULT_PATH, Fault::status(503), Times::Count(3));
    let error = client.poll(&verification).await.unwrap_err();
    assert!(indeterminate(&error), "{error:?}");
    assert_eq!(h.faults_left(sim::ID_RESULT_PATH), 2, "one result attempt");
    assert_eq!(h.sim.result_reads(&tx_id), Some(0));
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Completed(_)));
    assert_eq!(h.sim.result_reads(&tx_id), Some(1));
    assert_eq!(count(&h.sim.counters().status_queries), 3);
}

#[tokio::test]
async fn a_poll_with_too_little_time_left_leaves_the_result_read_to_the_next_poll() {
    let h = harness().await;
    // Each call gets a second; a result read needs three at worst; the poll gets four.
    let client = h.retrying_client().with_poll_time_limit(Duration::from_secs(4));
    assert_eq!(client.result_read_budget(), Duration::from_secs(3));
    let start =
        AppVerifier::request(&client, &AppRequest::new(VerificationId::generate(&OsRng).unwrap())).await.unwrap();
    let tx_id = start.provider_state.expose().to_owned();
    let verification = verification_of(&start);
    h.sim.approve(&tx_id, None).unwrap();
    // Two status attempts time out: the status arrives after two of the poll's four seconds.
    h.server.faults().inject(sim::ID_STATUS_PATH, Fault::Hang, Times::Count(2));
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Waiting(AppState::InProgress)));
    assert_eq!(h.faults_left(sim::ID_STATUS_PATH), 0);
    assert_eq!(h.sim.result_reads(&tx_id), Some(0), "no read the poll's limit could cut");
    // With time enough, the next poll reads it.
    assert!(matches!(client.poll(&verification).await.unwrap(), AppPoll::Completed(_)));
    assert_eq!(h.sim.result_reads(&tx_id), Some(1));
}

#[tokio::test]
async fn unknown_and_foreign_tx_ids_are_ce3100_verbatim() {
    let h = harness_with(two_clients()).await;
    let (mine, theirs) = (h.client(), h.other_client());
    let their_tx = h.approved_tx(&theirs).await;
    let my_tx = h.approved_tx(&mine).await;
    let unknown = "00000000-0000-4000-8000-000000000000";
    for tx_id in [unknown, their_tx.as_str()] {
        let error = mine.status(tx_id).await.unwrap_err();
        assert_eq!(rejected_code(&error), sim::codes::NO_SUCH_REQUEST, "status of {tx_id}");
        assert_eq!(error.code(), ErrorCode::ProviderRejected);
        let error = mine.result(tx_id).await.unwrap_err();
        assert_eq!(rejected_code(&error), sim::codes::NO_SUCH_REQUEST, "result of {tx_id}");
    }
    // The same txId in the other path family is another client's too.
    let other_family = h.client_with({
        let mut tweaked = h.config();
        tweaked.path_family = PathFamily::Auth;
        tweaked
    });
    let error = other_family.status(&my_tx).await.unwrap_err();
    assert_eq!(rejected_code(&error), "CE3100");
    let error = other_family.result(&my_tx).await.unwrap_err();
    assert_eq!(rejected_code(&error), "CE3100");
    // Nothing was read: both transactions still have their two reads.
    assert_eq!((h.sim.result_reads(&their_tx), h.sim.result_reads(&my_tx)), (Some(0), Some(0)));
    assert_eq!(count(&h.sim.counters().status_queries), 0);
    completed(theirs.result(&their_tx).await.unwrap());
    completed(mine.result(&my_tx).await.unwrap());
}

#[tokio::test]
async fn a_result_is_not_completed_before_approval_and_refused_after_two_reads_or_its_window() {
    let h = harness().await;
    let client = h.client();
    let tx_id = client.request(&TossRequest::user_none()).await.unwrap().tx_id.as_str().to_owned();
    assert_eq!(client.result(&tx_id).await.unwrap(), TossResult::NotCompleted);
    h.sim.open(&tx_id).unwrap();
    assert_eq!(client.result(&tx_id).await.unwrap(), TossResult::NotCompleted);
    assert_eq!(h.sim.result_reads(&tx_id), Some(0));
    h.sim.approve(&tx_id, None).unwrap();
    let first = completed(client.result(&tx_id).await.unwrap());
    let second = completed(client.result(&tx_id).await.unwrap());
    assert_eq!(first.ci, second.ci);
    assert_ne!(first.signature, second.signature, "each read is a new answer");
    for _ in 0..2 {
        let error = client.result(&tx_id).await.unwrap_err();
        assert_eq!(rejected_code(&error), sim::codes::READ_LIMIT);
    }
    assert_eq!(h.sim.result_reads(&tx_id), Some(2));
    assert!(matches!(h.sim.approve(&tx_id, None), Err(sim::ControlError::AlreadyCompleted)));

    let late = h.approved_tx(&client).await;
    h.sim.advance(h.sim.config().result_window);
    let error = client.result(&late).await.unwrap_err();
    assert_eq!(rejected_code(&error), sim::codes::RESULT_WINDOW_PASSED);
    assert_eq!(client.status(&late).await.unwrap(), TossStatus::Completed);
    assert_eq!(count(&h.sim.counters().result_reads), 2);
}

/// A domain error class, for the fault tables.
type Expect = fn(&Error) -> bool;

fn unavailable(error: &Error) -> bool {
    matches!(error, Error::Unavailable { dependency: Dependency::Provider(ProviderId::Toss), .. })
}

fn indeterminate(error: &Error) -> bool {
    matches!(error, Error::Indeterminate { dependency: Dependency::Provider(ProviderId::Toss), .. })
}

fn protocol(error: &Error) -> bool {
    matches!(error, Error::Protocol { provider: ProviderId::Toss, .. })
}

fn misconfigured(error: &Error) -> bool {
    matches!(error, Error::Misconfigured { .. })
}

/// Longer than the one second the retrying client gives a call.
fn too_slow() -> Fault {
    Fault::latency(Duration::from_millis(1_500))
}

#[tokio::test]
async fn token_faults_are_typed_errors_and_not_remembered() {
    // (fault, queued for, attempts that reached the server, tokens the simulator issued, error)
    let cases: [(Fault, u32, u32, u64, Expect); 7] = [
        (Fault::status(500), 3, 1, 0, unavailable),
        (Fault::status(503), 5, 3, 0, unavailable),
        (Fault::Malformed, 3, 1, 0, protocol),
        (Fault::Truncated, 3, 1, 1, protocol),
        (Fault::provider_code("invalid_client"), 3, 1, 0, misconfigured),
        (Fault::Hang, 5, 3, 0, unavailable),
        (too_slow(), 5, 3, 0, unavailable),
    ];
    for (fault, queued, attempts, issued, expect) in cases {
        let h = harness().await;
        let client = h.retrying_client();
        h.server.faults().inject(sim::TOKEN_PATH, fault.clone(), Times::Count(queued));
        let error = client.request(&TossRequest::user_none()).await.unwrap_err();
        assert!(expect(&error), "{fault:?}: {error:?}");
        assert_eq!(queued - h.faults_left(sim::TOKEN_PATH), attempts, "{fault:?}: attempts");
        assert_eq!(h.sim.tokens_issued(), issued, "{fault:?}: tokens");
        assert_eq!(count(&h.sim.counters().requests), 0, "{fault:?}: no request without a token");
        // The failure is not kept: the next call asks again, and goes through.
        client.request(&TossRequest::user_none()).await.unwrap();
        assert_eq!(h.sim.tokens_issued(), issued + 1, "{fault:?}: tokens after");
        assert_eq!(client.token_stats().failures, 1, "{fault:?}");
    }
}

#[tokio::test]
async fn a_token_endpoint_unavailable_twice_is_retried_into_one_token() {
    let h = harness().await;
    let client = h.retrying_client();
    h.server.faults().inject(sim::TOKEN_PATH, Fault::status(503), Times::Count(2));
    client.request(&TossRequest::user_none()).await.unwrap();
    assert_eq!(h.faults_left(sim::TOKEN_PATH), 0);
    assert_eq!(h.sim.tokens_issued(), 1);
}

#[tokio::test]
async fn a_request_is_sent_once_whatever_the_fault() {
    // (fault, simulator requests made, error); each fault is queued for three requests.
    let cases: [(Fault, u64, Expect); 7] = [
        (Fault::status(503), 0, indeterminate),
        (Fault::status(502), 0, indeterminate),
        (Fault::status(500), 0, indeterminate),
        (Fault::Malformed, 0, protocol),
        (Fault::Truncated, 1, protocol),
        (too_slow(), 0, indeterminate),
        (Fault::Hang, 0, indeterminate),
    ];
    for (fault, made, expect) in cases {
        let h = harness().await;
        let client = h.retrying_client();
        client.access_token().await.unwrap();
        h.server.faults().inject(sim::ID_REQUEST_PATH, fault.clone(), Times::Count(3));
        let error = client.request(&TossRequest::user_none()).await.unwrap_err();
        assert!(expect(&error), "{fault:?}: {error:?}");
        assert_eq!(h.faults_left(sim::ID_REQUEST_PATH), 2, "{fault:?}: exactly one attempt");
        if matches!(fault, Fault::Latency { .. }) {
            // Had the server gone on after the client left, the simulator would have made it by now.
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
        assert_eq!(count(&h.sim.counters().requests), made, "{fault:?}: requests made");
        assert_eq!(h.sim.tx_ids().len() as u64, made, "{fault:?}: txIds issued");
        assert_eq!(h.sim.tokens_issued(), 1, "{fault:?}");
    }
}

#[tokio::test]
async fn request_refusals_keep_the_code_and_a_refused_token_is_replaced_once() {
    let h = harness().await;
    let client = h.retrying_client();
    h.server.faults().inject(sim::ID_REQUEST_PATH, Fault::provider_code("CE9999"), Times::Count(3));
    let error = client.request(&TossRequest::user_none()).await.unwrap_err();
    assert_eq!(rejected_code(&error), "CE9999");
    assert_eq!(h.faults_left(sim::ID_REQUEST_PATH), 2);

    // CE1000 (HTTP 401): turned away before it was processed, so one fresh token and one resend.
    h.server.faults().inject(sim::ID_REQUEST_PATH, Fault::provider_code("CE1000"), Times::Once);
    client.request(&TossRequest::user_none()).await.unwrap();
    assert_eq!((h.sim.tokens_issued(), count(&h.sim.counters().token_refusals)), (2, 1));
    assert_eq!(count(&h.sim.counters().requests), 1);

    // Refused again with the fresh token: misconfigured, and no third token.
    h.server.faults().inject(sim::ID_REQUEST_PATH, Fault::provider_code("CE1000"), Times::Count(5));
    let error = client.request(&TossRequest::user_none()).await.unwrap_err();
    assert!(misconfigured(&error), "{error:?}");
    assert_eq!(h.faults_left(sim::ID_REQUEST_PATH), 3);
    assert_eq!((h.sim.tokens_issued(), count(&h.sim.counters().token_refusals)), (3, 3));
    assert_eq!(count(&h.sim.counters().requests), 1);
}

#[tokio::test]
async fn a_status_read_is_retried_on_503_and_timeouts() {
    let h = harness().await;
    let client = h.retrying_client();
    let tx_id = client.request(&TossRequest::user_none()).await.unwrap().tx_id.as_str().to_owned();
    for fault in [Fault::status(503), Fault::status(502), Fault::status(504), too_slow()] {
        h.server.faults().inject(sim::ID_STATUS_PATH, fault.clone(), Times::Count(2));
        assert_eq!(client.status(&tx_id).await.unwrap(), TossStatus::Requested, "{fault:?}");
        assert_eq!(h.faults_left(sim::ID_STATUS_PATH), 0, "{fault:?}: three attempts");
    }
    // Three 503s are all the attempts there are.
    h.server.faults().inject(sim::ID_STATUS_PATH, Fault::status(503), Times::Count(5));
    let error = client.status(&tx_id).await.unwrap_err();
    assert!(unavailable(&error), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(h.faults_left(sim::ID_STATUS_PATH), 2);
    // The timed-out attempts never reached the simulator (the server drops a call its client left).
    assert_eq!(count(&h.sim.counters().status_queries), 4);
    assert_eq!(h.sim.tokens_issued(), 1);
}

#[tokio::test]
async fn status_faults_that_are_not_retried_are_typed_errors() {
    // (fault, simulator status answers, error, provider code); each queued for three reads.
    let cases: [(Fault, u64, Expect, Option<&str>); 5] = [
        (Fault::status(500), 0, unavailable, None),
        (Fault::Malformed, 0, protocol, None),
        (Fault::Truncated, 1, protocol, None),
        (Fault::provider_code("CE3100"), 0, |e| matches!(e, Error::Rejected { .. }), Some("CE3100")),
        (Fault::provider_code("SIM9999"), 0, |e| matches!(e, Error::Rejected { .. }), Some("SIM9999")),
    ];
    for (fault, answered, expect, code) in cases {
        let h = harness().await;
        let client = h.retrying_client();
        let tx_id = client.request(&TossRequest::user_none()).await.unwrap().tx_id.as_str().to_owned();
        h.server.faults().inject(sim::ID_STATUS_PATH, fault.clone(), Times::Count(3));
        let error = client.status(&tx_id).await.unwrap_err();
        assert!(expect(&error), "{fault:?}: {error:?}");
        if let Some(code) = code {
            assert_eq!(rejected_code(&error), code);
        }
        assert_eq!(h.faults_left(sim::ID_STATUS_PATH), 2, "{fault:?}: one attempt");
        assert_eq!(count(&h.sim.counters().status_queries), answered, "{fault:?}");
    }
}

#[tokio::test]
async fn a_result_read_is_sent_once_whatever_the_fault() {
    // (fault, successful reads the simulator counted, error); each queued for three reads.
    let cases: [(Fault, u32, Expect); 7] = [
        (Fault::status(503), 0, indeterminate),
        (Fault::status(502), 0, indeterminate),
        (Fault::status(500), 0, indeterminate),
        (Fault::Malformed, 0, protocol),
        (Fault::Truncated, 1, protocol),
        (too_slow(), 0, indeterminate),
        (Fault::Hang, 0, indeterminate),
    ];
    for (fault, reads, expect) in cases {
        let h = harness().await;
        let client = h.retrying_client();
        let tx_id = h.approved_tx(&client).await;
        h.server.faults().inject(sim::ID_RESULT_PATH, fault.clone(), Times::Count(3));
        let error = client.result(&tx_id).await.unwrap_err();
        assert!(expect(&error), "{fault:?}: {error:?}");
        assert_eq!(h.faults_left(sim::ID_RESULT_PATH), 2, "{fault:?}: exactly one attempt");
        if matches!(fault, Fault::Latency { .. }) {
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
        assert_eq!(h.sim.result_reads(&tx_id), Some(reads), "{fault:?}: reads used");
        assert_eq!(count(&h.sim.counters().result_reads), u64::from(reads), "{fault:?}");
        // What is left of the two reads is still there.
        for _ in reads..2 {
            completed(client.result(&tx_id).await.unwrap());
        }
        let error = client.result(&tx_id).await.unwrap_err();
        assert_eq!(rejected_code(&error), sim::codes::READ_LIMIT, "{fault:?}");
    }
}

#[tokio::test]
async fn result_refusals_keep_the_code_and_ce3102_is_not_completed() {
    let h = harness().await;
    let client = h.retrying_client();
    let tx_id = h.approved_tx(&client).await;
    for code in [sim::codes::READ_LIMIT, "CE3100", "CE9999"] {
        h.server.faults().inject(sim::ID_RESULT_PATH, Fault::provider_code(code), Times::Count(3));
        let error = client.result(&tx_id).await.unwrap_err();
        assert_eq!(rejected_code(&error), code);
        assert_eq!(h.faults_left(sim::ID_RESULT_PATH), 2, "{code}");
    }
    h.server.faults().inject(sim::ID_RESULT_PATH, Fault::provider_code("CE3102"), Times::Count(3));
    assert_eq!(client.result(&tx_id).await.unwrap(), TossResult::NotCompleted);
    assert_eq!(h.faults_left(sim::ID_RESULT_PATH), 2);
    assert_eq!(h.sim.result_reads(&tx_id), Some(0));
    completed(client.result(&tx_id).await.unwrap());
}
