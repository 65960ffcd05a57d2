//! The edge's configuration: read once per isolate from wrangler vars and secrets, validated
//! into types. A bad value is a [`ConfigError`] naming the key (never its value, which may be a
//! secret); the adapter then answers 500 to every request and forwards nothing.

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::keys::{Alg, KeySet};
use crate::route::PathRules;
use crate::token::{Policy, TypRule};

/// Default and bounds of `LEEWAY_SECONDS`.
pub const DEFAULT_LEEWAY_SECS: i64 = 30;
/// Largest accepted `LEEWAY_SECONDS`.
pub const MAX_LEEWAY_SECS: i64 = 120;

/// A configuration key that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub key: &'static str,
    /// What is wrong, without the value.
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config {}: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

fn err(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        problem: problem.into(),
    }
}

/// Where the verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Fetched from this URL and cached in the isolate.
    Url(Url),
    /// Given inline (`JWKS`), parsed once.
    Inline(Arc<KeySet>),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// Token rules (issuer, audiences, typ, leeway).
    pub policy: Policy,
    /// Algorithms keys may have.
    pub allowed_algs: Vec<Alg>,
    /// The key source.
    pub keys: KeySource,
    /// The application origin requests are forwarded to.
    pub upstream: Url,
    /// Paths forwarded without a token.
    pub public_paths: PathRules,
    /// Name of the access-token cookie.
    pub access_cookie: String,
    /// Name of the session cookie.
    pub session_cookie: String,
    /// Prefix of the edge's own routes.
    pub auth_prefix: String,
    /// Upper bound for caching the JWKS, seconds.
    pub jwks_cache_secs: i64,
    /// Verified-token cache: entries.
    pub token_cache_entries: usize,
    /// Verified-token cache: seconds an entry lives at most.
    pub token_cache_secs: i64,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn http_url(key: &'static str, value: &str, allow_path: bool) -> Result<Url, ConfigError> {
    let url = Url::parse(value.trim()).map_err(|_| err(key, "not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(err(
                key,
                "http is only allowed for loopback hosts; use https",
            ))
        }
        _ => return Err(err(key, "scheme must be https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(key, "must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        if !allow_path {
            return Err(err(key, "must not have a query or fragment"));
        }
    } else if !allow_path && url.path() != "/" {
        return Err(err(key, "must be an origin without a path"));
    }
    Ok(url)
}

fn cookie_name(key: &'static str, value: &str) -> Result<String, ConfigError> {
    if !value.starts_with("__Host-") {
        return Err(err(key, "must start with __Host-"));
    }
    let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if value.len() > 64 || !value.bytes().all(token_char) {
        return Err(err(
            key,
            "must be a cookie-name token of at most 64 characters",
        ));
    }
    Ok(value.to_owned())
}

fn number(
    key: &'static str,
    value: Option<String>,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    let Some(v) = value else {
        return Ok(default);
    };
    let n: i64 = v.trim().parse().map_err(|_| err(key, "not an integer"))?;
    if !(min..=max).contains(&n) {
        return Err(err(key, format!("must be between {min} and {max}")));
    }
    Ok(n)
}

impl EdgeConfig {
    /// Reads and validates the configuration. `get` returns a var or secret by name; empty
    /// strings count as unset.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let required = |k: &'static str| get(k).ok_or_else(|| err(k, "is required"));

        let issuer = required("ISSUER")?;
        let audiences: Vec<String> = required("AUDIENCE")?
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        if audiences.is_empty() {
            return Err(err("AUDIENCE", "needs at least one value"));
        }
        let allowed_algs = match get("ALLOWED_ALGS") {
            None => vec![Alg::Es256, Alg::Rs256, Alg::Ed25519],
            Some(list) => {
                let mut algs = Vec::new();
                for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                    let alg = Alg::from_config_name(name).ok_or_else(|| {
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
                algs
            }
        };
        let keys = match (get("JWKS_URL"), get("JWKS")) {
            (Some(_), Some(_)) => return Err(err("JWKS", "set either JWKS_URL or JWKS, not both")),
            (Some(url), None) => KeySource::Url(http_url("JWKS_URL", &url, true)?),
            (None, Some(doc)) => KeySource::Inline(Arc::new(
                KeySet::from_jwks_json(doc.as_bytes(), &allowed_algs)
                    .map_err(|e| err("JWKS", e.to_string()))?,
            )),
            (None, None) => return Err(err("JWKS_URL", "JWKS_URL or JWKS is required")),
        };
        let leeway_secs = number(
            "LEEWAY_SECONDS",
            get("LEEWAY_SECONDS"),
            DEFAULT_LEEWAY_SECS,
            0,
            MAX_LEEWAY_SECS,
        )?;
        let typ = match get("ACCEPTED_TYP") {
            None => TypRule::OneOf(vec!["at+jwt".to_owned()]),
            Some(v) if v.trim() == "*" => TypRule::Any,
            Some(v) => TypRule::OneOf(
                v.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        };
        let upstream = http_url("UPSTREAM", &required("UPSTREAM")?, false)?;
        let public_paths = PathRules::parse(&get("PUBLIC_PATHS").unwrap_or_default())
            .map_err(|e| err("PUBLIC_PATHS", e))?;
        let access_cookie = cookie_name(
            "ACCESS_COOKIE",
            &get("ACCESS_COOKIE").unwrap_or_else(|| "__Host-access".to_owned()),
        )?;
        let session_cookie = cookie_name(
            "SESSION_COOKIE",
            &get("SESSION_COOKIE").unwrap_or_else(|| "__Host-session".to_owned()),
        )?;
        if access_cookie == session_cookie {
            return Err(err("SESSION_COOKIE", "must differ from ACCESS_COOKIE"));
        }
        let auth_prefix = get("AUTH_PREFIX").unwrap_or_else(|| "/auth".to_owned());
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
        let jwks_cache_secs = number(
            "JWKS_CACHE_SECONDS",
            get("JWKS_CACHE_SECONDS"),
            600,
            30,
            86_400,
        )?;
        let token_cache_entries = number(
            "TOKEN_CACHE_ENTRIES",
            get("TOKEN_CACHE_ENTRIES"),
            1024,
            0,
            100_000,
        )?;
        let token_cache_secs = number(
            "TOKEN_CACHE_SECONDS",
            get("TOKEN_CACHE_SECONDS"),
            60,
            0,
            3600,
        )?;
        Ok(Self {
            policy: Policy {
                issuer,
                audiences,
                typ,
                leeway_secs,
            },
            allowed_algs,
            keys,
            upstream,
            public_paths,
            access_cookie,
            session_cookie,
            auth_prefix,
            jwks_cache_secs,
            token_cache_entries: usize::try_from(token_cache_entries).unwrap_or(0),
            token_cache_secs,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

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

    #[test]
    fn typ_any() {
        assert_eq!(
            with("ACCEPTED_TYP", "*").map(|c| c.policy.typ),
            Ok(TypRule::Any)
        );
    }
}
