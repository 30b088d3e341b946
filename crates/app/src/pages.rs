//! HTML: the return landing (popup and page modes), error pages, and the sandbox demo. Every HTML
//! response carries a strict Content-Security-Policy with a per-response script nonce.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bonin_domain::{OsRng, Rng};

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn nonce() -> String {
    let mut bytes = [0u8; 16];
    // A broken OS generator yields a fixed nonce; the policy still forbids every other script.
    let _ = OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An HTML response with the security headers; `body` may use `{nonce}` on its `<script>` tags.
pub fn html(status: StatusCode, title: &str, body: &str) -> Response {
    html_with_scripts(status, title, body, "")
}

/// [`html`], also allowing scripts from `script_sources` (CSP source expressions).
fn html_with_scripts(status: StatusCode, title: &str, body: &str, script_sources: &str) -> Response {
    let nonce = nonce();
    let page = format!(
        r#"<!doctype html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title><style nonce="{nonce}">body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
code,pre{{background:#f4f4f4;padding:.1rem .3rem}}label{{display:block;margin:.5rem 0}}</style></head><body>{body}</body></html>"#,
        title = escape(title),
        body = body.replace("{nonce}", &nonce),
    );
    let csp = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}'{script_sources}; style-src 'nonce-{nonce}'; connect-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The popup landing: tells the opener the outcome (only at the return URL's origin) and closes.
pub fn popup_landing(
    verification_id: &str,
    status: &str,
    error: Option<&str>,
    return_origin: &str,
    return_url: &str,
) -> Response {
    let message = serde_json::json!({
        "type": "bonin:verification",
        "verification_id": verification_id,
        "status": status,
        "error": error,
    });
    // JSON inside a script element: `<` is escaped so no value can close the element.
    let message = message.to_string().replace('<', "\\u003c");
    let origin = serde_json::Value::String(return_origin.to_owned()).to_string().replace('<', "\\u003c");
    let body = format!(
        r#"<p id="status" data-status="{status}">본인확인이 끝났습니다. 이 창은 자동으로 닫힙니다.</p>
<p><a id="continue" href="{href}">계속</a></p>
<script nonce="{{nonce}}">(function(){{var m={message};if(window.opener){{window.opener.postMessage(m,{origin});window.close();}}}})();</script>"#,
        status = escape(status),
        href = escape(return_url),
    );
    html(StatusCode::OK, "본인확인", &body)
}

/// An error page for a browser that cannot be sent back anywhere.
pub fn error_page(status: StatusCode, code: &str, detail: &str) -> Response {
    html(
        status,
        "본인확인 오류",
        &format!(r#"<h1>본인확인 오류</h1><p id="error" data-code="{}">{}</p>"#, escape(code), escape(detail)),
    )
}

/// The sandbox demo: pick a provider and run a verification through the simulated window.
pub fn demo_index(providers: &[(&str, &str)]) -> Response {
    let options: String = providers
        .iter()
        .map(|(p, method)| {
            format!(r#"<option value="{p}" data-method="{m}">{p}</option>"#, p = escape(p), m = escape(method))
        })
        .collect();
    let body = format!(
        r#"<h1>bonin sandbox</h1>
<p>Runs a verification against the simulated provider. Pick a persona in the provider window and type the code shown there.</p>
<form id="start"><label>Provider <select id="provider" name="provider">{options}</select></label>
<button id="verify" type="submit">Verify</button></form>
<p id="message" role="status"></p>
<script src="/demo.js"></script>"#
    );
    html_with_scripts(StatusCode::OK, "bonin sandbox", &body, SANDBOX_SCRIPTS)
}

/// Provider SDK stand-ins are served by the simulators on loopback (demo pages only).
const SANDBOX_SCRIPTS: &str = " http://127.0.0.1:* http://localhost:*";

/// Where the demo's verification returns.
pub fn demo_done() -> Response {
    let body = r#"<h1>bonin sandbox — result</h1>
<p>Status: <strong id="status">…</strong></p>
<dl id="identity"></dl>
<p><a href="/">Verify again</a></p>
<script src="/demo.js"></script>"#;
    html_with_scripts(StatusCode::OK, "bonin sandbox — result", body, SANDBOX_SCRIPTS)
}

/// The demo's script (served from `'self'`, so the policy allows it without a nonce): the
/// registered providers' launchers, then the page's own code.
pub fn demo_js() -> String {
    let mut out = String::from("\"use strict\";\nvar LAUNCHERS = {};\n");
    for provider in crate::providers::registered() {
        for launcher in provider.launchers() {
            let kind = serde_json::Value::String(launcher.kind.to_owned());
            out.push_str(&format!("LAUNCHERS[{kind}] = {};\n", launcher.script));
        }
    }
    out.push_str(DEMO_SCRIPT);
    out
}

/// The demo page's own code (after the launchers).
const DEMO_SCRIPT: &str = r#"
function mask(key, value) {
  if (typeof value !== "string") return String(value);
  if (key === "name") return value.length <= 1 ? "*" : value[0] + "*".repeat(Math.max(1, value.length - 2)) + (value.length > 2 ? value[value.length - 1] : "");
  if (key === "phone") return value.slice(0, 3) + "-****-" + value.slice(-4);
  if (key === "birth_date") return value.slice(0, 4) + "-**-**";
  if (key === "ci" || key === "di") return value.slice(0, 6) + "…";
  return value;
}
function finished(v) {
  location.href = "/demo/done?verification_id=" + encodeURIComponent(v.id) + "&status=" + encodeURIComponent(v.status);
}
function submitLaunch(launch, verification) {
  if (launch.kind !== "form") {
    var open = LAUNCHERS[launch.kind];
    if (!open) { throw new Error("no launcher for " + launch.kind); }
    open(launch, verification, finished);
    return;
  }
  var form = document.createElement("form");
  form.method = launch.method; form.action = launch.action;
  launch.fields.forEach(function (f) {
    var input = document.createElement("input");
    input.type = "hidden"; input.name = f.name; input.value = f.value; form.appendChild(input);
  });
  document.body.appendChild(form); form.submit();
}
var start = document.getElementById("start");
if (start) {
  start.addEventListener("submit", function (event) {
    event.preventDefault();
    var message = document.getElementById("message");
    var select = document.getElementById("provider");
    message.textContent = "Starting…";
    fetch("/v1/verifications", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ provider: select.value, method: select.selectedOptions[0].dataset.method,
        return_url: location.origin + "/demo/done", display: select.selectedOptions[0].dataset.method === "app" ? "popup" : "page" })
    }).then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.detail || r.status); return b; }); })
      .then(function (v) { message.textContent = v.method === "app" ? "Approve in the provider's window…" : ""; submitLaunch(v.launch, v); })
      .catch(function (e) { message.textContent = "Could not start: " + e.message; });
  });
}
var identity = document.getElementById("identity");
if (identity) {
  var params = new URLSearchParams(location.search);
  var id = params.get("verification_id");
  document.getElementById("status").textContent = params.get("status") || "unknown";
  if (id) {
    fetch("/v1/verifications/" + encodeURIComponent(id)).then(function (r) { return r.json(); }).then(function (v) {
      document.getElementById("status").textContent = v.status;
      var fields = v.identity || {};
      Object.keys(fields).forEach(function (k) {
        var dt = document.createElement("dt"); dt.textContent = k;
        var dd = document.createElement("dd"); dd.textContent = mask(k, fields[k]); dd.id = "identity-" + k;
        identity.appendChild(dt); identity.appendChild(dd);
      });
    });
  }
}
"#;
