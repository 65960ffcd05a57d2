//! The one table of refusals: each [`Reason`]'s status, challenge, generic body, log phase,
//! `Retry-After` and whether the edge's cookies go with it ([`Reason::rule`]).

use super::{Reason, TokenFault, UpstreamFault};
use crate::body::BodyRefusal;
use crate::policy::PolicyRefusal;
use crate::store_api::StoreFailure;
use crate::target::TargetError;
use crate::webhook::WebhookFault;

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
    /// A valid token that is not enough for the request: `insufficient_scope` (RFC 6750 §3.1)
    /// or `insufficient_user_authentication` (RFC 9470 §3), with a generic description; the
    /// rule's parameters are added where the refusal is made ([`crate::policy`]).
    Insufficient {
        /// The error code.
        error: &'static str,
        /// The generic description.
        description: &'static str,
    },
    /// `Edge-Signature realm`: the revocation webhook's own scheme (README, "The revocation
    /// webhook"), for its unsigned or wrongly signed calls.
    Signature,
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

/// 429 for too many sign-in attempts: one answer whichever counter refused, and whether the
/// edge or the store did (the store's own limit, [`StoreFailure::TooManyAttempts`]).
const fn throttled(retry_after: u32) -> Rule {
    Rule {
        retry_after: Some(retry_after),
        ..rule(
            429,
            Challenge::None,
            "too_many_requests",
            "Too many sign-in attempts; retry later.",
            Phase::Session,
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
            Self::Policy(why) => policy_rule(why),
            Self::Store(f) => store_rule(f),
            Self::StoreTokenUnverifiable => store_rule(StoreFailure::Malformed),
            Self::LoginThrottled { retry_after, .. } => throttled(retry_after),
            Self::ThrottleUnavailable => Rule {
                phase: Phase::Session,
                ..unavailable("Sign-in is temporarily unavailable.", 5)
            },
            Self::StepUpOtherUser
            | Self::BodySize(_)
            | Self::Body(_)
            | Self::NoRandomness
            | Self::Upstream(_)
            | Self::UnknownSession => self.route_rule(),
            Self::Webhook(f) => webhook_rule(f),
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
            Self::UnknownSession => {
                rule(404, none, "not_found", "No such session.", Phase::Session)
            }
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
}

/// The rows of a route policy's refusals: 403 `insufficient_scope` for a role or scope, 401
/// `insufficient_user_authentication` when a new authentication can meet the rule. The session
/// stays: only the step-up is asked for.
fn policy_rule(why: PolicyRefusal) -> Rule {
    let (status, error, description, message) = if why.step_up() {
        (
            401,
            "insufficient_user_authentication",
            "A stronger or more recent authentication is required",
            "Sign in again with a stronger or more recent authentication.",
        )
    } else {
        (
            403,
            "insufficient_scope",
            "The access token lacks a required role or scope",
            "The access token does not permit this request.",
        )
    };
    rule(
        status,
        Challenge::Insufficient { error, description },
        error,
        message,
        Phase::Authorize,
    )
}

/// The rows of a refused webhook call: the sender is a backend, so each says what to fix
/// (only "the signature does not match" before the MAC verified).
fn webhook_rule(f: WebhookFault) -> Rule {
    let (status, error, message) = match f {
        WebhookFault::MissingSignature => (
            401,
            "invalid_signature",
            "The Edge-Signature header is required.",
        ),
        WebhookFault::BadSignature => (
            401,
            "invalid_signature",
            "The signature does not match.",
        ),
        WebhookFault::StaleTimestamp => (
            401,
            "invalid_signature",
            "The signature's timestamp is more than 300 seconds from the edge's clock; sign the call anew.",
        ),
        WebhookFault::MalformedSignature => (
            400,
            "invalid_request",
            "The Edge-Signature header must be t=<unix seconds>,v1=<hex HMAC-SHA256>.",
        ),
        WebhookFault::Replayed => (
            409,
            "replayed",
            "This signed call was taken already; sign a retry anew.",
        ),
        WebhookFault::ContentType => (
            415,
            "unsupported_media_type",
            "The body must be application/json.",
        ),
        WebhookFault::Json => (
            400,
            "invalid_request",
            "The body must be a JSON object with session_ids and/or user_ids (arrays of strings) and nothing else.",
        ),
        WebhookFault::NoIds => (400, "invalid_request", "The body names no session and no user."),
        WebhookFault::TooManyIds => (400, "invalid_request", "At most 50 ids per call."),
        WebhookFault::BadId => (
            400,
            "invalid_request",
            "Each id must be 1 to 512 bytes without control characters.",
        ),
        WebhookFault::NotStored => (
            503,
            "temporarily_unavailable",
            "The revocations could not all be stored; retry with a new signature.",
        ),
    };
    let challenge = if status == 401 {
        Challenge::Signature
    } else {
        Challenge::None
    };
    Rule {
        retry_after: (status == 503).then_some(5),
        ..rule(status, challenge, error, message, Phase::Session)
    }
}

/// The rows of a failed store call.
fn store_rule(f: StoreFailure) -> Rule {
    match f {
        StoreFailure::SessionGone => ended(Phase::Session),
        StoreFailure::Refused | StoreFailure::RefreshReused => rule(
            401,
            Challenge::Bare,
            "invalid_credentials",
            "The credentials were not accepted.",
            Phase::Session,
        ),
        StoreFailure::TooManyAttempts { retry_after } => throttled(retry_after),
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
