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
        || cookie.minted_ms < 0
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
    // Decimal digits only (no sign, no spaces), at most 15 of them (far past year 9999 in ms).
    if minted.is_empty() || minted.len() > 15 || !minted.bytes().all(|b| b.is_ascii_digit()) {
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
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const K2: &str = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE";

    fn keys(list: &str) -> BindingKeys {
        BindingKeys::parse(list).unwrap_or(BindingKeys {
            keys: vec![],
            sealing: vec![],
        })
    }

    fn cookie() -> SessionCookie {
        SessionCookie {
            session_id: "sess-1".into(),
            subject: "user-1".into(),
            minted_ms: 1_700_000_000_123,
        }
    }

    const UA: ClientProps<'static> = ClientProps {
        user_agent: Some("Mozilla/5.0 A"),
        ip: Some("203.0.113.7"),
    };
    const UA_POLICY: BindingPolicy = BindingPolicy {
        user_agent: true,
        ip: IpBinding::Off,
    };

    fn sealed(policy: &BindingPolicy, props: &ClientProps<'_>) -> String {
        seal(&keys(K1), policy, &cookie(), props, &[7; 16]).unwrap_or_default()
    }

    #[test]
    fn round_trip() {
        let v = sealed(&UA_POLICY, &UA);
        assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(cookie()));
    }

    #[test]
    fn another_user_agent_is_refused() {
        let v = sealed(&UA_POLICY, &UA);
        let other = ClientProps {
            user_agent: Some("curl/8"),
            ..UA
        };
        assert_eq!(
            open(&keys(K1), &UA_POLICY, &v, &other),
            Err(BindingError::Mismatch)
        );
        let none = ClientProps {
            user_agent: None,
            ..UA
        };
        assert_eq!(
            open(&keys(K1), &UA_POLICY, &v, &none),
            Err(BindingError::Mismatch)
        );
    }

    #[test]
    fn ip_binding_rows() {
        let rows: &[(IpBinding, &str, bool)] = &[
            (IpBinding::Off, "198.51.100.1", true),
            (IpBinding::Prefix, "203.0.113.200", true),
            (IpBinding::Prefix, "203.0.114.7", false),
            (IpBinding::Exact, "203.0.113.7", true),
            (IpBinding::Exact, "203.0.113.8", false),
            (IpBinding::Prefix, "garbage", false),
        ];
        for (binding, ip, ok) in rows {
            let policy = BindingPolicy {
                user_agent: true,
                ip: *binding,
            };
            let v = sealed(&policy, &UA);
            let props = ClientProps { ip: Some(ip), ..UA };
            assert_eq!(
                open(&keys(K1), &policy, &v, &props).is_ok(),
                *ok,
                "{binding:?} {ip}"
            );
        }
    }

    #[test]
    fn ipv6_prefix() {
        assert_eq!(
            ip_fingerprint(Some("2001:db8:1:2:aaaa::1"), IpBinding::Prefix),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn keys_rotate() {
        let v = sealed(&UA_POLICY, &UA);
        // New key first, old still listed: old cookies verify.
        let rotated = keys(&format!("{K2},{K1}"));
        assert_eq!(open(&rotated, &UA_POLICY, &v, &UA), Ok(cookie()));
        // Old key dropped: refused.
        assert_eq!(
            open(&keys(K2), &UA_POLICY, &v, &UA),
            Err(BindingError::Mismatch)
        );
    }

    #[test]
    fn every_seal_is_a_new_value() {
        let a = seal(&keys(K1), &UA_POLICY, &cookie(), &UA, &[1; 16]);
        let b = seal(&keys(K1), &UA_POLICY, &cookie(), &UA, &[2; 16]);
        assert_ne!(a, b);
    }

    #[test]
    fn tampering_and_garbage() {
        let v = sealed(&UA_POLICY, &UA);
        let parts: Vec<&str> = v.split('.').collect();
        let other_sid = Base64UrlUnpadded::encode_string(b"sess-2");
        let swapped = format!(
            "v2.{}.{other_sid}.{}.{}.{}",
            parts[1], parts[3], parts[4], parts[5]
        );
        assert_eq!(
            open(&keys(K1), &UA_POLICY, &swapped, &UA),
            Err(BindingError::Mismatch)
        );
        // An older minting time (to slip under a user-wide revocation's cut-off) breaks the MAC.
        let backdated = format!(
            "v2.{}.{}.{}.{}.{}",
            parts[1], parts[2], parts[3], "1700000000124", parts[5]
        );
        assert_eq!(
            open(&keys(K1), &UA_POLICY, &backdated, &UA),
            Err(BindingError::Mismatch)
        );
        for bad in [
            "",
            "v2",
            "v1.a.b.c.d",
            "v2.a.b.c.1.e.f",
            "v2.!!.b.c.1.d",
            &format!("v2.{}.{}.{}.-1.{}", parts[1], parts[2], parts[3], parts[5]),
            &format!("v2.{}.{}.{}.+1.{}", parts[1], parts[2], parts[3], parts[5]),
            &format!("v2.{}.{}.{}..{}", parts[1], parts[2], parts[3], parts[5]),
            &format!(
                "v2.{}.{}.{}.1234567890123456.{}",
                parts[1], parts[2], parts[3], parts[5]
            ),
            &"v2.".repeat(999),
        ] {
            assert_eq!(
                open(&keys(K1), &UA_POLICY, bad, &UA),
                Err(BindingError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_parts_short_nonces_and_length_bounds() {
        let k = keys(K1);
        let with = |sid: &str, sub: &str| SessionCookie {
            session_id: sid.into(),
            subject: sub.into(),
            minted_ms: 5,
        };
        // Nothing is sealed for an empty or oversized part or a negative time.
        assert_eq!(seal(&k, &UA_POLICY, &with("", "u"), &UA, &[1; 16]), None);
        assert_eq!(seal(&k, &UA_POLICY, &with("s", ""), &UA, &[1; 16]), None);
        let negative = SessionCookie {
            minted_ms: -1,
            ..with("s", "u")
        };
        assert_eq!(seal(&k, &UA_POLICY, &negative, &UA, &[1; 16]), None);
        let max = "x".repeat(MAX_PART_BYTES);
        let over = "x".repeat(MAX_PART_BYTES + 1);
        assert!(seal(&k, &UA_POLICY, &with(&max, &max), &UA, &[1; 16]).is_some());
        assert_eq!(seal(&k, &UA_POLICY, &with(&over, "u"), &UA, &[1; 16]), None);
        assert_eq!(seal(&k, &UA_POLICY, &with("s", &over), &UA, &[1; 16]), None);

        // Hand-built values with a valid MAC: each malformation alone is refused.
        let forge = |nonce: &[u8], sid: &str, sub: &str| {
            let c = with(sid, sub);
            let tag = mac(&k.keys[0], nonce, &c, &UA_POLICY, &UA)
                .map(|m| m.finalize().into_bytes().to_vec())
                .unwrap_or_default();
            format!(
                "v2.{}.{}.{}.5.{}",
                Base64UrlUnpadded::encode_string(nonce),
                Base64UrlUnpadded::encode_string(sid.as_bytes()),
                Base64UrlUnpadded::encode_string(sub.as_bytes()),
                Base64UrlUnpadded::encode_string(&tag)
            )
        };
        assert!(open(&k, &UA_POLICY, &forge(&[1; 16], "s", "u"), &UA).is_ok());
        for (nonce, sid, sub) in [
            (&[1u8; 15][..], "s", "u"),
            (&[1u8; 17][..], "s", "u"),
            (&[1u8; 16][..], "", "u"),
            (&[1u8; 16][..], "s", ""),
        ] {
            assert_eq!(
                open(&k, &UA_POLICY, &forge(nonce, sid, sub), &UA),
                Err(BindingError::Malformed),
                "nonce {} sid {sid:?} sub {sub:?}",
                nonce.len()
            );
        }
        // The longest sealable cookie opens; the length guard sits above it.
        let longest = seal(&k, &UA_POLICY, &with(&max, &max), &UA, &[1; 16]).unwrap_or_default();
        assert!(longest.len() <= 4 * MAX_PART_BYTES);
        assert!(open(&k, &UA_POLICY, &longest, &UA).is_ok());
        let too_long = format!(
            "{longest}{}",
            "A".repeat(4 * MAX_PART_BYTES + 1 - longest.len())
        );
        assert_eq!(
            open(&k, &UA_POLICY, &too_long, &UA),
            Err(BindingError::Malformed)
        );
    }

    #[test]
    fn unverified_session_id_reads_only_the_id() {
        let v = sealed(&UA_POLICY, &UA);
        assert_eq!(unverified_session_id(&v).as_deref(), Some("sess-1"));
        assert_eq!(unverified_session_id("v1.a.c2Vzcw.b.c"), None);
        assert_eq!(unverified_session_id("v2.a..b.1.c"), None);
        assert_eq!(unverified_session_id("v2.a.!!.b.1.c"), None);
        assert_eq!(unverified_session_id(&"v2.".repeat(999)), None);
    }

    #[test]
    fn key_parsing() {
        assert!(BindingKeys::parse("").is_err());
        assert!(BindingKeys::parse("c2hvcnQ").is_err());
        assert!(BindingKeys::parse("not base64!").is_err());
        assert!(BindingKeys::parse(&format!("{K1}, {K2}")).is_ok());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let k = keys(&format!("{K1},{K2}"));
        let shown = format!("{k:?}");
        assert_eq!(shown, "BindingKeys(2 keys)");
        assert!(!shown.contains(K1) && !shown.contains("AAECAw"));
    }

    #[test]
    fn the_epoch_is_a_minting_time() {
        let at_zero = SessionCookie {
            minted_ms: 0,
            ..cookie()
        };
        let v = seal(&keys(K1), &UA_POLICY, &at_zero, &UA, &[1; 16]).unwrap_or_default();
        assert!(v.contains(".0."), "{v}");
        assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(at_zero));
    }

    #[test]
    fn unverified_session_id_length_bound_is_inclusive() {
        let sid = Base64UrlUnpadded::encode_string(b"sess-1");
        let head = format!("v2.AAAA.{sid}.dXNlcg.1.");
        let at = format!("{head}{}", "A".repeat(4 * MAX_PART_BYTES - head.len()));
        assert_eq!(at.len(), 4 * MAX_PART_BYTES);
        assert_eq!(unverified_session_id(&at).as_deref(), Some("sess-1"));
        assert_eq!(unverified_session_id(&format!("{at}A")), None);
    }

    #[test]
    fn open_length_bound_is_inclusive() {
        // open bounds the whole value, not each part: a validly MACed value of exactly
        // 4 * MAX_PART_BYTES opens, one byte longer is malformed whatever its MAC.
        let k = keys(K1);
        let valued = |sid_bytes: usize| {
            let c = SessionCookie {
                session_id: "x".repeat(sid_bytes),
                subject: "user-1".into(),
                minted_ms: 5,
            };
            let tag = mac(&k.keys[0], &[1; 16], &c, &UA_POLICY, &UA)
                .map(|m| m.finalize().into_bytes().to_vec())
                .unwrap_or_default();
            let v = format!(
                "v2.{}.{}.{}.5.{}",
                Base64UrlUnpadded::encode_string(&[1; 16]),
                Base64UrlUnpadded::encode_string(c.session_id.as_bytes()),
                Base64UrlUnpadded::encode_string(c.subject.as_bytes()),
                Base64UrlUnpadded::encode_string(&tag)
            );
            (v, c)
        };
        let (at, c) = valued(1475);
        assert_eq!(at.len(), 4 * MAX_PART_BYTES);
        assert_eq!(open(&k, &UA_POLICY, &at, &UA), Ok(c));
        let (over, _) = valued(1476);
        assert_eq!(over.len(), 4 * MAX_PART_BYTES + 1);
        assert_eq!(
            open(&k, &UA_POLICY, &over, &UA),
            Err(BindingError::Malformed)
        );
    }

    #[test]
    fn fifteen_digits_is_the_longest_minting_time() {
        let longest = SessionCookie {
            minted_ms: 999_999_999_999_999,
            ..cookie()
        };
        let v = seal(&keys(K1), &UA_POLICY, &longest, &UA, &[1; 16]).unwrap_or_default();
        assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(longest));
    }
}
