//! The store's log lines, as the edge writes them ([`edge_session_protocol::audit`]): one
//! JSON object per line, written with the console method of its level, every one with the id
//! of the request it belongs to.
//!
//! The request id: the edge's, from the `x-request-id` it sends with every store call (so a
//! store line names the edge request that caused it); else the store's own `cf-ray`; else one
//! made here (local runs). Set for the code of one request during each poll of its future
//! ([`scoped`]), as requests of an isolate interleave at every `await`.
//!
//! Never a password, a token, a session id, a secret or a request body; ids only hashed.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

pub(super) use edge_session_protocol::audit::Field;
use edge_session_protocol::audit::{self, Audit, Level};

thread_local! {
    /// The id of the request whose future is being polled.
    static REQUEST_ID: RefCell<Option<Rc<str>>> = const { RefCell::new(None) };
}

/// The id of a request with these headers (`x-request-id` from the edge, `cf-ray`).
pub(super) fn request_id_of(x_request_id: Option<&str>, cf_ray: Option<&str>) -> Rc<str> {
    let from_header = audit::request_id(x_request_id).or_else(|| audit::request_id(cf_ray));
    match from_header {
        Some(id) => Rc::from(id),
        None => {
            let mut random = [0u8; 8];
            // Without randomness the id is all zeros: it still marks the line as local.
            let _ = getrandom::fill(&mut random);
            Rc::from(audit::local_request_id(&random))
        }
    }
}

/// Polls `future` with `request_id` as the current request's id.
pub(super) async fn scoped<F: Future>(request_id: Rc<str>, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(move |cx| {
        let outer = REQUEST_ID.with(|c| c.replace(Some(Rc::clone(&request_id))));
        let poll = future.as_mut().poll(cx);
        REQUEST_ID.with(|c| *c.borrow_mut() = outer);
        poll
    })
    .await
}

/// The current request's id.
pub(super) fn request_id() -> Rc<str> {
    REQUEST_ID
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| request_id_of(None, None))
}

/// Writes `line` with `console.log`, `console.warn` or `console.error` by `level`.
fn write(level: Level, line: &str) {
    match level {
        Level::Info => worker::console_log!("{line}"),
        Level::Warn => worker::console_warn!("{line}"),
        Level::Error => worker::console_error!("{line}"),
    }
}

/// An ordinary line of the current request (`extra`: codes, numbers, hosts; never a value a
/// caller sent).
pub(super) fn line(level: Level, phase: &str, reason: &str, extra: &[(&str, Field<'_>)]) {
    write(
        level,
        &audit::line(level, &request_id(), phase, reason, extra),
    );
}

/// An ordinary line of the request `request_id` (the Durable Object's, which reads the id
/// from its request).
pub(super) fn line_of(
    request_id: &str,
    level: Level,
    phase: &str,
    reason: &str,
    extra: &[(&str, Field<'_>)],
) {
    write(level, &audit::line(level, request_id, phase, reason, extra));
}

/// An audit line of the current request from the client at `client_ip` (only its prefix is
/// written).
pub(super) fn audit(a: &Audit, client_ip: Option<&str>) {
    write(a.level(), &a.line(&request_id(), client_ip));
}

/// The text of an error for a line: at most 200 characters, control characters as spaces.
/// Only for errors of the runtime and of our own values (never of a request body: a parser's
/// message may quote the input; those use [`json_cause`]).
pub(super) fn cause(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What a JSON parse error was, without its message (which may quote the input): its
/// category, line and column.
pub(super) fn json_cause(e: &serde_json::Error) -> String {
    format!("{:?} at {}:{}", e.classify(), e.line(), e.column())
}
