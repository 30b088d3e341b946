//! Signed events to the host application, through the store's outbox:
//!
//! - `bonin serve` on SQLite, with a receiver that fails three times and then recovers, killed
//!   with SIGKILL while the events wait for their retry and started again: the receiver gets every
//!   event, any redelivery carries the same `webhook-id` and body, no event is processed twice as
//!   new, every request is signed (and PortOne's official server SDK accepts the signatures), and
//!   no body or header holds the verified person's data;
//! - two instances on one PostgreSQL database: one delivers, the other waits, and takes over when
//!   the first stops.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // tests fail loudly on purpose

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use bonin_adapters_http::standard_webhooks::WebhookVerifier;
use bonin_sandbox::{
    SandboxServer,
    nice::{NiceSimConfig, NiceSimulator, ResultOverrides, WINDOW_PATH},
};
use serde_json::{Value, json};

const SECRET: &str = "whsec_ZXZlbnRzLXRlc3Qtc2VjcmV0LWtleS0wMDAwMQ==";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Captured {
    id: String,
    headers: BTreeMap<String, String>,
    body: String,
    status: u16,
}

/// A host's webhook receiver: verifies the signature, fails the first `failures_left` requests,
/// then deduplicates on `webhook-id` as the docs tell receivers to.
#[derive(Debug, Default)]
struct Receiver {
    failures_left: usize,
    requests: Vec<Captured>,
    /// Event id → body, for every event processed.
    processed: BTreeMap<String, String>,
    /// Event ids in the order they were processed as new (a second entry would be a double).
    processed_as_new: Vec<String>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn receive(State(receiver): State<Shared>, headers: HeaderMap, body: Bytes) -> axum::http::StatusCode {
    let verifier = WebhookVerifier::new(SECRET).unwrap();
    let pairs: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    let signed = verifier.verify(pairs.clone(), &body, time::OffsetDateTime::now_utc()).is_ok();
    let mut r = receiver.lock().unwrap();
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = String::from_utf8_lossy(&body).into_owned();
    let status = if !signed {
        401
    } else if r.failures_left > 0 {
        r.failures_left -= 1;
        500
    } else {
        if r.processed.insert(id.clone(), body.clone()).is_none() {
            r.processed_as_new.push(id.clone());
        }
        204
    };
    r.requests.push(Captured { id, headers: pairs.into_iter().collect(), body, status });
    axum::http::StatusCode::from_u16(status).unwrap()
}

async fn start_receiver(failures: usize) -> (SocketAddr, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Receiver { failures_left: failures, ..Receiver::default() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/hook", post(receive)).with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, shared)
}

/// Waits (polling) until `done` holds; a hang guard, not a timing assertion.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up waiting: {what}");
}

async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port()
}

fn spawn_bonin(port: u16, config: &Path, db: &Path, sim: &NiceSimulator, sim_base: &str) -> tokio::process::Child {
    let (id, secret) = sim.client();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_bonin"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BONIN_CONFIG", config)
        .env("BONIN_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("BONIN_STORE__URL", format!("sqlite://{}", db.display()))
        .env("BONIN_STORE__ENCRYPTION_KEYS", "1:cmVzdGFydC10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA=")
        .env("BONIN_PROVIDERS__NICE__CLIENT_ID", id)
        .env("BONIN_PROVIDERS__NICE__CLIENT_SECRET", secret)
        .env("BONIN_PROVIDERS__NICE__API_BASE", sim_base)
        .env("BONIN_PROVIDERS__NICE__WINDOW_URL", format!("{sim_base}{WINDOW_PATH}"))
        .env("BONIN_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, port: u16) {
    for _ in 0..300 {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && response.status().as_u16() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("bonin did not become ready");
}

async fn call(client: &reqwest::Client, url: String, body: Option<&Value>) -> (u16, Value) {
    let request = match body {
        Some(body) => client.post(url).header("content-type", "application/json").body(body.to_string()),
        None => client.get(url),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

/// Starts and completes a window verification as `persona`; returns its id and the identity read.
async fn verify_one(client: &reqwest::Client, port: u16, sim: &NiceSimulator, persona: &str) -> (String, Value) {
    let base = format!("http://127.0.0.1:{port}");
    let (status, started) = call(
        client,
        format!("{base}/v1/verifications"),
        Some(&json!({"method": "window", "return_url": format!("{base}/demo/done")})),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let fields: Vec<(String, String)> = started["launch"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["value"].as_str().unwrap().to_owned()))
        .collect();
    let callback = sim.complete_window(&fields, persona, &ResultOverrides::default()).unwrap();
    let params: serde_json::Map<String, Value> =
        callback.params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let id = started["id"].as_str().unwrap().to_owned();
    let (status, body) =
        call(client, format!("{base}/v1/verifications/{id}/complete"), Some(&json!({"params": params}))).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("verified")), "{body}");
    let (status, read) = call(client, format!("{base}/v1/verifications/{id}"), None).await;
    assert_eq!(status, 200);
    (id, read["identity"].clone())
}

fn config_file(receiver: SocketAddr) -> PathBuf {
    let path = std::env::temp_dir().join(format!("bonin-events-{}.toml", std::process::id()));
    // Retries a second or two apart (the test kills the first instance long before one is due);
    // short leases, so the restarted instance takes over within seconds.
    let text = format!(
        "[events]\nretry_base_ms = 3000\ntimeout_secs = 2\nlease_secs = 2\n\n\
         [[events.endpoints]]\nurl = \"http://{receiver}/hook\"\nsecret = \"{SECRET}\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_survive_a_kill_9_and_a_receiver_that_fails_three_times() {
    let (receiver_addr, receiver) = start_receiver(3).await;
    let sim = NiceSimulator::new(NiceSimConfig::default());
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let db = std::env::temp_dir().join(format!("bonin-events-{}.db", std::process::id()));
    let config = config_file(receiver_addr);
    let port = free_port().await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();

    let mut first = spawn_bonin(port, &config, &db, &sim, &server.base_url());
    wait_ready(&client, port).await;
    let mut verified = BTreeMap::new();
    for persona in ["wilson", "hong"] {
        let (id, identity) = verify_one(&client, port, &sim, persona).await;
        verified.insert(id, identity);
    }
    // Both events went out once and failed: they now wait for their retry.
    until("the first delivery attempts", || receiver.lock().unwrap().requests.len() >= 2).await;
    first.kill().await.unwrap(); // SIGKILL
    assert!(receiver.lock().unwrap().processed.is_empty(), "no event can have been taken yet");

    let mut second = spawn_bonin(port, &config, &db, &sim, &server.base_url());
    wait_ready(&client, port).await;
    until("every event processed", || receiver.lock().unwrap().processed.len() >= verified.len()).await;
    // The second instance's metrics: one failure (the receiver's third), two deliveries, none given up.
    let mut metrics = String::new();
    for _ in 0..300 {
        metrics = client.get(format!("http://127.0.0.1:{port}/metrics")).send().await.unwrap().text().await.unwrap();
        if metrics.contains("bonin_events_deliveries_total{result=\"delivered\"} 2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for line in [
        "bonin_events_deliveries_total{result=\"delivered\"} 2",
        "bonin_events_deliveries_total{result=\"failed\"} 1",
        "bonin_events_given_up_total 0",
        "# TYPE bonin_events_outbox_depth gauge",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    second.kill().await.unwrap();

    let r = receiver.lock().unwrap();
    assert_eq!(r.requests.iter().filter(|c| c.status == 500).count(), 3, "the receiver failed three times");
    assert!(r.requests.iter().all(|c| c.status != 401), "every request is signed with the endpoint's secret");
    assert_eq!(r.processed_as_new.len(), r.processed.len(), "an event was processed twice as new");
    // Every request under one id carries the same body: a redelivery is the same event.
    for c in &r.requests {
        assert_eq!(r.processed.get(&c.id), Some(&c.body), "a redelivery differs from the event processed");
    }
    let mut covered: Vec<String> = Vec::new();
    for body in r.processed.values() {
        let event: Value = serde_json::from_str(body).unwrap();
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["data", "timestamp", "type"], "{event}");
        assert_eq!(event["type"], "verification.verified");
        assert_eq!(event["data"]["provider"], "nice");
        assert_eq!(event["data"]["status"], "verified");
        assert_eq!(event["data"]["method"], "window");
        covered.push(event["data"]["verification_id"].as_str().unwrap().to_owned());
    }
    covered.sort();
    assert_eq!(covered, verified.keys().cloned().collect::<Vec<_>>(), "one event per verification, none lost");

    // Canary: nothing the person is appears in any event, body or header.
    let mut canaries: Vec<String> = Vec::new();
    for identity in verified.values() {
        for field in ["name", "phone", "birth_date", "ci", "di"] {
            if let Some(value) = identity[field].as_str() {
                canaries.push(value.to_owned());
                canaries.push(value.replace('-', ""));
            }
        }
    }
    assert!(canaries.len() >= 10, "the identities were read: {verified:?}");
    for c in &r.requests {
        let everything = format!("{} {:?}", c.body, c.headers);
        for canary in &canaries {
            assert!(!everything.contains(canary.as_str()), "personal data in an event: {everything}");
        }
    }

    portone_sdk_accepts(&r.requests);
    drop(r);
    let _ = std::fs::remove_file(&config);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// `tools/portone-sdk` (this crate lives in `crates/app`).
fn tool_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/portone-sdk");
    dir.canonicalize().unwrap_or(dir)
}

fn available(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// PortOne's `Webhook.verify` accepts every request bonin sent (`verify-events.mjs`). Needs node
/// and npm; `BONIN_SKIP_NODE=1` skips it with a notice.
fn portone_sdk_accepts(requests: &[Captured]) {
    if !available("node") || !available("npm") {
        if std::env::var("BONIN_SKIP_NODE").is_ok_and(|v| v == "1") {
            println!("PortOne SDK check SKIPPED (node or npm not found, BONIN_SKIP_NODE=1)");
            return;
        }
        panic!("the PortOne SDK check needs node and npm on PATH, or BONIN_SKIP_NODE=1");
    }
    let dir = tool_dir();
    // The same install gate as the PortOne crate's official_sdk test: `npm ci` only when the
    // installed tree is not the lock file's.
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap();
    let installed = dir.join("node_modules/.bonin-package-lock.json");
    if std::fs::read(&installed).ok().as_deref() != Some(lock.as_slice()) {
        let status = Command::new("npm")
            .args(["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "npm ci failed");
        std::fs::write(&installed, &lock).unwrap();
    }
    let captured: Vec<Value> = requests.iter().map(|c| json!({"headers": c.headers, "body": c.body})).collect();
    let file = std::env::temp_dir().join(format!("bonin-events-{}.json", std::process::id()));
    std::fs::write(&file, json!({"secret": SECRET, "requests": captured}).to_string()).unwrap();
    let output = Command::new("node")
        .arg("verify-events.mjs")
        .env("BONIN_EVENTS_FILE", &file)
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    println!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "PortOne's SDK refused bonin's events: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_deliver_through_one() {
    use bonin_adapters_store::{PostgresStore, RecordCipher};
    use bonin_app::{config::EventsConfig, events::Deliverer, metrics::Metrics, service::*};
    use bonin_domain::{
        Clock, EventData, OsRng, Outbox, OutboxEvent, SecretString, SystemClock, events::generate_event_id,
    };

    let Some(url) = bonin_adapters_store::conformance::backend_url("BONIN_TEST_POSTGRES_URL") else { return };
    let (receiver_addr, receiver) = start_receiver(0).await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let cipher = || {
        Arc::new(
            RecordCipher::from_config(&[SecretString::from("1:cmVzdGFydC10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA=")]).unwrap(),
        )
    };
    let config: EventsConfig = serde_json::from_value(json!({
        "endpoints": [{"url": format!("http://{receiver_addr}/hook"), "secret": SECRET}],
        "give_up_after_secs": 3600, "timeout_secs": 2, "retry_base_ms": 100, "retry_max_secs": 1, "lease_secs": 1,
    }))
    .unwrap();
    let instance = |store: Arc<PostgresStore>| {
        let settings = ServiceSettings::new("http://127.0.0.1:1", bonin_domain::ProviderId::ALL[0])
            .with_pii_retention(Duration::from_secs(60))
            .with_identity_grace(Duration::ZERO);
        let service = Arc::new(
            VerificationService::new(store.clone(), clock.clone(), Arc::new(OsRng), settings, Arc::new(NoObserver))
                .with_events(true),
        );
        Deliverer::new(&config, store, service, Arc::new(OsRng), Arc::new(Metrics::default()), true).unwrap().unwrap()
    };
    let a_store = Arc::new(PostgresStore::connect(&url, 4, cipher(), clock.clone()).await.unwrap());
    let b_store = Arc::new(PostgresStore::connect(&url, 4, cipher(), clock.clone()).await.unwrap());
    let (a, b) = (instance(a_store.clone()), instance(b_store));
    let event = || {
        let data = EventData::signing("esignon", None, "wf-two-instances", "completed");
        OutboxEvent::new(generate_event_id(&OsRng).unwrap(), "signing.completed", data, clock.now())
    };

    // More than one round claims (32), so both instances would take some if both delivered.
    let batch: Vec<OutboxEvent> = (0..100).map(|_| event()).collect();
    a_store.enqueue(&batch).await.unwrap();
    let ours = |r: &Receiver, events: &[OutboxEvent]| events.iter().filter(|e| r.processed.contains_key(&e.id)).count();
    let (mut by_a, mut by_b) = (0, 0);
    for _ in 0..600 {
        if ours(&receiver.lock().unwrap(), &batch) == batch.len() {
            break;
        }
        let (ra, rb) = tokio::join!(a.round(), b.round());
        by_a += ra.unwrap();
        by_b += rb.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ours(&receiver.lock().unwrap(), &batch), batch.len(), "every event delivered");
    assert!((by_a == 0) != (by_b == 0), "exactly one instance delivered (a: {by_a}, b: {by_b})");
    let (holder, waiting) = if by_a > 0 { (&a, &b) } else { (&b, &a) };
    let _ = holder;

    // The holder stops (as if killed): after its lease lapses the other instance delivers.
    let later: Vec<OutboxEvent> = (0..5).map(|_| event()).collect();
    a_store.enqueue(&later).await.unwrap();
    for _ in 0..600 {
        if ours(&receiver.lock().unwrap(), &later) == later.len() {
            break;
        }
        waiting.round().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = receiver.lock().unwrap();
    assert_eq!(ours(&r, &later), later.len(), "the waiting instance took over");
    let mine: Vec<&String> = batch.iter().chain(&later).map(|e| &e.id).collect();
    let doubles = r.requests.iter().filter(|c| mine.contains(&&c.id)).count() - mine.len();
    assert_eq!(doubles, 0, "with a healthy receiver and no crash, each event is posted once");
}

/// A deliverer over a memory store read with `clock`, posting to `url` with the given timings
/// (`give_up_after_secs`, `timeout_secs`, `lease_secs`, …), and one `signing.completed` event for
/// workflow `workflow` waiting in its outbox.
async fn memory_deliverer(
    clock: Arc<dyn bonin_domain::Clock>,
    url: String,
    timings: Value,
    workflow: &str,
) -> (Arc<bonin_adapters_store::MemoryStore>, Arc<bonin_app::events::Deliverer>, Arc<bonin_app::metrics::Metrics>, String)
{
    use bonin_adapters_store::MemoryStore;
    use bonin_app::{config::EventsConfig, events::Deliverer, metrics::Metrics, service::*};
    use bonin_domain::{EventData, OsRng, Outbox, OutboxEvent, events::generate_event_id};

    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let mut config =
        json!({"endpoints": [{"url": url, "secret": SECRET}], "retry_base_ms": 1000, "retry_max_secs": 10});
    config.as_object_mut().unwrap().extend(timings.as_object().unwrap().clone());
    let config: EventsConfig = serde_json::from_value(config).unwrap();
    let settings = ServiceSettings::new("http://127.0.0.1:1", bonin_domain::ProviderId::ALL[0])
        .with_pii_retention(Duration::from_secs(60))
        .with_identity_grace(Duration::ZERO);
    let service = Arc::new(
        VerificationService::new(store.clone(), clock.clone(), Arc::new(OsRng), settings, Arc::new(NoObserver))
            .with_events(true),
    );
    let metrics = Arc::new(Metrics::default());
    let deliverer = Arc::new(
        Deliverer::new(&config, store.clone(), service, Arc::new(OsRng), metrics.clone(), true).unwrap().unwrap(),
    );
    let data = EventData::signing("esignon", None, workflow, "completed");
    let event = OutboxEvent::new(generate_event_id(&OsRng).unwrap(), "signing.completed", data, clock.now());
    store.enqueue(std::slice::from_ref(&event)).await.unwrap();
    (store, deliverer, metrics, event.id)
}

/// A receiver that answers every POST to `/hook` with `status` and `body` after `delay`; counts them.
async fn fixed_receiver(delay: Duration, status: u16, body: String) -> (SocketAddr, Arc<Mutex<usize>>) {
    let posts = Arc::new(Mutex::new(0usize));
    let counted = posts.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/hook",
        post(move || {
            let (counted, body) = (counted.clone(), body.clone());
            async move {
                tokio::time::sleep(delay).await;
                *counted.lock().unwrap() += 1;
                (axum::http::StatusCode::from_u16(status).unwrap(), body)
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, posts)
}

/// An endpoint that never answers 2xx: the event is retried with backoff until the give-up
/// horizon, then dropped, counted and no longer sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_nobody_takes_is_given_up_at_the_horizon() {
    use bonin_domain::{ManualClock, Outbox};

    let (receiver_addr, receiver) = start_receiver(usize::MAX).await;
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let (store, deliverer, metrics, event_id) = memory_deliverer(
        clock.clone(),
        format!("http://{receiver_addr}/hook"),
        json!({"give_up_after_secs": 60, "timeout_secs": 2, "lease_secs": 30}),
        "wf-give-up",
    )
    .await;

    let mut rounds = 0;
    while store.depth().await.unwrap() > 0 {
        rounds += 1;
        assert!(rounds < 100, "never given up");
        deliverer.round().await.unwrap();
        clock.advance(Duration::from_secs(10)); // the longest backoff: every round finds the event due
    }
    let attempts = receiver.lock().unwrap().requests.len();
    assert!(attempts >= 6, "retried until the horizon: {attempts} attempts");
    assert!(receiver.lock().unwrap().requests.iter().all(|c| c.id == event_id && c.status == 500));
    let text = metrics.render(&[]);
    assert!(text.lines().any(|l| l == "bonin_events_given_up_total 1"), "{text}");
    assert!(
        text.lines().any(|l| l == format!("bonin_events_deliveries_total{{result=\"failed\"}} {attempts}")),
        "{text}"
    );
    // Gone: further rounds send nothing.
    deliverer.round().await.unwrap();
    assert_eq!(receiver.lock().unwrap().requests.len(), attempts);
}

/// A receiver whose `2xx` answer carries a large body (an HTML page, say) took the event: one
/// round delivers and settles it, whatever the body's size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_with_a_large_body_is_a_delivery() {
    use bonin_domain::{ManualClock, Outbox};

    let (addr, posts) = fixed_receiver(Duration::ZERO, 200, "x".repeat(512 * 1024)).await;
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let (store, deliverer, metrics, _) = memory_deliverer(
        clock,
        format!("http://{addr}/hook"),
        json!({"give_up_after_secs": 600, "timeout_secs": 5, "lease_secs": 30}),
        "wf-large-answer",
    )
    .await;

    assert_eq!(deliverer.round().await.unwrap(), 1);
    assert_eq!(store.depth().await.unwrap(), 0, "settled after one round");
    assert_eq!(*posts.lock().unwrap(), 1);
    let text = metrics.render(&[]);
    assert!(text.lines().any(|l| l == "bonin_events_deliveries_total{result=\"delivered\"} 1"), "{text}");
}

/// A round longer than the lease (an endpoint slower than `lease_secs`) keeps the lease: another
/// instance asking for it mid-round is refused, and gets it once the holder stops renewing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_round_keeps_the_delivery_lease() {
    use bonin_app::events::DELIVERER_LEASE;
    use bonin_domain::{Outbox, SystemClock};

    let (addr, _) = fixed_receiver(Duration::from_secs(5), 204, String::new()).await;
    let (store, deliverer, _, _) = memory_deliverer(
        Arc::new(SystemClock::new()),
        format!("http://{addr}/hook"),
        json!({"give_up_after_secs": 600, "timeout_secs": 10, "lease_secs": 2}),
        "wf-slow-endpoint",
    )
    .await;

    let round = tokio::spawn({
        let deliverer = deliverer.clone();
        async move { deliverer.round().await }
    });
    // Past the 2 s lease, mid-round (the endpoint answers after 5 s).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(!round.is_finished());
    assert!(
        !store.hold_lease(DELIVERER_LEASE, "another-instance", Duration::from_secs(2)).await.unwrap(),
        "the lease lapsed during a round"
    );
    assert_eq!(round.await.unwrap().unwrap(), 1);
    assert_eq!(store.depth().await.unwrap(), 0);
    // Once its holder stops, the lease lapses and another instance takes it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(store.hold_lease(DELIVERER_LEASE, "another-instance", Duration::from_secs(2)).await.unwrap());
}

/// A deliverer that stops cleanly gives up its lease: another instance takes over at once, not
/// after `lease_secs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_hands_the_delivery_lease_over_at_once() {
    use std::sync::atomic::{AtomicBool, Ordering};

    use bonin_app::events::DELIVERER_LEASE;
    use bonin_domain::{Outbox, SystemClock};

    let (store, deliverer, _, _) = memory_deliverer(
        Arc::new(SystemClock::new()),
        "http://127.0.0.1:9/hook".to_owned(),
        json!({"give_up_after_secs": 600, "timeout_secs": 5, "lease_secs": 300}),
        "wf-clean-stop",
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(deliverer.run(stop.clone()));
    // Its first round takes the lease at once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!store.hold_lease(DELIVERER_LEASE, "another-instance", Duration::from_secs(300)).await.unwrap());
    stop.store(true, Ordering::Relaxed);
    running.await.unwrap();
    assert!(
        store.hold_lease(DELIVERER_LEASE, "another-instance", Duration::from_secs(300)).await.unwrap(),
        "the lease was kept after a clean stop"
    );
}
