//! `cargo xtask portone-sdk`: PortOne's official server SDK (`@portone/server-sdk`, npm) as an
//! independent client of the PortOne simulator, and as a verifier of bonin's webhook signatures.
//!
//! Installs the pinned SDK with `npm ci` under `tools/portone-sdk`, starts the simulator on loopback
//! in this process, signs a webhook with bonin's [`WebhookVerifier`], runs `check.mjs` with node,
//! then checks the simulator saw what the script did. Without node and npm it skips with a notice,
//! except under `CI=true`, where it fails.

use std::process::Command;

use bonin_adapters_portone::WebhookVerifier;
use bonin_sandbox::{
    SandboxServer,
    portone::{self as sim, PortoneCounters, PortoneSimConfig, PortoneSimulator},
};

fn available(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

pub(crate) fn run() -> Result<(), String> {
    let dir = crate::project_root().join("tools/portone-sdk");
    if !available("node") || !available("npm") {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            return Err("portone-sdk: node and npm are required under CI=true".into());
        }
        println!("portone-sdk: SKIPPED (node or npm not found)");
        return Ok(());
    }
    println!("==> npm ci ({})", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("could not run npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed ({status})"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async {
        let simulator = PortoneSimulator::new(PortoneSimConfig::default());
        let address = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
        let server = SandboxServer::start(simulator.router(), address).await.map_err(|e| format!("simulator: {e}"))?;
        let signed = bonin_signed_webhook(&simulator.config().webhook_secret)?;
        println!("==> node check.mjs (simulator at {})", server.base_url());
        let node = tokio::process::Command::new("node")
            .arg("check.mjs")
            .current_dir(&dir)
            .env("PORTONE_SIM_URL", server.base_url())
            .env("PORTONE_SIM_SECRET", sim::SANDBOX_V2_SECRET)
            .env("PORTONE_SIM_STORE_ID", sim::SANDBOX_STORE_ID)
            .env("PORTONE_SIM_CHANNEL_KEY", sim::SANDBOX_V2_CHANNEL_KEY)
            .env("BONIN_SIGNED_WEBHOOK", signed)
            .status()
            .await
            .map_err(|e| format!("could not run node: {e}"))?;
        let counters = simulator.counters();
        let (confirms, codes) =
            (PortoneCounters::get(&counters.v2_confirms_applied), PortoneCounters::get(&counters.codes_sent));
        server.shutdown().await;
        if !node.success() {
            return Err(format!("the PortOne SDK check failed ({node})"));
        }
        // One send and one resend reached the "phone"; exactly one confirm verified someone.
        if (confirms, codes) != (1, 2) {
            return Err(format!(
                "the simulator saw {confirms} applied confirms and {codes} codes sent, expected 1 and 2"
            ));
        }
        println!("portone-sdk: the simulator saw what the SDK did");
        Ok(())
    })
}

/// A webhook body and headers signed by bonin, as JSON for the script.
fn bonin_signed_webhook(secret: &str) -> Result<String, String> {
    let verifier = WebhookVerifier::new(secret).map_err(|e| format!("webhook secret: {e}"))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = serde_json::json!({
        "type": "BillingKey.Issued",
        "timestamp": "2026-11-23T00:00:00Z",
        "data": {"storeId": sim::SANDBOX_STORE_ID, "billingKey": "bk-1"},
    })
    .to_string();
    let signature = verifier.sign("msg_bonin_1", now, body.as_bytes());
    Ok(serde_json::json!({
        "secret": secret,
        "type": "BillingKey.Issued",
        "body": body,
        "headers": {"webhook-id": "msg_bonin_1", "webhook-timestamp": now.to_string(), "webhook-signature": signature},
    })
    .to_string())
}
