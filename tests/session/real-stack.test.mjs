// The session flows end to end, once per session store (tests/session/stores.mjs): the
// reference store (session-store/build, SQLite Durable Objects, in its own Miniflare with its own
// loopback URL), the Transmit-shaped fake (tests/session/transmit-store.mjs: RS256,
// `typ: JWT`, no `sid`) and the JS fake (the same file's `sid` profile); the edge
// (build/worker/shim.mjs) in another Miniflare talks HTTP to the store, and a node upstream
// records what the application receives. Tests that only make sense with `sid` in the tokens
// say so in their name, are chosen by the store's shape (`kind.sidInTokens`), and have a
// counterpart asserting the sid-less behaviour.
//
// Identity is asserted through what the upstream received (X-Auth-*) and GET /auth/session;
// cookie contents are looked at only through the helpers in ./harness.mjs.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startGate, startUpstream, cacheDirectives, varyList } from '../edge/harness.mjs';
import {
  COOKIE_KEY,
  COOKIE_KEY_2,
  UA,
  OTHER_UA,
  flows,
  cookiesOf,
  openSessionCookie,
  sessionIdOf,
  forgedSessionCookies,
  shortId,
  claimsOf,
  assertCleared,
  assertNoCookies,
  assertNothingMinted,
  now,
  sleep,
} from './harness.mjs';
import { STORES } from './stores.mjs';

for (const kind of STORES) {
  describe(kind.name, () => {
    let store;
    let ALICE;
    let BOB;
    const ctx = {};
    const { client, loggedIn, api, whoami } = flows(ctx);

    before(async () => {
      store = await kind.start();
      ({ alice: ALICE, bob: BOB } = store.users);
      const up = (ctx.up = await startUpstream());
      ctx.gate = await startGate({
        main: store.bindings(up),
        lax: store.bindings(up, { SAME_SITE: 'Lax' }),
        persistent: store.bindings(up, { PERSISTENT_SESSIONS: 'true', SESSION_MAX_SECONDS: '7200' }),
        nav: store.bindings(up, { LOGIN_PATH: '/login?from=edge' }),
        // The same cookie keys rotated: a new first key signs, the old one still verifies.
        rotated: store.bindings(up, { COOKIE_KEYS: `${COOKIE_KEY_2},${COOKIE_KEY}` }),
      });
    });

    after(async () => {
      await ctx.gate?.dispose();
      await store?.close();
      await ctx.up?.close();
    });

    describe('login', () => {
      test('sets exactly two __Host- cookies with the default policy and answers a summary without tokens', async () => {
        const c = client();
        const res = await c.login(ALICE.username, ALICE.password);
        assert.equal(res.status, 200, res.text);
        const cookies = cookiesOf(res);
        assert.deepEqual(Object.keys(cookies).sort(), ['__Host-access', '__Host-session']);
        for (const ck of Object.values(cookies)) {
          assert.ok(ck.value.length > 0);
          assert.deepEqual(
            Object.keys(ck.attrs).sort(),
            ['httponly', 'path', 'samesite', 'secure'],
            `attributes of ${ck.raw}`,
          );
          assert.equal(ck.attrs.path, '/');
          assert.equal(ck.attrs.samesite, 'Strict');
          assert.equal(ck.attrs.secure, true);
          assert.equal(ck.attrs.httponly, true);
          assert.ok(Buffer.byteLength(ck.raw) < 4096, `${ck.name} is ${ck.raw.length} bytes`);
        }
        // The cookies carry the store's token for the session the session cookie names.
        const sc = openSessionCookie(cookies['__Host-session'].value);
        assert.equal(sc.subject, ALICE.userId);
        const who = await whoami(c);
        assert.equal(who.subject, ALICE.userId);
        assert.equal(who.session, shortId(sc.sessionId));

        const body = res.json();
        assert.deepEqual(Object.keys(body).sort(), ['access_token_expires_at', 'amr', 'authenticated', 'replaced_session', 'roles', 'step_up', 'subject']);
        assert.equal(body.authenticated, true);
        assert.equal(body.subject, ALICE.userId);
        assert.deepEqual(body.roles, ['admin', 'user']);
        assert.deepEqual(body.amr, ['pwd']);
        assert.equal(body.step_up, false);
        assert.equal(body.access_token_expires_at, who.access_token_expires_at);
        // No token, no session id, nothing JWT-shaped in the body.
        for (const secret of [cookies['__Host-access'].value, cookies['__Host-session'].value, sc.sessionId]) {
          assert.ok(!res.text.includes(secret));
        }
        assert.ok(!/eyJ[\w-]+\./.test(res.text), res.text);
        assert.ok(cacheDirectives(res.headers['cache-control']).includes('no-store'), res.headers['cache-control']);
      });

      test('a form-encoded login works too', async () => {
        const c = client();
        const res = await c.send('/auth/login', { method: 'POST', form: { username: BOB.username, password: BOB.password } });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().subject, BOB.userId);
        assert.equal(res.setCookies.length, 2);
      });

      test('wrong password: 401, no cookie', async () => {
        const res = await client().login(ALICE.username, 'not-the-password');
        assert.equal(res.status, 401, res.text);
        assertNoCookies(res);
      });

      test('SameSite=Lax by configuration', async () => {
        const res = await client('lax').login(ALICE.username, ALICE.password);
        assert.equal(res.status, 200, res.text);
        for (const ck of Object.values(cookiesOf(res))) {
          assert.equal(ck.attrs.samesite, 'Lax', ck.raw);
          assert.equal(ck.attrs['max-age'], undefined);
        }
      });

      test('persistent sessions: Max-Age, never beyond SESSION_MAX_SECONDS', async () => {
        const res = await client('persistent').login(ALICE.username, ALICE.password);
        assert.equal(res.status, 200, res.text);
        for (const ck of Object.values(cookiesOf(res))) {
          const maxAge = Number(ck.attrs['max-age']);
          assert.ok(maxAge > 7000 && maxAge <= 7200, ck.raw);
          assert.equal(ck.attrs.expires, undefined, ck.raw);
          assert.equal(ck.attrs.samesite, 'Strict');
        }
      });

      test('every login mints new values: two logins are two sessions', async () => {
        const a = await loggedIn(ALICE);
        const b = await loggedIn(ALICE);
        assert.notEqual(a.c.access, b.c.access);
        assert.notEqual(a.c.session, b.c.session);
        assert.notEqual(a.sid, b.sid);
      });

      test('step-up with a valid session cookie keeps the session id and replaces both cookie values', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const [oldAccess, oldSession] = [c.access, c.session];
        const res = await c.login(ALICE.username, ALICE.password);
        assert.equal(res.status, 200, res.text);
        const body = res.json();
        assert.equal(body.step_up, true);
        assert.ok(body.amr.includes('pwd'), JSON.stringify(body.amr));
        assert.equal(res.setCookies.length, 2);
        assert.notEqual(c.access, oldAccess);
        assert.notEqual(c.session, oldSession);
        assert.equal(sessionIdOf(c), sid);
        const r = await api(c);
        assert.equal(r.upstreamReq?.header('x-auth-session'), sid);
      });

      test('a correct login as another user replaces the session: the old one ends at the store and at the edge', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const old = c.clone();
        const res = await c.login(BOB.username, BOB.password);
        assert.equal(res.status, 200, res.text);
        const body = res.json();
        assert.equal(body.subject, BOB.userId);
        assert.equal(body.step_up, false);
        assert.equal(body.replaced_session, true);
        assert.notEqual(sessionIdOf(c), sid);
        assert.equal((await whoami(c)).subject, BOB.userId);
        const r = await api(c);
        assert.equal(r.status, 200);
        assert.equal(r.upstreamReq.header('x-auth-subject'), BOB.userId);
        // Alice's session is gone at the store and her old cookies are refused at once.
        const list = await store.direct.list(ALICE.userId);
        assert.ok(!list.body.some((x) => x.session_id === sid), "alice's session was logged out at the store");
        const replay = await api(old.clone());
        assert.equal(replay.status, 401, replay.text);
        assert.equal(replay.forwarded, false);
      });

      test('a wrong password with a session cookie present mints nothing and leaves the session intact', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const [access, session] = [c.access, c.session];
        const res = await c.login(BOB.username, 'not-bobs-password');
        assert.equal(res.status, 401, res.text);
        assertNoCookies(res);
        assert.equal(c.access, access);
        assert.equal(c.session, session);
        const r = await api(c);
        assert.equal(r.status, 200);
        assert.equal(r.upstreamReq.header('x-auth-subject'), ALICE.userId);
        assert.equal(r.upstreamReq.header('x-auth-session'), sid);
      });
    });

    describe('protected requests', () => {
      test('reach the upstream with the verified identity; edge cookies and client identity headers are stripped', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const res = await api(c, '/api/data?x=1', {
          headers: { Cookie: `theme=dark; ${c.cookieHeader()}; lang=en`, 'X-Auth-Subject': 'admin', 'x-auth-roles': 'root' },
          cookies: false,
        });
        assert.equal(res.status, 200, res.text);
        const u = res.upstreamReq;
        assert.ok(u, 'forwarded');
        assert.equal(u.path, '/api/data');
        assert.equal(u.query, '?x=1');
        assert.deepEqual(u.headers['x-auth-subject'], [ALICE.userId]);
        assert.deepEqual(u.headers['x-auth-session'], [sid]);
        assert.deepEqual(u.headers['x-auth-roles'], ['admin,user']);
        assert.equal(u.header('cookie'), 'theme=dark; lang=en');
        assert.ok(!u.rawHeaders.join('\n').includes('__Host-'), 'no edge cookie reaches the upstream');
        assert.ok(cacheDirectives(res.headers['cache-control']).includes('no-store'));
        assert.ok(varyList(res.headers.vary).includes('cookie'), res.headers.vary);
        assertNoCookies(res, 'a valid access cookie is not re-set');
      });

      test('a Bearer token works without cookies and without CSRF headers', async () => {
        const token = await store.rawAccessToken(ALICE);
        const bearer = client();
        const res = await api(bearer, '/api/data', { method: 'POST', site: null, headers: { Authorization: `Bearer ${token}` }, body: '{}' });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.upstreamReq.header('x-auth-subject'), ALICE.userId);
      });

      test('a cookie-authenticated unsafe request needs same-origin Fetch Metadata or Origin', async () => {
        const { c } = await loggedIn(ALICE);
        for (const [site, origin] of [[null, undefined], ['cross-site', undefined], ['same-site', undefined], [null, 'https://evil.example']]) {
          const res = await api(c, '/api/data', { method: 'POST', site, headers: origin ? { Origin: origin } : {}, body: '{}' });
          assert.equal(res.status, 403, `site=${site} origin=${origin}: ${res.text}`);
          assert.equal(res.forwarded, false);
        }
        const ok = await api(c, '/api/data', { method: 'POST', site: null, headers: { Origin: new URL(ctx.gate.url('main')).origin }, body: '{}' });
        assert.equal(ok.status, 200, ok.text);
        assert.equal((await api(c, '/api/data', { method: 'DELETE' })).status, 200);
      });

      test('only the session cookie: transparent refresh (session authenticate) sets a new access cookie', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const old = c.access;
        c.jar.delete('__Host-access');
        const res = await api(c);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.upstreamReq.header('x-auth-session'), sid);
        const set = cookiesOf(res);
        assert.deepEqual(Object.keys(set), ['__Host-access']);
        assert.notEqual(set['__Host-access'].value, old);
        assert.deepEqual(Object.keys(set['__Host-access'].attrs).sort(), ['httponly', 'path', 'samesite', 'secure']);
        assert.ok(cacheDirectives(res.headers['cache-control']).includes('no-store'));
      });

      test('POST /auth/refresh mints a new access cookie for the session', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const old = c.access;
        const before = await whoami(c);
        await sleep(1100); // a new iat, so a new token
        const res = await c.send('/auth/refresh', { method: 'POST' });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().refreshed, true);
        assert.ok(!res.text.includes(c.access));
        assert.deepEqual(Object.keys(cookiesOf(res)), ['__Host-access']);
        assert.notEqual(c.access, old);
        const after = await whoami(c);
        assert.equal(after.session, shortId(sid));
        assert.ok(after.issued_at > before.issued_at, `issued_at ${before.issued_at} → ${after.issued_at}`);
        assert.equal(after.access_token_expires_at, res.json().access_token_expires_at);
        assert.equal((await api(c)).upstreamReq?.header('x-auth-session'), sid);
      });

      test('session cookies signed with a previous key still verify after rotation', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const rotated = c.clone();
        rotated.base = ctx.gate.url('rotated');
        rotated.jar.delete('__Host-access');
        const res = await api(rotated);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.upstreamReq.header('x-auth-session'), sid);
      });
    });

    describe('who am I and the session list', () => {
      test('GET /auth/session and GET /auth/sessions show hashed ids and the current flag', async () => {
        const first = await loggedIn(BOB);
        const { c, sid } = await loggedIn(BOB);
        const who = await c.send('/auth/session');
        assert.equal(who.status, 200, who.text);
        const w = who.json();
        assert.equal(w.subject, BOB.userId);
        assert.match(w.session, /^[0-9a-f]{16}$/);
        assert.ok(!who.text.includes(sid));
        const list = await c.send('/auth/sessions');
        assert.equal(list.status, 200, list.text);
        const { sessions } = list.json();
        assert.ok(sessions.length >= 2, list.text);
        assert.ok(!list.text.includes(sid) && !list.text.includes(first.sid));
        const current = sessions.filter((s) => s.current);
        assert.equal(current.length, 1);
        assert.equal(current[0].id, w.session);
        for (const s of sessions) {
          assert.match(s.id, /^[0-9a-f]{16}$/);
          // The store's date-times (ISO 8601 strings) pass through.
          for (const t of [s.start_time, s.expiration_time]) assert.ok(typeof t === 'string' && !Number.isNaN(Date.parse(t)), list.text);
        }
        assert.ok(cacheDirectives(list.headers['cache-control']).includes('no-store'));
      });
    });

    describe('logout', () => {
      test('clears both cookies with Max-Age=0 and Clear-Site-Data; a replayed session or access cookie is refused', async () => {
        const { c, sid } = await loggedIn(ALICE);
        const stolen = c.clone();
        const expiresAt = (await whoami(c)).access_token_expires_at;
        const res = await c.logout();
        assert.equal(res.status, 200, res.text);
        assertCleared(res);
        assert.equal(res.headers['clear-site-data'], '"cache", "storage"');
        const body = res.json();
        assert.equal(body.had_session, true);
        assert.equal(body.revoked_at_edge, true);
        assert.equal(body.store_logged_out, true);
        assert.equal(c.jar.size, 0);
        // The store deleted the session.
        const list = await store.direct.list(ALICE.userId);
        assert.ok(!list.body.some((s) => s.session_id === sid));

        // The access token has not expired, yet every cookie replay is refused at the edge.
        assert.ok(expiresAt > now() + 60);
        const both = await api(stolen.clone());
        assert.equal(both.status, 401, both.text);
        assert.equal(both.forwarded, false);
        assertCleared(both, 'on a revoked session');
        const onlyAccess = stolen.clone();
        onlyAccess.jar.delete('__Host-session');
        assert.equal((await api(onlyAccess)).status, 401);
        const onlySession = stolen.clone();
        onlySession.jar.delete('__Host-access');
        assert.equal((await api(onlySession)).status, 401);
        const refresh = await stolen.clone().send('/auth/refresh', { method: 'POST' });
        assert.equal(refresh.status, 401, refresh.text);
        assert.equal((await stolen.clone().send('/auth/session')).status, 401);
      });

      if (kind.sidInTokens) {
        test('tokens carry sid: a Bearer token of a logged-out session is refused', async () => {
          const { c, sid } = await loggedIn(ALICE);
          const token = await store.tokenForSession(sid);
          assert.equal(claimsOf(token).sid, sid);
          assert.equal((await c.logout()).status, 200);
          const bearer = await api(client(), '/api/data', { headers: { Authorization: `Bearer ${token}` } });
          assert.equal(bearer.status, 401, bearer.text);
          assert.equal(bearer.forwarded, false);
        });
      } else {
        test('sid-less tokens (Transmit): a Bearer token of a logged-out session lives until it expires (README: known limitation); its cookies are refused', async () => {
          const { c, sid } = await loggedIn(ALICE);
          const stolen = c.clone();
          const token = await store.tokenForSession(sid);
          assert.equal(claimsOf(token).sid, undefined, 'the store token has no sid');
          assert.equal((await c.logout()).status, 200);
          assert.equal((await api(stolen.clone())).status, 401, 'the cookies are refused');
          // Nothing in the token names the session: only its expiry or a logout-all ends it.
          const bearer = await api(client(), '/api/data', { headers: { Authorization: `Bearer ${token}` } });
          assert.equal(bearer.status, 200, bearer.text);
          assert.equal(bearer.upstreamReq.header('x-auth-subject'), ALICE.userId);
          assert.equal(bearer.upstreamReq.header('x-auth-session'), undefined, 'no session is claimed for it');
        });
      }

      test('without a session: 200, cookies cleared anyway', async () => {
        const res = await client().logout();
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().had_session, false);
        assertCleared(res);
      });

      test('a cross-site POST to /auth/logout is refused (403) and the session lives on', async () => {
        const { c } = await loggedIn(ALICE);
        const variants = [
          { site: 'cross-site' },
          { site: 'same-site' },
          { site: null, headers: { Origin: 'https://evil.example' } },
          { site: null, headers: { Origin: 'null' } },
          { site: null },
        ];
        for (const v of variants) {
          const res = await c.logout({ ...v, store: false });
          assert.equal(res.status, 403, `${JSON.stringify(v)}: ${res.text}`);
          assertNoCookies(res, JSON.stringify(v));
          assert.equal(res.headers['clear-site-data'], undefined);
        }
        const still = await api(c);
        assert.equal(still.status, 200, 'the session was not logged out');
        const refreshed = c.clone();
        refreshed.jar.delete('__Host-access');
        assert.equal((await api(refreshed)).status, 200, 'and the store still has it');
        // Control: the own Origin without Fetch Metadata is accepted.
        const ok = await c.logout({ site: null, headers: { Origin: new URL(ctx.gate.url('main')).origin } });
        assert.equal(ok.status, 200, ok.text);
        assertCleared(ok);
      });

      test('logout-all refuses the tokens of every session of the user, not other users', async () => {
        const a = await loggedIn(ALICE);
        const b = await loggedIn(ALICE, { ua: OTHER_UA });
        const bob = await loggedIn(BOB);
        const bStolen = b.c.clone();
        const bToken = await store.tokenForSession(b.sid);
        const res = await a.c.send('/auth/logout-all', { method: 'POST' });
        assert.equal(res.status, 200, res.text);
        const body = res.json();
        assert.equal(body.revoked_at_edge, true);
        assert.equal(body.store_logged_out, true);
        assertCleared(res);
        for (const [name, c] of [['other session, both cookies', bStolen.clone()], ['bearer', null]]) {
          const r = c ? await api(c) : await api(client(), '/api/data', { headers: { Authorization: `Bearer ${bToken}` } });
          assert.equal(r.status, 401, `${name}: ${r.text}`);
          assert.equal(r.forwarded, false);
        }
        const onlySession = bStolen.clone();
        onlySession.jar.delete('__Host-access');
        assert.equal((await api(onlySession)).status, 401);
        assert.deepEqual((await store.direct.list(ALICE.userId)).body, []);
        assert.equal((await api(bob.c)).status, 200, 'bob is not affected');
        // logout-all needs an access token.
        assert.equal((await client().send('/auth/logout-all', { method: 'POST' })).status, 401);
        // A new login (a later second) works again.
        await sleep(1100);
        const again = await loggedIn(ALICE);
        assert.equal((await api(again.c)).status, 200);
      });
    });

    describe('client binding', () => {
      test('a session cookie copied to another User-Agent is no session (401); the same cookie with its own UA refreshes', async () => {
        const { c, sid } = await loggedIn(ALICE);
        c.jar.delete('__Host-access');
        const thief = c.clone({ ua: OTHER_UA });
        const r = await api(thief);
        assert.equal(r.status, 401, r.text);
        assert.equal(r.forwarded, false);
        const refresh = await thief.send('/auth/refresh', { method: 'POST' });
        assert.equal(refresh.status, 401, refresh.text);
        assertNothingMinted(refresh);
        const noUa = c.clone({ ua: '' });
        assert.equal((await api(noUa)).status, 401);
        const own = await api(c.clone());
        assert.equal(own.status, 200, own.text);
        assert.equal(own.upstreamReq.header('x-auth-session'), sid);
      });

      test('a tampered session cookie is no session', async () => {
        const { c } = await loggedIn(ALICE);
        c.jar.delete('__Host-access');
        for (const forged of forgedSessionCookies(c.session, BOB.userId)) {
          const t = c.clone();
          t.jar.set('__Host-session', forged);
          const r = await api(t);
          assert.equal(r.status, 401, `${forged}: ${r.text}`);
        }
      });
    });

    describe('navigation vs API', () => {
      test('no session: navigations get 303 to LOGIN_PATH, API calls 401 with a challenge', async () => {
        const c = client('nav');
        const nav = await api(c, '/app', { headers: { 'Sec-Fetch-Mode': 'navigate', Accept: 'text/html' } });
        assert.equal(nav.status, 303, nav.text);
        assert.equal(nav.headers.location, '/login?from=edge');
        const legacy = await api(c, '/app', { headers: { Accept: 'text/html,application/xhtml+xml' } });
        assert.equal(legacy.status, 303);
        const xhr = await api(c, '/app', { headers: { 'Sec-Fetch-Mode': 'cors', Accept: 'text/html' } });
        assert.equal(xhr.status, 401);
        const apiRes = await api(c, '/app', { headers: { Accept: 'application/json' } });
        assert.equal(apiRes.status, 401);
        assert.match(apiRes.headers['www-authenticate'], /^Bearer realm=/);
        assert.equal(apiRes.json().error, 'unauthorized');
        assert.equal((await api(client('main'), '/app', { headers: { 'Sec-Fetch-Mode': 'navigate' } })).headers.location, '/');
      });

      test('a session gone in the store: cookies cleared, 401 for the API, 303 for a navigation', async () => {
        const { c, sid } = await loggedIn(ALICE, { name: 'nav' });
        c.jar.delete('__Host-access');
        assert.equal((await store.direct.logout(sid)).status, 204);
        const apiRes = await api(c.clone());
        assert.equal(apiRes.status, 401, apiRes.text);
        assert.equal(apiRes.json().error, 'session_ended');
        assertCleared(apiRes);
        const nav = await api(c.clone(), '/app', { headers: { 'Sec-Fetch-Mode': 'navigate' } });
        assert.equal(nav.status, 303);
        assert.equal(nav.headers.location, '/login?from=edge');
        assertCleared(nav, 'on the redirect');
        assert.ok(cacheDirectives(nav.headers['cache-control']).includes('no-store'));
      });
    });

    describe('refresh-token grant for API clients', () => {
      test('a refresh token obtained from the store is exchanged at the edge; garbage is refused', async () => {
        const direct = await store.direct.login(ALICE);
        assert.equal(direct.status, 200, direct.text);
        const c = client();
        const res = await c.send('/auth/refresh', { method: 'POST', json: { refresh_token: direct.body.refresh_token }, site: null, store: false });
        assert.equal(res.status, 200, res.text);
        const body = res.json();
        assert.ok(body.access_token && body.refresh_token, res.text);
        assert.notEqual(body.refresh_token, direct.body.refresh_token, 'rotated');
        assertNoCookies(res);
        assert.ok(cacheDirectives(res.headers['cache-control']).includes('no-store'));
        // The new access token works as a Bearer token.
        const me = await api(c, '/api/data', { cookies: false, headers: { Authorization: `Bearer ${body.access_token}` } });
        assert.equal(me.status, 200, me.text);
        assert.deepEqual([me.upstreamReq.headers['x-auth-subject']].flat(), [claimsOf(body.access_token).sub]);
        // An unknown or garbage refresh token is refused without detail; bad bodies are 400.
        const bad = await c.send('/auth/refresh', { method: 'POST', json: { refresh_token: 'rt1.nope' }, site: null, store: false });
        assert.equal(bad.status, 401, bad.text);
        const malformed = await c.send('/auth/refresh', { method: 'POST', json: { token: 1 }, site: null, store: false });
        assert.equal(malformed.status, 400, malformed.text);
      });
    });
  });
}
