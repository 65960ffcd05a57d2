// CDN-targeted cache headers: `CDN-Cache-Control` (RFC 9213),
// `Cloudflare-CDN-Cache-Control` and `Surrogate-Control` override `Cache-Control` in the caches
// they target. Wherever the cache table forbids shared caching (authenticated without opt-in,
// anything that sets a cookie) they are removed; where the upstream keeps shared caching
// (authenticated and opted in without a cookie, public without a cookie) they stay as sent.
// Both paths (fast, full); each case twice so the second is the fast path's on "fast".
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as H from './harness.mjs';

const built = H.workerBuilt();
const skip = !built && `edge worker not built (${H.WORKER_SCRIPT}); run scripts/build.sh`;

const key = H.genKey('ec', { kid: 'cdn-ec' });
let up, jw, gate, token;

before(async () => {
  if (!built) return;
  up = await H.startUpstream();
  jw = await H.startJwks();
  jw.set('/k', { keys: H.jwks(key), cacheControl: 'max-age=300' });
  const common = { PUBLIC_PATHS: '/public/*' };
  gate = await H.startGate({
    fast: H.baseBindings(up, jw.url('/k'), common),
    full: H.baseBindings(up, jw.url('/k'), { ...common, FAST_PATH: 'false' }),
  });
  token = H.mint({ key, claims: { exp: H.now() + 3600 } });
});
after(async () => {
  await gate?.dispose();
  await up?.close();
  await jw?.close();
});

const CDN = {
  'cdn-cache-control': 'public, max-age=600',
  'cloudflare-cdn-cache-control': 'max-age=600',
  'surrogate-control': 'max-age=600',
};
const COOKIE = { 'set-cookie': ['pref=1; Path=/; Secure; HttpOnly'] };

// [case, path, with a token, upstream headers, CDN headers kept]
const CASES = [
  ['authenticated, upstream private', '/api/x', true, { 'cache-control': 'private, max-age=60' }, false],
  ['authenticated, no Cache-Control', '/api/x', true, {}, false],
  ['authenticated, opted in, sets a cookie', '/api/x', true, { 'cache-control': 'public, max-age=60', ...COOKIE }, false],
  ['authenticated, no-store, sets a cookie', '/api/x', true, { 'cache-control': 'no-store', ...COOKIE }, false],
  ['authenticated, opted in, no cookie', '/api/x', true, { 'cache-control': 'public, max-age=60' }, true],
  ['public, sets a cookie', '/public/x', false, { 'cache-control': 'public, max-age=60', ...COOKIE }, false],
  ['public, sets a cookie, no opt-in', '/public/x', false, COOKIE, false],
  ['public, no cookie', '/public/x', false, { 'cache-control': 'public, max-age=60' }, true],
];

describe('CDN-targeted cache headers follow the cache table', { skip }, () => {
  for (const name of ['fast', 'full']) {
    for (const [label, path, withToken, headers, kept] of CASES) {
      test(`${name}: ${label}: CDN headers ${kept ? 'kept' : 'removed'}`, async () => {
        up.respond = { headers: { ...headers, ...CDN } };
        for (const round of [1, 2]) {
          const res = await H.call(gate, up, name, path, { headers: withToken ? H.bearer(token) : [] });
          H.assertForwarded(res, `${label} #${round}`);
          for (const [h, v] of Object.entries(CDN)) {
            assert.equal(res.headers[h], kept ? v : undefined, `#${round} ${h} (cache-control: ${res.headers['cache-control']})`);
          }
        }
        up.respond = null;
      });
    }
  }
});

// Authenticated requests are fetched with `cache: "no-store"` (the runtime's subrequest cache
// keys on the URL alone). workerd supports the option at this compatibility date and marks
// such a request with `Cache-Control: no-cache` and `Pragma: no-cache` on the way out, which is
// what the upstream can see of it. Public requests are fetched as before.
describe('authenticated upstream fetches bypass the runtime cache', { skip }, () => {
  for (const name of ['fast', 'full']) {
    test(`${name}: cache "no-store" on authenticated fetches only`, async () => {
      for (const round of [1, 2]) {
        const auth = H.assertForwarded(await H.call(gate, up, name, '/api/x', { headers: H.bearer(token) }));
        assert.deepEqual(auth.headers.pragma, ['no-cache'], `#${round} authenticated`);
        const pub = H.assertForwarded(await H.call(gate, up, name, '/public/x'));
        assert.equal(pub.headers.pragma, undefined, `#${round} public`);
      }
    });
  }
});
