use super::*;
use base64ct::{Base64UrlUnpadded, Encoding};

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

/// Signs `header` and `claims` with `t`'s key, as `issue` does, so only the header differs.
fn signed_with(t: &ClientTokens, header: &str, claims: &ClientClaims) -> String {
    let mut out = Base64UrlUnpadded::encode_string(header.as_bytes());
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(
        &serde_json::to_vec(claims).unwrap(),
    ));
    let mut m = mac(t.key.as_ref());
    m.update(out.as_bytes());
    let sig = m.finalize().into_bytes();
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(&sig));
    out
}

#[test]
fn only_the_hs256_at_jwt_header_is_accepted() {
    let t = ClientTokens::new("https://store", "edge", "s3cret");
    let claims = t.verify(&t.issue(NOW, 3600), NOW).unwrap();
    // Each header is correctly signed with the client key: only the header decides.
    let cases: &[(&str, bool)] = &[
        (r#"{"alg":"HS256","typ":"at+jwt"}"#, true),
        (r#"{"typ":"at+jwt","alg":"HS256"}"#, true),
        (r#"{"alg":"HS256","typ":"JWT"}"#, false),
        (r#"{"alg":"HS256"}"#, false),
        (r#"{"alg":"HS256","typ":"AT+JWT"}"#, false),
        (r#"{"alg":"none","typ":"at+jwt"}"#, false),
        (r#"{"alg":"HS512","typ":"at+jwt"}"#, false),
        (r#"{"alg":"ES256","typ":"at+jwt"}"#, false),
        (r#"{"typ":"at+jwt"}"#, false),
        (r#"{"alg":"none","typ":"JWT"}"#, false),
        (r#"{"alg":1,"typ":"at+jwt"}"#, false),
        ("[]", false),
    ];
    for (header, accepted) in cases {
        let token = signed_with(&t, header, &claims);
        assert_eq!(t.verify(&token, NOW).is_some(), *accepted, "{header}");
    }
}

#[test]
fn debug_names_the_client_but_never_the_key() {
    let t = ClientTokens::new("https://store", "edge", "s3cret");
    let shown = format!("{t:?}");
    assert!(
        shown.contains("ClientTokens") && shown.contains("edge"),
        "{shown}"
    );
    assert!(
        !shown.contains("key") && !shown.contains("s3cret"),
        "{shown}"
    );
    assert!(
        !shown.contains(&format!("{:?}", t.key.as_ref())),
        "key bytes in {shown}"
    );
}
