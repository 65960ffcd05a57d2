use std::borrow::Cow;

use serde_json::{json, Value};

use super::*;

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn b(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

#[test]
fn request_bodies_serialise_without_absent_fields() {
    let attrs = ClientAttributes {
        user_agent: Some(b("UA")),
        ip_address: Some(b("203.0.113.1")),
    };
    let rows: Vec<(Value, Value)> = vec![
        (
            to_value(&PasswordAuthenticate {
                username: b("alice"),
                password: b("pw\"x"),
                session_id: Some(b("s1")),
                resource: None,
                client_attributes: Some(attrs.clone()),
            }),
            json!({"username": "alice", "password": "pw\"x", "session_id": "s1",
                   "client_attributes": {"user_agent": "UA", "ip_address": "203.0.113.1"}}),
        ),
        (
            to_value(&PasswordAuthenticate {
                username: b("a"),
                password: b("p"),
                session_id: None,
                resource: Some(b("https://api.example")),
                client_attributes: Some(ClientAttributes::default()),
            }),
            json!({"username": "a", "password": "p", "resource": "https://api.example",
                   "client_attributes": {}}),
        ),
        (
            to_value(&SessionAuthenticate {
                session_id: b("s1"),
                resource: None,
                client_attributes: Some(attrs),
            }),
            json!({"session_id": "s1",
                   "client_attributes": {"user_agent": "UA", "ip_address": "203.0.113.1"}}),
        ),
        (
            to_value(&Logout {
                session_id: b("s1"),
            }),
            json!({"session_id": "s1"}),
        ),
        (
            to_value(&Refresh {
                refresh_token: b("rt"),
            }),
            json!({"refresh_token": "rt"}),
        ),
    ];
    for (got, want) in rows {
        assert_eq!(got, want);
    }
}

#[test]
fn request_bodies_parse_what_either_client_sends() {
    // Transmit's extra fields are ignored; absent optional fields are `None`.
    let p: PasswordAuthenticate<'static> = serde_json::from_str(
        r#"{"username":"alice","password":"p","client_attributes":{"user_agent":"UA"},"claims":{},"org_id":"o"}"#,
    )
    .unwrap();
    assert_eq!(p.username, "alice");
    assert_eq!(p.session_id, None);
    assert_eq!(
        p.client_attributes.and_then(|a| a.user_agent).as_deref(),
        Some("UA")
    );
    let bad: &[&str] = &[
        r#"{"password":"p"}"#,
        r#"{"username":1,"password":"p"}"#,
        r#"{"username":"a","password":"p","session_id":5}"#,
    ];
    for body in bad {
        assert!(
            serde_json::from_str::<PasswordAuthenticate<'static>>(body).is_err(),
            "{body}"
        );
    }
    let s: SessionAuthenticate<'static> =
        serde_json::from_str(r#"{"session_id":"s","resource":"r"}"#).unwrap();
    assert_eq!(
        (s.session_id.as_ref(), s.resource.as_deref()),
        ("s", Some("r"))
    );
    assert!(serde_json::from_str::<Logout<'static>>("{}").is_err());
    assert!(serde_json::from_str::<Refresh<'static>>(r#"{"refresh_token":null}"#).is_err());
}

#[test]
fn token_responses_of_both_shapes() {
    // (body, session_id, refresh_token, id_token, expires_in)
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<u64>,
    );
    let rows: &[Row] = &[
        // The reference store: every field.
        (
            r#"{"access_token":"a.b.c","id_token":"i","refresh_token":"r","token_type":"Bearer","expires_in":3600,"session_id":"s"}"#,
            Some("s"),
            Some("r"),
            Some("i"),
            Some(3600),
        ),
        // Transmit's refresh answer: no session_id.
        (
            r#"{"access_token":"a.b.c","id_token":"i","refresh_token":"r","token_type":"Bearer","expires_in":3600}"#,
            None,
            Some("r"),
            Some("i"),
            Some(3600),
        ),
        // Transmit's ApiTokenResponse: id_token and refresh_token are optional.
        (
            r#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":60,"session_id":"s"}"#,
            Some("s"),
            None,
            None,
            Some(60),
        ),
        // token_type is not read, whatever it is.
        (
            r#"{"access_token":"a.b.c","token_type":7}"#,
            None,
            None,
            None,
            None,
        ),
    ];
    for (body, sid, rt, id, exp) in rows {
        let t: TokenResponse = serde_json::from_str(body).unwrap();
        assert_eq!(t.access_token, "a.b.c");
        assert_eq!(t.session_id.as_deref(), *sid, "{body}");
        assert_eq!(t.refresh_token.as_deref(), *rt, "{body}");
        assert_eq!(t.id_token.as_deref(), *id, "{body}");
        assert_eq!(t.expires_in, *exp, "{body}");
        assert_eq!(t.token_type, None);
    }
    for bad in [
        "{}",
        r#"{"access_token":5}"#,
        r#"{"access_token":"a","expires_in":-1}"#,
    ] {
        assert!(serde_json::from_str::<TokenResponse>(bad).is_err(), "{bad}");
    }
    let written = TokenResponse {
        access_token: "a".into(),
        id_token: Some("i".into()),
        refresh_token: Some("r".into()),
        token_type: Some("Bearer".into()),
        expires_in: Some(3600),
        session_id: Some("s".into()),
    };
    assert_eq!(
        serde_json::to_string(&written).unwrap(),
        r#"{"access_token":"a","id_token":"i","refresh_token":"r","token_type":"Bearer","expires_in":3600,"session_id":"s"}"#
    );
}

#[test]
fn client_token_response() {
    let written = ClientTokenResponse {
        access_token: "ct".into(),
        token_type: Some("Bearer".into()),
        expires_in: 3600,
    };
    let wire = serde_json::to_string(&written).unwrap();
    assert_eq!(
        wire,
        r#"{"access_token":"ct","token_type":"Bearer","expires_in":3600}"#
    );
    let read: ClientTokenResponse = serde_json::from_str(&wire).unwrap();
    assert_eq!((read.access_token.as_str(), read.expires_in), ("ct", 3600));
    assert!(serde_json::from_str::<ClientTokenResponse>(r#"{"access_token":"ct"}"#).is_err());
}

#[test]
fn session_info_of_both_shapes() {
    let written = SessionInfo::from_millis("s1".into(), 1_767_323_045_678, 1_768_532_645_678);
    assert_eq!(
        to_value(&written),
        json!({"session_id": "s1", "start_time": "2026-01-02T03:04:05.678Z",
               "expiration_time": "2026-01-16T03:04:05.678Z"})
    );
    let rows: &[(&str, Option<&str>)] = &[
        // Transmit: an ISO 8601 date-time, read as text.
        (
            r#"{"session_id":"s1","start_time":"2026-01-02T03:04:05Z","expiration_time":"2026-01-16T03:04:05+00:00"}"#,
            Some("2026-01-02T03:04:05Z"),
        ),
        (r#"{"session_id":"s1"}"#, None),
    ];
    for (body, start) in rows {
        let s: SessionInfo = serde_json::from_str(body).unwrap();
        assert_eq!(s.session_id, "s1");
        assert_eq!(s.start_time.as_deref(), *start, "{body}");
    }
    assert!(serde_json::from_str::<Vec<SessionInfo>>(r#"[{"start_time":"x"}]"#).is_err());
}

#[test]
fn limits_and_form_fields() {
    assert_eq!(MAX_BODY_BYTES, 16_384);
    assert_eq!(
        (
            MAX_USERNAME_BYTES,
            MAX_PASSWORD_BYTES,
            MAX_FIELD_BYTES,
            MAX_IP_ADDRESS_BYTES
        ),
        (256, 1024, 1024, 64)
    );
    assert_eq!(
        [
            form::GRANT_TYPE,
            form::CLIENT_CREDENTIALS,
            form::CLIENT_ID,
            form::CLIENT_SECRET
        ],
        [
            "grant_type",
            "client_credentials",
            "client_id",
            "client_secret"
        ]
    );
}
