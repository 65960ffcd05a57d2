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

/// The CSRF decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfVerdict {
    /// Allowed.
    Allow,
    /// Refused with 403; the reason is for logs.
    Refuse(&'static str),
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
    if let Some(site) = sec_fetch_site {
        return if site.trim().eq_ignore_ascii_case("same-origin") {
            CsrfVerdict::Allow
        } else {
            CsrfVerdict::Refuse("cross_site_request")
        };
    }
    match origin {
        Some(o) if o.trim().eq_ignore_ascii_case(own_origin) => CsrfVerdict::Allow,
        Some(_) => CsrfVerdict::Refuse("origin_mismatch"),
        None => CsrfVerdict::Refuse("no_origin_information"),
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
            (
                "POST",
                Some("same-site"),
                None,
                Refuse("cross_site_request"),
            ),
            (
                "POST",
                Some("cross-site"),
                Some(me),
                Refuse("cross_site_request"),
            ),
            ("POST", Some("none"), None, Refuse("cross_site_request")),
            ("POST", None, Some(me), Allow),
            ("POST", None, Some("HTTPS://APP.TEST"), Allow),
            (
                "POST",
                None,
                Some("https://app.test.evil.test"),
                Refuse("origin_mismatch"),
            ),
            ("POST", None, Some("null"), Refuse("origin_mismatch")),
            ("DELETE", None, None, Refuse("no_origin_information")),
            (
                "PUT",
                Some("cross-site"),
                None,
                Refuse("cross_site_request"),
            ),
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
