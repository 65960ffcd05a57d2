//! The failed-login window of a username, kept in that username's own object (so unknown
//! usernames are counted like known ones): one slot per password check, taken before the
//! check.

use edge_session_protocol::attempts::Attempt;

use super::{Op, Policy, Rejection, Store};
use crate::time::Millis;

/// A password check for this object's username at `now`: it may go on (its slot taken), or
/// the window is full and it is refused with the seconds left ([`Rejection::TooManyAttempts`]).
pub fn admit_login<S: Store>(store: &mut S, policy: &Policy, now: Millis) -> Op<(), S::Error> {
    let (window, attempt) = policy.login_limit().admit(store.attempts()?, now);
    match attempt {
        Attempt::Admitted => {
            store.save_attempts(window)?;
            Ok(Ok(()))
        }
        Attempt::Refused { retry_after_secs } => {
            Ok(Err(Rejection::TooManyAttempts { retry_after_secs }))
        }
    }
}

/// The password was right: the window is cleared.
pub fn login_succeeded<S: Store>(store: &mut S, policy: &Policy) -> Result<(), S::Error> {
    store.save_attempts(policy.login_limit().reset())
}
