//! Cache headers for every response the edge returns, as a table.
//!
//! Warning (cache poisoning): a response that depends on identity or sets a cookie must never
//! be stored by a shared cache under a key other requests can hit. The rules:
//!
//! | kind | sets a cookie | upstream opted in | `Cache-Control` | `Vary` |
//! |---|---|---|---|---|
//! | edge (`/auth/*`, edge errors) | any | — | `private, no-store` | + `Cookie, Authorization` |
//! | authenticated | any | no | `private, no-store` | + `Cookie, Authorization` |
//! | authenticated | no | yes | upstream's + `no-cache="Set-Cookie, Set-Cookie2"` | + `Cookie, Authorization` |
//! | authenticated | yes | yes | upstream's, `public`/`s-maxage` dropped, + `private, no-cache="Set-Cookie, Set-Cookie2"` | + `Cookie, Authorization` |
//! | public | no | any | upstream's, unchanged | unchanged |
//! | public | yes | yes | upstream's, `public`/`s-maxage` dropped, + `private, no-cache="Set-Cookie, Set-Cookie2"` | + `Cookie` |
//! | public | yes | no | `private, no-store` | + `Cookie` |
//!
//! "Opted in" means the upstream's `Cache-Control` explicitly allows shared caching (`public`
//! or a positive `s-maxage`) and has no `no-store` or unqualified `no-cache`. A bare
//! `max-age` is not an opt-in: a cookie-authenticated request carries no `Authorization`
//! header, so a shared cache would be free to store it. A response that sets a cookie is
//! never publicly cacheable; at most the browser's private cache keeps its body, and
//! `no-cache="Set-Cookie, Set-Cookie2"` tells every cache not to replay the cookie.
//!
//! Headers addressed to CDNs only ([`CDN_CACHE_HEADERS`]: `CDN-Cache-Control` of RFC 9213,
//! `Cloudflare-CDN-Cache-Control`, `Surrogate-Control`) take precedence over `Cache-Control`
//! in the caches they target. Every row whose `Cache-Control` the edge makes `private` (or
//! `no-store`) removes them ([`CacheHeaders::remove_cdn_headers`]); the rows where the upstream
//! keeps shared caching (authenticated and opted in without a cookie, public without a cookie)
//! keep them as the upstream sent them.

/// What produced the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// The edge answered itself (its `/auth/*` API or a rejection).
    Edge,
    /// Forwarded with a verified identity.
    Authenticated,
    /// Forwarded from a public path, without identity.
    Public,
}

/// Response headers that direct shared caches (CDNs) and override `Cache-Control` there,
/// lower-case.
pub const CDN_CACHE_HEADERS: [&str; 3] = [
    "cdn-cache-control",
    "cloudflare-cdn-cache-control",
    "surrogate-control",
];

/// The headers to set on the response. `None` leaves the header as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheHeaders {
    /// New `Cache-Control` value.
    pub cache_control: Option<String>,
    /// New `Vary` value.
    pub vary: Option<String>,
    /// Remove every header in [`CDN_CACHE_HEADERS`]: shared caching is not allowed, and they
    /// would override `Cache-Control` in the caches they target.
    pub remove_cdn_headers: bool,
}

const NO_STORE: &str = "private, no-store";
const NO_CACHE_COOKIES: &str = "no-cache=\"Set-Cookie, Set-Cookie2\"";

/// Splits a `Cache-Control` value into lower-cased directive names with their raw values.
fn directives(cc: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = cc;
    while !rest.trim().is_empty() {
        // Split at the next comma that is not inside a quoted string.
        let mut in_quotes = false;
        let mut end = rest.len();
        for (i, ch) in rest.char_indices() {
            match ch {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let part = rest[..end].trim();
        rest = if end < rest.len() {
            &rest[end + 1..]
        } else {
            ""
        };
        if part.is_empty() {
            continue;
        }
        let (name, value) = match part.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
            None => (part, None),
        };
        out.push((name.to_ascii_lowercase(), value));
    }
    out
}

/// Whether the upstream's `Cache-Control` opts in to caching.
pub fn opted_in(cache_control: Option<&str>) -> bool {
    let Some(cc) = cache_control else {
        return false;
    };
    let d = directives(cc);
    let has = |n: &str| d.iter().any(|(name, _)| name == n);
    if has("no-store") || (has("no-cache") && d.iter().any(|(n, v)| n == "no-cache" && v.is_none()))
    {
        return false;
    }
    let positive_age = |n: &str| {
        d.iter().any(|(name, v)| {
            name == n
                && v.as_deref()
                    .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
                    .is_some_and(|age| age > 0)
        })
    };
    has("public") || positive_age("s-maxage")
}

/// The upstream's directives made private: `public`/`s-maxage`/`private` dropped, then
/// `private, <rest>, no-cache="Set-Cookie, Set-Cookie2"`.
fn privatised(upstream: &str) -> String {
    let kept = directives(upstream)
        .into_iter()
        .filter(|(n, _)| !matches!(n.as_str(), "public" | "s-maxage" | "private"))
        .map(|(n, v)| match v {
            Some(v) => format!("{n}={v}"),
            None => n,
        });
    let mut parts = vec!["private".to_owned()];
    parts.extend(kept);
    parts.push(NO_CACHE_COOKIES.to_owned());
    parts.join(", ")
}

/// The `max-age` of a `Cache-Control` value, if any (used for the JWKS cache).
pub fn max_age(cache_control: &str) -> Option<u64> {
    directives(cache_control)
        .into_iter()
        .find(|(n, _)| n == "max-age")
        .and_then(|(_, v)| v)
        .and_then(|v| v.trim_matches('"').parse().ok())
}

fn add_vary(existing: Option<&str>, add: &[&str]) -> String {
    let mut items: Vec<String> = existing
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if items.iter().any(|i| i == "*") {
        return "*".to_owned();
    }
    for a in add {
        if !items.iter().any(|i| i.eq_ignore_ascii_case(a)) {
            items.push((*a).to_owned());
        }
    }
    items.join(", ")
}

/// The cache headers for a response.
pub fn decide(
    kind: ResponseKind,
    upstream_cache_control: Option<&str>,
    upstream_vary: Option<&str>,
    sets_cookie: bool,
) -> CacheHeaders {
    let identity_vary = || Some(add_vary(upstream_vary, &["Cookie", "Authorization"]));
    match kind {
        ResponseKind::Edge => CacheHeaders {
            cache_control: Some(NO_STORE.to_owned()),
            vary: identity_vary(),
            remove_cdn_headers: true,
        },
        ResponseKind::Authenticated => {
            let upstream = upstream_cache_control.unwrap_or_default();
            let (cache_control, shared) = match (opted_in(upstream_cache_control), sets_cookie) {
                (false, _) => (NO_STORE.to_owned(), false),
                (true, false) => (format!("{upstream}, {NO_CACHE_COOKIES}"), true),
                (true, true) => (privatised(upstream), false),
            };
            CacheHeaders {
                cache_control: Some(cache_control),
                vary: identity_vary(),
                remove_cdn_headers: !shared,
            }
        }
        ResponseKind::Public if !sets_cookie => CacheHeaders {
            cache_control: None,
            vary: None,
            remove_cdn_headers: false,
        },
        ResponseKind::Public => {
            let cache_control = if opted_in(upstream_cache_control) {
                privatised(upstream_cache_control.unwrap_or_default())
            } else {
                NO_STORE.to_owned()
            };
            CacheHeaders {
                cache_control: Some(cache_control),
                vary: Some(add_vary(upstream_vary, &["Cookie"])),
                remove_cdn_headers: true,
            }
        }
    }
}

#[cfg(test)]
mod tests;
