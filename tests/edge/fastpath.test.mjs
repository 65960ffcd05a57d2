// The fast path against the full path: two workers run the same build, "fast" with the
// default configuration and "full" with FAST_PATH=false. Every case sends the same request twice
// to each (the first fills the verified-token and revocation caches, so the second is answered
// by the fast path on "fast"), and the answers and what the upstream received must be the same.
// Both run with SERVER_TIMING=true, so every answer says which path served it
// (`Server-Timing: edge;desc="fast"|"full"`): each case also asserts that the fast path served
// the second request on "fast" (and that refusals were the full path's). Then the upstream's
// failures: a deadline (UPSTREAM_TIMEOUT_MS) and a refused connection, on both paths.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as H from './harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const key = H.genKey('ec', { kid: 'fast-ec' });
let up, jw, gate, hang, refused;

before(async () => {
  if (!built) return;
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
  // An upstream that accepts and never answers.
  hang = http.createServer(() => {});
  await new Promise((r) => hang.listen(0, '127.0.0.1', r));
  const hangUrl = `http://127.0.0.1:${hang.address().port}`;
  refused = await H.refusedUrl('');
  const common = { PUBLIC_PATHS: '/public/*', SERVER_TIMING: 'true' };
  // An application behind the UPSTREAM_SERVICE binding that answers after 10 s.
  const slowApp = {
    name: 'slow-app',
    modules: true,
    compatibilityDate: H.COMPATIBILITY_DATE,
    script: 'export default { async fetch() { await new Promise((r) => setTimeout(r, 10000)); return new Response("late"); } };',
  };
  gate = await H.startGate(
    {
      fast: H.baseBindings(up, jw.url('/k'), common),
      full: H.baseBindings(up, jw.url('/k'), { ...common, FAST_PATH: 'false' }),
      hangFast: H.baseBindings(up, jw.url('/k'), { UPSTREAM: hangUrl, UPSTREAM_TIMEOUT_MS: '300', PUBLIC_PATHS: '/public/*' }),
      hangFull: H.baseBindings(up, jw.url('/k'), { UPSTREAM: hangUrl, UPSTREAM_TIMEOUT_MS: '300', PUBLIC_PATHS: '/public/*', FAST_PATH: 'false' }),
      refused: H.baseBindings(up, jw.url('/k'), { UPSTREAM: refused, PUBLIC_PATHS: '/public/*' }),
      slowService: H.baseBindings(up, jw.url('/k'), { UPSTREAM: 'https://app.internal', UPSTREAM_TIMEOUT_MS: '300', PUBLIC_PATHS: '/public/*' }),
    },
    { extraWorkers: [slowApp], serviceBindings: { slowService: { UPSTREAM_SERVICE: 'slow-app' } } },
  );
});
after(async () => {
  await gate?.dispose();
  await up?.close();
  await jw?.close();
  hang?.closeAllConnections?.();
  await new Promise((r) => (hang ? hang.close(r) : r()));
});

/** What a client sees, without what legitimately differs between two answers (the date, and
 * the path marker, returned apart). */
function answer(res) {
  const headers = { ...res.headers };
  delete headers.date;
  const served = headers['server-timing'];
  delete headers['server-timing'];
  return { status: res.status, text: res.text, headers, served };
}

const FAST = 'edge;desc="fast"';
const FULL = 'edge;desc="full"';

/** The two answers without their markers, the markers asserted: "full" always served by the
 * full path, "fast" by `want`. */
function sameAnswers(fast, full, want) {
  assert.equal(full.res.served, FULL, 'the FAST_PATH=false worker marks the full path');
  assert.equal(fast.res.served, want, `served by the ${want === FAST ? 'fast' : 'full'} path`);
  const strip = (x) => ({ ...x, res: { ...x.res, served: undefined } });
  assert.deepEqual(strip(fast), strip(full));
}

/** What the upstream saw, without the per-connection details. */
function received(req) {
  if (!req) return null;
  const headers = { ...req.headers };
  for (const name of Object.keys(headers)) if (name.startsWith('cf-') || name === 'content-length') delete headers[name];
  delete headers.host;
  // Each worker has its own address, so an Origin equal to "our own" and the client's Host
  // (X-Forwarded-Host, checked in assertion.test.mjs) differ between them.
  delete headers.origin;
  delete headers['x-forwarded-host'];
  return { method: req.method, url: req.url, headers, body: req.body };
}

/** Sends `opts` twice to `name`; returns the second answer and what the upstream got for it. */
async function twice(name, path, opts, respond) {
  up.respond = respond ?? null;
  await H.call(gate, up, name, path, opts);
  const res = await H.call(gate, up, name, path, opts);
  up.respond = null;
  return { res: answer(res), upstream: received(res.upstreamReq) };
}

const token = H.mint({ key, claims: { sid: 'sess-fast' } });
const CASES = [
  ['bearer GET, upstream sets no cache headers', '/api/a', { headers: H.bearer(token) }],
  ['bearer GET, upstream opts in to shared caching', '/api/b?x=1&y=2', { headers: H.bearer(token) }, { headers: { 'cache-control': 'public, max-age=60', vary: 'Accept' } }],
  ['bearer GET, upstream sets a cookie', '/api/c', { headers: H.bearer(token) }, { headers: { 'set-cookie': 'app=1; Path=/; HttpOnly' } }],
  [
    'client-sent X-Auth-*, hop-by-hop headers and other cookies',
    '/api/d',
    { headers: [...H.bearer(token), ['X-Auth-Subject', 'admin'], ['x-auth-extra', 'y'], ['Connection', 'keep-alive'], ['Cookie', 'theme=dark; __Host-access=zzz; lang=en']] },
  ],
  ['bearer POST with a body', '/api/e', { method: 'POST', headers: [...H.bearer(token), ['content-type', 'application/json']], body: '{"n":1}' }],
  ['bearer HEAD', '/api/f', { method: 'HEAD', headers: H.bearer(token) }],
  ['upstream 204', '/api/g', { headers: H.bearer(token) }, { status: 204, body: '' }],
  ['upstream redirect (not followed)', '/api/h', { headers: H.bearer(token) }, { status: 302, headers: { location: '/elsewhere' }, body: '' }],
  ['upstream 503 with a status text', '/api/i', { headers: H.bearer(token) }, { status: 503, body: 'down' }],
  ['public path, cacheable', '/public/app.js', {}, { headers: { 'cache-control': 'public, max-age=600' } }],
  ['public path, sets a cookie', '/public/x', {}, { headers: { 'cache-control': 'public, max-age=600', 'set-cookie': 'a=b' } }],
  ['access token in the cookie (gate only, no sessions)', '/api/j', { headers: [['Cookie', `__Host-access=${token}`]] }],
];

describe('the fast path answers exactly as the full path', { skip }, () => {
  for (const [name, path, opts, respond] of CASES) {
    test(name, async () => {
      const fast = await twice('fast', path, opts, respond);
      const full = await twice('full', path, opts, respond);
      sameAnswers(fast, full, FAST);
      assert.ok(fast.upstream, 'forwarded');
    });
  }

  // Cookie-carried unsafe requests: the CSRF check on the fast path, a refusal on the full one.
  const cookie = ['Cookie', `__Host-access=${token}`];
  const post = (headers) => ({ method: 'POST', headers: [cookie, ['content-type', 'application/json'], ...headers], body: '{}' });
  for (const [name, headersFor, status] of [
    ['cookie POST, Sec-Fetch-Site: same-origin', () => [['Sec-Fetch-Site', 'same-origin']], 200],
    ['cookie POST, Origin equal to our own', (w) => [['Origin', new URL(gate.url(w)).origin]], 200],
    ['cookie POST, cross-site', () => [['Sec-Fetch-Site', 'cross-site']], 403],
    ['cookie POST, foreign Origin', () => [['Origin', 'https://evil.example']], 403],
    ['cookie POST, no origin information', () => [], 403],
  ]) {
    test(name, async () => {
      const fast = await twice('fast', '/api/csrf', post(headersFor('fast')));
      const full = await twice('full', '/api/csrf', post(headersFor('full')));
      assert.equal(fast.res.status, status, fast.res.text);
      // A refusal is never the fast path's: it gives up and the full path refuses (and logs).
      sameAnswers(fast, full, status === 200 ? FAST : FULL);
      assert.equal(Boolean(fast.upstream), status === 200);
    });
  }

  test('refusals do not depend on the path (a tampered token after a good one)', async () => {
    await twice('fast', '/api/k', { headers: H.bearer(token) });
    const bad = { headers: H.bearer(H.tamperSignature(token)) };
    const fast = await twice('fast', '/api/k', bad);
    const full = await twice('full', '/api/k', bad);
    assert.equal(fast.res.status, 401);
    assert.equal(fast.upstream, null);
    sameAnswers(fast, full, FULL);
  });
});

describe('the path marker', { skip }, () => {
  test('a cold token is the full path\'s, the same token warm the fast path\'s; no marker unless configured', async () => {
    const t = H.mint({ key, claims: { sid: 'sess-marker' } });
    const first = await H.call(gate, up, 'fast', '/api/marker', { headers: H.bearer(t) });
    const second = await H.call(gate, up, 'fast', '/api/marker', { headers: H.bearer(t) });
    assert.equal(first.headers['server-timing'], FULL);
    assert.equal(second.headers['server-timing'], FAST);
    const plain = await H.call(gate, up, 'refused', '/api/x', { headers: H.bearer(t) });
    assert.equal(plain.headers['server-timing'], undefined, 'off by default');
  });
});

describe('upstream failures', { skip }, () => {
  // hangFast/hangFull: a loopback server that never answers; slowService: a worker behind the
  // UPSTREAM_SERVICE binding that answers after 10 s (the deadline holds on bindings too).
  for (const name of ['hangFast', 'hangFull', 'slowService']) {
    test(`${name}: an upstream past UPSTREAM_TIMEOUT_MS gives 504, on a cold and a warm token and a public path`, async () => {
      const t = H.mint({ key });
      for (const [path, headers] of [['/api/slow', H.bearer(t)], ['/api/slow', H.bearer(t)], ['/public/slow', []]]) {
        const started = Date.now();
        const res = await gate.request(name, path, { headers });
        assert.equal(res.status, 504, `${path}: ${res.text}`);
        assert.equal(res.json().error, 'gateway_timeout');
        assert.ok(H.cacheDirectives(res.headers['cache-control']).includes('no-store'));
        assert.ok(Date.now() - started < 5000, 'answered near the deadline');
      }
    });
  }

  test('a refused upstream gives 502 on both paths', async () => {
    const t = H.mint({ key });
    for (const [path, headers] of [['/api/x', H.bearer(t)], ['/api/x', H.bearer(t)], ['/public/x', []]]) {
      const res = await gate.request('refused', path, { headers });
      assert.equal(res.status, 502, `${path}: ${res.text}`);
      assert.equal(res.json().error, 'bad_gateway');
    }
  });
});
