//! Panics never print their message: it may hold personal data or a secret (a value formatted into
//! an `expect`, a slice of a phone number out of bounds). [`install_hook`] replaces the process's
//! panic hook with one that logs only where the panic happened; [`catch_panic`] turns a request
//! handler's panic into a `500` problem instead of a dropped connection.
//!
//! A host that embeds the router should call [`install_hook`] itself: the router catches panics,
//! but the message is printed by whatever hook the process has.

use std::{io::Write, panic::AssertUnwindSafe};

use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures::FutureExt;

use crate::problem::ApiError;

/// Replaces the process's panic hook: a panic is logged through `tracing` at ERROR with its location
/// (`file:line`) and a fixed sentence, never its message. Before any subscriber is set up, the same
/// line goes to stderr, so a panic is never silent.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location =
            info.location().map_or_else(|| "an unknown location".to_owned(), |l| format!("{}:{}", l.file(), l.line()));
        let unheard = tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
        if unheard {
            let _ = writeln!(
                std::io::stderr(),
                "bonin: panicked at {location}; the panic message is withheld (it may hold personal data or secrets)"
            );
        } else {
            tracing::error!(
                %location,
                "panicked; the panic message is withheld (it may hold personal data or secrets)"
            );
        }
    }));
}

/// Middleware: a handler that panics is answered `500` with a fixed problem (code
/// `misconfigured`), and the connection stays usable. The panic's payload is dropped unread.
pub async fn catch_panic(request: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => ApiError::Internal.into_response(),
    }
}
