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

// The line has the fields of the core's (src/audit.rs): the request's cf-ray as its id (the
// same one its other lines carry when it is a plain id), else a local one.
function noteTrap(e, request) {
  if (e instanceof WebAssembly.RuntimeError) {
    const ray = request.headers.get("cf-ray");
    const request_id = ray && /^[A-Za-z0-9._:-]{1,64}$/.test(ray)
      ? ray
      : `local-${[...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
    console.error(JSON.stringify({ level: "error", request_id, phase: "runtime", reason: "wasm_trap_reinstantiating" }));
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
        noteTrap(e, request);
        throw e;
      });
    } catch (e) {
      noteTrap(e, request);
      throw e;
    }
  },
};
