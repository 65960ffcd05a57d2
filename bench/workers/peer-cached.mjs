// The fair peer: the Hono + jose gate of peer.mjs with edge-session's revocation semantics,
// written as a careful Workers developer would write it. Same checks as peer.mjs (signature by
// `kid` with an algorithm allow-list, `typ`, iss, aud, exp/nbf with leeway), then revocation
// read from the edge's own KV format and kept in the isolate as the edge keeps it
// (revocations.mjs); a KV read that fails refuses with 503 (the edge's default
// REVOCATION_ON_KV_ERROR=closed).
// Bundled with esbuild by bench/bench.mjs; bindings: JWKS, ISSUER, AUDIENCE, UPSTREAM,
// LEEWAY_SECONDS, REVOCATION_CACHE_SECONDS, REVOCATIONS (KV).
import { Hono } from 'hono';
import { createLocalJWKSet, jwtVerify } from 'jose';

import { revoked } from './revocations.mjs';

const app = new Hono();
let jwks; // per isolate: jose imports each JWK once and keeps the CryptoKey

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
  // Hits are answered without awaiting anything; on a miss only the missing keys are read,
  // both at once (revocations.mjs).
  let isRevoked = revoked(c.env, payload);
  if (isRevoked instanceof Promise) {
    try {
      isRevoked = await isRevoked;
    } catch {
      return c.json({ error: 'temporarily_unavailable' }, 503, { 'retry-after': '1' });
    }
  }
  if (isRevoked) return challenge(c);
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
