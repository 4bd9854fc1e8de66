// Live mode's data source: a real duckgoose cluster instead of the simulator. The page is
// served by one node; this reads every member's /status (polled) and /goose/watch
// (Server-Sent Events), changes the network through the nodes' partition API, hands the
// goose role over through /admin/transfer, and crashes, restarts, pauses and resumes
// nodes through the control API of the `duckgoose cluster` that runs them (its URL comes
// from /status). The nodes are the source of truth: what is drawn is what they answer.
//
// LiveCluster has the shape of the wasm Sim as far as the element uses it (`frame`,
// `act`, `now`, `linkInfo`, `free`, `setVerbose`), so the stage, zones, drag and drop,
// node panel keys and events work unchanged; its frames carry no messages, timers or
// votes (a real network hides them).
//
// The token is typed into the page, kept in sessionStorage (this tab only) and sent only
// as `Authorization: Bearer`, never in a URL. Reads (/status, /goose/watch, /goose, the
// control API's list) need no token; everything that changes something does.

const TOKEN_KEY = 'duckgoose-token';
// A /status read costs the browser about 0.6 ms of CPU (headless Chromium, HTTPS): once a
// second per node keeps a page near 3 % of a core. Goose changes do not wait for it: they
// come on the watch streams.
const STATUS_EVERY = 1000;       // ms between two /status reads of one node
const STATUS_TIMEOUT = 1200;     // a node silent this long is not answering (paused, hung)
const DOWN_EVERY = 2000;         // a node that does not answer is asked less often
const HIDDEN_EVERY = 3000;       // and so is every node while the tab is hidden
const CONTROL_EVERY = 2000;      // the page learns its own actions' outcome at once
const ACTION_TIMEOUT = 5000;
const INTENT_HOLD = 4000;        // how long a drawn partition waits for the nodes to confirm it
const JSON_BODY = { 'content-type': 'application/json' };

const sleepFor = (ms, onWake) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  onWake(() => { clearTimeout(t); resolve(); });
});

/** The token this tab holds, or null. */
export function storedToken() {
  try { return sessionStorage.getItem(TOKEN_KEY) || null; } catch { return null; }
}

/** Keeps `token` for this tab (null forgets it). */
export function storeToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage blocked: the token lives in memory only */ }
}

// What a node sends is checked before it is drawn: ids and counters are whole numbers.
const ids = (list) => (Array.isArray(list) ? list.filter((x) => Number.isSafeInteger(x) && x > 0) : []);
const int = (x, otherwise = 0) => (Number.isSafeInteger(x) && x >= 0 ? x : otherwise);
const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

// Keys and values arrive percent-encoded in action text (format.js `enc`).
function dec(text) {
  if (text === '%') return '';
  try { return decodeURIComponent(text); } catch { return text; }
}

export class LiveCluster {
  /** `origin`: the node that served the page. `onChange()` after new data; `onError(e)`. */
  constructor({ origin, onChange = () => {}, onError = () => {} }) {
    this.live = true;
    this.origin = origin;
    this.scheme = new URL(origin).protocol; // 'http:' or 'https:'
    this.onChange = onChange;
    this.onError = onError;
    this.token = storedToken();
    this.tokenState = this.token ? 'unchecked' : 'none'; // none | unchecked | accepted | refused
    this.nodes = new Map(); // id -> per-node state (see _addNode)
    this.control = null;    // the cluster's control API, from /status
    this.controlUp = false;
    this.processes = new Map(); // id -> {state, pid} from the control API
    this.zoneOf = new Map();    // id -> 0..2, so zones keep their places between frames
    this.intent = null;         // {groups, until}: a partition drawn and sent, not yet confirmed
    this.desired = null;        // Map id -> ids it should block, as the page last set them
    this.lines = [];
    this.answers = [];
    this.nextRequest = 1;
    this.started = performance.now();
    this.stopped = false;
    this.changed = true;
  }

  get now() { return Math.round(performance.now() - this.started); }

  /** Reads the serving node's /status and starts watching every member. */
  async start() {
    let status;
    try {
      status = await this._json(`${this.origin}/status`, STATUS_TIMEOUT * 3);
    } catch (e) {
      throw new Error(`live mode: cannot read ${this.origin}/status (${e.message}); is this page served by a duckgoose node?`);
    }
    this.self = status.id;
    this._members(status);
    // The other members let a page call them only from their members' own origins (CORS):
    // opened as localhost while the nodes know 127.0.0.1, the page could read only this node.
    const me = this.nodes.get(status.id);
    if (me && new URL(me.url).origin !== this.origin) {
      this.onError(new Error(`this page was opened as ${this.origin}, but the cluster knows this node as ${me.url}: open ${me.url}/ so the other nodes accept the page`));
    }
    const self = this.nodes.get(status.id);
    if (self) this._onStatus(self, status);
    this._line('action', `watching ${this.nodes.size} nodes from ${this.origin}`);
    return this;
  }

  free() {
    this.stopped = true;
    for (const n of this.nodes.values()) { n.es?.close(); n.wake?.(); }
    this._controlWake?.();
  }

  setVerbose() {}

  setToken(token) {
    this.token = token || null;
    storeToken(this.token);
    this.tokenState = this.token ? 'unchecked' : 'none';
    this._touch();
  }

  /** Checks the token with a harmless authenticated read; resolves to the new tokenState. */
  async checkToken() {
    if (!this.token) return this.tokenState;
    const target = this._someUp();
    if (!target) return this.tokenState;
    try {
      // The token check runs before the read: a 401 means refused, anything else (404,
      // or a redirect to the goose) means the node took it.
      const r = await this._fetch(`${target.url}/kv/duckgoose-playground-token-check`, { redirect: 'manual' }, true);
      this.tokenState = r.status === 401 ? 'refused' : 'accepted';
    } catch (e) {
      this.onError(e);
    }
    this._touch();
    return this.tokenState;
  }

  // ---- The Sim-shaped part ------------------------------------------------------------

  /** The cluster as the stage draws it, plus the lines and answers since the last frame. */
  frame() {
    const view = this._view();
    const frame = {
      view, zones: this._zones(view), lines: this.lines, answers: this.answers,
      hash: null, horizon: view.now, replaying: false, carry: 0,
    };
    this.lines = [];
    this.answers = [];
    this.changed = false;
    return frame;
  }

  // What only a simulation can do.
  step() { return this.frame(); }
  runUntil() { return this.frame(); }
  seek() { return this.frame(); }
  nextNodeId() { throw new Error('live mode cannot add nodes: start one with duckgoose node --join'); }
  config() { throw new Error('live mode has no run to configure: the simulator is at /index.html'); }
  scenario() { throw new Error('live mode records no run: the simulator is at /index.html'); }

  linkInfo(from, to) {
    const cut = this._cuts().some(([a, b]) => a === from && b === to);
    return { cut, loss: 0, latencyMin: 0, latencyMax: 0 };
  }

  /** The element's action text (`partition 1,2/3,4,5`, `crash 3`, `request 2 goose`, …). */
  act(action) {
    const [verb, ...args] = String(action).trim().split(/\s+/);
    const node = (text) => {
      const id = Number(text);
      if (!this.nodes.has(id)) throw new Error(`no node ${text} in this cluster`);
      return this.nodes.get(id);
    };
    switch (verb) {
      case 'partition': return this._partition(args[0].split('/').map((g) => (g === '-' ? [] : g.split(',').map(Number))));
      case 'heal': return this._partition([[...this.nodes.keys()]]);
      case 'crash': case 'restart': case 'pause': case 'resume': return this._control(node(args[0]), verb);
      case 'transfer': return this._transfer(node(args[0]));
      case 'request': return this._request(node(args[0]), args.slice(1));
      default: throw new Error(`live mode cannot ${verb} (the simulator can: open /index.html)`);
    }
  }

  // ---- Reading the nodes ------------------------------------------------------------------

  _addNode(id, addr) {
    const n = {
      id, addr, url: `${this.scheme}//${addr}`,
      status: null, statusAt: 0, reachable: null, fails: 0,
      watch: null, es: null, wake: null, member: true, needsBlocks: false,
    };
    this.nodes.set(id, n);
    this._pollLoop(n);
    return n;
  }

  // Members as a node's /status lists them: new ones are watched; one missing from the
  // newest membership shows as not a member.
  _members(status) {
    const members = Array.isArray(status.members) ? status.members : [];
    for (const m of members) {
      if (!Number.isSafeInteger(m?.id) || typeof m.addr !== 'string') continue;
      const n = this.nodes.get(m.id);
      if (!n) this._addNode(m.id, m.addr);
      else if (n.addr !== m.addr) { n.addr = m.addr; n.url = `${this.scheme}//${m.addr}`; }
    }
    if ((status.term ?? 0) >= (this._membersTerm ?? 0) && members.length) {
      this._membersTerm = status.term ?? 0;
      const now = new Set(members.map((m) => m?.id));
      for (const n of this.nodes.values()) n.member = now.has(n.id);
    }
    if (typeof status.cluster_control === 'string' && /^https?:\/\/[^/]+$/.test(status.cluster_control) && !this.control) {
      this.control = status.cluster_control;
      this._controlLoop();
    }
  }

  async _pollLoop(n) {
    while (!this.stopped && this.nodes.get(n.id) === n) {
      await this._poll(n);
      const every = document.hidden ? HIDDEN_EVERY : n.reachable === false ? DOWN_EVERY : STATUS_EVERY;
      await sleepFor(every, (wake) => { n.wake = wake; });
    }
  }

  async _poll(n) {
    try {
      this._onStatus(n, await this._json(`${n.url}/status`, STATUS_TIMEOUT));
    } catch (e) {
      this._onSilent(n, e);
    }
  }

  _onStatus(n, s) {
    if (typeof s !== 'object' || s === null || s.id !== n.id || !Number.isSafeInteger(s.term)) {
      this._onSilent(n, new Error(`answered for node ${s?.id}`));
      return;
    }
    const back = n.reachable !== true;
    if (back && n.reachable === false) this._line('role', `${n.id} answers again (term ${s.term})`, n.id);
    const same = !back && JSON.stringify(n.status) === JSON.stringify(s);
    n.status = s;
    n.statusAt = performance.now();
    n.reachable = true;
    n.fails = 0;
    this._members(s);
    if (!n.es && !document.hidden) this._watch(n);
    if (back) this._reconcile(n);
    else this._noticeOthersNetwork(n);
    // Nothing new, nothing to draw (the status poll is the page's heartbeat, not news).
    if (!same) this._touch();
  }

  _onSilent(n, e) {
    n.fails++;
    if (n.reachable !== false) {
      const why = e?.name === 'TimeoutError' ? `no answer in ${STATUS_TIMEOUT} ms` : (e?.message ?? 'unreachable');
      this._line('stepdown', `${n.id} does not answer /status: ${why}`, n.id);
    }
    n.reachable = false;
    // A silent node's last word is not trusted: its watch stream may be frozen with it.
    n.es?.close();
    n.es = null;
    n.watch = null;
    this._touch();
  }

  // Server-Sent Events: each event is the node's answer to "goose?" as it changes.
  _watch(n) {
    const es = new EventSource(`${n.url}/goose/watch`);
    n.es = es;
    es.onmessage = (ev) => {
      let d;
      try { d = JSON.parse(ev.data); } catch { return; }
      if (typeof d?.goose !== 'boolean' || int(d.term, null) == null) return;
      const was = n.watch;
      n.watch = { goose: d.goose, term: d.term, leader: Number.isSafeInteger(d.leader) ? d.leader : null, at: performance.now() };
      if (!was || was.goose !== d.goose || was.term !== d.term || was.leader !== n.watch.leader) {
        if (d.goose) this._line('goose', `${n.id} is the goose of term ${d.term}`, n.id);
        else if (was?.goose) this._line('stepdown', `${n.id} is a duck now (term ${d.term}${n.watch.leader ? `, goose ${n.watch.leader}` : ''})`, n.id);
      }
      this._touch();
    };
    es.onerror = () => {
      // Closed or broken (a crash resets it at once): ask /status now; the stream is
      // reopened after the node's next answer.
      es.close();
      if (n.es === es) { n.es = null; n.watch = null; n.wake?.(); this._touch(); }
    };
  }

  async _controlLoop() {
    while (!this.stopped && this.control) {
      try {
        const body = await this._json(`${this.control}/nodes`, STATUS_TIMEOUT);
        let news = !this.controlUp;
        for (const p of Array.isArray(body?.nodes) ? body.nodes : []) {
          if (!Number.isSafeInteger(p?.id) || !['running', 'paused', 'exited'].includes(p.state)) continue;
          const old = this.processes.get(p.id);
          const pid = Number.isSafeInteger(p.pid) ? p.pid : null;
          this.processes.set(p.id, { state: p.state, pid });
          if (old?.state !== p.state || old?.pid !== pid) news = true;
          if (old && old.state !== p.state) this.nodes.get(p.id)?.wake?.();
        }
        this.controlUp = true;
        if (news) this._touch();
      } catch {
        if (this.controlUp) { this.controlUp = false; this._touch(); }
      }
      await sleepFor(document.hidden ? HIDDEN_EVERY : CONTROL_EVERY, (wake) => { this._controlWake = wake; });
    }
  }

  // ---- What the stage draws -------------------------------------------------------------

  _nodeView(n) {
    const s = n.status;
    const p = this.processes.get(n.id);
    let status = n.reachable === true ? 'up' : 'down';
    if (p?.state === 'exited') status = 'down';
    if (p?.state === 'paused') status = 'paused';
    // The newest of the two answers to "goose?": the watch event and the /status role.
    const fromStatus = s ? { goose: s.role === 'goose', at: n.statusAt } : null;
    const latest = [n.watch, fromStatus].filter(Boolean).sort((a, b) => b.at - a.at)[0];
    const goose = status === 'up' && !!latest?.goose;
    // A watch event newer than the last /status also names the newer leader.
    const leader = n.watch && n.watch.at > n.statusAt && n.watch.term > int(s?.term) ? n.watch.leader : int(s?.leader, null);
    const members = Array.isArray(s?.members) ? s.members.length : this.nodes.size;
    return {
      id: n.id, status, goose,
      role: ['follower', 'pre_candidate', 'candidate', 'leader'].includes(s?.state) ? s.state : 'follower',
      term: Math.max(int(s?.term), int(n.watch?.term)),
      leader, voted_for: int(s?.voted_for, null),
      commit_index: int(s?.commit_index), applied_index: int(s?.applied_index), last_index: int(s?.last_log_index),
      blocked: ids(s?.blocked), blocked_in: ids(s?.blocked_in), blocked_out: ids(s?.blocked_out),
      member: n.member, quorum: Math.floor(members / 2) + 1,
      votes: [], election_timer: null, log: [], snapshot: null, receiving: null,
      url: n.url, pid: p?.pid ?? null, process: p?.state ?? null, answering: n.reachable === true,
    };
  }

  _view() {
    const nodes = [...this.nodes.values()].sort((a, b) => a.id - b.id).map((n) => this._nodeView(n));
    const geese = nodes.filter((n) => n.goose).sort((a, b) => b.term - a.term || a.id - b.id);
    return {
      now: this.now, goose: geese[0]?.id ?? null, nodes, messages: [], cut: this._cuts(),
      violations: [], store: null,
      live: { origin: this.origin, control: this.control, controlUp: this.controlUp, token: this.tokenState },
    };
  }

  // Directed pairs [a, b] whose messages a → b are dropped, by either end's blocked sets.
  _cuts() {
    const cuts = [];
    const list = [...this.nodes.values()];
    for (const a of list) {
      for (const b of list) {
        if (a === b) continue;
        const out = ids(a.status?.blocked_out).includes(b.id);
        const inn = ids(b.status?.blocked_in).includes(a.id);
        if (out || inn) cuts.push([a.id, b.id]);
      }
    }
    return cuts;
  }

  // Zones from the nodes' blocked sets: nodes that can reach each other in at least one
  // direction share a zone. Each group keeps the zone it had, so nothing jumps around.
  _zones(view) {
    const idsNow = view.nodes.map((n) => n.id);
    const cut = new Set(view.cut.map(([a, b]) => `${a}>${b}`));
    const apart = (a, b) => cut.has(`${a}>${b}`) && cut.has(`${b}>${a}`);
    const groups = [];
    const seen = new Set();
    for (const id of idsNow) {
      if (seen.has(id)) continue;
      const group = [];
      const todo = [id];
      seen.add(id);
      while (todo.length) {
        const x = todo.pop();
        group.push(x);
        for (const y of idsNow) if (!seen.has(y) && !apart(x, y)) { seen.add(y); todo.push(y); }
      }
      groups.push(group.sort((a, b) => a - b));
    }
    if (this.intent) {
      const wanted = this.intent.groups.filter((g) => g.length);
      const confirmed = wanted.length === groups.length && wanted.every((w) => groups.some((g) => sameSet(g, w)));
      if (confirmed || performance.now() > this.intent.until) this.intent = null;
      else return this.intent.groups.map((g) => [...g]);
    }
    if (groups.length <= 1) { this.zoneOf.clear(); return []; }
    const zones = [[], [], []];
    const taken = new Set();
    groups.sort((a, b) => b.length - a.length);
    for (const g of groups) {
      const votes = [0, 0, 0];
      for (const id of g) if (this.zoneOf.has(id)) votes[this.zoneOf.get(id)]++;
      const free = [0, 1, 2].filter((z) => !taken.has(z));
      const z = free.sort((a, b) => votes[b] - votes[a] || a - b)[0] ?? 2;
      taken.add(z);
      zones[z].push(...g);
    }
    zones.forEach((g, z) => g.forEach((id) => this.zoneOf.set(id, z)));
    return zones.map((g) => g.sort((a, b) => a - b));
  }

  // ---- Changing the cluster -------------------------------------------------------------

  // Every node blocks every node outside its group, both ways; one group heals.
  _partition(groups) {
    this._needToken('changing the network');
    const all = [...this.nodes.keys()];
    const named = new Set(groups.flat());
    const rest = all.filter((id) => !named.has(id));
    const full = groups.map((g) => g.filter((id) => this.nodes.has(id)));
    if (rest.length) full.push(rest);
    const zoneOf = new Map();
    full.forEach((g, i) => g.forEach((id) => zoneOf.set(id, i)));
    this.desired = new Map(all.map((id) => [id, all.filter((x) => x !== id && zoneOf.get(x) !== zoneOf.get(id))]));
    const nonEmpty = full.filter((g) => g.length);
    // Drawn at once, and held until the nodes' answers show it (or for INTENT_HOLD).
    const groupsOf3 = nonEmpty.length > 1
      ? [0, 1, 2].map((i) => [...(full[i] ?? []), ...(i === 2 ? full.slice(3).flat() : [])])
      : [all, [], []];
    this.intent = { groups: groupsOf3, until: performance.now() + INTENT_HOLD };
    groupsOf3.forEach((g, z) => g.forEach((id) => this.zoneOf.set(id, z)));
    this._line('action', nonEmpty.length > 1 ? `partition ${nonEmpty.map((g) => g.join(',')).join(' / ')}` : 'heal the network', null);
    for (const n of this.nodes.values()) {
      if (this._answering(n)) this._sendBlocks(n);
      else n.needsBlocks = true; // told when it answers again
    }
    this._touch();
  }

  _answering(n) {
    const p = this.processes.get(n.id)?.state;
    return n.reachable === true && p !== 'paused' && p !== 'exited';
  }

  async _sendBlocks(n) {
    const block = this.desired?.get(n.id);
    if (!block) return;
    n.needsBlocks = false;
    try {
      await this._authed(`${n.url}/admin/partition`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ block }) }, `partition on ${n.id}`);
      n.wake?.();
    } catch (e) {
      this.intent = null;
      // A refused token ends the attempt; a node that did not answer gets it later.
      if (e.token) { this.desired = null; for (const m of this.nodes.values()) m.needsBlocks = false; }
      else n.needsBlocks = true;
      this.onError(e);
    }
  }

  // A node that answers again (restarted, resumed) gets the blocks the page set while it
  // was away; a node whose blocks someone else changed (the CLI) ends the page's say.
  _reconcile(n) {
    if (n.needsBlocks && this.desired) this._sendBlocks(n);
  }

  _noticeOthersNetwork(n) {
    const want = this.desired?.get(n.id);
    if (!want || n.needsBlocks) return;
    const has = ids(n.status?.blocked);
    const busy = this.intent != null;
    if (!busy && !(sameSet(has, want) && sameSet(ids(n.status?.blocked_in), want) && sameSet(ids(n.status?.blocked_out), want))) {
      this.desired = null;
    }
  }

  _control(n, action) {
    if (!this.control) throw new Error('crash, restart and pause need the control API of `duckgoose cluster`; these nodes were not started by it');
    this._needToken(`${action} ${n.id}`);
    const words = { crash: 'crash (kill -9)', restart: 'restart', pause: 'pause (SIGSTOP)', resume: 'resume (SIGCONT)' }[action];
    this._line('action', `${words} ${n.id}`, n.id);
    (async () => {
      try {
        const r = await this._authed(`${this.control}/nodes/${n.id}/${action}`, { method: 'POST' }, `${action} ${n.id}`);
        const p = await r.json().catch(() => null);
        if (p && ['running', 'paused', 'exited'].includes(p.state)) this.processes.set(n.id, { state: p.state, pid: int(p.pid, null) });
        // Back from a restart (no blocks) or a pause: tell it the page's partition.
        if ((action === 'restart' || action === 'resume') && this.desired) n.needsBlocks = true;
        n.wake?.();
        this._touch();
      } catch (e) { this.onError(e); }
    })();
    return true;
  }

  _transfer(n) {
    this._needToken('a transfer');
    const via = this.nodes.get(this._view().goose) ?? this._someUp();
    if (!via) throw new Error('no node answers to ask for a transfer');
    this._line('action', `transfer the goose role to ${n.id}`, n.id);
    (async () => {
      try {
        await this._authed(`${via.url}/admin/transfer`, { method: 'POST', headers: JSON_BODY, body: JSON.stringify({ to: n.id }) }, `transfer to ${n.id}`);
      } catch (e) { this.onError(e); }
    })();
    return true;
  }

  // `goose` (public), `get K` and `put K V` (with the token) to node n; the answer comes
  // in a later frame, in the shape the simulator's answers have.
  _request(n, words) {
    const id = this.nextRequest++;
    const answer = (a) => { this.answers.push({ id, node: n.id, ok: true, ...a }); this._touch(); };
    const failed = (e) => answer({ ok: false, outcome: 'lost', text: e.message });
    const [what, key, value] = words;
    const path = key == null ? '' : `/kv/${encodeURIComponent(dec(key))}`;
    (async () => {
      try {
        if (what === 'goose') {
          const r = await this._fetch(`${n.url}/goose`, {}, false);
          const term = Number(r.headers.get('x-duckgoose-term'));
          if (r.status === 200) answer({ outcome: 'goose', goose: term });
          else answer({ outcome: 'duck', duck: true, text: `quack: a duck (${r.headers.get('x-duckgoose-reason') ?? r.status})` });
        } else if (what === 'get' || what === 'put') {
          const init = what === 'put' ? { method: 'PUT', body: dec(value ?? '%') } : {};
          const r = await this._fetch(`${n.url}${path}`, { ...init, redirect: 'manual' }, true);
          if (r.type === 'opaqueredirect') answer({ ok: false, outcome: 'not_leader', text: `${n.id} is not the goose` });
          else if (r.status === 401) { this._refused(n); answer({ ok: false, outcome: 'refused', text: 'the token was refused' }); }
          else if (what === 'put' && r.ok) answer({ outcome: 'written' });
          else if (r.ok) { const v = await r.text(); answer({ outcome: 'value', value: v, text: `${dec(key)} = ${v}` }); }
          else if (r.status === 404) answer({ outcome: 'no_value', text: `${dec(key)}: no value` });
          else answer({ ok: false, outcome: 'refused', text: (await r.text()).trim() || `HTTP ${r.status}` });
        } else {
          throw new Error(`live mode cannot send ${what}`);
        }
      } catch (e) { failed(e); }
    })();
    return id;
  }

  // ---- HTTP --------------------------------------------------------------------------------

  async _fetch(url, init = {}, withToken = false, timeout = ACTION_TIMEOUT) {
    const headers = { ...(init.headers ?? {}) };
    if (withToken && this.token) headers.authorization = `Bearer ${this.token}`;
    return fetch(url, { cache: 'no-store', ...init, headers, signal: AbortSignal.timeout(timeout) });
  }

  async _json(url, timeout) {
    const r = await this._fetch(url, {}, false, timeout);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return r.json();
  }

  // A request that needs the token: a 401 says so plainly, any other refusal with the
  // node's own words.
  _needToken(what) {
    if (this.token) return;
    const e = new Error(`${what} needs the cluster's token: type it into the Live cluster card`);
    e.token = true;
    throw e;
  }

  async _authed(url, init, what) {
    this._needToken(what);
    const r = await this._fetch(url, init, true);
    if (r.status === 401) {
      this._refused();
      const e = new Error(`${what}: the token was refused (401); type the cluster's token again`);
      e.token = true;
      throw e;
    }
    if (!r.ok) {
      const text = (await r.text().catch(() => '')).trim();
      let message = text;
      try { message = JSON.parse(text).message ?? text; } catch { /* plain text */ }
      throw new Error(`${what}: ${message || `HTTP ${r.status}`}`);
    }
    if (this.tokenState !== 'accepted') { this.tokenState = 'accepted'; this._touch(); }
    return r;
  }

  _refused() {
    this.tokenState = 'refused';
    this._touch();
  }

  _someUp() {
    return [...this.nodes.values()].find((n) => this._answering(n)) ?? null;
  }

  _line(kind, text, node = null) {
    this.lines.push({ at: this.now, kind, text, node });
    this._touch();
  }

  _touch() {
    this.changed = true;
    this.onChange();
  }
}
