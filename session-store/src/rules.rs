//! The session rules, as pure operations over a synchronous [`Store`].
//!
//! Each operation reads and writes through `Store` without any `await`, so the Durable Object
//! can run one operation inside one `transactionSync`: concurrent requests to the same user
//! object run one after another, and an operation either commits whole or not at all.
//!
//! Rules (each is a test row below):
//! - a session lasts [`Policy::session_ttl_ms`] (2 weeks by default) from its last extension;
//!   issuing new tokens by an authentication or by session authenticate within its lifetime
//!   extends it to `now + ttl`; a refresh does not (Transmit: a refresh "doesn't affect the
//!   session"); past its expiry nothing revives it (it is deleted when next touched);
//! - every token-issuing authentication starts a refresh-token chain whose tokens can be rotated
//!   until `chain start + `[`Policy::refresh_max_ms`] (the resource's "session expiration");
//!   rotating never moves that bound, and a refresh also needs the session to be live;
//! - refresh tokens rotate on every use; presenting a rotated token again **ends the session**
//!   with every refresh token of it (the family): a stolen token was used, and the session's
//!   access tokens and cookies must go too (the edge refuses them through its revocation list),
//!   except within [`Policy::reuse_grace_ms`] of its rotation for the immediately previous
//!   token of the chain, which gets a sibling of the current token (a lost response can be
//!   retried, concurrent refreshes all succeed); once one sibling rotates, the others are
//!   superseded and presenting them is reuse;
//! - logout deletes the session and its refresh tokens; revoke-all deletes every session of the
//!   user and their refresh tokens;
//! - every session an operation ends (logout, reuse, expiry found, the session cap) and a
//!   revoke-all are recorded as they happen ([`Recording`], [`Ended`]), for the edge's
//!   revocation list ([`crate::revocations`]);
//! - a user has at most [`Policy::max_sessions`] live sessions: an authentication that creates a
//!   session past it first ends the oldest (by creation) with their refresh tokens; the list
//!   answers the newest sessions first, at most that many;
//! - several authentications accumulate in one session: `amr` lists each method once in the
//!   order first used, then `mfa` once two different factors are in it (`pwd`, `otp` for
//!   TOTP, `eotp` for an email passcode); `auth_time` is the latest authentication, and
//!   neither a refresh nor a session authenticate moves it;
//! - an authentication of a user by another user's session is refused as not found;
//! - a TOTP code is good once: its step must come after the last step accepted for the user;
//!   an email passcode lives 5 minutes, the fifth wrong guess ends it, a right one is used up
//!   ([`prove`]);
//! - a password check takes a slot in its username's failed-login window first
//!   ([`admit_login`]); past [`Policy::login_failures`] in [`Policy::login_window_ms`] it is
//!   refused without checking, a success clears the window ([`login_succeeded`]). The window
//!   arithmetic is the protocol's (`edge_session_protocol::attempts`), the one the edge's
//!   throttle counts with.

use serde::{Deserialize, Serialize};

use crate::time::Millis;

mod attempts;
mod ended;
mod factors;
mod records;

pub use attempts::{admit_login, login_succeeded};
pub use ended::{Ended, Recording};
pub use factors::{
    add_method, dev_mailbox, issue_otp, prove, Factor, PendingOtp, AMR_EMAIL_OTP, AMR_MFA,
    AMR_PASSWORD, AMR_TOTP,
};
pub use records::{
    Policy, RefreshRecord, Session, Store, TokenState, DEFAULT_LOGIN_FAILURES,
    DEFAULT_LOGIN_WINDOW_MS, DEFAULT_MAX_SESSIONS,
};

/// Why an operation was refused. Refusals commit whatever the rules wrote before refusing
/// (deleting an expired session, revoking a reused token's family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Unknown, ended or expired session.
    SessionNotFound,
    /// Unknown refresh token, or its session ended.
    InvalidRefreshToken,
    /// The refresh token's chain reached its "session expiration".
    RefreshTokenExpired,
    /// A rotated or superseded refresh token was presented; the session is ended with its
    /// refresh tokens.
    RefreshTokenReused,
    /// Too many failed password attempts for this username: retry after this many seconds.
    TooManyAttempts {
        /// Seconds until the window ends.
        retry_after_secs: u32,
    },
    /// A TOTP step at or before the last one accepted: the code was used already.
    CodeReplayed,
    /// A wrong email passcode, or none pending (used, ended by its attempt limit, or never
    /// sent).
    WrongCode,
    /// The email passcode's lifetime is over (it is deleted).
    CodeExpired,
}

/// What a token-issuing operation returns: the session after the operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    /// The session, as stored after the operation.
    pub session: Session,
    /// Until when the new refresh token's chain can be rotated.
    pub refresh_expires_at: Millis,
    /// Access-token audience of the chain.
    pub audience: String,
    /// Sessions of the user this operation ended to stay within [`Policy::max_sessions`].
    #[serde(default)]
    pub ended_sessions: u64,
}

/// A new refresh-token chain: its first token (by hash) and the audience of its access tokens.
/// The caller draws the randomness; the rules draw none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChain {
    /// Hash of the chain's first refresh token.
    pub refresh_hash: String,
    /// Access-token audience.
    pub audience: String,
}

/// The result of an operation: `Err` only for storage failures.
pub type Op<T, E> = Result<Result<T, Rejection>, E>;

/// An authentication of a user by one factor (proved by [`prove`] first).
#[derive(Debug, Clone, Copy)]
pub struct Authentication<'a> {
    /// The authenticated user.
    pub user_id: &'a str,
    /// What it proved.
    pub factor: &'a Factor,
    /// The session to add it to, if any.
    pub existing: Option<&'a str>,
    /// Id for the session if one is created.
    pub new_session_id: &'a str,
}

/// An authentication: the factor is proved ([`prove`]: a TOTP step good once, an email
/// passcode right, pending and unexpired), then it creates a session, or with `existing` adds
/// its method to that live session of the same user ([`add_method`], `auth_time` now).
pub fn authenticate<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    auth: Authentication<'_>,
    chain: &NewChain,
) -> Op<Issued, S::Error> {
    let Authentication {
        user_id,
        factor,
        existing,
        new_session_id,
    } = auth;
    if let Err(r) = prove(store, now, factor)? {
        return Ok(Err(r));
    }
    let method = factor.amr();
    store.purge_expired(now)?;
    let mut ended_sessions = 0;
    let session = match existing {
        Some(id) => {
            let Some(mut s) = live_session(store, id, now)? else {
                return Ok(Err(Rejection::SessionNotFound));
            };
            if s.user_id != user_id {
                return Ok(Err(Rejection::SessionNotFound));
            }
            add_method(&mut s.amr, method);
            s.auth_time = now;
            s.expires_at = s.expires_at.max(now.saturating_add(policy.session_ttl_ms));
            s
        }
        None => {
            ended_sessions = make_room(store, policy, now)?;
            Session {
                id: new_session_id.to_string(),
                user_id: user_id.to_string(),
                created_at: now,
                expires_at: now.saturating_add(policy.session_ttl_ms),
                auth_time: now,
                amr: vec![method.to_string()],
            }
        }
    };
    store.save_session(&session)?;
    let refresh_expires_at = start_chain(store, policy, now, &session.id, chain)?;
    Ok(Ok(Issued {
        session,
        refresh_expires_at,
        audience: chain.audience.clone(),
        ended_sessions,
    }))
}

/// Session authenticate: new tokens for a live session, which is extended.
pub fn session_authenticate<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    session_id: &str,
    chain: &NewChain,
) -> Op<Issued, S::Error> {
    let Some(mut session) = live_session(store, session_id, now)? else {
        return Ok(Err(Rejection::SessionNotFound));
    };
    session.expires_at = session
        .expires_at
        .max(now.saturating_add(policy.session_ttl_ms));
    store.save_session(&session)?;
    let refresh_expires_at = start_chain(store, policy, now, &session.id, chain)?;
    Ok(Ok(Issued {
        session,
        refresh_expires_at,
        audience: chain.audience.clone(),
        ended_sessions: 0,
    }))
}

/// Refresh: rotates the presented token (by hash) into `new_hash`. Does not extend the session.
pub fn refresh<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    presented_hash: &str,
    new_hash: &str,
) -> Op<Issued, S::Error> {
    let Some(token) = store.refresh_token(presented_hash)? else {
        return Ok(Err(Rejection::InvalidRefreshToken));
    };
    let Some(session) = live_session(store, &token.session_id, now)? else {
        return Ok(Err(Rejection::InvalidRefreshToken));
    };
    if now >= token.chain_expires_at {
        return Ok(Err(Rejection::RefreshTokenExpired));
    }
    let generation = match token.state {
        TokenState::Active => {
            store.rotate(&token, now)?;
            token.generation + 1
        }
        TokenState::Rotated => {
            let head = store.chain_head(&token.chain)?;
            // A zero grace disables siblings outright (even a replay in the same millisecond
            // as the rotation is reuse); otherwise the bound is inclusive.
            let in_grace = policy.reuse_grace_ms > 0
                && token
                    .rotated_at
                    .is_some_and(|at| now.saturating_sub(at) <= policy.reuse_grace_ms);
            if !(in_grace && token.generation + 1 == head) {
                store.delete_session(&session.id)?;
                return Ok(Err(Rejection::RefreshTokenReused));
            }
            head
        }
        TokenState::Superseded => {
            store.delete_session(&session.id)?;
            return Ok(Err(Rejection::RefreshTokenReused));
        }
    };
    store.insert_refresh_token(&RefreshRecord {
        hash: new_hash.to_string(),
        session_id: session.id.clone(),
        chain: token.chain.clone(),
        generation,
        state: TokenState::Active,
        created_at: now,
        rotated_at: None,
        chain_expires_at: token.chain_expires_at,
        audience: token.audience.clone(),
    })?;
    Ok(Ok(Issued {
        session,
        refresh_expires_at: token.chain_expires_at,
        audience: token.audience,
        ended_sessions: 0,
    }))
}

/// Logout: deletes a live session and its refresh tokens.
pub fn logout<S: Store>(store: &mut S, now: Millis, session_id: &str) -> Op<(), S::Error> {
    match live_session(store, session_id, now)? {
        Some(_) => {
            store.delete_session(session_id)?;
            Ok(Ok(()))
        }
        None => Ok(Err(Rejection::SessionNotFound)),
    }
}

/// The user's live sessions, newest first, at most [`Policy::max_sessions`] of them (expired
/// ones are purged on the way; older ones beyond the cap, stored before it was lowered, are
/// left out and end with the user's next new session).
pub fn list<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
) -> Result<Vec<Session>, S::Error> {
    store.purge_expired(now)?;
    let max = usize::try_from(policy.max_sessions.max(1)).unwrap_or(usize::MAX);
    Ok(store
        .sessions()?
        .into_iter()
        .rev()
        .filter(|s| s.is_live(now))
        .take(max)
        .collect())
}

/// Revoke-all: ends every session of the user; how many were stored.
pub fn revoke_all<S: Store>(store: &mut S) -> Result<u64, S::Error> {
    store.delete_all()
}

/// The sessions to end so that one more fits within `max`: the oldest of `oldest_first`
/// (a user's live sessions, oldest first). A `max` of 0 counts as 1.
pub fn over_cap(oldest_first: &[Session], max: u32) -> &[Session] {
    let keep = usize::try_from(max.max(1) - 1).unwrap_or(usize::MAX);
    let end = oldest_first.len().saturating_sub(keep);
    oldest_first.get(..end).unwrap_or_default()
}

/// Ends the oldest live sessions (and their refresh tokens) so that a new one fits within
/// [`Policy::max_sessions`]; how many it ended. Expects expired sessions already purged.
fn make_room<S: Store>(store: &mut S, policy: &Policy, now: Millis) -> Result<u64, S::Error> {
    let live: Vec<Session> = store
        .sessions()?
        .into_iter()
        .filter(|s| s.is_live(now))
        .collect();
    let mut ended = 0;
    for s in over_cap(&live, policy.max_sessions) {
        if store.delete_session(&s.id)? {
            ended += 1;
        }
    }
    Ok(ended)
}

/// A live session, or `None`; an expired one is deleted with its tokens.
fn live_session<S: Store>(
    store: &mut S,
    id: &str,
    now: Millis,
) -> Result<Option<Session>, S::Error> {
    match store.session(id)? {
        Some(s) if s.is_live(now) => Ok(Some(s)),
        Some(_) => {
            store.delete_session(id)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

fn start_chain<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    session_id: &str,
    chain: &NewChain,
) -> Result<Millis, S::Error> {
    let chain_expires_at = now.saturating_add(policy.refresh_max_ms);
    store.insert_refresh_token(&RefreshRecord {
        hash: chain.refresh_hash.clone(),
        session_id: session_id.to_string(),
        chain: chain.refresh_hash.clone(),
        generation: 0,
        state: TokenState::Active,
        created_at: now,
        rotated_at: None,
        chain_expires_at,
        audience: chain.audience.clone(),
    })?;
    Ok(chain_expires_at)
}

/// An in-memory [`Store`] for tests of the rules and of the envelope.
#[cfg(test)]
pub(crate) mod mem;

#[cfg(test)]
mod tests;
