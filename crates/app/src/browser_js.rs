//! `bonin.js`, the browser half: the core (`assets/bonin.core.js`) with every registered
//! provider's launchers, served in every profile, and its TypeScript declarations
//! (`assets/bonin.d.ts`).
//!
//! | path | caching |
//! |---|---|
//! | `GET /bonin.js` | `no-cache` with an `ETag`: revalidated, always the running version |
//! | `GET /bonin.<hash>.js` | `immutable` for a year: the URL names the content |
//! | `GET /bonin.d.ts` | `no-cache` with an `ETag` |
//!
//! `<hash>` is the first 16 hex digits of the script's SHA-384. Both script responses carry the
//! Subresource Integrity value (`sha384-…`) in `Bonin-Integrity` and the immutable path in
//! `Bonin-Script`, and allow any origin to read them (`Access-Control-Allow-Origin: *`, which a
//! cross-origin `<script integrity>` needs):
//!
//! ```html
//! <script src="https://bonin.example/bonin.0123456789abcdef.js"
//!         integrity="sha384-…" crossorigin="anonymous"></script>
//! ```

use std::sync::LazyLock;

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::Engine;

/// The core: `/*@LAUNCHERS@*/` is where the launchers go.
const CORE: &str = include_str!("../assets/bonin.core.js");
const LAUNCHERS_MARK: &str = "/*@LAUNCHERS@*/";

/// The TypeScript declarations of `window.Bonin`.
pub const DECLARATIONS: &str = include_str!("../assets/bonin.d.ts");

/// The assembled script, its content-addressed path and its integrity value.
#[derive(Debug)]
pub struct BrowserScript {
    /// The script.
    pub source: String,
    /// `sha384-<base64>`, for a `<script integrity>` attribute.
    pub integrity: String,
    /// `/bonin.<16 hex digits>.js`.
    pub path: String,
}

/// The core with `launchers` (kind, function expression) registered in it.
pub fn assemble<'a>(launchers: impl IntoIterator<Item = (&'a str, &'a str)>) -> BrowserScript {
    let mut registered = String::new();
    for (kind, script) in launchers {
        let kind = serde_json::Value::String(kind.to_owned());
        registered.push_str(&format!("LAUNCHERS[{kind}] = {script};\n  "));
    }
    let source = CORE.replacen(LAUNCHERS_MARK, registered.trim_end(), 1);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, source.as_bytes());
    let integrity = format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(digest.as_ref()));
    let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    BrowserScript { source, integrity, path: format!("/bonin.{hex}.js") }
}

/// `bonin.js` with this build's registered providers' launchers.
pub fn script() -> &'static BrowserScript {
    static SCRIPT: LazyLock<BrowserScript> = LazyLock::new(|| {
        let launchers: Vec<(&str, &str)> = crate::providers::registered()
            .iter()
            .flat_map(|provider| provider.launchers().iter().map(|l| (l.kind, l.script)))
            .collect();
        assemble(launchers)
    });
    &SCRIPT
}

fn declarations_etag() -> &'static str {
    static ETAG: LazyLock<String> = LazyLock::new(|| {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, DECLARATIONS.as_bytes());
        let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("\"{hex}\"")
    });
    &ETAG
}

fn asset(headers: &HeaderMap, content_type: &'static str, body: &'static str, etag: &str, immutable: bool) -> Response {
    let cache = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert("cross-origin-resource-policy", HeaderValue::from_static("cross-origin"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        out.insert(header::ETAG, value);
    }
    response
}

fn script_response(headers: &HeaderMap, immutable: bool) -> Response {
    let script = script();
    let etag = format!("\"{}\"", script.integrity);
    let mut response = asset(headers, "text/javascript; charset=utf-8", &script.source, &etag, immutable);
    let out = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&script.integrity) {
        out.insert("bonin-integrity", value);
    }
    if let Ok(value) = HeaderValue::from_str(&script.path) {
        out.insert("bonin-script", value);
    }
    out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("bonin-integrity, bonin-script, etag"));
    response
}

/// `GET /bonin.js`, `GET /bonin.<hash>.js` and `GET /bonin.d.ts`, open in every profile.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/bonin.js", get(|headers: HeaderMap| async move { script_response(&headers, false) }))
        .route(&script().path, get(|headers: HeaderMap| async move { script_response(&headers, true) }))
        .route(
            "/bonin.d.ts",
            get(|headers: HeaderMap| async move {
                asset(&headers, "application/typescript; charset=utf-8", DECLARATIONS, declarations_etag(), false)
            }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_are_registered_in_the_core_and_the_hash_names_the_content() {
        let one = assemble([("kind-a", "function (launch, ctx) { ctx.follow(); }")]);
        assert!(one.source.contains(r#"LAUNCHERS["kind-a"] = function (launch, ctx) { ctx.follow(); };"#));
        assert!(!one.source.contains(LAUNCHERS_MARK));
        let other = assemble([("kind-b", "function () {}")]);
        assert_ne!(one.integrity, other.integrity);
        assert_ne!(one.path, other.path);
        assert!(one.integrity.starts_with("sha384-") && one.integrity.len() == "sha384-".len() + 64);
        assert!(
            one.path.starts_with("/bonin.") && one.path.ends_with(".js") && one.path.len() == "/bonin.".len() + 16 + 3
        );
    }

    #[test]
    fn a_kind_is_written_as_a_string_literal_whatever_it_holds() {
        let odd = assemble([(r#"a"]=alert(1);//"#, "function () {}")]);
        assert!(odd.source.contains(r#"LAUNCHERS["a\"]=alert(1);//"] = function () {};"#), "{}", odd.source);
    }
}
