//! Parsers of single values: numbers in a range, booleans, URLs, cookie names, paths. Each
//! names its key in the error and never quotes the value.

use url::Url;

use super::{err, ConfigError};
use crate::cookies;
pub(super) use crate::route::is_local_path;

/// The environment as the parsers read it: a var or secret by name, empty strings unset.
pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The value of `key`, if set.
    pub(super) fn get(&self, key: &str) -> Option<String> {
        (self.0)(key)
    }

    /// The value of `key`, or `default`.
    pub(super) fn text_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or_else(|| default.to_owned())
    }

    /// The value of `key`, which must be set; `problem` says why it is required.
    pub(super) fn required(&self, key: &'static str, problem: &str) -> Result<String, ConfigError> {
        self.get(key).ok_or_else(|| err(key, problem))
    }

    /// `key` as an integer in `min..=max`, or `default` when unset.
    pub(super) fn number<T: TryFrom<i64>>(
        &self,
        key: &'static str,
        default: T,
        min: i64,
        max: i64,
    ) -> Result<T, ConfigError> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        let out_of_range = || err(key, format!("must be between {min} and {max}"));
        let n: i64 = v.trim().parse().map_err(|_| err(key, "not an integer"))?;
        if !(min..=max).contains(&n) {
            return Err(out_of_range());
        }
        T::try_from(n).map_err(|_| out_of_range())
    }

    /// `key` as `true`/`1`/`yes` or `false`/`0`/`no`, or `default` when unset.
    pub(super) fn boolean(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(_) => Err(err(key, "must be true or false")),
        }
    }
}

/// An `https` URL (`http` only for loopback hosts) without credentials; with `allow_path`
/// false, an origin alone (no path, query or fragment).
pub(super) fn http_url(
    key: &'static str,
    value: &str,
    allow_path: bool,
) -> Result<Url, ConfigError> {
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

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A `__Host-` cookie name: a cookie-name token of at most 64 characters.
pub(super) fn cookie_name(key: &'static str, value: &str) -> Result<String, ConfigError> {
    if !value.starts_with(cookies::HOST_PREFIX) {
        return Err(err(key, "must start with __Host-"));
    }
    if value.len() > 64 || !cookies::is_token(value) {
        return Err(err(
            key,
            "must be a cookie-name token of at most 64 characters",
        ));
    }
    Ok(value.to_owned())
}

/// Whether `v` may be sent as a header value as it is.
pub(super) fn header_safe(v: &str) -> bool {
    crate::forward::is_safe_header_value(v)
}
