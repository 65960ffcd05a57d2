// The fault scenarios (issue 15, item 2), each injected mid-run through the fault proxies, the
// KV wrapper, or a restart of a worker, and the README decision-table rows that explain the
// refusals a scenario may cause.
import { paused } from './client.mjs';
import { STEP_UP, signingKey } from './stack.mjs';

/** The demo's admin page (behind the `amr: ["mfa"]` route policy) and where a navigation there goes first. */
export const ADMIN_PATH = '/admin';
export const STEP_UP_LOCATION = `${STEP_UP.STEP_UP_PATH}?return_to=${encodeURIComponent(ADMIN_PATH)}`;
const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exactly = (s) => new RegExp(`^${escapeRe(s)}$`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Store down: the store's (and the JWKS's) origin refuses connections for 10 s. */
async function storeRefuse(s) {
  await s.storeProxy.refuse(10_000);
}

/** Every store call but the JWKS answers after 6 s (STORE_TIMEOUT_MS is 5 s in the load config). */
async function storeSlow(s) {
  s.storeProxy.set('*', { mode: 'slow', ms: 6000 });
  s.storeProxy.set('/oidc/jwks', { mode: 'pass' });
  await sleep(10_000);
  s.storeProxy.reset();
}

async function storeStatus(s, status) {
  s.storeProxy.set('*', { mode: 'status', status });
  s.storeProxy.set('/oidc/jwks', { mode: 'pass' });
  await sleep(8_000);
  s.storeProxy.reset();
}

/** The edge's KV reads fail (writes still work) for 10 s. */
async function kvErrors(s) {
  s.control.kv = 'fail';
  await sleep(10_000);
  s.control.kv = 'ok';
}

/** A restart of the store as a deployment does it: new calls held, those in flight drained. */
async function redeployStore(s) {
  s.storeProxy.set('*', { mode: 'hold' });
  await s.storeProxy.drain();
  try {
    await s.restartStore();
    s.storeProxy.resetPool();
  } finally {
    s.storeProxy.set('*', { mode: 'pass' });
  }
}

/**
 * Signing-key rotation at the store: a new key signs and is published with the old one kept
 * (SIGNING_KEY_PREVIOUS); after every old access token has expired (TTL + 3 s) the old key is
 * removed.
 */
async function keyRotation(s, { ttl }) {
  const old = s.keys.current;
  s.keys.current = signingKey();
  s.keys.previous = old;
  await redeployStore(s);
  await sleep((ttl + 3) * 1000);
  s.keys.previous = undefined;
  await redeployStore(s);
  await sleep(5_000);
}

/** The edge's module re-instantiated: between requests, caches empty, state (KV, DOs) kept. */
async function edgeRestart(s) {
  await paused(() => s.restartEdge());
}

/**
 * The JWKS down (503) or hanging, and the edge re-instantiated inside the outage (a new isolate
 * has no keys: that is when the outage shows); the JWKS back after 10 s.
 */
async function jwksFault(s, mode) {
  s.storeProxy.set('/oidc/jwks', mode);
  await sleep(3_000);
  await paused(() => s.restartEdge());
  await sleep(7_000);
  s.storeProxy.set('/oidc/jwks', { mode: 'pass' });
}

async function upstreamSlow(s) {
  s.upstreamProxy.set('*', { mode: 'slow', ms: 4000 });
  await sleep(8_000);
  s.upstreamProxy.reset();
}

async function upstreamRefuse(s) {
  await s.upstreamProxy.refuse(8_000);
}

export const SCENARIOS = {
  store_refuse: storeRefuse,
  store_slow: storeSlow,
  store_5xx: (s) => storeStatus(s, 500),
  store_429: (s) => storeStatus(s, 429),
  kv_errors: kvErrors,
  key_rotation: keyRotation,
  jwks_down: (s) => jwksFault(s, { mode: 'status', status: 503 }),
  jwks_hang: (s) => jwksFault(s, { mode: 'hang' }),
  upstream_slow: upstreamSlow,
  upstream_refuse: upstreamRefuse,
  edge_restart: edgeRestart,
};

/**
 * The README's decision table as the harness reads it: status, body `error`, the challenge,
 * the log reasons, and the faults that may cause the row. A non-2xx answer is explained when
 * a row matches all of them and the request was sent while one of the row's faults was on
 * (or within the grace after it), or, for `replay` rows, when the request was a replay of a
 * logged-out session's credentials, or, for `challenge` rows, when the request was a browser's
 * first visit to the admin area in a session without a second factor (the step-up flow's
 * expected challenge; the same answer anywhere else is unexplained).
 */
export const ROWS = [
  // The upstream row likewise when the edge itself waited UPSTREAM_TIMEOUT_MS (3 s).
  // The store rows also hold without an injected fault when the proxy saw the store call of
  // that very request (joined by the x-request-id the edge sends) fail or take longer than
  // STORE_TIMEOUT_MS, or the edge itself waited that long: a store (or a link to it) that is
  // down or slow by itself explains them just as well.
  { row: 'store unreachable / 5xx: 502 bad_gateway', status: 502, error: 'bad_gateway', reasons: ['store_unreachable', 'store_5xx'], faults: ['store_refuse', 'store_5xx'], evidence: (r) => r.storeCalls.some((c) => c.status === 0 || c.status >= 500) },
  { row: 'store slower than STORE_TIMEOUT_MS: 504 gateway_timeout', status: 504, error: 'gateway_timeout', reasons: ['store_timeout'], faults: ['store_slow'], evidence: (r) => r.ms >= 4900 || r.storeCalls.some((c) => !(c.ms < 5000)) },
  // The store's new access token did not verify: with 5-10 s tokens and no leeway (the load
  // configuration), a token that reached the edge's verification later than its lifetime
  // (a slow store, or the keys still being fetched) has expired.
  { row: "store's new token unverifiable (expired on arrival): 502 bad_gateway", status: 502, error: 'bad_gateway', reasons: ['store_token_unverifiable'], faults: [], evidence: (r) => r.ms >= (r.ttl - 1) * 1000 || r.storeCalls.some((c) => !(c.ms < (r.ttl - 1) * 1000)) },
  // README "A new signing key at the store": the isolate's one JWKS refetch per 30 s for a new
  // kid failed or was not allowed yet.
  { row: "store's new token signed with a key the isolate has not fetched yet: 502 bad_gateway", status: 502, error: 'bad_gateway', reasons: ['store_token_unverifiable'], faults: ['key_rotation'], graceMs: 30_000 },
  { row: 'store 429 (not a login): 503 temporarily_unavailable', status: 503, error: 'temporarily_unavailable', reasons: ['store_429'], faults: ['store_429'] },
  { row: 'store 429 on a login: 429 too_many_requests', status: 429, error: 'too_many_requests', reasons: ['store_login_throttled'], faults: ['store_429'] },
  { row: 'KV unreadable: 503 (REVOCATION_ON_KV_ERROR=closed)', status: 503, error: 'temporarily_unavailable', reasons: ['revocation_unavailable'], faults: ['kv_errors'] },
  // After a failed fetch no fetch starts for 5 s, and a hanging one blocks the next for its
  // deadline (JWKS_TIMEOUT_MS, 1 s) plus a second: 503s go on up to ~7 s after the JWKS is back.
  { row: 'JWKS unreachable, no usable keys: 503', status: 503, error: 'temporarily_unavailable', reasons: ['jwks_unavailable'], faults: ['jwks_down', 'jwks_hang'], graceMs: 8000 },
  { row: 'upstream silent: 504 gateway_timeout', status: 504, error: 'gateway_timeout', reasons: ['upstream_timeout'], faults: ['upstream_slow'], evidence: (r) => r.ms >= 2900 },
  { row: 'upstream refuses: 502 bad_gateway', status: 502, error: 'bad_gateway', reasons: ['upstream_fetch'], faults: ['upstream_refuse'] },
  // A grant the store rotated but whose answer never reached the client (the edge timed out,
  // the connection dropped, or the edge could not verify the new token while the JWKS was
  // down), retried after the store's REFRESH_REUSE_GRACE_SECONDS (10 s): the store's reuse
  // detection (session-store/README.md) revokes the chain. Explained when a fault was on in
  // the 20 s before the retry; counted in "API chains ended".
  // README "JWKS unreachable or hanging": an unknown kid refetches at most once per 30 s per
  // isolate; until then a Bearer token signed with the store's new key is refused.
  { row: 'Bearer token signed with a key the isolate has not fetched yet: 401 invalid_token', status: 401, error: 'invalid_token', www: /error="invalid_token"/, reasons: ['unknown_kid'], faults: ['key_rotation'], graceMs: 30_000 },
  { row: 'refresh token reused after a lost answer: 401 invalid_credentials', status: 401, error: 'invalid_credentials', reasons: ['refresh_token_reused'], recent: ['store_refuse', 'store_slow', 'store_5xx', 'store_429', 'key_rotation', 'jwks_down', 'jwks_hang', 'edge_restart'], evidence: (r) => r.afterFailedGrant },
  { row: 'Bearer token expired in flight: 401 invalid_token', status: 401, error: 'invalid_token', www: /error="invalid_token"/, reasons: ['expired'], inFlight: true },
  { row: 'replay after logout: 401 session_ended', status: 401, error: 'session_ended', www: /error="invalid_token"/, reasons: ['revoked', 'no_session', 'access_cookie_mismatch', 'session_cookie_mismatch'], replay: true },
  { row: 'replay after logout, token expired or its key retired: 401 invalid_token', status: 401, error: 'invalid_token', www: /error="invalid_token"/, reasons: ['expired', 'unknown_kid'], replay: true },
  // The store revoked the chain when a retry came after REFRESH_REUSE_GRACE_SECONDS (the row
  // above); the client's next retry presents a revoked token: refused.
  { row: 'refresh token of a chain revoked after a lost answer: 401 invalid_credentials', status: 401, error: 'invalid_credentials', reasons: ['credentials_refused'], afterFailedGrant: true },
  { row: 'replay after logout, navigation: 303 to LOGIN_PATH', status: 303, location: /^\/$/, reasons: null, replay: true },
  // README "Route policies": the demo's admin area needs amr mfa; a session signed in by
  // password alone is asked for a second factor (RFC 9470), the session kept.
  { row: 'step-up challenge, navigation: 303 to STEP_UP_PATH', status: 303, location: exactly(STEP_UP_LOCATION), reasons: ['policy_amr'], challenge: true },
  { row: 'step-up challenge, API call: 401 insufficient_user_authentication', status: 401, error: 'insufficient_user_authentication', www: /error="insufficient_user_authentication".*acr_values="mfa"/, reasons: ['policy_amr'], challenge: true },
];

/** The row explaining `r` (a recorded response), or undefined. */
export function explain(r) {
  for (const row of ROWS) {
    if (row.status !== r.status) continue;
    if (row.error && row.error !== r.error) continue;
    if (row.location && !row.location.test(r.location ?? '')) continue;
    if (row.www && !row.www.test(r.www ?? '')) continue;
    if (row.reasons && !r.reasons.some((x) => row.reasons.includes(x))) continue;
    if (row.afterFailedGrant) {
      if (!r.afterFailedGrant) continue;
    } else if (row.inFlight) {
      if (!r.expiredInFlight) continue;
    } else if (row.recent) {
      if (!row.recent.some((f) => r.recentFaults.includes(f)) && !row.evidence?.(r)) continue;
    } else if (row.replay) {
      if (!r.replay) continue;
    } else if (row.challenge) {
      if (!r.expectChallenge) continue;
    } else if (!row.faults.some((f) => (row.graceMs ? r.faultsWithin(row.graceMs) : r.faults).includes(f)) && !row.evidence?.(r)) continue;
    return row.row;
  }
  return undefined;
}
