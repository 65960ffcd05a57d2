//! The HTTP surface: routes, request validation, response bodies and error bodies.
//!
//! Every error answers `{"message": …, "error_code": …}` (the shape Transmit documents) with a
//! status from [`ApiError::status`]. Messages are generic; the adapter logs the detail.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Largest request body accepted, in bytes. Bigger bodies get 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest username accepted, in bytes.
pub const MAX_USERNAME_BYTES: usize = 256;
/// Longest password accepted, in bytes (the KDF cost does not depend on it, but logs and
/// memory do).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest session id, refresh token, resource or client attribute accepted, in bytes.
pub const MAX_FIELD_BYTES: usize = 1024;

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
    /// 400: the session does not exist, has ended or has expired.
    SessionNotFound,
    /// 400: the refresh token is unknown, or its session has ended.
    InvalidRefreshToken,
    /// 400: the refresh token's chain reached the configured "session expiration".
    RefreshTokenExpired,
    /// 400: a rotated refresh token was presented again; the session's refresh tokens are
    /// revoked.
    RefreshTokenReused,
    /// 400: a `resource` the store does not issue tokens for.
    InvalidResource,
    /// 404: a user id the directory does not know.
    UserNotFound,
    /// 404: no such route.
    NotFound,
    /// 405: the route exists with other methods (listed in `Allow`).
    MethodNotAllowed(&'static str),
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
            | Self::RefreshTokenReused
            | Self::InvalidResource => 400,
            Self::InvalidClient | Self::Unauthorized | Self::InvalidCredentials => 401,
            Self::UserNotFound | Self::NotFound => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Internal => 500,
        }
    }

    /// Stable machine-readable code (`error_code`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidClient => "invalid_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "auth_invalid_credentials",
            Self::SessionNotFound => "session_not_found",
            Self::InvalidRefreshToken => "invalid_refresh_token",
            Self::RefreshTokenExpired => "refresh_token_expired",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::InvalidResource => "invalid_resource",
            Self::UserNotFound => "user_not_found",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Internal => "internal_error",
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
            Self::SessionNotFound => "Session not found".into(),
            Self::InvalidRefreshToken => "Invalid refresh token".into(),
            Self::RefreshTokenExpired => "Refresh token expired".into(),
            Self::RefreshTokenReused => {
                "Refresh token reuse detected; the session's refresh tokens are revoked".into()
            }
            Self::InvalidResource => "Unknown resource".into(),
            Self::UserNotFound => "User not found".into(),
            Self::NotFound => "Not found".into(),
            Self::MethodNotAllowed(_) => "Method not allowed".into(),
            Self::Internal => "Internal error".into(),
        }
    }

    /// The JSON error body `{message, error_code}`.
    pub fn body(&self) -> String {
        serde_json::json!({ "message": self.message(), "error_code": self.code() }).to_string()
    }
}

/// What a request asks for, from its method and path alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /oidc/token`
    ClientToken,
    /// `POST /v1/auth/password/authenticate`
    PasswordAuthenticate,
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
        "/oidc/token" => fixed(Route::ClientToken, post, "POST"),
        "/v1/auth/password/authenticate" => fixed(Route::PasswordAuthenticate, post, "POST"),
        "/v1/auth/session/authenticate" => fixed(Route::SessionAuthenticate, post, "POST"),
        "/v1/auth/token/refresh" => fixed(Route::Refresh, post, "POST"),
        "/v1/auth/session/logout" => fixed(Route::Logout, post, "POST"),
        "/oidc/jwks" => fixed(Route::Jwks, get, "GET, HEAD"),
        "/oidc/.well-known/openid-configuration" => fixed(Route::Discovery, get, "GET, HEAD"),
        _ => {
            let user = path
                .strip_prefix("/v1/auth/users/")
                .and_then(|rest| rest.strip_suffix("/sessions"))
                .filter(|u| !u.is_empty() && !u.contains('/'))
                .ok_or(ApiError::NotFound)?;
            let user = percent_decode(user)
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

/// `client_attributes` of an authentication request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ClientAttributes {
    /// The end user's `User-Agent`.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The end user's IP address.
    #[serde(default)]
    pub ip_address: Option<String>,
}

/// `POST /v1/auth/password/authenticate` body (Transmit's other optional fields are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct PasswordAuthenticate {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
    /// An existing session to add this authentication to (MFA / step-up).
    #[serde(default)]
    pub session_id: Option<String>,
    /// The audience of the access token.
    #[serde(default)]
    pub resource: Option<String>,
    /// The end user's client.
    #[serde(default)]
    pub client_attributes: Option<ClientAttributes>,
}

/// `POST /v1/auth/session/authenticate` body.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionAuthenticate {
    /// The session to issue tokens for.
    pub session_id: String,
    /// The audience of the access token.
    #[serde(default)]
    pub resource: Option<String>,
    /// The end user's client.
    #[serde(default)]
    pub client_attributes: Option<ClientAttributes>,
}

/// `POST /v1/auth/token/refresh` body.
#[derive(Debug, Clone, Deserialize)]
pub struct Refresh {
    /// The refresh token to rotate.
    pub refresh_token: String,
}

/// `POST /v1/auth/session/logout` body.
#[derive(Debug, Clone, Deserialize)]
pub struct Logout {
    /// The session to end.
    pub session_id: String,
}

/// Checks what every request field must satisfy: not empty, at most `max` bytes, no control
/// characters.
pub fn valid_field(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && !value.chars().any(char::is_control)
}

/// Judges a body's declared `Content-Length` (if any) against `limit` bytes before a byte of
/// it is read: 413 when over, 400 when not `1*DIGIT` (RFC 9110 §8.6). `Ok` carries the length
/// (`None`: a chunked body, judged while read by [`check_read_size`]). Requests use
/// [`MAX_BODY_BYTES`].
pub fn check_body_size(declared: Option<&str>, limit: usize) -> Result<Option<u64>, ApiError> {
    let Some(value) = declared.map(str::trim) else {
        return Ok(None);
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::InvalidRequest("bad Content-Length".into()));
    }
    // More digits than a u64 holds is over any limit.
    match value.parse::<u64>() {
        Ok(n) if n <= limit as u64 => Ok(Some(n)),
        _ => Err(ApiError::PayloadTooLarge),
    }
}

/// Judges how much of a body has been read (`read` bytes, the latest chunk included) against
/// `limit`: the reader stops and cancels the stream at the first `Err` (413).
pub fn check_read_size(read: usize, limit: usize) -> Result<(), ApiError> {
    if read > limit {
        Err(ApiError::PayloadTooLarge)
    } else {
        Ok(())
    }
}

/// Parses a JSON body into `T` and validates its string fields with [`Validate`].
pub fn parse_json<T: DeserializeOwned + Validate>(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let is_json = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    // serde accepts a struct written as a JSON array; the API takes objects only.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::InvalidRequest(
            "the body must be a JSON object".into(),
        ));
    }
    let value: T = serde_json::from_slice(body).map_err(|e| {
        let detail = match e.classify() {
            serde_json::error::Category::Data => {
                // "missing field `username` at line 1 column 2" → keep the part before " at".
                let text = e.to_string();
                text.split(" at line")
                    .next()
                    .unwrap_or("bad field")
                    .to_string()
            }
            serde_json::error::Category::Eof | serde_json::error::Category::Syntax => {
                "malformed JSON".to_string()
            }
            serde_json::error::Category::Io => "unreadable body".to_string(),
        };
        ApiError::InvalidRequest(detail)
    })?;
    value.validate()?;
    Ok(value)
}

/// Field checks after deserialisation.
pub trait Validate {
    /// `Err` names the first bad field.
    fn validate(&self) -> Result<(), ApiError>;
}

fn field(name: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if valid_field(value, max) {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(format!(
            "field `{name}` must be 1..={max} bytes without control characters"
        )))
    }
}

fn optional(name: &str, value: &Option<String>, max: usize) -> Result<(), ApiError> {
    value.as_deref().map_or(Ok(()), |v| field(name, v, max))
}

fn attributes(value: &Option<ClientAttributes>) -> Result<(), ApiError> {
    if let Some(a) = value {
        optional(
            "client_attributes.user_agent",
            &a.user_agent,
            MAX_FIELD_BYTES,
        )?;
        optional("client_attributes.ip_address", &a.ip_address, 64)?;
    }
    Ok(())
}

impl Validate for PasswordAuthenticate {
    fn validate(&self) -> Result<(), ApiError> {
        field("username", &self.username, MAX_USERNAME_BYTES)?;
        // Passwords may contain anything but must fit the limit.
        if self.password.is_empty() || self.password.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::InvalidRequest(format!(
                "field `password` must be 1..={MAX_PASSWORD_BYTES} bytes"
            )));
        }
        optional("session_id", &self.session_id, MAX_FIELD_BYTES)?;
        optional("resource", &self.resource, MAX_FIELD_BYTES)?;
        attributes(&self.client_attributes)
    }
}

impl Validate for SessionAuthenticate {
    fn validate(&self) -> Result<(), ApiError> {
        field("session_id", &self.session_id, MAX_FIELD_BYTES)?;
        optional("resource", &self.resource, MAX_FIELD_BYTES)?;
        attributes(&self.client_attributes)
    }
}

impl Validate for Refresh {
    fn validate(&self) -> Result<(), ApiError> {
        field("refresh_token", &self.refresh_token, MAX_FIELD_BYTES)
    }
}

impl Validate for Logout {
    fn validate(&self) -> Result<(), ApiError> {
        field("session_id", &self.session_id, MAX_FIELD_BYTES)
    }
}

/// `POST /oidc/token` form fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `client_id`
    pub client_id: String,
    /// `client_secret`
    pub client_secret: String,
}

/// Parses the `application/x-www-form-urlencoded` body of `/oidc/token`.
pub fn parse_token_form(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<ClientCredentials, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let is_form = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|ct| {
            ct.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if !is_form {
        return Err(ApiError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded".into(),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::InvalidRequest("form body is not UTF-8".into()))?;
    let (mut grant, mut id, mut secret) = (None, None, None);
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k).ok_or_else(|| ApiError::InvalidRequest("bad form".into()))?;
        let v = percent_decode(v).ok_or_else(|| ApiError::InvalidRequest("bad form".into()))?;
        let slot = match k.as_str() {
            "grant_type" => &mut grant,
            "client_id" => &mut id,
            "client_secret" => &mut secret,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return Err(ApiError::InvalidRequest(format!("repeated field `{k}`")));
        }
    }
    match grant.as_deref() {
        Some("client_credentials") => {}
        Some(_) => return Err(ApiError::UnsupportedGrantType),
        None => {
            return Err(ApiError::InvalidRequest(
                "missing field `grant_type`".into(),
            ))
        }
    }
    let client_id =
        id.ok_or_else(|| ApiError::InvalidRequest("missing field `client_id`".into()))?;
    let client_secret =
        secret.ok_or_else(|| ApiError::InvalidRequest("missing field `client_secret`".into()))?;
    Ok(ClientCredentials {
        client_id,
        client_secret,
    })
}

/// Decodes `%XX` escapes and `+` (form encoding); `None` for bad escapes or non-UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// `ApiTokenResponse`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token (JWS, `typ: at+jwt`).
    pub access_token: String,
    /// The ID token (JWS, `typ: JWT`).
    pub id_token: String,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    /// The session the tokens belong to.
    pub session_id: String,
}

/// One entry of `GET /v1/auth/users/{user_id}/sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id.
    pub session_id: String,
    /// When the session was created (RFC 3339).
    pub start_time: String,
    /// When the session expires unless extended (RFC 3339).
    pub expiration_time: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let table: &[(&str, &str, Result<Route, ApiError>)] = &[
            ("POST", "/oidc/token", Ok(Route::ClientToken)),
            (
                "GET",
                "/oidc/token",
                Err(ApiError::MethodNotAllowed("POST")),
            ),
            (
                "POST",
                "/v1/auth/password/authenticate",
                Ok(Route::PasswordAuthenticate),
            ),
            (
                "POST",
                "/v1/auth/session/authenticate",
                Ok(Route::SessionAuthenticate),
            ),
            ("POST", "/v1/auth/token/refresh", Ok(Route::Refresh)),
            ("POST", "/v1/auth/session/logout", Ok(Route::Logout)),
            ("GET", "/oidc/jwks", Ok(Route::Jwks)),
            ("HEAD", "/oidc/jwks", Ok(Route::Jwks)),
            (
                "GET",
                "/oidc/.well-known/openid-configuration",
                Ok(Route::Discovery),
            ),
            (
                "GET",
                "/v1/auth/users/u%2D1/sessions",
                Ok(Route::ListSessions("u-1".into())),
            ),
            (
                "DELETE",
                "/v1/auth/users/u1/sessions",
                Ok(Route::RevokeSessions("u1".into())),
            ),
            (
                "PUT",
                "/v1/auth/users/u1/sessions",
                Err(ApiError::MethodNotAllowed("GET, HEAD, DELETE")),
            ),
            ("GET", "/v1/auth/users//sessions", Err(ApiError::NotFound)),
            (
                "GET",
                "/v1/auth/users/a/b/sessions",
                Err(ApiError::NotFound),
            ),
            (
                "GET",
                "/v1/auth/users/%0a/sessions",
                Err(ApiError::NotFound),
            ),
            ("GET", "/", Err(ApiError::NotFound)),
        ];
        for (method, path, want) in table {
            assert_eq!(&classify(method, path), want, "{method} {path}");
        }
        assert!(!Route::Jwks.needs_client_token());
        assert!(Route::Logout.needs_client_token());
    }

    fn json<T: DeserializeOwned + Validate>(body: &str) -> Result<T, ApiError> {
        parse_json(Some("application/json; charset=utf-8"), body.as_bytes())
    }

    #[test]
    fn bad_json_catalogue() {
        let bad = |r: Result<PasswordAuthenticate, ApiError>| r.map(|_| ()).unwrap_err();
        assert_eq!(
            bad(json("{")),
            ApiError::InvalidRequest("malformed JSON".into())
        );
        assert_eq!(bad(json("[]")).code(), "invalid_request");
        assert_eq!(
            bad(json(r#"["alice","pw"]"#)),
            ApiError::InvalidRequest("the body must be a JSON object".into())
        );
        assert_eq!(
            bad(json(r#"{"password":"x"}"#)),
            ApiError::InvalidRequest("missing field `username`".into())
        );
        assert_eq!(
            bad(json(r#"{"username":"","password":"x"}"#)).code(),
            "invalid_request"
        );
        assert_eq!(
            bad(json(r#"{"username":"a\nb","password":"x"}"#)).code(),
            "invalid_request"
        );
        assert_eq!(
            bad(json(r#"{"username":1,"password":"x"}"#)).code(),
            "invalid_request"
        );
        let big = format!(
            r#"{{"username":"a","password":"{}"}}"#,
            "x".repeat(MAX_BODY_BYTES)
        );
        assert_eq!(bad(json(&big)), ApiError::PayloadTooLarge);
        assert_eq!(
            parse_json::<Logout>(Some("text/plain"), b"{}").unwrap_err(),
            ApiError::UnsupportedMediaType
        );
        assert_eq!(
            parse_json::<Logout>(None, b"{}").unwrap_err(),
            ApiError::UnsupportedMediaType
        );
        let ok: PasswordAuthenticate = json(
            r#"{"username":"alice","password":"p","client_attributes":{"user_agent":"UA"},"claims":{}}"#,
        )
        .unwrap();
        assert_eq!(
            ok.client_attributes.unwrap().user_agent.as_deref(),
            Some("UA")
        );
    }

    #[test]
    fn body_size_header() {
        let max = MAX_BODY_BYTES;
        assert_eq!(check_body_size(None, max), Ok(None));
        assert_eq!(check_body_size(Some("16384"), max), Ok(Some(16384)));
        assert_eq!(check_body_size(Some(" 0 "), max), Ok(Some(0)));
        for over in ["16385", "157286400", "99999999999999999999999999"] {
            assert_eq!(
                check_body_size(Some(over), max),
                Err(ApiError::PayloadTooLarge),
                "{over}"
            );
        }
        for bad in ["x", "", "-1", "+5", "5, 5", "1e3"] {
            assert_eq!(
                check_body_size(Some(bad), max).map_err(|e| e.status()),
                Err(400),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn body_size_while_read() {
        assert_eq!(check_read_size(0, 10), Ok(()));
        assert_eq!(check_read_size(10, 10), Ok(()));
        assert_eq!(check_read_size(11, 10), Err(ApiError::PayloadTooLarge));
        assert_eq!(
            check_read_size(usize::MAX, 10),
            Err(ApiError::PayloadTooLarge)
        );
    }

    #[test]
    fn token_form() {
        let form = Some("application/x-www-form-urlencoded");
        let ok = parse_token_form(
            form,
            b"grant_type=client_credentials&client_id=edge&client_secret=a%2Bb+c",
        )
        .unwrap();
        assert_eq!(ok.client_secret, "a+b c");
        assert_eq!(
            parse_token_form(form, b"grant_type=password&client_id=a&client_secret=b").unwrap_err(),
            ApiError::UnsupportedGrantType
        );
        assert_eq!(
            parse_token_form(form, b"grant_type=client_credentials")
                .unwrap_err()
                .code(),
            "invalid_request"
        );
        assert_eq!(
            parse_token_form(
                form,
                b"grant_type=client_credentials&client_id=a&client_id=b&client_secret=c"
            )
            .unwrap_err()
            .code(),
            "invalid_request"
        );
        assert!(parse_token_form(Some("application/json"), b"{}").is_err());
        assert!(parse_token_form(form, b"grant_type=%zz").is_err());
    }

    #[test]
    fn error_bodies() {
        let e = ApiError::SessionNotFound;
        let v: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(v["message"], "Session not found");
        assert_eq!(v["error_code"], "session_not_found");
        assert_eq!(e.status(), 400);
        assert_eq!(ApiError::InvalidCredentials.status(), 401);
        assert_eq!(ApiError::PayloadTooLarge.status(), 413);
    }
}
