//! Reading request bodies: size limits, JSON bodies and their field checks, the token form.
//!
//! The bodies' types and the field limits are the protocol's
//! ([`edge_session_protocol::wire`]); what this store accepts of them is decided here.

use std::borrow::Cow;

use edge_session_protocol::wire::{form, ClientAttributes, ClientCredentials};
use serde::de::DeserializeOwned;

use crate::api::ApiError;

pub use edge_session_protocol::wire::{
    MAX_BODY_BYTES, MAX_FIELD_BYTES, MAX_IP_ADDRESS_BYTES, MAX_PASSWORD_BYTES, MAX_USERNAME_BYTES,
};

/// `POST /v1/auth/password/authenticate` body.
pub type PasswordAuthenticate = edge_session_protocol::PasswordAuthenticate<'static>;
/// `POST /v1/auth/totp/authenticate` body.
pub type TotpAuthenticate = edge_session_protocol::TotpAuthenticate<'static>;
/// `POST /v1/auth/otp/send` body.
pub type OtpSend = edge_session_protocol::OtpSend<'static>;
/// `POST /v1/auth/otp/authenticate` body.
pub type OtpAuthenticate = edge_session_protocol::OtpAuthenticate<'static>;
/// `POST /v1/auth/session/authenticate` body.
pub type SessionAuthenticate = edge_session_protocol::SessionAuthenticate<'static>;
/// `POST /v1/auth/token/refresh` body.
pub type Refresh = edge_session_protocol::Refresh<'static>;
/// `POST /v1/auth/session/logout` body.
pub type Logout = edge_session_protocol::Logout<'static>;

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

fn optional(name: &str, value: &Option<Cow<'_, str>>, max: usize) -> Result<(), ApiError> {
    value.as_deref().map_or(Ok(()), |v| field(name, v, max))
}

fn attributes(value: &Option<ClientAttributes<'_>>) -> Result<(), ApiError> {
    if let Some(a) = value {
        optional(
            "client_attributes.user_agent",
            &a.user_agent,
            MAX_FIELD_BYTES,
        )?;
        optional(
            "client_attributes.ip_address",
            &a.ip_address,
            MAX_IP_ADDRESS_BYTES,
        )?;
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

/// A code field: exactly six ASCII digits (anything else could never match).
fn code_field(name: &str, value: &str) -> Result<(), ApiError> {
    if crate::otp::well_formed(value) {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(format!(
            "field `{name}` must be 6 digits"
        )))
    }
}

impl Validate for TotpAuthenticate {
    fn validate(&self) -> Result<(), ApiError> {
        field("identifier", &self.identifier, MAX_USERNAME_BYTES)?;
        optional("identifier_type", &self.identifier_type, MAX_FIELD_BYTES)?;
        code_field("token", &self.token)?;
        optional("session_id", &self.session_id, MAX_FIELD_BYTES)?;
        optional("resource", &self.resource, MAX_FIELD_BYTES)?;
        attributes(&self.client_attributes)
    }
}

impl Validate for OtpSend {
    fn validate(&self) -> Result<(), ApiError> {
        field("channel", &self.channel, MAX_FIELD_BYTES)?;
        field("identifier_type", &self.identifier_type, MAX_FIELD_BYTES)?;
        field("identifier", &self.identifier, MAX_USERNAME_BYTES)
    }
}

impl Validate for OtpAuthenticate {
    fn validate(&self) -> Result<(), ApiError> {
        code_field("passcode", &self.passcode)?;
        field("identifier_type", &self.identifier_type, MAX_FIELD_BYTES)?;
        field("identifier", &self.identifier, MAX_USERNAME_BYTES)?;
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
    for (k, v) in form_urlencoded::parse(text.as_bytes()) {
        let slot = match k.as_ref() {
            form::GRANT_TYPE => &mut grant,
            form::CLIENT_ID => &mut id,
            form::CLIENT_SECRET => &mut secret,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(ApiError::InvalidRequest(format!("repeated field `{k}`")));
        }
    }
    match grant.as_deref() {
        Some(form::CLIENT_CREDENTIALS) => {}
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

/// The token of an `Authorization: Bearer <token>` header. The scheme is matched without
/// regard to case (RFC 7235 §2.1), then one or more spaces. Hand-written: a crate for one
/// `split_once` (e.g. `headers`, with `http` and its parsers) would cost more wasm than it saves.
pub fn bearer_token(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A percent-encoded path segment, decoded (`+` stays a plus: only forms read it as a
/// space); `None` when the bytes are not UTF-8. Escapes that are not `%` and two hex digits
/// stay as they are.
pub fn decode_path_segment(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

#[cfg(test)]
mod tests;
