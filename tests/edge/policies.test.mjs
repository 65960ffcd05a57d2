// Route policies (ROUTE_POLICIES, src/policy.rs): each rule and each refusal's status and
// challenge, on the fast and the full path. Two workers run the same rules, "fast" (the
// default) and "full" (FAST_PATH=false), both with SERVER_TIMING=true: every case sends the
// same request twice to each (the first fills the verified-token and revocation caches), then
// requires the same answer and the same upstream request from both, the second request on
// "fast" served by the fast path when it passes and by the full path when it is refused (the
// fast path never refuses). Then a browser navigation that needs a step-up (sessions on,
// against the fake store: cookies, not Bearer) gets a 303 to STEP_UP_PATH with the path to
// return to; and a bad ROUTE_POLICIES (or a step-up page behind a step-up rule) refuses to
// start, naming the key and the rule in its log line.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from './harness.mjs';
import { Client, startFakeStore, fakeStoreBindings, withAccessToken, sessionIdOf } from '../session/harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const key = H.genKey('ec', { kid: 'policy-ec' });

const POLICIES = JSON.stringify([
  { path: '/admin/*', roles_any: ['admin'], amr: ['mfa'], max_age: 900 },
  { path: '/api/reports/*', methods: ['GET'], scopes: ['reports:read'] },
  { path: '/api/reports/*', scopes: ['reports:write'] },
  { path: '/ops/*', roles_all: ['ops', 'oncall'] },
  { path: '/fresh', max_age: 60 },
  { path: '/api/*', methods: ['DELETE'], roles_any: ['admin', 'owner'] },
]);

const SCOPE = `${H.REALM}, error="insufficient_scope", error_description="The access token lacks a required role or scope"`;
const STEP_UP = `${H.REALM}, error="insufficient_user_authentication", error_description="A stronger or more recent authentication is required"`;
const ADMIN_STEP_UP = `${STEP_UP}, acr_values="mfa", max_age="900"`;

const FAST = 'edge;desc="fast"';
const FULL = 'edge;desc="full"';

const logs = [];
let up, jw, gate, fs;

before(async () => {
  if (!built) return;
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
  fs = await startFakeStore({ profile: 'sid' });
  const common = { PUBLIC_PATHS: '/public/*', SERVER_TIMING: 'true', ROUTE_POLICIES: POLICIES };
  const sessions = { ...common, STEP_UP_PATH: '/step-up', LOGIN_PATH: '/login' };
  const bad = (over) => H.baseBindings(up, jw.url('/k'), { PUBLIC_PATHS: '/public/*', ...over });
  gate = await H.startGate(
    {
      fast: H.baseBindings(up, jw.url('/k'), common),
      full: H.baseBindings(up, jw.url('/k'), { ...common, FAST_PATH: 'false' }),
      sfast: fakeStoreBindings(fs, up, sessions),
      sfull: fakeStoreBindings(fs, up, { ...sessions, FAST_PATH: 'false' }),
      badJson: bad({ ROUTE_POLICIES: '{"path": "/admin/*"}' }),
      badRule: bad({ ROUTE_POLICIES: JSON.stringify([{ path: '/a' }, { path: '/b', roles_any: [] }]) }),
      badField: bad({ ROUTE_POLICIES: JSON.stringify([{ path: '/a', role_any: ['admin'] }]) }),
      badPublic: bad({ ROUTE_POLICIES: JSON.stringify([{ path: '/public/admin', roles_any: ['admin'] }]) }),
      badStepUp: fakeStoreBindings(fs, up, { ROUTE_POLICIES: JSON.stringify([{ path: '/*', amr: ['mfa'] }]), STEP_UP_PATH: '/step-up' }),
    },
    { onLog: (l) => logs.push(l) },
  );
});
after(async () => {
  await gate?.dispose();
  await up?.close();
  await jw?.close();
  await fs?.close?.();
});

/** What a client sees, less the date, and the path marker apart. */
function answer(res) {
  const headers = { ...res.headers };
  delete headers.date;
  const served = headers['server-timing'];
  delete headers['server-timing'];
  return { status: res.status, text: res.text, headers, served };
}

/** What the upstream saw, without the per-connection details. */
function received(req) {
  if (!req) return null;
  const headers = { ...req.headers };
  for (const name of Object.keys(headers)) if (name.startsWith('cf-') || name === 'content-length') delete headers[name];
  delete headers.host;
  // The client's Host differs between the two workers (each has its own address).
  delete headers['x-forwarded-host'];
  return { method: req.method, url: req.url, headers, body: req.body };
}

/** Sends the request twice to `name`: the second answer and what the upstream got for it. */
async function twice(name, path, opts) {
  await H.call(gate, up, name, path, opts);
  const res = await H.call(gate, up, name, path, opts);
  return { res: answer(res), upstream: received(res.upstreamReq) };
}

/** The same request on both workers: identical answers, the marker as the outcome wants. */
async function onBoth(path, opts, fastName = 'fast', fullName = 'full') {
  const fast = await twice(fastName, path, opts);
  const full = await twice(fullName, path, opts);
  assert.equal(full.res.served, FULL, 'the FAST_PATH=false worker is the full path');
  const passed = Boolean(fast.upstream);
  assert.equal(fast.res.served, passed ? FAST : FULL, `${passed ? 'passed: the fast path' : 'refused: the full path'} served it`);
  const strip = (x) => ({ ...x, res: { ...x.res, served: undefined } });
  assert.deepEqual(strip(fast), strip(full));
  return fast;
}

const t = () => H.now();
const token = (claims) => H.mint({ key, claims: { sid: `sess-${H.rid(4)}`, ...claims } });
const ago = (s) => t() - s;

// [name, method, path, claims (a function: times are taken when the token is minted),
//  expected: 'pass' | [status, challenge]]
const CASES = [
  ['admin area: no admin role → 403, roles never named', 'GET', '/admin/users', () => ({ roles: ['reader'], amr: ['pwd', 'mfa'], auth_time: ago(10) }), [403, SCOPE]],
  ['admin area: admin without mfa → 401 step-up', 'GET', '/admin/users', () => ({ roles: ['admin'], amr: ['pwd'], auth_time: ago(10) }), [401, ADMIN_STEP_UP]],
  ['admin area: admin, no amr claim at all → 401', 'GET', '/admin/users', () => ({ roles: ['admin'], auth_time: ago(10) }), [401, ADMIN_STEP_UP]],
  ['admin area: admin with mfa but no auth_time → 401 (fail closed)', 'GET', '/admin/users', () => ({ roles: ['admin'], amr: ['pwd', 'mfa'] }), [401, ADMIN_STEP_UP]],
  ['admin area: admin with mfa 20 minutes ago → 401', 'GET', '/admin/users', () => ({ roles: ['admin'], amr: ['pwd', 'mfa'], auth_time: ago(1200), iat: ago(5) }), [401, ADMIN_STEP_UP]],
  ['admin area: admin with mfa 14 minutes ago → forwarded', 'GET', '/admin/users', () => ({ roles: ['admin', 'reader'], amr: ['pwd', 'mfa'], auth_time: ago(840) }), 'pass'],
  ['admin area: HEAD takes the same rule', 'HEAD', '/admin/users', () => ({ roles: ['admin'], amr: ['pwd'], auth_time: ago(10) }), [401, ADMIN_STEP_UP]],
  ['reports: GET needs reports:read (scope named)', 'GET', '/api/reports/q1', () => ({ scope: 'openid reports:write' }), [403, `${SCOPE}, scope="reports:read"`]],
  ['reports: GET with reports:read → forwarded', 'GET', '/api/reports/q1', () => ({ scope: 'openid reports:read' }), 'pass'],
  ['reports: POST falls to the next rule (first match per method)', 'POST', '/api/reports/q1', () => ({ scope: 'reports:read' }), [403, `${SCOPE}, scope="reports:write"`]],
  ['reports: POST with reports:write → forwarded', 'POST', '/api/reports/q1', () => ({ scope: 'reports:write' }), 'pass'],
  ['ops: roles_all, one of two → 403', 'GET', '/ops/deploy', () => ({ roles: ['ops'] }), [403, SCOPE]],
  ['ops: roles_all, both → forwarded', 'GET', '/ops/deploy', () => ({ roles: ['oncall', 'ops'] }), 'pass'],
  ['fresh: max_age 60, 2 minutes ago → 401 with max_age only', 'GET', '/fresh', () => ({ auth_time: ago(120) }), [401, `${STEP_UP}, max_age="60"`]],
  ['fresh: max_age 60, 20 s ago → forwarded', 'GET', '/fresh', () => ({ auth_time: ago(20) }), 'pass'],
  ['DELETE /api/*: roles_any, owner → forwarded', 'DELETE', '/api/items/7', () => ({ roles: ['owner'] }), 'pass'],
  ['DELETE /api/*: roles_any, reader → 403', 'DELETE', '/api/items/7', () => ({ roles: ['reader'] }), [403, SCOPE]],
  ['GET /api/items: no rule for GET → a valid token suffices', 'GET', '/api/items/7', () => ({ roles: [] }), 'pass'],
  ['an unmatched protected path needs only the token', 'GET', '/elsewhere', () => ({ roles: [] }), 'pass'],
];

describe('route policies: each rule and refusal, the same on the fast and the full path', { skip }, () => {
  for (const [name, method, path, claims, want] of CASES) {
    test(name, async () => {
      const fast = await onBoth(path, { method, headers: H.bearer(token(claims())) });
      if (want === 'pass') {
        assert.ok(fast.upstream, `forwarded: ${fast.res.status} ${fast.res.text}`);
        assert.equal(fast.res.status, 200);
        return;
      }
      const [status, challenge] = want;
      assert.equal(fast.upstream, null, 'never forwarded');
      assert.equal(fast.res.status, status, fast.res.text);
      assert.equal(fast.res.headers['www-authenticate'], challenge);
      if (method !== 'HEAD') {
        const body = JSON.parse(fast.res.text);
        assert.equal(body.error, status === 403 ? 'insufficient_scope' : 'insufficient_user_authentication');
      }
      assert.ok(H.cacheDirectives(fast.res.headers['cache-control']).includes('no-store'));
    });
  }

  test('the edge checks roles and scopes before the authentication: no role and no mfa is the 403', async () => {
    const fast = await onBoth('/admin/x', { headers: H.bearer(token({ roles: ['reader'], amr: ['pwd'] })) });
    assert.equal(fast.res.status, 403);
  });

  test('X-Auth-Amr carries the token\'s methods; a client-sent one (any spelling) never passes or helps', async () => {
    const tok = token({ roles: ['admin'], amr: ['pwd', 'otp', 'mfa'], auth_time: ago(30) });
    const fast = await onBoth('/admin/ok', { headers: [...H.bearer(tok), ['X-Auth-Amr', 'forged'], ['x_auth_amr', 'forged']] });
    assert.equal(fast.upstream.headers['x-auth-amr']?.join(), 'pwd,otp,mfa');
    assert.equal(fast.upstream.headers['x_auth_amr'], undefined);
    assert.equal(fast.upstream.headers['x-auth-roles']?.join(), 'admin');
    // A token without amr: no header at all, whatever the client sends.
    const plain = await onBoth('/elsewhere/amr', { headers: [...H.bearer(token({})), ['X-Auth-Amr', 'mfa']] });
    assert.equal(plain.upstream.headers['x-auth-amr'], undefined);
    // A forged header does not satisfy the rule either.
    const forged = await onBoth('/admin/x', { headers: [...H.bearer(token({ roles: ['admin'], amr: ['pwd'], auth_time: ago(5) })), ['X-Auth-Amr', 'mfa']] });
    assert.equal(forged.res.status, 401);
  });

  test('a method a token cannot carry in X-Auth-Amr (a comma) refuses the request', async () => {
    const fast = await onBoth('/elsewhere/comma', { headers: H.bearer(token({ amr: ['pwd,mfa'] })) });
    assert.equal(fast.res.status, 401);
    assert.equal(fast.upstream, null);
  });

  test('a public path needs no token and no rule', async () => {
    const res = await H.call(gate, up, 'fast', '/public/admin', {});
    H.assertForwarded(res);
  });

  test('without sessions, a navigation that needs a step-up gets the 401 (there is no step-up page)', async () => {
    const tok = token({ roles: ['admin'], amr: ['pwd'], auth_time: ago(5) });
    const res = await H.call(gate, up, 'full', '/admin/x', { headers: [...H.bearer(tok), ['Sec-Fetch-Mode', 'navigate']] });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], ADMIN_STEP_UP);
  });
});

describe('a browser navigation that needs a step-up: 303 to STEP_UP_PATH', { skip }, () => {
  const NAV = { 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Site': 'same-origin', Accept: 'text/html' };

  /** Alice (roles admin, user) logged in on `name`, her access cookie holding a store token with `over`. */
  async function alice(name, over) {
    const c = new Client(gate.url(name));
    const res = await c.login('alice', 'alice-pw');
    assert.equal(res.status, 200, res.text);
    return withAccessToken(c, fs.accessToken(sessionIdOf(c), over));
  }

  for (const name of ['sfast', 'sfull']) {
    test(`${name}: a password-only session is sent to the step-up page with the path to return to; the session stays`, async () => {
      const c = await alice(name, { amr: ['pwd'], auth_time: ago(10) });
      for (let i = 0; i < 2; i++) {
        const before = up.count;
        const res = await c.send('/admin/users?tab=2&q=a+b', { headers: NAV, store: false });
        assert.equal(res.status, 303, res.text);
        assert.equal(res.headers.location, '/step-up?return_to=%2Fadmin%2Fusers%3Ftab%3D2%26q%3Da%2Bb');
        assert.deepEqual(res.setCookies, [], 'no cookie cleared or set');
        assert.equal(res.headers['server-timing'], FULL, 'a refusal is the full path\'s');
        assert.equal(up.count, before, 'not forwarded');
      }
      // The same request from script (no navigation): the 401 and its challenge.
      const res = await c.send('/admin/users', { store: false });
      assert.equal(res.status, 401);
      assert.equal(res.headers['www-authenticate'], ADMIN_STEP_UP);
      // A navigation without any session still goes to the login page.
      const anon = await new Client(gate.url(name)).send('/admin/users', { headers: NAV });
      assert.equal(anon.status, 303);
      assert.equal(anon.headers.location, '/login');
    });

    test(`${name}: once stepped up (mfa, recent), the navigation is forwarded with X-Auth-Amr`, async () => {
      const c = await alice(name, { amr: ['pwd', 'otp', 'mfa'], auth_time: ago(10) });
      const first = await c.send('/admin/users', { headers: NAV, store: false });
      const before = up.count;
      const second = await c.send('/admin/users', { headers: NAV, store: false });
      assert.equal(first.status, 200, first.text);
      assert.equal(second.status, 200, second.text);
      assert.equal(up.count, before + 1);
      assert.equal(up.last.header('x-auth-amr'), 'pwd,otp,mfa');
      assert.equal(second.headers['server-timing'], name === 'sfast' ? FAST : FULL);
    });

    test(`${name}: a role refusal of a navigation is a 403, never a redirect`, async () => {
      const c = new Client(gate.url(name));
      assert.equal((await c.login('bob', 'bob-pw')).status, 200);
      const res = await c.send('/admin/users', { headers: NAV, store: false });
      assert.equal(res.status, 403);
      assert.equal(res.headers['www-authenticate'], SCOPE);
      assert.equal(res.headers.location, undefined);
    });
  }

  test('a target that is no plain local path is not carried back', async () => {
    const c = await alice('sfull', { amr: ['pwd'], auth_time: ago(10) });
    // `//admin` would read as another host if a page sent the user "back" there.
    const res = await H.rawRequest(gate.url('sfull'), {
      target: '/admin//evil.test/x',
      headers: [['Cookie', c.cookieHeader()], ['User-Agent', c.ua], ['Sec-Fetch-Mode', 'navigate']],
    });
    assert.equal(res.status, 303, res.text);
    assert.equal(res.headers.location, '/step-up');
  });
});

describe('a bad ROUTE_POLICIES refuses to start', { skip }, () => {
  /** The config log line of a worker (the first request logs it). */
  async function configLine(key) {
    for (let i = 0; i < 50; i++) {
      for (const l of logs) {
        try {
          const v = JSON.parse(l);
          if (v.phase === 'config' && v.key === key) return v;
        } catch {
          /* not a log line */
        }
      }
      await H.sleep(20);
    }
    return null;
  }

  for (const [name, key, problem] of [
    ['badJson', 'ROUTE_POLICIES', /JSON array/],
    ['badRule', 'ROUTE_POLICIES', /^rule 2: roles_any/],
    ['badField', 'ROUTE_POLICIES', /^rule 1: unknown field `role_any`/],
    ['badPublic', 'ROUTE_POLICIES', /^rule 1: .*PUBLIC_PATHS/],
    ['badStepUp', 'STEP_UP_PATH', /rule 1/],
  ]) {
    test(`${name}: 500 for every request, nothing forwarded, the log names ${key}`, async () => {
      for (const [path, headers] of [['/public/x', []], ['/api/x', H.bearer(token({}))], ['/admin/x', []]]) {
        const res = await H.call(gate, up, name, path, { headers });
        assert.equal(res.status, 500, `${path}: ${res.text}`);
        assert.equal(res.forwarded, false);
        assert.ok(!res.text.includes(key), 'the body stays generic');
      }
      const line = await configLine(key);
      assert.ok(line, `a config log line for ${key}`);
      // The log lines of several workers interleave: one of them names this problem.
      const lines = logs.map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter((v) => v?.phase === 'config' && v.key === key);
      assert.ok(lines.some((v) => problem.test(v.problem)), `${key}: ${lines.map((v) => v.problem).join(' | ')}`);
    });
  }
});
