//! The cache table lives in one place: the module documentation of `src/cache_policy.rs`,
//! beside the code that decides. README.md shows a copy. This test fails when the copy
//! differs from the source, when the rows do not cover every response kind, cookie and opt-in
//! exactly once, or when a row says something `cache_policy::decide` does not do.

use edge_session::cache_policy::{decide, ResponseKind};

const SOURCE: &str = include_str!("../src/cache_policy.rs");
const README: &str = include_str!("../README.md");

/// The table rows (header and separator included) of the module documentation.
fn source_table() -> Vec<String> {
    SOURCE
        .lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .filter(|l| l.starts_with('|'))
        .map(str::to_owned)
        .collect()
}

/// The table right under README's `## Cache policy` heading.
fn readme_table() -> Vec<String> {
    let mut lines = README
        .lines()
        .skip_while(|l| !l.starts_with("## Cache policy"));
    assert!(
        lines.next().is_some(),
        "README.md has a `## Cache policy` section"
    );
    lines
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn readme_shows_the_source_table() {
    let source = source_table();
    assert!(source.len() > 2, "src/cache_policy.rs documents its table");
    assert_eq!(
        readme_table(),
        source,
        "README.md's cache table must be a copy of the one in src/cache_policy.rs"
    );
}

/// The cells of one row.
fn cells(row: &str) -> Vec<&str> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split(" | ").map(str::trim).collect()
}

fn kind(cell: &str) -> ResponseKind {
    match cell.split_whitespace().next() {
        Some("edge") => ResponseKind::Edge,
        Some("authenticated") => ResponseKind::Authenticated,
        Some("public") => ResponseKind::Public,
        _ => panic!("unknown response kind {cell:?}"),
    }
}

/// The values a yes/no/any cell covers.
fn covers(cell: &str) -> Vec<bool> {
    match cell {
        "yes" => vec![true],
        "no" => vec![false],
        "any" | "—" => vec![false, true],
        _ => panic!("unknown cell {cell:?}"),
    }
}

/// Upstream `Cache-Control` values that opt in to shared caching, or not.
fn upstreams(opted_in: bool) -> Vec<Option<&'static str>> {
    if opted_in {
        vec![Some("public, max-age=60"), Some("s-maxage=300, max-age=60")]
    } else {
        vec![
            None,
            Some("max-age=60"),
            Some("public, no-store"),
            Some("no-cache"),
        ]
    }
}

const GUARD: &str = "no-cache=\"Set-Cookie, Set-Cookie2\"";

/// What a `Cache-Control` cell says the edge sends for `upstream`.
fn expected_cache_control(cell: &str, upstream: Option<&str>) -> Option<String> {
    let up = upstream.unwrap_or_default();
    match cell {
        "`private, no-store`" => Some("private, no-store".to_owned()),
        "upstream's, unchanged" => None,
        _ if cell == format!("upstream's + `{GUARD}`") => Some(format!("{up}, {GUARD}")),
        _ if cell == format!("upstream's, `public`/`s-maxage` dropped, + `private, {GUARD}`") => {
            let kept: Vec<&str> = up
                .split(", ")
                .filter(|d| *d != "public" && !d.starts_with("s-maxage"))
                .collect();
            Some(format!("private, {}, {GUARD}", kept.join(", ")))
        }
        _ => panic!("a Cache-Control cell this test does not know: {cell:?}"),
    }
}

/// What a `Vary` cell says the edge sends when the upstream sent `Vary: Accept-Encoding`.
fn expected_vary(cell: &str) -> Option<String> {
    match cell {
        "unchanged" => None,
        "+ `Cookie, Authorization`" => Some("Accept-Encoding, Cookie, Authorization".to_owned()),
        "+ `Cookie`" => Some("Accept-Encoding, Cookie".to_owned()),
        _ => panic!("a Vary cell this test does not know: {cell:?}"),
    }
}

#[test]
fn every_row_is_what_decide_does() {
    let table = source_table();
    assert_eq!(
        cells(&table[0]),
        [
            "kind",
            "sets a cookie",
            "upstream opted in",
            "`Cache-Control`",
            "`Vary`"
        ]
    );
    let mut covered = Vec::new();
    for row in &table[2..] {
        let c = cells(row);
        assert_eq!(c.len(), 5, "{row}");
        let kind = kind(c[0]);
        for cookie in covers(c[1]) {
            for opted_in in covers(c[2]) {
                covered.push((kind, cookie, opted_in));
                for upstream in upstreams(opted_in) {
                    let got = decide(kind, upstream, Some("Accept-Encoding"), cookie);
                    let case = format!("{row}\n  cookie={cookie} upstream={upstream:?}");
                    assert_eq!(
                        got.cache_control,
                        expected_cache_control(c[3], upstream),
                        "{case}"
                    );
                    assert_eq!(got.vary, expected_vary(c[4]), "{case}");
                }
            }
        }
    }
    // Every kind, cookie and opt-in exactly once.
    for kind in [
        ResponseKind::Edge,
        ResponseKind::Authenticated,
        ResponseKind::Public,
    ] {
        for cookie in [false, true] {
            for opted_in in [false, true] {
                let n = covered
                    .iter()
                    .filter(|c| **c == (kind, cookie, opted_in))
                    .count();
                assert_eq!(n, 1, "{kind:?} cookie={cookie} opted_in={opted_in}");
            }
        }
    }
}
