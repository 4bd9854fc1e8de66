// The scenario director of <duck-duck-goose>: the guided scenarios in ../scenarios.js
// (their buttons, `el.startScenario(name)`, the `scenario` attribute) and the small
// director that runs a scenario's steps as frames arrive: it waits for each step's
// `after` and `when`, runs its `act` (ordinary recorded actions) and shows its `say` in
// the caption.
//
// DirectorMethods is never instantiated: duck-duck-goose.js copies its methods onto the
// element, so `this` is the <duck-duck-goose> element.

import { Sim } from '../pkg/duckgoose_wasm.js';
import { SCENARIOS, findSeed } from '../scenarios.js';
import { toggle } from './dom-helpers.js';
import { isRoleChange } from './view-model.js';

export class DirectorMethods {
  // One button per scenario in the scenario row.
  _buildScenarioButtons() {
    const scen = this.$('.scen');
    for (const [name, s] of Object.entries(SCENARIOS)) {
      const b = document.createElement('button');
      b.textContent = s.title;
      b.title = s.blurb;
      b.dataset.scenario = name;
      scen.appendChild(b);
    }
  }

  /** Starts a guided scenario by name (see scenarios.js): a fresh seeded run plus narration. */
  startScenario(name, { autoplay = true } = {}) {
    const sc = SCENARIOS[name];
    if (!sc) throw new Error(`no scenario ${name}`);
    const attrSeed = this.hasAttribute('seed') ? Number(this.getAttribute('seed')) : NaN;
    const base = Number.isSafeInteger(attrSeed) ? attrSeed : 7;
    this._startStory(name, sc, findSeed(Sim, sc, base));
    if (autoplay) this.play();
    return this;
  }

  // A story (the shape of a scenario in scenarios.js) on a fresh run of `seed`, directed
  // as frames arrive. A story with `config` (extra settings of a run's config line, such
  // as `batch=1`, which the options object does not offer) starts from that line instead.
  _startStory(name, sc, seed) {
    if (sc.config) this.load(`duckgoose 1 seed=${seed} nodes=${sc.options?.nodes ?? 5} ${sc.config}`);
    else this.reset({ ...sc.options, seed });
    for (const b of this.shadowRoot.querySelectorAll('.scen button')) toggle(b, 'on', b.dataset.scenario === name);
    const self = this;
    const ctx = {
      mem: { candidates: new Map() },
      view: () => self.frame.view,
      goose: () => self.frame.view.goose ?? null,
      live: () => self.frame.view.nodes.filter((n) => n.status !== 'down'),
      node: (id) => self.frame.view.nodes.find((n) => n.id === id),
      term: (id) => self.frame.view.nodes.find((n) => n.id === id)?.term,
      exists: (id) => self.frame.view.nodes.some((n) => n.id === id),
      isMember: (id) => self.frame.view.nodes.some((n) => n.id === id && n.member && n.status === 'up'),
      others: (ids) => self.frame.view.nodes.map((n) => n.id).filter((id) => !ids.includes(id)),
      why: (id, index) => self.sim.why(id, index),
      crash: (id) => self.crash(id), restart: (id) => self.restart(id),
      partition: (g) => self.partition(g), heal: () => self.heal(),
      cutLink: (from, to) => self.cutLink(from, to),
      askGoose: (id, onAnswer) => self._request(Number(id), 'goose', 'goose?', { onAnswer }),
      addNode: () => self.addNode(),
      pause: (id) => self.pauseNode(id), resume: (id) => self.resumeNode(id),
      // A write by the app next to `node` (redirected to the goose); `onAnswer` gets the
      // final answer in the frame that brings it.
      write: (node, key, value, fence, onAnswer) => self.write(node, key, value, { fence, onAnswer }),
      removeNode: (id) => self.removeNode(id), transfer: (id) => self.transfer(id),
      // Node `id`'s clock runs at `rate`× from now on; `hold` pauses the run on a moment.
      clock: (id, rate) => self.setClockRate(id, rate), hold: () => self.pause(),
      sawSplit: () => {
        for (const [term, s] of ctx.mem.candidates) {
          if (s.size >= 2) { ctx.mem.splitTerm = term; ctx.mem.splitBy = [...s]; return true; }
        }
        return false;
      },
    };
    // `said`: each step's caption with its moment, which the tour replays as it plays the run.
    this.director = { name, sc, i: 0, since: this.frame.view.now, ctx, said: [] };
    this._caption(sc.title, sc.intro);
  }

  _direct(frame) {
    const d = this.director;
    for (const l of frame.lines) {
      if (isRoleChange(l, 'candidate')) {
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
      if (say) {
        this._caption(d.sc.title, say);
        d.said.push({ at: this.frame.view.now, say, hold: !!step.hold, pick: step.pick?.(d.ctx) });
      }
      d.i += 1;
      d.since = this.frame.view.now;
      frame = this.frame;
    }
  }
}
