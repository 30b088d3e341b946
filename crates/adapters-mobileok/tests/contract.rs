//! The mobileOK adapter against the mobileOK simulator: key files, both request-crypto
//! generations, the 표준창 and the 본인확인-API with their rules and failure cases.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    sync::{Arc, OnceLock, atomic::Ordering},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_mobileok::{
    CryptoGeneration, FLOW_RULES, KeyFile, MobileokClient, MobileokConfig, MobileokLaunch, TokenEndpoint,
};
use bonin_domain::*;
use bonin_sandbox::{
    Fault, SandboxServer, Times,
    mobileok::{MobileokSimConfig, MobileokSimulator, ResultTweaks, WindowError},
    personas,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

const PASSWORD: &str = "sandbox-key-password";

/// Key generation is slow in debug builds: one set of key pairs for the whole test binary.
fn keys() -> &'static MobileokSimulator {
    static SIM: OnceLock<MobileokSimulator> = OnceLock::new();
    SIM.get_or_init(|| MobileokSimulator::new(MobileokSimConfig::default()).expect("key generation"))
}

struct Harness {
    sim: MobileokSimulator,
    server: SandboxServer,
    client: MobileokClient,
    clock: Arc<ManualClock>,
}

async fn harness_with(generation: CryptoGeneration, sim_config: MobileokSimConfig) -> Harness {
    let sim = keys().fresh(sim_config);
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let key_file = sim.key_file(PASSWORD, generation == CryptoGeneration::V2);
    let mut config = config_for(&key_file, &server.base_url());
    config.crypto = generation;
    client_for(sim, server, config)
}

/// A config for `key_file` (locked with [`PASSWORD`]) with both hosts at `base`.
fn config_for(key_file: &[u8], base: &str) -> MobileokConfig {
    let mut config =
        MobileokConfig::new(std::path::PathBuf::new(), SecretString::from(PASSWORD), "https://shop.example");
    config.key_file = None;
    config.key_file_base64 = Some(SecretString::from(STANDARD.encode(key_file)));
    config.api_base = base.to_owned();
    config.window_base = base.to_owned();
    config
}

fn client_for(sim: MobileokSimulator, server: SandboxServer, config: MobileokConfig) -> Harness {
    let http = HttpClient::new(
        ProviderId::Mobileok,
        Arc::new(ReqwestTransport::new(&HttpConfig::default().with_timeout(Duration::from_secs(2))).unwrap()),
        RetryPolicy::NONE,
    );
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let client = MobileokClient::new(config, http, clock.clone(), Arc::new(OsRng)).unwrap();
    Harness { sim, server, client, clock }
}

async fn harness(generation: CryptoGeneration) -> Harness {
    harness_with(generation, MobileokSimConfig::default()).await
}

fn new_id() -> VerificationId {
    VerificationId::generate(&OsRng).unwrap()
}

// --- key files ---

#[test]
fn key_files_of_both_generations_unlock_with_the_right_password() {
    let sim = keys();
    let gen1 = KeyFile::unlock(&sim.key_file(PASSWORD, false), &SecretString::from(PASSWORD)).unwrap();
    assert!(!gen1.has_server_public_key());
    assert_eq!(gen1.client_key_bits(), 2048);
    let gen2 = KeyFile::unlock(&sim.key_file(PASSWORD, true), &SecretString::from(PASSWORD)).unwrap();
    assert!(gen2.has_server_public_key());
    assert_eq!(gen1.service_id(), gen2.service_id());
}

#[test]
fn a_wrong_password_or_a_damaged_file_is_misconfigured_without_key_material() {
    let sim = keys();
    let file = sim.key_file(PASSWORD, true);
    let texts: Vec<String> = [
        KeyFile::unlock(&file, &SecretString::from("wrong-password")).unwrap_err(),
        KeyFile::unlock(&file[..file.len() - 7], &SecretString::from(PASSWORD)).unwrap_err(),
        KeyFile::unlock(&file[..file.len() - 16], &SecretString::from(PASSWORD)).unwrap_err(),
        KeyFile::unlock(&[], &SecretString::from(PASSWORD)).unwrap_err(),
        KeyFile::from_base64("not base64 !", &SecretString::from(PASSWORD)).unwrap_err(),
    ]
    .iter()
    .map(|e| {
        assert!(matches!(e, Error::Misconfigured { .. }), "{e:?}");
        format!("{e} {e:?}")
    })
    .collect();
    let unlocked = KeyFile::unlock(&file, &SecretString::from(PASSWORD)).unwrap();
    let debug = format!("{unlocked:?}");
    for text in texts.iter().chain([&debug]) {
        assert!(!text.contains(PASSWORD) && !text.contains("MII"), "key material leaked: {text}");
    }
}

#[test]
fn key_files_load_from_a_path_and_several_live_in_one_process() {
    let dir = std::env::temp_dir().join(format!("bonin-keyfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mok_keyInfo.dat");
    std::fs::write(&path, keys().key_file(PASSWORD, false)).unwrap();
    let dev = KeyFile::from_path(&path, &SecretString::from(PASSWORD)).unwrap();
    let other = MobileokSimulator::new(MobileokSimConfig {
        service_id: "another-service-id-0000000000000000000".into(),
        ..MobileokSimConfig::default()
    })
    .unwrap();
    let prod = KeyFile::unlock(&other.key_file("prod-password", true), &SecretString::from("prod-password")).unwrap();
    assert_ne!(dev.service_id(), prod.service_id());
    assert!(matches!(
        KeyFile::from_path(&dir.join("missing.dat"), &SecretString::from(PASSWORD)),
        Err(Error::Misconfigured { .. })
    ));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn gen2_crypto_with_a_gen1_key_file_is_refused_at_start_up() {
    let sim = keys();
    let mut config = config_for(&sim.key_file(PASSWORD, false), "http://127.0.0.1:9");
    config.crypto = CryptoGeneration::V2;
    assert!(matches!(MobileokClient::from_config(config), Err(Error::Misconfigured { .. })));
}

// --- 표준창 ---

async fn window_session(h: &Harness, id: &VerificationId) -> (Verification, String) {
    let request = WindowRequest::new(id.clone(), "http://127.0.0.1:8080/v1/verifications/x/return")
        .with_launch_url(Some("http://127.0.0.1:8080/v1/verifications/x/launch".into()));
    let start = h.client.start(&request).await.unwrap();
    match MobileokLaunch::from_launch(&start.launch).unwrap() {
        Some(launch) => {
            assert!(launch.script_url.ends_with("/resources/js/index.js"));
            assert_eq!(launch.request_url, "http://127.0.0.1:8080/v1/verifications/x/launch");
        }
        None => panic!("mobileOK launches its SDK, got {:?}", start.launch),
    }
    // The rules its sessions are held to, and the landing its SDK reads itself.
    assert_eq!(WindowVerifier::rules(&h.client), FLOW_RULES);
    assert_eq!(OtpVerifier::rules(&h.client), FLOW_RULES);
    assert_eq!(h.client.popup_landing(), PopupLanding::Json);
    assert_eq!(start.provider_key.as_ref().unwrap().value, id.as_str());
    let session = Verification::start(id.clone(), ProviderId::Mobileok, Method::Window, FLOW_RULES, h.clock.now())
        .with_provider_session(start.provider_key.clone(), start.provider_state.clone(), start.valid_until);
    let info = h.client.launch_data(&session).unwrap().unwrap();
    (session, info)
}

/// The form layer's decoding of `application/x-www-form-urlencoded` (what axum's `Form` does).
fn form_decode(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().unwrap().into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

fn callback_from(body: &str) -> CallbackParams {
    CallbackParams::from_pairs(CallbackTransport::Post, form_decode(body))
}

#[tokio::test]
async fn window_happy_path_for_every_persona_in_both_generations() {
    for generation in [CryptoGeneration::V1, CryptoGeneration::V2] {
        let h = harness(generation).await;
        for persona in personas::ALL {
            let id = new_id();
            let (session, info) = window_session(&h, &id).await;
            let request: serde_json::Value = serde_json::from_str(&info).unwrap();
            assert_eq!(request["retTransferType"], "MOKToken");
            assert_eq!(request["encryptVersion"].as_str(), (generation == CryptoGeneration::V2).then_some("V2"));
            let delivery = h.sim.complete_window(&info, Some(persona.key)).unwrap();
            // The raw body is double-encoded and the key token contains '+'.
            assert!(delivery.form_body().contains("%252B"), "{}", delivery.form_body());
            let completion = h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap();
            let identity = &completion.identity;
            assert_eq!(identity.name.as_ref().unwrap().expose(), persona.name);
            assert_eq!(identity.phone.as_ref().unwrap().expose(), persona.phone);
            assert_eq!(identity.birth_date.unwrap().yyyymmdd(), persona.birth_date);
            assert_eq!(
                (identity.gender, identity.nationality, identity.carrier),
                (Some(persona.gender), Some(persona.nationality), Some(persona.carrier))
            );
            assert_eq!(identity.ci.as_ref().unwrap().expose(), persona.ci);
            assert_eq!(identity.di.as_ref().unwrap().expose(), persona.di);
            let issued = completion.result_issued_at.unwrap();
            session.check_result_age(issued, time::OffsetDateTime::now_utc()).unwrap();
        }
    }
}

#[tokio::test]
async fn both_spellings_of_the_site_field_are_accepted() {
    let h = harness_with(
        CryptoGeneration::V1,
        MobileokSimConfig { site_id_lower_camel: true, ..MobileokSimConfig::default() },
    )
    .await;
    let (session, info) = window_session(&h, &new_id()).await;
    let delivery = h.sim.complete_window(&info, Some("wilson")).unwrap();
    h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap();
}

#[tokio::test]
async fn a_replayed_key_token_is_refused() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, info) = window_session(&h, &new_id()).await;
    let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
    h.client.complete(&session, &callback).await.unwrap();
    // mobileOK refuses the spent key token (the second exchange reaches it); a token mobileOK will
    // not exchange proves nothing about the user, so it is no refusal of the verification.
    let error = h.client.complete(&session, &callback).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
    assert_eq!(h.sim.counters().result_requests.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_key_token_must_be_exchanged_at_once() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, info) = window_session(&h, &new_id()).await;
    let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
    h.sim.age(Duration::from_secs(31));
    assert!(matches!(h.client.complete(&session, &callback).await, Err(Error::IntegrityMismatch { .. })));
}

#[tokio::test]
async fn a_tampered_result_fails_the_hash_check() {
    let h = harness(CryptoGeneration::V2).await;
    h.sim.set_tweaks(ResultTweaks { break_hash: true, ..ResultTweaks::default() });
    let (session, info) = window_session(&h, &new_id()).await;
    let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
    assert!(matches!(h.client.complete(&session, &callback).await, Err(Error::IntegrityMismatch { .. })));
}

#[tokio::test]
async fn a_result_for_another_transaction_is_an_integrity_mismatch() {
    let h = harness(CryptoGeneration::V1).await;
    h.sim.set_tweaks(ResultTweaks {
        client_tx_id: Some("vf0000000000000000000000someoneelse".into()),
        ..ResultTweaks::default()
    });
    let (session, info) = window_session(&h, &new_id()).await;
    let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
    assert!(matches!(h.client.complete(&session, &callback).await, Err(Error::IntegrityMismatch { .. })));
}

#[tokio::test]
async fn a_result_issued_601_seconds_ago_is_expired() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, info) = window_session(&h, &new_id()).await;
    h.sim.set_tweaks(ResultTweaks { issue_age_secs: 601, ..ResultTweaks::default() });
    let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
    let completion = h.client.complete(&session, &callback).await.unwrap();
    let issued = completion.result_issued_at.unwrap();
    assert_eq!(session.check_result_age(issued, time::OffsetDateTime::now_utc()), Err(Error::Expired));
    h.sim.set_tweaks(ResultTweaks { issue_age_secs: 590, ..ResultTweaks::default() });
    let (session, info) = window_session(&h, &new_id()).await;
    let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
    let issued = h.client.complete(&session, &callback).await.unwrap().result_issued_at.unwrap();
    session.check_result_age(issued, time::OffsetDateTime::now_utc()).unwrap();
}

#[tokio::test]
async fn a_cancelled_window_is_unconfirmed_with_its_code() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, info) = window_session(&h, &new_id()).await;
    let callback = callback_from(&h.sim.complete_window(&info, None).unwrap().form_body());
    assert_eq!(
        h.client.complete(&session, &callback).await.unwrap_err(),
        Error::unconfirmed(ProviderId::Mobileok, "3100")
    );
}

#[tokio::test]
async fn the_window_refuses_unregistered_return_urls_and_reused_transactions() {
    let h = harness_with(
        CryptoGeneration::V1,
        MobileokSimConfig {
            return_url_prefixes: vec!["https://registered.example/".into()],
            ..MobileokSimConfig::default()
        },
    )
    .await;
    let (_, info) = window_session(&h, &new_id()).await;
    assert_eq!(
        h.sim.complete_window(&info, Some("hong")).unwrap_err(),
        WindowError::Code("5028", "등록되지 않은 returnUrl 입니다.")
    );
    let open = harness(CryptoGeneration::V1).await;
    let (_, info) = window_session(&open, &new_id()).await;
    open.sim.complete_window(&info, Some("hong")).unwrap();
    assert!(matches!(open.sim.complete_window(&info, Some("hong")), Err(WindowError::Code("4004", _))));
}

#[tokio::test]
async fn malformed_callbacks_are_invalid_input() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, _) = window_session(&h, &new_id()).await;
    for body in ["", "data=not%20json", "data=%7B%7D", "other=1"] {
        let error = h.client.complete(&session, &callback_from(body)).await.unwrap_err();
        assert!(matches!(error, Error::InvalidInput { .. }), "{body}: {error:?}");
    }
    let twice = CallbackParams::new(CallbackTransport::Post).with("data", "a").with("data", "b");
    assert!(matches!(h.client.complete(&session, &twice).await, Err(Error::IntegrityMismatch { .. })));
}

// --- who may end a 표준창 session: only mobileOK's server ---

/// What anyone can post to the open return URL: `data` as the form layer leaves it (URL-encoded
/// JSON).
fn posted(data: &Value) -> CallbackParams {
    CallbackParams::new(CallbackTransport::Post)
        .with("data", utf8_percent_encode(&data.to_string(), NON_ALPHANUMERIC).to_string())
}

fn result_requests(h: &Harness) -> u64 {
    h.sim.counters().result_requests.load(Ordering::Relaxed)
}

#[tokio::test]
async fn a_result_sealed_with_the_client_public_key_is_refused() {
    for generation in [CryptoGeneration::V1, CryptoGeneration::V2] {
        let h = harness(generation).await;
        let id = new_id();
        let (session, info) = window_session(&h, &id).await;
        // The public key is all it takes to build a result the key file opens.
        let forged = h.sim.forge_result(h.client.key_file().client_public_key_der(), id.as_str(), "hong").unwrap();
        let opened = bonin_adapters_mobileok::crypto::decrypt_result(h.client.key_file(), &forged).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&opened).unwrap()["clientTxId"], id.as_str());
        for data in [
            json!({"encryptMOKResult": forged}),
            json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKResult": forged}),
            json!({"encryptMOKKeyToken": "AAAA+BBBB", "encryptMOKResult": forged}),
        ] {
            let error = h.client.complete(&session, &posted(&data)).await.unwrap_err();
            assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
            assert!(!format!("{error} {error:?}").contains(&forged[..16]));
        }
        assert_eq!(result_requests(&h), 0, "nothing was exchanged");
        // The real window still completes the session.
        let delivery = h.sim.complete_window(&info, Some("hong")).unwrap();
        h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap();
    }
}

#[tokio::test]
async fn even_a_genuine_result_that_passed_through_the_browser_is_refused() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, info) = window_session(&h, &new_id()).await;
    // Someone rewrites the (unsigned) transfer type, so the window hands the result to the browser.
    let mut info: Value = serde_json::from_str(&info).unwrap();
    info["retTransferType"] = json!("MOKResult");
    let delivery = h.sim.complete_window(&info.to_string(), Some("hong")).unwrap();
    assert!(delivery.form_body().contains("encryptMOKResult"));
    let error = h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
}

#[tokio::test]
async fn a_failure_code_posted_by_the_browser_is_unconfirmed_and_kept_verbatim() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, info) = window_session(&h, &new_id()).await;
    for (data, code) in [
        (json!({"resultCode": "3100", "resultMsg": "사용자가 본인확인을 취소했습니다."}), "3100"),
        (json!({"resultCode": "9999"}), "9999"),
        (json!({"resultCode": 4000}), "4000"),
        (json!({"resultCode": "5028", "resultMsg": "등록되지 않은 사이트입니다."}), "5028"),
        (json!({"resultCode": "본인-취소", "encryptMOKKeyToken": "AAAA+BBBB"}), "본인-취소"),
        (json!({"resultCode": ""}), "(none)"),
        (json!({"resultCode": {"nested": true}}), "(none)"),
    ] {
        let error = h.client.complete(&session, &posted(&data)).await.unwrap_err();
        assert_eq!(error, Error::unconfirmed(ProviderId::Mobileok, code), "{data}");
    }
    assert_eq!(result_requests(&h), 0);
    let delivery = h.sim.complete_window(&info, Some("wilson")).unwrap();
    h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap();
}

#[tokio::test]
async fn a_key_token_mobileok_will_not_exchange_is_an_integrity_mismatch() {
    let h = harness(CryptoGeneration::V2).await;
    let (session, info) = window_session(&h, &new_id()).await;
    let tokens = ["garbage", "AAAA+BBBB/CCCC==", "키토큰|한글", "\u{1F600}\u{0301}"];
    for token in tokens {
        for data in [json!({"encryptMOKKeyToken": token}), json!({"resultCode": "2000", "encryptMOKKeyToken": token})] {
            let error = h.client.complete(&session, &posted(&data)).await.unwrap_err();
            assert!(matches!(error, Error::IntegrityMismatch { .. }), "{data}: {error:?}");
            assert!(!format!("{error} {error:?}").contains(token));
        }
    }
    assert_eq!(result_requests(&h), 8, "each token went to mobileOK, which refused it");
    let delivery = h.sim.complete_window(&info, Some("kim-mvno")).unwrap();
    h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap();
}

#[tokio::test]
async fn the_window_posts_only_a_key_token_in_moktoken_mode() {
    let h = harness(CryptoGeneration::V1).await;
    let (_, info) = window_session(&h, &new_id()).await;
    let delivery = h.sim.complete_window(&info, Some("hong")).unwrap();
    let data: Value =
        serde_json::from_str(&percent_encoding::percent_decode_str(&delivery.data).decode_utf8().unwrap()).unwrap();
    assert!(data["encryptMOKKeyToken"].is_string(), "{data}");
    assert!(data.get("encryptMOKResult").is_none(), "{data}");
    // A transfer type the window does not know is refused, not taken for one it does.
    let mut info: Value = serde_json::from_str(&info).unwrap();
    for transfer in [Value::Null, json!("mokresult"), json!("MOKToken "), json!(1)] {
        info["retTransferType"] = transfer;
        assert!(matches!(h.sim.complete_window(&info.to_string(), Some("hong")), Err(WindowError::Code("4000", _))));
    }
}

#[tokio::test]
async fn result_request_exchanges_a_key_token_once() {
    let h = harness(CryptoGeneration::V1).await;
    let (_, info) = window_session(&h, &new_id()).await;
    let delivery = h.sim.complete_window(&info, Some("hong")).unwrap();
    let data: Value =
        serde_json::from_str(&percent_encoding::percent_decode_str(&delivery.data).decode_utf8().unwrap()).unwrap();
    let http = HttpClient::new(
        ProviderId::Mobileok,
        Arc::new(ReqwestTransport::new(&HttpConfig::default()).unwrap()),
        RetryPolicy::NONE,
    );
    let exchange = || async {
        let request = bonin_adapters_http::HttpRequest::post(
            "result",
            format!("{}/gui/service/v1/result/request", h.server.base_url()),
        )
        .header("Content-Type", "application/json")
        .body(json!({"encryptMOKKeyToken": data["encryptMOKKeyToken"]}).to_string().into_bytes());
        let response = http.send(request).await.unwrap();
        assert_eq!(response.header("content-type"), Some("text/plain;charset=UTF-8"));
        serde_json::from_slice::<Value>(&response.body).unwrap()
    };
    let first = exchange().await;
    assert_eq!(first["resultCode"], "2000");
    assert!(first["encryptMOKResult"].is_string());
    let second = exchange().await;
    assert_eq!(second["resultCode"], "4040");
    assert!(second.get("encryptMOKResult").is_none());
}

#[tokio::test]
async fn a_result_without_a_readable_issue_date_does_not_verify() {
    let h = harness(CryptoGeneration::V1).await;
    let values = [
        Value::Null,
        json!(""),
        json!("２０２５-０１-０１ ００:００:００"),
        json!("2025-13-45 99:99:99"),
        json!(1),
        // Readable, but before the first instant a timestamp can hold once moved to UTC.
        json!("-9999-01-01 00:00:00"),
    ];
    for value in values {
        h.sim.set_tweaks(ResultTweaks {
            fields: [("issueDate".to_owned(), value.clone())].into_iter().collect(),
            ..ResultTweaks::default()
        });
        let (session, info) = window_session(&h, &new_id()).await;
        let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
        let error = h.client.complete(&session, &callback).await.unwrap_err();
        assert!(matches!(error, Error::Protocol { .. }), "{value}: {error:?}");
    }
    // The ends of the calendar that a timestamp can hold are read; the age rule judges them.
    for value in ["9999-12-31 23:59:59", "0000-01-01 00:00:00"] {
        h.sim.set_tweaks(ResultTweaks {
            fields: [("issueDate".to_owned(), json!(value))].into_iter().collect(),
            ..ResultTweaks::default()
        });
        let (session, info) = window_session(&h, &new_id()).await;
        let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
        let issued = h.client.complete(&session, &callback).await.unwrap().result_issued_at.unwrap();
        assert!(session.check_result_age(issued, h.clock.now()).is_err(), "{value}");
    }
}

#[tokio::test]
async fn odd_fields_in_mobileoks_result_are_errors_or_left_out_never_panics() {
    let h = harness(CryptoGeneration::V1).await;
    let odd = [
        ("clientTxId", json!(12345)),
        ("clientTxId", json!("한글한글한글한글한글한글한글한글")),
        ("userBirthday", json!("１９９０0215")),
        ("userBirthday", json!("1990-0\u{00e9}-15")),
        ("userName", json!({"first": "홍"})),
        ("userPhone", json!("０１０１２３４５６７８")),
        ("userGender", json!(["1"])),
        ("providerId", json!("\u{1F600}")),
        ("ci", json!("")),
        ("txId", json!(null)),
    ];
    for (field, value) in odd {
        h.sim.set_tweaks(ResultTweaks {
            fields: [(field.to_owned(), value.clone())].into_iter().collect(),
            ..ResultTweaks::default()
        });
        let (session, info) = window_session(&h, &new_id()).await;
        let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
        match h.client.complete(&session, &callback).await {
            Ok(_) => assert_ne!(field, "clientTxId"),
            Err(error) => {
                assert!(matches!(error, Error::IntegrityMismatch { .. }), "{field}={value}: {error:?}");
                assert!(!format!("{error} {error:?}").contains("한글"));
            }
        }
    }
}

#[tokio::test]
async fn hostile_data_fields_are_errors_with_fixed_texts() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, info) = window_session(&h, &new_id()).await;
    let deep = "[".repeat(10_000);
    let raw: Vec<String> = [
        "%",
        "%E",
        "%E2%82",
        "%FF%FE",
        "%C3%28",
        "한글",
        "%ED%95%9C%EA",
        "%ZZ%7B",
        "+",
        "{",
        "[]",
        "%22text%22",
        "123",
        "null",
        "%7B%22encryptMOKKeyToken%22%3A7%7D",
        "%7B%22encryptMOKKeyToken%22%3A%5B%5D%7D",
        "%7B%22encryptMOKKeyToken%22%3A%22%20%20%22%7D",
        "%7B%22encryptMOKResult%22%3A1%7D",
        "%7B%22%ED%95%9C%22%3A%22%EA%B8%80%22%7D",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([deep.clone(), utf8_percent_encode(&deep, NON_ALPHANUMERIC).to_string()])
    .collect();
    for value in &raw {
        let callback = CallbackParams::new(CallbackTransport::Post).with("data", value.clone());
        let error = h.client.complete(&session, &callback).await.unwrap_err();
        let text = format!("{error} {error:?}");
        for marker in ["한", "글", "%E2", "%FF", "ZZ", "text", "[[["] {
            assert!(!text.contains(marker), "{value}: {text}");
        }
    }
    let delivery = h.sim.complete_window(&info, Some("hong")).unwrap();
    h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap();
}

#[tokio::test]
async fn odd_replies_from_result_request_are_errors_that_end_nothing() {
    let h = harness(CryptoGeneration::V1).await;
    for fault in
        [Fault::Malformed, Fault::Truncated, Fault::status(500), Fault::status(404), Fault::provider_code("5028")]
    {
        let (session, info) = window_session(&h, &new_id()).await;
        let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
        h.server.faults().inject("/gui/service/v1/result/request", fault.clone(), Times::Once);
        let error = h.client.complete(&session, &callback).await.unwrap_err();
        assert!(!matches!(error, Error::Rejected { .. } | Error::Expired), "{fault:?}: {error:?}");
    }
}

#[test]
fn hostile_encrypted_results_are_integrity_errors_with_fixed_texts() {
    let key_file = KeyFile::unlock(&keys().key_file(PASSWORD, false), &SecretString::from(PASSWORD)).unwrap();
    let long = "A".repeat(100_000);
    let values = [
        "",
        "|",
        "||",
        "한|글",
        "한글",
        "AAAA|AAAA",
        "=|=",
        "%%|%%",
        &long,
        &format!("{long}|{long}"),
        &format!("{}|AAAA", STANDARD.encode([0u8; 256])),
        &format!("{}|AAAA", STANDARD.encode([0xFFu8; 256])),
        &format!("{}|AAAA", STANDARD.encode([1u8; 255])),
    ];
    for value in values {
        let error = bonin_adapters_mobileok::crypto::decrypt_result(&key_file, value).unwrap_err();
        assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
        let text = format!("{error} {error:?}");
        assert!(!text.contains("한") && !text.contains("AAAA") && !text.contains("%%"), "{text}");
    }
}

/// Locks `plaintext` the way `mok_keyInfo.dat` is locked.
fn lock_key_file(plaintext: &[u8], password: &str) -> Vec<u8> {
    use aws_lc_rs::{
        cipher::{AES_256, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey},
        digest,
        iv::FixedLength,
    };
    let h1 = digest::digest(&digest::SHA256, password.as_bytes());
    let h2 = digest::digest(&digest::SHA256, h1.as_ref());
    let key = [&h1.as_ref()[..16], &h2.as_ref()[16..]].concat();
    let iv: [u8; 16] = h2.as_ref()[..16].try_into().unwrap();
    let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &key).unwrap()).unwrap();
    let mut data = plaintext.to_vec();
    cipher.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv))).unwrap();
    data
}

#[test]
fn hostile_key_files_are_misconfigured_with_fixed_texts() {
    let marker = "비밀키";
    let garbage_der = STANDARD.encode(format!("{marker}-not-der"));
    let plaintexts: Vec<Vec<u8>> = [
        "not json".to_owned(),
        "[]".to_owned(),
        format!("\"{marker}\""),
        format!(r#"{{"ServiceId":"{marker}","ClientPrivateKey":"{marker}"}}"#),
        format!(r#"{{"ServiceId":"svc","ClientPrivateKey":"{garbage_der}"}}"#),
        format!(r#"{{"ServiceId":"  ","ClientPrivateKey":"{garbage_der}"}}"#),
        format!(r#"{{"ServiceId":7,"ClientPrivateKey":"{garbage_der}"}}"#),
        format!(r#"{{"ServiceId":"svc","ClientPrivateKey":"{garbage_der}","ServerPublicKey":"{marker}"}}"#),
    ]
    .into_iter()
    .map(String::into_bytes)
    .chain([vec![0xFF, 0xFE, 0x80], vec![b'{'; 4096]])
    .collect();
    let mut files: Vec<Vec<u8>> = plaintexts.iter().map(|p| lock_key_file(p, PASSWORD)).collect();
    files.push((0..=255u8).collect());
    files.push(vec![0u8; 16]);
    // A real private key with a damaged server key.
    let real = KeyFile::unlock(&keys().key_file(PASSWORD, false), &SecretString::from(PASSWORD)).unwrap();
    assert!(real.client_public_key_der().len() > 200);
    for file in &files {
        let error = KeyFile::unlock(file, &SecretString::from(PASSWORD)).unwrap_err();
        assert!(matches!(error, Error::Misconfigured { .. }), "{error:?}");
        let text = format!("{error} {error:?}");
        assert!(!text.contains(marker) && !text.contains(PASSWORD) && !text.contains("not-der"), "{text}");
    }
    for text in ["한글", "%%%%", "AAAA\u{0301}"] {
        let error = KeyFile::from_base64(text, &SecretString::from(PASSWORD)).unwrap_err();
        assert!(!format!("{error} {error:?}").contains(text));
    }
}

// --- 본인확인-API ---

fn subject_of(key: &str) -> OtpSubject {
    let p = personas::by_key(key).unwrap();
    OtpSubject {
        name: Name::new(p.name).unwrap(),
        phone: PhoneNumber::new(p.phone).unwrap(),
        birth_date: BirthDate::parse(p.birth_date).unwrap(),
        gender: p.gender,
        nationality: p.nationality,
        carrier: p.carrier,
    }
}

async fn otp_session(h: &Harness, key: &str, channel: OtpChannel) -> Verification {
    let id = new_id();
    let dispatch = h.client.send(&OtpRequest::new(id.clone(), subject_of(key), channel)).await.unwrap();
    assert_eq!(dispatch.provider_key.as_ref().unwrap().value, id.as_str());
    Verification::start(id, ProviderId::Mobileok, Method::Otp, FLOW_RULES, h.clock.now())
        .otp_sent(h.clock.now(), dispatch.provider_state, dispatch.provider_key)
        .unwrap()
}

fn code_of(key: &str) -> OtpCode {
    OtpCode::new(personas::by_key(key).unwrap().otp).unwrap()
}

async fn confirm(h: &Harness, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
    session.ensure_can_confirm(h.clock.now())?;
    h.client.confirm(session, code).await
}

#[tokio::test]
async fn otp_happy_path_for_every_persona_in_both_generations() {
    for generation in [CryptoGeneration::V1, CryptoGeneration::V2] {
        let h = harness(generation).await;
        for persona in personas::ALL {
            let session = otp_session(&h, persona.key, OtpChannel::Sms).await;
            assert!(h.sim.sent_codes().contains(&(persona.phone.to_owned(), persona.otp.to_owned())));
            match confirm(&h, &session, Some(code_of(persona.key))).await.unwrap() {
                OtpOutcome::Verified(completion) => {
                    assert_eq!(completion.identity.name.unwrap().expose(), persona.name);
                    assert_eq!(completion.identity.carrier, Some(persona.carrier));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn lms_and_pass_are_supported() {
    let h = harness(CryptoGeneration::V1).await;
    let session = otp_session(&h, "hong", OtpChannel::Lms).await;
    assert!(matches!(confirm(&h, &session, Some(code_of("hong"))).await.unwrap(), OtpOutcome::Verified(_)));
    let session = otp_session(&h, "wilson", OtpChannel::Pass).await;
    h.sim.approve_pass(personas::by_key("wilson").unwrap().phone);
    assert!(matches!(confirm(&h, &session, None).await.unwrap(), OtpOutcome::Verified(_)));
    let error = h.client.send(&OtpRequest::new(new_id(), subject_of("hong"), OtpChannel::App)).await.unwrap_err();
    assert!(matches!(error, Error::InvalidInput { .. }));
}

#[tokio::test]
async fn wrong_code_twice_then_right_uses_each_retry_token() {
    let h = harness(CryptoGeneration::V2).await;
    let mut session = otp_session(&h, "kim-mvno", OtpChannel::Sms).await;
    for _ in 0..2 {
        match confirm(&h, &session, Some(OtpCode::new("000000").unwrap())).await.unwrap() {
            OtpOutcome::WrongCode { retry_state, provider_code } => {
                assert_eq!(provider_code, "4030");
                session = session.otp_rejected(h.clock.now(), retry_state).unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(confirm(&h, &session, Some(code_of("kim-mvno"))).await.unwrap(), OtpOutcome::Verified(_)));
}

#[tokio::test]
async fn three_wrong_codes_exhaust_the_attempts() {
    let h = harness(CryptoGeneration::V1).await;
    let mut session = otp_session(&h, "hong", OtpChannel::Sms).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        match confirm(&h, &session, Some(OtpCode::new("000000").unwrap())).await.unwrap() {
            OtpOutcome::WrongCode { retry_state, provider_code } => {
                codes.push((provider_code, retry_state.is_some()));
                session = session.otp_rejected(h.clock.now(), retry_state).unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(codes, [("4030".to_owned(), true), ("4030".to_owned(), true), ("4031".to_owned(), false)]);
    assert_eq!(session.stored_status(), Status::Failed);
    assert_eq!(confirm(&h, &session, Some(code_of("hong"))).await.unwrap_err(), Error::AlreadyCompleted);
    assert_eq!(session.failure().unwrap().code, ErrorCode::AttemptsExhausted);
}

#[tokio::test]
async fn confirming_after_seven_minutes_is_expired() {
    let h = harness(CryptoGeneration::V1).await;
    let session = otp_session(&h, "hong", OtpChannel::Sms).await;
    h.clock.advance(Duration::from_secs(7 * 60));
    assert_eq!(confirm(&h, &session, Some(code_of("hong"))).await.unwrap_err(), Error::Expired);
    // The provider holds the same line.
    h.sim.age(Duration::from_secs(7 * 60));
    assert!(
        matches!(h.client.confirm(&session, Some(code_of("hong"))).await, Ok(OtpOutcome::WrongCode { provider_code, .. }) if provider_code == "4011")
    );
}

#[tokio::test]
async fn a_used_token_is_refused() {
    let h = harness(CryptoGeneration::V1).await;
    let session = otp_session(&h, "hong", OtpChannel::Sms).await;
    assert!(matches!(confirm(&h, &session, Some(code_of("hong"))).await.unwrap(), OtpOutcome::Verified(_)));
    // The same (stale) token again: mobileOK tokens are single use.
    assert!(
        matches!(h.client.confirm(&session, Some(code_of("hong"))).await, Ok(OtpOutcome::WrongCode { retry_state: None, provider_code }) if provider_code == "4010")
    );
}

#[tokio::test]
async fn resend_rotates_the_token() {
    let h = harness(CryptoGeneration::V1).await;
    let session = otp_session(&h, "hong", OtpChannel::Sms).await;
    let dispatch = h.client.resend(&session).await.unwrap();
    let resent = session.otp_resent(h.clock.now(), dispatch.provider_state).unwrap();
    assert_eq!(h.sim.sent_codes().iter().filter(|(p, _)| p == "01012345678").count(), 2);
    assert!(
        matches!(
            h.client.confirm(&session, Some(code_of("hong"))).await,
            Ok(OtpOutcome::WrongCode { retry_state: None, .. })
        ),
        "the old token is spent"
    );
    assert!(matches!(confirm(&h, &resent, Some(code_of("hong"))).await.unwrap(), OtpOutcome::Verified(_)));
}

#[tokio::test]
async fn details_that_match_no_subscriber_are_rejected() {
    let h = harness(CryptoGeneration::V1).await;
    let mut subject = subject_of("hong");
    subject.birth_date = BirthDate::parse("19900216").unwrap();
    let error = h.client.send(&OtpRequest::new(new_id(), subject, OtpChannel::Sms)).await.unwrap_err();
    assert!(matches!(error, Error::Rejected { code, .. } if code == "4020"));
}

#[tokio::test]
async fn an_unregistered_site_is_misconfigured_and_unknown_codes_are_kept() {
    let h = harness_with(
        CryptoGeneration::V1,
        MobileokSimConfig { site_urls: vec!["other.example".into()], ..MobileokSimConfig::default() },
    )
    .await;
    let error = h.client.send(&OtpRequest::new(new_id(), subject_of("hong"), OtpChannel::Sms)).await.unwrap_err();
    assert!(matches!(error, Error::Misconfigured { reason } if reason.contains("not registered")));
    let h = harness(CryptoGeneration::V1).await;
    h.server.faults().inject("/agent/v1/token/get", Fault::provider_code("9876"), Times::Once);
    let error = h.client.send(&OtpRequest::new(new_id(), subject_of("hong"), OtpChannel::Sms)).await.unwrap_err();
    assert_eq!(error, Error::rejected(ProviderId::Mobileok, "9876", Some("injected".into())));
    h.server.faults().inject("/agent/v1/auth/request", Fault::status(502), Times::Once);
    let error = h.client.send(&OtpRequest::new(new_id(), subject_of("hong"), OtpChannel::Sms)).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    h.server.faults().inject("/agent/v1/auth/request", Fault::Hang, Times::Once);
    let error = h.client.send(&OtpRequest::new(new_id(), subject_of("hong"), OtpChannel::Sms)).await.unwrap_err();
    assert!(matches!(error, Error::Indeterminate { .. }), "an OTP send that timed out may have been sent: {error:?}");
    h.server.faults().inject("/gui/service/v1/result/request", Fault::Truncated, Times::Once);
    let (session, info) = window_session(&h, &new_id()).await;
    let callback = callback_from(&h.sim.complete_window(&info, Some("hong")).unwrap().form_body());
    assert!(matches!(h.client.complete(&session, &callback).await, Err(Error::Protocol { .. })));
}

#[tokio::test]
async fn nothing_personal_reaches_errors_or_debug_output() {
    let h = harness(CryptoGeneration::V1).await;
    let session = otp_session(&h, "hong", OtpChannel::Sms).await;
    let outcome = confirm(&h, &session, Some(code_of("hong"))).await.unwrap();
    let wrong = otp_session(&h, "wilson", OtpChannel::Sms).await;
    let failed = confirm(&h, &wrong, Some(OtpCode::new("000000").unwrap())).await.unwrap();
    for text in [format!("{outcome:?}"), format!("{failed:?}"), format!("{session:?}"), format!("{:?}", h.client)] {
        for persona in personas::ALL {
            for value in [persona.name, persona.phone, persona.ci, persona.di, persona.birth_date, persona.otp] {
                assert!(!text.contains(value), "leak in {text}");
            }
        }
        assert!(!text.contains(PASSWORD));
    }
}

// --- protocol fidelity ---

fn raw_http() -> HttpClient {
    HttpClient::new(
        ProviderId::Mobileok,
        Arc::new(ReqwestTransport::new(&HttpConfig::default()).unwrap()),
        RetryPolicy::NONE,
    )
}

#[tokio::test]
async fn lms_is_an_sms_request_with_the_lms_service_type() {
    let h = harness(CryptoGeneration::V1).await;
    let session = otp_session(&h, "hong", OtpChannel::Lms).await;
    let sent = h.sim.sent_messages();
    assert_eq!(sent.last().map(|m| m.channel), Some("LMS"), "the code went by LMS");
    assert!(matches!(confirm(&h, &session, Some(code_of("hong"))).await.unwrap(), OtpOutcome::Verified(_)));
    let session = otp_session(&h, "wilson", OtpChannel::Sms).await;
    assert_eq!(h.sim.sent_messages().last().map(|m| m.channel), Some("SMS"));
    assert!(matches!(confirm(&h, &session, Some(code_of("wilson"))).await.unwrap(), OtpOutcome::Verified(_)));
}

#[tokio::test]
async fn a_pass_confirm_before_the_approval_gives_the_attempt_back() {
    let h = harness(CryptoGeneration::V2).await;
    let mut session = otp_session(&h, "wilson", OtpChannel::Pass).await;
    let phone = personas::by_key("wilson").unwrap().phone;
    // Asked three times before the person taps the push: none of them is a wrong code.
    for _ in 0..3 {
        let reserved = session.reserve_confirm(h.clock.now(), Duration::from_secs(30)).unwrap();
        match h.client.confirm(&reserved, None).await.unwrap() {
            OtpOutcome::NotYetApproved { retry_state, provider_code } => {
                assert_eq!(provider_code, "4032");
                assert!(retry_state.is_some(), "mobileOK's new token carries the request on");
                session = reserved.release_confirm_with(true, retry_state).unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(session.otp_attempts_left(), 3);
    assert_eq!(h.sim.approve_pass(phone), 1);
    assert!(matches!(confirm(&h, &session, None).await.unwrap(), OtpOutcome::Verified(_)));
}

#[tokio::test]
async fn relaunching_a_window_uses_a_fresh_client_tx_id() {
    for generation in [CryptoGeneration::V1, CryptoGeneration::V2] {
        let h = harness(generation).await;
        let (session, first) = window_session(&h, &new_id()).await;
        // The SDK asks for the request info again (a popup closed and opened, a page reloaded).
        let second = h.client.launch_data(&session).unwrap().unwrap();
        assert_ne!(first, second);
        // Both windows open at mobileOK, which refuses a clientTxId it has seen.
        h.sim.complete_window(&first, Some("wilson")).unwrap();
        let delivery = h.sim.complete_window(&second, Some("hong")).unwrap();
        let completion = h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap();
        assert_eq!(completion.identity.name.unwrap().expose(), personas::by_key("hong").unwrap().name);
    }
}

#[tokio::test]
async fn a_window_of_another_verification_does_not_complete_this_one() {
    let h = harness(CryptoGeneration::V1).await;
    let (session, _) = window_session(&h, &new_id()).await;
    let (_, other) = window_session(&h, &new_id()).await;
    let delivery = h.sim.complete_window(&other, Some("hong")).unwrap();
    let error = h.client.complete(&session, &callback_from(&delivery.form_body())).await.unwrap_err();
    assert!(matches!(error, Error::IntegrityMismatch { .. }), "{error:?}");
}

#[tokio::test]
async fn an_otp_sent_again_after_a_failed_send_uses_a_fresh_client_tx_id() {
    let h = harness(CryptoGeneration::V1).await;
    let id = new_id();
    // auth/request fails after token/get consumed the first clientTxId.
    h.server.faults().inject("/agent/v1/auth/request", Fault::status(503), Times::Once);
    let error = h.client.send(&OtpRequest::new(id.clone(), subject_of("hong"), OtpChannel::Sms)).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    h.client.send(&OtpRequest::new(id, subject_of("hong"), OtpChannel::Sms)).await.unwrap();
}

#[tokio::test]
async fn mobileok_refuses_a_token_request_without_a_site_url() {
    let h = harness(CryptoGeneration::V2).await;
    let key_file = h.client.key_file();
    let encrypted = bonin_adapters_mobileok::crypto::encrypt_req_client_info(
        key_file,
        CryptoGeneration::V2,
        &format!("{}x", new_id()),
        h.clock.now(),
    )
    .unwrap();
    let request =
        bonin_adapters_http::HttpRequest::post("token", format!("{}/agent/v2/token/get", h.server.base_url()))
            .header("Content-Type", "application/json")
            .body(
                json!({"serviceId": key_file.service_id(), "encryptReqClientInfo": encrypted}).to_string().into_bytes(),
            );
    let reply: Value = serde_json::from_slice(&raw_http().send(request).await.unwrap().body).unwrap();
    assert_eq!(reply["resultCode"], "4003");
}

#[test]
fn a_site_url_is_required() {
    let key_file = keys().key_file(PASSWORD, false);
    for site_url in ["", "  ", "https://", "ftp://shop.example", "shop example", "https://shop.example/\n"] {
        let mut config = config_for(&key_file, "http://127.0.0.1:9");
        config.site_url = site_url.to_owned();
        let error = MobileokClient::from_config(config).unwrap_err();
        assert!(
            matches!(&error, Error::Misconfigured { reason } if reason.contains("site_url")),
            "{site_url:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn the_token_endpoint_follows_the_crypto_unless_set_and_v2_can_be_set_for_either() {
    for (generation, endpoint) in [(CryptoGeneration::V1, TokenEndpoint::V1), (CryptoGeneration::V2, TokenEndpoint::V2)]
    {
        let mut config = MobileokConfig::new("key.dat".into(), SecretString::from("x"), "https://shop.example");
        config.crypto = generation;
        assert_eq!(config.effective_token_endpoint(), endpoint);
        config.token_endpoint = Some(TokenEndpoint::V2);
        assert_eq!(config.effective_token_endpoint(), TokenEndpoint::V2);
    }
    // A service that serves only the endpoint Dream's guide lists, set explicitly.
    let sim_config = MobileokSimConfig { v1_token_endpoint: false, ..MobileokSimConfig::default() };
    for generation in [CryptoGeneration::V1, CryptoGeneration::V2] {
        let sim = keys().fresh(sim_config.clone());
        let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut config = config_for(&sim.key_file(PASSWORD, true), &server.base_url());
        config.crypto = generation;
        config.token_endpoint = Some(TokenEndpoint::V2);
        let h = client_for(sim, server, config);
        let session = otp_session(&h, "hong", OtpChannel::Sms).await;
        assert!(matches!(confirm(&h, &session, Some(code_of("hong"))).await.unwrap(), OtpOutcome::Verified(_)));
    }
}

#[tokio::test]
async fn the_v1_token_endpoint_is_a_setting_of_its_own() {
    for generation in [CryptoGeneration::V1, CryptoGeneration::V2] {
        let sim = keys().fresh(MobileokSimConfig::default());
        let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut config = config_for(&sim.key_file(PASSWORD, true), &server.base_url());
        config.crypto = generation;
        config.token_endpoint = Some(TokenEndpoint::V1);
        let h = client_for(sim, server, config);
        // The token request goes to v1, whatever the request crypto.
        h.server.faults().inject("/agent/v1/token/get", Fault::provider_code("9876"), Times::Once);
        let error = h.client.send(&OtpRequest::new(new_id(), subject_of("hong"), OtpChannel::Sms)).await.unwrap_err();
        assert!(matches!(&error, Error::Rejected { code, .. } if code == "9876"), "{error:?}");
        let session = otp_session(&h, "hong", OtpChannel::Sms).await;
        assert!(matches!(confirm(&h, &session, Some(code_of("hong"))).await.unwrap(), OtpOutcome::Verified(_)));
    }
}

#[tokio::test]
async fn a_pass_request_mobileok_has_closed_counts_as_an_attempt() {
    let h = harness(CryptoGeneration::V1).await;
    let session = otp_session(&h, "wilson", OtpChannel::Pass).await;
    // Past mobileOK's seven minutes the token is refused without a new one: nothing to wait for.
    h.sim.age(Duration::from_secs(7 * 60));
    assert!(matches!(
        h.client.confirm(&session, None).await.unwrap(),
        OtpOutcome::WrongCode { retry_state: None, provider_code } if provider_code == "4011"
    ));
}

#[test]
fn production_refuses_a_plain_http_site_url_and_keeps_a_bare_host() {
    let key_file = keys().key_file(PASSWORD, false);
    let mut config = config_for(&key_file, "http://127.0.0.1:9");
    config.validate_for_production().unwrap();
    for site_url in ["http://shop.example", "HTTP://shop.example", "https://"] {
        config.site_url = site_url.to_owned();
        assert!(matches!(config.validate_for_production(), Err(Error::Misconfigured { .. })), "{site_url}");
    }
    // A bare host, as Dream's samples register it, is sent exactly as registered, in production too.
    config.site_url = "shop.example".into();
    config.validate().unwrap();
    config.validate_for_production().unwrap();
}
