//! Faithful provider simulators for bonin, and the harness they share.
//!
//! The simulators are independent readings of the published protocols (`shared/protocols/`): this
//! crate never depends on a bonin adapter, so an adapter that passes against a simulator has been
//! checked by a second implementation, not by itself.
//!
//! The harness:
//! - [`SandboxServer`]: an axum server on `127.0.0.1:0` (tests) or a fixed loopback port
//!   (`bonin sandbox`), serving one or more simulator routers plus the `/_sandbox/*` control API;
//! - [`personas`]: the synthetic people every simulator can verify;
//! - [`Faults`]: per-endpoint fault injection (latency, HTTP status, hang, malformed or truncated
//!   body, a chosen provider error code), switchable from tests in-process or over HTTP;
//! - [`Recorder`]: records requests exactly and answers from a script, for request-shape tests.
//!
//! Simulators: [`nice`], [`mobileok`], [`portone`], [`esignon`].
//!
//! ```
//! # async fn run() -> std::io::Result<()> {
//! use axum::{Router, routing::get};
//! use bonin_sandbox::{Fault, SandboxServer, Times};
//!
//! let simulator = Router::new().route("/token", get(|| async { "{\"token\":\"t\"}" }));
//! let server = SandboxServer::start(simulator, "127.0.0.1:0".parse().unwrap()).await?;
//! server.faults().inject("/token", Fault::status(503), Times::Once);
//! // the next GET {server.base_url()}/token answers 503, the one after that is normal
//! server.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod conformance;
pub mod counterpart;
pub mod esignon;
mod faults;
#[cfg(feature = "fuzz")]
pub mod fuzz;
pub mod mobileok;
pub mod nice;
pub mod personas;
pub mod play;
pub mod portone;
mod recorder;
mod server;
pub mod toss;
mod window_page;

pub use faults::{Fault, Faults, InjectedProviderCode, Times};
pub use personas::Persona;
pub use recorder::{RecordedRequest, Recorder};
pub use server::SandboxServer;
