//! The gate, sans I/O: a request's facts in, its next step out.
//!
//! In the manner of rustls' `process_new_packets` (bytes in, state out, the caller does the
//! I/O) and pingora's `ProxyHttp` (named phases over one request's context). The adapter reads
//! the request into [`Facts`] and asks, phase by phase:
//!
//! 1. **classify** ([`classify`]): method, request target, route. Public routes forward at
//!    once; the edge's own routes become an [`EdgeOp`] ([`edge_op`], which also runs the CSRF
//!    rule of the edge's `POST`s).
//! 2. **authenticate** ([`Authentication`]): what the request presents, the token's
//!    verification, the revocation answers, a transparent refresh through the session. The
//!    machine says what it needs next ([`Next`]); the adapter performs that I/O and resumes it
//!    with the [`Answer`].
//! 3. **authorize**: the CSRF rule for cookie-carried unsafe requests, then the route policy
//!    of the path and method ([`crate::policy`]), inside the same machine after authentication,
//!    so both paths run them in one place and order.
//! 4. **forward**: the adapter builds the upstream request from the [`Authenticated`] identity
//!    with [`crate::forward`]'s rules.
//! 5. **finalize**: [`crate::cache_policy`] for answers that pass; [`refusal`] for the edge's
//!    own refusals.
//!
//! The fast path runs the same machine on the isolate's caches and gives up at the first need
//! its caches cannot answer; it never refuses (a refusal is the full path's to give and log).

use crate::cache_policy::ResponseKind;
use crate::config::EdgeConfig;
use crate::cookies;
use crate::csrf::{self, CsrfVerdict};
use crate::policy;
use crate::rejection::{is_navigation, Reason, Rejection};
use crate::route::{self, AuthRoute, Handle, Route};
use crate::session_cookie::ClientProps;
use crate::target::{self, Target, TargetError};

mod authenticate;
mod login;
mod otp_send;
mod steps;

pub use authenticate::{
    Answer, Authenticated, Authentication, Mode, Next, Refreshed, VerifyFailure,
};
pub use login::{LoggedIn, Login, LoginAnswer, LoginNext};
pub use otp_send::{OtpSend, SendAnswer, SendNext, SEND_PATH};
pub use steps::{access_cookie_header, judge_revocation, Note};

/// What the adapter read of one request: the method as the runtime gives it, the URL, and
/// the headers the decisions use. Headers the adapter did not read are `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    /// The request method, as sent (`PROPFIND` stays `PROPFIND`).
    pub method: &'a str,
    /// The request URL as the runtime hands it over.
    pub url: &'a str,
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `Cookie`.
    pub cookie: Option<&'a str>,
    /// `User-Agent` (read when the session cookie binds to it).
    pub user_agent: Option<&'a str>,
    /// `CF-Connecting-IP` (read when the session cookie binds to it).
    pub connecting_ip: Option<&'a str>,
    /// `Sec-Fetch-Site`.
    pub sec_fetch_site: Option<&'a str>,
    /// `Sec-Fetch-Mode`.
    pub sec_fetch_mode: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Accept`.
    pub accept: Option<&'a str>,
    /// `Content-Type`.
    pub content_type: Option<&'a str>,
    /// `Upgrade` (read for `GET`s: a WebSocket handshake).
    pub upgrade: Option<&'a str>,
}

impl<'a> Facts<'a> {
    /// The client properties the session cookie binds to.
    pub fn client(&self) -> ClientProps<'a> {
        ClientProps {
            user_agent: self.user_agent,
            ip: self.connecting_ip,
        }
    }

    /// Whether the request is a browser navigation (a 401 becomes a redirect to the login
    /// page).
    pub fn navigation(&self) -> bool {
        is_navigation(self.method, self.sec_fetch_mode, self.accept)
    }

    /// Whether the request opens a WebSocket ([`crate::forward::is_websocket_upgrade`]).
    pub fn websocket(&self) -> bool {
        crate::forward::is_websocket_upgrade(self.method, self.upgrade)
    }

    /// The CSRF rule for this request (safe methods pass, a WebSocket handshake does not).
    pub fn csrf(&self) -> Result<(), Rejection> {
        match csrf::check_request(
            self.method,
            self.websocket(),
            self.url,
            self.sec_fetch_site,
            self.origin,
        ) {
            CsrfVerdict::Allow => Ok(()),
            CsrfVerdict::Refuse(why) => Err(Rejection::new(Reason::Csrf(why))),
        }
    }
}

/// Which client-property headers the adapter must read for this configuration (`User-Agent`,
/// `CF-Connecting-IP`): only those the session cookie binds to.
pub fn client_headers_needed(config: &EdgeConfig) -> (bool, bool) {
    match &config.session {
        Some(s) => (
            s.binding.user_agent,
            s.binding.ip != crate::session_cookie::IpBinding::Off,
        ),
        None => (false, false),
    }
}

/// A classified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The parsed target: the path classified is the path forwarded.
    pub target: Target,
    /// Public, protected, or one of the edge's routes.
    pub route: Route,
}

/// Phase 1, classify: the methods the edge forwards, a target it can classify, the route.
pub fn classify(config: &EdgeConfig, facts: &Facts<'_>) -> Result<Classified, Rejection> {
    // Methods the runtime does not know (workers-rs would read PROPFIND as GET) and
    // TRACE/CONNECT are not requests for a resource (see `route::METHODS`).
    if !route::is_allowed_method(facts.method) {
        return Err(Rejection::new(Reason::MethodNotAllowed));
    }
    let target = target::parse(facts.url).map_err(|e| Rejection::new(Reason::Target(e)))?;
    let route = route::classify(
        facts.method,
        target.path(),
        &config.auth_prefix,
        &config.public_paths,
    );
    // The rule deciding a protected path must decide its lenient reading too: an upstream
    // that collapses `//`, decodes `%61` or cuts `;x` would otherwise serve a policed path
    // under a rule the edge never applied.
    if route == Route::Protected && !config.policies.is_empty() {
        let rule = |path: &str| config.policies.find(facts.method, path).map(|(i, _)| i);
        let lenient = target::lenient_reading(target.path());
        if lenient.is_none_or(|l| rule(&l) != rule(target.path())) {
            return Err(Rejection::new(Reason::Target(TargetError::AmbiguousPolicy)));
        }
    }
    Ok(Classified { target, route })
}

/// One of the edge's own operations, ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeOp {
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/refresh` with the session cookie.
    RefreshSession,
    /// `POST /auth/refresh` from an API client holding a refresh token (no cookies, JSON).
    RefreshGrant,
    /// `POST /auth/logout`.
    Logout,
    /// `POST /auth/logout-all`.
    LogoutAll,
    /// `GET /auth/session`.
    WhoAmI,
    /// `GET /auth/sessions`.
    Sessions,
    /// `GET /auth/jwks` (with an assertion key configured).
    Jwks,
    /// `DELETE /auth/sessions/{handle}`: "log out other devices".
    EndSession(Handle),
    /// `POST /auth/revocations`: the revocation webhook.
    Revocations,
    /// `POST /auth/otp/send`.
    OtpSend,
}

/// The edge route `op` as an operation: unknown routes and wrong methods refused, session
/// routes only with sessions configured, the key set only with an assertion key, the webhook
/// only with its secret, the CSRF rule on every `POST` and `DELETE` but the refresh-token
/// grant and the webhook (which carry no ambient credential: a refresh token in the body, a
/// signature over the body).
pub fn edge_op(config: &EdgeConfig, op: AuthRoute, facts: &Facts<'_>) -> Result<EdgeOp, Rejection> {
    let op = match op {
        AuthRoute::Unknown { wrong_method: true } => {
            return Err(Rejection::new(Reason::MethodNotAllowed))
        }
        AuthRoute::Unknown {
            wrong_method: false,
        } => return Err(Rejection::new(Reason::NoRoute)),
        AuthRoute::Login => EdgeOp::Login,
        AuthRoute::Refresh => {
            let json = facts
                .content_type
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
            if facts.cookie.is_none() && json {
                EdgeOp::RefreshGrant
            } else {
                EdgeOp::RefreshSession
            }
        }
        AuthRoute::Logout => EdgeOp::Logout,
        AuthRoute::LogoutAll => EdgeOp::LogoutAll,
        AuthRoute::Session => EdgeOp::WhoAmI,
        AuthRoute::Sessions => EdgeOp::Sessions,
        AuthRoute::Jwks if config.assertion.is_some() => return Ok(EdgeOp::Jwks),
        AuthRoute::Jwks => return Err(Rejection::new(Reason::NoRoute)),
        AuthRoute::EndSession(h) => EdgeOp::EndSession(h),
        AuthRoute::Revocations if config.webhook.enabled() => return Ok(EdgeOp::Revocations),
        AuthRoute::Revocations => return Err(Rejection::new(Reason::NoRoute)),
        AuthRoute::OtpSend => EdgeOp::OtpSend,
    };
    if config.session.is_none() && op != EdgeOp::WhoAmI {
        return Err(Rejection::new(Reason::NoRoute));
    }
    if op != EdgeOp::RefreshGrant {
        facts.csrf()?;
    }
    Ok(op)
}

/// An answer of the edge's own, ready for the adapter to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Headers besides the cache headers (added at finalize) and `Set-Cookie`.
    pub headers: Vec<(&'static str, String)>,
    /// The body (JSON, or empty for a redirect).
    pub body: String,
    /// `Set-Cookie` values.
    pub set_cookies: Vec<String>,
    /// How finalize treats it.
    pub kind: ResponseKind,
}

impl Reply {
    /// A 200 JSON answer.
    pub fn json(body: &serde_json::Value, set_cookies: Vec<String>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string(),
            set_cookies,
            kind: ResponseKind::Edge,
        }
    }
}

/// `Set-Cookie` values that delete both edge cookies (none without sessions).
pub fn cleared_cookies(config: &EdgeConfig) -> Vec<String> {
    match &config.session {
        Some(s) => vec![
            cookies::clear_cookie(&config.access_cookie, &s.cookies),
            cookies::clear_cookie(&config.session_cookie, &s.cookies),
        ],
        None => Vec::new(),
    }
}

/// The answer for a refusal: the generic JSON body with its challenge and `Retry-After`; the
/// edge's cookies cleared when the session is gone; for a browser navigation (a 401 with
/// sessions on), a 303 instead: to the step-up page when a route policy asks for a new
/// authentication (with `target`, the request's, to return to), else to the login page.
/// `config` is `None` when the configuration itself is invalid.
pub fn refusal(
    config: Option<&EdgeConfig>,
    r: &Rejection,
    navigation: bool,
    target: Option<&Target>,
) -> Reply {
    let session = config.and_then(|c| c.session.as_ref().map(|s| (c, s)));
    let set_cookies = match session {
        Some((c, _)) if r.clear_session => cleared_cookies(c),
        _ => Vec::new(),
    };
    if let (true, 401, Some((_, s))) = (navigation, r.status, session) {
        let location = match r.reason {
            Reason::Policy(_) => {
                policy::step_up_location(&s.step_up_path, target.map(Target::path_and_query))
            }
            _ => s.login_path.clone(),
        };
        return Reply {
            status: 303,
            headers: vec![("location", location)],
            body: String::new(),
            set_cookies,
            kind: ResponseKind::Edge,
        };
    }
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(challenge) = &r.www_authenticate {
        headers.push(("www-authenticate", challenge.clone()));
    }
    if let Some(after) = r.retry_after {
        headers.push(("retry-after", after.to_string()));
    }
    Reply {
        status: r.status,
        headers,
        body: r.body(),
        set_cookies,
        kind: ResponseKind::Edge,
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod tests_support;
