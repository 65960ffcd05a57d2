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
