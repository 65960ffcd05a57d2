// Bundle report: the worker's wasm size (raw and gzip -9) and what it costs workerd to bring the
// module up. Node 20's V8 cannot compile this wasm (it uses the exnref exception-handling
// opcodes), so the instantiate cost is measured in workerd itself, from outside (workerd's clock
// does not advance while code runs): the start-up of a workerd with only the edge worker against
// one with only a trivial JS worker (the difference is compiling the module, instantiating it
// and running the glue's top level), and the first request after start (lazy function
// compilation, config parsing).
// Two ways, both printed: on workerd directly (bench/workerd-direct.mjs: `workerd serve`, the
// modules embedded in its config), which the targets are judged on, and through Miniflare, which
// also times node building and sending a config that carries the module's bytes: a JS worker
// importing the same bytes as a Data module is the control that shows that part.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';

import { COMPATIBILITY_DATE } from '../tests/edge/harness.mjs';
import { sampleStarts, scratch } from './workerd-direct.mjs';

function findWasm(script) {
  for (const dir of [path.dirname(script), path.resolve(path.dirname(script), '..')]) {
    const hit = fs.readdirSync(dir).find((f) => f.endsWith('.wasm'));
    if (hit) return path.join(dir, hit);
  }
  throw new Error(`no .wasm next to ${script}`);
}

/** `gzip -9` (GNU gzip packs this wasm ~2% tighter than zlib at level 9); zlib if it is missing. */
function gzipSize(file, bytes) {
  try {
    return execFileSync('gzip', ['-9', '-c', file], { maxBuffer: 64 << 20 }).length;
  } catch {
    return zlib.gzipSync(bytes, { level: 9 }).length;
  }
}

/**
 * The worker's modules, read here and handed to Miniflare as they are: given a `scriptPath`,
 * Miniflare locates the modules itself in node (parsing the JS for its imports, reading the
 * wasm) inside the timed start-up, measured at ~60-100 ms for either gate on the loaded 2-core
 * machine, which is no part of instantiating the worker in workerd. The entry first; every
 * .mjs/.js/.wasm beside it, named relative to the folder above (as `modulesRoot` did).
 */
function modulesOf(script) {
  const dir = path.dirname(script);
  const root = path.resolve(dir, '..');
  const files = [script, ...fs.readdirSync(dir).map((f) => path.join(dir, f)).filter((f) => f !== script && /\.(mjs|js|wasm)$/.test(f))];
  return files.map((f) => ({
    type: f.endsWith('.wasm') ? 'CompiledWasm' : 'ESModule',
    path: path.relative(root, f),
    contents: f.endsWith('.wasm') ? fs.readFileSync(f) : fs.readFileSync(f, 'utf8'),
  }));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function startOnce(worker, request = {}) {
  const { Miniflare } = await import('miniflare');
  const t0 = performance.now();
  const mf = new Miniflare({ workers: [worker], cf: false });
  try {
    await mf.ready;
    const url = await mf.unsafeGetDirectURL(worker.name);
    const t1 = performance.now();
    const r = await fetch(new URL(request.path ?? '/', url), { headers: request.headers ?? {} });
    await r.arrayBuffer();
    if (request.expect && r.status !== request.expect) throw new Error(`${worker.name}: first request answered ${r.status}, not ${request.expect}`);
    return { startMs: t1 - t0, firstMs: performance.now() - t1 };
  } finally {
    await mf.dispose();
  }
}

/**
 * The same start-ups on workerd directly: a trivial JS worker, the Data control, the edge (its
 * first request a public path: to `peer.upstream` when given, else to a closed port) and, with
 * `peer`, the peer-cached worker (its first request without a token: 401, no KV).
 */
async function directStarts(script, bytes, samples, peer) {
  const dir = scratch({
    'trivial.mjs': 'export default { fetch() { return new Response("ok") } }',
    'data.mjs': 'import m from "./index.bin"; export default { fetch() { return new Response(String(m.byteLength)) } }',
    'index.wasm': bytes,
    'shim.mjs': fs.readFileSync(script),
    ...(peer ? { 'peer.mjs': fs.readFileSync(peer.script), 'pass.mjs': fs.readFileSync(fileURLToPath(new URL('./workers/passthrough.mjs', import.meta.url))) } : {}),
  });
  const es = (name, file = name) => ({ name, kind: 'esModule', file });
  const kinds = {
    'd:trivial': { worker: { modules: [es('trivial.mjs')] } },
    'd:data': { worker: { modules: [es('data.mjs'), { name: 'index.bin', kind: 'data', file: 'index.wasm' }] } },
    'd:edge': {
      worker: {
        modules: [es('shim.mjs'), { name: 'index.wasm', kind: 'wasm', file: 'index.wasm' }],
        bindings: { ISSUER: 'https://issuer.invalid', AUDIENCE: 'a', JWKS_URL: 'https://issuer.invalid/jwks', UPSTREAM: peer?.upstream ?? 'http://127.0.0.1:9', PUBLIC_PATHS: '/' },
      },
      request: { path: '/' },
      expect: peer ? 200 : 502,
    },
  };
  if (peer) {
    // The edge's first request forwards to the upstream: a JS worker forwarding the same request
    // is what the first subrequest of an isolate costs any gate (its connection, workerd's
    // first fetch), the least a first forwarded request can take.
    kinds['d:pass'] = { worker: { modules: [es('pass.mjs')], bindings: { UPSTREAM: peer.upstream } }, request: { path: '/' }, expect: 200 };
    kinds['d:peer'] = {
      worker: { modules: [es('peer.mjs')], bindings: { ISSUER: peer.issuer, AUDIENCE: peer.audience, JWKS: peer.jwks, UPSTREAM: peer.upstream, LEEWAY_SECONDS: '30', REVOCATION_CACHE_SECONDS: '10' } },
      request: { path: '/api/items' },
      expect: 401,
    };
  }
  try {
    return await sampleStarts(dir, kinds, samples);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The wasm's size, the edge's start-up over a trivial JS worker and its first request after
 * start (a public path forwarded to a closed port: config parsing, routing, forward). With
 * `peer` ({ script, upstream, jwks, token, issuer, audience }: the bundled peer-cached worker, a
 * live upstream, the JWKS document and a valid token) also the first *authenticated* request
 * after start (verification with a key imported on first use, KV read, forward) of the edge
 * and of the peer, and the peer's start-up over the trivial worker: the same cold start,
 * measured for both gates the same way.
 */
export async function bundleReport(script, { samples = 5, peer } = {}) {
  const wasm = findWasm(script);
  const bytes = fs.readFileSync(wasm);
  const gzip = gzipSize(wasm, bytes);
  const common = { compatibilityDate: COMPATIBILITY_DATE, unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] };
  const trivial = { ...common, name: 'trivial', modules: [{ type: 'ESModule', path: 'trivial.mjs', contents: 'export default { fetch() { return new Response("ok") } }' }] };
  const edgeModules = { modules: modulesOf(script) };
  const edge = {
    ...common,
    ...edgeModules,
    name: 'edge',
    // A public path: the first request parses the config and forwards (to a closed port).
    bindings: { ISSUER: 'https://issuer.invalid', AUDIENCE: 'a', JWKS_URL: 'https://issuer.invalid/jwks', UPSTREAM: 'http://127.0.0.1:9', PUBLIC_PATHS: '/' },
  };
  const kinds = [
    { key: 'trivial', worker: trivial },
    { key: 'edge', worker: edge },
    // The control: the same bytes as a Data module of a JS worker, compiled by nobody.
    { key: 'data', worker: { ...common, name: 'data', modules: [{ type: 'ESModule', path: 'data.mjs', contents: 'import m from "./index.bin"; export default { fetch() { return new Response(String(m.byteLength)) } }' }, { type: 'Data', path: 'index.bin', contents: bytes }] } },
  ];
  if (peer) {
    const bindings = { ISSUER: peer.issuer, AUDIENCE: peer.audience, JWKS: peer.jwks, UPSTREAM: peer.upstream, LEEWAY_SECONDS: '30' };
    const request = { path: '/api/items', headers: { authorization: `Bearer ${peer.token}` }, expect: 200 };
    kinds.push(
      // A KV binding costs Miniflare start-up of its own: the peer's start-up is taken over a
      // trivial worker with the same binding.
      { key: 'trivialKv', worker: { ...trivial, kvNamespaces: ['REVOCATIONS'] } },
      { key: 'edgeAuth', worker: { ...common, ...edgeModules, name: 'edge', kvNamespaces: ['REVOCATIONS'], bindings }, request },
      { key: 'peer', worker: { ...common, name: 'peer-cached', modules: [{ type: 'ESModule', path: path.basename(peer.script), contents: fs.readFileSync(peer.script, 'utf8') }], kvNamespaces: ['REVOCATIONS'], bindings: { ...bindings, REVOCATION_CACHE_SECONDS: '10' } }, request },
    );
  }
  const got = Object.fromEntries(kinds.map((k) => [k.key, []]));
  // Interleaved, so that a slow moment of the machine touches every kind alike.
  for (let i = 0; i < samples; i++) {
    for (const k of kinds) got[k.key].push(await startOnce(k.worker, k.request));
  }
  Object.assign(got, await directStarts(script, bytes, samples, peer));
  const start = (k) => median(got[k].map((s) => s.startMs));
  // Noise on a shared machine only adds: the difference of the fastest start-ups is the other
  // estimate, printed beside the medians'.
  const fastest = (k) => Math.min(...got[k].map((s) => s.startMs));
  const first = (k) => median(got[k].map((s) => s.firstMs));
  const out = {
    wasm,
    raw: bytes.length,
    gzip,
    samples,
    trivialStartMs: start('trivial'),
    edgeStartMs: start('edge'),
    instantiateMs: start('edge') - start('trivial'),
    instantiateFastestMs: fastest('edge') - fastest('trivial'),
    trivialFirstRequestMs: first('trivial'),
    edgeFirstRequestMs: first('edge'),
    dataStartMs: start('data'),
    dataOverTrivialMs: start('data') - start('trivial'),
    direct: {
      trivialStartMs: start('d:trivial'),
      edgeStartMs: start('d:edge'),
      instantiateMs: start('d:edge') - start('d:trivial'),
      instantiateFastestMs: fastest('d:edge') - fastest('d:trivial'),
      dataOverTrivialMs: start('d:data') - start('d:trivial'),
      trivialFirstRequestMs: first('d:trivial'),
      edgeFirstRequestMs: first('d:edge'),
      edgeSecondRequestMs: median(got['d:edge'].map((s) => s.secondMs)),
      edgeRequest: peer ? 'a public path forwarded to a live upstream (200)' : 'a public path forwarded to a closed port (502, one log line)',
      ...(peer ? { passFirstRequestMs: first('d:pass'), peerStartMs: start('d:peer'), peerInstantiateMs: start('d:peer') - start('d:trivial'), peerFirstRequestMs: first('d:peer') } : {}),
    },
  };
  if (peer) {
    Object.assign(out, {
      peerScript: peer.script,
      peerStartMs: start('peer'),
      trivialKvStartMs: start('trivialKv'),
      peerInstantiateMs: start('peer') - start('trivialKv'),
      edgeKvInstantiateMs: start('edgeAuth') - start('trivialKv'),
      peerInstantiateFastestMs: fastest('peer') - fastest('trivialKv'),
      edgeKvInstantiateFastestMs: fastest('edgeAuth') - fastest('trivialKv'),
      edgeFirstAuthRequestMs: first('edgeAuth'),
      peerFirstAuthRequestMs: first('peer'),
    });
  }
  return out;
}

const mark = (ok) => (ok ? 'met' : 'NOT met');

/** The bundle report as printed by bench.mjs, with the issue's targets marked. */
export function printBundleReport(r, fmt = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-')) {
  const lines = [];
  lines.push(`bundle: ${r.wasm}`);
  lines.push(`  wasm raw ${r.raw} B (${fmt(r.raw / 1024, 1)} KiB), gzip -9 ${r.gzip} B (${fmt(r.gzip / 1024, 1)} KiB)   target gzip <= 300 KB: ${mark(r.gzip <= 300_000)}`);
  const d = r.direct;
  lines.push(`  start-up on workerd directly (bench/workerd-direct.mjs), medians of ${r.samples} (each minus a trivial JS worker's ${fmt(d.trivialStartMs, 0)} ms):`);
  lines.push(`    edge        ${fmt(d.edgeStartMs, 0)} ms: instantiate ${fmt(d.instantiateMs, 1)} ms (fastest - fastest: ${fmt(d.instantiateFastestMs, 1)} ms)   target <= 20 ms: ${mark(d.instantiateMs <= 20)}`);
  lines.push(`    control: a JS worker holding the wasm's bytes as a Data module: ${fmt(d.dataOverTrivialMs, 1)} ms`);
  if (d.peerStartMs !== undefined) lines.push(`    peer-cached ${fmt(d.peerStartMs, 0)} ms: start-up ${fmt(d.peerInstantiateMs, 1)} ms`);
  lines.push(`  first request after start on workerd directly (trivial JS worker ${fmt(d.trivialFirstRequestMs, 1)} ms):`);
  lines.push(`    edge, ${d.edgeRequest}   ${fmt(d.edgeFirstRequestMs, 1)} ms (the second: ${fmt(d.edgeSecondRequestMs, 1)} ms)   target <= 5 ms: ${mark(d.edgeFirstRequestMs <= 5)}`);
  if (d.passFirstRequestMs !== undefined) lines.push(`    passthrough (JS), the same request forwarded   ${fmt(d.passFirstRequestMs, 1)} ms`);
  if (d.peerFirstRequestMs !== undefined) lines.push(`    peer-cached, no token (401)   ${fmt(d.peerFirstRequestMs, 1)} ms`);
  lines.push(`  start-up through Miniflare, medians of ${r.samples} (each minus a trivial JS worker's ${fmt(r.trivialStartMs, 0)} ms; node builds and sends the bytes too):`);
  lines.push(`    edge        ${fmt(r.edgeStartMs, 0)} ms: ${fmt(r.instantiateMs, 1)} ms (fastest - fastest: ${fmt(r.instantiateFastestMs, 1)} ms)`);
  lines.push(`    control: a JS worker holding the wasm's bytes as a Data module: ${fmt(r.dataOverTrivialMs, 1)} ms`);
  if (r.peerStartMs !== undefined) {
    lines.push(`  with a KV binding (minus a trivial JS worker with the same binding, ${fmt(r.trivialKvStartMs, 0)} ms):`);
    lines.push(`    edge        instantiate ${fmt(r.edgeKvInstantiateMs, 1)} ms (fastest - fastest: ${fmt(r.edgeKvInstantiateFastestMs, 1)} ms)`);
    lines.push(`    peer-cached ${fmt(r.peerStartMs, 0)} ms: start-up ${fmt(r.peerInstantiateMs, 1)} ms (fastest - fastest: ${fmt(r.peerInstantiateFastestMs, 1)} ms)`);
  }
  lines.push(`  first request after start through Miniflare (trivial JS worker ${fmt(r.trivialFirstRequestMs, 1)} ms):`);
  lines.push(`    edge, public path to a closed port   ${fmt(r.edgeFirstRequestMs, 1)} ms`);
  if (r.peerStartMs !== undefined) {
    lines.push(`    edge, valid Bearer token, upstream   ${fmt(r.edgeFirstAuthRequestMs, 1)} ms   target <= 5 ms: ${mark(r.edgeFirstAuthRequestMs <= 5)}`);
    lines.push(`    peer-cached, the same request        ${fmt(r.peerFirstAuthRequestMs, 1)} ms`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const script = process.argv[2] ?? 'build/worker/shim.mjs';
  const r = await bundleReport(path.resolve(script));
  console.log(r);
  console.log(printBundleReport(r));
}
