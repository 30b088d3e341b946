//! The simulated 본인확인-표준창: an SDK stand-in for `MOBILEOK.process`, the window, the delivery
//! of `data` (URL-encoded JSON, so the form body is double-encoded) to the return URL, and
//! `result/request`, which answers JSON as `text/plain` like the real service.

use std::{collections::HashMap, fmt, sync::atomic::Ordering};

use axum::{
    Form, Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{MobileokSimulator, now, random_token, text};
use crate::{
    InjectedProviderCode,
    personas::{self, Persona},
    window_page::{AuthenticateForm, escape, page},
};

pub(super) const WINDOW_PATH: &str = "/gui/service/v1/window";
pub(super) const AUTHENTICATE_PATH: &str = "/gui/service/v1/authenticate";

pub(super) fn provider_id(persona: &Persona) -> &'static str {
    use bonin_domain::Carrier;
    match persona.carrier {
        Carrier::Skt => "SKT",
        Carrier::Kt => "KT",
        Carrier::Lgu => "LGU",
        Carrier::SktMvno => "SKTMVNO",
        Carrier::KtMvno => "KTMVNO",
        _ => "LGUMVNO",
    }
}

/// Why the window refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WindowError {
    /// A mobileOK code with its message (`5028`, `4001`, …).
    Code(&'static str, &'static str),
    /// No such persona.
    UnknownPersona,
    /// No open window with that id.
    UnknownWindow,
}

impl fmt::Display for WindowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code, message) => write!(f, "{code} {message}"),
            Self::UnknownPersona => f.write_str("unknown persona"),
            Self::UnknownWindow => f.write_str("this window is no longer open"),
        }
    }
}

/// What the window posts to the return URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowDelivery {
    /// The return URL from the request info.
    pub return_url: String,
    /// The `data` field as the merchant's form layer decodes it: still URL-encoded JSON.
    pub data: String,
}

impl WindowDelivery {
    /// The raw `application/x-www-form-urlencoded` body (the JSON is encoded twice).
    pub fn form_body(&self) -> String {
        format!("data={}", utf8_percent_encode(&self.data, NON_ALPHANUMERIC))
    }
}

#[derive(Clone)]
pub(super) struct OpenWindow {
    client_tx_id: String,
    return_url: String,
    service_type: String,
    mok_result: bool,
    /// Popup (`WB`): the origin of the page whose SDK opened the window, which gets the delivery
    /// to post to the return URL itself and hands the answer to its callback.
    opener_origin: Option<String>,
}

impl MobileokSimulator {
    fn open_window(&self, info: &str) -> Result<OpenWindow, WindowError> {
        let info: Value =
            serde_json::from_str(info).map_err(|_| WindowError::Code("4101", "요청 정보가 올바르지 않습니다."))?;
        if text(&info, "serviceId").as_deref() != Some(self.config.service_id.as_str()) {
            return Err(WindowError::Code("4001", "등록되지 않은 서비스입니다."));
        }
        let return_url = text(&info, "returnUrl").ok_or(WindowError::Code("4000", "returnUrl 누락"))?;
        let registered = self.config.return_url_prefixes.is_empty()
            || self.config.return_url_prefixes.iter().any(|p| return_url.starts_with(p.as_str()));
        if !registered || !(return_url.starts_with("https://") || return_url.starts_with("http://")) {
            return Err(WindowError::Code("5028", "등록되지 않은 returnUrl 입니다."));
        }
        // How the outcome travels: `MOKToken` posts a single-use key token to the return URL (the
        // result itself only ever leaves through result/request); `MOKResult` posts the sealed
        // result. Anything else is refused rather than guessed.
        let mok_result = match text(&info, "retTransferType").as_deref() {
            Some("MOKToken") => false,
            Some("MOKResult") => true,
            _ => return Err(WindowError::Code("4000", "retTransferType 오류")),
        };
        let generation = if text(&info, "encryptVersion").as_deref() == Some("V2") { 2 } else { 1 };
        let encrypted = text(&info, "encryptReqClientInfo").unwrap_or_default();
        let client_tx_id =
            self.verify_client_info(&encrypted, Some(generation)).map_err(|(c, m)| WindowError::Code(c, m))?;
        Ok(OpenWindow {
            client_tx_id,
            return_url,
            service_type: text(&info, "serviceType").unwrap_or_else(|| "telcoAuth".into()),
            mok_result,
            opener_origin: None,
        })
    }

    fn deliver(&self, window: &OpenWindow, persona: Option<&Persona>) -> Result<WindowDelivery, WindowError> {
        let data = match persona {
            None => json!({"resultCode": "3100", "resultMsg": "사용자가 본인확인을 취소했습니다."}),
            Some(persona) => {
                let result = self.result_json(&window.client_tx_id, persona, "SMS", &window.service_type);
                let sealed = self.seal(&result).ok_or(WindowError::Code("5000", "내부 오류"))?;
                if window.mok_result {
                    json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKResult": sealed})
                } else {
                    // The sealed result stays here until the key token is exchanged, once.
                    let key_token = random_token(24);
                    self.lock().key_tokens.insert(key_token.clone(), (sealed, now()));
                    json!({"resultCode": "2000", "resultMsg": "성공", "encryptMOKKeyToken": key_token})
                }
            }
        };
        Ok(WindowDelivery {
            return_url: window.return_url.clone(),
            data: utf8_percent_encode(&data.to_string(), NON_ALPHANUMERIC).to_string(),
        })
    }

    /// Completes a window without a browser: `request_info` is what the merchant's request URL
    /// answered; `persona` a persona key, or `None` for a user who cancels.
    pub fn complete_window(&self, request_info: &str, persona: Option<&str>) -> Result<WindowDelivery, WindowError> {
        let window = self.open_window(request_info)?;
        let persona = match persona {
            Some(key) => Some(personas::by_key(key).ok_or(WindowError::UnknownPersona)?),
            None => None,
        };
        self.deliver(&window, persona)
    }

    fn window_page(&self, window: &OpenWindow, error: Option<&str>) -> Response {
        let id = random_token(16).replace(['+', '/', '='], "x");
        self.lock().windows.insert(id.clone(), window.clone());
        let choices: String = personas::ALL
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!(
                    r#"<label><input type="radio" name="persona" value="{}"{}> {} · {} · 인증번호 {}</label>"#,
                    escape(p.key),
                    if i == 0 { " checked" } else { "" },
                    escape(p.name),
                    provider_id(p),
                    p.otp
                )
            })
            .collect();
        let error = error.map(|e| format!(r#"<p id="error" role="alert">{}</p>"#, escape(e))).unwrap_or_default();
        page(
            "mobileOK 본인확인 (sandbox)",
            &format!(
                r#"<p>Simulated mobileOK window. Choose a test persona and enter its code.</p>{error}
<form method="post" action="{AUTHENTICATE_PATH}"><input type="hidden" name="window" value="{id}">{choices}
<label>인증번호 <input id="otp" name="otp" inputmode="numeric"></label>
<button id="confirm" type="submit">확인</button> <button id="cancel" type="submit" name="cancel" value="1">취소</button></form>"#
            ),
        )
    }
}

fn post_to_return_url(delivery: &WindowDelivery) -> Response {
    page(
        "mobileOK",
        &format!(
            r#"<form id="result" method="post" action="{}"><input type="hidden" name="data" value="{}"><noscript><button>계속</button></noscript></form>
<script>document.getElementById("result").submit();</script>"#,
            escape(&delivery.return_url),
            escape(&delivery.data)
        ),
    )
}

/// Popup (`WB`): the window hands the delivery to the SDK in the page that opened it (at that
/// page's origin only) and closes; the SDK posts it to the return URL and calls back with the body.
fn hand_to_sdk(delivery: &WindowDelivery, opener_origin: &str) -> Response {
    let message = json!({"source": "mobileok-sandbox", "return_url": delivery.return_url, "data": delivery.data});
    let origin = Value::String(opener_origin.to_owned());
    page(
        "mobileOK",
        &format!(
            r#"<p id="handed">본인확인이 끝났습니다.</p><script>if (window.opener) {{ window.opener.postMessage({}, {}); window.close(); }}</script>"#,
            message.to_string().replace('<', "\\u003c"),
            origin.to_string().replace('<', "\\u003c")
        ),
    )
}

pub(super) async fn sdk_script() -> Response {
    let script = format!(
        r#""use strict";
(function () {{
  var origin = new URL(document.currentScript.src).origin;
  window.MOBILEOK = {{
    process: function (requestUrl, deviceType, callbackName) {{
      if (typeof requestUrl !== "string" || requestUrl.trim().charAt(0) === "{{") {{
        var callback = window[callbackName];
        if (typeof callback === "function") {{ callback(JSON.stringify({{resultCode: "4101", resultMsg: "MOBILEOK.process needs the request URL"}})); }}
        return;
      }}
      fetch(requestUrl, {{method: "POST"}}).then(function (r) {{ return r.text(); }}).then(function (info) {{
        var form = document.createElement("form");
        form.method = "post"; form.action = origin + "{WINDOW_PATH}";
        var fields = [["info", info], ["deviceType", deviceType || "MB"]];
        if (deviceType === "WB") {{
          // The popup's answer: posted to the return URL from here, its body handed to the callback.
          fields.push(["openerOrigin", location.origin]);
          window.addEventListener("message", function handler(event) {{
            if (event.origin !== origin || !event.data || event.data.source !== "mobileok-sandbox") {{ return; }}
            window.removeEventListener("message", handler);
            fetch(event.data.return_url, {{method: "POST", body: new URLSearchParams({{data: event.data.data}})}})
              .then(function (r) {{ return r.text(); }})
              .then(function (body) {{ var callback = window[callbackName]; if (typeof callback === "function") {{ callback(body); }} }});
          }});
        }}
        fields.forEach(function (f) {{
          var input = document.createElement("input"); input.type = "hidden"; input.name = f[0]; input.value = f[1]; form.appendChild(input);
        }});
        if (deviceType === "WB") {{ window.open("", "mobileok_window", "width=440,height=640"); form.target = "mobileok_window"; }}
        document.body.appendChild(form); form.submit();
      }});
    }}
  }};
}})();
"#
    );
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], script).into_response()
}

pub(super) async fn open(State(sim): State<MobileokSimulator>, Form(form): Form<HashMap<String, String>>) -> Response {
    match sim.open_window(form.get("info").map_or("", String::as_str)) {
        Ok(mut window) => {
            if form.get("deviceType").map(String::as_str) == Some("WB") {
                window.opener_origin = form.get("openerOrigin").filter(|o| o.starts_with("http")).cloned();
            }
            sim.window_page(&window, None)
        }
        Err(error) => {
            let mut response = page("mobileOK 오류", &format!(r#"<p id="error">{}</p>"#, escape(&error.to_string())));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

pub(super) async fn authenticate(State(sim): State<MobileokSimulator>, Form(form): Form<AuthenticateForm>) -> Response {
    let Some(window) = sim.lock().windows.remove(&form.window) else {
        return page("mobileOK 오류", &format!(r#"<p id="error">{}</p>"#, WindowError::UnknownWindow));
    };
    let persona = if form.cancel.is_some() {
        None
    } else {
        match personas::by_key(&form.persona) {
            Some(p) if form.otp.trim() == p.otp => Some(p),
            _ => return sim.window_page(&window, Some("인증번호가 일치하지 않습니다.")),
        }
    };
    match sim.deliver(&window, persona) {
        Ok(delivery) => match &window.opener_origin {
            Some(origin) => hand_to_sdk(&delivery, origin),
            None => post_to_return_url(&delivery),
        },
        Err(error) => page("mobileOK 오류", &format!(r#"<p id="error">{}</p>"#, escape(&error.to_string()))),
    }
}

/// `result/request`: exchanges a key token (single use, short-lived) for the sealed result. The
/// answer is JSON with `Content-Type: text/plain`, as mobileOK sends it.
pub(super) async fn result_request(
    State(sim): State<MobileokSimulator>,
    InjectedProviderCode(code): InjectedProviderCode,
    Json(body): Json<Value>,
) -> Response {
    sim.counters.result_requests.fetch_add(1, Ordering::Relaxed);
    let answer =
        |value: Value| ([(header::CONTENT_TYPE, "text/plain;charset=UTF-8")], value.to_string()).into_response();
    if let Some(code) = code {
        return answer(json!({"resultCode": code, "resultMsg": "injected"}));
    }
    let key_token = text(&body, "encryptMOKKeyToken").unwrap_or_default();
    let taken = sim.lock().key_tokens.remove(&key_token);
    match taken {
        Some((sealed, created)) if now() < created + sim.config.key_token_ttl => answer(json!({
            "resultCode": "2000", "resultMsg": "성공", "serviceId": sim.config.service_id, "encryptMOKResult": sealed
        })),
        _ => answer(json!({"resultCode": "4040", "resultMsg": "유효하지 않은 키 토큰입니다."})),
    }
}

#[derive(Deserialize)]
pub(super) struct CompleteRequest {
    request_info: String,
    #[serde(default)]
    persona: Option<String>,
}

pub(super) async fn complete_api(
    State(sim): State<MobileokSimulator>,
    Json(request): Json<CompleteRequest>,
) -> Response {
    match sim.complete_window(&request.request_info, request.persona.as_deref()) {
        Ok(delivery) => Json(delivery).into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, Json(json!({"error": error.to_string()}))).into_response(),
    }
}
