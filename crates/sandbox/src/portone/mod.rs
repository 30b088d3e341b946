//! The PortOne simulator: V1 (`api.iamport.kr`: getToken, certifications, the OTP API, an
//! `IMP.certification` window stand-in) and V2 (`api.portone.io`: identity verifications with
//! idempotency, a `PortOne.requestIdentityVerification` window stand-in), on one router.
//!
//! Written from `shared/protocols/portone.md`, independently of the adapter.
//!
//! - V1 tokens follow PortOne's reuse rule exactly: before expiry getToken returns the same token
//!   and `expired_at`; inside the last 60 s it extends that expiry by 5 minutes; after expiry it
//!   issues a new 30-minute token. The simulator's clock can be moved ([`PortoneSimulator::advance`]).
//! - V1 answers carry the `{code, message, response}` envelope everywhere: 404 `code: -1`, business
//!   errors as HTTP 200 with `code: 1` (or 400, [`PortoneSimConfig::business_errors_as_200`]).
//! - V2 keeps each id's state machine and stores POST answers by `Idempotency-Key` for 3 hours: a
//!   repeat is replayed, a repeat while the first is in flight gets 409
//!   `IDEMPOTENCY_OUTSTANDING_REQUEST`. Operations run to the end even when the client goes away.
//!
//! - The V2 window stand-in behaves as on a desktop browser: `requestIdentityVerification` resolves
//!   its Promise with the result and does not redirect, unless `forceRedirect: true` comes with a
//!   `redirectUrl`. `bypass.danal.AGELIMIT` is enforced like V1's `min_age`.
//! - A V1 certification that is not certified reads back as `certified: false` (what PortOne
//!   returns for a window that ended without a verified person), or as 404 with
//!   [`PortoneSimConfig::uncertified_as_not_found`].
//! - Channels are Danal's unless listed in [`PortoneSimConfig::kcp_channel_keys`]. An OTP request
//!   through a KCP channel needs KCP's `bypass.kcpV2.media_type` (`MC01`/`MC02`; V1 also
//!   `verification_method`), as PortOne's KCP guides mark them required; without them it is refused
//!   as missing input (V1 HTTP 400, V2 `INVALID_REQUEST`), which is this simulator's reading: PortOne
//!   might as well hand KCP's own refusal back. V1's `bypass` is read both as an object and as JSON
//!   text (PortOne documents both). KCP's `cp_sms_msg` must contain `[000000]`, and its merchant
//!   ids are letters and digits only (V1 at most 40, V2 at most 70).
//! - The windows show what they are given: V1 `name` and `phone` fill the form (the matching
//!   persona is preselected), `carrier` (`SKT`, `KTF`, `LGT`, `MVNO`) limits the carriers offered,
//!   `company` is the service name shown (PortOne's own name otherwise). The V2 window fixes its
//!   `customer` (`fullName`, `phoneNumber`, `birthYear`/`birthMonth`/`birthDay`): a persona that does
//!   not match fails at the PG (`SIM0101`); Danal's `IsCarrier` limits the carriers offered and its
//!   `CPTITLE` is the service name shown; `customData` is kept with the record; `windowType` takes
//!   the SDK's upper-case names only.
//!
//! PortOne passes PG codes through without publishing them; the PG codes here are this simulator's
//! own: `SIM0101` the details match no subscriber, `SIM0201` wrong code, `SIM0202` third wrong code
//! (the attempt fails), `SIM0301` cancelled in the window, `SIM0401` younger than the minimum age.
//! V1 uses the same texts as messages.

mod counterpart;
mod v1;

pub use counterpart::Counterpart;
mod v2;
mod window;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    routing::{get, post},
};
use bonin_domain::{OsRng, Rng, Timestamp};

use crate::personas::Persona;

pub use window::{WindowError, WindowOutcome};

/// V1 base path of the window stand-in script.
pub const V1_SCRIPT_PATH: &str = "/v1/iamport.js";
/// V2 base path of the window stand-in script.
pub const V2_SCRIPT_PATH: &str = "/v2/browser-sdk.js";

/// How the simulated PortOne behaves.
#[derive(Debug, Clone)]
pub struct PortoneSimConfig {
    /// V1 REST API keys and secrets.
    pub v1_keys: Vec<(String, String)>,
    /// V1 merchant codes (`imp…`) the window accepts.
    pub merchant_codes: Vec<String>,
    /// V1 channel keys (a `pg` starting with `danal` is accepted too).
    pub v1_channel_keys: Vec<String>,
    /// `phone` and `carrier` in certifications (PortOne's "carrier approval").
    pub carrier_approval: bool,
    /// `foreigner_v2` filled in (the Danal foreigner contract); `null` otherwise.
    pub foreigner_contract: bool,
    /// Adds the legacy `birth` (unix seconds) to certifications.
    pub legacy_birth: bool,
    /// V1 business errors as HTTP 200 with `code: 1` (`false`: HTTP 400).
    pub business_errors_as_200: bool,
    /// `GET /certifications/{imp_uid}` answers 404 (`code: -1`) for a certification that is not
    /// certified (an OTP request not yet confirmed, a cancelled window) instead of the record with
    /// `certified: false`.
    pub uncertified_as_not_found: bool,
    /// V2 API secrets with the stores each may use (the first is its default store).
    pub v2_secrets: Vec<(String, Vec<String>)>,
    /// V2 channel keys.
    pub v2_channel_keys: Vec<String>,
    /// The channel keys (V1 or V2, listed there as well) whose PG is KCP (`kcp_v2`); every other
    /// channel is Danal's.
    pub kcp_channel_keys: Vec<String>,
    /// V2 sends allowed per identity verification id.
    pub max_sends: u32,
    /// The V2 webhook secret (`whsec_…`) [`PortoneSimulator::signed_webhook`] signs with.
    pub webhook_secret: String,
}

/// The sandbox's V1 REST API key.
pub const SANDBOX_IMP_KEY: &str = "sandbox_imp_key";
/// The sandbox's V1 REST API secret.
pub const SANDBOX_IMP_SECRET: &str = "sandbox_imp_secret_0000000000000000000000000000000000000000";
/// The sandbox's V1 merchant code.
pub const SANDBOX_MERCHANT_CODE: &str = "imp00000000";
/// The sandbox's V1 channel key.
pub const SANDBOX_V1_CHANNEL_KEY: &str = "channel-key-sandbox-v1";
/// The sandbox's V1 channel key of a KCP (`kcp_v2`) channel.
pub const SANDBOX_V1_KCP_CHANNEL_KEY: &str = "channel-key-sandbox-v1-kcp";
/// The sandbox's V2 channel key of a KCP (`kcp_v2`) channel.
pub const SANDBOX_V2_KCP_CHANNEL_KEY: &str = "channel-key-sandbox-v2-kcp";
/// The sandbox's V2 API secret.
pub const SANDBOX_V2_SECRET: &str = "sandbox-v2-api-secret-0000000000000000000000000000000000000000";
/// The sandbox's V2 store.
pub const SANDBOX_STORE_ID: &str = "store-00000000-0000-0000-0000-000000000000";
/// The sandbox's V2 channel key.
pub const SANDBOX_V2_CHANNEL_KEY: &str = "channel-key-sandbox-v2";
/// The sandbox's webhook secret.
pub const SANDBOX_WEBHOOK_SECRET: &str = "whsec_c2FuZGJveC13ZWJob29rLXNlY3JldC1mb3ItYm9uaW4=";

impl Default for PortoneSimConfig {
    fn default() -> Self {
        Self {
            v1_keys: vec![(SANDBOX_IMP_KEY.into(), SANDBOX_IMP_SECRET.into())],
            merchant_codes: vec![SANDBOX_MERCHANT_CODE.into()],
            v1_channel_keys: vec![SANDBOX_V1_CHANNEL_KEY.into(), SANDBOX_V1_KCP_CHANNEL_KEY.into()],
            carrier_approval: true,
            foreigner_contract: true,
            legacy_birth: false,
            business_errors_as_200: true,
            uncertified_as_not_found: false,
            v2_secrets: vec![(SANDBOX_V2_SECRET.into(), vec![SANDBOX_STORE_ID.into()])],
            v2_channel_keys: vec![SANDBOX_V2_CHANNEL_KEY.into(), SANDBOX_V2_KCP_CHANNEL_KEY.into()],
            kcp_channel_keys: vec![SANDBOX_V1_KCP_CHANNEL_KEY.into(), SANDBOX_V2_KCP_CHANNEL_KEY.into()],
            max_sends: 5,
            webhook_secret: SANDBOX_WEBHOOK_SECRET.into(),
        }
    }
}

/// Request counters.
#[derive(Debug, Default)]
pub struct PortoneCounters {
    /// V1 getToken calls that issued or returned a token.
    pub get_token: AtomicU64,
    /// V1 getToken calls that issued a new token.
    pub tokens_issued: AtomicU64,
    /// V1 calls refused with 401.
    pub v1_unauthorized: AtomicU64,
    /// V1 certification lookups answered.
    pub certification_lookups: AtomicU64,
    /// V1 certifications deleted.
    pub certifications_deleted: AtomicU64,
    /// OTPs "sent" (both generations).
    pub codes_sent: AtomicU64,
    /// V2 confirms that verified someone (replays not counted).
    pub v2_confirms_applied: AtomicU64,
    /// V2 answers replayed from the idempotency store.
    pub v2_replays: AtomicU64,
}

impl PortoneCounters {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::SeqCst)
    }
}

#[derive(Default)]
struct SimState {
    offset: Duration,
    v1: v1::V1State,
    v2: v2::V2State,
    sent_codes: Vec<(String, String)>,
    pg_latency: Option<Duration>,
    windows: HashMap<String, window::OpenWindow>,
}

/// The simulator. Clone shares state.
#[derive(Clone)]
pub struct PortoneSimulator {
    config: Arc<PortoneSimConfig>,
    state: Arc<Mutex<SimState>>,
    counters: Arc<PortoneCounters>,
}

impl std::fmt::Debug for PortoneSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortoneSimulator").field("counters", &self.counters).finish_non_exhaustive()
    }
}

fn random_id(prefix: &str, digits: usize) -> String {
    let mut bytes = vec![0u8; digits];
    let _ = OsRng.fill_bytes(&mut bytes);
    let tail: String = bytes.iter().map(|b| char::from(b'0' + b % 10)).collect();
    format!("{prefix}{tail}")
}

fn random_token() -> String {
    let mut bytes = [0u8; 20];
    let _ = OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl PortoneSimulator {
    /// A simulator.
    pub fn new(config: PortoneSimConfig) -> Self {
        Self { config: Arc::new(config), state: Arc::default(), counters: Arc::default() }
    }

    /// The configuration.
    pub fn config(&self) -> &PortoneSimConfig {
        &self.config
    }

    /// Counters.
    pub fn counters(&self) -> &PortoneCounters {
        &self.counters
    }

    /// The codes "sent" so far, as (phone, code).
    pub fn sent_codes(&self) -> Vec<(String, String)> {
        self.lock().sent_codes.clone()
    }

    /// Moves the simulator's clock forward (token expiry, idempotency retention).
    pub fn advance(&self, by: Duration) {
        self.lock().offset += by;
    }

    /// Makes every V2 POST take this long at the "PG" before it is applied (`None`: instant). The
    /// operation still completes when the client gives up waiting.
    pub fn set_pg_latency(&self, latency: Option<Duration>) {
        self.lock().pg_latency = latency;
    }

    /// Revokes the live V1 tokens (the next call with one gets 401), as if PortOne had expired them early.
    pub fn revoke_v1_tokens(&self) {
        self.lock().v1.tokens.clear();
    }

    /// The simulator's current time.
    pub fn now(&self) -> Timestamp {
        time::OffsetDateTime::now_utc() + self.lock().offset
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `channel_key` is a KCP channel.
    fn is_kcp(&self, channel_key: &str) -> bool {
        self.config.kcp_channel_keys.iter().any(|k| k == channel_key)
    }

    fn record_sent(&self, persona: &Persona) {
        self.lock().sent_codes.push((persona.phone.to_owned(), persona.otp.to_owned()));
        self.counters.codes_sent.fetch_add(1, Ordering::SeqCst);
    }

    /// A V2 webhook body signed Standard Webhooks style with the configured secret: `(headers, body)`.
    pub fn signed_webhook(&self, body: &str) -> (Vec<(String, String)>, String) {
        let id = random_id("msg_", 16);
        let timestamp = self.now().unix_timestamp();
        let signature = window::sign_webhook(&self.config.webhook_secret, &id, timestamp, body.as_bytes());
        (
            vec![
                ("webhook-id".into(), id),
                ("webhook-timestamp".into(), timestamp.to_string()),
                ("webhook-signature".into(), signature),
            ],
            body.to_owned(),
        )
    }

    /// The routes of both generations.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/users/getToken", post(v1::get_token))
            .route("/certifications/{imp_uid}", get(v1::get_certification).delete(v1::delete_certification))
            .route("/certifications/otp/request", post(v1::otp_request))
            .route("/certifications/otp/confirm/{imp_uid}", post(v1::otp_confirm))
            .route("/identity-verifications", get(v2::list))
            .route("/identity-verifications/{id}", get(v2::get_one))
            .route("/identity-verifications/{id}/send", post(v2::send))
            .route("/identity-verifications/{id}/confirm", post(v2::confirm))
            .route("/identity-verifications/{id}/resend", post(v2::resend))
            .route(V1_SCRIPT_PATH, get(window::v1_script))
            .route(V2_SCRIPT_PATH, get(window::v2_script))
            .route(window::V1_WINDOW_PATH, get(window::v1_window).post(window::v1_authenticate))
            .route(window::V2_WINDOW_PATH, get(window::v2_window).post(window::v2_authenticate))
            .route("/_sandbox/portone/complete", post(window::complete_api))
            .route("/_sandbox/portone/webhook", post(window::webhook_api))
            .with_state(self.clone())
    }
}

/// The carrier as PortOne spells it: `lg` is `LGT` (V1) or `LGU` (V2); MVNOs add `_MVNO`.
fn carrier_name(carrier: bonin_domain::Carrier, lg: &str) -> String {
    use bonin_domain::Carrier;
    let base = match carrier {
        Carrier::Skt | Carrier::SktMvno => "SKT",
        Carrier::Kt | Carrier::KtMvno => "KT",
        _ => lg,
    };
    if carrier.is_mvno() { format!("{base}_MVNO") } else { base.to_owned() }
}

/// The carrier as Danal's window names it (`IMP.certification`'s `carrier`, `IsCarrier`).
fn danal_carrier(carrier: bonin_domain::Carrier) -> &'static str {
    use bonin_domain::Carrier;
    match carrier {
        _ if carrier.is_mvno() => "MVNO",
        Carrier::Skt => "SKT",
        Carrier::Kt => "KTF",
        _ => "LGT",
    }
}

/// The carriers a window offers, from `SKT;KTF`-style text; `Err` names a code Danal does not have.
fn offered_carriers(text: &str) -> Result<Vec<String>, window::WindowError> {
    text.split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| match c {
            "SKT" | "KTF" | "LGT" | "MVNO" => Ok(c.to_owned()),
            _ => Err(window::WindowError::BadRequest("carrier codes are SKT, KTF, LGT and MVNO")),
        })
        .collect()
}

/// Whether `id` is an id KCP takes: letters and digits, at most `max` of them.
fn kcp_id(id: &str, max: usize) -> bool {
    !id.is_empty() && id.len() <= max && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Checks KCP's `bypass.kcpV2` of an OTP request; `Err` says what is missing or wrong.
fn check_kcp_bypass(bypass: Option<&serde_json::Value>) -> Result<(), &'static str> {
    let kcp = bypass.and_then(|b| b.get("kcpV2")).ok_or("bypass.kcpV2.media_type 가 필요합니다.")?;
    match kcp.get("media_type").and_then(serde_json::Value::as_str) {
        Some("MC01" | "MC02") => {}
        _ => return Err("bypass.kcpV2.media_type 은 MC01 또는 MC02 이어야 합니다."),
    }
    if kcp.get("cp_sms_msg").and_then(serde_json::Value::as_str).is_some_and(|m| !m.contains("[000000]")) {
        return Err("bypass.kcpV2.cp_sms_msg 에는 [000000] 이 있어야 합니다.");
    }
    Ok(())
}

/// The 7th resident-registration digit of a persona: 1/2 born before 2000, 3/4 after; +4 for
/// foreigners.
fn gender_digit(p: &Persona) -> char {
    use bonin_domain::{Gender, Nationality};
    let base = match (p.birth_date.starts_with('2'), p.gender == Gender::Male) {
        (false, true) => 1,
        (false, false) => 2,
        (true, true) => 3,
        (true, false) => 4,
    };
    let digit = if p.nationality == Nationality::Foreign { base + 4 } else { base };
    char::from(b'0' + digit)
}

/// Whole years between `birth` (`YYYYMMDD`) and `today`.
fn age(birth: &str, today: time::Date) -> Option<i32> {
    let year: i32 = birth.get(0..4)?.parse().ok()?;
    let month: u8 = birth.get(4..6)?.parse().ok()?;
    let day: u8 = birth.get(6..8)?.parse().ok()?;
    let before_birthday = (u8::from(today.month()), today.day()) < (month, day);
    Some(today.year() - year - i32::from(before_birthday))
}
