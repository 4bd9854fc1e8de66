// "Break Raft" for <duck-duck-goose>: pick a deliberately broken rule, hunt seeds in a
// Web Worker (ddg/hunt-worker.js, its own wasm module) until the simulator's checker
// catches an invariant failing, then load that run and scrub to the moment it broke,
// as an imported run is loaded. The panel shows what each rule breaks and why that is
// unsafe; the numbers (seeds, virtual time, the moment, the invariant) come from Rust.
//
// HuntMethods is never instantiated: duck-duck-goose.js copies its methods onto the
// element, so `this` is the <duck-duck-goose> element.

import { fmtTime } from './format.js';

/** The broken rules, by the names Rust gives them (`UnsafeVariant::name`), each with what it breaks. */
export const BROKEN_RULES = [
  {
    id: 'commit-earlier-term', label: 'Commit old entries by count',
    why: 'Counts an entry of an earlier term as committed once a majority holds it (as '
      + '<a href="https://github.com/ongardie/raftscope/pull/15" target="_blank" rel="noopener">RaftScope pull request #15</a> proposes); '
      + 'unsafe: a later leader that never had the entry can still be elected and overwrite it (the paper\'s Figure 8).',
  },
  {
    id: 'grant-two-votes', label: 'Vote twice in a term',
    why: 'Votes for every candidate of a term, not just the first; unsafe: two candidates can each win a majority and lead the same term.',
  },
  {
    id: 'forget-vote', label: 'Forget the vote on restart',
    why: 'Does not keep its vote on disk, so a restart forgets it; unsafe: it can vote again in the same term, for a rival, and elect a second leader.',
  },
  {
    id: 'skip-log-check', label: 'Skip the log check',
    why: 'Votes without checking that the candidate\'s log is at least as up to date as its own (§5.4.1); unsafe: a node missing committed entries can win and drop them.',
  },
  {
    id: 'goose-without-round', label: 'Goose without a round',
    why: 'The leader answers "goose" at once, without a heartbeat round started after the question; unsafe: a leader already replaced, cut off from the majority, still says goose.',
  },
];

const RULES = new Map(BROKEN_RULES.map((r) => [r.id, r]));

// Virtual ms per slice of the hunt: a couple of seeds, a few tens of ms of wall time.
const SLICE_MS = 20_000;

const fmtRate = (p) => (p.wallMs > 0 ? `${Math.round(p.simulatedMs / p.wallMs).toLocaleString('en')}× real time` : '');

export class HuntMethods {
  // The panel's choices and buttons, wired once.
  _buildHuntPanel() {
    const select = this.$('.h-variant');
    select.innerHTML = BROKEN_RULES.map((r) => `<option value="${r.id}">${r.label}</option>`).join('');
    select.addEventListener('change', () => this._syncHuntWhy());
    this.$('.hunt-card').addEventListener('click', (e) => {
      const b = e.target.closest('button[data-hunt]');
      if (!b) return;
      if (b.dataset.hunt === 'start') {
        const seed = Number(this.$('.h-seed').value || 1);
        if (!Number.isSafeInteger(seed) || seed < 0) { this._error(new Error('from seed: a whole number')); return; }
        this.hunt(select.value, { firstSeed: seed }).catch((err) => this._error(err));
      } else this.stopHunt();
    });
    this._syncHuntWhy();
  }

  _syncHuntWhy() {
    this.$('.h-why').innerHTML = RULES.get(this.$('.h-variant').value)?.why ?? '';
  }

  /**
   * Hunts seeds from `firstSeed` with the rule `variant` broken, in a Web Worker, until an
   * invariant fails; then loads that run paused at the moment it failed. Resolves to
   * `{found: {seed, invariant, detail, at, scenario}, seedsTried, simulatedMs, wallMs, ...}`,
   * or to the last progress with `found: null` when stopped (`stopHunt`, or `maxSeeds`).
   */
  hunt(variant, { firstSeed = 1, maxSeeds, sliceMs = SLICE_MS } = {}) {
    if (!RULES.has(variant)) return Promise.reject(new Error(`no broken rule "${variant}" (one of ${[...RULES.keys()].join(', ')})`));
    this.stopHunt();
    this._huntWorker ??= this._startHuntWorker();
    const id = (this._huntId = (this._huntId ?? 0) + 1);
    this.$('.h-variant').value = variant;
    this._syncHuntWhy();
    this._huntRunning(true);
    this._huntSay(`hunting seeds from ${firstSeed}…`);
    return new Promise((resolve, reject) => {
      this._huntWaiting = { id, variant, resolve, reject };
      this._huntWorker.postMessage({ type: 'hunt', id, variant, firstSeed, sliceMs, maxSeeds });
    });
  }

  /** Ends a running hunt (after its current slice); its promise resolves with `found: null`. */
  stopHunt() {
    if (this._huntWaiting) this._huntWorker?.postMessage({ type: 'stop' });
  }

  _startHuntWorker() {
    const worker = new Worker(new URL('./hunt-worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = ({ data }) => this._onHunt(data);
    worker.onerror = (e) => this._huntFailed(new Error(`the hunt's worker failed: ${e.message || 'could not load it'}`));
    return worker;
  }

  _onHunt(m) {
    const waiting = this._huntWaiting;
    if (!waiting || m.hunt !== waiting.id) return; // a hunt since replaced
    if (m.type === 'error') { this._huntFailed(new Error(m.message)); return; }
    const progress = `${m.seedsTried} seed${m.seedsTried === 1 ? '' : 's'} · ${(m.simulatedMs / 1000).toFixed(1)} virtual s in ${(m.wallMs / 1000).toFixed(2)} s · ${fmtRate(m)}`;
    this.dispatchEvent(new CustomEvent('huntprogress', { detail: m }));
    if (m.type === 'progress') { this._huntSay(`hunting… ${progress}`); return; }
    this._huntWaiting = null;
    this._huntRunning(false);
    // The next hunt goes on from here (a new counterexample each time).
    this.$('.h-seed').value = String(m.found ? m.found.seed + 1 : m.nextSeed);
    if (m.type === 'stopped') {
      this._huntSay(`stopped: nothing broke in ${progress}`);
      waiting.resolve(m);
      return;
    }
    const f = m.found;
    const rule = RULES.get(waiting.variant);
    const invariant = this._invariantNames?.get(f.invariant) ?? f.invariant;
    try {
      this.load(f.scenario, f.at);
    } catch (e) { this._huntFailed(e); return; }
    this._huntSay(`found: seed ${f.seed} broke ${invariant} at ${fmtTime(f.at)} · ${progress}`);
    this._caption(`${rule.label}: ${invariant} broken`,
      `at ${fmtTime(f.at)} in seed ${f.seed} (found after ${m.seedsTried} seed${m.seedsTried === 1 ? '' : 's'}, ${(m.wallMs / 1000).toFixed(1)} s): ${f.detail}. `
      + `The run is loaded, paused at that moment: drag the timeline back to watch it happen. Why: ${rule.why.replace(/<[^>]+>/g, '')}`);
    this.dispatchEvent(new CustomEvent('huntfound', { detail: m }));
    waiting.resolve(m);
  }

  _huntFailed(err) {
    const waiting = this._huntWaiting;
    this._huntWaiting = null;
    this._huntRunning(false);
    this._huntSay('');
    this._error(err);
    waiting?.reject(err);
  }

  _huntRunning(on) {
    this.$('button[data-hunt=start]').disabled = on;
    this.$('button[data-hunt=stop]').disabled = !on;
    this.$('.hunt-card').classList.toggle('hunting', on);
  }

  _huntSay(text) { this.$('.h-progress').textContent = text; }

  // Which rule the loaded run breaks (a run with `break=…` in its config), shown in the
  // panel: a run found by a hunt, or imported, plays on with that rule broken.
  _syncHuntCard() {
    const broken = this.sim?.config().unsafe_variant ?? null;
    const el = this.$('.h-loaded');
    el.hidden = !broken;
    el.textContent = broken ? `This run breaks a rule: ${RULES.get(broken)?.label ?? broken}. New run starts a correct one.` : '';
  }
}
