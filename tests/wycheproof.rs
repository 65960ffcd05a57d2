//! Wycheproof vectors through the edge's own verification path, natively:
//! `keys::key_from_jwk` (the JWKS import) and `VerifyKey::verify_pure` for the primitive
//! files, and `token::inspect` → `select_key` → `verify_pure` for the JWS file.
//!
//! `cargo test -p edge-session --test wycheproof -- --nocapture` prints the counts per file.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/wycheproof.rs"]
mod wycheproof;

use edge_session::keys::key_from_jwk;
use wycheproof::{Outcome, SigFile, Tally, ALL_ALGS};

fn verify_pure(jwk: &serde_json::Value, msg: &[u8], sig: &[u8]) -> Outcome {
    match key_from_jwk(jwk, ALL_ALGS) {
        Ok(key) if key.verify_pure(msg, sig) => Outcome::Accepted,
        Ok(_) => Outcome::Rejected,
        Err(_) => Outcome::KeyRefused,
    }
}

fn check(file: SigFile) -> Tally {
    let tally = wycheproof::run_sig_file(&file, verify_pure);
    println!("{tally}");
    assert!(tally.mismatches.is_empty(), "{tally}");
    tally
}

#[test]
fn ecdsa_p256_p1363() {
    let t = check(wycheproof::ecdsa_p256());
    assert!(t.valid_accepted > 0 && t.invalid_rejected > 0);
}

#[test]
fn ed25519() {
    let t = check(wycheproof::ed25519());
    assert!(t.valid_accepted > 0 && t.invalid_rejected > 0);
}

#[test]
fn rsa_pkcs1_2048_sha256() {
    let t = check(wycheproof::rsa_2048_sha256());
    assert!(t.valid_accepted > 0 && t.invalid_rejected > 0);
    // The one "acceptable" vector (tcId 8, DigestInfo without the NULL parameter) is refused:
    // RFC 8017 §9.2 encodes the NULL, and nothing the edge verifies omits it.
    assert!(t
        .acceptable
        .iter()
        .all(|(_, _, got)| *got != Outcome::Accepted));
}

#[test]
fn json_web_signature() {
    let (prepared, mut tally) = wycheproof::prepare_jws();
    for p in prepared {
        let got = match p.step {
            wycheproof::JwsStep::Decided(o) => o,
            wycheproof::JwsStep::Check { key, signed, sig } => {
                if key.verify_pure(&signed, &sig) {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                }
            }
        };
        tally.record(p.tc_id, &p.what, p.expect, got);
    }
    println!("{tally}");
    assert!(tally.mismatches.is_empty(), "{tally}");
    assert!(tally.valid_accepted >= 4, "{tally}");
}
