//! The ClientAccessToken: what `/oidc/token` issues to the calling backend (the edge) and every
//! session API call must present as `Authorization: Bearer …`.
//!
//! It is a JWS (`HS256`, `typ: at+jwt`) keyed by HMAC-SHA256(CLIENT_SECRET, a fixed label), so
//! it is cheap to verify on every call, and rotating the client secret invalidates every
//! ClientAccessToken. It is never accepted as a user token: user tokens are signed with the
//! asymmetric key, and verifiers take the algorithm from their key, not from the header.

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::time::{to_seconds, Millis};

type HmacSha256 = Hmac<Sha256>;

const KEY_LABEL: &[u8] = b"session-store/client-access-token/v1";
/// `scope` of a ClientAccessToken.
pub const SCOPE: &str = "backend-sessions";
/// Clock skew tolerated on `iat`, in seconds.
pub const LEEWAY_SECONDS: i64 = 60;

/// Claims of a ClientAccessToken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientClaims {
    /// The store's issuer.
    pub iss: String,
    /// The client id.
    pub sub: String,
    /// The store's issuer again: the token is for this store only.
    pub aud: String,
    /// The client id.
    pub client_id: String,
    /// [`SCOPE`].
    pub scope: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
}

/// Issues and verifies ClientAccessTokens for one client.
pub struct ClientTokens {
    key: [u8; 32],
    issuer: String,
    client_id: String,
}

impl std::fmt::Debug for ClientTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTokens")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

impl ClientTokens {
    /// Derives the token key from the client secret.
    pub fn new(issuer: &str, client_id: &str, client_secret: &str) -> Self {
        let mut m = mac(client_secret.as_bytes());
        m.update(KEY_LABEL);
        Self {
            key: m.finalize().into_bytes().into(),
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
        }
    }

    /// Issues a token valid for `ttl_seconds` from `now`.
    pub fn issue(&self, now: Millis, ttl_seconds: i64) -> String {
        let iat = to_seconds(now);
        let claims = ClientClaims {
            iss: self.issuer.clone(),
            sub: self.client_id.clone(),
            aud: self.issuer.clone(),
            client_id: self.client_id.clone(),
            scope: SCOPE.into(),
            iat,
            exp: iat + ttl_seconds,
        };
        let header = r#"{"alg":"HS256","typ":"at+jwt"}"#;
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let mut out = Base64UrlUnpadded::encode_string(header.as_bytes());
        out.push('.');
        out.push_str(&Base64UrlUnpadded::encode_string(&payload));
        let mut m = mac(&self.key);
        m.update(out.as_bytes());
        let sig = m.finalize().into_bytes();
        out.push('.');
        out.push_str(&Base64UrlUnpadded::encode_string(&sig));
        out
    }

    /// Verifies a token at `now`: signature (constant time), header, issuer, audience, client,
    /// scope, `exp` and `iat`.
    pub fn verify(&self, token: &str, now: Millis) -> Option<ClientClaims> {
        let (signed, sig) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        let sig = Base64UrlUnpadded::decode_vec(sig).ok()?;
        let mut m = mac(&self.key);
        m.update(signed.as_bytes());
        m.verify_slice(&sig).ok()?;
        let header: serde_json::Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "HS256" || header.get("typ")?.as_str()? != "at+jwt" {
            return None;
        }
        let claims: ClientClaims =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).ok()?).ok()?;
        let now = to_seconds(now);
        let ok = claims.iss == self.issuer
            && claims.aud == self.issuer
            && claims.client_id == self.client_id
            && claims.sub == self.client_id
            && claims.scope == SCOPE
            && now < claims.exp
            && claims.iat <= now + LEEWAY_SECONDS;
        ok.then_some(claims)
    }
}

/// Compares two secrets in time that depends only on their lengths.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    // Compare MACs of both under a fixed key: equal-length outputs, constant-time verify.
    let mut m = mac(KEY_LABEL);
    m.update(a.as_bytes());
    let mut n = mac(KEY_LABEL);
    n.update(b.as_bytes());
    n.verify_slice(&m.finalize().into_bytes()).is_ok()
}

#[cfg(test)]
mod tests;
