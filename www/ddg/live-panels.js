// Live mode of <duck-duck-goose>: the page served by a duckgoose node drawing that node's
// real cluster (ddg/live.js reads and drives it). Loaded only in live mode (`/?live`, or
// the `live` attribute), so the simulator's page does not grow. It starts the live source
// in place of the simulator, hides what only a simulation has (timeline, scenarios,
// message dots, invariants, the run and network panels) and adds the Live cluster card
// (the token, what the page is connected to), a table of the nodes' /status, and a node
// panel with the process controls.
//
// LiveMethods is never instantiated: duck-duck-goose.js copies its methods onto the
// element when live mode starts, so `this` is the <duck-duck-goose> element.

import { LiveCluster } from './live.js';
import { setText, toggle } from './dom-helpers.js';
import { ROLE_TEXT } from './format.js';

const esc = (t) => String(t).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

const LIVE_CSS = `
.sim-only { display: none !important; }
.state { grid-template-columns: 1fr; }
.live-card .live-conn { font-size: 13px; overflow-wrap: anywhere; }
.live-card input.live-token { width: 168px; }
.live-card .live-token-state { font-size: 13px; }
.live-card .ok { color: var(--ok); }
.live-card .bad { color: var(--bad); font-weight: 600; }
.live-hint { font-size: 12px; color: var(--mute); padding: 0 14px 8px; }
.live-badge { font-size: 12px; padding: 2px 8px; border-radius: 99px; background: #fff0e0; color: #9a4b00; font-weight: 600; }
table.logs.live { border-spacing: 0; }
table.logs.live th, table.logs.live td { width: auto; height: auto; border: none; border-radius: 0; padding: 3px 9px; text-align: right; border-bottom: 1px solid #eef0f3; }
table.logs.live thead th { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }
table.logs.live td.txt { text-align: left; white-space: nowrap; }
table.logs.live tr.down td, table.logs.live tr.paused td { color: #98a2b3; }
`;

const PROCESS_TEXT = { running: 'running', paused: 'paused (SIGSTOP)', exited: 'not running' };

export class LiveMethods {
  /** Starts live mode: the cluster behind `origin` (the page's own by default). */
  async _startLive(origin = location.origin) {
    this.live = true;
    this.ui.wrap.dataset.mode = 'live';
    const style = document.createElement('style');
    style.textContent = LIVE_CSS;
    this.shadowRoot.appendChild(style);
    this._buildLiveParts();
    const source = new LiveCluster({
      origin,
      onChange: () => this._wake(),
      onError: (e) => this._error(e),
    });
    this.sim = source;
    this.frame = null;
    this.selected = null;
    this.ui.events.textContent = '';
    this._pendingLines = [];
    this._logRows = 0;
    await source.start();
    this._apply(source.frame(), true);
    this._draw();
  }

  // The Live cluster card, the hint under the stage and the badge, built once.
  _buildLiveParts() {
    const card = document.createElement('section');
    card.className = 'card live-card';
    card.innerHTML = `
      <h3>Live cluster</h3>
      <div class="live-conn muted">connecting…</div>
      <div class="row"><label>token <input class="live-token" type="password" autocomplete="off" spellcheck="false" placeholder="the cluster's token" aria-label="the cluster's token"></label></div>
      <div class="row"><button data-live="token">Use token</button><button data-live="forget">Forget</button></div>
      <div class="live-token-state muted"></div>
      <div class="row muted"><a href="/index.html" target="_blank" rel="noopener">The simulator</a></div>`;
    this.$('aside').prepend(card);
    const input = card.querySelector('.live-token');
    const useToken = async () => {
      const t = input.value.trim();
      input.value = '';
      this.sim.setToken(t || null);
      await this.sim.checkToken();
    };
    card.addEventListener('click', (e) => {
      const b = e.target.closest('button[data-live]');
      if (!b) return;
      e.stopPropagation();
      if (b.dataset.live === 'token') useToken();
      else { input.value = ''; this.sim.setToken(null); }
    });
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') useToken(); });
    const hint = document.createElement('div');
    hint.className = 'live-hint';
    hint.textContent = 'These are real nodes. Drag one into another zone and every node blocks the nodes outside its zone (POST /admin/partition); Heal undoes it. Select a node to crash (kill -9), restart, pause (SIGSTOP) or resume it. Keys on a selected node: 1-3 zone, c crash/restart, p pause/resume, g goose?, t transfer, h heal.';
    this.$('.hint').after(hint);
    const badge = document.createElement('span');
    badge.className = 'live-badge';
    badge.textContent = 'LIVE: real nodes';
    this.ui.clock.before(badge);
    this.ui.clock.title = 'time since the page connected';
    const title = this.$('.logsec h3');
    title.innerHTML = 'Nodes <span>their /status, every second</span>';
    this.ui.logs.classList.add('live');
  }

  // Called by _panels in live mode, after the clock and the goose card.
  _livePanels(v) {
    const live = v.live;
    const up = v.nodes.filter((n) => n.answering).length;
    const conn = this.$('.live-conn');
    const control = live.control
      ? `control API ${live.controlUp ? 'reachable' : 'not answering'} (${live.control})`
      : 'no control API (not started by duckgoose cluster): crash and pause are off';
    setText(conn, `${live.origin}: ${up} of ${v.nodes.length} nodes answer; ${control}`);
    const state = this.$('.live-token-state');
    const words = {
      none: ['no token: reading only', ''],
      unchecked: ['token kept for this tab', ''],
      accepted: ['token accepted', 'ok'],
      refused: ['token refused (401): type it again', 'bad'],
    }[live.token];
    setText(state, words[0]);
    toggle(state, 'ok', words[1] === 'ok');
    toggle(state, 'bad', words[1] === 'bad');
    this._liveTable(v);
    this._liveNodePanel(v);
  }

  _liveTable(v) {
    const key = JSON.stringify(v.nodes.map((n) => [n.id, n.status, n.goose, n.role, n.term, n.leader, n.commit_index, n.applied_index, n.last_index, n.blocked, n.blocked_in, n.blocked_out, n.process]));
    if (key === this._logKey) return;
    this._logKey = key;
    let h = '<thead><tr><th></th><th>process</th><th>role</th><th>term</th><th>leader</th><th>commit</th><th>applied</th><th>last</th><th>cut off from</th></tr></thead><tbody>';
    for (const n of v.nodes) {
      const role = n.status === 'down' ? 'down' : n.goose ? 'goose' : ROLE_TEXT[n.role];
      const cut = n.blocked.length ? n.blocked.join(', ') : '–';
      const oneWay = [...n.blocked_in.filter((x) => !n.blocked.includes(x)).map((x) => `${x}→`), ...n.blocked_out.filter((x) => !n.blocked.includes(x)).map((x) => `→${x}`)];
      h += `<tr class="${n.status}${n.goose ? ' goose' : ''}" data-live-node="${n.id}"><th>${n.goose ? 'goose ' : ''}n${n.id}</th>`
        + `<td class="txt">${esc(PROCESS_TEXT[n.process] ?? (n.answering ? 'answering' : 'not answering'))}</td>`
        + `<td class="txt">${esc(role)}</td><td>${n.term}</td><td>${n.leader ?? '–'}</td>`
        + `<td>${n.commit_index}</td><td>${n.applied_index}</td><td>${n.last_index}</td>`
        + `<td class="txt">${esc(cut)}${oneWay.length ? ` (${esc(oneWay.join(' '))})` : ''}</td></tr>`;
    }
    this.ui.logs.innerHTML = h + '</tbody>';
  }

  _liveNodePanel(v) {
    const n = v.nodes.find((x) => x.id === this.selected);
    const zone = n ? this._zones().findIndex((z) => z.includes(n.id)) : -1;
    const key = n ? JSON.stringify([n, zone, v.live.control != null]) : 'none';
    if (key === this._panelKey) return;
    this._panelKey = key;
    const p = this.ui.nodePanel;
    if (!n) { p.className = 'node-body muted'; p.textContent = 'Click a node (or Tab to it) to select it.'; return; }
    p.className = 'node-body';
    const down = n.status === 'down';
    const control = v.live.control != null;
    const off = control ? '' : 'disabled title="needs duckgoose cluster\'s control API"';
    p.innerHTML = `
      <div class="node-title">Node ${n.id} · ${n.goose ? 'the goose' : down ? 'down' : ROLE_TEXT[n.role]}${n.status === 'paused' ? ' (paused)' : ''}</div>
      <div class="kv"><span>url</span><span>${esc(n.url)}</span>
        <span>process</span><span>${esc(n.pid ? `pid ${n.pid}, ` : '')}${esc(PROCESS_TEXT[n.process] ?? (n.answering ? 'answering' : 'not answering'))}</span>
        <span>term</span><span>${n.term}</span><span>voted for</span><span>${n.voted_for ?? '–'}</span>
        <span>leader</span><span>${n.leader ?? '–'}</span>
        <span>log</span><span>${n.last_index} entries, ${n.commit_index} committed, ${n.applied_index} applied</span>
        <span>cut off from</span><span>${n.blocked.length ? n.blocked.join(', ') : 'nobody'}</span></div>
      <div class="row"><button data-do="node-crash" ${off}>${down ? 'Restart' : 'Crash'}</button>
        <button data-do="node-pause" ${down || !control ? 'disabled' : ''}>${n.status === 'paused' ? 'Resume' : 'Pause'}</button>
        <button class="gold" data-do="node-goose" ${down ? 'disabled' : ''}>Goose?</button></div>
      <div class="row"><button data-do="node-transfer" ${n.goose || down ? 'disabled' : ''}>Make goose</button></div>
      <div class="row"><span class="muted">zone</span>${[0, 1, 2].map((i) => `<button data-do="node-zone" data-zone="${i}" ${zone === i ? 'disabled' : ''}>${i + 1}</button>`).join('')}</div>`;
  }
}
