use p256::ecdsa::signature::Signer;

use jwt_compact::jwk::JsonWebKey;

use super::*;
use crate::keys::KeySet;
use crate::token::{self, Policy, TypRule};

const NOW: i64 = 1_700_000_000;

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// A P-256 key from a fixed scalar, as a private JWK (`kid` given or not), and the key itself.
fn key_jwk(scalar: u8, kid: Option<&str>) -> (Value, p256::ecdsa::SigningKey) {
    let sk = p256::ecdsa::SigningKey::from_slice(&[scalar; 32]).unwrap();
    let point = sk.verifying_key().to_encoded_point(false);
    let mut jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(point.x().unwrap()),
        "y": b64(point.y().unwrap()),
        "d": b64(&[scalar; 32]),
    });
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    (jwk, sk)
}

fn config(scalar: u8) -> (AssertionConfig, p256::ecdsa::SigningKey) {
    let (jwk, sk) = key_jwk(scalar, Some("edge-1"));
    let config = AssertionConfig {
        issuer: "https://edge.test".into(),
        audience: "https://app.internal".into(),
        lifetime_secs: 60,
        key: SigningKey::from_jwk_json(&jwk.to_string()).unwrap(),
        published: Vec::new(),
    };
    (config, sk)
}

fn claims() -> VerifiedClaims {
    VerifiedClaims {
        sub: "alice".into(),
        aud: vec!["api".into()],
        exp: NOW + 300,
        iat: NOW - 5,
        jti: None,
        client_id: Some("web".into()),
        sid: None,
        roles: vec!["admin".into(), "reader".into()],
        scope: Some("openid profile".into()),
        amr: vec!["pwd".into(), "otp".into()],
        auth_time: Some(NOW - 120),
    }
}

/// Signs the assertion natively, as WebCrypto does in the adapter (raw `r ‖ s`).
fn sign(
    config: &AssertionConfig,
    sk: &p256::ecdsa::SigningKey,
    subject: &Subject<'_>,
    now: i64,
) -> Signed {
    let unsigned = unsigned(config, subject, now);
    let sig: p256::ecdsa::Signature = sk.sign(unsigned.input.as_bytes());
    complete(unsigned, &sig.to_bytes()).unwrap()
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

#[test]
fn a_signed_assertion_verifies_with_the_published_key_and_carries_the_identity() {
    let (config, sk) = config(7);
    let c = claims();
    let signed = sign(&config, &sk, &Subject::of(&c, Some("sess-cookie")), NOW);
    assert_eq!((signed.iat, signed.exp), (NOW, NOW + 60));

    // An ordinary verifier (this crate's own) with the JWKS the edge publishes.
    let jwks = config.jwks().to_string();
    let keys = KeySet::from_jwks_json(jwks.as_bytes(), &[Alg::Es256]).unwrap();
    let policy = Policy {
        issuer: "https://edge.test".into(),
        audiences: vec!["https://app.internal".into()],
        typ: TypRule::OneOf(vec!["JWT".into()]),
        leeway_secs: 0,
    };
    let verified = token::verify(&signed.token, &keys, &policy, NOW + 1).unwrap();
    assert_eq!(verified.sub, "alice");
    assert_eq!(verified.sid.as_deref(), Some("sess-cookie"));
    let other = Policy {
        audiences: vec!["https://other.internal".into()],
        ..policy.clone()
    };
    assert!(token::verify(&signed.token, &keys, &other, NOW + 1).is_err());
    assert!(
        token::verify(&signed.token, &keys, &policy, NOW + 61).is_err(),
        "expired"
    );

    assert_eq!(
        payload(&signed.token),
        json!({
            "iss": "https://edge.test",
            "aud": "https://app.internal",
            "sub": "alice",
            "sid": "sess-cookie",
            "roles": ["admin", "reader"],
            "scope": "openid profile",
            "client_id": "web",
            "amr": ["pwd", "otp"],
            "auth_time": NOW - 120,
            "iat": NOW,
            "exp": NOW + 60,
        })
    );
    let header = signed.token.split('.').next().unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&Base64UrlUnpadded::decode_vec(header).unwrap()).unwrap(),
        json!({ "alg": "ES256", "typ": "JWT", "kid": "edge-1" })
    );
}

#[test]
fn optional_claims_are_left_out_and_the_token_sid_wins() {
    let (config, sk) = config(7);
    let mut c = claims();
    c.client_id = None;
    c.scope = None;
    c.amr = vec![];
    c.roles = vec![];
    c.auth_time = None;
    let p = payload(&sign(&config, &sk, &Subject::of(&c, None), NOW).token);
    let names: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    // serde_json's map is sorted by name.
    assert_eq!(names, ["amr", "aud", "exp", "iat", "iss", "roles", "sub"]);
    assert_eq!((&p["roles"], &p["amr"]), (&json!([]), &json!([])));
    c.sid = Some("sess-token".into());
    let p = payload(&sign(&config, &sk, &Subject::of(&c, Some("sess-cookie")), NOW).token);
    assert_eq!(p["sid"], "sess-token");
}

#[test]
fn only_an_es256_length_signature_completes_a_token() {
    let (config, _) = config(7);
    let c = claims();
    let u = unsigned(&config, &Subject::of(&c, None), NOW);
    for len in [0, 63, 65, 72] {
        assert_eq!(complete(u.clone(), &vec![1; len]), None, "{len}");
    }
    let done = complete(u.clone(), &[1; 64]).unwrap();
    assert!(done.token.starts_with(&format!("{}.", u.input)));
    assert_eq!(done.token.split('.').count(), 3);
}

#[test]
fn reuse_keeps_a_third_of_the_lifetime() {
    let rows: &[(i64, bool)] = &[
        (NOW - 1, false), // issued in the future: the clock went back
        (NOW, true),
        (NOW + 39, true),
        (NOW + 40, false), // 20 s left of 60: not sent again
        (NOW + 59, false),
        (NOW + 60, false),
    ];
    for (now, want) in rows {
        assert_eq!(reusable(NOW, NOW + 60, *now), *want, "at +{}", now - NOW);
    }
    assert!(reusable(NOW, NOW + 10, NOW + 6));
    assert!(!reusable(NOW, NOW + 10, NOW + 7));
}

#[test]
fn the_cache_gives_back_only_the_same_tokens_and_sessions_fresh_assertion() {
    let (config, sk) = config(7);
    let c = Arc::new(claims());
    let mut cache = AssertionCache::new();
    assert!(cache.is_empty());
    assert_eq!(cache.get(&c, Some("s1"), NOW), None);
    let signed = sign(&config, &sk, &Subject::of(&c, Some("s1")), NOW);
    cache.insert(&c, Some("s1"), signed.clone(), NOW);
    assert_eq!(cache.len(), 1);
    assert!(!cache.is_empty());
    assert_eq!(
        cache.get(&Arc::clone(&c), Some("s1"), NOW + 39).as_deref(),
        Some(&*signed.token)
    );
    assert_eq!(cache.get(&c, Some("s1"), NOW + 40), None, "past its reuse");
    assert_eq!(cache.get(&c, Some("s2"), NOW), None, "another session");
    assert_eq!(cache.get(&c, None, NOW), None, "no session");
    // Equal claims verified anew (another allocation) are another token's: not served.
    let again = Arc::new(claims());
    assert_eq!(*again, *c);
    assert_eq!(cache.get(&again, Some("s1"), NOW), None);
    let mut bob = claims();
    bob.sub = "bob".into();
    assert_eq!(cache.get(&Arc::new(bob), Some("s1"), NOW), None);
}

#[test]
fn an_entry_is_only_served_for_the_claims_it_holds() {
    let (config, sk) = config(7);
    let alice = Arc::new(claims());
    let mut cache = AssertionCache::new();
    cache.insert(
        &alice,
        None,
        sign(&config, &sk, &Subject::of(&alice, None), NOW),
        NOW,
    );
    // Put alice's entry under another allocation's key: what a reused address would look like
    // if the entry did not hold its claims alive.
    let bob = Arc::new(VerifiedClaims {
        sub: "bob".into(),
        ..claims()
    });
    let entry = cache.entries.remove(&key_of(&alice)).unwrap();
    cache.entries.insert(key_of(&bob), entry);
    assert_eq!(cache.get(&bob, None, NOW), None);
}

#[test]
fn the_cache_is_bounded_and_drops_stale_entries_first() {
    let (config, sk) = config(7);
    let signed = sign(&config, &sk, &Subject::of(&claims(), None), NOW);
    let mut cache = AssertionCache::new();
    let all: Vec<Arc<VerifiedClaims>> = (0..=CACHE_ENTRIES)
        .map(|i| {
            Arc::new(VerifiedClaims {
                sub: format!("u{i}"),
                ..claims()
            })
        })
        .collect();
    // Half of them stale by the time the cache fills.
    for (i, c) in all.iter().take(CACHE_ENTRIES).enumerate() {
        let at = if i % 2 == 0 { NOW - 100 } else { NOW };
        let s = Signed {
            iat: at,
            exp: at + 60,
            ..signed.clone()
        };
        cache.insert(c, None, s, at);
    }
    assert_eq!(cache.len(), CACHE_ENTRIES);
    let last = &all[CACHE_ENTRIES];
    cache.insert(last, None, signed.clone(), NOW);
    assert_eq!(cache.len(), CACHE_ENTRIES / 2 + 1, "the stale half went");
    assert!(cache.get(&all[1], None, NOW).is_some());
    assert!(cache.get(last, None, NOW).is_some());

    // All fresh and full: it starts over rather than grow.
    let mut full = AssertionCache::new();
    for c in all.iter().take(CACHE_ENTRIES) {
        full.insert(c, None, signed.clone(), NOW);
    }
    full.insert(last, None, signed, NOW);
    assert_eq!(full.len(), 1);
    assert!(full.get(last, None, NOW).is_some());
}

#[test]
fn signing_keys() {
    let (jwk, _) = key_jwk(9, None);
    let key = SigningKey::from_jwk_json(&jwk.to_string()).unwrap();
    // RFC 7638 thumbprint of the public members, base64url.
    let parsed: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).unwrap();
    assert_eq!(key.kid(), b64(&parsed.thumbprint::<Sha256>()));
    assert_eq!(key.kid().len(), 43);
    assert_eq!(key.private_jwk()["d"], jwk["d"]);
    assert!(key.public_jwk().get("d").is_none());
    assert_eq!(key.public_jwk()["kid"], key.kid());
    assert_eq!(key.public_jwk()["alg"], "ES256");
    let shown = format!("{key:?}");
    assert!(!shown.contains(jwk["d"].as_str().unwrap()), "{shown}");
    assert!(
        shown.contains("SigningKey") && shown.contains(key.kid()),
        "{shown}"
    );

    let (mut mismatched, _) = key_jwk(9, Some("k"));
    let (other, _) = key_jwk(10, None);
    mismatched["d"] = other["d"].clone();
    let mut no_d = jwk.clone();
    no_d.as_object_mut().unwrap().remove("d");
    let mut rsa = jwk.clone();
    rsa["kty"] = json!("RSA");
    let mut p384 = jwk.clone();
    p384["crv"] = json!("P-384");
    let mut rs256 = jwk.clone();
    rs256["alg"] = json!("RS256");
    let mut bad_kid = jwk.clone();
    bad_kid["kid"] = json!(7);
    let mut empty_kid = jwk.clone();
    empty_kid["kid"] = json!("");
    for (what, text) in [
        ("not json", "{".to_owned()),
        ("mismatched d", mismatched.to_string()),
        ("no d", no_d.to_string()),
        ("rsa", rsa.to_string()),
        ("p-384", p384.to_string()),
        ("alg", rs256.to_string()),
        ("kid type", bad_kid.to_string()),
        ("empty kid", empty_kid.to_string()),
    ] {
        let e = SigningKey::from_jwk_json(&text).unwrap_err();
        assert!(!e.contains(jwk["d"].as_str().unwrap()), "{what}: {e}");
    }
}

#[test]
fn published_keys_are_public_es256_keys_with_their_own_kid() {
    let (config, _) = config(7);
    let (next, _) = key_jwk(11, Some("edge-2"));
    let mut public = next.clone();
    public.as_object_mut().unwrap().remove("d");
    let list = published_keys(&json!({ "keys": [public.clone()] }).to_string(), "edge-1").unwrap();
    assert_eq!(list, vec![public.clone()]);
    assert_eq!(
        published_keys(&json!([public.clone()]).to_string(), "edge-1")
            .unwrap()
            .len(),
        1
    );
    let mut no_kid = public.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    for bad in [
        json!([next]),      // private
        json!([no_kid]),    // no kid
        json!({ "k": [] }), // not a JWKS
        json!("x"),
        json!([{ "kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB" }]),
    ] {
        assert!(published_keys(&bad.to_string(), "edge-1").is_err(), "{bad}");
    }
    assert!(
        published_keys(&json!([public.clone()]).to_string(), "edge-2").is_err(),
        "same kid"
    );

    let with = AssertionConfig {
        published: vec![public.clone()],
        ..config
    };
    let jwks = with.jwks();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["edge-1", "edge-2"]);
    assert!(
        jwks.to_string().find("\"d\"").is_none(),
        "no private member published"
    );
}
