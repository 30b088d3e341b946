//! bonin's router inside a host axum application, under `/identity`, behind the host's own auth
//! middleware (the browser landing stays open, as providers redirect browsers there).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::error::Error;

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::Request,
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use bonin_app::wiring::App;
use figment::{Figment, providers::Serialized};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The host's own authentication: here a session header on everything but bonin's browser landing.
async fn host_auth(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let public = path.ends_with("/return") || path.ends_with("/launch") || path == "/";
    if public || request.headers().get("x-host-session").is_some_and(|v| v == "staff-42") {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, "host login required").into_response()
    }
}

async fn call(router: &Router, request: Request<Body>) -> Result<(StatusCode, Value), Box<dyn Error>> {
    let response = router.clone().oneshot(request).await?;
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // bonin from the host's figment: sandbox profile, in-memory store, public URL with the prefix.
    let figment = Figment::from(Serialized::defaults(json!({
        "store": {"url": "memory:"},
        "server": {"public_url": "http://127.0.0.1:3000/identity", "allowed_return_origins": ["http://127.0.0.1:3000"]},
    })));
    let bonin = App::from_figment(figment).await?;
    let host = Router::new()
        .route("/", get(|| async { "the host's home page" }))
        .nest("/identity", bonin.router.clone())
        .layer(middleware::from_fn(host_auth));

    let start = json!({"provider": "nice", "method": "window", "return_url": "http://127.0.0.1:3000/account"});
    let request = |key: Option<&str>| {
        let mut builder = Request::post("/identity/v1/verifications").header("content-type", "application/json");
        if let Some(key) = key {
            builder = builder.header("x-host-session", key);
        }
        builder.body(Body::from(start.to_string()))
    };
    let (status, _) = call(&host, request(None)?).await?;
    println!("without the host's session: {status}");
    let (status, started) = call(&host, request(Some("staff-42"))?).await?;
    println!("with it: {status}, verification {}", started["id"]);

    // The provider brings the browser back to the nested landing; the simulator plays the user.
    let id = started["id"].as_str().ok_or("no id")?.to_owned();
    let launch: bonin_domain::Launch = serde_json::from_value(started["launch"].clone())?;
    let sandbox = bonin.sandbox.as_ref().ok_or("sandbox profile expected")?;
    let callback = bonin_examples::play_user(sandbox, &launch, None, "wilson")?;
    let landing =
        Request::get(format!("/identity/v1/verifications/{id}/return?{}", query(&callback))).body(Body::empty())?;
    let response = host.clone().oneshot(landing).await?;
    println!("landing answered {} (a popup page that tells the host page the outcome)", response.status());

    let read = Request::get(format!("/identity/v1/verifications/{id}"))
        .header("x-host-session", "staff-42")
        .body(Body::empty())?;
    let (_, body) = call(&host, read).await?;
    println!("status: {}, nationality: {}", body["status"], body["identity"]["nationality"]);
    Ok(())
}

fn query(callback: &bonin_domain::CallbackParams) -> String {
    ["token_version_id", "enc_data", "integrity_value"]
        .iter()
        .filter_map(|name| callback.get(name).map(|v| format!("{name}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
