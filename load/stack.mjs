// The whole stack for the load harness, in workerd on direct loopback sockets, started as the
// test harnesses start it (tests/store/harness.mjs's store worker and dev environment,
// tests/edge/harness.mjs's edge worker settings), with fault proxies in between:
//
//   load client ──▶ edge (workerd) ──▶ store proxy ──▶ reference store (workerd, SQLite DOs)
//                     │   │            (also carries the JWKS: /oidc/jwks)
//                     │   └──▶ upstream proxy ──▶ demo app (workerd, demo/worker.js)
//                     └─ REVOCATIONS: KV behind a wrapper whose reads the harness can fail
//
// The load configuration (LOAD ONLY, never production; README "Load and faults"):
//   - users created through the store's dev user directory (DEMO_USERS) with a cheap argon2id
//     hash (m=8 KiB, t=1), so the run measures the session machinery rather than argon2id; the
//     demo users alice and bob keep their production-cost hashes for the argon2id calibration;
//   - each load user enrolled for TOTP with a secret of its own, 20 random bytes generated per
//     run (base32 in DEMO_USERS' `totp_secret`; never the published dev secrets);
//   - the demo's route policy for its admin area and its step-up page (ROUTE_POLICIES and
//     STEP_UP_PATH, read from the edge's wrangler.toml [vars] as `wrangler dev` runs them);
//   - short access tokens (ACCESS_TOKEN_TTL_SECONDS, default 10) and LEEWAY_SECONDS=1, so the
//     edge refreshes transparently many times;
//   - EXPOSE_METRICS=true at the store (x-store-metrics: DO calls and SQL statements per call;
//     the proxy reads and strips it);
//   - STORE_TIMEOUT_MS 5000 (the default), UPSTREAM_TIMEOUT_MS 3000 and JWKS_TIMEOUT_MS 1000,
//     so faults resolve within a short run.
// State (the store's Durable Objects, the edge's KV and login counters) persists to a temporary
// directory when a scenario restarts a worker (key rotation at the store, the edge module
// re-instantiated), so the restart keeps it; otherwise it stays in memory.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';
import { unstable_readConfig } from 'wrangler';

import { startProxy } from './proxy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The demo app's audience for the edge's assertion (its origin as the edge names it). */
const ASSERTION_AUDIENCE = 'https://demo.load.internal';
process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
process.env.WRANGLER_HIDE_BANNER ??= 'true';

/** The load users' password and its cheap argon2id hash (m=8 KiB, t=1, p=1): LOAD ONLY. */
export const LOAD_PASSWORD = 'load-password';
export const CHEAP_HASH = '$argon2id$v=19$m=8,t=1,p=1$bG9hZC1oYXJuZXNzLXNsdA$aOmXrJpr4fDjfU31KkSyVeOGKen0Gmpv+19txufjYVw';

/** The demo's step-up configuration, as the edge's wrangler.toml [vars] set it for local development. */
export const STEP_UP = (() => {
  // wrangler's config warnings ("secrets" is experimental) are not the harness's to print.
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'error';
  try {
    const { ROUTE_POLICIES, STEP_UP_PATH } = unstable_readConfig({ config: path.join(ROOT, 'wrangler.toml') }).vars;
    if (typeof ROUTE_POLICIES !== 'string' || typeof STEP_UP_PATH !== 'string') throw new Error('wrangler.toml [vars]: ROUTE_POLICIES and STEP_UP_PATH expected');
    return { ROUTE_POLICIES, STEP_UP_PATH };
  } finally {
    if (level === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = level;
  }
})();

/** RFC 4648 base32 (no padding), as the store reads `totp_secret`. */
export function base32(bytes) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = ((value << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

const COMPAT = /^compatibility_date\s*=\s*"([\d-]+)"/m.exec(fs.readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'))[1];
const EDGE_SCRIPT = path.join(ROOT, 'build/worker/shim.mjs');
const STORE_SCRIPT = path.join(ROOT, 'session-store/build/worker/shim.mjs');

/** A fresh EC P-256 signing key as the store reads it (a private JWK with kid and alg). */
export function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: `load-${crypto.randomUUID()}`, alg: 'ES256' });
}

const KV_WRAPPER = `
// REVOCATIONS for the load harness: the real KV namespace (INNER), whose reads fail while the
// harness says so (CONTROL, a node function; its answer is cached for 200 ms).
let failing = false;
let checked = 0;
async function fail(env) {
  const now = Date.now();
  if (now - checked > 200) {
    checked = now;
    try {
      failing = (await (await env.CONTROL.fetch('http://control/kv')).text()) === 'fail';
    } catch {
      // the harness's control channel, not KV: keep the last answer
    }
  }
  if (failing) throw new Error('KV read failure injected by load/stack.mjs');
}
export default function (env) {
  const inner = env.INNER;
  return {
    get: async (...a) => { await fail(env); return inner.get(...a); },
    getWithMetadata: async (...a) => { await fail(env); return inner.getWithMetadata(...a); },
    list: async (...a) => { await fail(env); return inner.list(...a); },
    put: (...a) => inner.put(...a),
    delete: (...a) => inner.delete(...a),
  };
}`;

/**
 * Starts the stack. `users`: [{ username, userId, totpSecret? }] (created with CHEAP_HASH;
 * `totpSecret` the raw bytes of the user's TOTP secret). `onEdgeLog(obj, level)` gets every
 * edge log line that parses as JSON; `onBadLine(line)` any other.
 */
export async function startStack({ users, ttl = 10, onEdgeLog = () => {}, cheapHash, persist = true }) {
  const { Miniflare, Log, LogLevel } = await import('miniflare');
  const { DEV_ENV } = await import('../tests/store/harness.mjs');
  for (const f of [EDGE_SCRIPT, STORE_SCRIPT]) if (!fs.existsSync(f)) throw new Error(`${f} missing: run bash scripts/build.sh`);
  const state = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-load-'));
  const quiet = new Log(process.env.LOAD_DEBUG ? LogLevel.DEBUG : LogLevel.ERROR);
  const storeLines = { count: 0 };
  // LOAD_LOG_FILE (diagnosis): the store's lines go to LOAD_LOG_FILE.store.
  const storeLog = process.env.LOAD_LOG_FILE ? fs.openSync(`${process.env.LOAD_LOG_FILE}.store`, 'w') : undefined;
  const ignoreStdio = (stdout, stderr) => {
    stdout.resume();
    stderr.resume();
  };

  // ---- the reference store
  const demo = JSON.parse(DEV_ENV.DEMO_USERS);
  const directory = [
    ...demo,
    ...users.map((u) => ({
      user_id: u.userId,
      username: u.username,
      roles: ['user'],
      password_hash: cheapHash,
      ...(u.totpSecret ? { totp_secret: base32(u.totpSecret) } : {}),
    })),
  ];
  const keys = { current: DEV_ENV.SIGNING_KEY, previous: undefined };
  const storeBindings = () => {
    const b = {
      ...DEV_ENV,
      DEMO_USERS: JSON.stringify(directory),
      ACCESS_TOKEN_TTL_SECONDS: String(ttl),
      EXPOSE_METRICS: 'true',
      SIGNING_KEY: keys.current,
      // The load users each have one session at a time; the store's own failed-login limit is
      // never reached by right passwords.
    };
    if (keys.previous) b.SIGNING_KEY_PREVIOUS = keys.previous;
    else delete b.SIGNING_KEY_PREVIOUS;
    return b;
  };
  let storePort = 0;
  const storeOptions = () => ({
    modules: true,
    scriptPath: STORE_SCRIPT,
    modulesRoot: path.join(ROOT, 'session-store/build'),
    modulesRules: [
      { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: COMPAT,
    bindings: storeBindings(),
    durableObjects: { USER_SESSIONS: { className: 'UserSessions', useSQLite: true } },
    // On disk only when a scenario restarts a worker (10,000 users' objects take ~0.5 GB).
    durableObjectsPersist: persist ? path.join(state, 'store-do') : false,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: storePort }],
    cf: false,
    log: quiet,
    handleStructuredLogs({ level, message }) {
      storeLines.count += 1;
      if (storeLog !== undefined) fs.writeSync(storeLog, `${level} ${message}\n`);
    },
    handleRuntimeStdio: ignoreStdio,
  });
  const storeMf = new Miniflare(storeOptions());
  await storeMf.ready;
  const storeUrl = (await storeMf.unsafeGetDirectURL()).toString().replace(/\/$/, '');
  storePort = Number(new URL(storeUrl).port);

  // ---- the demo application: bundled as wrangler bundles it (esbuild, jose from node_modules);
  // it believes only the edge's signed assertion, checked with this run's assertion key.
  const assertion = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const assertionKey = { ...assertion, kid: 'load-assertion' };
  const { d: _private, ...assertionPublic } = assertionKey;
  const demoDir = path.join(state, 'demo');
  await build({
    entryPoints: [path.join(ROOT, 'demo/worker.js')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    outfile: path.join(demoDir, 'demo.mjs'),
    logLevel: 'warning',
  });
  const demoMf = new Miniflare({
    modules: true,
    scriptPath: path.join(demoDir, 'demo.mjs'),
    modulesRoot: demoDir,
    bindings: {
      EDGE_JWKS: JSON.stringify({ keys: [{ ...assertionPublic, alg: 'ES256', use: 'sig' }] }),
      EDGE_AUDIENCE: ASSERTION_AUDIENCE,
    },
    compatibilityDate: COMPAT,
    unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
    cf: false,
    log: quiet,
    handleStructuredLogs() {},
    handleRuntimeStdio: ignoreStdio,
  });
  await demoMf.ready;
  const demoUrl = (await demoMf.unsafeGetDirectURL()).toString().replace(/\/$/, '');

  // ---- the fault proxies
  const storeOp = (p) => {
    if (p === '/oidc/jwks') return 'jwks';
    if (p === '/oidc/token') return 'client_token';
    if (p.endsWith('/password/authenticate')) return 'login';
    if (p.endsWith('/totp/authenticate')) return 'totp';
    if (p.endsWith('/otp/authenticate')) return 'email_otp';
    if (p.endsWith('/otp/send')) return 'otp_send';
    if (p.endsWith('/session/authenticate')) return 'session_authenticate';
    if (p.endsWith('/token/refresh')) return 'refresh_grant';
    if (p.endsWith('/session/logout')) return 'logout';
    if (p.includes('/users/')) return 'user_sessions';
    return p;
  };
  const sessionOf = (p, body) => {
    if (!p.endsWith('/session/authenticate')) return undefined;
    try {
      return JSON.parse(body.toString('utf8')).session_id;
    } catch {
      return undefined;
    }
  };
  const storeProxy = await startProxy('store', storeUrl, { opOf: storeOp, sessionIdOf: sessionOf });
  const upstreamProxy = await startProxy('upstream', demoUrl, { opOf: (p, m) => `${m} ${p}` });

  // ---- the edge
  const control = { kv: 'ok' };
  const cookieKey = crypto.randomBytes(32).toString('base64url');
  const edgeBindings = {
    ISSUER: DEV_ENV.ISSUER,
    AUDIENCE: DEV_ENV.DEFAULT_AUDIENCE,
    JWKS_URL: `${storeProxy.url}/oidc/jwks`,
    UPSTREAM: upstreamProxy.url,
    PUBLIC_PATHS: '/,/favicon.ico,/static/*',
    LOGIN_PATH: '/',
    // The demo's admin area behind {"path": "/admin/*", "amr": ["mfa"], "max_age": 900} and its
    // step-up page, as in local development (README "Route policies").
    ROUTE_POLICIES: STEP_UP.ROUTE_POLICIES,
    STEP_UP_PATH: STEP_UP.STEP_UP_PATH,
    SESSION_STORE_URL: storeProxy.url,
    CLIENT_ID: DEV_ENV.CLIENT_ID,
    CLIENT_SECRET: DEV_ENV.CLIENT_SECRET,
    COOKIE_KEYS: cookieKey,
    ASSERTION_KEY: JSON.stringify(assertionKey),
    ASSERTION_AUDIENCE,
    // One second, not 0: each workerd's clock moves only between I/O events, so the edge can
    // read a second earlier than the store that just signed (iat in the future with no leeway).
    LEEWAY_SECONDS: '1',
    STORE_TIMEOUT_MS: '5000',
    UPSTREAM_TIMEOUT_MS: '3000',
    JWKS_TIMEOUT_MS: '1000',
    // Logins come from 10.0.0.0/8 addresses, one per user; the per-address limit is the
    // default (50 failures), and right passwords never fill it.
  };
  let edgePort = 0;
  const edgeOptions = () => ({
    workers: [
      {
        name: 'edge',
        modules: true,
        scriptPath: EDGE_SCRIPT,
        modulesRoot: path.dirname(path.dirname(EDGE_SCRIPT)),
        modulesRules: [
          { type: 'ESModule', include: ['**/*.js', '**/*.mjs'], fallthrough: true },
          { type: 'CompiledWasm', include: ['**/*.wasm'], fallthrough: true },
        ],
        compatibilityDate: COMPAT,
        bindings: edgeBindings,
        wrappedBindings: { REVOCATIONS: 'kv-wrapper' },
        durableObjects: { LOGIN_THROTTLE: { className: 'LoginThrottle', useSQLite: true } },
        unsafeDirectSockets: [{ host: '127.0.0.1', port: edgePort }],
      },
      {
        name: 'kv-wrapper',
        modules: [{ type: 'ESModule', path: 'kv-wrapper.mjs', contents: KV_WRAPPER }],
        kvNamespaces: ['INNER'],
        serviceBindings: { CONTROL: async () => new Response(control.kv) },
      },
    ],
    ...(persist ? { kvPersist: path.join(state, 'edge-kv') } : {}),
    durableObjectsPersist: persist ? path.join(state, 'edge-do') : false,
    cf: false,
    log: quiet,
    handleStructuredLogs({ level, message }) {
      let obj;
      try {
        obj = JSON.parse(message);
      } catch {
        obj = undefined;
      }
      onEdgeLog(obj, level, message);
    },
    handleRuntimeStdio: ignoreStdio,
  });
  const edgeMf = new Miniflare(edgeOptions());
  await edgeMf.ready;
  const edgeUrl = (await edgeMf.unsafeGetDirectURL('edge')).toString().replace(/\/$/, '');
  edgePort = Number(new URL(edgeUrl).port);

  return {
    edgeUrl,
    storeUrl,
    storeProxy,
    upstreamProxy,
    control,
    cookieKey,
    storeLines,
    env: DEV_ENV,
    keys,
    /** Restarts the store with `keys` as they are now (state persists). */
    async restartStore() {
      await storeMf.setOptions(storeOptions());
    },
    /** Re-instantiates the edge: a new workerd configuration, the same port and state. */
    async restartEdge() {
      await edgeMf.setOptions(edgeOptions());
    },
    async close() {
      await Promise.allSettled([edgeMf.dispose(), storeMf.dispose(), demoMf.dispose()]);
      await Promise.allSettled([storeProxy.close(), upstreamProxy.close()]);
      fs.rmSync(state, { recursive: true, force: true });
    },
  };
}
