//! V2 handlers: identity verifications, idempotency, the list endpoint.

use std::{collections::HashMap, sync::atomic::Ordering, time::Duration};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use bonin_domain::{Gender, Nationality, Timestamp};
use serde_json::{Value, json};

use super::{PortoneSimulator, carrier_name, gender_digit, random_id};
use crate::{
    InjectedProviderCode,
    personas::{self, Persona},
};

const IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(3 * 3600);
const MAX_WRONG_CODES: u8 = 3;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Ready,
    Verified,
    Failed,
}

#[derive(Clone)]
struct Sent {
    method: String,
    wrong_codes: u8,
}

#[derive(Clone)]
pub(super) struct Record {
    id: String,
    store: String,
    status: Status,
    persona: Option<&'static Persona>,
    requested_name: Option<String>,
    requested_phone: Option<String>,
    channel_key: String,
    sent: Option<Sent>,
    sends: u32,
    pg_tx_id: Option<String>,
    requested_at: Timestamp,
    updated_at: Timestamp,
    status_changed_at: Timestamp,
    verified_at: Option<Timestamp>,
    failure: Option<(String, String)>,
    pg_provider: &'static str,
    custom_data: Option<String>,
}

enum Stored {
    InFlight,
    Done { at: Timestamp, status: StatusCode, body: Value },
}

#[derive(Default)]
pub(super) struct V2State {
    records: HashMap<(String, String), Record>,
    idempotency: HashMap<(String, String), Stored>,
}

type Answer = (StatusCode, Value);

/// How a window attempt ended.
#[derive(Clone, Copy)]
pub(super) enum WindowResult {
    /// The person was verified.
    Verified(&'static Persona),
    /// The user closed the window; the record stays `READY`.
    Cancelled,
    /// The PG ended the attempt with this code and message; the record is `FAILED`.
    Failed(&'static str, &'static str),
}

/// What a window attempt brings besides its result.
#[derive(Clone, Default)]
pub(super) struct WindowExtras {
    /// `customData`, kept with the record.
    pub(super) custom_data: Option<String>,
}

fn error(status: StatusCode, kind: &str, message: &str) -> Answer {
    (status, json!({"type": kind, "message": message}))
}

fn pg_error(code: &str, message: &str) -> Answer {
    (
        StatusCode::BAD_GATEWAY,
        json!({"type": "PG_PROVIDER", "message": "PG사에서 오류를 전달했습니다.", "pgCode": code, "pgMessage": message}),
    )
}

fn respond((status, body): Answer) -> Response {
    (status, Json(body)).into_response()
}

fn rfc3339(at: Timestamp) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Record {
    fn new(sim: &PortoneSimulator, id: &str, store: &str, channel_key: &str, now: Timestamp) -> Self {
        Self {
            id: id.to_owned(),
            store: store.to_owned(),
            status: Status::Ready,
            persona: None,
            requested_name: None,
            requested_phone: None,
            channel_key: channel_key.to_owned(),
            sent: None,
            sends: 0,
            pg_tx_id: None,
            requested_at: now,
            updated_at: now,
            status_changed_at: now,
            verified_at: None,
            failure: None,
            pg_provider: if sim.is_kcp(channel_key) { "KCP_V2" } else { "DANAL" },
            custom_data: None,
        }
    }

    fn set_status(&mut self, status: Status, now: Timestamp) {
        self.status = status;
        self.updated_at = now;
        self.status_changed_at = now;
    }

    fn verify(&mut self, persona: &'static Persona, now: Timestamp) {
        self.persona = Some(persona);
        self.pg_tx_id = Some(random_id("sim_pg_", 14));
        self.verified_at = Some(now);
        self.sent = None;
        self.failure = None;
        self.set_status(Status::Verified, now);
    }

    pub(super) fn json(&self) -> Value {
        let channel = json!({
            "type": "LIVE", "key": self.channel_key, "name": "sandbox", "pgProvider": self.pg_provider,
            "pgMerchantId": "sim-cpid"
        });
        let mut value = json!({
            "id": self.id,
            "channel": channel,
            "requestedAt": rfc3339(self.requested_at),
            "updatedAt": rfc3339(self.updated_at),
            "statusChangedAt": rfc3339(self.status_changed_at),
            "version": "V2",
        });
        if let Some(custom_data) = &self.custom_data {
            value["customData"] = json!(custom_data);
        }
        match self.status {
            Status::Verified => {
                let p = self.persona.unwrap_or_else(personas::default_persona);
                let birth = format!("{}-{}-{}", &p.birth_date[0..4], &p.birth_date[4..6], &p.birth_date[6..8]);
                value["status"] = json!("VERIFIED");
                value["verifiedCustomer"] = json!({
                    "name": p.name,
                    "operator": carrier_name(p.carrier, "LGU"),
                    "phoneNumber": p.phone,
                    "birthDate": birth,
                    "gender": if p.gender == Gender::Male { "MALE" } else { "FEMALE" },
                    "isForeigner": p.nationality == Nationality::Foreign,
                    "ci": p.ci,
                    "di": p.di,
                });
                value["verifiedAt"] = json!(self.verified_at.map(rfc3339));
                value["pgTxId"] = json!(self.pg_tx_id);
                value["pgRawResponse"] = json!("{\"RETURNCODE\":\"0000\"}");
            }
            status => {
                value["status"] = json!(if status == Status::Ready { "READY" } else { "FAILED" });
                value["requestedCustomer"] = json!({"name": self.requested_name, "phoneNumber": self.requested_phone});
                if let Some(tx) = &self.pg_tx_id {
                    value["pgTxId"] = json!(tx);
                }
                if let Some((code, message)) = &self.failure {
                    value["failure"] = json!({"reason": message, "pgCode": code, "pgMessage": message});
                }
            }
        }
        value
    }
}

/// The secret and store of a request, or the error answer.
struct Caller {
    secret: String,
    store: String,
}

impl PortoneSimulator {
    fn caller(&self, headers: &HeaderMap, store_id: Option<&str>) -> Result<Caller, Answer> {
        let header = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let secret = header.strip_prefix("PortOne ").map(str::trim).unwrap_or_default();
        let Some((secret, stores)) = self.config.v2_secrets.iter().find(|(s, _)| !secret.is_empty() && s == secret)
        else {
            return Err(error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "인증 자격 증명이 유효하지 않습니다."));
        };
        let store = match store_id.filter(|s| !s.is_empty()) {
            Some(store) if stores.iter().any(|s| s == store) => store.to_owned(),
            Some(_) => return Err(error(StatusCode::FORBIDDEN, "FORBIDDEN", "요청이 거절되었습니다.")),
            None => stores.first().cloned().unwrap_or_default(),
        };
        Ok(Caller { secret: secret.clone(), store })
    }

    /// The identity verification `id` of `store` as `GET /identity-verifications/{id}` answers it.
    pub fn v2_identity_verification(&self, store: &str, id: &str) -> Option<Value> {
        self.v2_record(store, id).map(|r| r.json())
    }

    pub(super) fn v2_record(&self, store: &str, id: &str) -> Option<Record> {
        self.lock().v2.records.get(&(store.to_owned(), id.to_owned())).cloned()
    }

    /// Finishes a window attempt: verified, left READY (cancel), or FAILED at the PG.
    pub(super) fn v2_window_result(
        &self,
        store: &str,
        id: &str,
        channel_key: &str,
        result: WindowResult,
        extras: WindowExtras,
    ) -> Result<(), &'static str> {
        let now = self.now();
        let fresh = Record::new(self, id, store, channel_key, now);
        let mut state = self.lock();
        let record = state.v2.records.entry((store.to_owned(), id.to_owned())).or_insert(fresh);
        if record.status == Status::Verified {
            return Err("이미 인증이 완료된 identityVerificationId 입니다.");
        }
        if extras.custom_data.is_some() {
            record.custom_data = extras.custom_data;
        }
        match result {
            WindowResult::Verified(persona) => record.verify(persona, now),
            WindowResult::Cancelled => record.updated_at = now,
            WindowResult::Failed(code, message) => {
                record.failure = Some((code.to_owned(), message.to_owned()));
                record.set_status(Status::Failed, now);
            }
        }
        Ok(())
    }

    /// Runs a POST: idempotency first, then (after the configured PG latency) the operation, in a
    /// task of its own so a client that goes away does not stop it.
    async fn keyed<F>(&self, caller: &Caller, path: String, headers: &HeaderMap, operation: F) -> Response
    where
        F: FnOnce(&PortoneSimulator) -> Answer + Send + 'static,
    {
        let key = match headers.get("idempotency-key").map(|v| v.to_str().unwrap_or_default().trim()) {
            None => None,
            Some(raw) => {
                // RFC 8941 sf-string: a quoted string of 16–256 ASCII characters.
                let inner = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"'));
                match inner {
                    Some(inner)
                        if (16..=256).contains(&inner.len())
                            && inner.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') =>
                    {
                        Some((caller.secret.clone(), format!("{path}\n{inner}")))
                    }
                    _ => {
                        return respond(error(
                            StatusCode::BAD_REQUEST,
                            "INVALID_REQUEST",
                            "Idempotency-Key 는 16~256자의 ASCII 문자열을 따옴표로 감싼 값이어야 합니다.",
                        ));
                    }
                }
            }
        };
        if let Some(key) = &key {
            let now = self.now();
            let mut state = self.lock();
            match state.v2.idempotency.get(key) {
                Some(Stored::InFlight) => {
                    return respond(error(
                        StatusCode::CONFLICT,
                        "IDEMPOTENCY_OUTSTANDING_REQUEST",
                        "같은 Idempotency-Key 의 요청이 처리 중입니다.",
                    ));
                }
                Some(Stored::Done { at, status, body }) if now - *at < IDEMPOTENCY_RETENTION => {
                    self.counters.v2_replays.fetch_add(1, Ordering::SeqCst);
                    return (*status, Json(body.clone())).into_response();
                }
                _ => {
                    state.v2.idempotency.insert(key.clone(), Stored::InFlight);
                }
            }
        }
        let sim = self.clone();
        let task = tokio::spawn(async move {
            let latency = sim.lock().pg_latency;
            if let Some(latency) = latency {
                tokio::time::sleep(latency).await;
            }
            let (status, body) = operation(&sim);
            if let Some(key) = key {
                let at = sim.now();
                sim.lock().v2.idempotency.insert(key, Stored::Done { at, status, body: body.clone() });
            }
            (status, body)
        });
        match task.await {
            Ok(answer) => respond(answer),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

fn body_json(body: &Bytes) -> Option<Value> {
    // The official SDK posts JSON without a Content-Type header (fetch then labels it text/plain).
    if body.is_empty() {
        return Some(json!({}));
    }
    serde_json::from_slice::<Value>(body).ok().filter(Value::is_object)
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

macro_rules! caller_or_answer {
    ($sim:expr, $headers:expr, $store:expr) => {
        match $sim.caller(&$headers, $store) {
            Ok(caller) => caller,
            Err(answer) => return respond(answer),
        }
    };
}

pub(super) async fn get_one(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = caller_or_answer!(sim, headers, query.get("storeId").map(String::as_str));
    if let Some(kind) = injected {
        return respond(error(StatusCode::BAD_REQUEST, &kind, "injected"));
    }
    match sim.v2_record(&caller.store, &id) {
        Some(record) => respond((StatusCode::OK, record.json())),
        None => respond(error(
            StatusCode::NOT_FOUND,
            "IDENTITY_VERIFICATION_NOT_FOUND",
            "요청된 본인인증 건이 존재하지 않는 경우",
        )),
    }
}

pub(super) async fn list(
    State(sim): State<PortoneSimulator>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let request = match query.get("requestBody") {
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(value) => value,
            Err(_) => {
                return respond(error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "requestBody 가 JSON 이 아닙니다."));
            }
        },
        None => json!({}),
    };
    let filter = request.get("filter").cloned().unwrap_or(Value::Null);
    let caller = caller_or_answer!(sim, headers, str_of(&filter, "storeId"));
    let number = request.pointer("/page/number").and_then(Value::as_u64).unwrap_or(0);
    let size = request.pointer("/page/size").and_then(Value::as_u64).unwrap_or(10).max(1);
    let statuses: Vec<String> = filter
        .get("statuses")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    let since = sim.now() - Duration::from_secs(90 * 24 * 3600);
    let mut items: Vec<Record> = sim
        .lock()
        .v2
        .records
        .values()
        .filter(|r| r.store == caller.store && r.requested_at >= since)
        .filter(|r| str_of(&filter, "identityVerificationId").is_none_or(|id| id == r.id))
        .cloned()
        .collect();
    items.retain(|r| {
        let status = r.json()["status"].as_str().unwrap_or_default().to_owned();
        statuses.is_empty() || statuses.contains(&status)
    });
    let ascending = request.pointer("/sort/order").and_then(Value::as_str) == Some("ASC");
    items.sort_by(
        |a, b| if ascending { a.requested_at.cmp(&b.requested_at) } else { b.requested_at.cmp(&a.requested_at) },
    );
    let total = items.len();
    let page: Vec<Value> = items
        .iter()
        .skip(usize::try_from(number * size).unwrap_or(usize::MAX))
        .take(usize::try_from(size).unwrap_or(usize::MAX))
        .map(Record::json)
        .collect();
    respond((StatusCode::OK, json!({"items": page, "page": {"number": number, "size": size, "totalCount": total}})))
}

pub(super) async fn send(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    posted(sim, injected, headers, "send", id, body, send_now).await
}

/// A POST with a JSON body (send, confirm): the body, the caller and an injected code are checked,
/// then `operation` runs under the Idempotency-Key.
async fn posted(
    sim: PortoneSimulator,
    injected: Option<String>,
    headers: HeaderMap,
    operation_name: &str,
    id: String,
    body: Bytes,
    operation: fn(&PortoneSimulator, &str, &str, &Value) -> Answer,
) -> Response {
    let Some(body) = body_json(&body) else {
        return respond(error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "요청 본문이 JSON 객체가 아닙니다."));
    };
    let caller = caller_or_answer!(sim, headers, str_of(&body, "storeId"));
    if let Some(code) = injected {
        return respond(pg_error(&code, "injected"));
    }
    let store = caller.store.clone();
    let path = format!("{operation_name}/{id}");
    sim.keyed(&caller, path, &headers, move |sim| operation(sim, &store, &id, &body)).await
}

fn send_now(sim: &PortoneSimulator, store: &str, id: &str, body: &Value) -> Answer {
    let invalid = |message: &str| error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message);
    let Some(channel_key) = str_of(body, "channelKey") else { return invalid("channelKey 가 필요합니다.") };
    let customer = body.get("customer").cloned().unwrap_or(Value::Null);
    let (Some(name), Some(phone), Some(ip)) =
        (str_of(&customer, "name"), str_of(&customer, "phoneNumber"), str_of(&customer, "ipAddress"))
    else {
        return invalid("customer.name, customer.phoneNumber, customer.ipAddress 가 필요합니다.");
    };
    let method = str_of(body, "method").unwrap_or_default();
    if !matches!(method, "SMS" | "APP") {
        return invalid("method 는 SMS 또는 APP 이어야 합니다.");
    }
    let identity_number = str_of(&customer, "identityNumber");
    if method == "SMS" && !identity_number.is_some_and(|n| n.len() == 7 && n.bytes().all(|b| b.is_ascii_digit())) {
        return invalid("SMS 인증에는 customer.identityNumber (생년월일 6자리와 성별 1자리)가 필요합니다.");
    }
    let operator_name = str_of(body, "operator").unwrap_or_default();
    if !matches!(operator_name, "SKT" | "KT" | "LGU" | "SKT_MVNO" | "KT_MVNO" | "LGU_MVNO") {
        return invalid("operator 가 올바르지 않습니다.");
    }
    if ip.parse::<std::net::IpAddr>().is_err() || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return invalid("customer.ipAddress 또는 customer.phoneNumber 형식이 올바르지 않습니다.");
    }
    if !sim.config.v2_channel_keys.iter().any(|k| k == channel_key) {
        return error(StatusCode::NOT_FOUND, "CHANNEL_NOT_FOUND", "요청된 채널이 존재하지 않는 경우");
    }
    if sim.is_kcp(channel_key) {
        // KCP's guide marks `bypass.kcpV2.media_type` required (an object; JSON text is read too).
        let bypass = match body.get("bypass") {
            Some(Value::String(text)) => serde_json::from_str::<Value>(text).ok(),
            other => other.cloned(),
        };
        if let Err(message) = super::check_kcp_bypass(bypass.as_ref()) {
            return invalid(message);
        }
        if !super::kcp_id(id, 70) {
            return invalid("identityVerificationId 는 영문 대소문자와 숫자 70자 이하여야 합니다.");
        }
    }
    let now = sim.now();
    let persona = personas::by_phone(phone).filter(|p| {
        p.name == name
            && carrier_name(p.carrier, "LGU") == operator_name
            && identity_number.is_none_or(|n| {
                n.get(..6) == p.birth_date.get(2..) && n.get(6..).is_some_and(|d| d.starts_with(gender_digit(p)))
            })
    });
    let fresh = Record::new(sim, id, store, channel_key, now);
    let mut state = sim.lock();
    let record = state.v2.records.entry((store.to_owned(), id.to_owned())).or_insert(fresh);
    if record.status == Status::Verified {
        return error(
            StatusCode::CONFLICT,
            "IDENTITY_VERIFICATION_ALREADY_VERIFIED",
            "본인인증 건이 이미 인증 완료된 상태인 경우",
        );
    }
    if record.sent.is_some() {
        return error(
            StatusCode::CONFLICT,
            "IDENTITY_VERIFICATION_ALREADY_SENT",
            "본인인증 건이 이미 API로 요청된 상태인 경우",
        );
    }
    if record.sends >= sim.config.max_sends {
        return error(
            StatusCode::BAD_REQUEST,
            "MAX_TRANSACTION_COUNT_REACHED",
            "파라미터로 주어진 최대 시도 횟수를 초과한 경우",
        );
    }
    record.sends += 1;
    record.requested_name = Some(name.to_owned());
    record.requested_phone = Some(phone.to_owned());
    record.channel_key = channel_key.to_owned();
    record.pg_provider = if sim.is_kcp(channel_key) { "KCP_V2" } else { "DANAL" };
    if let Some(custom_data) = str_of(body, "customData") {
        record.custom_data = Some(custom_data.to_owned());
    }
    record.updated_at = now;
    let Some(persona) = persona else {
        record.failure = Some(("SIM0101".into(), "본인확인 정보가 일치하지 않습니다.".into()));
        record.set_status(Status::Failed, now);
        return pg_error("SIM0101", "본인확인 정보가 일치하지 않습니다.");
    };
    record.persona = Some(persona);
    record.pg_tx_id = Some(random_id("sim_pg_", 14));
    record.sent = Some(Sent { method: method.to_owned(), wrong_codes: 0 });
    record.failure = None;
    record.set_status(Status::Ready, now);
    drop(state);
    if method == "SMS" {
        sim.record_sent(persona);
    }
    (StatusCode::OK, json!({}))
}

fn not_found() -> Answer {
    error(StatusCode::NOT_FOUND, "IDENTITY_VERIFICATION_NOT_FOUND", "요청된 본인인증 건이 존재하지 않는 경우")
}

fn not_sent() -> Answer {
    error(StatusCode::NOT_FOUND, "IDENTITY_VERIFICATION_NOT_SENT", "본인인증 건이 API로 요청된 상태가 아닌 경우")
}

fn already_verified() -> Answer {
    error(StatusCode::CONFLICT, "IDENTITY_VERIFICATION_ALREADY_VERIFIED", "본인인증 건이 이미 인증 완료된 상태인 경우")
}

pub(super) async fn confirm(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    posted(sim, injected, headers, "confirm", id, body, confirm_now).await
}

fn confirm_now(sim: &PortoneSimulator, store: &str, id: &str, body: &Value) -> Answer {
    let now = sim.now();
    let mut state = sim.lock();
    let Some(record) = state.v2.records.get_mut(&(store.to_owned(), id.to_owned())) else { return not_found() };
    if record.status == Status::Verified {
        return already_verified();
    }
    let Some(sent) = record.sent.clone() else { return not_sent() };
    let Some(persona) = record.persona else { return not_sent() };
    let otp = str_of(body, "otp");
    if sent.method == "SMS" && otp.is_none() {
        return error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "SMS 인증에는 otp 가 필요합니다.");
    }
    if sent.method == "SMS" && otp != Some(persona.otp) {
        let wrong_codes = sent.wrong_codes + 1;
        record.updated_at = now;
        if wrong_codes >= MAX_WRONG_CODES {
            record.sent = None;
            record.failure = Some(("SIM0202".into(), "인증번호 입력 횟수를 초과했습니다.".into()));
            record.set_status(Status::Failed, now);
            return pg_error("SIM0202", "인증번호 입력 횟수를 초과했습니다.");
        }
        record.sent = Some(Sent { wrong_codes, ..sent });
        return pg_error("SIM0201", "인증번호가 일치하지 않습니다.");
    }
    record.verify(persona, now);
    let json = record.json();
    drop(state);
    sim.counters.v2_confirms_applied.fetch_add(1, Ordering::SeqCst);
    (StatusCode::OK, json!({"identityVerification": json}))
}

pub(super) async fn resend(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = caller_or_answer!(sim, headers, query.get("storeId").map(String::as_str));
    if let Some(code) = injected {
        return respond(pg_error(&code, "injected"));
    }
    let store = caller.store.clone();
    sim.keyed(&caller, format!("resend/{id}"), &headers, move |sim| {
        let persona = {
            let mut state = sim.lock();
            let Some(record) = state.v2.records.get_mut(&(store.clone(), id.clone())) else { return not_found() };
            if record.status == Status::Verified {
                return already_verified();
            }
            match (&record.sent, record.persona) {
                (Some(sent), Some(persona)) if sent.method == "SMS" => persona,
                _ => return not_sent(),
            }
        };
        sim.record_sent(persona);
        (StatusCode::OK, json!({}))
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::portone::{PortoneSimConfig, SANDBOX_STORE_ID, SANDBOX_V2_CHANNEL_KEY};

    #[test]
    fn a_kcp_send_needs_its_media_type_and_a_danal_send_does_not() {
        let sim = PortoneSimulator::new(PortoneSimConfig::default());
        let body = |channel: &str, bypass: Value| {
            json!({"channelKey": channel, "method": "SMS", "operator": "SKT", "bypass": bypass, "customData": "{}",
                "customer": {"name": "홍길동", "phoneNumber": "01012345678", "ipAddress": "203.0.113.7",
                             "identityNumber": "9002151"}})
        };
        let kcp = crate::portone::SANDBOX_V2_KCP_CHANNEL_KEY;
        for (i, bypass) in [
            json!(null),
            json!({"kcpV2": {}}),
            json!({"kcpV2": {"media_type": "PC"}}),
            json!({"kcpV2": {"media_type": "MC01", "cp_sms_msg": "no code here"}}),
        ]
        .into_iter()
        .enumerate()
        {
            let (status, answer) = send_now(&sim, SANDBOX_STORE_ID, &format!("ivkcp{i}"), &body(kcp, bypass));
            assert_eq!((status, answer["type"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_REQUEST")));
        }
        let (status, _) =
            send_now(&sim, SANDBOX_STORE_ID, "iv-kcp-dash", &body(kcp, json!({"kcpV2": {"media_type": "MC02"}})));
        assert_eq!(status, StatusCode::BAD_REQUEST, "KCP takes letters and digits only");
        for (id, bypass) in [
            ("ivkcpok", json!({"kcpV2": {"media_type": "MC02"}})),
            ("ivkcptext", json!(r#"{"kcpV2":{"media_type":"MC01","cp_sms_msg":"[SHOP] [000000]"}}"#)),
        ] {
            assert_eq!(send_now(&sim, SANDBOX_STORE_ID, id, &body(kcp, bypass)).0, StatusCode::OK, "{id}");
        }
        let record = sim.v2_record(SANDBOX_STORE_ID, "ivkcpok").unwrap().json();
        assert_eq!(
            (record["channel"]["pgProvider"].as_str(), record["customData"].as_str()),
            (Some("KCP_V2"), Some("{}"))
        );
        let (status, _) = send_now(&sim, SANDBOX_STORE_ID, "iv-danal", &body(SANDBOX_V2_CHANNEL_KEY, json!(null)));
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn a_short_or_non_ascii_identity_number_on_an_app_send_is_answered_not_a_panic() {
        let sim = PortoneSimulator::new(PortoneSimConfig::default());
        for (i, number) in ["9", "가나다라마바사", "900215", "9002151가"].into_iter().enumerate() {
            let body = json!({"channelKey": SANDBOX_V2_CHANNEL_KEY, "method": "APP", "operator": "SKT",
                "customer": {"name": "홍길동", "phoneNumber": "01012345678", "ipAddress": "203.0.113.7",
                             "identityNumber": number}});
            let (status, _) = send_now(&sim, SANDBOX_STORE_ID, &format!("iv-{i}"), &body);
            assert!(status == StatusCode::OK || status == StatusCode::BAD_GATEWAY, "{number}: {status}");
        }
    }
}
