//! What the upstream receives: the request headers as the client sent them, less the edge's
//! own cookies and any header the edge sets itself, plus the verified identity, the identity
//! assertion and where the request came in.
//!
//! Header names the edge adds are `X-Auth-*`, [`crate::assertion::HEADER`] (`Edge-Assertion`),
//! `X-Forwarded-Host` and `X-Forwarded-Proto`. Every client-sent header with those names (and
//! `Forwarded`) is removed first, whatever its case and whether it spells `-` as `_` (CGI, WSGI
//! and Rack map both to `_`: `X_Auth_Roles` would reach them as `HTTP_X_AUTH_ROLES`), so the
//! upstream can trust them. A verified value that cannot be carried safely in a header (CR,
//! LF, NUL, any other control character, or non-ASCII) refuses the request instead of being
//! mangled.
//!
//! A WebSocket upgrade ([`is_websocket_upgrade`]) keeps its `Upgrade: websocket` header, so
//! the runtime's `fetch` opens the WebSocket to the upstream; everything else about it is
//! forwarded like any other request.

use std::borrow::Cow;

use crate::assertion;
use crate::cookies;
use crate::token::VerifiedClaims;

/// Prefix of every identity header (compared case-insensitively).
pub const IDENTITY_PREFIX: &str = "x-auth-";
/// The subject header.
pub const SUBJECT: &str = "X-Auth-Subject";
/// The session id header (only when known).
pub const SESSION: &str = "X-Auth-Session";
/// The roles header (comma-separated).
pub const ROLES: &str = "X-Auth-Roles";
/// The OAuth client id header (only when the token names one).
pub const CLIENT: &str = "X-Auth-Client";
/// The scope header (only when the token has one).
pub const SCOPE: &str = "X-Auth-Scope";
/// The authentication methods header (`amr`, comma-separated; only when the token has any).
pub const AMR: &str = "X-Auth-Amr";

/// The client's `Host`, as the upstream receives it.
pub const FORWARDED_HOST: &str = "X-Forwarded-Host";
/// The scheme the client used (`https` or `http`).
pub const FORWARDED_PROTO: &str = "X-Forwarded-Proto";

/// Headers the edge sets itself (lower-case), so a client-sent one never passes: the
/// assertion, the forwarding headers, and RFC 7239's `Forwarded`, which says the same as the
/// two `X-Forwarded-*` and would contradict them.
pub const REPLACED: [&str; 4] = [
    "edge-assertion",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
];

/// Whether `name` reads as `lower` (lower-case, `-` separated) once ASCII case is folded and
/// `_` is read as `-` (the CGI mapping); with `prefix`, whether it starts that way.
fn cgi_matches(name: &str, lower: &str, prefix: bool) -> bool {
    let long_enough = if prefix {
        name.len() >= lower.len()
    } else {
        name.len() == lower.len()
    };
    long_enough
        && name
            .bytes()
            .zip(lower.bytes())
            .all(|(n, p)| n.to_ascii_lowercase() == p || (n == b'_' && p == b'-'))
}

/// Whether a request header must not pass from the client to the upstream: its name starts
/// with `x-auth-` once ASCII case is folded and `_` is read as `-` (the CGI mapping).
pub fn is_identity_header(name: &str) -> bool {
    cgi_matches(name, IDENTITY_PREFIX, true)
}

/// Whether a client-sent header is one the edge sets itself ([`REPLACED`], under the same
/// folding as [`is_identity_header`]).
pub fn is_replaced_header(name: &str) -> bool {
    REPLACED.iter().any(|r| cgi_matches(name, r, false))
}

/// Request headers that describe one hop, or that the edge rebuilds (`Host` is the upstream's,
/// `Cookie` is rebuilt without the edge's cookies), and are not forwarded as sent.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "cookie",
];

/// Whether the client's request header `name` (lower-cased, as the runtime lists names) is
/// dropped before the request goes upstream: a hop-by-hop or rebuilt header, or one the edge
/// sets itself and the client has no right to send.
pub fn drops_request_header(name: &str) -> bool {
    HOP_BY_HOP.contains(&name) || is_identity_header(name) || is_replaced_header(name)
}

/// Whether a request is a WebSocket opening handshake (RFC 6455 §4.1: a `GET` whose `Upgrade`
/// is `websocket`, in any case). Such a request is forwarded with `Upgrade: websocket` and the
/// upstream's `101` is the answer.
pub fn is_websocket_upgrade(method: &str, upgrade: Option<&str>) -> bool {
    method == "GET" && upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket"))
}

/// The session id forwarded for `claims`: the token's `sid`, else the one the session cookie
/// supplied (Transmit's tokens carry none). The identity headers and the assertion both use
/// it.
pub fn session_of<'a>(claims: &'a VerifiedClaims, session_id: Option<&'a str>) -> Option<&'a str> {
    claims.sid.as_deref().or(session_id)
}

/// Where the client's request came in, from the URL the runtime handed over: the scheme
/// (`X-Forwarded-Proto`) and the authority, as the client's `Host` gave it
/// (`X-Forwarded-Host`). `None` for a URL without `scheme://authority`, or an authority that
/// is not a plain header value.
pub fn forwarded_from(url: &str) -> Option<(&'static str, &str)> {
    let origin = crate::csrf::serialized_origin(url)?;
    let (proto, host) = match origin.split_once("://")? {
        ("https", host) => ("https", host),
        (_, host) => ("http", host),
    };
    (is_safe_header_value(host) && !host.contains([' ', '\t'])).then_some((proto, host))
}

/// Whether the request body is forwarded: every method but `GET` and `HEAD` (whose bodies
/// have no defined meaning and are not sent on).
pub fn forwards_body(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD")
}

/// Whether the upstream subrequest must bypass the runtime's own subrequest cache: an
/// identity-dependent request does (that cache's key is the URL alone, so one user's answer
/// could serve another's).
pub fn bypasses_subrequest_cache(authenticated: bool) -> bool {
    authenticated
}

/// Whether a value can be put in a header as it is: visible ASCII, space and tab only.
pub fn is_safe_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// A verified value that cannot be forwarded in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsafeValue {
    /// The header it was meant for.
    pub header: &'static str,
}

/// The headers the edge sets on a forwarded request, in order: `X-Forwarded-Host` and
/// `X-Forwarded-Proto` (from [`forwarded_from`] of the request URL, when it gives them), then
/// for an authenticated request the identity headers ([`identity_headers`]) and its signed
/// assertion ([`crate::assertion::HEADER`], when one is configured).
pub fn upstream_headers<'a>(
    url: &'a str,
    identity: Option<(&'a VerifiedClaims, Option<&'a str>)>,
    assertion: Option<&'a str>,
) -> Result<Vec<(&'static str, Cow<'a, str>)>, UnsafeValue> {
    let mut out = match identity {
        Some((claims, session_id)) => identity_headers(claims, session_id)?,
        None => Vec::with_capacity(2),
    };
    if let (Some(token), Some(_)) = (assertion, identity) {
        out.push((assertion::HEADER, token.into()));
    }
    if let Some((proto, host)) = forwarded_from(url) {
        out.splice(
            0..0,
            [
                (FORWARDED_HOST, host.into()),
                (FORWARDED_PROTO, proto.into()),
            ],
        );
    }
    Ok(out)
}

/// The identity headers for verified claims, with an explicit session id when the session
/// cookie supplied one (Transmit's tokens carry no `sid`). Values borrow from the claims
/// where they can (the roles are joined).
pub fn identity_headers<'a>(
    claims: &'a VerifiedClaims,
    session_id: Option<&'a str>,
) -> Result<Vec<(&'static str, Cow<'a, str>)>, UnsafeValue> {
    // Room for the forwarding headers and the assertion (upstream_headers).
    let mut out = Vec::with_capacity(9);
    out.push((SUBJECT, Cow::from(claims.sub.as_str())));
    if let Some(sid) = session_of(claims, session_id) {
        out.push((SESSION, sid.into()));
    }
    if claims.roles.iter().any(|r| r.contains(',')) {
        return Err(UnsafeValue { header: ROLES });
    }
    out.push((ROLES, claims.roles.join(",").into()));
    if let Some(client) = &claims.client_id {
        out.push((CLIENT, client.as_str().into()));
    }
    if let Some(scope) = &claims.scope {
        out.push((SCOPE, scope.as_str().into()));
    }
    // Joined like the roles, so a method with a comma would read as two: refused.
    if claims.amr.iter().any(|m| m.contains(',')) {
        return Err(UnsafeValue { header: AMR });
    }
    if !claims.amr.is_empty() {
        out.push((AMR, claims.amr.join(",").into()));
    }
    for (name, value) in &out {
        if !is_safe_header_value(value) {
            return Err(UnsafeValue { header: name });
        }
    }
    Ok(out)
}

/// The `Cookie` header for the upstream: every cookie but the edge's own, in order, as sent.
/// `None` when nothing remains (the header is then dropped). Unparseable pieces are dropped.
pub fn strip_edge_cookies(cookie_header: &str, edge_cookies: &[&str]) -> Option<String> {
    let kept: Vec<String> = cookies::header_pairs(cookie_header)
        .filter(|(name, _)| !edge_cookies.contains(name))
        .map(|(name, value)| format!("{name}={value}"))
        .filter(|pair| is_safe_header_value(pair))
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> VerifiedClaims {
        VerifiedClaims {
            sub: "user-1".into(),
            aud: vec!["api".into()],
            exp: 10,
            iat: 1,
            jti: None,
            client_id: Some("web".into()),
            sid: None,
            roles: vec!["a".into(), "b".into()],
            scope: None,
            amr: vec![],
            auth_time: None,
        }
    }

    #[test]
    fn identity_header_names_are_matched_case_insensitively() {
        for name in [
            "X-Auth-Subject",
            "x-auth-subject",
            "X-AUTH-ROLES",
            "x-auth-anything",
            // CGI, WSGI and Rack read `_` as `-`.
            "X_Auth_Subject",
            "x_auth-roles",
            "x-auth_session",
            "X_AUTH_CLIENT",
            "x_auth_",
        ] {
            assert!(is_identity_header(name), "{name}");
        }
        for name in [
            "X-Authorization",
            "X_Authorization",
            "Authorization",
            "x-aut",
            "x_auth",
            "x.auth.subject",
            "xx-auth-subject",
            "",
        ] {
            assert!(!is_identity_header(name), "{name}");
        }
    }

    #[test]
    fn identity_headers_from_claims() {
        let c = claims();
        let h = identity_headers(&c, Some("s-from-cookie")).unwrap_or_default();
        assert_eq!(
            h,
            vec![
                (SUBJECT, Cow::from("user-1")),
                (SESSION, Cow::from("s-from-cookie")),
                (ROLES, Cow::from("a,b")),
                (CLIENT, Cow::from("web")),
            ]
        );
        let mut c = claims();
        c.sid = Some("s-token".into());
        let h = identity_headers(&c, Some("s-cookie")).unwrap_or_default();
        assert!(
            h.contains(&(SESSION, Cow::from("s-token"))),
            "token sid wins"
        );
        assert!(!identity_headers(&claims(), None)
            .unwrap_or_default()
            .iter()
            .any(|(n, _)| *n == SESSION));
    }

    #[test]
    fn unsafe_values_refuse_the_request() {
        for bad in ["a\r\nX-Evil: 1", "a\nb", "a\0b", "caf\u{e9}", "\u{7f}"] {
            let mut c = claims();
            c.sub = bad.into();
            assert_eq!(
                identity_headers(&c, None),
                Err(UnsafeValue { header: SUBJECT }),
                "{bad:?}"
            );
        }
        let mut c = claims();
        c.roles = vec!["a,b".into()];
        assert_eq!(
            identity_headers(&c, None),
            Err(UnsafeValue { header: ROLES })
        );
        assert_eq!(
            identity_headers(&claims(), Some("x\ry")),
            Err(UnsafeValue { header: SESSION })
        );
    }

    #[test]
    fn amr_header_lists_the_methods_and_refuses_unsafe_values() {
        let mut c = claims();
        c.amr = vec!["pwd".into(), "otp".into(), "mfa".into()];
        let h = identity_headers(&c, None).unwrap_or_default();
        assert!(
            h.contains(&("X-Auth-Amr", Cow::from("pwd,otp,mfa"))),
            "X-Auth-Amr missing: {h:?}"
        );
        // No amr (Transmit's access tokens): no header, as for the scope.
        let plain = claims();
        let h = identity_headers(&plain, None).unwrap_or_default();
        assert!(h.iter().all(|(n, _)| *n != "X-Auth-Amr"), "{h:?}");
        // A value with a comma would read as two methods; a control character or non-ASCII
        // cannot be carried: the request is refused, as for the roles.
        for bad in ["pwd,mfa", "otp\r\nX-Evil: 1", "caf\u{e9}", "a\u{7f}"] {
            let mut c = claims();
            c.amr = vec!["pwd".into(), bad.into()];
            assert_eq!(
                identity_headers(&c, None).map_err(|e| e.header),
                Err("X-Auth-Amr"),
                "{bad:?}"
            );
        }
        assert!(is_identity_header("x_auth_amr") && is_identity_header("X-AUTH-AMR"));
    }

    #[test]
    fn edge_cookies_are_removed_others_kept() {
        let edge = ["__Host-access", "__Host-session"];
        let rows: &[(&str, Option<&str>)] = &[
            ("a=1; __Host-access=t; b=\"q v\"", Some("a=1; b=\"q v\"")),
            ("__Host-access=t; __Host-session=s", None),
            ("__host-access=keep", Some("__host-access=keep")),
            ("theme=dark", Some("theme=dark")),
            ("=novalue; ok=1", Some("ok=1")),
        ];
        for (input, want) in rows {
            assert_eq!(
                strip_edge_cookies(input, &edge).as_deref(),
                *want,
                "{input}"
            );
        }
    }

    #[test]
    fn scope_and_client_headers_and_the_value_alphabet() {
        let mut c = claims();
        c.scope = Some("read write".into());
        let h = identity_headers(&c, None).unwrap_or_default();
        assert_eq!(h.last(), Some(&(SCOPE, Cow::from("read write"))));
        for (edit, header) in [
            (
                (|c: &mut VerifiedClaims| c.scope = Some("a\nb".into())) as fn(&mut VerifiedClaims),
                SCOPE,
            ),
            (
                |c: &mut VerifiedClaims| c.client_id = Some("w\0b".into()),
                CLIENT,
            ),
            (
                |c: &mut VerifiedClaims| c.roles = vec!["r\u{1f}".into()],
                ROLES,
            ),
        ] {
            let mut c = claims();
            edit(&mut c);
            assert_eq!(identity_headers(&c, None), Err(UnsafeValue { header }));
        }
        // Visible ASCII, space and tab pass; every other control character and DEL do not.
        assert!(is_safe_header_value("a\tb c~!"));
        assert!(is_safe_header_value(""));
        for b in (0u8..0x20).filter(|b| *b != b'\t').chain([0x7f]) {
            let v = format!("a{}b", char::from(b));
            assert!(!is_safe_header_value(&v), "{b:#x}");
        }
    }

    #[test]
    fn dropped_request_headers() {
        for name in HOP_BY_HOP
            .iter()
            .copied()
            .chain(["x-auth-subject", "x_auth_roles", "X-AUTH-x"])
        {
            assert!(drops_request_header(name), "{name}");
        }
        for name in [
            "accept",
            "authorization",
            "x-request-id",
            "content-type",
            "x-authority",
            "hostname",
        ] {
            assert!(!drops_request_header(name), "{name}");
        }
    }

    #[test]
    fn headers_the_edge_sets_are_dropped_whatever_their_spelling() {
        for name in [
            "edge-assertion",
            "Edge-Assertion",
            "EDGE_ASSERTION",
            "edge_assertion",
            "x-forwarded-host",
            "X_Forwarded_Host",
            "x-forwarded_proto",
            "X-FORWARDED-PROTO",
            "forwarded",
        ] {
            assert!(is_replaced_header(name), "{name}");
            assert!(drops_request_header(name), "{name}");
        }
        for name in [
            "edge-assertion-x",
            "edge-assertio",
            "x-forwarded-for",
            "x-forwarded-hostname",
            "forwarded-for",
            "x-forwarded-port",
        ] {
            assert!(!is_replaced_header(name), "{name}");
        }
    }

    #[test]
    fn forwarded_host_and_proto_come_from_the_request_url() {
        let rows: &[(&str, Option<(&str, &str)>)] = &[
            ("https://app.example/x", Some(("https", "app.example"))),
            (
                "http://127.0.0.1:8787/a?b",
                Some(("http", "127.0.0.1:8787")),
            ),
            ("https://App.Example", Some(("https", "App.Example"))),
            ("https://[::1]:8443/", Some(("https", "[::1]:8443"))),
            ("https://app.example?x=/", Some(("https", "app.example"))),
            ("ftp://app.example/", None),
            ("https:///x", None),
            ("https://user@app.example/", None),
            ("https://caf\u{e9}.example/", None),
            ("https://a b/", None),
            ("/relative", None),
        ];
        for (url, want) in rows {
            assert_eq!(forwarded_from(url), *want, "{url}");
        }
    }

    #[test]
    fn upstream_headers_in_order() {
        let c = claims();
        let public = upstream_headers("https://app.example/x", None, Some("tok")).unwrap();
        assert_eq!(
            public,
            vec![
                (FORWARDED_HOST, Cow::from("app.example")),
                (FORWARDED_PROTO, Cow::from("https")),
            ],
            "a public request carries no identity and no assertion"
        );
        let names = |h: Vec<(&'static str, Cow<'_, str>)>| {
            h.into_iter().map(|(n, _)| n).collect::<Vec<_>>()
        };
        assert_eq!(
            names(
                upstream_headers("https://a.test/", Some((&c, Some("s"))), Some("t.o.k")).unwrap()
            ),
            vec![
                FORWARDED_HOST,
                FORWARDED_PROTO,
                SUBJECT,
                SESSION,
                ROLES,
                CLIENT,
                assertion::HEADER
            ]
        );
        assert_eq!(
            names(upstream_headers("https://a.test/", Some((&c, None)), None).unwrap()),
            vec![FORWARDED_HOST, FORWARDED_PROTO, SUBJECT, ROLES, CLIENT]
        );
        let mut bad = claims();
        bad.sub = "a\nb".into();
        assert_eq!(
            upstream_headers("https://a.test/", Some((&bad, None)), Some("t")),
            Err(UnsafeValue { header: SUBJECT })
        );
    }

    #[test]
    fn websocket_upgrades() {
        for (method, upgrade, want) in [
            ("GET", Some("websocket"), true),
            ("GET", Some("WebSocket"), true),
            ("GET", Some(" websocket "), true),
            ("POST", Some("websocket"), false),
            ("GET", Some("h2c"), false),
            ("GET", Some("websocket, h2c"), false),
            ("GET", None, false),
        ] {
            assert_eq!(
                is_websocket_upgrade(method, upgrade),
                want,
                "{method} {upgrade:?}"
            );
        }
    }

    #[test]
    fn bodies_and_the_subrequest_cache() {
        for m in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert!(forwards_body(m), "{m}");
        }
        assert!(!forwards_body("GET") && !forwards_body("HEAD"));
        assert!(bypasses_subrequest_cache(true) && !bypasses_subrequest_cache(false));
    }
}
