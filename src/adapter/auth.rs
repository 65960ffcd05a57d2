//! Runs the gate's authentication machine ([`crate::gate::Authentication`]) with real I/O:
//! each need it names is met here, the machine decides.

use std::rc::Rc;

use worker::Env;

use super::refresh::{self, Client};
use super::verify::verify_token;
use super::{log, now_secs, revoke};
use crate::access_cookie::NONCE_BYTES;
use crate::config::EdgeConfig;
use crate::gate::{Answer, Authenticated, Authentication, Facts, Mode, Next};
use crate::rejection::{Reason, Rejection};

/// Authenticate (and, for [`Mode::Forward`], authorize) the request of `facts`.
pub(super) async fn authenticate(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
    mode: Mode<'_>,
) -> Result<Authenticated, Rejection> {
    drive(
        env,
        config,
        facts,
        Authentication::start(config, facts, mode, now_secs()),
    )
    .await
}

/// `POST /auth/refresh`: a new access token through the session cookie.
pub(super) async fn refresh_session(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Authenticated, Rejection> {
    let machine = Authentication::start_refresh(config, facts, now_secs());
    drive(env, config, facts, machine).await
}

async fn drive(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
    mut machine: Authentication<'_>,
) -> Result<Authenticated, Rejection> {
    // Each need is met once at most per state; a machine that asked more than this would be
    // looping, and ends refused.
    for _ in 0..8 {
        let answer = match machine.next() {
            Next::Done => {
                for note in machine.notes() {
                    log::note(*note);
                }
                return machine.outcome();
            }
            Next::VerifyToken(token) => {
                Answer::Verified(verify_token(token, env, config, &config.policy, true).await)
            }
            Next::ReadRevocation {
                subject,
                session_id,
            } => Answer::Revocation(revoke::lookup(env, subject, session_id).await),
            Next::RefreshSession {
                session,
                carried_ms,
            } => {
                let client = Client::of(&facts.client());
                let result = refresh::refresh(env, config, client, session, carried_ms).await;
                Answer::Refreshed(result, random_nonce::<NONCE_BYTES>().ok())
            }
        };
        machine.resume(answer);
    }
    Err(Rejection::new(Reason::Upstream(
        crate::rejection::UpstreamFault::Reply,
    )))
}

/// `N` random bytes for a cookie nonce (the session cookie's 16, the access cookie's 24).
pub(super) fn random_nonce<const N: usize>() -> Result<[u8; N], Rejection> {
    let mut nonce = [0u8; N];
    getrandom::fill(&mut nonce).map_err(|_| Rejection::new(Reason::NoRandomness))?;
    Ok(nonce)
}
