// The second factors at the reference store: TOTP (`/v1/auth/totp/authenticate`) and the
// one-time passcode (`/v1/auth/otp/send` → `/v1/auth/otp/authenticate`), each joining the
// given session of the same user with its amr, mfa and auth_time, in the access token too.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startStore, ALICE, BOB, decode } from "./harness.mjs";
import { Codes, TOTP_SECRETS, totpAt, stepNow } from "../totp.mjs";

let store;
const codes = new Codes();
before(async () => { store = await startStore({}, { direct: true }); });
after(() => store?.dispose());

const totp = (json) => store.request("POST", "/v1/auth/totp/authenticate", { json });
const send = (json) => store.request("POST", "/v1/auth/otp/send", { json });
const otp = (json) => store.request("POST", "/v1/auth/otp/authenticate", { json });
const claims = (r) => decode(r.body.access_token).claims;
const idClaims = (r) => decode(r.body.id_token).claims;

test("password, then TOTP into the same session: amr pwd otp mfa in both tokens, auth_time moves", async () => {
  const first = await store.login(ALICE);
  assert.equal(first.status, 200, first.text);
  const sid = first.body.session_id;
  assert.deepEqual(claims(first).amr, ["pwd"], "the access token carries amr");
  assert.equal(typeof claims(first).auth_time, "number", "and auth_time");
  const token = await codes.next(ALICE.userId);
  const up = await totp({ identifier: ALICE.userId, identifier_type: "user_id", token, session_id: sid });
  assert.equal(up.status, 200, up.text);
  assert.equal(up.body.session_id, sid, "joined, not a new session");
  assert.deepEqual(claims(up).amr, ["pwd", "otp", "mfa"]);
  assert.deepEqual(idClaims(up).amr, ["pwd", "otp", "mfa"]);
  assert.ok(claims(up).auth_time >= claims(first).auth_time);
  assert.equal(claims(up).sid, sid);

  // A refresh keeps amr and auth_time (the time of the last real authentication).
  await new Promise((r) => setTimeout(r, 1100));
  const refreshed = await store.refresh(up.body.refresh_token);
  assert.equal(refreshed.status, 200, refreshed.text);
  assert.deepEqual(claims(refreshed).amr, ["pwd", "otp", "mfa"]);
  assert.equal(claims(refreshed).auth_time, claims(up).auth_time);
  assert.ok(claims(refreshed).iat > claims(up).auth_time);
  const again = await store.sessionAuthenticate(sid);
  assert.equal(claims(again).auth_time, claims(up).auth_time, "session authenticate keeps it too");
});

test("a used TOTP code is refused (replay), like a wrong one", async () => {
  const sid = (await store.login(ALICE)).body.session_id;
  const token = await codes.next(ALICE.userId);
  const body = { identifier: "alice", identifier_type: "username", token, session_id: sid };
  assert.equal((await totp(body)).status, 200);
  const replay = await totp(body);
  assert.equal(replay.status, 401, replay.text);
  assert.equal(replay.body.error_code, "auth_invalid_credentials");
  const fresh = await totp({ ...body, session_id: undefined });
  assert.equal(fresh.status, 401, "nor as a fresh login");
  const wrong = await totp({ ...body, token: token === "000000" ? "000001" : "000000" });
  assert.equal(wrong.status, 401);
});

test("identifier_type defaults to email (Transmit); phone numbers are not served", async () => {
  const token = await codes.next(BOB.userId);
  const r = await totp({ identifier: "bob@example.test", token });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(claims(r).amr, ["otp"], "a TOTP alone: one factor, no mfa");
  const phone = await totp({ identifier: "+15550100", identifier_type: "phone_number", token: "123456" });
  assert.equal(phone.status, 400);
  assert.equal(phone.body.error_code, "unsupported_channel");
});

test("another user's factor never joins a session", async () => {
  const alice = (await store.login(ALICE)).body.session_id;
  const bobCode = await codes.next(BOB.userId);
  const r = await totp({ identifier: BOB.userId, identifier_type: "user_id", token: bobCode, session_id: alice });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.body.error_code, "session_not_found");
  // Bob's code under Alice's name is simply wrong.
  const r2 = await totp({ identifier: ALICE.userId, identifier_type: "user_id", token: totpAt(TOTP_SECRETS["user-bob"], stepNow()), session_id: alice });
  assert.equal(r2.status, 401);
  // Bob's passcode into Alice's session: refused, and it stays unused... until the right user.
  const sent = await send({ channel: "direct", identifier_type: "user_id", identifier: BOB.userId });
  const r3 = await otp({ passcode: sent.body.code, identifier_type: "user_id", identifier: BOB.userId, session_id: alice });
  assert.equal(r3.status, 400);
  const list = (await store.list(ALICE.userId)).body;
  assert.ok(list.some((s) => s.session_id === alice));
  const mine = await store.sessionAuthenticate(alice);
  assert.deepEqual(claims(mine).amr, ["pwd"], "alice's session gained nothing");
});

test("email OTP: direct channel, joins with eotp and mfa, good once", async () => {
  const sid = (await store.login(ALICE)).body.session_id;
  const sent = await send({ channel: "direct", identifier_type: "email", identifier: "alice@example.test" });
  assert.equal(sent.status, 200, sent.text);
  assert.match(sent.body.code, /^\d{6}$/);
  const body = { passcode: sent.body.code, identifier_type: "email", identifier: "alice@example.test", session_id: sid };
  const r = await otp(body);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.session_id, sid);
  assert.deepEqual(claims(r).amr, ["pwd", "eotp", "mfa"]);
  const again = await otp(body);
  assert.equal(again.status, 401, "used up");
  assert.equal(again.body.error_code, "auth_invalid_credentials");
});

test("email OTP: the fifth wrong guess ends the code", async () => {
  const sent = await send({ channel: "direct", identifier_type: "username", identifier: "bob" });
  const right = sent.body.code;
  const wrong = right === "000000" ? "000001" : "000000";
  for (let i = 0; i < 5; i++) {
    const r = await otp({ passcode: wrong, identifier_type: "username", identifier: "bob" });
    assert.equal(r.status, 401, `guess ${i + 1}`);
  }
  const r = await otp({ passcode: right, identifier_type: "username", identifier: "bob" });
  assert.equal(r.status, 401, "the right code after five wrong ones");
});

test("OTP channels: email goes to the dev mailbox, sms has no sender; unknown users", async () => {
  const sent = await send({ channel: "email", identifier_type: "username", identifier: "alice" });
  assert.equal(sent.status, 200, sent.text);
  assert.equal(sent.body.code, undefined, "an email's code is not in the answer");
  const mail = await store.request("GET", "/dev/mailbox/user-alice");
  assert.equal(mail.status, 200, mail.text);
  assert.match(mail.body.code, /^\d{6}$/);
  const used = await otp({ passcode: mail.body.code, identifier_type: "username", identifier: "alice" });
  assert.equal(used.status, 200, used.text);
  assert.deepEqual((await store.request("GET", "/dev/mailbox/user-alice")).body, { code: null }, "used up");
  for (const channel of ["sms", "pigeon"]) {
    const r = await send({ channel, identifier_type: "username", identifier: "alice" });
    assert.equal(r.status, 400, channel);
    assert.equal(r.body.error_code, "unsupported_channel");
  }
  assert.equal((await store.request("GET", "/dev/mailbox/nobody")).status, 404);
  assert.equal((await store.request("GET", "/dev/mailbox/user-alice", { auth: false })).status, 401);
  const r = await send({ channel: "direct", identifier_type: "username", identifier: "nobody" });
  assert.equal(r.status, 404);
  const t = await totp({ identifier: "nobody", identifier_type: "username", token: "123456" });
  assert.equal(t.status, 401);
});

test("without OTP_DEV_DELIVERY (production) nothing is delivered and there is no mailbox", async () => {
  const s = await startStore({ OTP_DEV_DELIVERY: "false" });
  try {
    for (const channel of ["direct", "email"]) {
      const r = await s.request("POST", "/v1/auth/otp/send", { json: { channel, identifier_type: "username", identifier: "alice" } });
      assert.equal(r.status, 400, channel);
      assert.equal(r.body.error_code, "unsupported_channel");
    }
    assert.equal((await s.request("GET", "/dev/mailbox/user-alice")).status, 404);
  } finally {
    await s.dispose();
  }
});

test("TOTP and OTP guesses count in the user's failed-login window", async () => {
  const s = await startStore({ LOGIN_FAILURES_PER_USER: "3" });
  try {
    const wrongTotp = () => s.request("POST", "/v1/auth/totp/authenticate", {
      json: { identifier: "alice", identifier_type: "username", token: "000000" },
    });
    // Two wrong, then a right one clears the window (sends count too: three slots).
    assert.equal((await wrongTotp()).status, 401);
    const sent = await s.request("POST", "/v1/auth/otp/send", { json: { channel: "direct", identifier_type: "username", identifier: "alice" } });
    assert.equal(sent.status, 200);
    const right = await s.request("POST", "/v1/auth/otp/authenticate", {
      json: { passcode: sent.body.code, identifier_type: "username", identifier: "alice" },
    });
    assert.equal(right.status, 200, right.text);
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await s.request("POST", "/v1/auth/totp/authenticate", {
        json: { identifier: "alice", identifier_type: "username", token: "000000" },
      })).status);
    }
    assert.deepEqual(statuses.slice(0, 3).every((x) => x === 401), true, String(statuses));
    assert.equal(statuses[3], 429);
    const r = await s.request("POST", "/v1/auth/otp/authenticate", {
      json: { passcode: "000000", identifier_type: "username", identifier: "alice" },
    });
    assert.equal(r.status, 429, "one window for every method");
  } finally {
    await s.dispose();
  }
});

test("bad bodies: 400 invalid_request naming the field", async () => {
  const rows = [
    ["/v1/auth/totp/authenticate", { identifier: "alice", token: "12345" }, "token"],
    ["/v1/auth/totp/authenticate", { identifier: "alice", token: "12345a" }, "token"],
    ["/v1/auth/totp/authenticate", { token: "123456" }, "identifier"],
    ["/v1/auth/totp/authenticate", { identifier: "alice", token: 123456 }, null],
    ["/v1/auth/otp/send", { channel: "direct", identifier: "alice" }, "identifier_type"],
    ["/v1/auth/otp/authenticate", { passcode: "1234567", identifier_type: "username", identifier: "alice" }, "passcode"],
    ["/v1/auth/otp/authenticate", { passcode: "123456", identifier_type: "username", identifier: "a\u0000" }, "identifier"],
  ];
  for (const [path, json, field] of rows) {
    const r = await store.request("POST", path, { json });
    assert.equal(r.status, 400, `${path} ${JSON.stringify(json)}: ${r.text}`);
    assert.equal(r.body.error_code, "invalid_request");
    if (field) assert.match(r.body.message, new RegExp(field));
  }
});

/** One raw HTTP/1.1 request on the direct socket; the status line's code. */
function raw(bytes) {
  const url = new URL(store.directUrl);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname);
    let out = "";
    sock.setTimeout(5000, () => { sock.destroy(); reject(new Error("timeout")); });
    sock.on("data", (d) => { out += d.toString("latin1"); });
    sock.on("end", () => resolve(Number(out.slice(9, 12))));
    sock.on("error", reject);
    sock.end(bytes);
  });
}

test("raw bytes: broken bodies on the new routes are 4xx, never 5xx", async () => {
  const token = await store.fetchClientToken();
  const bodies = [
    Buffer.from('{"identifier":"alice","token":"\xff\xfe"}', "latin1"),
    Buffer.from('{"identifier":"alice","token":"123456"', "latin1"),
    Buffer.from([0x7b, 0x00, 0x7d]),
    Buffer.from('{"passcode":"123456","identifier_type":"username","identifier":"\\ud800"}'),
  ];
  for (const path of ["/v1/auth/totp/authenticate", "/v1/auth/otp/send", "/v1/auth/otp/authenticate"]) {
    for (const body of bodies) {
      const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
      const status = await raw(Buffer.concat([Buffer.from(head, "latin1"), body]));
      assert.ok(status >= 400 && status < 500, `${path} ${body.toString("hex")}: ${status}`);
    }
  }
});
