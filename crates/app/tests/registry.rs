//! The provider registry drives the host: what each registered provider says it can do is what it
//! builds, what the API accepts and what OpenAPI and the settings reference describe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use axum::http::StatusCode;
use bonin_app::{
    config::{LoadedConfig, StringEnv, describe, figment, reference},
    providers::registered,
};
use serde_json::{Value, json};
use support::{app, get, post_json, send};

mod support;

#[test]
fn every_registered_provider_has_a_unique_id_documented_settings_and_unique_launch_kinds() {
    let providers = registered();
    assert!(!providers.is_empty());
    let ids: BTreeSet<_> = providers.iter().map(|p| p.id()).collect();
    assert_eq!(ids.len(), providers.len(), "ids are unique");
    let mut kinds = BTreeSet::new();
    for provider in providers {
        assert!(!provider.about().is_empty(), "{} explains itself", provider.id());
        assert!(!provider.settings().is_empty(), "{} documents its section", provider.id());
        let keys: BTreeSet<_> = provider.settings().iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), provider.settings().len(), "{} documents each key once", provider.id());
        let capabilities = provider.capabilities();
        assert!(capabilities.verifies() || capabilities.signing, "{} can do something", provider.id());
        for launcher in provider.launchers() {
            assert_ne!(launcher.kind, "form", "form launches are the host's");
            assert!(kinds.insert(launcher.kind), "launch kind {} is registered once", launcher.kind);
            assert!(launcher.script.trim_start().starts_with("function"), "{}", launcher.kind);
        }
    }
    // Every provider key is in the generated reference, under its section.
    let documented: BTreeSet<String> = reference().into_iter().map(|s| s.key).collect();
    for provider in providers {
        for setting in provider.settings() {
            let key = format!("providers.{}.{}", provider.id(), setting.key);
            assert!(documented.contains(&key), "{key} is in the reference");
        }
    }
}

#[tokio::test]
async fn what_a_provider_builds_is_what_it_says_it_can_do() {
    let app = app(&[]).await;
    let windows = app.service.window_providers();
    for provider in registered() {
        let built = app.provider(provider.id()).unwrap_or_else(|| panic!("{} runs in the sandbox", provider.id()));
        let capabilities = provider.capabilities();
        assert_eq!(built.window.is_some(), capabilities.window, "{} window", provider.id());
        assert_eq!(built.otp.is_some(), capabilities.otp, "{} otp", provider.id());
        assert_eq!(built.signing.is_some(), capabilities.signing, "{} signing", provider.id());
        assert_eq!(windows.contains(&provider.id()), capabilities.window, "{} offered for windows", provider.id());
        // The sandbox stands in for every registered provider.
        let sandbox = app.sandbox.as_ref().unwrap();
        assert!(sandbox.simulating(provider.id()).is_some(), "{} has a simulator", provider.id());
    }
}

#[tokio::test]
async fn a_method_a_provider_lacks_is_refused_by_name() {
    let app = app(&[]).await;
    for provider in registered().iter().filter(|p| p.capabilities().verifies()) {
        let capabilities = provider.capabilities();
        for (method, offered) in [("window", capabilities.window), ("otp", capabilities.otp)] {
            let body = json!({"provider": provider.id().as_str(), "method": method,
                "return_url": "http://127.0.0.1:8080/done"});
            let reply = send(&app.router, post_json("/v1/verifications", &body, None)).await;
            if offered {
                assert_eq!(reply.status, StatusCode::CREATED, "{} {method}: {}", provider.id(), reply.text());
            } else {
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{} {method}", provider.id());
                let detail = reply.json()["detail"].as_str().unwrap().to_owned();
                assert!(detail.contains(&format!("{} cannot verify by {method}", provider.id())), "{detail}");
            }
        }
    }
}

#[tokio::test]
async fn openapi_lists_what_each_provider_can_do_and_only_registered_launch_kinds() {
    let app = app(&[]).await;
    let spec = send(&app.router, get("/openapi.json", None)).await.json();
    let mut cases = Vec::new();
    let mut case = &spec["components"]["schemas"]["StartRequest"];
    while case["if"].is_object() {
        cases.push(case);
        case = &case["else"];
    }
    for provider in registered() {
        let case = cases
            .iter()
            .find(|c| c["if"]["properties"]["provider"]["const"] == json!(provider.id().as_str()))
            .map(|c| &c["then"]);
        if !provider.capabilities().verifies() {
            assert!(case.is_none(), "{} is not offered for verification", provider.id());
            continue;
        }
        let methods: Vec<Value> = provider.capabilities().methods().into_iter().map(|m| json!(m)).collect();
        assert_eq!(case.unwrap()["properties"]["method"]["enum"], Value::Array(methods), "{}", provider.id());
    }
    let mapping = spec["components"]["schemas"]["Launch"]["discriminator"]["mapping"].as_object().unwrap();
    let mut kinds: Vec<&str> = mapping.keys().map(String::as_str).collect();
    let mut expected = vec!["form"];
    expected.extend(registered().iter().flat_map(|p| p.launchers()).map(|l| l.kind));
    kinds.sort_unstable();
    expected.sort_unstable();
    assert_eq!(kinds, expected);
    for (kind, reference) in mapping {
        let name = reference.as_str().unwrap().trim_start_matches("#/components/schemas/");
        let shape = &spec["components"]["schemas"][name];
        assert_eq!(shape["properties"]["kind"]["const"], json!(kind), "{name}");
        assert!(
            spec["components"]["schemas"]["Launch"]["oneOf"].as_array().unwrap().contains(&json!({"$ref": reference}))
        );
    }
}

#[tokio::test]
async fn bonin_js_opens_every_registered_launch_kind() {
    let app = app(&[]).await;
    let script = send(&app.router, get("/bonin.js", None)).await.text();
    for launcher in registered().iter().flat_map(|p| p.launchers()) {
        assert!(script.contains(&format!("LAUNCHERS[\"{}\"] = function", launcher.kind)), "{}", launcher.kind);
    }
}

#[test]
fn a_section_for_a_provider_the_build_lacks_is_refused_by_name() {
    let error = LoadedConfig::load(figment(
        None,
        StringEnv::from_vars([("BONIN_PROVIDERS__ACME__API_KEY".to_owned(), "x".to_owned())]),
    ))
    .unwrap_err()
    .to_string();
    assert!(error.contains("providers.acme") && error.contains("not a provider of this build"), "{error}");
}

#[test]
fn every_secret_a_provider_marks_is_redacted_by_bonin_config() {
    for provider in registered() {
        let secrets: Vec<_> = provider.settings().iter().filter(|s| s.secret).collect();
        for setting in secrets {
            let key =
                format!("BONIN_PROVIDERS__{}__{}", provider.id().as_str().to_uppercase(), setting.key.to_uppercase());
            let canary = format!("canary-{}-{}-0123456789abcdef", provider.id(), setting.key);
            let described = describe(&figment(None, StringEnv::from_vars([(key, canary.clone())]))).unwrap();
            let line = described
                .iter()
                .find(|(k, _, _)| *k == format!("providers.{}.{}", provider.id(), setting.key))
                .unwrap();
            assert_eq!(line.1, "<redacted>", "{}", line.0);
            assert!(described.iter().all(|(_, v, _)| !v.contains(&canary)));
        }
    }
}

#[tokio::test]
async fn a_configuration_assembled_in_code_builds_its_provider_sections() {
    let mut config = bonin_app::config::AppConfig::sandbox_defaults().unwrap();
    config.store.url = "memory:".into();
    let sections = [
        (bonin_domain::ProviderId::Nice, json!({"client_id": "code-client", "client_secret": "code-secret"})),
        (bonin_domain::ProviderId::Toss, json!({"client_id": "test_code", "client_secret": "code-secret"})),
    ];
    for (provider, section) in sections.clone() {
        config.providers.set(provider, section);
    }
    let app = bonin_app::wiring::App::from_config(config).await.unwrap();
    for (provider, _) in sections {
        assert!(app.provider(provider).is_some(), "{provider}");
    }
    // And a wrong one is refused by key, without its value.
    let mut config = bonin_app::config::AppConfig::sandbox_defaults().unwrap();
    config.providers.set(bonin_domain::ProviderId::Toss, json!({"client_id": "test_code", "client_secret": 12345}));
    let error = bonin_app::wiring::App::from_config(config).await.unwrap_err().to_string();
    assert!(error.contains("client_secret") && !error.contains("12345"), "{error}");
}
