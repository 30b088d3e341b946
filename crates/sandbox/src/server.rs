//! The loopback server every simulator runs in.

use std::{io, net::SocketAddr};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    middleware,
    routing::{get, post},
};
use serde::Deserialize;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{Fault, Faults, Times, personas};

/// A running sandbox: one or more simulator routers, the fault layer, and the `/_sandbox` control
/// API (`GET /_sandbox/personas`, `POST /_sandbox/faults`, `DELETE /_sandbox/faults`).
/// Stops when dropped or on [`SandboxServer::shutdown`].
#[derive(Debug)]
pub struct SandboxServer {
    addr: SocketAddr,
    faults: Faults,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Deserialize)]
struct InjectRequest {
    endpoint: String,
    fault: Fault,
    #[serde(default = "once")]
    times: Times,
}

fn once() -> Times {
    Times::Once
}

async fn inject(State(faults): State<Faults>, Json(req): Json<InjectRequest>) -> StatusCode {
    faults.inject(&req.endpoint, req.fault, req.times);
    StatusCode::NO_CONTENT
}

async fn clear(State(faults): State<Faults>) -> StatusCode {
    faults.clear();
    StatusCode::NO_CONTENT
}

impl SandboxServer {
    /// Serves `simulators` on `bind`. Only loopback addresses are accepted: the simulators are for
    /// tests and local development, never for a network.
    pub async fn start(simulators: Router, bind: SocketAddr) -> io::Result<Self> {
        if !bind.ip().is_loopback() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "the sandbox binds to loopback addresses only"));
        }
        let faults = Faults::default();
        let control = Router::new()
            .route("/_sandbox/personas", get(|| async { Json(personas::ALL) }))
            .route("/_sandbox/faults", post(inject).delete(clear))
            .with_state(faults.clone());
        let app = simulators
            .route_layer(middleware::from_fn_with_state(faults.clone(), crate::faults::apply_faults))
            .merge(control);
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::warn!(%error, "sandbox server stopped with an error");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(Self { addr, faults, stop: Some(stop), task: Some(task) })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The fault registry.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Stops accepting, lets in-flight requests finish (hung ones are abandoned).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for SandboxServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
