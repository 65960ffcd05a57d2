// A fake session store on 127.0.0.1 shaped like Transmit Security's backend session API
// (/work/shared/TRANSMIT_API.md): the endpoints the edge uses, real session semantics, counters,
// a record of calls and failure injection. Two profiles of one implementation:
//
//   transmit  (the default) what Transmit documents: base path /cis, RS256 keys (a current and a
//             previous one in the JWKS; RSA, `use: sig`, `kid`, no `alg`), access tokens with
//             header `typ: JWT`, claims sub iss iat exp aud scope roles tid client_id app_name
//             app_id jti and NO `sid`, NO `amr` (the ID token carries amr and auth_time), issuer
//             https://userid.security, audience `resource` or `userid-api`, 1 h tokens, opaque
//             user ids.
//   sid       the shape of this repo's reference store, kept for the older fake-store tests:
//             ES256, `typ: at+jwt`, a `sid` claim, the edge test harness's ISSUER/AUDIENCE, 300 s
//             tokens, user ids `user-<name>`, no base path.
//
// Session semantics (both profiles):
//   - a backend authentication without `session_id` creates a session; with one it adds the
//     authentication to that session (same user only, else an error);
//   - a session lives `opts.sessionTtl` (2 weeks) and is extended whenever new access tokens are
//     issued for it by an authentication or session authenticate (a refresh does not extend it);
//     an expired session is gone ("Session not found");
//   - refresh tokens are opaque, rotate on every use (the used one is dead), live at most
//     `opts.refreshMax` from the chain's start and die with their session;
//   - logout deletes the session and revokes its refresh tokens; revoke-all does so for each of
//     the user's sessions; access tokens already issued stay valid until they expire;
//   - every call but /oidc/token, the JWKS and discovery needs a live ClientAccessToken (401).
//
// Errors are Transmit's `{message, error_code}` with the documented variety (a string or an
// array message; a numeric or a string code), mixed across endpoints:
//   missing/unknown ClientAccessToken   401 {message: "Unauthorized", error_code: 401}
//   /oidc/token bad client              401 {message: "Invalid client credentials", error_code: "invalid_client"}
//   bad request body                    400 {message: ["username must be a string", ...], error_code: 400}
//   wrong password                      401 {message: "Invalid credentials", error_code: "auth_invalid_credentials"}
//   unknown username                    404 {message: "User not found", error_code: "user_not_found"}
//   locked user                         403 {message: "User is locked", error_code: "auth_locked"}
//   login onto an unknown session       400 {message: "Session not found", error_code: 400}
//   login onto another user's session   400 {message: ["session_id belongs to another user"], error_code: "invalid_session"}
//   session authenticate, gone session  400 {message: "Session not found", error_code: 400}
//   refresh with a dead refresh token   401 {message: ["Refresh token is invalid or expired"], error_code: 401}
//   logout of an unknown session        400 {message: ["Session not found"], error_code: "session_not_found"}
//   list / revoke-all, unknown user     404 {message: "User not found", error_code: "user_not_found"}
//   wrong or replayed TOTP code         401 {message: "Invalid credentials", error_code: "auth_invalid_credentials"}
//   wrong or used one-time passcode     401 {message: "Invalid credentials", error_code: "auth_invalid_credentials"}
//   expired one-time passcode           401 {message: "Passcode expired", error_code: "auth_otp_passcode_expired"}
//
// Second factors (Transmit's backend TOTP and one-time login): every user has a TOTP secret
// (`u.totpSecret`, raw bytes; RFC 6238 SHA-1, 6 digits, 30 s, one step of drift, a step good
// once) and an email `<name>@example.test`. `/v1/auth/otp/send` takes channel `direct` (the code
// in the answer) or `email` (the code lands in `fs.outbox[name]`), 5 minutes, 5 wrong guesses.
// Each adds its amr (`otp` for TOTP, `eotp` for the passcode, `mfa` once two factors) to the
// session it joins: in the ID token only, as Transmit's access tokens carry no amr.
//   unknown route                       404 {message: "Cannot GET /x", error_code: 404}
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import { ISSUER, AUDIENCE, genKey, mint, now, rid, sleep } from '../edge/harness.mjs';
import { run as scan, secretsOfRequest } from '../log-scan.mjs';
import { totpAt, stepNow } from '../totp.mjs';

/** The store API's paths and the stores' shapes, from the protocol crate (protocol/wire.json). */
export const WIRE = JSON.parse(readFileSync(new URL('../../protocol/wire.json', import.meta.url), 'utf8'));

const P = WIRE.paths;

/** The path of a user's sessions (the protocol's `paths::user_sessions`, id encoded as one segment). */
export const userSessionsPath = (userId) => `${P.users_prefix}${encodeURIComponent(userId)}${P.sessions_suffix}`;

/** The still-encoded user id of a user-sessions path (one non-empty segment), else undefined. */
function userSegment(path) {
  if (!path.startsWith(P.users_prefix) || !path.endsWith(P.sessions_suffix)) return undefined;
  const seg = path.slice(P.users_prefix.length, path.length - P.sessions_suffix.length);
  return seg && !seg.includes('/') ? seg : undefined;
}

export const TRANSMIT_ISSUER = 'https://userid.security';
export const TRANSMIT_AUDIENCE = 'userid-api';
export const CLIENT_ID = 'edge-test-client';
export const CLIENT_SECRET = 'edge-test-client-secret-0123456789';
scan.secret(CLIENT_SECRET, 'fake store CLIENT_SECRET');

const PROFILES = {
  transmit: {
    keyKind: 'rsa',
    typ: 'JWT',
    issuer: TRANSMIT_ISSUER,
    audience: TRANSMIT_AUDIENCE,
    basePath: '/cis',
    opts: { sid: false, ttl: 3600 },
    userId: () => rid(12), // Transmit user ids are opaque
    sessionId: () => crypto.randomBytes(18).toString('base64url'),
    // What this profile answers, in the protocol's terms (tests/store/contract.test.mjs).
    shape: WIRE.shapes.transmit,
  },
  sid: {
    keyKind: 'ec',
    typ: 'at+jwt',
    issuer: ISSUER,
    audience: AUDIENCE,
    basePath: '',
    opts: { sid: true, ttl: 300 },
    userId: (name) => `user-${name}`,
    sessionId: () => `sess-${rid(12)}`,
    // The reference store's tokens (a `sid` claim) and no base path, with Transmit's answers
    // otherwise (its error bodies and statuses, no reuse detection, no session_id on refresh):
    // the fake-store suites assert those error shapes in both profiles.
    shape: { ...WIRE.shapes.transmit, name: 'transmit answers, reference tokens (sid profile)', base_path: '', sid_claim: true },
  },
};

/** What each profile answers, in the protocol's terms: `transmit` and `sid` → a WIRE.shapes-like object. */
export const FAKE_SHAPES = Object.fromEntries(Object.entries(PROFILES).map(([name, p]) => [name, p.shape]));

const DEFAULT_OPTS = {
  idToken: true,
  refreshTokens: true,
  sessionTtl: 1209600,
  refreshMax: 1209600,
  clientTokenTtl: 3600,
  // What a login with another user's session id does: 'reject' (the documented rule), or a
  // broken store's 'new-session' / 'same-session' (for the edge's own check).
  stepUpOtherUser: 'reject',
};

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

const iso = (secs) => new Date(secs * 1000).toISOString();
const dropUndefined = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * Starts the fake. Returns `fs` with:
 *   fs.profile, fs.shape (the protocol's facts this profile follows: WIRE.shapes), fs.issuer, fs.audience, fs.url (origin), fs.baseUrl (origin + base path:
 *     the edge's SESSION_STORE_URL), fs.jwksUrl, fs.key (signing key), fs.keys (JWKS keys)
 *   fs.users: username → { password, sub, roles, locked }; fs.addUser(name, password, roles)
 *   fs.subOf(username), fs.usersBySub(sub)
 *   fs.sessions: session id → { sub, amr, start, expires, authTime }; fs.expireSession(id)
 *   fs.refreshTokens: token → { sessionId, sub, chainStart, used }
 *   fs.clientTokens: ClientAccessToken → expiry (seconds)
 *   fs.opts: { sid, ttl, idToken, refreshTokens, sessionTtl, refreshMax, clientTokenTtl,
 *              stepUpOtherUser }; fs.reset() restores the profile's defaults
 *   fs.fail[endpoint] = { delay, status, retryAfter, body, contentType, reset, once }
 *     endpoint: 'token' | 'password' | 'totp' | 'otpSend' | 'otpAuth' | 'session' | 'refresh'
 *               | 'logout' | 'list' | 'revokeAll' | 'jwks' | 'discovery' | 'other'
 *   fs.calls (every call: { endpoint, method, path, body, headers, at, and unless a failure was
 *     injected: status, response }), fs.count(endpoint)
 *   fs.issued (every token answer: { sessionId, body }): raw tokens for tests, never from cookies
 *   fs.accessToken(sessionId, claimOverrides) an access token the store would issue now
 *   fs.close()
 */
export async function startTransmitStore({ profile = 'transmit' } = {}) {
  const p = PROFILES[profile];
  if (!p) throw new Error(`unknown fake store profile ${profile}`);
  const key = genKey(p.keyKind, { kid: `${profile}-${rid(4)}` });
  const previous = profile === 'transmit' ? genKey('rsa', { kid: `${profile}-prev-${rid(4)}` }) : undefined;
  // Transmit documents RSA keys with `use` and `kid`; `alg` is left out (the key type fixes it).
  const publish = (k) => {
    const jwk = { ...k.jwk };
    if (profile === 'transmit') delete jwk.alg;
    return jwk;
  };
  const tenant = `tid-${rid(6)}`;
  const appId = `app-${rid(6)}`;

  const fs = {
    profile,
    shape: p.shape,
    issuer: p.issuer,
    audience: p.audience,
    key,
    keys: [key, previous].filter(Boolean).map(publish),
    users: new Map(),
    sessions: new Map(),
    refreshTokens: new Map(),
    clientTokens: new Map(),
    opts: { ...DEFAULT_OPTS, ...p.opts },
    fail: {},
    calls: [],
    issued: [],
    count(endpoint) {
      return this.calls.filter((c) => c.endpoint === endpoint).length;
    },
    reset() {
      this.calls.length = 0;
      this.issued.length = 0;
      this.fail = {};
      this.opts = { ...DEFAULT_OPTS, ...p.opts };
    },
    outbox: {},
    addUser(name, password, roles = ['user']) {
      scan.secret(password, `password ${name}`);
      const totpSecret = Buffer.from(`${name}-fake-totp-secret-0123456789`).subarray(0, 20);
      const u = { password, sub: p.userId(name), roles, locked: false, email: `${name}@example.test`, totpSecret, lastStep: -1, otp: undefined };
      this.users.set(name, u);
      return u;
    },
    subOf(name) {
      return this.users.get(name)?.sub;
    },
    usersBySub(sub) {
      return [...this.users.values()].find((u) => u.sub === sub);
    },
    expireSession(id) {
      const s = this.sessions.get(id);
      if (s) s.expires = now() - 1;
    },
    /** An access token for a session (what the store would issue now), with claim overrides. */
    accessToken(sessionId, over = {}, { resource } = {}) {
      const s = this.sessions.get(sessionId);
      const t = now();
      const u = this.usersBySub(s.sub);
      const claims =
        profile === 'transmit'
          ? {
              sub: s.sub,
              iss: p.issuer,
              iat: t,
              exp: t + this.opts.ttl,
              aud: resource ?? p.audience,
              scope: 'openid offline_access',
              roles: u?.roles ?? [],
              tid: tenant,
              client_id: CLIENT_ID,
              app_name: 'edge-session tests',
              app_id: appId,
              jti: rid(12),
              sid: this.opts.sid ? sessionId : undefined,
            }
          : {
              iss: p.issuer,
              sub: s.sub,
              aud: resource ?? p.audience,
              exp: t + this.opts.ttl,
              iat: t,
              jti: rid(),
              client_id: CLIENT_ID,
              sid: this.opts.sid ? sessionId : undefined,
              roles: u?.roles ?? [],
              scope: 'openid profile',
            };
      return mint({ key, header: { typ: p.typ }, rawPayload: dropUndefined({ ...claims, ...over }) });
    },
  };
  fs.addUser('alice', 'alice-pw', ['admin', 'user']);
  fs.addUser('bob', 'bob-pw', ['user']);
  // carol is only used by logout-all tests: a user-wide revocation refuses every token issued
  // up to its second, including a login in that same second.
  fs.addUser('carol', 'carol-pw', ['user']);

  const idToken = (sessionId) => {
    const s = fs.sessions.get(sessionId);
    const t = now();
    return mint({
      key,
      header: { typ: 'JWT' },
      rawPayload: dropUndefined({
        sub: s.sub,
        tid: profile === 'transmit' ? tenant : undefined,
        aud: CLIENT_ID,
        exp: t + fs.opts.ttl,
        iat: t,
        iss: p.issuer,
        auth_time: s.authTime,
        amr: s.amr,
        acr: profile === 'transmit' ? 'urn:transmit:pwd' : undefined,
        sid: profile === 'sid' && fs.opts.sid ? sessionId : undefined,
      }),
    });
  };

  const newRefreshToken = (sessionId, chainStart = now()) => {
    const token = crypto.randomBytes(32).toString('base64url');
    fs.refreshTokens.set(token, { sessionId, sub: fs.sessions.get(sessionId).sub, chainStart, used: false });
    return token;
  };

  /** ApiTokenResponse for a session (login, session authenticate); extends the session. */
  const apiTokens = (sessionId, resource) => {
    const s = fs.sessions.get(sessionId);
    s.expires = now() + fs.opts.sessionTtl;
    const body = dropUndefined({
      access_token: fs.accessToken(sessionId, {}, { resource }),
      token_type: 'Bearer',
      expires_in: fs.opts.ttl,
      session_id: sessionId,
      id_token: fs.opts.idToken ? idToken(sessionId) : undefined,
      refresh_token: fs.opts.refreshTokens ? newRefreshToken(sessionId) : undefined,
    });
    fs.issued.push({ sessionId, body });
    return body;
  };

  const newSession = (sub, method = 'pwd') => {
    const id = p.sessionId();
    const t = now();
    fs.sessions.set(id, { sub, amr: [method], start: t, expires: t + fs.opts.sessionTtl, authTime: t });
    return id;
  };

  /** Adds `method` to a session's amr, and mfa once two different factors are in it. */
  const addMethod = (s, method) => {
    if (!s.amr.includes(method)) s.amr.push(method);
    const factors = ['pwd', 'otp', 'eotp'].filter((f) => s.amr.includes(f)).length;
    if (factors >= 2 && !s.amr.includes('mfa')) s.amr.push('mfa');
  };

  /** The user a backend method names by identifier and identifier_type (email by default). */
  const byIdentifier = (type, identifier) => {
    if (type === 'username') return fs.users.get(identifier);
    if (type === 'user_id') return fs.usersBySub(identifier);
    if (type === undefined || type === 'email') return [...fs.users.values()].find((u) => u.email === identifier);
    return undefined;
  };

  /** A proved authentication of `u` by `method`: a new session, or joined to `session_id`. */
  const join = (u, method, sessionId, resource) => {
    if (sessionId === undefined) return { status: 200, json: apiTokens(newSession(u.sub, method), resource) };
    const s = liveSession(sessionId);
    if (!s) return err(400, 'Session not found', 400);
    if (s.sub !== u.sub) return err(400, ['session_id belongs to another user'], 'invalid_session');
    addMethod(s, method);
    s.authTime = now();
    return { status: 200, json: apiTokens(sessionId, resource) };
  };

  const endSession = (id) => {
    const had = fs.sessions.delete(id);
    for (const [token, r] of fs.refreshTokens) if (r.sessionId === id) fs.refreshTokens.delete(token);
    return had;
  };

  /** The session if it exists and has not expired (an expired one ends now). */
  const liveSession = (id) => {
    if (typeof id !== 'string') return undefined;
    const s = fs.sessions.get(id);
    if (s && s.expires <= now()) {
      endSession(id);
      return undefined;
    }
    return s;
  };

  const err = (status, message, error_code) => ({ status, json: { message, error_code } });
  const invalid = (...messages) => err(400, messages, 400);

  function handle(endpoint, req, path, body) {
    if (endpoint === 'jwks') return { status: 200, json: { keys: fs.keys } };
    if (endpoint === 'discovery') {
      return {
        status: 200,
        json: {
          issuer: p.issuer,
          jwks_uri: `${fs.baseUrl}${P.jwks}`,
          token_endpoint: `${fs.baseUrl}${P.client_token}`,
          id_token_signing_alg_values_supported: [key.alg],
        },
      };
    }
    if (endpoint === 'token') {
      if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) {
        return invalid('content-type must be application/x-www-form-urlencoded');
      }
      const f = new URLSearchParams(body);
      if (f.get('grant_type') !== 'client_credentials') return invalid('grant_type must be client_credentials');
      if (f.get('client_id') !== CLIENT_ID || f.get('client_secret') !== CLIENT_SECRET) {
        return err(401, 'Invalid client credentials', 'invalid_client');
      }
      const ct = `ct-${rid(24)}`;
      fs.clientTokens.set(ct, now() + fs.opts.clientTokenTtl);
      return { status: 200, json: { access_token: ct, token_type: 'Bearer', expires_in: fs.opts.clientTokenTtl } };
    }
    if (endpoint === 'other') return err(404, `Cannot ${req.method} ${path}`, 404);

    const auth = req.headers.authorization ?? '';
    const ct = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!(fs.clientTokens.get(ct) > now())) return err(401, 'Unauthorized', 401);

    let j = {};
    if (req.method === 'POST') {
      if (!/^application\/json/i.test(req.headers['content-type'] ?? '')) return invalid('content-type must be application/json');
      try {
        j = JSON.parse(body || 'null');
      } catch {
        return invalid('body must be JSON');
      }
      if (!j || typeof j !== 'object' || Array.isArray(j)) return invalid('body must be an object');
    }
    const resource = typeof j.resource === 'string' ? j.resource : undefined;

    switch (endpoint) {
      case 'password': {
        const problems = [];
        if (typeof j.username !== 'string' || !j.username) problems.push('username must be a non-empty string');
        if (typeof j.password !== 'string' || !j.password) problems.push('password must be a non-empty string');
        if (j.session_id !== undefined && typeof j.session_id !== 'string') problems.push('session_id must be a string');
        if (problems.length) return invalid(...problems);
        const u = fs.users.get(j.username);
        if (!u) return err(404, 'User not found', 'user_not_found');
        if (u.locked) return err(403, 'User is locked', 'auth_locked');
        if (u.password !== j.password) return err(401, 'Invalid credentials', 'auth_invalid_credentials');
        if (j.session_id === undefined) return { status: 200, json: apiTokens(newSession(u.sub), resource) };
        const s = liveSession(j.session_id);
        if (!s) return err(400, 'Session not found', 400);
        if (s.sub === u.sub) {
          addMethod(s, 'pwd');
          s.authTime = now();
          return { status: 200, json: apiTokens(j.session_id, resource) };
        }
        if (fs.opts.stepUpOtherUser === 'new-session') return { status: 200, json: apiTokens(newSession(u.sub), resource) };
        if (fs.opts.stepUpOtherUser === 'same-session') {
          // A broken store: another user's session id, tokens for this user.
          const id = newSession(u.sub);
          const out = apiTokens(id, resource);
          out.session_id = j.session_id;
          out.access_token = fs.accessToken(id, { sid: fs.opts.sid ? j.session_id : undefined }, { resource });
          return { status: 200, json: out };
        }
        return err(400, ['session_id belongs to another user'], 'invalid_session');
      }
      case 'totp': {
        const problems = [];
        if (typeof j.identifier !== 'string' || !j.identifier) problems.push('identifier must be a non-empty string');
        if (typeof j.token !== 'string' || !j.token) problems.push('token must be a non-empty string');
        if (j.session_id !== undefined && typeof j.session_id !== 'string') problems.push('session_id must be a string');
        if (problems.length) return invalid(...problems);
        const u = byIdentifier(j.identifier_type, j.identifier);
        if (!u) return err(404, 'User not found', 'user_not_found');
        const nowStep = stepNow();
        const step = [nowStep - 1, nowStep, nowStep + 1].find((st) => totpAt(u.totpSecret, st) === j.token);
        if (step === undefined || step <= u.lastStep) return err(401, 'Invalid credentials', 'auth_invalid_credentials');
        u.lastStep = step;
        return join(u, 'otp', j.session_id, resource);
      }
      case 'otpSend': {
        if (!['email', 'sms', 'direct'].includes(j.channel)) return invalid('channel must be one of sms, email, direct');
        if (typeof j.identifier !== 'string' || typeof j.identifier_type !== 'string') return invalid('identifier and identifier_type are required');
        const u = byIdentifier(j.identifier_type, j.identifier);
        if (!u) return err(404, 'User not found', 'user_not_found');
        const code = String(crypto.randomInt(0, 1e6)).padStart(6, '0');
        scan.secret(code, 'one-time passcode');
        u.otp = { code, expires: Date.now() + 5 * 60_000, attempts: 0 };
        const name = [...fs.users].find(([, v]) => v === u)[0];
        if (j.channel === 'direct') return { status: 200, json: { message: 'OTP sent', code } };
        fs.outbox[name] = code;
        return { status: 200, json: { message: 'OTP sent' } };
      }
      case 'otpAuth': {
        if (typeof j.passcode !== 'string' || typeof j.identifier !== 'string' || typeof j.identifier_type !== 'string') {
          return invalid('passcode, identifier and identifier_type are required');
        }
        if (j.session_id !== undefined && typeof j.session_id !== 'string') return invalid('session_id must be a string');
        const u = byIdentifier(j.identifier_type, j.identifier);
        if (!u) return err(404, 'User not found', 'user_not_found');
        const o = u.otp;
        if (!o) return err(401, 'Invalid credentials', 'auth_invalid_credentials');
        if (Date.now() >= o.expires) {
          u.otp = undefined;
          return err(401, 'Passcode expired', 'auth_otp_passcode_expired');
        }
        if (o.code !== j.passcode) {
          o.attempts += 1;
          if (o.attempts >= 5) u.otp = undefined;
          return err(401, 'Invalid credentials', 'auth_invalid_credentials');
        }
        u.otp = undefined;
        return join(u, 'eotp', j.session_id, resource);
      }
      case 'session': {
        if (typeof j.session_id !== 'string' || !j.session_id) return invalid('session_id must be a non-empty string');
        if (!liveSession(j.session_id)) return err(400, 'Session not found', 400);
        return { status: 200, json: apiTokens(j.session_id, resource) };
      }
      case 'refresh': {
        if (typeof j.refresh_token !== 'string' || !j.refresh_token) return invalid('refresh_token must be a non-empty string');
        const r = fs.refreshTokens.get(j.refresh_token);
        const dead = () => err(401, ['Refresh token is invalid or expired'], 401);
        if (!r || r.used || r.chainStart + fs.opts.refreshMax <= now()) return dead();
        if (!liveSession(r.sessionId)) return dead();
        r.used = true;
        // "A refresh doesn't affect the session": no extension, and no session_id in the answer.
        const out = dropUndefined({
          access_token: fs.accessToken(r.sessionId, {}, { resource }),
          id_token: fs.opts.idToken ? idToken(r.sessionId) : undefined,
          refresh_token: newRefreshToken(r.sessionId, r.chainStart),
          token_type: 'Bearer',
          expires_in: fs.opts.ttl,
        });
        fs.issued.push({ sessionId: r.sessionId, body: out });
        return { status: 200, json: out };
      }
      case 'logout': {
        if (typeof j.session_id !== 'string' || !j.session_id) return invalid('session_id must be a non-empty string');
        if (!liveSession(j.session_id) || !endSession(j.session_id)) return err(400, ['Session not found'], 'session_not_found');
        return { status: 204 };
      }
      case 'list':
      case 'revokeAll': {
        const sub = decodeURIComponent(userSegment(path));
        if (!fs.usersBySub(sub)) return err(404, 'User not found', 'user_not_found');
        const mine = [...fs.sessions.keys()].filter((id) => liveSession(id)?.sub === sub);
        if (endpoint === 'revokeAll') {
          for (const id of mine) endSession(id);
          return { status: 204 };
        }
        return {
          status: 200,
          json: mine.map((id) => {
            const s = fs.sessions.get(id);
            return { session_id: id, start_time: iso(s.start), expiration_time: iso(s.expires) };
          }),
        };
      }
      default:
        return err(404, `Cannot ${req.method} ${path}`, 404);
    }
  }

  const endpointOf = (method, path) => {
    if (path === P.jwks && method === 'GET') return 'jwks';
    if (path === P.discovery && method === 'GET') return 'discovery';
    if (path === P.client_token && method === 'POST') return 'token';
    if (path === P.password_authenticate && method === 'POST') return 'password';
    if (path === P.totp_authenticate && method === 'POST') return 'totp';
    if (path === P.otp_send && method === 'POST') return 'otpSend';
    if (path === P.otp_authenticate && method === 'POST') return 'otpAuth';
    if (path === P.session_authenticate && method === 'POST') return 'session';
    if (path === P.token_refresh && method === 'POST') return 'refresh';
    if (path === P.session_logout && method === 'POST') return 'logout';
    if (userSegment(path) !== undefined) {
      if (method === 'GET') return 'list';
      if (method === 'DELETE') return 'revokeAll';
    }
    return 'other';
  };

  const server = http.createServer(async (req, res) => {
    const body = await readBody(req);
    const full = new URL(req.url, 'http://store.invalid').pathname;
    const path = full.startsWith(`${p.basePath}/`) ? full.slice(p.basePath.length) : '';
    const endpoint = endpointOf(req.method, path);
    let parsed;
    try {
      parsed = body && req.headers['content-type']?.includes('json') ? JSON.parse(body) : body;
    } catch {
      parsed = body;
    }
    // What the edge (or a test) sent and what the fake answers are secrets of the run.
    secretsOfRequest(Object.entries(req.headers), body);
    const call = { endpoint, method: req.method, path: full, body: parsed, headers: req.headers, at: Date.now() };
    fs.calls.push(call);
    const f = fs.fail[endpoint];
    if (f?.once) delete fs.fail[endpoint];
    if (f?.delay) await sleep(f.delay);
    if (f?.reset) return req.socket.destroy();
    if (f && (f.status !== undefined || f.body !== undefined)) {
      const headers = { 'content-type': f.contentType ?? 'application/json' };
      if (f.retryAfter !== undefined) headers['retry-after'] = f.retryAfter;
      res.writeHead(f.status ?? 200, headers);
      return res.end(f.body ?? JSON.stringify({ message: 'injected', error_code: f.status }));
    }
    const out = handle(endpoint, req, path || full, body);
    scan.secretFields(out.json, 'fake store answer');
    call.status = out.status;
    call.response = out.json;
    if (res.destroyed) return;
    res.writeHead(out.status, out.json !== undefined ? { 'content-type': 'application/json' } : {});
    res.end(out.json !== undefined ? JSON.stringify(out.json) : undefined);
  });
  // Longer than workerd's own idle time for pooled connections: the client closes an idle
  // connection first, so workerd never reuses one this server is closing at that moment (a
  // 1 s timeout made requests after a second of quiet fail with a reset, 502). Node 20's
  // server.close() closes idle connections at once, so closing does not wait for it.
  server.keepAliveTimeout = 65_000;
  const port = await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
  fs.url = `http://127.0.0.1:${port}`;
  fs.baseUrl = `${fs.url}${p.basePath}`;
  fs.jwksUrl = `${fs.baseUrl}${P.jwks}`;
  fs.close = () =>
    new Promise((r) => {
      server.closeAllConnections?.();
      server.close(r);
    });
  return fs;
}

/**
 * A thin client of the fake's HTTP API (the same calls the edge makes, for tests that need
 * raw tokens or the store's view): login(user, extra), sessionAuthenticate(id), refresh(rt),
 * logout(id), list(userId), revokeAll(userId). Each resolves to { status, body, text }.
 */
export function transmitClient(fs) {
  let ct;
  const call = async (method, path, json) => {
    if (!ct || !(fs.clientTokens.get(ct) > now())) {
      const r = await fetch(`${fs.baseUrl}${P.client_token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }),
      });
      if (r.status !== 200) throw new Error(`client token: ${r.status} ${await r.text()}`);
      ct = (await r.json()).access_token;
    }
    const headers = { authorization: `Bearer ${ct}` };
    if (json !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${fs.baseUrl}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    const text = await r.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    return { status: r.status, body, text };
  };
  return {
    login: (user, extra = {}) => call('POST', P.password_authenticate, { username: user.username, password: user.password, ...extra }),
    totp: (json) => call('POST', P.totp_authenticate, json),
    otpSend: (json) => call('POST', P.otp_send, json),
    otpAuthenticate: (json) => call('POST', P.otp_authenticate, json),
    sessionAuthenticate: (session_id) => call('POST', P.session_authenticate, { session_id }),
    refresh: (refresh_token) => call('POST', P.token_refresh, { refresh_token }),
    logout: (session_id) => call('POST', P.session_logout, { session_id }),
    list: (userId) => call('GET', userSessionsPath(userId)),
    revokeAll: (userId) => call('DELETE', userSessionsPath(userId)),
  };
}
