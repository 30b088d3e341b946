//! A Rust backend using the NICE adapter and the SQLite store directly: no `bonin-app`, no config
//! file, no globals. The NICE simulator stands in for NICE here; in production the same code takes
//! `NiceConfig::new(client_id, client_secret)` with NICE's real endpoints.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::{error::Error, sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_nice::{NiceClient, NiceConfig};
use bonin_adapters_store::{RecordCipher, SqliteStore};
use bonin_domain::{
    CallbackParams, CallbackTransport, CasOutcome, Clock, FlowRules, Launch, Method, OsRng, ProviderId, SecretString,
    SessionStore, SystemClock, Verification, VerificationId, WindowRequest, WindowVerifier,
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
    let ttl = Duration::from_secs(3600);

    // 1. Start: the launch goes to the browser, the keys stay in the store.
    let id = VerificationId::generate(&OsRng)?;
    let start = nice.start(&WindowRequest::new(id.clone(), format!("https://my.app/identity/{id}/return"))).await?;
    let session = Verification::start(id.clone(), ProviderId::Nice, Method::Window, FlowRules::nice(), clock.now())
        .with_provider_session(start.provider_key.clone(), start.provider_state.clone(), start.valid_until);
    store.create(&session, ttl).await?;
    let Launch::Form(form) = &start.launch else { return Err("NICE launches a form".into()) };
    println!("1. started {id}: the browser submits {} fields to {}", form.fields.len(), form.action);

    // 2. The user authenticates in NICE's window (here: the simulator plays persona "hong").
    let fields: Vec<(String, String)> = form.fields.iter().map(|f| (f.name.clone(), f.value.clone())).collect();
    let returned =
        simulator.complete_window(&fields, "hong", &ResultOverrides::default()).map_err(|e| e.to_string())?;
    let callback = CallbackParams::from_pairs(CallbackTransport::Post, returned.params);
    println!("2. NICE returned the browser with {callback:?}");

    // 3. Complete: verify against the stored session, then apply exactly once.
    let current = store.get(&id).await?.ok_or("the session expired")?;
    let completion = nice.complete(&current, &callback).await?;
    let next = current.verified(clock.now(), completion.identity)?;
    match store.compare_and_swap(current.version(), &next, ttl).await? {
        CasOutcome::Swapped => {}
        CasOutcome::Conflict(_) => return Err("another request completed it first".into()),
    }
    let identity = next.identity().ok_or("no identity")?;
    let name = identity.name.as_ref().map(|n| bonin_examples::mask(n.expose())).unwrap_or_default();
    println!("3. verified {name} (CI present: {}, carrier: {:?})", identity.ci.is_some(), identity.carrier);

    // A replayed callback is refused by the compare-and-swap.
    let replay = store.compare_and_swap(current.version(), &next, ttl).await?;
    println!(
        "4. the same callback again: {}",
        if matches!(replay, CasOutcome::Conflict(_)) { "refused" } else { "APPLIED TWICE" }
    );

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    server.shutdown().await;
    Ok(())
}
