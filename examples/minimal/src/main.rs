//! The smallest embedding of bonin: the NICE adapter, the SQLite store and the verification service
//! in your own backend, built with exactly the dependencies docs/EMBEDDING.md shows (this package's
//! `[dependencies]`, checked against that page by `cargo xtask tidy`):
//!
//! ```toml
//! bonin-domain = "0.1"
//! bonin-adapters-nice = "0.1"
//! bonin-adapters-store = { version = "0.1", default-features = false, features = ["sqlite"] }
//! tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
//! ```
//!
//! How NICE is simulated without changing that: the simulator is an internal crate, and as a
//! dependency (even a dev-dependency of an example or test target) it would join this build and
//! turn on features of the crates shared with it (tokio's, hyper's, …), hiding a feature an embedder
//! would lack. So it runs in a process of its own (`nice-simulator`, a binary of `bonin-examples`,
//! which [`simulated`] starts through cargo), serving NICE's API on loopback, and plays the user's
//! browser over a pipe. Everything in `main` below is what an embedder writes; only the
//! credentials and endpoints would come from your configuration and NICE instead.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)] // an example prints what happens

mod simulated;

use std::{error::Error, sync::Arc, time::Duration};

use bonin_adapters_nice::{NiceClient, NiceConfig};
use bonin_adapters_store::{RecordCipher, SqliteStore};
use bonin_domain::{
    Clock, Display, Launch, Method, NoObserver, OsRng, ProviderId, SecretString, ServiceSettings, StartRequest,
    SystemClock, VerificationService,
};

/// The store's record key (`<id>:<base64 of 32 bytes>`); yours comes from your secret store.
const STORE_KEY: &str = "1:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut nice_sim = simulated::Nice::start()?;

    // The NICE client from your credentials; `with_endpoints` only because NICE is simulated here.
    let config = NiceConfig::new(nice_sim.client_id.clone(), SecretString::from(nice_sim.client_secret.clone()))
        .with_endpoints(nice_sim.api_base.clone(), nice_sim.window_url.clone());
    let nice = NiceClient::from_config(config)?;

    // The store: a SQLite file, records sealed with your key.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let path = std::env::temp_dir().join(format!("bonin-minimal-{}.db", std::process::id()));
    let cipher = Arc::new(RecordCipher::from_config(&[SecretString::from(STORE_KEY)])?);
    let store = SqliteStore::open(&path, cipher, clock.clone())?;

    // The service, with every guarantee of `bonin serve`.
    let settings = ServiceSettings::new("https://my.app/identity", ProviderId::Nice)
        .with_allowed_return_origins(["https://my.app"])
        .with_pii_retention(Duration::from_secs(600))
        .with_identity_grace(Duration::from_secs(60));
    let service = VerificationService::new(Arc::new(store), clock, Arc::new(OsRng), settings, Arc::new(NoObserver))
        .with_window(Arc::new(nice));

    // Start: the launch (a form for NICE) goes to the browser.
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
    println!("started {id}: the browser submits {} fields to NICE's window", form.fields.len());

    // The browser: the user authenticates in NICE's window, NICE sends the browser back to your
    // return route with the result, and your route hands it to `complete`.
    let fields: Vec<(String, String)> = form.fields.iter().map(|f| (f.name.clone(), f.value.clone())).collect();
    let callback = nice_sim.play_window(&fields, "hong")?;
    let verified = service.complete(&id, &callback).await?;
    println!("completed: {:?}", verified.stored_status());

    // The same callback again changes nothing.
    let replay = service.complete(&id, &callback).await;
    println!("replayed: {}", replay.err().map_or_else(|| "APPLIED TWICE".to_owned(), |e| e.to_string()));

    // Read the identity (handed out once, then readable for the grace period).
    let read = service.get(&id).await?;
    let identity = read.identity().ok_or("no identity")?;
    println!("verified: CI present {}, birth date present {}", identity.ci.is_some(), identity.birth_date.is_some());

    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    nice_sim.stop()?;
    Ok(())
}
