//! Structured log lines (one JSON object each). They carry decisions and reasons, never a
//! token, a cookie, a header value or a key: only the path (without its query, which may hold
//! anything), the method and static reason strings.

use worker::console_log;

use crate::config::ConfigError;
use crate::gate::Note;
use crate::rejection::Rejection;

pub(super) fn config_error(e: &ConfigError) {
    let line = serde_json::json!({
        "level": "error",
        "phase": "config",
        "key": e.key,
        "problem": e.problem,
    });
    console_log!("{line}");
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
    let line = serde_json::json!({
        "level": if r.status >= 500 { "error" } else { "info" },
        "phase": r.reason.rule().phase.name(),
        "method": method,
        "path": path,
        "status": r.status,
        "reason": r.reason.code(),
    });
    console_log!("{line}");
}

/// A note of the gate's ([`Note`]).
pub(super) fn note(note: Note) {
    let (level, phase, reason) = note.line();
    event(level, phase, reason);
}

pub(super) fn jwks_failed(why: &'static str, have_fallback: bool) {
    let line = serde_json::json!({
        "level": "warn",
        "phase": "keys",
        "reason": why,
        "using_stale_keys": have_fallback,
    });
    console_log!("{line}");
}

pub(super) fn event(level: &'static str, phase: &'static str, reason: &'static str) {
    let line = serde_json::json!({ "level": level, "phase": phase, "reason": reason });
    console_log!("{line}");
}
