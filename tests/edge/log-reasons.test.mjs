// Every refusal's structured log line names its reason and phase (the closed `Reason` of
// src/rejection.rs and its table), and no log line carries a token or a cookie value. Every
// line carries the request id (the request's cf-ray, else a local one) and is written with the
// console method of its level; a failed JWKS, store or upstream call names the host and the
// cause. Requests go out as raw bytes on a socket; the worker's console calls are captured
// with their method (tests/log-scan.mjs).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import * as H from './harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const key = H.genKey('ec', { kid: 'log-ec' });
// An RSA key the core accepts (the rsa crate takes any odd exponent up to 2^33 - 1) and
// workerd's WebCrypto will not import (it wants 3 or 65537 past 2^32): e = 2^32 + 1.
const rsa = H.genKey('rsa', { kid: 'log-rsa-big-e' });
const bigExponent = { ...rsa.jwk, e: Buffer.from([1, 0, 0, 0, 1]).toString('base64url') };
const lines = [];
/** Every line with its console method: { message, method }. */
const calls = [];
let up, jw, gate, refused;

before(async () => {
  if (!built) return;
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
  jw.set('/big-e', { keys: H.jwks(key, bigExponent), cacheControl: 'max-age=300' });
  refused = await H.refusedUrl('/down');
  const down = new URL(refused);
  const sessions = {
    SESSION_STORE_URL: `${down.origin}/store`,
    CLIENT_ID: 'log-test-client',
    CLIENT_SECRET: `log-test-secret-${H.rid()}`,
    COOKIE_KEYS: crypto.randomBytes(32).toString('base64url'),
    STORE_TIMEOUT_MS: '500',
  };
  gate = await H.startGate(
    {
      edge: H.baseBindings(up, jw.url('/k'), { PUBLIC_PATHS: '/public/*' }),
      bigE: H.baseBindings(up, jw.url('/big-e')),
      // Everything it calls is down: the JWKS, the upstream, the store.
      down: H.baseBindings({ url: down.origin }, refused, { PUBLIC_PATHS: '/public/*', JWKS_TIMEOUT_MS: '500', ...sessions }),
    },
    {
      onLog: (l, method) => {
        lines.push(l);
        calls.push({ message: l, method });
      },
    },
  );
});
after(async () => {
  await gate?.dispose();
  await up?.close();
  await jw?.close();
});

/** The structured line logged for `path` (waits briefly: stdout is asynchronous). */
async function lineFor(path) {
  for (let i = 0; i < 50; i++) {
    for (const l of lines) {
      let v;
      try {
        v = JSON.parse(l);
      } catch {
        continue;
      }
      if (v.path === path) return v;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

const good = H.mint({ key });
const expired = H.mint({ key, claims: { exp: Math.floor(Date.now() / 1000) - 3600, iat: Math.floor(Date.now() / 1000) - 7200 } });
const tampered = H.tamperSignature(good);

const CASES = [
  // [name, method, target, headers, status, phase, reason]
  ['no credential', 'GET', '/api/none', [], 401, 'authenticate', 'missing_token'],
  ['tampered signature', 'GET', '/api/tampered', H.bearer(tampered), 401, 'authenticate', 'bad_signature'],
  ['expired token', 'GET', '/api/expired', H.bearer(expired), 401, 'authenticate', 'expired'],
  ['malformed Authorization', 'GET', '/api/malformed', [['Authorization', 'Bearer a b']], 400, 'authenticate', 'malformed_authorization'],
  ['cross-site cookie POST', 'POST', '/api/csrf', [['Cookie', `__Host-access=${good}`], ['Sec-Fetch-Site', 'cross-site']], 403, 'authorize', 'cross_site_request'],
  ['encoded dot segment', 'GET', '/public/%2e%2e/api/x', [], 400, 'classify', 'target_encoded_separator'],
  ['unknown method', 'PROPFIND', '/api/propfind', H.bearer(good), 405, 'classify', 'method_not_allowed'],
  ['unknown edge route', 'GET', '/auth/nothing-here', [], 404, 'classify', 'no_route'],
];

describe('refusals are logged with their reason and phase', { skip }, () => {
  for (const [name, method, target, headers, status, phase, reason] of CASES) {
    test(name, async () => {
      const res = await H.rawRequest(gate.url('edge'), { method, target, headers });
      assert.equal(res.status, status, res.text);
      // A refused target is logged by its path as sent, without its query.
      const line = await lineFor(target);
      assert.ok(line, `a log line for ${target}; got:\n${lines.join('\n')}`);
      assert.deepEqual(
        { status: line.status, phase: line.phase, reason: line.reason, method: line.method },
        { status, phase, reason, method },
      );
      assert.equal(line.level, status >= 500 ? 'error' : 'info');
      assert.match(line.request_id, /^local-[0-9a-f]{16}$/, 'no cf-ray: a local request id');
    });
  }

  test('the request id is the cf-ray the request came with', async () => {
    const target = '/api/with-ray';
    const res = await H.rawRequest(gate.url('edge'), { target, headers: [['cf-ray', '8c5a1b2c3d4e5f60-AMS']] });
    assert.equal(res.status, 401);
    assert.equal((await lineFor(target))?.request_id, '8c5a1b2c3d4e5f60-AMS');
    // A cf-ray that is no plain id (a client reaching the worker directly) is not repeated.
    const hostile = '/api/hostile-ray';
    await H.rawRequest(gate.url('edge'), { target: hostile, headers: [['cf-ray', 'x"},"level":"forged']] });
    const line = await lineFor(hostile);
    assert.match(line?.request_id ?? '', /^local-[0-9a-f]{16}$/);
    assert.equal(line.level, 'info');
  });

  test('a key WebCrypto will not import: 503 (never a pure-Rust check, never 401), one error line per isolate', async () => {
    const t = H.mint({ key: rsa });
    for (const ray of ['ray-big-e-1', 'ray-big-e-2']) {
      const res = await H.rawRequest(gate.url('bigE'), { target: '/api/big-e', headers: [...H.bearer(t), ['cf-ray', ray]] });
      assert.equal(res.status, 503, res.text);
      assert.equal(res.headers['retry-after'], '5');
      assert.equal(res.json().error, 'temporarily_unavailable');
      assert.ok(!res.text.includes(t), 'the token is not echoed');
    }
    await H.sleep(100);
    const parsed = calls.map((c) => ({ ...c, json: JSON.parse(c.message) }));
    const noted = parsed.filter((c) => c.json.reason === 'webcrypto_import_failed');
    assert.equal(noted.length, 1, `one line for the isolate:\n${lines.join('\n')}`);
    assert.deepEqual(
      [noted[0].json.phase, noted[0].json.alg, noted[0].json.outcome, noted[0].json.level, noted[0].method],
      ['authenticate', 'RS256', 'jwks_unavailable', 'error', 'error'],
    );
    assert.equal(noted[0].json.request_id, 'ray-big-e-1');
    const refusals = parsed.filter((c) => c.json.path === '/api/big-e');
    assert.deepEqual(refusals.map((c) => [c.json.status, c.json.reason]), [[503, 'jwks_unavailable'], [503, 'jwks_unavailable']]);
    // The set's other key is untouched.
    H.assertForwarded(await H.call(gate, up, 'bigE', '/api/ok', { headers: H.bearer(good) }));
  });

  test('failed calls name the host and the cause: JWKS, store, upstream (the upstream on the fast path)', async () => {
    const host = new URL(refused).host;
    const seen = async (ray, phase) => {
      for (let i = 0; i < 100; i++) {
        const found = calls.map((c) => ({ ...c, json: JSON.parse(c.message) })).find((c) => c.json.request_id === ray && c.json.phase === phase);
        if (found) return found;
        await H.sleep(20);
      }
      assert.fail(`a ${phase} line for ${ray}:\n${lines.join('\n')}`);
    };
    // JWKS: a token to verify, keys unreachable.
    let res = await H.rawRequest(gate.url('down'), { target: '/api/x', headers: [...H.bearer(good), ['cf-ray', 'ray-jwks']] });
    assert.equal(res.status, 503);
    const jwks = await seen('ray-jwks', 'keys');
    assert.deepEqual([jwks.json.reason, jwks.json.host, jwks.json.level, jwks.method], ['jwks_fetch_error', host, 'warn', 'warn']);
    // Store: a login, the store unreachable.
    res = await H.rawRequest(gate.url('down'), {
      method: 'POST',
      target: '/auth/login',
      headers: [['Content-Type', 'application/json'], ['Sec-Fetch-Site', 'same-origin'], ['cf-ray', 'ray-store']],
      body: JSON.stringify({ username: 'someone', password: 'a-password-for-logs' }),
    });
    assert.equal(res.status, 502);
    const store = await seen('ray-store', 'store');
    assert.deepEqual(
      [store.json.reason, store.json.host, store.json.request, store.json.level, store.method],
      ['store_unreachable', host, '/oidc/token', 'error', 'error'],
    );
    // Upstream: a public path, forwarded on the fast path (its own callback logs it, with the
    // path but not the query).
    res = await H.rawRequest(gate.url('down'), { target: '/public/p?secret=1', headers: [['cf-ray', 'ray-fast']] });
    assert.equal(res.status, 502);
    const fast = await seen('ray-fast', 'upstream');
    assert.deepEqual(
      [fast.json.reason, fast.json.host, fast.json.request, fast.json.error, fast.method],
      ['upstream_fetch', host, '/public/p', 'Error', 'error'],
    );
  });

  test('every line is JSON with a request id, written with the console method of its level', () => {
    const method = { info: 'log', warn: 'warn', error: 'error' };
    assert.ok(calls.length >= CASES.length);
    for (const c of calls) {
      const v = JSON.parse(c.message);
      assert.equal(typeof v.request_id, 'string', c.message);
      assert.equal(c.method, method[v.level], `level ${v.level} via console.${c.method}: ${c.message}`);
    }
  });

  test('no log line carries a token or a cookie value', () => {
    assert.ok(lines.length >= CASES.length, 'lines were captured');
    for (const secret of [good, tampered, expired, good.split('.')[2], tampered.split('.')[2]]) {
      for (const l of lines) assert.ok(!l.includes(secret), `a log line holds a token: ${l.slice(0, 80)}`);
    }
  });
});
