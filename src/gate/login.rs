//! `POST /auth/login` as a state machine, like [`super::Authentication`]: it names each I/O it
//! needs ([`LoginNext`]), the adapter performs it and resumes it with the [`LoginAnswer`].
//!
//! With a session cookie valid for this client and not known to have ended, the
//! authentication is first added to that session (MFA step-up, same user only). When the
//! store refuses that (the session ended at the store, or someone else signs in on this
//! browser), the login is tried once as a fresh one; a fresh login replaces the old session,
//! which is ended at the store and at the edge. Rules: [`crate::session_rules`].
//!
//! The body's `method` picks the store's backend method ([`store_call`]): `password` (the
//! default), `totp` or `email_otp`. A second factor names its user by the body's username or,
//! without one, by the session cookie's user; it is only ever added to the session present, and
//! a refused step-up is not retried as a fresh login ([`session_rules::retry_fresh`]).
//!
//! Before the store sees the password or code, the login takes a slot in its username's (or
//! user id's) and its client address's failure counters; a refusal ends it with 429 and no
//! store call, and the store's answer settles the counters ([`crate::throttle`]).
//!
//! ```text
//! [ReadRevocation of the cookie's session] → ReadBody → Count (admit) → Authenticate
//!   (→ Authenticate as a fresh login) → [Count (settle)] → VerifyAccessToken
//!   → [EndSession of the replaced one] → [VerifyIdToken] → Nonces → Done
//! ```

use std::sync::Arc;

use super::steps::{judge_revocation, out_of_order, Note};
use super::{Facts, Reply, VerifyFailure};
use crate::access_cookie::NONCE_BYTES;
use crate::audit::{self, Audit, Event};
use crate::config::EdgeConfig;
use crate::edge_routes::{self, LoginBody, LoginMethod};
use crate::rejection::{BodyFault, Reason, Rejection};
use crate::revocation::{Issued, Lookup};
use crate::session_cookie::SessionCookie;
use crate::session_rules::{self, LoginOutcome, LoginPlan};
use crate::store_api::{ApiTokenResponse, StoreFailure};
use crate::throttle::{self, Admission, Call, Keys};
use crate::token::{Policy, TypRule, VerifiedClaims};
use edge_session_protocol::attempts::Attempt;

/// What the login needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNext<'g> {
    /// The revocation entries of the session cookie's user and session.
    ReadRevocation {
        /// The user.
        subject: &'g str,
        /// The session.
        session_id: &'g str,
    },
    /// The request body, at most this many bytes.
    ReadBody(usize),
    /// These calls to the login counters (in parallel), their answers in the same order.
    Count(&'g [Call]),
    /// The store's authentication (password, TOTP or passcode) at this path with this JSON
    /// body.
    Authenticate {
        /// The store path.
        path: &'static str,
        /// The body.
        body: &'g str,
    },
    /// Verify the store's access token (access-token policy, verified-token cache).
    VerifyAccessToken(&'g str),
    /// End the replaced session (at the edge and at the store).
    EndSession(&'g str),
    /// Verify the store's ID token under this policy (no cache).
    VerifyIdToken(&'g str, &'g Policy),
    /// Fresh random nonces for the two cookies.
    Nonces,
    /// Finished: see [`Login::outcome`].
    Done,
}

/// The result of the I/O a [`LoginNext`] asked for.
#[derive(Debug)]
pub enum LoginAnswer {
    /// The revocation entries (`None`: no namespace bound).
    Revocation(Option<Lookup>),
    /// The body, or why it could not be read.
    Body(Result<Vec<u8>, Rejection>),
    /// The counters' answers, in the order of the calls (`None`: that counter did not answer;
    /// an admit answers its [`Attempt`], the other operations anything).
    Counted(Vec<Option<Attempt>>),
    /// The store's answer and when it arrived (ms).
    Authenticated(Result<ApiTokenResponse, StoreFailure>, i64),
    /// A token's verification.
    Verified(Result<Arc<VerifiedClaims>, VerifyFailure>),
    /// The replaced session was ended (best effort: the new login stands either way): whether
    /// both the edge and the store took it.
    Ended(bool),
    /// The session cookie's 16-byte and the access cookie's 24-byte nonce (`None`: no
    /// randomness).
    Nonces(Option<([u8; 16], [u8; NONCE_BYTES])>),
}

/// A successful login: its answer and the session whose isolate refresh is to be forgotten
/// (tokens newer than any refresh were just minted for it).
#[derive(Debug)]
pub struct LoggedIn {
    /// The answer.
    pub reply: Reply,
    /// The session id.
    pub session_id: String,
    /// Its audit line.
    pub audit: Audit,
}

/// The store's tokens, verified.
#[derive(Debug)]
struct Minted {
    tokens: ApiTokenResponse,
    claims: Arc<VerifiedClaims>,
    minted_ms: i64,
    outcome: LoginOutcome,
    amr: Vec<String>,
}

#[derive(Debug)]
enum State {
    Revocation,
    Body,
    Admit(Vec<Call>),
    Store(StoreCall),
    /// Settle the counters, then go on as the boxed state.
    Settle(Vec<Call>, Box<State>),
    VerifyAccess(ApiTokenResponse, i64),
    EndSession(Minted, String),
    IdToken(Minted, String),
    Nonces(Minted),
    Done(Result<LoggedIn, Rejection>),
}

/// The login machine of one request.
#[derive(Debug)]
pub struct Login<'a> {
    config: &'a EdgeConfig,
    facts: &'a Facts<'a>,
    now: i64,
    present: Option<SessionCookie>,
    plan: LoginPlan,
    creds: Option<LoginBody>,
    method: LoginMethod,
    /// Who the login names, and as what (`username`, `user_id`).
    who: Option<(String, &'static str)>,
    keys: Option<Keys>,
    id_policy: Policy,
    state: State,
    notes: Vec<Note>,
    /// Audit lines of what happened on the way (a replaced session ended).
    audits: Vec<Audit>,
}

impl<'a> Login<'a> {
    /// Starts a login at `now` (seconds).
    pub fn start(config: &'a EdgeConfig, facts: &'a Facts<'a>, now: i64) -> Self {
        let mut notes = Vec::new();
        let present = match session_rules::session_cookie(config, facts.cookie, &facts.client()) {
            Some(Ok(opened)) => Some(opened.cookie),
            Some(Err(e)) => {
                notes.push(Note::SessionCookieRefused(e));
                None
            }
            None => None,
        };
        let state = match (&config.session, &present) {
            (None, _) => State::Done(Err(Rejection::new(Reason::NoRoute))),
            (Some(_), Some(_)) => State::Revocation,
            (Some(_), None) => State::Body,
        };
        let id_policy = Policy {
            issuer: config.policy.issuer.clone(),
            audiences: config
                .session
                .as_ref()
                .map(|s| vec![s.client_id.clone()])
                .unwrap_or_default(),
            typ: TypRule::Any,
            leeway_secs: config.policy.leeway_secs,
        };
        Self {
            config,
            facts,
            now,
            plan: session_rules::plan_login(present.as_ref(), false),
            present,
            creds: None,
            method: LoginMethod::Password,
            who: None,
            keys: None,
            id_policy,
            state,
            notes,
            audits: Vec::new(),
        }
    }

    /// What the login needs next.
    pub fn next(&self) -> LoginNext<'_> {
        match &self.state {
            State::Revocation => match &self.present {
                Some(p) => LoginNext::ReadRevocation {
                    subject: &p.subject,
                    session_id: &p.session_id,
                },
                None => LoginNext::ReadBody(edge_routes::MAX_BODY_BYTES),
            },
            State::Body => LoginNext::ReadBody(edge_routes::MAX_BODY_BYTES),
            State::Admit(calls) | State::Settle(calls, _) => LoginNext::Count(calls),
            State::Store(call) => LoginNext::Authenticate {
                path: call.path,
                body: &call.body,
            },
            State::VerifyAccess(tokens, _) => LoginNext::VerifyAccessToken(&tokens.access_token),
            State::EndSession(_, old) => LoginNext::EndSession(old),
            State::IdToken(_, token) => LoginNext::VerifyIdToken(token, &self.id_policy),
            State::Nonces(_) => LoginNext::Nonces,
            State::Done(_) => LoginNext::Done,
        }
    }

    /// Resumes with the answer to [`Self::next`]; a mismatched answer ends it refused.
    pub fn resume(&mut self, answer: LoginAnswer) {
        let state = std::mem::replace(&mut self.state, State::Done(Err(out_of_order())));
        self.state = match (state, answer) {
            (State::Revocation, LoginAnswer::Revocation(lookup)) => self.on_revocation(lookup),
            (State::Body, LoginAnswer::Body(body)) => self.on_body(body),
            (State::Admit(calls), LoginAnswer::Counted(answers)) => self.on_admit(&calls, &answers),
            (State::Settle(_, then), LoginAnswer::Counted(answers)) => {
                if answers.iter().any(Option::is_none) {
                    self.notes.push(Note::ThrottleNotSettled);
                }
                *then
            }
            (State::Store(_), LoginAnswer::Authenticated(result, at_ms)) => {
                self.on_store(result, at_ms)
            }
            (State::VerifyAccess(tokens, minted_ms), LoginAnswer::Verified(result)) => {
                self.on_access(tokens, minted_ms, result)
            }
            (State::EndSession(minted, old), LoginAnswer::Ended(done)) => {
                let subject = self.present.as_ref().map(|p| p.subject.as_str());
                self.audits.push(audit::session_revoked(
                    "replaced_by_login",
                    done,
                    subject,
                    Some(&old),
                ));
                self.id_token_step(minted)
            }
            (State::IdToken(mut minted, _), LoginAnswer::Verified(result)) => {
                minted.amr = match result {
                    Ok(id) => id.amr.clone(),
                    Err(_) => {
                        self.notes.push(Note::IdTokenUnverifiable);
                        Vec::new()
                    }
                };
                State::Nonces(minted)
            }
            (State::Nonces(minted), LoginAnswer::Nonces(nonces)) => self.finish(minted, nonces),
            (done @ State::Done(_), _) => done,
            (_, _) => State::Done(Err(out_of_order())),
        };
    }

    /// The answer, or the refusal. Call at [`LoginNext::Done`].
    pub fn outcome(self) -> Result<LoggedIn, Rejection> {
        match self.state {
            State::Done(result) => result,
            _ => Err(out_of_order()),
        }
    }

    /// What to log (never a secret).
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The audit lines of this login, once done: a replaced session's end, then the login's
    /// own ([`Event::StepUp`] when it added to the cookie's session, else [`Event::Login`]),
    /// success or refusal. A refused login names no subject (the username is not written); a
    /// refused step-up names the cookie's user and session.
    pub fn audits(&self) -> Vec<Audit> {
        let mut out = self.audits.clone();
        let own = match &self.state {
            State::Done(Ok(done)) => done.audit.clone(),
            State::Done(Err(r)) => match &self.plan {
                LoginPlan::StepUp { session_id } => audit::refused(
                    Event::StepUp,
                    r,
                    self.present.as_ref().map(|p| p.subject.as_str()),
                    Some(session_id),
                ),
                LoginPlan::Fresh => audit::refused(Event::Login, r, None, None),
            },
            _ => return out,
        };
        out.push(own);
        out
    }

    fn on_revocation(&mut self, lookup: Option<Lookup>) -> State {
        // A session the edge already knows has ended (logged out, logged out everywhere) is
        // not stepped up: the login is a fresh one at once.
        let issued = Issued {
            iat: None,
            minted_ms: self.present.as_ref().map(|p| p.minted_ms),
        };
        let (verdict, note) = judge_revocation(self.config, lookup, issued);
        self.notes.extend(note);
        self.plan = session_rules::plan_login(self.present.as_ref(), verdict.is_err());
        State::Body
    }

    fn on_body(&mut self, body: Result<Vec<u8>, Rejection>) -> State {
        let parsed = body.and_then(|b| edge_routes::parse_login(self.facts.content_type, &b));
        match (parsed, &self.config.session) {
            (Ok(creds), Some(s)) => {
                let Some((name, kind)) =
                    store_call::identifier(&creds, &self.plan, self.present.as_ref())
                else {
                    // A second factor without a username and no session to add it to.
                    return State::Done(Err(Rejection::new(Reason::Body(BodyFault::LoginFields))));
                };
                let keys = throttle::keys(&s.throttle, name, self.facts.connecting_ip);
                let calls = throttle::admit_calls(&s.throttle, &keys);
                self.who = Some((name.to_owned(), kind));
                self.method = creds.method;
                self.creds = Some(creds);
                self.keys = Some(keys);
                State::Admit(calls)
            }
            (Ok(_), None) => State::Done(Err(Rejection::new(Reason::NoRoute))),
            (Err(r), _) => State::Done(Err(r)),
        }
    }

    /// The counters' answers to the admit calls: the store is called, or the login ends
    /// without a store call (the slots it took given back first).
    fn on_admit(&mut self, calls: &[Call], answers: &[Option<Attempt>]) -> State {
        let (refusal, undo) = match throttle::admission(calls, answers) {
            Admission::Go => return self.store_call(),
            Admission::Throttled {
                by,
                retry_after_secs,
                undo,
            } => {
                // audit: throttled (the hook for the login-throttled audit event)
                let reason = Reason::LoginThrottled {
                    by,
                    retry_after: retry_after_secs,
                };
                (Rejection::new(reason), undo)
            }
            Admission::Unavailable { undo } => {
                self.notes.push(Note::ThrottleUnavailable);
                (Rejection::new(Reason::ThrottleUnavailable), undo)
            }
        };
        self.creds = None;
        settle_then(undo, State::Done(Err(refusal)))
    }

    /// The counters' settlement of the store's answer, then `next`.
    fn settled(&self, outcome: Result<(), StoreFailure>, next: State) -> State {
        match (&self.config.session, &self.keys) {
            (Some(s), Some(keys)) => {
                settle_then(throttle::settle_calls(&s.throttle, keys, outcome), next)
            }
            _ => next,
        }
    }

    /// The store request for the credentials, as the plan says.
    /// (The credentials are there from the body to the store's answer; without them the
    /// machine was driven out of order.)
    fn store_call(&self) -> State {
        let resource = self
            .config
            .session
            .as_ref()
            .and_then(|s| s.resource.as_deref());
        match (&self.creds, &self.who) {
            (Some(c), Some((name, kind))) => State::Store(store_call::store_call(
                c,
                (name, kind),
                &self.plan,
                resource,
                &self.facts.client(),
            )),
            _ => State::Done(Err(out_of_order())),
        }
    }

    fn on_store(&mut self, result: Result<ApiTokenResponse, StoreFailure>, at_ms: i64) -> State {
        match result {
            Err(f) if session_rules::retry_fresh(&self.plan, self.method, f) => {
                self.notes.push(Note::StepUpRefusedTryingFresh);
                self.plan = LoginPlan::Fresh;
                self.store_call()
            }
            Err(f) => {
                self.creds = None;
                let f = session_rules::login_failure(&self.plan, self.method, f);
                self.settled(Err(f), State::Done(Err(Rejection::store(f))))
            }
            Ok(tokens) => {
                // The credentials are not kept a moment longer than needed.
                self.creds = None;
                self.settled(Ok(()), State::VerifyAccess(tokens, at_ms))
            }
        }
    }

    fn on_access(
        &mut self,
        tokens: ApiTokenResponse,
        minted_ms: i64,
        result: Result<Arc<VerifiedClaims>, VerifyFailure>,
    ) -> State {
        let claims = match result {
            Ok(claims) => claims,
            Err(f) => {
                self.notes.push(Note::StoreTokenUnverifiable);
                return State::Done(Err(match f {
                    VerifyFailure::Keys => Rejection::new(Reason::KeysUnavailable),
                    VerifyFailure::Token(_) => Rejection::new(Reason::StoreTokenUnverifiable),
                }));
            }
        };
        let session_id = tokens.session_id.clone().unwrap_or_default();
        let outcome = match session_rules::judge_login(
            &self.plan,
            self.present.as_ref(),
            &claims.sub,
            claims.sid.as_deref(),
            &session_id,
        ) {
            Ok(o) => o,
            Err(r) => return State::Done(Err(r)),
        };
        let minted = Minted {
            amr: claims.amr.clone(),
            tokens,
            claims,
            minted_ms,
            outcome,
        };
        match &minted.outcome {
            LoginOutcome::NewSession {
                replaces: Some(old),
            } => {
                let old = old.clone();
                State::EndSession(minted, old)
            }
            _ => self.id_token_step(minted),
        }
    }

    /// The authentication methods: from the ID token when the store sent one (and it
    /// verifies), else from the access token.
    fn id_token_step(&mut self, minted: Minted) -> State {
        match minted.tokens.id_token.clone() {
            Some(id) => State::IdToken(minted, id),
            None => State::Nonces(minted),
        }
    }
}

/// `calls`, then `next` (at once without calls).
fn settle_then(calls: Vec<Call>, next: State) -> State {
    if calls.is_empty() {
        next
    } else {
        State::Settle(calls, Box::new(next))
    }
}

mod finish;
mod store_call;

use store_call::StoreCall;

#[cfg(test)]
mod tests;
