// The session flows against the fake store (tests/session/transmit-store.mjs: node http, tokens
// minted with node:crypto), once per profile: `sid` (the reference store's token shape: ES256,
// `typ: at+jwt`, a `sid` claim) and `transmit` (Transmit's: RS256, `typ: JWT`, no `sid`, ISO
// date-times, Transmit's error bodies, a /cis base path). One shared session authenticate for
// 20 concurrent requests, the store failure matrix on login / refresh / logout, step-up onto
// another user's session, and the ClientAccessToken cache. Tests that need `sid` in the tokens
// say so in their name; the Transmit profile has a counterpart asserting the sid-less behaviour.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';

import { startGate, startUpstream, refusedUrl, genKey, mint } from '../edge/harness.mjs';
import {
  Client,
  startFakeStore,
  fakeStoreBindings,
  cookiesOf,
  sessionIdOf,
  shortId,
  withAccessToken,
  tokenInAccessCookie,
  claimsOf,
  assertCleared,
  assertNoCookies,
  now,
  OTHER_UA,
} from './harness.mjs';

for (const profile of ['sid', 'transmit']) {
  describe(`fake store, ${profile} profile`, () => {
    let fs;
    let up;
    let gate;
    const sidTokens = profile === 'sid';

    const client = (name = 'main', opts) => new Client(gate.url(name), opts);
    const sub = (name) => fs.subOf(name);

    async function loggedIn(name = 'main', user = 'alice', password = `${user}-pw`) {
      const c = client(name);
      const res = await c.login(user, password);
      assert.equal(res.status, 200, `login: ${res.text}`);
      return { c, res, sid: sessionIdOf(c) };
    }

    async function api(c, p = '/api/data', opts = {}) {
      const before = up.count;
      const res = await c.send(p, opts);
      res.forwarded = up.count > before;
      res.upstreamReq = res.forwarded ? up.last : undefined;
      return res;
    }

    /** The client's cookies with an access token for its session that expired two minutes ago. */
    function withExpiredAccess(c, sid) {
      const t = now();
      return withAccessToken(c, fs.accessToken(sid, { iat: t - 400, exp: t - 120 }), { mintedMs: (t - 400) * 1000 });
    }

    /** The last access token the store issued for a session (raw, from the store's answer). */
    const issuedToken = (sid) => fs.issued.filter((x) => x.sessionId === sid).at(-1).body.access_token;

    /** Reads the revocation namespace (shared by every edge worker of this Miniflare). */
    async function kvKeys() {
      const kv = await gate.mf.getKVNamespace('REVOCATIONS', 'main');
      return (await kv.list()).keys;
    }

    const sessionKey = (sid) => `s:${crypto.createHash('sha256').update(sid).digest('hex')}`;

    before(async () => {
      fs = await startFakeStore({ profile });
      up = await startUpstream();
      const refused = (await refusedUrl('')).replace(/\/$/, '');
      gate = await startGate({
        main: fakeStoreBindings(fs, up),
        // Same configuration, another isolate without a revocation read cache: sees only what KV
        // holds, not main's memory.
        other: fakeStoreBindings(fs, up, { REVOCATION_CACHE_SECONDS: '0' }),
        // The store's port is closed (connection refused); keys still come from the fake store.
        refused: fakeStoreBindings(fs, up, { SESSION_STORE_URL: refused }),
        // A fresh isolate without a ClientAccessToken yet.
        fresh: fakeStoreBindings(fs, up),
      });
    });

    beforeEach(() => {
      fs.reset();
      up.reset();
    });

    after(async () => {
      await gate?.dispose();
      await fs?.close();
      await up?.close();
    });

    describe('transparent refresh', () => {
      test('20 concurrent requests with one expired access token: exactly one session authenticate, all 20 succeed', async () => {
        const { c, sid } = await loggedIn();
        const expired = withExpiredAccess(c, sid);
        fs.calls.length = 0;
        fs.fail.session = { delay: 200 };
        const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => api(expired.clone(), `/api/item/${i}`)));
        assert.equal(fs.count('session'), 1, `session authenticate calls: ${fs.count('session')}`);
        const values = new Set();
        for (const r of responses) {
          assert.equal(r.status, 200, r.text);
          assert.equal(r.forwarded, true);
          assert.equal(r.upstreamReq.header('x-auth-session'), sid);
          const set = cookiesOf(r);
          assert.deepEqual(Object.keys(set), ['__Host-access'], r.setCookies.join(' | '));
          // Each cookie value is sealed with its own nonce; the token inside is the same.
          values.add(tokenInAccessCookie(set['__Host-access'].value, c.session));
        }
        assert.equal(values.size, 1, 'every response carries the one new access token');
        assert.equal(up.count, 20);
        // The new access cookie is the session's new token.
        const fresh = expired.clone();
        fresh.apply(responses[0]);
        const who = await fresh.send('/auth/session');
        assert.equal(who.status, 200, who.text);
        assert.ok(who.json().access_token_expires_at > now());
        assert.equal(who.json().session, shortId(sid));
        assert.deepEqual(who.setCookies, [], 'no further refresh');
      });

      test('two sessions refreshing at once: one call per session', async () => {
        const a = await loggedIn();
        const b = await loggedIn('main', 'bob');
        const ea = withExpiredAccess(a.c, a.sid);
        const eb = withExpiredAccess(b.c, b.sid);
        fs.calls.length = 0;
        fs.fail.session = { delay: 150 };
        const rs = await Promise.all(Array.from({ length: 16 }, (_, i) => api((i % 2 ? ea : eb).clone())));
        for (const r of rs) assert.equal(r.status, 200, r.text);
        assert.equal(fs.count('session'), 2);
        const bodies = fs.calls.filter((x) => x.endpoint === 'session').map((x) => x.body.session_id).sort();
        assert.deepEqual(bodies, [a.sid, b.sid].sort());
      });

      test('session authenticate carries the session id and the client attributes', async () => {
        const { c, sid } = await loggedIn();
        const r = await api(withExpiredAccess(c, sid), '/api/data', { headers: { 'CF-Connecting-IP': '203.0.113.9' } });
        assert.equal(r.status, 200, r.text);
        const call = fs.calls.find((x) => x.endpoint === 'session');
        assert.equal(call.body.session_id, sid);
        assert.equal(call.body.client_attributes.user_agent, c.ua);
        assert.equal(call.body.client_attributes.ip_address, '203.0.113.9');
        assert.match(call.headers.authorization, /^Bearer ct-/);
        assert.equal(call.path, `${new URL(fs.baseUrl).pathname.replace(/\/$/, '')}/v1/auth/session/authenticate`);
      });

      test('an expired access token whose session is gone: cookies cleared, 401; navigation 303', async () => {
        const { c, sid } = await loggedIn();
        const e = withExpiredAccess(c, sid);
        fs.sessions.delete(sid);
        const r = await api(e.clone());
        assert.equal(r.status, 401, r.text);
        assertCleared(r);
        const nav = await api(e.clone(), '/page', { headers: { 'Sec-Fetch-Mode': 'navigate' } });
        assert.equal(nav.status, 303);
        assert.equal(nav.headers.location, '/');
        assertCleared(nav);
      });

      test('an expired access token without a session cookie is refused without a store call', async () => {
        const { c, sid } = await loggedIn();
        const e = withExpiredAccess(c, sid);
        e.jar.delete('__Host-session');
        fs.calls.length = 0;
        const r = await api(e);
        assert.equal(r.status, 401);
        assert.match(r.headers['www-authenticate'], /error="invalid_token"/);
        assert.equal(fs.count('session'), 0);
      });

      if (sidTokens) {
        test('sid-carrying tokens only: an access token of another session than the session cookie is refused', async () => {
          const a = await loggedIn();
          const b = await loggedIn();
          const mixed = withAccessToken(a.c, issuedToken(b.sid));
          const r = await api(mixed);
          assert.equal(r.status, 401, r.text);
          assert.equal(r.forwarded, false);
        });
      } else {
        // Nothing in a sid-less token names its session, so a token of the same user's other
        // session cannot be told apart by its claims: the edge may refuse it (a binding of the
        // access cookie to its session cookie), and if it forwards it, it is attributed to the
        // session cookie's session, so that session's logout refuses it.
        test('Transmit (sid-less tokens): an access token of the same user\'s other session counts for the session cookie\'s session at most', async () => {
          const a = await loggedIn();
          const b = await loggedIn();
          const mixed = withAccessToken(a.c, issuedToken(b.sid));
          const r = await api(mixed.clone());
          if (r.forwarded) {
            assert.equal(r.status, 200, r.text);
            assert.equal(r.upstreamReq.header('x-auth-subject'), sub('alice'));
            assert.equal(r.upstreamReq.header('x-auth-session'), a.sid);
          } else {
            assert.equal(r.status, 401, r.text);
          }
          assert.equal((await a.c.logout()).status, 200);
          const after = await api(mixed.clone());
          assert.equal(after.status, 401, after.text);
          assert.equal(after.forwarded, false);
        });
      }
    });

    describe(sidTokens ? 'tokens with sid' : 'tokens without sid (Transmit)', () => {
      test(`the session cookie names the session${sidTokens ? '' : ' (the token has no sid)'}; logout still refuses the replayed cookies`, async () => {
        const { c, sid } = await loggedIn();
        assert.equal(claimsOf(issuedToken(sid)).sid, sidTokens ? sid : undefined, 'the store token has a sid iff the profile says so');
        const r = await api(c);
        assert.equal(r.status, 200, r.text);
        assert.equal(r.upstreamReq.header('x-auth-session'), sid);
        const who = (await c.send('/auth/session')).json();
        assert.equal(who.session, shortId(sid));
        const list = (await c.send('/auth/sessions')).json().sessions;
        assert.deepEqual(list.filter((s) => s.current).map((s) => s.id), [shortId(sid)]);

        // Transparent refresh works from the cookie alone.
        const e = withExpiredAccess(c, sid);
        const refreshed = await api(e.clone());
        assert.equal(refreshed.status, 200, refreshed.text);
        assert.equal(refreshed.upstreamReq.header('x-auth-session'), sid);
        assert.equal(fs.count('session'), 1);

        const stolen = c.clone();
        const out = await c.logout();
        assert.equal(out.status, 200);
        assert.equal(out.json().revoked_at_edge, true);
        for (const name of ['main', 'other']) {
          const replay = stolen.clone();
          replay.base = gate.url(name);
          const rr = await api(replay);
          assert.equal(rr.status, 401, `${name}: ${rr.text}`);
          assert.equal(rr.forwarded, false);
        }
      });

      test(`logout-all refuses the ${sidTokens ? '' : 'sid-less '}tokens of every session, also presented as Bearer`, async () => {
        const a = await loggedIn('main', 'carol');
        const b = await loggedIn('main', 'carol');
        const bToken = issuedToken(b.sid);
        const res = await a.c.send('/auth/logout-all', { method: 'POST' });
        assert.equal(res.status, 200, res.text);
        assert.equal(fs.count('revokeAll'), 1);
        for (const name of ['main', 'other']) {
          const r = await api(client(name), '/api/data', { headers: { Authorization: `Bearer ${bToken}` } });
          assert.equal(r.status, 401, `${name}: ${r.text}`);
        }
      });
    });

    describe('step-up onto another user', () => {
      for (const mode of ['new-session', 'same-session']) {
        test(`store answers with ${mode}: 403 and no cookie`, async () => {
          const { c } = await loggedIn();
          const [access, session] = [c.access, c.session];
          fs.opts.stepUpOtherUser = mode;
          const res = await c.login('bob', 'bob-pw');
          assert.equal(res.status, 403, res.text);
          assertNoCookies(res);
          assert.equal(c.access, access);
          assert.equal(c.session, session);
          assert.equal((await api(c)).upstreamReq?.header('x-auth-subject'), sub('alice'));
        });
      }
    });

    // ---------------------------------------------------------------------------------------------
    // store failure matrix

    const FAILURES = [
      { row: 'timeout (beyond STORE_TIMEOUT_MS=1000)', fail: { delay: 3000 }, status: 504 },
      { row: 'connection refused', worker: 'refused', status: 502 },
      { row: 'connection reset', fail: { reset: true }, status: 502 },
      { row: '500', fail: { status: 500 }, status: 502 },
      { row: '503', fail: { status: 503, body: 'down', contentType: 'text/plain' }, status: 502 },
      // A login's 429 is the store's limit of password attempts: the edge's own 429 (README
      // "Login throttling"); on a session call it is a busy store: 503.
      { row: '429 with Retry-After', fail: { status: 429, retryAfter: '7' }, status: 503, loginStatus: 429, retryAfter: '7' },
      { row: '429 without Retry-After', fail: { status: 429 }, status: 503, loginStatus: 429, retryAfter: '5' },
      { row: 'HTML 200', fail: { status: 200, body: '<html><body>maintenance</body></html>', contentType: 'text/html' }, status: 502 },
      { row: '{} 200', fail: { status: 200, body: '{}' }, status: 502 },
      { row: 'wrong types 200', fail: { status: 200, body: '{"access_token":5,"session_id":7,"expires_in":"soon"}' }, status: 502 },
      { row: 'JSON array 200', fail: { status: 200, body: '[]' }, status: 502 },
      { row: 'empty 200', fail: { status: 200, body: '' }, status: 502 },
      { row: 'token that is not a JWT', fail: { status: 200, body: '{"access_token":"not-a-jwt","session_id":"sess-x","expires_in":300}' }, status: 502 },
      { row: 'oversized body', fail: { status: 200, body: `{"access_token":"${'a'.repeat(70 * 1024)}","session_id":"s"}` }, status: 502 },
    ];

    function assertFailure(res, row) {
      assert.equal(res.status, row.status, `${row.row}: ${res.status} ${res.text}`);
      assertNoCookies(res, row.row);
      assert.equal(res.forwarded ?? false, false);
      const body = res.json();
      assert.equal(typeof body.error, 'string');
      if (row.retryAfter) assert.equal(res.headers['retry-after'], row.retryAfter, row.row);
      assert.ok(/no-store/.test(res.headers['cache-control'] ?? ''), res.headers['cache-control']);
    }

    describe('store failures on login: no cookie minted', () => {
      for (const row of FAILURES) {
        test(row.row, async () => {
          if (row.fail) fs.fail.password = row.fail;
          const res = await client(row.worker ?? 'main').login('alice', 'alice-pw');
          assertFailure(res, { ...row, status: row.loginStatus ?? row.status });
          if (!row.worker) assert.ok(fs.count('password') >= 1);
        });
      }

      test('every refusal shape of the store (string or array message, numeric or string code) is one generic 401', async () => {
        fs.users.get('bob').locked = true;
        const cases = [
          ['wrong password', 'alice', 'nope', 401, 'auth_invalid_credentials'],
          ['unknown user', 'nobody', 'whatever', 404, 'user_not_found'],
          ['locked user', 'bob', 'bob-pw', 403, 'auth_locked'],
        ];
        const bodies = new Set();
        for (const [what, username, password, storeStatus, code] of cases) {
          fs.calls.length = 0;
          const res = await client().login(username, password);
          assert.equal(res.status, 401, `${what}: ${res.text}`);
          assertNoCookies(res, what);
          bodies.add(res.text);
          const call = fs.calls.find((x) => x.endpoint === 'password');
          assert.equal(call?.status, storeStatus, `${what}: the store's status`);
          assert.equal(call.response.error_code, code, `${what}: the store's error_code`);
        }
        assert.equal(bodies.size, 1, `one answer for every refusal: ${[...bodies].join(' | ')}`);
        // The shapes the fake answered (so this test keeps covering them).
        const direct = await fetch(`${fs.baseUrl}/v1/auth/password/authenticate`, { method: 'POST' });
        assert.equal(direct.status, 401);
        assert.deepEqual(await direct.json(), { message: 'Unauthorized', error_code: 401 });
        fs.users.get('bob').locked = false;
      });

      test('a slow store within the deadline is fine', async () => {
        fs.fail.password = { delay: 150 };
        const res = await client().login('alice', 'alice-pw');
        assert.equal(res.status, 200, res.text);
        assert.equal(res.setCookies.length, 2);
      });

      test('a token signed by a key the JWKS does not have: 502, no cookie', async () => {
        // The store's own shape and claims, signed by a key of the same type it does not publish.
        const stranger = genKey(fs.key.kind, { kid: 'stranger' });
        const t = now();
        const claims = { iss: fs.issuer, aud: fs.audience, sub: sub('alice'), sid: sidTokens ? 'sess-x' : undefined, iat: t, exp: t + 300 };
        const token = mint({ key: stranger, header: { typ: sidTokens ? 'at+jwt' : 'JWT' }, rawPayload: JSON.parse(JSON.stringify(claims)) });
        fs.fail.password = { status: 200, body: JSON.stringify({ access_token: token, session_id: 'sess-x', expires_in: 300 }) };
        const res = await client().login('alice', 'alice-pw');
        assert.equal(res.status, 502, res.text);
        assertNoCookies(res);
      });

      test('an already-expired token from the store: 502, no cookie', async () => {
        fs.opts.ttl = -120;
        const res = await client().login('alice', 'alice-pw');
        assert.equal(res.status, 502, res.text);
        assertNoCookies(res);
      });

      test('the ClientAccessToken endpoint failing: 502, no cookie', async () => {
        fs.fail.token = { status: 500, once: true };
        const res = await client('fresh').login('alice', 'alice-pw');
        assert.equal(res.status, 502, res.text);
        assertNoCookies(res);
        assert.equal(fs.count('password'), 0);
        const again = await client('fresh').login('alice', 'alice-pw');
        assert.equal(again.status, 200, again.text);
      });
    });

    for (const via of ['POST /auth/refresh', 'transparent refresh']) {
      describe(`store failures on ${via}: no cookie minted, none cleared`, () => {
        for (const row of FAILURES) {
          test(row.row, async () => {
            const { c, sid } = await loggedIn();
            const e = withExpiredAccess(c, sid);
            if (row.worker) e.base = gate.url(row.worker);
            if (row.fail) fs.fail.session = row.fail;
            const res = via === 'transparent refresh' ? await api(e) : await e.send('/auth/refresh', { method: 'POST' });
            assertFailure(res, row);
            if (!row.worker) assert.equal(fs.count('session'), 1);
            // The session is intact: once the store answers again the same cookies work.
            delete fs.fail.session;
            const ok = await api(withExpiredAccess(c, sid));
            assert.equal(ok.status, 200, `after ${row.row}: ${ok.text}`);
          });
        }
      });
    }

    describe('store failures on logout: cookies cleared and KV written anyway', () => {
      const rows = [
        { row: 'timeout', fail: { delay: 3000 } },
        { row: 'connection refused', worker: 'refused' },
        { row: '500', fail: { status: 500 } },
        { row: '429', fail: { status: 429, retryAfter: '7' } },
        { row: 'HTML 200', fail: { status: 200, body: '<html>', contentType: 'text/html' } },
      ];
      for (const row of rows) {
        test(row.row, async () => {
          const { c, sid } = await loggedIn();
          const stolen = c.clone();
          if (row.fail) fs.fail.logout = row.fail;
          if (row.worker) c.base = gate.url(row.worker);
          const res = await c.logout();
          assert.equal(res.status, 200, res.text);
          assertCleared(res);
          assert.equal(res.headers['clear-site-data'], '"cache", "storage"');
          const body = res.json();
          assert.equal(body.revoked_at_edge, true);
          // A 200 with an HTML body still means the store took the logout.
          if (row.row !== 'HTML 200') assert.equal(body.store_logged_out, false, res.text);
          const keys = await kvKeys();
          const entry = keys.find((k) => k.name === sessionKey(sid));
          assert.ok(entry, 'session revocation written to KV');
          assert.ok(!keys.some((k) => k.name.includes(sid)), 'KV keys hold no raw session id');
          const ttl = entry.expiration - now();
          // As long as the session could live (SESSION_MAX_SECONDS, 2 weeks, + leeway): a session
          // cookie copied before a logout whose store call failed must not revive the session
          // when the entry expires.
          assert.ok(ttl > 1209600 && ttl <= 1209600 + 30 + 5, `KV TTL ${ttl}s = longest session + leeway`);
          // Another isolate (only KV in common) refuses the still-unexpired access token.
          for (const name of ['other', 'main']) {
            const replay = stolen.clone();
            replay.base = gate.url(name);
            const r = await api(replay);
            assert.equal(r.status, 401, `${name}: ${r.text}`);
          }
        });
      }
    });

    describe('ClientAccessToken', () => {
      test('is fetched once per isolate, renewed after a store 401, and never exposed', async () => {
        const { c, sid } = await loggedIn();
        await api(withExpiredAccess(c, sid));
        await c.send('/auth/sessions');
        assert.equal(fs.count('token'), 0, 'cached from an earlier test in this isolate');
        const tokenCalls = fs.calls.filter((x) => x.endpoint !== 'jwks').map((x) => x.headers.authorization);
        assert.equal(new Set(tokenCalls).size, 1);
        fs.clientTokens.clear(); // the store forgets it
        fs.calls.length = 0;
        const list = await c.send('/auth/sessions');
        assert.equal(list.status, 200, list.text);
        assert.equal(fs.count('token'), 1);
        assert.equal(fs.count('list'), 2, 'the 401 and the retry');
        const ct = fs.calls.at(-1).headers.authorization.slice(7);
        const r = await api(c);
        for (const res of [r, list, await c.send('/auth/session')]) {
          assert.ok(!res.text.includes(ct));
          assert.ok(!JSON.stringify(res.headers).includes(ct));
        }
        assert.ok(!JSON.stringify(r.upstreamReq.headers).includes(ct), 'not forwarded to the upstream');
      });
    });

    describe('login details', () => {
      test('login forwards client_attributes and the body has no token', async () => {
        const c = client();
        const res = await c.login('alice', 'alice-pw', { headers: { 'CF-Connecting-IP': '198.51.100.4' } });
        assert.equal(res.status, 200, res.text);
        const call = fs.calls.find((x) => x.endpoint === 'password');
        assert.deepEqual(call.body.client_attributes, { user_agent: c.ua, ip_address: '198.51.100.4' });
        assert.equal(call.body.session_id, undefined);
        const issued = fs.issued.at(-1).body;
        assert.ok(issued.refresh_token && issued.id_token, 'the store answered every token');
        for (const t of [issued.access_token, issued.refresh_token, issued.id_token, c.access]) assert.ok(!res.text.includes(t), res.text);
        assert.ok(!/refresh|id_token/.test(res.text), res.text);
      });

      test('step-up sends the session id from the bound cookie; a cookie from another UA is not a step-up', async () => {
        const { c, sid } = await loggedIn();
        const res = await c.login('alice', 'alice-pw');
        assert.equal(res.json().step_up, true);
        assert.equal(fs.calls.filter((x) => x.endpoint === 'password').at(-1).body.session_id, sid);
        const moved = c.clone({ ua: OTHER_UA });
        const res2 = await moved.login('alice', 'alice-pw');
        assert.equal(res2.status, 200);
        assert.equal(res2.json().step_up, false);
        assert.equal(fs.calls.filter((x) => x.endpoint === 'password').at(-1).body.session_id, undefined);
        assert.notEqual(sessionIdOf(moved), sid);
      });
    });

    describe('logout without a usable session cookie', () => {
      // Regression: logout used to end nothing when the session cookie did not verify (the
      // browser's User-Agent changed, e.g. by an update) or was missing, though the request's
      // access token named its session: the token stayed valid and the store session alive.
      // The sealed access cookie opens only beside the exact session cookie value it was
      // minted with, so the pair names the session even when the session cookie no longer
      // verifies for this client: with or without sid in the token.
      test('a User-Agent change: the sealed pair still names the session, which ends at the edge and the store', async () => {
        const { c, sid } = await loggedIn();
        const stolen = c.clone();
        const updated = c.clone({ ua: OTHER_UA });
        const res = await updated.logout();
        assert.equal(res.status, 200, res.text);
        assertCleared(res);
        const body = res.json();
        assert.equal(body.had_session, true, res.text);
        assert.equal(body.revoked_at_edge, true);
        assert.equal(body.store_logged_out, true);
        assert.equal(fs.calls.find((x) => x.endpoint === 'logout')?.body.session_id, sid);
        assert.ok(!fs.sessions.has(sid));
        for (const name of ['main', 'other']) {
          const replay = stolen.clone();
          replay.base = gate.url(name);
          assert.equal((await api(replay)).status, 401, name);
        }
      });

      test('only the access cookie: it opens only beside its session cookie, so it names nothing; cookies cleared', async () => {
        const { c, sid } = await loggedIn();
        const accessOnly = c.clone();
        accessOnly.jar.delete('__Host-session');
        const res = await accessOnly.logout();
        assert.equal(res.status, 200, res.text);
        assertCleared(res);
        assert.equal(res.json().had_session, false, res.text);
        assert.equal(fs.count('logout'), 0);
        // The lone access cookie was never usable on its own.
        assert.equal((await api(accessOnly)).status, 401);
        assert.ok(fs.sessions.has(sid));
      });

      test('an invalid or expired access token alone revokes nothing and still clears the cookies', async () => {
        const { c, sid } = await loggedIn();
        const e = withExpiredAccess(c, sid);
        e.jar.delete('__Host-session');
        const res = await e.logout();
        assert.equal(res.status, 200, res.text);
        assertCleared(res);
        assert.equal(res.json().had_session, false);
        assert.equal(fs.count('logout'), 0);
        assert.ok(fs.sessions.has(sid));
        assert.equal((await api(c)).status, 200, 'the session lives on');
      });

      test(`${sidTokens ? 'sid-carrying tokens' : 'Transmit (sid-less tokens)'}: after logout the access cookie alone is refused; as a Bearer token it ${sidTokens ? 'is refused too' : 'lives until exp (known limitation)'}`, async () => {
        const { c, sid } = await loggedIn();
        const accessOnly = c.clone();
        accessOnly.jar.delete('__Host-session');
        const token = issuedToken(sid);
        assert.equal((await c.logout()).json().revoked_at_edge, true);
        // With sessions, an access cookie counts only with its bound session cookie, so the
        // replayed cookie is refused although the token carries no sid to revoke.
        assert.equal((await api(accessOnly)).status, 401);
        // An API client presenting the same token as a Bearer token: with a sid it is revoked
        // with its session; a sid-less one cannot be tied to the session and stays valid until
        // it expires (or logout-all revokes the user).
        const bearer = await api(accessOnly, '/api/data', { cookies: false, headers: { Authorization: `Bearer ${token}` } });
        assert.equal(bearer.status, sidTokens ? 401 : 200, bearer.text);
      });
    });
  });
}
