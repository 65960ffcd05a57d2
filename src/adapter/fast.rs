//! The fast path: a request the isolate's caches decide entirely, forwarded without a Rust
//! future.
//!
//! It answers only when the full path would forward the request without any I/O of its own:
//! a public path, or a protected one whose access token is in the verified-token cache and
//! whose revocation answers (user and session) are in the revocation cache, with the session
//! cookie (when sessions are on and the token came in a cookie) valid for this client.
//! Anything else (a miss, a rejection, a refresh, an `/auth/*` route, a cookie-carried unsafe
//! request the CSRF check refuses, a method or a target the core refuses) returns `None` and
//! the full path decides from scratch, with its logging: the fast path never rejects and never
//! logs a decision, so it cannot disagree with the full path, only defer to it.
//!
//! Why it exists: on a warm token the full path's cost was mostly the plumbing of an async
//! workers-rs handler (futures woken through microtasks, wrapper objects, a timer per
//! request), not the checks. Here the upstream fetch's promise is chained directly to a
//! finalizer created once per isolate (bench/README.md has the numbers).

use std::cell::OnceCell;
use std::sync::Arc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Env;

use super::js::{self, Name, RawHeaders};
use super::upstream::{self, failure, finalize_response, Incoming};
use super::{log, now_secs, rejection_response, revoke, with_isolate};
use crate::cache_policy::ResponseKind;
use crate::config::EdgeConfig;
use crate::csrf::{self, CsrfVerdict};
use crate::rejection::Rejection;
use crate::route::{self, Route};
use crate::session_cookie::{ClientProps, IpBinding};
use crate::session_rules::{self, Presented};
use crate::target;
use crate::token::VerifiedClaims;
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
}

/// A promise callback; an `Err` rejects the chained promise (the runtime then answers 500).
type Handler = Closure<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>;

/// The promise callbacks of the fast path, one set per isolate (never freed: they live as
/// long as the module instance).
struct Finalizers {
    authenticated: Handler,
    public: Handler,
    failed: Handler,
}

thread_local! {
    static FINALIZERS: OnceCell<Finalizers> = const { OnceCell::new() };
}

/// `f` with this isolate's finalizers (made on first use).
fn with_finalizers<T>(f: impl FnOnce(&Finalizers) -> T) -> T {
    FINALIZERS.with(|cell| {
        f(cell.get_or_init(|| Finalizers {
            authenticated: finalizer(ResponseKind::Authenticated),
            public: finalizer(ResponseKind::Public),
            failed: Closure::new(|error: JsValue| respond_rejection(&failure(&error))),
        }))
    })
}

fn finalizer(kind: ResponseKind) -> Handler {
    Closure::new(
        move |resp: JsValue| match finalize_response(resp.unchecked_into(), kind, &[]) {
            Ok(resp) => Ok(resp.into()),
            Err(_) => respond_rejection(&Rejection::bad_gateway("finalize")),
        },
    )
}

/// A 502/504 for a forward that got no (usable) answer. Logged here: the full path never saw
/// this request.
fn respond_rejection(rejection: &Rejection) -> Result<JsValue, JsValue> {
    log::event("error", "forward", rejection.log_reason);
    rejection_response(rejection, None, false)
        .map(JsValue::from)
        .map_err(|_| JsValue::from_str("edge-session: could not build the error response"))
}

/// Forwards `req` if the caches decide it; `None` sends it down the full path.
pub(super) fn serve(req: &web_sys::Request, env: &Env) -> Option<js_sys::Promise> {
    let config = with_isolate(env, |i| i.config.clone()).ok()?;
    if !config.fast_path {
        return None;
    }
    // Other methods, and targets the core refuses, are the full path's to refuse (and log).
    let method = req.method();
    if !route::is_allowed_method(&method) {
        return None;
    }
    let url = req.url();
    let target = target::parse(&url).ok()?;
    let route = route::classify(
        &method,
        target.path(),
        &config.auth_prefix,
        &config.public_paths,
    );
    if matches!(route, Route::Auth(_)) {
        return None;
    }
    let all = req.headers();
    let headers = js::raw(&all);
    let cookie = headers.get(Name::Cookie);
    let incoming = Incoming {
        req,
        method: &method,
        target: &target,
        headers: &all,
        cookie: cookie.as_deref(),
    };
    let prepared = match route {
        Route::Auth(_) => None,
        Route::Public => upstream::prepare(&incoming, &config, None).ok(),
        Route::Protected => {
            let (claims, session_id) =
                authenticated(env, &config, headers, &method, &url, cookie.as_deref())?;
            upstream::prepare(&incoming, &config, Some((&claims, session_id.as_deref()))).ok()
        }
    }?;
    let sent = upstream::send(env, &prepared);
    Some(with_finalizers(|f| {
        let fulfilled = match prepared.kind {
            ResponseKind::Public => &f.public,
            _ => &f.authenticated,
        };
        sent.unchecked_ref::<Pending>().then_both(
            fulfilled.as_ref().unchecked_ref(),
            f.failed.as_ref().unchecked_ref(),
        )
    }))
}

/// The verified claims and session id of a protected request, when the caches alone say it
/// may pass; `None` when the full path has to look (or to refuse). The same core calls as the
/// full path's `session::authenticate`, in the same order of meaning.
fn authenticated(
    env: &Env,
    config: &EdgeConfig,
    headers: &RawHeaders,
    method: &str,
    url: &str,
    cookie: Option<&str>,
) -> Option<(Arc<VerifiedClaims>, Option<String>)> {
    let authorization = headers.get(Name::Authorization);
    // Only the client properties the session cookie's binding uses are read.
    let (user_agent, ip) = match &config.session {
        Some(s) => (
            s.binding
                .user_agent
                .then(|| headers.get(Name::UserAgent))
                .flatten(),
            (s.binding.ip != IpBinding::Off)
                .then(|| headers.get(Name::ConnectingIp))
                .flatten(),
        ),
        None => (None, None),
    };
    let props = ClientProps {
        user_agent: user_agent.as_deref(),
        ip: ip.as_deref(),
    };
    let presented =
        session_rules::present(config, authorization.as_deref(), cookie, &props).ok()?;
    let (token, minted_ms, bearer) = match &presented {
        Presented::Bearer { token, .. } => (*token, None, true),
        Presented::Cookie {
            token, minted_ms, ..
        } => (token.as_str(), *minted_ms, false),
        Presented::SessionOnly(_) | Presented::Nothing => return None,
    };
    // Cookie-carried unsafe requests pass the CSRF check; a refusal is the full path's to
    // give (and log).
    if !bearer && !csrf::is_safe_method(method) {
        let own_origin = csrf::serialized_origin(url)?;
        let verdict = csrf::check(
            method,
            headers.get(Name::SecFetchSite).as_deref(),
            headers.get(Name::Origin).as_deref(),
            own_origin,
        );
        if verdict != CsrfVerdict::Allow {
            return None;
        }
    }
    // A token the cache certainly does not hold (a new token, the cold case) goes to the full
    // path without being hashed here as well as there.
    let now = now_secs();
    let claims = with_isolate(env, |i| {
        if !i.tokens.may_hold(token) {
            return None;
        }
        i.tokens.get(&token_cache::key_of(token), now)
    })?;
    let session = presented.session();
    if let Some(s) = session {
        session_rules::token_fits_session(&claims, &s.cookie).ok()?;
    }
    let cookie_session = session.filter(|_| !bearer).map(|s| &s.cookie);
    let session_id = session_rules::session_id_of(&claims, cookie_session);
    let issued = session_rules::issued(&claims, minted_ms);
    if !revoke::allowed_by_cache(env, config, &claims.sub, session_id.as_deref(), issued, now) {
        return None;
    }
    Some((claims, session_id))
}
