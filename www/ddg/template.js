// The markup of <duck-duck-goose>'s shadow root: toolbar, scenario row, SVG stage (with the
// goose and duck icons), caption, invariants, replicated logs, side panels and event log.
// The element (duck-duck-goose.js) puts TEMPLATE in its shadow root once and keeps
// references to the parts; `full-only` / `min-only` hide parts per `controls` setting, and
// live mode (ddg/live-panels.js) hides the `sim-only` ones.

import { CSS } from './styles.js';
import { LANDSCAPE } from './stage.js';

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
export const TEMPLATE = html`
<style>${CSS}</style>
<div class="wrap" part="wrap">
  <div class="bar" part="bar">
    <button class="play sim-only" data-do="toggle" title="Play or pause (space)">▶ Play</button>
    <button class="full-only sim-only" data-do="step" title="Run to the next event (a delivery, a timer or a recorded action)">Step</button>
    <label class="sim-only" title="Simulation speed: virtual time per real time (logarithmic)">speed
      <input class="speed" type="range" min="-2" max="2" step="0.01" value="-1" aria-label="speed"><output class="speed-out">0.10×</output></label>
    <span class="clock" title="virtual time">0.000 s</span>
    <input class="timeline full-only sim-only" type="range" min="0" max="0" step="1" value="0" aria-label="timeline: drag to replay any moment">
    <span class="badge live full-only sim-only">live</span>
    <button class="min-only" data-do="heal" title="Reconnect every zone">Heal</button>
    <button class="min-only sim-only" data-do="restart-run" title="Start this run over">Restart</button>
  </div>
  <div class="scen-row full-only sim-only"><button class="tour-open" data-do="tour" title="Raft step by step, from the first election to a snapshot (?tour=1)">Tour</button><span class="muted">Guided scenarios:</span><span class="scen"></span></div>
  <div class="main">
    <div class="stage-col">
      <div class="head">
        <div class="goose-card none" aria-live="polite"></div>
        <div class="legend full-only sim-only"></div>
      </div>
      <svg class="stage" viewBox="0 0 ${LANDSCAPE[0]} ${LANDSCAPE[1]}" role="application" aria-label="cluster: drag nodes between zones to partition the network">
        <defs>${ICONS}</defs>
        <g class="zones"></g><g class="links"></g><g class="msgs"></g><g class="nodes"></g><g class="bubbles"></g>
      </svg>
      <div class="caption" hidden></div>
      <div class="tour" hidden><button data-tour="back" title="Previous step, from its start (← or b)">← Back</button><span class="tour-n"></span><button class="primary" data-tour="next" title="Go on, or the next step (→ or n)">Next →</button><button data-tour="leave" title="Leave the tour; the run goes on (Esc)">Leave tour</button></div>
      <div class="ticker min-only"></div>
      <div class="hint full-only sim-only">Drag nodes between zones to partition the network (or select a node and press 1, 2, 3). Keys on a selected node: <b>c</b> crash/restart, <b>p</b> pause/resume, <b>g</b> goose?, <b>t</b> transfer, <b>h</b> heal. Click a link for its loss and latency.</div>
      <div class="state full-only">
        <div class="inv sim-only"><div class="sum">All invariants hold</div><ul></ul><div class="offense"></div></div>
        <div class="logsec"><h3>Replicated logs <span>term per entry · solid = committed</span></h3><div class="logwrap"><table class="logs"></table></div><div class="why why-entry" aria-live="polite"></div></div>
      </div>
    </div>
    <aside class="full-only">
      <section class="card node-panel"><h3>Node</h3><div class="node-body muted">Click a node (or Tab to it) to select it.</div></section>
      <section class="card">
        <h3>Cluster</h3>
        <div class="row"><button class="sim-only" data-do="add">+ Add node</button><button data-do="heal">Heal network</button></div>
        <div class="row"><label>key <input class="key" type="text" value="x" maxlength="32"></label><label>value <input class="val" type="text" value="1" maxlength="32"></label></div>
        <div class="row"><button data-do="put">Put → goose</button><button data-do="get">Get ← goose</button></div>
        <div class="row sim-only" title="A write by the app next to a node: sent to that node, redirected to the goose. Goose? on a node fills in the fence its answer carries."><label>app on <select class="w-from"></select></label><label>fence <input class="fence" type="number" min="0" step="1" placeholder="–"></label></div>
        <div class="row sim-only"><button data-do="write">Put from app</button><button data-do="write-fenced">Put if fence</button></div>
        <div class="store muted sim-only" aria-live="polite"></div>
      </section>
      <section class="card sim-only">
        <h3>Network</h3>
        <div class="row"><label>loss <input class="g-loss" type="range" min="0" max="50" step="1" value="0"></label><output class="g-loss-out">0%</output></div>
        <div class="row"><label>latency <input class="g-lmin" type="number" min="0" max="5000" value="10">–<input class="g-lmax" type="number" min="0" max="5000" value="15"> ms</label></div>
        <div class="row" style="margin-top:8px"><label>link <select class="l-from"></select> → <select class="l-to"></select></label></div>
        <div class="row"><label><input class="l-cut" type="checkbox"> cut this direction</label></div>
        <div class="row"><label>loss <input class="l-loss" type="number" min="0" max="100" value="0">%</label><label><input class="l-lmin" type="number" min="0" max="5000" value="10">–<input class="l-lmax" type="number" min="0" max="5000" value="15"> ms</label></div>
        <div class="row"><button data-do="link-set">Set link</button><button data-do="link-reset">Use global</button></div>
      </section>
      <section class="card sim-only">
        <h3>Run</h3>
        <div class="row"><label>seed <input class="seed" type="text" inputmode="numeric" maxlength="16"></label>
          <label>nodes <select class="run-nodes">${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => `<option>${n}</option>`).join('')}</select></label></div>
        <div class="row"><label>timings <select class="timings"><option value="paper">paper 150–300 ms</option><option value="raftscope">RaftScope 100–200 ms</option></select></label></div>
        <div class="row"><label><input class="prevote" type="checkbox" checked> PreVote</label><label><input class="checkquorum" type="checkbox" checked> CheckQuorum</label></div>
        <div class="row" title="Log compaction: each node snapshots its store once this many more entries are applied, and drops the log before. Empty: off."><label>compact every <input class="compact" type="number" min="1" step="1" placeholder="off"> entries</label></div>
        <div class="row"><button class="primary" data-do="new-run">New run</button><button data-do="random-seed">Random seed</button><button data-do="share">Share</button></div>
        <div class="row"><button data-do="export">Export run</button><button data-do="import">Import run…</button><input class="import-file" type="file" accept=".txt,text/plain" hidden></div>
        <input class="share-out" type="text" readonly hidden aria-label="shareable link">
      </section>
      <section class="card sim-only hunt-card">
        <h3>Break Raft</h3>
        <div class="row"><label>rule <select class="h-variant" aria-label="the rule to break"></select></label></div>
        <div class="h-why muted"></div>
        <div class="row"><label>from seed <input class="h-seed" type="number" min="0" step="1" value="1"></label>
          <button class="primary" data-hunt="start" title="Run seeds with this rule broken, in a worker, until an invariant fails">Hunt</button><button data-hunt="stop" disabled>Stop</button></div>
        <div class="h-progress muted" aria-live="polite"></div>
        <div class="h-loaded" hidden></div>
      </section>
    </aside>
  </div>
  <div class="bottom full-only">
    <section>
      <h3>Event log <label class="sim-only"><input class="verbose" type="checkbox"> messages</label></h3>
      <div class="events" role="log" aria-live="off"></div>
    </section>
  </div>
</div>`;
