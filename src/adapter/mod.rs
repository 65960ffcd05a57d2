//! The workers-rs adapter: the only code that touches `worker::*`.
//!
//! Phases per request: classify → authenticate → authorize → forward → finalize. Each phase
//! asks the core for a decision and does only the I/O that decision needs.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use worker::{
    event, AbortSignal, Context, Date, Env, Fetch, Headers, Method, Request, RequestInit,
    RequestRedirect, Response, ResponseBuilder,
};

use crate::cache_policy::{self, ResponseKind};
use crate::challenge::Rejection;
use crate::config::{ConfigError, EdgeConfig, KeySource};
use crate::credentials::{self, Credential};
use crate::forward;
use crate::jwks::{JwksCache, KeysPlan};
use crate::keys::KeySet;
use crate::route::{self, AuthRoute, Route};
use crate::token::{self, TokenError, VerifiedClaims};
use crate::token_cache::{self, TokenCache};

mod log;

/// Largest JWKS document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// How long a JWKS fetch may take.
const JWKS_TIMEOUT_MS: u32 = 5_000;
/// Approximate memory bound of the verified-token cache.
const TOKEN_CACHE_BYTES: usize = 4 * 1024 * 1024;
/// Request headers that describe one hop and are not forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "cookie",
];

/// Per-isolate state: the configuration (read once) and the caches.
struct Isolate {
    config: Result<Rc<EdgeConfig>, ConfigError>,
    jwks: JwksCache,
    tokens: TokenCache,
}

thread_local! {
    static ISOLATE: RefCell<Option<Isolate>> = const { RefCell::new(None) };
}

fn env_value(env: &Env, key: &str) -> Option<String> {
    if let Ok(v) = env.var(key) {
        return Some(v.to_string());
    }
    env.secret(key).ok().map(|s| s.to_string())
}

/// Runs `f` on the isolate state, creating it from `env` on first use. Never held across an
/// `await`.
fn with_isolate<T>(env: &Env, f: impl FnOnce(&mut Isolate) -> T) -> T {
    ISOLATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let isolate = slot.get_or_insert_with(|| {
            let config = EdgeConfig::from_env(|k| env_value(env, k)).map(Rc::new);
            let (jwks_secs, entries, ttl) = match &config {
                Ok(c) => (c.jwks_cache_secs, c.token_cache_entries, c.token_cache_secs),
                Err(_) => (0, 0, 0),
            };
            Isolate {
                config,
                jwks: JwksCache::new(jwks_secs),
                tokens: TokenCache::new(entries, TOKEN_CACHE_BYTES, ttl),
            }
        });
        f(isolate)
    })
}

fn now_secs() -> i64 {
    i64::try_from(Date::now().as_millis() / 1000).unwrap_or(i64::MAX)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let config = with_isolate(&env, |i| i.config.clone());
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            log::config_error(&e);
            return rejection_response(&Rejection::misconfigured());
        }
    };
    let method = req.method();
    let path = req.path();
    let route = route::classify(
        method.as_ref(),
        &path,
        &config.auth_prefix,
        &config.public_paths,
    );
    let outcome = match route {
        Route::Public => forward(req, &config, None).await,
        Route::Protected => match authenticate(&req, &env, &config).await {
            Ok((claims, session_id)) => forward(req, &config, Some((&claims, session_id))).await,
            Err(rejection) => Err(rejection),
        },
        Route::Auth(op) => auth_route(op, &req, &env, &config).await,
    };
    match outcome {
        Ok(resp) => Ok(resp),
        Err(rejection) => {
            log::rejected(&method, &path, &rejection);
            rejection_response(&rejection)
        }
    }
}

/// The edge's own routes. `GET /auth/session` answers from the verified token; the session
/// operations arrive with the session-flow work.
async fn auth_route(
    op: AuthRoute,
    req: &Request,
    env: &Env,
    config: &EdgeConfig,
) -> Result<Response, Rejection> {
    match op {
        AuthRoute::Session => {
            let (claims, session_id) = authenticate(req, env, config).await?;
            let body = serde_json::json!({
                "subject": claims.sub,
                "session_id": claims.sid.clone().or(session_id),
                "roles": claims.roles,
                "client_id": claims.client_id,
                "scope": claims.scope,
                "expires_at": claims.exp,
                "issued_at": claims.iat,
            });
            let resp = Response::from_json(&body).map_err(|_| Rejection::bad_gateway("json"))?;
            finalize(resp, ResponseKind::Edge).map_err(|_| Rejection::bad_gateway("finalize"))
        }
        _ => Err(Rejection::not_found()),
    }
}

/// Authenticate and authorize: a valid access token from the header or the cookie.
async fn authenticate(
    req: &Request,
    env: &Env,
    config: &EdgeConfig,
) -> Result<(Arc<VerifiedClaims>, Option<String>), Rejection> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let cookie = headers.get("cookie").ok().flatten();
    let credential =
        credentials::extract(authorization.as_deref(), cookie.as_deref(), &config.access_cookie)
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

async fn verify_token(
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
    with_isolate(env, |i| i.tokens.insert(cache_key, Arc::clone(&claims), now));
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

/// Forward: the request to the upstream with the edge's cookies and client identity headers
/// removed and the verified identity added; then finalize the response.
async fn forward(
    req: Request,
    config: &EdgeConfig,
    identity: Option<(&VerifiedClaims, Option<String>)>,
) -> Result<Response, Rejection> {
    let url = req.url().map_err(|_| Rejection::invalid_request("bad_url"))?;
    let mut target = config.upstream.clone();
    target.set_path(url.path());
    target.set_query(url.query());

    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if HOP_BY_HOP.contains(&name.as_str()) || forward::is_identity_header(&name) {
            continue;
        }
        headers
            .append(&name, &value)
            .map_err(|_| Rejection::invalid_request("bad_header"))?;
    }
    if let Some(cookie) = req.headers().get("cookie").ok().flatten() {
        let edge = [config.access_cookie.as_str(), config.session_cookie.as_str()];
        if let Some(kept) = forward::strip_edge_cookies(&cookie, &edge) {
            headers
                .set("cookie", &kept)
                .map_err(|_| Rejection::invalid_request("bad_cookie"))?;
        }
    }
    let kind = match identity {
        Some((claims, session_id)) => {
            let identity = forward::identity_headers(claims, session_id.as_deref())
                .map_err(|_| Rejection::invalid_token(&TokenError::MalformedClaims(String::new())))?;
            for (name, value) in identity {
                headers
                    .set(name, &value)
                    .map_err(|_| Rejection::invalid_request("bad_identity"))?;
            }
            ResponseKind::Authenticated
        }
        None => ResponseKind::Public,
    };

    let method = req.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if !matches!(method, Method::Get | Method::Head) {
        if let Some(body) = req.inner().body() {
            init.with_body(Some(body.into()));
        }
    }
    let upstream_req = Request::new_with_init(target.as_str(), &init)
        .map_err(|_| Rejection::invalid_request("bad_upstream_request"))?;
    let resp = Fetch::Request(upstream_req)
        .send()
        .await
        .map_err(|_| Rejection::bad_gateway("upstream_fetch"))?;
    finalize(resp, kind).map_err(|_| Rejection::bad_gateway("finalize"))
}

/// Finalize: cache headers by the core's table, on a mutable copy of the response.
fn finalize(resp: Response, kind: ResponseKind) -> worker::Result<Response> {
    let status = resp.status_code();
    // A fetched response's headers are immutable: copy them (Set-Cookie entries stay separate).
    let headers = Headers::new();
    for (name, value) in resp.headers().entries() {
        headers.append(&name, &value)?;
    }
    let (_, body) = resp.into_parts();
    let sets_cookie = headers.has("set-cookie")?;
    let decision = cache_policy::decide(
        kind,
        headers.get("cache-control")?.as_deref(),
        headers.get("vary")?.as_deref(),
        sets_cookie,
    );
    if let Some(cc) = decision.cache_control {
        headers.set("cache-control", &cc)?;
    }
    if let Some(vary) = decision.vary {
        headers.set("vary", &vary)?;
    }
    Ok(ResponseBuilder::new()
        .with_status(status)
        .with_headers(headers)
        .body(body))
}

fn rejection_response(r: &Rejection) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    if let Some(challenge) = &r.www_authenticate {
        headers.set("www-authenticate", challenge)?;
    }
    if let Some(after) = r.retry_after {
        headers.set("retry-after", &after.to_string())?;
    }
    let resp = ResponseBuilder::new()
        .with_status(r.status)
        .with_headers(headers)
        .fixed(r.body().into_bytes());
    finalize(resp, ResponseKind::Edge)
}
