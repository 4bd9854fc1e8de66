// The counterexample hunt, off the page's thread: a module Web Worker with a wasm
// instance of its own (pkg/duckgoose_hunt_wasm, apart from the playground's module). It
// runs seeds of a cluster that breaks one rule, a slice at a time, and posts progress
// after each slice, so the page stays responsive and a stop takes effect between slices.
//
// In:  {type: 'hunt', id, variant, firstSeed, sliceMs, maxSeeds}   starts a hunt (ends
//       any running one; stops by itself after maxSeeds seeds, if given)
//      {type: 'stop'}                                 ends it after the current slice
// Out: {type: 'progress' | 'found' | 'stopped', hunt, variant, seedsTried, simulatedMs,
//       nextSeed, wallMs, found}   (`hunt`: the id of the hunt message this answers)
//      {type: 'error', hunt, message}

import init, { Hunt } from '../pkg/duckgoose_hunt_wasm.js';

const ready = init();
let current = 0; // the hunt running (its message id); 0: none

self.onmessage = async ({ data }) => {
  if (data?.type === 'stop') { current = 0; return; }
  if (data?.type !== 'hunt') return;
  const id = data.id;
  current = id;
  try {
    await ready;
    const hunt = new Hunt(String(data.variant), Number(data.firstSeed ?? 1));
    const started = performance.now();
    for (;;) {
      const p = hunt.run(Number(data.sliceMs ?? 20_000));
      const wallMs = performance.now() - started;
      if (p.found) { self.postMessage({ type: 'found', hunt: id, ...p, wallMs }); break; }
      self.postMessage({ type: 'progress', hunt: id, ...p, wallMs });
      // Yield, so that a stop (or a new hunt) posted meanwhile is read before the next slice.
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (current !== id || p.seedsTried >= (data.maxSeeds ?? Infinity)) { self.postMessage({ type: 'stopped', hunt: id, ...p, wallMs }); break; }
    }
    hunt.free();
  } catch (e) {
    self.postMessage({ type: 'error', hunt: id, message: String(e?.message ?? e) });
  }
  if (current === id) current = 0;
};
