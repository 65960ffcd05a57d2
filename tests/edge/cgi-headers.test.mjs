// Identity headers spelled with underscores. CGI, WSGI and Rack read `-` and
// `_` alike: behind the edge, Python's stdlib wsgiref server turns `X_Auth_Roles: admin` into
// HTTP_X_AUTH_ROLES, the variable the app reads for the edge's `X-Auth-Roles`. The requests are
// raw bytes on workerd's socket; the app echoes every HTTP_X_AUTH_* it got. On a public path
// none may arrive; on a protected one exactly the edge's own. Both paths (fast, full).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import * as H from './harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const key = H.genKey('ec', { kid: 'cgi-ec' });
let jw, gate, app, token;

/** Starts the wsgiref app; resolves to { url, stop() } once it printed its port (10 s bound). */
function startWsgi() {
  const child = spawn('python3', [path.join(H.REPO_ROOT, 'tests/edge/fixtures/wsgi_echo.py')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('wsgi_echo.py did not start within 10 s'));
    }, 10000);
    child.stdout.once('data', (d) => {
      clearTimeout(timer);
      resolve({
        url: `http://127.0.0.1:${String(d).trim()}`,
        stop: () => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', r), child.kill()))),
      });
    });
    child.once('error', reject);
  });
}

before(async () => {
  if (!built) return;
  app = await startWsgi();
  jw = await H.startJwks();
  jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
  const bindings = { ISSUER: H.ISSUER, AUDIENCE: H.AUDIENCE, JWKS_URL: jw.url('/k'), UPSTREAM: app.url, PUBLIC_PATHS: '/pub/*' };
  gate = await H.startGate({ fast: bindings, full: { ...bindings, FAST_PATH: 'false' } });
  token = H.mint({ key, claims: { sub: 'user-bob', roles: ['user'], sid: 'sess-bob', client_id: 'web', amr: ['pwd'], exp: H.now() + 3600 } });
});
after(async () => {
  await gate?.dispose();
  await jw?.close();
  await app?.stop();
});

const SPOOFED = [
  ['X_Auth_Subject', 'user-alice'],
  ['X_Auth_Roles', 'admin'],
  ['x_auth-session', 'sess-alice'],
  ['X-AUTH_CLIENT', 'evil'],
  ['x_AUTH_scope', 'admin:all'],
  ['X_Auth_Amr', 'mfa'],
  ['X_Auth_Anything', 'x'],
];

async function echo(name, target, headers) {
  const res = await H.rawRequest(gate.url(name), { target, headers });
  assert.equal(res.status, 200, `${name} ${target}: ${res.status} ${res.text.slice(0, 200)}`);
  return res.json();
}

describe('identity headers spelled with underscores never reach a CGI-style app', { skip }, () => {
  for (const name of ['fast', 'full']) {
    test(`${name}: public path, no token: no HTTP_X_AUTH_* at all`, async () => {
      for (const round of [1, 2]) {
        const got = await echo(name, '/pub/x', SPOOFED);
        assert.deepEqual(got.auth, {}, `#${round}: the app saw ${JSON.stringify(got.auth)}`);
      }
    });

    test(`${name}: protected path with bob's token: exactly the edge's identity`, async () => {
      for (const round of [1, 2]) {
        const got = await echo(name, '/api/me', [['Authorization', `Bearer ${token}`], ...SPOOFED]);
        assert.deepEqual(
          got.auth,
          {
            HTTP_X_AUTH_SUBJECT: 'user-bob',
            HTTP_X_AUTH_SESSION: 'sess-bob',
            HTTP_X_AUTH_ROLES: 'user',
            HTTP_X_AUTH_CLIENT: 'web',
            HTTP_X_AUTH_SCOPE: 'openid profile',
            HTTP_X_AUTH_AMR: 'pwd',
          },
          `#${round}`,
        );
      }
    });
  }

  test('the app does map `_` to `-` (the test can fail)', async () => {
    // Straight to the app, not through the edge: the spoofed names become identity variables.
    const res = await H.rawRequest(app.url, { target: '/pub/x', headers: SPOOFED });
    const got = res.json().auth;
    assert.equal(got.HTTP_X_AUTH_SUBJECT, 'user-alice');
    assert.equal(got.HTTP_X_AUTH_ROLES, 'admin');
  });
});
