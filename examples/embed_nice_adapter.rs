//! A Rust backend using the NICE adapter and the SQLite store through bonin's verification service:
//! no `bonin-app`, no config file, no globals, and every guarantee of `bonin serve` (a callback
//! applied once, tampered callbacks change nothing, expiry, `min_age`, the identity handed out once).
//! The NICE simulator stands in for NICE here; in production the same code takes
//! `NiceConfig::new(client_id, client_secret)` with NICE's real endpoints.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::{error::Error, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_nice::{NiceClient, NiceConfig};
use bonin_adapters_store::{RecordCipher, SqliteStore};
use bonin_domain::{
    CallbackParams, CallbackTransport, Clock, Display, Launch, Method, NoObserver, OsRng, ProviderId, SecretString,
    ServiceSettings, StartRequest, SystemClock, VerificationService,
};
use bonin_sandbox::{
    SandboxServer,
    nice::{NiceSimConfig, NiceSimulator, ResultOverrides, WINDOW_PATH},
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // NICE (simulated on loopback).
    let simulator = NiceSimulator::new(NiceSimConfig::default());
    let server = SandboxServer::start(simulator.router(), "127.0.0.1:0".parse()?).await?;
    let (client_id, client_secret) = simulator.client();
    let config = NiceConfig::new(client_id, SecretString::from(client_secret))
        .with_endpoints(server.base_url(), format!("{}{WINDOW_PATH}", server.base_url()));
    let nice = NiceClient::from_config(config)?;

    // The store: a SQLite file, records sealed with the application's key.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let key = SecretString::from(format!("1:{}", STANDARD.encode([7u8; 32])));
    let path = std::env::temp_dir().join(format!("bonin-example-{}.db", std::process::id()));
    let store = SqliteStore::open(&path, Arc::new(RecordCipher::from_config(&[key])?), clock.clone())?;

    // The service: where NICE sends the browser back (your route, which calls `complete`), which
    // origins the browser may finally return to, and how long a finished verification is kept.
    let settings = ServiceSettings::new("https://my.app/identity", ProviderId::Nice)
        .with_allowed_return_origins(["https://my.app"])
        .with_pii_retention(Duration::from_secs(600))
        .with_identity_grace(Duration::from_secs(60));
    let service = VerificationService::new(Arc::new(store), clock, Arc::new(OsRng), settings, Arc::new(NoObserver))
        .with_window(Arc::new(nice));

    // 1. Start: the launch goes to the browser; the keys stay in the store.
    let started = service
        .start(
            StartRequest::new(Method::Window)
                .with_return_url("https://my.app/signup/done")
                .with_display(Display::Page)
                .with_min_age(19),
        )
        .await?;
    let id = started.verification.id().clone();
    let Some(Launch::Form(form)) = &started.launch else { return Err("NICE launches a form".into()) };
    println!("1. started {id}: the browser submits {} fields to {}", form.fields.len(), form.action);

    // 2. The user authenticates in NICE's window (here: the simulator plays persona "hong").
    let fields: Vec<(String, String)> = form.fields.iter().map(|f| (f.name.clone(), f.value.clone())).collect();
    let returned =
        simulator.complete_window(&fields, "hong", &ResultOverrides::default()).map_err(|e| e.to_string())?;
    let callback = CallbackParams::from_pairs(CallbackTransport::Post, returned.params);
    println!("2. NICE returned the browser with {callback:?}");

    // 3. Complete: checked against the stored session (HMAC, session, expiry, min_age), applied once.
    let verified = service.complete(&id, &callback).await?;
    println!("3. {id} is {:?}", verified.stored_status());

    // A replayed callback is refused.
    let replay = service.complete(&id, &callback).await;
    println!("4. the same callback again: {}", replay.err().map_or("APPLIED TWICE".into(), |e| e.to_string()));

    // 5. Read the identity: handed out, readable again for the grace period, then dropped.
    let read = service.get(&id).await?;
    let identity = read.identity().ok_or("no identity")?;
    let name = identity.name.as_ref().map(|n| bonin_examples::mask(n.expose())).unwrap_or_default();
    println!("5. verified {name} (CI present: {}, carrier: {:?})", identity.ci.is_some(), identity.carrier);

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    server.shutdown().await;
    Ok(())
}
