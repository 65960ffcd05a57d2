// A reference, not a gate: the request and response reshaping edge-session does to every
// forwarded authenticated request, in plain JS, with no token, cookie or revocation check at
// all. What any gate that keeps the edge's contract pays on top of a passthrough
// (shape/passthrough), and how much of edge-session's cost is the checks and the wasm boundary
// rather than the reshaping (edge/shape).
//  - request: header copy; hop-by-hop headers, every client X-Auth-* header and the headers the
//    edge sets itself (X-Forwarded-Host/-Proto, Forwarded, Edge-Assertion) removed; the five
//    X-Auth-* identity headers and X-Forwarded-Host/-Proto set; redirect manual; a 30 s
//    deadline (AbortSignal.timeout); `cache: "no-store"` (an identity-dependent request
//    bypasses the runtime's subrequest cache: README, "Cache policy")
//  - response: re-wrapped so that Cache-Control and Vary can be set (the values edge-session
//    sets for an authenticated response without upstream cache headers) and the CDN cache
//    headers (CDN-Cache-Control, Cloudflare-CDN-Cache-Control, Surrogate-Control) removed
// `shape-lite.mjs` is this worker as it was before the edge's contract gained the forwarding
// headers, the cache bypass and the CDN header removal; the bench measures both.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'cookie', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'edge-assertion']);

// The reshaping and forward, exported for cold-floor.mjs (which does the same after its checks).
export async function forward(request, env) {
  const url = request.url;
  const scheme = url.indexOf('://');
  const pathStart = url.indexOf('/', scheme + 3);
  const pathAndQuery = url.slice(pathStart);
  const headers = new Headers(request.headers);
  for (const name of Array.from(headers.keys())) {
    if (HOP.has(name) || name.startsWith('x-auth-')) headers.delete(name);
  }
  headers.set('X-Forwarded-Host', url.slice(scheme + 3, pathStart));
  headers.set('X-Forwarded-Proto', url.slice(0, scheme));
  headers.set('X-Auth-Subject', 'bench-user');
  headers.set('X-Auth-Session', 'sess-0000000000');
  headers.set('X-Auth-Roles', 'reader');
  headers.set('X-Auth-Client', 'bench-client');
  headers.set('X-Auth-Scope', 'read');
  const resp = await fetch(env.UPSTREAM + pathAndQuery, {
    method: request.method,
    headers,
    redirect: 'manual',
    cache: 'no-store',
    signal: AbortSignal.timeout(30_000),
  });
  const out = new Response(resp.body, resp);
  out.headers.set('cache-control', 'private, no-store');
  out.headers.set('vary', 'Cookie, Authorization');
  out.headers.delete('cdn-cache-control');
  out.headers.delete('cloudflare-cdn-cache-control');
  out.headers.delete('surrogate-control');
  return out;
}

export default { fetch: forward };
