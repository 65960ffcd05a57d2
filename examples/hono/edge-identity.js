// Verifies edge-session's identity assertion (the `Edge-Assertion` request header) with jose,
// and exposes who the request speaks for. Plain JavaScript (ES modules), no build step.
//
//   import { edgeIdentity } from './edge-identity.js';
//   app.use('/api/*', edgeIdentity({
//     jwksUrl: 'https://app.example.com/auth/jwks', // the edge's keys (or `jwks: {keys: [...]}`)
//     issuer: 'https://app.example.com',            // the edge's ASSERTION_ISSUER
//     audience: 'https://app-origin.internal',      // this app's origin, as the edge's UPSTREAM
//   }));
//   app.get('/api/me', (c) => c.json(c.get('identity')));
//
// What is checked (README: "In front of a Hono app"): an ES256 signature by a key of the edge's
// JWKS (`kid`), `typ: JWT`, `iss`, `aud`, `exp`, an `iat` at most `maxAge` seconds old and not in
// the future, and `sub`. Anything else is refused with 401, and the request's own `X-Auth-*`
// headers are never read: a client that reaches the app without the edge can send those.
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';

/** The request header that carries the assertion. */
export const ASSERTION_HEADER = 'edge-assertion';

/**
 * A verifier of assertions: `await verify(token)` resolves to the identity
 * `{ subject, session, roles, scope, client, amr, authTime, claims }` or rejects.
 *
 * options:
 *   - `jwks` (a JWKS object), `jwksUrl` (the edge's `/auth/jwks`, fetched and cached by jose,
 *     refetched for an unknown `kid`) or `keys` (a jose key-set function): exactly one;
 *   - `issuer`: the edge's `ASSERTION_ISSUER` (default `edge-session`, the edge's default);
 *   - `audience`: required, this app's origin as the edge's `UPSTREAM` names it (or the edge's
 *     `ASSERTION_AUDIENCE`);
 *   - `maxAge`: seconds an assertion may be old (default 60, the edge's longest lifetime);
 *   - `clockTolerance`: seconds of clock skew accepted (default 5);
 *   - `jwksOptions`: jose's `createRemoteJWKSet` options for `jwksUrl` (`cacheMaxAge`, default
 *     10 minutes; `cooldownDuration`, default 30 s: an unknown `kid` refetches the set at most
 *     that often).
 */
export function createAssertionVerifier({ jwks, jwksUrl, keys, jwksOptions, issuer = 'edge-session', audience, maxAge = 60, clockTolerance = 5 } = {}) {
  if (!audience) throw new TypeError('edge-identity: `audience` (this app\'s origin) is required');
  const sources = [jwks, jwksUrl, keys].filter((s) => s !== undefined);
  if (sources.length !== 1) throw new TypeError('edge-identity: give exactly one of `jwks`, `jwksUrl`, `keys`');
  const keySet = keys ?? (jwks ? createLocalJWKSet(jwks) : createRemoteJWKSet(new URL(jwksUrl), jwksOptions));
  const options = {
    algorithms: ['ES256'],
    typ: 'JWT',
    issuer,
    audience,
    maxTokenAge: maxAge,
    clockTolerance,
    requiredClaims: ['sub', 'iat', 'exp'],
  };
  return async function verify(token) {
    const { payload } = await jwtVerify(token, keySet, options);
    const list = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
    return {
      subject: payload.sub,
      session: typeof payload.sid === 'string' ? payload.sid : null,
      roles: list(payload.roles),
      scope: typeof payload.scope === 'string' ? payload.scope : null,
      client: typeof payload.client_id === 'string' ? payload.client_id : null,
      amr: list(payload.amr),
      authTime: typeof payload.auth_time === 'number' ? payload.auth_time : null,
      claims: payload,
    };
  };
}

/**
 * The assertion of a request, or null: exactly one `Edge-Assertion` value (the edge always
 * sends one; a list means something else added or joined values).
 */
export function assertionOf(headers) {
  const value = headers.get(ASSERTION_HEADER);
  if (!value || value.includes(',')) return null;
  return value.trim();
}

/**
 * Hono middleware: verifies the request's assertion and sets `c.get('identity')`, or answers
 * 401 (`{"error":"unauthorized"}`). With `optional: true` a request without an assertion goes
 * on with `identity` null (a public page that greets signed-in users); a present but invalid
 * one is still refused. `onError(err, c)` sees why an assertion was refused (for your logs;
 * never log the token).
 */
export function edgeIdentity({ optional = false, onError, ...options } = {}) {
  const verify = createAssertionVerifier(options);
  return async function edgeIdentityMiddleware(c, next) {
    const token = assertionOf(c.req.raw.headers);
    if (!token) {
      if (!optional) return c.json({ error: 'unauthorized' }, 401);
      c.set('identity', null);
      return next();
    }
    let identity;
    try {
      identity = await verify(token);
    } catch (err) {
      onError?.(err, c);
      return c.json({ error: 'unauthorized' }, 401);
    }
    c.set('identity', identity);
    return next();
  };
}
