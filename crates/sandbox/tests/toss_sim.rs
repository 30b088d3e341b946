//! The Toss 본인확인 simulator over HTTP, driven as a merchant server drives Toss: token, request,
//! the person in the app (control endpoints or the `authUrl` page), status polls, result reads.
//! The client-side crypto below is written here from the reference, apart from the simulator's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey},
    rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPublicEncryptingKey, PublicEncryptingKey},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::ManualClock;
use bonin_sandbox::{
    Fault, Persona, SandboxServer, Times, personas,
    toss::{
        self, APPROVE_PATH, AUTH_PAGE_PATH, AUTH_REQUEST_PATH, AUTH_RESULT_PATH, AUTH_STATUS_PATH, ControlError,
        ID_REQUEST_PATH, ID_RESULT_PATH, ID_STATUS_PATH, OPEN_PATH, PathFamily, REFUSE_PATH, ServerKeySource,
        TEST_CLIENT_ID, TEST_CLIENT_SECRET, TOKEN_PATH, TOSS_TEST_PERSON, TossSimConfig, TossSimulator, TossStatus,
        codes, crypto::TossSession,
    },
};
use serde_json::{Value, json};

const TEST_PRIVATE_KEY: &str = include_str!("data/toss/test_private_key.b64");
const TEST_PUBLIC_KEY: &str = include_str!("data/toss/test_public_key.b64");
const AES_VECTORS: &str = include_str!("data/toss/aes_test_data.csv");
const RSA_VECTORS: &str = include_str!("data/toss/rsa_test_data.csv");

/// The default configuration on Toss's published test key (no key generation per test).
fn config() -> TossSimConfig {
    TossSimConfig {
        server_key: ServerKeySource::Pkcs8(STANDARD.decode(TEST_PRIVATE_KEY.trim()).unwrap()),
        ..TossSimConfig::default()
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

// ---------------------------------------------------------------------------------------------
// The client's side of the crypto, from the reference: sessionId a UUIDv4, a 32-byte key and a
// 12-byte iv; sessionKey = v1$id$B64(RSA-OAEP-SHA1("AES_GCM$key$iv")); a field =
// v1$id$B64(AES-256-GCM(key, nonce = iv, AAD = key)(plain) ‖ tag).

struct ClientSession {
    id: String,
    key: [u8; 32],
    iv: [u8; 12],
}

impl ClientSession {
    fn new() -> Self {
        let mut b: [u8; 16] = random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let id = format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..]);
        Self { id, key: random(), iv: random() }
    }

    fn session_key_with(&self, public_key_b64: &str, oaep: &'static OaepAlgorithm, plain: &str) -> String {
        let der = STANDARD.decode(public_key_b64.trim()).unwrap();
        let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(&der).unwrap()).unwrap();
        let mut out = vec![0u8; key.ciphertext_size()];
        let sealed = key.encrypt(oaep, plain.as_bytes(), &mut out, None).unwrap();
        format!("v1${}${}", self.id, STANDARD.encode(sealed))
    }

    fn plain_key(&self) -> String {
        format!("AES_GCM${}${}", STANDARD.encode(self.key), STANDARD.encode(self.iv))
    }

    fn session_key(&self, public_key_b64: &str) -> String {
        self.session_key_with(public_key_b64, &OAEP_SHA1_MGF1SHA1, &self.plain_key())
    }

    fn cipher(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.key).unwrap())
    }

    fn encrypt(&self, plain: &str) -> String {
        let mut data = plain.as_bytes().to_vec();
        self.cipher()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(self.iv), Aad::from(self.key), &mut data)
            .unwrap();
        format!("v1${}${}", self.id, STANDARD.encode(data))
    }

    fn decrypt(&self, field: &Value) -> String {
        let field = field.as_str().expect("an encrypted field is a string");
        let parts: Vec<&str> = field.split('$').collect();
        assert_eq!(parts.len(), 3, "v1$<sessionId>$<data>");
        assert_eq!(parts[0], "v1", "the simulator emits plain v1");
        assert_eq!(parts[1], self.id, "sealed under this session");
        let mut data = STANDARD.decode(parts[2]).unwrap();
        let plain =
            self.cipher().open_in_place(Nonce::assume_unique_for_key(self.iv), Aad::from(self.key), &mut data).unwrap();
        String::from_utf8(plain.to_vec()).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// The merchant server.

struct Sandbox {
    sim: TossSimulator,
    server: SandboxServer,
    http: reqwest::Client,
}

fn envelope_code(body: &Value) -> &str {
    assert_eq!(body["resultType"], "FAIL", "{body}");
    assert!(body["success"].is_null());
    assert_eq!(body["error"]["errorType"], 0);
    assert!(body["error"]["data"].is_object());
    body["error"]["errorCode"].as_str().unwrap()
}

fn success(body: &Value) -> &Value {
    assert_eq!(body["resultType"], "SUCCESS", "{body}");
    &body["success"]
}

fn is_kst_iso(text: &Value) -> bool {
    let text = text.as_str().unwrap_or_default();
    text.len() == 25
        && text.ends_with("+09:00")
        && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

impl Sandbox {
    async fn start(config: TossSimConfig) -> Self {
        Self::with(TossSimulator::new(config).unwrap()).await
    }

    async fn with(sim: TossSimulator) -> Self {
        let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
        Self { sim, server, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, String) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    async fn post_form(&self, path: &str, body: &str) -> (u16, Value) {
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        let (status, text) = self.send(request).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A POST to an API path with this `Authorization` value and, if given, `Content-Type`.
    fn api_request(
        &self,
        path: &str,
        authorization: &str,
        content_type: Option<&str>,
        body: impl Into<String>,
    ) -> reqwest::RequestBuilder {
        let request = self.http.post(self.url(path)).header("authorization", authorization);
        let request = match content_type {
            Some(content_type) => request.header("content-type", content_type),
            None => request,
        };
        request.body(body.into())
    }

    /// An API call as a client makes it; the answer as text.
    async fn post_api_text(&self, path: &str, token: &str, body: &Value) -> (u16, String) {
        self.send(self.api_request(path, &format!("Bearer {token}"), Some("application/json"), body.to_string())).await
    }

    async fn post_api(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let (status, text) = self.post_api_text(path, token, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post_control(&self, path: &str, body: &Value) -> (u16, Value) {
        let request = self.http.post(self.url(path)).header("content-type", "application/json").body(body.to_string());
        let (status, text) = self.send(request).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `/token` with Toss's test credentials.
    async fn token_answer(&self) -> (u16, Value) {
        let form = format!(
            "grant_type=client_credentials&scope=ca&client_id={TEST_CLIENT_ID}&client_secret={TEST_CLIENT_SECRET}"
        );
        self.post_form(TOKEN_PATH, &form).await
    }

    async fn token(&self) -> String {
        let (status, body) = self.token_answer().await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A `USER_NONE` request's `success` object.
    async fn request_none(&self, token: &str) -> Value {
        let (status, body) = self.post_api(ID_REQUEST_PATH, token, &json!({"requestType": "USER_NONE"})).await;
        assert_eq!(status, 200, "{body}");
        success(&body).clone()
    }

    fn personal_body(&self, session: &ClientSession, persona: &Persona, trigger: &str) -> Value {
        json!({
            "requestType": "USER_PERSONAL",
            "triggerType": trigger,
            "requestUrl": "https://merchant.example/return",
            "sessionKey": session.session_key(&self.sim.public_key_base64()),
            "userName": session.encrypt(persona.name),
            "userPhone": session.encrypt(persona.phone),
            "userBirthday": session.encrypt(persona.birth_date),
        })
    }

    /// A `USER_PERSONAL` request for `persona`: its `txId`.
    async fn request_personal(&self, token: &str, persona: &Persona) -> String {
        let body = self.personal_body(&ClientSession::new(), persona, "APP_SCHEME");
        let (status, body) = self.post_api(ID_REQUEST_PATH, token, &body).await;
        assert_eq!(status, 200, "{body}");
        success(&body)["txId"].as_str().unwrap().to_owned()
    }

    async fn status(&self, token: &str, tx_id: &str) -> String {
        let (status, body) = self.post_api(ID_STATUS_PATH, token, &json!({"txId": tx_id})).await;
        assert_eq!(status, 200, "{body}");
        success(&body)["status"].as_str().unwrap().to_owned()
    }

    async fn result(&self, token: &str, tx_id: &str, session: &ClientSession) -> (u16, Value) {
        let body = json!({"txId": tx_id, "sessionKey": session.session_key(&self.sim.public_key_base64())});
        self.post_api(ID_RESULT_PATH, token, &body).await
    }

    /// Reads the result under a new session and decrypts `personalData`.
    async fn read_identity(&self, token: &str, tx_id: &str) -> (Value, Vec<(&'static str, String)>) {
        let session = ClientSession::new();
        let (status, body) = self.result(token, tx_id, &session).await;
        assert_eq!(status, 200, "{body}");
        let result = success(&body).clone();
        let data = &result["personalData"];
        let fields = ["ci", "di", "name", "birthday", "gender", "nationality", "ageGroup"]
            .into_iter()
            .map(|name| (name, session.decrypt(&data[name])))
            .collect();
        (result, fields)
    }
}

fn field<'a>(fields: &'a [(&'static str, String)], name: &str) -> &'a str {
    &fields.iter().find(|(n, _)| *n == name).unwrap().1
}

fn page_code(auth_url: &str) -> String {
    auth_url.split_once("code=").unwrap().1.to_owned()
}

// ---------------------------------------------------------------------------------------------
// Token

#[tokio::test]
async fn token_is_issued_with_scope_type_and_configured_lifetime() {
    let sandbox = Sandbox::start(TossSimConfig { expires_in: 3600, ..config() }).await;
    let (status, body) = sandbox.token_answer().await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "ca");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT, like Toss's");
    assert_eq!(sandbox.sim.tokens_issued(), 1);
    sandbox.token().await;
    assert_eq!(sandbox.sim.tokens_issued(), 2, "every call issues and is counted");
}

#[tokio::test]
async fn token_default_lifetime_is_a_year() {
    let sandbox = Sandbox::start(config()).await;
    let (_, body) = sandbox.token_answer().await;
    assert_eq!(body["expires_in"], 31_536_000);
}

#[tokio::test]
async fn token_refuses_unknown_client_wrong_grant_scope_or_shape() {
    let sandbox = Sandbox::start(config()).await;
    let ok = format!("client_id={TEST_CLIENT_ID}&client_secret={TEST_CLIENT_SECRET}");
    let cases = [
        (
            format!("grant_type=client_credentials&scope=ca&client_id={TEST_CLIENT_ID}&client_secret=wrong"),
            401,
            "invalid_client",
        ),
        ("grant_type=client_credentials&scope=ca&client_id=nobody&client_secret=x".to_owned(), 401, "invalid_client"),
        (format!("grant_type=password&scope=ca&{ok}"), 400, "unsupported_grant_type"),
        (format!("grant_type=client_credentials&scope=openid&{ok}"), 400, "invalid_scope"),
        (format!("grant_type=client_credentials&{ok}"), 400, "invalid_request"),
        (format!("scope=ca&{ok}"), 400, "invalid_request"),
        (format!("grant_type=client_credentials&scope=ca&scope=ca&{ok}"), 400, "invalid_request"),
    ];
    for (form, status, error) in cases {
        let (got, body) = sandbox.post_form(TOKEN_PATH, &form).await;
        assert_eq!((got, body["error"].as_str().unwrap()), (status, error), "{form}");
    }
    // JSON instead of a form.
    let request = sandbox.http.post(sandbox.url(TOKEN_PATH)).header("content-type", "application/json").body(
        json!({"grant_type": "client_credentials", "scope": "ca", "client_id": TEST_CLIENT_ID, "client_secret": TEST_CLIENT_SECRET})
            .to_string(),
    );
    let (status, text) = sandbox.send(request).await;
    assert_eq!(status, 400);
    assert!(text.contains("invalid_request"));
    // Client credentials by HTTP Basic rather than in the body.
    let request = sandbox
        .http
        .post(sandbox.url(TOKEN_PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {}", STANDARD.encode(format!("{TEST_CLIENT_ID}:{TEST_CLIENT_SECRET}"))))
        .body("grant_type=client_credentials&scope=ca");
    assert_eq!(sandbox.send(request).await.0, 400);
    assert_eq!(sandbox.sim.tokens_issued(), 0);
}

#[tokio::test]
async fn token_stops_working_after_expires_in() {
    let sandbox = Sandbox::start(TossSimConfig { expires_in: 60, ..config() }).await;
    let token = sandbox.token().await;
    sandbox.request_none(&token).await;
    sandbox.sim.advance(Duration::from_secs(61));
    let (status, body) = sandbox.post_api(ID_REQUEST_PATH, &token, &json!({"requestType": "USER_NONE"})).await;
    assert_eq!((status, envelope_code(&body)), (401, codes::INVALID_TOKEN));
}

#[tokio::test]
async fn one_token_serves_a_thousand_flows() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    for _ in 0..1000 {
        let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
        sandbox.sim.approve(&tx_id, None).unwrap();
        assert_eq!(sandbox.status(&token, &tx_id).await, "COMPLETED");
    }
    assert_eq!(sandbox.sim.tokens_issued(), 1);
    assert_eq!(toss::TossCounters::get(&sandbox.sim.counters().requests), 1000);
}

// ---------------------------------------------------------------------------------------------
// Bearer auth and the envelope

#[tokio::test]
async fn a_bad_token_is_ce1000_in_the_fail_envelope() {
    let sandbox = Sandbox::start(config()).await;
    let body = json!({"requestType": "USER_NONE"});
    for token in ["", "not-a-token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"] {
        let (status, answer) = sandbox.post_api(ID_REQUEST_PATH, token, &body).await;
        assert_eq!((status, envelope_code(&answer)), (401, codes::INVALID_TOKEN), "{token:?}");
        assert!(answer["error"]["reason"].is_string());
    }
    // No Authorization header at all, and another scheme.
    let token = sandbox.token().await;
    let status_body = r#"{"txId":"x"}"#;
    let no_header =
        sandbox.http.post(sandbox.url(ID_STATUS_PATH)).header("content-type", "application/json").body(status_body);
    let other_schemes = [format!("Basic {token}"), format!("Bearer  {token}")]
        .map(|auth| sandbox.api_request(ID_STATUS_PATH, &auth, Some("application/json"), status_body));
    for request in std::iter::once(no_header).chain(other_schemes) {
        let (status, text) = sandbox.send(request).await;
        assert_eq!(status, 401);
        assert_eq!(envelope_code(&serde_json::from_str(&text).unwrap()), codes::INVALID_TOKEN);
    }
    // The scheme is case-insensitive, as Spring reads it.
    let lowercase =
        sandbox.api_request(ID_REQUEST_PATH, &format!("bearer {token}"), Some("application/json"), body.to_string());
    assert_eq!(sandbox.send(lowercase).await.0, 200);
    assert_eq!(toss::TossCounters::get(&sandbox.sim.counters().token_refusals), 6);
    // A revoked token.
    sandbox.sim.revoke_tokens();
    let (status, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
    assert_eq!((status, envelope_code(&answer)), (401, codes::INVALID_TOKEN));
}

#[tokio::test]
async fn ce1000_status_and_business_error_status_are_configurable() {
    let sandbox =
        Sandbox::start(TossSimConfig { invalid_token_status: 200, business_errors_as_200: false, ..config() }).await;
    let (status, body) = sandbox.post_api(ID_REQUEST_PATH, "nope", &json!({"requestType": "USER_NONE"})).await;
    assert_eq!((status, envelope_code(&body)), (200, codes::INVALID_TOKEN));
    let token = sandbox.token().await;
    let (status, body) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({"txId": "nope"})).await;
    assert_eq!((status, envelope_code(&body)), (400, codes::NO_SUCH_REQUEST));
}

#[tokio::test]
async fn business_errors_are_http_200_with_fail_by_default() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let (status, body) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({"txId": "nope"})).await;
    assert_eq!((status, envelope_code(&body)), (200, codes::NO_SUCH_REQUEST));
}

#[tokio::test]
async fn api_calls_need_a_json_object_as_application_json() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let bearer = format!("Bearer {token}");
    let json_body = r#"{"requestType":"USER_NONE"}"#;
    let form = sandbox.api_request(
        ID_REQUEST_PATH,
        &bearer,
        Some("application/x-www-form-urlencoded"),
        "requestType=USER_NONE",
    );
    let (status, text) = sandbox.send(form).await;
    assert_eq!(status, 415);
    assert_eq!(envelope_code(&serde_json::from_str(&text).unwrap()), codes::INVALID_REQUEST);
    let untyped = sandbox.api_request(ID_REQUEST_PATH, &bearer, None, json_body);
    assert_eq!(sandbox.send(untyped).await.0, 415);
    let with_charset =
        sandbox.api_request(ID_REQUEST_PATH, &bearer, Some("application/json; charset=utf-8"), json_body);
    assert_eq!(sandbox.send(with_charset).await.0, 200);
    for body in [json!([]), json!("USER_NONE"), json!(null)] {
        let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
        assert_eq!(envelope_code(&answer), codes::INVALID_REQUEST);
    }
}

// ---------------------------------------------------------------------------------------------
// Request

#[tokio::test]
async fn user_none_request_answers_a_tx_and_an_auth_url_on_the_simulator() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let answer = sandbox.request_none(&token).await;
    let tx_id = answer["txId"].as_str().unwrap();
    assert!(toss::crypto::is_session_id(tx_id), "a UUID");
    assert!(is_kst_iso(&answer["requestedDt"]), "{}", answer["requestedDt"]);
    assert!(answer["appScheme"].as_str().unwrap().starts_with("supertoss://"));
    assert!(answer["androidAppUri"].as_str().unwrap().starts_with("intent://"));
    assert_eq!(answer["iosAppUri"], "null", "the string null, as the reference warns");
    let auth_url = answer["authUrl"].as_str().unwrap();
    assert!(auth_url.starts_with(&sandbox.url(AUTH_PAGE_PATH)), "{auth_url}");
    assert_eq!(sandbox.sim.status(tx_id), Some(TossStatus::Requested));
    assert_eq!(sandbox.sim.page_path(tx_id).unwrap(), auth_url.strip_prefix(&sandbox.server.base_url()).unwrap());
}

#[tokio::test]
async fn user_none_refuses_user_fields_push_and_bad_fields() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let session = ClientSession::new();
    let cases = [
        json!({}),
        json!({"requestType": "USER"}),
        json!({"requestType": 1}),
        json!({"requestType": "USER_NONE", "triggerType": "PUSH"}),
        json!({"requestType": "USER_NONE", "triggerType": "SMS"}),
        json!({"requestType": "USER_NONE", "userName": session.encrypt("김토스")}),
        json!({"requestType": "USER_NONE", "sessionKey": session.session_key(&sandbox.sim.public_key_base64())}),
        json!({"requestType": "USER_NONE", "requestUrl": "javascript:alert(1)"}),
        json!({"requestType": "USER_NONE", "requestUrl": "/relative"}),
        json!({"requestType": "USER_NONE", "triggerType": "APP_SCHEME"}),
    ];
    for body in cases {
        let (status, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
        assert_eq!((status, envelope_code(&answer)), (200, codes::INVALID_REQUEST), "{body}");
    }
    let body = json!({"requestType": "USER_NONE", "triggerType": "APP_SCHEME", "requestUrl": "myapp://toss/return"});
    assert_eq!(sandbox.post_api(ID_REQUEST_PATH, &token, &body).await.0, 200);
    assert_eq!(sandbox.sim.tx_ids().len(), 1, "refused requests make no tx");
}

#[tokio::test]
async fn user_personal_request_decrypts_the_subject_and_gets_no_auth_url() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let hong = personas::by_key("hong").unwrap();
    let body = sandbox.personal_body(&ClientSession::new(), hong, "APP_SCHEME");
    let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
    let answer = success(&answer);
    assert!(answer["authUrl"].is_null(), "authUrl only for USER_NONE");
    let tx_id = answer["txId"].as_str().unwrap();
    // The subject is who approves by default, and the result names them.
    sandbox.sim.approve(tx_id, None).unwrap();
    assert_eq!(sandbox.sim.approved_by(tx_id), Some("hong"));
    let (_, fields) = sandbox.read_identity(&token, tx_id).await;
    assert_eq!(field(&fields, "name"), "홍길동");
}

#[tokio::test]
async fn user_personal_push_answers_null_app_links_and_auth_url_when_configured() {
    let sandbox = Sandbox::start(TossSimConfig { auth_url_for_personal: true, ..config() }).await;
    let token = sandbox.token().await;
    let body = sandbox.personal_body(&ClientSession::new(), &TOSS_TEST_PERSON, "PUSH");
    let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
    let answer = success(&answer);
    for link in ["appScheme", "androidAppUri", "iosAppUri"] {
        assert_eq!(answer[link], "null", "{link}");
    }
    assert!(answer["authUrl"].as_str().unwrap().contains(AUTH_PAGE_PATH));
}

#[tokio::test]
async fn user_personal_requires_trigger_session_key_fields_and_app_scheme_return_url() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let hong = personas::by_key("hong").unwrap();
    let base = sandbox.personal_body(&ClientSession::new(), hong, "APP_SCHEME");
    for missing in ["triggerType", "sessionKey", "userName", "userPhone", "userBirthday", "requestUrl"] {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(missing);
        let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
        assert_eq!(envelope_code(&answer), codes::INVALID_REQUEST, "without {missing}");
        let mut body = base.clone();
        body[missing] = json!("");
        let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
        assert_eq!(envelope_code(&answer), codes::INVALID_REQUEST, "empty {missing}");
    }
    // PUSH needs no requestUrl.
    let mut body = sandbox.personal_body(&ClientSession::new(), hong, "PUSH");
    body.as_object_mut().unwrap().remove("requestUrl");
    assert!(success(&sandbox.post_api(ID_REQUEST_PATH, &token, &body).await.1)["txId"].is_string());
}

#[tokio::test]
async fn user_personal_refuses_malformed_session_keys() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let hong = personas::by_key("hong").unwrap();
    let public = sandbox.sim.public_key_base64();
    let session = ClientSession::new();
    let good = session.session_key(&public);
    let encrypted_part = good.rsplit('$').next().unwrap().to_owned();
    let sha256 = session.session_key_with(&public, &OAEP_SHA256_MGF1SHA256, &session.plain_key());
    let cbc = session.session_key_with(
        &public,
        &OAEP_SHA1_MGF1SHA1,
        &format!("AES_CBC${}${}", STANDARD.encode(session.key), STANDARD.encode(session.iv)),
    );
    let long_iv = session.session_key_with(
        &public,
        &OAEP_SHA1_MGF1SHA1,
        &format!("AES_GCM${}${}", STANDARD.encode(session.key), STANDARD.encode([0u8; 16])),
    );
    let short_key = session.session_key_with(
        &public,
        &OAEP_SHA1_MGF1SHA1,
        &format!("AES_GCM${}${}", STANDARD.encode([0u8; 16]), STANDARD.encode(session.iv)),
    );
    let cases = [
        ("no version", format!("{}${encrypted_part}", session.id)),
        ("v2", format!("v2${}${encrypted_part}", session.id)),
        ("uppercase id", format!("v1${}${encrypted_part}", session.id.to_uppercase())),
        ("not a uuid", format!("v1$session-1${encrypted_part}")),
        ("not base64", format!("v1${}$%%%", session.id)),
        ("garbage", format!("v1${}${}", session.id, STANDARD.encode([1u8; 512]))),
        ("OAEP SHA-256", sha256),
        ("CBC", cbc),
        ("16-byte iv", long_iv),
        ("16-byte key", short_key),
        ("four parts", format!("{good}$x")),
    ];
    for (what, session_key) in cases {
        let mut body = sandbox.personal_body(&session, hong, "APP_SCHEME");
        body["sessionKey"] = json!(session_key);
        let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
        assert_eq!(envelope_code(&answer), codes::BAD_SESSION_KEY, "{what}");
    }
    // The SDK's versioned prefix is Toss's own and is accepted.
    let mut body = sandbox.personal_body(&session, hong, "APP_SCHEME");
    body["sessionKey"] = json!(good.replacen("v1$", "v1_0.0.14$", 1));
    assert_eq!(sandbox.post_api(ID_REQUEST_PATH, &token, &body).await.0, 200);
}

#[tokio::test]
async fn a_session_key_for_another_public_key_is_refused() {
    let sandbox = Sandbox::start(TossSimConfig { server_key: ServerKeySource::GenerateRsa2048, ..config() }).await;
    let token = sandbox.token().await;
    let session = ClientSession::new();
    let mut body = sandbox.personal_body(&session, &TOSS_TEST_PERSON, "APP_SCHEME");
    body["sessionKey"] = json!(session.session_key(TEST_PUBLIC_KEY));
    let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
    assert_eq!(envelope_code(&answer), codes::BAD_SESSION_KEY);
}

#[tokio::test]
async fn user_personal_refuses_fields_of_another_session_or_tampered() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let hong = personas::by_key("hong").unwrap();
    let session = ClientSession::new();
    let other = ClientSession::new();
    // Same key, another sessionId in the field: a sessionId mismatch.
    let renamed = ClientSession { id: other.id.clone(), key: session.key, iv: session.iv };
    let tampered = {
        let field = session.encrypt(hong.name);
        let (head, data) = field.rsplit_once('$').unwrap();
        let mut bytes = STANDARD.decode(data).unwrap();
        bytes[0] ^= 1;
        format!("{head}${}", STANDARD.encode(bytes))
    };
    let no_aad = {
        let mut data = hong.name.as_bytes().to_vec();
        session
            .cipher()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(session.iv), Aad::empty(), &mut data)
            .unwrap();
        format!("v1${}${}", session.id, STANDARD.encode(data))
    };
    let cases = [
        ("another session", other.encrypt(hong.name)),
        ("another sessionId", renamed.encrypt(hong.name)),
        ("tampered", tampered),
        ("without the key as AAD", no_aad),
        ("plain text", hong.name.to_owned()),
        ("v2", session.encrypt(hong.name).replacen("v1$", "v2$", 1)),
    ];
    for (what, user_name) in cases {
        let mut body = sandbox.personal_body(&session, hong, "APP_SCHEME");
        body["userName"] = json!(user_name);
        let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
        assert_eq!(envelope_code(&answer), codes::BAD_ENCRYPTED_FIELD, "{what}");
    }
}

#[tokio::test]
async fn user_personal_refuses_malformed_phone_birthday_and_unknown_people() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let hong = personas::by_key("hong").unwrap();
    let cases = [
        ("userPhone", "010-1234-5678", codes::INVALID_REQUEST),
        ("userPhone", "+821012345678", codes::INVALID_REQUEST),
        ("userPhone", "0212345678", codes::INVALID_REQUEST),
        ("userBirthday", "1990-02-15", codes::INVALID_REQUEST),
        ("userBirthday", "900215", codes::INVALID_REQUEST),
        ("userBirthday", "19900231", codes::INVALID_REQUEST),
        ("userBirthday", "29990101", codes::INVALID_REQUEST),
        ("userName", " ", codes::INVALID_REQUEST),
        ("userName", "홍길순", codes::NO_SUCH_USER),
        ("userPhone", "01099998888", codes::NO_SUCH_USER),
        ("userBirthday", "19900216", codes::NO_SUCH_USER),
    ];
    for (name, value, code) in cases {
        let session = ClientSession::new();
        let mut body = sandbox.personal_body(&session, hong, "APP_SCHEME");
        body[name] = json!(session.encrypt(value));
        let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
        assert_eq!(envelope_code(&answer), code, "{name} = {value}");
    }
}

#[tokio::test]
async fn a_request_session_is_used_once() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let session = ClientSession::new();
    let body = sandbox.personal_body(&session, &TOSS_TEST_PERSON, "APP_SCHEME");
    assert_eq!(sandbox.post_api(ID_REQUEST_PATH, &token, &body).await.0, 200);
    let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
    assert_eq!(envelope_code(&answer), codes::SESSION_REUSED);
}

// ---------------------------------------------------------------------------------------------
// Status and approval

#[tokio::test]
async fn status_goes_requested_in_progress_completed() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let answer = sandbox.request_none(&token).await;
    let tx_id = answer["txId"].as_str().unwrap();
    let (_, body) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({"txId": tx_id})).await;
    let status = success(&body);
    assert_eq!(status["status"], "REQUESTED");
    assert_eq!(status["txId"], tx_id);
    assert_eq!(status["requestedDt"], answer["requestedDt"]);
    assert_eq!(sandbox.sim.open(tx_id), Ok(TossStatus::InProgress));
    assert_eq!(sandbox.status(&token, tx_id).await, "IN_PROGRESS");
    assert_eq!(sandbox.sim.approve(tx_id, Some("wilson")), Ok(TossStatus::Completed));
    assert_eq!(sandbox.status(&token, tx_id).await, "COMPLETED");
    assert_eq!(sandbox.sim.approve(tx_id, None), Err(ControlError::AlreadyCompleted));
}

#[tokio::test]
async fn user_none_is_approved_by_the_toss_test_person_by_default() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    sandbox.sim.approve(&tx_id, None).unwrap();
    let (_, fields) = sandbox.read_identity(&token, &tx_id).await;
    assert_eq!(field(&fields, "name"), "김토스");
    assert_eq!(field(&fields, "birthday"), "19930324");
    assert_eq!(field(&fields, "gender"), "FEMALE");
    assert_eq!(field(&fields, "nationality"), "LOCAL");
    assert!(field(&fields, "ci").starts_with("CI0110000000001"));
    assert!(field(&fields, "di").starts_with("DI0110000000001"));
}

#[tokio::test]
async fn control_endpoints_open_approve_and_refuse_over_http() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    let (status, body) = sandbox.post_control(OPEN_PATH, &json!({"txId": tx_id})).await;
    assert_eq!((status, body["status"].as_str().unwrap()), (200, "IN_PROGRESS"));
    assert!(body["pageUrl"].as_str().unwrap().starts_with(&sandbox.url(AUTH_PAGE_PATH)));
    let (status, _) = sandbox.post_control(APPROVE_PATH, &json!({"txId": tx_id, "persona": "nobody"})).await;
    assert_eq!(status, 400);
    let (status, body) = sandbox.post_control(APPROVE_PATH, &json!({"txId": tx_id, "persona": "kim-mvno"})).await;
    assert_eq!((status, body["status"].as_str().unwrap()), (200, "COMPLETED"));
    assert_eq!(sandbox.sim.approved_by(&tx_id), Some("kim-mvno"));
    let (status, _) = sandbox.post_control(REFUSE_PATH, &json!({"txId": tx_id})).await;
    assert_eq!(status, 409, "too late to refuse");
    let (status, _) = sandbox.post_control(APPROVE_PATH, &json!({"txId": "nope"})).await;
    assert_eq!(status, 404);

    let refused = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    let (status, body) = sandbox.post_control(REFUSE_PATH, &json!({"txId": refused})).await;
    assert_eq!((status, body["status"].as_str().unwrap()), (200, "IN_PROGRESS"));
    let (status, _) = sandbox.post_control(APPROVE_PATH, &json!({"txId": refused})).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_refused_request_never_completes_and_expires_at_the_ttl() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    assert_eq!(sandbox.sim.refuse(&tx_id), Ok(TossStatus::InProgress));
    assert_eq!(sandbox.status(&token, &tx_id).await, "IN_PROGRESS", "no refused status in the reference");
    assert_eq!(sandbox.sim.approve(&tx_id, None), Err(ControlError::AlreadyRefused));
    let (_, body) = sandbox.result(&token, &tx_id, &ClientSession::new()).await;
    assert_eq!(envelope_code(&body), codes::NOT_COMPLETED);
    sandbox.sim.advance(sandbox.sim.config().request_ttl);
    assert_eq!(sandbox.status(&token, &tx_id).await, "EXPIRED");
}

#[tokio::test]
async fn a_refusal_can_expire_at_once() {
    let sandbox = Sandbox::start(TossSimConfig { refusal_expires_at_once: true, ..config() }).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    assert_eq!(sandbox.sim.refuse(&tx_id), Ok(TossStatus::Expired));
    assert_eq!(sandbox.status(&token, &tx_id).await, "EXPIRED");
}

#[tokio::test]
async fn user_personal_is_approved_only_by_its_subject() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_personal(&token, personas::by_key("wilson").unwrap()).await;
    assert_eq!(sandbox.sim.approve(&tx_id, Some("hong")), Err(ControlError::NotTheSubject));
    assert_eq!(sandbox.sim.approve(&tx_id, Some("kim-toss")), Err(ControlError::NotTheSubject));
    let (status, _) = sandbox.post_control(APPROVE_PATH, &json!({"txId": tx_id, "persona": "hong"})).await;
    assert_eq!(status, 403);
    assert_eq!(sandbox.status(&token, &tx_id).await, "REQUESTED", "a refused approval changes nothing");
    assert_eq!(sandbox.sim.approve(&tx_id, Some("wilson")), Ok(TossStatus::Completed));
    let (_, fields) = sandbox.read_identity(&token, &tx_id).await;
    assert_eq!(field(&fields, "name"), "EMMA WILSON");
    assert_eq!(field(&fields, "nationality"), "FOREIGNER");
}

#[tokio::test]
async fn the_auth_url_page_opens_and_approves_with_a_persona() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let answer = sandbox.request_none(&token).await;
    let tx_id = answer["txId"].as_str().unwrap();
    let auth_url = answer["authUrl"].as_str().unwrap();
    let (status, html) = sandbox.send(sandbox.http.get(auth_url)).await;
    assert_eq!(status, 200);
    for persona in personas::ALL.iter().chain([&TOSS_TEST_PERSON]) {
        assert!(html.contains(&format!(r#"value="{}""#, persona.key)), "{} offered", persona.key);
    }
    assert!(html.contains(r#"value="kim-toss" checked"#), "the Toss test person preselected");
    assert_eq!(sandbox.status(&token, tx_id).await, "IN_PROGRESS", "opening the page opens the request");
    let form = format!("window={}&persona=lee-cp949", page_code(auth_url));
    let request = sandbox
        .http
        .post(sandbox.url(AUTH_PAGE_PATH))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let (status, html) = sandbox.send(request).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="completed""#));
    assert_eq!(sandbox.status(&token, tx_id).await, "COMPLETED");
    let (_, fields) = sandbox.read_identity(&token, tx_id).await;
    assert_eq!(field(&fields, "name"), "이똠방");
    // The page of a completed request says so.
    let (status, html) = sandbox.send(sandbox.http.get(auth_url)).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="completed""#));
}

#[tokio::test]
async fn the_page_refuses_and_keeps_personal_requests_to_their_subject() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let post = |form: String| {
        sandbox
            .http
            .post(sandbox.url(AUTH_PAGE_PATH))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
    };
    // Refuse through the page.
    let answer = sandbox.request_none(&token).await;
    let code = page_code(answer["authUrl"].as_str().unwrap());
    let (status, html) = sandbox.send(post(format!("window={code}&persona=hong&cancel=1"))).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"id="refused""#));
    let (status, _) = sandbox.send(post(format!("window={code}&persona=hong"))).await;
    assert_eq!(status, 409, "a refused request cannot be approved afterwards");
    // A USER_PERSONAL request's page: another persona is refused, the subject approves.
    let tx_id = sandbox.request_personal(&token, personas::by_key("kim-mvno").unwrap()).await;
    let path = sandbox.sim.page_path(&tx_id).unwrap();
    let (status, html) = sandbox.send(sandbox.http.get(sandbox.url(&path))).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"value="kim-mvno" checked"#), "the subject preselected");
    let code = page_code(&path);
    let (status, html) = sandbox.send(post(format!("window={code}&persona=hong"))).await;
    assert_eq!(status, 403);
    assert!(html.contains(r#"id="error""#));
    assert_eq!(sandbox.status(&token, &tx_id).await, "IN_PROGRESS");
    let (status, _) = sandbox.send(post(format!("window={code}&persona=kim-mvno"))).await;
    assert_eq!(status, 200);
    assert_eq!(sandbox.status(&token, &tx_id).await, "COMPLETED");
    // An unknown page.
    let (status, _) = sandbox.send(sandbox.http.get(sandbox.url(&format!("{AUTH_PAGE_PATH}?code=nope")))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_request_expires_after_the_ttl() {
    let sandbox = Sandbox::start(TossSimConfig { request_ttl: Duration::from_secs(180), ..config() }).await;
    let token = sandbox.token().await;
    let answer = sandbox.request_none(&token).await;
    let tx_id = answer["txId"].as_str().unwrap();
    sandbox.sim.open(tx_id).unwrap();
    sandbox.sim.advance(Duration::from_secs(179));
    assert_eq!(sandbox.status(&token, tx_id).await, "IN_PROGRESS");
    sandbox.sim.advance(Duration::from_secs(1));
    assert_eq!(sandbox.status(&token, tx_id).await, "EXPIRED");
    assert_eq!(sandbox.sim.approve(tx_id, None), Err(ControlError::Expired));
    let (status, html) = sandbox.send(sandbox.http.get(answer["authUrl"].as_str().unwrap())).await;
    assert_eq!(status, 409);
    assert!(html.contains("만료"));
    let (_, body) = sandbox.result(&token, tx_id, &ClientSession::new()).await;
    assert_eq!(envelope_code(&body), codes::NOT_COMPLETED);
}

#[tokio::test]
async fn a_completed_request_does_not_expire() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    sandbox.sim.approve(&tx_id, None).unwrap();
    sandbox.sim.advance(Duration::from_secs(24 * 3600));
    assert_eq!(sandbox.status(&token, &tx_id).await, "COMPLETED");
}

#[tokio::test]
async fn the_simulator_can_read_a_shared_manual_clock() {
    let clock = Arc::new(ManualClock::new(time::macros::datetime!(2026-03-01 00:00 UTC)));
    let sim = TossSimulator::new(config()).unwrap().with_clock(clock.clone());
    let sandbox = Sandbox::with(sim).await;
    let token = sandbox.token().await;
    let answer = sandbox.request_none(&token).await;
    assert_eq!(answer["requestedDt"], "2026-03-01T09:00:00+09:00");
    clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(sandbox.status(&token, answer["txId"].as_str().unwrap()).await, "EXPIRED");
}

#[tokio::test]
async fn unknown_foreign_and_other_family_tx_ids_are_ce3100() {
    let other_client = ("other_client".to_owned(), "other_secret".to_owned());
    let sandbox = Sandbox::start(TossSimConfig {
        clients: vec![(TEST_CLIENT_ID.into(), TEST_CLIENT_SECRET.into()), other_client],
        ..config()
    })
    .await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    sandbox.sim.approve(&tx_id, None).unwrap();
    let (_, body) = sandbox
        .post_form(
            TOKEN_PATH,
            "grant_type=client_credentials&scope=ca&client_id=other_client&client_secret=other_secret",
        )
        .await;
    let foreign = body["access_token"].as_str().unwrap();
    let session = ClientSession::new();
    let result = json!({"txId": tx_id, "sessionKey": session.session_key(&sandbox.sim.public_key_base64())});
    for (path, token, body) in [
        (ID_STATUS_PATH, token.as_str(), json!({"txId": "8f6d0f0e-0000-4000-8000-000000000000"})),
        (ID_STATUS_PATH, foreign, json!({"txId": tx_id})),
        (ID_RESULT_PATH, foreign, result.clone()),
        (AUTH_STATUS_PATH, token.as_str(), json!({"txId": tx_id})),
        (AUTH_RESULT_PATH, token.as_str(), result.clone()),
    ] {
        let (_, answer) = sandbox.post_api(path, token, &body).await;
        assert_eq!(envelope_code(&answer), codes::NO_SUCH_REQUEST, "{path}");
    }
    let (_, answer) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({})).await;
    assert_eq!(envelope_code(&answer), codes::INVALID_REQUEST, "txId is required");
    let (_, answer) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({"txId": 42})).await;
    assert_eq!(envelope_code(&answer), codes::INVALID_REQUEST, "txId is a string");
    assert_eq!(sandbox.result(&token, &tx_id, &session).await.0, 200, "the owner still reads it");
}

// ---------------------------------------------------------------------------------------------
// Result

#[tokio::test]
async fn result_before_completion_is_ce3102() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    let session = ClientSession::new();
    let (_, body) = sandbox.result(&token, &tx_id, &session).await;
    assert_eq!(envelope_code(&body), codes::NOT_COMPLETED);
    sandbox.sim.open(&tx_id).unwrap();
    let (_, body) = sandbox.result(&token, &tx_id, &session).await;
    assert_eq!(envelope_code(&body), codes::NOT_COMPLETED);
    sandbox.sim.approve(&tx_id, None).unwrap();
    assert_eq!(sandbox.result(&token, &tx_id, &session).await.0, 200, "a session refused on CE3102 is still new");
    assert_eq!(sandbox.sim.result_reads(&tx_id), Some(1));
}

#[tokio::test]
async fn result_carries_the_encrypted_identity_and_its_metadata() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_personal(&token, personas::by_key("hong").unwrap()).await;
    sandbox.sim.approve(&tx_id, None).unwrap();
    let (result, fields) = sandbox.read_identity(&token, &tx_id).await;
    let hong = personas::by_key("hong").unwrap();
    assert_eq!(field(&fields, "ci"), hong.ci);
    assert_eq!(field(&fields, "di"), hong.di);
    assert_eq!(field(&fields, "name"), hong.name);
    assert_eq!(field(&fields, "birthday"), hong.birth_date);
    assert_eq!(field(&fields, "gender"), "MALE");
    assert_eq!(field(&fields, "nationality"), "LOCAL");
    assert_eq!(field(&fields, "ageGroup"), "ADULT");
    let data = &result["personalData"];
    assert!(data["ci2"].is_null() && data.get("ci2").is_some());
    assert!(data["ciUpdate"].is_null() && data.get("ciUpdate").is_some());
    for absent in ["phone", "carrier", "mobileco"] {
        assert!(data.get(absent).is_none(), "no {absent} comes back");
    }
    assert_eq!(result["txId"], tx_id.as_str());
    assert_eq!(result["status"], "COMPLETED");
    assert!(is_kst_iso(&result["requestedDt"]));
    assert!(is_kst_iso(&result["completedDt"]));
    let signature = STANDARD.decode(result["signature"].as_str().unwrap()).unwrap();
    assert_eq!(signature[0], 0x30, "a DER SEQUENCE");
}

#[tokio::test]
async fn result_needs_a_session_key_other_than_the_requests() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let hong = personas::by_key("hong").unwrap();
    let request_session = ClientSession::new();
    let body = sandbox.personal_body(&request_session, hong, "APP_SCHEME");
    let (_, answer) = sandbox.post_api(ID_REQUEST_PATH, &token, &body).await;
    let tx_id = success(&answer)["txId"].as_str().unwrap().to_owned();
    sandbox.sim.approve(&tx_id, None).unwrap();
    // The request's sessionKey itself, a new sessionKey for the same session, and the request's key
    // under a new sessionId.
    let same_key_new_id = ClientSession { id: ClientSession::new().id, key: request_session.key, iv: random() };
    let same_id_new_key = ClientSession { id: request_session.id.clone(), key: random(), iv: random() };
    for (what, session_key) in [
        ("the request's sessionKey", body["sessionKey"].as_str().unwrap().to_owned()),
        ("the request's sessionId", same_id_new_key.session_key(&sandbox.sim.public_key_base64())),
        ("the request's AES key", same_key_new_id.session_key(&sandbox.sim.public_key_base64())),
    ] {
        let (_, answer) =
            sandbox.post_api(ID_RESULT_PATH, &token, &json!({"txId": tx_id, "sessionKey": session_key})).await;
        assert_eq!(envelope_code(&answer), codes::SESSION_REUSED, "{what}");
    }
    for body in [json!({"txId": tx_id}), json!({"txId": tx_id, "sessionKey": "v1$x$y"})] {
        let (_, answer) = sandbox.post_api(ID_RESULT_PATH, &token, &body).await;
        assert!([codes::INVALID_REQUEST, codes::BAD_SESSION_KEY].contains(&envelope_code(&answer)), "{body}");
    }
    assert_eq!(sandbox.sim.result_reads(&tx_id), Some(0));
    sandbox.read_identity(&token, &tx_id).await;
}

#[tokio::test]
async fn result_can_be_read_twice_each_time_under_a_new_session() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    sandbox.sim.approve(&tx_id, Some("hong")).unwrap();
    let first = ClientSession::new();
    let (status, body) = sandbox.result(&token, &tx_id, &first).await;
    assert_eq!(status, 200);
    assert_eq!(first.decrypt(&success(&body)["personalData"]["name"]), "홍길동");
    let (_, again) = sandbox.result(&token, &tx_id, &first).await;
    assert_eq!(envelope_code(&again), codes::SESSION_REUSED, "a session reads once");
    let (_, fields) = sandbox.read_identity(&token, &tx_id).await;
    assert_eq!(field(&fields, "name"), "홍길동");
    assert_eq!(sandbox.sim.result_reads(&tx_id), Some(2));
    let (_, third) = sandbox.result(&token, &tx_id, &ClientSession::new()).await;
    assert_eq!(envelope_code(&third), codes::READ_LIMIT);
    assert_eq!(sandbox.sim.result_reads(&tx_id), Some(2));
    assert_eq!(toss::TossCounters::get(&sandbox.sim.counters().result_reads), 2);
}

#[tokio::test]
async fn result_can_be_read_within_sixty_minutes_of_completion() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    sandbox.sim.advance(Duration::from_secs(120));
    sandbox.sim.approve(&tx_id, None).unwrap();
    sandbox.sim.advance(Duration::from_secs(59 * 60 + 59));
    assert_eq!(sandbox.result(&token, &tx_id, &ClientSession::new()).await.0, 200);
    sandbox.sim.advance(Duration::from_secs(1));
    let (_, body) = sandbox.result(&token, &tx_id, &ClientSession::new()).await;
    assert_eq!(envelope_code(&body), codes::RESULT_WINDOW_PASSED);
    assert_eq!(sandbox.sim.result_reads(&tx_id), Some(1));
}

// ---------------------------------------------------------------------------------------------
// Path families

#[tokio::test]
async fn the_auth_family_runs_the_same_flow() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let (_, body) = sandbox.post_api(AUTH_REQUEST_PATH, &token, &json!({"requestType": "USER_NONE"})).await;
    let tx_id = success(&body)["txId"].as_str().unwrap().to_owned();
    let (_, body) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({"txId": tx_id})).await;
    assert_eq!(envelope_code(&body), codes::NO_SUCH_REQUEST, "the 본인확인 family does not know it");
    sandbox.sim.approve(&tx_id, Some("wilson")).unwrap();
    let (_, body) = sandbox.post_api(AUTH_STATUS_PATH, &token, &json!({"txId": tx_id})).await;
    assert_eq!(success(&body)["status"], "COMPLETED");
    let session = ClientSession::new();
    let request = json!({"txId": tx_id, "sessionKey": session.session_key(&sandbox.sim.public_key_base64())});
    let (_, body) = sandbox.post_api(AUTH_RESULT_PATH, &token, &request).await;
    assert_eq!(session.decrypt(&success(&body)["personalData"]["name"]), "EMMA WILSON");
}

#[tokio::test]
async fn only_the_configured_families_are_served() {
    let sandbox = Sandbox::start(TossSimConfig { families: vec![PathFamily::Id], ..config() }).await;
    let token = sandbox.token().await;
    for path in [AUTH_REQUEST_PATH, AUTH_STATUS_PATH, AUTH_RESULT_PATH] {
        assert_eq!(sandbox.post_api(path, &token, &json!({"requestType": "USER_NONE"})).await.0, 404, "{path}");
    }
    sandbox.request_none(&token).await;
    let sandbox = Sandbox::start(TossSimConfig { families: vec![PathFamily::Auth], ..config() }).await;
    let token = sandbox.token().await;
    assert_eq!(sandbox.post_api(ID_REQUEST_PATH, &token, &json!({"requestType": "USER_NONE"})).await.0, 404);
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn faults_apply_to_every_endpoint() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    let faults = sandbox.server.faults();
    // HTTP statuses.
    faults.inject(ID_STATUS_PATH, Fault::status(503), Times::Once);
    let (status, _) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({"txId": tx_id})).await;
    assert_eq!(status, 503);
    assert_eq!(sandbox.status(&token, &tx_id).await, "REQUESTED", "once");
    faults.inject(TOKEN_PATH, Fault::status(500), Times::Once);
    let (status, _) = sandbox.token_answer().await;
    assert_eq!(status, 500);
    // A body that is not JSON, and one cut in half.
    faults.inject(ID_REQUEST_PATH, Fault::Malformed, Times::Once);
    let (status, text) = sandbox.post_api_text(ID_REQUEST_PATH, &token, &json!({"requestType": "USER_NONE"})).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&text).is_err());
    sandbox.sim.approve(&tx_id, None).unwrap();
    faults.inject(ID_RESULT_PATH, Fault::Truncated, Times::Once);
    let session = ClientSession::new();
    let body = json!({"txId": tx_id, "sessionKey": session.session_key(&sandbox.sim.public_key_base64())});
    let (status, text) = sandbox.post_api_text(ID_RESULT_PATH, &token, &body).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(sandbox.sim.result_reads(&tx_id), Some(1), "the read happened; only the answer was lost");
    let (_, again) = sandbox.post_api(ID_RESULT_PATH, &token, &body).await;
    assert_eq!(envelope_code(&again), codes::SESSION_REUSED, "a retry needs a new session");
    // Latency.
    faults.inject(ID_STATUS_PATH, Fault::latency(Duration::from_millis(200)), Times::Once);
    let started = std::time::Instant::now();
    assert_eq!(sandbox.status(&token, &tx_id).await, "COMPLETED");
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_hung_call_times_out_the_client() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    sandbox.server.faults().inject(ID_REQUEST_PATH, Fault::Hang, Times::Once);
    let error = sandbox
        .api_request(
            ID_REQUEST_PATH,
            &format!("Bearer {token}"),
            Some("application/json"),
            r#"{"requestType":"USER_NONE"}"#,
        )
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    assert!(sandbox.sim.tx_ids().is_empty(), "a hang answers before the simulator runs");
}

#[tokio::test]
async fn an_injected_provider_code_comes_in_the_fail_envelope() {
    let sandbox = Sandbox::start(config()).await;
    let token = sandbox.token().await;
    let tx_id = sandbox.request_none(&token).await["txId"].as_str().unwrap().to_owned();
    let faults = sandbox.server.faults();
    faults.inject(ID_REQUEST_PATH, Fault::provider_code("CE9999"), Times::Once);
    let (status, body) = sandbox.post_api(ID_REQUEST_PATH, &token, &json!({"requestType": "USER_NONE"})).await;
    assert_eq!((status, envelope_code(&body)), (200, "CE9999"));
    faults.inject(ID_STATUS_PATH, Fault::provider_code(codes::INVALID_TOKEN), Times::Once);
    let (status, body) = sandbox.post_api(ID_STATUS_PATH, &token, &json!({"txId": tx_id})).await;
    assert_eq!((status, envelope_code(&body)), (401, codes::INVALID_TOKEN));
    faults.inject(ID_RESULT_PATH, Fault::provider_code(codes::NOT_COMPLETED), Times::Once);
    let (_, body) = sandbox.result(&token, &tx_id, &ClientSession::new()).await;
    assert_eq!(envelope_code(&body), codes::NOT_COMPLETED);
    faults.inject(TOKEN_PATH, Fault::provider_code("temporarily_unavailable"), Times::Once);
    let (status, body) = sandbox.token_answer().await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "temporarily_unavailable"));
    assert_eq!(sandbox.status(&token, &tx_id).await, "REQUESTED", "each fault applied once");
}

// ---------------------------------------------------------------------------------------------
// Keys and Toss's vectors

#[test]
fn the_simulators_field_crypto_reproduces_tosss_aes_vectors() {
    let mut checked = 0;
    for line in AES_VECTORS.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let [id, key, iv, plain, encrypted] = cols[..] else { panic!("5 columns: {line}") };
        let session = TossSession::from_base64(id, key, iv).unwrap();
        assert_eq!(session.seal(plain).unwrap(), encrypted, "sealing {plain}");
        assert_eq!(session.open(encrypted).unwrap(), plain);
        checked += 1;
    }
    assert_eq!(checked, 100);
}

#[test]
fn the_client_crypto_of_these_tests_reproduces_tosss_aes_vectors() {
    for line in AES_VECTORS.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let client = ClientSession {
            id: cols[0].to_owned(),
            key: STANDARD.decode(cols[1]).unwrap().try_into().unwrap(),
            iv: STANDARD.decode(cols[2]).unwrap().try_into().unwrap(),
        };
        assert_eq!(client.encrypt(cols[3]), cols[4]);
        assert_eq!(client.decrypt(&json!(cols[4])), cols[3]);
    }
}

#[test]
fn the_simulator_opens_tosss_session_key_vectors_with_tosss_test_key() {
    let sim = TossSimulator::new(config()).unwrap();
    assert_eq!(sim.public_key_base64(), TEST_PUBLIC_KEY.trim());
    assert_eq!(sim.key_bits(), 4096);
    let mut checked = 0;
    for line in RSA_VECTORS.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let [id, key, iv, session_key] = cols[..] else { panic!("4 columns: {line}") };
        let opened = sim.open_session_key(session_key).unwrap();
        assert_eq!(opened, TossSession::from_base64(id, key, iv).unwrap(), "{id}");
        assert_eq!(opened.id(), id);
        checked += 1;
    }
    assert_eq!(checked, 100);
}

#[test]
fn the_default_key_is_a_fresh_rsa_4096_pair_and_fresh_keeps_it() {
    let sim = TossSimulator::new(TossSimConfig::default()).unwrap();
    assert_eq!(sim.key_bits(), 4096, "Toss's key size");
    assert_ne!(sim.public_key_base64(), TEST_PUBLIC_KEY.trim());
    let der = sim.public_key_der();
    assert_eq!(STANDARD.encode(&der), sim.public_key_base64());
    assert!(PublicEncryptingKey::from_der(&der).is_ok(), "SPKI DER");
    let fresh = sim.fresh(TossSimConfig { expires_in: 1, ..TossSimConfig::default() });
    assert_eq!(fresh.public_key_base64(), sim.public_key_base64());
    assert_eq!(fresh.config().expires_in, 1);
    let quick = TossSimulator::new(TossSimConfig { server_key: ServerKeySource::GenerateRsa2048, ..config() }).unwrap();
    assert_eq!(quick.key_bits(), 2048);
    assert!(
        TossSimulator::new(TossSimConfig { server_key: ServerKeySource::Pkcs8(vec![1, 2, 3]), ..config() }).is_none()
    );
}

#[test]
fn debug_output_keeps_keys_out() {
    let session = TossSession::new("b94ea687-0a72-43f8-be24-7be5029fa998", &[0x42; 32], &[7; 12]).unwrap();
    assert_eq!(format!("{session:?}"), r#"TossSession { id: "b94ea687-0a72-43f8-be24-7be5029fa998", .. }"#);
    let source = format!("{:?}", config().server_key);
    assert_eq!(source, "Pkcs8(<redacted>)");
}
