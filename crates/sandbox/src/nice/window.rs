//! The simulated 표준창: open (verify and decrypt the request), authenticate a persona, deliver the
//! encrypted EUC-KR result to `returnurl` by `methodtype`.

use std::{collections::HashMap, fmt, sync::atomic::Ordering};

use axum::{
    Form, Json,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{NiceSimulator, ResultOverrides, crypto::Keys, kst_stamp, mobileco, random_hex};
use crate::personas::{self, Persona};
use crate::window_page::{AuthenticateForm, escape, page};

pub(super) const AUTHENTICATE_PATH: &str = "/CheckPlusSafeModel/authenticate";

/// Why the window refused to open or to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WindowError {
    /// A required field is missing or malformed.
    Malformed(&'static str),
    /// No crypto token with this `token_version_id`.
    UnknownToken,
    /// The crypto token's `period` has passed.
    Expired,
    /// `integrity_value` does not match, or `enc_data` does not decrypt.
    Integrity,
    /// `sitecode` is not the one issued with the token.
    SiteCode,
    /// No such persona.
    UnknownPersona,
    /// The code typed is not the persona's.
    WrongOtp,
    /// No open window with this id (already used or never opened).
    UnknownWindow,
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed request: {what}"),
            Self::UnknownToken => f.write_str("unknown token_version_id"),
            Self::Expired => f.write_str("the crypto token has expired"),
            Self::Integrity => f.write_str("integrity check failed"),
            Self::SiteCode => f.write_str("sitecode does not match"),
            Self::UnknownPersona => f.write_str("unknown persona"),
            Self::WrongOtp => f.write_str("wrong code"),
            Self::UnknownWindow => f.write_str("this window is no longer open"),
        }
    }
}

/// What NICE sends the browser back with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowCallback {
    /// `get` or `post`.
    pub method: String,
    /// The merchant's `returnurl`.
    pub return_url: String,
    /// `token_version_id`, `enc_data`, `integrity_value`.
    pub params: Vec<(String, String)>,
}

impl WindowCallback {
    /// The value of `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The `returnurl` with the parameters in the query string (percent-encoded).
    pub fn get_url(&self) -> String {
        let query: Vec<String> =
            self.params.iter().map(|(n, v)| format!("{n}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))).collect();
        let separator = if self.return_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}{}", self.return_url, query.join("&"))
    }

    fn into_browser_response(self) -> Response {
        if self.method == "post" {
            let fields: String = self
                .params
                .iter()
                .map(|(n, v)| format!(r#"<input type="hidden" name="{}" value="{}">"#, escape(n), escape(v)))
                .collect();
            page(
                "NICE 본인확인 결과 전달",
                &format!(
                    r#"<form id="result" method="post" action="{}">{fields}<noscript><button>계속</button></noscript></form>
<script>document.getElementById("result").submit();</script>"#,
                    escape(&self.return_url)
                ),
            )
        } else {
            (StatusCode::SEE_OTHER, [(header::LOCATION, self.get_url())]).into_response()
        }
    }
}

/// A window between open and authenticate.
#[derive(Clone)]
pub(super) struct OpenWindow {
    token_version_id: String,
    keys: Keys,
    requestno: String,
    returnurl: String,
    methodtype: String,
    receivedata: Option<String>,
    authtype: String,
}

fn is_web_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// An app scheme (`myapp://…`): a scheme of letters, digits, `+`, `-`, `.`, then something.
fn is_app_url(url: &str) -> bool {
    url.split_once(':').is_some_and(|(scheme, rest)| {
        scheme.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            && !rest.is_empty()
            && !matches!(scheme.to_ascii_lowercase().as_str(), "javascript" | "data" | "vbscript" | "file")
    })
}

fn error_page(error: &WindowError) -> Response {
    let mut response = page("NICE 본인확인 오류", &format!("<p id=\"error\">{}</p>", escape(&error.to_string())));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

impl NiceSimulator {
    fn open_window(&self, params: &HashMap<String, String>) -> Result<OpenWindow, WindowError> {
        let field = |name: &'static str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        if field("m") != Some("service") {
            return Err(WindowError::Malformed("m must be service"));
        }
        let token_version_id = field("token_version_id").ok_or(WindowError::Malformed("token_version_id"))?;
        let enc_data = field("enc_data").ok_or(WindowError::Malformed("enc_data"))?;
        let integrity_value = field("integrity_value").ok_or(WindowError::Malformed("integrity_value"))?;
        let token = self.crypto_token_for(token_version_id).ok_or(WindowError::UnknownToken)?;
        if time::OffsetDateTime::now_utc() >= token.issued_at + token.period {
            return Err(WindowError::Expired);
        }
        let keys = Keys::derive(&token.req_dtim, &token.req_no, &token.token_val);
        let plain = keys.open(enc_data, integrity_value).ok_or(WindowError::Integrity)?;
        let request: Value = serde_json::from_slice(&plain).map_err(|_| WindowError::Malformed("request JSON"))?;
        let text = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
        let requestno =
            text("requestno").filter(|r| !r.is_empty() && r.len() <= 30).ok_or(WindowError::Malformed("requestno"))?;
        let returnurl = text("returnurl")
            .filter(|u| (is_web_url(u) || is_app_url(u)) && u.len() <= 250)
            .ok_or(WindowError::Malformed("returnurl"))?;
        if text("sitecode").as_deref() != Some(self.config.site_code.as_str()) {
            return Err(WindowError::SiteCode);
        }
        let methodtype = text("methodtype").map(|m| m.to_ascii_lowercase()).unwrap_or_else(|| "get".into());
        if methodtype != "get" && methodtype != "post" {
            return Err(WindowError::Malformed("methodtype"));
        }
        Ok(OpenWindow {
            token_version_id: token_version_id.to_owned(),
            keys,
            requestno,
            returnurl,
            methodtype,
            receivedata: text("receivedata"),
            authtype: text("authtype").filter(|a| !a.is_empty()).unwrap_or_else(|| "M".into()),
        })
    }

    /// The result's `sitecode`: as the crypto token carried it, or decoded to the plain site code.
    fn result_site_code(&self) -> String {
        use base64::{Engine, engine::general_purpose::STANDARD};
        let decoded = STANDARD.decode(&self.config.site_code).ok().and_then(|b| String::from_utf8(b).ok());
        match decoded {
            Some(plain) if self.config.result_site_code_decoded => plain,
            _ => self.config.site_code.clone(),
        }
    }

    fn result_json(&self, window: &OpenWindow, persona: &Persona, overrides: &ResultOverrides) -> Value {
        let enctime = kst_stamp(time::OffsetDateTime::now_utc());
        // NICE URL-encodes utf8_name the way Java's URLEncoder does: spaces become '+'.
        let utf8_name = utf8_percent_encode(persona.name, NON_ALPHANUMERIC).to_string().replace("%20", "+");
        let mut result = json!({
            "resultcode": overrides.resultcode.clone().unwrap_or_else(|| "0000".into()),
            "requestno": overrides.requestno.clone().unwrap_or_else(|| window.requestno.clone()),
            "enctime": enctime,
            "sitecode": overrides.sitecode.clone().unwrap_or_else(|| self.result_site_code()),
            "responseno": random_hex(12).to_uppercase(),
            "authtype": window.authtype,
            "name": persona.name,
            "utf8_name": utf8_name,
            "birthdate": persona.birth_date,
            "gender": if persona.gender == bonin_domain::Gender::Male { "1" } else { "0" },
            "nationalinfo": if persona.nationality == bonin_domain::Nationality::Foreign { "1" } else { "0" },
            "mobileco": mobileco(persona),
            "mobileno": persona.phone,
            "ci": persona.ci,
            "di": persona.di,
        });
        if let (Some(data), Some(map)) = (&window.receivedata, result.as_object_mut()) {
            map.insert("receivedata".into(), json!(data));
        }
        if let Some(map) = result.as_object_mut() {
            for field in &self.config.omitted_fields {
                map.remove(field);
            }
        }
        result
    }

    fn deliver(
        &self,
        window: &OpenWindow,
        persona: &Persona,
        overrides: &ResultOverrides,
    ) -> Result<WindowCallback, WindowError> {
        let json = self.result_json(window, persona, overrides).to_string();
        // The result travels as EUC-KR bytes (CP949 for syllables outside KS X 1001).
        let (bytes, _, unmappable) = encoding_rs::EUC_KR.encode(&json);
        if unmappable {
            return Err(WindowError::Malformed("persona name not encodable in EUC-KR/CP949"));
        }
        let (enc_data, integrity_value) = window.keys.seal(&bytes).ok_or(WindowError::Integrity)?;
        self.counters.results_delivered.fetch_add(1, Ordering::Relaxed);
        let method = if self.config.force_post { "post".to_owned() } else { window.methodtype.clone() };
        if method == "post" && !is_web_url(&window.returnurl) {
            // A browser cannot post a form to an app: the result would never arrive.
            return Err(WindowError::Malformed("a result cannot be posted to an app-scheme returnurl"));
        }
        Ok(WindowCallback {
            method,
            return_url: window.returnurl.clone(),
            params: vec![
                ("token_version_id".into(), window.token_version_id.clone()),
                ("enc_data".into(), enc_data),
                ("integrity_value".into(), integrity_value),
            ],
        })
    }

    /// Completes a window without a browser: `fields` are the launch form fields (`m`,
    /// `token_version_id`, `enc_data`, `integrity_value`), `persona` the persona's key. Returns what
    /// NICE would send the browser back with.
    pub fn complete_window(
        &self,
        fields: &[(String, String)],
        persona: &str,
        overrides: &ResultOverrides,
    ) -> Result<WindowCallback, WindowError> {
        let params: HashMap<String, String> = fields.iter().cloned().collect();
        let window = self.open_window(&params)?;
        let persona = personas::by_key(persona).ok_or(WindowError::UnknownPersona)?;
        self.deliver(&window, persona, overrides)
    }

    fn window_page(&self, window: &OpenWindow, error: Option<&str>) -> Response {
        let id = random_hex(16);
        self.lock().windows.insert(id.clone(), window.clone());
        let choices: String = personas::ALL
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    r#"<label><input type="radio" name="persona" value="{key}"{checked}> {name} · {carrier:?} · 인증번호 {otp}</label>"#,
                    key = escape(p.key),
                    checked = if i == 0 { " checked" } else { "" },
                    name = escape(p.name),
                    carrier = p.carrier,
                    otp = p.otp,
                )
            })
            .collect();
        let error = error.map(|e| format!(r#"<p id="error" role="alert">{}</p>"#, escape(e))).unwrap_or_default();
        page(
            "NICE 본인확인 (sandbox)",
            &format!(
                r#"<p>Simulated NICE window. Choose a test persona and enter its code.</p>{error}
<form method="post" action="{AUTHENTICATE_PATH}"><input type="hidden" name="window" value="{id}">{choices}
<label>인증번호 <input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code"></label>
<button id="confirm" type="submit">확인</button> <button id="cancel" type="submit" name="cancel" value="1">취소</button></form>"#
            ),
        )
    }
}

pub(super) async fn open_get(
    State(sim): State<NiceSimulator>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match sim.open_window(&params) {
        Ok(window) => sim.window_page(&window, None),
        Err(error) => error_page(&error),
    }
}

pub(super) async fn open_post(
    State(sim): State<NiceSimulator>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    match sim.open_window(&params) {
        Ok(window) => sim.window_page(&window, None),
        Err(error) => error_page(&error),
    }
}

pub(super) async fn authenticate(State(sim): State<NiceSimulator>, Form(form): Form<AuthenticateForm>) -> Response {
    let Some(window) = sim.lock().windows.remove(&form.window) else {
        return error_page(&WindowError::UnknownWindow);
    };
    if form.cancel.is_some() {
        // NICE documents no callback for a cancelled window; the user just closes it.
        return page("NICE 본인확인", r#"<p id="cancelled">본인확인이 취소되었습니다. 창을 닫아 주세요.</p>"#);
    }
    let Some(persona) = personas::by_key(&form.persona) else {
        return sim.window_page(&window, Some("테스트 사용자를 선택하세요."));
    };
    if form.otp.trim() != persona.otp {
        return sim.window_page(&window, Some("인증번호가 일치하지 않습니다."));
    }
    match sim.deliver(&window, persona, &ResultOverrides::default()) {
        Ok(callback) => callback.into_browser_response(),
        Err(error) => error_page(&error),
    }
}

#[derive(Deserialize)]
pub(super) struct CompleteRequest {
    fields: HashMap<String, String>,
    persona: String,
    #[serde(default)]
    overrides: ResultOverrides,
}

pub(super) async fn complete_api(State(sim): State<NiceSimulator>, Json(request): Json<CompleteRequest>) -> Response {
    let fields: Vec<(String, String)> = request.fields.into_iter().collect();
    match sim.complete_window(&fields, &request.persona, &request.overrides) {
        Ok(callback) => Json(callback).into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, Json(json!({"error": error.to_string()}))).into_response(),
    }
}
