//! The Toss 본인확인 (tosscert) simulator: OAuth `POST /token`, the request / status / result calls
//! of both path families (`/api/v2/sign/user/auth/id/*` 본인확인 and `/api/v2/sign/user/auth/*`
//! 본인인증), the "Toss app" as an `authUrl` page and as control endpoints, all on one router.
//!
//! Written from `shared/protocols/toss.md` and `shared/vectors/toss/`, independently of the adapter.
//! The flow: the server asks (`request` → `txId`), the person approves in the app (the page, or
//! [`TossSimulator::approve`] / `POST /_sandbox/toss/approve`), the server polls `status` and reads
//! `result` under a new session. There is no callback.
//!
//! Where the reference is silent the simulator is strict (each point a configurable or a code in
//! [`codes`]):
//!
//! - `/token` takes `application/x-www-form-urlencoded` only, each parameter once, `grant_type`
//!   `client_credentials`, `scope` `ca`, and the client credentials in the body (an `Authorization`
//!   header there is refused). Refusals are RFC 6749 errors (`{"error", "error_description"}`:
//!   `invalid_client` 401, `invalid_request`, `unsupported_grant_type`, `invalid_scope` 400); Toss
//!   does not publish its own. Every call issues a new token ([`TossSimulator::tokens_issued`]); a
//!   token lives [`TossSimConfig::expires_in`] seconds on the simulator's clock.
//! - API calls need `Authorization: Bearer <token>` (scheme case-insensitive, as Spring reads it),
//!   then `Content-Type: application/json` (else HTTP 415, [`codes::INVALID_REQUEST`]), then a JSON
//!   object. A bad token is `CE1000` with HTTP [`TossSimConfig::invalid_token_status`] (401: the
//!   third-party Spring starter `herbaccara/spring-boot-starter-toss-cert` re-issues its token on a
//!   401); business errors are HTTP 200 + `FAIL` (or 400,
//!   [`TossSimConfig::business_errors_as_200`]).
//! - `requestType` `USER_NONE` takes no user fields and no `PUSH` (there is no one to push to);
//!   `USER_PERSONAL` needs `triggerType` (`APP_SCHEME` or `PUSH`), `sessionKey` and the encrypted
//!   `userName`, `userPhone` (`01` + 8–9 digits), `userBirthday` (a real `YYYYMMDD` date), each
//!   sealed under that `sessionKey`'s session (same sessionId), and a subject that is a Toss user
//!   (a persona, else [`codes::NO_SUCH_USER`]). `APP_SCHEME` needs `requestUrl` (where the app
//!   returns); `requestUrl`, when sent, is an absolute `http(s)` or app-scheme URL.
//! - A session is used once: a `sessionKey` whose sessionId was seen before (the request's, an
//!   earlier result read's, any other request's) is [`codes::SESSION_REUSED`]; so is one reusing
//!   the request session's AES key. sessionIds are lowercase UUIDv4s, keys 32 bytes, IVs 12 bytes,
//!   OAEP SHA-1 only (the pre-2022 SHA-256 / 16-byte-IV SDK is refused).
//! - The request session is checked as Toss's SDK builds it; the versioned prefix the SDK may write
//!   (`v1_0.0.14$`) is accepted on input, only plain `v1$` is emitted.
//! - `txId`s belong to the client that made them and to their path family: another client's or the
//!   other family's `txId` is `CE3100`.
//! - `authUrl` comes only with `USER_NONE` (that starter's model: "only when requestType is
//!   USER_NONE"), unless [`TossSimConfig::auth_url_for_personal`]; the app stand-in page of a
//!   `USER_PERSONAL` request is [`TossSimulator::page_path`] or `POST /_sandbox/toss/open`.
//!   `iosAppUri` is the *string* `"null"` (the reference warns it may be), and with `PUSH` all
//!   three app links are.
//! - Status: `REQUESTED` until the page or the app is opened, `IN_PROGRESS` after, `COMPLETED` on
//!   approval, `EXPIRED` once [`TossSimConfig::request_ttl`] has passed without approval. The
//!   reference lists no refused status: a refusal leaves `IN_PROGRESS` until the TTL (or `EXPIRED`
//!   at once, [`TossSimConfig::refusal_expires_at_once`]) and can no longer be approved.
//! - `result`: `CE3102` unless completed; at most [`TossSimConfig::max_result_reads`] successful
//!   reads ([`codes::READ_LIMIT`]), within [`TossSimConfig::result_window`] of completion
//!   ([`codes::RESULT_WINDOW_PASSED`]). `personalData` carries `ci`, `di`, `name`, `birthday`,
//!   `gender`, `nationality`, `ageGroup` (만 19세 and over: `ADULT`) sealed under the result's
//!   session, `ci2` and `ciUpdate` null; no phone, no carrier. `signature` is an opaque Base64 DER
//!   blob shaped like PKCS#7 SignedData, not a verifiable signature.
//!
//! The server key: Toss's is RSA-4096, and [`ServerKeySource::GenerateRsa4096`] is the default
//! (generation takes from a fraction of a second to a few seconds in a debug build; share one key
//! with [`TossSimulator::fresh`]). [`ServerKeySource::GenerateRsa2048`] is quicker and
//! [`ServerKeySource::Pkcs8`] loads a given key, such as Toss's published test key of the vectors.
//! bonin is configured with [`TossSimulator::public_key_base64`].

mod api;
pub mod codes;
mod counterpart;
pub mod crypto;
mod page;

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::HeaderMap,
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_domain::{Carrier, Clock, Gender, KST, Nationality, OsRng, Rng, Timestamp};

use crate::{InjectedProviderCode, personas::Persona};

pub use counterpart::Counterpart;
pub use page::ControlError;

/// The OAuth token endpoint (Toss: `https://oauth2.cert.toss.im/token`).
pub const TOKEN_PATH: &str = "/token";
/// 본인확인 request.
pub const ID_REQUEST_PATH: &str = "/api/v2/sign/user/auth/id/request";
/// 본인확인 status.
pub const ID_STATUS_PATH: &str = "/api/v2/sign/user/auth/id/status";
/// 본인확인 result.
pub const ID_RESULT_PATH: &str = "/api/v2/sign/user/auth/id/result";
/// 본인인증 request.
pub const AUTH_REQUEST_PATH: &str = "/api/v2/sign/user/auth/request";
/// 본인인증 status (the reference names request and result; status follows the Kotlin starter).
pub const AUTH_STATUS_PATH: &str = "/api/v2/sign/user/auth/status";
/// 본인인증 result.
pub const AUTH_RESULT_PATH: &str = "/api/v2/sign/user/auth/result";
/// The `authUrl` page (GET `?code=`; its form POSTs back here).
pub const AUTH_PAGE_PATH: &str = "/_sandbox/toss/auth";
/// Control: `{"txId", "persona"?}` → the person approves in the app.
pub const APPROVE_PATH: &str = "/_sandbox/toss/approve";
/// Control: `{"txId"}` → the person refuses in the app.
pub const REFUSE_PATH: &str = "/_sandbox/toss/refuse";
/// Control: `{"txId"}` → the person opens the app (`IN_PROGRESS`); answers the page URL.
pub const OPEN_PATH: &str = "/_sandbox/toss/open";

/// Toss's public test `client_id` (published in every Toss document and example).
pub const TEST_CLIENT_ID: &str = "test_a8e23336d673ca70922b485fe806eb2d";
/// Toss's public test `client_secret`.
pub const TEST_CLIENT_SECRET: &str = "test_418087247d66da09fda1964dc4734e453c7cf66a7a9e3";
/// Toss's test token lifetime, a year.
pub const DEFAULT_EXPIRES_IN: u64 = 31_536_000;

/// Toss's fixed test person (김토스, 19930324, FEMALE, LOCAL). Toss publishes only those and the
/// CI/DI prefixes `CI0110000000001`, `DI0110000000001`; the rest of the CI and DI, the phone and the
/// carrier are made up here.
pub const TOSS_TEST_PERSON: Persona = Persona {
    key: "kim-toss",
    name: "김토스",
    birth_date: "19930324",
    gender: Gender::Female,
    nationality: Nationality::Domestic,
    phone: "01000000001",
    carrier: Carrier::Skt,
    ci: "CI0110000000001000000000000000000000000000000000000000000000000000000000000000000000==",
    di: "DI01100000000010000000000000000000000000000000000000000000000000",
    otp: "000000",
};

/// Every person the simulated Toss knows: the shared personas, then [`TOSS_TEST_PERSON`].
pub fn toss_personas() -> impl Iterator<Item = &'static Persona> {
    crate::personas::ALL.iter().chain(std::iter::once(&TOSS_TEST_PERSON))
}

/// The person with this key, among [`toss_personas`].
pub fn persona_by_key(key: &str) -> Option<&'static Persona> {
    toss_personas().find(|p| p.key == key)
}

/// The two API path families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathFamily {
    /// 본인확인: `/api/v2/sign/user/auth/id/{request,status,result}`.
    Id,
    /// 본인인증 (간편인증): `/api/v2/sign/user/auth/{request,status,result}`.
    Auth,
}

impl PathFamily {
    /// (request, status, result) paths.
    pub fn paths(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Id => (ID_REQUEST_PATH, ID_STATUS_PATH, ID_RESULT_PATH),
            Self::Auth => (AUTH_REQUEST_PATH, AUTH_STATUS_PATH, AUTH_RESULT_PATH),
        }
    }
}

/// Where the server's RSA key pair comes from.
#[derive(Clone, Default)]
pub enum ServerKeySource {
    /// A fresh RSA-4096 pair, the size of Toss's key.
    #[default]
    GenerateRsa4096,
    /// A fresh RSA-2048 pair (quicker to generate; Toss's is 4096).
    GenerateRsa2048,
    /// This RSA private key, PKCS#8 DER (e.g. Toss's published test key).
    Pkcs8(Vec<u8>),
}

impl fmt::Debug for ServerKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GenerateRsa4096 => f.write_str("GenerateRsa4096"),
            Self::GenerateRsa2048 => f.write_str("GenerateRsa2048"),
            Self::Pkcs8(_) => f.write_str("Pkcs8(<redacted>)"),
        }
    }
}

/// How the simulated Toss behaves.
#[derive(Debug, Clone)]
pub struct TossSimConfig {
    /// Registered clients: (client_id, client_secret).
    pub clients: Vec<(String, String)>,
    /// The `expires_in` of issued tokens, in seconds; tokens stop working after it.
    pub expires_in: u64,
    /// How long a request may wait for approval before it is `EXPIRED` (Toss does not publish it).
    pub request_ttl: Duration,
    /// How long after completion the result can be read.
    pub result_window: Duration,
    /// Successful result reads allowed per request.
    pub max_result_reads: u32,
    /// The path families served (others answer 404).
    pub families: Vec<PathFamily>,
    /// The server key.
    pub server_key: ServerKeySource,
    /// Business errors as HTTP 200 + `FAIL` (`false`: HTTP 400 + `FAIL`).
    pub business_errors_as_200: bool,
    /// The HTTP status of a `CE1000` answer.
    pub invalid_token_status: u16,
    /// `authUrl` in `USER_PERSONAL` answers too (default: `null`, only `USER_NONE` gets one).
    pub auth_url_for_personal: bool,
    /// A refused request reports `EXPIRED` at once (default: `IN_PROGRESS` until the TTL).
    pub refusal_expires_at_once: bool,
}

impl Default for TossSimConfig {
    fn default() -> Self {
        Self {
            clients: vec![(TEST_CLIENT_ID.into(), TEST_CLIENT_SECRET.into())],
            expires_in: DEFAULT_EXPIRES_IN,
            request_ttl: Duration::from_secs(5 * 60),
            result_window: Duration::from_secs(60 * 60),
            max_result_reads: 2,
            families: vec![PathFamily::Id, PathFamily::Auth],
            server_key: ServerKeySource::default(),
            business_errors_as_200: true,
            invalid_token_status: 401,
            auth_url_for_personal: false,
            refusal_expires_at_once: false,
        }
    }
}

/// A request's status as Toss reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TossStatus {
    /// Made, not opened yet.
    Requested,
    /// Opened in the app or the page.
    InProgress,
    /// Approved.
    Completed,
    /// Not approved in time.
    Expired,
}

impl TossStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// Request counters.
#[derive(Debug, Default)]
pub struct TossCounters {
    /// Tokens issued.
    pub tokens_issued: AtomicU64,
    /// Calls answered `CE1000`.
    pub token_refusals: AtomicU64,
    /// Requests made (`txId`s issued).
    pub requests: AtomicU64,
    /// Status calls answered.
    pub status_queries: AtomicU64,
    /// Successful result reads.
    pub result_reads: AtomicU64,
}

impl TossCounters {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct IssuedToken {
    client_id: String,
    expires_at: Timestamp,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    AppScheme,
    Push,
}

#[derive(Clone, Copy)]
enum Progress {
    Requested,
    Opened,
    Refused,
    Completed { persona: &'static Persona, at: Timestamp },
}

#[derive(Clone)]
struct Tx {
    id: String,
    family: PathFamily,
    client_id: String,
    /// The `USER_PERSONAL` subject; `None` for `USER_NONE`.
    subject: Option<&'static Persona>,
    request_url: Option<String>,
    /// The AES key of the request's session (`USER_PERSONAL`), which a result session may not reuse.
    request_session: Option<crypto::TossSession>,
    requested_at: Timestamp,
    page_code: String,
    progress: Progress,
    reads: u32,
}

#[derive(Default)]
struct SimState {
    offset: Duration,
    tokens: HashMap<String, IssuedToken>,
    txs: HashMap<String, Tx>,
    /// Page code → txId.
    pages: HashMap<String, String>,
    /// Every sessionId used by a request or a successful result read.
    used_sessions: HashSet<String>,
}

/// The simulator. Clone shares state.
#[derive(Clone)]
pub struct TossSimulator {
    config: Arc<TossSimConfig>,
    key: Arc<crypto::ServerKey>,
    clock: Option<Arc<dyn Clock>>,
    state: Arc<Mutex<SimState>>,
    counters: Arc<TossCounters>,
}

impl fmt::Debug for TossSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TossSimulator").field("counters", &self.counters).finish_non_exhaustive()
    }
}

/// Random bytes from the OS (the sandbox never runs without one).
fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let _ = OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A random UUIDv4, lowercase.
fn uuid_v4() -> String {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// `2026-01-02T03:04:05+09:00`.
fn kst_iso(at: Timestamp) -> String {
    let t = at.to_offset(KST);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+09:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl TossSimulator {
    /// A simulator with the key [`TossSimConfig::server_key`] names. `None` if the key cannot be
    /// generated or the PKCS#8 is not an RSA private key.
    pub fn new(config: TossSimConfig) -> Option<Self> {
        let key = match &config.server_key {
            ServerKeySource::GenerateRsa4096 => crypto::ServerKey::generate(aws_lc_rs::rsa::KeySize::Rsa4096),
            ServerKeySource::GenerateRsa2048 => crypto::ServerKey::generate(aws_lc_rs::rsa::KeySize::Rsa2048),
            ServerKeySource::Pkcs8(der) => crypto::ServerKey::from_pkcs8(der),
        }?;
        Some(Self {
            config: Arc::new(config),
            key: Arc::new(key),
            clock: None,
            state: Arc::default(),
            counters: Arc::default(),
        })
    }

    /// A simulator with this one's key (bonin's configured public key still fits) but fresh state
    /// and `config` (whose `server_key` is ignored).
    pub fn fresh(&self, config: TossSimConfig) -> Self {
        Self {
            config: Arc::new(config),
            key: self.key.clone(),
            clock: self.clock.clone(),
            state: Arc::default(),
            counters: Arc::default(),
        }
    }

    /// Reads time from `clock` (e.g. a `ManualClock` shared with the code under test) instead of the
    /// system clock; [`TossSimulator::advance`] still adds to it.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &TossSimConfig {
        &self.config
    }

    /// Counters.
    pub fn counters(&self) -> &TossCounters {
        &self.counters
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        TossCounters::get(&self.counters.tokens_issued)
    }

    /// The server's public key, X.509 SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.spki().to_vec()
    }

    /// The server's public key as Toss publishes its own: SPKI DER, standard Base64 (what bonin is
    /// configured with).
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.key.spki())
    }

    /// The server key's modulus size in bits.
    pub fn key_bits(&self) -> usize {
        self.key.bits()
    }

    /// Opens a `sessionKey` as the server does (for tests of the session-key format).
    pub fn open_session_key(&self, session_key: &str) -> Result<crypto::TossSession, crypto::SessionKeyError> {
        self.key.open_session_key(session_key)
    }

    /// The simulator's current time.
    pub fn now(&self) -> Timestamp {
        let base = self.clock.as_ref().map_or_else(time::OffsetDateTime::now_utc, |c| c.now());
        base + self.lock().offset
    }

    /// Moves the simulator's clock forward (token lifetime, request TTL, result window).
    pub fn advance(&self, by: Duration) {
        self.lock().offset += by;
    }

    /// Forgets every issued token, as if Toss had revoked them (the next call gets `CE1000`).
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// The status of `tx_id` as a status call would report it.
    pub fn status(&self, tx_id: &str) -> Option<TossStatus> {
        let now = self.now();
        self.lock().txs.get(tx_id).map(|tx| self.status_of(tx, now))
    }

    /// Successful result reads of `tx_id`.
    pub fn result_reads(&self, tx_id: &str) -> Option<u32> {
        self.lock().txs.get(tx_id).map(|tx| tx.reads)
    }

    /// Every `txId` issued, in no particular order.
    pub fn tx_ids(&self) -> Vec<String> {
        self.lock().txs.keys().cloned().collect()
    }

    /// The key of the persona who approved `tx_id`, once completed.
    pub fn approved_by(&self, tx_id: &str) -> Option<&'static str> {
        match self.lock().txs.get(tx_id)?.progress {
            Progress::Completed { persona, .. } => Some(persona.key),
            _ => None,
        }
    }

    /// The path (with query) of the app stand-in page of `tx_id`: the `authUrl` of a `USER_NONE`
    /// request, and the page a `USER_PERSONAL` request's push or app link would open.
    pub fn page_path(&self, tx_id: &str) -> Option<String> {
        self.lock().txs.get(tx_id).map(|tx| format!("{AUTH_PAGE_PATH}?code={}", tx.page_code))
    }

    /// The person opens the request in the app: `REQUESTED` → `IN_PROGRESS`.
    pub fn open(&self, tx_id: &str) -> Result<TossStatus, ControlError> {
        self.with_open_tx(tx_id, |tx| {
            if matches!(tx.progress, Progress::Requested) {
                tx.progress = Progress::Opened;
            }
            Ok(())
        })
    }

    /// The person approves `tx_id` in the app as `persona` (a key of [`toss_personas`]; `None`:
    /// the request's subject, or [`TOSS_TEST_PERSON`] for `USER_NONE`). A `USER_PERSONAL` request
    /// is approved only by its subject.
    pub fn approve(&self, tx_id: &str, persona: Option<&str>) -> Result<TossStatus, ControlError> {
        let persona = persona.map(|key| persona_by_key(key).ok_or(ControlError::UnknownPersona)).transpose()?;
        let now = self.now();
        self.with_open_tx(tx_id, |tx| {
            let persona = persona.or(tx.subject).unwrap_or(&TOSS_TEST_PERSON);
            if tx.subject.is_some_and(|subject| subject.key != persona.key) {
                return Err(ControlError::NotTheSubject);
            }
            tx.progress = Progress::Completed { persona, at: now };
            Ok(())
        })
    }

    /// The person refuses `tx_id` in the app: it can no longer be approved.
    pub fn refuse(&self, tx_id: &str) -> Result<TossStatus, ControlError> {
        self.with_open_tx(tx_id, |tx| {
            tx.progress = Progress::Refused;
            Ok(())
        })
    }

    /// Runs `change` on a request that can still be acted on in the app; answers its new status.
    fn with_open_tx(
        &self,
        tx_id: &str,
        change: impl FnOnce(&mut Tx) -> Result<(), ControlError>,
    ) -> Result<TossStatus, ControlError> {
        let now = self.now();
        let mut state = self.lock();
        let tx = state.txs.get_mut(tx_id).ok_or(ControlError::UnknownTx)?;
        match (tx.progress, self.status_of(tx, now)) {
            (Progress::Completed { .. }, _) => return Err(ControlError::AlreadyCompleted),
            (Progress::Refused, _) => return Err(ControlError::AlreadyRefused),
            (_, TossStatus::Expired) => return Err(ControlError::Expired),
            _ => {}
        }
        change(tx)?;
        Ok(self.status_of(tx, now))
    }

    fn status_of(&self, tx: &Tx, now: Timestamp) -> TossStatus {
        let expired = now >= tx.requested_at + self.config.request_ttl;
        match tx.progress {
            Progress::Completed { .. } => TossStatus::Completed,
            _ if expired => TossStatus::Expired,
            Progress::Refused if self.config.refusal_expires_at_once => TossStatus::Expired,
            Progress::Requested => TossStatus::Requested,
            Progress::Opened | Progress::Refused => TossStatus::InProgress,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The routes: `/token`, the configured path families, the page and the control endpoints.
    pub fn router(&self) -> Router {
        let mut router = Router::new().route(TOKEN_PATH, post(api::token));
        for family in [PathFamily::Id, PathFamily::Auth] {
            if !self.config.families.contains(&family) {
                continue;
            }
            let (request, status, result) = family.paths();
            for (path, call) in
                [(request, api::Call::Request), (status, api::Call::Status), (result, api::Call::Result)]
            {
                router = router.route(
                    path,
                    post(move |sim: State<Self>, code: InjectedProviderCode, headers: HeaderMap, body: Bytes| {
                        api::call(call, family, sim, code, headers, body)
                    }),
                );
            }
        }
        router
            .route(AUTH_PAGE_PATH, get(page::show).post(page::submit))
            .route(APPROVE_PATH, post(page::approve_api))
            .route(REFUSE_PATH, post(page::refuse_api))
            .route(OPEN_PATH, post(page::open_api))
            .with_state(self.clone())
    }
}
