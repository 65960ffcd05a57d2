//! The session store's HTTP API (Transmit-compatible), as pure request builders and response
//! classifiers. The adapter sends what these build and feeds back what came.
//!
//! Failure mapping (login, refresh, session operations):
//!
//! | store answer | edge answer |
//! |---|---|
//! | timeout | 504 |
//! | connection refused / network error | 502 |
//! | 5xx | 502 |
//! | 429 on a login | 429 with the store's `Retry-After` (default 5 s, at most a day): the store's own limit of password attempts, answered like the edge's throttling |
//! | 429 on any other call | 503 with the store's `Retry-After` (default 5 s) |
//! | 2xx with a body that is not the documented JSON | 502 |
//! | a validation refusal: 413/415/422, a 400 with a validation `error_code` (`invalid_request`, …), a login 400 without a credential code | 502 `store_refused_request` (logged), never "credentials" nor "session gone" |
//! | login 401/403, or 4xx with a credential code (`auth_*`, `user_not_found`) | 401, one generic answer |
//! | session operation 400/401/404 ("Session not found") | the session is gone: cookies cleared, 401 |
//!
//! What the edge sends as `client_attributes` is normalised first ([`client_attribute`]), so
//! a client's odd `User-Agent` (over 1,024 bytes, a TAB) never makes the store refuse a login.
//!
//! No failure mints a cookie: cookies are written only from a fully parsed success.
//!
//! The wire itself (paths, bodies, answers, error codes, the shapes' differences) is
//! `edge-session-protocol`'s; this module keeps the edge's own decisions about it and
//! re-exports what the adapter names from here.

use std::borrow::Cow;

use edge_session_protocol::error::{self, ErrorCode};
use edge_session_protocol::wire::{
    self, form, Logout, OtpAuthenticate, OtpSend, PasswordAuthenticate, Refresh,
    SessionAuthenticate, TotpAuthenticate,
};
use serde::Deserialize;

use crate::session_cookie::ClientProps;

pub use edge_session_protocol::paths;
pub use edge_session_protocol::wire::{ClientAttributes, ClientTokenResponse, SessionInfo};
/// `ApiTokenResponse` (the protocol's [`edge_session_protocol::TokenResponse`]).
pub use edge_session_protocol::TokenResponse as ApiTokenResponse;

/// Largest store response body read, bytes.
pub const MAX_STORE_BODY_BYTES: usize = 64 * 1024;
/// Longest session id accepted from the store, bytes.
pub const MAX_SESSION_ID_BYTES: usize = 512;

/// Longest `client_attributes.user_agent` sent, bytes: the reference store's field limit;
/// Transmit documents none.
pub const MAX_USER_AGENT_BYTES: usize = wire::MAX_FIELD_BYTES;
/// Longest `client_attributes.ip_address` sent, bytes (the reference store's limit).
pub const MAX_IP_ADDRESS_BYTES: usize = wire::MAX_IP_ADDRESS_BYTES;

/// `client_attributes` from the client's properties, normalised by [`client_attribute`].
pub fn client_attributes<'a>(p: &ClientProps<'a>) -> ClientAttributes<'a> {
    ClientAttributes {
        user_agent: p
            .user_agent
            .and_then(|v| client_attribute(v, MAX_USER_AGENT_BYTES)),
        ip_address: p.ip.and_then(|v| client_attribute(v, MAX_IP_ADDRESS_BYTES)),
    }
}

/// A client attribute as a store accepts it (the reference store refuses empty values,
/// control characters and values over its limit with a 400): control characters, TAB
/// included, become spaces; the value is cut to `max` bytes on a char boundary; an empty one
/// is left out. Only what is sent to the store changes: the session cookie's binding keeps the
/// full value the client sent.
pub fn client_attribute(value: &str, max: usize) -> Option<Cow<'_, str>> {
    let mut end = 0;
    for (i, c) in value.char_indices() {
        let next = i + c.len_utf8();
        if next > max {
            break;
        }
        end = next;
    }
    let cut = value.get(..end).unwrap_or_default();
    if cut.is_empty() {
        return None;
    }
    if !cut.chars().any(char::is_control) {
        return Some(Cow::Borrowed(cut));
    }
    // A control character is one to four bytes, a space one: never longer than `cut`.
    Some(Cow::Owned(
        cut.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    ))
}

/// Body of `POST /v1/auth/password/authenticate`. With `session_id`, the authentication is
/// added to that session (MFA / step-up).
pub fn password_body(
    username: &str,
    password: &str,
    session_id: Option<&str>,
    resource: Option<&str>,
    props: &ClientProps<'_>,
) -> String {
    serde_json::to_string(&PasswordAuthenticate {
        username: Cow::Borrowed(username),
        password: Cow::Borrowed(password),
        session_id: session_id.map(Cow::Borrowed),
        resource: resource.map(Cow::Borrowed),
        client_attributes: Some(client_attributes(props)),
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/totp/authenticate` (Transmit's backend TOTP): the user by
/// `identifier` of `identifier_type`; with `session_id`, added to that session.
pub fn totp_body(
    identifier: (&str, &str),
    code: &str,
    session_id: Option<&str>,
    resource: Option<&str>,
    props: &ClientProps<'_>,
) -> String {
    serde_json::to_string(&TotpAuthenticate {
        identifier: Cow::Borrowed(identifier.0),
        identifier_type: Some(Cow::Borrowed(identifier.1)),
        token: Cow::Borrowed(code),
        session_id: session_id.map(Cow::Borrowed),
        resource: resource.map(Cow::Borrowed),
        client_attributes: Some(client_attributes(props)),
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/otp/authenticate`: the passcode sent by [`otp_send_body`].
pub fn otp_authenticate_body(
    identifier: (&str, &str),
    code: &str,
    session_id: Option<&str>,
    resource: Option<&str>,
    props: &ClientProps<'_>,
) -> String {
    serde_json::to_string(&OtpAuthenticate {
        passcode: Cow::Borrowed(code),
        identifier: Cow::Borrowed(identifier.0),
        identifier_type: Cow::Borrowed(identifier.1),
        session_id: session_id.map(Cow::Borrowed),
        resource: resource.map(Cow::Borrowed),
        client_attributes: Some(client_attributes(props)),
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/otp/send` by `channel` (`email`: the store mails it).
pub fn otp_send_body(channel: &str, identifier: (&str, &str)) -> String {
    serde_json::to_string(&OtpSend {
        channel: Cow::Borrowed(channel),
        identifier: Cow::Borrowed(identifier.0),
        identifier_type: Cow::Borrowed(identifier.1),
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/session/authenticate`.
pub fn session_authenticate_body(
    session_id: &str,
    resource: Option<&str>,
    props: &ClientProps<'_>,
) -> String {
    serde_json::to_string(&SessionAuthenticate {
        session_id: Cow::Borrowed(session_id),
        resource: resource.map(Cow::Borrowed),
        client_attributes: Some(client_attributes(props)),
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/session/logout`.
pub fn logout_body(session_id: &str) -> String {
    serde_json::to_string(&Logout {
        session_id: Cow::Borrowed(session_id),
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/token/refresh`.
pub fn refresh_body(refresh_token: &str) -> String {
    serde_json::to_string(&Refresh {
        refresh_token: Cow::Borrowed(refresh_token),
    })
    .unwrap_or_default()
}

/// Form body of `POST /oidc/token` (client credentials).
pub fn client_token_form(client_id: &str, client_secret: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(form::GRANT_TYPE, form::CLIENT_CREDENTIALS)
        .append_pair(form::CLIENT_ID, client_id)
        .append_pair(form::CLIENT_SECRET, client_secret)
        .finish()
}

/// The path of a user's sessions (`GET` lists, `DELETE` revokes all): the protocol's
/// [`paths::user_sessions`], the id percent-encoded as one path segment.
pub fn user_sessions_path(user_id: &str) -> String {
    paths::user_sessions(user_id)
}

/// A store path as a log line names it: the user-sessions path without the user's id.
pub fn path_for_log(path: &str) -> &str {
    if paths::user_sessions_segment(path).is_some() {
        "/v1/auth/users/{user_id}/sessions"
    } else {
        path
    }
}

/// How a store call failed, in the edge's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// No answer in time: 504.
    Timeout,
    /// Connection refused or another network error: 502.
    Unreachable,
    /// 5xx: 502.
    ServerError,
    /// 429 on a session operation: 503 with this `Retry-After` (the store is busy).
    RateLimited {
        /// Seconds.
        retry_after: u32,
    },
    /// 429 on a login: the store's own limit of password attempts (the reference store's per
    /// user) or its rate limit: 429 with this `Retry-After`, the edge's own throttling answer.
    TooManyAttempts {
        /// Seconds.
        retry_after: u32,
    },
    /// A 2xx body that is not the documented JSON: 502.
    Malformed,
    /// The store refused the credentials (any login 4xx): 401.
    Refused,
    /// The store refused a refresh token it had already rotated (its session's refresh tokens
    /// are revoked: the token was copied): 401 like [`Self::Refused`], logged as
    /// `refresh_reuse_detected`.
    RefreshReused,
    /// The session does not exist any more: cookies cleared, 401.
    SessionGone,
    /// The store refused our ClientAccessToken or client credentials: 502 (our misconfig).
    ClientAuth,
    /// The store refused the request itself (a validation error such as a field it does not
    /// accept, not the credentials and not the session): 502, logged. Never reported as wrong
    /// credentials or as a session that ended.
    RequestRefused,
}

impl StoreFailure {
    /// The edge's status for this failure.
    pub fn status(self) -> u16 {
        match self {
            Self::Timeout => 504,
            Self::Unreachable
            | Self::ServerError
            | Self::Malformed
            | Self::ClientAuth
            | Self::RequestRefused => 502,
            Self::RateLimited { .. } => 503,
            Self::TooManyAttempts { .. } => 429,
            Self::Refused | Self::RefreshReused | Self::SessionGone => 401,
        }
    }

    /// Whether the failure is the store's or the link's (an operator's matter, logged with
    /// the store's host), not a refusal the store gave the client (wrong credentials, an
    /// ended session, a reused refresh token: their own lines say so).
    pub fn is_fault(self) -> bool {
        !matches!(
            self,
            Self::Refused | Self::RefreshReused | Self::SessionGone | Self::TooManyAttempts { .. }
        )
    }

    /// Secret-free reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Timeout => "store_timeout",
            Self::Unreachable => "store_unreachable",
            Self::ServerError => "store_5xx",
            Self::RateLimited { .. } => "store_429",
            Self::TooManyAttempts { .. } => "store_login_throttled",
            Self::Malformed => "store_malformed",
            Self::Refused => "credentials_refused",
            Self::RefreshReused => "refresh_token_reused",
            Self::SessionGone => "session_gone",
            Self::ClientAuth => "store_client_auth",
            Self::RequestRefused => "store_refused_request",
        }
    }
}

/// Which store operation an answer belongs to (they map 4xx differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// A backend authentication (password, …).
    Login,
    /// Session authenticate, logout, list or revoke-all.
    Session,
    /// Refresh-token grant.
    Refresh,
    /// The client-credentials grant.
    ClientToken,
}

/// Maps a non-2xx store answer from its status, `Retry-After` and body.
///
/// A validation refusal is [`StoreFailure::RequestRefused`], never wrong credentials nor an
/// ended session: a 413, 415 or 422; a 400 whose `error_code` is a validation code; and for a
/// login, any 400 without a credential code (a login's credentials are refused with 401/403
/// or an `auth_*` code). Everything else follows [`failure_for_status`].
pub fn failure_for_answer(
    op: StoreOp,
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
) -> StoreFailure {
    if op != StoreOp::ClientToken {
        let code = error::error_code(body);
        let validation = code.as_ref().is_some_and(ErrorCode::is_validation);
        let refused = match status {
            413 | 415 | 422 => true,
            400 if validation => true,
            400 => op == StoreOp::Login && !code.as_ref().is_some_and(ErrorCode::is_credential),
            _ => false,
        };
        if refused {
            return StoreFailure::RequestRefused;
        }
        let reused = code
            .as_ref()
            .is_some_and(|c| !c.is_numeric() && c.as_str() == error::code::REFRESH_TOKEN_REUSED);
        if op == StoreOp::Refresh && status == 400 && reused {
            return StoreFailure::RefreshReused;
        }
    }
    failure_for_status(op, status, retry_after)
}

/// Longest `Retry-After` passed on from a store's login 429, seconds (a day: lockouts are
/// minutes long; a longer value is a broken header).
pub const MAX_LOGIN_RETRY_AFTER_SECS: u32 = 86_400;

/// Maps a non-2xx status (when the body says nothing more; see [`failure_for_answer`]).
pub fn failure_for_status(op: StoreOp, status: u16, retry_after: Option<&str>) -> StoreFailure {
    let seconds = |max: u32| {
        retry_after
            .and_then(|v| v.trim().parse::<u32>().ok())
            .map_or(5, |s| s.clamp(1, max))
    };
    match (op, status) {
        (StoreOp::Login, 429) => StoreFailure::TooManyAttempts {
            retry_after: seconds(MAX_LOGIN_RETRY_AFTER_SECS),
        },
        (_, 429) => StoreFailure::RateLimited {
            retry_after: seconds(300),
        },
        (_, s) if s >= 500 => StoreFailure::ServerError,
        (StoreOp::ClientToken, _) => StoreFailure::ClientAuth,
        (StoreOp::Login | StoreOp::Refresh, _) => StoreFailure::Refused,
        (StoreOp::Session, 400 | 401 | 403 | 404 | 410) => StoreFailure::SessionGone,
        (StoreOp::Session, _) => StoreFailure::ServerError,
    }
}

/// Parses a 2xx JSON body of type `T`.
pub fn parse_success<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, StoreFailure> {
    if body.len() > MAX_STORE_BODY_BYTES {
        return Err(StoreFailure::Malformed);
    }
    serde_json::from_slice(body).map_err(|_| StoreFailure::Malformed)
}

/// Parses a token response and checks the parts the edge relies on are there and sane.
pub fn parse_tokens(body: &[u8], need_session: bool) -> Result<ApiTokenResponse, StoreFailure> {
    let t: ApiTokenResponse = parse_success(body)?;
    let sane = |s: &str| !s.is_empty() && s.len() <= 8 * 1024 && s.is_ascii();
    if !sane(&t.access_token) {
        return Err(StoreFailure::Malformed);
    }
    match &t.session_id {
        Some(sid) if !sane(sid) || sid.len() > MAX_SESSION_ID_BYTES => {
            return Err(StoreFailure::Malformed)
        }
        None if need_session => return Err(StoreFailure::Malformed),
        _ => {}
    }
    Ok(t)
}

/// The session a refused refresh-token grant says the store ended for reuse: a 4xx of the
/// refresh grant whose body is `refresh_token_reused` with a `session_id` (the reference
/// store's answer, [`edge_session_protocol::error::reused_session`]). The edge then refuses
/// that session at once, in this isolate too. Transmit documents no reuse detection: its
/// answer for a used refresh token ("invalid or expired", 401) names no session, and nothing
/// more is revoked.
pub fn reused_session(op: StoreOp, status: u16, body: &[u8]) -> Option<String> {
    if op != StoreOp::Refresh || !(400..500).contains(&status) {
        return None;
    }
    error::reused_session(body, MAX_SESSION_ID_BYTES)
}

/// Whether a session logout at the store counts as done: it answered, or it no longer knows
/// the session (already ended there). Any other failure is logged and reported.
pub fn logged_out(result: Result<(), StoreFailure>) -> Result<(), StoreFailure> {
    match result {
        Ok(()) | Err(StoreFailure::SessionGone) => Ok(()),
        Err(f) => Err(f),
    }
}

/// The failure of listing a verified user's sessions: the user exists (their token says so),
/// so a 4xx that elsewhere means "session gone" is the store's fault here, never a reason to
/// end the caller's session.
pub fn list_failure(f: StoreFailure) -> StoreFailure {
    match f {
        StoreFailure::SessionGone => StoreFailure::ServerError,
        other => other,
    }
}

/// A ClientAccessToken answer the edge can use: a non-empty token that can go in a header as
/// it is.
pub fn usable_client_token(t: &ClientTokenResponse) -> Result<(), StoreFailure> {
    if t.access_token.is_empty() || !crate::forward::is_safe_header_value(&t.access_token) {
        return Err(StoreFailure::Malformed);
    }
    Ok(())
}

/// A ClientAccessToken is renewed this long before it expires, seconds.
pub const CLIENT_TOKEN_MARGIN_SECS: i64 = 60;

/// Until when (seconds) a ClientAccessToken received at `now` with `expires_in` is used: the
/// margin before its expiry, so no call carries a token about to expire.
pub fn client_token_until(now: i64, expires_in: u64) -> i64 {
    let lifetime = i64::try_from(expires_in).unwrap_or(i64::MAX);
    now.saturating_add(lifetime.saturating_sub(CLIENT_TOKEN_MARGIN_SECS))
}

/// Whether a store call answered 401 on its `attempt`th try (from 1) is tried once more with
/// a new ClientAccessToken: a session operation's 401 means the client token was refused (it
/// expired early, or the store's keys rotated); a login's 401 means bad credentials, and
/// retrying would double the store's password work.
pub fn retry_after_401(op: StoreOp, attempt: u32) -> bool {
    op != StoreOp::Login && attempt == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let props = ClientProps {
            user_agent: Some("UA"),
            ip: Some("203.0.113.1"),
        };
        let v: serde_json::Value =
            serde_json::from_str(&password_body("alice", "pw\"x", Some("s1"), None, &props))
                .unwrap_or_default();
        assert_eq!(v["username"], "alice");
        assert_eq!(v["password"], "pw\"x");
        assert_eq!(v["session_id"], "s1");
        assert!(v.get("resource").is_none());
        assert_eq!(v["client_attributes"]["user_agent"], "UA");
        assert_eq!(v["client_attributes"]["ip_address"], "203.0.113.1");
        let v: serde_json::Value = serde_json::from_str(&logout_body("s1")).unwrap_or_default();
        assert_eq!(v, serde_json::json!({"session_id": "s1"}));
        let v: serde_json::Value = serde_json::from_str(&refresh_body("rt\"x")).unwrap_or_default();
        assert_eq!(v, serde_json::json!({"refresh_token": "rt\"x"}));
        assert_eq!(
            client_token_form("id", "s&e=c"),
            "grant_type=client_credentials&client_id=id&client_secret=s%26e%3Dc"
        );
    }

    #[test]
    fn user_path_encodes_the_id() {
        assert_eq!(
            user_sessions_path("user-1"),
            "/v1/auth/users/user-1/sessions"
        );
        assert_eq!(
            user_sessions_path("a/../b?c"),
            "/v1/auth/users/a%2F..%2Fb%3Fc/sessions"
        );
        // The reference store reads `+` in a path as a space (form decoding): a subject with a
        // `+` must reach it escaped, or another user's sessions are listed or ended.
        assert_eq!(
            user_sessions_path("alice+admin"),
            "/v1/auth/users/alice%2Badmin/sessions"
        );
    }

    #[test]
    fn failure_table() {
        use StoreFailure::*;
        use StoreOp::*;
        let rows: &[(StoreOp, u16, Option<&str>, StoreFailure)] = &[
            (Login, 401, None, Refused),
            (Login, 400, None, Refused),
            (Login, 403, None, Refused),
            (Login, 500, None, ServerError),
            (Login, 503, None, ServerError),
            // A login's 429 is the store's limit of password attempts: the edge's 429.
            (Login, 429, Some("30"), TooManyAttempts { retry_after: 30 }),
            (Login, 429, Some("junk"), TooManyAttempts { retry_after: 5 }),
            (
                Login,
                429,
                Some("900"),
                TooManyAttempts { retry_after: 900 },
            ),
            (Login, 429, Some("0"), TooManyAttempts { retry_after: 1 }),
            (
                Login,
                429,
                Some("86401"),
                TooManyAttempts {
                    retry_after: 86_400,
                },
            ),
            (Login, 429, None, TooManyAttempts { retry_after: 5 }),
            // Elsewhere the store is busy: 503, at most 5 minutes.
            (Session, 429, Some("30"), RateLimited { retry_after: 30 }),
            (Refresh, 429, Some("900"), RateLimited { retry_after: 300 }),
            (ClientToken, 429, Some("0"), RateLimited { retry_after: 1 }),
            (Session, 400, None, SessionGone),
            (Session, 404, None, SessionGone),
            (Session, 409, None, ServerError),
            (ClientToken, 401, None, ClientAuth),
            (Refresh, 400, None, Refused),
        ];
        for (op, status, ra, want) in rows {
            assert_eq!(
                failure_for_status(*op, *status, *ra),
                *want,
                "{op:?} {status}"
            );
        }
        assert_eq!(Timeout.status(), 504);
        assert_eq!(Unreachable.status(), 502);
        assert_eq!(RateLimited { retry_after: 1 }.status(), 503);
        assert_eq!(TooManyAttempts { retry_after: 1 }.status(), 429);
        assert_eq!(
            TooManyAttempts { retry_after: 1 }.reason(),
            "store_login_throttled"
        );
    }

    #[test]
    fn token_parsing() {
        let ok = br#"{"access_token":"a.b.c","id_token":"i","refresh_token":"r","token_type":"Bearer","expires_in":3600,"session_id":"s"}"#;
        assert!(parse_tokens(ok, true).is_ok());
        let no_sid = br#"{"access_token":"a.b.c","expires_in":3600}"#;
        assert_eq!(
            parse_tokens(no_sid, true).map(|_| ()),
            Err(StoreFailure::Malformed)
        );
        assert!(parse_tokens(no_sid, false).is_ok());
        for bad in [
            &b"<html>"[..],
            b"{}",
            br#"{"access_token":""}"#,
            br#"{"access_token":5}"#,
        ] {
            assert_eq!(
                parse_tokens(bad, false).map(|_| ()),
                Err(StoreFailure::Malformed)
            );
        }
    }

    #[test]
    fn token_parsing_bounds() {
        // The store answer limit is 64 KiB (README "Limits"); a valid answer padded past it
        // is refused whole, one at exactly the limit is read.
        assert_eq!(MAX_STORE_BODY_BYTES, 65_536);
        let body = |token: &str, sid: &str, pad: usize| {
            let json =
                format!(r#"{{"access_token":"{token}","expires_in":3600,"session_id":"{sid}"}}"#);
            let fill = pad.saturating_sub(json.len());
            format!("{json}{}", " ".repeat(fill)).into_bytes()
        };
        let parsed = |b: &[u8]| parse_tokens(b, true).map(|t| t.session_id);
        let at_limit = body("a.b.c", "s", MAX_STORE_BODY_BYTES);
        assert_eq!(at_limit.len(), MAX_STORE_BODY_BYTES);
        assert_eq!(parsed(&at_limit), Ok(Some("s".into())));
        let over = body("a.b.c", "s", MAX_STORE_BODY_BYTES + 1);
        assert_eq!(parsed(&over), Err(StoreFailure::Malformed));
        // Access token: up to 8 KiB of ASCII.
        assert!(parsed(&body(&"t".repeat(8192), "s", 0)).is_ok());
        assert_eq!(
            parsed(&body(&"t".repeat(8193), "s", 0)),
            Err(StoreFailure::Malformed)
        );
        // Session id: non-empty ASCII, up to 512 bytes; a short bad one is refused too.
        assert!(parsed(&body("a.b.c", &"s".repeat(512), 0)).is_ok());
        for sid in ["s".repeat(513), String::new(), "s\\u00e9".into()] {
            assert_eq!(
                parsed(&body("a.b.c", &sid, 0)),
                Err(StoreFailure::Malformed),
                "{sid:?}"
            );
        }
    }

    #[test]
    fn client_attributes_fit_the_store() {
        let ua_2000 = "Mozilla/5.0 ".repeat(170);
        assert!(ua_2000.len() > 2000);
        let rows: &[(&str, usize, Option<&str>)] = &[
            ("Mozilla/5.0 (X11)", 1024, Some("Mozilla/5.0 (X11)")),
            ("Mozilla/5.0\t(X11)", 1024, Some("Mozilla/5.0 (X11)")),
            ("a\u{7f}b\u{0}c\u{85}d", 1024, Some("a b c d")),
            ("", 1024, None),
            ("abcdef", 3, Some("abc")),
            // Cut on a char boundary: "é" is two bytes.
            ("abé", 3, Some("ab")),
            ("ééé", 5, Some("éé")),
            ("203.0.113.7", 64, Some("203.0.113.7")),
        ];
        for (value, max, want) in rows {
            assert_eq!(
                client_attribute(value, *max).as_deref(),
                *want,
                "{value:?} {max}"
            );
        }
        let cut = client_attribute(&ua_2000, MAX_USER_AGENT_BYTES).unwrap_or_default();
        assert_eq!(cut.len(), MAX_USER_AGENT_BYTES);
        assert!(ua_2000.starts_with(cut.as_ref()));
        // Whatever comes in, what goes out passes the store's field rule.
        for value in ["\t", "x\r\ny", &"é".repeat(600), &ua_2000, "\u{9f}\u{a0}"] {
            if let Some(v) = client_attribute(value, MAX_USER_AGENT_BYTES) {
                assert!(
                    !v.is_empty()
                        && v.len() <= MAX_USER_AGENT_BYTES
                        && !v.chars().any(char::is_control),
                    "{value:?} -> {v:?}"
                );
            }
        }
    }

    #[test]
    fn bodies_carry_normalised_client_attributes() {
        let ua = format!("Agent\t{}", "x".repeat(3000));
        let ip = format!("198.51.100.1\t{}", "1".repeat(100));
        let props = ClientProps {
            user_agent: Some(&ua),
            ip: Some(&ip),
        };
        for body in [
            password_body("alice", "pw", None, None, &props),
            session_authenticate_body("s1", None, &props),
        ] {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let sent_ua = v["client_attributes"]["user_agent"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(sent_ua.len(), MAX_USER_AGENT_BYTES);
            assert!(sent_ua.starts_with("Agent xxx"), "{sent_ua:.20}");
            let sent_ip = v["client_attributes"]["ip_address"]
                .as_str()
                .unwrap_or_default();
            assert_eq!(sent_ip.len(), MAX_IP_ADDRESS_BYTES);
            assert!(sent_ip.starts_with("198.51.100.1 1"), "{sent_ip}");
        }
        let empty = ClientProps {
            user_agent: Some(""),
            ip: None,
        };
        let v: serde_json::Value =
            serde_json::from_str(&password_body("a", "p", None, None, &empty)).unwrap_or_default();
        assert_eq!(
            v["client_attributes"],
            serde_json::json!({}),
            "empty values are left out"
        );
    }

    #[test]
    fn validation_refusals_are_not_credential_refusals() {
        use StoreFailure::*;
        use StoreOp::*;
        let body = |code: &str| format!(r#"{{"message":"m","error_code":{code}}}"#);
        let rows: &[(StoreOp, u16, &str, StoreFailure)] = &[
            // The reference store's field validation (a User-Agent over 1,024 bytes, a TAB).
            (Login, 400, r#""invalid_request""#, RequestRefused),
            (Login, 400, r#""bad_request""#, RequestRefused),
            (Login, 400, r#""invalid_resource""#, RequestRefused),
            (Login, 400, "400", RequestRefused),
            (Login, 400, "null", RequestRefused),
            (Login, 413, r#""payload_too_large""#, RequestRefused),
            (Login, 415, r#""unsupported_media_type""#, RequestRefused),
            // Credentials stay credentials.
            (Login, 401, r#""auth_invalid_credentials""#, Refused),
            (Login, 401, "401", Refused),
            (Login, 400, r#""auth_invalid_credentials""#, Refused),
            (Login, 400, r#""auth_otp_passcode_expired""#, Refused),
            (Login, 403, r#""auth_locked""#, Refused),
            (Login, 404, r#""user_not_found""#, Refused),
            // A step-up onto an ended session keeps its own mapping.
            (Login, 400, r#""session_not_found""#, Refused),
            // Session operations: a validation refusal is not the session's end.
            (Session, 400, r#""invalid_request""#, RequestRefused),
            (Session, 400, r#""session_not_found""#, SessionGone),
            (Session, 400, "400", SessionGone),
            (Session, 404, r#""not_found""#, SessionGone),
            // The refresh-token grant: the token is the credential.
            (Refresh, 400, r#""invalid_request""#, RequestRefused),
            (Refresh, 400, r#""invalid_refresh_token""#, Refused),
            (Refresh, 400, r#""refresh_token_reused""#, RefreshReused),
            (Refresh, 401, r#""refresh_token_reused""#, Refused),
            (Session, 400, r#""refresh_token_reused""#, SessionGone),
            (Refresh, 400, "400", Refused),
            // Our own client credentials: a misconfiguration either way.
            (ClientToken, 400, r#""invalid_request""#, ClientAuth),
            (ClientToken, 401, r#""invalid_client""#, ClientAuth),
            (Login, 500, r#""invalid_request""#, ServerError),
        ];
        for (op, status, code, want) in rows {
            assert_eq!(
                failure_for_answer(*op, *status, None, body(code).as_bytes()),
                *want,
                "{op:?} {status} {code}"
            );
        }
        // Bodies that are not the error JSON.
        assert_eq!(
            failure_for_answer(Login, 400, None, b"<html>"),
            RequestRefused
        );
        assert_eq!(failure_for_answer(Login, 401, None, b""), Refused);
        assert_eq!(failure_for_answer(Session, 400, None, b""), SessionGone);
        assert_eq!(
            failure_for_answer(Login, 429, Some("9"), b"{}"),
            TooManyAttempts { retry_after: 9 }
        );
        assert_eq!(RequestRefused.status(), 502);
        assert_eq!(RequestRefused.reason(), "store_refused_request");
    }

    #[test]
    fn logout_and_list_outcomes() {
        assert_eq!(logged_out(Ok(())), Ok(()));
        assert_eq!(logged_out(Err(StoreFailure::SessionGone)), Ok(()));
        for f in [
            StoreFailure::Timeout,
            StoreFailure::ServerError,
            StoreFailure::Refused,
        ] {
            assert_eq!(logged_out(Err(f)), Err(f));
            assert_eq!(list_failure(f), f);
        }
        assert_eq!(
            list_failure(StoreFailure::SessionGone),
            StoreFailure::ServerError
        );
    }

    #[test]
    fn client_tokens_must_fit_a_header() {
        let t = |s: &str| ClientTokenResponse {
            access_token: s.into(),
            token_type: None,
            expires_in: 60,
        };
        assert_eq!(usable_client_token(&t("abc.def")), Ok(()));
        for bad in ["", "a\r\nx-injected: 1", "a\u{7f}", "é"] {
            assert_eq!(
                usable_client_token(&t(bad)),
                Err(StoreFailure::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn client_token_lifetime_and_401_retries() {
        assert_eq!(client_token_until(1_000, 3_600), 1_000 + 3_600 - 60);
        assert_eq!(
            client_token_until(1_000, 30),
            970,
            "a short token is renewed at once"
        );
        assert_eq!(client_token_until(1_000, u64::MAX), i64::MAX);
        for op in [StoreOp::Session, StoreOp::Refresh, StoreOp::ClientToken] {
            assert!(retry_after_401(op, 1), "{op:?}");
            assert!(!retry_after_401(op, 2), "{op:?}: once only");
        }
        assert!(
            !retry_after_401(StoreOp::Login, 1),
            "a login 401 is bad credentials"
        );
    }

    #[test]
    fn store_paths_in_logs_carry_no_user_id() {
        assert_eq!(
            path_for_log(&user_sessions_path("alice@example.com")),
            "/v1/auth/users/{user_id}/sessions"
        );
        assert_eq!(
            path_for_log(paths::SESSION_AUTHENTICATE),
            paths::SESSION_AUTHENTICATE
        );
        assert_eq!(path_for_log(paths::CLIENT_TOKEN), paths::CLIENT_TOKEN);
    }

    #[test]
    fn faults_are_the_stores_not_the_clients() {
        use StoreFailure::*;
        for f in [
            Refused,
            RefreshReused,
            SessionGone,
            TooManyAttempts { retry_after: 1 },
        ] {
            assert!(!f.is_fault(), "{f:?}");
        }
        for f in [
            Timeout,
            Unreachable,
            ServerError,
            RateLimited { retry_after: 1 },
            Malformed,
            ClientAuth,
            RequestRefused,
        ] {
            assert!(f.is_fault(), "{f:?}");
        }
        assert_eq!(RefreshReused.status(), 401);
        assert_eq!(RefreshReused.reason(), "refresh_token_reused");
    }

    #[test]
    fn a_refresh_refused_as_reuse_names_its_session() {
        let reused = br#"{"message":"m","error_code":"refresh_token_reused","session_id":"s1"}"#;
        let rows: &[(StoreOp, u16, &[u8], Option<&str>)] = &[
            (StoreOp::Refresh, 400, reused, Some("s1")),
            (StoreOp::Refresh, 499, reused, Some("s1")),
            (StoreOp::Refresh, 401, reused, Some("s1")),
            // Only the refresh grant, only a refusal.
            (StoreOp::Session, 400, reused, None),
            (StoreOp::Login, 400, reused, None),
            (StoreOp::Refresh, 200, reused, None),
            (StoreOp::Refresh, 399, reused, None),
            (StoreOp::Refresh, 500, reused, None),
            // Transmit's answer for a used refresh token names nothing.
            (
                StoreOp::Refresh,
                401,
                br#"{"message":["Refresh token is invalid or expired"],"error_code":401}"#,
                None,
            ),
            (
                StoreOp::Refresh,
                400,
                br#"{"message":"m","error_code":"invalid_refresh_token","session_id":"s1"}"#,
                None,
            ),
        ];
        for (op, status, body, want) in rows {
            assert_eq!(
                reused_session(*op, *status, body).as_deref(),
                *want,
                "{op:?} {status}"
            );
        }
        let long = |n: usize| {
            format!(
                r#"{{"error_code":"refresh_token_reused","message":"m","session_id":"{}"}}"#,
                "s".repeat(n)
            )
        };
        assert!(
            reused_session(StoreOp::Refresh, 400, long(MAX_SESSION_ID_BYTES).as_bytes()).is_some()
        );
        assert!(reused_session(
            StoreOp::Refresh,
            400,
            long(MAX_SESSION_ID_BYTES + 1).as_bytes()
        )
        .is_none());
    }

    #[test]
    fn a_token_answers_session_id_is_bounded() {
        let answer = |sid: &str| {
            format!(r#"{{"access_token":"a.b.c","token_type":"Bearer","session_id":"{sid}"}}"#)
        };
        let sid = |n: usize| "s".repeat(n);
        assert!(parse_tokens(answer(&sid(MAX_SESSION_ID_BYTES)).as_bytes(), true).is_ok());
        assert_eq!(
            parse_tokens(answer(&sid(MAX_SESSION_ID_BYTES + 1)).as_bytes(), true).map(drop),
            Err(StoreFailure::Malformed)
        );
        assert_eq!(
            parse_tokens(answer("").as_bytes(), true).map(drop),
            Err(StoreFailure::Malformed)
        );
        assert_eq!(
            parse_tokens(answer("sé").as_bytes(), false).map(drop),
            Err(StoreFailure::Malformed),
            "not ASCII"
        );
    }
}
