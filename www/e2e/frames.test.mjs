// The packed frame (wasm/src/frame.rs, read back by wasm/js/frame.js), in Node.js without a
// browser: a log entry the previous frame carried comes back as the same object, and a run
// that reuses entries frame after frame shows exactly what a fresh run decoding everything
// at once shows at the same moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WWW } from './helpers.mjs';
import { initSync, Sim } from '../pkg/duckgoose_wasm.js';

initSync({ module: fs.readFileSync(path.join(WWW, 'pkg/duckgoose_wasm_bg.wasm')) });

const leaderOf = (frame) => frame.view.nodes.find((n) => n.role === 'leader')?.id;

test('log entries are sent once and reused, and frames show what a fresh run shows', () => {
  const sim = new Sim({ nodes: 5, seed: 3 });
  let previous = null;
  let reused = 0;
  let writes = 0;
  for (let t = 100; t <= 6000; t += 100) {
    const frame = sim.runUntil(t);
    if (previous) {
      for (const node of frame.view.nodes) {
        const before = previous.view.nodes.find((n) => n.id === node.id);
        for (const entry of node.log) {
          const old = before?.log.find((e) => e.index === entry.index);
          if (old && old.term === entry.term && old.label === entry.label) {
            assert.equal(entry, old, `node ${node.id} entry ${entry.index}: the same object`);
            reused += 1;
          }
        }
      }
    }
    previous = frame;
    const leader = leaderOf(frame);
    if (leader != null && t % 300 === 0) {
      writes += 1;
      sim.act(`request ${leader} put k${writes % 3} v${writes}`);
    }
    if (t === 3000) sim.act('partition 1,2/3,4,5');
    if (t === 4500) sim.act('heal');
  }
  assert.ok(writes > 10 && reused > 200, `${writes} writes, ${reused} entries reused`);

  // A second Sim replays the run and decodes the last moment in one frame: every entry
  // labelled afresh. The two must agree on every node's log tail and every other field.
  const fresh = Sim.fromScenario(sim.scenario());
  const last = sim.runUntil(6000);
  const once = fresh.runUntil(6000);
  assert.equal(once.hash, last.hash);
  assert.deepEqual(once.view, last.view);
  assert.ok(last.view.nodes.every((n) => n.log.length > 0));
  sim.free();
  fresh.free();
});

test('a shorter log tail, then a longer one, is decoded right', () => {
  const sim = new Sim({ nodes: 3, seed: 8 });
  let frame = sim.runUntil(1500);
  const leader = leaderOf(frame);
  assert.ok(leader != null, 'a leader by 1.5 s');
  for (let i = 0; i < 20; i++) sim.act(`request ${leader} put x ${i}`);
  frame = sim.runUntil(2500);
  assert.equal(frame.view.nodes[0].log.length, 12);
  sim.setLogTail(3);
  frame = sim.runUntil(2600);
  const short = frame.view.nodes.map((n) => n.log.map((e) => e.index));
  assert.ok(short.every((l) => l.length === 3), JSON.stringify(short));
  sim.setLogTail(20);
  frame = sim.runUntil(2700);
  const long = frame.view.nodes.find((n) => n.id === leader).log;
  assert.equal(long.length, 20);
  assert.deepEqual(long.map((e) => e.index), long.map((_, k) => long[0].index + k));
  assert.equal(long.at(-1).label, 'x=19');
  sim.free();
});
