//! When to fetch the JWKS, and what to use meanwhile: the isolate's key cache and its one fetch
//! in flight, as a pure state machine. The adapter does the fetch and reports back; every
//! method takes `now` in milliseconds since the epoch.
//!
//! - Fresh keys are used for `min(max-age, configured bound)` seconds (at least
//!   [`MIN_CACHE_SECS`]; no `max-age` means the bound).
//! - **One fetch at a time per isolate.** A plan hands a [`FetchTicket`] to exactly one
//!   request; the ticket comes back with the result ([`JwksCache::on_fetched`],
//!   [`JwksCache::on_failed`]). Meanwhile requests without usable keys wait for that fetch
//!   ([`KeysPlan::Wait`]) instead of opening their own.
//! - **Stale-while-revalidate.** After freshness, the old keys stay usable for at most
//!   [`STALE_SECS`]: the first request then gets them together with the ticket for a refresh
//!   ([`KeysPlan::UseStaleAndRefresh`]), and every other request uses them at once. Once they
//!   are past that bound they are dropped, and requests wait for a fetch or get 503.
//! - **Back-off from the failure.** A failed fetch (refused, timed out, bad status or
//!   document) is reported with the time it failed, and no fetch starts for
//!   [`FAILURE_BACKOFF_SECS`] after it: requests use stale keys, or get 503 at once.
//! - A fetch has a deadline (the adapter enforces it). One that has not reported by its
//!   deadline plus [`ABANDON_MARGIN_MS`] counts as abandoned (its request was cancelled): its
//!   waiters stop waiting, the next request gets a new ticket, and its late result is ignored.
//! - A token with an unknown `kid` may trigger one refetch per [`UNKNOWN_KID_REFETCH_SECS`]
//!   per isolate (key rotation works; random kids cannot drive fetches), through the same
//!   single flight ([`JwksCache::plan_refetch`]).

use std::sync::Arc;

use crate::config::KeySource;
use crate::keys::KeySet;
use crate::token::TokenError;

/// Least time keys are kept fresh, whatever `max-age` says.
pub const MIN_CACHE_SECS: i64 = 30;
/// How long old keys remain usable when refreshing fails.
pub const STALE_SECS: i64 = 3600;
/// No new fetch for this long after a fetch failed, counted from the failure.
pub const FAILURE_BACKOFF_SECS: i64 = 5;
/// At most one refetch for an unknown `kid` per this many seconds.
pub const UNKNOWN_KID_REFETCH_SECS: i64 = 30;
/// Past its deadline, how long a fetch may still report before it counts as abandoned.
pub const ABANDON_MARGIN_MS: i64 = 1_000;

const MS: i64 = 1_000;

/// The right, and the duty, to run the isolate's one JWKS fetch: give it back with the
/// result through [`JwksCache::on_fetched`] or [`JwksCache::on_failed`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "report the fetch with on_fetched or on_failed"]
pub struct FetchTicket {
    id: u64,
}

/// The fetch in flight that a request waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    id: u64,
    started_ms: i64,
    /// When it counts as abandoned if it has not reported.
    gives_up_ms: i64,
}

impl InFlight {
    /// When the fetch started, milliseconds.
    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    /// By when the fetch has settled at the latest (reported or abandoned), milliseconds.
    pub fn settled_by_ms(&self) -> i64 {
        self.gives_up_ms
    }
}

/// What to do for a request that needs keys.
#[derive(Debug)]
pub enum KeysPlan {
    /// Use these keys.
    Use(Arc<KeySet>),
    /// Use these stale keys now, and run the refresh the ticket is for without holding the
    /// request up.
    UseStaleAndRefresh {
        /// Keys past freshness but still usable.
        stale: Arc<KeySet>,
        /// The refresh to run.
        ticket: FetchTicket,
    },
    /// No usable keys: fetch them (this request runs the isolate's one fetch) and use the
    /// result; if it fails, answer 503.
    Fetch(FetchTicket),
    /// No usable keys and another request's fetch is in flight: wait until it has settled
    /// ([`JwksCache::settled`]), then plan again.
    Wait(InFlight),
    /// No usable keys and inside the back-off after a failure: answer 503 without fetching.
    Unavailable,
}

/// What to do for a token whose `kid` is not in the keys.
#[derive(Debug)]
pub enum RefetchPlan {
    /// Refetch (this request runs the fetch), then look for the `kid` in the result.
    Fetch(FetchTicket),
    /// A fetch is in flight: wait until it has settled, then look again.
    Wait(InFlight),
    /// No refetch (rate limit or back-off): the `kid` stays unknown.
    Skip,
}

/// The isolate's JWKS cache.
#[derive(Debug, Default)]
pub struct JwksCache {
    keys: Option<Arc<KeySet>>,
    fresh_until_ms: i64,
    stale_until_ms: i64,
    retry_after_ms: i64,
    in_flight: Option<InFlight>,
    next_id: u64,
    last_unknown_kid_refetch_ms: Option<i64>,
    max_cache_secs: i64,
    fetch_timeout_ms: i64,
}

impl JwksCache {
    /// An empty cache: keys are kept fresh for at most `max_cache_secs`, and a fetch has
    /// `fetch_timeout_ms` to report.
    pub fn new(max_cache_secs: i64, fetch_timeout_ms: u32) -> Self {
        Self {
            max_cache_secs: max_cache_secs.max(MIN_CACHE_SECS),
            fetch_timeout_ms: i64::from(fetch_timeout_ms),
            ..Self::default()
        }
    }

    /// The fetch in flight at `now`, unless it has been abandoned.
    fn live_flight(&self, now: i64) -> Option<InFlight> {
        self.in_flight.filter(|f| now < f.gives_up_ms)
    }

    /// Keys usable at `now` (fresh or stale).
    fn usable(&self, now: i64) -> Option<&Arc<KeySet>> {
        self.keys.as_ref().filter(|_| now < self.stale_until_ms)
    }

    fn start(&mut self, now: i64) -> FetchTicket {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        self.in_flight = Some(InFlight {
            id,
            started_ms: now,
            gives_up_ms: now
                .saturating_add(self.fetch_timeout_ms)
                .saturating_add(ABANDON_MARGIN_MS),
        });
        FetchTicket { id }
    }

    /// What to do at `now`. A plan that carries a ticket has started the isolate's one fetch.
    pub fn plan(&mut self, now: i64) -> KeysPlan {
        let flight = self.live_flight(now);
        let backing_off = now < self.retry_after_ms;
        match self.usable(now).map(Arc::clone) {
            Some(keys) if now < self.fresh_until_ms => KeysPlan::Use(keys),
            Some(keys) if flight.is_some() || backing_off => KeysPlan::Use(keys),
            Some(stale) => KeysPlan::UseStaleAndRefresh {
                stale,
                ticket: self.start(now),
            },
            None => match flight {
                Some(f) => KeysPlan::Wait(f),
                None if backing_off => KeysPlan::Unavailable,
                None => KeysPlan::Fetch(self.start(now)),
            },
        }
    }

    /// What to do at `now` for a token whose `kid` the keys do not have. A refetch counts
    /// against the rate limit; waiting for a fetch already in flight does not.
    pub fn plan_refetch(&mut self, now: i64) -> RefetchPlan {
        if let Some(f) = self.live_flight(now) {
            return RefetchPlan::Wait(f);
        }
        if now < self.retry_after_ms {
            return RefetchPlan::Skip;
        }
        match self.last_unknown_kid_refetch_ms {
            Some(last) if now < last.saturating_add(UNKNOWN_KID_REFETCH_SECS * MS) => {
                RefetchPlan::Skip
            }
            _ => {
                self.last_unknown_kid_refetch_ms = Some(now);
                RefetchPlan::Fetch(self.start(now))
            }
        }
    }

    /// Whether the fetch `flight` has settled at `now`: it reported, or it was abandoned.
    pub fn settled(&self, flight: &InFlight, now: i64) -> bool {
        self.live_flight(now).map(|f| f.id) != Some(flight.id)
    }

    /// Takes the ticket back; whether it is still the fetch in flight (not abandoned and
    /// replaced).
    fn finish(&mut self, ticket: FetchTicket) -> bool {
        let current = self.in_flight.is_some_and(|f| f.id == ticket.id);
        if current {
            self.in_flight = None;
        }
        current
    }

    /// Records a successful fetch that ended at `now`, with the response's `max-age`, if
    /// any. Returns the fetched keys (not stored if the ticket was abandoned and replaced).
    pub fn on_fetched(
        &mut self,
        ticket: FetchTicket,
        now: i64,
        keys: KeySet,
        max_age: Option<u64>,
    ) -> Arc<KeySet> {
        let keys = Arc::new(keys);
        if !self.finish(ticket) {
            return keys;
        }
        let ttl_secs = max_age
            .map_or(self.max_cache_secs, |a| {
                i64::try_from(a).unwrap_or(i64::MAX)
            })
            .clamp(MIN_CACHE_SECS, self.max_cache_secs);
        self.keys = Some(Arc::clone(&keys));
        self.fresh_until_ms = now.saturating_add(ttl_secs.saturating_mul(MS));
        self.stale_until_ms = self.fresh_until_ms.saturating_add(STALE_SECS * MS);
        self.retry_after_ms = 0;
        keys
    }

    /// Records a fetch that failed at `now` (network error, deadline, non-2xx, or an unusable
    /// document): the back-off starts now. Returns the keys still usable, if any.
    pub fn on_failed(&mut self, ticket: FetchTicket, now: i64) -> Option<Arc<KeySet>> {
        if self.finish(ticket) {
            self.retry_after_ms = now.saturating_add(FAILURE_BACKOFF_SECS * MS);
            if now >= self.stale_until_ms {
                self.keys = None;
            }
        }
        self.usable(now).map(Arc::clone)
    }
}

/// Whether a token whose key could not be selected (`e`) is worth a refetch of the key set:
/// only an unknown `kid`, and only with keys from a JWKS URL (inline keys never change). The
/// refetch itself is rate-limited by [`JwksCache::plan_refetch`].
pub fn refetch_for(e: &TokenError, keys: &KeySource) -> bool {
    matches!(e, TokenError::UnknownKey) && matches!(keys, KeySource::Url(_))
}

#[cfg(test)]
mod tests;
