//! The store API's paths, relative to the store's base URL (Transmit's is
//! `https://api.transmitsecurity.io/cis`; the reference store has no base path).

/// `POST`: the client-credentials grant (form body, see [`crate::wire::ClientCredentials`]).
pub const CLIENT_TOKEN: &str = "/oidc/token";
/// `POST`: a backend password authentication ([`crate::wire::PasswordAuthenticate`]).
pub const PASSWORD_AUTHENTICATE: &str = "/v1/auth/password/authenticate";
/// `POST`: a backend TOTP authentication ([`crate::wire::TotpAuthenticate`]).
pub const TOTP_AUTHENTICATE: &str = "/v1/auth/totp/authenticate";
/// `POST`: sends a one-time passcode ([`crate::wire::OtpSend`]), answered by
/// [`crate::wire::OtpSent`].
pub const OTP_SEND: &str = "/v1/auth/otp/send";
/// `POST`: a backend one-time-passcode authentication ([`crate::wire::OtpAuthenticate`]).
pub const OTP_AUTHENTICATE: &str = "/v1/auth/otp/authenticate";
/// `POST`: tokens for an existing session ([`crate::wire::SessionAuthenticate`]).
pub const SESSION_AUTHENTICATE: &str = "/v1/auth/session/authenticate";
/// `POST`: the refresh-token grant ([`crate::wire::Refresh`]).
pub const TOKEN_REFRESH: &str = "/v1/auth/token/refresh";
/// `POST`: ends one session ([`crate::wire::Logout`]); 204 without a body.
pub const SESSION_LOGOUT: &str = "/v1/auth/session/logout";
/// `GET`: the store's signing keys.
pub const JWKS: &str = "/oidc/jwks";
/// `GET`: the OpenID discovery document.
pub const DISCOVERY: &str = "/oidc/.well-known/openid-configuration";
/// What precedes the user id in a user-sessions path ([`user_sessions`]).
pub const USERS_PREFIX: &str = "/v1/auth/users/";
/// What follows the user id in a user-sessions path ([`user_sessions`]).
pub const SESSIONS_SUFFIX: &str = "/sessions";

/// The path of a user's sessions (`GET` lists them, `DELETE` ends them all), the id
/// percent-encoded as one path segment: every byte but `A-Z a-z 0-9 - . _ ~` is escaped, so
/// neither `/`, `?`, `#` nor `+` (which the reference store's decoder reads as a space) can
/// change what the store reads.
#[inline]
pub fn user_sessions(user_id: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out =
        String::with_capacity(USERS_PREFIX.len() + user_id.len() * 3 + SESSIONS_SUFFIX.len());
    out.push_str(USERS_PREFIX);
    for b in user_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out.push_str(SESSIONS_SUFFIX);
    out
}

/// The still-encoded user id segment of a user-sessions path, if `path` is one: not empty and
/// without `/`. The caller decodes it.
pub fn user_sessions_segment(path: &str) -> Option<&str> {
    path.strip_prefix(USERS_PREFIX)
        .and_then(|rest| rest.strip_suffix(SESSIONS_SUFFIX))
        .filter(|u| !u.is_empty() && !u.contains('/'))
}

#[cfg(test)]
mod tests;
