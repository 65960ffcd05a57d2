#!/usr/bin/env node
// The deploy path (README, "Deploy"); run through scripts/deploy.sh (`npm run deploy`).
//
// --dry-run (no account, no network): `wrangler deploy --dry-run --env production --outdir`
// for every worker, the bundle sizes, then the checks below; exit 1 when one fails.
// Otherwise: the same checks, then `wrangler whoami`, the placeholders of the production
// configs replaced by your hostnames, the KV namespace created if missing (its id written into
// wrangler.toml), each missing secret generated or asked for, and `wrangler deploy --env
// production` for the store, the edge, then the demo (--with-demo); the URLs are printed.
//
// The checks: no dev secret (a value of any worker's .dev.vars.example or .dev.vars, or of the
// test keys in tests/keys/) appears in a production bundle, in the production config wrangler
// resolves (vars included) or in what the dry run prints; no secret name is a var; no dev URL
// (loopback, *.internal, plain http) in a production var; every production config has
// workers_dev = false, observability on and the repository's one compatibility date, the
// edge's a route or custom domain. A finding names the secret and where it was found, never
// its value.
//
// Inputs (asked for on a terminal when missing; required otherwise):
//   APP_HOST       the app's hostname, served by the edge (replaces app.example.com)
//   STORE_HOST     the reference store's hostname (replaces auth.example.com)
//   UPSTREAM_HOST  the application's origin hostname (replaces origin.example.com)
//   CLIENT_SECRET, COOKIE_KEYS, ASSERTION_KEY, SIGNING_KEY, DEMO_USERS: a secret's value, used
//                  only when that secret is not set on the worker yet; else generated (client
//                  secret, cookie key, assertion key, signing key) or asked for (DEMO_USERS: a
//                  first user and password)
//   WRANGLER       the wrangler binary (default node_modules/.bin/wrangler; tests use a stub)
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import zlib from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WRANGLER = process.env.WRANGLER || path.join(ROOT, 'node_modules/.bin/wrangler');
const ENV = 'production';

/** Deploy order: the store before the edge that calls it, the demo (the edge's upstream) last. */
const WORKERS = [
  { id: 'session-store', config: 'session-store/wrangler.toml', dir: 'session-store', secrets: ['CLIENT_SECRET', 'SIGNING_KEY', 'DEMO_USERS'] },
  { id: 'edge', config: 'wrangler.toml', dir: '.', secrets: ['CLIENT_SECRET', 'COOKIE_KEYS', 'ASSERTION_KEY'] },
  { id: 'demo', config: 'demo/wrangler.toml', dir: 'demo', secrets: [] },
];
const PLACEHOLDERS = [
  { input: 'APP_HOST', host: 'app.example.com', what: "the app's hostname, served by the edge" },
  { input: 'STORE_HOST', host: 'auth.example.com', what: "the reference session store's hostname" },
  { input: 'UPSTREAM_HOST', host: 'origin.example.com', what: "the application's origin hostname (the demo app's with --with-demo)" },
];
const KV_PLACEHOLDER = 'REPLACE_WITH_REVOCATIONS_NAMESPACE_ID';
const KV_TITLE = 'edge-session-revocations';
/** Shortest dev-secret fragment searched for (shorter ones would match by chance). */
const MIN_NEEDLE = 16;

const log = (msg) => console.error(`[deploy] ${msg}`);
class Fail extends Error {}

const USAGE = `usage: bash scripts/deploy.sh [--dry-run] [--with-demo] [--no-store] [--only WORKER]
  --dry-run     build and check every worker with production settings; no account needed
  --with-demo   also deploy the demo app (as the edge's upstream); try-out only
  --no-store    do not deploy the reference store (the edge talks to Transmit or your own store)
  --only W      only this worker: session-store, edge or demo
Inputs: APP_HOST, STORE_HOST, UPSTREAM_HOST; CLIENT_SECRET, COOKIE_KEYS, SIGNING_KEY, DEMO_USERS
(README, "Deploy").`;

function parseArgs(argv) {
  const o = { dryRun: false, withDemo: false, store: true, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dry-run') o.dryRun = true;
    else if (a === '--with-demo') o.withDemo = true;
    else if (a === '--no-store') o.store = false;
    else if (a === '--only') o.only = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Fail(`unknown argument ${a}\n${USAGE}`);
  }
  if (o.only && !WORKERS.some((w) => w.id === o.only)) throw new Fail(`--only: no worker ${o.only}`);
  return o;
}

function selected(o) {
  if (o.only) return WORKERS.filter((w) => w.id === o.only);
  if (o.dryRun) return WORKERS;
  return WORKERS.filter((w) => (w.id !== 'session-store' || o.store) && (w.id !== 'demo' || o.withDemo));
}

function wrangler(args, { input } = {}) {
  const r = spawnSync(WRANGLER, args, { cwd: ROOT, encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.error) throw new Fail(`cannot run ${WRANGLER}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

// ---------------------------------------------------------------------------------------------
// configuration

let readConfig;
/** The config wrangler resolves for `--env production` (its warnings are the dry run's to print). */
async function productionConfig(w) {
  readConfig ??= (await import('wrangler')).unstable_readConfig;
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'error';
  try {
    return readConfig({ config: path.join(ROOT, w.config), env: ENV });
  } finally {
    if (level === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = level;
  }
}

const configText = (w) => fs.readFileSync(path.join(ROOT, w.config), 'utf8');

/**
 * The dev secrets: the value of every secret in each worker's .dev.vars.example and .dev.vars
 * (a .dev.vars may also override plain vars for local runs: those are not secrets), and the
 * test keys.
 */
function devSecrets() {
  const out = [];
  const names = secretNames();
  for (const w of WORKERS) {
    for (const file of ['.dev.vars.example', '.dev.vars']) {
      const p = path.join(ROOT, w.dir, file);
      if (!fs.existsSync(p)) continue;
      for (const [name, value] of Object.entries(parseEnv(fs.readFileSync(p, 'utf8')))) {
        if (value && names.has(name)) out.push({ source: `${path.join(w.dir, file)} ${name}`, value });
      }
    }
  }
  const keys = path.join(ROOT, 'tests/keys');
  if (fs.existsSync(keys)) {
    for (const f of fs.readdirSync(keys).filter((f) => f.endsWith('.jwk.json'))) {
      out.push({ source: `tests/keys/${f}`, value: fs.readFileSync(path.join(keys, f), 'utf8').trim() });
    }
  }
  return out;
}

/** The fragments of a secret searched for: the value, its JSON string leaves, its list items. */
function needles(value) {
  const found = new Set([value.trim()]);
  const walk = (v) => {
    if (typeof v === 'string') found.add(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  try {
    walk(JSON.parse(value));
  } catch {
    for (const part of value.split(',')) found.add(part.trim());
  }
  return [...found].filter((n) => n.length >= MIN_NEEDLE);
}

/** Names every secret has in some worker (a var must never carry one of them). */
function secretNames() {
  const names = new Set(WORKERS.flatMap((w) => w.secrets));
  names.add('SIGNING_KEY_PREVIOUS');
  for (const w of WORKERS) {
    const p = path.join(ROOT, w.dir, '.dev.vars.example');
    if (fs.existsSync(p)) Object.keys(parseEnv(fs.readFileSync(p, 'utf8'))).forEach((k) => names.add(k));
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// the dry run and its checks

function bundleFiles(dir) {
  return fs
    .readdirSync(dir, { recursive: true })
    .map((f) => path.join(dir, f))
    .filter((p) => fs.statSync(p).isFile());
}

/** gzip -9 size, as the README's size budget counts it (zlib's when there is no gzip). */
function gzipSize(file) {
  const r = spawnSync('gzip', ['-9', '-c', file], { maxBuffer: 64 << 20 });
  return r.status === 0 ? r.stdout.length : zlib.gzipSync(fs.readFileSync(file), { level: 9 }).length;
}

function printSizes(w, outdir, printed) {
  const files = bundleFiles(outdir).filter((p) => !p.endsWith('.map') && path.basename(p) !== 'README.md');
  let raw = 0;
  let gz = 0;
  for (const p of files) {
    const bytes = fs.readFileSync(p);
    const g = gzipSize(p);
    raw += bytes.length;
    gz += g;
    console.log(`  ${w.id.padEnd(14)} ${path.relative(outdir, p).padEnd(56)} ${String(bytes.length).padStart(9)} B  gzip -9 ${String(g).padStart(8)} B`);
  }
  const total = /Total Upload: [^\n]*/.exec(printed)?.[0] ?? '';
  console.log(`  ${w.id.padEnd(14)} ${'total'.padEnd(56)} ${String(raw).padStart(9)} B  gzip -9 ${String(gz).padStart(8)} B   (wrangler: ${total})`);
}

/** Where each dev secret shows up among `haystacks` ({ where, text }). */
function leaks(haystacks) {
  const found = [];
  for (const s of devSecrets()) {
    for (const n of needles(s.value)) {
      const hit = haystacks.find((h) => h.text.includes(n));
      if (hit) {
        found.push(`dev secret ${s.source} found in ${hit.where}`);
        break;
      }
    }
  }
  return found;
}

function structure(w, config, date) {
  const p = [];
  const at = `${w.config} [env.${ENV}]`;
  if (config.workers_dev !== false) p.push(`${at}: workers_dev must be false (the app's hostname only)`);
  // The edge must own the app's hostname (its cookies are __Host-); the store and the demo may
  // be reachable through a service binding only.
  if (w.id === 'edge' && !(config.routes?.length > 0)) p.push(`${at}: no routes: the edge needs the app's hostname (a custom domain or a route)`);
  if (config.observability?.enabled !== true) p.push(`${at}: [observability] enabled = true is missing`);
  if (config.compatibility_date !== date) p.push(`${at}: compatibility_date ${config.compatibility_date}, not the repository's ${date}`);
  const names = secretNames();
  for (const [k, v] of Object.entries(config.vars ?? {})) {
    if (names.has(k)) p.push(`${at}: ${k} is a secret: set it with \`wrangler secret put ${k} --env ${ENV}\`, not as a var`);
    if (typeof v === 'string' && /^http:\/\/|\/\/(127\.|localhost|\[::1\])|\.internal(?=[:/]|$)/.test(v)) {
      p.push(`${at}: var ${k} is a dev URL (loopback, *.internal or plain http)`);
    }
  }
  for (const want of w.secrets) {
    if (!config.secrets?.required?.includes(want)) p.push(`${at}: [env.${ENV}.secrets] required lacks ${want}`);
  }
  return p;
}

async function dryRun(workers) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-session-dry-run-'));
  const problems = [];
  try {
    const date = (await productionConfig(WORKERS.find((w) => w.id === 'edge'))).compatibility_date;
    console.log('bundle sizes (production settings):');
    for (const w of workers) {
      const outdir = path.join(tmp, w.id);
      const r = wrangler(['deploy', '--dry-run', '--env', ENV, '-c', w.config, '--outdir', outdir]);
      const printed = r.stdout + r.stderr;
      if (r.status !== 0) throw new Fail(`wrangler deploy --dry-run failed for ${w.id}:\n${printed}`);
      printSizes(w, outdir, printed);
      const config = await productionConfig(w);
      problems.push(...structure(w, config, date));
      const haystacks = [
        { where: `the production config of ${w.config} (vars included)`, text: JSON.stringify(config) },
        { where: `what \`wrangler deploy --dry-run\` printed for ${w.id}`, text: printed },
        ...bundleFiles(outdir).map((p) => ({ where: `the ${w.id} bundle (${path.relative(outdir, p)})`, text: fs.readFileSync(p, 'latin1') })),
      ];
      problems.push(...leaks(haystacks));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (problems.length) throw new Fail(`the production settings are not safe to deploy:\n  - ${problems.join('\n  - ')}`);
  console.log(`checked ${workers.map((w) => w.id).join(', ')}: no dev secret in a production bundle, var or printout; production settings in order`);
}

// ---------------------------------------------------------------------------------------------
// interactive input

const interactive = () => process.stdin.isTTY && process.stderr.isTTY;

function ask(question, { hidden = false } = {}) {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) rl._writeToOutput = (s) => rl.output.write(s.includes(question) ? s : '');
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) process.stderr.write('\n');
      resolve(answer.trim());
    });
  });
}

async function input(name, what, { hidden = false } = {}) {
  if (process.env[name]) return process.env[name];
  if (!interactive()) throw new Fail(`${name} is needed (${what}): set it in the environment`);
  const v = await ask(`${what} (${name}): `, { hidden });
  if (!v) throw new Fail(`${name}: no value given`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// the real deploy

function checkLogin() {
  const r = wrangler(['whoami', '--json']);
  if (r.status !== 0) {
    throw new Fail('not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then deploy again');
  }
  let who = '';
  try {
    const j = JSON.parse(r.stdout);
    who = j.email ?? j.accounts?.[0]?.name ?? '';
  } catch {
    who = '';
  }
  log(`logged in${who ? ` as ${who}` : ''}`);
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Replaces each placeholder hostname still in the configs of `workers` by the user's. */
async function fillPlaceholders(workers, o) {
  for (const ph of PLACEHOLDERS) {
    const holders = WORKERS.filter((w) => configText(w).includes(`"${ph.host}`) || configText(w).includes(`//${ph.host}`));
    if (!holders.some((w) => workers.includes(w))) continue;
    if (ph.input === 'STORE_HOST' && !o.store) {
      throw new Fail(`wrangler.toml [env.${ENV}.vars] still names ${ph.host}: point ISSUER, JWKS_URL and SESSION_STORE_URL at your session store (README, "Against Transmit")`);
    }
    const host = (await input(ph.input, ph.what)).toLowerCase();
    if (!HOSTNAME.test(host) || host.endsWith('.example.com')) throw new Fail(`${ph.input}: "${host}" is not a hostname of yours`);
    for (const w of holders) {
      fs.writeFileSync(path.join(ROOT, w.config), configText(w).replaceAll(ph.host, host));
      log(`${w.config}: ${ph.host} -> ${host}`);
    }
  }
}

/**
 * The REVOCATIONS namespace: found by title or created; its id written into every config that
 * binds it (the edge reads it, the reference store writes the sessions that end there).
 */
function ensureKv() {
  const holders = WORKERS.filter((w) => configText(w).includes(KV_PLACEHOLDER));
  if (holders.length === 0) return;
  const list = wrangler(['kv', 'namespace', 'list']);
  if (list.status !== 0) throw new Fail(`wrangler kv namespace list failed:\n${list.stdout}${list.stderr}`);
  let id = JSON.parse(list.stdout).find((n) => n.title === KV_TITLE)?.id;
  if (id) log(`KV namespace ${KV_TITLE} exists (${id})`);
  else {
    const r = wrangler(['kv', 'namespace', 'create', KV_TITLE]);
    id = /\bid"?\s*[:=]\s*"([0-9a-f]{32})"/.exec(r.stdout + r.stderr)?.[1];
    if (r.status !== 0 || !id) throw new Fail(`wrangler kv namespace create ${KV_TITLE} failed:\n${r.stdout}${r.stderr}`);
    log(`created KV namespace ${KV_TITLE} (${id})`);
  }
  for (const w of holders) {
    fs.writeFileSync(path.join(ROOT, w.config), configText(w).replace(KV_PLACEHOLDER, id));
    log(`${w.config}: [[env.${ENV}.kv_namespaces]] REVOCATIONS id = ${id}`);
  }
}

/** The secret names already set on the deployed worker (none when it does not exist yet). */
function secretsSet(w) {
  const r = wrangler(['secret', 'list', '--env', ENV, '-c', w.config, '--format', 'json']);
  if (r.status === 0) return new Set(JSON.parse(r.stdout).map((s) => s.name));
  if (/not found|does not exist/i.test(r.stdout + r.stderr)) return new Set();
  throw new Fail(`wrangler secret list failed for ${w.id}:\n${r.stdout}${r.stderr}`);
}

const randomKey = () => crypto.randomBytes(32).toString('base64url');

/** A new private P-256 JWK for the edge's identity assertion (scripts/gen-assertion-key.mjs). */
function assertionKey() {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/gen-assertion-key.mjs')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Fail(`scripts/gen-assertion-key.mjs failed: ${r.stderr}`);
  return r.stdout.trim();
}

function signingKey() {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'session-store/scripts/gen-jwk.mjs'), 'es256'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Fail(`session-store/scripts/gen-jwk.mjs failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function firstUser() {
  if (process.env.DEMO_USERS) return process.env.DEMO_USERS;
  if (!interactive()) throw new Fail('DEMO_USERS is needed (the store\'s users, JSON with argon2id hashes: session-store/README.md): set it in the environment');
  const username = await ask('the store has no users yet: first username: ');
  const password = await ask(`password for ${username}: `, { hidden: true });
  if (!username || password.length < 12) throw new Fail('a username and a password of at least 12 characters are needed');
  log('hashing the password (argon2id; builds the hasher the first time)');
  const r = spawnSync('cargo', ['run', '-q', '--release', '-p', 'session-store', '--example', 'hash_password'], { cwd: ROOT, input: password, encoding: 'utf8' });
  if (r.status !== 0) throw new Fail(`hashing failed: ${r.stderr}`);
  return JSON.stringify([{ user_id: `user-${crypto.randomUUID()}`, username, roles: ['admin', 'user'], password_hash: r.stdout.trim() }]);
}

/** The secrets each worker lacks, with their values: { workerId: { NAME: value } }. */
async function missingSecrets(workers, o) {
  const have = Object.fromEntries(workers.filter((w) => w.secrets.length).map((w) => [w.id, secretsSet(w)]));
  const lacks = (id, name) => have[id] && !have[id].has(name);
  const out = Object.fromEntries(workers.map((w) => [w.id, {}]));
  // The client secret is shared: generated only when neither side has one.
  const sides = ['session-store', 'edge'].filter((id) => have[id]);
  const needClient = sides.filter((id) => lacks(id, 'CLIENT_SECRET'));
  if (needClient.length) {
    let v = process.env.CLIENT_SECRET;
    if (!v && o.store && needClient.length === sides.length && sides.length === 2) v = randomKey();
    v ??= await input('CLIENT_SECRET', o.store ? 'the client secret the store already has' : "your session store's client secret", { hidden: true });
    for (const id of needClient) out[id].CLIENT_SECRET = v;
  }
  if (lacks('edge', 'COOKIE_KEYS')) out.edge.COOKIE_KEYS = process.env.COOKIE_KEYS || randomKey();
  if (lacks('edge', 'ASSERTION_KEY')) out.edge.ASSERTION_KEY = process.env.ASSERTION_KEY || assertionKey();
  if (lacks('session-store', 'SIGNING_KEY')) out['session-store'].SIGNING_KEY = process.env.SIGNING_KEY || signingKey();
  if (lacks('session-store', 'DEMO_USERS')) out['session-store'].DEMO_USERS = await firstUser();
  return out;
}

function deployWorker(w, secrets, tmp) {
  const args = ['deploy', '--env', ENV, '-c', w.config];
  const names = Object.keys(secrets);
  if (names.length) {
    const file = path.join(tmp, `${w.id}.secrets.json`);
    fs.writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
    args.push('--secrets-file', file);
    log(`${w.id}: setting ${names.join(', ')}`);
  }
  log(`deploying ${w.id}`);
  const r = spawnSync(WRANGLER, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Fail(`wrangler deploy failed for ${w.id}`);
}

async function deploy(workers, o) {
  checkLogin();
  await fillPlaceholders(workers, o);
  if (workers.some((w) => w.id === 'edge')) ensureKv();
  await dryRun(workers);
  const secrets = await missingSecrets(workers, o);
  // The secrets files (0600, in a 0700 directory) go when the deploy ends, however it ends.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-session-deploy-'));
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  process.on('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));
  try {
    for (const w of workers) deployWorker(w, secrets[w.id], tmp);
  } finally {
    cleanup();
  }
  console.log('deployed:');
  for (const w of workers) {
    const routes = (await productionConfig(w)).routes ?? [];
    for (const r of routes) console.log(`  ${w.id.padEnd(14)} https://${(typeof r === 'string' ? r : r.pattern).replace(/\/\*$/, '')}/`);
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const workers = selected(o);
  if (o.dryRun) await dryRun(workers);
  else await deploy(workers, o);
}

main().catch((e) => {
  if (!(e instanceof Fail)) throw e;
  log(`FAILED: ${e.message}`);
  process.exit(1);
});
