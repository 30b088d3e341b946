//! The wire format of [`Launch`]: a form and a script launch round-trip, and what the REST API
//! answered before launches were open (one variant per provider) still reads and writes the same.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::collections::BTreeMap;

use bonin_domain::*;
use serde::Deserialize;
use serde_json::{Value, json};

/// A form launch (NICE 표준창).
const FORM: &str = r#"{"kind":"form","action":"https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb","method":"post","fields":[{"name":"m","value":"service"},{"name":"token_version_id","value":"2025010112345678"},{"name":"enc_data","value":"abc+/="},{"name":"integrity_value","value":"hmac=="}]}"#;

/// mobileOK's SDK call, as the old `Launch::Mobileok` wrote it.
const MOBILEOK: &str = r#"{"kind":"mobileok","script_url":"https://cert.mobile-ok.com/resources/js/index.js","request_url":"https://id.example/v1/verifications/vf0123456789abcdefghjkmnpq/launch"}"#;

/// An iamport.js call with every parameter, as the old `Launch::Iamport` wrote it.
const IAMPORT: &str = r#"{"kind":"iamport","script_url":"https://cdn.iamport.kr/v1/iamport.js","merchant_code":"imp12345678","params":{"merchant_uid":"vf0123456789abcdefghjkmnpq","channelKey":"channel-key-1","pg":"danal","m_redirect_url":"https://id.example/v1/verifications/vf0123456789abcdefghjkmnpq/return","min_age":19,"popup":true,"name":"홍길동","phone":"01012345678","carrier":"KTF","company":"shop.example"}}"#;

/// An iamport.js call with only the required parameter.
const IAMPORT_BARE: &str = r#"{"kind":"iamport","script_url":"https://cdn.iamport.kr/v1/iamport.js","merchant_code":"imp12345678","params":{"merchant_uid":"vf0123456789abcdefghjkmnpq"}}"#;

/// A PortOne V2 call with every parameter, as the old `Launch::Portone` wrote it.
const PORTONE: &str = r#"{"kind":"portone","script_url":"https://cdn.portone.io/v2/browser-sdk.js","params":{"storeId":"store-1","identityVerificationId":"vf0123456789abcdefghjkmnpq","channelKey":"channel-key-2","customer":{"fullName":"홍길동","phoneNumber":"01012345678","birthYear":"1990","birthMonth":"02","birthDay":"15"},"redirectUrl":"https://id.example/v1/verifications/vf0123456789abcdefghjkmnpq/return","forceRedirect":true,"windowType":{"pc":"POPUP","mobile":"REDIRECTION"},"customData":"{\"member\":\"m-77\"}","bypass":{"danal":{"AGELIMIT":19,"CPTITLE":"shop.example","IsCarrier":"SKT;KTF"},"kcpV2":{"web_siteid":"J1234567890"}}}}"#;

/// A PortOne V2 call with only the required parameters.
const PORTONE_BARE: &str = r#"{"kind":"portone","script_url":"https://cdn.portone.io/v2/browser-sdk.js","params":{"storeId":"store-1","identityVerificationId":"vf0123456789abcdefghjkmnpq","channelKey":"channel-key-2"}}"#;

const OLD_SCRIPT_LAUNCHES: [(&str, &str); 5] = [
    ("mobileok", MOBILEOK),
    ("iamport", IAMPORT),
    ("iamport", IAMPORT_BARE),
    ("portone", PORTONE),
    ("portone", PORTONE_BARE),
];

fn value(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn a_form_launch_reads_and_writes_the_same_bytes() {
    let launch: Launch = serde_json::from_str(FORM).unwrap();
    let Launch::Form(form) = &launch else { panic!("{launch:?}") };
    assert_eq!(
        (form.action.as_str(), form.method, form.fields.len()),
        ("https://nice.checkplus.co.kr/CheckPlusSafeModel/service.cb", FormMethod::Post, 4)
    );
    assert_eq!(form.fields[1], FormField { name: "token_version_id".into(), value: "2025010112345678".into() });
    assert_eq!(serde_json::to_string(&launch).unwrap(), FORM);
    let again: Launch = serde_json::from_str(&serde_json::to_string(&launch).unwrap()).unwrap();
    assert_eq!(again, launch);
}

#[test]
fn every_old_script_launch_reads_as_a_script_launch_and_writes_back_the_same_json() {
    for (kind, text) in OLD_SCRIPT_LAUNCHES {
        let launch: Launch = serde_json::from_str(text).unwrap();
        let Launch::Script(script) = &launch else { panic!("{kind}: {launch:?}") };
        assert_eq!(script.kind(), kind);
        assert_eq!(Some(script.script_url()), value(text)["script_url"].as_str());
        let written = serde_json::to_string(&launch).unwrap();
        assert_eq!(value(&written), value(text), "{kind}");
        assert!(written.starts_with(&format!(r#"{{"kind":"{kind}","script_url":"#)), "{written}");
        let again: Launch = serde_json::from_str(&written).unwrap();
        assert_eq!(again, launch);
    }
}

#[test]
fn the_old_script_launches_fields_read_back_typed() {
    #[derive(Deserialize)]
    struct Mobileok {
        script_url: String,
        request_url: String,
    }
    #[derive(Deserialize)]
    struct Iamport {
        merchant_code: String,
        params: BTreeMap<String, Value>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PortoneParams {
        store_id: String,
        identity_verification_id: String,
    }
    #[derive(Deserialize)]
    struct Portone {
        params: PortoneParams,
    }
    let script = |text: &str| match serde_json::from_str::<Launch>(text).unwrap() {
        Launch::Script(script) => script,
        other => panic!("{other:?}"),
    };
    let mobileok: Mobileok = script(MOBILEOK).fields_as().unwrap();
    assert!(mobileok.request_url.ends_with("/launch"));
    assert_eq!(mobileok.script_url, "https://cert.mobile-ok.com/resources/js/index.js", "script_url is read too");
    let iamport: Iamport = script(IAMPORT).fields_as().unwrap();
    assert_eq!((iamport.merchant_code.as_str(), iamport.params["min_age"].as_u64()), ("imp12345678", Some(19)));
    let portone: Portone = script(PORTONE).fields_as().unwrap();
    assert_eq!(
        (portone.params.store_id.as_str(), portone.params.identity_verification_id.as_str()),
        ("store-1", "vf0123456789abcdefghjkmnpq")
    );
    // Fields that do not fit the type are an error, not a panic.
    let error = script(MOBILEOK).fields_as::<Portone>().err().map(|e| e.code());
    assert_eq!(error, Some(ErrorCode::InvalidRequest));
}

#[test]
fn a_script_launch_round_trips_with_its_fields_beside_kind_and_script_url() {
    #[derive(serde::Serialize, Deserialize, Debug, PartialEq)]
    struct Fields {
        session: String,
        poll_every_secs: u32,
        options: Vec<String>,
    }
    let fields = Fields { session: "s-1".into(), poll_every_secs: 2, options: vec!["a".into()] };
    let script = ScriptLaunch::new("toss", "https://sdk.example/toss.js", &fields).unwrap();
    assert_eq!((script.kind(), script.script_url()), ("toss", "https://sdk.example/toss.js"));
    let launch = Launch::Script(script.clone());
    let text = serde_json::to_string(&launch).unwrap();
    assert_eq!(
        value(&text),
        json!({"kind": "toss", "script_url": "https://sdk.example/toss.js", "session": "s-1", "poll_every_secs": 2, "options": ["a"]})
    );
    let read: Launch = serde_json::from_str(&text).unwrap();
    assert_eq!(read, launch);
    let Launch::Script(read) = read else { panic!() };
    assert_eq!(read.fields_as::<Fields>().unwrap(), fields);
    assert_eq!(serde_json::from_str::<ScriptLaunch>(&text).unwrap(), script);
}

#[test]
fn kind_form_is_always_a_form_and_a_malformed_launch_is_refused() {
    let form: Launch =
        serde_json::from_str(r#"{"kind":"form","action":"https://x.example","method":"get","fields":[]}"#).unwrap();
    assert!(matches!(form, Launch::Form(_)));
    // A `kind: form` without a form's fields is not read as a script launch instead.
    assert!(serde_json::from_str::<Launch>(r#"{"kind":"form","script_url":"https://x.example/a.js"}"#).is_err());
    assert!(serde_json::from_str::<ScriptLaunch>(r#"{"kind":"form","script_url":"https://x.example/a.js"}"#).is_err());
    for bad in [
        r#"{"script_url":"https://x.example/a.js"}"#,
        r#"{"kind":"sdk"}"#,
        r#"{"kind":"sdk","script_url":7}"#,
        r#"{"kind":3,"script_url":"https://x.example/a.js"}"#,
        r#"{"kind":"","script_url":"https://x.example/a.js"}"#,
        r#"["sdk"]"#,
    ] {
        assert!(serde_json::from_str::<Launch>(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_script_launch_refuses_fields_it_could_not_write_without_panicking() {
    let url = "https://sdk.example/a.js";
    for (kind, fields) in [
        ("sdk", json!(["not", "an", "object"])),
        ("sdk", json!("text")),
        ("sdk", json!({"kind": "other"})),
        ("sdk", json!({"script_url": "https://elsewhere.example/b.js"})),
        ("form", json!({})),
        ("", json!({})),
    ] {
        let error = ScriptLaunch::new(kind, url, &fields).unwrap_err();
        assert_eq!(error.code(), ErrorCode::Misconfigured, "{kind} {fields}");
    }
    // A value serde cannot write as JSON (a map with non-string keys).
    let unwritable: BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
    assert_eq!(ScriptLaunch::new("sdk", url, &unwritable).unwrap_err().code(), ErrorCode::Misconfigured);
    assert!(ScriptLaunch::new("sdk", url, &json!({})).unwrap().fields().is_empty());
}
