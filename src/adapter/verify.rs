//! Authenticate: find the access token, verify it against the (cached) key set, cache the
//! verified claims. Key fetching follows the core's [`crate::jwks::JwksCache`] plan: one
//! fetch in flight per isolate, which the other requests wait for on their own timers
//! ([`flight::poll_until`]), or which runs past the response while they use stale keys
//! ([`flight::past_response`]).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{Delay, Env, Method, Request};

use super::flight;
use super::outbound::{self, OutboundError, Peer};
use super::{log, now_ms, now_secs, with_isolate};
use crate::audit;
use crate::cache_policy;
use crate::config::{EdgeConfig, KeySource};
use crate::gate::VerifyFailure;
use crate::jwks::{self, FetchTicket, InFlight, KeysPlan, RefetchPlan};
use crate::keys::{Alg, KeySet};
use crate::rejection::{Reason, Rejection};
use crate::token::{self, Policy, SignatureVerified, TokenError, VerifiedClaims};
use crate::token_cache;
use crate::webcrypto;

/// Largest JWKS document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How often a request waiting for another request's JWKS fetch looks again.
const WAIT_POLL_MS: u64 = 10;

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
    let mut keys = key_set(env, config)
        .await
        .map_err(|_| VerifyFailure::Keys)?;
    let key = match inspected.select_key(&keys) {
        Err(e) if jwks::refetch_for(&e, &config.keys) => {
            let knows_kid =
                |set: &KeySet| !matches!(inspected.select_key(set), Err(TokenError::UnknownKey));
            keys = refetch_keys(env, config, Arc::clone(&keys), knows_kid)
                .await
                .map_err(|_| VerifyFailure::Keys)?;
            inspected.select_key(&keys)
        }
        other => other,
    }
    .map_err(VerifyFailure::Token)?;
    // The signature through the runtime's WebCrypto, and nothing else: where it cannot answer
    // (no `crypto.subtle`, a key it will not import, a `verify` that throws) the keys are
    // unusable and the request gets the same 503 as keys that could not be fetched. The
    // pure-Rust check is not linked into the worker (90 KB of the wasm; README "Fails closed").
    let valid = match webcrypto::verify(key, inspected.signed_data(), inspected.signature()).await {
        Ok(valid) => valid,
        Err(why) => {
            if webcrypto::note_unavailable(why) {
                log::signature_unavailable(why.reason(), key.alg.name());
            }
            return Err(VerifyFailure::Keys);
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

/// What a JWKS fetch needs, owned, so a refresh can outlive the request that started it.
struct JwksSource {
    url: url::Url,
    peer: Peer,
    allowed_algs: Vec<Alg>,
    timeout_ms: u32,
}

impl JwksSource {
    /// Made only for a fetch that runs (it copies the URL and the algorithms).
    fn new(config: &EdgeConfig, url: &url::Url) -> Self {
        Self {
            url: url.clone(),
            peer: outbound::jwks_peer(config, url),
            allowed_algs: config.allowed_algs.clone(),
            timeout_ms: config.jwks_timeout_ms,
        }
    }
}

/// The clock for the JWKS cache, milliseconds.
fn clock() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

/// The keys for this request, following the core's plan: the cached keys; stale keys while
/// one refresh runs past the response; the isolate's one fetch (run here, or waited for on
/// this request's own timer); or 503.
async fn key_set(env: &Env, config: &EdgeConfig) -> Result<Arc<KeySet>, Rejection> {
    let url = match &config.keys {
        KeySource::Inline(keys) => return Ok(Arc::clone(keys)),
        KeySource::Url(url) => url,
    };
    // A wait ends with the fetch settled; the next plan uses its result, or (the fetch was
    // abandoned) runs a new one. Three rounds cover that.
    for _ in 0..3 {
        match with_isolate(env, |i| i.jwks.plan(clock())) {
            KeysPlan::Use(keys) => return Ok(keys),
            KeysPlan::Unavailable => return Err(Rejection::new(Reason::KeysUnavailable)),
            KeysPlan::UseStaleAndRefresh { stale, ticket } => {
                let refresh = {
                    let (env, source) = (env.clone(), JwksSource::new(config, url));
                    async move {
                        fetch_and_record(&env, &source, ticket).await;
                    }
                };
                if let Err(refresh) = flight::past_response(refresh) {
                    // No execution context to keep it alive: this request refreshes itself
                    // (within the deadline); every other request uses the stale keys meanwhile.
                    refresh.await;
                }
                return Ok(stale);
            }
            KeysPlan::Fetch(ticket) => {
                return fetch_and_record(env, &JwksSource::new(config, url), ticket)
                    .await
                    .ok_or_else(|| Rejection::new(Reason::KeysUnavailable))
            }
            KeysPlan::Wait(fetch) => wait_settled(env, &fetch).await,
        }
    }
    Err(Rejection::new(Reason::KeysUnavailable))
}

/// The keys after a refetch for an unknown `kid` (at most one per 30 s per isolate, through
/// the single flight), or `have` when there is none. `knows_kid` tells whether a key set has
/// the token's `kid`: after waiting for another request's fetch, its keys are looked at first.
async fn refetch_keys(
    env: &Env,
    config: &EdgeConfig,
    mut have: Arc<KeySet>,
    knows_kid: impl Fn(&KeySet) -> bool,
) -> Result<Arc<KeySet>, Rejection> {
    let KeySource::Url(url) = &config.keys else {
        return Ok(have);
    };
    // A wait ends with the other fetch settled: its keys may have the kid; if not (or it was
    // abandoned), plan again. Three rounds cover that.
    for _ in 0..3 {
        match with_isolate(env, |i| i.jwks.plan_refetch(clock())) {
            RefetchPlan::Skip => return Ok(have),
            RefetchPlan::Fetch(ticket) => {
                return Ok(fetch_and_record(env, &JwksSource::new(config, url), ticket)
                    .await
                    .unwrap_or(have))
            }
            RefetchPlan::Wait(fetch) => {
                wait_settled(env, &fetch).await;
                have = key_set(env, config).await?;
                if knows_kid(&have) {
                    return Ok(have);
                }
            }
        }
    }
    Ok(have)
}

/// Waits on this request's own timer until another request's fetch has settled (reported, or
/// abandoned by the core's clock).
async fn wait_settled(env: &Env, fetch: &InFlight) {
    let until = u64::try_from(fetch.settled_by_ms())
        .unwrap_or(0)
        .saturating_add(WAIT_POLL_MS);
    let settled = flight::poll_until(WAIT_POLL_MS, until, || {
        with_isolate(env, |i| i.jwks.settled(fetch, clock())).then_some(())
    })
    .await;
    if settled.is_none() {
        log::event(log::Level::Error, "keys", "jwks_wait_stalled");
    }
}

/// Runs the fetch `ticket` is for and reports it to the cache at the time it ended (so a
/// back-off counts from the failure). The fetched keys, or on failure the keys still usable.
async fn fetch_and_record(
    env: &Env,
    source: &JwksSource,
    ticket: FetchTicket,
) -> Option<Arc<KeySet>> {
    match fetch_keys(env, source).await {
        Ok((set, max_age)) => Some(with_isolate(env, |i| {
            i.jwks.on_fetched(ticket, clock(), set, max_age)
        })),
        Err((why, status)) => {
            let usable = with_isolate(env, |i| i.jwks.on_failed(ticket, clock()));
            log::jwks_failed(&audit::host(&source.url), why, status, usable.is_some());
            usable
        }
    }
}

/// Why a JWKS fetch failed, and the status it got if it got one.
type FetchFailure = (&'static str, Option<u16>);

/// One JWKS fetch, the body included, within the source's deadline.
async fn fetch_keys(env: &Env, source: &JwksSource) -> Result<(KeySet, Option<u64>), FetchFailure> {
    let whole = async {
        let req = Request::new(source.url.as_str(), Method::Get)
            .map_err(|_| ("jwks_fetch_error", None))?;
        let resp = outbound::send(env, source.peer, req, source.timeout_ms)
            .await
            .map_err(|e| match e {
                OutboundError::Timeout => ("jwks_timeout", None),
                OutboundError::Network => ("jwks_fetch_error", None),
            })?;
        let status = resp.status_code();
        if status != 200 {
            return Err(("jwks_status", Some(status)));
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
                super::body::ReadError::Refused(_) => ("jwks_too_large", Some(status)),
                super::body::ReadError::Unreadable => ("jwks_body", Some(status)),
            })?;
        let set = KeySet::from_jwks_json(&body, &source.allowed_algs)
            .map_err(|_| ("jwks_unusable", Some(status)))?;
        Ok((set, max_age))
    };
    // `outbound::send` bounds the wait for the response head; this bounds the body as well.
    let deadline = Delay::from(Duration::from_millis(u64::from(source.timeout_ms)));
    futures_util::pin_mut!(whole);
    match select(whole, deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(("jwks_timeout", None)),
    }
}
