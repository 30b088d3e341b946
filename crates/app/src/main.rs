//! The `bonin` command.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command line prints

use std::{path::PathBuf, process::ExitCode};

use bonin_app::config::{self, LoadedConfig, StringEnv};
use bonin_domain::ProviderId;
use clap::{Parser, Subcommand};

/// Mobile identity verification (휴대폰 본인확인) behind one safe API.
#[derive(Debug, Parser)]
#[command(name = "bonin", version, about)]
struct Cli {
    /// Configuration file (default: $BONIN_CONFIG, else ./bonin.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

fn provider(text: &str) -> Result<ProviderId, String> {
    text.parse::<ProviderId>().map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the REST API (the sandbox profile when nothing is configured, which needs a build with
    /// the `sandbox` feature).
    Serve,
    /// Run the provider simulators alone on a fixed loopback port (needs the `sandbox` feature).
    Sandbox {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 9300)]
        port: u16,
    },
    /// Run a whole sandbox verification in the terminal (needs the `sandbox` feature).
    Verify {
        /// Provider id.
        #[arg(long, value_parser = provider)]
        provider: ProviderId,
        /// Sandbox persona (hong, wilson, kim-mvno, lee-cp949).
        #[arg(long, default_value = "hong")]
        persona: String,
    },
    /// Issue a provider token with the configured credentials and show it masked.
    Token {
        /// Provider id.
        #[arg(long, value_parser = provider)]
        provider: ProviderId,
    },
    /// Check a provider's configuration against the provider: its token, then one request of its
    /// verification method (for an app approval also one status read). Nobody is asked to approve
    /// anything; a started verification is left to expire.
    Probe {
        /// Provider id.
        #[arg(long, value_parser = provider)]
        provider: ProviderId,
    },
    /// Print the effective configuration, secrets redacted, with where each value came from.
    Config,
    /// Key files a provider issues (mobileOK's `mok_keyInfo.dat`).
    Keyfile {
        #[command(subcommand)]
        action: KeyfileAction,
    },
}

#[derive(Debug, Subcommand)]
enum KeyfileAction {
    /// Unlock and check a key file without printing secrets.
    Inspect {
        /// Path to mok_keyInfo.dat (password in BONIN_KEYFILE_PASSWORD).
        path: PathBuf,
    },
}

/// A failure with its exit code.
struct Failure(u8, String);

fn figment(cli: &Cli) -> figment::Figment {
    let file = cli.config.clone().or_else(|| std::env::var_os("BONIN_CONFIG").map(PathBuf::from));
    config::figment(file, StringEnv::from_process())
}

fn load(cli: &Cli) -> Result<LoadedConfig, Failure> {
    LoadedConfig::load(figment(cli)).map_err(|e| Failure(3, format!("configuration: {e}")))
}

fn domain(error: bonin_domain::Error) -> Failure {
    Failure(1, error.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
}

async fn serve(cli: &Cli) -> Result<(), Failure> {
    let loaded = load(cli)?;
    bonin_app::init_tracing(&loaded.config.log);
    let app = bonin_app::wiring::build(&loaded).await.map_err(domain)?;
    let listener = tokio::net::TcpListener::bind(app.bind)
        .await
        .map_err(|e| Failure(1, format!("cannot listen on {}: {e}", app.bind)))?;
    let admin = match &app.admin {
        Some(admin) => Some(
            tokio::net::TcpListener::bind(admin.bind)
                .await
                .map_err(|e| Failure(1, format!("cannot listen on {} (server.admin_bind): {e}", admin.bind)))?,
        ),
        None => None,
    };
    if let Some(admin) = &admin {
        let at = admin.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tracing::info!(admin_bind = %at, "metrics, readiness and liveness on their own listener");
    }
    tracing::info!(
        profile = ?loaded.config.profile,
        bind = %app.bind,
        public_url = %app.public_url,
        max_connections = app.connections.max_connections,
        header_read_timeout_secs = app.connections.header_read_timeout.as_secs(),
        "bonin listening"
    );
    #[cfg(feature = "sandbox")]
    if let Some(sandbox) = &app.sandbox {
        tracing::info!(simulators = %sandbox.server.base_url(), "sandbox simulators running");
    }
    if loaded.demo_enabled() {
        tracing::info!("demo page at {}/", app.public_url);
    }
    app.serve_with_admin(listener, admin, shutdown_signal()).await.map_err(|e| Failure(1, format!("server error: {e}")))
}

#[cfg(feature = "sandbox")]
async fn sandbox(cli: &Cli, port: u16) -> Result<(), Failure> {
    let loaded = load(cli)?;
    bonin_app::init_tracing(&loaded.config.log);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let sandbox = bonin_app::wiring::start_sandbox(&loaded, addr).await.map_err(domain)?;
    println!("simulators on {}", sandbox.server.base_url());
    for line in sandbox.banner(&std::env::temp_dir()) {
        println!("{line}");
    }
    println!(
        "personas: {}/_sandbox/personas · faults: POST {}/_sandbox/faults",
        sandbox.server.base_url(),
        sandbox.server.base_url()
    );
    shutdown_signal().await;
    sandbox.server.shutdown().await;
    Ok(())
}

#[cfg(not(feature = "sandbox"))]
async fn sandbox(_: &Cli, _: u16) -> Result<(), Failure> {
    Err(Failure(2, config::NO_SIMULATORS.into()))
}

#[cfg(feature = "sandbox")]
fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    match chars.len() {
        0 => String::new(),
        1..=2 => "*".repeat(chars.len()),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

#[cfg(feature = "sandbox")]
async fn verify(cli: &Cli, provider: ProviderId, persona: &str) -> Result<(), Failure> {
    use bonin_domain::{Display, Method};
    let loaded = load(cli)?;
    if loaded.config.profile != config::ProfileName::Sandbox {
        return Err(Failure(2, "verify runs against the sandbox; set profile = \"sandbox\"".into()));
    }
    let registered =
        bonin_app::providers::find(provider).ok_or_else(|| Failure(2, format!("{provider} is not in this build")))?;
    let capabilities = registered.capabilities();
    let method = if capabilities.window {
        Method::Window
    } else if capabilities.app {
        Method::App
    } else {
        return Err(Failure(
            2,
            format!("{provider} has no window or app approval to play (it offers: {})", describe(&registered)),
        ));
    };
    let app = bonin_app::wiring::build(&loaded).await.map_err(domain)?;
    let sandbox = app.sandbox.as_ref().ok_or_else(|| Failure(1, "the sandbox did not start".into()))?;
    let started = app
        .service
        .start(
            bonin_app::service::StartRequest::new(method)
                .with_provider(provider)
                .with_return_url(format!("{}/demo/done", app.public_url))
                .with_display(Display::Page),
        )
        .await
        .map_err(domain)?;
    let id = started.verification.id().clone();
    println!("started {id} with {provider}");
    let launch = started.launch.ok_or_else(|| Failure(2, format!("{provider} has no window flow in this build")))?;
    let record = if method == Method::App {
        sandbox
            .approve(&launch, persona)
            .ok_or_else(|| Failure(2, format!("no simulator issued this {provider} approval")))?
            .map_err(|e| Failure(2, format!("the simulated app refused: {e}")))?;
        println!("approved in the simulated app as persona {persona}");
        // bonin learns the approval by polling, as it would from the provider.
        let mut record = app.service.poll(&id).await.map_err(domain)?;
        for _ in 0..10 {
            if record.stored_status().is_final() {
                break;
            }
            tokio::time::sleep(bonin_domain::MIN_POLL_INTERVAL).await;
            record = app.service.poll(&id).await.map_err(domain)?;
        }
        app.service.get(&id).await.map_err(domain)?
    } else {
        play_window(&app, sandbox, &id, &launch, persona).await?
    };
    print_outcome(&record);
    Ok(())
}

/// Plays a window launch as `persona` and hands its callback to the service.
#[cfg(feature = "sandbox")]
async fn play_window(
    app: &bonin_app::wiring::App,
    sandbox: &bonin_app::wiring::Sandbox,
    id: &bonin_domain::VerificationId,
    launch: &bonin_domain::Launch,
    persona: &str,
) -> Result<bonin_domain::Verification, Failure> {
    // What a provider's browser SDK would fetch from the launch URL, for providers that have it.
    let request_info = match app.service.launch_data(id).await {
        Ok(data) => Some(data),
        Err(bonin_domain::Error::NotFound) => None,
        Err(e) => return Err(domain(e)),
    };
    let played = bonin_sandbox::play::window(&sandbox.players(), launch, request_info.as_deref(), persona)
        .map_err(|e| Failure(2, format!("the simulated window refused: {e}")))?;
    let callback = played.callback;
    println!("window completed as persona {persona}");
    app.service.complete(id, &callback).await.map_err(domain)?;
    app.service.get(id).await.map_err(domain)
}

/// The outcome, personal data masked.
#[cfg(feature = "sandbox")]
fn print_outcome(record: &bonin_domain::Verification) {
    println!("status: {:?}", record.stored_status());
    if let Some(identity) = record.identity() {
        let show = |label: &str, value: Option<String>| {
            if let Some(value) = value {
                println!("  {label:<12} {value}");
            }
        };
        show("name", identity.name.as_ref().map(|n| mask(n.expose())));
        show("birth_date", identity.birth_date.map(|b| format!("{}-**-**", b.expose().year())));
        show("gender", identity.gender.map(|g| format!("{g:?}").to_lowercase()));
        show("nationality", identity.nationality.map(|n| format!("{n:?}").to_lowercase()));
        show(
            "phone",
            identity.phone.as_ref().map(|p| {
                let digits: Vec<char> = p.expose().chars().collect();
                let head: String = digits.iter().take(3).collect();
                let tail: String = digits.iter().skip(digits.len().saturating_sub(4).max(3)).collect();
                format!("{head}-****-{tail}")
            }),
        );
        show("carrier", identity.carrier.map(|c| format!("{c:?}")));
        show("ci", identity.ci.as_ref().map(|c| format!("{}…", c.expose().chars().take(6).collect::<String>())));
        show("di", identity.di.as_ref().map(|d| format!("{}…", d.expose().chars().take(6).collect::<String>())));
    }
}

#[cfg(not(feature = "sandbox"))]
async fn verify(_: &Cli, _: ProviderId, _: &str) -> Result<(), Failure> {
    Err(Failure(2, config::NO_SIMULATORS.into()))
}

/// What a provider offers, in words.
#[cfg(feature = "sandbox")]
fn describe(provider: &bonin_app::providers::Registered) -> String {
    let capabilities = provider.capabilities();
    let mut offers = capabilities.methods();
    if capabilities.signing {
        offers.push("signing");
    }
    offers.join(", ")
}

async fn token(cli: &Cli, provider: ProviderId) -> Result<(), Failure> {
    let loaded = load(cli)?;
    if bonin_app::providers::find(provider).is_none() {
        return Err(Failure(2, format!("{provider} is not in this build")));
    }
    let app = bonin_app::wiring::build(&loaded).await.map_err(domain)?;
    let built = app.provider(provider).ok_or_else(|| Failure(2, format!("{provider} is not configured")))?;
    let holder = built.tokens.as_ref().ok_or_else(|| {
        Failure(2, format!("{provider} holds no token: its calls carry the configured credentials themselves"))
    })?;
    let held = holder.current_token().await.map_err(domain)?;
    let text = held.token.expose_secret();
    let shown: String = text.chars().take(4).collect();
    println!("{provider} access token: {shown}… ({} characters; {})", text.chars().count(), held.lifetime);
    Ok(())
}

async fn probe(cli: &Cli, provider: ProviderId) -> Result<(), Failure> {
    use bonin_domain::{Display, Method};
    let loaded = load(cli)?;
    let registered =
        bonin_app::providers::find(provider).ok_or_else(|| Failure(2, format!("{provider} is not in this build")))?;
    let app = bonin_app::wiring::build(&loaded).await.map_err(domain)?;
    let built = app.provider(provider).ok_or_else(|| Failure(2, format!("{provider} is not configured")))?;
    #[cfg(feature = "sandbox")]
    if let Some(counterpart) = bonin_sandbox::counterpart::of(provider)
        && app.sandbox.as_ref().is_some_and(|s| s.simulating(provider).is_some())
    {
        let prefix = format!("providers.{provider}");
        let explicit = |key: &str| loaded.is_explicit(&format!("{prefix}.{key}"));
        if counterpart.stands_in(provider, "api_base", &explicit) {
            println!(
                "against the sandbox's simulator ({prefix}.api_base is not set): set the provider's endpoints to probe the provider itself"
            );
        }
    }
    if let Some(tokens) = &built.tokens {
        let held = tokens.current_token().await.map_err(|e| Failure(1, format!("token: {e}")))?;
        println!("token: ok ({} characters; {})", held.token.expose_secret().chars().count(), held.lifetime);
    }
    let capabilities = registered.capabilities();
    let method = if capabilities.app {
        Method::App
    } else if capabilities.window {
        Method::Window
    } else {
        println!("{provider} verifies no identities: nothing more to probe");
        return Ok(());
    };
    let started = app
        .service
        .start({
            let mut request =
                bonin_app::service::StartRequest::new(method).with_provider(provider).with_display(Display::Popup);
            // An app approval returns nowhere; a window needs a return URL the configuration allows.
            request.return_url = (method == Method::Window).then(|| format!("{}/demo/done", app.public_url));
            request
        })
        .await
        .map_err(|e| Failure(1, format!("request: {e}")))?;
    let id = started.verification.id().clone();
    let kind = started.launch.as_ref().map_or("none", |launch| match launch {
        bonin_domain::Launch::Script(script) => script.kind(),
        _ => "form",
    });
    println!("request: ok (verification {id}, launch {kind})");
    if method == Method::App {
        let polled = app.service.poll(&id).await.map_err(|e| Failure(1, format!("status: {e}")))?;
        let state = polled.app().map_or("requested", |a| a.state.as_str());
        println!("status: ok ({state})");
    }
    Ok(())
}

fn show_config(cli: &Cli) -> Result<(), Failure> {
    let figment = figment(cli);
    LoadedConfig::load(figment.clone()).map_err(|e| Failure(3, format!("configuration: {e}")))?;
    let lines = config::describe(&figment).map_err(|e| Failure(3, e.to_string()))?;
    let width = lines.iter().map(|(k, v, _)| k.len() + v.len() + 3).max().unwrap_or(0);
    for (key, value, source) in lines {
        let left = format!("{key} = {value}");
        println!("{left:<width$}  # {source}");
    }
    Ok(())
}

fn inspect_key_file(path: &std::path::Path) -> Result<(), Failure> {
    let password = std::env::var("BONIN_KEYFILE_PASSWORD")
        .map_err(|_| Failure(2, "set BONIN_KEYFILE_PASSWORD to the key file's password".into()))?;
    let password = bonin_domain::SecretString::from(password);
    let mut tried = Vec::new();
    for provider in bonin_app::providers::registered() {
        match provider.inspect_key_file(path, &password) {
            None => {}
            Some(Ok(lines)) => {
                println!("{}: unlocked ({} key file)", path.display(), provider.id());
                for line in lines {
                    println!("  {line}");
                }
                return Ok(());
            }
            Some(Err(e)) => tried.push(format!("{}: {e}", provider.id())),
        }
    }
    if tried.is_empty() {
        return Err(Failure(2, format!("{}: no provider of this build issues key files", path.display())));
    }
    Err(Failure(1, tried.join("; ")))
}

#[tokio::main]
async fn main() -> ExitCode {
    bonin_app::panic::install_hook();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve => serve(&cli).await,
        Command::Sandbox { port } => sandbox(&cli, *port).await,
        Command::Verify { provider, persona } => verify(&cli, *provider, persona).await,
        Command::Token { provider } => token(&cli, *provider).await,
        Command::Probe { provider } => probe(&cli, *provider).await,
        Command::Config => show_config(&cli),
        Command::Keyfile { action: KeyfileAction::Inspect { path } } => inspect_key_file(path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(code, message)) => {
            eprintln!("bonin: {message}");
            ExitCode::from(code)
        }
    }
}
