//! The failed-login window both sides count with: the edge per hashed username and per client
//! address (`src/throttle.rs`), the reference store per username (its `rules`). One
//! definition, so "5 failures per 15 minutes" means the same thing wherever it is enforced.
//!
//! A [`Window`] is a count and the moment its window started (the first attempt counted in
//! it). An attempt takes a slot **before** the password is checked ([`Limit::admit`]), so
//! concurrent attempts cannot all pass a check that none of them has been counted in yet; the
//! caller then settles it: a success clears the window ([`Limit::reset`]: `None`), an attempt
//! whose password was never judged gives its slot back ([`Limit::refund`]), a failure keeps it.
//!
//! The window is fixed from its first attempt: at `started + window` it ends and the next
//! attempt starts a new one. While `count >= max`, attempts are refused with the seconds left
//! until the window ends (`Retry-After`), and a refused attempt counts nothing. A clock that
//! went back (`now < started`) keeps the window live, and `Retry-After` never exceeds the
//! window.
//!
//! No clock, no storage: `now` and what was stored are arguments; the caller stores what
//! comes back.

/// The form of a username both sides count under: surrounding whitespace removed and ASCII
/// letters lower-cased. Coarser than the reference store's matching (exact), so no spelling
/// the store would accept escapes the counter, and an IdP that ignores case gets one counter
/// per name whatever its ASCII case; names differing only in case share one, which an
/// attacker could lock anyway. Non-ASCII letters are not folded: Unicode case tables cost the
/// edge's wasm 7.9 KB gzipped, and the spellings an IdP would fold there are few and still
/// bounded by the per-address limit.
#[inline]
pub fn username_key(username: &str) -> String {
    username.trim().to_ascii_lowercase()
}

/// A counter as stored: attempts counted in the window that started at `started_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Attempts counted (failures, and attempts still in flight).
    pub count: u32,
    /// When the window started, milliseconds since the epoch.
    pub started_ms: i64,
}

/// The answer to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt may go on; its slot is taken.
    Admitted,
    /// Too many attempts in the window: retry after this many seconds (at least 1).
    Refused {
        /// Whole seconds until the window ends, rounded up.
        retry_after_secs: u32,
    },
}

/// A limit: at most `max` attempts per window of `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Attempts allowed in one window (at least 1 is meaningful; 0 refuses every attempt).
    pub max: u32,
    /// The window's length, milliseconds (at least 1).
    pub window_ms: i64,
}

impl Limit {
    /// The stored window if it is still running at `now_ms`.
    #[inline]
    pub fn live(&self, held: Option<Window>, now_ms: i64) -> Option<Window> {
        held.filter(|w| now_ms.saturating_sub(w.started_ms) < self.window_ms)
    }

    /// An attempt at `now_ms`: the window to store and the answer. A refused attempt leaves
    /// the window as it was.
    #[inline]
    pub fn admit(&self, held: Option<Window>, now_ms: i64) -> (Option<Window>, Attempt) {
        match self.live(held, now_ms) {
            Some(w) if w.count >= self.max => (
                Some(w),
                Attempt::Refused {
                    retry_after_secs: self.retry_after_secs(w, now_ms),
                },
            ),
            Some(w) => (
                Some(Window {
                    count: w.count.saturating_add(1),
                    ..w
                }),
                Attempt::Admitted,
            ),
            None => (
                Some(Window {
                    count: 1,
                    started_ms: now_ms,
                }),
                Attempt::Admitted,
            ),
        }
    }

    /// A success: nothing is kept.
    #[inline]
    pub fn reset(&self) -> Option<Window> {
        None
    }

    /// Gives back the slot of an attempt whose password was never judged (the check did not
    /// answer): the live window with one attempt less, nothing when none is left.
    #[inline]
    pub fn refund(&self, held: Option<Window>, now_ms: i64) -> Option<Window> {
        self.live(held, now_ms)
            .filter(|w| w.count > 1)
            .map(|w| Window {
                count: w.count - 1,
                ..w
            })
    }

    /// When a stored window ends (after which it can be deleted), milliseconds.
    #[inline]
    pub fn ends_at(&self, w: Window) -> i64 {
        w.started_ms.saturating_add(self.window_ms)
    }

    /// Whole seconds from `now_ms` to the window's end, rounded up, between 1 and the window's
    /// length in seconds.
    #[inline]
    fn retry_after_secs(&self, w: Window, now_ms: i64) -> u32 {
        let window_secs = self.window_ms.saturating_add(999) / 1000;
        let left_ms = self.ends_at(w).saturating_sub(now_ms);
        let secs = left_ms.saturating_add(999) / 1000;
        u32::try_from(secs.clamp(1, window_secs.max(1))).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests;
