//! Whole flows through `bonin serve` in its sandbox profile, for every registered provider with a
//! window: start → the simulated window played as a persona (`POST /_sandbox/play` on the
//! simulators `bonin serve` runs in process) → the return landing → the identity read; and for
//! every provider with app approval: start → approved in the simulated app → reads until bonin
//! has polled the approval → the identity. The raw floor
//! beside them comes from the adapter crates' `benches/floor.rs` (see [`crate`]); this module
//! renders both and the target ratios.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::{human, parse_human, service};

/// Where browsers return to, as bonin is told (`server.public_url`); the bench maps it to the
/// address `bonin serve` actually listens on.
const PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// The persona who goes through every window.
const PERSONA: &str = "hong";

/// The runs as (concurrency, flows), for bonin and for the floor alike.
pub(crate) fn plan(quick: bool) -> &'static [(usize, usize)] {
    if quick { &[(1, 4), (8, 16)] } else { &[(1, 200), (64, 2000), (512, 4000)] }
}

/// One measured configuration.
pub(crate) struct FlowRow {
    pub label: String,
    pub flows: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// CPU seconds per flow of the measured party (bonin's process, or the floor's).
    pub cpu_per_flow: Duration,
}

impl FlowRow {
    /// A row as the floor benches print it: `| label | flows | flows/s | p50 | p99 | CPU per flow |`.
    pub(crate) fn parse(line: &str) -> Option<Self> {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        let [label, flows, per_second, p50, p99, cpu] = cells.as_slice() else { return None };
        Some(Self {
            label: (*label).to_owned(),
            flows: flows.parse().ok()?,
            per_second: per_second.parse().ok()?,
            p50: parse_human(p50)?,
            p99: parse_human(p99)?,
            cpu_per_flow: parse_human(cpu)?,
        })
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// utime + stime of process `pid`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ = 100 on Linux
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Runs `flows` flows with `concurrency` workers, charging the CPU time of process `cpu_pid`.
async fn run<F, Fut>(label: String, flows: usize, concurrency: usize, cpu_pid: u32, flow: F) -> Result<FlowRow, String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let flow = Arc::new(flow);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(flows)));
    let cpu_before = cpu_time(cpu_pid);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.min(flows) {
        let (flow, next, latencies) = (flow.clone(), next.clone(), latencies.clone());
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < flows {
                let begun = Instant::now();
                flow().await?;
                latencies.lock().map_err(|_| "lock")?.push(begun.elapsed());
            }
            Ok::<(), String>(())
        }));
    }
    for worker in workers {
        worker.await.map_err(|e| e.to_string())??;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time(cpu_pid).saturating_sub(cpu_before);
    let mut latencies = latencies.lock().map_err(|_| "lock")?.clone();
    latencies.sort();
    Ok(FlowRow {
        label,
        flows,
        per_second: flows as f64 / elapsed.as_secs_f64().max(1e-9),
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        cpu_per_flow: cpu / u32::try_from(flows).unwrap_or(u32::MAX).max(1),
    })
}

fn encoded(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))).collect::<Vec<_>>().join("&")
}

async fn json_of(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if status >= 400 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

async fn post_json(client: &reqwest::Client, url: String, body: &Value) -> Result<Value, String> {
    json_of(
        client
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?,
    )
    .await
}

/// What every flow of one provider against one `bonin serve` shares.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    /// bonin's base URL.
    bonin: String,
    /// The simulators' base URL (`sandbox.bind`).
    sim: String,
    provider: String,
    /// `window`, or `app` (an approval in the provider's app, learned by polling).
    method: &'static str,
    /// Whether the launch URL answers the window's request info (its SDK fetches it).
    fetches_request_info: bool,
}

/// The request info `POST {bonin}/v1/verifications/{id}/launch` answers, when it answers 200.
async fn request_info(target: &Target, id: &str) -> Result<Option<String>, String> {
    let response = target
        .client
        .post(format!("{}/v1/verifications/{id}/launch", target.bonin))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().as_u16() != 200 {
        return Ok(None);
    }
    response.text().await.map(Some).map_err(|e| e.to_string())
}

/// One whole flow through bonin. `probe`: ask the launch URL whatever `target` says (the warm-up
/// flow finds out whether it answers); answers whether it did.
async fn flow(target: Arc<Target>, probe: bool) -> Result<bool, String> {
    if target.method == "app" {
        return app_flow(&target).await.map(|()| false);
    }
    let client = &target.client;
    let started = post_json(
        client,
        format!("{}/v1/verifications", target.bonin),
        &json!({"provider": target.provider, "method": "window", "return_url": format!("{PUBLIC_URL}/demo/done"), "display": "page"}),
    )
    .await?;
    let id = started["id"].as_str().ok_or("no id")?.to_owned();
    let info = if probe || target.fetches_request_info { request_info(&target, &id).await? } else { None };
    if target.fetches_request_info && info.is_none() {
        return Err(format!("{}: the launch URL did not answer 200", target.provider));
    }
    let mut play = json!({"launch": started["launch"], "persona": PERSONA});
    if let Some(info) = &info {
        play["request_info"] = json!(info);
    }
    let played = post_json(client, format!("{}/_sandbox/play", target.sim), &play).await?;
    let return_url = played["return_url"].as_str().ok_or("no return_url")?;
    let path = return_url.strip_prefix(PUBLIC_URL).ok_or_else(|| format!("the window returned to {return_url}"))?;
    let callback = &played["callback"];
    let fields: Vec<(String, String)> = callback["fields"]
        .as_array()
        .ok_or("no callback fields")?
        .iter()
        .map(|f| (f[0].as_str().unwrap_or("").to_owned(), f[1].as_str().unwrap_or("").to_owned()))
        .collect();
    let landing = format!("{}{path}", target.bonin);
    let landing = match callback["transport"].as_str() {
        Some("get") => {
            let separator = if landing.contains('?') { '&' } else { '?' };
            client.get(format!("{landing}{separator}{}", encoded(&fields)))
        }
        Some("post") => {
            client.post(landing).header("content-type", "application/x-www-form-urlencoded").body(encoded(&fields))
        }
        other => return Err(format!("{}: a callback by {other:?} is no browser return", target.provider)),
    };
    let landing = landing.send().await.map_err(|e| e.to_string())?;
    let location = landing.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !location.ends_with("status=verified") {
        return Err(format!("{}: the landing answered {} → {location}", target.provider, landing.status()));
    }
    let read =
        json_of(client.get(format!("{}/v1/verifications/{id}", target.bonin)).send().await.map_err(|e| e.to_string())?)
            .await?;
    if read["identity"]["name"].is_null() {
        return Err(format!("{}: no identity", target.provider));
    }
    Ok(info.is_some())
}

/// One approval in the provider's (simulated) app: start, approve as the persona, then read until
/// bonin has polled the approval (a read polls at most every 2 s; `bonin serve` also polls in the
/// background), and the identity.
async fn app_flow(target: &Target) -> Result<(), String> {
    let client = &target.client;
    let started = post_json(
        client,
        format!("{}/v1/verifications", target.bonin),
        &json!({"provider": target.provider, "method": "app", "display": "popup"}),
    )
    .await?;
    let id = started["id"].as_str().ok_or("no id")?.to_owned();
    let played = post_json(
        client,
        format!("{}/_sandbox/play", target.sim),
        &json!({"launch": started["launch"], "persona": PERSONA}),
    )
    .await?;
    if played["approved"] != json!(true) {
        return Err(format!("{}: the simulated app did not approve", target.provider));
    }
    for _ in 0..200 {
        let read = json_of(
            client.get(format!("{}/v1/verifications/{id}", target.bonin)).send().await.map_err(|e| e.to_string())?,
        )
        .await?;
        match read["status"].as_str() {
            Some("pending") => tokio::time::sleep(Duration::from_millis(100)).await,
            Some("verified") if !read["identity"]["name"].is_null() => return Ok(()),
            other => return Err(format!("{}: the approval ended {other:?}", target.provider)),
        }
    }
    Err(format!("{}: the approval was not learned within 20 s", target.provider))
}

fn spawn_serve(bin: &Path, port: u16, sim_port: u16, store: &str) -> Result<Proc, String> {
    let child = Command::new(bin)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BONIN_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("BONIN_SERVER__PUBLIC_URL", PUBLIC_URL)
        .env("BONIN_SANDBOX__BIND", format!("127.0.0.1:{sim_port}"))
        .env("BONIN_STORE__URL", store)
        .env("BONIN_LOG__LEVEL", "error")
        .envs(service::UNLIMITED.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting bonin serve: {e}"))?;
    Ok(Proc(child))
}

async fn wait_for(client: &reqwest::Client, url: String) -> Result<(), String> {
    for _ in 0..2400 {
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("{url} did not answer"))
}

/// The providers the flows run for, by id, with their method: every registered one with a window,
/// then every one with app approval.
fn flow_providers() -> Vec<(String, &'static str)> {
    let registered = bonin_app::providers::registered();
    let windows = registered.iter().filter(|p| p.capabilities().window).map(|p| (p.id().to_string(), "window"));
    let apps = registered.iter().filter(|p| p.capabilities().app).map(|p| (p.id().to_string(), "app"));
    windows.chain(apps).collect()
}

/// Runs every configuration through `bonin serve` (the binary `bin`), store by store.
pub(crate) fn measure(quick: bool, bin: &Path) -> Result<Vec<FlowRow>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let mut stores = vec![("memory", "memory:".to_owned())];
        let db = std::env::temp_dir().join(format!("bonin-bench-flows-{}.db", std::process::id()));
        if !quick {
            stores.push(("SQLite", format!("sqlite://{}", db.display())));
            if let Ok(url) = std::env::var("BONIN_TEST_POSTGRES_URL") {
                stores.push(("PostgreSQL", url));
            }
            if let Ok(url) = std::env::var("BONIN_TEST_REDIS_URL") {
                stores.push(("Redis", url));
            }
        }
        let providers = flow_providers();
        if providers.is_empty() {
            return Err("no registered provider has a window or app approval".into());
        }
        let mut rows = Vec::new();
        for (store_name, store_url) in &stores {
            let (port, sim_port) = (service::free_port()?, service::free_port()?);
            let serve = spawn_serve(bin, port, sim_port, store_url)?;
            let (bonin, sim) = (format!("http://127.0.0.1:{port}"), format!("http://127.0.0.1:{sim_port}"));
            wait_for(&client, format!("{bonin}/readyz")).await?;
            wait_for(&client, format!("{sim}/_sandbox/personas")).await?;
            let pid = serve.0.id();
            for (provider, method) in &providers {
                let target = Target {
                    client: client.clone(),
                    bonin: bonin.clone(),
                    sim: sim.clone(),
                    provider: provider.clone(),
                    method,
                    fetches_request_info: false,
                };
                // One warm-up flow, which also finds out whether the launch URL answers.
                let fetches_request_info = flow(Arc::new(target.clone()), true).await?;
                let target = Arc::new(Target { fetches_request_info, ..target });
                for &(concurrency, flows) in plan(quick) {
                    let label = format!("bonin · {provider} · {store_name} · c={concurrency}");
                    let target = target.clone();
                    rows.push(
                        run(label, flows, concurrency, pid, move || {
                            let target = target.clone();
                            async move { flow(target, false).await.map(|_| ()) }
                        })
                        .await?,
                    );
                }
            }
            drop(serve);
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        Ok(rows)
    })
}

/// The flows table (bonin's rows, then the floor's) and, for every provider with both a bonin row
/// on the memory store and a floor row at the highest concurrency, the two target ratios.
pub(crate) fn render(rows: &[FlowRow]) -> String {
    let mut out =
        String::from("| configuration | flows | flows/s | p50 | p99 | CPU per flow |\n|---|---|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} |\n",
            row.label,
            row.flows,
            row.per_second,
            human(row.p50),
            human(row.p99),
            human(row.cpu_per_flow)
        ));
    }
    out.push('\n');
    // A floor label is `floor · <provider> · c=<n>`; bonin's is `bonin · <provider> · <store> · c=<n>`.
    let floor_of = |label: &str| -> Option<(String, usize)> {
        let (provider, concurrency) = label.strip_prefix("floor · ")?.rsplit_once(" · c=")?;
        Some((provider.to_owned(), concurrency.parse().ok()?))
    };
    let top = rows.iter().filter_map(|r| floor_of(&r.label)).map(|(_, c)| c).max();
    for floor in rows {
        let Some((provider, concurrency)) = floor_of(&floor.label) else { continue };
        if Some(concurrency) != top {
            continue;
        }
        let Some(bonin) = rows.iter().find(|r| r.label == format!("bonin · {provider} · memory · c={concurrency}"))
        else {
            continue;
        };
        let cpu_ratio = bonin.cpu_per_flow.as_secs_f64() / floor.cpu_per_flow.as_secs_f64().max(1e-9);
        let tail = bonin.p99.as_secs_f64() / bonin.p50.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "- {provider}, memory store, c={concurrency}: bonin CPU per flow / floor CPU per flow = {cpu_ratio:.2} (target ≤ 2); bonin p99 / p50 = {tail:.2} (target ≤ 3).\n"
        ));
    }
    out
}
