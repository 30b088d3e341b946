//! V1 handlers: getToken, certifications, the OTP API.

use std::{collections::HashMap, sync::atomic::Ordering};

use axum::{
    Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use bonin_domain::{Gender, Nationality};
use serde_json::{Value, json};

use super::{PortoneSimulator, carrier_name, random_id, random_token};
use crate::{
    InjectedProviderCode,
    personas::{self, Persona},
};

const TOKEN_LIFETIME: i64 = 30 * 60;
const EXTEND_WITHIN: i64 = 60;
const EXTENSION: i64 = 5 * 60;
const MAX_OTP_ATTEMPTS: u8 = 3;

#[derive(Default)]
pub(super) struct V1State {
    /// imp_key → (token, expired_at).
    pub(super) tokens: HashMap<String, (String, i64)>,
    certifications: HashMap<String, Certification>,
}

#[derive(Clone)]
pub(super) struct Certification {
    imp_uid: String,
    merchant_uid: Option<String>,
    persona: &'static Persona,
    certified: bool,
    certified_at: i64,
    wrong_codes: u8,
    failed: bool,
    needs_otp: bool,
    pg_provider: &'static str,
}

pub(super) fn envelope(status: StatusCode, code: i64, message: Option<&str>, response: Value) -> Response {
    (status, Json(json!({"code": code, "message": message, "response": response}))).into_response()
}

fn not_found() -> Response {
    envelope(StatusCode::NOT_FOUND, -1, Some("인증결과가 존재하지 않습니다."), Value::Null)
}

fn unauthorized() -> Response {
    envelope(StatusCode::UNAUTHORIZED, -1, Some("Unauthorized"), Value::Null)
}

/// Reads a JSON or form-urlencoded body into string fields.
fn fields(body: &Bytes) -> HashMap<String, String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        return map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
    }
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let decode =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

impl PortoneSimulator {
    fn now_unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// A business error: HTTP 200 with `code: 1`, or 400 when so configured.
    fn business_error(&self, message: &str) -> Response {
        let status = if self.config.business_errors_as_200 { StatusCode::OK } else { StatusCode::BAD_REQUEST };
        envelope(status, 1, Some(message), Value::Null)
    }

    fn v1_authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
        // PortOne documents `Bearer`; the raw token works as well.
        let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
        let now = self.now_unix();
        let live = self.lock().v1.tokens.values().any(|(t, expired_at)| t == token && now < *expired_at);
        if !live {
            self.counters.v1_unauthorized.fetch_add(1, Ordering::SeqCst);
        }
        live
    }

    fn certification_json(&self, c: &Certification) -> Value {
        let p = c.persona;
        let birthday = format!("{}-{}-{}", &p.birth_date[0..4], &p.birth_date[4..6], &p.birth_date[6..8]);
        let mut value = json!({
            "imp_uid": c.imp_uid,
            "merchant_uid": c.merchant_uid,
            "pg_tid": format!("sim{}", &c.imp_uid[4..]),
            "pg_provider": c.pg_provider,
            "certified": c.certified,
            "certified_at": if c.certified { c.certified_at } else { 0 },
            "unique_key": if c.certified { Some(p.ci) } else { None },
            "unique_in_site": if c.certified { Some(p.di) } else { None },
            "origin": "https://sandbox.bonin.local",
            "foreigner": self.config.foreigner_contract && p.nationality == Nationality::Foreign,
            "foreigner_v2": if self.config.foreigner_contract { Some(p.nationality == Nationality::Foreign) } else { None },
        });
        if c.certified {
            value["name"] = json!(p.name);
            value["gender"] = json!(if p.gender == Gender::Male { "male" } else { "female" });
            value["birthday"] = json!(birthday);
            if self.config.legacy_birth {
                let date = time::Date::parse(&birthday, time::macros::format_description!("[year]-[month]-[day]"))
                    .ok()
                    .map(|d| d.midnight().assume_offset(bonin_domain::KST).unix_timestamp());
                value["birth"] = json!(date);
            }
            if self.config.carrier_approval {
                value["phone"] = json!(p.phone);
                value["carrier"] = json!(carrier_name(p.carrier, "LGT"));
            }
        }
        value
    }

    /// Whether PortOne still holds the certification `imp_uid` (it was not deleted).
    pub fn has_certification(&self, imp_uid: &str) -> bool {
        self.lock().v1.certifications.contains_key(imp_uid)
    }

    /// Records a window certification (certified or not) and returns its `imp_uid`.
    pub(super) fn create_certification(
        &self,
        merchant_uid: &str,
        persona: &'static Persona,
        certified: bool,
    ) -> String {
        let imp_uid = random_id("imp_", 12);
        let certification = Certification {
            imp_uid: imp_uid.clone(),
            merchant_uid: Some(merchant_uid.to_owned()).filter(|m| !m.is_empty()),
            persona,
            certified,
            certified_at: self.now_unix(),
            wrong_codes: 0,
            failed: false,
            needs_otp: false,
            pg_provider: "danal",
        };
        self.lock().v1.certifications.insert(imp_uid.clone(), certification);
        imp_uid
    }
}

pub(super) async fn get_token(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    body: Bytes,
) -> Response {
    if let Some(code) = injected {
        return envelope(StatusCode::OK, code.parse().unwrap_or(1), Some("injected"), Value::Null);
    }
    let fields = fields(&body);
    let key = fields.get("imp_key").cloned().unwrap_or_default();
    let secret = fields.get("imp_secret").cloned().unwrap_or_default();
    if !sim.config.v1_keys.iter().any(|(k, s)| *k == key && *s == secret) {
        return envelope(StatusCode::UNAUTHORIZED, -1, Some("imp_key, imp_secret 인증에 실패했습니다."), Value::Null);
    }
    sim.counters.get_token.fetch_add(1, Ordering::SeqCst);
    let now = sim.now_unix();
    let (token, expired_at) = {
        let mut state = sim.lock();
        let entry = state.v1.tokens.get(&key).cloned();
        let (token, expired_at) = match entry {
            // Before expiry: the same token; inside its last minute, five more minutes.
            Some((token, expired_at)) if now < expired_at => {
                let expired_at = if expired_at - now <= EXTEND_WITHIN { expired_at + EXTENSION } else { expired_at };
                (token, expired_at)
            }
            _ => {
                sim.counters.tokens_issued.fetch_add(1, Ordering::SeqCst);
                (random_token(), now + TOKEN_LIFETIME)
            }
        };
        state.v1.tokens.insert(key, (token.clone(), expired_at));
        (token, expired_at)
    };
    envelope(StatusCode::OK, 0, None, json!({"access_token": token, "now": now, "expired_at": expired_at}))
}

pub(super) async fn get_certification(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    Path(imp_uid): Path<String>,
) -> Response {
    if !sim.v1_authorized(&headers) {
        return unauthorized();
    }
    if let Some(code) = injected {
        return envelope(StatusCode::OK, code.parse().unwrap_or(1), Some("injected"), Value::Null);
    }
    let found = sim.lock().v1.certifications.get(&imp_uid).cloned();
    match found {
        Some(c) if !c.certified && sim.config.uncertified_as_not_found => not_found(),
        Some(c) => {
            sim.counters.certification_lookups.fetch_add(1, Ordering::SeqCst);
            envelope(StatusCode::OK, 0, None, sim.certification_json(&c))
        }
        None => not_found(),
    }
}

pub(super) async fn delete_certification(
    State(sim): State<PortoneSimulator>,
    headers: HeaderMap,
    Path(imp_uid): Path<String>,
) -> Response {
    if !sim.v1_authorized(&headers) {
        return unauthorized();
    }
    let removed = sim.lock().v1.certifications.remove(&imp_uid);
    match removed {
        Some(c) => {
            sim.counters.certifications_deleted.fetch_add(1, Ordering::SeqCst);
            envelope(StatusCode::OK, 0, None, sim.certification_json(&c))
        }
        None => not_found(),
    }
}

pub(super) async fn otp_request(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !sim.v1_authorized(&headers) {
        return unauthorized();
    }
    if let Some(code) = injected {
        return envelope(StatusCode::OK, code.parse().unwrap_or(1), Some("injected"), Value::Null);
    }
    let f = fields(&body);
    let get = |k: &str| f.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let bad = |message: &str| envelope(StatusCode::BAD_REQUEST, 1, Some(message), Value::Null);
    let (Some(name), Some(phone), Some(birth), Some(gender_digit), Some(carrier)) =
        (get("name"), get("phone"), get("birth"), get("gender_digit"), get("carrier"))
    else {
        return bad("필수 입력값이 누락되었습니다.");
    };
    let phone: String = phone.chars().filter(char::is_ascii_digit).collect();
    if birth.len() != 6 || !birth.bytes().all(|b| b.is_ascii_digit()) {
        return bad("birth 는 YYMMDD 형식이어야 합니다.");
    }
    if !matches!(gender_digit.as_str(), "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8") {
        return bad("gender_digit 가 올바르지 않습니다.");
    }
    if !matches!(carrier.as_str(), "SKT" | "KT" | "LGT") {
        return bad("carrier 는 SKT, KT, LGT 중 하나여야 합니다.");
    }
    let channel_ok = match (get("channel_key"), get("pg")) {
        (Some(key), _) => sim.config.v1_channel_keys.contains(&key),
        (None, Some(pg)) => pg.starts_with("danal"),
        (None, None) => false,
    };
    if !channel_ok {
        return sim.business_error("본인인증 채널 정보를 찾을 수 없습니다.");
    }
    let kcp = get("channel_key").is_some_and(|key| sim.is_kcp(&key));
    if kcp {
        // KCP's guide marks these required; `bypass` may come as an object or as JSON text.
        if !matches!(get("verification_method").as_deref(), Some("SMS" | "APP")) {
            return bad("kcp_v2 본인인증에는 verification_method (SMS, APP) 가 필요합니다.");
        }
        let bypass = get("bypass").and_then(|b| serde_json::from_str::<Value>(&b).ok());
        if let Err(message) = super::check_kcp_bypass(bypass.as_ref()) {
            return bad(message);
        }
        if get("merchant_uid").is_some_and(|m| !super::kcp_id(&m, 40)) {
            return bad("merchant_uid 는 영문 대소문자와 숫자 40자 이하여야 합니다.");
        }
    }
    let is_mvno = get("is_mvno").is_some_and(|v| v == "true");
    let carrier_name = if is_mvno { format!("{carrier}_MVNO") } else { carrier };
    let persona = personas::by_phone(&phone).filter(|p| {
        p.name == name
            && p.birth_date[2..] == birth
            && super::carrier_name(p.carrier, "LGT") == carrier_name
            && gender_digit == super::gender_digit(p).to_string()
    });
    let Some(persona) = persona else {
        return sim.business_error("SIM0101 본인확인 정보가 일치하지 않습니다.");
    };
    let imp_uid = sim.create_certification(&get("merchant_uid").unwrap_or_default(), persona, false);
    let needs_otp = get("verification_method").as_deref() != Some("APP");
    if let Some(c) = sim.lock().v1.certifications.get_mut(&imp_uid) {
        c.needs_otp = needs_otp;
        c.pg_provider = if kcp { "kcp_v2" } else { "danal" };
    }
    if needs_otp {
        sim.record_sent(persona);
    }
    envelope(StatusCode::OK, 0, None, json!({"imp_uid": imp_uid}))
}

pub(super) async fn otp_confirm(
    State(sim): State<PortoneSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    Path(imp_uid): Path<String>,
    body: Bytes,
) -> Response {
    if !sim.v1_authorized(&headers) {
        return unauthorized();
    }
    if let Some(code) = injected {
        return envelope(StatusCode::OK, code.parse().unwrap_or(1), Some("injected"), Value::Null);
    }
    let otp = fields(&body).get("otp").map(|o| o.trim().to_owned()).filter(|o| !o.is_empty());
    let now = sim.now_unix();
    let outcome = {
        let mut state = sim.lock();
        let Some(c) = state.v1.certifications.get_mut(&imp_uid) else { return not_found() };
        if c.certified {
            Err((StatusCode::BAD_REQUEST, "이미 인증이 완료된 건입니다."))
        } else if c.failed {
            Err((StatusCode::OK, "SIM0202 인증번호 입력 횟수를 초과했습니다."))
        } else if c.needs_otp && otp.is_none() {
            Err((StatusCode::BAD_REQUEST, "OTP 가 누락되었습니다."))
        } else if c.needs_otp && otp.as_deref() != Some(c.persona.otp) {
            c.wrong_codes += 1;
            c.failed = c.wrong_codes >= MAX_OTP_ATTEMPTS;
            Err((StatusCode::OK, "SIM0201 인증번호가 일치하지 않습니다."))
        } else {
            c.certified = true;
            c.certified_at = now;
            Ok(c.clone())
        }
    };
    match outcome {
        Ok(c) => envelope(StatusCode::OK, 0, None, sim.certification_json(&c)),
        Err((StatusCode::OK, message)) => sim.business_error(message),
        Err((status, message)) => envelope(status, 1, Some(message), Value::Null),
    }
}
