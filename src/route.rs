//! Route classification: which phase chain a request takes.
//!
//! Paths are matched as [`crate::target`] parsed them (WHATWG: literal dot segments resolved;
//! shapes decoders disagree on refused before this point), and the upstream receives that same
//! path, so what is checked is what is forwarded.

/// Methods the edge handles. Anything else (`TRACE`, `CONNECT`, WebDAV's `PROPFIND`, …) is
/// refused with 405 before classification: `TRACE` would echo the identity headers and
/// `Authorization` back, and `CONNECT` is not a request for a resource.
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Whether the edge handles `method` (case-sensitive, as HTTP methods are).
pub fn is_allowed_method(method: &str) -> bool {
    METHODS.contains(&method)
}

/// An operation under the edge's own prefix (default `/auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRoute {
    /// `POST {prefix}/login`.
    Login,
    /// `POST {prefix}/refresh`.
    Refresh,
    /// `POST {prefix}/logout`.
    Logout,
    /// `POST {prefix}/logout-all`.
    LogoutAll,
    /// `GET {prefix}/session`.
    Session,
    /// `GET {prefix}/sessions`.
    Sessions,
    /// `GET {prefix}/jwks`: the identity assertion's public keys.
    Jwks,
    /// `DELETE {prefix}/sessions/{handle}`: end one of the caller's sessions.
    EndSession(Handle),
    /// `POST {prefix}/revocations`: the revocation webhook.
    Revocations,
    /// `POST {prefix}/otp/send`: an email passcode for `/login`'s `email_otp`.
    OtpSend,
    /// Anything else under the prefix (404), or a known path with the wrong method (405).
    Unknown {
        /// The path exists but not for this method.
        wrong_method: bool,
    },
}

/// Length of a session handle.
pub const HANDLE_LEN: usize = 16;

/// A session's handle as `GET /auth/sessions` shows it (`edge_routes::short_id`): 16
/// lowercase hex digits, never the session id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle([u8; HANDLE_LEN]);

impl Handle {
    /// `s` if it is a handle's shape (exactly 16 of `0-9a-f`).
    pub fn parse(s: &str) -> Option<Self> {
        let bytes: [u8; HANDLE_LEN] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .then_some(Self(bytes))
    }

    /// The handle as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// What a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The edge's own session API.
    Auth(AuthRoute),
    /// Forwarded without a token (identity headers still stripped).
    Public,
    /// Forwarded only with a valid, unrevoked access token.
    Protected,
}

/// Path patterns (`PUBLIC_PATHS`, and the paths of `ROUTE_POLICIES`' rules): `/x` matches
/// exactly, `/x/*` matches `/x` and everything below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathRules {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl PathRules {
    /// Parses a comma-separated list. Every entry must start with `/`.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut rules = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if !entry.starts_with('/') {
                return Err(format!("entry {entry:?} does not start with '/'"));
            }
            if entry.contains(['?', '#', ' ']) {
                return Err(format!("entry {entry:?} contains '?', '#' or a space"));
            }
            match entry.strip_suffix("/*") {
                Some(prefix) => rules.prefixes.push(prefix.to_owned()),
                None if entry.contains('*') => {
                    return Err(format!("entry {entry:?}: '*' only as a final '/*'"))
                }
                None => rules.exact.push(entry.to_owned()),
            }
        }
        Ok(rules)
    }

    /// Whether `path` matches one of the patterns.
    pub fn matches(&self, path: &str) -> bool {
        self.exact.iter().any(|e| e == path) || self.prefixes.iter().any(|p| under(p, path))
    }

    /// Whether there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }

    /// The first of these patterns every path of which `other` matches too (`/x` when `other`
    /// matches `/x`; `/x/*` when `other` has `/x/*` or a prefix pattern above it), as written.
    pub fn first_covered_by(&self, other: &Self) -> Option<String> {
        if let Some(e) = self.exact.iter().find(|e| other.matches(e)) {
            return Some(e.clone());
        }
        self.prefixes
            .iter()
            .find(|p| other.prefixes.iter().any(|q| under(q, p)))
            .map(|p| format!("{p}/*"))
    }
}

/// Whether `path` is matched by the prefix pattern `{prefix}/*`: `prefix` itself or a path
/// below it (`/*`, the empty prefix, matches every path).
fn under(prefix: &str, path: &str) -> bool {
    path == prefix
        || prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether `v` is a plain absolute path on this origin, as every browser reads a `Location`:
/// one leading `/` (so no scheme), no `//` and no `\\` anywhere (browsers read `\\` as `/`, so
/// `/\\evil.test` is `//evil.test`), and only visible ASCII (browsers drop tabs and newlines:
/// `/\t/evil.test` is `//evil.test` too).
pub fn is_local_path(v: &str) -> bool {
    v.starts_with('/')
        && !v.contains("//")
        && v.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'\\')
}

/// Classifies a request by method and path.
pub fn classify(method: &str, path: &str, auth_prefix: &str, public: &PathRules) -> Route {
    if let Some(rest) = path.strip_prefix(auth_prefix) {
        if rest.is_empty() || rest.starts_with('/') {
            return Route::Auth(auth_route(method, rest));
        }
    }
    if public.matches(path) {
        Route::Public
    } else {
        Route::Protected
    }
}

fn auth_route(method: &str, rest: &str) -> AuthRoute {
    const UNKNOWN: AuthRoute = AuthRoute::Unknown {
        wrong_method: false,
    };
    let (want, route) = match rest.strip_prefix("/sessions/") {
        Some(handle) => match Handle::parse(handle) {
            Some(h) => ("DELETE", AuthRoute::EndSession(h)),
            None => return UNKNOWN,
        },
        None => match rest {
            "/login" => ("POST", AuthRoute::Login),
            "/refresh" => ("POST", AuthRoute::Refresh),
            "/logout" => ("POST", AuthRoute::Logout),
            "/logout-all" => ("POST", AuthRoute::LogoutAll),
            "/session" => ("GET", AuthRoute::Session),
            "/sessions" => ("GET", AuthRoute::Sessions),
            "/revocations" => ("POST", AuthRoute::Revocations),
            "/jwks" => ("GET", AuthRoute::Jwks),
            "/otp/send" => ("POST", AuthRoute::OtpSend),
            _ => return UNKNOWN,
        },
    };
    if method == want || (want == "GET" && method == "HEAD") {
        route
    } else {
        AuthRoute::Unknown { wrong_method: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PathRules {
        PathRules::parse("/health, /static/*, /").unwrap_or_default()
    }

    #[test]
    fn classification_table() {
        let r = rules();
        let rows: &[(&str, &str, Route)] = &[
            ("POST", "/auth/login", Route::Auth(AuthRoute::Login)),
            ("POST", "/auth/refresh", Route::Auth(AuthRoute::Refresh)),
            ("POST", "/auth/logout", Route::Auth(AuthRoute::Logout)),
            (
                "POST",
                "/auth/logout-all",
                Route::Auth(AuthRoute::LogoutAll),
            ),
            ("GET", "/auth/session", Route::Auth(AuthRoute::Session)),
            ("HEAD", "/auth/session", Route::Auth(AuthRoute::Session)),
            ("GET", "/auth/sessions", Route::Auth(AuthRoute::Sessions)),
            ("GET", "/auth/jwks", Route::Auth(AuthRoute::Jwks)),
            ("HEAD", "/auth/jwks", Route::Auth(AuthRoute::Jwks)),
            ("POST", "/auth/otp/send", Route::Auth(AuthRoute::OtpSend)),
            (
                "GET",
                "/auth/otp/send",
                Route::Auth(AuthRoute::Unknown { wrong_method: true }),
            ),
            (
                "GET",
                "/auth/login",
                Route::Auth(AuthRoute::Unknown { wrong_method: true }),
            ),
            (
                "GET",
                "/auth/nope",
                Route::Auth(AuthRoute::Unknown {
                    wrong_method: false,
                }),
            ),
            (
                "GET",
                "/auth",
                Route::Auth(AuthRoute::Unknown {
                    wrong_method: false,
                }),
            ),
            ("GET", "/authors", Route::Protected),
            ("GET", "/health", Route::Public),
            ("GET", "/health/x", Route::Protected),
            ("GET", "/healthz", Route::Protected),
            ("GET", "/static", Route::Public),
            ("GET", "/static/app.js", Route::Public),
            ("GET", "/staticfoo", Route::Protected),
            ("GET", "/", Route::Public),
            ("GET", "/api/me", Route::Protected),
        ];
        for (method, path, want) in rows {
            assert_eq!(
                classify(method, path, "/auth", &r),
                *want,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn methods() {
        for m in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            assert!(is_allowed_method(m), "{m}");
        }
        for m in ["TRACE", "CONNECT", "TRACK", "PROPFIND", "get", "", "GET "] {
            assert!(!is_allowed_method(m), "{m}");
        }
    }

    #[test]
    fn rule_syntax_errors() {
        assert!(PathRules::parse("health").is_err());
        assert!(PathRules::parse("/a*b").is_err());
        assert!(PathRules::parse("/a?x").is_err());
        assert_eq!(PathRules::parse(" , ").map(|r| r.matches("/")), Ok(false));
    }

    #[test]
    fn auth_routes_answer_only_their_method() {
        let r = rules();
        let wrong = Route::Auth(AuthRoute::Unknown { wrong_method: true });
        // HEAD stands in for GET only; a GET-only route refuses POST and the POST routes
        // refuse GET and HEAD.
        let rows: &[(&str, &str, Route)] = &[
            ("HEAD", "/auth/sessions", Route::Auth(AuthRoute::Sessions)),
            ("POST", "/auth/session", wrong),
            ("POST", "/auth/sessions", wrong),
            ("POST", "/auth/jwks", wrong),
            ("DELETE", "/auth/session", wrong),
            ("HEAD", "/auth/login", wrong),
            ("HEAD", "/auth/logout", wrong),
            ("GET", "/auth/refresh", wrong),
            ("PUT", "/auth/logout-all", wrong),
            ("post", "/auth/login", wrong),
        ];
        for (method, path, want) in rows {
            assert_eq!(
                classify(method, path, "/auth", &r),
                *want,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn covered_patterns() {
        let public = PathRules::parse("/static/*, /health, /docs").unwrap_or_default();
        let rows: &[(&str, Option<&str>)] = &[
            ("/health", Some("/health")),
            ("/static/*", Some("/static/*")),
            ("/static/img/*", Some("/static/img/*")),
            ("/static", Some("/static")),
            ("/static/a.js", Some("/static/a.js")),
            // `/docs` alone is public, not what is below it; `/health/*` reaches `/health/x`.
            ("/docs/*", None),
            ("/health/*", None),
            ("/staticx/*", None),
            ("/*", None),
            ("/api/*, /static/*", Some("/static/*")),
            ("/api, /healthz", None),
        ];
        for (rule, want) in rows {
            let r = PathRules::parse(rule).unwrap_or_default();
            assert_eq!(r.first_covered_by(&public).as_deref(), *want, "{rule}");
        }
        let everything = PathRules::parse("/*").unwrap_or_default();
        assert_eq!(
            PathRules::parse("/*")
                .unwrap_or_default()
                .first_covered_by(&everything)
                .as_deref(),
            Some("/*")
        );
        assert!(PathRules::parse(" , ").is_ok_and(|r| r.is_empty()));
        assert!(!public.is_empty());
        assert!(PathRules::parse("/*").is_ok_and(|r| !r.is_empty()));
    }

    #[test]
    fn local_paths() {
        for ok in ["/", "/a/b?x=1", "/login#f"] {
            assert!(is_local_path(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "//x",
            "/a//b",
            "/\\x",
            "/a b",
            "/\tx",
            "/caf\u{e9}",
            "https://x/",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn session_handles_and_the_webhook_route() {
        let r = rules();
        let h = Handle::parse("0123456789abcdef");
        assert_eq!(
            h.map(|h| h.as_str().to_owned()).as_deref(),
            Some("0123456789abcdef")
        );
        let end = |h: Option<Handle>| h.map(|h| Route::Auth(AuthRoute::EndSession(h)));
        let wrong = Route::Auth(AuthRoute::Unknown { wrong_method: true });
        let unknown = Route::Auth(AuthRoute::Unknown {
            wrong_method: false,
        });
        let rows: &[(&str, &str, Option<Route>)] = &[
            ("DELETE", "/auth/sessions/0123456789abcdef", end(h)),
            ("GET", "/auth/sessions/0123456789abcdef", Some(wrong)),
            ("POST", "/auth/sessions/0123456789abcdef", Some(wrong)),
            ("HEAD", "/auth/sessions/0123456789abcdef", Some(wrong)),
            // Not a handle's shape: no such route, whatever the method.
            ("DELETE", "/auth/sessions/0123456789ABCDEF", Some(unknown)),
            ("DELETE", "/auth/sessions/0123456789abcde", Some(unknown)),
            ("DELETE", "/auth/sessions/0123456789abcdef0", Some(unknown)),
            ("DELETE", "/auth/sessions/0123456789abcdeg", Some(unknown)),
            ("DELETE", "/auth/sessions/", Some(unknown)),
            ("GET", "/auth/sessions/x", Some(unknown)),
            ("DELETE", "/auth/sessions/0123456789abcdef/x", Some(unknown)),
            ("DELETE", "/auth/sessions", Some(wrong)),
            (
                "POST",
                "/auth/revocations",
                Some(Route::Auth(AuthRoute::Revocations)),
            ),
            ("GET", "/auth/revocations", Some(wrong)),
            ("PUT", "/auth/revocations", Some(wrong)),
            ("POST", "/auth/revocations/", Some(unknown)),
        ];
        for (method, path, want) in rows {
            assert_eq!(
                Some(classify(method, path, "/auth", &r)),
                *want,
                "{method} {path}"
            );
        }
        for bad in [
            "",
            "0123456789abcde",
            "0123456789abcdef0",
            "0123456789abcdeF",
            "é123456789abcdef",
        ] {
            assert_eq!(Handle::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bare_wildcard_makes_everything_public() {
        let all = PathRules::parse("/*").unwrap_or_default();
        for path in ["/", "/api/me", "/x/y"] {
            assert!(all.matches(path), "{path}");
        }
        let none = PathRules::default();
        assert!(!none.matches("/"));
    }
}
