//! The server API: `/token`, and request / status / result of a path family.

use std::sync::atomic::Ordering;

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use bonin_domain::{Gender, KST, Nationality, Timestamp};
use serde_json::{Map, Value, json};

use super::{
    IssuedToken, PathFamily, Progress, TossSimulator, TossStatus, Trigger, Tx, codes, crypto, kst_iso, random_bytes,
    toss_personas, uuid_v4,
};
use crate::{InjectedProviderCode, personas::Persona};

/// A call's outcome so far, or the answer that refuses it.
type Refusable<T> = Result<T, Box<Response>>;

/// `{"resultType": "SUCCESS", "success": …}`.
fn success(body: Value) -> Response {
    Json(json!({"resultType": "SUCCESS", "success": body})).into_response()
}

/// `{"resultType": "FAIL", "error": {…}, "success": null}` with this HTTP status.
fn fail_with(status: StatusCode, code: &str, reason: &str) -> Response {
    let body = json!({
        "resultType": "FAIL",
        "error": {"errorType": 0, "errorCode": code, "reason": reason, "data": {}},
        "success": null,
    });
    (status, Json(body)).into_response()
}

/// An RFC 6749 token error.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

/// Whether the request's media type is `expected` (parameters such as `charset` allowed).
fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(expected))
}

/// Form fields, each at most once (RFC 6749 §3.2); `None` on a repeat or bad encoding.
fn form_fields(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().ok().map(|c| c.into_owned())
        };
        let (k, v) = (decode(k)?, decode(v)?);
        if fields.iter().any(|(name, _)| *name == k) {
            return None;
        }
        fields.push((k, v));
    }
    Some(fields)
}

/// A JSON Web Token shaped like Toss's (RS256 header, client claims); the signature is random, the
/// token opaque to clients.
fn jwt(client_id: &str, issued: Timestamp, expires: Timestamp) -> String {
    let header = json!({"kid": "cert", "alg": "RS256"});
    let claims = json!({
        "sub": client_id, "aud": client_id, "scope": ["ca"], "iss": "https://cert.toss.im",
        "iat": issued.unix_timestamp(), "nbf": issued.unix_timestamp(), "exp": expires.unix_timestamp(),
        "jti": uuid_v4(),
    });
    let signature: [u8; 256] = random_bytes();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub(super) async fn token(
    State(sim): State<TossSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(code) = injected {
        return oauth_error(StatusCode::BAD_REQUEST, &code, "injected");
    }
    if !has_content_type(&headers, "application/x-www-form-urlencoded") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "client credentials go in the body");
    }
    let Some(fields) = form_fields(&body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "malformed or repeated parameter");
    };
    let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
    let (Some(grant_type), Some(scope), Some(client_id), Some(client_secret)) =
        (get("grant_type"), get("scope"), get("client_id"), get("client_secret"))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type, scope, client_id and client_secret are required",
        );
    };
    if grant_type != "client_credentials" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "grant_type must be client_credentials");
    }
    if !sim.config.clients.iter().any(|(id, secret)| id == client_id && secret == client_secret) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Bad client credentials");
    }
    if scope != "ca" {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "scope must be ca");
    }
    let now = sim.now();
    // Capped at a century so the arithmetic cannot overflow.
    let lifetime = i64::try_from(sim.config.expires_in).unwrap_or(i64::MAX).min(100 * 366 * 86_400);
    let expires_at = now + time::Duration::seconds(lifetime);
    let token = jwt(client_id, now, expires_at);
    sim.lock().tokens.insert(token.clone(), IssuedToken { client_id: client_id.to_owned(), expires_at });
    sim.counters.tokens_issued.fetch_add(1, Ordering::SeqCst);
    Json(json!({"access_token": token, "scope": "ca", "token_type": "Bearer", "expires_in": sim.config.expires_in}))
        .into_response()
}

impl TossSimulator {
    /// A business `FAIL`: HTTP 200, or 400 when so configured.
    fn fail(&self, code: &str, reason: &str) -> Response {
        let status = if self.config.business_errors_as_200 { StatusCode::OK } else { StatusCode::BAD_REQUEST };
        fail_with(status, code, reason)
    }

    /// [`Self::fail`], boxed for `?`.
    fn fail_boxed(&self, code: &str, reason: &str) -> Box<Response> {
        Box::new(self.fail(code, reason))
    }

    fn invalid_token(&self) -> Response {
        self.counters.token_refusals.fetch_add(1, Ordering::SeqCst);
        let status = StatusCode::from_u16(self.config.invalid_token_status).unwrap_or(StatusCode::UNAUTHORIZED);
        fail_with(status, codes::INVALID_TOKEN, "유효하지 않은 토큰입니다.")
    }

    /// The client a call's bearer token belongs to.
    fn client_of(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
            return None;
        }
        let now = self.now();
        let state = self.lock();
        let issued = state.tokens.get(token)?;
        (now < issued.expires_at).then(|| issued.client_id.clone())
    }

    /// The prelude of every API call: the token, an injected code, the media type, a JSON object.
    fn api_call(
        &self,
        headers: &HeaderMap,
        injected: Option<String>,
        body: &[u8],
    ) -> Refusable<(String, Map<String, Value>)> {
        let client = self.client_of(headers).ok_or_else(|| Box::new(self.invalid_token()))?;
        if let Some(code) = injected {
            let answer = if code == codes::INVALID_TOKEN { self.invalid_token() } else { self.fail(&code, "injected") };
            return Err(Box::new(answer));
        }
        if !has_content_type(headers, "application/json") {
            return Err(Box::new(fail_with(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                codes::INVALID_REQUEST,
                "Content-Type must be application/json",
            )));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok((client, map)),
            _ => Err(self.fail_boxed(codes::INVALID_REQUEST, "the body must be a JSON object")),
        }
    }

    /// The request `tx_id` of `client` in `family`, or `CE3100`.
    fn tx_of(&self, family: PathFamily, client: &str, tx_id: &str) -> Refusable<Tx> {
        self.lock()
            .txs
            .get(tx_id)
            .filter(|tx| tx.family == family && tx.client_id == client)
            .cloned()
            .ok_or_else(|| self.fail_boxed(codes::NO_SUCH_REQUEST, "요청 정보가 존재하지 않습니다."))
    }
}

/// A string field: `Ok(None)` when absent or null, `Err` when present with another type or empty.
fn text<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(_) => Err(format!("{name} must be a non-empty string")),
    }
}

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    text(body, name)?.ok_or_else(|| format!("{name} is required"))
}

/// An absolute `http(s)` URL or an app-scheme URL (`myapp://…`).
fn is_return_url(url: &str) -> bool {
    url.len() <= 2048
        && !url.chars().any(char::is_whitespace)
        && url.split_once("://").is_some_and(|(scheme, rest)| {
            scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && !rest.is_empty()
                && !matches!(scheme.to_ascii_lowercase().as_str(), "javascript" | "data" | "vbscript" | "file")
        })
}

/// A real calendar date `YYYYMMDD`, not after `today`.
fn is_birthday(text: &str, today: time::Date) -> bool {
    let digits = text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit());
    let parsed = || -> Option<time::Date> {
        let month = time::Month::try_from(text.get(4..6)?.parse::<u8>().ok()?).ok()?;
        time::Date::from_calendar_date(text.get(0..4)?.parse().ok()?, month, text.get(6..8)?.parse().ok()?).ok()
    };
    digits && parsed().is_some_and(|date| date <= today)
}

/// A Korean mobile number, digits only: `01` and 8 or 9 more digits.
fn is_phone(text: &str) -> bool {
    (10..=11).contains(&text.len()) && text.starts_with("01") && text.bytes().all(|b| b.is_ascii_digit())
}

/// What `USER_PERSONAL` brings: its session and the decrypted subject.
struct Personal {
    session: crypto::TossSession,
    subject: &'static Persona,
}

/// The fields a `USER_PERSONAL` request brings; `USER_NONE` takes none of them.
const USER_FIELDS: [&str; 4] = ["sessionKey", "userName", "userPhone", "userBirthday"];

/// Opens a `USER_PERSONAL` request's session and fields, and finds the person.
fn open_personal(c: &Caller<'_>) -> Refusable<Personal> {
    let sim = c.sim;
    let session_key = c.required(USER_FIELDS[0])?;
    let mut encrypted = Vec::with_capacity(3);
    for name in &USER_FIELDS[1..] {
        encrypted.push((*name, c.required(name)?));
    }
    let session =
        sim.key.open_session_key(session_key).map_err(|e| sim.fail_boxed(codes::BAD_SESSION_KEY, &e.to_string()))?;
    let mut plain = Vec::with_capacity(3);
    for (name, value) in encrypted {
        let opened =
            session.open(value).map_err(|e| sim.fail_boxed(codes::BAD_ENCRYPTED_FIELD, &format!("{name}: {e}")))?;
        plain.push(opened);
    }
    let (name, phone, birthday) = (plain[0].trim(), plain[1].as_str(), plain[2].as_str());
    if name.is_empty() || name.chars().count() > 60 {
        return Err(c.invalid("userName must be a name"));
    }
    if !is_phone(phone) {
        return Err(c.invalid("userPhone must be digits only, 01 and 8 or 9 more"));
    }
    if !is_birthday(birthday, sim.now().to_offset(KST).date()) {
        return Err(c.invalid("userBirthday must be a date, YYYYMMDD"));
    }
    let subject = toss_personas()
        .find(|p| p.name == name && p.phone == phone && p.birth_date == birthday)
        .ok_or_else(|| sim.fail_boxed(codes::NO_SUCH_USER, "토스 회원 정보와 일치하지 않습니다."))?;
    Ok(Personal { session, subject })
}

/// The app links of a request: `supertoss://` for the app, an Android intent, and (as the
/// reference warns Toss may send) the string `"null"` for iOS; all three `"null"` for a push.
fn app_links(tx_id: &str, trigger: Option<Trigger>) -> (String, String, String) {
    if trigger == Some(Trigger::Push) {
        return ("null".into(), "null".into(), "null".into());
    }
    let path = format!("toss-cert/v2/sign/user/auth?txId={tx_id}");
    (
        format!("supertoss://{path}"),
        format!("intent://{path}#Intent;scheme=supertoss;package=viva.republica.toss;end"),
        "null".into(),
    )
}

/// The three calls of a path family.
#[derive(Debug, Clone, Copy)]
pub(super) enum Call {
    /// `…/request`.
    Request,
    /// `…/status`.
    Status,
    /// `…/result`.
    Result,
}

/// One authorized API call, past the prelude.
struct Caller<'a> {
    sim: &'a TossSimulator,
    family: PathFamily,
    client: String,
    body: Map<String, Value>,
    /// The `Host` the call came to (where the page is).
    host: &'a str,
}

impl Caller<'_> {
    fn invalid(&self, reason: &str) -> Box<Response> {
        self.sim.fail_boxed(codes::INVALID_REQUEST, reason)
    }

    fn text(&self, name: &str) -> Refusable<Option<&str>> {
        text(&self.body, name).map_err(|reason| self.invalid(&reason))
    }

    fn required(&self, name: &str) -> Refusable<&str> {
        required(&self.body, name).map_err(|reason| self.invalid(&reason))
    }
}

/// An API call of `family`: the prelude (token, injected code, media type, JSON object), then the call.
pub(super) async fn call(
    call: Call,
    family: PathFamily,
    State(sim): State<TossSimulator>,
    InjectedProviderCode(injected): InjectedProviderCode,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    let outcome = sim.api_call(&headers, injected, &body).and_then(|(client, body)| {
        let caller = Caller { sim: &sim, family, client, body, host };
        match call {
            Call::Request => request(&caller),
            Call::Status => status(&caller),
            Call::Result => result(&caller),
        }
    });
    outcome.unwrap_or_else(|refusal| *refusal)
}

fn request(c: &Caller<'_>) -> Refusable<Response> {
    let sim = c.sim;
    let request_type = c.required("requestType")?;
    let trigger = match c.text("triggerType")? {
        None => None,
        Some("APP_SCHEME") => Some(Trigger::AppScheme),
        Some("PUSH") => Some(Trigger::Push),
        Some(_) => return Err(c.invalid("triggerType must be APP_SCHEME or PUSH")),
    };
    let request_url = c.text("requestUrl")?;
    if request_url.is_some_and(|u| !is_return_url(u)) {
        return Err(c.invalid("requestUrl must be an absolute http(s) or app-scheme URL"));
    }
    let personal = match request_type {
        "USER_NONE" => {
            if let Some(name) = USER_FIELDS.into_iter().find(|n| c.body.contains_key(*n)) {
                return Err(c.invalid(&format!("USER_NONE takes no {name}")));
            }
            if trigger == Some(Trigger::Push) {
                return Err(c.invalid("USER_NONE cannot be PUSH: there is no one to push to"));
            }
            None
        }
        "USER_PERSONAL" if trigger.is_none() => return Err(c.invalid("USER_PERSONAL needs triggerType")),
        "USER_PERSONAL" => Some(open_personal(c)?),
        _ => return Err(c.invalid("requestType must be USER_NONE or USER_PERSONAL")),
    };
    if trigger == Some(Trigger::AppScheme) && request_url.is_none() {
        return Err(c.invalid("APP_SCHEME needs requestUrl (where the app returns)"));
    }
    let now = sim.now();
    let tx_id = uuid_v4();
    let page_code: String = random_bytes::<24>().iter().map(|b| format!("{b:02x}")).collect();
    let with_auth_url = personal.is_none() || sim.config.auth_url_for_personal;
    let auth_url = with_auth_url.then(|| format!("http://{}{}?code={page_code}", c.host, super::AUTH_PAGE_PATH));
    {
        let mut state = sim.lock();
        if let Some(p) = &personal
            && !state.used_sessions.insert(p.session.id().to_owned())
        {
            drop(state);
            return Err(sim.fail_boxed(codes::SESSION_REUSED, "sessionKey was already used"));
        }
        state.pages.insert(page_code.clone(), tx_id.clone());
        let tx = Tx {
            id: tx_id.clone(),
            family: c.family,
            client_id: c.client.clone(),
            subject: personal.as_ref().map(|p| p.subject),
            request_url: request_url.map(str::to_owned),
            request_session: personal.map(|p| p.session),
            requested_at: now,
            page_code,
            progress: Progress::Requested,
            reads: 0,
        };
        state.txs.insert(tx_id.clone(), tx);
    }
    sim.counters.requests.fetch_add(1, Ordering::SeqCst);
    let (app_scheme, android, ios) = app_links(&tx_id, trigger);
    Ok(success(json!({
        "txId": tx_id,
        "requestedDt": kst_iso(now),
        "appScheme": app_scheme,
        "androidAppUri": android,
        "iosAppUri": ios,
        "authUrl": auth_url,
    })))
}

fn status(c: &Caller<'_>) -> Refusable<Response> {
    let tx = c.sim.tx_of(c.family, &c.client, c.required("txId")?)?;
    c.sim.counters.status_queries.fetch_add(1, Ordering::SeqCst);
    let status = c.sim.status_of(&tx, c.sim.now());
    Ok(success(json!({"txId": tx.id, "status": status.as_str(), "requestedDt": kst_iso(tx.requested_at)})))
}

/// `ADULT` from the 19th birthday on (만 19세, the Civil Act's age of majority), else `MINOR`.
fn age_group(birth_date: &str, today: time::Date) -> &'static str {
    let parsed = || -> Option<(i32, u8, u8)> {
        Some((
            birth_date.get(0..4)?.parse().ok()?,
            birth_date.get(4..6)?.parse().ok()?,
            birth_date.get(6..8)?.parse().ok()?,
        ))
    };
    let Some((year, month, day)) = parsed() else { return "MINOR" };
    let before_birthday = (u8::from(today.month()), today.day()) < (month, day);
    if today.year() - year - i32::from(before_birthday) >= 19 { "ADULT" } else { "MINOR" }
}

/// An opaque Base64 DER blob shaped like a CMS ContentInfo of type signedData (the real one is
/// PKCS#7 SignedData by the person's Toss certificate; nothing here verifies it).
fn signature_blob() -> String {
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }
    const SIGNED_DATA_OID: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    let opaque: [u8; 256] = random_bytes();
    let mut content = der(0x06, &SIGNED_DATA_OID);
    content.extend(der(0xA0, &der(0x04, &opaque)));
    STANDARD.encode(der(0x30, &content))
}

fn result_body(
    tx: &Tx,
    persona: &Persona,
    completed_at: Timestamp,
    session: &crypto::TossSession,
    today: time::Date,
) -> Option<Value> {
    let seal = |plain: &str| session.seal(plain);
    let gender = if persona.gender == Gender::Male { "MALE" } else { "FEMALE" };
    let nationality = if persona.nationality == Nationality::Foreign { "FOREIGNER" } else { "LOCAL" };
    Some(json!({
        "txId": tx.id,
        "status": TossStatus::Completed.as_str(),
        "requestedDt": kst_iso(tx.requested_at),
        "completedDt": kst_iso(completed_at),
        "signature": signature_blob(),
        "personalData": {
            "ci": seal(persona.ci)?,
            "di": seal(persona.di)?,
            "name": seal(persona.name)?,
            "birthday": seal(persona.birth_date)?,
            "gender": seal(gender)?,
            "nationality": seal(nationality)?,
            "ageGroup": seal(age_group(persona.birth_date, today))?,
            "ci2": null,
            "ciUpdate": null,
        },
    }))
}

fn result(c: &Caller<'_>) -> Refusable<Response> {
    let sim = c.sim;
    let tx_id = c.required("txId")?;
    let session_key = c.required("sessionKey")?;
    let tx = sim.tx_of(c.family, &c.client, tx_id)?;
    let session =
        sim.key.open_session_key(session_key).map_err(|e| sim.fail_boxed(codes::BAD_SESSION_KEY, &e.to_string()))?;
    let reuses_request = tx.request_session.as_ref().is_some_and(|r| r.id() == session.id() || r.same_key(&session));
    if reuses_request || sim.lock().used_sessions.contains(session.id()) {
        return Err(sim.fail_boxed(codes::SESSION_REUSED, "the result needs a new sessionKey"));
    }
    let Progress::Completed { persona, at } = tx.progress else {
        return Err(sim.fail_boxed(codes::NOT_COMPLETED, "인증이 완료되지 않았습니다."));
    };
    let now = sim.now();
    if now >= at + sim.config.result_window {
        return Err(sim.fail_boxed(codes::RESULT_WINDOW_PASSED, "결과 조회 가능 시간이 지났습니다."));
    }
    let answer = result_body(&tx, persona, at, &session, now.to_offset(KST).date()).ok_or_else(|| {
        Box::new(fail_with(StatusCode::INTERNAL_SERVER_ERROR, codes::INVALID_REQUEST, "sealing failed"))
    })?;
    {
        let mut state = sim.lock();
        let reads = state.txs.get(&tx.id).map_or(0, |stored| stored.reads);
        if reads >= sim.config.max_result_reads {
            drop(state);
            return Err(sim.fail_boxed(codes::READ_LIMIT, "결과 조회 가능 횟수를 초과했습니다."));
        }
        // Checked again under the lock: a concurrent read with the same session may have won.
        if !state.used_sessions.insert(session.id().to_owned()) {
            drop(state);
            return Err(sim.fail_boxed(codes::SESSION_REUSED, "the result needs a new sessionKey"));
        }
        if let Some(stored) = state.txs.get_mut(&tx.id) {
            stored.reads += 1;
        }
    }
    sim.counters.result_reads.fetch_add(1, Ordering::SeqCst);
    Ok(success(answer))
}
