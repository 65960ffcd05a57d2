//! Forward: the request to the upstream with the edge's cookies and the headers the edge sets
//! itself removed, and the verified identity, its signed assertion and `X-Forwarded-*` added;
//! then finalize the upstream's answer. A WebSocket handshake goes the same way with its
//! `Upgrade: websocket`, and the upstream's `101` (with its socket) is the answer.
//!
//! Works on the runtime's own `Request`/`Response` objects (`web_sys`), not workers-rs'
//! wrappers: this is the hot path, and every wrapper conversion is a round of JS calls. The
//! same three steps serve the fast path ([`super::fast`], chained on the fetch promise) and
//! the full path ([`forward`], awaited):
//! [`prepare`] → [`send`] → [`finalize_response`] (or [`failure`] when no answer came).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCache, RequestInit, RequestRedirect, ResponseInit};
use worker::Env;

use super::js::{self, Name};
use super::{assertion, with_isolate};
use crate::audit;
use crate::cache_policy::{self, ResponseKind};
use crate::config::EdgeConfig;
use crate::forward;
use crate::gate::{Authenticated, Facts};
use crate::rejection::{Reason, Rejection, TokenFault, UpstreamFault};
use crate::target::Target;
use crate::token::VerifiedClaims;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (used when no `UPSTREAM_SERVICE` binding is bound).
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Result<js_sys::Promise, JsValue>;

    /// A service binding (`Fetcher`), seen only through its `fetch`.
    type ServiceFetcher;
    #[wasm_bindgen(catch, method, js_name = fetch)]
    fn fetch(
        this: &ServiceFetcher,
        url: &str,
        init: &RequestInit,
    ) -> Result<js_sys::Promise, JsValue>;
}

/// The service binding that reaches the upstream application.
pub(super) const UPSTREAM_BINDING: &str = "UPSTREAM_SERVICE";

/// The request for the upstream (URL and init, handed to `fetch` as they are: no `Request`
/// object of our own) and how its answer is to be finalized.
pub(super) struct Upstream {
    pub(super) url: String,
    pub(super) init: RequestInit,
    pub(super) kind: ResponseKind,
}

/// What [`prepare`] needs of the incoming request, read once by the caller.
pub(super) struct Incoming<'a> {
    pub(super) req: &'a web_sys::Request,
    pub(super) method: &'a str,
    /// The request URL as the runtime handed it over (where `X-Forwarded-*` come from).
    pub(super) url: &'a str,
    /// The request opens a WebSocket.
    pub(super) websocket: bool,
    /// The fast path's request: one with an `Upgrade` header (read by neither) is left to the
    /// full path, which reads it and decides whether it is a WebSocket handshake.
    pub(super) fast: bool,
    /// The parsed target: the path and query the route was classified on.
    pub(super) target: &'a Target,
    pub(super) headers: &'a web_sys::Headers,
    /// The `Cookie` header.
    pub(super) cookie: Option<&'a str>,
}

/// Builds the upstream request: same method, path, query and body; headers less hop-by-hop
/// ones, those the edge sets itself and the edge's cookies, plus `X-Forwarded-*` and, when
/// authenticated, the identity and its assertion. Sends nothing. On the fast path
/// (`incoming.fast`) a request with an `Upgrade` header is an `Err`: the fast path defers it to
/// the full path (which never sets `fast`), and nothing is logged.
pub(super) fn prepare(
    incoming: &Incoming<'_>,
    config: &EdgeConfig,
    identity: Option<(&VerifiedClaims, Option<&str>)>,
    assertion: Option<&str>,
) -> Result<Upstream, Rejection> {
    let method = incoming.method;
    // The configured origin plus the path and query the route was classified on (already
    // WHATWG-normalised: `fetch()` re-parsing it changes nothing).
    let target = incoming.target.upstream_url(&config.upstream);

    // Copy the headers in one runtime call, then drop what must not pass.
    let copy = js::copy(incoming.headers);
    let headers = js::raw(&copy);
    let names = headers.names();
    for i in 0..names.length() {
        let name = names.get(i);
        let Some(text) = name.as_string() else {
            continue;
        };
        if forward::drops_request_header(&text) {
            if incoming.fast && text == "upgrade" {
                return Err(Rejection::new(Reason::Upstream(UpstreamFault::Reply)));
            }
            headers.delete(&name);
        }
    }
    if let Some(cookie) = incoming.cookie {
        let edge = [
            config.access_cookie.as_str(),
            config.session_cookie.as_str(),
        ];
        // Every kept cookie is a piece of the header the runtime accepted: a valid value.
        if let Some(kept) = forward::strip_edge_cookies(cookie, &edge) {
            headers.set(Name::Cookie, &kept);
        }
    }
    if incoming.websocket {
        // The one hop-by-hop header that passes: it makes `fetch` open the WebSocket.
        headers.set(Name::Upgrade, "websocket");
    }
    // Values are checked by the core (visible ASCII only) before they get here.
    let added = forward::upstream_headers(incoming.url, identity, assertion)
        .map_err(|_| Rejection::new(Reason::Token(TokenFault::MalformedClaims)))?;
    for (name, value) in added {
        headers.set_edge(name, &value);
    }
    let kind = if identity.is_some() {
        ResponseKind::Authenticated
    } else {
        ResponseKind::Public
    };

    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(&copy);
    init.set_redirect(RequestRedirect::Manual);
    if forward::bypasses_subrequest_cache(kind == ResponseKind::Authenticated) {
        // `cache: "no-store"` (compatibility flag `cache_option_enabled`, on since
        // 2024-11-11).
        init.set_cache(RequestCache::NoStore);
    }
    // The deadline rides on the request itself: no timer of ours per request.
    init.set_signal(Some(&js::abort_after(config.upstream_timeout_ms)));
    if forward::forwards_body(method) {
        if let Some(body) = incoming.req.body() {
            init.set_body(&body);
        }
    }
    Ok(Upstream {
        url: target,
        init,
        kind,
    })
}

/// Sends the upstream request: through the `UPSTREAM_SERVICE` binding when bound, else
/// `fetch`. The promise resolves to the upstream's `Response`, or rejects (see [`failure`]).
pub(super) fn send(env: &Env, upstream: &Upstream) -> js_sys::Promise {
    let sent = if with_isolate(env, |i| i.upstream_bound) {
        match env.service(UPSTREAM_BINDING) {
            Ok(fetcher) => fetcher
                .as_ref()
                .unchecked_ref::<ServiceFetcher>()
                .fetch(&upstream.url, &upstream.init),
            Err(e) => Err(e.into()),
        }
    } else {
        global_fetch(&upstream.url, &upstream.init)
    };
    sent.unwrap_or_else(|e| js_sys::Promise::reject(&e))
}

/// Why the upstream gave no answer: its deadline passed (504) or anything else (502); logged
/// for the request `request_id` with the upstream's `host`, the request's path and the error's
/// name (`TypeError`, …; its message is not written: it may hold the URL).
pub(super) fn failure(error: &JsValue, host: &str, request_id: &str, path: &str) -> Rejection {
    let name = js_sys::Reflect::get(error, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string());
    let rejection = if name.as_deref() == Some("TimeoutError") {
        Rejection::new(Reason::Upstream(UpstreamFault::Timeout))
    } else {
        Rejection::new(Reason::Upstream(UpstreamFault::Fetch))
    };
    let error = name.as_deref().and_then(crate::audit::error_name);
    let extra = [
        ("host", audit::Field::Str(host)),
        ("request", audit::Field::Str(path)),
        ("error", error.into()),
    ];
    super::log::event_of(
        request_id,
        super::log::Level::Error,
        "upstream",
        rejection.reason.code(),
        &extra,
    );
    rejection
}

/// Which path served an answer, for the `Server-Timing` marker (`SERVER_TIMING`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    /// Not marked (the default).
    Unmarked,
    /// The fast path.
    Fast,
    /// The full path.
    Full,
}

impl Served {
    /// The full path's marker under `config`.
    pub(super) fn full(config: &EdgeConfig) -> Self {
        if config.server_timing {
            Self::Full
        } else {
            Self::Unmarked
        }
    }

    fn value(self) -> Option<&'static str> {
        match self {
            Self::Unmarked => None,
            Self::Fast => Some("edge;desc=\"fast\""),
            Self::Full => Some("edge;desc=\"full\""),
        }
    }
}

/// Finalize: `set_cookies` appended and the cache headers by the core's table (and the
/// `Server-Timing` marker when configured). A response the table leaves as it is is returned
/// as it is (no copy).
pub(super) fn finalize_response(
    resp: web_sys::Response,
    kind: ResponseKind,
    set_cookies: &[String],
    served: Served,
) -> Result<web_sys::Response, JsValue> {
    let status = resp.status();
    if status < 200 {
        // 101 Switching Protocols and other informational answers carry no body to cache and
        // cannot be rebuilt by the Response constructor.
        return Ok(resp);
    }
    let original = resp.headers();
    let upstream = js::raw(&original);
    let sets_cookie = !set_cookies.is_empty() || upstream.has(Name::SetCookie);
    let decision = cache_policy::decide(
        kind,
        upstream.get(Name::CacheControl).as_deref(),
        upstream.get(Name::Vary).as_deref(),
        sets_cookie,
    );
    if set_cookies.is_empty()
        && served == Served::Unmarked
        && decision.cache_control.is_none()
        && decision.vary.is_none()
        && !decision.remove_cdn_headers
    {
        return Ok(resp);
    }
    // A fetched response's headers are immutable: a new response over the same body, with
    // status, status text and headers copied natively (the response itself serves as the
    // init), whose headers can be changed. Set-Cookie entries stay separate. Every value set
    // here is the edge's own cookie or built from the upstream's accepted values.
    let copy = web_sys::Response::new_with_opt_readable_stream_and_init(
        resp.body().as_ref(),
        resp.unchecked_ref::<ResponseInit>(),
    )?;
    let copied = copy.headers();
    let headers = js::raw(&copied);
    for cookie in set_cookies {
        headers.append(Name::SetCookie, cookie);
    }
    if let Some(cc) = &decision.cache_control {
        headers.set(Name::CacheControl, cc);
    }
    if let Some(vary) = &decision.vary {
        headers.set(Name::Vary, vary);
    }
    if decision.remove_cdn_headers {
        for name in js::CDN_CACHE {
            headers.remove(name);
        }
    }
    if let Some(marker) = served.value() {
        headers.append(Name::ServerTiming, marker);
    }
    Ok(copy)
}

/// The full path's forward: the assertion (signed if the cache holds none), prepare, send,
/// await, finalize.
pub(super) async fn forward(
    req: &web_sys::Request,
    facts: &Facts<'_>,
    target: &Target,
    env: &Env,
    config: &EdgeConfig,
    auth: Option<&Authenticated>,
) -> Result<web_sys::Response, Rejection> {
    let assertion = match auth {
        Some(a) => assertion::obtain(env, config, a).await?,
        None => None,
    };
    let headers = req.headers();
    let incoming = Incoming {
        req,
        method: facts.method,
        url: facts.url,
        websocket: facts.websocket(),
        fast: false,
        target,
        headers: &headers,
        cookie: facts.cookie,
    };
    let identity = auth.map(|a| (&*a.claims, a.session_id.as_deref()));
    let upstream = prepare(&incoming, config, identity, assertion.as_deref())?;
    let resp = JsFuture::from(send(env, &upstream)).await.map_err(|e| {
        let request_id = super::flight::request_id().unwrap_or_default();
        failure(
            &e,
            &audit::host(&config.upstream),
            &request_id,
            target.path(),
        )
    })?;
    let set_cookies = auth.map_or(&[][..], |a| &a.set_cookies);
    finalize_response(
        resp.unchecked_into(),
        upstream.kind,
        set_cookies,
        Served::full(config),
    )
    .map_err(|_| Rejection::new(Reason::Upstream(UpstreamFault::Finalize)))
}
