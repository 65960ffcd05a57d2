//! session-store: the reference, Transmit-compatible backend session store for edge-session.
//!
//! A Rust worker whose state lives in Durable Objects with SQLite storage: one object per user
//! holds that user's sessions and refresh-token chains, so every session operation is strongly
//! consistent and no single global object sits on the hot path.
//!
//! The crate has two layers, like the edge:
//! - the **core** (every module but `adapter`): pure Rust, no I/O, no clock reads. Session rules
//!   ([`rules`]), token claims and signing ([`tokens`]), the ClientAccessToken
//!   ([`client_token`]), password verification ([`password`]), routes and error answers
//!   ([`api`]), the audit line of each route ([`audit`]), the edge's revocation entries for the
//!   sessions that end here ([`revocations`]), request validation ([`request`]), the worker ⇄
//!   Durable Object [`envelope`], identifiers ([`ids`]) and configuration ([`config`]). The wire
//!   types, paths, codes and KV revocation format it shares with the edge come from
//!   `edge-session-protocol`. `now` is always an argument. Tested natively with
//!   `cargo test -p session-store`.
//! - the **adapter** (wasm32 only): the only code that touches `worker::*`. It reads the
//!   environment once per isolate, authenticates the caller, verifies passwords, routes each
//!   operation to the user's Durable Object, writes the edge's revocation entries for what the
//!   operation ended (`REVOCATIONS` KV, after the object committed) and signs the tokens it
//!   answers with. The Durable Object runs one rules operation per request inside
//!   `transactionSync`, with no `await` between its reads and writes, so concurrent requests
//!   cannot interleave.
//!
//! Nothing in this crate logs a password, a token, a session id or a key.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
// No production function over 80 lines (clippy.toml); test tables may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod api;
pub mod audit;
pub mod client_token;
pub mod config;
pub mod envelope;
pub mod ids;
pub mod metrics;
pub mod otp;
pub mod password;
pub mod request;
pub mod revocations;
pub mod rules;
pub mod time;
pub mod tokens;

#[cfg(target_arch = "wasm32")]
mod adapter;
