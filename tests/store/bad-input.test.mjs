// The bad-input catalogue: every case gets a clear 4xx with the documented {message, error_code}.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStore, ALICE } from "./harness.mjs";

let store;
before(async () => { store = await startStore(); });
after(() => store?.dispose());

const OBJ = "0".repeat(64);
const fakeSession = `s1.${OBJ}.AAAAAAAAAAAAAAAAAAAAAA`;

// [name, method, path, request options, status, error_code]
const cases = [
  ["malformed JSON", "POST", "/v1/auth/password/authenticate", { body: "{", headers: { "content-type": "application/json" } }, 400, "invalid_request"],
  ["JSON that is not an object", "POST", "/v1/auth/session/authenticate", { json: ["x"] }, 400, "invalid_request"],
  ["missing username", "POST", "/v1/auth/password/authenticate", { json: { password: "x" } }, 400, "invalid_request"],
  ["missing password", "POST", "/v1/auth/password/authenticate", { json: { username: "alice" } }, 400, "invalid_request"],
  ["empty username", "POST", "/v1/auth/password/authenticate", { json: { username: "", password: "x" } }, 400, "invalid_request"],
  ["wrong type", "POST", "/v1/auth/password/authenticate", { json: { username: 42, password: "x" } }, 400, "invalid_request"],
  ["control character", "POST", "/v1/auth/session/authenticate", { json: { session_id: "a\u0000b" } }, 400, "invalid_request"],
  ["missing session_id", "POST", "/v1/auth/session/authenticate", { json: {} }, 400, "invalid_request"],
  ["missing refresh_token", "POST", "/v1/auth/token/refresh", { json: {} }, 400, "invalid_request"],
  ["missing session_id on logout", "POST", "/v1/auth/session/logout", { json: { sessionId: "x" } }, 400, "invalid_request"],
  ["oversized body", "POST", "/v1/auth/password/authenticate", { json: { username: "alice", password: "x".repeat(20000) } }, 413, "payload_too_large"],
  ["not JSON content type", "POST", "/v1/auth/token/refresh", { body: "refresh_token=x", headers: { "content-type": "application/x-www-form-urlencoded" } }, 415, "unsupported_media_type"],
  ["unknown session (well-formed id)", "POST", "/v1/auth/session/authenticate", { json: { session_id: fakeSession } }, 400, "session_not_found"],
  ["unknown session (garbage id)", "POST", "/v1/auth/session/authenticate", { json: { session_id: "definitely-not-a-session" } }, 400, "session_not_found"],
  ["logout of an unknown session", "POST", "/v1/auth/session/logout", { json: { session_id: fakeSession } }, 400, "session_not_found"],
  ["unknown refresh token", "POST", "/v1/auth/token/refresh", { json: { refresh_token: `rt1.${OBJ}.${"A".repeat(43)}` } }, 400, "invalid_refresh_token"],
  ["garbage refresh token", "POST", "/v1/auth/token/refresh", { json: { refresh_token: "abc" } }, 400, "invalid_refresh_token"],
  ["unknown user's sessions", "GET", "/v1/auth/users/nobody/sessions", {}, 404, "user_not_found"],
  ["unknown route", "GET", "/v1/nope", {}, 404, "not_found"],
  ["wrong method", "GET", "/v1/auth/token/refresh", {}, 405, "method_not_allowed"],
  ["token endpoint: wrong grant", "POST", "/oidc/token", { auth: false, body: "grant_type=password&client_id=a&client_secret=b", headers: { "content-type": "application/x-www-form-urlencoded" } }, 400, "unsupported_grant_type"],
  ["token endpoint: missing secret", "POST", "/oidc/token", { auth: false, body: "grant_type=client_credentials&client_id=a", headers: { "content-type": "application/x-www-form-urlencoded" } }, 400, "invalid_request"],
  ["token endpoint: JSON body", "POST", "/oidc/token", { auth: false, json: { grant_type: "client_credentials" } }, 400, "invalid_request"],
];

for (const [name, method, path, opts, status, code] of cases) {
  test(`bad input: ${name} → ${status} ${code}`, async () => {
    const r = await store.request(method, path, opts);
    assert.equal(r.status, status, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ["error_code", "message"]);
    assert.equal(r.body.error_code, code);
    assert.equal(typeof r.body.message, "string");
    assert.ok(r.body.message.length > 0);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("cache-control"), "no-store");
  });
}

test("missing-field errors name the field", async () => {
  const r = await store.request("POST", "/v1/auth/password/authenticate", { json: { password: "x" } });
  assert.equal(r.body.message, "Invalid request: missing field `username`");
});

test("405 lists the allowed methods", async () => {
  const r = await store.request("PUT", "/v1/auth/users/user-alice/sessions");
  assert.equal(r.status, 405);
  assert.equal(r.headers.get("allow"), "GET, HEAD, DELETE");
});

test("a declared Content-Length over the limit is refused before reading", async () => {
  const r = await store.request("POST", "/v1/auth/password/authenticate", {
    body: JSON.stringify({ username: "alice", password: "y".repeat(17000) }),
    headers: { "content-type": "application/json" },
  });
  assert.equal(r.status, 413);
});

test("bad input leaves no half-written session", async () => {
  await store.revokeAll(ALICE.userId);
  const attempts = [
    store.login(ALICE, { session_id: fakeSession }),
    store.login(ALICE, { resource: "https://unknown.example" }),
    store.login({ ...ALICE, password: "wrong" }),
    store.request("POST", "/v1/auth/password/authenticate", { json: { username: "alice", password: "alice-dev-password", client_attributes: { ip_address: "x".repeat(100) } } }),
  ];
  for (const r of await Promise.all(attempts)) assert.ok(r.status >= 400 && r.status < 500, r.text);
  assert.deepEqual((await store.list(ALICE.userId)).body, []);
});
