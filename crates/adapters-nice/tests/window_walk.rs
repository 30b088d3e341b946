//! The simulated window walked over HTTP like a browser: open the form, pick a persona, type the
//! code, follow the delivery to the return URL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::Arc;

use bonin_adapters_nice::{CallbackMethod, NiceClient, NiceConfig};
use bonin_domain::*;
use bonin_sandbox::{
    SandboxServer,
    nice::{NiceSimConfig, NiceSimulator},
};

fn encode(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    pairs.iter().map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))).collect::<Vec<_>>().join("&")
}

async fn post_form(browser: &reqwest::Client, url: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    browser
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(pairs))
        .send()
        .await
        .unwrap()
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

async fn walk(method: CallbackMethod) {
    let sim = NiceSimulator::new(NiceSimConfig::default());
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let (id, secret) = sim.client();
    let mut config = NiceConfig::new(id, SecretString::from(secret))
        .with_endpoints(server.base_url(), format!("{}/CheckPlusSafeModel/service.cb", server.base_url()));
    config.callback_method = method;
    let clock = Arc::new(SystemClock::new());
    let client = NiceClient::from_config(config).unwrap();
    let vid = VerificationId::generate(&OsRng).unwrap();
    let start = client.start(&WindowRequest::new(vid.clone(), "https://shop.example/return?x=1")).await.unwrap();
    let Launch::Form(form) = &start.launch else { panic!() };

    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let fields: Vec<(&str, &str)> = form.fields.iter().map(|f| (f.name.as_str(), f.value.as_str())).collect();
    let page = browser.get(format!("{}?{}", form.action, encode(&fields))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("홍길동"));
    let window = hidden(&html, "window").unwrap();

    let authenticate = format!("{}/CheckPlusSafeModel/authenticate", server.base_url());
    let wrong =
        post_form(&browser, &authenticate, &[("window", &window), ("persona", "kim-mvno"), ("otp", "000000")]).await;
    let html = wrong.text().await.unwrap();
    assert!(html.contains(r#"id="error""#), "a wrong code keeps the window open with an error");
    let window = hidden(&html, "window").unwrap();
    let done =
        post_form(&browser, &authenticate, &[("window", &window), ("persona", "kim-mvno"), ("otp", "345678")]).await;

    let callback = match method {
        CallbackMethod::Get => {
            assert_eq!(done.status(), 303);
            let location = reqwest::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
            assert_eq!(location.path(), "/return");
            CallbackParams::from_pairs(
                CallbackTransport::Get,
                location.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).filter(|(k, _)| k != "x"),
            )
        }
        CallbackMethod::Post => {
            assert_eq!(done.status(), 200);
            let html = done.text().await.unwrap();
            assert!(html.contains(r#"action="https://shop.example/return?x=1""#));
            let pairs =
                ["token_version_id", "enc_data", "integrity_value"].map(|n| (n.to_owned(), hidden(&html, n).unwrap()));
            CallbackParams::from_pairs(CallbackTransport::Post, pairs)
        }
    };
    let session =
        Verification::start(vid, ProviderId::Nice, Method::Window, bonin_adapters_nice::FLOW_RULES, clock.now())
            .with_provider_session(start.provider_key.clone(), start.provider_state.clone(), start.valid_until);
    let identity = client.complete(&session, &callback).await.unwrap().identity;
    assert_eq!(identity.name.unwrap().expose(), "김알뜰");
    assert_eq!(identity.carrier, Some(Carrier::LguMvno));
}

#[tokio::test]
async fn window_walk_with_get_delivery() {
    walk(CallbackMethod::Get).await;
}

#[tokio::test]
async fn window_walk_with_post_delivery() {
    walk(CallbackMethod::Post).await;
}
