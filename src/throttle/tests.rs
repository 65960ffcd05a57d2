use super::*;

const KEY: [u8; 32] = [7; 32];

fn cfg() -> ThrottleConfig {
    ThrottleConfig::new(5, 50, 900, KEY)
}

fn keys_of(user: &str, ip: Option<&str>) -> Keys {
    keys(&cfg(), user, ip)
}

#[test]
fn client_addresses_count_per_address_and_ipv6_per_64() {
    let rows: &[(Option<&str>, &str)] = &[
        (Some("192.0.2.1"), "v4:192.0.2.1"),
        (Some(" 192.0.2.1 "), "v4:192.0.2.1"),
        (Some("::ffff:192.0.2.1"), "v4:192.0.2.1"),
        (Some("2001:db8:1:2:3:4:5:6"), "v6:2001:db8:1:2::/64"),
        (Some("2001:db8::1"), "v6:2001:db8::/64"),
        (Some("2001:DB8:1:2::ffff"), "v6:2001:db8:1:2::/64"),
        (Some("::1"), "v6:::/64"),
        (None, NO_ADDRESS),
        // Anything that is not one address shares one counter.
        (Some(""), NOT_AN_ADDRESS),
        (Some("192.0.2.1, 198.51.100.7"), NOT_AN_ADDRESS),
        (Some("[2001:db8::1]"), NOT_AN_ADDRESS),
        (Some("192.0.2.1:443"), NOT_AN_ADDRESS),
        (Some("1.2.3.4.5"), NOT_AN_ADDRESS),
        (Some("unknown"), NOT_AN_ADDRESS),
        (Some("\u{0}\u{ff}x"), NOT_AN_ADDRESS),
    ];
    for (value, want) in rows {
        assert_eq!(client_bucket(*value), *want, "{value:?}");
    }
    let long = "9".repeat(100_000);
    assert_eq!(client_bucket(Some(&long)), NOT_AN_ADDRESS);
}

#[test]
fn counter_names_are_keyed_hashes_of_the_folded_username_and_the_address() {
    let a = keys_of("alice", Some("192.0.2.1"));
    assert!(
        a.user.starts_with("u:") && a.user.len() == 2 + 64,
        "{}",
        a.user
    );
    assert!(a.ip.starts_with("ip:") && a.ip.len() == 3 + 64, "{}", a.ip);
    assert!(!a.user.contains("alice") && !a.ip.contains("192"));
    // Spellings of one name share its counter; another name, address or key does not.
    assert_eq!(keys_of(" ALICE ", Some("192.0.2.1")).user, a.user);
    assert_ne!(keys_of("alice2", Some("192.0.2.1")).user, a.user);
    assert_eq!(keys_of("bob", Some("192.0.2.1")).ip, a.ip);
    assert_ne!(keys_of("alice", Some("192.0.2.2")).ip, a.ip);
    assert_eq!(
        keys_of("alice", Some("2001:db8::1")).ip,
        keys_of("x", Some("2001:db8::2")).ip
    );
    let other_key = keys(
        &ThrottleConfig::new(5, 50, 900, [8; 32]),
        "alice",
        Some("192.0.2.1"),
    );
    assert_ne!(other_key.user, a.user);
    assert_ne!(other_key.ip, a.ip);
    // A username and an address never name the same object.
    assert_ne!(keys_of("v4:192.0.2.1", None).user, a.ip);
    // Huge and odd usernames still name one fixed-size object.
    assert_eq!(keys_of(&"x".repeat(70_000), None).user.len(), 66);
    assert_eq!(keys_of("\u{0}\u{202e}", None).user.len(), 66);
}

#[test]
fn limits_and_codes() {
    let c = cfg();
    assert_eq!(
        c.limit(Counter::User),
        Limit {
            max: 5,
            window_ms: 900_000
        }
    );
    assert_eq!(c.limit(Counter::Ip).max, 50);
    for op in [Op::Admit, Op::Reset, Op::Refund, Op::Tidy] {
        assert_eq!(Op::from_code(op.code()), Some(op));
    }
    assert_eq!(
        [Op::Admit, Op::Reset, Op::Refund, Op::Tidy].map(Op::code),
        [0, 1, 2, 3]
    );
    assert_eq!(Op::from_code(4), None);
    let shown = format!("{c:?}");
    assert!(
        shown.contains("per_user: 5") && shown.contains("window_secs: 900"),
        "{shown}"
    );
    assert!(
        !shown.contains("7, 7") && !shown.contains("key"),
        "the key stays out of Debug: {shown}"
    );
}

#[test]
fn a_login_takes_a_slot_in_both_counters() {
    let k = keys_of("alice", Some("192.0.2.1"));
    let calls = admit_calls(&cfg(), &k);
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.counter, c.object.as_str(), c.op, c.limit.max))
            .collect::<Vec<_>>(),
        vec![
            (Counter::User, k.user.as_str(), Op::Admit, 5),
            (Counter::Ip, k.ip.as_str(), Op::Admit, 50),
        ]
    );
}

#[test]
fn admission_table() {
    let c = cfg();
    let k = keys_of("alice", None);
    let calls = admit_calls(&c, &k);
    let ok = Some(Attempt::Admitted);
    let no = |s| {
        Some(Attempt::Refused {
            retry_after_secs: s,
        })
    };
    let refund = |counter| Call {
        op: Op::Refund,
        ..call(&c, &k, counter, Op::Admit)
    };
    assert_eq!(admission(&calls, &[ok, ok]), Admission::Go);
    assert_eq!(
        admission(&calls, &[no(30), ok]),
        Admission::Throttled {
            by: Counter::User,
            retry_after_secs: 30,
            undo: vec![refund(Counter::Ip)],
        },
        "the address's slot is given back: a refused login counts nowhere"
    );
    assert_eq!(
        admission(&calls, &[ok, no(40)]),
        Admission::Throttled {
            by: Counter::Ip,
            retry_after_secs: 40,
            undo: vec![refund(Counter::User)],
        }
    );
    assert_eq!(
        admission(&calls, &[no(30), no(40)]),
        Admission::Throttled {
            by: Counter::User,
            retry_after_secs: 40,
            undo: vec![],
        },
        "both refused: the username is named, the longer wait given"
    );
    assert_eq!(
        admission(&calls, &[no(50), no(40)]),
        Admission::Throttled {
            by: Counter::User,
            retry_after_secs: 50,
            undo: vec![],
        }
    );
    assert_eq!(
        admission(&calls, &[None, ok]),
        Admission::Unavailable {
            undo: vec![refund(Counter::Ip)]
        }
    );
    assert_eq!(
        admission(&calls, &[no(30), None]),
        Admission::Unavailable { undo: vec![] },
        "an unanswered counter fails closed even beside a refusal"
    );
    assert_eq!(
        admission(&calls, &[ok]),
        Admission::Unavailable {
            undo: vec![refund(Counter::User)]
        },
        "a missing answer is no answer"
    );
}

#[test]
fn settlement_table() {
    let c = cfg();
    let k = keys_of("alice", None);
    let ops = |outcome| {
        settle_calls(&c, &k, outcome)
            .into_iter()
            .map(|call| (call.counter, call.op))
            .collect::<Vec<_>>()
    };
    use StoreFailure::*;
    assert_eq!(
        ops(Ok(())),
        vec![(Counter::User, Op::Reset), (Counter::Ip, Op::Refund)],
        "a success resets the username; only failures count for the address"
    );
    assert_eq!(
        ops(Err(Refused)),
        vec![],
        "a judged failure keeps both slots"
    );
    for unjudged in [
        TooManyAttempts { retry_after: 60 },
        Timeout,
        Unreachable,
        ServerError,
        RateLimited { retry_after: 5 },
        Malformed,
        SessionGone,
        ClientAuth,
        RequestRefused,
    ] {
        assert_eq!(
            ops(Err(unjudged)),
            vec![(Counter::User, Op::Refund), (Counter::Ip, Op::Refund)],
            "{unjudged:?}"
        );
    }
}

#[test]
fn the_counter_objects_step() {
    let limit = cfg().limit(Counter::User);
    let t0 = 1_700_000_000_000;
    let w = |count| {
        Some(Window {
            count,
            started_ms: t0,
        })
    };
    assert_eq!(
        step(Op::Admit, limit, None, t0),
        Stepped {
            window: w(1),
            answer: Some(Attempt::Admitted),
            ends_at_ms: t0 + 900_000
        }
    );
    assert_eq!(
        step(Op::Admit, limit, w(5), t0 + 1000),
        Stepped {
            window: w(5),
            answer: Some(Attempt::Refused {
                retry_after_secs: 899
            }),
            ends_at_ms: t0 + 900_000
        }
    );
    assert_eq!(
        step(Op::Reset, limit, w(4), t0),
        Stepped {
            window: None,
            answer: None,
            ends_at_ms: 0
        }
    );
    assert_eq!(step(Op::Refund, limit, w(4), t0).window, w(3));
    assert_eq!(step(Op::Refund, limit, w(4), t0).answer, None);
    assert_eq!(step(Op::Tidy, limit, w(4), t0 + 899_999).window, w(4));
    assert_eq!(
        step(Op::Tidy, limit, w(4), t0 + 900_000),
        Stepped {
            window: None,
            answer: None,
            ends_at_ms: 0
        }
    );
}
