use super::*;

const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const K2: &str = "HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE";

fn keys(list: &str) -> BindingKeys {
    BindingKeys::parse(list).unwrap_or(BindingKeys {
        keys: vec![],
        sealing: vec![],
    })
}

fn cookie() -> SessionCookie {
    SessionCookie {
        session_id: "sess-1".into(),
        subject: "user-1".into(),
        minted_ms: 1_700_000_000_123,
    }
}

const UA: ClientProps<'static> = ClientProps {
    user_agent: Some("Mozilla/5.0 A"),
    ip: Some("203.0.113.7"),
};
const UA_POLICY: BindingPolicy = BindingPolicy {
    user_agent: true,
    ip: IpBinding::Off,
};

fn sealed(policy: &BindingPolicy, props: &ClientProps<'_>) -> String {
    seal(&keys(K1), policy, &cookie(), props, &[7; 16]).unwrap_or_default()
}

#[test]
fn round_trip() {
    let v = sealed(&UA_POLICY, &UA);
    assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(cookie()));
}

#[test]
fn another_user_agent_is_refused() {
    let v = sealed(&UA_POLICY, &UA);
    let other = ClientProps {
        user_agent: Some("curl/8"),
        ..UA
    };
    assert_eq!(
        open(&keys(K1), &UA_POLICY, &v, &other),
        Err(BindingError::Mismatch)
    );
    let none = ClientProps {
        user_agent: None,
        ..UA
    };
    assert_eq!(
        open(&keys(K1), &UA_POLICY, &v, &none),
        Err(BindingError::Mismatch)
    );
}

#[test]
fn ip_binding_rows() {
    let rows: &[(IpBinding, &str, bool)] = &[
        (IpBinding::Off, "198.51.100.1", true),
        (IpBinding::Prefix, "203.0.113.200", true),
        (IpBinding::Prefix, "203.0.114.7", false),
        (IpBinding::Exact, "203.0.113.7", true),
        (IpBinding::Exact, "203.0.113.8", false),
        (IpBinding::Prefix, "garbage", false),
    ];
    for (binding, ip, ok) in rows {
        let policy = BindingPolicy {
            user_agent: true,
            ip: *binding,
        };
        let v = sealed(&policy, &UA);
        let props = ClientProps { ip: Some(ip), ..UA };
        assert_eq!(
            open(&keys(K1), &policy, &v, &props).is_ok(),
            *ok,
            "{binding:?} {ip}"
        );
    }
}

#[test]
fn ipv6_prefix() {
    assert_eq!(
        ip_fingerprint(Some("2001:db8:1:2:aaaa::1"), IpBinding::Prefix),
        "2001:db8:1:2::/64"
    );
}

#[test]
fn keys_rotate() {
    let v = sealed(&UA_POLICY, &UA);
    // New key first, old still listed: old cookies verify.
    let rotated = keys(&format!("{K2},{K1}"));
    assert_eq!(open(&rotated, &UA_POLICY, &v, &UA), Ok(cookie()));
    // Old key dropped: refused.
    assert_eq!(
        open(&keys(K2), &UA_POLICY, &v, &UA),
        Err(BindingError::Mismatch)
    );
}

#[test]
fn every_seal_is_a_new_value() {
    let a = seal(&keys(K1), &UA_POLICY, &cookie(), &UA, &[1; 16]);
    let b = seal(&keys(K1), &UA_POLICY, &cookie(), &UA, &[2; 16]);
    assert_ne!(a, b);
}

#[test]
fn tampering_and_garbage() {
    let v = sealed(&UA_POLICY, &UA);
    let parts: Vec<&str> = v.split('.').collect();
    let other_sid = Base64UrlUnpadded::encode_string(b"sess-2");
    let swapped = format!(
        "v2.{}.{other_sid}.{}.{}.{}",
        parts[1], parts[3], parts[4], parts[5]
    );
    assert_eq!(
        open(&keys(K1), &UA_POLICY, &swapped, &UA),
        Err(BindingError::Mismatch)
    );
    // An older minting time (to slip under a user-wide revocation's cut-off) breaks the MAC.
    let backdated = format!(
        "v2.{}.{}.{}.{}.{}",
        parts[1], parts[2], parts[3], "1700000000124", parts[5]
    );
    assert_eq!(
        open(&keys(K1), &UA_POLICY, &backdated, &UA),
        Err(BindingError::Mismatch)
    );
    for bad in [
        "",
        "v2",
        "v1.a.b.c.d",
        "v2.a.b.c.1.e.f",
        "v2.!!.b.c.1.d",
        &format!("v2.{}.{}.{}.-1.{}", parts[1], parts[2], parts[3], parts[5]),
        &format!("v2.{}.{}.{}.+1.{}", parts[1], parts[2], parts[3], parts[5]),
        &format!("v2.{}.{}.{}..{}", parts[1], parts[2], parts[3], parts[5]),
        &format!(
            "v2.{}.{}.{}.1234567890123456.{}",
            parts[1], parts[2], parts[3], parts[5]
        ),
        &"v2.".repeat(999),
    ] {
        assert_eq!(
            open(&keys(K1), &UA_POLICY, bad, &UA),
            Err(BindingError::Malformed),
            "{bad}"
        );
    }
}

#[test]
fn empty_parts_short_nonces_and_length_bounds() {
    let k = keys(K1);
    let with = |sid: &str, sub: &str| SessionCookie {
        session_id: sid.into(),
        subject: sub.into(),
        minted_ms: 5,
    };
    // Nothing is sealed for an empty or oversized part or a negative time.
    assert_eq!(seal(&k, &UA_POLICY, &with("", "u"), &UA, &[1; 16]), None);
    assert_eq!(seal(&k, &UA_POLICY, &with("s", ""), &UA, &[1; 16]), None);
    let negative = SessionCookie {
        minted_ms: -1,
        ..with("s", "u")
    };
    assert_eq!(seal(&k, &UA_POLICY, &negative, &UA, &[1; 16]), None);
    let max = "x".repeat(MAX_PART_BYTES);
    let over = "x".repeat(MAX_PART_BYTES + 1);
    assert!(seal(&k, &UA_POLICY, &with(&max, &max), &UA, &[1; 16]).is_some());
    assert_eq!(seal(&k, &UA_POLICY, &with(&over, "u"), &UA, &[1; 16]), None);
    assert_eq!(seal(&k, &UA_POLICY, &with("s", &over), &UA, &[1; 16]), None);

    // Hand-built values with a valid MAC: each malformation alone is refused.
    let forge = |nonce: &[u8], sid: &str, sub: &str| {
        let c = with(sid, sub);
        let tag = mac(&k.keys[0], nonce, &c, &UA_POLICY, &UA)
            .map(|m| m.finalize().into_bytes().to_vec())
            .unwrap_or_default();
        format!(
            "v2.{}.{}.{}.5.{}",
            Base64UrlUnpadded::encode_string(nonce),
            Base64UrlUnpadded::encode_string(sid.as_bytes()),
            Base64UrlUnpadded::encode_string(sub.as_bytes()),
            Base64UrlUnpadded::encode_string(&tag)
        )
    };
    assert!(open(&k, &UA_POLICY, &forge(&[1; 16], "s", "u"), &UA).is_ok());
    for (nonce, sid, sub) in [
        (&[1u8; 15][..], "s", "u"),
        (&[1u8; 17][..], "s", "u"),
        (&[1u8; 16][..], "", "u"),
        (&[1u8; 16][..], "s", ""),
    ] {
        assert_eq!(
            open(&k, &UA_POLICY, &forge(nonce, sid, sub), &UA),
            Err(BindingError::Malformed),
            "nonce {} sid {sid:?} sub {sub:?}",
            nonce.len()
        );
    }
    // The longest sealable cookie opens; the length guard sits above it.
    let longest = seal(&k, &UA_POLICY, &with(&max, &max), &UA, &[1; 16]).unwrap_or_default();
    assert!(longest.len() <= 4 * MAX_PART_BYTES);
    assert!(open(&k, &UA_POLICY, &longest, &UA).is_ok());
    let too_long = format!(
        "{longest}{}",
        "A".repeat(4 * MAX_PART_BYTES + 1 - longest.len())
    );
    assert_eq!(
        open(&k, &UA_POLICY, &too_long, &UA),
        Err(BindingError::Malformed)
    );
}

#[test]
fn unverified_session_id_reads_only_the_id() {
    let v = sealed(&UA_POLICY, &UA);
    assert_eq!(unverified_session_id(&v).as_deref(), Some("sess-1"));
    assert_eq!(unverified_session_id("v1.a.c2Vzcw.b.c"), None);
    assert_eq!(unverified_session_id("v2.a..b.1.c"), None);
    assert_eq!(unverified_session_id("v2.a.!!.b.1.c"), None);
    assert_eq!(unverified_session_id(&"v2.".repeat(999)), None);
}

#[test]
fn key_parsing() {
    assert!(BindingKeys::parse("").is_err());
    assert!(BindingKeys::parse("c2hvcnQ").is_err());
    assert!(BindingKeys::parse("not base64!").is_err());
    assert!(BindingKeys::parse(&format!("{K1}, {K2}")).is_ok());
}

#[test]
fn debug_shows_no_key_material() {
    let k = keys(&format!("{K1},{K2}"));
    let shown = format!("{k:?}");
    assert_eq!(shown, "BindingKeys(2 keys)");
    assert!(!shown.contains(K1) && !shown.contains("AAECAw"));
}

#[test]
fn the_epoch_is_a_minting_time() {
    let at_zero = SessionCookie {
        minted_ms: 0,
        ..cookie()
    };
    let v = seal(&keys(K1), &UA_POLICY, &at_zero, &UA, &[1; 16]).unwrap_or_default();
    assert!(v.contains(".0."), "{v}");
    assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(at_zero));
}

#[test]
fn unverified_session_id_length_bound_is_inclusive() {
    let sid = Base64UrlUnpadded::encode_string(b"sess-1");
    let head = format!("v2.AAAA.{sid}.dXNlcg.1.");
    let at = format!("{head}{}", "A".repeat(4 * MAX_PART_BYTES - head.len()));
    assert_eq!(at.len(), 4 * MAX_PART_BYTES);
    assert_eq!(unverified_session_id(&at).as_deref(), Some("sess-1"));
    assert_eq!(unverified_session_id(&format!("{at}A")), None);
}

#[test]
fn open_length_bound_is_inclusive() {
    // open bounds the whole value, not each part: a validly MACed value of exactly
    // 4 * MAX_PART_BYTES opens, one byte longer is malformed whatever its MAC.
    let k = keys(K1);
    let valued = |sid_bytes: usize| {
        let c = SessionCookie {
            session_id: "x".repeat(sid_bytes),
            subject: "user-1".into(),
            minted_ms: 5,
        };
        let tag = mac(&k.keys[0], &[1; 16], &c, &UA_POLICY, &UA)
            .map(|m| m.finalize().into_bytes().to_vec())
            .unwrap_or_default();
        let v = format!(
            "v2.{}.{}.{}.5.{}",
            Base64UrlUnpadded::encode_string(&[1; 16]),
            Base64UrlUnpadded::encode_string(c.session_id.as_bytes()),
            Base64UrlUnpadded::encode_string(c.subject.as_bytes()),
            Base64UrlUnpadded::encode_string(&tag)
        );
        (v, c)
    };
    let (at, c) = valued(1475);
    assert_eq!(at.len(), 4 * MAX_PART_BYTES);
    assert_eq!(open(&k, &UA_POLICY, &at, &UA), Ok(c));
    let (over, _) = valued(1476);
    assert_eq!(over.len(), 4 * MAX_PART_BYTES + 1);
    assert_eq!(
        open(&k, &UA_POLICY, &over, &UA),
        Err(BindingError::Malformed)
    );
}

#[test]
fn fifteen_digits_is_the_longest_minting_time() {
    let longest = SessionCookie {
        minted_ms: 999_999_999_999_999,
        ..cookie()
    };
    let v = seal(&keys(K1), &UA_POLICY, &longest, &UA, &[1; 16]).unwrap_or_default();
    assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(longest));
}

#[test]
fn what_seal_writes_opens() {
    // Every minting time `seal` accepts opens again; `open` reads at most 15 digits, so the
    // largest 15-digit value is the last one sealed.
    for minted_ms in [0, 999_999_999_999_999, 1_000_000_000_000_000, i64::MAX] {
        let c = SessionCookie {
            minted_ms,
            ..cookie()
        };
        match seal(&keys(K1), &UA_POLICY, &c, &UA, &[7; 16]) {
            Some(v) => assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(c), "{v}"),
            None => assert!(minted_ms > 999_999_999_999_999, "{minted_ms} not sealed"),
        }
    }
}

#[test]
fn a_second_spelling_of_the_minting_time_is_refused() {
    // `0` before the digits reads as the same number, but it is not what `seal` wrote.
    let v = sealed(&UA_POLICY, &UA);
    let (head, tail) = v.rsplit_once('.').unwrap_or_default();
    let (head, minted) = head.rsplit_once('.').unwrap_or_default();
    for spelling in [format!("0{minted}"), format!("00{minted}")] {
        let other = format!("{head}.{spelling}.{tail}");
        assert_eq!(
            open(&keys(K1), &UA_POLICY, &other, &UA),
            Err(BindingError::Malformed),
            "{other}"
        );
    }
    let zero = SessionCookie {
        minted_ms: 0,
        ..cookie()
    };
    let v = seal(&keys(K1), &UA_POLICY, &zero, &UA, &[7; 16]).unwrap_or_default();
    assert_eq!(open(&keys(K1), &UA_POLICY, &v, &UA), Ok(zero));
}
