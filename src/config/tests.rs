use std::collections::HashMap;

use super::*;
use crate::session_cookie::IpBinding;
use crate::token::TypRule;

fn base() -> HashMap<&'static str, String> {
    HashMap::from([
        ("ISSUER", "https://issuer.test".to_owned()),
        ("AUDIENCE", "api://edge, other".to_owned()),
        ("JWKS_URL", "https://issuer.test/oidc/jwks".to_owned()),
        ("UPSTREAM", "https://app.internal.test".to_owned()),
    ])
}

fn load(vars: &HashMap<&'static str, String>) -> Result<EdgeConfig, ConfigError> {
    EdgeConfig::from_env(|k| vars.get(k).cloned())
}

fn with(key: &'static str, value: &str) -> Result<EdgeConfig, ConfigError> {
    let mut v = base();
    v.insert(key, value.to_owned());
    load(&v)
}

#[test]
fn defaults() {
    let c = load(&base()).expect("valid");
    assert_eq!(c.policy.leeway_secs, 30);
    assert_eq!(c.policy.audiences, vec!["api://edge", "other"]);
    assert_eq!(c.policy.typ, TypRule::OneOf(vec!["at+jwt".into()]));
    assert_eq!(c.allowed_algs, vec![Alg::Es256, Alg::Rs256, Alg::Ed25519]);
    assert_eq!(c.access_cookie, "__Host-access");
    assert_eq!(c.session_cookie, "__Host-session");
    assert_eq!(c.auth_prefix, "/auth");
    assert_eq!(c.jwks_cache_secs, 600);
    assert_eq!(c.jwks_timeout_ms, 3_000);
    assert_eq!((c.token_cache_entries, c.token_cache_secs), (1024, 60));
}

#[test]
fn each_bad_value_names_its_key() {
    let rows: &[(&'static str, &str, &str)] = &[
        ("LEEWAY_SECONDS", "500", "LEEWAY_SECONDS"),
        ("LEEWAY_SECONDS", "-1", "LEEWAY_SECONDS"),
        ("LEEWAY_SECONDS", "thirty", "LEEWAY_SECONDS"),
        ("JWKS_URL", "not a url", "JWKS_URL"),
        ("JWKS_URL", "http://issuer.test/jwks", "JWKS_URL"),
        ("JWKS_URL", "ftp://issuer.test/jwks", "JWKS_URL"),
        ("UPSTREAM", "https://app.test/some/path", "UPSTREAM"),
        ("UPSTREAM", "https://user:pw@app.test", "UPSTREAM"),
        ("ALLOWED_ALGS", "ES256,HS256", "ALLOWED_ALGS"),
        ("ALLOWED_ALGS", "none", "ALLOWED_ALGS"),
        ("ALLOWED_ALGS", " , ", "ALLOWED_ALGS"),
        ("ACCESS_COOKIE", "access", "ACCESS_COOKIE"),
        ("ACCESS_COOKIE", "__Host-a;b", "ACCESS_COOKIE"),
        ("SESSION_COOKIE", "__Host-access", "SESSION_COOKIE"),
        ("PUBLIC_PATHS", "health", "PUBLIC_PATHS"),
        ("AUTH_PREFIX", "/auth/", "AUTH_PREFIX"),
        ("AUTH_PREFIX", "auth", "AUTH_PREFIX"),
        ("JWKS_CACHE_SECONDS", "5", "JWKS_CACHE_SECONDS"),
        ("JWKS_TIMEOUT_MS", "0", "JWKS_TIMEOUT_MS"),
        ("JWKS_TIMEOUT_MS", "99", "JWKS_TIMEOUT_MS"),
        ("JWKS_TIMEOUT_MS", "5001", "JWKS_TIMEOUT_MS"),
        ("JWKS_TIMEOUT_MS", "3s", "JWKS_TIMEOUT_MS"),
        ("JWKS", "{\"keys\":[]}", "JWKS"),
        ("AUDIENCE", " , ", "AUDIENCE"),
    ];
    for (key, value, named) in rows {
        assert_eq!(
            with(key, value).map(|_| ()).map_err(|e| e.key),
            Err(*named),
            "{key}={value}"
        );
    }
}

#[test]
fn missing_required_keys() {
    for key in ["ISSUER", "AUDIENCE", "UPSTREAM", "JWKS_URL"] {
        let mut v = base();
        v.remove(key);
        assert_eq!(load(&v).map(|_| ()).map_err(|e| e.key), Err(key));
    }
    let mut v = base();
    v.insert("ISSUER", "  ".into());
    assert_eq!(load(&v).map(|_| ()).map_err(|e| e.key), Err("ISSUER"));
}

#[test]
fn jwks_timeout_is_configurable() {
    assert_eq!(
        with("JWKS_TIMEOUT_MS", "750").map(|c| c.jwks_timeout_ms),
        Ok(750)
    );
    assert_eq!(
        with("JWKS_TIMEOUT_MS", "100").map(|c| c.jwks_timeout_ms),
        Ok(100)
    );
    assert_eq!(
        with("JWKS_TIMEOUT_MS", "5000").map(|c| c.jwks_timeout_ms),
        Ok(5000)
    );
}

#[test]
fn loopback_http_is_allowed_for_local_development() {
    assert!(with("JWKS_URL", "http://127.0.0.1:8787/oidc/jwks").is_ok());
    assert!(with("UPSTREAM", "http://localhost:9000").is_ok());
}

#[test]
fn inline_jwks_and_url_are_exclusive() {
    let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    let mut v = base();
    v.insert("JWKS", jwks.into());
    assert_eq!(load(&v).map(|_| ()).map_err(|e| e.key), Err("JWKS"));
    v.remove("JWKS_URL");
    assert!(matches!(load(&v).map(|c| c.keys), Ok(KeySource::Inline(_))));
}

#[test]
fn errors_never_contain_values() {
    let e = with("JWKS_URL", "https://secret-token@x")
        .map(|_| ())
        .unwrap_err();
    assert!(!e.to_string().contains("secret-token"));
}

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn with_session(extra: &[(&'static str, &str)]) -> Result<EdgeConfig, ConfigError> {
    let mut v = base();
    v.insert("SESSION_STORE_URL", "https://store.test/cis".into());
    v.insert("CLIENT_ID", "edge".into());
    v.insert("CLIENT_SECRET", "s3cret-value-xyz".into());
    v.insert("COOKIE_KEYS", KEY.into());
    for (k, val) in extra {
        v.insert(k, (*val).to_owned());
    }
    load(&v)
}

#[test]
fn sessions_are_optional_and_defaulted() {
    assert!(load(&base()).map(|c| c.session.is_none()).unwrap_or(false));
    let c = with_session(&[]).expect("valid");
    let s = c.session.expect("session config");
    assert_eq!(s.store_url.as_str(), "https://store.test/cis");
    assert!(!s.cookies.same_site_lax && !s.cookies.persistent);
    assert!(s.binding.user_agent);
    assert_eq!(s.binding.ip, IpBinding::Off);
    assert_eq!(s.session_max_secs, 14 * 86_400);
    assert_eq!(s.login_path, "/");
    assert_eq!(s.step_up_path, "/", "STEP_UP_PATH defaults to LOGIN_PATH");
    assert!(c.policies.is_empty());
    assert_eq!(s.clear_site_data, "\"cache\", \"storage\"");
    assert_eq!(c.revocation.on_kv_error, OnKvError::Closed);
    assert_eq!(c.revocation.cache_secs, 10);
}

#[test]
fn session_errors_name_their_key() {
    let rows: &[(&'static str, &str)] = &[
        ("COOKIE_KEYS", "short"),
        ("BIND_IP", "sometimes"),
        ("SAME_SITE", "None"),
        ("LOGIN_PATH", "//evil.test"),
        ("LOGIN_PATH", "https://evil.test/"),
        ("LOGIN_PATH", "/\\evil.test"),
        ("LOGIN_PATH", "\\/evil.test"),
        ("LOGIN_PATH", "/a\\b"),
        ("LOGIN_PATH", "/\t/evil.test"),
        ("LOGIN_PATH", "/\n/evil.test"),
        ("LOGIN_PATH", "/a//b"),
        ("LOGIN_PATH", "/a b"),
        ("LOGIN_PATH", "/caf\u{e9}"),
        ("LOGIN_PATH", "javascript:alert(1)"),
        ("LOGIN_PATH", "login"),
        ("LOGIN_PATH", "/\u{7f}x"),
        ("STEP_UP_PATH", "//evil.test"),
        ("STEP_UP_PATH", "https://evil.test/"),
        ("STEP_UP_PATH", "/\\evil.test"),
        ("STEP_UP_PATH", "/\t/evil.test"),
        ("STEP_UP_PATH", "/a b"),
        ("STEP_UP_PATH", "step-up"),
        ("ROUTE_POLICIES", "{}"),
        ("PERSISTENT_SESSIONS", "maybe"),
        ("STORE_TIMEOUT_MS", "0"),
        ("SESSION_STORE_URL", "http://store.example"),
    ];
    for (key, value) in rows {
        assert_eq!(
            with_session(&[(key, value)]).map(|_| ()).map_err(|e| e.key),
            Err(*key),
            "{key}={value}"
        );
    }
    let mut v = base();
    v.insert("SESSION_STORE_URL", "https://store.test".into());
    assert_eq!(load(&v).map(|_| ()).map_err(|e| e.key), Err("CLIENT_ID"));
    for bad in ["0", "99", "300001", "soon"] {
        assert_eq!(
            with("UPSTREAM_TIMEOUT_MS", bad)
                .map(|_| ())
                .map_err(|e| e.key),
            Err("UPSTREAM_TIMEOUT_MS"),
            "UPSTREAM_TIMEOUT_MS={bad}"
        );
    }
    assert_eq!(
        with("UPSTREAM_TIMEOUT_MS", "2500").map(|c| c.upstream_timeout_ms),
        Ok(2500)
    );
    assert_eq!(with("FAST_PATH", "false").map(|c| c.fast_path), Ok(false));
    assert_eq!(load(&base()).map(|c| c.fast_path), Ok(true));
    assert_eq!(load(&base()).map(|c| c.server_timing), Ok(false));
    assert_eq!(
        with("SERVER_TIMING", "true").map(|c| c.server_timing),
        Ok(true)
    );
    assert_eq!(
        with("FAST_PATH", "sometimes")
            .map(|_| ())
            .map_err(|e| e.key),
        Err("FAST_PATH")
    );
    assert_eq!(
        with("REVOCATION_ON_KV_ERROR", "maybe")
            .map(|_| ())
            .map_err(|e| e.key),
        Err("REVOCATION_ON_KV_ERROR")
    );
}

#[test]
fn login_path_plain_absolute_paths_pass() {
    for ok in [
        "/",
        "/login",
        "/sign-in/",
        "/a/b.html",
        "/?login=1",
        "/login#form",
    ] {
        assert_eq!(
            with_session(&[("LOGIN_PATH", ok)]).map(|c| c.session.map(|s| s.login_path)),
            Ok(Some(ok.to_owned())),
            "{ok}"
        );
    }
    assert_eq!(
        with_session(&[("CLEAR_SITE_DATA", "\"cache\", \"cookies\"")])
            .map(|c| c.session.map(|s| s.clear_site_data)),
        Ok(Some("\"cache\", \"cookies\"".to_owned())),
        "an explicit value is kept"
    );
}

#[test]
fn secrets_are_redacted_in_debug() {
    let c = with_session(&[]).expect("valid");
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("s3cret-value-xyz"));
    assert!(!dbg.contains(KEY));
}

#[test]
fn typ_any() {
    assert_eq!(
        with("ACCEPTED_TYP", "*").map(|c| c.policy.typ),
        Ok(TypRule::Any)
    );
}

/// The message names the key and the problem, nothing else.
#[test]
fn error_display() {
    let e = with("LEEWAY_SECONDS", "500").map(|_| ()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "config LEEWAY_SECONDS: must be between 0 and 120"
    );
    let e = with("UPSTREAM", "http://app.example")
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "config UPSTREAM: http is only allowed for loopback hosts; use https"
    );
}

#[test]
fn session_debug_shows_the_store_and_redacts_the_secret() {
    let s = with_session(&[]).expect("valid").session.expect("session");
    let dbg = format!("{s:?}");
    assert!(dbg.starts_with("SessionConfig {"), "{dbg}");
    assert!(
        dbg.contains("store_url: \"https://store.test/cis\""),
        "{dbg}"
    );
    assert!(dbg.contains("client_secret: \"<redacted>\""), "{dbg}");
}

/// URLs: what each part may be, and the bounds' edges (the first bad key and its problem).
#[test]
fn url_rules() {
    let problem =
        |key: &'static str, value: &str| with(key, value).map(|_| ()).map_err(|e| e.problem);
    let rows: &[(&'static str, &str, Result<(), &str>)] = &[
        ("UPSTREAM", "https://app.test", Ok(())),
        ("UPSTREAM", "https://app.test/", Ok(())),
        ("UPSTREAM", "http://[::1]:9000", Ok(())),
        (
            "UPSTREAM",
            "http://app.example",
            Err("http is only allowed for loopback hosts; use https"),
        ),
        (
            "UPSTREAM",
            "http://10.0.0.1",
            Err("http is only allowed for loopback hosts; use https"),
        ),
        ("UPSTREAM", "ws://app.test", Err("scheme must be https")),
        (
            "UPSTREAM",
            "https://user@app.test",
            Err("must not contain credentials"),
        ),
        (
            "UPSTREAM",
            "https://:pw@app.test",
            Err("must not contain credentials"),
        ),
        (
            "UPSTREAM",
            "https://app.test/?q=1",
            Err("must not have a query or fragment"),
        ),
        (
            "UPSTREAM",
            "https://app.test/#f",
            Err("must not have a query or fragment"),
        ),
        (
            "UPSTREAM",
            "https://app.test/p",
            Err("must be an origin without a path"),
        ),
        ("JWKS_URL", "https://issuer.test/jwks?v=2", Ok(())),
        ("JWKS_URL", "https://issuer.test/jwks#keys", Ok(())),
        (
            "JWKS_URL",
            "https://u:p@issuer.test/jwks",
            Err("must not contain credentials"),
        ),
    ];
    for (key, value, want) in rows {
        assert_eq!(
            problem(key, value),
            want.map_err(str::to_owned),
            "{key}={value}"
        );
    }
}

#[test]
fn cookie_name_bounds() {
    let name = |n: usize| format!("__Host-{}", "a".repeat(n - "__Host-".len()));
    assert_eq!(
        with("ACCESS_COOKIE", &name(64)).map(|c| c.access_cookie),
        Ok(name(64))
    );
    assert_eq!(
        with("ACCESS_COOKIE", &name(65))
            .map(|_| ())
            .map_err(|e| e.key),
        Err("ACCESS_COOKIE")
    );
    assert_eq!(
        with("SESSION_COOKIE", "__Host-s").map(|c| c.session_cookie),
        Ok("__Host-s".to_owned())
    );
}

#[test]
fn lists_skip_empty_items_and_repeats() {
    assert_eq!(
        with("ALLOWED_ALGS", " PS256, ES256,, ES256 ,EdDSA,ES256").map(|c| c.allowed_algs),
        Ok(vec![Alg::Ps256, Alg::Es256, Alg::Ed25519])
    );
    assert_eq!(
        with("ACCEPTED_TYP", "jwt, ,at+jwt,").map(|c| c.policy.typ),
        Ok(TypRule::OneOf(vec!["jwt".into(), "at+jwt".into()]))
    );
    assert_eq!(
        with("AUDIENCE", ", a ,,b").map(|c| c.policy.audiences),
        Ok(vec!["a".to_owned(), "b".to_owned()])
    );
}

#[test]
fn auth_prefix_edges() {
    for ok in ["/a", "/auth", "/edge/auth", "/a.b_c-d"] {
        assert_eq!(
            with("AUTH_PREFIX", ok).map(|c| c.auth_prefix),
            Ok(ok.to_owned()),
            "{ok}"
        );
    }
    for bad in ["/", "/auth/", "auth", "/a b", "/a?b", "/caf\u{e9}"] {
        assert_eq!(
            with("AUTH_PREFIX", bad).map(|_| ()).map_err(|e| e.key),
            Err("AUTH_PREFIX"),
            "{bad}"
        );
    }
}

/// Each number's bounds, both edges, and the default (a mutant in any bound or default fails a
/// row).
#[test]
fn number_bounds_table() {
    let with_s = |k: &'static str, v: &str| with_session(&[(k, v)]);
    type Read = fn(&EdgeConfig) -> i64;
    let session = |c: &EdgeConfig| c.session.as_ref().map_or(-1, |s| s.session_max_secs);
    let store = |c: &EdgeConfig| {
        c.session
            .as_ref()
            .map_or(-1, |s| i64::from(s.store_timeout_ms))
    };
    let rows: &[(&'static str, i64, i64, i64, Read)] = &[
        ("LEEWAY_SECONDS", 30, 0, 120, |c| c.policy.leeway_secs),
        ("UPSTREAM_TIMEOUT_MS", 30_000, 100, 300_000, |c| {
            i64::from(c.upstream_timeout_ms)
        }),
        ("JWKS_CACHE_SECONDS", 600, 30, 86_400, |c| c.jwks_cache_secs),
        ("JWKS_TIMEOUT_MS", 3_000, 100, 5_000, |c| {
            i64::from(c.jwks_timeout_ms)
        }),
        ("TOKEN_CACHE_ENTRIES", 1024, 0, 100_000, |c| {
            i64::try_from(c.token_cache_entries).unwrap_or(-1)
        }),
        ("TOKEN_CACHE_SECONDS", 60, 0, 3600, |c| c.token_cache_secs),
        ("REVOCATION_CACHE_SECONDS", 10, 0, 300, |c| {
            c.revocation.cache_secs
        }),
        ("ACCESS_TOKEN_MAX_SECONDS", 3600, 60, 86_400, |c| {
            i64::try_from(c.revocation.max_access_token_secs).unwrap_or(-1)
        }),
        (
            "SESSION_MAX_SECONDS",
            14 * 86_400,
            60,
            366 * 86_400,
            session,
        ),
        ("STORE_TIMEOUT_MS", 5_000, 100, 60_000, store),
        ("LOGIN_FAILURES_PER_USER", 5, 1, 1_000, |c| {
            c.session
                .as_ref()
                .map_or(-1, |s| i64::from(s.throttle.per_user))
        }),
        ("LOGIN_FAILURES_PER_IP", 50, 1, 1_000_000, |c| {
            c.session
                .as_ref()
                .map_or(-1, |s| i64::from(s.throttle.per_ip))
        }),
        ("LOGIN_FAILURE_WINDOW_SECONDS", 900, 10, 86_400, |c| {
            c.session.as_ref().map_or(-1, |s| s.throttle.window_secs)
        }),
    ];
    for (key, default, min, max, read) in rows {
        assert_eq!(
            with_session(&[]).map(|c| read(&c)),
            Ok(*default),
            "{key} default"
        );
        for ok in [*min, *max] {
            assert_eq!(
                with_s(key, &ok.to_string()).map(|c| read(&c)),
                Ok(ok),
                "{key}={ok}"
            );
        }
        for bad in [min - 1, max + 1] {
            assert_eq!(
                with_s(key, &bad.to_string())
                    .map(|_| ())
                    .map_err(|e| (e.key, e.problem)),
                Err((*key, format!("must be between {min} and {max}"))),
                "{key}={bad}"
            );
        }
    }
}

#[test]
fn session_switches() {
    let s = |extra: &[(&'static str, &str)]| with_session(extra).map(|c| c.session.expect("on"));
    assert_eq!(
        s(&[("BIND_IP", "prefix")]).map(|s| s.binding.ip),
        Ok(IpBinding::Prefix)
    );
    assert_eq!(
        s(&[("BIND_IP", " exact ")]).map(|s| s.binding.ip),
        Ok(IpBinding::Exact)
    );
    assert_eq!(
        s(&[("BIND_IP", "off")]).map(|s| s.binding.ip),
        Ok(IpBinding::Off)
    );
    assert_eq!(
        s(&[("SAME_SITE", "Lax")]).map(|s| s.cookies.same_site_lax),
        Ok(true)
    );
    assert_eq!(
        s(&[("SAME_SITE", "strict")]).map(|s| s.cookies.same_site_lax),
        Ok(false)
    );
    assert_eq!(
        s(&[("PERSISTENT_SESSIONS", "yes")]).map(|s| s.cookies.persistent),
        Ok(true)
    );
    assert_eq!(
        s(&[("BIND_USER_AGENT", "0")]).map(|s| s.binding.user_agent),
        Ok(false)
    );
    assert_eq!(
        s(&[("RESOURCE", "api://x")]).map(|s| s.resource),
        Ok(Some("api://x".into()))
    );
    assert_eq!(s(&[]).map(|s| s.resource), Ok(None));
    assert_eq!(
        s(&[("CLEAR_SITE_DATA", "\"cache\"\r\nX-Injected: 1")])
            .map(|_| ())
            .map_err(|e| e.key),
        Err("CLEAR_SITE_DATA")
    );
    assert_eq!(
        with("REVOCATION_ON_KV_ERROR", "open").map(|c| c.revocation.on_kv_error),
        Ok(OnKvError::Open)
    );
}

#[test]
fn sessions_need_the_revocation_and_throttle_bindings() {
    let with_sessions = |kv: bool, throttle: bool| {
        crate::gate::tests_support::config_with(true, &[])
            .with_bindings(kv, throttle)
            .map(|c| c.session.is_some())
            .map_err(|e| e.key)
    };
    assert_eq!(with_sessions(true, true), Ok(true));
    assert_eq!(with_sessions(false, true), Err("REVOCATIONS"));
    assert_eq!(with_sessions(true, false), Err("LOGIN_THROTTLE"));
    assert_eq!(with_sessions(false, false), Err("REVOCATIONS"));
    let gate_only = |kv: bool, throttle: bool| {
        load(&base())
            .and_then(|c| c.with_bindings(kv, throttle))
            .is_ok()
    };
    assert!(gate_only(false, false) && gate_only(true, true) && gate_only(true, false));
}

#[test]
fn throttle_counter_names_are_keyed_by_the_current_cookie_key() {
    let names = |keys: &str| {
        let c = crate::gate::tests_support::config_with(true, &[("COOKIE_KEYS", keys)]);
        let s = c.session.expect("sessions on");
        crate::throttle::keys(&s.throttle, "alice", Some("192.0.2.1"))
    };
    let k1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let k2 = "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo";
    assert_eq!(
        names(k1),
        names(&format!("{k1},{k2}")),
        "the current key names"
    );
    assert_ne!(
        names(k1),
        names(&format!("{k2},{k1}")),
        "a rotation renames"
    );
}

#[test]
fn route_policies_are_validated_at_start() {
    let rules = r#"[
        {"path": "/admin/*", "roles_any": ["admin"], "amr": ["mfa"], "max_age": 900},
        {"path": "/api/reports/*", "methods": ["GET"], "scopes": ["reports:read"]}
    ]"#;
    let c = with("ROUTE_POLICIES", rules).expect("valid");
    assert_eq!(c.policies.find("GET", "/admin/x").map(|(n, _)| n), Some(1));
    assert_eq!(
        c.policies.find("HEAD", "/api/reports/q").map(|(n, _)| n),
        Some(2)
    );
    // A bad rule names the key and the rule; never a value.
    let e = with(
        "ROUTE_POLICIES",
        r#"[{"path": "/a"}, {"path": "/b", "roles_any": ["secret role"]}]"#,
    )
    .map(|_| ())
    .unwrap_err();
    assert_eq!(e.key, "ROUTE_POLICIES");
    assert!(e.problem.starts_with("rule 2: roles_any"), "{e}");
    assert!(!e.to_string().contains("secret"), "{e}");
    // A rule on a configured public path never applies: refused.
    let mut v = base();
    v.insert("PUBLIC_PATHS", "/docs/*".into());
    v.insert(
        "ROUTE_POLICIES",
        r#"[{"path": "/docs/admin", "roles_any": ["a"]}]"#.into(),
    );
    let e = load(&v).map(|_| ()).unwrap_err();
    assert_eq!(e.key, "ROUTE_POLICIES");
    assert!(e.problem.contains("PUBLIC_PATHS"), "{e}");
    let mut v = base();
    v.insert("AUTH_PREFIX", "/edge".into());
    v.insert("ROUTE_POLICIES", r#"[{"path": "/edge/session"}]"#.into());
    assert!(load(&v).is_err_and(|e| e.problem.contains("AUTH_PREFIX")));
}

#[test]
fn the_step_up_page_must_not_need_a_step_up() {
    let mfa_everywhere = r#"[{"path": "/*", "amr": ["mfa"]}]"#;
    // STEP_UP_PATH (here its default, LOGIN_PATH "/") behind an amr rule: navigations would
    // be sent there again and again.
    let e = with_session(&[("ROUTE_POLICIES", mfa_everywhere)])
        .map(|_| ())
        .unwrap_err();
    assert_eq!(e.key, "STEP_UP_PATH");
    assert!(e.problem.contains("rule 1"), "{e}");
    let e = with_session(&[
        (
            "ROUTE_POLICIES",
            r#"[{"path": "/a"}, {"path": "/*", "max_age": 60}]"#,
        ),
        ("STEP_UP_PATH", "/step-up?x=1"),
    ])
    .map(|_| ())
    .unwrap_err();
    assert!(
        e.key == "STEP_UP_PATH" && e.problem.contains("rule 2"),
        "{e}"
    );
    // A public step-up page, one an earlier rule exempts, or a rule asking only for a role
    // (a 403, not a redirect): fine. Without sessions there is no step-up redirect at all.
    for (extra, ok) in [
        (
            &[("PUBLIC_PATHS", "/step-up"), ("STEP_UP_PATH", "/step-up")][..],
            true,
        ),
        (&[("STEP_UP_PATH", "/step-up")][..], false),
        (&[("STEP_UP_PATH", "/step-up#top")][..], false),
        (&[("STEP_UP_PATH", "/auth/step-up")][..], true),
    ] {
        let mut all = vec![("ROUTE_POLICIES", mfa_everywhere)];
        all.extend_from_slice(extra);
        assert_eq!(with_session(&all).is_ok(), ok, "{extra:?}");
    }
    let exempt = r#"[{"path": "/step-up"}, {"path": "/*", "amr": ["mfa"]}]"#;
    assert!(with_session(&[("ROUTE_POLICIES", exempt), ("STEP_UP_PATH", "/step-up")]).is_ok());
    let roles = r#"[{"path": "/*", "roles_any": ["staff"]}]"#;
    assert!(with_session(&[("ROUTE_POLICIES", roles)]).is_ok());
    assert!(with("ROUTE_POLICIES", mfa_everywhere).is_ok());
}

#[test]
fn the_assertion_is_off_without_a_key_and_defaults_with_one() {
    assert!(load(&base()).expect("valid").assertion.is_none());
    let key = crate::gate::tests_support::ASSERTION_KEY;
    let a = with("ASSERTION_KEY", key)
        .expect("valid")
        .assertion
        .expect("on with a key");
    assert_eq!(a.issuer, "edge-session");
    assert_eq!(
        a.audience, "https://app.internal.test",
        "the upstream's origin"
    );
    assert_eq!(a.lifetime_secs, 60);
    assert_eq!(a.key.kid(), "test-edge-1");
    assert!(a.published.is_empty());

    let mut v = base();
    v.insert("UPSTREAM", "http://127.0.0.1:9000".into());
    v.insert("ASSERTION_KEY", key.into());
    v.insert("ASSERTION_ISSUER", "https://edge.example".into());
    v.insert("ASSERTION_SECONDS", "30".into());
    let a = load(&v).expect("valid").assertion.expect("on");
    assert_eq!(
        (a.issuer.as_str(), a.audience.as_str(), a.lifetime_secs),
        ("https://edge.example", "http://127.0.0.1:9000", 30)
    );
    v.insert("ASSERTION_AUDIENCE", "urn:app".into());
    assert_eq!(
        load(&v).expect("valid").assertion.expect("on").audience,
        "urn:app"
    );
}

#[test]
fn bad_assertion_settings_name_their_key_and_never_the_secret() {
    let key = crate::gate::tests_support::ASSERTION_KEY;
    let d = "30UaWTQoplXPaijuFL_eSo7NzPjk0fT3ggmYCj9PkeY";
    let rows: &[(&'static str, String, &str)] = &[
        ("ASSERTION_KEY", "{}".into(), "ASSERTION_KEY"),
        (
            "ASSERTION_KEY",
            key.replace("30Ua", "30Ub"),
            "ASSERTION_KEY",
        ),
        ("ASSERTION_SECONDS", "61".into(), "ASSERTION_SECONDS"),
        ("ASSERTION_SECONDS", "9".into(), "ASSERTION_SECONDS"),
        ("ASSERTION_ISSUER", "caf\u{e9}".into(), "ASSERTION_ISSUER"),
        ("ASSERTION_AUDIENCE", "a\nb".into(), "ASSERTION_AUDIENCE"),
        (
            "ASSERTION_PUBLISHED_KEYS",
            "[1]".into(),
            "ASSERTION_PUBLISHED_KEYS",
        ),
        (
            "ASSERTION_PUBLISHED_KEYS",
            format!("[{key}]"),
            "ASSERTION_PUBLISHED_KEYS",
        ),
    ];
    for (k, value, named) in rows {
        let mut v = base();
        v.insert("ASSERTION_KEY", key.into());
        v.insert(k, value.clone());
        let e = load(&v).expect_err(k);
        assert_eq!(e.key, *named, "{k}={value}");
        assert!(!e.to_string().contains(d), "{e}");
    }
}

#[test]
fn the_webhook_secret() {
    let c = load(&base()).expect("valid");
    assert!(!c.webhook.enabled(), "off by default");
    let long = "s".repeat(32);
    let c = with("REVOCATION_WEBHOOK_SECRET", &format!(" {long} , {long}x ")).expect("valid");
    assert_eq!(c.webhook.0, vec![long.clone(), format!("{long}x")]);
    assert!(c.webhook.enabled());
    assert!(!format!("{c:?}").contains(&long), "never in Debug");
    assert!(format!("{:?}", c.webhook).contains("2 redacted"));
    let short = with(
        "REVOCATION_WEBHOOK_SECRET",
        &format!("{long},{}", "s".repeat(31)),
    );
    let e = short.map(drop).unwrap_err();
    assert_eq!(e.key, "REVOCATION_WEBHOOK_SECRET");
    assert!(!e.to_string().contains(&"s".repeat(31)));
    // The webhook writes KV: it needs the binding, sessions or not (and no login counters:
    // there are no logins without sessions).
    let bound = |b: bool| {
        with("REVOCATION_WEBHOOK_SECRET", &long)
            .and_then(|c| c.with_bindings(b, false))
            .map(drop)
            .map_err(|e| (e.key, e.problem))
    };
    assert_eq!(bound(true), Ok(()));
    assert_eq!(
        bound(false),
        Err((
            "REVOCATIONS",
            "the KV binding is required with REVOCATION_WEBHOOK_SECRET".to_owned()
        ))
    );
}
