// The revocation staleness bound, measured (README, "What fails closed": revocation staleness).
//
//   node bench/staleness.mjs            # 3 rounds per kind, default REVOCATION_CACHE_SECONDS (10)
//   STALENESS_ROUNDS=5 STALENESS_CACHE_SECONDS=2 node bench/staleness.mjs
//
// One Miniflare (workerd) runs the reference store and two edge workers, `a` and `b`, each its own
// isolate, all bound to one REVOCATIONS namespace (tests/session/stores.mjs, kind.startStack).
// For each kind of revocation a browser session is logged in, both isolates answer its cookies
// once (so each holds a fresh "not revoked" answer in its revocation cache, the worst case), the
// revocation is made, and each isolate is polled every POLL_MS with the session's cookies until it
// answers 401. The figure is the time from the revocation call's answer to that 401.
//
// Kinds: the edge's own logout (in `a`); the backend's webhook (to `a`); a refresh-token reuse
// the store reports through the edge's refresh grant (in `a`); a logout and a revoke-all through
// the store's own API (no edge isolate wrote anything: both read it from KV).
//
// What this cannot show: KV's propagation between Cloudflare locations (up to 60 s). In workerd a
// KV write is visible to every isolate at once, so "another isolate" here is the isolate's cache
// alone; in production add KV's propagation. It prints numbers and never fails on them.
import { Client, WEBHOOK_SECRET, webhookSignature, sessionIdOf } from '../tests/session/harness.mjs';
import { STORES } from '../tests/session/stores.mjs';
import { request } from '../tests/edge/harness.mjs';

process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

const ROUNDS = Number(process.env.STALENESS_ROUNDS ?? 3);
const CACHE_SECONDS = process.env.STALENESS_CACHE_SECONDS ?? '10';
const POLL_MS = 20;
const LIMIT_MS = (Number(CACHE_SECONDS) + 10) * 1000;

const reference = STORES.find((k) => k.id === 'reference');
const stack = await reference.startStack({
  configs: (s, up) => ({
    a: s.bindings(up, { REVOCATION_WEBHOOK_SECRET: WEBHOOK_SECRET, REVOCATION_CACHE_SECONDS: CACHE_SECONDS }),
    b: s.bindings(up, { REVOCATION_WEBHOOK_SECRET: WEBHOOK_SECRET, REVOCATION_CACHE_SECONDS: CACHE_SECONDS }),
  }),
});
const { store, gate } = stack;
const alice = store.users.alice;

const at = (c, name) => {
  const copy = new Client(gate.url(name), { ua: c.ua });
  copy.jar = new Map(c.jar);
  return copy;
};

async function login() {
  const c = new Client(gate.url('a'));
  const r = await c.login(alice.username, alice.password);
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.text}`);
  return { c, sid: sessionIdOf(c) };
}

async function status(c, name) {
  return (await at(c, name).send('/api/data', { store: false })).status;
}

/** Fills both isolates' caches with "not revoked" for `c`. */
async function warm(c) {
  for (const name of ['a', 'b']) {
    const s = await status(c, name);
    if (s !== 200) throw new Error(`warm ${name}: ${s}`);
  }
}

/** Time from now to the first 401 for `c` at `name`, ms (null past LIMIT_MS). */
async function untilRefused(c, name, t0) {
  for (;;) {
    const s = await status(c, name);
    const ms = Date.now() - t0;
    if (s === 401) return ms;
    if (s !== 200) throw new Error(`${name}: ${s}`);
    if (ms > LIMIT_MS) return null;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const grant = (rt) => new Client(gate.url('a')).send('/auth/refresh', { method: 'POST', json: { refresh_token: rt }, site: null });

const KINDS = {
  'edge logout (POST /auth/logout at a)': async ({ c }) => {
    const r = await at(c, 'a').logout();
    if (r.status !== 200) throw new Error(`logout ${r.status}`);
  },
  'webhook (POST /auth/revocations to a)': async ({ sid }) => {
    const body = JSON.stringify({ session_ids: [sid] });
    const r = await request(new URL('/auth/revocations', gate.url('a')), {
      method: 'POST',
      headers: [['Content-Type', 'application/json'], ['Edge-Signature', webhookSignature(body)]],
      body,
    });
    if (r.status !== 200) throw new Error(`webhook ${r.status} ${r.text}`);
  },
  'refresh-token reuse (refresh grant at a)': async ({ sid }) => {
    const first = await store.direct.sessionAuthenticate(sid);
    const r1 = await grant(first.body.refresh_token);
    await grant(r1.json().refresh_token);
    const replay = await grant(first.body.refresh_token);
    if (replay.status !== 401) throw new Error(`replay ${replay.status}`);
  },
  "store logout (the store's own API)": async ({ sid }) => {
    const r = await store.direct.logout(sid);
    if (r.status !== 204) throw new Error(`store logout ${r.status}`);
  },
  "store revoke-all (the store's own API)": async () => {
    const r = await store.direct.revokeAll(alice.userId);
    if (r.status !== 204) throw new Error(`revoke-all ${r.status}`);
  },
};

// The reuse kind warms before its grants (they take a while); the others right before.
const rows = [];
try {
  for (const [kind, revoke] of Object.entries(KINDS)) {
    const times = { a: [], b: [] };
    for (let i = 0; i < ROUNDS; i++) {
      const s = await login();
      await warm(s.c);
      await revoke(s);
      const t0 = Date.now();
      const [a, b] = await Promise.all([untilRefused(s.c, 'a', t0), untilRefused(s.c, 'b', t0)]);
      times.a.push(a);
      times.b.push(b);
    }
    rows.push([kind, times]);
    console.error(`[staleness] ${kind}: a ${times.a.join(', ')} ms; b ${times.b.join(', ')} ms`);
  }
} finally {
  await stack.close();
}

const fmt = (xs) => {
  if (xs.some((x) => x === null)) return `> ${LIMIT_MS} ms`;
  const s = [...xs].sort((x, y) => x - y);
  return `${s[Math.floor(s.length / 2)]} ms (${s[0]}–${s.at(-1)})`;
};
console.log(`REVOCATION_CACHE_SECONDS=${CACHE_SECONDS}, ${ROUNDS} rounds, median (min–max), polled every ${POLL_MS} ms`);
console.log('| revocation | isolate a | isolate b |');
console.log('|---|---|---|');
for (const [kind, t] of rows) console.log(`| ${kind} | ${fmt(t.a)} | ${fmt(t.b)} |`);
