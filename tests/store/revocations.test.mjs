// The reference store writes the edge's revocation entries (REVOCATIONS KV, the format of
// protocol/src/revocation.rs) whenever a session ends at the store: logout, revoke-all,
// refresh-token reuse, the session cap, an expired session found. Each case reads the namespace
// the store wrote to (Miniflare's in-memory KV, `store.kv`).
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { after, before, test } from "node:test";

import { startStore, ALICE, BOB, decode, sleep } from "./harness.mjs";

const sha = (s) => crypto.createHash("sha256").update(s).digest("hex");
const sessionKey = (sid) => `s:${sha(sid)}`;
const userKey = (uid) => `u:${sha(uid)}`;
/** Access-token and session lifetimes (wrangler.toml's defaults) plus the edge's largest leeway. */
const TTL = Math.max(3600, 1_209_600) + 120;

let store;
before(async () => {
  store = await startStore({ REFRESH_REUSE_GRACE_SECONDS: "0" });
});
after(() => store?.dispose());

/** The entry for `key` and its expiry (seconds), or undefined. */
async function entry(s, key) {
  const { keys } = await s.kv.list({ prefix: key });
  const k = keys.find((x) => x.name === key);
  return k && { value: await s.kv.get(key), expiration: k.expiration };
}

function assertLives(e, key, ttl = TTL) {
  assert.ok(e, `${key} written`);
  const left = e.expiration - Date.now() / 1000;
  assert.ok(left > ttl - 60 && left <= ttl + 1, `${key} lives about ${ttl} s: ${left}`);
}

test("logout writes the session's entry; a second logout writes nothing more", async () => {
  const login = await store.login(ALICE);
  const sid = login.body.session_id;
  assert.equal(await entry(store, sessionKey(sid)), undefined, "nothing before");
  assert.equal((await store.logout(sid)).status, 204);
  const e = await entry(store, sessionKey(sid));
  assertLives(e, "s:");
  assert.equal(e.value, "1");
  const { keys } = await store.kv.list();
  assert.ok(!keys.some((k) => k.name.includes(sid)), "no raw id in the namespace");
});

test("revoke-all writes the user's entry: the moment, in milliseconds", async () => {
  await store.login(BOB);
  const before = Date.now();
  assert.equal((await store.revokeAll(BOB.userId)).status, 204);
  const e = await entry(store, userKey(BOB.userId));
  assertLives(e, "u:");
  const at = Number(e.value);
  assert.ok(at >= before - 1000 && at <= Date.now() + 1000, `${at} is now (${before})`);
});

test("refresh-token reuse ends the session, names it, and writes its entry", async () => {
  const login = await store.login(ALICE);
  const sid = login.body.session_id;
  const r1 = await store.refresh(login.body.refresh_token);
  assert.equal(r1.status, 200, r1.text);
  await sleep(5);
  const replay = await store.refresh(login.body.refresh_token);
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error_code, "refresh_token_reused");
  assert.equal(replay.body.session_id, sid);
  assertLives(await entry(store, sessionKey(sid)), "s: of the reused session");
});

test("the session cap ending the oldest session writes its entry", async () => {
  const capped = await startStore({ MAX_SESSIONS_PER_USER: "1" });
  try {
    const first = await capped.login(ALICE);
    const second = await capped.login(ALICE);
    assert.equal(second.status, 200, second.text);
    assertLives(await entry(capped, sessionKey(first.body.session_id)), "s: of the evicted session");
    assert.equal(await entry(capped, sessionKey(second.body.session_id)), undefined);
  } finally {
    await capped.dispose();
  }
});

test("an expired session found by the store writes its entry; no token outlives its session", async () => {
  const short = await startStore({ SESSION_TTL_SECONDS: "2" });
  try {
    const login = await short.login(ALICE);
    const sid = login.body.session_id;
    const { claims } = decode(login.body.access_token);
    assert.ok(claims.exp <= claims.iat + 3, `exp ${claims.exp} within the session's 2 s (iat ${claims.iat})`);
    assert.ok(login.body.expires_in <= 2, `expires_in ${login.body.expires_in}`);
    await sleep(2100);
    assert.equal(await entry(short, sessionKey(sid)), undefined, "not before the store finds it");
    const list = await short.list(ALICE.userId);
    assert.deepEqual(list.body, []);
    // Its tokens' lifetime (the access tokens' 3600 s) plus the leeway: the session's is 2 s.
    assertLives(await entry(short, sessionKey(sid)), "s: of the expired session", 3600 + 120);
  } finally {
    await short.dispose();
  }
});
