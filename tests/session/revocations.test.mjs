// Revocations that happen away from the edge's own logout routes reach the edge (issue 12): a
// refresh-token reuse the store reports, an admin's revoke-all and logout through the store's own
// API, the backend's webhook (POST /auth/revocations), and "log out other devices"
// (DELETE /auth/sessions/{handle}). Run once per store (tests/session/stores.mjs) on a stack
// whose edge workers and store share one REVOCATIONS namespace (kind.startStack): the reference
// store writes the edge's KV keys itself; the fakes cannot (Transmit has no KV), so their
// backend calls the webhook after revoking, as the README tells a Transmit deployment to.
//
// Edge workers (each its own isolate, one KV namespace):
//   main, other   the webhook on, the default revocation cache (10 s): "at once" below can only
//                 come from the isolate's own write, never from its cache expiring
//   bounded, bounded2  REVOCATION_CACHE_SECONDS=2: revocations written elsewhere are refused
//                 within the cache's bound (KV itself is consistent at once in workerd)
//   off           no REVOCATION_WEBHOOK_SECRET: the webhook route does not exist
//
// Hostile webhook requests go as raw bytes to workerd's direct socket (tests/edge/raw-body.mjs).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { rawSend } from '../edge/raw-body.mjs';
import {
  Client,
  WEBHOOK_SECRET,
  webhookSignature,
  flows,
  shortId,
  sessionIdOf,
  assertCleared,
  now,
  sleep,
} from './harness.mjs';
import { STORES } from './stores.mjs';

/** The revocation cache of the `bounded` workers, seconds. */
const BOUNDED_CACHE_SECS = 2;
/**
 * What "within the bound" allows, from the moment the revocation call returned: the cache's
 * TTL (KV itself is consistent at once in workerd) plus the time one request takes on a loaded
 * two-core machine.
 */
const BOUND_MS = BOUNDED_CACHE_SECS * 1000 + 1500;

const bearer = (token) => ({ headers: { Authorization: `Bearer ${token}` }, cookies: false });

/** A copy of `c` talking to another edge worker (same cookies, same User-Agent). */
function at(ctx, c, name) {
  const copy = new Client(ctx.gate.url(name), { ua: c.ua });
  copy.jar = new Map(c.jar);
  return copy;
}

for (const kind of STORES) {
  describe(kind.name, () => {
    let stack;
    let store;
    const ctx = {};
    const { client, loggedIn, api } = flows(ctx);
    const users = {};

    before(async () => {
      stack = await kind.startStack({
        extraUsers: ['dave', 'erin', 'frank', 'grace', 'heidi'],
        configs: (s, up) => ({
          main: s.bindings(up, { REVOCATION_WEBHOOK_SECRET: WEBHOOK_SECRET }),
          other: s.bindings(up, { REVOCATION_WEBHOOK_SECRET: WEBHOOK_SECRET }),
          bounded: s.bindings(up, { REVOCATION_WEBHOOK_SECRET: WEBHOOK_SECRET, REVOCATION_CACHE_SECONDS: String(BOUNDED_CACHE_SECS) }),
          bounded2: s.bindings(up, { REVOCATION_WEBHOOK_SECRET: WEBHOOK_SECRET, REVOCATION_CACHE_SECONDS: String(BOUNDED_CACHE_SECS) }),
          off: s.bindings(up),
        }),
      });
      ({ store } = stack);
      ctx.gate = stack.gate;
      ctx.up = stack.up;
      Object.assign(users, store.users);
    });

    after(async () => {
      await stack?.close();
    });

    /** The webhook call of a backend, as raw bytes on the socket of edge worker `name`. */
    function webhook(name, payload, { t = now(), secret = WEBHOOK_SECRET, signature, contentType = 'application/json', body } = {}) {
      const text = body ?? JSON.stringify(payload);
      const headers = [['Content-Type', contentType], ['Connection', 'close']];
      const sig = signature === undefined ? webhookSignature(text, { t, secret }) : signature;
      if (sig !== null) headers.push(['Edge-Signature', sig]);
      return rawSend(ctx.gate.url(name), { path: '/auth/revocations', headers, body: text });
    }

    /** Asserts every credential passes now at edge worker `name` (fills its revocation cache). */
    async function allPass(name, creds, why) {
      for (const [label, send] of creds) {
        const r = await send(name);
        assert.equal(r.status, 200, `${label} passes at ${name} ${why}: ${r.text}`);
      }
    }

    /** Asserts every credential is refused at edge worker `name` on its first try. */
    async function refusedAtOnce(name, creds, why) {
      for (const [label, send] of creds) {
        const r = await send(name);
        assert.equal(r.status, 401, `${label} refused at once at ${name} ${why}: ${r.text}`);
        assert.equal(r.forwarded, false);
      }
    }

    /**
     * Polls each credential at edge worker `name` until it is refused; returns the longest time
     * from `t0` to refusal, ms. Fails when one is still accepted after `limitMs`.
     */
    async function refusedWithin(name, creds, t0, limitMs) {
      let longest = 0;
      for (const [label, send] of creds) {
        for (;;) {
          const r = await send(name);
          const elapsed = Date.now() - t0;
          if (r.status === 401) {
            assert.equal(r.forwarded, false);
            longest = Math.max(longest, elapsed);
            break;
          }
          assert.equal(r.status, 200, `${label} at ${name}: ${r.text}`);
          assert.ok(elapsed <= limitMs, `${label} still accepted at ${name} ${elapsed} ms after the revocation (bound ${limitMs} ms)`);
          await sleep(50);
        }
      }
      return longest;
    }

    /** The credentials of a browser session `c` and of Bearer tokens, as senders to a worker. */
    const creds = (browsers, tokens) => [
      ...browsers.map((c, i) => [`browser session ${i}`, (name) => api(at(ctx, c, name))]),
      ...tokens.map((t, i) => [`Bearer token ${i}`, (name) => api(client(name), '/api/data', bearer(t))]),
    ];

    const grant = (refresh_token, name = 'main') =>
      client(name).send('/auth/refresh', { method: 'POST', json: { refresh_token }, site: null });

    describe('refresh-token reuse', () => {
      test('reported by the store: the session ends and its cookies and Bearer tokens are refused at once in this isolate', { skip: !kind.shape.refresh_reused && 'this shape reports no reuse (Transmit documents none)' }, async () => {
        const { c, sid } = await loggedIn(users.alice);
        const first = await store.direct.sessionAuthenticate(sid);
        assert.equal(first.status, 200, first.text);
        const r1 = await grant(first.body.refresh_token);
        assert.equal(r1.status, 200, r1.text);
        const r2 = await grant(r1.json().refresh_token);
        assert.equal(r2.status, 200, r2.text);
        const tokens = [r2.json().access_token, c.accessToken];
        const all = creds([c], tokens);
        // Cached as "not revoked" in this isolate for REVOCATION_CACHE_SECONDS (10 s).
        await allPass('main', all, 'before the replay');

        // Two generations back: reuse whatever the grace window.
        const replay = await grant(first.body.refresh_token);
        assert.equal(replay.status, 401, replay.text);
        await refusedAtOnce('main', all, 'after the reuse');
        const list = await store.direct.list(users.alice.userId);
        assert.ok(!list.body.some((s) => s.session_id === sid), 'the store ended the session');
      });

      test('not reported (a store without reuse detection, as Transmit documents none): the replay is refused and nothing else changes until the backend revokes', { skip: kind.shape.refresh_reused && 'this shape reports reuse' }, async () => {
        const { c, sid } = await loggedIn(users.alice);
        const first = await store.direct.sessionAuthenticate(sid);
        const r1 = await grant(first.body.refresh_token);
        assert.equal(r1.status, 200, r1.text);
        const r2 = await grant(r1.json().refresh_token);
        assert.equal(r2.status, 200, r2.text);
        const replay = await grant(first.body.refresh_token);
        assert.equal(replay.status, 401, replay.text);
        // The store answers "invalid or expired": nothing names a session to end.
        const r = await api(c);
        assert.equal(r.status, 200, r.text);
      });
    });

    describe('revocations through the store', () => {
      test("an admin revoke-all through the store's own API refuses every token and cookie of the user in every isolate within the bound", async () => {
        const u = users.dave;
        const a = await loggedIn(u, { name: 'bounded' });
        const b = await loggedIn(u, { name: 'bounded' });
        const tokens = [a.c.accessToken, await store.rawAccessToken(u)];
        const all = creds([a.c, b.c], tokens);
        const bob = await loggedIn(users.bob, { name: 'bounded' });
        await allPass('bounded', all, 'before the revoke-all');
        await allPass('bounded2', all, 'before the revoke-all');

        const out = await store.direct.revokeAll(u.userId);
        assert.equal(out.status, 204, out.text);
        let t0 = Date.now();
        let here = 'bounded';
        if (!store.writesRevocations) {
          // Transmit cannot write the edge's KV: the backend tells the edge.
          const w = await webhook('bounded', { user_ids: [u.userId] });
          assert.equal(w.status, 200, w.text);
          t0 = Date.now();
          await refusedAtOnce('bounded', all, 'after the webhook');
          here = 'bounded2';
        }
        const longest = await refusedWithin(here, all, t0, BOUND_MS);
        assert.ok(longest <= BOUND_MS, `${longest} ms`);
        if (store.writesRevocations) await refusedWithin('bounded2', all, t0, BOUND_MS);
        // Another user is untouched.
        assert.equal((await api(at(ctx, bob.c, 'bounded2'))).status, 200);
      });

      test("a logout through the store's own API refuses that session's cookies within the bound, not the user's other sessions", async () => {
        const u = users.frank;
        const gone = await loggedIn(u, { name: 'bounded' });
        const kept = await loggedIn(u, { name: 'bounded' });
        const all = creds([gone.c], kind.sidInTokens ? [gone.c.accessToken] : []);
        await allPass('bounded', all, 'before the logout');
        await allPass('bounded2', all, 'before the logout');
        const out = await store.direct.logout(gone.sid);
        assert.equal(out.status, 204, out.text);
        let t0 = Date.now();
        if (!store.writesRevocations) {
          const w = await webhook('bounded', { session_ids: [gone.sid] });
          assert.equal(w.status, 200, w.text);
          t0 = Date.now();
          await refusedAtOnce('bounded', all, 'after the webhook');
        }
        await refusedWithin('bounded2', all, t0, BOUND_MS);
        await refusedWithin('bounded', all, t0, BOUND_MS);
        assert.equal((await api(at(ctx, kept.c, 'bounded2'))).status, 200, 'the other session lives');
      });
    });

    describe('the webhook (POST /auth/revocations)', () => {
      test('refuses a bad MAC, a wrong secret, a missing or malformed signature; nothing is revoked', async () => {
        const { c, sid } = await loggedIn(users.erin);
        const payload = { session_ids: [sid], user_ids: [users.erin.userId] };
        const text = JSON.stringify(payload);
        const good = webhookSignature(text);
        const [tPart, vPart] = good.split(',');
        const flipped = `${tPart},v1=${vPart.slice(3, 10)}${vPart[10] === '0' ? '1' : '0'}${vPart.slice(11)}`;
        const cases = [
          ['a flipped MAC byte', { signature: flipped }, 401],
          ['another secret', { secret: 'another-secret-of-at-least-32-bytes-long!' }, 401],
          ['the MAC of another body', { signature: webhookSignature('{"user_ids":["x"]}') }, 401],
          ['another timestamp than signed', { signature: `t=${now() - 1},${vPart}` }, 401],
          ['no signature', { signature: null }, 401],
          ['no v1', { signature: tPart }, 400],
          ['no t', { signature: vPart }, 400],
          ['a short MAC', { signature: `${tPart},v1=abcd` }, 400],
          ['not hex', { signature: `${tPart},v1=${'z'.repeat(64)}` }, 400],
          ['a non-numeric t', { signature: `t=12x,${vPart}` }, 400],
        ];
        for (const [label, opts, status] of cases) {
          const r = await webhook('main', payload, { body: text, ...opts });
          assert.equal(r.status, status, `${label}: ${r.head}\n${r.text}`);
          assert.equal(JSON.parse(r.text).error !== undefined, true, `${label}: JSON error`);
        }
        const r = await api(c);
        assert.equal(r.status, 200, `nothing was revoked: ${r.text}`);
      });

      test('refuses a timestamp more than 300 s away (301 s in the past or the future) and accepts exactly 300 s', async () => {
        const { c } = await loggedIn(users.erin);
        const bystander = { session_ids: ['no-such-session-0'] };
        for (const t of [now() - 301, now() + 301 + 2]) {
          const r = await webhook('main', bystander, { t });
          assert.equal(r.status, 401, `t=${t}: ${r.text}`);
          assert.match(r.text, /timestamp/i);
        }
        // 300 s back, with a second of slack for the clock ticking between here and the edge
        // (the exact boundary is the core's test: webhook::tests).
        const r = await webhook('main', { session_ids: ['no-such-session-1'] }, { t: now() - 299 });
        assert.equal(r.status, 200, r.text);
        assert.equal((await api(c)).status, 200);
      });

      test('refuses a replay, in the isolate that took it and in another one', async () => {
        const payload = { session_ids: [`replayed-${crypto.randomUUID()}`] };
        const text = JSON.stringify(payload);
        const signature = webhookSignature(text);
        const first = await webhook('main', payload, { body: text, signature });
        assert.equal(first.status, 200, first.text);
        const again = await webhook('main', payload, { body: text, signature });
        assert.equal(again.status, 409, again.text);
        const elsewhere = await webhook('other', payload, { body: text, signature });
        assert.equal(elsewhere.status, 409, elsewhere.text);
        // Signed anew (a retry as the README asks for one): accepted.
        const resigned = await webhook('main', payload, { body: text, t: now() - 7 });
        assert.equal(resigned.status, 200, resigned.text);
      });

      test('refuses bad bodies with a clear 400 (or 413, 415) after the MAC', async () => {
        const many = Array.from({ length: 51 }, (_, i) => `s-${i}`);
        const cases = [
          ['not JSON', { body: '{"session_ids": [' }, 400],
          ['no ids', { body: '{}' }, 400],
          ['empty lists', { body: '{"session_ids": [], "user_ids": []}' }, 400],
          ['a number as id', { body: '{"session_ids": [1]}' }, 400],
          ['an empty id', { body: '{"user_ids": [""]}' }, 400],
          ['a control character', { body: '{"user_ids": ["a\\u0000b"]}' }, 400],
          ['an unknown field', { body: '{"session_ids": ["a"], "users": ["b"]}' }, 400],
          ['51 ids', { body: JSON.stringify({ session_ids: many }) }, 400],
          ['an id over 512 bytes', { body: JSON.stringify({ user_ids: ['x'.repeat(513)] }) }, 400],
          ['a text body', { body: '{"session_ids": ["a"]}', contentType: 'text/plain' }, 415],
          ['over 16 KiB', { body: JSON.stringify({ session_ids: ['a'], pad: 'x'.repeat(17 * 1024) }) }, 413],
        ];
        for (const [label, opts, status] of cases) {
          const r = await webhook('main', undefined, opts);
          assert.equal(r.status, status, `${label}: ${r.head}\n${r.text}`);
          const body = JSON.parse(r.text);
          assert.equal(typeof body.message, 'string', label);
        }
      });

      test('its revocations are enforced: session ids end those sessions, user ids every token and cookie of the user', async () => {
        const byUser = await loggedIn(users.grace);
        const graceToken = await store.rawAccessToken(users.grace);
        const bySession = await loggedIn(users.heidi);
        const heidiOther = await loggedIn(users.heidi);
        const all = creds([byUser.c, bySession.c], [graceToken]);
        await allPass('main', all, 'before the webhook');
        const w = await webhook('main', { session_ids: [bySession.sid], user_ids: [users.grace.userId] });
        assert.equal(w.status, 200, w.text);
        assert.deepEqual(JSON.parse(w.text), { revoked: true, sessions: 1, users: 1 });
        await refusedAtOnce('main', all, 'after the webhook');
        assert.equal((await api(heidiOther.c)).status, 200, "heidi's other session lives");
        // Another isolate: from KV, within its cache bound.
        await refusedWithin('bounded2', all, Date.now(), BOUND_MS);
      });

      test('does not exist without REVOCATION_WEBHOOK_SECRET (404)', async () => {
        const r = await webhook('off', { session_ids: ['x'] });
        assert.equal(r.status, 404, r.text);
      });
    });

    describe('log out other devices (DELETE /auth/sessions/{handle})', () => {
      test("ends one of the user's own other sessions at the store and at the edge, at once", async () => {
        const me = await loggedIn(users.bob);
        const phone = await loggedIn(users.bob);
        const phoneToken = phone.c.accessToken;
        const tokens = kind.sidInTokens ? [phoneToken] : [];
        await allPass('main', creds([phone.c], tokens), 'before');
        const list = await me.c.send('/auth/sessions');
        assert.equal(list.status, 200, list.text);
        const handle = shortId(phone.sid);
        assert.ok(list.json().sessions.some((s) => s.id === handle && !s.current), list.text);

        const r = await me.c.send(`/auth/sessions/${handle}`, { method: 'DELETE' });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json(), { ended: true, current: false, revoked_at_edge: true, store_logged_out: true });
        assert.deepEqual(r.setCookies, [], 'the caller keeps its cookies');
        await refusedAtOnce('main', creds([phone.c], tokens), 'after DELETE');
        assert.equal((await api(me.c)).status, 200, 'the caller lives on');
        const after = await store.direct.list(users.bob.userId);
        assert.ok(!after.body.some((s) => s.session_id === phone.sid), 'ended at the store');
      });

      test('ending the current session this way logs this browser out', async () => {
        const me = await loggedIn(users.bob);
        const r = await me.c.send(`/auth/sessions/${shortId(me.sid)}`, { method: 'DELETE' });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json().current, true);
        assertCleared(r);
      });

      test("another user's handle, an unknown one or a malformed one: 404 and no store mutation", async () => {
        const me = await loggedIn(users.bob);
        const victim = await loggedIn(users.alice);
        const before = await store.direct.list(users.alice.userId);
        // A handle's shape: looked up in the caller's own sessions, not found.
        for (const handle of [shortId(victim.sid), shortId('no-such-session')]) {
          const r = await me.c.send(`/auth/sessions/${handle}`, { method: 'DELETE' });
          assert.equal(r.status, 404, `${handle}: ${r.text}`);
          assert.deepEqual(r.json(), { error: 'not_found', message: 'No such session.' });
        }
        // Not a handle's shape: no such route.
        for (const handle of ['ABCDEF0123456789', 'abc', `${shortId(victim.sid)}0`]) {
          const r = await me.c.send(`/auth/sessions/${handle}`, { method: 'DELETE' });
          assert.equal(r.status, 404, `${handle}: ${r.text}`);
        }
        const afterList = await store.direct.list(users.alice.userId);
        assert.deepEqual(afterList.body.map((s) => s.session_id).sort(), before.body.map((s) => s.session_id).sort());
        assert.equal((await api(victim.c)).status, 200, "the other user's session lives");
        if (store.fake) assert.ok(!store.fake.calls.some((x) => x.endpoint === 'logout' && x.body?.session_id === victim.sid));
      });

      test('CSRF as on the other edge routes: a cross-site DELETE is refused (403) and the session lives on; GET is 405; no session is 401', async () => {
        const me = await loggedIn(users.bob);
        const phone = await loggedIn(users.bob);
        const handle = shortId(phone.sid);
        const cross = await me.c.send(`/auth/sessions/${handle}`, { method: 'DELETE', site: 'cross-site' });
        assert.equal(cross.status, 403, cross.text);
        const none = await me.c.send(`/auth/sessions/${handle}`, { method: 'DELETE', site: null });
        assert.equal(none.status, 403, none.text);
        const get = await me.c.send(`/auth/sessions/${handle}`);
        assert.equal(get.status, 405, get.text);
        const anon = await client().send(`/auth/sessions/${handle}`, { method: 'DELETE' });
        assert.equal(anon.status, 401, anon.text);
        assert.equal((await api(phone.c)).status, 200, 'nothing ended');
        assert.equal(sessionIdOf(phone.c), phone.sid);
      });
    });
  });
}
