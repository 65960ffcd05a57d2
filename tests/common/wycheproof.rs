//! Wycheproof vectors (tests/vectors/wycheproof, Apache-2.0) and the bookkeeping that runs
//! them, shared by the native suite (tests/wycheproof.rs) and the browser suite
//! (tests/wasm_wycheproof.rs). The files are compiled in with `include_str!`, so the loader
//! does no I/O and runs unchanged on wasm32.
//!
//! Every vector's public key is converted here to a JWK and imported through
//! `keys::key_from_jwk`, the same import the edge applies to a JWKS. A key the import refuses
//! counts as "every signature under it rejected".
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{json, Value};

pub const ECDSA_P256: &str =
    include_str!("../vectors/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
pub const ED25519: &str = include_str!("../vectors/wycheproof/ed25519_test.json");
pub const RSA_2048_SHA256: &str =
    include_str!("../vectors/wycheproof/rsa_signature_2048_sha256_test.json");
pub const JWS: &str = include_str!("../vectors/wycheproof/json_web_signature_test.json");

/// What Wycheproof says about a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Valid,
    Invalid,
    Acceptable,
}

impl Expect {
    fn parse(s: &str) -> Self {
        match s {
            "valid" => Self::Valid,
            "invalid" => Self::Invalid,
            "acceptable" => Self::Acceptable,
            other => panic!("unknown Wycheproof result {other:?}"),
        }
    }
}

/// One signature vector: a message, a signature and the expected answer.
#[derive(Debug, Clone)]
pub struct SigCase {
    pub tc_id: u64,
    pub comment: String,
    pub flags: Vec<String>,
    pub msg: Vec<u8>,
    pub sig: Vec<u8>,
    pub expect: Expect,
}

/// A test group: one public key (as a JWK built from the vector's raw key) and its cases.
#[derive(Debug, Clone)]
pub struct SigGroup {
    pub jwk: Value,
    pub cases: Vec<SigCase>,
}

/// A primitive signature file (ECDSA P1363, Ed25519, RSA PKCS#1 v1.5).
#[derive(Debug, Clone)]
pub struct SigFile {
    pub label: &'static str,
    pub declared_tests: u64,
    pub groups: Vec<SigGroup>,
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A big-endian integer as a fixed-width field: leading zero bytes stripped, then left-padded
/// to `width`. `None` when the value does not fit (such a key must be refused).
fn fixed_width(bytes: &[u8], width: usize) -> Option<Vec<u8>> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = &bytes[start..];
    if digits.len() > width {
        return None;
    }
    let mut out = vec![0; width - digits.len()];
    out.extend_from_slice(digits);
    Some(out)
}

/// A minimal unsigned big-endian integer (RFC 7518 §6.3.1: no leading zero octets).
fn minimal(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn cases(group: &Value) -> Vec<SigCase> {
    group["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| SigCase {
            tc_id: t["tcId"].as_u64().expect("tcId"),
            comment: t["comment"].as_str().unwrap_or_default().to_owned(),
            flags: t["flags"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            msg: hex(t["msg"].as_str().expect("msg")),
            sig: hex(t["sig"].as_str().expect("sig")),
            expect: Expect::parse(t["result"].as_str().expect("result")),
        })
        .collect()
}

fn load(
    label: &'static str,
    text: &str,
    to_jwk: impl Fn(&Value) -> Value,
    cross_check: Option<&str>,
) -> SigFile {
    let doc: Value = serde_json::from_str(text).expect("vector file is JSON");
    let groups = doc["testGroups"]
        .as_array()
        .expect("testGroups")
        .iter()
        .map(|g| {
            let jwk = to_jwk(&g["publicKey"]);
            // Where the file also publishes a JWK, ours must say the same thing.
            if let Some(field) = cross_check {
                if let Some(theirs) = g.get(field).filter(|v| v.is_object()) {
                    for k in ["kty", "crv", "x", "y", "n", "e"] {
                        if theirs.get(k).is_some() {
                            assert_eq!(jwk.get(k), theirs.get(k), "{label}: JWK field {k}");
                        }
                    }
                }
            }
            SigGroup {
                jwk,
                cases: cases(g),
            }
        })
        .collect();
    SigFile {
        label,
        declared_tests: doc["numberOfTests"].as_u64().unwrap_or(0),
        groups,
    }
}

/// `ecdsa_secp256r1_sha256_p1363_test.json`: the public point (`wx`, `wy`) as an EC JWK.
pub fn ecdsa_p256() -> SigFile {
    load(
        "ecdsa_p256_p1363",
        ECDSA_P256,
        |pk| {
            let x = fixed_width(&hex(pk["wx"].as_str().expect("wx")), 32);
            let y = fixed_width(&hex(pk["wy"].as_str().expect("wy")), 32);
            match (x, y) {
                (Some(x), Some(y)) => {
                    json!({"kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y)})
                }
                // A coordinate wider than the field: give the import something it must refuse.
                _ => json!({"kty": "EC", "crv": "P-256", "x": "", "y": ""}),
            }
        },
        Some("publicKeyJwk"),
    )
}

/// `ed25519_test.json`: the raw 32-byte key as an OKP JWK.
pub fn ed25519() -> SigFile {
    load(
        "ed25519",
        ED25519,
        |pk| {
            let x = hex(pk["pk"].as_str().expect("pk"));
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)})
        },
        Some("publicKeyJwk"),
    )
}

/// `rsa_signature_2048_sha256_test.json` (PKCS#1 v1.5): modulus and exponent as an RSA JWK
/// with `alg` RS256, as an issuer would publish it.
pub fn rsa_2048_sha256() -> SigFile {
    load(
        "rsa_pkcs1_2048_sha256",
        RSA_2048_SHA256,
        |pk| {
            let n = hex(pk["modulus"].as_str().expect("modulus"));
            let e = hex(pk["publicExponent"].as_str().expect("publicExponent"));
            json!({"kty": "RSA", "alg": "RS256", "n": b64(minimal(&n)), "e": b64(minimal(&e))})
        },
        Some("keyJwk"),
    )
}

/// What a verification path answered for one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected,
    /// The key import refused the group's key (so nothing under it can verify).
    KeyRefused,
}

/// Per-file counts. A mismatch is a valid vector not accepted or an invalid one not rejected.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub label: &'static str,
    pub valid_accepted: usize,
    pub invalid_rejected: usize,
    pub invalid_key_refused: usize,
    pub acceptable: Vec<(u64, String, Outcome)>,
    pub mismatches: Vec<String>,
    pub skipped: Vec<String>,
}

impl Tally {
    pub fn new(label: &'static str) -> Self {
        Self {
            label,
            ..Self::default()
        }
    }

    pub fn record(&mut self, tc_id: u64, what: &str, expect: Expect, got: Outcome) {
        match (expect, got) {
            (Expect::Valid, Outcome::Accepted) => self.valid_accepted += 1,
            (Expect::Invalid, Outcome::Rejected) => self.invalid_rejected += 1,
            (Expect::Invalid, Outcome::KeyRefused) => {
                self.invalid_rejected += 1;
                self.invalid_key_refused += 1;
            }
            (Expect::Acceptable, got) => self.acceptable.push((tc_id, what.to_owned(), got)),
            (expect, got) => self.mismatches.push(format!(
                "tcId {tc_id} ({what}): expected {expect:?}, got {got:?}"
            )),
        }
    }

    pub fn total(&self) -> usize {
        self.valid_accepted + self.invalid_rejected + self.acceptable.len() + self.mismatches.len()
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wycheproof {}: {} valid accepted, {} invalid rejected",
            self.label, self.valid_accepted, self.invalid_rejected
        )?;
        if self.invalid_key_refused > 0 {
            write!(f, " ({} by key import)", self.invalid_key_refused)?;
        }
        if !self.acceptable.is_empty() {
            write!(f, ", {} acceptable", self.acceptable.len())?;
        }
        if !self.skipped.is_empty() {
            write!(f, ", {} skipped", self.skipped.len())?;
        }
        write!(f, ", {} mismatches", self.mismatches.len())?;
        for (id, what, got) in &self.acceptable {
            write!(f, "\n  acceptable tcId {id} ({what}): {got:?}")?;
        }
        for s in &self.skipped {
            write!(f, "\n  skipped {s}")?;
        }
        for m in &self.mismatches {
            write!(f, "\n  MISMATCH {m}")?;
        }
        Ok(())
    }
}

/// Runs every vector of `file` through `verify(jwk, msg, sig)`.
pub fn run_sig_file(
    file: &SigFile,
    mut verify: impl FnMut(&Value, &[u8], &[u8]) -> Outcome,
) -> Tally {
    let mut tally = Tally::new(file.label);
    for group in &file.groups {
        for case in &group.cases {
            let what = if case.flags.is_empty() {
                case.comment.clone()
            } else {
                format!("{}; {}", case.comment, case.flags.join(","))
            };
            let got = verify(&group.jwk, &case.msg, &case.sig);
            tally.record(case.tc_id, &what, case.expect, got);
        }
    }
    assert_eq!(
        tally.total() as u64,
        file.declared_tests,
        "{}: every declared vector ran",
        file.label
    );
    tally
}

/// One JWS vector of `json_web_signature_test.json`.
#[derive(Debug, Clone)]
pub struct JwsCase {
    pub tc_id: u64,
    pub comment: String,
    pub jws: String,
    pub expect: Expect,
}

/// A JWS test group: its public JWK if it has one (HMAC groups only carry a private `oct`
/// key), and its tokens.
#[derive(Debug, Clone)]
pub struct JwsGroup {
    pub comment: String,
    pub public: Option<Value>,
    pub private_kty: Option<String>,
    pub cases: Vec<JwsCase>,
}

pub fn jws_groups() -> (u64, Vec<JwsGroup>) {
    let doc: Value = serde_json::from_str(JWS).expect("JWS vectors are JSON");
    let groups = doc["testGroups"]
        .as_array()
        .expect("testGroups")
        .iter()
        .map(|g| JwsGroup {
            comment: g["comment"].as_str().unwrap_or_default().to_owned(),
            public: g.get("public").cloned(),
            private_kty: g["private"]["kty"].as_str().map(str::to_owned),
            cases: g["tests"]
                .as_array()
                .expect("tests")
                .iter()
                .map(|t| JwsCase {
                    tc_id: t["tcId"].as_u64().expect("tcId"),
                    comment: t["comment"].as_str().unwrap_or_default().to_owned(),
                    jws: t["jws"].as_str().expect("jws").to_owned(),
                    expect: Expect::parse(t["result"].as_str().expect("result")),
                })
                .collect(),
        })
        .collect();
    (doc["numberOfTests"].as_u64().unwrap_or(0), groups)
}

/// Every algorithm the edge can verify: the vectors exercise all of them.
pub const ALL_ALGS: &[edge_session::keys::Alg] = &[
    edge_session::keys::Alg::Es256,
    edge_session::keys::Alg::Rs256,
    edge_session::keys::Alg::Ps256,
    edge_session::keys::Alg::Ed25519,
];

/// How far the edge's own pipeline got with one JWS vector before a signature check.
#[derive(Debug, Clone)]
pub enum JwsStep {
    /// Refused before any signature work (by `inspect`, `select_key` or the key import).
    Decided(Outcome),
    /// Structure, header and key selection passed: the signature decides.
    Check {
        key: Box<edge_session::keys::VerifyKey>,
        signed: Vec<u8>,
        sig: Vec<u8>,
    },
}

/// One JWS vector with the step the edge reached.
#[derive(Debug, Clone)]
pub struct JwsPrepared {
    pub tc_id: u64,
    pub what: String,
    pub expect: Expect,
    pub step: JwsStep,
}

/// Why a JWS group is outside what the edge verifies (its key is symmetric, of another
/// algorithm, or not allowed), or `None` when the edge verifies it.
fn out_of_scope(
    group: &JwsGroup,
    key: &Option<Result<edge_session::keys::VerifyKey, edge_session::keys::KeyError>>,
) -> Option<String> {
    use edge_session::keys::KeyError;
    match key {
        None => Some(format!(
            "HMAC-only, {} key: symmetric keys never enter a key set",
            group.private_kty.as_deref().unwrap_or("no")
        )),
        Some(Err(KeyError::Unsupported(why))) => Some(format!("key not an edge algorithm ({why})")),
        Some(Err(KeyError::NotAllowed(alg))) => Some(format!("{alg} not allowed")),
        _ => None,
    }
}

/// Tallies a group outside the edge's algorithms as skipped. Nothing in such a group may get
/// past `inspect` with a key of ours.
fn tally_out_of_scope(
    group: &JwsGroup,
    label: &str,
    reason: &str,
    policy: &edge_session::token::Policy,
    tally: &mut Tally,
) {
    let passed: Vec<u64> = group
        .cases
        .iter()
        .filter(|c| edge_session::token::inspect(&c.jws, policy).is_ok())
        .map(|c| c.tc_id)
        .collect();
    if passed.iter().any(|_| group.public.is_none()) {
        tally
            .mismatches
            .push(format!("{label}: HMAC tokens passed inspect: {passed:?}"));
    }
    tally.skipped.push(format!(
        "{label}: {reason}; {} of {} tokens refused by inspect",
        group.cases.len() - passed.len(),
        group.cases.len()
    ));
}

/// Runs `json_web_signature_test.json` through `keys::key_from_jwk`, `token::inspect` and
/// `Inspected::select_key`, leaving the signature check to the caller (pure Rust natively,
/// WebCrypto in the browser). Groups outside the edge's algorithms are skipped with a reason,
/// but their tokens must still be refused.
pub fn prepare_jws() -> (Vec<JwsPrepared>, Tally) {
    use edge_session::keys::{key_from_jwk, KeySet};
    use edge_session::token::{inspect, Policy, TokenError, TypRule};

    let policy = Policy {
        issuer: String::new(),
        audiences: Vec::new(),
        typ: TypRule::Any, // the vectors carry no `typ`
        leeway_secs: 0,
    };
    let ours = ["ES256", "RS256", "PS256", "EdDSA", "Ed25519"];
    let (declared, groups) = jws_groups();
    let mut tally = Tally::new("json_web_signature");
    let mut out = Vec::new();
    let mut seen = 0u64;
    for group in &groups {
        seen += group.cases.len() as u64;
        let label = format!("group {} ({} vectors)", group.comment, group.cases.len());
        let key = group.public.as_ref().map(|jwk| key_from_jwk(jwk, ALL_ALGS));
        if let Some(reason) = out_of_scope(group, &key) {
            tally_out_of_scope(group, &label, &reason, &policy, &mut tally);
            continue;
        }
        for case in &group.cases {
            let what = format!("{}: {}", group.comment, case.comment);
            let step = match &key {
                Some(Ok(k)) => match inspect(&case.jws, &policy) {
                    Err(TokenError::UnsupportedAlgorithm(alg))
                        if case.expect == Expect::Valid && !ours.contains(&alg.as_str()) =>
                    {
                        tally.skipped.push(format!(
                            "tcId {} ({what}): valid for alg {alg}, which the edge does not verify; refused",
                            case.tc_id
                        ));
                        continue;
                    }
                    Err(_) => JwsStep::Decided(Outcome::Rejected),
                    Ok(inspected) => {
                        let set = KeySet::from_keys(vec![k.clone()]);
                        match inspected.select_key(&set) {
                            Err(_) => JwsStep::Decided(Outcome::Rejected),
                            Ok(selected) => JwsStep::Check {
                                key: Box::new(selected.clone()),
                                signed: inspected.signed_data().to_vec(),
                                sig: inspected.signature().to_vec(),
                            },
                        }
                    }
                },
                _ => JwsStep::Decided(Outcome::KeyRefused),
            };
            out.push(JwsPrepared {
                tc_id: case.tc_id,
                what,
                expect: case.expect,
                step,
            });
        }
    }
    assert_eq!(seen, declared, "every declared JWS vector was read");
    (out, tally)
}
