// The written decision for a failing revocation store (REVOCATION_ON_KV_ERROR): KV is replaced
// by a Miniflare wrapped binding whose every operation rejects, so each KV read and write of
// the edge fails. `closed` (default) answers 503 to authenticated requests; `open` lets them
// through. Logout still clears the cookies (and says the edge revocation failed). Without the
// REVOCATIONS binding at all, a session configuration is a configuration error (500).
//
// The same for the login counters (LOGIN_THROTTLE, README "Login throttling"): a namespace whose
// objects never answer makes every login fail closed (503, no store call); without the binding,
// a session configuration is a configuration error (500).
//
// startGate (tests/edge/harness.mjs) always binds a real KV namespace, so this file starts its
// own Miniflare with the same module settings.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { COMPATIBILITY_DATE, WORKER_SCRIPT, startUpstream } from '../edge/harness.mjs';
import { Client, startFakeStore, fakeStoreBindings, assertCleared } from './harness.mjs';

const FAILING_KV = `
export default function () {
  const fail = async () => { throw new Error('KV unavailable (injected by tests/session)'); };
  return { get: fail, getWithMetadata: fail, put: fail, list: fail, delete: fail };
}`;

// A Durable Object namespace whose objects never answer (the edge calls stub.count over RPC).
const FAILING_THROTTLE = `
export default function () {
  const stub = { count: async () => { throw new Error('login counters unavailable (injected by tests/session)'); } };
  return { idFromName: (name) => name, get: () => stub };
}`;

let fs;
let up;
let mf;
const urls = {};

function edgeWorker(name, bindings, extra = {}) {
  return {
    name,
    modules: true,
    scriptPath: WORKER_SCRIPT,
    modulesRoot: path.dirname(path.dirname(path.resolve(WORKER_SCRIPT))),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'], fallthrough: true },
      { type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    durableObjects: { LOGIN_THROTTLE: { className: 'LoginThrottle', useSQLite: true } },
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    ...extra,
  };
}

before(async () => {
  fs = await startFakeStore();
  up = await startUpstream();
  const { Miniflare, Log, LogLevel } = await import('miniflare');
  const failing = { wrappedBindings: { REVOCATIONS: 'failing-kv' } };
  const workers = [
    edgeWorker('closed', fakeStoreBindings(fs, up), failing),
    edgeWorker('open', fakeStoreBindings(fs, up, { REVOCATION_ON_KV_ERROR: 'open' }), failing),
    edgeWorker('nokv', fakeStoreBindings(fs, up)),
    edgeWorker('throttleDown', fakeStoreBindings(fs, up), {
      kvNamespaces: ['REVOCATIONS'],
      durableObjects: undefined,
      wrappedBindings: { LOGIN_THROTTLE: 'failing-throttle' },
    }),
    edgeWorker('noThrottle', fakeStoreBindings(fs, up), { kvNamespaces: ['REVOCATIONS'], durableObjects: undefined }),
    { name: 'failing-kv', modules: [{ type: 'ESModule', path: 'failing-kv.mjs', contents: FAILING_KV }] },
    { name: 'failing-throttle', modules: [{ type: 'ESModule', path: 'failing-throttle.mjs', contents: FAILING_THROTTLE }] },
  ];
  mf = new Miniflare({ workers, cf: false, log: new Log(process.env.EDGE_TEST_LOG ? LogLevel.DEBUG : LogLevel.WARN) });
  try {
    await mf.ready;
    for (const name of ['closed', 'open', 'nokv', 'throttleDown', 'noThrottle']) urls[name] = await mf.unsafeGetDirectURL(name);
  } catch (e) {
    await mf.dispose().catch(() => {});
    mf = undefined;
    throw e;
  }
});

after(async () => {
  await mf?.dispose();
  await fs?.close();
  await up?.close();
});

async function loggedIn(name) {
  const c = new Client(urls[name]);
  const res = await c.login('alice', 'alice-pw');
  assert.equal(res.status, 200, `login on ${name}: ${res.text}`);
  return c;
}

describe('KV failure', () => {
  test('closed (default): authenticated requests get 503 with Retry-After and reach nothing', async () => {
    const c = await loggedIn('closed');
    const before = up.count;
    const r = await c.send('/api/data');
    assert.equal(r.status, 503, r.text);
    assert.ok(Number(r.headers['retry-after']) > 0, r.headers['retry-after']);
    assert.equal(up.count, before, 'not forwarded');
    assert.deepEqual(r.setCookies, [], 'the session is not ended by a KV outage');
    // Bearer too, and a transparent refresh (which checks the session's revocation first).
    const bearer = await new Client(urls.closed).send('/api/data', { headers: { Authorization: `Bearer ${c.accessToken}` } });
    assert.equal(bearer.status, 503);
    const onlySession = c.clone();
    onlySession.jar.delete('__Host-access');
    fs.calls.length = 0;
    assert.equal((await onlySession.send('/api/data')).status, 503);
    assert.equal(fs.count('session'), 0, 'no session authenticate while revocation is unknown');
    // Public paths do not need KV.
    assert.equal((await c.send('/public/x')).status, 200);
  });

  test('open: authenticated requests pass', async () => {
    const c = await loggedIn('open');
    const r = await c.send('/api/data');
    assert.equal(r.status, 200, r.text);
    assert.equal(up.last.header('x-auth-subject'), 'user-alice');
  });

  test('logout while KV is down: cookies cleared, the store logged out, the edge revocation reported as failed', async () => {
    for (const name of ['closed', 'open']) {
      const c = await loggedIn(name);
      const res = await c.logout();
      assert.equal(res.status, 200, res.text);
      assertCleared(res);
      const body = res.json();
      assert.equal(body.revoked_at_edge, false, `${name}: ${res.text}`);
      assert.equal(body.store_logged_out, true);
    }
  });

  test('logout on an open edge while KV is down: this isolate still refuses the replayed cookies', async () => {
    const c = await loggedIn('open');
    const stolen = c.clone();
    assert.equal((await c.logout()).status, 200);
    const r = await stolen.send('/api/data');
    assert.equal(r.status, 401, `the isolate's own revocation memory: ${r.text}`);
  });

  test('no REVOCATIONS binding with sessions configured: 500 on every request, nothing forwarded', async () => {
    const before = up.count;
    for (const [p, method] of [['/api/data', 'GET'], ['/auth/login', 'POST'], ['/public/x', 'GET']]) {
      const r = await new Client(urls.nokv).send(p, { method, json: method === 'POST' ? { username: 'alice', password: 'alice-pw' } : undefined });
      assert.equal(r.status, 500, `${method} ${p}: ${r.text}`);
      assert.deepEqual(r.setCookies, []);
    }
    assert.equal(up.count, before);
  });
});

describe('login counters failing', () => {
  test('counters that do not answer: every login fails closed with 503 and Retry-After, no store call, nothing minted', async () => {
    for (const [username, password] of [['alice', 'alice-pw'], ['alice', 'wrong'], ['nobody', 'x']]) {
      const before = fs.count('password');
      const r = await new Client(urls.throttleDown).login(username, password);
      assert.equal(r.status, 503, `${username}: ${r.text}`);
      assert.equal(r.headers['retry-after'], '5');
      assert.deepEqual(r.json(), { error: 'temporarily_unavailable', message: 'Sign-in is temporarily unavailable.' });
      assert.deepEqual(r.setCookies, []);
      assert.equal(fs.count('password'), before, 'the store is not called');
    }
  });

  test('counters that do not answer leave everything but the login alone', async () => {
    const before = up.count;
    const r = await new Client(urls.throttleDown).send('/public/x');
    assert.equal(r.status, 200, r.text);
    assert.equal(up.count, before + 1);
  });

  test('no LOGIN_THROTTLE binding with sessions configured: 500 on every request, nothing forwarded', async () => {
    const before = up.count;
    const calls = fs.count('password');
    for (const [p, method] of [['/api/data', 'GET'], ['/auth/login', 'POST'], ['/public/x', 'GET']]) {
      const r = await new Client(urls.noThrottle).send(p, { method, json: method === 'POST' ? { username: 'alice', password: 'alice-pw' } : undefined });
      assert.equal(r.status, 500, `${method} ${p}: ${r.text}`);
      assert.deepEqual(r.setCookies, []);
    }
    assert.equal(up.count, before);
    assert.equal(fs.count('password'), calls);
  });
});
