//! The workers-rs adapter: the only code that touches `worker::*`.
//!
//! Phases per request: classify → authenticate → authorize → forward → finalize. Each phase
//! asks the core for a decision and does only the I/O that decision needs.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use worker::{Env, Headers, Request, Response, ResponseBuilder};

use crate::cache_policy::ResponseKind;
use crate::config::{ConfigError, EdgeConfig};
use crate::jwks::JwksCache;
use crate::rejection::is_navigation;
use crate::rejection::Rejection;
use crate::revocation::RevocationCache;
use crate::route::{self, AuthRoute, Route};
use crate::target::{self, Target};
use crate::token_cache::TokenCache;

mod body;
mod fast;
mod flight;
mod js;
mod log;
mod outbound;
mod revoke;
mod session;
mod store;
mod upstream;
mod verify;

use session::{authenticate, EdgeReply};
use upstream::forward;

/// Approximate memory bound of the verified-token cache.
const TOKEN_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Per-isolate state: the configuration (read once) and the caches.
pub(super) struct Isolate {
    config: Result<Rc<EdgeConfig>, ConfigError>,
    jwks: JwksCache,
    tokens: TokenCache,
    revocations: RevocationCache,
    /// The ClientAccessToken and the second until which it is used.
    client_token: Option<(String, i64)>,
    /// Whether the `REVOCATIONS` KV namespace is bound (bindings do not change while an
    /// isolate lives).
    revocations_bound: bool,
    /// Whether the `UPSTREAM_SERVICE` service binding is bound.
    upstream_bound: bool,
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
            let revocations_bound = revoke::bound(env);
            let upstream_bound = env.service(upstream::UPSTREAM_BINDING).is_ok();
            let config = EdgeConfig::from_env(|k| env_value(env, k)).map(Rc::new);
            let (jwks_secs, jwks_timeout_ms, entries, ttl, revocation_secs) = match &config {
                Ok(c) => (
                    c.jwks_cache_secs,
                    c.jwks_timeout_ms,
                    c.token_cache_entries,
                    c.token_cache_secs,
                    c.revocation.cache_secs,
                ),
                Err(_) => (0, 0, 0, 0, 0),
            };
            let config = config.and_then(|c| {
                // Sessions revoke through KV: without the namespace a logout could not be
                // enforced at the edge, so that combination is a configuration error.
                if c.session.is_some() && !revocations_bound {
                    return Err(ConfigError {
                        key: "REVOCATIONS",
                        problem: "the KV binding is required with SESSION_STORE_URL".into(),
                    });
                }
                Ok(c)
            });
            Isolate {
                config,
                jwks: JwksCache::new(jwks_secs, jwks_timeout_ms),
                tokens: TokenCache::new(entries, TOKEN_CACHE_BYTES, ttl),
                revocations: RevocationCache::new(revocation_secs),
                client_token: None,
                revocations_bound,
                upstream_bound,
            }
        });
        f(isolate)
    })
}

/// The clock, milliseconds since the epoch (`Date.now()`: one runtime call, no allocation).
pub(super) fn now_ms() -> u64 {
    let ms = js_sys::Date::now();
    if ms.is_finite() && ms > 0.0 {
        // Whole milliseconds; a runtime clock is far below 2^53.
        ms as u64
    } else {
        0
    }
}

pub(super) fn now_secs() -> i64 {
    i64::try_from(now_ms() / 1000).unwrap_or(i64::MAX)
}

/// The worker's `fetch` handler, called by the JS entry (`src/adapter/shim.js`).
///
/// A request the isolate's caches can decide entirely (a public path, or a token in the
/// verified-token cache whose revocation answers are cached) is forwarded by [`fast::serve`]
/// without a Rust future; everything else takes the full path, which decides from scratch,
/// with `ctx` reachable for work that must outlive the response ([`flight::past_response`]).
#[wasm_bindgen]
#[allow(unreachable_pub)] // exported to JS, not to Rust
pub fn fetch(req: web_sys::Request, env: Env, ctx: JsValue) -> js_sys::Promise {
    if let Some(answer) = fast::serve(&req, &env) {
        return answer;
    }
    wasm_bindgen_futures::future_to_promise(flight::in_request(ctx, async move {
        let resp = match handle(Request::from(req), env).await {
            Ok(resp) => resp,
            Err(_) => {
                log::event("error", "respond", "response_build_failed");
                internal_error()?
            }
        };
        Ok(resp.into())
    }))
}

/// The last-resort answer when even a rejection could not be built.
fn internal_error() -> Result<web_sys::Response, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(500);
    web_sys::Response::new_with_opt_str_and_init(Some("internal error"), &init)
}

/// The full path: every phase, every decision, every I/O it needs.
async fn handle(req: Request, env: Env) -> worker::Result<web_sys::Response> {
    let config = with_isolate(&env, |i| i.config.clone());
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            log::config_error(&e);
            return rejection_response(&Rejection::misconfigured(), None, false);
        }
    };
    let method = req.method();
    let url = req.inner().url();
    // Only the methods the core allows: workers-rs maps methods it does not know (PROPFIND, …)
    // to GET, and TRACE/CONNECT are not requests for a resource (see `route::METHODS`).
    let raw_method = req.inner().method();
    if raw_method != method.as_ref() || !route::is_allowed_method(&raw_method) {
        let rejection = Rejection::method_not_allowed();
        log::rejected(&method, &log::target(&url), &rejection);
        return rejection_response(&rejection, Some(&config), false);
    }
    // The one parse of the target: classified and forwarded as it is.
    let target = match target::parse(&url) {
        Ok(t) => t,
        Err(e) => {
            let rejection = Rejection::bad_target(e);
            log::rejected(&method, &log::target(&url), &rejection);
            return rejection_response(&rejection, Some(&config), false);
        }
    };
    let path = target.path();
    let navigation = {
        let h = req.headers();
        is_navigation(
            method.as_ref(),
            h.get("sec-fetch-mode").ok().flatten().as_deref(),
            h.get("accept").ok().flatten().as_deref(),
        )
    };
    let route = route::classify(
        method.as_ref(),
        path,
        &config.auth_prefix,
        &config.public_paths,
    );
    let outcome = match route {
        Route::Public => forward(&req, &target, &env, &config, None, &[]).await,
        Route::Protected => protected(req, &target, &env, &config).await,
        Route::Auth(op) => auth_route(op, req, &env, &config).await,
    };
    match outcome {
        Ok(resp) => Ok(resp),
        Err(rejection) => {
            log::rejected(&method, path, &rejection);
            rejection_response(&rejection, Some(&config), navigation)
        }
    }
}

/// A protected request: authenticate (with transparent refresh), CSRF for cookie-carried
/// unsafe requests, then forward with the identity.
async fn protected(
    req: Request,
    target: &Target,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<web_sys::Response, Rejection> {
    let auth = authenticate(&req, env, config).await?;
    if !auth.bearer {
        session::csrf_guard(&req)?;
    }
    forward(
        &req,
        target,
        env,
        config,
        Some((&auth.claims, auth.session_id)),
        &auth.set_cookies,
    )
    .await
}

/// The edge's own routes.
async fn auth_route(
    op: AuthRoute,
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<web_sys::Response, Rejection> {
    let reply = match op {
        AuthRoute::Login => session::login(req, env, config).await?,
        AuthRoute::Refresh => session::refresh_route(req, env, config).await?,
        AuthRoute::Logout => session::logout(req, env, config).await?,
        AuthRoute::LogoutAll => session::logout_all(req, env, config).await?,
        AuthRoute::Session => session::whoami(req, env, config).await?,
        AuthRoute::Sessions => session::sessions(req, env, config).await?,
        AuthRoute::Unknown { wrong_method: true } => return Err(Rejection::method_not_allowed()),
        AuthRoute::Unknown {
            wrong_method: false,
        } => return Err(Rejection::not_found()),
    };
    edge_reply(reply).map_err(|_| Rejection::bad_gateway("reply"))
}

fn edge_reply(reply: EdgeReply) -> worker::Result<web_sys::Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    if let Some(csd) = &reply.clear_site_data {
        headers.set("clear-site-data", csd)?;
    }
    let resp = ResponseBuilder::new()
        .with_status(reply.status)
        .with_headers(headers)
        .fixed(reply.body.to_string().into_bytes());
    finalize(resp, ResponseKind::Edge, &reply.set_cookies)
}

/// Finalize an answer of the edge's own (see [`upstream::finalize_response`]).
pub(super) fn finalize(
    resp: Response,
    kind: ResponseKind,
    set_cookies: &[String],
) -> worker::Result<web_sys::Response> {
    Ok(upstream::finalize_response(resp.into(), kind, set_cookies)?)
}

fn rejection_response(
    r: &Rejection,
    config: Option<&EdgeConfig>,
    navigation: bool,
) -> worker::Result<web_sys::Response> {
    let headers = Headers::new();
    let session = config.and_then(|c| c.session.as_ref().map(|s| (c, s)));
    let set_cookies = match session {
        Some((c, s)) if r.clear_session => session::cleared(c, s),
        _ => Vec::new(),
    };
    // A browser navigation without a usable session goes to the login page.
    if let (true, 401, Some((_, s))) = (navigation, r.status, session) {
        headers.set("location", &s.login_path)?;
        let resp = ResponseBuilder::new()
            .with_status(303)
            .with_headers(headers)
            .empty();
        return finalize(resp, ResponseKind::Edge, &set_cookies);
    }
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
    finalize(resp, ResponseKind::Edge, &set_cookies)
}
