// <duck-duck-goose>: a whole simulated Raft cluster in a web page.
//
//   <script type="module" src="duck-duck-goose.js"></script>
//   <duck-duck-goose nodes="5" seed="42" scenario="minority-partition"
//                    controls="minimal" speed="0.1" autoplay></duck-duck-goose>
//
// Rust (compiled to wasm) owns the cluster; this file only draws it. One call per
// animation frame, `sim.frame(dt)`, advances virtual time and returns the view, the new
// event-log lines and the answers to client requests. No frames run while paused, while
// the tab is hidden or while the element is scrolled out of view.
//
// Every node is an SVG <g> with data-node-id and data-role="goose|duck|down".
// See docs/playground.md for the attributes, methods and events.

import init, { Sim } from './pkg/duckgoose_wasm.js';
import { SCENARIOS, findSeed } from './scenarios.js';

let wasmReady = null;
let firstDrawn = false; // for the load-time benchmark: performance.mark('ddg-first-draw')
const loadWasm = () => (wasmReady ??= init());

const SVGNS = 'http://www.w3.org/2000/svg';
// The stage's coordinate space: zones side by side, or stacked on narrow screens.
const LANDSCAPE = [960, 500];
const PORTRAIT = [520, 820];
const R = 30;
const TOP = 8;
const ZONES = 3;
const INVARIANTS = [
  ['election safety', 'at most one leader per term'],
  ['log matching', 'same index and term, same entry'],
  ['leader completeness', 'new leaders hold every committed entry'],
  ['state machine safety', 'every node applies the same entries'],
  ['one goose per term', 'at most one node answers goose in a term'],
  ['goose needs a quorum', 'goose answers are backed by a quorum'],
  ['no stale goose', 'no goose answer behind a newer leader'],
  ['linearizable goose', 'goose answers respect real time'],
  ['one goose at a time', 'at most one node shows goose'],
  ['no minority goose', 'a goose is never cut off from its quorum'],
];
const KIND = {
  Heartbeat: ['#8ea6c6', 4.5], Append: ['#2f6fdf', 7], AppendReply: ['#93bdf5', 4.5],
  PreVote: ['#a77be6', 5.5], PreVoteReply: ['#d2bdf4', 4.5], Vote: ['#ee8a2a', 6],
  VoteReply: ['#f6c289', 4.5], TimeoutNow: ['#e0445a', 7],
};
const ROLE_TEXT = { follower: 'follower', pre_candidate: 'pre-candidate', candidate: 'candidate', leader: 'leader' };

const CSS = `
:host { display: block; position: relative; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
  color: #1d2330; --gold: #f2b01e; --ink: #1d2330; --mute: #667085; --line: #d9dee7; --panel: #ffffff;
  --bg: #f6f4ee; --accent: #2f6fdf; --bad: #d92d45; --ok: #1f9d63; }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
button, input, select { font: inherit; color: inherit; }
button { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 4px 10px; cursor: pointer; }
button:hover:not(:disabled) { border-color: #9aa7bd; background: #f8fafc; }
button:disabled { opacity: .45; cursor: default; }
button.primary { background: var(--ink); color: #fff; border-color: var(--ink); }
button.gold { background: #fff6dc; border-color: #ecc35a; }
.wrap { background: var(--bg); border: 1px solid #e4e1d6; border-radius: 14px; overflow: hidden; }
.bar { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; padding: 8px 12px; background: #fff; border-bottom: 1px solid #ebe8de; }
.bar .play { min-width: 84px; font-weight: 600; }
.bar label { display: inline-flex; align-items: center; gap: 6px; color: var(--mute); }
.bar input[type=range].speed { width: 120px; }
.bar output { min-width: 52px; font-variant-numeric: tabular-nums; color: var(--ink); font-weight: 600; }
.clock { font-variant-numeric: tabular-nums; font-weight: 600; min-width: 84px; }
.timeline { flex: 1 1 180px; min-width: 120px; }
.badge { font-size: 12px; padding: 2px 8px; border-radius: 99px; background: #e8f6ef; color: #17724a; }
.badge.replay { background: #eef2ff; color: #3446b5; }
.main { display: grid; grid-template-columns: minmax(0, 1fr) 290px; }
.stage-col { min-width: 0; display: flex; flex-direction: column; }
.head { display: flex; align-items: center; gap: 10px; padding: 8px 14px 0; min-height: 46px; }
.goose-card { display: flex; align-items: center; gap: 10px; font-size: 16px; }
.goose-card svg { width: 34px; height: 34px; flex: none; }
.goose-card b { font-size: 18px; }
.goose-card.none { color: var(--mute); }
.legend { margin-left: auto; display: flex; gap: 10px; flex-wrap: wrap; font-size: 12px; color: var(--mute); }
.legend i { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 4px; vertical-align: -1px; }
svg.stage { width: 100%; height: auto; display: block; touch-action: none; user-select: none; -webkit-user-select: none; }
.caption { margin: 0 12px 10px; padding: 9px 12px; background: #fffbea; border: 1px solid #f1dc9a; border-radius: 10px; min-height: 20px; }
.caption[hidden] { display: none; }
.caption .title { font-weight: 700; margin-right: 6px; }
.hint { font-size: 12px; color: var(--mute); padding: 0 14px 8px; }
aside { border-left: 1px solid #ebe8de; background: #fbfaf7; padding: 10px; display: flex; flex-direction: column; gap: 10px; }
section.card { contain: content; background: var(--panel); border: 1px solid #e8e5db; border-radius: 10px; padding: 9px 10px; }
section.card h3 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); }
.row { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.row label { display: inline-flex; gap: 4px; align-items: center; color: var(--mute); font-size: 13px; }
input[type=text], input[type=number], select { border: 1px solid var(--line); border-radius: 6px; padding: 3px 6px; background: #fff; }
input[type=number] { width: 62px; }
input.key, input.val { width: 74px; }
input.seed { width: 96px; }
.muted { color: var(--mute); font-size: 13px; }
.node-title { font-weight: 700; font-size: 15px; }
.kv { display: grid; grid-template-columns: auto 1fr; gap: 0 10px; font-size: 13px; margin: 4px 0 6px; }
.kv span:nth-child(odd) { color: var(--mute); }
.scen-row { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; padding: 7px 12px; background: #fdfcf8; border-bottom: 1px solid #ebe8de; }
.scen { display: contents; }
.scen button { font-size: 13px; padding: 4px 10px; border-radius: 99px; }
.scen button.on { background: #fff6dc; border-color: #ecc35a; font-weight: 600; }
.share-out { width: 100%; margin-top: 6px; font-size: 12px; }
.bottom { border-top: 1px solid #ebe8de; }
.bottom > section { padding: 10px 12px; min-width: 0; }
.state { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 12px; padding: 0 12px 12px; align-items: start; }
.state h3, .bottom h3 { margin: 0 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--mute); display: flex; gap: 8px; align-items: center; }
.bottom h3 label { text-transform: none; letter-spacing: 0; font-weight: 400; margin-left: auto; }
.state h3 span { text-transform: none; letter-spacing: 0; font-weight: 400; }
.logwrap { overflow-x: auto; }
.inv { border-radius: 10px; padding: 8px 10px; background: #eefaf3; border: 1px solid #bfe8d1; }
.inv.bad { background: #fff0f1; border-color: #f2a7b1; }
.inv .sum { font-weight: 700; color: var(--ok); }
.inv.bad .sum { color: var(--bad); }
.inv ul { list-style: none; margin: 4px 0 0; padding: 0; display: grid; grid-template-columns: 1fr 1fr; gap: 1px 12px; font-size: 12px; }
.inv li::before { content: "✓ "; color: var(--ok); font-weight: 700; }
.inv li.bad { color: var(--bad); font-weight: 700; }
.inv li.bad::before { content: "✗ "; color: var(--bad); }
.inv .offense { margin-top: 6px; font-size: 13px; color: var(--bad); font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; }
table.logs { border-collapse: separate; border-spacing: 3px; font-size: 12px; }
table.logs th { color: var(--mute); font-weight: 500; text-align: right; padding-right: 4px; }
table.logs thead th { text-align: center; font-size: 11px; }
table.logs td { width: 26px; height: 22px; text-align: center; border-radius: 5px; border: 1.5px dashed #c4ccd8; color: #334; font-variant-numeric: tabular-nums; }
table.logs td.e.c { border-style: solid; border-color: rgba(0,0,0,.25); font-weight: 700; }
table.logs td.e:not(.c) { background: #fff !important; }
table.logs td.none { border: none; }
table.logs tr.down th { text-decoration: line-through; }
table.logs tr.goose th { color: #9a6b00; font-weight: 800; }
.events { contain: strict; display: flex; flex-direction: column-reverse; font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; height: 230px; overflow: auto; background: #fff; border: 1px solid #ebe8de; border-radius: 8px; padding: 4px 6px; }
.events div { white-space: pre-wrap; }
.events time { color: #98a2b3; margin-right: 8px; }
.events .k-leader, .events .k-goose { color: #9a6b00; font-weight: 700; }
.events .k-stepdown { color: #b54708; font-weight: 600; }
.events .k-deny { color: #b42318; }
.events .k-vote { color: #175cd3; }
.events .k-action { color: #6941c6; font-weight: 600; }
.events .k-reply { color: #027a48; }
.events .k-violation { color: #fff; background: var(--bad); font-weight: 700; }
.events .k-message, .events .k-drop, .events .k-commit { color: #98a2b3; }
.ticker { padding: 0 14px 10px; font-size: 13px; color: var(--mute); min-height: 28px; }
.err { position: absolute; left: 50%; top: 10px; transform: translateX(-50%); background: var(--bad); color: #fff; padding: 6px 12px; border-radius: 8px; font-size: 13px; z-index: 5; box-shadow: 0 4px 14px rgba(0,0,0,.15); }
[data-controls=minimal] .full-only, [data-controls=none] .full-only, [data-controls=none] .bar { display: none !important; }
[data-controls=minimal] .main, [data-controls=none] .main { grid-template-columns: 1fr; }
[data-controls=full] .min-only { display: none !important; }
@media (max-width: 600px) {
  .legend, .hint { display: none; }
  .bar input[type=range].speed { width: 90px; }
}
@media (max-width: 860px) {
  .main { grid-template-columns: 1fr; }
  aside { border-left: none; border-top: 1px solid #ebe8de; }
  .state { grid-template-columns: 1fr; }
}
/* stage */
.zone rect { stroke-width: 1.5; }
.zone.z0 rect { fill: #e6f2ec; stroke: #c3dfd0; }
.zone.z1 rect { fill: #ebeefb; stroke: #c9d0f1; }
.zone.z2 rect { fill: #fbefe4; stroke: #efd3bb; }
.zone.empty rect { fill: rgba(255,255,255,.55); stroke-dasharray: 7 6; stroke: #c7ccd6; }
.zone.drop rect { stroke: var(--accent); stroke-width: 3; stroke-dasharray: none; }
.zone text { font-size: 13px; fill: #7b8496; font-weight: 600; letter-spacing: .04em; }
.zone text.sub { font-weight: 400; font-size: 12px; letter-spacing: 0; }
.link { stroke: #c3cad6; stroke-width: 1.2; }
.link.cut { stroke: #e5828f; stroke-dasharray: 4 6; stroke-width: 1.2; opacity: .55; }
.link.oneway { stroke: #e27a2c; stroke-dasharray: 6 4; stroke-width: 2; opacity: 1; }
.link.custom { stroke: #7c5cd6; stroke-width: 2; }
.link.selected { stroke: var(--accent) !important; stroke-width: 3.5; opacity: 1; }
.linkhit { stroke: transparent; stroke-width: 14; cursor: pointer; }
.cutmark { fill: none; stroke: #d92d45; stroke-width: 2.5; stroke-linecap: round; }
.msg { stroke: #fff; stroke-width: 1.2; }
.msg.doomed { opacity: .35; stroke: #d92d45; }
.node { cursor: grab; outline: none; }
.node.dragging { cursor: grabbing; }
.node .body { fill: #fff; stroke: #7aa0cc; stroke-width: 3; }
.node .timer-bg { fill: none; stroke: #e4e8ef; stroke-width: 5; }
.node .timer { fill: none; stroke: #7aa0cc; stroke-width: 5; stroke-linecap: round; }
.node .timer.late { stroke: #ee8a2a; }
.node .halo { fill: #f2b01e; opacity: 0; }
.node .ring { fill: none; stroke: var(--gold); stroke-width: 6; opacity: 0; }
.node .idb { fill: #1d2330; }
.node .idt { fill: #fff; font-size: 13px; font-weight: 700; text-anchor: middle; dominant-baseline: central; }
.node[data-role=goose] .label { fill: #8a5a00; }
.node .label { font-size: 13px; text-anchor: middle; fill: #475467; font-weight: 600; paint-order: stroke; stroke: rgba(246,244,238,.9); stroke-width: 4px; }
.node .tag { opacity: 0; }
.node .tag rect { fill: var(--gold); }
.node .tag text { fill: #1d2330; font-size: 12px; font-weight: 800; letter-spacing: .12em; text-anchor: middle; dominant-baseline: central; }
.node .x { stroke: #d92d45; stroke-width: 5; stroke-linecap: round; opacity: 0; }
.node .pausebars { fill: #475467; opacity: 0; }
.node .sel { fill: none; stroke: var(--accent); stroke-width: 2.5; stroke-dasharray: 5 4; opacity: 0; }
.node.selected .sel, .node:focus-visible .sel { opacity: 1; }
.node:focus-visible .sel { stroke-dasharray: none; }
.node[data-role=goose] .halo { opacity: .22; }
.node[data-role=goose] .ring { opacity: 1; }
.node[data-role=goose] .tag { opacity: 1; }
.node[data-role=goose] .body { stroke: var(--gold); stroke-width: 4; fill: #fffdf5; }
.node.r-leader:not([data-role=goose]) .body { stroke: #d4a106; stroke-dasharray: 6 4; }
.node.r-candidate .body { stroke: #ee8a2a; }
.node.r-pre_candidate .body { stroke: #f3b56b; }
.node[data-role=down] .body { fill: #eceef2; stroke: #a0a8b6; }
.node[data-role=down] .icon { opacity: .25; }
.node[data-role=down] .x { opacity: 1; }
.node.paused .pausebars { opacity: .9; }
.node.paused .icon { opacity: .5; }
.node.nonmember .body { stroke-dasharray: 2 4; }
.vote { stroke: #fff; stroke-width: 1; }
.bubble rect { fill: #fff; stroke: #98a2b3; stroke-width: 1.2; }
.bubble.goose rect { fill: #fff6dc; stroke: var(--gold); stroke-width: 2; }
.bubble.duck rect { fill: #f2f4f7; }
.bubble text { font-size: 12.5px; fill: #1d2330; font-weight: 600; }
`;

// A white goose, side view: long neck, orange beak. Unmistakable next to round ducks.
const ICONS = `
<symbol id="goose" viewBox="0 0 64 64">
  <path d="M47 44 L60 36 L56 47 Z" fill="#f4f4f2" stroke="#3b4252" stroke-width="2" stroke-linejoin="round"/>
  <ellipse cx="38" cy="45" rx="19" ry="12" fill="#fbfbf9" stroke="#3b4252" stroke-width="2.2"/>
  <path d="M31 42 C40 37 49 40 53 45" fill="none" stroke="#b8bcc6" stroke-width="2.2" stroke-linecap="round"/>
  <path d="M24 42 C18 32 15 22 19 13" fill="none" stroke="#3b4252" stroke-width="10" stroke-linecap="round"/>
  <path d="M24 42 C18 32 15 22 19 13" fill="none" stroke="#fbfbf9" stroke-width="6" stroke-linecap="round"/>
  <circle cx="20" cy="12" r="6.5" fill="#fbfbf9" stroke="#3b4252" stroke-width="2.2"/>
  <path d="M25 10 L35 13.5 L25 16 Z" fill="#f08a24" stroke="#b85f10" stroke-width="1.4" stroke-linejoin="round"/>
  <circle cx="20.5" cy="10.8" r="1.6" fill="#1d2330"/>
  <path d="M33 57 L33 61 M42 57 L42 61" stroke="#f08a24" stroke-width="2.5" stroke-linecap="round"/>
</symbol>
<symbol id="duck" viewBox="0 0 64 64">
  <path d="M14 40 C14 54 50 58 54 42 C56 34 46 32 40 36 L30 36 C24 30 14 32 14 40 Z" fill="#ffd84d" stroke="#a77f00" stroke-width="2"/>
  <circle cx="39" cy="24" r="10.5" fill="#ffd84d" stroke="#a77f00" stroke-width="2"/>
  <path d="M48 23 C54 22 58 24 57 27 C54 29 50 28 48 27 Z" fill="#f08a24" stroke="#b85f10" stroke-width="1.4"/>
  <circle cx="41.5" cy="21.5" r="1.7" fill="#1d2330"/>
  <path d="M22 42 C28 40 34 42 37 46" fill="none" stroke="#d9a800" stroke-width="2" stroke-linecap="round"/>
</symbol>`;

const html = String.raw;
const TEMPLATE = html`
<style>${CSS}</style>
<div class="wrap" part="wrap">
  <div class="bar" part="bar">
    <button class="play" data-do="toggle" title="Play or pause (space)">▶ Play</button>
    <button class="full-only" data-do="step" title="Run to the next event (a delivery, a timer or a recorded action)">Step</button>
    <label title="Simulation speed: virtual time per real time (logarithmic)">speed
      <input class="speed" type="range" min="-2" max="2" step="0.01" value="-1" aria-label="speed"><output class="speed-out">0.10×</output></label>
    <span class="clock" title="virtual time">0.000 s</span>
    <input class="timeline full-only" type="range" min="0" max="0" step="1" value="0" aria-label="timeline: drag to replay any moment">
    <span class="badge live full-only">live</span>
    <button class="min-only" data-do="heal" title="Reconnect every zone">Heal</button>
    <button class="min-only" data-do="restart-run" title="Start this run over">Restart</button>
  </div>
  <div class="scen-row full-only"><span class="muted">Guided scenarios:</span><span class="scen"></span></div>
  <div class="main">
    <div class="stage-col">
      <div class="head">
        <div class="goose-card none" aria-live="polite"></div>
        <div class="legend full-only"></div>
      </div>
      <svg class="stage" viewBox="0 0 ${LANDSCAPE[0]} ${LANDSCAPE[1]}" role="application" aria-label="cluster: drag nodes between zones to partition the network">
        <defs>${ICONS}</defs>
        <g class="zones"></g><g class="links"></g><g class="msgs"></g><g class="nodes"></g><g class="bubbles"></g>
      </svg>
      <div class="caption" hidden></div>
      <div class="ticker min-only"></div>
      <div class="hint full-only">Drag nodes between zones to partition the network (or select a node and press 1, 2, 3). Keys on a selected node: <b>c</b> crash/restart, <b>p</b> pause/resume, <b>g</b> goose?, <b>t</b> transfer, <b>h</b> heal. Click a link for its loss and latency.</div>
      <div class="state full-only">
        <div class="inv"><div class="sum">All invariants hold</div><ul></ul><div class="offense"></div></div>
        <div class="logsec"><h3>Replicated logs <span>term per entry · solid = committed</span></h3><div class="logwrap"><table class="logs"></table></div></div>
      </div>
    </div>
    <aside class="full-only">
      <section class="card node-panel"><h3>Node</h3><div class="node-body muted">Click a node (or Tab to it) to select it.</div></section>
      <section class="card">
        <h3>Cluster</h3>
        <div class="row"><button data-do="add">+ Add node</button><button data-do="heal">Heal network</button></div>
        <div class="row"><label>key <input class="key" type="text" value="x" maxlength="32"></label><label>value <input class="val" type="text" value="1" maxlength="32"></label></div>
        <div class="row"><button data-do="put">Put → goose</button><button data-do="get">Get ← goose</button></div>
      </section>
      <section class="card">
        <h3>Network</h3>
        <div class="row"><label>loss <input class="g-loss" type="range" min="0" max="50" step="1" value="0"></label><output class="g-loss-out">0%</output></div>
        <div class="row"><label>latency <input class="g-lmin" type="number" min="0" max="5000" value="10">–<input class="g-lmax" type="number" min="0" max="5000" value="15"> ms</label></div>
        <div class="row" style="margin-top:8px"><label>link <select class="l-from"></select> → <select class="l-to"></select></label></div>
        <div class="row"><label><input class="l-cut" type="checkbox"> cut this direction</label></div>
        <div class="row"><label>loss <input class="l-loss" type="number" min="0" max="100" value="0">%</label><label><input class="l-lmin" type="number" min="0" max="5000" value="10">–<input class="l-lmax" type="number" min="0" max="5000" value="15"> ms</label></div>
        <div class="row"><button data-do="link-set">Set link</button><button data-do="link-reset">Use global</button></div>
      </section>
      <section class="card">
        <h3>Run</h3>
        <div class="row"><label>seed <input class="seed" type="text" inputmode="numeric" maxlength="16"></label>
          <label>nodes <select class="run-nodes">${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `<option>${n}</option>`).join('')}</select></label></div>
        <div class="row"><label>timings <select class="timings"><option value="paper">paper 150–300 ms</option><option value="raftscope">RaftScope 100–200 ms</option></select></label></div>
        <div class="row"><label><input class="prevote" type="checkbox" checked> PreVote</label><label><input class="checkquorum" type="checkbox" checked> CheckQuorum</label></div>
        <div class="row"><button class="primary" data-do="new-run">New run</button><button data-do="random-seed">Random seed</button><button data-do="share">Share</button></div>
        <div class="row"><button data-do="export">Export run</button><button data-do="import">Import run…</button><input class="import-file" type="file" accept=".txt,text/plain" hidden></div>
        <input class="share-out" type="text" readonly hidden aria-label="shareable link">
      </section>
    </aside>
  </div>
  <div class="bottom full-only">
    <section>
      <h3>Event log <label><input class="verbose" type="checkbox"> messages</label></h3>
      <div class="events" role="log" aria-live="off"></div>
    </section>
  </div>
</div>`;

const fmtSpeed = (s) => (s >= 10 ? s.toFixed(0) : s >= 1 ? s.toFixed(1) : s.toFixed(2)) + '×';
const fmtTime = (ms) => (ms / 1000).toFixed(3) + ' s';
const termColor = (t) => (t === 0 ? '#e9ecf1' : `hsl(${(t * 67 + 40) % 360} 70% 84%)`);

function b64urlEncode(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function b64urlDecode(text) {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

// Keys and values in action text: percent-encoded like the Rust side expects.
function enc(text) {
  const s = String(text);
  if (s === '') return '%';
  let out = '';
  for (const b of new TextEncoder().encode(s)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9._~]/.test(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

function svg(tag, attrs, parent) {
  const el = document.createElementNS(SVGNS, tag);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(el);
  return el;
}
// setAttribute only when the value changed (keeps per-frame DOM work small).
function set(el, name, value) {
  const cache = (el._c ??= {});
  if (cache[name] !== value) { cache[name] = value; el.setAttribute(name, value); }
}
function setText(el, value) { if (el._t !== value) { el._t = value; el.textContent = value; } }
function toggle(el, cls, on) { if (el.classList.contains(cls) !== on) el.classList.toggle(cls, on); }

export class DuckDuckGoose extends HTMLElement {
  static get observedAttributes() { return ['speed', 'controls']; }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = TEMPLATE;
    const $ = (s) => this.shadowRoot.querySelector(s);
    this.$ = $;
    this.ui = {
      wrap: $('.wrap'), stage: $('svg.stage'), zones: $('g.zones'), links: $('g.links'), msgs: $('g.msgs'),
      nodes: $('g.nodes'), bubbles: $('g.bubbles'), play: $('.play'), speed: $('input.speed'),
      speedOut: $('.speed-out'), clock: $('.clock'), timeline: $('.timeline'), badge: $('.badge'),
      card: $('.goose-card'), caption: $('.caption'), ticker: $('.ticker'), events: $('.events'),
      logs: $('table.logs'), inv: $('.inv'), nodePanel: $('.node-body'), legend: $('.legend'),
    };
    this.sim = null;
    this.frame = null;
    this.playing = false;
    this.speed = 0.1;
    this.selected = null;
    this.selectedLink = null;
    this.pos = new Map(); // id -> {x, y, tx, ty}
    this.nodeEls = new Map();
    this.msgEls = new Map();
    this.linkEls = new Map();
    this.zoneRects = [];
    this.zoneEls = [];
    this.pending = new Map(); // request id -> {resolve, what}
    this.bubbles = [];
    this.director = null;
    this.violationSeen = 0;
    this._raf = 0;
    this._last = 0;
    this._hidden = document.hidden;
    this._offscreen = false;
    this.ready = new Promise((resolve, reject) => { this._resolveReady = resolve; this._rejectReady = reject; });
    this._loop = this._loop.bind(this);
    this.portrait = false;
    this.size = LANDSCAPE;
    this._buildStatic();
  }

  connectedCallback() {
    this.ui.wrap.dataset.controls = this._controls();
    if (!this._booted) {
      this._booted = true;
      this._boot().catch((e) => { this._error(e); this._rejectReady(e); });
    }
    this._onVisibility = () => { this._hidden = document.hidden; this._wake(); };
    document.addEventListener('visibilitychange', this._onVisibility);
    if ('ResizeObserver' in window) {
      this._ro = new ResizeObserver((entries) => this._resize(entries[0].contentRect.width));
      this._ro.observe(this);
    }
    if ('IntersectionObserver' in window) {
      this._io = new IntersectionObserver((entries) => {
        this._offscreen = !entries.some((e) => e.isIntersecting);
        this._wake();
      });
      this._io.observe(this);
    }
  }

  disconnectedCallback() {
    document.removeEventListener('visibilitychange', this._onVisibility);
    this._io?.disconnect();
    this._ro?.disconnect();
    if (this._raf) cancelAnimationFrame(this._raf);
    this._raf = 0;
  }

  attributeChangedCallback(name, _old, value) {
    if (name === 'speed' && value != null) this.speed = this._clampSpeed(Number(value));
    if (name === 'controls') this.ui.wrap.dataset.controls = this._controls();
    this._syncSpeed();
  }

  _controls() {
    const c = this.getAttribute('controls');
    return c === 'full' || c === 'none' ? c : 'minimal';
  }

  _clampSpeed(s) { return Number.isFinite(s) ? Math.min(100, Math.max(0.01, s)) : 0.1; }

  _syncSpeed() {
    this.ui.speed.value = String(Math.log10(this.speed));
    this.ui.speedOut.value = fmtSpeed(this.speed);
  }

  // ---- Boot ----------------------------------------------------------------------------

  async _boot() {
    if (this.hasAttribute('speed')) this.speed = this._clampSpeed(Number(this.getAttribute('speed')));
    this._syncSpeed();
    await loadWasm();
    const fromUrl = this.hasAttribute('url-state') ? this._readUrl() : null;
    const scenario = this.getAttribute('scenario');
    if (fromUrl?.run) {
      this.load(fromUrl.run, fromUrl.t);
      this._caption('Shared run', `Replayed to ${fmtTime(this.frame.view.now)} from the link: same seed, same actions, same trace (hash ${this.frame.hash}). Press play to continue.`);
    } else if (scenario && SCENARIOS[scenario]) {
      this.startScenario(scenario, { autoplay: this.hasAttribute('autoplay') });
    } else {
      this.reset({ ...this._attrOptions(), ...(fromUrl?.options ?? {}) });
      if (this.hasAttribute('autoplay')) this.play();
    }
    this._resolveReady(this);
    this.dispatchEvent(new CustomEvent('ready', { detail: { seed: this.seed } }));
  }

  _attrOptions() {
    const o = {};
    const num = (a) => (this.hasAttribute(a) ? Number(this.getAttribute(a)) : undefined);
    if (this.hasAttribute('nodes')) o.nodes = num('nodes');
    if (this.hasAttribute('seed') && this.getAttribute('seed') !== '') o.seed = num('seed');
    if (this.hasAttribute('timings')) o.timings = this.getAttribute('timings');
    if (this.hasAttribute('pre-vote')) o.preVote = this.getAttribute('pre-vote') !== 'false';
    if (this.hasAttribute('check-quorum')) o.checkQuorum = this.getAttribute('check-quorum') !== 'false';
    return o;
  }

  _readUrl() {
    const p = new URLSearchParams(location.hash.slice(1));
    try {
      if (p.has('run')) return { run: b64urlDecode(p.get('run')), t: Number(p.get('t') ?? 0) };
    } catch (e) {
      this._error(new Error('the shared link is damaged: ' + e.message));
    }
    const options = {};
    if (p.has('seed')) options.seed = Number(p.get('seed'));
    if (p.has('nodes')) options.nodes = Number(p.get('nodes'));
    return { options };
  }

  // ---- Public API -----------------------------------------------------------------------

  /** Starts a new run: `{nodes, seed, timings, preVote, checkQuorum, electionMin, ...}`. */
  reset(options = {}) {
    const clean = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && !Number.isNaN(v)));
    this._install(new Sim(clean));
    for (const b of this.shadowRoot.querySelectorAll('.scen button.on')) b.classList.remove('on');
    this.director = null;
    this._caption(null);
    this._writeUrl();
    return this;
  }

  /** Loads an exported run (the text of `el.scenarioData`) and jumps to virtual time `t`. */
  load(scenario, t = 0) {
    const sim = Sim.fromScenario(String(scenario));
    this._install(sim);
    this.director = null;
    this._caption(null);
    this._apply(sim.seek(Math.max(0, Math.min(Number(t) || 0, 86_400_000))), true);
    return this;
  }

  _install(sim) {
    this.pause();
    this.sim?.free();
    this.sim = sim;
    this.sim.setVerbose(!!this.$('.verbose')?.checked);
    this.frame = null;
    this.selected = null;
    this.selectedLink = null;
    this.violationSeen = 0;
    this.ui.events.textContent = '';
    this._pendingLines = [];
    this._logRows = 0;
    for (const p of this.pending.values()) p.resolve(null);
    this.pending.clear();
    this.bubbles = [];
    this._apply(sim.frame(0), true);
    this._syncRunPanel();
  }

  play() { if (this.sim) { this.playing = true; this._wake(); this._syncPlay(); } return this; }
  pause() { this.playing = false; this._syncPlay(); return this; }
  /** Runs to the next event. */
  step() { this.pause(); this._apply(this.sim.step()); this._draw(); return this; }
  /** Runs `ms` of virtual time at once (no drawing in between); returns a summary. */
  run(ms) {
    this._apply(this.sim.runUntil(this.sim.now + Math.max(0, Number(ms) || 0)));
    this._draw();
    return { time: this.time, goose: this.goose, hash: this.hash };
  }
  /** Jumps to virtual time `ms`, backwards by deterministic replay. */
  seek(ms) { this._apply(this.sim.seek(Math.max(0, Number(ms) || 0)), true); this._draw(); return this; }

  /** `[[1, 2], [3, 4, 5]]`: nodes in different groups cannot talk (unnamed nodes form one more). */
  partition(groups) { return this._act(`partition ${groups.map((g) => (g.length ? g.map(Number).join(',') : '-')).join('/')}`); }
  heal() { return this._act('heal'); }
  crash(node) { return this._act(`crash ${Number(node)}`); }
  restart(node) { return this._act(`restart ${Number(node)}`); }
  pauseNode(node) { return this._act(`pause ${Number(node)}`); }
  resumeNode(node) { return this._act(`resume ${Number(node)}`); }
  transfer(to) { return this._act(`transfer ${Number(to)}`); }
  /** Cuts (or with `cut = false` restores) the one-way link `from → to`. */
  cutLink(from, to, cut = true) { return this._act(`link ${Number(from)} ${Number(to)} ${cut ? 'cut' : 'ok'}`); }
  /** `{loss: percent, latencyMin, latencyMax}` on every link. */
  setNetwork({ loss = 0, latencyMin = 10, latencyMax = 15 } = {}) {
    return this._try(() => this.sim.setNetwork(loss, latencyMin, latencyMax));
  }
  /** Per-link faults; `null` returns the link to the global setting. */
  setLink(from, to, faults) {
    const f = faults ?? {};
    return this._try(() => this.sim.setLink(from, to, f.loss ?? 0, f.latencyMin ?? 10, f.latencyMax ?? 15, faults == null));
  }
  /** Starts a new node and asks the goose to add it; returns its id. */
  addNode() {
    const id = this.sim.nextNodeId();
    if (id == null) { this._error(new Error('at most 9 nodes (ids are never reused)')); return null; }
    if (this.frame.zones.length) {
      // Keep the partition as drawn: the newcomer joins zone 1.
      const z = this._zones().map((g) => [...g]);
      z[0].push(id);
      if (this._act(`add ${id}`) === false) return null;
      this.partition(z);
      return id;
    }
    return this._act(`add ${id}`) === false ? null : id;
  }
  removeNode(node) { return this._act(`remove ${Number(node)}`); }
  /** Asks node `node` "are you the goose?"; resolves to the answer (see docs). */
  askGoose(node) { return this._request(Number(node), 'goose', 'goose?'); }
  /** Client put, sent to the goose (or the leader, or node 1). */
  put(key, value) { return this._request(this._target(), `put ${enc(key)} ${enc(value)}`, `put ${key}=${value}`); }
  get(key) { return this._request(this._target(), `get ${enc(key)}`, `get ${key}`); }

  get goose() { return this.frame?.view.goose ?? null; }
  get time() { return this.frame?.view.now ?? 0; }
  get hash() { return this.frame?.hash ?? null; }
  get seed() { return this.sim ? this.sim.seed : null; }
  get view() { return this.frame?.view ?? null; }
  /** The recorded run as text: a config line, then one `MS ACTION` line per action. */
  get scenarioData() { return this.sim.scenario(); }
  /** The recorded run in the core's serde JSON form. */
  get scenarioJson() { return this.sim.scenarioJson(); }
  /** A link that reproduces this run up to now, on this page. */
  shareUrl() {
    const data = this.sim.scenario();
    const url = new URL(location.href);
    url.hash = `run=${b64urlEncode(data)}&t=${this.time}`;
    return url.toString();
  }

  // ---- Actions ----------------------------------------------------------------------------

  _try(fn) {
    try {
      const r = fn();
      this._apply(this.sim.frame(0));
      this._draw(); // show the effect at once (data-role and all), not on the next frame
      return r ?? true;
    } catch (e) { this._error(e); return false; }
  }

  _act(action) {
    return this._try(() => this.sim.act(action));
  }

  _target() {
    const v = this.frame.view;
    return v.goose ?? v.nodes.find((n) => n.role === 'leader' && n.status === 'up')?.id ?? v.nodes.find((n) => n.status === 'up')?.id ?? v.nodes[0].id;
  }

  _request(node, request, what) {
    return new Promise((resolve) => {
      let id;
      try { id = this.sim.act(`request ${node} ${request}`); } catch (e) { this._error(e); resolve(null); return; }
      this.pending.set(id, { resolve, what, node });
      this._apply(this.sim.frame(0));
    });
  }

  // ---- Frames -----------------------------------------------------------------------------

  _wake() {
    if (!this._raf && this.isConnected) this._raf = requestAnimationFrame(this._loop);
  }

  _running() { return this.playing && !this._hidden && !this._offscreen && !this._scrubbing; }

  _loop(ts) {
    this._inLoop = true;
    const dt = this._last ? Math.min(ts - this._last, 100) : 16;
    this._last = ts;
    try {
      if (this._running() && this.sim) this._apply(this.sim.frame(dt * this.speed));
      const moving = this._animate(dt);
      this._draw();
      if (this._running() || moving) this._raf = requestAnimationFrame(this._loop);
      else { this._raf = 0; this._last = 0; }
    } catch (e) {
      this._raf = 0;
      this.pause();
      this._error(e);
    } finally {
      this._inLoop = false;
    }
  }

  // Takes a frame from the simulator: remembers it, updates panels, fires events.
  _apply(frame, reset = false) {
    const prev = this.frame;
    this.frame = frame;
    if (reset) { this.ui.events.textContent = ''; this._pendingLines = []; this._logRows = 0; }
    this._lines(frame.lines);
    for (const a of frame.answers) {
      const p = this.pending.get(a.id);
      if (!p) continue;
      this.pending.delete(a.id);
      this._bubble(a.node, a.goose != null ? `HONK! goose of term ${a.goose}` : a.text, a.goose != null ? 'goose' : a.duck ? 'duck' : '');
      const detail = { ...a, request: p.what };
      p.resolve(detail);
      this.dispatchEvent(new CustomEvent('answer', { detail }));
    }
    this._relayout();
    this._panels(prev);
    if (this.director) this._direct(frame);
    if ((prev?.view.goose ?? null) !== frame.view.goose && !reset) {
      const g = frame.view.nodes.find((n) => n.id === frame.view.goose);
      this.dispatchEvent(new CustomEvent('goosechange', {
        detail: { goose: frame.view.goose ?? null, previous: prev?.view.goose ?? null, term: g?.term ?? null, time: frame.view.now },
      }));
    }
    if (frame.view.violations.length > this.violationSeen) {
      this.violationSeen = frame.view.violations.length;
      this.dispatchEvent(new CustomEvent('violation', { detail: { violations: frame.view.violations, time: frame.view.now } }));
    }
    if (!this._inLoop) this._wake();
  }

  _zones() {
    const ids = this.frame.view.nodes.map((n) => n.id);
    const z = this.frame.zones;
    if (!z.length) return [ids, [], []];
    const out = [0, 1, 2].map((i) => [...(z[i] ?? [])]);
    for (let i = 3; i < z.length; i++) out[2].push(...z[i]);
    return out;
  }

  // ---- Layout -----------------------------------------------------------------------------

  _relayout() {
    const zones = this._zones();
    const key = JSON.stringify(zones);
    if (key === this._layoutKey) return;
    this._layoutKey = key;
    const [W, H] = this.size;
    const weights = zones.map((z) => (z.length ? z.length + 1.6 : 1.5));
    const total = weights.reduce((a, b) => a + b, 0);
    const pad = 10;
    let at = pad;
    this.zoneRects = zones.map((z, i) => {
      let r;
      if (this.portrait) {
        const h = ((H - pad * (ZONES + 1)) * weights[i]) / total;
        r = { x: pad, y: at, w: W - 2 * pad, h };
        at += h + pad;
      } else {
        const w = ((W - pad * (ZONES + 1)) * weights[i]) / total;
        r = { x: at, y: TOP, w, h: H - TOP - pad };
        at += w + pad;
      }
      return r;
    });
    zones.forEach((z, i) => {
      const r = this.zoneRects[i];
      const cx = r.x + r.w / 2;
      const cy = r.y + r.h / 2 + 10;
      const n = z.length;
      const rad = n <= 1 ? 0 : Math.max(48, Math.min(r.w / 2 - 52, r.h / 2 - 70, 40 + n * 24));
      // Two nodes sit side by side in a wide zone, one above the other in a tall one.
      const start = n === 2 && r.w > r.h ? Math.PI : -Math.PI / 2;
      z.forEach((id, k) => {
        const a = start + (2 * Math.PI * k) / n;
        const tx = cx + rad * Math.cos(a);
        const ty = cy + rad * Math.sin(a);
        const p = this.pos.get(id);
        if (p) { p.tx = tx; p.ty = ty; } else this.pos.set(id, { x: tx, y: ty, tx, ty });
      });
    });
    for (const id of [...this.pos.keys()]) if (!zones.some((z) => z.includes(id))) this.pos.delete(id);
    this._drawZones(zones);
  }

  _animate(dt) {
    let moving = false;
    const k = Math.min(1, dt / 110);
    for (const [id, p] of this.pos) {
      if (this.drag?.id === id && this.drag.moved) continue;
      const dx = p.tx - p.x;
      const dy = p.ty - p.y;
      if (Math.abs(dx) + Math.abs(dy) < 0.3) { p.x = p.tx; p.y = p.ty; continue; }
      p.x += dx * k;
      p.y += dy * k;
      moving = true;
    }
    const now = performance.now();
    const before = this.bubbles.length;
    this.bubbles = this.bubbles.filter((b) => b.until > now);
    if (this.bubbles.length !== before) this._drawBubbles();
    return moving || this.bubbles.length > 0;
  }

  // ---- Drawing ----------------------------------------------------------------------------

  _buildStatic() {
    this.ui.legend.innerHTML = Object.entries(KIND)
      .filter(([k]) => !k.endsWith('Reply'))
      .map(([k, [c]]) => `<span><i style="background:${c}"></i>${k}</span>`).join('');
    const scen = this.$('.scen');
    for (const [name, s] of Object.entries(SCENARIOS)) {
      const b = document.createElement('button');
      b.textContent = s.title;
      b.title = s.blurb;
      b.dataset.scenario = name;
      scen.appendChild(b);
    }
    for (let i = 0; i < ZONES; i++) {
      const g = svg('g', { class: `zone z${i}` }, this.ui.zones);
      svg('rect', { rx: 16 }, g);
      const t = svg('text', {}, g);
      const s = svg('text', { class: 'sub' }, g);
      this.zoneEls.push({ g, rect: g.firstChild, t, s });
    }
    const inv = this.ui.inv.querySelector('ul');
    inv.innerHTML = INVARIANTS.map(([n, d]) => `<li data-inv="${n}" title="${d}">${n}</li>`).join('');
    this._wire();
  }

  _drawZones(zones) {
    const partitioned = zones.filter((z) => z.length).length > 1;
    zones.forEach((z, i) => {
      const { g, rect, t, s } = this.zoneEls[i];
      const r = this.zoneRects[i];
      set(rect, 'x', r.x.toFixed(1)); set(rect, 'y', r.y); set(rect, 'width', r.w.toFixed(1)); set(rect, 'height', r.h);
      set(t, 'x', (r.x + 14).toFixed(1)); set(t, 'y', r.y + 22);
      set(s, 'x', (r.x + 14).toFixed(1)); set(s, 'y', r.y + 39);
      setText(t, `ZONE ${i + 1}`);
      setText(s, z.length ? (partitioned ? `${z.length} node${z.length > 1 ? 's' : ''}` : 'connected') : 'drop a node here');
      toggle(g, 'empty', z.length === 0);
    });
  }

  _nodeEl(id) {
    let el = this.nodeEls.get(id);
    if (el) return el;
    const g = svg('g', { class: 'node', 'data-node-id': id, 'data-role': 'duck', tabindex: 0, role: 'button' }, this.ui.nodes);
    el = { g };
    el.halo = svg('circle', { class: 'halo', r: R + 21 }, g);
    el.ring = svg('circle', { class: 'ring', r: R + 6 }, g);
    svg('circle', { class: 'timer-bg', r: R + 7 }, g);
    el.timer = svg('circle', { class: 'timer', r: R + 7, pathLength: 100, 'stroke-dasharray': '0 100', transform: 'rotate(-90)' }, g);
    el.body = svg('circle', { class: 'body', r: R }, g);
    el.icon = svg('use', { class: 'icon', href: '#duck', x: -23, y: -24, width: 46, height: 46 }, g);
    el.x = svg('path', { class: 'x', d: 'M-14 -14 L14 14 M14 -14 L-14 14' }, g);
    el.pause = svg('path', { class: 'pausebars', d: 'M-9 -12 h6 v24 h-6 Z M3 -12 h6 v24 h-6 Z' }, g);
    el.sel = svg('circle', { class: 'sel', r: R + 14 }, g);
    svg('circle', { class: 'idb', cx: -R + 4, cy: -R + 4, r: 11 }, g);
    el.idt = svg('text', { class: 'idt', x: -R + 4, y: -R + 4 }, g);
    el.idt.textContent = id;
    el.votes = svg('g', {}, g);
    el.label = svg('text', { class: 'label', y: R + 24 }, g);
    el.tag = svg('g', { class: 'tag', transform: `translate(0 ${-R - 24})` }, g);
    svg('rect', { x: -36, y: -11, width: 72, height: 22, rx: 11 }, el.tag);
    svg('text', { x: 0, y: 0 }, el.tag).textContent = 'GOOSE';
    this.nodeEls.set(id, el);
    return el;
  }

  _draw() {
    const f = this.frame;
    if (!f) return;
    const v = f.view;
    const t = v.now + (f.carry ?? 0);
    const seen = new Set();
    const cut = new Set(v.cut.map(([a, b]) => `${a}>${b}`));
    // Links: one line per pair.
    const ids = v.nodes.map((n) => n.id);
    const linkSeen = new Set();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const a = ids[i], b = ids[j];
        const key = `${a}-${b}`;
        linkSeen.add(key);
        let l = this.linkEls.get(key);
        if (!l) {
          const g = svg('g', { 'data-link': key }, this.ui.links);
          l = { g, line: svg('line', { class: 'link' }, g), hit: svg('line', { class: 'linkhit' }, g), marks: svg('g', {}, g) };
          l.hit.addEventListener('click', () => this._selectLink(a, b));
          this.linkEls.set(key, l);
        }
        const pa = this.pos.get(a), pb = this.pos.get(b);
        if (!pa || !pb) continue;
        for (const el of [l.line, l.hit]) {
          set(el, 'x1', pa.x.toFixed(1)); set(el, 'y1', pa.y.toFixed(1)); set(el, 'x2', pb.x.toFixed(1)); set(el, 'y2', pb.y.toFixed(1));
        }
        const ab = cut.has(`${a}>${b}`), ba = cut.has(`${b}>${a}`);
        const cls = ab && ba ? 'link cut' : ab || ba ? 'link oneway' : (this._custom?.has(key) ? 'link custom' : 'link');
        const selected = this.selectedLink && ((this.selectedLink[0] === a && this.selectedLink[1] === b) || (this.selectedLink[0] === b && this.selectedLink[1] === a));
        set(l.line, 'class', cls + (selected ? ' selected' : ''));
        // A one-way cut: an ✕ near the end that no longer hears the other.
        const markKey = `${ab && !ba ? 'ab' : ''}${ba && !ab ? 'ba' : ''}|${pa.x.toFixed(0)},${pa.y.toFixed(0)},${pb.x.toFixed(0)},${pb.y.toFixed(0)}`;
        if (l.markKey !== markKey) {
          l.markKey = markKey;
          l.marks.textContent = '';
          const mark = (p, q) => {
            const mx = p.x + (q.x - p.x) * 0.7, my = p.y + (q.y - p.y) * 0.7;
            svg('path', { class: 'cutmark', d: `M${mx - 6} ${my - 6} L${mx + 6} ${my + 6} M${mx + 6} ${my - 6} L${mx - 6} ${my + 6}` }, l.marks);
          };
          if (ab && !ba) mark(pa, pb);
          if (ba && !ab) mark(pb, pa);
        }
      }
    }
    for (const [key, l] of this.linkEls) if (!linkSeen.has(key)) { l.g.remove(); this.linkEls.delete(key); }

    // Nodes. Timer rings repaint their whole node, so they move at most ~15 times a second.
    const wall = performance.now();
    const timers = !this._running() || wall - (this._timersAt ?? 0) > 66;
    if (timers) this._timersAt = wall;
    const quorum = Math.floor(v.nodes.filter((n) => n.member).length / 2) + 1;
    for (const n of v.nodes) {
      seen.add(n.id);
      const el = this._nodeEl(n.id);
      const p = this.pos.get(n.id);
      if (p) set(el.g, 'transform', `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})${n.goose ? ' scale(1.12)' : ''}`);
      const role = n.status === 'down' ? 'down' : n.goose ? 'goose' : 'duck';
      set(el.g, 'data-role', role);
      set(el.g, 'data-status', n.status);
      set(el.g, 'class', `node r-${n.role ?? 'down'}${n.status === 'paused' ? ' paused' : ''}${n.member ? '' : ' nonmember'}${this.selected === n.id ? ' selected' : ''}${this.drag?.id === n.id && this.drag.moved ? ' dragging' : ''}`);
      set(el.icon, 'href', n.goose ? '#goose' : '#duck');
      const what = n.status === 'down' ? 'down' : `${ROLE_TEXT[n.role]}${n.status === 'paused' ? ' (paused)' : ''}`;
      let label = n.status === 'down' ? `down · T${n.term}` : `${n.goose ? 'goose' : ROLE_TEXT[n.role]} · T${n.term}`;
      if (n.role === 'leader' && !n.goose && n.status !== 'down') label = `leader · T${n.term} · confirming`;
      if (n.role === 'candidate' || n.role === 'pre_candidate') {
        const got = n.votes.filter(([, g]) => g).length;
        label += ` · ${got}/${quorum} votes`;
      }
      if (!n.member && n.status !== 'down') label += ' · joining';
      if (n.status === 'paused') label += ' · paused';
      setText(el.label, label);
      // Keep the label inside the stage (nodes near an edge would cut it off).
      if (p) {
        const half = (label.length * 7.3) / 2;
        const dx = Math.max(4 - (p.x - half), Math.min(0, this.size[0] - 4 - (p.x + half)));
        set(el.label, 'x', dx.toFixed(0));
      }
      set(el.g, 'aria-label', `node ${n.id}: ${n.goose ? 'the goose, ' : ''}${what}, term ${n.term}`);
      // Election timer ring.
      if (!timers) { /* next time */ } else if (n.election_timer && n.status === 'up') {
        const [armed, fires] = n.election_timer;
        const frac = Math.max(0, Math.min(1, (t - armed) / Math.max(1, fires - armed)));
        set(el.timer, 'stroke-dasharray', `${Math.round(frac * 100)} 100`);
        toggle(el.timer, 'late', frac > 0.75);
      } else set(el.timer, 'stroke-dasharray', '0 100');
      // Votes: a dot per answer, green granted, red refused.
      const vkey = n.votes.map(([id, g]) => id + (g ? '+' : '-')).join(',');
      if (el.vkey !== vkey) {
        el.vkey = vkey;
        el.votes.textContent = '';
        n.votes.forEach(([id, granted], i) => {
          const a = -Math.PI / 2 + 0.5 + i * 0.36;
          svg('circle', { class: 'vote', r: 5.5, cx: (R + 17) * Math.cos(a), cy: (R + 17) * Math.sin(a), fill: granted ? '#1f9d63' : '#d92d45' }, el.votes)
            .appendChild(svg('title', {})).textContent = `${granted ? 'vote from' : 'refused by'} ${id}`;
        });
      }
    }
    for (const [id, el] of this.nodeEls) if (!seen.has(id)) { el.g.remove(); this.nodeEls.delete(id); }
    if (!firstDrawn && seen.size) { firstDrawn = true; performance.mark('ddg-first-draw'); }

    // Messages in flight.
    const live = new Set();
    for (const m of v.messages) {
      const pa = this.pos.get(m.from), pb = this.pos.get(m.to);
      if (!pa || !pb) continue;
      live.add(m.id);
      let c = this.msgEls.get(m.id);
      if (!c) {
        const [color, r] = KIND[m.kind] ?? ['#888', 5];
        c = svg('circle', { class: 'msg', r: m.kind === 'Append' ? Math.min(10, r + m.entries) : r, fill: color }, this.ui.msgs);
        c.appendChild(svg('title', {})).textContent = `${m.from} → ${m.to}: ${m.kind} (term ${m.term})`;
        this.msgEls.set(m.id, c);
      }
      const frac = Math.max(0, Math.min(1, (t - m.sent_at) / Math.max(1, m.deliver_at - m.sent_at)));
      const dx = pb.x - pa.x, dy = pb.y - pa.y, len = Math.hypot(dx, dy) || 1;
      // Offset each direction to its own side of the line, and stop at the node's edge.
      const ox = (-dy / len) * 5, oy = (dx / len) * 5;
      const s = R / len, e = 1 - R / len;
      const k = s + (e - s) * frac;
      set(c, 'cx', (pa.x + dx * k + ox).toFixed(1));
      set(c, 'cy', (pa.y + dy * k + oy).toFixed(1));
      toggle(c, 'doomed', cut.has(`${m.from}>${m.to}`));
    }
    for (const [id, c] of this.msgEls) if (!live.has(id)) { c.remove(); this.msgEls.delete(id); }
    if (this.bubbles.length) this._drawBubbles();
  }

  _bubble(node, text, kind) {
    this.bubbles = this.bubbles.filter((b) => b.node !== node);
    this.bubbles.push({ node, text, kind, until: performance.now() + 4500 });
    this._drawBubbles();
    this._wake();
  }

  _drawBubbles() {
    const g = this.ui.bubbles;
    g.textContent = '';
    for (const b of this.bubbles) {
      const p = this.pos.get(b.node);
      if (!p) continue;
      const text = b.text.length > 60 ? b.text.slice(0, 59) + '…' : b.text;
      const bg = svg('g', { class: `bubble ${b.kind}` }, g);
      const rect = svg('rect', { height: 26, rx: 13 }, bg);
      const t = svg('text', {}, bg);
      t.textContent = text;
      let w = text.length * 7.6 + 22;
      try { w = t.getComputedTextLength() + 22 || w; } catch { /* not rendered yet */ }
      const x = Math.min(this.size[0] - w - 4, Math.max(4, p.x - w / 2));
      const y = Math.max(4, p.y - R - 64);
      set(rect, 'x', x); set(rect, 'y', y); set(rect, 'width', w);
      set(t, 'x', x + 11); set(t, 'y', y + 17.5);
    }
  }

  // ---- Panels -----------------------------------------------------------------------------

  _panels(prev) {
    const f = this.frame;
    const v = f.view;
    setText(this.ui.clock, fmtTime(v.now));
    const tl = this.ui.timeline;
    if (!this._scrubbing) {
      set(tl, 'max', String(f.horizon));
      if (tl.value !== String(v.now)) tl.value = String(v.now);
    }
    setText(this.ui.badge, f.replaying ? 'replaying recorded run' : 'live');
    toggle(this.ui.badge, 'replay', f.replaying);
    // The goose card.
    const g = v.nodes.find((n) => n.id === v.goose);
    const cardKey = g ? `g${g.id}:${g.term}` : `n:${v.nodes.find((n) => n.role === 'leader' && n.status === 'up')?.id ?? ''}`;
    if (this._cardKey !== cardKey) {
      this._cardKey = cardKey;
      const card = this.ui.card;
      toggle(card, 'none', !g);
      if (g) {
        card.innerHTML = `<svg viewBox="0 0 64 64"><use href="#goose"/></svg><span>Node <b>${g.id}</b> is the goose <span class="muted">· term ${g.term}</span></span>`;
        card.querySelector('svg').innerHTML = this.ui.stage.querySelector('#goose').innerHTML;
      } else {
        const leader = v.nodes.find((n) => n.role === 'leader' && n.status === 'up');
        card.textContent = leader ? `No goose yet: ${leader.id} leads but has not confirmed its lease` : 'No goose: the ducks are choosing';
      }
    }
    if (this.ui.ticker && this._controls() !== 'full') {
      const last = [...f.lines].reverse().find((l) => ['goose', 'leader', 'stepdown', 'action', 'violation', 'role'].includes(l.kind));
      if (last) setText(this.ui.ticker, `${fmtTime(last.at)} · ${last.text}`);
    }
    if (this._controls() !== 'full') return;
    this._invariants(v);
    this._logTable(v);
    this._nodePanel(v);
    this._linkSelects(v, prev);
  }

  _invariants(v) {
    if (this._invCount === v.violations.length) return;
    this._invCount = v.violations.length;
    const bad = v.violations.length > 0;
    toggle(this.ui.inv, 'bad', bad);
    setText(this.ui.inv.querySelector('.sum'), bad ? `Invariant violated (${v.violations.length})` : 'All invariants hold');
    const names = new Set(v.violations.map((s) => s.split(':')[0]));
    for (const li of this.ui.inv.querySelectorAll('li')) toggle(li, 'bad', names.has(li.dataset.inv));
    const off = this._lastViolation ?? v.violations.at(-1) ?? '';
    setText(this.ui.inv.querySelector('.offense'), bad ? off : '');
  }

  _logTable(v) {
    const key = v.nodes.map((n) => `${n.id}:${n.status}:${n.goose}:${n.last_index}:${n.commit_index}:${n.log.at(-1)?.term ?? 0}`).join('|');
    if (key === this._logKey) return;
    this._logKey = key;
    const last = Math.max(0, ...v.nodes.map((n) => n.last_index));
    const cols = 12;
    const start = Math.max(1, last - cols + 1);
    let h = '<thead><tr><th></th>';
    for (let i = start; i < start + cols; i++) h += `<th>${i <= last ? i : ''}</th>`;
    h += '</tr></thead><tbody>';
    for (const n of v.nodes) {
      h += `<tr class="${n.status === 'down' ? 'down' : ''}${n.goose ? ' goose' : ''}"><th>${n.goose ? 'goose ' : ''}n${n.id}</th>`;
      const byIndex = new Map(n.log.map((e) => [e.index, e]));
      for (let i = start; i < start + cols; i++) {
        const e = byIndex.get(i);
        if (!e) { h += `<td class="${i <= n.last_index ? '' : 'none'}"></td>`; continue; }
        const c = i <= n.commit_index ? ' c' : '';
        h += `<td class="e${c}" style="background:${termColor(e.term)}" title="index ${i}, term ${e.term}: ${e.label.replace(/"/g, '&quot;')}${c ? ' (committed)' : ''}">${e.term}</td>`;
      }
      h += '</tr>';
    }
    this.ui.logs.innerHTML = h + '</tbody>';
  }

  _nodePanel(v) {
    const n = v.nodes.find((x) => x.id === this.selected);
    const key = n ? JSON.stringify([n.id, n.status, n.role, n.term, n.goose, n.leader, n.voted_for, n.commit_index, n.last_index, n.member, this._zones().findIndex((z) => z.includes(n.id))]) : 'none';
    if (key === this._panelKey) return;
    this._panelKey = key;
    const p = this.ui.nodePanel;
    if (!n) { p.className = 'node-body muted'; p.textContent = 'Click a node (or Tab to it) to select it.'; return; }
    p.className = 'node-body';
    const zone = this._zones().findIndex((z) => z.includes(n.id));
    const down = n.status === 'down';
    p.innerHTML = `
      <div class="node-title">Node ${n.id} · ${n.goose ? 'the goose' : down ? 'down' : ROLE_TEXT[n.role]}</div>
      <div class="kv"><span>term</span><span>${n.term}</span><span>voted for</span><span>${n.voted_for ?? '–'}</span>
        <span>leader</span><span>${n.leader ?? '–'}</span><span>log</span><span>${n.last_index} entries, ${n.commit_index} committed</span>
        <span>member</span><span>${n.member ? 'yes' : 'no (joining or removed)'}</span></div>
      <div class="row"><button data-do="node-crash">${down ? 'Restart' : 'Crash'}</button>
        <button data-do="node-pause" ${down ? 'disabled' : ''}>${n.status === 'paused' ? 'Resume' : 'Pause'}</button>
        <button class="gold" data-do="node-goose" ${down ? '' : ''}>Goose?</button></div>
      <div class="row"><button data-do="node-transfer" ${n.goose || down ? 'disabled' : ''}>Make goose</button>
        <button data-do="node-remove">Remove</button></div>
      <div class="row"><span class="muted">zone</span>${[0, 1, 2].map((i) => `<button data-do="node-zone" data-zone="${i}" ${zone === i ? 'disabled' : ''}>${i + 1}</button>`).join('')}</div>`;
  }

  _linkSelects(v) {
    const ids = v.nodes.map((n) => n.id).join(',');
    if (ids === this._linkIds) return;
    this._linkIds = ids;
    for (const [cls, def] of [['.l-from', 0], ['.l-to', 1]]) {
      const s = this.$(cls);
      const cur = s.value;
      s.innerHTML = v.nodes.map((n) => `<option>${n.id}</option>`).join('');
      s.value = v.nodes.some((n) => String(n.id) === cur) ? cur : String(v.nodes[def]?.id ?? v.nodes[0].id);
    }
    this._fillLink(false);
  }

  _selectLink(a, b) {
    this.$('.l-from').value = String(a);
    this.$('.l-to').value = String(b);
    this._fillLink(true);
    this._wake();
  }

  _fillLink(select) {
    const from = Number(this.$('.l-from').value), to = Number(this.$('.l-to').value);
    if (!from || !to || from === to) return;
    if (select) this.selectedLink = [from, to];
    const info = this.sim.linkInfo(from, to);
    this.$('.l-cut').checked = info.cut;
    this.$('.l-loss').value = String(info.loss);
    this.$('.l-lmin').value = String(info.latencyMin);
    this.$('.l-lmax').value = String(info.latencyMax);
  }

  _syncPlay() {
    setText(this.ui.play, this.playing ? '❚❚ Pause' : '▶ Play');
    this.ui.play.setAttribute('aria-pressed', String(this.playing));
  }

  _syncRunPanel() {
    const c = this.sim.config();
    const seed = this.$('.seed');
    if (seed) seed.value = String(c.seed);
    this.$('.run-nodes').value = String(c.nodes);
    this.$('.timings').value = c.election_timeout_min === 100 ? 'raftscope' : 'paper';
    this.$('.prevote').checked = c.pre_vote;
    this.$('.checkquorum').checked = c.check_quorum;
    this.$('.g-loss').value = String(c.network.loss_ppm / 10000);
    this.$('.g-loss-out').value = `${c.network.loss_ppm / 10000}%`;
    this.$('.g-lmin').value = String(c.network.latency_min);
    this.$('.g-lmax').value = String(c.network.latency_max);
  }

  _lines(lines) {
    if (!lines.length) return;
    for (const l of lines) if (l.kind === 'violation') this._lastViolation = `${fmtTime(l.at)}  ${l.text}`;
    if (this._controls() !== 'full') return;
    // Batched: the log is written at most every 150 ms, not every frame.
    this._pendingLines = (this._pendingLines ?? []).concat(lines).slice(-200);
    if (this._linesTimer) return;
    this._linesTimer = setTimeout(() => this._flushLines(), 150);
  }

  _flushLines() {
    this._linesTimer = 0;
    const lines = this._pendingLines ?? [];
    this._pendingLines = [];
    if (!lines.length) return;
    // The box is a column-reverse flexbox: newest line first in the DOM, shown at the
    // bottom, and the browser keeps it in view without any layout read here.
    const box = this.ui.events;
    const frag = document.createDocumentFragment();
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i];
      const d = document.createElement('div');
      d.className = `k-${l.kind}`;
      const t = document.createElement('time');
      t.textContent = (l.at / 1000).toFixed(3);
      d.append(t, l.text);
      frag.appendChild(d);
    }
    box.prepend(frag);
    this._logRows = (this._logRows ?? 0) + lines.length;
    while (this._logRows > 400) { box.lastElementChild?.remove(); this._logRows--; }
  }

  _caption(title, text) {
    const c = this.ui.caption;
    if (!title) { c.hidden = true; return; }
    c.hidden = false;
    c.innerHTML = '';
    const b = document.createElement('span');
    b.className = 'title';
    b.textContent = title;
    c.append(b, text);
  }

  _error(e) {
    const msg = String(e?.message ?? e);
    console.warn('duck-duck-goose:', msg);
    let el = this.$('.err');
    if (!el) {
      el = document.createElement('div');
      el.className = 'err';
      el.setAttribute('role', 'alert');
      this.ui.wrap.appendChild(el);
    }
    el.textContent = msg;
    clearTimeout(this._errTimer);
    this._errTimer = setTimeout(() => el.remove(), 4000);
  }

  _writeUrl() {
    if (!this.hasAttribute('url-state') || !this.sim) return;
    const c = this.sim.config();
    history.replaceState(null, '', `#seed=${c.seed}&nodes=${c.nodes}`);
  }

  // ---- Guided scenarios -------------------------------------------------------------------

  /** Starts a guided scenario by name (see scenarios.js): a fresh seeded run plus narration. */
  startScenario(name, { autoplay = true } = {}) {
    const sc = SCENARIOS[name];
    if (!sc) throw new Error(`no scenario ${name}`);
    const attrSeed = this.hasAttribute('seed') ? Number(this.getAttribute('seed')) : NaN;
    const base = Number.isSafeInteger(attrSeed) ? attrSeed : 7;
    const seed = findSeed(Sim, sc, base);
    this.reset({ ...sc.options, seed });
    for (const b of this.shadowRoot.querySelectorAll('.scen button')) toggle(b, 'on', b.dataset.scenario === name);
    const self = this;
    const ctx = {
      mem: { candidates: new Map() },
      view: () => self.frame.view,
      goose: () => self.frame.view.goose ?? null,
      live: () => self.frame.view.nodes.filter((n) => n.status !== 'down'),
      term: (id) => self.frame.view.nodes.find((n) => n.id === id)?.term,
      exists: (id) => self.frame.view.nodes.some((n) => n.id === id),
      isMember: (id) => self.frame.view.nodes.some((n) => n.id === id && n.member && n.status === 'up'),
      others: (ids) => self.frame.view.nodes.map((n) => n.id).filter((id) => !ids.includes(id)),
      crash: (id) => self.crash(id), restart: (id) => self.restart(id),
      partition: (g) => self.partition(g), heal: () => self.heal(),
      askGoose: (id) => self.askGoose(id), addNode: () => self.addNode(),
      removeNode: (id) => self.removeNode(id), transfer: (id) => self.transfer(id),
      sawSplit: () => {
        for (const [term, s] of ctx.mem.candidates) {
          if (s.size >= 2) { ctx.mem.splitTerm = term; ctx.mem.splitBy = [...s]; return true; }
        }
        return false;
      },
    };
    this.director = { name, sc, i: 0, since: this.frame.view.now, ctx };
    this._caption(sc.title, sc.intro);
    if (autoplay) this.play();
    return this;
  }

  _direct(frame) {
    const d = this.director;
    for (const l of frame.lines) {
      if (l.kind === 'role' && /became candidate/.test(l.text)) {
        const s = d.ctx.mem.candidates.get(l.term) ?? new Set();
        s.add(l.node);
        d.ctx.mem.candidates.set(l.term, s);
      }
    }
    // Several steps may be due in one frame (at high speed); run them in order.
    for (let guard = 0; guard < 8; guard++) {
      const step = d.sc.steps[d.i];
      if (!step) { this.director = null; return; }
      const now = frame.view.now;
      if (now - d.since < (step.after ?? 0)) return;
      if (step.when && !step.when(d.ctx)) {
        if (now - d.since > 20000 + (step.after ?? 0)) {
          this._caption(d.sc.title, 'This run took another path than the story expected. Try the scenario again, or explore from here.');
          this.director = null;
        }
        return;
      }
      this.director = null; // acting re-enters _apply; keep the director out of it
      try { step.act?.(d.ctx); } finally { this.director = d; }
      const say = typeof step.say === 'function' ? step.say(d.ctx) : step.say;
      if (say) this._caption(d.sc.title, say);
      d.i += 1;
      d.since = this.frame.view.now;
      frame = this.frame;
    }
  }

  // ---- Input ------------------------------------------------------------------------------

  _wire() {
    const root = this.shadowRoot;
    root.addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (!b || !this.sim) return;
      if (b.dataset.scenario) { this.startScenario(b.dataset.scenario); return; }
      this._command(b.dataset.do, b);
    });
    this.ui.speed.addEventListener('input', () => {
      this.speed = this._clampSpeed(10 ** Number(this.ui.speed.value));
      this.ui.speedOut.value = fmtSpeed(this.speed);
    });
    const tl = this.ui.timeline;
    tl.addEventListener('pointerdown', () => { this._scrubbing = true; });
    const endScrub = () => { if (this._scrubbing) { this._scrubbing = false; this._wake(); } };
    tl.addEventListener('pointerup', endScrub);
    tl.addEventListener('change', endScrub);
    tl.addEventListener('input', () => {
      if (!this.sim) return;
      this._seekTo = Number(tl.value);
      if (this._seekPending) return;
      this._seekPending = true;
      requestAnimationFrame(() => { this._seekPending = false; this.director = null; this.seek(this._seekTo); });
    });
    this.$('.verbose').addEventListener('change', (e) => this.sim?.setVerbose(e.target.checked));
    this.$('.g-loss').addEventListener('input', (e) => { this.$('.g-loss-out').value = `${e.target.value}%`; });
    for (const cls of ['.g-loss', '.g-lmin', '.g-lmax']) {
      this.$(cls).addEventListener('change', () => this.setNetwork({
        loss: Number(this.$('.g-loss').value), latencyMin: Number(this.$('.g-lmin').value), latencyMax: Number(this.$('.g-lmax').value),
      }));
    }
    for (const cls of ['.l-from', '.l-to']) this.$(cls).addEventListener('change', () => { this._fillLink(true); this._wake(); });
    this.$('.l-cut').addEventListener('change', (e) => {
      const [from, to] = [Number(this.$('.l-from').value), Number(this.$('.l-to').value)];
      if (from === to) return;
      this.cutLink(from, to, e.target.checked);
    });
    this.$('.seed').addEventListener('keydown', (e) => { if (e.key === 'Enter') this._command('new-run'); });
    this.$('.import-file').addEventListener('change', async (e) => {
      const file = e.target.files?.[0];
      e.target.value = '';
      if (!file) return;
      try {
        const text = await file.text();
        const last = Number(text.trim().split('\n').at(-1).split(' ')[0]);
        this.load(text, Number.isFinite(last) ? last : 0);
        this._caption('Imported run', `${file.name}: replayed to its last action at ${fmtTime(this.time)}. Press play to continue.`);
      } catch (err) { this._error(err); }
    });

    // Dragging nodes between zones (pointer events: mouse, touch and pen alike).
    const stage = this.ui.stage;
    const toSvg = (e) => {
      const m = stage.getScreenCTM();
      if (!m) return { x: 0, y: 0 };
      const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
      return { x: p.x, y: p.y };
    };
    stage.addEventListener('pointerdown', (e) => {
      const g = e.target.closest('.node');
      if (!g || e.button > 0) return;
      const id = Number(g.dataset.nodeId);
      this.drag = { id, pointerId: e.pointerId, start: toSvg(e), moved: false };
      stage.setPointerCapture(e.pointerId);
      e.preventDefault();
      g.focus({ preventScroll: true });
    });
    stage.addEventListener('pointermove', (e) => {
      const d = this.drag;
      if (!d || d.pointerId !== e.pointerId) return;
      const p = toSvg(e);
      if (!d.moved && Math.hypot(p.x - d.start.x, p.y - d.start.y) < 6) return;
      d.moved = true;
      const pos = this.pos.get(d.id);
      if (pos) { pos.x = p.x; pos.y = p.y; }
      const z = this._zoneAt(p);
      this.zoneEls.forEach((el, i) => toggle(el.g, 'drop', i === z));
      this._draw();
    });
    const drop = (e) => {
      const d = this.drag;
      if (!d || d.pointerId !== e.pointerId) return;
      this.drag = null;
      this.zoneEls.forEach((el) => toggle(el.g, 'drop', false));
      if (d.moved) {
        const p = toSvg(e);
        this.moveToZone(d.id, this._zoneAt(p));
      } else this.select(d.id);
      this._wake();
    };
    stage.addEventListener('pointerup', drop);
    stage.addEventListener('pointercancel', (e) => { if (this.drag) { this.drag = null; this._wake(); } void e; });

    // Keyboard: Tab to a node, Enter selects, 1-3 moves it to a zone, and more.
    root.addEventListener('keydown', (e) => {
      if (e.target.closest?.('input, select, textarea')) return;
      const g = e.target.closest?.('.node');
      const id = g ? Number(g.dataset.nodeId) : this.selected;
      const k = e.key;
      if (k === ' ' && !g && !e.target.closest?.('button')) { e.preventDefault(); this._command('toggle'); return; }
      if (id == null || !this.sim) return;
      const n = this.frame.view.nodes.find((x) => x.id === id);
      if (!n) return;
      if (k === 'Enter' || k === ' ') { e.preventDefault(); this.select(id); }
      else if (k >= '1' && k <= '3') { e.preventDefault(); this.select(id); this.moveToZone(id, Number(k) - 1); }
      else if (k === 'c') this._command('node-crash', null, id);
      else if (k === 'p') this._command('node-pause', null, id);
      else if (k === 'g') this.askGoose(id);
      else if (k === 't') this.transfer(id);
      else if (k === 'h') this.heal();
      else if (k === 'ArrowRight' || k === 'ArrowLeft' || k === 'ArrowDown' || k === 'ArrowUp') {
        e.preventDefault();
        const ids = this.frame.view.nodes.map((x) => x.id);
        const i = ids.indexOf(id);
        const next = ids[(i + (k === 'ArrowRight' || k === 'ArrowDown' ? 1 : ids.length - 1)) % ids.length];
        this.nodeEls.get(next)?.g.focus();
        this.select(next);
      }
    });
  }

  _zoneAt(p) {
    const i = this.portrait
      ? this.zoneRects.findIndex((r) => p.y < r.y + r.h + 5)
      : this.zoneRects.findIndex((r) => p.x < r.x + r.w + 5);
    return i < 0 ? ZONES - 1 : i;
  }

  // Narrow hosts (phones) stack the zones vertically.
  _resize(width) {
    const portrait = width > 0 && width < 600;
    if (portrait === this.portrait) return;
    this.portrait = portrait;
    this.size = portrait ? PORTRAIT : LANDSCAPE;
    this.ui.stage.setAttribute('viewBox', `0 0 ${this.size[0]} ${this.size[1]}`);
    this._layoutKey = null;
    if (this.frame) { this._relayout(); for (const p of this.pos.values()) { p.x = p.tx; p.y = p.ty; } this._draw(); }
  }

  /** Selects a node (shows its panel in full mode). */
  select(id) { this.selected = id; this._panelKey = null; if (this.frame) this._panels(this.frame); this._wake(); return this; }

  /** Moves node `id` into zone `zone` (0-2), partitioning the network; one zone heals it. */
  moveToZone(id, zone) {
    const zones = this._zones().map((z) => z.filter((x) => x !== id));
    zones[zone].push(id);
    if (zones.filter((z) => z.length).length <= 1) return this.heal();
    return this.partition(zones);
  }

  _command(cmd, btn, nodeId) {
    const id = nodeId ?? this.selected;
    const node = this.frame?.view.nodes.find((n) => n.id === id);
    switch (cmd) {
      case 'toggle': return this.playing ? this.pause() : this.play();
      case 'step': return this.step();
      case 'heal': return this.heal();
      case 'add': { const n = this.addNode(); if (n != null) this.select(n); return; }
      case 'put': return this.put(this.$('.key').value, this.$('.val').value);
      case 'get': return this.get(this.$('.key').value);
      case 'restart-run': {
        const c = this.sim.config();
        if (this.director) return this.startScenario(this.director.name);
        this.reset({ nodes: c.nodes, seed: c.seed });
        return this.play();
      }
      case 'new-run': case 'random-seed': {
        const seedText = this.$('.seed').value.trim();
        const seed = cmd === 'random-seed' || seedText === '' ? undefined : Number(seedText);
        if (seed !== undefined && !Number.isSafeInteger(seed)) { this._error(new Error('seed: a whole number')); return; }
        try {
          this.reset({
            nodes: Number(this.$('.run-nodes').value), seed, timings: this.$('.timings').value,
            preVote: this.$('.prevote').checked, checkQuorum: this.$('.checkquorum').checked,
          });
        } catch (e) { this._error(e); return; }
        return this.play();
      }
      case 'share': {
        const url = this.shareUrl();
        const out = this.$('.share-out');
        out.hidden = false;
        out.value = url;
        out.select();
        navigator.clipboard?.writeText(url).catch(() => {});
        this.dispatchEvent(new CustomEvent('share', { detail: { url } }));
        return;
      }
      case 'import': this.$('.import-file').click(); return;
      case 'export': {
        const a = document.createElement('a');
        a.href = URL.createObjectURL(new Blob([this.sim.scenario() + '\n'], { type: 'text/plain' }));
        a.download = `duck-duck-goose-seed-${this.seed}.txt`;
        a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 1000);
        return;
      }
      case 'link-set': case 'link-reset': {
        const [from, to] = [Number(this.$('.l-from').value), Number(this.$('.l-to').value)];
        if (from === to) { this._error(new Error('pick two different nodes')); return; }
        this._custom ??= new Set();
        const key = `${Math.min(from, to)}-${Math.max(from, to)}`;
        if (cmd === 'link-reset') { this.setLink(from, to, null); this._custom.delete(key); return; }
        if (this.setLink(from, to, { loss: Number(this.$('.l-loss').value), latencyMin: Number(this.$('.l-lmin').value), latencyMax: Number(this.$('.l-lmax').value) })) this._custom.add(key);
        return;
      }
    }
    if (!node) return;
    switch (cmd) {
      case 'node-crash': return node.status === 'down' ? this.restart(id) : this.crash(id);
      case 'node-pause': return node.status === 'paused' ? this.resumeNode(id) : this.pauseNode(id);
      case 'node-goose': return this.askGoose(id);
      case 'node-transfer': return this.transfer(id);
      case 'node-remove': return this.removeNode(id);
      case 'node-zone': return this.moveToZone(id, Number(btn.dataset.zone));
    }
  }
}

if (!customElements.get('duck-duck-goose')) customElements.define('duck-duck-goose', DuckDuckGoose);
