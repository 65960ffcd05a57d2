//! Where the stores' answers legitimately differ: the reference store
//! ([`Shape::REFERENCE`]) and Transmit Security's documented API ([`Shape::TRANSMIT`],
//! /work/shared/TRANSMIT_API.md and the Transmit-shaped test fake).
//!
//! The edge reads both with the same types ([`crate::wire`], [`crate::error`]): what one shape
//! leaves out is optional there. These facts say what each shape sends; the store contract
//! suite (`tests/store/contract.test.mjs`) asserts each store against its shape, reading them
//! from `protocol/wire.json`, which a test here keeps equal to [`wire_json`].

use serde::Serialize;

/// An error code as a shape sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Code {
    /// A string code.
    Text(&'static str),
    /// A numeric code (Transmit's `400`, `401`).
    Number(u16),
}

/// An error answer: its status and `error_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// `error_code`.
    pub code: Code,
}

const fn refusal(status: u16, code: Code) -> Refusal {
    Refusal { status, code }
}

/// How session times are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateTimes {
    /// RFC 3339, UTC, milliseconds: `2026-01-02T03:04:05.678Z` ([`crate::date_time::rfc3339`]).
    Rfc3339Millis,
    /// An ISO 8601 date-time string, precision and offset not documented.
    Iso8601,
}

/// What one store shape sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shape {
    /// A name for messages.
    pub name: &'static str,
    /// The API's base path under the store's origin (the edge's `SESSION_STORE_URL` ends with
    /// it).
    pub base_path: &'static str,
    /// Whether access tokens carry the session id as `sid` (Transmit's carry no `sid` and no
    /// `amr`: the edge binds them to the session through its session cookie).
    pub sid_claim: bool,
    /// Whether a refresh answer carries `session_id`.
    pub refresh_answers_session_id: bool,
    /// Whether a rotated refresh token presented again within a grace window gets a sibling
    /// (a lost answer retried) instead of a refusal.
    pub refresh_replay_grace: bool,
    /// Whether a rotated refresh token presented after its successor was used is reported as
    /// reuse, ends the session (its refresh tokens with it) and names it in the answer's
    /// `session_id`; `None`: it is just dead (Transmit documents no reuse detection).
    pub refresh_reused: Option<Refusal>,
    /// Whether an error `message` may be an array of strings (else always a string).
    pub message_may_be_list: bool,
    /// How session times are written.
    pub date_times: DateTimes,
    /// A call without a valid ClientAccessToken.
    pub missing_client_token: Refusal,
    /// `/oidc/token` with a wrong client secret.
    pub invalid_client: Refusal,
    /// A JSON body without a required field.
    pub invalid_request: Refusal,
    /// A login with a wrong password.
    pub wrong_password: Refusal,
    /// A login of an unknown username (the reference store answers as for a wrong password).
    pub unknown_user: Refusal,
    /// A session authenticate of an ended or unknown session.
    pub session_gone: Refusal,
    /// A login onto another user's session.
    pub foreign_session: Refusal,
    /// A logout of an ended or unknown session.
    pub logout_gone: Refusal,
    /// A refresh with a token whose session ended.
    pub dead_refresh_token: Refusal,
    /// The sessions of an unknown user id.
    pub unknown_user_sessions: Refusal,
}

impl Shape {
    /// The reference store (`session-store/`).
    pub const REFERENCE: Shape = Shape {
        name: "reference",
        base_path: "",
        sid_claim: true,
        refresh_answers_session_id: true,
        refresh_replay_grace: true,
        refresh_reused: Some(refusal(400, Code::Text("refresh_token_reused"))),
        message_may_be_list: false,
        date_times: DateTimes::Rfc3339Millis,
        missing_client_token: refusal(401, Code::Text("unauthorized")),
        invalid_client: refusal(401, Code::Text("invalid_client")),
        invalid_request: refusal(400, Code::Text("invalid_request")),
        wrong_password: refusal(401, Code::Text("auth_invalid_credentials")),
        unknown_user: refusal(401, Code::Text("auth_invalid_credentials")),
        session_gone: refusal(400, Code::Text("session_not_found")),
        foreign_session: refusal(400, Code::Text("session_not_found")),
        logout_gone: refusal(400, Code::Text("session_not_found")),
        dead_refresh_token: refusal(400, Code::Text("invalid_refresh_token")),
        unknown_user_sessions: refusal(404, Code::Text("user_not_found")),
    };

    /// Transmit Security's backend session API as documented (with the fake's choices where
    /// the documentation names no code).
    pub const TRANSMIT: Shape = Shape {
        name: "transmit",
        base_path: "/cis",
        sid_claim: false,
        refresh_answers_session_id: false,
        refresh_replay_grace: false,
        refresh_reused: None,
        message_may_be_list: true,
        date_times: DateTimes::Iso8601,
        missing_client_token: refusal(401, Code::Number(401)),
        invalid_client: refusal(401, Code::Text("invalid_client")),
        invalid_request: refusal(400, Code::Number(400)),
        wrong_password: refusal(401, Code::Text("auth_invalid_credentials")),
        unknown_user: refusal(404, Code::Text("user_not_found")),
        session_gone: refusal(400, Code::Number(400)),
        foreign_session: refusal(400, Code::Text("invalid_session")),
        logout_gone: refusal(400, Code::Text("session_not_found")),
        dead_refresh_token: refusal(401, Code::Number(401)),
        unknown_user_sessions: refusal(404, Code::Text("user_not_found")),
    };
}

/// The paths and shapes as JSON, for the node suites (`protocol/wire.json`).
pub fn wire_json() -> String {
    use crate::paths as p;
    let value = serde_json::json!({
        "paths": {
            "client_token": p::CLIENT_TOKEN,
            "password_authenticate": p::PASSWORD_AUTHENTICATE,
            "session_authenticate": p::SESSION_AUTHENTICATE,
            "totp_authenticate": p::TOTP_AUTHENTICATE,
            "otp_send": p::OTP_SEND,
            "otp_authenticate": p::OTP_AUTHENTICATE,
            "token_refresh": p::TOKEN_REFRESH,
            "session_logout": p::SESSION_LOGOUT,
            "jwks": p::JWKS,
            "discovery": p::DISCOVERY,
            "users_prefix": p::USERS_PREFIX,
            "sessions_suffix": p::SESSIONS_SUFFIX,
        },
        "shapes": {
            "reference": Shape::REFERENCE,
            "transmit": Shape::TRANSMIT,
        },
    });
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
