//! Authenticate with sessions, and the edge's own session routes.
//!
//! - A protected request needs a valid, unrevoked access token (header or cookie).
//! - A cookie request whose access token expired (or is missing) but whose bound session
//!   cookie verifies gets a new access token through session authenticate (which extends the
//!   session). Concurrent requests of one session in one isolate share that call, and its
//!   result serves the session's stragglers for a short while.
//! - `/auth/*`: login (MFA step-up with a valid session cookie), refresh, logout,
//!   logout-all, session, sessions.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use serde::Deserialize;
use worker::{Env, Method, Request};

use super::verify::{verify_token, VerifyFailure};
use super::{log, now_ms, now_secs, revoke, store};
use crate::access_cookie;
use crate::config::{EdgeConfig, SessionConfig};
use crate::cookies;
use crate::credentials::{self, Credential};
use crate::csrf::{self, CsrfVerdict};
use crate::rejection::Rejection;
use crate::revocation::Issued;
use crate::session_cookie::{self, ClientProps, SessionCookie};
use crate::session_rules::{self, LoginOutcome, LoginPlan, OpenedSession, Presented};
use crate::store_api::{self, ApiTokenResponse, SessionInfo, StoreFailure, StoreOp};
use crate::token::{Policy, TokenError, TypRule, VerifiedClaims};

/// Largest login body accepted.
const MAX_LOGIN_BODY_BYTES: usize = 8 * 1024;
/// How long a finished refresh serves the same session's other requests, seconds.
const REFRESH_REUSE_SECS: i64 = 30;

/// A request that passed authentication.
pub(super) struct Authenticated {
    /// The verified access-token claims.
    pub(super) claims: Arc<VerifiedClaims>,
    /// The session id: the token's `sid`, else the bound session cookie's.
    pub(super) session_id: Option<String>,
    /// `Set-Cookie` values to add to the response (a transparently refreshed access token).
    pub(super) set_cookies: Vec<String>,
    /// The token came in `Authorization` (not subject to CSRF).
    pub(super) bearer: bool,
}

/// The client properties the session cookie binds to, owned.
#[derive(Clone, Default)]
pub(super) struct Client {
    user_agent: Option<String>,
    ip: Option<String>,
}

impl Client {
    pub(super) fn of(req: &Request) -> Self {
        let h = req.headers();
        Self {
            user_agent: h.get("user-agent").ok().flatten(),
            ip: h.get("cf-connecting-ip").ok().flatten(),
        }
    }

    fn props(&self) -> ClientProps<'_> {
        ClientProps {
            user_agent: self.user_agent.as_deref(),
            ip: self.ip.as_deref(),
        }
    }
}

fn cookie_header(req: &Request) -> Option<String> {
    req.headers().get("cookie").ok().flatten()
}

/// The session cookie of this request, if present and valid for this client.
fn read_session<'a>(
    cookie: Option<&'a str>,
    config: &EdgeConfig,
    client: &Client,
) -> Option<OpenedSession<'a>> {
    match session_rules::session_cookie(config, cookie, &client.props())? {
        Ok(opened) => Some(opened),
        Err(e) => {
            log::event("info", "authenticate", e.reason());
            None
        }
    }
}

/// When a session cookie was minted, for the revocation check of the session alone.
fn issued_session(cookie: &SessionCookie) -> Issued {
    Issued {
        iat: None,
        minted_ms: Some(cookie.minted_ms),
    }
}

/// Authenticate + authorize: a valid, unrevoked access token, refreshed when the session
/// allows. What the request presents, and whether its token fits the session cookie beside
/// it, is the core's decision ([`session_rules`]); the fast path makes the same calls.
pub(super) async fn authenticate(
    req: &Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<Authenticated, Rejection> {
    let authorization = req.headers().get("authorization").ok().flatten();
    let cookie = cookie_header(req);
    let client = Client::of(req);
    let presented = session_rules::present(
        config,
        authorization.as_deref(),
        cookie.as_deref(),
        &client.props(),
    )?;
    let (token, minted_ms, bearer) = match &presented {
        Presented::Bearer { token, .. } => (*token, None, true),
        Presented::Cookie {
            token, minted_ms, ..
        } => (token.as_str(), *minted_ms, false),
        Presented::SessionOnly(s) => return refresh(env, config, &client, s, None).await,
        Presented::Nothing => return Err(Rejection::missing_token()),
    };
    let session = presented.session();
    match verify_token(token, env, config, &config.policy, true).await {
        Ok(claims) => {
            if let Some(s) = session {
                session_rules::token_fits_session(&claims, &s.cookie)?;
            }
            // A Bearer token's session is its own `sid`, whatever cookie rides along.
            let cookie_session = session.filter(|_| !bearer).map(|s| &s.cookie);
            let session_id = session_rules::session_id_of(&claims, cookie_session);
            let issued = session_rules::issued(&claims, minted_ms);
            revoke::check(env, config, &claims.sub, session_id.as_deref(), issued).await?;
            Ok(Authenticated {
                claims,
                session_id,
                set_cookies: Vec::new(),
                bearer,
            })
        }
        Err(VerifyFailure::Token(TokenError::Expired { .. })) if !bearer && session.is_some() => {
            match session {
                Some(s) => refresh(env, config, &client, s, minted_ms).await,
                None => Err(Rejection::missing_token()),
            }
        }
        Err(failure) => Err(failure.rejection()),
    }
}

/// A finished session authenticate.
struct Refreshed {
    access_token: String,
    claims: Arc<VerifiedClaims>,
    /// When the store's answer arrived, seconds and milliseconds.
    at: i64,
    at_ms: i64,
}

type RefreshFuture = Shared<LocalBoxFuture<'static, Result<Rc<Refreshed>, Rejection>>>;

/// A session authenticate in flight (or just finished) and when it started, milliseconds.
struct InFlight {
    future: RefreshFuture,
    started_ms: u64,
}

/// How often a request waiting for another request's session authenticate looks again.
const WAIT_POLL_MS: u64 = 10;

thread_local! {
    /// Session authenticate calls in flight (or just finished), by session id.
    static REFRESHES: RefCell<HashMap<String, InFlight>> = RefCell::new(HashMap::new());
}

/// How long a request waits for another request's session authenticate: the ClientAccessToken
/// call and the session call (each bounded by the store timeout), a JWKS refetch for a new
/// key, and a margin.
fn wait_limit_ms(session: &SessionConfig) -> u64 {
    2 * u64::from(session.store_timeout_ms) + 6_000
}

/// Waits for a session authenticate that another request of this isolate started.
///
/// workerd runs every request in its own I/O context: a request that awaited the shared
/// future itself would be woken from the starting request's context (and continue its own
/// I/O there), and while it waits it has no pending event of its own, so workerd cancels it
/// as hung ("the Worker's code had hung"). So the waiter never polls the shared future: it
/// looks at its result on its own timer until the result is there or the wait limit passes.
async fn wait_for(
    future: &RefreshFuture,
    started_ms: u64,
    limit_ms: u64,
) -> Result<Rc<Refreshed>, Rejection> {
    loop {
        if let Some(result) = future.peek() {
            return result.clone();
        }
        if now_ms().saturating_sub(started_ms) > limit_ms {
            log::event("error", "refresh", "shared_refresh_stalled");
            return Err(Rejection::store(StoreFailure::Timeout));
        }
        worker::Delay::from(std::time::Duration::from_millis(WAIT_POLL_MS)).await;
    }
}

/// Forgets this isolate's finished or running session authenticate of `session_id` (a login
/// or step-up just minted newer tokens for it, or it ended).
fn forget_refresh(session_id: &str) {
    REFRESHES.with(|map| map.borrow_mut().remove(session_id));
}

/// New access token for `session` via session authenticate, shared by the session's
/// concurrent requests in this isolate: the first request calls the store, the others wait
/// for its result ([`wait_for`]). A finished result is reused only when it is newer than the
/// access cookie the request carried (minted at `carried_ms`).
async fn refresh(
    env: &Env,
    config: &Rc<EdgeConfig>,
    client: &Client,
    opened: &OpenedSession<'_>,
    carried_ms: Option<i64>,
) -> Result<Authenticated, Rejection> {
    let session_cfg = config
        .session
        .as_ref()
        .ok_or_else(Rejection::missing_token)?;
    let session = opened.cookie.clone();
    // A revoked session (or one minted before a logout-all) is not refreshed, whatever the
    // store says.
    revoke::check(
        env,
        config,
        &session.subject,
        Some(&session.session_id),
        issued_session(&session),
    )
    .await?;
    let now = now_secs();
    let now_millis = now_ms();
    let limit_ms = wait_limit_ms(session_cfg);
    let sid = session.session_id.clone();
    let (shared, started_ms, owner) = REFRESHES.with(|map| {
        let mut map = map.borrow_mut();
        // Drop finished entries that are too old, failed, or whose token has expired, and
        // calls that stalled (their request was cancelled and nobody polls them any more).
        map.retain(|_, f| match f.future.peek() {
            Some(Ok(r)) => now < r.at + REFRESH_REUSE_SECS && now < r.claims.exp,
            Some(Err(_)) => false,
            None => now_millis.saturating_sub(f.started_ms) <= limit_ms,
        });
        // A finished result no newer than the request's access cookie is not served.
        let stale = map.get(&sid).is_some_and(|f| {
            f.future
                .peek()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|r| !session_rules::may_reuse_refresh(r.at_ms, carried_ms))
        });
        if stale {
            map.remove(&sid);
        }
        if let Some(f) = map.get(&sid) {
            return (f.future.clone(), f.started_ms, false);
        }
        let (env, config, client) = (env.clone(), Rc::clone(config), client.clone());
        let future = async move { session_authenticate(&env, &config, &client, &session).await }
            .boxed_local()
            .shared();
        map.insert(
            sid.clone(),
            InFlight {
                future: future.clone(),
                started_ms: now_millis,
            },
        );
        (future, now_millis, true)
    });
    let result = if owner {
        shared.await
    } else {
        wait_for(&shared, started_ms, limit_ms).await
    };
    let refreshed = result?;
    let cookie = access_cookie_header(
        config,
        session_cfg,
        opened.raw,
        &refreshed.access_token,
        refreshed.at_ms,
        now,
    )?;
    Ok(Authenticated {
        claims: Arc::clone(&refreshed.claims),
        session_id: Some(sid),
        set_cookies: vec![cookie],
        bearer: false,
    })
}

/// The `Set-Cookie` of an access cookie: `token`, received at `minted_ms`, sealed beside the
/// session cookie value `session_raw`.
fn access_cookie_header(
    config: &EdgeConfig,
    s: &SessionConfig,
    session_raw: &str,
    token: &str,
    minted_ms: i64,
    now: i64,
) -> Result<String, Rejection> {
    let nonce = random_nonce::<{ access_cookie::NONCE_BYTES }>()?;
    let sealed = access_cookie::seal(&s.binding_keys, session_raw, token, minted_ms, &nonce)
        .ok_or_else(|| Rejection::store(StoreFailure::Malformed))?;
    cookies::set_cookie(
        &config.access_cookie,
        &sealed,
        &s.cookies,
        Some(now.saturating_add(s.session_max_secs)),
        now,
    )
    .map_err(|_| Rejection::store(StoreFailure::Malformed))
}

/// The clock in milliseconds, as the signed type the cookie codecs use.
fn now_ms_i64() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

/// A token-issuing store call (login, session authenticate, refresh grant): the tokens it
/// answered and the verified claims of its access token. A token the edge cannot verify is
/// the store's fault (502), never a cookie.
async fn store_tokens(
    env: &Env,
    config: &EdgeConfig,
    op: StoreOp,
    path: &str,
    body: String,
    need_session: bool,
    phase: &'static str,
) -> Result<(ApiTokenResponse, Arc<VerifiedClaims>), Rejection> {
    let tokens = store_answer(env, config, op, path, body, need_session)
        .await
        .map_err(Rejection::store)?;
    verified(env, config, tokens, phase).await
}

/// The store's token answer, parsed (not yet verified).
async fn store_answer(
    env: &Env,
    config: &EdgeConfig,
    op: StoreOp,
    path: &str,
    body: String,
    need_session: bool,
) -> Result<ApiTokenResponse, StoreFailure> {
    let reply = store::call(env, config, op, Method::Post, path, Some(body)).await?;
    store_api::parse_tokens(&reply.body, need_session)
}

/// Verifies the access token of a store answer.
async fn verified(
    env: &Env,
    config: &EdgeConfig,
    tokens: ApiTokenResponse,
    phase: &'static str,
) -> Result<(ApiTokenResponse, Arc<VerifiedClaims>), Rejection> {
    let claims = verify_token(&tokens.access_token, env, config, &config.policy, true)
        .await
        .map_err(|f| {
            log::event("error", phase, "store_token_unverifiable");
            match f {
                VerifyFailure::Keys(r) => r,
                VerifyFailure::Token(_) => Rejection::store(StoreFailure::Malformed),
            }
        })?;
    Ok((tokens, claims))
}

async fn session_authenticate(
    env: &Env,
    config: &EdgeConfig,
    client: &Client,
    session: &SessionCookie,
) -> Result<Rc<Refreshed>, Rejection> {
    let s = config
        .session
        .as_ref()
        .ok_or_else(Rejection::missing_token)?;
    let body = store_api::session_authenticate_body(
        &session.session_id,
        s.resource.as_deref(),
        &client.props(),
    );
    let (tokens, claims) = store_tokens(
        env,
        config,
        StoreOp::Session,
        "/v1/auth/session/authenticate",
        body,
        false,
        "refresh",
    )
    .await?;
    if claims.sub != session.subject {
        return Err(Rejection::session_ended("refresh_subject_mismatch"));
    }
    Ok(Rc::new(Refreshed {
        access_token: tokens.access_token,
        claims,
        at: now_secs(),
        at_ms: now_ms_i64(),
    }))
}

/// The CSRF rule for the edge's POSTs and cookie-authenticated unsafe requests.
pub(super) fn csrf_guard(req: &Request) -> Result<(), Rejection> {
    if csrf::is_safe_method(req.method().as_ref()) {
        return Ok(());
    }
    let url = req
        .url()
        .map_err(|_| Rejection::invalid_request("bad_url"))?;
    let own_origin = url.origin().ascii_serialization();
    let h = req.headers();
    match csrf::check(
        req.method().as_ref(),
        h.get("sec-fetch-site").ok().flatten().as_deref(),
        h.get("origin").ok().flatten().as_deref(),
        &own_origin,
    ) {
        CsrfVerdict::Allow => Ok(()),
        CsrfVerdict::Refuse(why) => Err(Rejection::forbidden(why)),
    }
}

fn session_config(config: &EdgeConfig) -> Result<&SessionConfig, Rejection> {
    config.session.as_ref().ok_or_else(Rejection::not_found)
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn read_login(req: &mut Request) -> Result<LoginBody, Rejection> {
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let bytes = super::body::read_request(req, MAX_LOGIN_BODY_BYTES).await?;
    let body: LoginBody = if content_type.starts_with("application/json") {
        serde_json::from_slice(&bytes).map_err(|_| Rejection::bad_body("login_json"))?
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut username = None;
        let mut password = None;
        for (k, v) in url::form_urlencoded::parse(&bytes) {
            match k.as_ref() {
                "username" => username = Some(v.into_owned()),
                "password" => password = Some(v.into_owned()),
                _ => {}
            }
        }
        match (username, password) {
            (Some(username), Some(password)) => LoginBody { username, password },
            _ => return Err(Rejection::bad_body("login_form")),
        }
    } else {
        return Err(Rejection::bad_body("login_content_type"));
    };
    if body.username.is_empty()
        || body.password.is_empty()
        || body.username.len() > 256
        || body.password.len() > 1024
    {
        return Err(Rejection::bad_body("login_fields"));
    }
    Ok(body)
}

/// `N` random bytes for a cookie nonce (the session cookie's 16, the access cookie's 24).
fn random_nonce<const N: usize>() -> Result<[u8; N], Rejection> {
    let mut nonce = [0u8; N];
    getrandom::fill(&mut nonce).map_err(|_| Rejection::bad_gateway("no_randomness"))?;
    Ok(nonce)
}

/// A JSON answer of the edge with cookies to set.
pub(super) struct EdgeReply {
    pub(super) status: u16,
    pub(super) body: serde_json::Value,
    pub(super) set_cookies: Vec<String>,
    pub(super) clear_site_data: Option<String>,
}

impl EdgeReply {
    fn json(body: serde_json::Value) -> Self {
        Self {
            status: 200,
            body,
            set_cookies: Vec::new(),
            clear_site_data: None,
        }
    }
}

/// The password authentication of `creds`, sent as `plan` says.
async fn password_login(
    env: &Env,
    config: &EdgeConfig,
    s: &SessionConfig,
    creds: &LoginBody,
    plan: &LoginPlan,
    client: &Client,
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
        &client.props(),
    );
    store_answer(
        env,
        config,
        StoreOp::Login,
        "/v1/auth/password/authenticate",
        body,
        true,
    )
    .await
}

/// Ends one session: revoked at the edge first (from this moment this isolate refuses it,
/// other locations as soon as KV propagates), then logged out at the store. Each failure is
/// logged under `phase`; returns whether KV took the write and whether the store logged the
/// session out (a session the store no longer knows counts as logged out).
async fn end_session(
    env: &Env,
    config: &EdgeConfig,
    session_id: &str,
    phase: &'static str,
) -> (bool, bool) {
    forget_refresh(session_id);
    let revoked_at_edge = revoke::revoke_session(env, config, session_id).await;
    if !revoked_at_edge {
        log::event("error", phase, "kv_write_failed");
    }
    let result = store::call(
        env,
        config,
        StoreOp::Session,
        Method::Post,
        "/v1/auth/session/logout",
        Some(store_api::logout_body(session_id)),
    )
    .await;
    let store_logged_out = match result {
        Ok(_) | Err(StoreFailure::SessionGone) => true,
        Err(f) => {
            log::event("error", phase, f.reason());
            false
        }
    };
    (revoked_at_edge, store_logged_out)
}

/// `POST /auth/login`.
///
/// With a session cookie valid for this client (and not known to have ended), the
/// authentication is first added to that session (MFA step-up, same user only). When the
/// store refuses that (the session ended at the store, or someone else signs in on this
/// browser), the login is tried once as a fresh one; a fresh login replaces the old session,
/// which is ended at the store and at the edge. Rules: [`session_rules`].
pub(super) async fn login(
    mut req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    let s = session_config(config)?;
    csrf_guard(&req)?;
    let client = Client::of(&req);
    let cookie = cookie_header(&req);
    let present = read_session(cookie.as_deref(), config, &client).map(|o| o.cookie);
    // A session the edge already knows has ended (logged out, logged out everywhere) is not
    // stepped up: the login is a fresh one at once.
    let known_ended = match &present {
        Some(p) => revoke::check(
            env,
            config,
            &p.subject,
            Some(&p.session_id),
            issued_session(p),
        )
        .await
        .is_err(),
        None => false,
    };
    let creds = read_login(&mut req).await?;
    let mut plan = session_rules::plan_login(present.as_ref(), known_ended);
    let tokens = match password_login(env, config, s, &creds, &plan, &client).await {
        Err(f) if session_rules::retry_fresh(&plan, f) => {
            log::event("info", "login", "step_up_refused_trying_fresh");
            plan = LoginPlan::Fresh;
            password_login(env, config, s, &creds, &plan, &client).await
        }
        other => other,
    }
    .map_err(Rejection::store)?;
    drop(creds);
    let minted_ms = now_ms_i64();
    let (tokens, claims) = verified(env, config, tokens, "login").await?;
    let session_id = tokens.session_id.clone().unwrap_or_default();
    let outcome = session_rules::judge_login(
        &plan,
        present.as_ref(),
        &claims.sub,
        claims.sid.as_deref(),
        &session_id,
    )?;
    forget_refresh(&session_id);
    if let LoginOutcome::NewSession {
        replaces: Some(old),
    } = &outcome
    {
        // The replaced session ends (best effort: the new login stands either way).
        end_session(env, config, old, "login").await;
    }
    let amr = login_amr(env, config, s, &tokens, &claims).await;
    let now = now_secs();
    let session_expires = now.saturating_add(s.session_max_secs);
    let sealed = session_cookie::seal(
        &s.binding_keys,
        &s.binding,
        &SessionCookie {
            session_id: session_id.clone(),
            subject: claims.sub.clone(),
            minted_ms,
        },
        &client.props(),
        &random_nonce::<16>()?,
    )
    .ok_or_else(|| Rejection::store(StoreFailure::Malformed))?;
    let set_cookies = vec![
        access_cookie_header(config, s, &sealed, &tokens.access_token, minted_ms, now)?,
        cookies::set_cookie(
            &config.session_cookie,
            &sealed,
            &s.cookies,
            Some(session_expires),
            now,
        )
        .map_err(|_| Rejection::store(StoreFailure::Malformed))?,
    ];
    let stepped_up = outcome == LoginOutcome::SteppedUp;
    let replaced = matches!(outcome, LoginOutcome::NewSession { replaces: Some(_) });
    let mut reply = EdgeReply::json(serde_json::json!({
        "authenticated": true,
        "subject": claims.sub,
        "roles": claims.roles,
        "amr": amr,
        "access_token_expires_at": claims.exp,
        "step_up": stepped_up,
        "replaced_session": replaced,
    }));
    reply.set_cookies = set_cookies;
    let reason = match (stepped_up, replaced) {
        (true, _) => "step_up",
        (false, true) => "login_replaced_session",
        (false, false) => "login",
    };
    log::event("info", "login", reason);
    Ok(reply)
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

/// `POST /auth/refresh`: session authenticate for the current session.
pub(super) async fn refresh_route(
    mut req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    session_config(config)?;
    let client = Client::of(&req);
    let cookie = cookie_header(&req);
    let has_cookies = cookie.is_some();
    let is_json = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    if !has_cookies && is_json {
        // An API client that holds a refresh token (obtained from the IdP, never from the
        // edge): the refresh-token grant. No ambient credential is involved, so no CSRF rule.
        return refresh_token_grant(&mut req, env, config).await;
    }
    csrf_guard(&req)?;
    let session = read_session(cookie.as_deref(), config, &client)
        .ok_or_else(|| Rejection::session_ended("no_session"))?;
    // The access cookie the request carries, if it opens beside this session cookie: no
    // answer sets an older one.
    let carried_ms = session_rules::present(config, None, cookie.as_deref(), &client.props())
        .ok()
        .and_then(|p| p.minted_ms());
    let auth = refresh(env, config, &client, &session, carried_ms).await?;
    let mut reply = EdgeReply::json(serde_json::json!({
        "refreshed": true,
        "subject": auth.claims.sub,
        "access_token_expires_at": auth.claims.exp,
    }));
    reply.set_cookies = auth.set_cookies;
    Ok(reply)
}

#[derive(Deserialize)]
struct RefreshGrantBody {
    refresh_token: String,
}

/// The refresh-token grant for API clients: the store rotates the refresh token; the new
/// tokens go back in the body (the client already held a raw refresh token), `no-store`.
async fn refresh_token_grant(
    req: &mut Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    let bytes = super::body::read_request(req, MAX_LOGIN_BODY_BYTES).await?;
    let body: RefreshGrantBody =
        serde_json::from_slice(&bytes).map_err(|_| Rejection::bad_body("refresh_json"))?;
    if body.refresh_token.is_empty() || body.refresh_token.len() > 2048 {
        return Err(Rejection::bad_body("refresh_token_field"));
    }
    let (tokens, claims) = store_tokens(
        env,
        config,
        StoreOp::Refresh,
        "/v1/auth/token/refresh",
        store_api::refresh_body(&body.refresh_token),
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
    Ok(EdgeReply::json(serde_json::json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "id_token": tokens.id_token,
    })))
}

/// `Set-Cookie` values that delete both edge cookies.
pub(super) fn cleared(config: &EdgeConfig, s: &SessionConfig) -> Vec<String> {
    vec![
        cookies::clear_cookie(&config.access_cookie, &s.cookies),
        cookies::clear_cookie(&config.session_cookie, &s.cookies),
    ]
}

/// The session id (`sid`) of the request's Bearer token, if the token is valid and carries
/// one.
async fn session_of_bearer_token(req: &Request, env: &Env, config: &EdgeConfig) -> Option<String> {
    let authorization = req.headers().get("authorization").ok().flatten();
    let Credential::Bearer(token) =
        credentials::extract(authorization.as_deref(), None, &config.access_cookie).ok()?
    else {
        return None;
    };
    let claims = verify_token(token, env, config, &config.policy, true)
        .await
        .ok()?;
    claims.sid.clone()
}

/// `POST /auth/logout`: revoke at the edge (KV) and in the store, clear the cookies.
pub(super) async fn logout(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    let s = session_config(config)?;
    csrf_guard(&req)?;
    let client = Client::of(&req);
    let cookie = cookie_header(&req);
    // The session: from the bound session cookie; else from the edge's cookie pair when the
    // session cookie no longer verifies for this client (a browser update changed the
    // User-Agent) but the access cookie still opens beside it; else from the `sid` of a valid
    // Bearer token: that session must end too.
    let session_id = match read_session(cookie.as_deref(), config, &client) {
        Some(s) => Some(s.cookie.session_id),
        None => match session_rules::logout_fallback_session(config, cookie.as_deref()) {
            Some(sid) => Some(sid),
            None => session_of_bearer_token(&req, env, config).await,
        },
    };
    let (revoked_at_edge, store_logged_out) = match &session_id {
        Some(session_id) => end_session(env, config, session_id, "logout").await,
        None => (false, false),
    };
    Ok(logged_out(
        config,
        s,
        serde_json::json!({
            "logged_out": true,
            "had_session": session_id.is_some(),
            "revoked_at_edge": revoked_at_edge,
            "store_logged_out": store_logged_out,
        }),
    ))
}

/// A logout answer: the body, both cookies cleared, `Clear-Site-Data` when configured.
fn logged_out(config: &EdgeConfig, s: &SessionConfig, body: serde_json::Value) -> EdgeReply {
    let mut reply = EdgeReply::json(body);
    reply.set_cookies = cleared(config, s);
    reply.clear_site_data = Some(s.clear_site_data.clone()).filter(|v| !v.is_empty());
    reply
}

/// `POST /auth/logout-all`: every session of the user, at the edge and in the store.
pub(super) async fn logout_all(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    let s = session_config(config)?;
    csrf_guard(&req)?;
    let auth = authenticate(&req, env, config).await?;
    let subject = auth.claims.sub.clone();
    let revoked_at_edge = revoke::revoke_user(env, config, &subject).await;
    let path = store_api::user_sessions_path(&subject);
    let store_result =
        store::call(env, config, StoreOp::Session, Method::Delete, &path, None).await;
    if let Err(f) = store_result {
        log::event("error", "logout_all", f.reason());
    }
    Ok(logged_out(
        config,
        s,
        serde_json::json!({
            "logged_out": true,
            "all_sessions": true,
            "revoked_at_edge": revoked_at_edge,
            "store_logged_out": store_result.is_ok(),
        }),
    ))
}

/// `GET /auth/session`: who am I, from the verified token.
pub(super) async fn whoami(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    let auth = authenticate(&req, env, config).await?;
    let c = &auth.claims;
    let mut reply = EdgeReply::json(serde_json::json!({
        "subject": c.sub,
        "session": auth.session_id.as_deref().map(short_id),
        "roles": c.roles,
        "amr": c.amr,
        "client_id": c.client_id,
        "scope": c.scope,
        "access_token_expires_at": c.exp,
        "issued_at": c.iat,
    }));
    reply.set_cookies = auth.set_cookies;
    Ok(reply)
}

/// A short, non-secret handle for a session id (the id itself is never sent to the browser).
fn short_id(session_id: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(session_id.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `GET /auth/sessions`: the user's sessions from the store.
pub(super) async fn sessions(
    req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    session_config(config)?;
    let auth = authenticate(&req, env, config).await?;
    let path = store_api::user_sessions_path(&auth.claims.sub);
    let reply = store::call(env, config, StoreOp::Session, Method::Get, &path, None)
        .await
        .map_err(|f| match f {
            // The user exists (the token says so); a 4xx here is not a session ending.
            StoreFailure::SessionGone => Rejection::store(StoreFailure::ServerError),
            other => Rejection::store(other),
        })?;
    let list: Vec<SessionInfo> = store_api::parse_success(&reply.body).map_err(Rejection::store)?;
    let current = auth.session_id.as_deref();
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": short_id(&i.session_id),
                "current": Some(i.session_id.as_str()) == current,
                "start_time": i.start_time,
                "expiration_time": i.expiration_time,
            })
        })
        .collect();
    let mut out = EdgeReply::json(serde_json::json!({ "sessions": items }));
    out.set_cookies = auth.set_cookies;
    Ok(out)
}
