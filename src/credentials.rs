//! Where the access token comes from: `Authorization: Bearer` or the edge's access cookie.
//!
//! `Authorization` wins when both are present (an API client's explicit choice); RFC 6750
//! §2 forbids several *RFC 6750* methods in one request, and the cookie is not one of them.

use crate::cookies;

/// An access token found in the request (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No token was presented.
    None,
    /// From `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// From the access cookie.
    Cookie(&'a str),
}

impl Credential<'_> {
    /// The token, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::Bearer(t) | Self::Cookie(t) => Some(t),
        }
    }
}

/// Why the request's credentials are malformed (answered 400 `invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    /// `Authorization: Bearer` with no token, or a token outside the b64token alphabet
    /// (including the `, ` that joins repeated headers).
    MalformedBearer,
    /// The access cookie appears more than once.
    DuplicateCookie,
    /// The `Cookie` header is larger than the limit.
    CookieHeaderTooLarge,
}

impl CredentialError {
    /// Secret-free reason for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::MalformedBearer => "malformed_authorization",
            Self::DuplicateCookie => "duplicate_access_cookie",
            Self::CookieHeaderTooLarge => "cookie_header_too_large",
        }
    }
}

/// Largest `Cookie` header the edge parses, in bytes.
pub const MAX_COOKIE_HEADER_BYTES: usize = 16 * 1024;

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Finds the access token in the `Authorization` and `Cookie` headers.
pub fn extract<'a>(
    authorization: Option<&'a str>,
    cookie_header: Option<&'a str>,
    access_cookie: &str,
) -> Result<Credential<'a>, CredentialError> {
    if let Some(auth) = authorization {
        let auth = auth.trim_matches(|c| c == ' ' || c == '\t');
        let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let token = rest.trim_start_matches(' ');
            if !is_b64token(token) {
                return Err(CredentialError::MalformedBearer);
            }
            return Ok(Credential::Bearer(token));
        }
        // Another scheme (Basic, …) is not ours: treat it as no bearer token.
    }
    match find_cookie(cookie_header, access_cookie)? {
        Some(value) => Ok(Credential::Cookie(value)),
        None => Ok(Credential::None),
    }
}

/// The value of cookie `name` in a `Cookie` header; an error if it appears more than once.
pub fn find_cookie<'a>(
    cookie_header: Option<&'a str>,
    name: &str,
) -> Result<Option<&'a str>, CredentialError> {
    let Some(header) = cookie_header else {
        return Ok(None);
    };
    if header.len() > MAX_COOKIE_HEADER_BYTES {
        return Err(CredentialError::CookieHeaderTooLarge);
    }
    let mut found = None;
    for (n, value) in cookies::header_pairs(header) {
        if n == name {
            if found.is_some() {
                return Err(CredentialError::DuplicateCookie);
            }
            found = Some(value);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "__Host-access";

    #[test]
    fn sources_table() {
        type Row<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Result<Credential<'a>, CredentialError>,
        );
        let rows: &[Row<'_>] = &[
            (None, None, Ok(Credential::None)),
            (
                Some("Bearer abc.def.ghi"),
                None,
                Ok(Credential::Bearer("abc.def.ghi")),
            ),
            (Some("bearer abc"), None, Ok(Credential::Bearer("abc"))),
            (Some("BEARER  abc=="), None, Ok(Credential::Bearer("abc=="))),
            (Some("Bearer"), None, Err(CredentialError::MalformedBearer)),
            (Some("Bearer "), None, Err(CredentialError::MalformedBearer)),
            (
                Some("Bearer a b"),
                None,
                Err(CredentialError::MalformedBearer),
            ),
            (
                Some("Bearer a, Bearer b"),
                None,
                Err(CredentialError::MalformedBearer),
            ),
            (
                Some("Bearer a\u{0}b"),
                None,
                Err(CredentialError::MalformedBearer),
            ),
            (
                Some("Bearer ===="),
                None,
                Err(CredentialError::MalformedBearer),
            ),
            (Some("Basic dXNlcjpwdw=="), None, Ok(Credential::None)),
            (
                None,
                Some("a=1; __Host-access=tok; b=2"),
                Ok(Credential::Cookie("tok")),
            ),
            (
                None,
                Some("__Host-access=x; __Host-access=y"),
                Err(CredentialError::DuplicateCookie),
            ),
            (None, Some("__host-access=x"), Ok(Credential::None)),
            (
                Some("Bearer hdr"),
                Some("__Host-access=ck"),
                Ok(Credential::Bearer("hdr")),
            ),
            (
                Some("Basic x"),
                Some("__Host-access=ck"),
                Ok(Credential::Cookie("ck")),
            ),
        ];
        for (auth, cookie, want) in rows {
            assert_eq!(extract(*auth, *cookie, C), *want, "{auth:?} {cookie:?}");
        }
    }

    #[test]
    fn oversized_cookie_header_is_refused() {
        let big = format!("a={}", "x".repeat(MAX_COOKIE_HEADER_BYTES));
        assert_eq!(
            extract(None, Some(&big), C),
            Err(CredentialError::CookieHeaderTooLarge)
        );
    }

    #[test]
    fn authorization_is_trimmed_of_spaces_and_tabs_only() {
        for (auth, want) in [
            ("  Bearer abc", Ok(Credential::Bearer("abc"))),
            ("\tBearer abc", Ok(Credential::Bearer("abc"))),
            ("Bearer abc \t", Ok(Credential::Bearer("abc"))),
            ("Bearer abc\t ", Ok(Credential::Bearer("abc"))),
            ("Bearer abc\n", Err(CredentialError::MalformedBearer)),
            ("Bearer abc\r", Err(CredentialError::MalformedBearer)),
        ] {
            assert_eq!(extract(Some(auth), None, C), want, "{auth:?}");
        }
    }

    #[test]
    fn cookie_header_bound_is_inclusive() {
        // Exactly the documented limit, 16 KiB, is parsed; one byte more is refused.
        let prefix = "__Host-access=tok; a=";
        let at = format!("{prefix}{}", "x".repeat(16_384 - prefix.len()));
        assert_eq!(at.len(), 16_384);
        assert_eq!(extract(None, Some(&at), C), Ok(Credential::Cookie("tok")));
        let over = format!("{at}x");
        assert_eq!(
            find_cookie(Some(&over), C),
            Err(CredentialError::CookieHeaderTooLarge)
        );
    }

    #[test]
    fn token_of_each_credential() {
        assert_eq!(Credential::None.token(), None);
        assert_eq!(Credential::Bearer("b").token(), Some("b"));
        assert_eq!(Credential::Cookie("c").token(), Some("c"));
    }

    #[test]
    fn reasons_are_distinct_and_named() {
        let all = [
            (CredentialError::MalformedBearer, "malformed_authorization"),
            (CredentialError::DuplicateCookie, "duplicate_access_cookie"),
            (
                CredentialError::CookieHeaderTooLarge,
                "cookie_header_too_large",
            ),
        ];
        for (e, reason) in all {
            assert_eq!(e.reason(), reason, "{e:?}");
        }
    }

    #[test]
    fn b64token_alphabet() {
        for ok in ["a", "A-._~+/z", "abc==", "0/9"] {
            assert!(is_b64token(ok), "{ok:?}");
        }
        for bad in ["", "=", "a=b", "a b", "a,b", "a\"b", "é", "a;b"] {
            assert!(!is_b64token(bad), "{bad:?}");
        }
    }
}
