//! The identity assertion section: present when `ASSERTION_KEY` is set.

use url::Url;

use super::values::{header_safe, Env};
use super::{err, ConfigError};
use crate::assertion::{
    self, AssertionConfig, SigningKey, DEFAULT_ISSUER, MAX_LIFETIME_SECS, MIN_LIFETIME_SECS,
};

/// `ASSERTION_KEY` (secret), `ASSERTION_ISSUER`, `ASSERTION_AUDIENCE` (default: the origin of
/// `upstream`), `ASSERTION_SECONDS`, `ASSERTION_PUBLISHED_KEYS`; `None` when no key is set.
pub(super) fn assertion(
    env: &Env<'_>,
    upstream: &Url,
) -> Result<Option<AssertionConfig>, ConfigError> {
    let Some(key) = env.get("ASSERTION_KEY") else {
        return Ok(None);
    };
    let key = SigningKey::from_jwk_json(&key).map_err(|e| err("ASSERTION_KEY", e))?;
    let text = |k: &'static str, default: String| {
        let v = env.get(k).map(|v| v.trim().to_owned()).unwrap_or(default);
        if header_safe(&v) && !v.is_empty() {
            Ok(v)
        } else {
            Err(err(k, "must be visible ASCII"))
        }
    };
    let issuer = text("ASSERTION_ISSUER", DEFAULT_ISSUER.to_owned())?;
    let audience = text(
        "ASSERTION_AUDIENCE",
        upstream.origin().ascii_serialization(),
    )?;
    let lifetime_secs = env.number(
        "ASSERTION_SECONDS",
        MAX_LIFETIME_SECS,
        MIN_LIFETIME_SECS,
        MAX_LIFETIME_SECS,
    )?;
    let published = match env.get("ASSERTION_PUBLISHED_KEYS") {
        None => Vec::new(),
        Some(doc) => assertion::published_keys(&doc, key.kid())
            .map_err(|e| err("ASSERTION_PUBLISHED_KEYS", e))?,
    };
    Ok(Some(AssertionConfig {
        issuer,
        audience,
        lifetime_secs,
        key,
        published,
    }))
}
