// Demo application behind edge-session. It never sees a token or the edge's cookies: the edge
// verifies the access token and forwards the identity, signed, in its Edge-Assertion header.
// The demo believes only that assertion (verified with the Hono example's verifier,
// examples/hono/edge-identity.js): X-Auth-* headers are what anyone who reaches the demo
// directly can send, so they are never read here.
//
// Vars: EDGE_JWKS (the edge's public JWKS, inline) or EDGE_JWKS_URL (the edge's /auth/jwks);
// EDGE_ISSUER (the edge's ASSERTION_ISSUER, default edge-session); EDGE_AUDIENCE (default: the
// origin the demo is reached at, which is the edge's UPSTREAM when the edge is its only caller).
import { assertionOf, createAssertionVerifier } from '../examples/hono/edge-identity.js';

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const escape = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// One verifier per audience, for the isolate's life (a remote key set is cached inside it).
const verifiers = new Map();

function verifierFor(env, audience) {
  let verify = verifiers.get(audience);
  if (!verify) {
    const keys = env.EDGE_JWKS ? { jwks: JSON.parse(env.EDGE_JWKS) } : { jwksUrl: env.EDGE_JWKS_URL };
    verify = createAssertionVerifier({ ...keys, issuer: env.EDGE_ISSUER || undefined, audience });
    verifiers.set(audience, verify);
  }
  return verify;
}

/** The identity of the request's valid assertion, or null (no assertion, or a bad one). */
async function identity(request, env) {
  const token = assertionOf(request.headers);
  if (!token) return null;
  if (!env.EDGE_JWKS && !env.EDGE_JWKS_URL) {
    console.error(JSON.stringify({ level: 'error', reason: 'demo_no_edge_jwks' }));
    return null;
  }
  try {
    const audience = env.EDGE_AUDIENCE || new URL(request.url).origin;
    const id = await verifierFor(env, audience)(token);
    return { subject: id.subject, session: id.session, roles: id.roles, client: id.client, amr: id.amr ?? [] };
  } catch (err) {
    console.log(JSON.stringify({ level: 'info', reason: 'demo_assertion_refused', code: err.code ?? 'error' }));
    return null;
  }
}

/** A WebSocket that echoes every message back, prefixed with who sent it. */
function echoSocket(id) {
  const [client, server] = Object.values(new WebSocketPair());
  server.accept();
  server.addEventListener('message', (event) => server.send(`${id.subject}: ${event.data}`));
  // Answer the client's close, so the request ends (workerd reports a hung request otherwise).
  server.addEventListener('close', (event) => server.close(event.code === 1005 ? 1000 : event.code, 'bye'));
  return new Response(null, { status: 101, webSocket: client });
}

function layout(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
input,button{font:inherit;padding:.4rem .6rem;margin:.2rem 0}label{display:block}
code{background:#f3f3f3;padding:0 .2rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}
#error{color:#a00}</style></head><body>${body}<script src="/static/app.js"></script></body></html>`;
}

const LOGIN = layout('Sign in', `<h1>edge-session demo</h1>
<p>Sign in as a seeded demo user: <code>alice</code> / <code>alice-dev-password</code> or
<code>bob</code> / <code>bob-dev-password</code>.</p>
<form id="login"><label>Username <input name="username" id="username" autocomplete="username" required></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="sign-in">Sign in</button></form><p id="error" role="alert"></p>
<p><a href="/app">Go to the protected page</a></p>`);

function appPage(id) {
  return layout('Your session', `<h1>Signed in</h1>
<p>Subject: <strong id="subject">${escape(id.subject)}</strong></p>
<p>Roles: <span id="roles">${escape(id.roles.join(', '))}</span></p>
<p>Session: <code id="session">${escape(id.session ? 'present' : 'none')}</code></p>
<h2>Your sessions</h2><table id="sessions"><thead><tr><th>id</th><th>started</th><th>expires</th><th></th></tr></thead><tbody></tbody></table>
<p><a href="/admin" id="admin-link">Admin area</a> (needs a second factor)</p>
<p><button id="logout">Log out</button> <button id="logout-all">Log out everywhere</button></p>
<p id="error" role="alert"></p>`);
}

// The step-up page (STEP_UP_PATH): the edge sends a navigation here, with return_to, when a
// route policy wants a second factor. In local development the code comes from the published
// DEV-ONLY secrets through scripts/dev-totp.mjs (no secret in this bundle: the deploy check
// refuses a dev secret in any bundle).
const DEV_TOTP = 'node scripts/dev-totp.mjs alice';

function stepUpPage(id) {
  return layout('Confirm it is you', `<h1>Confirm it is you</h1>
<p>Signed in as <strong id="subject">${escape(id.subject)}</strong> with <span id="amr">${escape(id.amr.join(', ') || 'unknown')}</span>.
The admin area needs a second factor: enter the 6-digit code of your authenticator app.</p>
<form id="totp-form"><label>Code <input name="code" id="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required></label>
<button type="submit" id="verify">Verify</button></form><p id="error" role="alert"></p>
<details id="dev-help" open><summary>Local development: where is the code?</summary>
<p>The demo users' TOTP secrets are DEV ONLY and published in
<code>session-store/.dev.vars.example</code> (alice's is RFC 6238's test secret); add one to an
authenticator app, or print the current code from the repository with</p>
<pre><code id="dev-command">${escape(DEV_TOTP)}</code></pre></details>`);
}

function adminPage(id) {
  return layout('Admin area', `<h1>Admin area</h1>
<p>Subject: <strong id="subject">${escape(id.subject)}</strong></p>
<p>Authentication methods: <span id="amr">${escape(id.amr.join(', '))}</span></p>
<p><a href="/app">Back</a></p>`);
}

const APP_JS = `
const $ = (id) => document.getElementById(id);
async function post(path, body) {
  const init = { method: 'POST', credentials: 'same-origin', headers: {} };
  if (body) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  return fetch(path, init);
}
const form = $('login');
if (form) form.addEventListener('submit', async (e) => {
  e.preventDefault();
  $('error').textContent = '';
  const r = await post('/auth/login', { username: $('username').value, password: $('password').value });
  if (r.ok) { location.assign('/app'); } else { $('error').textContent = 'Sign-in failed (' + r.status + ')'; }
});
const totp = $('totp-form');
if (totp) totp.addEventListener('submit', async (e) => {
  e.preventDefault();
  $('error').textContent = '';
  const r = await post('/auth/login', { method: 'totp', code: $('code').value });
  // Only a plain local path is followed (the edge checked return_to too).
  const back = new URLSearchParams(location.search).get('return_to');
  const local = back && back.startsWith('/') && !back.startsWith('//') && !back.includes('\\\\');
  if (r.ok) { location.assign(local ? back : '/admin'); } else { $('error').textContent = 'Verification failed (' + r.status + ')'; }
});
const table = $('sessions');
if (table) {
  fetch('/auth/sessions', { credentials: 'same-origin' }).then((r) => r.ok ? r.json() : { sessions: [] }).then((d) => {
    const tbody = table.querySelector('tbody');
    for (const s of d.sessions) {
      const tr = document.createElement('tr');
      for (const v of [s.id, s.start_time, s.expiration_time]) {
        const td = document.createElement('td'); td.textContent = v || ''; tr.appendChild(td);
      }
      const last = document.createElement('td');
      if (s.current) {
        last.textContent = 'this browser';
      } else {
        // "Log out other devices": ends that session at the store and at the edge.
        const b = document.createElement('button');
        b.className = 'end-session'; b.dataset.id = s.id; b.textContent = 'Log out';
        b.addEventListener('click', async () => {
          const r = await fetch('/auth/sessions/' + encodeURIComponent(s.id), { method: 'DELETE', credentials: 'same-origin' });
          if (r.ok) { tr.remove(); } else { $('error').textContent = 'Could not end that session (' + r.status + ')'; }
        });
        last.appendChild(b);
      }
      tr.appendChild(last);
      tbody.appendChild(tr);
    }
  });
  $('logout').addEventListener('click', async () => { await post('/auth/logout'); location.assign('/'); });
  $('logout-all').addEventListener('click', async () => { await post('/auth/logout-all'); location.assign('/'); });
}
`;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/':
        return new Response(LOGIN, { headers: PAGE_HEADERS });
      case '/static/app.js':
        return new Response(APP_JS, {
          headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' },
        });
      case '/app': {
        const id = await identity(request, env);
        if (!id) return new Response('not authenticated', { status: 401 });
        return new Response(appPage(id), { headers: PAGE_HEADERS });
      }
      case '/step-up': {
        const id = await identity(request, env);
        if (!id) return new Response('not authenticated', { status: 401 });
        return new Response(stepUpPage(id), { headers: PAGE_HEADERS });
      }
      case '/admin': {
        // The edge let this through only with mfa (ROUTE_POLICIES); the app checks again.
        const id = await identity(request, env);
        if (!id) return new Response('not authenticated', { status: 401 });
        if (!id.amr.includes('mfa')) return new Response('second factor required', { status: 403 });
        return new Response(adminPage(id), { headers: PAGE_HEADERS });
      }
      case '/api/me': {
        const id = await identity(request, env);
        return id ? Response.json(id) : Response.json({ error: 'unauthorized' }, { status: 401 });
      }
      case '/api/echo': {
        const id = await identity(request, env);
        if (!id) return Response.json({ error: 'unauthorized' }, { status: 401 });
        if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
          return new Response('a WebSocket endpoint', { status: 426, headers: { upgrade: 'websocket' } });
        }
        return echoSocket(id);
      }
      case '/favicon.ico':
        return new Response(null, { status: 204 });
      default:
        return new Response('not found', { status: 404 });
    }
  },
};
