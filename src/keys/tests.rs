use super::*;
use serde_json::json;

const ALL: &[Alg] = &[Alg::Es256, Alg::Rs256, Alg::Ps256, Alg::Ed25519];

fn ec_jwk() -> serde_json::Value {
    // RFC 7515 Appendix A.3 public key.
    json!({"kty":"EC","crv":"P-256","kid":"ec1",
        "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
}

fn ed_jwk() -> serde_json::Value {
    // RFC 8037 Appendix A.2 public key.
    json!({"kty":"OKP","crv":"Ed25519","kid":"ed1",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
}

#[test]
fn algorithm_comes_from_the_key() {
    assert_eq!(key_from_jwk(&ec_jwk(), ALL).map(|k| k.alg), Ok(Alg::Es256));
    assert_eq!(
        key_from_jwk(&ed_jwk(), ALL).map(|k| k.alg),
        Ok(Alg::Ed25519)
    );
}

#[test]
fn allow_list_filters_keys() {
    assert_eq!(
        key_from_jwk(&ec_jwk(), &[Alg::Rs256]).map(|k| k.alg),
        Err(KeyError::NotAllowed(Alg::Es256))
    );
}

#[test]
fn symmetric_and_private_and_encryption_keys_are_refused() {
    let oct = json!({"kty":"oct","k":"c2VjcmV0"});
    assert!(matches!(
        key_from_jwk(&oct, ALL),
        Err(KeyError::Unsupported(_))
    ));
    let mut private = ec_jwk();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    assert_eq!(
        key_from_jwk(&private, ALL).map(|k| k.alg),
        Err(KeyError::PrivateMaterial)
    );
    let mut enc = ec_jwk();
    enc["use"] = json!("enc");
    assert_eq!(
        key_from_jwk(&enc, ALL).map(|k| k.alg),
        Err(KeyError::NotForSignatures)
    );
}

#[test]
fn mismatched_jwk_alg_is_refused() {
    let mut ec = ec_jwk();
    ec["alg"] = json!("HS256");
    assert!(matches!(
        key_from_jwk(&ec, ALL),
        Err(KeyError::Unsupported(_))
    ));
    let mut ed = ed_jwk();
    ed["crv"] = json!("X25519");
    assert!(matches!(
        key_from_jwk(&ed, ALL),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn jwks_keeps_usable_keys_and_counts_skipped() {
    let doc = json!({"keys":[ec_jwk(), ed_jwk(), {"kty":"oct","k":"AAAA"}]}).to_string();
    let set = KeySet::from_jwks_json(doc.as_bytes(), ALL).expect("usable");
    assert_eq!(set.keys().len(), 2);
    assert_eq!(set.skipped(), 1);
    assert_eq!(set.by_kid("ed1").map(|k| k.alg), Some(Alg::Ed25519));
    assert!(set.by_kid("nope").is_none());
}

#[test]
fn jwks_errors() {
    assert!(matches!(
        KeySet::from_jwks_json(b"not json", ALL),
        Err(KeySetError::Malformed(_))
    ));
    let none = json!({"keys":[{"kty":"oct","k":"AAAA"}]}).to_string();
    assert_eq!(
        KeySet::from_jwks_json(none.as_bytes(), ALL).map(|s| s.keys().len()),
        Err(KeySetError::NoUsableKeys { skipped: 1 })
    );
    let many = json!({ "keys": vec![ec_jwk(); MAX_KEYS + 1] }).to_string();
    assert_eq!(
        KeySet::from_jwks_json(many.as_bytes(), ALL).map(|s| s.keys().len()),
        Err(KeySetError::TooManyKeys(MAX_KEYS + 1))
    );
}

#[test]
fn header_alg_matching_is_exact() {
    assert!(Alg::Ed25519.matches_header("EdDSA"));
    assert!(Alg::Ed25519.matches_header("Ed25519"));
    assert!(!Alg::Es256.matches_header("es256"));
    assert!(!Alg::Rs256.matches_header("PS256"));
}

#[test]
fn config_names_and_canonical_names() {
    let rows: &[(&str, Option<Alg>)] = &[
        ("ES256", Some(Alg::Es256)),
        ("RS256", Some(Alg::Rs256)),
        ("PS256", Some(Alg::Ps256)),
        ("EdDSA", Some(Alg::Ed25519)),
        ("Ed25519", Some(Alg::Ed25519)),
        ("es256", None),
        ("HS256", None),
        ("none", None),
        ("", None),
    ];
    for (name, want) in rows {
        assert_eq!(Alg::from_config_name(name), *want, "{name:?}");
    }
    for (alg, name) in [
        (Alg::Es256, "ES256"),
        (Alg::Rs256, "RS256"),
        (Alg::Ps256, "PS256"),
        (Alg::Ed25519, "EdDSA"),
    ] {
        assert_eq!(alg.name(), name);
        assert_eq!(alg.to_string(), name);
        // Each algorithm answers to its own name and to no other's.
        for other in ["ES256", "RS256", "PS256"] {
            assert_eq!(alg.matches_header(other), other == name, "{alg:?} {other}");
        }
    }
}

#[test]
fn debug_and_display_say_what_without_key_bytes() {
    let ec = key_from_jwk(&ec_jwk(), ALL).expect("ec");
    let ed = key_from_jwk(&ed_jwk(), ALL).expect("ed");
    assert_eq!(format!("{:?}", ec.material), "P256(..)");
    assert_eq!(format!("{:?}", ed.material), "Ed25519(..)");
    assert_eq!(format!("{:?}", rsa_key(2048).material), "Rsa(..)");
    let rows = [
        (KeySetError::Malformed("eof".into()), "malformed JWKS: eof"),
        (
            KeySetError::TooManyKeys(40),
            "JWKS has 40 keys (at most 32)",
        ),
        (
            KeySetError::NoUsableKeys { skipped: 3 },
            "JWKS has no usable key (3 skipped)",
        ),
    ];
    for (e, text) in rows {
        assert_eq!(e.to_string(), text);
    }
}

/// The public part of a test RSA key of `bits` bits (tests/keys).
fn rsa_public(bits: usize) -> serde_json::Value {
    let text = match bits {
        2048 => include_str!("../../tests/keys/test-rs256.private.jwk.json"),
        1024 => include_str!("../../tests/keys/test-rs1024-weak.private.jwk.json"),
        _ => panic!("no test key of {bits} bits"),
    };
    let full: serde_json::Value = serde_json::from_str(text).expect("jwk");
    json!({"kty": "RSA", "kid": format!("rsa{bits}"), "n": full["n"], "e": full["e"]})
}

fn rsa_key(bits: usize) -> VerifyKey {
    key_from_jwk(&rsa_public(bits), ALL).expect("rsa")
}

#[test]
fn rsa_moduli_under_2048_bits_are_refused() {
    assert_eq!(rsa_key(2048).alg, Alg::Rs256);
    assert_eq!(rsa_key(2048).signature_len(), 256);
    assert_eq!(
        key_from_jwk(&rsa_public(1024), ALL).map(|k| k.alg),
        Err(KeyError::WeakRsa(1024))
    );
}

#[test]
fn key_ops_must_allow_verify() {
    let rows: &[(serde_json::Value, bool)] = &[
        (json!(["verify"]), true),
        (json!(["sign", "verify"]), true),
        (json!(["sign"]), false),
        (json!(["encrypt"]), false),
        (json!([]), false),
    ];
    for (ops, usable) in rows {
        let mut jwk = ec_jwk();
        jwk["key_ops"] = ops.clone();
        let got = key_from_jwk(&jwk, ALL).map(|k| k.alg);
        let want = if *usable {
            Ok(Alg::Es256)
        } else {
            Err(KeyError::NotForSignatures)
        };
        assert_eq!(got, want, "key_ops {ops}");
    }
}

#[test]
fn kid_and_key_count_bounds() {
    for (len, ok) in [(MAX_KID_LEN, true), (MAX_KID_LEN + 1, false)] {
        let mut jwk = ec_jwk();
        jwk["kid"] = json!("k".repeat(len));
        let got = key_from_jwk(&jwk, ALL).map(|k| k.kid.map(|k| k.len()));
        let want = if ok {
            Ok(Some(len))
        } else {
            Err(KeyError::KidTooLong)
        };
        assert_eq!(got, want, "kid of {len} bytes");
    }
    let full = json!({ "keys": vec![ec_jwk(); MAX_KEYS] }).to_string();
    assert_eq!(
        KeySet::from_jwks_json(full.as_bytes(), ALL).map(|s| (s.keys().len(), s.skipped())),
        Ok((MAX_KEYS, 0))
    );
}

#[test]
fn a_set_from_keys_holds_them() {
    let set = KeySet::from_keys(vec![
        rsa_key(2048),
        key_from_jwk(&ed_jwk(), ALL).expect("ed"),
    ]);
    assert_eq!(set.keys().len(), 2);
    assert_eq!(set.skipped(), 0);
    assert_eq!(set.by_kid("rsa2048").map(|k| k.alg), Some(Alg::Rs256));
    let doc = json!({"keys":[ec_jwk(), {"kty":"oct","k":"AAAA"}, {"kty":"EC","crv":"P-384"}]});
    let set = KeySet::from_jwks_json(doc.to_string().as_bytes(), ALL).expect("one usable");
    assert_eq!(set.skipped(), 2);
}
