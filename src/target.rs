//! The request target: parsed once, classified and forwarded as that one result.
//!
//! The runtime hands the worker the URL as the client wrote it (`%2e%2e` and `..;` included),
//! while `fetch()` re-parses the URL the edge forwards with the WHATWG URL parser and resolves
//! dot segments. Classifying the raw string and forwarding it let
//! `/public/%2e%2e/api/x` pass as public and reach the upstream as `/api/x`. Here the target is
//! parsed with the same WHATWG parser (`url`), and both the route classification and the
//! upstream request use [`Target::path`] / [`Target::path_and_query`]; the upstream receives
//! exactly the classified path (re-parsing it changes nothing: the property tests check it).
//!
//! What is normalised and what is refused (`README.md`, next to `PUBLIC_PATHS`):
//! - literal dot segments (`/a/../b`, `/a/./b`) are resolved exactly as WHATWG does, before
//!   classification; `//` (empty segments) is kept as sent and matched literally;
//! - refused with 400, because decoders disagree on what they mean: a percent-encoded `.`,
//!   `/` or `\` (any case); a path that, decoded once, is still percent-encoded (double
//!   encoding: `%252e`, `%25%32%65`); a `%` not followed by two hex digits; a literal `\`; a
//!   control character (raw or encoded) or a raw space; percent-encoded bytes that are not
//!   UTF-8 (overlong `%c0%ae`); and any segment left after normalisation that still reads as a
//!   dot segment to some decoder: only dots once a `;` parameter (`..;/`, `..%3b`), a decoded
//!   `?` or `#` (`..%3f`: an upstream that decodes before it splits ends the path there) and
//!   trailing spaces are cut (fullwidth and leader dots count), or one holding a fullwidth
//!   slash or backslash;
//! - refused with 400 when route policies are configured: a protected path whose lenient
//!   reading ([`lenient_reading`]: decoded, `//` collapsed, `;` parameters cut, …) falls under
//!   another rule than the path itself (`//admin/x`, `/%61dmin/x`, `/admin;x/y` beside an
//!   `/admin/*` rule), since an upstream reading it so would skip the rule the edge applied
//!   (decided in [`crate::gate::classify`], where the rules are known);
//! - refused with 414: a path longer than [`MAX_PATH_BYTES`];
//! - a target that is not a path (asterisk form, a URL without `scheme://authority/`) is
//!   refused with 400. An absolute-form target (`GET http://other/x`) is the runtime's
//!   business: its path is treated like any other, its host is never used (requests go to the
//!   configured upstream).

use std::borrow::Cow;
use std::sync::OnceLock;

use url::Url;

/// Longest accepted path, in bytes, as sent and as normalised.
pub const MAX_PATH_BYTES: usize = 4096;

/// The parsed request target: the path and query the edge classifies and forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `path` or `path?query`, WHATWG-serialised (no fragment).
    path_and_query: String,
    /// Length of the path within `path_and_query`.
    path_len: usize,
}

impl Target {
    /// The normalised path (what routes are matched against).
    pub fn path(&self) -> &str {
        &self.path_and_query[..self.path_len]
    }

    /// The normalised path and query, as forwarded.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The URL the upstream request goes to: `origin` (scheme, host and port only, as the
    /// configuration guarantees) followed by [`Self::path_and_query`].
    pub fn upstream_url(&self, origin: &Url) -> String {
        format!(
            "{}{}",
            origin.as_str().trim_end_matches('/'),
            self.path_and_query
        )
    }
}

/// Why a target is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    /// Not `scheme://authority/path`.
    NotAPath,
    /// Longer than [`MAX_PATH_BYTES`] (414).
    TooLong,
    /// A literal `\`.
    Backslash,
    /// A control character or a space, raw or percent-encoded.
    ControlCharacter,
    /// `%` not followed by two hex digits.
    MalformedEncoding,
    /// `%2e`, `%2f` or `%5c` in any case.
    EncodedSeparator,
    /// Decoded once, still percent-encoded (`%252e`, `%25%32%65`).
    DoubleEncoding,
    /// Percent-encoded bytes that are not UTF-8 (overlong encodings of `.` and `/`).
    NotUtf8,
    /// A segment some decoder reads as a dot segment or a separator (`..;`, `.. `, `...`,
    /// fullwidth dots or slashes).
    AmbiguousSegment,
    /// Read leniently (see [`lenient_reading`]), a protected path falls under another route
    /// policy rule than the one the edge would apply (`//admin/x`, `/%61dmin/x`,
    /// `/admin;x/y` beside an `/admin/*` rule).
    AmbiguousPolicy,
}

impl TargetError {
    /// The HTTP status of the refusal.
    pub fn status(self) -> u16 {
        match self {
            Self::TooLong => 414,
            _ => 400,
        }
    }

    /// Secret-free reason for the log line.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotAPath => "target_not_a_path",
            Self::TooLong => "target_too_long",
            Self::Backslash => "target_backslash",
            Self::ControlCharacter => "target_control_character",
            Self::MalformedEncoding => "target_malformed_encoding",
            Self::EncodedSeparator => "target_encoded_separator",
            Self::DoubleEncoding => "target_double_encoding",
            Self::NotUtf8 => "target_not_utf8",
            Self::AmbiguousSegment => "target_ambiguous_segment",
            Self::AmbiguousPolicy => "target_ambiguous_policy",
        }
    }
}

/// The path and query of an absolute URL as the runtime hands it over, raw: everything from
/// the first `/` after `scheme://authority`. `None` when the authority is followed by anything
/// but `/` (or nothing at all).
fn raw_path_and_query(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let end = rest.find(['/', '\\', '?', '#'])?;
    rest[end..].starts_with('/').then(|| &rest[end..])
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_control(b: u8) -> bool {
    b <= 0x20 || b == 0x7f
}

/// Percent-decodes `s`, refusing what decoders disagree on (see the module docs).
/// Hand-written: `percent-encoding` passes malformed escapes through and decodes every byte
/// alike, while this decoder must refuse per shape (`%2e`, `%zz`, `%00`) as it goes.
fn decode(s: &str) -> Result<Vec<u8>, TargetError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            return Err(TargetError::Backslash);
        }
        if is_control(b) {
            return Err(TargetError::ControlCharacter);
        }
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let byte = match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(&h), Some(&l)) => match (hex(h), hex(l)) {
                (Some(h), Some(l)) => h * 16 + l,
                _ => return Err(TargetError::MalformedEncoding),
            },
            _ => return Err(TargetError::MalformedEncoding),
        };
        match byte {
            b'.' | b'/' | b'\\' => return Err(TargetError::EncodedSeparator),
            b if is_control(b) && b != b' ' => return Err(TargetError::ControlCharacter),
            _ => out.push(byte),
        }
        i += 3;
    }
    // Decoded once, it must not decode again: `%252e` and `%25%32%65` both become `%2e`.
    let encoded_again = out
        .windows(3)
        .any(|w| w[0] == b'%' && hex(w[1]).is_some() && hex(w[2]).is_some());
    if encoded_again {
        return Err(TargetError::DoubleEncoding);
    }
    Ok(out)
}

/// Whether a decoded segment reads as a dot segment or a separator to some decoder: after a
/// `;` parameter, or a decoded `?` or `#` (where an upstream that decodes before it splits
/// ends the path), is cut and trailing spaces are trimmed (Windows), only dots remain
/// (fullwidth and leader dots count: NFKC folds them to `.`), or it holds a fullwidth slash or
/// backslash (NFKC folds them to `/` and `\`).
fn is_ambiguous(segment: &str) -> bool {
    if segment.contains(['\u{ff0f}', '\u{ff3c}']) {
        return true;
    }
    let head = segment.split([';', '?', '#']).next().unwrap_or_default();
    let head = head.trim_end_matches(' ');
    !head.is_empty()
        && head
            .chars()
            .all(|c| matches!(c, '.' | '\u{ff0e}' | '\u{2024}' | '\u{2025}' | '\u{fe52}'))
}

/// The path as a lenient upstream may read it: percent-decoded and cut at a decoded `?` or
/// `#` (Apache's mod_rewrite, CVE-2024-38474), a `;` parameter cut from each
/// segment and trailing spaces trimmed, empty and `.` segments dropped, a segment of two or
/// more dots removing the one before it. Not what is forwarded (that is [`Target::path`]): the
/// reading the route policy must agree with ([`TargetError::AmbiguousPolicy`]). For a path
/// [`parse`] accepted (`None` for one it would refuse), this equals the fuller model of the
/// fuzz oracle, which also decodes twice and folds `\\` and fullwidth dots and slashes: shapes
/// [`parse`] refuses.
pub(crate) fn lenient_reading(path: &str) -> Option<String> {
    let decoded = String::from_utf8(decode(path).ok()?).ok()?;
    // A decoded `?` or `#` ends the path for an upstream that decodes before it splits.
    let decoded = decoded.split(['?', '#']).next().unwrap_or_default();
    let mut out: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_end_matches(' ');
        match segment {
            "" | "." => {}
            s if s.bytes().all(|b| b == b'.') => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    Some(format!("/{}", out.join("/")))
}

/// `http://edge.invalid/`, parsed once per isolate.
fn base() -> Option<&'static Url> {
    static BASE: OnceLock<Option<Url>> = OnceLock::new();
    BASE.get_or_init(|| Url::parse("http://edge.invalid/").ok())
        .as_ref()
}

/// `path_and_query` (it starts with `/`) through the WHATWG parser, as the path and query of
/// `http://edge.invalid`. Resolved against [`base`] rather than parsed as a whole URL: the
/// same path and query states run, without parsing a scheme and a host on every request. A
/// path starting `//` is the exception: relative to a base it would read as an authority.
fn whatwg(path_and_query: &str) -> Option<Url> {
    match base() {
        Some(base) if !path_and_query.starts_with("//") => base.join(path_and_query).ok(),
        _ => Url::parse(&format!("http://edge.invalid{path_and_query}")).ok(),
    }
}

/// Parses the URL the runtime handed over (`request.url`) into the target the edge classifies
/// and forwards, or refuses it.
pub fn parse(url: &str) -> Result<Target, TargetError> {
    let raw = raw_path_and_query(url).ok_or(TargetError::NotAPath)?;
    let raw_path = raw.split(['?', '#']).next().unwrap_or_default();
    if raw_path.len() > MAX_PATH_BYTES {
        return Err(TargetError::TooLong);
    }
    decode(raw_path)?;
    // The same parser `fetch()` applies, on the path and query alone: the host the runtime
    // put in front (from `Host` or an absolute-form target) plays no part. The runtime's
    // parser percent-encodes `^` in paths (the current WHATWG path percent-encode set) and
    // `url` 2.5 does not, so it is encoded here: the only difference over printable ASCII,
    // measured against workerd (tests/edge/raw-target.test.mjs).
    let input: Cow<'_, str> = if raw_path.contains('^') {
        let rest = &raw[raw_path.len()..];
        format!("{}{rest}", raw_path.replace('^', "%5E")).into()
    } else {
        raw.into()
    };
    let parsed = whatwg(&input).ok_or(TargetError::NotAPath)?;
    let path = parsed.path();
    if path.len() > MAX_PATH_BYTES {
        return Err(TargetError::TooLong);
    }
    for segment in path.split('/') {
        let decoded = String::from_utf8(decode(segment)?).map_err(|_| TargetError::NotUtf8)?;
        if is_ambiguous(&decoded) {
            return Err(TargetError::AmbiguousSegment);
        }
    }
    let mut path_and_query = path.to_owned();
    if let Some(query) = parsed.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    Ok(Target {
        path_and_query,
        path_len: path.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetError::*;

    fn at(path: &str) -> Result<String, TargetError> {
        parse(&format!("http://edge.test{path}")).map(|t| t.path_and_query().to_owned())
    }

    /// Resolving against the parsed base reads every target as parsing the whole URL does.
    #[test]
    fn resolved_against_the_base_as_a_whole_url_reads() {
        for pq in [
            "/",
            "/a/b?c=d",
            "/a/../b/./c",
            "/a/%2e%2E/b",
            "//x/y",
            "///x",
            "/a?b#c",
            "/a?\\x",
            "/caf\u{e9}/\u{ff0e}\u{ff0e}/x",
            "/a b?c d",
            "/a\tb",
            "/a/..",
            "/..",
            "/a?",
            "/@x:y/z",
            "/x:80/y",
            "/%zz",
            "/a|b`c{d}",
        ] {
            let whole = Url::parse(&format!("http://edge.invalid{pq}")).ok();
            assert_eq!(whatwg(pq), whole, "{pq:?}");
        }
    }

    #[test]
    fn normalised_like_fetch() {
        let rows: &[(&str, &str)] = &[
            ("/", "/"),
            ("/api/x", "/api/x"),
            ("/api/x?a=1&b=/../c", "/api/x?a=1&b=/../c"),
            ("/public/../api/x", "/api/x"),
            ("/public/./x", "/public/x"),
            ("/public/a/../../api/x", "/api/x"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/public/x/..", "/public/"),
            ("/public//x", "/public//x"),
            ("//api/x", "//api/x"),
            ("/public/x#/../../api", "/public/x"),
            ("/public/x?q#frag", "/public/x?q"),
            ("/a?b?c", "/a?b?c"),
            ("/public/%23/../api", "/public/api"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/my%20file", "/my%20file"),
            ("/a^b|c`d{e}?q=^'", "/a%5Eb|c%60d%7Be%7D?q=^%27"),
            ("/%41pi/x", "/%41pi/x"),
            ("/public;x/../api", "/api"),
            ("/public/..?x=%2e%2e", "/?x=%2e%2e"),
            ("/100%25", "/100%25"),
            ("/a%3bb", "/a%3bb"),
            ("/x/a..b/...c", "/x/a..b/...c"),
        ];
        for (raw, want) in rows {
            assert_eq!(at(raw).as_deref(), Ok(*want), "{raw}");
        }
    }

    #[test]
    fn refused_shapes() {
        let rows: &[(&str, TargetError)] = &[
            ("/public/%2e%2e/api/x", EncodedSeparator),
            ("/public/%2E%2E/api/x", EncodedSeparator),
            ("/public/.%2E/api/x", EncodedSeparator),
            ("/public/%2e./api/x", EncodedSeparator),
            ("/public/%2e/x", EncodedSeparator),
            ("/file%2ejs", EncodedSeparator),
            ("/public/..%2fapi/x", EncodedSeparator),
            ("/public/..%2Fapi/x", EncodedSeparator),
            ("/public/..%5capi/x", EncodedSeparator),
            ("/public/..%5Capi", EncodedSeparator),
            ("/public/..\\api/x", Backslash),
            ("/public\\..\\api", Backslash),
            ("/public/..;/api/x", AmbiguousSegment),
            ("/public/.;/x", AmbiguousSegment),
            ("/public/..;jsessionid=1/api", AmbiguousSegment),
            ("/public/..%3b/api", AmbiguousSegment),
            ("/public/..%20/api", AmbiguousSegment),
            ("/public/.../api", AmbiguousSegment),
            ("/public/%EF%BC%8E%EF%BC%8E/api", AmbiguousSegment),
            ("/public/a%EF%BC%8Fb", AmbiguousSegment),
            // Found by the `request_target` fuzz target: an upstream that decodes before it
            // splits ends the path at a decoded `?` or `#`, and reads what is left as `..`.
            ("/static/\u{2025}..%3f", AmbiguousSegment),
            ("/public/..%3f/api", AmbiguousSegment),
            ("/public/..%3Fx/api", AmbiguousSegment),
            ("/public/..%23/api", AmbiguousSegment),
            ("/public/%252e%252e/api", DoubleEncoding),
            ("/public/%252E%252E/api", DoubleEncoding),
            ("/public/%25%32%65", DoubleEncoding),
            ("/public/%2541pi", DoubleEncoding),
            ("/a b", ControlCharacter),
            ("/public/%c0%ae%c0%ae/api", NotUtf8),
            ("/public/%e0%80%ae/api", NotUtf8),
            ("/public/%zz", MalformedEncoding),
            ("/public/%2", MalformedEncoding),
            ("/public/%", MalformedEncoding),
            ("/public/%00/x", ControlCharacter),
            ("/public/%0d%0aX:1", ControlCharacter),
            ("/pub\tlic", ControlCharacter),
            ("/a\u{7f}", ControlCharacter),
        ];
        for (raw, want) in rows {
            assert_eq!(at(raw), Err(*want), "{raw}");
        }
    }

    #[test]
    fn shape_of_the_url() {
        assert_eq!(parse("http://edge.test").map(|_| ()), Err(NotAPath));
        assert_eq!(parse("http://edge.test?x").map(|_| ()), Err(NotAPath));
        assert_eq!(parse("http://edge.test*").map(|_| ()), Err(NotAPath));
        assert_eq!(parse("/api/x").map(|_| ()), Err(NotAPath));
        assert_eq!(parse("http://edge.test\\api").map(|_| ()), Err(NotAPath));
        // The host plays no part, whatever it holds.
        assert_eq!(
            parse("http://other.test:81/public/../api").map(|t| t.path().to_owned()),
            Ok("/api".to_owned())
        );
    }

    #[test]
    fn length_bound() {
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES - 1));
        assert_eq!(at(&long).map(|p| p.len()), Ok(MAX_PATH_BYTES));
        assert_eq!(at(&format!("{long}a")), Err(TooLong));
        assert_eq!(TooLong.status(), 414);
        // Raw length counts even when normalising would shorten it.
        let dots = format!("/public/{}api", "a/../".repeat(MAX_PATH_BYTES / 5 + 1));
        assert_eq!(at(&dots), Err(TooLong));
        // Normalised length counts too (non-ASCII is percent-encoded, three bytes a byte).
        let wide = format!("/{}", "\u{e9}".repeat(MAX_PATH_BYTES / 3));
        assert_eq!(at(&wide), Err(TooLong));
        // A long query is the runtime's to bound.
        let q = format!("/x?{}", "q".repeat(2 * MAX_PATH_BYTES));
        assert!(at(&q).is_ok());
    }

    #[test]
    fn path_and_upstream_url() {
        let t = parse("http://edge.test/public/../api/x?a=1#f").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(t.path(), "/api/x");
        assert_eq!(t.path_and_query(), "/api/x?a=1");
        let origin = Url::parse("http://127.0.0.1:9000").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.upstream_url(&origin), "http://127.0.0.1:9000/api/x?a=1");
    }

    #[test]
    fn lenient_reading_rows() {
        for (path, want) in [
            ("/", Some("/")),
            ("/admin/x", Some("/admin/x")),
            ("//admin//x/", Some("/admin/x")),
            ("/%61dmin/x", Some("/admin/x")),
            ("/admin;jsessionid=1/x", Some("/admin/x")),
            ("/a/..;/admin", Some("/admin")),
            ("/a/b/.../admin", Some("/a/admin")),
            ("/x%20%20/y", Some("/x/y")),
            ("/caf%C3%A9", Some("/caf\u{e9}")),
            ("/admin%3f/x", Some("/admin")),
            ("/admin%23x/y", Some("/admin")),
            // What `parse` refuses has no reading.
            ("/100%", None),
            ("/%c0%ae", None),
            ("/%2561dmin", None),
            ("/a%2fb", None),
        ] {
            assert_eq!(lenient_reading(path).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn every_error_has_a_reason_and_a_status() {
        for e in [
            NotAPath,
            TooLong,
            Backslash,
            ControlCharacter,
            MalformedEncoding,
            EncodedSeparator,
            DoubleEncoding,
            NotUtf8,
            AmbiguousSegment,
            AmbiguousPolicy,
        ] {
            assert!(e.reason().starts_with("target_"));
            assert!(matches!(e.status(), 400 | 414));
        }
    }

    #[test]
    fn short_hosts_and_schemes() {
        // The path starts right after `scheme://authority`, however short the authority.
        for (url, want) in [
            ("http://h/x", "/x"),
            ("https://a.b/p?q", "/p?q"),
            ("http://h/", "/"),
            ("ws://h/a/../b", "/b"),
        ] {
            assert_eq!(
                parse(url).map(|t| t.path_and_query().to_owned()).as_deref(),
                Ok(want),
                "{url}"
            );
        }
    }
}
