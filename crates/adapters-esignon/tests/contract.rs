//! The eSignon adapter against the eSignon simulator: the token lifecycle, the contract calls with
//! their per-endpoint result codes, the signing links (the member's page is never a signer's; embed
//! mode hands each signer their own), and the Export API callback in every documented shape.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::{sync::Arc, time::Duration};

use bonin_adapters_esignon::*;
use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_domain::*;
use bonin_sandbox::{
    Fault, Recorder, SandboxServer, Times,
    esignon::{
        self as sim, CallbackStyle, EsignonCounters, EsignonSimConfig, EsignonSimulator, ExpireFormat, TokenFailure,
        V2AuthHeader,
    },
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Harness {
    sim: EsignonSimulator,
    server: SandboxServer,
    clock: Arc<ManualClock>,
}

async fn harness_with(config: EsignonSimConfig) -> Harness {
    let sim = EsignonSimulator::new(config);
    let server = SandboxServer::start(sim.router(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Harness { sim, server, clock: Arc::new(ManualClock::new(time::OffsetDateTime::now_utc())) }
}

async fn harness() -> Harness {
    harness_with(EsignonSimConfig::default()).await
}

impl Harness {
    fn config(&self) -> EsignonConfig {
        let mut config =
            EsignonConfig::new(sim::SANDBOX_COMPANY_ID, sim::SANDBOX_EMAIL, SecretString::from(sim::SANDBOX_PASSWORD))
                .with_api_base(self.server.base_url());
        config.client_id = Some("obsolete-client-id".into());
        config
    }

    fn client(&self) -> EsignonClient {
        self.client_with(self.config())
    }

    fn embed_client(&self) -> EsignonClient {
        self.client_with({
            let mut tweaked = self.config();
            tweaked.embed = true;
            tweaked
        })
    }

    fn client_with(&self, config: EsignonConfig) -> EsignonClient {
        let http = HttpClient::new(
            ProviderId::Esignon,
            Arc::new(ReqwestTransport::new(&HttpConfig::default()).unwrap()),
            RetryPolicy::NONE,
        );
        EsignonClient::new(config, http, self.clock.clone()).unwrap()
    }
}

fn logins(h: &Harness) -> u64 {
    EsignonCounters::get(&h.sim.counters().logins)
}

fn starts(h: &Harness) -> u64 {
    EsignonCounters::get(&h.sim.counters().starts)
}

const CALLBACK_AUTHORIZATION: &str = "callback-authorization-0123456789abcdef";

/// What the signing page at `url` (a link with `?token=`) answers to a signature.
async fn sign_at(url: &str) -> u16 {
    let token =
        percent_encoding::percent_decode_str(url.split("token=").nth(1).unwrap()).decode_utf8().unwrap().into_owned();
    let form = format!("token={}", percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC));
    reqwest::Client::new()
        .post(url.split('?').next().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn signer(name: &str, email: &str) -> Signer {
    Signer { name: Name::new(name).unwrap(), email: Some(Email::new(email).unwrap()), phone: None }
}

fn contract() -> SigningRequest {
    SigningRequest::new(
        sim::SANDBOX_TEMPLATE_ID,
        "근로계약서 2026년 11월",
        vec![
            signer("홍길동", "hong@shop.example"),
            Signer {
                name: Name::new("김알뜰").unwrap(),
                email: None,
                phone: Some(PhoneNumber::new("01055556666").unwrap()),
            },
        ],
    )
    .with_fields(vec![("contract_date".into(), "2026-11-23".into()), ("agree".into(), "Y".into())])
}

// --- token ---

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_calls_on_a_cold_cache_log_in_once_and_expiry_mid_burst_once_more() {
    let h =
        harness_with(EsignonSimConfig { token_ttl: Duration::from_secs(2 * 24 * 3600), ..EsignonSimConfig::default() })
            .await;
    let client = Arc::new(h.client());
    let started = client.start(&contract()).await.unwrap();
    assert_eq!(logins(&h), 1);
    let burst = |n: usize| {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (client, id) = (client.clone(), started.provider_workflow_id.clone());
                tokio::spawn(async move { client.status(&id).await.map(|i| i.status) })
            })
            .collect();
        async move {
            for task in tasks {
                assert_eq!(task.await.unwrap().unwrap(), WorkflowStatus::InProgress);
            }
        }
    };
    // A cold cache in a second client sharing nothing: 500 callers, one login.
    let cold = Arc::new(h.client());
    let tasks: Vec<_> = (0..500)
        .map(|_| {
            let (cold, id) = (cold.clone(), started.provider_workflow_id.clone());
            tokio::spawn(async move { cold.status(&id).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(logins(&h), 2, "one login for 500 cold callers");
    burst(200).await;
    assert_eq!(logins(&h), 2);
    // A 2-day token is replaced a day before its end: 1 day later, one more login for the burst.
    h.clock.advance(Duration::from_secs(24 * 3600 + 60));
    h.sim.advance(Duration::from_secs(24 * 3600 + 60));
    burst(500).await;
    assert_eq!(logins(&h), 3, "exactly one more login");
    let expiry = client.token_expiry().unwrap();
    assert!(expiry.from_expire_date);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_token_mid_flight_logs_in_once_more_and_the_calls_succeed() {
    for failure in [TokenFailure::Code94, TokenFailure::Http401, TokenFailure::Http400] {
        let h = harness_with(EsignonSimConfig { token_failure: failure, ..EsignonSimConfig::default() }).await;
        let client = Arc::new(h.client());
        let id = client.start(&contract()).await.unwrap().provider_workflow_id;
        h.sim.revoke_tokens();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (client, id) = (client.clone(), id.clone());
                tokio::spawn(async move { client.status(&id).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(logins(&h), 2, "{failure:?}: one re-login for every refused caller");
        assert!(EsignonCounters::get(&h.sim.counters().token_refusals) >= 1);
        h.sim.revoke_tokens();
        if failure == TokenFailure::Http400 {
            // 400 is eSignon's answer to any failure: a cancel is not sent again on it, the token is
            // dropped, and the next call logs in first.
            let error = client.cancel(&id, CancelCommand::Cancel).await.unwrap_err();
            assert!(matches!(error, Error::Indeterminate { .. }), "{error:?}");
            assert_eq!(logins(&h), 2);
            assert_eq!(client.status(&id).await.unwrap().status, WorkflowStatus::InProgress);
        }
        // 1510Q with a refused token (94 or 401): one re-login, then the cancel goes through.
        client.cancel(&id, CancelCommand::Cancel).await.unwrap();
        assert_eq!(logins(&h), 3, "{failure:?}");
    }
}

#[tokio::test]
async fn wrong_credentials_and_an_unregistered_company_are_misconfigured_with_their_codes() {
    let h = harness().await;
    let wrong = h.client_with({
        let mut tweaked = h.config();
        tweaked.password = SecretString::from("not-the-password");
        tweaked
    });
    let error = wrong.access_token().await.unwrap_err();
    assert!(matches!(&error, Error::Misconfigured { reason } if reason.contains("1001Q:10")), "{error:?}");
    assert!(!format!("{error} {error:?} {wrong:?}").contains("not-the-password"));
    let h = harness_with(EsignonSimConfig { api_registered: false, ..EsignonSimConfig::default() }).await;
    let error = h.client().access_token().await.unwrap_err();
    assert!(matches!(&error, Error::Misconfigured { reason } if reason.contains("1001Q:95")), "{error:?}");
    let h = harness().await;
    h.server.faults().inject("/api/{company_id}/login", Fault::provider_code("99"), Times::Once);
    assert!(matches!(h.client().access_token().await.unwrap_err(), Error::Rejected { code, .. } if code == "1001Q:99"));
    h.server.faults().inject("/api/{company_id}/login", Fault::status(503), Times::Once);
    assert!(matches!(h.client().access_token().await.unwrap_err(), Error::Unavailable { .. }));
}

#[tokio::test]
async fn an_undocumented_expire_date_falls_back_to_thirty_days() {
    for (format, parsed) in [
        (ExpireFormat::Placeholder, false),
        (ExpireFormat::Past, false),
        (ExpireFormat::Iso, true),
        (ExpireFormat::DateTime, true),
    ] {
        let h = harness_with(EsignonSimConfig { expire_format: format, ..EsignonSimConfig::default() }).await;
        let client = h.client();
        client.access_token().await.unwrap();
        let expiry = client.token_expiry().unwrap();
        assert_eq!(expiry.from_expire_date, parsed, "{format:?}");
        let left = expiry.expires_at - h.clock.now();
        assert!(left <= time::Duration::days(30) && left > time::Duration::days(29), "{format:?}: {left}");
        // The token works, and is not fetched again on every call.
        let id = client.start(&contract()).await.unwrap().provider_workflow_id;
        client.status(&id).await.unwrap();
        assert_eq!(logins(&h), 1, "{format:?}");
    }
}

// --- contract calls ---

#[tokio::test]
async fn start_status_sign_and_cancel_through_their_state_machine() {
    let h = harness().await;
    let client = h.client();
    let started = client.start(&contract().with_expires_on(Some(h.clock.now().to_offset(KST).date()))).await.unwrap();
    assert!(started.signing_url.is_none(), "eSignon tells the signers; the member's page is nobody's link");
    let info = client.status(&started.provider_workflow_id).await.unwrap();
    assert_eq!(info.status, WorkflowStatus::InProgress);
    assert!(info.download_url.is_none());
    assert_eq!(info.history.first().unwrap().step_code, "WORKFLOW_START");
    client.remind(&started.provider_workflow_id).await.unwrap();

    // Both signers sign: completed, with permanent download and certificate URLs.
    assert_eq!(h.sim.sign(&started.provider_workflow_id, true), Ok("Complete"));
    let info = client.status(&started.provider_workflow_id).await.unwrap();
    assert_eq!(info.status, WorkflowStatus::Completed);
    assert!(info.download_url.is_some() && info.certificate_url.is_some());
    let error = client.remind(&started.provider_workflow_id).await.unwrap_err();
    assert!(matches!(&error, Error::WrongStep { reason } if reason.contains("1429Q:11")), "{error:?}");
    let error = client.cancel(&started.provider_workflow_id, CancelCommand::Cancel).await.unwrap_err();
    assert!(matches!(&error, Error::WrongStep { reason } if reason.contains("1510Q:11")), "{error:?}");
    assert!(client.cancel(&started.provider_workflow_id, CancelCommand::Dispose { reason: " ".into() }).await.is_err());
    client.cancel(&started.provider_workflow_id, CancelCommand::Dispose { reason: "계약 해지".into() }).await.unwrap();
    assert_eq!(client.status(&started.provider_workflow_id).await.unwrap().status, WorkflowStatus::Disposed);

    // Cancel, then delete; a cancelled document cannot be reminded.
    let other = client.start(&contract()).await.unwrap().provider_workflow_id;
    client.cancel(&other, CancelCommand::Cancel).await.unwrap();
    assert_eq!(client.status(&other).await.unwrap().status, WorkflowStatus::Cancelled);
    let error = client.remind(&other).await.unwrap_err();
    assert!(matches!(&error, Error::WrongStep { reason } if reason.contains("1429Q:12")), "{error:?}");
    client.cancel(&other, CancelCommand::Delete).await.unwrap();
    assert_eq!(client.status(&other).await.unwrap().status, WorkflowStatus::Deleted);

    // An id eSignon does not know.
    let error = client.status("999999").await.unwrap_err();
    assert!(matches!(&error, Error::InvalidInput { reason, .. } if reason.contains("v2.workflows:10")), "{error:?}");
    assert!(matches!(client.status("../x").await.unwrap_err(), Error::InvalidInput { .. }));
}

#[tokio::test]
async fn invalid_names_and_past_deadlines_are_refused_here_and_by_esignon_with_its_codes() {
    let h = harness().await;
    let client = h.client();
    let today = h.clock.now().to_offset(KST).date();
    for name in ["계약서.pdf", "a/b", "what?", ""] {
        let mut request = contract();
        request.workflow_name = name.into();
        let error = client.start(&request).await.unwrap_err();
        assert!(matches!(&error, Error::InvalidInput { field, .. } if field == "workflow_name"), "{name}: {error:?}");
    }
    let error = client.start(&contract().with_expires_on(today.previous_day())).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidInput { field, .. } if field == "expires_on"), "{error:?}");
    assert_eq!(EsignonCounters::get(&h.sim.counters().starts), 0, "nothing was sent");

    // The simulator itself answers what eSignon documents for the same requests.
    let token = client.access_token().await.unwrap();
    let raw = |body: Value| {
        let (url, token) = (
            format!("{}/api/{}/startsimple", h.server.base_url(), sim::SANDBOX_COMPANY_ID),
            token.expose_secret().to_owned(),
        );
        async move {
            let reply = reqwest::Client::new()
                .post(url)
                .header("Authorization", format!("esignon {token}"))
                .header("Content-Type", "application/json")
                .body(json!({"header": {"request_code": "5005Q"}, "body": body}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200, "business errors are HTTP 200");
            let value: Value = serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap();
            (
                value["header"]["response_code"].as_str().unwrap().to_owned(),
                value["header"]["result_code"].as_str().unwrap().to_owned(),
            )
        }
    };
    let base = json!({"biz_id": "0", "memb_email": sim::SANDBOX_EMAIL, "doc_id": sim::SANDBOX_TEMPLATE_ID, "workflow_name": "ok",
        "player_list": [{"field_owner": "1", "email": "a@b.example", "name": "가"}, {"field_owner": "2", "email": "c@d.example", "name": "나"}]});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    assert_eq!(raw(with("workflow_name", json!("a.b"))).await, ("5005A".into(), "-1".into()));
    assert_eq!(raw(with("expireddate", json!("2020-01-01"))).await.1, "20");
    assert_eq!(raw(with("expireddate", json!("2026/12/01"))).await.1, "19");
    assert_eq!(
        raw(with("player_list", json!([{"field_owner": "2", "email": "a@b.example", "name": "가"}]))).await.1,
        "-1"
    );
    assert_eq!(raw(base.clone()).await.1, "00");
    // And the adapter maps them when they come from eSignon.
    h.server.faults().inject("/api/{company_id}/startsimple", Fault::provider_code("20"), Times::Once);
    let error = client.start(&contract()).await.unwrap_err();
    assert!(matches!(&error, Error::InvalidInput { reason, .. } if reason.contains("5005Q:20")), "{error:?}");
    h.server.faults().inject("/api/{company_id}/startsimple", Fault::provider_code("13"), Times::Once);
    let error = client.start(&contract()).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "5005Q:13"), "{error:?}");
    // A start that timed out may have been made: indeterminate, never retried.
    let quick = h.client_with({
        let mut tweaked = h.config();
        tweaked.timeout_secs = 1;
        tweaked
    });
    quick.access_token().await.unwrap();
    h.server.faults().inject("/api/{company_id}/startsimple", Fault::Hang, Times::Once);
    let before = EsignonCounters::get(&h.sim.counters().starts);
    assert!(matches!(quick.start(&contract()).await.unwrap_err(), Error::Indeterminate { .. }));
    assert_eq!(EsignonCounters::get(&h.sim.counters().starts), before);
}

#[tokio::test]
async fn the_quota_codes_of_start_are_kept() {
    let h = harness_with(EsignonSimConfig { max_starts: Some(1), ..EsignonSimConfig::default() }).await;
    let client = h.client();
    client.start(&contract()).await.unwrap();
    let error = client.start(&contract()).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "5005Q:13"), "{error:?}");
    let h = harness_with(EsignonSimConfig { service_expired: true, ..EsignonSimConfig::default() }).await;
    let error = h.client().start(&contract()).await.unwrap_err();
    assert!(matches!(&error, Error::Rejected { code, .. } if code == "5005Q:12"), "{error:?}");
}

// --- callbacks ---

/// A loopback receiver: answers 200 and hands over (authorization header, body) of each request.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<(Option<String>, Vec<u8>)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/esignon/callback", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = stream.read(&mut chunk).await.unwrap_or(0);
                buffer.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buffer).into_owned();
                if let Some(split) = text.find("\r\n\r\n") {
                    let length = text[..split]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buffer.len() >= split + 4 + length || n == 0 {
                        let authorization = text[..split].lines().find_map(|l| {
                            l.split_once(':')
                                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                                .map(|(_, v)| v.trim().to_owned())
                        });
                        let _ = tx.send((authorization, buffer[split + 4..].to_vec()));
                        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
        }
    });
    (url, rx)
}

#[tokio::test]
async fn callbacks_pass_with_the_configured_authorization_and_are_refused_otherwise() {
    let h = harness().await;
    let client = h.client();
    let (url, mut received) = receiver().await;
    let secret = SecretString::from("callback-authorization-0123456789abcdef");
    let request = contract().with_export(Some(ExportTarget { url, authorization: secret.clone() }));
    let id = client.start(&request).await.unwrap().provider_workflow_id;
    h.sim.sign(&id, true).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (authorization, body) =
            tokio::time::timeout(Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
        let callback = receive_export(&secret, authorization.as_deref(), &body).unwrap();
        assert_eq!(callback.workflow_id, id);
        statuses.push(callback.status.unwrap());
        let wrong = SecretString::from("callback-authorization-0123456789abcdeX");
        assert_eq!(receive_export(&wrong, authorization.as_deref(), &body), Err(ExportError::Unauthorized));
        assert_eq!(receive_export(&secret, None, &body), Err(ExportError::Unauthorized));
    }
    assert_eq!(statuses, [WorkflowStatus::InProgress, WorkflowStatus::InProgress, WorkflowStatus::Completed]);
}

// --- nothing leaks ---

#[tokio::test]
async fn debug_output_holds_no_password_token_or_signer() {
    let h = harness().await;
    let client = h.embed_client();
    let (url, _received) = receiver().await;
    let export = ExportTarget { url, authorization: SecretString::from(CALLBACK_AUTHORIZATION) };
    let started = client.start(&contract().with_export(Some(export))).await.unwrap();
    let token = client.access_token().await.unwrap();
    let text = format!(
        "{client:?} {started:?} {token:?} {:?} {:?}",
        contract(),
        client.status(&started.provider_workflow_id).await.unwrap()
    );
    for secret in [sim::SANDBOX_PASSWORD, token.expose_secret(), "hong@shop.example", "홍길동", "01055556666"] {
        assert!(!text.contains(secret), "leaked into Debug: {text}");
    }
    assert!(!text.contains(started.signing_url.as_ref().unwrap().expose_secret()));
}

#[tokio::test]
async fn two_instances_without_a_shared_token_survive_logins_that_invalidate_each_other() {
    let h = harness_with(EsignonSimConfig { invalidate_on_relogin: true, ..EsignonSimConfig::default() }).await;
    let (a, b) = (h.client(), h.client());
    let id = a.start(&contract()).await.unwrap().provider_workflow_id;
    // B logs in (A's token dies), A is refused once, logs in again (B's dies), and so on: every call
    // still succeeds after at most one re-login.
    for _ in 0..3 {
        b.status(&id).await.unwrap();
        a.status(&id).await.unwrap();
    }
    assert!(logins(&h) >= 4, "each switch costs a login: share the token (store.share_tokens) to avoid it");
}

// --- signing links ---

/// A raw 5005Q start by the sandbox member, as eSignon sees it.
async fn raw_start(h: &Harness, token: &str, first_signer: &str) -> Value {
    let body = json!({"header": {"request_code": "5005Q", "version": "9.9.99"}, "body": {
        "biz_id": "0", "memb_email": sim::SANDBOX_EMAIL, "doc_id": sim::SANDBOX_TEMPLATE_ID, "workflow_name": "raw",
        "player_list": [{"field_owner": "1", "email": first_signer, "name": "가"}, {"field_owner": "2", "email": "c@d.example", "name": "나"}]}});
    let reply = reqwest::Client::new()
        .post(format!("{}/api/{}/startsimple", h.server.base_url(), sim::SANDBOX_COMPANY_ID))
        .header("Authorization", format!("esignon {token}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn the_start_token_opens_the_members_page_which_signs_only_on_the_members_turn() {
    let h = harness().await;
    let client = h.client();
    let token = client.access_token().await.unwrap().expose_secret().to_owned();
    let page = |token: &str| {
        format!(
            "{}/api/{}/sign?token={}",
            h.server.base_url(),
            sim::SANDBOX_COMPANY_ID,
            percent_encoding::utf8_percent_encode(token, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    // Someone else signs first: the member's page only shows the document.
    let answer = raw_start(&h, &token, "a@b.example").await;
    let member_page = page(answer["body"]["token"].as_str().unwrap());
    let shown = reqwest::get(&member_page).await.unwrap().text().await.unwrap();
    assert!(shown.contains("view-only") && !shown.contains(r#"id="sign""#), "{shown}");
    assert_eq!(sign_at(&member_page).await, 403, "the member cannot sign in another signer's place");
    let id = answer["body"]["workflow_id"].as_str().unwrap();
    assert_eq!(client.status(id).await.unwrap().history.iter().filter(|e| e.step_code == "SIGN_COMPLETE").count(), 0);
    // The signer's own link (eSignon's mail) signs.
    let mail = h.sim.notifications().into_iter().find(|n| n.workflow_id == id && n.step == 1).unwrap();
    assert_eq!(mail.address, "a@b.example");
    assert_eq!(sign_at(&mail.url).await, 200);
    assert_eq!(sign_at(&mail.url).await, 403, "a link signs its own step once");
    // The member is the first signer: then the member's page signs.
    let answer = raw_start(&h, &token, sim::SANDBOX_EMAIL).await;
    assert_eq!(sign_at(&page(answer["body"]["token"].as_str().unwrap())).await, 200);
    assert!(answer["body"].get("play_url").is_none(), "play_url only in embed mode");
}

#[tokio::test]
async fn by_default_esignon_tells_each_signer_and_bonin_hands_out_no_link() {
    let h = harness().await;
    let client = h.client();
    let started = client.start(&contract()).await.unwrap();
    assert!(started.signing_url.is_none());
    let id = started.provider_workflow_id;
    for step in 1..=2 {
        let mail = h.sim.notifications().into_iter().find(|n| n.workflow_id == id && n.step == step).unwrap();
        assert_eq!(sign_at(&mail.url).await, 200, "step {step}");
    }
    assert_eq!(client.status(&id).await.unwrap().status, WorkflowStatus::Completed);
}

#[tokio::test]
async fn in_embed_mode_each_signer_gets_their_own_link_and_esignon_sends_nothing() {
    let h = harness().await;
    let client = h.embed_client();
    // Without a callback target the later signers' links would be lost: refused before sending.
    let error = client.start(&contract()).await.unwrap_err();
    assert!(matches!(error, Error::Misconfigured { .. }), "{error:?}");
    assert_eq!(starts(&h), 0);

    let (url, mut received) = receiver().await;
    let secret = SecretString::from(CALLBACK_AUTHORIZATION);
    let request = contract().with_export(Some(ExportTarget { url, authorization: secret.clone() }));
    let started = client.start(&request).await.unwrap();
    let id = started.provider_workflow_id.clone();
    let first = started.signing_url.as_ref().unwrap().expose_secret().to_owned();
    assert!(first.starts_with(&format!("{}/api/{}/sign?token=", h.server.base_url(), sim::SANDBOX_COMPANY_ID)));
    assert!(h.sim.notifications().is_empty(), "no mail or KakaoTalk in embed mode");
    async fn next(
        received: &mut tokio::sync::mpsc::UnboundedReceiver<(Option<String>, Vec<u8>)>,
        secret: &SecretString,
    ) -> ExportCallback {
        let (authorization, body) =
            tokio::time::timeout(Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
        receive_export(secret, authorization.as_deref(), &body).unwrap()
    }
    assert_eq!(next(&mut received, &secret).await.status, Some(WorkflowStatus::InProgress), "the start");
    assert_eq!(sign_at(&first).await, 200, "the first signer signs with their link");
    let progress = next(&mut received, &secret).await;
    let second = progress.next_signer.clone().unwrap();
    assert_eq!(second.address.as_ref().map(ExposeSecret::expose_secret), Some("01055556666"));
    let second = second.signing_url.expose_secret().to_owned();
    assert_ne!(second, first);
    assert_eq!(sign_at(&first).await, 403, "the first link does not sign the second step");
    assert_eq!(sign_at(&second).await, 200);
    let done = next(&mut received, &secret).await;
    assert_eq!(done.status, Some(WorkflowStatus::Completed));
    assert!(done.next_signer.is_none());
    // link_type "download": the completed document and its certificate as files, not viewer pages.
    assert!(done.download_url.as_deref().is_some_and(|u| u.ends_with(".pdf")), "{done:?}");
    assert!(done.certificate_url.as_deref().is_some_and(|u| u.ends_with("-certificate.pdf")));
    assert_eq!(client.status(&id).await.unwrap().status, WorkflowStatus::Completed);
}

#[tokio::test]
async fn request_shapes_embed_mode_and_both_spellings_of_the_v2_header() {
    let recorder = Recorder::start().await.unwrap();
    let login = json!({"header": {"response_code": "1001A", "result_code": "00"}, "body": {"access_token": "tok+/=", "expire_date": "{만료일}"}});
    recorder.respond(&format!("/api/{}/login", sim::SANDBOX_COMPANY_ID), 200, "application/json", login.to_string());
    let started = json!({"header": {"response_code": "5005A", "result_code": "00"}, "body": {"workflow_id": "1", "token": "member", "play_url": "/api/x/sign?token=p1"}});
    recorder.respond(
        &format!("/api/{}/startsimple", sim::SANDBOX_COMPANY_ID),
        200,
        "application/json",
        started.to_string(),
    );
    let read = json!({"header": {"response_code": "/api/v2/workflows/:workflowId", "result_code": "00"}, "body": {"workflow_id": "1", "workflow_status": "Playing"}});
    recorder.respond("/api/v2/workflows/1", 200, "application/json", read.to_string());
    let h = harness().await;
    let config = {
        let mut tweaked = h.config();
        tweaked.embed = true;
        tweaked
    }
    .with_api_base(recorder.base_url());
    let client = h.client_with(config);
    let export = ExportTarget {
        url: "https://bonin.example/v1/signing/events".into(),
        authorization: SecretString::from(CALLBACK_AUTHORIZATION),
    };
    let started = client.start(&contract().with_export(Some(export))).await.unwrap();
    assert_eq!(
        started.signing_url.unwrap().expose_secret(),
        format!("{}/api/x/sign?token=p1", recorder.base_url()),
        "a relative play_url is made absolute; the member's token is not used"
    );
    client.status("1").await.unwrap();
    let requests = recorder.requests();
    let start = requests.iter().find(|r| r.path.ends_with("/startsimple")).unwrap();
    let body: Value = serde_json::from_slice(&start.body).unwrap();
    let export = &body["body"]["export_api_info"];
    assert_eq!((export["request_code"].as_str(), export["link_type"].as_str()), (Some("embed"), Some("download")));
    assert_eq!(export["api_type"], "ALL", "every step reports, so every next signer's link arrives");
    assert_eq!(start.header("authorization"), Some("esignon tok+/="));
    assert_eq!(start.header("authentication"), None);
    let read = requests.iter().find(|r| r.path == "/api/v2/workflows/1").unwrap();
    assert_eq!(read.header("authorization"), Some("esignon tok+/="));
    assert_eq!(read.header("authentication"), Some("esignon tok+/="));
}

#[tokio::test]
async fn the_v2_read_passes_whichever_header_esignon_reads() {
    for header in [V2AuthHeader::Either, V2AuthHeader::Authorization, V2AuthHeader::Authentication] {
        let h = harness_with(EsignonSimConfig { v2_auth_header: header, ..EsignonSimConfig::default() }).await;
        let client = h.client();
        let id = client.start(&contract()).await.unwrap().provider_workflow_id;
        assert_eq!(client.status(&id).await.unwrap().status, WorkflowStatus::InProgress, "{header:?}");
        assert_eq!(logins(&h), 1, "{header:?}: the token was not refused");
    }
}

// --- a start is made at most once ---

#[tokio::test]
async fn a_start_answered_http_400_is_not_sent_again() {
    // eSignon made the contract, then answered 400 "실패".
    let h = harness().await;
    let client = h.client();
    client.access_token().await.unwrap();
    h.sim.fail_starts_after_processing(1);
    let error = client.start(&contract()).await.unwrap_err();
    assert!(matches!(error, Error::Indeterminate { .. }), "{error:?}");
    assert_eq!((starts(&h), logins(&h)), (1, 1), "one contract, no re-login to send it again");
    // The next call logs in afresh (the 400 may have been about the token) and works.
    client.start(&contract()).await.unwrap();
    assert_eq!((starts(&h), logins(&h)), (2, 2));

    // A refused token answered 400: the start is not repeated either; the next one logs in.
    let h =
        harness_with(EsignonSimConfig { token_failure: TokenFailure::Http400, ..EsignonSimConfig::default() }).await;
    let client = h.client();
    client.access_token().await.unwrap();
    h.sim.revoke_tokens();
    assert!(matches!(client.start(&contract()).await.unwrap_err(), Error::Indeterminate { .. }));
    assert_eq!((starts(&h), logins(&h)), (0, 1));
    client.start(&contract()).await.unwrap();
    assert_eq!((starts(&h), logins(&h)), (1, 2));
    // A 401 or 94 is a refusal before processing: one re-login, sent once more.
    for failure in [TokenFailure::Http401, TokenFailure::Code94] {
        let h = harness_with(EsignonSimConfig { token_failure: failure, ..EsignonSimConfig::default() }).await;
        let client = h.client();
        client.access_token().await.unwrap();
        h.sim.revoke_tokens();
        client.start(&contract()).await.unwrap();
        assert_eq!((starts(&h), logins(&h)), (1, 2), "{failure:?}");
    }
}

// --- callbacks in every shape ---

#[tokio::test]
async fn callbacks_in_every_documented_shape_pass_and_unknown_statuses_are_kept() {
    for style in [CallbackStyle::Legacy, CallbackStyle::LegacyJsonHeader, CallbackStyle::Flat] {
        let h = harness_with(EsignonSimConfig {
            callback_style: style,
            reject_status: "Rejected".into(),
            ..EsignonSimConfig::default()
        })
        .await;
        let client = h.client();
        let (url, mut received) = receiver().await;
        let secret = SecretString::from(CALLBACK_AUTHORIZATION);
        let request = contract().with_export(Some(ExportTarget { url, authorization: secret.clone() }));
        let id = client.start(&request).await.unwrap().provider_workflow_id;
        h.sim.sign(&id, false).unwrap();
        assert_eq!(h.sim.reject(&id).unwrap(), "Rejected");
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (authorization, body) =
                tokio::time::timeout(Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
            if style == CallbackStyle::LegacyJsonHeader {
                assert!(authorization.is_none(), "the value travels in the body only");
            }
            let callback = receive_export(&secret, authorization.as_deref(), &body).unwrap();
            assert_eq!(callback.workflow_id, id, "{style:?}");
            seen.push((callback.status, callback.work_type));
            let wrong = SecretString::from("callback-authorization-0123456789abcdeX");
            assert_eq!(receive_export(&wrong, authorization.as_deref(), &body), Err(ExportError::Unauthorized));
        }
        assert_eq!(
            seen,
            [
                (Some(WorkflowStatus::InProgress), None),
                (Some(WorkflowStatus::InProgress), Some("CF".into())),
                (Some(WorkflowStatus::Other("Rejected".into())), Some("RT".into())),
            ],
            "{style:?}"
        );
        // The read agrees, verbatim.
        assert_eq!(client.status(&id).await.unwrap().status, WorkflowStatus::Other("Rejected".into()));
    }
}
