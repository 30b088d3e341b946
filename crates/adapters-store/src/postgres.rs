//! The PostgreSQL store: shared by every instance of a deployment.

use std::{borrow::Cow, str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use bonin_domain::{
    CasOutcome, Clock, Outbox, OutboxEvent, ProviderKey, SessionStore, StoreError, Verification, VerificationId,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{NoTls, error::SqlState};

use crate::{
    RecordCipher,
    record::{self, Seen, dead_at, event_text, key_column, ms, now_ms, version_column},
};

/// Schema versions, applied in order at start-up under an advisory lock (several instances may
/// start at once).
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE bonin_verifications (
        id TEXT PRIMARY KEY NOT NULL,
        provider_key TEXT UNIQUE,
        version BIGINT NOT NULL,
        dead_at BIGINT NOT NULL,
        record BYTEA NOT NULL
    );
    CREATE INDEX bonin_verifications_dead_at ON bonin_verifications (dead_at);",
    "CREATE TABLE bonin_tokens (name TEXT PRIMARY KEY NOT NULL, sealed BYTEA NOT NULL, expires_at BIGINT NOT NULL);
    CREATE TABLE bonin_token_locks (name TEXT PRIMARY KEY NOT NULL, holder TEXT NOT NULL, until BIGINT NOT NULL);",
    "CREATE TABLE bonin_outbox (
        id TEXT PRIMARY KEY NOT NULL,
        due_at BIGINT NOT NULL,
        claimed_by TEXT,
        claimed_until BIGINT NOT NULL DEFAULT 0,
        internal BOOLEAN NOT NULL,
        event TEXT NOT NULL
    );
    CREATE INDEX bonin_outbox_due_at ON bonin_outbox (due_at);
    CREATE TABLE bonin_leases (name TEXT PRIMARY KEY NOT NULL, holder TEXT NOT NULL, until BIGINT NOT NULL);",
];

/// Appends `events` to the outbox inside the caller's transaction (an id already there is kept).
async fn append(tx: &deadpool_postgres::Transaction<'_>, events: &[OutboxEvent]) -> Result<(), StoreError> {
    for event in events {
        tx.execute(
            "INSERT INTO bonin_outbox (id, due_at, internal, event) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            &[&event.id, &ms(event.due_at), &event.is_internal(), &event_text(event)?],
        )
        .await
        .map_err(|e| db_error(&e))?;
    }
    Ok(())
}

/// Lock id for migrations ("bonin" in ASCII).
const MIGRATION_LOCK: i64 = 0x0062_6f6e_696e;

/// Time allowed for one store operation, including waiting for a pooled connection.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

/// The rustls client for `sslmode=require`: the server's certificate and name are always verified,
/// against `ca_file` (PEM) when given, else the system's roots.
fn tls(ca_file: Option<&std::path::Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let bad = |what: &'static str| StoreError::Unavailable(what.into());
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|_| bad("store.tls_ca_file could not be read"))? {
                roots
                    .add(cert.map_err(|_| bad("store.tls_ca_file is not PEM"))?)
                    .map_err(|_| bad("store.tls_ca_file holds an unusable certificate"))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| bad("TLS could not be configured"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `sslmode=verify-ca` and `sslmode=verify-full` (libpq's names for verified TLS) read as the
/// `require` this store understands, which always verifies the certificate and the host name.
pub(crate) fn verified_sslmode(url: &str) -> Cow<'_, str> {
    // Where the parameters start, found as tokio-postgres finds them: after the first `@`, if any.
    let after_credentials = url.find('@').map_or(0, |at| at + 1);
    let Some(query) = url[after_credentials..].find('?').map(|q| after_credentials + q + 1) else {
        return Cow::Borrowed(url);
    };
    let params: Vec<&str> = url[query..].split('&').collect();
    if !params.iter().any(|p| matches!(*p, "sslmode=verify-ca" | "sslmode=verify-full")) {
        return Cow::Borrowed(url);
    }
    let params: Vec<&str> = params
        .into_iter()
        .map(|p| if matches!(p, "sslmode=verify-ca" | "sslmode=verify-full") { "sslmode=require" } else { p })
        .collect();
    Cow::Owned(format!("{}{}", &url[..query], params.join("&")))
}

/// The parsed connection settings of `url`.
pub(crate) fn config_of(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    tokio_postgres::Config::from_str(&verified_sslmode(url))
        .map_err(|_| StoreError::Unavailable("store.url is not a valid postgres:// URL".into()))
}

/// Whether connections to `url` use verified TLS, and whether every host is loopback or a Unix
/// socket.
pub(crate) fn reach(url: &str) -> Result<crate::Reach, StoreError> {
    use tokio_postgres::config::{Host, SslMode};
    let config = config_of(url)?;
    let loopback = |host: &str| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    };
    let hosts_local = config.get_hosts().iter().all(|host| match host {
        Host::Tcp(name) => loopback(name),
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    let local = hosts_local && config.get_hostaddrs().iter().all(std::net::IpAddr::is_loopback);
    Ok(crate::Reach { tls: config.get_ssl_mode() == SslMode::Require, local })
}

/// A pool of `pool_size` to `url` with the migrations applied. `sslmode=require` (or `verify-ca`,
/// `verify-full`) in the URL means TLS with a verified certificate (see [`tls`]); otherwise plain
/// TCP.
pub(crate) async fn pool(url: &str, pool_size: usize, ca_file: Option<&std::path::Path>) -> Result<Pool, StoreError> {
    let mut config = config_of(url)?;
    config.connect_timeout(OPERATION_TIMEOUT);
    let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        Manager::from_config(config, tls(ca_file)?, manager_config)
    } else {
        Manager::from_config(config, NoTls, manager_config)
    };
    let pool = Pool::builder(manager)
        .max_size(pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(OPERATION_TIMEOUT))
        .create_timeout(Some(OPERATION_TIMEOUT))
        .recycle_timeout(Some(OPERATION_TIMEOUT))
        .build()
        .map_err(|_| StoreError::Unavailable("postgres pool could not be built".into()))?;
    let mut client = pool.get().await.map_err(|_| StoreError::Unavailable("postgres: no connection".into()))?;
    let tx = client.transaction().await.map_err(|e| db_error(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(|e| db_error(&e))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS bonin_migrations (version INTEGER PRIMARY KEY)")
        .await
        .map_err(|e| db_error(&e))?;
    let applied: i64 =
        tx.query_one("SELECT COUNT(*) FROM bonin_migrations", &[]).await.map_err(|e| db_error(&e))?.get(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(usize::try_from(applied).unwrap_or(0)) {
        tx.batch_execute(migration).await.map_err(|e| db_error(&e))?;
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute("INSERT INTO bonin_migrations (version) VALUES ($1)", &[&version])
            .await
            .map_err(|e| db_error(&e))?;
    }
    tx.commit().await.map_err(|e| db_error(&e))?;
    drop(client);
    Ok(pool)
}

/// Sessions in PostgreSQL. Compare-and-swap is one conditional `UPDATE … WHERE version = $expected`.
pub struct PostgresStore {
    pool: Pool,
    clock: Arc<dyn Clock>,
    cipher: Arc<RecordCipher>,
    seen: Seen,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("pool", &self.pool.status()).finish_non_exhaustive()
    }
}

fn db_error(error: &tokio_postgres::Error) -> StoreError {
    match error.code() {
        Some(code) => StoreError::Unavailable(format!("postgres: SQLSTATE {}", code.code()).into()),
        None => StoreError::Unavailable("postgres: connection failed".into()),
    }
}

fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl PostgresStore {
    /// Connects a pool of `pool_size` to `url` and applies the migrations. Add `sslmode=require`
    /// (or `verify-full`) to the URL for TLS (the certificate and host name are verified against
    /// the system's roots).
    pub async fn connect(
        url: &str,
        pool_size: usize,
        cipher: Arc<RecordCipher>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        Self::connect_with_ca(url, pool_size, None, cipher, clock).await
    }

    /// [`PostgresStore::connect`], trusting the CA certificates in `ca_file` (PEM) for
    /// `sslmode=require`.
    pub async fn connect_with_ca(
        url: &str,
        pool_size: usize,
        ca_file: Option<&std::path::Path>,
        cipher: Arc<RecordCipher>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        Ok(Self { pool: pool(url, pool_size, ca_file).await?, clock, cipher, seen: Seen::default() })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|_| StoreError::Unavailable("postgres: no connection".into()))
    }

    async fn timed<T>(&self, work: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        tokio::time::timeout(OPERATION_TIMEOUT, work)
            .await
            .map_err(|_| StoreError::Unavailable("postgres: timed out".into()))?
    }

    /// The live record whose `column` is `value`, checked against the versions seen before `began`.
    async fn live(
        &self,
        client: &deadpool_postgres::Object,
        column: &str,
        value: &str,
        began: u64,
    ) -> Result<Option<Verification>, StoreError> {
        let sql = format!("SELECT id, version, record FROM bonin_verifications WHERE {column} = $1 AND dead_at > $2");
        let row = client.query_opt(&sql, &[&value, &now_ms(self.clock.as_ref())]).await.map_err(|e| db_error(&e))?;
        let found = row
            .map(|row| {
                let version = version_column(row.get::<_, i64>(1))?;
                record::open(&self.cipher, row.get::<_, &str>(0), version, row.get::<_, &[u8]>(2))
            })
            .transpose()?;
        self.seen.read_opt(began, found)
    }

    /// Deletes expired records; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            client
                .execute("DELETE FROM bonin_verifications WHERE dead_at <= $1", &[&now_ms(self.clock.as_ref())])
                .await
                .map_err(|e| db_error(&e))
        })
        .await
    }

    /// Purges expired records every `every` while the store is alive.
    pub fn spawn_purger(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        crate::spawn_purger(self, every, |store| async move { store.purge_expired().await.map(|_| ()) })
    }
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create(&self, verification: &Verification, ttl: Duration) -> Result<(), StoreError> {
        self.create_with_events(verification, ttl, &[]).await
    }

    async fn create_with_events(
        &self,
        verification: &Verification,
        ttl: Duration,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.timed(async {
            let sealed = record::seal(&self.cipher, verification)?;
            let id = verification.id().as_str();
            let key = verification.provider_key().map(key_column);
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(|e| db_error(&e))?;
            tx.execute(
                    "DELETE FROM bonin_verifications WHERE (id = $1 OR provider_key = $2) AND dead_at <= $3",
                    &[&id, &key, &now_ms(self.clock.as_ref())],
                )
                .await
                .map_err(|e| db_error(&e))?;
            let inserted = tx
                .execute(
                    "INSERT INTO bonin_verifications (id, provider_key, version, dead_at, record) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT DO NOTHING",
                    &[&id, &key, &as_i64(verification.version()), &dead_at(self.clock.as_ref(), ttl), &sealed],
                )
                .await
                .map_err(|e| db_error(&e))?;
            if inserted != 1 {
                return Err(StoreError::AlreadyExists);
            }
            append(&tx, events).await?;
            tx.commit().await.map_err(|e| db_error(&e))?;
            self.seen.created(verification);
            Ok(())
        })
        .await
    }

    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        self.timed(async {
            let began = self.seen.before_read();
            let client = self.client().await?;
            self.live(&client, "id", id.as_str(), began).await
        })
        .await
    }

    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError> {
        self.timed(async {
            let began = self.seen.before_read();
            let client = self.client().await?;
            self.live(&client, "provider_key", &key_column(key), began).await
        })
        .await
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
        self.timed(async {
            let sealed = record::seal(&self.cipher, next)?;
            let id = next.id().as_str();
            let key = next.provider_key().map(key_column);
            let now = now_ms(self.clock.as_ref());
            let began = self.seen.before_read();
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(|e| db_error(&e))?;
            if let Some(key) = &key {
                tx.execute(
                    "DELETE FROM bonin_verifications WHERE provider_key = $1 AND id <> $2 AND dead_at <= $3",
                    &[key, &id, &now],
                )
                .await
                .map_err(|e| db_error(&e))?;
            }
            let updated = tx
                .execute(
                    "UPDATE bonin_verifications SET provider_key = $1, version = $2, dead_at = $3, record = $4
                     WHERE id = $5 AND version = $6 AND dead_at > $7",
                    &[
                        &key,
                        &as_i64(next.version()),
                        &dead_at(self.clock.as_ref(), ttl),
                        &sealed,
                        &id,
                        &as_i64(expected_version),
                        &now,
                    ],
                )
                .await;
            match updated {
                Ok(1) => {
                    append(&tx, events).await?;
                    tx.commit().await.map_err(|e| db_error(&e))?;
                    self.seen.swapped(next);
                    Ok(CasOutcome::Swapped)
                }
                Ok(_) => {
                    tx.rollback().await.map_err(|e| db_error(&e))?;
                    Ok(CasOutcome::Conflict(self.live(&client, "id", id, began).await?.map(Box::new)))
                }
                Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists),
                Err(e) => Err(db_error(&e)),
            }
        })
        .await
    }

    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError> {
        self.seen.deleted(id.as_str());
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_opt("DELETE FROM bonin_verifications WHERE id = $1 RETURNING dead_at", &[&id.as_str()])
                .await
                .map_err(|e| db_error(&e))?;
            Ok(row.is_some_and(|r| r.get::<_, i64>(0) > now_ms(self.clock.as_ref())))
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(async {
            let client = self.client().await?;
            client.query_one("SELECT 1", &[]).await.map(|_| ()).map_err(|e| db_error(&e))
        })
        .await
    }
}

#[async_trait]
impl Outbox for PostgresStore {
    async fn enqueue(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        self.timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(|e| db_error(&e))?;
            append(&tx, events).await?;
            tx.commit().await.map_err(|e| db_error(&e))
        })
        .await
    }

    async fn claim(&self, holder: &str, limit: usize, lease: Duration) -> Result<Vec<OutboxEvent>, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            let now = now_ms(self.clock.as_ref());
            // SKIP LOCKED: two instances claiming at once take disjoint sets.
            let rows = client
                .query(
                    "UPDATE bonin_outbox SET claimed_by = $1, claimed_until = $2
                     WHERE id IN (SELECT id FROM bonin_outbox WHERE due_at <= $3 AND claimed_until <= $3
                                  ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED)
                     RETURNING event",
                    &[&holder, &dead_at(self.clock.as_ref(), lease), &now, &i64::try_from(limit).unwrap_or(i64::MAX)],
                )
                .await
                .map_err(|e| db_error(&e))?;
            let mut claimed: Vec<_> =
                rows.iter().filter_map(|row| record::claimed_event(row.get::<_, &str>(0))).collect();
            claimed.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
            Ok(claimed)
        })
        .await
    }

    async fn reschedule(&self, event: &OutboxEvent, holder: &str) -> Result<bool, StoreError> {
        let text = event_text(event)?;
        self.timed(async {
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE bonin_outbox SET due_at = $1, event = $2, claimed_by = NULL, claimed_until = 0
                     WHERE id = $3 AND claimed_by = $4",
                    &[&ms(event.due_at), &text, &event.id, &holder],
                )
                .await
                .map(|n| n == 1)
                .map_err(|e| db_error(&e))
        })
        .await
    }

    async fn remove(&self, id: &str, holder: &str) -> Result<bool, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            client
                .execute("DELETE FROM bonin_outbox WHERE id = $1 AND claimed_by = $2", &[&id, &holder])
                .await
                .map(|n| n == 1)
                .map_err(|e| db_error(&e))
        })
        .await
    }

    async fn depth(&self) -> Result<u64, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            let row = client
                .query_one("SELECT COUNT(*) FROM bonin_outbox WHERE NOT internal", &[])
                .await
                .map_err(|e| db_error(&e))?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
        .await
    }

    async fn hold_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO bonin_leases (name, holder, until) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                     WHERE bonin_leases.holder = EXCLUDED.holder OR bonin_leases.until <= $4",
                    &[&name, &holder, &dead_at(self.clock.as_ref(), ttl), &now_ms(self.clock.as_ref())],
                )
                .await
                .map(|n| n == 1)
                .map_err(|e| db_error(&e))
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.timed(async {
            let client = self.client().await?;
            client
                .execute("DELETE FROM bonin_leases WHERE name = $1 AND holder = $2", &[&name, &holder])
                .await
                .map(|_| ())
                .map_err(|e| db_error(&e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_read_as_require() {
        for (url, expected) in [
            ("postgres://u:p@db/bonin?sslmode=verify-full", "postgres://u:p@db/bonin?sslmode=require"),
            (
                "postgres://db/bonin?application_name=x&sslmode=verify-ca",
                "postgres://db/bonin?application_name=x&sslmode=require",
            ),
            ("postgres://u:sslmode=verify-full@db/bonin", "postgres://u:sslmode=verify-full@db/bonin"),
            ("postgres://db/bonin?sslmode=disable", "postgres://db/bonin?sslmode=disable"),
        ] {
            assert_eq!(verified_sslmode(url), expected);
        }
    }

    #[test]
    fn reach_tells_tls_and_local_hosts() {
        let of = |url| reach(url).map(|r| (r.tls, r.local)).unwrap();
        assert_eq!(of("postgres://bonin@db.internal/bonin"), (false, false));
        assert_eq!(of("postgres://bonin@db.internal/bonin?sslmode=prefer"), (false, false));
        assert_eq!(of("postgres://bonin@db.internal/bonin?sslmode=require"), (true, false));
        assert_eq!(of("postgres://bonin@db.internal/bonin?sslmode=verify-full"), (true, false));
        assert_eq!(of("postgres://bonin@127.0.0.1,db.internal/bonin"), (false, false));
        assert_eq!(of("postgres://bonin@localhost/bonin?hostaddr=10.0.0.5"), (false, false));
        assert_eq!(of("postgres://bonin@127.0.0.1:5432,localhost,[::1]/bonin"), (false, true));
        assert_eq!(of("postgres:///bonin?host=/var/run/postgresql"), (false, true));
        assert!(reach("postgres://bonin@db/bonin?sslmode=bogus").is_err());
    }
}
