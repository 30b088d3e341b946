//! `bonin.js` as served: in every profile, its integrity value what it advertises, cached by its
//! content, every registered launcher in it, valid JavaScript, its declarations typed under
//! `tsc --strict`; and the landing's JSON answer that `bonin.js` hands SDK results to.
//!
//! The JavaScript and TypeScript checks need node (and npm for TypeScript, installed from
//! `tools/portone-sdk`'s lock file); without node they fail unless `BONIN_SKIP_NODE=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // tests fail loudly on purpose; a skip says so

use std::{path::Path, process::Command};

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use base64::Engine;
use bonin_app::wiring::App;
use bonin_sandbox::nice::ResultOverrides;
use serde_json::json;
use support::{Reply, app, encode, get, launch_fields, post_json, send};

mod support;

const KEY: &str = "test-api-key-0123456789";

/// Demo off and API keys set, as in production.
async fn production_like() -> App {
    app(&[("BONIN_SERVER__API_KEYS", KEY), ("BONIN_SERVER__DEMO", "false")]).await
}

fn sri(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, body);
    format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

fn header_of<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn bonin_js_is_served_without_a_key_when_the_demo_is_off_and_its_integrity_is_what_it_advertises() {
    let app = production_like().await;
    assert_eq!(send(&app.router, get("/", None)).await.status, StatusCode::NOT_FOUND, "the demo is off");

    let script = send(&app.router, get("/bonin.js", None)).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(header_of(&script, "content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header_of(&script, "cache-control"), "no-cache");
    assert_eq!(header_of(&script, "access-control-allow-origin"), "*", "a cross-origin <script integrity> needs CORS");
    let integrity = header_of(&script, "bonin-integrity");
    assert_eq!(integrity, sri(&script.body), "the advertised integrity is the served script's");
    assert_eq!(integrity, bonin_app::browser_js::script().integrity);
    let etag = header_of(&script, "etag").to_owned();

    // The content-addressed URL serves the same bytes, cached for good.
    let path = header_of(&script, "bonin-script").to_owned();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, &script.body);
    let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(path, format!("/bonin.{hex}.js"));
    let immutable = send(&app.router, get(&path, None)).await;
    assert_eq!(immutable.status, StatusCode::OK);
    assert_eq!(immutable.body, script.body);
    assert_eq!(header_of(&immutable, "cache-control"), "public, max-age=31536000, immutable");
    // Another hash is not served.
    let other = send(&app.router, get("/bonin.0000000000000000.js", None)).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    // Revalidation answers 304 without the body.
    let request = Request::get("/bonin.js").header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    let revalidated = send(&app.router, request).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());
    let request = Request::get("/bonin.js").header(header::IF_NONE_MATCH, "\"stale\"").body(Body::empty()).unwrap();
    assert_eq!(send(&app.router, request).await.status, StatusCode::OK);

    // The declarations are the repository's file.
    let declarations = send(&app.router, get("/bonin.d.ts", None)).await;
    assert_eq!(declarations.status, StatusCode::OK);
    let file = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/bonin.d.ts")).unwrap();
    assert_eq!(declarations.body, file);
}

#[tokio::test]
async fn the_demo_loads_bonin_js_by_its_immutable_url_with_the_advertised_integrity() {
    let app = app(&[]).await;
    let script = send(&app.router, get("/bonin.js", None)).await;
    let page = send(&app.router, get("/", None)).await;
    let html = String::from_utf8(page.body).unwrap();
    let tag = format!(
        r#"<script src="{}" integrity="{}" crossorigin="anonymous"></script>"#,
        header_of(&script, "bonin-script"),
        sri(&script.body)
    );
    assert!(html.contains(&tag), "{html}");
    let demo = send(&app.router, get("/demo.js", None)).await;
    let demo = String::from_utf8(demo.body).unwrap();
    assert!(demo.contains("Bonin.open("), "the demo opens windows through bonin.js");
    for provider in bonin_app::providers::registered() {
        for launcher in provider.launchers() {
            assert!(!demo.contains(launcher.script), "the demo repeats the {} launcher", launcher.kind);
        }
    }
}

#[test]
fn every_registered_launcher_is_in_bonin_js() {
    let source = &bonin_app::browser_js::script().source;
    let mut kinds = 0;
    for provider in bonin_app::providers::registered() {
        for launcher in provider.launchers() {
            let line = format!("LAUNCHERS[{}] = {};", json!(launcher.kind), launcher.script);
            assert!(source.contains(&line), "{} is missing", launcher.kind);
            kinds += 1;
        }
    }
    assert!(kinds >= 4, "every script launch kind of this build has a launcher ({kinds})");
}

fn node_available() -> bool {
    Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn skip_without_node(what: &str) -> bool {
    if node_available() {
        return false;
    }
    assert!(
        std::env::var("BONIN_SKIP_NODE").is_ok_and(|v| v == "1"),
        "{what} needs node (>= 20) on PATH; install it, or set BONIN_SKIP_NODE=1 to skip this check"
    );
    println!("{what}: SKIPPED (node not found, BONIN_SKIP_NODE=1)");
    true
}

#[test]
fn bonin_js_is_valid_javascript() {
    if skip_without_node("node --check bonin.js") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("bonin-js-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bonin.js");
    std::fs::write(&file, &bonin_app::browser_js::script().source).unwrap();
    let output = Command::new("node").arg("--check").arg(&file).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// `bonin.js` in a scripted window (`tests/js/bonin_behaviour.js`): only the popup it opened, on
/// bonin's origin, settles a verification by message; a Toss launch without an address rejects and
/// navigates nowhere.
#[test]
fn bonin_js_hears_only_its_popup_and_opens_nothing_without_an_address() {
    if skip_without_node("bonin.js behaviour") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("bonin-js-behaviour-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bonin.js");
    std::fs::write(&file, &bonin_app::browser_js::script().source).unwrap();
    let harness = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/bonin_behaviour.js");
    let output = Command::new("node").arg(harness).arg(&file).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Code a host page would write, type-checked against `bonin.d.ts` (and a misuse, which must fail).
const USAGE: &str = r#"
async function verify(start: () => Promise<Bonin.Verification>): Promise<string> {
  try {
    const result: Bonin.Result = await Bonin.open(start, { display: "popup", fallback: "page",
      poll: (id) => fetch("/my/status/" + id).then((r) => r.json()) });
    const status: Bonin.Status = result.status;
    return result.verification_id + status + String(result.provider_result ?? "");
  } catch (error) {
    if (error instanceof Bonin.BoninError && error.code === "popup_blocked") { return "blocked"; }
    throw error;
  }
}
const back: Bonin.Result | null = window.Bonin.result(location.search);
Bonin.configure({ origin: "https://bonin.example" });
export { verify, back };
"#;

const MISUSE: &str = r#"
Bonin.open({ id: "x", launch: { kind: "form" } }, { display: "modal" });
export {};
"#;

#[test]
fn bonin_d_ts_type_checks_a_host_page_under_strict() {
    if skip_without_node("tsc --strict bonin.d.ts") {
        return;
    }
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/portone-sdk");
    let tsc = tools.join("node_modules/typescript/bin/tsc");
    if !tsc.is_file() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&tools)
            .status()
            .is_ok_and(|s| s.success());
        assert!(installed, "npm ci in tools/portone-sdk failed (TypeScript is pinned there)");
    }
    let dir = std::env::temp_dir().join(format!("bonin-dts-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let declarations = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/bonin.d.ts");
    std::fs::copy(&declarations, dir.join("bonin.d.ts")).unwrap();
    let check = |code: &str| {
        std::fs::write(dir.join("usage.ts"), code).unwrap();
        Command::new("node")
            .arg(&tsc)
            .args(["--strict", "--noEmit", "--target", "es2020", "--lib", "es2020,dom", "--module", "es2020"])
            .arg(dir.join("bonin.d.ts"))
            .arg(dir.join("usage.ts"))
            .output()
            .unwrap()
    };
    let good = check(USAGE);
    let bad = check(MISUSE);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stdout));
    assert!(!bad.status.success(), "a wrong display and a launch without fields must not type-check");
}

/// Starts a NICE window verification in popup display and has the simulated person finish it.
async fn finished_popup_window(app: &App) -> (String, Vec<(String, String)>) {
    let body = json!({"provider": "nice", "method": "window", "return_url": "http://127.0.0.1:8080/demo/done",
                      "display": "popup"});
    let started = send(&app.router, post_json("/v1/verifications", &body, Some(KEY))).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let started = started.json();
    let fields = launch_fields(&started);
    let sandbox = app.sandbox.as_ref().unwrap();
    let callback = sandbox
        .simulator::<bonin_sandbox::nice::NiceSimulator>()
        .unwrap()
        .complete_window(&fields, "hong", &ResultOverrides::default())
        .unwrap();
    (started["id"].as_str().unwrap().to_owned(), callback.params)
}

#[tokio::test]
async fn a_popup_landing_asked_for_json_answers_the_outcome_readable_by_allowed_origins_only() {
    let app = app(&[
        ("BONIN_SERVER__API_KEYS", KEY),
        ("BONIN_SERVER__ALLOWED_RETURN_ORIGINS", "http://127.0.0.1:8080,https://shop.example"),
    ])
    .await;
    let (id, params) = finished_popup_window(&app).await;
    let request = Request::get(format!("/v1/verifications/{id}/return?{}", encode(&params)))
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, "http://127.0.0.1:8080")
        .body(Body::empty())
        .unwrap();
    let reply = send(&app.router, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(header_of(&reply, "content-type"), "application/json");
    assert_eq!(header_of(&reply, "access-control-allow-origin"), "http://127.0.0.1:8080");
    let body = reply.json();
    assert_eq!(body, json!({"verification_id": id, "status": "verified", "error": null}));
    assert!(!reply.text().contains("hong") && !reply.text().contains("홍"), "no identity in the browser's answer");

    // Another origin may not read it; a page without Accept gets the popup landing page.
    let (id, params) = finished_popup_window(&app).await;
    let request = Request::get(format!("/v1/verifications/{id}/return?{}", encode(&params)))
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let reply = send(&app.router, request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    // Nor may another allowed return origin: only the verification's own return origin.
    let (id, params) = finished_popup_window(&app).await;
    let request = Request::get(format!("/v1/verifications/{id}/return?{}", encode(&params)))
        .header(header::ACCEPT, "application/json")
        .header(header::ORIGIN, "https://shop.example")
        .body(Body::empty())
        .unwrap();
    let reply = send(&app.router, request).await;
    assert!(reply.headers.get("access-control-allow-origin").is_none(), "{:?}", reply.headers);
    let (id, params) = finished_popup_window(&app).await;
    let page = send(&app.router, get(&format!("/v1/verifications/{id}/return?{}", encode(&params)), None)).await;
    assert!(header_of(&page, "content-type").starts_with("text/html"));
    assert!(page.text().contains("bonin:verification"));
}
