use super::*;

use crate::gate::tests_support::claims;
use crate::rejection::BodyFault;

fn fields(a: &Audit) -> serde_json::Value {
    serde_json::from_str(&a.line("ray-1", Some("198.51.100.23"))).unwrap_or_default()
}

#[test]
fn the_request_id_is_cf_ray_else_the_adapters_random_one() {
    let mut drew = false;
    let id = request_id(Some("8c5a1b2c3d4e5f60-AMS"), || {
        drew = true;
        [9; 8]
    });
    assert_eq!(id, "8c5a1b2c3d4e5f60-AMS");
    assert!(!drew, "no randomness drawn when cf-ray is there");
    assert_eq!(request_id(None, || [0xab; 8]), "local-abababababababab");
    // A hostile cf-ray (only a client reaching workerd directly can send one) is not used.
    for bad in ["x\"}", "a b", "\u{7f}", &"a".repeat(65)] {
        assert_eq!(request_id(Some(bad), || [1; 8]), "local-0101010101010101");
    }
}

#[test]
fn host_names_no_path_query_or_credentials() {
    let rows = [
        (
            "https://store.example/cis/oidc/jwks?x=secret",
            "store.example",
        ),
        ("http://127.0.0.1:8788/oidc/jwks", "127.0.0.1:8788"),
        (
            "https://user:pass@idp.example:8443/keys#f",
            "idp.example:8443",
        ),
        ("https://[2001:db8::1]:9000/", "[2001:db8::1]:9000"),
    ];
    for (url, want) in rows {
        let url = url::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(host(&url), want);
    }
}

#[test]
fn the_refresh_grant() {
    let c = claims("alice", Some("s-1"));
    let ok = refresh_grant(Ok(&c));
    assert_eq!(
        ok,
        Audit::new(Event::Refresh, Outcome::Success, "refresh_grant")
            .subject(Some("alice"))
            .session(Some("s-1"))
    );
    let refused = Rejection::store(StoreFailure::Refused);
    let a = refresh_grant(Err(&refused));
    assert_eq!(
        (a.event(), a.outcome(), a.reason()),
        (Event::Refresh, Outcome::Failure, "credentials_refused")
    );
    // A reused refresh token is its own event, at level error.
    let reused = Rejection::store(StoreFailure::RefreshReused);
    let a = refresh_grant(Err(&reused));
    assert_eq!(
        (a.event(), a.outcome(), a.reason(), a.level()),
        (
            Event::RefreshReuseDetected,
            Outcome::Failure,
            "refresh_token_reused",
            Level::Error
        )
    );
    let v = fields(&a);
    assert_eq!(v["event"], "refresh_reuse_detected");
    assert_eq!(v["level"], "error");
    assert_eq!(v["client_prefix"], "198.51.100.0/24");
    let bad = Rejection::new(Reason::Body(BodyFault::RefreshJson));
    assert_eq!(refresh_grant(Err(&bad)).reason(), "refresh_json");
}

#[test]
fn logouts() {
    let out = |all, had, edge, store| LoggedOut {
        all_sessions: all,
        had_session: had,
        revoked_at_edge: edge,
        store_logged_out: store,
    };
    let rows = [
        (
            out(false, true, true, true),
            Event::Logout,
            Outcome::Success,
            "logged_out",
        ),
        (
            out(false, false, false, false),
            Event::Logout,
            Outcome::Failure,
            "no_session",
        ),
        (
            out(false, true, false, true),
            Event::Logout,
            Outcome::Failure,
            "kv_write_failed",
        ),
        (
            out(false, true, false, false),
            Event::Logout,
            Outcome::Failure,
            "kv_write_failed",
        ),
        (
            out(false, true, true, false),
            Event::Logout,
            Outcome::Failure,
            "store_logout_failed",
        ),
        (
            out(true, true, true, true),
            Event::LogoutAll,
            Outcome::Success,
            "logged_out_everywhere",
        ),
        (
            out(true, true, true, false),
            Event::LogoutAll,
            Outcome::Failure,
            "store_logout_failed",
        ),
    ];
    for (o, event, outcome, reason) in rows {
        let a = logout(&o, Some("alice"), Some("s-1"));
        assert_eq!(
            a,
            Audit::new(event, outcome, reason)
                .subject(Some("alice"))
                .session(Some("s-1")),
            "{o:?}"
        );
        let v = fields(&a);
        assert_eq!(v["subject_hash"], id_hash("alice"));
        assert_eq!(v["session_hash"], id_hash("s-1"));
    }
}

#[test]
fn revocation_throttle_and_webhook_lines() {
    let a = session_revoked("ended_from_other_device", true, Some("bob"), Some("s-9"));
    let v = fields(&a);
    assert_eq!(
        (
            v["event"].as_str(),
            v["outcome"].as_str(),
            v["reason"].as_str()
        ),
        (
            Some("session_revoked"),
            Some("success"),
            Some("ended_from_other_device")
        )
    );
    assert_eq!(v["session_hash"], id_hash("s-9"));
    let a = session_revoked("replaced_by_login", false, None, Some("s-9"));
    assert_eq!((a.outcome(), a.level()), (Outcome::Failure, Level::Warn));

    let v = fields(&throttled("username_limit", None));
    assert_eq!(v["event"], "throttled");
    assert_eq!(v["outcome"], "failure");
    assert_eq!(v["reason"], "username_limit");
    assert_eq!(v["level"], "warn");
    assert_eq!(v["subject_hash"], serde_json::Value::Null);

    let v = fields(&webhook_revocation(Ok("user"), Some("carol"), None));
    assert_eq!(v["event"], "webhook_revocation");
    assert_eq!(v["outcome"], "success");
    assert_eq!(v["reason"], "user");
    assert_eq!(v["subject_hash"], id_hash("carol"));
    let v = fields(&webhook_revocation(Err("bad_mac"), None, None));
    assert_eq!(v["outcome"], "failure");
    assert_eq!(v["reason"], "bad_mac");
}

#[test]
fn a_webhook_call_writes_one_line_per_id_or_its_refusal() {
    let r = Revocations {
        session_ids: vec!["s-1".into(), "s-2".into()],
        user_ids: vec!["carol".into()],
    };
    let lines: Vec<_> = webhook(Ok(&r)).iter().map(fields).collect();
    assert_eq!(lines.len(), 3);
    for (v, reason, session, subject) in [
        (
            &lines[0],
            "session",
            id_hash("s-1").into(),
            serde_json::Value::Null,
        ),
        (
            &lines[1],
            "session",
            id_hash("s-2").into(),
            serde_json::Value::Null,
        ),
        (
            &lines[2],
            "user",
            serde_json::Value::Null,
            id_hash("carol").into(),
        ),
    ] {
        assert_eq!(v["event"], "webhook_revocation");
        assert_eq!(v["outcome"], "success");
        assert_eq!(v["reason"], reason);
        assert_eq!(v["session_hash"], session);
        assert_eq!(v["subject_hash"], subject);
    }
    let refused = Rejection::new(Reason::Webhook(crate::webhook::WebhookFault::Replayed));
    let lines: Vec<_> = webhook(Err(&refused)).iter().map(fields).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["outcome"], "failure");
    assert_eq!(lines[0]["reason"], refused.reason.code());
    assert_eq!(lines[0]["session_hash"], serde_json::Value::Null);
    let none = Revocations {
        session_ids: vec![],
        user_ids: vec![],
    };
    assert!(webhook(Ok(&none)).is_empty());
}

#[test]
fn a_refusal_names_its_reason_code() {
    let r = Rejection::new(Reason::Revoked);
    let a = refused(Event::LogoutAll, &r, Some("alice"), None);
    assert_eq!(
        (a.event(), a.outcome(), a.reason()),
        (Event::LogoutAll, Outcome::Failure, "revoked")
    );
    // A throttled login, by the edge or the store.
    let by_edge = Rejection::new(Reason::LoginThrottled {
        by: crate::throttle::Counter::Ip,
        retry_after: 60,
    });
    let a = refused(Event::Login, &by_edge, None, None);
    assert_eq!(
        (a.event(), a.outcome(), a.reason(), a.level()),
        (
            Event::Throttled,
            Outcome::Failure,
            "login_throttled_ip",
            Level::Warn
        )
    );
    let by_store = Rejection::store(StoreFailure::TooManyAttempts { retry_after: 60 });
    assert_eq!(
        refused(Event::Login, &by_store, None, None).event(),
        Event::Throttled
    );
    // A refusal for the counters being down is a login failure, not a throttle.
    let down = Rejection::new(Reason::ThrottleUnavailable);
    assert_eq!(
        refused(Event::Login, &down, None, None).event(),
        Event::Login
    );
    // Only a refresh's store refusal of a reused token changes the event.
    let reused = Rejection::store(StoreFailure::RefreshReused);
    assert_eq!(
        refused(Event::Refresh, &reused, None, None).event(),
        Event::RefreshReuseDetected
    );
}

#[test]
fn no_line_holds_the_ids_or_the_credentials_it_was_built_from() {
    // Subject and session ids as a store might issue them, and a token and refresh token of
    // the claims: none of them, nor a long piece of them, in any line.
    let subject = "user-0f9e8d7c6b5a";
    let session = "s1.0123456789abcdef0123456789abcdef.ZmFrZS1zZXNzaW9u";
    let mut c = (*claims(subject, Some(session))).clone();
    c.jti = Some("jti-not-for-logs-123".into());
    let lines = [
        refresh_grant(Ok(&c)).line("r", Some("203.0.113.5")),
        logout(
            &LoggedOut {
                all_sessions: false,
                had_session: true,
                revoked_at_edge: true,
                store_logged_out: true,
            },
            Some(subject),
            Some(session),
        )
        .line("r", None),
        session_revoked("replaced_by_login", true, Some(subject), Some(session)).line("r", None),
        webhook_revocation(Ok("session"), Some(subject), Some(session)).line("r", None),
    ];
    for l in lines {
        for secret in [
            subject,
            session,
            "0123456789abcdef0123",
            "ZmFrZS1zZXNzaW9u",
            "jti-not",
        ] {
            assert!(!l.contains(secret), "{secret} in {l}");
        }
        assert!(!l.contains("203.0.113.5"), "the address itself: {l}");
    }
}

#[test]
fn error_names_are_plain_identifiers() {
    assert_eq!(error_name("TypeError"), Some("TypeError"));
    assert_eq!(error_name("TimeoutError"), Some("TimeoutError"));
    for bad in [
        "",
        "Type Error",
        "x\"}",
        "https://a/?token=x",
        &"E".repeat(41),
    ] {
        assert_eq!(error_name(bad), None, "{bad:?}");
    }
}
