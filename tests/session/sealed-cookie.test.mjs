// The access cookie is sealed by the edge: a stolen access cookie is not a Bearer token; and the
// revocation entries of a logout live as long as the session could. On every store
// (tests/session/stores.mjs) and both paths through the edge.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startGate, startUpstream } from '../edge/harness.mjs';
import { UA, OTHER_UA, flows, now, tokenInAccessCookie } from './harness.mjs';
import { STORES } from './stores.mjs';

const SESSION_MAX = 1209600;
const PATHS = [
  { name: 'fast path', worker: 'fast', over: {} },
  { name: 'FAST_PATH=false', worker: 'full', over: { FAST_PATH: 'false' } },
];

for (const kind of STORES) {
  describe(`sealed access cookie, ${kind.name}`, () => {
    let store;
    let users;
    const ctx = {};
    const { client, loggedIn, api } = flows(ctx);

    before(async () => {
      store = await kind.start({ extraUsers: ['sealed1', 'sealed2'] });
      users = store.users;
      ctx.up = await startUpstream();
      const configs = {};
      for (const p of PATHS) configs[p.worker] = store.bindings(ctx.up, p.over);
      ctx.gate = await startGate(configs);
    });

    after(async () => {
      await ctx.gate?.dispose();
      await store?.close();
      await ctx.up?.close();
    });

    for (const path of PATHS) {
      describe(path.name, () => {
        test('a stolen access cookie sent as a Bearer token is refused, from any client', async () => {
          const { c } = await loggedIn(users.alice, { name: path.worker, ua: UA });
          assert.equal((await api(c)).status, 200, 'the owner gets through (and warms the caches)');
          assert.equal((await api(c)).status, 200);
          const stolen = c.access;
          for (const ua of [OTHER_UA, UA]) {
            const thief = client(path.worker, { ua });
            for (let i = 0; i < 2; i++) {
              const res = await api(thief, '/api/data', { headers: { Authorization: `Bearer ${stolen}` } });
              assert.equal(res.status, 401, `${ua} attempt ${i}: ${res.text}`);
              assert.match(res.headers['www-authenticate'] ?? '', /error="invalid_token"/);
              assert.equal(res.forwarded, false, 'nothing reaches the upstream');
            }
          }
          // What the browser holds is sealed: the token is not in it.
          const token = tokenInAccessCookie(c.access, c.session);
          assert.ok(stolen.startsWith('a1.'), `sealed value: ${stolen.slice(0, 12)}…`);
          assert.ok(!stolen.includes(token) && !stolen.includes(token.split('.')[1]), 'the raw token is not in the cookie');
        });

        test('a stolen access cookie cannot log the owner out everywhere', async () => {
          const { c } = await loggedIn(users.sealed1, { name: path.worker, ua: UA });
          const thief = client(path.worker, { ua: OTHER_UA });
          const res = await thief.send('/auth/logout-all', {
            method: 'POST',
            headers: { Authorization: `Bearer ${c.access}` },
          });
          assert.equal(res.status, 401, res.text);
          const still = await api(c);
          assert.equal(still.status, 200, 'the session lives on');
          assert.equal(still.upstreamReq.header('x-auth-subject'), users.sealed1.userId);
        });
      });
    }

    describe('revocation entries live as long as the session could', () => {
      test('a logout writes the session entry with a TTL of the session lifetime, not an access token lifetime', async () => {
        const { c } = await loggedIn(users.alice, { name: 'fast', ua: UA });
        const t0 = now();
        assert.equal((await c.logout()).status, 200);
        const kv = await ctx.gate.mf.getKVNamespace('REVOCATIONS', 'fast');
        const { keys } = await kv.list({ prefix: 's:' });
        assert.ok(keys.length >= 1, 'a session entry was written');
        const newest = Math.max(...keys.map((k) => k.expiration ?? 0));
        assert.ok(
          newest >= t0 + SESSION_MAX - 5,
          `the entry expires at ${newest}, ${newest - t0} s after the logout; the session could live ${SESSION_MAX} s`,
        );
      });

      test('logout-all writes the user entry with the same lifetime, in milliseconds', async () => {
        const { c } = await loggedIn(users.sealed2, { name: 'fast', ua: UA });
        const t0 = Date.now();
        assert.equal((await c.send('/auth/logout-all', { method: 'POST' })).status, 200);
        const kv = await ctx.gate.mf.getKVNamespace('REVOCATIONS', 'fast');
        const { keys } = await kv.list({ prefix: 'u:' });
        assert.ok(keys.length >= 1);
        const newest = keys.reduce((a, k) => ((k.expiration ?? 0) > (a.expiration ?? 0) ? k : a));
        assert.ok(newest.expiration >= Math.floor(t0 / 1000) + SESSION_MAX - 5, `expires ${newest.expiration - Math.floor(t0 / 1000)} s later`);
        const value = Number(await kv.get(newest.name));
        assert.ok(value >= t0 - 1000 && value <= Date.now() + 1000, `a millisecond timestamp: ${value}`);
      });
    });
  });
}
