//! Property tests (proptest) for the claim-time rules and for what the edge forwards.
//!
//! - `exp`/`nbf`/`iat` with leeway, over random times: a token is accepted exactly when every
//!   rule holds, and the decision only changes at the documented boundaries.
//! - The identity-header builder never emits CR, LF, NUL or any other control byte, and refuses
//!   rather than mangles a value that would need one.
//! - `strip_edge_cookies` never lets an edge cookie through, nor a control byte.
//!
//! Native only: proptest is a native dev-dependency (the wasm32 build does not need it).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use proptest::prelude::*;
use serde_json::{json, Value};

use edge_session::credentials::{extract, find_cookie, is_b64token, Credential, CredentialError};
use edge_session::forward::{identity_headers, strip_edge_cookies};
use edge_session::keys::{Alg, KeySet};
use edge_session::token::{verify, Policy, TypRule, VerifiedClaims, MAX_NUMERIC_DATE};

const EDGE_COOKIES: [&str; 2] = ["__Host-access", "__Host-session"];

fn policy(leeway: i64) -> Policy {
    Policy {
        issuer: common::ISSUER.into(),
        audiences: vec![common::AUDIENCE.into()],
        typ: TypRule::OneOf(vec!["at+jwt".into()]),
        leeway_secs: leeway,
    }
}

thread_local! {
    static KEY: common::TestKey = common::key("ed25519");
    static KEYS: KeySet = KEY.with(|k| {
        KeySet::from_jwks_json(common::jwks(&[k]).as_bytes(), &[Alg::Ed25519]).expect("keyset")
    });
}

/// Signs claims with `exp`, `iat` and optionally `nbf` set as given (raw JSON values).
fn token(exp: Value, iat: Value, nbf: Option<Value>) -> String {
    let mut claims = common::claims(0);
    claims["exp"] = exp;
    claims["iat"] = iat;
    if let Some(nbf) = nbf {
        claims["nbf"] = nbf;
    }
    KEY.with(|k| k.sign(&k.header(), &claims))
}

fn decide(token: &str, leeway: i64, now: i64) -> Result<VerifiedClaims, &'static str> {
    KEYS.with(|keys| verify(token, keys, &policy(leeway), now))
        .map_err(|e| e.reason())
}

/// The time rules of RFC 7519 with the edge's leeway (README: `LEEWAY_SECONDS`), stated
/// independently of the code: every time in 0..=MAX_NUMERIC_DATE, `now < exp + leeway`,
/// `nbf - leeway <= now`, `iat - leeway <= now`.
fn should_accept(exp: i64, iat: i64, nbf: Option<i64>, leeway: i64, now: i64) -> bool {
    let in_range = |t: i64| (0..=MAX_NUMERIC_DATE).contains(&t);
    in_range(exp)
        && in_range(iat)
        && nbf.is_none_or(in_range)
        && i128::from(now) < i128::from(exp) + i128::from(leeway)
        && nbf.is_none_or(|n| i128::from(n) - i128::from(leeway) <= i128::from(now))
        && i128::from(iat) - i128::from(leeway) <= i128::from(now)
}

/// Times that hit the interesting places: near `now`, near the range ends, and anywhere.
fn time_near(now: i64) -> impl Strategy<Value = i64> {
    prop_oneof![
        (-120i64..120).prop_map(move |d| now.saturating_add(d)),
        (-3i64..3).prop_map(|d| MAX_NUMERIC_DATE + d),
        -3i64..3,
        any::<i64>(),
        0..=MAX_NUMERIC_DATE,
    ]
}

fn times() -> impl Strategy<Value = (i64, i64, i64, Option<i64>, i64)> {
    (0i64..=MAX_NUMERIC_DATE, 0i64..=600).prop_flat_map(|(now, leeway)| {
        (
            Just(now),
            time_near(now),
            time_near(now),
            prop::option::of(time_near(now)),
            Just(leeway),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn claim_times_decide_exactly_as_the_rules_say((now, exp, iat, nbf, leeway) in times()) {
        let t = token(json!(exp), json!(iat), nbf.map(|n| json!(n)));
        let got = decide(&t, leeway, now);
        prop_assert_eq!(
            got.is_ok(),
            should_accept(exp, iat, nbf, leeway, now),
            "exp={} iat={} nbf={:?} leeway={} now={} -> {:?}", exp, iat, nbf, leeway, now, got.map(|c| c.exp)
        );
        if let Ok(claims) = got {
            prop_assert_eq!(claims.exp, exp);
            prop_assert_eq!(claims.iat, iat);
        }
    }

    /// Acceptance is an interval in `now`: `[max(iat, nbf) - leeway, exp + leeway)`.
    #[test]
    fn expiry_boundary_is_exact(exp in 1_000i64..MAX_NUMERIC_DATE - 1_000, leeway in 0i64..=600) {
        let iat = exp - 900;
        let t = token(json!(exp), json!(iat), None);
        prop_assert!(decide(&t, leeway, exp + leeway - 1).is_ok());
        prop_assert_eq!(decide(&t, leeway, exp + leeway).err(), Some("expired"));
        prop_assert_eq!(decide(&t, leeway, iat - leeway - 1).err(), Some("issued_in_future"));
        prop_assert!(decide(&t, leeway, iat - leeway).is_ok());
    }

    /// A NumericDate must be an integer: the same instant written as a string, a float or with
    /// a fraction is refused, never rounded or parsed.
    #[test]
    fn non_integer_times_are_refused(
        t in 0i64..MAX_NUMERIC_DATE,
        which in 0usize..3,
        form in 0usize..4,
        now in 0i64..MAX_NUMERIC_DATE,
    ) {
        let odd = match form {
            0 => json!(t.to_string()),
            1 => json!(t as f64 + 0.5),
            2 => serde_json::from_str::<Value>(&format!("{t}.0")).expect("float"),
            _ => serde_json::from_str::<Value>(&format!("{t}e0")).expect("exponent"),
        };
        let (exp, iat, nbf) = match which {
            0 => (odd, json!(now), None),
            1 => (json!(now + 60), odd, None),
            _ => (json!(now + 60), json!(now), Some(odd)),
        };
        prop_assert_eq!(decide(&token(exp, iat, nbf), 30, now).err(), Some("malformed_claims"));
    }
}

/// Strings with the bytes that matter for headers: controls, separators, non-ASCII.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,24}",
        "[a-z\\r\\n\\x00\\t,;= \\x7f\\x01é\\u{2028}]{0,12}",
        any::<String>(),
    ]
}

fn claims_with(
    sub: String,
    sid: Option<String>,
    roles: Vec<String>,
    client: Option<String>,
    scope: Option<String>,
) -> VerifiedClaims {
    // Start from claims the verifier produced, so a new claim field needs no change here.
    let t = token(json!(common::NOW + 60), json!(common::NOW), None);
    let mut c = decide(&t, 0, common::NOW).expect("valid token");
    c.sub = sub;
    c.sid = sid;
    c.roles = roles;
    c.client_id = client;
    c.scope = scope;
    c
}

fn visible(v: &str) -> bool {
    v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// A `Cookie` header assembled from pieces an attacker would try: edge cookie names with odd
/// spacing, quotes, duplicates, empty names, control bytes.
fn cookie_header() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("__Host-access".to_owned()),
        Just("__Host-session".to_owned()),
        Just(" __Host-access".to_owned()),
        Just("__Host-access ".to_owned()),
        Just("__host-access".to_owned()),
        Just(String::new()),
        "[A-Za-z0-9_-]{1,8}",
        header_text(),
    ];
    let value = prop_oneof![
        "[A-Za-z0-9._~+/=-]{0,16}",
        Just("\"q;__Host-access=x\"".to_owned()),
        header_text(),
    ];
    let sep = prop_oneof![Just("; "), Just(";"), Just(" ; "), Just(";;"), Just(",")];
    prop::collection::vec((name, value, sep), 0..8).prop_map(|parts| {
        let mut s = String::new();
        for (n, v, sep) in parts {
            s.push_str(&n);
            s.push('=');
            s.push_str(&v);
            s.push_str(sep);
        }
        s
    })
}

/// An independent reading of a `Cookie` header, as a permissive upstream might do it.
fn names_seen_by_upstream(header: &str) -> Vec<String> {
    header
        .split(';')
        .filter_map(|pair| pair.split_once('=').map(|(n, _)| n))
        .map(|n| n.trim_matches(|c| c == ' ' || c == '\t').to_owned())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn identity_headers_are_safe_or_refused(
        sub in header_text(),
        sid in prop::option::of(header_text()),
        cookie_sid in prop::option::of(header_text()),
        roles in prop::collection::vec(header_text(), 0..4),
        client in prop::option::of(header_text()),
        scope in prop::option::of(header_text()),
    ) {
        let claims = claims_with(sub.clone(), sid.clone(), roles.clone(), client.clone(), scope.clone());
        match identity_headers(&claims, cookie_sid.as_deref()) {
            Ok(headers) => {
                for (name, value) in &headers {
                    prop_assert!(visible(value), "{name}: {value:?}");
                    prop_assert!(!value.contains(['\r', '\n', '\0']));
                }
                // Nothing was mangled: the values are the claims as issued.
                prop_assert!(headers.iter().any(|(n, v)| *n == "X-Auth-Subject" && *v == sub));
                let roles_out = headers.iter().find(|(n, _)| *n == "X-Auth-Roles").map(|(_, v)| v.to_string());
                prop_assert_eq!(roles_out, Some(roles.join(",")));
            }
            Err(_) => {
                // Refused only for a reason: some forwarded value is not header-safe, or a role
                // contains the separator.
                let forwarded_sid = sid.as_deref().or(cookie_sid.as_deref());
                let all: Vec<&str> = std::iter::once(sub.as_str())
                    .chain(forwarded_sid)
                    .chain(roles.iter().map(String::as_str))
                    .chain(client.as_deref())
                    .chain(scope.as_deref())
                    .collect();
                prop_assert!(
                    all.iter().any(|v| !visible(v)) || roles.iter().any(|r| r.contains(',')),
                    "refused without cause: {all:?}"
                );
            }
        }
    }

    /// The edge reads a `Cookie` header as the `cookie` crate does (`split_parse`, not decoded),
    /// on attacker-shaped headers and on any string at all.
    #[test]
    fn cookie_pairs_are_the_cookie_crates(header in prop_oneof![cookie_header(), ".{0,64}"]) {
        let ours: Vec<(String, String)> = edge_session::cookies::header_pairs(&header)
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let theirs: Vec<(String, String)> = cookie::Cookie::split_parse(header.as_str())
            .flatten()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect();
        prop_assert_eq!(ours, theirs, "{:?}", header);
    }

    #[test]
    fn edge_cookies_never_survive_stripping(header in cookie_header()) {
        if let Some(out) = strip_edge_cookies(&header, &EDGE_COOKIES) {
            prop_assert!(visible(&out), "{out:?}");
            prop_assert!(!out.is_empty());
            for name in names_seen_by_upstream(&out) {
                prop_assert!(!EDGE_COOKIES.contains(&name.as_str()), "{name:?} survived in {out:?} (from {header:?})");
            }
            // And the edge's own reading of the stripped header finds none either.
            for edge in EDGE_COOKIES {
                prop_assert_eq!(find_cookie(Some(&out), edge), Ok(None));
            }
        }
    }

    #[test]
    fn credentials_are_well_formed_or_refused(
        auth in prop::option::of(prop_oneof![
            "(Bearer|bearer|BEARER|Basic) {0,2}[A-Za-z0-9._~+/=-]{0,20}",
            header_text(),
        ]),
        cookies in prop::option::of(cookie_header()),
    ) {
        match extract(auth.as_deref(), cookies.as_deref(), "__Host-access") {
            Ok(Credential::Bearer(t)) => prop_assert!(is_b64token(t), "{t:?}"),
            Ok(Credential::Cookie(v)) => {
                prop_assert!(!v.contains(';'), "{v:?}");
                prop_assert!(cookies.as_deref().is_some_and(|c| c.contains(v)));
            }
            Ok(Credential::None) | Err(CredentialError::MalformedBearer) => {}
            Err(CredentialError::DuplicateCookie) => {
                let c = cookies.unwrap_or_default();
                prop_assert!(c.matches("__Host-access").count() >= 2, "{c:?}");
            }
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }
}
