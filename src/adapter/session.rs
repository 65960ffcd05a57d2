//! The edge's own session routes: the I/O of each; what they accept, decide and answer is in
//! the core ([`crate::gate::edge_op`], [`crate::session_rules`], [`crate::edge_routes`]).
//!
//! - `POST /auth/login` (MFA step-up with a valid session cookie), `POST /auth/refresh` (the
//!   session cookie, or the refresh-token grant for API clients), `POST /auth/logout`,
//!   `POST /auth/logout-all` ([`super::logout`]), `GET /auth/session`, `GET /auth/sessions`.

use std::rc::Rc;

use worker::{Env, Method, Request};

use super::auth::{self, random_nonce};
use super::verify::verify_token;
use super::{log, logout, now_ms, now_secs, refresh, revoke, store};
use crate::config::{EdgeConfig, SessionConfig};
use crate::cookies;
use crate::edge_routes::{self, LoginBody};
use crate::gate::{self, EdgeOp, Facts, Mode, Reply};
use crate::rejection::{Reason, Rejection};
use crate::revocation::Issued;
use crate::session_cookie::{self, SessionCookie};
use crate::session_rules::{self, LoginOutcome, LoginPlan};
use crate::store_api::{self, ApiTokenResponse, SessionInfo, StoreFailure, StoreOp};
use crate::token::{Policy, TypRule, VerifiedClaims};

/// Runs the edge operation `op` (already admitted by [`gate::edge_op`]).
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
        EdgeOp::RefreshGrant => refresh_grant(req, env, config).await,
        EdgeOp::Logout => logout::one(env, config, facts).await,
        EdgeOp::LogoutAll => logout::all(env, config, facts).await,
        EdgeOp::WhoAmI => auth::authenticate(env, config, facts, Mode::EdgeRoute)
            .await
            .map(edge_routes::whoami_reply),
        EdgeOp::Sessions => sessions(env, config, facts).await,
    }
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
            log::event("info", "authenticate", Reason::SessionCookie(e).code());
            None
        }
    }
}

/// The clock in milliseconds, as the signed type the cookie codecs use.
fn now_ms_i64() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

/// `POST /auth/login`.
///
/// With a session cookie valid for this client (and not known to have ended), the
/// authentication is first added to that session (MFA step-up, same user only). When the
/// store refuses that (the session ended at the store, or someone else signs in on this
/// browser), the login is tried once as a fresh one; a fresh login replaces the old session,
/// which is ended at the store and at the edge. Rules: [`session_rules`].
async fn login(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let s = session_config(config)?;
    let present = read_session(config, facts);
    // A session the edge already knows has ended (logged out, logged out everywhere) is not
    // stepped up: the login is a fresh one at once.
    let known_ended = match &present {
        Some(p) => {
            let issued = Issued {
                iat: None,
                minted_ms: Some(p.minted_ms),
            };
            revoke::check(env, config, &p.subject, Some(&p.session_id), issued)
                .await
                .is_err()
        }
        None => false,
    };
    let bytes = super::body::read_request(&req, edge_routes::MAX_BODY_BYTES).await?;
    let creds = edge_routes::parse_login(facts.content_type, &bytes)?;
    drop(bytes);
    let mut plan = session_rules::plan_login(present.as_ref(), known_ended);
    let tokens = match password_login(env, config, s, &creds, &plan, facts).await {
        Err(f) if session_rules::retry_fresh(&plan, f) => {
            log::event("info", "login", "step_up_refused_trying_fresh");
            plan = LoginPlan::Fresh;
            password_login(env, config, s, &creds, &plan, facts).await
        }
        other => other,
    }
    .map_err(Rejection::store)?;
    drop(creds);
    let minted_ms = now_ms_i64();
    let (tokens, claims) = store::verified(env, config, tokens, "login").await?;
    let session_id = tokens.session_id.clone().unwrap_or_default();
    let outcome = session_rules::judge_login(
        &plan,
        present.as_ref(),
        &claims.sub,
        claims.sid.as_deref(),
        &session_id,
    )?;
    refresh::forget(&session_id);
    if let LoginOutcome::NewSession {
        replaces: Some(old),
    } = &outcome
    {
        // The replaced session ends (best effort: the new login stands either way).
        logout::end_session(env, config, old, "login").await;
    }
    let amr = login_amr(env, config, s, &tokens, &claims).await;
    let cookie = SessionCookie {
        session_id,
        subject: claims.sub.clone(),
        minted_ms,
    };
    let set_cookies = login_cookies(config, s, &cookie, &tokens.access_token, facts)?;
    let (reply, code) = edge_routes::login_reply(&claims, &amr, &outcome, set_cookies);
    log::event("info", "login", code);
    Ok(reply)
}

/// The two cookies of a login: the new session cookie (a fresh nonce: a new value on every
/// authentication) and the access cookie sealed beside it.
fn login_cookies(
    config: &EdgeConfig,
    s: &SessionConfig,
    cookie: &SessionCookie,
    access_token: &str,
    facts: &Facts<'_>,
) -> Result<Vec<String>, Rejection> {
    let now = now_secs();
    let sealed = session_cookie::seal(
        &s.binding_keys,
        &s.binding,
        cookie,
        &facts.client(),
        &random_nonce::<16>()?,
    )
    .ok_or_else(|| Rejection::new(Reason::StoreTokenUnverifiable))?;
    let access = gate::access_cookie_header(
        config,
        &sealed,
        access_token,
        cookie.minted_ms,
        now,
        &random_nonce()?,
    )?;
    let session = cookies::set_cookie(
        &config.session_cookie,
        &sealed,
        &s.cookies,
        Some(now.saturating_add(s.session_max_secs)),
        now,
    )
    .map_err(|_| Rejection::new(Reason::StoreTokenUnverifiable))?;
    Ok(vec![access, session])
}

/// The password authentication of `creds`, sent as `plan` says.
async fn password_login(
    env: &Env,
    config: &EdgeConfig,
    s: &SessionConfig,
    creds: &LoginBody,
    plan: &LoginPlan,
    facts: &Facts<'_>,
) -> Result<ApiTokenResponse, StoreFailure> {
    let step_up = match plan {
        LoginPlan::StepUp { session_id } => Some(session_id.as_str()),
        LoginPlan::Fresh => None,
    };
    let body = store_api::password_body(
        &creds.username,
        &creds.password,
        step_up,
        s.resource.as_deref(),
        &facts.client(),
    );
    store::answer(
        env,
        config,
        StoreOp::Login,
        "/v1/auth/password/authenticate",
        body,
        true,
    )
    .await
}

/// The authentication methods of a login: from its ID token when the store sent one (and it
/// verifies), else from the access token.
async fn login_amr(
    env: &Env,
    config: &EdgeConfig,
    s: &SessionConfig,
    tokens: &ApiTokenResponse,
    claims: &VerifiedClaims,
) -> Vec<String> {
    let Some(id_token) = &tokens.id_token else {
        return claims.amr.clone();
    };
    let id_policy = Policy {
        issuer: config.policy.issuer.clone(),
        audiences: vec![s.client_id.clone()],
        typ: TypRule::Any,
        leeway_secs: config.policy.leeway_secs,
    };
    match verify_token(id_token, env, config, &id_policy, false).await {
        Ok(id) => id.amr.clone(),
        Err(_) => {
            log::event("warn", "login", "id_token_unverifiable");
            Vec::new()
        }
    }
}

/// The refresh-token grant for API clients: the store rotates the refresh token; the new
/// tokens go back in the body, `no-store`.
async fn refresh_grant(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<Reply, Rejection> {
    let bytes = super::body::read_request(&req, edge_routes::MAX_BODY_BYTES).await?;
    let refresh_token = edge_routes::parse_refresh_grant(&bytes)?;
    let (tokens, claims) = store::tokens(
        env,
        config,
        StoreOp::Refresh,
        "/v1/auth/token/refresh",
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
    Ok(edge_routes::grant_reply(&tokens))
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
        .map_err(|f| match f {
            // The user exists (the token says so); a 4xx here is not a session ending.
            StoreFailure::SessionGone => Rejection::store(StoreFailure::ServerError),
            other => Rejection::store(other),
        })?;
    let list: Vec<SessionInfo> = store_api::parse_success(&reply.body).map_err(Rejection::store)?;
    Ok(edge_routes::sessions_reply(&list, auth))
}
