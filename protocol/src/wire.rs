//! Request bodies, response bodies and the reference store's field limits.
//!
//! Strings are [`Cow`]s: the edge serialises bodies from borrowed values, the store
//! deserialises them into owned ones (`'static`). Optional fields the edge does not send are
//! left out, not sent as `null`; unknown fields (Transmit's `claims`, `org_id`, …) are ignored.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Largest request body the reference store accepts, bytes (413 above).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest `username` the reference store accepts, bytes.
pub const MAX_USERNAME_BYTES: usize = 256;
/// Longest `password` the reference store accepts, bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest session id, refresh token, resource, user id or `client_attributes.user_agent`
/// the reference store accepts, bytes. Transmit documents no limit.
pub const MAX_FIELD_BYTES: usize = 1024;
/// Longest `client_attributes.ip_address` the reference store accepts, bytes.
pub const MAX_IP_ADDRESS_BYTES: usize = 64;

/// The form fields of `POST /oidc/token` ([`crate::paths::CLIENT_TOKEN`]), an
/// `application/x-www-form-urlencoded` body.
pub mod form {
    /// The grant field.
    pub const GRANT_TYPE: &str = "grant_type";
    /// The only grant the API takes.
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
    /// The client id field.
    pub const CLIENT_ID: &str = "client_id";
    /// The client secret field.
    pub const CLIENT_SECRET: &str = "client_secret";
}

/// The client credentials of a `POST /oidc/token` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// `client_id`
    pub client_id: String,
    /// `client_secret`
    pub client_secret: String,
}

/// `client_attributes` of an authentication: the end user's client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAttributes<'a> {
    /// The end user's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Cow<'a, str>>,
    /// The end user's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<Cow<'a, str>>,
}

/// Body of `POST /v1/auth/password/authenticate`. With `session_id`, the authentication is
/// added to that session (MFA / step-up); without, a session is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordAuthenticate<'a> {
    /// The username.
    pub username: Cow<'a, str>,
    /// The password.
    pub password: Cow<'a, str>,
    /// An existing session to add this authentication to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Cow<'a, str>>,
    /// The audience of the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Cow<'a, str>>,
    /// The end user's client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attributes: Option<ClientAttributes<'a>>,
}

/// Body of `POST /v1/auth/totp/authenticate` (Transmit's backend TOTP). With `session_id`, the
/// authentication is added to that session (MFA / step-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpAuthenticate<'a> {
    /// Who the code was generated for.
    pub identifier: Cow<'a, str>,
    /// What `identifier` is: `email` (Transmit's default), `username`, `user_id` or
    /// `phone_number` ([`identifier_type`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier_type: Option<Cow<'a, str>>,
    /// The six-digit code.
    pub token: Cow<'a, str>,
    /// An existing session to add this authentication to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Cow<'a, str>>,
    /// The audience of the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Cow<'a, str>>,
    /// The end user's client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attributes: Option<ClientAttributes<'a>>,
}

/// The `identifier_type` values of Transmit's backend methods.
pub mod identifier_type {
    /// An email address (Transmit's default for TOTP).
    pub const EMAIL: &str = "email";
    /// A username.
    pub const USERNAME: &str = "username";
    /// A user id (what the edge sends for a step-up: the session's subject).
    pub const USER_ID: &str = "user_id";
    /// A phone number (the reference store has none).
    pub const PHONE_NUMBER: &str = "phone_number";
}

/// The `channel` values of `POST /v1/auth/otp/send`.
pub mod channel {
    /// By email.
    pub const EMAIL: &str = "email";
    /// By SMS (the reference store has none).
    pub const SMS: &str = "sms";
    /// Handed to the calling backend in the answer ([`super::OtpSent::code`]).
    pub const DIRECT: &str = "direct";
}

/// Body of `POST /v1/auth/otp/send`: a one-time passcode for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpSend<'a> {
    /// How the code travels ([`channel`]).
    pub channel: Cow<'a, str>,
    /// What `identifier` is ([`identifier_type`]).
    pub identifier_type: Cow<'a, str>,
    /// The user.
    pub identifier: Cow<'a, str>,
}

/// The answer of `POST /v1/auth/otp/send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpSent {
    /// What was done.
    #[serde(default)]
    pub message: String,
    /// The code, for the `direct` channel only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Body of `POST /v1/auth/otp/authenticate`: the code sent by [`OtpSend`]. With `session_id`,
/// the authentication is added to that session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpAuthenticate<'a> {
    /// The code.
    pub passcode: Cow<'a, str>,
    /// What `identifier` is ([`identifier_type`]).
    pub identifier_type: Cow<'a, str>,
    /// The user the code was sent to.
    pub identifier: Cow<'a, str>,
    /// An existing session to add this authentication to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Cow<'a, str>>,
    /// The audience of the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Cow<'a, str>>,
    /// The end user's client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attributes: Option<ClientAttributes<'a>>,
}

/// Body of `POST /v1/auth/session/authenticate`: new tokens for a live session, which
/// extends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuthenticate<'a> {
    /// The session.
    pub session_id: Cow<'a, str>,
    /// The audience of the access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Cow<'a, str>>,
    /// The end user's client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_attributes: Option<ClientAttributes<'a>>,
}

/// Body of `POST /v1/auth/token/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refresh<'a> {
    /// The refresh token to rotate.
    pub refresh_token: Cow<'a, str>,
}

/// Body of `POST /v1/auth/session/logout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logout<'a> {
    /// The session to end.
    pub session_id: Cow<'a, str>,
}

/// `ApiTokenResponse`: the answer of an authentication, a session authenticate and a refresh.
///
/// Only `access_token` is required of every store. The reference store sends every field;
/// Transmit leaves `session_id` out of refresh answers ([`crate::shape::Shape`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token (a JWS).
    pub access_token: String,
    /// The ID token (a JWS), if issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The opaque refresh token, if issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `Bearer`. Written by the store, not read by the edge (any value is accepted).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Seconds until the access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// The session the tokens belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// The `POST /oidc/token` answer: the ClientAccessToken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTokenResponse {
    /// The ClientAccessToken.
    pub access_token: String,
    /// `Bearer`. Written by the store, not read by the edge.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Lifetime, seconds.
    pub expires_in: u64,
}

/// One entry of `GET /v1/auth/users/{user_id}/sessions` (a JSON array of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
    pub session_id: String,
    /// When the session started, a date-time string ([`crate::date_time`]).
    #[serde(default)]
    pub start_time: Option<String>,
    /// When the session expires unless extended, a date-time string.
    #[serde(default)]
    pub expiration_time: Option<String>,
}

impl SessionInfo {
    /// A session started at `start_ms` and expiring at `expires_ms` (epoch milliseconds),
    /// with both times as RFC 3339 date-times.
    pub fn from_millis(session_id: String, start_ms: i64, expires_ms: i64) -> Self {
        Self {
            session_id,
            start_time: Some(crate::date_time::rfc3339(start_ms)),
            expiration_time: Some(crate::date_time::rfc3339(expires_ms)),
        }
    }
}

#[cfg(test)]
mod tests;
