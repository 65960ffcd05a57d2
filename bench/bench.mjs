// Benchmark harness: passthrough vs edge-session vs a Hono + jose peer, side by side, in one run,
// on loopback. See bench/README.md. Prints numbers; never part of the test suite.
//
// Every worker runs in one Miniflare (workerd) process and is reached through its own direct
// socket (`unsafeDirectSockets`), not through wrangler's dev proxy. All of them forward to the
// same node http upstream. wrk drives one worker at a time; for each algorithm and mode the
// passthrough is measured again right next to the others, so every ratio compares numbers taken
// within a few seconds of each other.
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bundleReport } from './bundle.mjs';

import { COMPATIBILITY_DATE } from '../tests/edge/harness.mjs';

process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const OUT = path.join(HERE, '.out');
const env = (k, d) => process.env[k] ?? d;
const CFG = {
  script: path.resolve(env('EDGE_WORKER_SCRIPT', path.join(ROOT, 'build/worker/shim.mjs'))),
  duration: Number(env('BENCH_DURATION', 5)),
  warmup: Number(env('BENCH_WARMUP', 2)),
  connections: Number(env('BENCH_CONNECTIONS', 16)),
  threads: Number(env('BENCH_THREADS', 1)),
  pool: Number(env('BENCH_POOL', 2048)),
  algs: env('BENCH_ALGS', 'ES256,RS256,Ed25519').split(',').map((s) => s.trim()),
  modes: env('BENCH_MODES', 'warm,cold').split(',').map((s) => s.trim()),
  runs: Number(env('BENCH_RUNS', 1)),
  peerNoKv: env('BENCH_PEER_NOKV', '1') !== '0',
  shape: env('BENCH_SHAPE', '1') !== '0',
  fullPath: env('BENCH_FULL_PATH', '1') !== '0',
  assertion: env('BENCH_ASSERTION', '1') !== '0',
};
// The edge's verified-token cache holds 1024 entries by default; a larger pool rotated in order
// makes every request of the cold mode a miss.
const EDGE_TOKEN_CACHE_ENTRIES = 1024;
const ISSUER = 'https://idp.bench.example';
const AUDIENCE = 'bench-api';

const log = (...a) => console.error('[bench]', ...a);

// ---------------------------------------------------------------------------------------------
// keys and tokens (node:crypto)

const KINDS = {
  ES256: { gen: () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }), jwsAlg: 'ES256' },
  RS256: { gen: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }), jwsAlg: 'RS256' },
  Ed25519: { gen: () => crypto.generateKeyPairSync('ed25519'), jwsAlg: 'EdDSA' },
};

function makeKey(name) {
  const { gen, jwsAlg } = KINDS[name];
  const pair = gen();
  const kid = `bench-${name.toLowerCase()}`;
  return { name, kid, jwsAlg, privateKey: pair.privateKey, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: jwsAlg, use: 'sig' } };
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');

function mint(key, claims) {
  const input = `${b64u(JSON.stringify({ alg: key.jwsAlg, typ: 'at+jwt', kid: key.kid }))}.${b64u(JSON.stringify(claims))}`;
  const data = Buffer.from(input);
  const sig =
    key.jwsAlg === 'ES256'
      ? crypto.sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : key.jwsAlg === 'RS256'
        ? crypto.sign('sha256', data, key.privateKey)
        : crypto.sign(null, data, key.privateKey);
  return `${input}.${b64u(sig)}`;
}

function tokenPool(key, count) {
  const now = Math.floor(Date.now() / 1000);
  const out = [];
  for (let i = 0; i < count; i++) {
    out.push(
      mint(key, {
        iss: ISSUER,
        sub: `user-${i % 97}`,
        aud: AUDIENCE,
        exp: now + 3600,
        iat: now,
        jti: `jti-${i}-${crypto.randomBytes(6).toString('hex')}`,
        client_id: 'bench-client',
        sid: `sess-${i}`,
        roles: ['reader', 'writer'],
        scope: 'openid profile',
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// upstream and workers

function startUpstream() {
  const body = JSON.stringify({ ok: true });
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })),
  );
}

async function bundlePeer() {
  const esbuild = await import('esbuild');
  const outfile = path.join(OUT, 'peer.mjs');
  await esbuild.build({
    entryPoints: [path.join(HERE, 'workers/peer.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    minify: true,
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

/** A private P-256 JWK for ASSERTION_KEY. */
function assertionKey() {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return JSON.stringify({ kty, crv, x, y, d, kid: 'bench-assertion' });
}

async function startWorkers(upstream, jwksDoc, peerScript) {
  const { Miniflare, Log, LogLevel } = await import('miniflare');
  const common = { modules: true, compatibilityDate: COMPATIBILITY_DATE, kvNamespaces: ['REVOCATIONS'], unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] };
  const peerBindings = { JWKS: jwksDoc, ISSUER, AUDIENCE, UPSTREAM: upstream, LEEWAY_SECONDS: '30' };
  const edge = {
    ...common,
    name: 'edge',
    scriptPath: CFG.script,
    modulesRoot: path.resolve(path.dirname(CFG.script), '..'),
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
    bindings: { ISSUER, AUDIENCE, JWKS: jwksDoc, UPSTREAM: upstream, LEEWAY_SECONDS: '30', TOKEN_CACHE_ENTRIES: String(EDGE_TOKEN_CACHE_ENTRIES) },
  };
  const workers = [
    { ...common, name: 'passthrough', scriptPath: path.join(HERE, 'workers/passthrough.mjs'), bindings: { UPSTREAM: upstream } },
    edge,
    { ...common, name: 'peer', scriptPath: peerScript, bindings: { ...peerBindings, CHECK_REVOCATION: '1' } },
  ];
  // The same build with the fast path off: what the fast path is worth, in the same run.
  if (CFG.fullPath) workers.splice(2, 0, { ...edge, name: 'edge-full', bindings: { ...edge.bindings, FAST_PATH: 'false' } });
  // The same build signing the identity assertion (ASSERTION_KEY): what the assertion costs.
  if (CFG.assertion) workers.splice(2, 0, { ...edge, name: 'edge-assert', bindings: { ...edge.bindings, ASSERTION_KEY: assertionKey() } });
  if (CFG.peerNoKv) workers.push({ ...common, name: 'peer-nokv', scriptPath: peerScript, bindings: { ...peerBindings, CHECK_REVOCATION: '0' } });
  if (CFG.shape) workers.push({ ...common, name: 'shape', scriptPath: path.join(HERE, 'workers/shape.mjs'), bindings: { UPSTREAM: upstream } });
  const started = Date.now();
  const mf = new Miniflare({ workers, cf: false, log: new Log(process.env.BENCH_LOG ? LogLevel.DEBUG : LogLevel.WARN) });
  await mf.ready;
  const urls = {};
  for (const w of workers) urls[w.name] = (await mf.unsafeGetDirectURL(w.name)).href;
  return { mf, urls, names: workers.map((w) => w.name), readyMs: Date.now() - started };
}

async function get(url, token) {
  const t0 = process.hrtime.bigint();
  const r = await fetch(new URL('/api/items', url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  await r.arrayBuffer();
  return { status: r.status, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

/** Each gate answers 200 to a valid token and 401 to a tampered one, or the numbers mean nothing. */
async function sanity(urls, names, tokens) {
  for (const name of names) {
    for (const [alg, pool] of Object.entries(tokens)) {
      const ok = await get(urls[name], pool[0]);
      if (ok.status !== 200) throw new Error(`${name} answered ${ok.status} to a valid ${alg} token`);
      if (name === 'passthrough' || name === 'shape') continue;
      const t = pool[1];
      const cut = t.lastIndexOf('.') + 10; // a character in the middle of the signature
      const bad = t.slice(0, cut) + (t[cut] === 'A' ? 'B' : 'A') + t.slice(cut + 1);
      const r = await get(urls[name], bad);
      if (r.status !== 401) throw new Error(`${name} answered ${r.status} to a tampered ${alg} token`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// load

function wrk(url, tokensFile, seconds) {
  const args = [`-t${CFG.threads}`, `-c${CFG.connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', path.join(HERE, 'wrk.lua'), new URL('/api/items', url).href];
  return new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { env: { ...process.env, TOKENS: tokensFile } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}: ${err || out}`));
      const r = JSON.parse(line);
      r.rps = r.requests / (r.duration_us / 1e6);
      r.errors = r.connect_errors + r.read_errors + r.write_errors + r.timeouts + r.non2xx;
      resolve(r);
    });
  });
}

async function measure(url, tokensFile) {
  if (CFG.warmup > 0) await wrk(url, tokensFile, CFG.warmup);
  return wrk(url, tokensFile, CFG.duration);
}

// ---------------------------------------------------------------------------------------------
// report

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);

function printRun(results, names) {
  console.log('');
  console.log(`${pad('alg', 8)}${pad('mode', 6)}${pad('worker', 13)}${lpad('req/s', 8)}${lpad('p50 ms', 9)}${lpad('p99 ms', 9)}${lpad('errors', 8)}`);
  for (const r of results) {
    for (const name of names) {
      const m = r.m[name];
      console.log(`${pad(r.alg, 8)}${pad(r.mode, 6)}${pad(name, 13)}${lpad(fmt(m.rps), 8)}${lpad(fmt(m.p50_us / 1000, 2), 9)}${lpad(fmt(m.p99_us / 1000, 2), 9)}${lpad(m.errors, 8)}`);
    }
  }
  console.log('');
  const hasNoKv = names.includes('peer-nokv');
  const hasShape = names.includes('shape');
  const hasFull = names.includes('edge-full');
  const hasAssert = names.includes('edge-assert');
  console.log(`${pad('alg', 8)}${pad('mode', 6)}${lpad('edge/pass', 10)}${lpad('edge/peer', 10)}${hasNoKv ? lpad('edge/peer-nokv', 15) : ''}${hasShape ? lpad('edge/shape', 11) + lpad('shape/pass', 11) : ''}${hasFull ? lpad('edge/full', 10) : ''}${hasAssert ? lpad('assert/edge', 12) : ''}   target`);
  for (const r of results) {
    const e = r.m.edge.rps;
    const vsPass = e / r.m.passthrough.rps;
    const vsPeer = e / r.m.peer.rps;
    const target =
      r.mode === 'warm'
        ? `edge/pass >= 0.90: ${vsPass >= 0.9 ? 'met' : 'NOT met'}; edge/peer >= 1.50: ${vsPeer >= 1.5 ? 'met' : 'NOT met'}`
        : `edge/peer >= 1.00: ${vsPeer >= 1.0 ? 'met' : 'NOT met'}`;
    const shapeCols = hasShape ? lpad(fmt(e / r.m.shape.rps, 2), 11) + lpad(fmt(r.m.shape.rps / r.m.passthrough.rps, 2), 11) : '';
    const fullCol = hasFull ? lpad(fmt(e / r.m['edge-full'].rps, 2), 10) : '';
    const assertCol = hasAssert ? lpad(fmt(r.m['edge-assert'].rps / e, 2), 12) : '';
    console.log(`${pad(r.alg, 8)}${pad(r.mode, 6)}${lpad(fmt(vsPass, 2), 10)}${lpad(fmt(vsPeer, 2), 10)}${hasNoKv ? lpad(fmt(e / r.m['peer-nokv'].rps, 2), 15) : ''}${shapeCols}${fullCol}${assertCol}   ${target}`);
  }
}

function printSpread(runs, names) {
  console.log('');
  console.log(`Spread over ${runs.length} runs (min .. max req/s; ratios min .. max)`);
  const cells = runs[0].map((r, i) => ({ alg: r.alg, mode: r.mode, all: runs.map((run) => run[i]) }));
  const range = (xs, d = 0) => `${fmt(Math.min(...xs), d)} .. ${fmt(Math.max(...xs), d)}`;
  for (const c of cells) {
    const parts = names.map((n) => `${n} ${range(c.all.map((r) => r.m[n].rps))}`);
    const ep = range(c.all.map((r) => r.m.edge.rps / r.m.passthrough.rps), 2);
    const epeer = range(c.all.map((r) => r.m.edge.rps / r.m.peer.rps), 2);
    const shape = names.includes('shape')
      ? ` | edge/shape ${range(c.all.map((r) => r.m.edge.rps / r.m.shape.rps), 2)} | shape/pass ${range(c.all.map((r) => r.m.shape.rps / r.m.passthrough.rps), 2)}`
      : '';
    const full = names.includes('edge-full') ? ` | edge/full ${range(c.all.map((r) => r.m.edge.rps / r.m['edge-full'].rps), 2)}` : '';
    const assert = names.includes('edge-assert') ? ` | assert/edge ${range(c.all.map((r) => r.m['edge-assert'].rps / r.m.edge.rps), 2)}` : '';
    console.log(`${pad(c.alg, 8)}${pad(c.mode, 6)}${parts.join(' | ')} | edge/pass ${ep} | edge/peer ${epeer}${shape}${full}${assert}`);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  if (!fs.existsSync(CFG.script)) throw new Error(`${CFG.script} is missing: build the worker first (bash bench/run.sh builds it)`);
  log(`worker ${path.relative(ROOT, CFG.script)}; wrk -t${CFG.threads} -c${CFG.connections}, ${CFG.warmup}s warm-up + ${CFG.duration}s per measurement, cold pool ${CFG.pool} tokens`);

  const keys = CFG.algs.map(makeKey);
  const jwksDoc = JSON.stringify({ keys: keys.map((k) => k.jwk) });
  const tokens = {};
  const files = {};
  for (const k of keys) {
    tokens[k.name] = tokenPool(k, Math.max(CFG.pool, 2));
    files[k.name] = { warm: path.join(OUT, `tokens-${k.name}-warm.txt`), cold: path.join(OUT, `tokens-${k.name}-cold.txt`) };
    fs.writeFileSync(files[k.name].warm, `${tokens[k.name][0]}\n`);
    fs.writeFileSync(files[k.name].cold, `${tokens[k.name].join('\n')}\n`);
  }
  const upstream = await startUpstream();
  const peerScript = await bundlePeer();
  const w = await startWorkers(upstream.url, jwksDoc, peerScript);
  log(`workers ready in ${w.readyMs} ms: ${w.names.map((n) => `${n} ${w.urls[n]}`).join(', ')}`);
  try {
    await sanity(w.urls, w.names, tokens);
    const runs = [];
    for (let run = 1; run <= CFG.runs; run++) {
      const results = [];
      for (const alg of CFG.algs) {
        for (const mode of CFG.modes) {
          const m = {};
          for (const name of w.names) {
            m[name] = await measure(w.urls[name], files[alg][mode]);
            log(`run ${run} ${alg} ${mode} ${name}: ${fmt(m[name].rps)} req/s, p50 ${fmt(m[name].p50_us / 1000, 2)} ms, p99 ${fmt(m[name].p99_us / 1000, 2)} ms${m[name].errors ? `, ${m[name].errors} errors` : ''}`);
          }
          results.push({ alg, mode, m });
        }
      }
      runs.push(results);
      console.log(`\n== run ${run} of ${CFG.runs} ==`);
      printRun(results, w.names);
    }
    if (runs.length > 1) printSpread(runs, w.names);
    const report = await bundleReport(CFG.script);
    console.log('');
    console.log(`bundle: ${report.wasm}`);
    console.log(`  wasm raw ${report.raw} B (${fmt(report.raw / 1024, 1)} KiB), gzip -9 ${report.gzip} B (${fmt(report.gzip / 1024, 1)} KiB; budget 300 KB: ${report.gzip <= 300_000 ? 'met' : 'NOT met'})`);
    console.log(`  instantiate in workerd ${fmt(report.instantiateMs, 1)} ms (start-up with the edge worker ${fmt(report.edgeStartMs, 0)} ms - with a trivial JS worker ${fmt(report.trivialStartMs, 0)} ms, medians of ${report.samples})`);
    console.log(`  first request after start: edge ${fmt(report.edgeFirstRequestMs, 1)} ms, trivial JS worker ${fmt(report.trivialFirstRequestMs, 1)} ms`);
    console.log('');
    console.log('Both gates read revocations from KV (session + user-wide). edge-session keeps answers in an');
    console.log('isolate cache (REVOCATION_CACHE_SECONDS, default 10 s); the peer reads KV on every request.');
    console.log('edge/peer-nokv compares against the peer without its KV reads.');
    if (CFG.fullPath) console.log('edge-full is the same build with FAST_PATH=false (every request on the async full path).');
    if (CFG.shape) {
      console.log('shape (bench/workers/shape.mjs) does only the request/response reshaping of the edge, in JS,');
      console.log('with no check at all: shape/pass is the ceiling for any gate that keeps that contract.');
    }
    const file = path.join(OUT, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(file, JSON.stringify({ config: CFG, runs, bundle: report }, null, 2));
    log(`results written to ${path.relative(ROOT, file)}`);
  } finally {
    await w.mf.dispose();
    upstream.server.closeAllConnections?.();
    await new Promise((r) => upstream.server.close(r));
  }
}

export { CFG, OUT, makeKey, tokenPool, startUpstream, wrk };

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error('[bench] failed:', e?.stack ?? e);
    process.exit(1);
  });
}
