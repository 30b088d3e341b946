//! The memory store against the conformance suite, on a manual clock.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use bonin_adapters_store::{MemoryStore, conformance::Harness};
use bonin_domain::{Clock, ManualClock, SessionStore};

struct MemoryHarness {
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

fn harness() -> MemoryHarness {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    MemoryHarness { store: Arc::new(MemoryStore::with_clock(clock.clone())), clock }
}

#[async_trait::async_trait]
impl Harness for MemoryHarness {
    fn store(&self) -> Arc<dyn SessionStore> {
        self.store.clone()
    }
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
    async fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }
}

bonin_adapters_store::store_conformance_tests!(harness());

#[tokio::test]
async fn expired_records_are_purged_and_their_keys_dropped() {
    use bonin_domain::{
        FlowRules, Method, OsRng, ProviderId, ProviderKey, ProviderState, Verification, VerificationId,
    };
    let h = harness();
    let make = |key: &str| {
        Verification::start(
            VerificationId::generate(&OsRng).unwrap(),
            ProviderId::Nice,
            Method::Window,
            FlowRules::nice(),
            h.clock.now(),
        )
        .with_provider_session(Some(ProviderKey::new(ProviderId::Nice, key)), ProviderState::new("s"), None)
    };
    for key in ["a", "b", "c"] {
        h.store.create(&make(key), Duration::from_secs(60)).await.unwrap();
    }
    let survivor = make("d");
    h.store.create(&survivor, Duration::from_secs(600)).await.unwrap();
    h.clock.advance(Duration::from_secs(60));
    assert_eq!(h.store.purge_expired(), 3);
    assert_eq!(h.store.len(), 1);
    assert!(h.store.get(survivor.id()).await.unwrap().is_some());
}
