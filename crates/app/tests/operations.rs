//! Operations: request ids and the access log, and the files in `deploy/` (the systemd unit, the
//! Dockerfile, the example production configuration).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use axum::{
    Router,
    body::Body,
    http::{HeaderValue, Request, StatusCode},
};
use bonin_app::{
    access::{ACCESS_TARGET, REQUEST_ID_HEADER},
    config::{LoadedConfig, ProfileName, StringEnv, figment, secret_keys},
};
use bonin_domain::*;
use figment::providers::{Format, Toml};
use serde_json::{Value, json};
use support::{Captured, Reply, StandInOtp, api_settings, otp_service, send};

mod support;

// --- The operations listener (server.admin_bind) ---

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let reply = reqwest::Client::new().get(format!("http://{addr}{path}")).send().await.unwrap();
    (reply.status().as_u16(), reply.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_admin_bind_metrics_health_and_readiness_leave_the_public_listener() {
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (public_at, admin_at) = (public.local_addr().unwrap(), admin.local_addr().unwrap());
    let app = support::app(&[("BONIN_SERVER__ADMIN_BIND", &admin_at.to_string())]).await;
    assert_eq!(app.admin.as_ref().map(|a| a.bind), Some(admin_at));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.serve_with_admin(public, Some(admin), async {
        let _ = stopped.await;
    }));

    for path in ["/metrics", "/healthz", "/readyz"] {
        let (status, body) = http_get(public_at, path).await;
        assert_eq!(status, 404, "{path} on the public listener: {body}");
    }
    let (status, body) = http_get(admin_at, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("bonin_flows_started_total"), "{body}");
    assert_eq!(http_get(admin_at, "/healthz").await, (200, "ok".to_owned()));
    assert_eq!(http_get(admin_at, "/readyz").await, (200, "ready".to_owned()));
    // Only operations there: the API is not reachable through the admin listener.
    assert_eq!(http_get(admin_at, "/openapi.json").await.0, 404);
    // The public document describes what the public listener answers: no operations routes.
    let (status, document) = http_get(public_at, "/openapi.json").await;
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    let paths = document["paths"].as_object().unwrap();
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert!(!paths.contains_key(path), "{path} is described but not served");
    }
    assert!(paths.contains_key("/v1/verifications") && paths.contains_key("/openapi.json"));

    let _ = stop.send(());
    served.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_admin_bind_operations_stay_on_the_public_listener() {
    let app = support::app(&[]).await;
    assert!(app.admin.is_none());
    let document = send(&app.router, Request::get("/openapi.json").body(Body::empty()).unwrap()).await;
    let document: serde_json::Value = serde_json::from_slice(&document.body).unwrap();
    for path in ["/metrics", "/healthz", "/readyz"] {
        let reply = send(&app.router, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(document["paths"][path].is_object(), "{path} is served but not described");
    }
}

#[test]
fn admin_bind_must_not_share_the_public_address() {
    for (bind, admin) in
        [("127.0.0.1:8080", "127.0.0.1:8080"), ("0.0.0.0:8080", "127.0.0.1:8080"), ("127.0.0.1:8080", "0.0.0.0:8080")]
    {
        let env = StringEnv::from_vars(vec![
            ("BONIN_SERVER__BIND".to_owned(), bind.to_owned()),
            ("BONIN_SERVER__ADMIN_BIND".to_owned(), admin.to_owned()),
        ]);
        let error = LoadedConfig::load(figment(None, env)).unwrap_err().to_string();
        assert!(error.contains("server.admin_bind"), "{bind} / {admin}: {error}");
    }
    let env = StringEnv::from_vars(vec![
        ("BONIN_SERVER__BIND".to_owned(), "127.0.0.1:8080".to_owned()),
        ("BONIN_SERVER__ADMIN_BIND".to_owned(), "127.0.0.1:9090".to_owned()),
    ]);
    assert!(LoadedConfig::load(figment(None, env)).is_ok());
}

// --- Request ids and the access log ---

/// Everything logged by this test binary, as JSON lines with their spans. One subscriber for the
/// whole process (requests may be finished on any worker thread); each test finds its own lines
/// by its request ids.
fn logs() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_target(true)
            .with_writer(captured.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}

fn lines() -> Vec<Value> {
    logs().text().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// The access line of request `id`; exactly one.
fn access_line(id: &str) -> Value {
    let found: Vec<Value> = lines()
        .into_iter()
        .filter(|line| line["target"] == ACCESS_TARGET && line["fields"]["request_id"] == id)
        .collect();
    assert_eq!(found.len(), 1, "one access line for {id}: {found:?}");
    found.into_iter().next().unwrap()
}

/// A router over a memory store and a stand-in OTP provider, without API keys.
fn router_over(otp: Arc<dyn OtpVerifier>) -> Router {
    logs();
    let service = otp_service(Arc::new(SystemClock::new()), otp);
    bonin_app::api::router(Arc::new(service), api_settings(Duration::from_secs(10)))
}

fn request(method: &str, path: &str, body: Option<Value>, request_id: Option<&[u8]>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(id) = request_id {
        builder = builder.header(REQUEST_ID_HEADER, HeaderValue::from_bytes(id).unwrap());
    }
    match body {
        Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

fn answered_id(reply: &Reply) -> String {
    let ids: Vec<_> = reply.headers.get_all(REQUEST_ID_HEADER).iter().collect();
    assert_eq!(ids.len(), 1, "one x-request-id in the answer: {ids:?}");
    ids[0].to_str().unwrap().to_owned()
}

fn is_generated(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_request_id_is_echoed_and_the_service_spans_nest_under_it() {
    let router = router_over(Arc::new(StandInOtp));
    let id = "ops.valid:Request_1-a";
    let reply =
        send(&router, request("POST", "/v1/verifications", Some(json!({"method": "otp"})), Some(id.as_bytes()))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(answered_id(&reply), id);

    let access = access_line(id);
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["fields"]["method"], "POST");
    assert_eq!(access["fields"]["route"], "/v1/verifications");
    assert_eq!(access["fields"]["status"], 201);
    assert!(access["fields"]["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{access}");

    // The service's line, logged in its `verification` span, carries the request's span above it.
    let verification_id = reply.json()["id"].as_str().unwrap().to_owned();
    let started = lines()
        .into_iter()
        .find(|line| line["fields"]["verification_id"] == verification_id.as_str())
        .expect("the service logs the start");
    let spans: Vec<&str> = started["spans"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    let request_at = spans.iter().position(|name| *name == "request").expect("in the request span");
    let verification_at = spans.iter().position(|name| *name == "verification").expect("in the verification span");
    assert!(request_at < verification_at, "{spans:?}");
    assert_eq!(started["spans"][request_at]["request_id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacceptable_request_id_is_replaced_and_never_repeated() {
    let router = router_over(Arc::new(StandInOtp));
    let too_long = "L".repeat(65);
    let refused: [&[u8]; 6] =
        [too_long.as_bytes(), b"<script>alert(1)</script>", b"two words", b"a/b?c=d", b"idunaccepted\xc3\xa9", b""];
    let mut answered = Vec::new();
    for sent in refused {
        let reply = send(&router, request("GET", "/healthz", None, Some(sent))).await;
        assert_eq!(reply.status, StatusCode::OK);
        let id = answered_id(&reply);
        assert!(is_generated(&id), "{sent:?} was replaced by a fresh id, not {id}");
        assert_eq!(access_line(&id)["fields"]["status"], 200);
        answered.push(id);
    }
    // Two ids are ambiguous: both are replaced.
    let mut two = request("GET", "/healthz", None, Some(b"first-id"));
    two.headers_mut().append(REQUEST_ID_HEADER, HeaderValue::from_static("second-id"));
    let reply = send(&router, two).await;
    let id = answered_id(&reply);
    assert!(is_generated(&id), "{id}");
    answered.push(id);

    answered.sort();
    answered.dedup();
    assert_eq!(answered.len(), refused.len() + 1, "every replacement is new");
    let text = logs().text();
    for never in [too_long.as_str(), "<script>", "two words", "a/b?c=d", "idunaccepted", "first-id", "second-id"] {
        assert!(!text.contains(never), "{never:?} was logged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_request_id_each_request_gets_a_fresh_one() {
    let router = router_over(Arc::new(StandInOtp));
    let first = answered_id(&send(&router, request("GET", "/healthz", None, None)).await);
    let second = answered_id(&send(&router, request("GET", "/readyz", None, None)).await);
    assert!(is_generated(&first) && is_generated(&second), "{first} {second}");
    assert_ne!(first, second);
    assert_eq!(access_line(&first)["fields"]["route"], "/healthz");
    assert_eq!(access_line(&second)["fields"]["route"], "/readyz");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_line_names_the_route_template_never_the_path_or_its_query() {
    let router = router_over(Arc::new(StandInOtp));
    let started = send(&router, request("POST", "/v1/verifications", Some(json!({"method": "otp"})), None)).await;
    let verification_id = started.json()["id"].as_str().unwrap().to_owned();

    let cases = [
        ("GET", format!("/v1/verifications/{verification_id}?token=secret-canary"), "/v1/verifications/{id}", 200),
        ("DELETE", format!("/v1/verifications/{verification_id}?token=secret-canary"), "/v1/verifications/{id}", 405),
        (
            "POST",
            format!("/v1/verifications/{verification_id}/confirm?token=secret-canary"),
            "/v1/verifications/{id}/confirm",
            415,
        ),
        ("GET", format!("/no/such/{verification_id}?token=secret-canary"), "-", 404),
    ];
    for (n, (method, path, template, status)) in cases.into_iter().enumerate() {
        let id = format!("ops-template-{n}");
        let reply = send(&router, request(method, &path, None, Some(id.as_bytes()))).await;
        assert_eq!(reply.status.as_u16(), status, "{method} {path}: {}", reply.text());
        let access = access_line(&id);
        assert_eq!(access["fields"]["route"], template, "{access}");
        assert_eq!(access["fields"]["method"], method);
        assert_eq!(access["fields"]["status"], status);
        let line = access.to_string();
        assert!(!line.contains(&verification_id), "the path as sent is not logged: {line}");
        assert!(!line.contains("secret-canary"), "the query string is not logged: {line}");
    }
    let text = logs().text();
    assert!(!text.contains("secret-canary"), "no line holds the query string");
    assert!(!text.contains("token="), "no line holds the query string");
}

/// An OTP provider whose send panics.
struct PanickingSend;

#[async_trait]
impl OtpVerifier for PanickingSend {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }
    async fn send(&self, _: &OtpRequest) -> Result<OtpDispatch, Error> {
        panic!("a deliberate panic in a provider call");
    }
    async fn resend(&self, _: &Verification) -> Result<OtpDispatch, Error> {
        Ok(OtpDispatch::new(ProviderState::new("t1")))
    }
    async fn confirm(&self, _: &Verification, _: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        Err(Error::invalid_input("code", "not accepted"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_panics_keeps_its_id_and_is_logged_as_a_500() {
    let router = router_over(Arc::new(PanickingSend));
    let started = send(&router, request("POST", "/v1/verifications", Some(json!({"method": "otp"})), None)).await;
    let verification_id = started.json()["id"].as_str().unwrap().to_owned();
    let id = "ops-panic-1";
    let path = format!("/v1/verifications/{verification_id}/otp");
    let reply = send(&router, request("POST", &path, Some(support::subject()), Some(id.as_bytes()))).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", reply.text());
    assert_eq!(answered_id(&reply), id);
    let access = access_line(id);
    assert_eq!(access["fields"]["status"], 500);
    assert_eq!(access["fields"]["route"], "/v1/verifications/{id}/otp");
}

// --- deploy/ ---

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy").join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(deploy(file)).unwrap()
}

/// The unit's `Key=value` lines (comments left out).
fn directives(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#') && !line.starts_with(';'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

#[test]
fn the_unit_is_hardened() {
    let unit = directives(&read("bonin.service"));
    let has = |key: &str, value: &str| unit.iter().any(|(k, v)| k == key && v == value);
    for (key, value) in [
        ("ExecStart", "/usr/local/bin/bonin serve"),
        ("Environment", "BONIN_CONFIG=/etc/bonin/bonin.toml"),
        ("Environment", "BONIN_PROFILE=production"),
        ("EnvironmentFile", "-/etc/bonin/bonin.env"),
        ("StateDirectory", "bonin"),
        ("Restart", "on-failure"),
        ("DynamicUser", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        ("CapabilityBoundingSet", ""),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert!(has(key, value), "deploy/bonin.service sets {key}={value}");
    }
}

/// `systemd-analyze verify` on the unit, with `ExecStart` pointed at the binary this build made
/// (verify checks that the program exists). Skipped where systemd is absent, except on CI.
#[test]
fn systemd_analyze_verifies_the_unit() {
    let available = Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success());
    if !available {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI machines have systemd-analyze");
        eprintln!("systemd-analyze is not installed: deploy/bonin.service not verified");
        return;
    }
    let unit = read("bonin.service");
    let binary = env!("CARGO_BIN_EXE_bonin");
    assert_eq!(unit.matches("\nExecStart=/usr/local/bin/bonin serve\n").count(), 1);
    let copy = unit.replace("\nExecStart=/usr/local/bin/bonin serve\n", &format!("\nExecStart={binary} serve\n"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bonin.service");
    std::fs::write(&path, copy).unwrap();

    let output = Command::new("systemd-analyze").arg("verify").arg(&path).output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "systemd-analyze verify failed:\n{said}");
    // Unknown keys and values are only warnings: none may name the unit.
    let about_unit: Vec<&str> = said.lines().filter(|line| line.contains("bonin.service")).collect();
    assert!(about_unit.is_empty(), "systemd-analyze verify warns:\n{}", about_unit.join("\n"));
}

#[test]
fn the_dockerfile_runs_the_release_binary_unprivileged_with_a_health_check() {
    let dockerfile = read("Dockerfile");
    let header: String = dockerfile.lines().take_while(|line| line.starts_with('#')).collect::<Vec<_>>().join("\n");
    assert!(header.contains("cannot be built on the development machines"), "{header}");
    // Instructions, their continuation lines joined.
    let joined = dockerfile.replace("\\\n", " ");
    let instructions: Vec<&str> =
        joined.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
    let last_from = instructions.iter().rposition(|line| line.starts_with("FROM ")).unwrap();
    let runtime = &instructions[last_from..];
    assert!(runtime.iter().any(|line| line.starts_with("COPY ") && line.contains("release/bonin")), "{runtime:?}");
    let user = runtime.iter().rev().find(|line| line.starts_with("USER ")).expect("a USER in the final stage");
    assert!(!matches!(user.trim_start_matches("USER ").trim(), "root" | "0" | "0:0"), "{user}");
    assert!(runtime.contains(&"EXPOSE 8080"), "{runtime:?}");
    assert!(runtime.iter().any(|line| line.starts_with("HEALTHCHECK ") && line.contains("/healthz")), "{runtime:?}");
}

/// The placeholder secrets the example configuration is loaded with.
fn example_secrets() -> Vec<(String, String)> {
    [
        ("BONIN_SERVER__API_KEYS", "placeholder-api-key-0001"),
        ("BONIN_STORE__ENCRYPTION_KEYS", "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("BONIN_PROVIDERS__NICE__CLIENT_SECRET", "placeholder-client-secret"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

#[test]
fn the_example_configuration_loads_as_production_with_secrets_from_the_environment() {
    let path = deploy("bonin.toml.example");
    // As the unit runs it: BONIN_PROFILE=production beside the file.
    let mut env = example_secrets();
    env.push(("BONIN_PROFILE".into(), "production".into()));
    let loaded = LoadedConfig::load(figment(Some(path.clone()), StringEnv::from_vars(env))).unwrap();
    assert_eq!(loaded.config.profile, ProfileName::Production);
    assert!(!loaded.demo_enabled());
    // The store is in the unit's state directory.
    assert!(read("bonin.service").lines().any(|line| line == "StateDirectory=bonin"));
    assert!(loaded.config.store.url.starts_with("sqlite:///var/lib/bonin/"), "{}", loaded.config.store.url);

    // Each secret is required, and only the environment gives them.
    for (name, _) in example_secrets() {
        let fewer: Vec<_> = example_secrets().into_iter().filter(|(n, _)| *n != name).collect();
        assert!(
            LoadedConfig::load(figment(Some(path.clone()), StringEnv::from_vars(fewer))).is_err(),
            "{name} is required"
        );
    }

    // No secret is set in the file.
    let file: figment::value::Value = figment::Figment::from(Toml::file(&path)).extract().unwrap();
    let secret = secret_keys();
    let mut found = Vec::new();
    walk(&file, "", &mut |key, leaf| {
        if secret.iter().any(|s| key.ends_with(&format!(".{s}")) || key == *s) {
            found.push(format!("{key} = {leaf:?}"));
        }
    });
    assert!(found.is_empty(), "secrets in deploy/bonin.toml.example: {found:?}");
}

fn walk(value: &figment::value::Value, at: &str, visit: &mut dyn FnMut(&str, &figment::value::Value)) {
    match value {
        figment::value::Value::Dict(_, dict) => {
            for (key, inner) in dict {
                let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                walk(inner, &path, visit);
            }
        }
        leaf => visit(at, leaf),
    }
}
