//! The KV revocation format the edge writes and reads (`REVOCATIONS` namespace).
//!
//! - `s:<hex sha256(session id)>`: the session was logged out; any value.
//! - `u:<hex sha256(subject)>` = `<unix milliseconds>` ([`user_entry_value`]): every token and
//!   cookie of the user issued up to that moment is refused.
//!
//! Ids are hashed so the namespace lists no session id or user id.
//!
//! The functions are `#[inline]`: compiled in the calling crate, they share its instances of
//! SHA-256 and of the integer parser instead of adding a second copy to the edge's wasm.

use sha2::{Digest, Sha256};

/// Prefix of a revoked session's key.
pub const SESSION_KEY_PREFIX: &str = "s:";
/// Prefix of a user-wide revocation's key.
pub const USER_KEY_PREFIX: &str = "u:";

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
