// Session-flow integration helpers: a cookie-jar client for the edge, Set-Cookie
// parsing, the fake session store (transmit-store.mjs) and edge bindings for the session
// configuration. The edge itself is started with tests/edge/harness.mjs's startGate (Miniflare,
// direct loopback sockets, persistence off).
//
// Cookie formats live here only: every test that needs to look into an edge cookie, build one,
// or turn a raw token into one goes through openSessionCookie / sessionIdOf /
// forgedSessionCookies / sealAccess / openAccess / withAccessToken / tokenInAccessCookie /
// mixedCookieHeader, so a change of format touches this file. Tests assert identity through what the upstream received
// (X-Auth-*) or GET /auth/session, and take raw tokens from the store, not from cookies.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import path from 'node:path';

import { REPO_ROOT, WORKER_SCRIPT, ISSUER, AUDIENCE, now, rid, request, sleep } from '../edge/harness.mjs';
import { run as scan } from '../log-scan.mjs';
import { startTransmitStore, CLIENT_ID, CLIENT_SECRET } from './transmit-store.mjs';

export { ISSUER, AUDIENCE, now, rid, sleep, startTransmitStore, CLIENT_ID, CLIENT_SECRET };

export const ACCESS_COOKIE = '__Host-access';
export const SESSION_COOKIE = '__Host-session';

/** A fixed, test-only cookie MAC key (32 bytes, base64url) and a second one for rotation. */
export const COOKIE_KEY = Buffer.alloc(32, 7).toString('base64url');
export const COOKIE_KEY_2 = Buffer.alloc(32, 9).toString('base64url');
scan.secret(COOKIE_KEY, 'COOKIE_KEY');
scan.secret(COOKIE_KEY_2, 'COOKIE_KEY_2');

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

/** The session id a client's session cookie names. */
export const sessionIdOf = (client) => openSessionCookie(client.session).sessionId;

/**
 * Forged variants of a valid session cookie value: another session id, another subject
 * (`otherSubject`), another minting time, each with the original MAC, and the MAC cut off.
 */
export function forgedSessionCookies(value, otherSubject) {
  const p = value.split('.');
  const other = Buffer.from('s1.0000.forged').toString('base64url');
  const with_ = (i, v) => p.map((x, j) => (j === i ? v : x)).join('.');
  return [
    with_(2, other),
    with_(3, Buffer.from(otherSubject).toString('base64url')),
    with_(4, String(Number(p[4]) + 60_000)),
    p.slice(0, -1).join('.'),
  ];
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
  const value = `a1.${nonce.toString('base64url')}.${Buffer.from(sealed).toString('base64url')}`;
  scan.secret(value, 'sealed access cookie');
  return value;
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

/**
 * A copy of `client` whose access cookie holds `token` (a raw token from the store) sealed, as
 * the edge would, beside the client's own session cookie, minted at `mintedMs`.
 */
export function withAccessToken(client, token, { mintedMs = Date.now(), key } = {}) {
  const c = client.clone();
  c.jar.set(ACCESS_COOKIE, sealAccess(c.session, token, { mintedMs, key }));
  return c;
}

/** The token inside an access cookie value set beside the session cookie value `session`. */
export const tokenInAccessCookie = (value, session) => openAccess(value, session).token;

/** A Cookie header with one client's access cookie and another's session cookie. */
export const mixedCookieHeader = (accessFrom, sessionFrom) =>
  `${ACCESS_COOKIE}=${accessFrom.access}; ${SESSION_COOKIE}=${sessionFrom.session}`;

/** The short session handle the edge shows (GET /auth/session, /auth/sessions). */
export const shortId = (sid) => crypto.createHash('sha256').update(sid).digest('hex').slice(0, 16);

/** Decodes a JWT's payload without verifying it (raw tokens from the store, never cookies). */
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
    return this.jar.get(ACCESS_COOKIE);
  }

  get session() {
    return this.jar.get(SESSION_COOKIE);
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

/**
 * The helpers of a session-flow suite, over `ctx.gate` and `ctx.up` (set in the suite's
 * `before`): client(name, opts); loggedIn(user, { name, ua }) → { c, res, sid };
 * api(c, path, opts) → the response with `forwarded` and `upstreamReq`; whoami(c) → the JSON
 * of GET /auth/session sent with a copy of `c` (asserts 200).
 */
export function flows(ctx) {
  const client = (name = 'main', opts) => new Client(ctx.gate.url(name), opts);
  return {
    client,
    async loggedIn(user, { name = 'main', ua = UA } = {}) {
      const c = client(name, { ua });
      const res = await c.login(user.username, user.password);
      assert.equal(res.status, 200, `login ${user.username}: ${res.text}`);
      return { c, res, sid: sessionIdOf(c) };
    },
    async api(c, p = '/api/data', opts = {}) {
      const before = ctx.up.count;
      const res = await c.send(p, opts);
      res.forwarded = ctx.up.count > before;
      res.upstreamReq = res.forwarded ? ctx.up.last : undefined;
      return res;
    },
    async whoami(c) {
      const res = await c.clone().send('/auth/session');
      assert.equal(res.status, 200, `GET /auth/session: ${res.status} ${res.text}`);
      return res.json();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// fake session store (tests/session/transmit-store.mjs)

/**
 * The fake store in its `sid` profile (the reference store's token shape: ES256, `typ: at+jwt`,
 * a `sid` claim, user ids `user-<name>`); `startFakeStore({ profile: 'transmit' })` or
 * `startTransmitStore()` for Transmit's shape. See transmit-store.mjs for the knobs.
 */
export function startFakeStore({ profile = 'sid' } = {}) {
  return startTransmitStore({ profile });
}

/**
 * Edge bindings for a fake store of either profile. Transmit's tokens carry `typ: JWT`, so the
 * edge accepts that `typ` (README: `ACCEPTED_TYP`); its issuer and audience are Transmit's.
 */
export function fakeStoreBindings(fs, up, over = {}) {
  return {
    ISSUER: fs.issuer,
    AUDIENCE: fs.audience,
    ...(fs.profile === 'transmit' ? { ACCEPTED_TYP: 'JWT' } : {}),
    JWKS_URL: fs.jwksUrl,
    UPSTREAM: up.url,
    PUBLIC_PATHS: '/public/*',
    SESSION_STORE_URL: fs.baseUrl,
    CLIENT_ID,
    CLIENT_SECRET,
    COOKIE_KEYS: COOKIE_KEY,
    STORE_TIMEOUT_MS: '1000',
    ...over,
  };
}

export { REPO_ROOT, WORKER_SCRIPT, path };

// ---------------------------------------------------------------------------------------------
// the revocation webhook (POST /auth/revocations)

/** A test-only webhook secret (≥ 32 bytes). */
export const WEBHOOK_SECRET = 'test-only-revocation-webhook-secret-0123456789';

/**
 * The `Edge-Signature` header a backend sends: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>" under the secret>` (README, "The revocation webhook").
 */
export function webhookSignature(body, { t = now(), secret = WEBHOOK_SECRET } = {}) {
  const mac = crypto.createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${mac}`;
}
