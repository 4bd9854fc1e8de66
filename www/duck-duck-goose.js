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
//
// This file is the element itself: its attributes, lifecycle, public API and the frame
// loop. The rest of the work lives in ddg/, one job per module, and is mixed into the
// element's prototype at the bottom of this file:
//   ddg/stage.js        SVG stage: zone layout, nodes, links, messages, bubbles
//   ddg/panels.js       clock, goose card, invariants, log table, node/link/run panels, event log
//   ddg/director.js     guided scenarios (scenarios.js) and the director that runs them
//   ddg/tour.js         the narrated tour: recorded stories step by step (loaded on first use)
//   ddg/input.js        buttons, drag between zones, keyboard, commands
//   ddg/hunt.js         "Break Raft": a broken rule hunted in a Web Worker
//                       (ddg/hunt-worker.js), the failing run loaded where it broke
//   ddg/clocks.js       each node's clock rate: the node panel's slider, el.setClockRate
//   ddg/url-state.js    #seed=…&nodes=… and shared-run links
//   ddg/template.js     shadow DOM markup (with ddg/styles.js, the stylesheet)
//   ddg/view-model.js   the few things still derived in JS (quorum, role changes)
//   ddg/live-panels.js, ddg/live.js   live mode: the real cluster of the node serving
//                       the page instead of the simulator (loaded only in live mode)
//   ddg/format.js, ddg/dom-helpers.js   small shared helpers
// No build step: these are plain ES modules, served as they are.

import init, { Sim } from './pkg/duckgoose_wasm.js';
import { SCENARIOS } from './scenarios.js';
import { TEMPLATE } from './ddg/template.js';
import { LANDSCAPE, StageMethods } from './ddg/stage.js';
import { PanelMethods } from './ddg/panels.js';
import { DirectorMethods } from './ddg/director.js';
import { InputMethods } from './ddg/input.js';
import { HuntMethods } from './ddg/hunt.js';
import { ClockMethods } from './ddg/clocks.js';
import { readUrlState, writeUrlState, shareUrlFor } from './ddg/url-state.js';
import { fmtSpeed, fmtTime, enc } from './ddg/format.js';

let wasmReady = null;
const loadWasm = () => (wasmReady ??= init());
let tourLoaded = null;

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

  // The parts of the shadow DOM built once, then the input listeners.
  _buildStatic() {
    this._buildStage();
    this._buildScenarioButtons();
    this._buildHuntPanel();
    this._wire();
    this._wireClocks();
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
    if (this._liveRequested()) {
      await this._bootLive();
      this._resolveReady(this);
      this.dispatchEvent(new CustomEvent('ready', { detail: { live: true } }));
      return;
    }
    await loadWasm();
    this._buildInvariantList();
    const fromUrl = this.hasAttribute('url-state') ? this._readUrl() : null;
    const scenario = this.getAttribute('scenario');
    const tourStep = this.hasAttribute('url-state') ? new URLSearchParams(location.search).get('tour') : null;
    if (tourStep != null) {
      await this.startTour(tourStep === '' ? 1 : tourStep).catch((e) => { this._error(e); this.reset(this._attrOptions()); });
    } else if (fromUrl?.run) {
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

  // Live mode: the `live` attribute, or `?live` in the address of a url-state page (a
  // duckgoose node sends `/` there). The real cluster replaces the simulator.
  _liveRequested() {
    return this.hasAttribute('live') || (this.hasAttribute('url-state') && new URLSearchParams(location.search).has('live'));
  }

  async _bootLive() {
    const { LiveMethods } = await import('./ddg/live-panels.js');
    if (!Object.prototype.hasOwnProperty.call(DuckDuckGoose.prototype, '_startLive')) mixIn(DuckDuckGoose, LiveMethods);
    await this._startLive();
  }

  _attrOptions() {
    const o = {};
    const num = (a) => (this.hasAttribute(a) ? Number(this.getAttribute(a)) : undefined);
    if (this.hasAttribute('nodes')) o.nodes = num('nodes');
    if (this.hasAttribute('seed') && this.getAttribute('seed') !== '') o.seed = num('seed');
    if (this.hasAttribute('timings')) o.timings = this.getAttribute('timings');
    if (this.hasAttribute('pre-vote')) o.preVote = this.getAttribute('pre-vote') !== 'false';
    if (this.hasAttribute('check-quorum')) o.checkQuorum = this.getAttribute('check-quorum') !== 'false';
    if (this.hasAttribute('compact-every')) o.compactEvery = num('compact-every');
    return o;
  }

  _readUrl() { return readUrlState((e) => this._error(e)); }

  _writeUrl() {
    if (!this.hasAttribute('url-state') || !this.sim) return;
    writeUrlState(this.sim.config());
  }

  // ---- Public API -----------------------------------------------------------------------
  // (plus select and moveToZone below, and startScenario in ddg/director.js)

  /** Starts a new run: `{nodes, seed, timings, preVote, checkQuorum, electionMin, compactEvery, ...}`. */
  reset(options = {}) {
    const clean = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined && !Number.isNaN(v)));
    this._install(new Sim(clean));
    for (const b of this.shadowRoot.querySelectorAll('.scen button.on')) b.classList.remove('on');
    this.director = null;
    this._caption(null);
    this._writeUrl();
    return this;
  }

  /**
   * Opens step `n` of the narrated tour (ddg/tour.js, loaded on first use) and plays it;
   * a step that does not exist opens step 1 with a message. `el.tour` says where it is.
   */
  async startTour(n = 1) {
    await (tourLoaded ??= import('./ddg/tour.js').then((m) => mixIn(DuckDuckGoose, m.TourMethods)));
    return this._tourGo(n);
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
    this._stopAt = null;
    this.selected = null;
    this.selectedLink = null;
    this.violationSeen = 0;
    // The invariants box redraws only when the count changes: a new run starts it over.
    this._invCount = null;
    this._lastViolation = null;
    this.ui.events.textContent = '';
    this._pendingLines = [];
    this._logRows = 0;
    for (const p of this.pending.values()) p.resolve(null);
    this.pending.clear();
    this.bubbles = [];
    this.ui.bubbles.textContent = ''; // the last run's answers are not this one's
    this._apply(sim.frame(0), true);
    this._syncRunPanel();
    this._syncHuntCard();
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
  /**
   * A write by the app running next to node `node`: sent to that node, following its
   * redirect to the goose as duckgoose-client does. `fence` (a goose answer's term) stamps
   * it If-Fence: the store applies it only if it is ordered in that leadership. Resolves
   * to the final answer, with `via` (the nodes it went through) and `outcome`.
   */
  write(node, key, value, { fence = null, onAnswer } = {}) {
    const fenced = fence == null ? '' : `fenced ${Number(fence)} `;
    const what = `put ${key}=${value}${fence == null ? '' : ` if fence ${Number(fence)}`}`;
    return this._request(Number(node), `${fenced}put ${enc(key)} ${enc(value)}`, what, { follow: true, onAnswer });
  }
  get(key) { return this._request(this._target(), `get ${enc(key)}`, `get ${key}`); }

  get goose() { return this.frame?.view.goose ?? null; }
  get time() { return this.frame?.view.now ?? 0; }
  get hash() { return this.frame?.hash ?? null; }
  get seed() { return this.sim ? this.sim.seed : null; }
  get view() { return this.frame?.view ?? null; }
  /** The recorded run as text: a config line, then one `MS ACTION` line per action. */
  get scenarioData() { return this.sim.scenario(); }
  /** A link that reproduces this run up to now, on this page. */
  shareUrl() { return shareUrlFor(this.sim.scenario(), this.time); }

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

  // Sends `request` to `node`. `follow`: a "not the leader, try L" answer sends it on to
  // L (at most 3 hops). `onAnswer` gets the final answer synchronously, inside the frame
  // that brings it (the director cannot wait for promises while a test runs it in a loop).
  _request(node, request, what, { follow = false, onAnswer } = {}) {
    return new Promise((resolve) => {
      let id;
      try { id = this.sim.act(`request ${node} ${request}`); } catch (e) { this._error(e); resolve(null); return; }
      this.pending.set(id, { resolve, what, node, request, follow, onAnswer, via: [node] });
      this._apply(this.sim.frame(0));
    });
  }

  // Answers to requests this element sent: bubbles, promises, events, redirects.
  _answers(answers) {
    const redirects = [];
    for (const a of answers) {
      const p = this.pending.get(a.id);
      if (!p) {
        // A request of the recorded run the tour plays: its answer still shows.
        if (this._tour) { const words = answerWords(a, 'write'); this._bubble(a.node, words.text, words.kind); }
        continue;
      }
      this.pending.delete(a.id);
      if (p.follow && a.outcome === 'not_leader' && a.leader != null && p.via.length <= 3) {
        this._bubble(a.node, `not the goose: on to ${a.leader}`, 'duck');
        redirects.push({ ...p, node: a.leader, via: [...p.via, a.leader] });
        continue;
      }
      if (a.outcome === 'goose' && this._controls() === 'full') {
        // The app next to that node now holds this fence: offer it for "Put if fence".
        this.$('.fence').value = String(a.goose);
        this.$('.w-from').value = String(a.node);
      }
      const words = answerWords(a, p.what);
      this._bubble(a.node, words.text, words.kind);
      const detail = { ...a, request: p.what, via: p.via };
      p.onAnswer?.(detail);
      p.resolve(detail);
      this.dispatchEvent(new CustomEvent('answer', { detail }));
    }
    for (const p of redirects) {
      let id;
      try { id = this.sim.act(`request ${p.node} ${p.request}`); } catch (e) { this._error(e); p.resolve(null); continue; }
      this.pending.set(id, p);
    }
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
      // Live mode takes a frame only when the nodes said something new.
      const advance = this.live ? this.sim.changed : this._running() && this.sim;
      const stop = this._stopAt;
      if (advance && !this.live && stop > this.time && this.time + dt * this.speed >= stop) {
        // A hold of the tour's: land on it exactly, paused.
        this._stopAt = null;
        this.pause();
        this._apply(this.sim.runUntil(stop));
      } else if (advance) this._apply(this.sim.frame(dt * this.speed));
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
    this._answers(frame.answers);
    this._relayout();
    // Before the panels: a tour step may pick a log entry for the "why" line.
    if (this._tour) this._tourFrame(frame);
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

  // ---- Selection and zones --------------------------------------------------------------

  /** Selects a node (shows its panel in full mode). */
  select(id) { this.selected = id; this._panelKey = null; if (this.frame) this._panels(this.frame); this._wake(); return this; }

  /** Moves node `id` into zone `zone` (0-2), partitioning the network; one zone heals it. */
  moveToZone(id, zone) {
    const zones = this._zones().map((z) => z.filter((x) => x !== id));
    zones[zone].push(id);
    if (zones.filter((z) => z.length).length <= 1) return this.heal();
    return this.partition(zones);
  }

  // ---- Errors ---------------------------------------------------------------------------

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
}

// The words for an answer bubble, chosen here from the answer's outcome code and fields.
function answerWords(a, what) {
  switch (a.outcome) {
    case 'goose': return { text: `HONK! goose of term ${a.goose}`, kind: 'goose' };
    case 'stale_fence': return { text: `refused: fence ${a.fence} is stale (goose of term ${a.entry_term})`, kind: 'refused' };
    case 'written': return { text: `${what}: written`, kind: 'written' };
    default: return { text: a.text, kind: a.duck ? 'duck' : '' };
  }
}

// Copies the methods of the ddg/ parts onto the element (non-enumerable, like class
// methods). A name defined twice is a mistake, so it throws rather than overwrite.
function mixIn(target, ...parts) {
  for (const part of parts) {
    for (const [name, desc] of Object.entries(Object.getOwnPropertyDescriptors(part.prototype))) {
      if (name === 'constructor') continue;
      if (Object.prototype.hasOwnProperty.call(target.prototype, name)) throw new Error(`duck-duck-goose: ${name} defined twice`);
      Object.defineProperty(target.prototype, name, desc);
    }
  }
}
mixIn(DuckDuckGoose, StageMethods, PanelMethods, DirectorMethods, InputMethods, HuntMethods, ClockMethods);

if (!customElements.get('duck-duck-goose')) customElements.define('duck-duck-goose', DuckDuckGoose);
