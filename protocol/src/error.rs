//! Error bodies and error codes.
//!
//! Every error is `{"message": …, "error_code": …}`. The reference store always sends a string
//! message and a string code from [`code`]; Transmit documents a message that may be a string
//! or an array of strings, and a code that may be a number (`400`, `401`) or a string
//! (`auth_invalid_credentials`, `user_not_found`, …). [`ErrorMessage`] and [`ErrorCode`] read
//! both.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The reference store's error codes (`error_code`), and Transmit's documented string codes.
pub mod code {
    /// 400: the body is not what the endpoint takes.
    pub const INVALID_REQUEST: &str = "invalid_request";
    /// 415: a JSON endpoint called without `Content-Type: application/json`.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    /// 413: the body is too large.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// 401: `/oidc/token` with a wrong client id or secret.
    pub const INVALID_CLIENT: &str = "invalid_client";
    /// 400: `/oidc/token` with a grant other than `client_credentials`.
    pub const UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
    /// 401: a missing, malformed, expired or foreign ClientAccessToken.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// 401: wrong credentials (the reference store: unknown users too).
    pub const AUTH_INVALID_CREDENTIALS: &str = "auth_invalid_credentials";
    /// 401: a one-time passcode past its lifetime (Transmit's code).
    pub const AUTH_OTP_PASSCODE_EXPIRED: &str = "auth_otp_passcode_expired";
    /// 400: an OTP `channel` or an `identifier_type` this store does not deliver to or know.
    pub const UNSUPPORTED_CHANNEL: &str = "unsupported_channel";
    /// Transmit, 403: the user is locked.
    pub const AUTH_LOCKED: &str = "auth_locked";
    /// 429: too many failed password attempts for this username; retry after `Retry-After`.
    pub const TOO_MANY_ATTEMPTS: &str = "too_many_attempts";
    /// 400: the session does not exist, has ended or has expired.
    pub const SESSION_NOT_FOUND: &str = "session_not_found";
    /// 400: the refresh token is unknown, or its session has ended.
    pub const INVALID_REFRESH_TOKEN: &str = "invalid_refresh_token";
    /// 400: the refresh token's chain reached its absolute lifetime.
    pub const REFRESH_TOKEN_EXPIRED: &str = "refresh_token_expired";
    /// 400: a rotated refresh token was presented again; the session's refresh tokens are
    /// revoked.
    pub const REFRESH_TOKEN_REUSED: &str = "refresh_token_reused";
    /// 400: a `resource` the store issues no tokens for.
    pub const INVALID_RESOURCE: &str = "invalid_resource";
    /// 404: a user the directory does not know (Transmit: on login too).
    pub const USER_NOT_FOUND: &str = "user_not_found";
    /// 404: no such route.
    pub const NOT_FOUND: &str = "not_found";
    /// 405: the route exists with other methods.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// 500: anything the caller cannot fix.
    pub const INTERNAL_ERROR: &str = "internal_error";
}

/// Codes that say the store refused the request itself (its shape or a field), in the
/// reference store's and the usual spellings.
const VALIDATION_CODES: &[&str] = &[
    code::INVALID_REQUEST,
    "bad_request",
    "validation_error",
    code::INVALID_RESOURCE,
    code::UNSUPPORTED_MEDIA_TYPE,
    code::PAYLOAD_TOO_LARGE,
];

/// An `error_code`: a string, or an integer (Transmit) kept as its decimal text. A fractional
/// number is no code any store sends and is read as none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode {
    text: String,
    numeric: bool,
}

impl ErrorCode {
    /// A string code.
    pub fn text(code: &str) -> Self {
        Self {
            text: code.to_owned(),
            numeric: false,
        }
    }

    /// A numeric code (Transmit's `400`, `401`).
    pub fn number(code: u64) -> Self {
        Self {
            text: code.to_string(),
            numeric: true,
        }
    }

    /// The code as text (a number's decimal digits).
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the store sent a number.
    #[inline]
    pub fn is_numeric(&self) -> bool {
        self.numeric
    }

    /// Whether the code says the store refused the request itself (a field it does not
    /// accept, a body too large), not the credentials and not the session; compared
    /// case-insensitively.
    #[inline]
    pub fn is_validation(&self) -> bool {
        !self.numeric
            && VALIDATION_CODES
                .iter()
                .any(|v| v.eq_ignore_ascii_case(&self.text))
    }

    /// Whether the code refuses the credentials of a login: Transmit's `auth_*` codes
    /// (`auth_invalid_credentials`, `auth_otp_passcode_expired`, `auth_locked`), unknown users,
    /// and a step-up onto a session the store no longer knows.
    #[inline]
    pub fn is_credential(&self) -> bool {
        let code = self.text.to_ascii_lowercase();
        !self.numeric
            && (code.starts_with("auth_")
                || matches!(
                    code.as_str(),
                    "invalid_credentials" | code::USER_NOT_FOUND | code::SESSION_NOT_FOUND
                ))
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.text.parse::<u64>() {
            Ok(n) if self.numeric => s.serialize_u64(n),
            _ => s.serialize_str(&self.text),
        }
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ErrorCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorCode, E> {
                Ok(ErrorCode::text(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ErrorCode, E> {
                Ok(ErrorCode::number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ErrorCode, E> {
                Ok(ErrorCode {
                    text: v.to_string(),
                    numeric: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// An error `message`: a string, or (Transmit) a list of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorMessage {
    /// One message.
    Text(String),
    /// Several (Transmit's validation errors, one per field).
    List(Vec<String>),
}

impl Serialize for ErrorMessage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(t) => s.serialize_str(t),
            Self::List(l) => l.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ErrorMessage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorMessage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorMessage, E> {
                Ok(ErrorMessage::Text(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorMessage, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(ErrorMessage::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// An error answer's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub message: ErrorMessage,
    /// What went wrong, for programs.
    pub error_code: ErrorCode,
    /// The reference store's `refresh_token_reused` names the session the reuse ended, so the
    /// edge that called can refuse that session at once ([`reused_session`]); absent
    /// elsewhere (Transmit documents no reuse detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl ErrorBody {
    /// The reference store's shape: a string message and a string code.
    pub fn new(message: impl Into<String>, code: &str) -> Self {
        Self {
            message: ErrorMessage::Text(message.into()),
            error_code: ErrorCode::text(code),
            session_id: None,
        }
    }

    /// The body naming the session it concerns (`refresh_token_reused`).
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// The body as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The `error_code` of an error body of either shape; `None` when the body is not that JSON
/// or its code is neither a string nor a number. The message is not read.
#[inline]
pub fn error_code(body: &[u8]) -> Option<ErrorCode> {
    // Read through `serde_json::Value`, whose reader the edge links anyway.
    #[derive(Deserialize)]
    struct CodeOnly {
        #[serde(default)]
        error_code: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<CodeOnly>(body).ok()?.error_code? {
        serde_json::Value::String(text) => Some(ErrorCode {
            text,
            numeric: false,
        }),
        serde_json::Value::Number(n) if !n.is_f64() => Some(ErrorCode {
            text: n.to_string(),
            numeric: true,
        }),
        _ => None,
    }
}

/// The session a `refresh_token_reused` answer says the store ended: its `session_id`, when
/// the body has that code and a session id of at most `max_len` bytes of visible ASCII
/// (anything else names no session). The message is not read.
#[inline]
pub fn reused_session(body: &[u8], max_len: usize) -> Option<String> {
    // Read through `serde_json::Value`, whose reader the edge links anyway.
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if v.get("error_code")?.as_str()? != code::REFRESH_TOKEN_REUSED {
        return None;
    }
    let sid = v.get("session_id")?.as_str()?;
    let sane = !sid.is_empty() && sid.len() <= max_len && sid.bytes().all(|b| b.is_ascii_graphic());
    sane.then(|| sid.to_owned())
}

#[cfg(test)]
mod tests;
