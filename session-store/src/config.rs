//! Configuration from the worker environment, parsed and validated once per isolate.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ISSUER` | required | `iss` of every token; `http(s)://…` |
//! | `DEFAULT_AUDIENCE` | `userid-api` | access-token `aud` when the request has no `resource` |
//! | `ALLOWED_RESOURCES` | none | further `resource` values accepted (comma-separated) |
//! | `SCOPE` | `openid` | access-token `scope` |
//! | `ACCESS_TOKEN_TTL_SECONDS` | 3600 | access- and ID-token lifetime, 5–86400 (5 s only for load runs) |
//! | `SESSION_TTL_SECONDS` | 1209600 | session lifetime from its last extension (2 weeks) |
//! | `REFRESH_TOKEN_MAX_SECONDS` | 1209600 | how long a refresh-token chain can rotate |
//! | `REFRESH_REUSE_GRACE_SECONDS` | 10 | grace for the immediately previous refresh token |
//! | `CLIENT_TOKEN_TTL_SECONDS` | 3600 | ClientAccessToken lifetime |
//! | `MAX_SESSIONS_PER_USER` | 50 | live sessions per user, 1–200; a new one past it ends the oldest |
//! | `LOGIN_FAILURES_PER_USER` | 10 | failed password attempts per username per window, 1–1000; then 429 without a check |
//! | `LOGIN_FAILURE_WINDOW_SECONDS` | 900 | that window, 10–86400 |
//! | `CLIENT_ID` | required | the calling client (the edge) |
//! | `CLIENT_SECRET` | required, secret, ≥ 16 bytes | its secret |
//! | `SIGNING_KEY` | required, secret | private JWK (EC P-256, RSA ≥ 2048, OKP Ed25519) |
//! | `SIGNING_KEY_PREVIOUS` | none, secret | previous private JWK, still published in the JWKS |
//! | `DEMO_USERS` | `[]` | JSON `[{user_id, username, password_hash, roles, email?, totp_secret?}]`, argon2id PHC hashes, base32 TOTP secrets |
//! | `EXPOSE_METRICS` | `false` | add an `x-store-metrics` header (DO calls, SQL statements) |
//! | `OTP_DEV_DELIVERY` | `false` | DEV ONLY: `otp/send` delivers by `direct` (the code in the answer) or `email` (into `GET /dev/mailbox/{user_id}`); refused with an `https://` `ISSUER` |

use std::collections::HashMap;

use serde::Deserialize;

use crate::client_token::ClientTokens;
use crate::password;
use crate::rules::Policy;
use crate::tokens::{KeySet, SigningKey};

/// A configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong (never its value).
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.var, self.reason)
    }
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// A user of the directory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Stable id (`sub`).
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// `roles` claim.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Email address (`identifier_type: email`).
    #[serde(default)]
    pub email: Option<String>,
    /// Enrolled TOTP secret, base32 (RFC 4648), at least [`crate::otp::MIN_SECRET_BYTES`]
    /// bytes; none: TOTP refused for the user.
    #[serde(default)]
    pub totp_secret: Option<String>,
}

impl User {
    /// The TOTP secret's bytes (checked at start, so `None` only for a user without one).
    pub fn totp_key(&self) -> Option<Vec<u8>> {
        self.totp_secret
            .as_deref()
            .and_then(crate::otp::decode_secret)
    }
}

/// An `identifier_type` the directory does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedIdentifier;

/// The user directory.
#[derive(Debug, Clone, Default)]
pub struct Users {
    users: Vec<User>,
    by_name: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
    dummy_hash: String,
}

impl Users {
    /// Parses and checks `DEMO_USERS`.
    pub fn parse(json: &str) -> Result<Self, ConfigError> {
        let users: Vec<User> =
            serde_json::from_str(json).map_err(|e| err("DEMO_USERS", e.to_string()))?;
        let mut out = Self {
            dummy_hash: password::dummy(password::DEFAULT_PARAMS),
            ..Self::default()
        };
        let mut costliest = (0u64, password::DEFAULT_PARAMS);
        for (i, u) in users.iter().enumerate() {
            if u.user_id.is_empty() || u.username.is_empty() {
                return Err(err(
                    "DEMO_USERS",
                    format!("user #{i}: empty user_id or username"),
                ));
            }
            if u.user_id.starts_with(crate::ids::LOGIN_ATTEMPTS_PREFIX) {
                return Err(err(
                    "DEMO_USERS",
                    format!("user #{i}: user_id must not start with the reserved prefix"),
                ));
            }
            if let Some(secret) = &u.totp_secret {
                let ok = crate::otp::decode_secret(secret)
                    .is_some_and(|k| k.len() >= crate::otp::MIN_SECRET_BYTES);
                if !ok {
                    return Err(err(
                        "DEMO_USERS",
                        format!(
                            "user {}: totp_secret must be base32 of at least {} bytes",
                            u.user_id,
                            crate::otp::MIN_SECRET_BYTES
                        ),
                    ));
                }
            }
            if u.email.as_deref().is_some_and(|e| !e.contains('@')) {
                return Err(err(
                    "DEMO_USERS",
                    format!("user {}: email must contain @", u.user_id),
                ));
            }
            let params = password::check(&u.password_hash)
                .map_err(|e| err("DEMO_USERS", format!("user {}: {e}", u.user_id)))?;
            // Work, not m·t·p: lanes run one after another, so p adds no time.
            let cost = password::work(params);
            if cost > costliest.0 {
                costliest = (cost, params);
            }
            if out.by_name.insert(u.username.clone(), i).is_some()
                || out.by_id.insert(u.user_id.clone(), i).is_some()
            {
                return Err(err(
                    "DEMO_USERS",
                    format!("user #{i}: duplicate id or username"),
                ));
            }
        }
        // Unknown users are checked against the costliest real parameters: never cheaper.
        if !users.is_empty() {
            out.dummy_hash = password::dummy(costliest.1);
        }
        out.users = users;
        Ok(out)
    }

    /// The user with this username, if any, and the hash to verify the password against: the
    /// user's, or a dummy with the same cost, so unknown users take the same time.
    pub fn for_login(&self, username: &str) -> (Option<&User>, &str) {
        match self.by_name.get(username).and_then(|&i| self.users.get(i)) {
            Some(u) => (Some(u), &u.password_hash),
            None => (None, &self.dummy_hash),
        }
    }

    /// The user with this id.
    pub fn by_id(&self, user_id: &str) -> Option<&User> {
        self.by_id.get(user_id).and_then(|&i| self.users.get(i))
    }

    /// The user a backend method names: by `identifier_type` (`email` when absent, as
    /// Transmit's default), `Err` for a type this directory does not hold (`phone_number`, or
    /// an unknown one).
    pub fn by_identifier(
        &self,
        kind: Option<&str>,
        identifier: &str,
    ) -> Result<Option<&User>, UnsupportedIdentifier> {
        use edge_session_protocol::wire::identifier_type as t;
        Ok(match kind.unwrap_or(t::EMAIL) {
            t::USERNAME => self
                .by_name
                .get(identifier)
                .and_then(|&i| self.users.get(i)),
            t::USER_ID => self.by_id(identifier),
            t::EMAIL => self
                .users
                .iter()
                .find(|u| u.email.as_deref() == Some(identifier)),
            _ => return Err(UnsupportedIdentifier),
        })
    }
}

/// The store's configuration.
#[derive(Debug)]
pub struct Config {
    /// `iss`.
    pub issuer: String,
    /// `aud` when no `resource` is given.
    pub default_audience: String,
    /// Every accepted `resource` (the default audience first).
    pub allowed_resources: Vec<String>,
    /// `scope` of access tokens.
    pub scope: String,
    /// Access- and ID-token lifetime, seconds.
    pub access_token_ttl_seconds: i64,
    /// ClientAccessToken lifetime, seconds.
    pub client_token_ttl_seconds: i64,
    /// Session rules.
    pub policy: Policy,
    /// The client id.
    pub client_id: String,
    client_secret: String,
    /// ClientAccessToken issuer/verifier.
    pub client_tokens: ClientTokens,
    /// Signing keys.
    pub keys: KeySet,
    /// User directory.
    pub users: Users,
    /// Whether responses carry `x-store-metrics`.
    pub expose_metrics: bool,
    /// DEV ONLY: whether `POST /v1/auth/otp/send` delivers, by `direct` (the code handed to the
    /// caller) or `email` (into the dev mailbox, `GET /dev/mailbox/{user_id}`): local
    /// development only, refused at start with an `https://` issuer.
    pub otp_dev_delivery: bool,
}

/// Highest `MAX_SESSIONS_PER_USER`: the session list of a user at the cap must stay far below
/// the 64 KiB an edge reads of a store answer (about 190 bytes a session).
pub const MAX_SESSIONS_LIMIT: u32 = 200;

/// An integer variable (seconds or a count) within `range`.
fn seconds(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, ConfigError> {
    let v = match get(var) {
        None => default,
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| err(var, "not an integer"))?,
    };
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(err(
            var,
            format!("must be in {}..={}", range.start(), range.end()),
        ))
    }
}

/// The rules' lifetimes and limits: `SESSION_TTL_SECONDS`, `REFRESH_TOKEN_MAX_SECONDS`,
/// `REFRESH_REUSE_GRACE_SECONDS`, `MAX_SESSIONS_PER_USER`, `LOGIN_FAILURES_PER_USER`,
/// `LOGIN_FAILURE_WINDOW_SECONDS`.
fn policy(get: &dyn Fn(&str) -> Option<String>) -> Result<Policy, ConfigError> {
    const YEAR: i64 = 366 * 86_400;
    let count = |var: &'static str, default: u32, max: u32| {
        let n = seconds(get, var, i64::from(default), 1..=i64::from(max))?;
        u32::try_from(n).map_err(|_| err(var, "out of range"))
    };
    Ok(Policy {
        session_ttl_ms: seconds(get, "SESSION_TTL_SECONDS", 1_209_600, 1..=YEAR)? * 1000,
        refresh_max_ms: seconds(get, "REFRESH_TOKEN_MAX_SECONDS", 1_209_600, 1..=YEAR)? * 1000,
        reuse_grace_ms: seconds(get, "REFRESH_REUSE_GRACE_SECONDS", 10, 0..=300)? * 1000,
        max_sessions: count(
            "MAX_SESSIONS_PER_USER",
            crate::rules::DEFAULT_MAX_SESSIONS,
            MAX_SESSIONS_LIMIT,
        )?,
        login_failures: count(
            "LOGIN_FAILURES_PER_USER",
            crate::rules::DEFAULT_LOGIN_FAILURES,
            1000,
        )?,
        login_window_ms: seconds(
            get,
            "LOGIN_FAILURE_WINDOW_SECONDS",
            crate::rules::DEFAULT_LOGIN_WINDOW_MS / 1000,
            10..=86_400,
        )? * 1000,
    })
}

impl Config {
    /// Reads the configuration through `get` (variables and secrets by name).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |var: &'static str| {
            get(var)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| err(var, "required"))
        };
        let issuer = required("ISSUER")?;
        if !(issuer.starts_with("https://") || issuer.starts_with("http://"))
            || issuer.trim() != issuer
        {
            return Err(err("ISSUER", "must be an http(s) URL"));
        }
        let default_audience = get("DEFAULT_AUDIENCE").unwrap_or_else(|| "userid-api".into());
        let mut allowed_resources = vec![default_audience.clone()];
        for r in get("ALLOWED_RESOURCES").unwrap_or_default().split(',') {
            let r = r.trim();
            if !r.is_empty() && !allowed_resources.iter().any(|a| a == r) {
                allowed_resources.push(r.to_string());
            }
        }
        let client_id = required("CLIENT_ID")?;
        let client_secret = required("CLIENT_SECRET")?;
        if client_secret.len() < 16 {
            return Err(err("CLIENT_SECRET", "must be at least 16 bytes"));
        }
        let current = SigningKey::from_jwk_json(&required("SIGNING_KEY")?)
            .map_err(|e| err("SIGNING_KEY", e.to_string()))?;
        let previous = match get("SIGNING_KEY_PREVIOUS").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(jwk) => Some(
                SigningKey::from_jwk_json(&jwk)
                    .map_err(|e| err("SIGNING_KEY_PREVIOUS", e.to_string()))?,
            ),
        };
        if previous.as_ref().is_some_and(|p| p.kid() == current.kid()) {
            return Err(err("SIGNING_KEY_PREVIOUS", "same kid as SIGNING_KEY"));
        }
        let policy = policy(get)?;
        let expose_metrics = match get("EXPOSE_METRICS").as_deref().map(str::trim) {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(err("EXPOSE_METRICS", "must be true or false")),
        };
        let otp_dev_delivery = match get("OTP_DEV_DELIVERY").as_deref().map(str::trim) {
            None | Some("") | Some("false") => false,
            // A passcode in the answer is for a developer's machine only: a deployed store
            // (an https issuer) refuses to start with it.
            Some("true") if issuer.starts_with("http://") => true,
            Some("true") => {
                return Err(err(
                    "OTP_DEV_DELIVERY",
                    "local development only: refused with an https:// ISSUER",
                ))
            }
            Some(_) => return Err(err("OTP_DEV_DELIVERY", "must be true or false")),
        };
        Ok(Self {
            otp_dev_delivery,
            client_tokens: ClientTokens::new(&issuer, &client_id, &client_secret),
            issuer,
            default_audience,
            allowed_resources,
            scope: get("SCOPE").unwrap_or_else(|| "openid".into()),
            access_token_ttl_seconds: seconds(get, "ACCESS_TOKEN_TTL_SECONDS", 3600, 5..=86_400)?,
            client_token_ttl_seconds: seconds(get, "CLIENT_TOKEN_TTL_SECONDS", 3600, 60..=86_400)?,
            policy,
            client_id,
            client_secret,
            keys: KeySet { current, previous },
            users: Users::parse(&get("DEMO_USERS").unwrap_or_else(|| "[]".into()))?,
            expose_metrics,
        })
    }

    /// Whether `id`/`secret` are this store's client credentials (constant-time).
    pub fn client_matches(&self, id: &str, secret: &str) -> bool {
        let id_ok = crate::client_token::secrets_equal(id, &self.client_id);
        let secret_ok = crate::client_token::secrets_equal(secret, &self.client_secret);
        id_ok & secret_ok
    }

    /// The audience for a request's `resource`, if the store issues tokens for it.
    pub fn audience<'a>(&'a self, resource: Option<&'a str>) -> Option<&'a str> {
        match resource {
            None => Some(&self.default_audience),
            Some(r) => self
                .allowed_resources
                .iter()
                .find(|a| a.as_str() == r)
                .map(String::as_str),
        }
    }
}

#[cfg(test)]
mod tests;
