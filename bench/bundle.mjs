// Bundle report: the worker's wasm size (raw and gzip -9) and what it costs workerd to bring the
// module up. Node 20's V8 cannot compile this wasm (it uses the exnref exception-handling
// opcodes), so the instantiate cost is measured in workerd itself, from outside (workerd's clock
// does not advance while code runs): the start-up of a workerd with only the edge worker against
// one with only a trivial JS worker (the difference is compiling the module, instantiating it
// and running the glue's top level), and the first request after start (lazy function
// compilation, config parsing).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

import { COMPATIBILITY_DATE } from '../tests/edge/harness.mjs';

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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function startOnce(worker) {
  const { Miniflare } = await import('miniflare');
  const t0 = performance.now();
  const mf = new Miniflare({ workers: [worker], cf: false });
  try {
    await mf.ready;
    const url = await mf.unsafeGetDirectURL(worker.name);
    const t1 = performance.now();
    const r = await fetch(new URL('/', url));
    await r.arrayBuffer();
    return { startMs: t1 - t0, firstMs: performance.now() - t1 };
  } finally {
    await mf.dispose();
  }
}

export async function bundleReport(script, samples = 5) {
  const wasm = findWasm(script);
  const bytes = fs.readFileSync(wasm);
  const gzip = gzipSize(wasm, bytes);
  const common = { modules: true, compatibilityDate: COMPATIBILITY_DATE, unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] };
  const trivial = { ...common, name: 'trivial', script: 'export default { fetch() { return new Response("ok") } }' };
  const edge = {
    ...common,
    name: 'edge',
    scriptPath: script,
    modulesRoot: path.resolve(path.dirname(script), '..'),
    modulesRules: [{ type: 'ESModule', include: ['**/*.js'] }, { type: 'CompiledWasm', include: ['**/*.wasm'] }],
    // A public path: the first request parses the config and forwards (to a closed port).
    bindings: { ISSUER: 'https://issuer.invalid', AUDIENCE: 'a', JWKS_URL: 'https://issuer.invalid/jwks', UPSTREAM: 'http://127.0.0.1:9', PUBLIC_PATHS: '/' },
  };
  const base = [];
  const mine = [];
  for (let i = 0; i < samples; i++) {
    base.push(await startOnce(trivial));
    mine.push(await startOnce(edge));
  }
  const baseStart = median(base.map((s) => s.startMs));
  const edgeStart = median(mine.map((s) => s.startMs));
  return {
    wasm,
    raw: bytes.length,
    gzip,
    samples,
    trivialStartMs: baseStart,
    edgeStartMs: edgeStart,
    instantiateMs: edgeStart - baseStart,
    trivialFirstRequestMs: median(base.map((s) => s.firstMs)),
    edgeFirstRequestMs: median(mine.map((s) => s.firstMs)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const script = process.argv[2] ?? 'build/worker/shim.mjs';
  console.log(await bundleReport(path.resolve(script)));
}
