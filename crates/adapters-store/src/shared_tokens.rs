//! Provider tokens shared between instances through Redis or PostgreSQL: one instance fetches
//! under a short lock, the others read what it stored. Tokens are sealed at rest like sessions.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use aws_lc_rs::digest;
use bonin_domain::{
    Clock, Dependency, Error, ExposeSecret, IssuedToken, OsRng, Rng, SecretString, SharedTokens, StoreError,
    TokenSource,
};

use crate::{RecordCipher, record::now_ms};

/// How long a lock holder may take to fetch a token before others stop waiting for it.
const LOCK_TTL: Duration = Duration::from_secs(15);
/// A shared token with less life than this left is fetched anew.
const MIN_REMAINING: Duration = Duration::from_secs(60);

#[async_trait]
trait Backend: Send + Sync {
    async fn read(&self, name: &str) -> Result<Option<(Vec<u8>, i64)>, StoreError>;
    async fn write(&self, name: &str, sealed: Vec<u8>, expires_ms: i64, ttl: Duration) -> Result<(), StoreError>;
    async fn try_lock(&self, name: &str, holder: &str, now_ms: i64) -> Result<bool, StoreError>;
    async fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// [`SharedTokens`] over a store backend.
pub struct SharedTokenStore {
    backend: Box<dyn Backend>,
    cipher: Arc<RecordCipher>,
    clock: Arc<dyn Clock>,
    /// Per name, the digest of the token this instance last handed out.
    handed: Mutex<HashMap<String, Vec<u8>>>,
}

impl std::fmt::Debug for SharedTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTokenStore").finish_non_exhaustive()
    }
}

fn digest_of(token: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, token.as_bytes()).as_ref().to_vec()
}

fn unavailable(error: StoreError) -> Error {
    match error {
        StoreError::Unavailable(reason) => Error::Unavailable { dependency: Dependency::Store, reason },
        other => Error::from(other),
    }
}

impl SharedTokenStore {
    /// Shares tokens through the store at `url` (`redis://…`, `rediss://…` or `postgres://…`;
    /// `tls_ca_file` as for the session store).
    pub async fn open(
        url: &str,
        tls_ca_file: Option<&std::path::Path>,
        cipher: Arc<RecordCipher>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let _ = tls_ca_file;
        let backend: Box<dyn Backend> = if url.starts_with("redis://") || url.starts_with("rediss://") {
            #[cfg(feature = "redis")]
            {
                Box::new(RedisTokens::connect(url, tls_ca_file).await?)
            }
            #[cfg(not(feature = "redis"))]
            return Err(Error::misconfigured("store.share_tokens: Redis is not in this build"));
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                Box::new(PostgresTokens { pool: crate::postgres::pool(url, 2, tls_ca_file).await? })
            }
            #[cfg(not(feature = "postgres"))]
            return Err(Error::misconfigured("store.share_tokens: PostgreSQL is not in this build"));
        } else {
            return Err(Error::misconfigured(
                "store.share_tokens needs store.url to be redis://…, rediss://… or postgres://…",
            ));
        };
        Ok(Self { backend, cipher, clock, handed: Mutex::new(HashMap::new()) })
    }

    fn already_handed(&self, name: &str, token: &str) -> bool {
        self.handed.lock().unwrap_or_else(PoisonError::into_inner).get(name) == Some(&digest_of(token))
    }

    fn hand_out(&self, name: &str, token: SecretString, expires_ms: i64) -> IssuedToken {
        self.handed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), digest_of(token.expose_secret()));
        let left = u64::try_from(expires_ms.saturating_sub(now_ms(self.clock.as_ref()))).unwrap_or(0);
        IssuedToken { value: token, lifetime: Duration::from_millis(left) }
    }

    /// The shared token, if it has enough life left and this instance has not handed it out yet.
    async fn usable(&self, name: &str) -> Result<Option<(SecretString, i64)>, Error> {
        let Some((sealed, expires_ms)) = self.backend.read(name).await.map_err(unavailable)? else { return Ok(None) };
        let min = i64::try_from(MIN_REMAINING.as_millis()).unwrap_or(i64::MAX);
        if expires_ms - now_ms(self.clock.as_ref()) <= min {
            return Ok(None);
        }
        let token = String::from_utf8(self.cipher.open(name, &sealed).map_err(Error::from)?)
            .map_err(|_| Error::from(StoreError::Corrupt("a shared token is not text".into())))?;
        if self.already_handed(name, &token) {
            return Ok(None);
        }
        Ok(Some((SecretString::from(token), expires_ms)))
    }
}

#[async_trait]
impl SharedTokens for SharedTokenStore {
    async fn fetch_shared(&self, name: &str, source: &dyn TokenSource) -> Result<IssuedToken, Error> {
        let mut holder = [0u8; 16];
        OsRng.fill_bytes(&mut holder)?;
        let holder: String = holder.iter().map(|b| format!("{b:02x}")).collect();
        let give_up = std::time::Instant::now() + LOCK_TTL;
        loop {
            if let Some((token, expires_ms)) = self.usable(name).await? {
                return Ok(self.hand_out(name, token, expires_ms));
            }
            if self.backend.try_lock(name, &holder, now_ms(self.clock.as_ref())).await.map_err(unavailable)? {
                let outcome = async {
                    // Another instance may have stored a fresh token just before the lock was ours.
                    if let Some((token, expires_ms)) = self.usable(name).await? {
                        return Ok(self.hand_out(name, token, expires_ms));
                    }
                    let sent_at = now_ms(self.clock.as_ref());
                    let issued = source.fetch().await?;
                    let lifetime_ms = i64::try_from(issued.lifetime.as_millis()).unwrap_or(i64::MAX);
                    let expires_ms = sent_at.saturating_add(lifetime_ms);
                    let sealed =
                        self.cipher.seal(name, issued.value.expose_secret().as_bytes()).map_err(Error::from)?;
                    self.backend.write(name, sealed, expires_ms, issued.lifetime).await.map_err(unavailable)?;
                    Ok(self.hand_out(name, issued.value, expires_ms))
                }
                .await;
                let _ = self.backend.unlock(name, &holder).await;
                return outcome;
            }
            if std::time::Instant::now() >= give_up {
                // The lock holder is stuck: fetch without sharing rather than block the caller.
                return source.fetch().await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[cfg(feature = "redis")]
struct RedisTokens {
    connection: redis::aio::ConnectionManager,
    unlock: redis::Script,
}

#[cfg(feature = "redis")]
impl RedisTokens {
    async fn connect(url: &str, tls_ca_file: Option<&std::path::Path>) -> Result<Self, Error> {
        let client = crate::redis_store::client(url, tls_ca_file).map_err(|e| match e {
            StoreError::Unavailable(reason) => Error::misconfigured(reason),
            other => Error::from(other),
        })?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let connection = redis::aio::ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|_| unavailable(StoreError::Unavailable("redis: connect failed".into())))?;
        let unlock = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
        );
        Ok(Self { connection, unlock })
    }
}

#[cfg(feature = "redis")]
fn redis_error(error: &redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {:?}", error.kind()).into())
}

#[cfg(feature = "redis")]
#[async_trait]
impl Backend for RedisTokens {
    async fn read(&self, name: &str) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let mut connection = self.connection.clone();
        let (sealed, expires): (Option<Vec<u8>>, Option<i64>) = redis::cmd("HMGET")
            .arg(format!("bonin:t:{name}"))
            .arg("sealed")
            .arg("expires")
            .query_async(&mut connection)
            .await
            .map_err(|e| redis_error(&e))?;
        Ok(sealed.zip(expires))
    }

    async fn write(&self, name: &str, sealed: Vec<u8>, expires_ms: i64, ttl: Duration) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let key = format!("bonin:t:{name}");
        redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("sealed")
            .arg(sealed)
            .arg("expires")
            .arg(expires_ms)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| redis_error(&e))
    }

    async fn try_lock(&self, name: &str, holder: &str, _now_ms: i64) -> Result<bool, StoreError> {
        let mut connection = self.connection.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("bonin:tl:{name}"))
            .arg(holder)
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(LOCK_TTL.as_millis()).unwrap_or(15_000))
            .query_async(&mut connection)
            .await
            .map_err(|e| redis_error(&e))?;
        Ok(set.is_some())
    }

    async fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        self.unlock
            .key(format!("bonin:tl:{name}"))
            .arg(holder)
            .invoke_async::<i64>(&mut connection)
            .await
            .map(|_| ())
            .map_err(|e| redis_error(&e))
    }
}

#[cfg(feature = "postgres")]
struct PostgresTokens {
    pool: deadpool_postgres::Pool,
}

#[cfg(feature = "postgres")]
fn pg_error(_: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable("postgres: shared token query failed".into())
}

#[cfg(feature = "postgres")]
impl PostgresTokens {
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|_| StoreError::Unavailable("postgres: no connection".into()))
    }
}

#[cfg(feature = "postgres")]
#[async_trait]
impl Backend for PostgresTokens {
    async fn read(&self, name: &str) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT sealed, expires_at FROM bonin_tokens WHERE name = $1", &[&name])
            .await
            .map_err(pg_error)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    async fn write(&self, name: &str, sealed: Vec<u8>, expires_ms: i64, _ttl: Duration) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO bonin_tokens (name, sealed, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed, expires_at = EXCLUDED.expires_at",
                &[&name, &sealed, &expires_ms],
            )
            .await
            .map(|_| ())
            .map_err(pg_error)
    }

    async fn try_lock(&self, name: &str, holder: &str, now_ms: i64) -> Result<bool, StoreError> {
        let until = now_ms.saturating_add(i64::try_from(LOCK_TTL.as_millis()).unwrap_or(15_000));
        let taken = self
            .client()
            .await?
            .execute(
                "INSERT INTO bonin_token_locks (name, holder, until) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                 WHERE bonin_token_locks.until < $4",
                &[&name, &holder, &until, &now_ms],
            )
            .await
            .map_err(pg_error)?;
        Ok(taken == 1)
    }

    async fn unlock(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("DELETE FROM bonin_token_locks WHERE name = $1 AND holder = $2", &[&name, &holder])
            .await
            .map(|_| ())
            .map_err(pg_error)
    }
}
