// Where does a worker's time go? Runs one worker at a time under wrk with V8's sampling profiler
// attached through workerd's inspector, and prints the functions with the most self time and
// that self time grouped into what a gate does per request (bench/profile-categories.mjs), in
// µs per request. A diagnostic for the hot-path work, not part of bench/run.sh.
//   node bench/profile.mjs [edge|passthrough|shape|peer|peer-cached|peer-nokv][,...] [warm|cold|first] [ES256|RS256|Ed25519]
// `first` profiles the first request after start alone (sampling every 20 µs): start-up work
// the later requests do not repeat (config, key import, lazy compilation).
// Several workers (e.g. `edge,shape`) are profiled one after the other and compared side by
// side, the first minus the second per category.
// PROFILE_BINDINGS='{"FAST_PATH":"false"}' adds bindings to the edge (here: the full path only);
// PROFILE_SECONDS (5), PROFILE_WARMUP (2), PROFILE_TOP (25) functions, PROFILE_DETAIL (3)
// deciding frames listed under each category.
// Wasm function names need a build that keeps the name section:
//   NO_MINIFY=1 CARGO_PROFILE_RELEASE_STRIP=false bash scripts/build-edge.sh -d bench/.out/prof-build
//   EDGE_WORKER_SCRIPT=bench/.out/prof-build/worker/shim.mjs node bench/profile.mjs edge,shape cold ES256
// The peers are bundled unminified (bench/.out/<name>-prof.mjs) so that jose's and Hono's
// function names show.
// Sampling every 100 µs slows the worker: compare categories between workers profiled the
// same way, not with the bench's req/s.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { CFG, OUT, HERE, ISSUER, AUDIENCE, makeKey, tokenPool, startUpstream, bundlePeer, wrk } from './bench.mjs';
import { CATEGORIES, categorize, peerHints } from './profile-categories.mjs';

import { COMPATIBILITY_DATE } from '../tests/edge/harness.mjs';

const [whichArg = 'edge', mode = 'warm', alg = 'ES256'] = process.argv.slice(2);
const which = whichArg.split(',').map((s) => s.trim()).filter(Boolean);
const KNOWN = ['edge', 'passthrough', 'shape', 'peer', 'peer-cached', 'peer-nokv'];
for (const w of which) if (!KNOWN.includes(w)) throw new Error(`unknown worker ${w}: one of ${KNOWN.join(', ')}`);
if (!['warm', 'cold', 'first'].includes(mode)) throw new Error(`mode ${mode}: warm, cold or first`);
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 5);
const WARMUP = Number(process.env.PROFILE_WARMUP ?? 2);
const TOP = Number(process.env.PROFILE_TOP ?? 25);
const DETAIL = Number(process.env.PROFILE_DETAIL ?? 3);

/**
 * A WebSocket client for the inspector: `ws` is not a dependency of this package of its own
 * (it comes with miniflare), so it is resolved from miniflare when it is not hoisted, and
 * Node's own WebSocket (Node >= 22, or 20 with --experimental-websocket) is the last resort.
 */
async function webSocketClass() {
  try {
    return (await import('ws')).default;
  } catch {}
  try {
    const fromMiniflare = createRequire(createRequire(import.meta.url).resolve('miniflare'));
    return fromMiniflare('ws');
  } catch {}
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  throw new Error('no WebSocket client: install ws (npm i -D ws) or run Node >= 22');
}

function connect(WS, url) {
  const ws = new WS(url);
  let id = 0;
  const pending = new Map();
  const onMessage = (data) => {
    const msg = JSON.parse(typeof data === 'string' ? data : data.toString());
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  };
  if (ws.on) ws.on('message', onMessage);
  else ws.addEventListener('message', (e) => onMessage(e.data));
  const opened = new Promise((resolve, reject) => {
    if (ws.once) {
      ws.once('open', resolve);
      ws.once('error', reject);
    } else {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', reject, { once: true });
    }
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const i = ++id;
      const timer = setTimeout(() => (pending.delete(i), reject(new Error(`inspector: ${method} timed out`))), 30_000);
      pending.set(i, (msg) => (clearTimeout(timer), msg.error ? reject(new Error(`inspector: ${method}: ${msg.error.message}`)) : resolve(msg)));
      ws.send(JSON.stringify({ id: i, method, params }));
    });
  return { opened, send, close: () => ws.close() };
}

async function workerConfig(name, upstream, jwks) {
  const peerBindings = { JWKS: jwks, ISSUER, AUDIENCE, UPSTREAM: upstream, LEEWAY_SECONDS: '30' };
  switch (name) {
    case 'edge':
      return {
        scriptPath: CFG.script,
        modulesRoot: path.resolve(path.dirname(CFG.script), '..'),
        modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
        bindings: { ISSUER, AUDIENCE, JWKS: jwks, UPSTREAM: upstream, LEEWAY_SECONDS: '30', TOKEN_CACHE_ENTRIES: '1024', ...JSON.parse(process.env.PROFILE_BINDINGS ?? '{}') },
      };
    case 'passthrough':
    case 'shape':
      return { scriptPath: path.join(HERE, `workers/${name}.mjs`), bindings: { UPSTREAM: upstream } };
    case 'peer':
    case 'peer-nokv':
      return { scriptPath: await bundlePeer('peer', { minify: false, outName: 'peer-prof' }), bindings: { ...peerBindings, CHECK_REVOCATION: name === 'peer' ? '1' : '0' } };
    case 'peer-cached':
      return { scriptPath: await bundlePeer('peer-cached', { minify: false, outName: 'peer-cached-prof' }), bindings: { ...peerBindings, REVOCATION_CACHE_SECONDS: '10' } };
    default:
      throw new Error(name);
  }
}

/** `first`: the first request after start, alone (a valid token), timed from outside. */
async function firstRequest(url, file) {
  const token = fs.readFileSync(file, 'utf8').split('\n')[0];
  const t0 = performance.now();
  const res = await fetch(new URL('/api/first', url), { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  console.error(`[profile] first request: ${res.status} in ${ms.toFixed(1)} ms`);
  return { requests: 1, rps: 0, p50_us: ms * 1000, errors: res.status === 200 ? 0 : 1 };
}

async function profileOne(WS, name, upstream, jwks, file) {
  const { Miniflare } = await import('miniflare');
  const config = await workerConfig(name, upstream, jwks);
  const mf = new Miniflare({
    inspectorPort: 0,
    cf: false,
    workers: [
      {
        name: 'w',
        modules: true,
        compatibilityDate: COMPATIBILITY_DATE,
        kvNamespaces: ['REVOCATIONS'],
        unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
        unsafeInspectorProxy: true,
        ...config,
      },
    ],
  });
  let client;
  try {
    await mf.ready;
    const url = (await mf.unsafeGetDirectURL('w')).href;
    const inspector = await mf.getInspectorURL();
    const targets = await (await fetch(new URL('/json', inspector.href.replace(/^ws/, 'http')))).json();
    const target = targets.find((t) => t.webSocketDebuggerUrl?.endsWith('/w')) ?? targets[0];
    if (!target) throw new Error('the inspector lists no target');
    client = connect(WS, target.webSocketDebuggerUrl);
    await client.opened;
    if (WARMUP > 0 && mode !== 'first') await wrk(url, file, WARMUP); // JIT tier-up, caches
    await client.send('Profiler.enable');
    await client.send('Profiler.setSamplingInterval', { interval: mode === 'first' ? 20 : 100 });
    await client.send('Profiler.start');
    const load = mode === 'first' ? await firstRequest(url, file) : await wrk(url, file, SECONDS);
    const { result } = await client.send('Profiler.stop');
    if (load.errors) console.error(`[profile] ${name}: ${load.errors} errors (non-2xx or socket) under load`);
    return { load, prof: result.profile, script: config.scriptPath };
  } finally {
    client?.close();
    await mf.dispose();
  }
}

const us = (x, n) => (x / n).toFixed(1);

function report(name, { load, prof, script }) {
  const n = load.requests;
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const f = byId.get(prof.samples[i]).callFrame;
    const label = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}`.trim();
    self.set(label, (self.get(label) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const hints = name.startsWith('peer') ? peerHints(path.basename(script), fs.readFileSync(script, 'utf8')) : undefined;
  const { byCat, why, total } = categorize(prof, hints);
  const named = prof.nodes.some((node) => node.callFrame.functionName.startsWith('edge_session::'));
  console.log('');
  if (name === 'edge' && !named) {
    console.log('NOTE: this edge build has no wasm function names (and a minified shim): its wasm and glue time cannot be told apart');
    console.log('and lands mostly in runtime/other. Build with NO_MINIFY=1 CARGO_PROFILE_RELEASE_STRIP=false bash scripts/build-edge.sh');
    console.log('-d bench/.out/prof-build and set EDGE_WORKER_SCRIPT=bench/.out/prof-build/worker/shim.mjs.');
  }
  console.log(`== ${name} ${mode} ${alg}: ${load.rps.toFixed(0)} req/s under the profiler, p50 ${(load.p50_us / 1000).toFixed(2)} ms; ${(total / 1000).toFixed(0)} ms sampled over ${n} requests (${us(total, n)} µs/req wall, ${us(total - byCat.get('idle'), n)} busy)`);
  console.log(`top ${TOP} functions by self time:`);
  for (const [label, t] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`${((100 * t) / total).toFixed(1).padStart(6)}%  ${us(t, n).padStart(7)} µs/req  ${label.length > 140 ? `${label.slice(0, 137)}...` : label}`);
  }
  console.log('by category (µs/req; under each, the frames that decided it: "leaf <- caller"):');
  for (const [key, label] of CATEGORIES) {
    console.log(`  ${label.padEnd(46)}${us(byCat.get(key), n).padStart(8)}`);
    if (key === 'idle') continue;
    for (const [frame, t] of [...why.get(key).entries()].sort((a, b) => b[1] - a[1]).slice(0, DETAIL)) {
      if (t / n < 0.5) break;
      console.log(`      ${us(t, n).padStart(7)}  ${frame.length > 130 ? `${frame.slice(0, 127)}...` : frame}`);
    }
  }
  return { name, requests: n, rps: load.rps, byCat, total };
}

function compare(rows) {
  console.log('');
  console.log(`== ${mode} ${alg}, µs per request by category (self time / requests under the profiler)`);
  const w = 14;
  const diff = rows.length >= 2;
  console.log(`${''.padEnd(46)}${rows.map((r) => r.name.padStart(w)).join('')}${diff ? `${rows[0].name} - ${rows[1].name}`.padStart(w + 12) : ''}`);
  const line = (label, f) => {
    const v = rows.map(f);
    console.log(`${label.padEnd(46)}${v.map((x) => x.toFixed(1).padStart(w)).join('')}${diff ? (v[0] - v[1]).toFixed(1).padStart(w + 12) : ''}`);
  };
  for (const [key, label] of CATEGORIES) line(label, (r) => r.byCat.get(key) / r.requests);
  line('busy (all but idle)', (r) => (r.total - r.byCat.get('idle')) / r.requests);
  line('wall (sampled time / requests)', (r) => r.total / r.requests);
  console.log(`${'req/s under the profiler'.padEnd(46)}${rows.map((r) => r.rps.toFixed(0).padStart(w)).join('')}`);
}

async function main() {
  const WS = await webSocketClass();
  const key = makeKey(alg);
  const jwks = JSON.stringify({ keys: [key.jwk] });
  const pool = tokenPool(key, mode === 'cold' ? CFG.pool : 1);
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, 'profile-tokens.txt');
  fs.writeFileSync(file, `${pool.join('\n')}\n`);
  const upstream = await startUpstream();
  const rows = [];
  try {
    for (const name of which) {
      const got = await profileOne(WS, name, upstream.url, jwks, file);
      fs.writeFileSync(path.join(OUT, `${name}-${mode}-${alg}.cpuprofile`), JSON.stringify(got.prof));
      rows.push(report(name, got));
    }
    if (rows.length > 1) compare(rows);
  } finally {
    upstream.server.closeAllConnections?.();
    upstream.server.close();
  }
}

main().catch((e) => {
  console.error('[profile] failed:', e?.stack ?? e);
  process.exit(1);
});
