//! Verification keys: the algorithms the edge accepts, JWK → key conversion and key sets.
//!
//! The algorithm of a key is fixed here, from the JWK (`kty`, `crv`, `alg`) and the configured
//! allow-list, never from a token header. A key set only ever holds public keys for the
//! asymmetric algorithms below; symmetric (`oct`) keys are refused, so an HS* token can never
//! be checked against a public key.

use std::fmt;

use jwt_compact::alg::{Ed25519, Es256, Rsa, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::Algorithm;
use serde::Deserialize;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;
/// Most keys a JWKS may contain; a larger set is refused as a whole.
pub const MAX_KEYS: usize = 32;
/// Longest `kid` accepted, in bytes.
pub const MAX_KID_LEN: usize = 256;

/// A JWS signature algorithm the edge can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA with P-256 and SHA-256; signatures are raw `r ‖ s` (64 bytes).
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256 and MGF1-SHA-256.
    Ps256,
    /// Ed25519 (JWS `alg` `EdDSA`, or the fully-specified `Ed25519` of RFC 9864).
    Ed25519,
}

impl Alg {
    /// Parses a configured algorithm name (`ES256`, `RS256`, `PS256`, `EdDSA`, `Ed25519`).
    pub fn from_config_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Self::Es256),
            "RS256" => Some(Self::Rs256),
            "PS256" => Some(Self::Ps256),
            "EdDSA" | "Ed25519" => Some(Self::Ed25519),
            _ => None,
        }
    }

    /// Whether a token header's `alg` value names this algorithm. Exact, case-sensitive match
    /// (RFC 7515 §4.1.1); Ed25519 answers to both `EdDSA` and `Ed25519`.
    pub fn matches_header(self, alg: &str) -> bool {
        match self {
            Self::Es256 => alg == "ES256",
            Self::Rs256 => alg == "RS256",
            Self::Ps256 => alg == "PS256",
            Self::Ed25519 => alg == "EdDSA" || alg == "Ed25519",
        }
    }

    /// The canonical JWS name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
            Self::Ps256 => "PS256",
            Self::Ed25519 => "EdDSA",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The public key material of one verification key.
#[derive(Clone)]
pub enum KeyMaterial {
    /// A P-256 public key.
    P256(p256::ecdsa::VerifyingKey),
    /// An RSA public key of at least [`MIN_RSA_BITS`].
    Rsa(RsaPublicKey),
    /// An Ed25519 public key.
    Ed25519(ed25519_compact::PublicKey),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public keys are not secret, but they are long and useless in logs.
        match self {
            Self::P256(_) => f.write_str("P256(..)"),
            Self::Rsa(_) => f.write_str("Rsa(..)"),
            Self::Ed25519(_) => f.write_str("Ed25519(..)"),
        }
    }
}

/// One verification key with its fixed algorithm.
#[derive(Debug, Clone)]
pub struct VerifyKey {
    /// The JWK `kid`, if any.
    pub kid: Option<String>,
    /// The one algorithm this key verifies.
    pub alg: Alg,
    /// The key itself.
    pub material: KeyMaterial,
    /// The public JWK as published (for importing the key into WebCrypto).
    pub public_jwk: serde_json::Value,
}

impl VerifyKey {
    /// The length in bytes a signature by this key has: 64 for ES256 (`r ‖ s`) and Ed25519,
    /// the modulus length for RSA (RFC 8017 §8.2.2). Any other length is refused before any
    /// crypto runs, by every verification path.
    pub fn signature_len(&self) -> usize {
        match &self.material {
            KeyMaterial::P256(_) => 64,
            KeyMaterial::Rsa(key) => rsa_bits(key).div_ceil(8),
            KeyMaterial::Ed25519(_) => ed25519_compact::Signature::BYTES,
        }
    }

    /// Checks `signature` over `signed_data` with this key, in pure Rust.
    ///
    /// This is the reference path: the adapter may verify through the runtime's WebCrypto
    /// instead, and a differential test holds both to the same answers.
    pub fn verify_pure(&self, signed_data: &[u8], signature: &[u8]) -> bool {
        use jwt_compact::AlgorithmSignature;
        if signature.len() != self.signature_len() {
            return false;
        }
        match (&self.material, self.alg) {
            (KeyMaterial::P256(key), Alg::Es256) => {
                match <Es256 as Algorithm>::Signature::try_from_slice(signature) {
                    Ok(sig) => Es256.verify_signature(&sig, key, signed_data),
                    Err(_) => false,
                }
            }
            (KeyMaterial::Rsa(key), Alg::Rs256 | Alg::Ps256) => {
                let alg = if self.alg == Alg::Rs256 {
                    Rsa::rs256()
                } else {
                    Rsa::ps256()
                };
                match <Rsa as Algorithm>::Signature::try_from_slice(signature) {
                    Ok(sig) => alg.verify_signature(&sig, key, signed_data),
                    Err(_) => false,
                }
            }
            (KeyMaterial::Ed25519(key), Alg::Ed25519) => {
                match <Ed25519 as Algorithm>::Signature::try_from_slice(signature) {
                    Ok(sig) => Ed25519.verify_signature(&sig, key, signed_data),
                    Err(_) => false,
                }
            }
            // A key whose material does not fit its algorithm cannot be built by this module;
            // answer "invalid" rather than panic if it ever is.
            _ => false,
        }
    }
}

fn rsa_bits(key: &RsaPublicKey) -> usize {
    use rsa::traits::PublicKeyParts;
    key.n().bits()
}

/// Why a JWKS (or one key in it) could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySetError {
    /// The document is not JSON of the JWKS shape (`{"keys": [...]}`).
    Malformed(String),
    /// More than [`MAX_KEYS`] keys.
    TooManyKeys(usize),
    /// No key in the set is usable with the allowed algorithms.
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
}

impl fmt::Display for KeySetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed JWKS: {why}"),
            Self::TooManyKeys(n) => write!(f, "JWKS has {n} keys (at most {MAX_KEYS})"),
            Self::NoUsableKeys { skipped } => {
                write!(f, "JWKS has no usable key ({skipped} skipped)")
            }
        }
    }
}

/// Why a single JWK was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// `use` is present and is not `sig`, or `key_ops` does not allow `verify`.
    NotForSignatures,
    /// The key type / curve / `alg` is not one the edge verifies (e.g. `oct`, `P-384`).
    Unsupported(String),
    /// The algorithm is not in the configured allow-list.
    NotAllowed(Alg),
    /// An RSA modulus under [`MIN_RSA_BITS`].
    WeakRsa(usize),
    /// The key carries private material; a JWKS must not.
    PrivateMaterial,
    /// The key bytes are invalid.
    Invalid(String),
    /// `kid` is longer than [`MAX_KID_LEN`].
    KidTooLong,
}

#[derive(Deserialize)]
struct JwkMeta {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    d: Option<serde_json::Value>,
    p: Option<serde_json::Value>,
}

/// Builds one verification key from a public JWK, if the allow-list permits its algorithm.
pub fn key_from_jwk(jwk: &serde_json::Value, allowed: &[Alg]) -> Result<VerifyKey, KeyError> {
    let meta: JwkMeta =
        serde_json::from_value(jwk.clone()).map_err(|e| KeyError::Invalid(e.to_string()))?;
    if meta.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(KeyError::NotForSignatures);
    }
    if let Some(ops) = &meta.key_ops {
        if !ops.iter().any(|op| op == "verify") {
            return Err(KeyError::NotForSignatures);
        }
    }
    if meta.d.is_some() || meta.p.is_some() {
        return Err(KeyError::PrivateMaterial);
    }
    if meta.kid.as_ref().is_some_and(|k| k.len() > MAX_KID_LEN) {
        return Err(KeyError::KidTooLong);
    }
    let kty = meta.kty.as_deref().unwrap_or("");
    let alg = match (kty, meta.crv.as_deref(), meta.alg.as_deref()) {
        ("EC", Some("P-256"), None | Some("ES256")) => Alg::Es256,
        ("OKP", Some("Ed25519"), None | Some("EdDSA") | Some("Ed25519")) => Alg::Ed25519,
        ("RSA", _, None | Some("RS256")) => Alg::Rs256,
        ("RSA", _, Some("PS256")) => Alg::Ps256,
        (kty, crv, alg) => {
            return Err(KeyError::Unsupported(format!(
                "kty={kty} crv={} alg={}",
                crv.unwrap_or("-"),
                alg.unwrap_or("-")
            )))
        }
    };
    if !allowed.contains(&alg) {
        return Err(KeyError::NotAllowed(alg));
    }
    let parsed: JsonWebKey<'_> =
        serde_json::from_value(jwk.clone()).map_err(|e| KeyError::Invalid(e.to_string()))?;
    let material = match alg {
        Alg::Es256 => KeyMaterial::P256(
            p256::ecdsa::VerifyingKey::try_from(&parsed)
                .map_err(|e| KeyError::Invalid(e.to_string()))?,
        ),
        Alg::Rs256 | Alg::Ps256 => {
            let key =
                RsaPublicKey::try_from(&parsed).map_err(|e| KeyError::Invalid(e.to_string()))?;
            let bits = rsa_bits(&key);
            if bits < MIN_RSA_BITS {
                return Err(KeyError::WeakRsa(bits));
            }
            KeyMaterial::Rsa(key)
        }
        Alg::Ed25519 => KeyMaterial::Ed25519(
            ed25519_compact::PublicKey::try_from(&parsed)
                .map_err(|e| KeyError::Invalid(e.to_string()))?,
        ),
    };
    Ok(VerifyKey {
        kid: meta.kid,
        alg,
        material,
        public_jwk: jwk.clone(),
    })
}

/// A set of verification keys, as parsed from a JWKS.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyKey>,
    skipped: usize,
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document, keeping the keys usable with `allowed` and skipping the rest
    /// (a JWKS may legitimately publish encryption keys or algorithms we do not accept).
    /// Fails when nothing usable remains.
    pub fn from_jwks_json(doc: &[u8], allowed: &[Alg]) -> Result<Self, KeySetError> {
        let doc: JwksDoc =
            serde_json::from_slice(doc).map_err(|e| KeySetError::Malformed(e.to_string()))?;
        if doc.keys.len() > MAX_KEYS {
            return Err(KeySetError::TooManyKeys(doc.keys.len()));
        }
        let mut keys = Vec::with_capacity(doc.keys.len());
        let mut skipped = 0;
        for jwk in &doc.keys {
            match key_from_jwk(jwk, allowed) {
                Ok(key) => keys.push(key),
                Err(_) => skipped += 1,
            }
        }
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKeys { skipped });
        }
        Ok(Self { keys, skipped })
    }

    /// Builds a set from keys already constructed.
    pub fn from_keys(keys: Vec<VerifyKey>) -> Self {
        Self { keys, skipped: 0 }
    }

    /// The usable keys.
    pub fn keys(&self) -> &[VerifyKey] {
        &self.keys
    }

    /// How many JWKs were skipped as unusable.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The key with this `kid`.
    pub fn by_kid(&self, kid: &str) -> Option<&VerifyKey> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

#[cfg(test)]
mod tests;
