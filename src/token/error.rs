//! Why a token was refused: one variant per rule, carrying the values that decided.

use std::fmt;

use super::MAX_TOKEN_BYTES;

/// Why a token was refused. The variants carry the values that decided, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    TooLarge {
        /// The token length in bytes.
        len: usize,
    },
    /// Not a compact JWS, or its header is not valid JSON / base64url.
    Malformed(&'static str),
    /// `alg` is not an asymmetric algorithm the edge knows (`none`, HS*, …).
    UnsupportedAlgorithm(String),
    /// A header parameter the edge refuses (`jwk`, `jku`, `x5u`, `x5c`, `crit`, `zip`).
    ForbiddenHeader(&'static str),
    /// `typ` is missing or not accepted.
    WrongType,
    /// No key with this `kid` (the caller may refetch the JWKS, rate-limited).
    UnknownKey,
    /// No `kid` and more than one candidate key.
    MissingKeyId,
    /// The token's `alg` is not the algorithm of the key it names.
    AlgorithmMismatch {
        /// The key's algorithm.
        expected: &'static str,
    },
    /// The signature does not verify.
    BadSignature,
    /// The claims are not a JSON object of the expected shape (wrong types, duplicates, …).
    MalformedClaims(String),
    /// A required claim is absent.
    MissingClaim(&'static str),
    /// `exp + leeway <= now`.
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The time of the check.
        now: i64,
    },
    /// `nbf - leeway > now`.
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The time of the check.
        now: i64,
    },
    /// `iat - leeway > now`.
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The time of the check.
        now: i64,
    },
    /// `iss` is not ours.
    WrongIssuer,
    /// `aud` contains none of ours.
    WrongAudience,
}

impl TokenError {
    /// A short, stable, secret-free reason for logs.
    pub fn reason(&self) -> &'static str {
        // One list of codes: the refusal table's ([`crate::rejection::TokenFault`]).
        crate::rejection::TokenFault::from(self).code()
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len } => write!(f, "token is {len} bytes (max {MAX_TOKEN_BYTES})"),
            Self::Malformed(why) => write!(f, "malformed token: {why}"),
            Self::UnsupportedAlgorithm(alg) => {
                // `alg` comes from the attacker; print a bounded, escaped form.
                let shown: String = alg.chars().take(16).collect();
                write!(f, "unsupported alg {shown:?}")
            }
            Self::ForbiddenHeader(h) => write!(f, "forbidden header parameter {h}"),
            Self::WrongType => f.write_str("typ missing or not accepted"),
            Self::UnknownKey => f.write_str("no key with this kid"),
            Self::MissingKeyId => f.write_str("kid required: several keys match"),
            Self::AlgorithmMismatch { expected } => {
                write!(f, "alg does not match key ({expected})")
            }
            Self::BadSignature => f.write_str("signature does not verify"),
            Self::MalformedClaims(why) => write!(f, "malformed claims: {why}"),
            Self::MissingClaim(c) => write!(f, "missing claim {c}"),
            Self::Expired { exp, now } => write!(f, "expired at {exp}, now {now}"),
            Self::NotYetValid { nbf, now } => write!(f, "not before {nbf}, now {now}"),
            Self::IssuedInFuture { iat, now } => write!(f, "issued at {iat}, now {now}"),
            Self::WrongIssuer => f.write_str("issuer not accepted"),
            Self::WrongAudience => f.write_str("audience not accepted"),
        }
    }
}

impl std::error::Error for TokenError {}
