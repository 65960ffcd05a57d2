//! The second factors a user's object proves before an authentication joins or creates a
//! session: a TOTP code's step (good once: a step at or before the last accepted one is a
//! replay) and an email passcode (hashed, [`otp::OTP_LIFETIME_MS`], [`otp::OTP_MAX_ATTEMPTS`]),
//! and the `amr` an authentication adds.

use serde::{Deserialize, Serialize};

use super::{Rejection, Store};
use crate::otp;
use crate::time::Millis;

/// `amr` of a password (RFC 8176, Transmit).
pub const AMR_PASSWORD: &str = "pwd";
/// `amr` of a TOTP code (RFC 8176 `otp`; Transmit documents no value of its own).
pub const AMR_TOTP: &str = "otp";
/// `amr` of an email one-time passcode (Transmit's `eotp`).
pub const AMR_EMAIL_OTP: &str = "eotp";
/// `amr` once two different factors are in the session (RFC 8176, Transmit).
pub const AMR_MFA: &str = "mfa";

/// The factors that count towards [`AMR_MFA`].
const FACTORS: [&str; 3] = [AMR_PASSWORD, AMR_TOTP, AMR_EMAIL_OTP];

/// What an authentication proved, as far as the user's object still has to check it. Its
/// `Debug` never shows a passcode.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Factor {
    /// A password, verified by the worker.
    Password,
    /// A TOTP code the worker matched to this time step.
    Totp {
        /// The step.
        step: i64,
    },
    /// An email passcode, checked here against the stored hash.
    EmailOtp {
        /// The code as presented.
        passcode: String,
    },
}

impl std::fmt::Debug for Factor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password => f.write_str("Password"),
            Self::Totp { step } => f.debug_struct("Totp").field("step", step).finish(),
            Self::EmailOtp { .. } => f.write_str("EmailOtp { .. }"),
        }
    }
}

impl std::fmt::Debug for PendingOtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingOtp")
            .field("expires_at", &self.expires_at)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Factor {
    /// Its `amr` value.
    pub fn amr(&self) -> &'static str {
        match self {
            Self::Password => AMR_PASSWORD,
            Self::Totp { .. } => AMR_TOTP,
            Self::EmailOtp { .. } => AMR_EMAIL_OTP,
        }
    }
}

/// The user's pending email passcode: only its salted hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOtp {
    /// [`otp::passcode_hash`] of the code.
    pub hash: String,
    /// Its salt.
    pub salt: String,
    /// Dead from this instant on.
    pub expires_at: Millis,
    /// Wrong guesses so far.
    pub attempts: u32,
    /// DEV ONLY: the code itself, kept for the dev mailbox when `OTP_DEV_DELIVERY` is on
    /// (never otherwise).
    #[serde(default)]
    pub dev_code: Option<String>,
}

/// Adds `method` to `amr` (once, in the order first used) and [`AMR_MFA`] once two different
/// factors are present.
pub fn add_method(amr: &mut Vec<String>, method: &str) {
    if !amr.iter().any(|m| m == method) {
        amr.push(method.to_string());
    }
    let factors = FACTORS
        .iter()
        .filter(|f| amr.iter().any(|m| m == *f))
        .count();
    if factors >= 2 && !amr.iter().any(|m| m == AMR_MFA) {
        amr.push(AMR_MFA.to_string());
    }
}

/// Checks what the object has to check of `factor` at `now`, recording its use: a TOTP step
/// is accepted once and only after the last accepted one; an email passcode must be pending,
/// unexpired and right, is deleted when used, and counts a wrong guess (the fifth ends it).
pub fn prove<S: Store>(
    store: &mut S,
    now: Millis,
    factor: &Factor,
) -> Result<Result<(), Rejection>, S::Error> {
    match factor {
        Factor::Password => Ok(Ok(())),
        Factor::Totp { step } => {
            if store.totp_step()?.is_some_and(|last| *step <= last) {
                return Ok(Err(Rejection::CodeReplayed));
            }
            store.save_totp_step(*step)?;
            Ok(Ok(()))
        }
        Factor::EmailOtp { passcode } => {
            let Some(mut pending) = store.pending_otp()? else {
                return Ok(Err(Rejection::WrongCode));
            };
            if now >= pending.expires_at {
                store.save_pending_otp(None)?;
                return Ok(Err(Rejection::CodeExpired));
            }
            if otp::passcode_matches(&pending.salt, &pending.hash, passcode) {
                store.save_pending_otp(None)?;
                return Ok(Ok(()));
            }
            pending.attempts += 1;
            if pending.attempts >= otp::OTP_MAX_ATTEMPTS {
                store.save_pending_otp(None)?;
            } else {
                store.save_pending_otp(Some(&pending))?;
            }
            Ok(Err(Rejection::WrongCode))
        }
    }
}

/// A new email passcode for the user (its hash and salt, and in development its `dev_code`
/// for the dev mailbox), replacing any pending one; good until
/// `now + `[`otp::OTP_LIFETIME_MS`]. Returns that expiry.
pub fn issue_otp<S: Store>(
    store: &mut S,
    now: Millis,
    hash: &str,
    salt: &str,
    dev_code: Option<&str>,
) -> Result<Millis, S::Error> {
    let expires_at = now.saturating_add(otp::OTP_LIFETIME_MS);
    store.save_pending_otp(Some(&PendingOtp {
        hash: hash.to_string(),
        salt: salt.to_string(),
        expires_at,
        attempts: 0,
        dev_code: dev_code.map(str::to_string),
    }))?;
    Ok(expires_at)
}

/// DEV ONLY: the pending passcode's code as the dev mailbox shows it, while it can still be
/// used (pending and unexpired at `now`).
pub fn dev_mailbox<S: Store>(store: &mut S, now: Millis) -> Result<Option<String>, S::Error> {
    Ok(store
        .pending_otp()?
        .filter(|p| now < p.expires_at)
        .and_then(|p| p.dev_code))
}
