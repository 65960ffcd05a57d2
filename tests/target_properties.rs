//! Property tests of the request target (`src/target.rs`): over targets built from the pieces
//! path attacks are made of,
//! - what the edge classifies is what it forwards: the URL handed to `fetch()`, parsed again by
//!   the WHATWG parser, has exactly the classified path and the same query, and parsing it at
//!   the edge again gives the same target;
//! - nothing ambiguous is forwarded: no dot segment, no encoded `.`, `/` or `\`, no `\`;
//! - a path the edge classifies as public stays public for lenient upstream decoders (decode
//!   twice, `\` as `/`, `;` parameters cut, trailing spaces trimmed, fullwidth dots and
//!   slashes folded, empty segments collapsed, dot segments resolved).
//!
//! Native only: proptest is a native dev-dependency.
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use url::Url;

use edge_session::route::{classify, PathRules, Route};
use edge_session::target::{parse, Target};

const PIECES: &[&str] = &[
    "/",
    "/",
    "/",
    ".",
    "..",
    "...",
    "%2e",
    "%2E",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "\\",
    ";",
    "%3b",
    "%3B",
    "%25",
    "%252e",
    "%2525",
    "%32%65",
    "public",
    "api",
    "health",
    "auth",
    "login",
    "a",
    "A",
    "?",
    "#",
    "&",
    "=",
    "%20",
    " ",
    "\t",
    "\u{e9}",
    "%c3%a9",
    "%c0%ae",
    "%e0%80%ae",
    "\u{ff0e}",
    "%EF%BC%8E",
    "\u{ff0f}",
    "%EF%BC%8F",
    "//",
    "%",
    "%4",
    "%41",
    "%3f",
    "%23",
    "~",
    "+",
    ":",
    "@",
    "!",
    "$",
    "'",
    "(",
    "*",
    "^",
    "|",
    "`",
    "{",
    "}",
    "\"",
    "<",
    "%00",
    "%0a",
];

/// Mostly under a public prefix (where an escape would be a bypass), then any pieces.
fn target() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["/public/", "/public/a/", "/health", "/", "/api/"][..]),
        prop::collection::vec(prop::sample::select(PIECES), 0..12),
    )
        .prop_map(|(prefix, pieces)| format!("{prefix}{}", pieces.concat()))
}

fn rules() -> PathRules {
    PathRules::parse("/public/*, /health").unwrap_or_default()
}

fn route(path: &str) -> Route {
    classify("GET", path, "/auth", &rules())
}

fn origin() -> Url {
    Url::parse("http://127.0.0.1:9000").unwrap_or_else(|e| panic!("{e}"))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path as a lenient upstream might read it.
fn lenient(path: &str) -> String {
    let decoded = percent_decode(&percent_decode(path))
        .replace(['\u{ff0f}', '\u{ff3c}', '\\'], "/")
        .replace(['\u{ff0e}', '\u{2024}', '\u{fe52}'], ".")
        .replace('\u{2025}', "..");
    let mut out: Vec<String> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_end_matches(' ');
        match segment {
            "" | "." => {}
            s if s.len() >= 2 && s.bytes().all(|b| b == b'.') => {
                out.pop();
            }
            s => out.push(s.to_owned()),
        }
    }
    format!("/{}", out.join("/"))
}

fn accepted(raw: &str) -> Option<Target> {
    parse(&format!("http://edge.test{raw}")).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn classified_path_is_forwarded_path(raw in target()) {
        if let Some(t) = accepted(&raw) {
            let forwarded = t.upstream_url(&origin());
            let seen = Url::parse(&forwarded).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(seen.path(), t.path(), "{} forwarded as {}", raw, forwarded);
            let query = t.path_and_query().split_once('?').map(|(_, q)| q);
            prop_assert_eq!(seen.query(), query);
            prop_assert_eq!(route(seen.path()), route(t.path()));
            // Parsing what was forwarded gives the same target (idempotent).
            prop_assert_eq!(parse(&forwarded).ok(), Some(t));
        }
    }

    #[test]
    fn nothing_ambiguous_is_forwarded(raw in target()) {
        if let Some(t) = accepted(&raw) {
            let path = t.path().to_ascii_lowercase();
            for bad in ["%2e", "%2f", "%5c", "\\"] {
                prop_assert!(!path.contains(bad), "{} forwarded as {}", raw, t.path());
            }
            for segment in t.path().split('/') {
                prop_assert!(segment != "." && segment != "..", "{} forwarded as {}", raw, t.path());
            }
        }
    }

    #[test]
    fn public_stays_public_for_lenient_decoders(raw in target()) {
        if let Some(t) = accepted(&raw) {
            if route(t.path()) == Route::Public {
                let upstream = lenient(t.path());
                prop_assert_eq!(
                    route(&upstream),
                    Route::Public,
                    "{} classified public as {}, a lenient upstream reads {}",
                    raw,
                    t.path(),
                    upstream
                );
            }
        }
    }
}

/// Targets that once reached a protected path through a public prefix (encoded, doubled and
/// backslash dot segments), and the property's own checks on known shapes.
#[test]
fn known_shapes() {
    for raw in [
        "/public/%2e%2e/api/x",
        "/public/.%2E/api/x",
        "/public/a/%2e%2e/%2e%2e/api/x",
        "/public/%2E%2E/%2e%2e/admin?x=1",
        "/public/..;/api/x",
        "/public/%252e%252e/api/x",
        "/public/..%2fapi/x",
        "/public/..\\api/x",
    ] {
        assert_eq!(accepted(raw), None, "{raw}");
    }
    assert_eq!(lenient("/public/..;/api/x"), "/api/x");
    assert_eq!(lenient("/public/%252e%252e/api"), "/api");
    let t = accepted("/public/../api/x").unwrap_or_else(|| panic!("accepted"));
    assert_eq!((t.path(), route(t.path())), ("/api/x", Route::Protected));
}
