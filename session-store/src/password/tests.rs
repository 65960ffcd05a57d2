use super::*;

// Small parameters keep the tests fast; the format and logic are the same.
const FAST: (u32, u32, u32) = (64, 1, 1);

#[test]
fn hashes_verify_and_wrong_passwords_fail() {
    let h = hash("correct horse", b"0123456789abcdef", FAST).unwrap();
    assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    assert_eq!(check(&h), Ok(FAST));
    assert!(verify(&h, "correct horse"));
    assert!(!verify(&h, "correct horsE"));
    assert!(!verify("not a hash", "x"));
}

#[test]
fn dummy_is_well_formed_and_matches_nothing() {
    let d = dummy(FAST);
    assert_eq!(check(&d), Ok(FAST));
    assert!(!verify(&d, ""));
    assert!(!verify(&d, "password"));
    assert_eq!(check(&dummy(DEFAULT_PARAMS)), Ok(DEFAULT_PARAMS));
}

#[test]
fn rejects_weak_or_excessive_hashes() {
    let argon2i = "$argon2i$v=19$m=64,t=1,p=1$c2Vzc2lvbi1zdG9yZS1kdW1teS1zYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert!(check(argon2i).is_err());
    assert!(check(&dummy((MAX_MEMORY_KIB * 2, 1, 1))).is_err());
    assert!(check(&dummy((64, 50, 1))).is_err());
    assert!(check("$pbkdf2-sha256$i=1000$abc$def").is_err());
}

/// Cost of one verification with the production parameters (native; `--ignored`).
#[test]
#[ignore = "timing, run with --ignored --nocapture"]
fn default_cost() {
    let h = hash("pw", b"0123456789abcdef", DEFAULT_PARAMS).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..5 {
        assert!(verify(&h, "pw"));
    }
    println!(
        "argon2id m=19456,t=2,p=1 verify: {:?} each",
        start.elapsed() / 5
    );
}

/// An argon2id v19 PHC string from its parameter part and what follows it (salt, output).
fn phc(params: &str, tail: &str) -> String {
    format!("$argon2id$v=19${params}{tail}")
}

#[test]
fn parameter_bounds_are_inclusive() {
    let cases: &[((u32, u32, u32), bool)] = &[
        ((MAX_MEMORY_KIB, 1, 1), true),
        ((MAX_MEMORY_KIB + 1, 1, 1), false),
        ((64, MAX_TIME_COST, 1), true),
        ((64, MAX_TIME_COST + 1, 1), false),
        ((MAX_MEMORY_KIB, MAX_TIME_COST, 1), true),
        ((MAX_MEMORY_KIB + 1, MAX_TIME_COST + 1, 1), false),
    ];
    for (params, accepted) in cases {
        assert_eq!(check(&dummy(*params)).is_ok(), *accepted, "{params:?}");
    }
}

#[test]
fn needs_a_salt_and_a_32_byte_output() {
    let salt = "$c2Vzc2lvbi1zdG9yZS1kdW1teS1zYWx0";
    let b64 = |n: usize| {
        use base64ct::{Base64Unpadded, Encoding};
        Base64Unpadded::encode_string(&vec![0u8; n])
    };
    let cases: Vec<(String, bool)> = vec![
        (phc("m=64,t=1,p=1", &format!("{salt}${}", b64(32))), true),
        (phc("m=64,t=1,p=1", &format!("{salt}${}", b64(16))), false),
        (phc("m=64,t=1,p=1", &format!("{salt}${}", b64(31))), false),
        (phc("m=64,t=1,p=1", &format!("{salt}${}", b64(33))), false),
        (phc("m=64,t=1,p=1", &format!("{salt}${}", b64(64))), false),
        (phc("m=64,t=1,p=1", salt), false),
        (phc("m=64,t=1,p=1", ""), false),
    ];
    for (phc, accepted) in cases {
        assert_eq!(check(&phc).is_ok(), accepted, "{phc}");
    }
}

#[test]
fn errors_say_what_is_wrong() {
    let argon2i = dummy(FAST).replace("$argon2id$", "$argon2i$");
    let cases = [
        (argon2i, "argon2id"),
        (dummy((MAX_MEMORY_KIB + 1, 1, 1)), "maximum"),
        (phc("m=64,t=1,p=1", ""), "salt"),
    ];
    for (phc, says) in cases {
        let text = check(&phc).unwrap_err().to_string();
        assert!(text.starts_with("bad password hash: "), "{text}");
        assert!(text.contains(says), "{text}");
    }
}

#[test]
fn work_counts_blocks_per_pass_not_lanes() {
    // RFC 9106 §3.2: m' = 4p·⌊m/4p⌋ blocks, each processed once a pass; the lanes share them.
    let cases: &[((u32, u32, u32), u64)] = &[
        ((64, 1, 1), 64),
        ((64, 3, 1), 192),
        ((64, 1, 4), 64),
        ((66, 1, 1), 64),
        ((70, 2, 4), 128),
        (DEFAULT_PARAMS, 38_912),
        ((MAX_MEMORY_KIB, MAX_TIME_COST, 1), 655_360),
        ((0, 1, 1), 0),
    ];
    for (params, blocks) in cases {
        assert_eq!(work(*params), *blocks, "{params:?}");
    }
}
