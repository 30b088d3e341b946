//! Every domain rule at its edge, against a manual clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use std::time::Duration;

use bonin_domain::*;
use time::macros::datetime;

const T0: Timestamp = datetime!(2026-03-01 09:00:00 UTC);

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

fn clock() -> ManualClock {
    ManualClock::new(T0)
}

fn id(rng: &SequenceRng) -> VerificationId {
    VerificationId::generate(rng).unwrap()
}

fn identity(provider: ProviderId, at: Timestamp) -> VerifiedIdentity {
    let mut identity = VerifiedIdentity::new(provider, at);
    identity.name = Some(Name::new("홍길동").unwrap());
    identity
}

fn mobileok_otp(rng: &SequenceRng) -> Verification {
    Verification::start(id(rng), ProviderId::Mobileok, Method::Otp, mobileok_rules(), T0)
}

fn state(s: &str) -> ProviderState {
    ProviderState::new(s)
}

const MIN: Duration = Duration::from_secs(60);

#[test]
fn verification_ids_are_unique_and_parse_back() {
    let rng = SequenceRng::default();
    let a = id(&rng);
    let b = id(&rng);
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 26);
    assert_eq!(VerificationId::parse(a.as_str()).unwrap(), a);
    assert!(VerificationId::parse("vf../../etc/passwd").is_err());
    assert!(VerificationId::parse("").is_err());
    let os = VerificationId::generate(&OsRng).unwrap();
    assert!(os.as_str().starts_with("vf"));
}

#[test]
fn mobileok_session_is_open_until_just_before_ten_minutes_and_expired_at_ten() {
    let rng = SequenceRng::default();
    let clock = clock();
    let v = Verification::start(id(&rng), ProviderId::Mobileok, Method::Window, mobileok_rules(), clock.now());
    clock.advance(10 * MIN - Duration::from_millis(1));
    assert_eq!(v.status_at(clock.now()), Status::Pending);
    assert!(v.ensure_open(clock.now()).is_ok());
    clock.advance(Duration::from_millis(1));
    assert_eq!(v.status_at(clock.now()), Status::Expired);
    assert_eq!(v.ensure_open(clock.now()), Err(Error::Expired));
    let identity = identity(ProviderId::Mobileok, clock.now());
    assert_eq!(v.verified(clock.now(), identity), Err(Error::Expired));
}

#[test]
fn otp_confirm_window_closes_at_exactly_seven_minutes_after_the_auth_request() {
    let rng = SequenceRng::default();
    let clock = clock();
    let v = mobileok_otp(&rng);
    clock.advance(MIN); // the OTP is requested one minute in
    let sent = v.otp_sent(clock.now(), state("t2"), None).unwrap();
    assert_eq!(sent.stored_status(), Status::OtpSent);
    clock.advance(7 * MIN - Duration::from_secs(1));
    assert!(sent.ensure_can_confirm(clock.now()).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(sent.status_at(clock.now()), Status::Expired);
    assert_eq!(sent.ensure_can_confirm(clock.now()), Err(Error::Expired));
}

#[test]
fn otp_confirm_window_never_outlives_the_ten_minute_session() {
    let rng = SequenceRng::default();
    let clock = clock();
    let v = mobileok_otp(&rng);
    clock.advance(5 * MIN);
    let sent = v.otp_sent(clock.now(), state("t2"), None).unwrap();
    assert_eq!(sent.deadline(), T0 + 10 * MIN);
    clock.advance(5 * MIN - Duration::from_secs(1));
    assert!(sent.ensure_can_confirm(clock.now()).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(sent.ensure_can_confirm(clock.now()), Err(Error::Expired));
}

#[test]
fn resend_does_not_extend_the_confirm_window() {
    let rng = SequenceRng::default();
    let clock = clock();
    let sent = mobileok_otp(&rng).otp_sent(clock.now(), state("t2"), None).unwrap();
    clock.advance(6 * MIN);
    let resent = sent.otp_resent(clock.now(), state("t2b")).unwrap();
    assert_eq!(resent.otp().unwrap().resends, 1);
    assert_eq!(resent.deadline(), sent.deadline());
    assert_eq!(resent.provider_state().unwrap().expose(), "t2b");
}

#[test]
fn third_wrong_otp_fails_the_session_with_attempts_exhausted() {
    let rng = SequenceRng::default();
    let clock = clock();
    let mut v = mobileok_otp(&rng).otp_sent(clock.now(), state("t2"), None).unwrap();
    assert_eq!(v.otp_attempts_left(), 3);
    v = v.otp_rejected(clock.now(), Some(state("t3"))).unwrap();
    assert_eq!((v.stored_status(), v.otp_attempts_left()), (Status::OtpSent, 2));
    assert_eq!(v.provider_state().unwrap().expose(), "t3", "the retry token replaces the old one");
    v = v.otp_rejected(clock.now(), Some(state("t4"))).unwrap();
    assert_eq!((v.stored_status(), v.otp_attempts_left()), (Status::OtpSent, 1));
    v = v.otp_rejected(clock.now(), Some(state("t5"))).unwrap();
    assert_eq!(v.stored_status(), Status::Failed);
    assert_eq!(v.failure().unwrap().code, ErrorCode::AttemptsExhausted);
    assert!(v.provider_state().is_none(), "provider state is dropped once final");
    assert_eq!(v.ensure_can_confirm(clock.now()), Err(Error::AlreadyCompleted));
}

#[test]
fn right_code_on_the_third_attempt_verifies() {
    let rng = SequenceRng::default();
    let clock = clock();
    let mut v = mobileok_otp(&rng).otp_sent(clock.now(), state("t2"), None).unwrap();
    v = v.otp_rejected(clock.now(), None).unwrap();
    v = v.otp_rejected(clock.now(), None).unwrap();
    v.ensure_can_confirm(clock.now()).unwrap();
    let done = v.verified(clock.now(), identity(ProviderId::Mobileok, clock.now())).unwrap();
    assert_eq!(done.stored_status(), Status::Verified);
}

#[test]
fn replayed_callback_is_already_completed() {
    let rng = SequenceRng::default();
    let clock = clock();
    let v = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), clock.now())
        .with_provider_session(None, state("keys"), None);
    let done = v.verified(clock.now(), identity(ProviderId::Nice, clock.now())).unwrap();
    assert_eq!(done.version(), v.version() + 1);
    assert!(done.provider_state().is_none(), "keys are gone after use");
    let again = done.verified(clock.now(), identity(ProviderId::Nice, clock.now()));
    assert_eq!(again, Err(Error::AlreadyCompleted));
    assert_eq!(done.failed(clock.now(), &Error::Expired), Err(Error::AlreadyCompleted));
}

#[test]
fn nice_session_cannot_outlive_the_crypto_token_period() {
    let rng = SequenceRng::default();
    let clock = clock();
    // The crypto token was issued earlier and has 20 minutes left.
    let token_end = clock.now() + 20 * MIN;
    let v = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), clock.now())
        .with_provider_session(Some(ProviderKey::new(ProviderId::Nice, "tvid")), state("k"), Some(token_end));
    assert_eq!(v.expires_at(), token_end);
    clock.advance(20 * MIN - Duration::from_secs(1));
    assert!(v.ensure_open(clock.now()).is_ok());
    clock.advance(Duration::from_secs(1));
    assert_eq!(v.ensure_open(clock.now()), Err(Error::Expired));
    // A provider deadline later than the session's own does not extend it.
    let long = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), T0).with_provider_session(
        None,
        state("k"),
        Some(T0 + 600 * MIN),
    );
    assert_eq!(long.expires_at(), T0 + 60 * MIN);
}

#[test]
fn mobileok_result_may_be_600_seconds_old_but_not_601() {
    let rng = SequenceRng::default();
    let v = Verification::start(id(&rng), ProviderId::Mobileok, Method::Window, mobileok_rules(), T0);
    let now = T0 + 5 * MIN;
    assert!(v.check_result_age(now - Duration::from_secs(600), now).is_ok());
    assert_eq!(v.check_result_age(now - Duration::from_secs(601), now), Err(Error::Expired));
    assert!(v.check_result_age(now + Duration::from_secs(30), now).is_ok(), "small clock skew is tolerated");
    assert!(matches!(v.check_result_age(now + Duration::from_secs(61), now), Err(Error::IntegrityMismatch { .. })));
    // Providers without the rule accept any age.
    let nice = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), T0);
    assert!(nice.check_result_age(now - Duration::from_secs(86_400), now).is_ok());
}

#[test]
fn otp_steps_refuse_a_window_session_and_vice_versa() {
    let rng = SequenceRng::default();
    let window = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), T0);
    assert!(matches!(window.otp_sent(T0, state("x"), None), Err(Error::WrongStep { .. })));
    let otp = mobileok_otp(&rng);
    assert!(matches!(otp.verified(T0, identity(ProviderId::Mobileok, T0)), Err(Error::WrongStep { .. })));
    assert!(matches!(otp.ensure_can_confirm(T0), Err(Error::WrongStep { .. })));
    let sent = otp.otp_sent(T0, state("t"), None).unwrap();
    assert!(matches!(sent.otp_sent(T0, state("t"), None), Err(Error::WrongStep { .. })));
}

#[test]
fn identity_from_another_provider_is_an_integrity_mismatch() {
    let rng = SequenceRng::default();
    let v = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), T0);
    assert!(matches!(v.verified(T0, identity(ProviderId::PortoneV1, T0)), Err(Error::IntegrityMismatch { .. })));
}

#[test]
fn failure_keeps_the_raw_provider_code() {
    let rng = SequenceRng::default();
    let v = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), T0);
    let failed = v.failed(T0, &Error::rejected(ProviderId::Nice, "result_cd:0003", None)).unwrap();
    assert_eq!(failed.stored_status(), Status::Failed);
    let failure = failed.failure().unwrap();
    assert_eq!(failure.code, ErrorCode::ProviderRejected);
    assert_eq!(failure.provider_code.as_deref(), Some("result_cd:0003"));
}

#[test]
fn expiry_is_persisted_only_after_the_deadline() {
    let rng = SequenceRng::default();
    let v = mobileok_otp(&rng);
    assert!(v.expired(T0 + 9 * MIN).is_err());
    let expired = v.expired(T0 + 10 * MIN).unwrap();
    assert_eq!(expired.stored_status(), Status::Expired);
    assert_eq!(expired.expired(T0 + 11 * MIN), Err(Error::AlreadyCompleted));
}

#[test]
fn sessions_survive_serialization_unchanged() {
    let rng = SequenceRng::default();
    let v = mobileok_otp(&rng)
        .with_purpose(Some(Purpose::SignUp))
        .with_return_url(Some("https://shop.example/done".into()))
        .otp_sent(T0, state("t2"), Some(ProviderKey::new(ProviderId::Mobileok, "client-tx")))
        .unwrap()
        .verified(T0, identity(ProviderId::Mobileok, T0))
        .unwrap();
    let json = serde_json::to_string(&v).unwrap();
    let back: Verification = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v);
}

#[test]
fn every_error_has_a_stable_code_and_status() {
    for code in ErrorCode::ALL {
        assert!(!code.as_str().is_empty());
        assert!((400..600).contains(&code.http_status()));
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
    assert!(Error::Unavailable { dependency: Dependency::Store, reason: "down".into() }.is_retryable());
    assert!(
        !Error::Indeterminate { dependency: Dependency::Provider(ProviderId::Nice), reason: "timeout".into() }
            .is_retryable()
    );
}

#[test]
fn rrn_gender_digit_follows_century_sex_and_nationality() {
    let subject = |birth: &str, gender, nationality| OtpSubject {
        name: Name::new("A").unwrap(),
        phone: PhoneNumber::new("01012345678").unwrap(),
        birth_date: BirthDate::parse(birth).unwrap(),
        gender,
        nationality,
        carrier: Carrier::Skt,
    };
    assert_eq!(subject("19900101", Gender::Male, Nationality::Domestic).rrn_gender_digit(), '1');
    assert_eq!(subject("19991231", Gender::Female, Nationality::Domestic).rrn_gender_digit(), '2');
    assert_eq!(subject("20000101", Gender::Male, Nationality::Domestic).rrn_gender_digit(), '3');
    assert_eq!(subject("20050101", Gender::Female, Nationality::Domestic).rrn_gender_digit(), '4');
    assert_eq!(subject("19800101", Gender::Male, Nationality::Foreign).rrn_gender_digit(), '5');
    assert_eq!(subject("19800101", Gender::Female, Nationality::Foreign).rrn_gender_digit(), '6');
    assert_eq!(subject("20010101", Gender::Male, Nationality::Foreign).rrn_gender_digit(), '7');
    assert_eq!(subject("20010101", Gender::Female, Nationality::Foreign).rrn_gender_digit(), '8');
}

fn born(provider: ProviderId, at: Timestamp, date: (i32, u8, u8)) -> VerifiedIdentity {
    let mut identity = identity(provider, at);
    identity.birth_date = Some(BirthDate::from_ymd(date.0, date.1, date.2).unwrap());
    identity
}

#[test]
fn min_age_counts_full_years_on_the_korean_date() {
    let rng = SequenceRng::default();
    // 2026-03-01 09:00 UTC is 18:00 on 1 March in Korea.
    let v = Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), T0).with_min_age(Some(19));
    let check = |date| v.check_min_age(&born(ProviderId::Nice, T0, date), T0);
    assert_eq!(check((2007, 3, 1)), Ok(()), "19th birthday today");
    assert_eq!(check((2007, 3, 2)), Err(Error::AgeRestricted), "19th birthday tomorrow");
    assert_eq!(check((2007, 2, 28)), Ok(()));
    // Born on 29 February: 22 on 1 March 2026 (a common year), not on 28 February (below).
    assert_eq!(
        Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), T0)
            .with_min_age(Some(22))
            .check_min_age(&born(ProviderId::Nice, T0, (2004, 2, 29)), T0),
        Ok(())
    );
    let feb28 = datetime!(2026-02-28 12:00:00 UTC);
    assert_eq!(v.check_min_age(&born(ProviderId::Nice, feb28, (2007, 2, 29 - 1)), feb28), Ok(()));
    assert_eq!(
        Verification::start(id(&rng), ProviderId::Nice, Method::Window, nice_rules(), feb28)
            .with_min_age(Some(22))
            .check_min_age(&born(ProviderId::Nice, feb28, (2004, 2, 29)), feb28),
        Err(Error::AgeRestricted)
    );
    // The Korean date, not UTC: 2026-02-28 15:00 UTC is already 1 March in Korea.
    let evening = datetime!(2026-02-28 15:00:00 UTC);
    assert_eq!(v.check_min_age(&born(ProviderId::Nice, evening, (2007, 3, 1)), evening), Ok(()));
    // No birth date: nothing proves the age.
    assert_eq!(v.check_min_age(&identity(ProviderId::Nice, T0), T0), Err(Error::AgeRestricted));
    // And `verified` refuses the transition.
    assert_eq!(v.verified(T0, born(ProviderId::Nice, T0, (2010, 1, 1))), Err(Error::AgeRestricted));
    assert!(v.verified(T0, born(ProviderId::Nice, T0, (1990, 1, 1))).is_ok());
}

#[test]
fn a_confirm_reserves_its_attempt_before_the_provider_and_blocks_a_second_one() {
    let rng = SequenceRng::default();
    let clock = clock();
    let v = mobileok_otp(&rng).otp_sent(clock.now(), state("t1"), None).unwrap();
    let reserved = v.reserve_confirm(clock.now(), MIN).unwrap();
    assert_eq!(reserved.otp_attempts_left(), 2, "counted before the provider answers");
    assert!(matches!(reserved.reserve_confirm(clock.now(), MIN), Err(Error::RateLimited { .. })));
    // A wrong code does not count twice, and ends the lease.
    let wrong = reserved.otp_rejected(clock.now(), Some(state("t2"))).unwrap();
    assert_eq!((wrong.otp_attempts_left(), wrong.confirm_lease()), (2, None));
    // A provider that was never reached gives the attempt back.
    let again = wrong.reserve_confirm(clock.now(), MIN).unwrap();
    assert_eq!(again.release_confirm(true).unwrap().otp_attempts_left(), 2);
    assert_eq!(again.release_confirm(false).unwrap().otp_attempts_left(), 1);
    // A holder that vanished: the lease lapses.
    clock.advance(MIN);
    assert!(again.reserve_confirm(clock.now(), MIN).is_ok());
    // The last attempt, answered right, verifies although no attempt is left to reserve.
    let last = again.release_confirm(false).unwrap().reserve_confirm(clock.now(), MIN).unwrap();
    assert_eq!(last.otp_attempts_left(), 0);
    assert_eq!(last.reserve_confirm(clock.now() + MIN, MIN), Err(Error::AttemptsExhausted));
    assert_eq!(
        last.verified(clock.now(), identity(ProviderId::Mobileok, clock.now())).unwrap().stored_status(),
        Status::Verified
    );
    assert_eq!(last.otp_rejected(clock.now(), None).unwrap().stored_status(), Status::Failed);
}

#[test]
fn a_browser_reported_code_is_kept_only_as_far_as_it_looks_like_a_code() {
    let Error::Unconfirmed { code, .. } = Error::unconfirmed(ProviderId::Mobileok, "3100") else { panic!() };
    assert_eq!(code, "3100");
    let hostile = format!("<script>{}", "x".repeat(10_000));
    let Error::Unconfirmed { code, .. } = Error::unconfirmed(ProviderId::Mobileok, hostile) else { panic!() };
    assert_eq!(code.len(), 40);
    assert!(code.starts_with("?script?xx"));
    let Error::Unconfirmed { code, .. } = Error::unconfirmed(ProviderId::PortoneV2, "홍길동") else { panic!() };
    assert_eq!(code, "???");
}
