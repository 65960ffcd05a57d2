//! The access cookie codec: the access token sealed by the edge, usable only as that cookie
//! beside the session cookie it was minted with.
//!
//! A raw JWT in a cookie is a bearer token: whoever copies it can send it as
//! `Authorization: Bearer` from any client, and the session cookie's client binding protects
//! nothing for the token's lifetime. So with sessions the edge never hands the browser a raw
//! token. The cookie holds the token encrypted and authenticated by the edge:
//!
//! `a1.<nonce>.<ciphertext>` (base64url), XChaCha20-Poly1305 under a key derived from
//! `COOKIE_KEYS` ([`BindingKeys::sealing_keys`]), with a random 24-byte nonce. The plaintext is
//! the minting time (milliseconds, 8 bytes big-endian) followed by the token; the associated
//! data is a label and the **whole session cookie value** the access cookie was minted beside.
//! So the access cookie opens only together with exactly that session cookie (which itself
//! verifies only for its bound client), never as a Bearer token (it is not a JWT), and never
//! beside another user's or another authentication's session cookie.
//!
//! The minting time is the moment the edge received the token from the store: a user-wide
//! revocation refuses every access cookie minted up to it, to the millisecond
//! ([`crate::revocation`]).

use base64ct::{Base64UrlUnpadded, Encoding};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::session_cookie::BindingKeys;

const LABEL: &[u8] = b"edge-session/access-cookie/v1";
/// Nonce length of XChaCha20-Poly1305.
pub const NONCE_BYTES: usize = 24;
/// Longest cookie value opened (a browser keeps at most 4096 bytes per cookie).
pub const MAX_VALUE_BYTES: usize = 4096;
const PREFIX: &str = "a1.";

/// What an opened access cookie holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessCookie {
    /// The access token (still to be verified like any other).
    pub token: String,
    /// When the edge received the token from the store, milliseconds since the epoch.
    pub minted_ms: i64,
}

/// Why an access cookie did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessCookieError {
    /// Not of the `a1.…` shape, bad base64url, or too long.
    Malformed,
    /// It does not open under any key beside this session cookie (tampered, another key, a
    /// raw token, or minted beside another session cookie).
    Mismatch,
}

impl AccessCookieError {
    /// Secret-free reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "access_cookie_malformed",
            Self::Mismatch => "access_cookie_mismatch",
        }
    }
}

fn aad(session_cookie: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(LABEL.len() + session_cookie.len());
    aad.extend_from_slice(LABEL);
    aad.extend_from_slice(session_cookie.as_bytes());
    aad
}

/// Seals `token`, received at `minted_ms`, for the session cookie value `session_cookie`,
/// under the current key and the fresh random `nonce`. `None` when nothing can be sealed (no
/// key, empty inputs, a negative time).
pub fn seal(
    keys: &BindingKeys,
    session_cookie: &str,
    token: &str,
    minted_ms: i64,
    nonce: &[u8; NONCE_BYTES],
) -> Option<String> {
    if token.is_empty() || session_cookie.is_empty() || minted_ms < 0 {
        return None;
    }
    let key = keys.sealing_keys().first()?;
    let mut plaintext = Vec::with_capacity(8 + token.len());
    plaintext.extend_from_slice(&minted_ms.to_be_bytes());
    plaintext.extend_from_slice(token.as_bytes());
    let sealed = XChaCha20Poly1305::new(key.into())
        .encrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: &plaintext,
                aad: &aad(session_cookie),
            },
        )
        .ok()?;
    Some(format!(
        "{PREFIX}{}.{}",
        Base64UrlUnpadded::encode_string(nonce),
        Base64UrlUnpadded::encode_string(&sealed)
    ))
}

/// Opens an access cookie `value` beside the session cookie value `session_cookie` (which the
/// caller has verified for this client).
pub fn open(
    keys: &BindingKeys,
    session_cookie: &str,
    value: &str,
) -> Result<AccessCookie, AccessCookieError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(AccessCookieError::Malformed);
    }
    let (nonce, sealed) = value
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('.'))
        .ok_or(AccessCookieError::Malformed)?;
    let decode =
        |s: &str| Base64UrlUnpadded::decode_vec(s).map_err(|_| AccessCookieError::Malformed);
    let nonce: [u8; NONCE_BYTES] = decode(nonce)?
        .try_into()
        .map_err(|_| AccessCookieError::Malformed)?;
    let nonce = XNonce::from(nonce);
    let sealed = decode(sealed)?;
    let aad = aad(session_cookie);
    for key in keys.sealing_keys() {
        let opened = XChaCha20Poly1305::new(key.into()).decrypt(
            &nonce,
            Payload {
                msg: &sealed,
                aad: &aad,
            },
        );
        if let Ok(plain) = opened {
            let (time, token) = plain
                .split_at_checked(8)
                .ok_or(AccessCookieError::Malformed)?;
            let minted_ms =
                i64::from_be_bytes(time.try_into().map_err(|_| AccessCookieError::Malformed)?);
            let token =
                String::from_utf8(token.to_vec()).map_err(|_| AccessCookieError::Malformed)?;
            if token.is_empty() || minted_ms < 0 {
                return Err(AccessCookieError::Malformed);
            }
            return Ok(AccessCookie { token, minted_ms });
        }
    }
    Err(AccessCookieError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const K2: &str = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE";
    const SESSION: &str = "v2.bm9uY2U.c2Vzcw.dXNlcg.1.bWFj";
    const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";

    fn keys(list: &str) -> Option<BindingKeys> {
        BindingKeys::parse(list).ok()
    }

    fn sealed(list: &str, session: &str, nonce: u8) -> String {
        keys(list)
            .and_then(|k| seal(&k, session, TOKEN, 1_700_000_000_123, &[nonce; NONCE_BYTES]))
            .unwrap_or_default()
    }

    fn opened(list: &str, session: &str, value: &str) -> Result<AccessCookie, AccessCookieError> {
        keys(list).map_or(Err(AccessCookieError::Malformed), |k| {
            open(&k, session, value)
        })
    }

    #[test]
    fn round_trip_keeps_token_and_time() {
        let v = sealed(K1, SESSION, 1);
        assert!(v.starts_with("a1."));
        assert!(
            !v.contains(TOKEN),
            "the token is not readable in the cookie"
        );
        assert_eq!(
            opened(K1, SESSION, &v),
            Ok(AccessCookie {
                token: TOKEN.into(),
                minted_ms: 1_700_000_000_123,
            })
        );
    }

    #[test]
    fn opens_only_beside_its_own_session_cookie() {
        let v = sealed(K1, SESSION, 1);
        let other = SESSION.replace("bm9uY2U", "bm9uY2V");
        assert_eq!(opened(K1, &other, &v), Err(AccessCookieError::Mismatch));
        assert_eq!(opened(K1, "", &v), Err(AccessCookieError::Mismatch));
    }

    #[test]
    fn a_raw_token_is_not_an_access_cookie() {
        assert_eq!(
            opened(K1, SESSION, TOKEN),
            Err(AccessCookieError::Malformed)
        );
    }

    #[test]
    fn keys_rotate_and_retire() {
        let v = sealed(K1, SESSION, 1);
        assert!(opened(&format!("{K2},{K1}"), SESSION, &v).is_ok());
        assert_eq!(opened(K2, SESSION, &v), Err(AccessCookieError::Mismatch));
        // The new first key seals.
        let w = sealed(&format!("{K2},{K1}"), SESSION, 1);
        assert!(opened(K2, SESSION, &w).is_ok());
        assert_eq!(opened(K1, SESSION, &w), Err(AccessCookieError::Mismatch));
    }

    #[test]
    fn every_seal_is_a_new_value() {
        assert_ne!(sealed(K1, SESSION, 1), sealed(K1, SESSION, 2));
    }

    #[test]
    fn tampering_and_garbage() {
        let v = sealed(K1, SESSION, 1);
        let (head, body) = v.split_at(v.len() - 10);
        let flipped = format!(
            "{head}{}{}",
            if body.starts_with('A') { 'B' } else { 'A' },
            &body[1..]
        );
        assert_eq!(
            opened(K1, SESSION, &flipped),
            Err(AccessCookieError::Mismatch)
        );
        let short_nonce = format!(
            "a1.{}.{}",
            Base64UrlUnpadded::encode_string(&[1; 23]),
            "AAAA"
        );
        let long = format!("a1.{}", "A".repeat(MAX_VALUE_BYTES));
        for bad in [
            "",
            "a1",
            "a1.",
            "a1..",
            "a2.AAAA.AAAA",
            "a1.!!.AAAA",
            &short_nonce,
            &long,
        ] {
            assert_eq!(
                opened(K1, SESSION, bad),
                Err(AccessCookieError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn length_bound_is_inclusive() {
        // A value of exactly MAX_VALUE_BYTES is read (and fails only on its content).
        let v = format!(
            "a1.{}.{}",
            Base64UrlUnpadded::encode_string(&[1; NONCE_BYTES]),
            "A".repeat(MAX_VALUE_BYTES - 36)
        );
        assert_eq!(v.len(), MAX_VALUE_BYTES);
        assert_eq!(opened(K1, SESSION, &v), Err(AccessCookieError::Mismatch));
    }

    #[test]
    fn nothing_to_seal() {
        let Some(k) = keys(K1) else {
            panic!("test key parses")
        };
        assert_eq!(seal(&k, SESSION, "", 1, &[0; NONCE_BYTES]), None);
        assert_eq!(seal(&k, "", TOKEN, 1, &[0; NONCE_BYTES]), None);
        assert_eq!(seal(&k, SESSION, TOKEN, -1, &[0; NONCE_BYTES]), None);
    }

    /// An access cookie whose plaintext is `plain`, sealed under `list`'s current key beside
    /// `session` (what `seal` itself refuses to produce).
    fn forged(list: &str, session: &str, plain: &[u8]) -> String {
        let Some(k) = keys(list) else {
            panic!("test key parses")
        };
        let nonce = [9; NONCE_BYTES];
        let sealed = XChaCha20Poly1305::new((&k.sealing_keys()[0]).into())
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: &aad(session),
                },
            )
            .unwrap_or_default();
        format!(
            "{PREFIX}{}.{}",
            Base64UrlUnpadded::encode_string(&nonce),
            Base64UrlUnpadded::encode_string(&sealed)
        )
    }

    #[test]
    fn the_epoch_is_a_time_and_negative_is_not() {
        // Zero is a valid minting time on both sides; only a negative one is refused.
        let Some(k) = keys(K1) else {
            panic!("test key parses")
        };
        let v = seal(&k, SESSION, TOKEN, 0, &[1; NONCE_BYTES]).unwrap_or_default();
        assert_eq!(
            open(&k, SESSION, &v),
            Ok(AccessCookie {
                token: TOKEN.into(),
                minted_ms: 0,
            })
        );
        let plain = |t: i64, token: &str| [&t.to_be_bytes()[..], token.as_bytes()].concat();
        type Row<'a> = (Vec<u8>, Result<AccessCookie, AccessCookieError>, &'a str);
        let rows: Vec<Row<'_>> = vec![
            (
                plain(0, "t"),
                Ok(AccessCookie {
                    token: "t".into(),
                    minted_ms: 0,
                }),
                "time zero",
            ),
            (
                plain(-1, "t"),
                Err(AccessCookieError::Malformed),
                "negative time",
            ),
            (
                plain(i64::MIN, "t"),
                Err(AccessCookieError::Malformed),
                "i64::MIN",
            ),
            (
                plain(5, ""),
                Err(AccessCookieError::Malformed),
                "empty token",
            ),
            (
                vec![0; 7],
                Err(AccessCookieError::Malformed),
                "short plaintext",
            ),
            (
                [&5i64.to_be_bytes()[..], &[0xff, 0xfe]].concat(),
                Err(AccessCookieError::Malformed),
                "token not UTF-8",
            ),
        ];
        for (p, want, why) in rows {
            assert_eq!(opened(K1, SESSION, &forged(K1, SESSION, &p)), want, "{why}");
        }
    }

    #[test]
    fn reasons_are_named() {
        assert_eq!(
            AccessCookieError::Malformed.reason(),
            "access_cookie_malformed"
        );
        assert_eq!(
            AccessCookieError::Mismatch.reason(),
            "access_cookie_mismatch"
        );
    }
}
