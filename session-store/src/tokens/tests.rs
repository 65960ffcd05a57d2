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
        // The edge's route policies read these from the access token (RFC 9068 §2.2.1).
        assert_eq!(c["auth_time"], 1_767_225_600, "access token auth_time");
        assert_eq!(c["amr"], json!(["pwd", "otp"]), "access token amr");

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

/// `jwk` (JSON text) with `field` set to `value`, or removed when `value` is null.
fn with(jwk: &str, field: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(jwk).unwrap();
    let map = v.as_object_mut().unwrap();
    if value.is_null() {
        map.remove(field);
    } else {
        map.insert(field.into(), value);
    }
    v.to_string()
}

#[test]
fn a_jwk_alg_must_name_the_keys_own_algorithm() {
    // Ed25519 keys may say `EdDSA` (RFC 8037) or the curve name `Ed25519`; nothing else.
    let cases = [
        (ES256, json!("ES256"), Some("ES256")),
        (ES256, json!("RS256"), None),
        (ES256, json!("EdDSA"), None),
        (ES256, json!("Ed25519"), None),
        (ES256, json!("es256"), None),
        (RS256, json!("RS256"), Some("RS256")),
        (RS256, json!("PS256"), None),
        (RS256, json!("Ed25519"), None),
        (ED25519, json!("EdDSA"), Some("EdDSA")),
        (ED25519, json!("Ed25519"), Some("EdDSA")),
        (ED25519, json!("ES256"), None),
        (ED25519, json!("RS256"), None),
        (ED25519, json!("Ed448"), None),
        (ED25519, json!(7), None),
        (ED25519, Value::Null, Some("EdDSA")),
        (ES256, Value::Null, Some("ES256")),
    ];
    for (jwk, alg, want) in cases {
        let got = SigningKey::from_jwk_json(&with(jwk, "alg", alg.clone()));
        assert_eq!(got.as_ref().ok().map(SigningKey::alg), want, "{alg}");
        if want.is_none() {
            let e = got.unwrap_err().to_string();
            assert!(e.starts_with("bad signing key: `alg` must be "), "{e}");
        }
    }
}

#[test]
fn kid_is_a_non_empty_string_or_the_thumbprint() {
    let thumbprint = SigningKey::from_jwk_json(&with(ES256, "kid", Value::Null))
        .unwrap()
        .kid()
        .to_string();
    let cases = [
        (json!("k1"), Some("k1")),
        (Value::Null, Some(thumbprint.as_str())),
        (json!(""), None),
        (json!(5), None),
        (json!(["k1"]), None),
    ];
    for (kid, want) in cases {
        let got = SigningKey::from_jwk_json(&with(ES256, "kid", kid.clone()));
        assert_eq!(got.as_ref().ok().map(SigningKey::kid), want, "{kid}");
        if want.is_none() {
            assert_eq!(
                got.unwrap_err().to_string(),
                "bad signing key: `kid` must be a non-empty string"
            );
        }
    }
}

#[test]
fn key_errors_say_what_is_accepted() {
    let x25519 = with(ED25519, "crv", json!("X25519"));
    let cases = [
        (
            x25519.as_str(),
            "bad signing key: only EC P-256, RSA and OKP Ed25519 keys",
        ),
        (r#"{"kty":"oct","k":"AAAA"}"#, "bad signing key: "),
        (RS1024, "bad signing key: RSA keys need ≥ 2048 bits"),
        ("not json", "bad signing key: not a JSON object"),
    ];
    for (jwk, want) in cases {
        let e = SigningKey::from_jwk_json(jwk).unwrap_err().to_string();
        assert!(e.starts_with(want), "{e}");
    }
}

#[test]
fn debug_shows_kid_and_alg_never_the_private_key() {
    let d = |jwk: &str| {
        let v: Value = serde_json::from_str(jwk).unwrap();
        v["d"].as_str().unwrap().to_string()
    };
    for (jwk, alg) in [(ES256, "ES256"), (RS256, "RS256"), (ED25519, "EdDSA")] {
        let key = SigningKey::from_jwk_json(jwk).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.kid()) && shown.contains(alg), "{shown}");
        assert!(!shown.contains(&d(jwk)), "private key in {shown}");
        assert!(!shown.contains("material"), "{shown}");
    }
}

#[test]
fn access_and_id_tokens_expire_ttl_after_issue() {
    let key = SigningKey::from_jwk_json(ES256).unwrap();
    let (roles, amr) = (vec![], vec!["pwd".to_string()]);
    for (now, ttl) in [(1_767_225_601_999, 3600), (999, 60), (0, 86_400)] {
        let g = Grant {
            now,
            ttl_seconds: ttl,
            ..grant(&roles, &amr)
        };
        let iat = now / 1000;
        for token in [
            key.sign("at+jwt", &g.access_claims("j1")).unwrap(),
            key.sign("JWT", &g.id_claims("j2")).unwrap(),
        ] {
            let (_, c) = verify_with(&key, &token);
            assert_eq!(
                (c["iat"].clone(), c["exp"].clone()),
                (json!(iat), json!(iat + ttl))
            );
        }
    }
}

#[test]
fn no_token_outlives_its_session() {
    const NOW: Millis = 1_000_000;
    let rows: &[(i64, Millis, i64)] = &[
        // A session far from its end: the configured lifetime.
        (3600, NOW + 14 * 86_400_000, 3600),
        // Close to its end: what is left, rounded up to the second.
        (3600, NOW + 60_000, 60),
        (3600, NOW + 60_001, 61),
        (3600, NOW + 59_999, 60),
        (3600, NOW + 1, 1),
        // Exactly the configured lifetime left.
        (3600, NOW + 3_600_000, 3600),
        (3600, NOW + 3_600_001, 3600),
        // Never zero or negative (the rules issue only for live sessions).
        (3600, NOW, 1),
        (3600, NOW - 5_000, 1),
    ];
    for (ttl, expires, want) in rows {
        assert_eq!(
            access_ttl(*ttl, NOW, *expires),
            *want,
            "ttl {ttl} expires {expires}"
        );
    }
}
