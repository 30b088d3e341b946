//! Configuration under attack: every secret, given a value of its own, is looked for in what
//! `bonin config` prints and in `Debug` of the loaded configuration; a secret of the wrong type is
//! not echoed in the error; a sandbox without API keys, which anyone on the machine may call,
//! refuses to spend real provider verifications.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_app::config::{LoadedConfig, StringEnv, describe, figment};

/// A file of its own in the temporary directory.
fn temp_file(contents: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "bonin-hostile-config-{}-{}.toml",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

fn vars(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// What `bonin config` prints (stdout and stderr), run as the binary with only `env`.
fn bonin_config(file: &Path, env: &[(String, String)]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_bonin"))
        .arg("config")
        .arg("--config")
        .arg(file)
        .env_clear()
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "bonin config must accept this configuration: {text}");
    text
}

/// Everything the configuration shows of itself: `bonin config`, `describe`, `Debug` (of the
/// environment layer too).
fn everything_shown(file: &Path, env: &[(String, String)]) -> String {
    let string_env = StringEnv::from_vars(env.iter().cloned());
    let loaded = LoadedConfig::load(figment(Some(file.to_path_buf()), string_env.clone()))
        .unwrap_or_else(|e| panic!("the configuration must load: {e}"));
    format!(
        "{}\n{:?}\n{:?}\n{:?}\n{:#?}\n{:?}\n{:?}",
        bonin_config(file, env),
        describe(&loaded.figment).unwrap(),
        loaded,
        loaded.config,
        loaded.config,
        loaded.config.store,
        string_env,
    )
}

fn assert_hidden(shown: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(!shown.contains(canary), "secret `{canary}` is shown:\n{shown}");
    }
}

/// An encryption key (`ID:BASE64`) whose Base64 text is recognisable.
fn key(id: u8, fill: &[u8; 32]) -> (String, String) {
    let text = STANDARD.encode(fill);
    (format!("{id}:{text}"), text)
}

#[test]
fn bonin_config_and_debug_never_show_a_secret() {
    let (key_a, key_a_text) = key(7, b"canary-store-encryption-key-0001");
    let (key_b, key_b_text) = key(8, b"canary-store-encryption-key-0002");
    let file = temp_file(
        r#"
profile = "production"
[server]
bind = "0.0.0.0:8080"
public_url = "https://id.shop.example"
api_keys = ["canary-api-key-in-the-file-0003"]
allowed_return_origins = ["https://shop.example"]
[store]
url = "postgres://bonin:canary-postgres-password-0004@db.internal:5432/bonin?sslmode=require"
share_tokens = true
[providers.nice]
client_id = "live-client"
client_secret = "canary-nice-client-secret-0005"
access_token = "canary-nice-access-token-0006"
[providers.mobileok]
key_file_base64 = "Y2FuYXJ5LW1vYmlsZW9rLWtleS1maWxlLTAwMDc="
key_password = "canary-mobileok-key-password-0008"
site_url = "https://shop.example"
[providers.portone_v1]
imp_key = "live-imp-key"
imp_secret = "canary-portone-imp-secret-0009"
merchant_code = "imp12345678"
channel_key = "channel-key-live-v1"
[providers.portone_v2]
api_secret = "canary-portone-v2-api-secret-0010"
store_id = "store-live"
channel_key = "channel-key-live-v2"
[providers.esignon]
company_id = "shop"
email = "hr@shop.example"
password = "canary-esignon-password-0011"
webhook_authorization = "canary-esignon-webhook-authorization-0012"
"#,
    );
    let env = vars(&[
        ("BONIN_SERVER__API_KEYS", "canary-api-key-in-env-0013,canary-api-key-in-env-0014".into()),
        ("BONIN_STORE__ENCRYPTION_KEYS", format!("{key_a},{key_b}")),
    ]);
    let shown = everything_shown(&file, &env);
    assert_hidden(
        &shown,
        &[
            "canary-api-key-in-the-file-0003",
            "canary-postgres-password-0004",
            "canary-nice-client-secret-0005",
            "canary-nice-access-token-0006",
            "Y2FuYXJ5LW1vYmlsZW9rLWtleS1maWxlLTAwMDc",
            "canary-mobileok-key-password-0008",
            "canary-portone-imp-secret-0009",
            "canary-portone-v2-api-secret-0010",
            "canary-esignon-password-0011",
            "canary-esignon-webhook-authorization-0012",
            "canary-api-key-in-env-0013",
            "canary-api-key-in-env-0014",
            &key_a_text,
            &key_b_text,
        ],
    );
    // Redacted, not dropped: the rest of the URL and the keys that are secret are still listed.
    assert!(shown.contains("postgres://bonin:<redacted>@db.internal:5432/bonin?sslmode=require"), "{shown}");
    for key in ["store.encryption_keys", "providers.nice.client_secret", "providers.esignon.webhook_authorization"] {
        assert!(shown.lines().any(|l| l.starts_with(key) && l.contains("<redacted>")), "{key}: {shown}");
    }
    let _ = std::fs::remove_file(file);
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn store_url_passwords_are_redacted_in_every_spelling() {
    for (url, canary, shown_as) in [
        (
            "redis://:canary-redis-password-0101@cache.internal:6379/0",
            "canary-redis-password-0101",
            "redis://:<redacted>@cache.internal:6379/0",
        ),
        (
            "rediss://bonin:canary-rediss-password-0102@cache.internal:6380/0",
            "canary-rediss-password-0102",
            "rediss://bonin:<redacted>@cache.internal:6380/0",
        ),
        (
            "postgres://bonin@db.internal/bonin?sslmode=require&password=canary-query-password-0103",
            "canary-query-password-0103",
            "postgres://bonin@db.internal/bonin?sslmode=require&password=<redacted>",
        ),
        (
            "postgres://bonin@db.internal/bonin?sslmode=require&password=canary@at-sign-0105&application_name=x",
            "at-sign-0105",
            "postgres://bonin@db.internal/bonin?sslmode=require&password=<redacted>&application_name=x",
        ),
        (
            "postgresql://bonin:canary@at-sign-0104@db.internal/bonin?sslmode=require",
            "at-sign-0104",
            "postgresql://bonin:<redacted>@db.internal/bonin?sslmode=require",
        ),
    ] {
        let file = temp_file(&format!(
            "[server]\napi_keys = [\"sandbox-key-long-enough-0001\"]\n[store]\nurl = \"{url}\"\nshare_tokens = true\n"
        ));
        let shown = everything_shown(&file, &[]);
        assert_hidden(&shown, &[canary]);
        assert!(shown.contains(shown_as), "{url} must be shown as {shown_as}:\n{shown}");
        let _ = std::fs::remove_file(file);
    }
}

#[test]
fn a_secret_of_the_wrong_type_is_not_echoed() {
    for (section, field) in [
        ("providers.nice", "client_secret"),
        ("providers.portone_v2", "api_secret"),
        ("providers.esignon", "webhook_authorization"),
        ("providers.mobileok", "key_password"),
    ] {
        let file = temp_file(&format!("[{section}]\n{field} = 918273645546372819\n"));
        let error = LoadedConfig::load(figment(Some(file.clone()), StringEnv::from_vars([]))).map(|_| ()).unwrap_err();
        let error = error.to_string();
        assert!(!error.contains("918273645546372819"), "{section}.{field}: {error}");
        let output = Command::new(env!("CARGO_BIN_EXE_bonin"))
            .args(["config", "--config"])
            .arg(&file)
            .env_clear()
            .output()
            .unwrap();
        assert!(!output.status.success());
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!text.contains("918273645546372819"), "{section}.{field}: {text}");
        let _ = std::fs::remove_file(file);
    }
}

/// The keys a provider section needs besides its endpoints.
fn section_env(provider: &str) -> Vec<(&'static str, String)> {
    let pairs: &[(&'static str, &str)] = match provider {
        "nice" => &[("BONIN_PROVIDERS__NICE__CLIENT_ID", "id"), ("BONIN_PROVIDERS__NICE__CLIENT_SECRET", "secret")],
        "mobileok" => &[
            ("BONIN_PROVIDERS__MOBILEOK__KEY_PASSWORD", "password"),
            ("BONIN_PROVIDERS__MOBILEOK__SITE_URL", "https://shop.example"),
        ],
        "portone_v1" => &[
            ("BONIN_PROVIDERS__PORTONE_V1__IMP_KEY", "key"),
            ("BONIN_PROVIDERS__PORTONE_V1__IMP_SECRET", "secret"),
            ("BONIN_PROVIDERS__PORTONE_V1__MERCHANT_CODE", "imp12345678"),
            ("BONIN_PROVIDERS__PORTONE_V1__CHANNEL_KEY", "channel"),
        ],
        "portone_v2" => &[
            ("BONIN_PROVIDERS__PORTONE_V2__API_SECRET", "secret"),
            ("BONIN_PROVIDERS__PORTONE_V2__STORE_ID", "store-x"),
            ("BONIN_PROVIDERS__PORTONE_V2__CHANNEL_KEY", "channel"),
        ],
        "esignon" => &[
            ("BONIN_PROVIDERS__ESIGNON__COMPANY_ID", "shop"),
            ("BONIN_PROVIDERS__ESIGNON__EMAIL", "hr@shop.example"),
            ("BONIN_PROVIDERS__ESIGNON__PASSWORD", "password"),
        ],
        other => panic!("{other}"),
    };
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

fn sandbox_load(env: &[(&str, String)]) -> Result<LoadedConfig, String> {
    let env =
        env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).chain([("BONIN_STORE__URL".into(), "memory:".into())]);
    LoadedConfig::load(figment(Some(PathBuf::from("/nonexistent/bonin.toml")), StringEnv::from_vars(env)))
        .map_err(|e| e.to_string())
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn a_keyless_sandbox_refuses_real_provider_endpoints() {
    for (provider, key, real) in [
        ("nice", "api_base", "https://svc.niceapi.co.kr:22001"),
        ("nice", "window_url", "https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb"),
        ("mobileok", "api_base", "https://cert-dir.mobile-ok.com"),
        ("mobileok", "window_base", "https://cert.mobile-ok.com"),
        ("portone_v1", "api_base", "https://api.iamport.kr"),
        ("portone_v1", "script_url", "https://cdn.iamport.kr/v1/iamport.js"),
        ("portone_v2", "api_base", "https://api.portone.io"),
        ("portone_v2", "script_url", "https://cdn.portone.io/v2/browser-sdk.js"),
        ("esignon", "api_base", "https://docs.esignon.net"),
    ] {
        let variable = format!("BONIN_PROVIDERS__{}__{}", provider.to_uppercase(), key.to_uppercase());
        let variable: &'static str = Box::leak(variable.into_boxed_str());
        let mut env = section_env(provider);
        // The provider's other endpoints point at a local simulator.
        for (other_key, local) in [
            ("API_BASE", "http://127.0.0.1:9300"),
            ("WINDOW_URL", "http://127.0.0.1:9300/w"),
            ("WINDOW_BASE", "http://127.0.0.1:9300"),
            ("SCRIPT_URL", "http://127.0.0.1:9300/s.js"),
        ] {
            let applies = match provider {
                "nice" => ["API_BASE", "WINDOW_URL"].contains(&other_key),
                "mobileok" => ["API_BASE", "WINDOW_BASE"].contains(&other_key),
                "portone_v1" | "portone_v2" => ["API_BASE", "SCRIPT_URL"].contains(&other_key),
                _ => other_key == "API_BASE",
            };
            let name = format!("BONIN_PROVIDERS__{}__{other_key}", provider.to_uppercase());
            if applies && name != variable {
                env.push((Box::leak(name.into_boxed_str()), local.to_owned()));
            }
        }
        env.push((variable, real.to_owned()));
        let error = sandbox_load(&env).map(|_| ()).unwrap_err();
        let full_key = format!("providers.{provider}.{key}");
        assert!(error.contains(&full_key) && error.contains("api_keys"), "{full_key} = {real}: {error}");
        assert!(error.contains(variable), "the source is named: {error}");

        // With API keys, the sandbox may talk to a real provider.
        env.push(("BONIN_SERVER__API_KEYS", "sandbox-key-long-enough-0001".into()));
        sandbox_load(&env).unwrap_or_else(|e| panic!("{full_key} with api_keys: {e}"));
        env.pop();

        // A local simulator is fine without keys.
        env.pop();
        env.push((variable, "http://localhost:9300".to_owned()));
        sandbox_load(&env).unwrap_or_else(|e| panic!("{full_key} on loopback: {e}"));
    }
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn a_keyless_sandbox_refuses_the_real_endpoint_left_beside_a_local_one() {
    // Setting one mobileOK endpoint keeps the configured values for both (the simulator is not
    // used), so the window left at its default is Dream's real one.
    let mut env = section_env("mobileok");
    env.push(("BONIN_PROVIDERS__MOBILEOK__API_BASE", "http://127.0.0.1:9300".into()));
    let error = sandbox_load(&env).map(|_| ()).unwrap_err();
    assert!(error.contains("providers.mobileok.window_base"), "{error}");
    // Sections without endpoints point at the simulators.
    for provider in ["nice", "mobileok", "portone_v1", "portone_v2", "esignon"] {
        sandbox_load(&section_env(provider)).unwrap_or_else(|e| panic!("{provider}: {e}"));
    }
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn a_sandbox_reaching_a_real_provider_needs_its_own_sealing_key_and_stays_on_loopback() {
    let with = |extra: &[(&'static str, &str)], store: &str| {
        let mut env = section_env("nice");
        env.push(("BONIN_PROVIDERS__NICE__API_BASE", "https://svc.niceapi.co.kr:22001".into()));
        env.push(("BONIN_SERVER__API_KEYS", "sandbox-key-long-enough-0001".into()));
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let env =
            env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).chain([("BONIN_STORE__URL".into(), store.into())]);
        LoadedConfig::load(figment(Some(PathBuf::from("/nonexistent/bonin.toml")), StringEnv::from_vars(env)))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let dir = std::env::temp_dir().join(format!("bonin-sealing-{}.db", std::process::id()));
    let sqlite = format!("sqlite://{}", dir.display());
    let error = with(&[], &sqlite).unwrap_err();
    assert!(error.contains("store.encryption_keys") && error.contains("public"), "{error}");
    let key = "1:Ym9uaW4tdGVzdC1zZWFsaW5nLWtleS0wMDAwMDAwMDA=";
    with(&[("BONIN_STORE__ENCRYPTION_KEYS", key)], &sqlite).unwrap();
    let error =
        with(&[("BONIN_STORE__ENCRYPTION_KEYS", key), ("BONIN_SERVER__BIND", "0.0.0.0:8080")], &sqlite).unwrap_err();
    assert!(error.contains("server.bind") && error.contains("production"), "{error}");
    // The memory store keeps nothing at rest.
    with(&[], "memory:").unwrap();
}
