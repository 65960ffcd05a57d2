#!/usr/bin/env node
// DEV ONLY: prints the current TOTP code (RFC 6238: SHA-1, 6 digits, 30 s) of a demo user, from
// the published dev secrets in session-store/.dev.vars.example (or the local .dev.vars):
//   node scripts/dev-totp.mjs alice
// The demo's step-up page points here; the secrets never go into a bundle.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

const root = new URL('../session-store/', import.meta.url);
const file = ['.dev.vars', '.dev.vars.example'].map((f) => new URL(f, root)).find((u) => existsSync(u));
const name = process.argv[2] ?? 'alice';
const users = JSON.parse(parseEnv(readFileSync(file, 'utf8')).DEMO_USERS ?? '[]');
const user = users.find((u) => u.username === name);
if (!user?.totp_secret) {
  console.error(`no TOTP secret for ${name} in ${file.pathname}`);
  process.exit(1);
}

/** RFC 4648 base32, case and padding ignored. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.toUpperCase().replace(/[=\s]/g, '')) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error('bad base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

const counter = Buffer.alloc(8);
counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000)));
const h = createHmac('sha1', base32(user.totp_secret)).update(counter).digest();
const o = h[19] & 15;
console.log(String((h.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, '0'));
