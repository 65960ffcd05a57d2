//! The HTTP surface: routes and error answers.
//!
//! Every error answers `{"message": …, "error_code": …}` (the shape Transmit documents, with
//! the codes of [`edge_session_protocol::error::code`]) with a status from
//! [`ApiError::status`]. Messages are generic; the adapter logs the detail. Request bodies are
//! read and validated by [`crate::request`].

use edge_session_protocol::error::{code, ErrorBody};
use edge_session_protocol::paths;

use crate::request::{decode_path_segment, valid_field, MAX_BODY_BYTES, MAX_FIELD_BYTES};

/// An error answer: status, stable `error_code` and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: the body is not what the endpoint takes (malformed JSON, missing or bad field).
    InvalidRequest(String),
    /// 415: a JSON endpoint called without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 413: the body is larger than [`MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// 401: `/oidc/token` with a wrong client id or secret.
    InvalidClient,
    /// 400: `/oidc/token` with a grant type other than `client_credentials`.
    UnsupportedGrantType,
    /// 401: a missing, malformed, expired or foreign ClientAccessToken.
    Unauthorized,
    /// 401: unknown user or wrong password (one answer for both).
    InvalidCredentials,
    /// 401: the email passcode's lifetime is over (Transmit's `auth_otp_passcode_expired`).
    PasscodeExpired,
    /// 400: an OTP channel or identifier type this store does not serve (named).
    UnsupportedChannel(&'static str),
    /// 400: the session does not exist, has ended or has expired.
    SessionNotFound,
    /// 400: the refresh token is unknown, or its session has ended.
    InvalidRefreshToken,
    /// 400: the refresh token's chain reached the configured "session expiration".
    RefreshTokenExpired,
    /// 400: a rotated refresh token was presented again; its session is ended (with its
    /// refresh tokens). The body names the session, so the edge that called refuses it at
    /// once.
    RefreshTokenReused(Option<String>),
    /// 400: a `resource` the store does not issue tokens for.
    InvalidResource,
    /// 404: a user id the directory does not know.
    UserNotFound,
    /// 404: no such route.
    NotFound,
    /// 405: the route exists with other methods (listed in `Allow`).
    MethodNotAllowed(&'static str),
    /// 429: too many failed password attempts for this username; retry after this many
    /// seconds (`Retry-After`).
    TooManyAttempts(u32),
    /// 500: anything the caller cannot fix; the detail is only logged.
    Internal,
}

impl ApiError {
    /// HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidRequest(_)
            | Self::UnsupportedGrantType
            | Self::SessionNotFound
            | Self::InvalidRefreshToken
            | Self::RefreshTokenExpired
            | Self::RefreshTokenReused(_)
            | Self::InvalidResource
            | Self::UnsupportedChannel(_) => 400,
            Self::InvalidClient
            | Self::Unauthorized
            | Self::InvalidCredentials
            | Self::PasscodeExpired => 401,
            Self::UserNotFound | Self::NotFound => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::TooManyAttempts(_) => 429,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Internal => 500,
        }
    }

    /// Stable machine-readable code (`error_code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => code::INVALID_REQUEST,
            Self::UnsupportedMediaType => code::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => code::PAYLOAD_TOO_LARGE,
            Self::InvalidClient => code::INVALID_CLIENT,
            Self::UnsupportedGrantType => code::UNSUPPORTED_GRANT_TYPE,
            Self::Unauthorized => code::UNAUTHORIZED,
            Self::InvalidCredentials => code::AUTH_INVALID_CREDENTIALS,
            Self::PasscodeExpired => code::AUTH_OTP_PASSCODE_EXPIRED,
            Self::UnsupportedChannel(_) => code::UNSUPPORTED_CHANNEL,
            Self::SessionNotFound => code::SESSION_NOT_FOUND,
            Self::InvalidRefreshToken => code::INVALID_REFRESH_TOKEN,
            Self::RefreshTokenExpired => code::REFRESH_TOKEN_EXPIRED,
            Self::RefreshTokenReused(_) => code::REFRESH_TOKEN_REUSED,
            Self::InvalidResource => code::INVALID_RESOURCE,
            Self::UserNotFound => code::USER_NOT_FOUND,
            Self::NotFound => code::NOT_FOUND,
            Self::MethodNotAllowed(_) => code::METHOD_NOT_ALLOWED,
            Self::TooManyAttempts(_) => code::TOO_MANY_ATTEMPTS,
            Self::Internal => code::INTERNAL_ERROR,
        }
    }

    /// Human-readable message (`message`).
    pub fn message(&self) -> String {
        match self {
            Self::InvalidRequest(detail) => format!("Invalid request: {detail}"),
            Self::UnsupportedMediaType => "Content-Type must be application/json".into(),
            Self::PayloadTooLarge => format!("Request body exceeds {MAX_BODY_BYTES} bytes"),
            Self::InvalidClient => "Invalid client credentials".into(),
            Self::UnsupportedGrantType => "Only grant_type=client_credentials is supported".into(),
            Self::Unauthorized => "Missing or invalid client access token".into(),
            Self::InvalidCredentials => "Invalid username or password".into(),
            Self::PasscodeExpired => "Passcode expired".into(),
            Self::UnsupportedChannel(what) => format!("Unsupported {what}"),
            Self::SessionNotFound => "Session not found".into(),
            Self::InvalidRefreshToken => "Invalid refresh token".into(),
            Self::RefreshTokenExpired => "Refresh token expired".into(),
            Self::RefreshTokenReused(_) => {
                "Refresh token reuse detected; the session is ended".into()
            }
            Self::InvalidResource => "Unknown resource".into(),
            Self::UserNotFound => "User not found".into(),
            Self::NotFound => "Not found".into(),
            Self::MethodNotAllowed(_) => "Method not allowed".into(),
            Self::TooManyAttempts(_) => "Too many failed login attempts; retry later".into(),
            Self::Internal => "Internal error".into(),
        }
    }

    /// `Retry-After` seconds, where waiting helps.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Self::TooManyAttempts(secs) => Some(*secs),
            _ => None,
        }
    }

    /// The JSON error body `{message, error_code}`.
    pub fn body(&self) -> String {
        let body = ErrorBody::new(self.message(), self.code());
        match self {
            Self::RefreshTokenReused(Some(session_id)) => body.with_session(session_id.as_str()),
            _ => body,
        }
        .to_json()
    }
}

/// What a request asks for, from its method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /oidc/token`
    ClientToken,
    /// `POST /v1/auth/password/authenticate`
    PasswordAuthenticate,
    /// `POST /v1/auth/totp/authenticate`
    TotpAuthenticate,
    /// `POST /v1/auth/otp/send`
    OtpSend,
    /// `POST /v1/auth/otp/authenticate`
    OtpAuthenticate,
    /// `POST /v1/auth/session/authenticate`
    SessionAuthenticate,
    /// `POST /v1/auth/token/refresh`
    Refresh,
    /// `POST /v1/auth/session/logout`
    Logout,
    /// `GET /v1/auth/users/{user_id}/sessions`
    ListSessions(String),
    /// `DELETE /v1/auth/users/{user_id}/sessions`
    RevokeSessions(String),
    /// `GET /dev/mailbox/{user_id}` (DEV ONLY: `OTP_DEV_DELIVERY`).
    DevMailbox(String),
    /// `GET /oidc/jwks`
    Jwks,
    /// `GET /oidc/.well-known/openid-configuration`
    Discovery,
}

impl Route {
    /// Whether the route needs `Authorization: Bearer <ClientAccessToken>`.
    pub fn needs_client_token(&self) -> bool {
        !matches!(self, Self::ClientToken | Self::Jwks | Self::Discovery)
    }
}

/// DEV ONLY: what precedes the user id of the dev mailbox (`OTP_DEV_DELIVERY`): the code of
/// the user's pending email passcode, as a mail would carry it.
pub const DEV_MAILBOX_PREFIX: &str = "/dev/mailbox/";

/// Classifies a request by method and path (`HEAD` counts as `GET`).
pub fn classify(method: &str, path: &str) -> Result<Route, ApiError> {
    let get = method == "GET" || method == "HEAD";
    let post = method == "POST";
    let fixed = |route: Route, ok: bool, allow: &'static str| {
        if ok {
            Ok(route)
        } else {
            Err(ApiError::MethodNotAllowed(allow))
        }
    };
    match path {
        paths::CLIENT_TOKEN => fixed(Route::ClientToken, post, "POST"),
        paths::PASSWORD_AUTHENTICATE => fixed(Route::PasswordAuthenticate, post, "POST"),
        paths::TOTP_AUTHENTICATE => fixed(Route::TotpAuthenticate, post, "POST"),
        paths::OTP_SEND => fixed(Route::OtpSend, post, "POST"),
        paths::OTP_AUTHENTICATE => fixed(Route::OtpAuthenticate, post, "POST"),
        paths::SESSION_AUTHENTICATE => fixed(Route::SessionAuthenticate, post, "POST"),
        paths::TOKEN_REFRESH => fixed(Route::Refresh, post, "POST"),
        paths::SESSION_LOGOUT => fixed(Route::Logout, post, "POST"),
        paths::JWKS => fixed(Route::Jwks, get, "GET, HEAD"),
        paths::DISCOVERY => fixed(Route::Discovery, get, "GET, HEAD"),
        _ if path.starts_with(DEV_MAILBOX_PREFIX) => {
            let user = decode_path_segment(&path[DEV_MAILBOX_PREFIX.len()..])
                .filter(|u| valid_field(u, MAX_FIELD_BYTES) && !u.contains('/'))
                .ok_or(ApiError::NotFound)?;
            fixed(Route::DevMailbox(user), get, "GET, HEAD")
        }
        _ => {
            let user = paths::user_sessions_segment(path).ok_or(ApiError::NotFound)?;
            let user = decode_path_segment(user)
                .filter(|u| valid_field(u, MAX_FIELD_BYTES))
                .ok_or(ApiError::NotFound)?;
            match method {
                "GET" | "HEAD" => Ok(Route::ListSessions(user)),
                "DELETE" => Ok(Route::RevokeSessions(user)),
                _ => Err(ApiError::MethodNotAllowed("GET, HEAD, DELETE")),
            }
        }
    }
}

#[cfg(test)]
mod tests;
