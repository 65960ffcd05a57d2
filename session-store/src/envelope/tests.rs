use super::*;
use crate::rules::mem::MemStore;

fn env(now: Millis, command: Command) -> Envelope {
    Envelope {
        policy: Policy {
            session_ttl_ms: 1_000_000,
            refresh_max_ms: 2_000_000,
            reuse_grace_ms: 10_000,
            max_sessions: 50,
            login_failures: 2,
            login_window_ms: 60_000,
        },
        now,
        command,
    }
}

#[test]
fn envelopes_round_trip_and_execute() {
    let mut store = MemStore::default();
    let login = env(
        5,
        Command::Authenticate {
            user_id: "u1".into(),
            factor: crate::rules::Factor::Password,
            existing: None,
            new_session_id: "s".into(),
            chain: NewChain {
                refresh_hash: "h".into(),
                audience: "aud".into(),
            },
        },
    );
    let wire = serde_json::to_string(&login).unwrap();
    assert_eq!(serde_json::from_str::<Envelope>(&wire).unwrap(), login);
    let Reply::Issued(i) = execute(&mut store, &login).unwrap() else {
        panic!("login must issue");
    };
    assert_eq!(i.session.expires_at, 1_000_005);
    let reply = execute(
        &mut store,
        &env(
            6,
            Command::Logout {
                session_id: "s".into(),
            },
        ),
    )
    .unwrap();
    assert_eq!(reply, Reply::Done { count: 1 });
    let reply = execute(
        &mut store,
        &env(
            7,
            Command::Logout {
                session_id: "s".into(),
            },
        ),
    )
    .unwrap();
    let wire = serde_json::to_string(&reply).unwrap();
    assert_eq!(
        wire,
        r#"{"result":"rejected","rejection":"session_not_found"}"#
    );
    let reply = execute(&mut store, &env(8, Command::List)).unwrap();
    assert_eq!(reply, Reply::Sessions { sessions: vec![] });
}

#[test]
fn the_largest_valid_envelope_and_reply_fit_their_limits() {
    use crate::config::MAX_SESSIONS_LIMIT;
    use crate::request::{MAX_FIELD_BYTES, MAX_USERNAME_BYTES};
    // Every string of a command at the most the request validation lets through (a user id
    // from the directory is taken as long as a username).
    let field = "x".repeat(MAX_FIELD_BYTES);
    let hash = "f".repeat(64);
    let session_id = format!("s1.{}.{}", "a".repeat(64), "A".repeat(22));
    let login = env(
        i64::MAX,
        Command::Authenticate {
            user_id: "u".repeat(MAX_USERNAME_BYTES),
            factor: crate::rules::Factor::Password,
            existing: Some(field.clone()),
            new_session_id: session_id.clone(),
            chain: NewChain {
                refresh_hash: hash.clone(),
                audience: field.clone(),
            },
        },
    );
    let wire = serde_json::to_vec(&login).unwrap();
    assert!(wire.len() > 2 * MAX_FIELD_BYTES);
    assert!(
        wire.len() <= MAX_ENVELOPE_BYTES,
        "{} > {MAX_ENVELOPE_BYTES}",
        wire.len()
    );
    // A user at the session cap lists every session.
    let session = Session {
        id: session_id,
        user_id: "u".repeat(MAX_USERNAME_BYTES),
        created_at: i64::MAX,
        expires_at: i64::MAX,
        auth_time: i64::MAX,
        amr: ["pwd", "otp", "webauthn", "email", "sms", "totp"]
            .map(String::from)
            .to_vec(),
    };
    let list = Reply::Sessions {
        sessions: vec![session; MAX_SESSIONS_LIMIT as usize],
    };
    let wire = serde_json::to_vec(&list).unwrap();
    assert!(
        wire.len() <= MAX_REPLY_BYTES,
        "{} > {MAX_REPLY_BYTES}",
        wire.len()
    );
}

#[test]
fn a_usernames_object_admits_refuses_and_clears_login_checks() {
    let mut store = MemStore::default();
    let run = |store: &mut MemStore, now, command| execute(store, &env(now, command)).unwrap();
    assert_eq!(
        run(&mut store, 1_000, Command::AdmitLogin),
        Reply::Done { count: 1 }
    );
    assert_eq!(
        run(&mut store, 2_000, Command::AdmitLogin),
        Reply::Done { count: 1 }
    );
    let refused = run(&mut store, 3_000, Command::AdmitLogin);
    assert_eq!(
        serde_json::to_string(&refused).unwrap(),
        r#"{"result":"rejected","rejection":{"too_many_attempts":{"retry_after_secs":58}}}"#
    );
    assert_eq!(
        run(&mut store, 3_000, Command::LoginSucceeded),
        Reply::Done { count: 0 }
    );
    assert_eq!(
        run(&mut store, 3_000, Command::AdmitLogin),
        Reply::Done { count: 1 }
    );
    let wire = serde_json::to_string(&env(0, Command::AdmitLogin)).unwrap();
    assert!(wire.contains(r#""command":{"op":"admit_login"}"#), "{wire}");
    assert!(wire.contains(r#""login_failures":2"#), "{wire}");
}

#[test]
fn the_answer_carries_what_the_operation_ended() {
    let mut store = MemStore::default();
    let login = |now, sid: &str| {
        env(
            now,
            Command::Authenticate {
                user_id: "u1".into(),
                factor: crate::rules::Factor::Password,
                existing: None,
                new_session_id: sid.into(),
                chain: NewChain {
                    refresh_hash: format!("h-{sid}"),
                    audience: "aud".into(),
                },
            },
        )
    };
    let a = execute_recorded(&mut store, &login(5, "s")).unwrap();
    assert!(a.ended.is_empty());
    assert_eq!(
        serde_json::from_str::<Answer>(&serde_json::to_string(&a).unwrap()).unwrap(),
        a
    );
    let a = execute_recorded(
        &mut store,
        &env(
            6,
            Command::Logout {
                session_id: "s".into(),
            },
        ),
    )
    .unwrap();
    assert_eq!(a.reply, Reply::Done { count: 1 });
    assert_eq!(a.ended.sessions, vec!["s".to_owned()]);
    let wire = serde_json::to_string(&a).unwrap();
    assert_eq!(
        wire,
        r#"{"reply":{"result":"done","count":1},"ended":{"sessions":["s"]}}"#
    );
    // Expired sessions found by the next login are ended too.
    execute_recorded(&mut store, &login(7, "t")).unwrap();
    let a = execute_recorded(&mut store, &login(2_000_000, "u")).unwrap();
    assert_eq!(a.ended.sessions, vec!["t".to_owned()]);
    let a = execute_recorded(&mut store, &env(2_000_001, Command::RevokeAll)).unwrap();
    assert_eq!(a.reply, Reply::Done { count: 1 });
    assert!(a.ended.all);
    assert_eq!(serde_json::to_string(&a.ended).unwrap(), r#"{"all":true}"#);
}

#[test]
fn recording_changes_nothing_the_operations_do() {
    // The same envelopes on two stores, one through the recorder: the same replies and the
    // same state after each (every call of the recorder reaches the store).
    let (mut plain, mut recorded) = (MemStore::default(), MemStore::default());
    let chain = |h: &str| NewChain {
        refresh_hash: h.into(),
        audience: "aud".into(),
    };
    let login = |sid: &str, h: &str, existing: Option<&str>| Command::Authenticate {
        user_id: "u1".into(),
        factor: crate::rules::Factor::Password,
        existing: existing.map(Into::into),
        new_session_id: sid.into(),
        chain: chain(h),
    };
    let refresh = |presented: &str, new: &str| Command::Refresh {
        presented_hash: presented.into(),
        refresh_hash: new.into(),
    };
    let steps: Vec<(Millis, Command)> = vec![
        (1, login("s1", "h1", None)),
        (2, login("s2", "h2", None)),
        (3, login("s1", "h3", Some("s1"))),
        (
            4,
            Command::SessionAuthenticate {
                session_id: "s2".into(),
                chain: chain("h4"),
            },
        ),
        (5, refresh("h1", "h5")),
        (6, refresh("h1", "h6")),      // within grace: a sibling
        (7, refresh("h6", "h7")),      // supersedes h5
        (20_000, refresh("h5", "h8")), // reuse: s1 ends
        (20_001, Command::List),
        (20_002, refresh("h4", "h9")),
        (
            20_003,
            Command::Logout {
                session_id: "s2".into(),
            },
        ),
        (20_004, login("s3", "h10", None)),
        (2_000_000, Command::List), // s3 expired
        (2_000_001, login("s4", "h11", None)),
        (2_000_002, Command::RevokeAll),
        (2_000_003, Command::List),
    ];
    for (now, command) in steps {
        let e = env(now, command);
        let want = execute(&mut plain, &e).unwrap();
        let got = execute_recorded(&mut recorded, &e).unwrap();
        assert_eq!(got.reply, want, "{e:?}");
        assert_eq!(recorded.sessions, plain.sessions, "{e:?}");
        assert_eq!(recorded.tokens, plain.tokens, "{e:?}");
    }
}
