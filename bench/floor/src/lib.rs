//! The floor: the least a gate written in Rust and compiled to wasm can do per request, as a
//! reference for the bench (bench/README.md, "The wasm floor"). Not a gate: it verifies no
//! signature, reads no KV and keeps no rule. It crosses into the wasm, reads the two things
//! every gate must read (the `Authorization` header and the URL), looks the credential up in a
//! map of identities, and hands the forward to JS (`forward.js`, the same reshaping as
//! `bench/workers/shape.mjs`) with the identity headers. A token not in the map is a 401.
//!
//! `floor/shape` is then what any Rust/wasm gate keeping the edge's contract can reach at best
//! on this machine: the entry call, the two reads, the lookup and the call out, and nothing
//! else. The map is filled at start from `FLOOR_TOKENS` (the bench's warm tokens): the floor
//! does strictly less than any gate that verifies a token it has not seen.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/forward.js")]
extern "C" {
    /// The reshaping and the `fetch`, in JS: `shape.mjs`'s, with the headers set from `added`
    /// (`name\nvalue\n` pairs).
    fn forward(req: &web_sys::Request, url: &str, added: &str) -> js_sys::Promise;
    /// A 401 answer.
    fn unauthorized() -> js_sys::Promise;
}

#[wasm_bindgen]
extern "C" {
    /// A `Headers` object, seen through its `get`.
    type RawHeaders;
    /// `headers.get(name)`, bound without wasm-bindgen's `catch` glue (as the edge binds it).
    #[wasm_bindgen(method, js_name = get)]
    fn get(this: &RawHeaders, name: &str) -> Option<String>;
}

struct Floor {
    /// The upstream origin, without a trailing `/`.
    upstream: String,
    /// `Authorization` value → the identity headers (`name\nvalue\n` pairs).
    known: HashMap<String, String>,
}

thread_local! {
    static FLOOR: RefCell<Option<Floor>> = const { RefCell::new(None) };
}

/// Called once per isolate by the JS entry: the upstream origin and the tokens it knows
/// (one per line), each given the bench's identity.
#[wasm_bindgen]
pub fn init(upstream: &str, tokens: &str) {
    let identity = "x-auth-subject\nbench-user\nx-auth-session\nsess-0000000000\nx-auth-roles\nreader\nx-auth-client\nbench-client\nx-auth-scope\nread\n";
    let known = tokens
        .lines()
        .filter(|t| !t.is_empty())
        .map(|t| (format!("Bearer {t}"), identity.to_owned()))
        .collect();
    let upstream = upstream.trim_end_matches('/').to_owned();
    FLOOR.with(|f| *f.borrow_mut() = Some(Floor { upstream, known }));
}

/// The request's answer: forwarded with its identity, or a 401.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request) -> js_sys::Promise {
    let credential = req
        .headers()
        .unchecked_into::<RawHeaders>()
        .get("authorization");
    let url = req.url();
    // `scheme://host[:port]` and the path with its query, as shape.mjs splits them.
    let (scheme, rest) = url.split_once("://").unwrap_or(("", &url));
    let (host, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    FLOOR.with(|f| {
        let f = f.borrow();
        let Some(floor) = f.as_ref() else {
            return unauthorized();
        };
        match credential.and_then(|c| floor.known.get(&c)) {
            Some(identity) => {
                let added =
                    format!("x-forwarded-host\n{host}\nx-forwarded-proto\n{scheme}\n{identity}");
                forward(&req, &format!("{}{path}", floor.upstream), &added)
            }
            None => unauthorized(),
        }
    })
}
