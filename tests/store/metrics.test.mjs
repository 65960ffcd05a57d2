// Measurements in workerd: Durable Object calls and SQL statements per operation (from the
// x-store-metrics header, EXPOSE_METRICS=true in the dev config) and the per-login KDF cost.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStore, ALICE, BOB, metrics } from "./harness.mjs";

let store;
before(async () => { store = await startStore(); });
after(() => store?.dispose());

test("DO calls and SQL statements per operation", async (t) => {
  const rows = [];
  const record = (op, r, expected) => {
    const m = metrics(r.headers);
    rows.push(`${op.padEnd(34)} status=${r.status} do_calls=${m.do_calls} sql=${m.sql_statements ?? 0} rows_read=${m.rows_read ?? 0} rows_written=${m.rows_written ?? 0}`);
    assert.equal(m.do_calls, expected.do, `${op}: DO calls`);
    if (expected.sql !== undefined) assert.equal(m.sql_statements, expected.sql, `${op}: SQL statements`);
  };
  const login = await store.login(ALICE);
  // A password check first takes a slot in the username's failed-login object (1 call: read
  // the window, write it), a right password clears it (1 call), then the user's object runs
  // the authentication (5 statements: a new session also reads the user's sessions, to end
  // the oldest past MAX_SESSIONS_PER_USER). The SQL figure is every call's, summed.
  record("password authenticate (new)", login, { do: 3, sql: 8 });
  record("password authenticate (+session)", await store.login(ALICE, { session_id: login.body.session_id }), { do: 3, sql: 8 });
  // A wrong password: only the slot (read the window, write it).
  record("password authenticate (wrong pw)", await store.login({ ...ALICE, password: "x" }), { do: 1, sql: 2 });
  const sa = await store.sessionAuthenticate(login.body.session_id);
  record("session authenticate", sa, { do: 1, sql: 3 });
  const r1 = await store.refresh(sa.body.refresh_token);
  record("refresh (rotate)", r1, { do: 1, sql: 4 });
  record("refresh (grace retry)", await store.refresh(sa.body.refresh_token), { do: 1, sql: 4 });
  record("list sessions", await store.list(ALICE.userId), { do: 1, sql: 3 });
  record("logout", await store.logout(login.body.session_id), { do: 1, sql: 3 });
  record("session authenticate (ended)", await store.sessionAuthenticate(login.body.session_id), { do: 1, sql: 1 });
  record("revoke all", await store.revokeAll(ALICE.userId), { do: 1, sql: 2 });
  record("jwks", await store.request("GET", "/oidc/jwks", { auth: false }), { do: 0 });
  for (const row of rows) t.diagnostic(row);
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(f) {
  const start = process.hrtime.bigint();
  const r = await f();
  assert.ok(r.status < 500, r.text);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

test("per-login KDF cost; unknown users cost the same as wrong passwords", async (t) => {
  const login = await store.login(BOB);
  const [ok, wrong, unknown, session] = [[], [], [], []];
  // Interleaved, so warm-up and machine load hit every kind alike.
  for (let i = 0; i < 8; i++) {
    ok.push(await time(() => store.login(BOB)));
    wrong.push(await time(() => store.login({ ...BOB, password: "wrong" })));
    unknown.push(await time(() => store.login({ username: "nobody", password: "wrong" })));
    session.push(await time(() => store.sessionAuthenticate(login.body.session_id)));
  }
  const [mOk, mWrong, mUnknown, mSession] = [ok, wrong, unknown, session].map(median);
  t.diagnostic(`median wall time in workerd (ms): login ok ${mOk.toFixed(1)}, wrong password ${mWrong.toFixed(1)}, unknown user ${mUnknown.toFixed(1)}, session authenticate ${mSession.toFixed(1)}`);
  t.diagnostic(`argon2id (m=19456 KiB, t=2, p=1) cost per login ≈ ${(mOk - mSession).toFixed(1)} ms (login − session authenticate)`);
  const ratio = mUnknown / mWrong;
  // Loose bounds: a missing dummy hash would make the ratio ~0.02.
  assert.ok(ratio > 0.5 && ratio < 2, `unknown/wrong timing ratio ${ratio.toFixed(2)}`);
  assert.ok(mWrong > mSession, "a failed login pays the KDF");
});
