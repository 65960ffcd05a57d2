//! The gate's phases, natively, with a fake clock and scripted I/O answers.
#![allow(clippy::type_complexity)] // the tables are tuples, one row per case

use std::sync::Arc;

use super::*;
use crate::access_cookie::{self, NONCE_BYTES};
use crate::audit::{Audit, Event, Level, Outcome};
use crate::csrf::CsrfRefusal;
use crate::policy::PolicyRefusal;
use crate::rejection::{BodyFault, TokenFault};
use crate::revocation::Lookup;
use crate::session_cookie;
use crate::store_api::StoreFailure;
use crate::target::TargetError;
use crate::token::TokenError;

use super::tests_support::{
    alice_cookie_header as alice_cookies, claims, config, config_with, ASSERTION_KEY, NOW, UA, URL,
};

/// The path of [`URL`], as classified.
const PATH: &str = "/orders";

fn facts<'a>(
    method: &'a str,
    authorization: Option<&'a str>,
    cookie: Option<&'a str>,
) -> Facts<'a> {
    Facts {
        method,
        url: URL,
        authorization,
        cookie,
        user_agent: Some(UA),
        ..Facts::default()
    }
}

/// What the machine asked for, owned, for the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    Verify(String),
    Revocation(String, Option<String>),
    Refresh(String, Option<i64>),
}

/// Runs the machine to the end, answering each need with `answer`; the needs in order and
/// the outcome.
fn run(
    c: &EdgeConfig,
    f: &Facts<'_>,
    mode: Mode,
    mut answer: impl FnMut(&Asked) -> Answer,
) -> (Vec<Asked>, Result<Authenticated, Rejection>, Vec<Note>) {
    let mut machine = Authentication::start(c, f, mode, NOW);
    let mut asked = Vec::new();
    for _ in 0..10 {
        let need = match machine.next() {
            Next::Done => break,
            Next::VerifyToken(t) => Asked::Verify(t.to_owned()),
            Next::ReadRevocation {
                subject,
                session_id,
            } => Asked::Revocation(subject.to_owned(), session_id.map(str::to_owned)),
            Next::RefreshSession {
                session,
                carried_ms,
            } => Asked::Refresh(session.session_id.clone(), carried_ms),
        };
        let a = answer(&need);
        asked.push(need);
        machine.resume(a);
    }
    let notes = machine.notes().to_vec();
    (asked, machine.outcome(), notes)
}

fn clean() -> Answer {
    Answer::Revocation(Some(Lookup {
        session_revoked: Some(false),
        user_revoked_at: Some(None),
    }))
}

fn refreshed(sub: &str, token: &str) -> Answer {
    Answer::Refreshed(
        Ok(Arc::new(Refreshed {
            access_token: token.into(),
            claims: claims(sub, None),
            at_ms: 9_000,
        })),
        Some([7; NONCE_BYTES]),
    )
}

fn reason(result: &Result<Authenticated, Rejection>) -> Option<Reason> {
    result.as_ref().err().map(|r| r.reason)
}

#[test]
fn nothing_presented_needs_nothing_and_is_refused() {
    let c = config();
    let (asked, out, _) = run(&c, &facts("GET", None, None), Mode::Forward(PATH), |_| {
        clean()
    });
    assert!(asked.is_empty());
    assert_eq!(reason(&out), Some(Reason::MissingToken));
}

#[test]
fn a_bearer_token_is_verified_then_checked_for_revocation() {
    let c = config();
    let f = facts("POST", Some("Bearer tok.en.x"), None);
    let (asked, out, _) = run(&c, &f, Mode::Forward(PATH), |a| match a {
        Asked::Verify(_) => Answer::Verified(Ok(claims("alice", Some("s-9")))),
        _ => clean(),
    });
    assert_eq!(
        asked,
        vec![
            Asked::Verify("tok.en.x".into()),
            Asked::Revocation("alice".into(), Some("s-9".into()))
        ]
    );
    // A Bearer POST without Fetch Metadata passes: no ambient credential, no CSRF rule.
    let auth = out.unwrap_or_else(|r| panic!("{r:?}"));
    assert!(auth.bearer && auth.set_cookies.is_empty());
    assert_eq!(auth.session_id.as_deref(), Some("s-9"));
}

#[test]
fn an_expired_bearer_token_is_never_refreshed() {
    let c = config();
    let (_, cookie) = alice_cookies(&c, "tok");
    let f = facts("GET", Some("Bearer tok.en.x"), Some(&cookie));
    let (asked, out, _) = run(&c, &f, Mode::Forward(PATH), |_| {
        Answer::Verified(Err(VerifyFailure::Token(TokenError::Expired {
            exp: 1,
            now: 2,
        })))
    });
    assert_eq!(asked.len(), 1);
    assert_eq!(reason(&out), Some(Reason::Token(TokenFault::Expired)));
}

#[test]
fn a_cookie_token_takes_the_session_cookies_session_and_csrf() {
    let c = config();
    let (_, cookie) = alice_cookies(&c, "tok-a");
    let verified = |a: &Asked| match a {
        Asked::Verify(t) => {
            assert_eq!(t, "tok-a", "the token sealed in the access cookie");
            Answer::Verified(Ok(claims("alice", None)))
        }
        _ => clean(),
    };
    let (asked, out, _) = run(
        &c,
        &facts("GET", None, Some(&cookie)),
        Mode::Forward(PATH),
        verified,
    );
    assert_eq!(
        asked[1],
        Asked::Revocation("alice".into(), Some("s-alice".into()))
    );
    let auth = out.unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(
        (auth.bearer, auth.session_id.as_deref()),
        (false, Some("s-alice"))
    );

    // Cookie-carried unsafe requests: CSRF after authentication, in the same machine.
    let rows: &[(Option<&str>, Option<&str>, Mode, Option<Reason>)] = &[
        (
            Some("cross-site"),
            None,
            Mode::Forward(PATH),
            Some(Reason::Csrf(CsrfRefusal::CrossSite)),
        ),
        (
            Some("same-site"),
            None,
            Mode::Forward(PATH),
            Some(Reason::Csrf(CsrfRefusal::CrossSite)),
        ),
        (
            None,
            None,
            Mode::Forward(PATH),
            Some(Reason::Csrf(CsrfRefusal::NoOriginInformation)),
        ),
        (
            None,
            Some("https://evil.test"),
            Mode::Forward(PATH),
            Some(Reason::Csrf(CsrfRefusal::OriginMismatch)),
        ),
        (Some("same-origin"), None, Mode::Forward(PATH), None),
        (None, Some("https://app.test"), Mode::Forward(PATH), None),
        // The edge's routes ran the rule before the machine.
        (Some("cross-site"), None, Mode::EdgeRoute, None),
    ];
    for (site, origin, mode, want) in rows {
        let f = Facts {
            sec_fetch_site: *site,
            origin: *origin,
            ..facts("POST", None, Some(&cookie))
        };
        let (_, out, _) = run(&c, &f, *mode, verified);
        assert_eq!(reason(&out), *want, "{site:?} {origin:?} {mode:?}");
    }
}

#[test]
fn a_cookie_carried_websocket_handshake_is_held_to_the_csrf_rule() {
    let c = config();
    let (_, cookie) = alice_cookies(&c, "tok-a");
    let verified = |a: &Asked| match a {
        Asked::Verify(_) => Answer::Verified(Ok(claims("alice", None))),
        _ => clean(),
    };
    let handshake = |site, origin, upgrade| Facts {
        sec_fetch_site: site,
        origin,
        upgrade,
        ..facts("GET", None, Some(&cookie))
    };
    let rows: &[(Option<&str>, Option<&str>, Option<&str>, Option<Reason>)] = &[
        (
            None,
            Some("https://evil.test"),
            Some("websocket"),
            Some(Reason::Csrf(CsrfRefusal::OriginMismatch)),
        ),
        (
            Some("cross-site"),
            Some("https://evil.test"),
            Some("WebSocket"),
            Some(Reason::Csrf(CsrfRefusal::CrossSite)),
        ),
        (None, Some("https://app.test"), Some("websocket"), None),
        (Some("same-origin"), None, Some("websocket"), None),
        // The same cross-site GET without the upgrade is a safe request.
        (None, Some("https://evil.test"), None, None),
    ];
    for (site, origin, upgrade, want) in rows {
        let f = handshake(*site, *origin, *upgrade);
        let (_, out, _) = run(&c, &f, Mode::Forward(PATH), verified);
        assert_eq!(reason(&out), *want, "{site:?} {origin:?} {upgrade:?}");
    }
    // A Bearer token is not an ambient credential: no CSRF rule for its handshake.
    let f = Facts {
        origin: Some("https://evil.test"),
        upgrade: Some("websocket"),
        ..facts("GET", Some("Bearer tok.en.x"), None)
    };
    let (_, out, _) = run(&c, &f, Mode::Forward(PATH), verified);
    assert_eq!(reason(&out), None);
}

#[test]
fn an_expired_cookie_token_is_refreshed_through_its_unrevoked_session() {
    let c = config();
    let (raw, cookie) = alice_cookies(&c, "tok-old");
    let f = facts("GET", None, Some(&cookie));
    let (asked, out, _) = run(&c, &f, Mode::Forward(PATH), |a| match a {
        Asked::Verify(_) => Answer::Verified(Err(VerifyFailure::Token(TokenError::Expired {
            exp: 1,
            now: 2,
        }))),
        Asked::Revocation(..) => clean(),
        Asked::Refresh(..) => refreshed("alice", "tok-new"),
    });
    assert_eq!(
        asked,
        vec![
            Asked::Verify("tok-old".into()),
            Asked::Revocation("alice".into(), Some("s-alice".into())),
            Asked::Refresh("s-alice".into(), Some(6_000)),
        ]
    );
    let auth = out.unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(auth.session_id.as_deref(), Some("s-alice"));
    // The new access cookie opens beside the same session cookie, to the new token.
    let set = &auth.set_cookies[0];
    let value = set
        .strip_prefix("__Host-access=")
        .and_then(|v| v.split(';').next())
        .unwrap_or_default();
    let Some(s) = &c.session else { panic!() };
    let opened = access_cookie::open(&s.binding_keys, &raw, value);
    assert_eq!(
        opened.map(|o| (o.token, o.minted_ms)),
        Ok(("tok-new".to_owned(), 9_000))
    );
    assert!(set.contains("HttpOnly") && set.contains("Secure"), "{set}");
}

/// Found by the load harness (load/run.mjs --scenario key_rotation, then a new isolate): once
/// the issuer removed its previous signing key from the JWKS, every user whose last access
/// cookie held a token signed with it was logged out (`unknown_kid`, cookies cleared, 303 to
/// the login page), though their session was valid at the store. The edge sealed that token
/// itself beside this session cookie, so it is renewed through the session like an expired
/// one; a Bearer token with an unknown key stays refused.
#[test]
fn a_cookie_token_whose_key_was_retired_is_refreshed_through_its_session() {
    let c = config();
    let (_, cookie) = alice_cookies(&c, "tok-old-key");
    let f = facts("GET", None, Some(&cookie));
    let (asked, out, _) = run(&c, &f, Mode::Forward(PATH), |a| match a {
        Asked::Verify(_) => Answer::Verified(Err(VerifyFailure::Token(TokenError::UnknownKey))),
        Asked::Revocation(..) => clean(),
        Asked::Refresh(..) => refreshed("alice", "tok-new-key"),
    });
    assert_eq!(
        asked,
        vec![
            Asked::Verify("tok-old-key".into()),
            Asked::Revocation("alice".into(), Some("s-alice".into())),
            Asked::Refresh("s-alice".into(), Some(6_000)),
        ]
    );
    let auth = out.unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(auth.session_id.as_deref(), Some("s-alice"));
    assert_eq!(auth.set_cookies.len(), 1);

    let bearer = facts("GET", Some("Bearer tok.en.x"), Some(&cookie));
    let (asked, out, _) = run(&c, &bearer, Mode::Forward(PATH), |_| {
        Answer::Verified(Err(VerifyFailure::Token(TokenError::UnknownKey)))
    });
    assert_eq!(asked.len(), 1);
    assert_eq!(reason(&out), Some(Reason::Token(TokenFault::UnknownKey)));
}

#[test]
fn a_session_cookie_alone_is_refreshed_and_refusals_on_the_way() {
    let c = config();
    let (raw, _) = alice_cookies(&c, "x");
    let cookie = format!("__Host-session={raw}");
    let f = facts("GET", None, Some(&cookie));
    let revoked = Answer::Revocation(Some(Lookup {
        session_revoked: Some(true),
        user_revoked_at: Some(None),
    }));
    let unreadable = Answer::Revocation(Some(Lookup {
        session_revoked: None,
        user_revoked_at: None,
    }));
    let rows: Vec<(&str, Answer, Answer, Option<Reason>, usize)> = vec![
        ("refreshed", clean(), refreshed("alice", "t"), None, 2),
        (
            "revoked: no store call",
            revoked,
            refreshed("alice", "t"),
            Some(Reason::Revoked),
            1,
        ),
        (
            "kv unreadable, fail closed",
            unreadable,
            refreshed("alice", "t"),
            Some(Reason::RevocationUnavailable),
            1,
        ),
        (
            "no namespace",
            Answer::Revocation(None),
            refreshed("alice", "t"),
            None,
            2,
        ),
        (
            "tokens of another user",
            clean(),
            refreshed("mallory", "t"),
            Some(Reason::RefreshSubjectMismatch),
            2,
        ),
        (
            "store: session gone",
            clean(),
            Answer::Refreshed(Err(Rejection::store(StoreFailure::SessionGone)), None),
            Some(Reason::Store(StoreFailure::SessionGone)),
            2,
        ),
        (
            "no randomness",
            clean(),
            Answer::Refreshed(
                Ok(Arc::new(Refreshed {
                    access_token: "t".into(),
                    claims: claims("alice", None),
                    at_ms: 1,
                })),
                None,
            ),
            Some(Reason::NoRandomness),
            2,
        ),
    ];
    for (name, revocation, refresh, want, needs) in rows {
        let (asked, out, _) = run(&c, &f, Mode::Forward(PATH), |a| match a {
            Asked::Revocation(..) => revocation.clone(),
            _ => refresh.clone(),
        });
        assert_eq!(reason(&out), want, "{name}");
        assert_eq!(asked.len(), needs, "{name}: {asked:?}");
        assert_eq!(
            asked.first(),
            Some(&Asked::Revocation("alice".into(), Some("s-alice".into()))),
            "{name}"
        );
        if want.is_none() {
            let auth = out.unwrap_or_else(|r| panic!("{r:?}"));
            assert_eq!(auth.set_cookies.len(), 1, "{name}");
        }
    }
}

#[test]
fn revocation_verdicts() {
    let c_closed = config();
    let c_open = config_with(true, &[("REVOCATION_ON_KV_ERROR", "open")]);
    let f = facts("GET", Some("Bearer t"), None);
    let token = |_: &Asked| Answer::Verified(Ok(claims("alice", Some("s"))));
    let answer = |lookup: Option<Lookup>| {
        move |a: &Asked| match a {
            Asked::Verify(_) => token(a),
            _ => Answer::Revocation(lookup),
        }
    };
    let unreadable = Some(Lookup {
        session_revoked: None,
        user_revoked_at: None,
    });
    let (_, out, notes) = run(&c_closed, &f, Mode::Forward(PATH), answer(unreadable));
    assert_eq!(reason(&out), Some(Reason::RevocationUnavailable));
    assert_eq!(notes, vec![Note::RevocationFailedClosed]);
    let (_, out, notes) = run(&c_open, &f, Mode::Forward(PATH), answer(unreadable));
    assert!(out.is_ok());
    assert_eq!(notes, vec![Note::RevocationFailedOpen]);
    // The user was revoked after the token was issued (ms): refused.
    let after = Some(Lookup {
        session_revoked: Some(false),
        user_revoked_at: Some(Some((NOW - 5) * 1000)),
    });
    let (_, out, _) = run(&c_closed, &f, Mode::Forward(PATH), answer(after));
    assert_eq!(reason(&out), Some(Reason::Revoked));
    // Revoked before the token was issued: it passes.
    let before = Some(Lookup {
        session_revoked: Some(false),
        user_revoked_at: Some(Some((NOW - 60) * 1000)),
    });
    let (_, out, notes) = run(&c_closed, &f, Mode::Forward(PATH), answer(before));
    assert!(out.is_ok() && notes.is_empty());
}

#[test]
fn token_refusals() {
    let c = config();
    let (_, cookie) = alice_cookies(&c, "tok-a");
    let rows: Vec<(Option<&str>, Answer, Reason)> = vec![
        (
            None,
            Answer::Verified(Ok(claims("mallory", None))),
            Reason::TokenSessionMismatch,
        ),
        (
            None,
            Answer::Verified(Ok(claims("alice", Some("s-other")))),
            Reason::TokenSessionMismatch,
        ),
        (
            // A Bearer token of another user beside Alice's session cookie.
            Some("Bearer t"),
            Answer::Verified(Ok(claims("mallory", None))),
            Reason::TokenSessionMismatch,
        ),
        (
            None,
            Answer::Verified(Err(VerifyFailure::Keys)),
            Reason::KeysUnavailable,
        ),
        (
            None,
            Answer::Verified(Err(VerifyFailure::Token(TokenError::BadSignature))),
            Reason::Token(TokenFault::BadSignature),
        ),
        // An answer to a question not asked: nothing passes.
        (
            None,
            clean(),
            Reason::Upstream(crate::rejection::UpstreamFault::Reply),
        ),
    ];
    for (authorization, answer, want) in rows {
        let f = facts("GET", authorization, Some(&cookie));
        let (asked, out, _) = run(&c, &f, Mode::Forward(PATH), |_| answer.clone());
        assert_eq!(reason(&out), Some(want), "{authorization:?} {answer:?}");
        assert_eq!(
            asked.len(),
            1,
            "{want:?}: refused before any revocation read"
        );
    }
}

#[test]
fn presented_refusals_need_no_io() {
    let c = config();
    let (raw, cookie) = alice_cookies(&c, "tok-a");
    let access_only = cookie.replace(&format!("__Host-session={raw}; "), "");
    let rows: Vec<(Facts<'_>, Reason)> = vec![
        (
            facts("GET", Some("Bearer "), None),
            Reason::Credentials(crate::credentials::CredentialError::MalformedBearer),
        ),
        (
            facts("GET", None, Some(&access_only)),
            Reason::AccessCookieWithoutSession,
        ),
        (
            // The same cookies from another browser: the session cookie's binding fails.
            Facts {
                user_agent: Some("UA-B"),
                ..facts("GET", None, Some(&cookie))
            },
            Reason::SessionCookie(session_cookie::BindingError::Mismatch),
        ),
    ];
    for (f, want) in rows {
        let (asked, out, _) = run(&c, &f, Mode::Forward(PATH), |_| clean());
        assert!(asked.is_empty(), "{want:?}");
        assert_eq!(reason(&out), Some(want));
        assert!(out.err().is_some_and(|r| r.clear_session
            == (want
                != Reason::Credentials(crate::credentials::CredentialError::MalformedBearer))));
    }
}

#[test]
fn classify_table() {
    let c = config();
    let rows: &[(&str, &str, Result<Route, Reason>)] = &[
        ("GET", "https://app.test/orders", Ok(Route::Protected)),
        ("GET", "https://app.test/public/a", Ok(Route::Public)),
        (
            "PROPFIND",
            "https://app.test/orders",
            Err(Reason::MethodNotAllowed),
        ),
        (
            "TRACE",
            "https://app.test/orders",
            Err(Reason::MethodNotAllowed),
        ),
        (
            "GET",
            "https://app.test/public/%2e%2e/orders",
            Err(Reason::Target(TargetError::EncodedSeparator)),
        ),
        (
            "POST",
            "https://app.test/auth/login",
            Ok(Route::Auth(AuthRoute::Login)),
        ),
    ];
    for (method, url, want) in rows {
        let f = Facts {
            method,
            url,
            ..Facts::default()
        };
        let got = classify(&c, &f).map(|k| k.route).map_err(|r| r.reason);
        assert_eq!(&got, want, "{method} {url}");
    }
}

/// A protected target that a lenient upstream reads as the path of another route policy
/// (collapsing `//`, decoding `%61`, cutting `;x`) would skip the rule it reaches: refused.
#[test]
fn a_target_read_under_another_rule_is_refused() {
    let c = config_with(
        false,
        &[(
            "ROUTE_POLICIES",
            r#"[{"path": "/admin/*", "roles_any": ["admin"]}]"#,
        )],
    );
    let rows: &[(&str, Result<Route, Reason>)] = &[
        ("https://app.test/admin/users", Ok(Route::Protected)),
        ("https://app.test/admin//users", Ok(Route::Protected)),
        ("https://app.test/orders", Ok(Route::Protected)),
        ("https://app.test//orders", Ok(Route::Protected)),
        ("https://app.test/%41dmin/users", Ok(Route::Protected)),
        ("https://app.test/public/a", Ok(Route::Public)),
        (
            "https://app.test//admin/users",
            Err(Reason::Target(TargetError::AmbiguousPolicy)),
        ),
        (
            "https://app.test/%61dmin/users",
            Err(Reason::Target(TargetError::AmbiguousPolicy)),
        ),
        (
            "https://app.test/admin;x/users",
            Err(Reason::Target(TargetError::AmbiguousPolicy)),
        ),
        (
            "https://app.test/x/..%3b/admin/users",
            Err(Reason::Target(TargetError::AmbiguousSegment)),
        ),
        // A decoded `?` or `#` ends the path for an upstream that decodes before it splits
        // (Apache's mod_rewrite with an encoded `?`, CVE-2024-38474).
        (
            "https://app.test/admin%3f/users",
            Err(Reason::Target(TargetError::AmbiguousPolicy)),
        ),
        (
            "https://app.test/admin%23/users",
            Err(Reason::Target(TargetError::AmbiguousPolicy)),
        ),
        ("https://app.test/orders%3f/x", Ok(Route::Protected)),
    ];
    for (url, want) in rows {
        let f = Facts {
            method: "GET",
            url,
            ..Facts::default()
        };
        let got = classify(&c, &f).map(|k| k.route).map_err(|r| r.reason);
        assert_eq!(&got, want, "{url}");
    }
    // Without route policies there is no rule to skip: the same targets are forwarded.
    let plain = config_with(false, &[]);
    let f = Facts {
        method: "GET",
        url: "https://app.test//admin/users",
        ..Facts::default()
    };
    assert_eq!(classify(&plain, &f).map(|k| k.route), Ok(Route::Protected));
}

#[test]
fn edge_op_table() {
    let with = config();
    let without = config_with(false, &[]);
    let signing = config_with(false, &[("ASSERTION_KEY", ASSERTION_KEY)]);
    let json = Some("Application/JSON; charset=utf-8");
    let same = Some("same-origin");
    let rows: &[(
        &EdgeConfig,
        AuthRoute,
        &str,
        Option<&str>,
        Option<&str>,
        Option<&str>,
        Result<EdgeOp, Reason>,
    )] = &[
        (
            &with,
            AuthRoute::Login,
            "POST",
            None,
            None,
            same,
            Ok(EdgeOp::Login),
        ),
        (
            &with,
            AuthRoute::Login,
            "POST",
            None,
            None,
            None,
            Err(Reason::Csrf(CsrfRefusal::NoOriginInformation)),
        ),
        (
            &with,
            AuthRoute::Refresh,
            "POST",
            None,
            json,
            None,
            Ok(EdgeOp::RefreshGrant),
        ),
        (
            &with,
            AuthRoute::Refresh,
            "POST",
            Some("a=b"),
            json,
            same,
            Ok(EdgeOp::RefreshSession),
        ),
        (
            &with,
            AuthRoute::Refresh,
            "POST",
            Some("a=b"),
            json,
            Some("cross-site"),
            Err(Reason::Csrf(CsrfRefusal::CrossSite)),
        ),
        (
            &with,
            AuthRoute::Refresh,
            "POST",
            None,
            Some("text/plain"),
            Some("cross-site"),
            Err(Reason::Csrf(CsrfRefusal::CrossSite)),
        ),
        (
            &with,
            AuthRoute::Logout,
            "POST",
            None,
            None,
            Some("cross-site"),
            Err(Reason::Csrf(CsrfRefusal::CrossSite)),
        ),
        (
            &with,
            AuthRoute::LogoutAll,
            "POST",
            None,
            None,
            same,
            Ok(EdgeOp::LogoutAll),
        ),
        (
            &with,
            AuthRoute::Session,
            "GET",
            None,
            None,
            Some("cross-site"),
            Ok(EdgeOp::WhoAmI),
        ),
        (
            &with,
            AuthRoute::Sessions,
            "GET",
            None,
            None,
            None,
            Ok(EdgeOp::Sessions),
        ),
        (
            &with,
            AuthRoute::Unknown { wrong_method: true },
            "GET",
            None,
            None,
            None,
            Err(Reason::MethodNotAllowed),
        ),
        (
            &with,
            AuthRoute::Unknown {
                wrong_method: false,
            },
            "GET",
            None,
            None,
            None,
            Err(Reason::NoRoute),
        ),
        (
            &without,
            AuthRoute::Login,
            "POST",
            None,
            None,
            same,
            Err(Reason::NoRoute),
        ),
        (
            &without,
            AuthRoute::Sessions,
            "GET",
            None,
            None,
            None,
            Err(Reason::NoRoute),
        ),
        (
            &without,
            AuthRoute::Session,
            "GET",
            None,
            None,
            None,
            Ok(EdgeOp::WhoAmI),
        ),
        // The assertion's keys: public, whether sessions are on or not, with a key only.
        (
            &signing,
            AuthRoute::Jwks,
            "GET",
            None,
            None,
            Some("cross-site"),
            Ok(EdgeOp::Jwks),
        ),
        (
            &with,
            AuthRoute::Jwks,
            "GET",
            None,
            None,
            None,
            Err(Reason::NoRoute),
        ),
    ];
    for (c, op, method, cookie, content_type, site, want) in rows {
        let f = Facts {
            method,
            url: "https://app.test/auth/x",
            cookie: *cookie,
            content_type: *content_type,
            sec_fetch_site: *site,
            ..Facts::default()
        };
        assert_eq!(
            &edge_op(c, *op, &f).map_err(|r| r.reason),
            want,
            "{op:?} {method} {cookie:?} {content_type:?} {site:?}"
        );
    }
}

#[test]
fn end_session_and_webhook_ops() {
    let handle = crate::route::Handle::parse("0123456789abcdef").unwrap_or_else(|| unreachable!());
    let secret = "w".repeat(32);
    let hooked = config_with(true, &[("REVOCATION_WEBHOOK_SECRET", &secret)]);
    let hooked_gate_only = config_with(false, &[("REVOCATION_WEBHOOK_SECRET", &secret)]);
    let with = config();
    let without = config_with(false, &[]);
    let same = Some("same-origin");
    let rows: &[(
        &EdgeConfig,
        AuthRoute,
        &str,
        Option<&str>,
        Result<EdgeOp, Reason>,
    )] = &[
        // DELETE of a session: the CSRF rule of every edge route with a cookie.
        (
            &with,
            AuthRoute::EndSession(handle),
            "DELETE",
            same,
            Ok(EdgeOp::EndSession(handle)),
        ),
        (
            &with,
            AuthRoute::EndSession(handle),
            "DELETE",
            Some("cross-site"),
            Err(Reason::Csrf(CsrfRefusal::CrossSite)),
        ),
        (
            &with,
            AuthRoute::EndSession(handle),
            "DELETE",
            None,
            Err(Reason::Csrf(CsrfRefusal::NoOriginInformation)),
        ),
        (
            &without,
            AuthRoute::EndSession(handle),
            "DELETE",
            same,
            Err(Reason::NoRoute),
        ),
        // The webhook: off without its secret; no CSRF rule (a backend sends no Fetch
        // Metadata); with or without sessions.
        (
            &with,
            AuthRoute::Revocations,
            "POST",
            same,
            Err(Reason::NoRoute),
        ),
        (
            &hooked,
            AuthRoute::Revocations,
            "POST",
            None,
            Ok(EdgeOp::Revocations),
        ),
        (
            &hooked,
            AuthRoute::Revocations,
            "POST",
            Some("cross-site"),
            Ok(EdgeOp::Revocations),
        ),
        (
            &hooked_gate_only,
            AuthRoute::Revocations,
            "POST",
            None,
            Ok(EdgeOp::Revocations),
        ),
    ];
    for (c, op, method, site, want) in rows {
        let f = Facts {
            method,
            url: "https://app.test/auth/x",
            sec_fetch_site: *site,
            ..Facts::default()
        };
        assert_eq!(
            &edge_op(c, *op, &f).map_err(|r| r.reason),
            want,
            "{op:?} {method} {site:?}"
        );
    }
}

#[test]
fn refusal_replies() {
    let c = config();
    let ended = Rejection::new(Reason::Revoked);
    // A navigation with sessions: 303 to the login page, cookies cleared.
    let r = refusal(Some(&c), &ended, true, None);
    assert_eq!(r.status, 303);
    assert_eq!(r.headers, vec![("location", "/".to_owned())]);
    assert_eq!(r.set_cookies.len(), 2);
    assert!(r.set_cookies.iter().all(|s| s.contains("Max-Age=0")));
    // Not a navigation: the 401 with its challenge.
    let r = refusal(Some(&c), &ended, false, None);
    assert_eq!(r.status, 401);
    assert!(r
        .headers
        .iter()
        .any(|(n, v)| *n == "www-authenticate" && v.contains("invalid_token")));
    // A 403 navigation is not redirected; nothing is cleared.
    let r = refusal(
        Some(&c),
        &Rejection::new(Reason::Csrf(CsrfRefusal::CrossSite)),
        true,
        None,
    );
    assert_eq!((r.status, r.set_cookies.len()), (403, 0));
    // Without sessions (or configuration): no redirect, no cookies.
    let r = refusal(None, &ended, true, None);
    assert_eq!((r.status, r.set_cookies.len()), (401, 0));
    let r = refusal(Some(&config_with(false, &[])), &ended, true, None);
    assert_eq!((r.status, r.set_cookies.len()), (401, 0));
    let busy = refusal(None, &Rejection::new(Reason::KeysUnavailable), false, None);
    assert!(busy.headers.contains(&("retry-after", "5".to_owned())));
    let bad = refusal(
        None,
        &Rejection::new(Reason::Body(BodyFault::LoginJson)),
        false,
        None,
    );
    assert!(bad.headers.iter().all(|(n, _)| *n != "www-authenticate"));
}

#[test]
fn client_headers_follow_the_binding() {
    assert_eq!(client_headers_needed(&config()), (true, false));
    assert_eq!(
        client_headers_needed(&config_with(false, &[])),
        (false, false)
    );
    assert_eq!(
        client_headers_needed(&config_with(true, &[("BIND_IP", "prefix")])),
        (true, true)
    );
}

#[test]
fn notes_and_navigation() {
    assert_eq!(
        Note::RevocationFailedOpen.line(),
        (Level::Warn, "revocation", "kv_unreadable_fail_open")
    );
    assert_eq!(
        Note::RevocationFailedClosed.line(),
        (Level::Error, "revocation", "kv_unreadable_fail_closed")
    );
    let nav = Facts {
        sec_fetch_mode: Some("navigate"),
        ..facts("GET", None, None)
    };
    assert!(nav.navigation());
    assert!(!facts("GET", None, None).navigation());
}

/// Runs `machine` to the end with `answer`; its outcome's reason and its audit line.
fn audit_of(
    mut machine: Authentication<'_>,
    answer: impl Fn(&Next<'_>) -> Answer,
) -> (Option<Reason>, Option<Audit>) {
    for _ in 0..10 {
        let next = machine.next();
        if next == Next::Done {
            break;
        }
        let a = answer(&next);
        machine.resume(a);
    }
    let audit = machine.audit();
    (reason(&machine.outcome()), audit)
}

#[test]
fn a_refresh_writes_its_audit_line() {
    let c = config();
    let (raw, with_expired) = alice_cookies(&c, "tok-old");
    let only_session = format!("__Host-session={raw}");
    let expired = || {
        Answer::Verified(Err(VerifyFailure::Token(TokenError::Expired {
            exp: 1,
            now: 2,
        })))
    };
    let ok = Audit::new(Event::Refresh, Outcome::Success, "session_refresh")
        .subject(Some("alice"))
        .session(Some("s-alice"));
    let failed = |code| {
        Audit::new(Event::Refresh, Outcome::Failure, code)
            .subject(Some("alice"))
            .session(Some("s-alice"))
    };
    let gone = || Answer::Refreshed(Err(Rejection::store(StoreFailure::SessionGone)), None);
    let revoked = Answer::Revocation(Some(Lookup {
        session_revoked: Some(true),
        user_revoked_at: Some(None),
    }));

    // A transparent refresh (expired access cookie), done or refused by the store.
    let f = facts("GET", None, Some(&with_expired));
    let start = || Authentication::start(&c, &f, Mode::Forward(PATH), NOW);
    let answer = |n: &Next<'_>| match n {
        Next::VerifyToken(_) => expired(),
        Next::RefreshSession { .. } => refreshed("alice", "tok-new"),
        _ => clean(),
    };
    assert_eq!(audit_of(start(), answer), (None, Some(ok.clone())));
    let answer = |n: &Next<'_>| match n {
        Next::VerifyToken(_) => expired(),
        Next::RefreshSession { .. } => gone(),
        _ => clean(),
    };
    let gone_reason = Reason::Store(StoreFailure::SessionGone);
    assert_eq!(
        audit_of(start(), answer),
        (Some(gone_reason), Some(failed("session_gone")))
    );
    // Revoked before the store was asked: the refusal's line, no refresh line.
    let answer = |n: &Next<'_>| match n {
        Next::VerifyToken(_) => expired(),
        _ => revoked.clone(),
    };
    assert_eq!(audit_of(start(), answer), (Some(Reason::Revoked), None));
    // The refresh done, the request then refused by the CSRF rule: the refresh's line says
    // what the refresh did, the refusal has its own line.
    let f_post = facts("POST", None, Some(&with_expired));
    let post = Authentication::start(&c, &f_post, Mode::Forward(PATH), NOW);
    let answer = |n: &Next<'_>| match n {
        Next::VerifyToken(_) => expired(),
        Next::RefreshSession { .. } => refreshed("alice", "tok-new"),
        _ => clean(),
    };
    let (refused, line) = audit_of(post, answer);
    assert!(matches!(refused, Some(Reason::Csrf(_))), "{refused:?}");
    assert_eq!(line, Some(ok.clone()));
    // A valid token needs no refresh: no line.
    let valid = |n: &Next<'_>| match n {
        Next::VerifyToken(_) => Answer::Verified(Ok(claims("alice", Some("s-alice")))),
        _ => clean(),
    };
    assert_eq!(audit_of(start(), valid), (None, None));

    // `POST /auth/refresh`: a line whatever happens.
    let f = facts("POST", None, Some(&only_session));
    let route = || Authentication::start_refresh(&c, &f, NOW);
    let answer = |n: &Next<'_>| match n {
        Next::RefreshSession { .. } => refreshed("alice", "t"),
        _ => clean(),
    };
    assert_eq!(audit_of(route(), answer), (None, Some(ok)));
    let answer = |n: &Next<'_>| match n {
        Next::RefreshSession { .. } => refreshed("alice", "t"),
        _ => revoked.clone(),
    };
    assert_eq!(
        audit_of(route(), answer),
        (Some(Reason::Revoked), Some(failed("revoked")))
    );
    // No session cookie: refused, nobody named.
    let f = facts("POST", None, None);
    assert_eq!(
        audit_of(Authentication::start_refresh(&c, &f, NOW), |_| clean()),
        (
            Some(Reason::NoSession),
            Some(Audit::new(Event::Refresh, Outcome::Failure, "no_session"))
        )
    );
}

const POLICIES: &str = r#"[
    {"path": "/admin/*", "roles_any": ["admin"], "amr": ["mfa"], "max_age": 900},
    {"path": "/orders", "methods": ["POST"], "scopes": ["orders:write"]}
]"#;

fn with_claims(
    edit: impl FnOnce(&mut crate::token::VerifiedClaims),
) -> Arc<crate::token::VerifiedClaims> {
    let mut c = (*claims("alice", Some("s-9"))).clone();
    edit(&mut c);
    Arc::new(c)
}

/// The route policy is phase 3 of the same machine: after the token and its revocation, for
/// Bearer and cookie alike, on the path the machine was started for.
#[test]
fn the_route_policy_judges_the_verified_claims() {
    let c = config_with(true, &[("ROUTE_POLICIES", POLICIES)]);
    let admin = |c: &mut crate::token::VerifiedClaims| c.roles = vec!["admin".into()];
    let stepped_up = |c: &mut crate::token::VerifiedClaims| {
        c.roles = vec!["admin".into()];
        c.amr = vec!["pwd".into(), "otp".into(), "mfa".into()];
        c.auth_time = Some(NOW - 900);
    };
    let rows: Vec<(
        &str,
        &str,
        Arc<crate::token::VerifiedClaims>,
        Option<Reason>,
    )> = vec![
        (
            "GET",
            "/admin/users",
            claims("alice", Some("s-9")),
            Some(Reason::Policy(PolicyRefusal::Role)),
        ),
        (
            "GET",
            "/admin/users",
            with_claims(admin),
            Some(Reason::Policy(PolicyRefusal::Amr)),
        ),
        ("GET", "/admin/users", with_claims(stepped_up), None),
        (
            "GET",
            "/admin/users",
            with_claims(|c| {
                stepped_up(c);
                c.auth_time = Some(NOW - 901);
            }),
            Some(Reason::Policy(PolicyRefusal::TooOld)),
        ),
        (
            "POST",
            "/orders",
            claims("alice", Some("s-9")),
            Some(Reason::Policy(PolicyRefusal::Scope)),
        ),
        (
            "POST",
            "/orders",
            with_claims(|c| c.scope = Some("orders:write".into())),
            None,
        ),
        // The rule is for POST only; another path has no rule.
        ("GET", "/orders", claims("alice", Some("s-9")), None),
        ("GET", "/elsewhere", claims("alice", Some("s-9")), None),
    ];
    for (method, path, verified, want) in rows {
        let f = facts(method, Some("Bearer tok.en.x"), None);
        let (asked, out, _) = run(&c, &f, Mode::Forward(path), |a| match a {
            Asked::Verify(_) => Answer::Verified(Ok(Arc::clone(&verified))),
            _ => clean(),
        });
        assert_eq!(
            asked.len(),
            2,
            "{method} {path}: verified and revocation read first"
        );
        assert_eq!(reason(&out), want, "{method} {path}");
    }
    // The edge's own routes are not subject to route policies.
    let f = facts("GET", Some("Bearer tok.en.x"), None);
    let (_, out, _) = run(&c, &f, Mode::EdgeRoute, |a| match a {
        Asked::Verify(_) => Answer::Verified(Ok(claims("alice", Some("s-9")))),
        _ => clean(),
    });
    assert!(out.is_ok());
}

#[test]
fn the_csrf_rule_comes_before_the_route_policy_and_a_refresh_is_judged_too() {
    let c = config_with(true, &[("ROUTE_POLICIES", POLICIES)]);
    let (_, cookie) = alice_cookies(&c, "tok-a");
    // A cross-site cookie POST to a path whose rule the token fails: the CSRF refusal.
    let f = Facts {
        sec_fetch_site: Some("cross-site"),
        ..facts("POST", None, Some(&cookie))
    };
    let (_, out, _) = run(&c, &f, Mode::Forward("/orders"), |a| match a {
        Asked::Verify(_) => Answer::Verified(Ok(claims("alice", None))),
        _ => clean(),
    });
    assert_eq!(reason(&out), Some(Reason::Csrf(CsrfRefusal::CrossSite)));
    // An expired access cookie refreshed through the session: the new token's claims are
    // the ones judged (here no admin role).
    let f = facts("GET", None, Some(&cookie));
    let (asked, out, _) = run(&c, &f, Mode::Forward("/admin/x"), |a| match a {
        Asked::Verify(_) => Answer::Verified(Err(VerifyFailure::Token(TokenError::Expired {
            exp: 1,
            now: 2,
        }))),
        Asked::Revocation(..) => clean(),
        Asked::Refresh(..) => refreshed("alice", "tok-new"),
    });
    assert!(matches!(asked.last(), Some(Asked::Refresh(..))));
    assert_eq!(reason(&out), Some(Reason::Policy(PolicyRefusal::Role)));
}

#[test]
fn a_step_up_refusal_sends_a_navigation_to_the_step_up_page() {
    let target = crate::target::parse("https://app.test/admin/users?page=2").ok();
    let step_up = Rejection::new(Reason::Policy(PolicyRefusal::Amr))
        .with_challenge_param("acr_values", "mfa");
    // STEP_UP_PATH defaults to LOGIN_PATH.
    let c = config_with(true, &[("LOGIN_PATH", "/login")]);
    let r = refusal(Some(&c), &step_up, true, target.as_ref());
    assert_eq!(r.status, 303);
    assert_eq!(
        r.headers,
        vec![(
            "location",
            "/login?return_to=%2Fadmin%2Fusers%3Fpage%3D2".to_owned()
        )]
    );
    assert!(r.set_cookies.is_empty(), "the session stays");
    let c = config_with(true, &[("STEP_UP_PATH", "/step-up")]);
    let r = refusal(Some(&c), &step_up, true, target.as_ref());
    assert_eq!(
        r.headers,
        vec![(
            "location",
            "/step-up?return_to=%2Fadmin%2Fusers%3Fpage%3D2".to_owned()
        )]
    );
    // Not a navigation: the 401 and its RFC 9470 challenge.
    let r = refusal(Some(&c), &step_up, false, target.as_ref());
    assert_eq!(r.status, 401);
    assert!(r.headers.iter().any(|(n, v)| *n == "www-authenticate"
        && v.contains("error=\"insufficient_user_authentication\"")
        && v.ends_with("acr_values=\"mfa\"")));
    // Other 401s of a navigation still go to the login page, without a return path.
    let r = refusal(Some(&c), &Rejection::missing_token(), true, target.as_ref());
    assert_eq!(r.headers, vec![("location", "/".to_owned())]);
    // A role refusal is a 403 even for a navigation; without sessions, a step-up is the 401.
    let role = Rejection::new(Reason::Policy(PolicyRefusal::Role));
    assert_eq!(refusal(Some(&c), &role, true, target.as_ref()).status, 403);
    let r = refusal(
        Some(&config_with(false, &[])),
        &step_up,
        true,
        target.as_ref(),
    );
    assert_eq!(r.status, 401);
    // A target that is no plain local path is not carried back.
    let odd = crate::target::parse("https://app.test//evil.test/x").ok();
    let r = refusal(Some(&c), &step_up, true, odd.as_ref());
    assert_eq!(r.headers, vec![("location", "/step-up".to_owned())]);
}
