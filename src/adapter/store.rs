//! The session-store client: the ClientAccessToken (cached until shortly before it expires,
//! never exposed) and the calls of the Transmit-compatible API, each with a deadline.

use worker::{Env, Headers, Method, Request, RequestInit};

use super::body::{self, ReadError};
use super::outbound::{self, OutboundError, Peer};
use std::sync::Arc;

use super::verify::verify_token;
use super::{log, now_secs, with_isolate};
use crate::audit;
use crate::config::{EdgeConfig, SessionConfig};
use crate::gate::VerifyFailure;
use crate::rejection::{Reason, Rejection};
use crate::store_api::{
    self, failure_for_answer, paths, ApiTokenResponse, ClientTokenResponse, StoreFailure, StoreOp,
    MAX_STORE_BODY_BYTES,
};
use crate::token::VerifiedClaims;

/// A successful store answer.
pub(super) struct Reply {
    /// The body.
    pub(super) body: Vec<u8>,
}

fn endpoint(session: &SessionConfig, path: &str) -> String {
    format!(
        "{}{}",
        session.store_url.as_str().trim_end_matches('/'),
        path
    )
}

/// Logs a store call that failed by the store's or the link's fault ([`StoreFailure::is_fault`]):
/// the store's host, the path (no user id) and the status it answered, if any.
fn note_failure(session: &SessionConfig, path: &str, f: StoreFailure, status: Option<u16>) {
    if !f.is_fault() {
        return;
    }
    let level = match f {
        StoreFailure::RateLimited { .. } => log::Level::Warn,
        _ => log::Level::Error,
    };
    let host = audit::host(&session.store_url);
    let what = store_api::path_for_log(path);
    log::outbound_failed(level, "store", &host, what, f.reason(), status);
}

async fn send(
    env: &Env,
    session: &SessionConfig,
    method: Method,
    path: &str,
    headers: Headers,
    body: Option<String>,
) -> Result<(u16, Option<String>, Vec<u8>), StoreFailure> {
    // The request id goes with every call, so the store's lines name the edge's request.
    if let Some(id) = super::flight::request_id() {
        headers
            .set("x-request-id", &id)
            .map_err(|_| StoreFailure::Unreachable)?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let failed = |f: StoreFailure, status: Option<u16>| {
        note_failure(session, path, f, status);
        f
    };
    let req = Request::new_with_init(&endpoint(session, path), &init)
        .map_err(|_| failed(StoreFailure::Unreachable, None))?;
    let resp = outbound::send(env, Peer::Store, req, session.store_timeout_ms)
        .await
        .map_err(|e| match e {
            OutboundError::Timeout => failed(StoreFailure::Timeout, None),
            OutboundError::Network => failed(StoreFailure::Unreachable, None),
        })?;
    let status = resp.status_code();
    let retry_after = resp.headers().get("retry-after").ok().flatten();
    // Read through the cap: a store answer over it is malformed, and is not buffered.
    let body = body::read_response(&resp, MAX_STORE_BODY_BYTES)
        .await
        .map_err(|e| match e {
            ReadError::Refused(_) => failed(StoreFailure::Malformed, Some(status)),
            ReadError::Unreadable => failed(StoreFailure::Unreachable, Some(status)),
        })?;
    Ok((status, retry_after, body))
}

/// The ClientAccessToken, from the isolate's cache or a new client-credentials grant.
async fn client_token(env: &Env, session: &SessionConfig) -> Result<String, StoreFailure> {
    let now = now_secs();
    if let Some(token) = with_isolate(env, |i| {
        i.client_token
            .as_ref()
            .filter(|(_, until)| now < *until)
            .map(|(t, _)| t.clone())
    }) {
        return Ok(token);
    }
    let headers = Headers::new();
    headers
        .set("content-type", "application/x-www-form-urlencoded")
        .map_err(|_| StoreFailure::Unreachable)?;
    headers
        .set("accept", "application/json")
        .map_err(|_| StoreFailure::Unreachable)?;
    let form = store_api::client_token_form(&session.client_id, &session.client_secret);
    let (status, retry_after, body) = send(
        env,
        session,
        Method::Post,
        paths::CLIENT_TOKEN,
        headers,
        Some(form),
    )
    .await?;
    if !(200..300).contains(&status) {
        let f = failure_for_answer(StoreOp::ClientToken, status, retry_after.as_deref(), &body);
        note_failure(session, paths::CLIENT_TOKEN, f, Some(status));
        return Err(f);
    }
    let t: ClientTokenResponse = store_api::parse_success(&body)
        .and_then(|t| store_api::usable_client_token(&t).map(|()| t))
        .inspect_err(|f| note_failure(session, paths::CLIENT_TOKEN, *f, Some(status)))?;
    let until = store_api::client_token_until(now, t.expires_in);
    with_isolate(env, |i| {
        i.client_token = Some((t.access_token.clone(), until))
    });
    Ok(t.access_token)
}

fn forget_client_token(env: &Env) {
    with_isolate(env, |i| i.client_token = None);
}

/// A failed store call: how, and the store's own answer (status, body) when there was one.
pub(super) struct Failed {
    pub(super) failure: StoreFailure,
    pub(super) answer: Option<(u16, Vec<u8>)>,
}

impl From<StoreFailure> for Failed {
    fn from(failure: StoreFailure) -> Self {
        Self {
            failure,
            answer: None,
        }
    }
}

/// Calls the store with the ClientAccessToken. A 401 on a session operation renews the
/// ClientAccessToken and retries once (a login is not retried: its 401 means bad
/// credentials, and retrying would double the store's password work).
pub(super) async fn call(
    env: &Env,
    config: &EdgeConfig,
    op: StoreOp,
    method: Method,
    path: &str,
    json_body: Option<String>,
) -> Result<Reply, StoreFailure> {
    call_answered(env, config, op, method, path, json_body)
        .await
        .map_err(|f| f.failure)
}

/// [`call`], keeping the store's refusal (a refresh grant refused as reuse names its session
/// there: [`store_api::reused_session`]).
pub(super) async fn call_answered(
    env: &Env,
    config: &EdgeConfig,
    op: StoreOp,
    method: Method,
    path: &str,
    json_body: Option<String>,
) -> Result<Reply, Failed> {
    let Some(session) = config.session.as_ref() else {
        return Err(StoreFailure::Unreachable.into());
    };
    let mut attempts: u32 = 0;
    loop {
        attempts += 1;
        let token = client_token(env, session).await?;
        let headers = Headers::new();
        let set = |k: &str, v: &str| headers.set(k, v).map_err(|_| StoreFailure::Unreachable);
        set("authorization", &format!("Bearer {token}"))?;
        set("accept", "application/json")?;
        if json_body.is_some() {
            set("content-type", "application/json")?;
        }
        let (status, retry_after, body) = send(
            env,
            session,
            method.clone(),
            path,
            headers,
            json_body.clone(),
        )
        .await?;
        if (200..300).contains(&status) {
            return Ok(Reply { body });
        }
        if status == 401 {
            forget_client_token(env);
            if store_api::retry_after_401(op, attempts) {
                continue;
            }
        }
        let failure = failure_for_answer(op, status, retry_after.as_deref(), &body);
        note_failure(session, path, failure, Some(status));
        return Err(Failed {
            failure,
            answer: Some((status, body)),
        });
    }
}

/// A token-issuing store call (login, session authenticate, refresh grant): the tokens it
/// answered and the verified claims of its access token. A token the edge cannot verify is
/// the store's fault (502), never a cookie.
pub(super) async fn tokens(
    env: &Env,
    config: &EdgeConfig,
    op: StoreOp,
    path: &str,
    body: String,
    need_session: bool,
    phase: &'static str,
) -> Result<(ApiTokenResponse, Arc<VerifiedClaims>), Rejection> {
    let tokens = answer(env, config, op, path, body, need_session)
        .await
        .map_err(Rejection::store)?;
    verified(env, config, tokens, phase).await
}

/// The store's token answer, parsed (not yet verified).
pub(super) async fn answer(
    env: &Env,
    config: &EdgeConfig,
    op: StoreOp,
    path: &str,
    body: String,
    need_session: bool,
) -> Result<ApiTokenResponse, StoreFailure> {
    let reply = call(env, config, op, Method::Post, path, Some(body)).await?;
    store_api::parse_tokens(&reply.body, need_session).inspect_err(|f| {
        if let Some(session) = &config.session {
            note_failure(session, path, *f, None);
        }
    })
}

/// Verifies the access token of a store answer.
pub(super) async fn verified(
    env: &Env,
    config: &EdgeConfig,
    tokens: ApiTokenResponse,
    phase: &'static str,
) -> Result<(ApiTokenResponse, Arc<VerifiedClaims>), Rejection> {
    let claims = verify_token(&tokens.access_token, env, config, &config.policy, true)
        .await
        .map_err(|f| {
            log::event(log::Level::Error, phase, "store_token_unverifiable");
            match f {
                VerifyFailure::Keys => Rejection::new(Reason::KeysUnavailable),
                VerifyFailure::Token(_) => Rejection::new(Reason::StoreTokenUnverifiable),
            }
        })?;
    Ok((tokens, claims))
}
