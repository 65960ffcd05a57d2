//! edge-session: a Cloudflare Worker that verifies access tokens and manages IdP sessions at
//! the edge.
//!
//! The crate has two layers:
//! - the **core** (every module but `adapter` and `webcrypto`): pure Rust, no I/O and no clock
//!   reads. It takes `now`, keys, and whatever the adapter fetched as arguments and returns
//!   decisions. It compiles natively and to wasm32 and is tested with `cargo test`.
//! - the **adapter** (wasm32 only): the only code that touches the runtime (`worker::*`,
//!   `web_sys`). It reads the environment into a [`config::EdgeConfig`] once per isolate, runs
//!   the phases (classify → authenticate → authorize → forward → finalize), and talks to the
//!   JWKS endpoint, KV, the session store and the upstream. Requests the isolate's caches decide
//!   take a fast path without Rust futures; everything else the full async path.
//! - `webcrypto` (wasm32 only, public for the differential test): the signature check through
//!   the runtime's WebCrypto, with the core's pure-Rust check as the fallback.
//!
//! Nothing in this crate logs a token, a cookie value or a key.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
// No production function over 80 lines (clippy.toml); test tables may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod access_cookie;
pub mod assertion;
pub mod audit;
pub mod body;
pub mod cache_policy;
pub mod config;
pub mod cookies;
pub mod credentials;
pub mod csrf;
pub mod edge_routes;
pub mod forward;
pub mod gate;
pub mod jwks;
pub mod keys;
pub mod policy;
pub mod rejection;
pub mod revocation;
pub mod route;
pub mod session_cookie;
pub mod session_rules;
pub mod store_api;
pub mod target;
pub mod throttle;
pub mod token;
pub mod token_cache;
#[cfg(target_arch = "wasm32")]
pub mod webcrypto;
pub mod webhook;

#[cfg(all(target_arch = "wasm32", feature = "worker"))]
mod adapter;
