use super::*;

fn ended(sessions: &[&str], all: bool) -> Ended {
    Ended {
        sessions: sessions.iter().map(|s| (*s).to_owned()).collect(),
        all,
    }
}

#[test]
fn each_ending_writes_the_edges_key() {
    const NOW: Millis = 1_767_225_600_123;
    // Nothing ended: nothing written.
    assert!(entries(&Ended::default(), Some("u1"), NOW, 99).is_empty());
    // Sessions ended (logout, reuse, expiry, the cap): one session entry each, once.
    let got = entries(&ended(&["s1", "s2", "s1"], false), Some("u1"), NOW, 99);
    assert_eq!(
        got,
        vec![
            KvEntry {
                key: session_key("s1"),
                value: "1".into(),
                ttl_secs: 99
            },
            KvEntry {
                key: session_key("s2"),
                value: "1".into(),
                ttl_secs: 99
            },
        ]
    );
    // The edge reads exactly these keys.
    assert!(got[0].key.starts_with("s:") && got[0].key.len() == 66);
    // Revoke-all: the user entry at this moment, nothing else.
    let got = entries(&ended(&["s1"], true), Some("u1"), NOW, 99);
    assert_eq!(
        got,
        vec![KvEntry {
            key: user_key("u1"),
            value: "1767225600123".into(),
            ttl_secs: 99
        }]
    );
    assert_eq!(
        edge_session_protocol::revocation::parse_user_entry(&got[0].value),
        Some(NOW)
    );
    // A revoke-all nobody named: the sessions it ended.
    assert_eq!(
        entries(&ended(&["s1"], true), None, NOW, 99),
        entries(&ended(&["s1"], false), None, NOW, 99)
    );
    assert!(entries(&ended(&[], true), None, NOW, 99).is_empty());
}

#[test]
fn entries_live_as_long_as_a_token_or_a_session_plus_the_edges_leeway() {
    assert_eq!(ttl_secs(3600, 1_209_600_000), 1_209_600 + 120);
    assert_eq!(ttl_secs(86_400, 1000), 86_400 + 120);
    assert_eq!(ttl_secs(60, 999), 180);
    assert_eq!(
        ttl_secs(-5, -5),
        120,
        "nonsense lifetimes still get KV's minimum and more"
    );
}
