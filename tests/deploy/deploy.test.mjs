// scripts/deploy.sh, run on a copy of the repository's deploy files (wrangler configs,
// .dev.vars.example files, scripts; the built workers linked in and the configs' build
// commands made no-ops, so nothing is compiled here):
//   - the dry run (the real wrangler, no account) fails when a dev secret is planted in a
//     production var, a production bundle, or comes from a developer's .dev.vars, when a
//     secret is a var, when a production var is a dev URL, or workers_dev is on; and passes on
//     the clean copy (the control, the same worker);
//   - the real deploy against a stub wrangler (tests/deploy/stub-wrangler.mjs, no network, a
//     fake bundle for the dry run it starts with):
//     login check, hostnames, KV namespace, secrets generated once and never on a command line,
//     deploy order, URLs; existing secrets kept; a half-set client secret never regenerated.
// CI also runs `bash scripts/deploy.sh --dry-run` on the repository itself (scripts/test.sh).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';

import { REPO_ROOT } from '../edge/harness.mjs';

const STUB = path.join(REPO_ROOT, 'tests/deploy/stub-wrangler.mjs');
const REAL_WRANGLER = path.join(REPO_ROOT, 'node_modules/.bin/wrangler');
const COPIED = [
  'wrangler.toml', '.dev.vars.example',
  'session-store/wrangler.toml', 'session-store/.dev.vars.example', 'session-store/scripts/gen-jwk.mjs',
  'demo/wrangler.toml', 'demo/.dev.vars.example', 'demo/worker.js',
  'scripts/deploy.sh', 'scripts/deploy.mjs', 'scripts/gen-assertion-key.mjs', 'examples/hono/edge-identity.js',
];
const LINKED = ['node_modules', 'build', 'session-store/build', 'tests/keys'];
const STORE_DEV = parseEnv(fs.readFileSync(path.join(REPO_ROOT, 'session-store/.dev.vars.example'), 'utf8'));
const EDGE_DEV_ASSERTION = parseEnv(fs.readFileSync(path.join(REPO_ROOT, '.dev.vars.example'), 'utf8')).ASSERTION_KEY;

const built = ['build/worker/shim.mjs', 'session-store/build/worker/shim.mjs'].every((p) => fs.existsSync(path.join(REPO_ROOT, p)));

const temps = [];
after(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A copy of the deploy files; `edit(relPath, fn)` changes one of them. */
function repoCopy() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-session-deploy-test-'));
  temps.push(dir);
  for (const f of COPIED) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    let text = fs.readFileSync(path.join(REPO_ROOT, f), 'utf8');
    if (f.endsWith('wrangler.toml')) text = text.replace(/^command = .*$/m, 'command = "true"');
    fs.writeFileSync(path.join(dir, f), text);
  }
  for (const f of LINKED) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.symlinkSync(path.join(REPO_ROOT, f), path.join(dir, f));
  }
  return {
    dir,
    read: (f) => fs.readFileSync(path.join(dir, f), 'utf8'),
    edit(f, fn) {
      fs.writeFileSync(path.join(dir, f), fn(this.read(f)));
    },
  };
}

function run(copy, args, env = {}) {
  const log = path.join(copy.dir, 'stub.log');
  fs.rmSync(log, { force: true });
  const r = spawnSync('bash', [path.join(copy.dir, 'scripts/deploy.sh'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
    env: { ...process.env, WRANGLER: STUB, STUB_LOG: log, ...env },
  });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
  return { status: r.status, out: r.stdout + r.stderr, calls };
}

/** Appends `line` to the [env.production.vars] table of a config. */
const plantVar = (line) => (toml) => toml.replace(/^\[env\.production\.vars\]\n/m, (m) => `${m}${line}\n`);

describe('deploy.sh --dry-run: the production check can fail', { skip: !built && 'build the workers first (scripts/build.sh)' }, () => {
  // `dry`: the real wrangler builds the bundle and prints the config (the stub hands it over);
  // `dryConfig`: the stub's tiny bundle, for findings in the configs wrangler resolves (cheaper).
  const dry = (c, ...args) => run(c, ['--dry-run', ...args], { REAL_WRANGLER });
  const dryConfig = (c, ...args) => run(c, ['--dry-run', ...args]);

  test('control: the clean copy passes', () => {
    const c = repoCopy();
    const r = dry(c, '--only', 'session-store');
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no dev secret in a production bundle, var or printout/);
    assert.match(r.out, /session-store\s+total\s+\d+ B\s+gzip -9\s+\d+ B/, 'prints the bundle size');
    assert.equal(dryConfig(c).status, 0, 'and every worker with the stub bundle');
  });

  test("the store's dev client secret planted in a production var is found, and not printed", () => {
    const c = repoCopy();
    c.edit('session-store/wrangler.toml', plantVar(`ADMIN_NOTE = "${STORE_DEV.CLIENT_SECRET}"`));
    const r = dry(c, '--only', 'session-store');
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /dev secret session-store\/\.dev\.vars\.example CLIENT_SECRET found in the production config of session-store\/wrangler\.toml/);
    assert.ok(!r.out.includes(STORE_DEV.CLIENT_SECRET), 'the finding names the secret, never its value');
  });

  test("a fragment of the dev signing key (its private `d`) inside a production var of the edge", () => {
    const c = repoCopy();
    const d = JSON.parse(STORE_DEV.SIGNING_KEY).d;
    c.edit('wrangler.toml', plantVar(`DEBUG_TAG = "key:${d}"`));
    const r = dryConfig(c, '--only', 'edge');
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /dev secret session-store\/\.dev\.vars\.example SIGNING_KEY found in the production config of wrangler\.toml/);
  });

  test("a dev user's password hash compiled into the demo's bundle", () => {
    const c = repoCopy();
    const hash = JSON.parse(STORE_DEV.DEMO_USERS)[0].password_hash;
    c.edit('demo/worker.js', (js) => `${js}\nexport const FIXTURE = ${JSON.stringify(hash)};\n`);
    const r = dry(c, '--only', 'demo');
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /dev secret session-store\/\.dev\.vars\.example DEMO_USERS found in the demo bundle \(worker\.js\)/);
  });

  test("a developer's own .dev.vars (the generated cookie key) counts as a dev secret; its plain var overrides do not", () => {
    const c = repoCopy();
    const key = Buffer.alloc(32, 42).toString('base64url');
    // UPSTREAM here is a local override of a plain var, equal to the production value.
    fs.writeFileSync(path.join(c.dir, '.dev.vars'), `CLIENT_SECRET=dev-only-client-secret-change-me\nCOOKIE_KEYS=${key}\nUPSTREAM=https://origin.example.com\n`);
    c.edit('wrangler.toml', plantVar(`LEGACY_KEYS = "${key}"`));
    const r = dryConfig(c, '--only', 'edge');
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /dev secret \.dev\.vars COOKIE_KEYS found in the production config of wrangler\.toml/);
    assert.doesNotMatch(r.out, /\.dev\.vars UPSTREAM/);
  });

  test('a secret set as a var, a dev URL, and workers_dev on are refused', () => {
    const c = repoCopy();
    c.edit('session-store/wrangler.toml', plantVar('SIGNING_KEY_PREVIOUS = "{}"'));
    c.edit('wrangler.toml', (t) => t.replace('UPSTREAM = "https://origin.example.com"', 'UPSTREAM = "http://127.0.0.1:9000"'));
    c.edit('demo/wrangler.toml', (t) => t.replace('workers_dev = false', 'workers_dev = true'));
    const r = dryConfig(c);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /session-store\/wrangler\.toml \[env\.production\]: SIGNING_KEY_PREVIOUS is a secret/);
    assert.match(r.out, /wrangler\.toml \[env\.production\]: var UPSTREAM is a dev URL/);
    assert.match(r.out, /demo\/wrangler\.toml \[env\.production\]: workers_dev must be false/);
  });
});

describe('deploy.sh against a stub wrangler', { skip: !built && 'build the workers first (scripts/build.sh)' }, () => {
  const HOSTS = { APP_HOST: 'app.acme.test', STORE_HOST: 'auth.acme.test', UPSTREAM_HOST: 'origin.acme.test' };
  const USERS = JSON.stringify([{ user_id: 'u1', username: 'ops', roles: ['admin'], password_hash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g' }]);
  let c;
  let first;

  before(() => {
    c = repoCopy();
    first = run(c, [], { ...HOSTS, DEMO_USERS: USERS });
  });

  test('first deploy: login checked, KV created, secrets generated, store then edge, URLs printed', () => {
    assert.equal(first.status, 0, first.out);
    const words = (argv) => {
      const firstOption = argv.findIndex((a) => a.startsWith('-'));
      return (firstOption < 0 ? argv : argv.slice(0, firstOption)).join(' ');
    };
    const cmds = first.calls.map((e) => `${words(e.argv)}${e.argv.includes('-c') ? ` ${e.argv[e.argv.indexOf('-c') + 1]}` : ''}`);
    assert.deepEqual(cmds, [
      'whoami',
      'kv namespace list',
      'kv namespace create edge-session-revocations',
      'secret list session-store/wrangler.toml',
      'secret list wrangler.toml',
      'deploy session-store/wrangler.toml',
      'deploy wrangler.toml',
    ]);
    assert.match(first.out, /session-store\s+https:\/\/auth\.acme\.test\//);
    assert.match(first.out, /edge\s+https:\/\/app\.acme\.test\//);
  });

  test('the KV id (in both workers that bind it) and the hostnames are written into the configs', () => {
    const edge = c.read('wrangler.toml');
    for (const config of [edge, c.read('session-store/wrangler.toml')]) {
      assert.match(config, /\[\[env\.production\.kv_namespaces\]\]\nbinding = "REVOCATIONS"\nid = "0123456789abcdef0123456789abcdef"/);
      assert.ok(!config.includes('REPLACE_WITH_REVOCATIONS_NAMESPACE_ID'));
    }
    assert.match(edge, /routes = \[\{ pattern = "app\.acme\.test", custom_domain = true \}\]/);
    assert.match(edge, /SESSION_STORE_URL = "https:\/\/auth\.acme\.test"/);
    assert.match(edge, /UPSTREAM = "https:\/\/origin\.acme\.test"/);
    assert.match(c.read('session-store/wrangler.toml'), /ISSUER = "https:\/\/auth\.acme\.test"/);
  });

  test('secrets: one client secret for both, a fresh cookie key, assertion key and signing key, files gone, never in argv', () => {
    const [store, edge] = first.calls.filter((e) => e.argv[0] === 'deploy');
    assert.deepEqual(Object.keys(store.secrets).sort(), ['CLIENT_SECRET', 'DEMO_USERS', 'SIGNING_KEY']);
    assert.deepEqual(Object.keys(edge.secrets).sort(), ['ASSERTION_KEY', 'CLIENT_SECRET', 'COOKIE_KEYS']);
    assert.equal(edge.secrets.CLIENT_SECRET, store.secrets.CLIENT_SECRET);
    assert.match(edge.secrets.CLIENT_SECRET, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(edge.secrets.CLIENT_SECRET, STORE_DEV.CLIENT_SECRET);
    assert.match(edge.secrets.COOKIE_KEYS, /^[A-Za-z0-9_-]{43}$/);
    const assertion = JSON.parse(edge.secrets.ASSERTION_KEY);
    assert.equal(assertion.kty, 'EC');
    assert.equal(assertion.crv, 'P-256');
    assert.ok(assertion.kid, 'the assertion key has a kid');
    assert.ok(assertion.d && assertion.d !== JSON.parse(EDGE_DEV_ASSERTION).d, 'a new assertion key, not the dev one');
    const jwk = JSON.parse(store.secrets.SIGNING_KEY);
    assert.equal(jwk.kty, 'EC');
    assert.equal(jwk.alg, 'ES256');
    assert.ok(jwk.d && jwk.d !== JSON.parse(STORE_DEV.SIGNING_KEY).d, 'a new private key, not the dev one');
    assert.equal(store.secrets.DEMO_USERS, USERS);
    for (const e of [store, edge]) {
      assert.equal(e.secretsMode, 0o600);
      assert.ok(!fs.existsSync(e.secretsFile), 'the secrets file is removed');
    }
    const values = [...Object.values(store.secrets), ...Object.values(edge.secrets)];
    for (const e of first.calls) for (const v of values) assert.ok(!e.argv.join(' ').includes(v), `a secret on the command line of ${e.argv[0]}`);
    for (const v of values) assert.ok(!first.out.includes(v), 'a secret in the output');
  });

  test('redeploy: secrets already set are kept, the KV namespace is not created again', () => {
    const all = { 'session-store/wrangler.toml': ['CLIENT_SECRET', 'SIGNING_KEY', 'DEMO_USERS'], 'wrangler.toml': ['CLIENT_SECRET', 'COOKIE_KEYS', 'ASSERTION_KEY'] };
    const r = run(c, [], { STUB_SECRETS: JSON.stringify(all) });
    assert.equal(r.status, 0, r.out);
    assert.ok(!r.calls.some((e) => e.argv[0] === 'kv'), 'no KV call once the id is written');
    const deploys = r.calls.filter((e) => e.argv[0] === 'deploy');
    assert.equal(deploys.length, 2);
    assert.ok(deploys.every((e) => !e.secrets), 'no secret uploaded again');
  });

  test('a client secret set on one side only is not regenerated: it must be given', () => {
    const half = { 'session-store/wrangler.toml': ['CLIENT_SECRET', 'SIGNING_KEY', 'DEMO_USERS'], 'wrangler.toml': ['COOKIE_KEYS', 'ASSERTION_KEY'] };
    const r = run(c, [], { STUB_SECRETS: JSON.stringify(half) });
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /CLIENT_SECRET is needed/);
    assert.ok(!r.calls.some((e) => e.argv[0] === 'deploy' && !e.argv.includes('--dry-run')), 'nothing deployed');
  });

  test('not logged in: stops before anything', () => {
    const r = run(repoCopy(), [], { ...HOSTS, STUB_LOGGED_IN: '0' });
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /not logged in to Cloudflare: run `npx wrangler login`/);
    assert.deepEqual(r.calls.map((e) => e.argv[0]), ['whoami']);
  });

  test('placeholders left and no hostnames given (not a terminal): stops and names the input', () => {
    const r = run(repoCopy(), [], {});
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /APP_HOST is needed/);
  });
});
