use super::*;

#[test]
fn fixed_paths() {
    let rows: &[(&str, &str)] = &[
        (CLIENT_TOKEN, "/oidc/token"),
        (PASSWORD_AUTHENTICATE, "/v1/auth/password/authenticate"),
        (SESSION_AUTHENTICATE, "/v1/auth/session/authenticate"),
        (TOKEN_REFRESH, "/v1/auth/token/refresh"),
        (SESSION_LOGOUT, "/v1/auth/session/logout"),
        (JWKS, "/oidc/jwks"),
        (DISCOVERY, "/oidc/.well-known/openid-configuration"),
    ];
    for (constant, wire) in rows {
        assert_eq!(constant, wire);
    }
}

#[test]
fn user_sessions_encodes_the_id_as_one_segment() {
    let rows: &[(&str, &str)] = &[
        ("user-1", "/v1/auth/users/user-1/sessions"),
        ("a/../b?c", "/v1/auth/users/a%2F..%2Fb%3Fc/sessions"),
        ("a+b@x.test", "/v1/auth/users/a%2Bb%40x.test/sessions"),
        ("x#y z%", "/v1/auth/users/x%23y%20z%25/sessions"),
        ("é", "/v1/auth/users/%C3%A9/sessions"),
        ("A_z~9", "/v1/auth/users/A_z~9/sessions"),
    ];
    for (id, path) in rows {
        assert_eq!(user_sessions(id), *path, "{id:?}");
        assert_eq!(
            user_sessions_segment(path).map(|s| s.len() >= id.len()),
            Some(true)
        );
    }
}

#[test]
fn user_sessions_segment_reads_only_one_segment() {
    let rows: &[(&str, Option<&str>)] = &[
        ("/v1/auth/users/u1/sessions", Some("u1")),
        ("/v1/auth/users/u%2F1/sessions", Some("u%2F1")),
        ("/v1/auth/users//sessions", None),
        ("/v1/auth/users/a/b/sessions", None),
        ("/v1/auth/users/u1/sessions/", None),
        ("/v1/auth/users/u1", None),
        ("/v1/auth/session/logout", None),
    ];
    for (path, want) in rows {
        assert_eq!(user_sessions_segment(path), *want, "{path}");
    }
}
