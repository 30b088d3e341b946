//! What every simulated provider window shares: HTML escaping, the page frame, and the form a
//! persona authenticates with.

use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

/// HTML-escapes text for element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A minimal window page titled `title` around `body` (already HTML).
pub(crate) fn page(title: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title><style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto}}label{{display:block;margin:.4rem 0}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"#
    );
    Html(html).into_response()
}

/// The window's form: which open window, which persona, the code typed, or a cancel.
#[derive(Deserialize)]
pub(crate) struct AuthenticateForm {
    pub window: String,
    #[serde(default)]
    pub persona: String,
    #[serde(default)]
    pub otp: String,
    #[serde(default)]
    pub cancel: Option<String>,
}
