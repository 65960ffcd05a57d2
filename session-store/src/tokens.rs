//! Signing keys, JWKS and the access / ID tokens.
//!
//! Keys come from private JWKs (RFC 7517). The algorithm follows the key type: EC P-256 →
//! `ES256` (default), RSA (≥ 2048 bits) → `RS256`, OKP Ed25519 → `EdDSA`. A JWK that names a
//! different `alg` is refused. `kid` is the JWK's own, or its RFC 7638 thumbprint.

use std::borrow::Cow;

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Ed25519, Es256, Rsa};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::time::{to_seconds, Millis};

/// Smallest RSA modulus accepted for signing.
pub const MIN_RSA_BITS: usize = 2048;

/// A JWK that cannot be a signing key here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad signing key: {}", self.0)
    }
}

enum Material {
    Es256(p256::ecdsa::SigningKey),
    Rs256(Box<rsa::RsaPrivateKey>),
    EdDsa(ed25519_compact::SecretKey),
}

/// A private signing key with its `kid` and public JWK.
pub struct SigningKey {
    kid: String,
    material: Material,
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Parses a private JWK (JSON text).
    pub fn from_jwk_json(text: &str) -> Result<Self, KeyError> {
        let raw: Value =
            serde_json::from_str(text).map_err(|_| KeyError("not a JSON object".into()))?;
        let jwk: JsonWebKey<'_> =
            serde_json::from_value(raw.clone()).map_err(|e| KeyError(e.to_string()))?;
        let bad = |e: jwt_compact::jwk::JwkError| KeyError(e.to_string());
        let (material, public) = match &jwk {
            JsonWebKey::EllipticCurve { .. } => {
                let key = p256::ecdsa::SigningKey::try_from(&jwk).map_err(bad)?;
                let public = JsonWebKey::from(key.verifying_key()).to_string();
                (Material::Es256(key), public)
            }
            JsonWebKey::Rsa { .. } => {
                let key = rsa::RsaPrivateKey::try_from(&jwk).map_err(bad)?;
                if key.size() * 8 < MIN_RSA_BITS {
                    return Err(KeyError(format!("RSA keys need ≥ {MIN_RSA_BITS} bits")));
                }
                let public = JsonWebKey::from(&key.to_public_key()).to_string();
                (Material::Rs256(Box::new(key)), public)
            }
            JsonWebKey::KeyPair { curve, .. } if curve == "Ed25519" => {
                let key = ed25519_compact::SecretKey::try_from(&jwk).map_err(bad)?;
                let public = JsonWebKey::from(&key.public_key()).to_string();
                (Material::EdDsa(key), public)
            }
            _ => return Err(KeyError("only EC P-256, RSA and OKP Ed25519 keys".into())),
        };
        let thumbprint = Base64UrlUnpadded::encode_string(&jwk.thumbprint::<Sha256>());
        let kid = match raw.get("kid") {
            None => thumbprint,
            Some(Value::String(k)) if !k.is_empty() => k.clone(),
            Some(_) => return Err(KeyError("`kid` must be a non-empty string".into())),
        };
        let mut key = Self {
            kid,
            material,
            public_jwk: Value::Null,
        };
        match raw.get("alg") {
            None => {}
            Some(Value::String(a)) if a == key.alg() => {}
            Some(Value::String(a)) if a == "Ed25519" && key.alg() == "EdDSA" => {}
            Some(_) => return Err(KeyError(format!("`alg` must be {}", key.alg()))),
        }
        let mut public: Value =
            serde_json::from_str(&public).map_err(|e| KeyError(e.to_string()))?;
        if let Value::Object(map) = &mut public {
            map.insert("kid".into(), Value::String(key.kid.clone()));
            map.insert("use".into(), Value::String("sig".into()));
            map.insert("alg".into(), Value::String(key.alg().into()));
        }
        key.public_jwk = public;
        Ok(key)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWS `alg` this key signs with.
    pub fn alg(&self) -> &'static str {
        match self.material {
            Material::Es256(_) => "ES256",
            Material::Rs256(_) => "RS256",
            Material::EdDsa(_) => "EdDSA",
        }
    }

    /// The public JWK with `kid`, `use` and `alg`.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `claims` as a compact JWS with header `{alg, typ, kid}`.
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, KeyError> {
        let header = json!({ "alg": self.alg(), "typ": typ, "kid": self.kid });
        let payload = serde_json::to_vec(claims).map_err(|e| KeyError(e.to_string()))?;
        let mut out = Base64UrlUnpadded::encode_string(header.to_string().as_bytes());
        out.push('.');
        out.push_str(&Base64UrlUnpadded::encode_string(&payload));
        let signature: Cow<'_, [u8]> = match &self.material {
            Material::Es256(k) => Cow::Owned(Es256.sign(k, out.as_bytes()).as_bytes().into_owned()),
            Material::Rs256(k) => {
                Cow::Owned(Rsa::rs256().sign(k, out.as_bytes()).as_bytes().into_owned())
            }
            Material::EdDsa(k) => {
                Cow::Owned(Ed25519.sign(k, out.as_bytes()).as_bytes().into_owned())
            }
        };
        out.push('.');
        out.push_str(&Base64UrlUnpadded::encode_string(&signature));
        Ok(out)
    }
}

/// The current signing key and, during a rotation, the previous one.
#[derive(Debug)]
pub struct KeySet {
    /// Signs every new token.
    pub current: SigningKey,
    /// Still published so tokens it signed keep verifying until they expire.
    pub previous: Option<SigningKey>,
}

impl KeySet {
    /// The JWKS document: current key first.
    pub fn jwks(&self) -> Value {
        let keys: Vec<&Value> = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .map(SigningKey::public_jwk)
            .collect();
        json!({ "keys": keys })
    }
}

/// What the store knows when it issues tokens for a session.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    /// Issuer (`iss`).
    pub issuer: &'a str,
    /// The calling client (`client_id`; the ID token's `aud`).
    pub client_id: &'a str,
    /// The user (`sub`).
    pub user_id: &'a str,
    /// The session (`sid`).
    pub session_id: &'a str,
    /// The access token's audience (`aud`): the `resource` or the default audience.
    pub audience: &'a str,
    /// `roles`.
    pub roles: &'a [String],
    /// `scope`.
    pub scope: &'a str,
    /// Latest authentication (`auth_time`).
    pub auth_time: Millis,
    /// Methods (`amr`).
    pub amr: &'a [String],
    /// Issue time.
    pub now: Millis,
    /// Lifetime of both tokens, in seconds.
    pub ttl_seconds: i64,
}

/// Access-token claims (RFC 9068 profile, with its `auth_time` and `amr`, plus `sid`, `roles`).
#[derive(Debug, Serialize)]
pub struct AccessClaims<'a> {
    /// Issuer.
    pub iss: &'a str,
    /// User id.
    pub sub: &'a str,
    /// Audience.
    pub aud: &'a str,
    /// Expiry (seconds).
    pub exp: i64,
    /// Issued at (seconds).
    pub iat: i64,
    /// Unique token id.
    pub jti: &'a str,
    /// The client the token was issued to.
    pub client_id: &'a str,
    /// Session id.
    pub sid: &'a str,
    /// Roles.
    pub roles: &'a [String],
    /// Scope.
    pub scope: &'a str,
    /// The session's last real authentication (seconds; RFC 9068 §2.2.1): a refresh keeps it.
    pub auth_time: i64,
    /// The session's authentication methods (RFC 9068 §2.2.1), `mfa` once two factors.
    pub amr: &'a [String],
}

/// ID-token claims.
#[derive(Debug, Serialize)]
pub struct IdClaims<'a> {
    /// Issuer.
    pub iss: &'a str,
    /// User id.
    pub sub: &'a str,
    /// The client id.
    pub aud: &'a str,
    /// Expiry (seconds).
    pub exp: i64,
    /// Issued at (seconds).
    pub iat: i64,
    /// Latest authentication (seconds).
    pub auth_time: i64,
    /// Authentication methods.
    pub amr: &'a [String],
    /// Session id.
    pub sid: &'a str,
    /// Unique token id.
    pub jti: &'a str,
}

/// The lifetime of tokens issued at `now` for a session that expires at `session_expires_at`,
/// seconds: the configured `ttl_seconds`, cut so that no token outlives its session (a
/// refresh, which does not extend the session, close to its end), rounded up to a whole
/// second, at least one. So an expired session leaves no accepted token behind
/// ([`crate::revocations`]: why expiry needs no alarm).
pub fn access_ttl(ttl_seconds: i64, now: Millis, session_expires_at: Millis) -> i64 {
    let left_ms = session_expires_at.saturating_sub(now);
    let left = left_ms.saturating_add(999).div_euclid(1000);
    ttl_seconds.min(left).max(1)
}

impl<'a> Grant<'a> {
    /// The access-token claims, with `jti`.
    pub fn access_claims(&self, jti: &'a str) -> AccessClaims<'a> {
        let iat = to_seconds(self.now);
        AccessClaims {
            iss: self.issuer,
            sub: self.user_id,
            aud: self.audience,
            exp: iat + self.ttl_seconds,
            iat,
            jti,
            client_id: self.client_id,
            sid: self.session_id,
            roles: self.roles,
            scope: self.scope,
            auth_time: to_seconds(self.auth_time),
            amr: self.amr,
        }
    }

    /// The ID-token claims, with `jti`.
    pub fn id_claims(&self, jti: &'a str) -> IdClaims<'a> {
        let iat = to_seconds(self.now);
        IdClaims {
            iss: self.issuer,
            sub: self.user_id,
            aud: self.client_id,
            exp: iat + self.ttl_seconds,
            iat,
            auth_time: to_seconds(self.auth_time),
            amr: self.amr,
            sid: self.session_id,
            jti,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
