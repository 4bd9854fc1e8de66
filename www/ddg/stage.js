// The SVG stage of <duck-duck-goose>: where the nodes sit in the three zones (layout and
// the glide between positions), and drawing each frame: links, one-way cuts, messages in
// flight, nodes with their election-timer rings and vote dots, and answer bubbles.
//
// Every node is an SVG <g class="node"> with data-node-id, data-role="goose|duck|down",
// data-status and r-<role> classes; the tests and the docs rely on those.
//
// StageMethods is never instantiated: duck-duck-goose.js copies its methods onto the
// element, so `this` is the <duck-duck-goose> element (its `frame`, `pos`, `ui`, ...).

import { svg, set, setText, toggle } from './dom-helpers.js';
import { ROLE_TEXT } from './format.js';
import { quorumOf } from './view-model.js';
import { fmtRate } from './clocks.js';

// The stage's coordinate space: zones side by side, or stacked on narrow screens.
export const LANDSCAPE = [960, 500];
const PORTRAIT = [520, 820];
const R = 30;
const TOP = 8;
const ZONES = 3;
// Message kinds: colour and dot radius.
const KIND = {
  Heartbeat: ['#8ea6c6', 4.5], Append: ['#2f6fdf', 7], AppendReply: ['#93bdf5', 4.5],
  PreVote: ['#a77be6', 5.5], PreVoteReply: ['#d2bdf4', 4.5], Vote: ['#ee8a2a', 6],
  VoteReply: ['#f6c289', 4.5], TimeoutNow: ['#e0445a', 7],
  // Snapshot chunks (log compaction) in teal, like the snapshot block in the log view.
  InstallSnapshot: ['#0f9f8f', 7.5], SnapshotAck: ['#86d8cc', 4.5],
};

let firstDrawn = false; // for the load-time benchmark: performance.mark('ddg-first-draw')

export class StageMethods {
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

  // The parts of the stage that never change: the message legend and the three zones.
  _buildStage() {
    this.ui.legend.innerHTML = Object.entries(KIND)
      .filter(([k]) => !/Reply|Ack/.test(k))
      .map(([k, [c]]) => `<span><i style="background:${c}"></i>${k}</span>`).join('');
    for (let i = 0; i < ZONES; i++) {
      const g = svg('g', { class: `zone z${i}` }, this.ui.zones);
      svg('rect', { rx: 16 }, g);
      const t = svg('text', {}, g);
      const s = svg('text', { class: 'sub' }, g);
      this.zoneEls.push({ g, rect: g.firstChild, t, s });
    }
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
    // A clock not at 1× (ddg/clocks.js): a small dial and its rate, top right.
    el.rate = svg('g', { class: 'rate', transform: `translate(${R + 4} ${-R + 2})`, display: 'none' }, g);
    svg('circle', { class: 'dial', r: 6.5 }, el.rate);
    svg('path', { class: 'hands', d: 'M0 -4 V0 H3' }, el.rate);
    el.rateText = svg('text', { x: 10 }, el.rate);
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
      // (Live mode sees no votes: a real network hides them.)
      if ((n.role === 'candidate' || n.role === 'pre_candidate') && !this.live) {
        const got = n.votes.filter(([, g]) => g).length;
        label += ` · ${got}/${quorumOf(n)} votes`;
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
      const rate = n.clock_rate ?? 1000;
      set(el.rate, 'display', rate === 1000 ? 'none' : 'inline');
      setText(el.rateText, rate === 1000 ? '' : fmtRate(rate));
      set(el.g, 'aria-label', `node ${n.id}: ${n.goose ? 'the goose, ' : ''}${what}, term ${n.term}${rate === 1000 ? '' : `, clock at ${fmtRate(rate)}`}`);
      // Election timer ring.
      if (!timers) { /* next time */ } else if (n.election_timer && n.status === 'up') {
        const [armed, fires] = n.election_timer;
        // The timer is on the node's own clock, which may run at another rate.
        const own = n.clock == null ? t : n.clock + (f.carry ?? 0) * (n.clock_rate / 1000);
        const frac = Math.max(0, Math.min(1, (own - armed) / Math.max(1, fires - armed)));
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

  // ---- Zones and screen shape ------------------------------------------------------------

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

}
