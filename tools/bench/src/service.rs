//! `bonin serve` measured as a process: cold start, resident memory per pending verification, and
//! the token economy (provider logins per flow). Providers are chosen from the registry at run time
//! and the rows name the one chosen.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::project_root;

/// What the service measurements found.
pub(crate) struct ServiceFigures {
    pub cold_start: Duration,
    /// The provider whose OTP sessions were the pending verifications.
    pub pending_provider: String,
    pub memory_bytes_per_pending: f64,
    pub sqlite_bytes_per_pending: f64,
    pub sqlite_file_bytes_per_pending: f64,
    pub pending: usize,
    /// Token economy, when a provider with a window holds a token.
    pub tokens: Option<TokenFigures>,
}

/// Token-cache counters of one provider (`/metrics`) after `starts` window starts.
pub(crate) struct TokenFigures {
    pub provider: String,
    pub starts: usize,
    /// Upstream token fetches.
    pub fetches: u64,
    /// Token requests answered from the cache.
    pub hits: u64,
}

/// Builds the `bonin` binary with the simulators (its sandbox profile is what is measured; release
/// for the full run) and returns its path.
pub(crate) fn binary(release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut args = vec!["build", "-q", "-p", "bonin-app", "--features", "sandbox", "--bin", "bonin"];
    if release {
        args.push("--release");
    }
    let status =
        Command::new(cargo).args(&args).current_dir(project_root()).status().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("building bonin failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| project_root().join("target"), PathBuf::from);
    Ok(target.join(if release { "release" } else { "debug" }).join("bonin"))
}

pub(crate) fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// A running `bonin serve` that is killed when dropped.
struct Serve {
    child: Child,
    port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bench is one client on loopback driving thousands of flows: the per-client limits and the
/// open-verification cap would measure themselves instead of the flows.
pub(crate) const UNLIMITED: &[(&str, &str)] = &[
    ("BONIN_LIMITS__STARTS_PER_MINUTE", "0"),
    ("BONIN_LIMITS__OTP_SENDS_PER_MINUTE", "0"),
    ("BONIN_LIMITS__CONFIRMS_PER_MINUTE", "0"),
    ("BONIN_LIMITS__CALLBACKS_PER_MINUTE", "0"),
    ("BONIN_LIMITS__MAX_OPEN_VERIFICATIONS", "0"),
    ("BONIN_LIMITS__PROVIDER_CONCURRENCY", "1024"),
];

fn spawn(bin: &Path, env: &[(&str, String)]) -> Result<Serve, String> {
    let port = free_port()?;
    let child = Command::new(bin)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BONIN_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("BONIN_LOG__LEVEL", "error")
        .envs(UNLIMITED.iter().copied())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting bonin: {e}"))?;
    Ok(Serve { child, port })
}

async fn wait_ready(client: &reqwest::Client, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && response.status().as_u16() == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err("bonin did not become ready within 60 s".into())
}

fn rss_bytes(pid: u32) -> Result<f64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("reading RSS: {e}"))?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or("no VmRSS")?;
    Ok(kb * 1024.0)
}

/// Posts `body` to `/v1/verifications` `count` times from `workers` concurrent workers; every
/// answer must be 201.
async fn start_many(
    client: &reqwest::Client,
    port: u16,
    count: usize,
    workers: usize,
    body: String,
) -> Result<(), String> {
    let workers = workers.min(count.max(1));
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (client, body) = (client.clone(), body.clone());
        let share = count / workers + usize::from(worker < count % workers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                let response = client
                    .post(format!("http://127.0.0.1:{port}/v1/verifications"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status().as_u16() != 201 {
                    return Err(format!("start answered {}", response.status()));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for task in tasks {
        task.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

/// Creates `count` pending verifications: OTP sessions of `provider`, started and not yet sent.
async fn create_pending(client: &reqwest::Client, port: u16, provider: &str, count: usize) -> Result<(), String> {
    let body = serde_json::json!({"provider": provider, "method": "otp"}).to_string();
    start_many(client, port, count, 32, body).await
}

async fn memory_per_pending(
    bin: &Path,
    client: &reqwest::Client,
    store: &str,
    provider: &str,
    count: usize,
) -> Result<(f64, f64), String> {
    let serve = spawn(bin, &[("BONIN_STORE__URL", store.to_owned())])?;
    wait_ready(client, serve.port).await?;
    // One warm-up request so connection and code paths are in place before the baseline.
    create_pending(client, serve.port, provider, 1).await?;
    let before = rss_bytes(serve.child.id())?;
    create_pending(client, serve.port, provider, count).await?;
    let after = rss_bytes(serve.child.id())?;
    #[allow(clippy::cast_precision_loss)]
    let per = (after - before).max(0.0) / count as f64;
    let file = store.strip_prefix("sqlite://").map_or(0.0, |path| {
        #[allow(clippy::cast_precision_loss)]
        let size =
            ["", "-wal"].iter().map(|s| std::fs::metadata(format!("{path}{s}")).map_or(0, |m| m.len())).sum::<u64>()
                as f64;
        size / count as f64
    });
    Ok((per, file))
}

/// The value of `family{provider="<provider>"}` in a Prometheus text exposition.
fn counter(metrics: &str, family: &str, provider: &str) -> Option<u64> {
    let series = format!("{family}{{provider=\"{provider}\"}} ");
    metrics.lines().find_map(|line| line.strip_prefix(&series)).and_then(|value| value.trim().parse().ok())
}

async fn metrics(client: &reqwest::Client, port: u16) -> Result<String, String> {
    let response =
        client.get(format!("http://127.0.0.1:{port}/metrics")).send().await.map_err(|e| format!("/metrics: {e}"))?;
    response.text().await.map_err(|e| format!("/metrics: {e}"))
}

/// Token economy: `starts` window starts of the first registered provider with a window whose
/// token cache `/metrics` reports, and its counters afterwards.
async fn token_economy(bin: &Path, client: &reqwest::Client, starts: usize) -> Result<Option<TokenFigures>, String> {
    let serve = spawn(bin, &[("BONIN_STORE__URL", "memory:".to_owned())])?;
    wait_ready(client, serve.port).await?;
    let before = metrics(client, serve.port).await?;
    let Some(provider) = bonin_app::providers::registered()
        .iter()
        .filter(|p| p.capabilities().window)
        .map(|p| p.id().to_string())
        .find(|id| counter(&before, "bonin_token_cache_misses_total", id).is_some())
    else {
        return Ok(None);
    };
    let body = serde_json::json!({
        "provider": provider,
        "method": "window",
        "return_url": format!("http://127.0.0.1:{}/demo/done", serve.port),
    })
    .to_string();
    start_many(client, serve.port, starts, 16, body).await?;
    let after = metrics(client, serve.port).await?;
    let value = |family: &str| {
        counter(&after, family, &provider).ok_or_else(|| format!("/metrics has no {family} for {provider}"))
    };
    Ok(Some(TokenFigures {
        fetches: value("bonin_token_cache_misses_total")?,
        hits: value("bonin_token_cache_hits_total")?,
        provider,
        starts,
    }))
}

/// Runs every service measurement; `quick` keeps the counts small.
pub(crate) fn measure(quick: bool) -> Result<ServiceFigures, String> {
    let bin = binary(!quick)?;
    let pending_provider = bonin_app::providers::registered()
        .iter()
        .find(|p| p.capabilities().otp)
        .map(|p| p.id().to_string())
        .ok_or("no registered provider has the OTP method")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().map_err(|e| e.to_string())?;
        let (pending, starts) = if quick { (300, 50) } else { (100_000, 10_000) };

        // Cold start: the sandbox profile (simulators included) to /readyz = 200.
        let started = Instant::now();
        let serve = spawn(&bin, &[("BONIN_STORE__URL", "memory:".to_owned())])?;
        wait_ready(&client, serve.port).await?;
        let cold_start = started.elapsed();
        drop(serve);

        let (memory_bytes_per_pending, _) =
            memory_per_pending(&bin, &client, "memory:", &pending_provider, pending).await?;
        let db = std::env::temp_dir().join(format!("bonin-bench-{}.db", std::process::id()));
        let (sqlite_bytes_per_pending, sqlite_file_bytes_per_pending) =
            memory_per_pending(&bin, &client, &format!("sqlite://{}", db.display()), &pending_provider, pending)
                .await?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }

        let tokens = token_economy(&bin, &client, starts).await?;
        Ok(ServiceFigures {
            cold_start,
            pending_provider,
            memory_bytes_per_pending,
            sqlite_bytes_per_pending,
            sqlite_file_bytes_per_pending,
            pending,
            tokens,
        })
    })
}
