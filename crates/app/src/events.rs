//! Signed events to the host application: the deliverer that empties the store's outbox.
//!
//! Events are written to the outbox by the verification service in the same store write as the
//! state change that causes them, and by the signing callback (`signing.*`); see
//! [`bonin_domain::events`] for what is guaranteed. This module sends them:
//!
//! - **One deliverer per cluster.** Every second each instance asks the store for the lease
//!   [`DELIVERER_LEASE`] (held for `events.lease_secs`, renewed by its holder each round and every
//!   third of the lease during a long round); only the holder claims events. Leases are timed by
//!   the instances' clocks, which must agree (NTP) to well within `lease_secs`. An instance killed mid-round loses the lease when it lapses, and its
//!   claimed events become claimable again when their claims lapse.
//! - **At least once, one id.** An event is removed only once every endpoint answered 2xx (or at
//!   the give-up horizon); a crash after a 2xx but before that sends it again with the same
//!   `webhook-id`. Per-endpoint progress is kept with the event, so an endpoint that took it is not
//!   sent it again when another endpoint fails.
//! - **Backoff.** A failed round is retried after `retry_base_ms × 2^(attempts-1)`, capped at
//!   `retry_max_secs`, with random jitter (between half and all of the wait). An event older than
//!   `give_up_after_secs` is dropped, counted and logged by id.
//! - **Each POST** has `events.timeout_secs`; redirects are not followed; only 2xx counts.
//!
//! The body is the Standard Webhooks shape `{"type", "timestamp", "data"}` with ids and statuses
//! only; the headers are `webhook-id` (the event id), `webhook-timestamp` (this attempt, Unix
//! seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bonin_adapters_http::{
    HttpConfig, HttpRequest, HttpTransport, ReqwestTransport, standard_webhooks::WebhookVerifier,
};
use bonin_domain::{
    Clock, Error, EventData, ExposeSecret, Outbox, OutboxEvent, Rng, Timestamp, VerificationId,
    events::generate_event_id,
};
use serde::Serialize;

use crate::{config::EventsConfig, metrics::Metrics, service::VerificationService};

/// The name of the store lease the delivering instance holds.
pub const DELIVERER_LEASE: &str = "bonin.events.deliverer";

/// Events claimed per round.
const BATCH: usize = 32;

/// How often the deliverer looks for due events (and renews its lease).
const TICK: Duration = Duration::from_secs(1);

/// One endpoint: where, and the key its events are signed with. `Debug` shows the URL's origin.
#[derive(Clone)]
pub struct Endpoint {
    url: String,
    /// What the outbox records once this endpoint took an event: a digest of the URL, never the
    /// URL (which may carry a token) itself.
    key: String,
    signer: WebhookVerifier,
}

/// The key an endpoint's deliveries are recorded under: `ep_` and 16 hex digits of the URL's SHA-256.
fn endpoint_key(url: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, url.as_bytes());
    let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("ep_{hex}")
}

/// Bytes taken from a digest, for ids derived from content rather than drawn at random.
struct DigestBytes(aws_lc_rs::digest::Digest);

impl std::fmt::Debug for DigestBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestBytes")
    }
}

impl Rng for DigestBytes {
    fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), Error> {
        let bytes = self.0.as_ref();
        if dest.len() > bytes.len() {
            return Err(Error::Indeterminate {
                dependency: bonin_domain::Dependency::System,
                reason: "an id longer than its digest".into(),
            });
        }
        dest.copy_from_slice(&bytes[..dest.len()]);
        Ok(())
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &crate::config::redact_endpoint(&self.url)).finish_non_exhaustive()
    }
}

/// The body of an event as posted.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    timestamp: Timestamp,
    data: &'a EventData,
}

/// The exact bytes posted for `event` (the same on every retry).
pub fn body_of(event: &OutboxEvent) -> Vec<u8> {
    let body = Body { event_type: &event.event_type, timestamp: event.occurred_at, data: &event.data };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The wait before attempt `attempts + 1`: `base × 2^(attempts-1)` capped at `max`, then a random
/// point between half of it and all of it.
pub fn backoff(attempts: u32, base: Duration, max: Duration, rng: &dyn Rng) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exponent).min(max);
    let mut byte = [0u8; 1];
    let fraction = if rng.fill_bytes(&mut byte).is_ok() { f64::from(byte[0]) / 255.0 } else { 1.0 };
    full.mul_f64(0.5 + 0.5 * fraction)
}

/// What the deliverer needs.
pub struct Deliverer {
    outbox: Arc<dyn Outbox>,
    service: Arc<VerificationService>,
    endpoints: Vec<Endpoint>,
    client: Arc<dyn HttpTransport>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
    metrics: Arc<Metrics>,
    /// This instance's name in leases and claims (random per process).
    holder: String,
    give_up_after: Duration,
    retry_base: Duration,
    retry_max: Duration,
    lease: Duration,
    claim_lease: Duration,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("endpoints", &self.endpoints)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// A deliverer for `config`'s endpoints (`None` when there are none).
    pub fn new(
        config: &EventsConfig,
        outbox: Arc<dyn Outbox>,
        service: Arc<VerificationService>,
        rng: Arc<dyn Rng>,
        metrics: Arc<Metrics>,
        allow_insecure_http: bool,
    ) -> Result<Option<Self>, Error> {
        if config.endpoints.is_empty() {
            return Ok(None);
        }
        let endpoints = config
            .endpoints
            .iter()
            .map(|e| {
                let signer = WebhookVerifier::for_signing(e.secret.expose_secret()).map_err(|_| {
                    Error::misconfigured("events.endpoints: a secret is not whsec_ + padded Base64 of 24 bytes or more")
                })?;
                Ok(Endpoint { url: e.url.clone(), key: endpoint_key(&e.url), signer })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let timeout = Duration::from_secs(config.timeout_secs);
        // The shared client: TLS >= 1.2, no redirects, only the status read (a receiver's large
        // 2xx body is still a delivery). Plain http:// to another host only where the
        // configuration allowed it (the sandbox profile).
        let client = Arc::new(ReqwestTransport::new(
            &HttpConfig::default()
                .with_connect_timeout(timeout)
                .with_timeout(timeout)
                .with_status_only(true)
                .with_allow_insecure_http(allow_insecure_http),
        )?);
        let holder = format!("instance-{}", generate_event_id(rng.as_ref())?.trim_start_matches("evt_"));
        let lease = Duration::from_secs(config.lease_secs);
        // A claim outlives the slowest round of one event (every endpoint timing out) with a lease's margin.
        let claim_lease = timeout.saturating_mul(u32::try_from(endpoints.len()).unwrap_or(u32::MAX)) + lease;
        Ok(Some(Self {
            outbox,
            clock: service.clock(),
            service,
            endpoints,
            client,
            rng,
            metrics,
            holder,
            give_up_after: Duration::from_secs(config.give_up_after_secs),
            retry_base: Duration::from_millis(config.retry_base_ms),
            retry_max: Duration::from_secs(config.retry_max_secs),
            lease,
            claim_lease,
        }))
    }

    /// Delivers until `stop` is set (checked between rounds).
    pub async fn run(self: Arc<Self>, stop: Arc<AtomicBool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            // A full batch may mean a backlog: the next round starts at once.
            loop {
                match self.round().await {
                    Ok(handled) if handled == BATCH && !stop.load(Ordering::Relaxed) => {}
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(%error, "event delivery round failed; retrying");
                        break;
                    }
                }
            }
        }
        // A clean stop hands delivery over at once rather than after the lease lapses.
        if let Err(error) = self.outbox.release_lease(DELIVERER_LEASE, &self.holder).await {
            tracing::info!(%error, "the delivery lease could not be released; it lapses instead");
        }
    }

    /// One round: renew or take the lease; if held, claim due events and deliver them. Returns how
    /// many events were handled.
    pub async fn round(&self) -> Result<usize, bonin_domain::StoreError> {
        if let Ok(depth) = self.outbox.depth().await {
            self.metrics.outbox_depth(depth);
        }
        if !self.outbox.hold_lease(DELIVERER_LEASE, &self.holder, self.lease).await? {
            return Ok(0);
        }
        let claimed = self.outbox.claim(&self.holder, BATCH, self.claim_lease).await?;
        let handled = claimed.len();
        let deliveries = futures::future::join_all(claimed.into_iter().map(|event| self.handle(event)));
        // The lease is renewed while the round runs (a third of its time apart), so that a round
        // longer than the lease (endpoints timing out) does not let another instance take over.
        // The renewals run beside the deliveries, never holding them up.
        let period = (self.lease / 3).max(Duration::from_millis(100));
        let renewals = async {
            let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                renew.tick().await;
                match self.outbox.hold_lease(DELIVERER_LEASE, &self.holder, self.lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(
                        "the delivery lease was taken over during a round; its claimed events are finished"
                    ),
                    Err(error) => tracing::warn!(%error, "the delivery lease could not be renewed during a round"),
                }
            }
        };
        tokio::select! {
            _ = deliveries => {}
            _ = renewals => {}
        }
        Ok(handled)
    }

    async fn handle(&self, event: OutboxEvent) {
        if event.is_internal() {
            return self.check_expiry(event).await;
        }
        let mut event = event;
        let body = body_of(&event);
        for endpoint in &self.endpoints {
            if event.delivered_to.contains(&endpoint.key) {
                continue;
            }
            if self.post(endpoint, &event, &body).await {
                self.metrics.event_delivery("delivered");
                event.delivered_to.push(endpoint.key.clone());
            } else {
                self.metrics.event_delivery("failed");
            }
        }
        let now = self.clock.now();
        if self.endpoints.iter().all(|e| event.delivered_to.contains(&e.key)) {
            self.settle(&event.id).await;
            return;
        }
        if now - event.occurred_at >= self.give_up_after {
            let missing = self.endpoints.iter().filter(|e| !event.delivered_to.contains(&e.key)).count();
            tracing::warn!(event_id = %event.id, event_type = %event.event_type, attempts = event.attempts + 1,
                endpoints_missing = missing, "an event was given up after the give-up horizon");
            self.metrics.event_given_up();
            self.settle(&event.id).await;
            return;
        }
        event.attempts += 1;
        event.due_at = now + backoff(event.attempts, self.retry_base, self.retry_max, self.rng.as_ref());
        self.reschedule(&event).await;
    }

    /// One POST; `true` on 2xx.
    async fn post(&self, endpoint: &Endpoint, event: &OutboxEvent, body: &[u8]) -> bool {
        let timestamp = self.clock.now().unix_timestamp();
        let signature = endpoint.signer.sign(&event.id, timestamp, body);
        let request = HttpRequest::post("events.deliver", endpoint.url.clone())
            .header("Content-Type", "application/json")
            .header("webhook-id", event.id.clone())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec());
        match self.client.execute(&request).await {
            Ok(response) if (200..300).contains(&response.status) => true,
            Ok(response) => {
                tracing::info!(event_id = %event.id, status = response.status,
                    endpoint = %origin(&endpoint.url), "an endpoint refused an event");
                false
            }
            Err(error) => {
                tracing::info!(event_id = %event.id, %error,
                    endpoint = %origin(&endpoint.url), "an event could not be delivered");
                false
            }
        }
    }

    /// An expiry check fell due: expire the verification if it is still open.
    async fn check_expiry(&self, mut event: OutboxEvent) {
        let id = event.data.verification_id.as_deref().map(VerificationId::parse);
        let outcome = match id {
            Some(Ok(id)) => self.service.expire_if_due(&id).await,
            _ => Ok(true),
        };
        match outcome {
            Ok(true) => self.settle(&event.id).await,
            // Within the grace after the deadline, or a held result not written yet: look again
            // in a third of the grace (at least `retry_base`).
            Ok(false) => {
                event.due_at = self.clock.now() + self.retry_base.max(bonin_domain::EXPIRY_GRACE / 3);
                self.reschedule(&event).await;
            }
            Err(error) => {
                event.attempts += 1;
                event.due_at =
                    self.clock.now() + backoff(event.attempts, self.retry_base, self.retry_max, self.rng.as_ref());
                tracing::warn!(event_id = %event.id, code = error.code().as_str(), "an expiry check failed; retrying");
                self.reschedule(&event).await;
            }
        }
    }

    async fn settle(&self, id: &str) {
        match self.outbox.remove(id, &self.holder).await {
            Ok(true) => {}
            // The claim lapsed and another instance holds the event now: it delivers it again.
            Ok(false) => tracing::info!(event_id = %id, "an event's claim was taken over before it was settled"),
            Err(error) => {
                tracing::warn!(event_id = %id, %error, "a delivered event could not be removed; it is sent again")
            }
        }
    }

    async fn reschedule(&self, event: &OutboxEvent) {
        if let Err(error) = self.outbox.reschedule(event, &self.holder).await {
            tracing::warn!(event_id = %event.id, %error, "an event could not be rescheduled; its claim lapses");
        }
    }
}

/// `scheme://host[:port]` of a URL, for logs (a path or query may carry a token).
fn origin(url: &str) -> String {
    crate::config::origin_of(url).unwrap_or_else(|| "<unreadable>".to_owned())
}

/// Writes `signing.*` events for the signing callback.
#[derive(Clone)]
pub struct SigningEventSink {
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SigningEventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningEventSink")
    }
}

impl SigningEventSink {
    /// A sink writing to `outbox`.
    pub fn new(outbox: Arc<dyn Outbox>, clock: Arc<dyn Clock>) -> Self {
        Self { outbox, clock }
    }

    /// Writes `signing.<status>` for a workflow (an unusual status label becomes `signing.updated`,
    /// with the label in `data.status`), from the provider's `callback` as received.
    ///
    /// The event id is derived from the callback (a SHA-256 of the provider, the workflow, the
    /// status and the callback's JSON `body` member, its keys sorted and spacing dropped), so a
    /// callback the provider sends again (after an error answer, or an answer it did not receive)
    /// is the same event under the same `webhook-id`: the outbox keeps one while it is pending, and
    /// a receiver that deduplicates on the id drops a copy that arrives after the first was
    /// delivered.
    pub async fn progressed(
        &self,
        provider: &str,
        workflow_id: &str,
        status: &str,
        callback: &[u8],
    ) -> Result<(), Error> {
        let plain = !status.is_empty() && status.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let event_type = if plain { format!("signing.{status}") } else { "signing.updated".to_owned() };
        let data = EventData::signing(provider, Some(format!("{provider}-{workflow_id}")), workflow_id, status);
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in [b"bonin signing event".as_slice(), provider.as_bytes(), workflow_id.as_bytes(), status.as_bytes()]
        {
            digest.update(&(part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        digest.update(&identity_of(callback));
        let id = generate_event_id(&DigestBytes(digest.finish()))?;
        let event = OutboxEvent::new(id, event_type, data, self.clock.now());
        self.outbox.enqueue(&[event]).await.map_err(Error::from)
    }
}

/// What identifies a signing callback: its JSON `body` member (the legacy shape's `header` carries
/// a per-delivery session id) or else the whole JSON, written canonically (keys sorted, no spaces),
/// so that a re-sent callback whose members come in another order or spacing is the same event;
/// the raw bytes when it is not JSON.
fn identity_of(callback: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(callback) {
        Ok(value) => {
            let part = value.get("body").filter(|b| b.is_object()).unwrap_or(&value);
            serde_json::to_vec(part).unwrap_or_else(|_| callback.to_vec())
        }
        Err(_) => callback.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_callback_is_identified_by_its_body_in_canonical_form() {
        let first = br#"{"header":{"session_id":"s1","request_code":"export"},"body":{"wfuid":"7","status":"Complete","actionid":"3"}}"#;
        let resent =
            br#"{ "body": {"actionid": "3", "status": "Complete", "wfuid": "7"}, "header": {"session_id": "s2"} }"#;
        let next = br#"{"header":{"session_id":"s1"},"body":{"wfuid":"7","status":"Complete","actionid":"4"}}"#;
        assert_eq!(identity_of(first), identity_of(resent));
        assert_ne!(identity_of(first), identity_of(next));
        let flat = br#"{"workflow_id": 7, "client_id": "x"}"#;
        assert_eq!(identity_of(flat), identity_of(br#"{"client_id":"x","workflow_id":7}"#));
        assert_eq!(identity_of(b"not json"), b"not json".to_vec());
    }

    /// Fills every byte with one value.
    #[derive(Debug)]
    struct Fixed(u8);

    impl Rng for Fixed {
        fn fill_bytes(&self, dest: &mut [u8]) -> Result<(), Error> {
            dest.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_the_cap() {
        let base = Duration::from_millis(1000);
        let max = Duration::from_secs(60);
        for (attempts, full) in [(1u32, 1000u64), (2, 2000), (3, 4000), (7, 60_000), (40, 60_000)] {
            for byte in [0u8, 128, 255] {
                let wait = backoff(attempts, base, max, &Fixed(byte));
                assert!(wait >= Duration::from_millis(full / 2), "{attempts}: {wait:?}");
                assert!(wait <= Duration::from_millis(full), "{attempts}: {wait:?}");
            }
        }
    }
}
