use super::mem::MemStore;
use super::*;

const SEC: Millis = 1000;
const DAY: Millis = 86_400 * SEC;
const T0: Millis = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn policy() -> Policy {
    Policy {
        session_ttl_ms: 14 * DAY,
        refresh_max_ms: 30 * DAY,
        reuse_grace_ms: 10 * SEC,
        max_sessions: 50,
        login_failures: 10,
        login_window_ms: 15 * 60 * SEC,
    }
}

/// A fake clock plus counters for fresh credentials.
struct World {
    store: MemStore,
    policy: Policy,
    now: Millis,
    n: u32,
}

impl World {
    fn new() -> Self {
        Self::with(policy())
    }
    fn with(policy: Policy) -> Self {
        Self {
            store: MemStore::default(),
            policy,
            now: T0,
            n: 0,
        }
    }
    fn advance(&mut self, ms: Millis) {
        self.now += ms;
    }
    fn fresh(&mut self) -> (String, NewChain) {
        self.n += 1;
        let chain = NewChain {
            refresh_hash: format!("h{}", self.n),
            audience: format!("aud{}", self.n),
        };
        (format!("s{}", self.n), chain)
    }
    /// An authentication by `method`: `pwd` a password, `otp` a TOTP code of a step never
    /// used before.
    fn login(
        &mut self,
        user: &str,
        existing: Option<&str>,
        method: &str,
    ) -> Result<Issued, Rejection> {
        let factor = match method {
            "pwd" => Factor::Password,
            "otp" => Factor::Totp {
                step: i64::from(self.n) + 1_000_000,
            },
            other => panic!("no factor for {other}"),
        };
        self.login_with(user, existing, &factor)
    }
    fn login_with(
        &mut self,
        user: &str,
        existing: Option<&str>,
        factor: &Factor,
    ) -> Result<Issued, Rejection> {
        let (sid, chain) = self.fresh();
        let (store, policy) = (&mut self.store, &self.policy);
        let auth = Authentication {
            user_id: user,
            factor,
            existing,
            new_session_id: &sid,
        };
        authenticate(store, policy, self.now, auth, &chain).unwrap()
    }
    fn session_auth(&mut self, sid: &str) -> Result<Issued, Rejection> {
        let (_, chain) = self.fresh();
        session_authenticate(&mut self.store, &self.policy, self.now, sid, &chain).unwrap()
    }
    /// Refreshes `hash`; returns the new hash on success.
    fn refresh(&mut self, hash: &str) -> Result<String, Rejection> {
        let (_, chain) = self.fresh();
        refresh(
            &mut self.store,
            &self.policy,
            self.now,
            hash,
            &chain.refresh_hash,
        )
        .unwrap()
        .map(|_| chain.refresh_hash)
    }
    fn logout(&mut self, sid: &str) -> Result<(), Rejection> {
        logout(&mut self.store, self.now, sid).unwrap()
    }
    fn first_token(&self, sid: &str) -> String {
        self.store
            .tokens
            .values()
            .filter(|t| t.session_id == sid)
            .max_by_key(|t| t.created_at)
            .map(|t| t.hash.clone())
            .unwrap()
    }
}

#[test]
fn login_creates_a_two_week_session() {
    let mut w = World::new();
    let i = w.login("alice", None, "pwd").unwrap();
    assert_eq!(i.session.expires_at, T0 + 14 * DAY);
    assert_eq!(i.session.created_at, T0);
    assert_eq!(i.session.auth_time, T0);
    assert_eq!(i.session.amr, vec!["pwd"]);
    assert_eq!(i.refresh_expires_at, T0 + 30 * DAY);
    assert_eq!(w.store.tokens.len(), 1, "one refresh token, stored by hash");
}

#[test]
fn session_authenticate_extends_within_lifetime() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(13 * DAY);
    let i = w.session_auth(&sid).unwrap();
    assert_eq!(i.session.expires_at, T0 + 27 * DAY);
    assert_eq!(i.session.created_at, T0, "start time never moves");
    assert_eq!(i.session.auth_time, T0, "no new authentication");
}

#[test]
fn nothing_revives_an_expired_session() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let rt = w.first_token(&sid);
    w.advance(14 * DAY); // exactly at expiry: dead
    assert_eq!(w.session_auth(&sid), Err(Rejection::SessionNotFound));
    assert!(w.store.sessions.is_empty(), "deleted when touched");
    assert_eq!(
        w.login("alice", Some(&sid), "otp").map(|_| ()),
        Err(Rejection::SessionNotFound)
    );
    assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
    w.now = T0; // even a clock going back does not bring it back
    assert_eq!(w.session_auth(&sid), Err(Rejection::SessionNotFound));
}

#[test]
fn refresh_does_not_extend_the_session() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(DAY);
    let rt = w.first_token(&sid);
    w.refresh(&rt).unwrap();
    assert_eq!(w.store.sessions[&sid].expires_at, T0 + 14 * DAY);
}

#[test]
fn refresh_needs_a_live_session() {
    let mut w = World::with(Policy {
        refresh_max_ms: 60 * DAY,
        ..policy()
    });
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let mut rt = w.first_token(&sid);
    for _ in 0..13 {
        w.advance(DAY);
        rt = w.refresh(&rt).unwrap();
    }
    w.advance(DAY);
    assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
}

#[test]
fn session_expiration_bounds_rotation() {
    let mut w = World::with(Policy {
        refresh_max_ms: 2 * DAY,
        ..policy()
    });
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let mut rt = w.first_token(&sid);
    w.advance(DAY);
    rt = w.refresh(&rt).unwrap();
    w.advance(DAY - 1);
    rt = w.refresh(&rt).unwrap();
    w.advance(1);
    assert_eq!(w.refresh(&rt), Err(Rejection::RefreshTokenExpired));
    // A new authentication starts a new chain with a new bound.
    let i = w.session_auth(&sid).unwrap();
    assert_eq!(i.refresh_expires_at, w.now + 2 * DAY);
    let rt2 = w.first_token(&sid);
    assert!(w.refresh(&rt2).is_ok());
}

#[test]
fn refresh_rotates_and_old_token_is_single_use() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let a = w.first_token(&sid);
    let b = w.refresh(&a).unwrap();
    assert_eq!(w.store.tokens[&a].state, TokenState::Rotated);
    assert_eq!(
        w.store.tokens[&b].audience, w.store.tokens[&a].audience,
        "audience kept"
    );
    assert_eq!(w.store.tokens[&b].state, TokenState::Active);
    w.advance(11 * SEC);
    let c = w.refresh(&b).unwrap();
    assert_ne!(b, c);
}

#[test]
fn replay_outside_grace_ends_the_session_with_its_family() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let a = w.first_token(&sid);
    w.advance(SEC);
    w.session_auth(&sid).unwrap();
    let other_chain = w.first_token(&sid);
    assert_ne!(a, other_chain);
    let b = w.refresh(&a).unwrap();
    w.advance(10 * SEC + 1);
    assert_eq!(w.refresh(&a), Err(Rejection::RefreshTokenReused));
    assert_eq!(
        w.refresh(&b),
        Err(Rejection::InvalidRefreshToken),
        "successor revoked"
    );
    assert_eq!(
        w.refresh(&other_chain),
        Err(Rejection::InvalidRefreshToken),
        "whole family"
    );
    assert_eq!(
        w.session_auth(&sid).map(|_| ()),
        Err(Rejection::SessionNotFound),
        "the session ends too"
    );
    assert!(!w.store.sessions.contains_key(&sid));
}

#[test]
fn a_superseded_sibling_presented_ends_the_session() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let other = w.login("alice", None, "pwd").unwrap().session.id;
    let a = w.first_token(&sid);
    let b = w.refresh(&a).unwrap();
    let b2 = w.refresh(&a).unwrap();
    w.refresh(&b2).unwrap();
    assert_eq!(w.refresh(&b), Err(Rejection::RefreshTokenReused));
    assert!(!w.store.sessions.contains_key(&sid), "ended");
    assert!(
        w.store.sessions.contains_key(&other),
        "not the user's others"
    );
}

/// Runs `op` on a [`Recording`] of the world's store and returns what it recorded.
fn recorded<T>(
    w: &mut World,
    op: impl FnOnce(&mut Recording<'_, MemStore>, &Policy, Millis) -> T,
) -> (T, Ended) {
    let (policy, now) = (w.policy, w.now);
    let mut rec = Recording::new(&mut w.store);
    let out = op(&mut rec, &policy, now);
    (out, rec.ended)
}

#[test]
fn every_ending_is_recorded_where_it_happens() {
    let mut w = World::with(Policy {
        max_sessions: 2,
        ..policy()
    });
    let s1 = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(SEC);
    let s2 = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(SEC);
    // The cap: a third session ends the oldest.
    let (_, ended) = recorded(&mut w, |st, p, now| {
        let auth = Authentication {
            user_id: "alice",
            factor: &Factor::Password,
            existing: None,
            new_session_id: "s-new",
        };
        let chain = NewChain {
            refresh_hash: "h-new".into(),
            audience: "aud".into(),
        };
        authenticate(st, p, now, auth, &chain)
    });
    assert_eq!(
        ended,
        Ended {
            sessions: vec![s1.clone()],
            all: false
        }
    );

    // Logout.
    let (_, ended) = recorded(&mut w, |st, _, now| logout(st, now, &s2));
    assert_eq!(ended.sessions, vec![s2.clone()]);
    // A logout of a session that is not there ends nothing.
    let (_, ended) = recorded(&mut w, |st, _, now| logout(st, now, &s2));
    assert!(ended.is_empty());

    // Reuse.
    let a = w.first_token("s-new");
    let b = w.refresh(&a).unwrap();
    w.refresh(&b).unwrap();
    let (_, ended) = recorded(&mut w, |st, p, now| refresh(st, p, now, &a, "h-x"));
    assert_eq!(ended.sessions, vec!["s-new".to_owned()]);

    // Expiry, found by a purge (a new login, the list) or by touching the session.
    let s3 = w.login("alice", None, "pwd").unwrap().session.id;
    let s4 = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(14 * DAY);
    let (_, mut ended) = recorded(&mut w, |st, p, now| list(st, p, now));
    ended.sessions.sort();
    let mut want = vec![s3, s4];
    want.sort();
    assert_eq!(ended.sessions, want);
    let s5 = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(14 * DAY);
    let (_, ended) = recorded(&mut w, |st, p, now| {
        session_authenticate(
            st,
            p,
            now,
            &s5,
            &NewChain {
                refresh_hash: "h-y".into(),
                audience: "aud".into(),
            },
        )
    });
    assert_eq!(ended.sessions, vec![s5]);

    // Revoke-all, even with nothing left to end.
    let (_, ended) = recorded(&mut w, |st, _, _| revoke_all(st));
    assert_eq!(
        ended,
        Ended {
            sessions: vec![],
            all: true
        }
    );
    assert!(!ended.is_empty());
    assert!(Ended::default().is_empty());
}

#[test]
fn replay_within_grace_gets_a_sibling() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let a = w.first_token(&sid);
    let b = w.refresh(&a).unwrap();
    w.advance(10 * SEC); // inclusive bound
    let b2 = w.refresh(&a).unwrap();
    assert_eq!(
        w.store.tokens[&b2].generation,
        w.store.tokens[&b].generation
    );
    // Either sibling may be used; using one supersedes the other.
    w.advance(SEC);
    let c = w.refresh(&b2).unwrap();
    assert_eq!(w.store.tokens[&b].state, TokenState::Superseded);
    assert_eq!(w.refresh(&b), Err(Rejection::RefreshTokenReused));
    assert_eq!(w.refresh(&c), Err(Rejection::InvalidRefreshToken));
}

#[test]
fn zero_grace_means_no_sibling_even_in_the_same_millisecond() {
    let mut w = World::new();
    w.policy.reuse_grace_ms = 0;
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let a = w.first_token(&sid);
    let b = w.refresh(&a).unwrap();
    assert_eq!(w.refresh(&a), Err(Rejection::RefreshTokenReused));
    assert_eq!(w.refresh(&b), Err(Rejection::InvalidRefreshToken));
}

#[test]
fn grace_covers_only_the_immediately_previous_token() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let a = w.first_token(&sid);
    let b = w.refresh(&a).unwrap();
    let _c = w.refresh(&b).unwrap();
    assert_eq!(
        w.refresh(&a),
        Err(Rejection::RefreshTokenReused),
        "two generations back"
    );
}

#[test]
fn concurrent_refreshes_all_succeed_once_serialised() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let a = w.first_token(&sid);
    let results: Vec<_> = (0..5).map(|_| w.refresh(&a)).collect();
    assert!(results.iter().all(Result::is_ok));
    let active = w
        .store
        .tokens
        .values()
        .filter(|t| t.state == TokenState::Active)
        .count();
    assert_eq!(active, 5, "one rotation and four grace siblings");
}

#[test]
fn logout_deletes_session_and_refresh_tokens() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    let rt = w.first_token(&sid);
    assert_eq!(w.logout(&sid), Ok(()));
    assert_eq!(w.session_auth(&sid), Err(Rejection::SessionNotFound));
    assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
    assert!(w.store.tokens.is_empty());
    assert_eq!(w.logout(&sid), Err(Rejection::SessionNotFound));
    assert_eq!(w.logout("nope"), Err(Rejection::SessionNotFound));
}

#[test]
fn authentications_accumulate_in_one_session() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(DAY);
    let i = w.login("alice", Some(&sid), "otp").unwrap();
    assert_eq!(i.session.id, sid);
    assert_eq!(i.session.amr, vec!["pwd", "otp", "mfa"]);
    assert_eq!(i.session.auth_time, T0 + DAY);
    assert_eq!(i.session.expires_at, T0 + 15 * DAY);
    w.advance(DAY);
    let i = w.login("alice", Some(&sid), "pwd").unwrap();
    assert_eq!(i.session.amr, vec!["pwd", "otp", "mfa"], "each method once");
    assert_eq!(i.session.auth_time, T0 + 2 * DAY);
    assert_eq!(w.store.sessions.len(), 1);
}

#[test]
fn another_users_session_cannot_be_joined() {
    let mut w = World::new();
    let sid = w.login("alice", None, "pwd").unwrap().session.id;
    assert_eq!(
        w.login("bob", Some(&sid), "pwd").map(|_| ()),
        Err(Rejection::SessionNotFound)
    );
    assert_eq!(
        w.login("alice", Some("unknown"), "pwd").map(|_| ()),
        Err(Rejection::SessionNotFound)
    );
}

#[test]
fn list_shows_live_sessions_newest_first() {
    let mut w = World::new();
    let s1 = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(DAY);
    let s2 = w.login("alice", None, "pwd").unwrap().session.id;
    let listed: Vec<_> = list(&mut w.store, &w.policy, w.now)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, vec![s2.clone(), s1.clone()]);
    w.advance(13 * DAY);
    let listed: Vec<_> = list(&mut w.store, &w.policy, w.now)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        listed,
        vec![s2],
        "expired sessions are not listed, and are purged"
    );
    assert!(!w.store.sessions.contains_key(&s1));
}

#[test]
fn revoke_all_ends_every_session() {
    let mut w = World::new();
    let s1 = w.login("alice", None, "pwd").unwrap().session.id;
    let s2 = w.login("alice", None, "pwd").unwrap().session.id;
    let rt = w.first_token(&s2);
    assert_eq!(revoke_all(&mut w.store).unwrap(), 2);
    assert_eq!(w.session_auth(&s1), Err(Rejection::SessionNotFound));
    assert_eq!(w.refresh(&rt), Err(Rejection::InvalidRefreshToken));
    assert!(list(&mut w.store, &w.policy, w.now).unwrap().is_empty());
}

#[test]
fn new_logins_purge_expired_state() {
    let mut w = World::with(Policy {
        refresh_max_ms: DAY,
        ..policy()
    });
    let s1 = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(DAY);
    w.login("alice", None, "pwd").unwrap();
    assert!(
        w.store.tokens.values().all(|t| t.session_id != s1),
        "expired chain purged"
    );
    w.advance(14 * DAY);
    w.login("alice", None, "pwd").unwrap();
    assert_eq!(w.store.sessions.len(), 1);
}

#[test]
fn a_new_session_past_the_cap_ends_the_oldest() {
    let mut w = World::with(Policy {
        max_sessions: 3,
        ..policy()
    });
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(w.login("alice", None, "pwd").unwrap().session.id);
        w.advance(SEC);
    }
    let oldest_token = w.first_token(&ids[0]);
    let i = w.login("alice", None, "pwd").unwrap();
    assert_eq!(i.ended_sessions, 1, "one session made room");
    assert_eq!(w.store.sessions.len(), 3, "never more than the cap");
    assert!(!w.store.sessions.contains_key(&ids[0]), "the oldest ended");
    assert!(
        w.store.tokens.values().all(|t| t.session_id != ids[0]),
        "its refresh tokens are revoked"
    );
    assert_eq!(
        w.refresh(&oldest_token),
        Err(Rejection::InvalidRefreshToken)
    );
    assert_eq!(w.session_auth(&ids[0]), Err(Rejection::SessionNotFound));
    for kept in &ids[1..] {
        assert!(w.session_auth(kept).is_ok(), "younger sessions stay");
    }
    // Adding an authentication to a live session creates none, so it ends none.
    let i = w.login("alice", Some(&ids[1]), "otp").unwrap();
    assert_eq!((i.ended_sessions, w.store.sessions.len()), (0, 3));
}

#[test]
fn the_cap_counts_live_sessions_only() {
    let mut w = World::with(Policy {
        max_sessions: 2,
        session_ttl_ms: DAY,
        ..policy()
    });
    let s1 = w.login("alice", None, "pwd").unwrap().session.id;
    w.advance(DAY); // s1 expired
    let s2 = w.login("alice", None, "pwd").unwrap().session.id;
    let i = w.login("alice", None, "pwd").unwrap();
    assert_eq!(
        i.ended_sessions, 0,
        "the expired one was purged, not counted"
    );
    assert!(!w.store.sessions.contains_key(&s1));
    assert!(w.store.sessions.contains_key(&s2));
}

#[test]
fn a_cap_of_one_keeps_only_the_newest_session() {
    let mut w = World::with(Policy {
        max_sessions: 1,
        ..policy()
    });
    let s1 = w.login("alice", None, "pwd").unwrap().session.id;
    let s2 = w.login("alice", None, "pwd").unwrap().session.id;
    let ids: Vec<_> = w.store.sessions.keys().cloned().collect();
    assert_eq!(ids, vec![s2]);
    assert_ne!(s1, ids[0]);
}

#[test]
fn over_cap_picks_the_oldest() {
    let mut w = World::new();
    let all: Vec<Session> = (0..5)
        .map(|_| {
            w.advance(SEC);
            w.login("alice", None, "pwd").unwrap().session
        })
        .collect();
    let ids = |s: &[Session]| s.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(over_cap(&all, 5)), ids(&all[..1]), "room for one more");
    assert_eq!(ids(over_cap(&all, 3)), ids(&all[..3]));
    assert_eq!(ids(over_cap(&all, 1)), ids(&all));
    assert!(over_cap(&all, 6).is_empty());
    assert!(over_cap(&all, 50).is_empty());
    assert!(over_cap(&[], 1).is_empty());
    // A zero cap cannot be configured; it behaves like one.
    assert_eq!(ids(over_cap(&all, 0)), ids(&all));
}

#[test]
fn the_list_is_bounded_by_the_cap_newest_first() {
    // Sessions stored before the cap existed (or before it was lowered) are not all listed.
    let mut w = World::new();
    let mut ids = Vec::new();
    for _ in 0..6 {
        w.advance(SEC);
        ids.push(w.login("alice", None, "pwd").unwrap().session.id);
    }
    w.policy.max_sessions = 4;
    let listed: Vec<_> = list(&mut w.store, &w.policy, w.now)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    let want: Vec<_> = ids.iter().rev().take(4).cloned().collect();
    assert_eq!(listed, want);
    // The next new session brings the store back under the cap.
    let i = w.login("alice", None, "pwd").unwrap();
    assert_eq!(i.ended_sessions, 3);
    assert_eq!(w.store.sessions.len(), 4);
}

#[test]
fn the_eleventh_password_check_is_refused_and_a_success_clears_the_window() {
    let p = policy();
    let mut store = MemStore::default();
    for i in 1..=10 {
        assert_eq!(
            admit_login(&mut store, &p, T0 + i * SEC).unwrap(),
            Ok(()),
            "check {i}"
        );
    }
    let refused = admit_login(&mut store, &p, T0 + 60 * SEC).unwrap();
    assert_eq!(
        refused,
        Err(Rejection::TooManyAttempts {
            // The window started at the first check, T0 + 1 s.
            retry_after_secs: 15 * 60 - 59
        })
    );
    assert_eq!(
        store.attempts.map(|w| w.count),
        Some(10),
        "a refusal counts nothing"
    );
    // The window's end admits again.
    assert_eq!(
        admit_login(&mut store, &p, T0 + SEC + 15 * 60 * SEC).unwrap(),
        Ok(())
    );
    assert_eq!(store.attempts.map(|w| w.count), Some(1));
    login_succeeded(&mut store, &p).unwrap();
    assert_eq!(store.attempts, None);
}

#[test]
fn a_refused_check_writes_nothing() {
    let p = Policy {
        login_failures: 1,
        ..policy()
    };
    let mut store = MemStore::default();
    assert_eq!(admit_login(&mut store, &p, T0).unwrap(), Ok(()));
    let before = store.attempts;
    assert!(admit_login(&mut store, &p, T0 + 1).unwrap().is_err());
    assert_eq!(store.attempts, before);
}

mod factors;
