use super::*;

const SECRET: &str = "test-only-revocation-webhook-secret-0123456789";
const NOW: i64 = 1_800_000_000;
const BODY: &[u8] = br#"{"session_ids":["s1"],"user_ids":["u1"]}"#;

fn secrets() -> Vec<String> {
    vec![SECRET.to_owned()]
}

fn verify_at(header: &str, now: i64) -> Result<Verified, WebhookFault> {
    verify(&secrets(), Some(header), BODY, now)
}

#[test]
fn a_signed_call_verifies_and_its_replay_key_comes_from_its_mac() {
    let header = sign(SECRET.as_bytes(), NOW, BODY);
    assert!(header.starts_with(&format!("t={NOW},v1=")));
    assert_eq!(header.len(), format!("t={NOW},v1=").len() + 64);
    let v = verify_at(&header, NOW).map_err(WebhookFault::code);
    let mac = header.split("v1=").nth(1).unwrap_or_default();
    assert_eq!(
        v,
        Ok(Verified {
            replay_key: webhook_replay_key(mac)
        })
    );
    // Another call (another time or body) has another key.
    let other = sign(SECRET.as_bytes(), NOW + 1, BODY);
    assert_ne!(
        verify_at(&other, NOW).map(|v| v.replay_key),
        verify_at(&header, NOW).map(|v| v.replay_key)
    );
}

#[test]
fn the_mac_is_the_documented_one() {
    // HMAC-SHA256 under "key" of "1700000000.{}", computed independently:
    // printf '1700000000.{}' | openssl dgst -sha256 -hmac key
    assert_eq!(
        sign(b"key", 1_700_000_000, b"{}"),
        "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    );
}

#[test]
fn the_window_is_300_seconds_either_way_inclusive() {
    let rows: &[(i64, Result<(), WebhookFault>)] = &[
        (0, Ok(())),
        (300, Ok(())),
        (-300, Ok(())),
        (301, Err(WebhookFault::StaleTimestamp)),
        (-301, Err(WebhookFault::StaleTimestamp)),
        (100_000, Err(WebhookFault::StaleTimestamp)),
    ];
    for (age, want) in rows {
        // Signed at NOW - age: `age` seconds old (negative: from the future).
        let header = sign(SECRET.as_bytes(), NOW - age, BODY);
        assert_eq!(verify_at(&header, NOW).map(drop), *want, "age {age}");
    }
}

#[test]
fn a_bad_mac_is_refused_before_the_time_is_looked_at() {
    let good = sign(SECRET.as_bytes(), NOW, BODY);
    let flip = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap_or_default()
    };
    let v1_at = good.find("v1=").unwrap_or(0) + 3;
    let rows: Vec<(String, &[u8], WebhookFault)> = vec![
        (flip(&good, v1_at), BODY, WebhookFault::BadSignature),
        (
            flip(&good, good.len() - 1),
            BODY,
            WebhookFault::BadSignature,
        ),
        (
            good.clone(),
            br#"{"session_ids":["s2"]}"#,
            WebhookFault::BadSignature,
        ),
        (
            sign(b"another-secret-of-at-least-32-bytes!", NOW, BODY),
            BODY,
            WebhookFault::BadSignature,
        ),
        // Signed for one time, presented with another.
        (
            good.replacen(&NOW.to_string(), &(NOW - 1).to_string(), 1),
            BODY,
            WebhookFault::BadSignature,
        ),
        // A stale call with a bad MAC says only "bad MAC".
        (
            flip(&sign(SECRET.as_bytes(), NOW - 1000, BODY), v1_at),
            BODY,
            WebhookFault::BadSignature,
        ),
    ];
    for (header, body, want) in rows {
        assert_eq!(
            verify(&secrets(), Some(&header), body, NOW).map(drop),
            Err(want),
            "{header}"
        );
    }
    assert_eq!(
        verify(&secrets(), None, BODY, NOW).map(drop),
        Err(WebhookFault::MissingSignature)
    );
}

#[test]
fn any_configured_secret_and_any_v1_value_verify() {
    let old = "the-previous-webhook-secret-0123456789abc";
    let both = vec![SECRET.to_owned(), old.to_owned()];
    let by_old = sign(old.as_bytes(), NOW, BODY);
    assert!(verify(&both, Some(&by_old), BODY, NOW).is_ok());
    assert_eq!(
        verify(&secrets(), Some(&by_old), BODY, NOW).map(drop),
        Err(WebhookFault::BadSignature)
    );
    // A sender rolling its secret sends both MACs.
    let mac_of = |h: &str| h.split("v1=").nth(1).unwrap_or_default().to_owned();
    let two = format!(
        "t={NOW},v1={},v1={}",
        mac_of(&by_old),
        mac_of(&sign(SECRET.as_bytes(), NOW, BODY))
    );
    assert!(verify_at(&two, NOW).is_ok());
    assert!(
        verify(&[], Some(&two), BODY, NOW).is_err(),
        "no secret, nothing verifies"
    );
}

#[test]
fn the_header_grammar() {
    let mac = "ab".repeat(32);
    let ok: &[&str] = &[
        &format!("t=1,v1={mac}"),
        &format!("v1={mac},t=1"),
        &format!("t=1, v1={mac}"),
        // Leading spaces are the header's optional whitespace (HTTP strips it anyway).
        &format!(" t=1,v1={mac}"),
        &format!("t=999999999999,v1={mac}"),
        &format!("t=1,v1={},v1={mac},v1={mac},v1={mac}", mac.to_uppercase()),
    ];
    for h in ok {
        assert!(parse_signature(h).is_ok(), "{h}");
    }
    assert_eq!(
        parse_signature(&format!("t=0012,v1={mac}")).map(|s| (s.t, s.macs.len())),
        Ok((12, 1))
    );
    let long_enough = format!("t=1,{}", vec![format!("v1={mac}"); 4].join(","));
    assert!(long_enough.len() < 512);
    let bad: &[String] = &[
        String::new(),
        "t=1".into(),
        format!("v1={mac}"),
        format!("t=,v1={mac}"),
        format!("t=-1,v1={mac}"),
        format!("t=+1,v1={mac}"),
        format!("t=1.5,v1={mac}"),
        format!("t=1x,v1={mac}"),
        format!("t=1000000000000,v1={mac}"),
        format!("t=1,t=2,v1={mac}"),
        format!("t=1,v1={}", &mac[..62]),
        format!("t=1,v1={mac}00"),
        format!("t=1,v1={}zz", &mac[..62]),
        format!("t=1,v0={mac},v1={mac}"),
        format!("t=1,v1={mac},"),
        format!("t=1;v1={mac}"),
        format!("t=1,v1 ={mac}"),
        format!("t=1,{}", vec![format!("v1={mac}"); 5].join(",")),
        format!("t=1,v1={mac},x={}", "a".repeat(512)),
    ];
    for h in bad {
        assert_eq!(
            parse_signature(h).map(drop),
            Err(WebhookFault::MalformedSignature),
            "{h}"
        );
    }
}

#[test]
fn the_body_bounds() {
    let json = Some("application/json");
    let ids = |n: usize| {
        (0..n)
            .map(|i| format!("\"id{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    };
    let body = |s: String| parse_body(json, s.as_bytes());
    assert_eq!(
        body(format!(r#"{{"session_ids":[{}]}}"#, ids(50))).map(|r| r.session_ids.len()),
        Ok(50)
    );
    assert_eq!(
        body(format!(
            r#"{{"session_ids":[{}],"user_ids":[{}]}}"#,
            ids(25),
            ids(25)
        ))
        .map(|r| r.user_ids.len()),
        Ok(25)
    );
    assert_eq!(
        body(format!(
            r#"{{"session_ids":[{}],"user_ids":[{}]}}"#,
            ids(25),
            ids(26)
        ))
        .map(drop),
        Err(WebhookFault::TooManyIds)
    );
    assert_eq!(
        body(format!(r#"{{"user_ids":[{}]}}"#, ids(51))).map(drop),
        Err(WebhookFault::TooManyIds)
    );
    let long = |n: usize| format!(r#"{{"user_ids":["{}"]}}"#, "x".repeat(n));
    assert!(body(long(512)).is_ok());
    assert!(body(long(1)).is_ok());
    assert_eq!(body(long(513)).map(drop), Err(WebhookFault::BadId));
    let rows: &[(&str, WebhookFault)] = &[
        ("{}", WebhookFault::NoIds),
        (r#"{"session_ids":[],"user_ids":[]}"#, WebhookFault::NoIds),
        (r#"{"user_ids":[""]}"#, WebhookFault::BadId),
        (r#"{"user_ids":["a\u0000"]}"#, WebhookFault::BadId),
        (r#"{"user_ids":["a\nb"]}"#, WebhookFault::BadId),
        (r#"{"user_ids":["a\u0085"]}"#, WebhookFault::BadId),
        (r#"{"user_ids":[1]}"#, WebhookFault::Json),
        (r#"{"user_ids":"u1"}"#, WebhookFault::Json),
        (r#"{"users":["u1"]}"#, WebhookFault::Json),
        (r#"{"session_ids":["a"],"x":1}"#, WebhookFault::Json),
        (r#"["u1"]"#, WebhookFault::Json),
        ("", WebhookFault::Json),
        ("{", WebhookFault::Json),
    ];
    for (b, want) in rows {
        assert_eq!(parse_body(json, b.as_bytes()).map(drop), Err(*want), "{b}");
    }
    // Unicode ids are fine.
    assert!(parse_body(json, r#"{"user_ids":["usér"]}"#.as_bytes()).is_ok());
}

#[test]
fn the_content_type_must_be_json() {
    let b = br#"{"user_ids":["u"]}"#;
    for ct in [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        " application/json",
    ] {
        assert!(parse_body(Some(ct), b).is_ok(), "{ct}");
    }
    for ct in [
        None,
        Some("text/plain"),
        Some("application/jsonx"),
        Some("application/x-www-form-urlencoded"),
        Some(""),
    ] {
        assert_eq!(
            parse_body(ct, b).map(drop),
            Err(WebhookFault::ContentType),
            "{ct:?}"
        );
    }
}

#[test]
fn codes_and_the_reply() {
    let all = [
        WebhookFault::MissingSignature,
        WebhookFault::MalformedSignature,
        WebhookFault::BadSignature,
        WebhookFault::StaleTimestamp,
        WebhookFault::Replayed,
        WebhookFault::ContentType,
        WebhookFault::Json,
        WebhookFault::NoIds,
        WebhookFault::TooManyIds,
        WebhookFault::BadId,
        WebhookFault::NotStored,
    ];
    let codes: std::collections::HashSet<_> = all.iter().map(|f| f.code()).collect();
    assert_eq!(codes.len(), all.len());
    assert!(codes.iter().all(|c| c.starts_with("webhook_")));
    let r = Revocations {
        session_ids: vec!["a".into(), "b".into()],
        user_ids: vec!["u".into()],
    };
    assert_eq!(
        taken_reply(&r),
        serde_json::json!({"revoked": true, "sessions": 2, "users": 1})
    );
    assert_eq!(REPLAY_TTL_SECS, 660);
}

#[test]
fn a_replay_is_what_the_isolate_or_kv_saw_and_an_unreadable_kv_takes_the_call() {
    assert_eq!(replay(false, Ok(false)), Ok(()));
    assert_eq!(replay(true, Ok(false)), Err(WebhookFault::Replayed));
    assert_eq!(replay(false, Ok(true)), Err(WebhookFault::Replayed));
    assert_eq!(replay(true, Err(())), Err(WebhookFault::Replayed));
    assert_eq!(replay(false, Err(())), Ok(()));
}

#[test]
fn a_call_writes_the_edges_own_entries() {
    let r = Revocations {
        session_ids: vec!["s1".into(), "s2".into()],
        user_ids: vec!["u1".into()],
    };
    assert_eq!(
        entries(&r, 1_800_000_000_123),
        vec![
            (session_key("s1"), "1".to_owned()),
            (session_key("s2"), "1".to_owned()),
            (user_key("u1"), "1800000000123".to_owned()),
        ]
    );
    assert!(entries(&Revocations::default(), 1).is_empty());
}

#[test]
fn uppercase_hex_verifies_too_and_the_limits_are_the_documented_ones() {
    let header = sign(SECRET.as_bytes(), NOW, BODY);
    let (t, mac) = header.split_once(",v1=").unwrap_or_default();
    let upper = format!("{t},v1={}", mac.to_uppercase());
    assert_ne!(upper, header);
    assert_eq!(
        verify_at(&upper, NOW).map(|v| v.replay_key),
        verify_at(&header, NOW).map(|v| v.replay_key),
        "the same MAC, the same call"
    );
    assert_eq!(
        parse_signature(&upper).map(|s| s.macs),
        parse_signature(&header).map(|s| s.macs)
    );
    // README, "The revocation webhook": 16 KiB, 50 ids of 512 bytes, 300 s, 660 s.
    assert_eq!(MAX_BODY_BYTES, 16_384);
    assert_eq!((MAX_IDS, MAX_ID_BYTES, TOLERANCE_SECS), (50, 512, 300));
}

#[test]
fn the_header_is_at_most_512_bytes() {
    let mac = "ab".repeat(32);
    // Spaces after a comma are allowed: pad a valid header to an exact length.
    let padded = |len: usize| {
        let bare = format!("t=1,v1={mac}");
        format!("t=1,{}v1={mac}", " ".repeat(len - bare.len()))
    };
    assert_eq!(padded(512).len(), 512);
    assert!(parse_signature(&padded(512)).is_ok());
    assert_eq!(
        parse_signature(&padded(513)).map(drop),
        Err(WebhookFault::MalformedSignature)
    );
}
