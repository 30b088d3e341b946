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
//! `expire_date` has no documented format and is read leniently; a date already past is taken for a
//! misreading and the 30 days apply. A refused token (HTTP 401 or result 94) logs in once more and
//! the call is sent once more. HTTP 400, eSignon's answer to any failure, does the same only for
//! reads: a start, cancel or reminder answered 400 is not sent again (it may have been processed);
//! it fails as indeterminate and the next call logs in afresh. The v2 reads carry the token under
//! both spellings eSignon documents, `Authorization` and `Authentication`.
//!
//! # Call order
//!
//! `start` (5005Q `startsimple`) → `status` (`GET /api/v2/workflows/{id}`, with permanent download
//! and certificate URLs once completed) → `cancel` / dispose / delete (1510Q) or `remind` (1429Q).
//! Progress callbacks (the Export API) are checked by [`receive_export`].
//!
//! # Signing links
//!
//! The 5005A `token` belongs to the API member who started the document: its page signs only while
//! that member is the current signer and otherwise shows the document, so it is never handed out
//! as a signer's link. By default eSignon sends each signer their own link by mail or KakaoTalk.
//! In embed mode ([`EsignonConfig::embed`]) it sends nothing: the start answers the first signer's
//! link ([`WorkflowStarted::signing_url`](bonin_domain::WorkflowStarted)) and each callback the next
//! signer's ([`ExportCallback::next_signer`]).
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
pub use webhook::{ExportCallback, ExportError, NextSigner, authorization_matches, receive_export};
