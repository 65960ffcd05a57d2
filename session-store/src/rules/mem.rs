use super::*;
use std::collections::BTreeMap;

/// Sessions and tokens in maps, and a failed-login window.
#[derive(Debug, Default)]
pub(crate) struct MemStore {
    pub(crate) sessions: BTreeMap<String, Session>,
    pub(crate) tokens: BTreeMap<String, RefreshRecord>,
    pub(crate) attempts: Option<edge_session_protocol::attempts::Window>,
    pub(crate) totp_step: Option<i64>,
    pub(crate) otp: Option<PendingOtp>,
}

impl Store for MemStore {
    type Error = std::convert::Infallible;
    fn session(&mut self, id: &str) -> Result<Option<Session>, Self::Error> {
        Ok(self.sessions.get(id).cloned())
    }
    fn save_session(&mut self, s: &Session) -> Result<(), Self::Error> {
        self.sessions.insert(s.id.clone(), s.clone());
        Ok(())
    }
    fn delete_session(&mut self, id: &str) -> Result<bool, Self::Error> {
        self.tokens.retain(|_, t| t.session_id != id);
        Ok(self.sessions.remove(id).is_some())
    }
    fn sessions(&mut self) -> Result<Vec<Session>, Self::Error> {
        let mut all: Vec<_> = self.sessions.values().cloned().collect();
        all.sort_by_key(|s| (s.created_at, s.id.clone()));
        Ok(all)
    }
    fn delete_all(&mut self) -> Result<u64, Self::Error> {
        let n = self.sessions.len() as u64;
        self.sessions.clear();
        self.tokens.clear();
        Ok(n)
    }
    fn purge_expired(&mut self, now: Millis) -> Result<Vec<String>, Self::Error> {
        let dead: Vec<String> = self
            .sessions
            .values()
            .filter(|s| !s.is_live(now))
            .map(|s| s.id.clone())
            .collect();
        for id in &dead {
            self.delete_session(id)?;
        }
        self.tokens.retain(|_, t| now < t.chain_expires_at);
        Ok(dead)
    }
    fn refresh_token(&mut self, hash: &str) -> Result<Option<RefreshRecord>, Self::Error> {
        Ok(self.tokens.get(hash).cloned())
    }
    fn insert_refresh_token(&mut self, r: &RefreshRecord) -> Result<(), Self::Error> {
        self.tokens.insert(r.hash.clone(), r.clone());
        Ok(())
    }
    fn rotate(&mut self, r: &RefreshRecord, at: Millis) -> Result<(), Self::Error> {
        for t in self.tokens.values_mut() {
            if t.chain == r.chain && t.generation == r.generation {
                if t.hash == r.hash {
                    t.state = TokenState::Rotated;
                    t.rotated_at = Some(at);
                } else if t.state == TokenState::Active {
                    t.state = TokenState::Superseded;
                    t.rotated_at = Some(at);
                }
            }
        }
        Ok(())
    }
    fn chain_head(&mut self, chain: &str) -> Result<i64, Self::Error> {
        Ok(self
            .tokens
            .values()
            .filter(|t| t.chain == chain)
            .map(|t| t.generation)
            .max()
            .unwrap_or(0))
    }
    fn attempts(&mut self) -> Result<Option<edge_session_protocol::attempts::Window>, Self::Error> {
        Ok(self.attempts)
    }
    fn save_attempts(
        &mut self,
        window: Option<edge_session_protocol::attempts::Window>,
    ) -> Result<(), Self::Error> {
        self.attempts = window;
        Ok(())
    }

    fn totp_step(&mut self) -> Result<Option<i64>, Self::Error> {
        Ok(self.totp_step)
    }

    fn save_totp_step(&mut self, step: i64) -> Result<(), Self::Error> {
        self.totp_step = Some(step);
        Ok(())
    }

    fn pending_otp(&mut self) -> Result<Option<PendingOtp>, Self::Error> {
        Ok(self.otp.clone())
    }

    fn save_pending_otp(&mut self, otp: Option<&PendingOtp>) -> Result<(), Self::Error> {
        self.otp = otp.cloned();
        Ok(())
    }
}
