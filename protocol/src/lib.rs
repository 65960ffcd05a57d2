//! edge-session-protocol: the session store's HTTP API, as the edge (`edge-session`) and the
//! reference store (`session-store`) both use it, and the edge's KV revocation format.
//!
//! - [`paths`]: the endpoints, and the user-sessions path with the user id percent-encoded;
//! - [`wire`]: request bodies, response bodies and the reference store's field limits;
//! - [`error`]: error bodies and codes, read in both shapes (string or numeric codes, string
//!   or array messages);
//! - [`date_time`]: session times on the wire;
//! - [`shape`]: where Transmit's answers differ from the reference store's, once;
//! - [`revocation`]: the `REVOCATIONS` KV keys and the user entry's value;
//! - [`attempts`]: the failed-login window the edge's throttle and the store's limit count with.
//! - [`audit`]: the log line both workers write, and the security events (audit lines).
//!
//! No I/O, no clock, no randomness: types, constants and pure functions, tested natively.
//! What each side decides from an answer (the edge's failure mapping, the store's validation)
//! stays with that side.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
// No production function over 80 lines (clippy.toml); test tables may be longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod attempts;
pub mod audit;
pub mod date_time;
pub mod error;
pub mod paths;
pub mod revocation;
pub mod shape;
pub mod wire;

pub use error::{ErrorBody, ErrorCode, ErrorMessage};
pub use shape::Shape;
pub use wire::{
    ClientAttributes, ClientCredentials, ClientTokenResponse, Logout, OtpAuthenticate, OtpSend,
    OtpSent, PasswordAuthenticate, Refresh, SessionAuthenticate, SessionInfo, TokenResponse,
    TotpAuthenticate,
};
