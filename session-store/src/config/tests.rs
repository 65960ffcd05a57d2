use super::*;
use crate::tokens::tests::ES256;

pub(crate) fn env(extra: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let h = password::hash("alice-pw", b"0123456789abcdef", (64, 1, 1)).unwrap();
    let users = format!(
        r#"[{{"user_id":"u-alice","username":"alice","password_hash":"{h}","roles":["admin"]}}]"#
    );
    let mut vars: HashMap<String, String> = [
        ("ISSUER", "https://store.example"),
        ("CLIENT_ID", "edge"),
        ("CLIENT_SECRET", "0123456789abcdef-secret"),
        ("SIGNING_KEY", ES256),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.insert("DEMO_USERS".into(), users);
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    move |k: &str| vars.get(k).cloned()
}

#[test]
fn defaults() {
    let c = Config::from_lookup(&env(&[])).unwrap();
    assert_eq!(c.access_token_ttl_seconds, 3600);
    assert_eq!(c.policy.session_ttl_ms, 1_209_600_000);
    assert_eq!(c.policy.refresh_max_ms, 1_209_600_000);
    assert_eq!(c.policy.reuse_grace_ms, 10_000);
    assert_eq!(c.policy.max_sessions, 50);
    assert_eq!(c.default_audience, "userid-api");
    assert_eq!(c.audience(None), Some("userid-api"));
    assert_eq!(c.audience(Some("other")), None);
    assert!(!c.expose_metrics);
    assert!(c.client_matches("edge", "0123456789abcdef-secret"));
    assert!(!c.client_matches("edge", "0123456789abcdef-secreT"));
    assert!(!c.client_matches("edgE", "0123456789abcdef-secret"));
}

#[test]
fn unknown_users_get_a_dummy_with_the_same_cost() {
    let c = Config::from_lookup(&env(&[])).unwrap();
    let (user, hash) = c.users.for_login("alice");
    assert_eq!(user.map(|u| u.user_id.as_str()), Some("u-alice"));
    assert!(password::verify(hash, "alice-pw"));
    let (nobody, dummy) = c.users.for_login("mallory");
    assert!(nobody.is_none());
    assert_eq!(
        password::check(dummy),
        password::check(hash),
        "same parameters"
    );
    assert!(c.users.by_id("u-alice").is_some());
}

#[test]
fn errors_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("ISSUER", "")], "ISSUER"),
        (&[("ISSUER", "store.example")], "ISSUER"),
        (&[("CLIENT_SECRET", "short")], "CLIENT_SECRET"),
        (&[("SIGNING_KEY", "{}")], "SIGNING_KEY"),
        (&[("SIGNING_KEY_PREVIOUS", ES256)], "SIGNING_KEY_PREVIOUS"),
        (
            &[("ACCESS_TOKEN_TTL_SECONDS", "0")],
            "ACCESS_TOKEN_TTL_SECONDS",
        ),
        (&[("SESSION_TTL_SECONDS", "x")], "SESSION_TTL_SECONDS"),
        (
            &[("REFRESH_REUSE_GRACE_SECONDS", "3600")],
            "REFRESH_REUSE_GRACE_SECONDS",
        ),
        (&[("EXPOSE_METRICS", "yes")], "EXPOSE_METRICS"),
        (&[("MAX_SESSIONS_PER_USER", "0")], "MAX_SESSIONS_PER_USER"),
        (&[("MAX_SESSIONS_PER_USER", "201")], "MAX_SESSIONS_PER_USER"),
        (
            &[("MAX_SESSIONS_PER_USER", "many")],
            "MAX_SESSIONS_PER_USER",
        ),
        (&[("DEMO_USERS", "{")], "DEMO_USERS"),
        (
            &[(
                "DEMO_USERS",
                r#"[{"user_id":"a","username":"a","password_hash":"x"}]"#,
            )],
            "DEMO_USERS",
        ),
    ];
    for (extra, var) in cases {
        let e = Config::from_lookup(&env(extra)).unwrap_err();
        assert_eq!(&e.var, var, "{extra:?}");
        assert!(
            !e.to_string().contains("BEGIN"),
            "no secret values in errors"
        );
    }
}

#[test]
fn session_cap() {
    for (value, want) in [("1", 1), ("7", 7), (" 200 ", 200)] {
        let c = Config::from_lookup(&env(&[("MAX_SESSIONS_PER_USER", value)])).unwrap();
        assert_eq!(c.policy.max_sessions, want, "{value:?}");
    }
}

#[test]
fn allowed_resources() {
    let c = Config::from_lookup(&env(&[
        ("DEFAULT_AUDIENCE", "https://app"),
        ("ALLOWED_RESOURCES", " https://api , ,https://app"),
    ]))
    .unwrap();
    assert_eq!(c.allowed_resources, vec!["https://app", "https://api"]);
    assert_eq!(c.audience(Some("https://api")), Some("https://api"));
}
