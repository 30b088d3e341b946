//! Hostile input for the mobileOK adapter: the key file (bytes, Base64, its JSON and DER), the
//! 표준창's `data` field (URL-encoded JSON after the form layer), `encryptMOKResult` envelopes and
//! the results inside them, every 본인확인-API answer, and the code table. No input may panic and no
//! error may carry the result's personal data.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::{
    cipher::{AES_256, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey},
    digest,
    encoding::AsDer,
    iv::FixedLength,
    rsa::{KeySize, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_http::{FnTransport, HttpClient, HttpRequest, HttpResponse, RetryPolicy};
use bonin_adapters_mobileok::{FLOW_RULES, KeyFile, MobileokClient, MobileokConfig, codes, crypto};
use bonin_domain::*;
use bonin_sandbox::fuzz::{any_text, canary, check, json_body, mutated, mutated_bytes, no_leak};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::{prelude::*, test_runner::TestCaseError};
use serde_json::{Value, json};

// Keys and envelopes.

const PASSWORD: &str = "key-file-password";
const CLIENT_TX_ID: &str = "vf0123456789abcdefghjkmnpq";

struct Keys {
    pkcs8: Vec<u8>,
    spki: Vec<u8>,
    key_file: KeyFile,
}

/// One RSA pair for the whole binary (client and server alike): generating keys is slow.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let pkcs8 = private.as_der().unwrap().as_ref().to_vec();
        let spki = private.public_key().as_der().unwrap().as_ref().to_vec();
        let key_file =
            KeyFile::unlock(&key_file_bytes(key_file_json(&pkcs8, &spki).to_string().as_bytes()), &password()).unwrap();
        Keys { pkcs8, spki, key_file }
    })
}

fn password() -> SecretString {
    SecretString::from(PASSWORD)
}

fn key_file_json(pkcs8: &[u8], spki: &[u8]) -> Value {
    json!({"ServiceId": "service-1", "ClientPrivateKey": STANDARD.encode(pkcs8), "ServerPublicKey": STANDARD.encode(spki)})
}

fn aes_encrypt(key: &[u8], iv: [u8; 16], plaintext: &[u8]) -> Vec<u8> {
    let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, key).unwrap()).unwrap();
    let mut data = plaintext.to_vec();
    cipher.less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(iv))).unwrap();
    data
}

/// `mok_keyInfo.dat` for `json` (any bytes) under [`PASSWORD`].
fn key_file_bytes(json: &[u8]) -> Vec<u8> {
    let h1 = digest::digest(&digest::SHA256, PASSWORD.as_bytes());
    let h2 = digest::digest(&digest::SHA256, h1.as_ref());
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&h1.as_ref()[..16]);
    key[16..].copy_from_slice(&h2.as_ref()[16..]);
    aes_encrypt(&key, h2.as_ref()[..16].try_into().unwrap(), json)
}

fn sha256_b64(data: &[u8]) -> String {
    STANDARD.encode(digest::digest(&digest::SHA256, data))
}

/// An `encryptMOKResult` for `plaintext`: `Base64(OAEP(key_part)) | Base64(AES(plaintext))`, with
/// `key_part` as given (normally `Base64(key ‖ iv) | Base64(SHA-256(plaintext))`).
fn seal_with(key_part: &str, key_iv: &[u8; 48], plaintext: &[u8]) -> String {
    let public = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&keys().spki).unwrap()).unwrap();
    let mut out = vec![0u8; public.ciphertext_size()];
    let enc_key = public.encrypt(&OAEP_SHA256_MGF1SHA256, key_part.as_bytes(), &mut out, None).unwrap();
    let data = aes_encrypt(&key_iv[..32], key_iv[32..].try_into().unwrap(), plaintext);
    format!("{}|{}", STANDARD.encode(enc_key), STANDARD.encode(data))
}

fn seal(plaintext: &[u8]) -> String {
    let key_iv = [7u8; 48];
    seal_with(&format!("{}|{}", STANDARD.encode(key_iv), sha256_b64(plaintext)), &key_iv, plaintext)
}

// The adapter over canned answers.

fn now() -> Timestamp {
    time::macros::datetime!(2026-01-01 00:00 UTC)
}

/// Answers each request with the status and body set for its path (`{}` when none).
type Answers = Arc<Mutex<Vec<(&'static str, u16, Vec<u8>)>>>;

fn client(answers: &Answers) -> MobileokClient {
    let answers = answers.clone();
    let transport = FnTransport::new(move |request: &HttpRequest| {
        let answers = answers.lock().unwrap();
        let (_, status, body) = answers.iter().find(|(path, _, _)| request.url.contains(path)).cloned().unwrap_or((
            "",
            200,
            b"{}".to_vec(),
        ));
        Ok(HttpResponse::new(status, body))
    });
    let keys = keys();
    let mut config = MobileokConfig::new(std::path::PathBuf::new(), password(), "shop.example");
    config.key_file = None;
    config.key_file_base64 = Some(SecretString::from(
        STANDARD.encode(key_file_bytes(key_file_json(&keys.pkcs8, &keys.spki).to_string().as_bytes())),
    ));
    config.api_base = "https://mobileok.test".into();
    config.window_base = "https://mobileok.test".into();
    let http = HttpClient::new(ProviderId::Mobileok, Arc::new(transport), RetryPolicy::NONE);
    MobileokClient::new(config, http, Arc::new(ManualClock::new(now())), Arc::new(OsRng)).unwrap()
}

fn session(method: Method, state: Value) -> Verification {
    let id = VerificationId::parse(CLIENT_TX_ID).unwrap();
    Verification::start(id, ProviderId::Mobileok, method, FLOW_RULES, now()).with_provider_session(
        Some(ProviderKey::new(ProviderId::Mobileok, CLIENT_TX_ID)),
        ProviderState::new(state.to_string()),
        None,
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

/// The personal data of one result, as canaries.
#[derive(Debug, Clone)]
struct Person {
    name: String,
    birthday: String,
    phone: String,
    ci: String,
    di: String,
}

fn person() -> impl Strategy<Value = Person> {
    ("카나리[가-힣]{1,4}", 1900u16..2030, 1u8..13, 1u8..29, "010[0-9]{8}", canary(), canary()).prop_map(
        |(name, y, m, d, phone, ci, di)| Person {
            name,
            birthday: format!("{y:04}{m:02}{d:02}"),
            phone,
            ci: format!("CI{ci}"),
            di: format!("DI{di}"),
        },
    )
}

/// `issueDate` values, ordinary and at the ends of the calendar.
fn issue_date() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2026-01-01 08:59:30".to_owned()),
        Just("-9999-01-01 00:00:00".to_owned()),
        Just("9999-12-31 23:59:59".to_owned()),
        Just("0000-01-01 00:00:00".to_owned()),
        mutated(Just("2025-12-31 23:59:59".to_owned())),
    ]
}

fn result_json(person: &Person, issue_date: &str) -> Value {
    json!({
        "clientTxId": CLIENT_TX_ID, "txId": "tx-1", "issueDate": issue_date, "userName": person.name,
        "userPhone": person.phone, "userBirthday": person.birthday, "userGender": "1", "userNation": "0",
        "providerId": "KTMVNO", "ci": person.ci, "di": person.di, "serviceType": "telcoAuth",
    })
}

/// A decrypted result: a person's data, as JSON mutated or not.
fn result_body() -> impl Strategy<Value = (Person, Vec<u8>)> {
    (person(), issue_date()).prop_flat_map(|(person, date)| {
        let body = json_body(result_json(&person, &date));
        (Just(person), body)
    })
}

fn pii_stays_out(error: &Error, person: &Person) -> Result<(), TestCaseError> {
    let rendered = format!("{error} {error:?}");
    for value in [&person.name, &person.birthday, &person.phone, &person.ci, &person.di] {
        no_leak(&rendered, value)?;
    }
    Ok(())
}

fn window_state() -> Value {
    json!({"client_tx_id": CLIENT_TX_ID, "request_info": "{}"})
}

/// The `data` field after the form layer decoded it once: URL-encoded JSON.
fn data_field(json: &[u8]) -> String {
    utf8_percent_encode(&String::from_utf8_lossy(json), NON_ALPHANUMERIC).to_string()
}

/// The browser's `data` for a result to be fetched with `key_token`.
fn key_token_callback() -> CallbackParams {
    let data = json!({"resultCode": "2000", "encryptMOKKeyToken": "key+token/=="});
    CallbackParams::new(CallbackTransport::Post).with("data", data_field(data.to_string().as_bytes()))
}

/// mobileOK's `result/request` answer carrying `result` (any bytes) sealed to the key file.
fn result_reply(result: &[u8]) -> Vec<u8> {
    json!({"resultCode": "2000", "encryptMOKResult": seal(result)}).to_string().into_bytes()
}

#[test]
fn issue_date_at_the_edge_of_the_calendar_is_refused_not_a_panic() {
    let person = Person {
        name: "홍길동".into(),
        birthday: "19900215".into(),
        phone: "01012345678".into(),
        ci: "Q0k=".into(),
        di: "REk=".into(),
    };
    let reply = result_reply(result_json(&person, "-9999-01-01 00:00:00").to_string().as_bytes());
    let answers = Answers::new(Mutex::new(vec![("/result/request", 200, reply)]));
    let session = session(Method::Window, window_state());
    let outcome = runtime().block_on(client(&answers).complete(&session, &key_token_callback()));
    assert!(matches!(outcome, Err(Error::Protocol { .. })), "{outcome:?}");
}

#[test]
fn prop_window_result() {
    let runtime = runtime();
    let answers = Answers::default();
    let client = client(&answers);
    let session = session(Method::Window, window_state());
    let callback = key_token_callback();
    check!("prop_window_result", result_body(), |(person, body)| {
        *answers.lock().unwrap() = vec![("/result/request", 200, result_reply(&body))];
        match runtime.block_on(client.complete(&session, &callback)) {
            Ok(completion) => {
                let debug = format!("{:?}", completion.identity);
                prop_assert!(!debug.contains(&person.phone), "Debug shows the phone");
                prop_assert!(completion.result_issued_at.is_some());
            }
            Err(error) => pii_stays_out(&error, &person)?,
        }
        Ok(())
    });
}

#[test]
fn prop_window_data_field() {
    let runtime = runtime();
    let answers = Answers::default();
    let client = client(&answers);
    let session = session(Method::Window, window_state());
    let sealed = seal(
        result_json(
            &Person {
                name: "홍길동".into(),
                birthday: "19900215".into(),
                phone: "01012345678".into(),
                ci: "Q0k=".into(),
                di: "REk=".into(),
            },
            "2026-01-01 08:59:30",
        )
        .to_string()
        .as_bytes(),
    );
    let with_result = json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKResult": sealed});
    let with_token = json!({"resultCode": "2000", "encryptMOKKeyToken": "key+token/=="});
    let reply = json!({"resultCode": "2000", "encryptMOKResult": sealed});
    let data = prop_oneof![
        json_body(with_result.clone()).prop_map(|b| data_field(&b)),
        json_body(with_token).prop_map(|b| data_field(&b)),
        mutated(Just(data_field(with_result.to_string().as_bytes()))),
        mutated(Just(with_result.to_string())),
        any_text(),
    ];
    let strategy = (data, prop::collection::vec(any_text(), 0..2), json_body(reply), 100u16..600);
    check!("prop_window_data_field", strategy, |(data, extra, reply, status)| {
        *answers.lock().unwrap() = vec![("/result/request", status, reply)];
        let mut callback = CallbackParams::new(CallbackTransport::Post).with("data", data);
        for value in extra {
            callback = callback.with("data", value);
        }
        let _ = runtime.block_on(client.complete(&session, &callback));
        Ok(())
    });
}

#[test]
fn prop_result_envelope() {
    let keys = keys();
    let plaintext = br#"{"clientTxId":"vf0123456789abcdefghjkmnpq"}"#.to_vec();
    let key_iv = [9u8; 48];
    let key_part = format!("{}|{}", STANDARD.encode(key_iv), sha256_b64(&plaintext));
    let valid = seal_with(&key_part, &key_iv, &plaintext);
    let envelopes = prop_oneof![
        // The RSA part decrypts; what it holds is hostile.
        (mutated(Just(key_part)), any::<[u8; 48]>(), prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(part, key_iv, data)| seal_with(&part, &key_iv, &data)),
        mutated(Just(valid.clone())),
        mutated(Just(valid.replace('|', "||"))),
        any_text(),
    ];
    check!("prop_result_envelope", envelopes, |value| {
        match crypto::decrypt_result(&keys.key_file, &value) {
            Ok(bytes) => prop_assert!(bytes.len() < 1024),
            Err(error) => prop_assert!(matches!(error, Error::IntegrityMismatch { .. }), "not IntegrityMismatch"),
        }
        Ok(())
    });
}

#[test]
fn prop_key_file() {
    let keys = keys();
    let json = key_file_json(&keys.pkcs8, &keys.spki);
    let der = (mutated_bytes(keys.pkcs8.clone()), mutated_bytes(keys.spki.clone()))
        .prop_map(|(pkcs8, spki)| key_file_bytes(key_file_json(&pkcs8, &spki).to_string().as_bytes()));
    let files = prop_oneof![
        3 => der,
        2 => json_body(json.clone()).prop_map(|body| key_file_bytes(&body)),
        1 => mutated_bytes(key_file_bytes(json.to_string().as_bytes())),
        1 => prop::collection::vec(any::<u8>(), 0..96),
    ];
    check!("prop_key_file", (files, any::<bool>()), |(bytes, as_base64)| {
        let unlocked = if as_base64 {
            KeyFile::from_base64(&STANDARD.encode(&bytes), &password())
        } else {
            KeyFile::unlock(&bytes, &password())
        };
        match unlocked {
            Ok(file) => {
                prop_assert!(!file.service_id().trim().is_empty());
                let debug = format!("{file:?}");
                prop_assert!(!debug.contains(&STANDARD.encode(&keys.pkcs8)[..40]), "Debug shows the key");
            }
            Err(error) => prop_assert!(matches!(error, Error::Misconfigured { .. }), "not Misconfigured"),
        }
        Ok(())
    });
}

#[test]
fn prop_key_file_base64_text() {
    let text = STANDARD.encode(key_file_bytes(key_file_json(&keys().pkcs8, &keys().spki).to_string().as_bytes()));
    check!("prop_key_file_base64_text", prop_oneof![mutated(Just(text)), any_text()], |text| {
        if let Err(error) = KeyFile::from_base64(&text, &password()) {
            prop_assert!(matches!(error, Error::Misconfigured { .. }), "not Misconfigured");
        }
        Ok(())
    });
}

fn subject() -> OtpSubject {
    OtpSubject {
        name: Name::new("홍길동").unwrap(),
        phone: PhoneNumber::new("01012345678").unwrap(),
        birth_date: BirthDate::parse("19900215").unwrap(),
        gender: Gender::Male,
        nationality: Nationality::Domestic,
        carrier: Carrier::Skt,
    }
}

#[test]
fn prop_otp_answers() {
    let runtime = runtime();
    let answers = Answers::default();
    let client = client(&answers);
    let public_key = STANDARD.encode(&keys().spki);
    let token =
        json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKToken": "token+1", "publicKey": public_key});
    let next = json!({"resultCode": "2000", "encryptMOKToken": "token+2"});
    let otp_state =
        json!({"client_tx_id": CLIENT_TX_ID, "token": "token+1", "public_key": public_key, "auth_type": "SMS"});
    let answer = || (prop_oneof![4 => Just(200u16), 1 => 100u16..600], json_body(next.clone()));
    let confirm = (result_body(), prop_oneof![Just("2000"), Just("4001"), Just("")], 100u16..600).prop_map(
        |((person, body), code, status)| {
            let reply = json!({"resultCode": code, "encryptMOKToken": "token+3", "encryptMOKResult": seal(&body)});
            (person, status, reply.to_string().into_bytes())
        },
    );
    let strategy = (
        (prop_oneof![4 => Just(200u16), 1 => 100u16..600], json_body(token)),
        answer(),
        answer(),
        prop_oneof![confirm, (person(), 100u16..600, json_body(next.clone())).prop_map(|(p, s, b)| (p, s, b))],
        json_body(otp_state),
    );
    check!("prop_otp_answers", strategy, |(token, auth, resend, (person, confirm_status, confirm), state)| {
        *answers.lock().unwrap() = vec![
            ("/token/get", token.0, token.1),
            ("/auth/request", auth.0, auth.1),
            ("/auth/resend", resend.0, resend.1),
            ("/confirm/request", confirm_status, confirm),
        ];
        let id = VerificationId::parse(CLIENT_TX_ID).unwrap();
        let _ = runtime.block_on(client.send(&OtpRequest::new(id, subject(), OtpChannel::Sms)));
        let state: Value = serde_json::from_slice(&state).unwrap_or(Value::Null);
        let session = session(Method::Otp, state);
        let _ = runtime.block_on(client.resend(&session));
        let code = OtpCode::new("123456").ok();
        if let Err(error) = runtime.block_on(client.confirm(&session, code)) {
            pii_stays_out(&error, &person)?;
        }
        Ok(())
    });
}

#[test]
fn prop_public_key_and_codes() {
    let text = STANDARD.encode(&keys().spki);
    let strategy = (prop_oneof![mutated(Just(text)), any_text()], any_text(), proptest::option::of(any_text()));
    check!("prop_public_key_and_codes", strategy, |(key, code, message)| {
        if let Err(error) = crypto::parse_public_key(&key) {
            prop_assert!(matches!(error, Error::Protocol { .. }), "not Protocol");
        }
        let _ = codes::to_error(&code, message.as_deref());
        if let Some(at) = crypto::parse_issue_date(&code) {
            let _ = at.checked_to_offset(time::UtcOffset::UTC);
        }
        Ok(())
    });
}
