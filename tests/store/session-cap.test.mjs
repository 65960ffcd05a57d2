// A user has at most MAX_SESSIONS_PER_USER live sessions (wrangler.toml: 50);
// a login past it ends the oldest session with its refresh tokens, and the list answers the
// newest sessions first, never more than the cap.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStore, ALICE, BOB, DEV_ENV } from "./harness.mjs";

const CAP = Number(DEV_ENV.MAX_SESSIONS_PER_USER);

let store;
let small;
before(async () => {
  store = await startStore();
  small = await startStore({ MAX_SESSIONS_PER_USER: "3" });
});
after(async () => {
  await store?.dispose();
  await small?.dispose();
});

async function logins(s, user, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const r = await s.login(user);
    assert.equal(r.status, 200, r.text);
    out.push(r.body);
  }
  return out;
}

test(`wrangler.toml caps sessions at ${CAP}: login ${CAP}+1 times, the oldest is gone, the list is bounded`, async () => {
  assert.equal(CAP, 50);
  const issued = await logins(store, BOB, CAP + 1);
  const listed = await store.list(BOB.userId);
  assert.equal(listed.status, 200);
  assert.equal(listed.body.length, CAP, `the list holds ${listed.body.length} sessions`);
  const ids = listed.body.map((s) => s.session_id);
  assert.ok(!ids.includes(issued[0].session_id), "the oldest session is not listed");
  assert.equal(ids[0], issued[CAP].session_id, "newest first");
  assert.deepEqual(new Set(ids), new Set(issued.slice(1).map((t) => t.session_id)));
  const starts = listed.body.map((s) => Date.parse(s.start_time));
  assert.deepEqual(starts, [...starts].sort((a, b) => b - a), "ordered newest first");
  // The oldest session really ended, refresh tokens included.
  const sa = await store.sessionAuthenticate(issued[0].session_id);
  assert.equal(sa.status, 400);
  assert.equal(sa.body.error_code, "session_not_found");
  const rt = await store.refresh(issued[0].refresh_token);
  assert.equal(rt.status, 400);
  assert.equal(rt.body.error_code, "invalid_refresh_token");
  // The second oldest lives on.
  assert.equal((await store.sessionAuthenticate(issued[1].session_id)).status, 200);
});

test("a cap of 3: each login past it ends the then-oldest; step-ups end nothing", async () => {
  const issued = await logins(small, ALICE, 5);
  const listed = (await small.list(ALICE.userId)).body.map((s) => s.session_id);
  assert.deepEqual(listed, issued.slice(2).reverse().map((t) => t.session_id));
  for (const gone of issued.slice(0, 2)) {
    assert.equal((await small.sessionAuthenticate(gone.session_id)).status, 400);
    assert.equal((await small.refresh(gone.refresh_token)).status, 400);
  }
  // Adding an authentication to a live session creates no session.
  const step = await small.login(ALICE, { session_id: issued[2].session_id });
  assert.equal(step.status, 200, step.text);
  assert.equal(step.body.session_id, issued[2].session_id);
  assert.equal((await small.list(ALICE.userId)).body.length, 3);
  assert.equal((await small.refresh(issued[4].refresh_token)).status, 200);
});

test("a cap out of range is a configuration error (500, nothing served)", async () => {
  const bad = await startStore({ MAX_SESSIONS_PER_USER: "0" });
  try {
    const r = await bad.request("GET", "/oidc/jwks", { auth: false });
    assert.equal(r.status, 500, r.text);
  } finally {
    await bad.dispose();
  }
});
