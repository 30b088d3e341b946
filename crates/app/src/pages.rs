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
code,pre{{background:#f4f4f4;padding:.1rem .3rem}}pre{{white-space:pre-wrap;word-break:break-all}}label{{display:block;margin:.5rem 0}}</style></head><body>{body}</body></html>"#,
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

/// The sandbox demo: pick a provider and a display, and run a verification through the simulated
/// window with `bonin.js`, seeing each REST exchange a backend makes; with a signing provider, an
/// e-signature workflow too.
pub fn demo_index(providers: &[(&str, &str)], signing: bool) -> Response {
    let options: String = providers
        .iter()
        .map(|(p, method)| {
            format!(r#"<option value="{p}" data-method="{m}">{p}</option>"#, p = escape(p), m = escape(method))
        })
        .collect();
    let signing = if signing {
        r#"<h2>E-signature</h2>
<p>Starts a workflow from a template; the signer gets the provider's link (in the sandbox: signs with <code>POST /_sandbox/…/sign</code> on the simulator, see <code>bonin sandbox</code>).</p>
<form id="sign"><label>Template <input id="template" value="171"></label>
<label>Document <input id="workflow-name" value="Sandbox contract"></label>
<label>Signer <input id="signer-name" value="홍길동"></label>
<label>Signer email <input id="signer-email" value="signer@example.com"></label>
<button id="sign-start" type="submit">Start signing</button> <button id="sign-refresh" type="button">Refresh</button>
<button id="sign-cancel" type="button">Cancel</button></form>
<p>Workflow: <code id="signing-id"></code> · status <strong id="signing-status"></strong> <a id="signing-link" hidden target="_blank" rel="noopener">Open the signer's page</a></p>"#
    } else {
        ""
    };
    let body = format!(
        r#"<h1>bonin sandbox</h1>
<p>Runs a verification against the simulated provider with <code>bonin.js</code>. Pick a persona in the provider window and type the code shown there.</p>
<form id="start"><label>Provider <select id="provider" name="provider">{options}</select></label>
<label>Display <select id="display"><option value="popup">popup</option><option value="page">page</option></select></label>
<button id="verify" type="submit">Verify</button></form>
<p id="message" role="status"></p>
<p>Status: <strong id="status"></strong> <code id="verification-id"></code></p>
<dl id="identity"></dl>
{signing}
<h2>What your backend does</h2>
<p>Each REST call the backend makes (personal data masked; the API key is shown as <code>Bearer •••</code>), and what the browser learns.</p>
<ol id="exchange"></ol>
{scripts}"#,
        scripts = demo_scripts(),
    );
    html_with_scripts(StatusCode::OK, "bonin sandbox", &body, SANDBOX_SCRIPTS)
}

/// `bonin.js` by its content-addressed path with its integrity value, then the demo's script.
fn demo_scripts() -> String {
    let script = crate::browser_js::script();
    format!(
        r#"<script src="{}" integrity="{}" crossorigin="anonymous"></script>
<script src="/demo.js"></script>"#,
        escape(&script.path),
        escape(&script.integrity)
    )
}

/// Provider SDK stand-ins are served by the simulators on loopback (demo pages only).
const SANDBOX_SCRIPTS: &str = " http://127.0.0.1:* http://localhost:*";

/// Where the demo's verification returns.
pub fn demo_done() -> Response {
    let body = format!(
        r#"<h1>bonin sandbox — result</h1>
<p>Status: <strong id="status">…</strong> <code id="verification-id"></code></p>
<dl id="identity"></dl>
<p><a href="/">Verify again</a></p>
<h2>What your backend did</h2>
<ol id="exchange"></ol>
{}"#,
        demo_scripts()
    );
    html_with_scripts(StatusCode::OK, "bonin sandbox — result", &body, SANDBOX_SCRIPTS)
}

/// The demo's script (served from `'self'`, so the policy allows it without a nonce); the
/// providers' UIs are opened by `bonin.js`.
pub fn demo_js() -> &'static str {
    DEMO_SCRIPT
}

/// The demo page's own code.
const DEMO_SCRIPT: &str = r#""use strict";
var PII = ["name", "phone", "birth_date", "ci", "di", "email", "fullName", "phoneNumber"];
function mask(key, value) {
  if (typeof value !== "string") return String(value);
  if (key === "name" || key === "fullName") return value.length <= 1 ? "*" : value[0] + "*".repeat(Math.max(1, value.length - 2)) + (value.length > 2 ? value[value.length - 1] : "");
  if (key === "phone" || key === "phoneNumber") return value.slice(0, 3) + "-****-" + value.slice(-4);
  if (key === "birth_date") return value.slice(0, 4) + "-**-**";
  if (key === "ci" || key === "di") return value.slice(0, 6) + "…";
  if (key === "email") return value.replace(/^[^@]*/, "***");
  return value;
}
function masked(value) {
  if (Array.isArray(value)) return value.map(masked);
  if (value && typeof value === "object") {
    var out = {};
    Object.keys(value).forEach(function (k) {
      out[k] = PII.indexOf(k) >= 0 && typeof value[k] === "string" ? mask(k, value[k]) : masked(value[k]);
    });
    return out;
  }
  return value;
}
var LOG_KEY = "bonin-demo:exchange";
function logged() { try { return JSON.parse(sessionStorage.getItem(LOG_KEY) || "[]"); } catch (e) { return []; } }
function record(entry) {
  var entries = logged(); entries.push(entry);
  try { sessionStorage.setItem(LOG_KEY, JSON.stringify(entries)); } catch (e) { /* storage off */ }
  render();
}
function render() {
  var list = document.getElementById("exchange");
  if (!list) return;
  list.textContent = "";
  logged().forEach(function (e) {
    var item = document.createElement("li");
    var head = document.createElement("strong");
    head.textContent = e.who === "browser" ? "Browser: " + e.call : "Backend: " + e.method + " " + e.path + " → " + e.status;
    item.appendChild(head);
    var pre = document.createElement("pre");
    pre.className = "exchange-" + e.who;
    pre.textContent = e.who === "browser" ? JSON.stringify(e.result, null, 2)
      : e.method + " " + e.path + "\nAuthorization: Bearer •••" + (e.request !== undefined ? "\nContent-Type: application/json\n\n" + JSON.stringify(e.request, null, 2) : "")
        + "\n\nHTTP " + e.status + "\n" + JSON.stringify(e.response, null, 2);
    item.appendChild(pre);
    list.appendChild(item);
  });
}
// What the host's backend does with its API key (the sandbox API needs none).
function backend(method, path, body) {
  var init = { method: method, headers: {} };
  if (body !== undefined) { init.headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
  return fetch(path, init).then(function (r) {
    return r.text().then(function (text) {
      var parsed; try { parsed = JSON.parse(text); } catch (e) { parsed = text; }
      record({ who: "backend", method: method, path: path, request: body === undefined ? undefined : masked(body), status: r.status, response: masked(parsed) });
      if (!r.ok) { throw new Error(parsed && parsed.detail || ("HTTP " + r.status)); }
      return parsed;
    });
  });
}
function showIdentity(v) {
  document.getElementById("status").textContent = v.status;
  var identity = document.getElementById("identity");
  identity.textContent = "";
  var fields = v.identity || {};
  Object.keys(fields).forEach(function (k) {
    var dt = document.createElement("dt"); dt.textContent = k;
    var dd = document.createElement("dd"); dd.textContent = mask(k, fields[k]); dd.id = "identity-" + k;
    identity.appendChild(dt); identity.appendChild(dd);
  });
}
// The backend reads the result with its API key; an approval in an app may still be pending.
function readResult(id, tries) {
  return backend("GET", "/v1/verifications/" + encodeURIComponent(id)).then(function (v) {
    if ((v.status === "pending" || v.status === "otp_sent") && tries > 0) {
      return new Promise(function (resolve) { setTimeout(resolve, 2000); }).then(function () { return readResult(id, tries - 1); });
    }
    showIdentity(v);
    return v;
  });
}
function poll(id) {
  return fetch("/v1/verifications/" + encodeURIComponent(id)).then(function (r) { return r.json(); });
}
render();
var start = document.getElementById("start");
if (start) {
  start.addEventListener("submit", function (event) {
    event.preventDefault();
    try { sessionStorage.removeItem(LOG_KEY); } catch (e) { /* storage off */ }
    render();
    var message = document.getElementById("message");
    var option = document.getElementById("provider").selectedOptions[0];
    var display = document.getElementById("display").value;
    document.getElementById("status").textContent = "";
    document.getElementById("identity").textContent = "";
    message.textContent = "Starting…";
    var body = { provider: option.value, method: option.dataset.method, return_url: location.origin + "/demo/done", display: display };
    // Opened straight from the click: the popup exists before the backend answers.
    Bonin.open(function () {
      return backend("POST", "/v1/verifications", body).then(function (v) {
        document.getElementById("verification-id").textContent = v.id;
        message.textContent = display === "popup" ? "Finish in the provider's window…" : "";
        return v;
      });
    }, { display: display, poll: poll })
      .then(function (result) {
        record({ who: "browser", call: "Bonin.open(verification, {display: \"" + display + "\"}) resolved", result: masked(result) });
        message.textContent = "";
        return readResult(result.verification_id, 30);
      })
      .catch(function (e) { message.textContent = "Could not verify: " + (e.code ? e.code + ": " : "") + e.message; message.dataset.code = e.code || ""; });
  });
}
if (document.getElementById("identity") && !start) {
  var result = Bonin.result();
  if (result) {
    record({ who: "browser", call: "Bonin.result() on the return URL", result: result });
    document.getElementById("verification-id").textContent = result.verification_id;
    document.getElementById("status").textContent = result.status;
    readResult(result.verification_id, 30);
  } else {
    document.getElementById("status").textContent = "unknown";
  }
}
var sign = document.getElementById("sign");
if (sign) {
  var workflow = null;
  var showWorkflow = function (w) {
    workflow = w.id;
    document.getElementById("signing-id").textContent = w.id;
    document.getElementById("signing-status").textContent = w.status;
    var link = document.getElementById("signing-link");
    if (w.signing_url) { link.href = w.signing_url; link.hidden = false; }
  };
  var failed = function (e) { document.getElementById("signing-status").textContent = "error: " + e.message; };
  sign.addEventListener("submit", function (event) {
    event.preventDefault();
    backend("POST", "/v1/signing", {
      template_id: document.getElementById("template").value,
      workflow_name: document.getElementById("workflow-name").value,
      signers: [{ name: document.getElementById("signer-name").value, email: document.getElementById("signer-email").value }]
    }).then(showWorkflow, failed);
  });
  document.getElementById("sign-refresh").addEventListener("click", function () {
    if (workflow) backend("GET", "/v1/signing/" + encodeURIComponent(workflow)).then(showWorkflow, failed);
  });
  document.getElementById("sign-cancel").addEventListener("click", function () {
    if (workflow) backend("POST", "/v1/signing/" + encodeURIComponent(workflow) + "/cancel", {}).then(showWorkflow, failed);
  });
}
"#;
