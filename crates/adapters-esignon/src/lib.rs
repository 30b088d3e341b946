//! eSignon (이싸인온) for bonin: contracts started from templates and signed online, behind
//! eSignon's member-login token.
//!
//! [`EsignonClient`] implements [`SigningWorkflows`](bonin_domain::SigningWorkflows).
//!
//! # Token
//!
//! `POST /api/{companyId}/login` (1001Q) with the member's email and password gives a token sent as
//! `Authorization: esignon <token>` on every later call. bonin holds one token per (company,
//! member) in the single-flight cache (shared between instances with `store.share_tokens`), ends it
//! at `min(expire_date, login + 30 days)` and replaces it a day early (`token_margin_secs`).
//! `expire_date` has no documented format and is read leniently. A refused-looking token (HTTP
//! 400/401 or result 94) logs in once more and the call is sent once more.
//!
//! # Call order
//!
//! `start` (5005Q `startsimple`; the answer's token opens the first signer's page) → `status`
//! (`GET /api/v2/workflows/{id}`, with permanent download and certificate URLs once completed) →
//! `cancel` / dispose / delete (1510Q) or `remind` (1429Q). Progress callbacks (the Export API) are
//! checked by [`receive_export`].
//!
//! Result codes differ per endpoint; the tables are generated from
//! `docs/providers/esignon/result-codes.tsv` ([`codes`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod codes;
#[rustfmt::skip]
mod codes_generated;
mod config;
mod webhook;

pub use client::{EsignonClient, MAX_TOKEN_LIFETIME, TokenExpiry, parse_expire_date, workflow_status};
pub use config::EsignonConfig;
pub use webhook::{ExportCallback, ExportError, receive_export};
