//! The login machine, natively: scripted store and verification answers, a fake clock.
#![allow(clippy::type_complexity)]

use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::access_cookie;
use crate::audit::{self, Audit, Event, Outcome};
use crate::gate::tests_support::{alice_cookie_header, claims, config, config_with, NOW, UA};
use crate::store_api::paths;
use crate::throttle::{Counter, Op};
use edge_session_protocol::attempts::Window;

/// What the machine asked, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    Revocation(String, String),
    Body,
    /// Calls to the login counters: which counter, what operation.
    Count(Vec<(Counter, Op)>),
    /// Whether the password call asked to join a session, and which.
    Password(Option<String>),
    /// A second factor's call: its path, body, and the session it asked to join.
    Factor(&'static str, serde_json::Value, Option<String>),
    VerifyAccess(String),
    End(String),
    VerifyId(String),
    Nonces,
}

fn tokens(access: &str, session_id: &str, id_token: Option<&str>) -> ApiTokenResponse {
    ApiTokenResponse {
        access_token: access.into(),
        id_token: id_token.map(Into::into),
        refresh_token: Some("rt".into()),
        token_type: None,
        expires_in: Some(300),
        session_id: Some(session_id.into()),
    }
}

struct Script {
    revocation: Option<Lookup>,
    body: &'static [u8],
    /// Answers to the password calls, in order.
    password: Vec<Result<ApiTokenResponse, StoreFailure>>,
    access: Result<Arc<VerifiedClaims>, VerifyFailure>,
    id: Result<Arc<VerifiedClaims>, VerifyFailure>,
    nonces: bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            revocation: Some(Lookup {
                session_revoked: Some(false),
                user_revoked_at: Some(None),
            }),
            body: br#"{"username":"alice","password":"hunter2"}"#,
            password: vec![Ok(tokens("at-new", "s-new", None))],
            access: Ok(claims("alice", Some("s-new"))),
            id: Err(VerifyFailure::Keys),
            nonces: true,
        }
    }
}

/// The counter objects, as the Durable Objects hold them: each call runs the core's
/// [`throttle::step`] on the window stored under its name, at the objects' clock.
#[derive(Debug, Default)]
struct Counters {
    held: HashMap<String, Window>,
    now_ms: i64,
    /// The objects do not answer.
    down: bool,
    /// Only admits are answered (settlements are lost).
    settlements_lost: bool,
}

impl Counters {
    fn at(now_ms: i64) -> Self {
        Self {
            now_ms,
            ..Self::default()
        }
    }

    fn call(&mut self, call: &Call) -> Option<Attempt> {
        if self.down || (self.settlements_lost && call.op != Op::Admit) {
            return None;
        }
        let held = self.held.get(&call.object).copied();
        let stepped = throttle::step(call.op, call.limit, held, self.now_ms);
        match stepped.window {
            Some(w) => self.held.insert(call.object.clone(), w),
            None => self.held.remove(&call.object),
        };
        Some(stepped.answer.unwrap_or(Attempt::Admitted))
    }

    /// The count held for a username's counter.
    fn of_user(&self, c: &EdgeConfig, username: &str) -> u32 {
        let Some(s) = &c.session else { panic!() };
        let k = throttle::keys(&s.throttle, username, None);
        self.held.get(&k.user).map_or(0, |w| w.count)
    }
}

fn run(
    c: &EdgeConfig,
    f: &Facts<'_>,
    script: Script,
) -> (
    Vec<Asked>,
    Result<LoggedIn, Rejection>,
    (Vec<Note>, Vec<Audit>),
) {
    run_with(c, f, script, &mut Counters::at(NOW * 1000))
}

fn run_with(
    c: &EdgeConfig,
    f: &Facts<'_>,
    mut script: Script,
    counters: &mut Counters,
) -> (
    Vec<Asked>,
    Result<LoggedIn, Rejection>,
    (Vec<Note>, Vec<Audit>),
) {
    let sent: serde_json::Value = serde_json::from_slice(script.body).unwrap_or_default();
    let mut login = Login::start(c, f, NOW);
    let mut asked = Vec::new();
    script.password.reverse();
    for _ in 0..12 {
        let (need, answer) = match login.next() {
            LoginNext::Done => break,
            LoginNext::ReadRevocation {
                subject,
                session_id,
            } => (
                Asked::Revocation(subject.into(), session_id.into()),
                LoginAnswer::Revocation(script.revocation),
            ),
            LoginNext::ReadBody(limit) => {
                assert_eq!(limit, edge_routes::MAX_BODY_BYTES);
                (Asked::Body, LoginAnswer::Body(Ok(script.body.to_vec())))
            }
            LoginNext::Count(calls) => (
                Asked::Count(calls.iter().map(|c| (c.counter, c.op)).collect()),
                LoginAnswer::Counted(calls.iter().map(|call| counters.call(call)).collect()),
            ),
            LoginNext::Authenticate { path, body } => {
                let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
                assert_eq!(v["client_attributes"]["user_agent"], UA);
                let joins = v["session_id"].as_str().map(str::to_owned);
                let answer = script
                    .password
                    .pop()
                    .unwrap_or(Err(StoreFailure::ServerError));
                let asked = if path == paths::PASSWORD_AUTHENTICATE {
                    assert_eq!(v["username"], sent["username"]);
                    Asked::Password(joins)
                } else {
                    Asked::Factor(path, v, joins)
                };
                (asked, LoginAnswer::Authenticated(answer, 9_000))
            }
            LoginNext::VerifyAccessToken(t) => (
                Asked::VerifyAccess(t.into()),
                LoginAnswer::Verified(script.access.clone()),
            ),
            LoginNext::EndSession(old) => (Asked::End(old.into()), LoginAnswer::Ended(true)),
            LoginNext::VerifyIdToken(t, policy) => {
                assert_eq!(policy.audiences, vec!["edge".to_owned()], "the client's id");
                (
                    Asked::VerifyId(t.into()),
                    LoginAnswer::Verified(script.id.clone()),
                )
            }
            LoginNext::Nonces => (
                Asked::Nonces,
                LoginAnswer::Nonces(script.nonces.then_some(([1; 16], [2; 24]))),
            ),
        };
        asked.push(need);
        login.resume(answer);
    }
    let notes = login.notes().to_vec();
    let audits = login.audits();
    (asked, login.outcome(), (notes, audits))
}

fn facts_with(cookie: Option<&str>) -> Facts<'_> {
    Facts {
        method: "POST",
        url: "https://app.test/auth/login",
        cookie,
        user_agent: Some(UA),
        content_type: Some("application/json"),
        ..Facts::default()
    }
}

fn body(r: &Result<LoggedIn, Rejection>) -> serde_json::Value {
    match r {
        Ok(l) => serde_json::from_str(&l.reply.body).unwrap_or_default(),
        Err(e) => panic!("refused: {e:?}"),
    }
}

#[test]
fn a_fresh_login_mints_both_cookies() {
    let c = config();
    let (asked, out, notes) = run(&c, &facts_with(None), Script::default());
    assert_eq!(
        asked,
        vec![
            Asked::Body,
            Asked::Count(vec![(Counter::User, Op::Admit), (Counter::Ip, Op::Admit)]),
            Asked::Password(None),
            Asked::Count(vec![(Counter::User, Op::Reset), (Counter::Ip, Op::Refund)]),
            Asked::VerifyAccess("at-new".into()),
            Asked::Nonces
        ]
    );
    let v = body(&out);
    assert_eq!(
        (v["step_up"].as_bool(), v["replaced_session"].as_bool()),
        (Some(false), Some(false))
    );
    let done = out.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(done.session_id, "s-new");
    assert_eq!(done.reply.set_cookies.len(), 2);
    // The access cookie opens beside the new session cookie to the store's token, minted when
    // the store answered.
    let value = |name: &str| {
        done.reply
            .set_cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .unwrap_or_default()
            .to_owned()
    };
    let Some(s) = &c.session else { panic!() };
    let opened = access_cookie::open(
        &s.binding_keys,
        &value("__Host-session"),
        &value("__Host-access"),
    );
    assert_eq!(
        opened.map(|o| (o.token, o.minted_ms)),
        Ok(("at-new".to_owned(), 9_000))
    );
    assert!(!done.reply.body.contains("at-new") && !done.reply.body.contains("rt"));
    assert_eq!(notes.0, vec![]);
    assert_eq!(
        notes.1,
        vec![Audit::new(Event::Login, Outcome::Success, "login")
            .subject(Some("alice"))
            .session(Some("s-new"))]
    );
}

#[test]
fn a_session_cookie_makes_it_a_step_up_onto_that_session() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let script = Script {
        password: vec![Ok(tokens("at-2", "s-alice", None))],
        access: Ok(claims("alice", Some("s-alice"))),
        ..Script::default()
    };
    let (asked, out, notes) = run(&c, &facts_with(Some(&cookie)), script);
    assert_eq!(
        asked[0],
        Asked::Revocation("alice".into(), "s-alice".into())
    );
    assert_eq!(asked[3], Asked::Password(Some("s-alice".into())));
    assert!(!asked.iter().any(|a| matches!(a, Asked::End(_))));
    assert_eq!(body(&out)["step_up"], true);
    assert_eq!(
        notes,
        (
            vec![],
            vec![Audit::new(Event::StepUp, Outcome::Success, "step_up")
                .subject(Some("alice"))
                .session(Some("s-alice"))]
        )
    );
}

#[test]
fn a_refused_step_up_is_tried_fresh_and_replaces_the_old_session() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    for refusal in [
        StoreFailure::SessionGone,
        StoreFailure::Refused,
        StoreFailure::RequestRefused,
    ] {
        let script = Script {
            password: vec![Err(refusal), Ok(tokens("at-new", "s-new", None))],
            ..Script::default()
        };
        let (asked, out, notes) = run(&c, &facts_with(Some(&cookie)), script);
        assert_eq!(
            asked[3],
            Asked::Password(Some("s-alice".into())),
            "{refusal:?}"
        );
        assert_eq!(asked[4], Asked::Password(None), "{refusal:?}: then fresh");
        assert_eq!(
            asked
                .iter()
                .filter(|a| matches!(a, Asked::Count(_)))
                .count(),
            2,
            "{refusal:?}: one attempt, one slot, one settlement"
        );
        assert!(asked.contains(&Asked::End("s-alice".into())), "{refusal:?}");
        assert_eq!(body(&out)["replaced_session"], true);
        assert_eq!(notes.0, vec![Note::StepUpRefusedTryingFresh]);
        assert_eq!(
            notes.1,
            vec![
                audit::session_revoked("replaced_by_login", true, Some("alice"), Some("s-alice")),
                Audit::new(Event::Login, Outcome::Success, "login_replaced_session")
                    .subject(Some("alice"))
                    .session(Some("s-new")),
            ]
        );
    }
    // Other failures are not retried.
    let script = Script {
        password: vec![Err(StoreFailure::Timeout)],
        ..Script::default()
    };
    let (asked, out, (_, audits)) = run(&c, &facts_with(Some(&cookie)), script);
    assert_eq!(
        asked
            .iter()
            .filter(|a| matches!(a, Asked::Password(_)))
            .count(),
        1
    );
    assert_eq!(
        out.err().map(|r| r.reason),
        Some(Reason::Store(StoreFailure::Timeout))
    );
    // A refused step-up names the cookie's user and session.
    assert_eq!(
        audits,
        vec![Audit::new(Event::StepUp, Outcome::Failure, "store_timeout")
            .subject(Some("alice"))
            .session(Some("s-alice"))]
    );
}

#[test]
fn a_session_known_to_have_ended_is_not_stepped_up() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let revoked = Some(Lookup {
        session_revoked: Some(true),
        user_revoked_at: Some(None),
    });
    let unreadable = Some(Lookup {
        session_revoked: None,
        user_revoked_at: None,
    });
    for lookup in [revoked, unreadable] {
        let script = Script {
            revocation: lookup,
            ..Script::default()
        };
        let (asked, out, _) = run(&c, &facts_with(Some(&cookie)), script);
        assert_eq!(asked[3], Asked::Password(None), "{lookup:?}");
        assert!(asked.contains(&Asked::End("s-alice".into())));
        assert!(out.is_ok());
    }
}

#[test]
fn refusals() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let rows: Vec<(Option<&str>, Script, Reason, usize)> = vec![
        (
            None,
            Script {
                password: vec![Err(StoreFailure::Refused)],
                ..Script::default()
            },
            Reason::Store(StoreFailure::Refused),
            3,
        ),
        (
            None,
            Script {
                body: b"{",
                ..Script::default()
            },
            Reason::Body(crate::rejection::BodyFault::LoginJson),
            1,
        ),
        (
            None,
            Script {
                access: Err(VerifyFailure::Token(crate::token::TokenError::BadSignature)),
                ..Script::default()
            },
            Reason::StoreTokenUnverifiable,
            5,
        ),
        (
            None,
            Script {
                access: Err(VerifyFailure::Keys),
                ..Script::default()
            },
            Reason::KeysUnavailable,
            5,
        ),
        (
            None,
            Script {
                nonces: false,
                ..Script::default()
            },
            Reason::NoRandomness,
            6,
        ),
        (
            // The store joined the step-up but its token is another user's.
            Some(&cookie),
            Script {
                password: vec![Ok(tokens("at", "s-alice", None))],
                access: Ok(claims("mallory", Some("s-alice"))),
                ..Script::default()
            },
            Reason::StepUpOtherUser,
            6,
        ),
        (
            // The token names another session than the answer.
            None,
            Script {
                access: Ok(claims("alice", Some("s-other"))),
                ..Script::default()
            },
            Reason::Store(StoreFailure::Malformed),
            5,
        ),
    ];
    for (cookie, script, want, needs) in rows {
        let (asked, out, (_, audits)) = run(&c, &facts_with(cookie), script);
        assert_eq!(out.err().map(|r| r.reason), Some(want));
        assert_eq!(asked.len(), needs, "{want:?}: {asked:?}");
        // One audit line: a refused login names nobody (the username is not written); a
        // refused step-up the cookie's user and session.
        let audit = match cookie {
            None => Audit::new(Event::Login, Outcome::Failure, want.code()),
            Some(_) => Audit::new(Event::StepUp, Outcome::Failure, want.code())
                .subject(Some("alice"))
                .session(Some("s-alice")),
        };
        assert_eq!(audits, vec![audit], "{want:?}");
    }
    let (asked, out, _) = run(
        &config_with(false, &[]),
        &facts_with(None),
        Script::default(),
    );
    assert!(asked.is_empty());
    assert_eq!(out.err().map(|r| r.reason), Some(Reason::NoRoute));
}

#[test]
fn amr_comes_from_the_id_token_when_it_verifies() {
    let c = config();
    let mut id = (*claims("alice", None)).clone();
    id.amr = vec!["pwd".into(), "otp".into()];
    let script = Script {
        password: vec![Ok(tokens("at", "s-new", Some("idt")))],
        id: Ok(Arc::new(id)),
        ..Script::default()
    };
    let (asked, out, _) = run(&c, &facts_with(None), script);
    assert!(asked.contains(&Asked::VerifyId("idt".into())));
    assert_eq!(body(&out)["amr"], serde_json::json!(["pwd", "otp"]));
    let script = Script {
        password: vec![Ok(tokens("at", "s-new", Some("idt")))],
        ..Script::default()
    };
    let (_, out, notes) = run(&c, &facts_with(None), script);
    assert_eq!(body(&out)["amr"], serde_json::json!([]));
    assert!(notes.0.contains(&Note::IdTokenUnverifiable));
    // Without an ID token, the access token's.
    let mut access = (*claims("alice", Some("s-new"))).clone();
    access.amr = vec!["pwd".into()];
    let script = Script {
        access: Ok(Arc::new(access)),
        ..Script::default()
    };
    let (_, out, _) = run(&c, &facts_with(None), script);
    assert_eq!(body(&out)["amr"], serde_json::json!(["pwd"]));
}

#[test]
fn a_session_cookie_of_another_browser_is_noted_and_ignored() {
    let c = config();
    let (_, cookie) = alice_cookie_header(&c, "tok");
    let f = Facts {
        user_agent: Some("UA-B"),
        ..facts_with(Some(&cookie))
    };
    let mut login = Login::start(&c, &f, NOW);
    assert_eq!(
        login.next(),
        LoginNext::ReadBody(edge_routes::MAX_BODY_BYTES)
    );
    assert!(matches!(login.notes(), [Note::SessionCookieRefused(_)]));
    // An answer to a question not asked ends it.
    login.resume(LoginAnswer::Ended(true));
    assert_eq!(login.next(), LoginNext::Done);
    assert!(login.outcome().is_err());
}

/// A wrong password for `username` (the store refuses it), on `counters`.
fn wrong(
    c: &EdgeConfig,
    f: &Facts<'_>,
    body: &'static [u8],
    counters: &mut Counters,
) -> (
    Vec<Asked>,
    Result<LoggedIn, Rejection>,
    (Vec<Note>, Vec<Audit>),
) {
    let script = Script {
        body,
        password: vec![Err(StoreFailure::Refused)],
        ..Script::default()
    };
    run_with(c, f, script, counters)
}

const ALICE_WRONG: &[u8] = br#"{"username":"alice","password":"nope"}"#;
const NOBODY_WRONG: &[u8] = br#"{"username":"nobody","password":"nope"}"#;
const ADMIT: (Counter, Op) = (Counter::User, Op::Admit);
const ADMIT_IP: (Counter, Op) = (Counter::Ip, Op::Admit);

fn store_calls(asked: &[Asked]) -> usize {
    asked
        .iter()
        .filter(|a| matches!(a, Asked::Password(_)))
        .count()
}

#[test]
fn the_sixth_wrong_password_is_refused_without_a_store_call_known_or_unknown() {
    let c = config();
    let f = facts_with(None);
    for body in [ALICE_WRONG, NOBODY_WRONG] {
        let mut counters = Counters::at(NOW * 1000);
        for i in 1..=5 {
            let (asked, out, _) = wrong(&c, &f, body, &mut counters);
            assert_eq!(store_calls(&asked), 1, "attempt {i}");
            assert_eq!(
                out.err().map(|r| r.reason),
                Some(Reason::Store(StoreFailure::Refused)),
                "attempt {i}"
            );
            // A wrong password settles nothing: the slot stays taken.
            assert_eq!(asked.last(), Some(&Asked::Password(None)));
        }
        counters.now_ms += 60_000;
        let (asked, out, notes) = wrong(&c, &f, body, &mut counters);
        assert_eq!(
            asked,
            vec![
                Asked::Body,
                Asked::Count(vec![ADMIT, ADMIT_IP]),
                // The address's slot is given back: a refused login counts nowhere.
                Asked::Count(vec![(Counter::Ip, Op::Refund)]),
            ],
            "no store call"
        );
        let refusal = out.err().unwrap_or_else(|| panic!("admitted"));
        assert_eq!(
            refusal.reason,
            Reason::LoginThrottled {
                by: Counter::User,
                retry_after: 14 * 60
            }
        );
        assert_eq!((refusal.status, refusal.retry_after), (429, Some(840)));
        assert!(notes.0.is_empty(), "{notes:?}");
        assert_eq!(
            notes.1,
            vec![Audit::new(
                Event::Throttled,
                Outcome::Failure,
                "login_throttled_user"
            )]
        );
        // Still refused one second before the window ends, admitted when it does.
        counters.now_ms = NOW * 1000 + 900_000 - 1;
        let (asked, out, _) = wrong(&c, &f, body, &mut counters);
        assert_eq!(store_calls(&asked), 0);
        assert_eq!(out.err().map(|r| r.retry_after), Some(Some(1)));
        counters.now_ms += 1;
        let (asked, _, _) = wrong(&c, &f, body, &mut counters);
        assert_eq!(store_calls(&asked), 1, "a new window");
    }
}

#[test]
fn a_known_and_an_unknown_username_get_the_same_answers() {
    let c = config();
    let f = facts_with(None);
    let trace = |body| {
        let mut counters = Counters::at(NOW * 1000);
        (0..7)
            .map(|_| {
                let (asked, out, _) = wrong(&c, &f, body, &mut counters);
                (asked, out.err())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(trace(ALICE_WRONG), trace(NOBODY_WRONG));
}

#[test]
fn a_success_resets_the_usernames_count() {
    let c = config();
    let f = facts_with(None);
    let mut counters = Counters::at(NOW * 1000);
    for _ in 0..4 {
        let _ = wrong(&c, &f, ALICE_WRONG, &mut counters);
    }
    assert_eq!(counters.of_user(&c, "alice"), 4);
    let (_, out, _) = run_with(&c, &f, Script::default(), &mut counters);
    assert!(out.is_ok());
    assert_eq!(counters.of_user(&c, "alice"), 0, "reset");
    for i in 1..=5 {
        let (asked, _, _) = wrong(&c, &f, ALICE_WRONG, &mut counters);
        assert_eq!(store_calls(&asked), 1, "attempt {i} after the success");
    }
    let (asked, out, _) = wrong(&c, &f, ALICE_WRONG, &mut counters);
    assert_eq!(store_calls(&asked), 0);
    assert!(matches!(
        out.err().map(|r| r.reason),
        Some(Reason::LoginThrottled { .. })
    ));
}

#[test]
fn the_address_limit_counts_failures_across_usernames() {
    let c = config_with(true, &[("LOGIN_FAILURES_PER_IP", "3")]);
    let from = |ip| Facts {
        connecting_ip: Some(ip),
        ..facts_with(None)
    };
    let mut counters = Counters::at(NOW * 1000);
    // A success from the address does not count against it.
    let (_, out, _) = run_with(&c, &from("192.0.2.1"), Script::default(), &mut counters);
    assert!(out.is_ok());
    for body in [ALICE_WRONG, NOBODY_WRONG, ALICE_WRONG] {
        let (asked, _, _) = wrong(&c, &from("192.0.2.1"), body, &mut counters);
        assert_eq!(store_calls(&asked), 1);
    }
    let fresh: &[u8] = br#"{"username":"carol","password":"nope"}"#;
    let (asked, out, _) = wrong(&c, &from("192.0.2.1"), fresh, &mut counters);
    assert_eq!(
        asked[2..],
        [Asked::Count(vec![(Counter::User, Op::Refund)])],
        "no store call; carol's slot is given back"
    );
    assert_eq!(
        out.err().map(|r| r.reason),
        Some(Reason::LoginThrottled {
            by: Counter::Ip,
            retry_after: 900
        })
    );
    assert_eq!(counters.of_user(&c, "carol"), 0);
    // Another address is not affected.
    let (asked, _, _) = wrong(&c, &from("198.51.100.7"), fresh, &mut counters);
    assert_eq!(store_calls(&asked), 1);
}

#[test]
fn unreachable_counters_fail_closed_without_a_store_call() {
    let c = config();
    let f = facts_with(None);
    let mut counters = Counters {
        down: true,
        ..Counters::at(NOW * 1000)
    };
    let (asked, out, notes) = run_with(&c, &f, Script::default(), &mut counters);
    assert_eq!(
        asked,
        vec![Asked::Body, Asked::Count(vec![ADMIT, ADMIT_IP])]
    );
    let refusal = out.err().unwrap_or_else(|| panic!("admitted"));
    assert_eq!(refusal.reason, Reason::ThrottleUnavailable);
    assert_eq!((refusal.status, refusal.retry_after), (503, Some(5)));
    assert_eq!(notes.0, vec![Note::ThrottleUnavailable]);
}

#[test]
fn a_lost_settlement_is_noted_and_the_login_stands() {
    let c = config();
    let mut counters = Counters {
        settlements_lost: true,
        ..Counters::at(NOW * 1000)
    };
    let (_, out, notes) = run_with(&c, &facts_with(None), Script::default(), &mut counters);
    assert!(out.is_ok());
    assert_eq!(notes.0, vec![Note::ThrottleNotSettled]);
    assert_eq!(notes.1.len(), 1);
    assert_eq!(notes.1[0].event(), Event::Login);
}

#[test]
fn store_answers_settle_the_counters() {
    let c = config();
    let f = facts_with(None);
    for (failure, kept) in [
        (StoreFailure::Refused, 1),
        (StoreFailure::TooManyAttempts { retry_after: 60 }, 0),
        (StoreFailure::Timeout, 0),
        (StoreFailure::ServerError, 0),
        (StoreFailure::RequestRefused, 0),
    ] {
        let mut counters = Counters::at(NOW * 1000);
        let script = Script {
            password: vec![Err(failure)],
            ..Script::default()
        };
        let (_, out, _) = run_with(&c, &f, script, &mut counters);
        assert_eq!(out.err().map(|r| r.reason), Some(Reason::Store(failure)));
        assert_eq!(counters.of_user(&c, "alice"), kept, "{failure:?}");
    }
    // The store's own limit answers like the edge's.
    let r = Rejection::store(StoreFailure::TooManyAttempts { retry_after: 60 });
    let edge = Rejection::new(Reason::LoginThrottled {
        by: Counter::User,
        retry_after: 60,
    });
    assert_eq!(
        (r.status, r.retry_after, r.body()),
        (edge.status, edge.retry_after, edge.body())
    );
}

mod factors;
