//! The in-process store.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use bonin_domain::{
    CasOutcome, Clock, Outbox, OutboxEvent, ProviderKey, SessionStore, StoreError, SystemClock, Timestamp,
    Verification, VerificationId,
};

/// Sessions in a `HashMap` behind a mutex. Compare-and-swap is exact because every operation holds
/// the one lock. TTLs follow the injected clock; expired records are invisible at once and purged
/// on later writes (every [`MemoryStore::PURGE_EVERY`] creates) or by [`MemoryStore::purge_expired`].
#[derive(Debug)]
pub struct MemoryStore {
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: HashMap<VerificationId, Entry>,
    keys: HashMap<ProviderKey, VerificationId>,
    creates_since_purge: u32,
    /// The outbox: events by id, each with its claim (holder, until).
    outbox: HashMap<String, (OutboxEvent, Option<(String, Timestamp)>)>,
    /// Named leases: holder, until.
    leases: HashMap<String, (String, Timestamp)>,
}

#[derive(Debug)]
struct Entry {
    verification: Verification,
    dead_at: Timestamp,
}

impl Inner {
    fn append(&mut self, events: &[OutboxEvent]) {
        for event in events {
            self.outbox.entry(event.id.clone()).or_insert_with(|| (event.clone(), None));
        }
    }

    fn live(&self, id: &VerificationId, now: Timestamp) -> Option<&Entry> {
        self.records.get(id).filter(|e| now < e.dead_at)
    }

    fn remove(&mut self, id: &VerificationId) -> Option<Entry> {
        let entry = self.records.remove(id)?;
        if let Some(key) = entry.verification.provider_key()
            && self.keys.get(key) == Some(id)
        {
            self.keys.remove(key);
        }
        Some(entry)
    }

    fn purge(&mut self, now: Timestamp) -> usize {
        let dead: Vec<VerificationId> =
            self.records.iter().filter(|(_, e)| now >= e.dead_at).map(|(id, _)| id.clone()).collect();
        for id in &dead {
            self.remove(id);
        }
        self.creates_since_purge = 0;
        dead.len()
    }
}

impl MemoryStore {
    /// Creates between two automatic purges.
    pub const PURGE_EVERY: u32 = 1024;

    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock::new()))
    }

    /// An empty store on `clock` (a manual clock in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self { clock, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops every expired record now; returns how many.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        self.lock().purge(now)
    }

    /// Records held, live or not yet purged.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, verification: &Verification, ttl: Duration) -> Result<(), StoreError> {
        self.create_with_events(verification, ttl, &[]).await
    }

    async fn create_with_events(
        &self,
        verification: &Verification,
        ttl: Duration,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.creates_since_purge += 1;
        if inner.creates_since_purge >= Self::PURGE_EVERY {
            inner.purge(now);
        }
        let id = verification.id();
        if inner.live(id, now).is_some() {
            return Err(StoreError::AlreadyExists);
        }
        if let Some(holder) = verification.provider_key().and_then(|key| inner.keys.get(key).cloned()) {
            if inner.live(&holder, now).is_some() {
                return Err(StoreError::AlreadyExists);
            }
            inner.remove(&holder);
        }
        // A dead record under the same id is replaced.
        inner.remove(id);
        if let Some(key) = verification.provider_key() {
            inner.keys.insert(key.clone(), id.clone());
        }
        inner.records.insert(id.clone(), Entry { verification: verification.clone(), dead_at: now + ttl });
        inner.append(events);
        Ok(())
    }

    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        let now = self.clock.now();
        Ok(self.lock().live(id, now).map(|e| e.verification.clone()))
    }

    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError> {
        let now = self.clock.now();
        let inner = self.lock();
        Ok(inner.keys.get(key).and_then(|id| inner.live(id, now)).map(|e| e.verification.clone()))
    }

    async fn compare_and_swap(
        &self,
        expected_version: u64,
        next: &Verification,
        ttl: Duration,
    ) -> Result<CasOutcome, StoreError> {
        self.compare_and_swap_with_events(expected_version, next, ttl, &[]).await
    }

    async fn compare_and_swap_with_events(
        &self,
        expected_version: u64,
        next: &Verification,
        ttl: Duration,
        events: &[OutboxEvent],
    ) -> Result<CasOutcome, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let current = match inner.live(next.id(), now) {
            Some(entry) if entry.verification.version() == expected_version => entry,
            Some(entry) => return Ok(CasOutcome::Conflict(Some(Box::new(entry.verification.clone())))),
            None => return Ok(CasOutcome::Conflict(None)),
        };
        let old_key = current.verification.provider_key().cloned();
        if let Some(new_key) = next.provider_key()
            && old_key.as_ref() != Some(new_key)
            && let Some(holder) = inner.keys.get(new_key)
            && holder != next.id()
            && inner.live(holder, now).is_some()
        {
            return Err(StoreError::AlreadyExists);
        }
        if let Some(old) = old_key {
            inner.keys.remove(&old);
        }
        if let Some(key) = next.provider_key() {
            inner.keys.insert(key.clone(), next.id().clone());
        }
        inner.records.insert(next.id().clone(), Entry { verification: next.clone(), dead_at: now + ttl });
        inner.append(events);
        Ok(CasOutcome::Swapped)
    }

    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let was_live = inner.live(id, now).is_some();
        inner.remove(id);
        Ok(was_live)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn enqueue(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        self.lock().append(events);
        Ok(())
    }

    async fn claim(&self, holder: &str, limit: usize, lease: Duration) -> Result<Vec<OutboxEvent>, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let mut due: Vec<&mut (OutboxEvent, Option<(String, Timestamp)>)> = inner
            .outbox
            .values_mut()
            .filter(|(event, claim)| event.due_at <= now && claim.as_ref().is_none_or(|(_, until)| *until <= now))
            .collect();
        due.sort_by(|a, b| a.0.due_at.cmp(&b.0.due_at).then_with(|| a.0.id.cmp(&b.0.id)));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(event, claim)| {
                *claim = Some((holder.to_owned(), now + lease));
                event.clone()
            })
            .collect())
    }

    async fn reschedule(&self, event: &OutboxEvent, holder: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.outbox.get_mut(&event.id) {
            Some(slot) if slot.1.as_ref().is_some_and(|(h, _)| h == holder) => {
                *slot = (event.clone(), None);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, id: &str, holder: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.outbox.get(id).is_some_and(|(_, claim)| claim.as_ref().is_some_and(|(h, _)| h == holder)) {
            inner.outbox.remove(id);
            return Ok(true);
        }
        Ok(false)
    }

    async fn depth(&self) -> Result<u64, StoreError> {
        Ok(self.lock().outbox.values().filter(|(event, _)| !event.is_internal()).count() as u64)
    }

    async fn hold_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let free = inner.leases.get(name).is_none_or(|(h, until)| h == holder || *until <= now);
        if free {
            inner.leases.insert(name.to_owned(), (holder.to_owned(), now + ttl));
        }
        Ok(free)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.leases.get(name).is_some_and(|(h, _)| h == holder) {
            inner.leases.remove(name);
        }
        Ok(())
    }
}
