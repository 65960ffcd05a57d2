//! Shared fixtures of the gate's native tests.

use std::sync::Arc;

use crate::access_cookie::{self, NONCE_BYTES};
use crate::config::EdgeConfig;
use crate::session_cookie::{self, ClientProps, SessionCookie};
use crate::token::VerifiedClaims;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
pub(crate) const URL: &str = "https://app.test/orders";
pub(crate) const UA: &str = "UA-A";
/// An assertion key for tests (`ASSERTION_KEY`): test-only material.
pub(crate) const ASSERTION_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"-ApzhqRNFDOAF6oDUCHIlB1C5iPy0iHQGBFvWDFQTKw","y":"9G2F2ZQmanJ5TzRRXk50pKQBiiP1tCRpNb4JEqOBzn4","d":"30UaWTQoplXPaijuFL_eSo7NzPjk0fT3ggmYCj9PkeY","kid":"test-edge-1"}"#;
/// The fake clock: the request's time, seconds.
pub(crate) const NOW: i64 = 1_700_000_000;

pub(crate) fn config_with(sessions: bool, extra: &[(&str, &str)]) -> EdgeConfig {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let result = EdgeConfig::from_env(|k| {
        if let Some((_, v)) = extra.iter().find(|(ek, _)| ek == k) {
            return Some(v.clone());
        }
        let v = match k {
            "ISSUER" => "https://issuer.test",
            "AUDIENCE" => "api",
            "JWKS_URL" => "https://issuer.test/jwks",
            "UPSTREAM" => "https://app.test",
            "PUBLIC_PATHS" => "/public/*",
            "SESSION_STORE_URL" if sessions => "https://store.test",
            "CLIENT_ID" if sessions => "edge",
            "CLIENT_SECRET" if sessions => "secret-secret-secret",
            "COOKIE_KEYS" if sessions => KEY,
            _ => return None,
        };
        Some(v.to_owned())
    });
    match result {
        Ok(c) => c,
        Err(e) => panic!("test config: {e:?}"),
    }
}

pub(crate) fn config() -> EdgeConfig {
    config_with(true, &[])
}

pub(crate) fn claims(sub: &str, sid: Option<&str>) -> Arc<VerifiedClaims> {
    Arc::new(VerifiedClaims {
        sub: sub.into(),
        aud: vec!["api".into()],
        exp: NOW + 300,
        iat: NOW - 10,
        jti: None,
        client_id: None,
        sid: sid.map(Into::into),
        roles: vec![],
        scope: None,
        amr: vec![],
        auth_time: None,
    })
}

/// Alice's session cookie (bound to `UA`) and an access cookie with `token` sealed beside it,
/// as a `Cookie` header.
pub(crate) fn alice_cookie_header(c: &EdgeConfig, token: &str) -> (String, String) {
    let Some(s) = &c.session else {
        panic!("sessions on")
    };
    let cookie = SessionCookie {
        session_id: "s-alice".into(),
        subject: "alice".into(),
        minted_ms: 5_000,
    };
    let props = ClientProps {
        user_agent: Some(UA),
        ip: None,
    };
    let raw = session_cookie::seal(&s.binding_keys, &s.binding, &cookie, &props, &[3; 16])
        .unwrap_or_default();
    let access = access_cookie::seal(&s.binding_keys, &raw, token, 6_000, &[4; NONCE_BYTES])
        .unwrap_or_default();
    (
        raw.clone(),
        format!("__Host-session={raw}; __Host-access={access}"),
    )
}
