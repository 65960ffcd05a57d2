// End-to-end API behaviour of the session store in workerd (Miniflare).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startStore, ALICE, BOB, CLIENT, BASE, DEV_SECRETS, decode, verifyWithJwks, sleep } from "./harness.mjs";

let store;
let jwks;
before(async () => {
  store = await startStore();
  jwks = (await store.request("GET", "/oidc/jwks", { auth: false })).body;
});
after(() => store?.dispose());

const expiry = async (userId, sid) =>
  Date.parse((await store.list(userId)).body.find((s) => s.session_id === sid).expiration_time);

test("client credentials: token endpoint and bearer enforcement", async () => {
  const bad = await store.mf.dispatchFetch(new URL("/oidc/token", BASE), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: CLIENT.id, client_secret: "wrong-secret-wrong" }).toString(),
  });
  assert.equal(bad.status, 401);
  assert.deepEqual(await bad.json(), { message: "Invalid client credentials", error_code: "invalid_client" });
  const token = await store.fetchClientToken();
  assert.equal(decode(token).header.typ, "at+jwt");
  for (const authorization of [undefined, "Bearer nope", `Basic ${token}`, `Bearer ${token}x`]) {
    const r = await store.request("GET", "/v1/auth/users/user-alice/sessions", {
      auth: false, headers: authorization ? { authorization } : {},
    });
    assert.equal(r.status, 401, authorization);
    assert.equal(r.body.error_code, "unauthorized");
    assert.equal(r.headers.get("www-authenticate"), "Bearer");
  }
});

test("login returns tokens whose sid is the session, verifiable with the JWKS", async () => {
  const r = await store.login(ALICE, { client_attributes: { user_agent: "test-agent", ip_address: "127.0.0.1" } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.token_type, "Bearer");
  assert.equal(r.body.expires_in, 3600);
  assert.equal(r.headers.get("cache-control"), "no-store");
  assert.match(r.body.session_id, /^s1\.[0-9a-f]{64}\.[A-Za-z0-9_-]{22}$/);
  assert.match(r.body.refresh_token, /^rt1\.[0-9a-f]{64}\.[A-Za-z0-9_-]{43}$/);
  const at = verifyWithJwks(r.body.access_token, jwks);
  assert.deepEqual(at.header, { alg: "ES256", kid: "dev-only-es256-1", typ: "at+jwt" });
  assert.equal(at.claims.sid, r.body.session_id);
  assert.equal(at.claims.sub, ALICE.userId);
  assert.equal(at.claims.iss, BASE);
  assert.equal(at.claims.aud, "edge-session-demo");
  assert.equal(at.claims.client_id, CLIENT.id);
  assert.deepEqual(at.claims.roles, ["admin", "user"]);
  assert.equal(at.claims.scope, "openid");
  assert.equal(at.claims.exp - at.claims.iat, 3600);
  assert.ok(Math.abs(at.claims.iat - Date.now() / 1000) < 30);
  assert.match(at.claims.jti, /^[A-Za-z0-9_-]{22}$/);
  const id = verifyWithJwks(r.body.id_token, jwks);
  assert.equal(id.header.typ, "JWT");
  assert.equal(id.claims.aud, CLIENT.id);
  assert.equal(id.claims.sid, r.body.session_id);
  assert.deepEqual(id.claims.amr, ["pwd"]);
  assert.equal(id.claims.auth_time, at.claims.iat);
  assert.notEqual(id.claims.jti, at.claims.jti);
  // Tampering with the payload breaks verification.
  const [h, p, s] = r.body.access_token.split(".");
  const forged = Buffer.from(JSON.stringify({ ...at.claims, sub: BOB.userId })).toString("base64url");
  assert.throws(() => verifyWithJwks(`${h}.${forged}.${s}`, jwks), /bad signature/);
});

test("resource selects the audience; unknown resources are refused", async () => {
  const ok = await store.login(ALICE, { resource: "https://api.example.test" });
  assert.equal(decode(ok.body.access_token).claims.aud, "https://api.example.test");
  const refreshed = await store.refresh(ok.body.refresh_token);
  assert.equal(decode(refreshed.body.access_token).claims.aud, "https://api.example.test", "refresh keeps the audience");
  const bad = await store.login(ALICE, { resource: "https://evil.example" });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error_code, "invalid_resource");
});

test("unknown user and wrong password get the same answer", async () => {
  const wrong = await store.login({ ...ALICE, password: "nope" });
  const unknown = await store.login({ username: "mallory", password: "nope" });
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.deepEqual(wrong.body, unknown.body);
  assert.deepEqual(wrong.body, { message: "Invalid username or password", error_code: "auth_invalid_credentials" });
});

test("session authenticate extends the session; refresh does not", async () => {
  const login = await store.login(ALICE);
  const sid = login.body.session_id;
  const first = await expiry(ALICE.userId, sid);
  await sleep(20);
  const r = await store.sessionAuthenticate(sid);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.session_id, sid);
  assert.equal(verifyWithJwks(r.body.access_token, jwks).claims.sid, sid);
  const extended = await expiry(ALICE.userId, sid);
  assert.ok(extended > first, `${extended} > ${first}`);
  assert.ok(Math.abs(extended - (Date.now() + 14 * 86400e3)) < 60e3, "two weeks from now");
  await sleep(20);
  const rr = await store.refresh(r.body.refresh_token);
  assert.equal(rr.status, 200, rr.text);
  assert.equal(await expiry(ALICE.userId, sid), extended, "refresh does not extend");
});

test("a second authentication joins the session; another user's session cannot be joined", async () => {
  const login = await store.login(ALICE);
  const sid = login.body.session_id;
  const again = await store.login(ALICE, { session_id: sid });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.session_id, sid);
  assert.deepEqual(decode(again.body.id_token).claims.amr, ["pwd"]);
  const foreign = await store.login(BOB, { session_id: sid });
  assert.equal(foreign.status, 400);
  assert.equal(foreign.body.error_code, "session_not_found");
});

test("refresh rotates; a replay within the grace window gets a sibling", async () => {
  const login = await store.login(ALICE);
  const r1 = await store.refresh(login.body.refresh_token);
  assert.equal(r1.status, 200, r1.text);
  assert.notEqual(r1.body.refresh_token, login.body.refresh_token);
  assert.equal(r1.body.session_id, login.body.session_id);
  assert.equal(verifyWithJwks(r1.body.access_token, jwks).claims.sid, login.body.session_id);
  const retry = await store.refresh(login.body.refresh_token);
  assert.equal(retry.status, 200, "lost response retried within the grace window");
  // Using one sibling supersedes the other: presenting it afterwards is reuse.
  assert.equal((await store.refresh(retry.body.refresh_token)).status, 200);
  const reused = await store.refresh(r1.body.refresh_token);
  assert.equal(reused.status, 400);
  assert.equal(reused.body.error_code, "refresh_token_reused");
});

test("replaying a rotated token after the grace window ends the session with its family", async () => {
  const strict = await startStore({ REFRESH_REUSE_GRACE_SECONDS: "0" });
  try {
    const login = await strict.login(ALICE);
    const sid = login.body.session_id;
    const second = await strict.sessionAuthenticate(sid); // a second chain in the same session
    const r1 = await strict.refresh(login.body.refresh_token);
    assert.equal(r1.status, 200);
    await sleep(5);
    const replay = await strict.refresh(login.body.refresh_token);
    assert.equal(replay.status, 400);
    assert.deepEqual(replay.body, {
      message: "Refresh token reuse detected; the session is ended",
      error_code: "refresh_token_reused",
      session_id: sid,
    });
    for (const t of [r1.body.refresh_token, second.body.refresh_token]) {
      const r = await strict.refresh(t);
      assert.equal(r.status, 400);
      assert.equal(r.body.error_code, "invalid_refresh_token");
    }
    const gone = await strict.sessionAuthenticate(sid);
    assert.equal(gone.status, 400, "the session ends too");
    assert.equal(gone.body.error_code, "session_not_found");
  } finally {
    await strict.dispose();
  }
});

test("logout makes session authenticate and refresh fail", async () => {
  const login = await store.login(BOB);
  const sid = login.body.session_id;
  const out = await store.logout(sid);
  assert.equal(out.status, 204);
  assert.equal(out.text, "");
  const sa = await store.sessionAuthenticate(sid);
  assert.equal(sa.status, 400);
  assert.deepEqual(sa.body, { message: "Session not found", error_code: "session_not_found" });
  const rf = await store.refresh(login.body.refresh_token);
  assert.equal(rf.status, 400);
  assert.equal(rf.body.error_code, "invalid_refresh_token");
  assert.equal((await store.logout(sid)).status, 400, "second logout: session not found");
  assert.ok(!(await store.list(BOB.userId)).body.some((s) => s.session_id === sid));
});

test("list and revoke-all", async () => {
  await store.revokeAll(BOB.userId);
  const a = await store.login(BOB);
  const b = await store.login(BOB);
  const listed = await store.list(BOB.userId);
  assert.equal(listed.status, 200);
  // Newest first (the list is bounded by MAX_SESSIONS_PER_USER: tests/store/session-cap.test.mjs).
  assert.deepEqual(listed.body.map((s) => s.session_id), [b.body.session_id, a.body.session_id]);
  for (const s of listed.body) {
    assert.deepEqual(Object.keys(s).sort(), ["expiration_time", "session_id", "start_time"]);
    assert.match(s.start_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(Date.parse(s.expiration_time) - Date.parse(s.start_time), 14 * 86400e3);
  }
  const aliceBefore = (await store.list(ALICE.userId)).body.length;
  const del = await store.revokeAll(BOB.userId);
  assert.equal(del.status, 204);
  assert.deepEqual((await store.list(BOB.userId)).body, []);
  assert.equal((await store.sessionAuthenticate(a.body.session_id)).status, 400);
  assert.equal((await store.refresh(b.body.refresh_token)).status, 400);
  assert.equal((await store.list(ALICE.userId)).body.length, aliceBefore, "other users untouched");
  const unknown = await store.list("nobody");
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error_code, "user_not_found");
});

test("expired sessions are gone for good", async () => {
  const short = await startStore({ SESSION_TTL_SECONDS: "1" });
  try {
    const login = await short.login(ALICE);
    await sleep(1100);
    const sa = await short.sessionAuthenticate(login.body.session_id);
    assert.equal(sa.status, 400);
    assert.equal(sa.body.error_code, "session_not_found");
    assert.equal((await short.refresh(login.body.refresh_token)).body.error_code, "invalid_refresh_token");
    assert.equal((await short.login(ALICE, { session_id: login.body.session_id })).body.error_code, "session_not_found");
    assert.deepEqual((await short.list(ALICE.userId)).body, []);
  } finally {
    await short.dispose();
  }
});

test("refresh chains stop at REFRESH_TOKEN_MAX_SECONDS", async () => {
  const short = await startStore({ REFRESH_TOKEN_MAX_SECONDS: "1" });
  try {
    const login = await short.login(ALICE);
    const r1 = await short.refresh(login.body.refresh_token);
    assert.equal(r1.status, 200);
    await sleep(1100);
    const r2 = await short.refresh(r1.body.refresh_token);
    assert.equal(r2.status, 400);
    assert.equal(r2.body.error_code, "refresh_token_expired");
    assert.equal((await short.sessionAuthenticate(login.body.session_id)).status, 200, "session outlives the chain");
  } finally {
    await short.dispose();
  }
});

test("JWKS, discovery, and key rotation with RS256 / EdDSA keys", async () => {
  const r = await store.request("GET", "/oidc/jwks", { auth: false });
  assert.equal(r.headers.get("cache-control"), "public, max-age=300");
  assert.equal(r.body.keys.length, 1);
  assert.equal(r.body.keys[0].d, undefined);
  const d = await store.request("GET", "/oidc/.well-known/openid-configuration", { auth: false });
  assert.equal(d.body.issuer, BASE);
  assert.equal(d.body.jwks_uri, `${BASE}/oidc/jwks`);

  const devKey = DEV_SECRETS.SIGNING_KEY;
  for (const [file, alg] of [["test-rs256", "RS256"], ["test-ed25519", "EdDSA"]]) {
    const key = readFileSync(new URL(`../keys/${file}.private.jwk.json`, import.meta.url), "utf8");
    const rotated = await startStore({ SIGNING_KEY: key, SIGNING_KEY_PREVIOUS: devKey });
    try {
      const keys = (await rotated.request("GET", "/oidc/jwks", { auth: false })).body;
      assert.deepEqual(keys.keys.map((k) => k.alg), [alg, "ES256"], "current first, previous still published");
      const login = await rotated.login(ALICE);
      const at = verifyWithJwks(login.body.access_token, keys);
      assert.equal(at.header.alg, alg);
      // A token signed before the rotation still verifies against the new JWKS.
      const old = (await store.login(ALICE)).body.access_token;
      assert.equal(verifyWithJwks(old, keys).header.kid, "dev-only-es256-1");
    } finally {
      await rotated.dispose();
    }
  }
});

// An attack that was tried and held (kept as a regression test): ids are bound to their user's
// object.
test("a session id or refresh token moved onto another user's object is refused", async () => {
  const a = await store.login(ALICE);
  const b = await store.login(BOB);
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  const [, objA, secretA] = a.body.refresh_token.split(".");
  const [, objB] = b.body.refresh_token.split(".");
  assert.notEqual(objA, objB);
  const swappedRt = await store.refresh(`rt1.${objB}.${secretA}`);
  assert.equal(swappedRt.status, 400, swappedRt.text);
  assert.equal(swappedRt.body.error_code, "invalid_refresh_token");
  const [, sObjA, sRandA] = a.body.session_id.split(".");
  const [, sObjB] = b.body.session_id.split(".");
  const swappedSid = await store.request("POST", "/v1/auth/session/authenticate", { json: { session_id: `s1.${sObjB}.${sRandA}` } });
  assert.equal(swappedSid.status, 400, swappedSid.text);
  assert.equal(swappedSid.body.error_code, "session_not_found");
  assert.notEqual(sObjA, sObjB);
  // The originals still work: nothing was consumed by the attempts.
  const ok = await store.refresh(a.body.refresh_token);
  assert.equal(ok.status, 200, ok.text);
});
