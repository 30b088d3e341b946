//! The NICE adapter against the NICE simulator: every persona, every check on the callback, every
//! code class, the token refresh, and injected faults.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, sync::atomic::Ordering, time::Duration};

use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_nice::{CallbackMethod, NiceClient, NiceConfig};
use bonin_adapters_store::MemoryStore;
use bonin_domain::*;
use bonin_sandbox::{
    Fault, SandboxServer, Times,
    nice::{CRYPTO_TOKEN_PATH, NiceSimConfig, NiceSimulator, ResultOverrides, TOKEN_PATH, WindowCallback},
    personas,
};

struct Harness {
    sim: NiceSimulator,
    server: SandboxServer,
    client: NiceClient,
    clock: Arc<ManualClock>,
}

const FAST_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5) };

async fn harness_with(sim_config: NiceSimConfig, tweak: impl FnOnce(&mut NiceConfig)) -> Harness {
    let sim = NiceSimulator::new(sim_config);
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (id, secret) = sim.client();
    let mut config = NiceConfig::new(id, SecretString::from(secret))
        .with_endpoints(server.base_url(), format!("{}/CheckPlusSafeModel/service.cb", server.base_url()));
    tweak(&mut config);
    let transport = ReqwestTransport::new(&HttpConfig::default().with_timeout(Duration::from_millis(800))).unwrap();
    let http = HttpClient::new(ProviderId::Nice, Arc::new(transport), FAST_RETRY);
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let client = NiceClient::new(config, http, clock.clone()).unwrap();
    Harness { sim, server, client, clock }
}

async fn harness() -> Harness {
    harness_with(NiceSimConfig::default(), |_| {}).await
}

fn new_id() -> VerificationId {
    VerificationId::generate(&OsRng).unwrap()
}

fn form_fields(start: &WindowStart) -> Vec<(String, String)> {
    match &start.launch {
        Launch::Form(form) => form.fields.iter().map(|f| (f.name.clone(), f.value.clone())).collect(),
        other => panic!("NICE launches a form, got {other:?}"),
    }
}

fn session_for(h: &Harness, id: &VerificationId, start: &WindowStart) -> Verification {
    assert_eq!(h.client.rules(), bonin_adapters_nice::FLOW_RULES, "the rules NICE's sessions are held to");
    assert_eq!(h.client.popup_landing(), PopupLanding::Page);
    Verification::start(id.clone(), ProviderId::Nice, Method::Window, h.client.rules(), h.clock.now())
        .with_provider_session(start.provider_key.clone(), start.provider_state.clone(), start.valid_until)
}

fn callback_params(callback: &WindowCallback) -> CallbackParams {
    let transport = if callback.method == "post" { CallbackTransport::Post } else { CallbackTransport::Get };
    CallbackParams::from_pairs(transport, callback.params.clone())
}

/// start → the simulated window for `persona` → (session, callback).
async fn run_window(h: &Harness, persona: &str, overrides: &ResultOverrides) -> (Verification, CallbackParams) {
    let id = new_id();
    let start = h.client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let callback = h.sim.complete_window(&form_fields(&start), persona, overrides).unwrap();
    assert_eq!(callback.return_url, "https://shop.example/return");
    (session_for(h, &id, &start), callback_params(&callback))
}

#[tokio::test]
async fn every_persona_is_verified_with_its_own_values() {
    let h = harness().await;
    for persona in personas::ALL {
        let (session, callback) = run_window(&h, persona.key, &ResultOverrides::default()).await;
        let identity = h.client.complete(&session, &callback).await.unwrap().identity;
        assert_eq!(identity.provider, ProviderId::Nice);
        assert_eq!(identity.name.as_ref().unwrap().expose(), persona.name, "{}", persona.key);
        assert_eq!(identity.birth_date.unwrap().yyyymmdd(), persona.birth_date);
        assert_eq!(identity.gender, Some(persona.gender));
        assert_eq!(identity.nationality, Some(persona.nationality));
        assert_eq!(identity.carrier, Some(persona.carrier));
        assert_eq!(identity.phone.as_ref().unwrap().expose(), persona.phone);
        assert_eq!(identity.ci.as_ref().unwrap().expose(), persona.ci);
        assert_eq!(identity.di.as_ref().unwrap().expose(), persona.di);
        assert_eq!(identity.provider_tx_id.as_ref().unwrap().as_str().len(), 24);
    }
}

#[tokio::test]
async fn hangul_names_are_decoded_from_euc_kr_when_utf8_name_is_absent() {
    let config = NiceSimConfig { omitted_fields: vec!["utf8_name".into()], ..NiceSimConfig::default() };
    let h = harness_with(config, |_| {}).await;
    for key in ["hong", "kim-mvno", "lee-cp949"] {
        let (session, callback) = run_window(&h, key, &ResultOverrides::default()).await;
        let identity = h.client.complete(&session, &callback).await.unwrap().identity;
        assert_eq!(identity.name.unwrap().expose(), personas::by_key(key).unwrap().name);
    }
}

#[tokio::test]
async fn fields_the_contract_leaves_out_are_none_not_empty() {
    let config = NiceSimConfig {
        omitted_fields: vec!["ci".into(), "mobileno".into(), "mobileco".into()],
        ..NiceSimConfig::default()
    };
    let h = harness_with(config, |_| {}).await;
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let identity = h.client.complete(&session, &callback).await.unwrap().identity;
    assert!(identity.ci.is_none() && identity.phone.is_none() && identity.carrier.is_none());
    assert!(identity.di.is_some());
}

#[tokio::test]
async fn callback_by_get_or_post_is_accepted_and_plus_signs_survive_a_lossy_query_parser() {
    let h = harness_with(NiceSimConfig::default(), |c| c.callback_method = CallbackMethod::Get).await;
    let id = new_id();
    let start = h.client.start(&WindowRequest::new(id.clone(), "https://shop.example/return")).await.unwrap();
    let callback = h.sim.complete_window(&form_fields(&start), "wilson", &ResultOverrides::default()).unwrap();
    assert_eq!(callback.method, "get");
    // A naive parser turns every '+' of the Base64 values into a space.
    let mangled = CallbackParams::from_pairs(
        CallbackTransport::Get,
        callback.params.iter().map(|(n, v)| (n.clone(), v.replace('+', " "))),
    );
    let identity = h.client.complete(&session_for(&h, &id, &start), &mangled).await.unwrap().identity;
    assert_eq!(identity.name.unwrap().expose(), "EMMA WILSON");

    let forced = harness_with(NiceSimConfig { force_post: true, ..NiceSimConfig::default() }, |c| {
        c.callback_method = CallbackMethod::Get
    })
    .await;
    let (session, callback) = run_window(&forced, "hong", &ResultOverrides::default()).await;
    assert_eq!(callback.transport(), CallbackTransport::Post);
    forced.client.complete(&session, &callback).await.unwrap();
}

fn replace(callback: &CallbackParams, name: &str, value: &str) -> CallbackParams {
    let pairs: Vec<(String, String)> = ["token_version_id", "enc_data", "integrity_value"]
        .iter()
        .map(|n| (n.to_string(), if *n == name { value.to_owned() } else { callback.get(n).unwrap().to_owned() }))
        .collect();
    CallbackParams::from_pairs(callback.transport(), pairs)
}

#[tokio::test]
async fn callback_with_tampered_enc_data_is_integrity_mismatch() {
    let h = harness().await;
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let enc = callback.get("enc_data").unwrap();
    let flipped = format!("{}{}", if enc.starts_with('A') { "B" } else { "A" }, &enc[1..]);
    let error = h.client.complete(&session, &replace(&callback, "enc_data", &flipped)).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
}

#[tokio::test]
async fn callback_with_wrong_integrity_value_is_integrity_mismatch() {
    let h = harness().await;
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let (_, other) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let error = h
        .client
        .complete(&session, &replace(&callback, "integrity_value", other.get("integrity_value").unwrap()))
        .await;
    assert!(matches!(error, Err(Error::IntegrityMismatch { .. })));
    let error = h.client.complete(&session, &replace(&callback, "integrity_value", "not base64!")).await;
    assert!(matches!(error, Err(Error::IntegrityMismatch { .. })));
}

#[tokio::test]
async fn callback_for_another_session_is_integrity_mismatch() {
    let h = harness().await;
    let (session, _) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let (_, foreign) = run_window(&h, "wilson", &ResultOverrides::default()).await;
    let error = h.client.complete(&session, &foreign).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }));
}

#[tokio::test]
async fn unknown_token_version_id_finds_no_session() {
    let h = harness().await;
    let store = MemoryStore::new();
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    store.create(&session, Duration::from_secs(600)).await.unwrap();
    let key = NiceClient::callback_key(&callback).unwrap();
    assert_eq!(store.find_by_provider_key(&key).await.unwrap().map(|v| v.id().clone()), Some(session.id().clone()));
    let unknown = replace(&callback, "token_version_id", "2026010100000000-NCCDXXXXX-00000-0000000000");
    let key = NiceClient::callback_key(&unknown).unwrap();
    assert_eq!(store.find_by_provider_key(&key).await.unwrap(), None);
    assert!(matches!(h.client.complete(&session, &unknown).await, Err(Error::IntegrityMismatch { .. })));
}

#[tokio::test]
async fn repeated_callback_parameters_are_refused() {
    let h = harness().await;
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let polluted = callback.clone().with("enc_data", "AAAA");
    assert!(matches!(h.client.complete(&session, &polluted).await, Err(Error::IntegrityMismatch { .. })));
    let missing = CallbackParams::new(CallbackTransport::Post)
        .with("token_version_id", callback.get("token_version_id").unwrap());
    assert!(matches!(h.client.complete(&session, &missing).await, Err(Error::InvalidInput { .. })));
}

#[tokio::test]
async fn mismatching_requestno_is_integrity_mismatch() {
    let h = harness().await;
    let overrides = ResultOverrides { requestno: Some("someone-elses-request".into()), ..ResultOverrides::default() };
    let (session, callback) = run_window(&h, "hong", &overrides).await;
    let error = h.client.complete(&session, &callback).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }));
}

#[tokio::test]
async fn non_success_resultcode_is_rejected_with_the_code_kept() {
    let h = harness().await;
    let overrides = ResultOverrides { resultcode: Some("9001".into()), ..ResultOverrides::default() };
    let (session, callback) = run_window(&h, "hong", &overrides).await;
    let error = h.client.complete(&session, &callback).await.unwrap_err();
    assert_eq!(error, Error::rejected(ProviderId::Nice, "resultcode:9001", None));
}

#[tokio::test]
async fn replayed_callback_is_already_completed() {
    let h = harness().await;
    let store = MemoryStore::new();
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    store.create(&session, Duration::from_secs(600)).await.unwrap();
    let id = session.id().clone();
    let apply = |callback: CallbackParams| {
        let (store, client, clock, id) = (&store, &h.client, &h.clock, id.clone());
        async move {
            let current = store.get(&id).await.unwrap().ok_or(Error::NotFound)?;
            let completion = client.complete(&current, &callback).await?;
            let next = current.verified(clock.now(), completion.identity)?;
            match store.compare_and_swap(current.version(), &next, Duration::from_secs(600)).await.unwrap() {
                CasOutcome::Swapped => Ok(next),
                CasOutcome::Conflict(_) => Err(Error::AlreadyCompleted),
            }
        }
    };
    assert_eq!(apply(callback.clone()).await.unwrap().stored_status(), Status::Verified);
    assert_eq!(apply(callback).await.unwrap_err(), Error::AlreadyCompleted);
}

#[tokio::test]
async fn callback_after_the_crypto_token_period_is_expired() {
    let h = harness().await;
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    assert!(session.expires_at() <= h.clock.now() + Duration::from_secs(3600));
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(h.client.complete(&session, &callback).await.unwrap_err(), Error::Expired);
}

#[tokio::test]
async fn the_window_refuses_an_expired_crypto_token() {
    let h = harness().await;
    let start = h.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
    h.sim.age_crypto_tokens(Duration::from_secs(3600));
    let error = h.sim.complete_window(&form_fields(&start), "hong", &ResultOverrides::default()).unwrap_err();
    assert_eq!(error, bonin_sandbox::nice::WindowError::Expired);
}

async fn start_error(h: &Harness) -> Error {
    h.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap_err()
}

#[tokio::test]
async fn every_code_class_of_the_crypto_token_maps_to_the_taxonomy() {
    let h = harness().await;
    type Expectation = fn(&Error) -> bool;
    let cases: &[(&str, Expectation)] = &[
        ("1702", |e| matches!(e, Error::Misconfigured { reason } if reason.contains("허용 IP"))),
        ("1706", |e| matches!(e, Error::Misconfigured { reason } if reason.contains("product_id"))),
        ("1503", |e| matches!(e, Error::Unavailable { .. })),
        ("1905", |e| matches!(e, Error::Unavailable { .. })),
        ("1400", |e| *e == Error::rejected(ProviderId::Nice, "GW_RSLT_CD:1400", Some("injected".into()))),
        ("1999", |e| *e == Error::rejected(ProviderId::Nice, "GW_RSLT_CD:1999", Some("injected".into()))),
        ("E998", |e| matches!(e, Error::Misconfigured { .. })),
        ("S603", |e| matches!(e, Error::Unavailable { .. })),
        ("EAPI2510", |e| *e == Error::rejected(ProviderId::Nice, "rsp_cd:EAPI2510", Some("injected".into()))),
        ("EAPI9999", |e| *e == Error::rejected(ProviderId::Nice, "rsp_cd:EAPI9999", Some("injected".into()))),
        ("0001", |e| *e == Error::rejected(ProviderId::Nice, "result_cd:0001", None)),
        ("0003", |e| matches!(e, Error::Misconfigured { reason } if reason.contains("0003"))),
        ("0099", |e| *e == Error::rejected(ProviderId::Nice, "result_cd:0099", None)),
        ("0042", |e| *e == Error::rejected(ProviderId::Nice, "result_cd:0042", None)),
    ];
    for (code, expected) in cases {
        h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::provider_code(*code), Times::Once);
        let error = start_error(&h).await;
        assert!(expected(&error), "code {code} gave {error:?}");
    }
}

#[tokio::test]
async fn a_rejected_access_token_is_refreshed_once_and_the_call_retried() {
    let h = harness().await;
    h.client.access_token().await.unwrap();
    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::provider_code("1800"), Times::Once);
    h.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
    assert_eq!(h.sim.counters().access_token_requests.load(Ordering::SeqCst), 2);
    assert_eq!(h.sim.counters().crypto_token_requests.load(Ordering::SeqCst), 2);

    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::provider_code("1800"), Times::Count(2));
    let error = start_error(&h).await;
    assert_eq!(error, Error::rejected(ProviderId::Nice, "GW_RSLT_CD:1800", Some("injected".into())));
    assert_eq!(h.sim.counters().access_token_requests.load(Ordering::SeqCst), 3, "one refresh, no loop");
}

#[tokio::test]
async fn a_preissued_token_is_used_first_and_replaced_when_nice_rejects_it() {
    let h =
        harness_with(NiceSimConfig::default(), |c| c.access_token = Some(SecretString::from("00000000-unknown-token")))
            .await;
    h.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
    assert_eq!(h.sim.counters().access_token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(h.sim.counters().crypto_token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_access_token_is_issued_once_for_many_verifications() {
    let h = harness().await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = &h.client;
            async move { client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap() }
        })
        .collect();
    futures_join(tasks).await;
    assert_eq!(h.sim.counters().access_token_requests.load(Ordering::SeqCst), 1);
    assert_eq!(h.sim.counters().crypto_token_requests.load(Ordering::SeqCst), 20);
}

async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    for handle in handles {
        out.push(handle.await);
    }
    out
}

#[tokio::test]
async fn wrong_credentials_are_misconfigured() {
    let h = harness_with(NiceSimConfig::default(), |c| c.client_secret = SecretString::from("wrong-secret")).await;
    assert!(matches!(start_error(&h).await, Error::Misconfigured { .. }));
}

#[tokio::test]
async fn revoking_drops_the_token_and_the_next_call_issues_a_new_one() {
    let h = harness().await;
    h.client.access_token().await.unwrap();
    assert!(h.client.revoke_access_token().await.unwrap());
    h.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
    assert_eq!(h.sim.counters().access_token_requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn injected_faults_become_typed_errors_without_panics() {
    let h = harness().await;
    h.client.access_token().await.unwrap();
    // One 503 is retried (the crypto-token call is idempotent).
    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::status(503), Times::Once);
    h.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::status(503), Times::Always);
    assert!(matches!(start_error(&h).await, Error::Unavailable { .. }));
    h.server.faults().clear();
    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::Hang, Times::Always);
    assert!(matches!(start_error(&h).await, Error::Unavailable { .. }));
    h.server.faults().clear();
    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::Truncated, Times::Once);
    assert!(matches!(start_error(&h).await, Error::Protocol { .. }));
    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::Malformed, Times::Once);
    assert!(matches!(start_error(&h).await, Error::Protocol { .. }));
    h.server.faults().inject(CRYPTO_TOKEN_PATH, Fault::status(404), Times::Once);
    assert!(matches!(start_error(&h).await, Error::Protocol { .. }));
    let fresh = harness_with(NiceSimConfig::default(), |_| {}).await;
    fresh.server.faults().inject(TOKEN_PATH, Fault::Truncated, Times::Once);
    assert!(matches!(start_error(&fresh).await, Error::Protocol { .. }));
    fresh.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
}

#[tokio::test]
async fn return_urls_nice_cannot_take_are_refused_before_any_call() {
    let h = harness().await;
    let long = format!("https://shop.example/{}", "a".repeat(250));
    for url in ["javascript:alert(1)", "/relative", long.as_str()] {
        let error = h.client.start(&WindowRequest::new(new_id(), url)).await.unwrap_err();
        assert!(matches!(error, Error::InvalidInput { .. }), "{url}");
    }
    assert_eq!(h.sim.counters().crypto_token_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn errors_and_debug_output_carry_no_personal_data() {
    let h = harness().await;
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let completion = h.client.complete(&session, &callback).await.unwrap();
    let (_, other) = run_window(&h, "hong", &ResultOverrides::default()).await;
    let error = h.client.complete(&session, &other).await.unwrap_err();
    let persona = personas::by_key("hong").unwrap();
    let texts = [
        format!("{completion:?}"),
        format!("{error:?} {error}"),
        format!("{callback:?}"),
        format!("{session:?}"),
        format!("{:?}", h.client),
    ];
    for text in texts {
        for value in [persona.name, persona.phone, persona.ci, persona.di, persona.birth_date, "sandbox-nice-secret"] {
            assert!(!text.contains(value), "leaked into: {text}");
        }
        assert!(!text.contains(callback.get("enc_data").unwrap()));
    }
}

#[tokio::test]
async fn the_window_refuses_tampered_or_unknown_requests() {
    use bonin_sandbox::nice::WindowError;
    let h = harness().await;
    let start = h.client.start(&WindowRequest::new(new_id(), "https://shop.example/return")).await.unwrap();
    let fields = form_fields(&start);
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        fields.iter().map(|(n, v)| (n.clone(), if n == name { value.to_owned() } else { v.clone() })).collect()
    };
    let none = ResultOverrides::default();
    let enc = &fields[2].1;
    let flipped = format!("{}{}", if enc.starts_with('A') { "B" } else { "A" }, &enc[1..]);
    assert_eq!(h.sim.complete_window(&with("enc_data", &flipped), "hong", &none), Err(WindowError::Integrity));
    assert_eq!(h.sim.complete_window(&with("token_version_id", "nope"), "hong", &none), Err(WindowError::UnknownToken));
    assert_eq!(
        h.sim.complete_window(&with("m", "checkplusService"), "hong", &none),
        Err(WindowError::Malformed("m must be service"))
    );
    assert_eq!(h.sim.complete_window(&fields, "nobody", &none), Err(WindowError::UnknownPersona));
    // One crypto token serves its window as often as needed within `period`.
    h.sim.complete_window(&fields, "hong", &none).unwrap();
    h.sim.complete_window(&fields, "wilson", &none).unwrap();
}

#[tokio::test]
async fn clock_skew_of_three_minutes_is_a_rejected_token() {
    let h = harness().await;
    h.clock.advance(Duration::from_secs(181));
    let error = start_error(&h).await;
    assert_eq!(error, Error::rejected(ProviderId::Nice, "GW_RSLT_CD:1800", Some("잘못된 토큰".into())));
    assert_eq!(h.sim.counters().access_token_requests.load(Ordering::SeqCst), 2, "refreshed once before giving up");
}

#[tokio::test]
async fn an_uncontracted_product_is_misconfigured() {
    let h = harness_with(NiceSimConfig::default(), |c| c.product_id = "2101434007".into()).await;
    assert!(matches!(start_error(&h).await, Error::Misconfigured { reason } if reason.contains("product_id")));
}

#[tokio::test]
async fn the_request_plaintext_carries_nice_field_names() {
    use bonin_adapters_nice::crypto::SessionKeys;
    let h = harness_with(NiceSimConfig::default(), |c| c.auth_type = Some("M".into())).await;
    let mut request = WindowRequest::new(new_id(), "https://shop.example/return").with_display(Display::Page);
    request.carrier_hint = Some(Carrier::KtMvno);
    let start = h.client.start(&request).await.unwrap();
    let state: serde_json::Value = serde_json::from_str(start.provider_state.expose()).unwrap();
    let keys = SessionKeys::from_stored(
        state["key"].as_str().unwrap(),
        state["iv"].as_str().unwrap(),
        state["hmac_key"].as_str().unwrap(),
    )
    .unwrap();
    let fields = form_fields(&start);
    keys.verify_integrity(&fields[2].1, &fields[3].1).unwrap();
    let plaintext: serde_json::Value = serde_json::from_slice(&keys.decrypt(&fields[2].1).unwrap()).unwrap();
    assert_eq!(
        plaintext,
        serde_json::json!({
            "requestno": request.verification_id.as_str(),
            "returnurl": "https://shop.example/return",
            "sitecode": "Q0cyMzI=",
            "authtype": "M",
            "mobilceco": "K",
            "methodtype": "post",
            "popupyn": "N",
        })
    );
}

// --- sitecode and app-scheme return URLs ---

#[tokio::test]
async fn a_result_naming_another_site_is_an_integrity_mismatch_once_the_site_code_is_configured() {
    let h = harness_with(NiceSimConfig::default(), |c| c.site_code = Some("CG232".into())).await;
    for other in ["Q0cyMzM=", "CG233", "someone-elses-site"] {
        let overrides = ResultOverrides { sitecode: Some(other.into()), ..ResultOverrides::default() };
        let (session, callback) = run_window(&h, "hong", &overrides).await;
        let error = h.client.complete(&session, &callback).await.unwrap_err();
        assert!(matches!(error, Error::IntegrityMismatch { .. }), "{other}: {error:?}");
    }
    // Unconfigured, an unforeseen spelling is reported, not refused: the HMAC binds the result.
    let h = harness().await;
    let overrides = ResultOverrides { sitecode: Some("CG2320000000000".into()), ..ResultOverrides::default() };
    let (session, callback) = run_window(&h, "hong", &overrides).await;
    h.client.complete(&session, &callback).await.unwrap();
}

#[tokio::test]
async fn the_result_sitecode_is_read_as_issued_decoded_or_absent() {
    // As the crypto token carried it (`Q0cyMzI=`), or as the plain site code (`CG232`).
    for decoded in [false, true] {
        let h =
            harness_with(NiceSimConfig { result_site_code_decoded: decoded, ..NiceSimConfig::default() }, |_| {}).await;
        let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
        h.client.complete(&session, &callback).await.unwrap();
    }
    // A contract whose result carries no sitecode.
    let h = harness_with(NiceSimConfig { omitted_fields: vec!["sitecode".into()], ..NiceSimConfig::default() }, |_| {})
        .await;
    let (session, callback) = run_window(&h, "hong", &ResultOverrides::default()).await;
    h.client.complete(&session, &callback).await.unwrap();
}

#[tokio::test]
async fn an_app_scheme_return_url_is_refused_unless_configured() {
    let h = harness().await;
    for url in ["bonin-demo://nice/done", "intent://nice#Intent;scheme=x;end"] {
        let error = h.client.start(&WindowRequest::new(new_id(), url)).await.unwrap_err();
        assert!(matches!(error, Error::InvalidInput { .. }), "{url}: {error:?}");
    }
    assert_eq!(h.sim.counters().crypto_token_requests.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_configured_app_scheme_is_accepted_and_answered_by_get() {
    let h = harness_with(NiceSimConfig::default(), |c| {
        c.app_return_schemes = vec!["bonin-demo".into()];
        c.callback_method = CallbackMethod::Post;
    })
    .await;
    let id = new_id();
    let start = h.client.start(&WindowRequest::new(id.clone(), "Bonin-Demo://nice/done?x=1")).await.unwrap();
    // The app gets the result by a redirect, even with callback_method = post.
    let callback = h.sim.complete_window(&form_fields(&start), "hong", &ResultOverrides::default()).unwrap();
    assert_eq!(callback.method, "get");
    assert!(callback.get_url().starts_with("Bonin-Demo://nice/done?x=1&token_version_id="));
    let session = session_for(&h, &id, &start);
    h.client.complete(&session, &callback_params(&callback)).await.unwrap();
    // Web return URLs keep the configured method; other schemes stay refused.
    let (_, web) = run_window(&h, "hong", &ResultOverrides::default()).await;
    assert_eq!(web.transport(), CallbackTransport::Post);
    let error = h.client.start(&WindowRequest::new(new_id(), "other-app://nice/done")).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }), "{error:?}");
}

#[tokio::test]
async fn nice_cannot_post_a_result_to_an_app() {
    let h = harness_with(NiceSimConfig { force_post: true, ..NiceSimConfig::default() }, |c| {
        c.app_return_schemes = vec!["bonin-demo".into()];
    })
    .await;
    let start = h.client.start(&WindowRequest::new(new_id(), "bonin-demo://nice/done")).await.unwrap();
    assert!(matches!(
        h.sim.complete_window(&form_fields(&start), "hong", &ResultOverrides::default()),
        Err(bonin_sandbox::nice::WindowError::Malformed(_))
    ));
}

#[test]
fn app_return_schemes_must_be_app_schemes() {
    for scheme in ["http", "HTTPS", "javascript", "data", "file", "my app", "myapp:", "", "1app"] {
        let mut config = NiceConfig::new("client", SecretString::from("secret"));
        config.app_return_schemes = vec![scheme.into()];
        assert!(matches!(config.validate(), Err(Error::Misconfigured { .. })), "{scheme:?}");
    }
    let mut config = NiceConfig::new("client", SecretString::from("secret"));
    config.app_return_schemes = vec!["bonin-demo".into(), "kr.example.app".into()];
    config.validate().unwrap();
    assert!(config.accepts_return_url("kr.example.app://done"));
    assert!(!config.accepts_return_url("kr.example.app:"));
    assert!(!config.accepts_return_url("javascript:alert(1)"));
}

#[tokio::test]
async fn a_configured_site_code_is_accepted_in_the_result() {
    let h = harness_with(NiceSimConfig::default(), |c| c.site_code = Some("CG999".into())).await;
    let overrides = ResultOverrides { sitecode: Some("CG999".into()), ..ResultOverrides::default() };
    let (session, callback) = run_window(&h, "hong", &overrides).await;
    h.client.complete(&session, &callback).await.unwrap();
}
