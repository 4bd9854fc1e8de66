// The panels of <duck-duck-goose> around the stage, refreshed from each frame: clock,
// timeline and live/replay badge, the goose card, the one-line ticker (minimal controls),
// and with controls="full" the invariants box, the replicated-log table, the node panel,
// the link editor, the run panel and the event log. Also the caption the scenarios and
// shared links narrate in.
//
// PanelMethods is never instantiated: duck-duck-goose.js copies its methods onto the
// element, so `this` is the <duck-duck-goose> element.

import { invariants } from '../pkg/duckgoose_wasm.js';
import { set, setText, toggle } from './dom-helpers.js';
import { fmtTime, termColor, ROLE_TEXT } from './format.js';

const esc = (t) => String(t).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export class PanelMethods {
  // The invariants box's list, built once.
  _buildInvariantList() {
    // The checker's own list (needs the wasm module loaded): id, name, description.
    const list = invariants();
    this._invariantNames = new Map(list.map((x) => [x.id, x.name]));
    const inv = this.ui.inv.querySelector('ul');
    inv.innerHTML = list.map((x) => `<li data-inv="${x.id}" title="${x.description}">${x.name}</li>`).join('');
  }


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
    // Clocks drifting beyond what the lease assumes (ddg/clocks.js) can show two at once.
    const geese = v.nodes.filter((n) => n.goose);
    const cardKey = geese.length > 1 ? `two:${geese.map((n) => `${n.id}:${n.term}`)}` : g ? `g${g.id}:${g.term}` : `n:${v.nodes.find((n) => n.role === 'leader' && n.status === 'up')?.id ?? ''}`;
    if (this._cardKey !== cardKey) {
      this._cardKey = cardKey;
      const card = this.ui.card;
      toggle(card, 'none', !g);
      if (geese.length > 1) {
        card.innerHTML = `<svg viewBox="0 0 64 64"><use href="#goose"/></svg><span><b>${geese.length} geese at once:</b> ${geese.map((n) => `node ${n.id} <span class="muted">(term ${n.term})</span>`).join(' and ')} <span class="muted">· each trusts its own clock</span></span>`;
        card.querySelector('svg').innerHTML = this.ui.stage.querySelector('#goose').innerHTML;
      } else if (g) {
        card.innerHTML = `<svg viewBox="0 0 64 64"><use href="#goose"/></svg><span>Node <b>${g.id}</b> is the goose <span class="muted">· term ${g.term}</span></span>`;
        card.querySelector('svg').innerHTML = this.ui.stage.querySelector('#goose').innerHTML;
      } else {
        const leader = v.nodes.find((n) => n.role === 'leader' && n.status === 'up');
        card.textContent = leader ? `No goose yet: ${leader.id} leads but has not confirmed its lease` : 'No goose: the ducks are choosing';
      }
    }
    if (this.live) { this._livePanels(v); return; }
    if (this.ui.ticker && this._controls() !== 'full') {
      const last = [...f.lines].reverse().find((l) => ['goose', 'leader', 'stepdown', 'action', 'violation', 'role'].includes(l.kind));
      if (last) setText(this.ui.ticker, `${fmtTime(last.at)} · ${last.text}`);
    }
    if (this._controls() !== 'full') return;
    this._invariants(v);
    this._store(v);
    this._logTable(v);
    this._nodePanel(v);
    this._why(v);
    this._linkSelects(v, prev);
  }

  _invariants(v) {
    if (this._invCount === v.violations.length) return;
    this._invCount = v.violations.length;
    const bad = v.violations.length > 0;
    toggle(this.ui.inv, 'bad', bad);
    setText(this.ui.inv.querySelector('.sum'), bad ? `Invariant violated (${v.violations.length})` : 'All invariants hold');
    const broken = new Set(v.violations.map((x) => x.invariant));
    for (const li of this.ui.inv.querySelectorAll('li')) toggle(li, 'bad', broken.has(li.dataset.inv));
    const last = v.violations.at(-1);
    const off = this._lastViolation ?? (last ? `${this._invariantNames?.get(last.invariant) ?? last.invariant}: ${last.detail}` : '');
    setText(this.ui.inv.querySelector('.offense'), bad ? off : '');
  }

  _logTable(v) {
    const key = v.nodes.map((n) => `${n.id}:${n.status}:${n.goose}:${n.last_index}:${n.commit_index}:${n.log.at(-1)?.term ?? 0}:${n.snapshot?.index}:${n.receiving?.bytes}`).join('|') + `|${this._whyEntry?.node}:${this._whyEntry?.index}`;
    if (key === this._logKey) return;
    this._logKey = key;
    const last = Math.max(0, ...v.nodes.map((n) => n.last_index));
    // With compaction, a first column holds each node's snapshot: one block that also
    // covers the window's columns up to its index (the entries it replaced).
    const snaps = v.nodes.some((n) => n.snapshot || n.receiving);
    const cols = snaps ? 10 : 12;
    const start = Math.max(1, last - cols + 1);
    let h = `<thead><tr><th></th>${snaps ? '<th>snapshot</th>' : ''}`;
    for (let i = start; i < start + cols; i++) h += `<th>${i <= last ? i : ''}</th>`;
    h += '</tr></thead><tbody>';
    for (const n of v.nodes) {
      h += `<tr class="${n.status === 'down' ? 'down' : ''}${n.goose ? ' goose' : ''}"><th>${n.goose ? 'goose ' : ''}n${n.id}</th>`;
      let from = start;
      const s = n.snapshot, r = n.receiving;
      if (s) {
        from = Math.max(start, s.index + 1);
        const recv = r ? `; receiving a newer one through ${r.index} (${r.bytes} bytes so far)` : '';
        h += `<td class="snap" colspan="${1 + from - start}" title="snapshot through index ${s.index} (term ${s.term}): entries 1–${s.index} compacted into ${s.bytes} bytes of store state${recv}">snapshot ≤ ${s.index} @ t${s.term}</td>`;
      } else if (r) {
        h += `<td class="recv" title="receiving the leader's snapshot through index ${r.index}: ${r.bytes} bytes so far">⇣ ≤ ${r.index} · ${r.bytes} B</td>`;
      } else if (snaps) {
        h += '<td class="none"></td>';
      }
      const byIndex = new Map(n.log.map((e) => [e.index, e]));
      for (let i = from; i < start + cols; i++) {
        const e = byIndex.get(i);
        if (!e) { h += `<td class="${i <= n.last_index ? '' : 'none'}"></td>`; continue; }
        const c = i <= n.commit_index ? ' c' : '';
        const picked = this._whyEntry?.node === n.id && this._whyEntry?.index === i ? ' picked' : '';
        h += `<td class="e${c}${picked}" data-n="${n.id}" data-i="${i}" style="background:${termColor(e.term)}" title="index ${i}, term ${e.term}: ${e.label.replace(/"/g, '&quot;')}${c ? ' (committed)' : ''}; click: why${c ? '' : ' not'} committed?">${e.term}</td>`;
      }
      h += '</tr>';
    }
    this.ui.logs.innerHTML = h + '</tbody>';
  }

  _nodePanel(v) {
    const n = v.nodes.find((x) => x.id === this.selected);
    const key = n ? JSON.stringify([n.id, n.status, n.role, n.term, n.goose, n.leader, n.voted_for, n.commit_index, n.last_index, n.snapshot?.index, n.member, this._zones().findIndex((z) => z.includes(n.id)), n.clock_rate]) : 'none';
    // Not rebuilt under a clock slider being dragged (it acts when let go).
    if (key === this._panelKey || this._clockDragging) return;
    this._panelKey = key;
    const p = this.ui.nodePanel;
    if (!n) { p.className = 'node-body muted'; p.textContent = 'Click a node (or Tab to it) to select it.'; return; }
    p.className = 'node-body';
    // A clock slider moved by keyboard keeps the focus across the rebuild its change causes.
    const sliding = this.shadowRoot.activeElement?.classList.contains('clock-rate');
    const zone = this._zones().findIndex((z) => z.includes(n.id));
    const down = n.status === 'down';
    p.innerHTML = `
      <div class="node-title">Node ${n.id} · ${n.goose ? 'the goose' : down ? 'down' : ROLE_TEXT[n.role]}</div>
      <div class="kv"><span>term</span><span>${n.term}</span><span>voted for</span><span>${n.voted_for ?? '–'}</span>
        <span>leader</span><span>${n.leader ?? '–'}</span><span>log</span><span>${n.last_index} entries${n.snapshot ? ` (1–${n.snapshot.index} in a snapshot)` : ''}, ${n.commit_index} committed</span>
        <span>member</span><span>${n.member ? 'yes' : 'no (joining or removed)'}</span></div>
      <div class="row"><button data-do="node-crash">${down ? 'Restart' : 'Crash'}</button>
        <button data-do="node-pause" ${down ? 'disabled' : ''}>${n.status === 'paused' ? 'Resume' : 'Pause'}</button>
        <button class="gold" data-do="node-goose" ${down ? '' : ''}>Goose?</button></div>
      <div class="row"><button data-do="node-transfer" ${n.goose || down ? 'disabled' : ''}>Make goose</button>
        <button data-do="node-remove">Remove</button></div>
      <div class="row"><span class="muted">zone</span>${[0, 1, 2].map((i) => `<button data-do="node-zone" data-zone="${i}" ${zone === i ? 'disabled' : ''}>${i + 1}</button>`).join('')}</div>${this._clockRow(n)}
      <div class="why why-goose" aria-live="polite"></div>`;
    if (sliding) p.querySelector('.clock-rate')?.focus();
  }

  // "Why no goose?" for the selected node and "why (not) committed?" for the picked
  // log entry, asked of the core every frame (`sim.why`), so the answer follows the run.
  _why(v) {
    const node = v.nodes.find((x) => x.id === this.selected);
    const line = this.ui.nodePanel.querySelector('.why-goose');
    if (node && line) setText(line, `Why ${node.goose ? '' : 'no '}goose? ${this.sim.why(node.id).gooseText}`);
    const pick = this._whyEntry;
    const entryLine = this.$('.why-entry');
    if (!pick || !entryLine) return;
    if (!v.nodes.some((x) => x.id === pick.node)) { this._whyEntry = null; setText(entryLine, ''); return; }
    const w = this.sim.why(pick.node, pick.index);
    setText(entryLine, `Entry ${pick.index} on node ${pick.node}: ${w.entryText ?? w.gooseText}`);
  }

  // The goose's key-value store, as the view carries it (its first keys).
  _store(v) {
    const s = v.store;
    const key = s ? JSON.stringify(s) : '';
    if (key === this._storeKey) return;
    this._storeKey = key;
    const el = this.$('.store');
    if (!s) { el.textContent = 'store: no goose to read it from'; return; }
    const pairs = s.entries.map(([k, val]) => `<b>${esc(k)}</b> = ${esc(val)}`).join(' · ');
    el.innerHTML = `store at goose ${s.node}: ${pairs || 'empty'}${s.len > s.entries.length ? ` · … ${s.len} keys` : ''}`;
  }

  _linkSelects(v) {
    const ids = v.nodes.map((n) => n.id).join(',');
    if (ids === this._linkIds) return;
    this._linkIds = ids;
    for (const [cls, def] of [['.l-from', 0], ['.l-to', 1], ['.w-from', 0]]) {
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
    this.$('.compact').value = c.compaction ? String(c.compaction.threshold) : '';
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

  // The caption under the stage: a bold title and a sentence; no title hides it.
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
}
