//! Fuzz oracles, shared by the cargo-fuzz targets (fuzz/fuzz_targets/*.rs, nightly) and the
//! stable smoke harness (tests/fuzz_smoke.rs, run by CI). Each function takes raw bytes, runs
//! one untrusted-input entry point of the core, and panics when an invariant breaks:
//!
//! | target | entry point | oracle |
//! |---|---|---|
//! | `token_inspect` | `token::inspect` | accepted ⇒ an independent JSON reading of the header agrees: `alg` is an edge algorithm, no `jwk`/`jku`/`x5u`/`x5c`/`crit`/`zip`/`b64`, accepted `typ` |
//! | `token_verify` | `token::verify`, fixed keys | accepted ⇒ the signed part is one the test keys signed (nothing is forged) and the claims obey the time rules |
//! | `cookie_header` | `credentials::extract` / `find_cookie` / `cookies::header_pairs` | a token found is well-formed and really in the header; limits hold; the header reads as the `cookie` crate's `split_parse` reads it |
//! | `forward_headers` | `forward::identity_headers` / `strip_edge_cookies` | no CR/LF/NUL or other control byte out; no edge cookie survives |
//! | `set_cookie_roundtrip` | `cookies::set_cookie` / `clear_cookie` | what is serialised parses back to the same name, value and policy attributes |
//! | `session_cookie` | `session_cookie::seal` / `open` / `unverified_session_id` | `open(seal(x)) == x` for this client (and under a rotated key list); a sealed value is a valid cookie value; any other value (an edit of a sealed one, or raw bytes) is refused; a value accepted is exactly what `seal` writes for what it says |
//! | `request_target` | `gate::classify` / `Target::upstream_url` | the path the gate classifies (route, route policy) is the path the upstream parses out of the forwarded URL; classifying that URL again decides the same; nothing ambiguous is forwarded; a lenient upstream reading (decode twice, `\` as `/`, `;` cut, empty segments collapsed) reaches neither a protected path from a public one nor another policy rule |
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding};
use cookie::{Cookie, SameSite};
use serde_json::Value;

use edge_session::config::EdgeConfig;
use edge_session::cookies::{
    clear_cookie, header_pairs, set_cookie, CookieError, CookiePolicy, MAX_COOKIE_BYTES,
};
use edge_session::credentials::{
    extract, find_cookie, is_b64token, Credential, CredentialError, MAX_COOKIE_HEADER_BYTES,
};
use edge_session::forward::{identity_headers, strip_edge_cookies};
use edge_session::gate::{self, Facts};
use edge_session::keys::{Alg, KeySet, MAX_KID_LEN};
use edge_session::route::{self, Route};
use edge_session::session_cookie::{
    self, BindingError, BindingKeys, BindingPolicy, ClientProps, IpBinding, SessionCookie,
    MAX_MINTED_MS, MAX_PART_BYTES,
};
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
    // The edge's reading of the header is the `cookie` crate's (`split_parse`, not decoded).
    if let Some(header) = cookies {
        let ours: Vec<(&str, &str)> = header_pairs(header).collect();
        let theirs: Vec<(String, String)> = Cookie::split_parse(header)
            .flatten()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect();
        assert!(
            ours.len() == theirs.len()
                && ours
                    .iter()
                    .zip(&theirs)
                    .all(|(a, b)| a.0 == b.0 && a.1 == b.1),
            "{header:?}: {ours:?} != {theirs:?}"
        );
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

// ---- session_cookie ----

/// Two MAC keys (32 bytes each, base64url): `K1` signs, `K2` is "another deployment".
const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const K2: &str = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE";

struct CookieKeys {
    current: BindingKeys,
    /// `K2,K1`: a rotation (K2 signs now, K1 still verifies).
    rotated: BindingKeys,
    /// `K2` alone: K1 retired.
    other: BindingKeys,
}

fn cookie_keys() -> &'static CookieKeys {
    static KEYS: OnceLock<CookieKeys> = OnceLock::new();
    KEYS.get_or_init(|| CookieKeys {
        current: BindingKeys::parse(K1).expect("K1"),
        rotated: BindingKeys::parse(&format!("{K2},{K1}")).expect("K2,K1"),
        other: BindingKeys::parse(K2).expect("K2"),
    })
}

/// The fixed client of the raw mode (and of the seeds).
pub const COOKIE_UA: &str = "Mozilla/5.0 A";
pub const COOKIE_IP: &str = "203.0.113.7";

fn binding_policy(flags: u8) -> BindingPolicy {
    BindingPolicy {
        user_agent: flags & 1 != 0,
        ip: match (flags >> 1) & 3 {
            0 => IpBinding::Off,
            1 => IpBinding::Prefix,
            _ => IpBinding::Exact,
        },
    }
}

/// A valid cookie value sealed with `K1` for the fixed client, as the fuzzer's seed: `flags`
/// as in [`session_cookie`] (bit 3 clear: the structured mode).
pub fn session_cookie_seed(flags: u8, sid: &str, sub: &str, minted_ms: i64) -> Vec<u8> {
    let mut out = vec![flags & !8];
    out.extend_from_slice(&minted_ms.to_le_bytes());
    out.extend_from_slice(&[0x5a; 16]);
    for field in [sid, sub, COOKIE_UA, COOKIE_IP] {
        out.extend_from_slice(field.as_bytes());
        out.push(0xff);
    }
    out.extend_from_slice(&[3, 40, b'0', 0, 1, 2]);
    out
}

/// A sealed value for the raw mode's seeds (bit 3 set: the bytes after the flags are the
/// cookie value itself, opened for the fixed client).
pub fn session_cookie_raw_seed(flags: u8) -> Vec<u8> {
    let cookie = SessionCookie {
        session_id: "sess-1".into(),
        subject: "user-1".into(),
        minted_ms: 1_700_000_000_123,
    };
    let props = ClientProps {
        user_agent: Some(COOKIE_UA),
        ip: Some(COOKIE_IP),
    };
    let v = session_cookie::seal(
        &cookie_keys().current,
        &binding_policy(flags),
        &cookie,
        &props,
        &[7; 16],
    )
    .expect("seed seals");
    [vec![flags | 8], v.into_bytes()].concat()
}

/// Applies one edit `(op, position, byte)` to a cookie value (as bytes; the result is read as
/// UTF-8 lossily, as a header value would be).
fn edit_cookie(value: &str, op: u8, at: u8, byte: u8) -> String {
    let mut b = value.as_bytes().to_vec();
    let i = usize::from(at) * b.len() / 256;
    match op % 6 {
        0 => {
            if let Some(x) = b.get_mut(i) {
                *x ^= 1 << (byte % 8);
            }
        }
        1 => {
            if let Some(x) = b.get_mut(i) {
                *x = byte;
            }
        }
        2 => b.insert(i, byte),
        3 => {
            if i < b.len() {
                b.remove(i);
            }
        }
        4 => b.truncate(i),
        _ => {
            // Swap two parts (session id and subject, nonce and MAC, …).
            let parts: Vec<&str> = value.split('.').collect();
            let (x, y) = (
                usize::from(at) % parts.len(),
                usize::from(byte) % parts.len(),
            );
            let mut p = parts.clone();
            p.swap(x, y);
            return p.join(".");
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// `session_cookie::seal` / `open` / `unverified_session_id`. Input: a flags byte (bit 0 binds
/// the User-Agent, bits 1–2 the IP: off, prefix, exact; bit 3 the raw mode), then
/// - structured mode: 8 bytes `minted_ms` (LE), 16 bytes nonce, `session id 0xFF subject 0xFF
///   user-agent 0xFF ip 0xFF` and edits, three bytes each (operation, position, byte);
/// - raw mode: a cookie value, opened for the fixed client.
pub fn session_cookie(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let policy = binding_policy(flags);
    let keys = cookie_keys();
    if flags & 8 != 0 {
        let Ok(value) = std::str::from_utf8(rest) else {
            return;
        };
        let props = ClientProps {
            user_agent: Some(COOKIE_UA),
            ip: Some(COOKIE_IP),
        };
        return check_opened(keys, &policy, value, &props);
    }
    if rest.len() < 24 {
        return;
    }
    let (minted, rest) = rest.split_at(8);
    let (nonce, rest) = rest.split_at(16);
    let minted_ms = i64::from_le_bytes(minted.try_into().expect("8 bytes"));
    let nonce: [u8; 16] = nonce.try_into().expect("16 bytes");
    let mut fields = rest.splitn(5, |&b| b == 0xff);
    let mut text = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let (sid, sub, ua, ip) = (text(), text(), text(), text());
    let edits = fields.next().unwrap_or_default();
    let props = ClientProps {
        user_agent: (!ua.is_empty()).then_some(ua.as_str()),
        ip: (!ip.is_empty()).then_some(ip.as_str()),
    };
    let cookie = SessionCookie {
        session_id: sid,
        subject: sub,
        minted_ms,
    };
    let Some(value) = session_cookie::seal(&keys.current, &policy, &cookie, &props, &nonce) else {
        assert!(
            cookie.session_id.is_empty()
                || cookie.subject.is_empty()
                || cookie.session_id.len() > MAX_PART_BYTES
                || cookie.subject.len() > MAX_PART_BYTES
                || !(0..=MAX_MINTED_MS).contains(&cookie.minted_ms),
            "seal refused a cookie within the documented bounds: {cookie:?}"
        );
        return;
    };
    // What is sealed is a valid cookie value, and opens to what was sealed: for this client,
    // and after a key rotation that keeps the old key.
    let strict = CookiePolicy {
        same_site_lax: false,
        persistent: false,
    };
    assert!(
        set_cookie(SESSION, &value, &strict, None, 0).is_ok(),
        "sealed value is not a cookie value: {value:?}"
    );
    assert_eq!(
        session_cookie::open(&keys.current, &policy, &value, &props),
        Ok(cookie.clone()),
        "round trip of {value:?}"
    );
    assert_eq!(
        session_cookie::open(&keys.rotated, &policy, &value, &props),
        Ok(cookie.clone()),
        "round trip under K2,K1 of {value:?}"
    );
    assert_eq!(
        session_cookie::unverified_session_id(&value),
        Some(cookie.session_id.clone())
    );
    // A retired key, or another client where the policy binds, does not open it.
    assert_eq!(
        session_cookie::open(&keys.other, &policy, &value, &props),
        Err(BindingError::Mismatch)
    );
    if policy.user_agent {
        let other_ua = format!("{}x", props.user_agent.unwrap_or_default());
        let other = ClientProps {
            user_agent: Some(&other_ua),
            ..props
        };
        assert!(session_cookie::open(&keys.current, &policy, &value, &other).is_err());
    }
    // Every edit of the sealed value is refused.
    for e in edits.chunks_exact(3).take(16) {
        let edited = edit_cookie(&value, e[0], e[1], e[2]);
        if edited == value {
            continue;
        }
        let opened = session_cookie::open(&keys.current, &policy, &edited, &props);
        assert!(
            opened.is_err(),
            "an edited cookie was accepted: {edited:?} (sealed {value:?}) opened as {opened:?}"
        );
    }
}

/// A value `open` accepts is exactly what `seal` writes for what it says (no second spelling
/// of a sealed value is accepted), and its unverified session id agrees.
fn check_opened(keys: &CookieKeys, policy: &BindingPolicy, value: &str, props: &ClientProps<'_>) {
    let _ = session_cookie::unverified_session_id(value);
    for k in [&keys.current, &keys.rotated] {
        let Ok(cookie) = session_cookie::open(k, policy, value, props) else {
            continue;
        };
        let nonce_b64 = value.split('.').nth(1).unwrap_or_default();
        let nonce: [u8; 16] = Base64UrlUnpadded::decode_vec(nonce_b64)
            .ok()
            .and_then(|n| n.try_into().ok())
            .expect("an accepted cookie has a 16-byte nonce");
        let resealed = session_cookie::seal(&keys.current, policy, &cookie, props, &nonce);
        assert_eq!(
            resealed.as_deref(),
            Some(value),
            "accepted a value seal never writes for {cookie:?}"
        );
        assert_eq!(
            session_cookie::unverified_session_id(value),
            Some(cookie.session_id)
        );
    }
}

// ---- request_target ----

/// The upstream origin of the target oracle's configuration.
const UPSTREAM: &str = "http://127.0.0.1:9000";
/// Its public paths and route policies: a public prefix next to policed ones, to catch a
/// target classified under one and forwarded under another.
const TARGET_PUBLIC: &str = "/public/*, /health, /static/*";
const TARGET_POLICIES: &str = r#"[
  {"path": "/admin/*", "roles_any": ["admin"]},
  {"path": "/api/reports/*", "methods": ["GET"], "scopes": ["reports:read"]},
  {"path": "/api/reports/*", "scopes": ["reports:write"]},
  {"path": "/api/*", "scopes": ["api"]}
]"#;
const TARGET_METHODS: [&str; 8] = [
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND",
];

fn target_config() -> &'static EdgeConfig {
    static CONFIG: OnceLock<EdgeConfig> = OnceLock::new();
    CONFIG.get_or_init(|| {
        EdgeConfig::from_env(|k| {
            let v = match k {
                "ISSUER" => common::ISSUER,
                "AUDIENCE" => common::AUDIENCE,
                "JWKS_URL" => "https://issuer.test/jwks",
                "UPSTREAM" => UPSTREAM,
                "PUBLIC_PATHS" => TARGET_PUBLIC,
                "ROUTE_POLICIES" => TARGET_POLICIES,
                _ => return None,
            };
            Some(v.to_owned())
        })
        .expect("target oracle config")
    })
}

/// What the gate decides on a URL: the route and the deciding policy rule (by position).
fn decide(
    config: &EdgeConfig,
    method: &str,
    url: &str,
) -> Option<(String, String, Route, Option<usize>)> {
    let facts = Facts {
        method,
        url,
        ..Facts::default()
    };
    let c = gate::classify(config, &facts).ok()?;
    let rule = match c.route {
        Route::Protected => config
            .policies
            .find(method, c.target.path())
            .map(|(i, _)| i),
        _ => None,
    };
    Some((
        c.target.path().to_owned(),
        c.target.path_and_query().to_owned(),
        c.route,
        rule,
    ))
}

fn percent_decode_lossy(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path as a lenient upstream might read it (as tests/target_properties.rs models it, and
/// cut at a decoded `?` or `#`, as an upstream that decodes before it splits reads it).
pub fn lenient_path(path: &str) -> String {
    let decoded = percent_decode_lossy(&percent_decode_lossy(path))
        .replace(['\u{ff0f}', '\u{ff3c}', '\\'], "/")
        .replace(['\u{ff0e}', '\u{2024}', '\u{fe52}'], ".")
        .replace('\u{2025}', "..");
    let decoded = decoded.split(['?', '#']).next().unwrap_or_default();
    let mut out: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_end_matches(' ');
        match segment {
            "" | "." => {}
            s if s.len() >= 2 && s.bytes().all(|b| b == b'.') => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// `gate::classify` and `Target::upstream_url`. Input: a byte choosing the method (low 3
/// bits) and the form (bit 3: the rest is the whole URL the runtime hands over; otherwise a
/// request target put after `http://edge.test`), then the text.
pub fn request_target(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return; // the runtime hands the URL over as a string
    };
    let method = TARGET_METHODS[usize::from(sel & 7)];
    let url = if sel & 8 != 0 {
        text.to_owned()
    } else {
        format!("http://edge.test{text}")
    };
    let config = target_config();
    let facts = Facts {
        method,
        url: &url,
        ..Facts::default()
    };
    let Ok(classified) = gate::classify(config, &facts) else {
        return;
    };
    let target = &classified.target;
    let path = target.path();
    let (_, _, route, rule) = decide(config, method, &url).expect("classifies twice the same");
    assert_eq!(route, classified.route);
    assert!(path.starts_with('/'), "classified path {path:?}");
    assert!(target.path_and_query().starts_with(path));
    // What goes upstream: the configured origin and the classified path and query, which the
    // upstream's (WHATWG) parser reads back unchanged.
    let forwarded = target.upstream_url(&config.upstream);
    assert!(forwarded.starts_with(UPSTREAM), "{forwarded:?}");
    let seen = url::Url::parse(&forwarded).expect("the forwarded URL parses");
    assert_eq!(
        seen.origin(),
        config.upstream.origin(),
        "{url:?} went to {forwarded:?}"
    );
    assert_eq!(
        seen.path(),
        path,
        "{url:?} classified as {path:?}, forwarded as {forwarded:?}"
    );
    let query = target.path_and_query().split_once('?').map(|(_, q)| q);
    assert_eq!(seen.query(), query, "{url:?} forwarded as {forwarded:?}");
    // The upstream's URL, classified again, is decided the same way: same target, route, rule.
    let again = decide(config, method, &forwarded);
    assert_eq!(
        again,
        Some((
            path.to_owned(),
            target.path_and_query().to_owned(),
            route,
            rule
        )),
        "{url:?} forwarded as {forwarded:?}"
    );
    // Nothing ambiguous is forwarded.
    let lower = path.to_ascii_lowercase();
    for bad in ["%2e", "%2f", "%5c", "\\"] {
        assert!(!lower.contains(bad), "{url:?} forwarded as {path:?}");
    }
    // No double encoding: `%25` never followed by two hex digits.
    assert!(
        !lower.match_indices("%25").any(|(i, _)| lower[i + 3..]
            .bytes()
            .take(2)
            .filter(u8::is_ascii_hexdigit)
            .count()
            == 2),
        "{url:?} forwarded as {path:?}"
    );
    assert!(
        path.bytes().all(|b| b.is_ascii_graphic()),
        "{url:?} forwarded as {path:?}"
    );
    for segment in path.split('/') {
        assert!(
            segment != "." && segment != "..",
            "{url:?} forwarded as {path:?}"
        );
    }
    // A lenient upstream reading reaches no protected path from a public one, and no other
    // policy rule than the one the edge applied.
    // (Read as a path: the query was split off at the raw `?` before.)
    let lenient = lenient_path(path);
    let lroute = route::classify(method, &lenient, &config.auth_prefix, &config.public_paths);
    if route == Route::Public {
        assert_eq!(
            lroute,
            Route::Public,
            "{url:?} public as {path:?}, read as {lenient:?}"
        );
    }
    if route == Route::Protected && lroute == Route::Protected {
        let lrule = config.policies.find(method, &lenient).map(|(i, _)| i);
        assert_eq!(
            lrule, rule,
            "{url:?} decided by rule {rule:?} as {path:?}, a lenient upstream reads {lenient:?} (rule {lrule:?})"
        );
    }
}
