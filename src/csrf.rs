//! Cross-site request forgery: cookie-authenticated unsafe requests, and every `POST` to the
//! edge's own routes, must come from our own origin.
//!
//! Fetch Metadata first: `Sec-Fetch-Site` must be `same-origin` (`same-site` is refused: a
//! sibling subdomain is another trust domain). Browsers without Fetch Metadata send `Origin`
//! on unsafe requests; it must equal the request's own origin. A request with neither is
//! refused (a non-browser client should use `Authorization: Bearer`, which is not subject to
//! CSRF and therefore not checked).

/// Whether the method is safe (RFC 9110 §9.2.1) and so exempt.
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Why the CSRF rule refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfRefusal {
    /// `Sec-Fetch-Site` is not `same-origin`.
    CrossSite,
    /// No Fetch Metadata, and `Origin` is not the request's own origin.
    OriginMismatch,
    /// Neither `Sec-Fetch-Site` nor `Origin`.
    NoOriginInformation,
    /// The request's own origin cannot be told (a URL the runtime would not hand over).
    NoOwnOrigin,
}

impl CsrfRefusal {
    /// Secret-free code for logs.
    pub fn code(self) -> &'static str {
        match self {
            Self::CrossSite => "cross_site_request",
            Self::OriginMismatch => "origin_mismatch",
            Self::NoOriginInformation => "no_origin_information",
            Self::NoOwnOrigin => "bad_url",
        }
    }
}

/// The CSRF decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfVerdict {
    /// Allowed.
    Allow,
    /// Refused with 403.
    Refuse(CsrfRefusal),
}

/// The whole rule for one request whose URL is `url`: safe methods pass; others need Fetch
/// Metadata or an `Origin` of the request's own origin ([`own_origin`]). A WebSocket opening
/// handshake (`websocket`) is a `GET` but is held to the rule of unsafe methods: the socket it
/// opens acts with the user's cookies for as long as it stays open, and browsers let any page
/// open one to any origin (cross-site WebSocket hijacking).
pub fn check_request(
    method: &str,
    websocket: bool,
    url: &str,
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
) -> CsrfVerdict {
    if is_safe_method(method) && !websocket {
        return CsrfVerdict::Allow;
    }
    match own_origin(url) {
        Some(own) => check_origin(sec_fetch_site, origin, &own),
        None => CsrfVerdict::Refuse(CsrfRefusal::NoOwnOrigin),
    }
}

/// The request's own origin: [`serialized_origin`] where the URL allows it, else a URL
/// parser's serialisation. The one origin serialiser of the edge.
pub fn own_origin(url: &str) -> Option<std::borrow::Cow<'_, str>> {
    if let Some(o) = serialized_origin(url) {
        return Some(o.into());
    }
    let parsed = url::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin
        .is_tuple()
        .then(|| origin.ascii_serialization().into())
}

/// Decides for one request. `own_origin` is `scheme://host[:port]` of the request URL.
pub fn check(
    method: &str,
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    own_origin: &str,
) -> CsrfVerdict {
    if is_safe_method(method) {
        return CsrfVerdict::Allow;
    }
    check_origin(sec_fetch_site, origin, own_origin)
}

/// The origin half of the rule, for a request that is subject to it: `Sec-Fetch-Site:
/// same-origin`, else (no Fetch Metadata) an `Origin` equal to `own_origin`.
pub fn check_origin(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    own_origin: &str,
) -> CsrfVerdict {
    if let Some(site) = sec_fetch_site {
        return if site.trim().eq_ignore_ascii_case("same-origin") {
            CsrfVerdict::Allow
        } else {
            CsrfVerdict::Refuse(CsrfRefusal::CrossSite)
        };
    }
    match origin {
        Some(o) if o.trim().eq_ignore_ascii_case(own_origin) => CsrfVerdict::Allow,
        Some(_) => CsrfVerdict::Refuse(CsrfRefusal::OriginMismatch),
        None => CsrfVerdict::Refuse(CsrfRefusal::NoOriginInformation),
    }
}

/// The origin (`scheme://host[:port]`) of an absolute `http`/`https` URL as a WHATWG URL
/// serialiser writes it (what the runtime hands over as `request.url`), without parsing it
/// again. `None` when the URL is not of that shape or carries credentials (`user@`), whose
/// origin is not a prefix of the URL: callers then use a real URL parser.
pub fn serialized_origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(&url[..url.len() - rest.len() + authority_len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use CsrfRefusal::*;
    use CsrfVerdict::*;

    #[test]
    fn serialized_origin_matches_a_url_parser() {
        for raw in [
            "https://app.test/",
            "https://app.test/a/b?c=d#e",
            "http://127.0.0.1:8787/x",
            "https://app.test:8443/",
            "https://app.test?q=1",
            "http://[::1]:8787/p",
            "https://xn--bcher-kva.example/",
            "HTTPS://APP.TEST:443/Path",
        ] {
            let parsed = url::Url::parse(raw).expect("valid URL");
            let serialized = parsed.as_str();
            assert_eq!(
                serialized_origin(serialized),
                Some(parsed.origin().ascii_serialization().as_str()),
                "{raw}"
            );
        }
        for odd in [
            "https://user:pw@app.test/",
            "ftp://app.test/",
            "/relative",
            "https:///nohost",
        ] {
            assert_eq!(serialized_origin(odd), None, "{odd}");
        }
    }

    #[test]
    fn own_origin_of_urls_with_credentials_comes_from_a_parser() {
        assert_eq!(
            own_origin("https://u:p@app.test:8443/x").as_deref(),
            Some("https://app.test:8443")
        );
        assert_eq!(
            own_origin("https://app.test/x").as_deref(),
            Some("https://app.test")
        );
        assert_eq!(own_origin("data:text/plain,x"), None);
        assert_eq!(
            check_request("POST", false, "data:text/plain,x", None, None),
            Refuse(NoOwnOrigin)
        );
        assert_eq!(
            check_request("GET", false, "data:text/plain,x", None, None),
            Allow
        );
        assert_eq!(
            check_request(
                "POST",
                false,
                "https://app.test/x",
                None,
                Some("https://app.test")
            ),
            Allow
        );
        assert_eq!(
            check_request(
                "POST",
                false,
                "https://app.test/x",
                Some("cross-site"),
                None
            ),
            Refuse(CrossSite)
        );
        let codes = [CrossSite, OriginMismatch, NoOriginInformation, NoOwnOrigin].map(|r| r.code());
        for (i, c) in codes.iter().enumerate() {
            assert!(!c.is_empty() && !codes[..i].contains(c), "{c}");
        }
    }

    #[test]
    fn a_websocket_handshake_is_held_to_the_rule_of_unsafe_methods() {
        let url = "https://app.test/ws";
        let rows: &[(Option<&str>, Option<&str>, CsrfVerdict)] = &[
            (Some("same-origin"), Some("https://app.test"), Allow),
            (
                Some("cross-site"),
                Some("https://evil.test"),
                Refuse(CrossSite),
            ),
            (
                Some("same-site"),
                Some("https://sub.app.test"),
                Refuse(CrossSite),
            ),
            (None, Some("https://app.test"), Allow),
            (None, Some("https://evil.test"), Refuse(OriginMismatch)),
            (None, None, Refuse(NoOriginInformation)),
        ];
        for (site, origin, want) in rows {
            assert_eq!(
                check_request("GET", true, url, *site, *origin),
                *want,
                "{site:?} {origin:?}"
            );
            // The same GET without the upgrade is a safe request.
            assert_eq!(check_request("GET", false, url, *site, *origin), Allow);
        }
    }

    #[test]
    fn codes_are_distinct() {
        let codes = [CrossSite, OriginMismatch, NoOriginInformation, NoOwnOrigin].map(|r| r.code());
        for (i, c) in codes.iter().enumerate() {
            assert!(!c.is_empty() && !codes[..i].contains(c), "{c}");
        }
    }

    #[test]
    fn table() {
        let me = "https://app.test";
        let rows: &[(&str, Option<&str>, Option<&str>, CsrfVerdict)] = &[
            ("GET", Some("cross-site"), None, Allow),
            ("HEAD", None, None, Allow),
            ("POST", Some("same-origin"), None, Allow),
            (
                "POST",
                Some("same-origin"),
                Some("https://evil.test"),
                Allow,
            ),
            ("POST", Some("same-site"), None, Refuse(CrossSite)),
            ("POST", Some("cross-site"), Some(me), Refuse(CrossSite)),
            ("POST", Some("none"), None, Refuse(CrossSite)),
            ("POST", None, Some(me), Allow),
            ("POST", None, Some("HTTPS://APP.TEST"), Allow),
            (
                "POST",
                None,
                Some("https://app.test.evil.test"),
                Refuse(OriginMismatch),
            ),
            ("POST", None, Some("null"), Refuse(OriginMismatch)),
            ("DELETE", None, None, Refuse(NoOriginInformation)),
            ("PUT", Some("cross-site"), None, Refuse(CrossSite)),
        ];
        for (method, site, origin, want) in rows {
            assert_eq!(
                check(method, *site, *origin, me),
                *want,
                "{method} {site:?} {origin:?}"
            );
        }
    }
}
