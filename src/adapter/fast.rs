//! The fast path: a request the isolate's caches decide entirely, forwarded without a Rust
//! future.
//!
//! It is the gate's own machine ([`crate::gate`]) run on the isolate's caches: it answers only
//! when the full path would forward the request without any I/O of its own (a public path, or
//! a protected one whose access token is in the verified-token cache and whose revocation
//! answers are cached). At the first need the caches cannot meet (a miss, a refresh), at any
//! refusal (a method, a target, a CSRF refusal), and for the edge's own routes it returns
//! `None` and the full path decides from scratch, with its logging: the fast path never
//! refuses and never logs a decision, so it cannot disagree with the full path, only defer to
//! it.
//!
//! Why it exists: on a warm token the full path's cost was mostly the plumbing of an async
//! workers-rs handler (futures woken through microtasks, wrapper objects, a timer per
//! request), not the checks. Here the upstream fetch's promise is chained directly to a
//! finalizer created once per isolate (bench/README.md has the numbers).

use std::cell::OnceCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Env;

use super::facts::Read;
use super::js;
use super::upstream::{self, failure, finalize_response, Incoming, Served};
use super::{log, now_secs, revoke, with_isolate};
use crate::audit;
use crate::cache_policy::ResponseKind;
use crate::config::EdgeConfig;
use crate::gate::{self, Answer, Authenticated, Authentication, Facts, Mode, Next};
use crate::rejection::{Reason, Rejection, UpstreamFault};
use crate::route::{self, Route};
use crate::token_cache;

#[wasm_bindgen]
extern "C" {
    /// The upstream fetch's promise, seen only through its `then`.
    type Pending;
    /// `promise.then(onFulfilled, onRejected)` with functions made once per isolate.
    #[wasm_bindgen(method, js_name = then)]
    fn then_both(
        this: &Pending,
        fulfilled: &js_sys::Function,
        rejected: &js_sys::Function,
    ) -> js_sys::Promise;

    /// A callback made once per isolate, seen only through its `bind`.
    type Callback;
    /// `callback.bind(null, request)`: the callback with the request as its first argument.
    #[wasm_bindgen(method, js_name = bind)]
    fn bind_request(
        this: &Callback,
        this_arg: &JsValue,
        req: &web_sys::Request,
    ) -> js_sys::Function;
}

/// A promise callback; an `Err` rejects the chained promise (the runtime then answers 500).
type Handler = Closure<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>;

/// The rejection callback, called with the request (bound per request: its log line needs
/// the request's id) and the error.
type FailureHandler = Closure<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>>;

/// The promise callbacks of the fast path, one set per isolate (never freed: they live as
/// long as the module instance).
struct Finalizers {
    authenticated: Handler,
    public: Handler,
    /// The same, marked `Server-Timing: edge;desc="fast"` (`SERVER_TIMING`).
    authenticated_marked: Handler,
    public_marked: Handler,
    failed: FailureHandler,
}

thread_local! {
    static FINALIZERS: OnceCell<Finalizers> = const { OnceCell::new() };
}

/// `f` with this isolate's finalizers (made on first use, naming `config`'s upstream host in
/// failure lines: the configuration does not change while the isolate lives).
fn with_finalizers<T>(config: &EdgeConfig, f: impl FnOnce(&Finalizers) -> T) -> T {
    FINALIZERS.with(|cell| {
        f(cell.get_or_init(|| {
            let host = audit::host(&config.upstream);
            Finalizers {
                authenticated: finalizer(ResponseKind::Authenticated, Served::Unmarked),
                public: finalizer(ResponseKind::Public, Served::Unmarked),
                authenticated_marked: finalizer(ResponseKind::Authenticated, Served::Fast),
                public_marked: finalizer(ResponseKind::Public, Served::Fast),
                failed: Closure::new(move |req: JsValue, error: JsValue| {
                    let req: web_sys::Request = req.unchecked_into();
                    let cf_ray = js::raw(&req.headers()).get(js::Name::CfRay);
                    let request_id = log::new_request_id(cf_ray.as_deref());
                    let path = log::target(&req.url());
                    let rejection = failure(&error, &host, &request_id, &path);
                    respond_rejection(&rejection)
                }),
            }
        }))
    })
}

fn finalizer(kind: ResponseKind, served: Served) -> Handler {
    Closure::new(move |resp: JsValue| {
        match finalize_response(resp.unchecked_into(), kind, &[], served) {
            Ok(resp) => Ok(resp.into()),
            Err(_) => {
                let request_id = log::new_request_id(None);
                let rejection = Rejection::new(Reason::Upstream(UpstreamFault::Finalize));
                log::event_of(&request_id, log::Level::Error, "forward", "finalize", &[]);
                respond_rejection(&rejection)
            }
        }
    })
}

/// A 502/504 for a forward that got no (usable) answer (logged by the caller: the full path
/// never saw this request).
fn respond_rejection(rejection: &Rejection) -> Result<JsValue, JsValue> {
    let answer = gate::refusal(None, rejection, false, None);
    super::reply(answer, Served::Unmarked)
        .map(JsValue::from)
        .map_err(|_| JsValue::from_str("edge-session: could not build the error response"))
}

/// Forwards `req` if the caches decide it; `None` sends it down the full path.
///
/// The same gate as the full path ([`gate::classify`], [`Authentication`]), run on the
/// isolate's caches: it gives up at the first need they cannot answer (a token not in the
/// verified-token cache, a revocation answer not cached, a refresh) and at any refusal.
pub(super) fn serve(req: &web_sys::Request, env: &Env) -> Option<js_sys::Promise> {
    let config = with_isolate(env, |i| i.config.clone()).ok()?;
    if !config.fast_path {
        return None;
    }
    let method = req.method();
    // Methods the core refuses are the full path's to refuse (and log); checked before
    // anything else is read.
    if !route::is_allowed_method(&method) {
        return None;
    }
    let read = Read::fast(req, &config, method);
    let facts = read.facts();
    let classified = gate::classify(&config, &facts).ok()?;
    let auth = match classified.route {
        Route::Auth(_) => return None,
        Route::Public => None,
        Route::Protected => Some(authenticated(
            env,
            &config,
            &facts,
            classified.target.path(),
        )?),
    };
    let assertion = match &auth {
        Some(a) => super::assertion::cached(env, &config, a, now_secs())?,
        None => None,
    };
    let all = req.headers();
    let incoming = Incoming {
        req,
        method: facts.method,
        url: facts.url,
        websocket: false,
        fast: true,
        target: &classified.target,
        headers: &all,
        cookie: facts.cookie,
    };
    let identity = auth.as_ref().map(|a| (&*a.claims, a.session_id.as_deref()));
    let prepared = upstream::prepare(&incoming, &config, identity, assertion.as_deref()).ok()?;
    let sent = upstream::send(env, &prepared);
    let marked = config.server_timing;
    Some(with_finalizers(&config, |f| {
        let fulfilled = match (prepared.kind, marked) {
            (ResponseKind::Public, false) => &f.public,
            (ResponseKind::Public, true) => &f.public_marked,
            (_, false) => &f.authenticated,
            (_, true) => &f.authenticated_marked,
        };
        // The failure callback gets this request (one `bind` call); the request id is read
        // from it only when the upstream failed.
        let failed = f
            .failed
            .as_ref()
            .unchecked_ref::<Callback>()
            .bind_request(&JsValue::NULL, req);
        sent.unchecked_ref::<Pending>()
            .then_both(fulfilled.as_ref().unchecked_ref(), &failed)
    }))
}

/// The gate's authentication and authorization (CSRF, the route policy of `path`) on the
/// isolate's caches alone: the identity when they decide the request passes; `None` at the
/// first need they cannot answer, or a refusal.
fn authenticated(
    env: &Env,
    config: &EdgeConfig,
    facts: &Facts<'_>,
    path: &str,
) -> Option<Authenticated> {
    let now = now_secs();
    let mut machine = Authentication::start(config, facts, Mode::Forward(path), now);
    // Two needs at most are met here (the token, the revocation answers).
    for _ in 0..3 {
        let answer = match machine.next() {
            Next::Done => return machine.outcome().ok(),
            Next::VerifyToken(token) => {
                // A token the cache certainly does not hold (a new token, the cold case)
                // goes to the full path without being hashed here as well as there.
                let claims = with_isolate(env, |i| {
                    if !i.tokens.may_hold(token) {
                        return None;
                    }
                    i.tokens.get(&token_cache::key_of(token), now)
                })?;
                Answer::Verified(Ok(claims))
            }
            Next::ReadRevocation {
                subject,
                session_id,
            } => Answer::Revocation(revoke::cached(env, subject, session_id, now)?),
            Next::RefreshSession { .. } => return None,
        };
        machine.resume(answer);
    }
    None
}
