// WebSocket upgrades through the edge, in workerd: forwarded after authentication (identity
// headers and the assertion set, the edge's cookies stripped, client X-Auth-* dropped) and
// echoed by the upstream; refused without a valid session or token; a cookie-carried handshake
// from another origin refused (cross-site WebSocket hijacking); the socket outlives
// UPSTREAM_TIMEOUT_MS (the deadline bounds the handshake, not the conversation). With the JS
// fake session store (tests/session/transmit-store.mjs) for the session cases, on the fast and
// the full path.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import * as H from './harness.mjs';
import { Client, UA, fakeStoreBindings, startFakeStore } from '../session/harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

/** An upstream whose every upgrade is an echo socket; it records each handshake's headers. */
async function startEchoUpstream() {
  const up = { handshakes: [] };
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"plain":true}');
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const headers = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) (headers[req.rawHeaders[i].toLowerCase()] ??= []).push(req.rawHeaders[i + 1]);
    up.handshakes.push({ url: req.url, headers });
    wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m, binary) => ws.send(binary ? m : `echo:${m}`, { binary })));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${server.address().port}`;
  up.close = () =>
    new Promise((r) => {
      for (const c of wss.clients) c.terminate();
      server.close(r);
      server.closeAllConnections();
    });
  return up;
}

/**
 * Opens a WebSocket to the edge. Resolves to { ws, status: 101 } or, when refused, to
 * { status, body } (the edge's answer). Bounded: 10 s.
 */
function open(base, path, headers = {}) {
  const url = new URL(path, base);
  url.protocol = 'ws:';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, handshakeTimeout: 10000 });
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (req, res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    ws.once('error', reject);
  });
}

/** Sends `text` and waits (5 s at most) for the next message. */
function echo(ws, text) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no echo of ${text}`)), 5000);
    ws.once('message', (m) => {
      clearTimeout(timer);
      resolve(String(m));
    });
    ws.send(text);
  });
}

const closed = (ws) => new Promise((r) => (ws.readyState === WebSocket.CLOSED ? r() : (ws.once('close', r), ws.close())));

const PATHS = ['fast', 'full'];
const key = H.genKey('ec', { kid: 'ws-ec' });
const token = (sub) => H.mint({ key, claims: { sub, sid: `sess-${sub}`, roles: ['user'], exp: H.now() + 3600 } });
const SPOOFED = { 'X-Auth-Subject': 'mallory', 'X_Auth_Roles': 'admin', 'Edge-Assertion': 'forged' };

describe('WebSocket upgrades, token gate', { skip }, () => {
  let up, jw, gate;
  before(async () => {
    up = await startEchoUpstream();
    jw = await H.startJwks();
    jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
    const base = {
      ISSUER: H.ISSUER,
      AUDIENCE: H.AUDIENCE,
      JWKS_URL: jw.url('/k'),
      UPSTREAM: up.url,
      PUBLIC_PATHS: '/pub/*',
      UPSTREAM_TIMEOUT_MS: '300',
      ASSERTION_KEY: JSON.stringify({ ...H.genKey('ec').privateKey.export({ format: 'jwk' }), kid: 'ws-assert' }),
    };
    gate = await H.startGate({ fast: base, full: { ...base, FAST_PATH: 'false' } });
  });
  after(async () => {
    await gate?.dispose();
    await jw?.close();
    await up?.close();
  });

  for (const name of PATHS) {
    test(`${name}: a Bearer token opens an echo socket that outlives the upstream deadline`, async () => {
      for (const round of [1, 2]) {
        const before = up.handshakes.length;
        const r = await open(gate.url(name), '/api/ws?room=1', { Authorization: `Bearer ${token('wendy')}`, ...SPOOFED });
        assert.equal(r.status, 101, `#${round}: ${r.status} ${r.body}`);
        assert.equal(await echo(r.ws, `hi ${round}`), `echo:hi ${round}`);
        const h = up.handshakes[before];
        assert.equal(up.handshakes.length, before + 1);
        assert.equal(h.url, '/api/ws?room=1');
        assert.deepEqual(h.headers['x-auth-subject'], ['wendy']);
        assert.deepEqual(h.headers['x-auth-session'], ['sess-wendy']);
        assert.equal(h.headers['x_auth_roles'], undefined);
        assert.equal(h.headers['edge-assertion'].length, 1);
        assert.notEqual(h.headers['edge-assertion'][0], 'forged');
        assert.deepEqual(h.headers.upgrade?.map((v) => v.toLowerCase()), ['websocket']);
        // Three times UPSTREAM_TIMEOUT_MS later, the conversation goes on.
        await H.sleep(900);
        assert.equal(await echo(r.ws, 'still there'), 'echo:still there');
        await closed(r.ws);
      }
    });

    test(`${name}: no token, or a bad one, and nothing reaches the upstream`, async () => {
      const before = up.handshakes.length;
      const none = await open(gate.url(name), '/api/ws');
      assert.equal(none.status, 401, none.body);
      assert.equal(none.headers['www-authenticate'], H.REALM);
      const bad = await open(gate.url(name), '/api/ws', { Authorization: `Bearer ${H.tamperSignature(token('wendy'))}` });
      assert.equal(bad.status, 401, bad.body);
      assert.equal(up.handshakes.length, before);
    });

    test(`${name}: a public path opens without identity`, async () => {
      const before = up.handshakes.length;
      const r = await open(gate.url(name), '/pub/ws', SPOOFED);
      assert.equal(r.status, 101);
      assert.equal(await echo(r.ws, 'x'), 'echo:x');
      const h = up.handshakes[before];
      assert.equal(h.headers['x-auth-subject'], undefined);
      assert.equal(h.headers['edge-assertion'], undefined);
      await closed(r.ws);
    });
  }
});

describe('WebSocket upgrades with a session', { skip }, () => {
  let up, fs, gate;
  before(async () => {
    up = await startEchoUpstream();
    fs = await startFakeStore();
    const configs = {};
    for (const name of PATHS) configs[name] = fakeStoreBindings(fs, up, name === 'full' ? { FAST_PATH: 'false' } : {});
    gate = await H.startGate(configs);
  });
  after(async () => {
    await gate?.dispose();
    await fs?.close();
    await up?.close();
  });

  for (const name of PATHS) {
    test(`${name}: works with a valid session, refused without one or after logout`, async () => {
      const c = new Client(gate.url(name));
      const login = await c.login('alice', 'alice-pw');
      assert.equal(login.status, 200, login.text);
      const origin = new URL(gate.url(name)).origin;
      const headers = () => ({ Cookie: `${c.cookieHeader()}; theme=dark`, 'User-Agent': UA, Origin: origin });

      for (const round of [1, 2]) {
        const before = up.handshakes.length;
        const r = await open(gate.url(name), '/api/live', headers());
        assert.equal(r.status, 101, `#${round}: ${r.status} ${r.body}`);
        assert.equal(await echo(r.ws, 'ping'), 'echo:ping');
        const h = up.handshakes[before].headers;
        assert.deepEqual(h['x-auth-subject'], [fs.subOf('alice')]);
        assert.deepEqual(h.cookie, ['theme=dark'], 'the edge cookies are stripped, the app\'s kept');
        await closed(r.ws);
      }

      const before = up.handshakes.length;
      // Cross-site WebSocket hijacking: the browser sends the cookies, the Origin is not ours.
      const foreign = await open(gate.url(name), '/api/live', { ...headers(), Origin: 'https://evil.test' });
      assert.equal(foreign.status, 403, foreign.body);
      const noCookie = await open(gate.url(name), '/api/live', { 'User-Agent': UA, Origin: origin });
      assert.equal(noCookie.status, 401, noCookie.body);
      const stolen = await open(gate.url(name), '/api/live', { ...headers(), 'User-Agent': 'other-agent/1' });
      assert.equal(stolen.status, 401, `a cookie bound to another client: ${stolen.body}`);
      const cookies = headers();
      assert.equal((await c.logout()).status, 200);
      const afterLogout = await open(gate.url(name), '/api/live', cookies);
      assert.equal(afterLogout.status, 401, afterLogout.body);
      assert.equal(up.handshakes.length, before, 'no refused handshake reached the upstream');
    });
  }
});
