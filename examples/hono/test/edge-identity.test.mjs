// The Hono middleware against assertions signed the way the edge signs them (ES256, typ JWT,
// kid, iss, aud, sub, sid, roles, amr, iat/exp 60 s apart): the good one passes with its
// identity on the context, and every forged, expired, misaddressed or unsigned one gets 401.
// Run: node --test examples/hono/test/
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

import { createApp } from '../app.js';
import { createAssertionVerifier, edgeIdentity } from '../edge-identity.js';
import { Hono } from 'hono';

const ISSUER = 'https://edge.test';
const AUDIENCE = 'https://app.internal';
const now = () => Math.floor(Date.now() / 1000);

let edgeKey, otherKey, nextKey, jwks;

async function keyPair(kid) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** An assertion as the edge makes it; `over` replaces claims, `header` header fields. */
function assertion({ key = edgeKey, over = {}, header = {}, iat = now() } = {}) {
  const claims = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'alice',
    sid: 'sess-1',
    roles: ['reader'],
    amr: ['pwd'],
    iat,
    exp: iat + 60,
    ...over,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: key.kid, ...header })
    .sign(key.privateKey);
}

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

before(async () => {
  edgeKey = await keyPair('edge-1');
  otherKey = await keyPair('edge-1'); // same kid, another key: a forger's
  nextKey = await keyPair('edge-2');
  jwks = { keys: [edgeKey.jwk] };
});

const app = () => createApp({ jwks, issuer: ISSUER, audience: AUDIENCE });
const get = (a, path, headers = {}) => a.request(path, { headers });

describe('edgeIdentity', () => {
  test('a valid assertion passes and its identity is on the context', async () => {
    const res = await get(app(), '/api/me', { 'edge-assertion': await assertion() });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { subject: 'alice', session: 'sess-1', roles: ['reader'], amr: ['pwd'] });
  });

  test('the identity comes from the assertion, never from X-Auth-* headers', async () => {
    const spoof = { 'x-auth-subject': 'mallory', 'x-auth-roles': 'admin' };
    const none = await get(app(), '/api/me', spoof);
    assert.equal(none.status, 401, 'identity headers alone are refused');
    assert.deepEqual(await none.json(), { error: 'unauthorized' });
    const res = await get(app(), '/api/me', { ...spoof, 'edge-assertion': await assertion() });
    assert.equal((await res.json()).subject, 'alice');
    const admin = await get(app(), '/api/admin', { ...spoof, 'edge-assertion': await assertion() });
    assert.equal(admin.status, 403, 'roles are the assertion\'s');
    const real = await get(app(), '/api/admin', { 'edge-assertion': await assertion({ over: { roles: ['admin'] } }) });
    assert.equal(real.status, 200);
  });

  const refused = {
    'forged: signed by another key under the edge\'s kid': () => assertion({ key: otherKey }),
    'forged: a key the JWKS does not have': () => assertion({ key: nextKey }),
    'forged: the payload changed after signing': async () => {
      const [h, , s] = (await assertion()).split('.');
      return `${h}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', roles: ['admin'], iat: now(), exp: now() + 60 })}.${s}`;
    },
    'forged: alg none': async () =>
      `${b64({ alg: 'none', typ: 'JWT', kid: 'edge-1' })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'mallory', iat: now(), exp: now() + 60 })}.`,
    'expired: past exp': () => assertion({ iat: now() - 120 }),
    'expired: older than maxAge though exp is ahead': () => assertion({ iat: now() - 90, over: { exp: now() + 60 } }),
    'issued in the future': () => assertion({ iat: now() + 120 }),
    'wrong audience: another upstream\'s': () => assertion({ over: { aud: 'https://other-app.internal' } }),
    'wrong issuer': () => assertion({ over: { iss: 'https://evil.test' } }),
    'no sub': () => assertion({ over: { sub: undefined } }),
    'wrong typ': () => assertion({ header: { typ: 'at+jwt' } }),
    'not a JWT': () => 'garbage',
    'two values joined': async () => `${await assertion()}, ${await assertion()}`,
  };
  for (const [name, make] of Object.entries(refused)) {
    test(`401: ${name}`, async () => {
      const res = await get(app(), '/api/me', { 'edge-assertion': await make() });
      assert.equal(res.status, 401, name);
      assert.deepEqual(await res.json(), { error: 'unauthorized' });
    });
  }

  test('public routes need nothing; optional mode lets a request without one through', async () => {
    assert.equal((await get(app(), '/')).status, 200);
    const a = new Hono();
    a.use('*', edgeIdentity({ jwks, issuer: ISSUER, audience: AUDIENCE, optional: true }));
    a.get('/', (c) => c.json({ who: c.get('identity')?.subject ?? null }));
    assert.deepEqual(await (await get(a, '/')).json(), { who: null });
    assert.deepEqual(await (await get(a, '/', { 'edge-assertion': await assertion() })).json(), { who: 'alice' });
    assert.equal((await get(a, '/', { 'edge-assertion': await assertion({ key: otherKey }) })).status, 401, 'a bad one is still refused');
  });

  test('onError sees why, and the options are checked', async () => {
    const seen = [];
    const a = new Hono();
    a.use('*', edgeIdentity({ jwks, issuer: ISSUER, audience: AUDIENCE, onError: (e) => seen.push(e.code) }));
    a.get('/', (c) => c.text('ok'));
    await get(a, '/', { 'edge-assertion': await assertion({ over: { aud: 'x' } }) });
    assert.deepEqual(seen, ['ERR_JWT_CLAIM_VALIDATION_FAILED']);
    assert.throws(() => createAssertionVerifier({ jwks }), /audience/);
    assert.throws(() => createAssertionVerifier({ audience: AUDIENCE }), /exactly one/);
    assert.throws(() => createAssertionVerifier({ jwks, jwksUrl: 'https://x.test', audience: AUDIENCE }), /exactly one/);
  });
});

describe('edgeIdentity with the edge\'s remote JWKS', () => {
  let server, url;
  let served;
  before(async () => {
    served = { keys: [edgeKey.jwk] };
    server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(served));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${server.address().port}/auth/jwks`;
  });
  after(() => new Promise((r) => server.close(r)));

  test('keys are fetched from jwksUrl, and a rotated-in key is found by its kid', async () => {
    // No cooldown between fetches here; jose's default (30 s) is why a rotation publishes the
    // next key before signing with it (README).
    const a = createApp({ jwksUrl: url, jwksOptions: { cooldownDuration: 0 }, issuer: ISSUER, audience: AUDIENCE });
    assert.equal((await get(a, '/api/me', { 'edge-assertion': await assertion() })).status, 200);
    // The edge publishes the next key (ASSERTION_PUBLISHED_KEYS) and then signs with it.
    served = { keys: [nextKey.jwk, edgeKey.jwk] };
    const res = await get(a, '/api/me', { 'edge-assertion': await assertion({ key: nextKey }) });
    assert.equal(res.status, 200, 'an unknown kid makes jose fetch the set again');
    assert.equal((await get(a, '/api/me', { 'edge-assertion': await assertion({ key: otherKey }) })).status, 401);
  });
});
