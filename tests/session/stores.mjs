// The session stores the session-flow suites run against (the project rule: every session-flow
// test runs against each store the edge is tested with, as tests/store/contract.test.mjs does):
//
//   reference  this repo's store (session-store/build, SQLite Durable Objects) in its own
//              Miniflare; ES256 tokens with `typ: at+jwt` and a `sid` claim.
//   transmit   tests/session/transmit-store.mjs: RS256, `typ: JWT`, no `sid`, no `amr` in the
//              access token, ISO date-times, Transmit's error bodies, under a /cis base path.
//   fake       the JS fake of tests/session/harness.mjs (startFakeStore: transmit-store.mjs in its
//              `sid` profile): the reference store's tokens (ES256, `typ: at+jwt`, a `sid` claim,
//              no base path) with Transmit's answers otherwise (its error bodies, no refresh
//              reuse detection, no session_id on refresh).
//
// `for (const kind of STORES) describe(kind.name, ...)`; in the describe's `before`,
// `store = await kind.start({ extraUsers })` (the reference store also takes `onLog(line,
// level)`: its log lines). A kind gives, before it starts:
//   kind.id ('reference' | 'transmit' | 'fake'), kind.name,
//   kind.shape: what the store answers, in the protocol's terms (protocol/wire.json's shapes,
//     the same object tests/store/contract.test.mjs checks the store against),
//   kind.sidInTokens (= kind.shape.sid_claim)
// A suite whose assertion depends on the store's shape reads it from these, never from the id.
// A started store gives:
//   store.name, store.shape, store.sidInTokens
//   store.users: { alice, bob, ...extraUsers } → { username, password, userId, totpSecret }
//     (totpSecret: raw bytes of the user's enrolled TOTP secret, for tests/totp.mjs)
//   store.bindings(up, over) the edge's bindings for this store
//   store.direct: the store's own API, bypassing the edge: login(user, extra),
//     sessionAuthenticate(sessionId), refresh(refreshToken), logout(sessionId), list(userId),
//     revokeAll(userId), totp(body), otpSend(body), otpAuthenticate(body) (Transmit's field
//     names); each → { status, body, text }
//   store.mailbox(user) the code of the last passcode sent to `user` by channel `email` (the
//     reference store's DEV-ONLY mailbox, the fakes' outbox), or null
//   store.rawAccessToken(user) a raw access token of a new session (direct password login)
//   store.tokenForSession(sessionId) a raw access token of that session (direct session
//     authenticate: it also extends the session)
//   store.fake (the fakes only): the fake's state, counters and knobs (transmit-store.mjs)
//   store.close()
//
// `kind.startStack({ extraUsers, configs })` starts the store and the edge together, sharing one
// `REVOCATIONS` KV namespace as a deployment does: `configs(store, up)` → { name: bindings }
// (each name its own edge worker, hence its own isolate). Returns { store, gate, up, close() }.
// The reference store runs in the edge's Miniflare (KV is per workerd process: two processes
// cannot open one persisted namespace, SQLITE_BUSY), reached through the SESSION_STORE service
// binding as in wrangler.toml, with `store.writesRevocations` true: it writes the edge's KV
// keys itself. The fakes cannot (Transmit has no KV): their revocations reach the edge through
// the backend's webhook (POST /auth/revocations).
import assert from 'node:assert/strict';

import { startGate, startUpstream } from '../edge/harness.mjs';
import { startStore, storeWorker, Store, ALICE, BOB, DEV_ENV } from '../store/harness.mjs';
import { REPO_ROOT, COOKIE_KEY, fakeStoreBindings, startFakeStore } from './harness.mjs';
import { FAKE_SHAPES, WIRE, startTransmitStore, transmitClient } from './transmit-store.mjs';
import { TOTP_SECRETS } from '../totp.mjs';

// The reference store's dev configuration: its vars and its .dev.vars.example secrets.
const refVars = () => DEV_ENV;

function withTokenHelpers(store) {
  store.rawAccessToken = async (user) => {
    const r = await store.direct.login(user);
    assert.equal(r.status, 200, `direct login ${user.username}: ${r.text}`);
    return r.body.access_token;
  };
  store.tokenForSession = async (sessionId) => {
    const r = await store.direct.sessionAuthenticate(sessionId);
    assert.equal(r.status, 200, `direct session authenticate: ${r.text}`);
    return r.body.access_token;
  };
  return store;
}

/** DEMO_USERS overrides and the users map of the reference store with `extraUsers` added. */
function referenceUsers(extraUsers) {
  const demo = JSON.parse(refVars().DEMO_USERS);
  const aliceHash = demo.find((u) => u.username === 'alice').password_hash;
  const users = {
    alice: { ...ALICE, totpSecret: TOTP_SECRETS[ALICE.userId] },
    bob: { ...BOB, totpSecret: TOTP_SECRETS[BOB.userId] },
  };
  for (const name of extraUsers) {
    demo.push({ user_id: `user-${name}`, username: name, roles: ['user'], password_hash: aliceHash });
    users[name] = { username: name, password: ALICE.password, userId: `user-${name}` };
  }
  return { users, overrides: extraUsers.length ? { DEMO_USERS: JSON.stringify(demo) } : {} };
}

/** The reference store's facts over a started Store client `s` reached by the edge at `url`. */
function referenceStore(s, users, url, close) {
  const vars = refVars();
  return withTokenHelpers({
    ...kindFacts(REFERENCE),
    users,
    bindings: (up, over = {}) => ({
      ISSUER: vars.ISSUER,
      AUDIENCE: vars.DEFAULT_AUDIENCE,
      JWKS_URL: `${url}/oidc/jwks`,
      UPSTREAM: up.url,
      PUBLIC_PATHS: '/public/*',
      SESSION_STORE_URL: url,
      CLIENT_ID: vars.CLIENT_ID,
      CLIENT_SECRET: vars.CLIENT_SECRET,
      COOKIE_KEYS: COOKIE_KEY,
      ...over,
    }),
    direct: {
      login: (user, extra) => s.login(user, extra),
      sessionAuthenticate: (id) => s.sessionAuthenticate(id),
      refresh: (rt) => s.refresh(rt),
      logout: (id) => s.logout(id),
      list: (userId) => s.list(userId),
      revokeAll: (userId) => s.revokeAll(userId),
      totp: (json) => s.request('POST', WIRE.paths.totp_authenticate, { json }),
      otpSend: (json) => s.request('POST', WIRE.paths.otp_send, { json }),
      otpAuthenticate: (json) => s.request('POST', WIRE.paths.otp_authenticate, { json }),
    },
    mailbox: async (user) => (await s.request('GET', `/dev/mailbox/${encodeURIComponent(user.userId)}`)).body?.code ?? null,
    close,
  });
}

/**
 * The reference store. `extraUsers` (names) are added to DEMO_USERS with alice's password hash,
 * so each logs in with alice's password (the store hashes with argon2id; no hashing here).
 */
async function startReference({ extraUsers = [], onLog } = {}) {
  const { users, overrides } = referenceUsers(extraUsers);
  const s = await startStore(overrides, { onLog });
  const url = (await s.mf.ready).toString().replace(/\/$/, '');
  return referenceStore(s, users, url, () => s.dispose());
}

/** The store's origin as the edge's SESSION_STORE service binding carries it. */
const STORE_ORIGIN = 'https://session-store.internal';

/**
 * The reference store and the edge in one Miniflare (one KV namespace `REVOCATIONS` for both),
 * the edge reaching the store through the SESSION_STORE service binding.
 */
async function startReferenceStack({ extraUsers = [], configs }) {
  const { users, overrides } = referenceUsers(extraUsers);
  const up = await startUpstream();
  let gate;
  let direct;
  const store = referenceStore(
    new Store({
      // The store's own API, straight to its direct socket (not through the edge).
      dispatchFetch: async (url, init) => {
        direct ??= await gate.mf.unsafeGetDirectURL('session-store');
        return fetch(new URL(`${url.pathname}${url.search}`, direct), init);
      },
    }),
    users,
    STORE_ORIGIN,
    async () => {},
  );
  store.writesRevocations = true;
  const named = configs(store, up);
  const serviceBindings = Object.fromEntries(Object.keys(named).map((n) => [n, { SESSION_STORE: 'session-store' }]));
  gate = await startGate(named, { extraWorkers: [storeWorker('session-store', overrides)], serviceBindings });
  return stack(store, gate, up);
}

const stack = (store, gate, up) => ({
  store,
  gate,
  up,
  async close() {
    await gate.dispose();
    await store.close();
    await up.close();
  },
});

/** A fake store and the edge (fakes cannot write KV: `store.writesRevocations` is false). */
async function startFakeStack(kind, { extraUsers, configs }) {
  const store = await kind.start({ extraUsers });
  store.writesRevocations = false;
  const up = await startUpstream();
  const gate = await startGate(configs(store, up));
  return stack(store, gate, up);
}

/**
 * A started fake of transmit-store.mjs (users alice, bob, carol, and `extraUsers` with password
 * `<name>-pw`); its own API through transmitClient, the same calls the edge makes.
 */
async function startFake(kind, launch, { extraUsers = [] } = {}) {
  const fs = await launch();
  assert.deepEqual(fs.shape, kind.shape, `${kind.name}: the fake answers in the shape its kind declares`);
  for (const name of extraUsers) if (!fs.users.has(name)) fs.addUser(name, `${name}-pw`);
  const users = {};
  for (const [name, u] of fs.users) users[name] = { username: name, password: u.password, userId: u.sub, totpSecret: u.totpSecret };
  return withTokenHelpers({
    ...kindFacts(kind),
    users,
    // The real store's deadline (5 s), not the fake-store suite's 1 s for failure tests (generous: a loaded CI machine).
    bindings: (up, over = {}) => fakeStoreBindings(fs, up, { STORE_TIMEOUT_MS: undefined, ...over }),
    direct: transmitClient(fs),
    mailbox: async (user) => fs.outbox[user.username] ?? null,
    fake: fs,
    close: () => fs.close(),
  });
}

const kindFacts = (kind) => ({ name: kind.name, shape: kind.shape, sidInTokens: kind.sidInTokens });

const defineKind = (id, name, shape, start, startStack) => ({ id, name, shape, sidInTokens: shape.sid_claim, start, startStack });

const REFERENCE = defineKind('reference', 'reference store', WIRE.shapes.reference, startReference, startReferenceStack);
const TRANSMIT = defineKind(
  'transmit',
  'Transmit-shaped store',
  FAKE_SHAPES.transmit,
  (opts) => startFake(TRANSMIT, () => startTransmitStore({ profile: 'transmit' }), opts),
  (opts) => startFakeStack(TRANSMIT, opts),
);
const FAKE = defineKind(
  'fake',
  'JS fake store (harness.mjs, sid profile)',
  FAKE_SHAPES.sid,
  (opts) => startFake(FAKE, () => startFakeStore(), opts),
  (opts) => startFakeStack(FAKE, opts),
);

export const STORES = [REFERENCE, TRANSMIT, FAKE];
