//! The Redis store: TTL-native keys, create-if-absent and compare-and-swap as Lua scripts, a
//! secondary key for the provider-key lookup. Runs on a single Redis node (the scripts touch the
//! provider-key index keys they compute).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use bonin_domain::{CasOutcome, ProviderKey, SessionStore, StoreError, Verification, VerificationId};
use redis::{AsyncCommands, Script, Value, aio::ConnectionManager};

use crate::{
    RecordCipher,
    record::{self, key_column},
};

const RECORD_PREFIX: &str = "bonin:v:";
const KEY_PREFIX: &str = "bonin:k:";
const TIMEOUT: Duration = Duration::from_secs(5);

const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[3] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'record', ARGV[2], 'pkey', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[4]) end
return 1
";

const CAS: &str = r"
local current = redis.call('HGET', KEYS[1], 'version')
if not current then return {0} end
if current ~= ARGV[1] then return {1, redis.call('HGET', KEYS[1], 'record')} end
local old = redis.call('HGET', KEYS[1], 'pkey')
if ARGV[4] ~= '' and ARGV[4] ~= old then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[6] then return {2} end
end
if old and old ~= '' and old ~= ARGV[4] then redis.call('DEL', ARGV[7] .. old) end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3], 'pkey', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[5]) end
return {3}
";

const DELETE: &str = r"
local existed = redis.call('EXISTS', KEYS[1])
local pkey = redis.call('HGET', KEYS[1], 'pkey')
redis.call('DEL', KEYS[1])
if pkey and pkey ~= '' and redis.call('GET', ARGV[2] .. pkey) == ARGV[1] then redis.call('DEL', ARGV[2] .. pkey) end
return existed
";

/// Sessions in Redis.
pub struct RedisStore {
    connection: ConnectionManager,
    cipher: Arc<RecordCipher>,
    create: Script,
    cas: Script,
    delete: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

fn redis_error(error: &redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("redis: {:?}", error.kind()).into())
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects to `url` with a manager that reconnects on its own.
    pub async fn connect(url: &str, cipher: Arc<RecordCipher>) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|_| StoreError::Unavailable("store.url is not a valid redis:// URL".into()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let connection = tokio::time::timeout(TIMEOUT, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| StoreError::Unavailable("redis: connect timed out".into()))?
            .map_err(|e| redis_error(&e))?;
        Ok(Self { connection, cipher, create: Script::new(CREATE), cas: Script::new(CAS), delete: Script::new(DELETE) })
    }

    async fn timed<T>(&self, work: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        tokio::time::timeout(TIMEOUT, work).await.map_err(|_| StoreError::Unavailable("redis: timed out".into()))?
    }

    async fn record_of(&self, id: &str) -> Result<Option<Verification>, StoreError> {
        let mut connection = self.connection.clone();
        let sealed: Option<Vec<u8>> =
            connection.hget(format!("{RECORD_PREFIX}{id}"), "record").await.map_err(|e| redis_error(&e))?;
        sealed.map(|sealed| record::open(&self.cipher, id, &sealed)).transpose()
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, verification: &Verification, ttl: Duration) -> Result<(), StoreError> {
        self.timed(async {
            let sealed = record::seal(&self.cipher, verification)?;
            let id = verification.id().as_str();
            let key = verification.provider_key().map(key_column).unwrap_or_default();
            let mut connection = self.connection.clone();
            let created: i64 = self
                .create
                .key(format!("{RECORD_PREFIX}{id}"))
                .key(format!("{KEY_PREFIX}{key}"))
                .arg(verification.version().to_string())
                .arg(sealed)
                .arg(&key)
                .arg(ttl_ms(ttl))
                .arg(id)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            if created == 1 { Ok(()) } else { Err(StoreError::AlreadyExists) }
        })
        .await
    }

    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        self.timed(self.record_of(id.as_str())).await
    }

    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let id: Option<String> =
                connection.get(format!("{KEY_PREFIX}{}", key_column(key))).await.map_err(|e| redis_error(&e))?;
            match id {
                Some(id) => self.record_of(&id).await,
                None => Ok(None),
            }
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
            let key = next.provider_key().map(key_column).unwrap_or_default();
            let mut connection = self.connection.clone();
            let reply: Vec<Value> = self
                .cas
                .key(format!("{RECORD_PREFIX}{id}"))
                .key(format!("{KEY_PREFIX}{key}"))
                .arg(expected_version.to_string())
                .arg(next.version().to_string())
                .arg(sealed)
                .arg(&key)
                .arg(ttl_ms(ttl))
                .arg(id)
                .arg(KEY_PREFIX)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            match reply.as_slice() {
                [Value::Int(3)] => Ok(CasOutcome::Swapped),
                [Value::Int(0)] => Ok(CasOutcome::Conflict(None)),
                [Value::Int(1), Value::BulkString(sealed)] => {
                    Ok(CasOutcome::Conflict(Some(Box::new(record::open(&self.cipher, id, sealed)?))))
                }
                [Value::Int(2)] => Err(StoreError::AlreadyExists),
                _ => Err(StoreError::Corrupt("unexpected reply from the compare-and-swap script".into())),
            }
        })
        .await
    }

    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let existed: i64 = self
                .delete
                .key(format!("{RECORD_PREFIX}{}", id.as_str()))
                .arg(id.as_str())
                .arg(KEY_PREFIX)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(existed == 1)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let _: String = redis::cmd("PING").query_async(&mut connection).await.map_err(|e| redis_error(&e))?;
            Ok(())
        })
        .await
    }
}
