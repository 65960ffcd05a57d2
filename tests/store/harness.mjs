// Shared helpers for the session-store integration tests: the built Rust worker in workerd via
// Miniflare (persistence off, loopback only), configured as `wrangler dev` runs it: the vars of
// session-store/wrangler.toml and the dev secrets of session-store/.dev.vars.example.
import { Miniflare } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { fileURLToPath } from "node:url";
import path from "node:path";

import { run as scan, captureOptions, secretsOfBindings, secretsOfRequest, secretsOfResponse } from "../log-scan.mjs";

process.env.WRANGLER_SEND_METRICS ??= "false";
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_HIDE_BANNER ??= "true";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const configPath = path.join(root, "session-store/wrangler.toml");
// wrangler's config warnings ("secrets" is experimental) are not the tests' to print.
const config = (() => {
  const level = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = "error";
  try {
    return unstable_readConfig({ config: configPath });
  } finally {
    if (level === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = level;
  }
})();
const scriptPath = path.join(root, "session-store/build/worker/shim.mjs");
/** The store's dev secrets (CLIENT_SECRET, SIGNING_KEY, DEMO_USERS): never [vars]. */
export const DEV_SECRETS = parseEnv(readFileSync(path.join(root, "session-store/.dev.vars.example"), "utf8"));
/** What the store runs with in `wrangler dev`: its [vars] and its dev secrets. */
export const DEV_ENV = { ...config.vars, ...DEV_SECRETS };

/** Base URL of requests (dispatched in-process, never on the network). */
export const BASE = config.vars.ISSUER;
/** Dev credentials (wrangler.toml, .dev.vars.example) and demo users (.dev.vars.example). */
export const CLIENT = { id: config.vars.CLIENT_ID, secret: DEV_SECRETS.CLIENT_SECRET };
export const ALICE = { username: "alice", password: "alice-dev-password", userId: "user-alice" };
export const BOB = { username: "bob", password: "bob-dev-password", userId: "user-bob" };
scan.secret(ALICE.password, "password alice");
scan.secret(BOB.password, "password bob");

/**
 * The store as a Miniflare worker named `name` (DEV_ENV plus `overrides`, its user
 * objects in memory, the edge's `REVOCATIONS` KV namespace bound, a direct loopback socket), for
 * a Miniflare of several workers (tests/session/stores.mjs runs it beside the edge).
 */
export function storeWorker(name, overrides = {}) {
  if (!existsSync(scriptPath)) {
    throw new Error(`${scriptPath} missing: build with (cd session-store && worker-build --release)`);
  }
  return {
    name,
    modules: true,
    scriptPath,
    modulesRoot: path.join(root, "session-store/build"),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    bindings: { ...DEV_ENV, ...overrides },
    durableObjects: { USER_SESSIONS: { className: "UserSessions", useSQLite: true } },
    // The namespace the edge reads (wrangler.toml binds the same id in both workers).
    kvNamespaces: ["REVOCATIONS"],
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/**
 * Starts the store with its dev environment (DEV_ENV) plus `overrides`. With `direct`, the
 * worker also gets a direct loopback socket (`store.directUrl`) for raw-byte tests. `store.kv`
 * is its `REVOCATIONS` namespace (in memory). Its log lines are captured for the secret scan
 * (tests/log-scan.mjs); `onLog(line, level)` sees them too.
 */
export async function startStore(overrides = {}, { direct = false, onLog } = {}) {
  const { unsafeDirectSockets, ...worker } = storeWorker("session-store", overrides);
  secretsOfBindings(worker.bindings);
  const mf = new Miniflare({
    ...worker,
    durableObjectsPersist: false,
    ...(direct ? { unsafeDirectSockets } : {}),
    cf: false,
    log: undefined,
    ...captureOptions("session-store", onLog),
  });
  await mf.ready;
  const store = new Store(mf);
  store.kv = await mf.getKVNamespace("REVOCATIONS");
  if (direct) store.directUrl = (await mf.unsafeGetDirectURL()).toString();
  return store;
}

/**
 * A thin client over the store's HTTP API. `mf` is the store's Miniflare, or anything with its
 * `dispatchFetch(url, init)`.
 */
export class Store {
  constructor(mf) {
    this.mf = mf;
    this.clientToken = null;
  }
  dispose() {
    return this.mf.dispose();
  }
  /** Raw request; `json` bodies are serialised. Returns {status, headers, body, text}. */
  async request(method, pathname, { json, body, headers = {}, auth = true } = {}) {
    const h = { ...headers };
    if (auth) {
      this.clientToken ??= await this.fetchClientToken();
      h.authorization ??= `Bearer ${this.clientToken}`;
    }
    if (json !== undefined) {
      h["content-type"] ??= "application/json";
      body = JSON.stringify(json);
    }
    secretsOfRequest(h, body);
    const res = await this.mf.dispatchFetch(new URL(pathname, BASE), { method, headers: h, body });
    const text = await res.text();
    secretsOfResponse(res.headers.getSetCookie?.() ?? [], text, res.headers.get("content-type") ?? "");
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }
  async fetchClientToken() {
    const form = new URLSearchParams({ grant_type: "client_credentials", client_id: CLIENT.id, client_secret: CLIENT.secret });
    const res = await this.mf.dispatchFetch(new URL("/oidc/token", BASE), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    if (res.status !== 200) throw new Error(`client token: ${res.status} ${await res.text()}`);
    const token = (await res.json()).access_token;
    scan.secret(token, "client access token");
    return token;
  }
  login(user = ALICE, extra = {}) {
    return this.request("POST", "/v1/auth/password/authenticate", {
      json: { username: user.username, password: user.password, ...extra },
    });
  }
  sessionAuthenticate(session_id, extra = {}) {
    return this.request("POST", "/v1/auth/session/authenticate", { json: { session_id, ...extra } });
  }
  refresh(refresh_token) {
    return this.request("POST", "/v1/auth/token/refresh", { json: { refresh_token } });
  }
  logout(session_id) {
    return this.request("POST", "/v1/auth/session/logout", { json: { session_id } });
  }
  list(userId) {
    return this.request("GET", `/v1/auth/users/${encodeURIComponent(userId)}/sessions`);
  }
  revokeAll(userId) {
    return this.request("DELETE", `/v1/auth/users/${encodeURIComponent(userId)}/sessions`);
  }
}

const b64url = (s) => Buffer.from(s, "base64url");

/** Decodes a compact JWS without verifying it. */
export function decode(jwt) {
  const [h, p] = jwt.split(".");
  return { header: JSON.parse(b64url(h)), claims: JSON.parse(b64url(p)) };
}

/** Verifies a compact JWS against a JWKS with node:crypto; returns {header, claims} or throws. */
export function verifyWithJwks(jwt, jwks) {
  const [h, p, s] = jwt.split(".");
  const header = JSON.parse(b64url(h));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid}`);
  if (jwk.alg !== header.alg) throw new Error(`alg ${header.alg} != key's ${jwk.alg}`);
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const data = Buffer.from(`${h}.${p}`);
  const sig = b64url(s);
  const ok =
    jwk.alg === "ES256" ? cryptoVerify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig)
    : jwk.alg === "RS256" ? cryptoVerify("sha256", data, key, sig)
    : jwk.alg === "EdDSA" ? cryptoVerify(null, data, key, sig)
    : false;
  if (!ok) throw new Error("bad signature");
  return { header, claims: JSON.parse(b64url(p)) };
}

/** Parses `x-store-metrics: do_calls=1;sql_statements=4;rows_read=2;rows_written=3`. */
export function metrics(headers) {
  const raw = headers.get("x-store-metrics") ?? "";
  return Object.fromEntries(raw.split(";").filter(Boolean).map((kv) => {
    const [k, v] = kv.split("=");
    return [k, Number(v)];
  }));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
