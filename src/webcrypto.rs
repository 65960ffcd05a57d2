//! Signature checks through the runtime's WebCrypto (`crypto.subtle`), wasm32 only.
//!
//! Pure-Rust verification in wasm costs 0.3–1.7 ms per token; the runtime's native WebCrypto
//! does the same work in 45–80 µs (see the measurements in the README's benchmark section).
//! This module only answers "does this signature verify with this key": the key, its algorithm
//! and every other rule still come from the core ([`crate::token`], [`crate::keys`]), and the
//! answer enters the core through the same proof type as the pure-Rust check.
//!
//! Each key is imported once per isolate (`importKey("jwk", …)`) and the `CryptoKey` kept in a
//! `thread_local!`, keyed by `kid` and a fingerprint of the key material, so a key rotated under
//! the same `kid` is imported anew. The rules that decide before any crypto (signature length)
//! are the core's, shared with [`VerifyKey::verify_pure`]; a differential test
//! (`tests/wasm_webcrypto.rs`) holds both paths to the same answers.
//!
//! When WebCrypto is missing, or a key cannot be imported, [`verify`] says why and the caller
//! refuses the request as it does when the keys cannot be had (503): the worker links no
//! pure-Rust signature check (it would add 90 KB to the wasm for a case the Workers runtime
//! never has). [`note_unavailable`] logs each reason once per isolate.

use std::cell::RefCell;

use js_sys::{Object, Promise, JSON};
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto, WorkerGlobalScope};

use crate::assertion::SigningKey;
use crate::keys::{Alg, VerifyKey};

/// Most imported keys kept per isolate; the oldest import goes first. A JWKS holds at most
/// [`crate::keys::MAX_KEYS`]; twice that leaves room for a rotation.
const MAX_IMPORTED: usize = 2 * crate::keys::MAX_KEYS;

/// Why WebCrypto could not answer; the caller then refuses the request (503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No `crypto.subtle` in this runtime.
    NoSubtle,
    /// `importKey` refused the key (or the runtime lacks the algorithm).
    ImportFailed,
    /// `verify` threw instead of answering.
    VerifyFailed,
    /// `sign` threw, or answered something else than a signature.
    SignFailed,
}

impl Unavailable {
    /// A short, stable, secret-free reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NoSubtle => "webcrypto_unavailable",
            Self::ImportFailed => "webcrypto_import_failed",
            Self::VerifyFailed => "webcrypto_verify_failed",
            Self::SignFailed => "webcrypto_sign_failed",
        }
    }
}

/// SHA-256 over the fields that define a public key (`kty`, `crv`, `x`, `y`, `n`, `e`), each
/// length-prefixed. Two JWKs with the same fingerprint import to the same key.
pub fn fingerprint(jwk: &serde_json::Value) -> [u8; 32] {
    let mut h = Sha256::new();
    for field in MATERIAL_FIELDS {
        let v = jwk
            .get(field)
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        h.update((v.len() as u64).to_be_bytes());
        h.update(v.as_bytes());
    }
    h.finalize().into()
}

const MATERIAL_FIELDS: [&str; 6] = ["kty", "crv", "x", "y", "n", "e"];

/// An imported key, or the memory that it could not be imported.
enum Slot {
    Ready {
        key: CryptoKey,
        verify_params: Object,
    },
    Failed,
}

struct Imported {
    kid: Option<String>,
    fingerprint: [u8; 32],
    alg: Alg,
    slot: Slot,
}

thread_local! {
    static IMPORTED: RefCell<Vec<Imported>> = const { RefCell::new(Vec::new()) };
    static SUBTLE: RefCell<Option<Option<SubtleCrypto>>> = const { RefCell::new(None) };
    static LOGGED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    /// The assertion key, imported once per isolate (by `kid`: the configuration is read once
    /// per isolate, so the key does not change under it).
    static SIGNER: RefCell<Option<(String, CryptoKey)>> = const { RefCell::new(None) };
}

/// `crypto.subtle` of the global scope, looked up once per isolate. The global is cast
/// unchecked to `WorkerGlobalScope`: its getters are structural, so this also works in a
/// browser window (the wasm-bindgen tests run there).
fn subtle() -> Option<SubtleCrypto> {
    SUBTLE.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                let global = js_sys::global().unchecked_into::<WorkerGlobalScope>();
                let crypto = global.crypto().ok()?;
                let subtle = crypto.subtle();
                (!subtle.is_undefined() && !subtle.is_null()).then_some(subtle)
            })
            .clone()
    })
}

/// `importKey` and `verify` parameters per algorithm (WebCrypto names; RFC 7518 §3.3–3.5,
/// RFC 8037).
fn params(alg: Alg) -> (&'static str, &'static str) {
    match alg {
        Alg::Es256 => (
            r#"{"name":"ECDSA","namedCurve":"P-256"}"#,
            r#"{"name":"ECDSA","hash":"SHA-256"}"#,
        ),
        Alg::Rs256 => (
            r#"{"name":"RSASSA-PKCS1-v1_5","hash":"SHA-256"}"#,
            r#"{"name":"RSASSA-PKCS1-v1_5"}"#,
        ),
        Alg::Ps256 => (
            r#"{"name":"RSA-PSS","hash":"SHA-256"}"#,
            r#"{"name":"RSA-PSS","saltLength":32}"#,
        ),
        Alg::Ed25519 => (r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#),
    }
}

fn json_object(text: &str) -> Result<Object, JsValue> {
    JSON::parse(text).map(JsCast::unchecked_into)
}

/// The JWK reduced to its key material: `alg`, `use`, `key_ops` and `kid` were already checked
/// by [`crate::keys::key_from_jwk`], and leaving them out spares importKey's own (stricter,
/// runtime-dependent) checks of them.
fn material_jwk(jwk: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for field in MATERIAL_FIELDS {
        if let Some(v) = jwk.get(field) {
            out.insert(field.to_owned(), v.clone());
        }
    }
    serde_json::Value::Object(out)
}

async fn import(subtle: &SubtleCrypto, key: &VerifyKey) -> Result<(CryptoKey, Object), JsValue> {
    let (import_params, verify_params) = params(key.alg);
    let jwk = json_object(&material_jwk(&key.public_jwk).to_string())?;
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise =
        subtle.import_key_with_object("jwk", &jwk, &json_object(import_params)?, false, &usages)?;
    let crypto_key = JsFuture::from(promise).await?;
    Ok((crypto_key.unchecked_into(), json_object(verify_params)?))
}

/// The cached import for `key`: `Some(Ok(..))` ready, `Some(Err(()))` known to fail, `None`
/// not imported yet.
fn cached(key: &VerifyKey, fp: &[u8; 32]) -> Option<Result<(CryptoKey, Object), ()>> {
    IMPORTED.with(|cell| {
        cell.borrow()
            .iter()
            .find(|e| e.kid == key.kid && e.alg == key.alg && &e.fingerprint == fp)
            .map(|e| match &e.slot {
                Slot::Ready { key, verify_params } => Ok((key.clone(), verify_params.clone())),
                Slot::Failed => Err(()),
            })
    })
}

fn remember(key: &VerifyKey, fp: [u8; 32], slot: Slot) {
    IMPORTED.with(|cell| {
        let mut list = cell.borrow_mut();
        // A rotated key (same kid, other material) replaces the old import.
        list.retain(|e| e.kid != key.kid);
        if list.len() >= MAX_IMPORTED {
            list.remove(0);
        }
        list.push(Imported {
            kid: key.kid.clone(),
            fingerprint: fp,
            alg: key.alg,
            slot,
        });
    });
}

/// Checks `signature` over `signed_data` with `key` through WebCrypto.
///
/// `Ok(valid)` is WebCrypto's answer (after the core's length rule, which refuses without any
/// crypto exactly as the pure path does); `Err` means WebCrypto could not answer, and the
/// caller must not treat the token as verified. [`VerifyKey::verify_pure`] is the reference
/// the differential test holds this to.
pub async fn verify(
    key: &VerifyKey,
    signed_data: &[u8],
    signature: &[u8],
) -> Result<bool, Unavailable> {
    if signature.len() != key.signature_len() {
        return Ok(false);
    }
    let subtle = subtle().ok_or(Unavailable::NoSubtle)?;
    let fp = fingerprint(&key.public_jwk);
    let (crypto_key, verify_params) = match cached(key, &fp) {
        Some(Ok(ready)) => ready,
        Some(Err(())) => return Err(Unavailable::ImportFailed),
        None => match import(&subtle, key).await {
            Ok((k, verify_params)) => {
                let slot = Slot::Ready {
                    key: k.clone(),
                    verify_params: verify_params.clone(),
                };
                remember(key, fp, slot);
                (k, verify_params)
            }
            Err(_) => {
                remember(key, fp, Slot::Failed);
                return Err(Unavailable::ImportFailed);
            }
        },
    };
    let promise: Promise = subtle
        .verify_with_object_and_u8_array_and_u8_array(
            &verify_params,
            &crypto_key,
            signature,
            signed_data,
        )
        .map_err(|_| Unavailable::VerifyFailed)?;
    let answer = JsFuture::from(promise)
        .await
        .map_err(|_| Unavailable::VerifyFailed)?;
    answer.as_bool().ok_or(Unavailable::VerifyFailed)
}

/// Signs `input` with the assertion key through WebCrypto (ECDSA P-256 with SHA-256), and
/// answers the raw `r ‖ s` signature JWS wants (WebCrypto's own format). The private key is
/// imported once per isolate as non-extractable. There is no pure-Rust fallback: the caller
/// refuses the request (502) rather than forward it without its assertion.
pub async fn sign_es256(key: &SigningKey, input: &[u8]) -> Result<Vec<u8>, Unavailable> {
    let subtle = subtle().ok_or(Unavailable::NoSubtle)?;
    let held = SIGNER.with(|cell| {
        cell.borrow()
            .as_ref()
            .filter(|(kid, _)| kid == key.kid())
            .map(|(_, k)| k.clone())
    });
    let crypto_key = match held {
        Some(k) => k,
        None => {
            let k = import_signer(&subtle, key)
                .await
                .map_err(|_| Unavailable::ImportFailed)?;
            SIGNER.with(|cell| *cell.borrow_mut() = Some((key.kid().to_owned(), k.clone())));
            k
        }
    };
    let params = json_object(params(Alg::Es256).1).map_err(|_| Unavailable::SignFailed)?;
    let promise = subtle
        .sign_with_object_and_u8_array(&params, &crypto_key, input)
        .map_err(|_| Unavailable::SignFailed)?;
    let signature = JsFuture::from(promise)
        .await
        .map_err(|_| Unavailable::SignFailed)?;
    if !signature.is_instance_of::<js_sys::ArrayBuffer>() {
        return Err(Unavailable::SignFailed);
    }
    Ok(js_sys::Uint8Array::new(&signature).to_vec())
}

async fn import_signer(subtle: &SubtleCrypto, key: &SigningKey) -> Result<CryptoKey, JsValue> {
    let jwk = json_object(&key.private_jwk().to_string())?;
    let usages = js_sys::Array::of1(&JsValue::from_str("sign"));
    let promise = subtle.import_key_with_object(
        "jwk",
        &jwk,
        &json_object(params(Alg::Es256).0)?,
        false,
        &usages,
    )?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// Whether a signature WebCrypto could not check for `why` is to be logged: the first
/// time per isolate and reason (the adapter writes the line, naming the reason and the
/// algorithm, never a key or a token).
pub fn note_unavailable(why: Unavailable) -> bool {
    LOGGED.with(|cell| {
        let mut seen = cell.borrow_mut();
        let reason = why.reason();
        if seen.contains(&reason) {
            false
        } else {
            seen.push(reason);
            true
        }
    })
}
