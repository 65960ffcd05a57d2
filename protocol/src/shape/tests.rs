use super::*;
use crate::error::code;

#[test]
fn wire_json_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/wire.json");
    let want = wire_json();
    if std::env::var_os("UPDATE_WIRE_JSON").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "protocol/wire.json is stale: run `UPDATE_WIRE_JSON=1 cargo test -p edge-session-protocol`\n{want}"
    );
}

#[test]
fn reference_codes_are_the_store_codes() {
    let r = Shape::REFERENCE;
    let rows: &[(Refusal, u16, &str)] = &[
        (r.missing_client_token, 401, code::UNAUTHORIZED),
        (r.invalid_client, 401, code::INVALID_CLIENT),
        (r.invalid_request, 400, code::INVALID_REQUEST),
        (r.wrong_password, 401, code::AUTH_INVALID_CREDENTIALS),
        (r.unknown_user, 401, code::AUTH_INVALID_CREDENTIALS),
        (r.session_gone, 400, code::SESSION_NOT_FOUND),
        (r.foreign_session, 400, code::SESSION_NOT_FOUND),
        (r.logout_gone, 400, code::SESSION_NOT_FOUND),
        (r.dead_refresh_token, 400, code::INVALID_REFRESH_TOKEN),
        (r.unknown_user_sessions, 404, code::USER_NOT_FOUND),
    ];
    for (refusal, status, code) in rows {
        assert_eq!(*refusal, super::refusal(*status, Code::Text(code)));
    }
    assert_eq!(
        r.refresh_reused,
        Some(super::refusal(400, Code::Text(code::REFRESH_TOKEN_REUSED)))
    );
}

#[test]
fn the_shapes_differ_where_transmit_documents_it() {
    let (r, t) = (Shape::REFERENCE, Shape::TRANSMIT);
    assert!(
        r.sid_claim && !t.sid_claim,
        "Transmit's access tokens carry no sid"
    );
    assert!(r.refresh_answers_session_id && !t.refresh_answers_session_id);
    assert!(!r.message_may_be_list && t.message_may_be_list);
    assert_eq!((r.base_path, t.base_path), ("", "/cis"));
    assert_eq!(t.refresh_reused, None);
    // Numeric codes only in Transmit's shape.
    let numeric = |s: &Shape| {
        [
            s.missing_client_token,
            s.invalid_request,
            s.session_gone,
            s.dead_refresh_token,
        ]
        .iter()
        .filter(|f| matches!(f.code, Code::Number(_)))
        .count()
    };
    assert_eq!((numeric(&r), numeric(&t)), (0, 4));
    // The same refusal class either way: the edge maps both alike.
    assert_eq!(r.wrong_password, t.wrong_password);
    assert_eq!(r.invalid_client, t.invalid_client);
    assert_eq!(r.unknown_user_sessions, t.unknown_user_sessions);
}
