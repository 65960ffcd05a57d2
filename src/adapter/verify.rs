//! Authenticate: find the access token, verify it against the (cached) key set, cache the
//! verified claims. Key fetching follows the core's [`JwksCache`] plan.

use std::sync::Arc;

use worker::{Env, Method, Request};

use super::outbound::{self, OutboundError};
use super::{log, now_secs, with_isolate};
use crate::cache_policy;
use crate::challenge::Rejection;
use crate::config::{EdgeConfig, KeySource};
use crate::jwks::KeysPlan;
use crate::keys::KeySet;
use crate::token::{self, Policy, SignatureVerified, TokenError, VerifiedClaims};
use crate::token_cache;
use crate::webcrypto;

/// Largest JWKS document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long a JWKS fetch may take.
const JWKS_TIMEOUT_MS: u32 = 5_000;

/// Why a token could not be verified: the token itself (a 401, or for `Expired` perhaps a
/// transparent refresh), or the keys (503).
pub(super) enum VerifyFailure {
    /// The token was refused.
    Token(TokenError),
    /// The keys could not be had.
    Keys(Rejection),
}

impl VerifyFailure {
    /// The answer when nothing else can be done.
    pub(super) fn rejection(&self) -> Rejection {
        match self {
            Self::Token(e) => Rejection::invalid_token(e),
            Self::Keys(r) => r.clone(),
        }
    }
}

/// Verifies `token` under `policy` (the access-token policy, or the ID-token one at login).
/// Only access tokens use the verified-token cache (`use_cache`).
pub(super) async fn verify_token(
    token: &str,
    env: &Env,
    config: &EdgeConfig,
    policy: &Policy,
    use_cache: bool,
) -> Result<Arc<VerifiedClaims>, VerifyFailure> {
    let now = now_secs();
    // Hashed only for the cache (ID tokens at login skip it).
    let cache_key = use_cache.then(|| token_cache::key_of(token));
    if let Some(key) = &cache_key {
        if let Some(hit) = with_isolate(env, |i| i.tokens.get(key, now)) {
            return Ok(hit);
        }
    }
    let inspected = token::inspect(token, policy).map_err(VerifyFailure::Token)?;
    let mut keys = key_set(env, config, now)
        .await
        .map_err(VerifyFailure::Keys)?;
    let key = match inspected.select_key(&keys) {
        Err(TokenError::UnknownKey)
            if matches!(config.keys, KeySource::Url(_))
                && with_isolate(env, |i| i.jwks.claim_unknown_kid_refetch(now)) =>
        {
            keys = refetch_keys(env, config, now)
                .await
                .map_err(VerifyFailure::Keys)?;
            inspected.select_key(&keys)
        }
        other => other,
    }
    .map_err(VerifyFailure::Token)?;
    // The signature through the runtime's WebCrypto; pure Rust where it cannot answer.
    let valid = match webcrypto::verify(key, inspected.signed_data(), inspected.signature()).await {
        Ok(valid) => valid,
        Err(why) => {
            webcrypto::note_fallback(why, key.alg);
            key.verify_pure(inspected.signed_data(), inspected.signature())
        }
    };
    let proof = SignatureVerified::from_check(valid).map_err(VerifyFailure::Token)?;
    let claims = inspected
        .into_claims(proof, policy, now)
        .map_err(VerifyFailure::Token)?;
    let claims = Arc::new(claims);
    if let Some(key) = cache_key {
        with_isolate(env, |i| i.tokens.insert(key, Arc::clone(&claims), now));
    }
    Ok(claims)
}

async fn key_set(env: &Env, config: &EdgeConfig, now: i64) -> Result<Arc<KeySet>, Rejection> {
    if let KeySource::Inline(keys) = &config.keys {
        return Ok(Arc::clone(keys));
    }
    match with_isolate(env, |i| i.jwks.plan(now)) {
        KeysPlan::Use(keys) => Ok(keys),
        KeysPlan::Unavailable => Err(Rejection::keys_unavailable()),
        KeysPlan::Fetch { fallback } => match fetch_keys(env, config).await {
            Ok((set, max_age)) => Ok(with_isolate(env, |i| i.jwks.on_fetched(now, set, max_age))),
            Err(why) => {
                log::jwks_failed(why, fallback.is_some());
                with_isolate(env, |i| i.jwks.on_failed(now));
                fallback.ok_or_else(Rejection::keys_unavailable)
            }
        },
    }
}

async fn refetch_keys(env: &Env, config: &EdgeConfig, now: i64) -> Result<Arc<KeySet>, Rejection> {
    match fetch_keys(env, config).await {
        Ok((set, max_age)) => Ok(with_isolate(env, |i| i.jwks.on_fetched(now, set, max_age))),
        Err(why) => {
            log::jwks_failed(why, true);
            // Keep the keys we have; the token's kid stays unknown.
            key_set(env, config, now).await
        }
    }
}

async fn fetch_keys(env: &Env, config: &EdgeConfig) -> Result<(KeySet, Option<u64>), &'static str> {
    let KeySource::Url(url) = &config.keys else {
        return Err("no_jwks_url");
    };
    let req = Request::new(url.as_str(), Method::Get).map_err(|_| "jwks_fetch_error")?;
    let resp = outbound::send(env, outbound::jwks_peer(config, url), req, JWKS_TIMEOUT_MS)
        .await
        .map_err(|e| match e {
            OutboundError::Timeout => "jwks_timeout",
            OutboundError::Network => "jwks_fetch_error",
        })?;
    if resp.status_code() != 200 {
        return Err("jwks_status");
    }
    let max_age = resp
        .headers()
        .get("cache-control")
        .ok()
        .flatten()
        .and_then(|cc| cache_policy::max_age(&cc));
    let body = super::body::read_response(&resp, MAX_JWKS_BYTES)
        .await
        .map_err(|e| match e {
            super::body::ReadError::Refused(_) => "jwks_too_large",
            super::body::ReadError::Unreadable => "jwks_body",
        })?;
    let set = KeySet::from_jwks_json(&body, &config.allowed_algs).map_err(|_| "jwks_unusable")?;
    Ok((set, max_age))
}
