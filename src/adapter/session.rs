//! The edge's own session routes: the I/O of each; what they accept, decide and answer is in
//! the core ([`crate::gate::edge_op`], [`crate::gate::Login`], [`crate::edge_routes`]).
//!
//! - `POST /auth/login` (MFA step-up with a valid session cookie), `POST /auth/refresh` (the
//!   session cookie, or the refresh-token grant for API clients), `POST /auth/logout`,
//!   `POST /auth/logout-all` ([`super::logout`]), `GET /auth/session`, `GET /auth/sessions`,
//!   `POST /auth/otp/send` (an email passcode, [`crate::gate::OtpSend`]).

use std::rc::Rc;
use std::sync::Arc;

use worker::{Env, Method, Request};

use super::auth::{self, random_nonce};
use super::verify::verify_token;
use super::{log, logout, now_ms, now_secs, refresh, revoke, store, throttle};
use crate::audit;
use crate::config::{EdgeConfig, SessionConfig};
use crate::edge_routes;
use crate::gate::{
    EdgeOp, Facts, Login, LoginAnswer, LoginNext, Mode, OtpSend, Reply, SendAnswer, SendNext,
    SEND_PATH,
};
use crate::rejection::{Reason, Rejection};
use crate::revocation::Issued;
use crate::session_cookie::SessionCookie;
use crate::session_rules;
use crate::store_api::{self, paths, SessionInfo, StoreOp};
use crate::token::VerifiedClaims;

/// Runs the edge operation `op` (already admitted by [`crate::gate::edge_op`]).
pub(super) async fn run(
    op: EdgeOp,
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    match op {
        EdgeOp::Login => login(req, env, config, facts).await,
        EdgeOp::RefreshSession => auth::refresh_session(env, config, facts)
            .await
            .map(edge_routes::refreshed_reply),
        EdgeOp::RefreshGrant => {
            let result = refresh_grant(req, env, config).await;
            let audit = audit::refresh_grant(result.as_ref().map(|(_, c)| &**c));
            log::audit(&audit, facts.connecting_ip);
            result.map(|(reply, _)| reply)
        }
        EdgeOp::Logout => logout::one(env, config, facts).await,
        EdgeOp::LogoutAll => logout::all(env, config, facts).await,
        EdgeOp::WhoAmI => auth::authenticate(env, config, facts, Mode::EdgeRoute)
            .await
            .map(edge_routes::whoami_reply),
        EdgeOp::Sessions => sessions(env, config, facts).await,
        EdgeOp::OtpSend => otp_send(req, env, config, facts).await,
    }
}

/// `POST /auth/otp/send`: the I/O of the core's send machine ([`OtpSend`]).
async fn otp_send(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let mut send = OtpSend::start(config, facts);
    // Four needs at most (body, admit, the store, a refund).
    for _ in 0..6 {
        let answer = match send.next() {
            SendNext::Done => break,
            SendNext::ReadBody(limit) => {
                SendAnswer::Body(super::body::read_request(&req, limit).await)
            }
            SendNext::Count(calls) => SendAnswer::Counted(throttle::run(env, calls).await),
            SendNext::Send(body) => {
                let body = Some(body.to_owned());
                let result =
                    store::call(env, config, StoreOp::Login, Method::Post, SEND_PATH, body).await;
                SendAnswer::Sent(result.map(|_| ()))
            }
        };
        send.resume(answer);
    }
    send.outcome()
}

pub(super) fn session_config(config: &EdgeConfig) -> Result<&SessionConfig, Rejection> {
    config
        .session
        .as_ref()
        .ok_or_else(|| Rejection::new(Reason::NoRoute))
}

/// The session cookie of this request, if present and valid for this client (an invalid one
/// is logged and treated as none).
pub(super) fn read_session(config: &EdgeConfig, facts: &Facts<'_>) -> Option<SessionCookie> {
    match session_rules::session_cookie(config, facts.cookie, &facts.client())? {
        Ok(opened) => Some(opened.cookie),
        Err(e) => {
            log::event(
                log::Level::Info,
                "authenticate",
                Reason::SessionCookie(e).code(),
            );
            None
        }
    }
}

/// `POST /auth/login`: the I/O of the core's login machine ([`Login`]).
async fn login(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let mut login = Login::start(config, facts, now_secs());
    // Ten needs at most (a step-up retried as a fresh login and two counter calls included).
    for _ in 0..12 {
        let answer = match login.next() {
            LoginNext::Done => break,
            LoginNext::ReadRevocation {
                subject,
                session_id,
            } => LoginAnswer::Revocation(revoke::lookup(env, subject, Some(session_id)).await),
            LoginNext::ReadBody(limit) => {
                LoginAnswer::Body(super::body::read_request(&req, limit).await)
            }
            LoginNext::Count(calls) => LoginAnswer::Counted(throttle::run(env, calls).await),
            LoginNext::Authenticate { path, body } => {
                let body = body.to_owned();
                let result = store::answer(env, config, StoreOp::Login, path, body, true).await;
                LoginAnswer::Authenticated(result, i64::try_from(now_ms()).unwrap_or(i64::MAX))
            }
            LoginNext::VerifyAccessToken(token) => {
                LoginAnswer::Verified(verify_token(token, env, config, &config.policy, true).await)
            }
            LoginNext::EndSession(old) => {
                let (at_edge, at_store) = logout::end_session(env, config, old, "login").await;
                LoginAnswer::Ended(at_edge && at_store)
            }
            LoginNext::VerifyIdToken(token, policy) => {
                LoginAnswer::Verified(verify_token(token, env, config, policy, false).await)
            }
            LoginNext::Nonces => LoginAnswer::Nonces(random_nonce().ok().zip(random_nonce().ok())),
        };
        login.resume(answer);
    }
    for note in login.notes() {
        log::note(*note);
    }
    for audit in login.audits() {
        log::audit(&audit, facts.connecting_ip);
    }
    let done = login.outcome()?;
    refresh::forget(&done.session_id);
    Ok(done.reply)
}

/// The refresh-token grant for API clients: the store rotates the refresh token; the new
/// tokens go back in the body, `no-store`. The answer and the new token's claims (for the
/// audit line).
async fn refresh_grant(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<(Reply, Arc<VerifiedClaims>), Rejection> {
    let bytes = super::body::read_request(&req, edge_routes::MAX_BODY_BYTES).await?;
    let refresh_token = edge_routes::parse_refresh_grant(&bytes)?;
    let (tokens, claims) = store::tokens(
        env,
        config,
        StoreOp::Refresh,
        paths::TOKEN_REFRESH,
        store_api::refresh_body(&refresh_token),
        false,
        "refresh_grant",
    )
    .await?;
    revoke::check(
        env,
        config,
        &claims.sub,
        claims.sid.as_deref(),
        Issued::token(claims.iat),
    )
    .await?;
    Ok((edge_routes::grant_reply(&tokens), claims))
}

/// `GET /auth/sessions`: the user's sessions from the store.
async fn sessions(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let auth = auth::authenticate(env, config, facts, Mode::EdgeRoute).await?;
    let path = store_api::user_sessions_path(&auth.claims.sub);
    let reply = store::call(env, config, StoreOp::Session, Method::Get, &path, None)
        .await
        .map_err(|f| Rejection::store(store_api::list_failure(f)))?;
    let list: Vec<SessionInfo> = store_api::parse_success(&reply.body).map_err(Rejection::store)?;
    Ok(edge_routes::sessions_reply(&list, auth))
}
