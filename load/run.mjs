#!/usr/bin/env node
// Whole-stack load and fault harness (issue 15): `node load/run.mjs [options]` (npm run load).
// Starts edge + reference store + demo app in workerd (load/stack.mjs), drives N virtual users
// through the edge (browsers with cookies, some of whose sessions step up with TOTP into the
// demo's admin area, and API clients with Bearer tokens and the refresh-token grant), injects
// the named fault scenarios mid-run (load/scenarios.mjs), and prints one invariant table;
// exits non-zero when an invariant fails. Loopback only; every phase is bounded in time and
// the whole run has a hard deadline.
//
//   --users N           virtual users (default 1000); 10% of them are API clients
//   --scenario LIST     none | all | comma-separated names (default none)
//   --warm S            seconds of steady load before the first scenario (default 30)
//   --recover S         seconds after each scenario before the next (default 6)
//   --rate R            target requests per second of the whole population (default 400)
//   --login-rate L      logins per second at most (default 100)
//   --login-concurrency C  logins in flight at most (default 4: argon2id and the login's
//                       Durable Object calls are the stack's costliest work)
//   --session S         mean seconds a browser session lives before its logout (default 40)
//   --stepup P          share of browser sessions that go to the admin area and step up with
//                       TOTP (default 0.25)
//   --ttl S             access-token lifetime at the store (default 10)
//   --out FILE          also write the tables and the raw figures (JSON) to FILE(.json)
//   --smoke             100 users, 20 s, no scenario (what scripts/test.sh runs)
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

import { send } from './client.mjs';
import { ADMIN_PATH, SCENARIOS, STEP_UP_LOCATION, explain } from './scenarios.mjs';
import { LOAD_PASSWORD, CHEAP_HASH, startStack } from './stack.mjs';
import { openAccess, parseSetCookie } from '../tests/session/harness.mjs';
import { stepNow, totpAt } from '../tests/totp.mjs';

const { values: opt } = parseArgs({
  options: {
    users: { type: 'string', default: '1000' },
    scenario: { type: 'string', default: 'none' },
    warm: { type: 'string', default: '30' },
    recover: { type: 'string', default: '6' },
    rate: { type: 'string', default: '400' },
    'login-rate': { type: 'string', default: '100' },
    'login-concurrency': { type: 'string', default: '4' },
    session: { type: 'string', default: '40' },
    stepup: { type: 'string', default: '0.25' },
    ttl: { type: 'string', default: '10' },
    out: { type: 'string' },
    smoke: { type: 'boolean', default: false },
  },
});
if (opt.smoke) Object.assign(opt, { users: '100', warm: '20', scenario: 'none', session: '8', rate: '150', ttl: '5' });
const N = Number(opt.users);
const TTL = Number(opt.ttl);
const RATE = Number(opt.rate);
const LOGIN_RATE = Number(opt['login-rate']);
const LOGIN_CONCURRENCY = Number(opt['login-concurrency']);
const SESSION_S = Number(opt.session);
const STEPUP_SHARE = Number(opt.stepup);
const WARM_S = Number(opt.warm);
const RECOVER_S = Number(opt.recover);
const names = opt.scenario === 'all' ? Object.keys(SCENARIOS) : opt.scenario === 'none' ? [] : opt.scenario.split(',');
for (const n of names) if (!SCENARIOS[n]) throw new Error(`unknown scenario ${n}; known: ${Object.keys(SCENARIOS).join(', ')}, all, none`);
if (!(N >= 1 && N <= 20000)) throw new Error('--users: 1..20000');
if (!(STEPUP_SHARE >= 0 && STEPUP_SHARE <= 1)) throw new Error('--stepup: 0..1');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Date.now();
const rand = (a, b) => a + Math.random() * (b - a);
const UA = 'Mozilla/5.0 (X11; Linux x86_64) edge-session-load/1.0';
const ACCESS = '__Host-access';
const SESSION = '__Host-session';
const GRACE_MS = 4000; // answers to requests sent this long after a fault ended still count as its
const LOGIN_PATH = '/';
const NAV = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin', 'sec-fetch-dest': 'document' };
const API = { accept: 'application/json', 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' };
const ok2xx = (r) => r.status >= 200 && r.status < 300;

// A hard deadline for the whole process: the planned run plus 3 minutes.
const planned = WARM_S + names.length * (40 + RECOVER_S) + Math.max(60, N / 25) + 120;
const hardStop = setTimeout(() => {
  console.error(`load: hard deadline (${planned + 180} s) reached, exiting`);
  process.exit(3);
}, (planned + 180) * 1000);
hardStop.unref();

// ------------------------------------------------------------------------------------------
// recording

const T0 = now();
const phases = []; // { name, start, end, faultStart, faultEnd }
let phase = { name: 'warm', start: T0 };
phases.push(phase);
const activeFaults = []; // { name, start, end }
/** The faults that were on at some moment of [from, to] (a fault counts until GRACE_MS after it ended). */
const faultsAt = (from, to = from, grace = GRACE_MS) => activeFaults.filter((f) => to >= f.start && from <= (f.end ?? Infinity) + grace).map((f) => f.name);

const responses = []; // compact records
const edgeReasons = new Map(); // request id -> [reason]
const logStats = { lines: 0, secretLike: 0, traps: 0, samples: [] };
const events = { endedByEdge: [], revokedAccepted: [], refreshEvents: new Map(), logins: 0, loginFailures: 0, logouts: 0, grants: 0, bearer: 0, stepUps: [], adminWithoutMfa: [] };

function record(cls, r, { replay = false, sentAt, expectChallenge = false }) {
  const rec = {
    cls,
    status: r.status,
    ms: r.ms,
    phase: phaseAt(sentAt),
    faults: faultsAt(sentAt, now()),
    recentFaults: faultsAt(sentAt - 20_000, now()),
    faultsLong: faultsAt(sentAt, now(), 8000),
    replay,
    expectChallenge,
    id: r.id,
    error: r.error,
    www: r.headers?.['www-authenticate'],
    location: r.headers?.location,
    netError: r.netError,
    reused: r.reused,
    at: sentAt,
  };
  responses.push(rec);
  return rec;
}
const phaseAt = (t) => {
  for (let i = phases.length - 1; i >= 0; i--) if (t >= phases[i].start) return phases[i].name;
  return 'warm';
};

const logFile = process.env.LOAD_LOG_FILE ? fs.openSync(process.env.LOAD_LOG_FILE, 'w') : undefined;
function onEdgeLog(obj, level, raw) {
  if (logFile !== undefined) fs.writeSync(logFile, `${level} ${raw}\n`);
  logStats.lines += 1;
  if (/eyJ[\w-]{10,}\.|load-password|rt1\.|s1\.[0-9a-f]{8}/.test(raw)) {
    logStats.secretLike += 1;
    if (logStats.samples.length < 3) logStats.samples.push(raw.slice(0, 200));
  }
  if (!obj) return;
  if (obj.reason === 'wasm_trap_reinstantiating') logStats.traps += 1;
  if (obj.reason && obj.request_id) {
    const list = edgeReasons.get(obj.request_id);
    if (list) list.push(obj.reason);
    else edgeReasons.set(obj.request_id, [obj.reason]);
  }
}

// ------------------------------------------------------------------------------------------
// login pacing: at most LOGIN_RATE logins per second (argon2id is the store's costliest step)

let nextLoginSlot = 0;
let loginsInFlight = 0;
const loginWaiters = [];
/** A login slot: at most LOGIN_RATE per second and LOGIN_CONCURRENCY at once. */
async function loginSlot() {
  const t = now();
  const slot = Math.max(t, nextLoginSlot);
  nextLoginSlot = slot + 1000 / LOGIN_RATE;
  if (slot > t) await sleep(slot - t);
  while (loginsInFlight >= LOGIN_CONCURRENCY) await new Promise((r) => loginWaiters.push(r));
  loginsInFlight += 1;
}
function loginDone() {
  loginsInFlight -= 1;
  loginWaiters.shift()?.();
}

// ------------------------------------------------------------------------------------------
// virtual users

let stack;
let stopping = false;
let stopNow;
const stopped = new Promise((r) => (stopNow = r));
/** Sleeps `ms`, or less when the run stops. */
const nap = (ms) => Promise.race([sleep(ms), stopped]);
const thinkMs = () => rand(0.5, 1.5) * ((N * 3) / RATE) * 1000; // a page view is 3 requests

class Browser {
  constructor(i, totpSecret) {
    this.i = i;
    this.username = `load-${i}`;
    this.ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    this.jar = new Map();
    this.totpSecret = totpSecret;
    this.lastStep = -Infinity; // the last TOTP time step this user sent (the store takes each once)
  }

  headers(extra = {}) {
    const h = { 'user-agent': UA, 'cf-connecting-ip': this.ip, ...extra };
    if (this.jar.size) h.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return h;
  }

  apply(r) {
    let cleared = false;
    let newAccess = false;
    for (const s of r.setCookies) {
      const c = parseSetCookie(s);
      if (c.attrs['max-age'] === '0' || c.value === '') {
        this.jar.delete(c.name);
        cleared = true;
      } else {
        if (c.name === ACCESS && this.jar.get(ACCESS) !== c.value) newAccess = true;
        this.jar.set(c.name, c.value);
      }
    }
    return { cleared, newAccess };
  }

  async req(cls, path, opts = {}, { expectChallenge = false } = {}) {
    const sentAt = now();
    const before = this.jar.get(ACCESS);
    const sid = this.sid;
    const r = await send(stack.edgeUrl, path, { ...opts, headers: this.headers(opts.headers) });
    const rec = record(cls, r, { sentAt, expectChallenge });
    rec.sid = sid;
    const { cleared, newAccess } = this.apply(r);
    if (newAccess && before && cls !== 'login' && cls !== 'stepup') {
      // a transparent refresh: the expired token `before` was replaced
      const k = before;
      events.refreshEvents.set(k, (events.refreshEvents.get(k) ?? 0) + 1);
    }
    // Sent to the login page (a 303 to the step-up page keeps the session: README "Route policies").
    const ended = (r.status === 401 && r.error === 'session_ended') || (r.status === 303 && r.headers.location === LOGIN_PATH) || (cleared && cls !== 'logout');
    if (ended && cls !== 'logout' && sid) {
      events.endedByEdge.push({ user: this.username, userId: `user-${this.username}`, sid, at: sentAt, phase: rec.phase, status: r.status, reasons: edgeReasons.get(r.id) });
      this.jar.clear();
    }
    return r;
  }

  get sid() {
    const v = this.jar.get(SESSION);
    if (!v) return undefined;
    return Buffer.from(v.split('.')[2] ?? '', 'base64url').toString('utf8');
  }

  async login() {
    this.steppedUp = false;
    for (let attempt = 0; attempt < 20 && !stopping; attempt++) {
      await loginSlot();
      const body = JSON.stringify({ username: this.username, password: LOAD_PASSWORD });
      const r = await this.req('login', '/auth/login', { method: 'POST', body, headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' } });
      loginDone();
      if (r.status === 200 && this.jar.get(SESSION)) {
        events.logins += 1;
        return true;
      }
      events.loginFailures += 1;
      await sleep(Math.min(10, Number(r.headers?.['retry-after'] ?? 1) || 1) * 1000 * rand(0.5, 1.5));
    }
    return false;
  }

  /** A page view: the navigation and two parallel API calls; now and then a POST. */
  async pageView() {
    await this.req('page', '/app', { headers: NAV });
    if (!this.jar.get(SESSION)) return;
    const calls = [this.req('api', '/api/me', { headers: API }), this.req('api', '/api/me', { headers: API })];
    if (Math.random() < 0.2) calls.push(this.req('api_post', '/api/me', { method: 'POST', body: '{}', headers: { ...API, 'content-type': 'application/json' } }));
    if (Math.random() < 0.05) calls.push(this.req('whoami', '/auth/session', { headers: API }));
    // A session with a second factor goes back to the admin area now and then.
    if (this.steppedUp && Math.random() < 0.3) calls.push(this.adminPage(Math.random() < 0.5));
    await Promise.all(calls);
  }

  /** The admin page after the step-up (class `admin`): 2xx, and the demo shows the assertion's amr with mfa. */
  async adminPage(navigation) {
    const r = await this.req('admin', ADMIN_PATH, { headers: navigation ? NAV : API });
    if (ok2xx(r)) {
      const amr = (/id="amr">([^<]*)</.exec(r.text)?.[1] ?? '').split(', ');
      if (!amr.includes('mfa')) events.adminWithoutMfa.push({ user: this.username, id: r.id, at: now(), amr: amr.join(',') });
    }
    return r;
  }

  /**
   * The step-up into the admin area (README "Second factors and step-up"): the first visit must
   * be the challenge (a navigation: 303 to the step-up page, which it loads; an API call: 401
   * insufficient_user_authentication), then the TOTP code of a time step this user never sent
   * (the store takes each step once per user: waits for the next step, or skips when the run
   * stops), then the admin page must be served (a 5xx or no answer retried twice, a second
   * apart, as a user reloads) and the session's amr hold mfa (GET /auth/session).
   */
  async stepUp() {
    const navigation = Math.random() < 0.5;
    const flow = { user: this.username, navigation, start: now(), end: undefined, outcome: undefined };
    events.stepUps.push(flow);
    const done = (outcome) => {
      flow.outcome = outcome;
      flow.end = now();
    };
    const c = await this.req('stepup_challenge', ADMIN_PATH, { headers: navigation ? NAV : API }, { expectChallenge: true });
    if (ok2xx(c)) {
      events.adminWithoutMfa.push({ user: this.username, id: c.id, at: flow.start, amr: 'before the step-up' });
      return done('served_without_step_up');
    }
    const challenged = navigation ? c.status === 303 && c.headers.location === STEP_UP_LOCATION : c.status === 401 && c.error === 'insufficient_user_authentication';
    if (!challenged) return done('no_challenge');
    flow.challenged = true;
    if (navigation) {
      const page = await this.req('stepup_page', c.headers.location, { headers: NAV });
      if (!ok2xx(page)) return done('step_up_page_failed');
    }
    if (stepNow() <= this.lastStep) await nap(Math.max(0, (this.lastStep + 1) * 30_000 - Date.now()) + 50);
    const step = stepNow();
    if (stopping || step <= this.lastStep || !this.jar.get(SESSION)) return done('skipped');
    this.lastStep = step;
    const body = JSON.stringify({ method: 'totp', code: totpAt(this.totpSecret, step) });
    const r = await this.req('stepup', '/auth/login', { method: 'POST', body, headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' } });
    flow.stepUpId = r.id;
    flow.stepUpStatus = r.status;
    if (r.status !== 200) return done('step_up_refused');
    let answer;
    try {
      answer = JSON.parse(r.text);
    } catch {
      answer = {};
    }
    flow.answerMfa = answer.step_up === true && Array.isArray(answer.amr) && answer.amr.includes('mfa');
    if (!flow.answerMfa) return done('step_up_without_mfa');
    this.steppedUp = true;
    for (let i = 0; i < 3; i++) {
      if (i) await sleep(1000);
      const a = await this.adminPage(navigation);
      if (ok2xx(a)) {
        flow.served = true;
        break;
      }
      if (a.status !== 0 && a.status < 500) break;
    }
    if (!flow.served) return done('admin_not_served');
    const s = await this.req('stepup_whoami', '/auth/session', { headers: API });
    if (ok2xx(s)) {
      try {
        flow.sessionAmr = JSON.parse(s.text).amr;
      } catch {
        flow.sessionAmr = undefined;
      }
      flow.sessionMfa = Array.isArray(flow.sessionAmr) && flow.sessionAmr.includes('mfa');
    }
    return done('admin_served');
  }

  /** Logout, then the old cookies and the old raw token replayed: each must be refused. */
  async logoutAndReplay() {
    const old = new Map(this.jar);
    const rawToken = (() => {
      try {
        return openAccess(old.get(ACCESS), old.get(SESSION), { key: stack.cookieKey }).token;
      } catch {
        return undefined;
      }
    })();
    const r = await this.req('logout', '/auth/logout', { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } });
    events.logouts += 1;
    this.jar.clear();
    if (r.status !== 200) return;
    const loggedOutAt = now();
    const cookie = [...old].map(([k, v]) => `${k}=${v}`).join('; ');
    const replays = [
      ['replay_cookie', { cookie, 'user-agent': UA, accept: 'application/json' }],
      ['replay_nav', { cookie, 'user-agent': UA, accept: 'text/html', 'sec-fetch-mode': 'navigate' }],
    ];
    if (rawToken) replays.push(['replay_bearer', { authorization: `Bearer ${rawToken}`, accept: 'application/json' }]);
    for (const delay of [0, 1500]) {
      if (delay) await sleep(delay);
      for (const [cls, headers] of replays) {
        const sentAt = now();
        const rr = await send(stack.edgeUrl, '/api/me', { headers });
        record(cls, rr, { replay: true, sentAt });
        if (rr.status >= 200 && rr.status < 300) events.revokedAccepted.push({ cls, user: this.username, afterMs: sentAt - loggedOutAt });
      }
    }
  }

  async live() {
    await nap(rand(0, (N / LOGIN_RATE) * 1000));
    while (!stopping) {
      if (!(await this.login())) return;
      const end = now() + rand(0.5, 1.5) * SESSION_S * 1000;
      let admin = Math.random() < STEPUP_SHARE;
      while (!stopping && now() < end && this.jar.get(SESSION)) {
        await nap(Math.min(thinkMs(), Math.max(0, end - now())));
        await this.pageView();
        if (admin && !stopping && this.jar.get(SESSION)) {
          admin = false;
          await this.stepUp();
        }
      }
      if (this.jar.get(SESSION)) await this.logoutAndReplay();
      if (!stopping) await sleep(rand(500, 2000));
    }
  }
}

/** An API client: tokens from a direct store login, Bearer calls, the refresh-token grant. */
class ApiClient {
  constructor(i) {
    this.i = i;
    this.username = `load-${i}`;
  }

  async storeLogin() {
    const token = await clientToken();
    await loginSlot();
    const r = await send(stack.storeUrl, '/v1/auth/password/authenticate', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username: this.username, password: LOAD_PASSWORD }),
    });
    loginDone();
    if (r.status !== 200) return false;
    this.take(JSON.parse(r.text));
    return true;
  }

  take(body) {
    this.access = body.access_token;
    this.refresh = body.refresh_token;
    this.exp = JSON.parse(Buffer.from(this.access.split('.')[1], 'base64url')).exp * 1000;
  }

  async grant() {
    const sentAt = now();
    const r = await send(stack.edgeUrl, '/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'load-api-client/1.0' },
      body: JSON.stringify({ refresh_token: this.refresh }),
    });
    const rec = record('grant', r, { sentAt });
    rec.afterFailedGrant = this.lastGrantFailed === true;
    this.lastGrantFailed = r.status !== 200;
    if (r.status === 200) {
      events.grants += 1;
      this.take(JSON.parse(r.text));
      return true;
    }
    if (r.status === 401) {
      // the chain is gone (e.g. reuse detected): an API client's session lost
      events.endedByEdge.push({ user: this.username, api: true, at: sentAt, phase: phaseAt(sentAt), status: r.status, reasons: edgeReasons.get(r.id) });
      this.refresh = undefined;
    }
    return false;
  }

  async live() {
    await sleep(rand(0, (N / LOGIN_RATE) * 1000));
    for (let i = 0; i < 20 && !stopping && !(await this.storeLogin()); i++) await sleep(1000);
    while (!stopping && this.refresh) {
      await nap(thinkMs() / 3);
      if (this.exp - now() < Math.max(2000, (TTL * 1000) / 2) && !(await this.grant())) {
        await sleep(1000);
        continue;
      }
      const sentAt = now();
      const r = await send(stack.edgeUrl, '/api/me', { headers: { authorization: `Bearer ${this.access}`, accept: 'application/json' } });
      const rec = record('bearer', r, { sentAt });
      // exp has one-second grain: a token whose exp passed before the answer came back
      rec.expiredInFlight = this.exp <= now() + 1000;
      events.bearer += 1;
    }
  }
}

let clientTokenP;
function clientToken() {
  clientTokenP ??= (async () => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: stack.env.CLIENT_ID, client_secret: stack.env.CLIENT_SECRET });
    const r = await send(stack.storeUrl, '/oidc/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    if (r.status !== 200) throw new Error(`client token: ${r.status} ${r.text}`);
    return JSON.parse(r.text).access_token;
  })();
  return clientTokenP;
}

// ------------------------------------------------------------------------------------------
// argon2id calibration: logins at the production cost (the demo users' m=19456 KiB, t=2 hashes)
// one after another, against the same logins at the load cost

async function calibrate() {
  const one = async (username, password) => {
    const r = await send(stack.edgeUrl, '/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', 'user-agent': UA, 'cf-connecting-ip': '192.0.2.1' },
      body: JSON.stringify({ username, password }),
    });
    if (r.status !== 200) throw new Error(`calibration login ${username}: ${r.status} ${r.text}`);
    return r.ms;
  };
  await one('bob', 'bob-dev-password'); // warm-up
  const prod = [];
  const cheap = [];
  for (let i = 0; i < 8; i++) {
    prod.push(await one(i % 2 ? 'alice' : 'bob', i % 2 ? 'alice-dev-password' : 'bob-dev-password'));
    cheap.push(await one(`load-${N + 1 + (i % 6)}`, LOAD_PASSWORD));
  }
  // The fastest of each: the one least slowed by whatever else shares the machine.
  const min = (a) => Math.min(...a);
  return { prodMs: min(prod), cheapMs: min(cheap), argon2Ms: min(prod) - min(cheap) };
}

// ------------------------------------------------------------------------------------------
// invariants

const pct = (arr, p) => {
  if (!arr.length) return NaN;
  const s = Float64Array.from(arr).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');

function table(headers, rows) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [line(headers), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function lostAtStore(ended) {
  // A user the edge logged out whose session is still valid at the store: lost.
  const token = await clientToken();
  let lost = 0;
  for (const e of ended) {
    if (!e.sid) continue;
    const r = await send(stack.storeUrl, `/v1/auth/users/${encodeURIComponent(e.userId)}/sessions`, { headers: { authorization: `Bearer ${token}` } });
    if (r.status === 200 && r.text.includes(e.sid)) {
      lost += 1;
      e.lost = true;
    }
  }
  return lost;
}

function refreshStats(calls, fromT, toT) {
  // session authenticate calls the store answered 200 and the edge received, per session
  const bySession = new Map();
  let total = 0;
  for (const c of calls) {
    if (c.op !== 'session_authenticate' || c.at < fromT || c.at > toT) continue;
    total += 1;
    if (c.status !== 200 || !c.delivered || !c.session) continue;
    (bySession.get(c.session) ?? bySession.set(c.session, []).get(c.session)).push([c.at, c.at + (c.ms ?? 0)]);
  }
  // Single flight: one isolate never has two store calls for one session in flight at once.
  // (Calls one after another are retries after a failure, or the next expiry.)
  let dup = 0;
  let ok = 0;
  for (const spans of bySession.values()) {
    spans.sort((a, b) => a[0] - b[0]);
    ok += spans.length;
    for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) dup += 1;
  }
  return { total, ok, dup };
}

function report(calib) {
  const out = [];
  const end = now();
  const rows = [];
  const failures = [];
  const unexplainedSamples = [];
  const samplesOf = new Map();
  const unexplainedKinds = new Map();
  const storeByRid = new Map();
  const storeBySession = new Map();
  for (const c of stack.storeProxy.calls) {
    if (c.rid) (storeByRid.get(c.rid) ?? storeByRid.set(c.rid, []).get(c.rid)).push(c);
    if (c.session) (storeBySession.get(c.session) ?? storeBySession.set(c.session, []).get(c.session)).push(c);
  }
  // A request that waited on another request's refresh of its session (single flight) shares
  // that call's outcome: its store calls are its own and those of its session in flight then.
  const storeCallsOf = (r) => {
    const own = storeByRid.get(r.id) ?? [];
    if (!r.sid) return own;
    const shared = (storeBySession.get(r.sid) ?? []).filter((c) => c.at <= r.at + r.ms && c.at + (c.ms ?? 60_000) >= r.at);
    return [...new Set([...own, ...shared])];
  };
  for (const p of phases) {
    const pEnd = p.end ?? end;
    const rs = responses.filter((r) => r.phase === p.name);
    let non2xx = 0;
    let unexplained = 0;
    samplesOf.set(p.name, 0);
    const byRow = new Map();
    for (const r of rs) {
      if (r.status >= 200 && r.status < 300) continue;
      non2xx += 1;
      r.reasons = edgeReasons.get(r.id) ?? [];
      r.storeCalls = storeCallsOf(r);
      r.faultsWithin = (graceMs) => faultsAt(r.at, r.at + r.ms, graceMs);
      r.ttl = TTL;
      const row = explain(r);
      if (row) byRow.set(row, (byRow.get(row) ?? 0) + 1);
      else {
        unexplained += 1;
        const kind = `${p.name}: ${r.cls} ${r.status} ${r.error ?? r.netError ?? ''} [${[...new Set(r.reasons)].join(',')}]`;
        unexplainedKinds.set(kind, (unexplainedKinds.get(kind) ?? 0) + 1);
        if (samplesOf.get(p.name) < 5) {
          samplesOf.set(p.name, samplesOf.get(p.name) + 1);
          unexplainedSamples.push({ id: r.id, phase: p.name, cls: r.cls, status: r.status, error: r.error, www: r.www, reasons: r.reasons, faults: r.faults, net: r.netError, reused: r.reused });
        }
      }
    }
    const ended = events.endedByEdge.filter((e) => e.at >= p.start && e.at < pEnd && !e.api);
    const chains = events.endedByEdge.filter((e) => e.at >= p.start && e.at < pEnd && e.api);
    const lostN = ended.filter((e) => e.lost).length;
    const rf = refreshStats(stack.storeProxy.calls, p.start, pEnd);
    const storeCalls = stack.storeProxy.calls.filter((c) => c.at >= p.start && c.at < pEnd).length;
    const lat = (cls) => rs.filter((r) => r.cls === cls && r.status >= 200 && r.status < 400).map((r) => r.ms);
    const pages = lat('page');
    const apis = lat('api');
    rows.push([
      p.name,
      rs.length,
      non2xx,
      non2xx - unexplained,
      unexplained,
      ended.length,
      lostN,
      chains.length,
      rf.ok,
      rf.dup,
      `${f0(pct(pages, 50))}/${f0(pct(pages, 99))}`,
      `${f0(pct(apis, 50))}/${f0(pct(apis, 99))}`,
      f1(storeCalls / ((pEnd - p.start) / 1000)),
      [...byRow].map(([k, v]) => `${k.split(':')[0]} ×${v}`).join('; ') || '-',
    ]);
    if (unexplained) failures.push(`${p.name}: ${unexplained} unexplained non-2xx`);
    if (lostN) failures.push(`${p.name}: ${lostN} sessions lost`);
    if (rf.dup) failures.push(`${p.name}: ${rf.dup} concurrent store calls for one session (single flight)`);
  }
  // Step-ups (README "Second factors and step-up"): every code the store accepted leads to the
  // admin page served, unless a fault was on during the flow.
  const stepRows = [];
  const stepTotals = { begun: 0, accepted: 0, served: 0, notServedFault: 0, notServedNoFault: 0, unjoined: 0 };
  const stepSamples = [];
  for (const p of phases) {
    const flows = events.stepUps.filter((f) => phaseAt(f.start) === p.name);
    const n = { begun: flows.length, challenged: 0, skipped: 0, accepted: 0, answeredMfa: 0, served: 0, notServedFault: 0, notServedNoFault: 0, sessionMfa: 0, sessionNoMfa: 0, unjoined: 0 };
    for (const f of flows) {
      if (f.challenged) n.challenged += 1;
      if (f.outcome === 'skipped') n.skipped += 1;
      if (f.answerMfa) n.answeredMfa += 1;
      if (f.served) n.served += 1;
      if (f.sessionMfa === true) n.sessionMfa += 1;
      if (f.sessionMfa === false) n.sessionNoMfa += 1;
      // The store's answer to the code, joined through the request id the edge sends it.
      f.accepted = (storeByRid.get(f.stepUpId) ?? []).some((c) => c.op === 'totp' && c.status === 200);
      if (f.stepUpStatus === 200 && !f.accepted) n.unjoined += 1;
      if (!f.accepted) continue;
      n.accepted += 1;
      if (f.served) continue;
      if (faultsAt(f.start, f.end ?? end).length) n.notServedFault += 1;
      else {
        n.notServedNoFault += 1;
        if (stepSamples.length < 5) stepSamples.push({ user: f.user, phase: p.name, navigation: f.navigation, outcome: f.outcome, stepUpStatus: f.stepUpStatus, stepUpId: f.stepUpId });
      }
    }
    for (const k of Object.keys(stepTotals)) stepTotals[k] += n[k];
    stepRows.push([p.name, n.begun, n.challenged, n.skipped, n.accepted, n.answeredMfa, n.served, n.notServedFault, n.notServedNoFault, `${n.sessionMfa}/${n.sessionMfa + n.sessionNoMfa}`]);
    if (n.notServedNoFault) failures.push(`${p.name}: ${n.notServedNoFault} step-ups the store accepted led to no admin page, outside any fault`);
    if (n.sessionNoMfa) failures.push(`${p.name}: ${n.sessionNoMfa} stepped-up sessions without mfa in GET /auth/session`);
  }
  const noMfaAnswers = events.stepUps.filter((f) => f.outcome === 'step_up_without_mfa').length;
  if (stepTotals.unjoined) failures.push(`${stepTotals.unjoined} step-ups answered 200 without a store TOTP call seen for them (the join by request id is broken)`);
  if (noMfaAnswers) failures.push(`${noMfaAnswers} step-ups answered 200 without step_up and mfa`);
  if (events.adminWithoutMfa.length) failures.push(`${events.adminWithoutMfa.length} admin pages served without mfa`);
  if (STEPUP_SHARE > 0 && WARM_S >= 10 && stepTotals.served === 0) failures.push('no step-up led to the admin page');
  const revokedAccepted = events.revokedAccepted.length;
  if (revokedAccepted) failures.push(`${revokedAccepted} requests accepted after a logout (bound: 0 s in one isolate)`);
  if (logStats.secretLike) failures.push(`${logStats.secretLike} edge log lines hold a token, password or session id`);
  if (logStats.traps) failures.push(`${logStats.traps} wasm traps`);
  const replays = responses.filter((r) => r.replay).length;
  const refreshedTokens = events.refreshEvents.size;
  const allRf = refreshStats(stack.storeProxy.calls, T0, end);
  const callsPerExpired = allRf.ok / Math.max(1, refreshedTokens);
  if (WARM_S >= 2 * TTL && refreshedTokens === 0) failures.push('no transparent refresh happened');
  if (events.logins === 0) failures.push('no login succeeded');

  out.push(`edge-session load: ${N} users (${Math.round(N / 10)} API clients), scenarios: ${names.join(', ') || 'none'}, access tokens ${TTL} s, ${((end - T0) / 1000).toFixed(0)} s`);
  out.push('');
  out.push(
    table(
      ['phase', 'requests', 'non-2xx', 'explained', 'unexplained', 'sessions ended by edge', 'lost (valid at store)', 'API chains ended', 'store refreshes', 'concurrent refreshes of one session', 'page p50/p99 ms', 'api p50/p99 ms', 'store calls/s', 'README rows'],
      rows,
    ),
  );
  out.push('');
  out.push(`accepted after logout (replays of cookies, navigation, raw Bearer; 0 s and 1.5 s after): ${revokedAccepted} of ${replays}`);
  out.push(`transparent refreshes: ${refreshedTokens} expired access tokens replaced; store session authenticate calls answered and received: ${allRf.ok} (all: ${allRf.total}) → ${f2(callsPerExpired)} store calls per expired token; store calls for one session in flight at once: ${allRf.dup}`);
  out.push(
    `step-ups (TOTP into the admin area, ${Math.round(STEPUP_SHARE * 100)}% of browser sessions): ${stepTotals.begun} begun, ${stepTotals.accepted} codes accepted by the store → ${stepTotals.served} admin pages served; accepted but not served: ${stepTotals.notServedFault} in a fault window, ${stepTotals.notServedNoFault} outside; admin pages served without mfa: ${events.adminWithoutMfa.length}`,
  );
  out.push(`logins ${events.logins} (failed attempts ${events.loginFailures}), logouts ${events.logouts}, refresh grants ${events.grants}, Bearer calls ${events.bearer}; edge log lines ${logStats.lines} (secret-like: ${logStats.secretLike}, traps: ${logStats.traps})`);
  out.push('');
  out.push(
    table(
      ['phase', 'step-ups begun', 'challenged (303/401)', 'skipped (run stopped while waiting for an unused TOTP step)', 'codes accepted by store', 'answered with mfa', 'admin served', 'accepted, not served (fault)', 'accepted, not served (no fault)', 'GET /auth/session amr has mfa'],
      stepRows,
    ),
  );
  out.push('');
  const classes = [...new Set(responses.map((r) => r.cls))];
  out.push(
    table(
      ['request class', 'count', '2xx/3xx', 'p50 ms', 'p99 ms'],
      classes.map((c) => {
        const rs = responses.filter((r) => r.cls === c);
        const ok = rs.filter((r) => r.status >= 200 && r.status < 400);
        return [c, rs.length, ok.length, f1(pct(ok.map((r) => r.ms), 50)), f1(pct(ok.map((r) => r.ms), 99))];
      }),
    ),
  );
  out.push('');
  const ops = new Map();
  for (const c of stack.storeProxy.calls) {
    const o = ops.get(c.op) ?? { n: 0, ok: 0, do: 0, sql: 0, m: 0, ms: [] };
    o.n += 1;
    if (c.status >= 200 && c.status < 300) o.ok += 1;
    if (c.metrics) {
      o.m += 1;
      o.do += c.metrics.do_calls ?? 0;
      o.sql += c.metrics.sql_statements ?? 0;
    }
    if (c.status >= 200 && c.status < 300 && c.ms) o.ms.push(c.ms);
    ops.set(c.op, o);
  }
  const secs = (end - T0) / 1000;
  out.push(
    table(
      ['store operation', 'calls', 'calls/s', '2xx', 'DO calls/op', 'SQL statements/op', 'p50 ms', 'p99 ms'],
      [...ops].map(([op, o]) => [op, o.n, f1(o.n / secs), o.ok, o.m ? f2(o.do / o.m) : '-', o.m ? f2(o.sql / o.m) : '-', f1(pct(o.ms, 50)), f1(pct(o.ms, 99))]),
    ),
  );
  out.push('');
  out.push(
    `argon2id: a login at the production cost (m=19456 KiB, t=2, p=1) takes ${f0(calib.prodMs)} ms end to end one at a time (fastest of 8), ${f0(calib.cheapMs)} ms at the load cost (m=8 KiB, t=1): argon2id ≈ ${f0(calib.argon2Ms)} ms of CPU per login → ≈ ${f1(1000 / calib.argon2Ms)} logins/s per core (one verification at a time per core); the run's logins: ${f1(events.logins / secs)}/s`,
  );
  if (unexplainedKinds.size) {
    out.push('');
    out.push('unexplained, by kind:');
    for (const [k, v] of unexplainedKinds) out.push(`  ${v} × ${k}`);
  }
  if (unexplainedSamples.length) {
    out.push('');
    out.push('unexplained samples:');
    for (const s of unexplainedSamples) out.push(`  ${JSON.stringify(s)}`);
  }
  if (stepSamples.length) out.push(`step-ups accepted, no admin page: ${JSON.stringify(stepSamples)}`);
  if (events.adminWithoutMfa.length) out.push(`admin pages without mfa: ${JSON.stringify(events.adminWithoutMfa.slice(0, 5))}`);
  if (events.revokedAccepted.length) out.push(`accepted after logout: ${JSON.stringify(events.revokedAccepted.slice(0, 5))}`);
  const lostSamples = events.endedByEdge.filter((e) => e.lost).slice(0, 5);
  if (lostSamples.length) out.push(`lost sessions: ${JSON.stringify(lostSamples)}`);
  if (logStats.samples.length) out.push(`secret-like log lines: ${JSON.stringify(logStats.samples)}`);
  out.push('');
  out.push(failures.length ? `INVARIANTS FAILED:\n  ${failures.join('\n  ')}` : 'every invariant holds');
  return { text: out.join('\n'), failures };
}

// ------------------------------------------------------------------------------------------

async function main() {
  // Every load user enrolled for TOTP with 20 random bytes of its own, made for this run.
  const users = [];
  for (let i = 0; i < N + 8; i++) users.push({ username: `load-${i}`, userId: `user-load-${i}`, totpSecret: crypto.randomBytes(20) });
  const t = now();
  const restarts = ['key_rotation', 'edge_restart', 'jwks_down', 'jwks_hang'];
  stack = await startStack({ users, ttl: TTL, onEdgeLog, cheapHash: CHEAP_HASH, persist: names.some((n) => restarts.includes(n)) });
  console.error(`load: stack up in ${((now() - t) / 1000).toFixed(1)} s (edge ${stack.edgeUrl}); calibrating argon2id`);
  const calib = await calibrate();
  const apiEvery = 10;
  const lives = [];
  phase.start = now();
  for (let i = 0; i < N; i++) lives.push((i % apiEvery === apiEvery - 1 ? new ApiClient(i) : new Browser(i, users[i].totpSecret)).live());
  console.error(`load: ${N} users started; warm ${WARM_S} s`);
  await sleep(WARM_S * 1000);
  for (const name of names) {
    phase.end = now();
    phase = { name, start: now() };
    phases.push(phase);
    const f = { name, start: now() };
    activeFaults.push(f);
    console.error(`load: scenario ${name}`);
    const t1 = now();
    await SCENARIOS[name](stack, { ttl: TTL });
    f.end = now();
    console.error(`load: scenario ${name} took ${((f.end - t1) / 1000).toFixed(1)} s; recovering ${RECOVER_S} s`);
    await sleep(RECOVER_S * 1000);
  }
  phase.end = now();
  phase = { name: 'logout', start: now() };
  phases.push(phase);
  stopping = true;
  stopNow();
  console.error('load: stopping (every browser logs out)');
  // Browsers finish their page view and log out; bounded (a minute, or N/25 s for large N).
  const stopMs = Math.max(60, N / 25) * 1000;
  await Promise.race([Promise.allSettled(lives), sleep(stopMs)]);
  phase.end = now();
  await lostAtStore(events.endedByEdge);
  const { text, failures } = report(calib);
  console.log(text);
  if (opt.out) {
    fs.writeFileSync(opt.out, `${text}\n`);
    fs.writeFileSync(`${opt.out}.json`, JSON.stringify({ opt, calib, phases, events: { ...events, refreshEvents: events.refreshEvents.size }, logStats }, null, 1));
  }
  await stack.close();
  process.exit(failures.length ? 1 : 0);
}

main().catch(async (e) => {
  console.error(e);
  await stack?.close().catch(() => {});
  process.exit(2);
});
