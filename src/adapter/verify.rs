//! Authenticate: find the access token, verify it against the (cached) key set, cache the
//! verified claims. Key fetching follows the core's [`JwksCache`] plan.

use std::sync::Arc;

use worker::{AbortSignal, Env, Fetch, Request};

use super::{log, now_secs, with_isolate};
use crate::cache_policy;
use crate::challenge::Rejection;
use crate::config::{EdgeConfig, KeySource};
use crate::credentials::{self, Credential};
use crate::jwks::KeysPlan;
use crate::keys::KeySet;
use crate::token::{self, TokenError, VerifiedClaims};
use crate::token_cache;

/// Largest JWKS document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long a JWKS fetch may take.
const JWKS_TIMEOUT_MS: u32 = 5_000;

/// Authenticate and authorize: a valid access token from the header or the cookie.
pub(super) async fn authenticate(
    req: &Request,
    env: &Env,
    config: &EdgeConfig,
) -> Result<(Arc<VerifiedClaims>, Option<String>), Rejection> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let cookie = headers.get("cookie").ok().flatten();
    let credential = credentials::extract(
        authorization.as_deref(),
        cookie.as_deref(),
        &config.access_cookie,
    )
    .map_err(|e| Rejection::invalid_request(e.reason()))?;
    let token = match credential {
        Credential::None => return Err(Rejection::missing_token()),
        Credential::Bearer(t) | Credential::Cookie(t) => t,
    };
    let claims = verify_token(token, env, config).await?;
    // The session cookie's id is used only where the token has no `sid`; its binding MAC is
    // checked by the session-flow layer.
    Ok((claims, None))
}

pub(super) async fn verify_token(
    token: &str,
    env: &Env,
    config: &EdgeConfig,
) -> Result<Arc<VerifiedClaims>, Rejection> {
    let now = now_secs();
    let cache_key = token_cache::key_of(token);
    if let Some(hit) = with_isolate(env, |i| i.tokens.get(&cache_key, now)) {
        return Ok(hit);
    }
    let policy = &config.policy;
    let inspected = token::inspect(token, policy).map_err(|e| Rejection::invalid_token(&e))?;
    let mut keys = key_set(env, config, now).await?;
    let key = match inspected.select_key(&keys) {
        Err(TokenError::UnknownKey)
            if matches!(config.keys, KeySource::Url(_))
                && with_isolate(env, |i| i.jwks.claim_unknown_kid_refetch(now)) =>
        {
            keys = refetch_keys(env, config, now).await?;
            inspected.select_key(&keys)
        }
        other => other,
    }
    .map_err(|e| Rejection::invalid_token(&e))?;
    let proof = inspected
        .verify_pure(key)
        .map_err(|e| Rejection::invalid_token(&e))?;
    let claims = inspected
        .into_claims(proof, policy, now)
        .map_err(|e| Rejection::invalid_token(&e))?;
    let claims = Arc::new(claims);
    with_isolate(env, |i| {
        i.tokens.insert(cache_key, Arc::clone(&claims), now)
    });
    Ok(claims)
}

async fn key_set(env: &Env, config: &EdgeConfig, now: i64) -> Result<Arc<KeySet>, Rejection> {
    if let KeySource::Inline(keys) = &config.keys {
        return Ok(Arc::clone(keys));
    }
    match with_isolate(env, |i| i.jwks.plan(now)) {
        KeysPlan::Use(keys) => Ok(keys),
        KeysPlan::Unavailable => Err(Rejection::keys_unavailable()),
        KeysPlan::Fetch { fallback } => match fetch_keys(config).await {
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
    match fetch_keys(config).await {
        Ok((set, max_age)) => Ok(with_isolate(env, |i| i.jwks.on_fetched(now, set, max_age))),
        Err(why) => {
            log::jwks_failed(why, true);
            // Keep the keys we have; the token's kid stays unknown.
            key_set(env, config, now).await
        }
    }
}

async fn fetch_keys(config: &EdgeConfig) -> Result<(KeySet, Option<u64>), &'static str> {
    let KeySource::Url(url) = &config.keys else {
        return Err("no_jwks_url");
    };
    let signal = AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(JWKS_TIMEOUT_MS));
    let mut resp = Fetch::Url(url.clone())
        .send_with_signal(&signal)
        .await
        .map_err(|_| "jwks_fetch_error")?;
    if resp.status_code() != 200 {
        return Err("jwks_status");
    }
    let max_age = resp
        .headers()
        .get("cache-control")
        .ok()
        .flatten()
        .and_then(|cc| cache_policy::max_age(&cc));
    let body = resp.bytes().await.map_err(|_| "jwks_body")?;
    if body.len() > MAX_JWKS_BYTES {
        return Err("jwks_too_large");
    }
    let set = KeySet::from_jwks_json(&body, &config.allowed_algs).map_err(|_| "jwks_unusable")?;
    Ok((set, max_age))
}
