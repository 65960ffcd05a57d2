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

use crate::keys::KeySet;

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

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT_MS: u32 = 3_000;
    const T: i64 = TIMEOUT_MS as i64;
    const GIVE_UP: i64 = T + ABANDON_MARGIN_MS;

    fn keys() -> KeySet {
        KeySet::from_keys(vec![])
    }

    fn cache() -> JwksCache {
        JwksCache::new(600, TIMEOUT_MS)
    }

    /// A plan without its payload, for tables.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Use,
        UseStaleAndRefresh,
        Fetch,
        Wait,
        Unavailable,
    }

    fn kind(p: &KeysPlan) -> Kind {
        match p {
            KeysPlan::Use(_) => Kind::Use,
            KeysPlan::UseStaleAndRefresh { .. } => Kind::UseStaleAndRefresh,
            KeysPlan::Fetch(_) => Kind::Fetch,
            KeysPlan::Wait(_) => Kind::Wait,
            KeysPlan::Unavailable => Kind::Unavailable,
        }
    }

    /// The fake clock: the time every call is made at, advanced by the test.
    struct Clock(i64);

    impl Clock {
        fn at(&mut self, ms: i64) -> i64 {
            self.0 = ms;
            ms
        }
    }

    /// Takes the ticket out of a plan that must carry one.
    fn ticket(p: KeysPlan) -> FetchTicket {
        match p {
            KeysPlan::Fetch(t) | KeysPlan::UseStaleAndRefresh { ticket: t, .. } => t,
            other => panic!("expected a ticket, got {other:?}"),
        }
    }

    /// A cache whose keys were fetched at `at` with `max-age=60`.
    fn warm(at: i64) -> JwksCache {
        let mut c = cache();
        let t = ticket(c.plan(at));
        c.on_fetched(t, at, keys(), Some(60));
        c
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
            let mut c = cache();
            let t = ticket(c.plan(1_000_000));
            c.on_fetched(t, 1_000_000, keys(), *max_age);
            let end = 1_000_000 + fresh * 1000;
            assert_eq!(kind(&c.plan(end - 1)), Kind::Use, "{max_age:?}");
            assert_eq!(kind(&c.plan(end)), Kind::UseStaleAndRefresh, "{max_age:?}");
        }
    }

    /// One row: the state the cache is brought into, the time of the plan, what it says.
    #[test]
    fn plan_table() {
        type Setup = fn(&mut JwksCache, &mut Clock);
        fn cold(_: &mut JwksCache, _: &mut Clock) {}
        fn fetching(c: &mut JwksCache, clock: &mut Clock) {
            let _t = ticket(c.plan(clock.at(0)));
        }
        fn failed_cold(c: &mut JwksCache, clock: &mut Clock) {
            let t = ticket(c.plan(clock.at(0)));
            c.on_failed(t, clock.at(T));
        }
        fn fresh(c: &mut JwksCache, clock: &mut Clock) {
            let t = ticket(c.plan(clock.at(0)));
            c.on_fetched(t, clock.at(100), keys(), Some(60));
        }
        fn refreshing(c: &mut JwksCache, clock: &mut Clock) {
            fresh(c, clock);
            let _t = ticket(c.plan(clock.at(61_000)));
        }
        fn refreshing_at_stale_end(c: &mut JwksCache, clock: &mut Clock) {
            fresh(c, clock);
            let _t = ticket(c.plan(clock.at(60_100 + STALE_SECS * 1000 - 10)));
        }
        fn refresh_failed(c: &mut JwksCache, clock: &mut Clock) {
            fresh(c, clock);
            let t = ticket(c.plan(clock.at(61_000)));
            c.on_failed(t, clock.at(61_000 + T));
        }
        let rows: &[(&str, Setup, i64, Kind)] = &[
            ("cold: fetch", cold, 0, Kind::Fetch),
            ("cold, fetch in flight: wait", fetching, 1, Kind::Wait),
            (
                "cold, at the give-up time: wait",
                fetching,
                GIVE_UP - 1,
                Kind::Wait,
            ),
            (
                "cold, flight abandoned: fetch anew",
                fetching,
                GIVE_UP,
                Kind::Fetch,
            ),
            ("failed: back off", failed_cold, T, Kind::Unavailable),
            // The request started at 0; its fetch failed at T. Back-off from the start would
            // have ended at 5000; from the failure it lasts until T + 5000.
            (
                "back-off counts from the failure",
                failed_cold,
                5_000,
                Kind::Unavailable,
            ),
            (
                "back-off last ms",
                failed_cold,
                T + 4_999,
                Kind::Unavailable,
            ),
            ("back-off over", failed_cold, T + 5_000, Kind::Fetch),
            ("fresh: use", fresh, 60_099, Kind::Use),
            (
                "stale: use and refresh",
                fresh,
                60_100,
                Kind::UseStaleAndRefresh,
            ),
            (
                "stale, refresh in flight: use",
                refreshing,
                61_001,
                Kind::Use,
            ),
            (
                "stale, refresh abandoned: refresh anew",
                refreshing,
                61_000 + GIVE_UP,
                Kind::UseStaleAndRefresh,
            ),
            (
                "stale, refresh failed: use in back-off",
                refresh_failed,
                61_000 + T + 4_999,
                Kind::Use,
            ),
            (
                "stale, back-off over: refresh again",
                refresh_failed,
                61_000 + T + 5_000,
                Kind::UseStaleAndRefresh,
            ),
            (
                "stale bound passed: fetch",
                fresh,
                60_100 + STALE_SECS * 1000,
                Kind::Fetch,
            ),
            (
                "stale bound passed, refresh in flight: wait",
                refreshing_at_stale_end,
                60_100 + STALE_SECS * 1000,
                Kind::Wait,
            ),
        ];
        for (name, setup, now, expected) in rows {
            let mut c = cache();
            let mut clock = Clock(0);
            setup(&mut c, &mut clock);
            assert_eq!(kind(&c.plan(*now)), *expected, "{name}");
        }
    }

    #[test]
    fn thirty_concurrent_cold_requests_make_one_fetch() {
        let mut c = cache();
        let plans: Vec<KeysPlan> = (0..30).map(|i| c.plan(i)).collect();
        let kinds: Vec<Kind> = plans.iter().map(kind).collect();
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Fetch).count(), 1);
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Wait).count(), 29);
        let mut plans = plans.into_iter();
        let t = ticket(plans.next().expect("first"));
        let waits: Vec<InFlight> = plans
            .map(|p| match p {
                KeysPlan::Wait(f) => f,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(waits.iter().all(|f| !c.settled(f, 500)));
        assert!(waits.iter().all(|f| f.settled_by_ms() == GIVE_UP));
        c.on_fetched(t, 500, keys(), None);
        assert!(waits.iter().all(|f| c.settled(f, 500)));
        assert_eq!(kind(&c.plan(501)), Kind::Use);
    }

    #[test]
    fn concurrent_stale_requests_start_one_refresh() {
        let mut c = warm(0);
        let kinds: Vec<Kind> = (0..10).map(|i| kind(&c.plan(60_000 + i))).collect();
        assert_eq!(kinds[0], Kind::UseStaleAndRefresh);
        assert!(kinds[1..].iter().all(|k| *k == Kind::Use), "{kinds:?}");
    }

    #[test]
    fn waiters_settle_when_the_fetch_fails_and_then_see_the_back_off() {
        let mut c = cache();
        let t = ticket(c.plan(0));
        let KeysPlan::Wait(f) = c.plan(10) else {
            panic!("second request waits")
        };
        assert_eq!(f.started_ms(), 0);
        assert!(c.on_failed(t, T).is_none(), "no keys to fall back on");
        assert!(c.settled(&f, T));
        assert_eq!(kind(&c.plan(T)), Kind::Unavailable);
    }

    #[test]
    fn an_abandoned_fetch_settles_its_waiters_and_its_late_result_is_ignored() {
        let mut c = cache();
        let old = ticket(c.plan(0));
        let KeysPlan::Wait(f) = c.plan(1) else {
            panic!("waits")
        };
        assert!(!c.settled(&f, GIVE_UP - 1));
        assert!(c.settled(&f, GIVE_UP));
        let new = ticket(c.plan(GIVE_UP));
        // The abandoned fetch fails late: no back-off, the new fetch stays in flight.
        assert!(c.on_failed(old, GIVE_UP + 1).is_none());
        assert_eq!(kind(&c.plan(GIVE_UP + 2)), Kind::Wait);
        c.on_fetched(new, GIVE_UP + 3, keys(), None);
        assert_eq!(kind(&c.plan(GIVE_UP + 4)), Kind::Use);
    }

    #[test]
    fn a_late_success_of_an_abandoned_fetch_is_not_stored() {
        let mut c = cache();
        let old = ticket(c.plan(0));
        let _new = ticket(c.plan(GIVE_UP));
        c.on_fetched(old, GIVE_UP + 1, keys(), None);
        assert_eq!(kind(&c.plan(GIVE_UP + 2)), Kind::Wait);
    }

    #[test]
    fn a_failed_refresh_keeps_stale_keys_for_a_bounded_time() {
        let mut c = warm(0);
        let stale_end = 60_000 + STALE_SECS * 1000;
        let t = ticket(c.plan(60_000));
        assert!(
            c.on_failed(t, 60_000 + T).is_some(),
            "stale keys still usable"
        );
        let t = ticket(c.plan(stale_end - 1));
        assert!(c.on_failed(t, stale_end).is_none(), "past the stale bound");
        assert_eq!(kind(&c.plan(stale_end + 1)), Kind::Unavailable);
        assert_eq!(
            kind(&c.plan(stale_end + FAILURE_BACKOFF_SECS * 1000)),
            Kind::Fetch
        );
    }

    #[test]
    fn unknown_kid_refetch_is_single_flight_and_rate_limited() {
        let mut c = warm(100_000);
        let t = match c.plan_refetch(100_000) {
            RefetchPlan::Fetch(t) => t,
            other => panic!("{other:?}"),
        };
        assert!(matches!(c.plan_refetch(100_001), RefetchPlan::Wait(_)));
        c.on_fetched(t, 100_200, keys(), None);
        assert!(matches!(c.plan_refetch(100_300), RefetchPlan::Skip));
        assert!(matches!(c.plan_refetch(129_999), RefetchPlan::Skip));
        let t = match c.plan_refetch(130_000) {
            RefetchPlan::Fetch(t) => t,
            other => panic!("{other:?}"),
        };
        c.on_failed(t, 130_000 + T);
        // After 30 s the rate limit allows another, but the back-off does not.
        assert!(matches!(c.plan_refetch(130_000 + T + 1), RefetchPlan::Skip));
    }

    #[test]
    fn a_stale_refresh_in_flight_is_what_an_unknown_kid_waits_for() {
        let mut c = warm(0);
        let _t = ticket(c.plan(60_000));
        assert!(matches!(c.plan_refetch(60_001), RefetchPlan::Wait(_)));
    }
}
