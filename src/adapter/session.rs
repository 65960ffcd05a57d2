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
use crate::binding::{self, BindingError, ClientProps, SessionCookie};
use crate::challenge::Rejection;
use crate::config::{EdgeConfig, SessionConfig};
use crate::cookies;
use crate::credentials::{self, Credential};
use crate::csrf::{self, CsrfVerdict};
use crate::store_api::{self, SessionInfo, StoreFailure, StoreOp};
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

/// The bound session cookie of this request, if present and valid for this client.
fn read_session(req: &Request, config: &EdgeConfig, client: &Client) -> Option<SessionCookie> {
    let header = cookie_header(req)?;
    match open_session(config, Some(&header), &client.props())? {
        Ok(cookie) => Some(cookie),
        Err(e) => {
            log::event("info", "authenticate", e.reason());
            None
        }
    }
}

/// Opens the session cookie in `cookie_header` for a client with `props`: `None` when sessions
/// are off or the cookie is absent (or ambiguous), else whether it verifies. Logs nothing.
pub(super) fn open_session(
    config: &EdgeConfig,
    cookie_header: Option<&str>,
    props: &ClientProps<'_>,
) -> Option<Result<SessionCookie, BindingError>> {
    let session = config.session.as_ref()?;
    let value = credentials::find_cookie(cookie_header, &config.session_cookie)
        .ok()
        .flatten()?;
    Some(binding::open(
        &session.binding_keys,
        &session.binding,
        value,
        props,
    ))
}

/// Authenticate + authorize: a valid, unrevoked access token, refreshed when the session
/// allows.
pub(super) async fn authenticate(
    req: &Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<Authenticated, Rejection> {
    let headers = req.headers();
    let authorization = headers.get("authorization").ok().flatten();
    let cookie = cookie_header(req);
    let credential = credentials::extract(
        authorization.as_deref(),
        cookie.as_deref(),
        &config.access_cookie,
    )
    .map_err(|e| Rejection::invalid_request(e.reason()))?;
    let client = Client::of(req);
    let session = match credential {
        Credential::Bearer(_) => None,
        _ => read_session(req, config, &client),
    };
    // With sessions, a cookie-carried access token counts only together with its bound
    // session cookie: a copied or replayed access cookie alone (another User-Agent, after
    // logout when the token has no `sid`) is refused, and cookies stay revocable.
    if matches!(credential, Credential::Cookie(_)) && config.session.is_some() && session.is_none()
    {
        return Err(Rejection::session_ended("access_cookie_without_session"));
    }
    let token = match credential {
        Credential::Bearer(t) | Credential::Cookie(t) => t,
        Credential::None => {
            return match session {
                Some(s) => refresh(env, config, &client, s).await,
                None => Err(Rejection::missing_token()),
            }
        }
    };
    match verify_token(token, env, config, &config.policy, true).await {
        Ok(claims) => {
            if let (Some(sid), Some(s)) = (&claims.sid, &session) {
                if *sid != s.session_id || claims.sub != s.subject {
                    return Err(Rejection::invalid_token(&TokenError::MalformedClaims(
                        "token and session cookie disagree".into(),
                    )));
                }
            }
            let session_id = claims
                .sid
                .clone()
                .or_else(|| session.as_ref().map(|s| s.session_id.clone()));
            revoke::check(env, config, &claims.sub, session_id.as_deref(), claims.iat).await?;
            Ok(Authenticated {
                claims,
                session_id,
                set_cookies: Vec::new(),
                bearer: matches!(credential, Credential::Bearer(_)),
            })
        }
        Err(VerifyFailure::Token(TokenError::Expired { .. })) if session.is_some() => {
            let Some(s) = session else {
                return Err(Rejection::missing_token());
            };
            refresh(env, config, &client, s).await
        }
        Err(failure) => Err(failure.rejection()),
    }
}

/// A finished session authenticate.
struct Refreshed {
    access_token: String,
    claims: Arc<VerifiedClaims>,
    at: i64,
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

/// New access token for `session` via session authenticate, shared by the session's
/// concurrent requests in this isolate: the first request calls the store, the others wait
/// for its result ([`wait_for`]).
async fn refresh(
    env: &Env,
    config: &Rc<EdgeConfig>,
    client: &Client,
    session: SessionCookie,
) -> Result<Authenticated, Rejection> {
    let session_cfg = config
        .session
        .as_ref()
        .ok_or_else(Rejection::missing_token)?;
    // A revoked session is not refreshed, whatever the store says.
    revoke::check(
        env,
        config,
        &session.subject,
        Some(&session.session_id),
        i64::MAX,
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
    let cookie = cookies::set_cookie(
        &config.access_cookie,
        &refreshed.access_token,
        &session_cfg.cookies,
        Some(now.saturating_add(session_cfg.session_max_secs)),
        now,
    )
    .map_err(|_| Rejection::store(StoreFailure::Malformed))?;
    Ok(Authenticated {
        claims: Arc::clone(&refreshed.claims),
        session_id: Some(sid),
        set_cookies: vec![cookie],
        bearer: false,
    })
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
) -> Result<(store_api::ApiTokenResponse, Arc<VerifiedClaims>), Rejection> {
    let reply = store::call(env, config, op, Method::Post, path, Some(body))
        .await
        .map_err(Rejection::store)?;
    let tokens = store_api::parse_tokens(&reply.body, need_session).map_err(Rejection::store)?;
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
    if bytes.len() > MAX_LOGIN_BODY_BYTES {
        return Err(Rejection::bad_body("body_too_large"));
    }
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

fn random_nonce() -> Result<[u8; 16], Rejection> {
    let mut nonce = [0u8; 16];
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

/// `POST /auth/login`.
pub(super) async fn login(
    mut req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    let s = session_config(config)?;
    csrf_guard(&req)?;
    let client = Client::of(&req);
    let step_up = read_session(&req, config, &client);
    let creds = read_login(&mut req).await?;
    let body = store_api::password_body(
        &creds.username,
        &creds.password,
        step_up.as_ref().map(|c| c.session_id.as_str()),
        s.resource.as_deref(),
        &client.props(),
    );
    drop(creds);
    let (tokens, claims) = store_tokens(
        env,
        config,
        StoreOp::Login,
        "/v1/auth/password/authenticate",
        body,
        true,
        "login",
    )
    .await?;
    let session_id = tokens.session_id.clone().unwrap_or_default();
    if let Some(prev) = &step_up {
        // A step-up must stay with the same user and session; otherwise mint nothing.
        if prev.subject != claims.sub || prev.session_id != session_id {
            return Err(Rejection::forbidden("step_up_other_user"));
        }
    }
    if let Some(sid) = &claims.sid {
        if *sid != session_id {
            return Err(Rejection::store(StoreFailure::Malformed));
        }
    }
    let amr = match &tokens.id_token {
        Some(id_token) => {
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
        None => claims.amr.clone(),
    };
    let now = now_secs();
    let session_expires = now.saturating_add(s.session_max_secs);
    let sealed = binding::seal(
        &s.binding_keys,
        &s.binding,
        &SessionCookie {
            session_id: session_id.clone(),
            subject: claims.sub.clone(),
        },
        &client.props(),
        &random_nonce()?,
    )
    .ok_or_else(|| Rejection::store(StoreFailure::Malformed))?;
    let set_cookies = vec![
        cookies::set_cookie(
            &config.access_cookie,
            &tokens.access_token,
            &s.cookies,
            Some(session_expires),
            now,
        ),
        cookies::set_cookie(
            &config.session_cookie,
            &sealed,
            &s.cookies,
            Some(session_expires),
            now,
        ),
    ]
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(|_| Rejection::store(StoreFailure::Malformed))?;
    let mut reply = EdgeReply::json(serde_json::json!({
        "authenticated": true,
        "subject": claims.sub,
        "roles": claims.roles,
        "amr": amr,
        "access_token_expires_at": claims.exp,
        "step_up": step_up.is_some(),
    }));
    reply.set_cookies = set_cookies;
    log::event(
        "info",
        "login",
        if step_up.is_some() {
            "step_up"
        } else {
            "login"
        },
    );
    Ok(reply)
}

/// `POST /auth/refresh`: session authenticate for the current session.
pub(super) async fn refresh_route(
    mut req: Request,
    env: &Env,
    config: &Rc<EdgeConfig>,
) -> Result<EdgeReply, Rejection> {
    session_config(config)?;
    let client = Client::of(&req);
    let has_cookies = cookie_header(&req).is_some();
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
    let session = read_session(&req, config, &client)
        .ok_or_else(|| Rejection::session_ended("no_session"))?;
    let auth = refresh(env, config, &client, session).await?;
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
    if bytes.len() > MAX_LOGIN_BODY_BYTES {
        return Err(Rejection::bad_body("body_too_large"));
    }
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
    revoke::check(env, config, &claims.sub, claims.sid.as_deref(), claims.iat).await?;
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

/// The session id (`sid`) of the request's access token (header or cookie), if the token is
/// valid and carries one.
async fn session_of_access_token(req: &Request, env: &Env, config: &EdgeConfig) -> Option<String> {
    let authorization = req.headers().get("authorization").ok().flatten();
    let cookie = cookie_header(req);
    let credential = credentials::extract(
        authorization.as_deref(),
        cookie.as_deref(),
        &config.access_cookie,
    )
    .ok()?;
    let token = credential.token()?;
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
    // The session: from the bound session cookie, else from the `sid` of a valid access
    // token (the session cookie no longer verifies, e.g. after a browser update changed the
    // User-Agent, or was lost): that token and its session must end too.
    let session_id = match read_session(&req, config, &client) {
        Some(s) => Some(s.session_id),
        None => session_of_access_token(&req, env, config).await,
    };
    let mut revoked_at_edge = false;
    let mut store_logged_out = false;
    if let Some(session_id) = &session_id {
        // Edge first: from this moment this isolate refuses the session, and other
        // locations as soon as KV propagates.
        revoked_at_edge = revoke::revoke_session(env, config, session_id).await;
        let result = store::call(
            env,
            config,
            StoreOp::Session,
            Method::Post,
            "/v1/auth/session/logout",
            Some(store_api::logout_body(session_id)),
        )
        .await;
        store_logged_out = match result {
            Ok(_) | Err(StoreFailure::SessionGone) => true,
            Err(f) => {
                log::event("error", "logout", f.reason());
                false
            }
        };
        if !revoked_at_edge {
            log::event("error", "logout", "kv_write_failed");
        }
    }
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
