//! Date-times on the wire. Both shapes send a session's times as date-time strings (Transmit
//! documents "date-time" strings; the reference store writes RFC 3339 UTC with milliseconds),
//! while the store keeps epoch milliseconds and tokens carry epoch seconds (`iat`, `exp`):
//! [`rfc3339`] is the one conversion from the one to the other.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats `ms` (milliseconds since the Unix epoch) as an RFC 3339 UTC date-time with
/// millisecond precision, e.g. `2026-01-02T03:04:05.678Z` (chrono, already in both workers
/// through jwt-compact). Moments beyond chrono's range (±262,000 years) are clamped to it.
pub fn rfc3339(ms: i64) -> String {
    let at = DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;
