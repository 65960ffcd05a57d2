//! Rejections the edge answers itself: status, RFC 6750 challenge and a generic JSON body.
//!
//! Wire errors stay generic (no reason that helps an attacker, never a token); the precise
//! reason goes to the structured log line the adapter writes.

use crate::body::BodyRefusal;
use crate::store_api::StoreFailure;
use crate::target::TargetError;
use crate::token::TokenError;

/// The realm in every `WWW-Authenticate: Bearer` challenge.
pub const REALM: &str = "edge-session";

/// A response the edge gives instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate` value, where RFC 6750 asks for one.
    pub www_authenticate: Option<String>,
    /// `Retry-After` in seconds, for 503s.
    pub retry_after: Option<u32>,
    /// Machine-readable code for the body (`invalid_token`, `invalid_request`, …).
    pub error: &'static str,
    /// Human-readable, generic message for the body.
    pub message: &'static str,
    /// Secret-free reason for the log line (not sent to the client).
    pub log_reason: &'static str,
    /// The edge's cookies must be cleared with this answer (the session is gone).
    pub clear_session: bool,
}

/// Whether a request is a browser navigation (answered with a redirect to the login page
/// rather than a bare 401): `Sec-Fetch-Mode: navigate`, or without Fetch Metadata a `GET`
/// that accepts HTML.
pub fn is_navigation(method: &str, sec_fetch_mode: Option<&str>, accept: Option<&str>) -> bool {
    if method != "GET" && method != "HEAD" {
        return false;
    }
    match sec_fetch_mode {
        Some(mode) => mode.trim().eq_ignore_ascii_case("navigate"),
        None => accept.is_some_and(|a| a.to_ascii_lowercase().contains("text/html")),
    }
}

impl Rejection {
    /// 401 without an error code: no credentials were presented (RFC 6750 §3.1).
    pub fn missing_token() -> Self {
        Self {
            status: 401,
            www_authenticate: Some(format!("Bearer realm=\"{REALM}\"")),
            retry_after: None,
            error: "unauthorized",
            message: "An access token is required.",
            log_reason: "missing_token",
            clear_session: false,
        }
    }

    /// 401 `invalid_token`: a token was presented and refused.
    pub fn invalid_token(err: &TokenError) -> Self {
        let description = match err {
            TokenError::Expired { .. } => "The access token expired",
            _ => "The access token is invalid",
        };
        Self {
            status: 401,
            www_authenticate: Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{description}\""
            )),
            retry_after: None,
            error: "invalid_token",
            message: "The access token is invalid or expired.",
            log_reason: err.reason(),
            clear_session: false,
        }
    }

    /// 400 `invalid_request`: the request carries credentials in a malformed way.
    pub fn invalid_request(log_reason: &'static str) -> Self {
        Self {
            status: 400,
            www_authenticate: Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_request\""
            )),
            retry_after: None,
            error: "invalid_request",
            message: "The request is malformed.",
            log_reason,
            clear_session: false,
        }
    }

    /// 503: the signing keys cannot be had right now (never a 401: the token may be fine).
    pub fn keys_unavailable() -> Self {
        Self {
            status: 503,
            www_authenticate: None,
            retry_after: Some(5),
            error: "temporarily_unavailable",
            message: "Token verification is temporarily unavailable.",
            log_reason: "jwks_unavailable",
            clear_session: false,
        }
    }

    /// 500: the edge's configuration is invalid; it forwards nothing.
    pub fn misconfigured() -> Self {
        Self {
            status: 500,
            www_authenticate: None,
            retry_after: None,
            error: "server_error",
            message: "The service is misconfigured.",
            log_reason: "config_invalid",
            clear_session: false,
        }
    }

    /// 404 for an unknown route under the edge's own prefix.
    pub fn not_found() -> Self {
        Self {
            status: 404,
            www_authenticate: None,
            retry_after: None,
            error: "not_found",
            message: "No such route.",
            log_reason: "no_route",
            clear_session: false,
        }
    }

    /// 502: the upstream could not be reached.
    pub fn bad_gateway(log_reason: &'static str) -> Self {
        Self {
            status: 502,
            www_authenticate: None,
            retry_after: None,
            error: "bad_gateway",
            message: "The upstream could not be reached.",
            log_reason,
            clear_session: false,
        }
    }

    /// 503: the revocation list cannot be read and the policy is fail-closed.
    pub fn revocation_unavailable() -> Self {
        Self {
            status: 503,
            www_authenticate: None,
            retry_after: Some(5),
            error: "temporarily_unavailable",
            message: "Session checks are temporarily unavailable.",
            log_reason: "revocation_unavailable",
            clear_session: false,
        }
    }

    /// 504: the upstream did not answer in time.
    pub fn gateway_timeout(log_reason: &'static str) -> Self {
        Self {
            status: 504,
            www_authenticate: None,
            retry_after: None,
            error: "gateway_timeout",
            message: "The upstream did not answer in time.",
            log_reason,
            clear_session: false,
        }
    }

    /// 403: a cross-site request to a cookie-authenticated or session route.
    pub fn forbidden(log_reason: &'static str) -> Self {
        Self {
            status: 403,
            www_authenticate: None,
            retry_after: None,
            error: "forbidden",
            message: "The request was refused.",
            log_reason,
            clear_session: false,
        }
    }

    /// 405 for a known edge route called with another method.
    pub fn method_not_allowed() -> Self {
        Self {
            status: 405,
            www_authenticate: None,
            retry_after: None,
            error: "method_not_allowed",
            message: "Method not allowed.",
            log_reason: "method_not_allowed",
            clear_session: false,
        }
    }

    /// 400 (414 when too long) for a request target the edge does not classify: its meaning
    /// differs between decoders (see [`crate::target`]).
    pub fn bad_target(e: TargetError) -> Self {
        Self {
            status: e.status(),
            www_authenticate: None,
            retry_after: None,
            error: "invalid_request",
            message: match e {
                TargetError::TooLong => "The request target is too long.",
                _ => "The request target is not accepted.",
            },
            log_reason: e.reason(),
            clear_session: false,
        }
    }

    /// 400 for a malformed body on an edge route (not a credentials problem).
    pub fn bad_body(log_reason: &'static str) -> Self {
        Self {
            status: 400,
            www_authenticate: None,
            retry_after: None,
            error: "invalid_request",
            message: "The request body is malformed.",
            log_reason,
            clear_session: false,
        }
    }

    /// A request body refused by its size ([`crate::body`]): 413 when too large (declared or
    /// read), 400 for a malformed `Content-Length`.
    pub fn body_refused(refusal: BodyRefusal) -> Self {
        match refusal.status() {
            413 => Self {
                status: 413,
                www_authenticate: None,
                retry_after: None,
                error: "payload_too_large",
                message: "The request body is too large.",
                log_reason: refusal.reason(),
                clear_session: false,
            },
            _ => Self::bad_body(refusal.reason()),
        }
    }

    /// 401: the session ended (logged out, expired, revoked); the cookies go with it.
    pub fn session_ended(log_reason: &'static str) -> Self {
        Self {
            status: 401,
            www_authenticate: Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"The session ended\""
            )),
            retry_after: None,
            error: "session_ended",
            message: "The session has ended; sign in again.",
            log_reason,
            clear_session: true,
        }
    }

    /// The answer for a failed store call.
    pub fn store(f: StoreFailure) -> Self {
        match f {
            StoreFailure::SessionGone => Self::session_ended(f.reason()),
            StoreFailure::Refused => Self {
                status: 401,
                www_authenticate: Some(format!("Bearer realm=\"{REALM}\"")),
                retry_after: None,
                error: "invalid_credentials",
                message: "The credentials were not accepted.",
                log_reason: f.reason(),
                clear_session: false,
            },
            StoreFailure::RateLimited { retry_after } => Self {
                status: 503,
                www_authenticate: None,
                retry_after: Some(retry_after),
                error: "temporarily_unavailable",
                message: "The session service is busy; retry later.",
                log_reason: f.reason(),
                clear_session: false,
            },
            StoreFailure::Timeout => Self {
                status: 504,
                www_authenticate: None,
                retry_after: None,
                error: "gateway_timeout",
                message: "The session service did not answer in time.",
                log_reason: f.reason(),
                clear_session: false,
            },
            StoreFailure::Unreachable
            | StoreFailure::ServerError
            | StoreFailure::Malformed
            | StoreFailure::ClientAuth
            | StoreFailure::RequestRefused => Self {
                status: 502,
                www_authenticate: None,
                retry_after: None,
                error: "bad_gateway",
                message: "The session service failed.",
                log_reason: f.reason(),
                clear_session: false,
            },
        }
    }

    /// The JSON body: `{"error": ..., "message": ...}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.error, "message": self.message }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_token_has_no_error_code() {
        let r = Rejection::missing_token();
        assert_eq!(r.status, 401);
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some("Bearer realm=\"edge-session\"")
        );
    }

    #[test]
    fn invalid_token_carries_error_code_and_generic_description() {
        let r = Rejection::invalid_token(&TokenError::BadSignature);
        let h = r.www_authenticate.unwrap_or_default();
        assert!(h.starts_with("Bearer realm=\"edge-session\", error=\"invalid_token\""));
        assert!(!h.contains("signature"));
        let r = Rejection::invalid_token(&TokenError::Expired { exp: 1, now: 2 });
        assert!(r.www_authenticate.unwrap_or_default().contains("expired"));
        assert_eq!(r.log_reason, "expired");
    }

    #[test]
    fn statuses() {
        assert_eq!(Rejection::invalid_request("x").status, 400);
        assert_eq!(Rejection::keys_unavailable().status, 503);
        assert_eq!(Rejection::keys_unavailable().retry_after, Some(5));
        assert_eq!(Rejection::misconfigured().status, 500);
        let r = Rejection::bad_target(TargetError::EncodedSeparator);
        assert_eq!((r.status, r.error), (400, "invalid_request"));
        assert!(r.www_authenticate.is_none(), "not a credentials problem");
        assert_eq!(Rejection::bad_target(TargetError::TooLong).status, 414);
        assert!(Rejection::misconfigured().www_authenticate.is_none());
    }

    #[test]
    fn store_failures_map_to_statuses() {
        let rows: &[(StoreFailure, u16, bool)] = &[
            (StoreFailure::Timeout, 504, false),
            (StoreFailure::Unreachable, 502, false),
            (StoreFailure::ServerError, 502, false),
            (StoreFailure::Malformed, 502, false),
            (StoreFailure::RateLimited { retry_after: 7 }, 503, false),
            (StoreFailure::Refused, 401, false),
            (StoreFailure::SessionGone, 401, true),
        ];
        for (f, status, clear) in rows {
            let r = Rejection::store(*f);
            assert_eq!((r.status, r.clear_session), (*status, *clear), "{f:?}");
        }
        assert_eq!(
            Rejection::store(StoreFailure::RateLimited { retry_after: 7 }).retry_after,
            Some(7)
        );
    }

    #[test]
    fn refused_bodies() {
        let r = Rejection::body_refused(BodyRefusal::TooLarge);
        assert_eq!(
            (r.status, r.error, r.log_reason),
            (413, "payload_too_large", "body_too_large")
        );
        assert!(r.www_authenticate.is_none());
        let r = Rejection::body_refused(BodyRefusal::BadLength);
        assert_eq!((r.status, r.log_reason), (400, "bad_content_length"));
    }

    #[test]
    fn navigation_detection() {
        let rows: &[(&str, Option<&str>, Option<&str>, bool)] = &[
            ("GET", Some("navigate"), None, true),
            ("GET", Some("cors"), Some("text/html"), false),
            ("GET", None, Some("text/html,application/xhtml+xml"), true),
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
        assert!(!body.contains("audience"));
    }

    #[test]
    fn bad_targets_say_which() {
        let long = Rejection::bad_target(TargetError::TooLong);
        assert_eq!(
            (long.status, long.message, long.log_reason),
            (414, "The request target is too long.", "target_too_long")
        );
        let odd = Rejection::bad_target(TargetError::EncodedSeparator);
        assert_eq!(
            (odd.status, odd.message, odd.log_reason),
            (
                400,
                "The request target is not accepted.",
                "target_encoded_separator"
            )
        );
    }
}
