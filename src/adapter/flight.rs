//! Sharing one piece of I/O between the concurrent requests of an isolate, in workerd's terms.
//!
//! workerd runs every request in its own I/O context, and two rules follow:
//! - **A request never awaits a future another request started.** It would be woken from the
//!   other request's context (and continue its own I/O there), and while it waits it has no
//!   pending event of its own, so workerd cancels it as hung. A request that waits for shared
//!   work instead looks at the shared state on its own timer: [`poll_until`].
//! - **Work that must outlive its request is handed to `ctx.waitUntil`.** Otherwise it ends with
//!   the response that started it. [`past_response`] does that for the request being handled:
//!   the JS entry's `ctx` is made available to the code running inside [`in_request`], with
//!   the request's id, which every log line carries ([`request_id`]).
//!
//! Who does the shared work, and what the others use meanwhile, is the core's decision
//! (e.g. [`crate::jwks::JwksCache`]): these helpers only wait and detach.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::now_ms;

/// What the code running for one request reaches without being handed it: the request's
/// execution context (`ctx`, for `waitUntil`) and its request id (for every log line).
struct Scope {
    ctx: JsValue,
    request_id: Rc<str>,
}

thread_local! {
    /// The scope of the request whose future is being polled (set only during its polls).
    static CONTEXT: RefCell<Option<Rc<Scope>>> = const { RefCell::new(None) };
}

/// Runs `future` (a request's handler) with `ctx` as the current request's execution context
/// and `request_id` as its id during each of its polls, so [`past_response`] and the log
/// lines ([`request_id`]) reach them wherever they are called from. Polls never nest (wasm is
/// single-threaded and the executor polls one task at a time), so during a poll the scope is
/// this request's.
pub(super) async fn in_request<F: Future>(
    ctx: JsValue,
    request_id: Rc<str>,
    future: F,
) -> F::Output {
    scoped(Some(Rc::new(Scope { ctx, request_id })), future).await
}

/// Polls `future` with `scope` as the current scope.
async fn scoped<F: Future>(scope: Option<Rc<Scope>>, future: F) -> F::Output {
    futures_util::pin_mut!(future);
    std::future::poll_fn(move |cx| {
        let outer = CONTEXT.with(|c| c.replace(scope.clone()));
        let poll = future.as_mut().poll(cx);
        CONTEXT.with(|c| *c.borrow_mut() = outer);
        poll
    })
    .await
}

/// The id of the request being handled (`None` outside any request's polls).
pub(super) fn request_id() -> Option<Rc<str>> {
    CONTEXT.with(|c| c.borrow().as_ref().map(|s| Rc::clone(&s.request_id)))
}

/// Starts `work` so that it outlives the current request: spawned on the executor and handed
/// to the request's `ctx.waitUntil`, still under the request's id (its log lines say which
/// request started it). Gives `work` back when there is no execution context to keep it
/// alive (then the caller must await it itself).
pub(super) fn past_response<W>(work: W) -> Result<(), W>
where
    W: Future<Output = ()> + 'static,
{
    let scope = CONTEXT.with(|c| c.borrow().clone());
    let wait_until = scope.as_ref().and_then(|s| {
        js_sys::Reflect::get(&s.ctx, &JsValue::from_str("waitUntil"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    });
    let (Some(scope), Some(wait_until)) = (scope, wait_until) else {
        return Err(work);
    };
    let ctx = scope.ctx.clone();
    let promise = wasm_bindgen_futures::future_to_promise(scoped(Some(scope), async move {
        work.await;
        Ok(JsValue::UNDEFINED)
    }));
    if wait_until.call1(&ctx, &promise).is_err() {
        // The work runs anyway; it may be cut short with the response, and whoever waits for
        // it gives up by its own deadline.
        super::log::event(super::log::Level::Warn, "flight", "wait_until_failed");
    }
    Ok(())
}

/// Waits, on this request's own timer, until `ready` answers or the clock reaches `until_ms`
/// (milliseconds since the epoch); looks every `every_ms`. `None` when the time ran out.
pub(super) async fn poll_until<T>(
    every_ms: u64,
    until_ms: u64,
    mut ready: impl FnMut() -> Option<T>,
) -> Option<T> {
    loop {
        if let Some(answer) = ready() {
            return Some(answer);
        }
        if now_ms() >= until_ms {
            return None;
        }
        worker::Delay::from(std::time::Duration::from_millis(every_ms)).await;
    }
}
