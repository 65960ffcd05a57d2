//! Second factors through `/auth/login`: `{method: "totp" | "email_otp", code}` goes to the
//! store's TOTP or passcode method, joins the session cookie's session (its user named by user
//! id when the body has no username), is never retried as a fresh login, and needs a username
//! without a session.
use super::*;
use crate::rejection::BodyFault;

const TOTP: &[u8] = br#"{"method":"totp","code":"287082"}"#;
const EOTP: &[u8] = br#"{"method":"email_otp","code":"123456"}"#;

fn factor_calls(asked: &[Asked]) -> Vec<(&'static str, serde_json::Value, Option<String>)> {
    asked
        .iter()
        .filter_map(|a| match a {
            Asked::Factor(p, v, j) => Some((*p, v.clone(), j.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_totp_code_joins_the_cookies_session_by_its_user_id() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    for (sent, path, field) in [
        (TOTP, paths::TOTP_AUTHENTICATE, "token"),
        (EOTP, paths::OTP_AUTHENTICATE, "passcode"),
    ] {
        let script = Script {
            body: sent,
            password: vec![Ok(tokens("at-2", "s-alice", None))],
            access: Ok(claims("alice", Some("s-alice"))),
            ..Script::default()
        };
        let (asked, out, (_, audits)) = run(&c, &facts_with(Some(&cookie)), script);
        let calls = factor_calls(&asked);
        assert_eq!(calls.len(), 1, "{path}");
        let (p, v, joins) = &calls[0];
        assert_eq!(*p, path);
        assert_eq!(joins.as_deref(), Some("s-alice"));
        assert_eq!(v["identifier"], "alice");
        assert_eq!(v["identifier_type"], "user_id");
        assert_eq!(v[field].as_str().map(str::len), Some(6));
        assert!(v.get("password").is_none() && v.get("username").is_none());
        assert_eq!(body(&out)["step_up"], true, "{path}");
        assert_eq!(
            audits,
            vec![Audit::new(Event::StepUp, Outcome::Success, "step_up")
                .subject(Some("alice"))
                .session(Some("s-alice"))]
        );
    }
}

#[test]
fn a_refused_second_factor_is_never_retried_as_a_fresh_login() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    for refusal in [
        StoreFailure::SessionGone,
        StoreFailure::Refused,
        StoreFailure::RequestRefused,
    ] {
        let script = Script {
            body: br#"{"method":"totp","code":"287082","username":"bob"}"#,
            password: vec![Err(refusal), Ok(tokens("at-bob", "s-bob", None))],
            access: Ok(claims("bob", Some("s-bob"))),
            ..Script::default()
        };
        let (asked, out, _) = run(&c, &facts_with(Some(&cookie)), script);
        let calls = factor_calls(&asked);
        assert_eq!(calls.len(), 1, "{refusal:?}: one store call");
        assert_eq!(calls[0].1["identifier"], "bob");
        assert_eq!(calls[0].1["identifier_type"], "username");
        assert!(
            !asked.iter().any(|a| matches!(a, Asked::End(_))),
            "{refusal:?}"
        );
        assert_eq!(
            out.err().map(|r| r.reason),
            Some(Reason::Store(StoreFailure::Refused)),
            "{refusal:?}: refused as a wrong code, no new session"
        );
    }
}

#[test]
fn a_store_that_joins_another_users_factor_mints_nothing() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let script = Script {
        body: br#"{"method":"totp","code":"287082","username":"bob"}"#,
        password: vec![Ok(tokens("at-bob", "s-alice", None))],
        access: Ok(claims("bob", Some("s-alice"))),
        ..Script::default()
    };
    let (asked, out, _) = run(&c, &facts_with(Some(&cookie)), script);
    assert!(!asked.contains(&Asked::Nonces));
    assert_eq!(out.err().map(|r| r.reason), Some(Reason::StepUpOtherUser));
}

#[test]
fn without_a_session_a_second_factor_needs_a_username() {
    let c = config();
    let script = Script {
        body: TOTP,
        ..Script::default()
    };
    let (asked, out, _) = run(&c, &facts_with(None), script);
    assert_eq!(asked, vec![Asked::Body], "no counter, no store call");
    assert_eq!(
        out.err().map(|r| r.reason),
        Some(Reason::Body(BodyFault::LoginFields))
    );
    // With one, a fresh login by the factor alone (the store decides whether it may).
    let script = Script {
        body: br#"{"method":"totp","code":"287082","username":"alice"}"#,
        password: vec![Ok(tokens("at-new", "s-new", None))],
        ..Script::default()
    };
    let (asked, out, _) = run(&c, &facts_with(None), script);
    let calls = factor_calls(&asked);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].2, None, "no session to join");
    assert_eq!(calls[0].1["identifier_type"], "username");
    assert_eq!(body(&out)["step_up"], false);
}

#[test]
fn a_session_known_to_have_ended_takes_no_code_without_a_username() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let script = Script {
        body: TOTP,
        revocation: Some(Lookup {
            session_revoked: Some(true),
            user_revoked_at: Some(None),
        }),
        ..Script::default()
    };
    let (asked, out, _) = run(&c, &facts_with(Some(&cookie)), script);
    assert!(factor_calls(&asked).is_empty());
    assert_eq!(
        out.err().map(|r| r.reason),
        Some(Reason::Body(BodyFault::LoginFields))
    );
}

#[test]
fn wrong_codes_count_in_the_users_counter() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let mut counters = Counters::at(NOW * 1000);
    for _ in 0..5 {
        let script = Script {
            body: TOTP,
            password: vec![Err(StoreFailure::Refused)],
            ..Script::default()
        };
        let (_, out, _) = run_with(&c, &facts_with(Some(&cookie)), script, &mut counters);
        assert_eq!(
            out.err().map(|r| r.reason),
            Some(Reason::Store(StoreFailure::Refused))
        );
    }
    // The user id's counter is full: the sixth code is throttled without a store call.
    let script = Script {
        body: TOTP,
        password: vec![Ok(tokens("at-2", "s-alice", None))],
        ..Script::default()
    };
    let (asked, out, _) = run_with(&c, &facts_with(Some(&cookie)), script, &mut counters);
    assert!(factor_calls(&asked).is_empty());
    assert!(matches!(
        out.err().map(|r| r.reason),
        Some(Reason::LoginThrottled { .. })
    ));
}
