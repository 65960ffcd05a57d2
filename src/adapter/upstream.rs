//! Forward: the request to the upstream with the edge's cookies and client identity headers
//! removed and the verified identity added.

use worker::{Env, Headers, Method, Request, RequestInit, RequestRedirect, Response};

use super::finalize;
use super::outbound::{self, OutboundError, Peer};
use crate::cache_policy::ResponseKind;
use crate::challenge::Rejection;
use crate::config::EdgeConfig;
use crate::forward;
use crate::token::{TokenError, VerifiedClaims};

/// How long the upstream may take to start answering.
const UPSTREAM_TIMEOUT_MS: u32 = 30_000;

/// Request headers that describe one hop, or that the edge rebuilds, and are not forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "cookie",
];

/// Forwards `req` (with `identity` when authenticated) and finalizes the response.
pub(super) async fn forward(
    req: Request,
    env: &Env,
    config: &EdgeConfig,
    identity: Option<(&VerifiedClaims, Option<String>)>,
    set_cookies: &[String],
) -> Result<Response, Rejection> {
    // The target: the configured origin plus the request's path and query exactly as the
    // runtime normalised them (no URL re-parse on the hot path).
    let raw_url = req.inner().url();
    let path_and_query = raw_url
        .find("://")
        .and_then(|i| raw_url[i + 3..].find('/').map(|j| &raw_url[i + 3 + j..]))
        .unwrap_or("/");
    let path_and_query = path_and_query
        .split_once('#')
        .map_or(path_and_query, |(p, _)| p);
    let target = format!(
        "{}{}",
        config.upstream.as_str().trim_end_matches('/'),
        path_and_query
    );

    // Copy the headers in one runtime call, then drop what must not pass.
    let headers = web_sys::Headers::new_with_headers(req.inner().headers().as_ref())
        .map(Headers)
        .map_err(|_| Rejection::invalid_request("bad_header"))?;
    let drop: Vec<String> = headers
        .keys()
        .filter(|name| HOP_BY_HOP.contains(&name.as_str()) || forward::is_identity_header(name))
        .collect();
    for name in drop {
        headers
            .delete(&name)
            .map_err(|_| Rejection::invalid_request("bad_header"))?;
    }
    if let Some(cookie) = req.headers().get("cookie").ok().flatten() {
        let edge = [
            config.access_cookie.as_str(),
            config.session_cookie.as_str(),
        ];
        if let Some(kept) = forward::strip_edge_cookies(&cookie, &edge) {
            headers
                .set("cookie", &kept)
                .map_err(|_| Rejection::invalid_request("bad_cookie"))?;
        }
    }
    let kind = match identity {
        Some((claims, session_id)) => {
            let identity =
                forward::identity_headers(claims, session_id.as_deref()).map_err(|_| {
                    Rejection::invalid_token(&TokenError::MalformedClaims(String::new()))
                })?;
            for (name, value) in identity {
                headers
                    .set(name, &value)
                    .map_err(|_| Rejection::invalid_request("bad_identity"))?;
            }
            ResponseKind::Authenticated
        }
        None => ResponseKind::Public,
    };

    let method = req.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if !matches!(method, Method::Get | Method::Head) {
        if let Some(body) = req.inner().body() {
            init.with_body(Some(body.into()));
        }
    }
    let upstream_req = Request::new_with_init(&target, &init)
        .map_err(|_| Rejection::invalid_request("bad_upstream_request"))?;
    let resp = outbound::send(env, Peer::Upstream, upstream_req, UPSTREAM_TIMEOUT_MS)
        .await
        .map_err(|e| match e {
            OutboundError::Timeout => Rejection::gateway_timeout("upstream_timeout"),
            OutboundError::Network => Rejection::bad_gateway("upstream_fetch"),
        })?;
    finalize(resp, kind, set_cookies).map_err(|_| Rejection::bad_gateway("finalize"))
}
