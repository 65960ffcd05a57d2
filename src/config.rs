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
mod tests;
