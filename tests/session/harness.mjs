// Session-flow integration helpers (issue 4): a cookie-jar client for the edge, Set-Cookie
// parsing, a fake Transmit-compatible session store with counters and failure injection, and
// edge bindings for the session configuration. The edge itself is started with
// tests/edge/harness.mjs's startGate (Miniflare, direct loopback sockets, persistence off).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import http from 'node:http';
import path from 'node:path';

import {
  REPO_ROOT,
  WORKER_SCRIPT,
  ISSUER,
  AUDIENCE,
  genKey,
  mint,
  jwks,
  now,
  rid,
  request,
  sleep,
} from '../edge/harness.mjs';

export { ISSUER, AUDIENCE, now, rid, sleep };

/** A fixed, test-only cookie MAC key (32 bytes, base64url) and a second one for rotation. */
export const COOKIE_KEY = Buffer.alloc(32, 7).toString('base64url');
export const COOKIE_KEY_2 = Buffer.alloc(32, 9).toString('base64url');

export const UA = 'Mozilla/5.0 (X11; Linux x86_64) edge-session-test/1.0';
export const OTHER_UA = 'Mozilla/5.0 (Macintosh) some-other-browser/2.0';

// ---------------------------------------------------------------------------------------------
// Set-Cookie

/** Parses one Set-Cookie value into { name, value, attrs } (attribute names lowercased). */
export function parseSetCookie(s) {
  const [pair, ...rest] = s.split(';');
  const eq = pair.indexOf('=');
  const attrs = {};
  for (const a of rest) {
    const t = a.trim();
    if (!t) continue;
    const i = t.indexOf('=');
    if (i < 0) attrs[t.toLowerCase()] = true;
    else attrs[t.slice(0, i).trim().toLowerCase()] = t.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs, raw: s };
}

/** { name: parsed } of a response's Set-Cookie headers (asserts no name is set twice). */
export function cookiesOf(res) {
  const out = {};
  for (const s of res.setCookies) {
    const c = parseSetCookie(s);
    assert.ok(!(c.name in out), `cookie ${c.name} set twice: ${res.setCookies.join(' | ')}`);
    out[c.name] = c;
  }
  return out;
}

/** The session cookie's parts: v2.<nonce>.<sid>.<sub>.<minted ms>.<mac>, ids decoded. */
export function openSessionCookie(value) {
  const parts = value.split('.');
  assert.equal(parts.length, 6, `session cookie has 6 parts: ${value}`);
  assert.equal(parts[0], 'v2');
  return {
    nonce: parts[1],
    sessionId: Buffer.from(parts[2], 'base64url').toString('utf8'),
    subject: Buffer.from(parts[3], 'base64url').toString('utf8'),
    mintedMs: Number(parts[4]),
    mac: parts[5],
  };
}

// The access cookie (src/access_cookie.rs): `a1.<nonce>.<XChaCha20-Poly1305 ciphertext>`, key
// HKDF-SHA256(COOKIE_KEYS entry, no salt, info "edge-session/access-cookie/v1"), plaintext the
// minting time (8 bytes big-endian ms) and the token, associated data a label and the whole
// session cookie value. Tests use these to read what the edge set and to craft cookies the
// edge would mint (an expired token, say); the browser never sees a raw token.
const ACCESS_LABEL = Buffer.from('edge-session/access-cookie/v1');
const sealingKey = (key) =>
  new Uint8Array(crypto.hkdfSync('sha256', Buffer.from(key, 'base64url'), Buffer.alloc(0), ACCESS_LABEL, 32));

/** Seals `token` (minted at `mintedMs`) beside the session cookie value `session`. */
export function sealAccess(session, token, { mintedMs = Date.now(), key = COOKIE_KEY } = {}) {
  const nonce = crypto.randomBytes(24);
  const plain = Buffer.alloc(8 + Buffer.byteLength(token));
  plain.writeBigInt64BE(BigInt(mintedMs));
  plain.write(token, 8);
  const aad = Buffer.concat([ACCESS_LABEL, Buffer.from(session)]);
  const sealed = xchacha20poly1305(sealingKey(key), nonce, aad).encrypt(plain);
  return `a1.${nonce.toString('base64url')}.${Buffer.from(sealed).toString('base64url')}`;
}

/** Opens an access cookie value beside its session cookie value: { token, mintedMs }. */
export function openAccess(value, session, { key = COOKIE_KEY } = {}) {
  const [v, nonce, sealed] = value.split('.');
  assert.equal(v, 'a1', `access cookie format: ${value.slice(0, 12)}`);
  const aad = Buffer.concat([ACCESS_LABEL, Buffer.from(session)]);
  const plain = Buffer.from(
    xchacha20poly1305(sealingKey(key), Buffer.from(nonce, 'base64url'), aad).decrypt(Buffer.from(sealed, 'base64url')),
  );
  return { mintedMs: Number(plain.readBigInt64BE(0)), token: plain.subarray(8).toString('utf8') };
}

/** The claims of the access token inside a client's (or a response's) access cookie. */
export function accessClaims(access, session) {
  return claimsOf(openAccess(access, session).token);
}

/** Decodes a JWT's payload without verifying it. */
export const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

/** Asserts that a response cleared both edge cookies (empty value, Max-Age=0). */
export function assertCleared(res, ctx = '') {
  const c = cookiesOf(res);
  for (const name of ['__Host-access', '__Host-session']) {
    assert.ok(c[name], `${name} cleared ${ctx}: ${res.setCookies.join(' | ')}`);
    assert.equal(c[name].value, '', `${name} value emptied ${ctx}`);
    assert.equal(c[name].attrs['max-age'], '0', `${name} Max-Age=0 ${ctx}`);
    assert.equal(c[name].attrs.path, '/');
    assert.equal(c[name].attrs.secure, true);
  }
}

/** No cookie with a value was set (clearing cookies is allowed). */
export function assertNothingMinted(res, ctx = '') {
  const minted = res.setCookies.filter((s) => parseSetCookie(s).value !== '');
  assert.deepEqual(minted, [], `nothing minted ${ctx} (status ${res.status})`);
}

export function assertNoCookies(res, ctx = '') {
  assert.deepEqual(res.setCookies, [], `no Set-Cookie ${ctx} (status ${res.status} body ${res.text.slice(0, 200)})`);
}

// ---------------------------------------------------------------------------------------------
// a browser-like client of one edge worker

/**
 * A client with a cookie jar (applies Set-Cookie, Max-Age=0 deletes), a User-Agent and
 * same-origin Fetch Metadata on unsafe requests by default.
 */
export class Client {
  constructor(baseUrl, { ua = UA } = {}) {
    this.base = baseUrl;
    this.ua = ua;
    this.jar = new Map();
  }

  cookieHeader() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get access() {
    return this.jar.get('__Host-access');
  }

  get session() {
    return this.jar.get('__Host-session');
  }

  /**
   * The raw access token inside the sealed access cookie (tests use it as an API client's
   * Bearer token, as if it came from the IdP: the edge never hands a browser a raw token).
   */
  get accessToken() {
    return openAccess(this.access, this.session).token;
  }

  /** A copy of this client (same cookies), optionally with another User-Agent. */
  clone({ ua = this.ua } = {}) {
    const c = new Client(this.base, { ua });
    c.jar = new Map(this.jar);
    return c;
  }

  apply(res) {
    for (const s of res.setCookies) {
      const c = parseSetCookie(s);
      if (c.attrs['max-age'] === '0' || c.value === '') this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
  }

  /**
   * Sends a request. `site` is the Sec-Fetch-Site value (default same-origin on unsafe
   * methods, none on safe ones; null: not sent). `headers` (object) are added last.
   */
  async send(p, { method = 'GET', json, form, body, headers = {}, site, cookies = true, store = true } = {}) {
    const h = [['User-Agent', this.ua]];
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
    const fetchSite = site === undefined ? (unsafe ? 'same-origin' : undefined) : site;
    if (fetchSite) h.push(['Sec-Fetch-Site', fetchSite]);
    if (cookies && this.jar.size) h.push(['Cookie', this.cookieHeader()]);
    if (json !== undefined) {
      h.push(['Content-Type', 'application/json']);
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      h.push(['Content-Type', 'application/x-www-form-urlencoded']);
      body = new URLSearchParams(form).toString();
    }
    for (const [k, v] of Object.entries(headers)) h.push([k, v]);
    const res = await request(new URL(p, this.base), { method, headers: h, body });
    if (store) this.apply(res);
    return res;
  }

  login(username, password, opts = {}) {
    return this.send('/auth/login', { method: 'POST', json: { username, password }, ...opts });
  }

  logout(opts = {}) {
    return this.send('/auth/logout', { method: 'POST', ...opts });
  }
}

// ---------------------------------------------------------------------------------------------
// fake session store

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

export const CLIENT_ID = 'edge-test-client';
export const CLIENT_SECRET = 'edge-test-client-secret-0123456789';

/**
 * A Transmit-compatible store on 127.0.0.1 with tokens minted by node:crypto (ES256, typ
 * at+jwt, kid). State and knobs:
 *   fs.users: username → { password, sub, roles }
 *   fs.sessions: session id → { sub, amr: [...], start, expires }
 *   fs.opts: { sid: true (token carries sid), ttl: 300 (access token seconds), idToken: true,
 *              stepUpOtherUser: 'reject' | 'new-session' | 'same-session' }
 *   fs.fail[endpoint] = { delay, status, retryAfter, body, contentType, reset, once }
 *     endpoint: 'token' | 'password' | 'session' | 'logout' | 'list' | 'revokeAll' | 'jwks'
 *   fs.count(endpoint), fs.calls (every call: { endpoint, body, headers })
 */
export async function startFakeStore() {
  const key = genKey('ec', { kid: `fake-store-${rid(3)}` });
  const fs = {
    key,
    users: new Map([
      ['alice', { password: 'alice-pw', sub: 'user-alice', roles: ['admin', 'user'] }],
      ['bob', { password: 'bob-pw', sub: 'user-bob', roles: ['user'] }],
      // carol is only used by logout-all tests: a user-wide revocation refuses every token
      // issued up to its second, including a login in that same second.
      ['carol', { password: 'carol-pw', sub: 'user-carol', roles: ['user'] }],
    ]),
    sessions: new Map(),
    clientTokens: new Set(),
    opts: { sid: true, ttl: 300, idToken: true, stepUpOtherUser: 'reject' },
    fail: {},
    calls: [],
    count(endpoint) {
      return this.calls.filter((c) => c.endpoint === endpoint).length;
    },
    reset() {
      this.calls.length = 0;
      this.fail = {};
      this.opts = { sid: true, ttl: 300, idToken: true, stepUpOtherUser: 'reject' };
    },
    /** An access token for a session (what the store would issue), with claim overrides. */
    accessToken(sessionId, over = {}) {
      const s = this.sessions.get(sessionId);
      const t = now();
      return mint({
        key,
        claims: {
          sub: s.sub,
          sid: this.opts.sid ? sessionId : undefined,
          roles: this.usersBySub(s.sub)?.roles ?? [],
          client_id: CLIENT_ID,
          iat: t,
          exp: t + this.opts.ttl,
          ...over,
        },
      });
    },
    usersBySub(sub) {
      return [...this.users.values()].find((u) => u.sub === sub);
    },
  };

  const tokens = (sessionId) => {
    const s = fs.sessions.get(sessionId);
    const t = now();
    const body = {
      access_token: fs.accessToken(sessionId),
      refresh_token: `rt-${rid(16)}`,
      token_type: 'Bearer',
      expires_in: fs.opts.ttl,
      session_id: sessionId,
    };
    if (fs.opts.idToken) {
      body.id_token = mint({
        key,
        header: { typ: 'JWT' },
        claims: {
          sub: s.sub,
          aud: CLIENT_ID,
          amr: s.amr,
          sid: fs.opts.sid ? sessionId : undefined,
          iat: t,
          exp: t + fs.opts.ttl,
          roles: undefined,
          scope: undefined,
          client_id: undefined,
        },
      });
    }
    return body;
  };

  const newSession = (sub) => {
    const id = `sess-${rid(12)}`;
    const t = now();
    fs.sessions.set(id, { sub, amr: ['pwd'], start: t, expires: t + 1209600 });
    return id;
  };

  const err = (status, message, error_code) => ({ status, json: { message, error_code } });

  function handle(endpoint, req, body) {
    if (endpoint === 'jwks') return { status: 200, json: jwks(key) };
    if (endpoint === 'token') {
      const f = new URLSearchParams(body);
      if (f.get('grant_type') !== 'client_credentials' || f.get('client_id') !== CLIENT_ID || f.get('client_secret') !== CLIENT_SECRET) {
        return err(401, 'invalid client', 'invalid_client');
      }
      const ct = `ct-${rid(16)}`;
      fs.clientTokens.add(ct);
      return { status: 200, json: { access_token: ct, token_type: 'Bearer', expires_in: 3600 } };
    }
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !fs.clientTokens.has(auth.slice(7))) return err(401, 'unauthorized', 401);
    let j = {};
    if (body) {
      try {
        j = JSON.parse(body);
      } catch {
        return err(400, 'bad json', 'bad_request');
      }
    }
    switch (endpoint) {
      case 'password': {
        const u = fs.users.get(j.username);
        if (!u || u.password !== j.password) return err(401, 'invalid credentials', 'invalid_credentials');
        if (j.session_id) {
          const s = fs.sessions.get(j.session_id);
          if (s && s.sub === u.sub) {
            s.amr.push('pwd');
            return { status: 200, json: tokens(j.session_id) };
          }
          if (s && fs.opts.stepUpOtherUser === 'new-session') return { status: 200, json: tokens(newSession(u.sub)) };
          if (s && fs.opts.stepUpOtherUser === 'same-session') {
            // A broken store: another user's session id, tokens for this user.
            const id = newSession(u.sub);
            const out = tokens(id);
            out.session_id = j.session_id;
            out.access_token = fs.accessToken(id, { sid: fs.opts.sid ? j.session_id : undefined });
            return { status: 200, json: out };
          }
          return err(400, 'session not found', 'session_not_found');
        }
        return { status: 200, json: tokens(newSession(u.sub)) };
      }
      case 'session': {
        const s = fs.sessions.get(j.session_id);
        if (!s) return err(400, 'session not found', 'session_not_found');
        s.expires = now() + 1209600;
        return { status: 200, json: tokens(j.session_id) };
      }
      case 'logout': {
        if (!fs.sessions.delete(j.session_id)) return err(400, 'session not found', 'session_not_found');
        return { status: 204 };
      }
      case 'list':
      case 'revokeAll': {
        const sub = decodeURIComponent(req.url.split('/')[4]);
        const mine = [...fs.sessions].filter(([, s]) => s.sub === sub);
        if (endpoint === 'revokeAll') {
          for (const [id] of mine) fs.sessions.delete(id);
          return { status: 204 };
        }
        const iso = (t) => new Date(t * 1000).toISOString();
        return {
          status: 200,
          json: mine.map(([id, s]) => ({ session_id: id, start_time: iso(s.start), expiration_time: iso(s.expires) })),
        };
      }
      default:
        return err(404, 'not found', 'not_found');
    }
  }

  const endpointOf = (method, p) => {
    if (p === '/oidc/jwks') return 'jwks';
    if (p === '/oidc/token' && method === 'POST') return 'token';
    if (p === '/v1/auth/password/authenticate' && method === 'POST') return 'password';
    if (p === '/v1/auth/session/authenticate' && method === 'POST') return 'session';
    if (p === '/v1/auth/session/logout' && method === 'POST') return 'logout';
    if (/^\/v1\/auth\/users\/[^/]+\/sessions$/.test(p)) return method === 'DELETE' ? 'revokeAll' : 'list';
    return 'other';
  };

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const p = new URL(req.url, 'http://store.invalid').pathname;
    const endpoint = endpointOf(req.method, p);
    let parsed;
    try {
      parsed = body && req.headers['content-type']?.includes('json') ? JSON.parse(body) : body;
    } catch {
      parsed = body;
    }
    fs.calls.push({ endpoint, body: parsed, headers: req.headers, at: Date.now() });
    const f = fs.fail[endpoint];
    if (f?.once) delete fs.fail[endpoint];
    if (f?.delay) await sleep(f.delay);
    if (f?.reset) return req.socket.destroy();
    if (f && (f.status !== undefined || f.body !== undefined)) {
      const headers = { 'content-type': f.contentType ?? 'application/json' };
      if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
      res.writeHead(f.status ?? 200, headers);
      return res.end(f.body ?? JSON.stringify({ message: 'injected', error_code: f.status }));
    }
    const out = handle(endpoint, req, body);
    if (res.destroyed) return;
    res.writeHead(out.status, out.json !== undefined ? { 'content-type': 'application/json' } : {});
    res.end(out.json !== undefined ? JSON.stringify(out.json) : undefined);
  });
  server.keepAliveTimeout = 1000;
  const port = await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
  fs.url = `http://127.0.0.1:${port}`;
  fs.close = () =>
    new Promise((r) => {
      server.closeAllConnections?.();
      server.close(r);
    });
  return fs;
}

/** Edge bindings for the fake store. */
export function fakeStoreBindings(fs, up, over = {}) {
  return {
    ISSUER,
    AUDIENCE,
    JWKS_URL: `${fs.url}/oidc/jwks`,
    UPSTREAM: up.url,
    PUBLIC_PATHS: '/public/*',
    SESSION_STORE_URL: fs.url,
    CLIENT_ID,
    CLIENT_SECRET,
    COOKIE_KEYS: COOKIE_KEY,
    STORE_TIMEOUT_MS: '300',
    ...over,
  };
}

export { REPO_ROOT, WORKER_SCRIPT, path };
