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
    /// Run the REST API (the sandbox profile when nothing is configured).
    Serve,
    /// Run the provider simulators alone on a fixed loopback port.
    Sandbox {
        /// Port on 127.0.0.1.
        #[arg(long, default_value_t = 9300)]
        port: u16,
    },
    /// Run a whole sandbox verification in the terminal.
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
    /// Print the effective configuration, secrets redacted, with where each value came from.
    Config,
    /// mobileOK key files.
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
    app.serve(listener, shutdown_signal()).await.map_err(|e| Failure(1, format!("server error: {e}")))
}

#[cfg(feature = "sandbox")]
async fn sandbox(cli: &Cli, port: u16) -> Result<(), Failure> {
    let loaded = load(cli)?;
    bonin_app::init_tracing(&loaded.config.log);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let sandbox = bonin_app::wiring::start_sandbox(&loaded, addr).await.map_err(domain)?;
    println!("simulators on {}", sandbox.server.base_url());
    #[cfg(feature = "nice")]
    {
        let (id, _) = sandbox.nice.client();
        println!(
            "nice: api_base = {0}, window_url = {0}{1}, client_id = {id}",
            sandbox.server.base_url(),
            bonin_sandbox::nice::WINDOW_PATH
        );
    }
    #[cfg(feature = "portone")]
    {
        use bonin_sandbox::portone as sim;
        println!(
            "portone_v1: api_base = {0}, script_url = {0}{1}, imp_key = {2}, merchant_code = {3}, channel_key = {4}",
            sandbox.server.base_url(),
            sim::V1_SCRIPT_PATH,
            sim::SANDBOX_IMP_KEY,
            sim::SANDBOX_MERCHANT_CODE,
            sim::SANDBOX_V1_CHANNEL_KEY
        );
        println!(
            "portone_v2: api_base = {0}, script_url = {0}{1}, store_id = {2}, channel_key = {3}",
            sandbox.server.base_url(),
            sim::V2_SCRIPT_PATH,
            sim::SANDBOX_STORE_ID,
            sim::SANDBOX_V2_CHANNEL_KEY
        );
    }
    #[cfg(feature = "esignon")]
    {
        use bonin_sandbox::esignon as sim;
        println!(
            "esignon: api_base = {}, company_id = {}, email = {}, template = {} (sign: POST /_sandbox/esignon/sign)",
            sandbox.server.base_url(),
            sim::SANDBOX_COMPANY_ID,
            sim::SANDBOX_EMAIL,
            sim::SANDBOX_TEMPLATE_ID
        );
    }
    #[cfg(feature = "mobileok")]
    {
        let path = std::env::temp_dir().join("bonin-sandbox-mok_keyInfo.dat");
        std::fs::write(&path, sandbox.mobileok.key_file(bonin_app::wiring::SANDBOX_KEY_PASSWORD, true))
            .map_err(|e| Failure(1, format!("cannot write the sandbox key file: {e}")))?;
        println!(
            "mobileok: api_base = window_base = {}, key_file = {} (password \"{}\", crypto v1 or v2)",
            sandbox.server.base_url(),
            path.display(),
            bonin_app::wiring::SANDBOX_KEY_PASSWORD
        );
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
    Err(Failure(2, "this build has no simulators (feature `sandbox`)".into()))
}

fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    match chars.len() {
        0 => String::new(),
        1..=2 => "*".repeat(chars.len()),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

#[cfg(all(feature = "sandbox", feature = "nice"))]
async fn verify(cli: &Cli, provider: ProviderId, persona: &str) -> Result<(), Failure> {
    use bonin_domain::{Display, Launch, Method};
    let loaded = load(cli)?;
    if loaded.config.profile != config::ProfileName::Sandbox {
        return Err(Failure(2, "verify runs against the sandbox; set profile = \"sandbox\"".into()));
    }
    let app = bonin_app::wiring::build(&loaded).await.map_err(domain)?;
    let sandbox = app.sandbox.as_ref().ok_or_else(|| Failure(1, "the sandbox did not start".into()))?;
    let started = app
        .service
        .start(bonin_app::service::StartRequest {
            provider: Some(provider),
            method: Method::Window,
            return_url: Some(format!("{}/demo/done", app.public_url)),
            purpose: None,
            display: Display::Page,
            min_age: None,
            prefill: None,
            custom_data: None,
        })
        .await
        .map_err(domain)?;
    let id = started.verification.id().clone();
    println!("started {id} with {provider}");
    let launch = started.launch.ok_or_else(|| Failure(2, format!("{provider} has no window flow in this build")))?;
    // The data a browser SDK fetches before it opens the window (mobileOK's request info), for a
    // provider with such a step.
    let request_info = match &launch {
        Launch::Script(_) => match app.service.launch_data(&id).await {
            Ok(info) => Some(info),
            Err(bonin_domain::Error::NotFound) => None,
            Err(error) => return Err(domain(error)),
        },
        _ => None,
    };
    let played = bonin_sandbox::play::window(&sandbox.players(), &launch, request_info.as_deref(), persona)
        .map_err(|e| Failure(2, format!("the simulated window refused: {e}")))?;
    let callback = played.callback;
    println!("window completed as persona {persona}");
    app.service.complete(&id, &callback).await.map_err(domain)?;
    let record = app.service.get(&id).await.map_err(domain)?;
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
    Ok(())
}

#[cfg(not(all(feature = "sandbox", feature = "nice")))]
async fn verify(_: &Cli, _: ProviderId, _: &str) -> Result<(), Failure> {
    Err(Failure(2, "this build has no NICE simulator".into()))
}

async fn token(cli: &Cli, provider: ProviderId) -> Result<(), Failure> {
    let loaded = load(cli)?;
    let app = bonin_app::wiring::build(&loaded).await.map_err(domain)?;
    match provider {
        #[cfg(feature = "nice")]
        ProviderId::Nice => {
            let client = app.nice.as_ref().ok_or_else(|| Failure(2, "NICE is not configured".into()))?;
            let token = client.access_token().await.map_err(domain)?;
            let text = token.expose_secret();
            let shown: String = text.chars().take(4).collect();
            println!(
                "nice access token: {shown}… ({} characters; NICE tokens live about 50 years)",
                text.chars().count()
            );
            Ok(())
        }
        #[cfg(feature = "portone")]
        ProviderId::PortoneV1 => {
            let client = app.portone_v1.as_ref().ok_or_else(|| Failure(2, "PortOne V1 is not configured".into()))?;
            let token = client.access_token().await.map_err(domain)?;
            let text = token.expose_secret();
            let shown: String = text.chars().take(4).collect();
            println!(
                "portone_v1 access token: {shown}… ({} characters; PortOne tokens live 30 minutes and are shared per API key)",
                text.chars().count()
            );
            Ok(())
        }
        #[cfg(feature = "esignon")]
        ProviderId::Esignon => {
            let client = app.esignon.as_ref().ok_or_else(|| Failure(2, "eSignon is not configured".into()))?;
            let token = client.access_token().await.map_err(domain)?;
            let text = token.expose_secret();
            let shown: String = text.chars().take(4).collect();
            let expiry = match client.token_expiry() {
                Some(expiry) => format!(
                    "expires {} KST{}",
                    expiry
                        .expires_at
                        .to_offset(bonin_domain::KST)
                        .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
                        .unwrap_or_default(),
                    if expiry.from_expire_date { "" } else { " (expire_date unreadable: login + 30 days assumed)" }
                ),
                None => "expiry unknown (the token came from another instance)".to_owned(),
            };
            println!("esignon access token: {shown}… ({} characters), {expiry}", text.chars().count());
            Ok(())
        }
        #[cfg(feature = "portone")]
        ProviderId::PortoneV2 => {
            Err(Failure(2, "portone_v2 has no token: every call carries the API secret (`PortOne <secret>`)".into()))
        }
        other => Err(Failure(2, format!("{other} has no token in this build"))),
    }
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

#[cfg(feature = "mobileok")]
fn inspect_key_file(path: &std::path::Path) -> Result<(), Failure> {
    let password = std::env::var("BONIN_KEYFILE_PASSWORD")
        .map_err(|_| Failure(2, "set BONIN_KEYFILE_PASSWORD to the key file's password".into()))?;
    let key_file = bonin_adapters_mobileok::KeyFile::from_path(path, &bonin_domain::SecretString::from(password))
        .map_err(|e| Failure(1, e.to_string()))?;
    println!("{}: unlocked", path.display());
    println!("  ServiceId          {}", key_file.service_id());
    println!("  ClientPrivateKey   RSA-{} (PKCS#8)", key_file.client_key_bits());
    let generations = if key_file.has_server_public_key() {
        "present: crypto = \"v1\" or \"v2\""
    } else {
        "absent: crypto = \"v1\" only"
    };
    println!("  ServerPublicKey    {generations}");
    Ok(())
}

#[cfg(not(feature = "mobileok"))]
fn inspect_key_file(path: &std::path::Path) -> Result<(), Failure> {
    Err(Failure(2, format!("{}: this build has no mobileOK support", path.display())))
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
