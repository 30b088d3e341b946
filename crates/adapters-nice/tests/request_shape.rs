//! The exact shape of both token calls, recorded on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::STANDARD};
use bonin_adapters_http::{HttpClient, HttpConfig, ReqwestTransport, RetryPolicy};
use bonin_adapters_nice::{NiceClient, NiceConfig};
use bonin_domain::*;
use bonin_sandbox::Recorder;

const TOKEN_REPLY: &str = r#"{"dataHeader":{"GW_RSLT_CD":"1200","GW_RSLT_MSG":"오류 없음"},"dataBody":{"access_token":"2b8f1c3e-aaaa-bbbb-cccc-0123456789ab","token_type":"bearer","expires_in":1.576983049E9,"scope":"default"}}"#;
const CRYPTO_REPLY: &str = r#"{"dataHeader":{"CNTY_CD":"kr","GW_RSLT_CD":"1200","GW_RSLT_MSG":"오류 없음"},"dataBody":{"rsp_cd":"P000","result_cd":"0000","site_code":"Q0cyMzI=","token_version_id":"2026112300000012-NCCDCG232-AB12C-0123456789","token_val":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","period":3600.0}}"#;

#[tokio::test]
async fn token_and_crypto_token_requests_have_the_documented_shape() {
    let recorder = Recorder::start().await.unwrap();
    recorder.respond("/digital/niceid/oauth/oauth/token", 200, "application/json;charset=UTF8", TOKEN_REPLY);
    recorder.respond(
        "/digital/niceid/api/v1.0/common/crypto/token",
        200,
        "application/json;charset=UTF8",
        CRYPTO_REPLY,
    );
    let config = NiceConfig::new("my-client-id", SecretString::from("my-client-secret"))
        .with_endpoints(recorder.base_url(), "https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb");
    let http = HttpClient::new(
        ProviderId::Nice,
        Arc::new(ReqwestTransport::new(&HttpConfig::default()).unwrap()),
        RetryPolicy::NONE,
    );
    let clock = Arc::new(SystemClock::new());
    let client = NiceClient::new(config, http, clock.clone()).unwrap();
    let id = VerificationId::generate(&OsRng).unwrap();
    let before = clock.now();
    let start = client.start(&WindowRequest::new(id.clone(), "https://id.example/return")).await.unwrap();

    let requests = recorder.requests();
    assert_eq!(requests.len(), 2);

    let token = &requests[0];
    assert_eq!(
        (token.method.as_str(), token.path.as_str(), token.query.as_deref()),
        ("POST", "/digital/niceid/oauth/oauth/token", None)
    );
    assert_eq!(token.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        token.header("authorization"),
        Some(format!("Basic {}", STANDARD.encode("my-client-id:my-client-secret")).as_str())
    );
    assert_eq!(token.body, b"grant_type=client_credentials&scope=default");

    let crypto = &requests[1];
    assert_eq!(
        (crypto.method.as_str(), crypto.path.as_str()),
        ("POST", "/digital/niceid/api/v1.0/common/crypto/token")
    );
    assert_eq!(crypto.header("content-type"), Some("application/json"));
    assert_eq!(crypto.header("productid"), Some("2101979031"));
    assert_eq!(crypto.header("client_id"), Some("my-client-id"));
    let bearer = crypto.header("authorization").unwrap().strip_prefix("bearer ").expect("lower-case bearer");
    let decoded = String::from_utf8(STANDARD.decode(bearer).unwrap()).unwrap();
    let parts: Vec<&str> = decoded.split(':').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "2b8f1c3e-aaaa-bbbb-cccc-0123456789ab");
    let stamp: i64 = parts[1].parse().expect("unix seconds, an integer");
    assert!((stamp - before.unix_timestamp()).abs() <= 5);
    assert_eq!(parts[2], "my-client-id");

    let body: serde_json::Value = serde_json::from_slice(&crypto.body).unwrap();
    assert_eq!(body["dataHeader"], serde_json::json!({"CNTY_CD": "ko"}));
    assert_eq!(body["dataBody"]["req_no"], id.as_str());
    assert_eq!(body["dataBody"]["enc_mode"], "1");
    let req_dtim = body["dataBody"]["req_dtim"].as_str().unwrap();
    let kst = before.to_offset(KST);
    assert_eq!(req_dtim.len(), 14);
    assert!(
        req_dtim.starts_with(&format!("{:04}{:02}{:02}", kst.year(), u8::from(kst.month()), kst.day())),
        "KST date"
    );
    assert_eq!(body.as_object().unwrap().len(), 2);
    assert_eq!(body["dataBody"].as_object().unwrap().len(), 3);

    // The launch: NICE's window, the four documented fields, the keys nowhere in it.
    let Launch::Form(form) = &start.launch else { panic!("form launch") };
    assert_eq!(form.action, "https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb");
    let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["m", "token_version_id", "enc_data", "integrity_value"]);
    assert_eq!(form.fields[0].value, "service");
    let launch_json = serde_json::to_string(&start.launch).unwrap();
    let state = start.provider_state.expose();
    let stored: serde_json::Value = serde_json::from_str(state).unwrap();
    for secret in ["key", "iv", "hmac_key"] {
        assert!(!launch_json.contains(stored[secret].as_str().unwrap()), "{secret} must stay server-side");
    }
    assert_eq!(start.provider_key.as_ref().unwrap().value, "2026112300000012-NCCDCG232-AB12C-0123456789");
    let valid = start.valid_until.unwrap() - before;
    assert!(valid <= time::Duration::seconds(3601) && valid >= time::Duration::seconds(3599));
}
