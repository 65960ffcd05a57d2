use super::*;

#[test]
fn formats_rfc3339() {
    let rows: &[(i64, &str)] = &[
        (0, "1970-01-01T00:00:00.000Z"),
        (951_782_400_123, "2000-02-29T00:00:00.123Z"),
        (1_767_323_045_678, "2026-01-02T03:04:05.678Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
    ];
    for (ms, want) in rows {
        assert_eq!(rfc3339(*ms), *want, "{ms}");
    }
}

/// The calendar date `rfc3339` writes for midnight of `days` since 1970-01-01.
fn date_of(days: i64) -> (i64, i64, i64) {
    let text = rfc3339(days * 86_400_000);
    let mut parts = text[..10].split('-').map(|p| p.parse::<i64>().unwrap());
    let date = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert_eq!(&text[10..], "T00:00:00.000Z", "{text}");
    date
}

#[test]
fn out_of_range_moments_are_clamped() {
    assert!(rfc3339(i64::MAX).ends_with('Z'));
    assert!(rfc3339(i64::MIN).ends_with('Z'));
}

#[test]
fn known_dates() {
    // Days since 1970-01-01 of dates around leap days and century rules.
    let rows: &[(i64, (i64, i64, i64))] = &[
        (0, (1970, 1, 1)),
        (-1, (1969, 12, 31)),
        (-719_468, (0, 3, 1)),
        (-719_469, (0, 2, 29)),
        (-25_508, (1900, 3, 1)),
        (-25_509, (1900, 2, 28)),
        (10_956, (1999, 12, 31)),
        (11_016, (2000, 2, 29)),
        (11_017, (2000, 3, 1)),
        (11_322, (2000, 12, 31)),
        (19_782, (2024, 2, 29)),
        (20_088, (2024, 12, 31)),
        (47_540, (2100, 2, 28)),
        (47_541, (2100, 3, 1)),
        (157_053, (2399, 12, 31)),
        (157_113, (2400, 2, 29)),
    ];
    for &(days, want) in rows {
        assert_eq!(date_of(days), want, "day {days}");
    }
    assert_eq!(rfc3339(47_541 * 86_400_000), "2100-03-01T00:00:00.000Z");
    assert_eq!(
        rfc3339(20_088 * 86_400_000 + 86_399_999),
        "2024-12-31T23:59:59.999Z"
    );
}

#[test]
fn every_day_follows_the_previous_one() {
    // Walk the Gregorian calendar day by day from 0000-03-01 to 4000-03-01 with its plain
    // rules and compare every day: no era, century or leap-day boundary is skipped.
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = |y: i64, m: i64| match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let (mut y, mut m, mut d) = (0, 3, 1);
    for days in -719_468..=741_502 {
        assert_eq!(date_of(days), (y, m, d), "day {days}");
        d += 1;
        if d > month_len(y, m) {
            d = 1;
            m += 1;
            if m > 12 {
                m = 1;
                y += 1;
            }
        }
    }
    assert_eq!((y, m, d), (4000, 3, 2));
}
