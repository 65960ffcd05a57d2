// The revocation lookup of peer-cached.mjs, shared with cold-floor.mjs (both bundled with
// esbuild by bench/bench.mjs): the edge's KV format (protocol/src/revocation.rs), so either
// could share the edge's REVOCATIONS namespace:
//  - `s:<hex sha256(session id)>`: the session ended (any value);
//  - `u:<hex sha256(subject)>` = unix milliseconds (whole seconds for old entries, counted to
//    the end of their second): every token of the user whose `iat` second starts at or before
//    that moment is refused.
// KV answers (present and absent) are kept in the isolate for REVOCATION_CACHE_SECONDS
// (default 10, as the edge), in a Map with an expiry per entry and at most 10,000 entries
// (the edge's bound; the oldest go first). On a miss only the missing keys are read, both at
// once. The cache is keyed by the raw ids: the SHA-256 of the KV key is paid on a miss only.

const MAX_ENTRIES = 10_000;
/** raw key -> { value: string | null, until: ms } */
const revocations = new Map();

function cachedAnswer(key, now) {
  const hit = revocations.get(key);
  if (hit === undefined) return undefined;
  if (now < hit.until) return hit;
  revocations.delete(key);
  return undefined;
}

function remember(key, value, now, ttlMs) {
  if (ttlMs <= 0) return;
  revocations.delete(key); // re-inserted last: insertion order is age order
  if (revocations.size >= MAX_ENTRIES) {
    for (const k of revocations.keys()) {
      revocations.delete(k);
      if (revocations.size < MAX_ENTRIES * 0.9) break;
    }
  }
  revocations.set(key, { value, until: now + ttlMs });
}

const encoder = new TextEncoder();
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const kvKey = async (prefix, id) => prefix + hex(await crypto.subtle.digest('SHA-256', encoder.encode(id)));

/** Reads `prefix` + sha256(`id`) from KV and keeps the answer under `cacheKey`. */
async function load(env, cacheKey, prefix, id, now, ttlMs) {
  const value = await env.REVOCATIONS.get(await kvKey(prefix, id));
  remember(cacheKey, value, now, ttlMs);
  return value;
}

/** A user-wide entry's moment in ms (an old whole-seconds entry counts to its second's end). */
function userMark(value) {
  if (value === null) return null;
  const t = value.trim();
  if (!/^[+-]?\d{1,18}$/.test(t)) return null;
  const v = Number(t);
  return v < 100_000_000_000 ? v * 1000 + 999 : v;
}

function judge(session, user, claims) {
  if (session !== null) return true;
  const mark = userMark(user);
  return mark !== null && claims.iat * 1000 <= mark;
}

/**
 * Whether the token with `claims` (`sub`, optional `sid`, `iat`) is revoked: a boolean when the
 * isolate's cache answers both keys (nothing awaited), else a promise of one that rejects when
 * KV cannot be read.
 */
export function revoked(env, claims) {
  const now = Date.now();
  const ttlMs = 1000 * Number(env.REVOCATION_CACHE_SECONDS ?? 10);
  const sid = typeof claims.sid === 'string' ? claims.sid : null;
  const sessionKey = `s\0${sid}`;
  const userKey = `u\0${claims.sub}`;
  const session = sid === null ? null : cachedAnswer(sessionKey, now)?.value;
  const user = cachedAnswer(userKey, now)?.value;
  if (session !== undefined && user !== undefined) return judge(session, user, claims);
  return Promise.all([
    session === undefined ? load(env, sessionKey, 's:', sid, now, ttlMs) : session,
    user === undefined ? load(env, userKey, 'u:', claims.sub, now, ttlMs) : user,
  ]).then(([s, u]) => judge(s, u, claims));
}
