// Session-flow attacks and breakages, each written as the behaviour the edge must show, on every
// store (tests/session/stores.mjs) and on both paths through the edge (the fast path, and
// FAST_PATH=false).
//
//   - an access cookie is tied to the session cookie beside it: another user's access cookie
//     with my session cookie is refused (401) and reaches nothing, before and after that
//     user's logout, both ways round.
//   - a login right after logout-all (the same second) is usable at once.
//   - no response sets an access cookie older than the one the request carried (refresh,
//     step-up a few seconds later, refresh again).
//   - a correct login as another user while a session cookie is present replaces the session:
//     200, new cookies for the new user, the old session refused at the edge and logged out
//     at the store.
//   - after a logout-all in browser A, browser B (whose cookies still verify) can log in again
//     with the right password.
//
// Identity is read from what the upstream received and from GET /auth/session; cookies are
// moved around as opaque values (./harness.mjs holds every look inside them).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startGate, startUpstream } from '../edge/harness.mjs';
import { UA, OTHER_UA, SESSION_COOKIE, flows, cookiesOf, mixedCookieHeader, withAccessToken, sleep } from './harness.mjs';
import { STORES } from './stores.mjs';

// Each path runs in its own edge worker; logout-all is user-wide and the workers share one KV
// namespace, so each path's logout-all tests get users of their own.
const PATHS = [
  { name: 'fast path', worker: 'fast', over: {}, logoutAllUser: 'carol', otherBrowserUser: 'erin' },
  { name: 'full path (FAST_PATH=false)', worker: 'full', over: { FAST_PATH: 'false' }, logoutAllUser: 'dave', otherBrowserUser: 'frank' },
];
const EXTRA_USERS = PATHS.flatMap((p) => [p.logoutAllUser, p.otherBrowserUser]);

const UA_A = UA;
const UA_B = OTHER_UA;

/** Waits (at most a second) until the clock is early in a second, so the next steps share it. */
async function earlyInASecond(withinMs = 150) {
  const deadline = Date.now() + 1100;
  while (Date.now() % 1000 > withinMs && Date.now() < deadline) await sleep(5);
}

const seen = (res) =>
  res.forwarded
    ? `upstream received ${res.upstreamReq.method} ${res.upstreamReq.path} with X-Auth-Subject=${res.upstreamReq.header('x-auth-subject')} X-Auth-Session=${res.upstreamReq.header('x-auth-session')}`
    : 'upstream received nothing';

for (const kind of STORES) {
  describe(`attacks, ${kind.name}`, () => {
    let store;
    let users;
    const ctx = {};
    const { client, loggedIn, api, whoami } = flows(ctx);

    before(async () => {
      store = await kind.start({ extraUsers: EXTRA_USERS });
      users = store.users;
      const up = (ctx.up = await startUpstream());
      // `/` is public, as in the product's wrangler.toml (the page a signed-out browser loads).
      const gateConfigs = {};
      for (const p of PATHS) gateConfigs[p.worker] = store.bindings(up, { PUBLIC_PATHS: '/,/public/*', ...p.over });
      ctx.gate = await startGate(gateConfigs);
    });

    after(async () => {
      await ctx.gate?.dispose();
      await store?.close();
      await ctx.up?.close();
    });

    for (const path of PATHS) {
      describe(path.name, () => {
        const login = (user, ua) => loggedIn(user, { name: path.worker, ua });

        /** Both users signed in, each in their own browser, each having used their session. */
        async function twoBrowsers() {
          const alice = await login(users.alice, UA_A);
          const bob = await login(users.bob, UA_B);
          for (const [who, b] of [['alice', alice], ['bob', bob]]) {
            // Twice: the second request is decided from the isolate's caches (fast path).
            for (let i = 0; i < 2; i++) {
              const r = await api(b.c);
              assert.equal(r.status, 200, `${who}'s own cookies: ${r.text}`);
              assert.equal(r.upstreamReq.header('x-auth-subject'), users[who].userId);
            }
          }
          return { alice, bob };
        }

        /** Sends `accessFrom`'s access cookie with `sessionFrom`'s session cookie, as `sessionFrom`'s browser. */
        async function mixed(accessFrom, sessionFrom, label) {
          const out = [];
          for (let i = 0; i < 2; i++) {
            const res = await api(sessionFrom.c.clone(), '/api/data', {
              cookies: false,
              headers: { Cookie: mixedCookieHeader(accessFrom.c, sessionFrom.c) },
            });
            assert.equal(res.status, 401, `${label} (request ${i + 1}): status ${res.status}, ${seen(res)}; body ${res.text.slice(0, 200)}`);
            assert.equal(res.forwarded, false, `${label} (request ${i + 1}): ${seen(res)}`);
            out.push(res);
          }
          return out;
        }

        test("alice's access cookie beside bob's session cookie (bob's browser) is refused, before alice logs out", async () => {
          const { alice, bob } = await twoBrowsers();
          await mixed(alice, bob, "alice's access cookie + bob's session cookie");
        });

        test("alice's access cookie beside bob's session cookie (bob's browser) is refused, after alice logs out", async () => {
          const { alice, bob } = await twoBrowsers();
          const stolen = alice.c.clone();
          const out = await alice.c.logout();
          assert.equal(out.status, 200, out.text);
          await mixed({ c: stolen }, bob, "alice's logged-out access cookie + bob's session cookie");
          // Control: bob's own cookies still work.
          assert.equal((await api(bob.c)).upstreamReq?.header('x-auth-subject'), users.bob.userId);
        });

        test("bob's access cookie beside alice's session cookie (alice's browser) is refused, before bob logs out", async () => {
          const { alice, bob } = await twoBrowsers();
          await mixed(bob, alice, "bob's access cookie + alice's session cookie");
        });

        test("bob's access cookie beside alice's session cookie (alice's browser) is refused, after bob logs out", async () => {
          const { alice, bob } = await twoBrowsers();
          const stolen = bob.c.clone();
          const out = await bob.c.logout();
          assert.equal(out.status, 200, out.text);
          await mixed({ c: stolen }, alice, "bob's logged-out access cookie + alice's session cookie");
          assert.equal((await api(alice.c)).upstreamReq?.header('x-auth-subject'), users.alice.userId);
        });

        // The same requirement without the sealed cookie's own protection: alice's raw token
        // (from the store) beside bob's session cookie, as a Bearer token, and sealed with the
        // edge's key as if the edge had minted it there; only the subject check refuses these.
        test("alice's token as a Bearer token beside bob's session cookie (bob's browser) is refused", async () => {
          const { alice, bob } = await twoBrowsers();
          const token = await store.tokenForSession(alice.sid);
          for (let i = 0; i < 2; i++) {
            const res = await api(bob.c.clone(), '/api/data', {
              cookies: false,
              headers: { Cookie: `${SESSION_COOKIE}=${bob.c.session}`, Authorization: `Bearer ${token}` },
            });
            assert.equal(res.status, 401, `request ${i + 1}: status ${res.status}, ${seen(res)}; body ${res.text.slice(0, 200)}`);
            assert.equal(res.forwarded, false, seen(res));
          }
        });

        test("alice's token sealed beside bob's session cookie (bob's browser) is refused by the subject check", async () => {
          const { alice, bob } = await twoBrowsers();
          const forged = withAccessToken(bob.c, await store.tokenForSession(alice.sid));
          for (let i = 0; i < 2; i++) {
            const res = await api(forged.clone());
            assert.equal(res.status, 401, `request ${i + 1}: status ${res.status}, ${seen(res)}; body ${res.text.slice(0, 200)}`);
            assert.equal(res.forwarded, false, seen(res));
          }
        });

        test('a login in the same second as a logout-all is usable at once', async () => {
          const user = users[path.logoutAllUser];
          let attempt = 0;
          let sameSecond = false;
          let fresh;
          // The edge and the store read the same clock as this process; retry (at most 3 times)
          // until the logout-all and the login fell in one second, so the case is really tried.
          while (!sameSecond && attempt < 3) {
            attempt += 1;
            const first = await login(user, UA_A);
            await earlyInASecond();
            const t0 = Date.now();
            const out = await first.c.send('/auth/logout-all', { method: 'POST' });
            assert.equal(out.status, 200, `logout-all: ${out.text}`);
            fresh = client(path.worker, { ua: UA_A });
            const res = await fresh.login(user.username, user.password);
            assert.equal(res.status, 200, `login after logout-all: ${res.text}`);
            sameSecond = Math.floor(t0 / 1000) === Math.floor(Date.now() / 1000);
          }
          const r = await api(fresh);
          assert.equal(
            r.status,
            200,
            `protected request after a login ${sameSecond ? 'in the same second as' : 'a second boundary after'} the logout-all (attempt ${attempt}): status ${r.status} ${r.text.slice(0, 200)}`,
          );
          assert.equal(r.upstreamReq.header('x-auth-subject'), user.userId);
          assert.equal((await whoami(fresh)).subject, user.userId);
        });

        test('refresh, step-up a few seconds later, refresh again: the access cookie never gets older', async () => {
          const { c } = await login(users.alice, UA_A);
          await sleep(1100);
          const r1 = await c.send('/auth/refresh', { method: 'POST' });
          assert.equal(r1.status, 200, r1.text);
          await sleep(2100);
          const step = await c.login(users.alice.username, users.alice.password);
          assert.equal(step.status, 200, step.text);
          assert.equal(step.json().step_up, true);
          assert.ok(
            step.json().access_token_expires_at > r1.json().access_token_expires_at,
            'precondition: the step-up issued a later token than the first refresh',
          );
          const carried = await whoami(c);
          const r2 = await c.send('/auth/refresh', { method: 'POST' });
          assert.equal(r2.status, 200, r2.text);
          const now = await whoami(c);
          assert.ok(
            r2.json().access_token_expires_at >= carried.access_token_expires_at,
            `the refresh answered an older token: expires ${r2.json().access_token_expires_at} < ${carried.access_token_expires_at} carried (first refresh's: ${r1.json().access_token_expires_at})`,
          );
          assert.ok(
            now.access_token_expires_at >= carried.access_token_expires_at && now.issued_at >= carried.issued_at,
            `the refresh set an older access cookie: exp ${now.access_token_expires_at} iat ${now.issued_at} < carried exp ${carried.access_token_expires_at} iat ${carried.issued_at}`,
          );
        });

        test('a correct login as bob with alice\'s session cookie replaces the session', async () => {
          const alice = await login(users.alice, UA_A);
          const aliceOld = alice.c.clone();
          const c = alice.c;
          const res = await c.login(users.bob.username, users.bob.password);
          assert.equal(res.status, 200, `login as bob over alice's session: ${res.status} ${res.text}`);
          const set = cookiesOf(res);
          assert.ok(set['__Host-access']?.value && set['__Host-session']?.value, `new cookies: ${res.setCookies.join(' | ')}`);
          assert.notEqual(c.access, aliceOld.access);
          assert.notEqual(c.session, aliceOld.session);
          assert.equal(res.json().subject, users.bob.userId);
          assert.equal((await whoami(c)).subject, users.bob.userId);
          const r = await api(c);
          assert.equal(r.upstreamReq?.header('x-auth-subject'), users.bob.userId, seen(r));
          // alice's old session ended: refused at the edge and gone from the store.
          const replay = await api(aliceOld);
          assert.equal(replay.status, 401, `alice's old cookies after the switch: ${replay.status}, ${seen(replay)}`);
          assert.equal(replay.forwarded, false);
          const list = await store.direct.list(users.alice.userId);
          assert.ok(!list.body.some((s) => s.session_id === alice.sid), "alice's old session logged out at the store");
        });

        test('after a logout-all in browser A, browser B can log in again with the right password', async () => {
          const user = users[path.otherBrowserUser];
          const a = await login(user, UA_A);
          const b = await login(user, UA_B);
          const out = await a.c.send('/auth/logout-all', { method: 'POST' });
          assert.equal(out.status, 200, out.text);
          // Not the same second as the logout-all (that case is the same-second test above).
          await sleep(1100);
          const page = await api(b.c, '/', { headers: { 'Sec-Fetch-Mode': 'navigate', Accept: 'text/html' } });
          assert.equal(page.status, 200, `B loads / (public): ${page.text.slice(0, 200)}`);
          const old = { access: b.c.access, session: b.c.session };
          const res = await b.c.login(user.username, user.password);
          assert.equal(res.status, 200, `B's login with the right password: ${res.status} ${res.text}`);
          const set = cookiesOf(res);
          assert.ok(set['__Host-access']?.value && set['__Host-session']?.value, `new cookies: ${res.setCookies.join(' | ')}`);
          assert.notEqual(b.c.session, old.session);
          assert.equal((await whoami(b.c)).subject, user.userId);
          const r = await api(b.c);
          assert.equal(r.status, 200, r.text);
        });
      });
    }
  });
}
