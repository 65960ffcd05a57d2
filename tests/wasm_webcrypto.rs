//! Differential test: the WebCrypto signature check (`edge_session::webcrypto`) and the pure-Rust
//! reference (`VerifyKey::verify_pure`) must give the same answer for every vector: valid
//! signatures per algorithm, tampered signatures and messages, wrong lengths, out-of-range
//! values, high-S ECDSA, non-canonical Ed25519 `S`, PSS with another salt length, signatures by
//! another key, and a key rotated under the same `kid`. Runs in headless Chromium (without the
//! Workers entry point, whose glue a browser cannot load), and prints the counts:
//!
//! `wasm-pack test --headless --chrome . --no-default-features --test wasm_webcrypto -- --nocapture`
#![cfg(target_arch = "wasm32")]

use serde_json::{json, Value};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

use edge_session::keys::{key_from_jwk, Alg, VerifyKey};
use edge_session::token::{self, Policy, TypRule};
use edge_session::webcrypto;

mod common;
use common::{b64, key, TestKey, AUDIENCE, ISSUER, NOW};

wasm_bindgen_test_configure!(run_in_browser);

const ALL: &[Alg] = &[Alg::Es256, Alg::Rs256, Alg::Ps256, Alg::Ed25519];

/// One vector: a key, the signed bytes, a signature, and what a correct verifier answers
/// (`None` where the answer is a property of the algorithm, e.g. high-S ECDSA: then only the
/// agreement of both paths is asserted).
struct Vector {
    label: String,
    key: VerifyKey,
    data: Vec<u8>,
    sig: Vec<u8>,
    expect: Option<bool>,
}

fn vkey(jwk: &Value) -> VerifyKey {
    key_from_jwk(jwk, ALL).expect("usable test key")
}

fn policy() -> Policy {
    Policy {
        issuer: ISSUER.into(),
        audiences: vec![AUDIENCE.into()],
        typ: TypRule::OneOf(vec!["at+jwt".into()]),
        leeway_secs: 30,
    }
}

/// `(signed data, signature)` of a token.
fn split(token: &str) -> (Vec<u8>, Vec<u8>) {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let (data, sig) = token.rsplit_once('.').expect("three parts");
    (
        data.as_bytes().to_vec(),
        Base64UrlUnpadded::decode_vec(sig).expect("b64"),
    )
}

/// Another key of each kind, public only (RFC 7515 A.2 / A.3, RFC 8037 A.2).
fn other_public(alg: &str) -> Value {
    match alg {
        "es256" => json!({"kty":"EC","crv":"P-256","kid":"other-ec",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
        "rs256" => json!({"kty":"RSA","kid":"other-rsa","e":"AQAB",
            "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}),
        "ed25519" => json!({"kty":"OKP","crv":"Ed25519","kid":"other-ed",
            "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
        other => panic!("no other key for {other}"),
    }
}

/// A signature by a second private key of the same kind (ES256 and Ed25519; for RSA the
/// "other key" vectors verify with [`other_public`] instead).
fn other_signature(alg: &str, data: &[u8]) -> Option<Vec<u8>> {
    match alg {
        "es256" => {
            use p256::ecdsa::signature::Signer;
            let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("scalar");
            let sig: p256::ecdsa::Signature = sk.sign(data);
            Some(sig.to_bytes().to_vec())
        }
        "ed25519" => {
            let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([9u8; 32]));
            Some(kp.sk.sign(data, None).to_vec())
        }
        _ => None,
    }
}

fn flip(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[i] ^= 0x01;
    out
}

/// ECDSA `(r, n - s)`: the other valid-looking signature for the same `r`.
fn negate_s(sig: &[u8]) -> Vec<u8> {
    let sig = p256::ecdsa::Signature::from_slice(sig).expect("p256 sig");
    let (r, s) = sig.split_scalars();
    p256::ecdsa::Signature::from_scalars(r, -s)
        .expect("scalars")
        .to_bytes()
        .to_vec()
}

/// Ed25519 with `S + L` (non-canonical scalar, RFC 8032 §5.1.7 says reject).
fn ed25519_s_plus_l(sig: &[u8]) -> Vec<u8> {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut out = sig.to_vec();
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(out[32 + i]) + u16::from(L[i]) + carry;
        out[32 + i] = v as u8;
        carry = v >> 8;
    }
    out
}

fn rsa_private() -> jwt_compact::alg::RsaPrivateKey {
    let jwk: jwt_compact::jwk::JsonWebKey<'_> =
        serde_json::from_str(include_str!("keys/test-rs256.private.jwk.json")).expect("jwk");
    jwt_compact::alg::RsaPrivateKey::try_from(&jwk).expect("rsa key")
}

/// RSA-PSS SHA-256 with the given salt length (PS256 requires 32).
fn pss_sign(private: &jwt_compact::alg::RsaPrivateKey, data: &[u8], salt: usize) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let hashed = Sha256::digest(data);
    private
        .sign_with_rng(
            &mut rsa::rand_core::OsRng,
            rsa::Pss::new_with_salt::<Sha256>(salt),
            &hashed,
        )
        .expect("pss sign")
}

/// Signatures of the wrong shape for one valid `(data, sig)`: wrong lengths, constant bytes,
/// and per algorithm the out-of-range values (high-S and zero scalars for ES256, `S + L` for
/// Ed25519).
/// How the vector builders add one vector: label, key, signed data, signature, expectation.
type Push<'a> = dyn FnMut(String, &VerifyKey, &[u8], &[u8], Option<bool>) + 'a;

fn shape_vectors(name: &str, key: &VerifyKey, data: &[u8], sig: &[u8], push: &mut Push<'_>) {
    let n = sig.len();
    let mut longer = sig.to_vec();
    longer.push(0);
    let doubled = [sig.to_vec(), sig.to_vec()].concat();
    for (what, bad) in [
        ("empty signature", Vec::new()),
        ("one byte short", sig[..n - 1].to_vec()),
        ("one byte long", longer),
        ("leading zero added", [&[0u8][..], sig].concat()),
        ("twice the length", doubled),
        ("all zero", vec![0u8; n]),
        ("all 0xff", vec![0xffu8; n]),
    ] {
        push(what.to_owned(), key, data, &bad, Some(false));
    }
    match name {
        "es256" => {
            let high = negate_s(sig);
            // One of (r, s) and (r, n - s) is high-S; the test signer emits low-S.
            push("high-S (r, n - s)".into(), key, data, &high, None);
            push(
                "high-S of a tampered message".into(),
                key,
                &flip(data, 3),
                &high,
                Some(false),
            );
            let mut r_zero = sig.to_vec();
            r_zero[..32].fill(0);
            push("r = 0".into(), key, data, &r_zero, Some(false));
            let mut s_zero = sig.to_vec();
            s_zero[32..].fill(0);
            push("s = 0".into(), key, data, &s_zero, Some(false));
        }
        "ed25519" => {
            push(
                "S + L (non-canonical)".into(),
                key,
                data,
                &ed25519_s_plus_l(sig),
                Some(false),
            );
        }
        _ => {}
    }
}

fn vectors_for(name: &str, signer: &TestKey, out: &mut Vec<Vector>) {
    let key = vkey(&signer.public_jwk);
    let other = vkey(&other_public(name));
    let mut push = |label: String, key: &VerifyKey, data: &[u8], sig: &[u8], expect| {
        out.push(Vector {
            label: format!("{name}: {label}"),
            key: key.clone(),
            data: data.to_vec(),
            sig: sig.to_vec(),
            expect,
        })
    };
    for i in 0..4 {
        let token = signer.token(
            NOW,
            json!({ "jti": format!("jti-{i}"), "sub": format!("u{i}") }),
        );
        let (data, sig) = split(&token);
        push(format!("valid #{i}"), &key, &data, &sig, Some(true));
        for pos in [0, sig.len() / 2, sig.len() - 1] {
            push(
                format!("signature byte {pos} flipped #{i}"),
                &key,
                &data,
                &flip(&sig, pos),
                Some(false),
            );
        }
        push(
            format!("message byte flipped #{i}"),
            &key,
            &flip(&data, data.len() / 2),
            &sig,
            Some(false),
        );
        push(
            format!("signature verified with another key #{i}"),
            &other,
            &data,
            &sig,
            Some(false),
        );
        if let Some(foreign) = other_signature(name, &data) {
            push(
                format!("signature by another key #{i}"),
                &key,
                &data,
                &foreign,
                Some(false),
            );
        }
        if i == 0 {
            shape_vectors(name, &key, &data, &sig, &mut push);
        }
    }
}

fn rsa_pss_vectors(out: &mut Vec<Vector>) {
    let signer = key("rs256");
    let private = rsa_private();
    let mut pss_jwk = signer.public_jwk.clone();
    pss_jwk["alg"] = json!("PS256");
    pss_jwk["kid"] = json!("test-ps256");
    let pss = vkey(&pss_jwk);
    let rs = vkey(&signer.public_jwk);
    let mut header = signer.header();
    header["alg"] = json!("PS256");
    header["kid"] = json!("test-ps256");
    let claims = common::claims(NOW).to_string();
    let data = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.as_bytes())
    );
    let data = data.as_bytes();
    let good = pss_sign(&private, data, 32);
    let pkcs1 = signer.signature(data);
    for (label, key, sig, expect) in [
        ("ps256: valid (salt 32)", &pss, good.clone(), Some(true)),
        (
            "ps256: salt length 0",
            &pss,
            pss_sign(&private, data, 0),
            None,
        ),
        (
            "ps256: salt length 64",
            &pss,
            pss_sign(&private, data, 64),
            None,
        ),
        ("ps256: byte flipped", &pss, flip(&good, 100), Some(false)),
        (
            "ps256: PKCS#1 v1.5 signature",
            &pss,
            pkcs1.clone(),
            Some(false),
        ),
        ("rs256: PSS signature", &rs, good, Some(false)),
        ("rs256: valid (same modulus)", &rs, pkcs1, Some(true)),
    ] {
        out.push(Vector {
            label: label.into(),
            key: key.clone(),
            data: data.to_vec(),
            sig,
            expect,
        });
    }
}

fn all_vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for name in ["es256", "rs256", "ed25519"] {
        vectors_for(name, &key(name), &mut out);
    }
    rsa_pss_vectors(&mut out);
    out
}

#[wasm_bindgen_test]
async fn webcrypto_and_pure_rust_decide_alike() {
    let vectors = all_vectors();
    let (mut accepted, mut rejected, mut unpinned) = (0, 0, Vec::new());
    let mut mismatches = Vec::new();
    for v in &vectors {
        let pure = v.key.verify_pure(&v.data, &v.sig);
        let web = webcrypto::verify(&v.key, &v.data, &v.sig).await;
        if web != Ok(pure) {
            mismatches.push(format!("{}: pure {pure}, webcrypto {web:?}", v.label));
        }
        if let Some(expect) = v.expect {
            assert_eq!(pure, expect, "{}: pure-Rust answer", v.label);
        } else {
            unpinned.push(format!("{} → {pure}", v.label));
        }
        if pure {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    console_log!(
        "differential: {} vectors, {accepted} accepted and {rejected} rejected by both paths, {} mismatches; answers not pinned by the test: {unpinned:?}",
        vectors.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert!(accepted >= 13 && rejected >= 60, "{accepted} / {rejected}");
}

/// The whole token path with the WebCrypto proof gives the claims `token::verify` gives.
#[wasm_bindgen_test]
async fn full_token_path_matches_the_pure_verifier() {
    for name in ["es256", "rs256", "ed25519"] {
        let signer = key(name);
        let keys = edge_session::keys::KeySet::from_keys(vec![vkey(&signer.public_jwk)]);
        let token = signer.token(NOW, json!({}));
        let inspected = token::inspect(&token, &policy()).expect("inspect");
        let k = inspected.select_key(&keys).expect("key");
        let web = webcrypto::verify(k, inspected.signed_data(), inspected.signature()).await;
        assert_eq!(web, Ok(true), "{name}");
        let pure = token::verify(&token, &keys, &policy(), NOW).expect("pure verify");
        assert_eq!(pure.sub, "user-123");
    }
}

/// A key rotated under the same `kid` is imported anew: the old signature no longer verifies.
#[wasm_bindgen_test]
async fn rotated_key_with_the_same_kid_is_reimported() {
    let signer = key("es256");
    let original = vkey(&signer.public_jwk);
    let token = signer.token(NOW, json!({}));
    let (data, sig) = split(&token);
    assert_eq!(webcrypto::verify(&original, &data, &sig).await, Ok(true));
    let mut rotated_jwk = other_public("es256");
    rotated_jwk["kid"] = json!(signer.kid);
    let rotated = vkey(&rotated_jwk);
    assert_eq!(rotated.kid, original.kid);
    assert_ne!(
        webcrypto::fingerprint(&rotated.public_jwk),
        webcrypto::fingerprint(&original.public_jwk)
    );
    assert_eq!(webcrypto::verify(&rotated, &data, &sig).await, Ok(false));
    assert!(!rotated.verify_pure(&data, &sig));
    // And back: the original key verifies again.
    assert_eq!(webcrypto::verify(&original, &data, &sig).await, Ok(true));
}
