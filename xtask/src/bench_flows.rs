//! Whole flows through `bonin serve` (start → simulated window → return landing → identity read)
//! against the simulators in a separate `bonin sandbox` process, and the raw floor beside them: the
//! same provider exchanges done by a minimal client (plain reqwest and the crypto, no service, no
//! store).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_mobileok::{CryptoGeneration, KeyFile, crypto as mok};
use bonin_adapters_nice::crypto as nice;
use bonin_domain::{OsRng, SecretString, VerificationId};
use serde_json::{Value, json};

use crate::bench_service;

/// One measured configuration.
pub(crate) struct FlowRow {
    pub label: String,
    pub flows: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// CPU seconds per flow of the measured party (bonin's process, or the floor client).
    pub cpu_per_flow: Duration,
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// utime + stime of `pid` (`self` for this process).
fn cpu_time(pid: &str) -> Duration {
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

/// Runs `flows` flows with `concurrency` workers; `cpu_pid` is whose CPU to charge.
async fn run<F, Fut>(label: String, flows: usize, concurrency: usize, cpu_pid: &str, flow: F) -> Result<FlowRow, String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
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

fn form(pairs: &[(String, String)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
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

/// One whole flow through bonin.
async fn bonin_flow(client: reqwest::Client, bonin: String, sim: String, provider: &'static str) -> Result<(), String> {
    let started = post_json(
        &client,
        format!("{bonin}/v1/verifications"),
        &json!({"provider": provider, "method": "window", "return_url": "http://127.0.0.1:8080/demo/done", "display": "page"}),
    )
    .await?;
    let id = started["id"].as_str().ok_or("no id")?.to_owned();
    let landing = if provider == "nice" {
        let fields: serde_json::Map<String, Value> = started["launch"]["fields"]
            .as_array()
            .ok_or("no fields")?
            .iter()
            .map(|f| (f["name"].as_str().unwrap_or("").to_owned(), f["value"].clone()))
            .collect();
        let callback =
            post_json(&client, format!("{sim}/_sandbox/nice/complete"), &json!({"fields": fields, "persona": "hong"}))
                .await?;
        let pairs: Vec<(String, String)> = callback["params"]
            .as_array()
            .ok_or("no params")?
            .iter()
            .map(|p| (p[0].as_str().unwrap_or("").to_owned(), p[1].as_str().unwrap_or("").to_owned()))
            .collect();
        post_form(&client, format!("{bonin}/v1/verifications/{id}/return"), form(&pairs))
    } else if provider == "mobileok" {
        let info = client
            .post(format!("{bonin}/v1/verifications/{id}/launch"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let delivery = post_json(
            &client,
            format!("{sim}/_sandbox/mobileok/complete"),
            &json!({"request_info": info, "persona": "hong"}),
        )
        .await?;
        let body = form(&[("data".to_owned(), delivery["data"].as_str().ok_or("no data")?.to_owned())]);
        post_form(&client, format!("{bonin}/v1/verifications/{id}/return"), body)
    } else {
        // PortOne: the simulated window redirects to the landing with the result in the query.
        let launch = &started["launch"];
        let mut request = json!({"params": launch["params"], "persona": "hong"});
        if let Some(code) = launch["merchant_code"].as_str() {
            request["merchant_code"] = json!(code);
        }
        let done = post_json(&client, format!("{sim}/_sandbox/portone/complete"), &request).await?;
        let url = done["redirect_url"].as_str().ok_or("no redirect")?;
        let path = url.strip_prefix("http://127.0.0.1:8080").ok_or("unexpected redirect")?;
        client.get(format!("{bonin}{path}"))
    };
    let landing = landing.send().await.map_err(|e| e.to_string())?;
    let location = landing.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !location.ends_with("status=verified") {
        return Err(format!("landing answered {} → {location}", landing.status()));
    }
    let read =
        json_of(client.get(format!("{bonin}/v1/verifications/{id}")).send().await.map_err(|e| e.to_string())?).await?;
    if read["identity"]["name"].is_null() {
        return Err("no identity".into());
    }
    Ok(())
}

fn post_form(client: &reqwest::Client, url: String, body: String) -> reqwest::RequestBuilder {
    client.post(url).header("content-type", "application/x-www-form-urlencoded").body(body)
}

/// The raw floor: the same NICE exchanges with no service and no store.
async fn nice_floor(client: reqwest::Client, sim: String, token: Arc<String>) -> Result<(), String> {
    let req_dtim = "20260101120000";
    let req_no = VerificationId::generate(&OsRng).map_err(|e| e.to_string())?.to_string();
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let bearer = STANDARD.encode(format!("{token}:{stamp}:sandbox-nice-client"));
    let crypto = client
        .post(format!("{sim}{}", bonin_sandbox::nice::CRYPTO_TOKEN_PATH))
        .header("content-type", "application/json")
        .header("authorization", format!("bearer {bearer}"))
        .header("productid", "2101979031")
        .body(json!({"dataHeader": {"CNTY_CD": "ko"}, "dataBody": {"req_dtim": req_dtim, "req_no": req_no, "enc_mode": "1"}}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let crypto = json_of(crypto).await?;
    let body = &crypto["dataBody"];
    let keys = nice::derive_session_keys(req_dtim, &req_no, body["token_val"].as_str().ok_or("token_val")?);
    let plaintext = json!({"requestno": req_no, "returnurl": "http://127.0.0.1:8080/return", "sitecode": body["site_code"], "methodtype": "post"});
    let enc = keys.encrypt(plaintext.to_string().as_bytes()).map_err(|e| e.to_string())?;
    let mac = keys.integrity_value(&enc);
    let fields =
        json!({"m": "service", "token_version_id": body["token_version_id"], "enc_data": enc, "integrity_value": mac});
    let callback =
        post_json(&client, format!("{sim}/_sandbox/nice/complete"), &json!({"fields": fields, "persona": "hong"}))
            .await?;
    let params = callback["params"].as_array().ok_or("params")?;
    let (enc, mac) = (params[1][1].as_str().unwrap_or(""), params[2][1].as_str().unwrap_or(""));
    keys.verify_integrity(enc, mac).map_err(|e| e.to_string())?;
    let plain = keys.decrypt(enc).map_err(|e| e.to_string())?;
    let text = encoding_rs::EUC_KR.decode_without_bom_handling_and_without_replacement(&plain).ok_or("not EUC-KR")?;
    let result: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if result["resultcode"] != "0000" {
        return Err("result".into());
    }
    Ok(())
}

/// The raw floor for mobileOK's 표준창.
async fn mobileok_floor(client: reqwest::Client, sim: String, key_file: Arc<KeyFile>) -> Result<(), String> {
    let tx = VerificationId::generate(&OsRng).map_err(|e| e.to_string())?.to_string();
    let encrypted = mok::encrypt_req_client_info(&key_file, CryptoGeneration::V1, &tx, time::OffsetDateTime::now_utc())
        .map_err(|e| e.to_string())?;
    let info = json!({"usageCode": "01005", "serviceId": key_file.service_id(), "encryptReqClientInfo": encrypted, "serviceType": "telcoAuth",
                      "retTransferType": "MOKToken", "returnUrl": "http://127.0.0.1:8080/v1/verifications/x/return"});
    let delivery = post_json(
        &client,
        format!("{sim}/_sandbox/mobileok/complete"),
        &json!({"request_info": info.to_string(), "persona": "hong"}),
    )
    .await?;
    let data = delivery["data"].as_str().ok_or("data")?.replace('+', " ");
    let data = percent_encoding::percent_decode_str(&data).decode_utf8_lossy().into_owned();
    let data: Value = serde_json::from_str(&data).map_err(|e| e.to_string())?;
    let reply = client
        .post(format!("{sim}/gui/service/v1/result/request"))
        .header("content-type", "application/json")
        .body(json!({"encryptMOKKeyToken": data["encryptMOKKeyToken"]}).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let reply = json_of(reply).await?;
    let plain = mok::decrypt_result(&key_file, reply["encryptMOKResult"].as_str().ok_or("result")?)
        .map_err(|e| e.to_string())?;
    let result: Value = serde_json::from_slice(&plain).map_err(|e| e.to_string())?;
    if result["clientTxId"] != tx.as_str() {
        return Err("clientTxId".into());
    }
    Ok(())
}

fn spawn_sandbox(bin: &Path, port: u16) -> Result<Proc, String> {
    let child = Command::new(bin)
        .args(["sandbox", "--port", &port.to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BONIN_LOG__LEVEL", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting bonin sandbox: {e}"))?;
    Ok(Proc(child))
}

fn spawn_serve(bin: &Path, port: u16, sim: &str, key_file: &Path, store: &str) -> Result<Proc, String> {
    let child = Command::new(bin)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BONIN_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("BONIN_SERVER__PUBLIC_URL", "http://127.0.0.1:8080")
        .env("BONIN_STORE__URL", store)
        .env("BONIN_LOG__LEVEL", "error")
        .envs(crate::bench_service::UNLIMITED.iter().copied())
        .env("BONIN_PROVIDERS__NICE__CLIENT_ID", "sandbox-nice-client")
        .env("BONIN_PROVIDERS__NICE__CLIENT_SECRET", "sandbox-nice-secret")
        .env("BONIN_PROVIDERS__NICE__API_BASE", sim)
        .env("BONIN_PROVIDERS__NICE__WINDOW_URL", format!("{sim}{}", bonin_sandbox::nice::WINDOW_PATH))
        .env("BONIN_PROVIDERS__MOBILEOK__KEY_FILE", key_file)
        .env("BONIN_PROVIDERS__MOBILEOK__KEY_PASSWORD", bonin_sandbox::mobileok::SANDBOX_KEY_PASSWORD)
        .env("BONIN_PROVIDERS__MOBILEOK__API_BASE", sim)
        .env("BONIN_PROVIDERS__MOBILEOK__WINDOW_BASE", sim)
        .env("BONIN_PROVIDERS__MOBILEOK__SITE_URL", "https://bench.bonin.test")
        .env("BONIN_PROVIDERS__PORTONE_V1__IMP_KEY", bonin_sandbox::portone::SANDBOX_IMP_KEY)
        .env("BONIN_PROVIDERS__PORTONE_V1__IMP_SECRET", bonin_sandbox::portone::SANDBOX_IMP_SECRET)
        .env("BONIN_PROVIDERS__PORTONE_V1__MERCHANT_CODE", bonin_sandbox::portone::SANDBOX_MERCHANT_CODE)
        .env("BONIN_PROVIDERS__PORTONE_V1__CHANNEL_KEY", bonin_sandbox::portone::SANDBOX_V1_CHANNEL_KEY)
        .env("BONIN_PROVIDERS__PORTONE_V1__API_BASE", sim)
        .env("BONIN_PROVIDERS__PORTONE_V1__SCRIPT_URL", format!("{sim}{}", bonin_sandbox::portone::V1_SCRIPT_PATH))
        .env("BONIN_PROVIDERS__PORTONE_V2__API_SECRET", bonin_sandbox::portone::SANDBOX_V2_SECRET)
        .env("BONIN_PROVIDERS__PORTONE_V2__STORE_ID", bonin_sandbox::portone::SANDBOX_STORE_ID)
        .env("BONIN_PROVIDERS__PORTONE_V2__CHANNEL_KEY", bonin_sandbox::portone::SANDBOX_V2_CHANNEL_KEY)
        .env("BONIN_PROVIDERS__PORTONE_V2__API_BASE", sim)
        .env("BONIN_PROVIDERS__PORTONE_V2__SCRIPT_URL", format!("{sim}{}", bonin_sandbox::portone::V2_SCRIPT_PATH))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting bonin serve: {e}"))?;
    Ok(Proc(child))
}

async fn wait_for(client: &reqwest::Client, url: String) -> Result<(), String> {
    for _ in 0..1200 {
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("{url} did not answer"))
}

/// Runs every flow configuration and the floor.
pub(crate) fn measure(quick: bool, bin: &Path) -> Result<Vec<FlowRow>, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let sim_port = bench_service::free_port()?;
        let _sandbox = spawn_sandbox(bin, sim_port)?;
        let sim = format!("http://127.0.0.1:{sim_port}");
        wait_for(&client, format!("{sim}/_sandbox/personas")).await?;
        let key_path: PathBuf = std::env::temp_dir().join("bonin-sandbox-mok_keyInfo.dat");
        let plan: &[(usize, usize)] = if quick { &[(1, 4), (8, 16)] } else { &[(1, 200), (64, 2000), (512, 4000)] };
        let mut stores = vec![("memory", "memory:".to_owned())];
        if !quick {
            let db = std::env::temp_dir().join(format!("bonin-bench-flows-{}.db", std::process::id()));
            stores.push(("SQLite", format!("sqlite://{}", db.display())));
            if let Ok(url) = std::env::var("BONIN_TEST_POSTGRES_URL") {
                stores.push(("PostgreSQL", url));
            }
            if let Ok(url) = std::env::var("BONIN_TEST_REDIS_URL") {
                stores.push(("Redis", url));
            }
        }
        let mut rows = Vec::new();
        for (store_name, store_url) in &stores {
            let port = bench_service::free_port()?;
            let serve = spawn_serve(bin, port, &sim, &key_path, store_url)?;
            let bonin = format!("http://127.0.0.1:{port}");
            wait_for(&client, format!("{bonin}/readyz")).await?;
            let pid = serve.0.id().to_string();
            for provider in ["nice", "mobileok", "portone_v1", "portone_v2"] {
                for &(concurrency, flows) in plan {
                    let (c, b, s) = (client.clone(), bonin.clone(), sim.clone());
                    let label = format!("bonin · {provider} · {store_name} · c={concurrency}");
                    rows.push(
                        run(label, flows, concurrency, &pid, move || {
                            bonin_flow(c.clone(), b.clone(), s.clone(), provider)
                        })
                        .await?,
                    );
                }
            }
        }
        // The floor, in this process.
        let token_reply = client
            .post(format!("{sim}{}", bonin_sandbox::nice::TOKEN_PATH))
            .header("authorization", format!("Basic {}", STANDARD.encode("sandbox-nice-client:sandbox-nice-secret")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=default")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let token =
            Arc::new(json_of(token_reply).await?["dataBody"]["access_token"].as_str().ok_or("no token")?.to_owned());
        let key_file = Arc::new(
            KeyFile::from_path(&key_path, &SecretString::from(bonin_sandbox::mobileok::SANDBOX_KEY_PASSWORD))
                .map_err(|e| e.to_string())?,
        );
        for &(concurrency, flows) in plan {
            let (c, s, t) = (client.clone(), sim.clone(), token.clone());
            rows.push(
                run(format!("floor · nice · c={concurrency}"), flows, concurrency, "self", move || {
                    nice_floor(c.clone(), s.clone(), t.clone())
                })
                .await?,
            );
            let (c, s, k) = (client.clone(), sim.clone(), key_file.clone());
            rows.push(
                run(format!("floor · mobileok · c={concurrency}"), flows, concurrency, "self", move || {
                    mobileok_floor(c.clone(), s.clone(), k.clone())
                })
                .await?,
            );
        }
        Ok(rows)
    })
}

/// The flows table and the two target ratios, as Markdown.
pub(crate) fn render(rows: &[FlowRow]) -> String {
    let mut out =
        String::from("| configuration | flows | flows/s | p50 | p99 | CPU per flow |\n|---|---|---|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} |\n",
            row.label,
            row.flows,
            row.per_second,
            crate::bench::human(row.p50),
            crate::bench::human(row.p99),
            crate::bench::human(row.cpu_per_flow)
        ));
    }
    let find = |label: &str| rows.iter().find(|r| r.label == label);
    let top = rows
        .iter()
        .filter(|r| r.label.starts_with("floor"))
        .map(|r| r.label.rsplit("c=").next().unwrap_or("").to_owned())
        .next_back()
        .unwrap_or_default();
    out.push('\n');
    for provider in ["nice", "mobileok"] {
        let (Some(bonin), Some(floor)) =
            (find(&format!("bonin · {provider} · memory · c={top}")), find(&format!("floor · {provider} · c={top}")))
        else {
            continue;
        };
        let cpu_ratio = bonin.cpu_per_flow.as_secs_f64() / floor.cpu_per_flow.as_secs_f64().max(1e-9);
        let tail = bonin.p99.as_secs_f64() / bonin.p50.as_secs_f64().max(1e-9);
        out.push_str(&format!(
            "- {provider}, memory store, c={top}: bonin CPU per flow / floor CPU per flow = {cpu_ratio:.2} (target ≤ 2); bonin p99 / p50 = {tail:.2} (target ≤ 3).\n"
        ));
    }
    out
}
