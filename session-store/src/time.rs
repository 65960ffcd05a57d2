//! Time values: milliseconds since the Unix epoch, passed in by the adapter, never read here.

/// Milliseconds since the Unix epoch (UTC). The only clock in this crate is the caller's.
pub type Millis = i64;

/// Whole seconds since the epoch for a JWT `NumericDate` (RFC 7519 §2), rounded down.
pub fn to_seconds(ms: Millis) -> i64 {
    ms.div_euclid(1000)
}

#[cfg(test)]
mod tests;
