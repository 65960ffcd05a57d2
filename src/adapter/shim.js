// The worker's JS entry (worker-build's CUSTOM_SHIM template; scripts/build-edge.sh passes it).
//
// Why not worker-build's default entry: it wraps every request in a WorkerEntrypoint subclass
// behind two Proxies and an async wrapper, which measured at about 0.05 of a JS passthrough's
// throughput on the warm path (bench/README.md). This entry is a plain module worker object
// whose `fetch` calls the wasm export directly.
//
// Panic recovery: the release build aborts on panic (a wasm trap, `WebAssembly.RuntimeError`).
// The instance is then in an unknown state, so the next request gets a fresh instance (empty
// caches, config read again) instead of running on top of it.
import { DurableObject } from "cloudflare:workers";
import * as imports from "./index_bg.js";
import wasmModule from "./index.wasm";
$SNIPPET_JS_IMPORTS

let poisoned = false;

function instantiate() {
  const instance = new WebAssembly.Instance(wasmModule, {
    "./index_bg.js": imports,
    $SNIPPET_WASM_IMPORTS
  });
  imports.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start?.();
}

function noteTrap(e) {
  if (e instanceof WebAssembly.RuntimeError) {
    console.error(JSON.stringify({ level: "error", phase: "runtime", reason: "wasm_trap_reinstantiating" }));
    poisoned = true;
  }
}

instantiate();

export default {
  fetch(request, env, ctx) {
    if (poisoned) {
      poisoned = false;
      instantiate();
    }
    try {
      return imports.fetch(request, env, ctx).catch((e) => {
        noteTrap(e);
        throw e;
      });
    } catch (e) {
      noteTrap(e);
      throw e;
    }
  },
};

// The login counters (binding LOGIN_THROTTLE, README "Login throttling"): one object per
// hashed username or client address, holding one window (count, start). The rule is the wasm's
// (`throttle_count`: src/adapter/throttle.rs → src/throttle.rs): the object reads its row,
// asks the wasm, writes what it answers, with no `await` in between, so concurrent calls to
// one object run one after another and none is lost. An alarm at the window's end deletes it.
// Only `count` is a method: every public method of the class is callable over RPC.
function counterRow(sql) {
  sql.exec("CREATE TABLE IF NOT EXISTS w (k INTEGER PRIMARY KEY, n INTEGER NOT NULL, t REAL NOT NULL, win REAL NOT NULL)");
  return sql.exec("SELECT n, t, win FROM w WHERE k = 0").toArray()[0];
}

// out: [count, startedMs, admitted, retryAfterSecs, endsAtMs] (count 0: nothing to keep).
function keep(storage, out, windowMs, row) {
  if (out[0] > 0) {
    storage.sql.exec("INSERT OR REPLACE INTO w (k, n, t, win) VALUES (0, ?, ?, ?)", out[0], out[1], windowMs);
    if (!row || row.t !== out[1]) storage.setAlarm(out[4]);
  } else if (row) {
    storage.sql.exec("DELETE FROM w WHERE k = 0");
  }
}

function step(op, max, windowMs, row) {
  if (poisoned) {
    poisoned = false;
    instantiate();
  }
  return imports.throttle_count(op, max, windowMs, row ? row.n : 0, row ? row.t : 0, Date.now());
}

export class LoginThrottle extends DurableObject {
  // op, max, windowMs: numbers from the edge (src/throttle.rs `Op`, `Limit`).
  // Returns [admitted (1/0), retryAfterSecs].
  count(op, max, windowMs) {
    const storage = this.ctx.storage;
    const row = counterRow(storage.sql);
    const out = step(op, max, windowMs, row);
    keep(storage, out, windowMs, row);
    return [out[2], out[3]];
  }

  async alarm() {
    const storage = this.ctx.storage;
    const row = counterRow(storage.sql);
    // 3: Op::Tidy, the window kept only while it runs.
    const out = row ? step(3, 0, row.win, row) : [0];
    if (out[0] > 0) keep(storage, out, row.win, undefined);
    else await storage.deleteAll();
  }
}
