//! One-time codes, pure: TOTP (RFC 6238) through `totp-lite`, and the email one-time passcodes
//! (drawn from the caller's random bytes, stored only as a salted hash).
//!
//! TOTP: HMAC-SHA-1, 6 digits, 30-second steps, one step of drift either way (RFC 6238 §5.2).
//! [`totp_step`] says which step a code matched; the user's object refuses a step at or before
//! the last one it accepted ([`crate::rules`]), so a code is good once.
//!
//! Email OTP: 6 digits, [`OTP_LIFETIME_MS`], [`OTP_MAX_ATTEMPTS`] wrong guesses then the code is
//! gone. A 6-digit code has 10⁶ values, so its hash protects a stored code from a casual reader
//! only; the attempt limit, the lifetime and the username's failed-login window are what stop
//! guessing.

use sha2::{Digest, Sha256};
use totp_lite::{totp_custom, Sha1};

use crate::time::Millis;

/// Seconds per TOTP step.
pub const TOTP_STEP_SECS: u64 = 30;
/// Digits of a TOTP code and of an email passcode.
pub const CODE_DIGITS: u32 = 6;
/// Steps of clock drift accepted either way.
pub const TOTP_DRIFT_STEPS: i64 = 1;
/// Shortest enrolled TOTP secret, bytes (RFC 4226 §4 asks for 128 bits at least).
pub const MIN_SECRET_BYTES: usize = 16;
/// How long an email passcode stays good (5 minutes).
pub const OTP_LIFETIME_MS: Millis = 5 * 60 * 1000;
/// Wrong guesses an email passcode survives: the fifth wrong one ends it.
pub const OTP_MAX_ATTEMPTS: u32 = 5;

/// The bytes of a base32 secret (RFC 4648, the authenticator apps' format): case and spaces
/// ignored, `=` padding optional. `None` when it does not decode.
pub fn decode_secret(base32: &str) -> Option<Vec<u8>> {
    let clean: String = base32
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if clean.is_empty() {
        return None;
    }
    data_encoding::BASE32_NOPAD.decode(clean.as_bytes()).ok()
}

/// Whether `code` is exactly [`CODE_DIGITS`] ASCII digits.
pub fn well_formed(code: &str) -> bool {
    code.len() == CODE_DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit())
}

/// The TOTP code of `secret` for time step `step`.
pub fn totp_code(secret: &[u8], step: i64) -> String {
    let step = u64::try_from(step).unwrap_or(0);
    totp_custom::<Sha1>(
        TOTP_STEP_SECS,
        CODE_DIGITS,
        secret,
        step.saturating_mul(TOTP_STEP_SECS),
    )
}

/// The time step of `now_ms`.
pub fn step_at(now_ms: Millis) -> i64 {
    now_ms.max(0) / 1000 / TOTP_STEP_SECS as i64
}

/// The step a TOTP `code` matches at `now_ms` (the current one or one either side), or `None`.
/// Every candidate is computed and compared in constant time.
pub fn totp_step(secret: &[u8], code: &str, now_ms: Millis) -> Option<i64> {
    if !well_formed(code) {
        return None;
    }
    let now = step_at(now_ms);
    let mut matched = None;
    for step in (now - TOTP_DRIFT_STEPS..=now + TOTP_DRIFT_STEPS).filter(|s| *s >= 0) {
        if constant_time_eq(totp_code(secret, step).as_bytes(), code.as_bytes())
            && matched.is_none()
        {
            matched = Some(step);
        }
    }
    matched
}

/// A 6-digit passcode from 8 random bytes (the modulo bias is below 10⁻¹³).
pub fn passcode(random: [u8; 8]) -> String {
    let n = u64::from_le_bytes(random) % 10u64.pow(CODE_DIGITS);
    format!("{n:06}")
}

/// The stored form of a passcode: SHA-256 of the salt and the code, hex.
pub fn passcode_hash(salt: &str, code: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(code.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `code` is the passcode stored as `hash` with `salt` (constant time).
pub fn passcode_matches(salt: &str, hash: &str, code: &str) -> bool {
    well_formed(code) && constant_time_eq(passcode_hash(salt, code).as_bytes(), hash.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
