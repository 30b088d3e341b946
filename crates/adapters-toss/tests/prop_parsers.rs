//! Hostile input for the Toss adapter: token answers, envelopes, the `success` of a request, a
//! status and a result, encrypted fields, and whole calls through the client. No input may panic,
//! no error may carry the personal data, and `Debug` of what is read shows none of it.
//!
//! Each property runs through `bonin_sandbox::fuzz`: `BONIN_FUZZ_CASES` cases (256 by default);
//! `cargo xtask fuzz` raises the count and sums what each property records in `BONIN_FUZZ_REPORT`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::sync::Arc;

use bonin_adapters_http::HttpResponse;
use bonin_adapters_toss::{
    ApiError, MAX_TOKEN_LIFETIME, TossIdentity, TossLaunch, TossRequest, TossSession, TossStatus, open_session_key,
    parse_time, parse_token,
};
use bonin_domain::*;
use bonin_sandbox::fuzz::{any_text, canary, check, json_body, mutated, mutated_json, no_leak};
use common::*;
use proptest::{prelude::*, test_runner::TestCaseError};
use serde_json::{Value, json};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap()
}

/// HTTP statuses: mostly success, sometimes anything.
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![4 => Just(200u16), 1 => prop::sample::select(&[400u16, 401, 403, 404, 500, 502, 503][..]), 1 => 100u16..600]
}

/// One vector's session, the one the pure parsers read with.
fn vector_session() -> TossSession {
    let row = &csv("aes_test_data.csv")[0];
    TossSession::from_parts(&row[0], &row[1], &row[2]).unwrap()
}

fn person() -> impl Strategy<Value = Person> {
    (
        "카나리[가-힣]{1,4}",
        (1900u16..2030, 1u8..13, 1u8..29).prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}")),
        prop::sample::select(&["MALE", "FEMALE", "OTHER"][..]),
        prop::sample::select(&["LOCAL", "FOREIGNER", "ALIEN"][..]),
        canary(),
        canary(),
        prop::sample::select(&["ADULT", "MINOR", "ELDER"][..]),
    )
        .prop_map(|(name, birthday, gender, nationality, ci, di, age_group)| Person {
            name,
            birthday,
            gender: gender.into(),
            nationality: nationality.into(),
            ci: format!("CI{ci}"),
            di: format!("DI{di}"),
            age_group: age_group.into(),
        })
}

/// The values a leak would show: the person's data (the short enum words are no personal data).
fn pii_stays_out(rendered: &str, person: &Person) -> Result<(), TestCaseError> {
    for value in [&person.name, &person.birthday, &person.ci, &person.di] {
        no_leak(rendered, value)?;
    }
    Ok(())
}

/// A result's `success` with `personalData` members as placeholders (`@name`, …), to be sealed
/// under whichever session reads it.
fn result_template() -> Value {
    json!({
        "txId": TX_ID, "status": "COMPLETED", "signature": "MIIGsAYJKoZIhvcNAQcC", "completedDt": "2026-11-30T20:01:30+09:00",
        "requestedDt": "2026-11-30T20:00:00+09:00",
        "personalData": {"ci": "@ci", "di": "@di", "name": "@name", "birthday": "@birthday", "gender": "@gender",
            "nationality": "@nationality", "ageGroup": "@ageGroup", "ci2": null, "ciUpdate": null},
    })
}

/// Seals every placeholder left in `template` under `session`.
fn seal_placeholders(mut template: Value, session: &TossSession, person: &Person) -> Value {
    if let Some(data) = template.get_mut("personalData").and_then(Value::as_object_mut) {
        for value in data.values_mut() {
            let plain = match value.as_str() {
                Some("@ci") => &person.ci,
                Some("@di") => &person.di,
                Some("@name") => &person.name,
                Some("@birthday") => &person.birthday,
                Some("@gender") => &person.gender,
                Some("@nationality") => &person.nationality,
                Some("@ageGroup") => &person.age_group,
                _ => continue,
            };
            *value = json!(session.encrypt(plain).unwrap());
        }
    }
    template
}

#[test]
fn prop_envelope() {
    let valid = prop_oneof![
        Just(success(json!({"txId": TX_ID, "status": "COMPLETED"}))),
        Just(fail("CE3102")),
        Just(fail("CE1000")),
    ];
    let strategy = (status(), valid.prop_flat_map(json_body));
    check!("prop_envelope", strategy, |(status, body)| {
        match ApiError::check(&HttpResponse::new(status, body)) {
            Ok(success) => prop_assert!(success.is_object()),
            Err(error) => {
                prop_assert!(!error.provider_code().is_empty());
                let _ = (error.is_token_refused(), error.is_not_completed());
                let _ = error.clone().into_error(PROVIDER, "status", true);
                let _ = error.into_error(PROVIDER, "result", false);
            }
        }
        Ok(())
    });
}

#[test]
fn prop_token() {
    let strategy = (
        status(),
        canary().prop_flat_map(|secret| {
            let valid =
                json!({"access_token": secret, "scope": "ca", "token_type": "Bearer", "expires_in": 31_536_000});
            (Just(secret), json_body(valid))
        }),
    );
    check!("prop_token", strategy, |(status, (secret, body))| {
        match parse_token(&HttpResponse::new(status, body), PROVIDER) {
            Ok(token) => {
                prop_assert!(token.lifetime > std::time::Duration::ZERO && token.lifetime <= MAX_TOKEN_LIFETIME)
            }
            Err(error) => no_leak(&format!("{error} {error:?}"), &secret)?,
        }
        Ok(())
    });
}

#[test]
fn prop_launch() {
    check!("prop_launch", mutated_json(launch()), |value| {
        if let Ok(launch) = TossLaunch::from_success(&value, PROVIDER) {
            prop_assert!(!launch.tx_id.as_str().is_empty());
            for link in [&launch.auth_url, &launch.app_scheme, &launch.android_app_uri, &launch.ios_app_uri] {
                prop_assert!(link.as_deref() != Some("null") && link.as_deref() != Some(""));
            }
        }
        Ok(())
    });
}

#[test]
fn prop_status() {
    let valid = json!({"txId": TX_ID, "status": "IN_PROGRESS", "requestedDt": "2026-11-30T20:00:00+09:00"});
    check!("prop_status", mutated_json(valid), |value| {
        if let Ok(status) = TossStatus::from_success(&value, TX_ID, PROVIDER) {
            prop_assert_eq!(TossStatus::parse(status.as_str()), status);
        }
        Ok(())
    });
}

#[test]
fn prop_time() {
    check!("prop_time", prop_oneof![any_text(), mutated(Just("2026-11-30T20:01:30.123+09:00".to_owned()))], |text| {
        if let Some(at) = parse_time(&text) {
            prop_assert!((1970..=9999).contains(&at.year()));
        }
        Ok(())
    });
}

#[test]
fn prop_result() {
    let session = vector_session();
    let strategy = person().prop_flat_map(|person| {
        let sealed = seal_placeholders(result_template(), &vector_session(), &person);
        (Just(person), mutated_json(sealed))
    });
    check!("prop_result", strategy, |(person, value)| {
        match TossIdentity::from_success(&value, TX_ID, &session, PROVIDER) {
            Ok(identity) => {
                pii_stays_out(&format!("{identity:?}"), &person)?;
                if let Some(name) = &identity.name {
                    prop_assert_eq!(name.expose(), person.name.as_str());
                }
            }
            Err(error) => pii_stays_out(&format!("{error} {error:?}"), &person)?,
        }
        Ok(())
    });
}

#[test]
fn prop_field_decrypt() {
    let row = csv("aes_test_data.csv").swap_remove(3);
    let session = TossSession::from_parts(&row[0], &row[1], &row[2]).unwrap();
    let (plain, sealed) = (row[3].clone(), row[4].clone());
    let strategy = prop_oneof![4 => mutated(Just(sealed)), 1 => any_text()];
    check!("prop_field_decrypt", strategy, |text| {
        match session.decrypt(&text) {
            // GCM: whatever opens is what was sealed.
            Ok(opened) => prop_assert_eq!(&opened, &plain),
            Err(error) => {
                let rendered = format!("{error} {error:?} {}", error.into_error());
                prop_assert!(!rendered.contains(plain.as_str()));
            }
        }
        Ok(())
    });
}

#[test]
fn prop_session_key() {
    let private = private_key();
    let valid = csv("rsa_test_data.csv").swap_remove(0).swap_remove(3);
    check!("prop_session_key", prop_oneof![3 => mutated(Just(valid)), 1 => any_text()], |text| {
        if let Ok(opened) = open_session_key(&private, &text) {
            let _ = opened.session();
            let debug = format!("{opened:?}");
            prop_assert!(!debug.contains("AES_GCM"));
        }
        Ok(())
    });
}

#[test]
fn prop_client() {
    let runtime = runtime();
    let strategy = (
        (status(), json_body(json!({"access_token": "token", "token_type": "Bearer", "expires_in": 31_536_000}))),
        (status(), json_body(success(launch()))),
        (status(), json_body(success(json!({"txId": TX_ID, "status": "COMPLETED"})))),
        (status(), person(), prop_oneof![4 => mutated_json(success(result_template())), 1 => Just(fail("CE3102"))]),
    );
    check!("prop_client", strategy, |(token, request, status_answer, (result_status, person, result))| {
        let answer = person.clone();
        let fake = Fake::new(move |seen, _| {
            let (status, body) = match seen.call.as_str() {
                "token" => (token.0, token.1.clone()),
                "request" => (request.0, request.1.clone()),
                "status" => (status_answer.0, status_answer.1.clone()),
                _ => {
                    let key = seen.json()["sessionKey"].as_str().unwrap().to_owned();
                    let session = open_session_key(&private_key(), &key).unwrap().session().unwrap();
                    let mut body = result.clone();
                    if let Some(success) = body.get_mut("success") {
                        *success = seal_placeholders(success.take(), &session, &answer);
                    }
                    (result_status, body.to_string().into_bytes())
                }
            };
            Ok(HttpResponse::new(status, body))
        });
        let client = Arc::new(client(&fake));
        let subject = TossRequest::user_personal(
            Name::new(person.name.clone()).unwrap(),
            PhoneNumber::new("01098765432").unwrap(),
            BirthDate::parse(&person.birthday).unwrap_or(BirthDate::parse("19930324").unwrap()),
        );
        let leaks = |rendered: String| -> Result<(), TestCaseError> {
            pii_stays_out(&rendered, &person)?;
            no_leak(&rendered, "01098765432")
        };
        match runtime.block_on(client.request(&subject)) {
            Ok(launch) => leaks(format!("{launch:?}"))?,
            Err(error) => leaks(format!("{error} {error:?}"))?,
        }
        if let Err(error) = runtime.block_on(client.status(TX_ID)) {
            leaks(format!("{error} {error:?}"))?;
        }
        match runtime.block_on(client.result(TX_ID)) {
            Ok(result) => leaks(format!("{result:?}"))?,
            Err(error) => leaks(format!("{error} {error:?}"))?,
        }
        Ok(())
    });
}
