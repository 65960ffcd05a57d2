// The fair peer: the Hono + jose gate of peer.mjs with edge-session's revocation semantics,
// written as a careful Workers developer would write it. Same checks as peer.mjs (signature by
// `kid` with an algorithm allow-list, `typ`, iss, aud, exp/nbf with leeway), then revocation
// read from the edge's own KV format (protocol/src/revocation.rs), so it could share the
// edge's REVOCATIONS namespace:
//  - `s:<hex sha256(session id)>`: the session ended (any value);
//  - `u:<hex sha256(subject)>` = unix milliseconds (whole seconds for old entries, counted to
//    the end of their second): every token of the user whose `iat` second starts at or before
//    that moment is refused;
//  - a KV read that fails refuses with 503 (the edge's default REVOCATION_ON_KV_ERROR=closed).
// KV answers (present and absent) are kept in the isolate for REVOCATION_CACHE_SECONDS
// (default 10, as the edge), in a Map with an expiry per entry and at most 10,000 entries
// (the edge's bound; the oldest go first). On a miss only the missing keys are read, both at
// once. The cache is keyed by the raw ids: the SHA-256 of the KV key is paid on a miss only.
// Bundled with esbuild by bench/bench.mjs; bindings: JWKS, ISSUER, AUDIENCE, UPSTREAM,
// LEEWAY_SECONDS, REVOCATION_CACHE_SECONDS, REVOCATIONS (KV).
import { Hono } from 'hono';
import { createLocalJWKSet, jwtVerify } from 'jose';

const app = new Hono();
let jwks; // per isolate: jose imports each JWK once and keeps the CryptoKey

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

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
const kvKey = async (prefix, id) => prefix + hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(id)));

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

const challenge = (c) =>
  c.json({ error: 'invalid_token' }, 401, {
    'www-authenticate': 'Bearer realm="peer", error="invalid_token"',
  });

app.use('*', async (c, next) => {
  const auth = c.req.header('authorization') ?? '';
  const [scheme, token] = auth.split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || !token) return challenge(c);
  jwks ??= createLocalJWKSet(JSON.parse(c.env.JWKS));
  let payload;
  try {
    ({ payload } = await jwtVerify(token, jwks, {
      issuer: c.env.ISSUER,
      audience: c.env.AUDIENCE,
      algorithms: ['ES256', 'RS256', 'EdDSA'],
      typ: 'at+jwt',
      clockTolerance: Number(c.env.LEEWAY_SECONDS ?? 30),
      requiredClaims: ['exp', 'iat', 'sub'],
    }));
  } catch {
    return challenge(c);
  }
  const now = Date.now();
  const ttlMs = 1000 * Number(c.env.REVOCATION_CACHE_SECONDS ?? 10);
  const sid = typeof payload.sid === 'string' ? payload.sid : null;
  const sessionKey = `s\0${sid}`;
  const userKey = `u\0${payload.sub}`;
  // Hits are answered without awaiting anything; on a miss only the missing keys are read,
  // both at once.
  let session = sid === null ? null : cachedAnswer(sessionKey, now)?.value;
  let user = cachedAnswer(userKey, now)?.value;
  if (session === undefined || user === undefined) {
    try {
      [session, user] = await Promise.all([
        session === undefined ? load(c.env, sessionKey, 's:', sid, now, ttlMs) : session,
        user === undefined ? load(c.env, userKey, 'u:', payload.sub, now, ttlMs) : user,
      ]);
    } catch {
      return c.json({ error: 'temporarily_unavailable' }, 503, { 'retry-after': '1' });
    }
  }
  if (session !== null) return challenge(c);
  const mark = userMark(user);
  if (mark !== null && payload.iat * 1000 <= mark) return challenge(c);
  c.set('claims', payload);
  await next();
});

app.all('*', async (c) => {
  const claims = c.get('claims');
  const url = new URL(c.req.url);
  const headers = new Headers(c.req.raw.headers);
  headers.set('x-auth-subject', claims.sub);
  if (claims.sid) headers.set('x-auth-session', claims.sid);
  headers.set('x-auth-roles', (claims.roles ?? []).join(','));
  const resp = await fetch(new URL(url.pathname + url.search, c.env.UPSTREAM), {
    method: c.req.method,
    headers,
    redirect: 'manual',
  });
  const out = new Response(resp.body, resp);
  out.headers.set('cache-control', 'private, no-store');
  out.headers.set('vary', 'Cookie, Authorization');
  return out;
});

export default app;
