//! Standard Webhooks verification, as PortOne signs its V2 payment and billing-key webhooks.
//!
//! PortOne sends no identity-verification webhooks; this is for services that also receive its
//! payment webhooks. The implementation is the shared one in
//! [`bonin_adapters_http::standard_webhooks`], which `bonin serve` also signs its events with.
//!
//! Call order: keep the **raw** request body (never re-serialized JSON) → [`WebhookVerifier::verify`]
//! with the request's headers and the current time → only then parse `{type, timestamp, data}`,
//! ignoring unknown types and fields.
//!
//! ```
//! use bonin_adapters_portone::WebhookVerifier;
//!
//! let verifier = WebhookVerifier::new("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=").unwrap();
//! let body = br#"{"type":"Transaction.Paid","timestamp":"2026-11-23T00:00:00Z","data":{}}"#;
//! let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
//! let signature = verifier.sign("msg_1", 1_795_000_000, body);
//! let headers = [("webhook-id", "msg_1"), ("webhook-timestamp", "1795000000"), ("webhook-signature", signature.as_str())];
//! assert!(verifier.verify(headers, body, now).is_ok());
//! assert!(verifier.verify(headers, b"{}", now).is_err());
//! ```

pub use bonin_adapters_http::standard_webhooks::{TOLERANCE_SECS, WebhookError, WebhookVerifier};
