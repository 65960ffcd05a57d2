//! The edge's own session routes: the I/O of each; what they accept, decide and answer is in
//! the core ([`crate::gate::edge_op`], [`crate::gate::Login`], [`crate::edge_routes`]).
//!
//! - `POST /auth/login` (MFA step-up with a valid session cookie), `POST /auth/refresh` (the
//!   session cookie, or the refresh-token grant for API clients), `POST /auth/logout`,
//!   `POST /auth/logout-all` ([`super::logout`]), `GET /auth/session`, `GET /auth/sessions`,
//!   `GET /auth/jwks` (the identity assertion's keys),
//!   `DELETE /auth/sessions/{handle}`, `POST /auth/revocations` ([`super::webhook`]),

//!   `POST /auth/otp/send` (an email passcode, [`crate::gate::OtpSend`]).

use std::rc::Rc;
use std::sync::Arc;

use futures_util::FutureExt;
use worker::{Env, Method, Request};

use super::auth::{self, random_nonce};
use super::verify::verify_token;
use super::{log, logout, now_ms, now_secs, refresh, revoke, store, throttle};
use crate::audit;
use crate::config::{EdgeConfig, SessionConfig};
use crate::edge_routes;
use crate::gate::{
    self, EdgeOp, Facts, Login, LoginAnswer, LoginNext, Mode, OtpSend, Reply, SendAnswer, SendNext,
    SEND_PATH,
};
use crate::rejection::{Reason, Rejection};
use crate::revocation::Issued;
use crate::route::Handle;
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
            let result = refresh_grant(req, env, config, facts).await;
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
        EdgeOp::Jwks => {
            edge_routes::jwks_reply(config).ok_or_else(|| Rejection::new(Reason::NoRoute))
        }
        // Boxed: polled through one pointer, their code is not inlined into this state machine
        // (wasm size).
        EdgeOp::EndSession(handle) => end_session(env, config, facts, handle).boxed_local().await,
        EdgeOp::Revocations => {
            super::webhook::take(req, env, config, facts)
                .boxed_local()
                .await
        }
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
/// tokens go back in the body, `no-store`. A grant the store refuses as reuse ends the session
/// it names at the edge too, in this isolate at once ([`store_api::reused_session`]). The
/// answer and the new token's claims (for the audit line).
async fn refresh_grant(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<(Reply, Arc<VerifiedClaims>), Rejection> {
    let bytes = super::body::read_request(&req, edge_routes::MAX_BODY_BYTES).await?;
    let refresh_token = edge_routes::parse_refresh_grant(&bytes)?;
    let answer = store::call_answered(
        env,
        config,
        StoreOp::Refresh,
        Method::Post,
        paths::TOKEN_REFRESH,
        Some(store_api::refresh_body(&refresh_token)),
    )
    .await;
    let reply = match answer {
        Ok(reply) => reply,
        Err(failed) => {
            let reused = failed.answer.as_ref().and_then(|(status, body)| {
                store_api::reused_session(StoreOp::Refresh, *status, body)
            });
            if let Some(sid) = reused {
                let done = logout::revoke_ended(env, config, &sid, "refresh_grant").await;
                let audit = audit::session_revoked("refresh_token_reused", done, None, Some(&sid));
                log::audit(&audit, facts.connecting_ip);
            }
            return Err(Rejection::store(failed.failure));
        }
    };
    let tokens = store_api::parse_tokens(&reply.body, false).map_err(Rejection::store)?;
    let (tokens, claims) = store::verified(env, config, tokens, "refresh_grant").await?;
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

/// The user's sessions from the store.
async fn list(
    env: &Env,
    config: &EdgeConfig,
    subject: &str,
) -> Result<Vec<SessionInfo>, Rejection> {
    let path = store_api::user_sessions_path(subject);
    let reply = store::call(env, config, StoreOp::Session, Method::Get, &path, None)
        .await
        .map_err(|f| Rejection::store(store_api::list_failure(f)))?;
    store_api::parse_success(&reply.body).map_err(Rejection::store)
}

/// `GET /auth/sessions`: the user's sessions from the store.
async fn sessions(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let auth = auth::authenticate(env, config, facts, Mode::EdgeRoute).await?;
    let list = list(env, config, &auth.claims.sub).await?;
    Ok(edge_routes::sessions_reply(&list, auth))
}

/// `DELETE /auth/sessions/{handle}`: ends one of the caller's sessions, found by its handle in
/// the caller's own list (another user's handle, or an unknown one, is 404 and changes
/// nothing), at the edge and at the store as a logout does.
async fn end_session(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
    handle: Handle,
) -> Result<Reply, Rejection> {
    let s = session_config(config)?;
    let auth = auth::authenticate(env, config, facts, Mode::EdgeRoute).await?;
    let list = list(env, config, &auth.claims.sub).await?;
    let target = edge_routes::session_by_handle(&list, &handle)
        .ok_or_else(|| Rejection::new(Reason::UnknownSession))?;
    let current = auth.session_id.as_deref() == Some(target.session_id.as_str());
    let (revoked_at_edge, store_logged_out) =
        logout::end_session(env, config, &target.session_id, "end_session").await;
    let audit = audit::session_revoked(
        "ended_from_other_device",
        revoked_at_edge && store_logged_out,
        Some(&auth.claims.sub),
        Some(&target.session_id),
    );
    log::audit(&audit, facts.connecting_ip);
    Ok(edge_routes::ended_reply(
        current,
        revoked_at_edge,
        store_logged_out,
        gate::cleared_cookies(config),
        &s.clear_site_data,
    ))
}
