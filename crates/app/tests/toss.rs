//! Toss through the REST API in the sandbox profile: an approval in the (simulated) Toss app is
//! learned by polling, when a client reads the verification or in the background when nobody does,
//! and applied once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::http::StatusCode;
use bonin_domain::{Launch, ProviderId, Status, VerificationId};
use serde_json::{Value, json};
use support::{app, get, post_json, send};

mod support;

fn start_body(prefill: Option<Value>) -> Value {
    let mut body = json!({"provider": "toss", "method": "app", "return_url": "http://127.0.0.1:8080/done"});
    if let Some(prefill) = prefill {
        body["prefill"] = prefill;
    }
    body
}

#[tokio::test]
async fn an_approval_in_the_app_is_read_once_with_its_evidence_and_without_phone() {
    let app = app(&[("BONIN_SERVER__IDENTITY_GRACE_SECS", "0")]).await;
    let started = send(&app.router, post_json("/v1/verifications", &start_body(None), None)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let started = started.json();
    assert_eq!((started["method"].as_str(), started["status"].as_str()), (Some("app"), Some("pending")));
    let launch = &started["launch"];
    assert_eq!(launch["kind"], "toss");
    assert!(launch["tx_id"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(launch["auth_url"].as_str().is_some_and(|u| u.starts_with("http://127.0.0.1:")), "{launch}");
    let id = started["id"].as_str().unwrap().to_owned();

    let waiting = send(&app.router, get(&format!("/v1/verifications/{id}"), None)).await.json();
    assert_eq!((waiting["status"].as_str(), waiting["app_state"].as_str()), (Some("pending"), Some("requested")));

    let launch: Launch = serde_json::from_value(launch.clone()).unwrap();
    app.sandbox.as_ref().unwrap().approve(&launch, "kim-toss").unwrap().unwrap();
    // A read within the poll interval answers what is stored; the next one learns the approval.
    tokio::time::sleep(bonin_domain::MIN_POLL_INTERVAL).await;
    let read = send(&app.router, get(&format!("/v1/verifications/{id}"), None)).await.json();
    assert_eq!(read["status"], "verified", "{read}");
    let identity = &read["identity"];
    assert_eq!(identity["name"], "김토스");
    assert_eq!(identity["birth_date"], "1993-03-24");
    assert!(identity["ci"].as_str().is_some() && identity["di"].as_str().is_some());
    assert!(identity.get("phone").is_none() && identity.get("carrier").is_none(), "{identity}");
    assert!(identity["evidence"].as_str().is_some_and(|e| !e.is_empty()), "the signature is kept");
    let again = send(&app.router, get(&format!("/v1/verifications/{id}"), None)).await.json();
    assert_eq!(again["status"], "verified");
    assert!(again.get("identity").is_none(), "the identity is read once");
}

#[tokio::test]
async fn an_approval_nobody_reads_ends_verified_by_the_background_poll() {
    let app = app(&[]).await;
    let started = send(&app.router, post_json("/v1/verifications", &start_body(None), None)).await.json();
    let id = VerificationId::parse(started["id"].as_str().unwrap()).unwrap();
    let launch: Launch = serde_json::from_value(started["launch"].clone()).unwrap();
    app.sandbox.as_ref().unwrap().approve(&launch, "hong").unwrap().unwrap();
    // What `bonin serve` runs every second.
    app.service.poll_watched().await;
    let stored = app.service.peek(&id).await.unwrap();
    assert_eq!(stored.stored_status(), Status::Verified);
    assert_eq!(stored.identity().unwrap().provider, ProviderId::Toss);
    assert_eq!(app.service.watched_count(), 1);
    app.service.poll_watched().await;
    assert_eq!(app.service.watched_count(), 0, "an ended verification is no longer polled");
}

#[tokio::test]
async fn a_named_subject_must_be_the_one_who_approves_and_other_methods_are_refused() {
    let app = app(&[]).await;
    let prefill = json!({"name": "김토스", "phone": "01000000001", "birth_date": "1993-03-24"});
    let started = send(&app.router, post_json("/v1/verifications", &start_body(Some(prefill)), None)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let launch: Launch = serde_json::from_value(started.json()["launch"].clone()).unwrap();
    let refused = app.sandbox.as_ref().unwrap().approve(&launch, "hong").unwrap();
    assert!(refused.is_err(), "another person cannot approve a request naming someone");
    app.sandbox.as_ref().unwrap().approve(&launch, "kim-toss").unwrap().unwrap();
    for method in ["window", "otp"] {
        let body = json!({"provider": "toss", "method": method, "return_url": "http://127.0.0.1:8080/done"});
        let reply = send(&app.router, post_json("/v1/verifications", &body, None)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.json()["detail"].as_str().unwrap().contains("toss cannot verify by"), "{}", reply.text());
    }
}
