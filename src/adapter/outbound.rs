//! The edge's own requests: to the session store (API and JWKS). The upstream's requests go
//! through [`super::upstream`], which uses the `UPSTREAM_SERVICE` binding the same way.
//!
//! A service binding carries the request when one is bound for that origin (`SESSION_STORE`
//! for the store's origin): no public hop, and how `wrangler dev` runs the three workers of
//! the local stack in one process. Otherwise a plain `fetch`. Every call has a deadline.

use futures_util::future::{select, Either};
use worker::{Delay, Env, Fetch, Request, Response};

use crate::config::EdgeConfig;

/// The service binding that reaches the session store.
pub(super) const STORE_BINDING: &str = "SESSION_STORE";

/// Why an outbound request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutboundError {
    /// No answer before the deadline.
    Timeout,
    /// Refused, reset, DNS, or any other network failure.
    Network,
}

/// Where a request goes (decides which service binding may carry it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Peer {
    /// The session store's origin (its API, and the JWKS when it is served there).
    Store,
    /// Anything else (a JWKS on another origin): plain fetch.
    Other,
}

/// The peer of the JWKS URL: the store when it shares the store's origin.
pub(super) fn jwks_peer(config: &EdgeConfig, jwks: &url::Url) -> Peer {
    match &config.session {
        Some(s) if s.store_url.origin() == jwks.origin() => Peer::Store,
        _ => Peer::Other,
    }
}

/// Sends `req` (whose URL is already absolute) to `peer` within `timeout_ms`.
pub(super) async fn send(
    env: &Env,
    peer: Peer,
    req: Request,
    timeout_ms: u32,
) -> Result<Response, OutboundError> {
    let binding = match peer {
        Peer::Store => env.service(STORE_BINDING).ok(),
        Peer::Other => None,
    };
    let call = async move {
        match binding {
            Some(fetcher) => fetcher.fetch_request(req).await,
            None => Fetch::Request(req).send().await,
        }
    };
    let deadline = Delay::from(std::time::Duration::from_millis(u64::from(timeout_ms)));
    futures_util::pin_mut!(call);
    match select(call, deadline).await {
        Either::Left((Ok(resp), _)) => Ok(resp),
        Either::Left((Err(_), _)) => Err(OutboundError::Network),
        Either::Right(_) => Err(OutboundError::Timeout),
    }
}
