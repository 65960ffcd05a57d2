// Groups a V8 CPU profile's self time into what a gate does per request (bench/profile.mjs):
// token parsing, claims checks, the WebCrypto call, the KV read, wasm<->JS glue, request
// reshaping/forward, gate logic, runtime, idle, other.
//
// Each sample's leaf frame is classified by its own name when that name says what it is (a
// WebCrypto native, a wasm-bindgen helper, serde_json, `edge_session::token::inspect`); when it
// does not (an allocator, `core::fmt`, a `Headers.get` native, a wasm-bindgen call wrapper whose
// self time is the native call it makes) the sample goes to the nearest caller that does. So
// the time of a native WebCrypto or KV call that V8 attributes to the JS wrapper calling it
// lands in the category of the Rust function that asked for it, and only the marshalling
// (string and array copies, the trampolines, the futures executor) counts as glue.
//
// The edge's wasm needs its name section (a build with
// `NO_MINIFY=1 CARGO_PROFILE_RELEASE_STRIP=false bash scripts/build-edge.sh -d bench/.out/prof-build`);
// without names most wasm time lands in "other". The peers are bundled unminified by
// profile.mjs for their names; their rules are coarser (jose and Hono function names).

export const CATEGORIES = [
  ['parse', 'token parsing (base64, JSON, inspect)'],
  ['claims', 'claims checks'],
  ['crypto', 'WebCrypto call (key import, verify)'],
  ['kv', 'KV read (+ revocation cache)'],
  ['glue', 'wasm<->JS glue (wasm-bindgen, shim)'],
  ['forward', 'request reshaping / forward / response'],
  ['gate', 'gate logic (routing, token cache, decisions)'],
  ['runtime', 'runtime (program, GC, promise jobs)'],
  ['other', 'other'],
  ['idle', 'idle'],
];

const WEBCRYPTO_NATIVES = new Set(['verify', 'importKey', 'digest', 'sign', 'exportKey', 'deriveBits', 'encrypt', 'decrypt', 'generateKey', 'getRandomValues']);

// wasm-bindgen's JS helpers (shim.mjs), the JS entry, and the Rust side's executor, closures
// and exports: glue wherever they are on the stack.
const GLUE_JS =
  /^(passStringToWasm0|passArray8ToWasm0|passArrayJsValueToWasm0|getStringFromWasm0|getArrayU8FromWasm0|getArrayJsValueFromWasm0|decodeText|addToExternrefTable0|takeFromExternrefTable0|addHeapObject|takeObject|getObject|dropObject|getDataViewMemory0|getUint8ArrayMemory0|getUint32ArrayMemory0|isLikeNone|debugString|makeMutClosure|makeClosure|real|real\._wbg_cb_unref|__wbindgen_.*|__wbg___wbindgen_.*|__wbg__wbg_cb_unref.*|__wbg_queueMicrotask.*|__wbg_adapter_.*|wasm_bindgen__convert__closures.*|instantiate|fetch2?)$/;
const GLUE_WASM = /^(__wbindgen_|wasm_bindgen::(convert::closures|closure)|<?wasm_bindgen::convert::closures|js_sys::futures|<js_sys::futures|wasm_bindgen_futures|<wasm_bindgen_futures)/;
// Trampolines and call stubs between wasm and JS: glue when the sample is in them, skipped
// when they are only on the way to the Rust function that made the call.
const MARSHAL = /^(wasm-to-js|js-to-wasm|<unknown> externref shim|handleError$)|externref shim$|::__wbg_[a-zA-Z0-9_]+::h[0-9a-f]+$/;

// edge_session's modules, most specific first.
const EDGE_RULES = [
  [/edge_session::token::Inspected::into_claims|edge_session::token::claims::(check_claims|numeric_date|VerifiedClaims)|edge_session::policy::/, 'claims'],
  [/edge_session::token::(inspect|json_too_deep|normalize_media_type|ExtraHeader|_::|claims::_::|claims::OneOrMany)|edge_session::credentials::/, 'parse'],
  [/edge_session::token::claims::/, 'claims'],
  [/edge_session::(webcrypto::|adapter::verify::|keys::|jwks::|token::Inspected::select_key)/, 'crypto'],
  [/edge_session::(adapter::revoke::|revocation::|gate::steps::judge_revocation)|worker::kv::/, 'kv'],
  [/edge_session::(adapter::upstream::|forward::|cache_policy::|adapter::fast::finalizer|adapter::js::abort_after|adapter::outbound::|adapter::assertion::|assertion::|target::Target::upstream_url)/, 'forward'],
  [/edge_session::(adapter::(js|flight|with_isolate|now_ms|now_secs)\b)/, null], // helpers: their caller decides
  [/edge_session::/, 'gate'],
];
const PARSE_CRATES = /^(<?base64ct|<?serde_json|<?serde::|<T as base64ct|<serde_json|<&mut serde_json)/;

// jose / Hono (the peers, bundled unminified).
const PEER_RULES = [
  [/^(validateClaimsSet|checkAudience|epoch|secs|normalizeTyp|validateAlgorithms|validateCrit|isDisjoint)$/, 'claims'],
  [/^(verifySignature|verify|importJWK|importKey|prepareKey|rawKey|getCryptoKey|checkSigCryptoKey|checkKeyType|getKey|LocalJWKSet|createLocalJWKSet|isCryptoKey|subtleAlgorithm|getSignVerifyKey|_jwksCache|importJwk|jwkToKey)$/, 'crypto'],
  [/^(decode|decodeBase64|decodeBase64url|encodeBase64|b64u?|parseProtectedHeader|decodeProtectedHeader|jwtPayload|isObject|concat|parse|decoder|encode)$/, 'parse'],
  [/^(load|cachedAnswer|remember|kvKey|hex|userMark)$/, 'kv'],
  // Hono's router and dispatch: the peer's routing.
  [/^(#?dispatch|match\d*|fetch|compose|#getPath|getPath|getPathNoStrict|handler|routerMatch|buildMatcher)$/, 'gate'],
];

/**
 * What one call frame says about the time spent in it: a category key, or null when its caller
 * decides.
 */
export function classifyFrame(f, isLeaf, hints) {
  const name = f.functionName || '';
  const url = f.url || '';
  if (name === '(idle)') return 'idle';
  if (name === '(program)' || name === '(garbage collector)') return 'runtime';
  if (name === '(root)') return null;
  if (MARSHAL.test(name)) return isLeaf ? 'glue' : null;
  const file = url.split('/').pop();
  const wasm = /\.wasm|wasm-function/.test(url) || /^wasm-function\[/.test(name);
  if (!url && !wasm) {
    // A native builtin or runtime API (V8 gives it no script).
    if (WEBCRYPTO_NATIVES.has(name)) return 'crypto';
    if (name === 'queueMicrotask') return 'glue';
    if (name === 'fetch') return 'forward';
    return null;
  }
  if (wasm) {
    if (GLUE_WASM.test(name)) return 'glue';
    // The wasm export the JS entry calls: the fast path, inlined (request facts, caches).
    if (name === 'fetch') return 'gate';
    if (PARSE_CRATES.test(name)) return 'parse';
    for (const [re, cat] of EDGE_RULES) if (re.test(name)) return cat;
    return null;
  }
  // In shim.mjs a `__wbg_*` wrapper (and the anonymous function inside its handleError) is a
  // call to the runtime: V8 counts the native call's own time there, so the Rust caller decides.
  if (file.startsWith('shim')) return GLUE_JS.test(name) ? 'glue' : null;
  if (/^(shape|passthrough)\./.test(file)) return 'forward';
  if (/^peer/.test(file)) {
    const hint = hints?.get(`${file}:${f.lineNumber}`);
    if (hint) return hint;
    for (const [re, cat] of PEER_RULES) if (re.test(name)) return cat;
    return null;
  }
  return null;
}

const shortName = (f) => {
  let n = (f.functionName || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]{16}\]/g, '');
  if (n.length > 100) n = `${n.slice(0, 97)}...`;
  // A JS frame says where it lives (shim.mjs, shape.mjs, ...); a native or wasm frame does not.
  const file = (f.url || '').split('/').pop();
  return file && !/\.wasm|wasm-function/.test(f.url) ? `${n} (${file})` : n;
};

/**
 * Self time per category (µs, summed over the profile) and, per category, the frames that
 * decided it with their time: { byCat: Map<cat, µs>, why: Map<cat, Map<name, µs>>, total }.
 * `hints` (optional): Map of "<file>:<0-based line>" to a category, for anonymous functions
 * (the peers' middleware and handler; see peerHints).
 */
export function categorize(profile, hints) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map(); // node id -> [cat, deciding frame name]
  const decide = (id) => {
    if (memo.has(id)) return memo.get(id);
    let cur = id;
    let out = null;
    while (cur !== undefined) {
      const node = byId.get(cur);
      const cat = classifyFrame(node.callFrame, cur === id, hints);
      if (cat) {
        out = [cat, shortName(node.callFrame)];
        break;
      }
      const up = parent.get(cur);
      if (up === undefined || byId.get(up).callFrame.functionName === '(root)') {
        // Nothing above says what this is: a native called by the runtime itself (a promise
        // job, an I/O callback) is the runtime's; anything else is "other".
        const f = node.callFrame;
        out = !f.url && up !== undefined ? ['runtime', shortName(f)] : ['other', shortName(byId.get(id).callFrame)];
        break;
      }
      cur = up;
    }
    memo.set(id, out);
    return out;
  };
  const byCat = new Map(CATEGORIES.map(([k]) => [k, 0]));
  const why = new Map(CATEGORIES.map(([k]) => [k, new Map()]));
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const [cat, by] = decide(profile.samples[i]);
    byCat.set(cat, byCat.get(cat) + dt);
    const leaf = shortName(byId.get(profile.samples[i]).callFrame);
    const label = leaf === by ? leaf : `${leaf} <- ${by}`;
    why.get(cat).set(label, (why.get(cat).get(label) ?? 0) + dt);
    total += dt;
  }
  return { byCat, why, total };
}

/**
 * The peers' own anonymous functions, found in their (unminified) bundle: the middleware
 * (`app.use('*', async (c, next) => ...)`: the gate) and the handler (`app.all('*', ...)`: the
 * reshaping and forward).
 */
export function peerHints(file, source) {
  const hints = new Map();
  source.split('\n').forEach((line, i) => {
    if (/app\.use\(["']\*["'],\s*async/.test(line)) hints.set(`${file}:${i}`, 'gate');
    if (/app\.all\(["']\*["'],\s*async/.test(line)) hints.set(`${file}:${i}`, 'forward');
  });
  return hints;
}
