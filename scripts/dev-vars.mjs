#!/usr/bin/env node
// Local dev secrets: gives each worker (the edge, session-store/, demo/) a .dev.vars from its
// committed .dev.vars.example, which `wrangler dev` reads (git ignores .dev.vars). A key whose
// example value is empty gets a fresh random key (32 bytes, base64url). An existing .dev.vars
// is kept; keys it lacks are appended (a secret added to the example later). Prints what it
// wrote, never a value. Used by scripts/dev.sh and tests/browser.
//
// Usage: node scripts/dev-vars.mjs [ROOT]   (ROOT: the repository, by default this script's)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

export const WORKER_DIRS = ['.', 'session-store', 'demo'];

const freshKey = () => crypto.randomBytes(32).toString('base64url');

/** The example's text with every empty `KEY=` line given a fresh key. */
function fill(text) {
  return text.replace(/^([A-Za-z_][A-Za-z0-9_]*)=[ \t]*$/gm, (_, k) => `${k}=${freshKey()}`);
}

/** The lines of `example` that define `keys` (a value may span lines when quoted). */
function definitions(example, keys) {
  const out = [];
  const lines = example.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(lines[i]);
    if (!m || !keys.includes(m[1])) continue;
    const block = [lines[i]];
    const q = m[2][0];
    if ((q === "'" || q === '"') && !m[2].slice(1).includes(q)) {
      while (++i < lines.length) {
        block.push(lines[i]);
        if (lines[i].includes(q)) break;
      }
    }
    out.push(block.join('\n'));
  }
  return out.join('\n');
}

/** Makes sure `<dir>/.dev.vars` exists and defines every key of the example; returns a report. */
export function ensureDevVars(root, dir) {
  const examplePath = path.join(root, dir, '.dev.vars.example');
  const target = path.join(root, dir, '.dev.vars');
  const rel = path.relative(root, target) || '.dev.vars';
  if (!fs.existsSync(examplePath)) return null;
  const example = fs.readFileSync(examplePath, 'utf8');
  if (!fs.existsSync(target)) {
    fs.writeFileSync(target, fill(example), { mode: 0o600 });
    return `wrote ${rel} from ${path.basename(examplePath)}`;
  }
  const have = parseEnv(fs.readFileSync(target, 'utf8'));
  const missing = Object.keys(parseEnv(example)).filter((k) => !(k in have));
  if (missing.length === 0) return null;
  fs.appendFileSync(target, `\n${fill(definitions(example, missing))}\n`);
  return `added ${missing.join(', ')} to ${rel}`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  for (const dir of WORKER_DIRS) {
    const report = ensureDevVars(root, dir);
    if (report) console.error(`[dev-vars] ${report}`);
  }
}
