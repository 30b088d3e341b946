//! The SQLite store: the embedded default for the sandbox and single-instance deployments.

use std::{
    path::Path,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use bonin_domain::{
    CasOutcome, Clock, Outbox, OutboxEvent, ProviderKey, SessionStore, StoreError, Verification, VerificationId,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{
    RecordCipher,
    record::{self, Seen, dead_at, event_text, key_column, ms, now_ms, version_column},
};

/// Schema versions, applied in order at start-up (tracked in `PRAGMA user_version`).
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE verifications (
        id TEXT PRIMARY KEY NOT NULL,
        provider_key TEXT UNIQUE,
        version INTEGER NOT NULL,
        dead_at INTEGER NOT NULL,
        record BLOB NOT NULL
    );
    CREATE INDEX verifications_dead_at ON verifications (dead_at);",
    "CREATE TABLE outbox (
        id TEXT PRIMARY KEY NOT NULL,
        due_at INTEGER NOT NULL,
        claimed_by TEXT,
        claimed_until INTEGER NOT NULL DEFAULT 0,
        internal INTEGER NOT NULL,
        event TEXT NOT NULL
    );
    CREATE INDEX outbox_due_at ON outbox (due_at);
    CREATE TABLE leases (name TEXT PRIMARY KEY NOT NULL, holder TEXT NOT NULL, until INTEGER NOT NULL);",
];

/// Appends `events` to the outbox inside the caller's transaction (an id already there is kept).
fn append(tx: &rusqlite::Transaction<'_>, events: &[OutboxEvent]) -> Result<(), StoreError> {
    for event in events {
        tx.execute(
            "INSERT INTO outbox (id, due_at, internal, event) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
            params![event.id, ms(event.due_at), event.is_internal(), event_text(event)?],
        )
        .map_err(|e| unavailable(&e))?;
    }
    Ok(())
}

/// Sessions in one SQLite file (WAL mode). Every operation runs on the blocking pool through one
/// connection, so compare-and-swap is a serialized transaction.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
    cipher: Arc<RecordCipher>,
    seen: Seen,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("cipher", &self.cipher).finish_non_exhaustive()
    }
}

fn unavailable(error: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(
        format!("sqlite: {}", error.sqlite_error_code().map_or("error".into(), |c| format!("{c:?}"))).into(),
    )
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies the migrations.
    pub fn open(path: &Path, cipher: Arc<RecordCipher>, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|e| unavailable(&e))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|e| unavailable(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| unavailable(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| unavailable(&e))?;
        let applied: usize =
            conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(|e| unavailable(&e))?;
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
            conn.execute_batch(&format!("BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;", index + 1))
                .map_err(|e| unavailable(&e))?;
        }
        Ok(Self { conn: Arc::new(Mutex::new(conn)), clock, cipher, seen: Seen::default() })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &dyn Clock, &RecordCipher) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (conn, clock, cipher) = (self.conn.clone(), self.clock.clone(), self.cipher.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&mut conn, clock.as_ref(), &cipher)
        })
        .await
        .map_err(|_| StoreError::Unavailable("sqlite worker stopped".into()))?
    }

    /// One conditional `UPDATE` from `expected_version` to `next`, in a transaction.
    async fn swap(
        &self,
        expected_version: u64,
        next: Verification,
        ttl: Duration,
        events: Vec<OutboxEvent>,
    ) -> Result<CasOutcome, StoreError> {
        self.run(move |conn, clock, cipher| {
            let sealed = record::seal(cipher, &next)?;
            let id = next.id().as_str().to_owned();
            let key = next.provider_key().map(key_column);
            let now = now_ms(clock);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| unavailable(&e))?;
            if let Some(key) = &key {
                tx.execute(
                    "DELETE FROM verifications WHERE provider_key = ?1 AND id <> ?2 AND dead_at <= ?3",
                    params![key, id, now],
                )
                .map_err(|e| unavailable(&e))?;
            }
            let expected = i64::try_from(expected_version).unwrap_or(i64::MAX);
            let updated = tx.execute(
                "UPDATE verifications SET provider_key = ?1, version = ?2, dead_at = ?3, record = ?4
                 WHERE id = ?5 AND version = ?6 AND dead_at > ?7",
                params![
                    key,
                    i64::try_from(next.version()).unwrap_or(i64::MAX),
                    dead_at(clock, ttl),
                    sealed,
                    id,
                    expected,
                    now
                ],
            );
            let outcome = match updated {
                Ok(1) => {
                    append(&tx, &events)?;
                    CasOutcome::Swapped
                }
                Ok(_) => CasOutcome::Conflict(live(&tx, cipher, now, "id", &id)?.map(Box::new)),
                Err(e) if is_unique_violation(&e) => return Err(StoreError::AlreadyExists),
                Err(e) => return Err(unavailable(&e)),
            };
            tx.commit().map_err(|e| unavailable(&e))?;
            Ok(outcome)
        })
        .await
    }

    /// Deletes expired records; returns how many.
    pub async fn purge_expired(&self) -> Result<usize, StoreError> {
        self.run(|conn, clock, _| {
            conn.execute("DELETE FROM verifications WHERE dead_at <= ?1", params![now_ms(clock)])
                .map_err(|e| unavailable(&e))
        })
        .await
    }

    /// Purges expired records every `every` while the store is alive.
    pub fn spawn_purger(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        crate::spawn_purger(self, every, |store| async move { store.purge_expired().await.map(|_| ()) })
    }
}

fn live(
    conn: &Connection,
    cipher: &RecordCipher,
    now: i64,
    column: &str,
    value: &str,
) -> Result<Option<Verification>, StoreError> {
    let sql = format!("SELECT id, version, record FROM verifications WHERE {column} = ?1 AND dead_at > ?2");
    let row: Option<(String, i64, Vec<u8>)> = conn
        .query_row(&sql, params![value, now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()
        .map_err(|e| unavailable(&e))?;
    row.map(|(id, version, sealed)| record::open(cipher, &id, version_column(version)?, &sealed)).transpose()
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, verification: &Verification, ttl: Duration) -> Result<(), StoreError> {
        self.create_with_events(verification, ttl, &[]).await
    }

    async fn create_with_events(
        &self,
        verification: &Verification,
        ttl: Duration,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let created = verification.clone();
        let verification = verification.clone();
        let events = events.to_vec();
        self.run(move |conn, clock, cipher| {
            let sealed = record::seal(cipher, &verification)?;
            let id = verification.id().as_str().to_owned();
            let key = verification.provider_key().map(key_column);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| unavailable(&e))?;
            // Dead rows with the same id or key make way.
            tx.execute(
                "DELETE FROM verifications WHERE (id = ?1 OR provider_key = ?2) AND dead_at <= ?3",
                params![id, key, now_ms(clock)],
            )
            .map_err(|e| unavailable(&e))?;
            let inserted = tx.execute(
                "INSERT INTO verifications (id, provider_key, version, dead_at, record) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id,
                    key,
                    i64::try_from(verification.version()).unwrap_or(i64::MAX),
                    dead_at(clock, ttl),
                    sealed
                ],
            );
            match inserted {
                Ok(_) => {
                    append(&tx, &events)?;
                    tx.commit().map_err(|e| unavailable(&e))
                }
                Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists),
                Err(e) => Err(unavailable(&e)),
            }
        })
        .await?;
        self.seen.created(&created);
        Ok(())
    }

    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        let id = id.as_str().to_owned();
        let began = self.seen.before_read();
        let found = self.run(move |conn, clock, cipher| live(conn, cipher, now_ms(clock), "id", &id)).await?;
        self.seen.read_opt(began, found)
    }

    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError> {
        let key = key_column(key);
        let began = self.seen.before_read();
        let found =
            self.run(move |conn, clock, cipher| live(conn, cipher, now_ms(clock), "provider_key", &key)).await?;
        self.seen.read_opt(began, found)
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
        if self.seen.newest(next.id().as_str()).is_some_and(|newest| expected_version < newest) {
            // Stale: the stored version cannot match. Report what is stored (or that it was rolled back).
            return Ok(CasOutcome::Conflict(self.get(next.id()).await?.map(Box::new)));
        }
        let began = self.seen.before_read();
        match self.swap(expected_version, next.clone(), ttl, events.to_vec()).await? {
            CasOutcome::Swapped => {
                self.seen.swapped(next);
                Ok(CasOutcome::Swapped)
            }
            CasOutcome::Conflict(current) => {
                Ok(CasOutcome::Conflict(self.seen.read_opt(began, current.map(|c| *c))?.map(Box::new)))
            }
        }
    }

    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError> {
        self.seen.deleted(id.as_str());
        let id = id.as_str().to_owned();
        self.run(move |conn, clock, _| {
            let tx = conn.transaction().map_err(|e| unavailable(&e))?;
            let live = tx
                .execute("DELETE FROM verifications WHERE id = ?1 AND dead_at > ?2", params![id, now_ms(clock)])
                .map_err(|e| unavailable(&e))?;
            tx.execute("DELETE FROM verifications WHERE id = ?1", params![id]).map_err(|e| unavailable(&e))?;
            tx.commit().map_err(|e| unavailable(&e))?;
            Ok(live > 0)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn, _, _| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(|e| unavailable(&e))).await
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        let events = events.to_vec();
        self.run(move |conn, _, _| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| unavailable(&e))?;
            append(&tx, &events)?;
            tx.commit().map_err(|e| unavailable(&e))
        })
        .await
    }

    async fn claim(&self, holder: &str, limit: usize, lease: Duration) -> Result<Vec<OutboxEvent>, StoreError> {
        let holder = holder.to_owned();
        self.run(move |conn, clock, _| {
            let now = now_ms(clock);
            let until = dead_at(clock, lease);
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| unavailable(&e))?;
            let rows: Vec<(String, String)> = {
                let mut statement = tx
                    .prepare(
                        "SELECT id, event FROM outbox WHERE due_at <= ?1 AND claimed_until <= ?1
                         ORDER BY due_at, id LIMIT ?2",
                    )
                    .map_err(|e| unavailable(&e))?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                statement
                    .query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(|e| unavailable(&e))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| unavailable(&e))?
            };
            let mut claimed = Vec::with_capacity(rows.len());
            for (id, text) in rows {
                tx.execute(
                    "UPDATE outbox SET claimed_by = ?1, claimed_until = ?2 WHERE id = ?3",
                    params![holder, until, id],
                )
                .map_err(|e| unavailable(&e))?;
                claimed.extend(record::claimed_event(&text));
            }
            tx.commit().map_err(|e| unavailable(&e))?;
            Ok(claimed)
        })
        .await
    }

    async fn reschedule(&self, event: &OutboxEvent, holder: &str) -> Result<bool, StoreError> {
        let (id, due_at, text, holder) = (event.id.clone(), ms(event.due_at), event_text(event)?, holder.to_owned());
        self.run(move |conn, _, _| {
            conn.execute(
                "UPDATE outbox SET due_at = ?1, event = ?2, claimed_by = NULL, claimed_until = 0
                 WHERE id = ?3 AND claimed_by = ?4",
                params![due_at, text, id, holder],
            )
            .map(|n| n == 1)
            .map_err(|e| unavailable(&e))
        })
        .await
    }

    async fn remove(&self, id: &str, holder: &str) -> Result<bool, StoreError> {
        let (id, holder) = (id.to_owned(), holder.to_owned());
        self.run(move |conn, _, _| {
            conn.execute("DELETE FROM outbox WHERE id = ?1 AND claimed_by = ?2", params![id, holder])
                .map(|n| n == 1)
                .map_err(|e| unavailable(&e))
        })
        .await
    }

    async fn depth(&self) -> Result<u64, StoreError> {
        self.run(|conn, _, _| {
            conn.query_row("SELECT COUNT(*) FROM outbox WHERE internal = 0", [], |r| r.get::<_, i64>(0))
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(|e| unavailable(&e))
        })
        .await
    }

    async fn hold_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.run(move |conn, clock, _| {
            conn.execute(
                "INSERT INTO leases (name, holder, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                 WHERE leases.holder = excluded.holder OR leases.until <= ?4",
                params![name, holder, dead_at(clock, ttl), now_ms(clock)],
            )
            .map(|n| n == 1)
            .map_err(|e| unavailable(&e))
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.run(move |conn, _, _| {
            conn.execute("DELETE FROM leases WHERE name = ?1 AND holder = ?2", params![name, holder])
                .map(|_| ())
                .map_err(|e| unavailable(&e))
        })
        .await
    }
}
