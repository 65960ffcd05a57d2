// A User-Agent the store would refuse as `client_attributes.user_agent` (over
// 1,024 bytes, or with a TAB) must not lock its owner out. The edge sends the store a
// normalised copy (the session cookie still binds to the full value the browser sent), and a
// store validation refusal is never reported as wrong credentials or as a session that ended.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import { startGate, startUpstream } from '../edge/harness.mjs';
import { startStore, ALICE, DEV_ENV } from '../store/harness.mjs';
import {
  COOKIE_KEY,
  UA,
  Client,
  startFakeStore,
  fakeStoreBindings,
  cookiesOf,
  assertNoCookies,
} from './harness.mjs';

// The reference store's dev configuration (its vars and its .dev.vars.example secrets).
const vars = DEV_ENV;

const LONG_UA = `Mozilla/5.0 (X11; Linux x86_64) ${'Plugin/1.0 '.repeat(180)}edge-test`; // ~2,000 bytes
const TAB_UA = 'Mozilla/5.0 (X11;\tLinux x86_64) tabbed/1.0';
const BOTH_UA = `${TAB_UA} ${'x'.repeat(2000)}`;

let store;
let fs;
let up;
let gate;

before(async () => {
  store = await startStore();
  const storeUrl = (await store.mf.ready).toString().replace(/\/$/, '');
  fs = await startFakeStore();
  up = await startUpstream();
  gate = await startGate({
    real: {
      ISSUER: vars.ISSUER,
      AUDIENCE: vars.DEFAULT_AUDIENCE,
      JWKS_URL: `${storeUrl}/oidc/jwks`,
      UPSTREAM: up.url,
      SESSION_STORE_URL: storeUrl,
      CLIENT_ID: vars.CLIENT_ID,
      CLIENT_SECRET: vars.CLIENT_SECRET,
      COOKIE_KEYS: COOKIE_KEY,
    },
    fake: fakeStoreBindings(fs, up),
  });
});

after(async () => {
  await gate?.dispose();
  await store?.dispose();
  await fs?.close();
  await up?.close();
});

beforeEach(() => {
  fs.reset();
  up.reset();
});

describe('odd User-Agents log in through the edge to the reference store', () => {
  for (const [name, ua] of [
    ['a 2,000-byte User-Agent', LONG_UA],
    ['a User-Agent with a TAB', TAB_UA],
    ['both', BOTH_UA],
  ]) {
    test(name, async () => {
      assert.ok(ua.length > 1024 || ua.includes('\t'));
      const c = new Client(gate.url('real'), { ua });
      const res = await c.login(ALICE.username, ALICE.password);
      assert.equal(res.status, 200, `login: ${res.status} ${res.text}`);
      assert.deepEqual(Object.keys(cookiesOf(res)).sort(), ['__Host-access', '__Host-session']);
      const before = up.count;
      const api = await c.send('/api/data');
      assert.equal(api.status, 200, api.text);
      assert.equal(up.count, before + 1);
      // Transparent refresh: session authenticate carries the client attributes too.
      c.jar.delete('__Host-access');
      const refreshed = await c.send('/api/data');
      assert.equal(refreshed.status, 200, `refresh: ${refreshed.status} ${refreshed.text}`);
      assert.ok(c.access, 'a new access cookie');
      // The binding still uses the full User-Agent: a client sending what the store got
      // (cut, TAB replaced) is another client.
      const cut = c.clone({ ua: ua.replace(/\t/g, ' ').slice(0, 1024) });
      assert.equal((await cut.send('/api/data')).status, 401);
    });
  }
});

describe('what the edge sends the store', () => {
  test('client_attributes are normalised: control characters become spaces, cut to 1,024 bytes', async () => {
    const c = new Client(gate.url('fake'), { ua: BOTH_UA });
    const res = await c.login('alice', 'alice-pw', { headers: { 'CF-Connecting-IP': `203.0.113.9\t${'9'.repeat(80)}` } });
    assert.equal(res.status, 200, res.text);
    const sent = fs.calls.find((x) => x.endpoint === 'password').body.client_attributes;
    assert.equal(Buffer.byteLength(sent.user_agent), 1024);
    assert.equal(sent.user_agent, BOTH_UA.replace(/\t/g, ' ').slice(0, 1024));
    assert.ok(!/[\u0000-\u001f\u007f]/.test(sent.user_agent));
    assert.equal(Buffer.byteLength(sent.ip_address), 64);
    assert.ok(sent.ip_address.startsWith('203.0.113.9 999'), sent.ip_address);
  });
});

describe('a store validation refusal is not "wrong credentials"', () => {
  const refusal = (code) => ({
    status: 400,
    body: JSON.stringify({ message: ['client_attributes.user_agent must be shorter than or equal to 1024 characters'], error_code: code }),
  });

  for (const code of ['invalid_request', 400]) {
    test(`login answered 400 error_code=${JSON.stringify(code)}: 502, not invalid_credentials`, async () => {
      fs.fail.password = refusal(code);
      const res = await new Client(gate.url('fake')).login('alice', 'alice-pw');
      assert.equal(res.status, 502, res.text);
      assert.notEqual(res.json().error, 'invalid_credentials');
      assert.equal(res.headers['www-authenticate'], undefined);
      assertNoCookies(res);
    });
  }

  test('wrong credentials stay wrong credentials', async () => {
    const res = await new Client(gate.url('fake')).login('alice', 'not-the-password');
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'invalid_credentials');
    fs.fail.password = { status: 401, body: JSON.stringify({ message: 'Invalid credentials', error_code: 'auth_invalid_credentials' }) };
    const again = await new Client(gate.url('fake')).login('alice', 'alice-pw');
    assert.equal(again.status, 401);
    assert.equal(again.json().error, 'invalid_credentials');
  });

  test('a step-up refused with a bare 400 (a store that does not say session_not_found) is tried fresh', async () => {
    const c = new Client(gate.url('fake'), { ua: UA });
    assert.equal((await c.login('alice', 'alice-pw')).status, 200);
    fs.fail.password = { status: 400, body: JSON.stringify({ message: 'Session not found', error_code: 400 }), once: true };
    const res = await c.login('alice', 'alice-pw');
    assert.equal(res.status, 200, res.text);
    assert.equal(fs.count('password'), 3, 'first login, refused step-up, fresh login');
    assert.ok(!fs.calls.filter((x) => x.endpoint === 'password')[2].body.session_id, 'the retry is fresh');
    // A validation refusal is given as such when the fresh attempt gets it too.
    fs.fail.password = refusal('invalid_request');
    const again = await c.login('alice', 'alice-pw');
    assert.equal(again.status, 502, again.text);
    assert.notEqual(again.json().error, 'invalid_credentials');
  });

  test('a transparent refresh answered 400 invalid_request: 502, the session and its cookies stay', async () => {
    const c = new Client(gate.url('fake'), { ua: UA });
    assert.equal((await c.login('alice', 'alice-pw')).status, 200);
    const session = c.session;
    c.jar.delete('__Host-access');
    fs.fail.session = refusal('invalid_request');
    const res = await c.send('/api/data', { headers: { Accept: 'application/json' } });
    assert.equal(res.status, 502, res.text);
    assert.notEqual(res.json().error, 'session_ended');
    assertNoCookies(res, 'nothing cleared');
    assert.equal(c.session, session);
    fs.fail = {};
    assert.equal((await c.send('/api/data')).status, 200, 'the session still works');
  });
});
