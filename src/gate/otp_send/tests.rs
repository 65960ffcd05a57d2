//! The send machine natively: scripted counters and store answers.
use super::*;
use crate::gate::tests_support::{alice_cookie_header, config, UA};

/// What the machine asked, and its outcome; `store` answers the send.
fn run(
    c: &EdgeConfig,
    cookie: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    admit: Option<Attempt>,
    store: Result<(), StoreFailure>,
) -> (
    Vec<String>,
    Option<serde_json::Value>,
    Result<Reply, Rejection>,
) {
    let facts = Facts {
        method: "POST",
        url: "https://app.test/auth/otp/send",
        cookie,
        user_agent: Some(UA),
        content_type,
        ..Facts::default()
    };
    let mut send = OtpSend::start(c, &facts);
    let (mut asked, mut sent) = (Vec::new(), None);
    for _ in 0..8 {
        let answer = match send.next() {
            SendNext::Done => break,
            SendNext::ReadBody(_) => {
                asked.push("body".to_owned());
                SendAnswer::Body(Ok(body.to_vec()))
            }
            SendNext::Count(calls) => {
                asked.push(format!("count {}", calls.len()));
                SendAnswer::Counted(calls.iter().map(|_| admit).collect())
            }
            SendNext::Send(b) => {
                asked.push("send".to_owned());
                sent = serde_json::from_str(b).ok();
                SendAnswer::Sent(store)
            }
        };
        send.resume(answer);
    }
    (asked, sent, send.outcome())
}

const JSON: Option<&str> = Some("application/json");

#[test]
fn the_cookies_user_by_id_or_the_bodys_username_by_email() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let (asked, sent, out) = run(
        &c,
        Some(&cookie),
        JSON,
        b"",
        Some(Attempt::Admitted),
        Ok(()),
    );
    assert_eq!(asked, ["body", "count 2", "send"]);
    assert_eq!(
        sent,
        Some(
            serde_json::json!({"channel": "email", "identifier_type": "user_id", "identifier": "alice"})
        )
    );
    let reply = out.unwrap();
    assert_eq!(reply.body, r#"{"sent":true}"#);
    assert!(reply.set_cookies.is_empty());

    let (_, sent, out) = run(
        &c,
        None,
        JSON,
        br#"{"username":"bob"}"#,
        Some(Attempt::Admitted),
        Ok(()),
    );
    assert_eq!(sent.unwrap()["identifier_type"], "username");
    assert!(out.is_ok());
}

#[test]
fn unknown_users_get_the_same_answer() {
    let c = config();
    let (_, _, out) = run(
        &c,
        None,
        JSON,
        br#"{"username":"nobody"}"#,
        Some(Attempt::Admitted),
        Err(StoreFailure::Refused),
    );
    assert_eq!(out.unwrap().body, r#"{"sent":true}"#);
    let (_, _, out) = run(
        &c,
        None,
        JSON,
        br#"{"username":"x"}"#,
        Some(Attempt::Admitted),
        Err(StoreFailure::RequestRefused),
    );
    assert_eq!(
        out.err().map(|r| r.reason),
        Some(Reason::Store(StoreFailure::RequestRefused))
    );
}

#[test]
fn refusals_before_the_store() {
    let c = config();
    let full = Some(Attempt::Refused {
        retry_after_secs: 60,
    });
    let (asked, _, out) = run(&c, None, JSON, br#"{"username":"bob"}"#, full, Ok(()));
    assert!(
        !asked.contains(&"send".to_owned()),
        "throttled: no store call"
    );
    assert!(matches!(
        out.err().map(|r| r.reason),
        Some(Reason::LoginThrottled { .. })
    ));
    let (asked, _, out) = run(&c, None, JSON, br#"{"username":"bob"}"#, None, Ok(()));
    assert!(!asked.contains(&"send".to_owned()));
    assert_eq!(
        out.err().map(|r| r.reason),
        Some(Reason::ThrottleUnavailable)
    );
    for (ct, body, fault) in [
        (JSON, &b""[..], BodyFault::LoginFields),
        (JSON, &br#"{"username":""}"#[..], BodyFault::LoginFields),
        (JSON, &b"{"[..], BodyFault::LoginJson),
        (
            Some("text/plain"),
            &b"username=bob"[..],
            BodyFault::LoginContentType,
        ),
    ] {
        let (asked, _, out) = run(&c, None, ct, body, Some(Attempt::Admitted), Ok(()));
        assert_eq!(asked, ["body"], "{fault:?}");
        assert_eq!(out.err().map(|r| r.reason), Some(Reason::Body(fault)));
    }
}
