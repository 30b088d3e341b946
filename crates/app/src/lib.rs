//! bonin as a service: configuration, wiring of adapters and stores, the REST API and the `bonin`
//! command line. This crate is the only one that knows every provider; each adapter and the
//! simulators are cargo features.
//!
//! Embedding the whole service in a host application:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let loaded = bonin_app::config::LoadedConfig::load(bonin_app::config::process_figment())?;
//! let app = bonin_app::wiring::build(&loaded).await?;
//! let host = axum::Router::new().nest("/identity", app.router.clone());
//! # let _ = host; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// On docs.rs (nightly), each item gated by a cargo feature is badged with it.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod access;
pub mod api;
pub mod browser_js;
pub mod config;
pub mod events;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod panic;
pub mod problem;
pub mod providers;
pub mod service;
pub mod signing;
pub mod wiring;

/// Sets up `tracing` output as configured. Fields carry verification ids and providers, never
/// personal data (the adapters and the service log no values).
pub fn init_tracing(log: &config::LogConfig) {
    let level = log.level.parse::<tracing::Level>().unwrap_or(tracing::Level::INFO);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match log.format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Text => builder.try_init(),
    };
}
