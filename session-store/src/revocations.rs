//! The edge's revocation list, as the store writes it: which `REVOCATIONS` KV entries an
//! operation's [`Ended`] record calls for, in the edge's own format
//! (`edge_session_protocol::revocation`, one definition for both).
//!
//! | what ended at the store | entry |
//! |---|---|
//! | a session (logout, refresh-token reuse, an expired session found, the session cap) | `s:<sha256(session id)>` |
//! | every session of the user (revoke-all) | `u:<sha256(user id)>` = the moment, ms: every token and cookie issued up to it |
//!
//! The adapter writes them after the user's Durable Object committed the operation: SQLite
//! first, KV second, so a failed KV write never leaves a session half-ended (ended in KV but
//! alive in the store). If KV fails, the session has still ended at the store (no refresh, no
//! session authenticate); the edge then refuses it only once its access token expires, as
//! before the store wrote KV, and the failure is logged (README, "What fails closed").
//!
//! Expiry is written **when the store finds it** (an operation on the user's object purges
//! expired sessions or touches one), not by an alarm: no token the store issues outlives its
//! session ([`crate::tokens::access_ttl`] caps `exp` at the session's expiry), so an expired
//! session's tokens are already refused by their `exp` and its session cookie by the store's
//! "Session not found"; the entry written on discovery only makes that explicit. An alarm
//! would cost a storage write per operation (re-arming it) for no refusal it could add.

use edge_session_protocol::revocation::{
    entry_ttl, session_key, user_entry_value, user_key, SESSION_ENTRY_VALUE,
};

use crate::rules::Ended;
use crate::time::Millis;

/// The largest clock leeway an edge may be configured with (its `LEEWAY_SECONDS` bound):
/// entries outlive what they refuse by at least that much.
pub const EDGE_MAX_LEEWAY_SECS: u64 = 120;

/// One KV entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// `expirationTtl`, seconds.
    pub ttl_secs: u64,
}

/// How long the store's entries live: as long as a token it issued (`access_token_ttl_secs`)
/// or a session (`session_ttl_ms`) could be presented, plus the edge's largest leeway.
pub fn ttl_secs(access_token_ttl_secs: i64, session_ttl_ms: Millis) -> u64 {
    entry_ttl(
        u64::try_from(access_token_ttl_secs).unwrap_or(0),
        Some(u64::try_from(session_ttl_ms / 1000).unwrap_or(0)),
        EDGE_MAX_LEEWAY_SECS,
    )
}

/// The entries for what one operation `ended` at `now`: a user entry for a revoke-all of
/// `user_id` (it covers every session, so no session entry goes with it), else one session
/// entry per session ended, each once. A revoke-all without a user id names no user and
/// writes the session entries instead.
pub fn entries(ended: &Ended, user_id: Option<&str>, now: Millis, ttl_secs: u64) -> Vec<KvEntry> {
    if let (true, Some(user)) = (ended.all, user_id) {
        return vec![KvEntry {
            key: user_key(user),
            value: user_entry_value(now),
            ttl_secs,
        }];
    }
    let mut out: Vec<KvEntry> = Vec::with_capacity(ended.sessions.len());
    for id in &ended.sessions {
        let key = session_key(id);
        if out.iter().any(|e| e.key == key) {
            continue;
        }
        out.push(KvEntry {
            key,
            value: SESSION_ENTRY_VALUE.to_owned(),
            ttl_secs,
        });
    }
    out
}

#[cfg(test)]
mod tests;
