//! `Headers` calls of the hot path, bound directly, and the header names they use as JS
//! strings made once per isolate.
//!
//! Why: `web_sys`' `Headers` methods are bound with wasm-bindgen's `catch`, whose glue wraps
//! every call in a fresh closure called through `arguments`, and every `&str` name is decoded
//! from wasm memory again on each call. On the warm path these calls are most of what the edge
//! adds to a passthrough (bench/README.md). The calls bound here cannot throw for what the
//! edge passes: names are static and valid or come from the runtime's own header list, and
//! values are either verified safe ([`crate::forward::is_safe_header_value`]) or built from a
//! header value the runtime already accepted. Should one throw anyway, the exception ends the
//! request (the JS entry answers 500); no isolate state is borrowed across these calls.

use js_sys::JsString;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::cache_policy;
use crate::forward;

#[wasm_bindgen]
extern "C" {
    /// A `Headers` object, seen through the calls below.
    pub(super) type RawHeaders;

    #[wasm_bindgen(method, js_name = get)]
    fn get_js(this: &RawHeaders, name: &JsString) -> Option<String>;
    #[wasm_bindgen(method, js_name = has)]
    fn has_js(this: &RawHeaders, name: &JsString) -> bool;
    #[wasm_bindgen(method, js_name = set)]
    fn set_js(this: &RawHeaders, name: &JsString, value: &str);
    #[wasm_bindgen(method, js_name = append)]
    fn append_js(this: &RawHeaders, name: &JsString, value: &str);
    #[wasm_bindgen(method, js_name = delete)]
    fn delete_js(this: &RawHeaders, name: &JsValue);
    #[wasm_bindgen(method, js_name = keys)]
    fn keys_js(this: &RawHeaders) -> js_sys::Iterator;

    /// `new Headers(init)`: a mutable copy (cannot throw for a runtime `Headers` object).
    #[wasm_bindgen(js_name = Headers)]
    type HeadersClass;
    #[wasm_bindgen(constructor, js_class = "Headers")]
    fn copy_of(init: &web_sys::Headers) -> HeadersClass;

    /// `AbortSignal.timeout(ms)` (cannot throw for a number in range).
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    pub(super) fn abort_after(ms: u32) -> web_sys::AbortSignal;
}

/// A mutable copy of `headers`.
pub(super) fn copy(headers: &web_sys::Headers) -> web_sys::Headers {
    HeadersClass::copy_of(headers).unchecked_into()
}

/// A header name the hot path uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Name {
    Authorization,
    Cookie,
    UserAgent,
    ConnectingIp,
    CacheControl,
    Vary,
    SetCookie,
    SecFetchSite,
    Origin,
    CdnCacheControl,
    CloudflareCdnCacheControl,
    SurrogateControl,
    SecFetchMode,
    Accept,
    ContentType,
    ServerTiming,
    CfRay,
    Upgrade,
}

/// The header names the core's [`forward::upstream_headers`] produces, made into JS strings
/// once as well.
const EDGE_HEADERS: [&str; 9] = [
    forward::FORWARDED_HOST,
    forward::FORWARDED_PROTO,
    forward::SUBJECT,
    forward::SESSION,
    forward::ROLES,
    forward::CLIENT,
    forward::SCOPE,
    forward::AMR,
    crate::assertion::HEADER,
];

impl Name {
    fn text(self) -> &'static str {
        match self {
            Self::Authorization => "authorization",
            Self::Cookie => "cookie",
            Self::UserAgent => "user-agent",
            Self::ConnectingIp => "cf-connecting-ip",
            Self::CacheControl => "cache-control",
            Self::Vary => "vary",
            Self::SetCookie => "set-cookie",
            Self::SecFetchSite => "sec-fetch-site",
            Self::Origin => "origin",
            Self::CdnCacheControl => cache_policy::CDN_CACHE_HEADERS[0],
            Self::CloudflareCdnCacheControl => cache_policy::CDN_CACHE_HEADERS[1],
            Self::SurrogateControl => cache_policy::CDN_CACHE_HEADERS[2],
            Self::SecFetchMode => "sec-fetch-mode",
            Self::Accept => "accept",
            Self::ContentType => "content-type",
            Self::ServerTiming => "server-timing",
            Self::CfRay => "cf-ray",
            Self::Upgrade => "upgrade",
        }
    }
}

/// Every name in declaration order, so `name as usize` indexes the JS strings.
const ALL: [Name; 18] = [
    Name::Authorization,
    Name::Cookie,
    Name::UserAgent,
    Name::ConnectingIp,
    Name::CacheControl,
    Name::Vary,
    Name::SetCookie,
    Name::SecFetchSite,
    Name::Origin,
    Name::CdnCacheControl,
    Name::CloudflareCdnCacheControl,
    Name::SurrogateControl,
    Name::SecFetchMode,
    Name::Accept,
    Name::ContentType,
    Name::ServerTiming,
    Name::CfRay,
    Name::Upgrade,
];

/// The headers of [`cache_policy::CDN_CACHE_HEADERS`], as names.
pub(super) const CDN_CACHE: [Name; 3] = [
    Name::CdnCacheControl,
    Name::CloudflareCdnCacheControl,
    Name::SurrogateControl,
];

thread_local! {
    static NAMES: Vec<JsString> = ALL.iter().map(|n| JsString::from(n.text())).collect();
    static EDGE_NAMES: Vec<JsString> = EDGE_HEADERS.iter().map(|n| JsString::from(*n)).collect();
}

fn with_name<T>(name: Name, f: impl FnOnce(&JsString) -> T) -> T {
    NAMES.with(|names| match names.get(name as usize) {
        Some(js) => f(js),
        None => f(&JsString::from(name.text())),
    })
}

/// `f` with the JS string of `name`: the one made once when it is a header the edge sets,
/// else a new one (a name added to the core later still gets exactly its own header).
fn with_edge_name<T>(name: &str, f: impl FnOnce(&JsString) -> T) -> T {
    EDGE_NAMES.with(|names| {
        match EDGE_HEADERS
            .iter()
            .position(|n| *n == name)
            .and_then(|i| names.get(i))
        {
            Some(js) => f(js),
            None => f(&JsString::from(name)),
        }
    })
}

/// A `web_sys::Headers` seen through the direct bindings.
pub(super) fn raw(headers: &web_sys::Headers) -> &RawHeaders {
    headers.unchecked_ref()
}

impl RawHeaders {
    /// `headers.get(name)`.
    pub(super) fn get(&self, name: Name) -> Option<String> {
        with_name(name, |n| self.get_js(n))
    }

    /// `headers.has(name)`.
    pub(super) fn has(&self, name: Name) -> bool {
        with_name(name, |n| self.has_js(n))
    }

    /// `headers.set(name, value)`; `value` must be a valid header value.
    pub(super) fn set(&self, name: Name, value: &str) {
        with_name(name, |n| self.set_js(n, value));
    }

    /// `headers.set(name, value)` for a header the core produced (`value` checked safe by the
    /// core).
    pub(super) fn set_edge(&self, name: &str, value: &str) {
        with_edge_name(name, |n| self.set_js(n, value));
    }

    /// `headers.append(name, value)`; `value` must be a valid header value.
    pub(super) fn append(&self, name: Name, value: &str) {
        with_name(name, |n| self.append_js(n, value));
    }

    /// `headers.delete(name)` with a name the runtime handed out.
    pub(super) fn delete(&self, name: &JsValue) {
        self.delete_js(name);
    }

    /// `headers.delete(name)`.
    pub(super) fn remove(&self, name: Name) {
        with_name(name, |n| self.delete_js(n));
    }

    /// Every header name, lower-cased, as the runtime lists them.
    pub(super) fn names(&self) -> js_sys::Array {
        js_sys::Array::from(&self.keys_js())
    }
}
