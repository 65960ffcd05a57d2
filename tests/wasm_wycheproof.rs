//! Wycheproof vectors in a real browser engine (headless Chromium), through both signature
//! paths the edge has: the runtime's WebCrypto (`edge_session::webcrypto::verify`) and the
//! pure-Rust reference (`VerifyKey::verify_pure`) compiled to wasm32. Keys go through
//! `keys::key_from_jwk`, JWS vectors through `token::inspect` and `select_key`, exactly as in
//! tests/wycheproof.rs; the vector files and the bookkeeping are shared
//! (tests/common/wycheproof.rs).
//!
//! `wasm-pack test --headless --chrome -- --test wasm_wycheproof` (counts go to the console).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

use edge_session::keys::{key_from_jwk, VerifyKey};
use edge_session::webcrypto;

#[path = "common/wycheproof.rs"]
mod wycheproof;
use wycheproof::{Outcome, SigFile, Tally, ALL_ALGS};

wasm_bindgen_test_configure!(run_in_browser);

#[derive(Clone, Copy, Debug)]
enum Path {
    WebCrypto,
    Pure,
}

async fn check_sig(path: Path, key: &VerifyKey, msg: &[u8], sig: &[u8]) -> Outcome {
    let ok = match path {
        Path::Pure => key.verify_pure(msg, sig),
        // WebCrypto refusing to import a key the core accepted counts as a refusal; the
        // edge would then fall back to the pure path, which the Pure run covers.
        Path::WebCrypto => match webcrypto::verify(key, msg, sig).await {
            Ok(valid) => valid,
            Err(_) => return Outcome::KeyRefused,
        },
    };
    if ok {
        Outcome::Accepted
    } else {
        Outcome::Rejected
    }
}

async fn run_file(path: Path, file: &SigFile) -> Tally {
    let mut tally = Tally::new(file.label);
    for group in &file.groups {
        let key = key_from_jwk(&group.jwk, ALL_ALGS);
        for case in &group.cases {
            let got = match &key {
                Ok(k) => check_sig(path, k, &case.msg, &case.sig).await,
                Err(_) => Outcome::KeyRefused,
            };
            tally.record(case.tc_id, &case.comment, case.expect, got);
        }
    }
    tally
}

async fn sig_file(file: SigFile) {
    for path in [Path::WebCrypto, Path::Pure] {
        let tally = run_file(path, &file).await;
        console_log!("{path:?}: {tally}");
        assert!(tally.mismatches.is_empty(), "{path:?}: {tally}");
        assert!(tally.valid_accepted > 0, "{path:?}: {tally}");
    }
}

#[wasm_bindgen_test]
async fn ecdsa_p256_p1363() {
    sig_file(wycheproof::ecdsa_p256()).await;
}

#[wasm_bindgen_test]
async fn ed25519() {
    sig_file(wycheproof::ed25519()).await;
}

#[wasm_bindgen_test]
async fn rsa_pkcs1_2048_sha256() {
    sig_file(wycheproof::rsa_2048_sha256()).await;
}

#[wasm_bindgen_test]
async fn json_web_signature() {
    for path in [Path::WebCrypto, Path::Pure] {
        let (prepared, mut tally) = wycheproof::prepare_jws();
        for p in prepared {
            let got = match &p.step {
                wycheproof::JwsStep::Decided(o) => *o,
                wycheproof::JwsStep::Check { key, signed, sig } => {
                    check_sig(path, key, signed, sig).await
                }
            };
            tally.record(p.tc_id, &p.what, p.expect, got);
        }
        console_log!("{path:?}: {tally}");
        assert!(tally.mismatches.is_empty(), "{path:?}: {tally}");
    }
}
