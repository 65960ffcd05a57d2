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

/// Access-token claims (RFC 9068 profile plus `sid`, `roles`).
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
pub(crate) mod tests {
    use super::*;
    use jwt_compact::{AlgorithmExt, Claims, UntrustedToken};
    use std::collections::BTreeMap;

    pub(crate) const ES256: &str = include_str!("../../tests/keys/test-es256.private.jwk.json");
    const RS256: &str = include_str!("../../tests/keys/test-rs256.private.jwk.json");
    const ED25519: &str = include_str!("../../tests/keys/test-ed25519.private.jwk.json");
    const RS1024: &str = include_str!("../../tests/keys/test-rs1024-weak.private.jwk.json");

    fn grant<'a>(roles: &'a [String], amr: &'a [String]) -> Grant<'a> {
        Grant {
            issuer: "https://store.example",
            client_id: "edge",
            user_id: "user-alice",
            session_id: "s1.abc.def",
            audience: "https://app.example",
            roles,
            scope: "openid",
            auth_time: 1_767_225_600_500,
            amr,
            now: 1_767_225_601_999,
            ttl_seconds: 3600,
        }
    }

    type Custom = BTreeMap<String, Value>;

    /// Verifies `token` with the public JWK only; returns its header and all claims.
    pub(crate) fn verify_with(key: &SigningKey, token: &str) -> (Value, Custom) {
        let untrusted = UntrustedToken::new(token).unwrap();
        let header = json!({
            "alg": untrusted.algorithm(),
            "typ": untrusted.header().token_type,
            "kid": untrusted.header().key_id,
        });
        let jwk: JsonWebKey<'_> = serde_json::from_value(key.public_jwk().clone()).unwrap();
        let claims: Claims<Custom> = match key.alg() {
            "ES256" => {
                let vk = p256::ecdsa::VerifyingKey::try_from(&jwk).unwrap();
                Es256
                    .validator(&vk)
                    .validate(&untrusted)
                    .unwrap()
                    .claims()
                    .clone()
            }
            "RS256" => {
                let vk = rsa::RsaPublicKey::try_from(&jwk).unwrap();
                Rsa::rs256()
                    .validator(&vk)
                    .validate(&untrusted)
                    .unwrap()
                    .claims()
                    .clone()
            }
            _ => {
                let vk = ed25519_compact::PublicKey::try_from(&jwk).unwrap();
                Ed25519
                    .validator(&vk)
                    .validate(&untrusted)
                    .unwrap()
                    .claims()
                    .clone()
            }
        };
        let mut all = claims.custom;
        all.insert(
            "exp".into(),
            json!(claims.expiration.map(|t| t.timestamp())),
        );
        all.insert("iat".into(), json!(claims.issued_at.map(|t| t.timestamp())));
        (header, all)
    }

    #[test]
    fn every_key_type_signs_verifiable_tokens() {
        let roles = vec!["admin".to_string(), "user".to_string()];
        let amr = vec!["pwd".to_string(), "otp".to_string()];
        for (jwk, alg) in [(ES256, "ES256"), (RS256, "RS256"), (ED25519, "EdDSA")] {
            let key = SigningKey::from_jwk_json(jwk).unwrap();
            assert_eq!(key.alg(), alg);
            let g = grant(&roles, &amr);
            let at = key.sign("at+jwt", &g.access_claims("jti-1")).unwrap();
            let (h, c) = verify_with(&key, &at);
            assert_eq!(h, json!({"alg": alg, "typ": "at+jwt", "kid": key.kid()}));
            assert_eq!(c["iss"], "https://store.example");
            assert_eq!(c["sub"], "user-alice");
            assert_eq!(c["aud"], "https://app.example");
            assert_eq!(c["iat"], 1_767_225_601);
            assert_eq!(c["exp"], 1_767_225_601 + 3600);
            assert_eq!(c["jti"], "jti-1");
            assert_eq!(c["client_id"], "edge");
            assert_eq!(c["sid"], "s1.abc.def");
            assert_eq!(c["roles"], json!(["admin", "user"]));
            assert_eq!(c["scope"], "openid");

            let id = key.sign("JWT", &g.id_claims("jti-2")).unwrap();
            let (h, c) = verify_with(&key, &id);
            assert_eq!(h["typ"], "JWT");
            assert_eq!(c["aud"], "edge");
            assert_eq!(c["auth_time"], 1_767_225_600);
            assert_eq!(c["amr"], json!(["pwd", "otp"]));
            assert_eq!(c["sid"], "s1.abc.def");
        }
    }

    #[test]
    fn refuses_weak_mismatched_or_public_keys() {
        assert!(SigningKey::from_jwk_json(RS1024).is_err(), "1024-bit RSA");
        let mut es: Value = serde_json::from_str(ES256).unwrap();
        es["alg"] = json!("RS256");
        assert!(
            SigningKey::from_jwk_json(&es.to_string()).is_err(),
            "alg mismatch"
        );
        es["alg"] = json!("ES256");
        es.as_object_mut().unwrap().remove("d");
        assert!(
            SigningKey::from_jwk_json(&es.to_string()).is_err(),
            "public key only"
        );
        assert!(SigningKey::from_jwk_json("not json").is_err());
        assert!(SigningKey::from_jwk_json(r#"{"kty":"oct","k":"AAAA"}"#).is_err());
    }

    #[test]
    fn kid_defaults_to_the_thumbprint() {
        let mut es: Value = serde_json::from_str(ES256).unwrap();
        es.as_object_mut().unwrap().remove("kid");
        let key = SigningKey::from_jwk_json(&es.to_string()).unwrap();
        assert_eq!(key.kid().len(), 43, "base64url SHA-256");
    }

    #[test]
    fn jwks_publishes_current_then_previous_without_private_parts() {
        let set = KeySet {
            current: SigningKey::from_jwk_json(ES256).unwrap(),
            previous: Some(SigningKey::from_jwk_json(ED25519).unwrap()),
        };
        let jwks = set.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], set.current.kid());
        assert_eq!(keys[0]["use"], "sig");
        assert_eq!(keys[1]["alg"], "EdDSA");
        for k in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(k.get(private).is_none(), "{private} leaked");
            }
        }
    }
}
