use super::*;
use crate::access_cookie::NONCE_BYTES;
use crate::config::EdgeConfig;
use crate::edge_routes::LoginMethod;

const UA_A: ClientProps<'static> = ClientProps {
    user_agent: Some("UA-A"),
    ip: None,
};
const UA_B: ClientProps<'static> = ClientProps {
    user_agent: Some("UA-B"),
    ip: None,
};

fn config(sessions: bool) -> Option<EdgeConfig> {
    Some(crate::gate::tests_support::config_with(sessions, &[]))
}

fn session(sid: &str, sub: &str) -> SessionCookie {
    SessionCookie {
        session_id: sid.into(),
        subject: sub.into(),
        minted_ms: 1_000,
    }
}

/// A session cookie for `props` and an access cookie sealed beside it.
fn cookies(
    c: &EdgeConfig,
    s: &SessionCookie,
    props: &ClientProps<'_>,
    token: &str,
) -> (String, String) {
    let Some(sc) = &c.session else {
        return Default::default();
    };
    let raw =
        session_cookie::seal(&sc.binding_keys, &sc.binding, s, props, &[3; 16]).unwrap_or_default();
    let access = access_cookie::seal(&sc.binding_keys, &raw, token, 2_000, &[4; NONCE_BYTES])
        .unwrap_or_default();
    (raw, access)
}

fn header(session: &str, access: &str) -> String {
    format!("__Host-session={session}; __Host-access={access}")
}

fn claims(sub: &str, sid: Option<&str>) -> VerifiedClaims {
    VerifiedClaims {
        sub: sub.into(),
        aud: vec!["api".into()],
        exp: 2_000,
        iat: 1_000,
        jti: None,
        client_id: None,
        sid: sid.map(Into::into),
        roles: vec![],
        scope: None,
        amr: vec![],
        auth_time: None,
    }
}

#[test]
fn presented_table() {
    let Some(c) = config(true) else {
        panic!("test config is valid")
    };
    let alice = session("s-alice", "alice");
    let bob = session("s-bob", "bob");
    let (a_sess, a_access) = cookies(&c, &alice, &UA_A, "tok-alice");
    let (b_sess, b_access) = cookies(&c, &bob, &UA_B, "tok-bob");

    // Both own cookies: the token, its minting time and the session.
    match present(&c, None, Some(&header(&a_sess, &a_access)), &UA_A) {
        Ok(Presented::Cookie {
            token,
            minted_ms,
            session: Some(s),
        }) => {
            assert_eq!(token, "tok-alice");
            assert_eq!(minted_ms, Some(2_000));
            assert_eq!(s.cookie, alice);
            assert_eq!(s.raw, a_sess);
        }
        other => panic!("own cookies: {other:?}"),
    }
    // Only the session cookie: renew through the session.
    let only = format!("__Host-session={a_sess}");
    assert!(matches!(
        present(&c, None, Some(&only), &UA_A),
        Ok(Presented::SessionOnly(ref s)) if s.cookie == alice
    ));

    let ended = |r: Result<Presented<'_>, Rejection>, why: &str| match r {
        Err(rej) => {
            assert_eq!((rej.status, rej.clear_session), (401, true), "{why}");
            rej.log_reason()
        }
        Ok(p) => panic!("{why}: accepted as {p:?}"),
    };
    // Cookies mixed across users: alice's access cookie beside bob's session cookie (bob's
    // browser), and the reverse.
    assert_eq!(
        ended(
            present(&c, None, Some(&header(&b_sess, &a_access)), &UA_B),
            "alice's access on bob's session"
        ),
        "access_cookie_mismatch"
    );
    assert_eq!(
        ended(
            present(&c, None, Some(&header(&a_sess, &b_access)), &UA_A),
            "bob's access on alice's session"
        ),
        "access_cookie_mismatch"
    );
    // Both cookies copied to another client: the session cookie does not verify there.
    assert_eq!(
        ended(
            present(&c, None, Some(&header(&a_sess, &a_access)), &UA_B),
            "copied pair"
        ),
        "session_cookie_mismatch"
    );
    // The access cookie alone.
    let lone = format!("__Host-access={a_access}");
    assert_eq!(
        ended(present(&c, None, Some(&lone), &UA_A), "access alone"),
        "access_cookie_without_session"
    );
    // A raw JWT in the access cookie is not accepted with sessions.
    assert_eq!(
        ended(
            present(&c, None, Some(&header(&a_sess, "eyJ.eyJ.sig")), &UA_A),
            "raw token"
        ),
        "access_cookie_malformed"
    );

    // A sealed access cookie is not a Bearer token: it is passed on as one, to fail
    // verification (it is not a JWT).
    let bearer = format!("Bearer {a_access}");
    assert!(matches!(
        present(&c, Some(&bearer), None, &UA_B),
        Ok(Presented::Bearer { session: None, .. })
    ));
    // Bearer beside a valid session cookie keeps it (for the same-user rule).
    assert!(matches!(
        present(&c, Some("Bearer abc"), Some(&only), &UA_A),
        Ok(Presented::Bearer { token: "abc", session: Some(ref s) }) if s.cookie == alice
    ));
    // ... and ignores one that does not verify for this client.
    assert!(matches!(
        present(&c, Some("Bearer abc"), Some(&only), &UA_B),
        Ok(Presented::Bearer { session: None, .. })
    ));
    // Nothing.
    assert_eq!(present(&c, None, None, &UA_A), Ok(Presented::Nothing));
    assert_eq!(
        present(&c, None, Some(&format!("__Host-session={a_sess}x")), &UA_A),
        Ok(Presented::Nothing)
    );
    // An attack that was tried and held (kept as a regression test): a duplicated or quoted
    // session cookie is no session.
    let twice = format!("__Host-session={a_sess}; __Host-session={a_sess}");
    assert_eq!(
        present(&c, None, Some(&twice), &UA_A),
        Ok(Presented::Nothing)
    );
    let quoted = format!("__Host-session=\"{a_sess}\"");
    assert_eq!(
        present(&c, None, Some(&quoted), &UA_A),
        Ok(Presented::Nothing)
    );
    // Malformed credentials.
    assert!(matches!(
        present(&c, Some("Bearer a b"), None, &UA_A),
        Err(ref r) if r.status == 400
    ));
}

#[test]
fn without_sessions_the_access_cookie_is_the_raw_token() {
    let Some(c) = config(false) else {
        panic!("test config is valid")
    };
    assert_eq!(
        present(&c, None, Some("__Host-access=eyJ.eyJ.sig"), &UA_A),
        Ok(Presented::Cookie {
            token: "eyJ.eyJ.sig".into(),
            minted_ms: None,
            session: None
        })
    );
    assert_eq!(
        present(&c, None, Some("__Host-session=x"), &UA_A),
        Ok(Presented::Nothing)
    );
}

#[test]
fn token_fits_session_table() {
    let s = session("s1", "alice");
    let rows: &[(&str, Option<&str>, bool)] = &[
        ("alice", Some("s1"), true),
        ("alice", None, true),
        // Transmit's tokens carry no sid: the subject alone decides.
        ("bob", None, false),
        ("bob", Some("s1"), false),
        ("alice", Some("s2"), false),
    ];
    for (sub, sid, ok) in rows {
        let r = token_fits_session(&claims(sub, *sid), &s);
        assert_eq!(r.is_ok(), *ok, "{sub} {sid:?}");
        if let Err(rej) = r {
            assert_eq!((rej.status, rej.error), (401, "invalid_token"));
        }
    }
}

#[test]
fn session_id_and_issued() {
    let s = session("s-cookie", "alice");
    assert_eq!(
        session_id_of(&claims("alice", Some("s-tok")), Some(&s)).as_deref(),
        Some("s-tok")
    );
    assert_eq!(
        session_id_of(&claims("alice", None), Some(&s)).as_deref(),
        Some("s-cookie")
    );
    assert_eq!(session_id_of(&claims("alice", None), None), None);
    assert_eq!(
        issued(&claims("alice", None), Some(5)),
        Issued {
            iat: Some(1_000),
            minted_ms: Some(5)
        }
    );
}

#[test]
fn login_plan_and_retry() {
    let s = session("s1", "alice");
    let step = LoginPlan::StepUp {
        session_id: "s1".into(),
    };
    assert_eq!(plan_login(Some(&s), false), step);
    assert_eq!(plan_login(Some(&s), true), LoginPlan::Fresh);
    assert_eq!(plan_login(None, false), LoginPlan::Fresh);
    for (failure, retry) in [
        (StoreFailure::Refused, true),
        (StoreFailure::SessionGone, true),
        // A store that refuses a step-up as a bad request (Transmit's numeric `error_code: 400`
        // for a session it does not know): tried fresh; a real validation refusal comes back
        // from the fresh attempt too, and that answer is given.
        (StoreFailure::RequestRefused, true),
        (StoreFailure::Timeout, false),
        (StoreFailure::ServerError, false),
        (StoreFailure::RateLimited { retry_after: 1 }, false),
        (StoreFailure::Malformed, false),
    ] {
        assert_eq!(
            retry_fresh(&step, LoginMethod::Password, failure),
            retry,
            "{failure:?}"
        );
        assert!(
            !retry_fresh(&LoginPlan::Fresh, LoginMethod::Password, failure),
            "{failure:?} fresh"
        );
        // A second factor is only ever added to the session present: refused there (another
        // user's code, the session gone), it is refused, never turned into a new session.
        for method in [LoginMethod::Totp, LoginMethod::EmailOtp] {
            assert!(
                !retry_fresh(&step, method, failure),
                "{method:?} {failure:?}"
            );
        }
    }
}

#[test]
fn judge_login_table() {
    let alice = session("s1", "alice");
    let step = LoginPlan::StepUp {
        session_id: "s1".into(),
    };
    let fresh = LoginPlan::Fresh;
    let replaces = |r: Option<&str>| {
        Ok(LoginOutcome::NewSession {
            replaces: r.map(Into::into),
        })
    };
    type Row<'a> = (
        &'a LoginPlan,
        Option<&'a SessionCookie>,
        &'a str,
        Option<&'a str>,
        &'a str,
        Result<LoginOutcome, u16>,
    );
    let rows: &[Row<'_>] = &[
        (
            &step,
            Some(&alice),
            "alice",
            None,
            "s1",
            Ok(LoginOutcome::SteppedUp),
        ),
        (
            &step,
            Some(&alice),
            "alice",
            Some("s1"),
            "s1",
            Ok(LoginOutcome::SteppedUp),
        ),
        // A store that answers a step-up with another user or another session broke the rule.
        (&step, Some(&alice), "bob", None, "s1", Err(403)),
        (&step, Some(&alice), "alice", None, "s2", Err(403)),
        (&step, None, "alice", None, "s1", Err(403)),
        // The token's sid must name the answered session.
        (&step, Some(&alice), "alice", Some("s9"), "s1", Err(502)),
        (&fresh, None, "alice", Some("s9"), "s2", Err(502)),
        (&fresh, None, "alice", None, "", Err(502)),
        // Fresh logins; the cookie present is replaced.
        (
            &fresh,
            None,
            "alice",
            None,
            "s2",
            Ok(LoginOutcome::NewSession { replaces: None }),
        ),
        (
            &fresh,
            Some(&alice),
            "bob",
            None,
            "s2",
            Ok(LoginOutcome::NewSession {
                replaces: Some("s1".into()),
            }),
        ),
        (
            &fresh,
            Some(&alice),
            "alice",
            Some("s2"),
            "s2",
            Ok(LoginOutcome::NewSession {
                replaces: Some("s1".into()),
            }),
        ),
        (
            &fresh,
            Some(&alice),
            "alice",
            None,
            "s1",
            Ok(LoginOutcome::NewSession { replaces: None }),
        ),
    ];
    for (plan, present, sub, sid, answered, want) in rows {
        let got = judge_login(plan, *present, sub, *sid, answered).map_err(|r| r.status);
        assert_eq!(&got, want, "{plan:?} {present:?} {sub} {sid:?} {answered}");
    }
    assert_eq!(
        judge_login(&fresh, Some(&alice), "bob", None, "s2"),
        replaces(Some("s1"))
    );
}

#[test]
fn refresh_reuse_only_when_newer() {
    assert!(may_reuse_refresh(100, None));
    assert!(may_reuse_refresh(100, Some(99)));
    assert!(!may_reuse_refresh(100, Some(100)));
    assert!(!may_reuse_refresh(100, Some(101)));
}

#[test]
fn logout_fallback_needs_the_edges_own_pair() {
    let Some(c) = config(true) else {
        panic!("test config is valid")
    };
    let alice = session("s-alice", "alice");
    let bob = session("s-bob", "bob");
    let (a_sess, a_access) = cookies(&c, &alice, &UA_A, "tok-alice");
    let (b_sess, _) = cookies(&c, &bob, &UA_B, "tok-bob");
    // The User-Agent changed: the pair still names alice's session.
    assert_eq!(
        logout_fallback_session(&c, Some(&header(&a_sess, &a_access))).as_deref(),
        Some("s-alice")
    );
    // A session cookie alone, or beside an access cookie minted with another one, names
    // nothing (a forged or swapped session cookie cannot end someone else's session).
    assert_eq!(
        logout_fallback_session(&c, Some(&format!("__Host-session={a_sess}"))),
        None
    );
    assert_eq!(
        logout_fallback_session(&c, Some(&header(&b_sess, &a_access))),
        None
    );
    let forged = a_sess.replacen("v2.", "v2.x", 1);
    assert_eq!(
        logout_fallback_session(&c, Some(&header(&forged, &a_access))),
        None
    );
    let Some(gate) = config(false) else {
        panic!("test config is valid")
    };
    assert_eq!(
        logout_fallback_session(&gate, Some(&header(&a_sess, &a_access))),
        None
    );
}

#[test]
fn presented_accessors() {
    let Some(c) = config(true) else {
        panic!("test config is valid")
    };
    let alice = session("s-alice", "alice");
    let (a_sess, a_access) = cookies(&c, &alice, &UA_A, "tok-alice");
    let both = header(&a_sess, &a_access);
    let only = format!("__Host-session={a_sess}");
    // Each shape names its session cookie and, only for a sealed access cookie, its minting
    // time (the revocation check reads both).
    type Row<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a SessionCookie>,
        Option<i64>,
    );
    let rows: [Row<'_>; 4] = [
        (None, Some(&both), Some(&alice), Some(2_000)),
        (None, Some(&only), Some(&alice), None),
        (Some("Bearer abc"), Some(&only), Some(&alice), None),
        (None, None, None, None),
    ];
    for (auth, cookie, want_session, want_minted) in rows {
        let p = present(&c, auth, cookie, &UA_A);
        let Ok(p) = p else {
            panic!("{auth:?} {cookie:?}: {p:?}")
        };
        assert_eq!(
            p.session().map(|s| &s.cookie),
            want_session,
            "{auth:?} {cookie:?}"
        );
        assert_eq!(p.minted_ms(), want_minted, "{auth:?} {cookie:?}");
    }
    // Without sessions, the raw token in the cookie has neither.
    let Some(gate) = config(false) else {
        panic!("test config is valid")
    };
    let p = present(&gate, None, Some("__Host-access=eyJ.eyJ.sig"), &UA_A);
    assert!(
        matches!(&p, Ok(p) if p.session().is_none() && p.minted_ms().is_none()),
        "{p:?}"
    );
}

#[test]
fn malformed_credentials_name_their_reason() {
    let Some(c) = config(true) else {
        panic!("test config is valid")
    };
    let twice = "__Host-access=a; __Host-access=b";
    for (auth, cookie, reason) in [
        (Some("Bearer a b"), None, "malformed_authorization"),
        (None, Some(twice), "duplicate_access_cookie"),
    ] {
        match present(&c, auth, cookie, &UA_A) {
            Err(r) => assert_eq!(
                (r.status, r.error, r.log_reason(), r.clear_session),
                (400, "invalid_request", reason, false),
                "{auth:?} {cookie:?}"
            ),
            Ok(p) => panic!("{auth:?} {cookie:?}: accepted as {p:?}"),
        }
    }
}

#[test]
fn flight_table_retention() {
    let limit = refresh_wait_limit_ms(5_000);
    assert_eq!(limit, 16_000);
    let done = FlightState::Done {
        at_ms: 100_000,
        exp: 200,
    };
    let rows: &[(FlightState, i64, bool)] = &[
        (done, 100_000, true),
        (done, 129_999, true),
        (done, 130_000, false),
        // The token expired before the reuse window closed.
        (
            FlightState::Done {
                at_ms: 100_000,
                exp: 110,
            },
            109_999,
            true,
        ),
        (
            FlightState::Done {
                at_ms: 100_000,
                exp: 110,
            },
            110_000,
            false,
        ),
        (FlightState::Failed, 100_000, false),
        (
            FlightState::Running {
                started_ms: 100_000,
            },
            116_000,
            true,
        ),
        (
            FlightState::Running {
                started_ms: 100_000,
            },
            116_001,
            false,
        ),
    ];
    for (state, now, keep) in rows {
        assert_eq!(
            keep_flight(*state, *now, limit),
            *keep,
            "{state:?} at {now}"
        );
    }
}

#[test]
fn a_refused_second_factor_step_up_is_a_refusal_of_the_code() {
    let step = LoginPlan::StepUp {
        session_id: "s1".into(),
    };
    for method in [LoginMethod::Totp, LoginMethod::EmailOtp] {
        for f in [StoreFailure::SessionGone, StoreFailure::RequestRefused] {
            // Transmit answers another user's session as a 400 `invalid_session`: not a
            // failing store (502) but a code that does not go with this session.
            assert_eq!(
                login_failure(&step, method, f),
                StoreFailure::Refused,
                "{method:?} {f:?}"
            );
            assert_eq!(
                login_failure(&LoginPlan::Fresh, method, f),
                f,
                "fresh: as answered"
            );
        }
        for f in [
            StoreFailure::Timeout,
            StoreFailure::ServerError,
            StoreFailure::Refused,
        ] {
            assert_eq!(login_failure(&step, method, f), f);
        }
    }
    // A password step-up is retried fresh instead; its failures stay as answered.
    for f in [StoreFailure::SessionGone, StoreFailure::RequestRefused] {
        assert_eq!(login_failure(&step, LoginMethod::Password, f), f);
    }
}
