use super::*;

#[test]
fn token_states_keep_their_stored_names() {
    // The names are stored in every user's SQL table: renaming one orphans stored tokens.
    let all = [
        (TokenState::Active, "active"),
        (TokenState::Rotated, "rotated"),
        (TokenState::Superseded, "superseded"),
    ];
    for (state, name) in all {
        assert_eq!(state.as_str(), name);
        assert_eq!(TokenState::parse(name), Some(state));
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::json!(name),
            "the envelope uses the same names"
        );
    }
    for unknown in ["", "Active", "ACTIVE", "revoked", "active ", "xyzzy"] {
        assert_eq!(TokenState::parse(unknown), None, "{unknown:?}");
    }
}

#[test]
fn a_policy_without_a_cap_gets_the_default() {
    let p: Policy =
        serde_json::from_str(r#"{"session_ttl_ms":1,"refresh_max_ms":2,"reuse_grace_ms":3}"#)
            .unwrap();
    assert_eq!(p.max_sessions, DEFAULT_MAX_SESSIONS);
    assert_eq!(DEFAULT_MAX_SESSIONS, 50);
    assert_eq!(
        (p.login_failures, p.login_window_ms),
        (DEFAULT_LOGIN_FAILURES, DEFAULT_LOGIN_WINDOW_MS)
    );
    assert_eq!(
        (DEFAULT_LOGIN_FAILURES, DEFAULT_LOGIN_WINDOW_MS),
        (10, 900_000)
    );
    let p: Policy = serde_json::from_str(
        r#"{"session_ttl_ms":1,"refresh_max_ms":2,"reuse_grace_ms":3,"max_sessions":7}"#,
    )
    .unwrap();
    assert_eq!(p.max_sessions, 7);
}
