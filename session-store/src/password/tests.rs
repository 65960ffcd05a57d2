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
