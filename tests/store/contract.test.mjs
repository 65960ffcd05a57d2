// The session-store contract, in the manner of oauth2-proxy's RunSessionStoreTests:
// one list of cases, run against every store the edge is tested with:
//
//   reference store      session-store/ in workerd (Miniflare), as the other tests/store suites
//   JS fake (sid)        tests/session/harness.mjs's startFakeStore: the fake in its `sid` profile
//   Transmit-shaped fake tests/session/transmit-store.mjs in its `transmit` profile
//
// Each store declares its shape: the protocol crate's facts (protocol/wire.json, kept equal to
// edge_session_protocol::shape by a native test). Where Transmit legitimately differs (no `sid`
// claim, numeric error codes, no session_id on refresh, no reuse detection, ...), a case reads
// the difference from `store.shape`; no case is skipped for a store.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startStore, ALICE, BOB, CLIENT } from './harness.mjs';
import { startFakeStore } from '../session/harness.mjs';
import { startTransmitStore, CLIENT_ID, CLIENT_SECRET, WIRE, userSessionsPath } from '../session/transmit-store.mjs';

const P = WIRE.paths;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));
const parse = (text) => {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
};

// ---------------------------------------------------------------------------------------------
// drivers: one interface over each store
//   store.name, store.shape, store.basePath, store.users { alice, bob } → { username, password, userId }
//   store.request(method, path, { json, form, auth = true, token }) → { status, contentType, body, text }
//   store.close()

/** A driver over HTTP for the fakes (base URL with the shape's base path). */
function httpDriver(baseUrl, client) {
  let token;
  const clientToken = async () => {
    token ??= (await send('POST', P.client_token, { form: { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret }, auth: false })).body.access_token;
    return token;
  };
  async function send(method, path, { json, form, auth = true, token: given } = {}) {
    const headers = {};
    let body;
    if (auth) headers.authorization = `Bearer ${given ?? (await clientToken())}`;
    if (json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const r = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await r.text();
    return { status: r.status, contentType: r.headers.get('content-type') ?? '', body: parse(text), text };
  }
  return send;
}

const STORES = [
  {
    name: 'reference store',
    async start() {
      const s = await startStore();
      return {
        shape: WIRE.shapes.reference,
        basePath: '',
        users: { alice: ALICE, bob: BOB },
        async request(method, path, { json, form, auth = true, token } = {}) {
          const headers = token ? { authorization: `Bearer ${token}` } : {};
          let body;
          if (form !== undefined) {
            headers['content-type'] = 'application/x-www-form-urlencoded';
            body = new URLSearchParams(form).toString();
          }
          const r = await s.request(method, path, { json, body, headers, auth: auth && !token });
          return { status: r.status, contentType: r.headers.get('content-type') ?? '', body: r.body, text: r.text };
        },
        client: { id: CLIENT.id, secret: CLIENT.secret },
        close: () => s.dispose(),
      };
    },
  },
  ...[
    ['JS fake (harness.mjs, sid profile)', () => startFakeStore()],
    ['Transmit-shaped fake', () => startTransmitStore({ profile: 'transmit' })],
  ].map(([name, startFake]) => ({
    name,
    async start() {
      const fs = await startFake();
      const user = (n) => ({ username: n, password: fs.users.get(n).password, userId: fs.users.get(n).sub });
      const client = { id: CLIENT_ID, secret: CLIENT_SECRET };
      return {
        shape: fs.shape,
        basePath: new URL(fs.baseUrl).pathname.replace(/\/$/, ''),
        users: { alice: user('alice'), bob: user('bob') },
        request: httpDriver(fs.baseUrl, client),
        client,
        close: () => fs.close(),
      };
    },
  })),
];

// ---------------------------------------------------------------------------------------------
// what the shapes say

/** Asserts an error answer: the shape's status and code, and a message of the shape's form. */
function assertRefusal(res, refusal, shape, ctx) {
  assert.equal(res.status, refusal.status, `${ctx}: status (${res.text})`);
  assert.match(res.contentType, /^application\/json/, `${ctx}: content-type`);
  // A reuse answer names the session it ended (protocol/src/error.rs, ErrorBody::session_id).
  const fields = refusal === shape.refresh_reused ? ['error_code', 'message', 'session_id'] : ['error_code', 'message'];
  assert.deepEqual(Object.keys(res.body ?? {}).sort(), fields, `${ctx}: error body ${res.text}`);
  assert.deepEqual(res.body.error_code, refusal.code, `${ctx}: error_code`);
  const m = res.body.message;
  const ok = typeof m === 'string' || (shape.message_may_be_list && Array.isArray(m) && m.every((x) => typeof x === 'string'));
  assert.ok(ok, `${ctx}: message ${JSON.stringify(m)} is a string${shape.message_may_be_list ? ' or a list of strings' : ''}`);
}

/** Asserts an ApiTokenResponse of the shape; `refresh` for a refresh answer. */
function assertTokens(res, shape, { userId, sessionId, refresh = false }, ctx) {
  assert.equal(res.status, 200, `${ctx}: ${res.text}`);
  const t = res.body;
  assert.equal(typeof t.access_token, 'string', ctx);
  assert.equal(t.access_token.split('.').length, 3, `${ctx}: the access token is a JWS`);
  assert.equal(t.token_type, 'Bearer', ctx);
  assert.ok(Number.isInteger(t.expires_in) && t.expires_in > 0, `${ctx}: expires_in ${t.expires_in}`);
  assert.equal(typeof t.refresh_token, 'string', `${ctx}: refresh_token`);
  assert.equal(typeof t.id_token, 'string', `${ctx}: id_token`);
  if (!refresh || shape.refresh_answers_session_id) {
    assert.equal(typeof t.session_id, 'string', `${ctx}: session_id`);
    if (sessionId) assert.equal(t.session_id, sessionId, `${ctx}: the same session`);
  } else {
    assert.equal(t.session_id, undefined, `${ctx}: no session_id in a ${shape.name} refresh answer`);
  }
  const claims = claimsOf(t.access_token);
  assert.equal(claims.sub, userId, `${ctx}: sub`);
  const sid = sessionId ?? t.session_id;
  if (shape.sid_claim) assert.equal(claims.sid, sid, `${ctx}: the access token's sid is the session`);
  else assert.equal(claims.sid, undefined, `${ctx}: no sid claim in a ${shape.name} access token`);
}

const DATE_TIME = {
  rfc3339_millis: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
  iso8601: /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/,
};

/** A user's sessions as listed (asserts the list's form). */
async function listed(s, userId) {
  const r = await s.request('GET', userSessionsPath(userId));
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.body), r.text);
  for (const x of r.body) {
    assert.deepEqual(Object.keys(x).sort(), ['expiration_time', 'session_id', 'start_time'], r.text);
    for (const t of [x.start_time, x.expiration_time]) {
      assert.match(t, DATE_TIME[s.shape.date_times], `${s.shape.date_times} date-time`);
      assert.ok(!Number.isNaN(Date.parse(t)), t);
    }
  }
  return r.body;
}

const expiry = async (s, userId, sid) => Date.parse((await listed(s, userId)).find((x) => x.session_id === sid)?.expiration_time);

const login = (s, user, extra = {}) => s.request('POST', P.password_authenticate, { json: { username: user.username, password: user.password, ...extra } });
const sessionAuthenticate = (s, session_id) => s.request('POST', P.session_authenticate, { json: { session_id } });
const refresh = (s, refresh_token) => s.request('POST', P.token_refresh, { json: { refresh_token } });
const logout = (s, session_id) => s.request('POST', P.session_logout, { json: { session_id } });

async function loggedIn(s, user) {
  const r = await login(s, user);
  assertTokens(r, s.shape, { userId: user.userId }, `login ${user.username}`);
  return r.body;
}

// ---------------------------------------------------------------------------------------------
// the contract

const CASES = [
  ['the API is served under the shape\'s base path', async (s) => {
    assert.equal(s.basePath, s.shape.base_path);
  }],

  ['client auth: a wrong client secret is refused', async (s) => {
    const r = await s.request('POST', P.client_token, { form: { grant_type: 'client_credentials', client_id: s.client.id, client_secret: 'wrong-secret-wrong' }, auth: false });
    assertRefusal(r, s.shape.invalid_client, s.shape, 'wrong client secret');
  }],

  ['client auth: the right secret gets a ClientAccessToken', async (s) => {
    const r = await s.request('POST', P.client_token, { form: { grant_type: 'client_credentials', client_id: s.client.id, client_secret: s.client.secret }, auth: false });
    assert.equal(r.status, 200, r.text);
    assert.equal(typeof r.body.access_token, 'string');
    assert.equal(r.body.token_type, 'Bearer');
    assert.ok(Number.isInteger(r.body.expires_in) && r.body.expires_in > 0);
  }],

  ['client auth: calls without a valid ClientAccessToken are refused', async (s) => {
    for (const [what, opts] of [['no token', { auth: false }], ['unknown token', { token: 'nope' }]]) {
      for (const [method, path, json] of [
        ['GET', userSessionsPath(s.users.alice.userId)],
        ['POST', P.password_authenticate, { username: s.users.alice.username, password: s.users.alice.password }],
        ['POST', P.session_logout, { session_id: 'x' }],
      ]) {
        assertRefusal(await s.request(method, path, { json, ...opts }), s.shape.missing_client_token, s.shape, `${what}: ${method} ${path}`);
      }
    }
  }],

  ['login: the right password gets tokens of a new session', async (s) => {
    const a = await loggedIn(s, s.users.alice);
    const b = await loggedIn(s, s.users.alice);
    assert.notEqual(a.session_id, b.session_id, 'each login creates a session');
    assert.notEqual(a.refresh_token, b.refresh_token);
  }],

  ['login: a wrong password is refused', async (s) => {
    const before = (await listed(s, s.users.alice.userId)).length;
    assertRefusal(await login(s, { ...s.users.alice, password: 'not-the-password' }), s.shape.wrong_password, s.shape, 'wrong password');
    assert.equal((await listed(s, s.users.alice.userId)).length, before, 'no session created');
  }],

  ['login: an unknown user is refused', async (s) => {
    assertRefusal(await login(s, { username: 'mallory-unknown', password: 'whatever' }), s.shape.unknown_user, s.shape, 'unknown user');
  }],

  ['login: a body without a password is refused as a bad request', async (s) => {
    const r = await s.request('POST', P.password_authenticate, { json: { username: s.users.alice.username } });
    assertRefusal(r, s.shape.invalid_request, s.shape, 'no password');
  }],

  ['a second login with the session id joins that session', async (s) => {
    const { alice } = s.users;
    const a = await loggedIn(s, alice);
    const again = await login(s, alice, { session_id: a.session_id });
    assertTokens(again, s.shape, { userId: alice.userId, sessionId: a.session_id }, 'login onto its own session');
  }],

  ['a login onto an unknown session is refused as the session being gone', async (s) => {
    assertRefusal(await login(s, s.users.alice, { session_id: 'no-such-session' }), s.shape.session_gone, s.shape, 'unknown session');
  }],

  ['login onto another user\'s session is refused', async (s) => {
    const a = await loggedIn(s, s.users.alice);
    assertRefusal(await login(s, s.users.bob, { session_id: a.session_id }), s.shape.foreign_session, s.shape, 'foreign session');
    assert.equal((await sessionAuthenticate(s, a.session_id)).status, 200, 'the session is untouched');
  }],

  ['session authenticate returns tokens of the session and extends it', async (s) => {
    const { alice } = s.users;
    const a = await loggedIn(s, alice);
    const first = await expiry(s, alice.userId, a.session_id);
    // The fakes keep whole seconds: wait past one.
    await sleep(1100);
    const r = await sessionAuthenticate(s, a.session_id);
    assertTokens(r, s.shape, { userId: alice.userId, sessionId: a.session_id }, 'session authenticate');
    assert.notEqual(r.body.refresh_token, a.refresh_token);
    const extended = await expiry(s, alice.userId, a.session_id);
    assert.ok(extended > first, `extended: ${extended} > ${first}`);
  }],

  ['refresh rotates the token and does not extend the session', async (s) => {
    const { alice } = s.users;
    const a = await loggedIn(s, alice);
    const before = await expiry(s, alice.userId, a.session_id);
    await sleep(1100);
    const r = await refresh(s, a.refresh_token);
    assertTokens(r, s.shape, { userId: alice.userId, sessionId: a.session_id, refresh: true }, 'refresh');
    assert.notEqual(r.body.refresh_token, a.refresh_token, 'rotated');
    assert.equal(await expiry(s, alice.userId, a.session_id), before, 'a refresh does not extend the session');
    const again = await refresh(s, r.body.refresh_token);
    assertTokens(again, s.shape, { userId: alice.userId, sessionId: a.session_id, refresh: true }, 'second refresh');
  }],

  ['a rotated refresh token presented again at once', async (s) => {
    const a = await loggedIn(s, s.users.alice);
    assert.equal((await refresh(s, a.refresh_token)).status, 200);
    const replay = await refresh(s, a.refresh_token);
    if (s.shape.refresh_replay_grace) {
      assertTokens(replay, s.shape, { userId: s.users.alice.userId, sessionId: a.session_id, refresh: true }, 'replay within the grace window gets a sibling');
    } else {
      assertRefusal(replay, s.shape.dead_refresh_token, s.shape, 'a used refresh token is dead');
    }
  }],

  ['refresh-token reuse after the chain moved on', async (s) => {
    const a = await loggedIn(s, s.users.alice);
    const r1 = await refresh(s, a.refresh_token);
    const r2 = await refresh(s, r1.body.refresh_token);
    assert.equal(r2.status, 200, r2.text);
    const reused = await refresh(s, a.refresh_token);
    const newest = await refresh(s, r2.body.refresh_token);
    if (s.shape.refresh_reused) {
      assertRefusal(reused, s.shape.refresh_reused, s.shape, 'reuse detected');
      assert.equal(reused.body.session_id, a.session_id, 'reuse names the session it ended');
      assertRefusal(newest, s.shape.dead_refresh_token, s.shape, 'reuse revokes the newest token too');
      assertRefusal(await sessionAuthenticate(s, a.session_id), s.shape.session_gone, s.shape, 'reuse ends the session');
    } else {
      assertRefusal(reused, s.shape.dead_refresh_token, s.shape, 'a used refresh token is dead');
      assert.equal(newest.status, 200, `no reuse detection: the newest token still rotates (${newest.text})`);
    }
  }],

  ['logout ends the session and its refresh tokens', async (s) => {
    const { bob } = s.users;
    const b = await loggedIn(s, bob);
    const out = await logout(s, b.session_id);
    assert.equal(out.status, 204, out.text);
    assert.equal(out.text, '', 'no body');
    assertRefusal(await sessionAuthenticate(s, b.session_id), s.shape.session_gone, s.shape, 'session authenticate after logout');
    assertRefusal(await refresh(s, b.refresh_token), s.shape.dead_refresh_token, s.shape, 'refresh after logout');
    assertRefusal(await logout(s, b.session_id), s.shape.logout_gone, s.shape, 'second logout');
    assert.ok(!(await listed(s, bob.userId)).some((x) => x.session_id === b.session_id), 'not listed');
  }],

  ['session operations on an unknown session are refused', async (s) => {
    assertRefusal(await sessionAuthenticate(s, 'no-such-session'), s.shape.session_gone, s.shape, 'session authenticate');
    assertRefusal(await logout(s, 'no-such-session'), s.shape.logout_gone, s.shape, 'logout');
    assertRefusal(await refresh(s, 'no-such-refresh-token'), s.shape.dead_refresh_token, s.shape, 'refresh');
  }],

  ['the sessions list holds the user\'s live sessions only', async (s) => {
    const { alice, bob } = s.users;
    assert.equal((await s.request('DELETE', userSessionsPath(bob.userId))).status, 204);
    const a = await loggedIn(s, bob);
    const b = await loggedIn(s, bob);
    const list = await listed(s, bob.userId);
    assert.deepEqual(list.map((x) => x.session_id).sort(), [a.session_id, b.session_id].sort());
    for (const x of list) {
      assert.equal(Date.parse(x.expiration_time) - Date.parse(x.start_time), 14 * 86400e3, 'two weeks');
      assert.ok(Math.abs(Date.parse(x.start_time) - Date.now()) < 60e3, 'started now');
    }
    assert.ok(!(await listed(s, alice.userId)).some((x) => [a.session_id, b.session_id].includes(x.session_id)), 'per user');
  }],

  ['logout of all the user\'s sessions', async (s) => {
    const { alice, bob } = s.users;
    const a = await loggedIn(s, bob);
    const b = await loggedIn(s, bob);
    const aliceBefore = (await listed(s, alice.userId)).length;
    assert.ok(aliceBefore > 0);
    const del = await s.request('DELETE', userSessionsPath(bob.userId));
    assert.equal(del.status, 204, del.text);
    assert.equal(del.text, '', 'no body');
    assert.deepEqual(await listed(s, bob.userId), []);
    for (const x of [a, b]) {
      assertRefusal(await sessionAuthenticate(s, x.session_id), s.shape.session_gone, s.shape, 'session authenticate after revoke-all');
      assertRefusal(await refresh(s, x.refresh_token), s.shape.dead_refresh_token, s.shape, 'refresh after revoke-all');
    }
    assert.equal((await listed(s, alice.userId)).length, aliceBefore, 'other users untouched');
  }],

  ['the sessions of an unknown user', async (s) => {
    for (const method of ['GET', 'DELETE']) {
      assertRefusal(await s.request(method, userSessionsPath('no-such-user')), s.shape.unknown_user_sessions, s.shape, `${method} unknown user`);
    }
  }],
];

for (const kind of STORES) {
  describe(`store contract: ${kind.name}`, () => {
    let store;
    before(async () => {
      store = await kind.start();
    });
    after(() => store?.close());
    for (const [name, run] of CASES) test(name, () => run(store));
  });
}
