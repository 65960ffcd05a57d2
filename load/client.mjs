// The load client: one keep-alive connection pool for every virtual user (event-driven, no
// process per user), each request tagged with a `cf-ray` id the edge logs as its request id,
// so a refusal's log reason is joined to the response that carried it.
import http from 'node:http';

let agent = new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });
let seq = 0;
let inflight = 0;
let gate = null; // a promise while the edge is being re-instantiated

export const stats = {
  resent: 0,
  get inflight() {
    return inflight;
  },
};

/** Holds new requests, waits (bounded) for those in flight, runs `fn`, then a fresh pool. */
export async function paused(fn, maxMs = 15000) {
  let open;
  gate = new Promise((r) => (open = r));
  const end = Date.now() + maxMs;
  while (inflight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  try {
    await fn();
  } finally {
    agent.destroy();
    agent = new http.Agent({ keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 });
    gate = null;
    open();
  }
}

/**
 * One request. Resolves (never rejects) to { id, status (0: no answer), headers, setCookies,
 * text, error (body's `error` field), ms, netError }.
 */
export async function send(base, path, opts = {}) {
  const r = await sendOnce(base, path, opts);
  // A keep-alive connection the server closed while the request was written: sent again once
  // on a new connection, as browsers do (node's documented pattern, `req.reusedSocket`).
  if (r.reused && (r.netError === 'ECONNRESET' || r.netError === 'EPIPE')) {
    stats.resent += 1;
    return sendOnce(base, path, { ...opts, fresh: true });
  }
  return r;
}

async function sendOnce(base, path, { method = 'GET', headers = {}, body, timeoutMs = 30000, fresh = false } = {}) {
  while (gate) await gate;
  const id = `ld-${(++seq).toString(36)}`;
  const h = { ...headers, 'cf-ray': id };
  if (body !== undefined) h['content-length'] = String(Buffer.byteLength(body));
  inflight += 1;
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r) => {
      if (done) return;
      done = true;
      inflight -= 1;
      resolve({ id, ms: performance.now() - t0, ...r });
    };
    const req = http.request(`${base}${path}`, { method, headers: h, agent: fresh ? false : agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let error;
        if ((res.headers['content-type'] ?? '').includes('json') && res.statusCode >= 300) {
          try {
            error = JSON.parse(text).error;
          } catch {
            error = undefined;
          }
        }
        finish({ status: res.statusCode, headers: res.headers, setCookies: res.headers['set-cookie'] ?? [], text, error });
      });
      res.on('error', (e) => finish({ status: 0, headers: {}, setCookies: [], text: '', netError: e.code ?? String(e) }));
    });
    req.on('error', (e) => finish({ status: 0, headers: {}, setCookies: [], text: '', netError: e.code ?? String(e), reused: req.reusedSocket }));
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    if (body !== undefined) req.write(body);
    req.end();
  });
}
