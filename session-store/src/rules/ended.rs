//! What an operation ended, recorded where it happens: a [`Recording`] store notes every
//! session the rules delete (logout, reuse, an expired session found, the session cap) and a
//! revoke-all, so no rule can end a session without the edge hearing of it
//! ([`crate::revocations`] decides the KV entries from the [`Ended`] record).

use serde::{Deserialize, Serialize};

use edge_session_protocol::attempts::Window;

use super::records::{RefreshRecord, Session, Store};
use super::PendingOtp;
use crate::time::Millis;

/// The sessions one operation ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    /// Sessions deleted, in the order they were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<String>,
    /// Every session of the user was ended (revoke-all), however many there were.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
}

impl Ended {
    /// Nothing ended.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && !self.all
    }
}

/// A [`Store`] that records in [`Recording::ended`] what goes through it ends.
#[derive(Debug)]
pub struct Recording<'a, S> {
    inner: &'a mut S,
    /// What was ended so far.
    pub ended: Ended,
}

impl<'a, S: Store> Recording<'a, S> {
    /// Records what the operations run on `inner` end.
    pub fn new(inner: &'a mut S) -> Self {
        Self {
            inner,
            ended: Ended::default(),
        }
    }
}

impl<S: Store> Store for Recording<'_, S> {
    type Error = S::Error;

    fn session(&mut self, id: &str) -> Result<Option<Session>, Self::Error> {
        self.inner.session(id)
    }

    fn save_session(&mut self, session: &Session) -> Result<(), Self::Error> {
        self.inner.save_session(session)
    }

    fn delete_session(&mut self, id: &str) -> Result<bool, Self::Error> {
        let existed = self.inner.delete_session(id)?;
        if existed {
            self.ended.sessions.push(id.to_owned());
        }
        Ok(existed)
    }

    fn sessions(&mut self) -> Result<Vec<Session>, Self::Error> {
        self.inner.sessions()
    }

    fn delete_all(&mut self) -> Result<u64, Self::Error> {
        let n = self.inner.delete_all()?;
        self.ended.all = true;
        Ok(n)
    }

    fn purge_expired(&mut self, now: Millis) -> Result<Vec<String>, Self::Error> {
        let ended = self.inner.purge_expired(now)?;
        self.ended.sessions.extend(ended.iter().cloned());
        Ok(ended)
    }

    fn refresh_token(&mut self, hash: &str) -> Result<Option<RefreshRecord>, Self::Error> {
        self.inner.refresh_token(hash)
    }

    fn insert_refresh_token(&mut self, record: &RefreshRecord) -> Result<(), Self::Error> {
        self.inner.insert_refresh_token(record)
    }

    fn rotate(&mut self, record: &RefreshRecord, at: Millis) -> Result<(), Self::Error> {
        self.inner.rotate(record, at)
    }

    fn chain_head(&mut self, chain: &str) -> Result<i64, Self::Error> {
        self.inner.chain_head(chain)
    }

    fn attempts(&mut self) -> Result<Option<Window>, Self::Error> {
        self.inner.attempts()
    }

    fn save_attempts(&mut self, window: Option<Window>) -> Result<(), Self::Error> {
        self.inner.save_attempts(window)
    }

    fn totp_step(&mut self) -> Result<Option<i64>, Self::Error> {
        self.inner.totp_step()
    }

    fn save_totp_step(&mut self, step: i64) -> Result<(), Self::Error> {
        self.inner.save_totp_step(step)
    }

    fn pending_otp(&mut self) -> Result<Option<PendingOtp>, Self::Error> {
        self.inner.pending_otp()
    }

    fn save_pending_otp(&mut self, otp: Option<&PendingOtp>) -> Result<(), Self::Error> {
        self.inner.save_pending_otp(otp)
    }
}
