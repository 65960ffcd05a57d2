use super::*;

#[test]
fn keys_hash_the_ids() {
    let k = session_key("sess-123");
    assert!(k.starts_with(SESSION_KEY_PREFIX));
    assert_eq!(k.len(), 2 + 64);
    assert!(!k.contains("sess-123"));
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    assert_eq!(
        hex_sha256("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        user_key("abc"),
        "u:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_ne!(session_key("a"), session_key("b"));
    // Same digest, separate namespaces.
    assert_eq!(user_key("a")[2..], session_key("a")[2..]);
    assert_ne!(user_key("a"), session_key("a"));
}

#[test]
fn user_entry_round_trips_and_reads_old_seconds_entries() {
    let rows: &[(&str, Option<i64>)] = &[
        ("1700000000123", Some(1_700_000_000_123)),
        // A seconds entry of an older version counts to the end of its second.
        ("1700000000", Some(1_700_000_000_999)),
        (" 99999999999 ", Some(99_999_999_999_999)),
        ("100000000000", Some(100_000_000_000)),
        ("x", None),
        ("", None),
        ("1.5", None),
    ];
    for (value, want) in rows {
        assert_eq!(parse_user_entry(value), *want, "{value:?}");
    }
    for ms in [100_000_000_000, 1_700_000_000_123, i64::MAX] {
        assert_eq!(parse_user_entry(&user_entry_value(ms)), Some(ms));
    }
}

#[test]
fn webhook_keys_hash_the_mac_in_their_own_namespace() {
    let k = webhook_replay_key("abc");
    assert_eq!(
        k,
        "w:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_ne!(webhook_replay_key("abd"), k);
    assert_eq!(SESSION_ENTRY_VALUE, "1");
}

#[test]
fn ttl_covers_the_longest_token_or_session_and_kv_minimum() {
    assert_eq!(entry_ttl(3600, None, 30), 3630);
    assert_eq!(entry_ttl(10, None, 0), KV_MIN_TTL_SECS);
    assert_eq!(entry_ttl(59, None, 0), KV_MIN_TTL_SECS);
    assert_eq!(entry_ttl(61, None, 0), 61);
    assert_eq!(entry_ttl(3600, Some(1_209_600), 30), 1_209_630);
    assert_eq!(entry_ttl(3600, Some(60), 30), 3630);
    assert_eq!(entry_ttl(u64::MAX, None, 30), u64::MAX);
}
