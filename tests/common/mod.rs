//! Test support shared by the native unit tests, the integration tests and the wasm tests:
//! fixed test keys (tests/keys) and a signer that writes any header and claims, including the
//! malformed ones attack tests need.
#![allow(dead_code, unreachable_pub, missing_docs)]

use base64ct::{Base64UrlUnpadded, Encoding};
use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPrivateKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::{json, Value};

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "api://edge";
/// A fixed "now" for table tests: 2026-11-26T00:00:00Z.
pub const NOW: i64 = 1_795_651_200;

enum Signer {
    Es(p256::ecdsa::SigningKey),
    Rsa(Box<RsaPrivateKey>),
    Ed(ed25519_compact::SecretKey),
}

/// A private test key and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: &'static str,
    signer: Signer,
    pub public_jwk: Value,
}

fn private_jwk(name: &str) -> &'static str {
    match name {
        "es256" => include_str!("../keys/test-es256.private.jwk.json"),
        "rs256" => include_str!("../keys/test-rs256.private.jwk.json"),
        "ed25519" => include_str!("../keys/test-ed25519.private.jwk.json"),
        "rs1024" => include_str!("../keys/test-rs1024-weak.private.jwk.json"),
        other => panic!("no test key {other}"),
    }
}

/// Loads a test key: `es256`, `rs256`, `ed25519` or `rs1024` (too weak; must be refused).
pub fn key(name: &str) -> TestKey {
    let text = private_jwk(name);
    let full: Value = serde_json::from_str(text).expect("test key json");
    let jwk: JsonWebKey<'_> = serde_json::from_str(text).expect("test jwk");
    let (alg, signer) = match name {
        "es256" => (
            "ES256",
            Signer::Es(p256::ecdsa::SigningKey::try_from(&jwk).expect("p256 key")),
        ),
        "rs256" | "rs1024" => (
            "RS256",
            Signer::Rsa(Box::new(RsaPrivateKey::try_from(&jwk).expect("rsa key"))),
        ),
        "ed25519" => (
            "EdDSA",
            Signer::Ed(ed25519_compact::SecretKey::try_from(&jwk).expect("ed key")),
        ),
        other => panic!("no test key {other}"),
    };
    let mut public_jwk = full.clone();
    let obj = public_jwk.as_object_mut().expect("object");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        obj.remove(private);
    }
    obj.insert("use".into(), json!("sig"));
    TestKey {
        kid: full["kid"].as_str().unwrap_or_default().to_owned(),
        alg,
        signer,
        public_jwk,
    }
}

/// `{"keys": [...]}` of the public keys.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>() }).to_string()
}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

impl TestKey {
    /// Signs `header.payload` (both given as raw strings, used as they are) with this key.
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        let signed = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = self.signature(signed.as_bytes());
        format!("{signed}.{}", b64(&sig))
    }

    /// The signature bytes over `data`, in JWS form.
    pub fn signature(&self, data: &[u8]) -> Vec<u8> {
        match &self.signer {
            Signer::Es(k) => Es256.sign(k, data).as_bytes().into_owned(),
            Signer::Rsa(k) => Rsa::rs256().sign(k.as_ref(), data).as_bytes().into_owned(),
            Signer::Ed(k) => Ed25519.sign(k, data).as_bytes().into_owned(),
        }
    }

    /// A standard header for this key: `{alg, typ: at+jwt, kid}`.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg, "typ": "at+jwt", "kid": self.kid})
    }

    /// Signs the JSON header and claims.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&header.to_string(), &claims.to_string())
    }

    /// A valid token at `now` with `extra` claims merged over the defaults.
    pub fn token(&self, now: i64, extra: Value) -> String {
        let mut claims = claims(now);
        if let (Some(base), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if v.is_null() {
                    base.remove(k);
                } else {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        self.sign(&self.header(), &claims)
    }
}

/// Default valid claims at `now` (one hour lifetime).
pub fn claims(now: i64) -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-123",
        "aud": AUDIENCE,
        "exp": now + 3600,
        "iat": now,
        "jti": "jti-1",
        "client_id": "client-1",
        "sid": "sess-1",
        "roles": ["reader", "writer"],
        "scope": "openid profile"
    })
}
