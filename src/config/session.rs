//! The session section: present when `SESSION_STORE_URL` is set, then the store client's
//! credentials, the cookie keys, binding and cookie policy, lifetimes, the logout answer and
//! login throttling.

use super::values::{header_safe, http_url, is_local_path, Env};
use super::{err, ConfigError, SessionConfig, DEFAULT_CLEAR_SITE_DATA};
use crate::cookies::CookiePolicy;
use crate::session_cookie::{BindingKeys, BindingPolicy, IpBinding};
use crate::throttle::{
    ThrottleConfig, DEFAULT_PER_IP, DEFAULT_PER_USER, DEFAULT_WINDOW_SECS, KEY_INFO,
};

/// `SESSION_STORE_URL` and the keys that go with it; `None` when sessions are off.
pub(super) fn session(env: &Env<'_>) -> Result<Option<SessionConfig>, ConfigError> {
    let Some(store) = env.get("SESSION_STORE_URL") else {
        return Ok(None);
    };
    let store_url = http_url("SESSION_STORE_URL", &store, true)?;
    let required = |k: &'static str| env.required(k, "is required with SESSION_STORE_URL");
    let client_id = required("CLIENT_ID")?;
    let client_secret = required("CLIENT_SECRET")?;
    let binding_keys =
        BindingKeys::parse(&required("COOKIE_KEYS")?).map_err(|e| err("COOKIE_KEYS", e))?;
    let ip = match env.get("BIND_IP").as_deref().map(str::trim) {
        None | Some("off") => IpBinding::Off,
        Some("prefix") => IpBinding::Prefix,
        Some("exact") => IpBinding::Exact,
        Some(_) => return Err(err("BIND_IP", "must be off, prefix or exact")),
    };
    let same_site_lax = match env.get("SAME_SITE").as_deref().map(str::trim) {
        None | Some("Strict" | "strict") => false,
        Some("Lax" | "lax") => true,
        Some(_) => return Err(err("SAME_SITE", "must be Strict or Lax")),
    };
    let login_path = env.text_or("LOGIN_PATH", "/");
    if !is_local_path(&login_path) {
        return Err(err(
            "LOGIN_PATH",
            "must be a plain absolute path: a single leading /, no // or \\, visible ASCII only",
        ));
    }
    let step_up_path = env.text_or("STEP_UP_PATH", &login_path);
    if !is_local_path(&step_up_path) {
        return Err(err(
            "STEP_UP_PATH",
            "must be a plain absolute path: a single leading /, no // or \\, visible ASCII only",
        ));
    }
    // Not "cookies": that clears every cookie of the registrable domain (sibling apps on other
    // subdomains too); the edge's own cookies are expired explicitly with Max-Age=0.
    let clear_site_data = env.text_or("CLEAR_SITE_DATA", DEFAULT_CLEAR_SITE_DATA);
    if !header_safe(&clear_site_data) {
        return Err(err("CLEAR_SITE_DATA", "must be a plain header value"));
    }
    let throttle = throttle(env, &binding_keys)?;
    Ok(Some(SessionConfig {
        store_url,
        client_id,
        client_secret,
        resource: env.get("RESOURCE"),
        binding_keys,
        binding: BindingPolicy {
            user_agent: env.boolean("BIND_USER_AGENT", true)?,
            ip,
        },
        cookies: CookiePolicy {
            same_site_lax,
            persistent: env.boolean("PERSISTENT_SESSIONS", false)?,
        },
        session_max_secs: env.number("SESSION_MAX_SECONDS", 14 * 86_400, 60, 366 * 86_400)?,
        login_path,
        step_up_path,
        store_timeout_ms: env.number("STORE_TIMEOUT_MS", 5_000, 100, 60_000)?,
        clear_site_data,
        throttle,
    }))
}

/// `LOGIN_FAILURES_PER_USER`, `LOGIN_FAILURES_PER_IP`, `LOGIN_FAILURE_WINDOW_SECONDS`; the
/// counters' names are keyed from the current cookie key.
fn throttle(env: &Env<'_>, keys: &BindingKeys) -> Result<ThrottleConfig, ConfigError> {
    let per_user = env.number("LOGIN_FAILURES_PER_USER", DEFAULT_PER_USER, 1, 1_000)?;
    let per_ip = env.number("LOGIN_FAILURES_PER_IP", DEFAULT_PER_IP, 1, 1_000_000)?;
    let window_secs = env.number(
        "LOGIN_FAILURE_WINDOW_SECONDS",
        DEFAULT_WINDOW_SECS,
        10,
        86_400,
    )?;
    let key = keys
        .derive(KEY_INFO)
        .ok_or_else(|| err("COOKIE_KEYS", "key derivation failed"))?;
    Ok(ThrottleConfig::new(per_user, per_ip, window_secs, key))
}
