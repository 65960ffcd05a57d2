use super::*;
use crate::rules::mem::MemStore;

fn env(now: Millis, command: Command) -> Envelope {
    Envelope {
        policy: Policy {
            session_ttl_ms: 1_000_000,
            refresh_max_ms: 2_000_000,
            reuse_grace_ms: 10_000,
            max_sessions: 50,
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
            method: "pwd".into(),
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
