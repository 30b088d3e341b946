//! The same application code verifying through every provider: only `verification.default_provider`
//! changes between the runs (NICE, mobileOK, PortOne V1, PortOne V2).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout)]

use std::error::Error;

use bonin_app::{service::StartRequest, wiring::App};
use bonin_domain::{Display, Method};
use figment::{Figment, providers::Serialized};
use serde_json::json;

/// The application's code path: start, (the user authenticates), complete, read.
async fn verify_once(app: &App, persona: &str) -> Result<String, Box<dyn Error>> {
    let started = app
        .service
        // No provider named: whatever the configuration says.
        .start(
            StartRequest::new(Method::Window)
                .with_return_url("http://127.0.0.1:8080/account")
                .with_display(Display::Page),
        )
        .await?;
    let id = started.verification.id().clone();
    let launch = started.launch.ok_or("a window verification has a launch")?;
    let request_info = app.service.launch_data(&id).await.ok();
    // The user in the provider's window (played by the simulator).
    let callback =
        bonin_examples::play_user(app.sandbox.as_ref().ok_or("sandbox")?, &launch, request_info.as_deref(), persona)?;
    app.service.complete(&id, &callback).await?;
    let done = app.service.get(&id).await?;
    let name =
        done.identity().and_then(|i| i.name.as_ref()).map(|n| bonin_examples::mask(n.expose())).unwrap_or_default();
    Ok(format!("{} verified {name} ({:?})", done.provider(), done.stored_status()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    for provider in ["nice", "mobileok", "portone_v1", "portone_v2"] {
        let figment = Figment::from(Serialized::defaults(json!({
            "store": {"url": "memory:"},
            "verification": {"default_provider": provider},
        })));
        let app = App::from_figment(figment).await?;
        println!("{}", verify_once(&app, "kim-mvno").await?);
    }
    Ok(())
}
