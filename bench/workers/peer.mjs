// The peer: a gate written the way Workers users write one, with Hono and `jose` (which
// verifies through the runtime's WebCrypto). Same checks as edge-session: signature with the
// key the `kid` names (algorithm allow-list), `typ`, iss, aud, exp/nbf with leeway, then the
// revocation lookups in KV (session and user-wide, like edge-session's); the verified identity
// goes to the upstream as X-Auth-* headers. No isolate cache: the way the usual examples read.
// Bundled with esbuild by bench/bench.mjs; bindings: JWKS, ISSUER, AUDIENCE, UPSTREAM,
// LEEWAY_SECONDS, CHECK_REVOCATION ("1" or "0"), REVOCATIONS (KV).
import { Hono } from 'hono';
import { createLocalJWKSet, jwtVerify } from 'jose';

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
  if (c.env.CHECK_REVOCATION !== '0') {
    // The session's own revocation and a user-wide "revoked before" mark, read in parallel.
    const [session, user] = await Promise.all([
      payload.sid ? c.env.REVOCATIONS.get(`sid:${payload.sid}`) : null,
      c.env.REVOCATIONS.get(`user:${payload.sub}`),
    ]);
    if (session !== null) return challenge(c);
    if (user !== null && payload.iat <= Number(user)) return challenge(c);
  }
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
