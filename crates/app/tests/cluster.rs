//! Several bonin instances sharing one store: a verification started on one instance completes on
//! another, and duplicate callbacks racing across instances are applied exactly once. Also: the
//! store going away and coming back. Needs `BONIN_TEST_POSTGRES_URL` and `BONIN_TEST_REDIS_URL`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bonin_adapters_store::conformance::backend_url;
use bonin_app::{
    config::{LoadedConfig, StringEnv, figment},
    wiring,
};
use bonin_sandbox::{
    SandboxServer,
    nice::{NiceSimConfig, NiceSimulator, ResultOverrides, WINDOW_PATH},
};
use serde_json::{Value, json};

const STORE_KEY: &str = "1:Y2x1c3Rlci10ZXN0LWtleS0wMDAwMDAwMDAwMDAwMDA=";

/// A NICE simulator every instance talks to.
async fn shared_nice() -> (NiceSimulator, SandboxServer) {
    let sim = NiceSimulator::new(NiceSimConfig::default());
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

/// One bonin instance on its own port over `store_url`.
async fn instance(store_url: &str, nice: &(NiceSimulator, SandboxServer)) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (id, secret) = nice.0.client();
    let base = nice.1.base_url();
    let vars = [
        ("BONIN_SERVER__BIND", addr.to_string()),
        ("BONIN_SERVER__PUBLIC_URL", "http://127.0.0.1:8080".to_owned()),
        ("BONIN_STORE__URL", store_url.to_owned()),
        ("BONIN_STORE__ENCRYPTION_KEYS", STORE_KEY.to_owned()),
        ("BONIN_STORE__SHARE_TOKENS", "true".to_owned()),
        ("BONIN_PROVIDERS__NICE__CLIENT_ID", id.to_owned()),
        ("BONIN_PROVIDERS__NICE__CLIENT_SECRET", secret.to_owned()),
        ("BONIN_PROVIDERS__NICE__API_BASE", base.clone()),
        ("BONIN_PROVIDERS__NICE__WINDOW_URL", format!("{base}{WINDOW_PATH}")),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    let loaded = LoadedConfig::load(figment(None, StringEnv::from_vars(vars))).unwrap();
    let app = wiring::build(&loaded).await.unwrap();
    tokio::spawn(app.serve(listener, std::future::pending()));
    addr
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let response =
        client.post(url).header("content-type", "application/json").body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

/// Starts on `a` and returns (id, callback params as a JSON object).
async fn start(a: SocketAddr, nice: &NiceSimulator) -> (String, Value) {
    let body = json!({"method": "window", "return_url": "http://127.0.0.1:8080/done"});
    let (status, started) = post(&http(), format!("http://{a}/v1/verifications"), &body).await;
    assert_eq!(status, 201, "{started}");
    let fields: Vec<(String, String)> = started["launch"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["value"].as_str().unwrap().to_owned()))
        .collect();
    let callback = nice.complete_window(&fields, "hong", &ResultOverrides::default()).unwrap();
    let params: serde_json::Map<String, Value> =
        callback.params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    (started["id"].as_str().unwrap().to_owned(), Value::Object(params))
}

async fn duplicates_across_two_instances(store_url: &str) {
    let nice = shared_nice().await;
    let a = instance(store_url, &nice).await;
    let b = instance(store_url, &nice).await;

    // Started on A, completed on B.
    let (id, params) = start(a, &nice.0).await;
    let (status, done) =
        post(&http(), format!("http://{b}/v1/verifications/{id}/complete"), &json!({"params": params})).await;
    assert_eq!((status, done["status"].as_str()), (200, Some("verified")), "{done}");

    // 200 identical callbacks split across both instances: one wins.
    let (id, params) = start(b, &nice.0).await;
    let client = http();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (client, params) = (client.clone(), params.clone());
            let target = if i % 2 == 0 { a } else { b };
            let url = format!("http://{target}/v1/verifications/{id}/complete");
            tokio::spawn(async move { post(&client, url, &json!({"params": params})).await })
        })
        .collect();
    let mut verified = 0;
    let mut already = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match (status, body["code"].as_str()) {
            (200, _) => verified += 1,
            (409, Some("already_completed")) => already += 1,
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!((verified, already), (1, 199));
    let read = http().get(format!("http://{a}/v1/verifications/{id}")).send().await.unwrap();
    let body: Value = serde_json::from_slice(&read.bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], "verified");
    assert_eq!(body["identity"]["name"], "홍길동");
    // Both instances started verifications; the cluster logged in to NICE once.
    assert_eq!(nice.0.counters().access_token_requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_postgres_apply_a_callback_once() {
    let Some(url) = backend_url("BONIN_TEST_POSTGRES_URL") else { return };
    duplicates_across_two_instances(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_sharing_redis_apply_a_callback_once() {
    let Some(url) = backend_url("BONIN_TEST_REDIS_URL") else { return };
    duplicates_across_two_instances(&url).await;
}

/// A TCP forwarder that can be cut (every connection dropped, new ones refused) and restored.
struct Cuttable {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    generation: tokio::sync::watch::Sender<u64>,
}

impl Cuttable {
    async fn to(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (generation, _) = tokio::sync::watch::channel(0u64);
        let (flag, cuts) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { return };
                if !flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, generation }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn status_of(url: String) -> (u16, Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

async fn outage_and_recovery(real: &str, scheme: &str, path: &str) {
    let target: SocketAddr = real.parse().unwrap();
    let proxy = Cuttable::to(target).await;
    let nice = shared_nice().await;
    let node = instance(&format!("{scheme}{}{path}", proxy.addr), &nice).await;
    assert_eq!(status_of(format!("http://{node}/readyz")).await.0, 200);

    proxy.cut();
    let (status, body) = status_of(format!("http://{node}/readyz")).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("provider_unavailable")), "{body}");
    let (status, body) = post(
        &http(),
        format!("http://{node}/v1/verifications"),
        &json!({"method": "window", "return_url": "http://127.0.0.1:8080/done"}),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (503, Some("provider_unavailable")), "{body}");

    proxy.restore();
    let mut recovered = false;
    for _ in 0..60 {
        if status_of(format!("http://{node}/readyz")).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(recovered, "the service recovers when the store returns");
    let (status, _) = post(
        &http(),
        format!("http://{node}/v1/verifications"),
        &json!({"method": "window", "return_url": "http://127.0.0.1:8080/done"}),
    )
    .await;
    assert_eq!(status, 201);
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_fails_readiness_and_requests_then_recovers() {
    let Some(url) = backend_url("BONIN_TEST_POSTGRES_URL") else { return };
    let user = url.split_once("://").and_then(|(_, r)| r.split_once('@')).map_or("", |(u, _)| u).to_owned();
    let db = url.rsplit_once('/').map_or("test", |(_, d)| d).to_owned();
    outage_and_recovery(&host_port(&url), &format!("postgres://{user}@"), &format!("/{db}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_fails_readiness_and_requests_then_recovers() {
    let Some(url) = backend_url("BONIN_TEST_REDIS_URL") else { return };
    outage_and_recovery(&host_port(&url), "redis://", "").await;
}
