// A reference, not a gate: the least any gate can do for an access token it has not seen
// before (the bench's cold cells), in plain JS, so that edge/peer-cached on cold tokens can be
// read against what is possible at all. Per request:
//  - the token's signature checked by WebCrypto with a key imported once per isolate (found by
//    the token's header segment, decoded once per distinct segment);
//  - the payload decoded and parsed for `sub`, `sid` and `iat` (a gate must know whose token
//    it is to look its revocation up);
//  - peer-cached's revocation lookup (revocations.mjs: the session and user-wide keys in the
//    edge's KV format, answers kept in the isolate for REVOCATION_CACHE_SECONDS);
//  - shape's reshaping and forward (shape.mjs), with its fixed identity headers.
// It leaves out everything else a gate must do: no `typ`, `alg` allow-list, iss, aud, exp or
// nbf check, no router, no JWT library, no error body. A gate that checks more does more work,
// so cold-floor/peer-cached is the most any gate keeping the edge's contract, in any language,
// can reach over the peer on a cold token here. Bundled with esbuild by bench/bench.mjs;
// bindings: JWKS, UPSTREAM, REVOCATION_CACHE_SECONDS, REVOCATIONS (KV).
import { revoked } from './revocations.mjs';
import { forward } from './shape.mjs';

const VERIFY = {
  ES256: { imp: { name: 'ECDSA', namedCurve: 'P-256' }, sig: { name: 'ECDSA', hash: 'SHA-256' } },
  RS256: { imp: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sig: { name: 'RSASSA-PKCS1-v1_5' } },
  EdDSA: { imp: { name: 'Ed25519' }, sig: { name: 'Ed25519' } },
};

let keys; // kid -> Promise<{ key: CryptoKey, sig: params }>
const byHeader = new Map(); // header segment -> that key's entry, or null (unusable)
const encoder = new TextEncoder();
const unb64u = (s) => atob(s.replace(/-/g, '+').replace(/_/g, '/'));

function keyFor(env, segment) {
  let entry = byHeader.get(segment);
  if (entry !== undefined) return entry;
  if (keys === undefined) {
    keys = new Map();
    for (const jwk of JSON.parse(env.JWKS).keys) {
      const v = VERIFY[jwk.alg];
      if (v) keys.set(jwk.kid, crypto.subtle.importKey('jwk', jwk, v.imp, false, ['verify']).then((key) => ({ key, sig: v.sig })));
    }
  }
  try {
    entry = keys.get(JSON.parse(unb64u(segment)).kid) ?? null;
  } catch {
    entry = null;
  }
  byHeader.set(segment, entry);
  return entry;
}

function bytes(b64u) {
  const s = unb64u(b64u);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Whether the request carries a token whose signature holds and that is not revoked. */
async function admitted(request, env) {
  const auth = request.headers.get('authorization') ?? '';
  if (!auth.startsWith('Bearer ')) return false;
  const parts = auth.slice(7).split('.');
  if (parts.length !== 3) return false;
  const entry = keyFor(env, parts[0]);
  if (entry === null) return false;
  try {
    const { key, sig } = await entry;
    const claims = JSON.parse(unb64u(parts[1]));
    if (typeof claims?.sub !== 'string') return false;
    if (!(await crypto.subtle.verify(sig, key, bytes(parts[2]), encoder.encode(`${parts[0]}.${parts[1]}`)))) return false;
    return !(await revoked(env, claims));
  } catch {
    return false;
  }
}

export default {
  async fetch(request, env) {
    if (!(await admitted(request, env))) {
      return new Response(null, { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    }
    return forward(request, env);
  },
};
