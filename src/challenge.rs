//! Rejections the edge answers itself: status, RFC 6750 challenge and a generic JSON body.
//!
//! Wire errors stay generic (no reason that helps an attacker, never a token); the precise
//! reason goes to the structured log line the adapter writes.

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
        assert!(Rejection::misconfigured().www_authenticate.is_none());
    }

    #[test]
    fn body_is_generic_json() {
        let body = Rejection::invalid_token(&TokenError::WrongAudience).body();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(v["error"], "invalid_token");
        assert!(!body.contains("audience"));
    }
}
