//! Configuration layering, env strings, provenance and profile rules, each in a `figment::Jail`
//! (its own directory and environment).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose
#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error

use bonin_app::config::{LoadedConfig, ProfileName, StringEnv, figment};
use bonin_domain::{ExposeSecret, ProviderId};
use figment::Jail;

fn load() -> Result<LoadedConfig, String> {
    LoadedConfig::load(figment(None, StringEnv::from_process())).map_err(|e| e.to_string())
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn no_configuration_at_all_is_the_sandbox_on_loopback() {
    Jail::expect_with(|_| {
        let loaded = load().unwrap();
        assert_eq!(loaded.config.profile, ProfileName::Sandbox);
        assert_eq!(loaded.config.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(loaded.public_url(), "http://127.0.0.1:8080");
        assert_eq!(loaded.config.verification.default_provider, ProviderId::Nice);
        assert_eq!(loaded.config.store.url, "sqlite://bonin.db");
        assert!(loaded.demo_enabled());
        Ok(())
    });
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn file_overrides_defaults_and_environment_overrides_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "bonin.toml",
            "[server]\nbind = \"127.0.0.1:9000\"\npii_retention_secs = 300\n[log]\nlevel = \"debug\"\n",
        )?;
        jail.set_env("BONIN_SERVER__PII_RETENTION_SECS", "120");
        let loaded = load().unwrap();
        assert_eq!(loaded.config.server.bind.port(), 9000);
        assert_eq!(loaded.config.server.pii_retention_secs, 120, "numbers are read from env strings");
        assert_eq!(loaded.config.log.level, "debug");
        Ok(())
    });
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn bonin_config_names_another_file() {
    Jail::expect_with(|jail| {
        jail.create_file("elsewhere.toml", "[server]\nbind = \"127.0.0.1:9100\"\n")?;
        let loaded = LoadedConfig::load(figment(Some("elsewhere.toml".into()), StringEnv::from_process())).unwrap();
        assert_eq!(loaded.config.server.bind.port(), 9100);
        Ok(())
    });
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn env_values_stay_strings() {
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_ID", "0042");
        jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_SECRET", "0123456789");
        jail.set_env("BONIN_SERVER__API_KEYS", "0000111122223333444455556666, key-two-key-two-key-two");
        let loaded = load().unwrap();
        let nice = loaded.section_as::<bonin_adapters_nice::NiceConfig>(bonin_domain::ProviderId::Nice).unwrap();
        assert_eq!(nice.client_id, "0042");
        assert_eq!(nice.client_secret.expose_secret(), "0123456789");
        let keys: Vec<&str> = loaded.config.server.api_keys.iter().map(|k| k.expose_secret()).collect();
        assert_eq!(keys, ["0000111122223333444455556666", "key-two-key-two-key-two"]);
        Ok(())
    });
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn errors_name_the_key_and_where_the_value_came_from() {
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_SERVER__PUBLIC_URL", "ftp://nope");
        let error = load().unwrap_err();
        assert!(error.contains("server.public_url") && error.contains("BONIN_SERVER__PUBLIC_URL"), "{error}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("bonin.toml", "[server]\nallowed_return_origins = [\"https://shop.example/path\"]\n")?;
        let error = load().unwrap_err();
        assert!(error.contains("server.allowed_return_origins") && error.contains("bonin.toml"), "{error}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_SERVER__BIND", "not an address");
        let error = load().unwrap_err();
        assert!(error.contains("BONIN_SERVER__BIND"), "{error}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_STORE__URLL", "memory:");
        let error = load().unwrap_err();
        assert!(error.contains("urll") && error.contains("BONIN_STORE__URLL"), "{error}");
        Ok(())
    });
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn secrets_never_appear_in_errors_or_debug() {
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_ID", "bad:id");
        jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_SECRET", "very-secret-value-123");
        let error = load().unwrap_err();
        assert!(error.contains("client_id") && !error.contains("very-secret-value-123"), "{error}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_ID", "good-id");
        jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_SECRET", "very-secret-value-123");
        jail.set_env("BONIN_SERVER__API_KEYS", "api-key-secret-value-0000");
        let loaded = load().unwrap();
        let debug = format!("{loaded:?}");
        assert!(!debug.contains("very-secret-value-123") && !debug.contains("api-key-secret-value-0000"));
        let described = bonin_app::config::describe(&loaded.figment).unwrap();
        let text = format!("{described:?}");
        assert!(!text.contains("very-secret-value-123") && !text.contains("api-key-secret-value-0000"));
        assert!(described.iter().any(|(k, v, s)| k == "providers.nice.client_secret"
            && v == "<redacted>"
            && s.contains("BONIN_PROVIDERS__NICE__CLIENT_SECRET")));
        Ok(())
    });
}

const PRODUCTION: &str = r#"
profile = "production"
[server]
bind = "0.0.0.0:8080"
public_url = "https://id.shop.example"
api_keys = ["a-production-key-of-enough-length"]
allowed_return_origins = ["https://shop.example"]
[store]
url = "postgres://bonin@db.internal/bonin?sslmode=require"
encryption_keys = ["1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
[providers.nice]
client_id = "live-client"
client_secret = "live-secret"
"#;

#[test]
fn a_complete_production_config_loads() {
    Jail::expect_with(|jail| {
        jail.create_file("bonin.toml", PRODUCTION)?;
        let loaded = load().unwrap();
        assert_eq!(loaded.config.profile, ProfileName::Production);
        assert!(!loaded.demo_enabled());
        assert_eq!(
            loaded.section_as::<bonin_adapters_nice::NiceConfig>(bonin_domain::ProviderId::Nice).unwrap().api_base,
            "https://svc.niceapi.co.kr:22001"
        );
        Ok(())
    });
}

fn production_refuses(tweak: &str, value: &str, expected_key: &str) {
    Jail::expect_with(|jail| {
        jail.create_file("bonin.toml", PRODUCTION)?;
        jail.set_env(tweak, value);
        let error = load().unwrap_err();
        assert!(error.contains(expected_key), "{tweak}={value}: {error}");
        assert!(error.contains(tweak), "the source is named: {error}");
        Ok(())
    });
}

#[test]
fn production_refuses_empty_api_keys() {
    production_refuses("BONIN_SERVER__API_KEYS", "", "server.api_keys");
}

#[test]
fn production_refuses_a_non_https_public_url() {
    production_refuses("BONIN_SERVER__PUBLIC_URL", "http://id.shop.example", "server.public_url");
}

#[test]
fn production_refuses_empty_allowed_return_origins() {
    production_refuses("BONIN_SERVER__ALLOWED_RETURN_ORIGINS", "", "server.allowed_return_origins");
}

#[test]
fn production_refuses_sandbox_endpoints() {
    production_refuses("BONIN_PROVIDERS__NICE__API_BASE", "http://127.0.0.1:9300", "providers.nice.api_base");
    production_refuses(
        "BONIN_PROVIDERS__NICE__WINDOW_URL",
        "https://localhost:9300/CheckPlusSafeModel/service.cb",
        "providers.nice.window_url",
    );
}

#[test]
fn production_refuses_the_demo_page() {
    production_refuses("BONIN_SERVER__DEMO", "true", "server.demo");
}

#[test]
fn production_refuses_a_store_reached_without_tls_over_the_network() {
    for url in [
        "postgres://bonin@db.internal/bonin",
        "postgres://bonin:pg-password-never-shown@db.internal/bonin?sslmode=disable",
        "postgres://bonin@db.internal/bonin?sslmode=prefer",
        "postgresql://bonin@10.0.0.5:5432/bonin",
        "postgres://bonin@127.0.0.1,db.internal/bonin",
        "postgres://bonin@localhost/bonin?hostaddr=10.0.0.5",
        "redis://:redis-password-never-shown@cache.internal:6379/0",
    ] {
        Jail::expect_with(|jail| {
            jail.create_file("bonin.toml", PRODUCTION)?;
            jail.set_env("BONIN_STORE__URL", url);
            let error = load().unwrap_err();
            assert!(error.contains("store.url") && error.contains("BONIN_STORE__URL"), "{url}: {error}");
            assert!(!error.contains("never-shown"), "{error}");
            Ok(())
        });
    }
    for url in [
        "postgres://bonin@db.internal/bonin?sslmode=require",
        "postgres://bonin@db.internal/bonin?sslmode=verify-full",
        "postgres://bonin@db.internal/bonin?application_name=bonin&sslmode=verify-ca",
        "postgres://bonin@127.0.0.1/bonin",
        "postgres://bonin@localhost:5433/bonin?sslmode=disable",
        "postgres://bonin@[::1]/bonin",
        "postgres:///bonin?host=/var/run/postgresql",
        "rediss://:password@cache.internal:6380/0",
        "redis://127.0.0.1:6379",
    ] {
        Jail::expect_with(|jail| {
            jail.create_file("bonin.toml", PRODUCTION)?;
            jail.set_env("BONIN_STORE__URL", url);
            load().map_err(|e| figment::Error::from(format!("{url}: {e}")))?;
            Ok(())
        });
    }
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn rediss_is_a_shared_store() {
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_STORE__URL", "rediss://cache.internal:6380");
        jail.set_env("BONIN_STORE__SHARE_TOKENS", "true");
        jail.set_env("BONIN_STORE__TLS_CA_FILE", "/etc/ssl/certs/ca-certificates.crt");
        load().unwrap();
        Ok(())
    });
}

#[test]
fn production_refuses_a_persistent_store_without_encryption_keys() {
    production_refuses("BONIN_STORE__ENCRYPTION_KEYS", "", "store.encryption_keys");
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn sharing_tokens_needs_a_shared_store() {
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_STORE__URL", "sqlite://bonin.db");
        jail.set_env("BONIN_STORE__SHARE_TOKENS", "true");
        let error = load().unwrap_err();
        assert!(error.contains("store.share_tokens"), "{error}");
        Ok(())
    });
}

#[test]
fn production_refuses_short_api_keys() {
    production_refuses("BONIN_SERVER__API_KEYS", "short", "server.api_keys");
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn the_sandbox_without_keys_binds_to_loopback_only() {
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_SERVER__BIND", "0.0.0.0:8080");
        let error = load().unwrap_err();
        assert!(error.contains("server.bind"), "{error}");
        jail.set_env("BONIN_SERVER__API_KEYS", "sandbox-key-long-enough-0001");
        load().unwrap();
        Ok(())
    });
}

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn test_variables_and_the_config_path_are_not_settings() {
    Jail::expect_with(|jail| {
        jail.set_env("BONIN_TEST_POSTGRES_URL", "postgres://x");
        jail.set_env("BONIN_CONFIG", "bonin.toml");
        load().unwrap();
        Ok(())
    });
}

/// Toss's published test key (the simulator's and the vectors'), a well-formed public key.
const TOSS_TEST_PUBLIC_KEY: &str = include_str!("../../adapters-toss/tests/data/toss/test_public_key.b64");

#[test]
#[cfg_attr(not(feature = "sandbox"), ignore = "loads the sandbox profile: needs the `sandbox` feature")]
fn every_documented_key_is_a_real_setting() {
    for setting in bonin_app::config::reference() {
        Jail::expect_with(|jail| {
            let env = format!("BONIN_{}", setting.key.replace('.', "__").to_uppercase());
            // A value of the right kind for each key; unknown keys would be refused by name.
            let value = match setting.key.as_str() {
                "profile" => "sandbox",
                "server.bind" => "127.0.0.1:8081",
                "server.admin_bind" => "127.0.0.1:9091",
                "server.public_url" => "http://127.0.0.1:8081",
                "server.api_keys" => "a-documented-key-0000",
                "server.allowed_return_origins" => "https://shop.example",
                "server.demo" => "true",
                "store.url" => "memory:",
                "store.pool_size" => "8",
                "store.share_tokens" => "false",
                "store.tls_ca_file" => "/etc/ssl/certs/ca-certificates.crt",
                "store.encryption_keys" => "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "verification.default_provider" => "nice",
                "log.format" => "json",
                "sandbox.bind" => "127.0.0.1:0",
                "log.level" => "warn",
                "providers.nice.auth_type" => "M",
                "providers.nice.callback_method" => "get",
                "providers.nice.window_form_method" => "post",
                "providers.nice.revoke_scheme" => "bearer",
                "providers.nice.api_base" | "providers.nice.window_url" => "https://example.test",
                "providers.mobileok.api_base" | "providers.mobileok.window_base" => "https://example.test",
                "providers.mobileok.crypto" => "v2",
                "providers.mobileok.token_endpoint" => "v1",
                "providers.mobileok.site_url" => "https://shop.example",
                "providers.nice.app_return_schemes" => "bonin-app",
                "providers.mobileok.usage_code" => "01001",
                "providers.nice.product_id" => "2101979031",
                "providers.portone_v1.api_base" | "providers.portone_v1.script_url" => "https://example.test",
                "providers.portone_v2.api_base" | "providers.portone_v2.script_url" => "https://example.test",
                "providers.portone_v1.tier" => "AB1",
                "providers.esignon.email" => "hr@example.test",
                "providers.esignon.lang" => "en",
                "providers.esignon.api_base" => "https://example.test",
                "providers.esignon.webhook_authorization" => "a-long-enough-callback-authorization",
                "providers.esignon.embed" => "false",
                "providers.portone_v1.delete_after_read" => "false",
                "providers.portone_v1.kcp_bypass_as_json_string" => "true",
                "providers.portone_v1.kcp_media_type" | "providers.portone_v2.kcp_media_type" => "MC02",
                "providers.portone_v1.kcp_sms_message" | "providers.portone_v2.kcp_sms_message" => "[000000]",
                "providers.toss.oauth_base" | "providers.toss.api_base" => "https://example.test",
                "providers.toss.path_family" => "auth",
                "providers.toss.trigger_type" => "PUSH",
                "providers.toss.request_url" => "https://shop.example/back",
                "providers.toss.public_key_base64" => TOSS_TEST_PUBLIC_KEY.trim(),
                "events.endpoints" => {
                    r#"[{"url": "http://127.0.0.1:9/hook", "secret": "whsec_ZG9jdW1lbnRlZC1ldmVudHMtc2VjcmV0LTAwMDA="}]"#
                }
                "events.retry_base_ms" => "250",
                "providers.toss.timeout_secs" => "30",
                key if key.ends_with("_secs") || key.ends_with("_bytes") => "4096",
                key if key.starts_with("limits.") || key == "server.max_connections" => "64",
                _ => "documented-value",
            };
            jail.set_env(&env, value);
            if value.starts_with("https://example.test") {
                // A real endpoint in the sandbox profile needs API keys and a sealing key of its own.
                jail.set_env("BONIN_SERVER__API_KEYS", "a-documented-key-0000");
                jail.set_env("BONIN_STORE__ENCRYPTION_KEYS", "1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
            }
            if setting.key.starts_with("providers.mobileok.") && setting.key != "providers.mobileok.key_password" {
                jail.set_env("BONIN_PROVIDERS__MOBILEOK__KEY_PASSWORD", "documented-password");
            }
            if setting.key.starts_with("providers.mobileok.") && setting.key != "providers.mobileok.site_url" {
                jail.set_env("BONIN_PROVIDERS__MOBILEOK__SITE_URL", "https://shop.example");
            }
            if setting.key.starts_with("providers.nice.") {
                jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_ID", "documented-id");
                jail.set_env("BONIN_PROVIDERS__NICE__CLIENT_SECRET", "documented-secret");
            }
            // The other required keys of a PortOne section, unless this one is being set.
            let required: &[(&str, &str)] = match setting.key.split('.').nth(1) {
                Some("portone_v1") => &[
                    ("imp_key", "documented-key"),
                    ("imp_secret", "documented-secret"),
                    ("merchant_code", "imp00000001"),
                    ("channel_key", "documented-channel"),
                ],
                Some("esignon") => &[
                    ("company_id", "documented-company"),
                    ("email", "hr@example.test"),
                    ("password", "documented-password"),
                ],
                Some("portone_v2") => &[
                    ("api_secret", "documented-secret"),
                    ("store_id", "store-documented"),
                    ("channel_key", "documented-channel"),
                ],
                Some("toss") => &[("client_id", "test_documented"), ("client_secret", "documented-secret")],
                _ => &[],
            };
            let section = setting.key.rsplit_once('.').map_or("", |(s, _)| s);
            for (field, value) in required {
                if !setting.key.ends_with(&format!(".{field}")) {
                    jail.set_env(
                        format!("BONIN_{}__{}", section.replace('.', "__").to_uppercase(), field.to_uppercase()),
                        value,
                    );
                }
            }
            load().map_err(|e| figment::Error::from(format!("{}: {e}", setting.key)))?;
            Ok(())
        });
    }
}

const PORTONE: &str = r#"
[providers.portone_v1]
imp_key = "live-imp-key"
imp_secret = "live-imp-secret-value"
merchant_code = "imp12345678"
channel_key = "channel-key-live-v1"
[providers.portone_v2]
api_secret = "live-v2-api-secret-value"
store_id = "store-live"
channel_key = "channel-key-live-v2"
"#;

#[test]
fn portone_sections_load_with_their_defaults_and_secrets_stay_redacted() {
    Jail::expect_with(|jail| {
        jail.create_file("bonin.toml", &format!("{PRODUCTION}{PORTONE}"))?;
        jail.set_env("BONIN_VERIFICATION__DEFAULT_PROVIDER", "portone_v2");
        let loaded = load().unwrap();
        let v1 =
            loaded.section_as::<bonin_adapters_portone::PortoneV1Config>(bonin_domain::ProviderId::PortoneV1).unwrap();
        assert!(v1.delete_after_read);
        assert_eq!(v1.api_base, "https://api.iamport.kr");
        let v2 =
            loaded.section_as::<bonin_adapters_portone::PortoneV2Config>(bonin_domain::ProviderId::PortoneV2).unwrap();
        assert_eq!((v2.api_base.as_str(), v2.timeout_secs), ("https://api.portone.io", 60));
        let text = format!("{:?} {:?}", loaded, bonin_app::config::describe(&loaded.figment).unwrap());
        assert!(!text.contains("live-imp-secret-value") && !text.contains("live-v2-api-secret-value"), "{text}");
        Ok(())
    });
}

#[test]
fn production_refuses_sandbox_portone_endpoints_and_an_unconfigured_default() {
    for (key, value, expected) in [
        ("BONIN_PROVIDERS__PORTONE_V1__API_BASE", "http://127.0.0.1:9300", "providers.portone_v1.api_base"),
        (
            "BONIN_PROVIDERS__PORTONE_V2__SCRIPT_URL",
            "https://localhost:9300/v2/browser-sdk.js",
            "providers.portone_v2.script_url",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.create_file("bonin.toml", &format!("{PRODUCTION}{PORTONE}"))?;
            jail.set_env(key, value);
            let error = load().unwrap_err();
            assert!(error.contains(expected), "{error}");
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.create_file("bonin.toml", PRODUCTION)?;
        jail.set_env("BONIN_VERIFICATION__DEFAULT_PROVIDER", "portone_v1");
        let error = load().unwrap_err();
        assert!(error.contains("providers.portone_v1"), "{error}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("bonin.toml", &format!("{PRODUCTION}{PORTONE}"))?;
        jail.set_env("BONIN_PROVIDERS__PORTONE_V1__CHANNEL_KEY", "");
        jail.set_env("BONIN_PROVIDERS__PORTONE_V1__TIER", "toolong");
        let error = load().unwrap_err();
        assert!(error.contains("providers.portone_v1"), "{error}");
        Ok(())
    });
}

#[test]
fn esignon_loads_and_a_short_callback_authorization_is_refused() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "bonin.toml",
            &format!("{PRODUCTION}\n[providers.esignon]\ncompany_id = \"shop\"\nemail = \"hr@shop.example\"\npassword = \"member-password-value\"\nclient_id = \"old\"\n"),
        )?;
        let loaded = load().unwrap();
        let esignon =
            loaded.section_as::<bonin_adapters_esignon::EsignonConfig>(bonin_domain::ProviderId::Esignon).unwrap();
        assert_eq!((esignon.api_base.as_str(), esignon.token_margin_secs), ("https://docs.esignon.net", 86_400));
        let text = format!("{:?} {:?}", loaded, bonin_app::config::describe(&loaded.figment).unwrap());
        assert!(!text.contains("member-password-value"), "{text}");
        jail.set_env("BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION", "short");
        let error = load().unwrap_err();
        assert!(error.contains("providers.esignon.webhook_authorization") && !error.contains("short\""), "{error}");
        jail.set_env("BONIN_PROVIDERS__ESIGNON__WEBHOOK_AUTHORIZATION", "a-long-enough-callback-authorization");
        jail.set_env("BONIN_PROVIDERS__ESIGNON__API_BASE", "http://127.0.0.1:9");
        let error = load().unwrap_err();
        assert!(error.contains("providers.esignon.api_base"), "{error}");
        Ok(())
    });
}

const EVENT_SECRET: &str = "whsec_ZXZlbnQtc2VjcmV0LWNhbmFyeS0wMDAwMDAwMDA=";

#[test]
fn event_endpoint_secrets_never_appear_in_debug_or_bonin_config() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "bonin.toml",
            &format!(
                "[[events.endpoints]]\nurl = \"https://hooks.shop.example/services/path-token-canary?code=url-token-canary\"\nsecret = \"{EVENT_SECRET}\"\n"
            ),
        )?;
        let loaded = load().unwrap();
        assert_eq!(loaded.config.events.endpoints.len(), 1);
        let debug = format!("{loaded:?}");
        let described = bonin_app::config::describe(&loaded.figment).unwrap();
        let text = format!("{described:?}");
        for shown in [&debug, &text] {
            assert!(!shown.contains(EVENT_SECRET) && !shown.contains("ZXZlbnQtc2Vj"), "{shown}");
            assert!(!shown.contains("url-token-canary") && !shown.contains("path-token-canary"), "{shown}");
        }
        assert!(
            described
                .iter()
                .any(|(k, v, _)| k == "events.endpoints[0].url" && v == "\"https://hooks.shop.example/<redacted>\""),
            "{described:?}"
        );
        assert!(
            described
                .iter()
                .any(|(k, v, s)| k == "events.endpoints[0].secret" && v == "<redacted>" && s.contains("bonin.toml")),
            "{described:?}"
        );
        Ok(())
    });
}

#[test]
fn bad_event_endpoints_are_refused() {
    let refused = |file: String, expected: &str| {
        Jail::expect_with(|jail| {
            jail.create_file("bonin.toml", &file)?;
            let error = load().unwrap_err();
            assert!(error.contains(expected) && !error.contains(EVENT_SECRET), "{error}");
            Ok(())
        });
    };
    let endpoint = |url: &str, secret: &str| format!("[[events.endpoints]]\nurl = \"{url}\"\nsecret = \"{secret}\"\n");
    refused(endpoint("not a url", EVENT_SECRET), "events.endpoints");
    refused(endpoint("https://user:pw@hooks.example/x", EVENT_SECRET), "events.endpoints");
    refused(endpoint("https://hooks.example/x", "whsec_not base64!"), "events.endpoints");
    // Too short for a signing key (one byte; then 23), unpadded, or without the prefix: receivers'
    // libraries read only padded `whsec_` secrets, and a short key is guessable.
    refused(endpoint("https://hooks.example/x", "whsec_QQ=="), "at least 24");
    refused(endpoint("https://hooks.example/x", "whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="), "at least 24");
    refused(endpoint("https://hooks.example/x", EVENT_SECRET.trim_end_matches('=')), "padded");
    refused(endpoint("https://hooks.example/x", EVENT_SECRET.trim_start_matches("whsec_")), "whsec_");
    refused(
        format!("{}{}", endpoint("https://a.example/x", EVENT_SECRET), endpoint("https://a.example/x", EVENT_SECRET)),
        "once",
    );
    refused(
        format!("[events]\ngive_up_after_secs = 0\n{}", endpoint("https://a.example/x", EVENT_SECRET)),
        "events.give_up_after_secs",
    );
    refused(format!("{PRODUCTION}\n{}", endpoint("http://hooks.shop.example/x", EVENT_SECRET)), "https://");
}

#[test]
fn event_endpoints_from_the_environment_are_json_and_redacted() {
    Jail::expect_with(|jail| {
        jail.set_env(
            "BONIN_EVENTS__ENDPOINTS",
            format!(r#"[{{"url": "https://hooks.shop.example/b", "secret": "{EVENT_SECRET}"}}]"#),
        );
        let loaded = load().unwrap();
        assert_eq!(loaded.config.events.endpoints[0].url, "https://hooks.shop.example/b");
        let described = bonin_app::config::describe(&loaded.figment).unwrap();
        assert!(!format!("{described:?}").contains("ZXZlbnQtc2Vj"), "{described:?}");
        assert!(described.iter().any(|(k, v, _)| k == "events.endpoints[0].secret" && v == "<redacted>"));
        jail.set_env(
            "BONIN_EVENTS__ENDPOINTS",
            format!(r#"[{{"url": "https://a.example/b", "secret": "{EVENT_SECRET}""#),
        );
        let error = load().unwrap_err();
        assert!(error.contains("BONIN_EVENTS__ENDPOINTS") && !error.contains("ZXZlbnQtc2Vj"), "{error}");
        Ok(())
    });
}
