// Every refusal's structured log line names its reason and phase (the closed `Reason` of
// src/rejection.rs and its table), and no log line carries a token or a cookie value. Requests
// go out as raw bytes on a socket; the worker's stdout is read line by line.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from './harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const key = H.genKey('ec', { kid: 'log-ec' });
const lines = [];
let up, jw, gate;

before(async () => {
  if (!built) return;
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
  gate = await H.startGate({ edge: H.baseBindings(up, jw.url('/k'), { PUBLIC_PATHS: '/public/*' }) }, { onLog: (l) => lines.push(l) });
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
    });
  }

  test('no log line carries a token or a cookie value', () => {
    assert.ok(lines.length >= CASES.length, 'lines were captured');
    for (const secret of [good, tampered, expired, good.split('.')[2], tampered.split('.')[2]]) {
      for (const l of lines) assert.ok(!l.includes(secret), `a log line holds a token: ${l.slice(0, 80)}`);
    }
  });
});
