//! The PostgreSQL store: shared by every instance of a deployment.

use std::{str::FromStr, sync::Arc, time::Duration};

use async_trait::async_trait;
use bonin_domain::{CasOutcome, Clock, ProviderKey, SessionStore, StoreError, Verification, VerificationId};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{NoTls, error::SqlState};

use crate::{
    RecordCipher,
    record::{self, dead_at, key_column, now_ms},
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
];

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

/// A pool of `pool_size` to `url` with the migrations applied. `sslmode=require` in the URL means
/// TLS with a verified certificate (see [`tls`]); otherwise plain TCP.
pub(crate) async fn pool(url: &str, pool_size: usize, ca_file: Option<&std::path::Path>) -> Result<Pool, StoreError> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|_| StoreError::Unavailable("store.url is not a valid postgres:// URL".into()))?;
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
    /// to the URL for TLS (the certificate and host name are verified against the system's roots).
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
        Ok(Self { pool: pool(url, pool_size, ca_file).await?, clock, cipher })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|_| StoreError::Unavailable("postgres: no connection".into()))
    }

    async fn timed<T>(&self, work: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        tokio::time::timeout(OPERATION_TIMEOUT, work)
            .await
            .map_err(|_| StoreError::Unavailable("postgres: timed out".into()))?
    }

    async fn live(
        &self,
        client: &deadpool_postgres::Object,
        column: &str,
        value: &str,
    ) -> Result<Option<Verification>, StoreError> {
        let sql = format!("SELECT id, record FROM bonin_verifications WHERE {column} = $1 AND dead_at > $2");
        let row = client.query_opt(&sql, &[&value, &now_ms(self.clock.as_ref())]).await.map_err(|e| db_error(&e))?;
        row.map(|row| record::open(&self.cipher, row.get::<_, &str>(0), row.get::<_, &[u8]>(1))).transpose()
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
        self.timed(async {
            let sealed = record::seal(&self.cipher, verification)?;
            let id = verification.id().as_str();
            let key = verification.provider_key().map(key_column);
            let client = self.client().await?;
            client
                .execute(
                    "DELETE FROM bonin_verifications WHERE (id = $1 OR provider_key = $2) AND dead_at <= $3",
                    &[&id, &key, &now_ms(self.clock.as_ref())],
                )
                .await
                .map_err(|e| db_error(&e))?;
            let inserted = client
                .execute(
                    "INSERT INTO bonin_verifications (id, provider_key, version, dead_at, record) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT DO NOTHING",
                    &[&id, &key, &as_i64(verification.version()), &dead_at(self.clock.as_ref(), ttl), &sealed],
                )
                .await
                .map_err(|e| db_error(&e))?;
            if inserted == 1 { Ok(()) } else { Err(StoreError::AlreadyExists) }
        })
        .await
    }

    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            self.live(&client, "id", id.as_str()).await
        })
        .await
    }

    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError> {
        self.timed(async {
            let client = self.client().await?;
            self.live(&client, "provider_key", &key_column(key)).await
        })
        .await
    }

    async fn compare_and_swap(
        &self,
        expected_version: u64,
        next: &Verification,
        ttl: Duration,
    ) -> Result<CasOutcome, StoreError> {
        self.timed(async {
            let sealed = record::seal(&self.cipher, next)?;
            let id = next.id().as_str();
            let key = next.provider_key().map(key_column);
            let now = now_ms(self.clock.as_ref());
            let client = self.client().await?;
            if let Some(key) = &key {
                client
                    .execute(
                        "DELETE FROM bonin_verifications WHERE provider_key = $1 AND id <> $2 AND dead_at <= $3",
                        &[key, &id, &now],
                    )
                    .await
                    .map_err(|e| db_error(&e))?;
            }
            let updated = client
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
                Ok(1) => Ok(CasOutcome::Swapped),
                Ok(_) => Ok(CasOutcome::Conflict(self.live(&client, "id", id).await?.map(Box::new))),
                Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists),
                Err(e) => Err(db_error(&e)),
            }
        })
        .await
    }

    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError> {
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
