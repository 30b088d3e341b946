//! The SQLite store against the conformance suite, plus what only a file can show.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod support;

use std::{path::PathBuf, sync::Arc, time::Duration};

use bonin_adapters_store::{SqliteStore, conformance::RawRows};
use bonin_domain::*;
use support::{ManualHarness, cipher, manual_clock};

fn temp_db() -> PathBuf {
    let id = VerificationId::generate(&OsRng).unwrap();
    std::env::temp_dir().join(format!("bonin-test-{id}.db"))
}

async fn harness() -> ManualHarness {
    let clock = manual_clock();
    let store = SqliteStore::open(&temp_db(), cipher(), clock.clone()).unwrap();
    ManualHarness { store: Arc::new(store), clock }
}

bonin_adapters_store::store_conformance_tests!(harness().await);

/// The database file opened behind the store's back.
struct RawFile(std::sync::Mutex<rusqlite::Connection>);

#[async_trait::async_trait]
impl RawRows for RawFile {
    async fn read(&self, id: &VerificationId) -> (u64, Vec<u8>) {
        let conn = self.0.lock().unwrap();
        let (version, sealed): (i64, Vec<u8>) = conn
            .query_row("SELECT version, record FROM verifications WHERE id = ?1", [id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        (u64::try_from(version).unwrap(), sealed)
    }
    async fn write(&self, id: &VerificationId, version: u64, sealed: &[u8]) {
        let conn = self.0.lock().unwrap();
        let changed = conn
            .execute(
                "UPDATE verifications SET version = ?1, record = ?2 WHERE id = ?3",
                rusqlite::params![i64::try_from(version).unwrap(), sealed, id.as_str()],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
}

#[tokio::test]
async fn a_rolled_back_record_is_refused() {
    let path = temp_db();
    let clock = manual_clock();
    let harness = ManualHarness { store: Arc::new(SqliteStore::open(&path, cipher(), clock.clone()).unwrap()), clock };
    let other = Arc::new(SqliteStore::open(&path, cipher(), harness.clock.clone()).unwrap());
    let raw = RawFile(std::sync::Mutex::new(rusqlite::Connection::open(&path).unwrap()));
    bonin_adapters_store::conformance::rolled_back_records_are_refused(&harness, &raw, other).await;
}

fn verified_record(clock: &ManualClock) -> Verification {
    let id = VerificationId::generate(&OsRng).unwrap();
    let mut identity = VerifiedIdentity::new(ProviderId::Nice, clock.now());
    identity.name = Some(Name::new("홍길동").unwrap());
    identity.phone = Some(PhoneNumber::new("01012345678").unwrap());
    Verification::start(id, ProviderId::Nice, Method::Window, FlowRules::new(Duration::from_secs(60 * 60)), clock.now())
        .with_provider_session(
            Some(ProviderKey::new(ProviderId::Nice, "tvid-at-rest")),
            ProviderState::new(r#"{"key":"KEYMATERIAL-0123"}"#),
            None,
        )
}

#[tokio::test]
async fn sessions_survive_a_reopen_and_nothing_readable_is_on_disk() {
    let path = temp_db();
    let clock = manual_clock();
    let record = verified_record(&clock);
    {
        let store = SqliteStore::open(&path, cipher(), clock.clone()).unwrap();
        store.create(&record, Duration::from_secs(600)).await.unwrap();
    }
    let reopened = SqliteStore::open(&path, cipher(), clock.clone()).unwrap();
    assert_eq!(reopened.get(record.id()).await.unwrap().as_ref(), Some(&record));
    drop(reopened);
    let mut bytes = std::fs::read(&path).unwrap();
    for extra in ["-wal", "-shm"] {
        let mut name = path.clone().into_os_string();
        name.push(extra);
        bytes.extend(std::fs::read(PathBuf::from(name)).unwrap_or_default());
    }
    for needle in ["KEYMATERIAL-0123".as_bytes(), "홍길동".as_bytes(), b"01012345678"] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle), "plaintext found on disk");
    }
}

#[tokio::test]
async fn a_wrong_key_cannot_read_and_expired_rows_are_purged() {
    let path = temp_db();
    let clock = manual_clock();
    let store = SqliteStore::open(&path, cipher(), clock.clone()).unwrap();
    let record = verified_record(&clock);
    store.create(&record, Duration::from_secs(60)).await.unwrap();
    let other_key = Arc::new(
        bonin_adapters_store::RecordCipher::from_config(&[SecretString::from(format!(
            "1:{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32])
        ))])
        .unwrap(),
    );
    let stranger = SqliteStore::open(&path, other_key, clock.clone()).unwrap();
    assert!(matches!(stranger.get(record.id()).await, Err(StoreError::Corrupt(_))));
    clock.advance(Duration::from_secs(61));
    assert_eq!(store.purge_expired().await.unwrap(), 1);
}

#[tokio::test]
async fn records_sealed_before_version_binding_are_read_and_rewritten() {
    let path = temp_db();
    let clock = manual_clock();
    let store = SqliteStore::open(&path, cipher(), clock.clone()).unwrap();
    let raw = RawFile(std::sync::Mutex::new(rusqlite::Connection::open(&path).unwrap()));
    let record = verified_record(&clock);
    store.create(&record, Duration::from_secs(600)).await.unwrap();
    // The row as the store wrote it before records were bound to their version (format 1).
    let legacy = cipher().seal(record.id().as_str(), &serde_json::to_vec(&record).unwrap()).unwrap();
    assert_eq!(legacy[0], 1);
    raw.write(record.id(), 0, &legacy).await;
    let fresh = SqliteStore::open(&path, cipher(), clock.clone()).unwrap();
    assert_eq!(fresh.get(record.id()).await.unwrap().as_ref(), Some(&record));
    // Its version column is still checked against the version inside.
    raw.write(record.id(), 1, &legacy).await;
    assert!(matches!(fresh.get(record.id()).await, Err(StoreError::Corrupt(_))));
    raw.write(record.id(), 0, &legacy).await;
    // The next change rewrites it bound to its version.
    let next = record.verified(clock.now(), VerifiedIdentity::new(ProviderId::Nice, clock.now())).unwrap();
    assert_eq!(fresh.compare_and_swap(0, &next, Duration::from_secs(600)).await.unwrap(), CasOutcome::Swapped);
    let (version, sealed) = raw.read(record.id()).await;
    assert_eq!((version, sealed[0]), (1, 2));
    assert_eq!(fresh.get(record.id()).await.unwrap().as_ref(), Some(&next));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_conformance() {
    let path = temp_db();
    let clock = manual_clock();
    let store = Arc::new(SqliteStore::open(&path, cipher(), clock.clone()).unwrap());
    let other = Arc::new(SqliteStore::open(&path, cipher(), clock.clone()).unwrap());
    let harness = ManualHarness { store: store.clone(), clock };
    bonin_adapters_store::conformance::outbox_conformance(&harness, store, other).await;
}

/// An event this version cannot read (a newer version's, or edited by hand) is skipped and kept:
/// the events due after it are still claimed.
#[tokio::test]
async fn an_unreadable_event_does_not_hold_back_the_others() {
    let path = temp_db();
    let clock = manual_clock();
    let store = SqliteStore::open(&path, cipher(), clock.clone()).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let due = i64::try_from((clock.now() - time::OffsetDateTime::UNIX_EPOCH).whole_milliseconds()).unwrap() - 1000;
    raw.execute(
        "INSERT INTO outbox (id, due_at, internal, event) VALUES ('evt_unreadable', ?1, 0, '{\"id\":\"evt_unreadable\",\"shape\":2}')",
        [due],
    )
    .unwrap();
    let data = EventData::signing("esignon", None, "wf-readable", "completed");
    let readable = OutboxEvent::new(events::generate_event_id(&OsRng).unwrap(), "signing.completed", data, clock.now());
    store.enqueue(std::slice::from_ref(&readable)).await.unwrap();

    let claimed = store.claim("instance-a", 10, Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [readable.id.as_str()]);
    assert_eq!(store.depth().await.unwrap(), 2, "the unreadable event is kept");
}
