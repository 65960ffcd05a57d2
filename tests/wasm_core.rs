//! The core in a real browser engine (headless Chromium via wasm-pack test): verification with
//! each algorithm, the verified-token cache, and the JS-backed randomness.
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use serde_json::json;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

use edge_session::keys::{Alg, KeySet};
use edge_session::token::{verify, Policy, TokenError, TypRule};
use edge_session::token_cache::{key_of, TokenCache};

mod common;
use common::{key, ISSUER, NOW};

wasm_bindgen_test_configure!(run_in_browser);

fn policy() -> Policy {
    Policy {
        issuer: ISSUER.into(),
        audiences: vec![common::AUDIENCE.into()],
        typ: TypRule::OneOf(vec!["at+jwt".into()]),
        leeway_secs: 30,
    }
}

fn keyset() -> KeySet {
    let (es, rs, ed) = (key("es256"), key("rs256"), key("ed25519"));
    KeySet::from_jwks_json(
        common::jwks(&[&es, &rs, &ed]).as_bytes(),
        &[Alg::Es256, Alg::Rs256, Alg::Ed25519],
    )
    .expect("keyset")
}

#[wasm_bindgen_test]
fn each_algorithm_verifies_and_rejects_tampering() {
    let keys = keyset();
    for name in ["es256", "rs256", "ed25519"] {
        let k = key(name);
        let token = k.token(NOW, json!({}));
        let claims = verify(&token, &keys, &policy(), NOW).expect(name);
        assert_eq!(claims.sub, "user-123");
        let (signed, sig) = token.rsplit_once('.').expect("parts");
        let mut bytes = sig.as_bytes().to_vec();
        let mid = bytes.len() / 2;
        bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
        let bad = format!("{signed}.{}", String::from_utf8_lossy(&bytes));
        assert_eq!(
            verify(&bad, &keys, &policy(), NOW).map(|_| ()),
            Err(TokenError::BadSignature),
            "{name}"
        );
    }
}

#[wasm_bindgen_test]
fn time_rules_hold_in_wasm() {
    let keys = keyset();
    let k = key("es256");
    let expired = k.token(NOW, json!({"exp": NOW - 31}));
    assert_eq!(
        verify(&expired, &keys, &policy(), NOW).map_err(|e| e.reason()),
        Err("expired")
    );
}

#[wasm_bindgen_test]
fn verified_token_cache_in_wasm() {
    let keys = keyset();
    let k = key("ed25519");
    let token = k.token(NOW, json!({}));
    let claims = Arc::new(verify(&token, &keys, &policy(), NOW).expect("valid"));
    let mut cache = TokenCache::new(16, 1 << 20, 60);
    cache.insert(key_of(&token), claims, NOW);
    assert!(cache.get(&key_of(&token), NOW + 59).is_some());
    assert!(cache.get(&key_of(&token), NOW + 60).is_none());
}

#[wasm_bindgen_test]
fn randomness_comes_from_the_js_crypto() {
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    getrandom::fill(&mut a).expect("getrandom");
    getrandom::fill(&mut b).expect("getrandom");
    assert_ne!(a, b);
    assert_ne!(a, [0u8; 32]);
}
