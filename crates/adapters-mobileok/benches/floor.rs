//! The raw floor of a mobileOK 표준창 flow: the provider exchanges of one verification (the Gen-1
//! `encryptReqClientInfo`, the simulated window, the key-token exchange for the result, its
//! decryption) done by a minimal client with plain reqwest and this crate's crypto, no service and
//! no store. `cargo xtask bench` sets it beside bonin's whole flows.
//!
//! `cargo bench -p bonin-adapters-mobileok --bench floor -- [--plan C:N,...] [--sim URL --key-file PATH]`
//!
//! - `--plan` (or `BONIN_BENCH_PLAN`): runs of `N` flows with `C` concurrent workers. Default: the
//!   full plan under `cargo bench`, two tiny runs under `cargo test`.
//! - `--sim` (or `BONIN_BENCH_SIM`) with `--key-file` (or `BONIN_BENCH_KEY_FILE`, password
//!   `bonin-sandbox`): a running mobileOK simulator and its key file; by default one is started in
//!   this process, so its CPU time is charged with the client's, as the simulators in `bonin
//!   serve`'s sandbox profile are charged to bonin.
//!
//! Prints one Markdown row per run: configuration, flows, flows/s, p50, p99, CPU per flow (this
//! process's utime + stime from `/proc/self/stat`).
#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench prints its rows

use std::{
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bonin_adapters_mobileok::{CryptoGeneration, KeyFile, crypto};
use bonin_domain::{OsRng, ProviderId, SecretString, VerificationId};
use bonin_sandbox::{
    SandboxServer,
    mobileok::{MobileokSimConfig, MobileokSimulator, SANDBOX_KEY_PASSWORD},
};
use serde_json::{Value, json};

const FULL_PLAN: &str = "1:200,64:2000,512:4000";
const TEST_PLAN: &str = "1:2,2:4";

struct Args {
    plan: Vec<(usize, usize)>,
    sim: Option<String>,
    key_file: Option<PathBuf>,
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
    let mut key_file = std::env::var_os("BONIN_BENCH_KEY_FILE").map(PathBuf::from);
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--bench" => bench = true,
            "--plan" => plan = Some(argv.next().ok_or("--plan needs C:N,...")?),
            "--sim" => sim = Some(argv.next().ok_or("--sim needs a URL")?),
            "--key-file" => key_file = Some(argv.next().ok_or("--key-file needs a path")?.into()),
            _ => {} // test-harness flags and filters from `cargo test`
        }
    }
    if sim.is_some() != key_file.is_some() {
        return Err("--sim and --key-file go together".into());
    }
    let plan = parse_plan(plan.as_deref().unwrap_or(if bench { FULL_PLAN } else { TEST_PLAN }))?;
    Ok(Args { plan, sim: sim.map(|s| s.trim_end_matches('/').to_owned()), key_file })
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

async fn post_json(client: &reqwest::Client, url: String, body: &Value) -> Result<Value, String> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if status >= 400 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// What every flow shares: the client, the simulator, the key file.
struct Floor {
    client: reqwest::Client,
    sim: String,
    key_file: KeyFile,
}

/// One flow: the same 표준창 exchanges as the adapter, with no service and no store.
async fn flow(floor: Arc<Floor>) -> Result<(), String> {
    let tx = VerificationId::generate(&OsRng).map_err(|e| e.to_string())?.to_string();
    let encrypted =
        crypto::encrypt_req_client_info(&floor.key_file, CryptoGeneration::V1, &tx, time::OffsetDateTime::now_utc())
            .map_err(|e| e.to_string())?;
    let info = json!({"usageCode": "01005", "serviceId": floor.key_file.service_id(), "encryptReqClientInfo": encrypted, "serviceType": "telcoAuth",
                      "retTransferType": "MOKToken", "returnUrl": "http://127.0.0.1:8080/v1/verifications/x/return"});
    let delivery = post_json(
        &floor.client,
        format!("{}/_sandbox/mobileok/complete", floor.sim),
        &json!({"request_info": info.to_string(), "persona": "hong"}),
    )
    .await?;
    let data = delivery["data"].as_str().ok_or("no data")?.replace('+', " ");
    let data = percent_encoding::percent_decode_str(&data).decode_utf8_lossy().into_owned();
    let data: Value = serde_json::from_str(&data).map_err(|e| e.to_string())?;
    let reply = post_json(
        &floor.client,
        format!("{}/gui/service/v1/result/request", floor.sim),
        &json!({"encryptMOKKeyToken": data["encryptMOKKeyToken"]}),
    )
    .await?;
    let plain = crypto::decrypt_result(&floor.key_file, reply["encryptMOKResult"].as_str().ok_or("no result")?)
        .map_err(|e| e.to_string())?;
    let result: Value = serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
    if result["clientTxId"] != tx.as_str() {
        return Err("the result is for another clientTxId".into());
    }
    Ok(())
}

async fn bench(args: Args) -> Result<(), String> {
    let password = SecretString::from(SANDBOX_KEY_PASSWORD);
    let (sim, key_file, _server) = match (args.sim, args.key_file) {
        (Some(url), Some(path)) => (url, KeyFile::from_path(&path, &password).map_err(|e| e.to_string())?, None),
        _ => {
            let simulator = MobileokSimulator::new(MobileokSimConfig::default())
                .ok_or("the mobileOK simulator could not generate keys")?;
            let key_file = KeyFile::unlock(&simulator.key_file(SANDBOX_KEY_PASSWORD, true), &password)
                .map_err(|e| e.to_string())?;
            let address = "127.0.0.1:0".parse().map_err(|_| "address")?;
            let server = SandboxServer::start(simulator.router(), address).await.map_err(|e| e.to_string())?;
            (server.base_url(), key_file, Some(server))
        }
    };
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().map_err(|e| e.to_string())?;
    let floor = Arc::new(Floor { client, sim, key_file });
    for (concurrency, flows) in args.plan {
        let floor = floor.clone();
        let label = format!("floor · {} · c={concurrency}", ProviderId::Mobileok);
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
