// Login throttling (README "Login throttling", src/throttle.rs), end to end, once per session
// store (tests/session/stores.mjs). The edge reaches the store through a counting proxy, so
// every test can say exactly how many password checks the store was asked for: a throttled
// login must make none. Counters are per edge worker (each configuration below has its own
// Durable Object namespace) and per username, so each test uses usernames of its own.
//
// Hostile inputs (odd CF-Connecting-IP values, huge usernames) go as raw bytes on a socket.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { startGate, startUpstream, rawRequest, cacheDirectives } from '../edge/harness.mjs';
import { Client, UA, assertNothingMinted } from './harness.mjs';
import { STORES } from './stores.mjs';

const PASSWORD_PATH = '/v1/auth/password/authenticate';
const WINDOW = 900;

/**
 * A reverse proxy on loopback in front of `target` (an origin, with its base path if any) that
 * counts the requests per path suffix. { url, passwordCalls(), close() }.
 */
async function countingProxy(target) {
  const base = new URL(target);
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const headers = { ...req.headers, host: base.host };
      const out = http.request(
        { host: base.hostname, port: base.port, method: req.method, path: req.url, headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      out.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    url: `${origin}${base.pathname.replace(/\/$/, '')}`,
    passwordCalls: () => seen.filter((u) => u.endsWith(PASSWORD_PATH)).length,
    close: () =>
      new Promise((r) => {
        server.close(r);
        server.closeAllConnections();
      }),
  };
}

/** The answer of a throttled login: 429, Retry-After within the window, the generic body. */
function assertThrottled(res, ctx = '') {
  assert.equal(res.status, 429, `${ctx}: ${res.text}`);
  const after = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(after) && after >= 1 && after <= WINDOW, `${ctx}: Retry-After ${res.headers['retry-after']}`);
  assert.deepEqual(JSON.parse(res.text), { error: 'too_many_requests', message: 'Too many sign-in attempts; retry later.' }, ctx);
  assert.ok(cacheDirectives(res.headers['cache-control']).includes('no-store'), ctx);
  assert.equal(res.headers['www-authenticate'], undefined, ctx);
}

for (const kind of STORES) {
  describe(kind.name, () => {
    let store;
    let proxy;
    let up;
    let gate;
    // Users of this file only: each test locks its own (the store counts per username across
    // the edge workers, the edge per worker).
    const names = ['thr-a', 'thr-b', 'thr-c', 'thr-d', 'thr-e', 'thr-f', 'thr-g', 'thr-h'];
    let users;

    before(async () => {
      store = await kind.start({ extraUsers: names });
      users = store.users;
      up = await startUpstream();
      const direct = store.bindings(up);
      proxy = await countingProxy(direct.SESSION_STORE_URL);
      const via = (over = {}) => store.bindings(up, { SESSION_STORE_URL: proxy.url, ...over });
      gate = await startGate({
        // Defaults: 5 per username, 50 per address, 15 minutes.
        main: via(),
        ip: via({ LOGIN_FAILURES_PER_IP: '3' }),
        // Above the reference store's own limit (10 per user), so the store's answer shows.
        loose: via({ LOGIN_FAILURES_PER_USER: '30' }),
      });
    });

    after(async () => {
      await gate?.dispose();
      await proxy?.close();
      await store?.close();
      await up?.close();
    });

    const login = (name, username, password, ip) =>
      new Client(gate.url(name)).login(username, password, ip ? { headers: { 'CF-Connecting-IP': ip } } : {});

    /** `n` wrong passwords for `username` on worker `name`: each a 401 after one store call. */
    async function failures(name, username, n, ip) {
      const answers = [];
      for (let i = 1; i <= n; i++) {
        const calls = proxy.passwordCalls();
        const res = await login(name, username, 'not-the-password', ip);
        assert.equal(res.status, 401, `${username} attempt ${i}: ${res.text}`);
        assert.equal(proxy.passwordCalls(), calls + 1, `${username} attempt ${i}: one store call`);
        answers.push([res.status, res.text, res.headers['retry-after']]);
      }
      return answers;
    }

    test('the 6th wrong password for one username gets 429 with Retry-After and makes no store call', async () => {
      const user = users['thr-a'];
      await failures('main', user.username, 5);
      const calls = proxy.passwordCalls();
      const sixth = await login('main', user.username, 'not-the-password');
      assertThrottled(sixth, '6th');
      assertNothingMinted(sixth, '6th');
      // The right password is refused the same way while the window runs: no guess reaches
      // the store, a right one no more than a wrong one.
      const right = await login('main', user.username, user.password);
      assertThrottled(right, 'the right password');
      assertNothingMinted(right, 'the right password');
      // Another spelling of the same name shares its counter.
      assertThrottled(await login('main', ` ${user.username.toUpperCase()} `, 'x'), 'the name in capitals');
      assert.equal(proxy.passwordCalls(), calls, 'no store call once throttled');
      // Another user is not affected.
      const other = await login('main', users['thr-f'].username, users['thr-f'].password);
      assert.equal(other.status, 200, other.text);
    });

    test('an unknown username behaves the same: counted, 429 on the 6th, no store call', async () => {
      const known = users['thr-b'].username;
      const unknown = `nobody-${kind.id}`;
      const knownAnswers = await failures('main', known, 5);
      const unknownAnswers = await failures('main', unknown, 5);
      assert.deepEqual(unknownAnswers, knownAnswers, 'the same five answers');
      const calls = proxy.passwordCalls();
      const a = await login('main', known, 'x');
      const b = await login('main', unknown, 'x');
      assertThrottled(a, 'known');
      assertThrottled(b, 'unknown');
      assert.equal(b.text, a.text);
      assert.deepEqual(Object.keys(b.headers).sort(), Object.keys(a.headers).sort());
      assert.equal(proxy.passwordCalls(), calls, 'no store call for either');
    });

    test('a success resets the username count', async () => {
      const user = users['thr-c'];
      await failures('main', user.username, 4);
      const ok = await login('main', user.username, user.password);
      assert.equal(ok.status, 200, ok.text);
      // Five wrong passwords again, each reaching the store; the sixth does not.
      await failures('main', user.username, 5);
      const calls = proxy.passwordCalls();
      assertThrottled(await login('main', user.username, 'x'), 'after the reset');
      assert.equal(proxy.passwordCalls(), calls);
    });

    test('the per-address limit: failures for any usernames from one address, then 429 with no store call', async () => {
      const ip = '203.0.113.9';
      // A success from the address does not count against it.
      assert.equal((await login('ip', users['thr-f'].username, users['thr-f'].password, ip)).status, 200);
      await failures('ip', users['thr-d'].username, 1, ip);
      await failures('ip', `ghost-${kind.id}`, 1, ip);
      await failures('ip', users['thr-e'].username, 1, ip);
      const calls = proxy.passwordCalls();
      assertThrottled(await login('ip', users['thr-f'].username, users['thr-f'].password, ip), 'a fourth username');
      assert.equal(proxy.passwordCalls(), calls, 'no store call');
      // Another address is not affected, and the refused username kept no count.
      const other = await login('ip', users['thr-f'].username, users['thr-f'].password, '203.0.113.10');
      assert.equal(other.status, 200, other.text);
    });

    test('IPv6: one /64 is one address', async () => {
      for (const ip of ['2001:db8:aa:1::1', '2001:db8:aa:1::2', '2001:db8:aa:1:ffff::3']) {
        await failures('ip', `v6-${ip}`, 1, ip);
      }
      assertThrottled(await login('ip', 'v6-next', 'x', '2001:db8:aa:1::99'), 'same /64');
      await failures('ip', 'v6-other', 1, '2001:db8:aa:2::1');
    });

    test('odd CF-Connecting-IP values, sent as raw bytes: answered, never a 500, and all one counter', async () => {
      const body = JSON.stringify({ username: 'odd-ip', password: 'x' });
      const send = (ip) =>
        rawRequest(gate.url('ip'), {
          method: 'POST',
          target: '/auth/login',
          headers: [
            ['Content-Type', 'application/json'],
            ['Sec-Fetch-Site', 'same-origin'],
            ['User-Agent', UA],
            ['CF-Connecting-IP', ip],
          ],
          body,
        });
      // Three spellings that are not one address: each a wrong password, all one counter.
      const odd = ['203.0.113.1, 198.51.100.2', '\xff\xfe1.2.3.4', `${'9'.repeat(8000)}`];
      for (const ip of odd) {
        const calls = proxy.passwordCalls();
        const r = await send(ip);
        assert.equal(r.status, 401, `${JSON.stringify(ip.slice(0, 40))}: ${r.status} ${r.text}`);
        assert.equal(proxy.passwordCalls(), calls + 1);
      }
      const calls = proxy.passwordCalls();
      for (const ip of ['[2001:db8::1]', '1.2.3.4:443', 'unknown']) {
        const r = await send(ip);
        assert.equal(r.status, 429, `${ip}: ${r.status} ${r.text}`);
      }
      assert.equal(proxy.passwordCalls(), calls, 'no store call');
    });

    test('huge and odd usernames, sent as raw bytes: over the bound 400 before any count, within it counted', async () => {
      const send = (username) =>
        rawRequest(gate.url('main'), {
          method: 'POST',
          target: '/auth/login',
          headers: [
            ['Content-Type', 'application/json'],
            ['Sec-Fetch-Site', 'same-origin'],
            ['User-Agent', UA],
          ],
          body: JSON.stringify({ username, password: 'x' }),
        });
      const calls = proxy.passwordCalls();
      for (const username of ['u'.repeat(257), 'u'.repeat(6000)]) {
        const r = await send(username);
        assert.equal(r.status, 400, `${username.length} bytes: ${r.text}`);
      }
      assert.equal(proxy.passwordCalls(), calls, 'refused before the store and before any count');
      // The longest accepted name and a non-ASCII one with a right-to-left mark: counted like any.
      for (const username of ['u'.repeat(256), `odd\u202e\u540d\u524d-${kind.id}`]) {
        for (let i = 1; i <= 5; i++) {
          const before = proxy.passwordCalls();
          const r = await send(username);
          assert.equal(r.status, 401, `${username.length} chars, attempt ${i}: ${r.status} ${r.text}`);
          assert.equal(proxy.passwordCalls(), before + 1);
        }
        const before = proxy.passwordCalls();
        const r = await send(username);
        assert.equal(r.status, 429, `${username.length} chars, 6th: ${r.status} ${r.text}`);
        assert.equal(proxy.passwordCalls(), before, 'no store call');
      }
    });

    // Found by the load harness (load/run.mjs --scenario store_429): a store answering 429 to
    // logins while busy locked every user who retried five times out at the edge for the whole
    // window, though no password of theirs was ever judged.
    test("a store's 429s never count against the username: the right password works once the store answers", async () => {
      const user = users['thr-h'];
      if (!store.fake) return; // the reference store answers 429 only past its own limit of failures
      store.fake.fail.password = { status: 429, retryAfter: '1', body: JSON.stringify({ message: 'Too many requests', error_code: 429 }) };
      try {
        for (let i = 1; i <= 6; i++) {
          const r = await login('main', user.username, user.password);
          assert.equal(r.status, 429, `attempt ${i} while the store answers 429: ${r.text}`);
        }
      } finally {
        delete store.fake.fail.password;
      }
      const r = await login('main', user.username, user.password);
      assert.equal(r.status, 200, `the right password once the store answers again: ${r.status} ${r.text}`);
    });

    test("the store's own limit of password attempts (a 429) is the edge's 429", async () => {
      const user = users['thr-g'];
      if (store.fake) {
        // The fakes answer as Transmit documents its errors, with a 429 and Retry-After.
        store.fake.fail.password = { status: 429, retryAfter: '42', body: JSON.stringify({ message: 'Too many attempts', error_code: 429 }), once: true };
        const r = await login('loose', user.username, 'x');
        assertThrottled(r, 'the store refused');
        assert.equal(r.headers['retry-after'], '42');
        return;
      }
      // The reference store counts 10 failures per username per 15 minutes itself.
      await failures('loose', user.username, 10);
      const calls = proxy.passwordCalls();
      const r = await login('loose', user.username, user.password);
      assertThrottled(r, 'the reference store refused');
      assert.equal(proxy.passwordCalls(), calls + 1, 'the edge let it through; the store refused');
      const direct = await store.direct.login(user);
      assert.equal(direct.status, 429, `the store's own answer: ${direct.text}`);
      assert.ok(Number(direct.headers?.['retry-after'] ?? 1) >= 1);
    });
  });
}
