//! The PortOne adapter against the PortOne simulator: V1 tokens, certifications and OTP; V2 identity
//! verifications, errors and idempotency.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use bonin_adapters_http::{HttpClient, HttpConfig, HttpResponse, ReqwestTransport, RetryPolicy};
use bonin_adapters_portone::*;
use bonin_domain::*;
use bonin_sandbox::{
    Fault, SandboxServer, Times,
    personas::{self, Persona},
    portone::{self as sim, PortoneCounters, PortoneSimConfig, PortoneSimulator, WindowOutcome},
};
use serde_json::{Value, json};

struct Harness {
    sim: PortoneSimulator,
    server: SandboxServer,
    clock: Arc<ManualClock>,
}

async fn harness_with(config: PortoneSimConfig) -> Harness {
    let sim = PortoneSimulator::new(config);
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Harness { sim, server, clock: Arc::new(ManualClock::new(time::OffsetDateTime::now_utc())) }
}

async fn harness() -> Harness {
    harness_with(PortoneSimConfig::default()).await
}

/// The iamport.js launch a V1 window opens.
fn v1_launch(launch: &Launch) -> IamportLaunch {
    IamportLaunch::from_launch(launch).unwrap().unwrap_or_else(|| panic!("not an iamport launch: {launch:?}"))
}

/// The browser-SDK launch a V2 window opens.
fn v2_launch(launch: &Launch) -> PortoneLaunch {
    PortoneLaunch::from_launch(launch).unwrap().unwrap_or_else(|| panic!("not a portone launch: {launch:?}"))
}

fn http(provider: ProviderId, retry: RetryPolicy) -> HttpClient {
    HttpClient::new(provider, Arc::new(ReqwestTransport::new(&HttpConfig::default()).unwrap()), retry)
}

impl Harness {
    fn v1_config(&self) -> PortoneV1Config {
        let mut config = PortoneV1Config::new(
            sim::SANDBOX_IMP_KEY,
            SecretString::from(sim::SANDBOX_IMP_SECRET),
            sim::SANDBOX_MERCHANT_CODE,
        )
        .with_endpoints(self.server.base_url(), format!("{}{}", self.server.base_url(), sim::V1_SCRIPT_PATH));
        config.channel_key = Some(sim::SANDBOX_V1_CHANNEL_KEY.into());
        config.timeout_secs = 5;
        config
    }

    fn v1(&self) -> PortoneV1Client {
        self.v1_with(self.v1_config())
    }

    fn v1_with(&self, config: PortoneV1Config) -> PortoneV1Client {
        PortoneV1Client::new(config, http(ProviderId::PortoneV1, RetryPolicy::NONE), self.clock.clone()).unwrap()
    }

    fn v2_config(&self) -> PortoneV2Config {
        PortoneV2Config::new(
            SecretString::from(sim::SANDBOX_V2_SECRET),
            sim::SANDBOX_STORE_ID,
            sim::SANDBOX_V2_CHANNEL_KEY,
        )
        .with_endpoints(self.server.base_url(), format!("{}{}", self.server.base_url(), sim::V2_SCRIPT_PATH))
    }

    fn v2(&self) -> PortoneV2Client {
        self.v2_with(self.v2_config())
    }

    fn v2_with(&self, config: PortoneV2Config) -> PortoneV2Client {
        PortoneV2Client::new(config, http(ProviderId::PortoneV2, RetryPolicy::NONE), self.clock.clone()).unwrap()
    }

    fn window_session(&self, provider: ProviderId, id: &VerificationId, start: &WindowStart) -> Verification {
        Verification::start(
            id.clone(),
            provider,
            Method::Window,
            FlowRules::new(Duration::from_secs(1800)),
            self.clock.now(),
        )
        .with_provider_session(start.provider_key.clone(), start.provider_state.clone(), start.valid_until)
    }

    fn otp_session(&self, provider: ProviderId, id: &VerificationId, dispatch: OtpDispatch) -> Verification {
        Verification::start(
            id.clone(),
            provider,
            Method::Otp,
            FlowRules::new(Duration::from_secs(1800)),
            self.clock.now(),
        )
        .otp_sent(self.clock.now(), dispatch.provider_state, dispatch.provider_key)
        .unwrap()
    }

    async fn v1_window(&self, client: &PortoneV1Client, persona: Option<&str>) -> (Verification, CallbackParams) {
        let id = new_id();
        let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
        let launch = v1_launch(&start.launch);
        let params = serde_json::to_value(&launch.params).unwrap();
        let outcome = self.sim.complete_v1_window(&launch.merchant_code, &params, persona).unwrap();
        (self.window_session(ProviderId::PortoneV1, &id, &start), callback_of(outcome))
    }

    async fn v2_window(&self, client: &PortoneV2Client, persona: Option<&str>) -> (Verification, CallbackParams) {
        let id = new_id();
        let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
        let launch = v2_launch(&start.launch);
        let params = serde_json::to_value(&launch.params).unwrap();
        let outcome = self.sim.complete_v2_window(&params, persona).unwrap();
        (self.window_session(ProviderId::PortoneV2, &id, &start), callback_of(outcome))
    }
}

fn new_id() -> VerificationId {
    VerificationId::generate(&OsRng).unwrap()
}

/// The query of a redirect, decoded once (as the form layer would).
fn callback_of(outcome: WindowOutcome) -> CallbackParams {
    assert!(matches!(outcome, WindowOutcome::Redirect(_)), "expected a redirect");
    CallbackParams::from_pairs(CallbackTransport::Get, outcome.query_pairs())
}

fn subject(persona: &Persona) -> OtpSubject {
    OtpSubject {
        name: Name::new(persona.name).unwrap(),
        phone: PhoneNumber::new(persona.phone).unwrap(),
        birth_date: BirthDate::parse(persona.birth_date).unwrap(),
        gender: persona.gender,
        nationality: persona.nationality,
        carrier: persona.carrier,
    }
}

fn assert_identity(identity: &VerifiedIdentity, persona: &Persona, provider: ProviderId) {
    assert_eq!(identity.provider, provider);
    assert_eq!(identity.name.as_ref().unwrap().expose(), persona.name);
    assert_eq!(identity.birth_date.as_ref().unwrap().yyyymmdd(), persona.birth_date);
    assert_eq!(identity.gender, Some(persona.gender));
    assert_eq!(identity.nationality, Some(persona.nationality));
    assert_eq!(identity.phone.as_ref().unwrap().expose(), persona.phone);
    assert_eq!(identity.carrier, Some(persona.carrier));
    assert_eq!(identity.ci.as_ref().unwrap().expose(), persona.ci);
    assert_eq!(identity.di.as_ref().unwrap().expose(), persona.di);
    assert!(identity.provider_tx_id.is_some());
}

fn count(counter: &std::sync::atomic::AtomicU64) -> u64 {
    PortoneCounters::get(counter)
}

// --- V1 window ---

#[tokio::test]
async fn v1_window_verifies_every_persona_and_deletes_the_record_after_the_commit() {
    let h = harness().await;
    let client = h.v1();
    for persona in personas::ALL.iter() {
        let (session, callback) = h.v1_window(&client, Some(persona.key)).await;
        assert_eq!(callback.get("success"), Some("true"));
        let completion = client.complete(&session, &callback).await.unwrap();
        assert_identity(&completion.identity, persona, ProviderId::PortoneV1);
        let work = completion.after_commit.expect("the delete waits for the commit");
        WindowVerifier::after_commit(&client, &session, &work).await.unwrap();
        // Gone at PortOne once bonin has stored it.
        let again = client.certification(callback.get("imp_uid").unwrap()).await.unwrap_err();
        assert!(matches!(again, Error::InvalidInput { .. }), "{again:?}");
    }
    assert_eq!(count(&h.sim.counters().tokens_issued), 1, "one token for every call");
}

/// If bonin's store write fails after `complete`, the result must still be at PortOne: nothing
/// is deleted before the commit, and the delete runs only from `after_commit`.
#[tokio::test]
async fn v1_window_complete_leaves_the_certification_at_portone_until_after_commit() {
    let h = harness().await;
    let client = h.v1();
    let (session, callback) = h.v1_window(&client, Some("hong")).await;
    let imp_uid = callback.get("imp_uid").unwrap().to_owned();
    let completion = client.complete(&session, &callback).await.unwrap();
    assert!(h.sim.has_certification(&imp_uid), "deleted before bonin stored the result");
    assert_eq!(count(&h.sim.counters().certifications_deleted), 0);
    // The store write failed and the callback comes again: the result is still readable.
    let again = client.complete(&session, &callback).await.unwrap();
    assert_eq!(again.identity, completion.identity);
    let work = again.after_commit.unwrap();
    assert!(!work.expose().contains(personas::default_persona().name), "the work holds no personal data");
    WindowVerifier::after_commit(&client, &session, &work).await.unwrap();
    assert!(!h.sim.has_certification(&imp_uid));
    assert_eq!(count(&h.sim.counters().certifications_deleted), 1);
    // Running it again (a retried after_commit) is harmless.
    WindowVerifier::after_commit(&client, &session, &work).await.unwrap();
    // Unreadable work is an error, not a panic.
    let error = WindowVerifier::after_commit(&client, &session, &ProviderState::new("{")).await.unwrap_err();
    assert!(matches!(error, Error::Indeterminate { .. }), "{error:?}");
}

#[tokio::test]
async fn v1_otp_confirm_leaves_the_certification_at_portone_until_after_commit() {
    let h = harness().await;
    let client = h.v1();
    let persona = personas::default_persona();
    let id = new_id();
    let dispatch = client.send(&OtpRequest::new(id.clone(), subject(persona), OtpChannel::Sms)).await.unwrap();
    let imp_uid = dispatch.provider_key.as_ref().unwrap().value.clone();
    let session = h.otp_session(ProviderId::PortoneV1, &id, dispatch);
    let OtpOutcome::Verified(completion) =
        client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap()
    else {
        panic!("not verified")
    };
    assert!(h.sim.has_certification(&imp_uid), "deleted before bonin stored the result");
    OtpVerifier::after_commit(&client, &session, &completion.after_commit.unwrap()).await.unwrap();
    assert!(!h.sim.has_certification(&imp_uid));
    assert_eq!(count(&h.sim.counters().certifications_deleted), 1);
}

#[tokio::test]
async fn v1_keeps_the_record_when_deletion_is_off_and_tolerates_missing_contract_fields() {
    let h = harness_with(PortoneSimConfig {
        carrier_approval: false,
        foreigner_contract: false,
        legacy_birth: true,
        ..PortoneSimConfig::default()
    })
    .await;
    let client = h.v1_with({
        let mut tweaked = h.v1_config();
        tweaked.delete_after_read = false;
        tweaked
    });
    let (session, callback) = h.v1_window(&client, Some("wilson")).await;
    let completion = client.complete(&session, &callback).await.unwrap();
    assert!(completion.after_commit.is_none(), "nothing to do after the commit");
    let identity = completion.identity;
    assert_eq!(identity.name.as_ref().unwrap().expose(), "EMMA WILSON");
    assert!(identity.phone.is_none() && identity.carrier.is_none(), "absent without carrier approval");
    assert_eq!(identity.nationality, None, "foreigner: false without foreigner_v2 means not contracted");
    assert!(client.certification(callback.get("imp_uid").unwrap()).await.unwrap().certified);
}

#[test]
fn v1_reads_the_legacy_birth_when_birthday_is_absent() {
    let certification: Certification = serde_json::from_value(json!({
        "imp_uid": "imp_1", "merchant_uid": "m", "certified": true, "name": "홍길동",
        // 1990-02-15 00:00 KST
        "birth": 635_007_600, "foreigner": true, "foreigner_v2": null, "carrier": "LGT_MVNO"
    }))
    .unwrap();
    let identity = certification.identity(time::OffsetDateTime::now_utc());
    assert_eq!(identity.birth_date.unwrap().yyyymmdd(), "19900215");
    assert_eq!(identity.nationality, Some(Nationality::Foreign));
    assert_eq!(identity.carrier, Some(Carrier::LguMvno));
    let debug = format!("{certification:?}");
    assert!(!debug.contains("홍길동") && !debug.contains("635007600"), "{debug}");
}

#[tokio::test]
async fn v1_refuses_a_certification_made_for_another_session() {
    let h = harness().await;
    let client = h.v1();
    let (session, _) = h.v1_window(&client, Some("hong")).await;
    let (_, other_callback) = h.v1_window(&client, Some("hong")).await;
    // The other session's imp_uid, with or without its merchant_uid in the callback.
    let error = client.complete(&session, &other_callback).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
    let stripped = CallbackParams::new(CallbackTransport::Get).with("imp_uid", other_callback.get("imp_uid").unwrap());
    let error = client.complete(&session, &stripped).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
    let polluted = other_callback.clone().with("imp_uid", "imp_000");
    assert!(matches!(client.complete(&session, &polluted).await.unwrap_err(), Error::IntegrityMismatch { .. }));
    // An imp_uid PortOne does not know says nothing about this verification.
    let unknown = CallbackParams::new(CallbackTransport::Get).with("imp_uid", "imp_does_not_exist");
    let error = client.complete(&session, &unknown).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "http404:-1"), "{error:?}");
}

/// Someone who knows a pending verification's id (its `merchant_uid`) opens `IMP.certification`
/// with it, closes the window and posts the uncertified `imp_uid` to the open landing. PortOne
/// holds a record for the right `merchant_uid`, but nothing in it says the person being verified
/// gave up: the verification must stay open, and the real person must still be able to finish.
#[tokio::test]
async fn v1_an_uncertified_certification_posted_to_the_landing_does_not_end_the_verification() {
    let h = harness().await;
    let client = h.v1();
    let id = new_id();
    let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let session = h.window_session(ProviderId::PortoneV1, &id, &start);
    let launch = v1_launch(&start.launch);
    // The attacker's window: the victim's merchant_uid and the public merchant code and channel
    // key, cancelled.
    let attacker = json!({"merchant_uid": id.as_str(), "channelKey": sim::SANDBOX_V1_CHANNEL_KEY,
                          "m_redirect_url": "https://attacker.example/"});
    let forged = callback_of(h.sim.complete_v1_window(&launch.merchant_code, &attacker, None).unwrap());
    let error = client.complete(&session, &forged).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "error_code:F0000"), "{error:?}");
    // Without the browser's error_code, the record's state names it.
    let bare = CallbackParams::new(CallbackTransport::Get).with("imp_uid", forged.get("imp_uid").unwrap());
    let error = client.complete(&session, &bare).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "certified:false"), "{error:?}");
    // A code PortOne returns for a browser-chosen imp_uid is no verdict on this verification either.
    h.server.faults().inject("/certifications/{imp_uid}", Fault::provider_code("1"), Times::Once);
    let error = client.complete(&session, &bare).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "lookup:1"), "{error:?}");
    // The person then verifies in their own window.
    let mine = callback_of(
        h.sim
            .complete_v1_window(&launch.merchant_code, &serde_json::to_value(&launch.params).unwrap(), Some("hong"))
            .unwrap(),
    );
    let completion = client.complete(&session, &mine).await.unwrap();
    assert_identity(&completion.identity, personas::default_persona(), ProviderId::PortoneV1);
}

#[tokio::test]
async fn v1_cancel_and_min_age_are_unconfirmed_with_the_browser_code() {
    let h = harness().await;
    let client = h.v1();
    let (session, callback) = h.v1_window(&client, None).await;
    assert_eq!(callback.get("success"), Some("false"));
    let error = client.complete(&session, &callback).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "error_code:F0000"), "{error:?}");

    let id = new_id();
    let start = client
        .start(&WindowRequest::new(id.clone(), "https://shop.example/return").with_min_age(Some(30)))
        .await
        .unwrap();
    let launch = v1_launch(&start.launch);
    assert_eq!(launch.params.min_age, Some(30));
    let outcome = h.sim.complete_v1_window(
        &launch.merchant_code,
        &serde_json::to_value(&launch.params).unwrap(),
        Some("kim-mvno"),
    );
    let callback = callback_of(outcome.unwrap());
    let error = client.complete(&h.window_session(ProviderId::PortoneV1, &id, &start), &callback).await.unwrap_err();
    assert!(matches!(error, Error::Unconfirmed { .. }), "{error:?}");
}

/// PortOne may answer 404 for a certification that is not certified (an unconfirmed OTP request,
/// a cancelled window) instead of the record with `certified: false`.
#[tokio::test]
async fn v1_an_uncertified_certification_that_reads_back_as_404_is_not_certified() {
    let h = harness_with(PortoneSimConfig { uncertified_as_not_found: true, ..PortoneSimConfig::default() }).await;
    let client = h.v1();
    // OTP: a refused confirm re-reads the certification; 404 there is a wrong code, not bad input.
    let persona = personas::default_persona();
    let id = new_id();
    let dispatch = client.send(&OtpRequest::new(id.clone(), subject(persona), OtpChannel::Sms)).await.unwrap();
    let session = h.otp_session(ProviderId::PortoneV1, &id, dispatch);
    match client.confirm(&session, Some(OtpCode::new("000000").unwrap())).await.unwrap() {
        OtpOutcome::WrongCode { provider_code, .. } => assert_eq!(provider_code, "1"),
        other => panic!("{other:?}"),
    }
    let session = session.otp_rejected(h.clock.now(), None).unwrap();
    let outcome = client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap();
    assert!(matches!(outcome, OtpOutcome::Verified(_)), "{outcome:?}");
    // Window: a cancelled window's imp_uid reads as 404; the browser's code is kept.
    let (session, callback) = h.v1_window(&client, None).await;
    let error = client.complete(&session, &callback).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "error_code:F0000"), "{error:?}");
}

// --- V1 token ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v1_a_thousand_concurrent_lookups_on_a_cold_cache_cause_one_get_token() {
    let h = harness_with(PortoneSimConfig { business_errors_as_200: true, ..PortoneSimConfig::default() }).await;
    let client = Arc::new(h.v1_with({
        let mut tweaked = h.v1_config();
        tweaked.delete_after_read = false;
        tweaked
    }));
    let (_, callback) = h.v1_window(&client, Some("hong")).await;
    let imp_uid = callback.get("imp_uid").unwrap().to_owned();
    assert_eq!(count(&h.sim.counters().get_token), 0, "the window needs no token");
    let burst = |n: usize| {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let client = client.clone();
                let imp_uid = imp_uid.clone();
                tokio::spawn(async move { client.certification(&imp_uid).await.map(|c| c.certified) })
            })
            .collect();
        async move {
            for task in tasks {
                assert!(task.await.unwrap().unwrap());
            }
        }
    };
    burst(1000).await;
    assert_eq!(count(&h.sim.counters().get_token), 1);
    let first = client.access_token().await.unwrap().expose_secret().to_owned();

    // 29 min 10 s later both clocks are inside the token's last minute: one getToken, which extends
    // the same token by five minutes.
    h.clock.advance(Duration::from_secs(1750));
    h.sim.advance(Duration::from_secs(1750));
    burst(1000).await;
    assert_eq!(count(&h.sim.counters().get_token), 2, "exactly one more getToken");
    assert_eq!(count(&h.sim.counters().tokens_issued), 1, "the same token, extended");
    assert_eq!(client.access_token().await.unwrap().expose_secret(), first);
    burst(100).await;
    assert_eq!(count(&h.sim.counters().get_token), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn v1_a_401_mid_flight_refreshes_once_and_the_calls_succeed() {
    let h = harness().await;
    let client = Arc::new(h.v1_with({
        let mut tweaked = h.v1_config();
        tweaked.delete_after_read = false;
        tweaked
    }));
    let (_, callback) = h.v1_window(&client, Some("hong")).await;
    let imp_uid = callback.get("imp_uid").unwrap().to_owned();
    client.certification(&imp_uid).await.unwrap();
    h.sim.revoke_v1_tokens();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (client, imp_uid) = (client.clone(), imp_uid.clone());
            tokio::spawn(async move { client.certification(&imp_uid).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count(&h.sim.counters().get_token), 2, "one refresh for every refused caller");
    assert_eq!(count(&h.sim.counters().tokens_issued), 2);
    assert!(count(&h.sim.counters().v1_unauthorized) >= 1);
}

#[tokio::test]
async fn v1_bad_credentials_are_misconfigured_without_the_secret() {
    let h = harness().await;
    let client = h.v1_with({
        let mut tweaked = h.v1_config();
        tweaked.imp_secret = SecretString::from("wrong-secret-value");
        tweaked
    });
    let error = client.access_token().await.unwrap_err();
    assert!(matches!(error, Error::Misconfigured { .. }), "{error:?}");
    let text = format!("{error} {error:?} {client:?}");
    assert!(!text.contains("wrong-secret-value") && !text.contains(sim::SANDBOX_IMP_SECRET), "{text}");
}

// --- V1 envelope ---

#[tokio::test]
async fn v1_envelope_failures_keep_the_code_and_never_the_body() {
    let h = harness().await;
    let client = h.v1_with({
        let mut tweaked = h.v1_config();
        tweaked.delete_after_read = false;
        tweaked
    });
    let (_, callback) = h.v1_window(&client, Some("hong")).await;
    let imp_uid = callback.get("imp_uid").unwrap();
    let path = "/certifications/{imp_uid}";
    // HTTP 200 with a non-zero code.
    h.server.faults().inject(path, Fault::provider_code("7"), Times::Once);
    let error = client.certification(imp_uid).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "7"), "{error:?}");
    // 5xx on a GET: unavailable (retryable).
    h.server.faults().inject(path, Fault::status(503), Times::Once);
    assert!(matches!(client.certification(imp_uid).await.unwrap_err(), Error::Unavailable { .. }));
    // Not an envelope.
    h.server.faults().inject(path, Fault::Malformed, Times::Once);
    assert!(matches!(client.certification(imp_uid).await.unwrap_err(), Error::Protocol { .. }));
    h.server.faults().inject(path, Fault::Truncated, Times::Once);
    assert!(matches!(client.certification(imp_uid).await.unwrap_err(), Error::Protocol { .. }));
    // The typed reading of each shape.
    let check = |status: u16, body: &str| V1Error::check(&HttpResponse::new(status, body.as_bytes().to_vec()));
    assert!(matches!(
        check(404, r#"{"code":-1,"message":"인증결과가 존재하지 않습니다.","response":null}"#),
        Err(V1Error::NotFound { .. })
    ));
    assert!(matches!(check(401, "no envelope"), Err(V1Error::Unauthorized { body: None })));
    assert!(matches!(check(200, r#"{"code":1,"message":"x","response":null}"#), Err(V1Error::Api { code: 1, .. })));
    assert!(matches!(
        check(400, r#"{"code":1,"message":"x","response":null}"#),
        Err(V1Error::Http { status: 400, code: Some(1), .. })
    ));
    assert!(matches!(check(200, r#"{"code":0,"message":null,"response":null}"#), Err(V1Error::Decode { status: 200 })));
    assert!(check(200, r#"{"code":0,"response":{"imp_uid":"imp_1"}}"#).is_ok());
}

// --- V1 OTP ---

#[tokio::test]
async fn v1_otp_wrong_then_right_code() {
    let h = harness().await;
    let client = h.v1();
    let persona = personas::by_key("kim-mvno").unwrap();
    let id = new_id();
    let dispatch = client.send(&OtpRequest::new(id.clone(), subject(persona), OtpChannel::Sms)).await.unwrap();
    assert!(dispatch.provider_key.is_some());
    assert_eq!(h.sim.sent_codes().last().unwrap(), &(persona.phone.to_owned(), persona.otp.to_owned()));
    let session = h.otp_session(ProviderId::PortoneV1, &id, dispatch);
    match client.confirm(&session, Some(OtpCode::new("000000").unwrap())).await.unwrap() {
        OtpOutcome::WrongCode { provider_code, .. } => assert_eq!(provider_code, "1"),
        other => panic!("{other:?}"),
    }
    let session = session.otp_rejected(h.clock.now(), None).unwrap();
    let OtpOutcome::Verified(completion) =
        client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap()
    else {
        panic!("not verified")
    };
    assert_identity(&completion.identity, persona, ProviderId::PortoneV1);
    assert!(matches!(client.resend(&session).await.unwrap_err(), Error::InvalidInput { .. }));
}

#[tokio::test]
async fn v1_otp_details_that_match_no_subscriber_are_rejected_as_http_200_code_1_or_400() {
    for as_200 in [true, false] {
        let h = harness_with(PortoneSimConfig { business_errors_as_200: as_200, ..PortoneSimConfig::default() }).await;
        let client = h.v1();
        let mut wrong = subject(personas::default_persona());
        wrong.carrier = Carrier::Kt;
        let error = client.send(&OtpRequest::new(new_id(), wrong, OtpChannel::Sms)).await.unwrap_err();
        let expected = if as_200 { "1" } else { "http400:1" };
        assert!(matches!(&error, Error::Rejected { code, .. } if code == expected), "{error:?}");
        assert!(!format!("{error:?}").contains(personas::default_persona().phone));
    }
}

#[tokio::test]
async fn v1_a_confirm_whose_answer_was_lost_is_recovered_from_the_record() {
    let h = harness().await;
    let client = h.v1_with({
        let mut tweaked = h.v1_config();
        tweaked.delete_after_read = false;
        tweaked
    });
    let persona = personas::default_persona();
    let id = new_id();
    let dispatch = client.send(&OtpRequest::new(id.clone(), subject(persona), OtpChannel::Sms)).await.unwrap();
    let session = h.otp_session(ProviderId::PortoneV1, &id, dispatch);
    // The first confirm is applied, but its answer is cut in half.
    h.server.faults().inject("/certifications/otp/confirm/{imp_uid}", Fault::Truncated, Times::Once);
    assert!(client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.is_err());
    // Confirming again gets "already certified" (400); the record says certified.
    let outcome = client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap();
    assert!(matches!(outcome, OtpOutcome::Verified(_)), "{outcome:?}");
}

// --- V2 window ---

#[tokio::test]
async fn v2_window_verifies_every_persona() {
    let h = harness().await;
    let client = h.v2();
    for persona in personas::ALL.iter() {
        let (session, callback) = h.v2_window(&client, Some(persona.key)).await;
        let completion = client.complete(&session, &callback).await.unwrap();
        assert_identity(&completion.identity, persona, ProviderId::PortoneV2);
    }
}

#[tokio::test]
async fn v2_ready_is_not_yet_and_a_browser_code_is_unconfirmed() {
    let h = harness().await;
    let client = h.v2();
    let (session, callback) = h.v2_window(&client, None).await;
    let error = client.complete(&session, &callback).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "FAILURE_TYPE_PG"), "{error:?}");
    // The same READY record without a failure code: not finished, the session stays open.
    let bare = CallbackParams::new(CallbackTransport::Get).with("identityVerificationId", session.id().as_str());
    let error = client.complete(&session, &bare).await.unwrap_err();
    assert!(matches!(error, Error::Indeterminate { .. }), "{error:?}");
    // Someone else's id in the callback.
    let other = CallbackParams::new(CallbackTransport::Get).with("identityVerificationId", "vfother");
    assert!(matches!(client.complete(&session, &other).await.unwrap_err(), Error::IntegrityMismatch { .. }));
    // An id PortOne never saw.
    let id = new_id();
    let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let never = h.window_session(ProviderId::PortoneV2, &id, &start);
    let error = client.complete(&never, &CallbackParams::new(CallbackTransport::Get)).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
}

/// The landing is open: whoever knows a pending id can post `code=…` for it. While PortOne's own
/// record is `READY` that is only the browser's word; it must not end the verification.
#[tokio::test]
async fn v2_a_forged_failure_code_while_portone_says_ready_does_not_end_the_verification() {
    let h = harness().await;
    let client = h.v2();
    let id = new_id();
    let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let session = h.window_session(ProviderId::PortoneV2, &id, &start);
    let launch = v2_launch(&start.launch);
    let mut params = serde_json::to_value(&launch.params).unwrap();
    params["forceRedirect"] = json!(true);
    // The person opened the window (PortOne's record is READY); someone else posts a failure.
    h.sim.complete_v2_window(&params, None).unwrap();
    let forged = CallbackParams::new(CallbackTransport::Get)
        .with("identityVerificationId", id.as_str())
        .with("code", "IDENTITY_VERIFICATION_FAILED")
        .with("message", "홍길동 010-1234-5678");
    let error = client.complete(&session, &forged).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "IDENTITY_VERIFICATION_FAILED"), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("010-1234-5678"), "the browser's message is not kept");
    // The person finishes in their window.
    let mine = callback_of(h.sim.complete_v2_window(&params, Some("hong")).unwrap());
    let completion = client.complete(&session, &mine).await.unwrap();
    assert_identity(&completion.identity, personas::default_persona(), ProviderId::PortoneV2);
}

#[tokio::test]
async fn v2_a_failed_attempt_is_kept_with_the_pg_code_and_leaves_the_verification_open() {
    let h = harness().await;
    let client = h.v2();
    let id = new_id();
    let mut wrong = subject(personas::default_persona());
    wrong.name = Name::new("다른사람").unwrap();
    let request =
        OtpRequest::new(id.clone(), wrong, OtpChannel::Sms).with_client_ip(Some("203.0.113.7".parse().unwrap()));
    let error = client.send(&request).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "PG_PROVIDER:SIM0101"), "{error:?}");
    let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let session = h.window_session(ProviderId::PortoneV2, &id, &start);
    let error = client.complete(&session, &CallbackParams::new(CallbackTransport::Get)).await.unwrap_err();
    // Anyone with the id could have made that attempt; PortOne takes further attempts until one is
    // VERIFIED, so the verification stays open.
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "FAILED:SIM0101"), "{error:?}");
}

/// On a PC, `requestIdentityVerification` resolves a Promise instead of redirecting unless it is
/// given `forceRedirect: true`; without it the browser never reaches bonin's landing.
#[tokio::test]
async fn v2_launch_forces_the_redirect_to_the_landing() {
    let h = harness().await;
    let client = h.v2();
    let id = new_id();
    let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let launch = v2_launch(&start.launch);
    let params = serde_json::to_value(&launch.params).unwrap();
    assert_eq!(params["forceRedirect"], json!(true), "{params}");
    assert_eq!(params["redirectUrl"], json!("https://shop.example/return"));
    let outcome = h.sim.complete_v2_window(&params, Some("hong")).unwrap();
    assert!(matches!(&outcome, WindowOutcome::Redirect(url) if url.starts_with("https://shop.example/return?")));
    // The simulated desktop SDK without forceRedirect: the result stays in the page's Promise.
    let mut promise = params.clone();
    promise.as_object_mut().unwrap().remove("forceRedirect");
    promise["identityVerificationId"] = json!(new_id().as_str());
    assert!(matches!(h.sim.complete_v2_window(&promise, Some("hong")).unwrap(), WindowOutcome::Callback(_)));
}

/// `min_age` reaches Danal as `bypass.danal.AGELIMIT` (V1 passes it as `min_age`).
#[tokio::test]
async fn v2_min_age_reaches_danal_as_agelimit() {
    let h = harness().await;
    let client = h.v2();
    let start_with = |min_age: Option<u8>| {
        let id = new_id();
        let request = WindowRequest::new(id.clone(), "https://shop.example/return").with_min_age(min_age);
        let client = &client;
        async move { (id, client.start(&request).await.unwrap()) }
    };
    let (_, plain) = start_with(None).await;
    let launch = v2_launch(&plain.launch);
    assert!(serde_json::to_value(&launch.params).unwrap().get("bypass").is_none());
    for (persona, verified) in [("kim-mvno", false), ("hong", true)] {
        let (id, start) = start_with(Some(30)).await;
        let launch = v2_launch(&start.launch);
        let params = serde_json::to_value(&launch.params).unwrap();
        assert_eq!(params.pointer("/bypass/danal/AGELIMIT"), Some(&json!(30)), "{params}");
        let mut redirected = params.clone();
        redirected["forceRedirect"] = json!(true);
        let callback = callback_of(h.sim.complete_v2_window(&redirected, Some(persona)).unwrap());
        let outcome = client.complete(&h.window_session(ProviderId::PortoneV2, &id, &start), &callback).await;
        if verified {
            assert!(outcome.is_ok(), "{persona}: {outcome:?}");
        } else {
            // PortOne's record says FAILED; bonin's own age check still stands behind it.
            let error = outcome.unwrap_err();
            assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "FAILED:SIM0401"), "{error:?}");
        }
    }
}

// --- V2 OTP ---

fn v2_request(id: &VerificationId, persona: &Persona) -> OtpRequest {
    OtpRequest::new(id.clone(), subject(persona), OtpChannel::Sms).with_client_ip(Some("203.0.113.7".parse().unwrap()))
}

#[tokio::test]
async fn v2_otp_send_resend_wrong_and_right_code() {
    let h = harness().await;
    let client = h.v2();
    let persona = personas::by_key("lee-cp949").unwrap();
    let id = new_id();
    let dispatch = client.send(&v2_request(&id, persona)).await.unwrap();
    // The same send again (a retry) is replayed, not refused as already sent.
    client.send(&v2_request(&id, persona)).await.unwrap();
    assert_eq!(count(&h.sim.counters().codes_sent), 1);
    assert_eq!(count(&h.sim.counters().v2_replays), 1);
    let session = h.otp_session(ProviderId::PortoneV2, &id, dispatch);
    let resent = client.resend(&session).await.unwrap();
    let session = session.otp_resent(h.clock.now(), resent.provider_state).unwrap();
    assert_eq!(count(&h.sim.counters().codes_sent), 2);
    match client.confirm(&session, Some(OtpCode::new("000000").unwrap())).await.unwrap() {
        OtpOutcome::WrongCode { provider_code, .. } => assert_eq!(provider_code, "PG_PROVIDER:SIM0201"),
        other => panic!("{other:?}"),
    }
    let session = session.otp_rejected(h.clock.now(), None).unwrap();
    let OtpOutcome::Verified(completion) =
        client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap()
    else {
        panic!("not verified")
    };
    assert_identity(&completion.identity, persona, ProviderId::PortoneV2);
    // A send on a verified id.
    let mut other = persona.to_owned();
    other.otp = "999999";
    let error = client.send(&OtpRequest::new(id.clone(), subject(&other), OtpChannel::Lms)).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "lms is not a V2 method: {error:?}");
    let error = client
        .send(
            &OtpRequest::new(id.clone(), subject(persona), OtpChannel::App)
                .with_client_ip(Some("203.0.113.9".parse().unwrap())),
        )
        .await
        .unwrap_err();
    assert_eq!(error, Error::AlreadyCompleted);
    let error = client.send(&OtpRequest::new(new_id(), subject(persona), OtpChannel::Sms)).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "no client IP: {error:?}");
}

#[tokio::test]
async fn v2_a_confirm_retried_after_a_timeout_is_applied_once() {
    let h = harness().await;
    let client = h.v2_with({
        let mut tweaked = h.v2_config();
        tweaked.timeout_secs = 1;
        tweaked
    });
    let persona = personas::default_persona();
    let id = new_id();
    let dispatch = client.send(&v2_request(&id, persona)).await.unwrap();
    let session = h.otp_session(ProviderId::PortoneV2, &id, dispatch);
    // The PG takes 1.5 s: the first attempt times out after 1 s, the retry meets the first still in
    // flight (409 IDEMPOTENCY_OUTSTANDING_REQUEST), a later one gets the stored answer.
    h.sim.set_pg_latency(Some(Duration::from_millis(1500)));
    let outcome = client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap();
    h.sim.set_pg_latency(None);
    assert!(matches!(outcome, OtpOutcome::Verified(_)), "{outcome:?}");
    assert_eq!(count(&h.sim.counters().v2_confirms_applied), 1, "applied once");
    assert!(count(&h.sim.counters().v2_replays) >= 1, "the answer came from the idempotency store");
    // Without the key's replay (a new session version), PortOne says already verified and the
    // adapter reads the record instead.
    let later = session.otp_rejected(h.clock.now(), None).unwrap();
    let outcome = client.confirm(&later, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap();
    assert!(matches!(outcome, OtpOutcome::Verified(_)), "{outcome:?}");
    assert_eq!(count(&h.sim.counters().v2_confirms_applied), 1);
}

#[tokio::test]
async fn v2_every_error_type_maps_and_unknown_types_are_kept() {
    let h = harness_with(PortoneSimConfig { max_sends: 1, ..PortoneSimConfig::default() }).await;
    let persona = personas::default_persona();
    // UNAUTHORIZED, FORBIDDEN, CHANNEL_NOT_FOUND: configuration.
    for config in [
        {
            let mut tweaked = h.v2_config();
            tweaked.api_secret = SecretString::from("not-the-secret");
            tweaked
        },
        {
            let mut tweaked = h.v2_config();
            tweaked.store_id = "store-someone-else".into();
            tweaked
        },
        {
            let mut tweaked = h.v2_config();
            tweaked.channel_key = "channel-key-unknown".into();
            tweaked
        },
    ] {
        let error = h.v2_with(config).send(&v2_request(&new_id(), persona)).await.unwrap_err();
        assert!(matches!(error, Error::Misconfigured { .. }), "{error:?}");
        assert!(!format!("{error:?}").contains("not-the-secret"));
    }
    let client = h.v2();
    // NOT_SENT: confirm and resend before send.
    let id = new_id();
    let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    h.sim.complete_v2_window(&serde_json::to_value(&v2_launch(&start.launch).params).unwrap(), None).unwrap();
    let session = h.otp_session(ProviderId::PortoneV2, &id, OtpDispatch::new(start.provider_state.clone()));
    let error = client.confirm(&session, Some(OtpCode::new("123456").unwrap())).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "IDENTITY_VERIFICATION_NOT_SENT"), "{error:?}");
    let error = client.resend(&session).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "IDENTITY_VERIFICATION_NOT_SENT"), "{error:?}");
    // ALREADY_SENT: a second, different send while one is pending.
    let id = new_id();
    client.send(&v2_request(&id, persona)).await.unwrap();
    let error = client
        .send(
            &OtpRequest::new(id.clone(), subject(persona), OtpChannel::App)
                .with_client_ip(Some("203.0.113.8".parse().unwrap())),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Rejected { code, .. } if code == "IDENTITY_VERIFICATION_ALREADY_SENT"),
        "{error:?}"
    );
    // MAX_TRANSACTION_COUNT_REACHED: the one allowed send failed at the PG; another is refused.
    let id = new_id();
    let mut wrong = subject(persona);
    wrong.name = Name::new("다른사람").unwrap();
    let wrong_request =
        OtpRequest::new(id.clone(), wrong, OtpChannel::Sms).with_client_ip(Some("203.0.113.7".parse().unwrap()));
    assert!(client.send(&wrong_request).await.is_err());
    let error = client.send(&v2_request(&id, persona)).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "MAX_TRANSACTION_COUNT_REACHED"), "{error:?}");
    // The typed reading, including INVALID_REQUEST and a type bonin does not know.
    let parse =
        |status: u16, body: Value| V2Error::parse(&HttpResponse::new(status, body.to_string().into_bytes())).unwrap();
    assert_eq!(parse(400, json!({"type": "INVALID_REQUEST", "message": "m"})).kind, V2ErrorType::InvalidRequest);
    let unknown = parse(418, json!({"type": "BRAND_NEW_TYPE", "message": "m", "extra": 1}));
    assert_eq!(unknown.kind, V2ErrorType::Unknown("BRAND_NEW_TYPE".into()));
    assert!(matches!(unknown.into_error(), Error::Rejected { code, .. } if code == "BRAND_NEW_TYPE"));
    let pg = parse(502, json!({"type": "PG_PROVIDER", "pgCode": "9015", "pgMessage": "가맹점 정보 오류"}));
    assert!(
        matches!(pg.into_error(), Error::Rejected { code, message: Some(m), .. } if code == "PG_PROVIDER:9015" && m == "가맹점 정보 오류")
    );
    assert!(matches!(
        parse(409, json!({"type": "IDEMPOTENCY_OUTSTANDING_REQUEST"})).into_error(),
        Error::Indeterminate { .. }
    ));
    assert!(V2Error::parse(&HttpResponse::new(500, b"<html>".to_vec())).is_none());
    // Faults: a 5xx without a body on GET is unavailable; a hang on confirm is indeterminate.
    let id = new_id();
    let start = client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let session = h.window_session(ProviderId::PortoneV2, &id, &start);
    h.server.faults().inject("/identity-verifications/{id}", Fault::status(503), Times::Once);
    let error = client.complete(&session, &CallbackParams::new(CallbackTransport::Get)).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
}

#[test]
fn idempotency_keys_are_rfc_8941_strings_stable_per_request() {
    let id = VerificationId::generate(&OsRng).unwrap();
    let a = idempotency_key(&id, "confirm", 3, b"{\"otp\":\"123456\"}");
    assert_eq!(a, idempotency_key(&id, "confirm", 3, b"{\"otp\":\"123456\"}"));
    assert_ne!(a, idempotency_key(&id, "confirm", 4, b"{\"otp\":\"123456\"}"));
    assert_ne!(a, idempotency_key(&id, "confirm", 3, b"{\"otp\":\"654321\"}"));
    assert!(a.starts_with('"') && a.ends_with('"'));
    let inner = &a[1..a.len() - 1];
    assert!((16..=256).contains(&inner.len()) && inner.is_ascii() && !inner.contains("123456"));
}

// --- Webhooks ---

#[tokio::test]
async fn the_simulators_signed_webhooks_verify_with_ours() {
    let h = harness().await;
    let body =
        r#"{"type":"Transaction.Paid","timestamp":"2026-11-23T00:00:00Z","data":{"storeId":"s","paymentId":"p"}}"#;
    let (headers, body) = h.sim.signed_webhook(body);
    let verifier = WebhookVerifier::new(&h.sim.config().webhook_secret).unwrap();
    let now = time::OffsetDateTime::now_utc();
    verifier.verify(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), body.as_bytes(), now).unwrap();
    let tampered = body.replace("\"p\"", "\"q\"");
    assert_eq!(
        verifier.verify(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())), tampered.as_bytes(), now),
        Err(WebhookError::InvalidSignature)
    );
}

#[tokio::test]
async fn webhook_secrets_without_base64_padding_are_accepted() {
    // "c2FuZGJveC13ZWJob29rLXNlY3JldC1mb3ItYm9uaW4=" without its padding, as PortOne's SDKs take it.
    let secret = sim::SANDBOX_WEBHOOK_SECRET.trim_end_matches('=').to_owned();
    let h = harness_with(PortoneSimConfig { webhook_secret: secret.clone(), ..PortoneSimConfig::default() }).await;
    let (headers, body) = h.sim.signed_webhook(r#"{"type":"Transaction.Paid","data":{}}"#);
    let now = time::OffsetDateTime::now_utc();
    let headers = || headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    WebhookVerifier::new(&secret).unwrap().verify(headers(), body.as_bytes(), now).unwrap();
    WebhookVerifier::new(sim::SANDBOX_WEBHOOK_SECRET).unwrap().verify(headers(), body.as_bytes(), now).unwrap();
}

// --- Hostile answers ---

/// An access token that cannot be sent in a header, or a lifetime no PortOne token has, is a
/// protocol error or capped, never a broken request or a cache entry that outlives the calendar.
#[tokio::test]
async fn v1_get_token_answers_that_cannot_be_used_are_refused_or_capped() {
    use std::sync::Mutex;
    let answer = Arc::new(Mutex::new(String::new()));
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let client = {
        let answer = answer.clone();
        let transport = bonin_adapters_http::FnTransport::new(move |request: &bonin_adapters_http::HttpRequest| {
            let body = if request.url.ends_with("/users/getToken") {
                answer.lock().unwrap().clone()
            } else {
                json!({"code": 0, "response": {"imp_uid": "imp_1", "certified": false}}).to_string()
            };
            Ok(HttpResponse::new(200, body.into_bytes()))
        });
        let http = HttpClient::new(ProviderId::PortoneV1, Arc::new(transport), RetryPolicy::NONE);
        let mut config = PortoneV1Config::new("key", SecretString::from("secret"), "imp00000000")
            .with_endpoints("https://portone.test", "https://portone.test/v1.js");
        config.channel_key = Some("channel".into());
        PortoneV1Client::new(config, http, clock.clone()).unwrap()
    };
    let token = |value: &str, now: i64, expired_at: i64| {
        json!({"code": 0, "response": {"access_token": value, "now": now, "expired_at": expired_at}}).to_string()
    };
    for bad in ["XyZ\nq", "XyZ q", "토큰XyZ", "XyZ\u{0}q", "XyZ\u{7f}"] {
        *answer.lock().unwrap() = token(bad, 0, 1800);
        let error = client.access_token().await.unwrap_err();
        assert!(matches!(error, Error::Protocol { .. }), "{bad:?}: {error:?}");
        assert!(!format!("{error} {error:?}").contains("XyZ"), "the token stays out of the error");
    }
    // A lifetime of 292 billion years: used, but not cached for longer than an hour.
    *answer.lock().unwrap() = token("good-token", i64::MIN, i64::MAX);
    client.certification("imp_1").await.unwrap();
    assert_eq!(client.token_stats().fetches, 6);
    clock.advance(Duration::from_secs(3600));
    client.certification("imp_1").await.unwrap();
    assert_eq!(client.token_stats().fetches, 7, "the token was fetched again after an hour");
}

/// The time PortOne says a person was verified becomes a UTC time bonin can store, whatever it is.
#[test]
fn verified_times_from_portone_are_always_storable() {
    let now = time::OffsetDateTime::now_utc();
    for certified_at in [-377_705_116_800i64, -1, 253_402_300_799, i64::MIN, i64::MAX] {
        let certification: Certification = serde_json::from_value(json!({
            "imp_uid": "imp_1", "certified": true, "certified_at": certified_at,
        }))
        .unwrap();
        let identity = certification.identity(now);
        assert!(serde_json::to_string(&identity).is_ok(), "{certified_at}");
        assert_eq!(identity.verified_at.offset(), time::UtcOffset::UTC);
    }
    for at in ["0000-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2026-01-01T09:00:00+09:00"] {
        let record = json!({"status": "VERIFIED", "verifiedAt": at, "verifiedCustomer": {"name": "홍길동"}});
        let IdentityVerification::Verified(identity) = IdentityVerification::from_json(&record, now).unwrap() else {
            panic!()
        };
        assert!(serde_json::to_string(&identity).is_ok(), "{at}");
        assert_eq!(identity.verified_at.offset(), time::UtcOffset::UTC, "{at}");
        assert!((1970..=9999).contains(&identity.verified_at.year()), "{at}");
    }
}

// --- Nothing leaks ---

#[tokio::test]
async fn debug_output_of_clients_and_records_holds_no_secret_or_personal_data() {
    let h = harness().await;
    let v1 = h.v1();
    let v2 = h.v2();
    let (session, callback) = h.v2_window(&v2, Some("hong")).await;
    let record = v2.identity_verification(session.id().as_str()).await.unwrap();
    let (v1_session, v1_callback) = h.v1_window(&v1, Some("hong")).await;
    let completion = v1.complete(&v1_session, &v1_callback).await.unwrap();
    let text = format!("{v1:?} {v2:?} {record:?} {callback:?} {completion:?} {:?}", v1.access_token().await.unwrap());
    let persona = personas::default_persona();
    for secret in [sim::SANDBOX_IMP_SECRET, sim::SANDBOX_V2_SECRET, persona.name, persona.phone, persona.ci, persona.di]
    {
        assert!(!text.contains(secret), "leaked into Debug: {text}");
    }
}

// --- KCP channels ---

impl Harness {
    fn v1_kcp_config(&self) -> PortoneV1Config {
        let mut config = self.v1_config();
        config.channel_key = Some(sim::SANDBOX_V1_KCP_CHANNEL_KEY.into());
        config.pg_provider = Some("kcp_v2".into());
        config
    }

    fn v2_kcp_config(&self) -> PortoneV2Config {
        let mut config = self.v2_config();
        config.channel_key = sim::SANDBOX_V2_KCP_CHANNEL_KEY.into();
        config.pg_provider = Some("KCP_V2".into());
        config
    }
}

/// KCP needs `verification_method` and `bypass.kcpV2.media_type` on V1's `otp/request`; the
/// simulator refuses a request without them, as PortOne's KCP guide marks them required. Both
/// encodings of `bypass` go through.
#[tokio::test]
async fn v1_kcp_otp_requests_carry_the_verification_method_and_media_type() {
    let h = harness().await;
    for as_text in [false, true] {
        let client = h.v1_with({
            let mut tweaked = h.v1_kcp_config();
            tweaked.kcp_bypass_as_json_string = as_text;
            tweaked
        });
        let persona = personas::by_key("wilson").unwrap();
        let id = new_id();
        let dispatch = client.send(&OtpRequest::new(id.clone(), subject(persona), OtpChannel::Sms)).await.unwrap();
        let session = h.otp_session(ProviderId::PortoneV1, &id, dispatch);
        let OtpOutcome::Verified(completion) =
            client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap()
        else {
            panic!("not verified")
        };
        assert_identity(&completion.identity, persona, ProviderId::PortoneV1);
        // KCP's app method: no code is sent and none is typed.
        let id = new_id();
        let sent = h.sim.counters().codes_sent.load(std::sync::atomic::Ordering::SeqCst);
        let dispatch = client.send(&OtpRequest::new(id.clone(), subject(persona), OtpChannel::App)).await.unwrap();
        assert_eq!(count(&h.sim.counters().codes_sent), sent);
        let outcome = client.confirm(&h.otp_session(ProviderId::PortoneV1, &id, dispatch), None).await.unwrap();
        assert!(matches!(outcome, OtpOutcome::Verified(_)), "{outcome:?}");
    }
}

/// KCP needs `bypass.kcpV2.media_type` on V2's send.
#[tokio::test]
async fn v2_kcp_sends_carry_the_media_type() {
    let h = harness().await;
    let client = h.v2_with({
        let mut tweaked = h.v2_kcp_config();
        tweaked.kcp_media_type = "MC02".into();
        tweaked
    });
    let persona = personas::by_key("kim-mvno").unwrap();
    let id = new_id();
    let dispatch = client.send(&v2_request(&id, persona)).await.unwrap();
    let session = h.otp_session(ProviderId::PortoneV2, &id, dispatch);
    let OtpOutcome::Verified(completion) =
        client.confirm(&session, Some(OtpCode::new(persona.otp).unwrap())).await.unwrap()
    else {
        panic!("not verified")
    };
    assert_identity(&completion.identity, persona, ProviderId::PortoneV2);
}

/// A transport that answers like PortOne and keeps the JSON body of every call but getToken.
fn capturing() -> (HttpClient, HttpClient, Arc<std::sync::Mutex<Vec<Value>>>) {
    let seen: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let http = |provider: ProviderId| {
        let seen = seen.clone();
        let transport = bonin_adapters_http::FnTransport::new(move |request: &bonin_adapters_http::HttpRequest| {
            let answer = if request.url.ends_with("/users/getToken") {
                json!({"code": 0, "response": {"access_token": "t0ken", "now": 1_000, "expired_at": 2_800}})
            } else {
                seen.lock().unwrap().push(serde_json::from_slice::<Value>(&request.body).unwrap_or(Value::Null));
                json!({"code": 0, "response": {"imp_uid": "imp_1"}})
            };
            Ok(HttpResponse::new(200, answer.to_string().into_bytes()))
        });
        HttpClient::new(provider, Arc::new(transport), RetryPolicy::NONE)
    };
    (http(ProviderId::PortoneV1), http(ProviderId::PortoneV2), seen)
}

/// The OTP request bodies as sent: each configured KCP setting lands in `bypass.kcpV2` (V1: an
/// object, or JSON text when so configured), a KCP request always names its method, and a Danal
/// request is what it was (plus `CPTITLE` on V2 when a company is configured).
#[tokio::test]
async fn kcp_settings_reach_the_bypass_and_danal_requests_stay_as_they_were() {
    let (v1_http, v2_http, seen) = capturing();
    let last = || seen.lock().unwrap().last().cloned().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let persona = personas::default_persona();
    let kcp = json!({"kcpV2": {"media_type": "MC02", "web_siteid": "J0123", "cp_sms_msg": "[SHOP] [000000]",
        "cp_callback": "0215880000"}});
    let with_kcp_v1 = |mut config: PortoneV1Config| {
        config.kcp_media_type = "MC02".into();
        config.kcp_web_siteid = Some("J0123".into());
        config.kcp_sms_message = Some("[SHOP] [000000]".into());
        config.kcp_callback = Some("0215880000".into());
        config
    };
    let v1 = |config: PortoneV1Config| PortoneV1Client::new(config, v1_http.clone(), clock.clone()).unwrap();
    let base_v1 = || {
        let mut config = PortoneV1Config::new("key", SecretString::from("secret"), "imp00000000")
            .with_endpoints("https://portone.test", "https://portone.test/v1.js");
        config.channel_key = Some("channel".into());
        config
    };
    let sms = OtpRequest::new(new_id(), subject(persona), OtpChannel::Sms);

    v1(base_v1()).send(&sms).await.unwrap();
    let danal = last();
    assert!(danal.get("bypass").is_none() && danal.get("verification_method").is_none(), "{danal}");

    let kcp_v1 = with_kcp_v1({
        let mut tweaked = base_v1();
        tweaked.pg_provider = Some("kcp_v2".into());
        tweaked
    });
    v1(kcp_v1.clone()).send(&sms).await.unwrap();
    let body = last();
    assert_eq!((&body["verification_method"], &body["bypass"]), (&json!("SMS"), &kcp), "{body}");
    v1({
        let mut tweaked = kcp_v1;
        tweaked.kcp_bypass_as_json_string = true;
        tweaked
    })
    .send(&sms)
    .await
    .unwrap();
    let body = last();
    let text = body["bypass"].as_str().expect("JSON text");
    assert_eq!(serde_json::from_str::<Value>(text).unwrap(), kcp);

    let v2 = |config: PortoneV2Config| PortoneV2Client::new(config, v2_http.clone(), clock.clone()).unwrap();
    let base_v2 = || {
        PortoneV2Config::new(SecretString::from("secret"), "store-1", "channel")
            .with_endpoints("https://portone.test", "https://portone.test/v2.js")
    };
    let ip_sms = sms.clone().with_client_ip(Some("203.0.113.7".parse().unwrap()));
    v2(base_v2()).send(&ip_sms).await.unwrap();
    assert!(last().get("bypass").is_none(), "{}", last());
    v2({
        let mut tweaked = base_v2();
        tweaked.company = Some("shop.example".into());
        tweaked
    })
    .send(&ip_sms)
    .await
    .unwrap();
    assert_eq!(last()["bypass"], json!({"danal": {"CPTITLE": "shop.example"}}));
    let kcp_v2 = {
        let mut tweaked = base_v2();
        tweaked.pg_provider = Some("kcp_v2".into());
        tweaked.kcp_media_type = "MC02".into();
        tweaked.kcp_web_siteid = Some("J0123".into());
        tweaked.kcp_sms_message = Some("[SHOP] [000000]".into());
        tweaked.kcp_callback = Some("0215880000".into());
        tweaked.company = Some("shop.example".into());
        tweaked
    };
    v2(kcp_v2).send(&ip_sms).await.unwrap();
    assert_eq!(last()["bypass"], kcp, "only KCP's parameters reach a KCP channel");
}

/// KCP settings are checked when the configuration is read.
#[test]
fn kcp_settings_are_checked() {
    let v1 = || {
        let mut config = PortoneV1Config::new("key", SecretString::from("secret"), "imp00000000");
        config.channel_key = Some("channel".into());
        config
    };
    let v2 = || PortoneV2Config::new(SecretString::from("secret"), "store-1", "channel");
    assert!(v1().validate().is_ok() && v2().validate().is_ok());
    assert!(
        {
            let mut tweaked = v1();
            tweaked.kcp_media_type = "MC03".into();
            tweaked
        }
        .validate()
        .is_err()
    );
    assert!(
        {
            let mut tweaked = v2();
            tweaked.kcp_media_type = "pc".into();
            tweaked
        }
        .validate()
        .is_err()
    );
    assert!(
        {
            let mut tweaked = v2();
            tweaked.kcp_sms_message = Some("code".into());
            tweaked
        }
        .validate()
        .is_err()
    );
    assert!(
        {
            let mut tweaked = v2();
            tweaked.kcp_sms_message = Some("[SHOP] [000000]".into());
            tweaked
        }
        .validate()
        .is_ok()
    );
    // KCP through V1 takes a channel key only, never the deprecated `pg`.
    let pg_only = {
        let mut tweaked = v1();
        tweaked.channel_key = None;
        tweaked.pg = Some("danal.A010002002".into());
        tweaked
    };
    assert!(pg_only.validate().is_ok());
    assert!(
        {
            let mut tweaked = pg_only;
            tweaked.pg_provider = Some("kcp_v2".into());
            tweaked
        }
        .validate()
        .is_err()
    );
}

// --- What the caller already knows: prefill, customData, company ---

fn prefill_of(persona: &Persona) -> Prefill {
    Prefill::new()
        .with_name(Some(Name::new(persona.name).unwrap()))
        .with_phone(Some(PhoneNumber::new(persona.phone).unwrap()))
        .with_birth_date(Some(BirthDate::parse(persona.birth_date).unwrap()))
        .with_carrier(Some(persona.carrier))
}

/// The V2 window gets the caller's prefill as PortOne's `customer` (`fullName`, digits-only
/// `phoneNumber`, the birth date in three parts), which the PG fixes: someone else who completes
/// the window fails at the PG. The carrier becomes Danal's `IsCarrier`, `customData` is kept with
/// PortOne's record, and the configured company is Danal's `CPTITLE`.
#[tokio::test]
async fn v2_prefill_fixes_the_window_to_the_person_and_custom_data_is_kept() {
    let h = harness().await;
    let client = h.v2_with({
        let mut tweaked = h.v2_config();
        tweaked.company = Some("Shop Example".into());
        tweaked
    });
    let hong = personas::by_key("hong").unwrap();
    let start = |id: &VerificationId, prefill: Prefill| {
        let request = WindowRequest::new(id.clone(), "https://shop.example/return")
            .with_prefill(Some(prefill))
            .with_custom_data(Some(r#"{"member":"m-1"}"#.into()));
        let client = &client;
        async move { client.start(&request).await.unwrap() }
    };
    // Someone else in a window fixed to hong (whatever the carrier): PortOne's record fails.
    let id = new_id();
    let started = start(&id, prefill_of(hong).with_carrier(None)).await;
    let launch = v2_launch(&started.launch);
    let params = serde_json::to_value(&launch.params).unwrap();
    let callback = callback_of(h.sim.complete_v2_window(&params, Some("lee-cp949")).unwrap());
    let error = client.complete(&h.window_session(ProviderId::PortoneV2, &id, &started), &callback).await.unwrap_err();
    assert!(matches!(&error, Error::Unconfirmed { code, .. } if code == "FAILED:SIM0101"), "{error:?}");
    let record = h.sim.v2_identity_verification(sim::SANDBOX_STORE_ID, id.as_str()).unwrap();
    assert_eq!(record["customData"], r#"{"member":"m-1"}"#);
    assert_eq!(
        params["customer"],
        json!({"fullName": "홍길동", "phoneNumber": "01012345678", "birthYear": "1990", "birthMonth": "02",
               "birthDay": "15"}),
        "{params}"
    );
    assert_eq!(params["customData"], json!(r#"{"member":"m-1"}"#));
    // With the carrier, only that carrier is offered.
    let id = new_id();
    let started = start(&id, prefill_of(hong)).await;
    let launch = v2_launch(&started.launch);
    let params = serde_json::to_value(&launch.params).unwrap();
    assert!(h.sim.complete_v2_window(&params, Some("wilson")).is_err());
    assert_eq!(params["bypass"], json!({"danal": {"CPTITLE": "Shop Example", "IsCarrier": "SKT"}}));
    let callback = callback_of(h.sim.complete_v2_window(&params, Some("hong")).unwrap());
    let completion = client.complete(&h.window_session(ProviderId::PortoneV2, &id, &started), &callback).await.unwrap();
    assert_identity(&completion.identity, hong, ProviderId::PortoneV2);
    // customData is the caller's JSON text.
    let request = WindowRequest::new(new_id(), "https://shop.example/return").with_custom_data(Some("m-1".into()));
    assert!(matches!(client.start(&request).await, Err(Error::InvalidInput { .. })));
}

/// `IMP.certification` gets the caller's `name` and `phone` (the window fills them in), its
/// `carrier` as Danal's window names it (`KTF` for KT, `MVNO` for any MVNO), which limits the
/// carriers offered, and the configured `company` as the service name shown.
#[tokio::test]
async fn v1_prefill_fills_the_window_limits_the_carrier_and_names_the_service() {
    let h = harness().await;
    let client = h.v1_with({
        let mut tweaked = h.v1_config();
        tweaked.company = Some("Shop Example".into());
        tweaked
    });
    let wilson = personas::by_key("wilson").unwrap();
    let id = new_id();
    let request = WindowRequest::new(id.clone(), "https://shop.example/return").with_prefill(Some(prefill_of(wilson)));
    let started = client.start(&request).await.unwrap();
    let launch = v1_launch(&started.launch);
    let params = serde_json::to_value(&launch.params).unwrap();
    // The window as the browser opens it.
    let url = format!(
        "{}/_sandbox/portone/v1/window?merchant_code={}&params={}",
        h.server.base_url(),
        launch.merchant_code,
        bonin_adapters_http::encode_component(&params.to_string())
    );
    let browser = http(ProviderId::PortoneV1, RetryPolicy::NONE);
    let page = browser.send(bonin_adapters_http::HttpRequest::get("test.window", url)).await.unwrap();
    let page = String::from_utf8_lossy(&page.body).into_owned();
    assert!(page.contains(r#"value="wilson" checked>"#), "{page}");
    assert!(page.contains("서비스: Shop Example"), "{page}");
    // hong (SKT) cannot pick a carrier the window does not offer; wilson completes it.
    assert!(h.sim.complete_v1_window(&launch.merchant_code, &params, Some("hong")).is_err());
    assert_eq!(
        (&params["name"], &params["phone"], &params["carrier"], &params["company"]),
        (&json!("EMMA WILSON"), &json!("01098761234"), &json!("KTF"), &json!("Shop Example")),
        "{params}"
    );
    assert!(params.get("birth_date").is_none() && params.get("birthday").is_none(), "{params}");
    let mut redirected = params.clone();
    redirected["m_redirect_url"] = json!("https://shop.example/return");
    let callback = callback_of(h.sim.complete_v1_window(&launch.merchant_code, &redirected, Some("wilson")).unwrap());
    let session = h.window_session(ProviderId::PortoneV1, &id, &started);
    let completion = client.complete(&session, &callback).await.unwrap();
    assert_identity(&completion.identity, wilson, ProviderId::PortoneV1);
    // Every MVNO is `MVNO` to Danal.
    let kim = personas::by_key("kim-mvno").unwrap();
    let request = WindowRequest::new(new_id(), "https://shop.example/return").with_prefill(Some(prefill_of(kim)));
    let launch = v1_launch(&client.start(&request).await.unwrap().launch);
    assert_eq!(launch.params.carrier.as_deref(), Some("MVNO"));
}

/// Window types reach the SDK as it spells them (upper case), and only the ones configured.
#[tokio::test]
async fn v2_window_types_are_sent_as_the_sdk_spells_them() {
    let h = harness().await;
    let client = h.v2_with({
        let mut tweaked = h.v2_config();
        tweaked.window_type_pc = Some("popup".into());
        tweaked
    });
    let started = client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
    let launch = v2_launch(&started.launch);
    let params = serde_json::to_value(&launch.params).unwrap();
    h.sim.complete_v2_window(&params, Some("hong")).unwrap();
    assert_eq!(params["windowType"], json!({"pc": "POPUP"}), "{params}");
}

/// A KCP channel's window gets KCP's `web_siteid` and none of Danal's parameters; bonin still
/// checks `min_age` against the verified birth date.
#[tokio::test]
async fn v2_a_kcp_window_gets_kcps_bypass_not_danals() {
    let h = harness().await;
    let client = h.v2_with({
        let mut tweaked = h.v2_kcp_config();
        tweaked.kcp_web_siteid = Some("J0123".into());
        tweaked.company = Some("Shop Example".into());
        tweaked
    });
    let hong = personas::by_key("hong").unwrap();
    let request = WindowRequest::new(new_id(), "https://shop.example/return")
        .with_min_age(Some(19))
        .with_prefill(Some(prefill_of(hong)));
    let started = client.start(&request).await.unwrap();
    let launch = v2_launch(&started.launch);
    let params = serde_json::to_value(&launch.params).unwrap();
    assert_eq!(params["bypass"], json!({"kcpV2": {"web_siteid": "J0123"}}), "{params}");
    assert_eq!(params["customer"]["fullName"], "홍길동");
    h.sim.complete_v2_window(&params, Some("hong")).unwrap();
    // Without a site id there is nothing to pass.
    let client = h.v2_with(h.v2_kcp_config());
    let started = client.start(&request).await.unwrap();
    let launch = v2_launch(&started.launch);
    assert!(launch.params.bypass.is_none(), "{:?}", launch.params);
}
