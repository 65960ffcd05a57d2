//! The edge's configuration: read once per isolate from wrangler vars and secrets, validated
//! into types. A bad value is a [`ConfigError`] naming the key (never its value, which may be a
//! secret); the adapter then answers 500 to every request and forwards nothing.

use std::fmt;
use std::sync::Arc;

use url::Url;

use crate::assertion::AssertionConfig;
use crate::cookies::CookiePolicy;
use crate::keys::{Alg, KeySet};
use crate::policy::RoutePolicies;
use crate::revocation::OnKvError;
use crate::route::PathRules;
use crate::session_cookie::{BindingKeys, BindingPolicy};
use crate::throttle::ThrottleConfig;
use crate::token::Policy;

mod assertion;
mod sections;
mod session;
mod values;

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
    /// Where navigations a route policy sends to a new authentication go (`STEP_UP_PATH`,
    /// default `LOGIN_PATH`), with the path to return to ([`crate::policy::step_up_location`]).
    pub step_up_path: String,
    /// Timeout of each store call, milliseconds.
    pub store_timeout_ms: u32,
    /// `Clear-Site-Data` value sent on logout (empty: not sent).
    pub clear_site_data: String,
    /// Login throttling (per username, per client address).
    pub throttle: ThrottleConfig,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("store_url", &self.store_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("binding", &self.binding)
            .field("cookies", &self.cookies)
            .field("throttle", &self.throttle)
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

/// The revocation webhook's secrets (`REVOCATION_WEBHOOK_SECRET`, comma-separated: any one
/// verifies, so a sender can roll its secret); empty: `POST /auth/revocations` is off (404).
/// Never shown by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookSecrets(pub Vec<String>);

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecrets({} redacted)", self.0.len())
    }
}

impl WebhookSecrets {
    /// Whether the webhook is on.
    pub fn enabled(&self) -> bool {
        !self.0.is_empty()
    }
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
    /// What protected paths need beyond a valid token (`ROUTE_POLICIES`).
    pub policies: RoutePolicies,
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
    /// The revocation webhook's secrets (empty: off).
    pub webhook: WebhookSecrets,
    /// Session management, if configured.
    pub session: Option<SessionConfig>,
    /// The identity assertion for the upstream, if a key is configured.
    pub assertion: Option<AssertionConfig>,
}

/// Default `CLEAR_SITE_DATA`.
pub const DEFAULT_CLEAR_SITE_DATA: &str = "\"cache\", \"storage\"";

impl EdgeConfig {
    /// The configuration checked against the runtime's bindings: sessions revoke through the
    /// `REVOCATIONS` KV namespace, and without it a logout could not be enforced at the edge
    /// (nor could the revocation webhook store what it is told); logins are throttled through
    /// the `LOGIN_THROTTLE` Durable Object namespace, and without it every login would fail
    /// closed. So sessions without either binding, or the webhook without the KV binding, are a
    /// configuration error (a gate without sessions runs without them: nothing can be revoked
    /// at the edge then, as documented, and there is no login).
    pub fn with_bindings(
        self,
        revocations_bound: bool,
        throttle_bound: bool,
    ) -> Result<Self, ConfigError> {
        let needs = if self.session.is_some() {
            Some("SESSION_STORE_URL")
        } else if self.webhook.enabled() {
            Some("REVOCATION_WEBHOOK_SECRET")
        } else {
            None
        };
        if let Some(key) = needs.filter(|_| !revocations_bound) {
            return Err(ConfigError {
                key: "REVOCATIONS",
                problem: format!("the KV binding is required with {key}"),
            });
        }
        if self.session.is_some() && !throttle_bound {
            return Err(ConfigError {
                key: crate::throttle::BINDING,
                problem: "the Durable Object binding is required with SESSION_STORE_URL".into(),
            });
        }
        Ok(self)
    }

    /// Reads and validates the configuration. `get` returns a var or secret by name; empty
    /// strings count as unset. The sections are read in a fixed order, and the first bad key
    /// is the one reported.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let env = values::Env(&get);
        let tokens = sections::tokens(&env)?;
        let upstream = sections::upstream(&env)?;
        let paths = sections::paths(&env)?;
        let caches = sections::caches(&env)?;
        let revocation = sections::revocation(&env)?;
        let webhook = sections::webhook(&env)?;
        let session = session::session(&env)?;
        let assertion = assertion::assertion(&env, &upstream.url)?;
        sections::step_up_page(Self {
            policy: tokens.policy,
            allowed_algs: tokens.allowed_algs,
            keys: tokens.keys,
            upstream: upstream.url,
            upstream_timeout_ms: upstream.timeout_ms,
            fast_path: upstream.fast_path,
            server_timing: upstream.server_timing,
            public_paths: paths.public_paths,
            policies: paths.policies,
            access_cookie: paths.access_cookie,
            session_cookie: paths.session_cookie,
            auth_prefix: paths.auth_prefix,
            jwks_cache_secs: caches.jwks_cache_secs,
            jwks_timeout_ms: caches.jwks_timeout_ms,
            token_cache_entries: caches.token_cache_entries,
            token_cache_secs: caches.token_cache_secs,
            revocation,
            webhook,
            session,
            assertion,
        })
    }
}

#[cfg(test)]
mod tests;
