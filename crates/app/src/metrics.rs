//! Prometheus text metrics, kept by hand: flow counters by provider and outcome, upstream latency
//! histograms, token cache counters, and the event outbox (depth, deliveries by result, events
//! given up).

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use bonin_domain::{ProviderId, TokenCacheStats};

/// A token-cache counter family: name, help text, which counter.
type TokenFamily = (&'static str, &'static str, fn(&TokenCacheStats) -> u64);

const BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Inner {
    started: BTreeMap<&'static str, u64>,
    completed: BTreeMap<&'static str, u64>,
    failed: BTreeMap<(&'static str, &'static str), u64>,
    upstream: BTreeMap<(&'static str, &'static str), Histogram>,
    /// Event deliveries (one endpoint, one attempt) by result.
    deliveries: BTreeMap<&'static str, u64>,
    /// Events dropped after the give-up horizon.
    given_up: u64,
    /// Events waiting in the outbox, as last counted by the deliverer (`None`: never counted).
    outbox_depth: Option<u64>,
}

/// The metrics registry of one service.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A verification was started.
    pub fn started(&self, provider: ProviderId) {
        *self.lock().started.entry(provider.as_str()).or_default() += 1;
    }

    /// A verification reached `verified`.
    pub fn completed(&self, provider: ProviderId) {
        *self.lock().completed.entry(provider.as_str()).or_default() += 1;
    }

    /// A step failed with `code`.
    pub fn failed(&self, provider: ProviderId, code: &'static str) {
        *self.lock().failed.entry((provider.as_str(), code)).or_default() += 1;
    }

    /// One upstream operation (`start`, `complete`, `send`, …) took `elapsed`.
    pub fn upstream(&self, provider: ProviderId, operation: &'static str, elapsed: Duration) {
        self.lock().upstream.entry((provider.as_str(), operation)).or_default().observe(elapsed.as_secs_f64());
    }

    /// One event delivery attempt to one endpoint ended with `result` (`delivered`, `failed`).
    pub fn event_delivery(&self, result: &'static str) {
        *self.lock().deliveries.entry(result).or_default() += 1;
    }

    /// An event was dropped after the give-up horizon.
    pub fn event_given_up(&self) {
        self.lock().given_up += 1;
    }

    /// The outbox holds `depth` events.
    pub fn outbox_depth(&self, depth: u64) {
        self.lock().outbox_depth = Some(depth);
    }

    /// The text exposition, with the token caches' counters.
    pub fn render(&self, tokens: &[(ProviderId, TokenCacheStats)]) -> String {
        let inner = self.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP bonin_flows_started_total Verifications started.\n# TYPE bonin_flows_started_total counter"
        );
        for (provider, n) in &inner.started {
            let _ = writeln!(out, "bonin_flows_started_total{{provider=\"{provider}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP bonin_flows_completed_total Verifications verified.\n# TYPE bonin_flows_completed_total counter"
        );
        for (provider, n) in &inner.completed {
            let _ = writeln!(out, "bonin_flows_completed_total{{provider=\"{provider}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP bonin_flows_failed_total Failed steps by error code.\n# TYPE bonin_flows_failed_total counter"
        );
        for ((provider, code), n) in &inner.failed {
            let _ = writeln!(out, "bonin_flows_failed_total{{provider=\"{provider}\",code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP bonin_upstream_seconds Provider operation latency.\n# TYPE bonin_upstream_seconds histogram"
        );
        for ((provider, operation), h) in &inner.upstream {
            let labels = format!("provider=\"{provider}\",operation=\"{operation}\"");
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(out, "bonin_upstream_seconds_bucket{{{labels},le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "bonin_upstream_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "bonin_upstream_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "bonin_upstream_seconds_count{{{labels}}} {}", h.count);
        }
        let token_families: [TokenFamily; 4] = [
            ("bonin_token_cache_hits_total", "Token requests answered from the cache.", |s| s.hits),
            ("bonin_token_cache_misses_total", "Upstream token fetches (refreshes).", |s| s.fetches),
            ("bonin_token_cache_failures_total", "Failed upstream token fetches.", |s| s.failures),
            (
                "bonin_token_cache_rejected_total",
                "Tokens the provider refused before their time, each forcing a refresh.",
                |s| s.rejected,
            ),
        ];
        for (name, help, value) in token_families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (provider, stats) in tokens {
                let _ = writeln!(out, "{name}{{provider=\"{provider}\"}} {}", value(stats));
            }
        }
        if let Some(depth) = inner.outbox_depth {
            let _ = writeln!(
                out,
                "# HELP bonin_events_outbox_depth Events waiting in the outbox for delivery.\n# TYPE bonin_events_outbox_depth gauge\nbonin_events_outbox_depth {depth}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP bonin_events_deliveries_total Event delivery attempts (one endpoint each) by result.\n# TYPE bonin_events_deliveries_total counter"
        );
        for (result, n) in &inner.deliveries {
            let _ = writeln!(out, "bonin_events_deliveries_total{{result=\"{result}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP bonin_events_given_up_total Events dropped undelivered after the give-up horizon.\n# TYPE bonin_events_given_up_total counter\nbonin_events_given_up_total {}",
            inner.given_up
        );
        out
    }
}

impl bonin_domain::ServiceObserver for Metrics {
    fn started(&self, provider: ProviderId) {
        Metrics::started(self, provider);
    }
    fn completed(&self, provider: ProviderId) {
        Metrics::completed(self, provider);
    }
    fn failed(&self, provider: ProviderId, code: &'static str) {
        Metrics::failed(self, provider, code);
    }
    fn upstream(&self, provider: ProviderId, operation: &'static str, elapsed: Duration) {
        Metrics::upstream(self, provider, operation, elapsed);
    }
    fn export(&self, tokens: &[(ProviderId, TokenCacheStats)]) -> Option<String> {
        Some(self.render(tokens))
    }
}
