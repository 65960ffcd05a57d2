//! The edge's log lines and security events, pure.
//!
//! The line format, the events, the id hash and the client prefix are the protocol crate's
//! ([`edge_session_protocol::audit`]), shared with the reference store so both write the same
//! lines. Here: which audit line each of the edge's operations writes (its event, outcome,
//! reason, subject and session), the request id of a line, and the host a failed outbound
//! call names. The login and refresh machines give their own ([`crate::gate::Login::audit`],
//! [`crate::gate::Authentication::audit`]).
//!
//! Events the edge does not produce yet have their constructors here so that the code that
//! will produce them only calls one: [`webhook_revocation`], [`session_revoked`] (a
//! throttled login comes out of the login machine's refusal: [`refused`]).

pub use edge_session_protocol::audit::{
    client_prefix, id_hash, line, local_request_id, Audit, Event, Field, Level, Outcome,
};

use crate::edge_routes::LoggedOut;
use crate::rejection::{Reason, Rejection};
use crate::store_api::StoreFailure;
use crate::token::VerifiedClaims;
use crate::webhook::Revocations;

/// The request id of the request whose `cf-ray` header is `cf_ray`, or, without a usable one,
/// the id made from `random` (bytes the adapter drew; called only then).
pub fn request_id(cf_ray: Option<&str>, random: impl FnOnce() -> [u8; 8]) -> String {
    match edge_session_protocol::audit::request_id(cf_ray) {
        Some(id) => id.to_owned(),
        None => local_request_id(&random()),
    }
}

/// The host (and port, when not the scheme's default) of a URL the edge calls, for a line
/// about a failed call: never its path, query or credentials.
pub fn host(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => String::new(),
    }
}

/// The name of a runtime error (`TypeError`, `TimeoutError`, …) when it is one: 1 to 40
/// ASCII letters. Its message is never written (it may hold a URL with its query).
pub fn error_name(name: &str) -> Option<&str> {
    (!name.is_empty() && name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphabetic()))
        .then_some(name)
}

/// The event of a refusal of `event`'s operation: a refresh whose store said the refresh
/// token was already used is [`Event::RefreshReuseDetected`]; a login refused by the edge's
/// throttle, or by the store's own limit, is [`Event::Throttled`].
fn refused_event(event: Event, r: &Rejection) -> Event {
    match r.reason {
        Reason::Store(StoreFailure::RefreshReused) => Event::RefreshReuseDetected,
        Reason::LoginThrottled { .. } | Reason::Store(StoreFailure::TooManyAttempts { .. }) => {
            Event::Throttled
        }
        _ => event,
    }
}

/// An operation of `event` refused with `r`, for the subject and session known at that point.
pub fn refused(
    event: Event,
    r: &Rejection,
    subject: Option<&str>,
    session_id: Option<&str>,
) -> Audit {
    Audit::new(refused_event(event, r), Outcome::Failure, r.reason.code())
        .subject(subject)
        .session(session_id)
}

/// The refresh-token grant (an API client's `POST /auth/refresh`): its new token's user and
/// session, or why it was refused (a reused refresh token: [`Event::RefreshReuseDetected`];
/// the edge does not know the session of a refresh token it could not use).
pub fn refresh_grant(result: Result<&VerifiedClaims, &Rejection>) -> Audit {
    match result {
        Ok(claims) => Audit::new(Event::Refresh, Outcome::Success, "refresh_grant")
            .subject(Some(&claims.sub))
            .session(claims.sid.as_deref()),
        Err(r) => refused(Event::Refresh, r, None, None),
    }
}

/// A logout (`POST /auth/logout`) or logout-all: done when the edge revoked and the store
/// logged out; otherwise the first thing that failed.
pub fn logout(out: &LoggedOut, subject: Option<&str>, session_id: Option<&str>) -> Audit {
    let (event, done) = if out.all_sessions {
        (Event::LogoutAll, "logged_out_everywhere")
    } else {
        (Event::Logout, "logged_out")
    };
    let (outcome, reason) = match (out.had_session, out.revoked_at_edge, out.store_logged_out) {
        (false, _, _) => (Outcome::Failure, "no_session"),
        (true, false, _) => (Outcome::Failure, "kv_write_failed"),
        (true, true, false) => (Outcome::Failure, "store_logout_failed"),
        (true, true, true) => (Outcome::Success, done),
    };
    Audit::new(event, outcome, reason)
        .subject(subject)
        .session(session_id)
}

/// A session ended by someone other than its holder's logout; `reason` says who
/// (`replaced_by_login`, `ended_from_other_device`, `revoked_by_store`, …); `done`: the edge
/// and the store both took it (otherwise the failing step has its own error line).
pub fn session_revoked(
    reason: &'static str,
    done: bool,
    subject: Option<&str>,
    session_id: Option<&str>,
) -> Audit {
    let outcome = if done {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    Audit::new(Event::SessionRevoked, outcome, reason)
        .subject(subject)
        .session(session_id)
}

/// A login attempt refused by throttling; `reason` names the limit. The login machine writes
/// it through [`refused`] (`login_throttled_user`, `login_throttled_ip`, the store's
/// `store_login_throttled`). The username is not written, not even hashed (a password typed
/// into the username field would be).
pub fn throttled(reason: &'static str, session_id: Option<&str>) -> Audit {
    Audit::new(Event::Throttled, Outcome::Failure, reason).session(session_id)
}

/// A revocation received through the webhook: `Ok(reason)` what it revoked (`session`,
/// `user`), `Err(reason)` why it was refused (`bad_mac`, `stale_timestamp`, `replayed`, …).
pub fn webhook_revocation(
    result: Result<&'static str, &'static str>,
    subject: Option<&str>,
    session_id: Option<&str>,
) -> Audit {
    let (outcome, reason) = match result {
        Ok(r) => (Outcome::Success, r),
        Err(r) => (Outcome::Failure, r),
    };
    Audit::new(Event::WebhookRevocation, outcome, reason)
        .subject(subject)
        .session(session_id)
}

/// The lines of one webhook call: one per session and per user it revoked (`session`,
/// `user`), or one saying why it was refused (the refusal's code: `invalid_signature` lines
/// name no id, since nothing from an unverified body is believed).
pub fn webhook(result: Result<&Revocations, &Rejection>) -> Vec<Audit> {
    match result {
        Ok(r) => r
            .session_ids
            .iter()
            .map(|sid| webhook_revocation(Ok("session"), None, Some(sid)))
            .chain(
                r.user_ids
                    .iter()
                    .map(|user| webhook_revocation(Ok("user"), Some(user), None)),
            )
            .collect(),
        Err(r) => vec![webhook_revocation(Err(r.reason.code()), None, None)],
    }
}

#[cfg(test)]
mod tests;
