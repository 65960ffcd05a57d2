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
