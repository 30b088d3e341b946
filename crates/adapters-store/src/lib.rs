//! `bonin_domain::SessionStore` implementations, each behind a cargo feature, and the
//! conformance suite they all pass.
//!
//! | feature | store | `store.url` | use it for |
//! |---|---|---|---|
//! | `memory` (default) | [`MemoryStore`] | `memory:` | tests; one instance that may lose sessions on restart |
//! | `sqlite` | `SqliteStore` | `sqlite://bonin.db` | the sandbox and single-instance deployments |
//! | `postgres` | `PostgresStore` | `postgres://…` | several instances sharing sessions |
//! | `redis` | `RedisStore` | `redis://…` | several instances sharing sessions, TTL-native |
//!
//! The persistent stores seal every record with AES-256-GCM ([`RecordCipher`]), so a database dump
//! holds neither personal data nor provider keys. [`open`] picks the implementation from a URL.
//!
//! A new store proves itself by running the suite:
//!
//! ```ignore
//! bonin_adapters_store::store_conformance_tests!(my_harness().await);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// On docs.rs (nightly), each item gated by a cargo feature is badged with it.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "encryption")]
mod cipher;
#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "encryption")]
mod record;
#[cfg(feature = "redis")]
mod redis_store;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod shared_tokens;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::{sync::Arc, time::Duration};

use bonin_domain::{Clock, Error, Outbox, SecretString, SessionStore};

#[cfg(feature = "encryption")]
pub use cipher::RecordCipher;
#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub use shared_tokens::SharedTokenStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// Settings for [`open`]: `StoreOptions::default()`, then the `with_*` setters (new settings come
/// with a default, so this struct is `#[non_exhaustive]`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreOptions {
    /// Encryption keys (`ID:BASE64`, the first seals) for the persistent stores.
    pub encryption_keys: Vec<SecretString>,
    /// PostgreSQL pool size.
    pub pool_size: usize,
    /// How often expired rows are deleted (SQLite, PostgreSQL).
    pub purge_every: Duration,
    /// CA certificates (PEM) the server's certificate is checked against (PostgreSQL with
    /// `sslmode=require`, Redis with `rediss://`); the system's roots when absent.
    pub tls_ca_file: Option<std::path::PathBuf>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { encryption_keys: Vec::new(), pool_size: 16, purge_every: Duration::from_secs(60), tls_ca_file: None }
    }
}

impl StoreOptions {
    /// The encryption keys (`ID:BASE64`, the first seals) of the persistent stores.
    #[must_use]
    pub fn with_encryption_keys(mut self, keys: Vec<SecretString>) -> Self {
        self.encryption_keys = keys;
        self
    }

    /// The PostgreSQL pool size.
    #[must_use]
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How often expired rows are deleted (SQLite, PostgreSQL).
    #[must_use]
    pub fn with_purge_every(mut self, every: Duration) -> Self {
        self.purge_every = every;
        self
    }

    /// The CA certificates (PEM) the server's certificate is checked against.
    #[must_use]
    pub fn with_tls_ca_file(mut self, path: Option<std::path::PathBuf>) -> Self {
        self.tls_ca_file = path;
        self
    }
}

/// Runs `purge` on `store` every `every` until the store is dropped.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn spawn_purger<S, F, Fut>(store: &Arc<S>, every: Duration, purge: F) -> tokio::task::JoinHandle<()>
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), bonin_domain::StoreError>> + Send,
{
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(store) = store.upgrade() else { return };
            if let Err(error) = purge(store).await {
                tracing::warn!(%error, "purging expired sessions failed");
            }
        }
    })
}

#[cfg(not(all(feature = "memory", feature = "sqlite", feature = "postgres", feature = "redis")))]
fn unsupported(what: &str) -> Error {
    Error::misconfigured(format!("store.url: {what} is not in this build (enable its cargo feature)"))
}

/// How a store URL reaches its server, for configuration checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reach {
    /// Every connection is TLS with the server's certificate and name verified (PostgreSQL with
    /// `sslmode=require`, `verify-ca` or `verify-full`; `rediss://`).
    pub tls: bool,
    /// Every host is loopback or a Unix socket (always for `memory:` and `sqlite://`).
    pub local: bool,
}

/// How the store at `url` is reached. An unreadable URL, or one of a store not in this build, is
/// `Misconfigured` (without the URL, which may hold a password).
pub fn reach(url: &str) -> Result<Reach, Error> {
    let unreadable = || Error::misconfigured("store.url could not be read as a store URL");
    if url == "memory:" || url.starts_with("sqlite://") {
        return Ok(Reach { tls: false, local: true });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return postgres::reach(url).map_err(|_| unreadable());
        #[cfg(not(feature = "postgres"))]
        return Err(unsupported("PostgreSQL"));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        #[cfg(feature = "redis")]
        {
            let client = redis_store::client(url, None).map_err(|_| unreadable())?;
            let loopback = |host: &str| {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                host.eq_ignore_ascii_case("localhost")
                    || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            };
            return Ok(match client.get_connection_info().addr() {
                redis::ConnectionAddr::Tcp(host, _) => Reach { tls: false, local: loopback(host) },
                redis::ConnectionAddr::TcpTls { host, .. } => Reach { tls: true, local: loopback(host) },
                _ => Reach { tls: false, local: true },
            });
        }
        #[cfg(not(feature = "redis"))]
        return Err(unsupported("Redis"));
    }
    Err(unreadable())
}

/// Opens the store `url` names: `memory:`, `sqlite://PATH`, `postgres://…`, `redis://…` or
/// `rediss://…`.
pub async fn open(url: &str, options: &StoreOptions, clock: Arc<dyn Clock>) -> Result<Arc<dyn SessionStore>, Error> {
    open_with_outbox(url, options, clock).await.map(|(store, _)| store)
}

/// [`open`], with the store's event outbox (the same backend, so events ride its writes). Every
/// store in this crate keeps one; the `Option` leaves room for one that does not.
pub async fn open_with_outbox(
    url: &str,
    options: &StoreOptions,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<dyn SessionStore>, Option<Arc<dyn Outbox>>), Error> {
    let _ = (options, &clock);
    if url == "memory:" {
        #[cfg(feature = "memory")]
        {
            let store = Arc::new(MemoryStore::with_clock(clock));
            return Ok((store.clone(), Some(store)));
        }
        #[cfg(not(feature = "memory"))]
        return Err(unsupported("the memory store"));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        #[cfg(feature = "sqlite")]
        {
            if path.is_empty() {
                return Err(Error::misconfigured("store.url: sqlite:// needs a file path (sqlite://bonin.db)"));
            }
            let cipher = Arc::new(RecordCipher::from_config(&options.encryption_keys)?);
            let store = Arc::new(SqliteStore::open(std::path::Path::new(path), cipher, clock)?);
            store.spawn_purger(options.purge_every);
            return Ok((store.clone(), Some(store)));
        }
        #[cfg(not(feature = "sqlite"))]
        return Err(unsupported(&format!("SQLite ({path})")));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let cipher = Arc::new(RecordCipher::from_config(&options.encryption_keys)?);
            let store = Arc::new(
                PostgresStore::connect_with_ca(url, options.pool_size, options.tls_ca_file.as_deref(), cipher, clock)
                    .await?,
            );
            store.spawn_purger(options.purge_every);
            return Ok((store.clone(), Some(store)));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(unsupported("PostgreSQL"));
    }
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        #[cfg(feature = "redis")]
        {
            let cipher = Arc::new(RecordCipher::from_config(&options.encryption_keys)?);
            let store = Arc::new(RedisStore::connect_with_ca(url, options.tls_ca_file.as_deref(), cipher).await?);
            return Ok((store.clone(), Some(store)));
        }
        #[cfg(not(feature = "redis"))]
        return Err(unsupported("Redis"));
    }
    Err(Error::misconfigured("store.url must be memory:, sqlite://PATH, postgres://…, redis://… or rediss://…"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_of_each_kind_of_store_url() {
        let of = |url| reach(url).map(|r| (r.tls, r.local)).unwrap();
        assert_eq!(of("memory:"), (false, true));
        assert_eq!(of("sqlite://bonin.db"), (false, true));
        #[cfg(feature = "redis")]
        {
            assert_eq!(of("redis://127.0.0.1:6379"), (false, true));
            assert_eq!(of("redis://:password@localhost/0"), (false, true));
            assert_eq!(of("redis://[::1]:6379"), (false, true));
            assert_eq!(of("redis://cache.internal:6379"), (false, false));
            assert_eq!(of("redis://10.0.0.7"), (false, false));
            assert_eq!(of("rediss://cache.internal:6380/0"), (true, false));
            assert_eq!(of("rediss://127.0.0.1:6380"), (true, true));
        }
        #[cfg(feature = "postgres")]
        assert_eq!(of("postgresql://bonin@db.internal/bonin?sslmode=verify-full"), (true, false));
        assert!(reach("mysql://db").is_err());
    }
}
