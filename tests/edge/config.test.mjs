// Configuration: invalid config answers 500 with a generic body and never forwards;
// each documented option changes behaviour as the contract says. One Miniflare, one worker per
// configuration.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from './harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const ec = H.genKey('ec', { kid: 'cfg-ec' });
const rsa = H.genKey('rsa', { kid: 'cfg-rsa' });
const ed = H.genKey('ed', { kid: 'cfg-ed' });
const ps = H.genKey('ps', { kid: 'cfg-ps' });
const weak = H.genKey('rsa', { kid: 'cfg-rsa1024', bits: 1024 });

// name → [binding overrides (undefined removes), description, offending binding name]
const BAD = {
  noIssuer: [{ ISSUER: undefined }, 'ISSUER missing', 'ISSUER'],
  noAudience: [{ AUDIENCE: undefined }, 'AUDIENCE missing', 'AUDIENCE'],
  noUpstream: [{ UPSTREAM: undefined }, 'UPSTREAM missing', 'UPSTREAM'],
  leeway500: [{ LEEWAY_SECONDS: '500' }, 'LEEWAY_SECONDS=500 (cap 120)', 'LEEWAY_SECONDS'],
  leewayNaN: [{ LEEWAY_SECONDS: 'thirty' }, 'LEEWAY_SECONDS not a number', 'LEEWAY_SECONDS'],
  leewayNeg: [{ LEEWAY_SECONDS: '-1' }, 'LEEWAY_SECONDS negative', 'LEEWAY_SECONDS'],
  jwksNotUrl: [{ JWKS_URL: 'not a url' }, 'JWKS_URL not a URL', 'JWKS_URL'],
  jwksHttpRemote: [{ JWKS_URL: 'http://idp.example.com/jwks' }, 'JWKS_URL http on a non-loopback host', 'JWKS_URL'],
  jwksBoth: [{ JWKS: JSON.stringify(H.jwks(ec)) }, 'both JWKS_URL and JWKS', 'JWKS'],
  jwksNeither: [{ JWKS_URL: undefined }, 'neither JWKS_URL nor JWKS', 'JWKS'],
  jwksInlineBad: [{ JWKS_URL: undefined, JWKS: '{"keys": [' }, 'inline JWKS not JSON', 'JWKS'],
  algsHS: [{ ALLOWED_ALGS: 'ES256,HS256' }, 'ALLOWED_ALGS with HS256', 'ALLOWED_ALGS'],
  algsNone: [{ ALLOWED_ALGS: 'none' }, 'ALLOWED_ALGS none', 'ALLOWED_ALGS'],
  upstreamNotUrl: [{ UPSTREAM: '127.0.0.1' }, 'UPSTREAM not a URL', 'UPSTREAM'],
  jwksCacheNaN: [{ JWKS_CACHE_SECONDS: 'ten' }, 'JWKS_CACHE_SECONDS not a number', 'JWKS_CACHE_SECONDS'],
};

let up, jw, gate;
const call = (w, path, opts) => H.call(gate, up, w, path, opts);
const withToken = (w, token, opts = {}) => call(w, opts.path ?? '/api/x', { ...opts, headers: [...H.bearer(token), ...(opts.headers ?? [])] });

before(async () => {
  if (!built) return;
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/keys', { keys: H.jwks(ec, rsa, ed) });
  jw.set('/ps', { keys: H.jwks(ec, ps) });
  jw.set('/weak', { keys: H.jwks(ec, weak) });
  const b = (over, p = '/keys') => H.baseBindings(up, jw.url(p), { PUBLIC_PATHS: '/health', ...over });
  const configs = {
    algsEs: b({ ALLOWED_ALGS: 'ES256' }),
    psAllowed: b({ ALLOWED_ALGS: 'ES256,RS256,PS256,EdDSA' }, '/ps'),
    psDefault: b({}, '/ps'),
    weakRsa: b({}, '/weak'),
    typAny: b({ ACCEPTED_TYP: '*' }),
    typList: b({ ACCEPTED_TYP: 'at+jwt,JWT' }),
    leeway0: b({ LEEWAY_SECONDS: '0' }),
    leeway120: b({ LEEWAY_SECONDS: '120' }),
    multiAud: b({ AUDIENCE: 'api-a,api-b' }),
    cookies: b({ ACCESS_COOKIE: '__Host-acc', SESSION_COOKIE: '__Host-ses' }),
    inline: b({ JWKS_URL: undefined, JWKS: JSON.stringify(H.jwks(ec, ed)) }),
  };
  for (const [name, [over]] of Object.entries(BAD)) configs[name] = b(over);
  gate = await H.startGate(configs);
});
after(async () => {
  await gate?.dispose();
  await up?.close();
  await jw?.close();
});

test('edge worker build exists', () => {
  assert.ok(built, `missing ${H.WORKER_SCRIPT}: run scripts/build.sh first`);
});

describe('bad configuration: 500, generic body, never forwards', { skip }, () => {
  for (const [name, [, desc, key]] of Object.entries(BAD)) {
    test(desc, async () => {
      for (const res of [
        await withToken(name, H.mint({ key: ec })),
        await call(name, '/health'),
        await call(name, '/api/x'),
      ]) {
        assert.equal(res.status, 500, `status ${res.status} body=${res.text.slice(0, 200)}`);
        assert.equal(res.forwarded, false, 'upstream must never be called');
        assert.ok(res.text.length < 512, 'short body');
        assert.ok(!res.text.includes(key), `generic body must not name ${key}: ${res.text}`);
        assert.ok(!/panic|RuntimeError|unreachable|wasm/i.test(res.text), `no panic text: ${res.text}`);
      }
    });
  }
});

describe('configuration options', { skip }, () => {
  test('ALLOWED_ALGS=ES256 refuses RS256 and EdDSA tokens', async () => {
    H.assertForwarded(await withToken('algsEs', H.mint({ key: ec })));
    for (const key of [rsa, ed]) {
      const t = H.mint({ key });
      H.assertChallenge(await withToken('algsEs', t), { token: t });
    }
  });
  test('PS256 accepted when allowed', async () => {
    H.assertForwarded(await withToken('psAllowed', H.mint({ key: ps })));
    H.assertForwarded(await withToken('psAllowed', H.mint({ key: ec })));
  });
  test('PS256 refused by default; the rest of the JWKS still works', async () => {
    const t = H.mint({ key: ps });
    H.assertChallenge(await withToken('psDefault', t), { token: t });
    H.assertForwarded(await withToken('psDefault', H.mint({ key: ec })));
  });
  test('RSA key under 2048 bits is refused; the rest of the JWKS still works', async () => {
    const t = H.mint({ key: weak });
    H.assertChallenge(await withToken('weakRsa', t), { token: t });
    H.assertForwarded(await withToken('weakRsa', H.mint({ key: ec })));
  });
  test('ACCEPTED_TYP=* accepts any or no typ', async () => {
    for (const typ of ['at+jwt', 'JWT', undefined]) H.assertForwarded(await withToken('typAny', H.mint({ key: ec, header: { typ } })), `typ ${typ}`);
  });
  test('ACCEPTED_TYP=at+jwt,JWT accepts both, refuses missing typ', async () => {
    for (const typ of ['at+jwt', 'JWT']) H.assertForwarded(await withToken('typList', H.mint({ key: ec, header: { typ } })), `typ ${typ}`);
    const t = H.mint({ key: ec, header: { typ: undefined } });
    H.assertChallenge(await withToken('typList', t), { token: t });
  });
  test('LEEWAY_SECONDS=0: exp 10 s ago is refused', async () => {
    const t = H.mint({ key: ec, claims: { exp: H.now() - 10 } });
    H.assertChallenge(await withToken('leeway0', t), { token: t });
  });
  test('LEEWAY_SECONDS=120: exp 90 s ago passes, 200 s ago does not', async () => {
    H.assertForwarded(await withToken('leeway120', H.mint({ key: ec, claims: { exp: H.now() - 90 } })));
    const t = H.mint({ key: ec, claims: { exp: H.now() - 200 } });
    H.assertChallenge(await withToken('leeway120', t), { token: t });
  });
  test('AUDIENCE list: any listed audience passes, others do not', async () => {
    H.assertForwarded(await withToken('multiAud', H.mint({ key: ec, claims: { aud: 'api-a' } })));
    H.assertForwarded(await withToken('multiAud', H.mint({ key: ec, claims: { aud: 'api-b' } })));
    const t = H.mint({ key: ec, claims: { aud: 'api-c' } });
    H.assertChallenge(await withToken('multiAud', t), { token: t });
    const t2 = H.mint({ key: ec, claims: { aud: 'api-a,api-b' } });
    H.assertChallenge(await withToken('multiAud', t2), { token: t2 });
  });
  test('ACCESS_COOKIE / SESSION_COOKIE rename the edge cookies', async () => {
    const res = await call('cookies', '/api/x', { headers: [['Cookie', `k=v; __Host-acc=${H.mint({ key: ec })}; __Host-ses=s1; __Host-access=other`]] });
    const req = H.assertForwarded(res);
    assert.equal(req.header('cookie'), 'k=v; __Host-access=other');
    H.assertChallenge(await call('cookies', '/api/x', { headers: [['Cookie', `__Host-access=${H.mint({ key: ec })}`]] }), { error: null });
  });
  test('inline JWKS verifies without any fetch', async () => {
    const hits = jw.hits.length;
    H.assertForwarded(await withToken('inline', H.mint({ key: ec })));
    H.assertForwarded(await withToken('inline', H.mint({ key: ed })));
    const t = H.mint({ key: rsa });
    H.assertChallenge(await withToken('inline', t), { token: t });
    assert.equal(jw.hits.length, hits);
  });
  test('the verified-token cache never outlives exp (LEEWAY_SECONDS=0)', async () => {
    const exp = H.now() + 2;
    const t = H.mint({ key: ec, claims: { exp } });
    H.assertForwarded(await withToken('leeway0', t), 'before exp');
    H.assertForwarded(await withToken('leeway0', t), 'before exp, cached');
    await H.sleep(Math.max(0, (exp + 1) * 1000 - Date.now()) + 300);
    H.assertChallenge(await withToken('leeway0', t), { token: t });
  });
});
