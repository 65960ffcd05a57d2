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
//! | 429 | 503 with the store's `Retry-After` (default 5 s) |
//! | 2xx with a body that is not the documented JSON | 502 |
//! | login 4xx (bad credentials, unknown user, locked, bad request) | 401, one generic answer |
//! | session operation 400/401/404 ("Session not found") | the session is gone: cookies cleared, 401 |
//!
//! No failure mints a cookie: cookies are written only from a fully parsed success.

use serde::{Deserialize, Serialize};

use crate::binding::ClientProps;

/// Largest store response body read, bytes.
pub const MAX_STORE_BODY_BYTES: usize = 64 * 1024;

/// `client_attributes` as Transmit documents them.
#[derive(Debug, Serialize)]
pub struct ClientAttributes<'a> {
    /// The client's `User-Agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
    /// The client's IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<&'a str>,
}

impl<'a> From<&ClientProps<'a>> for ClientAttributes<'a> {
    fn from(p: &ClientProps<'a>) -> Self {
        Self {
            user_agent: p.user_agent,
            ip_address: p.ip,
        }
    }
}

#[derive(Serialize)]
struct PasswordBody<'a> {
    username: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    client_attributes: ClientAttributes<'a>,
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
    serde_json::to_string(&PasswordBody {
        username,
        password,
        session_id,
        resource,
        client_attributes: props.into(),
    })
    .unwrap_or_default()
}

#[derive(Serialize)]
struct SessionBody<'a> {
    session_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_attributes: Option<ClientAttributes<'a>>,
}

/// Body of `POST /v1/auth/session/authenticate`.
pub fn session_authenticate_body(
    session_id: &str,
    resource: Option<&str>,
    props: &ClientProps<'_>,
) -> String {
    serde_json::to_string(&SessionBody {
        session_id,
        resource,
        client_attributes: Some(props.into()),
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/session/logout`.
pub fn logout_body(session_id: &str) -> String {
    serde_json::to_string(&SessionBody {
        session_id,
        resource: None,
        client_attributes: None,
    })
    .unwrap_or_default()
}

/// Body of `POST /v1/auth/token/refresh`.
pub fn refresh_body(refresh_token: &str) -> String {
    serde_json::json!({ "refresh_token": refresh_token }).to_string()
}

/// Form body of `POST /oidc/token` (client credentials).
pub fn client_token_form(client_id: &str, client_secret: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", client_id)
        .append_pair("client_secret", client_secret)
        .finish()
}

/// The path of a user's sessions (`GET` lists, `DELETE` revokes all). The id is
/// percent-encoded as one path segment.
pub fn user_sessions_path(user_id: &str) -> String {
    let mut url = match url::Url::parse("http://x/v1/auth/users/") {
        Ok(u) => u,
        Err(_) => return String::new(),
    };
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty().push(user_id).push("sessions");
    }
    url.path().to_owned()
}

/// `ApiTokenResponse`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiTokenResponse {
    /// The access token (JWT).
    pub access_token: String,
    /// The ID token, if issued.
    #[serde(default)]
    pub id_token: Option<String>,
    /// The refresh token, if issued.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The session id (absent from Transmit's refresh responses).
    #[serde(default)]
    pub session_id: Option<String>,
}

/// The ClientAccessToken response.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientTokenResponse {
    /// The token.
    pub access_token: String,
    /// Lifetime, seconds.
    pub expires_in: u64,
}

/// One of a user's sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
    pub session_id: String,
    /// Start, RFC 3339.
    #[serde(default)]
    pub start_time: Option<String>,
    /// Expiry, RFC 3339.
    #[serde(default)]
    pub expiration_time: Option<String>,
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
    /// 429: 503 with this `Retry-After`.
    RateLimited {
        /// Seconds.
        retry_after: u32,
    },
    /// A 2xx body that is not the documented JSON: 502.
    Malformed,
    /// The store refused the credentials (any login 4xx): 401.
    Refused,
    /// The session does not exist any more: cookies cleared, 401.
    SessionGone,
    /// The store refused our ClientAccessToken or client credentials: 502 (our misconfig).
    ClientAuth,
}

impl StoreFailure {
    /// The edge's status for this failure.
    pub fn status(self) -> u16 {
        match self {
            Self::Timeout => 504,
            Self::Unreachable | Self::ServerError | Self::Malformed | Self::ClientAuth => 502,
            Self::RateLimited { .. } => 503,
            Self::Refused | Self::SessionGone => 401,
        }
    }

    /// Secret-free reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Timeout => "store_timeout",
            Self::Unreachable => "store_unreachable",
            Self::ServerError => "store_5xx",
            Self::RateLimited { .. } => "store_429",
            Self::Malformed => "store_malformed",
            Self::Refused => "credentials_refused",
            Self::SessionGone => "session_gone",
            Self::ClientAuth => "store_client_auth",
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

/// Maps a non-2xx status.
pub fn failure_for_status(op: StoreOp, status: u16, retry_after: Option<&str>) -> StoreFailure {
    match (op, status) {
        (_, 429) => StoreFailure::RateLimited {
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u32>().ok())
                .map_or(5, |s| s.clamp(1, 300)),
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
        Some(sid) if !sane(sid) || sid.len() > 512 => return Err(StoreFailure::Malformed),
        None if need_session => return Err(StoreFailure::Malformed),
        _ => {}
    }
    Ok(t)
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
            (Login, 429, Some("30"), RateLimited { retry_after: 30 }),
            (Login, 429, Some("junk"), RateLimited { retry_after: 5 }),
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
}
