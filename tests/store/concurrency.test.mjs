// Races inside one user's Durable Object: concurrent refreshes of one token, logout vs refresh.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStore, ALICE, BOB } from "./harness.mjs";

let store;
let strict;
before(async () => {
  store = await startStore();
  strict = await startStore({ REFRESH_REUSE_GRACE_SECONDS: "0" });
});
after(async () => { await store?.dispose(); await strict?.dispose(); });

test("concurrent refreshes of one token within the grace window all succeed, exactly one rotation", async () => {
  const login = await store.login(ALICE);
  const results = await Promise.all(Array.from({ length: 10 }, () => store.refresh(login.body.refresh_token)));
  assert.deepEqual(results.map((r) => r.status), Array(10).fill(200));
  const tokens = new Set(results.map((r) => r.body.refresh_token));
  assert.equal(tokens.size, 10, "every response has its own refresh token");
  // The client keeps one; rotating it supersedes its siblings, which then count as reuse.
  const [keep, other] = [...tokens];
  assert.equal((await store.refresh(keep)).status, 200);
  const reuse = await store.refresh(other);
  assert.equal(reuse.body.error_code, "refresh_token_reused");
});

test("concurrent refreshes without a grace window: one wins, the replays revoke the family", async () => {
  const login = await strict.login(ALICE);
  const results = await Promise.all(Array.from({ length: 10 }, () => strict.refresh(login.body.refresh_token)));
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, results.map((r) => r.status).join(","));
  const losers = results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.body.error_code}`);
  // The first replay detects reuse and deletes the family; later replays find no token at all.
  assert.ok(losers.includes("400 refresh_token_reused"), losers.join(","));
  assert.ok(losers.every((l) => l === "400 refresh_token_reused" || l === "400 invalid_refresh_token"), losers.join(","));
  assert.equal((await strict.refresh(ok[0].body.refresh_token)).body.error_code, "invalid_refresh_token");
});

test("logout racing a refresh: afterwards nothing of the session is usable", async () => {
  const outcomes = { refreshWon: 0, logoutWon: 0 };
  for (let i = 0; i < 8; i++) {
    const login = await store.login(BOB);
    const sid = login.body.session_id;
    const [out, rf] = await Promise.all([store.logout(sid), store.refresh(login.body.refresh_token)]);
    assert.equal(out.status, 204, out.text);
    if (rf.status === 200) {
      outcomes.refreshWon++;
      assert.equal(rf.body.session_id, sid);
      const after = await store.refresh(rf.body.refresh_token);
      assert.equal(after.body.error_code, "invalid_refresh_token", "the token a racing refresh got died with the logout");
    } else {
      outcomes.logoutWon++;
      assert.equal(rf.status, 400);
      assert.equal(rf.body.error_code, "invalid_refresh_token");
    }
    assert.equal((await store.sessionAuthenticate(sid)).body.error_code, "session_not_found");
    assert.equal((await store.refresh(login.body.refresh_token)).status, 400);
  }
  assert.equal(outcomes.refreshWon + outcomes.logoutWon, 8);
});

test("concurrent logins and session authenticates of one user lose no session", async () => {
  await store.revokeAll(ALICE.userId);
  const logins = await Promise.all(Array.from({ length: 6 }, () => store.login(ALICE)));
  assert.ok(logins.every((r) => r.status === 200));
  const sids = logins.map((r) => r.body.session_id);
  const auths = await Promise.all(sids.flatMap((sid) => [store.sessionAuthenticate(sid), store.sessionAuthenticate(sid)]));
  assert.ok(auths.every((r) => r.status === 200));
  const listed = (await store.list(ALICE.userId)).body.map((s) => s.session_id).sort();
  assert.deepEqual(listed, [...sids].sort());
});
