//! Every log line written during whole verifications (success, tampering, refusal), at DEBUG and
//! in JSON, is free of personal data, secrets and tokens, while still naming verification ids.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use axum::{
    body::{Body, to_bytes},
    http::{Request, header},
};
use bonin_sandbox::{nice::ResultOverrides, personas};
use support::{Captured, app, encode, launch_fields};
use tower::ServiceExt;

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_name_ids_and_providers_but_never_personal_data_or_secrets() {
    let captured = Captured::default();
    let subscriber =
        tracing_subscriber::fmt().json().with_max_level(tracing::Level::DEBUG).with_writer(captured.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let app = app(&[]).await;
    let sandbox = app.sandbox.as_ref().unwrap();
    let mut secrets: Vec<String> =
        vec![sandbox.simulator::<bonin_sandbox::nice::NiceSimulator>().unwrap().client().1.to_owned()];
    let mut ids = Vec::new();

    for (persona, overrides, tamper) in [
        ("hong", ResultOverrides::default(), false),
        ("lee-cp949", ResultOverrides::default(), true),
        ("wilson", ResultOverrides { resultcode: Some("9001".into()), ..ResultOverrides::default() }, false),
    ] {
        let body =
            serde_json::json!({"method": "window", "return_url": "http://127.0.0.1:8080/done", "display": "page"});
        let request = Request::post("/v1/verifications")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.router.clone().oneshot(request).await.unwrap();
        let started: serde_json::Value =
            serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap();
        let id = started["id"].as_str().unwrap().to_owned();
        let fields = launch_fields(&started);
        let mut params = sandbox
            .simulator::<bonin_sandbox::nice::NiceSimulator>()
            .unwrap()
            .complete_window(&fields, persona, &overrides)
            .unwrap()
            .params;
        secrets.extend(params.iter().filter(|(k, _)| k != "token_version_id").map(|(_, v)| v.clone()));
        if tamper {
            params[1].1 = format!("A{}", &params[1].1[1..]);
        }
        let landing = Request::post(format!("/v1/verifications/{id}/return"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(encode(&params)))
            .unwrap();
        app.router.clone().oneshot(landing).await.unwrap();
        let read = Request::get(format!("/v1/verifications/{id}")).body(Body::empty()).unwrap();
        app.router.clone().oneshot(read).await.unwrap();
        ids.push(id);
    }
    let token = app
        .client::<bonin_adapters_nice::NiceClient>(bonin_domain::ProviderId::Nice)
        .unwrap()
        .access_token()
        .await
        .unwrap();
    secrets.push(token.expose_secret().to_owned());

    // PortOne V1 and V2: a window and an OTP flow each.
    for provider in ["portone_v1", "portone_v2"] {
        let call = |method: &str, path: String, body: serde_json::Value| {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let router = app.router.clone();
            async move {
                let response = router.oneshot(request).await.unwrap();
                serde_json::from_slice::<serde_json::Value>(&to_bytes(response.into_body(), 1 << 20).await.unwrap())
                    .unwrap_or_default()
            }
        };
        let body = serde_json::json!({"provider": provider, "method": "window", "return_url": "http://127.0.0.1:8080/done", "display": "page"});
        let started = call("POST", "/v1/verifications".into(), body).await;
        let id = started["id"].as_str().unwrap().to_owned();
        let launch = &started["launch"];
        let outcome = match launch["merchant_code"].as_str() {
            Some(code) => sandbox.simulator::<bonin_sandbox::portone::PortoneSimulator>().unwrap().complete_v1_window(
                code,
                &launch["params"],
                Some("hong"),
            ),
            None => sandbox
                .simulator::<bonin_sandbox::portone::PortoneSimulator>()
                .unwrap()
                .complete_v2_window(&launch["params"], Some("hong")),
        };
        let bonin_sandbox::portone::WindowOutcome::Redirect(url) = outcome.unwrap() else { panic!() };
        let path = url.strip_prefix("http://127.0.0.1:8080").unwrap().to_owned();
        app.router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        call("GET", format!("/v1/verifications/{id}"), serde_json::Value::Null).await;
        ids.push(id);
        let body = serde_json::json!({"provider": provider, "method": "otp"});
        let id = call("POST", "/v1/verifications".into(), body).await["id"].as_str().unwrap().to_owned();
        let subject = serde_json::json!({"name": "홍길동", "phone": "01012345678", "birth_date": "1990-02-15", "gender": "male",
            "nationality": "domestic", "carrier": "skt", "client_ip": "203.0.113.7"});
        call("POST", format!("/v1/verifications/{id}/otp"), subject).await;
        call("POST", format!("/v1/verifications/{id}/confirm"), serde_json::json!({"code": "000000"})).await;
        let done = call("POST", format!("/v1/verifications/{id}/confirm"), serde_json::json!({"code": "123456"})).await;
        assert_eq!(done["status"], "verified", "{provider}: {done}");
    }
    // eSignon: a contract started, read, signed, cancelled.
    let start = serde_json::json!({"template_id": "170", "workflow_name": "근로계약서",
        "signers": [{"name": "홍길동", "email": "hong@shop.example"}, {"name": "김알뜰", "phone": "01055556666"}]});
    let request = Request::post("/v1/signing")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(start.to_string()))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let started: serde_json::Value =
        serde_json::from_slice(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap();
    let signing_id = started["id"].as_str().unwrap().to_owned();
    if let Some(url) = started["signing_url"].as_str() {
        secrets.push(url.split("token=").nth(1).unwrap().to_owned());
    }
    sandbox
        .simulator::<bonin_sandbox::esignon::EsignonSimulator>()
        .unwrap()
        .sign(started["provider_workflow_id"].as_str().unwrap(), false)
        .unwrap();
    app.router
        .clone()
        .oneshot(Request::get(format!("/v1/signing/{signing_id}")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let cancel = Request::post(format!("/v1/signing/{signing_id}/cancel")).body(Body::empty()).unwrap();
    app.router.clone().oneshot(cancel).await.unwrap();
    secrets.push(
        app.client::<bonin_adapters_esignon::EsignonClient>(bonin_domain::ProviderId::Esignon)
            .unwrap()
            .access_token()
            .await
            .unwrap()
            .expose_secret()
            .to_owned(),
    );
    secrets.push(bonin_sandbox::esignon::SANDBOX_PASSWORD.to_owned());
    for pii in ["hong@shop.example", "01055556666"] {
        secrets.push(pii.to_owned());
    }

    let v1 = app.client::<bonin_adapters_portone::PortoneV1Client>(bonin_domain::ProviderId::PortoneV1).unwrap();
    secrets.push(v1.access_token().await.unwrap().expose_secret().to_owned());
    secrets.push(bonin_sandbox::portone::SANDBOX_IMP_SECRET.to_owned());
    secrets.push(bonin_sandbox::portone::SANDBOX_V2_SECRET.to_owned());

    let logs = captured.text();
    assert!(logs.contains("verification started") && logs.contains(&ids[0]), "the logs are useful:\n{logs}");
    for persona in personas::ALL {
        for value in [persona.name, persona.phone, persona.ci, persona.di, persona.birth_date] {
            assert!(!logs.contains(value), "a persona value reached the logs:\n{logs}");
        }
    }
    for secret in secrets {
        assert!(!logs.contains(&secret), "a secret or encrypted payload reached the logs");
    }
}
