// The limit: forwards every request to the upstream with no checks at all.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = new URL(url.pathname + url.search, env.UPSTREAM);
    return fetch(target, { method: request.method, headers: request.headers, redirect: 'manual' });
  },
};
