//! Which store call a login makes: its method's backend path and body, and the identifier it
//! names the user by (the body's username, else, for a second factor added to the session
//! present, that session's user id).

use edge_session_protocol::wire::identifier_type;

use crate::edge_routes::{LoginBody, LoginMethod};
use crate::session_cookie::{ClientProps, SessionCookie};
use crate::session_rules::LoginPlan;
use crate::store_api::{self, paths};

/// The store request of a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoreCall {
    /// The path, under the store's base.
    pub(super) path: &'static str,
    /// The JSON body.
    pub(super) body: String,
}

/// Who a login names, and as what: the body's username (`username`), else the user id of the
/// session cookie present when the login adds a second factor to it (`user_id`). `None`: a
/// second factor with neither (no session to add it to, and no username).
pub(super) fn identifier<'a>(
    creds: &'a LoginBody,
    plan: &LoginPlan,
    present: Option<&'a SessionCookie>,
) -> Option<(&'a str, &'static str)> {
    if let Some(u) = &creds.username {
        return Some((u, identifier_type::USERNAME));
    }
    match (plan, present) {
        (LoginPlan::StepUp { .. }, Some(p)) if creds.method != LoginMethod::Password => {
            Some((&p.subject, identifier_type::USER_ID))
        }
        _ => None,
    }
}

/// The store call for `creds` under `plan` (a step-up names the session to add to).
pub(super) fn store_call(
    creds: &LoginBody,
    who: (&str, &str),
    plan: &LoginPlan,
    resource: Option<&str>,
    props: &ClientProps<'_>,
) -> StoreCall {
    let join = match plan {
        LoginPlan::StepUp { session_id } => Some(session_id.as_str()),
        LoginPlan::Fresh => None,
    };
    let secret = creds.secret.as_str();
    match creds.method {
        LoginMethod::Password => StoreCall {
            path: paths::PASSWORD_AUTHENTICATE,
            body: store_api::password_body(who.0, secret, join, resource, props),
        },
        LoginMethod::Totp => StoreCall {
            path: paths::TOTP_AUTHENTICATE,
            body: store_api::totp_body(who, secret, join, resource, props),
        },
        LoginMethod::EmailOtp => StoreCall {
            path: paths::OTP_AUTHENTICATE,
            body: store_api::otp_authenticate_body(who, secret, join, resource, props),
        },
    }
}
