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
use crate::session_cookie::BindingError;
use crate::store_api::StoreFailure;
use crate::target::TargetError;
use crate::token::TokenError;

/// The realm in every `WWW-Authenticate: Bearer` challenge.
pub const REALM: &str = "edge-session";

/// Why a token was refused, without the values that decided (a closed copy of
/// [`TokenError`]'s variants, so a [`Reason`] stays `Copy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // each names the `TokenError` variant of the same name
pub enum TokenFault {
    TooLarge,
    Malformed,
    UnsupportedAlgorithm,
    ForbiddenHeader,
    WrongType,
    UnknownKey,
    MissingKeyId,
    AlgorithmMismatch,
    BadSignature,
    MalformedClaims,
    MissingClaim,
    Expired,
    NotYetValid,
    IssuedInFuture,
    WrongIssuer,
    WrongAudience,
}

impl From<&TokenError> for TokenFault {
    fn from(e: &TokenError) -> Self {
        match e {
            TokenError::TooLarge { .. } => Self::TooLarge,
            TokenError::Malformed(_) => Self::Malformed,
            TokenError::UnsupportedAlgorithm(_) => Self::UnsupportedAlgorithm,
            TokenError::ForbiddenHeader(_) => Self::ForbiddenHeader,
            TokenError::WrongType => Self::WrongType,
            TokenError::UnknownKey => Self::UnknownKey,
            TokenError::MissingKeyId => Self::MissingKeyId,
            TokenError::AlgorithmMismatch { .. } => Self::AlgorithmMismatch,
            TokenError::BadSignature => Self::BadSignature,
            TokenError::MalformedClaims(_) => Self::MalformedClaims,
            TokenError::MissingClaim(_) => Self::MissingClaim,
            TokenError::Expired { .. } => Self::Expired,
            TokenError::NotYetValid { .. } => Self::NotYetValid,
            TokenError::IssuedInFuture { .. } => Self::IssuedInFuture,
            TokenError::WrongIssuer => Self::WrongIssuer,
            TokenError::WrongAudience => Self::WrongAudience,
        }
    }
}

impl TokenFault {
    /// The log code (the same as [`TokenError::reason`]).
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::UnsupportedAlgorithm => "unsupported_alg",
            Self::ForbiddenHeader => "forbidden_header",
            Self::WrongType => "wrong_typ",
            Self::UnknownKey => "unknown_kid",
            Self::MissingKeyId => "missing_kid",
            Self::AlgorithmMismatch => "alg_mismatch",
            Self::BadSignature => "bad_signature",
            Self::MalformedClaims => "malformed_claims",
            Self::MissingClaim => "missing_claim",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
        }
    }
}

/// What is wrong with a body the edge reads itself (login, refresh grant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// The body could not be read.
    Unreadable,
    /// A login body of another content type than JSON or a form.
    LoginContentType,
    /// A login body that is not the JSON object expected.
    LoginJson,
    /// A login form that does not decode.
    LoginForm,
    /// A login without a username or password, or with one too long.
    LoginFields,
    /// A refresh-grant body that is not the JSON object expected.
    RefreshJson,
    /// A refresh grant whose `refresh_token` is empty or too long.
    RefreshTokenField,
}

/// Where the upstream forward failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFault {
    /// The fetch failed (refused, reset, DNS).
    Fetch,
    /// The fetch did not answer within `UPSTREAM_TIMEOUT_MS`.
    Timeout,
    /// The answer could not be finalized (headers the runtime refused).
    Finalize,
    /// The edge's own answer could not be built.
    Reply,
}

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
}

/// The `WWW-Authenticate` challenge of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// None: not a credentials problem.
    None,
    /// `Bearer realm` without an error code (no credentials, RFC 6750 §3.1).
    Bare,
    /// `error="invalid_request"`.
    InvalidRequest,
    /// `error="invalid_token"` with a generic description.
    InvalidToken(&'static str),
}

/// One row of the refusal table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// HTTP status.
    pub status: u16,
    /// The challenge.
    pub challenge: Challenge,
    /// The body's machine-readable code.
    pub error: &'static str,
    /// The body's generic message.
    pub message: &'static str,
    /// The phase the log line names.
    pub phase: Phase,
    /// The edge's cookies are cleared with this answer (the session is gone).
    pub clear_session: bool,
    /// `Retry-After` seconds.
    pub retry_after: Option<u32>,
}

/// The gate's phases, as log lines name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Method, target, route.
    Classify,
    /// Credentials, token, session cookie, revocation, refresh.
    Authenticate,
    /// CSRF (and route policies).
    Authorize,
    /// The upstream call.
    Forward,
    /// The edge's own session routes (login, logout, …).
    Session,
    /// Configuration.
    Config,
}

impl Phase {
    /// The name in log lines.
    pub fn name(self) -> &'static str {
        match self {
            Self::Classify => "classify",
            Self::Authenticate => "authenticate",
            Self::Authorize => "authorize",
            Self::Forward => "forward",
            Self::Session => "session",
            Self::Config => "config",
        }
    }
}

const ENDED: Challenge = Challenge::InvalidToken("The session ended");

const fn rule(
    status: u16,
    challenge: Challenge,
    error: &'static str,
    message: &'static str,
    phase: Phase,
) -> Rule {
    Rule {
        status,
        challenge,
        error,
        message,
        phase,
        clear_session: false,
        retry_after: None,
    }
}

const fn ended(phase: Phase) -> Rule {
    Rule {
        clear_session: true,
        ..rule(
            401,
            ENDED,
            "session_ended",
            "The session has ended; sign in again.",
            phase,
        )
    }
}

const fn unavailable(message: &'static str, retry_after: u32) -> Rule {
    Rule {
        retry_after: Some(retry_after),
        ..rule(
            503,
            Challenge::None,
            "temporarily_unavailable",
            message,
            Phase::Authenticate,
        )
    }
}

const fn bad_body(phase: Phase) -> Rule {
    rule(
        400,
        Challenge::None,
        "invalid_request",
        "The request body is malformed.",
        phase,
    )
}

impl Reason {
    /// The one table: status, challenge, body, phase and cookies of each refusal.
    pub fn rule(self) -> Rule {
        use Phase::Authenticate;
        match self {
            Self::Misconfigured | Self::MethodNotAllowed | Self::Target(_) | Self::NoRoute => {
                self.classify_rule()
            }
            Self::MissingToken => rule(
                401,
                Challenge::Bare,
                "unauthorized",
                "An access token is required.",
                Authenticate,
            ),
            Self::Credentials(_) => rule(
                400,
                Challenge::InvalidRequest,
                "invalid_request",
                "The request is malformed.",
                Authenticate,
            ),
            Self::Token(fault) => rule(
                401,
                Challenge::InvalidToken(match fault {
                    TokenFault::Expired => "The access token expired",
                    _ => "The access token is invalid",
                }),
                "invalid_token",
                "The access token is invalid or expired.",
                Authenticate,
            ),
            Self::TokenSessionMismatch => Self::Token(TokenFault::MalformedClaims).rule(),
            Self::SessionCookie(_)
            | Self::AccessCookie(_)
            | Self::AccessCookieWithoutSession
            | Self::NoSession
            | Self::Revoked
            | Self::RefreshSubjectMismatch => ended(Authenticate),
            Self::RevocationUnavailable => {
                unavailable("Session checks are temporarily unavailable.", 5)
            }
            Self::KeysUnavailable => {
                unavailable("Token verification is temporarily unavailable.", 5)
            }
            Self::Csrf(_) => rule(
                403,
                Challenge::None,
                "forbidden",
                "The request was refused.",
                Phase::Authorize,
            ),
            Self::Store(f) => store_rule(f),
            Self::StoreTokenUnverifiable => store_rule(StoreFailure::Malformed),
            Self::StepUpOtherUser
            | Self::BodySize(_)
            | Self::Body(_)
            | Self::NoRandomness
            | Self::Upstream(_) => self.route_rule(),
        }
    }

    /// The rows of phase 1 (classify) and of the configuration.
    fn classify_rule(self) -> Rule {
        let (status, error, message) = match self {
            Self::Misconfigured => {
                return Rule {
                    phase: Phase::Config,
                    ..rule(
                        500,
                        Challenge::None,
                        "server_error",
                        "The service is misconfigured.",
                        Phase::Classify,
                    )
                }
            }
            Self::MethodNotAllowed => (405, "method_not_allowed", "Method not allowed."),
            Self::Target(TargetError::TooLong) => {
                (414, "invalid_request", "The request target is too long.")
            }
            Self::Target(_) => (
                400,
                "invalid_request",
                "The request target is not accepted.",
            ),
            _ => (404, "not_found", "No such route."),
        };
        rule(status, Challenge::None, error, message, Phase::Classify)
    }

    /// The rows of the edge's own routes and of the upstream call.
    fn route_rule(self) -> Rule {
        let none = Challenge::None;
        match self {
            Self::StepUpOtherUser => rule(
                403,
                none,
                "forbidden",
                "The request was refused.",
                Phase::Session,
            ),
            Self::BodySize(BodyRefusal::TooLarge) => rule(
                413,
                none,
                "payload_too_large",
                "The request body is too large.",
                Phase::Session,
            ),
            Self::NoRandomness => rule(
                502,
                none,
                "bad_gateway",
                "The upstream could not be reached.",
                Phase::Session,
            ),
            Self::Upstream(UpstreamFault::Timeout) => rule(
                504,
                none,
                "gateway_timeout",
                "The upstream did not answer in time.",
                Phase::Forward,
            ),
            Self::Upstream(_) => rule(
                502,
                none,
                "bad_gateway",
                "The upstream could not be reached.",
                Phase::Forward,
            ),
            _ => bad_body(Phase::Session),
        }
    }

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
            Self::StepUpOtherUser => "step_up_other_user",
            Self::BodySize(r) => r.reason(),
            Self::Body(f) => match f {
                BodyFault::Unreadable => "unreadable_body",
                BodyFault::LoginContentType => "login_content_type",
                BodyFault::LoginJson => "login_json",
                BodyFault::LoginForm => "login_form",
                BodyFault::LoginFields => "login_fields",
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
            },
        }
    }
}

/// The rows of a failed store call.
fn store_rule(f: StoreFailure) -> Rule {
    match f {
        StoreFailure::SessionGone => ended(Phase::Session),
        StoreFailure::Refused => rule(
            401,
            Challenge::Bare,
            "invalid_credentials",
            "The credentials were not accepted.",
            Phase::Session,
        ),
        StoreFailure::RateLimited { retry_after } => Rule {
            phase: Phase::Session,
            ..unavailable("The session service is busy; retry later.", retry_after)
        },
        StoreFailure::Timeout => rule(
            504,
            Challenge::None,
            "gateway_timeout",
            "The session service did not answer in time.",
            Phase::Session,
        ),
        StoreFailure::Unreachable
        | StoreFailure::ServerError
        | StoreFailure::Malformed
        | StoreFailure::ClientAuth
        | StoreFailure::RequestRefused => rule(
            502,
            Challenge::None,
            "bad_gateway",
            "The session service failed.",
            Phase::Session,
        ),
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
