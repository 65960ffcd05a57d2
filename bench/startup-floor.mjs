// Where the edge's start-up goes, measured from outside (workerd's clock does not move while
// code runs): four workers started one at a time, interleaved, N times each, in a fresh
// Miniflare/workerd every time, with the modules handed over directly (no scriptPath):
//   trivial   a JS worker answering "ok";
//   compile   the same JS worker importing the edge's wasm as a module and never instantiating
//             it: workerd compiles (validates) the module at start-up;
//   edge      the built edge (its shim instantiates the module at start-up);
//   lazy      the built edge with its shim's top-level instantiate() moved into the first fetch.
// Start-up is ready → direct URL; "first" is the first request after it (a protected path
// without a token: config read, classify, 401), and "second" the next one.
//   node bench/startup-floor.mjs [build/worker]      N=9 by default (STARTUP_SAMPLES)
// `compile - trivial` is the floor the module's size sets; `edge - compile` is instantiating
// it and running the glue's top level; `lazy`'s first request carries that instead.
import fs from 'node:fs';
import path from 'node:path';

import { COMPATIBILITY_DATE } from '../tests/edge/harness.mjs';

const dir = process.argv[2] ?? 'build/worker';
const N = Number(process.env.STARTUP_SAMPLES ?? 9);
const wasm = fs.readFileSync(path.join(dir, 'index.wasm'));
const shim = fs.readFileSync(path.join(dir, 'shim.mjs'), 'utf8');
const common = { modules: true, compatibilityDate: COMPATIBILITY_DATE, unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] };
const bindings = { ISSUER: 'https://issuer.invalid', AUDIENCE: 'a', JWKS_URL: 'https://issuer.invalid/jwks', UPSTREAM: 'http://127.0.0.1:9' };
const js = (contents, extra = []) => ({ ...common, name: 't', modules: [{ type: 'ESModule', path: 'worker/w.mjs', contents }, ...extra] });
const wasmModule = { type: 'CompiledWasm', path: 'worker/index.wasm', contents: wasm };
// The minified shim ends its top level with `<instantiate>();var <obj>={fetch(a,b,c){`.
const TOP = /\}([\w$]+)\(\);var ([\w$]+)=\{fetch\(([\w$]+),([\w$]+),([\w$]+)\)\{/;
if (!TOP.test(shim)) throw new Error(`${dir}/shim.mjs: no top-level instantiate() call found (a minified build of src/adapter/shim.js is expected)`);
const lazyShim = shim.replace(TOP, (_, f, o, a, b, c) => `}var started$$=!1;var ${o}={fetch(${a},${b},${c}){started$$||(started$$=!0,${f}());`);
const edgeW = (src) => ({ ...common, name: 't', bindings, modules: [{ type: 'ESModule', path: 'worker/shim.mjs', contents: src }, wasmModule] });
const WORKERS = {
  trivial: js('export default { fetch() { return new Response("ok") } }'),
  compile: js('import m from "./index.wasm"; export default { fetch() { return new Response(String(WebAssembly.Module.exports(m).length)) } }', [wasmModule]),
  edge: edgeW(shim),
  lazy: edgeW(lazyShim),
};

async function once(worker) {
  const { Miniflare } = await import('miniflare');
  const t0 = performance.now();
  const mf = new Miniflare({ workers: [worker], cf: false });
  try {
    await mf.ready;
    const url = await mf.unsafeGetDirectURL('t');
    const t1 = performance.now();
    await (await fetch(new URL('/api/x', url))).arrayBuffer();
    const t2 = performance.now();
    await (await fetch(new URL('/api/y', url))).arrayBuffer();
    return { start: t1 - t0, first: t2 - t1, second: performance.now() - t2 };
  } finally {
    await mf.dispose();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = Object.fromEntries(Object.keys(WORKERS).map((k) => [k, []]));
await once(WORKERS.trivial); // node's own first-use costs (fetch, Miniflare) out of the samples
for (let i = 0; i < N; i++) for (const [k, w] of Object.entries(WORKERS)) runs[k].push(await once(w));
const f = (x) => x.toFixed(1).padStart(7);
console.log(`wasm ${wasm.length} B raw; ${N} samples each, medians [fastest] in ms`);
console.log(`${'worker'.padEnd(9)}${'start'.padStart(8)}${'fastest'.padStart(9)}${'first'.padStart(8)}${'second'.padStart(8)}`);
const med = {};
for (const [k, xs] of Object.entries(runs)) {
  med[k] = { start: median(xs.map((x) => x.start)), min: Math.min(...xs.map((x) => x.start)), first: median(xs.map((x) => x.first)) };
  console.log(`${k.padEnd(9)}${f(med[k].start)} ${f(med[k].min)} ${f(med[k].first)} ${f(median(xs.map((x) => x.second)))}`);
}
console.log(`compile - trivial: ${f(med.compile.start - med.trivial.start)} ms (fastest - fastest ${f(med.compile.min - med.trivial.min)})`);
console.log(`edge - compile:    ${f(med.edge.start - med.compile.start)} ms (instantiate and the glue's top level)`);
console.log(`edge - trivial:    ${f(med.edge.start - med.trivial.start)} ms (fastest - fastest ${f(med.edge.min - med.trivial.min)}); first request ${f(med.edge.first)} vs ${f(med.trivial.first)} ms`);
