// Integration-test harness for the edge gate (node:test + Miniflare 4, loopback only).
//
// Pieces:
//   - keys / mint / raw token builders (node:crypto only)
//   - startUpstream(): fake application origin that records every request
//   - startJwks(): fake JWKS server; one key set, counter and failure mode per path
//   - startGate(): Miniflare running build/worker/shim.mjs (one or several configurations, each a
//     separate worker with its own direct loopback socket), plus a raw HTTP client that can send
//     repeated header lines exactly as given.
//
// Miniflare 4 option names are checked against node_modules/miniflare/dist/src/index.d.ts
// (4.20260426.0): modules, scriptPath, modulesRules, compatibilityDate, bindings, kvNamespaces,
// unsafeDirectSockets + unsafeGetDirectURL(name), cf, durableObjects (the login counters).
// Persistence is off by default (kvPersist unset = in-memory; durableObjectsPersist: false). Outbound fetch from workerd to http://127.0.0.1:<port> works without any
// option (no outboundService needed); tests/edge/harness.test.mjs proves it with a stub worker.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { run as scan, captureOptions, secretsOfBindings, secretsOfRequest, secretsOfResponse } from '../log-scan.mjs';

process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * The repository's one compatibility date (wrangler.toml; session-store/ and demo/ use the same,
 * scripts/deploy.sh --dry-run checks it): every worker the tests start runs at it, as deployed.
 */
export const COMPATIBILITY_DATE = (() => {
  const toml = fs.readFileSync(path.join(REPO_ROOT, 'wrangler.toml'), 'utf8');
  const m = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml);
  if (!m) throw new Error('wrangler.toml: no compatibility_date');
  return m[1];
})();
export const WORKER_SCRIPT = process.env.EDGE_WORKER_SCRIPT
  ? path.resolve(process.env.EDGE_WORKER_SCRIPT)
  : path.join(REPO_ROOT, 'build/worker/shim.mjs');
export const STUB_SCRIPT = path.join(REPO_ROOT, 'tests/edge/fixtures/stub-worker.mjs');
export const ISSUER = 'https://idp.test.example';
export const AUDIENCE = 'edge-api';
export const REALM = 'Bearer realm="edge-session"';

export const workerBuilt = () => fs.existsSync(WORKER_SCRIPT);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => Math.floor(Date.now() / 1000);
export const rid = (n = 8) => crypto.randomBytes(n).toString('hex');

// ---------------------------------------------------------------------------------------------
// base64url / keys / tokens

export const b64u = (buf) => Buffer.from(buf).toString('base64url');
export const b64uJson = (obj) => b64u(Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj)));

const ALG_OF = { ec: 'ES256', rsa: 'RS256', ed: 'EdDSA', ps: 'PS256' };

/** Generates a signing key. kind: 'ec' (P-256), 'rsa' (RSA 2048 or `bits`), 'ed' (Ed25519), 'ps'. */
export function genKey(kind, { kid = `${kind}-${rid(4)}`, alg = ALG_OF[kind], bits = 2048 } = {}) {
  let pair;
  if (kind === 'ec') pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  else if (kind === 'rsa' || kind === 'ps') pair = crypto.generateKeyPairSync('rsa', { modulusLength: bits });
  else if (kind === 'ed') pair = crypto.generateKeyPairSync('ed25519');
  else throw new Error(`unknown key kind ${kind}`);
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  scan.privateJwk(pair.privateKey.export({ format: 'jwk' }), `private key ${kid}`);
  return { kind, kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

/** Signs `input` (string) for a JWS alg with a node KeyObject. */
export function signJws(alg, privateKey, input) {
  const data = Buffer.from(input);
  switch (alg) {
    case 'ES256':
      return crypto.sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    case 'RS256':
      return crypto.sign('sha256', data, privateKey);
    case 'PS256':
      return crypto.sign('sha256', data, {
        key: privateKey,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    case 'EdDSA':
    case 'Ed25519':
      return crypto.sign(null, data, privateKey);
    default:
      throw new Error(`signJws: unsupported alg ${alg}`);
  }
}

export function defaultClaims(over = {}) {
  const t = now();
  return {
    iss: ISSUER,
    sub: 'user-123',
    aud: AUDIENCE,
    exp: t + 300,
    iat: t - 5,
    jti: rid(),
    client_id: 'client-abc',
    sid: 'sess-456',
    roles: ['reader', 'writer'],
    scope: 'openid profile',
    ...over,
  };
}

const dropUndefined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * Mints a signed token. `header`/`claims` entries set to undefined are removed (e.g. to drop typ
 * or sub). `alg` defaults to the key's alg; `signAlg` lets the header lie about the alg.
 */
export function mint({ key, alg = key.alg, signAlg = alg, header = {}, claims = {}, rawPayload } = {}) {
  const h = dropUndefined({ alg, typ: 'at+jwt', kid: key.kid, ...header });
  const body = rawPayload !== undefined ? rawPayload : dropUndefined(defaultClaims(claims));
  const input = `${b64uJson(h)}.${b64uJson(body)}`;
  return secretToken(`${input}.${b64u(signJws(signAlg, key.privateKey, input))}`);
}

/** Registers a token for the log scan (tests/log-scan.mjs) and returns it. */
const secretToken = (token) => {
  scan.secret(token, 'token');
  return token;
};

/** A token with arbitrary header/payload segments and signature (all raw strings or objects). */
export function rawToken(header, payload, signature = '') {
  const enc = (x) => (typeof x === 'string' ? x : b64uJson(x));
  return secretToken(`${enc(header)}.${enc(payload)}.${signature}`);
}

/** HS256 MAC of a token with `secret` (Buffer/string) — the key-confusion attack. */
export function hs256Token(secret, header, claims) {
  const input = `${b64uJson({ alg: 'HS256', typ: 'at+jwt', ...header })}.${b64uJson(defaultClaims(claims))}`;
  return secretToken(`${input}.${b64u(crypto.createHmac('sha256', secret).update(input).digest())}`);
}

/** Flips one base64url character in the middle of the signature (never the last: padding bits). */
export function tamperSignature(token) {
  const [h, p, s] = token.split('.');
  const i = Math.floor(s.length / 2);
  const c = s[i] === 'A' ? 'B' : 'A';
  return secretToken(`${h}.${p}.${s.slice(0, i)}${c}${s.slice(i + 1)}`);
}

/** Replaces the payload with other claims, keeping header and signature. */
export function tamperPayload(token, over) {
  const [h, p, s] = token.split('.');
  const claims = { ...JSON.parse(Buffer.from(p, 'base64url')), ...over };
  return secretToken(`${h}.${b64uJson(claims)}.${s}`);
}

export const jwks = (...keys) => ({ keys: keys.map((k) => k.jwk ?? k) });

// ---------------------------------------------------------------------------------------------
// small HTTP servers

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** Collapses node's rawHeaders into { lowercased name: [values...] }. */
function headerMap(rawHeaders) {
  const m = {};
  for (let i = 0; i < rawHeaders.length; i += 2) (m[rawHeaders[i].toLowerCase()] ??= []).push(rawHeaders[i + 1]);
  return m;
}

/**
 * Fake application origin. Records { method, url (raw target), rawPath, path, query, headers
 * (lowercase name → [values]), rawHeaders, body } of every request; answers with `respond` (an object or a function of the
 * recorded request returning { status, headers (object, values may be arrays), body }).
 */
export async function startUpstream() {
  const up = {
    requests: [],
    respond: null,
    url: '',
    reset() {
      this.requests.length = 0;
      this.respond = null;
    },
    get count() {
      return this.requests.length;
    },
    get last() {
      return this.requests.at(-1);
    },
  };
  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const u = new URL(req.url, 'http://upstream.invalid');
    const rec = {
      method: req.method,
      // The request target exactly as it arrived (node does not normalise it); `path` is the
      // WHATWG-normalised pathname, `rawPath` the raw target without its query.
      url: req.url,
      rawPath: req.url.split('?')[0],
      path: u.pathname,
      query: u.search,
      headers: headerMap(req.rawHeaders),
      rawHeaders: req.rawHeaders,
      body: body.toString('utf8'),
      header(name) {
        const v = this.headers[name.toLowerCase()];
        return v === undefined ? undefined : v.join(', ');
      },
    };
    up.requests.push(rec);
    let r = typeof up.respond === 'function' ? up.respond(rec) : up.respond;
    r ??= {};
    const headers = { 'content-type': 'application/json', 'x-upstream': 'yes', ...(r.headers ?? {}) };
    res.writeHead(r.status ?? 200, headers);
    res.end(r.body ?? JSON.stringify({ upstream: true, path: rec.path }));
  });
  const port = await listen(server);
  up.port = port;
  up.url = `http://127.0.0.1:${port}`;
  up.close = () => new Promise((r) => server.close(r));
  // Longer than workerd's own idle time for pooled connections: the client closes an idle
  // connection first, so workerd never reuses one this server is closing at that moment (a
  // 1 s timeout made requests after a second of quiet fail with a reset, 502). Node 20's
  // server.close() closes idle connections at once, so closing does not wait for it.
  server.keepAliveTimeout = 65_000;
  return up;
}

/**
 * Fake JWKS server. Each path (e.g. '/main') has its own key set, Cache-Control, failure mode and
 * fetch counter, so several gate configurations can share one server without interference.
 *   jw.set('/main', { keys: jwks(k1, k2), cacheControl: 'max-age=300', mode: 'ok' | '500' | 'reset' })
 *   jw.count('/main'); jw.url('/main'); jw.hits (every request, any path)
 * More failure modes: 'hang' (reads the request, never answers), 'hang-body' (answers 200 and
 * its headers, never the body); `delayMs` delays an 'ok' answer.
 *   jw.connections('/main'): distinct connections that carried a request for the path;
 *   jw.openConnections('/main'): those still open.
 */
export async function startJwks() {
  const paths = new Map();
  const jw = {
    hits: [],
    set(p, cfg) {
      const cur = paths.get(p) ?? { count: 0, mode: 'ok', keys: { keys: [] }, cacheControl: undefined };
      paths.set(p, { ...cur, ...cfg });
    },
    count(p) {
      return this.hits.filter((h) => h === p).length;
    },
    url(p) {
      return `${this.base}${p}`;
    },
  };
  const carried = []; // { p, socket } for every request
  jw.connections = (p) => new Set(carried.filter((c) => c.p === p).map((c) => c.socket)).size;
  jw.openConnections = (p) =>
    new Set(carried.filter((c) => c.p === p && !c.socket.destroyed).map((c) => c.socket)).size;
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://jwks.invalid').pathname;
    jw.hits.push(p);
    carried.push({ p, socket: req.socket });
    const cfg = paths.get(p);
    if (!cfg) {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{"error":"not found"}');
    }
    cfg.count += 1;
    if (cfg.mode === 'reset') return req.socket.destroy();
    if (cfg.mode === 'hang') return undefined; // the connection stays open, silent
    if (cfg.mode === '500') {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('boom');
    }
    const headers = { 'content-type': 'application/json' };
    if (cfg.cacheControl) headers['cache-control'] = cfg.cacheControl;
    if (cfg.mode === 'hang-body') {
      res.writeHead(200, headers);
      res.write('{"keys":[');
      return undefined; // the rest never comes
    }
    const answer = () => {
      res.writeHead(200, headers);
      res.end(typeof cfg.keys === 'string' ? cfg.keys : JSON.stringify(cfg.keys));
    };
    if (cfg.delayMs) setTimeout(answer, cfg.delayMs);
    else answer();
  });
  const port = await listen(server);
  jw.port = port;
  jw.base = `http://127.0.0.1:${port}`;
  jw.close = () =>
    new Promise((r) => {
      server.close(r);
      server.closeAllConnections(); // hanging requests would keep close() waiting
    });
  return jw;
}

/** A loopback URL on which nothing listens (connection refused). */
export async function refusedUrl(p = '/jwks') {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}${p}`;
}

// ---------------------------------------------------------------------------------------------
// Miniflare

/**
 * Starts Miniflare with one worker per entry of `configs` ({ name: bindings }). Every worker runs
 * the same script (the built edge worker by default) and gets a direct loopback socket, so raw
 * HTTP requests reach it without Miniflare's entry worker rewriting anything. `extraWorkers`
 * (Miniflare worker options) run beside them, reachable through `serviceBindings`
 * ({ configName: { BINDING: 'workerName' } }).
 * Every log line of the workers is captured for the secret scan (tests/log-scan.mjs), and the
 * bindings holding secrets are registered there; `onLog(line, level)` also receives each line
 * with its console method (`log`, `info`, `warn`, `error`, `debug`).
 * `loginThrottle` (default: any script but the stub) binds LOGIN_THROTTLE, the login counters.
 * Returns { mf, url(name), request(name, path, opts), dispose() }.
 */
export async function startGate(configs, { script = WORKER_SCRIPT, extraWorkers = [], serviceBindings = {}, onLog, loginThrottle = script !== STUB_SCRIPT } = {}) {
  const { Miniflare, Log, LogLevel } = await import('miniflare');
  for (const bindings of Object.values(configs)) secretsOfBindings(bindings);
  const workers = Object.entries(configs).map(([name, bindings]) => ({
    name,
    modules: true,
    scriptPath: script,
    // scripts/build-edge.sh writes build/worker/shim.mjs + build/worker/index.wasm (worker-build
    // with CUSTOM_SHIM); other builds (EDGE_WORKER_SCRIPT) may reach into the parent directory,
    // so the modules root includes it, or workerd refuses "..".
    modulesRoot: path.dirname(path.dirname(path.resolve(script))),
    // Any *.js module is ESM; Miniflare's default rule would treat *.js as CommonJS.
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'], fallthrough: true },
      { type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true },
    ],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: dropUndefined(bindings),
    kvNamespaces: ['REVOCATIONS'],
    // The login counters (the edge's shim exports the class; the stub worker has none), in
    // memory like KV.
    ...(loginThrottle && { durableObjects: { LOGIN_THROTTLE: { className: 'LoginThrottle', useSQLite: true } } }),
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    // { BINDING: 'worker name' } for this configuration (extraWorkers provide the targets).
    serviceBindings: serviceBindings[name],
  }));
  const mf = new Miniflare({
    workers: [...workers, ...extraWorkers],
    cf: false,
    durableObjectsPersist: false,
    log: new Log(process.env.EDGE_TEST_LOG ? LogLevel.DEBUG : LogLevel.WARN),
    ...captureOptions(`gate ${Object.keys(configs).join(',')}`, onLog),
  });
  const urls = {};
  try {
    await mf.ready;
    for (const w of workers) urls[w.name] = await mf.unsafeGetDirectURL(w.name);
  } catch (e) {
    await mf.dispose().catch(() => {}); // otherwise workerd keeps the test process alive
    throw e;
  }
  return {
    mf,
    url: (name) => urls[name],
    request: (name, p, opts) => request(new URL(p, urls[name]), opts),
    dispose: () => mf.dispose(),
  };
}

/**
 * Raw HTTP/1.1 request. `headers` is an array of [name, value] pairs sent as separate header lines
 * (so duplicates are really duplicated) or a plain object. Resolves to
 * { status, headers (lowercase → joined string), headerList(name) → [values], setCookies, text, json() }.
 */
export function request(url, { method = 'GET', headers = [], body } = {}) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const raw = [];
  let hasHost = false;
  for (const [k, v] of pairs) {
    if (k.toLowerCase() === 'host') hasHost = true;
    raw.push(k, v);
  }
  if (!hasHost) raw.push('Host', url.host);
  if (body !== undefined) raw.push('Content-Length', String(Buffer.byteLength(body)));
  secretsOfRequest(pairs, body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: raw, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const map = headerMap(res.rawHeaders);
        secretsOfResponse(map['set-cookie'], text, map['content-type']?.[0]);
        resolve({
          status: res.statusCode,
          headers: Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v.join(', ')])),
          headerList: (n) => map[n.toLowerCase()] ?? [],
          setCookies: map['set-cookie'] ?? [],
          text,
          json() {
            return JSON.parse(text);
          },
        });
      });
    });
    req.on('error', reject);
    req.setTimeout(20000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/**
 * A request written byte for byte to `baseUrl`'s host and port (no client-side URL handling:
 * the request line holds `target` exactly as given, `\\`, `%2e` and `#` included). `headers`
 * is an array of [name, value] pairs; `Host` and `Connection: close` are added unless given.
 * Resolves to { status, headers (lowercase → joined), text, json() } or { status: 0, error }
 * when the connection closes without an answer.
 */
export function rawRequest(baseUrl, { method = 'GET', target = '/', headers = [], body, timeoutMs = 15000 } = {}) {
  const u = new URL(baseUrl);
  const lines = [];
  const names = headers.map(([k]) => k.toLowerCase());
  if (!names.includes('host')) lines.push(`Host: ${u.host}`);
  if (!names.includes('connection')) lines.push('Connection: close');
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  secretsOfRequest(headers, body);
  // `target` may hold non-ASCII: sent as its UTF-8 bytes, like a client that does not encode.
  const bytes = Buffer.concat([
    Buffer.from(`${method} `, 'latin1'),
    Buffer.from(target, 'utf8'),
    Buffer.from(` HTTP/1.1\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`, 'latin1'),
    body === undefined ? Buffer.alloc(0) : Buffer.from(body),
  ]);
  return new Promise((resolve) => {
    const chunks = [];
    // Written, not ended: some servers drop a request whose client half-closed.
    const socket = net.connect({ host: u.hostname, port: Number(u.port) }, () => socket.write(bytes));
    let finished = false;
    const done = (error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const res = parseRawResponse(Buffer.concat(chunks), error);
      secretsOfResponse(res.setCookies, res.text, res.headers['content-type']);
      resolve(res);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.on('data', (c) => {
      chunks.push(c);
      // The runtime may keep the connection open: stop once the answer is complete.
      if (rawResponseComplete(Buffer.concat(chunks), method)) done();
    });
    socket.on('end', () => done());
    socket.on('error', (e) => done(e.code ?? String(e)));
  });
}

/** Whether `buf` holds a whole HTTP/1.1 answer (Content-Length, chunked, or no body). */
function rawResponseComplete(buf, method) {
  const split = buf.indexOf('\r\n\r\n');
  if (split < 0) return false;
  const head = buf.subarray(0, split).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) return true;
  const body = buf.subarray(split + 4);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) return body.length >= Number(length[1]);
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return body.includes('\r\n0\r\n\r\n') || body.subarray(0, 5).toString() === '0\r\n\r\n';
  return false;
}

function parseRawResponse(buf, error) {
  const text = buf.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!m || split < 0) return { status: 0, error: error ?? 'no answer', headers: {}, text: '', json: () => undefined };
  const headers = {};
  const setCookies = [];
  for (const line of text.slice(0, split).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    if (k === 'set-cookie') setCookies.push(v);
  }
  let bodyBuf = buf.subarray(Buffer.byteLength(text.slice(0, split + 4), 'latin1'));
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    const parts = [];
    let rest = bodyBuf;
    for (let n = 0; n < 10000; n++) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) break;
      const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
    bodyBuf = Buffer.concat(parts);
  }
  const body = bodyBuf.toString('utf8');
  return {
    status: Number(m[1]),
    headers,
    setCookies,
    text: body,
    json() {
      return JSON.parse(body);
    },
  };
}

/** Default gate bindings for a JWKS path on `jw` and an upstream. */
export function baseBindings(up, jwksUrl, over = {}) {
  return { ISSUER, AUDIENCE, JWKS_URL: jwksUrl, UPSTREAM: up.url, ...over };
}

export const bearer = (t) => [['Authorization', `Bearer ${t}`]];

/** Parses Cache-Control into a lowercase directive set (name or name=value, quotes kept). */
export function cacheDirectives(value = '') {
  const out = [];
  let cur = '';
  let inQ = false;
  for (const ch of value) {
    if (ch === '"') inQ = !inQ;
    if (ch === ',' && !inQ) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out.filter(Boolean);
}

export const varyList = (value = '') =>
  value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

// ---------------------------------------------------------------------------------------------
// assertions shared by the test files


/**
 * Sends a request to gate worker `name` and records whether the upstream saw it.
 * Returns the response plus { forwarded, upstreamReq }.
 */
export async function call(gate, up, name, path, { headers = [], method, body } = {}) {
  const before = up.count;
  const res = await gate.request(name, path, { headers, method, body });
  res.forwarded = up.count > before;
  res.upstreamReq = res.forwarded ? up.last : undefined;
  return res;
}

/** The edge error shape: JSON {error, message}, no token echoed, no-store, upstream not called. */
export function assertEdgeError(res, { status, token } = {}) {
  const ctx = `status=${res.status} www-authenticate=${res.headers['www-authenticate']} body=${res.text.slice(0, 300)}`;
  if (status !== undefined) assert.equal(res.status, status, ctx);
  assert.equal(res.forwarded, false, `upstream must not be called (${ctx})`);
  let body;
  assert.doesNotThrow(() => (body = res.json()), `body is JSON (${ctx})`);
  assert.equal(typeof body?.error, 'string', `body.error is a string (${ctx})`);
  assert.equal(typeof body?.message, 'string', `body.message is a string (${ctx})`);
  if (token) {
    const parts = [token, ...token.split('.').filter((s) => s.length >= 16)];
    for (const part of parts) {
      assert.ok(!res.text.includes(part), `body must not echo the token (${ctx})`);
      for (const [k, v] of Object.entries(res.headers)) assert.ok(!v.includes(part), `header ${k} must not echo the token`);
    }
  }
  const cc = cacheDirectives(res.headers['cache-control']).map((d) => d.toLowerCase());
  assert.ok(cc.includes('no-store'), `edge error responses are no-store (cache-control=${res.headers['cache-control']})`);
}

/** 401 (or 400) with an RFC 6750 challenge; error=null means "no error attribute". */
export function assertChallenge(res, { status = 401, error = 'invalid_token', token } = {}) {
  assertEdgeError(res, { status, token });
  const www = res.headers['www-authenticate'];
  assert.ok(www, `WWW-Authenticate present (status ${res.status})`);
  assert.ok(www.includes(REALM), `WWW-Authenticate has ${REALM}: ${www}`);
  if (error === null) assert.ok(!/error\s*=/.test(www), `no error= when no token was presented: ${www}`);
  else assert.ok(www.includes(`error="${error}"`), `WWW-Authenticate has error="${error}": ${www}`);
}

export function assertForwarded(res, ctx = '') {
  assert.ok(
    res.forwarded,
    `expected the request to reach the upstream ${ctx}: status=${res.status} www-authenticate=${res.headers['www-authenticate']} body=${res.text.slice(0, 300)}`,
  );
  return res.upstreamReq;
}
