//! Refusals the edge answers itself: a closed [`Reason`] for every refusal, and one table
//! ([`Reason::rule`]) that gives each its status, RFC 6750 challenge, generic body, log phase
//! and whether the edge's cookies go with it.
//!
//! Wire errors stay generic (no reason that helps an attacker, never a token); the precise
//! reason ([`Reason::code`]) goes to the structured log line, where tests read it.
//!
//! To add a refusal: a variant here, its row in [`Reason::rule`] and its code in
//! [`Reason::code`]; the compiler finds every match that must learn it.

use crate::access_cookie::AccessCookieError;
use crate::body::BodyRefusal;
use crate::credentials::CredentialError;
use crate::csrf::CsrfRefusal;
use crate::policy::PolicyRefusal;
use crate::session_cookie::BindingError;
use crate::store_api::StoreFailure;
use crate::target::TargetError;
use crate::throttle::Counter;
use crate::token::TokenError;
use crate::webhook::WebhookFault;

mod faults;
mod table;

pub use faults::{BodyFault, TokenFault, UpstreamFault};
pub use table::{Challenge, Phase, Rule};

/// The realm in every `WWW-Authenticate: Bearer` challenge.
pub const REALM: &str = "edge-session";

/// Every reason the edge refuses a request. Closed: a test asserts which one refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The configuration is invalid; nothing is forwarded.
    Misconfigured,
    /// A method the edge does not forward (TRACE, CONNECT, one the runtime does not know), or
    /// another method on one of the edge's routes.
    MethodNotAllowed,
    /// A request target the edge does not classify.
    Target(TargetError),
    /// An unknown route under the edge's prefix (or a session route without sessions).
    NoRoute,
    /// No credential at all.
    MissingToken,
    /// Credentials sent in a malformed way.
    Credentials(CredentialError),
    /// The access token was refused.
    Token(TokenFault),
    /// A verified token beside a session cookie of another user or session.
    TokenSessionMismatch,
    /// The session cookie does not verify for this client.
    SessionCookie(BindingError),
    /// The access cookie does not open beside the session cookie.
    AccessCookie(AccessCookieError),
    /// An access cookie without a session cookie.
    AccessCookieWithoutSession,
    /// A session route that needs a session cookie got none valid.
    NoSession,
    /// The session or user was revoked at the edge.
    Revoked,
    /// A session refresh answered tokens of another user.
    RefreshSubjectMismatch,
    /// The revocation list cannot be read and the policy fails closed.
    RevocationUnavailable,
    /// The signing keys cannot be had.
    KeysUnavailable,
    /// The CSRF rule refused a cookie-carried unsafe request or an edge `POST`.
    Csrf(CsrfRefusal),
    /// A route policy ([`crate::policy`]) refused a valid token: a role or scope (403), or a
    /// new authentication is needed (401, RFC 9470).
    Policy(PolicyRefusal),
    /// The store accepted a step-up onto another user's session.
    StepUpOtherUser,
    /// A request body refused by its size.
    BodySize(BodyRefusal),
    /// A request body the edge cannot use.
    Body(BodyFault),
    /// A store call failed.
    Store(StoreFailure),
    /// The store answered a token the edge cannot verify.
    StoreTokenUnverifiable,
    /// No randomness for a cookie nonce.
    NoRandomness,
    /// The upstream forward failed.
    Upstream(UpstreamFault),
    /// Too many failed logins for this username or from this client address
    /// ([`crate::throttle`]): 429 with `Retry-After`, no store call.
    LoginThrottled {
        /// The counter that refused.
        by: Counter,
        /// Seconds until its window ends.
        retry_after: u32,
    },
    /// The login counters could not be reached: logins fail closed (503).
    ThrottleUnavailable,
    /// `DELETE /auth/sessions/{handle}` named no session of the caller's.
    UnknownSession,
    /// A revocation webhook call was refused.
    Webhook(WebhookFault),
}

impl Reason {
    /// The stable, secret-free code for log lines.
    pub fn code(self) -> &'static str {
        match self {
            Self::Misconfigured => "config_invalid",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Target(e) => e.reason(),
            Self::NoRoute => "no_route",
            Self::MissingToken => "missing_token",
            Self::Credentials(e) => e.reason(),
            Self::Token(f) => f.code(),
            Self::TokenSessionMismatch => "token_session_mismatch",
            Self::SessionCookie(e) => e.reason(),
            Self::AccessCookie(e) => e.reason(),
            Self::AccessCookieWithoutSession => "access_cookie_without_session",
            Self::NoSession => "no_session",
            Self::Revoked => "revoked",
            Self::RefreshSubjectMismatch => "refresh_subject_mismatch",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::KeysUnavailable => "jwks_unavailable",
            Self::Csrf(r) => r.code(),
            Self::Policy(r) => r.code(),
            Self::StepUpOtherUser => "step_up_other_user",
            Self::BodySize(r) => r.reason(),
            Self::Body(f) => match f {
                BodyFault::Unreadable => "unreadable_body",
                BodyFault::LoginContentType => "login_content_type",
                BodyFault::LoginJson => "login_json",
                BodyFault::LoginForm => "login_form",
                BodyFault::LoginFields => "login_fields",
                BodyFault::LoginMethod => "login_method",
                BodyFault::RefreshJson => "refresh_json",
                BodyFault::RefreshTokenField => "refresh_token_field",
            },
            Self::Store(f) => f.reason(),
            Self::StoreTokenUnverifiable => "store_token_unverifiable",
            Self::NoRandomness => "no_randomness",
            Self::Upstream(f) => match f {
                UpstreamFault::Fetch => "upstream_fetch",
                UpstreamFault::Timeout => "upstream_timeout",
                UpstreamFault::Finalize => "finalize",
                UpstreamFault::Reply => "reply",
                UpstreamFault::Assertion => "assertion_unsigned",
            },
            Self::LoginThrottled { by, .. } => match by {
                Counter::User => "login_throttled_user",
                Counter::Ip => "login_throttled_ip",
            },
            Self::ThrottleUnavailable => "throttle_unavailable",
            Self::UnknownSession => "unknown_session",
            Self::Webhook(f) => f.code(),
        }
    }
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

/// A response the edge gives instead of forwarding: its [`Reason`] and that reason's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: Reason,
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate` value, where RFC 6750 asks for one.
    pub www_authenticate: Option<String>,
    /// `Retry-After` in seconds.
    pub retry_after: Option<u32>,
    /// Machine-readable code for the body (`invalid_token`, `invalid_request`, …).
    pub error: &'static str,
    /// Human-readable, generic message for the body.
    pub message: &'static str,
    /// The edge's cookies must be cleared with this answer (the session is gone).
    pub clear_session: bool,
}

impl From<Reason> for Rejection {
    fn from(reason: Reason) -> Self {
        let rule = reason.rule();
        let www_authenticate = match rule.challenge {
            Challenge::None => None,
            Challenge::Bare => Some(format!("Bearer realm=\"{REALM}\"")),
            Challenge::InvalidRequest => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_request\""
            )),
            Challenge::InvalidToken(description) => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"invalid_token\", error_description=\"{description}\""
            )),
            Challenge::Insufficient { error, description } => Some(format!(
                "Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{description}\""
            )),
            Challenge::Signature => Some(format!("Edge-Signature realm=\"{REALM}\"")),
        };
        Self {
            reason,
            status: rule.status,
            www_authenticate,
            retry_after: rule.retry_after,
            error: rule.error,
            message: rule.message,
            clear_session: rule.clear_session,
        }
    }
}

impl Rejection {
    /// The refusal for `reason`.
    pub fn new(reason: Reason) -> Self {
        Self::from(reason)
    }

    /// 401 without an error code: no credentials were presented (RFC 6750 §3.1).
    pub fn missing_token() -> Self {
        Self::new(Reason::MissingToken)
    }

    /// 401 `invalid_token`: a token was presented and refused.
    pub fn invalid_token(err: &TokenError) -> Self {
        Self::new(Reason::Token(err.into()))
    }

    /// The answer for a failed store call.
    pub fn store(f: StoreFailure) -> Self {
        Self::new(Reason::Store(f))
    }

    /// The refusal with the auth-param `name="value"` appended to its challenge (RFC 6750's
    /// `scope`, RFC 9470's `acr_values` and `max_age`); unchanged when it has no challenge or
    /// `value` could not be a quoted-string as it is (`"`, `\\`, a control character).
    pub fn with_challenge_param(mut self, name: &str, value: &str) -> Self {
        let quotable = value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if let (Some(challenge), true) = (&mut self.www_authenticate, quotable) {
            challenge.push_str(&format!(", {name}=\"{value}\""));
        }
        self
    }

    /// The log code of the reason.
    pub fn log_reason(&self) -> &'static str {
        self.reason.code()
    }

    /// The JSON body: `{"error": ..., "message": ...}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": self.error, "message": self.message }).to_string()
    }
}

#[cfg(test)]
mod tests;
