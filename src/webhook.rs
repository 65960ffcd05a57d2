//! `POST /auth/revocations`: the webhook an app backend calls after revoking sessions or users at
//! a store that cannot write the edge's KV (Transmit), pure: the signature, its time window and
//! the body. The adapter reads the body, keeps the replay markers and writes the revocations.
//!
//! The call is signed as Stripe signs its webhooks: header
//! `Edge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the body the
//! exact bytes sent. Checked in this order, each refusal its own [`WebhookFault`]:
//! 1. the header parses (400), with one `t` and one to [`MAX_SIGNATURES`] `v1` values;
//! 2. a `v1` is the MAC of `"<t>.<body>"` under one of the configured secrets (401), compared
//!    in constant time (`hmac`'s `verify_slice`, `subtle` underneath);
//! 3. `t` is at most [`TOLERANCE_SECS`] from the edge's clock, either way (401);
//! 4. the body is `{"session_ids": [...], "user_ids": [...]}` (415 for another content type,
//!    400 otherwise): JSON, no other field, at least one id, at most [`MAX_IDS`] in all, each
//!    1–[`MAX_ID_BYTES`] bytes without control characters;
//! 5. the adapter refuses a replay of the same signed call (409): its MAC's key
//!    ([`Verified::replay_key`]) is kept in the isolate and in KV for [`REPLAY_TTL_SECS`].
//!
//! The MAC is checked before the time so that without the secret nothing but "bad signature"
//! is learnt; the body is read only after both.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::revocation::{
    session_key, user_entry_value, user_key, webhook_replay_key, SESSION_ENTRY_VALUE,
};

/// The signature header (matched case-insensitively by the runtime).
pub const SIGNATURE_HEADER: &str = "edge-signature";
/// The largest distance between the signed time and the edge's clock, seconds (inclusive).
pub const TOLERANCE_SECS: i64 = 300;
/// How long a call's replay marker lives, seconds: past the window on both sides.
pub const REPLAY_TTL_SECS: i64 = 2 * TOLERANCE_SECS + 60;
/// The largest body read, bytes (413 past it).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Most ids (sessions and users together) in one call.
pub const MAX_IDS: usize = 50;
/// Longest id, bytes.
pub const MAX_ID_BYTES: usize = 512;
/// Most `v1` values in one header (a sender rolling its secret signs with both).
pub const MAX_SIGNATURES: usize = 4;
/// Shortest secret accepted in the configuration, bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest header accepted, bytes.
const MAX_HEADER_BYTES: usize = 512;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFault {
    /// No `Edge-Signature` header: 401.
    MissingSignature,
    /// The header does not parse: 400.
    MalformedSignature,
    /// No `v1` is the MAC of the call under a configured secret: 401.
    BadSignature,
    /// The signed time is more than [`TOLERANCE_SECS`] away: 401.
    StaleTimestamp,
    /// This signed call was taken already: 409.
    Replayed,
    /// Not `application/json`: 415.
    ContentType,
    /// Not the JSON object expected (or a field it does not take): 400.
    Json,
    /// No id at all: 400.
    NoIds,
    /// More than [`MAX_IDS`] ids: 400.
    TooManyIds,
    /// An id empty, too long, or with control characters: 400.
    BadId,
    /// KV did not take every revocation (this isolate enforces them; others may not): 503, to
    /// be retried with a new signature.
    NotStored,
}

impl WebhookFault {
    /// The stable code for log lines.
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingSignature => "webhook_missing_signature",
            Self::MalformedSignature => "webhook_malformed_signature",
            Self::BadSignature => "webhook_bad_signature",
            Self::StaleTimestamp => "webhook_stale_timestamp",
            Self::Replayed => "webhook_replayed",
            Self::ContentType => "webhook_content_type",
            Self::Json => "webhook_json",
            Self::NoIds => "webhook_no_ids",
            Self::TooManyIds => "webhook_too_many_ids",
            Self::BadId => "webhook_bad_id",
            Self::NotStored => "webhook_not_stored",
        }
    }
}

/// A parsed `Edge-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The signed time, unix seconds.
    pub t: i64,
    /// The `v1` MACs, 32 bytes each.
    pub macs: Vec<[u8; 32]>,
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    Some(digit(*pair.first()?)? << 4 | digit(*pair.get(1)?)?)
}

fn mac_of_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = hex_byte(pair)?;
    }
    Some(out)
}

/// Parses `t=<digits>,v1=<64 hex>[,v1=<64 hex>…]` (spaces after a comma allowed, keys in any
/// order; an unknown key, a second `t`, a `t` that is not 1–12 digits or a `v1` that is not 64
/// hex digits refuse it).
pub fn parse_signature(header: &str) -> Result<Signature, WebhookFault> {
    let bad = WebhookFault::MalformedSignature;
    if header.len() > MAX_HEADER_BYTES {
        return Err(bad);
    }
    let mut t = None;
    let mut macs = Vec::new();
    for part in header.split(',').map(|p| p.trim_start_matches(' ')) {
        let (key, value) = part.split_once('=').ok_or(bad)?;
        match key {
            "t" if t.is_none() => {
                let digits = !value.is_empty()
                    && value.len() <= 12
                    && value.bytes().all(|b| b.is_ascii_digit());
                t = Some(value.parse::<i64>().ok().filter(|_| digits).ok_or(bad)?);
            }
            "v1" if macs.len() < MAX_SIGNATURES => macs.push(mac_of_hex(value).ok_or(bad)?),
            _ => return Err(bad),
        }
    }
    match (t, macs.is_empty()) {
        (Some(t), false) => Ok(Signature { t, macs }),
        _ => Err(bad),
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// The header value a sender computes: `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mac = keyed(secret, t, body).map(|m| m.finalize().into_bytes());
    format!("t={t},v1={}", mac.map(|m| hex(&m)).unwrap_or_default())
}

/// HMAC-SHA256 under `secret` over `"<t>.<body>"` (HMAC takes keys of any length, so `None`
/// never happens; it would match nothing).
fn keyed(secret: &[u8], t: i64, body: &[u8]) -> Option<HmacSha256> {
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret).ok()?;
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    Some(m)
}

/// A call whose signature and time were accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The KV key of its replay marker (from the MAC that matched).
    pub replay_key: String,
}

/// Steps 1–3: the signature `header` of `body`, under any of `secrets`, at `now` (seconds).
pub fn verify(
    secrets: &[String],
    header: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Verified, WebhookFault> {
    let sig = parse_signature(header.ok_or(WebhookFault::MissingSignature)?)?;
    let matched = sig.macs.iter().find(|m| {
        secrets.iter().any(|secret| {
            keyed(secret.as_bytes(), sig.t, body)
                .is_some_and(|k| k.verify_slice(m.as_slice()).is_ok())
        })
    });
    let Some(matched) = matched else {
        return Err(WebhookFault::BadSignature);
    };
    if now.abs_diff(sig.t) > TOLERANCE_SECS.unsigned_abs() {
        return Err(WebhookFault::StaleTimestamp);
    }
    Ok(Verified {
        replay_key: webhook_replay_key(&hex(matched)),
    })
}

/// What a webhook call revokes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// Sessions to refuse (the store's session ids: the edge's session cookies name them).
    pub session_ids: Vec<String>,
    /// Users all of whose tokens and cookies issued up to now are refused.
    pub user_ids: Vec<String>,
}

/// The strings of a JSON array (`None`: not an array of strings).
fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Step 4: the body, of the given content type.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Revocations, WebhookFault> {
    let json = content_type.is_some_and(|t| {
        let t = t.trim_start().to_ascii_lowercase();
        t == "application/json" || t.starts_with("application/json;")
    });
    if !json {
        return Err(WebhookFault::ContentType);
    }
    // Read through `serde_json::Value`, whose reader the edge links anyway.
    let v: Value = serde_json::from_slice(body).map_err(|_| WebhookFault::Json)?;
    let object = v.as_object().ok_or(WebhookFault::Json)?;
    let mut r = Revocations::default();
    for (field, value) in object {
        let ids = strings(value).ok_or(WebhookFault::Json)?;
        match field.as_str() {
            "session_ids" => r.session_ids = ids,
            "user_ids" => r.user_ids = ids,
            _ => return Err(WebhookFault::Json),
        }
    }
    let count = r.session_ids.len().saturating_add(r.user_ids.len());
    if count == 0 {
        return Err(WebhookFault::NoIds);
    }
    if count > MAX_IDS {
        return Err(WebhookFault::TooManyIds);
    }
    let fine = |id: &String| {
        !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
    };
    if !r.session_ids.iter().chain(&r.user_ids).all(fine) {
        return Err(WebhookFault::BadId);
    }
    Ok(r)
}

/// Step 5, the replay decision: a call whose marker this isolate holds (`seen_here`) or KV
/// holds (`in_kv`) was taken already. When KV cannot be read the call is taken: a replay only
/// repeats revocations (README: why that is harmless), while refusing would drop a real one.
pub fn replay(seen_here: bool, in_kv: Result<bool, ()>) -> Result<(), WebhookFault> {
    if seen_here || in_kv == Ok(true) {
        Err(WebhookFault::Replayed)
    } else {
        Ok(())
    }
}

/// The KV entries (key, value) a call taken at `now_ms` writes: a session entry per session
/// id, a user entry at `now_ms` per user id (every token and cookie of the user issued up to
/// the moment the edge took the call).
pub fn entries(r: &Revocations, now_ms: i64) -> Vec<(String, String)> {
    let sessions = r
        .session_ids
        .iter()
        .map(|id| (session_key(id), SESSION_ENTRY_VALUE.to_owned()));
    let users = r
        .user_ids
        .iter()
        .map(|id| (user_key(id), user_entry_value(now_ms)));
    sessions.chain(users).collect()
}

/// The answer to a call taken, every revocation stored: how many of each it revoked.
pub fn taken_reply(r: &Revocations) -> serde_json::Value {
    serde_json::json!({
        "revoked": true,
        "sessions": r.session_ids.len(),
        "users": r.user_ids.len(),
    })
}

#[cfg(test)]
mod tests;
