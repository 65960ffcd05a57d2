//! The store's audit lines: which security event each route writes, with what it learnt of
//! the user and the session on the way ([`Seen`]). The line format, the events and the id
//! hash are the protocol crate's ([`edge_session_protocol::audit`]), shared with the edge, so
//! a session's hash is the same in both workers' lines.

pub use edge_session_protocol::audit::{Audit, Event, Level, Outcome};

use crate::api::{ApiError, Route};

/// What a route learnt of the request while it ran: the user and session it concerns, whether
/// it was a step-up, and the end user's address when the call says it (`client_attributes`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The user (a user id).
    pub subject: Option<String>,
    /// The session.
    pub session: Option<String>,
    /// An authentication (password, TOTP, email passcode) that adds to an existing session.
    pub step_up: bool,
    /// The end user's IP address as the caller reported it.
    pub client_ip: Option<String>,
}

/// The audit line of `route` that ended with `result` (`None` for routes that are not
/// security events: the ClientAccessToken, the session list, the keys, discovery).
pub fn audit(route: &Route, result: Result<(), &ApiError>, seen: &Seen) -> Option<Audit> {
    let (event, done) = match route {
        Route::PasswordAuthenticate | Route::TotpAuthenticate | Route::OtpAuthenticate
            if seen.step_up =>
        {
            (Event::StepUp, "step_up")
        }
        Route::PasswordAuthenticate | Route::TotpAuthenticate | Route::OtpAuthenticate => {
            (Event::Login, "login")
        }
        Route::SessionAuthenticate => (Event::Refresh, "session_authenticate"),
        Route::Refresh => (Event::Refresh, "refresh_grant"),
        Route::Logout => (Event::Logout, "logged_out"),
        Route::RevokeSessions(_) => (Event::SessionRevoked, "revoke_all"),
        Route::ClientToken
        | Route::OtpSend
        | Route::DevMailbox(_)
        | Route::ListSessions(_)
        | Route::Jwks
        | Route::Discovery => return None,
    };
    let audit = match result {
        Ok(()) => Audit::new(event, Outcome::Success, done),
        // The session the reuse ended, when the refresh did not get as far as naming it.
        Err(e @ ApiError::RefreshTokenReused(ended)) => {
            return Some(
                Audit::new(Event::RefreshReuseDetected, Outcome::Failure, e.code())
                    .subject(seen.subject.as_deref())
                    .session(seen.session.as_deref().or(ended.as_deref())),
            )
        }
        Err(e @ ApiError::TooManyAttempts(_)) => {
            Audit::new(Event::Throttled, Outcome::Failure, e.code())
        }
        Err(e) => Audit::new(event, Outcome::Failure, e.code()),
    };
    Some(
        audit
            .subject(seen.subject.as_deref())
            .session(seen.session.as_deref()),
    )
}

/// The line of sessions a login ended to keep the user within the session cap (their ids are
/// not at hand: the user is named).
pub fn session_cap(user_id: &str) -> Audit {
    Audit::new(Event::SessionRevoked, Outcome::Success, "session_cap").subject(Some(user_id))
}

#[cfg(test)]
mod tests;
