use serde_json::{json, Value};

use super::*;
use crate::keys::Alg;

#[path = "../../tests/common/mod.rs"]
mod common;
use common::{b64, key, ISSUER, NOW};

const ALL: &[Alg] = &[Alg::Es256, Alg::Rs256, Alg::Ps256, Alg::Ed25519];

fn policy() -> Policy {
    Policy {
        issuer: ISSUER.into(),
        audiences: vec![common::AUDIENCE.into(), "other-api".into()],
        typ: TypRule::OneOf(vec!["at+jwt".into()]),
        leeway_secs: 30,
    }
}

fn keyset() -> KeySet {
    let (es, rs, ed) = (key("es256"), key("rs256"), key("ed25519"));
    KeySet::from_jwks_json(common::jwks(&[&es, &rs, &ed]).as_bytes(), ALL).expect("keyset")
}

fn check(token: &str) -> Result<VerifiedClaims, TokenError> {
    verify(token, &keyset(), &policy(), NOW)
}

/// "ok", or the refusal's reason: what the table tests compare.
fn outcome(token: &str) -> &'static str {
    match check(token) {
        Ok(_) => "ok",
        Err(e) => e.reason(),
    }
}

#[test]
fn valid_tokens_of_each_algorithm_verify() {
    for name in ["es256", "rs256", "ed25519"] {
        let k = key(name);
        let claims = check(&k.token(NOW, json!({}))).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(claims.sub, "user-123");
        assert_eq!(claims.sid.as_deref(), Some("sess-1"));
        assert_eq!(claims.roles, vec!["reader", "writer"]);
        assert_eq!(claims.exp, NOW + 3600);
    }
}

#[test]
fn ed25519_accepts_both_alg_names() {
    let k = key("ed25519");
    let claims = common::claims(NOW);
    for alg in ["EdDSA", "Ed25519"] {
        let t = k.sign(&json!({"alg": alg, "typ": "at+jwt", "kid": k.kid}), &claims);
        assert!(check(&t).is_ok(), "{alg}");
    }
}

/// One row per time rule: (claims overrides, expected outcome as reason or "ok").
#[test]
fn time_rules_table() {
    let k = key("es256");
    let rows: &[(Value, &str)] = &[
        (json!({}), "ok"),
        (json!({"exp": NOW - 10}), "ok"), // inside the 30 s leeway
        (json!({"exp": NOW - 30}), "expired"),
        (json!({"exp": NOW - 3600}), "expired"),
        (json!({"exp": NOW - 29}), "ok"), // the leeway's edges, each side
        (json!({"nbf": NOW + 20}), "ok"),
        (json!({"nbf": NOW + 30}), "ok"),
        (json!({"iat": NOW + 30}), "ok"),
        (json!({"nbf": NOW + 31}), "not_yet_valid"),
        (json!({"iat": NOW + 29}), "ok"),
        (json!({"iat": NOW + 31}), "issued_in_future"),
        (json!({"exp": null}), "missing_claim"),
        (json!({"iat": null}), "missing_claim"),
        (json!({"exp": "9999999999"}), "malformed_claims"),
        (json!({"exp": 1.8e9}), "malformed_claims"),
        (json!({"exp": 1e300}), "malformed_claims"),
        (json!({"exp": MAX_NUMERIC_DATE + 1}), "malformed_claims"),
        (json!({"exp": -1}), "malformed_claims"),
        (json!({"nbf": "0"}), "malformed_claims"),
    ];
    for (extra, expected) in rows {
        let got = outcome(&k.token(NOW, extra.clone()));
        assert_eq!(got, *expected, "claims {extra}");
    }
}

#[test]
fn identity_rules_table() {
    let k = key("rs256");
    let rows: &[(Value, &str)] = &[
        (json!({"iss": "https://issuer.test/"}), "wrong_issuer"),
        (json!({"iss": null}), "missing_claim"),
        (json!({"aud": "someone-else"}), "wrong_audience"),
        (json!({"aud": ["x", "other-api"]}), "ok"),
        (json!({"aud": []}), "wrong_audience"),
        (json!({"aud": null}), "missing_claim"),
        (json!({"sub": null}), "missing_claim"),
        (json!({"sub": ""}), "missing_claim"),
        (json!({"sub": 42}), "malformed_claims"),
        (json!({"roles": "admin"}), "ok"),
        (json!({"roles": [1, 2]}), "malformed_claims"),
        (json!({"sid": null}), "ok"),
    ];
    for (extra, expected) in rows {
        let got = outcome(&k.token(NOW, extra.clone()));
        assert_eq!(got, *expected, "claims {extra}");
    }
}

#[test]
fn auth_time_is_read_as_a_numeric_date() {
    let k = key("es256");
    let rows: &[(Value, Result<Option<i64>, &str>)] = &[
        (json!({}), Ok(None)),
        (json!({"auth_time": null}), Ok(None)),
        (json!({"auth_time": NOW - 60}), Ok(Some(NOW - 60))),
        (json!({"auth_time": 0}), Ok(Some(0))),
        // Like exp, iat and nbf: an integer in range, nothing else.
        (json!({"auth_time": 1.5}), Err("malformed_claims")),
        (json!({"auth_time": "1700000000"}), Err("malformed_claims")),
        (json!({"auth_time": -1}), Err("malformed_claims")),
        (
            json!({"auth_time": MAX_NUMERIC_DATE + 1}),
            Err("malformed_claims"),
        ),
    ];
    for (extra, want) in rows {
        let got = check(&k.token(NOW, extra.clone()))
            .map(|c| c.auth_time)
            .map_err(|e| e.reason());
        assert_eq!(got, *want, "claims {extra}");
    }
}

/// Signs `common::claims(NOW)` under each header with `k` and checks the outcome.
fn header_rows(k: &common::TestKey, rows: &[(Value, &str)]) {
    let claims = common::claims(NOW);
    for (header, expected) in rows {
        let got = outcome(&k.sign(header, &claims));
        assert_eq!(got, *expected, "header {header}");
    }
}

/// Header rules, part 1: `typ` and `alg`.
#[test]
fn header_typ_and_alg_table() {
    let k = key("es256");
    let kid = k.kid.clone();
    let rows: &[(Value, &str)] = &[
        (json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}), "ok"),
        (
            json!({"alg": "ES256", "typ": "application/at+jwt", "kid": kid}),
            "ok",
        ),
        (json!({"alg": "ES256", "typ": "AT+JWT", "kid": kid}), "ok"),
        (
            json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
            "wrong_typ",
        ),
        (json!({"alg": "ES256", "kid": kid}), "wrong_typ"),
        (
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            "unsupported_alg",
        ),
        (
            json!({"alg": "None", "typ": "at+jwt", "kid": kid}),
            "unsupported_alg",
        ),
        (
            json!({"alg": "NONE", "typ": "at+jwt", "kid": kid}),
            "unsupported_alg",
        ),
        (
            json!({"alg": "HS256", "typ": "at+jwt", "kid": kid}),
            "unsupported_alg",
        ),
        (
            json!({"alg": "es256", "typ": "at+jwt", "kid": kid}),
            "unsupported_alg",
        ),
        (
            json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}),
            "alg_mismatch",
        ),
    ];
    header_rows(&k, rows);
}

/// Header rules, part 2: `kid`, and the parameters that would let a token choose its key or
/// change how it is read.
#[test]
fn header_key_rules_table() {
    let k = key("es256");
    let kid = k.kid.clone();
    let rows: &[(Value, &str)] = &[
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "nope"}),
            "unknown_kid",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": ""}),
            "unknown_kid",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "../../dev/null"}),
            "unknown_kid",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "x".repeat(1024)}),
            "unknown_kid",
        ),
        (json!({"alg": "ES256", "typ": "at+jwt"}), "ok"), // one ES256 key: no kid needed
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "jku": "https://evil.test/jwks"}),
            "forbidden_header",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "x5u": "https://evil.test/cert"}),
            "forbidden_header",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "jwk": k.public_jwk}),
            "forbidden_header",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "x5c": ["MIIB"]}),
            "forbidden_header",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "crit": ["exp"], "exp": 1}),
            "forbidden_header",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "zip": "DEF"}),
            "forbidden_header",
        ),
        (
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid, "cty": "cbor"}),
            "malformed",
        ),
    ];
    header_rows(&k, rows);
}

#[test]
fn a_kid_is_required_when_several_keys_fit() {
    let (a, b) = (key("es256"), key("es256"));
    let mut b_jwk = b.public_jwk.clone();
    b_jwk["kid"] = json!("second");
    let doc = json!({"keys": [a.public_jwk, b_jwk]}).to_string();
    let set = KeySet::from_jwks_json(doc.as_bytes(), ALL).expect("set");
    let t = a.sign(
        &json!({"alg": "ES256", "typ": "at+jwt"}),
        &common::claims(NOW),
    );
    assert_eq!(
        verify(&t, &set, &policy(), NOW),
        Err(TokenError::MissingKeyId)
    );
}

#[test]
fn typ_rule_any_accepts_missing_typ() {
    let k = key("ed25519");
    let t = k.sign(&json!({"alg": "EdDSA", "kid": k.kid}), &common::claims(NOW));
    let mut p = policy();
    p.typ = TypRule::Any;
    assert!(verify(&t, &keyset(), &p, NOW).is_ok());
}

#[test]
fn tampering_is_detected_for_each_algorithm() {
    for name in ["es256", "rs256", "ed25519"] {
        let k = key(name);
        let good = k.token(NOW, json!({}));
        let (signed, sig) = good.rsplit_once('.').expect("three parts");
        // Flip a character in the middle of the signature (the last one may only hold padding).
        let mut sig_bytes = sig.as_bytes().to_vec();
        let mid = sig_bytes.len() / 2;
        sig_bytes[mid] = if sig_bytes[mid] == b'A' { b'B' } else { b'A' };
        let bad_sig = format!("{signed}.{}", String::from_utf8_lossy(&sig_bytes));
        assert_eq!(
            check(&bad_sig).map(|_| ()),
            Err(TokenError::BadSignature),
            "{name}"
        );
        // Same signature over other claims.
        let other = common::claims(NOW);
        let mut other = other.as_object().cloned().unwrap_or_default();
        other.insert("sub".into(), json!("admin"));
        let header_b64 = signed.split('.').next().unwrap_or_default();
        let forged = format!(
            "{header_b64}.{}.{sig}",
            b64(Value::Object(other).to_string().as_bytes())
        );
        assert_eq!(
            check(&forged).map(|_| ()),
            Err(TokenError::BadSignature),
            "{name}"
        );
        // Empty and truncated signatures.
        assert_eq!(
            check(&format!("{signed}.")).map(|_| ()),
            Err(TokenError::BadSignature)
        );
        let short = &sig[..sig.len() / 2];
        assert!(check(&format!("{signed}.{short}")).is_err());
    }
}

#[test]
fn hs256_with_the_public_key_is_refused() {
    use hmac::{Hmac, Mac};
    let k = key("rs256");
    let header = b64(br#"{"alg":"HS256","typ":"at+jwt","kid":"test-rs256"}"#);
    let payload = b64(common::claims(NOW).to_string().as_bytes());
    let signed = format!("{header}.{payload}");
    let secret = k.public_jwk.to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(signed.as_bytes());
    let t = format!("{signed}.{}", b64(&mac.finalize().into_bytes()));
    assert_eq!(
        check(&t).map(|_| ()),
        Err(TokenError::UnsupportedAlgorithm("HS256".into()))
    );
}

#[test]
fn structure_errors() {
    let k = key("es256");
    let good = k.token(NOW, json!({}));
    let rows: Vec<(String, &str)> = vec![
        (String::new(), "malformed"),
        ("abc".into(), "malformed"),
        ("a.b".into(), "malformed"),
        (format!("{good}.extra"), "malformed"),
        (good.replacen('.', "=.", 1), "malformed"),
        (good.replace('-', "+").replace('_', "/") + "+", "malformed"),
        (format!(" {good}"), "malformed"),
        ("x".repeat(MAX_TOKEN_BYTES + 1), "too_large"),
    ];
    for (t, expected) in rows {
        let got = outcome(&t);
        assert_eq!(got, expected, "token of len {}", t.len());
    }
}

#[test]
fn claims_must_be_a_plain_json_object() {
    let k = key("es256");
    let header = k.header().to_string();
    let rows: &[(&str, &str)] = &[
        (r#"["https://issuer.test","user"]"#, "malformed_claims"),
        (r#"{"sub":"a","sub":"b"}"#, "malformed_claims"),
        ("\u{00ff}", "malformed_claims"),
    ];
    for (payload, expected) in rows {
        let got = outcome(&k.sign_raw(&header, payload));
        assert_eq!(got, *expected, "payload {payload}");
    }
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
    assert_eq!(
        check(&k.sign_raw(&header, &deep))
            .map(|_| ())
            .map_err(|e| e.reason()),
        Err("malformed_claims")
    );
    let dup = format!(
        r#"{{"iss":"{ISSUER}","sub":"u","aud":"api://edge","exp":{},"exp":{},"iat":{NOW}}}"#,
        NOW + 10,
        NOW + 99999
    );
    assert_eq!(
        check(&k.sign_raw(&header, &dup))
            .map(|_| ())
            .map_err(|e| e.reason()),
        Err("malformed_claims")
    );
}

#[test]
fn error_text_never_contains_the_token() {
    let k = key("es256");
    let t = k.token(NOW, json!({"exp": NOW - 999}));
    let e = check(&t).expect_err("expired");
    let text = format!("{e} {e:?}");
    let sig = t.rsplit('.').next().unwrap_or_default();
    assert!(!text.contains(sig));
    assert!(!text.contains(&t[..20]));
}

#[test]
fn json_depth_scanner() {
    assert!(!json_too_deep(br#"{"a":[1,{"b":2}]}"#, 3));
    assert!(json_too_deep(br#"{"a":[1,{"b":[2]}]}"#, 3));
    assert!(!json_too_deep(br#"{"a":"[[[[[[[[[[\"{{{{"}"#, 1));
}

#[test]
fn deeply_nested_header_is_refused() {
    let k = key("es256");
    let header = format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":"test-es256","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let t = k.sign_raw(&header, &common::claims(NOW).to_string());
    assert_eq!(
        check(&t).map(|_| ()).map_err(|e| e.reason()),
        Err("malformed")
    );
}

#[test]
fn invalid_utf8_anywhere_in_the_claims_is_refused() {
    let k = key("es256");
    let header = b64(k.header().to_string().as_bytes());
    let mut claims = common::claims(NOW).to_string().into_bytes();
    // Replace the closing brace with an unused claim holding a lone continuation byte.
    claims.pop();
    claims.extend_from_slice(b",\"note\":\"\x80\"}");
    let signed = format!("{header}.{}", b64(&claims));
    let sig = k.signature(signed.as_bytes());
    let t = format!("{signed}.{}", b64(&sig));
    assert_eq!(
        check(&t).map(|_| ()).map_err(|e| e.reason()),
        Err("malformed_claims")
    );
}

#[test]
fn json_depth_is_nesting_not_count() {
    // Many siblings are shallow: closing brackets give the depth back.
    assert!(!json_too_deep(
        br#"{"a":[1],"b":[2],"c":{"d":3},"e":[[4]]}"#,
        3
    ));
    let wide = format!("[{}]", vec!["{}"; 40].join(","));
    assert!(!json_too_deep(wide.as_bytes(), 2));
    // An escaped quote does not end a string, so the bracket after it is text.
    assert!(!json_too_deep(br#"{"a":"x\"[[[["}"#, 1));
    // Exactly the limit passes; one level more does not.
    assert!(!json_too_deep(b"[[[]]]", 3));
    assert!(json_too_deep(b"[[[[]]]]", 3));
}

#[test]
fn inspect_says_why_and_its_bounds_are_inclusive() {
    let jws =
        |header: &Value| format!("{}.{}.c2ln", b64(header.to_string().as_bytes()), b64(b"{}"));
    let refused = |t: &str| match inspect(t, &policy()) {
        Ok(_) => panic!("accepted: {t}"),
        Err(e) => e,
    };
    // The log detail of each structural refusal.
    let rows: Vec<(String, &str)> = vec![
        ("abc".into(), "not three dot-separated parts"),
        ("!!!.e30.c2ln".into(), "invalid base64url"),
        (
            format!("{}.e30.c2ln", b64(b"[1]")),
            "header is not a JSON object",
        ),
        (
            jws(&json!({"alg": "ES256", "typ": "at+jwt", "cty": "xml"})),
            "unsupported cty",
        ),
        // Exactly MAX_TOKEN_BYTES is read (and fails on its shape).
        ("x".repeat(MAX_TOKEN_BYTES), "not three dot-separated parts"),
    ];
    for (t, why) in rows {
        assert_eq!(refused(&t), TokenError::Malformed(why), "{why}");
    }
    // A kid of exactly MAX_KID_LEN passes inspection (the key set decides); one more does not.
    let kid = |n: usize| jws(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "k".repeat(n)}));
    assert!(inspect(&kid(MAX_KID_LEN), &policy()).is_ok());
    assert_eq!(refused(&kid(MAX_KID_LEN + 1)), TokenError::UnknownKey);
}

#[test]
fn error_display_is_readable_and_bounded() {
    assert_eq!(
        TokenError::TooLarge { len: 9000 }.to_string(),
        "token is 9000 bytes (max 8192)"
    );
    assert_eq!(
        TokenError::WrongType.to_string(),
        "typ missing or not accepted"
    );
    assert_eq!(
        TokenError::UnsupportedAlgorithm("HS256-and-a-long-tail".into()).to_string(),
        "unsupported alg \"HS256-and-a-long\""
    );
}

#[test]
fn inspected_exposes_exactly_what_the_signature_covers() {
    // The WebCrypto path verifies over these bytes: `header.payload` as sent, and the
    // decoded signature.
    let t = key("es256").token(NOW, json!({}));
    let Some((data, sig)) = t.rsplit_once('.') else {
        panic!("three parts")
    };
    let Ok(i) = inspect(&t, &policy()) else {
        panic!("inspects")
    };
    assert_eq!(i.signed_data(), data.as_bytes());
    assert_eq!(
        Some(i.signature()),
        <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(sig)
            .ok()
            .as_deref()
    );
}

#[test]
fn approx_size_counts_every_string_field() {
    // The verified-token cache is bounded by this figure: each field's bytes count once.
    let base = VerifiedClaims {
        sub: "s".into(),
        aud: vec!["a".into()],
        exp: 2,
        iat: 1,
        jti: None,
        client_id: None,
        sid: None,
        roles: vec![],
        scope: None,
        amr: vec![],
        auth_time: None,
    };
    let size = base.approx_size();
    assert_eq!(size, std::mem::size_of::<VerifiedClaims>() + 2);
    type Grow = fn(&mut VerifiedClaims);
    let grown: [(Grow, usize); 8] = [
        (|c| c.sub.push_str("1234"), 4),
        (|c| c.aud.push("12345".into()), 5),
        (|c| c.roles.push("123".into()), 3),
        (|c| c.jti = Some("1234567".into()), 7),
        (|c| c.client_id = Some("12".into()), 2),
        (|c| c.sid = Some("123456".into()), 6),
        (|c| c.scope = Some("12345678".into()), 8),
        (|c| c.amr.push("123456789".into()), 9),
    ];
    for (grow, by) in grown {
        let mut c = base.clone();
        grow(&mut c);
        assert_eq!(c.approx_size(), size + by, "{c:?}");
    }
}
