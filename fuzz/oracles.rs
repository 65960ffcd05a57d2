//! Fuzz oracles, shared by the cargo-fuzz targets (fuzz/fuzz_targets/*.rs, nightly) and the
//! stable smoke harness (tests/fuzz_smoke.rs, run by CI). Each function takes raw bytes, runs
//! one untrusted-input entry point of the core, and panics when an invariant breaks:
//!
//! | target | entry point | oracle |
//! |---|---|---|
//! | `token_inspect` | `token::inspect` | accepted ⇒ an independent JSON reading of the header agrees: `alg` is an edge algorithm, no `jwk`/`jku`/`x5u`/`x5c`/`crit`/`zip`/`b64`, accepted `typ` |
//! | `token_verify` | `token::verify`, fixed keys | accepted ⇒ the signed part is one the test keys signed (nothing is forged) and the claims obey the time rules |
//! | `cookie_header` | `credentials::extract` / `find_cookie` | a token found is well-formed and really in the header; limits hold |
//! | `forward_headers` | `forward::identity_headers` / `strip_edge_cookies` | no CR/LF/NUL or other control byte out; no edge cookie survives |
//! | `set_cookie_roundtrip` | `cookies::set_cookie` / `clear_cookie` | what is serialised parses back to the same name, value and policy attributes |
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use cookie::{Cookie, SameSite};
use serde_json::Value;

use edge_session::cookies::{
    clear_cookie, set_cookie, CookieError, CookiePolicy, MAX_COOKIE_BYTES,
};
use edge_session::credentials::{
    extract, find_cookie, is_b64token, Credential, CredentialError, MAX_COOKIE_HEADER_BYTES,
};
use edge_session::forward::{identity_headers, strip_edge_cookies};
use edge_session::keys::{Alg, KeySet, MAX_KID_LEN};
use edge_session::token::{inspect, verify, Policy, TypRule, VerifiedClaims, MAX_TOKEN_BYTES};

#[path = "../tests/common/mod.rs"]
mod common;

pub const ACCESS: &str = "__Host-access";
pub const SESSION: &str = "__Host-session";
const EDGE_COOKIES: [&str; 2] = [ACCESS, SESSION];
const OUR_ALGS: [&str; 5] = ["ES256", "RS256", "PS256", "EdDSA", "Ed25519"];

fn strict_policy() -> Policy {
    Policy {
        issuer: common::ISSUER.into(),
        audiences: vec![common::AUDIENCE.into()],
        typ: TypRule::OneOf(vec!["at+jwt".into()]),
        leeway_secs: 30,
    }
}

fn any_typ_policy() -> Policy {
    Policy {
        typ: TypRule::Any,
        ..strict_policy()
    }
}

struct Fixed {
    keys: KeySet,
    /// Valid tokens minted with the test keys (also the fuzzers' seeds).
    seeds: Vec<String>,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let (es, rs, ed) = (
            common::key("es256"),
            common::key("rs256"),
            common::key("ed25519"),
        );
        let all = [Alg::Es256, Alg::Rs256, Alg::Ps256, Alg::Ed25519];
        let keys = KeySet::from_jwks_json(common::jwks(&[&es, &rs, &ed]).as_bytes(), &all)
            .expect("test keys import");
        let seeds = [&es, &rs, &ed]
            .iter()
            .map(|k| k.token(common::NOW, serde_json::json!({})))
            .collect();
        Fixed { keys, seeds }
    })
}

/// Verified claims of a seed token, to edit field by field (robust to new fields).
pub fn base_claims() -> VerifiedClaims {
    static BASE: OnceLock<VerifiedClaims> = OnceLock::new();
    BASE.get_or_init(|| {
        let fixed = fixed();
        verify(&fixed.seeds[0], &fixed.keys, &strict_policy(), common::NOW).expect("seed verifies")
    })
    .clone()
}

/// Valid tokens signed with the test keys: seeds for the token targets.
pub fn seed_tokens() -> Vec<String> {
    fixed().seeds.clone()
}

fn signed_part(token: &str) -> Option<&str> {
    token.rsplit_once('.').map(|(signed, _)| signed)
}

fn decode_json(b64: &str) -> Option<Value> {
    let bytes = Base64UrlUnpadded::decode_vec(b64).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn typ_is_at_jwt(typ: &str) -> bool {
    let t = typ.trim().to_ascii_lowercase();
    t == "at+jwt" || t == "application/at+jwt"
}

/// `token::inspect` on arbitrary text.
pub fn token_inspect(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return; // header values reach the core as &str
    };
    for (policy, strict) in [(any_typ_policy(), false), (strict_policy(), true)] {
        let Ok(inspected) = inspect(token, &policy) else {
            continue;
        };
        assert!(token.len() <= MAX_TOKEN_BYTES);
        let signed = inspected.signed_data();
        assert!(token.as_bytes().starts_with(signed));
        assert_eq!(token.as_bytes().get(signed.len()), Some(&b'.'));
        assert!(inspected.kid().is_none_or(|k| k.len() <= MAX_KID_LEN));
        // An independent reading of the header must agree with what inspect let through.
        let header_b64 = token.split('.').next().unwrap_or_default();
        let header = decode_json(header_b64).expect("accepted header decodes as JSON");
        let obj = header.as_object().expect("accepted header is an object");
        let alg = obj.get("alg").and_then(Value::as_str).unwrap_or("<none>");
        assert!(OUR_ALGS.contains(&alg), "accepted alg {alg:?}");
        for forbidden in ["jwk", "jku", "x5u", "x5c", "crit", "zip", "b64"] {
            assert!(
                !obj.contains_key(forbidden),
                "accepted a header with {forbidden}"
            );
        }
        if strict {
            let typ = obj.get("typ").and_then(Value::as_str).unwrap_or("");
            assert!(typ_is_at_jwt(typ), "accepted typ {typ:?}");
        }
    }
}

/// `token::verify` with the fixed test keys at the fixed `NOW`.
pub fn token_verify(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let fixed = fixed();
    let policy = strict_policy();
    let Ok(claims) = verify(token, &fixed.keys, &policy, common::NOW) else {
        return;
    };
    // Nothing can be forged: the signed part is one our keys signed (a different encoding of
    // the same signature, such as a high-S ECDSA value, is fine).
    let signed = signed_part(token).expect("accepted token has a signature part");
    assert!(
        fixed.seeds.iter().any(|s| signed_part(s) == Some(signed)),
        "accepted a token whose signed part no test key signed: {token:?}"
    );
    check_claims(&claims, &policy);
}

fn check_claims(claims: &VerifiedClaims, policy: &Policy) {
    assert!(common::NOW < claims.exp + policy.leeway_secs);
    assert!(claims.iat - policy.leeway_secs <= common::NOW);
    assert!(!claims.sub.is_empty());
    assert!(claims.aud.iter().any(|a| policy.audiences.contains(a)));
}

fn split2(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    }
}

/// `credentials::extract` / `find_cookie`: input is `authorization 0xFF cookie-header`.
pub fn cookie_header(data: &[u8]) {
    let (auth, cookies) = split2(data);
    let Ok(auth) = std::str::from_utf8(auth) else {
        return;
    };
    let auth = (!auth.is_empty()).then_some(auth);
    let Some(cookies) = cookies.map(std::str::from_utf8).transpose().ok().flatten() else {
        return;
    };
    let cookies = Some(cookies);
    match extract(auth, cookies, ACCESS) {
        Ok(Credential::Bearer(t)) => {
            assert!(is_b64token(t), "bearer {t:?}");
            assert!(auth.is_some_and(|a| a.contains(t)));
        }
        Ok(Credential::Cookie(v)) => {
            assert!(!v.contains(';'), "cookie value {v:?}");
            assert!(cookies.is_some_and(|c| c.len() <= MAX_COOKIE_HEADER_BYTES && c.contains(v)));
        }
        Ok(Credential::None) => {}
        Err(CredentialError::CookieHeaderTooLarge) => {
            assert!(cookies.is_some_and(|c| c.len() > MAX_COOKIE_HEADER_BYTES));
        }
        Err(CredentialError::DuplicateCookie) => {
            assert!(cookies.is_some_and(|c| c.matches(ACCESS).count() >= 2));
        }
        Err(_) => {}
    }
    for name in EDGE_COOKIES {
        if let Ok(Some(v)) = find_cookie(cookies, name) {
            assert!(!v.contains(';'));
        }
    }
}

fn visible(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// `forward::identity_headers` and `strip_edge_cookies`: input is up to seven 0xFF-separated
/// fields `sub, sid, cookie-sid, roles (0xFE-separated), client, scope, cookie-header`.
pub fn forward_headers(data: &[u8]) {
    let mut parts = data
        .split(|&b| b == 0xff)
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut next = || parts.next();
    let sub = next().unwrap_or_default();
    let sid = next().filter(|s| !s.is_empty());
    let cookie_sid = next().filter(|s| !s.is_empty());
    let roles: Vec<String> = next()
        .map(|r| r.split('\u{fe}').map(str::to_owned).collect())
        .unwrap_or_default();
    let client = next().filter(|s| !s.is_empty());
    let scope = next().filter(|s| !s.is_empty());
    let cookie_hdr = next().unwrap_or_default();
    let mut claims = base_claims();
    claims.sub = sub;
    claims.client_id = client;
    claims.sid = sid;
    claims.roles = roles;
    claims.scope = scope;
    if let Ok(headers) = identity_headers(&claims, cookie_sid.as_deref()) {
        for (name, value) in &headers {
            assert!(name.to_ascii_lowercase().starts_with("x-auth-"));
            assert!(visible(value), "{name}: {value:?}");
        }
    }
    if let Some(out) = strip_edge_cookies(&cookie_hdr, &EDGE_COOKIES) {
        assert!(visible(&out) && !out.is_empty(), "{out:?}");
        // Read as a permissive upstream would: split on ';', trim the name.
        for pair in out.split(';') {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n).trim();
            assert!(
                !EDGE_COOKIES.contains(&name),
                "{name:?} survived in {out:?}"
            );
        }
        for name in EDGE_COOKIES {
            assert_eq!(find_cookie(Some(&out), name), Ok(None));
        }
    }
}

/// `cookies::set_cookie` / `clear_cookie`: what is serialised must parse back to the same
/// name and value with the policy's attributes. Input: flags byte, 8 bytes `expires_at`,
/// 8 bytes `now`, then `name-suffix 0xFF value`.
pub fn set_cookie_roundtrip(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (exp, rest) = rest.split_at(rest.len().min(8));
    let (now, rest) = rest.split_at(rest.len().min(8));
    let int = |b: &[u8]| {
        let mut buf = [0u8; 8];
        buf[..b.len()].copy_from_slice(b);
        i64::from_le_bytes(buf)
    };
    let policy = CookiePolicy {
        same_site_lax: flags & 1 != 0,
        persistent: flags & 2 != 0,
    };
    let expires_at = (flags & 4 != 0).then(|| int(exp));
    let now = int(now);
    let (name_part, value) = split2(rest);
    let (Ok(name_part), Ok(value)) = (
        std::str::from_utf8(name_part),
        std::str::from_utf8(value.unwrap_or_default()),
    ) else {
        return;
    };
    let name = if flags & 8 != 0 {
        name_part.to_owned()
    } else {
        format!("__Host-{name_part}")
    };
    match set_cookie(&name, value, &policy, expires_at, now) {
        Ok(s) => {
            assert!(s.len() <= MAX_COOKIE_BYTES);
            assert!(visible(&s), "Set-Cookie with a control byte: {s:?}");
            let c = Cookie::parse(s.as_str()).expect("our own Set-Cookie parses");
            assert_eq!(c.name(), name, "name round trip: {s:?}");
            assert_eq!(c.value(), value, "value round trip: {s:?}");
            assert_eq!(c.secure(), Some(true), "{s:?}");
            assert_eq!(c.http_only(), Some(true), "{s:?}");
            assert_eq!(c.path(), Some("/"), "{s:?}");
            assert_eq!(c.domain(), None, "{s:?}");
            let want = if policy.same_site_lax {
                SameSite::Lax
            } else {
                SameSite::Strict
            };
            assert_eq!(c.same_site(), Some(want), "{s:?}");
            if !policy.persistent || expires_at.is_none() {
                assert_eq!(c.max_age(), None, "{s:?}");
                assert!(c.expires().is_none(), "{s:?}");
            } else if let (Some(exp), Some(age)) = (expires_at, c.max_age()) {
                assert!(age.whole_seconds() >= 0);
                assert!(
                    i128::from(age.whole_seconds()) <= (i128::from(exp) - i128::from(now)).max(0)
                );
            }
        }
        Err(CookieError::NotHostPrefixed) => assert!(!name.starts_with("__Host-")),
        Err(CookieError::InvalidValue { .. }) => {
            assert!(!value
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b",;\\\"".contains(&b)));
        }
        Err(_) => {}
    }
    if name.starts_with("__Host-")
        && visible(&name)
        && !name.contains([';', '=', ' ', '\t', ',', '"'])
    {
        let cleared = clear_cookie(&name, &policy);
        let c = Cookie::parse(cleared.as_str()).expect("clear cookie parses");
        assert_eq!(c.name(), name);
        assert_eq!(c.value(), "");
        assert_eq!(c.max_age(), Some(cookie::time::Duration::ZERO));
    }
}
