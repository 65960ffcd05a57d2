#!/usr/bin/env node
// Prints a new private signing JWK for SIGNING_KEY: `node session-store/scripts/gen-jwk.mjs [es256|rs256|ed25519]`.
// Store it as a secret: `node session-store/scripts/gen-jwk.mjs | npx wrangler secret put SIGNING_KEY --env production -c session-store/wrangler.toml`
// (scripts/deploy.sh does this when the deployed store has no SIGNING_KEY yet).
import { generateKeyPairSync, randomUUID } from "node:crypto";

const kind = (process.argv[2] ?? "es256").toLowerCase();
const { privateKey } =
  kind === "es256" ? generateKeyPairSync("ec", { namedCurve: "P-256" })
  : kind === "rs256" ? generateKeyPairSync("rsa", { modulusLength: 2048 })
  : kind === "ed25519" ? generateKeyPairSync("ed25519")
  : (() => { throw new Error(`unknown key kind ${kind}: es256 | rs256 | ed25519`); })();
const alg = { es256: "ES256", rs256: "RS256", ed25519: "EdDSA" }[kind];
const jwk = { ...privateKey.export({ format: "jwk" }), kid: `${kind}-${randomUUID()}`, alg };
process.stdout.write(JSON.stringify(jwk) + "\n");
