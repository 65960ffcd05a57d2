use std::sync::Arc;

use super::*;

fn reason(r: Result<impl std::fmt::Debug, Rejection>) -> Option<Reason> {
    r.err().map(|r| r.reason)
}

#[test]
fn login_bodies() {
    let json = Some("application/json; charset=utf-8");
    let form = Some("Application/X-WWW-Form-URLencoded");
    let long_user = format!(r#"{{"username":"{}","password":"p"}}"#, "u".repeat(257));
    let max_user = format!(r#"{{"username":"{}","password":"p"}}"#, "u".repeat(256));
    let long_pw = format!(r#"{{"username":"u","password":"{}"}}"#, "p".repeat(1025));
    let max_pw = format!(r#"{{"username":"u","password":"{}"}}"#, "p".repeat(1024));
    let rows: Vec<(Option<&str>, &[u8], Option<BodyFault>)> = vec![
        (json, br#"{"username":"alice","password":"pw"}"#, None),
        (form, b"username=alice&password=p%20w&x=1", None),
        (json, b"{", Some(BodyFault::LoginJson)),
        (json, br#"{"username":"alice"}"#, Some(BodyFault::LoginJson)),
        (form, b"username=alice", Some(BodyFault::LoginForm)),
        (form, b"password=x", Some(BodyFault::LoginForm)),
        (
            Some("text/plain"),
            b"username=a&password=b",
            Some(BodyFault::LoginContentType),
        ),
        (
            None,
            b"username=a&password=b",
            Some(BodyFault::LoginContentType),
        ),
        (
            json,
            br#"{"username":"","password":"pw"}"#,
            Some(BodyFault::LoginFields),
        ),
        (
            json,
            br#"{"username":"alice","password":""}"#,
            Some(BodyFault::LoginFields),
        ),
        (json, long_user.as_bytes(), Some(BodyFault::LoginFields)),
        (json, max_user.as_bytes(), None),
        (json, long_pw.as_bytes(), Some(BodyFault::LoginFields)),
        (json, max_pw.as_bytes(), None),
        // The second factors: a 6-digit code, the username optional.
        (json, br#"{"method":"totp","code":"123456"}"#, None),
        (
            json,
            br#"{"method":"email_otp","code":"000000","username":"alice"}"#,
            None,
        ),
        (form, b"method=totp&code=123456", None),
        (
            json,
            br#"{"method":"password","username":"a","password":"b"}"#,
            None,
        ),
        (json, br#"{"method":"totp"}"#, Some(BodyFault::LoginFields)),
        (
            json,
            br#"{"method":"totp","code":"12345"}"#,
            Some(BodyFault::LoginFields),
        ),
        (
            json,
            br#"{"method":"totp","code":"1234567"}"#,
            Some(BodyFault::LoginFields),
        ),
        (
            json,
            br#"{"method":"totp","code":"12345a"}"#,
            Some(BodyFault::LoginFields),
        ),
        (
            json,
            br#"{"method":"totp","code":123456}"#,
            Some(BodyFault::LoginJson),
        ),
        (
            json,
            br#"{"method":"totp","code":"123456","username":""}"#,
            Some(BodyFault::LoginFields),
        ),
        (
            json,
            br#"{"method":"totp","password":"123456"}"#,
            Some(BodyFault::LoginFields),
        ),
        (
            json,
            br#"{"method":"sms","code":"123456"}"#,
            Some(BodyFault::LoginMethod),
        ),
        (
            json,
            br#"{"method":"TOTP","code":"123456"}"#,
            Some(BodyFault::LoginMethod),
        ),
        (
            json,
            br#"{"method":null,"username":"a","password":"b"}"#,
            None,
        ),
    ];
    for (ct, body, want) in rows {
        let got = parse_login(ct, body);
        assert_eq!(
            reason(got),
            want.map(Reason::Body),
            "{ct:?} {}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
    }
    let ok = parse_login(form, b"username=alice&password=p%20w");
    assert!(ok.is_ok_and(|b| b.username.as_deref() == Some("alice")
        && b.secret == "p w"
        && b.method == LoginMethod::Password));
    let shown = format!(
        "{:?}",
        parse_login(json, br#"{"username":"alice","password":"hunter2"}"#)
    );
    // Names what it is (a log line shows a login body was there), never what it holds.
    let code = format!(
        "{:?}",
        parse_login(json, br#"{"method":"totp","code":"424242"}"#)
    );
    assert!(code.contains("Totp") && !code.contains("424242"), "{code}");
    assert!(
        shown.contains("LoginBody") && !shown.contains("hunter2") && !shown.contains("alice"),
        "{shown}"
    );
}

#[test]
fn the_body_limit_is_8_kib_and_within_the_stores() {
    // The README and tests/session/body-limits.test.mjs state 8 KiB.
    assert_eq!(MAX_BODY_BYTES, 8192);
}

#[test]
fn refresh_grant_bodies() {
    assert_eq!(
        parse_refresh_grant(br#"{"refresh_token":"rt"}"#)
            .ok()
            .as_deref(),
        Some("rt")
    );
    let max = format!(r#"{{"refresh_token":"{}"}}"#, "r".repeat(2048));
    assert!(parse_refresh_grant(max.as_bytes()).is_ok());
    let rows: Vec<(Vec<u8>, BodyFault)> = vec![
        (b"nope".to_vec(), BodyFault::RefreshJson),
        (br#"{"token":"x"}"#.to_vec(), BodyFault::RefreshJson),
        (
            br#"{"refresh_token":""}"#.to_vec(),
            BodyFault::RefreshTokenField,
        ),
        (
            format!(r#"{{"refresh_token":"{}"}}"#, "r".repeat(2049)).into_bytes(),
            BodyFault::RefreshTokenField,
        ),
    ];
    for (body, want) in rows {
        assert_eq!(reason(parse_refresh_grant(&body)), Some(Reason::Body(want)));
    }
}

fn auth(sid: Option<&str>) -> Authenticated {
    Authenticated {
        claims: Arc::new(VerifiedClaims {
            sub: "alice".into(),
            aud: vec!["api".into()],
            exp: 2_000,
            iat: 1_000,
            jti: None,
            client_id: Some("web".into()),
            sid: None,
            roles: vec!["admin".into()],
            scope: None,
            amr: vec!["pwd".into()],
            auth_time: None,
        }),
        session_id: sid.map(Into::into),
        set_cookies: vec!["a=b".into()],
        bearer: false,
    }
}

fn body(r: &Reply) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_default()
}

#[test]
fn replies_carry_handles_not_session_ids() {
    assert_eq!(short_id("s-1").len(), 16);
    // The first 8 bytes of SHA-256("abc") (FIPS 180-2 B.1), lowercase hex: what clients see.
    assert_eq!(short_id("abc"), "ba7816bf8f01cfea");
    assert_ne!(short_id("s-1"), short_id("s-2"));
    let who = whoami_reply(auth(Some("s-1")));
    assert_eq!(body(&who)["session"], short_id("s-1"));
    assert!(!who.body.contains("s-1\""));
    assert_eq!(who.set_cookies, vec!["a=b".to_owned()]);
    let list = vec![
        SessionInfo {
            session_id: "s-1".into(),
            start_time: Some("1".into()),
            expiration_time: Some("2".into()),
        },
        SessionInfo {
            session_id: "s-2".into(),
            start_time: None,
            expiration_time: None,
        },
    ];
    let r = sessions_reply(&list, auth(Some("s-2")));
    let v = body(&r);
    assert_eq!(v["sessions"][0]["current"], false);
    assert_eq!(v["sessions"][1]["current"], true);
    assert_eq!(v["sessions"][1]["id"], short_id("s-2"));
    assert!(!r.body.contains("\"s-2\""));
}

#[test]
fn login_and_logout_replies() {
    let a = auth(None);
    let rows = [
        (LoginOutcome::SteppedUp, "step_up", true, false),
        (
            LoginOutcome::NewSession {
                replaces: Some("old".into()),
            },
            "login_replaced_session",
            false,
            true,
        ),
        (
            LoginOutcome::NewSession { replaces: None },
            "login",
            false,
            false,
        ),
    ];
    for (outcome, code, step_up, replaced) in rows {
        let (r, got) = login_reply(
            &a.claims,
            &["pwd".into(), "otp".into()],
            &outcome,
            vec!["c".into()],
        );
        assert_eq!(got, code);
        let v = body(&r);
        assert_eq!(
            (v["step_up"].as_bool(), v["replaced_session"].as_bool()),
            (Some(step_up), Some(replaced))
        );
        assert_eq!(v["amr"], serde_json::json!(["pwd", "otp"]));
        assert!(!r.body.contains("old"));
    }
    let out = LoggedOut {
        all_sessions: false,
        had_session: true,
        revoked_at_edge: true,
        store_logged_out: false,
    };
    let r = logout_reply(out, vec!["x".into()], "\"cookies\"");
    assert!(r
        .headers
        .contains(&("clear-site-data", "\"cookies\"".to_owned())));
    assert_eq!(body(&r)["had_session"], true);
    assert_eq!(body(&r)["store_logged_out"], false);
    let r = logout_reply(
        LoggedOut {
            all_sessions: true,
            ..out
        },
        vec![],
        "",
    );
    assert!(r.headers.iter().all(|(n, _)| *n != "clear-site-data"));
    assert_eq!(body(&r)["all_sessions"], true);
}

#[test]
fn a_handle_finds_only_a_session_of_the_callers_list() {
    let info = |id: &str| SessionInfo {
        session_id: id.into(),
        start_time: None,
        expiration_time: None,
    };
    let list = vec![info("s-1"), info("s-2")];
    let handle = |id: &str| Handle::parse(&short_id(id)).unwrap_or_else(|| unreachable!());
    assert_eq!(
        session_by_handle(&list, &handle("s-2")).map(|s| s.session_id.as_str()),
        Some("s-2")
    );
    assert_eq!(
        session_by_handle(&list, &handle("s-1")).map(|s| s.session_id.as_str()),
        Some("s-1")
    );
    // Another user's session (not in the list), an unknown one: nothing.
    assert!(session_by_handle(&list, &handle("s-3")).is_none());
    assert!(session_by_handle(&[], &handle("s-1")).is_none());
}

#[test]
fn ending_a_session_answers_what_was_done_and_clears_only_the_callers_own() {
    let cleared = || vec!["c1".to_owned(), "c2".to_owned()];
    let other = ended_reply(false, true, true, cleared(), "\"cache\"");
    assert_eq!(
        body(&other),
        serde_json::json!({"ended": true, "current": false, "revoked_at_edge": true, "store_logged_out": true})
    );
    assert!(other.set_cookies.is_empty());
    assert!(other.headers.iter().all(|(k, _)| *k != "clear-site-data"));
    let own = ended_reply(true, false, true, cleared(), "\"cache\"");
    assert_eq!(body(&own)["current"], true);
    assert_eq!(body(&own)["revoked_at_edge"], false);
    assert_eq!(own.set_cookies, cleared());
    assert!(own
        .headers
        .contains(&("clear-site-data", "\"cache\"".to_owned())));
    let quiet = ended_reply(true, true, false, cleared(), "");
    assert_eq!(body(&quiet)["store_logged_out"], false);
    assert!(quiet.headers.iter().all(|(k, _)| *k != "clear-site-data"));
}
