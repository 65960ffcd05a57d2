use super::*;

const NOW: Millis = 1_767_225_600_000;

#[test]
fn issued_tokens_verify_until_expiry() {
    let t = ClientTokens::new("https://store", "edge", "s3cret");
    let tok = t.issue(NOW, 3600);
    let c = t.verify(&tok, NOW).unwrap();
    assert_eq!(c.client_id, "edge");
    assert!(t.verify(&tok, NOW + 3_599_999).is_some());
    assert!(t.verify(&tok, NOW + 3_600_000).is_none(), "expired");
    assert!(
        t.verify(&tok, NOW - 61_000).is_none(),
        "issued in the future"
    );
}

#[test]
fn foreign_or_tampered_tokens_fail() {
    let t = ClientTokens::new("https://store", "edge", "s3cret");
    let tok = t.issue(NOW, 3600);
    let other_secret = ClientTokens::new("https://store", "edge", "rotated");
    assert!(other_secret.verify(&tok, NOW).is_none());
    let other_issuer = ClientTokens::new("https://other", "edge", "s3cret");
    assert!(other_issuer.verify(&tok, NOW).is_none());
    let mut bytes = tok.clone().into_bytes();
    let mid = tok.rfind('.').unwrap() + 10;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    assert!(t.verify(&String::from_utf8(bytes).unwrap(), NOW).is_none());
    assert!(t.verify("", NOW).is_none());
    assert!(t.verify("a.b", NOW).is_none());
    assert!(t.verify("a.b.c", NOW).is_none());
}

#[test]
fn secret_comparison() {
    assert!(secrets_equal("abc", "abc"));
    assert!(!secrets_equal("abc", "abd"));
    assert!(!secrets_equal("abc", "abcd"));
    assert!(!secrets_equal("", "x"));
}
