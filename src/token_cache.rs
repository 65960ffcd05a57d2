//! The verified-token cache: a token already verified in this isolate is not verified again
//! until its entry expires. An entry never outlives the token's `exp` (less the leeway is not
//! subtracted: the verifier accepted it with leeway, and the entry ends at `exp` exactly) nor
//! the configured TTL, which also bounds how long a key removed from the JWKS keeps working.
//!
//! Bounded in entries and in approximate bytes; eviction drops expired entries first, then the
//! oldest insertions. Keys are SHA-256 digests of the token, so the cache holds no token.
//!
//! A miss is found without hashing the token: the cache also counts the tails (last 16 bytes,
//! part of the signature) of the tokens it holds, and [`TokenCache::may_hold`] answers "no"
//! when no held token ends that way. A "yes" only means the digest is worth computing: the
//! entry is still found by the full SHA-256, so a forged token sharing a tail gets nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::token::VerifiedClaims;

/// A cache key: SHA-256 of the token (the identity of the entry) and its tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey {
    digest: [u8; 32],
    tail: Tail,
}

/// The last 16 bytes of a token (zero-padded in front when shorter).
type Tail = u128;

fn tail_of(token: &str) -> Tail {
    let bytes = token.as_bytes();
    let start = bytes.len().saturating_sub(16);
    bytes[start..]
        .iter()
        .fold(0, |acc, b| (acc << 8) | Tail::from(*b))
}

/// The key for a token.
pub fn key_of(token: &str) -> TokenKey {
    TokenKey {
        digest: Sha256::digest(token.as_bytes()).into(),
        tail: tail_of(token),
    }
}

/// Bytes an entry costs besides its claims: the key in the map and in the order, and the tail
/// count.
const ENTRY_OVERHEAD: usize =
    std::mem::size_of::<TokenKey>() * 2 + std::mem::size_of::<Tail>() + std::mem::size_of::<u32>();

struct Entry {
    claims: Arc<VerifiedClaims>,
    expires_at: i64,
    size: usize,
}

/// Bounded cache of verified claims.
pub struct TokenCache {
    entries: HashMap<TokenKey, Entry>,
    /// How many entries have each tail.
    tails: HashMap<Tail, u32>,
    order: VecDeque<TokenKey>,
    max_entries: usize,
    max_bytes: usize,
    ttl_secs: i64,
    bytes: usize,
}

impl TokenCache {
    /// A cache of at most `max_entries` entries and `max_bytes` approximate bytes, each kept at
    /// most `ttl_secs`.
    pub fn new(max_entries: usize, max_bytes: usize, ttl_secs: i64) -> Self {
        Self {
            entries: HashMap::new(),
            tails: HashMap::new(),
            order: VecDeque::new(),
            max_entries,
            max_bytes,
            ttl_secs,
            bytes: 0,
        }
    }

    /// Number of entries (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an entry for `token` may be present: `false` means it is certainly not (no held
    /// token has its tail), without hashing it.
    pub fn may_hold(&self, token: &str) -> bool {
        self.tails.contains_key(&tail_of(token))
    }

    /// The cached claims for `key`, if present and not expired at `now`.
    pub fn get(&self, key: &TokenKey, now: i64) -> Option<Arc<VerifiedClaims>> {
        self.entries
            .get(key)
            .filter(|e| now < e.expires_at)
            .map(|e| Arc::clone(&e.claims))
    }

    /// Caches verified claims at `now`.
    pub fn insert(&mut self, key: TokenKey, claims: Arc<VerifiedClaims>, now: i64) {
        if self.max_entries == 0 || self.ttl_secs <= 0 {
            return;
        }
        let expires_at = claims.exp.min(now.saturating_add(self.ttl_secs));
        if expires_at <= now {
            return;
        }
        let size = claims.approx_size() + ENTRY_OVERHEAD;
        if size > self.max_bytes {
            return;
        }
        self.remove(&key);
        self.evict(now, size);
        self.bytes += size;
        *self.tails.entry(key.tail).or_insert(0) += 1;
        self.entries.insert(
            key,
            Entry {
                claims,
                expires_at,
                size,
            },
        );
        self.order.push_back(key);
    }

    fn evict(&mut self, now: i64, incoming: usize) {
        let full = |c: &Self| c.entries.len() >= c.max_entries || c.bytes + incoming > c.max_bytes;
        if !full(self) {
            return;
        }
        // First every expired entry, then the oldest until there is room.
        let expired: Vec<TokenKey> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.remove(&k);
        }
        while full(self) {
            match self.order.pop_front() {
                Some(k) => self.forget(&k),
                None => break,
            }
        }
    }

    fn remove(&mut self, key: &TokenKey) {
        if self.entries.contains_key(key) {
            self.forget(key);
            self.order.retain(|k| k != key);
        }
    }

    /// Drops the entry and its tail count (not its place in `order`).
    fn forget(&mut self, key: &TokenKey) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes -= e.size;
            if let Some(n) = self.tails.get_mut(&key.tail) {
                *n -= 1;
                if *n == 0 {
                    self.tails.remove(&key.tail);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Arc<VerifiedClaims> {
        Arc::new(VerifiedClaims {
            sub: "u".into(),
            aud: vec!["a".into()],
            exp,
            iat: 0,
            jti: None,
            client_id: None,
            sid: None,
            roles: vec![],
            scope: None,
            amr: vec![],
            auth_time: None,
        })
    }

    #[test]
    fn hit_until_ttl_or_exp_whichever_first() {
        let mut c = TokenCache::new(10, 1 << 20, 60);
        c.insert(key_of("a"), claims(1_000), 100);
        assert!(c.get(&key_of("a"), 159).is_some());
        assert!(c.get(&key_of("a"), 160).is_none(), "ttl");
        c.insert(key_of("b"), claims(120), 100);
        assert!(c.get(&key_of("b"), 119).is_some());
        assert!(c.get(&key_of("b"), 120).is_none(), "never beyond exp");
        assert!(c.get(&key_of("zzz"), 100).is_none());
    }

    #[test]
    fn expired_tokens_are_not_cached() {
        let mut c = TokenCache::new(10, 1 << 20, 60);
        c.insert(key_of("a"), claims(100), 100);
        assert!(c.is_empty());
    }

    #[test]
    fn bounded_in_entries_oldest_evicted() {
        let mut c = TokenCache::new(3, 1 << 20, 60);
        for (i, t) in ["a", "b", "c", "d"].iter().enumerate() {
            c.insert(key_of(t), claims(1_000), 100 + i as i64);
        }
        assert_eq!(c.len(), 3);
        assert!(c.get(&key_of("a"), 104).is_none());
        assert!(c.get(&key_of("d"), 104).is_some());
    }

    #[test]
    fn expired_entries_are_evicted_before_live_ones() {
        let mut c = TokenCache::new(2, 1 << 20, 60);
        c.insert(key_of("live"), claims(1_000), 100);
        c.insert(key_of("short"), claims(105), 100);
        c.insert(key_of("new"), claims(1_000), 110);
        assert!(c.get(&key_of("live"), 110).is_some());
        assert!(c.get(&key_of("new"), 110).is_some());
    }

    #[test]
    fn bounded_in_bytes() {
        let one = claims(1_000).approx_size() + ENTRY_OVERHEAD;
        let mut c = TokenCache::new(100, one * 2, 60);
        for t in ["a", "b", "c"] {
            c.insert(key_of(t), claims(1_000), 100);
        }
        assert_eq!(c.len(), 2);
        assert!(c.bytes <= one * 2);
    }

    #[test]
    fn may_hold_follows_the_entries() {
        let a = "header.payload.signature-aaaaaaaaaaaaaaaa";
        let b = "header.payload.signature-bbbbbbbbbbbbbbbb";
        let same_tail = "other.payload.signature-aaaaaaaaaaaaaaaa";
        let mut c = TokenCache::new(2, 1 << 20, 60);
        assert!(!c.may_hold(a));
        c.insert(key_of(a), claims(1_000), 100);
        assert!(c.may_hold(a));
        assert!(!c.may_hold(b));
        // A shared tail says "maybe", and the digest still tells the tokens apart.
        assert!(c.may_hold(same_tail));
        assert!(c.get(&key_of(same_tail), 100).is_none());
        // Reinserting does not double-count; eviction and expiry forget the tail.
        c.insert(key_of(a), claims(1_000), 101);
        c.insert(key_of(b), claims(1_000), 102);
        c.insert(key_of("short"), claims(1_000), 103);
        assert!(!c.may_hold(a), "evicted as the oldest");
        assert!(c.may_hold(b) && c.may_hold("short"));
        assert_eq!(c.tails.values().sum::<u32>() as usize, c.len());
        c.insert(key_of("x"), claims(1_000), 200);
        c.insert(key_of("y"), claims(1_000), 200);
        assert!(
            !c.may_hold(b) && !c.may_hold("short"),
            "expired entries evicted"
        );
        assert_eq!(c.tails.values().sum::<u32>() as usize, c.len());
    }

    #[test]
    fn reinsert_replaces() {
        let mut c = TokenCache::new(2, 1 << 20, 60);
        c.insert(key_of("a"), claims(1_000), 100);
        c.insert(key_of("a"), claims(1_000), 101);
        assert_eq!(c.len(), 1);
        assert_eq!(c.order.len(), 1);
    }

    #[test]
    fn is_empty_follows_the_entries() {
        let mut c = TokenCache::new(2, 1 << 20, 60);
        assert!(c.is_empty());
        c.insert(key_of("a"), claims(1_000), 100);
        assert!(!c.is_empty());
    }

    /// A cache sized to nothing, or with no lifetime, caches nothing.
    #[test]
    fn off_when_either_bound_is_zero() {
        for (entries, ttl) in [(0, 60), (10, 0), (10, -1)] {
            let mut c = TokenCache::new(entries, 1 << 20, ttl);
            c.insert(key_of("a"), claims(1_000), 100);
            assert!(c.is_empty(), "entries={entries} ttl={ttl}");
        }
    }

    /// An entry exactly the byte bound is kept; one byte over it is not cached at all.
    #[test]
    fn the_byte_bound_is_inclusive() {
        let one = claims(1_000).approx_size() + ENTRY_OVERHEAD;
        let mut c = TokenCache::new(10, one, 60);
        c.insert(key_of("a"), claims(1_000), 100);
        assert_eq!(c.len(), 1);
        let mut c = TokenCache::new(10, one - 1, 60);
        c.insert(key_of("a"), claims(1_000), 100);
        assert!(c.is_empty());
        assert_eq!(c.bytes, 0);
    }

    /// The tail is the last 16 bytes, all of them: tokens that differ only in an earlier one of
    /// those bytes have different tails, so `may_hold` tells them apart without hashing.
    #[test]
    fn the_tail_is_sixteen_bytes() {
        let held = "h.p.sig-0123456789abcdef";
        let mut c = TokenCache::new(4, 1 << 20, 60);
        c.insert(key_of(held), claims(1_000), 100);
        for other in [
            "h.p.sig-X123456789abcdef",
            "h.p.sig-01234567X9abcdef",
            "h.p.sig-0123456789abcdeX",
        ] {
            assert!(!c.may_hold(other), "{other}");
        }
        // The 17th byte from the end is not part of it.
        assert!(c.may_hold("h.p.XXX-0123456789abcdef"));
        assert_eq!(tail_of("ab"), 0x6162);
    }

    /// Removing one of two entries with the same tail keeps the tail; removing both drops it.
    #[test]
    fn tail_counts_go_down_one_by_one() {
        let (a, b) = ("first.sig-0123456789abcdef", "second.sig-0123456789abcdef");
        let mut c = TokenCache::new(2, 1 << 20, 60);
        c.insert(key_of(a), claims(1_000), 100);
        c.insert(key_of(b), claims(1_000), 101);
        assert_eq!(c.tails.get(&tail_of(a)), Some(&2));
        c.insert(key_of("x"), claims(1_000), 102);
        assert_eq!(
            c.tails.get(&tail_of(a)),
            Some(&1),
            "a evicted, b holds the tail"
        );
        c.insert(key_of("y"), claims(1_000), 103);
        assert!(!c.may_hold(b), "both gone");
    }

    /// The byte count is what the held entries cost, after replacing and evicting too.
    #[test]
    fn bytes_count_what_is_held() {
        let one = claims(1_000).approx_size() + ENTRY_OVERHEAD;
        let mut c = TokenCache::new(2, 1 << 20, 60);
        c.insert(key_of("a"), claims(1_000), 100);
        c.insert(key_of("b"), claims(1_000), 100);
        assert_eq!(c.bytes, 2 * one);
        c.insert(key_of("a"), claims(1_000), 101);
        assert_eq!(c.bytes, 2 * one, "replaced, not added");
        c.insert(key_of("c"), claims(1_000), 102);
        assert_eq!((c.len(), c.bytes), (2, 2 * one), "one evicted");
    }
}
