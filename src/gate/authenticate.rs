//! Phases 2 and 3, authenticate and authorize, as a state machine: it says what it needs
//! ([`Next`]), the adapter does that I/O and [`Authentication::resume`]s it with the
//! [`Answer`], until [`Next::Done`]; then [`Authentication::outcome`] is the identity to
//! forward or the refusal.
//!
//! ```text
//!  present ──Bearer/Cookie──▶ VerifyToken ──ok──▶ ReadRevocation ──allow──▶ authorize ─▶ Done
//!     │                           │ expired, cookie + session                    ▲
//!     │ session cookie only       ▼                                              │
//!     └──────────────────▶ ReadRevocation(session) ──allow──▶ RefreshSession ────┘
//! ```

use std::sync::Arc;

use super::steps::{access_cookie_header, judge_revocation, out_of_order, Note};
use super::Facts;
use crate::access_cookie;
use crate::audit::{self, Audit, Event, Outcome};
use crate::config::EdgeConfig;
use crate::rejection::{Reason, Rejection};
use crate::revocation::{Issued, Lookup};
use crate::session_cookie::SessionCookie;
use crate::session_rules::{self, OpenedSession, Presented};
use crate::token::{TokenError, VerifiedClaims};

/// Why a token could not be verified: the token itself (a 401, or for `Expired` perhaps a
/// transparent refresh), or the keys (503).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyFailure {
    /// The token was refused.
    Token(TokenError),
    /// The keys could not be had.
    Keys,
}

impl VerifyFailure {
    /// The answer when nothing else can be done.
    pub fn rejection(&self) -> Rejection {
        match self {
            Self::Token(e) => Rejection::invalid_token(e),
            Self::Keys => Rejection::new(Reason::KeysUnavailable),
        }
    }
}

/// A finished session refresh (session authenticate at the store), shared by the session's
/// concurrent requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// The new access token.
    pub access_token: String,
    /// Its verified claims.
    pub claims: Arc<VerifiedClaims>,
    /// When the store's answer arrived, milliseconds.
    pub at_ms: i64,
}

/// A request that passed authentication (and authorization).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The verified access-token claims.
    pub claims: Arc<VerifiedClaims>,
    /// The session id: the token's `sid`, else the bound session cookie's.
    pub session_id: Option<String>,
    /// `Set-Cookie` values to add to the answer (a transparently refreshed access token).
    pub set_cookies: Vec<String>,
    /// The token came in `Authorization` (not subject to CSRF).
    pub bearer: bool,
}

/// What the machine is run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'p> {
    /// A protected request to forward to this path (the classified target's): authorize (CSRF,
    /// then the route policy of the path and method) after authenticating.
    Forward(&'p str),
    /// One of the edge's own routes that needs the caller's identity: the route ran the CSRF
    /// rule already ([`super::edge_op`]).
    EdgeRoute,
}

/// What the machine needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'g> {
    /// Verify this access token: answer [`Answer::Verified`].
    VerifyToken(&'g str),
    /// The revocation entries of this user and session: answer [`Answer::Revocation`].
    ReadRevocation {
        /// The user.
        subject: &'g str,
        /// The session, if known.
        session_id: Option<&'g str>,
    },
    /// A new access token through this session: answer [`Answer::Refreshed`].
    RefreshSession {
        /// The session cookie.
        session: &'g SessionCookie,
        /// When the access cookie the request carried was minted (no answer sets an older
        /// one).
        carried_ms: Option<i64>,
    },
    /// Finished: see [`Authentication::outcome`].
    Done,
}

/// The result of the I/O a [`Next`] asked for.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The token's verification.
    Verified(Result<Arc<VerifiedClaims>, VerifyFailure>),
    /// The revocation entries read (`None`: no revocation namespace is bound, so nothing can
    /// be revoked at the edge).
    Revocation(Option<Lookup>),
    /// The session refresh, and a fresh random nonce to seal its access cookie with (`None`
    /// when the runtime had no randomness).
    Refreshed(
        Result<Arc<Refreshed>, Rejection>,
        Option<[u8; access_cookie::NONCE_BYTES]>,
    ),
}

/// What is checked once the revocation answers come.
#[derive(Debug)]
enum Then {
    /// The verified token's identity passes.
    Pass(Authenticated),
    /// The session is refreshed.
    Refresh,
}

#[derive(Debug)]
enum State<'a> {
    /// The token to verify, and what the request presented.
    Verify(Presented<'a>),
    /// Waiting for the revocation answers of `subject`/`session_id` for a credential
    /// `issued` as said.
    Revocation {
        subject: String,
        session_id: Option<String>,
        issued: Issued,
        then: Then,
    },
    /// Waiting for a session refresh.
    Refresh {
        session: OpenedSession<'a>,
        carried_ms: Option<i64>,
    },
    /// Finished.
    Done(Result<Authenticated, Rejection>),
}

/// The authenticate-and-authorize machine of one request.
#[derive(Debug)]
pub struct Authentication<'a> {
    config: &'a EdgeConfig,
    facts: &'a Facts<'a>,
    mode: Mode<'a>,
    /// The request's time, seconds (cookie lifetimes).
    now: i64,
    /// For a refresh: the session cookie (kept while the revocation answer is awaited).
    session: Option<(OpenedSession<'a>, Option<i64>)>,
    state: State<'a>,
    notes: Vec<Note>,
    /// Started for `POST /auth/refresh`: its audit line is written whatever happens.
    refresh_route: bool,
    /// The user and session of the refresh this machine reached (from the session cookie).
    refreshing: Option<(String, String)>,
    /// What the refresh came to, once the store answered (before authorization: a request
    /// refused by the CSRF rule after a refresh still refreshed).
    refreshed: Option<Result<(), Rejection>>,
}

impl<'a> Authentication<'a> {
    /// Starts the machine on what the request presents, at `now` (seconds).
    pub fn start(config: &'a EdgeConfig, facts: &'a Facts<'a>, mode: Mode<'a>, now: i64) -> Self {
        let mut machine = Self {
            config,
            facts,
            mode,
            now,
            session: None,
            state: State::Done(Err(Rejection::missing_token())),
            notes: Vec::new(),
            refresh_route: false,
            refreshing: None,
            refreshed: None,
        };
        machine.state = match session_rules::present(
            config,
            facts.authorization,
            facts.cookie,
            &facts.client(),
        ) {
            Err(r) => State::Done(Err(r)),
            Ok(p @ (Presented::Bearer { .. } | Presented::Cookie { .. })) => State::Verify(p),
            Ok(Presented::SessionOnly(s)) => machine.refresh_after_revocation(s, None),
            Ok(Presented::Nothing) => State::Done(Err(Rejection::missing_token())),
        };
        machine
    }

    /// Starts the machine for `POST /auth/refresh`: a new access token through the session
    /// cookie (revocation checked first), whatever access cookie rides along; no session
    /// cookie valid for this client is [`Reason::NoSession`].
    pub fn start_refresh(config: &'a EdgeConfig, facts: &'a Facts<'a>, now: i64) -> Self {
        let mut machine = Self::start(config, facts, Mode::EdgeRoute, now);
        machine.refresh_route = true;
        machine.refreshing = None;
        let presented = session_rules::present(config, None, facts.cookie, &facts.client()).ok();
        let carried_ms = presented.as_ref().and_then(Presented::minted_ms);
        let session = session_rules::session_cookie(config, facts.cookie, &facts.client())
            .and_then(Result::ok);
        machine.state = match session {
            Some(s) => machine.refresh_after_revocation(s, carried_ms),
            None => State::Done(Err(Rejection::new(Reason::NoSession))),
        };
        machine
    }

    /// What the machine needs next.
    pub fn next(&self) -> Next<'_> {
        match &self.state {
            State::Verify(Presented::Bearer { token, .. }) => Next::VerifyToken(token),
            State::Verify(Presented::Cookie { token, .. }) => Next::VerifyToken(token),
            State::Verify(_) | State::Done(_) => Next::Done,
            State::Revocation {
                subject,
                session_id,
                ..
            } => Next::ReadRevocation {
                subject,
                session_id: session_id.as_deref(),
            },
            State::Refresh {
                session,
                carried_ms,
            } => Next::RefreshSession {
                session: &session.cookie,
                carried_ms: *carried_ms,
            },
        }
    }

    /// Resumes with the answer to [`Self::next`]. An answer to a question not asked ends the
    /// machine with a 502 (the adapter broke the protocol; nothing passes).
    pub fn resume(&mut self, answer: Answer) {
        let state = std::mem::replace(&mut self.state, State::Done(Err(out_of_order())));
        self.state = match (state, answer) {
            (State::Verify(presented), Answer::Verified(result)) => {
                self.on_verified(presented, result)
            }
            (State::Revocation { issued, then, .. }, Answer::Revocation(lookup)) => {
                self.on_revocation(lookup, issued, then)
            }
            (
                State::Refresh {
                    session,
                    carried_ms: _,
                },
                Answer::Refreshed(result, nonce),
            ) => self.on_refreshed(&session, result, nonce),
            (done @ State::Done(_), _) => done,
            (_, _) => State::Done(Err(out_of_order())),
        };
    }

    /// The identity to forward, or the refusal. Call at [`Next::Done`].
    pub fn outcome(self) -> Result<Authenticated, Rejection> {
        match self.state {
            State::Done(result) => result,
            _ => Err(out_of_order()),
        }
    }

    /// What to log (once, at the end).
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The audit line of a session refresh, once done: written when the store was asked for
    /// one (a transparent refresh too), and for `POST /auth/refresh` whatever the outcome;
    /// `None` for a request that needed no refresh.
    pub fn audit(&self) -> Option<Audit> {
        let (subject, session) = match &self.refreshing {
            Some((sub, sid)) => (Some(sub.as_str()), Some(sid.as_str())),
            None => (None, None),
        };
        let result = match (&self.refreshed, &self.state) {
            (Some(done), _) => done.as_ref().map(|_| ()),
            (None, State::Done(done)) if self.refresh_route => done.as_ref().map(|_| ()),
            _ => return None,
        };
        Some(match result {
            Ok(()) => Audit::new(Event::Refresh, Outcome::Success, "session_refresh")
                .subject(subject)
                .session(session),
            Err(r) => audit::refused(Event::Refresh, r, subject, session),
        })
    }

    fn refresh_after_revocation(
        &mut self,
        session: OpenedSession<'a>,
        carried_ms: Option<i64>,
    ) -> State<'a> {
        // A revoked session (or one minted before a logout-all) is not refreshed, whatever
        // the store says.
        self.refreshing = Some((
            session.cookie.subject.clone(),
            session.cookie.session_id.clone(),
        ));
        let state = State::Revocation {
            subject: session.cookie.subject.clone(),
            session_id: Some(session.cookie.session_id.clone()),
            issued: Issued {
                iat: None,
                minted_ms: Some(session.cookie.minted_ms),
            },
            then: Then::Refresh,
        };
        self.session = Some((session, carried_ms));
        state
    }

    fn on_verified(
        &mut self,
        presented: Presented<'a>,
        result: Result<Arc<VerifiedClaims>, VerifyFailure>,
    ) -> State<'a> {
        let bearer = matches!(presented, Presented::Bearer { .. });
        let minted_ms = presented.minted_ms();
        let claims = match result {
            Ok(claims) => claims,
            Err(f) => {
                // An expired access cookie beside a valid session cookie is renewed through
                // the session; a Bearer token never is (its holder refreshes it). So is one
                // whose key the issuer has since removed from its JWKS (a rotation): the edge
                // sealed that token beside this very session cookie, and the refresh trusts
                // nothing of it (the session cookie names the session, the store decides).
                return match (&f, presented.session()) {
                    (
                        VerifyFailure::Token(TokenError::Expired { .. } | TokenError::UnknownKey),
                        Some(s),
                    ) if !bearer => self.refresh_after_revocation(s.clone(), minted_ms),
                    _ => State::Done(Err(f.rejection())),
                };
            }
        };
        let session = presented.session();
        if let Some(s) = session {
            if let Err(r) = session_rules::token_fits_session(&claims, &s.cookie) {
                return State::Done(Err(r));
            }
        }
        // A Bearer token's session is its own `sid`, whatever cookie rides along.
        let cookie_session = session.filter(|_| !bearer).map(|s| &s.cookie);
        let session_id = session_rules::session_id_of(&claims, cookie_session);
        State::Revocation {
            subject: claims.sub.clone(),
            session_id: session_id.clone(),
            issued: session_rules::issued(&claims, minted_ms),
            then: Then::Pass(Authenticated {
                claims,
                session_id,
                set_cookies: Vec::new(),
                bearer,
            }),
        }
    }

    fn on_revocation(&mut self, lookup: Option<Lookup>, issued: Issued, then: Then) -> State<'a> {
        let (verdict, note) = judge_revocation(self.config, lookup, issued);
        self.notes.extend(note);
        if let Err(r) = verdict {
            return State::Done(Err(r));
        }
        match then {
            Then::Pass(auth) => State::Done(self.authorize(auth)),
            Then::Refresh => match self.session.take() {
                Some((session, carried_ms)) => State::Refresh {
                    session,
                    carried_ms,
                },
                None => State::Done(Err(Rejection::missing_token())),
            },
        }
    }

    fn on_refreshed(
        &mut self,
        session: &OpenedSession<'a>,
        result: Result<Arc<Refreshed>, Rejection>,
        nonce: Option<[u8; access_cookie::NONCE_BYTES]>,
    ) -> State<'a> {
        let refreshed = match result {
            Ok(r) => r,
            Err(r) => {
                self.refreshed = Some(Err(r.clone()));
                return State::Done(Err(r));
            }
        };
        if refreshed.claims.sub != session.cookie.subject {
            let r = Rejection::new(Reason::RefreshSubjectMismatch);
            self.refreshed = Some(Err(r.clone()));
            return State::Done(Err(r));
        }
        let cookie = nonce
            .ok_or_else(|| Rejection::new(Reason::NoRandomness))
            .and_then(|nonce| {
                access_cookie_header(
                    self.config,
                    session.raw,
                    &refreshed.access_token,
                    refreshed.at_ms,
                    self.now,
                    &nonce,
                )
            });
        let auth = cookie.map(|cookie| Authenticated {
            claims: Arc::clone(&refreshed.claims),
            session_id: Some(session.cookie.session_id.clone()),
            set_cookies: vec![cookie],
            bearer: false,
        });
        self.refreshed = Some(auth.as_ref().map(|_| ()).map_err(Clone::clone));
        State::Done(auth.and_then(|a| self.authorize(a)))
    }

    /// Phase 3, authorize: a cookie-carried unsafe request passes the CSRF rule, then the
    /// route policy of its path and method ([`crate::policy`]) judges the claims.
    fn authorize(&self, auth: Authenticated) -> Result<Authenticated, Rejection> {
        if let Mode::Forward(path) = self.mode {
            if !auth.bearer {
                self.facts.csrf()?;
            }
            self.config
                .policies
                .check(self.facts.method, path, &auth.claims, self.now)?;
        }
        Ok(auth)
    }
}
