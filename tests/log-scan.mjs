// The secret scan over the workers' logs (README "Logs and audit events").
//
// Every harness registers what it used or received that must never be logged (`secret`):
// tokens it minted or got back, cookie values, passwords, client secrets, cookie keys, private
// key material, session ids. The request helpers do it by themselves (`secretsOfRequest`,
// `secretsOfResponse`): Authorization and Cookie values and secret body fields going out,
// Set-Cookie values and token fields coming back. Every worker a test starts has its log lines
// captured here (`captureOptions`, or `logLine` for a process's output).
//
// Two scans:
//   - at the exit of each test process, its own lines against its own secrets (a hit fails
//     that test file: its process exits 1);
//   - with EDGE_LOG_SCAN_DIR set (scripts/test.sh), each process also writes what it
//     registered and captured there, and `node tests/log-scan.mjs <dir>` scans every line of
//     the run against every secret of the run, and fails on a hit.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Values shorter than this are not registered (too likely to occur by chance). */
export const MIN_SECRET = 8;
/** Pieces of a dotted value (a JWT's signature, a sealed cookie's ciphertext) at least this long are registered too. */
const MIN_PIECE = 16;

/** Body and answer fields that hold secrets (or ids that are never logged raw). */
const SECRET_FIELDS = new Set([
  'password',
  'client_secret',
  'access_token',
  'refresh_token',
  'id_token',
  'session_id',
  'token',
]);

/** Members of a private JWK. */
const PRIVATE_JWK = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

export class LogScan {
  constructor() {
    /** value → label */
    this.secrets = new Map();
    /** { worker, level, message } */
    this.lines = [];
  }

  /** Registers `value` (and its long dot-separated pieces) as a secret. */
  secret(value, label = 'secret') {
    if (typeof value !== 'string' || value.length < MIN_SECRET) return;
    if (!this.secrets.has(value)) this.secrets.set(value, label);
    if (value.includes('.')) {
      for (const piece of value.split('.')) {
        if (piece.length >= MIN_PIECE && !this.secrets.has(piece)) this.secrets.set(piece, `${label} (piece)`);
      }
    }
  }

  /** Registers the secret fields of a parsed JSON value, at any depth. */
  secretFields(value, label = 'field') {
    const walk = (v, depth) => {
      if (depth > 8 || v === null || typeof v !== 'object') return;
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === 'string' && SECRET_FIELDS.has(k)) this.secret(x, `${label}.${k}`);
        else walk(x, depth + 1);
      }
    };
    walk(value, 0);
  }

  /** Registers the private members of a JWK (a string of JSON or an object). */
  privateJwk(jwk, label = 'private key') {
    let k = jwk;
    if (typeof jwk === 'string') {
      try {
        k = JSON.parse(jwk);
      } catch {
        return;
      }
    }
    for (const m of PRIVATE_JWK) this.secret(k?.[m], `${label}.${m}`);
  }

  /** Records a log line of `worker` at `level` (the console method, or `raw` for unstructured output). */
  log(worker, level, message) {
    this.lines.push({ worker, level, message: String(message) });
  }

  /** The lines holding a registered secret: [{ label, secret (first 12 chars), worker, level, line }]. */
  scan({ secrets = this.secrets, lines = this.lines } = {}) {
    return scanLines(secrets, lines);
  }

  /** What this process registered and captured, for the whole-run scan. */
  record(file) {
    return { file, pid: process.pid, secrets: [...this.secrets], lines: this.lines };
  }
}

/** The hits of `secrets` (Map or [value, label] pairs) in `lines`. */
export function scanLines(secrets, lines) {
  // One text with a newline after each line; an index maps a hit's offset to its line.
  const starts = [];
  let text = '';
  for (const l of lines) {
    starts.push(text.length);
    text += `${l.message}\n`;
  }
  const hits = [];
  for (const [value, label] of secrets) {
    let at = text.indexOf(value);
    while (at >= 0) {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= at) lo = mid;
        else hi = mid - 1;
      }
      const l = lines[lo];
      hits.push({ label, secret: `${value.slice(0, 12)}…`, worker: l.worker, level: l.level, line: l.message.slice(0, 300) });
      if (hits.length > 50) return hits;
      at = text.indexOf(value, starts[lo + 1] ?? text.length);
    }
  }
  return hits;
}

// ---------------------------------------------------------------------------------------------
// the registry of this process

/** The registry every harness of this process writes to. */
export const run = new LogScan();

const caller = process.argv[1] ? path.relative(process.cwd(), process.argv[1]) : `pid-${process.pid}`;

/** Registers the secrets of a request about to be sent: `headers` pairs or object, `body` text. */
export function secretsOfRequest(headers, body, scan = run) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers ?? {});
  let contentType = '';
  for (const [name, value] of pairs) {
    if (typeof value !== 'string') continue;
    const n = name.toLowerCase();
    if (n === 'authorization') {
      scan.secret(value, 'authorization');
      const credential = value.replace(/^\s*\S+\s+/, '');
      scan.secret(credential, 'authorization credential');
    } else if (n === 'cookie') {
      for (const part of value.split(';')) {
        const eq = part.indexOf('=');
        if (eq > 0) scan.secret(part.slice(eq + 1).trim(), `cookie ${part.slice(0, eq).trim()}`);
      }
    } else if (n === 'content-type') contentType = value.toLowerCase();
  }
  secretsOfBody(body, contentType, 'request', scan);
}

/** Registers the secrets of an answer: its Set-Cookie values and the secret fields of its body. */
export function secretsOfResponse(setCookies, text, contentType = '', scan = run) {
  for (const c of setCookies ?? []) {
    const pair = c.split(';')[0];
    const eq = pair.indexOf('=');
    if (eq > 0) scan.secret(pair.slice(eq + 1).trim(), `set-cookie ${pair.slice(0, eq).trim()}`);
  }
  secretsOfBody(text, contentType || 'application/json', 'response', scan);
}

function secretsOfBody(body, contentType, label, scan) {
  if (body === undefined || body === null) return;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : undefined;
  if (text === undefined || text.length === 0) return;
  if (contentType.includes('x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(text)) if (SECRET_FIELDS.has(k)) scan.secret(v, `${label}.${k}`);
    return;
  }
  try {
    scan.secretFields(JSON.parse(text), label);
  } catch {
    // not JSON: nothing to read
  }
}

/** Registers every binding that holds a secret (names with SECRET, KEY, PASSWORD or TOKEN). */
export function secretsOfBindings(bindings, scan = run) {
  for (const [name, value] of Object.entries(bindings ?? {})) {
    if (typeof value !== 'string' || !/SECRET|KEY|PASSWORD|TOKEN$/.test(name)) continue;
    if (/KEY/.test(name) && value.trimStart().startsWith('{')) scan.privateJwk(value, name);
    else for (const part of value.split(',')) scan.secret(part.trim(), name);
  }
}

/** Records one line of a worker's (or a process's) output. */
export function logLine(worker, level, message) {
  run.log(worker, level, message);
}

/**
 * Miniflare options capturing every log line of its workers (named `worker` here):
 * `handleStructuredLogs` gives each console call with its method (`log`, `info`, `debug`,
 * `warn`, `error`: workerd writes the last two to stderr, the others to stdout), and
 * `handleRuntimeStdio` keeps any output that is not such a line. `onLog(message, level)` sees
 * each structured line as well. With EDGE_TEST_LOG set, the lines are also printed (stderr).
 */
export function captureOptions(worker, onLog) {
  const show = process.env.EDGE_TEST_LOG ? (level, line) => process.stderr.write(`[${worker}] ${level}: ${line}\n`) : () => {};
  return {
    handleStructuredLogs({ level, message }) {
      run.log(worker, level, message);
      show(level, message);
      onLog?.(message, level);
    },
    handleRuntimeStdio(stdout, stderr) {
      for (const [stream, name] of [
        [stdout, 'stdout'],
        [stderr, 'stderr'],
      ]) {
        let rest = '';
        stream.on('data', (chunk) => {
          const lines = (rest + chunk.toString('utf8')).split('\n');
          rest = lines.pop();
          for (const line of lines) {
            // Structured lines reach handleStructuredLogs; anything else is kept raw.
            if (line && !line.startsWith('{"timestamp"')) {
              run.log(worker, `raw ${name}`, line);
              show(`raw ${name}`, line);
            }
          }
        });
      }
    },
  };
}

function report(hits, where) {
  const lines = hits.map((h) => `  ${h.label} (${h.secret}) in a ${h.level} line of ${h.worker}: ${h.line}`);
  return `secret scan (${where}): ${hits.length} log line(s) hold a secret:\n${lines.join('\n')}`;
}

process.on('exit', () => {
  if (run.lines.length === 0 && run.secrets.size === 0) return;
  const hits = run.scan();
  if (hits.length) {
    console.error(report(hits, caller));
    process.exitCode = 1;
  }
  const dir = process.env.EDGE_LOG_SCAN_DIR;
  if (dir) {
    const name = `${path.basename(caller).replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}-${crypto.randomBytes(3).toString('hex')}.json`;
    fs.writeFileSync(path.join(dir, name), JSON.stringify(run.record(caller)));
  }
});

// ---------------------------------------------------------------------------------------------
// the whole-run scan

/** Scans every record in `dir`: every line of the run against every secret of the run. */
export function scanDir(dir) {
  const records = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  const secrets = new Map();
  const lines = [];
  for (const r of records) {
    for (const [v, label] of r.secrets) if (!secrets.has(v)) secrets.set(v, `${label} (${r.file})`);
    for (const l of r.lines) lines.push({ ...l, worker: `${l.worker} (${r.file})` });
  }
  return { records: records.length, secrets: secrets.size, lines: lines.length, hits: scanLines(secrets, lines) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node tests/log-scan.mjs <EDGE_LOG_SCAN_DIR>');
    process.exit(2);
  }
  const started = Date.now();
  const r = scanDir(dir);
  const summary = `${r.records} test processes, ${r.lines} log lines, ${r.secrets} secrets, ${Date.now() - started} ms`;
  if (r.records === 0 || r.lines === 0) {
    console.error(`secret scan: nothing captured (${summary}): the harnesses did not record`);
    process.exit(1);
  }
  if (r.hits.length) {
    console.error(report(r.hits, 'whole run'));
    console.error(summary);
    process.exit(1);
  }
  console.log(`secret scan: no secret in any log line (${summary})`);
}
