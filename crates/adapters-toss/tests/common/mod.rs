//! What the Toss tests share: Toss's test keys, a config on test hosts, and a canned transport that
//! plays Toss (recording what it is sent).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_http::{
    FnTransport, HttpClient, HttpRequest, HttpResponse, Idempotency, RetryPolicy, TransportError,
};
use bonin_adapters_toss::{TossClient, TossConfig, open_session_key};
use bonin_domain::{Clock, ManualClock, OsRng, ProviderId, Rng, SecretString, Timestamp};
use serde_json::{Value, json};

/// The provider id the tests build their `HttpClient` for. A stand-in until the domain has
/// `ProviderId::Toss`: switch it here (the crate itself names no id).
pub const PROVIDER: ProviderId = ProviderId::Toss;

/// Toss's public test credentials.
pub const TEST_CLIENT_ID: &str = "test_a8e23336d673ca70922b485fe806eb2d";
/// Toss's public test credentials.
pub const TEST_CLIENT_SECRET: &str = "test_418087247d66da09fda1964dc4734e453c7cf66a7a9e3";
/// A txId as Toss might issue one.
pub const TX_ID: &str = "2d0e2c9a-8c0c-4a51-a2a6-1f6ac1c9e4f7";

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/toss/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Toss's test public key (Base64 SPKI).
pub fn public_key_base64() -> String {
    data("test_public_key.b64").trim().to_owned()
}

/// Toss's test private key (PKCS#8 DER).
pub fn private_key() -> Vec<u8> {
    STANDARD.decode(data("test_private_key.b64").trim()).unwrap()
}

/// A CSV of the vectors: one row of columns per line.
pub fn csv(name: &str) -> Vec<Vec<String>> {
    data(name).lines().filter(|l| !l.trim().is_empty()).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

/// The test credentials, on test hosts, with the test public key.
pub fn config() -> TossConfig {
    TossConfig::new(TEST_CLIENT_ID, SecretString::from(TEST_CLIENT_SECRET))
        .with_endpoints("https://oauth.toss.test", "https://cert.toss.test")
        .with_public_key(public_key_base64())
}

pub fn now() -> Timestamp {
    time::macros::datetime!(2026-11-30 11:00 UTC)
}

/// One request the fake received.
#[derive(Clone)]
pub struct Seen {
    /// The last path segment: `token`, `request`, `status`, `result`.
    pub call: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub idempotency: Idempotency,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Seen, usize) -> Result<HttpResponse, TransportError> + Send + Sync;

/// Toss, played by a function of (request, how many requests of that call so far, 1-based).
pub struct Fake {
    seen: Mutex<Vec<Seen>>,
    counts: Mutex<HashMap<String, usize>>,
    handler: Box<Handler>,
}

impl Fake {
    pub fn new(
        handler: impl Fn(&Seen, usize) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self { seen: Mutex::default(), counts: Mutex::default(), handler: Box::new(handler) })
    }

    /// Answers the token call with a year-long token and every API call with `api`.
    pub fn with_api(
        api: impl Fn(&Seen, usize) -> Result<HttpResponse, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::new(
            move |seen, n| {
                if seen.call == "token" { Ok(token(&format!("token-{n}"), 31_536_000)) } else { api(seen, n) }
            },
        )
    }

    /// An `HttpClient` over this fake that retries like production (without the waits).
    pub fn http(self: &Arc<Self>) -> HttpClient {
        let fake = self.clone();
        let transport = FnTransport::new(move |request: &HttpRequest| fake.answer(request));
        let retry = RetryPolicy { max_attempts: 3, base_delay: Duration::ZERO, max_delay: Duration::ZERO };
        HttpClient::new(PROVIDER, Arc::new(transport), retry)
    }

    fn answer(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let seen = Seen {
            call: request.url.rsplit('/').next().unwrap_or_default().to_owned(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: String::from_utf8(request.body.clone()).unwrap(),
            idempotency: request.idempotency,
        };
        let n = {
            let mut counts = self.counts.lock().unwrap();
            let count = counts.entry(seen.call.clone()).or_default();
            *count += 1;
            *count
        };
        self.seen.lock().unwrap().push(seen.clone());
        (self.handler)(&seen, n)
    }

    /// How many requests of `call` arrived.
    pub fn count(&self, call: &str) -> usize {
        self.counts.lock().unwrap().get(call).copied().unwrap_or(0)
    }

    /// The requests of `call`, in order.
    pub fn seen(&self, call: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.call == call).cloned().collect()
    }
}

pub fn client_on(fake: &Arc<Fake>, config: TossConfig, clock: Arc<ManualClock>) -> TossClient {
    let clock: Arc<dyn Clock> = clock;
    let rng: Arc<dyn Rng> = Arc::new(OsRng);
    TossClient::new(config, fake.http(), clock, rng).unwrap()
}

pub fn client(fake: &Arc<Fake>) -> TossClient {
    client_on(fake, config(), Arc::new(ManualClock::new(now())))
}

pub fn respond(status: u16, body: &Value) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse::new(status, body.to_string().into_bytes()))
}

/// A token answer.
pub fn token(value: &str, expires_in: u64) -> HttpResponse {
    let body = json!({"access_token": value, "scope": "ca", "token_type": "Bearer", "expires_in": expires_in});
    HttpResponse::new(200, body.to_string().into_bytes())
}

pub fn success(success: Value) -> Value {
    json!({"resultType": "SUCCESS", "success": success})
}

pub fn fail(code: &str) -> Value {
    json!({"resultType": "FAIL", "error": {"errorType": 0, "errorCode": code, "reason": "요청을 처리할 수 없습니다", "data": {}}, "success": null})
}

/// A request's `success`.
pub fn launch() -> Value {
    json!({
        "txId": TX_ID, "requestedDt": "2026-11-30T20:00:00+09:00", "authUrl": "https://auth.cert.toss.im/type-none?txId=x",
        "appScheme": "supertoss://toss-cert/v2/sign/user/auth?txId=x", "androidAppUri": "null", "iosAppUri": "null",
    })
}

/// The person Toss's test mode answers with.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub birthday: String,
    pub gender: String,
    pub nationality: String,
    pub ci: String,
    pub di: String,
    pub age_group: String,
}

pub fn test_person() -> Person {
    Person {
        name: "김토스".into(),
        birthday: "19930324".into(),
        gender: "FEMALE".into(),
        nationality: "LOCAL".into(),
        ci: "CI0110000000001HGgXzX8m1uX3i1TQ5vsKx7cbF2E7HgZ+TgrdHIfyDhHW5t6hePqg==".into(),
        di: "DI0110000000001Bgh8QAMNBfA4TFXDCZQm9AIYSsWu5yFQVtD5ojaBE9Mc1/J8ulvg==".into(),
        age_group: "ADULT".into(),
    }
}

/// A result's `success` for `person`, its `personalData` sealed under the session whose
/// `sessionKey` the request `seen` carried (opened with the test private key, as Toss would).
pub fn result_for(seen: &Seen, person: &Person) -> Value {
    let body = seen.json();
    let session = open_session_key(&private_key(), body["sessionKey"].as_str().unwrap()).unwrap().session().unwrap();
    let seal = |plain: &str| session.encrypt(plain).unwrap();
    json!({
        "txId": body["txId"], "status": "COMPLETED", "signature": "MIIGsAYJKoZIhvcNAQcCoIIGoTCCBp0CAQExDzANBglghkgBZQMEAgEFADAL",
        "requestedDt": "2026-11-30T20:00:00+09:00", "completedDt": "2026-11-30T20:01:30+09:00",
        "userIdentifier": null, "userCiToken": null, "randomValue": null,
        "personalData": {
            "ci": seal(&person.ci), "di": seal(&person.di), "name": seal(&person.name), "birthday": seal(&person.birthday),
            "gender": seal(&person.gender), "nationality": seal(&person.nationality), "ageGroup": seal(&person.age_group),
            "ci2": null, "ciUpdate": null,
        },
    })
}
