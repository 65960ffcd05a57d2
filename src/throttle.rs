//! Login throttling at the edge, pure: which counters a login takes a slot in, what their
//! answers mean, what a login's outcome does to them, and the step each counter object runs.
//!
//! Two counters per `POST /auth/login`, each a Durable Object of the `LOGIN_THROTTLE` namespace
//! named by a keyed hash ([`Keys`]): the **username** (folded as
//! [`edge_session_protocol::attempts::username_key`] says) and the **client address**
//! (`CF-Connecting-IP`: an IPv4 address, an IPv6 /64; every request without one shares one
//! counter, and so does every value that is not an address, [`client_bucket`]). The window
//! arithmetic is the protocol's ([`edge_session_protocol::attempts`]): a slot is taken before
//! the store is called, so parallel guesses are counted before any of them is judged.
//!
//! - [`admit_calls`]: both counters take a slot, in parallel.
//! - [`admission`]: both admitted → the store is called; one refused → 429 with the longest
//!   `Retry-After` of the refusals and **no store call**; one did not answer → 503 (fails
//!   closed, README). A refused or unanswered login counts nowhere: the slots it took are
//!   given back.
//! - [`settle_calls`]: after the store's answer, a success resets the username's counter and
//!   gives the address its slot back (only failures count there); wrong credentials keep
//!   both slots; any answer that judged no password (store down, timeout, a validation
//!   refusal, the store's 429) gives both back.
//! - [`step`]: what a counter object does with one call (the object only stores the result).
//!
//! A username the store does not know is counted and answered exactly like a known one: the
//! edge cannot tell them apart, and the store verifies a dummy hash for it.

use edge_session_protocol::attempts::{self, Attempt, Limit, Window};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::store_api::StoreFailure;

/// Default failures per username per window.
pub const DEFAULT_PER_USER: u32 = 5;
/// Default failures per client address per window.
pub const DEFAULT_PER_IP: u32 = 50;
/// Default window, seconds (15 minutes).
pub const DEFAULT_WINDOW_SECS: i64 = 900;
/// The Durable Object namespace binding of the counters.
pub const BINDING: &str = "LOGIN_THROTTLE";

/// HKDF info of the key the counter names are hashed with (from the current `COOKIE_KEYS`).
pub const KEY_INFO: &[u8] = b"edge-session/login-throttle/v1";

/// The counter of a request without `CF-Connecting-IP` (local development, tests).
pub const NO_ADDRESS: &str = "none";
/// The counter of every `CF-Connecting-IP` value that is not an IP address.
pub const NOT_AN_ADDRESS: &str = "invalid";

/// The throttle's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures allowed per username per window.
    pub per_user: u32,
    /// Failures allowed per client address per window.
    pub per_ip: u32,
    /// The window, seconds.
    pub window_secs: i64,
    /// Key of the counter names (a secret: never logged, never in `Debug`).
    key: [u8; 32],
}

impl std::fmt::Debug for ThrottleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrottleConfig")
            .field("per_user", &self.per_user)
            .field("per_ip", &self.per_ip)
            .field("window_secs", &self.window_secs)
            .finish_non_exhaustive()
    }
}

impl ThrottleConfig {
    /// The settings, with the names' key.
    pub fn new(per_user: u32, per_ip: u32, window_secs: i64, key: [u8; 32]) -> Self {
        Self {
            per_user,
            per_ip,
            window_secs,
            key,
        }
    }

    /// The limit of one counter.
    pub fn limit(&self, counter: Counter) -> Limit {
        Limit {
            max: match counter {
                Counter::User => self.per_user,
                Counter::Ip => self.per_ip,
            },
            window_ms: self.window_secs.saturating_mul(1000),
        }
    }

    fn name(&self, label: &str, value: &str) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let mut out = String::with_capacity(label.len() + 1 + 64);
        out.push_str(label);
        out.push(':');
        for b in mac.finalize().into_bytes() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }
}

/// Which counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// The username's.
    User,
    /// The client address's.
    Ip,
}

/// What a counter object is asked to do (the number crosses to the object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Take a slot, or refuse.
    Admit,
    /// Forget the window (a success).
    Reset,
    /// Give one slot back (an attempt whose password was not judged).
    Refund,
    /// Keep the window only while it runs (the object's clean-up alarm).
    Tidy,
}

impl Op {
    /// The number sent to the counter object.
    pub fn code(self) -> u32 {
        match self {
            Self::Admit => 0,
            Self::Reset => 1,
            Self::Refund => 2,
            Self::Tidy => 3,
        }
    }

    /// The operation a number names.
    pub fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => Some(Self::Admit),
            1 => Some(Self::Reset),
            2 => Some(Self::Refund),
            3 => Some(Self::Tidy),
            _ => None,
        }
    }
}

/// One call to a counter object: its name, the operation, and the limit it counts under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Which counter.
    pub counter: Counter,
    /// The object's name (a keyed hash: no username or address in clear).
    pub object: String,
    /// What to do.
    pub op: Op,
    /// The limit.
    pub limit: Limit,
}

/// The names of one login's two counter objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// The username's counter.
    pub user: String,
    /// The client address's counter.
    pub ip: String,
}

/// The counter of a `CF-Connecting-IP` value: an IPv4 address (an IPv4-mapped IPv6 one
/// included), an IPv6 address's /64 (one subscriber's usual allocation: addresses within it
/// are free to the client), [`NO_ADDRESS`] without a value, [`NOT_AN_ADDRESS`] for anything
/// else.
pub fn client_bucket(connecting_ip: Option<&str>) -> String {
    use std::net::{IpAddr, Ipv6Addr};
    let Some(value) = connecting_ip else {
        return NO_ADDRESS.to_owned();
    };
    let ip = match value.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
        Ok(v4) => v4,
        Err(_) => return NOT_AN_ADDRESS.to_owned(),
    };
    match ip {
        IpAddr::V4(_) => format!("v4:{ip}"),
        IpAddr::V6(_) => format!("v6:{ip}/64"),
    }
}

/// The counter objects of a login by `username` from `connecting_ip`.
pub fn keys(cfg: &ThrottleConfig, username: &str, connecting_ip: Option<&str>) -> Keys {
    Keys {
        user: cfg.name("u", &attempts::username_key(username)),
        ip: cfg.name("ip", &client_bucket(connecting_ip)),
    }
}

fn call(cfg: &ThrottleConfig, keys: &Keys, counter: Counter, op: Op) -> Call {
    Call {
        counter,
        object: match counter {
            Counter::User => keys.user.clone(),
            Counter::Ip => keys.ip.clone(),
        },
        op,
        limit: cfg.limit(counter),
    }
}

/// The calls that admit a login: a slot in the username's and the address's counters.
pub fn admit_calls(cfg: &ThrottleConfig, keys: &Keys) -> Vec<Call> {
    vec![
        call(cfg, keys, Counter::User, Op::Admit),
        call(cfg, keys, Counter::Ip, Op::Admit),
    ]
}

/// Whether a login goes on, from its admit calls and their answers (`None`: the counter did
/// not answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Both counters took a slot: call the store.
    Go,
    /// A counter refused: 429 after `retry_after_secs`, the slots taken given back.
    Throttled {
        /// The counter that refused (the username's when both did).
        by: Counter,
        /// The longest wait of the refusals.
        retry_after_secs: u32,
        /// Refunds of the slots the other counter took.
        undo: Vec<Call>,
    },
    /// A counter did not answer: 503, the slots taken given back.
    Unavailable {
        /// Refunds of the slots taken.
        undo: Vec<Call>,
    },
}

/// The decision on a login's admit calls and their answers, in the same order.
pub fn admission(calls: &[Call], answers: &[Option<Attempt>]) -> Admission {
    let mut refused: Option<(Counter, u32)> = None;
    let mut unanswered = calls.len() != answers.len();
    let mut undo = Vec::new();
    for (c, answer) in calls.iter().zip(answers) {
        match answer {
            Some(Attempt::Admitted) => undo.push(Call {
                op: Op::Refund,
                ..c.clone()
            }),
            Some(Attempt::Refused { retry_after_secs }) => {
                let after = refused.map_or(0, |(_, a)| a).max(*retry_after_secs);
                let by = match refused {
                    Some((Counter::User, _)) => Counter::User,
                    _ => c.counter,
                };
                refused = Some((by, after));
            }
            None => unanswered = true,
        }
    }
    match (unanswered, refused) {
        (true, _) => Admission::Unavailable { undo },
        (false, Some((by, retry_after_secs))) => Admission::Throttled {
            by,
            retry_after_secs,
            undo,
        },
        (false, None) => Admission::Go,
    }
}

/// The calls that settle an admitted login once the store answered (`Ok`: the password was
/// right).
pub fn settle_calls(
    cfg: &ThrottleConfig,
    keys: &Keys,
    outcome: Result<(), StoreFailure>,
) -> Vec<Call> {
    let (user, ip) = match outcome {
        Ok(()) => (Some(Op::Reset), Some(Op::Refund)),
        // A judged failure: the slots stay taken.
        Err(StoreFailure::Refused) => (None, None),
        // No password was judged (the store's 429 included: a busy store, or its own limit,
        // which keeps counting on its side): nothing to count, or a store answering 429 for a
        // while would lock out at the edge every user who retried.
        Err(_) => (Some(Op::Refund), Some(Op::Refund)),
    };
    [(Counter::User, user), (Counter::Ip, ip)]
        .into_iter()
        .filter_map(|(counter, op)| op.map(|op| call(cfg, keys, counter, op)))
        .collect()
}

/// What a counter object stores after a call, and its answer (for [`Op::Admit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stepped {
    /// The window to store (`None`: delete it).
    pub window: Option<Window>,
    /// The answer of an admit.
    pub answer: Option<Attempt>,
    /// When the stored window ends (its clean-up time), milliseconds; 0 without one.
    pub ends_at_ms: i64,
}

/// The step of a counter object: `op` on the window it holds, at `now_ms` (the object's
/// clock), under `limit`.
pub fn step(op: Op, limit: Limit, held: Option<Window>, now_ms: i64) -> Stepped {
    let (window, answer) = match op {
        Op::Admit => {
            let (w, a) = limit.admit(held, now_ms);
            (w, Some(a))
        }
        Op::Reset => (limit.reset(), None),
        Op::Refund => (limit.refund(held, now_ms), None),
        Op::Tidy => (limit.live(held, now_ms), None),
    };
    Stepped {
        window,
        answer,
        ends_at_ms: window.map_or(0, |w| limit.ends_at(w)),
    }
}

#[cfg(test)]
mod tests;
