// The demo app (demo/worker.js, bundled as wrangler bundles it: esbuild, jose from
// node_modules) behind the edge, in workerd: it believes only the edge's signed assertion.
// Straight to the demo's own socket, `X-Auth-Subject: mallory` / `X-Auth-Roles: admin` is not
// shown as mallory, and forged, expired and misaddressed assertions are refused; through the
// edge the real identity arrives, and its WebSocket echo works with a valid session and is
// refused without one. Raw bytes on the direct sockets.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WebSocket } from 'ws';
import { build } from 'esbuild';
import * as H from './harness.mjs';
import { Client, UA, fakeStoreBindings, startFakeStore } from '../session/harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;
const UPSTREAM = 'https://demo-app.internal';
const MALLORY = [
  ['X-Auth-Subject', 'mallory'],
  ['X-Auth-Roles', 'admin'],
  ['X-Auth-Session', 'sess-mallory'],
];

/** A signing key as ASSERTION_KEY takes it, its public JWKS, and a node KeyObject of it. */
function edgeKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return { privateKey, kid, jwk: { kty, crv, x, y, d, kid }, jwks: { keys: [{ kty, crv, x, y, kid, alg: 'ES256', use: 'sig' }] } };
}

/** An assertion signed with `key` (the edge's shape), claims overridable. */
function assertion(key, over = {}) {
  const iat = H.now();
  const claims = { iss: 'edge-session', aud: UPSTREAM, sub: 'mallory', roles: ['admin'], amr: ['pwd'], iat, exp: iat + 60, ...over };
  const input = `${H.b64uJson({ alg: 'ES256', typ: 'JWT', kid: key.kid })}.${H.b64uJson(claims)}`;
  return `${input}.${H.b64u(H.signJws('ES256', key.privateKey, input))}`;
}

const signing = edgeKey('demo-edge-1');
const forger = edgeKey('demo-edge-1');
let dir, store, gate, demoUrl;

before(async () => {
  if (!built) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-demo-'));
  await build({
    entryPoints: [path.join(H.REPO_ROOT, 'demo/worker.js')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    outfile: path.join(dir, 'demo.mjs'),
    logLevel: 'warning',
  });
  store = await startFakeStore();
  const demo = {
    name: 'demo',
    modules: true,
    scriptPath: path.join(dir, 'demo.mjs'),
    modulesRoot: dir,
    compatibilityDate: '2025-09-01',
    bindings: { EDGE_JWKS: JSON.stringify(signing.jwks), EDGE_AUDIENCE: UPSTREAM },
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
  };
  // The edge's UPSTREAM names the origin the demo is reached at through the binding.
  const bindings = (over) => fakeStoreBindings(store, { url: UPSTREAM }, { PUBLIC_PATHS: '/,/static/*', ASSERTION_KEY: JSON.stringify(signing.jwk), ...over });
  gate = await H.startGate(
    { fast: bindings({}), full: bindings({ FAST_PATH: 'false' }) },
    { extraWorkers: [demo], serviceBindings: { fast: { UPSTREAM_SERVICE: 'demo' }, full: { UPSTREAM_SERVICE: 'demo' } } },
  );
  demoUrl = await gate.mf.unsafeGetDirectURL('demo');
});
after(async () => {
  await gate?.dispose();
  await store?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const direct = (target, headers) => H.rawRequest(demoUrl, { target, headers: [['Host', 'demo-app.internal'], ...headers] });

describe('the demo believes only the edge\'s assertion', { skip }, () => {
  test('curl -H "x-auth-subject: mallory" -H "x-auth-roles: admin" straight at the demo is not mallory', async () => {
    for (const target of ['/api/me', '/app']) {
      const res = await direct(target, MALLORY);
      assert.equal(res.status, 401, `${target}: ${res.status} ${res.text}`);
      assert.ok(!res.text.includes('mallory') && !res.text.includes('admin'), res.text);
    }
  });

  const refused = {
    'forged (another key under the edge\'s kid)': () => assertion(forger),
    'expired': () => assertion(signing, { iat: H.now() - 300, exp: H.now() - 240 }),
    'for another upstream (wrong aud)': () => assertion(signing, { aud: 'https://other-app.internal' }),
    'from another issuer': () => assertion(signing, { iss: 'https://evil.test' }),
    'tampered after signing': () => {
      const [h, , s] = assertion(signing, { sub: 'alice' }).split('.');
      return `${h}.${H.b64uJson({ iss: 'edge-session', aud: UPSTREAM, sub: 'mallory', iat: H.now(), exp: H.now() + 60 })}.${s}`;
    },
  };
  for (const [name, make] of Object.entries(refused)) {
    test(`an assertion ${name} is refused`, async () => {
      const res = await direct('/api/me', [...MALLORY, ['Edge-Assertion', make()]]);
      assert.equal(res.status, 401, res.text);
      assert.ok(!res.text.includes('mallory'), res.text);
    });
  }

  test('a valid assertion is believed, and its identity wins over the headers (the test can pass)', async () => {
    const res = await direct('/api/me', [
      ['X-Auth-Subject', 'someone-else'],
      ['Edge-Assertion', assertion(signing, { sub: 'mallory', roles: ['admin'] })],
    ]);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().subject, 'mallory');
    assert.deepEqual(res.json().roles, ['admin']);
  });

  for (const name of ['fast', 'full']) {
    test(`${name}: through the edge, the signed-in user is who the demo sees, whatever the client adds`, async () => {
      const c = new Client(gate.url(name));
      assert.equal((await c.login('alice', 'alice-pw')).status, 200);
      for (const round of [1, 2]) {
        const res = await c.send('/api/me', { headers: Object.fromEntries(MALLORY) });
        assert.equal(res.status, 200, `#${round}: ${res.text}`);
        assert.equal(res.json().subject, store.subOf('alice'));
        const page = await c.send('/app');
        assert.equal(page.status, 200);
        assert.match(page.text, new RegExp(`<strong id="subject">${store.subOf('alice')}</strong>`));
      }
    });

    test(`${name}: the demo's WebSocket echo works with a valid session, and is refused without one`, async () => {
      const c = new Client(gate.url(name));
      assert.equal((await c.login('alice', 'alice-pw')).status, 200);
      const url = new URL('/api/echo', gate.url(name));
      url.protocol = 'ws:';
      const origin = new URL(gate.url(name)).origin;
      const connect = (headers) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(url, { headers, handshakeTimeout: 10000 });
          ws.once('open', () => resolve({ status: 101, ws }));
          ws.once('unexpected-response', (req, res) => resolve({ status: res.statusCode }));
          ws.once('error', reject);
        });
      const ok = await connect({ Cookie: c.cookieHeader(), 'User-Agent': UA, Origin: origin });
      assert.equal(ok.status, 101);
      const reply = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no echo')), 5000);
        ok.ws.once('message', (m) => (clearTimeout(timer), resolve(String(m))));
        ok.ws.send('hello');
      });
      assert.equal(reply, `${store.subOf('alice')}: hello`);
      ok.ws.close();
      assert.equal((await connect({ 'User-Agent': UA, Origin: origin, ...Object.fromEntries(MALLORY) })).status, 401, 'no session');
      const cookies = c.cookieHeader();
      assert.equal((await c.logout()).status, 200);
      assert.equal((await connect({ Cookie: cookies, 'User-Agent': UA, Origin: origin })).status, 401, 'after logout');
    });
  }
});
