use super::*;

#[test]
fn error_bodies_of_both_shapes() {
    // (body, code text, numeric, message)
    let rows: &[(&str, &str, bool, ErrorMessage)] = &[
        (
            r#"{"message":"Session not found","error_code":"session_not_found"}"#,
            "session_not_found",
            false,
            ErrorMessage::Text("Session not found".into()),
        ),
        (
            r#"{"message":"Unauthorized","error_code":401}"#,
            "401",
            true,
            ErrorMessage::Text("Unauthorized".into()),
        ),
        (
            r#"{"message":["username must be a string","password must be a string"],"error_code":400}"#,
            "400",
            true,
            ErrorMessage::List(vec![
                "username must be a string".into(),
                "password must be a string".into(),
            ]),
        ),
    ];
    for (body, code, numeric, message) in rows {
        let e: ErrorBody = serde_json::from_str(body).unwrap();
        assert_eq!(e.error_code.as_str(), *code, "{body}");
        assert_eq!(e.error_code.is_numeric(), *numeric, "{body}");
        assert_eq!(&e.message, message, "{body}");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            *body,
            "written back as read"
        );
    }
    assert_eq!(
        ErrorBody::new("Session not found", code::SESSION_NOT_FOUND).to_json(),
        r#"{"message":"Session not found","error_code":"session_not_found"}"#
    );
}

#[test]
fn error_code_reads_any_body() {
    let rows: &[(&[u8], Option<&str>)] = &[
        (
            br#"{"message":"m","error_code":"invalid_request"}"#,
            Some("invalid_request"),
        ),
        (br#"{"error_code":400}"#, Some("400")),
        (br#"{"error_code":-1}"#, Some("-1")),
        (br#"{"error_code":400.5}"#, None),
        (
            br#"{"message":["a"],"error_code":"auth_locked"}"#,
            Some("auth_locked"),
        ),
        (br#"{"error_code":null}"#, None),
        (br#"{"error_code":true}"#, None),
        (br#"{"message":"m"}"#, None),
        (b"<html>", None),
        (b"", None),
    ];
    for (body, want) in rows {
        assert_eq!(
            error_code(body).as_ref().map(ErrorCode::as_str),
            *want,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn code_classes() {
    // (code, validation, credential)
    let rows: &[(ErrorCode, bool, bool)] = &[
        (ErrorCode::text("invalid_request"), true, false),
        (ErrorCode::text("INVALID_REQUEST"), true, false),
        (ErrorCode::text("bad_request"), true, false),
        (ErrorCode::text("validation_error"), true, false),
        (ErrorCode::text("invalid_resource"), true, false),
        (ErrorCode::text("unsupported_media_type"), true, false),
        (ErrorCode::text("payload_too_large"), true, false),
        (ErrorCode::text("auth_invalid_credentials"), false, true),
        (ErrorCode::text("AUTH_LOCKED"), false, true),
        (ErrorCode::text("auth_otp_passcode_expired"), false, true),
        (ErrorCode::text("invalid_credentials"), false, true),
        (ErrorCode::text("user_not_found"), false, true),
        (ErrorCode::text("session_not_found"), false, true),
        (ErrorCode::text("invalid_refresh_token"), false, false),
        (ErrorCode::text("not_found"), false, false),
        (ErrorCode::number(400), false, false),
        (ErrorCode::number(401), false, false),
    ];
    for (code, validation, credential) in rows {
        assert_eq!(code.is_validation(), *validation, "{code:?}");
        assert_eq!(code.is_credential(), *credential, "{code:?}");
    }
    // A code spelt as digits in a string stays a string.
    assert_eq!(
        serde_json::to_string(&ErrorCode::text("400")).unwrap(),
        r#""400""#
    );
    assert_eq!(
        serde_json::to_string(&ErrorCode::number(400)).unwrap(),
        "400"
    );
}

#[test]
fn a_reuse_answer_names_its_session_and_nothing_else_does() {
    let reused = ErrorBody::new("reuse", code::REFRESH_TOKEN_REUSED).with_session("sess-1");
    assert_eq!(
        reused.to_json(),
        r#"{"message":"reuse","error_code":"refresh_token_reused","session_id":"sess-1"}"#
    );
    // Without a session the field is left out (Transmit's shape).
    assert_eq!(
        ErrorBody::new("x", "y").to_json(),
        r#"{"message":"x","error_code":"y"}"#
    );
    let rows: &[(&str, Option<&str>)] = &[
        (&reused.to_json(), Some("sess-1")),
        (
            r#"{"message":["a"],"error_code":"refresh_token_reused","session_id":"s"}"#,
            Some("s"),
        ),
        // Another code, a numeric code, no session, an odd session id: none.
        (
            r#"{"message":"x","error_code":"invalid_refresh_token","session_id":"s"}"#,
            None,
        ),
        (r#"{"message":"x","error_code":400,"session_id":"s"}"#, None),
        (
            r#"{"message":"x","error_code":"refresh_token_reused"}"#,
            None,
        ),
        (
            r#"{"message":"x","error_code":"refresh_token_reused","session_id":""}"#,
            None,
        ),
        (
            r#"{"message":"x","error_code":"refresh_token_reused","session_id":"a b"}"#,
            None,
        ),
        (
            r#"{"message":"x","error_code":"refresh_token_reused","session_id":7}"#,
            None,
        ),
        ("not json", None),
    ];
    for (body, want) in rows {
        assert_eq!(
            reused_session(body.as_bytes(), 16).as_deref(),
            *want,
            "{body}"
        );
    }
    // The length bound is inclusive.
    let at = |n: usize| {
        ErrorBody::new("r", code::REFRESH_TOKEN_REUSED)
            .with_session("s".repeat(n))
            .to_json()
    };
    assert!(reused_session(at(16).as_bytes(), 16).is_some());
    assert!(reused_session(at(17).as_bytes(), 16).is_none());
}
