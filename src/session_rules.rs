//! The edge's session decisions, pure: what a request presents (Bearer token, sealed access
//! cookie, session cookie), whether a token belongs to the session cookie beside it, how a
//! login treats a session cookie already present, and when a finished refresh may be reused.
//!
//! Both request paths (the fast path on the isolate's caches and the full path) call these
//! functions, so they cannot disagree.

use crate::access_cookie;
use crate::config::EdgeConfig;
use crate::credentials::{self, Credential};
use crate::edge_routes::LoginMethod;
use crate::rejection::{Reason, Rejection};
use crate::revocation::Issued;
use crate::session_cookie::{self, ClientProps, SessionCookie};
use crate::store_api::StoreFailure;
use crate::token::VerifiedClaims;

/// A session cookie verified for this client, with the value it was read from (the access
/// cookie is sealed beside that exact value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedSession<'a> {
    /// What the cookie says.
    pub cookie: SessionCookie,
    /// The cookie's value as the client sent it.
    pub raw: &'a str,
}

/// What a request presents for authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented<'a> {
    /// `Authorization: Bearer`, with the session cookie beside it if one verifies.
    Bearer {
        /// The token, still to be verified.
        token: &'a str,
        /// A session cookie valid for this client, if present.
        session: Option<OpenedSession<'a>>,
    },
    /// The access cookie: opened beside its session cookie (with sessions), or the raw token
    /// (a token gate without sessions).
    Cookie {
        /// The token, still to be verified.
        token: String,
        /// When the edge minted the cookie (with sessions).
        minted_ms: Option<i64>,
        /// The session cookie it was opened beside (with sessions).
        session: Option<OpenedSession<'a>>,
    },
    /// Only a valid session cookie: the access token is renewed through the session.
    SessionOnly(OpenedSession<'a>),
    /// No usable credential.
    Nothing,
}

impl<'a> Presented<'a> {
    /// The session cookie of the request, if one verified.
    pub fn session(&self) -> Option<&OpenedSession<'a>> {
        match self {
            Self::Bearer { session, .. } | Self::Cookie { session, .. } => session.as_ref(),
            Self::SessionOnly(s) => Some(s),
            Self::Nothing => None,
        }
    }

    /// The minting time of the access cookie, if the request carried a sealed one.
    pub fn minted_ms(&self) -> Option<i64> {
        match self {
            Self::Cookie { minted_ms, .. } => *minted_ms,
            _ => None,
        }
    }
}

/// The session cookie in `cookie_header`: `None` when sessions are off or the cookie is
/// absent (or ambiguous), else whether it verifies for a client with `props`.
pub fn session_cookie<'a>(
    config: &EdgeConfig,
    cookie_header: Option<&'a str>,
    props: &ClientProps<'_>,
) -> Option<Result<OpenedSession<'a>, session_cookie::BindingError>> {
    let session = config.session.as_ref()?;
    let raw = credentials::find_cookie(cookie_header, &config.session_cookie)
        .ok()
        .flatten()?;
    Some(
        session_cookie::open(&session.binding_keys, &session.binding, raw, props)
            .map(|cookie| OpenedSession { cookie, raw }),
    )
}

/// What the request presents. Refusals:
/// - malformed credentials: 400 `invalid_request`;
/// - with sessions, an access cookie without a session cookie valid for this client (copied
///   to another client, or its session logged out): the session has ended (401, cookies
///   cleared);
/// - with sessions, an access cookie that does not open beside the session cookie sent with it
///   (tampered, a raw token, or one minted beside another user's or another authentication's
///   session cookie): likewise, so cookies of two sessions never mix.
pub fn present<'a>(
    config: &EdgeConfig,
    authorization: Option<&'a str>,
    cookie_header: Option<&'a str>,
    props: &ClientProps<'_>,
) -> Result<Presented<'a>, Rejection> {
    let credential = credentials::extract(authorization, cookie_header, &config.access_cookie)
        .map_err(|e| Rejection::new(Reason::Credentials(e)))?;
    let session = session_cookie(config, cookie_header, props);
    let valid = || session.clone().and_then(Result::ok);
    match credential {
        Credential::Bearer(token) => Ok(Presented::Bearer {
            token,
            session: valid(),
        }),
        Credential::Cookie(value) => {
            let Some(s) = &config.session else {
                return Ok(Presented::Cookie {
                    token: value.to_owned(),
                    minted_ms: None,
                    session: None,
                });
            };
            let opened = match &session {
                Some(Ok(opened)) => opened,
                Some(Err(e)) => return Err(Rejection::new(Reason::SessionCookie(*e))),
                None => return Err(Rejection::new(Reason::AccessCookieWithoutSession)),
            };
            let access = access_cookie::open(&s.binding_keys, opened.raw, value)
                .map_err(|e| Rejection::new(Reason::AccessCookie(e)))?;
            Ok(Presented::Cookie {
                token: access.token,
                minted_ms: Some(access.minted_ms),
                session: Some(opened.clone()),
            })
        }
        Credential::None => Ok(valid().map_or(Presented::Nothing, Presented::SessionOnly)),
    }
}

/// The session a logout ends when the session cookie does not verify for this client (a
/// browser update changed its User-Agent): the edge's access cookie still opens beside the
/// session cookie value it was minted with, which proves that value is the edge's own, so its
/// session id is the one to end. `None` without sessions or without such a pair.
pub fn logout_fallback_session(config: &EdgeConfig, cookie_header: Option<&str>) -> Option<String> {
    let s = config.session.as_ref()?;
    let raw = credentials::find_cookie(cookie_header, &config.session_cookie).ok()??;
    let access = credentials::find_cookie(cookie_header, &config.access_cookie).ok()??;
    access_cookie::open(&s.binding_keys, raw, access).ok()?;
    session_cookie::unverified_session_id(raw)
}

/// A verified token presented beside a session cookie must be of that session's user and,
/// when it names a session (`sid`), of that session: with or without `sid` (Transmit's tokens
/// carry none), a token of one user never rides on another user's session cookie.
pub fn token_fits_session(
    claims: &VerifiedClaims,
    session: &SessionCookie,
) -> Result<(), Rejection> {
    let same_user = claims.sub == session.subject;
    let same_session = claims
        .sid
        .as_ref()
        .is_none_or(|sid| *sid == session.session_id);
    if same_user && same_session {
        Ok(())
    } else {
        Err(Rejection::new(Reason::TokenSessionMismatch))
    }
}

/// The session a verified request belongs to: the token's `sid`, else the session cookie's.
pub fn session_id_of(claims: &VerifiedClaims, session: Option<&SessionCookie>) -> Option<String> {
    claims
        .sid
        .clone()
        .or_else(|| session.map(|s| s.session_id.clone()))
}

/// When a verified token presented in `presented` was issued, for the revocation check.
pub fn issued(claims: &VerifiedClaims, minted_ms: Option<i64>) -> Issued {
    Issued {
        iat: Some(claims.iat),
        minted_ms,
    }
}

/// How a login is sent to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginPlan {
    /// Add the authentication to the session of the cookie present (MFA step-up).
    StepUp {
        /// The session to add it to.
        session_id: String,
    },
    /// A new session.
    Fresh,
}

/// The first attempt of a login: a step-up onto the session cookie present, unless there is
/// none or the edge already knows that session ended (revoked, logged out everywhere).
pub fn plan_login(present: Option<&SessionCookie>, known_ended: bool) -> LoginPlan {
    match present {
        Some(s) if !known_ended => LoginPlan::StepUp {
            session_id: s.session_id.clone(),
        },
        _ => LoginPlan::Fresh,
    }
}

/// Whether a refused step-up is tried once more as a fresh login. The store refuses a step-up
/// onto a session it no longer knows (ended at the store: logout-all, revoke-all, expiry) and
/// onto another user's session (someone else signs in on this browser); both users expect the
/// login to work. Wrong credentials fail the fresh attempt as well, and that answer is given.
/// A store may say "session not found" as a bare 400 (Transmit's numeric `error_code`), which
/// reads as a refused request ([`StoreFailure::RequestRefused`]): retried too; a real
/// validation refusal comes back from the fresh attempt, and that answer is given.
///
/// Only a password login is retried: a second factor (TOTP, email passcode) refused as a
/// step-up (another user's code, or the session gone) is refused, never made a session of its
/// own, so a factor of another user cannot replace the session present.
pub fn retry_fresh(plan: &LoginPlan, method: LoginMethod, failure: StoreFailure) -> bool {
    method == LoginMethod::Password
        && matches!(plan, LoginPlan::StepUp { .. })
        && matches!(
            failure,
            StoreFailure::Refused | StoreFailure::SessionGone | StoreFailure::RequestRefused
        )
}

/// The failure a login ends with, from the store's answer. A second factor refused as a
/// step-up because of the session (gone at the store, or another user's: Transmit answers that
/// as a 400 `invalid_session`, read as [`StoreFailure::RequestRefused`]) is a refusal of the
/// code (401), not a failing store (502); it is not retried ([`retry_fresh`]). Everything else
/// stays as answered.
pub fn login_failure(plan: &LoginPlan, method: LoginMethod, failure: StoreFailure) -> StoreFailure {
    let step_up = matches!(plan, LoginPlan::StepUp { .. });
    match failure {
        StoreFailure::SessionGone | StoreFailure::RequestRefused
            if step_up && method != LoginMethod::Password =>
        {
            StoreFailure::Refused
        }
        other => other,
    }
}

/// What a successful login did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The authentication joined the session of the cookie present.
    SteppedUp,
    /// A new session; the one of the cookie present, if any, is to be ended (logged out at
    /// the store, revoked at the edge) since its cookies are replaced.
    NewSession {
        /// The session being replaced.
        replaces: Option<String>,
    },
}

/// Judges the store's answer to a login attempted as `plan`, from the verified access token
/// (`subject`, its `sid` if any) and the answer's `session_id`.
pub fn judge_login(
    plan: &LoginPlan,
    present: Option<&SessionCookie>,
    subject: &str,
    token_sid: Option<&str>,
    session_id: &str,
) -> Result<LoginOutcome, Rejection> {
    if session_id.is_empty() || token_sid.is_some_and(|sid| sid != session_id) {
        return Err(Rejection::store(StoreFailure::Malformed));
    }
    match plan {
        LoginPlan::StepUp { session_id: asked } => {
            let same_user = present.is_some_and(|p| p.subject == subject);
            if same_user && asked == session_id {
                Ok(LoginOutcome::SteppedUp)
            } else {
                // The store accepted a step-up onto another user or moved it to another
                // session: it broke the rule, so nothing is minted.
                Err(Rejection::new(Reason::StepUpOtherUser))
            }
        }
        LoginPlan::Fresh => Ok(LoginOutcome::NewSession {
            replaces: present
                .filter(|p| p.session_id != session_id)
                .map(|p| p.session_id.clone()),
        }),
    }
}

/// Whether a session refresh that finished at `finished_ms` may serve a request that carries
/// an access cookie minted at `carried_ms`: only when it is newer, so no answer ever sets an
/// access cookie older than the one the request carried (a step-up in between mints a newer
/// one than a refresh just before it).
pub fn may_reuse_refresh(finished_ms: i64, carried_ms: Option<i64>) -> bool {
    carried_ms.is_none_or(|carried| finished_ms > carried)
}

/// How long a finished refresh serves the same session's other requests, milliseconds.
pub const REFRESH_REUSE_MS: i64 = 30_000;

/// Where a session's refresh in an isolate's flight table stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlightState {
    /// Still running, started at this time (ms).
    Running {
        /// When it started.
        started_ms: i64,
    },
    /// Finished with a token: when the answer arrived (ms) and the token's `exp` (s).
    Done {
        /// When the store's answer arrived.
        at_ms: i64,
        /// The new token's expiry.
        exp: i64,
    },
    /// Finished with a refusal.
    Failed,
}

/// How long a request waits for another request's refresh, milliseconds: the
/// ClientAccessToken call and the session call (each bounded by the store timeout), a JWKS
/// refetch for a new key, and a margin.
pub fn refresh_wait_limit_ms(store_timeout_ms: u32) -> i64 {
    2 * i64::from(store_timeout_ms) + 6_000
}

/// Whether a refresh stays in the flight table at `now_ms`: a finished one while it may be
/// reused ([`REFRESH_REUSE_MS`]) and its token is unexpired; a running one until the wait
/// limit (after that its request was cancelled and nobody polls it any more); a failed one
/// never (the next request tries again).
pub fn keep_flight(state: FlightState, now_ms: i64, wait_limit_ms: i64) -> bool {
    match state {
        FlightState::Done { at_ms, exp } => {
            now_ms < at_ms.saturating_add(REFRESH_REUSE_MS) && now_ms / 1000 < exp
        }
        FlightState::Failed => false,
        FlightState::Running { started_ms } => now_ms.saturating_sub(started_ms) <= wait_limit_ms,
    }
}

#[cfg(test)]
mod tests;
