//! Writes the log lines (one JSON object each, built by the core: [`crate::audit`]) with the
//! console method of their level (`console.log`, `console.warn`, `console.error`), so Workers
//! Logs files them under that level. Every line carries the request id of the request it
//! belongs to ([`super::flight::request_id`]).
//!
//! They carry decisions and reasons, never a token, a cookie, a header value or a key: only
//! the path (without its query, which may hold anything), the method, hosts, statuses and
//! static reason strings; ids only hashed (audit lines).

use std::rc::Rc;

use wasm_bindgen::JsValue;

use crate::audit::{self, Audit};
pub(super) use crate::audit::{Field, Level};
use crate::config::ConfigError;
use crate::gate::Note;
use crate::rejection::Rejection;

/// Writes `line` with the console method of `level`.
fn write(level: Level, line: &str) {
    let line = JsValue::from_str(line);
    match level {
        Level::Info => web_sys::console::log_1(&line),
        Level::Warn => web_sys::console::warn_1(&line),
        Level::Error => web_sys::console::error_1(&line),
    }
}

/// A request id of the adapter's own, for a request without `cf-ray` (local runs).
pub(super) fn new_request_id(cf_ray: Option<&str>) -> Rc<str> {
    Rc::from(audit::request_id(cf_ray, || {
        let mut random = [0u8; 8];
        // Without randomness the id is all zeros: it still marks the line as local.
        let _ = getrandom::fill(&mut random);
        random
    }))
}

/// The id of the request being handled; a fresh local one for a line written outside any
/// request (none is, but a line never goes without one).
fn request_id() -> Rc<str> {
    super::flight::request_id().unwrap_or_else(|| new_request_id(None))
}

/// An ordinary line of the current request.
fn ordinary(level: Level, phase: &str, reason: &str, extra: &[(&str, Field<'_>)]) {
    write(
        level,
        &audit::line(level, &request_id(), phase, reason, extra),
    );
}

pub(super) fn config_error(e: &ConfigError) {
    ordinary(
        Level::Error,
        "config",
        "config_invalid",
        &[
            ("key", Field::Str(e.key)),
            ("problem", Field::Str(&e.problem)),
        ],
    );
}

/// The path of a URL the edge refused to parse, for a log line: without the query, at most
/// 256 bytes (a refused target is attacker-chosen and may be long).
pub(super) fn target(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let start = after_scheme + rest.find(['/', '\\']).unwrap_or(rest.len());
    let path = url[start..].split(['?', '#']).next().unwrap_or_default();
    let mut end = path.len().min(256);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    path[..end].to_owned()
}

/// The line of a refusal: its reason's code and phase, the method and the path.
pub(super) fn rejected(method: &str, path: &str, r: &Rejection) {
    let level = if r.status >= 500 {
        Level::Error
    } else {
        Level::Info
    };
    ordinary(
        level,
        r.reason.rule().phase.name(),
        r.reason.code(),
        &[
            ("method", Field::Str(method)),
            ("path", Field::Str(path)),
            ("status", Field::Num(u64::from(r.status))),
        ],
    );
}

/// A note of the gate's ([`Note`]).
pub(super) fn note(note: Note) {
    let (level, phase, reason) = note.line();
    event(level, phase, reason);
}

/// An audit line of the current request, from the client at `client_ip` (the raw
/// `CF-Connecting-IP`; the core writes only its prefix).
pub(super) fn audit(a: &Audit, client_ip: Option<&str>) {
    write(a.level(), &a.line(&request_id(), client_ip));
}

/// An outbound call (`phase`: `jwks`, `store`, `upstream`) that failed: the host it went to,
/// what it asked for (a path without query or ids), why (`reason`) and the status it got.
pub(super) fn outbound_failed(
    level: Level,
    phase: &'static str,
    host: &str,
    what: &str,
    reason: &'static str,
    status: Option<u16>,
) {
    let status = status.map_or(Field::Null, |s| Field::Num(u64::from(s)));
    let extra = [
        ("host", Field::Str(host)),
        ("request", Field::Str(what)),
        ("status", status),
    ];
    ordinary(level, phase, reason, &extra);
}

/// A JWKS fetch that failed: the host, why, the status it got, and whether stale keys are
/// still used.
pub(super) fn jwks_failed(host: &str, why: &'static str, status: Option<u16>, have_fallback: bool) {
    let status = status.map_or(Field::Null, |s| Field::Num(u64::from(s)));
    let extra = [
        ("host", Field::Str(host)),
        ("status", status),
        ("using_stale_keys", Field::Bool(have_fallback)),
    ];
    ordinary(Level::Warn, "keys", why, &extra);
}

/// A signature WebCrypto could not check (`reason`), for `alg`: the request was refused with
/// 503 (the keys are unusable in this isolate).
pub(super) fn signature_unavailable(reason: &'static str, alg: &'static str) {
    let extra = [
        ("alg", Field::Str(alg)),
        ("outcome", Field::Str("jwks_unavailable")),
    ];
    ordinary(Level::Error, "authenticate", reason, &extra);
}

pub(super) fn event(level: Level, phase: &'static str, reason: &'static str) {
    ordinary(level, phase, reason, &[]);
}

/// A line for the request `request_id` (code that runs outside the request's polls: the fast
/// path's promise callbacks).
pub(super) fn event_of(
    request_id: &str,
    level: Level,
    phase: &str,
    reason: &str,
    extra: &[(&str, Field<'_>)],
) {
    write(level, &audit::line(level, request_id, phase, reason, extra));
}
