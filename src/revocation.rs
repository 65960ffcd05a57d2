//! Revocation at the edge: KV keys, TTLs, the in-isolate read cache, and the decision.
//!
//! Two kinds of entries in the `REVOCATIONS` namespace (their format is
//! `edge_session_protocol::revocation`'s, re-exported here):
//! - `s:<sha256(session id)>` — the session was logged out; every token of it is refused.
//! - `u:<sha256(subject)>` = `<unix milliseconds>` — logout-all: every token and cookie of the
//!   user issued up to that moment is refused ([`Issued`] says what "issued" means for each).
//!
//! Ids are hashed so the namespace lists no session id or user id. Entries live as long as
//! what they refuse could still be presented: the longest access-token lifetime, and with
//! sessions the longest session (a session cookie copied before a logout whose store call
//! failed must not revive the session when the entry expires), plus the leeway (at least KV's
//! 60 s minimum TTL).
//!
//! Staleness: a write is visible in the writing isolate at once (it updates its own cache);
//! other locations see it after KV propagation (up to 60 s) plus the read cache's TTL.
//!
//! KV failure is a configured, tested decision ([`OnKvError`]): by default **fail closed**
//! (503) — a revoked session must not pass because KV was briefly unreadable; `open` trades
//! that for availability and is logged on every use.

use std::collections::HashMap;

pub use edge_session_protocol::revocation::{
    entry_ttl, parse_user_entry, session_key, user_entry_value, user_key, webhook_replay_key,
    KV_MIN_TTL_SECS, SESSION_ENTRY_VALUE,
};

/// Most entries in the isolate's read cache.
pub const CACHE_MAX_ENTRIES: usize = 10_000;

/// What to do when KV cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnKvError {
    /// Refuse with 503 (default).
    Closed,
    /// Let the request through and log it.
    Open,
}

/// What KV said about one request's session and user (`None`: the read failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// Whether the session is revoked.
    pub session_revoked: Option<bool>,
    /// The user's "not after" moment, milliseconds, if any.
    pub user_revoked_at: Option<Option<i64>>,
}

/// When the credential being checked was issued.
///
/// A token's `iat` has one-second grain and comes from the issuer's clock; what the edge
/// minted (a session cookie, an access cookie) carries the edge's own millisecond. A user-wide
/// revocation at `R` ms refuses:
/// - anything whose `iat` second ends before `R` (issued in an earlier second);
/// - with a minting time: anything minted at or before `R`, so a login after a logout-all
///   works at once, in the same second;
/// - without one (a Bearer token): anything whose `iat` second starts at or before `R`, so a
///   token of the revocation's own second is refused (fail closed for at most a second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    /// The token's `iat`, seconds (absent for a session cookie checked alone).
    pub iat: Option<i64>,
    /// When the edge minted the cookie carrying it, milliseconds.
    pub minted_ms: Option<i64>,
}

impl Issued {
    /// A token presented as `Authorization: Bearer`.
    pub fn token(iat: i64) -> Self {
        Self {
            iat: Some(iat),
            minted_ms: None,
        }
    }

    /// Whether this was issued up to `at_ms`.
    pub fn not_after(self, at_ms: i64) -> bool {
        let second_start = |iat: i64| iat.saturating_mul(1000);
        let earlier_second = self
            .iat
            .is_some_and(|iat| second_start(iat).saturating_add(999) < at_ms);
        let by_moment = match (self.minted_ms, self.iat) {
            (Some(minted), _) => minted <= at_ms,
            (None, Some(iat)) => second_start(iat) <= at_ms,
            // Nothing says when: refuse.
            (None, None) => true,
        };
        earlier_second || by_moment
    }
}

/// The revocation decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not revoked.
    Allow,
    /// Revoked: 401 `invalid_token`.
    Revoked,
    /// KV failed and the policy is fail-closed: 503.
    Unavailable,
    /// KV failed and the policy is fail-open: allowed, logged.
    AllowedOnError,
}

/// Decides for a credential `issued` as said.
pub fn decide(lookup: Lookup, issued: Issued, on_error: OnKvError) -> Verdict {
    let mut failed = false;
    match lookup.session_revoked {
        Some(true) => return Verdict::Revoked,
        Some(false) => {}
        None => failed = true,
    }
    match lookup.user_revoked_at {
        Some(Some(at)) if issued.not_after(at) => return Verdict::Revoked,
        Some(_) => {}
        None => failed = true,
    }
    match (failed, on_error) {
        (false, _) => Verdict::Allow,
        (true, OnKvError::Closed) => Verdict::Unavailable,
        (true, OnKvError::Open) => Verdict::AllowedOnError,
    }
}

/// The isolate's read cache of KV answers (both "revoked" and "not revoked").
#[derive(Debug, Default)]
pub struct RevocationCache {
    entries: HashMap<String, (Option<String>, i64)>,
    ttl_secs: i64,
}

impl RevocationCache {
    /// A cache keeping answers `ttl_secs` (0 disables it).
    pub fn new(ttl_secs: i64) -> Self {
        Self {
            entries: HashMap::new(),
            ttl_secs,
        }
    }

    /// The cached KV value of `key` at `now`: `Some(None)` = cached absence.
    pub fn get(&self, key: &str, now: i64) -> Option<Option<String>> {
        self.entries
            .get(key)
            .filter(|(_, until)| now < *until)
            .map(|(v, _)| v.clone())
    }

    /// Records a KV answer (read, or this isolate's own write) at `now`. A write is kept for
    /// at least the TTL even when the cache is disabled, so this isolate never forgets its own
    /// revocations while KV propagates.
    pub fn put(&mut self, key: String, value: Option<String>, now: i64, own_write: bool) {
        let ttl = if own_write {
            self.ttl_secs.max(KV_MIN_TTL_SECS as i64)
        } else {
            self.ttl_secs
        };
        self.insert(key, value, now, ttl);
    }

    /// Records this isolate's own write of `key` at `now` for at least `secs` (a webhook
    /// call's replay marker, kept for the whole signature window).
    pub fn remember(&mut self, key: String, value: String, now: i64, secs: i64) {
        let ttl = secs.max(self.ttl_secs).max(KV_MIN_TTL_SECS as i64);
        self.insert(key, Some(value), now, ttl);
    }

    /// Whether `key` is cached as present at `now` (a cached absence or a miss is `false`).
    pub fn holds(&self, key: &str, now: i64) -> bool {
        matches!(self.get(key, now), Some(Some(_)))
    }

    fn insert(&mut self, key: String, value: Option<String>, now: i64, ttl: i64) {
        if ttl <= 0 {
            return;
        }
        if self.entries.len() >= CACHE_MAX_ENTRIES {
            self.entries.retain(|_, (_, until)| now < *until);
            if self.entries.len() >= CACHE_MAX_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(key, (value, now.saturating_add(ttl)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_not_after_table() {
        // Revocation at 100.500 s.
        const R: i64 = 100_500;
        let rows: &[(Option<i64>, Option<i64>, bool)] = &[
            // Bearer tokens: their whole second counts.
            (Some(99), None, true),
            (Some(100), None, true),
            (Some(101), None, false),
            // Minted by the edge: the millisecond decides within the second.
            (Some(100), Some(100_499), true),
            (Some(100), Some(100_500), true),
            (Some(100), Some(100_501), false),
            // An iat in an earlier second is refused whenever it was minted.
            (Some(99), Some(100_900), true),
            // A session cookie alone.
            (None, Some(100_500), true),
            (None, Some(100_501), false),
            (None, None, true),
        ];
        for (iat, minted_ms, want) in rows {
            let issued = Issued {
                iat: *iat,
                minted_ms: *minted_ms,
            };
            assert_eq!(issued.not_after(R), *want, "{issued:?}");
        }
    }

    #[test]
    fn decision_table() {
        use OnKvError::*;
        use Verdict::*;
        let l = |s, u| Lookup {
            session_revoked: s,
            user_revoked_at: u,
        };
        let rows: &[(Lookup, i64, OnKvError, Verdict)] = &[
            (l(Some(false), Some(None)), 100, Closed, Allow),
            (l(Some(true), Some(None)), 100, Closed, Revoked),
            (l(Some(false), Some(Some(100_000))), 100, Closed, Revoked),
            (l(Some(false), Some(Some(100_999))), 100, Closed, Revoked),
            (l(Some(false), Some(Some(100_000))), 99, Closed, Revoked),
            (l(Some(false), Some(Some(100_999))), 101, Closed, Allow),
            (l(None, Some(None)), 100, Closed, Unavailable),
            (l(None, Some(None)), 100, Open, AllowedOnError),
            (l(Some(false), None), 100, Open, AllowedOnError),
            (l(Some(true), None), 100, Open, Revoked),
            (l(None, Some(Some(200_000))), 100, Open, Revoked),
            (l(Some(false), None), 100, Closed, Unavailable),
        ];
        for (lookup, iat, on_error, want) in rows {
            assert_eq!(
                decide(*lookup, Issued::token(*iat), *on_error),
                *want,
                "{lookup:?} iat={iat} {on_error:?}"
            );
        }
    }

    #[test]
    fn cache_keeps_answers_for_ttl_and_own_writes_longer() {
        let mut c = RevocationCache::new(10);
        c.put("a".into(), None, 100, false);
        assert_eq!(c.get("a", 109), Some(None));
        assert_eq!(c.get("a", 110), None);
        let mut off = RevocationCache::new(0);
        off.put("r".into(), None, 100, false);
        assert_eq!(off.get("r", 100), None);
        off.put("w".into(), Some("1".into()), 100, true);
        assert_eq!(off.get("w", 159), Some(Some("1".into())));
    }

    #[test]
    fn remembered_writes_last_their_window_and_holds_reads_presence() {
        let mut c = RevocationCache::new(10);
        c.remember("w".into(), "1".into(), 100, 660);
        assert!(c.holds("w", 759));
        assert!(!c.holds("w", 760));
        // Never shorter than the cache's TTL or KV's minimum.
        c.remember("short".into(), "1".into(), 100, 5);
        assert!(c.holds("short", 159));
        assert!(!c.holds("short", 160));
        let mut long = RevocationCache::new(120);
        long.remember("x".into(), "1".into(), 0, 5);
        assert!(long.holds("x", 119));
        assert!(!long.holds("x", 120));
        // A cached absence is not presence.
        c.put("absent".into(), None, 100, false);
        assert_eq!(c.get("absent", 100), Some(None));
        assert!(!c.holds("absent", 100));
        assert!(!c.holds("never", 100));
    }

    #[test]
    fn a_disabled_cache_stores_no_reads() {
        let mut off = RevocationCache::new(0);
        off.put("r".into(), Some("1".into()), 100, false);
        assert!(off.entries.is_empty());
        // A TTL above KV's minimum applies to own writes as it is.
        let mut long = RevocationCache::new(600);
        long.put("w".into(), None, 100, true);
        assert_eq!(long.get("w", 699), Some(None));
        assert_eq!(long.get("w", 700), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_then_everything() {
        let max = i64::try_from(CACHE_MAX_ENTRIES).unwrap_or(i64::MAX);
        // Half the entries expire at exactly 20, half live until 25.
        let mut c = RevocationCache::new(10);
        for i in 0..max / 2 {
            c.put(format!("old{i}"), None, 10, false);
        }
        for i in 0..max - max / 2 {
            c.put(format!("new{i}"), None, 15, false);
        }
        assert_eq!(c.entries.len(), CACHE_MAX_ENTRIES);
        c.put("x".into(), None, 20, false);
        assert_eq!(c.get("old0", 20), None);
        assert_eq!(c.get("new0", 20), Some(None), "live entries are kept");
        assert_eq!(
            c.entries.len(),
            CACHE_MAX_ENTRIES - CACHE_MAX_ENTRIES / 2 + 1
        );

        // Full of live entries: cleared, and the new answer is kept.
        let mut full = RevocationCache::new(10);
        for i in 0..max {
            full.put(format!("k{i}"), None, 0, false);
        }
        assert_eq!(full.entries.len(), CACHE_MAX_ENTRIES);
        full.put("x".into(), Some("1".into()), 5, false);
        assert_eq!(full.get("k0", 5), None);
        assert_eq!(full.get("x", 5), Some(Some("1".into())));
        assert_eq!(full.entries.len(), 1);
    }

    #[test]
    fn the_last_millisecond_of_the_iat_second_is_not_earlier() {
        // Revocation at the last millisecond of the token's iat second: the iat second is not
        // an earlier one, so a cookie minted after the revocation still passes.
        let issued = Issued {
            iat: Some(100),
            minted_ms: Some(101_000),
        };
        assert!(!issued.not_after(100_999));
        // One millisecond later the iat second is over: refused whenever it was minted.
        assert!(issued.not_after(101_000));
        let late = Issued {
            iat: Some(100),
            minted_ms: Some(102_000),
        };
        assert!(!late.not_after(100_999));
        assert!(late.not_after(101_000));
    }
}
