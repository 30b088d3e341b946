//! Window stand-ins for `IMP.certification` (V1) and `PortOne.requestIdentityVerification` (V2),
//! their browserless completion, and the Standard Webhooks signer.

use std::{collections::HashMap, fmt};

use aws_lc_rs::hmac;
use axum::{
    Form, Json,
    body::Bytes,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{PortoneSimulator, age, random_id, v2};
use crate::{
    personas::{self, Persona},
    window_page::{AuthenticateForm, escape, page},
};

pub(super) const V1_WINDOW_PATH: &str = "/_sandbox/portone/v1/window";
pub(super) const V2_WINDOW_PATH: &str = "/_sandbox/portone/v2/window";

/// Why a window refused to open or finish.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WindowError {
    /// The parameters are unusable (the text says which).
    BadRequest(&'static str),
    /// No such persona.
    UnknownPersona,
    /// No open window with that id.
    UnknownWindow,
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadRequest(reason) => f.write_str(reason),
            Self::UnknownPersona => f.write_str("unknown persona"),
            Self::UnknownWindow => f.write_str("this window is no longer open"),
        }
    }
}

#[derive(Clone)]
pub(super) enum OpenWindow {
    V1 {
        merchant_uid: String,
        redirect: Option<String>,
        min_age: Option<i32>,
        form: Shown,
    },
    V2 {
        store: String,
        id: String,
        channel_key: String,
        redirect: Option<String>,
        min_age: Option<i32>,
        form: Shown,
        custom_data: Option<String>,
    },
}

impl OpenWindow {
    fn form(&self) -> &Shown {
        match self {
            Self::V1 { form, .. } | Self::V2 { form, .. } => form,
        }
    }
}

/// What a window shows and allows, from its parameters.
#[derive(Clone, Default)]
pub(super) struct Shown {
    /// The service name shown (PortOne's own when none is given).
    service: Option<String>,
    /// The name filled in.
    name: Option<String>,
    /// The number filled in, digits only.
    phone: Option<String>,
    /// The birth date filled in (`YYYYMMDD`).
    birth_date: Option<String>,
    /// Whether the filled-in details are fixed (V2 `customer`) rather than only suggested (V1).
    fixed: bool,
    /// The carriers offered (Danal's codes); every carrier when `None`.
    carriers: Option<Vec<String>>,
}

impl Shown {
    /// Whether `persona` is the person the fixed details describe.
    fn admits(&self, persona: &Persona) -> bool {
        !self.fixed
            || (self.name.as_deref().is_none_or(|n| n == persona.name)
                && self.phone.as_deref().is_none_or(|p| p == persona.phone)
                && self.birth_date.as_deref().is_none_or(|b| b == persona.birth_date))
    }

    /// Whether the window offers `persona`'s carrier.
    fn offers(&self, persona: &Persona) -> bool {
        let code = super::danal_carrier(persona.carrier);
        self.carriers.as_ref().is_none_or(|offered| offered.iter().any(|c| c == code))
    }

    /// The persona the filled-in details point at, if any.
    fn preselected(&self) -> Option<&'static Persona> {
        let phone = self.phone.as_deref().and_then(personas::by_phone);
        phone.or_else(|| self.name.as_deref().and_then(|n| personas::ALL.iter().find(|p| p.name == n)))
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn with_query(url: &str, pairs: &[(&str, String)]) -> String {
    let query: Vec<String> =
        pairs.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))).collect();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", query.join("&"))
}

/// How a finished window reports back: a redirect URL, or (V1 without `m_redirect_url`) the
/// callback's `rsp` object for the opener.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowOutcome {
    /// The browser is sent here.
    Redirect(String),
    /// `IMP.certification`'s callback is called with this object.
    Callback(Value),
}

impl WindowOutcome {
    /// The redirect's query as the landing's form layer decodes it (empty for a callback).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let Self::Redirect(url) = self else { return Vec::new() };
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let decode =
            |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
        query.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
    }
}

impl PortoneSimulator {
    fn open_v1(&self, merchant_code: &str, params: &Value) -> Result<OpenWindow, WindowError> {
        if !self.config.merchant_codes.iter().any(|c| c == merchant_code) {
            return Err(WindowError::BadRequest("IMP.init: unknown merchant code"));
        }
        let channel_ok = match (text(params, "channelKey"), text(params, "pg")) {
            (Some(key), _) => self.config.v1_channel_keys.contains(&key),
            (None, Some(pg)) => pg.starts_with("danal") || pg.starts_with("inicis"),
            (None, None) => false,
        };
        if !channel_ok {
            return Err(WindowError::BadRequest("IMP.certification: unknown channelKey or pg"));
        }
        let merchant_uid = text(params, "merchant_uid").ok_or(WindowError::BadRequest("merchant_uid missing"))?;
        let min_age = params.get("min_age").and_then(Value::as_i64).and_then(|a| i32::try_from(a).ok());
        // Danal's form: name and number filled in, the carriers offered, the service named.
        let form = Shown {
            service: text(params, "company"),
            name: text(params, "name"),
            phone: text(params, "phone").map(|p| digits(&p)),
            birth_date: None,
            fixed: false,
            carriers: text(params, "carrier").map(|c| super::offered_carriers(&c)).transpose()?,
        };
        Ok(OpenWindow::V1 { merchant_uid, redirect: text(params, "m_redirect_url"), min_age, form })
    }

    fn open_v2(&self, params: &Value) -> Result<OpenWindow, WindowError> {
        let store = text(params, "storeId").ok_or(WindowError::BadRequest("storeId missing"))?;
        if !self.config.v2_secrets.iter().any(|(_, stores)| stores.contains(&store)) {
            return Err(WindowError::BadRequest("unknown storeId"));
        }
        let channel_key = text(params, "channelKey").ok_or(WindowError::BadRequest("channelKey missing"))?;
        if !self.config.v2_channel_keys.contains(&channel_key) {
            return Err(WindowError::BadRequest("unknown channelKey"));
        }
        let id =
            text(params, "identityVerificationId").ok_or(WindowError::BadRequest("identityVerificationId missing"))?;
        if self.v2_record(&store, &id).is_some_and(|r| r.json()["status"] == "VERIFIED") {
            return Err(WindowError::BadRequest("identityVerificationId is already verified"));
        }
        // On a desktop browser the SDK resolves its Promise with the result; it redirects only
        // when told to (`forceRedirect`) and given somewhere to go.
        let redirect = text(params, "redirectUrl").filter(|_| params.get("forceRedirect") == Some(&Value::Bool(true)));
        for device in ["pc", "mobile"] {
            let kind = params.get("windowType").and_then(|w| w.get(device));
            if kind.is_some_and(|k| !matches!(k.as_str(), Some("IFRAME" | "POPUP" | "REDIRECTION" | "UI"))) {
                return Err(WindowError::BadRequest("windowType values are IFRAME, POPUP, REDIRECTION and UI"));
            }
        }
        // `bypass.danal` reaches only a Danal channel.
        let danal = params.pointer("/bypass/danal").filter(|_| !self.is_kcp(&channel_key)).cloned().unwrap_or_default();
        let min_age = danal.get("AGELIMIT").and_then(Value::as_i64).and_then(|a| i32::try_from(a).ok());
        let customer = params.get("customer").cloned().unwrap_or_default();
        let name = text(&customer, "fullName").or_else(|| {
            let (last, first) = (text(&customer, "lastName")?, text(&customer, "firstName")?);
            Some(format!("{last}{first}"))
        });
        let phone = text(&customer, "phoneNumber");
        if phone.as_deref().is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(WindowError::BadRequest("customer.phoneNumber takes digits only"));
        }
        let birth_date =
            match (text(&customer, "birthYear"), text(&customer, "birthMonth"), text(&customer, "birthDay")) {
                (Some(year), Some(month), Some(day)) => Some(format!("{year:0>4}{month:0>2}{day:0>2}")),
                _ => None,
            };
        let custom_data = match params.get("customData") {
            None | Some(Value::Null) => None,
            Some(Value::String(data)) => Some(data.clone()),
            Some(_) => return Err(WindowError::BadRequest("customData must be a string")),
        };
        let form = Shown {
            service: text(&danal, "CPTITLE"),
            name,
            phone,
            birth_date,
            fixed: true,
            carriers: text(&danal, "IsCarrier").map(|c| super::offered_carriers(&c)).transpose()?,
        };
        Ok(OpenWindow::V2 { store, id, channel_key, redirect, min_age, form, custom_data })
    }

    /// Whether `persona` is younger than `min_age` today (KST).
    fn too_young(&self, persona: Option<&'static Persona>, min_age: Option<i32>) -> bool {
        let today = self.now().to_offset(bonin_domain::KST).date();
        persona.zip(min_age).is_some_and(|(p, min)| age(p.birth_date, today).is_none_or(|a| a < min))
    }

    fn finish(&self, window: &OpenWindow, persona: Option<&'static Persona>) -> Result<WindowOutcome, WindowError> {
        if persona.is_some_and(|p| !window.form().offers(p)) {
            return Err(WindowError::BadRequest("this window does not offer the persona's carrier"));
        }
        match window {
            OpenWindow::V1 { merchant_uid, redirect, min_age, .. } => {
                let too_young = self.too_young(persona, *min_age);
                let certified = persona.is_some() && !too_young;
                let imp_uid = self.create_certification(
                    merchant_uid,
                    persona.unwrap_or_else(personas::default_persona),
                    certified,
                );
                let mut fields = vec![
                    ("imp_uid", imp_uid),
                    ("merchant_uid", merchant_uid.clone()),
                    ("success", certified.to_string()),
                ];
                if !certified {
                    let message = if too_young {
                        "최소 연령 미달입니다."
                    } else {
                        "SIM0301 사용자가 본인인증을 취소했습니다."
                    };
                    fields.push(("error_code", "F0000".into()));
                    fields.push(("error_msg", message.into()));
                }
                Ok(match redirect {
                    Some(url) => WindowOutcome::Redirect(with_query(url, &fields)),
                    None => WindowOutcome::Callback(Value::Object(
                        fields
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), if k == "success" { json!(v == "true") } else { json!(v) }))
                            .collect(),
                    )),
                })
            }
            OpenWindow::V2 { store, id, channel_key, redirect, min_age, form, custom_data } => {
                // Someone other than the fixed customer, or under Danal's AGELIMIT: the PG ends
                // the attempt and PortOne records it as FAILED.
                let result = match persona {
                    Some(p) if !form.admits(p) => {
                        v2::WindowResult::Failed("SIM0101", "본인확인 정보가 일치하지 않습니다.")
                    }
                    Some(_) if self.too_young(persona, *min_age) => {
                        v2::WindowResult::Failed("SIM0401", "최소 연령 미달입니다.")
                    }
                    Some(persona) => v2::WindowResult::Verified(persona),
                    None => v2::WindowResult::Cancelled,
                };
                let extras = v2::WindowExtras { custom_data: custom_data.clone() };
                self.v2_window_result(store, id, channel_key, result, extras).map_err(WindowError::BadRequest)?;
                let mut fields = vec![
                    ("transactionType", "IDENTITY_VERIFICATION".to_owned()),
                    ("identityVerificationId", id.clone()),
                    ("identityVerificationTxId", random_id("sim_tx_", 14)),
                ];
                let failure = match result {
                    v2::WindowResult::Verified(_) => None,
                    v2::WindowResult::Cancelled => Some(("SIM0301", "SIM0301 사용자가 본인인증을 취소했습니다.")),
                    v2::WindowResult::Failed(code, message) => Some((code, message)),
                };
                if let Some((pg_code, message)) = failure {
                    fields.push(("code", "FAILURE_TYPE_PG".into()));
                    fields.push(("message", message.into()));
                    fields.push(("pgCode", pg_code.into()));
                }
                Ok(match redirect {
                    Some(url) => WindowOutcome::Redirect(with_query(url, &fields)),
                    None => WindowOutcome::Callback(Value::Object(
                        fields.into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect(),
                    )),
                })
            }
        }
    }

    /// Completes a V1 window without a browser: `merchant_code` and `params` as `IMP.init` and
    /// `IMP.certification` got them; `persona` a persona key, or `None` for a user who cancels.
    pub fn complete_v1_window(
        &self,
        merchant_code: &str,
        params: &Value,
        persona: Option<&str>,
    ) -> Result<WindowOutcome, WindowError> {
        let window = self.open_v1(merchant_code, params)?;
        self.finish(&window, persona_of(persona)?)
    }

    /// Completes a V2 window without a browser: `params` as `requestIdentityVerification` got them.
    pub fn complete_v2_window(&self, params: &Value, persona: Option<&str>) -> Result<WindowOutcome, WindowError> {
        let window = self.open_v2(params)?;
        self.finish(&window, persona_of(persona)?)
    }

    fn window_page(&self, window: OpenWindow, action: &str, title: &str, error: Option<&str>) -> Response {
        let id = random_id("w", 18);
        let form = window.form().clone();
        self.lock().windows.insert(id.clone(), window);
        let preselected = form.preselected().filter(|p| form.offers(p));
        let preselected = preselected.or_else(|| personas::ALL.iter().find(|p| form.offers(p)));
        let choices: String = personas::ALL
            .iter()
            .map(|p| {
                let checked = preselected.is_some_and(|s| s.key == p.key);
                format!(
                    r#"<label><input type="radio" name="persona" value="{}"{}{}> {} · {} · 인증번호 {}</label>"#,
                    escape(p.key),
                    if checked { " checked" } else { "" },
                    if form.offers(p) { "" } else { " disabled" },
                    escape(p.name),
                    escape(p.birth_date),
                    p.otp
                )
            })
            .collect();
        let error = error.map(|e| format!(r#"<p id="error" role="alert">{}</p>"#, escape(e))).unwrap_or_default();
        let service = escape(form.service.as_deref().unwrap_or("포트원"));
        page(
            title,
            &format!(
                r#"<p>Simulated PortOne window. Choose a test persona and enter its code.</p>
<p id="service">서비스: {service}</p>{error}
<form method="post" action="{action}"><input type="hidden" name="window" value="{id}">{choices}
<label>인증번호 <input id="otp" name="otp" inputmode="numeric"></label>
<button id="confirm" type="submit">확인</button> <button id="cancel" type="submit" name="cancel" value="1">취소</button></form>"#
            ),
        )
    }
}

fn persona_of(key: Option<&str>) -> Result<Option<&'static Persona>, WindowError> {
    match key {
        Some(key) => Ok(Some(personas::by_key(key).ok_or(WindowError::UnknownPersona)?)),
        None => Ok(None),
    }
}

fn error_page(error: &WindowError) -> Response {
    let mut response = page("PortOne 오류", &format!(r#"<p id="error">{}</p>"#, escape(&error.to_string())));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn deliver(outcome: WindowOutcome) -> Response {
    match outcome {
        WindowOutcome::Redirect(url) => Redirect::to(&url).into_response(),
        // The real SDK calls the callback in the page that called IMP.certification.
        WindowOutcome::Callback(rsp) => page(
            "PortOne",
            &format!(
                r#"<script>var rsp = {}; if (window.opener) {{ window.opener.postMessage({{source: "portone-sandbox", rsp: rsp}}, "*"); window.close(); }}</script>"#,
                rsp.to_string().replace('<', "\\u003c")
            ),
        ),
    }
}

fn script(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], body).into_response()
}

pub(super) async fn v1_script() -> Response {
    script(format!(
        r#""use strict";
(function () {{
  var origin = new URL(document.currentScript.src).origin;
  var merchantCode = null;
  window.IMP = {{
    init: function (code) {{ merchantCode = code; }},
    certification: function (params, callback) {{
      var url = new URL(origin + "{V1_WINDOW_PATH}");
      url.searchParams.set("merchant_code", merchantCode || "");
      url.searchParams.set("params", JSON.stringify(params || {{}}));
      if (params && params.popup && !params.m_redirect_url) {{
        window.addEventListener("message", function handler(event) {{
          if (event.origin !== origin || !event.data || event.data.source !== "portone-sandbox") {{ return; }}
          window.removeEventListener("message", handler);
          if (typeof callback === "function") {{ callback(event.data.rsp); }}
        }});
        window.open(url.toString(), "portone_window", "width=440,height=640");
      }} else {{
        window.location.href = url.toString();
      }}
    }}
  }};
}})();
"#
    ))
}

pub(super) async fn v2_script() -> Response {
    script(format!(
        r#""use strict";
(function () {{
  var origin = new URL(document.currentScript.src).origin;
  window.PortOne = {{
    requestIdentityVerification: function (params) {{
      var url = new URL(origin + "{V2_WINDOW_PATH}");
      url.searchParams.set("params", JSON.stringify(params || {{}}));
      if (params && params.forceRedirect === true && params.redirectUrl) {{
        window.location.href = url.toString();
        return new Promise(function () {{}});
      }}
      // A desktop browser without forceRedirect: the result resolves the Promise, no redirect.
      return new Promise(function (resolve) {{
        window.addEventListener("message", function handler(event) {{
          if (event.origin !== origin || !event.data || event.data.source !== "portone-sandbox") {{ return; }}
          window.removeEventListener("message", handler);
          resolve(event.data.rsp);
        }});
        window.open(url.toString(), "portone_window", "width=440,height=640");
      }});
    }}
  }};
}})();
"#
    ))
}

fn params_of(query: &HashMap<String, String>) -> Result<Value, WindowError> {
    query
        .get("params")
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .filter(Value::is_object)
        .ok_or(WindowError::BadRequest("params is not a JSON object"))
}

pub(super) async fn v1_window(
    State(sim): State<PortoneSimulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let opened = params_of(&query)
        .and_then(|params| sim.open_v1(query.get("merchant_code").map_or("", String::as_str), &params));
    match opened {
        Ok(window) => sim.window_page(window, V1_WINDOW_PATH, "다날 휴대폰 본인인증 (PortOne V1 sandbox)", None),
        Err(error) => error_page(&error),
    }
}

pub(super) async fn v2_window(
    State(sim): State<PortoneSimulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match params_of(&query).and_then(|params| sim.open_v2(&params)) {
        Ok(window) => sim.window_page(window, V2_WINDOW_PATH, "본인인증 (PortOne V2 sandbox)", None),
        Err(error) => error_page(&error),
    }
}

async fn authenticate(sim: PortoneSimulator, form: AuthenticateForm, action: &str) -> Response {
    let Some(window) = sim.lock().windows.remove(&form.window) else {
        return error_page(&WindowError::UnknownWindow);
    };
    let persona = if form.cancel.is_some() {
        None
    } else {
        match personas::by_key(&form.persona) {
            Some(p) if form.otp.trim() == p.otp => Some(p),
            _ => {
                return sim.window_page(
                    window,
                    action,
                    "PortOne 본인인증 (sandbox)",
                    Some("인증번호가 일치하지 않습니다."),
                );
            }
        }
    };
    match sim.finish(&window, persona) {
        Ok(outcome) => deliver(outcome),
        Err(error) => error_page(&error),
    }
}

pub(super) async fn v1_authenticate(
    State(sim): State<PortoneSimulator>,
    Form(form): Form<AuthenticateForm>,
) -> Response {
    authenticate(sim, form, V1_WINDOW_PATH).await
}

pub(super) async fn v2_authenticate(
    State(sim): State<PortoneSimulator>,
    Form(form): Form<AuthenticateForm>,
) -> Response {
    authenticate(sim, form, V2_WINDOW_PATH).await
}

#[derive(Deserialize)]
pub(super) struct CompleteRequest {
    params: Value,
    #[serde(default)]
    merchant_code: Option<String>,
    #[serde(default)]
    persona: Option<String>,
}

/// `POST /_sandbox/portone/complete`: `{params, merchant_code?, persona?}` → `{redirect_url}` or
/// `{callback}`. A `merchant_code` selects V1.
pub(super) async fn complete_api(
    State(sim): State<PortoneSimulator>,
    Json(request): Json<CompleteRequest>,
) -> Response {
    let outcome = match &request.merchant_code {
        Some(code) => sim.complete_v1_window(code, &request.params, request.persona.as_deref()),
        None => sim.complete_v2_window(&request.params, request.persona.as_deref()),
    };
    match outcome {
        Ok(WindowOutcome::Redirect(url)) => Json(json!({"redirect_url": url})).into_response(),
        Ok(WindowOutcome::Callback(rsp)) => Json(json!({"callback": rsp})).into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, Json(json!({"error": error.to_string()}))).into_response(),
    }
}

/// `POST /_sandbox/portone/webhook`: signs the posted body with the simulator's webhook secret and
/// answers `{secret, headers, body}`, for checking webhook receivers.
pub(super) async fn webhook_api(State(sim): State<PortoneSimulator>, body: Bytes) -> Response {
    let (headers, body) = sim.signed_webhook(&String::from_utf8_lossy(&body));
    let headers: serde_json::Map<String, Value> = headers.into_iter().map(|(k, v)| (k, json!(v))).collect();
    Json(json!({"secret": sim.config.webhook_secret, "headers": headers, "body": body})).into_response()
}

/// Base64 with or without its `=` padding, as PortOne's SDKs read webhook secrets.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>` with the key from a `whsec_` secret.
pub(super) fn sign_webhook(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = LENIENT.decode(secret.trim().trim_start_matches("whsec_")).unwrap_or_default();
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1,{}", STANDARD.encode(hmac::sign(&key, &signed)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::portone::{PortoneSimConfig, SANDBOX_STORE_ID, SANDBOX_V2_CHANNEL_KEY};

    fn params(id: &str) -> Value {
        json!({"storeId": SANDBOX_STORE_ID, "identityVerificationId": id, "channelKey": SANDBOX_V2_CHANNEL_KEY,
               "redirectUrl": "https://shop.example/return"})
    }

    #[test]
    fn v2_window_redirects_only_when_forced_as_on_a_desktop_browser() {
        let sim = PortoneSimulator::new(PortoneSimConfig::default());
        let resolved = sim.complete_v2_window(&params("iv-promise"), Some("hong")).unwrap();
        let WindowOutcome::Callback(rsp) = resolved else { panic!("redirected without forceRedirect") };
        assert_eq!(rsp["identityVerificationId"], "iv-promise");
        let mut forced = params("iv-forced");
        forced["forceRedirect"] = json!(true);
        let redirected = sim.complete_v2_window(&forced, Some("hong")).unwrap();
        assert!(matches!(redirected, WindowOutcome::Redirect(url) if url.starts_with("https://shop.example/return?")));
        // forceRedirect without a redirectUrl still resolves the Promise.
        let mut nowhere = params("iv-nowhere");
        nowhere["forceRedirect"] = json!(true);
        nowhere.as_object_mut().unwrap().remove("redirectUrl");
        assert!(matches!(sim.complete_v2_window(&nowhere, Some("hong")).unwrap(), WindowOutcome::Callback(_)));
    }

    #[tokio::test]
    async fn the_v2_script_redirects_only_with_force_redirect_and_otherwise_resolves_its_promise() {
        let response = v2_script().await;
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let script = String::from_utf8(body.to_vec()).unwrap();
        assert!(script.contains("params.forceRedirect === true && params.redirectUrl"), "{script}");
        assert!(script.contains("resolve(event.data.rsp)"), "{script}");
    }

    #[test]
    fn v2_agelimit_fails_the_attempt_of_someone_younger() {
        let sim = PortoneSimulator::new(PortoneSimConfig::default());
        let mut young = params("iv-young");
        young["bypass"] = json!({"danal": {"AGELIMIT": 30}});
        let WindowOutcome::Callback(rsp) = sim.complete_v2_window(&young, Some("kim-mvno")).unwrap() else { panic!() };
        assert_eq!(rsp["pgCode"], "SIM0401");
        let record = sim.v2_record(SANDBOX_STORE_ID, "iv-young").unwrap().json();
        assert_eq!(record["status"], "FAILED");
        assert_eq!(record["failure"]["pgCode"], "SIM0401");
        let mut old = params("iv-old");
        old["bypass"] = json!({"danal": {"AGELIMIT": 30}});
        sim.complete_v2_window(&old, Some("hong")).unwrap();
        assert_eq!(sim.v2_record(SANDBOX_STORE_ID, "iv-old").unwrap().json()["status"], "VERIFIED");
    }

    async fn page_text(response: Response) -> String {
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn the_v1_window_fills_in_name_and_number_offers_the_given_carriers_and_names_the_service() {
        let sim = PortoneSimulator::new(PortoneSimConfig::default());
        let params = json!({"channelKey": crate::portone::SANDBOX_V1_CHANNEL_KEY, "merchant_uid": "m-1",
            "name": "EMMA WILSON", "phone": "010-9876-1234", "carrier": "KTF", "company": "Shop Example"});
        let query = HashMap::from([
            ("merchant_code".to_owned(), crate::portone::SANDBOX_MERCHANT_CODE.to_owned()),
            ("params".to_owned(), params.to_string()),
        ]);
        let page = page_text(v1_window(State(sim.clone()), Query(query)).await).await;
        assert!(page.contains(r#"value="wilson" checked>"#), "{page}");
        assert!(page.contains(r#"value="hong" disabled>"#), "{page}");
        assert!(page.contains("서비스: Shop Example"), "{page}");
        let code = crate::portone::SANDBOX_MERCHANT_CODE;
        assert!(matches!(sim.complete_v1_window(code, &params, Some("hong")), Err(WindowError::BadRequest(_))));
        assert!(matches!(sim.complete_v1_window(code, &params, Some("wilson")), Ok(WindowOutcome::Callback(_))));
        // Without a company PortOne shows its own name; a carrier code Danal does not have is refused.
        let plain = json!({"channelKey": crate::portone::SANDBOX_V1_CHANNEL_KEY, "merchant_uid": "m-2"});
        let query =
            HashMap::from([("merchant_code".to_owned(), code.to_owned()), ("params".to_owned(), plain.to_string())]);
        assert!(page_text(v1_window(State(sim.clone()), Query(query)).await).await.contains("서비스: 포트원"));
        let kt = json!({"channelKey": crate::portone::SANDBOX_V1_CHANNEL_KEY, "merchant_uid": "m-3", "carrier": "KT"});
        assert!(matches!(sim.complete_v1_window(code, &kt, Some("wilson")), Err(WindowError::BadRequest(_))));
    }

    #[test]
    fn the_v2_window_fixes_its_customer_and_keeps_custom_data() {
        let sim = PortoneSimulator::new(PortoneSimConfig::default());
        let mut fixed = params("ivfixed1");
        fixed["forceRedirect"] = json!(true);
        fixed["customer"] = json!({"fullName": "홍길동", "phoneNumber": "01012345678",
            "birthYear": "1990", "birthMonth": "02", "birthDay": "15"});
        fixed["customData"] = json!(r#"{"member":"m-1"}"#);
        sim.complete_v2_window(&fixed, Some("wilson")).unwrap();
        let record = sim.v2_record(SANDBOX_STORE_ID, "ivfixed1").unwrap().json();
        assert_eq!(
            (record["status"].as_str(), record["failure"]["pgCode"].as_str()),
            (Some("FAILED"), Some("SIM0101"))
        );
        assert_eq!(record["customData"], r#"{"member":"m-1"}"#);
        fixed["identityVerificationId"] = json!("ivfixed2");
        sim.complete_v2_window(&fixed, Some("hong")).unwrap();
        assert_eq!(sim.v2_record(SANDBOX_STORE_ID, "ivfixed2").unwrap().json()["status"], "VERIFIED");
        // Dashes are not digits; an unknown key (`name`) fixes nothing.
        let mut dashed = params("ivfixed3");
        dashed["customer"] = json!({"phoneNumber": "010-1234-5678"});
        assert!(matches!(sim.complete_v2_window(&dashed, Some("hong")), Err(WindowError::BadRequest(_))));
        let mut misnamed = params("ivfixed4");
        misnamed["customer"] = json!({"name": "홍길동"});
        sim.complete_v2_window(&misnamed, Some("wilson")).unwrap();
        assert_eq!(sim.v2_record(SANDBOX_STORE_ID, "ivfixed4").unwrap().json()["status"], "VERIFIED");
    }

    #[test]
    fn danal_bypass_limits_carriers_on_danal_channels_only() {
        let sim = PortoneSimulator::new(PortoneSimConfig::default());
        let mut danal = params("ivcarrier1");
        danal["bypass"] = json!({"danal": {"IsCarrier": "MVNO", "AGELIMIT": 30}});
        assert!(matches!(sim.complete_v2_window(&danal, Some("hong")), Err(WindowError::BadRequest(_))));
        let mut kcp = danal.clone();
        kcp["identityVerificationId"] = json!("ivcarrier2");
        kcp["channelKey"] = json!(crate::portone::SANDBOX_V2_KCP_CHANNEL_KEY);
        sim.complete_v2_window(&kcp, Some("kim-mvno")).unwrap();
        let record = sim.v2_record(SANDBOX_STORE_ID, "ivcarrier2").unwrap().json();
        assert_eq!(
            (record["status"].as_str(), record["channel"]["pgProvider"].as_str()),
            (Some("VERIFIED"), Some("KCP_V2"))
        );
    }

    #[test]
    fn webhook_secrets_sign_with_or_without_padding() {
        let padded = sign_webhook("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMxMg==", "m", 1, b"{}");
        assert_eq!(sign_webhook("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMxMg", "m", 1, b"{}"), padded);
        assert_eq!(sign_webhook("c2VjcmV0LWtleS1mb3ItdGVzdHMxMg", "m", 1, b"{}"), padded);
    }
}
