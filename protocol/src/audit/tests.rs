use super::*;

use serde_json::Value;

fn parse(line: &str) -> serde_json::Map<String, Value> {
    match serde_json::from_str(line) {
        Ok(Value::Object(m)) => m,
        other => panic!("not a JSON object: {line} ({other:?})"),
    }
}

const FIELDS: [&str; 8] = [
    "level",
    "request_id",
    "event",
    "outcome",
    "reason",
    "subject_hash",
    "session_hash",
    "client_prefix",
];

#[test]
fn every_event_has_one_name_and_a_line_with_every_field() {
    let mut names: Vec<&str> = Event::ALL.iter().map(|e| e.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Event::ALL.len(), "names are distinct");
    for event in Event::ALL {
        for outcome in [Outcome::Success, Outcome::Failure] {
            let a = Audit::new(event, outcome, "some_reason")
                .subject(Some("user-1"))
                .session(Some("sess-1"));
            let m = parse(&a.line("8c5a1b2c3d4e5f60-AMS", Some("203.0.113.9")));
            let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let mut want = FIELDS.to_vec();
            want.sort_unstable();
            assert_eq!(keys, want, "{event:?}");
            assert_eq!(m["event"], event.name());
            assert_eq!(m["request_id"], "8c5a1b2c3d4e5f60-AMS");
            assert_eq!(m["reason"], "some_reason");
            assert_eq!(m["subject_hash"], id_hash("user-1"));
            assert_eq!(m["session_hash"], id_hash("sess-1"));
            assert_eq!(m["client_prefix"], "203.0.113.0/24");
            assert_eq!(m["level"], a.level().name());
            let outcome_name = match outcome {
                Outcome::Success => "success",
                Outcome::Failure => "failure",
            };
            assert_eq!(m["outcome"], outcome_name);
        }
    }
}

#[test]
fn an_audit_says_what_it_was_made_of() {
    let a = Audit::new(Event::Logout, Outcome::Failure, "kv_write_failed");
    assert_eq!(
        (a.event(), a.outcome(), a.reason()),
        (Event::Logout, Outcome::Failure, "kv_write_failed")
    );
}

#[test]
fn levels_by_event_and_outcome() {
    let level = |e, o| Audit::new(e, o, "r").level();
    assert_eq!(level(Event::Login, Outcome::Success), Level::Info);
    assert_eq!(level(Event::Login, Outcome::Failure), Level::Warn);
    assert_eq!(level(Event::Throttled, Outcome::Failure), Level::Warn);
    assert_eq!(level(Event::SessionRevoked, Outcome::Success), Level::Info);
    // A copied refresh token is an operator's matter whatever happened next.
    assert_eq!(
        level(Event::RefreshReuseDetected, Outcome::Failure),
        Level::Error
    );
    assert_eq!(
        level(Event::RefreshReuseDetected, Outcome::Success),
        Level::Error
    );
    assert_eq!(Level::Info.name(), "info");
    assert_eq!(Level::Warn.name(), "warn");
    assert_eq!(Level::Error.name(), "error");
}

#[test]
fn ids_are_hashed_never_written() {
    let subject = "alice@example.com";
    let session = "s1.7f3a9c0d2e4b.q9Zr4LmN8xYwT2vB";
    let a = Audit::new(Event::Logout, Outcome::Success, "logged_out")
        .subject(Some(subject))
        .session(Some(session));
    let line = a.line("r", None);
    assert!(!line.contains(subject), "{line}");
    assert!(!line.contains("alice"), "{line}");
    assert!(!line.contains(session), "{line}");
    assert!(!line.contains("q9Zr4LmN8xYwT2vB"), "{line}");
    // Not in the record's Debug form either.
    let debug = format!("{a:?}");
    assert!(
        !debug.contains("alice") && !debug.contains("q9Zr4"),
        "{debug}"
    );
    let m = parse(&line);
    assert_eq!(m["subject_hash"], id_hash(subject));
    assert_eq!(m["session_hash"], id_hash(session));
}

#[test]
fn absent_ids_and_client_are_null() {
    let m =
        parse(&Audit::new(Event::Throttled, Outcome::Failure, "too_many_attempts").line("r", None));
    assert_eq!(m["subject_hash"], Value::Null);
    assert_eq!(m["session_hash"], Value::Null);
    assert_eq!(m["client_prefix"], Value::Null);
    assert_eq!(m["outcome"], "failure");
}

#[test]
fn id_hash_is_the_first_8_bytes_of_sha256_in_hex() {
    // SHA-256("abc"), FIPS 180-2 appendix B.1: ba7816bf8f01cfea4141…
    assert_eq!(id_hash("abc"), "ba7816bf8f01cfea");
    assert_eq!(id_hash("abc").len(), 16);
    assert_ne!(id_hash("a"), id_hash("b"));
    // The prefix of the session's KV revocation key.
    assert!(crate::revocation::session_key("abc")[2..].starts_with(&id_hash("abc")));
}

#[test]
fn client_prefix_of_good_addresses() {
    let rows: &[(&str, &str)] = &[
        ("203.0.113.9", "203.0.113.0/24"),
        ("0.0.0.0", "0.0.0.0/24"),
        ("255.255.255.255", "255.255.255.0/24"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::/48"),
        ("2001:db8::1", "2001:db8::/48"),
        (
            "2001:0DB8:00aa:ffff:ffff:ffff:ffff:ffff",
            "2001:db8:aa::/48",
        ),
        ("::1", "::/48"),
        // IPv4-mapped IPv6 is the IPv4 client.
        ("::ffff:198.51.100.7", "198.51.100.0/24"),
        ("::ffff:c633:6407", "198.51.100.0/24"),
    ];
    for (raw, want) in rows {
        assert_eq!(client_prefix(Some(raw)).as_deref(), Some(*want), "{raw}");
    }
    assert_eq!(client_prefix(None), None);
}

#[test]
fn client_prefix_of_hostile_values_is_invalid_and_repeats_nothing() {
    let long = "1".repeat(10_000);
    let rows: &[&str] = &[
        "",
        " ",
        "203.0.113.9 ",
        " 203.0.113.9",
        "203.0.113.9, 10.0.0.1",
        "203.0.113.9:443",
        "[2001:db8::1]",
        "[2001:db8::1]:443",
        "fe80::1%eth0",
        "203.0.113",
        "203.0.113.256",
        "203.000.113.9",
        "0x7f.0.0.1",
        "2130706433",
        "203.0.113.9\r\nX-Injected: 1",
        "203.0.113.9\"}",
        "\u{0}",
        "２０３.0.113.9",
        "<script>",
        "2001:db8::1::1",
        "2001:db8:1:2:3:4:5:6:7",
        &long,
    ];
    for raw in rows {
        let p = client_prefix(Some(raw));
        assert_eq!(p.as_deref(), Some("invalid"), "{raw:?}");
    }
    // In a line, the raw value never appears.
    let line = Audit::new(Event::Login, Outcome::Failure, "credentials_refused")
        .line("r", Some("203.0.113.9\"},\"injected\":\"x"));
    let m = parse(&line);
    assert_eq!(m["client_prefix"], "invalid");
    assert!(!m.contains_key("injected"), "{line}");
}

#[test]
fn request_ids_from_headers() {
    assert_eq!(
        request_id(Some("8c5a1b2c3d4e5f60-AMS")),
        Some("8c5a1b2c3d4e5f60-AMS")
    );
    assert_eq!(request_id(Some("local-00ff")), Some("local-00ff"));
    assert_eq!(request_id(Some("a.b_c:d")), Some("a.b_c:d"));
    let max = "a".repeat(MAX_REQUEST_ID);
    assert_eq!(request_id(Some(&max)), Some(max.as_str()));
    let over = "a".repeat(MAX_REQUEST_ID + 1);
    for bad in [
        "",
        " ",
        "8c5a1b2c3d4e5f60 AMS",
        "id\"},\"x\":\"y",
        "id\r\nx",
        "id\u{0}",
        "ïd",
        "id/../x",
        over.as_str(),
    ] {
        assert_eq!(request_id(Some(bad)), None, "{bad:?}");
    }
    assert_eq!(request_id(None), None);
}

#[test]
fn local_request_ids_are_hex_of_the_bytes() {
    let id = local_request_id(&[0, 1, 0xab, 0xcd, 0xef, 0x10, 0x7f, 0xff]);
    assert_eq!(id, "local-0001abcdef107fff");
    // A local id passes the header check (the store takes it from `x-request-id`).
    assert_eq!(request_id(Some(&id)), Some(id.as_str()));
}

#[test]
fn ordinary_lines_escape_what_they_are_given() {
    let l = line(
        Level::Error,
        "rid-1",
        "store",
        "store_timeout",
        &[
            ("host", Field::Str("store.example:8443")),
            ("status", Field::Num(504)),
            ("stale", Field::Bool(true)),
            ("none", Field::Null),
        ],
    );
    let m = parse(&l);
    assert_eq!(m["level"], "error");
    assert_eq!(m["request_id"], "rid-1");
    assert_eq!(m["phase"], "store");
    assert_eq!(m["reason"], "store_timeout");
    assert_eq!(m["host"], "store.example:8443");
    assert_eq!(m["status"], 504);
    assert_eq!(m["stale"], true);
    assert_eq!(m["none"], Value::Null);
    assert_eq!(m.len(), 8);
    // A value with quotes stays one value.
    let m = parse(&line(Level::Info, "r", "p\"", "x\"}", &[]));
    assert_eq!(m["phase"], "p\"");
    assert_eq!(m["reason"], "x\"}");
    assert_eq!(m.len(), 4);
    // Printable characters are written as they are; only what JSON must escape is escaped.
    assert_eq!(
        line(Level::Info, "r", "a b~", "é", &[]),
        r#"{"level":"info","request_id":"r","phase":"a b~","reason":"é"}"#
    );
    // Control characters, backslashes and non-ASCII stay inside the one string, one line.
    let nasty = "a\\b\r\n{\"level\":\"error\"}\u{0}\u{1f}\u{7f}é\u{2028}";
    let l = line(Level::Warn, nasty, "p", "r", &[("k", Field::Str(nasty))]);
    assert!(
        !l.contains('\n') && !l.contains('\r') && !l.contains('\u{0}'),
        "{l}"
    );
    let m = parse(&l);
    assert_eq!(m["request_id"], nasty);
    assert_eq!(m["k"], nasty);
    assert_eq!(m["level"], "warn");
}
