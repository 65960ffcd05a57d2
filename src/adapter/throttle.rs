//! The login counters' I/O: calls to the `LOGIN_THROTTLE` Durable Objects (one per hashed
//! username or client address), and the step those objects run, exported to the JS class that
//! stores their windows (`LoginThrottle` in `src/adapter/shim.js`). What a call means and what
//! a step decides is [`crate::throttle`]'s.
//!
//! Why a JS class and not workers-rs' `#[durable_object]`: the object only reads a row, runs
//! the core's [`throttle::step`] (this module's [`throttle_count`], so the rule is the same
//! wasm as the edge's) and writes the row back, all synchronous SQL with no `await` between
//! read and write; the class is 40 lines beside the shim, where a Rust object would add its
//! generated glue to every request's wasm. The edge reaches it by RPC (`stub.count(…)`).

use edge_session_protocol::attempts::{Attempt, Window};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use crate::throttle::{self, Call, Op};

#[wasm_bindgen]
extern "C" {
    /// A `DurableObjectNamespace`.
    type Namespace;
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &Namespace, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &Namespace, id: &JsValue) -> Result<CounterStub, JsValue>;

    /// A stub of one `LoginThrottle` object.
    type CounterStub;
    /// `count(op, max, windowMs)` → `[admitted (1/0), retryAfterSecs]`.
    #[wasm_bindgen(method, catch)]
    fn count(
        this: &CounterStub,
        op: u32,
        max: u32,
        window_ms: f64,
    ) -> Result<js_sys::Promise, JsValue>;
}

fn namespace(env: &Env) -> Option<Namespace> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(throttle::BINDING)).ok()?;
    (!value.is_undefined() && !value.is_null()).then(|| value.unchecked_into())
}

/// Whether the counters' namespace is bound.
pub(super) fn bound(env: &Env) -> bool {
    namespace(env).is_some()
}

/// One call; `None` when the object did not answer (or answered nonsense).
async fn one(ns: &Namespace, call: &Call) -> Option<Attempt> {
    let id = ns.id_from_name(&call.object).ok()?;
    let stub = ns.get(&id).ok()?;
    // A window in milliseconds is far below 2^53: exact as a JS number.
    #[allow(clippy::cast_precision_loss)]
    let window_ms = call.limit.window_ms as f64;
    let promise = stub.count(call.op.code(), call.limit.max, window_ms).ok()?;
    let answer = JsFuture::from(promise).await.ok()?;
    let answer: js_sys::Array = answer.dyn_into().ok()?;
    let admitted = answer.get(0).as_f64()?;
    let retry_after = answer.get(1).as_f64()?;
    Some(if admitted > 0.0 {
        Attempt::Admitted
    } else {
        Attempt::Refused {
            // Whole seconds in 1..=86_400 from the object's step.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            retry_after_secs: retry_after.clamp(1.0, f64::from(u32::MAX)) as u32,
        }
    })
}

/// The calls, in parallel; the answers in their order (`None` for each call without one,
/// every one `None` when the namespace is not bound).
pub(super) async fn run(env: &Env, calls: &[Call]) -> Vec<Option<Attempt>> {
    let Some(ns) = namespace(env) else {
        return vec![None; calls.len()];
    };
    // A login makes one or two calls at a time (`futures_util::future::join_all` would add
    // 2.4 KB of gzipped wasm for the general case).
    if let [a, b] = calls {
        let (a, b) = futures_util::join!(one(&ns, a), one(&ns, b));
        return vec![a, b];
    }
    let mut out = Vec::with_capacity(calls.len());
    for c in calls {
        out.push(one(&ns, c).await);
    }
    out
}

/// The step of a `LoginThrottle` object, called by its JS class: the operation `op` with
/// limit `max` per `window_ms` on the window it holds (`count` attempts since `started_ms`;
/// `count` 0: none) at its clock `now_ms`. Returns `[count, started_ms, admitted (1/0),
/// retry_after_secs, ends_at_ms]`: the window to store (count 0: delete it), the answer, and
/// when the stored window ends (0: nothing stored). An unknown `op` stores nothing new and
/// admits nothing.
#[wasm_bindgen]
#[allow(unreachable_pub)] // exported to JS, not to Rust
#[allow(clippy::cast_possible_truncation)] // JS numbers of whole milliseconds, far below 2^53
pub fn throttle_count(
    op: u32,
    max: u32,
    window_ms: f64,
    count: u32,
    started_ms: f64,
    now_ms: f64,
) -> Vec<f64> {
    let held = (count > 0).then_some(Window {
        count,
        started_ms: started_ms as i64,
    });
    let limit = edge_session_protocol::attempts::Limit {
        max,
        window_ms: window_ms as i64,
    };
    let Some(op) = Op::from_code(op) else {
        return vec![f64::from(count), started_ms, 0.0, 1.0, 0.0];
    };
    let stepped = throttle::step(op, limit, held, now_ms as i64);
    let (admitted, retry_after) = match stepped.answer {
        Some(Attempt::Refused { retry_after_secs }) => (0.0, f64::from(retry_after_secs)),
        _ => (1.0, 0.0),
    };
    #[allow(clippy::cast_precision_loss)]
    let ms = |v: i64| v as f64;
    match stepped.window {
        Some(w) => vec![
            f64::from(w.count),
            ms(w.started_ms),
            admitted,
            retry_after,
            ms(stepped.ends_at_ms),
        ],
        None => vec![0.0, 0.0, admitted, retry_after, 0.0],
    }
}
