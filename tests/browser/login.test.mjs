// A real browser (Debian chromium, driven by playwright-core) logs in through the demo page
// served by the whole local stack (`wrangler dev` with the edge, the session store and the
// demo app, as scripts/dev.sh runs it), checks the cookies the browser stored, reaches the
// protected page, logs out, and is refused afterwards, also when it replays the old cookies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { parseEnv } from 'node:util';
import { chromium } from 'playwright-core';
import { unstable_readConfig } from 'wrangler';

import { run as scan, logLine, secretsOfBindings } from '../log-scan.mjs';

const ROOT = new URL('../..', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let stack;
let browser;
let base;
let persist;
let log = '';

before(async () => {
  assert.ok(existsSync(join(ROOT, 'build/worker/shim.mjs')), 'build the workers first (scripts/build.sh)');
  const port = await freePort();
  const inspector = await freePort();
  persist = mkdtempSync(join(tmpdir(), 'edge-session-browser-'));
  base = `http://localhost:${port}`;
  // The workers' dev secrets, as scripts/dev.sh gives them: each worker's .dev.vars from its
  // .dev.vars.example (kept when present), which wrangler dev reads.
  execFileSync(process.execPath, ['scripts/dev-vars.mjs'], { cwd: ROOT, stdio: 'inherit' });
  // The secrets of this stack, for the scan of its output (tests/log-scan.mjs): each worker's
  // .dev.vars (its secrets) and [vars], and the demo users' passwords.
  for (const dir of ['.', 'session-store', 'demo']) {
    secretsOfBindings(unstable_readConfig({ config: join(ROOT, dir, 'wrangler.toml') }).vars);
    const devVars = join(ROOT, dir, '.dev.vars');
    if (existsSync(devVars)) secretsOfBindings(parseEnv(readFileSync(devVars, 'utf8')));
  }
  scan.secret('alice-dev-password', 'password alice');
  stack = spawn(
    'npx',
    [
      'wrangler', 'dev',
      '-c', 'wrangler.toml', '-c', 'session-store/wrangler.toml', '-c', 'demo/wrangler.toml',
      '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
      '--persist-to', persist, '--show-interactive-dev-session=false',
    ],
    {
      cwd: ROOT,
      detached: true,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        CI: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`wrangler dev did not start:\n${log.slice(-3000)}`)), 240_000);
    const rest = new Map();
    const onData = (stream) => (d) => {
      log += d.toString();
      const lines = ((rest.get(stream) ?? '') + d.toString()).split('\n');
      rest.set(stream, lines.pop());
      // Every line of the stack's output is scanned, wrangler's own (its binding table) too.
      for (const line of lines) logLine('wrangler dev', 'raw', line);
      if (/Ready on http/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    stack.stdout.on('data', onData('stdout'));
    stack.stderr.on('data', onData('stderr'));
    stack.once('exit', (code) => reject(new Error(`wrangler dev exited ${code}:\n${log.slice(-3000)}`)));
  });
  await ready;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP localhost 127.0.0.1',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (stack && stack.exitCode === null) {
    try { process.kill(-stack.pid, 'SIGTERM'); } catch { /* already gone */ }
    await new Promise((r) => setTimeout(r, 500));
    try { process.kill(-stack.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  if (persist) rmSync(persist, { recursive: true, force: true });
});

const edgeCookies = (cookies) => cookies.filter((c) => c.name.startsWith('__Host-'));

test('log in through the demo page, browse, log out, and stay out', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();

  // Not signed in: a navigation to the protected page is sent to the login page.
  await page.goto(`${base}/app`);
  assert.equal(new URL(page.url()).pathname, '/');

  await page.fill('#username', 'alice');
  await page.fill('#password', 'alice-dev-password');
  await Promise.all([page.waitForURL(`${base}/app`), page.click('#sign-in')]);
  assert.equal(await page.textContent('#subject'), 'user-alice');

  // The browser stored exactly the two edge cookies with the policy's attributes.
  const cookies = edgeCookies(await context.cookies(base));
  for (const c of cookies) scan.secret(c.value, `browser cookie ${c.name}`);
  assert.deepEqual(cookies.map((c) => c.name).sort(), ['__Host-access', '__Host-session']);
  for (const c of cookies) {
    assert.equal(c.httpOnly, true, `${c.name} HttpOnly`);
    assert.equal(c.secure, true, `${c.name} Secure`);
    assert.equal(c.sameSite, 'Strict', `${c.name} SameSite`);
    assert.equal(c.path, '/', `${c.name} Path`);
    assert.equal(c.domain, 'localhost', `${c.name} host-only`);
    assert.equal(c.expires, -1, `${c.name} is a session cookie (no Max-Age/Expires)`);
    assert.ok(c.name.length + c.value.length < 4096);
  }
  // HttpOnly: page script cannot read them.
  assert.equal(await page.evaluate(() => document.cookie.includes('__Host-')), false);

  // The session list shows this browser's session.
  await page.waitForSelector('#sessions tbody tr');
  assert.match(await page.textContent('#sessions tbody'), /this browser/);

  // A protected API call works with the cookies alone.
  const me = await page.evaluate(async () => (await fetch('/api/me')).json());
  assert.equal(me.subject, 'user-alice');

  // The browser's own WebSocket, through the edge to the demo's echo (5 s bound).
  const echoed = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/api/echo`);
        const timer = setTimeout(() => resolve('timeout'), 5000);
        ws.onopen = () => ws.send('hi');
        ws.onmessage = (e) => (clearTimeout(timer), ws.close(), resolve(e.data));
        ws.onerror = () => (clearTimeout(timer), resolve('error'));
      }),
  );
  assert.equal(echoed, 'user-alice: hi');

  const stolen = cookies.map((c) => ({ ...c }));
  await Promise.all([page.waitForURL(`${base}/`), page.click('#logout')]);
  assert.equal(edgeCookies(await context.cookies(base)).length, 0, 'logout cleared the cookies');

  await page.goto(`${base}/app`);
  assert.equal(new URL(page.url()).pathname, '/', 'the protected page now redirects to login');
  const status = await page.evaluate(async () => (await fetch('/api/me')).status);
  assert.equal(status, 401);

  // Replaying the pre-logout cookies does not get back in: the edge refuses the revoked session.
  await context.addCookies(stolen);
  const replay = await page.evaluate(async () => (await fetch('/api/me')).status);
  assert.equal(replay, 401, 'replayed cookies refused after logout');
  await context.close();
});

test("log out another device from the session list (the demo's button, DELETE /auth/sessions/{handle})", async () => {
  const signIn = async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.fill('#username', 'bob');
    await page.fill('#password', 'bob-dev-password');
    await Promise.all([page.waitForURL(`${base}/app`), page.click('#sign-in')]);
    return { context, page };
  };
  const phone = await signIn();
  const laptop = await signIn();
  const status = (device) => device.page.evaluate(async () => (await fetch('/api/me')).status);
  assert.equal(await status(phone), 200);

  // The laptop's list: its own session ("this browser") and the phone's, with a button.
  await laptop.page.waitForSelector('#sessions .end-session');
  const buttons = await laptop.page.$$('#sessions .end-session');
  assert.equal(buttons.length, 1, 'one other session of bob');
  await Promise.all([
    laptop.page.waitForSelector('#sessions .end-session', { state: 'detached' }),
    buttons[0].click(),
  ]);
  assert.equal(await status(phone), 401, "the phone's session ended at once");
  assert.equal(await status(laptop), 200, 'the laptop stays signed in');
  await phone.context.close();
  await laptop.context.close();
});

test('the admin area: password, the step-up challenge, the TOTP page, then the admin page with mfa', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.fill('#username', 'alice');
  await page.fill('#password', 'alice-dev-password');
  await Promise.all([page.waitForURL(`${base}/app`), page.click('#sign-in')]);

  // The admin area wants a second factor (ROUTE_POLICIES in wrangler.toml): the navigation
  // is sent to the step-up page with the path to return to.
  await Promise.all([page.waitForURL(/\/step-up\?return_to=%2Fadmin$/), page.click('#admin-link')]);
  assert.equal(await page.textContent('#amr'), 'pwd');
  // A fetch (not a navigation) gets the RFC 9470 challenge instead.
  const challenge = await page.evaluate(async () => {
    const r = await fetch('/admin');
    return { status: r.status, auth: r.headers.get('www-authenticate') };
  });
  assert.equal(challenge.status, 401);
  assert.match(challenge.auth, /error="insufficient_user_authentication"/);
  assert.match(challenge.auth, /acr_values="mfa"/);

  // The page says how to compute the dev code: run its command, as a developer would.
  const command = await page.textContent('#dev-command');
  assert.equal(command, 'node scripts/dev-totp.mjs alice');
  const code = execFileSync(process.execPath, command.split(' ').slice(1), { cwd: ROOT, encoding: 'utf8' }).trim();
  assert.match(code, /^\d{6}$/);
  await page.fill('#code', code);
  await Promise.all([page.waitForURL(`${base}/admin`), page.click('#verify')]);
  assert.equal(await page.textContent('h1'), 'Admin area');
  assert.equal(await page.textContent('#amr'), 'pwd, otp, mfa');

  // The session now holds both factors and mfa.
  const session = await page.evaluate(async () => (await fetch('/auth/session')).json());
  assert.deepEqual(session.amr, ['pwd', 'otp', 'mfa']);

  // The same code again is refused (used once).
  const replay = await page.evaluate(async (c) => (await fetch('/auth/login', {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'totp', code: c }),
  })).status, code);
  assert.equal(replay, 401);
  await context.close();
});
