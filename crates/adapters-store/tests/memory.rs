//! The memory store against the conformance suite, on a manual clock.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::{sync::Arc, time::Duration};

use bonin_adapters_store::MemoryStore;
use bonin_domain::{Clock, SessionStore};
use support::{ManualHarness, manual_clock};

/// The suite's harness plus the concrete store, for the purge check.
struct MemoryHarness {
    inner: ManualHarness,
    store: Arc<MemoryStore>,
}

impl std::ops::Deref for MemoryHarness {
    type Target = ManualHarness;
    fn deref(&self) -> &ManualHarness {
        &self.inner
    }
}

fn harness() -> MemoryHarness {
    let clock = manual_clock();
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    MemoryHarness { inner: ManualHarness { store: store.clone(), clock }, store }
}

bonin_adapters_store::store_conformance_tests!(harness().inner);

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
            FlowRules::new(Duration::from_secs(60 * 60)),
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

#[tokio::test]
async fn outbox_conformance() {
    let harness = harness();
    let outbox: Arc<dyn bonin_domain::Outbox> = harness.store.clone();
    bonin_adapters_store::conformance::outbox_conformance(&*harness, outbox.clone(), outbox).await;
}
