//! Password verification: argon2id (RFC 9106) in PHC string format.
//!
//! Why argon2id and not PBKDF2 via WebCrypto: workerd refuses PBKDF2 above 100,000 iterations
//! (cloudflare/workerd#1346), a sixth of OWASP's 600,000 for PBKDF2-SHA256. argon2id is OWASP's
//! first choice and is memory-hard; it runs here in pure Rust (wasm) with OWASP's baseline
//! parameters `m=19456 KiB, t=2, p=1` ([`DEFAULT_PARAMS`]).
//!
//! Unknown users are verified against a dummy hash with the same parameters as the real ones,
//! so both failures do the same work and get the same answer.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
pub const DEFAULT_PARAMS: (u32, u32, u32) = (19_456, 2, 1);
/// Largest memory cost accepted in a configured hash (64 MiB): a bad config must not make a
/// login exhaust the isolate's 128 MB.
pub const MAX_MEMORY_KIB: u32 = 65_536;
/// Largest time cost accepted in a configured hash.
pub const MAX_TIME_COST: u32 = 10;

/// A configured hash that is not an acceptable argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHash(pub String);

impl std::fmt::Display for BadHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad password hash: {}", self.0)
    }
}

/// Checks a PHC string: argon2id, version 0x13, parameters within bounds. Returns the
/// parameters `(m, t, p)`.
pub fn check(phc: &str) -> Result<(u32, u32, u32), BadHash> {
    let hash = PasswordHash::new(phc).map_err(|e| BadHash(e.to_string()))?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(BadHash("algorithm must be argon2id".into()));
    }
    if hash.version != Some(0x13) {
        return Err(BadHash("version must be 19 (0x13)".into()));
    }
    let params = Params::try_from(&hash).map_err(|e| BadHash(e.to_string()))?;
    if params.m_cost() > MAX_MEMORY_KIB || params.t_cost() > MAX_TIME_COST {
        return Err(BadHash("parameters above the accepted maximum".into()));
    }
    if hash.hash.map(|h| h.len()) != Some(32) || hash.salt.is_none() {
        return Err(BadHash("needs a salt and a 32-byte hash".into()));
    }
    Ok((params.m_cost(), params.t_cost(), params.p_cost()))
}

/// Hashes `password` with `salt` (≥ 16 random bytes) and parameters `(m, t, p)`.
pub fn hash(password: &str, salt: &[u8], (m, t, p): (u32, u32, u32)) -> Result<String, BadHash> {
    let params = Params::new(m, t, p, Some(32)).map_err(|e| BadHash(e.to_string()))?;
    let salt = SaltString::encode_b64(salt).map_err(|e| BadHash(e.to_string()))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| BadHash(e.to_string()))
}

/// The work of one verification with parameters `(m, t, p)`, in memory blocks processed:
/// argon2 fills every block of every lane once a pass, and runs the lanes one after another
/// (no threads in a Worker), so `p` splits the memory without adding time. Parameters argon2
/// refuses (never those [`check`] returns) count as no work.
pub fn work((m, t, p): (u32, u32, u32)) -> u64 {
    match Params::new(m, t, p, None) {
        Ok(params) => u64::try_from(params.block_count())
            .unwrap_or(u64::MAX)
            .saturating_mul(u64::from(t)),
        Err(_) => 0,
    }
}

/// A hash no password matches, with the given parameters: what unknown users are checked
/// against.
pub fn dummy((m, t, p): (u32, u32, u32)) -> String {
    // Salt "session-store-dummy-salt" and an all-zero output, base64 without padding.
    format!(
        "$argon2id$v=19$m={m},t={t},p={p}$c2Vzc2lvbi1zdG9yZS1kdW1teS1zYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    )
}

/// Whether `password` matches the PHC string (constant-time comparison of the outputs).
/// A malformed string never matches.
pub fn verify(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests;
