//! The cookie policy, as pure functions: the `Set-Cookie` values the edge writes and the
//! reading of a request's `Cookie` header.
//!
//! Every cookie the edge sets is [`conform`]ed: `__Host-` prefix rules (`Secure`, `Path=/`, no
//! `Domain`; draft-ietf-httpbis-rfc6265bis §4.1.3.2), `HttpOnly`, `SameSite=Strict` (or `Lax` by
//! configuration), and no `Max-Age`/`Expires` unless persistent sessions are configured, in
//! which case the lifetime never exceeds the session's expiry. A serialised cookie over
//! [`MAX_COOKIE_BYTES`] is an error rather than a cookie the browser would silently drop.
//!
//! Written here rather than through the `cookie` crate: the edge writes one fixed shape and
//! reads only `name=value` pairs, and the crate (with the `time` crate it needs for `Expires`)
//! was 75 KB of the wasm. The `cookie` crate stays the oracle: the tests and the fuzz targets
//! parse every value written here with it, and hold [`header_pairs`] to its `split_parse`.

/// The prefix every edge cookie carries (`Secure`, `Path=/`, no `Domain`).
pub const HOST_PREFIX: &str = "__Host-";

/// Browsers keep cookies up to 4096 bytes (name + value + attributes); stay under it.
pub const MAX_COOKIE_BYTES: usize = 4095;

/// How cookies are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `SameSite` value: `Strict` by default, `Lax` by configuration.
    pub same_site_lax: bool,
    /// Persistent cookies (with `Max-Age`), bounded by the session's expiry.
    pub persistent: bool,
}

/// A cookie that cannot be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieError {
    /// Serialised larger than [`MAX_COOKIE_BYTES`].
    TooLarge {
        /// The cookie's name (never its value).
        name: String,
        /// Its serialised length.
        len: usize,
    },
    /// The name does not carry the `__Host-` prefix.
    NotHostPrefixed,
    /// The name is not an RFC 6265 `token` (control bytes, spaces, separators such as `;`).
    InvalidName,
    /// The value has a byte outside RFC 6265 `cookie-octet` (control bytes, space, `"`, `,`,
    /// `;`, `\`, non-ASCII): serialised as it is, it would add attributes (`; Domain=…`) or
    /// break the header.
    InvalidValue {
        /// The cookie's name (never its value).
        name: String,
    },
}

/// RFC 6265 §4.1.1 `token` (RFC 2616 §2.2): visible ASCII except separators.
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// RFC 6265 §4.1.1 `cookie-octet`: `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_cookie_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
}

/// `name=value` with the policy's attributes, in the order the `cookie` crate writes them:
/// `HttpOnly`, `SameSite`, `Secure`, `Path=/`, then `Max-Age` when given. Never `Domain`,
/// `Expires` or `Partitioned`.
fn serialise(name: &str, value: &str, policy: &CookiePolicy, max_age: Option<i64>) -> String {
    let same_site = if policy.same_site_lax {
        "Lax"
    } else {
        "Strict"
    };
    let mut s = format!("{name}={value}; HttpOnly; SameSite={same_site}; Secure; Path=/");
    if let Some(secs) = max_age {
        s.push_str(&format!("; Max-Age={secs}"));
    }
    s
}

/// The name and value refusals, before anything is written.
fn check_pair(name: &str, value: &str) -> Result<(), CookieError> {
    if !name.starts_with(HOST_PREFIX) {
        return Err(CookieError::NotHostPrefixed);
    }
    if !is_token(name) {
        return Err(CookieError::InvalidName);
    }
    if !is_cookie_value(value) {
        return Err(CookieError::InvalidValue {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The `Set-Cookie` value for `name=value` under `policy`. With persistent sessions the
/// cookie lives until `expires_at` (seconds since the epoch) and never longer; without an
/// expiry, or when not persistent, it is a session cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    policy: &CookiePolicy,
    expires_at: Option<i64>,
    now: i64,
) -> Result<String, CookieError> {
    let max_age = match (policy.persistent, expires_at) {
        (true, Some(exp)) => Some(exp.saturating_sub(now).max(0)),
        _ => None,
    };
    check_pair(name, value)?;
    let s = serialise(name, value, policy, max_age);
    if s.len() > MAX_COOKIE_BYTES {
        return Err(CookieError::TooLarge {
            name: name.to_owned(),
            len: s.len(),
        });
    }
    Ok(s)
}

/// The `Set-Cookie` value that deletes `name`: empty value, `Max-Age=0`, same attributes.
pub fn clear_cookie(name: &str, policy: &CookiePolicy) -> String {
    serialise(name, "", policy, Some(0))
}

/// The `name=value` pairs of a request's `Cookie` header, in order, as sent (nothing is
/// decoded; a quoted value keeps its quotes). Pieces are split at `;` and trimmed, the name
/// ends at the first `=`, and a piece without `=` or with an empty name is skipped: the
/// reading of the `cookie` crate's `Cookie::split_parse`, which a property test and the
/// `cookie_header` fuzz oracle hold this to.
pub fn header_pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|piece| {
        let (name, value) = piece.trim().split_once('=')?;
        let name = name.trim();
        (!name.is_empty()).then(|| (name, value.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    // The `cookie` crate (a dev-dependency) is the independent reader of what is written here.
    use cookie::time::Duration;
    use cookie::{Cookie, SameSite};

    const STRICT: CookiePolicy = CookiePolicy {
        same_site_lax: false,
        persistent: false,
    };

    fn parse(s: &str) -> Cookie<'static> {
        Cookie::parse(s.to_owned()).unwrap_or_else(|_| Cookie::new("unparseable", ""))
    }

    #[test]
    fn default_cookie_has_every_attribute_and_no_lifetime() {
        let s = set_cookie("__Host-session", "v", &STRICT, Some(2_000), 1_000).unwrap_or_default();
        let c = parse(&s);
        assert_eq!(c.name(), "__Host-session");
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.path(), Some("/"));
        assert_eq!(c.domain(), None);
        assert_eq!(c.same_site(), Some(SameSite::Strict));
        assert_eq!(c.max_age(), None);
        assert_eq!(c.expires(), None);
    }

    #[test]
    fn lax_by_configuration() {
        let p = CookiePolicy {
            same_site_lax: true,
            ..STRICT
        };
        let c = parse(&set_cookie("__Host-a", "v", &p, None, 0).unwrap_or_default());
        assert_eq!(c.same_site(), Some(SameSite::Lax));
    }

    #[test]
    fn persistent_never_outlives_the_session() {
        let p = CookiePolicy {
            persistent: true,
            ..STRICT
        };
        let c = parse(&set_cookie("__Host-a", "v", &p, Some(1_600), 1_000).unwrap_or_default());
        assert_eq!(c.max_age(), Some(Duration::seconds(600)));
        let c = parse(&set_cookie("__Host-a", "v", &p, Some(900), 1_000).unwrap_or_default());
        assert_eq!(c.max_age(), Some(Duration::ZERO));
    }

    #[test]
    fn the_exact_shape_written() {
        let lax = CookiePolicy {
            same_site_lax: true,
            persistent: true,
        };
        assert_eq!(
            set_cookie("__Host-a", "v", &STRICT, Some(9), 0).as_deref(),
            Ok("__Host-a=v; HttpOnly; SameSite=Strict; Secure; Path=/")
        );
        assert_eq!(
            set_cookie("__Host-a", "v", &lax, Some(1_600), 1_000).as_deref(),
            Ok("__Host-a=v; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=600")
        );
        assert_eq!(
            clear_cookie("__Host-a", &STRICT),
            "__Host-a=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0"
        );
        // What the `cookie` crate writes for the same cookie, byte for byte.
        let mut c = Cookie::new("__Host-a", "v");
        c.set_http_only(true);
        c.set_same_site(SameSite::Lax);
        c.set_secure(true);
        c.set_path("/");
        c.set_max_age(Duration::seconds(600));
        assert_eq!(
            set_cookie("__Host-a", "v", &lax, Some(1_600), 1_000),
            Ok(c.to_string())
        );
    }

    /// The reading of the `cookie` crate's `split_parse`, on the shapes a client can send.
    #[test]
    fn header_pairs_read_as_the_cookie_crate_does() {
        let crate_pairs = |h: &str| -> Vec<(String, String)> {
            Cookie::split_parse(h)
                .flatten()
                .map(|c| (c.name().to_owned(), c.value().to_owned()))
                .collect()
        };
        for header in [
            "",
            ";",
            " ; ;; ",
            "a=1",
            "a=1; b=2",
            "a=1;b=2;",
            "  a = 1 ;\tb=2\t",
            "=v; a=1",
            " =v",
            "novalue; a=1",
            "a==b=c",
            "a=\"quoted\"",
            "a=1; a=2",
            "__Host-access=x; __Host-access=y",
            "a=1\u{a0}; \u{3000}b=2",
            "a\r\n=1; b=\x00",
            "caf\u{e9}=cr\u{e8}me",
        ] {
            let ours: Vec<(String, String)> = header_pairs(header)
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            assert_eq!(ours, crate_pairs(header), "{header:?}");
        }
    }

    #[test]
    fn oversized_and_unprefixed_cookies_are_refused() {
        let big = "x".repeat(MAX_COOKIE_BYTES);
        assert!(matches!(
            set_cookie("__Host-a", &big, &STRICT, None, 0),
            Err(CookieError::TooLarge { .. })
        ));
        assert_eq!(
            set_cookie("plain", "v", &STRICT, None, 0),
            Err(CookieError::NotHostPrefixed)
        );
    }

    #[test]
    fn clearing_uses_max_age_zero_and_same_attributes() {
        let c = parse(&clear_cookie("__Host-access", &STRICT));
        assert_eq!(c.value(), "");
        assert_eq!(c.max_age(), Some(Duration::ZERO));
        assert_eq!(c.path(), Some("/"));
        assert_eq!(c.secure(), Some(true));
    }

    /// Found by the `set_cookie_roundtrip` fuzz oracle: a value (or name) with `;`, CR/LF or
    /// other bytes outside RFC 6265 was serialised as it was, so `v; Domain=evil.test` set a
    /// cookie for another domain and a CR/LF broke the header.
    #[test]
    fn names_and_values_outside_rfc6265_are_refused() {
        for value in [
            "v; Domain=evil.test",
            "a\r\nSet-Cookie: x=1",
            "a b",
            "\"q\"",
            "a,b",
            "caf\u{e9}",
            "\0",
        ] {
            assert_eq!(
                set_cookie("__Host-a", value, &STRICT, None, 0),
                Err(CookieError::InvalidValue {
                    name: "__Host-a".into()
                }),
                "{value:?}"
            );
        }
        for name in ["__Host-\ra", "__Host-a;b", "__Host-a b", "__Host-a=b"] {
            assert_eq!(
                set_cookie(name, "v", &STRICT, None, 0),
                Err(CookieError::InvalidName),
                "{name:?}"
            );
        }
        // The values the edge really sets still pass.
        assert!(set_cookie(
            "__Host-session",
            "v1.AAAA.c2Vzcw.dXNlcg.bWFj",
            &STRICT,
            None,
            0
        )
        .is_ok());
        assert!(set_cookie("__Host-access", "eyJh.eyJz.c2ln", &STRICT, None, 0).is_ok());
    }

    #[test]
    fn serialisation_round_trips() {
        let s = set_cookie("__Host-a", "abc.DEF-_~", &STRICT, None, 0).unwrap_or_default();
        let c = parse(&s);
        assert_eq!(c.value(), "abc.DEF-_~");
        assert_eq!(parse(&c.to_string()).to_string(), s);
    }

    #[test]
    fn size_bound_is_inclusive_at_4095_bytes() {
        let overhead = set_cookie("__Host-a", "", &STRICT, None, 0)
            .map(|s| s.len())
            .unwrap_or_default();
        let at = "x".repeat(4095 - overhead);
        let s = set_cookie("__Host-a", &at, &STRICT, None, 0);
        assert_eq!(s.as_ref().map(String::len), Ok(4095));
        let over = format!("{at}x");
        assert_eq!(
            set_cookie("__Host-a", &over, &STRICT, None, 0),
            Err(CookieError::TooLarge {
                name: "__Host-a".into(),
                len: 4096
            })
        );
    }

    #[test]
    fn an_empty_name_is_not_a_token() {
        assert!(!is_token(""));
        assert!(is_token("__Host-a"));
    }
}
