#![allow(clippy::type_complexity)] // the table is tuples, one row per case

use super::*;

use edge_session_protocol::audit::id_hash;

fn seen(subject: Option<&str>, session: Option<&str>, step_up: bool) -> Seen {
    Seen {
        subject: subject.map(Into::into),
        session: session.map(Into::into),
        step_up,
        client_ip: None,
    }
}

#[test]
fn each_route_writes_its_event() {
    let s = seen(Some("user-alice"), Some("s-1"), false);
    let rows: Vec<(Route, bool, Result<(), ApiError>, Event, Outcome, &str)> = vec![
        (
            Route::PasswordAuthenticate,
            false,
            Ok(()),
            Event::Login,
            Outcome::Success,
            "login",
        ),
        (
            Route::PasswordAuthenticate,
            false,
            Err(ApiError::InvalidCredentials),
            Event::Login,
            Outcome::Failure,
            "auth_invalid_credentials",
        ),
        (
            Route::PasswordAuthenticate,
            true,
            Ok(()),
            Event::StepUp,
            Outcome::Success,
            "step_up",
        ),
        (
            Route::PasswordAuthenticate,
            true,
            Err(ApiError::SessionNotFound),
            Event::StepUp,
            Outcome::Failure,
            "session_not_found",
        ),
        // The second factors write the same events as a password.
        (
            Route::TotpAuthenticate,
            true,
            Ok(()),
            Event::StepUp,
            Outcome::Success,
            "step_up",
        ),
        (
            Route::TotpAuthenticate,
            false,
            Err(ApiError::InvalidCredentials),
            Event::Login,
            Outcome::Failure,
            "auth_invalid_credentials",
        ),
        (
            Route::OtpAuthenticate,
            true,
            Err(ApiError::PasscodeExpired),
            Event::StepUp,
            Outcome::Failure,
            "auth_otp_passcode_expired",
        ),
        (
            Route::OtpAuthenticate,
            false,
            Ok(()),
            Event::Login,
            Outcome::Success,
            "login",
        ),
        (
            Route::SessionAuthenticate,
            false,
            Ok(()),
            Event::Refresh,
            Outcome::Success,
            "session_authenticate",
        ),
        (
            Route::Refresh,
            false,
            Ok(()),
            Event::Refresh,
            Outcome::Success,
            "refresh_grant",
        ),
        (
            Route::Refresh,
            false,
            Err(ApiError::InvalidRefreshToken),
            Event::Refresh,
            Outcome::Failure,
            "invalid_refresh_token",
        ),
        (
            Route::Refresh,
            false,
            Err(ApiError::RefreshTokenReused(None)),
            Event::RefreshReuseDetected,
            Outcome::Failure,
            "refresh_token_reused",
        ),
        (
            Route::Logout,
            false,
            Ok(()),
            Event::Logout,
            Outcome::Success,
            "logged_out",
        ),
        (
            Route::RevokeSessions("user-alice".into()),
            false,
            Ok(()),
            Event::SessionRevoked,
            Outcome::Success,
            "revoke_all",
        ),
        (
            Route::Logout,
            false,
            Err(ApiError::Unauthorized),
            Event::Logout,
            Outcome::Failure,
            "unauthorized",
        ),
    ];
    for (route, step_up, result, event, outcome, reason) in rows {
        let s = Seen {
            step_up,
            ..s.clone()
        };
        let a = audit(&route, result.as_ref().map(|_| ()), &s);
        assert_eq!(
            a,
            Some(
                Audit::new(event, outcome, reason)
                    .subject(Some("user-alice"))
                    .session(Some("s-1"))
            ),
            "{route:?} {result:?}"
        );
    }
    let reused = audit(
        &Route::Refresh,
        Err(&ApiError::RefreshTokenReused(None)),
        &s,
    );
    assert_eq!(reused.map(|a| a.level()), Some(Level::Error));
}

#[test]
fn a_reuse_names_the_session_it_ended_when_the_refresh_had_not() {
    let ended = ApiError::RefreshTokenReused(Some("s-9".into()));
    let want = |session| {
        Some(
            Audit::new(
                Event::RefreshReuseDetected,
                Outcome::Failure,
                "refresh_token_reused",
            )
            .subject(Some("user-alice"))
            .session(Some(session)),
        )
    };
    let unknown = seen(Some("user-alice"), None, false);
    assert_eq!(audit(&Route::Refresh, Err(&ended), &unknown), want("s-9"));
    let known = seen(Some("user-alice"), Some("s-1"), false);
    assert_eq!(audit(&Route::Refresh, Err(&ended), &known), want("s-1"));
}

#[test]
fn routes_that_are_no_security_event_write_none() {
    let s = Seen::default();
    for route in [
        Route::ClientToken,
        Route::ListSessions("u".into()),
        Route::OtpSend,
        Route::DevMailbox("u".into()),
        Route::Jwks,
        Route::Discovery,
    ] {
        assert_eq!(audit(&route, Ok(()), &s), None, "{route:?}");
        assert_eq!(
            audit(&route, Err(&ApiError::Internal), &s),
            None,
            "{route:?}"
        );
    }
}

#[test]
fn lines_hash_the_ids() {
    let s = seen(
        Some("user-alice"),
        Some("s1.abcdef0123456789.secret-part"),
        false,
    );
    let Some(a) = audit(&Route::Logout, Ok(()), &s) else {
        panic!("a logout line")
    };
    let line = a.line("ray", Some("192.0.2.77"));
    assert!(
        !line.contains("user-alice") && !line.contains("secret-part"),
        "{line}"
    );
    assert!(
        line.contains(&id_hash("s1.abcdef0123456789.secret-part")),
        "{line}"
    );
    assert!(
        line.contains("192.0.2.0/24") && !line.contains("192.0.2.77"),
        "{line}"
    );
    let cap = session_cap("user-bob").line("ray", None);
    assert!(
        cap.contains("\"session_cap\"") && cap.contains(&id_hash("user-bob")),
        "{cap}"
    );
    assert!(!cap.contains("user-bob"), "{cap}");
}
