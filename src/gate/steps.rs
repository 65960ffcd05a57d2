//! What both machines share: their log notes, the revocation judgement, the access cookie
//! they mint, and the refusal when the adapter breaks the protocol.

use crate::access_cookie;
use crate::config::EdgeConfig;
use crate::cookies;
use crate::rejection::{Reason, Rejection};
use crate::revocation::{self, Issued, Lookup, Verdict};

/// Something the adapter logs once a machine is done (never a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// The revocation list could not be read and the policy let the request pass.
    RevocationFailedOpen,
    /// The revocation list could not be read and the policy refused the request.
    RevocationFailedClosed,
    /// A session cookie did not verify for this client (treated as none).
    SessionCookieRefused(crate::session_cookie::BindingError),
    /// The store refused a step-up; the login is tried as a fresh one.
    StepUpRefusedTryingFresh,
    /// The store answered an access token the edge cannot verify.
    StoreTokenUnverifiable,
    /// The store's ID token does not verify (the login stands, without `amr`).
    IdTokenUnverifiable,
    /// A login succeeded, as this code says (`login`, `step_up`, `login_replaced_session`).
    LoggedIn(&'static str),
    /// The login counters did not answer an admit: the login failed closed.
    ThrottleUnavailable,
    /// A login counter did not take its settlement (a reset or a refund is lost: the counter
    /// keeps a slot until its window ends).
    ThrottleNotSettled,
}

impl Note {
    /// Level, phase and code of the log line.
    pub fn line(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::RevocationFailedOpen => ("warn", "revocation", "kv_unreadable_fail_open"),
            Self::RevocationFailedClosed => ("error", "revocation", "kv_unreadable_fail_closed"),
            Self::SessionCookieRefused(e) => ("info", "authenticate", e.reason()),
            Self::StepUpRefusedTryingFresh => ("info", "login", "step_up_refused_trying_fresh"),
            Self::StoreTokenUnverifiable => ("error", "login", "store_token_unverifiable"),
            Self::IdTokenUnverifiable => ("warn", "login", "id_token_unverifiable"),
            Self::LoggedIn(code) => ("info", "login", code),
            Self::ThrottleUnavailable => ("error", "login", "throttle_unreachable_fail_closed"),
            Self::ThrottleNotSettled => ("warn", "login", "throttle_not_settled"),
        }
    }
}

/// The revocation check of a credential `issued` as said, from the entries read (`None`: no
/// namespace bound, so nothing can be revoked at the edge), and what to log about it.
pub fn judge_revocation(
    config: &EdgeConfig,
    lookup: Option<Lookup>,
    issued: Issued,
) -> (Result<(), Rejection>, Option<Note>) {
    let Some(lookup) = lookup else {
        return (Ok(()), None);
    };
    match revocation::decide(lookup, issued, config.revocation.on_kv_error) {
        Verdict::Allow => (Ok(()), None),
        Verdict::AllowedOnError => (Ok(()), Some(Note::RevocationFailedOpen)),
        Verdict::Revoked => (Err(Rejection::new(Reason::Revoked)), None),
        Verdict::Unavailable => (
            Err(Rejection::new(Reason::RevocationUnavailable)),
            Some(Note::RevocationFailedClosed),
        ),
    }
}

/// The refusal when the adapter answers a question the machine did not ask, or asks for the
/// outcome before the end: nothing passes.
pub(crate) fn out_of_order() -> Rejection {
    Rejection::new(Reason::Upstream(crate::rejection::UpstreamFault::Reply))
}

/// The `Set-Cookie` of an access cookie: `token`, received at `minted_ms`, sealed beside the
/// session cookie value `session_raw` with `nonce`, living as long as the session may.
pub fn access_cookie_header(
    config: &EdgeConfig,
    session_raw: &str,
    token: &str,
    minted_ms: i64,
    now: i64,
    nonce: &[u8; access_cookie::NONCE_BYTES],
) -> Result<String, Rejection> {
    let s = config
        .session
        .as_ref()
        .ok_or_else(|| Rejection::new(Reason::NoRoute))?;
    let sealed = access_cookie::seal(&s.binding_keys, session_raw, token, minted_ms, nonce)
        .ok_or_else(|| Rejection::new(Reason::StoreTokenUnverifiable))?;
    cookies::set_cookie(
        &config.access_cookie,
        &sealed,
        &s.cookies,
        Some(now.saturating_add(s.session_max_secs)),
        now,
    )
    .map_err(|_| Rejection::new(Reason::StoreTokenUnverifiable))
}
