//! The edge's configuration: read once per isolate from wrangler vars and secrets, validated
//! into types. A bad value is a [`ConfigError`] naming the key (never its value, which may be a
//! secret); the adapter then answers 500 to every request and forwards nothing.

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::cookies::CookiePolicy;
use crate::keys::{Alg, KeySet};
use crate::revocation::OnKvError;
use crate::route::PathRules;
use crate::session_cookie::{BindingKeys, BindingPolicy, IpBinding};
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

/// Session management at the edge (present when `SESSION_STORE_URL` is set).
#[derive(Clone)]
pub struct SessionConfig {
    /// The session store's base URL (Transmit: `https://api.transmitsecurity.io/cis`).
    pub store_url: Url,
    /// OAuth client id for the client-credentials grant.
    pub client_id: String,
    /// OAuth client secret (a secret: never logged, never in `Debug`).
    pub client_secret: String,
    /// `resource` to request tokens for, if any.
    pub resource: Option<String>,
    /// MAC keys of the session cookie.
    pub binding_keys: BindingKeys,
    /// Client properties the session cookie is bound to.
    pub binding: BindingPolicy,
    /// How cookies are written.
    pub cookies: CookiePolicy,
    /// Longest a session can live (bounds persistent cookies), seconds.
    pub session_max_secs: i64,
    /// Where navigations without a session are sent.
    pub login_path: String,
    /// Timeout of each store call, milliseconds.
    pub store_timeout_ms: u32,
    /// `Clear-Site-Data` value sent on logout (empty: not sent).
    pub clear_site_data: String,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("store_url", &self.store_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("binding", &self.binding)
            .field("cookies", &self.cookies)
            .finish_non_exhaustive()
    }
}

/// Revocation checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationConfig {
    /// Seconds a KV answer is cached in the isolate.
    pub cache_secs: i64,
    /// What a KV read failure means.
    pub on_kv_error: OnKvError,
    /// Longest access-token lifetime the issuer uses (revocation entries live this long plus
    /// the leeway).
    pub max_access_token_secs: u64,
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
    /// How long the upstream may take to start answering, milliseconds (then 504).
    pub upstream_timeout_ms: u32,
    /// Whether requests the isolate's caches decide are forwarded on the fast path (the full
    /// path otherwise; both decide the same, this is a switch for diagnosis).
    pub fast_path: bool,
    /// Answers say which path served them in `Server-Timing` (`edge;desc="fast"` or `"full"`),
    /// for tests and debugging (`SERVER_TIMING`, default off: it tells clients how the edge
    /// decided).
    pub server_timing: bool,
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
    /// Deadline of a JWKS fetch (the whole response, body included), milliseconds.
    pub jwks_timeout_ms: u32,
    /// Verified-token cache: entries.
    pub token_cache_entries: usize,
    /// Verified-token cache: seconds an entry lives at most.
    pub token_cache_secs: i64,
    /// Revocation checks.
    pub revocation: RevocationConfig,
    /// Session management, if configured.
    pub session: Option<SessionConfig>,
}

fn boolean(key: &'static str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(_) => Err(err(key, "must be true or false")),
    }
}

fn session_config(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<SessionConfig>, ConfigError> {
    let Some(store) = get("SESSION_STORE_URL") else {
        return Ok(None);
    };
    let store_url = http_url("SESSION_STORE_URL", &store, true)?;
    let required =
        |k: &'static str| get(k).ok_or_else(|| err(k, "is required with SESSION_STORE_URL"));
    let client_id = required("CLIENT_ID")?;
    let client_secret = required("CLIENT_SECRET")?;
    let binding_keys =
        BindingKeys::parse(&required("COOKIE_KEYS")?).map_err(|e| err("COOKIE_KEYS", e))?;
    let ip = match get("BIND_IP").as_deref().map(str::trim) {
        None | Some("off") => IpBinding::Off,
        Some("prefix") => IpBinding::Prefix,
        Some("exact") => IpBinding::Exact,
        Some(_) => return Err(err("BIND_IP", "must be off, prefix or exact")),
    };
    let same_site_lax = match get("SAME_SITE").as_deref().map(str::trim) {
        None | Some("Strict" | "strict") => false,
        Some("Lax" | "lax") => true,
        Some(_) => return Err(err("SAME_SITE", "must be Strict or Lax")),
    };
    let login_path = get("LOGIN_PATH").unwrap_or_else(|| "/".to_owned());
    if !is_local_path(&login_path) {
        return Err(err(
            "LOGIN_PATH",
            "must be a plain absolute path: a single leading /, no // or \\, visible ASCII only",
        ));
    }
    // Not "cookies": that clears every cookie of the registrable domain (sibling apps on other
    // subdomains too); the edge's own cookies are expired explicitly with Max-Age=0.
    let clear_site_data =
        get("CLEAR_SITE_DATA").unwrap_or_else(|| DEFAULT_CLEAR_SITE_DATA.to_owned());
    if !forward_safe(&clear_site_data) {
        return Err(err("CLEAR_SITE_DATA", "must be a plain header value"));
    }
    Ok(Some(SessionConfig {
        store_url,
        client_id,
        client_secret,
        resource: get("RESOURCE"),
        binding_keys,
        binding: BindingPolicy {
            user_agent: boolean("BIND_USER_AGENT", get("BIND_USER_AGENT"), true)?,
            ip,
        },
        cookies: CookiePolicy {
            same_site_lax,
            persistent: boolean("PERSISTENT_SESSIONS", get("PERSISTENT_SESSIONS"), false)?,
        },
        session_max_secs: number(
            "SESSION_MAX_SECONDS",
            get("SESSION_MAX_SECONDS"),
            14 * 86_400,
            60,
            366 * 86_400,
        )?,
        login_path,
        store_timeout_ms: u32::try_from(number(
            "STORE_TIMEOUT_MS",
            get("STORE_TIMEOUT_MS"),
            5_000,
            100,
            60_000,
        )?)
        .unwrap_or(5_000),
        clear_site_data,
    }))
}

fn forward_safe(v: &str) -> bool {
    crate::forward::is_safe_header_value(v)
}

/// Default `CLEAR_SITE_DATA`.
pub const DEFAULT_CLEAR_SITE_DATA: &str = "\"cache\", \"storage\"";

/// Whether `v` is a plain absolute path on this origin, as every browser reads a `Location`:
/// one leading `/` (so no scheme), no `//` and no `\\` anywhere (browsers read `\\` as `/`, so
/// `/\\evil.test` is `//evil.test`), and only visible ASCII (browsers drop tabs and newlines:
/// `/\t/evil.test` is `//evil.test` too).
fn is_local_path(v: &str) -> bool {
    v.starts_with('/')
        && !v.contains("//")
        && v.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b'\\')
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
        let upstream_timeout_ms = u32::try_from(number(
            "UPSTREAM_TIMEOUT_MS",
            get("UPSTREAM_TIMEOUT_MS"),
            30_000,
            100,
            300_000,
        )?)
        .unwrap_or(30_000);
        let fast_path = boolean("FAST_PATH", get("FAST_PATH"), true)?;
        let server_timing = boolean("SERVER_TIMING", get("SERVER_TIMING"), false)?;
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
        // At most 5 s: a session refresh waiting for another request's refresh allows that
        // much for a JWKS fetch (src/adapter/session.rs).
        let jwks_timeout_ms = u32::try_from(number(
            "JWKS_TIMEOUT_MS",
            get("JWKS_TIMEOUT_MS"),
            3_000,
            100,
            5_000,
        )?)
        .unwrap_or(3_000);
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
        let on_kv_error = match get("REVOCATION_ON_KV_ERROR").as_deref().map(str::trim) {
            None | Some("closed") => OnKvError::Closed,
            Some("open") => OnKvError::Open,
            Some(_) => return Err(err("REVOCATION_ON_KV_ERROR", "must be closed or open")),
        };
        let revocation = RevocationConfig {
            cache_secs: number(
                "REVOCATION_CACHE_SECONDS",
                get("REVOCATION_CACHE_SECONDS"),
                10,
                0,
                300,
            )?,
            on_kv_error,
            max_access_token_secs: u64::try_from(number(
                "ACCESS_TOKEN_MAX_SECONDS",
                get("ACCESS_TOKEN_MAX_SECONDS"),
                3600,
                60,
                86_400,
            )?)
            .unwrap_or(3600),
        };
        let session = session_config(&get)?;
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
            upstream_timeout_ms,
            fast_path,
            server_timing,
            public_paths,
            access_cookie,
            session_cookie,
            auth_prefix,
            jwks_cache_secs,
            jwks_timeout_ms,
            token_cache_entries: usize::try_from(token_cache_entries).unwrap_or(0),
            token_cache_secs,
            revocation,
            session,
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
}
