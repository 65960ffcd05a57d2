//! Session ids and refresh tokens: formats, parsing and hashing.
//!
//! Both carry the hex id of the user's Durable Object, so the worker can route a request to the
//! right object without a global index, and a secret part from a CSPRNG:
//! - session id `s1.<object id: 64 hex>.<128 random bits, base64url>`;
//! - refresh token `rt1.<object id: 64 hex>.<256 random bits, base64url>`.
//!
//! The object id is derived from the user id (`idFromName`) and is opaque: it does not reveal
//! the user id, but it is the same for all sessions of one user. Only the SHA-256 of a refresh
//! token is stored; the plaintext exists only in the response to the caller.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

/// Random bytes in a session id (128 bits).
pub const SESSION_SECRET_BYTES: usize = 16;
/// Random bytes in a refresh token (256 bits).
pub const REFRESH_SECRET_BYTES: usize = 32;
/// Random bytes in a `jti` (128 bits).
pub const JTI_BYTES: usize = 16;

const SESSION_PREFIX: &str = "s1";
const REFRESH_PREFIX: &str = "rt1";
const OBJECT_ID_HEX_LEN: usize = 64;

/// Builds a session id for the user object `object_hex`.
pub fn session_id(object_hex: &str, secret: &[u8; SESSION_SECRET_BYTES]) -> String {
    format!(
        "{SESSION_PREFIX}.{object_hex}.{}",
        Base64UrlUnpadded::encode_string(secret)
    )
}

/// Builds a refresh token for the user object `object_hex`.
pub fn refresh_token(object_hex: &str, secret: &[u8; REFRESH_SECRET_BYTES]) -> String {
    format!(
        "{REFRESH_PREFIX}.{object_hex}.{}",
        Base64UrlUnpadded::encode_string(secret)
    )
}

/// The Durable Object id (hex) a well-formed session id routes to; `None` for anything else.
pub fn session_route(session_id: &str) -> Option<&str> {
    route(session_id, SESSION_PREFIX, SESSION_SECRET_BYTES)
}

/// The Durable Object id (hex) a well-formed refresh token routes to; `None` for anything else.
pub fn refresh_route(token: &str) -> Option<&str> {
    route(token, REFRESH_PREFIX, REFRESH_SECRET_BYTES)
}

fn route<'a>(value: &'a str, prefix: &str, secret_len: usize) -> Option<&'a str> {
    let mut parts = value.split('.');
    let (p, hex, secret) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || p != prefix {
        return None;
    }
    let hex_ok = hex.len() == OBJECT_ID_HEX_LEN
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    // Only the canonical encoding, so two strings never name one secret.
    let secret_ok = match Base64UrlUnpadded::decode_vec(secret) {
        Ok(bytes) => {
            bytes.len() == secret_len && Base64UrlUnpadded::encode_string(&bytes) == secret
        }
        Err(_) => false,
    };
    (hex_ok && secret_ok).then_some(hex)
}

/// SHA-256 of a refresh token, lowercase hex: the only form the store keeps.
pub fn token_hash(token: &str) -> String {
    base16ct::lower::encode_string(&Sha256::digest(token.as_bytes()))
}

/// Prefix of the names of usernames' failed-login objects ([`login_attempts_object`]); no
/// user id may start with it (`DEMO_USERS` is checked), so they never name a user's object.
pub const LOGIN_ATTEMPTS_PREFIX: &str = "login-attempts:";

/// The name of the Durable Object that counts a username's failed logins: the SHA-256 of the
/// username as both the edge and the store fold it
/// (`edge_session_protocol::attempts::username_key`), so unknown usernames are counted like
/// known ones and no username is a name in clear.
pub fn login_attempts_object(username: &str) -> String {
    let folded = edge_session_protocol::attempts::username_key(username);
    format!(
        "{LOGIN_ATTEMPTS_PREFIX}{}",
        base16ct::lower::encode_string(&Sha256::digest(folded.as_bytes()))
    )
}

/// A `jti` from random bytes (base64url).
pub fn jti(random: &[u8; JTI_BYTES]) -> String {
    Base64UrlUnpadded::encode_string(random)
}

/// Fills an array from the platform CSPRNG (`crypto.getRandomValues` in workerd).
pub fn random<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
