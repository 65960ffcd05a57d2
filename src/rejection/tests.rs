use super::*;
use crate::policy::PolicyRefusal;
use crate::throttle::Counter;

/// Every reason the edge can give, one of each shape (the table below is checked against
/// this list, and the list against the codes).
fn every_reason() -> Vec<Reason> {
    use crate::access_cookie::AccessCookieError as A;
    use crate::session_cookie::BindingError as B;
    let mut all = vec![
        Reason::Misconfigured,
        Reason::MethodNotAllowed,
        Reason::NoRoute,
        Reason::MissingToken,
        Reason::TokenSessionMismatch,
        Reason::AccessCookieWithoutSession,
        Reason::NoSession,
        Reason::Revoked,
        Reason::RefreshSubjectMismatch,
        Reason::RevocationUnavailable,
        Reason::KeysUnavailable,
        Reason::StepUpOtherUser,
        Reason::StoreTokenUnverifiable,
        Reason::NoRandomness,
        Reason::SessionCookie(B::Malformed),
        Reason::SessionCookie(B::Mismatch),
        Reason::AccessCookie(A::Malformed),
        Reason::AccessCookie(A::Mismatch),
        Reason::BodySize(BodyRefusal::TooLarge),
        Reason::BodySize(BodyRefusal::BadLength),
        Reason::LoginThrottled {
            by: Counter::User,
            retry_after: 9,
        },
        Reason::LoginThrottled {
            by: Counter::Ip,
            retry_after: 9,
        },
        Reason::ThrottleUnavailable,
    ];
    all.extend(
        [
            CredentialError::MalformedBearer,
            CredentialError::DuplicateCookie,
            CredentialError::CookieHeaderTooLarge,
        ]
        .map(Reason::Credentials),
    );
    all.extend(
        [
            CsrfRefusal::CrossSite,
            CsrfRefusal::OriginMismatch,
            CsrfRefusal::NoOriginInformation,
            CsrfRefusal::NoOwnOrigin,
        ]
        .map(Reason::Csrf),
    );
    all.extend(
        [
            PolicyRefusal::Role,
            PolicyRefusal::Scope,
            PolicyRefusal::Amr,
            PolicyRefusal::TooOld,
            PolicyRefusal::NoAuthTime,
        ]
        .map(Reason::Policy),
    );
    all.extend(
        [
            BodyFault::Unreadable,
            BodyFault::LoginContentType,
            BodyFault::LoginJson,
            BodyFault::LoginForm,
            BodyFault::LoginFields,
            BodyFault::RefreshJson,
            BodyFault::RefreshTokenField,
        ]
        .map(Reason::Body),
    );
    all.extend(
        [
            UpstreamFault::Fetch,
            UpstreamFault::Timeout,
            UpstreamFault::Finalize,
            UpstreamFault::Reply,
            UpstreamFault::Assertion,
        ]
        .map(Reason::Upstream),
    );
    all.extend(
        [
            StoreFailure::Timeout,
            StoreFailure::Unreachable,
            StoreFailure::ServerError,
            StoreFailure::RateLimited { retry_after: 7 },
            StoreFailure::TooManyAttempts { retry_after: 7 },
            StoreFailure::Malformed,
            StoreFailure::Refused,
            StoreFailure::SessionGone,
            StoreFailure::ClientAuth,
            StoreFailure::RequestRefused,
        ]
        .map(Reason::Store),
    );
    all.push(Reason::UnknownSession);
    all.extend(
        [
            WebhookFault::MissingSignature,
            WebhookFault::MalformedSignature,
            WebhookFault::BadSignature,
            WebhookFault::StaleTimestamp,
            WebhookFault::Replayed,
            WebhookFault::ContentType,
            WebhookFault::Json,
            WebhookFault::NoIds,
            WebhookFault::TooManyIds,
            WebhookFault::BadId,
            WebhookFault::NotStored,
        ]
        .map(Reason::Webhook),
    );
    all.extend(
        [
            TargetError::NotAPath,
            TargetError::TooLong,
            TargetError::Backslash,
            TargetError::ControlCharacter,
            TargetError::MalformedEncoding,
            TargetError::EncodedSeparator,
            TargetError::DoubleEncoding,
            TargetError::NotUtf8,
            TargetError::AmbiguousSegment,
            TargetError::AmbiguousPolicy,
        ]
        .map(Reason::Target),
    );
    all.extend(
        [
            TokenFault::TooLarge,
            TokenFault::Malformed,
            TokenFault::UnsupportedAlgorithm,
            TokenFault::ForbiddenHeader,
            TokenFault::WrongType,
            TokenFault::UnknownKey,
            TokenFault::MissingKeyId,
            TokenFault::AlgorithmMismatch,
            TokenFault::BadSignature,
            TokenFault::MalformedClaims,
            TokenFault::MissingClaim,
            TokenFault::Expired,
            TokenFault::NotYetValid,
            TokenFault::IssuedInFuture,
            TokenFault::WrongIssuer,
            TokenFault::WrongAudience,
        ]
        .map(Reason::Token),
    );
    all
}

#[test]
fn every_reason_has_its_own_non_empty_code() {
    let all = every_reason();
    let codes: Vec<&str> = all.iter().map(|r| r.code()).collect();
    for (i, code) in codes.iter().enumerate() {
        assert!(
            !code.is_empty()
                && code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit()),
            "{:?}: {code:?}",
            all[i]
        );
        assert!(!codes[..i].contains(code), "{:?} repeats {code}", all[i]);
    }
}

/// The table, row by row: status, the challenge's error code (`-` none, `` bare), whether the
/// cookies are cleared, the body's error code and the log phase.
#[test]
fn the_table() {
    use crate::access_cookie::AccessCookieError as A;
    use crate::session_cookie::BindingError as B;
    use Phase::*;
    let rows: &[(Reason, u16, &str, bool, &str, Phase)] = &[
        (
            Reason::Misconfigured,
            500,
            "-",
            false,
            "server_error",
            Config,
        ),
        (
            Reason::MethodNotAllowed,
            405,
            "-",
            false,
            "method_not_allowed",
            Classify,
        ),
        (
            Reason::Target(TargetError::TooLong),
            414,
            "-",
            false,
            "invalid_request",
            Classify,
        ),
        (
            Reason::Target(TargetError::Backslash),
            400,
            "-",
            false,
            "invalid_request",
            Classify,
        ),
        (Reason::NoRoute, 404, "-", false, "not_found", Classify),
        (
            Reason::MissingToken,
            401,
            "",
            false,
            "unauthorized",
            Authenticate,
        ),
        (
            Reason::Credentials(CredentialError::MalformedBearer),
            400,
            "invalid_request",
            false,
            "invalid_request",
            Authenticate,
        ),
        (
            Reason::Token(TokenFault::Expired),
            401,
            "invalid_token",
            false,
            "invalid_token",
            Authenticate,
        ),
        (
            Reason::Token(TokenFault::BadSignature),
            401,
            "invalid_token",
            false,
            "invalid_token",
            Authenticate,
        ),
        (
            Reason::TokenSessionMismatch,
            401,
            "invalid_token",
            false,
            "invalid_token",
            Authenticate,
        ),
        (
            Reason::SessionCookie(B::Mismatch),
            401,
            "invalid_token",
            true,
            "session_ended",
            Authenticate,
        ),
        (
            Reason::AccessCookie(A::Malformed),
            401,
            "invalid_token",
            true,
            "session_ended",
            Authenticate,
        ),
        (
            Reason::AccessCookieWithoutSession,
            401,
            "invalid_token",
            true,
            "session_ended",
            Authenticate,
        ),
        (
            Reason::NoSession,
            401,
            "invalid_token",
            true,
            "session_ended",
            Authenticate,
        ),
        (
            Reason::Revoked,
            401,
            "invalid_token",
            true,
            "session_ended",
            Authenticate,
        ),
        (
            Reason::RefreshSubjectMismatch,
            401,
            "invalid_token",
            true,
            "session_ended",
            Authenticate,
        ),
        (
            Reason::RevocationUnavailable,
            503,
            "-",
            false,
            "temporarily_unavailable",
            Authenticate,
        ),
        (
            Reason::KeysUnavailable,
            503,
            "-",
            false,
            "temporarily_unavailable",
            Authenticate,
        ),
        (
            Reason::Csrf(CsrfRefusal::CrossSite),
            403,
            "-",
            false,
            "forbidden",
            Authorize,
        ),
        (
            Reason::StepUpOtherUser,
            403,
            "-",
            false,
            "forbidden",
            Session,
        ),
        (
            Reason::BodySize(BodyRefusal::TooLarge),
            413,
            "-",
            false,
            "payload_too_large",
            Session,
        ),
        (
            Reason::BodySize(BodyRefusal::BadLength),
            400,
            "-",
            false,
            "invalid_request",
            Session,
        ),
        (
            Reason::Body(BodyFault::LoginJson),
            400,
            "-",
            false,
            "invalid_request",
            Session,
        ),
        (
            Reason::Store(StoreFailure::Timeout),
            504,
            "-",
            false,
            "gateway_timeout",
            Session,
        ),
        (
            Reason::Store(StoreFailure::Unreachable),
            502,
            "-",
            false,
            "bad_gateway",
            Session,
        ),
        (
            Reason::Store(StoreFailure::ServerError),
            502,
            "-",
            false,
            "bad_gateway",
            Session,
        ),
        (
            Reason::Store(StoreFailure::Malformed),
            502,
            "-",
            false,
            "bad_gateway",
            Session,
        ),
        (
            Reason::Store(StoreFailure::ClientAuth),
            502,
            "-",
            false,
            "bad_gateway",
            Session,
        ),
        (
            Reason::Store(StoreFailure::RequestRefused),
            502,
            "-",
            false,
            "bad_gateway",
            Session,
        ),
        (
            Reason::Store(StoreFailure::RateLimited { retry_after: 7 }),
            503,
            "-",
            false,
            "temporarily_unavailable",
            Session,
        ),
        (
            Reason::Store(StoreFailure::TooManyAttempts { retry_after: 7 }),
            429,
            "-",
            false,
            "too_many_requests",
            Session,
        ),
        (
            Reason::LoginThrottled {
                by: Counter::User,
                retry_after: 7,
            },
            429,
            "-",
            false,
            "too_many_requests",
            Session,
        ),
        (
            Reason::LoginThrottled {
                by: Counter::Ip,
                retry_after: 7,
            },
            429,
            "-",
            false,
            "too_many_requests",
            Session,
        ),
        (
            Reason::ThrottleUnavailable,
            503,
            "-",
            false,
            "temporarily_unavailable",
            Session,
        ),
        (
            Reason::Store(StoreFailure::Refused),
            401,
            "",
            false,
            "invalid_credentials",
            Session,
        ),
        (
            Reason::Store(StoreFailure::SessionGone),
            401,
            "invalid_token",
            true,
            "session_ended",
            Session,
        ),
        (
            Reason::StoreTokenUnverifiable,
            502,
            "-",
            false,
            "bad_gateway",
            Session,
        ),
        (
            Reason::NoRandomness,
            502,
            "-",
            false,
            "bad_gateway",
            Session,
        ),
        (
            Reason::Policy(PolicyRefusal::Role),
            403,
            "insufficient_scope",
            false,
            "insufficient_scope",
            Authorize,
        ),
        (
            Reason::Policy(PolicyRefusal::Scope),
            403,
            "insufficient_scope",
            false,
            "insufficient_scope",
            Authorize,
        ),
        (
            Reason::Policy(PolicyRefusal::Amr),
            401,
            "insufficient_user_authentication",
            false,
            "insufficient_user_authentication",
            Authorize,
        ),
        (
            Reason::Policy(PolicyRefusal::TooOld),
            401,
            "insufficient_user_authentication",
            false,
            "insufficient_user_authentication",
            Authorize,
        ),
        (
            Reason::Policy(PolicyRefusal::NoAuthTime),
            401,
            "insufficient_user_authentication",
            false,
            "insufficient_user_authentication",
            Authorize,
        ),
        (
            Reason::Upstream(UpstreamFault::Timeout),
            504,
            "-",
            false,
            "gateway_timeout",
            Forward,
        ),
        (
            Reason::Upstream(UpstreamFault::Fetch),
            502,
            "-",
            false,
            "bad_gateway",
            Forward,
        ),
        (
            Reason::Upstream(UpstreamFault::Finalize),
            502,
            "-",
            false,
            "bad_gateway",
            Forward,
        ),
        (
            Reason::Upstream(UpstreamFault::Assertion),
            502,
            "-",
            false,
            "bad_gateway",
            Forward,
        ),
        (
            Reason::UnknownSession,
            404,
            "-",
            false,
            "not_found",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::MissingSignature),
            401,
            "sig",
            false,
            "invalid_signature",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::BadSignature),
            401,
            "sig",
            false,
            "invalid_signature",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::StaleTimestamp),
            401,
            "sig",
            false,
            "invalid_signature",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::MalformedSignature),
            400,
            "-",
            false,
            "invalid_request",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::Replayed),
            409,
            "-",
            false,
            "replayed",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::ContentType),
            415,
            "-",
            false,
            "unsupported_media_type",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::Json),
            400,
            "-",
            false,
            "invalid_request",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::NoIds),
            400,
            "-",
            false,
            "invalid_request",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::TooManyIds),
            400,
            "-",
            false,
            "invalid_request",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::BadId),
            400,
            "-",
            false,
            "invalid_request",
            Session,
        ),
        (
            Reason::Webhook(WebhookFault::NotStored),
            503,
            "-",
            false,
            "temporarily_unavailable",
            Session,
        ),
    ];
    for (reason, status, challenge, clear, error, phase) in rows {
        let r = Rejection::new(*reason);
        assert_eq!(r.reason, *reason);
        assert_eq!(
            (r.status, r.clear_session, r.error, reason.rule().phase),
            (*status, *clear, *error, *phase),
            "{reason:?}"
        );
        match (*challenge, r.www_authenticate.as_deref()) {
            ("-", None) => {}
            ("sig", Some(h)) => assert_eq!(h, "Edge-Signature realm=\"edge-session\""),
            ("", Some(h)) => assert_eq!(h, "Bearer realm=\"edge-session\"", "{reason:?}"),
            (code, Some(h)) if !code.is_empty() && code != "-" => assert!(
                h.starts_with(&format!("Bearer realm=\"edge-session\", error=\"{code}\"")),
                "{reason:?}: {h}"
            ),
            (want, got) => panic!("{reason:?}: challenge {got:?}, want {want:?}"),
        }
        assert_eq!(r.log_reason(), reason.code());
    }
}

#[test]
fn every_reason_has_a_row_with_a_sane_status() {
    for reason in every_reason() {
        let rule = reason.rule();
        assert!((400..=599).contains(&rule.status), "{reason:?}");
        assert!(
            !rule.error.is_empty() && !rule.message.is_empty(),
            "{reason:?}"
        );
        // Retry-After exactly where waiting helps: the 503s and the 429s.
        assert_eq!(
            rule.retry_after.is_some(),
            matches!(rule.status, 429 | 503),
            "{reason:?}"
        );
        // A 401 always carries a challenge (RFC 6750 §3); nothing else does but the 400 of
        // malformed credentials and a route policy's 403 `insufficient_scope` (§3.1).
        let challenged = rule.challenge != Challenge::None;
        let want = rule.status == 401
            || matches!(reason, Reason::Credentials(_))
            || reason == Reason::Policy(PolicyRefusal::Role)
            || reason == Reason::Policy(PolicyRefusal::Scope);
        assert_eq!(challenged, want, "{reason:?}");
        assert!(!rule.clear_session || rule.status == 401, "{reason:?}");
        assert!(!rule.phase.name().is_empty());
    }
}

#[test]
fn expired_tokens_say_so_and_others_stay_generic() {
    let expired = Rejection::invalid_token(&TokenError::Expired { exp: 1, now: 2 });
    assert!(expired
        .www_authenticate
        .clone()
        .unwrap_or_default()
        .contains("The access token expired"));
    assert_eq!(expired.log_reason(), "expired");
    let bad = Rejection::invalid_token(&TokenError::BadSignature);
    let h = bad.www_authenticate.unwrap_or_default();
    assert!(h.contains("The access token is invalid") && !h.contains("signature"));
}

#[test]
fn token_faults_keep_the_token_errors_codes() {
    let rows: Vec<TokenError> = vec![
        TokenError::TooLarge { len: 1 },
        TokenError::Malformed("x"),
        TokenError::UnsupportedAlgorithm("none".into()),
        TokenError::ForbiddenHeader("jku"),
        TokenError::WrongType,
        TokenError::UnknownKey,
        TokenError::MissingKeyId,
        TokenError::AlgorithmMismatch { expected: "ES256" },
        TokenError::BadSignature,
        TokenError::MalformedClaims("x".into()),
        TokenError::MissingClaim("exp"),
        TokenError::Expired { exp: 1, now: 2 },
        TokenError::NotYetValid { nbf: 2, now: 1 },
        TokenError::IssuedInFuture { iat: 2, now: 1 },
        TokenError::WrongIssuer,
        TokenError::WrongAudience,
    ];
    let codes = [
        "too_large",
        "malformed",
        "unsupported_alg",
        "forbidden_header",
        "wrong_typ",
        "unknown_kid",
        "missing_kid",
        "alg_mismatch",
        "bad_signature",
        "malformed_claims",
        "missing_claim",
        "expired",
        "not_yet_valid",
        "issued_in_future",
        "wrong_issuer",
        "wrong_audience",
    ];
    for (e, code) in rows.iter().zip(codes) {
        assert_eq!(
            (TokenFault::from(e).code(), e.reason()),
            (code, code),
            "{e:?}"
        );
    }
}

#[test]
fn store_rate_limit_passes_its_retry_after_on() {
    let r = Rejection::store(StoreFailure::RateLimited { retry_after: 7 });
    assert_eq!((r.status, r.retry_after), (503, Some(7)));
    assert_eq!(Rejection::new(Reason::KeysUnavailable).retry_after, Some(5));
}

#[test]
fn throttled_logins_say_when_to_retry_and_nothing_else() {
    let by_user = Rejection::new(Reason::LoginThrottled {
        by: Counter::User,
        retry_after: 840,
    });
    let by_ip = Rejection::new(Reason::LoginThrottled {
        by: Counter::Ip,
        retry_after: 840,
    });
    let by_store = Rejection::store(StoreFailure::TooManyAttempts { retry_after: 840 });
    for r in [&by_user, &by_ip, &by_store] {
        assert_eq!((r.status, r.retry_after), (429, Some(840)));
        assert_eq!(r.www_authenticate, None);
        assert!(
            !r.clear_session,
            "a throttled login leaves the session as it was"
        );
    }
    // One body whichever counter or layer refused: nothing tells which.
    assert_eq!(by_user.body(), by_ip.body());
    assert_eq!(by_user.body(), by_store.body());
    assert_eq!(
        (
            by_user.log_reason(),
            by_ip.log_reason(),
            by_store.log_reason()
        ),
        (
            "login_throttled_user",
            "login_throttled_ip",
            "store_login_throttled"
        )
    );
    let down = Rejection::new(Reason::ThrottleUnavailable);
    assert_eq!((down.status, down.retry_after), (503, Some(5)));
    assert_eq!(down.log_reason(), "throttle_unavailable");
}

#[test]
fn navigation_detection() {
    let rows: &[(&str, Option<&str>, Option<&str>, bool)] = &[
        ("GET", Some("navigate"), None, true),
        ("HEAD", Some(" Navigate "), None, true),
        ("GET", Some("cors"), Some("text/html"), false),
        ("GET", None, Some("text/html,application/xhtml+xml"), true),
        ("GET", None, Some("TEXT/HTML"), true),
        ("GET", None, Some("application/json"), false),
        ("POST", Some("navigate"), Some("text/html"), false),
        ("GET", None, None, false),
    ];
    for (m, mode, accept, want) in rows {
        assert_eq!(
            is_navigation(m, *mode, *accept),
            *want,
            "{m} {mode:?} {accept:?}"
        );
    }
}

#[test]
fn body_is_generic_json() {
    let body = Rejection::invalid_token(&TokenError::WrongAudience).body();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(v["error"], "invalid_token");
    assert_eq!(v["message"], "The access token is invalid or expired.");
    assert!(!body.contains("audience"));
}

#[test]
fn phase_names() {
    let rows = [
        (Phase::Classify, "classify"),
        (Phase::Authenticate, "authenticate"),
        (Phase::Authorize, "authorize"),
        (Phase::Forward, "forward"),
        (Phase::Session, "session"),
        (Phase::Config, "config"),
    ];
    for (phase, name) in rows {
        assert_eq!(phase.name(), name);
    }
}

#[test]
fn challenge_params_are_appended_only_when_quotable() {
    let r = Rejection::new(Reason::Policy(PolicyRefusal::Scope))
        .with_challenge_param("scope", "reports:read admin");
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some(
            "Bearer realm=\"edge-session\", error=\"insufficient_scope\", \
             error_description=\"The access token lacks a required role or scope\", \
             scope=\"reports:read admin\""
        )
    );
    for bad in ["a\"b", "a\\b", "a\r\nb", "caf\u{e9}"] {
        let r = Rejection::new(Reason::Policy(PolicyRefusal::Amr))
            .with_challenge_param("acr_values", bad);
        assert!(
            !r.www_authenticate
                .unwrap_or_default()
                .contains("acr_values"),
            "{bad:?}"
        );
    }
    // No challenge, nothing to append to.
    let r = Rejection::new(Reason::NoRoute).with_challenge_param("scope", "x");
    assert_eq!(r.www_authenticate, None);
}
