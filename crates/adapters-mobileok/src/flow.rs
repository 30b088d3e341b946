//! The mobileOK calls and both flows.

use std::sync::Arc;

use async_trait::async_trait;
use bonin_adapters_http::{HttpClient, HttpConfig, HttpRequest, HttpResponse, ReqwestTransport, RetryPolicy};
use bonin_domain::{
    BirthDate, CallbackParams, Carrier, Ci, Clock, Completion, Dependency, Di, Error, FlowRules, Gender, Name,
    Nationality, OsRng, OtpChannel, OtpCode, OtpDispatch, OtpOutcome, OtpRequest, OtpVerifier, PhoneNumber,
    PopupLanding, ProviderId, ProviderKey, ProviderState, ProviderTxId, Purpose, Rng, SystemClock, Verification,
    VerifiedIdentity, WindowRequest, WindowStart, WindowVerifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    CryptoGeneration, FLOW_RULES, KeyFile, MobileokConfig, MobileokLaunch, codes,
    crypto::{decrypt_result, encrypt_req_client_info, parse_issue_date, parse_public_key, server_encrypt},
};

/// What the 표준창 launches and callback need (stored with the session).
#[derive(Serialize, Deserialize)]
struct WindowState {
    /// The verification id, which begins the `clientTxId` of every launch.
    client_tx_id: String,
    /// bonin's return URL, for the request info of each launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    return_url: Option<String>,
    /// `usageCode` of each launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage_code: Option<String>,
    /// Request info built once at start, with `clientTxId` = the verification id (sessions started
    /// before request info was built per launch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request_info: Option<String>,
}

/// Characters appended to the verification id to make a `clientTxId` (the verification id's own
/// alphabet).
const TX_SUFFIX_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// Length of that suffix: a 26-character verification id makes a 36-character `clientTxId`, within
/// mobileOK's 20–40.
const TX_SUFFIX_LEN: usize = 10;

/// A fresh `clientTxId` for the verification `base`: mobileOK refuses one it has seen, so every
/// token request and every 표준창 launch gets its own. The verification id leads, so a result names
/// the verification it belongs to.
fn fresh_client_tx_id(base: &str, rng: &dyn Rng) -> Result<String, Error> {
    let mut bytes = [0u8; TX_SUFFIX_LEN];
    rng.fill_bytes(&mut bytes)?;
    let mut id = String::with_capacity(base.len() + TX_SUFFIX_LEN);
    id.push_str(base);
    // 256 is a multiple of 32: every character is equally likely.
    id.extend(bytes.iter().map(|b| char::from(TX_SUFFIX_ALPHABET[usize::from(*b) % 32])));
    Ok(id)
}

impl WindowState {
    /// Whether `reported` is a `clientTxId` bonin made for this session: the one of any of its
    /// launches, or, for a session whose request info was built once at start, the verification
    /// id itself.
    fn launched(&self, reported: &str) -> bool {
        let base = self.client_tx_id.as_str();
        if self.return_url.is_none() {
            return reported == base;
        }
        reported.strip_prefix(base).is_some_and(|suffix| {
            suffix.len() == TX_SUFFIX_LEN && suffix.bytes().all(|b| TX_SUFFIX_ALPHABET.contains(&b))
        })
    }
}

/// The 본인확인-API token chain (stored with the session).
#[derive(Serialize, Deserialize)]
struct OtpState {
    client_tx_id: String,
    /// Always the newest `encryptMOKToken`.
    token: String,
    /// From token/get; used for every later envelope.
    public_key: String,
    auth_type: String,
}

/// The mobileOK adapter.
pub struct MobileokClient {
    config: MobileokConfig,
    key_file: KeyFile,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Rng>,
}

impl std::fmt::Debug for MobileokClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobileokClient")
            .field("config", &self.config)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

fn usage_code(purpose: Option<Purpose>, default: &str) -> String {
    match purpose {
        Some(Purpose::SignUp) => "01001",
        Some(Purpose::ChangeInfo) => "01002",
        Some(Purpose::FindId) => "01003",
        Some(Purpose::FindPassword) => "01004",
        Some(Purpose::IdentityCheck) => "01005",
        Some(Purpose::AdultCheck) => "01006",
        Some(Purpose::Purchase) => "01007",
        Some(Purpose::Other) => "01999",
        _ => default,
    }
    .to_owned()
}

fn provider_id(carrier: Carrier) -> &'static str {
    match carrier {
        Carrier::Skt => "SKT",
        Carrier::Kt => "KT",
        Carrier::Lgu => "LGU",
        Carrier::SktMvno => "SKTMVNO",
        Carrier::KtMvno => "KTMVNO",
        _ => "LGUMVNO",
    }
}

fn carrier(provider_id: &str) -> Option<Carrier> {
    Some(match provider_id {
        "SKT" => Carrier::Skt,
        "KT" => Carrier::Kt,
        "LGU" => Carrier::Lgu,
        "SKTMVNO" => Carrier::SktMvno,
        "KTMVNO" => Carrier::KtMvno,
        "LGUMVNO" => Carrier::LguMvno,
        _ => return None,
    })
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// Reads a mobileOK reply; mobileOK answers JSON even as `text/plain`, so the content type is ignored.
fn reply(response: &HttpResponse, what: &'static str) -> Result<Value, Error> {
    match serde_json::from_slice::<Value>(&response.body) {
        Ok(value) if value.is_object() => Ok(value),
        _ if response.status >= 500 => Err(Error::Unavailable {
            dependency: Dependency::Provider(ProviderId::Mobileok),
            reason: format!("{what}: HTTP {}", response.status).into(),
        }),
        _ => Err(Error::protocol(
            ProviderId::Mobileok,
            format!("{what}: the reply is not JSON (HTTP {})", response.status),
        )),
    }
}

fn result_code(value: &Value) -> String {
    match value.get("resultCode") {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Fails unless `resultCode` is 2000.
fn ensure_success(value: &Value) -> Result<(), Error> {
    let code = result_code(value);
    if code == codes::SUCCESS {
        Ok(())
    } else {
        Err(codes::to_error(if code.is_empty() { "(none)" } else { &code }, text(value, "resultMsg").as_deref()))
    }
}

fn required(value: &Value, key: &'static str, what: &'static str) -> Result<String, Error> {
    text(value, key).ok_or_else(|| Error::protocol(ProviderId::Mobileok, format!("{what}: `{key}` missing")))
}

/// Maps a result decrypted from a reply of mobileOK's server to a completion. The result's
/// `clientTxId` must be one `ours` accepts for this session, and it must carry a readable
/// `issueDate`, which the caller checks against the 600-second rule
/// ([`Completion::result_issued_at`]).
fn to_completion(result: &Value, ours: impl Fn(&str) -> bool) -> Result<Completion, Error> {
    let reported = text(result, "clientTxId").unwrap_or_default();
    // One integrator strips a `|…` suffix from the returned id; the same tolerance applies here.
    let reported = reported.split('|').next().unwrap_or_default();
    if !ours(reported) {
        return Err(Error::integrity("clientTxId does not match this session"));
    }
    // Without its issue time a result cannot be held to the 600-second rule.
    let issued_at = text(result, "issueDate")
        .and_then(|d| parse_issue_date(&d))
        .and_then(|t| t.checked_to_offset(time::UtcOffset::UTC))
        .ok_or_else(|| Error::protocol(ProviderId::Mobileok, "the result has no readable issueDate"))?;
    let mut identity = VerifiedIdentity::new(ProviderId::Mobileok, issued_at);
    identity.name = text(result, "userName").and_then(|n| Name::new(n).ok());
    identity.phone = text(result, "userPhone").and_then(|p| PhoneNumber::new(p).ok());
    identity.birth_date = text(result, "userBirthday").and_then(|b| BirthDate::parse(&b).ok());
    identity.gender = match text(result, "userGender").as_deref() {
        Some("1") => Some(Gender::Male),
        Some("2") => Some(Gender::Female),
        _ => None,
    };
    identity.nationality = match text(result, "userNation").as_deref() {
        Some("0") => Some(Nationality::Domestic),
        Some("1") => Some(Nationality::Foreign),
        _ => None,
    };
    identity.carrier = text(result, "providerId").and_then(|p| carrier(&p));
    identity.ci = text(result, "ci").and_then(|c| Ci::new(c).ok());
    identity.di = text(result, "di").and_then(|d| Di::new(d).ok());
    identity.provider_tx_id = text(result, "txId").and_then(|t| ProviderTxId::new(t).ok());
    Ok(Completion::new(identity).with_result_issued_at(issued_at))
}

/// Decrypts an `encryptMOKResult` taken from a reply of mobileOK's server and maps it.
fn open_result(key_file: &KeyFile, encrypted: &str, ours: impl Fn(&str) -> bool) -> Result<Completion, Error> {
    let plaintext = decrypt_result(key_file, encrypted)?;
    let result: Value = serde_json::from_slice(&plaintext)
        .map_err(|_| Error::protocol(ProviderId::Mobileok, "the result is not JSON"))?;
    to_completion(&result, ours)
}

fn state_error() -> Error {
    Error::Indeterminate {
        dependency: Dependency::Store,
        reason: "the stored mobileOK session state could not be read".into(),
    }
}

/// Undoes the URL encoding that remains after the form layer (the `data` field is URL-encoded JSON).
fn decode_data_field(value: &str) -> Result<Value, Error> {
    let spaced = value.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map_err(|_| Error::invalid_input("data", "is not URL-encoded UTF-8"))?;
    serde_json::from_str(&decoded).map_err(|_| Error::invalid_input("data", "is not the JSON mobileOK sends"))
}

/// Reads the browser's `data` for the one thing bonin takes from it: the `encryptMOKKeyToken` to
/// exchange. Nothing in `data` is authenticated, so nothing in it may end the verification:
///
/// * an `encryptMOKResult` is refused (`IntegrityMismatch`): bonin asks for `MOKToken`, and such a
///   result is sealed only to the client's public key, so anyone can build one;
/// * a `resultCode` other than `2000` (a cancel, or one made up) is `Unconfirmed`, its code kept
///   verbatim for display.
fn key_token(data: &Value) -> Result<String, Error> {
    if data.get("encryptMOKResult").is_some() {
        return Err(Error::integrity(
            "the callback carries encryptMOKResult; results are taken only from mobileOK's server (MOKToken)",
        ));
    }
    if !matches!(data.get("resultCode"), None | Some(Value::Null)) {
        let code = result_code(data);
        if code != codes::SUCCESS {
            return Err(Error::unconfirmed(ProviderId::Mobileok, if code.is_empty() { "(none)" } else { &code }));
        }
    }
    text(data, "encryptMOKKeyToken").ok_or_else(|| Error::invalid_input("data", "has no encryptMOKKeyToken"))
}

impl MobileokClient {
    /// A client: unlocks the key file now, so a wrong password fails at start-up.
    pub fn new(
        config: MobileokConfig,
        http: HttpClient,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let key_file = config.load_key_file()?;
        if config.crypto == CryptoGeneration::V2 && !key_file.has_server_public_key() {
            return Err(Error::misconfigured(
                "providers.mobileok.crypto = \"v2\" needs a key file with a ServerPublicKey",
            ));
        }
        Ok(Self { config, key_file, http, clock, rng })
    }

    /// A client with the default HTTP settings, the system clock and the OS random generator.
    pub fn from_config(config: MobileokConfig) -> Result<Self, Error> {
        let transport = ReqwestTransport::new(&HttpConfig::default())?;
        let http = HttpClient::new(ProviderId::Mobileok, Arc::new(transport), RetryPolicy::default());
        Self::new(config, http, Arc::new(SystemClock::new()), Arc::new(OsRng))
    }

    /// The unlocked key file.
    pub fn key_file(&self) -> &KeyFile {
        &self.key_file
    }

    /// The lookup key of an OTP or window session: its verification id, which begins every
    /// `clientTxId` bonin sends for it.
    pub fn provider_key(verification_id: &str) -> ProviderKey {
        ProviderKey::new(ProviderId::Mobileok, verification_id)
    }

    async fn post(&self, label: &'static str, url: String, body: &Value) -> Result<Value, Error> {
        // None of these calls is safe to repeat: tokens are single-use and clientTxId must not recur.
        let request = HttpRequest::post(label, url)
            .header("Content-Type", "application/json;charset=UTF-8")
            .body(body.to_string().into_bytes());
        let response = self.http.send(request).await?;
        reply(&response, label)
    }

    /// The `MOKReqClientInfo` of one 표준창 launch.
    fn request_info(&self, client_tx_id: &str, return_url: &str, usage_code: &str) -> Result<String, Error> {
        let encrypted = encrypt_req_client_info(&self.key_file, self.config.crypto, client_tx_id, self.clock.now())?;
        let mut info = json!({
            "usageCode": usage_code,
            "serviceId": self.key_file.service_id(),
            "encryptReqClientInfo": encrypted,
            "serviceType": "telcoAuth",
            "retTransferType": "MOKToken",
            "returnUrl": return_url,
        });
        if self.config.crypto == CryptoGeneration::V2 {
            info["encryptVersion"] = json!("V2");
        }
        Ok(info.to_string())
    }

    async fn token(&self, client_tx_id: &str) -> Result<(String, String), Error> {
        let encrypted = encrypt_req_client_info(&self.key_file, self.config.crypto, client_tx_id, self.clock.now())?;
        let reply = self
            .post(
                "mobileok.token",
                format!("{}{}", self.config.api_base, self.config.effective_token_endpoint().path()),
                &json!({"serviceId": self.key_file.service_id(), "encryptReqClientInfo": encrypted, "siteUrl": self.config.site_url}),
            )
            .await?;
        ensure_success(&reply)?;
        Ok((required(&reply, "encryptMOKToken", "token/get")?, required(&reply, "publicKey", "token/get")?))
    }

    fn encrypt_for(&self, public_key: &str, payload: &Value) -> Result<String, Error> {
        server_encrypt(&parse_public_key(public_key)?, payload.to_string().as_bytes(), self.rng.as_ref())
    }

    fn otp_state(session: &Verification) -> Result<OtpState, Error> {
        let state = session.provider_state().ok_or(Error::AlreadyCompleted)?;
        serde_json::from_str(state.expose()).map_err(|_| state_error())
    }

    fn state_of(state: &OtpState) -> Result<ProviderState, Error> {
        serde_json::to_string(state).map(ProviderState::new).map_err(|_| state_error())
    }
}

#[async_trait]
impl WindowVerifier for MobileokClient {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }

    fn rules(&self) -> FlowRules {
        FLOW_RULES
    }

    /// The SDK fetches the return URL itself in popup (`WB`) mode and hands the body to the page's
    /// callback; it follows no redirect, so the landing answers JSON.
    fn popup_landing(&self) -> PopupLanding {
        PopupLanding::Json
    }

    async fn start(&self, request: &WindowRequest) -> Result<WindowStart, Error> {
        if !request.return_url.starts_with("https://") && !request.return_url.starts_with("http://") {
            return Err(Error::invalid_input("return_url", "must be an absolute http(s) URL"));
        }
        let request_url = request.launch_url.clone().ok_or_else(|| {
            Error::invalid_input("launch_url", "mobileOK's SDK needs a request URL to fetch its request data")
        })?;
        let base = request.verification_id.as_str();
        let state = WindowState {
            client_tx_id: base.to_owned(),
            return_url: Some(request.return_url.clone()),
            usage_code: Some(usage_code(request.purpose, &self.config.usage_code)),
            request_info: None,
        };
        let state = serde_json::to_string(&state).map_err(|_| state_error())?;
        let launch =
            MobileokLaunch { script_url: format!("{}/resources/js/index.js", self.config.window_base), request_url }
                .to_launch()?;
        Ok(WindowStart::new(launch, ProviderState::new(state)).with_provider_key(Self::provider_key(base)))
    }

    /// The request info for one launch of the window. The SDK fetches it each time the window is
    /// opened (a popup closed and opened again, a page reloaded), and mobileOK refuses a
    /// `clientTxId` it has seen, so each answer carries a fresh one (the verification id plus a
    /// random suffix) and a fresh `requestTime`.
    fn launch_data(&self, session: &Verification) -> Result<Option<String>, Error> {
        session.ensure_open(self.clock.now())?;
        let state = session.provider_state().ok_or(Error::AlreadyCompleted)?;
        let state: WindowState = serde_json::from_str(state.expose()).map_err(|_| state_error())?;
        match (state.return_url, state.request_info) {
            (Some(return_url), _) => {
                let usage_code = state.usage_code.unwrap_or_else(|| self.config.usage_code.clone());
                let client_tx_id = fresh_client_tx_id(&state.client_tx_id, self.rng.as_ref())?;
                self.request_info(&client_tx_id, &return_url, &usage_code).map(Some)
            }
            (None, Some(request_info)) => Ok(Some(request_info)),
            (None, None) => Err(state_error()),
        }
    }

    /// Takes the `encryptMOKKeyToken` from the posted `data`, exchanges it at `result/request` and
    /// opens the result mobileOK's server returns. The return URL is open to anyone holding the
    /// verification id, so this never returns `Rejected`: a failure the browser reports is
    /// `Unconfirmed`, a posted result or a key token mobileOK will not exchange is
    /// `IntegrityMismatch`. Only a result from mobileOK's server, for this `clientTxId`, verifies;
    /// its `issueDate` decides whether it is too old (`Expired`).
    async fn complete(&self, session: &Verification, callback: &CallbackParams) -> Result<Completion, Error> {
        session.ensure_open(self.clock.now())?;
        let state = session.provider_state().ok_or(Error::AlreadyCompleted)?;
        let state: WindowState = serde_json::from_str(state.expose()).map_err(|_| state_error())?;
        if callback.is_repeated("data") {
            return Err(Error::integrity("a callback parameter appears more than once"));
        }
        // The form layer decoded `data` once; its value is URL-encoded JSON, decoded exactly once more.
        let data = decode_data_field(callback.require("data")?)?;
        let key_token = key_token(&data)?;
        // The key token lives seconds: exchange it at once.
        let reply = self
            .post(
                "mobileok.result",
                format!("{}/gui/service/v1/result/request", self.config.window_base),
                &json!({"encryptMOKKeyToken": key_token}),
            )
            .await?;
        let code = result_code(&reply);
        if code != codes::SUCCESS {
            return Err(codes::key_token_refused(&code, text(&reply, "resultMsg").as_deref()));
        }
        let encrypted = required(&reply, "encryptMOKResult", "result/request")?;
        open_result(&self.key_file, &encrypted, |reported| state.launched(reported))
    }
}

#[async_trait]
impl OtpVerifier for MobileokClient {
    fn provider(&self) -> ProviderId {
        ProviderId::Mobileok
    }

    fn rules(&self) -> FlowRules {
        FLOW_RULES
    }

    async fn send(&self, request: &OtpRequest) -> Result<OtpDispatch, Error> {
        // LMS is an SMS request whose serviceType asks for the long-message channel.
        let (auth_type, service_type) = match request.channel {
            OtpChannel::Sms => ("SMS", "telcoAuth"),
            OtpChannel::Lms => ("SMS", "telcoAuth-LMS"),
            OtpChannel::Pass => ("PASS", "telcoAuth"),
            _ => return Err(Error::invalid_input("auth_type", "mobileOK supports sms, lms and pass")),
        };
        let base = request.verification_id.as_str();
        // A send that failed may be sent again, and mobileOK refuses a clientTxId it has seen.
        let client_tx_id = fresh_client_tx_id(base, self.rng.as_ref())?;
        let (token, public_key) = self.token(&client_tx_id).await?;
        let subject = &request.subject;
        let auth_info = json!({
            "providerId": provider_id(subject.carrier),
            "reqAuthType": auth_type,
            "usageCode": usage_code(request.purpose, &self.config.usage_code),
            "serviceType": service_type,
            "userName": subject.name.expose(),
            "userPhone": subject.phone.expose(),
            "userBirthday": subject.birth_date.yyyymmdd(),
            "userGender": if subject.gender == Gender::Male { "1" } else { "2" },
            "userNation": if subject.nationality == Nationality::Foreign { "1" } else { "0" },
            "retTransferType": "MOKResult",
        });
        let reply = self
            .post(
                "mobileok.auth_request",
                format!("{}/agent/v1/auth/request", self.config.api_base),
                &json!({"siteUrl": self.config.site_url, "encryptMOKToken": token, "encryptMOKAuthInfo": self.encrypt_for(&public_key, &auth_info)?}),
            )
            .await?;
        ensure_success(&reply)?;
        let state = OtpState {
            client_tx_id,
            token: required(&reply, "encryptMOKToken", "auth/request")?,
            public_key,
            auth_type: auth_type.to_owned(),
        };
        Ok(OtpDispatch::new(Self::state_of(&state)?).with_provider_key(Self::provider_key(base)))
    }

    async fn resend(&self, session: &Verification) -> Result<OtpDispatch, Error> {
        let mut state = Self::otp_state(session)?;
        let reply = self
            .post(
                "mobileok.auth_resend",
                format!("{}/agent/v1/auth/resend", self.config.api_base),
                &json!({"encryptMOKToken": state.token}),
            )
            .await?;
        ensure_success(&reply)?;
        state.token = required(&reply, "encryptMOKToken", "auth/resend")?;
        Ok(OtpDispatch::new(Self::state_of(&state)?))
    }

    async fn confirm(&self, session: &Verification, code: Option<OtpCode>) -> Result<OtpOutcome, Error> {
        let mut state = Self::otp_state(session)?;
        let mut body = json!({"encryptMOKToken": state.token});
        if state.auth_type != "PASS" {
            let code = code.ok_or_else(|| Error::invalid_input("code", "required for SMS and LMS"))?;
            body["encryptMOKVerifyInfo"] =
                json!(self.encrypt_for(&state.public_key, &json!({"authNumber": code.expose()}))?);
        }
        let reply =
            self.post("mobileok.confirm", format!("{}/agent/v1/confirm/request", self.config.api_base), &body).await?;
        let result_code = result_code(&reply);
        if result_code != codes::SUCCESS {
            // mobileOK publishes no confirm codes. The new token it hands out with a refusal is kept
            // for the next confirm.
            let carried_on = match text(&reply, "encryptMOKToken") {
                Some(token) => {
                    state.token = token;
                    Some(Self::state_of(&state)?)
                }
                None => None,
            };
            let provider_code = if result_code.is_empty() { "(none)".to_owned() } else { result_code };
            // A PASS confirm carries no code that could be wrong: refused with a new token, the
            // request is still alive and the person has not approved the push yet, so nothing was
            // decided and the attempt is given back. Refused without one, the request is over at
            // mobileOK (used up or expired) and the refusal counts like a wrong code.
            if state.auth_type == "PASS" && carried_on.is_some() {
                return Ok(OtpOutcome::NotYetApproved { retry_state: carried_on, provider_code });
            }
            // For a typed code every refusal counts as one attempt.
            return Ok(OtpOutcome::WrongCode { retry_state: carried_on, provider_code });
        }
        let encrypted = required(&reply, "encryptMOKResult", "confirm/request")?;
        let sent_for = state.client_tx_id.as_str();
        Ok(OtpOutcome::Verified(open_result(&self.key_file, &encrypted, |reported| reported == sent_for)?))
    }
}
