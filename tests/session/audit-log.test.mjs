// The audit lines of the security events (README "Logs and audit events"), read from the
// workers' own output: the edge and the reference store in workerd, every console call
// captured with its method (tests/log-scan.mjs). For each event the edge produces today
// (login success and failure, step-up, refresh, the refresh-token grant and its reuse,
// logout, logout-all, a session replaced by a new login, a throttled login) the line and its
// fields; the store's line of the same request under the same request id; every line's
// request id and console method by level; the sessions that end elsewhere (a reused refresh
// token's session revoked at the edge, another device's session ended, the store's revoke-all)
// and the revocation webhook (one line per id, a refusal's reason).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { startGate, startUpstream, workerBuilt } from '../edge/harness.mjs';
import { Client, WEBHOOK_SECRET, shortId, webhookSignature } from './harness.mjs';
import { STORES } from './stores.mjs';

const reference = STORES.find((k) => k.id === 'reference');
const skip = !workerBuilt() && 'edge worker not built; run scripts/build.sh';

/** Captured lines: { message, level (console method), json }. */
const edgeLines = [];
const storeLines = [];
const capture = (into) => (message, level) => {
  let json;
  try {
    json = JSON.parse(message);
  } catch {
    json = undefined;
  }
  into.push({ message, level, json });
};

const hash = (id) => crypto.createHash('sha256').update(id).digest('hex').slice(0, 16);
const AUDIT_FIELDS = ['client_prefix', 'event', 'level', 'outcome', 'reason', 'request_id', 'session_hash', 'subject_hash'];
const METHOD = { info: 'log', warn: 'warn', error: 'error' };

let store;
let up;
let gate;
let ray = 0;

/** Headers of a request as Cloudflare would deliver it: a cf-ray and the client's address. */
function cf(ip = '203.0.113.77') {
  ray += 1;
  const id = `audit${String(ray).padStart(4, '0')}-TST`;
  return { id, headers: { 'cf-ray': id, 'CF-Connecting-IP': ip } };
}

/** The lines of `lines` with request id `id` (waits briefly: output is asynchronous). */
async function linesOf(lines, id, { min = 1, event } = {}) {
  for (let i = 0; i < 100; i++) {
    const found = lines.filter((l) => l.json?.request_id === id && (event === undefined || l.json.event === event));
    if (found.length >= min) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  return lines.filter((l) => l.json?.request_id === id);
}

/** The audit line of `event` for request `id`, with its fields checked. */
async function auditLine(lines, id, event) {
  const found = await linesOf(lines, id, { event });
  const line = found.find((l) => l.json.event === event);
  assert.ok(line, `an audit line ${event} for ${id}; lines of the request:\n${found.map((l) => l.message).join('\n')}`);
  assert.deepEqual(Object.keys(line.json).sort(), AUDIT_FIELDS, line.message);
  assert.equal(line.level, METHOD[line.json.level], `a ${line.json.level} line is written with console.${METHOD[line.json.level]}`);
  return line.json;
}

describe('audit lines of the security events (reference store)', { skip }, () => {
  let users;
  before(async () => {
    store = await reference.start({ onLog: capture(storeLines) });
    users = store.users;
    up = await startUpstream();
    gate = await startGate({ main: store.bindings(up, { REVOCATION_WEBHOOK_SECRET: WEBHOOK_SECRET }) }, { onLog: capture(edgeLines) });
  });
  after(async () => {
    await gate?.dispose();
    await up?.close();
    await store?.close();
  });

  const client = () => new Client(gate.url('main'));

  test('a refused login: failure, no subject, the client prefix; the store says the same under the same id', async () => {
    const r = cf();
    const res = await client().login(users.alice.username, 'not-the-password', { headers: r.headers });
    assert.equal(res.status, 401);
    const edge = await auditLine(edgeLines, r.id, 'login');
    assert.deepEqual(
      { outcome: edge.outcome, reason: edge.reason, level: edge.level, subject: edge.subject_hash, session: edge.session_hash },
      { outcome: 'failure', reason: 'credentials_refused', level: 'warn', subject: null, session: null },
    );
    assert.equal(edge.client_prefix, '203.0.113.0/24');
    const st = await auditLine(storeLines, r.id, 'login');
    assert.equal(st.outcome, 'failure');
    assert.equal(st.reason, 'auth_invalid_credentials');
    assert.equal(st.client_prefix, '203.0.113.0/24', 'the end user address the edge reported');
  });

  test('login, step-up, refresh, logout: each its line, the ids hashed, the session hash its handle', async () => {
    const c = client();
    let r = cf('2001:db8:aa:bb::7');
    assert.equal((await c.login(users.alice.username, users.alice.password, { headers: r.headers })).status, 200);
    const who = (await c.clone().send('/auth/session')).json();
    const login = await auditLine(edgeLines, r.id, 'login');
    assert.deepEqual(
      [login.outcome, login.reason, login.level, login.subject_hash, login.session_hash, login.client_prefix],
      ['success', 'login', 'info', hash(users.alice.userId), who.session, '2001:db8:aa::/48'],
    );
    const stLogin = await auditLine(storeLines, r.id, 'login');
    assert.deepEqual([stLogin.outcome, stLogin.subject_hash, stLogin.session_hash], ['success', hash(users.alice.userId), who.session]);

    r = cf();
    assert.equal((await c.login(users.alice.username, users.alice.password, { headers: r.headers })).status, 200);
    const stepUp = await auditLine(edgeLines, r.id, 'step_up');
    assert.deepEqual([stepUp.outcome, stepUp.reason, stepUp.session_hash], ['success', 'step_up', who.session]);
    assert.equal((await auditLine(storeLines, r.id, 'step_up')).outcome, 'success');

    r = cf();
    assert.equal((await c.send('/auth/refresh', { method: 'POST', headers: r.headers })).status, 200);
    const refresh = await auditLine(edgeLines, r.id, 'refresh');
    assert.deepEqual(
      [refresh.outcome, refresh.reason, refresh.subject_hash, refresh.session_hash],
      ['success', 'session_refresh', hash(users.alice.userId), who.session],
    );
    assert.equal((await auditLine(storeLines, r.id, 'refresh')).reason, 'session_authenticate');

    r = cf();
    assert.equal((await c.logout({ headers: r.headers })).status, 200);
    const logout = await auditLine(edgeLines, r.id, 'logout');
    assert.deepEqual(
      [logout.outcome, logout.reason, logout.subject_hash, logout.session_hash],
      ['success', 'logged_out', hash(users.alice.userId), who.session],
    );
    const stLogout = await auditLine(storeLines, r.id, 'logout');
    assert.deepEqual([stLogout.outcome, stLogout.session_hash], ['success', who.session]);
  });

  test('a refresh of a session that ended: a failure line', async () => {
    const c = client();
    assert.equal((await c.login(users.bob.username, users.bob.password)).status, 200);
    const stale = c.clone();
    assert.equal((await c.logout()).status, 200);
    const r = cf();
    const res = await stale.send('/auth/refresh', { method: 'POST', headers: r.headers });
    assert.equal(res.status, 401);
    const line = await auditLine(edgeLines, r.id, 'refresh');
    assert.deepEqual([line.outcome, line.reason, line.level, line.subject_hash], ['failure', 'revoked', 'warn', hash(users.bob.userId)]);
  });

  test('a new login on a browser with another session: the old session revoked, then the login', async () => {
    const c = client();
    assert.equal((await c.login(users.alice.username, users.alice.password)).status, 200);
    const old = (await c.clone().send('/auth/session')).json().session;
    const r = cf();
    const res = await c.login(users.bob.username, users.bob.password, { headers: r.headers });
    assert.equal(res.status, 200);
    assert.equal(res.json().replaced_session, true);
    const revoked = await auditLine(edgeLines, r.id, 'session_revoked');
    assert.deepEqual(
      [revoked.outcome, revoked.reason, revoked.subject_hash, revoked.session_hash],
      ['success', 'replaced_by_login', hash(users.alice.userId), old],
    );
    const login = await auditLine(edgeLines, r.id, 'login');
    assert.deepEqual([login.outcome, login.reason, login.subject_hash], ['success', 'login_replaced_session', hash(users.bob.userId)]);
    assert.notEqual(login.session_hash, old);
  });

  test('logout-all: its line on the edge, the store revokes every session of the user', async () => {
    const c = client();
    assert.equal((await c.login(users.bob.username, users.bob.password)).status, 200);
    const r = cf();
    assert.equal((await c.send('/auth/logout-all', { method: 'POST', headers: r.headers })).status, 200);
    const line = await auditLine(edgeLines, r.id, 'logout_all');
    assert.deepEqual([line.outcome, line.reason, line.subject_hash], ['success', 'logged_out_everywhere', hash(users.bob.userId)]);
    const st = await auditLine(storeLines, r.id, 'session_revoked');
    assert.deepEqual([st.outcome, st.reason, st.subject_hash], ['success', 'revoke_all', hash(users.bob.userId)]);
  });

  test('the refresh-token grant, and a replayed refresh token: refresh_reuse_detected at level error', async () => {
    const direct = await store.direct.login(users.alice);
    assert.equal(direct.status, 200);
    const { refresh_token: first, session_id: sessionId } = direct.body;
    const grant = (refreshToken, r) =>
      client().send('/auth/refresh', { method: 'POST', json: { refresh_token: refreshToken }, cookies: false, headers: r.headers });
    let r = cf();
    const ok = await grant(first, r);
    assert.equal(ok.status, 200, ok.text);
    const line = await auditLine(edgeLines, r.id, 'refresh');
    assert.deepEqual(
      [line.outcome, line.reason, line.subject_hash, line.session_hash],
      ['success', 'refresh_grant', hash(users.alice.userId), shortId(sessionId)],
    );
    // The rotated token rotated once more: presenting the first again is reuse (no longer
    // the immediately previous token, which a lost answer may retry within the grace window).
    const second = ok.json().refresh_token;
    assert.equal((await grant(second, cf())).status, 200);
    r = cf();
    const replay = await grant(first, r);
    assert.equal(replay.status, 401);
    const reuse = await auditLine(edgeLines, r.id, 'refresh_reuse_detected');
    assert.deepEqual([reuse.outcome, reuse.reason, reuse.level], ['failure', 'refresh_token_reused', 'error']);
    const st = await auditLine(storeLines, r.id, 'refresh_reuse_detected');
    assert.equal(st.level, 'error');
    assert.equal(st.session_hash, shortId(sessionId), 'the store names the session the reuse ended');
    // The edge revoked the session the store named, at once: its own line.
    const revoked = await auditLine(edgeLines, r.id, 'session_revoked');
    assert.deepEqual(
      [revoked.outcome, revoked.reason, revoked.session_hash],
      ['success', 'refresh_token_reused', shortId(sessionId)],
    );
  });

  test("another device's session ended (DELETE /auth/sessions/{handle}): session_revoked", async () => {
    const me = client();
    const phone = client();
    for (const c of [me, phone]) assert.equal((await c.login(users.bob.username, users.bob.password)).status, 200);
    const list = await me.send('/auth/sessions');
    const other = list.json().sessions.find((s) => !s.current);
    assert.ok(other, list.text);
    const r = cf();
    const res = await me.send(`/auth/sessions/${other.id}`, { method: 'DELETE', headers: r.headers });
    assert.equal(res.status, 200, res.text);
    const line = await auditLine(edgeLines, r.id, 'session_revoked');
    assert.deepEqual(
      [line.outcome, line.reason, line.subject_hash, line.session_hash],
      ['success', 'ended_from_other_device', hash(users.bob.userId), other.id],
    );
  });

  test("the store's own revoke-all (an admin through the store's API): session_revoked at the store", async () => {
    const before = storeLines.length;
    const out = await store.direct.revokeAll(users.bob.userId);
    assert.ok(out.status >= 200 && out.status < 300, out.text);
    let line;
    for (let i = 0; i < 100 && !line; i++) {
      line = storeLines.slice(before).find((l) => l.json?.event === 'session_revoked');
      if (!line) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(line, 'a session_revoked line at the store');
    assert.deepEqual(Object.keys(line.json).sort(), AUDIT_FIELDS, line.message);
    assert.deepEqual([line.json.outcome, line.json.reason, line.json.subject_hash], ['success', 'revoke_all', hash(users.bob.userId)]);
  });

  test('the revocation webhook: one line per id it took; a bad signature its refusal', async () => {
    const payload = JSON.stringify({ session_ids: ['audit-webhook-s1'], user_ids: ['audit-webhook-u1'] });
    const send = (r, signature) =>
      client().send('/auth/revocations', {
        method: 'POST',
        cookies: false,
        body: payload,
        headers: { ...r.headers, 'content-type': 'application/json', 'edge-signature': signature },
      });
    let r = cf('192.0.2.10');
    const ok = await send(r, webhookSignature(payload));
    assert.equal(ok.status, 200, ok.text);
    const lines = await linesOf(edgeLines, r.id, { min: 2, event: 'webhook_revocation' });
    const took = lines.filter((l) => l.json.event === 'webhook_revocation').map((l) => l.json);
    assert.deepEqual(
      took.map((l) => [l.outcome, l.reason, l.session_hash, l.subject_hash, l.client_prefix]),
      [
        ['success', 'session', shortId('audit-webhook-s1'), null, '192.0.2.0/24'],
        ['success', 'user', null, hash('audit-webhook-u1'), '192.0.2.0/24'],
      ],
    );
    r = cf('192.0.2.10');
    const bad = await send(r, webhookSignature(payload, { secret: 'not-the-secret-0123456789abcdef0123' }));
    assert.equal(bad.status, 401, bad.text);
    const refused = await auditLine(edgeLines, r.id, 'webhook_revocation');
    assert.deepEqual([refused.outcome, refused.reason, refused.session_hash, refused.subject_hash], ['failure', 'webhook_bad_signature', null, null]);
  });

  test('the sixth wrong password for one username: throttled, at the edge, before any store call', async () => {
    const username = `nobody-${crypto.randomBytes(4).toString('hex')}`;
    for (let i = 1; i <= 5; i++) {
      const res = await client().login(username, `wrong-password-${i}`, { headers: cf('198.51.100.9').headers });
      assert.equal(res.status, 401, `attempt ${i}`);
    }
    const r = cf('198.51.100.9');
    const res = await client().login(username, 'wrong-password-6', { headers: r.headers });
    assert.equal(res.status, 429);
    const line = await auditLine(edgeLines, r.id, 'throttled');
    assert.deepEqual(
      [line.outcome, line.reason, line.level, line.subject_hash, line.client_prefix],
      ['failure', 'login_throttled_user', 'warn', null, '198.51.100.0/24'],
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(storeLines.filter((l) => l.json?.request_id === r.id).length, 0, 'the store never heard of it');
  });

  test('every line of both workers is JSON with a request id, written with the console method of its level', async () => {
    assert.ok(edgeLines.length > 10 && storeLines.length > 10, `${edgeLines.length} edge, ${storeLines.length} store lines`);
    for (const l of [...edgeLines, ...storeLines]) {
      assert.ok(l.json, `a JSON line: ${l.message}`);
      assert.equal(typeof l.json.request_id, 'string', l.message);
      assert.match(l.json.request_id, /^[A-Za-z0-9._:-]{1,64}$/, l.message);
      assert.equal(l.level, METHOD[l.json.level], `level ${l.json.level} written with console.${l.level}: ${l.message}`);
    }
    // Requests without cf-ray get a local id, and the store's lines carry the edge's.
    const local = edgeLines.filter((l) => l.json.request_id.startsWith('local-'));
    assert.ok(local.length > 0, 'requests without cf-ray are logged under a local id');
    const ids = new Set(local.map((l) => l.json.request_id));
    assert.ok(storeLines.some((l) => ids.has(l.json.request_id)), 'the store logs under the edge id it was sent');
  });
});
