//! Canaries over everything the process prints. Every secret of the configuration and every personal
//! value a flow carries is a unique marker (the sandbox personas' values count as markers too); the
//! real `bonin` binary then runs `config`, `token`, `keyfile`, `verify` and `serve` at `trace` level
//! through whole verifications, signing, error paths and `/metrics`, and no marker may appear in its
//! stdout, stderr or any answer, except the identity a verification legitimately hands over. A
//! handler that panics with personal data in its message answers a fixed `500` problem and the log
//! names only where it panicked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{process::Stdio, sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use base64::Engine;
use bonin_app::config::{LoadedConfig, StringEnv, figment, redact_url};
use bonin_domain::{
    Error, OtpCode, OtpDispatch, OtpOutcome, OtpRequest, OtpVerifier, ProviderId, ProviderState, SystemClock,
    Verification,
};
use bonin_sandbox::{
    SandboxServer,
    esignon::{EsignonSimConfig, EsignonSimulator},
    mobileok::{MobileokSimConfig, MobileokSimulator},
    nice::{NiceSimConfig, NiceSimulator, ResultOverrides, WINDOW_PATH},
    personas,
    portone::{self, PortoneSimConfig, PortoneSimulator, WindowOutcome},
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use support::{Captured, api_settings, encode, launch_fields, otp_service};
use tower::ServiceExt;

mod support;

// --- The canaries ---------------------------------------------------------------------------------

const API_KEY: &str = "CANARY-apikey-1-7f3a9c0e2b4d6f81";
const API_KEY_2: &str = "CANARY-apikey-2-0b9e4c1d7a2f5e36";
const WRONG_API_KEY: &str = "CANARY-wrong-apikey-9e3b6d2f1a";
/// The 32 bytes of the sealing key (printable, so a leak of the raw bytes is readable too).
const STORE_KEY_BYTES: &str = "CANARY-storekey-7f3a9c0e2b4d6f81";
const OLD_STORE_KEY_BYTES: &str = "CANARY-storekey-old-3c5e7a9b1d2f";
const NICE_CLIENT_ID: &str = "canary-run-nice-client";
const NICE_SECRET: &str = "CANARY-nice-secret-7f3a2b9d";
const NICE_TOKEN: &str = "CANARY-nice-token-4e8c1a6f";
const MOK_PASSWORD: &str = "CANARY-mok-password-9d2e7b3c";
const IMP_SECRET: &str = "CANARY-imp-secret-5a1f8e2d";
const V2_SECRET: &str = "CANARY-v2-secret-c7b3e9a1";
const ESIGNON_PASSWORD: &str = "CANARY-esignon-password-2f6d";
const WEBHOOK_AUTHORIZATION: &str = "CANARY-esignon-webhook-8b4e1c7a9d3f";
const WRONG_WEBHOOK_AUTHORIZATION: &str = "CANARY-esignon-wrong-hook-6a0c3e";
const PG_PASSWORD: &str = "CANARY-pg-password-6e2a9f1c";
const PG_QUERY_PASSWORD: &str = "CANARY-pg-query-password-1b7d";
const REDIS_PASSWORD: &str = "CANARY-redis-password-3b8d5e0a";
const SHORT_API_KEY: &str = "CANARY-short-1";
const BAD_STORE_KEY: &str = "CANARY-not-a-base64-key-5d1e";
const WRONG_KEYFILE_PASSWORD: &str = "CANARY-keyfile-wrong-1d7c4a";

/// A subject no simulator knows: valid, unique values.
const NAME: &str = "뷁쒧똵";
const PHONE: &str = "01073958146";
const BIRTH_DATE: &str = "1958-03-27";
/// Invalid values, each unique.
const BAD_BIRTH_DATES: [&str; 3] = ["5831-97-46", "5831-9--46", "58319746"];
const BAD_PHONE: &str = "019-7314-68259";
const LONG_NAME_PART: &str = "CANARY-name-too-long-";
const WRONG_CODE: &str = "90817263";
/// Signers of a contract.
const SIGNER_NAME: &str = "괪뜛쀓";
const SIGNER_EMAIL: &str = "canary.signer.3f8e@shop.example";
const SIGNER_PHONE: &str = "01064829173";
const BAD_SIGNER_EMAIL: &str = "canary-bad-email-7c2e";

fn store_key(bytes: &str) -> String {
    assert_eq!(bytes.len(), 32);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes.iter().map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") }).collect()
}

/// The markers to look for, each with a label.
#[derive(Default)]
struct Canaries(Vec<(String, String)>);

impl Canaries {
    /// `value` and the forms it could take on its way out: URL/form encoding, JSON escapes, Base64 and hex.
    fn add(&mut self, label: &str, value: &str) {
        let mut forms = vec![value.to_owned()];
        let encoded = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        forms.push(encoded.replace("%20", "+"));
        forms.push(encoded.to_lowercase());
        forms.push(encoded);
        if !value.is_ascii() {
            forms.push(
                value.chars().map(|c| if c.is_ascii() { c.into() } else { format!("\\u{:04x}", c as u32) }).collect(),
            );
        }
        if value.len() >= 8 {
            forms.push(base64::engine::general_purpose::STANDARD.encode(value));
            forms.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value));
            forms.push(hex(value.as_bytes(), false));
            forms.push(hex(value.as_bytes(), true));
        }
        forms.sort();
        forms.dedup();
        self.0.extend(forms.into_iter().map(|form| (label.to_owned(), form)));
    }

    /// A secret as it is configured and as the bytes it stands for.
    fn add_store_key(&mut self, label: &str, bytes: &str) {
        let text = store_key(bytes);
        self.add(label, &text);
        self.add(label, bytes);
        self.0.push((label.to_owned(), text.trim_end_matches('=').to_owned()));
        self.0.push((label.to_owned(), format!("{:?}", bytes.as_bytes())));
    }

    fn found_in(&self, text: &str) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(label, needle)| {
                let at = text.find(needle.as_str())?;
                let from = (0..=at.saturating_sub(160)).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
                let end = (at + needle.len() + 160).min(text.len());
                let to = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
                Some(format!("{label} ({needle}) in …{}…", &text[from..to]))
            })
            .collect()
    }

    fn assert_absent(&self, what: &str, text: &str) {
        let found = self.found_in(text);
        assert!(found.is_empty(), "{what} leaks {} canary form(s):\n{}", found.len(), found.join("\n---\n"));
    }
}

fn canaries() -> Canaries {
    let mut c = Canaries::default();
    for (label, value) in [
        ("api key", API_KEY),
        ("second api key", API_KEY_2),
        ("wrong api key", WRONG_API_KEY),
        ("nice client secret", NICE_SECRET),
        ("nice access token", NICE_TOKEN),
        ("mobileok key password", MOK_PASSWORD),
        ("portone v1 secret", IMP_SECRET),
        ("portone v2 secret", V2_SECRET),
        ("esignon password", ESIGNON_PASSWORD),
        ("esignon webhook authorization", WEBHOOK_AUTHORIZATION),
        ("wrong webhook authorization", WRONG_WEBHOOK_AUTHORIZATION),
        ("postgres password", PG_PASSWORD),
        ("postgres query password", PG_QUERY_PASSWORD),
        ("redis password", REDIS_PASSWORD),
        ("short api key", SHORT_API_KEY),
        ("malformed store key", BAD_STORE_KEY),
        ("wrong key file password", WRONG_KEYFILE_PASSWORD),
        ("subject name", NAME),
        ("subject phone", PHONE),
        ("subject phone, dashed", "010-7395-8146"),
        ("subject birth date", BIRTH_DATE),
        ("subject birth date, digits", "19580327"),
        ("bad phone", BAD_PHONE),
        ("bad phone, digits", "019731468259"),
        ("long name", LONG_NAME_PART),
        ("wrong otp code", WRONG_CODE),
        ("signer name", SIGNER_NAME),
        ("signer email", SIGNER_EMAIL),
        ("signer phone", SIGNER_PHONE),
        ("bad signer email", BAD_SIGNER_EMAIL),
    ] {
        c.add(label, value);
    }
    for bad in BAD_BIRTH_DATES {
        c.add("bad birth date", bad);
    }
    c.add_store_key("store key", STORE_KEY_BYTES);
    c.add_store_key("old store key", OLD_STORE_KEY_BYTES);
    for p in personas::ALL {
        let label = format!("persona {}", p.key);
        c.add(&label, p.name);
        c.add(&label, p.phone);
        c.add(
            &label,
            &format!("{}-{}-{}", &p.phone[..3], &p.phone[3..p.phone.len() - 4], &p.phone[p.phone.len() - 4..]),
        );
        c.add(&label, p.birth_date);
        c.add(&label, &format!("{}-{}-{}", &p.birth_date[..4], &p.birth_date[4..6], &p.birth_date[6..]));
        c.add(&label, p.ci);
        c.add(&label, p.di);
    }
    c
}

// --- The real binary --------------------------------------------------------------------------------

/// The simulators the binary talks to, accepting the canary credentials.
struct Simulators {
    server: SandboxServer,
    nice: NiceSimulator,
    mobileok: MobileokSimulator,
    portone: PortoneSimulator,
    esignon: EsignonSimulator,
    key_file: Vec<u8>,
}

async fn simulators(port: u16) -> Simulators {
    let nice = NiceSimulator::new(NiceSimConfig {
        clients: vec![(NICE_CLIENT_ID.into(), NICE_SECRET.into())],
        ..NiceSimConfig::default()
    });
    let mobileok = MobileokSimulator::new(MobileokSimConfig {
        return_url_prefixes: vec![format!("http://127.0.0.1:{port}/v1/verifications/")],
        ..MobileokSimConfig::default()
    })
    .unwrap();
    let key_file = mobileok.key_file(MOK_PASSWORD, true);
    let portone = PortoneSimulator::new(PortoneSimConfig {
        v1_keys: vec![(portone::SANDBOX_IMP_KEY.into(), IMP_SECRET.into())],
        v2_secrets: vec![(V2_SECRET.into(), vec![portone::SANDBOX_STORE_ID.into()])],
        ..PortoneSimConfig::default()
    });
    let esignon = EsignonSimulator::new(EsignonSimConfig {
        members: vec![(bonin_sandbox::esignon::SANDBOX_EMAIL.into(), ESIGNON_PASSWORD.into())],
        ..EsignonSimConfig::default()
    });
    let router = nice.router().merge(mobileok.router()).merge(portone.router()).merge(esignon.router());
    let server = SandboxServer::start(router, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Simulators { server, nice, mobileok, portone, esignon, key_file }
}

/// Simulators with their default credentials: every canary credential is refused.
async fn refusing_simulators() -> SandboxServer {
    let router = NiceSimulator::new(NiceSimConfig::default())
        .router()
        .merge(PortoneSimulator::new(PortoneSimConfig::default()).router())
        .merge(EsignonSimulator::new(EsignonSimConfig::default()).router());
    SandboxServer::start(router, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

type Env = Vec<(String, String)>;

/// Every setting, every secret a canary, every provider at `base`.
fn canary_env(port: u16, dir: &std::path::Path, base: &str, key_file: &[u8]) -> Env {
    let vars = [
        ("RUST_LOG", "trace".to_owned()),
        ("BONIN_LOG__LEVEL", "trace".to_owned()),
        ("BONIN_SERVER__BIND", format!("127.0.0.1:{port}")),
        ("BONIN_SERVER__API_KEYS", format!("{API_KEY},{API_KEY_2}")),
        ("BONIN_STORE__URL", format!("sqlite://{}", dir.join("bonin.db").display())),
        (
            "BONIN_STORE__ENCRYPTION_KEYS",
            format!("1:{},0:{}", store_key(STORE_KEY_BYTES), store_key(OLD_STORE_KEY_BYTES)),
        ),
        ("BONIN_PROVIDERS__NICE__CLIENT_ID", NICE_CLIENT_ID.to_owned()),
        ("BONIN_PROVIDERS__NICE__CLIENT_SECRET", NICE_SECRET.to_owned()),
        ("BONIN_PROVIDERS__NICE__ACCESS_TOKEN", NICE_TOKEN.to_owned()),
        ("BONIN_PROVIDERS__NICE__API_BASE", base.to_owned()),
        ("BONIN_PROVIDERS__NICE__WINDOW_URL", format!("{base}{WINDOW_PATH}")),
        ("BONIN_PROVIDERS__MOBILEOK__KEY_FILE_BASE64", base64::engine::general_purpose::STANDARD.encode(key_file)),
        ("BONIN_PROVIDERS__MOBILEOK__KEY_PASSWORD", MOK_PASSWORD.to_owned()),
        ("BONIN_PROVIDERS__MOBILEOK__SITE_URL", "canary.shop.example".to_owned()),
        ("BONIN_PROVIDERS__MOBILEOK__CRYPTO", "v2".to_owned()),
        ("BONIN_PROVIDERS__MOBILEOK__API_BASE", base.to_owned()),
        ("BONIN_PROVIDERS__MOBILEOK__WINDOW_BASE", base.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V1__IMP_KEY", portone::SANDBOX_IMP_KEY.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V1__IMP_SECRET", IMP_SECRET.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V1__MERCHANT_CODE", portone::SANDBOX_MERCHANT_CODE.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V1__CHANNEL_KEY", portone::SANDBOX_V1_CHANNEL_KEY.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V1__API_BASE", base.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V1__SCRIPT_URL", format!("{base}{}", portone::V1_SCRIPT_PATH)),
        ("BONIN_PROVIDERS__PORTONE_V2__API_SECRET", V2_SECRET.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V2__STORE_ID", portone::SANDBOX_STORE_ID.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V2__CHANNEL_KEY", portone::SANDBOX_V2_CHANNEL_KEY.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V2__API_BASE", base.to_owned()),
        ("BONIN_PROVIDERS__PORTONE_V2__SCRIPT_URL", format!("{base}{}", portone::V2_SCRIPT_PATH)),
        ("BONIN_PROVIDERS__ESIGNON__COMPANY_ID", bonin_sandbox::esignon::SANDBOX_COMPANY_ID.to_owned()),
        ("BONIN_PROVIDERS__ESIGNON__EMAIL", bonin_sandbox::esignon::SANDBOX_EMAIL.to_owned()),
        ("BONIN_PROVIDERS__ESIGNON__PASSWORD", ESIGNON_PASSWORD.to_owned()),
        ("BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION", WEBHOOK_AUTHORIZATION.to_owned()),
        ("BONIN_PROVIDERS__ESIGNON__API_BASE", base.to_owned()),
    ];
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn with(env: &Env, changes: &[(&str, Option<String>)]) -> Env {
    let mut env: Env = env.iter().filter(|(k, _)| !changes.iter().any(|(c, _)| c == k)).cloned().collect();
    env.extend(changes.iter().filter_map(|(k, v)| v.clone().map(|v| ((*k).to_owned(), v))));
    env
}

fn command(args: &[&str], env: &Env, dir: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bonin"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `bonin args…` to its end: (exit code, stdout and stderr).
async fn run(args: &[&str], env: &Env, dir: &std::path::Path) -> (i32, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), command(args, env, dir).output())
        .await
        .expect("bonin did not finish")
        .unwrap();
    let text = format!(
        "$ bonin {}\n[stdout]\n{}\n[stderr]\n{}\n",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port()
}

/// One answer of `bonin serve`, as the client saw it.
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// A client of `bonin serve` that keeps every answer (status line, headers, body).
struct Client {
    http: reqwest::Client,
    base: String,
    seen: Vec<String>,
    identities: Vec<Value>,
}

impl Client {
    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let mut seen = format!("HTTP {status}\n");
        for (name, value) in response.headers() {
            seen.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
        }
        let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
        // The identity of a verification is handed over on purpose (to the API-key holder); every other
        // part of the answer is checked.
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(mut body)) if body.contains_key("identity") => {
                self.identities.extend(body.remove("identity"));
                seen.push_str(&Value::Object(body).to_string());
            }
            _ => seen.push_str(&text),
        }
        self.seen.push(seen);
        Answer { status, text }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&mut self, path: &str, body: &Value) -> Answer {
        let request = self
            .http
            .post(self.url(path))
            .bearer_auth(API_KEY)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    async fn post_raw(&mut self, path: &str, content_type: &str, body: String) -> Answer {
        let request =
            self.http.post(self.url(path)).bearer_auth(API_KEY).header(header::CONTENT_TYPE, content_type).body(body);
        self.send(request).await
    }

    async fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(self.url(path)).bearer_auth(API_KEY);
        self.send(request).await
    }

    async fn start(&mut self, body: Value) -> (String, Value) {
        let answer = self.post("/v1/verifications", &body).await;
        assert_eq!(answer.status, 201, "{body}: {}", answer.text);
        let started = answer.json();
        (started["id"].as_str().unwrap().to_owned(), started)
    }
}

async fn nice_flows(client: &mut Client, sims: &Simulators, done: &str, canaries: &mut Canaries) {
    let window = json!({"provider": "nice", "method": "window", "return_url": done, "display": "page"});
    // A tampered landing, then the real one, then two reads of the identity.
    let (id, started) = client.start(window.clone()).await;
    let callback = sims.nice.complete_window(&launch_fields(&started), "hong", &ResultOverrides::default()).unwrap();
    for (name, value) in &callback.params {
        if name != "token_version_id" {
            canaries.add("nice callback payload", value);
        }
    }
    let mut tampered = callback.params.clone();
    for (name, value) in &mut tampered {
        if name == "enc_data" {
            *value = format!("A{}", &value[1..]);
        }
    }
    let path = format!("/v1/verifications/{id}/return");
    let landed = client.post_raw(&path, "application/x-www-form-urlencoded", encode(&tampered)).await;
    assert_eq!(landed.status, 303, "{}", landed.text);
    let landed = client.post_raw(&path, "application/x-www-form-urlencoded", encode(&callback.params)).await;
    assert_eq!(landed.status, 303, "{}", landed.text);
    let read = client.get(&format!("/v1/verifications/{id}")).await;
    assert_eq!(read.json()["status"], "verified", "{}", read.text);
    assert_eq!(read.json()["identity"]["name"], "홍길동");
    client.get(&format!("/v1/verifications/{id}")).await;

    // Server-to-server completion.
    let (id, started) = client.start(window.clone()).await;
    let callback =
        sims.nice.complete_window(&launch_fields(&started), "lee-cp949", &ResultOverrides::default()).unwrap();
    let params: serde_json::Map<String, Value> =
        callback.params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let done_answer = client.post(&format!("/v1/verifications/{id}/complete"), &json!({"params": params})).await;
    assert_eq!(done_answer.json()["status"], "verified", "{}", done_answer.text);
    let again = client.post(&format!("/v1/verifications/{id}/complete"), &json!({"params": params})).await;
    assert_eq!(again.json()["code"], "already_completed", "{}", again.text);

    // A refusal by NICE, then a callback made of personal data.
    let (id, started) = client.start(window.clone()).await;
    let overrides = ResultOverrides { resultcode: Some("9001".into()), ..ResultOverrides::default() };
    let callback = sims.nice.complete_window(&launch_fields(&started), "wilson", &overrides).unwrap();
    let landed = client
        .post_raw(
            &format!("/v1/verifications/{id}/return"),
            "application/x-www-form-urlencoded",
            encode(&callback.params),
        )
        .await;
    assert_eq!(landed.status, 303);
    client.get(&format!("/v1/verifications/{id}")).await;
    let (id, started) = client.start(window).await;
    let token_version_id = launch_fields(&started).into_iter().find(|(k, _)| k == "token_version_id").unwrap().1;
    let forged = json!({"params": {"token_version_id": token_version_id, "enc_data": NAME, "integrity_value": PHONE}});
    let refused = client.post(&format!("/v1/verifications/{id}/complete"), &forged).await;
    assert!(refused.status >= 400, "{}", refused.text);
    let forged =
        json!({"params": {"token_version_id": PHONE, "enc_data": BIRTH_DATE, "integrity_value": SIGNER_EMAIL}});
    let refused = client.post(&format!("/v1/verifications/{id}/complete"), &forged).await;
    assert!(refused.status >= 400, "{}", refused.text);
}

async fn mobileok_windows(client: &mut Client, sims: &Simulators, done: &str, canaries: &mut Canaries) {
    for tamper in [false, true] {
        let body = json!({"provider": "mobileok", "method": "window", "return_url": done, "display": "page"});
        let (id, _) = client.start(body).await;
        let request = client
            .http
            .post(client.url(&format!("/v1/verifications/{id}/launch")))
            .header(header::ORIGIN, client.base.clone());
        let info = client.send(request).await;
        assert_eq!(info.status, 200, "{}", info.text);
        let mut delivery = sims.mobileok.complete_window(&info.text, Some("kim-mvno")).unwrap();
        canaries.add("mobileok result delivery", &delivery.data);
        if tamper {
            delivery.data = delivery.data.replacen('A', "B", 1).replacen('a', "b", 1);
        }
        let landed = client
            .post_raw(
                &format!("/v1/verifications/{id}/return"),
                "application/x-www-form-urlencoded",
                delivery.form_body(),
            )
            .await;
        assert_eq!(landed.status, 303, "{}", landed.text);
        let read = client.get(&format!("/v1/verifications/{id}")).await;
        if !tamper {
            assert_eq!(read.json()["identity"]["name"], "김알뜰", "{}", read.text);
        }
    }
}

async fn portone_windows(client: &mut Client, sims: &Simulators, done: &str) {
    for (provider, persona) in
        [("portone_v1", Some("wilson")), ("portone_v2", Some("kim-mvno")), ("portone_v1", None), ("portone_v2", None)]
    {
        let body = json!({"provider": provider, "method": "window", "return_url": done, "display": "page"});
        let (id, started) = client.start(body).await;
        let launch = &started["launch"];
        let outcome = match launch["merchant_code"].as_str() {
            Some(code) => sims.portone.complete_v1_window(code, &launch["params"], persona),
            None => sims.portone.complete_v2_window(&launch["params"], persona),
        };
        let path = match outcome.unwrap() {
            WindowOutcome::Redirect(url) => url.strip_prefix(&client.base).unwrap().to_owned(),
            // The SDK answered the page instead: the page hands the answer to the landing.
            WindowOutcome::Callback(answer) => {
                let pairs: Vec<(String, String)> = answer
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect();
                format!("/v1/verifications/{id}/return?{}", encode(&pairs))
            }
        };
        let landed = client.get(&path).await;
        assert_eq!(landed.status, 303, "{provider}: {}", landed.text);
        if persona.is_some() {
            // The same landing with the provider's id swapped: another verification's result.
            let swapped = path.replacen("imp_uid=", "imp_uid=imp_999", 1).replacen(
                "identityVerificationId=",
                "identityVerificationId=x",
                1,
            );
            client.get(&swapped).await;
        }
        let read = client.get(&format!("/v1/verifications/{id}")).await;
        // A cancel is only the browser's word: the verification stays open.
        let expected = if persona.is_some() { "verified" } else { "pending" };
        assert_eq!(read.json()["status"], expected, "{provider}: {}", read.text);
    }
}

fn canary_subject() -> Value {
    json!({"name": NAME, "phone": PHONE, "birth_date": BIRTH_DATE, "gender": "female", "nationality": "domestic",
           "carrier": "kt", "auth_type": "sms", "client_ip": "203.0.113.7"})
}

async fn otp_flows(client: &mut Client) {
    let hong = personas::by_key("hong").unwrap();
    let wilson = personas::by_key("wilson").unwrap();
    for (provider, person, nationality, carrier, gender) in [
        ("mobileok", wilson, "foreign", "kt", "female"),
        ("portone_v1", hong, "domestic", "skt", "male"),
        ("portone_v2", hong, "domestic", "skt", "male"),
    ] {
        let otp = json!({"provider": provider, "method": "otp", "purpose": "sign_up"});
        // Someone the provider does not know: refused.
        let (id, _) = client.start(otp.clone()).await;
        let refused = client.post(&format!("/v1/verifications/{id}/otp"), &canary_subject()).await;
        assert!(refused.status >= 400, "{provider}: {}", refused.text);
        client.get(&format!("/v1/verifications/{id}")).await;

        // A persona: a wrong code, a resend, the right code, a replay, the reads.
        let (id, _) = client.start(otp).await;
        let birth = &person.birth_date;
        let subject = json!({"name": person.name, "phone": person.phone,
            "birth_date": format!("{}-{}-{}", &birth[..4], &birth[4..6], &birth[6..]), "gender": gender,
            "nationality": nationality, "carrier": carrier, "auth_type": "sms", "client_ip": "203.0.113.7"});
        let sent = client.post(&format!("/v1/verifications/{id}/otp"), &subject).await;
        assert_eq!(sent.json()["status"], "otp_sent", "{provider}: {}", sent.text);
        let wrong = client.post(&format!("/v1/verifications/{id}/confirm"), &json!({"code": WRONG_CODE})).await;
        assert_eq!(wrong.json()["code"], "provider_rejected", "{provider}: {}", wrong.text);
        let resent = client.post(&format!("/v1/verifications/{id}/resend"), &json!({})).await;
        assert!(resent.status < 500, "{provider}: {}", resent.text);
        let confirm = format!("/v1/verifications/{id}/confirm");
        let done = client.post(&confirm, &json!({"code": person.otp})).await;
        assert_eq!(done.json()["status"], "verified", "{provider}: {}", done.text);
        let again = client.post(&confirm, &json!({"code": person.otp})).await;
        assert_eq!(again.json()["code"], "already_completed", "{provider}: {}", again.text);
        let read = client.get(&format!("/v1/verifications/{id}")).await;
        assert_eq!(read.json()["identity"]["name"], person.name, "{provider}: {}", read.text);
    }
}

async fn error_paths(client: &mut Client) {
    let (id, _) = client.start(json!({"provider": "portone_v2", "method": "otp"})).await;
    let otp = format!("/v1/verifications/{id}/otp");
    let mut bodies: Vec<Value> = BAD_BIRTH_DATES
        .iter()
        .map(|bad| {
            let mut body = canary_subject();
            body["birth_date"] = json!(bad);
            body
        })
        .collect();
    let mut bad_phone = canary_subject();
    bad_phone["phone"] = json!(BAD_PHONE);
    let mut long_name = canary_subject();
    long_name["name"] = json!(LONG_NAME_PART.repeat(6));
    let mut control = canary_subject();
    control["name"] = json!(format!("{NAME}\u{7}{SIGNER_NAME}"));
    // Values where serde expects something else: its messages would quote them.
    let mut gender = canary_subject();
    gender["gender"] = json!(NAME);
    let mut carrier = canary_subject();
    carrier["carrier"] = json!(PHONE);
    let mut ip = canary_subject();
    ip["client_ip"] = json!(BIRTH_DATE);
    let mut unknown = canary_subject();
    unknown[SIGNER_EMAIL] = json!(SIGNER_PHONE);
    let mut numeric = canary_subject();
    numeric["name"] = json!(73958146);
    bodies.extend([bad_phone, long_name, control, gender, carrier, ip, unknown, numeric]);
    for body in &bodies {
        let answer = client.post(&otp, body).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
    }
    let text = canary_subject().to_string();
    for (content_type, body) in [
        ("application/json", text[..text.len() / 2].to_owned()),
        ("application/json", format!("{text}{{\"{NAME}\"")),
        ("text/plain", text.clone()),
        ("application/x-www-form-urlencoded", format!("name={NAME}&phone={PHONE}")),
    ] {
        let answer = client.post_raw(&otp, content_type, body).await;
        assert!((400..500).contains(&answer.status), "{}", answer.text);
    }
    let confirm = format!("/v1/verifications/{id}/confirm");
    for code in [json!(WRONG_CODE), json!(format!("{PHONE}{PHONE}")), json!(BIRTH_DATE), json!(73958146)] {
        let answer = client.post(&confirm, &json!({"code": code})).await;
        assert!((400..500).contains(&answer.status), "{}", answer.text);
    }
    let start = client
        .post(
            "/v1/verifications",
            &json!({"provider": "nice", "method": "window", "return_url": format!("https://{PHONE}.example/{NAME}")}),
        )
        .await;
    assert_eq!(start.status, 400, "{}", start.text);
    let start = client.post("/v1/verifications", &json!({"provider": NAME, "method": PHONE})).await;
    assert_eq!(start.status, 400, "{}", start.text);

    // Unknown ids, some made of personal data, on every endpoint.
    let encoded = utf8_percent_encode(NAME, NON_ALPHANUMERIC).to_string();
    for unknown in [PHONE, encoded.as_str(), "v_00000000000000000000000000"] {
        assert_eq!(client.get(&format!("/v1/verifications/{unknown}")).await.status, 404);
        client.post(&format!("/v1/verifications/{unknown}/confirm"), &json!({"code": WRONG_CODE})).await;
        client.post(&format!("/v1/verifications/{unknown}/otp"), &canary_subject()).await;
        client.post(&format!("/v1/verifications/{unknown}/complete"), &json!({"params": {"name": NAME}})).await;
        let landing = format!("/v1/verifications/{unknown}/return?name={encoded}&phone={PHONE}&birth={BIRTH_DATE}");
        client.get(&landing).await;
        client
            .post_raw(
                &format!("/v1/verifications/{unknown}/return"),
                "application/x-www-form-urlencoded",
                format!("name={encoded}&phone={PHONE}"),
            )
            .await;
        client.get(&format!("/v1/verifications/{unknown}/launch")).await;
    }
    client.get(&format!("/v1/{PHONE}/{encoded}")).await;

    // Wrong or missing keys.
    let request = client.http.get(client.url(&format!("/v1/verifications/{id}"))).bearer_auth(WRONG_API_KEY);
    assert_eq!(client.send(request).await.status, 401);
    let request =
        client.http.get(client.url(&format!("/v1/verifications/{id}"))).header(header::AUTHORIZATION, WRONG_API_KEY);
    assert_eq!(client.send(request).await.status, 401);
}

async fn signing(client: &mut Client, sims: &Simulators) {
    let body = json!({"template_id": bonin_sandbox::esignon::SANDBOX_TEMPLATE_ID, "workflow_name": "근로계약서",
        "signers": [{"name": SIGNER_NAME, "email": SIGNER_EMAIL}, {"name": NAME, "phone": SIGNER_PHONE}],
        "fields": {"contract_date": "2026-11-23"}});
    let started = client.post("/v1/signing", &body).await;
    assert_eq!(started.status, 201, "{}", started.text);
    let started = started.json();
    let id = started["id"].as_str().unwrap().to_owned();
    sims.esignon.sign(started["provider_workflow_id"].as_str().unwrap(), false).unwrap();
    client.get(&format!("/v1/signing/{id}")).await;
    client.post(&format!("/v1/signing/{id}/remind"), &json!({})).await;
    client.post(&format!("/v1/signing/{id}/cancel"), &json!({"command": "dispose", "reason": NAME})).await;
    let cancelled = client.post(&format!("/v1/signing/{id}/cancel"), &json!({"command": "cancel"})).await;
    assert_eq!(cancelled.json()["status"], "cancelled", "{}", cancelled.text);
    client.get(&format!("/v1/signing/{id}")).await;
    let mut bad = body.clone();
    bad["signers"][0]["email"] = json!(BAD_SIGNER_EMAIL);
    assert_eq!(client.post("/v1/signing", &bad).await.status, 400);
    let mut bad = body.clone();
    bad["signers"][1]["phone"] = json!(BAD_PHONE);
    assert_eq!(client.post("/v1/signing", &bad).await.status, 400);
    let mut bad = body;
    bad["expires_on"] = json!(BIRTH_DATE.replace('-', "/"));
    assert_eq!(client.post("/v1/signing", &bad).await.status, 400);
    client.get(&format!("/v1/signing/esignon-{PHONE}")).await;
    client.post(&format!("/v1/signing/esignon-{PHONE}/cancel"), &json!({"command": NAME})).await;
    // eSignon's callbacks: a wrong authorization, then a right one with garbage. A status bonin does
    // not know (here personal data) is accepted, kept and never printed.
    let event = json!({"header": {"api_name": "export"}, "body": {"wfuid": "1", "status": SIGNER_EMAIL}});
    for authorization in [WRONG_WEBHOOK_AUTHORIZATION, WEBHOOK_AUTHORIZATION] {
        for body in [event.to_string(), format!("{NAME}{PHONE}")] {
            // An authorized body bonin cannot read is answered 200 too (an error loses the event).
            let accepted = authorization == WEBHOOK_AUTHORIZATION;
            let request = client
                .http
                .post(client.url("/v1/signing/events"))
                .header(header::AUTHORIZATION, authorization)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
            let answer = client.send(request).await;
            if accepted {
                assert_eq!(answer.status, 200, "{}", answer.text);
            } else {
                assert!((400..500).contains(&answer.status), "{}", answer.text);
            }
        }
    }
    for _ in 0..100 {
        if !sims.esignon.deliveries().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!sims.esignon.deliveries().is_empty(), "eSignon reported progress to bonin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_binary_prints_or_answers_holds_a_secret_or_personal_data() {
    let _serial = SERIAL.lock().await;
    let mut canaries = canaries();
    let dir = std::env::temp_dir().join(format!("bonin-canary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port().await;
    let sims = simulators(port).await;
    let refusing = refusing_simulators().await;
    let env = canary_env(port, &dir, &sims.server.base_url(), &sims.key_file);
    canaries.add("mobileok key file", &base64::engine::general_purpose::STANDARD.encode(&sims.key_file));
    let mut printed = Vec::new();

    // The configuration: its Debug, `redact_url`, and `bonin config` with secrets in store URLs.
    let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars(env.clone()))).unwrap();
    printed.push(format!("{loaded:?}"));
    let pg = format!("postgres://bonin:{PG_PASSWORD}@127.0.0.1:9/bonin?sslmode=disable&password={PG_QUERY_PASSWORD}");
    assert_eq!(redact_url(&pg), "postgres://bonin:<redacted>@127.0.0.1:9/bonin?sslmode=disable&password=<redacted>");
    let redis = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:9/0");
    assert_eq!(redact_url(&redis), "redis://:<redacted>@127.0.0.1:9/0");
    let shared = |url: &str| {
        with(&env, &[("BONIN_STORE__URL", Some(url.to_owned())), ("BONIN_STORE__SHARE_TOKENS", Some("true".into()))])
    };
    for url in [&pg, &redis] {
        let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars(shared(url)))).unwrap();
        printed.push(format!("{loaded:?}"));
        let (code, text) = run(&["config"], &shared(url), &dir).await;
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("<redacted>@127.0.0.1:9"), "{text}");
        printed.push(text);
        // The store cannot be reached: the error names no password.
        for args in [&["serve"][..], &["token", "--provider", "nice"][..]] {
            let (code, text) = run(args, &shared(url), &dir).await;
            assert_ne!(code, 0, "{text}");
            printed.push(text);
        }
    }
    // Invalid secrets are refused without being echoed.
    for (key, value) in [
        ("BONIN_SERVER__API_KEYS", SHORT_API_KEY.to_owned()),
        ("BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION", SHORT_API_KEY.to_owned()),
        ("BONIN_STORE__URL", format!("mysql://bonin:{PG_PASSWORD}@127.0.0.1/bonin")),
    ] {
        let (code, text) = run(&["config"], &with(&env, &[(key, Some(value))]), &dir).await;
        assert_eq!(code, 3, "{text}");
        printed.push(text);
    }
    let bad_key = with(&env, &[("BONIN_STORE__ENCRYPTION_KEYS", Some(format!("1:{BAD_STORE_KEY}")))]);
    let (code, text) = run(&["token", "--provider", "nice"], &bad_key, &dir).await;
    assert_ne!(code, 0, "{text}");
    printed.push(text);

    // `bonin token` for every provider: accepted by the simulators, then refused by ones that do not
    // know the canary credentials.
    let refused = with(
        &env,
        &[
            ("BONIN_PROVIDERS__NICE__ACCESS_TOKEN", None),
            ("BONIN_PROVIDERS__NICE__API_BASE", Some(refusing.base_url())),
            ("BONIN_PROVIDERS__PORTONE_V1__API_BASE", Some(refusing.base_url())),
            ("BONIN_PROVIDERS__ESIGNON__API_BASE", Some(refusing.base_url())),
        ],
    );
    for provider in ["nice", "mobileok", "portone_v1", "portone_v2", "esignon"] {
        let (code, text) = run(&["token", "--provider", provider], &env, &dir).await;
        if matches!(provider, "nice" | "portone_v1" | "esignon") {
            assert_eq!(code, 0, "{text}");
        }
        printed.push(text);
        let (code, text) = run(&["token", "--provider", provider], &refused, &dir).await;
        assert_ne!(code, 0, "{text}");
        printed.push(text);
    }
    // Without the access token, NICE is asked for one.
    let (code, text) =
        run(&["token", "--provider", "nice"], &with(&env, &[("BONIN_PROVIDERS__NICE__ACCESS_TOKEN", None)]), &dir)
            .await;
    assert_eq!(code, 0, "{text}");
    printed.push(text);

    // `bonin keyfile inspect` with the right password and a wrong one.
    let key_path = dir.join("mok_keyInfo.dat");
    std::fs::write(&key_path, &sims.key_file).unwrap();
    let key_path = key_path.display().to_string();
    for (password, ok) in [(MOK_PASSWORD, true), (WRONG_KEYFILE_PASSWORD, false)] {
        let keyfile_env = with(&env, &[("BONIN_KEYFILE_PASSWORD", Some(password.to_owned()))]);
        let (code, text) = run(&["keyfile", "inspect", &key_path], &keyfile_env, &dir).await;
        assert_eq!(code == 0, ok, "{text}");
        printed.push(text);
    }

    // `bonin token` and `bonin verify` (which prints a masked identity) against the in-process
    // simulators, which accept the configured credentials.
    let sandbox_env: Env = env
        .iter()
        .filter(|(k, _)| {
            !k.ends_with("API_BASE")
                && !k.ends_with("WINDOW_URL")
                && !k.ends_with("WINDOW_BASE")
                && !k.ends_with("SCRIPT_URL")
        })
        .cloned()
        .collect();
    for provider in ["nice", "portone_v1", "esignon"] {
        let (code, text) = run(&["token", "--provider", provider], &sandbox_env, &dir).await;
        assert_eq!(code, 0, "{text}");
        printed.push(text);
    }
    for (provider, persona) in
        [("nice", "hong"), ("mobileok", "kim-mvno"), ("portone_v1", "wilson"), ("portone_v2", "lee-cp949")]
    {
        let (code, text) = run(&["verify", "--provider", provider, "--persona", persona], &sandbox_env, &dir).await;
        assert_eq!(code, 0, "{text}");
        assert!(text.contains("status: Verified"), "{text}");
        printed.push(text);
    }

    // `bonin serve`: every flow, error path and /metrics.
    let mut server = command(&["serve"], &env, &dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = server.stdout.take().unwrap();
    let mut stderr = server.stderr.take().unwrap();
    let out = tokio::spawn(async move {
        let mut buffer = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut buffer).await.unwrap();
        buffer
    });
    let err = tokio::spawn(async move {
        let mut buffer = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stderr, &mut buffer).await.unwrap();
        buffer
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..300 {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status().as_u16() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "bonin serve did not become ready");
    let mut client = Client { http, base: base.clone(), seen: Vec::new(), identities: Vec::new() };
    let done = format!("{base}/demo/done");
    nice_flows(&mut client, &sims, &done, &mut canaries).await;
    mobileok_windows(&mut client, &sims, &done, &mut canaries).await;
    portone_windows(&mut client, &sims, &done).await;
    otp_flows(&mut client).await;
    error_paths(&mut client).await;
    signing(&mut client, &sims).await;
    let metrics = client.get("/metrics").await;
    assert!(metrics.text.contains("bonin_"), "{}", metrics.text);
    client.get("/healthz").await;
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.await.unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err.await.unwrap()).into_owned();

    // The checks see what they would have to catch: the identities hold persona values, the log is
    // at trace level and names verifications.
    assert!(client.identities.len() >= 8, "{} identities read", client.identities.len());
    let identities = Value::Array(client.identities.clone()).to_string();
    for name in ["홍길동", "EMMA WILSON", "김알뜰", "이똠방"] {
        assert!(identities.contains(name), "{name} was verified and read");
    }
    assert!(!canaries.found_in(&identities).is_empty());
    assert!(stderr.contains("verification started") && stderr.contains("signing started"), "{stderr}");
    // The access lines can be told apart by their target, as docs/OPERATIONS.md says.
    assert!(stderr.lines().any(|line| line.contains("bonin::access") && line.contains("request handled")), "{stderr}");
    for (n, text) in printed.iter().enumerate() {
        canaries.assert_absent(&format!("command output #{n}"), text);
    }
    canaries.assert_absent("bonin serve's stdout", &stdout);
    canaries.assert_absent("bonin serve's stderr", &stderr);
    for (n, answer) in client.seen.iter().enumerate() {
        canaries.assert_absent(&format!("answer #{n}"), answer);
    }
    canaries.assert_absent("/metrics", &metrics.text);
    sims.server.shutdown().await;
    refusing.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// --- A forced panic, in process -------------------------------------------------------------------

/// The panic hook is the process's: the two tests do not overlap, so the other's failure messages
/// are never withheld.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An OTP provider that panics with personal data and a secret in its message: on sending to anyone
/// but `hong`, and on every confirm (a slice out of bounds: the standard library's own message
/// quotes the code).
struct PanickingOtp;

#[async_trait]
impl OtpVerifier for PanickingOtp {
    fn provider(&self) -> ProviderId {
        ProviderId::PortoneV2
    }
    async fn send(&self, request: &OtpRequest) -> Result<OtpDispatch, Error> {
        let subject = &request.subject;
        if subject.name.expose() != personas::ALL[0].name {
            panic!(
                "cannot send to {} at {} born {} with {V2_SECRET}",
                subject.name.expose(),
                subject.phone.expose(),
                subject.birth_date.iso()
            );
        }
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn resend(&self, _: &Verification) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn confirm(&self, _: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        let code = code.map(|c| c.expose().to_owned()).unwrap_or_default();
        let past_the_end = &code[..code.len() + 1];
        Err(Error::invalid_input("code", if past_the_end.is_empty() { "empty" } else { "unreachable" }))
    }
}

async fn call(router: &axum::Router, method: &str, path: String, body: Value) -> (StatusCode, String, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, content_type.unwrap_or_default(), serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_panic_answers_a_fixed_problem_and_logs_only_where_it_happened() {
    let _serial = SERIAL.lock().await;
    let captured = Captured::default();
    let subscriber =
        tracing_subscriber::fmt().json().with_max_level(tracing::Level::TRACE).with_writer(captured.clone()).finish();
    // A current-thread runtime: the handler, and the hook, run on this thread.
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let previous = std::panic::take_hook();
    bonin_app::panic::install_hook();

    let service = otp_service(Arc::new(SystemClock::new()), Arc::new(PanickingOtp));
    let router = bonin_app::api::router(Arc::new(service), api_settings(Duration::from_secs(10)));
    let (status, _, started) = call(&router, "POST", "/v1/verifications".into(), json!({"method": "otp"})).await;
    let id = started["id"].as_str().map(str::to_owned).unwrap_or_default();
    let subject = json!({"name": NAME, "phone": PHONE, "birth_date": BIRTH_DATE, "gender": "male",
                         "nationality": "domestic", "carrier": "skt", "client_ip": "203.0.113.7"});
    let panicked = call(&router, "POST", format!("/v1/verifications/{id}/otp"), subject).await;
    let after = call(&router, "GET", format!("/v1/verifications/{id}"), Value::Null).await;
    let (_, _, second) = call(&router, "POST", "/v1/verifications".into(), json!({"method": "otp"})).await;
    let second = second["id"].as_str().map(str::to_owned).unwrap_or_default();
    let hong = json!({"name": "홍길동", "phone": "01012345678", "birth_date": "1990-02-15", "gender": "male",
                      "nationality": "domestic", "carrier": "skt", "client_ip": "203.0.113.7"});
    let sent = call(&router, "POST", format!("/v1/verifications/{second}/otp"), hong).await;
    let confirmed =
        call(&router, "POST", format!("/v1/verifications/{second}/confirm"), json!({"code": WRONG_CODE})).await;
    // A panic outside any request, on this thread.
    let direct = std::panic::catch_unwind(|| panic!("{NAME} {PHONE} {API_KEY}"));
    std::panic::set_hook(previous);

    assert_eq!(status, StatusCode::CREATED, "{started}");
    let (status, content_type, problem) = panicked;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["code"], "misconfigured", "{problem}");
    assert_eq!(problem["status"], 500);
    assert!(problem["detail"].as_str().unwrap().starts_with("an internal error occurred"), "{problem}");
    assert_eq!(after.0, StatusCode::OK, "the service answers after a panic: {}", after.2);
    assert_eq!(sent.2["status"], "otp_sent", "{}", sent.2);
    assert_eq!((confirmed.0, &confirmed.2["code"]), (StatusCode::INTERNAL_SERVER_ERROR, &json!("misconfigured")));
    canaries().assert_absent("the second problem", &confirmed.2.to_string());
    assert!(direct.is_err());
    let logs = captured.text();
    let mut canaries = canaries();
    canaries.add("portone v2 secret", V2_SECRET);
    canaries.assert_absent("the problem", &problem.to_string());
    canaries.assert_absent("the logs", &logs);
    assert_eq!(logs.matches("the panic message is withheld").count(), 3, "{logs}");
    assert!(
        logs.contains("\"level\":\"ERROR\"") && logs.contains("tests/canary.rs:"),
        "the location is logged: {logs}"
    );
    assert!(logs.contains("verification started"), "{logs}");
}
