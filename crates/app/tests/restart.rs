//! `bonin serve` on SQLite killed with SIGKILL while 100 verifications are pending: after a restart
//! every one still completes, and none twice.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{process::Stdio, time::Duration};

use bonin_sandbox::{
    SandboxServer,
    nice::{NiceSimConfig, NiceSimulator, ResultOverrides, WINDOW_PATH},
};
use serde_json::{Value, json};

async fn free_port() -> u16 {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port()
}

fn spawn_bonin(port: u16, db: &std::path::Path, sim: &NiceSimulator, sim_base: &str) -> tokio::process::Child {
    let (id, secret) = sim.client();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_bonin"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
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
    for _ in 0..200 {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && response.status().as_u16() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("bonin did not become ready");
}

async fn post(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let response =
        client.post(url).header("content-type", "application/json").body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_sqlite_sessions_survive_a_kill_9() {
    let sim = NiceSimulator::new(NiceSimConfig::default());
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let db = std::env::temp_dir().join(format!("bonin-restart-{}.db", std::process::id()));
    let port = free_port().await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();

    let mut first = spawn_bonin(port, &db, &sim, &server.base_url());
    wait_ready(&client, port).await;
    let mut pending = Vec::new();
    for _ in 0..100 {
        let (status, started) = post(
            &client,
            format!("http://127.0.0.1:{port}/v1/verifications"),
            &json!({"method": "window", "return_url": format!("http://127.0.0.1:{port}/demo/done")}),
        )
        .await;
        assert_eq!(status, 201, "{started}");
        let fields: Vec<(String, String)> = started["launch"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap().to_owned(), f["value"].as_str().unwrap().to_owned()))
            .collect();
        let callback = sim.complete_window(&fields, "wilson", &ResultOverrides::default()).unwrap();
        let params: serde_json::Map<String, Value> =
            callback.params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        pending.push((started["id"].as_str().unwrap().to_owned(), Value::Object(params)));
    }

    first.kill().await.unwrap(); // SIGKILL: no shutdown, no flush beyond what SQLite committed
    let mut second = spawn_bonin(port, &db, &sim, &server.base_url());
    wait_ready(&client, port).await;

    for (id, params) in &pending {
        let url = format!("http://127.0.0.1:{port}/v1/verifications/{id}/complete");
        let (status, body) = post(&client, url.clone(), &json!({"params": params})).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("verified")), "{body}");
        let (status, body) = post(&client, url, &json!({"params": params})).await;
        assert_eq!((status, body["code"].as_str()), (409, Some("already_completed")));
    }
    second.kill().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
