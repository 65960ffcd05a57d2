//! What the upstream receives: the request headers as the client sent them, less the edge's
//! own cookies and any client-sent identity header, plus the verified identity.
//!
//! Header names the edge adds are all `X-Auth-*`; every client-sent header with that prefix is
//! removed first, whatever its case and whether it spells `-` as `_` (CGI, WSGI and Rack map
//! both to `_`: `X_Auth_Roles` would reach them as `HTTP_X_AUTH_ROLES`), so the upstream can
//! trust them. A verified value that
//! cannot be carried safely in a header (CR, LF, NUL, any other control character, or
//! non-ASCII) refuses the request instead of being mangled.

use cookie::Cookie;

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

/// Whether a request header must not pass from the client to the upstream: its name starts
/// with `x-auth-` once ASCII case is folded and `_` is read as `-` (the CGI mapping).
pub fn is_identity_header(name: &str) -> bool {
    name.len() >= IDENTITY_PREFIX.len()
        && name
            .bytes()
            .zip(IDENTITY_PREFIX.bytes())
            .all(|(n, p)| n.to_ascii_lowercase() == p || (n == b'_' && p == b'-'))
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
/// dropped before the request goes upstream: a hop-by-hop or rebuilt header, or an identity
/// header the client has no right to send.
pub fn drops_request_header(name: &str) -> bool {
    HOP_BY_HOP.contains(&name) || is_identity_header(name)
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

/// The identity headers for verified claims, with an explicit session id when the session
/// cookie supplied one (Transmit's tokens carry no `sid`).
pub fn identity_headers(
    claims: &VerifiedClaims,
    session_id: Option<&str>,
) -> Result<Vec<(&'static str, String)>, UnsafeValue> {
    let mut out = Vec::with_capacity(6);
    out.push((SUBJECT, claims.sub.clone()));
    if let Some(sid) = claims.sid.as_deref().or(session_id) {
        out.push((SESSION, sid.to_owned()));
    }
    if claims.roles.iter().any(|r| r.contains(',')) {
        return Err(UnsafeValue { header: ROLES });
    }
    out.push((ROLES, claims.roles.join(",")));
    if let Some(client) = &claims.client_id {
        out.push((CLIENT, client.clone()));
    }
    if let Some(scope) = &claims.scope {
        out.push((SCOPE, scope.clone()));
    }
    // Joined like the roles, so a method with a comma would read as two: refused.
    if claims.amr.iter().any(|m| m.contains(',')) {
        return Err(UnsafeValue { header: AMR });
    }
    if !claims.amr.is_empty() {
        out.push((AMR, claims.amr.join(",")));
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
    let kept: Vec<String> = Cookie::split_parse(cookie_header)
        .flatten()
        .filter(|c| !edge_cookies.contains(&c.name()))
        .filter_map(|c| match (c.name_raw(), c.value_raw()) {
            (Some(n), Some(v)) => Some(format!("{n}={v}")),
            _ => None,
        })
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
        let h = identity_headers(&claims(), Some("s-from-cookie")).unwrap_or_default();
        assert_eq!(
            h,
            vec![
                (SUBJECT, "user-1".to_owned()),
                (SESSION, "s-from-cookie".to_owned()),
                (ROLES, "a,b".to_owned()),
                (CLIENT, "web".to_owned()),
            ]
        );
        let mut c = claims();
        c.sid = Some("s-token".into());
        let h = identity_headers(&c, Some("s-cookie")).unwrap_or_default();
        assert!(
            h.contains(&(SESSION, "s-token".to_owned())),
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
            h.contains(&("X-Auth-Amr", "pwd,otp,mfa".to_owned())),
            "X-Auth-Amr missing: {h:?}"
        );
        // No amr (Transmit's access tokens): no header, as for the scope.
        let h = identity_headers(&claims(), None).unwrap_or_default();
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
        assert_eq!(h.last(), Some(&(SCOPE, "read write".to_owned())));
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
    fn bodies_and_the_subrequest_cache() {
        for m in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert!(forwards_body(m), "{m}");
        }
        assert!(!forwards_body("GET") && !forwards_body("HEAD"));
        assert!(bypasses_subrequest_cache(true) && !bypasses_subrequest_cache(false));
    }
}
