//! The worker ⇄ Durable Object envelope, internal to the store (its HTTP API is the one of
//! `edge-session-protocol`): one [`Envelope`] in, one [`Reply`] out, per request.
//!
//! The worker (stateless, any location) authenticates the caller, verifies passwords, draws
//! the random parts and signs tokens; the user's Durable Object runs exactly one rules
//! operation per envelope with [`execute`]. Only refresh-token hashes cross this boundary.

use serde::{Deserialize, Serialize};

use crate::rules::{self, Ended, Issued, NewChain, Policy, Recording, Rejection, Session, Store};
use crate::time::Millis;

/// Largest envelope the Durable Object reads (every field of a command is bounded by the
/// request validation in [`crate::request`], far below this).
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// Largest reply the worker reads from the Durable Object (a session list holds at most
/// [`crate::config::MAX_SESSIONS_LIMIT`] sessions of a few hundred bytes each).
pub const MAX_REPLY_BYTES: usize = 256 * 1024;

/// One request to a user's Durable Object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The rules' lifetimes (from the worker's configuration, so there is one source).
    pub policy: Policy,
    /// The worker's clock.
    pub now: Millis,
    /// The operation.
    pub command: Command,
}

/// A rules operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// [`rules::authenticate`]
    Authenticate {
        /// The authenticated user.
        user_id: String,
        /// What it proved ([`rules::prove`] checks what is left to check).
        factor: rules::Factor,
        /// Session to add the authentication to.
        existing: Option<String>,
        /// Id for the session if one is created.
        new_session_id: String,
        /// The new refresh-token chain.
        chain: NewChain,
    },
    /// [`rules::session_authenticate`]
    SessionAuthenticate {
        /// The session.
        session_id: String,
        /// The new refresh-token chain.
        chain: NewChain,
    },
    /// [`rules::refresh`]
    Refresh {
        /// Hash of the presented refresh token.
        presented_hash: String,
        /// Hash of the new refresh token.
        refresh_hash: String,
    },
    /// [`rules::logout`]
    Logout {
        /// The session.
        session_id: String,
    },
    /// [`rules::list`]
    List,
    /// [`rules::revoke_all`]
    RevokeAll,
    /// [`rules::admit_login`] (in a username's object)
    AdmitLogin,
    /// [`rules::login_succeeded`] (in a username's object)
    LoginSucceeded,
    /// [`rules::issue_otp`]: a new email passcode, by its hash.
    IssueOtp {
        /// [`crate::otp::passcode_hash`] of the code.
        hash: String,
        /// Its salt.
        salt: String,
        /// DEV ONLY (`OTP_DEV_DELIVERY`): the code, for the dev mailbox.
        #[serde(default)]
        dev_code: Option<String>,
    },
    /// [`rules::dev_mailbox`] (DEV ONLY).
    DevMailbox,
}

/// The Durable Object's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reply {
    /// Tokens may be issued for this session.
    Issued(Issued),
    /// The live sessions.
    Sessions {
        /// Newest first, at most [`Policy::max_sessions`].
        sessions: Vec<Session>,
    },
    /// Done, with a count where the operation has one.
    Done {
        /// Sessions affected.
        count: u64,
    },
    /// DEV ONLY: the dev mailbox's code, if one is pending.
    Mail {
        /// The code.
        code: Option<String>,
    },
    /// The rules refused.
    Rejected {
        /// Why.
        rejection: Rejection,
    },
}

/// The Durable Object's whole answer: the [`Reply`] and what the operation ended (for the
/// edge's revocation list, written by the worker once the transaction committed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The operation's result.
    pub reply: Reply,
    /// The sessions it ended.
    #[serde(default)]
    pub ended: Ended,
}

/// Runs one envelope against a store, recording what it ends ([`Recording`]).
pub fn execute_recorded<S: Store>(store: &mut S, envelope: &Envelope) -> Result<Answer, S::Error> {
    let mut recording = Recording::new(store);
    let reply = execute(&mut recording, envelope)?;
    Ok(Answer {
        reply,
        ended: recording.ended,
    })
}

/// Runs one envelope against a store.
pub fn execute<S: Store>(store: &mut S, envelope: &Envelope) -> Result<Reply, S::Error> {
    let (p, now) = (&envelope.policy, envelope.now);
    let issued = |r: Result<Issued, Rejection>| match r {
        Ok(i) => Reply::Issued(i),
        Err(rejection) => Reply::Rejected { rejection },
    };
    Ok(match &envelope.command {
        Command::Authenticate {
            user_id,
            factor,
            existing,
            new_session_id,
            chain,
        } => {
            let auth = rules::Authentication {
                user_id,
                factor,
                existing: existing.as_deref(),
                new_session_id,
            };
            issued(rules::authenticate(store, p, now, auth, chain)?)
        }
        Command::SessionAuthenticate { session_id, chain } => issued(rules::session_authenticate(
            store, p, now, session_id, chain,
        )?),
        Command::Refresh {
            presented_hash,
            refresh_hash,
        } => issued(rules::refresh(store, p, now, presented_hash, refresh_hash)?),
        Command::Logout { session_id } => match rules::logout(store, now, session_id)? {
            Ok(()) => Reply::Done { count: 1 },
            Err(rejection) => Reply::Rejected { rejection },
        },
        Command::List => Reply::Sessions {
            sessions: rules::list(store, p, now)?,
        },
        Command::RevokeAll => Reply::Done {
            count: rules::revoke_all(store)?,
        },
        Command::AdmitLogin => match rules::admit_login(store, p, now)? {
            Ok(()) => Reply::Done { count: 1 },
            Err(rejection) => Reply::Rejected { rejection },
        },
        Command::LoginSucceeded => {
            rules::login_succeeded(store, p)?;
            Reply::Done { count: 0 }
        }
        Command::IssueOtp {
            hash,
            salt,
            dev_code,
        } => {
            rules::issue_otp(store, now, hash, salt, dev_code.as_deref())?;
            Reply::Done { count: 1 }
        }
        Command::DevMailbox => Reply::Mail {
            code: rules::dev_mailbox(store, now)?,
        },
    })
}

#[cfg(test)]
mod tests;
