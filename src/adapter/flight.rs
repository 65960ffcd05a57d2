//! Sharing one piece of I/O between the concurrent requests of an isolate, in workerd's terms.
//!
//! workerd runs every request in its own I/O context, and two rules follow:
//! - **A request never awaits a future another request started.** It would be woken from the
//!   other request's context (and continue its own I/O there), and while it waits it has no
//!   pending event of its own, so workerd cancels it as hung. A request that waits for shared
//!   work instead looks at the shared state on its own timer: [`poll_until`].
//! - **Work that must outlive its request is handed to `ctx.waitUntil`.** Otherwise it ends with
//!   the response that started it. [`past_response`] does that for the request being handled:
//!   the JS entry's `ctx` is made available to the code running inside [`in_request`].
//!
//! Who does the shared work, and what the others use meanwhile, is the core's decision
//! (e.g. [`crate::jwks::JwksCache`]): these helpers only wait and detach.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::now_ms;

thread_local! {
    /// The `ctx` of the request whose future is being polled (set only during its polls).
    static CONTEXT: RefCell<Option<Rc<JsValue>>> = const { RefCell::new(None) };
}

/// Runs `future` (a request's handler) with `ctx` as the current request's execution context
/// during each of its polls, so [`past_response`] can reach it wherever it is called from.
/// Polls never nest (wasm is single-threaded and the executor polls one task at a time), so
/// during a poll the context is this request's.
pub(super) async fn in_request<F: Future>(ctx: JsValue, future: F) -> F::Output {
    let ctx = Rc::new(ctx);
    futures_util::pin_mut!(future);
    std::future::poll_fn(move |cx| {
        let outer = CONTEXT.with(|c| c.replace(Some(Rc::clone(&ctx))));
        let poll = future.as_mut().poll(cx);
        CONTEXT.with(|c| *c.borrow_mut() = outer);
        poll
    })
    .await
}

/// Starts `work` so that it outlives the current request: spawned on the executor and handed
/// to the request's `ctx.waitUntil`. Gives `work` back when there is no execution context to
/// keep it alive (then the caller must await it itself).
pub(super) fn past_response<W>(work: W) -> Result<(), W>
where
    W: Future<Output = ()> + 'static,
{
    let ctx = CONTEXT.with(|c| c.borrow().clone());
    let wait_until = ctx.as_ref().and_then(|ctx| {
        js_sys::Reflect::get(ctx, &JsValue::from_str("waitUntil"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    });
    let (Some(ctx), Some(wait_until)) = (ctx, wait_until) else {
        return Err(work);
    };
    let promise = wasm_bindgen_futures::future_to_promise(async move {
        work.await;
        Ok(JsValue::UNDEFINED)
    });
    if wait_until.call1(&ctx, &promise).is_err() {
        // The work runs anyway; it may be cut short with the response, and whoever waits for
        // it gives up by its own deadline.
        super::log::event("warn", "flight", "wait_until_failed");
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
