//! The Redis store: TTL-native keys, create-if-absent and compare-and-swap as Lua scripts, a
//! secondary key for the provider-key lookup. Runs on a single Redis node (the scripts touch the
//! provider-key index keys they compute). `rediss://` is Redis over TLS (rustls on aws-lc-rs, the
//! server's certificate and name always verified).
//!
//! The event outbox lives beside the records: a hash of events by id, a sorted set of ids by the
//! time each is next claimable (its due time, or the end of its claim), a hash of claim holders and
//! a set of internal ids. The create and compare-and-swap scripts append events in the same script
//! as the record write, so both happen or neither.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use bonin_domain::{
    CasOutcome, Outbox, OutboxEvent, ProviderKey, SessionStore, StoreError, Verification, VerificationId,
};
use redis::{AsyncCommands, Script, Value, aio::ConnectionManager};

use crate::{
    RecordCipher,
    record::{self, Seen, key_column},
};

const RECORD_PREFIX: &str = "bonin:v:";
const KEY_PREFIX: &str = "bonin:k:";
const TIMEOUT: Duration = Duration::from_secs(5);
const OUTBOX_EVENTS: &str = "bonin:outbox:events";
const OUTBOX_DUE: &str = "bonin:outbox:due";
const OUTBOX_INTERNAL: &str = "bonin:outbox:internal";
const OUTBOX_CLAIMS: &str = "bonin:outbox:claims";
const LEASE_PREFIX: &str = "bonin:lease:";

/// Appends the events given as `ARGV[first]` (a count) and then four arguments each (id, due in
/// Unix ms, JSON, internal flag) to the outbox keys `KEYS[3]` (events), `KEYS[4]` (due), `KEYS[5]`
/// (internal ids). An id already there is kept.
const APPEND: &str = r"
local function append(first)
  local n = tonumber(ARGV[first])
  for i = 0, n - 1 do
    local base = first + 1 + i * 4
    local id = ARGV[base]
    if redis.call('HSETNX', KEYS[3], id, ARGV[base + 2]) == 1 then
      redis.call('ZADD', KEYS[4], ARGV[base + 1], id)
      if ARGV[base + 3] == '1' then redis.call('SADD', KEYS[5], id) end
    end
  end
end
";

const ENQUEUE: &str = r"
append(1)
return 1
";

const CLAIM: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[3], id)
  if json then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HSET', KEYS[2], id, ARGV[1])
    table.insert(out, json)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
  end
end
return out
";

const RESCHEDULE: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
";

const REMOVE: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
";

const LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if (not holder) or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 1
";

const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[3] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'record', ARGV[2], 'pkey', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[4]) end
append(6)
return 1
";

const CAS: &str = r"
local current = redis.call('HGET', KEYS[1], 'version')
if not current then return {0} end
if current ~= ARGV[1] then return {1, redis.call('HGET', KEYS[1], 'record'), current} end
local old = redis.call('HGET', KEYS[1], 'pkey')
if ARGV[4] ~= '' and ARGV[4] ~= old then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[6] then return {2} end
end
if old and old ~= '' and old ~= ARGV[4] then redis.call('DEL', ARGV[7] .. old) end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3], 'pkey', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[6], 'PX', ARGV[5]) end
append(8)
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
    enqueue: Script,
    claim: Script,
    reschedule: Script,
    remove: Script,
    lease: Script,
    release: Script,
    seen: Seen,
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

/// Adds the outbox keys (`KEYS[3..=5]`) and the events (a count, then four arguments each) to a
/// script invocation.
fn with_events(invocation: &mut redis::ScriptInvocation<'_>, events: &[OutboxEvent]) -> Result<(), StoreError> {
    invocation.key(OUTBOX_EVENTS).key(OUTBOX_DUE).key(OUTBOX_INTERNAL).arg(events.len());
    for event in events {
        invocation.arg(&event.id).arg(unix_ms(event.due_at)).arg(event_json(event)?).arg(if event.is_internal() {
            "1"
        } else {
            "0"
        });
    }
    Ok(())
}

fn unix_ms(at: bonin_domain::Timestamp) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn event_json(event: &OutboxEvent) -> Result<String, StoreError> {
    serde_json::to_string(event).map_err(|_| StoreError::Corrupt("an event could not be serialized".into()))
}

fn version_of(text: &[u8]) -> Result<u64, StoreError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("a stored record has an unreadable version".into()))
}

/// The client for `url`: `redis://` plain, `rediss://` over TLS with the server's certificate
/// verified against `ca_file` (PEM) when given, else the system's roots.
pub(crate) fn client(url: &str, ca_file: Option<&std::path::Path>) -> Result<redis::Client, StoreError> {
    let invalid = || StoreError::Unavailable("store.url is not a valid redis:// or rediss:// URL".into());
    if !url.starts_with("rediss://") {
        return redis::Client::open(url).map_err(|_| invalid());
    }
    // The redis crate builds its rustls configuration from the process-wide provider; make it
    // aws-lc-rs (the workspace's) unless the host application chose one already.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
    let root_cert = match ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(|_| StoreError::Unavailable("store.tls_ca_file could not be read".into()))?,
        ),
        None => None,
    };
    redis::Client::build_with_tls(url, redis::TlsCertificates { client_tls: None, root_cert }).map_err(|_| invalid())
}

impl RedisStore {
    /// Connects to `url` with a manager that reconnects on its own.
    pub async fn connect(url: &str, cipher: Arc<RecordCipher>) -> Result<Self, StoreError> {
        Self::connect_with_ca(url, None, cipher).await
    }

    /// [`RedisStore::connect`], trusting the CA certificates in `ca_file` (PEM) for `rediss://`.
    pub async fn connect_with_ca(
        url: &str,
        ca_file: Option<&std::path::Path>,
        cipher: Arc<RecordCipher>,
    ) -> Result<Self, StoreError> {
        let client = client(url, ca_file)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let connection = tokio::time::timeout(TIMEOUT, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| StoreError::Unavailable("redis: connect timed out".into()))?
            .map_err(|e| redis_error(&e))?;
        Ok(Self {
            connection,
            cipher,
            create: Script::new(&format!("{APPEND}{CREATE}")),
            cas: Script::new(&format!("{APPEND}{CAS}")),
            delete: Script::new(DELETE),
            enqueue: Script::new(&format!("{APPEND}{ENQUEUE}")),
            claim: Script::new(CLAIM),
            reschedule: Script::new(RESCHEDULE),
            remove: Script::new(REMOVE),
            lease: Script::new(LEASE),
            release: Script::new(RELEASE),
            seen: Seen::default(),
        })
    }

    async fn timed<T>(&self, work: impl std::future::Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        tokio::time::timeout(TIMEOUT, work).await.map_err(|_| StoreError::Unavailable("redis: timed out".into()))?
    }

    /// The record of `id`, checked against the versions seen before `began`.
    async fn record_of(&self, id: &str, began: u64) -> Result<Option<Verification>, StoreError> {
        let mut connection = self.connection.clone();
        let (version, sealed): (Option<Vec<u8>>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(format!("{RECORD_PREFIX}{id}"))
            .arg("version")
            .arg("record")
            .query_async(&mut connection)
            .await
            .map_err(|e| redis_error(&e))?;
        let found = match (version, sealed) {
            (Some(version), Some(sealed)) => Some(record::open(&self.cipher, id, version_of(&version)?, &sealed)?),
            (None, None) => None,
            _ => return Err(StoreError::Corrupt("a stored record is incomplete".into())),
        };
        self.seen.read_opt(began, found)
    }
}

#[async_trait]
impl SessionStore for RedisStore {
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
            let key = verification.provider_key().map(key_column).unwrap_or_default();
            let mut connection = self.connection.clone();
            let mut invocation = self.create.prepare_invoke();
            invocation
                .key(format!("{RECORD_PREFIX}{id}"))
                .key(format!("{KEY_PREFIX}{key}"))
                .arg(verification.version().to_string())
                .arg(sealed)
                .arg(&key)
                .arg(ttl_ms(ttl))
                .arg(id);
            with_events(&mut invocation, events)?;
            let created: i64 = invocation.invoke_async(&mut connection).await.map_err(|e| redis_error(&e))?;
            if created != 1 {
                return Err(StoreError::AlreadyExists);
            }
            self.seen.created(verification);
            Ok(())
        })
        .await
    }

    async fn get(&self, id: &VerificationId) -> Result<Option<Verification>, StoreError> {
        self.timed(self.record_of(id.as_str(), self.seen.before_read())).await
    }

    async fn find_by_provider_key(&self, key: &ProviderKey) -> Result<Option<Verification>, StoreError> {
        self.timed(async {
            let began = self.seen.before_read();
            let mut connection = self.connection.clone();
            let id: Option<String> =
                connection.get(format!("{KEY_PREFIX}{}", key_column(key))).await.map_err(|e| redis_error(&e))?;
            match id {
                Some(id) => self.record_of(&id, began).await,
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
            let began = self.seen.before_read();
            let sealed = record::seal(&self.cipher, next)?;
            let id = next.id().as_str();
            let key = next.provider_key().map(key_column).unwrap_or_default();
            let mut connection = self.connection.clone();
            let mut invocation = self.cas.prepare_invoke();
            invocation
                .key(format!("{RECORD_PREFIX}{id}"))
                .key(format!("{KEY_PREFIX}{key}"))
                .arg(expected_version.to_string())
                .arg(next.version().to_string())
                .arg(sealed)
                .arg(&key)
                .arg(ttl_ms(ttl))
                .arg(id)
                .arg(KEY_PREFIX);
            with_events(&mut invocation, events)?;
            let reply: Vec<Value> = invocation.invoke_async(&mut connection).await.map_err(|e| redis_error(&e))?;
            match reply.as_slice() {
                [Value::Int(3)] => {
                    self.seen.swapped(next);
                    Ok(CasOutcome::Swapped)
                }
                [Value::Int(0)] => Ok(CasOutcome::Conflict(None)),
                [Value::Int(1), Value::BulkString(sealed), Value::BulkString(version)] => {
                    let current = record::open(&self.cipher, id, version_of(version)?, sealed)?;
                    Ok(CasOutcome::Conflict(Some(Box::new(self.seen.read(began, current)?))))
                }
                [Value::Int(2)] => Err(StoreError::AlreadyExists),
                _ => Err(StoreError::Corrupt("unexpected reply from the compare-and-swap script".into())),
            }
        })
        .await
    }

    async fn delete(&self, id: &VerificationId) -> Result<bool, StoreError> {
        self.seen.deleted(id.as_str());
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

#[async_trait]
impl Outbox for RedisStore {
    async fn enqueue(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let mut invocation = self.enqueue.prepare_invoke();
            // KEYS[1..=2] are the record keys in the other scripts; unused here.
            invocation.key(OUTBOX_EVENTS).key(OUTBOX_EVENTS);
            with_events(&mut invocation, events)?;
            let _: i64 = invocation.invoke_async(&mut connection).await.map_err(|e| redis_error(&e))?;
            Ok(())
        })
        .await
    }

    async fn claim(&self, holder: &str, limit: usize, lease: Duration) -> Result<Vec<OutboxEvent>, StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let claimed: Vec<String> = self
                .claim
                .key(OUTBOX_DUE)
                .key(OUTBOX_CLAIMS)
                .key(OUTBOX_EVENTS)
                .arg(holder)
                .arg(ttl_ms(lease))
                .arg(limit)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(claimed.iter().filter_map(|text| crate::record::claimed_event(text)).collect())
        })
        .await
    }

    async fn reschedule(&self, event: &OutboxEvent, holder: &str) -> Result<bool, StoreError> {
        let json = event_json(event)?;
        self.timed(async {
            let mut connection = self.connection.clone();
            let done: i64 = self
                .reschedule
                .key(OUTBOX_CLAIMS)
                .key(OUTBOX_DUE)
                .key(OUTBOX_EVENTS)
                .arg(&event.id)
                .arg(holder)
                .arg(unix_ms(event.due_at))
                .arg(json)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(done == 1)
        })
        .await
    }

    async fn remove(&self, id: &str, holder: &str) -> Result<bool, StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let done: i64 = self
                .remove
                .key(OUTBOX_CLAIMS)
                .key(OUTBOX_DUE)
                .key(OUTBOX_EVENTS)
                .key(OUTBOX_INTERNAL)
                .arg(id)
                .arg(holder)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(done == 1)
        })
        .await
    }

    async fn depth(&self) -> Result<u64, StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let (all, internal): (u64, u64) = redis::pipe()
                .atomic()
                .hlen(OUTBOX_EVENTS)
                .scard(OUTBOX_INTERNAL)
                .query_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(all.saturating_sub(internal))
        })
        .await
    }

    async fn hold_lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let held: i64 = self
                .lease
                .key(format!("{LEASE_PREFIX}{name}"))
                .arg(holder)
                .arg(ttl_ms(ttl))
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(held == 1)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.timed(async {
            let mut connection = self.connection.clone();
            let _: i64 = self
                .release
                .key(format!("{LEASE_PREFIX}{name}"))
                .arg(holder)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(())
        })
        .await
    }
}
