//! Revocation in Workers KV (binding `REVOCATIONS`): reads through the isolate's cache, and
//! the writes of logout and logout-all. The rules are in [`crate::revocation`].

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
    let kv = env.kv(BINDING).map_err(|_| ())?;
    let value = kv.get(&key).text().await.map_err(|_| ())?;
    with_isolate(env, |i| i.revocations.put(key, value.clone(), now, false));
    Ok(value)
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
    let now = now_secs();
    // This isolate knows at once, whatever KV does.
    with_isolate(env, |i| {
        i.revocations
            .put(key.clone(), Some(value.clone()), now, true)
    });
    let Ok(kv) = env.kv(BINDING) else {
        return false;
    };
    match kv.put(&key, value) {
        Ok(put) => put.expiration_ttl(ttl(config)).execute().await.is_ok(),
        Err(_) => false,
    }
}

/// Revokes one session at the edge. Returns whether KV took the write.
pub(super) async fn revoke_session(env: &Env, config: &EdgeConfig, session_id: &str) -> bool {
    write(
        env,
        config,
        revocation::session_key(session_id),
        "1".to_owned(),
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
