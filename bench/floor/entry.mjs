// The floor's worker entry (src/lib.rs): instantiates the wasm once, hands it the upstream and
// the tokens it knows once per isolate, then every request straight to the wasm's `fetch`.
import module from './pkg/bench_floor_bg.wasm';
import { initSync, init, fetch as gate } from './pkg/bench_floor.js';

initSync({ module });
let ready = false;

export default {
  fetch(request, env) {
    if (!ready) {
      init(env.UPSTREAM, env.FLOOR_TOKENS ?? '');
      ready = true;
    }
    return gate(request);
  },
};
