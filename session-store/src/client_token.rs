//! The ClientAccessToken: what `/oidc/token` issues to the calling backend (the edge) and every
//! session API call must present as `Authorization: Bearer …`.
//!
//! It is a JWS (`HS256`, `typ: at+jwt`, made and checked by jwt-compact) keyed by
//! HMAC-SHA256(CLIENT_SECRET, a fixed label), so
//! it is cheap to verify on every call, and rotating the client secret invalidates every
//! ClientAccessToken. It is never accepted as a user token: user tokens are signed with the
//! asymmetric key, and verifiers take the algorithm from their key, not from the header.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{AlgorithmExt, Claims, Header, UntrustedToken};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::time::{to_seconds, Millis};

type HmacSha256 = Hmac<Sha256>;

const KEY_LABEL: &[u8] = b"session-store/client-access-token/v1";
/// `typ` of a ClientAccessToken.
const TYP: &str = "at+jwt";
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

/// The claims besides `iat` and `exp` (jwt-compact's [`Claims`] carries those).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Body {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
}

/// Issues and verifies ClientAccessTokens for one client.
pub struct ClientTokens {
    key: Hs256Key,
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

fn at(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

impl ClientTokens {
    /// Derives the token key from the client secret.
    pub fn new(issuer: &str, client_id: &str, client_secret: &str) -> Self {
        let mut m = mac(client_secret.as_bytes());
        m.update(KEY_LABEL);
        Self {
            key: Hs256Key::new(m.finalize().into_bytes()),
            issuer: issuer.to_string(),
            client_id: client_id.to_string(),
        }
    }

    /// Issues a token valid for `ttl_seconds` from `now` (empty if it cannot be serialised,
    /// which cannot happen for these claims).
    pub fn issue(&self, now: Millis, ttl_seconds: i64) -> String {
        let iat = to_seconds(now);
        let mut claims = Claims::new(Body {
            iss: self.issuer.clone(),
            sub: self.client_id.clone(),
            aud: self.issuer.clone(),
            client_id: self.client_id.clone(),
            scope: SCOPE.into(),
        });
        claims.issued_at = at(iat);
        claims.expiration = at(iat + ttl_seconds);
        let header = Header::empty().with_token_type(TYP);
        Hs256.token(&header, &claims, &self.key).unwrap_or_default()
    }

    /// Verifies a token at `now`: signature (constant time, by jwt-compact) and `alg`, `typ`,
    /// issuer, audience, client, scope, `exp` and `iat`.
    pub fn verify(&self, token: &str, now: Millis) -> Option<ClientClaims> {
        let untrusted = UntrustedToken::new(token).ok()?;
        if untrusted.header().token_type.as_deref() != Some(TYP) {
            return None;
        }
        let token = Hs256
            .validator::<Body>(&self.key)
            .validate(&untrusted)
            .ok()?;
        let claims = token.claims();
        let (iat, exp) = (
            claims.issued_at?.timestamp(),
            claims.expiration?.timestamp(),
        );
        let body = &claims.custom;
        let now = to_seconds(now);
        let ok = body.iss == self.issuer
            && body.aud == self.issuer
            && body.client_id == self.client_id
            && body.sub == self.client_id
            && body.scope == SCOPE
            && now < exp
            && iat <= now + LEEWAY_SECONDS;
        ok.then(|| ClientClaims {
            iss: body.iss.clone(),
            sub: body.sub.clone(),
            aud: body.aud.clone(),
            client_id: body.client_id.clone(),
            scope: body.scope.clone(),
            iat,
            exp,
        })
    }
}

/// Compares two secrets in time that does not depend on where they differ nor on their
/// lengths: SHA-256 of each (equal-length digests), compared with `subtle`.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests;
