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
