// The session stores the session-flow suites run against (the project rule: every session-flow
// test runs against a Transmit-shaped store as well as the reference store):
//
//   reference  this repo's store (session-store/build, SQLite Durable Objects) in its own
//              Miniflare; ES256 tokens with `typ: at+jwt` and a `sid` claim.
//   transmit   tests/session/transmit-store.mjs: RS256, `typ: JWT`, no `sid`, no `amr` in the
//              access token, ISO date-times, Transmit's error bodies, under a /cis base path.
//
// `for (const kind of STORES) describe(kind.name, ...)`; in the describe's `before`,
// `store = await kind.start({ extraUsers })`. A started store gives:
//   store.name, store.sidInTokens
//   store.users: { alice, bob, ...extraUsers } → { username, password, userId }
//   store.bindings(up, over) the edge's bindings for this store
//   store.direct: the store's own API, bypassing the edge: login(user, extra),
//     sessionAuthenticate(sessionId), refresh(refreshToken), logout(sessionId), list(userId),
//     revokeAll(userId); each → { status, body, text }
//   store.rawAccessToken(user) a raw access token of a new session (direct password login)
//   store.tokenForSession(sessionId) a raw access token of that session (direct session
//     authenticate: it also extends the session)
//   store.fake (transmit only): the fake's state, counters and knobs
//   store.close()
import assert from 'node:assert/strict';
import path from 'node:path';
import { unstable_readConfig } from 'wrangler';

import { startStore, ALICE, BOB } from '../store/harness.mjs';
import { REPO_ROOT, COOKIE_KEY, fakeStoreBindings } from './harness.mjs';
import { startTransmitStore, transmitClient } from './transmit-store.mjs';

const refVars = () => unstable_readConfig({ config: path.join(REPO_ROOT, 'session-store/wrangler.toml') }).vars;

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

/**
 * The reference store. `extraUsers` (names) are added to DEMO_USERS with alice's password hash,
 * so each logs in with alice's password (the store hashes with argon2id; no hashing here).
 */
async function startReference({ extraUsers = [] } = {}) {
  const vars = refVars();
  const demo = JSON.parse(vars.DEMO_USERS);
  const aliceHash = demo.find((u) => u.username === 'alice').password_hash;
  const users = { alice: ALICE, bob: BOB };
  for (const name of extraUsers) {
    demo.push({ user_id: `user-${name}`, username: name, roles: ['user'], password_hash: aliceHash });
    users[name] = { username: name, password: ALICE.password, userId: `user-${name}` };
  }
  const s = await startStore(extraUsers.length ? { DEMO_USERS: JSON.stringify(demo) } : {});
  const url = (await s.mf.ready).toString().replace(/\/$/, '');
  return withTokenHelpers({
    name: 'reference store',
    sidInTokens: true,
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
    },
    close: () => s.dispose(),
  });
}

/** The Transmit-shaped fake (users alice, bob, and `extraUsers` with password `<name>-pw`). */
async function startTransmit({ extraUsers = [] } = {}) {
  const fs = await startTransmitStore({ profile: 'transmit' });
  for (const name of extraUsers) if (!fs.users.has(name)) fs.addUser(name, `${name}-pw`);
  const users = {};
  for (const [name, u] of fs.users) users[name] = { username: name, password: u.password, userId: u.sub };
  return withTokenHelpers({
    name: 'Transmit-shaped store',
    sidInTokens: false,
    users,
    // The real store's deadline (5 s), not the fake-store suite's 300 ms for failure tests.
    bindings: (up, over = {}) => fakeStoreBindings(fs, up, { STORE_TIMEOUT_MS: undefined, ...over }),
    direct: transmitClient(fs),
    fake: fs,
    close: () => fs.close(),
  });
}

export const STORES = [
  { name: 'reference store', sidInTokens: true, start: startReference },
  { name: 'Transmit-shaped store', sidInTokens: false, start: startTransmit },
];
