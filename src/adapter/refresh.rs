//! The refresh single flight: a session's new access token (session authenticate at the
//! store) fetched once per isolate however many of the session's requests need it at once.
//! The first request calls the store; the others wait for its result on their own timers
//! ([`wait_for`]); a finished result serves the session's stragglers for a short while, but
//! only when it is newer than the access cookie the request carried
//! ([`session_rules::may_reuse_refresh`]). What the result means (same user, the cookie to
//! set) is the gate's decision ([`crate::gate::Authentication`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use futures_util::future::{FutureExt, LocalBoxFuture, Shared};
use worker::Env;

use super::{log, now_ms, store};
use crate::config::EdgeConfig;
use crate::gate::Refreshed;
use crate::rejection::Rejection;
use crate::session_cookie::{ClientProps, SessionCookie};
use crate::session_rules::{self, FlightState};
use crate::store_api::{self, paths, StoreFailure, StoreOp};

/// How often a request waiting for another request's refresh looks again.
const WAIT_POLL_MS: u64 = 10;

type Flight = Shared<LocalBoxFuture<'static, Result<Arc<Refreshed>, Rejection>>>;

/// A refresh in flight (or just finished) and when it started, milliseconds.
struct InFlight {
    future: Flight,
    started_ms: i64,
}

thread_local! {
    /// Refreshes in flight (or just finished), by session id.
    static FLIGHTS: RefCell<HashMap<String, InFlight>> = RefCell::new(HashMap::new());
}

/// The client properties a refresh sends the store, owned (the flight outlives the request
/// that started it).
#[derive(Clone, Default)]
pub(super) struct Client {
    pub(super) user_agent: Option<String>,
    pub(super) ip: Option<String>,
}

impl Client {
    pub(super) fn of(props: &ClientProps<'_>) -> Self {
        Self {
            user_agent: props.user_agent.map(str::to_owned),
            ip: props.ip.map(str::to_owned),
        }
    }

    fn props(&self) -> ClientProps<'_> {
        ClientProps {
            user_agent: self.user_agent.as_deref(),
            ip: self.ip.as_deref(),
        }
    }
}

fn wait_limit_ms(config: &EdgeConfig) -> i64 {
    let store_ms = config.session.as_ref().map_or(0, |s| s.store_timeout_ms);
    session_rules::refresh_wait_limit_ms(store_ms)
}

/// Forgets this isolate's finished or running refresh of `session_id` (a login or step-up
/// just minted newer tokens for it, or it ended).
pub(super) fn forget(session_id: &str) {
    FLIGHTS.with(|map| map.borrow_mut().remove(session_id));
}

/// A new access token for `session`, shared by the session's concurrent requests in this
/// isolate.
pub(super) async fn refresh(
    env: &Env,
    config: &Rc<EdgeConfig>,
    client: Client,
    session: &SessionCookie,
    carried_ms: Option<i64>,
) -> Result<Arc<Refreshed>, Rejection> {
    let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    let limit_ms = wait_limit_ms(config);
    let sid = session.session_id.clone();
    let (flight, started_ms, owner) = FLIGHTS.with(|map| {
        let mut map = map.borrow_mut();
        // Drop finished entries that are too old, failed, or whose token has expired, and
        // calls that stalled (their request was cancelled and nobody polls them any more).
        map.retain(|_, f| {
            let state = match f.future.peek() {
                Some(Ok(r)) => FlightState::Done {
                    at_ms: r.at_ms,
                    exp: r.claims.exp,
                },
                Some(Err(_)) => FlightState::Failed,
                None => FlightState::Running {
                    started_ms: f.started_ms,
                },
            };
            session_rules::keep_flight(state, now, limit_ms)
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
        let (env, config, session) = (env.clone(), Rc::clone(config), session.clone());
        let future = async move { authenticate(&env, &config, &client, &session).await }
            .boxed_local()
            .shared();
        map.insert(
            sid.clone(),
            InFlight {
                future: future.clone(),
                started_ms: now,
            },
        );
        (future, now, true)
    });
    if owner {
        flight.await
    } else {
        wait_for(&flight, started_ms, limit_ms).await
    }
}

/// Waits for a refresh that another request of this isolate started.
///
/// workerd runs every request in its own I/O context: a request that awaited the shared
/// future itself would be woken from the starting request's context (and continue its own
/// I/O there), and while it waits it has no pending event of its own, so workerd cancels it
/// as hung ("the Worker's code had hung"). So the waiter never polls the shared future: it
/// looks at its result on its own timer until the result is there or the wait limit passes.
async fn wait_for(
    flight: &Flight,
    started_ms: i64,
    limit_ms: i64,
) -> Result<Arc<Refreshed>, Rejection> {
    loop {
        if let Some(result) = flight.peek() {
            return result.clone();
        }
        let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        if !session_rules::keep_flight(FlightState::Running { started_ms }, now, limit_ms) {
            log::event(log::Level::Error, "refresh", "shared_refresh_stalled");
            return Err(Rejection::store(StoreFailure::Timeout));
        }
        worker::Delay::from(std::time::Duration::from_millis(WAIT_POLL_MS)).await;
    }
}

/// Session authenticate at the store, its access token verified.
async fn authenticate(
    env: &Env,
    config: &EdgeConfig,
    client: &Client,
    session: &SessionCookie,
) -> Result<Arc<Refreshed>, Rejection> {
    let resource = config.session.as_ref().and_then(|s| s.resource.as_deref());
    let body = store_api::session_authenticate_body(&session.session_id, resource, &client.props());
    let (tokens, claims) = store::tokens(
        env,
        config,
        StoreOp::Session,
        paths::SESSION_AUTHENTICATE,
        body,
        false,
        "refresh",
    )
    .await?;
    Ok(Arc::new(Refreshed {
        access_token: tokens.access_token,
        claims,
        at_ms: i64::try_from(now_ms()).unwrap_or(i64::MAX),
    }))
}
