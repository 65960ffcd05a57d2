//! Writes the edge's revocation entries (`REVOCATIONS` KV, the edge's own namespace) for what a
//! user's Durable Object ended, after it committed: which entries is the core's decision
//! ([`crate::revocations::entries`]); this only writes them and logs a failure (no id, no key).

use super::log::{self, Field};
use super::Cx;
use crate::audit::Level;
use crate::revocations;
use crate::rules::Ended;

/// The KV binding the edge reads its revocation list from.
const BINDING: &str = "REVOCATIONS";

fn note(level: Level, reason: &str, entries: usize) {
    let entries = u64::try_from(entries).unwrap_or(u64::MAX);
    log::line(
        level,
        "revocation",
        reason,
        &[("entries", Field::Num(entries))],
    );
}

/// Writes the entries for `ended` (`user`: the object's user when the operation named it).
/// Without the binding nothing can be written: logged, the operation stands.
pub(super) async fn write(cx: &Cx<'_>, user: Option<&str>, ended: &Ended) {
    if ended.is_empty() {
        return;
    }
    let ttl = revocations::ttl_secs(
        cx.cfg.access_token_ttl_seconds,
        cx.cfg.policy.session_ttl_ms,
    );
    let entries = revocations::entries(ended, user, cx.now, ttl);
    let Ok(kv) = cx.env.kv(BINDING) else {
        note(Level::Warn, "revocations_not_bound", entries.len());
        return;
    };
    let mut failed = 0;
    for e in &entries {
        let written = match kv.put(&e.key, e.value.as_str()) {
            Ok(put) => put.expiration_ttl(e.ttl_secs).execute().await.is_ok(),
            Err(_) => false,
        };
        if !written {
            failed += 1;
        }
    }
    if failed > 0 {
        note(Level::Error, "revocation_kv_write_failed", failed);
    }
}
