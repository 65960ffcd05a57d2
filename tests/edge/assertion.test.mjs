// The identity assertion (Edge-Assertion) and the forwarding headers, as the upstream receives
// them: an ES256 JWT the upstream verifies with the edge's /auth/jwks (checked here with the
// Hono example's own verifier, examples/hono/edge-identity.js), signed once per identity and
// sent again from the isolate's cache (the warm path signs nothing: the fast path serves it);
// and whatever a client sends under the names the edge sets (Edge-Assertion, X-Forwarded-Host,
// X-Forwarded-Proto, Forwarded, in any case and with `_` for `-`) never reaches the upstream.
// Requests are raw bytes on workerd's socket, on the fast and the full path.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as H from './harness.mjs';
import { createAssertionVerifier } from '../../examples/hono/edge-identity.js';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const key = H.genKey('ec', { kid: 'assert-ec' });
let jw, up, gate;
const FAST = 'edge;desc="fast"';
const FULL = 'edge;desc="full"';

/** A private P-256 JWK for ASSERTION_KEY, as scripts/gen-assertion-key.mjs writes one. */
function assertionKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return { kty, crv, x, y, d, kid };
}
const signing = assertionKey('edge-test-1');

const token = (sub, over = {}) =>
  H.mint({ key, claims: { sub, sid: `sess-${sub}`, roles: ['user'], amr: ['pwd'], exp: H.now() + 3600, ...over } });

before(async () => {
  if (!built) return;
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
  const base = {
    ISSUER: H.ISSUER,
    AUDIENCE: H.AUDIENCE,
    JWKS_URL: jw.url('/k'),
    UPSTREAM: up.url,
    PUBLIC_PATHS: '/pub/*',
    SERVER_TIMING: 'true',
    ASSERTION_KEY: JSON.stringify(signing),
  };
  gate = await H.startGate({
    fast: base,
    full: { ...base, FAST_PATH: 'false' },
    nokey: { ...base, ASSERTION_KEY: undefined },
  });
});
after(async () => {
  await gate?.dispose();
  await jw?.close();
  await up?.close();
});

async function send(name, target, headers = []) {
  const before = up.count;
  const res = await H.rawRequest(gate.url(name), { target, headers });
  assert.equal(res.status, 200, `${name} ${target}: ${res.status} ${res.text.slice(0, 200)}`);
  assert.equal(up.count, before + 1, 'forwarded once');
  return { res, seen: up.last };
}

async function verifier(name) {
  const res = await H.rawRequest(gate.url(name), { target: '/auth/jwks' });
  assert.equal(res.status, 200, res.text);
  return createAssertionVerifier({ jwks: res.json(), audience: up.url });
}

describe('the identity assertion', { skip }, () => {
  test('/auth/jwks publishes the public half only; without a key there is none', async () => {
    const res = await H.rawRequest(gate.url('fast'), { target: '/auth/jwks' });
    assert.equal(res.status, 200);
    const { keys } = res.json();
    assert.deepEqual(keys, [
      { kty: 'EC', crv: 'P-256', x: signing.x, y: signing.y, kid: 'edge-test-1', alg: 'ES256', use: 'sig' },
    ]);
    assert.ok(!res.text.includes(signing.d), 'no private member');
    assert.equal((await H.rawRequest(gate.url('nokey'), { target: '/auth/jwks' })).status, 404);
  });

  for (const name of ['fast', 'full']) {
    test(`${name}: every authenticated request carries a verifiable assertion, signed once and reused`, async () => {
      const verify = await verifier(name);
      const t = token(`ann-${name}`);
      const first = await send(name, '/api/x', [['Authorization', `Bearer ${t}`]]);
      const second = await send(name, '/api/y', [['Authorization', `Bearer ${t}`]]);
      const a1 = first.seen.headers['edge-assertion'];
      const a2 = second.seen.headers['edge-assertion'];
      assert.equal(a1?.length, 1, 'one value');
      assert.equal(a2?.[0], a1[0], 'the same assertion again: nothing signed for the second request');
      if (name === 'fast') {
        assert.equal(first.res.headers['server-timing'], FULL, 'a new identity is signed on the full path');
        assert.equal(second.res.headers['server-timing'], FAST, 'the warm path serves it from the cache');
      }
      const id = await verify(a1[0]);
      assert.equal(id.subject, `ann-${name}`);
      assert.equal(id.session, `sess-ann-${name}`);
      assert.deepEqual(id.roles, ['user']);
      assert.deepEqual(id.amr, ['pwd']);
      assert.equal(id.claims.iss, 'edge-session');
      assert.equal(id.claims.aud, up.url, "aud is the upstream's origin");
      assert.equal(id.claims.exp - id.claims.iat, 60);
      assert.ok(Math.abs(id.claims.iat - H.now()) <= 5);
      // It says what the X-Auth-* headers say.
      assert.equal(first.seen.header('x-auth-subject'), id.subject);
      assert.equal(first.seen.header('x-auth-session'), id.session);
      const header = JSON.parse(Buffer.from(a1[0].split('.')[0], 'base64url'));
      assert.deepEqual(header, { alg: 'ES256', typ: 'JWT', kid: 'edge-test-1' });

      // Another identity, another assertion.
      const other = await send(name, '/api/x', [['Authorization', `Bearer ${token(`bo-${name}`)}`]]);
      const b = other.seen.headers['edge-assertion'][0];
      assert.notEqual(b, a1[0]);
      assert.equal((await verify(b)).subject, `bo-${name}`);
      // Another audience refuses it: it was made for this upstream only.
      const elsewhere = createAssertionVerifier({ jwks: (await H.rawRequest(gate.url(name), { target: '/auth/jwks' })).json(), audience: 'https://other.internal' });
      await assert.rejects(elsewhere(b), /aud/);
    });
  }

  test('without a key, no assertion (and nothing a client sent under its name)', async () => {
    const { seen } = await send('nokey', '/api/x', [
      ['Authorization', `Bearer ${token('cy')}`],
      ['Edge-Assertion', 'forged'],
    ]);
    assert.equal(seen.headers['edge-assertion'], undefined);
    assert.equal(seen.header('x-auth-subject'), 'cy');
  });
});

// Every spelling a client might use for the headers the edge sets; CGI, WSGI and Rack read `_`
// as `-`, so each of these would reach such an app under the edge's own name.
const SPOOFED = [
  ['Edge-Assertion', 'forged.jwt.value'],
  ['edge_assertion', 'forged2'],
  ['EDGE-ASSERTION', 'forged3'],
  ['X-Forwarded-Host', 'evil.test'],
  ['x_forwarded_host', 'evil2.test'],
  ['X-Forwarded-Proto', 'https'],
  ['X_FORWARDED_PROTO', 'https'],
  ['Forwarded', 'for=1.2.3.4;host=evil.test;proto=https'],
];

describe('headers the edge sets are replaced, never passed on', { skip }, () => {
  for (const name of ['fast', 'full']) {
    for (const [kind, target, auth] of [
      ['public', '/pub/x', []],
      ['protected', '/api/x', [['Authorization', `Bearer ${token('dee')}`]]],
    ]) {
      test(`${name}, ${kind}: exactly the edge's X-Forwarded-* and assertion`, async () => {
        for (const round of [1, 2]) {
          const { seen } = await send(name, target, [['Host', 'app.example.test:8443'], ...auth, ...SPOOFED]);
          const names = Object.keys(seen.headers);
          for (const [spoofed] of SPOOFED) {
            const lower = spoofed.toLowerCase();
            if (!['edge-assertion', 'x-forwarded-host', 'x-forwarded-proto'].includes(lower)) {
              assert.ok(!names.includes(lower), `#${round}: ${spoofed} reached the upstream`);
            }
          }
          assert.deepEqual(seen.headers['x-forwarded-host'], ['app.example.test:8443'], `#${round}: the client's Host`);
          assert.deepEqual(seen.headers['x-forwarded-proto'], ['http'], `#${round}: the scheme it came in on`);
          assert.equal(seen.headers.forwarded, undefined);
          assert.equal(seen.header('host'), up.url.slice('http://'.length), "the upstream's own Host");
          if (kind === 'public') {
            assert.equal(seen.headers['edge-assertion'], undefined, `#${round}: no assertion on a public path`);
          } else {
            const [a] = seen.headers['edge-assertion'];
            assert.equal(seen.headers['edge-assertion'].length, 1);
            assert.ok(!a.startsWith('forged'), `#${round}: the edge's own`);
            assert.equal((await (await verifier(name))(a)).subject, 'dee');
          }
        }
      });
    }
  }

  test('the app would have read them (the test can fail)', async () => {
    // Straight to the upstream, not through the edge: the spoofed values arrive.
    const res = await H.rawRequest(up.url, { target: '/pub/x', headers: SPOOFED });
    assert.equal(res.status, 200);
    assert.equal(up.last.header('edge-assertion'), 'forged.jwt.value, forged3');
    assert.equal(up.last.header('x-forwarded-host'), 'evil.test');
  });
});
