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
    assert_eq!(
        (c.policy.login_failures, c.policy.login_window_ms),
        (10, 900_000)
    );
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
        (
            &[("LOGIN_FAILURES_PER_USER", "0")],
            "LOGIN_FAILURES_PER_USER",
        ),
        (
            &[("LOGIN_FAILURES_PER_USER", "1001")],
            "LOGIN_FAILURES_PER_USER",
        ),
        (
            &[("LOGIN_FAILURE_WINDOW_SECONDS", "9")],
            "LOGIN_FAILURE_WINDOW_SECONDS",
        ),
        (
            &[("LOGIN_FAILURE_WINDOW_SECONDS", "86401")],
            "LOGIN_FAILURE_WINDOW_SECONDS",
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
fn login_failure_limit_bounds() {
    for (failures, window, want) in [
        ("1", "10", (1, 10_000)),
        ("1000", "86400", (1000, 86_400_000)),
        (" 5 ", "900", (5, 900_000)),
    ] {
        let c = Config::from_lookup(&env(&[
            ("LOGIN_FAILURES_PER_USER", failures),
            ("LOGIN_FAILURE_WINDOW_SECONDS", window),
        ]))
        .unwrap();
        assert_eq!(
            (c.policy.login_failures, c.policy.login_window_ms),
            want,
            "{failures} {window}"
        );
    }
}

#[test]
fn user_ids_cannot_name_a_login_attempts_object() {
    let h = password::dummy((64, 1, 1));
    let json =
        format!(r#"[{{"user_id":"login-attempts:00","username":"a","password_hash":"{h}"}}]"#);
    let e = Users::parse(&json).unwrap_err();
    assert!(e.reason.contains("reserved prefix"), "{e}");
    let fine = format!(r#"[{{"user_id":"login-attempt","username":"a","password_hash":"{h}"}}]"#);
    assert!(Users::parse(&fine).is_ok());
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

/// Blocks one argon2 verification processes: every block of every lane, once a pass (the
/// lanes run one after another: a Worker has one thread).
/// RFC 9106 §3.2: the memory is m' = 4p·⌊m/4p⌋ blocks (m ≥ 8p).
fn work((m, t, p): (u32, u32, u32)) -> u64 {
    let slices = 4 * u64::from(p);
    u64::from(m) / slices * slices * u64::from(t)
}

fn directory(params: &[(u32, u32, u32)]) -> String {
    let users: Vec<String> = params
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let h = password::hash("pw", b"0123456789abcdef", p).unwrap();
            format!(r#"{{"user_id":"u{i}","username":"n{i}","password_hash":"{h}"}}"#)
        })
        .collect();
    format!("[{}]", users.join(","))
}

#[test]
fn the_dummy_is_never_cheaper_than_a_real_user() {
    let cases: &[&[(u32, u32, u32)]] = &[
        &[(64, 1, 1)],
        &[(64, 4, 1), (128, 1, 1)],
        &[(128, 1, 1), (64, 4, 1)],
        &[(256, 1, 1), (64, 2, 1)],
        &[(64, 1, 4), (128, 1, 1)],
        &[(128, 1, 1), (64, 1, 4)],
        &[(128, 1, 8), (96, 2, 1)],
        &[(64, 1, 1), (64, 3, 2), (72, 2, 1)],
    ];
    for params in cases {
        let users = Users::parse(&directory(params)).unwrap();
        let (nobody, dummy) = users.for_login("mallory");
        assert!(nobody.is_none());
        let dummy = password::check(dummy).unwrap();
        let costliest = params.iter().map(|&p| work(p)).max().unwrap();
        assert!(
            work(dummy) >= costliest,
            "{params:?}: dummy {dummy:?} does {} blocks, a user {costliest}",
            work(dummy)
        );
        assert!(params.contains(&dummy), "{params:?}: {dummy:?}");
    }
}

#[test]
fn an_empty_directory_still_checks_unknown_users_at_full_cost() {
    let users = Users::parse("[]").unwrap();
    let (nobody, dummy) = users.for_login("alice");
    assert!(nobody.is_none());
    assert_eq!(password::check(dummy), Ok(password::DEFAULT_PARAMS));
    assert!(!password::verify(dummy, ""));
}

#[test]
fn directory_entries_need_an_id_and_a_name() {
    let h = password::dummy((64, 1, 1));
    let user = |id: &str, name: &str| {
        format!(r#"[{{"user_id":"{id}","username":"{name}","password_hash":"{h}"}}]"#)
    };
    for (json, ok) in [
        (user("u1", "alice"), true),
        (user("", "alice"), false),
        (user("u1", ""), false),
        (user("", ""), false),
    ] {
        let got = Users::parse(&json);
        assert_eq!(got.is_ok(), ok, "{json}");
        if let Err(e) = got {
            assert!(e.reason.contains("empty user_id or username"), "{e}");
        }
    }
}

#[test]
fn client_secret_of_16_bytes_is_the_minimum() {
    for (secret, ok) in [
        ("0123456789abcde", false),
        ("0123456789abcdef", true),
        ("0123456789abcdef0", true),
    ] {
        let got = Config::from_lookup(&env(&[("CLIENT_SECRET", secret)]));
        assert_eq!(got.is_ok(), ok, "{} bytes", secret.len());
    }
}

#[test]
fn error_text_is_the_variable_then_the_reason() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("CLIENT_SECRET", "short")],
            "CLIENT_SECRET: must be at least 16 bytes",
        ),
        (
            &[("EXPOSE_METRICS", "1")],
            "EXPOSE_METRICS: must be true or false",
        ),
        (
            &[("SESSION_TTL_SECONDS", "0")],
            "SESSION_TTL_SECONDS: must be in 1..=31622400",
        ),
    ];
    for (extra, want) in cases {
        let e = Config::from_lookup(&env(extra)).unwrap_err();
        assert_eq!(e.to_string(), *want);
    }
    // A bad hash in the directory names the user and what is wrong with the hash.
    let argon2i = password::dummy((64, 1, 1)).replace("$argon2id$", "$argon2i$");
    let json = format!(r#"[{{"user_id":"u7","username":"a","password_hash":"{argon2i}"}}]"#);
    let e = Config::from_lookup(&env(&[("DEMO_USERS", &json)])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "DEMO_USERS: user u7: bad password hash: algorithm must be argon2id"
    );
}

#[test]
fn the_direct_otp_channel_is_for_local_development_only() {
    let c = Config::from_lookup(&env(&[])).unwrap();
    assert!(!c.otp_dev_delivery, "off by default");
    let dev = [
        ("ISSUER", "http://127.0.0.1:8788"),
        ("OTP_DEV_DELIVERY", "true"),
    ];
    assert!(Config::from_lookup(&env(&dev)).unwrap().otp_dev_delivery);
    let e = Config::from_lookup(&env(&[("OTP_DEV_DELIVERY", "true")])).unwrap_err();
    assert_eq!(e.var, "OTP_DEV_DELIVERY", "an https issuer refuses it");
    let e = Config::from_lookup(&env(&[("OTP_DEV_DELIVERY", "yes")])).unwrap_err();
    assert_eq!(e.var, "OTP_DEV_DELIVERY");
}

#[test]
fn totp_secrets_and_emails_are_checked_at_start() {
    let h = password::hash("pw", b"0123456789abcdef", (64, 1, 1)).unwrap();
    let user = |extra: &str| {
        format!(r#"[{{"user_id":"u7","username":"u","password_hash":"{h}"{extra}}}]"#)
    };
    let ok = user(r#","email":"u@example.test","totp_secret":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ""#);
    let c = Config::from_lookup(&env(&[("DEMO_USERS", &ok)])).unwrap();
    let u = c.users.by_id("u7").unwrap();
    assert_eq!(u.totp_key().as_deref(), Some(&b"12345678901234567890"[..]));
    assert_eq!(
        c.users.by_identifier(None, "u@example.test").unwrap(),
        Some(u)
    );
    assert_eq!(
        c.users.by_identifier(Some("username"), "u").unwrap(),
        Some(u)
    );
    assert_eq!(
        c.users.by_identifier(Some("user_id"), "u7").unwrap(),
        Some(u)
    );
    assert_eq!(c.users.by_identifier(Some("email"), "u").unwrap(), None);
    assert!(c.users.by_identifier(Some("phone_number"), "1").is_err());
    for bad in [
        r#","totp_secret":"JBSWY3DPEHPK3PXP""#, // 10 bytes: too short
        r#","totp_secret":"not base32!""#,
        r#","email":"nobody""#,
    ] {
        let e = Config::from_lookup(&env(&[("DEMO_USERS", &user(bad))])).unwrap_err();
        assert_eq!(e.var, "DEMO_USERS", "{bad}");
        assert!(
            !e.reason.contains("JBSWY3DPEHPK3PXP"),
            "no secret in the error"
        );
    }
}

/// Access tokens may be as short as 5 s (the load harness's configuration makes the edge
/// refresh many times in a short run); below that, and above a day, refused.
#[test]
fn access_token_ttl_bounds() {
    let ttl = |v: &str| Config::from_lookup(&env(&[("ACCESS_TOKEN_TTL_SECONDS", v)]));
    assert_eq!(ttl("5").unwrap().access_token_ttl_seconds, 5);
    assert_eq!(ttl("86400").unwrap().access_token_ttl_seconds, 86_400);
    for bad in ["4", "86401"] {
        let e = ttl(bad).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("ACCESS_TOKEN_TTL_SECONDS"), "{bad}: {e}");
    }
}
