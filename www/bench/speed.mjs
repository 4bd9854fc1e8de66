// Simulation speed in one Node.js process: this project's simulator (the wasm the page
// runs) next to RaftScope's own raft.js (../shared/anchors/raftscope, copied with its
// licence), on the same workload: 5 nodes, RaftScope's timings (election 100-200 ms,
// 10-15 ms links), a client write to the leader every 100 ms, one simulated minute.
//
//   node www/bench/speed.mjs [--seconds 60] [--runs 5] [--warmup-ms 2000] [--raftscope DIR]
//
// Ours runs the way the page runs it: one call per 100 ms of simulated time, each handing
// the page a whole frame (view, log lines, answers, trace hash), then a write to whoever
// the frame shows leading; and, for comparison, the run that recorded (the same writes at
// the same moments, as a scenario) replayed in one call. RaftScope's model
// is time-stepped at 1 ms, as its page steps it. Reported: simulated time / wall time
// (best and median of N runs, after a warm-up of at least --warmup-ms of wall time), and
// the ratio of the two; also the first run of each, cold. The warm-up is by time, not by
// count, because V8 moves wasm functions from its baseline compiler to its optimizing one
// as they get hot: in a fresh process the frame workload takes 5 to 14 runs (0.3-0.5 s)
// to settle at its steady speed, so a single warm-up run measured tier-up as much as the
// simulator (best of 7 ranged 1 900-3 300x from one process to the next).
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';
import { initSync, Sim } from '../pkg/duckgoose_wasm.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const seconds = Number(arg('seconds', 60));
const runs = Number(arg('runs', 5));
const warmupMs = Number(arg('warmup-ms', 2000));
if (!(seconds > 0) || !Number.isInteger(runs) || runs < 1 || !(warmupMs >= 0)) {
  throw new Error('--seconds: above 0; --runs: a whole number from 1; --warmup-ms: 0 or more');
}
const raftscopeDir = arg('raftscope', path.join(here, '../../../shared/anchors/raftscope'));
const simulatedMs = seconds * 1000;

initSync({ module: fs.readFileSync(path.join(here, '../pkg/duckgoose_wasm_bg.wasm')) });

// Ours, as the page drives it; returns the run as a scenario for the one-call replay.
function runOurs() {
  const sim = new Sim({ nodes: 5, seed: 7, timings: 'raftscope' });
  let leader = 1;
  let writes = 0;
  const start = performance.now();
  for (let t = 100; t <= simulatedMs; t += 100) {
    const frame = sim.runUntil(t);
    for (const node of frame.view.nodes) if (node.role === 'leader') leader = node.id;
    writes += 1;
    sim.act(`request ${leader} put k${writes % 8} ${writes}`);
  }
  const wall = performance.now() - start;
  const result = { wall, ...outcome('ours', sim.runUntil(simulatedMs)), scenario: sim.scenario() };
  sim.free();
  return result;
}

function runOursInOneCall(scenario) {
  const sim = Sim.fromScenario(scenario);
  const start = performance.now();
  const frame = sim.runUntil(simulatedMs);
  const wall = performance.now() - start;
  const result = { wall, ...outcome('ours in one call', frame) };
  sim.free();
  return result;
}

function outcome(label, frame) {
  if (frame.view.violations.length) throw new Error(`${label}: an invariant failed`);
  if (!frame.view.nodes.some((n) => n.role === 'leader')) throw new Error(`${label}: no leader`);
  return { committed: Math.max(...frame.view.nodes.map((n) => n.commit_index)) };
}

// RaftScope's model, as its page builds it (script.js), without the drawing.
function loadRaftScope() {
  const context = {
    Math,
    console,
    // util.mapValues uses jQuery's $.map over an object's values.
    $: { map: (m, f) => Object.values(m).map(f) },
  };
  vm.createContext(context);
  for (const file of ['util.js', 'raft.js']) {
    const source = fs.readFileSync(path.join(raftscopeDir, file), 'utf8');
    // Both files declare top-level `var`s; run them as one script so they share scope.
    vm.runInContext(source, context, { filename: file });
  }
  vm.runInContext('this.raft = raft; this.util = util;', context);
  return context;
}

function runRaftScope(context) {
  const { raft } = context;
  const ids = [1, 2, 3, 4, 5];
  const model = { servers: [], messages: [], time: 0 };
  for (const id of ids) model.servers.push(raft.server(id, ids.filter((p) => p !== id)));
  let writes = 0;
  const start = performance.now();
  for (let ms = 1; ms <= simulatedMs; ms++) {
    model.time = ms * 1000; // RaftScope's time is in microseconds
    raft.update(model);
    if (ms % 100 === 0) {
      const leader = model.servers.find((s) => s.state === 'leader');
      if (leader) raft.clientRequest(model, leader);
      writes += 1;
    }
  }
  const wall = performance.now() - start;
  const committed = Math.max(...model.servers.map((s) => s.commitIndex));
  if (!model.servers.some((s) => s.state === 'leader')) throw new Error('RaftScope: no leader');
  return { wall, writes, committed };
}

function best(label, fn) {
  const cold = fn();
  for (let spent = cold.wall; spent < warmupMs;) spent += fn().wall; // JIT, wasm tier-up
  const results = [];
  for (let i = 0; i < runs; i++) results.push(fn());
  results.sort((a, b) => a.wall - b.wall);
  const r = results[0];
  const speed = simulatedMs / r.wall;
  const median = simulatedMs / results[Math.floor(results.length / 2)].wall;
  console.log(
    `| ${label} | ${r.wall.toFixed(1)} ms | ${Math.round(speed).toLocaleString('en')}× ` +
      `| ${Math.round(median).toLocaleString('en')}× | ${Math.round(simulatedMs / cold.wall).toLocaleString('en')}× | ${r.committed} |`,
  );
  return speed;
}

const context = loadRaftScope();
console.log(`Simulation speed, ${seconds} simulated s, 5 nodes, RaftScope timings, a write every 100 ms, best of ${runs} after ${warmupMs} ms of warm-up (Node ${process.version})\n`);
console.log('| simulator | wall (best) | simulated / wall (best) | median | first run (cold) | entries committed |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
const ours = best('duckgoose wasm, a frame every 100 ms', runOurs);
const { scenario } = runOurs();
const oursOneCall = best('duckgoose wasm, the same run in one call', () => runOursInOneCall(scenario));
const theirs = best('RaftScope raft.js, 1 ms steps', () => runRaftScope(context));
console.log(`\nratio, frames every 100 ms: ${(ours / theirs).toFixed(1)}× RaftScope (goal: ours ≥ 2 000× real time: ${ours >= 2000 ? 'met' : 'missed'})`);
console.log(`ratio, one call: ${(oursOneCall / theirs).toFixed(1)}× RaftScope`);
