//! Formats every public domain type that can hold personal data or secrets with `{:?}` and asserts
//! that no fixture value shows up.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::time::Duration;

use bonin_domain::*;
use time::macros::datetime;

const NAME: &str = "홍길동카나리";
const PHONE: &str = "01098765432";
const BIRTH: &str = "19870605";
const CI: &str = "CANARYciQWERTYUIOPASDFGHJKLZXCVBNMqwertyuiopasdfghjklzxcvbnm0123456789+/CANARYciXYZ==";
const DI: &str = "CANARYdiMNBVCXZLKJHGFDSAPOIUYTREWQ0123456789";
const OTP: &str = "482913";
const STATE: &str = r#"{"key":"CANARYkeyMaterial1","iv":"CANARYiv"}"#;
const TOKEN: &str = "CANARYtokenSecret-9f8e7d";
const CALLBACK_VALUE: &str = "CANARYencDataValue";

fn fixtures() -> Vec<String> {
    vec![
        NAME.into(),
        PHONE.into(),
        "010-9876-5432".into(),
        BIRTH.into(),
        "1987-06-05".into(),
        "870605".into(),
        CI.into(),
        DI.into(),
        OTP.into(),
        "CANARYkeyMaterial1".into(),
        TOKEN.into(),
        CALLBACK_VALUE.into(),
    ]
}

/// The rules NICE's adapter states: an hour, bounded by the crypto token's `period`.
fn nice_rules() -> FlowRules {
    FlowRules::new(Duration::from_secs(60 * 60))
}

/// The rules mobileOK's adapter states: 10 minutes in total, 7 to confirm after the request, 3 OTP
/// attempts, a result at most 600 s old.
fn mobileok_rules() -> FlowRules {
    FlowRules::new(Duration::from_secs(10 * 60))
        .with_confirm_window(Some(Duration::from_secs(7 * 60)))
        .with_max_otp_attempts(3)
        .with_max_result_age(Some(Duration::from_secs(600)))
}

fn assert_clean(label: &str, text: &str) {
    for value in fixtures() {
        assert!(!text.contains(&value), "{label}: Debug output leaks a fixture value");
    }
}

fn full_identity() -> VerifiedIdentity {
    let mut identity = VerifiedIdentity::new(ProviderId::Nice, datetime!(2026-01-01 00:00 UTC));
    identity.name = Some(Name::new(NAME).unwrap());
    identity.birth_date = Some(BirthDate::parse(BIRTH).unwrap());
    identity.gender = Some(Gender::Male);
    identity.nationality = Some(Nationality::Domestic);
    identity.phone = Some(PhoneNumber::new(PHONE).unwrap());
    identity.carrier = Some(Carrier::KtMvno);
    identity.ci = Some(Ci::new(CI).unwrap());
    identity.di = Some(Di::new(DI).unwrap());
    identity.provider_tx_id = Some(ProviderTxId::new("tx-1").unwrap());
    identity
}

fn subject() -> OtpSubject {
    OtpSubject {
        name: Name::new(NAME).unwrap(),
        phone: PhoneNumber::new(PHONE).unwrap(),
        birth_date: BirthDate::parse(BIRTH).unwrap(),
        gender: Gender::Female,
        nationality: Nationality::Foreign,
        carrier: Carrier::Lgu,
    }
}

#[test]
fn debug_output_of_every_public_type_is_free_of_pii_and_secrets() {
    let t0 = datetime!(2026-01-01 00:00 UTC);
    let rng = SequenceRng::default();
    let id = VerificationId::generate(&rng).unwrap();
    let identity = full_identity();

    let window = Verification::start(id.clone(), ProviderId::Nice, Method::Window, nice_rules(), t0)
        .with_provider_session(Some(ProviderKey::new(ProviderId::Nice, "tvid")), ProviderState::new(STATE), None);
    let verified = window.verified(t0, identity.clone()).unwrap();
    let otp = Verification::start(id.clone(), ProviderId::Mobileok, Method::Otp, mobileok_rules(), t0)
        .otp_sent(t0, ProviderState::new(STATE), None)
        .unwrap();
    // A script launch's fields carry what a prefill filled in, nested or not.
    let script = ScriptLaunch::new(
        "canary_sdk",
        "https://sdk.example/canary.js",
        &serde_json::json!({
            "merchant_uid": "vf1",
            "name": NAME,
            "params": {"customer": {"fullName": NAME, "phoneNumber": PHONE, "birth": BIRTH}, "customData": TOKEN},
        }),
    )
    .unwrap();
    assert!(format!("{script:?}").contains(r#"fields: ["merchant_uid", "name", "params"]"#), "{script:?}");
    let callback = CallbackParams::new(CallbackTransport::Post)
        .with("enc_data", CALLBACK_VALUE)
        .with("name", NAME)
        .with("phone", PHONE);
    let request = OtpRequest::new(id.clone(), subject(), OtpChannel::Sms);
    let issued = IssuedToken { value: SecretString::from(TOKEN), lifetime: Duration::from_secs(60) };
    let credential = SecretString::from(TOKEN);

    let cases: Vec<(&str, String)> = vec![
        ("Name", format!("{:?}", Name::new(NAME).unwrap())),
        ("PhoneNumber", format!("{:?}", PhoneNumber::new(PHONE).unwrap())),
        ("BirthDate", format!("{:?}", BirthDate::parse(BIRTH).unwrap())),
        ("Ci", format!("{:?}", Ci::new(CI).unwrap())),
        ("Di", format!("{:?}", Di::new(DI).unwrap())),
        ("OtpCode", format!("{:?}", OtpCode::new(OTP).unwrap())),
        ("VerifiedIdentity", format!("{identity:?}")),
        ("VerifiedIdentity pretty", format!("{identity:#?}")),
        ("Completion", format!("{:?}", Completion::new(identity.clone()))),
        ("OtpOutcome", format!("{:?}", OtpOutcome::Verified(Completion::new(identity.clone())))),
        ("OtpSubject", format!("{:?}", subject())),
        ("OtpRequest", format!("{request:?}")),
        ("ProviderState", format!("{:?}", ProviderState::new(STATE))),
        ("Verification pending", format!("{window:?}")),
        ("Verification verified", format!("{verified:#?}")),
        ("Verification otp", format!("{otp:?}")),
        ("CallbackParams", format!("{callback:?}")),
        ("IssuedToken", format!("{issued:?}")),
        ("SecretString", format!("{credential:?}")),
        ("OtpDispatch", format!("{:?}", OtpDispatch::new(ProviderState::new(STATE)))),
        (
            "WindowStart",
            format!(
                "{:?}",
                WindowStart::new(
                    Launch::Form(FormLaunch { action: "https://x".into(), method: FormMethod::Get, fields: vec![] }),
                    ProviderState::new(STATE),
                )
            ),
        ),
        ("ScriptLaunch", format!("{script:?}")),
        ("Launch script", format!("{:#?}", Launch::Script(script.clone()))),
        (
            "WindowStart script",
            format!("{:?}", WindowStart::new(Launch::Script(script.clone()), ProviderState::new(STATE))),
        ),
        (
            "Error invalid phone",
            format!(
                "{:?} {}",
                PhoneNumber::new("0109876543x").unwrap_err(),
                PhoneNumber::new("0109876543x").unwrap_err()
            ),
        ),
        ("Error invalid name", format!("{:?}", Name::new(format!("{NAME}\u{7}")).unwrap_err())),
    ];
    for (label, text) in &cases {
        assert_clean(label, text);
    }
}

#[tokio::test]
async fn cached_tokens_are_masked() {
    struct Source;
    #[async_trait::async_trait]
    impl TokenSource for Source {
        async fn fetch(&self) -> Result<IssuedToken, Error> {
            Ok(IssuedToken { value: SecretString::from(TOKEN), lifetime: Duration::from_secs(600) })
        }
    }
    let cache = TokenCache::new(Source, std::sync::Arc::new(SystemClock::new()), RefreshPolicy::default());
    let token = cache.get().await.unwrap();
    assert_eq!(token.expose_secret(), TOKEN);
    assert_clean("Token", &format!("{token:?}"));
    assert_clean("TokenCache", &format!("{cache:?}"));
}
