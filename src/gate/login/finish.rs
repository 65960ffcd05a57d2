//! The end of a login: the two cookies of the verified tokens and the answer.

use super::{LoggedIn, Login, Minted, State};
use crate::access_cookie::NONCE_BYTES;
use crate::audit::{Audit, Event, Outcome};
use crate::cookies;
use crate::edge_routes;
use crate::gate::steps::access_cookie_header;
use crate::rejection::{Reason, Rejection};
use crate::session_cookie::{self, SessionCookie};
use crate::session_rules::LoginOutcome;

impl Login<'_> {
    /// The two cookies (a new session cookie value on every authentication, and the access
    /// cookie sealed beside it) and the answer.
    pub(super) fn finish(
        &mut self,
        m: Minted,
        nonces: Option<([u8; 16], [u8; NONCE_BYTES])>,
    ) -> State {
        let Some(s) = &self.config.session else {
            return State::Done(Err(Rejection::new(Reason::NoRoute)));
        };
        let Some((session_nonce, access_nonce)) = nonces else {
            return State::Done(Err(Rejection::new(Reason::NoRandomness)));
        };
        let cookie = SessionCookie {
            session_id: m.tokens.session_id.clone().unwrap_or_default(),
            subject: m.claims.sub.clone(),
            minted_ms: m.minted_ms,
        };
        let unusable = || Rejection::new(Reason::StoreTokenUnverifiable);
        let cookies = session_cookie::seal(
            &s.binding_keys,
            &s.binding,
            &cookie,
            &self.facts.client(),
            &session_nonce,
        )
        .ok_or_else(unusable)
        .and_then(|sealed| {
            let access = access_cookie_header(
                self.config,
                &sealed,
                &m.tokens.access_token,
                m.minted_ms,
                self.now,
                &access_nonce,
            )?;
            let session = cookies::set_cookie(
                &self.config.session_cookie,
                &sealed,
                &s.cookies,
                Some(self.now.saturating_add(s.session_max_secs)),
                self.now,
            )
            .map_err(|_| unusable())?;
            Ok(vec![access, session])
        });
        State::Done(cookies.map(|set_cookies| {
            let (reply, code) =
                edge_routes::login_reply(&m.claims, &m.amr, &m.outcome, set_cookies);
            let event = match m.outcome {
                LoginOutcome::SteppedUp => Event::StepUp,
                LoginOutcome::NewSession { .. } => Event::Login,
            };
            let audit = Audit::new(event, Outcome::Success, code)
                .subject(Some(&m.claims.sub))
                .session(Some(&cookie.session_id));
            LoggedIn {
                reply,
                session_id: cookie.session_id,
                audit,
            }
        }))
    }
}
