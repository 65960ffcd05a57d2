//! `POST /auth/logout` and `POST /auth/logout-all`: revoked at the edge (KV) first, then at
//! the store; both cookies cleared.

use std::rc::Rc;

use worker::{Env, Method};

use super::session::{read_session, session_config};
use super::verify::verify_token;
use super::{auth, log, refresh, revoke, store};
use crate::audit::{self, Event};
use crate::config::EdgeConfig;
use crate::credentials::{self, Credential};
use crate::edge_routes::{self, LoggedOut};
use crate::gate::{self, Facts, Mode, Reply};
use crate::rejection::Rejection;
use crate::session_rules;
use crate::store_api::{self, paths, StoreOp};

/// Ends one session: revoked at the edge first (from this moment this isolate refuses it,
/// other locations as soon as KV propagates), then logged out at the store. Each failure is
/// logged under `phase`; returns whether KV took the write and whether the store logged the
/// session out (a session the store no longer knows counts as logged out).
pub(super) async fn end_session(
    env: &Env,
    config: &EdgeConfig,
    session_id: &str,
    phase: &'static str,
) -> (bool, bool) {
    refresh::forget(session_id);
    let revoked_at_edge = revoke::revoke_session(env, config, session_id).await;
    if !revoked_at_edge {
        log::event(log::Level::Error, phase, "kv_write_failed");
    }
    let result = store::call(
        env,
        config,
        StoreOp::Session,
        Method::Post,
        paths::SESSION_LOGOUT,
        Some(store_api::logout_body(session_id)),
    )
    .await;
    let store_logged_out = match store_api::logged_out(result.map(drop)) {
        Ok(()) => true,
        Err(f) => {
            log::event(log::Level::Error, phase, f.reason());
            false
        }
    };
    (revoked_at_edge, store_logged_out)
}

/// Refuses a session the store ended by itself (a refresh token reused): at the edge, in this
/// isolate at once and in KV for the others. Nothing to tell the store. Whether KV took it.
pub(super) async fn revoke_ended(
    env: &Env,
    config: &EdgeConfig,
    session_id: &str,
    phase: &'static str,
) -> bool {
    refresh::forget(session_id);
    let stored = revoke::revoke_session(env, config, session_id).await;
    if !stored {
        log::event(log::Level::Error, phase, "kv_write_failed");
    }
    stored
}

/// The user and session id (`sid`) of the request's Bearer token, if the token is valid and
/// carries a `sid`.
async fn session_of_bearer_token(
    env: &Env,
    config: &EdgeConfig,
    facts: &Facts<'_>,
) -> Option<(Option<String>, String)> {
    let Credential::Bearer(token) =
        credentials::extract(facts.authorization, None, &config.access_cookie).ok()?
    else {
        return None;
    };
    let claims = verify_token(token, env, config, &config.policy, true)
        .await
        .ok()?;
    Some((Some(claims.sub.clone()), claims.sid.clone()?))
}

/// `POST /auth/logout`. The session: from the bound session cookie; else from the edge's
/// cookie pair when the session cookie no longer verifies for this client (a browser update
/// changed the User-Agent) but the access cookie still opens beside it; else from the `sid`
/// of a valid Bearer token: that session must end too.
pub(super) async fn one(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let s = session_config(config)?;
    // The session, and its user when known (the fallback pair's cookie is not verified for
    // this client, so its user is not named).
    let found = match read_session(config, facts) {
        Some(s) => Some((Some(s.subject), s.session_id)),
        None => match session_rules::logout_fallback_session(config, facts.cookie) {
            Some(sid) => Some((None, sid)),
            None => session_of_bearer_token(env, config, facts).await,
        },
    };
    let (subject, session_id) = match found {
        Some((subject, sid)) => (subject, Some(sid)),
        None => (None, None),
    };
    let (revoked_at_edge, store_logged_out) = match &session_id {
        Some(session_id) => end_session(env, config, session_id, "logout").await,
        None => (false, false),
    };
    let out = LoggedOut {
        all_sessions: false,
        had_session: session_id.is_some(),
        revoked_at_edge,
        store_logged_out,
    };
    log::audit(
        &audit::logout(&out, subject.as_deref(), session_id.as_deref()),
        facts.connecting_ip,
    );
    Ok(edge_routes::logout_reply(
        out,
        gate::cleared_cookies(config),
        &s.clear_site_data,
    ))
}

/// `POST /auth/logout-all`: every session of the user, at the edge and in the store.
pub(super) async fn all(
    env: &Env,
    config: &Rc<EdgeConfig>,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let s = session_config(config)?;
    let auth = auth::authenticate(env, config, facts, Mode::EdgeRoute)
        .await
        .inspect_err(|r| {
            let audit = audit::refused(Event::LogoutAll, r, None, None);
            log::audit(&audit, facts.connecting_ip);
        })?;
    let subject = &auth.claims.sub;
    let revoked_at_edge = revoke::revoke_user(env, config, subject).await;
    let path = store_api::user_sessions_path(subject);
    let store_result =
        store::call(env, config, StoreOp::Session, Method::Delete, &path, None).await;
    if let Err(f) = &store_result {
        log::event(log::Level::Error, "logout_all", f.reason());
    }
    let out = LoggedOut {
        all_sessions: true,
        had_session: true,
        revoked_at_edge,
        store_logged_out: store_result.is_ok(),
    };
    let audit = audit::logout(&out, Some(subject), auth.session_id.as_deref());
    log::audit(&audit, facts.connecting_ip);
    Ok(edge_routes::logout_reply(
        out,
        gate::cleared_cookies(config),
        &s.clear_site_data,
    ))
}
