//! The raw floor of a NICE window flow: the provider exchanges of one verification (access token
//! once, then per flow the crypto token, the request's encryption and HMAC, the simulated window,
//! the result's HMAC check, decryption and EUC-KR decoding) done by a minimal client with plain
//! reqwest and this crate's crypto, no service and no store. `cargo xtask bench` sets it beside
//! bonin's whole flows.
//!
//! `cargo bench -p bonin-adapters-nice --bench floor -- [--plan C:N,...] [--sim URL]`
//!
//! - `--plan` (or `BONIN_BENCH_PLAN`): runs of `N` flows with `C` concurrent workers. Default: the
//!   full plan under `cargo bench`, two tiny runs under `cargo test`.
//! - `--sim` (or `BONIN_BENCH_SIM`): a running NICE simulator with the sandbox credentials; by
//!   default one is started in this process, so its CPU time is charged with the client's, as the
//!   simulators in `bonin serve`'s sandbox profile are charged to bonin.
//!
//! Prints one Markdown row per run: configuration, flows, flows/s, p50, p99, CPU per flow (this
//! process's utime + stime from `/proc/self/stat`).
#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench prints its rows

use std::{
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_nice::crypto;
use bonin_domain::{OsRng, ProviderId, VerificationId};
use bonin_sandbox::{
    SandboxServer,
    nice::{self as sim, NiceSimConfig, NiceSimulator},
};
use serde_json::{Value, json};

const FULL_PLAN: &str = "1:200,64:2000,512:4000";
const TEST_PLAN: &str = "1:2,2:4";

struct Args {
    plan: Vec<(usize, usize)>,
    sim: Option<String>,
}

fn parse_plan(text: &str) -> Result<Vec<(usize, usize)>, String> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (c, n) = part.trim().split_once(':').ok_or_else(|| format!("plan entry {part:?} is not C:N"))?;
            let c: usize = c.parse().map_err(|_| format!("plan entry {part:?}: bad concurrency"))?;
            let n: usize = n.parse().map_err(|_| format!("plan entry {part:?}: bad flow count"))?;
            if c == 0 || n == 0 {
                return Err(format!("plan entry {part:?}: concurrency and flows must be positive"));
            }
            Ok((c, n))
        })
        .collect()
}

/// `cargo bench` passes `--bench`; `cargo test` (which runs bench targets too) does not.
fn args() -> Result<Args, String> {
    let mut bench = false;
    let mut plan = std::env::var("BONIN_BENCH_PLAN").ok();
    let mut sim = std::env::var("BONIN_BENCH_SIM").ok();
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--plan" => plan = Some(argv.next().ok_or("--plan needs C:N,...")?),
            "--sim" => sim = Some(argv.next().ok_or("--sim needs a URL")?),
            _ => {} // test-harness flags and filters from `cargo test`
        }
    }
    let plan = parse_plan(plan.as_deref().unwrap_or(if bench { FULL_PLAN } else { TEST_PLAN }))?;
    Ok(Args { plan, sim: sim.map(|s| s.trim_end_matches('/').to_owned()) })
}

/// This process's CPU time (utime + stime).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
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

fn human(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// Runs `flows` flows with `concurrency` workers and prints the row.
async fn run<F, Fut>(label: String, flows: usize, concurrency: usize, flow: F) -> Result<(), String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let flow = Arc::new(flow);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(flows)));
    let cpu_before = cpu_time();
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
    let cpu = cpu_time().saturating_sub(cpu_before);
    let mut latencies = latencies.lock().map_err(|_| "lock")?.clone();
    latencies.sort();
    println!(
        "| {label} | {flows} | {:.0} | {} | {} | {} |",
        flows as f64 / elapsed.as_secs_f64().max(1e-9),
        human(percentile(&latencies, 0.5)),
        human(percentile(&latencies, 0.99)),
        human(cpu / u32::try_from(flows).unwrap_or(u32::MAX).max(1)),
    );
    Ok(())
}

async fn json_of(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if status >= 400 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// What every flow shares: the client, the simulator, the access token.
struct Floor {
    client: reqwest::Client,
    sim: String,
    token: String,
    client_id: String,
    product_id: String,
}

/// One flow: the same NICE exchanges as the adapter, with no service and no store.
async fn flow(floor: Arc<Floor>) -> Result<(), String> {
    let req_dtim = "20260101120000";
    let req_no = VerificationId::generate(&OsRng).map_err(|e| e.to_string())?.to_string();
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let bearer = STANDARD.encode(format!("{}:{stamp}:{}", floor.token, floor.client_id));
    let reply = floor
        .client
        .post(format!("{}{}", floor.sim, sim::CRYPTO_TOKEN_PATH))
        .header("content-type", "application/json")
        .header("authorization", format!("bearer {bearer}"))
        .header("productid", &floor.product_id)
        .body(json!({"dataHeader": {"CNTY_CD": "ko"}, "dataBody": {"req_dtim": req_dtim, "req_no": req_no, "enc_mode": "1"}}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let reply = json_of(reply).await?;
    let body = &reply["dataBody"];
    let keys = crypto::derive_session_keys(req_dtim, &req_no, body["token_val"].as_str().ok_or("token_val")?);
    let plaintext = json!({"requestno": req_no, "returnurl": "http://127.0.0.1:8080/return", "sitecode": body["site_code"], "methodtype": "post"});
    let enc = keys.encrypt(plaintext.to_string().as_bytes()).map_err(|e| e.to_string())?;
    let mac = keys.integrity_value(&enc);
    let fields =
        json!({"m": "service", "token_version_id": body["token_version_id"], "enc_data": enc, "integrity_value": mac});
    let callback = floor
        .client
        .post(format!("{}/_sandbox/nice/complete", floor.sim))
        .header("content-type", "application/json")
        .body(json!({"fields": fields, "persona": "hong"}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let callback = json_of(callback).await?;
    let param = |name: &str| {
        callback["params"]
            .as_array()
            .and_then(|params| params.iter().find(|p| p[0] == name))
            .and_then(|p| p[1].as_str())
            .map(str::to_owned)
            .ok_or(format!("no {name} in the callback"))
    };
    let (enc, mac) = (param("enc_data")?, param("integrity_value")?);
    keys.verify_integrity(&enc, &mac).map_err(|e| e.to_string())?;
    let plain = keys.decrypt(&enc).map_err(|e| e.to_string())?;
    let text = encoding_rs::EUC_KR.decode_without_bom_handling_and_without_replacement(&plain).ok_or("not EUC-KR")?;
    let result: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if result["resultcode"] != "0000" {
        return Err(format!("resultcode {}", result["resultcode"]));
    }
    Ok(())
}

async fn bench(args: Args) -> Result<(), String> {
    let config = NiceSimConfig::default();
    let product_id = config.product_id.clone();
    let simulator = NiceSimulator::new(config);
    let (client_id, secret) = simulator.client();
    let (client_id, secret) = (client_id.to_owned(), secret.to_owned());
    let (sim, _server) = match args.sim {
        Some(url) => (url, None),
        None => {
            let address = "127.0.0.1:0".parse().map_err(|_| "address")?;
            let server = SandboxServer::start(simulator.router(), address).await.map_err(|e| e.to_string())?;
            (server.base_url(), Some(server))
        }
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(|e| e.to_string())?;
    let reply = client
        .post(format!("{sim}{}", sim::TOKEN_PATH))
        .header("authorization", format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}"))))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=default")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let token = json_of(reply).await?["dataBody"]["access_token"].as_str().ok_or("no access token")?.to_owned();
    let floor = Arc::new(Floor { client, sim, token, client_id, product_id });
    for (concurrency, flows) in args.plan {
        let floor = floor.clone();
        let label = format!("floor · {} · c={concurrency}", ProviderId::Nice);
        run(label, flows, concurrency, move || flow(floor.clone())).await?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let outcome = args().and_then(|args| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| format!("tokio: {e}"))?;
        runtime.block_on(bench(args))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("floor: {message}");
            ExitCode::FAILURE
        }
    }
}
