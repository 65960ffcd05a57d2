//! What the edge's own routes read and answer, pure: the login and refresh-grant bodies they
//! accept, and the JSON they answer (which never holds a session id, only a short handle of
//! it, and holds tokens only for the refresh grant, whose client already held a refresh
//! token).

use serde::Deserialize;

use crate::config::EdgeConfig;
use crate::gate::{Authenticated, Reply};
use crate::rejection::{BodyFault, Reason, Rejection};
use crate::route::Handle;
use crate::session_rules::LoginOutcome;
use crate::store_api::{ApiTokenResponse, SessionInfo};
use crate::token::VerifiedClaims;

/// The username and password bounds are the store's (the edge refuses what the store would).
pub use edge_session_protocol::wire::{MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES};

/// Largest login or refresh-grant body the edge reads, in bytes (README "Edge routes"); the
/// rest is refused with 413 before the store sees it.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
const _: () = assert!(MAX_BODY_BYTES <= edge_session_protocol::wire::MAX_BODY_BYTES);
/// Longest refresh token accepted, in bytes.
pub const MAX_REFRESH_TOKEN_BYTES: usize = 2048;

/// How a login authenticates (`method` of the body; `password` when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// `username` and `password`.
    Password,
    /// A TOTP `code` (RFC 6238, 6 digits).
    Totp,
    /// An email one-time passcode `code` (sent by `POST /auth/otp/send`).
    EmailOtp,
}

/// A login's credentials.
pub struct LoginBody {
    /// How it authenticates.
    pub method: LoginMethod,
    /// The username: required for a password; for a second factor, absent means the user of
    /// the session cookie present.
    pub username: Option<String>,
    /// The password, or the 6-digit code.
    pub secret: String,
}

impl std::fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password or code (nor the username: it identifies a person).
        write!(f, "LoginBody {{ method: {:?}, .. }}", self.method)
    }
}

fn refused(fault: BodyFault) -> Rejection {
    Rejection::new(Reason::Body(fault))
}

/// A login body's fields as sent (JSON or form), before they are judged.
#[derive(Deserialize, Default)]
struct RawLogin {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// The login body: JSON or a form. `method` is `password` (the default: `username` and
/// `password`, both non-empty and within bounds), `totp` or `email_otp` (a `code` of exactly
/// 6 ASCII digits, `username` optional); nothing else.
pub fn parse_login(content_type: Option<&str>, bytes: &[u8]) -> Result<LoginBody, Rejection> {
    let (raw, missing) = raw_login(content_type, bytes)?;
    let method = match raw.method.as_deref() {
        None | Some("password") => LoginMethod::Password,
        Some("totp") => LoginMethod::Totp,
        Some("email_otp") => LoginMethod::EmailOtp,
        Some(_) => return Err(refused(BodyFault::LoginMethod)),
    };
    check_username(raw.username.as_deref())?;
    let secret = match method {
        LoginMethod::Password => {
            let (Some(_), Some(password)) = (&raw.username, raw.password) else {
                return Err(refused(missing));
            };
            if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
                return Err(refused(BodyFault::LoginFields));
            }
            password
        }
        LoginMethod::Totp | LoginMethod::EmailOtp => match raw.code {
            Some(code) if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) => code,
            _ => return Err(refused(BodyFault::LoginFields)),
        },
    };
    Ok(LoginBody {
        method,
        username: raw.username,
        secret,
    })
}

/// The body of `POST /auth/otp/send`: empty, or JSON / a form (the login body's syntax) with an
/// optional `username`, non-empty and within bounds; other fields are ignored.
pub fn parse_otp_send(
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Option<String>, Rejection> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let (raw, _) = raw_login(content_type, bytes)?;
    check_username(raw.username.as_deref())?;
    Ok(raw.username)
}

fn check_username(username: Option<&str>) -> Result<(), Rejection> {
    match username {
        Some(u) if u.is_empty() || u.len() > MAX_USERNAME_BYTES => {
            Err(refused(BodyFault::LoginFields))
        }
        _ => Ok(()),
    }
}

/// The fields of a JSON or form login body, and the fault of a missing field in it.
fn raw_login(content_type: Option<&str>, bytes: &[u8]) -> Result<(RawLogin, BodyFault), Rejection> {
    let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
    let (raw, missing) = if content_type.starts_with("application/json") {
        let raw: RawLogin =
            serde_json::from_slice(bytes).map_err(|_| refused(BodyFault::LoginJson))?;
        (raw, BodyFault::LoginJson)
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut raw = RawLogin::default();
        for (k, v) in url::form_urlencoded::parse(bytes) {
            let slot = match k.as_ref() {
                "method" => &mut raw.method,
                "username" => &mut raw.username,
                "password" => &mut raw.password,
                "code" => &mut raw.code,
                _ => continue,
            };
            *slot = Some(v.into_owned());
        }
        (raw, BodyFault::LoginForm)
    } else {
        return Err(refused(BodyFault::LoginContentType));
    };
    Ok((raw, missing))
}

#[derive(Deserialize)]
struct RefreshGrantBody {
    refresh_token: String,
}

/// The refresh token of a refresh-grant body (`{"refresh_token": "..."}`).
pub fn parse_refresh_grant(bytes: &[u8]) -> Result<String, Rejection> {
    let body: RefreshGrantBody =
        serde_json::from_slice(bytes).map_err(|_| refused(BodyFault::RefreshJson))?;
    if body.refresh_token.is_empty() || body.refresh_token.len() > MAX_REFRESH_TOKEN_BYTES {
        return Err(refused(BodyFault::RefreshTokenField));
    }
    Ok(body.refresh_token)
}

/// A short, non-secret handle for a session id (the id itself is never sent to the browser):
/// the session's hash in log lines ([`crate::audit::id_hash`]), so a handle a user reports
/// finds its lines.
pub fn short_id(session_id: &str) -> String {
    crate::audit::id_hash(session_id)
}

/// The answer of a successful login, and the log code of what it did.
pub fn login_reply(
    claims: &VerifiedClaims,
    amr: &[String],
    outcome: &LoginOutcome,
    set_cookies: Vec<String>,
) -> (Reply, &'static str) {
    let stepped_up = *outcome == LoginOutcome::SteppedUp;
    let replaced = matches!(outcome, LoginOutcome::NewSession { replaces: Some(_) });
    let body = serde_json::json!({
        "authenticated": true,
        "subject": claims.sub,
        "roles": claims.roles,
        "amr": amr,
        "access_token_expires_at": claims.exp,
        "step_up": stepped_up,
        "replaced_session": replaced,
    });
    let code = match (stepped_up, replaced) {
        (true, _) => "step_up",
        (false, true) => "login_replaced_session",
        (false, false) => "login",
    };
    (Reply::json(&body, set_cookies), code)
}

/// The answer of `POST /auth/refresh` with the session cookie.
pub fn refreshed_reply(auth: Authenticated) -> Reply {
    let body = serde_json::json!({
        "refreshed": true,
        "subject": auth.claims.sub,
        "access_token_expires_at": auth.claims.exp,
    });
    Reply::json(&body, auth.set_cookies)
}

/// The answer of the refresh-token grant: the new tokens in the body (the client already held
/// a raw refresh token), never cached (`Edge` answers are `no-store`).
pub fn grant_reply(tokens: &ApiTokenResponse) -> Reply {
    let body = serde_json::json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "id_token": tokens.id_token,
    });
    Reply::json(&body, Vec::new())
}

/// What a logout did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedOut {
    /// Every session of the user (logout-all), or one.
    pub all_sessions: bool,
    /// A session was found to end (one-session logout).
    pub had_session: bool,
    /// KV took the revocation.
    pub revoked_at_edge: bool,
    /// The store logged the session(s) out.
    pub store_logged_out: bool,
}

/// A logout's answer: the body, both cookies cleared, `Clear-Site-Data` when configured.
pub fn logout_reply(out: LoggedOut, cleared: Vec<String>, clear_site_data: &str) -> Reply {
    let body = if out.all_sessions {
        serde_json::json!({
            "logged_out": true,
            "all_sessions": true,
            "revoked_at_edge": out.revoked_at_edge,
            "store_logged_out": out.store_logged_out,
        })
    } else {
        serde_json::json!({
            "logged_out": true,
            "had_session": out.had_session,
            "revoked_at_edge": out.revoked_at_edge,
            "store_logged_out": out.store_logged_out,
        })
    };
    let mut reply = Reply::json(&body, cleared);
    if !clear_site_data.is_empty() {
        reply
            .headers
            .push(("clear-site-data", clear_site_data.to_owned()));
    }
    reply
}

/// `GET /auth/jwks`: the public keys of the identity assertion (`None` without a key).
pub fn jwks_reply(config: &EdgeConfig) -> Option<Reply> {
    config
        .assertion
        .as_ref()
        .map(|a| Reply::json(&a.jwks(), Vec::new()))
}

/// `GET /auth/session`: who the caller is, from the verified token.
pub fn whoami_reply(auth: Authenticated) -> Reply {
    let c = &auth.claims;
    let body = serde_json::json!({
        "subject": c.sub,
        "session": auth.session_id.as_deref().map(short_id),
        "roles": c.roles,
        "amr": c.amr,
        "client_id": c.client_id,
        "scope": c.scope,
        "access_token_expires_at": c.exp,
        "issued_at": c.iat,
    });
    Reply::json(&body, auth.set_cookies)
}

/// The session of the caller's `list` whose handle is `handle` ("log out other devices"):
/// another user's session is never in the caller's list, so its handle finds nothing.
pub fn session_by_handle<'a>(list: &'a [SessionInfo], handle: &Handle) -> Option<&'a SessionInfo> {
    list.iter()
        .find(|s| short_id(&s.session_id) == handle.as_str())
}

/// The answer of `DELETE /auth/sessions/{handle}`: what was done; when the session ended is
/// the caller's own (`cleared` then holds the `Set-Cookie` values clearing both cookies), the
/// logout's `Clear-Site-Data` goes with it.
pub fn ended_reply(
    current: bool,
    revoked_at_edge: bool,
    store_logged_out: bool,
    cleared: Vec<String>,
    clear_site_data: &str,
) -> Reply {
    let body = serde_json::json!({
        "ended": true,
        "current": current,
        "revoked_at_edge": revoked_at_edge,
        "store_logged_out": store_logged_out,
    });
    let mut reply = Reply::json(&body, if current { cleared } else { Vec::new() });
    if current && !clear_site_data.is_empty() {
        reply
            .headers
            .push(("clear-site-data", clear_site_data.to_owned()));
    }
    reply
}

/// `GET /auth/sessions`: the user's sessions, by handle, the caller's own marked.
pub fn sessions_reply(list: &[SessionInfo], auth: Authenticated) -> Reply {
    let current = auth.session_id.as_deref();
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": short_id(&i.session_id),
                "current": Some(i.session_id.as_str()) == current,
                "start_time": i.start_time,
                "expiration_time": i.expiration_time,
            })
        })
        .collect();
    Reply::json(&serde_json::json!({ "sessions": items }), auth.set_cookies)
}

#[cfg(test)]
mod tests;
