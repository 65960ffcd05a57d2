//! The platform edge: the only code that touches `worker::*` (wasm32 only).
//!
//! `fetch` classifies the request, authenticates the caller with its ClientAccessToken, runs the
//! password KDF, routes the operation to the user's Durable Object ([`object::UserSessions`])
//! with one `fetch`, and signs the tokens it answers with. Errors become `{message,
//! error_code}`; internal detail goes to the log only, never a secret.

mod body;
mod durable;
mod log;
mod object;
mod revocations;
mod routes;

use std::cell::RefCell;
use std::rc::Rc;

use edge_session_protocol::paths;
use serde::Serialize;
use worker::{event, Context, Date, Env, Request, Response};

use crate::api::{self, ApiError, Route};
use crate::audit::{Level, Seen};
use crate::config::Config;
use crate::envelope::Command;
use crate::metrics::Metrics;
use crate::time::Millis;

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
        loaded.clone().map_err(|problem| {
            log::line(
                Level::Error,
                "config",
                "config_invalid",
                &[("problem", log::Field::Str(&problem))],
            );
            ApiError::Internal
        })
    })
}

/// Logs an internal failure (`context`: what was being done; `e`: the runtime's or our own
/// error, never a parser's message about a request body) and answers 500.
fn internal(context: &'static str, e: impl std::fmt::Display) -> ApiError {
    log::line(
        Level::Error,
        "internal",
        "internal_error",
        &[
            ("context", log::Field::Str(context)),
            ("cause", log::Field::Str(&log::cause(&e))),
        ],
    );
    ApiError::Internal
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let request_id = log::request_id_of(
        header("x-request-id").as_deref(),
        header("cf-ray").as_deref(),
    );
    log::scoped(request_id, serve(req, env)).await
}

/// The request under its request id ([`log::scoped`]).
async fn serve(req: Request, env: Env) -> worker::Result<Response> {
    let mut metrics = Metrics::default();
    let cacheable = matches!(
        req.url().ok().as_ref().map(|u| u.path()),
        Some(paths::JWKS | paths::DISCOVERY)
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
        headers.set("x-store-metrics", &metrics.header())?;
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
    if let Some(secs) = e.retry_after() {
        h.set("retry-after", &secs.to_string())?;
    }
    Ok(r)
}

fn json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    Response::from_json(value).map_err(|e| internal("serialise", e))
}

fn no_content() -> Result<Response, ApiError> {
    Ok(Response::empty()
        .map_err(|e| internal("response", e))?
        .with_status(204))
}

fn now() -> Millis {
    i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX)
}

/// Checks `Authorization: Bearer <ClientAccessToken>`.
fn authorize(req: &Request, cfg: &Config, now: Millis) -> Result<(), ApiError> {
    let header = req.headers().get("authorization").ok().flatten();
    let token = crate::request::bearer_token(header.as_deref()).ok_or(ApiError::Unauthorized)?;
    cfg.client_tokens
        .verify(token, now)
        .ok_or(ApiError::Unauthorized)?;
    Ok(())
}

/// What a route's steps work with: the environment, the configuration, the clock read once,
/// the user objects' namespace, the request's counters, and what the route learns for its
/// audit line.
struct Cx<'a> {
    env: &'a Env,
    cfg: &'a Config,
    now: Millis,
    ns: &'a worker::ObjectNamespace,
    metrics: &'a mut Metrics,
    seen: Seen,
}

/// Classifies, authorizes, and runs the route's steps ([`routes`]); writes the route's audit
/// line ([`crate::audit::audit`]).
async fn handle(req: Request, env: &Env, metrics: &mut Metrics) -> Result<Response, ApiError> {
    let url = req.url().map_err(|e| internal("url", e))?;
    let route = api::classify(req.method().as_ref(), url.path())?;
    let cfg = config(env)?;
    let now = now();
    let ns = env
        .durable_object(BINDING)
        .map_err(|e| internal("durable object binding", e))?;
    let mut cx = Cx {
        env,
        cfg: &cfg,
        now,
        ns: &ns,
        metrics,
        seen: Seen {
            // The caller's address; a route that carries the end user's replaces it.
            client_ip: req.headers().get("cf-connecting-ip").ok().flatten(),
            ..Seen::default()
        },
    };
    if let Route::RevokeSessions(user_id) = &route {
        cx.seen.subject = Some(user_id.clone());
    }
    let authorized = if route.needs_client_token() {
        authorize(&req, &cfg, now)
    } else {
        Ok(())
    };
    let result = match authorized {
        Ok(()) => run(&route, &req, &url, &mut cx).await,
        Err(e) => Err(e),
    };
    if let Some(a) = crate::audit::audit(&route, result.as_ref().map(|_| ()), &cx.seen) {
        log::audit(&a, cx.seen.client_ip.as_deref());
    }
    result
}

/// Runs the route's steps.
async fn run(
    route: &Route,
    req: &Request,
    url: &worker::Url,
    cx: &mut Cx<'_>,
) -> Result<Response, ApiError> {
    let cfg = cx.cfg;
    match route {
        Route::ClientToken => routes::client_token(req, cx).await,
        Route::PasswordAuthenticate => routes::password_authenticate(req, cx).await,
        Route::TotpAuthenticate => routes::totp_authenticate(req, cx).await,
        Route::OtpSend => routes::otp_send(req, cx).await,
        Route::OtpAuthenticate => routes::otp_authenticate(req, cx).await,
        Route::DevMailbox(user_id) => routes::dev_mailbox(cx, user_id).await,
        Route::SessionAuthenticate => routes::session_authenticate(req, cx).await,
        Route::Refresh => routes::refresh(req, cx).await,
        Route::Logout => routes::logout(req, cx).await,
        Route::ListSessions(user_id) => routes::user_sessions(cx, user_id, Command::List).await,
        Route::RevokeSessions(user_id) => {
            routes::user_sessions(cx, user_id, Command::RevokeAll).await
        }
        Route::Jwks => json(&cfg.keys.jwks()),
        Route::Discovery => routes::discovery(cfg, url),
    }
}
