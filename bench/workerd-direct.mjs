// Start-up measured on workerd itself, without Miniflare: a `workerd serve` process per sample,
// its config a capnp file with the worker's modules embedded, timed from spawn to the moment its
// socket accepts (workerd compiles and instantiates every worker before it listens), then the
// first request and the second. Why not Miniflare for this: Miniflare hands the modules to
// workerd inside its config, built and sent by node, so a bigger module costs start-up there
// that is no part of bringing it up in workerd: a JS worker importing 800 KB as a *Data*
// module starts 21-62 ms later than a trivial one through Miniflare, 3-8 ms later here
// (bench/README.md, "Start-up").
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { COMPATIBILITY_DATE } from '../tests/edge/harness.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The workerd binary miniflare runs (the `workerd` npm package). */
export function workerdBinary() {
  for (const p of ['node_modules/@cloudflare/workerd-linux-64/bin/workerd', 'node_modules/workerd/bin/workerd']) {
    const abs = path.join(ROOT, p);
    if (fs.existsSync(abs)) return abs;
  }
  throw new Error('no workerd binary under node_modules (npm ci)');
}

const capnpText = (s) => JSON.stringify(String(s)); // capnp text literals take JSON's escapes

/**
 * A capnp config for one worker, allowed to reach loopback (the bench's upstream), as Miniflare
 * allows it. `modules`: [{ name, kind: 'esModule'|'wasm'|'data', file }]
 * (files in `dir`, embedded); `bindings`: text bindings; `v8Flags`: V8 flags (diagnostics only).
 */
function configText({ modules, bindings = {}, v8Flags = [] }, port) {
  const mods = modules.map((m) => `(name = ${capnpText(m.name)}, ${m.kind} = embed ${capnpText(m.file)})`).join(', ');
  const binds = Object.entries(bindings).map(([k, v]) => `(name = ${capnpText(k)}, text = ${capnpText(v)})`).join(', ');
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  v8Flags = [${v8Flags.map(capnpText).join(', ')}],
  services = [(name = "main", worker = .w), (name = "net", network = (allow = ["public", "private", "local"]))],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")]
);
const w :Workerd.Worker = (modules = [${mods}], globalOutbound = "net", compatibilityDate = "${COMPATIBILITY_DATE}", bindings = [${binds}]);
`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const accepts = (port) =>
  new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

function get(port, pathName, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathName, headers, agent: false }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode));
      })
      .on('error', reject);
  });
}

/**
 * One start of `worker` ({ modules, bindings, v8Flags } with files in `dir`) on a fresh workerd:
 * { startMs, firstMs, secondMs, status }. `request`: { path, headers } of the first two requests
 * (`requests`: how many are sent, 2 by default). `stdout`: a file for workerd's standard output
 * (the worker's logs, V8 traces), else discarded.
 */
export async function startOnce(dir, worker, { request = {}, stdout, requests = 2 } = {}) {
  const port = await freePort();
  const cfg = path.join(dir, `config-${port}.capnp`);
  fs.writeFileSync(cfg, configText(worker, port));
  const out = stdout ? fs.openSync(stdout, 'w') : 'ignore';
  const t0 = performance.now();
  const child = spawn(workerdBinary(), ['serve', cfg, '--experimental'], { stdio: ['ignore', out, 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    while (!(await accepts(port))) {
      if (exited || performance.now() - t0 > 20_000) throw new Error(`workerd did not start: ${err.slice(0, 500)}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    const t1 = performance.now();
    if (requests === 0) return { startMs: t1 - t0 };
    const status = await get(port, request.path ?? '/', request.headers);
    const t2 = performance.now();
    if (requests === 1) return { startMs: t1 - t0, firstMs: t2 - t1, status };
    await get(port, request.path ?? '/', request.headers);
    const t3 = performance.now();
    return { startMs: t1 - t0, firstMs: t2 - t1, secondMs: t3 - t2, status };
  } finally {
    // SIGTERM, so that workerd flushes what it wrote to a file; SIGKILL if it lingers.
    if (!exited) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(timer);
    }
    if (typeof out === 'number') fs.closeSync(out);
    fs.rmSync(cfg, { force: true });
  }
}

/** A scratch folder holding `files` ({ name: contents }) for the configs to embed. */
export function scratch(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-workerd-'));
  for (const [name, contents] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), contents);
  return dir;
}

/**
 * `samples` starts of each of `kinds` ({ key: { worker, request, expect } }), interleaved so that
 * a slow moment of the machine touches every kind alike; per kind the samples.
 */
export async function sampleStarts(dir, kinds, samples) {
  const got = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  const first = Object.values(kinds)[0];
  await startOnce(dir, first.worker, first); // the OS's first-use costs out of the samples
  for (let i = 0; i < samples; i++) {
    for (const [key, k] of Object.entries(kinds)) {
      const s = await startOnce(dir, k.worker, k);
      if (k.expect && s.status !== k.expect) throw new Error(`${key}: first request answered ${s.status}, not ${k.expect}`);
      got[key].push(s);
    }
  }
  return got;
}
