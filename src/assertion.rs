//! The identity assertion for the upstream: a short-lived JWT the edge signs for every
//! authenticated request it forwards, in the `Edge-Assertion` header (in the manner of
//! Cloudflare Access's `Cf-Access-Jwt-Assertion`), so the upstream can check that the request
//! came through the edge and who it speaks for, instead of believing `X-Auth-*` headers that
//! anyone who reaches it directly can send.
//!
//! - **Claims**: `iss` (the edge, `ASSERTION_ISSUER`), `aud` (the upstream's origin, or
//!   `ASSERTION_AUDIENCE`), `sub`, `sid` (when known: the token's, else the session cookie's,
//!   as in `X-Auth-Session`), `roles`, `scope`, `client_id` and `auth_time` (when the token
//!   has them), `amr`, `iat`, `exp` (`iat` + `ASSERTION_SECONDS`, at most 60).
//! - **Header**: `{"alg":"ES256","typ":"JWT","kid":…}`; ES256 over P-256, signed by the
//!   adapter through WebCrypto with the key `ASSERTION_KEY` (a private JWK).
//! - **Keys**: the public half, plus any `ASSERTION_PUBLISHED_KEYS` (the previous or the next
//!   key during a rotation), at `GET {AUTH_PREFIX}/jwks` ([`AssertionConfig::jwks`]).
//! - **Reuse**: one assertion per verified token and session is cached in the isolate
//!   ([`AssertionCache`]) and sent again while it has at least a third of its lifetime left
//!   ([`reusable`]), so the warm path signs nothing.
//!
//! This module builds the signing input and the token, and decides reuse; the adapter signs
//! and keeps the cache.

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::keys::{self, Alg};
use crate::token::VerifiedClaims;

/// The request header that carries the assertion.
pub const HEADER: &str = "Edge-Assertion";
/// Longest (and default) lifetime of an assertion, seconds.
pub const MAX_LIFETIME_SECS: i64 = 60;
/// Shortest lifetime `ASSERTION_SECONDS` accepts.
pub const MIN_LIFETIME_SECS: i64 = 10;
/// `iss` when `ASSERTION_ISSUER` is not set.
pub const DEFAULT_ISSUER: &str = "edge-session";
/// Most identities whose assertion an isolate keeps.
pub const CACHE_ENTRIES: usize = 1024;
/// Length of an ES256 signature (`r ‖ s`, RFC 7518 §3.4).
pub const SIGNATURE_BYTES: usize = 64;

/// The edge's signing key: a P-256 private JWK, checked to be one (its `d` matches its `x`
/// and `y`). Its `kid` is the JWK's own, or its RFC 7638 thumbprint.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    private_jwk: Value,
    public_jwk: Value,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The members of a P-256 JWK, and which of them are public.
const EC_MEMBERS: [(&str, bool); 5] = [
    ("kty", true),
    ("crv", true),
    ("x", true),
    ("y", true),
    ("d", false),
];

impl SigningKey {
    /// Reads a private P-256 JWK (`kty` `EC`, `crv` `P-256`, `x`, `y`, `d`; `alg` absent or
    /// `ES256`; `kid` optional). The error never quotes the key.
    pub fn from_jwk_json(text: &str) -> Result<Self, String> {
        let jwk: Value =
            serde_json::from_slice(text.as_bytes()).map_err(|_| "not a JSON object")?;
        let member = |name: &str| jwk.get(name).and_then(Value::as_str);
        if member("kty") != Some("EC") || member("crv") != Some("P-256") {
            return Err("must be an EC P-256 private JWK".into());
        }
        if jwk
            .get("alg")
            .is_some_and(|a| a.as_str() != Some(Alg::Es256.name()))
        {
            return Err("alg must be ES256 when present".into());
        }
        let (Some(x), Some(y), Some(d)) = (member("x"), member("y"), member("d")) else {
            return Err("x, y and d are required".into());
        };
        // The public point is checked by the verifier's own JWK reader (on the curve), the
        // secret by p256 (a scalar in range), and the one must be the other's: d·G = (x, y).
        let public = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y });
        let point = match keys::key_from_jwk(&public, &[Alg::Es256]) {
            Ok(keys::VerifyKey {
                material: keys::KeyMaterial::P256(point),
                ..
            }) => point,
            _ => return Err("x and y are not a P-256 point".into()),
        };
        let secret = Base64UrlUnpadded::decode_vec(d)
            .ok()
            .and_then(|d| p256::SecretKey::from_slice(&d).ok())
            .ok_or("d is not a P-256 private key")?;
        if p256::ecdsa::VerifyingKey::from(secret.public_key()) != point {
            return Err("d does not match x and y".into());
        }
        let kid = match jwk.get("kid") {
            // RFC 7638: SHA-256 over the required members, in this order, without spaces.
            None => Base64UrlUnpadded::encode_string(&Sha256::digest(
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#).as_bytes(),
            )),
            Some(Value::String(k)) if !k.is_empty() && k.len() <= keys::MAX_KID_LEN => k.clone(),
            Some(_) => return Err("kid must be a short non-empty string".into()),
        };
        let pick = |public_only: bool| {
            let mut out = serde_json::Map::new();
            for (name, public) in EC_MEMBERS {
                if let (true, Some(v)) = (public || !public_only, jwk.get(name)) {
                    out.insert(name.to_owned(), v.clone());
                }
            }
            out
        };
        let mut public = pick(true);
        public.insert("kid".into(), Value::String(kid.clone()));
        public.insert("alg".into(), Value::String(Alg::Es256.name().into()));
        public.insert("use".into(), Value::String("sig".into()));
        Ok(Self {
            kid,
            private_jwk: Value::Object(pick(false)),
            public_jwk: Value::Object(public),
        })
    }

    /// The key id every assertion names.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key material (`kty`, `crv`, `x`, `y`, `d`), for WebCrypto's `importKey`.
    /// A secret: never logged.
    pub fn private_jwk(&self) -> &Value {
        &self.private_jwk
    }

    /// The public JWK as published (`kid`, `alg` `ES256`, `use` `sig`).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }
}

/// Everything the assertion needs from the configuration.
#[derive(Debug, Clone)]
pub struct AssertionConfig {
    /// `iss`.
    pub issuer: String,
    /// `aud`: the upstream's origin unless configured.
    pub audience: String,
    /// Lifetime of each assertion, seconds ([`MIN_LIFETIME_SECS`]..=[`MAX_LIFETIME_SECS`]).
    pub lifetime_secs: i64,
    /// The signing key.
    pub key: SigningKey,
    /// Other public keys published beside it (a rotation's previous or next key).
    pub published: Vec<Value>,
}

impl AssertionConfig {
    /// The JWKS published at `{AUTH_PREFIX}/jwks`: the signing key's public half first, then
    /// the other published keys.
    pub fn jwks(&self) -> Value {
        let mut keys = vec![self.key.public_jwk().clone()];
        keys.extend(self.published.iter().cloned());
        json!({ "keys": keys })
    }
}

/// Reads `ASSERTION_PUBLISHED_KEYS`: a JWKS (`{"keys": [...]}`) or a JSON array of public
/// ES256 JWKs; a private member, another key type or a `kid` of the signing key is refused.
pub fn published_keys(text: &str, signing_kid: &str) -> Result<Vec<Value>, String> {
    let doc: Value = serde_json::from_slice(text.as_bytes()).map_err(|_| "not JSON")?;
    let list = match doc.get("keys").unwrap_or(&doc) {
        Value::Array(list) => list.clone(),
        _ => return Err("must be a JWKS or an array of JWKs".into()),
    };
    for jwk in &list {
        let key = keys::key_from_jwk(jwk, &[Alg::Es256])
            .map_err(|_| "every key must be a public ES256 JWK")?;
        match key.kid.as_deref() {
            None => return Err("every key needs a kid".into()),
            Some(kid) if kid == signing_kid => {
                return Err("a published key has the signing key's kid".into())
            }
            Some(_) => {}
        }
    }
    Ok(list)
}

/// Who an assertion speaks for, borrowed from the verified claims and the session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// `sub`.
    pub sub: &'a str,
    /// `sid`, when known.
    pub sid: Option<&'a str>,
    /// `roles`.
    pub roles: &'a [String],
    /// `scope`, when present.
    pub scope: Option<&'a str>,
    /// `client_id`, when present.
    pub client_id: Option<&'a str>,
    /// `amr`.
    pub amr: &'a [String],
    /// `auth_time`, when the token has it.
    pub auth_time: Option<i64>,
}

impl<'a> Subject<'a> {
    /// The subject of a forwarded request: its verified claims, and the session id the
    /// identity headers carry ([`crate::forward::session_of`]).
    pub fn of(claims: &'a VerifiedClaims, session_id: Option<&'a str>) -> Self {
        Self {
            sub: &claims.sub,
            sid: crate::forward::session_of(claims, session_id),
            roles: &claims.roles,
            scope: claims.scope.as_deref(),
            client_id: claims.client_id.as_deref(),
            amr: &claims.amr,
            auth_time: claims.auth_time,
        }
    }
}

#[derive(Serialize)]
struct Payload<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    roles: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    amr: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<i64>,
    iat: i64,
    exp: i64,
}

/// An assertion ready to be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    /// The JWS signing input, `base64url(header) . base64url(payload)`.
    pub input: String,
    /// `iat`.
    pub iat: i64,
    /// `exp`.
    pub exp: i64,
}

/// The assertion for `subject` issued at `now` (seconds), to be signed with the ES256 key.
pub fn unsigned(config: &AssertionConfig, subject: &Subject<'_>, now: i64) -> Unsigned {
    let header = json!({ "alg": Alg::Es256.name(), "typ": "JWT", "kid": config.key.kid() });
    let exp = now.saturating_add(config.lifetime_secs);
    let payload = Payload {
        iss: &config.issuer,
        aud: &config.audience,
        sub: subject.sub,
        sid: subject.sid,
        roles: subject.roles,
        scope: subject.scope,
        client_id: subject.client_id,
        amr: subject.amr,
        auth_time: subject.auth_time,
        iat: now,
        exp,
    };
    // Serialising plain strings, slices and integers cannot fail.
    let payload = serde_json::to_vec(&payload).unwrap_or_default();
    let mut input = Base64UrlUnpadded::encode_string(header.to_string().as_bytes());
    input.push('.');
    input.push_str(&Base64UrlUnpadded::encode_string(&payload));
    Unsigned {
        input,
        iat: now,
        exp,
    }
}

/// A signed assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The compact JWS.
    pub token: Rc<str>,
    /// `iat`.
    pub iat: i64,
    /// `exp`.
    pub exp: i64,
}

/// The token from its signing input and the raw `r ‖ s` signature WebCrypto returned; `None`
/// when the signature does not have the ES256 length.
pub fn complete(unsigned: Unsigned, signature: &[u8]) -> Option<Signed> {
    if signature.len() != SIGNATURE_BYTES {
        return None;
    }
    let mut token = unsigned.input;
    token.push('.');
    token.push_str(&Base64UrlUnpadded::encode_string(signature));
    Some(Signed {
        token: token.into(),
        iat: unsigned.iat,
        exp: unsigned.exp,
    })
}

/// Whether an assertion issued at `iat`, expiring at `exp`, is sent again at `now`: not
/// issued in the future (the clock went back), and at least a third of its lifetime left,
/// so it reaches the upstream with time to spare for transit and clock skew.
pub fn reusable(iat: i64, exp: i64, now: i64) -> bool {
    let margin = (exp - iat) / 3;
    iat <= now && now.saturating_add(margin) < exp
}

struct Entry {
    /// The verified claims it was made from, held: while the entry lives the allocation is
    /// not reused, so the same pointer is the same claims.
    claims: Arc<VerifiedClaims>,
    session_id: Option<String>,
    signed: Signed,
}

/// The isolate's assertions, one per verified token (the verified-token cache's claims, by
/// pointer) and session id, at most [`CACHE_ENTRIES`]. The warm path's lookup hashes a pointer
/// and compares it and the session id: no identity is hashed or compared field by field. A
/// token verified anew (its cache entry expired, a refresh) gets its own assertion.
#[derive(Default)]
pub struct AssertionCache {
    entries: HashMap<usize, Entry>,
}

/// The key of `claims`: the address of its allocation.
fn key_of(claims: &Arc<VerifiedClaims>) -> usize {
    Arc::as_ptr(claims) as usize
}

impl AssertionCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries (stale ones included until they are dropped).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The assertion to send again for these claims and session id at `now`, if one is held
    /// and [`reusable`].
    pub fn get(
        &self,
        claims: &Arc<VerifiedClaims>,
        session_id: Option<&str>,
        now: i64,
    ) -> Option<Rc<str>> {
        self.entries
            .get(&key_of(claims))
            .filter(|e| {
                Arc::ptr_eq(&e.claims, claims)
                    && e.session_id.as_deref() == session_id
                    && reusable(e.signed.iat, e.signed.exp, now)
            })
            .map(|e| Rc::clone(&e.signed.token))
    }

    /// Keeps `signed` for these claims and session id. A full cache first drops what is no
    /// longer reusable at `now`; if it is still full, it starts over.
    pub fn insert(
        &mut self,
        claims: &Arc<VerifiedClaims>,
        session_id: Option<&str>,
        signed: Signed,
        now: i64,
    ) {
        if self.entries.len() >= CACHE_ENTRIES {
            self.entries
                .retain(|_, e| reusable(e.signed.iat, e.signed.exp, now));
            if self.entries.len() >= CACHE_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(
            key_of(claims),
            Entry {
                claims: Arc::clone(claims),
                session_id: session_id.map(str::to_owned),
                signed,
            },
        );
    }
}

#[cfg(test)]
mod tests;
