//! The identity assertion's I/O: the isolate's cache and WebCrypto's signature. What it says
//! and when one is sent again is the core's ([`crate::assertion`]).

use std::rc::Rc;

use worker::Env;

use super::{log, now_secs, with_isolate};
use crate::assertion::{self, Subject};
use crate::config::EdgeConfig;
use crate::gate::Authenticated;
use crate::rejection::{Reason, Rejection, UpstreamFault};
use crate::webcrypto;

/// The assertion held for `auth`'s token and session, if the cache can give one: `Some(None)` when no
/// assertion is configured, `Some(Some(token))` when one is held and reusable, `None` when one
/// must be signed (the fast path then gives up).
pub(super) fn cached(
    env: &Env,
    config: &EdgeConfig,
    auth: &Authenticated,
    now: i64,
) -> Option<Option<Rc<str>>> {
    if config.assertion.is_none() {
        return Some(None);
    }
    let session_id = auth.session_id.as_deref();
    with_isolate(env, |i| i.assertions.get(&auth.claims, session_id, now)).map(Some)
}

/// The assertion for `auth`'s identity: the cached one while it is reusable, else a new one
/// signed through WebCrypto and cached. `None` when no assertion is configured; a refusal
/// (502) when it cannot be signed: the request is not forwarded without it.
pub(super) async fn obtain(
    env: &Env,
    config: &EdgeConfig,
    auth: &Authenticated,
) -> Result<Option<Rc<str>>, Rejection> {
    let now = now_secs();
    if let Some(held) = cached(env, config, auth, now) {
        return Ok(held);
    }
    let Some(settings) = &config.assertion else {
        return Ok(None);
    };
    let subject = Subject::of(&auth.claims, auth.session_id.as_deref());
    let unsigned = assertion::unsigned(settings, &subject, now);
    let unavailable = |reason: &'static str| {
        log::event(log::Level::Error, "forward", reason);
        Rejection::new(Reason::Upstream(UpstreamFault::Assertion))
    };
    let signature = webcrypto::sign_es256(&settings.key, unsigned.input.as_bytes())
        .await
        .map_err(|why| unavailable(why.reason()))?;
    let signed = assertion::complete(unsigned, &signature)
        .ok_or_else(|| unavailable("assertion_signature_length"))?;
    let token = Rc::clone(&signed.token);
    let session_id = auth.session_id.as_deref();
    with_isolate(env, |i| {
        i.assertions.insert(&auth.claims, session_id, signed, now)
    });
    Ok(Some(token))
}
