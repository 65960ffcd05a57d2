// `shape` as it was defined with issue 16, kept for comparison (bench/README.md): it predates the
// edge's forwarding headers, its subrequest cache bypass and its CDN header removal, so it does
// less than the edge's contract asks; `shape.mjs` does all of it. As first written:
// A reference, not a gate: the request and response reshaping edge-session does on every
// forwarded request, in plain JS, with no token, cookie or revocation check at all. What any gate
// that keeps the edge's contract pays on top of a passthrough (shape/passthrough), and how much
// of edge-session's cost is the checks and the wasm boundary rather than the reshaping
// (edge/shape).
//  - request: header copy; hop-by-hop and every client X-Auth-* header removed; the five
//    X-Auth-* identity headers set; redirect manual; a 30 s deadline (AbortSignal.timeout)
//  - response: re-wrapped so that Cache-Control and Vary can be set (the values edge-session
//    sets for an authenticated response without upstream cache headers)
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'cookie']);

export default {
  async fetch(request, env) {
    const url = request.url;
    const pathAndQuery = url.slice(url.indexOf('/', url.indexOf('://') + 3));
    const headers = new Headers(request.headers);
    for (const name of Array.from(headers.keys())) {
      if (HOP.has(name) || name.startsWith('x-auth-')) headers.delete(name);
    }
    headers.set('X-Auth-Subject', 'bench-user');
    headers.set('X-Auth-Session', 'sess-0000000000');
    headers.set('X-Auth-Roles', 'reader');
    headers.set('X-Auth-Client', 'bench-client');
    headers.set('X-Auth-Scope', 'read');
    const resp = await fetch(env.UPSTREAM + pathAndQuery, {
      method: request.method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(30_000),
    });
    const out = new Response(resp.body, resp);
    out.headers.set('cache-control', 'private, no-store');
    out.headers.set('vary', 'Cookie, Authorization');
    return out;
  },
};
