//! `POST /auth/otp/send`: asks the store to email the user a one-time passcode (Transmit's
//! `POST /v1/auth/otp/send`, channel `email`), for a later `/auth/login` with
//! `{method: "email_otp", code}`. Like [`super::Login`], it names each I/O it needs.
//!
//! The user is the body's `username`, else the session cookie's user (by user id); neither is
//! 400 `login_fields`. A send takes a slot in the user's and the address's login counters
//! first (a full counter: 429, no store call) and keeps it: sending is never a success that
//! clears a counter. The answer is the same `{"sent": true}` whether or not the store knows
//! the user (no account discovery); other store failures are answered as usual.
//!
//! ```text
//! ReadBody → Count (admit) → Send → Done
//! ```

use edge_session_protocol::attempts::Attempt;
use edge_session_protocol::wire::{channel, identifier_type};

use super::steps::out_of_order;
use super::{Facts, Reply};
use crate::config::EdgeConfig;
use crate::edge_routes;
use crate::rejection::{BodyFault, Reason, Rejection};
use crate::session_cookie::SessionCookie;
use crate::session_rules;
use crate::store_api::{self, paths, StoreFailure};
use crate::throttle::{self, Admission, Call};

/// What the send needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendNext<'g> {
    /// The request body, at most this many bytes.
    ReadBody(usize),
    /// These calls to the login counters; their answers in the same order.
    Count(&'g [Call]),
    /// The store's `POST /v1/auth/otp/send` with this JSON body.
    Send(&'g str),
    /// Finished: see [`OtpSend::outcome`].
    Done,
}

/// The result of the I/O a [`SendNext`] asked for.
#[derive(Debug)]
pub enum SendAnswer {
    /// The body, or why it could not be read.
    Body(Result<Vec<u8>, Rejection>),
    /// The counters' answers (`None`: that counter did not answer).
    Counted(Vec<Option<Attempt>>),
    /// The store's answer.
    Sent(Result<(), StoreFailure>),
}

#[derive(Debug)]
enum State {
    Body,
    Admit(Vec<Call>),
    /// Give back the slots taken, then end as the boxed state.
    Undo(Vec<Call>, Box<State>),
    Send(String),
    Done(Result<Reply, Rejection>),
}

/// The send of one request.
#[derive(Debug)]
pub struct OtpSend<'a> {
    config: &'a EdgeConfig,
    facts: &'a Facts<'a>,
    present: Option<SessionCookie>,
    /// The store body, once the user is known.
    pending: Option<String>,
    state: State,
}

impl<'a> OtpSend<'a> {
    /// Starts a send.
    pub fn start(config: &'a EdgeConfig, facts: &'a Facts<'a>) -> Self {
        let present = match session_rules::session_cookie(config, facts.cookie, &facts.client()) {
            Some(Ok(opened)) => Some(opened.cookie),
            _ => None,
        };
        let state = match &config.session {
            Some(_) => State::Body,
            None => State::Done(Err(Rejection::new(Reason::NoRoute))),
        };
        Self {
            config,
            facts,
            present,
            pending: None,
            state,
        }
    }

    /// What the send needs next.
    pub fn next(&self) -> SendNext<'_> {
        match &self.state {
            State::Body => SendNext::ReadBody(edge_routes::MAX_BODY_BYTES),
            State::Admit(calls) | State::Undo(calls, _) => SendNext::Count(calls),
            State::Send(body) => SendNext::Send(body),
            State::Done(_) => SendNext::Done,
        }
    }

    /// Resumes with the answer to [`Self::next`]; a mismatched answer ends it refused.
    pub fn resume(&mut self, answer: SendAnswer) {
        let state = std::mem::replace(&mut self.state, State::Done(Err(out_of_order())));
        self.state = match (state, answer) {
            (State::Body, SendAnswer::Body(body)) => self.on_body(body),
            (State::Admit(calls), SendAnswer::Counted(answers)) => {
                match throttle::admission(&calls, &answers) {
                    Admission::Go => self.state_after_admit(),
                    Admission::Throttled {
                        by,
                        retry_after_secs,
                        undo,
                    } => {
                        let reason = Reason::LoginThrottled {
                            by,
                            retry_after: retry_after_secs,
                        };
                        undo_then(undo, State::Done(Err(Rejection::new(reason))))
                    }
                    Admission::Unavailable { undo } => undo_then(
                        undo,
                        State::Done(Err(Rejection::new(Reason::ThrottleUnavailable))),
                    ),
                }
            }
            (State::Undo(_, then), SendAnswer::Counted(_)) => *then,
            (State::Send(_), SendAnswer::Sent(result)) => State::Done(sent(result)),
            (done @ State::Done(_), _) => done,
            (_, _) => State::Done(Err(out_of_order())),
        };
    }

    /// The answer, or the refusal. Call at [`SendNext::Done`].
    pub fn outcome(self) -> Result<Reply, Rejection> {
        match self.state {
            State::Done(result) => result,
            _ => Err(out_of_order()),
        }
    }

    fn state_after_admit(&mut self) -> State {
        match self.pending.take() {
            Some(body) => State::Send(body),
            None => State::Done(Err(out_of_order())),
        }
    }

    fn on_body(&mut self, body: Result<Vec<u8>, Rejection>) -> State {
        let parsed = body.and_then(|b| edge_routes::parse_otp_send(self.facts.content_type, &b));
        let username = match parsed {
            Ok(u) => u,
            Err(r) => return State::Done(Err(r)),
        };
        let who = match (&username, &self.present) {
            (Some(u), _) => (u.clone(), identifier_type::USERNAME),
            (None, Some(p)) => (p.subject.clone(), identifier_type::USER_ID),
            (None, None) => {
                return State::Done(Err(Rejection::new(Reason::Body(BodyFault::LoginFields))))
            }
        };
        let Some(s) = &self.config.session else {
            return State::Done(Err(Rejection::new(Reason::NoRoute)));
        };
        let keys = throttle::keys(&s.throttle, &who.0, self.facts.connecting_ip);
        let calls = throttle::admit_calls(&s.throttle, &keys);
        self.pending = Some(store_api::otp_send_body(channel::EMAIL, (&who.0, who.1)));
        State::Admit(calls)
    }
}

/// The reply to a send the store took, or did not know the user for.
fn sent(result: Result<(), StoreFailure>) -> Result<Reply, Rejection> {
    match result {
        Ok(()) | Err(StoreFailure::Refused) => Ok(Reply::json(
            &serde_json::json!({ "sent": true }),
            Vec::new(),
        )),
        Err(f) => Err(Rejection::store(f)),
    }
}

/// `calls`, then `next` (at once without calls).
fn undo_then(calls: Vec<Call>, next: State) -> State {
    if calls.is_empty() {
        next
    } else {
        State::Undo(calls, Box::new(next))
    }
}

/// The store path of a send.
pub const SEND_PATH: &str = paths::OTP_SEND;

#[cfg(test)]
mod tests;
