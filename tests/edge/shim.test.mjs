// The JS entry (src/adapter/shim.js) on its own: after a wasm trap (a panic aborts in release
// builds), the next request runs on a fresh module instance. The real template is filled in as
// worker-build would (no snippets) and run in workerd over a stand-in glue module and a
// hand-assembled wasm module whose `trap` export executes `unreachable`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as H from './harness.mjs';

// (module (func (export "trap") (result i32) unreachable) (func (export "ok") (result i32) i32.const 1))
const WASM = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // types: () -> i32
  0x03, 0x03, 0x02, 0x00, 0x00, // two functions of that type
  0x07, 0x0d, 0x02, 0x04, 0x74, 0x72, 0x61, 0x70, 0x00, 0x00, 0x02, 0x6f, 0x6b, 0x00, 0x01, // exports
  0x0a, 0x0a, 0x02, 0x03, 0x00, 0x00, 0x0b, 0x04, 0x00, 0x41, 0x01, 0x0b, // code
]);

// Stands in for wasm-bindgen's index_bg.js: counts instances, traps on demand.
const GLUE = `
let wasm;
let instances = 0;
export function __wbg_set_wasm(exports) { wasm = exports; instances++; }
export function fetch(request) {
  const p = new URL(request.url).pathname;
  if (p === '/trap') wasm.trap();
  if (p === '/trap-later') return Promise.resolve().then(() => wasm.trap());
  return Promise.resolve(Response.json({ instances, ok: wasm.ok() }));
}
`;

let dir, gate;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-shim-'));
  const template = fs.readFileSync(path.join(H.REPO_ROOT, 'src/adapter/shim.js'), 'utf8');
  const shim = template.replaceAll('$SNIPPET_JS_IMPORTS', '').replaceAll('$SNIPPET_WASM_IMPORTS', '');
  fs.writeFileSync(path.join(dir, 'shim.mjs'), shim);
  fs.writeFileSync(path.join(dir, 'index_bg.js'), GLUE);
  fs.writeFileSync(path.join(dir, 'index.wasm'), WASM);
  const { Miniflare, Log, LogLevel } = await import('miniflare');
  const mf = new Miniflare({
    log: new Log(LogLevel.NONE),
    workers: [
      {
        name: 'shim',
        modules: true,
        scriptPath: path.join(dir, 'shim.mjs'),
        modulesRoot: dir,
        modulesRules: [
          { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
          { type: 'CompiledWasm', include: ['**/*.wasm'] },
        ],
        compatibilityDate: H.COMPATIBILITY_DATE,
        unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
      },
    ],
  });
  await mf.ready;
  const url = await mf.unsafeGetDirectURL('shim');
  gate = { get: (p) => H.request(new URL(p, url)), dispose: () => mf.dispose() };
});
after(async () => {
  await gate?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a trap during the call: that request fails, the next one runs on a fresh instance', async () => {
  const first = await gate.get('/');
  assert.equal(first.status, 200);
  assert.deepEqual(first.json(), { instances: 1, ok: 1 });
  const trapped = await gate.get('/trap');
  assert.equal(trapped.status, 500);
  const next = await gate.get('/');
  assert.deepEqual(next.json(), { instances: 2, ok: 1 });
  const again = await gate.get('/');
  assert.deepEqual(again.json(), { instances: 2, ok: 1 }, 'no re-instantiation without a trap');
});

test('a trap in the returned promise: the next request runs on a fresh instance too', async () => {
  const before = (await gate.get('/')).json().instances;
  const trapped = await gate.get('/trap-later');
  assert.equal(trapped.status, 500);
  assert.equal((await gate.get('/')).json().instances, before + 1);
});
