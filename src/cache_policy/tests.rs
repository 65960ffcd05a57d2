use super::*;
use ResponseKind::*;

fn cc(kind: ResponseKind, upstream: Option<&str>, cookie: bool) -> Option<String> {
    decide(kind, upstream, None, cookie).cache_control
}

#[test]
fn row_edge_is_never_stored() {
    assert_eq!(
        cc(Edge, Some("public, max-age=600"), false).as_deref(),
        Some(NO_STORE)
    );
    assert_eq!(
        decide(Edge, None, None, true).vary.as_deref(),
        Some("Cookie, Authorization")
    );
}

#[test]
fn row_authenticated_setting_a_cookie_is_never_publicly_cacheable() {
    assert_eq!(
        cc(Authenticated, Some("public, max-age=600"), true).as_deref(),
        Some("private, max-age=600, no-cache=\"Set-Cookie, Set-Cookie2\"")
    );
    assert_eq!(cc(Authenticated, None, true).as_deref(), Some(NO_STORE));
}

#[test]
fn row_authenticated_without_opt_in_is_not_stored() {
    for upstream in [
        None,
        Some("no-cache"),
        Some("max-age=0"),
        Some("no-store, max-age=60"),
    ] {
        assert_eq!(
            cc(Authenticated, upstream, false).as_deref(),
            Some(NO_STORE),
            "{upstream:?}"
        );
    }
}

#[test]
fn row_authenticated_with_opt_in_keeps_upstream_and_guards_cookies() {
    let h = decide(
        Authenticated,
        Some("public, max-age=60"),
        Some("Accept-Encoding"),
        false,
    );
    assert_eq!(
        h.cache_control.as_deref(),
        Some("public, max-age=60, no-cache=\"Set-Cookie, Set-Cookie2\"")
    );
    assert_eq!(
        h.vary.as_deref(),
        Some("Accept-Encoding, Cookie, Authorization")
    );
}

#[test]
fn row_public_without_cookie_is_untouched() {
    assert_eq!(
        decide(Public, Some("public, max-age=60"), None, false),
        CacheHeaders {
            cache_control: None,
            vary: None,
            remove_cdn_headers: false,
        }
    );
}

#[test]
fn row_public_with_cookie_and_opt_in_becomes_private() {
    let h = decide(Public, Some("public, s-maxage=300, max-age=60"), None, true);
    assert_eq!(
        h.cache_control.as_deref(),
        Some("private, max-age=60, no-cache=\"Set-Cookie, Set-Cookie2\"")
    );
    assert_eq!(h.vary.as_deref(), Some("Cookie"));
}

#[test]
fn row_public_with_cookie_without_opt_in_is_not_stored() {
    assert_eq!(cc(Public, None, true).as_deref(), Some(NO_STORE));
}

/// CDN-only cache headers go wherever the row forbids shared caching, one row each.
#[test]
fn cdn_cache_headers_follow_the_table() {
    let opt_in = Some("public, max-age=60");
    let rows: &[(ResponseKind, Option<&str>, bool, bool)] = &[
        // kind, upstream Cache-Control, sets a cookie, CDN headers removed
        (Edge, None, false, true),
        (Edge, opt_in, true, true),
        (Authenticated, None, false, true),
        (Authenticated, Some("private, max-age=60"), false, true),
        (Authenticated, None, true, true),
        (Authenticated, opt_in, false, false),
        (Authenticated, opt_in, true, true),
        (Public, opt_in, false, false),
        (Public, None, false, false),
        (Public, opt_in, true, true),
        (Public, None, true, true),
    ];
    for (kind, upstream, cookie, remove) in rows {
        let h = decide(*kind, *upstream, None, *cookie);
        assert_eq!(
            h.remove_cdn_headers, *remove,
            "{kind:?} {upstream:?} cookie={cookie}"
        );
        // Removed exactly where the edge's own Cache-Control forbids shared caches.
        let private = h
            .cache_control
            .as_deref()
            .is_some_and(|cc| cc.starts_with("private"));
        assert_eq!(private, *remove, "{kind:?} {upstream:?} cookie={cookie}");
    }
    assert_eq!(
        CDN_CACHE_HEADERS,
        [
            "cdn-cache-control",
            "cloudflare-cdn-cache-control",
            "surrogate-control"
        ]
    );
}

#[test]
fn vary_star_stays_star() {
    assert_eq!(
        decide(Edge, None, Some("*"), false).vary.as_deref(),
        Some("*")
    );
}

#[test]
fn directive_parsing() {
    assert!(opted_in(Some("PUBLIC")));
    assert!(opted_in(Some("s-maxage=10")));
    assert!(!opted_in(Some("no-cache=\"a, public\"")));
    assert!(opted_in(Some("public, max-age=5, no-cache=\"Set-Cookie\"")));
    assert!(!opted_in(Some("max-age=5")));
    assert!(!opted_in(Some("max-age=abc")));
    assert_eq!(max_age("public, max-age=300"), Some(300));
    assert_eq!(max_age("no-store"), None);
}

#[test]
fn commas_inside_quoted_values_do_not_split_directives() {
    // A directive named only inside a quoted value is not a directive: no opt-in.
    for cc in ["no-cache=\"a, public, b\"", "private=\"x, s-maxage=60, y\""] {
        assert!(!opted_in(Some(cc)), "{cc}");
    }
    assert_eq!(
        directives("no-cache=\"a, b\", public"),
        vec![
            ("no-cache".to_owned(), Some("\"a, b\"".to_owned())),
            ("public".to_owned(), None),
        ]
    );
    assert_eq!(
        cc(
            Authenticated,
            Some("public, no-cache=\"X-A, X-B\", max-age=5"),
            true
        )
        .as_deref(),
        Some("private, no-cache=\"X-A, X-B\", max-age=5, no-cache=\"Set-Cookie, Set-Cookie2\"")
    );
}

#[test]
fn opt_in_table() {
    let rows: &[(Option<&str>, bool)] = &[
        (None, false),
        (Some("public"), true),
        (Some("s-maxage=60"), true),
        (Some("s-maxage=\"60\""), true),
        // A zero or unparseable shared age is no opt-in.
        (Some("s-maxage=0"), false),
        (Some("s-maxage=x"), false),
        (Some("max-age=600"), false),
        // no-store, or an unqualified no-cache, vetoes an opt-in.
        (Some("public, no-store"), false),
        (Some("no-store, s-maxage=60"), false),
        (Some("public, no-cache"), false),
        (Some("public, no-cache=\"Set-Cookie\""), true),
        (Some("PUBLIC"), true),
    ];
    for (cc, want) in rows {
        assert_eq!(opted_in(*cc), *want, "{cc:?}");
    }
}
