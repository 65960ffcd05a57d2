//! The KV revocation format of the `REVOCATIONS` namespace: the edge reads it, and the edge and
//! the reference store both write it (the store whenever a session ends there).
//!
//! - `s:<hex sha256(session id)>` = [`SESSION_ENTRY_VALUE`]: the session ended; any value
//!   counts.
//! - `u:<hex sha256(subject)>` = `<unix milliseconds>` ([`user_entry_value`]): every token and
//!   cookie of the user issued up to that moment is refused.
//! - `w:<hex sha256(MAC)>`: a revocation webhook call the edge took ([`webhook_replay_key`]);
//!   the same signed call again is a replay.
//!
//! Ids are hashed so the namespace lists no session id or user id. Every entry lives
//! [`entry_ttl`] seconds: as long as what it refuses could still be presented.
//!
//! The functions are `#[inline]`: compiled in the calling crate, they share its instances of
//! SHA-256 and of the integer parser instead of adding a second copy to the edge's wasm.

use sha2::{Digest, Sha256};

/// Prefix of a revoked session's key.
pub const SESSION_KEY_PREFIX: &str = "s:";
/// Prefix of a user-wide revocation's key.
pub const USER_KEY_PREFIX: &str = "u:";
/// Prefix of a webhook call's replay marker.
pub const WEBHOOK_KEY_PREFIX: &str = "w:";
/// The value of a session entry.
pub const SESSION_ENTRY_VALUE: &str = "1";
/// KV's smallest accepted `expirationTtl`, seconds.
pub const KV_MIN_TTL_SECS: u64 = 60;

/// Values below this are whole seconds (entries written before milliseconds were used).
const SECONDS_BELOW: i64 = 100_000_000_000;

#[inline]
fn hex_sha256(s: &str) -> String {
    base16ct::lower::encode_string(&Sha256::digest(s.as_bytes()))
}

/// The KV key of a revoked session.
#[inline]
pub fn session_key(session_id: &str) -> String {
    format!("{SESSION_KEY_PREFIX}{}", hex_sha256(session_id))
}

/// The KV key of a user-wide revocation.
#[inline]
pub fn user_key(subject: &str) -> String {
    format!("{USER_KEY_PREFIX}{}", hex_sha256(subject))
}

/// The KV key marking a webhook call as taken, from its MAC (hex): the MAC covers the
/// timestamp and the body, so one key per signed call.
#[inline]
pub fn webhook_replay_key(mac_hex: &str) -> String {
    format!("{WEBHOOK_KEY_PREFIX}{}", hex_sha256(mac_hex))
}

/// The TTL of a revocation entry, seconds: the longest an access token
/// (`max_access_token_secs`), or with sessions (`session_max_secs`) a session cookie, could
/// still be presented, plus the clock leeway; never under KV's minimum.
#[inline]
pub fn entry_ttl(
    max_access_token_secs: u64,
    session_max_secs: Option<u64>,
    leeway_secs: u64,
) -> u64 {
    max_access_token_secs
        .max(session_max_secs.unwrap_or(0))
        .saturating_add(leeway_secs)
        .max(KV_MIN_TTL_SECS)
}

/// The value of a user-wide entry: the revocation moment, unix milliseconds, in decimal.
#[inline]
pub fn user_entry_value(revoked_at_ms: i64) -> String {
    revoked_at_ms.to_string()
}

/// Parses a user-wide entry's value, milliseconds. An older entry in whole seconds counts to
/// the end of its second.
#[inline]
pub fn parse_user_entry(value: &str) -> Option<i64> {
    let v: i64 = value.trim().parse().ok()?;
    Some(if v < SECONDS_BELOW {
        v.saturating_mul(1000).saturating_add(999)
    } else {
        v
    })
}

#[cfg(test)]
mod tests;
