//! The session rules, as pure operations over a synchronous [`Store`].
//!
//! Each operation reads and writes through `Store` without any `await`, so the Durable Object
//! can run one operation inside one `transactionSync`: concurrent requests to the same user
//! object run one after another, and an operation either commits whole or not at all.
//!
//! Rules (each is a test row below):
//! - a session lasts [`Policy::session_ttl_ms`] (2 weeks by default) from its last extension;
//!   issuing new tokens by an authentication or by session authenticate within its lifetime
//!   extends it to `now + ttl`; a refresh does not (Transmit: a refresh "doesn't affect the
//!   session"); past its expiry nothing revives it (it is deleted when next touched);
//! - every token-issuing authentication starts a refresh-token chain whose tokens can be rotated
//!   until `chain start + `[`Policy::refresh_max_ms`] (the resource's "session expiration");
//!   rotating never moves that bound, and a refresh also needs the session to be live;
//! - refresh tokens rotate on every use; presenting a rotated token again revokes **every**
//!   refresh token of the session (the family), except within [`Policy::reuse_grace_ms`] of its
//!   rotation for the immediately previous token of the chain, which gets a sibling of the
//!   current token (a lost response can be retried, concurrent refreshes all succeed); once
//!   one sibling rotates, the others are superseded and presenting them is reuse;
//! - logout deletes the session and its refresh tokens; revoke-all deletes every session of the
//!   user and their refresh tokens;
//! - a user has at most [`Policy::max_sessions`] live sessions: an authentication that creates a
//!   session past it first ends the oldest (by creation) with their refresh tokens; the list
//!   answers the newest sessions first, at most that many;
//! - several authentications accumulate in one session: `amr` lists each method once in the
//!   order first used, `auth_time` is the latest authentication.

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
}

/// [`Policy::max_sessions`] when the configuration does not set it.
pub const DEFAULT_MAX_SESSIONS: u32 = 50;

fn default_max_sessions() -> u32 {
    DEFAULT_MAX_SESSIONS
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
    /// chain expired at `now`.
    fn purge_expired(&mut self, now: Millis) -> Result<(), Self::Error>;
    /// Reads a refresh token by hash.
    fn refresh_token(&mut self, hash: &str) -> Result<Option<RefreshRecord>, Self::Error>;
    /// Stores a new refresh token.
    fn insert_refresh_token(&mut self, record: &RefreshRecord) -> Result<(), Self::Error>;
    /// Marks one token rotated at `at`, and its active siblings (same chain and generation)
    /// superseded.
    fn rotate(&mut self, record: &RefreshRecord, at: Millis) -> Result<(), Self::Error>;
    /// The highest generation in a chain.
    fn chain_head(&mut self, chain: &str) -> Result<i64, Self::Error>;
    /// Deletes every refresh token of a session.
    fn revoke_refresh_tokens(&mut self, session_id: &str) -> Result<(), Self::Error>;
}

/// Why an operation was refused. Refusals commit whatever the rules wrote before refusing
/// (deleting an expired session, revoking a reused token's family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Unknown, ended or expired session.
    SessionNotFound,
    /// Unknown refresh token, or its session ended.
    InvalidRefreshToken,
    /// The refresh token's chain reached its "session expiration".
    RefreshTokenExpired,
    /// A rotated or superseded refresh token was presented; the family is revoked.
    RefreshTokenReused,
}

/// What a token-issuing operation returns: the session after the operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    /// The session, as stored after the operation.
    pub session: Session,
    /// Until when the new refresh token's chain can be rotated.
    pub refresh_expires_at: Millis,
    /// Access-token audience of the chain.
    pub audience: String,
    /// Sessions of the user this operation ended to stay within [`Policy::max_sessions`].
    #[serde(default)]
    pub ended_sessions: u64,
}

/// A new refresh-token chain: its first token (by hash) and the audience of its access tokens.
/// The caller draws the randomness; the rules draw none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChain {
    /// Hash of the chain's first refresh token.
    pub refresh_hash: String,
    /// Access-token audience.
    pub audience: String,
}

/// The result of an operation: `Err` only for storage failures.
pub type Op<T, E> = Result<Result<T, Rejection>, E>;

/// A successful authentication of a user by one method.
#[derive(Debug, Clone, Copy)]
pub struct Authentication<'a> {
    /// The authenticated user.
    pub user_id: &'a str,
    /// Its `amr` value (`pwd`, `otp`, …).
    pub method: &'a str,
    /// The session to add it to, if any.
    pub existing: Option<&'a str>,
    /// Id for the session if one is created.
    pub new_session_id: &'a str,
}

/// An authentication: creates a session, or with `existing` adds the method to that live
/// session of the same user.
pub fn authenticate<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    auth: Authentication<'_>,
    chain: &NewChain,
) -> Op<Issued, S::Error> {
    let Authentication {
        user_id,
        method,
        existing,
        new_session_id,
    } = auth;
    store.purge_expired(now)?;
    let mut ended_sessions = 0;
    let session = match existing {
        Some(id) => {
            let Some(mut s) = live_session(store, id, now)? else {
                return Ok(Err(Rejection::SessionNotFound));
            };
            if s.user_id != user_id {
                return Ok(Err(Rejection::SessionNotFound));
            }
            if !s.amr.iter().any(|m| m == method) {
                s.amr.push(method.to_string());
            }
            s.auth_time = now;
            s.expires_at = s.expires_at.max(now.saturating_add(policy.session_ttl_ms));
            s
        }
        None => {
            ended_sessions = make_room(store, policy, now)?;
            Session {
                id: new_session_id.to_string(),
                user_id: user_id.to_string(),
                created_at: now,
                expires_at: now.saturating_add(policy.session_ttl_ms),
                auth_time: now,
                amr: vec![method.to_string()],
            }
        }
    };
    store.save_session(&session)?;
    let refresh_expires_at = start_chain(store, policy, now, &session.id, chain)?;
    Ok(Ok(Issued {
        session,
        refresh_expires_at,
        audience: chain.audience.clone(),
        ended_sessions,
    }))
}

/// Session authenticate: new tokens for a live session, which is extended.
pub fn session_authenticate<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    session_id: &str,
    chain: &NewChain,
) -> Op<Issued, S::Error> {
    let Some(mut session) = live_session(store, session_id, now)? else {
        return Ok(Err(Rejection::SessionNotFound));
    };
    session.expires_at = session
        .expires_at
        .max(now.saturating_add(policy.session_ttl_ms));
    store.save_session(&session)?;
    let refresh_expires_at = start_chain(store, policy, now, &session.id, chain)?;
    Ok(Ok(Issued {
        session,
        refresh_expires_at,
        audience: chain.audience.clone(),
        ended_sessions: 0,
    }))
}

/// Refresh: rotates the presented token (by hash) into `new_hash`. Does not extend the session.
pub fn refresh<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    presented_hash: &str,
    new_hash: &str,
) -> Op<Issued, S::Error> {
    let Some(token) = store.refresh_token(presented_hash)? else {
        return Ok(Err(Rejection::InvalidRefreshToken));
    };
    let Some(session) = live_session(store, &token.session_id, now)? else {
        return Ok(Err(Rejection::InvalidRefreshToken));
    };
    if now >= token.chain_expires_at {
        return Ok(Err(Rejection::RefreshTokenExpired));
    }
    let generation = match token.state {
        TokenState::Active => {
            store.rotate(&token, now)?;
            token.generation + 1
        }
        TokenState::Rotated => {
            let head = store.chain_head(&token.chain)?;
            // A zero grace disables siblings outright (even a replay in the same millisecond
            // as the rotation is reuse); otherwise the bound is inclusive.
            let in_grace = policy.reuse_grace_ms > 0
                && token
                    .rotated_at
                    .is_some_and(|at| now.saturating_sub(at) <= policy.reuse_grace_ms);
            if !(in_grace && token.generation + 1 == head) {
                store.revoke_refresh_tokens(&session.id)?;
                return Ok(Err(Rejection::RefreshTokenReused));
            }
            head
        }
        TokenState::Superseded => {
            store.revoke_refresh_tokens(&session.id)?;
            return Ok(Err(Rejection::RefreshTokenReused));
        }
    };
    store.insert_refresh_token(&RefreshRecord {
        hash: new_hash.to_string(),
        session_id: session.id.clone(),
        chain: token.chain.clone(),
        generation,
        state: TokenState::Active,
        created_at: now,
        rotated_at: None,
        chain_expires_at: token.chain_expires_at,
        audience: token.audience.clone(),
    })?;
    Ok(Ok(Issued {
        session,
        refresh_expires_at: token.chain_expires_at,
        audience: token.audience,
        ended_sessions: 0,
    }))
}

/// Logout: deletes a live session and its refresh tokens.
pub fn logout<S: Store>(store: &mut S, now: Millis, session_id: &str) -> Op<(), S::Error> {
    match live_session(store, session_id, now)? {
        Some(_) => {
            store.delete_session(session_id)?;
            Ok(Ok(()))
        }
        None => Ok(Err(Rejection::SessionNotFound)),
    }
}

/// The user's live sessions, newest first, at most [`Policy::max_sessions`] of them (expired
/// ones are purged on the way; older ones beyond the cap, stored before it was lowered, are
/// left out and end with the user's next new session).
pub fn list<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
) -> Result<Vec<Session>, S::Error> {
    store.purge_expired(now)?;
    let max = usize::try_from(policy.max_sessions.max(1)).unwrap_or(usize::MAX);
    Ok(store
        .sessions()?
        .into_iter()
        .rev()
        .filter(|s| s.is_live(now))
        .take(max)
        .collect())
}

/// Revoke-all: ends every session of the user; how many were stored.
pub fn revoke_all<S: Store>(store: &mut S) -> Result<u64, S::Error> {
    store.delete_all()
}

/// The sessions to end so that one more fits within `max`: the oldest of `oldest_first`
/// (a user's live sessions, oldest first). A `max` of 0 counts as 1.
pub fn over_cap(oldest_first: &[Session], max: u32) -> &[Session] {
    let keep = usize::try_from(max.max(1) - 1).unwrap_or(usize::MAX);
    let end = oldest_first.len().saturating_sub(keep);
    oldest_first.get(..end).unwrap_or_default()
}

/// Ends the oldest live sessions (and their refresh tokens) so that a new one fits within
/// [`Policy::max_sessions`]; how many it ended. Expects expired sessions already purged.
fn make_room<S: Store>(store: &mut S, policy: &Policy, now: Millis) -> Result<u64, S::Error> {
    let live: Vec<Session> = store
        .sessions()?
        .into_iter()
        .filter(|s| s.is_live(now))
        .collect();
    let mut ended = 0;
    for s in over_cap(&live, policy.max_sessions) {
        if store.delete_session(&s.id)? {
            ended += 1;
        }
    }
    Ok(ended)
}

/// A live session, or `None`; an expired one is deleted with its tokens.
fn live_session<S: Store>(
    store: &mut S,
    id: &str,
    now: Millis,
) -> Result<Option<Session>, S::Error> {
    match store.session(id)? {
        Some(s) if s.is_live(now) => Ok(Some(s)),
        Some(_) => {
            store.delete_session(id)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

fn start_chain<S: Store>(
    store: &mut S,
    policy: &Policy,
    now: Millis,
    session_id: &str,
    chain: &NewChain,
) -> Result<Millis, S::Error> {
    let chain_expires_at = now.saturating_add(policy.refresh_max_ms);
    store.insert_refresh_token(&RefreshRecord {
        hash: chain.refresh_hash.clone(),
        session_id: session_id.to_string(),
        chain: chain.refresh_hash.clone(),
        generation: 0,
        state: TokenState::Active,
        created_at: now,
        rotated_at: None,
        chain_expires_at,
        audience: chain.audience.clone(),
    })?;
    Ok(chain_expires_at)
}

/// An in-memory [`Store`] for tests of the rules and of the protocol.
#[cfg(test)]
pub(crate) mod mem {
    use super::*;
    use std::collections::BTreeMap;

    /// Sessions and tokens in maps.
    #[derive(Debug, Default)]
    pub(crate) struct MemStore {
        pub(crate) sessions: BTreeMap<String, Session>,
        pub(crate) tokens: BTreeMap<String, RefreshRecord>,
    }

    impl Store for MemStore {
        type Error = std::convert::Infallible;
        fn session(&mut self, id: &str) -> Result<Option<Session>, Self::Error> {
            Ok(self.sessions.get(id).cloned())
        }
        fn save_session(&mut self, s: &Session) -> Result<(), Self::Error> {
            self.sessions.insert(s.id.clone(), s.clone());
            Ok(())
        }
        fn delete_session(&mut self, id: &str) -> Result<bool, Self::Error> {
            self.tokens.retain(|_, t| t.session_id != id);
            Ok(self.sessions.remove(id).is_some())
        }
        fn sessions(&mut self) -> Result<Vec<Session>, Self::Error> {
            let mut all: Vec<_> = self.sessions.values().cloned().collect();
            all.sort_by_key(|s| (s.created_at, s.id.clone()));
            Ok(all)
        }
        fn delete_all(&mut self) -> Result<u64, Self::Error> {
            let n = self.sessions.len() as u64;
            self.sessions.clear();
            self.tokens.clear();
            Ok(n)
        }
        fn purge_expired(&mut self, now: Millis) -> Result<(), Self::Error> {
            let dead: Vec<String> = self
                .sessions
                .values()
                .filter(|s| !s.is_live(now))
                .map(|s| s.id.clone())
                .collect();
            for id in dead {
                self.delete_session(&id)?;
            }
            self.tokens.retain(|_, t| now < t.chain_expires_at);
            Ok(())
        }
        fn refresh_token(&mut self, hash: &str) -> Result<Option<RefreshRecord>, Self::Error> {
            Ok(self.tokens.get(hash).cloned())
        }
        fn insert_refresh_token(&mut self, r: &RefreshRecord) -> Result<(), Self::Error> {
            self.tokens.insert(r.hash.clone(), r.clone());
            Ok(())
        }
        fn rotate(&mut self, r: &RefreshRecord, at: Millis) -> Result<(), Self::Error> {
            for t in self.tokens.values_mut() {
                if t.chain == r.chain && t.generation == r.generation {
                    if t.hash == r.hash {
                        t.state = TokenState::Rotated;
                        t.rotated_at = Some(at);
                    } else if t.state == TokenState::Active {
                        t.state = TokenState::Superseded;
                        t.rotated_at = Some(at);
                    }
                }
            }
            Ok(())
        }
        fn chain_head(&mut self, chain: &str) -> Result<i64, Self::Error> {
            Ok(self
                .tokens
                .values()
                .filter(|t| t.chain == chain)
                .map(|t| t.generation)
                .max()
                .unwrap_or(0))
        }
        fn revoke_refresh_tokens(&mut self, session_id: &str) -> Result<(), Self::Error> {
            self.tokens.retain(|_, t| t.session_id != session_id);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mem::MemStore;
    use super::*;

    const SEC: Millis = 1000;
    const DAY: Millis = 86_400 * SEC;
    const T0: Millis = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    fn policy() -> Policy {
        Policy {
            session_ttl_ms: 14 * DAY,
            refresh_max_ms: 30 * DAY,
            reuse_grace_ms: 10 * SEC,
            max_sessions: 50,
        }
    }

    /// A fake clock plus counters for fresh credentials.
    struct World {
        store: MemStore,
        policy: Policy,
        now: Millis,
        n: u32,
    }

    impl World {
        fn new() -> Self {
            Self::with(policy())
        }
        fn with(policy: Policy) -> Self {
            Self {
                store: MemStore::default(),
                policy,
                now: T0,
                n: 0,
            }
        }
        fn advance(&mut self, ms: Millis) {
            self.now += ms;
        }
        fn fresh(&mut self) -> (String, NewChain) {
            self.n += 1;
            let chain = NewChain {
                refresh_hash: format!("h{}", self.n),
                audience: format!("aud{}", self.n),
            };
            (format!("s{}", self.n), chain)
        }
        fn login(
            &mut self,
            user: &str,
            existing: Option<&str>,
            method: &str,
        ) -> Result<Issued, Rejection> {
            let (sid, chain) = self.fresh();
            let (store, policy) = (&mut self.store, &self.policy);
            let auth = Authentication {
                user_id: user,
                method,
                existing,
                new_session_id: &sid,
            };
            authenticate(store, policy, self.now, auth, &chain).unwrap()
        }
        fn session_auth(&mut self, sid: &str) -> Result<Issued, Rejection> {
            let (_, chain) = self.fresh();
            session_authenticate(&mut self.store, &self.policy, self.now, sid, &chain).unwrap()
        }
        /// Refreshes `hash`; returns the new hash on success.
        fn refresh(&mut self, hash: &str) -> Result<String, Rejection> {
            let (_, chain) = self.fresh();
            refresh(
                &mut self.store,
                &self.policy,
                self.now,
                hash,
                &chain.refresh_hash,
            )
            .unwrap()
            .map(|_| chain.refresh_hash)
        }
        fn logout(&mut self, sid: &str) -> Result<(), Rejection> {
            logout(&mut self.store, self.now, sid).unwrap()
        }
        fn first_token(&self, sid: &str) -> String {
            self.store
                .tokens
                .values()
                .filter(|t| t.session_id == sid)
                .max_by_key(|t| t.created_at)
                .map(|t| t.hash.clone())
                .unwrap()
        }
    }

    #[test]
    fn login_creates_a_two_week_session() {
        let mut w = World::new();
        let i = w.login("alice", None, "pwd").unwrap();
        assert_eq!(i.session.expires_at, T0 + 14 * DAY);
        assert_eq!(i.session.created_at, T0);
        assert_eq!(i.session.auth_time, T0);
        assert_eq!(i.session.amr, vec!["pwd"]);
        assert_eq!(i.refresh_expires_at, T0 + 30 * DAY);
        assert_eq!(w.store.tokens.len(), 1, "one refresh token, stored by hash");
    }

    #[test]
    fn session_authenticate_extends_within_lifetime() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        w.advance(13 * DAY);
        let i = w.session_auth(&sid).unwrap();
        assert_eq!(i.session.expires_at, T0 + 27 * DAY);
        assert_eq!(i.session.created_at, T0, "start time never moves");
        assert_eq!(i.session.auth_time, T0, "no new authentication");
    }

    #[test]
    fn nothing_revives_an_expired_session() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let rt = w.first_token(&sid);
        w.advance(14 * DAY); // exactly at expiry: dead
        assert_eq!(w.session_auth(&sid), Err(Rejection::SessionNotFound));
        assert!(w.store.sessions.is_empty(), "deleted when touched");
        assert_eq!(
            w.login("alice", Some(&sid), "otp").map(|_| ()),
            Err(Rejection::SessionNotFound)
        );
        assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
        w.now = T0; // even a clock going back does not bring it back
        assert_eq!(w.session_auth(&sid), Err(Rejection::SessionNotFound));
    }

    #[test]
    fn refresh_does_not_extend_the_session() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        w.advance(DAY);
        let rt = w.first_token(&sid);
        w.refresh(&rt).unwrap();
        assert_eq!(w.store.sessions[&sid].expires_at, T0 + 14 * DAY);
    }

    #[test]
    fn refresh_needs_a_live_session() {
        let mut w = World::with(Policy {
            refresh_max_ms: 60 * DAY,
            ..policy()
        });
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let mut rt = w.first_token(&sid);
        for _ in 0..13 {
            w.advance(DAY);
            rt = w.refresh(&rt).unwrap();
        }
        w.advance(DAY);
        assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
    }

    #[test]
    fn session_expiration_bounds_rotation() {
        let mut w = World::with(Policy {
            refresh_max_ms: 2 * DAY,
            ..policy()
        });
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let mut rt = w.first_token(&sid);
        w.advance(DAY);
        rt = w.refresh(&rt).unwrap();
        w.advance(DAY - 1);
        rt = w.refresh(&rt).unwrap();
        w.advance(1);
        assert_eq!(w.refresh(&rt), Err(Rejection::RefreshTokenExpired));
        // A new authentication starts a new chain with a new bound.
        let i = w.session_auth(&sid).unwrap();
        assert_eq!(i.refresh_expires_at, w.now + 2 * DAY);
        let rt2 = w.first_token(&sid);
        assert!(w.refresh(&rt2).is_ok());
    }

    #[test]
    fn refresh_rotates_and_old_token_is_single_use() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let a = w.first_token(&sid);
        let b = w.refresh(&a).unwrap();
        assert_eq!(w.store.tokens[&a].state, TokenState::Rotated);
        assert_eq!(
            w.store.tokens[&b].audience, w.store.tokens[&a].audience,
            "audience kept"
        );
        assert_eq!(w.store.tokens[&b].state, TokenState::Active);
        w.advance(11 * SEC);
        let c = w.refresh(&b).unwrap();
        assert_ne!(b, c);
    }

    #[test]
    fn replay_outside_grace_revokes_the_family() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let a = w.first_token(&sid);
        w.advance(SEC);
        w.session_auth(&sid).unwrap();
        let other_chain = w.first_token(&sid);
        assert_ne!(a, other_chain);
        let b = w.refresh(&a).unwrap();
        w.advance(10 * SEC + 1);
        assert_eq!(w.refresh(&a), Err(Rejection::RefreshTokenReused));
        assert_eq!(
            w.refresh(&b),
            Err(Rejection::InvalidRefreshToken),
            "successor revoked"
        );
        assert_eq!(
            w.refresh(&other_chain),
            Err(Rejection::InvalidRefreshToken),
            "whole family"
        );
        assert!(w.session_auth(&sid).is_ok(), "the session itself stays");
    }

    #[test]
    fn replay_within_grace_gets_a_sibling() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let a = w.first_token(&sid);
        let b = w.refresh(&a).unwrap();
        w.advance(10 * SEC); // inclusive bound
        let b2 = w.refresh(&a).unwrap();
        assert_eq!(
            w.store.tokens[&b2].generation,
            w.store.tokens[&b].generation
        );
        // Either sibling may be used; using one supersedes the other.
        w.advance(SEC);
        let c = w.refresh(&b2).unwrap();
        assert_eq!(w.store.tokens[&b].state, TokenState::Superseded);
        assert_eq!(w.refresh(&b), Err(Rejection::RefreshTokenReused));
        assert_eq!(w.refresh(&c), Err(Rejection::InvalidRefreshToken));
    }

    #[test]
    fn zero_grace_means_no_sibling_even_in_the_same_millisecond() {
        let mut w = World::new();
        w.policy.reuse_grace_ms = 0;
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let a = w.first_token(&sid);
        let b = w.refresh(&a).unwrap();
        assert_eq!(w.refresh(&a), Err(Rejection::RefreshTokenReused));
        assert_eq!(w.refresh(&b), Err(Rejection::InvalidRefreshToken));
    }

    #[test]
    fn grace_covers_only_the_immediately_previous_token() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let a = w.first_token(&sid);
        let b = w.refresh(&a).unwrap();
        let _c = w.refresh(&b).unwrap();
        assert_eq!(
            w.refresh(&a),
            Err(Rejection::RefreshTokenReused),
            "two generations back"
        );
    }

    #[test]
    fn concurrent_refreshes_all_succeed_once_serialised() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let a = w.first_token(&sid);
        let results: Vec<_> = (0..5).map(|_| w.refresh(&a)).collect();
        assert!(results.iter().all(Result::is_ok));
        let active = w
            .store
            .tokens
            .values()
            .filter(|t| t.state == TokenState::Active)
            .count();
        assert_eq!(active, 5, "one rotation and four grace siblings");
    }

    #[test]
    fn logout_deletes_session_and_refresh_tokens() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        let rt = w.first_token(&sid);
        assert_eq!(w.logout(&sid), Ok(()));
        assert_eq!(w.session_auth(&sid), Err(Rejection::SessionNotFound));
        assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
        assert!(w.store.tokens.is_empty());
        assert_eq!(w.logout(&sid), Err(Rejection::SessionNotFound));
        assert_eq!(w.logout("nope"), Err(Rejection::SessionNotFound));
    }

    #[test]
    fn authentications_accumulate_in_one_session() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        w.advance(DAY);
        let i = w.login("alice", Some(&sid), "otp").unwrap();
        assert_eq!(i.session.id, sid);
        assert_eq!(i.session.amr, vec!["pwd", "otp"]);
        assert_eq!(i.session.auth_time, T0 + DAY);
        assert_eq!(i.session.expires_at, T0 + 15 * DAY);
        w.advance(DAY);
        let i = w.login("alice", Some(&sid), "pwd").unwrap();
        assert_eq!(i.session.amr, vec!["pwd", "otp"], "each method once");
        assert_eq!(i.session.auth_time, T0 + 2 * DAY);
        assert_eq!(w.store.sessions.len(), 1);
    }

    #[test]
    fn another_users_session_cannot_be_joined() {
        let mut w = World::new();
        let sid = w.login("alice", None, "pwd").unwrap().session.id;
        assert_eq!(
            w.login("bob", Some(&sid), "pwd").map(|_| ()),
            Err(Rejection::SessionNotFound)
        );
        assert_eq!(
            w.login("alice", Some("unknown"), "pwd").map(|_| ()),
            Err(Rejection::SessionNotFound)
        );
    }

    #[test]
    fn list_shows_live_sessions_newest_first() {
        let mut w = World::new();
        let s1 = w.login("alice", None, "pwd").unwrap().session.id;
        w.advance(DAY);
        let s2 = w.login("alice", None, "pwd").unwrap().session.id;
        let listed: Vec<_> = list(&mut w.store, &w.policy, w.now)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(listed, vec![s2.clone(), s1.clone()]);
        w.advance(13 * DAY);
        let listed: Vec<_> = list(&mut w.store, &w.policy, w.now)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            listed,
            vec![s2],
            "expired sessions are not listed, and are purged"
        );
        assert!(!w.store.sessions.contains_key(&s1));
    }

    #[test]
    fn revoke_all_ends_every_session() {
        let mut w = World::new();
        let s1 = w.login("alice", None, "pwd").unwrap().session.id;
        let s2 = w.login("alice", None, "pwd").unwrap().session.id;
        let rt = w.first_token(&s2);
        assert_eq!(revoke_all(&mut w.store).unwrap(), 2);
        assert_eq!(w.session_auth(&s1), Err(Rejection::SessionNotFound));
        assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
        assert!(list(&mut w.store, &w.policy, w.now).unwrap().is_empty());
    }

    #[test]
    fn new_logins_purge_expired_state() {
        let mut w = World::with(Policy {
            refresh_max_ms: DAY,
            ..policy()
        });
        let s1 = w.login("alice", None, "pwd").unwrap().session.id;
        w.advance(DAY);
        w.login("alice", None, "pwd").unwrap();
        assert!(
            w.store.tokens.values().all(|t| t.session_id != s1),
            "expired chain purged"
        );
        w.advance(14 * DAY);
        w.login("alice", None, "pwd").unwrap();
        assert_eq!(w.store.sessions.len(), 1);
    }

    #[test]
    fn a_new_session_past_the_cap_ends_the_oldest() {
        let mut w = World::with(Policy {
            max_sessions: 3,
            ..policy()
        });
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(w.login("alice", None, "pwd").unwrap().session.id);
            w.advance(SEC);
        }
        let oldest_token = w.first_token(&ids[0]);
        let i = w.login("alice", None, "pwd").unwrap();
        assert_eq!(i.ended_sessions, 1, "one session made room");
        assert_eq!(w.store.sessions.len(), 3, "never more than the cap");
        assert!(!w.store.sessions.contains_key(&ids[0]), "the oldest ended");
        assert!(
            w.store.tokens.values().all(|t| t.session_id != ids[0]),
            "its refresh tokens are revoked"
        );
        assert_eq!(
            w.refresh(&oldest_token),
            Err(Rejection::InvalidRefreshToken)
        );
        assert_eq!(w.session_auth(&ids[0]), Err(Rejection::SessionNotFound));
        for kept in &ids[1..] {
            assert!(w.session_auth(kept).is_ok(), "younger sessions stay");
        }
        // Adding an authentication to a live session creates none, so it ends none.
        let i = w.login("alice", Some(&ids[1]), "otp").unwrap();
        assert_eq!((i.ended_sessions, w.store.sessions.len()), (0, 3));
    }

    #[test]
    fn the_cap_counts_live_sessions_only() {
        let mut w = World::with(Policy {
            max_sessions: 2,
            session_ttl_ms: DAY,
            ..policy()
        });
        let s1 = w.login("alice", None, "pwd").unwrap().session.id;
        w.advance(DAY); // s1 expired
        let s2 = w.login("alice", None, "pwd").unwrap().session.id;
        let i = w.login("alice", None, "pwd").unwrap();
        assert_eq!(
            i.ended_sessions, 0,
            "the expired one was purged, not counted"
        );
        assert!(!w.store.sessions.contains_key(&s1));
        assert!(w.store.sessions.contains_key(&s2));
    }

    #[test]
    fn a_cap_of_one_keeps_only_the_newest_session() {
        let mut w = World::with(Policy {
            max_sessions: 1,
            ..policy()
        });
        let s1 = w.login("alice", None, "pwd").unwrap().session.id;
        let s2 = w.login("alice", None, "pwd").unwrap().session.id;
        let ids: Vec<_> = w.store.sessions.keys().cloned().collect();
        assert_eq!(ids, vec![s2]);
        assert_ne!(s1, ids[0]);
    }

    #[test]
    fn over_cap_picks_the_oldest() {
        let mut w = World::new();
        let all: Vec<Session> = (0..5)
            .map(|_| {
                w.advance(SEC);
                w.login("alice", None, "pwd").unwrap().session
            })
            .collect();
        let ids = |s: &[Session]| s.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(over_cap(&all, 5)), ids(&all[..1]), "room for one more");
        assert_eq!(ids(over_cap(&all, 3)), ids(&all[..3]));
        assert_eq!(ids(over_cap(&all, 1)), ids(&all));
        assert!(over_cap(&all, 6).is_empty());
        assert!(over_cap(&all, 50).is_empty());
        assert!(over_cap(&[], 1).is_empty());
        // A zero cap cannot be configured; it behaves like one.
        assert_eq!(ids(over_cap(&all, 0)), ids(&all));
    }

    #[test]
    fn the_list_is_bounded_by_the_cap_newest_first() {
        // Sessions stored before the cap existed (or before it was lowered) are not all listed.
        let mut w = World::new();
        let mut ids = Vec::new();
        for _ in 0..6 {
            w.advance(SEC);
            ids.push(w.login("alice", None, "pwd").unwrap().session.id);
        }
        w.policy.max_sessions = 4;
        let listed: Vec<_> = list(&mut w.store, &w.policy, w.now)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        let want: Vec<_> = ids.iter().rev().take(4).cloned().collect();
        assert_eq!(listed, want);
        // The next new session brings the store back under the cap.
        let i = w.login("alice", None, "pwd").unwrap();
        assert_eq!(i.ended_sessions, 3);
        assert_eq!(w.store.sessions.len(), 4);
    }
}
