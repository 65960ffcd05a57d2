//! The second factors: TOTP steps good once, email passcodes (lifetime, attempts, single use),
//! `amr` with `mfa`, `auth_time` across refreshes, and joins of another user's session.
use super::*;
use crate::otp;

const MIN: Millis = 60 * SEC;
const HOUR: Millis = 60 * MIN;

fn totp(step: i64) -> Factor {
    Factor::Totp { step }
}

fn eotp(code: &str) -> Factor {
    Factor::EmailOtp {
        passcode: code.into(),
    }
}

impl World {
    /// Issues the email passcode `code` now.
    fn send_otp(&mut self, code: &str) {
        let hash = otp::passcode_hash("salt", code);
        issue_otp(&mut self.store, self.now, &hash, "salt", None).unwrap();
    }
}

#[test]
fn a_totp_step_is_good_once_and_never_before_the_last() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    assert!(w.login_with("alice", Some(&sid), &totp(100)).is_ok());
    // The same code again (same step): a replay, also as a fresh login.
    assert_eq!(
        w.login_with("alice", Some(&sid), &totp(100)).map(|_| ()),
        Err(Rejection::CodeReplayed)
    );
    assert_eq!(
        w.login_with("alice", None, &totp(100)).map(|_| ()),
        Err(Rejection::CodeReplayed)
    );
    // An earlier step (a code from the drift window before it) is refused too.
    assert_eq!(
        w.login_with("alice", Some(&sid), &totp(99)).map(|_| ()),
        Err(Rejection::CodeReplayed)
    );
    // The next step is fine.
    assert!(w.login_with("alice", Some(&sid), &totp(101)).is_ok());
    assert_eq!(w.store.totp_step, Some(101));
}

#[test]
fn a_refused_factor_changes_nothing_in_the_session() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    w.login_with("alice", Some(&sid), &totp(7)).unwrap();
    let before = w.store.sessions.get(&sid).cloned().unwrap();
    w.advance(MIN);
    assert!(w.login_with("alice", Some(&sid), &totp(7)).is_err());
    w.send_otp("123456");
    assert!(w.login_with("alice", Some(&sid), &eotp("654321")).is_err());
    assert_eq!(w.store.sessions.get(&sid), Some(&before));
}

#[test]
fn another_users_session_is_never_joined_by_a_second_factor() {
    let mut w = World::new();
    let alice = w.login("alice", None, "pwd").unwrap().session.id;
    assert_eq!(
        w.login_with("bob", Some(&alice), &totp(5)).map(|_| ()),
        Err(Rejection::SessionNotFound)
    );
    w.send_otp("111111");
    assert_eq!(
        w.login_with("bob", Some(&alice), &eotp("111111"))
            .map(|_| ()),
        Err(Rejection::SessionNotFound)
    );
    let s = w.store.sessions.get(&alice).unwrap();
    assert_eq!(s.amr, vec!["pwd"]);
    assert_eq!(s.user_id, "alice");
}

#[test]
fn an_email_passcode_is_used_up_by_its_first_right_use() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    w.send_otp("042042");
    let i = w.login_with("alice", Some(&sid), &eotp("042042")).unwrap();
    assert_eq!(i.session.amr, vec!["pwd", "eotp", "mfa"]);
    assert!(w.store.otp.is_none());
    assert_eq!(
        w.login_with("alice", Some(&sid), &eotp("042042"))
            .map(|_| ()),
        Err(Rejection::WrongCode)
    );
}

#[test]
fn the_fifth_wrong_passcode_ends_it() {
    // Four wrong guesses: the right code still works.
    let mut w = World::new();
    w.send_otp("777777");
    for _ in 0..4 {
        assert_eq!(
            w.login_with("alice", None, &eotp("000000")).map(|_| ()),
            Err(Rejection::WrongCode)
        );
    }
    assert_eq!(w.store.otp.as_ref().map(|p| p.attempts), Some(4));
    assert!(w.login_with("alice", None, &eotp("777777")).is_ok());

    // Five: the code is gone, the right one is refused like a wrong one.
    let mut w = World::new();
    w.send_otp("777777");
    for _ in 0..otp::OTP_MAX_ATTEMPTS {
        assert!(w.login_with("alice", None, &eotp("000000")).is_err());
    }
    assert!(w.store.otp.is_none());
    assert_eq!(
        w.login_with("alice", None, &eotp("777777")).map(|_| ()),
        Err(Rejection::WrongCode)
    );
    // A new code starts a new count.
    w.send_otp("888888");
    assert!(w.login_with("alice", None, &eotp("888888")).is_ok());
}

#[test]
fn an_email_passcode_lives_five_minutes() {
    let mut w = World::new();
    w.send_otp("123123");
    w.advance(5 * MIN - 1);
    assert!(w.login_with("alice", None, &eotp("123123")).is_ok());

    let mut w = World::new();
    w.send_otp("123123");
    w.advance(5 * MIN);
    assert_eq!(
        w.login_with("alice", None, &eotp("123123")).map(|_| ()),
        Err(Rejection::CodeExpired)
    );
    assert!(w.store.otp.is_none(), "an expired code is deleted");
    assert_eq!(
        w.login_with("alice", None, &eotp("123123")).map(|_| ()),
        Err(Rejection::WrongCode)
    );
}

#[test]
fn a_new_passcode_replaces_the_pending_one() {
    let mut w = World::new();
    w.send_otp("111111");
    w.send_otp("222222");
    assert!(w.login_with("alice", None, &eotp("111111")).is_err());
    assert!(w.login_with("alice", None, &eotp("222222")).is_ok());
}

#[test]
fn no_pending_passcode_refuses_every_code() {
    let mut w = World::new();
    assert_eq!(
        w.login_with("alice", None, &eotp("000000")).map(|_| ()),
        Err(Rejection::WrongCode)
    );
}

#[test]
fn amr_gains_mfa_with_two_different_factors_only() {
    let amr = |methods: &[&str]| {
        let mut amr = Vec::new();
        for m in methods {
            add_method(&mut amr, m);
        }
        amr
    };
    let rows: &[(&[&str], &[&str])] = &[
        (&["pwd"], &["pwd"]),
        (&["pwd", "pwd"], &["pwd"]),
        (&["otp"], &["otp"]),
        (&["pwd", "otp"], &["pwd", "otp", "mfa"]),
        (&["otp", "pwd"], &["otp", "pwd", "mfa"]),
        (&["pwd", "eotp"], &["pwd", "eotp", "mfa"]),
        (&["otp", "eotp"], &["otp", "eotp", "mfa"]),
        (&["pwd", "otp", "eotp"], &["pwd", "otp", "mfa", "eotp"]),
        (&["pwd", "otp", "otp"], &["pwd", "otp", "mfa"]),
        // A value that is not a factor never makes mfa.
        (&["pwd", "x"], &["pwd", "x"]),
    ];
    for (methods, want) in rows {
        assert_eq!(amr(methods), *want, "{methods:?}");
    }
}

#[test]
fn a_fresh_login_by_a_second_factor_alone_has_no_mfa() {
    let mut w = World::new();
    let i = w.login_with("alice", None, &totp(3)).unwrap();
    assert_eq!(i.session.amr, vec!["otp"]);
}

#[test]
fn auth_time_is_the_last_authentication_and_survives_refreshes() {
    let mut w = World::new();
    let first = w.login("alice", None, "pwd").unwrap();
    let sid = first.session.id.clone();
    assert_eq!(first.session.auth_time, T0);
    w.advance(HOUR);
    let up = w.login_with("alice", Some(&sid), &totp(9)).unwrap();
    assert_eq!(up.session.auth_time, T0 + HOUR);
    let hash = w
        .store
        .tokens
        .values()
        .max_by_key(|t| t.created_at)
        .unwrap()
        .hash
        .clone();
    w.advance(HOUR);
    w.refresh(&hash).unwrap();
    let refreshed = w.store.sessions.get(&sid).unwrap();
    assert_eq!(refreshed.auth_time, T0 + HOUR, "a refresh keeps auth_time");
    w.advance(HOUR);
    let again = w.session_auth(&sid).unwrap();
    assert_eq!(
        again.session.auth_time,
        T0 + HOUR,
        "session authenticate keeps it"
    );
    assert_eq!(again.session.amr, vec!["pwd", "otp", "mfa"]);
}

#[test]
fn the_dev_mailbox_shows_a_usable_code_only() {
    let mut w = World::new();
    assert_eq!(dev_mailbox(&mut w.store, w.now).unwrap(), None);
    let hash = otp::passcode_hash("salt", "314159");
    issue_otp(&mut w.store, w.now, &hash, "salt", Some("314159")).unwrap();
    assert_eq!(
        dev_mailbox(&mut w.store, w.now).unwrap().as_deref(),
        Some("314159")
    );
    w.advance(5 * MIN);
    assert_eq!(dev_mailbox(&mut w.store, w.now).unwrap(), None, "expired");
    // Without a dev copy (production) there is nothing to show.
    issue_otp(&mut w.store, w.now, &hash, "salt", None).unwrap();
    assert_eq!(dev_mailbox(&mut w.store, w.now).unwrap(), None);
    // Used up: gone.
    issue_otp(&mut w.store, w.now, &hash, "salt", Some("314159")).unwrap();
    w.login_with("alice", None, &eotp("314159")).unwrap();
    assert_eq!(dev_mailbox(&mut w.store, w.now).unwrap(), None);
}
