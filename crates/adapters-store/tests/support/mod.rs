//! Harnesses shared by the store test files.
#![allow(dead_code, clippy::unwrap_used)]

pub mod tls;

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_store::{RecordCipher, conformance::Harness};
use bonin_domain::{Clock, ManualClock, SecretString, SessionStore, SystemClock};

pub fn cipher() -> Arc<RecordCipher> {
    Arc::new(RecordCipher::from_config(&[SecretString::from(format!("1:{}", STANDARD.encode([42u8; 32])))]).unwrap())
}

/// A store on a manual clock: TTLs pass instantly.
pub struct ManualHarness {
    pub store: Arc<dyn SessionStore>,
    pub clock: Arc<ManualClock>,
}

#[async_trait::async_trait]
impl Harness for ManualHarness {
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

/// A store whose TTLs follow real time (Redis): advancing sleeps.
pub struct RealTimeHarness {
    pub store: Arc<dyn SessionStore>,
}

#[async_trait::async_trait]
impl Harness for RealTimeHarness {
    fn store(&self) -> Arc<dyn SessionStore> {
        self.store.clone()
    }
    fn clock(&self) -> Arc<dyn Clock> {
        Arc::new(SystemClock::new())
    }
    async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }
}

pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()))
}
