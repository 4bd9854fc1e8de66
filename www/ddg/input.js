// Input for <duck-duck-goose>: the toolbar and panel controls, dragging nodes between
// zones with pointer events (mouse, touch and pen alike), the keyboard (Tab to a node,
// Enter selects, 1-3 moves it to a zone, c/p/g/t/h act on it, arrows move between nodes,
// space plays or pauses), and `_command`, which runs a button's data-do command.
//
// InputMethods is never instantiated: duck-duck-goose.js copies its methods onto the
// element, so `this` is the <duck-duck-goose> element.

import { toggle } from './dom-helpers.js';
import { fmtSpeed, fmtTime } from './format.js';

export class InputMethods {
  _wire() {
    const root = this.shadowRoot;
    root.addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (!b || !this.sim) return;
      if (b.dataset.scenario) { this.startScenario(b.dataset.scenario); return; }
      this._command(b.dataset.do, b);
    });
    // A click on a log entry asks why it is (not) committed on that node (panels.js).
    this.ui.logs.addEventListener('click', (e) => {
      const cell = e.target.closest('td[data-i]');
      if (!cell || !this.sim || this.live) return;
      this._whyEntry = { node: Number(cell.dataset.n), index: Number(cell.dataset.i) };
      this._logKey = null;
      if (this.frame) this._panels(this.frame);
      this._wake();
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

  // A button's data-do command; node commands act on `nodeId`, else the selected node.
  _command(cmd, btn, nodeId) {
    const id = nodeId ?? this.selected;
    const node = this.frame?.view.nodes.find((n) => n.id === id);
    switch (cmd) {
      case 'toggle': return this.playing ? this.pause() : this.play();
      case 'step': return this.step();
      case 'tour': return this.startTour(1).catch((e) => this._error(e));
      case 'heal': return this.heal();
      case 'add': { const n = this.addNode(); if (n != null) this.select(n); return; }
      case 'put': return this.put(this.$('.key').value, this.$('.val').value);
      case 'get': return this.get(this.$('.key').value);
      case 'write': case 'write-fenced': {
        const from = Number(this.$('.w-from').value);
        const fenceText = this.$('.fence').value.trim();
        const fence = cmd === 'write-fenced' ? Number(fenceText) : null;
        if (cmd === 'write-fenced' && (fenceText === '' || !Number.isSafeInteger(fence) || fence < 0)) {
          this._error(new Error('fence: a whole number (ask a node Goose? for one)'));
          return;
        }
        return this.write(from, this.$('.key').value, this.$('.val').value, { fence });
      }
      case 'restart-run': {
        const c = this.sim.config();
        if (this.director) return this.startScenario(this.director.name);
        this.reset({ nodes: c.nodes, seed: c.seed, compactEvery: c.compaction?.threshold });
        return this.play();
      }
      case 'new-run': case 'random-seed': {
        const seedText = this.$('.seed').value.trim();
        const seed = cmd === 'random-seed' || seedText === '' ? undefined : Number(seedText);
        if (seed !== undefined && !Number.isSafeInteger(seed)) { this._error(new Error('seed: a whole number')); return; }
        const compactText = this.$('.compact').value.trim();
        try {
          this.reset({
            nodes: Number(this.$('.run-nodes').value), seed, timings: this.$('.timings').value,
            preVote: this.$('.prevote').checked, checkQuorum: this.$('.checkquorum').checked,
            compactEvery: compactText === '' ? undefined : Number(compactText),
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
