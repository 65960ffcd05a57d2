//! One request to a user's Durable Object: the [`Envelope`] out, the [`Answer`] back; then the
//! edge's revocation entries for what it ended ([`super::revocations`]), once the object has
//! committed.

use worker::{Headers, Method, ObjectId, Request, RequestInit};

use super::{body, internal, Cx};
use crate::api::ApiError;
use crate::envelope::{Answer, Command, Envelope, Reply, MAX_REPLY_BYTES};
use crate::rules::Rejection;

/// Runs `command` in the object `id` under the configured policy at `cx.now`, then writes the
/// revocation entries for what it ended (`user`: the object's user, named for a revoke-all). A
/// refresh refused as reuse names the session it ended.
pub(super) async fn call(
    id: &ObjectId<'_>,
    cx: &mut Cx<'_>,
    command: Command,
    user: Option<&str>,
) -> Result<Reply, ApiError> {
    let envelope = Envelope {
        policy: cx.cfg.policy,
        now: cx.now,
        command,
    };
    let body = serde_json::to_string(&envelope).map_err(|e| internal("envelope", e))?;
    let headers = Headers::new();
    headers
        .set("content-type", "application/json")
        .map_err(|e| internal("headers", e))?;
    // The object's lines carry the request's id too.
    headers
        .set("x-request-id", &super::log::request_id())
        .map_err(|e| internal("headers", e))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let req = Request::new_with_init("https://user-sessions.internal/op", &init)
        .map_err(|e| internal("request", e))?;
    let stub = id.get_stub().map_err(|e| internal("stub", e))?;
    cx.metrics.call_made();
    let resp = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| internal("durable object fetch", e))?;
    // Per-request counters (`EXPOSE_METRICS`), every call's SQL summed.
    cx.metrics
        .add_sql(resp.headers().get("x-sql").ok().flatten().as_deref());
    if resp.status_code() != 200 {
        return Err(internal("durable object", resp.status_code()));
    }
    let reply = body::read_response(&resp, MAX_REPLY_BYTES)
        .await
        .map_err(|e| internal("durable object reply", e.code()))?;
    let answer = serde_json::from_slice::<Answer>(&reply)
        .map_err(|e| internal("durable object reply", super::log::json_cause(&e)))?;
    super::revocations::write(cx, user, &answer.ended).await;
    match answer.reply {
        Reply::Rejected {
            rejection: Rejection::RefreshTokenReused,
        } => Err(ApiError::RefreshTokenReused(
            answer.ended.sessions.last().cloned(),
        )),
        reply => Ok(reply),
    }
}

/// The error answer for a reply the route did not expect.
pub(super) fn unexpected(reply: Reply) -> ApiError {
    match reply {
        Reply::Rejected { rejection } => rejected(rejection),
        _ => internal("durable object", "unexpected reply"),
    }
}

fn rejected(r: Rejection) -> ApiError {
    match r {
        Rejection::SessionNotFound => ApiError::SessionNotFound,
        Rejection::InvalidRefreshToken => ApiError::InvalidRefreshToken,
        Rejection::RefreshTokenExpired => ApiError::RefreshTokenExpired,
        Rejection::RefreshTokenReused => ApiError::RefreshTokenReused(None),
        Rejection::TooManyAttempts { retry_after_secs } => {
            ApiError::TooManyAttempts(retry_after_secs)
        }
        // A used or wrong code is refused like a wrong password (the log says which).
        Rejection::CodeReplayed | Rejection::WrongCode => ApiError::InvalidCredentials,
        Rejection::CodeExpired => ApiError::PasscodeExpired,
    }
}
