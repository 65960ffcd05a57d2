//! Revocation in Workers KV (binding `REVOCATIONS`): reads through the isolate's cache, the
//! writes of logout, logout-all, refresh-token reuse and the webhook, and the webhook's replay
//! markers. The rules are in [`crate::revocation`] and [`crate::webhook`].

use worker::Env;

use super::{log, now_ms, now_secs, with_isolate};
use crate::config::EdgeConfig;
use crate::gate;
use crate::rejection::Rejection;
use crate::revocation::{self, Issued, Lookup};

/// The KV binding of the revocation list.
pub(super) const BINDING: &str = "REVOCATIONS";

/// Whether this deployment has the revocation namespace bound.
pub(super) fn bound(env: &Env) -> bool {
    env.kv(BINDING).is_ok()
}

/// One KV value through the cache: `Ok(None)` absent, `Err(())` unreadable.
async fn read(env: &Env, key: String, now: i64) -> Result<Option<String>, ()> {
    if let Some(hit) = with_isolate(env, |i| i.revocations.get(&key, now)) {
        return Ok(hit);
    }
    let value = kv_get(env, &key).await?;
    with_isolate(env, |i| i.revocations.put(key, value.clone(), now, false));
    Ok(value)
}

/// One KV value, past the cache: `Ok(None)` absent, `Err(())` unreadable.
async fn kv_get(env: &Env, key: &str) -> Result<Option<String>, ()> {
    let kv = env.kv(BINDING).map_err(|_| ())?;
    kv.get(key).text().await.map_err(|_| ())
}

/// Writes `key` = `value` to KV for `ttl` seconds. Returns whether KV took it.
async fn kv_put(env: &Env, key: &str, value: String, ttl: u64) -> bool {
    let Ok(kv) = env.kv(BINDING) else {
        return false;
    };
    match kv.put(key, value) {
        Ok(put) => put.expiration_ttl(ttl).execute().await.is_ok(),
        Err(_) => false,
    }
}

/// The decision's input from what was read (`Err(())`: unreadable).
fn lookup_of(user: Result<Option<String>, ()>, session_revoked: Result<bool, ()>) -> Lookup {
    Lookup {
        session_revoked: session_revoked.ok(),
        user_revoked_at: user
            .ok()
            .map(|v| v.as_deref().and_then(revocation::parse_user_entry)),
    }
}

/// The revocation entries of `subject` (and its session) from the isolate's cache alone,
/// without I/O (the fast path): `None` when the cache misses either; `Some(None)` when no
/// namespace is bound.
pub(super) fn cached(
    env: &Env,
    subject: &str,
    session_id: Option<&str>,
    now: i64,
) -> Option<Option<Lookup>> {
    let user_key = revocation::user_key(subject);
    let session_key = session_id.map(revocation::session_key);
    with_isolate(env, |i| {
        if !i.revocations_bound {
            return Some(None);
        }
        let user = i.revocations.get(&user_key, now)?;
        let session_revoked = match &session_key {
            Some(key) => i.revocations.get(key, now)?.is_some(),
            None => false,
        };
        Some(Some(lookup_of(Ok(user), Ok(session_revoked))))
    })
}

/// The revocation entries of `subject` (and its session), through the cache, read in
/// parallel; `None` when no namespace is bound (gate-only deployments: nothing can be revoked
/// at the edge, documented; sessions require the binding).
pub(super) async fn lookup(env: &Env, subject: &str, session_id: Option<&str>) -> Option<Lookup> {
    if !with_isolate(env, |i| i.revocations_bound) {
        return None;
    }
    let now = now_secs();
    let user = read(env, revocation::user_key(subject), now);
    let session = async {
        match session_id {
            Some(sid) => read(env, revocation::session_key(sid), now)
                .await
                .map(|v| v.is_some()),
            None => Ok(false),
        }
    };
    let (user, session) = futures_util::join!(user, session);
    Some(lookup_of(user, session))
}

/// The revocation check of a credential of `subject` (and its session) `issued` as said,
/// decided by the core ([`gate::judge_revocation`]), its note logged.
pub(super) async fn check(
    env: &Env,
    config: &EdgeConfig,
    subject: &str,
    session_id: Option<&str>,
    issued: Issued,
) -> Result<(), Rejection> {
    let found = lookup(env, subject, session_id).await;
    let (verdict, note) = gate::judge_revocation(config, found, issued);
    if let Some(note) = note {
        log::note(note);
    }
    verdict
}

fn ttl(config: &EdgeConfig) -> u64 {
    revocation::entry_ttl(
        config.revocation.max_access_token_secs,
        config
            .session
            .as_ref()
            .map(|s| u64::try_from(s.session_max_secs).unwrap_or(0)),
        u64::try_from(config.policy.leeway_secs).unwrap_or(0),
    )
}

async fn write(env: &Env, config: &EdgeConfig, key: String, value: String) -> bool {
    // This isolate knows at once, whatever KV does.
    remember(env, &[(key.clone(), value.clone())]);
    put(env, config, &key, value).await
}

/// This isolate's own revocations (key, value): refused here from this moment on.
pub(super) fn remember(env: &Env, entries: &[(String, String)]) {
    let now = now_secs();
    with_isolate(env, |i| {
        for (key, value) in entries {
            i.revocations
                .put(key.clone(), Some(value.clone()), now, true);
        }
    });
}

/// One revocation entry to KV, for the entries' lifetime. Returns whether KV took it.
pub(super) async fn put(env: &Env, config: &EdgeConfig, key: &str, value: String) -> bool {
    kv_put(env, key, value, ttl(config)).await
}

/// Whether this isolate holds the webhook replay marker `key`; if not, it holds it from now
/// on, for `secs` (checked and set without an `await`: two copies of one call in this isolate
/// cannot both pass).
pub(super) fn seen_or_mark(env: &Env, key: &str, secs: i64) -> bool {
    let now = now_secs();
    with_isolate(env, |i| {
        let seen = i.revocations.holds(key, now);
        if !seen {
            i.revocations
                .remember(key.to_owned(), "1".to_owned(), now, secs);
        }
        seen
    })
}

/// Whether KV holds `key`, read past the isolate's cache (`Err(())`: unreadable).
pub(super) async fn stored(env: &Env, key: &str) -> Result<bool, ()> {
    Ok(kv_get(env, key).await?.is_some())
}

/// Writes the marker `key` to KV for `secs`. Returns whether KV took it.
pub(super) async fn store_marker(env: &Env, key: &str, secs: u64) -> bool {
    kv_put(env, key, "1".to_owned(), secs).await
}

/// Revokes one session at the edge. Returns whether KV took the write.
pub(super) async fn revoke_session(env: &Env, config: &EdgeConfig, session_id: &str) -> bool {
    write(
        env,
        config,
        revocation::session_key(session_id),
        revocation::SESSION_ENTRY_VALUE.to_owned(),
    )
    .await
}

/// Revokes every token and cookie of `subject` issued up to now (milliseconds). Returns
/// whether KV took the write.
pub(super) async fn revoke_user(env: &Env, config: &EdgeConfig, subject: &str) -> bool {
    let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    write(
        env,
        config,
        revocation::user_key(subject),
        revocation::user_entry_value(now),
    )
    .await
}
