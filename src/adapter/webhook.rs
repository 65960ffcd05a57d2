//! `POST /auth/revocations`, the revocation webhook: the I/O of it. What a call must be
//! (signature, window, body) and what a replay is are the core's ([`crate::webhook`]); this
//! reads the body and the signature, keeps the replay marker (this isolate and KV) and writes
//! the revocations, which this isolate enforces from this moment on.

use worker::{Env, Request};

use super::{log, refresh, revoke};
use crate::audit;
use crate::config::EdgeConfig;
use crate::gate::{Facts, Reply};
use crate::rejection::{Reason, Rejection};
use crate::webhook::{self, WebhookFault};

fn refused(f: WebhookFault) -> Rejection {
    Rejection::new(Reason::Webhook(f))
}

/// Takes one webhook call, and writes its audit lines ([`audit::webhook`]).
pub(super) async fn take(
    req: Request,
    env: &Env,
    config: &EdgeConfig,
    facts: &Facts<'_>,
) -> Result<Reply, Rejection> {
    let result = take_call(req, env, config, facts).await;
    for line in audit::webhook(result.as_ref().map(|(_, r)| r)) {
        log::audit(&line, facts.connecting_ip);
    }
    result.map(|(reply, _)| reply)
}

async fn take_call(
    req: Request,
    env: &Env,
    config: &EdgeConfig,
    facts: &Facts<'_>,
) -> Result<(Reply, webhook::Revocations), Rejection> {
    let body = super::body::read_request(&req, webhook::MAX_BODY_BYTES).await?;
    let header = req.headers().get(webhook::SIGNATURE_HEADER).ok().flatten();
    let now = super::now_secs();
    let verified =
        webhook::verify(&config.webhook.0, header.as_deref(), &body, now).map_err(refused)?;
    let revocations = webhook::parse_body(facts.content_type, &body).map_err(refused)?;
    let key = verified.replay_key;
    let seen_here = revoke::seen_or_mark(env, &key, webhook::REPLAY_TTL_SECS);
    let in_kv = if seen_here {
        Ok(true)
    } else {
        revoke::stored(env, &key).await
    };
    if in_kv.is_err() {
        log::event(log::Level::Error, "webhook", "replay_marker_unreadable");
    }
    webhook::replay(seen_here, in_kv).map_err(refused)?;
    if !revoke::store_marker(env, &key, webhook::REPLAY_TTL_SECS.unsigned_abs()).await {
        log::event(log::Level::Error, "webhook", "replay_marker_not_stored");
    }
    // Every entry is this isolate's at once; then to KV one after another (at most
    // `webhook::MAX_IDS`).
    let entries = webhook::entries(
        &revocations,
        i64::try_from(super::now_ms()).unwrap_or(i64::MAX),
    );
    for sid in &revocations.session_ids {
        refresh::forget(sid);
    }
    revoke::remember(env, &entries);
    let mut stored = true;
    for (key, value) in entries {
        stored &= revoke::put(env, config, &key, value).await;
    }
    if !stored {
        log::event(log::Level::Error, "webhook", "kv_write_failed");
        return Err(refused(WebhookFault::NotStored));
    }
    log::event(log::Level::Info, "webhook", "revocations_taken");
    let reply = Reply::json(&webhook::taken_reply(&revocations), Vec::new());
    Ok((reply, revocations))
}
