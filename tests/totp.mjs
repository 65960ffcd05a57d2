// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s) for the tests, with node:crypto, and the demo
// users' DEV-ONLY secrets (session-store/.dev.vars.example). `Codes` hands out codes of steps
// never used before for each user (the store refuses a step at or before the last it accepted),
// waiting for the next step when the drift window is used up.
import { createHmac } from "node:crypto";

/** The DEV-ONLY TOTP secrets of the demo users (raw bytes; base32 in .dev.vars.example). */
export const TOTP_SECRETS = {
  "user-alice": Buffer.from("12345678901234567890"),
  "user-bob": Buffer.from("bob-dev-totp-secret!"),
};

/** The code of `secret` for time step `step`. */
export function totpAt(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac("sha1", secret).update(counter).digest();
  const o = h[19] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, "0");
}

/** The current time step. */
export const stepNow = () => Math.floor(Date.now() / 30_000);

/** Fresh codes per user: each call a step after the previous one, within one step of now.
 * `user` objects of tests/session/stores.mjs: `codes.next(u.userId, u.totpSecret)`. */
export class Codes {
  constructor() {
    this.last = new Map();
  }
  /** A code for `userId` no earlier step of which was handed out (waits ≤ 31 s if needed). */
  async next(userId, secret = TOTP_SECRETS[userId]) {
    for (let i = 0; i < 70; i++) {
      const now = stepNow();
      const step = Math.max(now - 1, (this.last.get(userId) ?? -Infinity) + 1);
      if (step <= now + 1) {
        this.last.set(userId, step);
        return totpAt(secret, step);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error("no fresh TOTP step within 35 s");
  }
  /** Marks `step` used for `userId` (a code handed out some other way). */
  used(userId, step) {
    this.last.set(userId, Math.max(step, this.last.get(userId) ?? -Infinity));
  }
}
