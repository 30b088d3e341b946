//! Standard Webhooks (<https://www.standardwebhooks.com>): signing and verification, one
//! implementation for both directions. PortOne signs its V2 payment webhooks this way (the PortOne
//! adapter re-exports [`WebhookVerifier`]), and `bonin serve` signs the events it sends to the host
//! application with [`WebhookVerifier::sign`].
//!
//! The signature is `v1,` + Base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")),
//! where the key is the Base64 text after the secret's `whsec_` prefix.
//!
//! Call order when receiving: keep the **raw** request body (never re-serialized JSON) → [`WebhookVerifier::verify`]
//! with the request's headers and the current time → only then parse `{type, timestamp, data}`,
//! ignoring unknown types and fields.
//!
//! ```
//! use bonin_adapters_http::standard_webhooks::WebhookVerifier;
//!
//! let verifier = WebhookVerifier::new("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=").unwrap();
//! let body = br#"{"type":"Transaction.Paid","timestamp":"2026-11-23T00:00:00Z","data":{}}"#;
//! let now = time::OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
//! let signature = verifier.sign("msg_1", 1_795_000_000, body);
//! let headers = [("webhook-id", "msg_1"), ("webhook-timestamp", "1795000000"), ("webhook-signature", signature.as_str())];
//! assert!(verifier.verify(headers, body, now).is_ok());
//! assert!(verifier.verify(headers, b"{}", now).is_err());
//! ```

use std::fmt;

use aws_lc_rs::hmac;
use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use bonin_domain::Timestamp;

/// How far a `webhook-timestamp` may be from now, either way.
pub const TOLERANCE_SECS: i64 = 300;

/// The shortest key [`WebhookVerifier::for_signing`] accepts, in bytes.
pub const MIN_SIGNING_KEY_BYTES: usize = 24;

/// Base64 read with or without its `=` padding, as PortOne's SDKs read secrets and signatures
/// (JavaScript `atob`, Java's `Base64.getDecoder()`).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a webhook was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// `webhook-id`, `webhook-timestamp` or `webhook-signature` is missing (or repeated).
    #[error("webhook-id, webhook-timestamp or webhook-signature is missing or repeated")]
    MissingHeaders,
    /// The secret is empty or not Base64 (after an optional `whsec_` prefix; padding optional).
    #[error("the webhook secret is empty or not Base64")]
    InvalidSecret,
    /// `webhook-timestamp` is not a number.
    #[error("webhook-timestamp is not a number")]
    InvalidTimestamp,
    /// The timestamp is more than five minutes old.
    #[error("webhook-timestamp is more than five minutes old")]
    TimestampTooOld,
    /// The timestamp is more than five minutes in the future.
    #[error("webhook-timestamp is more than five minutes in the future")]
    TimestampTooNew,
    /// No `v1` signature matches.
    #[error("no v1 signature matches the body")]
    InvalidSignature,
}

/// Verifies Standard Webhooks signatures with one secret. `Debug` never shows the key.
#[derive(Clone)]
pub struct WebhookVerifier {
    key: hmac::Key,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookVerifier(<secret>)")
    }
}

impl WebhookVerifier {
    /// A verifier for the secret as the console shows it, with or without the `whsec_` prefix and
    /// with or without Base64 padding.
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        let key = LENIENT.decode(encoded).map_err(|_| WebhookError::InvalidSecret)?;
        if key.is_empty() {
            return Err(WebhookError::InvalidSecret);
        }
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, &key) })
    }

    /// A signer for a secret bonin signs its own events with, held to what every receiver's
    /// library reads: `whsec_`, then padded Base64 of at least [`MIN_SIGNING_KEY_BYTES`] bytes
    /// (the Standard Webhooks recommendation; `openssl rand -base64 32` makes one). Receiving keeps
    /// [`WebhookVerifier::new`]'s leniency, since providers' consoles show their secrets variously.
    pub fn for_signing(secret: &str) -> Result<Self, WebhookError> {
        let encoded = secret.strip_prefix("whsec_").ok_or(WebhookError::InvalidSecret)?;
        let key = STANDARD.decode(encoded).map_err(|_| WebhookError::InvalidSecret)?;
        if key.len() < MIN_SIGNING_KEY_BYTES {
            return Err(WebhookError::InvalidSecret);
        }
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, &key) })
    }

    /// The `webhook-signature` value (`v1,<base64>`) for a message with this id, Unix timestamp and
    /// raw body.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(hmac::sign(&self.key, &signed_content(id, &timestamp.to_string(), body))))
    }

    /// Checks the headers (names matched case-insensitively) against the raw `body` at `now`.
    /// Every signature comparison is constant-time.
    pub fn verify<I, K, V>(&self, headers: I, body: &[u8], now: Timestamp) -> Result<(), WebhookError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut id = None;
        let mut timestamp = None;
        let mut signatures = None;
        let mut repeated = false;
        for (name, value) in headers {
            let slot = match name.as_ref().to_ascii_lowercase().as_str() {
                "webhook-id" => &mut id,
                "webhook-timestamp" => &mut timestamp,
                "webhook-signature" => &mut signatures,
                _ => continue,
            };
            repeated |= slot.is_some();
            *slot = Some(value.as_ref().to_owned());
        }
        let (Some(id), Some(timestamp), Some(signatures), false) = (id, timestamp, signatures, repeated) else {
            return Err(WebhookError::MissingHeaders);
        };
        let seconds: i64 = timestamp.trim().parse().map_err(|_| WebhookError::InvalidTimestamp)?;
        let now = now.unix_timestamp();
        // Saturating: a timestamp at either end of i64 is simply far off, not an overflow.
        if now.saturating_sub(seconds) > TOLERANCE_SECS {
            return Err(WebhookError::TimestampTooOld);
        }
        if seconds.saturating_sub(now) > TOLERANCE_SECS {
            return Err(WebhookError::TimestampTooNew);
        }
        let content = signed_content(&id, timestamp.trim(), body);
        let matched = signatures
            .split(' ')
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, signature)| LENIENT.decode(signature).ok())
            .any(|tag| hmac::verify(&self.key, &content, &tag).is_ok());
        if matched { Ok(()) } else { Err(WebhookError::InvalidSignature) }
    }
}

fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=";

    fn at(seconds: i64) -> Timestamp {
        time::OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    #[test]
    fn accepts_with_or_without_prefix_and_among_several_signatures() {
        let signer = WebhookVerifier::new(SECRET).unwrap();
        let bare = WebhookVerifier::new(SECRET.trim_start_matches("whsec_")).unwrap();
        let body = b"{\"type\":\"Transaction.Paid\"}";
        let good = signer.sign("msg_1", 1000, body);
        let header = format!("v1,AAAA v2,zzzz {good}");
        let headers = [("Webhook-Id", "msg_1"), ("WEBHOOK-TIMESTAMP", "1000"), ("webhook-signature", header.as_str())];
        assert_eq!(bare.verify(headers, body, at(1100)), Ok(()));
    }

    #[test]
    fn refuses_every_kind_of_bad_message() {
        let verifier = WebhookVerifier::new(SECRET).unwrap();
        let body = b"{}";
        let sig = verifier.sign("msg_1", 1000, body);
        let ok = |id: &'static str, ts: &'static str| vec![("webhook-id", id), ("webhook-timestamp", ts)];
        let with_sig = |mut h: Vec<(&'static str, &'static str)>, s: &'static str| {
            h.push(("webhook-signature", s));
            h
        };
        let sig: &'static str = Box::leak(sig.into_boxed_str());
        assert_eq!(verifier.verify(ok("msg_1", "1000"), body, at(1000)), Err(WebhookError::MissingHeaders));
        let mut twice = with_sig(ok("msg_1", "1000"), sig);
        twice.push(("webhook-id", "msg_2"));
        assert_eq!(verifier.verify(twice, body, at(1000)), Err(WebhookError::MissingHeaders));
        assert_eq!(
            verifier.verify(with_sig(ok("msg_1", "x"), sig), body, at(1000)),
            Err(WebhookError::InvalidTimestamp)
        );
        assert_eq!(
            verifier.verify(with_sig(ok("msg_1", "1000"), sig), body, at(1301)),
            Err(WebhookError::TimestampTooOld)
        );
        assert_eq!(
            verifier.verify(with_sig(ok("msg_1", "1000"), sig), body, at(699)),
            Err(WebhookError::TimestampTooNew)
        );
        assert_eq!(verifier.verify(with_sig(ok("msg_1", "1000"), sig), body, at(1300)), Ok(()));
        assert_eq!(
            verifier.verify(with_sig(ok("msg_2", "1000"), sig), body, at(1000)),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(
            verifier.verify(with_sig(ok("msg_1", "1000"), sig), b"{ }", at(1000)),
            Err(WebhookError::InvalidSignature)
        );
        let v2_only: &'static str = Box::leak(sig.replacen("v1,", "v2,", 1).into_boxed_str());
        assert_eq!(
            verifier.verify(with_sig(ok("msg_1", "1000"), v2_only), body, at(1000)),
            Err(WebhookError::InvalidSignature)
        );
        let other = WebhookVerifier::new("b3RoZXI=").unwrap();
        assert_eq!(
            other.verify(with_sig(ok("msg_1", "1000"), sig), body, at(1000)),
            Err(WebhookError::InvalidSignature)
        );
        assert_eq!(WebhookVerifier::new("whsec_").unwrap_err(), WebhookError::InvalidSecret);
        assert_eq!(WebhookVerifier::new("not base64!").unwrap_err(), WebhookError::InvalidSecret);
        assert_eq!(format!("{verifier:?}"), "WebhookVerifier(<secret>)");
    }

    #[test]
    fn signing_keys_are_whsec_padded_base64_of_at_least_24_bytes() {
        let key24 = STANDARD.encode([7u8; 24]);
        assert!(WebhookVerifier::for_signing(&format!("whsec_{key24}")).is_ok());
        let key23 = STANDARD.encode([7u8; 23]);
        let key25 = STANDARD.encode([7u8; 25]);
        for refused in [
            "whsec_".to_owned(),
            "whsec_QQ==".to_owned(),
            format!("whsec_{key23}"),
            format!("whsec_{}", key25.trim_end_matches('=')),
            key24.clone(),
            format!(" whsec_{key24}"),
        ] {
            assert_eq!(WebhookVerifier::for_signing(&refused).unwrap_err(), WebhookError::InvalidSecret, "{refused}");
        }
        // What it signs, the lenient reader of the same secret verifies.
        let signer = WebhookVerifier::for_signing(&format!("whsec_{key24}")).unwrap();
        let signature = signer.sign("msg_1", 1000, b"{}");
        let headers =
            [("webhook-id", "msg_1"), ("webhook-timestamp", "1000"), ("webhook-signature", signature.as_str())];
        assert_eq!(WebhookVerifier::new(&key24).unwrap().verify(headers, b"{}", at(1000)), Ok(()));
    }

    #[test]
    fn accepts_secrets_and_signatures_without_base64_padding() {
        // 22 bytes: the Base64 text ends in "==".
        let padded = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMxMg==";
        let unpadded = padded.trim_end_matches('=');
        let bare = unpadded.trim_start_matches("whsec_");
        let signer = WebhookVerifier::new(padded).unwrap();
        let body = b"{}";
        let signature = signer.sign("msg_1", 1000, body);
        for secret in [unpadded, bare] {
            let verifier = WebhookVerifier::new(secret).unwrap();
            let headers =
                [("webhook-id", "msg_1"), ("webhook-timestamp", "1000"), ("webhook-signature", signature.as_str())];
            assert_eq!(verifier.verify(headers, body, at(1000)), Ok(()), "{secret}");
        }
        // A signature sent without its padding matches too.
        let trimmed = signature.trim_end_matches('=');
        assert_ne!(trimmed, signature);
        let headers = [("webhook-id", "msg_1"), ("webhook-timestamp", "1000"), ("webhook-signature", trimmed)];
        assert_eq!(signer.verify(headers, body, at(1000)), Ok(()));
        // Still Base64: one character past a full group, or characters outside the alphabet, are not.
        assert_eq!(WebhookVerifier::new("whsec_c2VjcmV0L").unwrap_err(), WebhookError::InvalidSecret);
        assert_eq!(WebhookVerifier::new("whsec_c2Vj*mV0").unwrap_err(), WebhookError::InvalidSecret);
    }
}
