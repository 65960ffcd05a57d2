use super::*;

#[test]
fn routes() {
    let table: &[(&str, &str, Result<Route, ApiError>)] = &[
        ("POST", "/oidc/token", Ok(Route::ClientToken)),
        (
            "GET",
            "/oidc/token",
            Err(ApiError::MethodNotAllowed("POST")),
        ),
        (
            "POST",
            "/v1/auth/password/authenticate",
            Ok(Route::PasswordAuthenticate),
        ),
        (
            "POST",
            "/v1/auth/session/authenticate",
            Ok(Route::SessionAuthenticate),
        ),
        (
            "POST",
            "/v1/auth/totp/authenticate",
            Ok(Route::TotpAuthenticate),
        ),
        ("POST", "/v1/auth/otp/send", Ok(Route::OtpSend)),
        (
            "GET",
            "/dev/mailbox/user%2Dalice",
            Ok(Route::DevMailbox("user-alice".into())),
        ),
        ("GET", "/dev/mailbox/", Err(ApiError::NotFound)),
        ("GET", "/dev/mailbox/a%2Fb", Err(ApiError::NotFound)),
        (
            "POST",
            "/dev/mailbox/u",
            Err(ApiError::MethodNotAllowed("GET, HEAD")),
        ),
        (
            "POST",
            "/v1/auth/otp/authenticate",
            Ok(Route::OtpAuthenticate),
        ),
        (
            "GET",
            "/v1/auth/totp/authenticate",
            Err(ApiError::MethodNotAllowed("POST")),
        ),
        ("POST", "/v1/auth/token/refresh", Ok(Route::Refresh)),
        ("POST", "/v1/auth/session/logout", Ok(Route::Logout)),
        ("GET", "/oidc/jwks", Ok(Route::Jwks)),
        ("HEAD", "/oidc/jwks", Ok(Route::Jwks)),
        (
            "GET",
            "/oidc/.well-known/openid-configuration",
            Ok(Route::Discovery),
        ),
        (
            "GET",
            "/v1/auth/users/u%2D1/sessions",
            Ok(Route::ListSessions("u-1".into())),
        ),
        (
            "DELETE",
            "/v1/auth/users/u1/sessions",
            Ok(Route::RevokeSessions("u1".into())),
        ),
        (
            "PUT",
            "/v1/auth/users/u1/sessions",
            Err(ApiError::MethodNotAllowed("GET, HEAD, DELETE")),
        ),
        // A path is not a form: `+` is a plus sign there (a user id like `a+b@x.test`), and
        // only `%20` is a space.
        (
            "GET",
            "/v1/auth/users/a+b/sessions",
            Ok(Route::ListSessions("a+b".into())),
        ),
        (
            "GET",
            "/v1/auth/users/a%2Bb%20c/sessions",
            Ok(Route::ListSessions("a+b c".into())),
        ),
        ("GET", "/v1/auth/users//sessions", Err(ApiError::NotFound)),
        (
            "GET",
            "/v1/auth/users/a/b/sessions",
            Err(ApiError::NotFound),
        ),
        (
            "GET",
            "/v1/auth/users/%0a/sessions",
            Err(ApiError::NotFound),
        ),
        ("GET", "/", Err(ApiError::NotFound)),
    ];
    for (method, path, want) in table {
        assert_eq!(&classify(method, path), want, "{method} {path}");
    }
    assert!(!Route::Jwks.needs_client_token());
    assert!(Route::Logout.needs_client_token());
}

#[test]
fn error_bodies() {
    let e = ApiError::SessionNotFound;
    let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
    assert_eq!(v["message"], "Session not found");
    assert_eq!(v["error_code"], "session_not_found");
    assert_eq!(e.status(), 400);
    assert_eq!(ApiError::InvalidCredentials.status(), 401);
    assert_eq!(ApiError::PayloadTooLarge.status(), 413);
    assert_eq!(ApiError::SessionNotFound.retry_after(), None);
}

#[test]
fn too_many_attempts_is_a_429_with_retry_after_in_transmits_error_shape() {
    let e = ApiError::TooManyAttempts(840);
    assert_eq!((e.status(), e.retry_after()), (429, Some(840)));
    let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "message": "Too many failed login attempts; retry later",
            "error_code": "too_many_attempts",
        })
    );
}

#[test]
fn a_reuse_answer_names_the_session_it_ended() {
    let e = ApiError::RefreshTokenReused(Some("s1.abc".into()));
    assert_eq!(e.status(), 400);
    assert_eq!(
        e.body(),
        r#"{"message":"Refresh token reuse detected; the session is ended","error_code":"refresh_token_reused","session_id":"s1.abc"}"#
    );
    assert_eq!(
        edge_session_protocol::error::reused_session(e.body().as_bytes(), 512).as_deref(),
        Some("s1.abc")
    );
    let bare = ApiError::RefreshTokenReused(None);
    assert!(!bare.body().contains("session_id"));
    assert!(!ApiError::SessionNotFound.body().contains("session_id"));
}

#[test]
fn second_factor_errors_have_transmit_codes() {
    assert_eq!(ApiError::PasscodeExpired.status(), 401);
    assert_eq!(
        ApiError::PasscodeExpired.code(),
        "auth_otp_passcode_expired"
    );
    let e = ApiError::UnsupportedChannel("channel");
    assert_eq!((e.status(), e.code()), (400, "unsupported_channel"));
    assert_eq!(e.message(), "Unsupported channel");
}
