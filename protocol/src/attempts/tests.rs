use super::*;

const MIN: i64 = 60_000;
/// The edge's default per-username limit: 5 per 15 minutes.
const FIVE: Limit = Limit {
    max: 5,
    window_ms: 15 * MIN,
};
const T0: i64 = 1_700_000_000_000;

/// `n` admitted attempts from nothing, one a second from `T0`.
fn after(limit: Limit, n: u32) -> Option<Window> {
    let mut held = None;
    for i in 0..n {
        let (next, answer) = limit.admit(held, T0 + i64::from(i) * 1000);
        assert_eq!(answer, Attempt::Admitted, "attempt {}", i + 1);
        held = next;
    }
    held
}

#[test]
fn the_fifth_attempt_is_admitted_and_the_sixth_refused() {
    let held = after(FIVE, 4);
    assert_eq!(
        held,
        Some(Window {
            count: 4,
            started_ms: T0
        })
    );
    let (held, fifth) = FIVE.admit(held, T0 + 4000);
    assert_eq!(fifth, Attempt::Admitted);
    let (kept, sixth) = FIVE.admit(held, T0 + 5000);
    assert_eq!(
        sixth,
        Attempt::Refused {
            // The window started at T0 and ends 15 minutes later.
            retry_after_secs: 15 * 60 - 5
        }
    );
    assert_eq!(kept, held, "a refused attempt counts nothing");
    assert_eq!(kept.map(|w| w.count), Some(5));
}

#[test]
fn the_window_ends_exactly_at_its_length() {
    let held = after(FIVE, 5);
    let last_ms = T0 + 15 * MIN - 1;
    assert_eq!(
        FIVE.admit(held, last_ms).1,
        Attempt::Refused {
            retry_after_secs: 1
        },
        "one millisecond before the end: refused, retry after 1 s (rounded up)"
    );
    let (fresh, answer) = FIVE.admit(held, T0 + 15 * MIN);
    assert_eq!(answer, Attempt::Admitted, "at the end: a new window");
    assert_eq!(
        fresh,
        Some(Window {
            count: 1,
            started_ms: T0 + 15 * MIN
        })
    );
    assert_eq!(FIVE.live(held, T0 + 15 * MIN), None);
    assert_eq!(FIVE.live(held, last_ms), held);
}

#[test]
fn retry_after_rounds_up_and_stays_within_the_window() {
    let held = after(FIVE, 5);
    let refused = |now| match FIVE.admit(held, now).1 {
        Attempt::Refused { retry_after_secs } => retry_after_secs,
        Attempt::Admitted => panic!("admitted at {now}"),
    };
    assert_eq!(refused(T0 + 5000), 895);
    assert_eq!(refused(T0 + 5001), 895, "894.999 s left: 895");
    assert_eq!(refused(T0 + 6000), 894);
    // A clock that went back keeps the window live, and the answer within the window.
    assert_eq!(refused(T0 - 60 * MIN), 900);
}

#[test]
fn a_reset_clears_and_a_refund_gives_one_slot_back() {
    let held = after(FIVE, 5);
    assert_eq!(FIVE.reset(), None);
    let refunded = FIVE.refund(held, T0 + 6000);
    assert_eq!(
        refunded,
        Some(Window {
            count: 4,
            started_ms: T0
        }),
        "the window keeps its start"
    );
    assert_eq!(FIVE.admit(refunded, T0 + 7000).1, Attempt::Admitted);
    // The last slot given back leaves nothing; an ended window refunds to nothing.
    assert_eq!(FIVE.refund(after(FIVE, 1), T0 + 1), None);
    assert_eq!(FIVE.refund(held, T0 + 15 * MIN), None);
    assert_eq!(FIVE.refund(None, T0), None);
}

#[test]
fn a_zero_limit_refuses_every_attempt_and_counts_nothing() {
    let zero = Limit {
        max: 0,
        window_ms: MIN,
    };
    let started = Some(Window {
        count: 0,
        started_ms: T0,
    });
    assert_eq!(
        zero.admit(started, T0 + 1),
        (
            started,
            Attempt::Refused {
                retry_after_secs: 60
            }
        )
    );
}

#[test]
fn counts_saturate_and_window_ends_do_not_overflow() {
    let full = Some(Window {
        count: u32::MAX,
        started_ms: T0,
    });
    let big = Limit {
        max: u32::MAX,
        window_ms: MIN,
    };
    assert!(matches!(big.admit(full, T0).1, Attempt::Refused { .. }));
    let near = Limit {
        max: 2,
        window_ms: i64::MAX,
    };
    let w = Window {
        count: 1,
        started_ms: i64::MAX - 5,
    };
    assert_eq!(near.ends_at(w), i64::MAX);
    assert_eq!(near.admit(Some(w), i64::MAX).1, Attempt::Admitted);
}

#[test]
fn usernames_count_under_one_folded_spelling() {
    assert_eq!(username_key("  Alice\t"), "alice");
    assert_eq!(username_key("ALICE"), username_key("alice"));
    assert_eq!(username_key("ÉLODIE"), "Élodie", "ASCII letters only");
    assert_ne!(username_key("alice"), username_key("al ice"));
}
