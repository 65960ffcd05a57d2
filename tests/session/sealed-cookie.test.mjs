// The access cookie is sealed by the edge (issue 17 finding 2): a stolen access cookie is not a
// Bearer token, and the revocation entries of a logout live as long as the session could
// (finding 8). Real stack: the reference store in Miniflare, the edge in another.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import path from 'node:path';
import { unstable_readConfig } from 'wrangler';

import { startGate, startUpstream } from '../edge/harness.mjs';
import { startStore, ALICE } from '../store/harness.mjs';
import { REPO_ROOT, COOKIE_KEY, UA, OTHER_UA, Client, now } from './harness.mjs';

const vars = unstable_readConfig({ config: path.join(REPO_ROOT, 'session-store/wrangler.toml') }).vars;
const SESSION_MAX = 1209600;

let store;
let storeUrl;
let up;
let gate;

const edgeBindings = (over = {}) => ({
  ISSUER: vars.ISSUER,
  AUDIENCE: vars.DEFAULT_AUDIENCE,
  JWKS_URL: `${storeUrl}/oidc/jwks`,
  UPSTREAM: up.url,
  PUBLIC_PATHS: '/public/*',
  SESSION_STORE_URL: storeUrl,
  CLIENT_ID: vars.CLIENT_ID,
  CLIENT_SECRET: vars.CLIENT_SECRET,
  COOKIE_KEYS: COOKIE_KEY,
  ...over,
});

before(async () => {
  store = await startStore();
  storeUrl = (await store.mf.ready).toString().replace(/\/$/, '');
  up = await startUpstream();
  gate = await startGate({ main: edgeBindings(), full: edgeBindings({ FAST_PATH: 'false' }) });
});

after(async () => {
  await gate?.dispose();
  await store?.dispose();
  await up?.close();
});

async function api(c, p = '/api/data', opts = {}) {
  const before = up.count;
  const res = await c.send(p, opts);
  res.forwarded = up.count > before;
  res.upstreamReq = res.forwarded ? up.last : undefined;
  return res;
}

for (const name of ['main', 'full']) {
  describe(`a stolen access cookie (${name === 'main' ? 'fast path on' : 'FAST_PATH=false'})`, () => {
    test('is not a JWT, and as a Bearer token from another client it is refused', async () => {
      const c = new Client(gate.url(name), { ua: UA });
      assert.equal((await c.login(ALICE.username, ALICE.password)).status, 200);
      assert.equal((await api(c)).status, 200, 'the owner gets through (and warms the caches)');
      assert.equal((await api(c)).status, 200);
      const stolen = c.access;
      const thief = new Client(gate.url(name), { ua: OTHER_UA });
      for (let i = 0; i < 2; i++) {
        const res = await api(thief, '/api/data', { headers: { Authorization: `Bearer ${stolen}` } });
        assert.equal(res.status, 401, `attempt ${i}: ${res.text}`);
        assert.match(res.headers['www-authenticate'] ?? '', /error="invalid_token"/);
        assert.equal(res.forwarded, false, 'nothing reaches the upstream');
      }
      // Not even from the owner's own User-Agent.
      const sameUa = new Client(gate.url(name), { ua: UA });
      const res = await api(sameUa, '/api/data', { headers: { Authorization: `Bearer ${stolen}` } });
      assert.equal(res.status, 401);
      assert.equal(res.forwarded, false);
      // What the browser holds is sealed, not a token.
      assert.ok(stolen.startsWith('a1.'), `sealed value: ${stolen.slice(0, 12)}…`);
      assert.ok(!stolen.includes('eyJ'), 'no base64url JSON header inside');
    });

    test('cannot log the owner out everywhere, and the owner stays signed in', async () => {
      const c = new Client(gate.url(name), { ua: UA });
      assert.equal((await c.login(ALICE.username, ALICE.password)).status, 200);
      const thief = new Client(gate.url(name), { ua: OTHER_UA });
      const res = await thief.send('/auth/logout-all', {
        method: 'POST',
        headers: { Authorization: `Bearer ${c.access}` },
      });
      assert.equal(res.status, 401, res.text);
      const still = await api(c);
      assert.equal(still.status, 200, 'the session lives on');
      assert.equal([still.upstreamReq.headers['x-auth-subject']].flat()[0], ALICE.userId);
    });
  });
}

describe('revocation entries live as long as the session could', () => {
  test('a logout writes the session entry with a TTL of the session lifetime, not an access token lifetime', async () => {
    const c = new Client(gate.url('main'), { ua: UA });
    assert.equal((await c.login(ALICE.username, ALICE.password)).status, 200);
    const t0 = now();
    assert.equal((await c.logout()).status, 200);
    const kv = await gate.mf.getKVNamespace('REVOCATIONS', 'main');
    const { keys } = await kv.list({ prefix: 's:' });
    assert.ok(keys.length >= 1, 'a session entry was written');
    const newest = Math.max(...keys.map((k) => k.expiration ?? 0));
    assert.ok(
      newest >= t0 + SESSION_MAX - 5,
      `the entry expires at ${newest}, ${newest - t0} s after the logout; the session could live ${SESSION_MAX} s`,
    );
  });

  test('logout-all writes the user entry with the same lifetime, in milliseconds', async () => {
    const c = new Client(gate.url('main'), { ua: UA });
    assert.equal((await c.login(ALICE.username, ALICE.password)).status, 200);
    const t0 = Date.now();
    assert.equal((await c.send('/auth/logout-all', { method: 'POST' })).status, 200);
    const kv = await gate.mf.getKVNamespace('REVOCATIONS', 'main');
    const { keys } = await kv.list({ prefix: 'u:' });
    assert.ok(keys.length >= 1);
    const newest = keys.reduce((a, k) => ((k.expiration ?? 0) > (a.expiration ?? 0) ? k : a));
    assert.ok(newest.expiration >= Math.floor(t0 / 1000) + SESSION_MAX - 5, `expires ${newest.expiration - Math.floor(t0 / 1000)} s later`);
    const value = Number(await kv.get(newest.name));
    assert.ok(value >= t0 - 1000 && value <= Date.now() + 1000, `a millisecond timestamp: ${value}`);
  });
});
