//! What the rules work on: their [`Policy`], the stored [`Session`]s and [`RefreshRecord`]s,
//! and the synchronous [`Store`] they read and write through.

use edge_session_protocol::attempts::{Limit, Window};
use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// Lifetimes and windows of the session rules, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// How long a session lives after its last extension.
    pub session_ttl_ms: Millis,
    /// How long a refresh-token chain can be rotated, from its start ("session expiration").
    pub refresh_max_ms: Millis,
    /// How long after its rotation the immediately previous refresh token may be used again.
    pub reuse_grace_ms: Millis,
    /// Most live sessions one user may have: a new session past it ends the oldest ones.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: u32,
    /// Failed password attempts allowed per username in one window.
    #[serde(default = "default_login_failures")]
    pub login_failures: u32,
    /// The window of [`Policy::login_failures`].
    #[serde(default = "default_login_window_ms")]
    pub login_window_ms: Millis,
}

/// [`Policy::max_sessions`] when the configuration does not set it.
pub const DEFAULT_MAX_SESSIONS: u32 = 50;
/// [`Policy::login_failures`] when the configuration does not set it: above the edge's 5, so
/// behind the edge its exact answer comes first, and a backend calling the store directly
/// still gets no more than 10 guesses per window.
pub const DEFAULT_LOGIN_FAILURES: u32 = 10;
/// [`Policy::login_window_ms`] when the configuration does not set it (15 minutes).
pub const DEFAULT_LOGIN_WINDOW_MS: Millis = 15 * 60 * 1000;

fn default_max_sessions() -> u32 {
    DEFAULT_MAX_SESSIONS
}

fn default_login_failures() -> u32 {
    DEFAULT_LOGIN_FAILURES
}

fn default_login_window_ms() -> Millis {
    DEFAULT_LOGIN_WINDOW_MS
}

impl Policy {
    /// The limit of password attempts per username.
    pub fn login_limit(&self) -> Limit {
        Limit {
            max: self.login_failures,
            window_ms: self.login_window_ms,
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The session id (see [`crate::ids`]).
    pub id: String,
    /// The user the session belongs to.
    pub user_id: String,
    /// Creation time.
    pub created_at: Millis,
    /// Expiry; the session is dead from this instant on.
    pub expires_at: Millis,
    /// Time of the latest authentication.
    pub auth_time: Millis,
    /// Authentication methods, each once, in the order first used.
    pub amr: Vec<String>,
}

impl Session {
    /// Whether the session is alive at `now`.
    pub fn is_live(&self, now: Millis) -> bool {
        now < self.expires_at
    }
}

/// The state of one refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Can be rotated.
    Active,
    /// Was rotated at `rotated_at`.
    Rotated,
    /// A grace-window sibling whose twin was rotated; presenting it is reuse.
    Superseded,
}

impl TokenState {
    /// Name stored in SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Rotated => "rotated",
            Self::Superseded => "superseded",
        }
    }

    /// Parses [`TokenState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "rotated" => Some(Self::Rotated),
            "superseded" => Some(Self::Superseded),
            _ => None,
        }
    }
}

/// A refresh token as stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// The session it belongs to.
    pub session_id: String,
    /// The chain (one per token-issuing authentication): the hash of its first token.
    pub chain: String,
    /// Position in the chain, 0 for the first token.
    pub generation: i64,
    /// Current state.
    pub state: TokenState,
    /// When it was issued.
    pub created_at: Millis,
    /// When it was rotated or superseded.
    pub rotated_at: Option<Millis>,
    /// The chain cannot be rotated from this instant on.
    pub chain_expires_at: Millis,
    /// Access-token audience of the chain (the `resource` of the authentication that started
    /// it), so a refresh keeps it.
    pub audience: String,
}

/// Synchronous storage for one user's sessions and refresh tokens.
///
/// Implementations must not yield between calls (the Durable Object implementation calls
/// SQLite synchronously), so one operation sees and leaves a consistent state.
pub trait Store {
    /// Storage failure; the operation is rolled back.
    type Error;
    /// Reads a session.
    fn session(&mut self, id: &str) -> Result<Option<Session>, Self::Error>;
    /// Inserts or replaces a session.
    fn save_session(&mut self, session: &Session) -> Result<(), Self::Error>;
    /// Deletes a session and its refresh tokens; whether it existed.
    fn delete_session(&mut self, id: &str) -> Result<bool, Self::Error>;
    /// Every stored session, oldest first.
    fn sessions(&mut self) -> Result<Vec<Session>, Self::Error>;
    /// Deletes every session and refresh token; how many sessions there were.
    fn delete_all(&mut self) -> Result<u64, Self::Error>;
    /// Deletes sessions expired at `now` with their refresh tokens, and refresh tokens whose
    /// chain expired at `now`; the ids of the sessions deleted.
    fn purge_expired(&mut self, now: Millis) -> Result<Vec<String>, Self::Error>;
    /// Reads a refresh token by hash.
    fn refresh_token(&mut self, hash: &str) -> Result<Option<RefreshRecord>, Self::Error>;
    /// Stores a new refresh token.
    fn insert_refresh_token(&mut self, record: &RefreshRecord) -> Result<(), Self::Error>;
    /// Marks one token rotated at `at`, and its active siblings (same chain and generation)
    /// superseded.
    fn rotate(&mut self, record: &RefreshRecord, at: Millis) -> Result<(), Self::Error>;
    /// The highest generation in a chain.
    fn chain_head(&mut self, chain: &str) -> Result<i64, Self::Error>;
    /// The failed-login window this object holds (the objects of usernames hold one; a
    /// user's object none).
    fn attempts(&mut self) -> Result<Option<Window>, Self::Error>;
    /// Stores the failed-login window (`None`: deletes it).
    fn save_attempts(&mut self, window: Option<Window>) -> Result<(), Self::Error>;
    /// The last TOTP step accepted for this user.
    fn totp_step(&mut self) -> Result<Option<i64>, Self::Error>;
    /// Records the last TOTP step accepted.
    fn save_totp_step(&mut self, step: i64) -> Result<(), Self::Error>;
    /// The user's pending email passcode.
    fn pending_otp(&mut self) -> Result<Option<super::PendingOtp>, Self::Error>;
    /// Stores (or with `None` deletes) the pending email passcode.
    fn save_pending_otp(&mut self, otp: Option<&super::PendingOtp>) -> Result<(), Self::Error>;
}

#[cfg(test)]
mod tests;
