//! The log line both workers write, and the security events among them (audit lines).
//!
//! Every line is one JSON object with a `level` (`info`, `warn`, `error`: the adapter writes it
//! with `console.log`, `console.warn` or `console.error`, so Workers Logs files it under that
//! level) and the `request_id` of the request it belongs to ([`request_id`]). Ordinary lines
//! ([`line`]) add a `phase` and a `reason` code; audit lines ([`Audit::line`]) add the
//! `event`, its `outcome` and `reason`, the hashed subject and session ([`id_hash`]) and the
//! client's network prefix ([`client_prefix`]).
//!
//! What a line may hold: static codes, hashes, numbers, hosts and paths without their query.
//! Never a token, a cookie, a password, a secret, a header value as sent, nor a raw user or
//! session id: an [`Audit`] hashes the ids it is given at once, so not even its `Debug` form
//! holds them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256};

/// How a line is filed: the console method the adapter writes it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Normal operation (`console.log`).
    Info,
    /// Something refused or degraded that needs no operator (`console.warn`).
    Warn,
    /// Something an operator should look at (`console.error`).
    Error,
}

impl Level {
    /// The level's name in the line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// A security event: each gets one audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A password login (a fresh session), succeeded or refused.
    Login,
    /// An authentication added to an existing session (MFA step-up).
    StepUp,
    /// New tokens for a session: the session cookie's refresh (transparent or
    /// `POST /auth/refresh`), the refresh-token grant, the store's session authenticate.
    Refresh,
    /// One session logged out by its holder.
    Logout,
    /// Every session of a user logged out by that user.
    LogoutAll,
    /// A session ended by someone other than its holder's logout: replaced by a new login on
    /// the same browser, ended from another device, revoked by an administrator or the store.
    SessionRevoked,
    /// A rotated refresh token was presented again: the token was copied; its session's
    /// refresh tokens are revoked.
    RefreshReuseDetected,
    /// A login attempt refused by throttling, before any credential check.
    Throttled,
    /// A revocation received from an application backend (the revocation webhook).
    WebhookRevocation,
}

impl Event {
    /// Every event, for tables and tests.
    pub const ALL: [Event; 9] = [
        Self::Login,
        Self::StepUp,
        Self::Refresh,
        Self::Logout,
        Self::LogoutAll,
        Self::SessionRevoked,
        Self::RefreshReuseDetected,
        Self::Throttled,
        Self::WebhookRevocation,
    ];

    /// The event's name in the line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::StepUp => "step_up",
            Self::Refresh => "refresh",
            Self::Logout => "logout",
            Self::LogoutAll => "logout_all",
            Self::SessionRevoked => "session_revoked",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::Throttled => "throttled",
            Self::WebhookRevocation => "webhook_revocation",
        }
    }
}

/// Whether the event did what it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Success,
    /// Refused or not (entirely) done; the reason says why.
    Failure,
}

impl Outcome {
    /// The outcome's name in the line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// Longest request id taken from a header.
pub const MAX_REQUEST_ID: usize = 64;

/// A request id from a header (`cf-ray`, or the `x-request-id` the edge sends the store), if
/// it is one: 1 to [`MAX_REQUEST_ID`] bytes of `A-Z a-z 0-9 - _ . :`. Anything else (a
/// client-chosen value with quotes, spaces, control bytes, or too long) is not used, so a
/// line never repeats what a client sent beyond that alphabet.
pub fn request_id(header: Option<&str>) -> Option<&str> {
    header.filter(|v| {
        !v.is_empty()
            && v.len() <= MAX_REQUEST_ID
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    })
}

/// A request id the adapter made itself (no `cf-ray`: local runs), from random bytes it drew:
/// `local-` and their hex.
pub fn local_request_id(random: &[u8; 8]) -> String {
    let mut out = String::with_capacity(6 + 16);
    out.push_str("local-");
    push_hex(&mut out, random);
    out
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// The hash of a subject or session id in a line: the first 8 bytes of its SHA-256, in hex
/// (16 characters). Unkeyed, so an operator finds a user's or a session's lines with
/// `printf %s "$id" | sha256sum | cut -c1-16`, and a session's hash is the handle
/// `GET /auth/sessions` shows (and the prefix of its KV revocation key). Session ids are
/// random, so their hash reveals nothing; a subject from a small, guessable set can be
/// confirmed by hashing candidates (pseudonymous, not anonymous: README).
#[inline]
pub fn id_hash(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    let mut out = String::with_capacity(16);
    push_hex(&mut out, &digest[..8]);
    out
}

/// The client's network in a line: IPv4 to its /24, IPv6 to its /48 (an IPv4-mapped IPv6
/// address counts as IPv4), rebuilt from the parsed address so nothing of the raw value is
/// repeated. `None` without a value; `"invalid"` for anything that is not one plain address
/// (a list, a port, a zone, spaces, control bytes, overlong input).
pub fn client_prefix(raw: Option<&str>) -> Option<String> {
    // std's parser stops at the first byte that cannot continue an address: overlong or
    // hostile input costs no more than a short one.
    let Ok(ip) = raw?.parse::<IpAddr>() else {
        return Some("invalid".to_owned());
    };
    Some(match ip {
        IpAddr::V4(v4) => v4_prefix(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_prefix(v4),
            None => {
                let s = v6.segments();
                format!("{}/48", Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
            }
        },
    })
}

fn v4_prefix(v4: Ipv4Addr) -> String {
    let o = v4.octets();
    format!("{}.{}.{}.0/24", o[0], o[1], o[2])
}

/// The value of a field of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A string (escaped as JSON).
    Str(&'a str),
    /// A number.
    Num(u64),
    /// A boolean.
    Bool(bool),
    /// `null`.
    Null,
}

impl<'a> From<Option<&'a str>> for Field<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Self::Null, Self::Str)
    }
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let b = u32::from(c);
                out.push_str("\\u00");
                out.push(char::from(HEX[(b >> 4) as usize & 0xf]));
                out.push(char::from(HEX[b as usize & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One JSON object of `fields`, in their order (written by hand: a line is small and the
/// workers need no JSON value tree for it).
pub fn object(fields: &[(&str, Field<'_>)]) -> String {
    let mut out = String::with_capacity(256);
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(&mut out, name);
        out.push(':');
        match value {
            Field::Str(s) => push_json_str(&mut out, s),
            Field::Num(n) => out.push_str(&n.to_string()),
            Field::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Field::Null => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

/// An ordinary line: `{"level", "request_id", "phase", "reason"}` and `extra` fields (values
/// the caller made safe: codes, numbers, hosts).
pub fn line(
    level: Level,
    request_id: &str,
    phase: &str,
    reason: &str,
    extra: &[(&str, Field<'_>)],
) -> String {
    let mut fields = Vec::with_capacity(4 + extra.len());
    fields.push(("level", Field::Str(level.name())));
    fields.push(("request_id", Field::Str(request_id)));
    fields.push(("phase", Field::Str(phase)));
    fields.push(("reason", Field::Str(reason)));
    fields.extend_from_slice(extra);
    object(&fields)
}

/// A security event, ready to be written as an audit line. The ids are hashed when they are
/// set ([`Audit::subject`], [`Audit::session`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    event: Event,
    outcome: Outcome,
    reason: &'static str,
    subject_hash: Option<String>,
    session_hash: Option<String>,
}

impl Audit {
    /// The event with its outcome and a stable, secret-free reason code.
    pub fn new(event: Event, outcome: Outcome, reason: &'static str) -> Self {
        Self {
            event,
            outcome,
            reason,
            subject_hash: None,
            session_hash: None,
        }
    }

    /// The user it concerns (hashed here).
    #[must_use]
    pub fn subject(mut self, subject: Option<&str>) -> Self {
        self.subject_hash = subject.map(id_hash);
        self
    }

    /// The session it concerns (hashed here).
    #[must_use]
    pub fn session(mut self, session_id: Option<&str>) -> Self {
        self.session_hash = session_id.map(id_hash);
        self
    }

    /// The event.
    pub fn event(&self) -> Event {
        self.event
    }

    /// The outcome.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The reason code.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The level: a detected refresh-token reuse is an error (a token was copied); any other
    /// failure a warning; a success information.
    pub fn level(&self) -> Level {
        match (self.event, self.outcome) {
            (Event::RefreshReuseDetected, _) => Level::Error,
            (_, Outcome::Failure) => Level::Warn,
            (_, Outcome::Success) => Level::Info,
        }
    }

    /// The line, for the request `request_id` from the client address `client_ip` (the raw
    /// `CF-Connecting-IP`, reduced here to its prefix).
    pub fn line(&self, request_id: &str, client_ip: Option<&str>) -> String {
        let client = client_prefix(client_ip);
        object(&[
            ("level", Field::Str(self.level().name())),
            ("request_id", Field::Str(request_id)),
            ("event", Field::Str(self.event.name())),
            ("outcome", Field::Str(self.outcome.name())),
            ("reason", Field::Str(self.reason)),
            ("subject_hash", self.subject_hash.as_deref().into()),
            ("session_hash", self.session_hash.as_deref().into()),
            ("client_prefix", client.as_deref().into()),
        ])
    }
}

#[cfg(test)]
mod tests;
