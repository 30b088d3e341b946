//! bonin checked against PortOne's official npm packages (`tools/portone-sdk`):
//!
//! - `@portone/browser-sdk`: the `requestIdentityVerification` parameters the V2 adapter emits,
//!   one launch per configuration variant (with and without `min_age`, prefill, `customData`, the
//!   company, window types; popup and page; Danal, KCP and KG Inicis channels), made by the adapter
//!   itself and written to `tools/portone-sdk/generated/launches.ts`, are type-checked against the
//!   SDK's `IdentityVerificationRequest` with `tsc --strict` (`launch-check.ts`, exact keys).
//! - `@portone/server-sdk`: an independent client of the PortOne simulator, and a verifier of
//!   bonin's webhook signatures (`check.mjs`).
//!
//! The packages and TypeScript are pinned in `tools/portone-sdk/package-lock.json` and installed
//! with `npm ci` (from npm's cache when it has them) only when the installed tree does not match the
//! lock file, so later runs need no network. node and npm are required: without them the test
//! fails, unless `BONIN_SKIP_NODE=1`, which skips it with a notice.
#![allow(clippy::print_stdout, clippy::print_stderr)] // the steps are reported as they run

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use bonin_adapters_portone::{PortoneLaunch, PortoneV2Client, PortoneV2Config, WebhookVerifier};
use bonin_domain::{
    BirthDate, Carrier, Display, Name, OsRng, PhoneNumber, Prefill, SecretString, VerificationId, WindowRequest,
    WindowVerifier,
};
use bonin_sandbox::{
    SandboxServer, personas,
    portone::{self as sim, PortoneCounters, PortoneSimConfig, PortoneSimulator},
};

/// A copy of the lock file, written after `npm ci` succeeded with it: the installed tree is its.
const INSTALLED_LOCK: &str = "node_modules/.bonin-package-lock.json";

fn available(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// `tools/portone-sdk` (this crate lives in `crates/adapters-portone`).
fn tool_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/portone-sdk");
    dir.canonicalize().unwrap_or(dir)
}

#[test]
fn portones_official_sdks_accept_bonins_launches_simulator_and_webhook_signatures() {
    if !available("node") || !available("npm") {
        if std::env::var("BONIN_SKIP_NODE").is_ok_and(|v| v == "1") {
            println!("official_sdk: SKIPPED (node or npm not found, BONIN_SKIP_NODE=1)");
            return;
        }
        panic!(
            "PortOne's official SDK check needs node (>= 20) and npm on PATH; install them, or set \
             BONIN_SKIP_NODE=1 to skip this check"
        );
    }
    if let Err(message) = run() {
        panic!("{message}");
    }
}

fn run() -> Result<(), String> {
    let dir = tool_dir();
    install(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let launches = runtime.block_on(launch_variants())?;
    std::fs::create_dir_all(dir.join("generated")).map_err(|e| format!("generated/: {e}"))?;
    std::fs::write(dir.join("generated/launches.ts"), launches_module(&launches))
        .map_err(|e| format!("generated/launches.ts: {e}"))?;
    println!("==> tsc --strict: {} V2 launches against @portone/browser-sdk", launches.len());
    let status = Command::new("node")
        .args(["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("could not run tsc: {e}"))?;
    if !status.success() {
        return Err(format!("bonin's V2 launches do not match PortOne's IdentityVerificationRequest ({status})"));
    }
    runtime.block_on(async {
        let simulator = PortoneSimulator::new(PortoneSimConfig::default());
        let address = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
        let server = SandboxServer::start(simulator.router(), address).await.map_err(|e| format!("simulator: {e}"))?;
        let signed = bonin_signed_webhook(&simulator.config().webhook_secret)?;
        println!("==> node check.mjs (simulator at {})", server.base_url());
        // The simulator serves from the runtime's worker threads while this one waits for node.
        let node = Command::new("node")
            .arg("check.mjs")
            .current_dir(&dir)
            .env("PORTONE_SIM_URL", server.base_url())
            .env("PORTONE_SIM_SECRET", sim::SANDBOX_V2_SECRET)
            .env("PORTONE_SIM_STORE_ID", sim::SANDBOX_STORE_ID)
            .env("PORTONE_SIM_CHANNEL_KEY", sim::SANDBOX_V2_CHANNEL_KEY)
            .env("BONIN_SIGNED_WEBHOOK", signed)
            .status()
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
        println!("official_sdk: the simulator saw what the SDK did");
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

/// `npm ci`, unless the installed tree is the one the lock file pins.
fn install(dir: &Path) -> Result<(), String> {
    let lock = std::fs::read(dir.join("package-lock.json")).map_err(|e| format!("package-lock.json: {e}"))?;
    if std::fs::read(dir.join(INSTALLED_LOCK)).is_ok_and(|installed| installed == lock) {
        println!("==> npm packages up to date ({})", dir.display());
        return Ok(());
    }
    println!("==> npm ci ({})", dir.display());
    let status = Command::new("npm")
        .args(["ci", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .map_err(|e| format!("could not run npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm ci failed ({status})"));
    }
    std::fs::write(dir.join(INSTALLED_LOCK), lock).map_err(|e| format!("{INSTALLED_LOCK}: {e}"))
}

/// One configuration of the V2 adapter and one start request.
struct Variant {
    name: &'static str,
    config: PortoneV2Config,
    display: Display,
    min_age: Option<u8>,
    prefill: Option<Prefill>,
    custom_data: Option<&'static str>,
}

impl Variant {
    fn new(name: &'static str, config: PortoneV2Config) -> Self {
        Self { name, config, display: Display::Popup, min_age: None, prefill: None, custom_data: None }
    }
}

/// The `requestIdentityVerification` parameters bonin's V2 adapter emits, one per configuration
/// variant, as `(name, params)`.
async fn launch_variants() -> Result<Vec<(&'static str, serde_json::Value)>, String> {
    let persona = personas::default_persona();
    let full = Prefill::new()
        .with_name(Name::new(persona.name).ok())
        .with_phone(PhoneNumber::new(persona.phone).ok())
        .with_birth_date(BirthDate::parse(persona.birth_date).ok())
        .with_carrier(Some(persona.carrier));
    let config = || {
        PortoneV2Config::new(
            SecretString::from(sim::SANDBOX_V2_SECRET),
            sim::SANDBOX_STORE_ID,
            sim::SANDBOX_V2_CHANNEL_KEY,
        )
    };
    let variants = [
        Variant::new("plain", config()),
        Variant { display: Display::Page, ..Variant::new("page", config()) },
        Variant { min_age: Some(19), ..Variant::new("minAge", config()) },
        Variant {
            prefill: Some(full.clone()),
            custom_data: Some(r#"{"member":"m-1"}"#),
            ..Variant::new("prefill", config())
        },
        Variant {
            prefill: Some(Prefill::new().with_name(Name::new("EMMA WILSON").ok())),
            ..Variant::new("prefillNameOnly", config())
        },
        Variant {
            prefill: Some(Prefill::new().with_carrier(Some(Carrier::KtMvno))),
            ..Variant::new("prefillCarrierOnly", config())
        },
        Variant::new("company", {
            let mut tweaked = config();
            tweaked.company = Some("쇼핑몰".into());
            tweaked
        }),
        Variant::new("windowTypes", {
            let mut tweaked = config();
            tweaked.window_type_pc = Some("popup".into());
            tweaked.window_type_mobile = Some("redirection".into());
            tweaked
        }),
        Variant {
            min_age: Some(19),
            prefill: Some(full.clone()),
            ..Variant::new("kcp", {
                let mut tweaked = config();
                tweaked.channel_key = sim::SANDBOX_V2_KCP_CHANNEL_KEY.into();
                tweaked.pg_provider = Some("kcp_v2".into());
                tweaked.kcp_web_siteid = Some("J0000000000".into());
                tweaked
            })
        },
        Variant {
            min_age: Some(19),
            prefill: Some(full.clone()),
            ..Variant::new("inicis", {
                let mut tweaked = config();
                tweaked.pg_provider = Some("inicis_unified".into());
                tweaked
            })
        },
        Variant {
            display: Display::Page,
            min_age: Some(19),
            prefill: Some(full),
            custom_data: Some("{}"),
            ..Variant::new("everything", {
                let mut tweaked = config();
                tweaked.company = Some("shop.example".into());
                tweaked.window_type_pc = Some("IFRAME".into());
                tweaked.window_type_mobile = Some("REDIRECTION".into());
                tweaked
            })
        },
    ];
    let mut launches = Vec::with_capacity(variants.len());
    for variant in variants {
        let name = variant.name;
        let client = PortoneV2Client::from_config(variant.config).map_err(|e| format!("{name}: {e}"))?;
        let id = VerificationId::generate(&OsRng).map_err(|e| format!("{name}: {e}"))?;
        let landing = format!("http://127.0.0.1:8080/v1/verifications/{id}/return");
        let request = WindowRequest::new(id, landing)
            .with_display(variant.display)
            .with_min_age(variant.min_age)
            .with_prefill(variant.prefill)
            .with_custom_data(variant.custom_data.map(str::to_owned));
        let started = client.start(&request).await.map_err(|e| format!("{name}: {e}"))?;
        let Some(launch) = PortoneLaunch::from_launch(&started.launch).map_err(|e| format!("{name}: {e}"))? else {
            return Err(format!("{name}: the V2 adapter did not return a PortOne launch"));
        };
        launches.push((name, serde_json::to_value(&launch.params).map_err(|e| format!("{name}: {e}"))?));
    }
    Ok(launches)
}

/// `generated/launches.ts`: the launches as JSON, `as const` so TypeScript keeps their literal
/// values (`"POPUP"`, not `string`).
fn launches_module(launches: &[(&'static str, serde_json::Value)]) -> String {
    let mut out = String::from(
        "// Written by bonin-adapters-portone's `official_sdk` test: the launches its V2 adapter emits.\n\
         export const launches = {\n",
    );
    for (name, params) in launches {
        out.push_str(&format!("  {name}: {params},\n"));
    }
    out.push_str("} as const;\n");
    out
}
