//! When to fetch the JWKS, and what to use meanwhile: the isolate's key cache as a pure state
//! machine. The adapter does the fetch and reports back.
//!
//! - Fresh keys are used for `min(max-age, configured bound)` seconds (at least
//!   [`MIN_CACHE_SECS`]; no `max-age` means the bound).
//! - After that the keys are refreshed on the next request. If the refresh fails, the old
//!   keys stay usable for at most [`STALE_SECS`] past freshness (a JWKS outage does not log
//!   everyone out); after that they are dropped and requests get 503.
//! - With no usable keys, a failed fetch answers 503 and further fetches wait
//!   [`FAILURE_BACKOFF_SECS`] (no stampede on a down endpoint).
//! - A token with an unknown `kid` may trigger one refetch per [`UNKNOWN_KID_REFETCH_SECS`]
//!   per isolate (key rotation works; random kids cannot drive fetches).

use std::sync::Arc;

use crate::keys::KeySet;

/// Least time keys are kept fresh, whatever `max-age` says.
pub const MIN_CACHE_SECS: i64 = 30;
/// How long old keys remain usable when refreshing fails.
pub const STALE_SECS: i64 = 3600;
/// Wait after a failed fetch when no keys are usable.
pub const FAILURE_BACKOFF_SECS: i64 = 5;
/// At most one refetch for an unknown `kid` per this many seconds.
pub const UNKNOWN_KID_REFETCH_SECS: i64 = 30;

/// What to do for a request that needs keys.
#[derive(Debug, Clone)]
pub enum KeysPlan {
    /// Use these keys.
    Use(Arc<KeySet>),
    /// Fetch; if the fetch fails, use `fallback` (stale keys) or answer 503.
    Fetch {
        /// Keys still usable if the fetch fails.
        fallback: Option<Arc<KeySet>>,
    },
    /// No keys and inside the failure backoff: answer 503 without fetching.
    Unavailable,
}

/// The isolate's JWKS cache.
#[derive(Debug, Default)]
pub struct JwksCache {
    keys: Option<Arc<KeySet>>,
    fresh_until: i64,
    stale_until: i64,
    retry_after: i64,
    last_unknown_kid_refetch: Option<i64>,
    max_cache_secs: i64,
}

impl JwksCache {
    /// An empty cache; keys are kept fresh for at most `max_cache_secs`.
    pub fn new(max_cache_secs: i64) -> Self {
        Self {
            max_cache_secs: max_cache_secs.max(MIN_CACHE_SECS),
            ..Self::default()
        }
    }

    /// What to do at `now`.
    pub fn plan(&self, now: i64) -> KeysPlan {
        match &self.keys {
            Some(keys) if now < self.fresh_until => KeysPlan::Use(Arc::clone(keys)),
            Some(keys) if now < self.stale_until => {
                if now < self.retry_after {
                    KeysPlan::Use(Arc::clone(keys))
                } else {
                    KeysPlan::Fetch {
                        fallback: Some(Arc::clone(keys)),
                    }
                }
            }
            _ if now < self.retry_after => KeysPlan::Unavailable,
            _ => KeysPlan::Fetch { fallback: None },
        }
    }

    /// Records a successful fetch at `now` with the response's `max-age`, if any.
    pub fn on_fetched(&mut self, now: i64, keys: KeySet, max_age: Option<u64>) -> Arc<KeySet> {
        let ttl = max_age
            .map_or(self.max_cache_secs, |a| {
                i64::try_from(a).unwrap_or(i64::MAX)
            })
            .clamp(MIN_CACHE_SECS, self.max_cache_secs);
        let keys = Arc::new(keys);
        self.keys = Some(Arc::clone(&keys));
        self.fresh_until = now.saturating_add(ttl);
        self.stale_until = self.fresh_until.saturating_add(STALE_SECS);
        self.retry_after = 0;
        keys
    }

    /// Records a failed fetch at `now` (network error, non-2xx, or an unusable document).
    pub fn on_failed(&mut self, now: i64) {
        self.retry_after = now.saturating_add(FAILURE_BACKOFF_SECS);
        if now >= self.stale_until {
            self.keys = None;
        }
    }

    /// Whether a token with an unknown `kid` may trigger a refetch at `now`; if so, the
    /// attempt is recorded (so concurrent requests in the isolate do not all refetch).
    pub fn claim_unknown_kid_refetch(&mut self, now: i64) -> bool {
        match self.last_unknown_kid_refetch {
            Some(last) if now < last.saturating_add(UNKNOWN_KID_REFETCH_SECS) => false,
            _ => {
                self.last_unknown_kid_refetch = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeySet {
        KeySet::from_keys(vec![])
    }

    fn is_use(p: &KeysPlan) -> bool {
        matches!(p, KeysPlan::Use(_))
    }

    #[test]
    fn empty_cache_fetches() {
        let c = JwksCache::new(600);
        assert!(matches!(c.plan(0), KeysPlan::Fetch { fallback: None }));
    }

    #[test]
    fn max_age_is_honoured_within_bounds() {
        let rows: &[(Option<u64>, i64)] = &[
            (None, 600),
            (Some(60), 60),
            (Some(0), 30),
            (Some(99_999), 600),
        ];
        for (max_age, fresh) in rows {
            let mut c = JwksCache::new(600);
            c.on_fetched(1000, keys(), *max_age);
            assert!(is_use(&c.plan(1000 + fresh - 1)), "{max_age:?}");
            assert!(
                matches!(c.plan(1000 + fresh), KeysPlan::Fetch { fallback: Some(_) }),
                "{max_age:?}"
            );
        }
    }

    #[test]
    fn failed_refresh_keeps_stale_keys_for_a_bounded_time() {
        let mut c = JwksCache::new(600);
        c.on_fetched(0, keys(), Some(60));
        c.on_failed(60);
        assert!(is_use(&c.plan(61)), "backoff: keep using stale keys");
        assert!(matches!(c.plan(65), KeysPlan::Fetch { fallback: Some(_) }));
        c.on_failed(60 + STALE_SECS);
        assert!(matches!(c.plan(60 + STALE_SECS + 1), KeysPlan::Unavailable));
        assert!(matches!(
            c.plan(60 + STALE_SECS + FAILURE_BACKOFF_SECS),
            KeysPlan::Fetch { fallback: None }
        ));
    }

    #[test]
    fn failure_without_keys_backs_off() {
        let mut c = JwksCache::new(600);
        c.on_failed(10);
        assert!(matches!(c.plan(11), KeysPlan::Unavailable));
        assert!(matches!(c.plan(15), KeysPlan::Fetch { fallback: None }));
    }

    #[test]
    fn unknown_kid_refetch_is_rate_limited() {
        let mut c = JwksCache::new(600);
        assert!(c.claim_unknown_kid_refetch(100));
        assert!(!c.claim_unknown_kid_refetch(100));
        assert!(!c.claim_unknown_kid_refetch(129));
        assert!(c.claim_unknown_kid_refetch(130));
    }
}
