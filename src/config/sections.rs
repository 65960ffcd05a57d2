//! One parser per section of the edge's own settings, in the order `from_env` reads them (the
//! first bad key is the one reported): token rules and keys, upstream, paths and cookies,
//! caches, revocation. Sessions are in `session.rs`.

use std::sync::Arc;

use url::Url;

use super::values::{cookie_name, http_url, Env};
use super::{
    err, ConfigError, EdgeConfig, KeySource, RevocationConfig, WebhookSecrets, DEFAULT_LEEWAY_SECS,
    MAX_LEEWAY_SECS,
};
use crate::keys::{Alg, KeySet};
use crate::policy::RoutePolicies;
use crate::revocation::OnKvError;
use crate::route::{self, PathRules, Route};
use crate::token::{Policy, TypRule};

/// What a token must satisfy, and the keys that verify it.
pub(super) struct Tokens {
    pub(super) policy: Policy,
    pub(super) allowed_algs: Vec<Alg>,
    pub(super) keys: KeySource,
}

/// `ISSUER`, `AUDIENCE`, `ALLOWED_ALGS`, `JWKS_URL`/`JWKS`, `LEEWAY_SECONDS`, `ACCEPTED_TYP`.
pub(super) fn tokens(env: &Env<'_>) -> Result<Tokens, ConfigError> {
    let issuer = env.required("ISSUER", "is required")?;
    let audiences = list(&env.required("AUDIENCE", "is required")?);
    if audiences.is_empty() {
        return Err(err("AUDIENCE", "needs at least one value"));
    }
    let allowed_algs = allowed_algs(env)?;
    let keys = key_source(env, &allowed_algs)?;
    let leeway_secs = env.number("LEEWAY_SECONDS", DEFAULT_LEEWAY_SECS, 0, MAX_LEEWAY_SECS)?;
    let typ = match env.get("ACCEPTED_TYP") {
        None => TypRule::OneOf(vec!["at+jwt".to_owned()]),
        Some(v) if v.trim() == "*" => TypRule::Any,
        Some(v) => TypRule::OneOf(list(&v)),
    };
    Ok(Tokens {
        policy: Policy {
            issuer,
            audiences,
            typ,
            leeway_secs,
        },
        allowed_algs,
        keys,
    })
}

/// The non-empty trimmed items of a comma-separated list.
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `ALLOWED_ALGS`: the algorithms keys may have, without repeats (default ES256, RS256, EdDSA).
fn allowed_algs(env: &Env<'_>) -> Result<Vec<Alg>, ConfigError> {
    let Some(names) = env.get("ALLOWED_ALGS") else {
        return Ok(vec![Alg::Es256, Alg::Rs256, Alg::Ed25519]);
    };
    let mut algs = Vec::new();
    for name in list(&names) {
        let alg = Alg::from_config_name(&name).ok_or_else(|| {
            err(
                "ALLOWED_ALGS",
                "only ES256, RS256, PS256 and EdDSA are supported",
            )
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err(err("ALLOWED_ALGS", "needs at least one algorithm"));
    }
    Ok(algs)
}

/// `JWKS_URL` or an inline `JWKS`, exactly one of them.
fn key_source(env: &Env<'_>, allowed_algs: &[Alg]) -> Result<KeySource, ConfigError> {
    match (env.get("JWKS_URL"), env.get("JWKS")) {
        (Some(_), Some(_)) => Err(err("JWKS", "set either JWKS_URL or JWKS, not both")),
        (Some(url), None) => Ok(KeySource::Url(http_url("JWKS_URL", &url, true)?)),
        (None, Some(doc)) => Ok(KeySource::Inline(Arc::new(
            KeySet::from_jwks_json(doc.as_bytes(), allowed_algs)
                .map_err(|e| err("JWKS", e.to_string()))?,
        ))),
        (None, None) => Err(err("JWKS_URL", "JWKS_URL or JWKS is required")),
    }
}

/// Where requests go and how.
pub(super) struct Upstream {
    pub(super) url: Url,
    pub(super) timeout_ms: u32,
    pub(super) fast_path: bool,
    pub(super) server_timing: bool,
}

/// `UPSTREAM`, `UPSTREAM_TIMEOUT_MS`, `FAST_PATH`, `SERVER_TIMING`.
pub(super) fn upstream(env: &Env<'_>) -> Result<Upstream, ConfigError> {
    Ok(Upstream {
        url: http_url("UPSTREAM", &env.required("UPSTREAM", "is required")?, false)?,
        timeout_ms: env.number("UPSTREAM_TIMEOUT_MS", 30_000, 100, 300_000)?,
        fast_path: env.boolean("FAST_PATH", true)?,
        server_timing: env.boolean("SERVER_TIMING", false)?,
    })
}

/// Which paths are public, what the protected ones need, the edge's cookie names and its own
/// routes' prefix.
pub(super) struct Paths {
    pub(super) public_paths: PathRules,
    pub(super) policies: RoutePolicies,
    pub(super) access_cookie: String,
    pub(super) session_cookie: String,
    pub(super) auth_prefix: String,
}

/// `PUBLIC_PATHS`, `ACCESS_COOKIE`, `SESSION_COOKIE` (not the same name), `AUTH_PREFIX`,
/// `ROUTE_POLICIES`.
pub(super) fn paths(env: &Env<'_>) -> Result<Paths, ConfigError> {
    let public_paths = PathRules::parse(&env.get("PUBLIC_PATHS").unwrap_or_default())
        .map_err(|e| err("PUBLIC_PATHS", e))?;
    let access_cookie = cookie_name(
        "ACCESS_COOKIE",
        &env.text_or("ACCESS_COOKIE", "__Host-access"),
    )?;
    let session_cookie = cookie_name(
        "SESSION_COOKIE",
        &env.text_or("SESSION_COOKIE", "__Host-session"),
    )?;
    if access_cookie == session_cookie {
        return Err(err("SESSION_COOKIE", "must differ from ACCESS_COOKIE"));
    }
    let auth_prefix = env.text_or("AUTH_PREFIX", "/auth");
    if !auth_prefix.starts_with('/')
        || auth_prefix.len() < 2
        || auth_prefix.ends_with('/')
        || !auth_prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b))
    {
        return Err(err(
            "AUTH_PREFIX",
            "must look like /auth (no trailing slash)",
        ));
    }
    let policies = policies(env, &public_paths, &auth_prefix)?;
    Ok(Paths {
        public_paths,
        policies,
        access_cookie,
        session_cookie,
        auth_prefix,
    })
}

/// The JWKS and verified-token caches' bounds.
pub(super) struct Caches {
    pub(super) jwks_cache_secs: i64,
    pub(super) jwks_timeout_ms: u32,
    pub(super) token_cache_entries: usize,
    pub(super) token_cache_secs: i64,
}

/// `JWKS_CACHE_SECONDS`, `JWKS_TIMEOUT_MS`, `TOKEN_CACHE_ENTRIES`, `TOKEN_CACHE_SECONDS`.
pub(super) fn caches(env: &Env<'_>) -> Result<Caches, ConfigError> {
    Ok(Caches {
        jwks_cache_secs: env.number("JWKS_CACHE_SECONDS", 600, 30, 86_400)?,
        // At most 5 s: a session refresh waiting for another request's refresh allows that
        // much for a JWKS fetch (the adapter's refresh wait).
        jwks_timeout_ms: env.number("JWKS_TIMEOUT_MS", 3_000, 100, 5_000)?,
        token_cache_entries: env.number("TOKEN_CACHE_ENTRIES", 1024, 0, 100_000)?,
        token_cache_secs: env.number("TOKEN_CACHE_SECONDS", 60, 0, 3600)?,
    })
}

/// `REVOCATION_ON_KV_ERROR`, `REVOCATION_CACHE_SECONDS`, `ACCESS_TOKEN_MAX_SECONDS`.
pub(super) fn revocation(env: &Env<'_>) -> Result<RevocationConfig, ConfigError> {
    let on_kv_error = match env.get("REVOCATION_ON_KV_ERROR").as_deref().map(str::trim) {
        None | Some("closed") => OnKvError::Closed,
        Some("open") => OnKvError::Open,
        Some(_) => return Err(err("REVOCATION_ON_KV_ERROR", "must be closed or open")),
    };
    Ok(RevocationConfig {
        cache_secs: env.number("REVOCATION_CACHE_SECONDS", 10, 0, 300)?,
        on_kv_error,
        max_access_token_secs: env.number("ACCESS_TOKEN_MAX_SECONDS", 3600, 60, 86_400)?,
    })
}

/// `ROUTE_POLICIES`, read with the paths its rules must not lie under.
fn policies(
    env: &Env<'_>,
    public_paths: &PathRules,
    auth_prefix: &str,
) -> Result<RoutePolicies, ConfigError> {
    match env.get("ROUTE_POLICIES") {
        None => Ok(RoutePolicies::default()),
        Some(json) => RoutePolicies::parse(&json, public_paths, auth_prefix)
            .map_err(|e| err("ROUTE_POLICIES", e)),
    }
}

/// The step-up page must not itself need a step-up, or a navigation sent there would be sent
/// there again: `STEP_UP_PATH` (without its query) may not be a protected path whose rule
/// names `amr` or `max_age`. Takes and gives back the whole configuration (its one drop on
/// the error path is here, not inlined into `from_env`).
pub(super) fn step_up_page(config: EdgeConfig) -> Result<EdgeConfig, ConfigError> {
    let Some(s) = &config.session else {
        return Ok(config);
    };
    let page = s.step_up_path.split(['?', '#']).next().unwrap_or_default();
    let route = route::classify("GET", page, &config.auth_prefix, &config.public_paths);
    match config.policies.find("GET", page) {
        Some((n, rule)) if route == Route::Protected && rule.needs_step_up() => Err(err(
            "STEP_UP_PATH",
            format!(
                "the step-up page (default LOGIN_PATH) is under ROUTE_POLICIES rule {n}, \
                 which needs amr or max_age: navigations would loop; exclude it"
            ),
        )),
        _ => Ok(config),
    }
}

/// `REVOCATION_WEBHOOK_SECRET` (a secret): comma-separated, each at least
/// [`crate::webhook::MIN_SECRET_BYTES`] bytes; unset: the webhook is off.
pub(super) fn webhook(env: &Env<'_>) -> Result<WebhookSecrets, ConfigError> {
    let Some(v) = env.get("REVOCATION_WEBHOOK_SECRET") else {
        return Ok(WebhookSecrets::default());
    };
    let secrets = list(&v);
    const _: () = assert!(crate::webhook::MIN_SECRET_BYTES == 32);
    if secrets
        .iter()
        .any(|s| s.len() < crate::webhook::MIN_SECRET_BYTES)
    {
        return Err(err(
            "REVOCATION_WEBHOOK_SECRET",
            "each secret must be at least 32 bytes",
        ));
    }
    Ok(WebhookSecrets(secrets))
}
