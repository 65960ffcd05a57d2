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

/// The states `plan_table` starts from: each brings a cache into a row's state, moving the clock.
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

/// One row: the state the cache is brought into, the time of the plan, what it says.
#[test]
fn plan_table() {
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

#[test]
fn a_flight_tells_when_it_started_and_when_it_settles() {
    let mut c = cache();
    let _t = ticket(c.plan(7_000));
    let KeysPlan::Wait(f) = c.plan(7_010) else {
        panic!("second request waits")
    };
    assert_eq!(f.started_ms(), 7_000);
    assert_eq!(f.settled_by_ms(), 7_000 + GIVE_UP);
}

/// The back-off after a failed refresh holds unknown-`kid` refetches too, to its last ms.
#[test]
fn unknown_kid_refetch_waits_out_the_back_off() {
    let mut c = warm(0);
    let t = ticket(c.plan(60_000));
    let failed = 60_000 + T;
    assert!(c.on_failed(t, failed).is_some());
    let over = failed + FAILURE_BACKOFF_SECS * 1000;
    assert!(matches!(c.plan_refetch(failed), RefetchPlan::Skip));
    assert!(matches!(c.plan_refetch(over - 1), RefetchPlan::Skip));
    assert!(matches!(c.plan_refetch(over), RefetchPlan::Fetch(_)));
}

#[test]
fn only_an_unknown_kid_with_a_jwks_url_refetches() {
    let url = KeySource::Url(
        url::Url::parse("https://issuer.test/jwks").unwrap_or_else(|e| panic!("{e}")),
    );
    let inline = KeySource::Inline(Arc::new(KeySet::default()));
    assert!(refetch_for(&TokenError::UnknownKey, &url));
    assert!(!refetch_for(&TokenError::UnknownKey, &inline));
    for e in [
        TokenError::MissingKeyId,
        TokenError::BadSignature,
        TokenError::AlgorithmMismatch { expected: "ES256" },
    ] {
        assert!(!refetch_for(&e, &url), "{e:?}");
    }
}
