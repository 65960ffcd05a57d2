// Where the edge's start-up and first request go, measured on workerd directly
// (bench/workerd-direct.mjs: no Miniflare, whose own handling of the module's bytes would count),
// from outside (workerd's clock does not move while code runs). Workers started one at a time,
// interleaved, N times each, each on a fresh workerd:
//   trivial   a JS worker answering "ok";
//   trivlog   the same, writing one console.log line per request (the edge logs a refusal: the
//             first console.log of an isolate sets up workerd's console formatting);
//   data      a JS worker holding the edge's wasm bytes as a Data module (the cost of the bytes);
//   compile   a JS worker importing the wasm as a module, never instantiating it: workerd
//             compiles (decodes, validates) it at start-up;
//   edge      the built edge (its shim instantiates the module at start-up);
//   lazy      the built edge with its shim's top-level instantiate() moved into the first fetch;
//   eager     the built edge on a V8 told to compile every wasm function at start-up
//             (--no-wasm-lazy-compilation, a diagnostic flag: Cloudflare runs V8's default,
//             lazy compilation): its first request is what is left without lazy compilation.
// Start-up is spawn → socket accepting; "first" is the first request after it (a protected path
// without a token: config read, classify, 401, one log line), "second" the next one.
// Then V8's own account of the lazy compilation (--trace-wasm-compilation-times): the functions
// compiled at start-up and by the first request, their bytes and compile time, the largest by
// function index (a build with names maps an index to its function: the name section, as
// `wasm-tools print` or wasm-objdump -x show it).
//   node bench/startup-floor.mjs [build/worker]      N=9 by default (STARTUP_SAMPLES)
import fs from 'node:fs';
import path from 'node:path';

import { sampleStarts, scratch, startOnce } from './workerd-direct.mjs';

const dir = process.argv[2] ?? 'build/worker';
const N = Number(process.env.STARTUP_SAMPLES ?? 9);
const wasm = fs.readFileSync(path.join(dir, 'index.wasm'));
const shim = fs.readFileSync(path.join(dir, 'shim.mjs'), 'utf8');
// The shim (minified or not) ends its top level with `instantiate();` before the entry object.
const TOP = /\}\s*([\w$]+)\(\);\s*var ([\w$]+)\s*=\s*\{\s*fetch\(([\w$]+),\s*([\w$]+),\s*([\w$]+)\)\s*\{/;
if (!TOP.test(shim)) throw new Error(`${dir}/shim.mjs: no top-level instantiate() call found (a build of src/adapter/shim.js is expected)`);
const lazyShim = shim.replace(TOP, (_, f, o, a, b, c) => `}var started$$=!1;var ${o}={fetch(${a},${b},${c}){started$$||(started$$=!0,${f}());`);
const work = scratch({
  'trivial.mjs': 'export default { fetch() { return new Response("ok") } }',
  'trivlog.mjs': 'export default { fetch() { console.log(JSON.stringify({ level: "info", reason: "missing_token", status: 401 })); return new Response("ok") } }',
  'data.mjs': 'import m from "./index.bin"; export default { fetch() { return new Response(String(m.byteLength)) } }',
  'compile.mjs': 'import m from "./index.wasm"; export default { fetch() { return new Response(String(WebAssembly.Module.exports(m).length)) } }',
  'index.wasm': wasm,
  'shim.mjs': shim,
  'lazy.mjs': lazyShim,
});
const es = (name, file = name) => ({ name, kind: 'esModule', file });
const wasmMod = { name: 'index.wasm', kind: 'wasm', file: 'index.wasm' };
const bindings = { ISSUER: 'https://issuer.invalid', AUDIENCE: 'a', JWKS_URL: 'https://issuer.invalid/jwks', UPSTREAM: 'http://127.0.0.1:9' };
const request = { path: '/api/x' };
const edge = { modules: [es('shim.mjs'), wasmMod], bindings };
const kinds = {
  trivial: { worker: { modules: [es('w.mjs', 'trivial.mjs')] }, request },
  trivlog: { worker: { modules: [es('w.mjs', 'trivlog.mjs')] }, request },
  data: { worker: { modules: [es('w.mjs', 'data.mjs'), { name: 'index.bin', kind: 'data', file: 'index.wasm' }] }, request },
  compile: { worker: { modules: [es('w.mjs', 'compile.mjs'), wasmMod] }, request },
  edge: { worker: edge, request, expect: 401 },
  lazy: { worker: { modules: [es('shim.mjs', 'lazy.mjs'), wasmMod], bindings }, request, expect: 401 },
  eager: { worker: { ...edge, v8Flags: ['--no-wasm-lazy-compilation'] }, request, expect: 401 },
};

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (x) => x.toFixed(1).padStart(7);
try {
  const runs = await sampleStarts(work, kinds, N);
  console.log(`wasm ${wasm.length} B raw; on workerd directly, ${N} samples each, medians [fastest start] in ms`);
  console.log(`${'worker'.padEnd(9)}${'start'.padStart(8)}${'fastest'.padStart(9)}${'first'.padStart(8)}${'second'.padStart(8)}`);
  const med = {};
  for (const [k, xs] of Object.entries(runs)) {
    med[k] = { start: median(xs.map((x) => x.start ?? x.startMs)), min: Math.min(...xs.map((x) => x.startMs)), first: median(xs.map((x) => x.firstMs)) };
    console.log(`${k.padEnd(9)}${f(med[k].start)} ${f(med[k].min)} ${f(med[k].first)} ${f(median(xs.map((x) => x.secondMs)))}`);
  }
  console.log(`data - trivial:    ${f(med.data.start - med.trivial.start)} ms (the module's bytes)`);
  console.log(`compile - data:    ${f(med.compile.start - med.data.start)} ms (decoding and validating the module)`);
  console.log(`edge - compile:    ${f(med.edge.start - med.compile.start)} ms (instantiate and the glue's top level)`);
  console.log(`edge - trivial:    ${f(med.edge.start - med.trivial.start)} ms (fastest - fastest ${f(med.edge.min - med.trivial.min)})`);
  console.log(`first request: edge ${f(med.edge.first)}, trivial ${f(med.trivial.first)}, trivlog ${f(med.trivlog.first)} (a first console.log ${f(med.trivlog.first - med.trivial.first)}), eager ${f(med.eager.first)} ms`);

  // V8's account of the lazy compilation: start-up alone, then start-up and the first request.
  const traced = async (requests) => {
    const out = path.join(work, `trace-${requests}.txt`);
    await startOnce(work, { ...edge, v8Flags: ['--trace-wasm-compilation-times'] }, { request, requests, stdout: out });
    return compiled(fs.readFileSync(out, 'utf8'));
  };
  const atStart = await traced(0);
  const withFirst = await traced(1);
  const byFirst = [...withFirst.entries()].filter(([i]) => !atStart.has(i)).map(([i, c]) => ({ i, ...c, name: `function #${i}` }));
  const sum = (xs, k) => xs.reduce((a, x) => a + x[k], 0);
  const startList = [...atStart.values()];
  console.log(`lazy compilation (V8's --trace-wasm-compilation-times, Liftoff):`);
  console.log(`  at start-up:       ${String(startList.length).padStart(5)} functions, ${String(sum(startList, 'bytes')).padStart(7)} B of code, ${f(sum(startList, 'us') / 1000)} ms`);
  console.log(`  by the 1st request: ${String(byFirst.length).padStart(4)} functions, ${String(sum(byFirst, 'bytes')).padStart(7)} B of code, ${f(sum(byFirst, 'us') / 1000)} ms`);
  for (const c of byFirst.sort((a, b) => b.us - a.us).slice(0, Number(process.env.STARTUP_TOP ?? 12))) {
    console.log(`    ${String(c.us).padStart(6)} µs ${String(c.bytes).padStart(6)} B  ${c.name.length > 110 ? `${c.name.slice(0, 107)}...` : c.name}`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

/** Function index → { us, bytes } from V8's trace lines (the first compilation of each). */
function compiled(text) {
  const out = new Map();
  for (const m of text.matchAll(/Compiled function \S+#(\d+) using \w+, took (\d+) .s and \d+ bytes; bodysize (\d+)/g)) {
    const i = Number(m[1]);
    if (!out.has(i)) out.set(i, { us: Number(m[2]), bytes: Number(m[3]) });
  }
  return out;
}
