//! Untrusted access token → verified claims.
//!
//! Verification runs in three steps so the signature check can happen outside the core (the
//! adapter may use the runtime's WebCrypto) while the core keeps every rule:
//!
//! 1. [`inspect`]: size limit, compact-JWS structure, header rules (no `none`/HS*, no embedded
//!    `jwk`/`jku`/`x5u`/`x5c`, no `crit`, required `typ`).
//! 2. [`Inspected::select_key`]: the key comes from our key set by `kid`; the token's `alg` must
//!    be the one algorithm fixed for that key. The token never chooses the algorithm.
//! 3. [`Inspected::into_claims`]: only with a [`SignatureVerified`] proof; checks `iss`, `aud`,
//!    `sub`, `exp`, `nbf`, `iat` with the leeway, against a `now` passed in.
//!
//! [`verify`] runs all three with the pure-Rust signature check.

use jwt_compact::UntrustedToken;
use serde::Deserialize;

use crate::keys::{KeySet, VerifyKey, MAX_KID_LEN};

mod claims;
mod error;

pub use claims::VerifiedClaims;
use claims::{check_claims, RawClaims};
pub use error::TokenError;

/// Largest token accepted, in bytes; longer ones are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Latest NumericDate accepted (9999-12-31T23:59:59Z); later values are refused as malformed.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// Deepest JSON nesting accepted in a token's header or claims. Real tokens nest two or three
/// levels; anything deeper is refused before serde sees it.
pub const MAX_JSON_DEPTH: usize = 16;

/// Whether `json` nests arrays/objects deeper than `max` (strings are skipped, so brackets in
/// values do not count). Linear, no recursion.
pub fn json_too_deep(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Which `typ` header values are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypRule {
    /// Any `typ`, or none (for issuers that do not set it).
    Any,
    /// One of these media types, compared case-insensitively with an optional `application/`
    /// prefix (RFC 7515 §4.1.9). A token without `typ` is refused.
    OneOf(Vec<String>),
}

impl TypRule {
    fn accepts(&self, typ: Option<&str>) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(allowed) => typ.is_some_and(|t| {
                let t = normalize_media_type(t);
                allowed.iter().any(|a| normalize_media_type(a) == t)
            }),
        }
    }
}

fn normalize_media_type(t: &str) -> String {
    let lower = t.trim().to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Exact expected `iss`.
    pub issuer: String,
    /// `aud` must contain at least one of these.
    pub audiences: Vec<String>,
    /// Accepted `typ` header values.
    pub typ: TypRule,
    /// Clock leeway for `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: i64,
}

/// Header parameters jwt-compact does not model; collected to be refused.
#[derive(Debug, Clone, Default, Deserialize)]
struct ExtraHeader {
    #[serde(default)]
    jwk: Option<serde_json::Value>,
    #[serde(default)]
    x5c: Option<serde_json::Value>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    #[serde(default)]
    zip: Option<serde_json::Value>,
    #[serde(default)]
    b64: Option<serde_json::Value>,
}

/// A token whose structure and header passed [`inspect`]; its signature is not yet checked.
#[derive(Debug)]
pub struct Inspected<'a> {
    token: UntrustedToken<'a, ExtraHeader>,
    signed_data: &'a [u8],
    payload_b64: &'a str,
}

/// Proof that a signature was checked with the key [`Inspected::select_key`] chose. Only this
/// crate can make one.
#[derive(Debug)]
pub struct SignatureVerified(());

impl SignatureVerified {
    /// Turns the answer of a signature check done elsewhere (WebCrypto) into a proof.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn from_check(valid: bool) -> Result<Self, TokenError> {
        if valid {
            Ok(Self(()))
        } else {
            Err(TokenError::BadSignature)
        }
    }
}

/// Step 1: structure and header rules. Does no signature work.
pub fn inspect<'a>(token: &'a str, policy: &Policy) -> Result<Inspected<'a>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge { len: token.len() });
    }
    {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let header_b64 = token.split('.').next().unwrap_or_default();
        if let Ok(header) = Base64UrlUnpadded::decode_vec(header_b64) {
            if json_too_deep(&header, MAX_JSON_DEPTH) {
                return Err(TokenError::Malformed("header nests too deep"));
            }
        }
    }
    let untrusted = UntrustedToken::<ExtraHeader>::try_from(token).map_err(|e| {
        TokenError::Malformed(match e {
            jwt_compact::ParseError::InvalidTokenStructure => "not three dot-separated parts",
            jwt_compact::ParseError::InvalidBase64Encoding => "invalid base64url",
            jwt_compact::ParseError::MalformedHeader(_) => "header is not a JSON object",
            jwt_compact::ParseError::UnsupportedContentType(_) => "unsupported cty",
            _ => "unparseable",
        })
    })?;
    let alg = untrusted.algorithm();
    if !["ES256", "RS256", "PS256", "EdDSA", "Ed25519"].contains(&alg) {
        return Err(TokenError::UnsupportedAlgorithm(alg.to_owned()));
    }
    let header = untrusted.header();
    // Keys come only from our configured key set: a token may not point at or carry its own.
    if header.key_set_url.is_some() {
        return Err(TokenError::ForbiddenHeader("jku"));
    }
    if header.certificate_url.is_some() {
        return Err(TokenError::ForbiddenHeader("x5u"));
    }
    let extra = &header.other_fields;
    for (present, name) in [
        (extra.jwk.is_some(), "jwk"),
        (extra.x5c.is_some(), "x5c"),
        // We implement no JWS extension, so any `crit` names one we do not understand
        // (RFC 7515 §4.1.11); `b64` is only meaningful with `crit`.
        (extra.crit.is_some(), "crit"),
        (extra.b64.is_some(), "b64"),
        (extra.zip.is_some(), "zip"),
    ] {
        if present {
            return Err(TokenError::ForbiddenHeader(name));
        }
    }
    if !policy.typ.accepts(header.token_type.as_deref()) {
        return Err(TokenError::WrongType);
    }
    if header
        .key_id
        .as_ref()
        .is_some_and(|k| k.len() > MAX_KID_LEN)
    {
        return Err(TokenError::UnknownKey);
    }
    let (signed_data, payload_b64) = match token.rsplit_once('.') {
        Some((data, _)) => match data.split_once('.') {
            Some((_, payload)) => (data.as_bytes(), payload),
            None => return Err(TokenError::Malformed("not three dot-separated parts")),
        },
        None => return Err(TokenError::Malformed("not three dot-separated parts")),
    };
    Ok(Inspected {
        token: untrusted,
        signed_data,
        payload_b64,
    })
}

impl<'a> Inspected<'a> {
    /// The `kid` header, if any.
    pub fn kid(&self) -> Option<&str> {
        self.token.header().key_id.as_deref()
    }

    /// The bytes the signature covers (`header.payload`, as sent).
    pub fn signed_data(&self) -> &[u8] {
        self.signed_data
    }

    /// The decoded signature bytes (not yet checked).
    pub fn signature(&self) -> &[u8] {
        self.token.signature_bytes()
    }

    /// Step 2: the key for this token, from our set. The token's `alg` must be the key's.
    pub fn select_key<'k>(&self, keys: &'k KeySet) -> Result<&'k VerifyKey, TokenError> {
        let alg = self.token.algorithm();
        let key = match self.kid() {
            Some(kid) => keys.by_kid(kid).ok_or(TokenError::UnknownKey)?,
            None => {
                let mut candidates = keys.keys().iter().filter(|k| k.alg.matches_header(alg));
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => only,
                    (Some(_), Some(_)) => return Err(TokenError::MissingKeyId),
                    (None, _) => return Err(TokenError::UnknownKey),
                }
            }
        };
        if !key.alg.matches_header(alg) {
            return Err(TokenError::AlgorithmMismatch {
                expected: key.alg.name(),
            });
        }
        Ok(key)
    }

    /// Checks the signature with `key` in pure Rust.
    pub fn verify_pure(&self, key: &VerifyKey) -> Result<SignatureVerified, TokenError> {
        SignatureVerified::from_check(key.verify_pure(self.signed_data, self.signature()))
    }

    /// Step 3: the claims, checked against `policy` at `now` (seconds since the epoch).
    pub fn into_claims(
        self,
        _proof: SignatureVerified,
        policy: &Policy,
        now: i64,
    ) -> Result<VerifiedClaims, TokenError> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        // The structure was checked by `inspect` with the same strict base64url decoder.
        let payload = Base64UrlUnpadded::decode_vec(self.payload_b64)
            .map_err(|_| TokenError::Malformed("invalid base64url"))?;
        if payload.first() != Some(&b'{') {
            return Err(TokenError::MalformedClaims(
                "claims are not a JSON object".into(),
            ));
        }
        if json_too_deep(&payload, MAX_JSON_DEPTH) {
            return Err(TokenError::MalformedClaims("claims nest too deep".into()));
        }
        // JSON text is UTF-8 (RFC 8259 §8.1); serde_json does not check the bytes of values it
        // skips, so check the whole payload first.
        let payload = std::str::from_utf8(&payload)
            .map_err(|_| TokenError::MalformedClaims("claims are not UTF-8".into()))?;
        let raw: RawClaims = serde_json::from_str(payload).map_err(|e| {
            // serde_json's message names the field and the problem (and the position); it
            // quotes at most a short unexpected string, which is the issuer's, not a secret.
            TokenError::MalformedClaims(e.to_string().chars().take(120).collect())
        })?;
        check_claims(raw, policy, now)
    }
}

/// Verifies `token` against `keys` and `policy` at `now`, with the pure-Rust signature check.
pub fn verify(
    token: &str,
    keys: &KeySet,
    policy: &Policy,
    now: i64,
) -> Result<VerifiedClaims, TokenError> {
    let inspected = inspect(token, policy)?;
    let key = inspected.select_key(keys)?;
    let proof = inspected.verify_pure(key)?;
    inspected.into_claims(proof, policy, now)
}

#[cfg(test)]
mod tests;
