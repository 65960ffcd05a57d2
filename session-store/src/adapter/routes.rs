//! Each route's steps: read and validate the body, check the caller's ids against the user's
//! object, run one [`Command`] there ([`durable::call`]), answer.

use edge_session_protocol::wire::{channel, ClientTokenResponse, OtpSent};
use edge_session_protocol::{paths, ClientAttributes, SessionInfo, TokenResponse};
use worker::{ObjectId, ObjectNamespace, Request, Response, Url};

use super::durable::{self, unexpected};
use super::{body, internal, json, log, no_content, Cx};
use crate::api::ApiError;
use crate::audit::{Level, Seen};
use crate::config::{Config, User};
use crate::envelope::{Command, Reply};
use crate::ids;
use crate::otp;
use crate::password;
use crate::request::{
    self, Logout, OtpAuthenticate, OtpSend, PasswordAuthenticate, Refresh, SessionAuthenticate,
    TotpAuthenticate,
};
use crate::rules::{Factor, Issued, NewChain};
use crate::tokens::{self as token_rules, Grant};

/// The request's `Content-Type` and body, read through the capped reader
/// ([`request::MAX_BODY_BYTES`]).
async fn read_body(req: &Request) -> Result<(Option<String>, Vec<u8>), ApiError> {
    let content_type = req.headers().get("content-type").ok().flatten();
    let bytes = body::read_request(req, request::MAX_BODY_BYTES).await?;
    Ok((content_type, bytes))
}

async fn parse<T: serde::de::DeserializeOwned + request::Validate>(
    req: &Request,
) -> Result<T, ApiError> {
    let (ct, bytes) = read_body(req).await?;
    request::parse_json(ct.as_deref(), &bytes)
}

/// `POST /oidc/token`: a ClientAccessToken for the configured client.
pub(super) async fn client_token(req: &Request, cx: &Cx<'_>) -> Result<Response, ApiError> {
    let cfg = cx.cfg;
    let (ct, bytes) = read_body(req).await?;
    let creds = request::parse_token_form(ct.as_deref(), &bytes)?;
    if !cfg.client_matches(&creds.client_id, &creds.client_secret) {
        return Err(ApiError::InvalidClient);
    }
    json(&ClientTokenResponse {
        access_token: cfg
            .client_tokens
            .issue(cx.now, cfg.client_token_ttl_seconds),
        token_type: Some("Bearer".into()),
        expires_in: u64::try_from(cfg.client_token_ttl_seconds).unwrap_or(0),
    })
}

/// `POST /v1/auth/password/authenticate`: verify the password, then create a session or add
/// the authentication to the caller's session of the same user ([`join`]).
pub(super) async fn password_authenticate(
    req: &Request,
    cx: &mut Cx<'_>,
) -> Result<Response, ApiError> {
    let body: PasswordAuthenticate = parse(req).await?;
    let audience = begin(
        cx.cfg,
        &mut cx.seen,
        body.session_id.as_deref(),
        body.client_attributes.as_ref(),
        body.resource.as_deref(),
    )?;
    // The username's failed-login window first: past its limit, no password work at all.
    // Unknown usernames have a window like known ones, so both answer alike.
    let attempts = admit(cx, &body.username).await?;
    // Same work for unknown users (dummy hash of equal cost) and wrong passwords.
    let (user, hash) = cx.cfg.users.for_login(&body.username);
    let matches = password::verify(hash, &body.password);
    let user = match (user, matches) {
        (Some(u), true) => u,
        _ => return Err(ApiError::InvalidCredentials),
    };
    cx.seen.subject = Some(user.user_id.clone());
    succeeded(&attempts, cx).await?;
    let existing = body.session_id.map(|s| s.into_owned());
    join(cx, &user.user_id, Factor::Password, existing, audience).await
}

/// An authentication of `user_id` by `factor`: the user's object proves what is left to prove
/// of it and creates a session, or adds it to `existing` (a session of this user only).
async fn join(
    cx: &mut Cx<'_>,
    user_id: &str,
    factor: Factor,
    existing: Option<String>,
    audience: &str,
) -> Result<Response, ApiError> {
    let id = cx
        .ns
        .id_from_name(user_id)
        .map_err(|e| internal("id_from_name", e))?;
    let hex = id.to_string();
    if let Some(existing) = &existing {
        if ids::session_route(existing) != Some(hex.as_str()) {
            return Err(ApiError::SessionNotFound);
        }
    }
    let new_session_id = ids::session_id(&hex, &random()?);
    let (refresh_token, chain) = new_chain(&hex, audience)?;
    let command = Command::Authenticate {
        user_id: user_id.to_string(),
        factor,
        existing,
        new_session_id,
        chain,
    };
    let reply = durable::call(&id, cx, command, Some(user_id)).await?;
    tokens(cx, reply, refresh_token)
}

/// A slot in the failed-login window of `name` (a username, or the identifier given when it
/// names nobody): the object holding it, or 429.
async fn admit<'a>(cx: &mut Cx<'a>, name: &str) -> Result<ObjectId<'a>, ApiError> {
    let attempts = cx
        .ns
        .id_from_name(&ids::login_attempts_object(name))
        .map_err(|e| internal("id_from_name", e))?;
    match durable::call(&attempts, cx, Command::AdmitLogin, None).await? {
        Reply::Done { .. } => Ok(attempts),
        other => Err(unexpected(other)),
    }
}

/// The authentication succeeded: the window of `attempts` is cleared.
async fn succeeded(attempts: &ObjectId<'_>, cx: &mut Cx<'_>) -> Result<(), ApiError> {
    match durable::call(attempts, cx, Command::LoginSucceeded, None).await? {
        Reply::Done { .. } => Ok(()),
        other => Err(unexpected(other)),
    }
}

/// The user a backend method names, or 400 for an identifier type the directory lacks.
fn named<'c>(
    cfg: &'c Config,
    kind: Option<&str>,
    identifier: &str,
) -> Result<Option<&'c User>, ApiError> {
    cfg.users
        .by_identifier(kind, identifier)
        .map_err(|_| ApiError::UnsupportedChannel("identifier_type"))
}

/// `POST /v1/auth/totp/authenticate`: the code must match the user's enrolled secret within a
/// step of drift ([`otp::totp_step`]); the user's object refuses a step already used. Wrong
/// codes count in the user's failed-login window like wrong passwords.
pub(super) async fn totp_authenticate(
    req: &Request,
    cx: &mut Cx<'_>,
) -> Result<Response, ApiError> {
    let body: TotpAuthenticate = parse(req).await?;
    let cfg = cx.cfg;
    let audience = begin(
        cfg,
        &mut cx.seen,
        body.session_id.as_deref(),
        body.client_attributes.as_ref(),
        body.resource.as_deref(),
    )?;
    let user = named(cfg, body.identifier_type.as_deref(), &body.identifier)?;
    let attempts = admit(cx, user.map_or(&*body.identifier, |u| &u.username)).await?;
    let user = user.ok_or(ApiError::InvalidCredentials)?;
    let step = user
        .totp_key()
        .and_then(|key| otp::totp_step(&key, &body.token, cx.now))
        .ok_or(ApiError::InvalidCredentials)?;
    cx.seen.subject = Some(user.user_id.clone());
    let existing = body.session_id.map(|s| s.into_owned());
    let answer = join(cx, &user.user_id, Factor::Totp { step }, existing, audience).await?;
    succeeded(&attempts, cx).await?;
    Ok(answer)
}

/// `POST /v1/auth/otp/send`: a new 6-digit passcode for the user, stored hashed in the user's
/// object. This store has no mailer and no SMS: it delivers only where `OTP_DEV_DELIVERY` is
/// on (local development), by `direct` (the code in the answer) or `email` (the code in the dev
/// mailbox, [`dev_mailbox`]); otherwise every channel is 400. Each send takes a slot in the
/// user's failed-login window.
pub(super) async fn otp_send(req: &Request, cx: &mut Cx<'_>) -> Result<Response, ApiError> {
    let body: OtpSend = parse(req).await?;
    let cfg = cx.cfg;
    let direct = match body.channel.as_ref() {
        channel::DIRECT if cfg.otp_dev_delivery => true,
        channel::EMAIL if cfg.otp_dev_delivery => false,
        _ => return Err(ApiError::UnsupportedChannel("channel")),
    };
    let user = named(cfg, Some(&body.identifier_type), &body.identifier)?;
    admit(cx, user.map_or(&*body.identifier, |u| &u.username)).await?;
    let user = user.ok_or(ApiError::UserNotFound)?;
    cx.seen.subject = Some(user.user_id.clone());
    let code = otp::passcode(random()?);
    let salt = base16ct::lower::encode_string(&random::<16>()?);
    let command = Command::IssueOtp {
        hash: otp::passcode_hash(&salt, &code),
        salt,
        dev_code: (!direct).then(|| code.clone()),
    };
    let id = cx
        .ns
        .id_from_name(&user.user_id)
        .map_err(|e| internal("id_from_name", e))?;
    match durable::call(&id, cx, command, None).await? {
        Reply::Done { .. } => json(&OtpSent {
            message: "Passcode issued".into(),
            code: direct.then_some(code),
        }),
        other => Err(unexpected(other)),
    }
}

/// `GET /dev/mailbox/{user_id}` (DEV ONLY, `OTP_DEV_DELIVERY`; 404 otherwise): the code of the
/// user's pending passcode sent by `email`, as the mail would carry it (`{"code": null}` when
/// none is pending).
pub(super) async fn dev_mailbox(cx: &mut Cx<'_>, user_id: &str) -> Result<Response, ApiError> {
    if !cx.cfg.otp_dev_delivery {
        return Err(ApiError::NotFound);
    }
    let user = cx.cfg.users.by_id(user_id).ok_or(ApiError::UserNotFound)?;
    let id = cx
        .ns
        .id_from_name(&user.user_id)
        .map_err(|e| internal("id_from_name", e))?;
    match durable::call(&id, cx, Command::DevMailbox, None).await? {
        Reply::Mail { code } => json(&serde_json::json!({ "code": code })),
        other => Err(unexpected(other)),
    }
}

/// `POST /v1/auth/otp/authenticate`: the user's object checks the passcode (pending, within
/// 5 minutes, right; the fifth wrong guess ends it) and uses it up.
pub(super) async fn otp_authenticate(req: &Request, cx: &mut Cx<'_>) -> Result<Response, ApiError> {
    let body: OtpAuthenticate = parse(req).await?;
    let cfg = cx.cfg;
    let audience = begin(
        cfg,
        &mut cx.seen,
        body.session_id.as_deref(),
        body.client_attributes.as_ref(),
        body.resource.as_deref(),
    )?;
    let user = named(cfg, Some(&body.identifier_type), &body.identifier)?;
    let attempts = admit(cx, user.map_or(&*body.identifier, |u| &u.username)).await?;
    let user = user.ok_or(ApiError::InvalidCredentials)?;
    cx.seen.subject = Some(user.user_id.clone());
    let factor = Factor::EmailOtp {
        passcode: body.passcode.into_owned(),
    };
    let existing = body.session_id.map(|s| s.into_owned());
    let answer = join(cx, &user.user_id, factor, existing, audience).await?;
    succeeded(&attempts, cx).await?;
    Ok(answer)
}

/// `POST /v1/auth/session/authenticate`: new tokens for a live session, extending it.
pub(super) async fn session_authenticate(
    req: &Request,
    cx: &mut Cx<'_>,
) -> Result<Response, ApiError> {
    let body: SessionAuthenticate = parse(req).await?;
    cx.seen.session = Some(body.session_id.to_string());
    note_client(&mut cx.seen, body.client_attributes.as_ref());
    let audience = cx
        .cfg
        .audience(body.resource.as_deref())
        .ok_or(ApiError::InvalidResource)?;
    let (id, hex) =
        route_to(cx.ns, ids::session_route(&body.session_id)).ok_or(ApiError::SessionNotFound)?;
    let (refresh_token, chain) = new_chain(&hex, audience)?;
    let command = Command::SessionAuthenticate {
        session_id: body.session_id.into_owned(),
        chain,
    };
    let reply = durable::call(&id, cx, command, None).await?;
    tokens(cx, reply, refresh_token)
}

/// `POST /v1/auth/token/refresh`: rotate the refresh token.
pub(super) async fn refresh(req: &Request, cx: &mut Cx<'_>) -> Result<Response, ApiError> {
    let body: Refresh = parse(req).await?;
    let (id, hex) = route_to(cx.ns, ids::refresh_route(&body.refresh_token))
        .ok_or(ApiError::InvalidRefreshToken)?;
    let refresh_token = ids::refresh_token(&hex, &random()?);
    let command = Command::Refresh {
        presented_hash: ids::token_hash(&body.refresh_token),
        refresh_hash: ids::token_hash(&refresh_token),
    };
    let reply = durable::call(&id, cx, command, None).await?;
    tokens(cx, reply, refresh_token)
}

/// `POST /v1/auth/session/logout`: end one session.
pub(super) async fn logout(req: &Request, cx: &mut Cx<'_>) -> Result<Response, ApiError> {
    let body: Logout = parse(req).await?;
    cx.seen.session = Some(body.session_id.to_string());
    let (id, _) =
        route_to(cx.ns, ids::session_route(&body.session_id)).ok_or(ApiError::SessionNotFound)?;
    let command = Command::Logout {
        session_id: body.session_id.into_owned(),
    };
    match durable::call(&id, cx, command, None).await? {
        Reply::Done { .. } => no_content(),
        other => Err(unexpected(other)),
    }
}

/// `GET` ([`Command::List`]) or `DELETE` ([`Command::RevokeAll`]) a user's sessions.
pub(super) async fn user_sessions(
    cx: &mut Cx<'_>,
    user_id: &str,
    command: Command,
) -> Result<Response, ApiError> {
    let user = cx.cfg.users.by_id(user_id).ok_or(ApiError::UserNotFound)?;
    let user_id = user.user_id.clone();
    let id = cx
        .ns
        .id_from_name(&user_id)
        .map_err(|e| internal("id_from_name", e))?;
    match durable::call(&id, cx, command, Some(&user_id)).await? {
        Reply::Sessions { sessions } => json(
            &sessions
                .into_iter()
                .map(|s| SessionInfo::from_millis(s.id, s.created_at, s.expires_at))
                .collect::<Vec<_>>(),
        ),
        Reply::Done { .. } => no_content(),
        other => Err(unexpected(other)),
    }
}

/// `GET /oidc/.well-known/openid-configuration`.
pub(super) fn discovery(cfg: &Config, url: &Url) -> Result<Response, ApiError> {
    let origin = url.origin().ascii_serialization();
    json(&serde_json::json!({
        "issuer": cfg.issuer,
        "jwks_uri": format!("{origin}{}", paths::JWKS),
        "token_endpoint": format!("{origin}{}", paths::CLIENT_TOKEN),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [cfg.keys.current.alg()],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "amr", "sid", "roles", "scope", "client_id", "jti"],
    }))
}

fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    ids::random::<N>().map_err(|e| internal("getrandom", e))
}

/// A fresh refresh token for the object `hex` and the chain it starts.
fn new_chain(hex: &str, audience: &str) -> Result<(String, NewChain), ApiError> {
    let token = ids::refresh_token(hex, &random()?);
    let chain = NewChain {
        refresh_hash: ids::token_hash(&token),
        audience: audience.to_string(),
    };
    Ok((token, chain))
}

/// The object a well-formed id routes to (`None` for ids of no object of this namespace).
fn route_to<'a>(ns: &'a ObjectNamespace, hex: Option<&str>) -> Option<(ObjectId<'a>, String)> {
    let hex = hex?;
    let id = ns.id_from_string(hex).ok()?;
    Some((id, hex.to_string()))
}

/// The end user's address as the caller reports it, for the audit line (replaces the
/// caller's own).
/// What every authentication route does first: notes for its audit line whether it adds to a
/// session (a step-up), which one, and the end user's address; answers the token audience of
/// `resource` (400 for one the store does not serve).
fn begin<'a>(
    cfg: &'a Config,
    seen: &mut Seen,
    session_id: Option<&str>,
    attributes: Option<&ClientAttributes<'_>>,
    resource: Option<&'a str>,
) -> Result<&'a str, ApiError> {
    seen.step_up = session_id.is_some();
    seen.session = session_id.map(str::to_owned);
    note_client(seen, attributes);
    cfg.audience(resource).ok_or(ApiError::InvalidResource)
}

fn note_client(seen: &mut Seen, attributes: Option<&ClientAttributes<'_>>) {
    if let Some(ip) = attributes.and_then(|a| a.ip_address.as_deref()) {
        seen.client_ip = Some(ip.to_owned());
    }
}

/// Signs the access and ID tokens for an issued session (whose user and id the audit line
/// names).
fn tokens(cx: &mut Cx<'_>, reply: Reply, refresh_token: String) -> Result<Response, ApiError> {
    let (cfg, now) = (cx.cfg, cx.now);
    let Issued {
        session,
        audience,
        ended_sessions,
        ..
    } = match reply {
        Reply::Issued(i) => i,
        other => return Err(unexpected(other)),
    };
    cx.seen.subject = Some(session.user_id.clone());
    cx.seen.session = Some(session.id.clone());
    if ended_sessions > 0 {
        // No ids in logs; the edge learns of them through the revocation entries written.
        log::line(
            Level::Info,
            "sessions",
            "session_cap",
            &[("ended_sessions", log::Field::Num(ended_sessions))],
        );
        log::audit(
            &crate::audit::session_cap(&session.user_id),
            cx.seen.client_ip.as_deref(),
        );
    }
    let user = cfg
        .users
        .by_id(&session.user_id)
        .ok_or(ApiError::UserNotFound)?;
    let ttl_seconds =
        token_rules::access_ttl(cfg.access_token_ttl_seconds, now, session.expires_at);
    let grant = Grant {
        issuer: &cfg.issuer,
        client_id: &cfg.client_id,
        user_id: &session.user_id,
        session_id: &session.id,
        audience: &audience,
        roles: &user.roles,
        scope: &cfg.scope,
        auth_time: session.auth_time,
        amr: &session.amr,
        now,
        ttl_seconds,
    };
    let (jti_at, jti_id) = (ids::jti(&random()?), ids::jti(&random()?));
    let key = &cfg.keys.current;
    let sign_err = |e| internal("sign", e);
    let access_token = key
        .sign("at+jwt", &grant.access_claims(&jti_at))
        .map_err(sign_err)?;
    let id_token = key
        .sign("JWT", &grant.id_claims(&jti_id))
        .map_err(sign_err)?;
    json(&TokenResponse {
        access_token,
        id_token: Some(id_token),
        refresh_token: Some(refresh_token),
        token_type: Some("Bearer".into()),
        expires_in: u64::try_from(ttl_seconds).ok(),
        session_id: Some(session.id),
    })
}
