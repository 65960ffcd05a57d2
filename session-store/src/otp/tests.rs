use super::*;

/// RFC 6238 Appendix B's SHA-1 secret, and its base32 form (the store's documented dev secret).
const RFC_SECRET: &[u8] = b"12345678901234567890";
const RFC_SECRET_BASE32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

#[test]
fn rfc6238_vectors_at_six_digits() {
    // Appendix B (SHA-1, 8 digits) cut to the last 6 digits: the same truncation mod 10^6.
    let rows: &[(i64, &str)] = &[
        (59, "287082"),
        (1_111_111_109, "081804"),
        (1_111_111_111, "050471"),
        (1_234_567_890, "005924"),
        (2_000_000_000, "279037"),
        (20_000_000_000, "353130"),
    ];
    for (t, want) in rows {
        let step = t / 30;
        assert_eq!(totp_code(RFC_SECRET, step), *want, "T = {t}");
        assert_eq!(totp_step(RFC_SECRET, want, t * 1000), Some(step), "T = {t}");
    }
}

#[test]
fn one_step_of_drift_each_way_and_no_more() {
    let t_ms = 1_111_111_111_000;
    let now = step_at(t_ms);
    for d in [-1, 0, 1] {
        let code = totp_code(RFC_SECRET, now + d);
        assert_eq!(
            totp_step(RFC_SECRET, &code, t_ms),
            Some(now + d),
            "drift {d}"
        );
    }
    for d in [-3, -2, 2, 3] {
        let code = totp_code(RFC_SECRET, now + d);
        assert_eq!(totp_step(RFC_SECRET, &code, t_ms), None, "drift {d}");
    }
}

#[test]
fn step_boundaries() {
    // 59.999 s is step 1, 60 s step 2.
    assert_eq!(step_at(59_999), 1);
    assert_eq!(step_at(60_000), 2);
    assert_eq!(step_at(-5), 0);
}

#[test]
fn malformed_codes_never_match() {
    let t_ms = 59_000;
    for code in [
        "",
        "28708",
        "2870822",
        "28708a",
        " 287082",
        "287082\n",
        "２８７０８２",
    ] {
        assert_eq!(totp_step(RFC_SECRET, code, t_ms), None, "{code:?}");
    }
}

#[test]
fn base32_secret_decodes_case_spaces_and_padding() {
    assert_eq!(
        decode_secret(RFC_SECRET_BASE32).as_deref(),
        Some(RFC_SECRET)
    );
    assert_eq!(
        decode_secret("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").as_deref(),
        Some(RFC_SECRET)
    );
    assert_eq!(
        decode_secret("JBSWY3DPEE======").as_deref(),
        Some(&b"Hello!"[..])
    );
    assert_eq!(decode_secret(""), None);
    assert_eq!(decode_secret("not base32!"), None);
    assert_eq!(decode_secret("A"), None);
}

#[test]
fn passcodes_are_six_digits_and_hashed_with_their_salt() {
    assert_eq!(passcode([0; 8]), "000000");
    assert_eq!(passcode(1_234_567u64.to_le_bytes()), "234567");
    assert_eq!(passcode([0xff; 8]).len(), 6);
    let h = passcode_hash("salt", "123456");
    assert_eq!(h.len(), 64);
    assert_ne!(h, passcode_hash("other", "123456"));
    assert!(passcode_matches("salt", &h, "123456"));
    assert!(!passcode_matches("salt", &h, "123457"));
    assert!(!passcode_matches("other", &h, "123456"));
    assert!(!passcode_matches("salt", &h, "12345"));
}
