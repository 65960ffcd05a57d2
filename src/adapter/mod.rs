//! The workers-rs adapter: the only code that touches `worker::*`.
//!
//! Phases per request: classify → authenticate → authorize → forward → finalize. Each phase
//! asks the core for a decision and does only the I/O that decision needs.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use worker::{Env, Headers, Request, ResponseBuilder};

use crate::assertion::AssertionCache;
use crate::config::{ConfigError, EdgeConfig};
use crate::gate::{self, Facts, Mode, Reply};
use crate::jwks::JwksCache;
use crate::rejection::{Reason, Rejection, UpstreamFault};
use crate::revocation::RevocationCache;
use crate::route::{AuthRoute, Route};
use crate::target::Target;
use crate::token_cache::TokenCache;

mod assertion;
mod auth;
mod body;
mod facts;
mod fast;
mod flight;
mod js;
mod log;
mod logout;
mod outbound;
mod refresh;
mod revoke;
mod session;
mod store;
mod throttle;
mod upstream;
mod verify;
mod webhook;

use upstream::{forward, Served};

/// Approximate memory bound of the verified-token cache.
const TOKEN_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Per-isolate state: the configuration (read once) and the caches.
pub(super) struct Isolate {
    config: Result<Rc<EdgeConfig>, ConfigError>,
    jwks: JwksCache,
    tokens: TokenCache,
    revocations: RevocationCache,
    /// The identity assertions signed in this isolate, one per identity.
    assertions: AssertionCache,
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
        f(slot.get_or_insert_with(|| new_isolate(env)))
    })
}

/// The isolate state from `env`: the configuration read and validated, empty caches. Not
/// inlined: `with_isolate` is instantiated at every call site, and each would otherwise carry
/// its own copy of the whole configuration reader (measured: 25 copies, 1.3 KB each).
#[inline(never)]
fn new_isolate(env: &Env) -> Isolate {
    let revocations_bound = revoke::bound(env);
    let upstream_bound = env.service(upstream::UPSTREAM_BINDING).is_ok();
    let config = EdgeConfig::from_env(|k| env_value(env, k))
        .and_then(|c| c.with_bindings(revocations_bound, throttle::bound(env)))
        .map(Rc::new);
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
    Isolate {
        config,
        jwks: JwksCache::new(jwks_secs, jwks_timeout_ms),
        tokens: TokenCache::new(entries, TOKEN_CACHE_BYTES, ttl),
        revocations: RevocationCache::new(revocation_secs),
        assertions: AssertionCache::new(),
        client_token: None,
        revocations_bound,
        upstream_bound,
    }
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
/// without a Rust future; everything else takes the full path, which runs the same gate with
/// real I/O, with `ctx` reachable for work that must outlive the response
/// ([`flight::past_response`]).
#[wasm_bindgen]
#[allow(unreachable_pub)] // exported to JS, not to Rust
pub fn fetch(req: web_sys::Request, env: Env, ctx: JsValue) -> js_sys::Promise {
    if let Some(answer) = fast::serve(&req, &env) {
        return answer;
    }
    let request_id = log::new_request_id(js::raw(&req.headers()).get(js::Name::CfRay).as_deref());
    wasm_bindgen_futures::future_to_promise(flight::in_request(ctx, request_id, async move {
        let resp = match handle(req, env).await {
            Ok(resp) => resp,
            Err(_) => {
                log::event(log::Level::Error, "respond", "response_build_failed");
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

/// The full path: the gate's phases, each with the I/O it asks for.
async fn handle(req: web_sys::Request, env: Env) -> worker::Result<web_sys::Response> {
    let read = facts::Read::full(&req);
    let facts = read.facts();
    let config = match with_isolate(&env, |i| i.config.clone()) {
        Ok(c) => c,
        Err(e) => {
            log::config_error(&e);
            let refusal = gate::refusal(None, &Rejection::new(Reason::Misconfigured), false, None);
            return reply(refusal, Served::Unmarked);
        }
    };
    let outcome = match gate::classify(&config, &facts) {
        Err(r) => Err((log::target(facts.url), None, r)),
        Ok(c) => {
            let outcome = match c.route {
                Route::Public => forward(&req, &facts, &c.target, &env, &config, None).await,
                Route::Protected => protected(&req, &c.target, &env, &config, &facts).await,
                Route::Auth(op) => auth_route(op, req, &env, &config, &facts).await,
            };
            outcome.map_err(|r| (c.target.path().to_owned(), Some(c.target), r))
        }
    };
    match outcome {
        Ok(resp) => Ok(resp),
        Err((path, target, rejection)) => {
            log::rejected(facts.method, &path, &rejection);
            let refusal = gate::refusal(
                Some(&config),
                &rejection,
                facts.navigation(),
                target.as_ref(),
            );
            reply(refusal, Served::full(&config))
        }
    }
}

/// A protected request: authenticate (with transparent refresh) and authorize, then forward
/// with the identity.
async fn protected(
    req: &web_sys::Request,
    target: &Target,
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<web_sys::Response, Rejection> {
    let auth = auth::authenticate(env, config, facts, Mode::Forward(target.path())).await?;
    forward(req, facts, target, env, config, Some(&auth)).await
}

/// The edge's own routes.
async fn auth_route(
    op: AuthRoute,
    req: web_sys::Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<web_sys::Response, Rejection> {
    let op = gate::edge_op(config, op, facts)?;
    let answer = session::run(op, Request::from(req), env, config, facts).await?;
    reply(answer, Served::full(config))
        .map_err(|_| Rejection::new(Reason::Upstream(UpstreamFault::Reply)))
}

/// Builds the edge's own answer and finalizes it.
fn reply(reply: Reply, served: Served) -> worker::Result<web_sys::Response> {
    let headers = Headers::new();
    for (name, value) in &reply.headers {
        headers.set(name, value)?;
    }
    let builder = ResponseBuilder::new()
        .with_status(reply.status)
        .with_headers(headers);
    let resp = if reply.body.is_empty() {
        builder.empty()
    } else {
        builder.fixed(reply.body.into_bytes())
    };
    Ok(upstream::finalize_response(
        resp.into(),
        reply.kind,
        &reply.set_cookies,
        served,
    )?)
}
