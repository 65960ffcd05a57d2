//! The platform edge: the only code that touches `worker::*` (wasm32 only).
//!
//! `fetch` classifies the request, authenticates the caller with its ClientAccessToken, runs the
//! password KDF, routes the operation to the user's Durable Object ([`object::UserSessions`])
//! with one `fetch`, and signs the tokens it answers with. Errors become `{message,
//! error_code}`; internal detail goes to the log only, never a secret.

mod body;
mod object;

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use worker::{
    event, Context, Date, Env, Headers, Method, ObjectId, Request, RequestInit, Response,
};

use crate::api::{self, ApiError, Route, SessionInfo, TokenResponse};
use crate::config::Config;
use crate::ids;
use crate::password;
use crate::protocol::{Command, Envelope, Reply, MAX_REPLY_BYTES};
use crate::rules::{Issued, NewChain, Rejection};
use crate::time::{rfc3339, Millis};
use crate::tokens::Grant;

/// Name of the Durable Object binding.
const BINDING: &str = "USER_SESSIONS";

thread_local! {
    /// The configuration, parsed once per isolate (or the reason it could not be).
    static CONFIG: RefCell<Option<Result<Rc<Config>, String>>> = const { RefCell::new(None) };
}

fn config(env: &Env) -> Result<Rc<Config>, ApiError> {
    CONFIG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let loaded = slot.get_or_insert_with(|| {
            let get = |name: &str| -> Option<String> {
                env.var(name)
                    .map(|v| v.to_string())
                    .or_else(|_| env.secret(name).map(|s| s.to_string()))
                    .ok()
            };
            Config::from_lookup(&get)
                .map(Rc::new)
                .map_err(|e| e.to_string())
        });
        loaded.clone().map_err(|reason| {
            worker::console_error!("configuration error: {reason}");
            ApiError::Internal
        })
    })
}

/// Per-request counters, reported in `x-store-metrics` when `EXPOSE_METRICS=true`.
#[derive(Debug, Default)]
struct Metrics {
    do_calls: u32,
    sql: Option<String>,
}

fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
    worker::console_error!("{context}: {e}");
    ApiError::Internal
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let mut metrics = Metrics::default();
    let cacheable = matches!(
        req.url().ok().as_ref().map(|u| u.path()),
        Some("/oidc/jwks" | "/oidc/.well-known/openid-configuration")
    );
    let expose = config(&env).map(|c| c.expose_metrics).unwrap_or(false);
    let mut response = match handle(req, &env, &mut metrics).await {
        Ok(r) => r,
        Err(e) => error_response(&e)?,
    };
    let ok = response.status_code() == 200;
    let headers = response.headers_mut();
    let cache = if cacheable && ok {
        "public, max-age=300"
    } else {
        "no-store"
    };
    headers.set("cache-control", cache)?;
    headers.set("x-content-type-options", "nosniff")?;
    if expose {
        let sql = metrics.sql.unwrap_or_default();
        headers.set(
            "x-store-metrics",
            &format!(
                "do_calls={}{}{sql}",
                metrics.do_calls,
                if sql.is_empty() { "" } else { ";" }
            ),
        )?;
    }
    Ok(response)
}

fn error_response(e: &ApiError) -> worker::Result<Response> {
    let mut r = Response::ok(e.body())?.with_status(e.status());
    let h = r.headers_mut();
    h.set("content-type", "application/json")?;
    match e {
        ApiError::Unauthorized => h.set("www-authenticate", "Bearer")?,
        ApiError::InvalidClient => h.set("www-authenticate", "Basic")?,
        ApiError::MethodNotAllowed(allow) => h.set("allow", allow)?,
        _ => {}
    }
    Ok(r)
}

fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    Response::from_json(value).map_err(|e| internal("serialise", e))
}

fn now() -> Millis {
    i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX)
}

/// The request's `Content-Type` and body, read through the capped reader
/// ([`api::MAX_BODY_BYTES`]).
async fn body(req: &Request) -> Result<(Option<String>, Vec<u8>), ApiError> {
    let content_type = req.headers().get("content-type").ok().flatten();
    let bytes = body::read_request(req, api::MAX_BODY_BYTES).await?;
    Ok((content_type, bytes))
}

async fn parse<T: serde::de::DeserializeOwned + api::Validate>(
    req: &Request,
) -> Result<T, ApiError> {
    let (ct, bytes) = body(req).await?;
    api::parse_json(ct.as_deref(), &bytes)
}

async fn handle(req: Request, env: &Env, metrics: &mut Metrics) -> Result<Response, ApiError> {
    let url = req.url().map_err(|e| internal("url", e))?;
    let route = api::classify(req.method().as_ref(), url.path())?;
    let cfg = config(env)?;
    let now = now();
    if route.needs_client_token() {
        let header = req.headers().get("authorization").ok().flatten();
        let token = header
            .as_deref()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .ok_or(ApiError::Unauthorized)?;
        cfg.client_tokens
            .verify(token.trim(), now)
            .ok_or(ApiError::Unauthorized)?;
    }
    let ns = env
        .durable_object(BINDING)
        .map_err(|e| internal("durable object binding", e))?;
    match route {
        Route::ClientToken => {
            let (ct, bytes) = body(&req).await?;
            let creds = api::parse_token_form(ct.as_deref(), &bytes)?;
            if !cfg.client_matches(&creds.client_id, &creds.client_secret) {
                return Err(ApiError::InvalidClient);
            }
            json(&serde_json::json!({
                "access_token": cfg.client_tokens.issue(now, cfg.client_token_ttl_seconds),
                "token_type": "Bearer",
                "expires_in": cfg.client_token_ttl_seconds,
            }))
        }
        Route::PasswordAuthenticate => {
            let body: api::PasswordAuthenticate = parse(&req).await?;
            let audience = cfg
                .audience(body.resource.as_deref())
                .ok_or(ApiError::InvalidResource)?;
            // Same work for unknown users (dummy hash of equal cost) and wrong passwords.
            let (user, hash) = cfg.users.for_login(&body.username);
            let matches = password::verify(hash, &body.password);
            let user = match (user, matches) {
                (Some(u), true) => u,
                _ => return Err(ApiError::InvalidCredentials),
            };
            let id = ns
                .id_from_name(&user.user_id)
                .map_err(|e| internal("id_from_name", e))?;
            let hex = id.to_string();
            if let Some(existing) = &body.session_id {
                if ids::session_route(existing) != Some(hex.as_str()) {
                    return Err(ApiError::SessionNotFound);
                }
            }
            let new_session_id = ids::session_id(&hex, &random()?);
            let (refresh_token, chain) = new_chain(&hex, audience)?;
            let command = Command::Authenticate {
                user_id: user.user_id.clone(),
                method: "pwd".into(),
                existing: body.session_id.clone(),
                new_session_id,
                chain,
            };
            let reply = call(&id, &cfg, now, command, metrics).await?;
            tokens(&cfg, reply, refresh_token, now)
        }
        Route::SessionAuthenticate => {
            let body: api::SessionAuthenticate = parse(&req).await?;
            let audience = cfg
                .audience(body.resource.as_deref())
                .ok_or(ApiError::InvalidResource)?;
            let (id, hex) = route_to(&ns, ids::session_route(&body.session_id))
                .ok_or(ApiError::SessionNotFound)?;
            let (refresh_token, chain) = new_chain(&hex, audience)?;
            let command = Command::SessionAuthenticate {
                session_id: body.session_id,
                chain,
            };
            let reply = call(&id, &cfg, now, command, metrics).await?;
            tokens(&cfg, reply, refresh_token, now)
        }
        Route::Refresh => {
            let body: api::Refresh = parse(&req).await?;
            let (id, hex) = route_to(&ns, ids::refresh_route(&body.refresh_token))
                .ok_or(ApiError::InvalidRefreshToken)?;
            let refresh_token = ids::refresh_token(&hex, &random()?);
            let command = Command::Refresh {
                presented_hash: ids::token_hash(&body.refresh_token),
                refresh_hash: ids::token_hash(&refresh_token),
            };
            let reply = call(&id, &cfg, now, command, metrics).await?;
            tokens(&cfg, reply, refresh_token, now)
        }
        Route::Logout => {
            let body: api::Logout = parse(&req).await?;
            let (id, _) = route_to(&ns, ids::session_route(&body.session_id))
                .ok_or(ApiError::SessionNotFound)?;
            let command = Command::Logout {
                session_id: body.session_id,
            };
            match call(&id, &cfg, now, command, metrics).await? {
                Reply::Done { .. } => no_content(),
                other => Err(unexpected(other)),
            }
        }
        Route::ListSessions(user_id) | Route::RevokeSessions(user_id) => {
            let user = cfg.users.by_id(&user_id).ok_or(ApiError::UserNotFound)?;
            let id = ns
                .id_from_name(&user.user_id)
                .map_err(|e| internal("id_from_name", e))?;
            let list = req.method() != Method::Delete;
            let command = if list {
                Command::List
            } else {
                Command::RevokeAll
            };
            match call(&id, &cfg, now, command, metrics).await? {
                Reply::Sessions { sessions } => json(
                    &sessions
                        .iter()
                        .map(|s| SessionInfo {
                            session_id: s.id.clone(),
                            start_time: rfc3339(s.created_at),
                            expiration_time: rfc3339(s.expires_at),
                        })
                        .collect::<Vec<_>>(),
                ),
                Reply::Done { .. } => no_content(),
                other => Err(unexpected(other)),
            }
        }
        Route::Jwks => json(&cfg.keys.jwks()),
        Route::Discovery => {
            let origin = url.origin().ascii_serialization();
            json(&serde_json::json!({
                "issuer": cfg.issuer,
                "jwks_uri": format!("{origin}/oidc/jwks"),
                "token_endpoint": format!("{origin}/oidc/token"),
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": [cfg.keys.current.alg()],
                "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "amr", "sid", "roles", "scope", "client_id", "jti"],
            }))
        }
    }
}

fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()
        .map_err(|e| internal("response", e))?
        .with_status(204))
}

fn unexpected(reply: Reply) -> ApiError {
    match reply {
        Reply::Rejected { rejection } => rejected(rejection),
        _ => internal("durable object", "unexpected reply"),
    }
}

fn rejected(r: Rejection) -> ApiError {
    match r {
        Rejection::SessionNotFound => ApiError::SessionNotFound,
        Rejection::InvalidRefreshToken => ApiError::InvalidRefreshToken,
        Rejection::RefreshTokenExpired => ApiError::RefreshTokenExpired,
        Rejection::RefreshTokenReused => ApiError::RefreshTokenReused,
    }
}

fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    ids::random::<N>().map_err(|e| internal("getrandom", e))
}

/// A fresh refresh token for the object `hex` and the chain it starts.
fn new_chain(hex: &str, audience: &str) -> Result<(String, NewChain), ApiError> {
    let token = ids::refresh_token(hex, &random()?);
    let chain = NewChain {
        refresh_hash: ids::token_hash(&token),
        audience: audience.to_string(),
    };
    Ok((token, chain))
}

/// The object a well-formed id routes to (`None` for ids of no object of this namespace).
fn route_to<'a>(
    ns: &'a worker::ObjectNamespace,
    hex: Option<&str>,
) -> Option<(ObjectId<'a>, String)> {
    let hex = hex?;
    let id = ns.id_from_string(hex).ok()?;
    Some((id, hex.to_string()))
}

/// One request to a user's Durable Object.
async fn call(
    id: &ObjectId<'_>,
    cfg: &Config,
    now: Millis,
    command: Command,
    metrics: &mut Metrics,
) -> Result<Reply, ApiError> {
    let envelope = Envelope {
        policy: cfg.policy,
        now,
        command,
    };
    let body = serde_json::to_string(&envelope).map_err(|e| internal("envelope", e))?;
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(|e| internal("headers", e))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let req = Request::new_with_init("https://user-sessions.internal/op", &init)
        .map_err(|e| internal("request", e))?;
    let stub = id.get_stub().map_err(|e| internal("stub", e))?;
    metrics.do_calls += 1;
    let resp = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| internal("durable object fetch", e))?;
    metrics.sql = resp.headers().get("x-sql").ok().flatten();
    if resp.status_code() != 200 {
        return Err(internal("durable object", resp.status_code()));
    }
    let reply = body::read_response(&resp, MAX_REPLY_BYTES)
        .await
        .map_err(|e| internal("durable object reply", e.code()))?;
    serde_json::from_slice::<Reply>(&reply).map_err(|e| internal("durable object reply", e))
}

/// Signs the access and ID tokens for an issued session.
fn tokens(
    cfg: &Config,
    reply: Reply,
    refresh_token: String,
    now: Millis,
) -> Result<Response, ApiError> {
    let Issued {
        session,
        audience,
        ended_sessions,
        ..
    } = match reply {
        Reply::Issued(i) => i,
        other => return Err(unexpected(other)),
    };
    if ended_sessions > 0 {
        // No ids in logs; the edge is not told (its KV revocation does not learn of these).
        worker::console_log!("session cap: {ended_sessions} oldest session(s) of the user ended");
    }
    let user = cfg
        .users
        .by_id(&session.user_id)
        .ok_or(ApiError::UserNotFound)?;
    let grant = Grant {
        issuer: &cfg.issuer,
        client_id: &cfg.client_id,
        user_id: &session.user_id,
        session_id: &session.id,
        audience: &audience,
        roles: &user.roles,
        scope: &cfg.scope,
        auth_time: session.auth_time,
        amr: &session.amr,
        now,
        ttl_seconds: cfg.access_token_ttl_seconds,
    };
    let (jti_at, jti_id) = (ids::jti(&random()?), ids::jti(&random()?));
    let key = &cfg.keys.current;
    let sign_err = |e| internal("sign", e);
    let access_token = key
        .sign("at+jwt", &grant.access_claims(&jti_at))
        .map_err(sign_err)?;
    let id_token = key
        .sign("JWT", &grant.id_claims(&jti_id))
        .map_err(sign_err)?;
    json(&TokenResponse {
        access_token,
        id_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: cfg.access_token_ttl_seconds,
        session_id: session.id,
    })
}
