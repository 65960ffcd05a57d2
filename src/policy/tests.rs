#![allow(clippy::type_complexity)] // the tables are tuples, one row per case

use super::*;
use crate::rejection::REALM;

const NOW: i64 = 1_700_000_000;

fn claims() -> VerifiedClaims {
    VerifiedClaims {
        sub: "alice".into(),
        aud: vec!["api".into()],
        exp: NOW + 300,
        iat: NOW - 10,
        jti: None,
        client_id: None,
        sid: None,
        roles: vec![],
        scope: None,
        amr: vec![],
        auth_time: None,
    }
}

fn with(edit: impl FnOnce(&mut VerifiedClaims)) -> VerifiedClaims {
    let mut c = claims();
    edit(&mut c);
    c
}

fn public() -> PathRules {
    PathRules::parse("/public/*, /health").unwrap_or_default()
}

fn parse(json: &str) -> Result<RoutePolicies, String> {
    RoutePolicies::parse(json, &public(), "/auth")
}

fn policies(json: &str) -> RoutePolicies {
    match parse(json) {
        Ok(p) => p,
        Err(e) => panic!("{json}: {e}"),
    }
}

/// The README's examples: an admin area (role admin, `mfa`, 15 minutes) and an API route
/// needing a scope for its reads.
const EXAMPLE: &str = r#"[
    {"path": "/admin/*", "roles_any": ["admin"], "amr": ["mfa"], "max_age": 900},
    {"path": "/api/reports/*", "methods": ["GET"], "scopes": ["reports:read"]},
    {"path": "/api/reports/*", "scopes": ["reports:write"]}
]"#;

fn reason(r: Result<(), Rejection>) -> Option<PolicyRefusal> {
    match r {
        Ok(()) => None,
        Err(Rejection {
            reason: Reason::Policy(why),
            ..
        }) => Some(why),
        Err(other) => panic!("not a policy refusal: {other:?}"),
    }
}

#[test]
fn unmatched_paths_need_only_the_token() {
    let p = policies(EXAMPLE);
    for path in ["/", "/api/me", "/administrator", "/api/reportsx"] {
        assert!(p.find("GET", path).is_none(), "{path}");
        assert_eq!(reason(p.check("GET", path, &claims(), NOW)), None, "{path}");
    }
    assert!(RoutePolicies::default().is_empty());
    assert!(!p.is_empty());
}

#[test]
fn first_match_wins_and_methods_narrow_a_rule() {
    let p = policies(EXAMPLE);
    // GET (and HEAD, which is GET without the body) take the read rule; the others fall
    // through to the write rule below it.
    for (method, want) in [
        ("GET", 2),
        ("HEAD", 2),
        ("POST", 3),
        ("DELETE", 3),
        ("OPTIONS", 3),
    ] {
        assert_eq!(
            p.find(method, "/api/reports/q1").map(|(n, _)| n),
            Some(want),
            "{method}"
        );
    }
    let reader = with(|c| c.scope = Some("openid reports:read".into()));
    assert_eq!(
        reason(p.check("GET", "/api/reports/q1", &reader, NOW)),
        None
    );
    assert_eq!(
        reason(p.check("POST", "/api/reports/q1", &reader, NOW)),
        Some(PolicyRefusal::Scope)
    );
    // A broad rule first shadows a narrower one after it.
    let p = policies(r#"[{"path": "/admin/*"}, {"path": "/admin/users", "roles_any": ["admin"]}]"#);
    assert_eq!(p.find("GET", "/admin/users").map(|(n, _)| n), Some(1));
    assert_eq!(reason(p.check("GET", "/admin/users", &claims(), NOW)), None);
    // And an exception before a broad rule takes the path out of it.
    let p = policies(r#"[{"path": "/admin/help"}, {"path": "/admin/*", "roles_any": ["admin"]}]"#);
    assert_eq!(reason(p.check("GET", "/admin/help", &claims(), NOW)), None);
    assert_eq!(
        reason(p.check("GET", "/admin/x", &claims(), NOW)),
        Some(PolicyRefusal::Role)
    );
}

#[test]
fn a_head_rule_does_not_cover_get() {
    let p = policies(r#"[{"path": "/x", "methods": ["HEAD", "PUT"], "roles_any": ["a"]}]"#);
    assert!(p.find("HEAD", "/x").is_some() && p.find("PUT", "/x").is_some());
    for m in ["GET", "POST", "PATCH", "DELETE", "OPTIONS"] {
        assert!(p.find(m, "/x").is_none(), "{m}");
    }
}

#[test]
fn paths_match_as_public_paths_do() {
    let p = policies(r#"[{"path": "/admin, /ops/*", "roles_any": ["admin"]}]"#);
    for (path, hit) in [
        ("/admin", true),
        ("/admin/", false),
        ("/admin/x", false),
        ("/ops", true),
        ("/ops/", true),
        ("/ops/a/b", true),
        ("/opsx", false),
        ("/Admin", false),
    ] {
        assert_eq!(p.find("GET", path).is_some(), hit, "{path}");
    }
}

#[test]
fn roles_any_of_and_all_of() {
    let any = policies(r#"[{"path": "/x", "roles_any": ["admin", "ops"]}]"#);
    let all = policies(r#"[{"path": "/x", "roles_all": ["admin", "ops"]}]"#);
    let both = policies(r#"[{"path": "/x", "roles_any": ["eu", "us"], "roles_all": ["admin"]}]"#);
    let role = PolicyRefusal::Role;
    let rows: &[(
        &[&str],
        Option<PolicyRefusal>,
        Option<PolicyRefusal>,
        Option<PolicyRefusal>,
    )] = &[
        // roles held, any-of, all-of, both
        (&[], Some(role), Some(role), Some(role)),
        (&["admin"], None, Some(role), Some(role)),
        (&["ops"], None, Some(role), Some(role)),
        (&["admin", "ops"], None, None, Some(role)),
        (&["admin", "us"], None, Some(role), None),
        (&["reader"], Some(role), Some(role), Some(role)),
        // Exact and case-sensitive: no prefix, no folding.
        (
            &["Admin", "administrator"],
            Some(role),
            Some(role),
            Some(role),
        ),
    ];
    for (held, want_any, want_all, want_both) in rows {
        let c = with(|c| c.roles = held.iter().map(|r| (*r).to_owned()).collect());
        assert_eq!(
            reason(any.check("GET", "/x", &c, NOW)),
            *want_any,
            "any {held:?}"
        );
        assert_eq!(
            reason(all.check("GET", "/x", &c, NOW)),
            *want_all,
            "all {held:?}"
        );
        assert_eq!(
            reason(both.check("GET", "/x", &c, NOW)),
            *want_both,
            "both {held:?}"
        );
    }
}

#[test]
fn scopes_are_all_required_whole_words_of_the_scope_claim() {
    let p = policies(r#"[{"path": "/x", "scopes": ["read", "write"]}]"#);
    let scope = Some(PolicyRefusal::Scope);
    for (granted, want) in [
        (None, scope),
        (Some(""), scope),
        (Some("read"), scope),
        (Some("read write"), None),
        (Some("write openid read"), None),
        (Some("reader writer"), scope),
        (Some("read,write"), scope),
        (Some("READ WRITE"), scope),
    ] {
        let c = with(|c| c.scope = granted.map(Into::into));
        assert_eq!(reason(p.check("GET", "/x", &c, NOW)), want, "{granted:?}");
    }
}

#[test]
fn amr_is_any_of() {
    let p = policies(r#"[{"path": "/x", "amr": ["mfa", "hwk"]}]"#);
    let amr = Some(PolicyRefusal::Amr);
    for (methods, want) in [
        (&[][..], amr),
        (&["pwd"][..], amr),
        (&["pwd", "mfa"][..], None),
        (&["hwk"][..], None),
        (&["MFA"][..], amr),
    ] {
        let c = with(|c| c.amr = methods.iter().map(|m| (*m).to_owned()).collect());
        assert_eq!(reason(p.check("GET", "/x", &c, NOW)), want, "{methods:?}");
    }
}

#[test]
fn max_age_boundaries_and_no_auth_time_fails_closed() {
    let p = policies(r#"[{"path": "/x", "max_age": 900}]"#);
    let at = |auth_time: Option<i64>| with(|c| c.auth_time = auth_time);
    let check = |c: &VerifiedClaims| reason(p.check("GET", "/x", c, NOW));
    assert_eq!(
        check(&at(Some(NOW - 900))),
        None,
        "exactly max_age old passes"
    );
    assert_eq!(
        check(&at(Some(NOW - 901))),
        Some(PolicyRefusal::TooOld),
        "one second over"
    );
    assert_eq!(check(&at(Some(NOW - 20))), None);
    assert_eq!(check(&at(Some(0))), Some(PolicyRefusal::TooOld));
    // No auth_time (Transmit's access tokens): no proof of a recent sign-in.
    assert_eq!(check(&at(None)), Some(PolicyRefusal::NoAuthTime));
    // An authentication after the token was issued is no authentication time at all.
    let c = with(|c| c.auth_time = Some(c.iat + 1));
    assert_eq!(check(&c), Some(PolicyRefusal::NoAuthTime));
    let c = with(|c| c.auth_time = Some(c.iat));
    assert_eq!(check(&c), None);
    // max_age 0: only an authentication of this very second.
    let zero = policies(r#"[{"path": "/x", "max_age": 0}]"#);
    let c = with(|c| {
        c.iat = NOW;
        c.auth_time = Some(NOW);
    });
    assert_eq!(reason(zero.check("GET", "/x", &c, NOW)), None);
    assert_eq!(
        reason(zero.check("GET", "/x", &c, NOW + 1)),
        Some(PolicyRefusal::TooOld)
    );
}

#[test]
fn roles_and_scopes_are_judged_before_the_authentication() {
    let p = policies(EXAMPLE);
    let fresh_mfa = |c: &mut VerifiedClaims| {
        c.amr = vec!["pwd".into(), "mfa".into()];
        c.auth_time = Some(NOW - 60);
    };
    // No admin role and no mfa: the 403, not a step-up that could not help.
    assert_eq!(
        reason(p.check("GET", "/admin/x", &claims(), NOW)),
        Some(PolicyRefusal::Role)
    );
    let admin = |c: &mut VerifiedClaims| c.roles = vec!["admin".into()];
    assert_eq!(
        reason(p.check("GET", "/admin/x", &with(admin), NOW)),
        Some(PolicyRefusal::Amr)
    );
    let stale = with(|c| {
        admin(c);
        fresh_mfa(c);
        c.auth_time = Some(NOW - 901);
    });
    assert_eq!(
        reason(p.check("GET", "/admin/x", &stale, NOW)),
        Some(PolicyRefusal::TooOld)
    );
    let ok = with(|c| {
        admin(c);
        fresh_mfa(c);
    });
    assert_eq!(reason(p.check("GET", "/admin/x", &ok, NOW)), None);
    // Not an admin, whatever the authentication.
    let c = with(fresh_mfa);
    assert_eq!(
        reason(p.check("GET", "/admin/x", &c, NOW)),
        Some(PolicyRefusal::Role)
    );
}

#[test]
fn each_refusal_has_its_status_and_challenge() {
    let p = policies(
        r#"[
        {"path": "/roles", "roles_any": ["admin"]},
        {"path": "/scoped", "roles_all": ["admin"], "scopes": ["a:r", "a:w"]},
        {"path": "/amr", "amr": ["mfa", "otp"], "max_age": 300},
        {"path": "/amr-only", "amr": ["mfa"]},
        {"path": "/age", "max_age": 60}
    ]"#,
    );
    let scope_base = format!(
        "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", \
         error_description=\"The access token lacks a required role or scope\""
    );
    let step_base = format!(
        "Bearer realm=\"{REALM}\", error=\"insufficient_user_authentication\", \
         error_description=\"A stronger or more recent authentication is required\""
    );
    let admin = with(|c| c.roles = vec!["admin".into()]);
    let rows: Vec<(&str, VerifiedClaims, u16, String)> = vec![
        // Roles are never named; a rule without scopes has no scope parameter.
        ("/roles", claims(), 403, scope_base.clone()),
        // A missing role on a rule with scopes: the scopes are still what a client can ask for.
        (
            "/scoped",
            claims(),
            403,
            format!("{scope_base}, scope=\"a:r a:w\""),
        ),
        (
            "/scoped",
            admin.clone(),
            403,
            format!("{scope_base}, scope=\"a:r a:w\""),
        ),
        // The whole step-up requirement, whichever part failed.
        (
            "/amr",
            claims(),
            401,
            format!("{step_base}, acr_values=\"mfa otp\", max_age=\"300\""),
        ),
        (
            "/amr",
            with(|c| {
                c.amr = vec!["otp".into()];
                c.auth_time = Some(NOW - 301);
            }),
            401,
            format!("{step_base}, acr_values=\"mfa otp\", max_age=\"300\""),
        ),
        (
            "/amr-only",
            claims(),
            401,
            format!("{step_base}, acr_values=\"mfa\""),
        ),
        (
            "/age",
            claims(),
            401,
            format!("{step_base}, max_age=\"60\""),
        ),
    ];
    for (path, c, status, challenge) in rows {
        let Err(r) = p.check("GET", path, &c, NOW) else {
            panic!("{path}: passed")
        };
        assert_eq!(r.status, status, "{path}");
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some(challenge.as_str()),
            "{path}"
        );
        assert!(!r.clear_session, "{path}: the session stays");
    }
}

#[test]
fn bad_policies_name_the_rule() {
    let long_value = format!(
        r#"[{{"path": "/x", "roles_any": ["{}"]}}]"#,
        "r".repeat(129)
    );
    let many_rules = format!("[{}]", vec![r#"{"path": "/x"}"#; MAX_RULES + 1].join(","));
    let huge = format!(
        r#"[{{"path": "/x", "roles_any": ["a"]}}{}]"#,
        " ".repeat(MAX_CONFIG_BYTES)
    );
    let many_values = format!(
        r#"[{{"path": "/x", "scopes": [{}]}}]"#,
        (0..=MAX_VALUES)
            .map(|i| format!("\"s{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let rows: &[(&str, &str)] = &[
        ("", "must be a JSON array"),
        ("{}", "must be a JSON array"),
        (r#"{"path": "/x"}"#, "must be a JSON array"),
        ("[", "must be a JSON array"),
        (&huge, "longer than"),
        (&many_rules, "more than 64 rules"),
        (r#"["/x"]"#, "rule 1: not a rule object"),
        (
            r#"[{"path": "/x"}, {"roles_any": ["a"]}]"#,
            "rule 2: missing field `path`",
        ),
        (
            r#"[{"path": "/x", "role_any": ["a"]}]"#,
            "rule 1: unknown field `role_any`",
        ),
        (
            r#"[{"path": "/x", "max_age": "900"}]"#,
            "rule 1: not a rule object",
        ),
        (
            r#"[{"path": "/x", "max_age": 1.5}]"#,
            "rule 1: not a rule object",
        ),
        (
            r#"[{"path": "/x", "roles_any": "admin"}]"#,
            "rule 1: not a rule object",
        ),
        (r#"[{"path": "/x", "max_age": -1}]"#, "rule 1: max_age"),
        (
            r#"[{"path": "/x", "max_age": 31622401}]"#,
            "rule 1: max_age",
        ),
        (r#"[{"path": ""}]"#, "rule 1: path: needs"),
        (r#"[{"path": " , "}]"#, "rule 1: path: needs"),
        (r#"[{"path": "admin"}]"#, "rule 1: path:"),
        (r#"[{"path": "/a*"}]"#, "rule 1: path:"),
        (
            r#"[{"path": "/x"}, {"path": "/y", "roles_any": []}]"#,
            "rule 2: roles_any needs",
        ),
        (
            r#"[{"path": "/x", "roles_all": []}]"#,
            "rule 1: roles_all needs",
        ),
        (r#"[{"path": "/x", "scopes": []}]"#, "rule 1: scopes needs"),
        (r#"[{"path": "/x", "amr": []}]"#, "rule 1: amr needs"),
        (
            r#"[{"path": "/x", "methods": []}]"#,
            "rule 1: methods needs",
        ),
        (&many_values, "rule 1: scopes needs 1 to 16"),
        (&long_value, "rule 1: roles_any: each value"),
        (
            r#"[{"path": "/x", "roles_any": ["a b"]}]"#,
            "rule 1: roles_any: each value",
        ),
        (
            r#"[{"path": "/x", "roles_any": ["a,b"]}]"#,
            "rule 1: roles_any: each value",
        ),
        (
            r#"[{"path": "/x", "scopes": ["a\"b"]}]"#,
            "rule 1: scopes: each value",
        ),
        (
            r#"[{"path": "/x", "amr": ["m\\fa"]}]"#,
            "rule 1: amr: each value",
        ),
        (
            r#"[{"path": "/x", "amr": ["caf\u00e9"]}]"#,
            "rule 1: amr: each value",
        ),
        (
            r#"[{"path": "/x", "amr": [""]}]"#,
            "rule 1: amr: each value",
        ),
        (
            r#"[{"path": "/x", "methods": ["get"]}]"#,
            "rule 1: methods: each is one of",
        ),
        (
            r#"[{"path": "/x", "methods": ["TRACE"]}]"#,
            "rule 1: methods: each is one of",
        ),
        // Rules that can never apply.
        (
            r#"[{"path": "/health", "roles_any": ["a"]}]"#,
            "rule 1: a path pattern lies wholly under PUBLIC_PATHS",
        ),
        (
            r#"[{"path": "/x"}, {"path": "/public/admin/*"}]"#,
            "rule 2: a path pattern lies wholly under PUBLIC_PATHS",
        ),
        (
            r#"[{"path": "/public"}]"#,
            "rule 1: a path pattern lies wholly under PUBLIC_PATHS",
        ),
        (
            r#"[{"path": "/auth/session"}]"#,
            "rule 1: a path pattern lies wholly under AUTH_PREFIX",
        ),
        (
            r#"[{"path": "/x, /auth/*"}]"#,
            "rule 1: a path pattern lies wholly under AUTH_PREFIX",
        ),
    ];
    for (json, want) in rows {
        match parse(json) {
            Ok(_) => panic!("accepted: {json:.120}"),
            Err(e) => assert!(e.starts_with(want), "{json:.120}: {e}"),
        }
    }
}

#[test]
fn errors_never_quote_a_value() {
    for json in [
        r#"[{"path": "/x", "max_age": "secret-looking"}]"#,
        r#"[{"path": "/x", "roles_any": "secret-looking"}]"#,
        r#"[{"path": "/x", "roles_any": ["secret looking"]}]"#,
        r#"[{"path": "/x", "methods": ["secret-looking"]}]"#,
    ] {
        let e = parse(json).err().unwrap_or_default();
        assert!(!e.is_empty() && !e.contains("secret"), "{json}: {e}");
    }
}

#[test]
fn partly_public_rules_are_allowed_and_public_paths_stay_public() {
    // `/*` over PUBLIC_PATHS `/public/*, /health`: everything else needs the rule; the public
    // paths are decided first and never reach it.
    let p = policies(r#"[{"path": "/*", "roles_any": ["staff"]}, {"path": "/api/*"}]"#);
    assert!(p.find("GET", "/api/x").is_some());
    // A rule under a public prefix's parent, and one beside the edge's prefix.
    assert!(parse(r#"[{"path": "/publicity/*"}, {"path": "/authors"}]"#).is_ok());
    // A rule is allowed to require nothing (an exception before a broader rule).
    assert!(parse(r#"[{"path": "/x"}]"#).is_ok());
    assert!(parse("[]").is_ok_and(|p| p.is_empty()));
    // Another prefix for the edge's routes moves what "under AUTH_PREFIX" means.
    assert!(RoutePolicies::parse(r#"[{"path": "/auth/*"}]"#, &public(), "/edge").is_ok());
    assert!(RoutePolicies::parse(r#"[{"path": "/edge/x"}]"#, &public(), "/edge").is_err());
}

#[test]
fn the_bounds_are_inclusive() {
    let rules = format!("[{}]", vec![r#"{"path": "/x"}"#; MAX_RULES].join(","));
    assert!(parse(&rules).is_ok());
    let values = format!(
        r#"[{{"path": "/x", "amr": [{}], "max_age": {MAX_AGE_SECS}}}]"#,
        (0..MAX_VALUES)
            .map(|i| format!("\"m{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(parse(&values).is_ok());
    let long = format!(
        r#"[{{"path": "/x", "scopes": ["{}"]}}]"#,
        "s".repeat(MAX_VALUE_BYTES)
    );
    assert!(parse(&long).is_ok());
    // Exactly MAX_CONFIG_BYTES long.
    let head = r#"[{"path": "/x"}"#;
    let exact = format!("{head}{}]", " ".repeat(MAX_CONFIG_BYTES - head.len() - 1));
    assert_eq!(exact.len(), MAX_CONFIG_BYTES);
    assert!(parse(&exact).is_ok());
}

#[test]
fn step_up_rules_are_known() {
    let p = policies(EXAMPLE);
    let needs = |path: &str| p.find("GET", path).is_some_and(|(_, r)| r.needs_step_up());
    assert!(needs("/admin/x"));
    assert!(!needs("/api/reports/x"));
    assert!(policies(r#"[{"path": "/x", "max_age": 5}]"#)
        .find("GET", "/x")
        .is_some_and(|(_, r)| r.needs_step_up()));
    for why in [
        PolicyRefusal::Amr,
        PolicyRefusal::TooOld,
        PolicyRefusal::NoAuthTime,
    ] {
        assert!(why.step_up(), "{why:?}");
    }
    for why in [PolicyRefusal::Role, PolicyRefusal::Scope] {
        assert!(!why.step_up(), "{why:?}");
    }
}

#[test]
fn the_step_up_location_returns_only_to_local_paths() {
    let rows: &[(&str, Option<&str>, &str)] = &[
        (
            "/step-up",
            Some("/admin/users"),
            "/step-up?return_to=%2Fadmin%2Fusers",
        ),
        (
            "/step-up",
            Some("/admin/users?page=2&sort=a+b#x"),
            "/step-up?return_to=%2Fadmin%2Fusers%3Fpage%3D2%26sort%3Da%2Bb%23x",
        ),
        (
            "/login?mode=step-up",
            Some("/a"),
            "/login?mode=step-up&return_to=%2Fa",
        ),
        ("/login#form", Some("/a"), "/login?return_to=%2Fa#form"),
        (
            "/login?x=1#form",
            Some("/a"),
            "/login?x=1&return_to=%2Fa#form",
        ),
        (
            "/step-up",
            Some("/%2e%2e/x%25"),
            "/step-up?return_to=%2F%252e%252e%2Fx%2525",
        ),
        ("/step-up", None, "/step-up"),
        // Never a way off the site: protocol-relative, backslash, scheme, control characters.
        ("/step-up", Some("//evil.test/x"), "/step-up"),
        ("/step-up", Some("/a//evil.test"), "/step-up"),
        ("/step-up", Some("/\\evil.test"), "/step-up"),
        ("/step-up", Some("https://evil.test/"), "/step-up"),
        ("/step-up", Some("evil.test"), "/step-up"),
        ("/step-up", Some("/\t/evil.test"), "/step-up"),
        ("/step-up", Some("/caf\u{e9}"), "/step-up"),
        ("/step-up", Some(""), "/step-up"),
    ];
    for (page, back, want) in rows {
        assert_eq!(step_up_location(page, *back), *want, "{back:?}");
    }
    // Too long to carry: left out rather than cut.
    let long = format!("/{}", "a".repeat(MAX_LOCATION_BYTES));
    assert_eq!(step_up_location("/step-up", Some(&long)), "/step-up");
    let fits = format!(
        "/{}",
        "a".repeat(MAX_LOCATION_BYTES - "/s?return_to=%2F".len())
    );
    let at_limit = step_up_location("/s", Some(&fits));
    assert_eq!(at_limit.len(), MAX_LOCATION_BYTES);
    assert!(at_limit.starts_with("/s?return_to=%2Faaa"));
}

#[test]
fn refusal_codes_are_distinct() {
    let all = [
        PolicyRefusal::Role,
        PolicyRefusal::Scope,
        PolicyRefusal::Amr,
        PolicyRefusal::TooOld,
        PolicyRefusal::NoAuthTime,
    ];
    let codes: Vec<&str> = all.iter().map(|r| r.code()).collect();
    for (i, c) in codes.iter().enumerate() {
        assert!(c.starts_with("policy_") && !codes[..i].contains(c), "{c}");
    }
}

#[test]
fn the_methods_message_lists_the_methods_the_edge_forwards() {
    assert_eq!(
        METHODS_PROBLEM,
        format!("methods: each is one of {}", route::METHODS.join(" "))
    );
}
