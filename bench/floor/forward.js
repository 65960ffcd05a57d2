// The floor's forward (src/lib.rs): bench/workers/shape.mjs's reshaping, with the headers the
// wasm decided (`name\nvalue\n` pairs) set instead of shape's constants.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'cookie', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'edge-assertion']);

export function forward(request, url, added) {
  const headers = new Headers(request.headers);
  for (const name of Array.from(headers.keys())) {
    if (HOP.has(name) || name.startsWith('x-auth-')) headers.delete(name);
  }
  const parts = added.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) headers.set(parts[i], parts[i + 1]);
  return fetch(url, {
    method: request.method,
    headers,
    redirect: 'manual',
    cache: 'no-store',
    signal: AbortSignal.timeout(30_000),
  }).then((resp) => {
    const out = new Response(resp.body, resp);
    out.headers.set('cache-control', 'private, no-store');
    out.headers.set('vary', 'Cookie, Authorization');
    out.headers.delete('cdn-cache-control');
    out.headers.delete('cloudflare-cdn-cache-control');
    out.headers.delete('surrogate-control');
    return out;
  });
}

export function unauthorized() {
  return Promise.resolve(new Response('unauthorized', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }));
}
