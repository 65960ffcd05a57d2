use super::*;

const OBJ: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn session_ids_round_trip_and_carry_128_bits() {
    let id = session_id(OBJ, &[7u8; SESSION_SECRET_BYTES]);
    assert_eq!(session_route(&id), Some(OBJ));
    assert!(
        refresh_route(&id).is_none(),
        "a session id is not a refresh token"
    );
    assert_eq!(id.rsplit('.').next().map(str::len), Some(22));
}

#[test]
fn refresh_tokens_round_trip_and_carry_256_bits() {
    let t = refresh_token(OBJ, &[9u8; REFRESH_SECRET_BYTES]);
    assert_eq!(refresh_route(&t), Some(OBJ));
    assert!(session_route(&t).is_none());
    assert_eq!(token_hash(&t).len(), 64);
    assert_ne!(token_hash(&t), token_hash(&format!("{t}x")));
}

#[test]
fn malformed_ids_are_rejected() {
    let good = session_id(OBJ, &[1u8; SESSION_SECRET_BYTES]);
    let upper = good.replace("abcdef", "ABCDEF");
    let cases = [
        "",
        "s1",
        "s1..",
        "s2.x.y",
        &upper,
        &format!("{good}.extra"),
        &format!("s1.{}.AAAAAAAAAAAAAAAAAAAAAA", &OBJ[1..]),
        &format!("s1.{OBJ}.AAAAAAAAAAAAAAAAAAAAA"),
        &format!("s1.{OBJ}.AAAAAAAAAAAAAAAAAAAAA="),
        &format!("s1.{OBJ}.AAAAAAAAAAAAAAAAAAAAAB"),
    ];
    for case in cases {
        assert!(session_route(case).is_none(), "{case:?} must be rejected");
    }
}

#[test]
fn random_differs() {
    let a: [u8; 16] = random().unwrap();
    let b: [u8; 16] = random().unwrap();
    assert_ne!(a, b);
}

#[test]
fn secrets_of_the_wrong_length_do_not_route() {
    // Canonical base64url of every length but the kind's own: a session secret is 16 bytes, a
    // refresh secret 32, and one kind's secret never routes as the other.
    let b64 = |n: usize| Base64UrlUnpadded::encode_string(&vec![0x5a; n]);
    for n in [0, 1, 15, 17, 24, 31, 32, 33, 64] {
        let value = format!("s1.{OBJ}.{}", b64(n));
        assert_eq!(
            session_route(&value).is_some(),
            n == 16,
            "session, {n} bytes"
        );
    }
    for n in [0, 1, 16, 31, 33, 48, 64] {
        let value = format!("rt1.{OBJ}.{}", b64(n));
        assert_eq!(
            refresh_route(&value).is_some(),
            n == 32,
            "refresh, {n} bytes"
        );
    }
    assert_eq!(refresh_route(&format!("rt1.{OBJ}.{}", b64(32))), Some(OBJ));
}

#[test]
fn login_attempts_objects_are_hashed_folded_usernames() {
    let alice = login_attempts_object("alice");
    assert_eq!(alice.len(), LOGIN_ATTEMPTS_PREFIX.len() + 64);
    assert!(alice.starts_with(LOGIN_ATTEMPTS_PREFIX) && !alice.contains("alice"));
    assert_eq!(
        login_attempts_object(" ALICE "),
        alice,
        "one counter per name"
    );
    assert_ne!(login_attempts_object("alice2"), alice);
    // SHA-256("alice"), so the name is the digest and nothing else.
    assert_eq!(
        alice,
        "login-attempts:2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
    );
}

#[test]
fn jti_is_the_canonical_encoding_of_its_random_bytes() {
    // Distinct random input gives a distinct jti, and the jti carries all 128 bits.
    let mut seen = std::collections::HashSet::new();
    for i in 0..=255u8 {
        let r = [i; JTI_BYTES];
        let j = jti(&r);
        assert_eq!(j.len(), 22, "{j}");
        assert_eq!(Base64UrlUnpadded::decode_vec(&j).unwrap(), r, "{j}");
        assert!(j
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        seen.insert(j);
    }
    assert_eq!(seen.len(), 256, "jtis collide");
}
