use super::*;
use jwt_compact::{AlgorithmExt, Claims, UntrustedToken};
use std::collections::BTreeMap;

pub(crate) const ES256: &str = include_str!("../../../tests/keys/test-es256.private.jwk.json");
const RS256: &str = include_str!("../../../tests/keys/test-rs256.private.jwk.json");
const ED25519: &str = include_str!("../../../tests/keys/test-ed25519.private.jwk.json");
const RS1024: &str = include_str!("../../../tests/keys/test-rs1024-weak.private.jwk.json");

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
