//! The session cookie codec: the store's session id, the subject, the moment the edge minted
//! the cookie, and a MAC that binds them to the configured client properties (User-Agent; IP
//! or IP prefix, off by default because mobile users change networks).
//!
//! Value: `v2.<nonce>.<session id>.<subject>.<minted ms>.<mac>`; nonce, ids and MAC base64url,
//! the minting time decimal milliseconds since the epoch. The MAC is HMAC-SHA256 under the
//! current key over a domain-separation label and every part length-prefixed, plus the client
//! properties. The random nonce makes every authentication mint a new cookie value even for
//! the same session (no fixation of a known value); the minting time lets a user-wide
//! revocation ("log out everywhere") refuse every cookie minted before it, to the millisecond,
//! while a login in the same second works. Keys rotate: the first key signs, every listed key
//! verifies. `v1` cookies (before the minting time was carried) are no longer accepted: their
//! holders sign in once more.
//!
//! A cookie that does not verify (wrong key, tampered, other User-Agent, other network) is
//! treated as no session at all.
//!
//! The same keys, through HKDF, seal the access cookie ([`crate::access_cookie`]).

use std::net::IpAddr;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const LABEL: &[u8] = b"edge-session/session-cookie/v2";
/// HKDF `info` of the access-cookie sealing keys.
const SEALING_INFO: &[u8] = b"edge-session/access-cookie/v1";
/// Longest session id or subject carried.
pub const MAX_PART_BYTES: usize = 512;
/// Largest minting time carried, milliseconds: the 15 decimal digits [`open`] reads (far
/// past the year 9999). [`seal`] refuses a later one, so what it writes always opens.
pub const MAX_MINTED_MS: i64 = 999_999_999_999_999;
/// Least key length, bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// How much of the client IP the cookie is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpBinding {
    /// Not bound (default: mobile clients move between networks).
    Off,
    /// IPv4 /24, IPv6 /64.
    Prefix,
    /// The exact address.
    Exact,
}

/// Which client properties bind the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingPolicy {
    /// Bind to the `User-Agent` header.
    pub user_agent: bool,
    /// Bind to the client IP.
    pub ip: IpBinding,
}

/// The client properties of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientProps<'a> {
    /// `User-Agent`, if sent.
    pub user_agent: Option<&'a str>,
    /// The client IP as the platform reports it (`CF-Connecting-IP`).
    pub ip: Option<&'a str>,
}

/// MAC keys: the first signs, all verify. Each also yields, through HKDF-SHA256, the key that
/// seals the access cookie (so one secret, `COOKIE_KEYS`, rotates both).
#[derive(Clone)]
pub struct BindingKeys {
    keys: Vec<Vec<u8>>,
    sealing: Vec<[u8; 32]>,
}

impl std::fmt::Debug for BindingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BindingKeys({} keys)", self.keys.len())
    }
}

impl BindingKeys {
    /// Parses a comma-separated list of base64url keys of at least [`MIN_KEY_BYTES`] bytes.
    /// The error never contains key material.
    pub fn parse(list: &str) -> Result<Self, &'static str> {
        let mut keys = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let key = Base64UrlUnpadded::decode_vec(part.trim_end_matches('='))
                .map_err(|_| "keys must be base64url")?;
            if key.len() < MIN_KEY_BYTES {
                return Err("each key needs at least 32 bytes");
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("at least one key is required");
        }
        let sealing = keys
            .iter()
            .map(|k| {
                let mut out = [0u8; 32];
                hkdf::Hkdf::<Sha256>::new(None, k)
                    .expand(SEALING_INFO, &mut out)
                    .map(|()| out)
                    .map_err(|_| "key derivation failed")
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys, sealing })
    }

    /// The access-cookie sealing keys, the current one first.
    pub fn sealing_keys(&self) -> &[[u8; 32]] {
        &self.sealing
    }

    /// A 32-byte key for another purpose, named by `info` (HKDF-SHA256 of the current key):
    /// what is derived changes when the current key does.
    pub fn derive(&self, info: &[u8]) -> Option<[u8; 32]> {
        let mut out = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(None, self.keys.first()?)
            .expand(info, &mut out)
            .ok()?;
        Some(out)
    }
}

/// What a verified session cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookie {
    /// The store's session id.
    pub session_id: String,
    /// The user the session belongs to.
    pub subject: String,
    /// When the edge minted this cookie (the authentication it records), milliseconds since
    /// the epoch by the edge's clock.
    pub minted_ms: i64,
}

/// Why a session cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingError {
    /// Not of the `v2.…` shape, bad base64url, or parts too long.
    Malformed,
    /// The MAC does not verify under any key for this client (tampered, other key, or other
    /// client properties).
    Mismatch,
}

impl BindingError {
    /// Secret-free reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "session_cookie_malformed",
            Self::Mismatch => "session_cookie_mismatch",
        }
    }
}

fn ip_fingerprint(ip: Option<&str>, binding: IpBinding) -> String {
    let parsed = ip.and_then(|s| s.trim().parse::<IpAddr>().ok());
    match (binding, parsed) {
        (IpBinding::Off, _) => String::new(),
        (_, None) => "unknown".to_owned(),
        (IpBinding::Exact, Some(ip)) => ip.to_string(),
        (IpBinding::Prefix, Some(IpAddr::V4(v4))) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        (IpBinding::Prefix, Some(IpAddr::V6(v6))) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

fn mac(
    key: &[u8],
    nonce: &[u8],
    cookie: &SessionCookie,
    policy: &BindingPolicy,
    props: &ClientProps<'_>,
) -> Option<HmacSha256> {
    let mut m = HmacSha256::new_from_slice(key).ok()?;
    let ua = if policy.user_agent {
        props.user_agent.unwrap_or("")
    } else {
        ""
    };
    let ip = ip_fingerprint(props.ip, policy.ip);
    let minted = cookie.minted_ms.to_string();
    m.update(LABEL);
    for part in [
        nonce,
        cookie.session_id.as_bytes(),
        cookie.subject.as_bytes(),
        minted.as_bytes(),
        ua.as_bytes(),
        ip.as_bytes(),
    ] {
        m.update(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        m.update(part);
    }
    Some(m)
}

/// The cookie value for `cookie`, bound to `props`, with a fresh random `nonce`.
pub fn seal(
    keys: &BindingKeys,
    policy: &BindingPolicy,
    cookie: &SessionCookie,
    props: &ClientProps<'_>,
    nonce: &[u8; 16],
) -> Option<String> {
    if cookie.session_id.is_empty()
        || cookie.subject.is_empty()
        || cookie.session_id.len() > MAX_PART_BYTES
        || cookie.subject.len() > MAX_PART_BYTES
        || !(0..=MAX_MINTED_MS).contains(&cookie.minted_ms)
    {
        return None;
    }
    let key = keys.keys.first()?;
    let tag = mac(key, nonce, cookie, policy, props)?
        .finalize()
        .into_bytes();
    Some(format!(
        "v2.{}.{}.{}.{}.{}",
        Base64UrlUnpadded::encode_string(nonce),
        Base64UrlUnpadded::encode_string(cookie.session_id.as_bytes()),
        Base64UrlUnpadded::encode_string(cookie.subject.as_bytes()),
        cookie.minted_ms,
        Base64UrlUnpadded::encode_string(&tag),
    ))
}

/// The session id of a cookie value **without verifying its MAC** (the MAC covers client
/// properties this request may no longer have). Only for a value something else has already
/// authenticated: the access cookie, which opens only beside the exact session cookie value
/// the edge minted it with ([`crate::session_rules::logout_fallback_session`]).
pub fn unverified_session_id(value: &str) -> Option<String> {
    if value.len() > 4 * MAX_PART_BYTES {
        return None;
    }
    let mut parts = value.split('.');
    let (Some("v2"), Some(_), Some(sid)) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let sid = String::from_utf8(Base64UrlUnpadded::decode_vec(sid).ok()?).ok()?;
    (!sid.is_empty()).then_some(sid)
}

/// Verifies a cookie value for this client.
pub fn open(
    keys: &BindingKeys,
    policy: &BindingPolicy,
    value: &str,
    props: &ClientProps<'_>,
) -> Result<SessionCookie, BindingError> {
    if value.len() > 4 * MAX_PART_BYTES {
        return Err(BindingError::Malformed);
    }
    let mut parts = value.split('.');
    let (Some("v2"), Some(nonce), Some(sid), Some(sub), Some(minted), Some(tag), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(BindingError::Malformed);
    };
    // Decimal digits only (no sign, no spaces, no leading zero: one spelling per value, the
    // one `seal` writes), at most 15 of them (far past year 9999 in ms).
    if minted.is_empty()
        || minted.len() > 15
        || !minted.bytes().all(|b| b.is_ascii_digit())
        || (minted.len() > 1 && minted.starts_with('0'))
    {
        return Err(BindingError::Malformed);
    }
    let minted_ms = minted.parse::<i64>().map_err(|_| BindingError::Malformed)?;
    let decode = |s: &str| Base64UrlUnpadded::decode_vec(s).map_err(|_| BindingError::Malformed);
    let nonce = decode(nonce)?;
    let tag = decode(tag)?;
    let text = |s: &str| String::from_utf8(decode(s)?).map_err(|_| BindingError::Malformed);
    let cookie = SessionCookie {
        session_id: text(sid)?,
        subject: text(sub)?,
        minted_ms,
    };
    if nonce.len() != 16 || cookie.session_id.is_empty() || cookie.subject.is_empty() {
        return Err(BindingError::Malformed);
    }
    for key in &keys.keys {
        if let Some(m) = mac(key, &nonce, &cookie, policy, props) {
            // Constant-time comparison.
            if m.verify_slice(&tag).is_ok() {
                return Ok(cookie);
            }
        }
    }
    Err(BindingError::Mismatch)
}

#[cfg(test)]
mod tests;
