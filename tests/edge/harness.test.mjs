// Self-check of the harness with a stub JS worker (tests/edge/fixtures/stub-worker.mjs): Miniflare
// starts, outbound fetch from workerd reaches loopback servers, raw header lines arrive as sent,
// and the token helpers produce tokens node:crypto itself verifies. Independent of the Rust build.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as H from './harness.mjs';

let up, jw, gate;
before(async () => {
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/stub', { keys: H.jwks(H.genKey('ec', { kid: 'k1' })) });
  gate = await H.startGate(
    { stub: { UPSTREAM: up.url, JWKS_URL: jw.url('/stub') } },
    { script: H.STUB_SCRIPT },
  );
});
after(async () => {
  await gate?.dispose();
  await up?.close();
  await jw?.close();
});

test('workerd reaches the fake upstream on loopback; method, query and body arrive', async () => {
  up.respond = { status: 201, headers: { 'cache-control': 'public, max-age=5' }, body: 'hi' };
  const r = await gate.request('stub', '/a/b?x=1&y=%20z', { method: 'POST', headers: [['Content-Type', 'text/plain']], body: 'payload' });
  assert.equal(r.status, 201);
  assert.equal(r.text, 'hi');
  assert.equal(up.last.method, 'POST');
  assert.equal(up.last.url, '/a/b?x=1&y=%20z');
  assert.equal(up.last.body, 'payload');
});

test('workerd reaches the fake JWKS server on loopback and it counts fetches', async () => {
  const r = await gate.request('stub', '/__stub/jwks');
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.text).keys[0].kid, 'k1');
  assert.equal(jw.count('/stub'), 1);
});

test('repeated header lines reach the worker (workerd joins them with ", ")', async () => {
  const r = await gate.request('stub', '/__stub/echo', {
    headers: [['Authorization', 'Bearer a'], ['Authorization', 'Bearer b'], ['Cookie', 'a=1'], ['Cookie', 'b=2']],
  });
  const h = Object.fromEntries(r.json().headers);
  assert.equal(h.authorization, 'Bearer a, Bearer b');
  assert.equal(h.cookie, 'a=1, b=2');
});

test('minted tokens verify with node:crypto for every algorithm', () => {
  for (const [kind, alg] of [['ec', 'ES256'], ['rsa', 'RS256'], ['ed', 'EdDSA'], ['ed', 'Ed25519'], ['ps', 'PS256']]) {
    const key = H.genKey(kind);
    const t = H.mint({ key, alg });
    const [h] = t.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    assert.deepEqual([header.alg, header.typ, header.kid], [alg, 'at+jwt', key.kid]);
    const pub = crypto.createPublicKey({ key: key.jwk, format: 'jwk' });
    const verify = (tok) => {
      const [vh, vp, vs] = tok.split('.');
      const data = Buffer.from(`${vh}.${vp}`);
      const sig = Buffer.from(vs, 'base64url');
      if (alg === 'ES256') return crypto.verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig);
      if (alg === 'RS256') return crypto.verify('sha256', data, pub, sig);
      if (alg === 'PS256') return crypto.verify('sha256', data, { key: pub, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
      return crypto.verify(null, data, pub, sig);
    };
    assert.ok(verify(t), alg);
    assert.ok(!verify(H.tamperSignature(t)), `tampered ${alg}`);
    assert.ok(!verify(H.tamperPayload(t, { sub: 'other' })), `tampered payload ${alg}`);
  }
});
