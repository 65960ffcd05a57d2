// A fault proxy on loopback: the edge reaches the session store (and its JWKS) and the
// application through one of these, and the load harness switches what it does per route.
//
// Routes: a request whose path starts with a route's prefix takes that route's mode
// (`proxy.route(prefix)` names it; the default route is '*'). Modes:
//   pass                forward to the target
//   slow   { ms }       wait `ms`, then forward (the edge may have given up: `delivered` false)
//   status { status }   answer that status with a Transmit-shaped error body (429: Retry-After 1)
//   hang                read the request, never answer (sockets destroyed when the mode ends)
//   hold                queue the request until the mode ends, then forward it
// `proxy.refuse(ms)` closes the listening socket and every open connection (connection
// refused) for `ms`, then listens on the same port again.
//
// Every forwarded call is recorded (op, status, latency, the store's x-store-metrics, the
// session id of a session authenticate) for the invariants.
import http from 'node:http';

const agentOpts = { keepAlive: true, maxSockets: 512, keepAliveMsecs: 1000 };

export async function startProxy(name, targetUrl, { opOf = (p) => p, sessionIdOf } = {}) {
  const target = new URL(targetUrl);
  let agent = new http.Agent(agentOpts);
  const modes = new Map([['*', { mode: 'pass' }]]);
  const held = [];
  const hanging = new Set();
  const sockets = new Set();
  let inflight = 0;
  const calls = [];
  const counts = { refused: 0, faulted: 0, resent: 0 };

  const modeOf = (path) => {
    let best = '*';
    for (const prefix of modes.keys()) if (prefix !== '*' && path.startsWith(prefix) && prefix.length > best.length) best = prefix;
    return modes.get(best) ?? { mode: 'pass' };
  };

  function forward(req, body, res, rec, retried = false) {
    inflight += 1;
    const out = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent: retried ? false : agent },
      (up) => {
        const chunks = [];
        up.on('data', (c) => chunks.push(c));
        up.on('end', () => {
          inflight -= 1;
          rec.status = up.statusCode;
          rec.ms = performance.now() - rec.t0;
          const m = up.headers['x-store-metrics'];
          if (m) rec.metrics = Object.fromEntries(m.split(';').filter(Boolean).map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
          rec.delivered = !res.destroyed && !res.writableEnded && !req.socket.destroyed;
          if (!rec.delivered) return;
          const headers = { ...up.headers };
          delete headers['x-store-metrics'];
          res.writeHead(up.statusCode, headers);
          res.end(Buffer.concat(chunks));
        });
        up.on('error', () => {
          inflight -= 1;
          res.destroy();
        });
      },
    );
    out.on('error', (e) => {
      inflight -= 1;
      // A pooled connection the target closed as it was reused (or a target restarted):
      // sent again once on a new connection, as any HTTP client does; never a second time.
      if (!retried && out.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
        counts.resent += 1;
        return forward(req, body, res, rec, true);
      }
      rec.status = 0;
      res.destroy();
      return undefined;
    });
    out.end(body);
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = req.url.split('?')[0];
      const rec = { op: opOf(path, req.method), t0: performance.now(), at: Date.now(), status: undefined, delivered: false };
      if (sessionIdOf) rec.session = sessionIdOf(path, body);
      // The edge sends its request id (the client's cf-ray) to the store: the join key.
      rec.rid = req.headers['x-request-id'];
      calls.push(rec);
      const m = modeOf(path);
      switch (m.mode) {
        case 'pass':
          return forward(req, body, res, rec);
        case 'slow':
          counts.faulted += 1;
          rec.fault = 'slow';
          return setTimeout(() => forward(req, body, res, rec), m.ms);
        case 'status': {
          counts.faulted += 1;
          rec.fault = `status ${m.status}`;
          rec.status = m.status;
          rec.delivered = true;
          const headers = { 'content-type': 'application/json' };
          if (m.status === 429) headers['retry-after'] = '1';
          res.writeHead(m.status, headers);
          return res.end(JSON.stringify({ message: 'injected by load/proxy.mjs', error_code: m.status === 429 ? 'rate_limited' : 'server_error' }));
        }
        case 'hang':
          counts.faulted += 1;
          rec.fault = 'hang';
          hanging.add(req.socket);
          return undefined;
        case 'hold':
          rec.fault = 'hold';
          return held.push(() => forward(req, body, res, rec));
        default:
          throw new Error(`proxy ${name}: unknown mode ${m.mode}`);
      }
    });
  });
  // Longer than workerd keeps an idle pooled connection, so the proxy never closes one the
  // edge is about to reuse (that race would be the harness's, not the edge's).
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 60000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port) =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve(server.address().port);
      });
    });
  const port = await listen(0);

  const proxy = {
    name,
    url: `http://127.0.0.1:${port}`,
    calls,
    counts,
    get inflight() {
      return inflight;
    },
    /** Sets the mode of requests under `prefix` ('*': everything else). */
    set(prefix, mode) {
      const prev = modes.get(prefix);
      modes.set(prefix, mode);
      if (prev?.mode === 'hang' && mode.mode !== 'hang') {
        for (const s of hanging) s.destroy();
        hanging.clear();
      }
      if (prev?.mode === 'hold' && mode.mode !== 'hold') for (const go of held.splice(0)) go();
    },
    reset() {
      for (const p of [...modes.keys()]) this.set(p, { mode: 'pass' });
    },
    /** Connection refused for `ms`: the listener closes, open connections are destroyed. */
    async refuse(ms) {
      counts.refused += 1;
      await new Promise((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      });
      await new Promise((r) => setTimeout(r, ms));
      await listen(port);
    },
    /** A fresh connection pool to the target (after the target restarted). */
    resetPool() {
      agent.destroy();
      agent = new http.Agent(agentOpts);
    },
    /** Waits (bounded) until no forwarded call is in flight. */
    async drain(maxMs = 10000) {
      const end = Date.now() + maxMs;
      while (inflight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return inflight;
    },
    close() {
      for (const s of hanging) s.destroy();
      for (const s of sockets) s.destroy();
      agent.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
  return proxy;
}
