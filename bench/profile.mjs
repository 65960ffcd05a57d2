// Where does a worker's time go? Runs one worker (edge by default) under wrk with V8's sampling
// profiler attached through workerd's inspector, and prints the functions with the most self
// time. A diagnostic for the hot-path work, not part of bench/run.sh.
//   node bench/profile.mjs [edge|passthrough|shape] [warm|cold] [ES256|RS256|Ed25519]
// PROFILE_BINDINGS='{"FAST_PATH":"false"}' adds bindings to the edge (here: the full path only).
// The "(idle)" row subtracted from the wall time per request is the worker's busy time.
// Wasm function names need a build that keeps the name section, e.g.
//   CARGO_PROFILE_RELEASE_STRIP=false worker-build --release -d bench/.out/prof-build
//   EDGE_WORKER_SCRIPT=bench/.out/prof-build/worker/shim.mjs node bench/profile.mjs
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';

import { CFG, OUT, makeKey, tokenPool, startUpstream, wrk } from './bench.mjs';

import { COMPATIBILITY_DATE } from '../tests/edge/harness.mjs';

const [which = 'edge', mode = 'warm', alg = 'ES256'] = process.argv.slice(2);
const ISSUER = 'https://idp.bench.example';
const AUDIENCE = 'bench-api';

const key = makeKey(alg);
const jwks = JSON.stringify({ keys: [key.jwk] });
const pool = tokenPool(key, mode === 'warm' ? 1 : CFG.pool);
fs.mkdirSync(OUT, { recursive: true });
const file = path.join(OUT, `profile-tokens.txt`);
fs.writeFileSync(file, pool.join('\n') + '\n');

const upstream = await startUpstream();
const { Miniflare } = await import('miniflare');
const worker =
  which === 'edge'
    ? {
        scriptPath: CFG.script,
        modulesRoot: path.resolve(path.dirname(CFG.script), '..'),
        modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
        bindings: { ISSUER, AUDIENCE, JWKS: jwks, UPSTREAM: upstream.url, ...JSON.parse(process.env.PROFILE_BINDINGS ?? '{}') },
      }
    : { scriptPath: path.join(path.dirname(new URL(import.meta.url).pathname), `workers/${which}.mjs`), bindings: { UPSTREAM: upstream.url } };
const mf = new Miniflare({
  inspectorPort: 0,
  cf: false,
  workers: [{ name: 'w', modules: true, compatibilityDate: COMPATIBILITY_DATE, kvNamespaces: ['REVOCATIONS'], unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }], unsafeInspectorProxy: true, ...worker }],
});
await mf.ready;
const url = (await mf.unsafeGetDirectURL('w')).href;
const inspector = await mf.getInspectorURL();
const targets = await (await fetch(new URL('/json', inspector.href.replace('ws:', 'http:')))).json();
const target = targets.find((t) => t.title?.includes('w') || true);
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
let id = 0;
const pending = new Map();
ws.on('message', (m) => {
  const msg = JSON.parse(m);
  if (msg.id && pending.has(msg.id)) pending.get(msg.id)(msg), pending.delete(msg.id);
});
const send = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });

await wrk(url, file, 2); // warm-up (JIT, caches)
await send('Profiler.enable');
await send('Profiler.setSamplingInterval', { interval: 100 });
await send('Profiler.start');
const load = await wrk(url, file, Number(process.env.PROFILE_SECONDS ?? 5));
const { result } = await send('Profiler.stop');
const prof = result.profile;
const dt = new Map();
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
for (let i = 0; i < prof.samples.length; i++) {
  const node = byId.get(prof.samples[i]);
  const f = node.callFrame;
  const name = `${f.functionName || '(anonymous)'} ${f.url ? path.basename(f.url) : ''}`.trim();
  dt.set(name, (dt.get(name) ?? 0) + (prof.timeDeltas[i] ?? 0));
}
const total = [...dt.values()].reduce((a, b) => a + b, 0);
console.log(`${which} ${mode} ${alg}: ${load.rps.toFixed(0)} req/s, p50 ${(load.p50_us / 1000).toFixed(2)} ms; ${(total / 1000).toFixed(0)} ms sampled`);
for (const [name, us] of [...dt.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 40))) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(6)}%  ${(us / load.requests).toFixed(1).padStart(7)} µs/req  ${name}`);
}
fs.writeFileSync(path.join(OUT, `${which}-${mode}-${alg}.cpuprofile`), JSON.stringify(prof));
ws.close();
await mf.dispose();
upstream.server.closeAllConnections?.();
upstream.server.close();
