#!/usr/bin/env node
// The edge's identity-assertion key (README: "The identity assertion").
//   node scripts/gen-assertion-key.mjs            prints a new private P-256 JWK for ASSERTION_KEY
//   node scripts/gen-assertion-key.mjs --public   reads a private JWK on stdin, prints its public JWKS
// Store the key as a secret: `node scripts/gen-assertion-key.mjs | npx wrangler secret put ASSERTION_KEY`.
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

if (process.argv[2] === '--public') {
  const jwk = JSON.parse(readFileSync(0, 'utf8'));
  const pub = createPrivateKey({ key: jwk, format: 'jwk' }).export({ format: 'jwk' });
  const out = { kty: pub.kty, crv: pub.crv, x: pub.x, y: pub.y, kid: jwk.kid, alg: 'ES256', use: 'sig' };
  process.stdout.write(JSON.stringify({ keys: [out] }) + '\n');
} else {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  process.stdout.write(JSON.stringify({ kty, crv, x, y, d, kid: `edge-${randomUUID()}` }) + '\n');
}
