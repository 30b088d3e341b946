//! The verification service lives in `bonin-domain` ([`bonin_domain::service`]), pure over its
//! ports, so embedders get every guarantee `bonin serve` has. This module re-exports it for the
//! app's own modules.

pub use bonin_domain::service::*;
