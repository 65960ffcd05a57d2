// Step-up through the edge, on every store (tests/session/stores.mjs): a password login, then
// `{method: "totp" | "email_otp", code}` to /auth/login with the session cookie adds the factor
// to that session (amr gains otp / eotp and mfa, new cookies, the same session), and an admin
// area behind ROUTE_POLICIES (`amr: ["mfa"]`) answers the RFC 9470 challenge before and, where
// the store's access tokens carry amr, lets the request through after. Attacks: a replayed
// code, another user's code onto my session, a code without a session cookie, passcode guessing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startGate, startUpstream } from '../edge/harness.mjs';
import { UA, claimsOf, flows, sessionIdOf } from './harness.mjs';
import { rawSend } from '../edge/raw-body.mjs';
import { STORES } from './stores.mjs';
import { Codes } from '../totp.mjs';

const POLICIES = JSON.stringify([{ path: '/admin/*', amr: ['mfa'] }]);
const CHALLENGE = /error="insufficient_user_authentication".*acr_values="mfa"/;

for (const kind of STORES) {
  describe(`step-up, ${kind.name}`, () => {
    let store;
    let users;
    const ctx = {};
    const codes = new Codes();
    const { loggedIn, api, whoami, client } = flows(ctx);
    const code = (u) => codes.next(u.userId, u.totpSecret);
    const stepUp = (c, json) => c.send('/auth/login', { method: 'POST', json });

    before(async () => {
      store = await kind.start();
      users = store.users;
      ctx.up = await startUpstream();
      ctx.gate = await startGate({
        main: store.bindings(ctx.up, { ROUTE_POLICIES: POLICIES, STEP_UP_PATH: '/step-up', LOGIN_PATH: '/login' }),
      });
    });

    after(async () => {
      await ctx.gate?.dispose();
      await store?.close();
      await ctx.up?.close();
    });

    test('password, the challenge, TOTP: the same session with pwd, otp and mfa, new cookies', async () => {
      const { c, sid } = await loggedIn(users.alice);
      const before = await api(c, '/admin/users');
      assert.equal(before.status, 401, before.text);
      assert.match(before.headers['www-authenticate'] ?? '', CHALLENGE);
      assert.equal(before.forwarded, false);
      const nav = await api(c, '/admin/users', { headers: { 'Sec-Fetch-Mode': 'navigate', Accept: 'text/html' } });
      assert.equal(nav.status, 303, nav.text);
      assert.equal(nav.headers.location, '/step-up?return_to=%2Fadmin%2Fusers');

      const [oldSession, oldAccess] = [c.session, c.access];
      const res = await stepUp(c, { method: 'totp', code: await code(users.alice) });
      assert.equal(res.status, 200, res.text);
      const body = res.json();
      assert.equal(body.step_up, true);
      assert.deepEqual(body.amr, ['pwd', 'otp', 'mfa']);
      assert.notEqual(c.session, oldSession, 'a new session cookie');
      assert.notEqual(c.access, oldAccess, 'a new access cookie');
      assert.equal(sessionIdOf(c), sid, 'the same session');
      assert.equal((await whoami(c)).subject, users.alice.userId);

      const after = await api(c, '/admin/users');
      if (claimsOf(c.accessToken).amr) {
        // The store's access tokens carry amr (the reference store): the rule is met.
        assert.equal(after.status, 200, after.text);
        assert.equal(after.upstreamReq.header('x-auth-amr'), 'pwd,otp,mfa');
        // A refresh through the session keeps auth_time (the last real authentication) and amr.
        const authTime = claimsOf(c.accessToken).auth_time;
        await new Promise((r) => setTimeout(r, 1100));
        const refreshed = await c.send('/auth/refresh', { method: 'POST' });
        assert.equal(refreshed.status, 200, refreshed.text);
        assert.equal(claimsOf(c.accessToken).auth_time, authTime);
        assert.ok(claimsOf(c.accessToken).iat > authTime, 'a new token');
        assert.equal((await api(c, '/admin/users')).status, 200);
      } else {
        // Transmit's access tokens carry no amr: an amr rule fails closed (README).
        assert.equal(after.status, 401);
        assert.equal(after.forwarded, false);
      }
    });

    test('a replayed code is refused and changes nothing', async () => {
      const { c } = await loggedIn(users.alice);
      const once = await code(users.alice);
      assert.equal((await stepUp(c, { method: 'totp', code: once })).status, 200);
      const cookies = [c.session, c.access];
      const replay = await stepUp(c, { method: 'totp', code: once });
      assert.equal(replay.status, 401, replay.text);
      assert.equal(replay.setCookies.length, 0, 'no cookie set or cleared');
      assert.deepEqual([c.session, c.access], cookies);
      // A new browser of the same user with the same code: refused too.
      const other = (await loggedIn(users.alice)).c;
      const amr = (await whoami(other)).amr;
      assert.equal((await stepUp(other, { method: 'totp', code: once })).status, 401);
      assert.deepEqual((await whoami(other)).amr, amr, 'nothing added');
    });

    test("another user's code never joins my session, nor replaces it", async () => {
      const { c, sid } = await loggedIn(users.alice);
      const bobs = await code(users.bob);
      const res = await stepUp(c, { method: 'totp', code: bobs, username: users.bob.username });
      assert.equal(res.status, 401, res.text);
      assert.equal(res.setCookies.length, 0);
      assert.equal(sessionIdOf(c), sid);
      const me = await whoami(c);
      assert.equal(me.subject, users.alice.userId, 'still alice');
      // Bob's code under alice's session without a username is checked as alice's: wrong.
      const res2 = await stepUp(c, { method: 'totp', code: await code(users.bob) });
      assert.equal(res2.status, 401);
    });

    test('a second factor without a session cookie and without a username: 400, no store call', async () => {
      const c = client();
      const res = await stepUp(c, { method: 'totp', code: '123456' });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.setCookies.length, 0);
      // With a username it is a login by that factor alone (one factor: no mfa).
      const alone = await stepUp(c, { method: 'totp', code: await code(users.bob), username: users.bob.username });
      assert.equal(alone.status, 200, alone.text);
      assert.deepEqual(alone.json().amr, ['otp']);
      assert.equal(alone.json().step_up, false);
      assert.equal((await api(c, '/admin/x')).status, 401, 'one factor does not meet mfa');
    });

    test('email passcode: eotp and mfa in the same session; guessing ends at the limits', async () => {
      const { c, sid } = await loggedIn(users.bob);
      const sent = await store.direct.otpSend({ channel: 'direct', identifier_type: 'user_id', identifier: users.bob.userId });
      assert.equal(sent.status, 200, sent.text);
      const res = await stepUp(c, { method: 'email_otp', code: sent.body.code });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json().amr, ['pwd', 'eotp', 'mfa']);
      assert.equal(sessionIdOf(c), sid);

      const again = await store.direct.otpSend({ channel: 'direct', identifier_type: 'user_id', identifier: users.bob.userId });
      const right = again.body.code;
      const wrong = right === '000000' ? '000001' : '000000';
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await stepUp(c, { method: 'email_otp', code: wrong })).status);
      assert.deepEqual(statuses.slice(0, 5), [401, 401, 401, 401, 401], String(statuses));
      assert.equal(statuses[5], 429, 'the edge throttles the sixth guess');
      const late = await stepUp(c, { method: 'email_otp', code: right });
      assert.notEqual(late.status, 200, 'the right code after the guesses does not sign in');
    });

    test('POST /auth/otp/send emails the session user a passcode; email_otp adds it to the session', async () => {
      const { c, sid } = await loggedIn(users.alice);
      const sent = await c.send('/auth/otp/send', { method: 'POST', json: {} });
      assert.equal(sent.status, 200, sent.text);
      assert.deepEqual(sent.json(), { sent: true });
      assert.equal(sent.setCookies.length, 0);
      const code = await store.mailbox(users.alice);
      assert.match(code ?? '', /^\d{6}$/, 'the code reached the mailbox');
      const res = await stepUp(c, { method: 'email_otp', code });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json().amr, ['pwd', 'eotp', 'mfa']);
      assert.equal(sessionIdOf(c), sid);
      // Unknown users get the same answer (no account discovery); no user at all is a 400.
      const anon = client();
      const unknown = await anon.send('/auth/otp/send', { method: 'POST', json: { username: 'nobody-at-all' } });
      assert.equal(unknown.status, 200, unknown.text);
      assert.deepEqual(unknown.json(), { sent: true });
      assert.equal((await anon.send('/auth/otp/send', { method: 'POST', json: {} })).status, 400);
      // A cross-site POST is refused like every edge POST (CSRF).
      const csrf = await c.send('/auth/otp/send', { method: 'POST', json: {}, site: 'cross-site' });
      assert.equal(csrf.status, 403, csrf.text);
    });

    test('raw bytes: broken second-factor bodies are 400 with a clear error, never 5xx, nothing set', async () => {
      const { c } = await loggedIn(users.alice);
      const headers = [
        ['User-Agent', UA],
        ['Sec-Fetch-Site', 'same-origin'],
        ['Content-Type', 'application/json'],
        ['Cookie', c.cookieHeader()],
      ];
      const bodies = [
        Buffer.from('{"method":"totp","code":"\xff\xfe\xfd\xfc\xfb\xfa"}', 'latin1'),
        Buffer.from('{"method":"totp","code":"123456"', 'latin1'),
        Buffer.from('{"method":"totp","code":"12345\u0000"}'),
        Buffer.from('{"method":"totp\u0000","code":"123456"}'),
        Buffer.from('{"method":"email_otp","code":"１２３４５６"}'),
        Buffer.from('{"method":"totp","code":["123456"]}'),
        Buffer.from(`{"method":"totp","code":"${'9'.repeat(4000)}"}`),
        Buffer.from([0x7b, 0xc0, 0xaf, 0x7d]),
      ];
      for (const [i, body] of bodies.entries()) {
        const r = await rawSend(ctx.gate.url('main'), { path: '/auth/login', headers, body });
        assert.equal(r.status, 400, `body ${i}: ${r.head} ${r.text}`);
        assert.match(r.text, /"error":"invalid_request"/, r.text);
        assert.doesNotMatch(r.head, /set-cookie/i, 'nothing set or cleared');
      }
      // A JSON escape of a lone surrogate is valid grammar (the parser makes it U+FFFD): a
      // username no store knows, refused like wrong credentials, never a 5xx.
      const lone = Buffer.from('{"method":"totp","code":"123456","username":"\\ud800"}');
      const r = await rawSend(ctx.gate.url('main'), { path: '/auth/login', headers, body: lone });
      assert.ok(r.status >= 400 && r.status < 500, r.head);
      assert.doesNotMatch(r.head, /set-cookie/i);
    });
  });
}
