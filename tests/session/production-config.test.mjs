// The stack as [env.production] configures it, run locally: the edge with the production vars
// of wrangler.toml and no service binding at all, the reference store with the production vars
// of session-store/wrangler.toml, the demo app with its production settings (no vars). Only the
// placeholder hosts the edge connects to (JWKS_URL, SESSION_STORE_URL, UPSTREAM) are swapped
// for loopback URLs; ISSUER, AUDIENCE, CLIENT_ID and PUBLIC_PATHS stay as configured, so the
// two production configs must agree with each other. The edge reaches the store and the app by
// fetch(), as it does in production. Secrets are fresh (production has none of the dev ones).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { build } from 'esbuild';
import { unstable_readConfig } from 'wrangler';

import { COMPATIBILITY_DATE, REPO_ROOT, startGate, workerBuilt } from '../edge/harness.mjs';
import { DEV_SECRETS, startStore } from '../store/harness.mjs';
import { Client } from './harness.mjs';
import { captureOptions } from '../log-scan.mjs';

/** The config wrangler resolves for `--env production` (its config warnings silenced). */
function prod(config) {
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'error';
  try {
    return unstable_readConfig({ config: path.join(REPO_ROOT, config), env: 'production' });
  } finally {
    if (level === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = level;
  }
}
const EDGE = prod('wrangler.toml');
const STORE = prod('session-store/wrangler.toml');
const DEMO = prod('demo/wrangler.toml');

const CLIENT_SECRET = crypto.randomBytes(32).toString('base64url');
const COOKIE_KEYS = crypto.randomBytes(32).toString('base64url');

let store;
let demo;
let gate;
let dir;

before(async () => {
  if (!workerBuilt()) return;
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey = JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'prod-shape-1', alg: 'ES256' });
  // The production vars; the users are the dev ones (alice), the secrets new.
  // (startStore starts from the dev environment: its dev-only OTP_DEV_DELIVERY, which the
  // production [env] leaves out and an https ISSUER refuses, is turned off as production has it.)
  store = await startStore({ ...STORE.vars, OTP_DEV_DELIVERY: 'false', CLIENT_SECRET, SIGNING_KEY: signingKey, DEMO_USERS: DEV_SECRETS.DEMO_USERS });
  const storeUrl = (await store.mf.ready).toString().replace(/\/$/, '');
  // The edge's assertion key (a secret, fresh). The demo, bundled as wrangler bundles it
  // (esbuild, jose from node_modules), gets its public half inline: in production it fetches
  // EDGE_JWKS_URL, the edge's /auth/jwks, whose host is checked below.
  const assertion = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const assertionKey = { ...assertion, kid: 'prod-shape-assert' };
  const { d: _d, ...pub } = assertionKey;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-prod-demo-'));
  await build({
    entryPoints: [DEMO.main],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'],
    outfile: path.join(dir, 'demo.mjs'),
    logLevel: 'warning',
  });
  const { Miniflare } = await import('miniflare');
  demo = new Miniflare({
    modules: true,
    scriptPath: path.join(dir, 'demo.mjs'),
    modulesRoot: dir,
    compatibilityDate: DEMO.compatibility_date,
    bindings: { ...DEMO.vars, EDGE_JWKS: JSON.stringify({ keys: [{ ...pub, alg: 'ES256', use: 'sig' }] }) },
    cf: false,
    ...captureOptions('demo'),
  });
  const demoUrl = (await demo.ready).toString().replace(/\/$/, '');
  gate = await startGate({
    prod: {
      ...EDGE.vars,
      JWKS_URL: EDGE.vars.JWKS_URL.replace(EDGE.vars.SESSION_STORE_URL, storeUrl),
      SESSION_STORE_URL: storeUrl,
      UPSTREAM: demoUrl,
      CLIENT_SECRET,
      COOKIE_KEYS,
      ASSERTION_KEY: JSON.stringify(assertionKey),
    },
  });
});

after(async () => {
  await gate?.dispose();
  await demo?.dispose();
  await store?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the production configs: no service bindings, one compatibility date, https URLs', () => {
  for (const c of [EDGE, STORE, DEMO]) {
    assert.deepEqual(c.services ?? [], [], `${c.name}: no service binding in production`);
    assert.equal(c.compatibility_date, COMPATIBILITY_DATE, c.name);
    assert.equal(c.workers_dev, false, c.name);
  }
  for (const k of ['JWKS_URL', 'SESSION_STORE_URL', 'UPSTREAM', 'ISSUER']) assert.match(EDGE.vars[k], /^https:\/\//, k);
  assert.equal(EDGE.vars.ISSUER, STORE.vars.ISSUER, "the edge accepts the store's issuer");
  assert.equal(EDGE.vars.AUDIENCE, STORE.vars.DEFAULT_AUDIENCE, "the store's tokens are for the edge's audience");
  assert.equal(EDGE.vars.CLIENT_ID, STORE.vars.CLIENT_ID, "the edge is the store's client");
  const jwks = new URL(DEMO.vars.EDGE_JWKS_URL);
  assert.equal(jwks.protocol, 'https:');
  assert.equal(jwks.pathname, '/auth/jwks');
  assert.deepEqual(
    (EDGE.routes ?? []).map((r) => r.pattern ?? r),
    [jwks.host],
    "the demo fetches the assertion keys from the edge's own hostname",
  );
  assert.deepEqual(EDGE.secrets?.required?.includes('ASSERTION_KEY'), true, 'the edge requires its assertion key');
  assert.equal(STORE.vars.OTP_DEV_DELIVERY, undefined, 'no dev passcode delivery in production');
  assert.equal(EDGE.vars.ROUTE_POLICIES, undefined, "the demo's dev admin rule is not production's");
});

test('with the production settings and plain fetch(): sign in, the app sees alice, log out, refused after', { skip: !workerBuilt() && 'build the workers first' }, async () => {
  const c = new Client(gate.url('prod'));
  const login = await c.login('alice', 'alice-dev-password');
  assert.equal(login.status, 200, login.text);
  const page = await c.send('/app', { headers: { Accept: 'text/html', 'Sec-Fetch-Mode': 'navigate' } });
  assert.equal(page.status, 200, page.text);
  assert.match(page.text, /<strong id="subject">user-alice<\/strong>/, 'the demo app received the identity');
  const who = await c.send('/auth/session');
  assert.equal(who.status, 200, who.text);
  assert.equal(JSON.parse(who.text).subject, 'user-alice');
  const replay = c.clone();
  const out = await c.logout();
  assert.equal(out.status, 200, out.text);
  const again = await replay.send('/app', { headers: { Accept: 'application/json' } });
  assert.equal(again.status, 401, 'the cookies of the logged-out session open nothing');
});
