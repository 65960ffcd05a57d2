//! The workers-rs adapter: the only code that touches `worker::*`.
//!
//! Phases per request: classify → authenticate → authorize → forward → finalize. Each phase
//! asks the core for a decision and does only the I/O that decision needs.

use std::cell::RefCell;
use std::rc::Rc;

use worker::{event, Context, Date, Env, Headers, Request, Response, ResponseBuilder};

use crate::cache_policy::{self, ResponseKind};
use crate::challenge::Rejection;
use crate::config::{ConfigError, EdgeConfig};
use crate::jwks::JwksCache;
use crate::route::{self, AuthRoute, Route};
use crate::token_cache::TokenCache;

mod log;
mod upstream;
mod verify;

use upstream::forward;
use verify::authenticate;

/// Approximate memory bound of the verified-token cache.
const TOKEN_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Per-isolate state: the configuration (read once) and the caches.
pub(super) struct Isolate {
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
pub(super) fn with_isolate<T>(env: &Env, f: impl FnOnce(&mut Isolate) -> T) -> T {
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

pub(super) fn now_secs() -> i64 {
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

/// Finalize: cache headers by the core's table, on a mutable copy of the response.
pub(super) fn finalize(resp: Response, kind: ResponseKind) -> worker::Result<Response> {
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
