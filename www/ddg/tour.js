// The narrated tour of <duck-duck-goose>: nine steps over the real simulator, from the
// first election to catching up by snapshot. Each step is a story in the shape of the
// guided scenarios (scenarios.js: five steps are those scenarios, four are told here).
// A story is recorded once per page by directing it over fixed ticks of virtual time, so
// the run it makes never depends on frame timing; the step then plays that recorded run
// (`load`, as a shared link does) with the story's captions at the moments they were said,
// and holds (pauses) where the step ends or wants a look. Back and Next load a step's run
// from its start: deterministic replay. `?tour=N` opens step N.
//
// Loaded on first use (el.startTour); duck-duck-goose.js then copies TourMethods onto the
// element, so `this` is the <duck-duck-goose> element.

import { SCENARIOS } from '../scenarios.js';
import { setText, toggle } from './dom-helpers.js';

// The director looks at the cluster every TICK virtual ms while recording: well under a
// message's 10 ms latency, so an act "as soon as X" lands before X's next message does.
const TICK = 5;
const SEED = 7;
// A story still unfinished after this much virtual time has gone another way.
const RECORD_LIMIT = 60_000;

const hasGoose = (ctx) => ctx.goose() != null;
const ducks = (ctx) => ctx.live().filter((n) => n.id !== ctx.goose()).map((n) => n.id);
const and = (ids) => (ids.length > 1 ? `${ids.slice(0, -1).join(', ')} and ${ids.at(-1)}` : `${ids[0]}`);

const ELECTION = {
  title: 'Election',
  intro: 'Five nodes start as ducks (followers). Each has an election timer, the ring around it, set at random between 150 and 300 ms; a duck whose ring fills before it hears from a leader stands for election.',
  steps: [
    { when: (ctx) => ctx.live().some((n) => n.role !== 'follower'), hold: true,
      say: (ctx) => `Node ${ctx.live().find((n) => n.role !== 'follower').id}'s ring filled first. With PreVote it first asks "would you vote for me?" without raising its term; once a majority says yes, it becomes a candidate of term 1, votes for itself and asks for real votes.` },
    { when: hasGoose,
      say: (ctx) => {
        const g = ctx.goose();
        const rivals = [...(ctx.mem.candidates.get(ctx.term(g)) ?? [])].filter((id) => id !== g);
        return `Node ${g} won a majority: each node grants one vote per term, to the first candidate whose log is at least as up to date as its own${rivals.length ? ` (${and(rivals)} stood too, too late)` : ''}. Leader of term ${ctx.term(g)}, and the goose once a quorum has acknowledged its first heartbeats.`;
      } },
  ],
};

const HEARTBEATS = {
  title: 'Heartbeats',
  steps: [
    { when: hasGoose,
      say: (ctx) => `Node ${ctx.goose()} is the goose. Every 50 ms it sends each duck an AppendEntries, empty while there is nothing to replicate: a heartbeat (the small dots). Each one restarts the duck's election timer before its ring fills, and each round a quorum acknowledges renews the goose's lease.` },
    { after: 1000, act: (ctx) => { ctx.mem.old = ctx.goose(); ctx.crash(ctx.mem.old); },
      say: (ctx) => `Crash goose ${ctx.mem.old}: the heartbeats stop, nothing restarts the ducks' timers, and the rings fill.` },
    { when: (ctx) => hasGoose(ctx) && ctx.goose() !== ctx.mem.old,
      say: (ctx) => `Node ${ctx.goose()}'s ring filled first and it won term ${ctx.term(ctx.goose())}; its heartbeats keep the others quiet again.` },
  ],
};

const REPLICATION = {
  title: 'Replication',
  steps: [
    { when: hasGoose, act: (ctx) => { ctx.mem.g = ctx.goose(); ctx.mem.off = ducks(ctx).at(-1); ctx.crash(ctx.mem.off); },
      say: (ctx) => `Node ${ctx.mem.g} is the goose, and duck ${ctx.mem.off} is down. Clients write through the goose: it appends each write to its log and copies it to the ducks in its AppendEntries.` },
    { after: 600, act: (ctx) => { ctx.mem.i = ctx.node(ctx.mem.g).last_index + 1; ctx.write(ctx.mem.g, 'x', '1', null); },
      say: (ctx) => `Put x = 1: entry ${ctx.mem.i} in goose ${ctx.mem.g}'s log (the log table below: pale until committed), on its way to the ducks.` },
    { when: (ctx) => ctx.node(ctx.mem.g).commit_index >= ctx.mem.i,
      say: (ctx) => `Entry ${ctx.mem.i} is on a majority (3 of 5, the goose's own copy included): committed, drawn solid, applied to the store, and the client has its answer. ${ctx.mem.off} being down changes nothing; the ducks learn the commit index with the next AppendEntries.` },
    { after: 800, act: (ctx) => ctx.restart(ctx.mem.off),
      say: (ctx) => `Restart ${ctx.mem.off}. Its log ends before entry ${ctx.mem.i}: each AppendEntries names the entry just before its own, a duck refuses one that does not match its log, and so the goose finds where ${ctx.mem.off}'s log ends and sends the rest.` },
    { when: (ctx) => {
        const d = ctx.node(ctx.mem.off), g = ctx.node(ctx.mem.g);
        return d.status === 'up' && d.last_index === g.last_index && d.commit_index === g.commit_index;
      },
      say: (ctx) => `${ctx.mem.off} caught up: every log holds the same entries, committed through ${ctx.node(ctx.mem.g).commit_index}.` },
  ],
};

// The paper's Figure 8, acted out: (a) a leader's entry reaches one follower, (b) a
// leader of a later term puts a different entry at that index and crashes, (c) the first
// entry's holder leads again and gets it onto a majority, yet must not count it committed
// (the log table's "why" line says so), (e) until an entry of its own term commits.
const FIGURE_8 = {
  title: 'The commit rule (Figure 8)',
  // One entry per AppendEntries: a new leader's old entry and its own first entry then
  // travel a round trip apart, and the moment between them can be seen.
  config: 'batch=1',
  steps: [
    { when: hasGoose,
      say: (ctx) => `Node ${ctx.goose()} is the goose of term ${ctx.term(ctx.goose())}. In this run an AppendEntries carries one entry at a time (batch=1), so entries travel a round trip apart.` },
    { after: 700,
      act: (ctx) => {
        const m = ctx.mem;
        m.a = ctx.goose();
        [m.b, ...m.rest] = ducks(ctx);
        for (const id of m.rest) ctx.cutLink(m.a, id);
        m.i = ctx.node(m.a).last_index + 1;
        ctx.write(m.a, 'x', '1', null);
      },
      hold: true,
      say: (ctx) => `(a) Cut the links from ${ctx.mem.a} to ${and(ctx.mem.rest)}, and write x = 1: entry ${ctx.mem.i}, of term ${ctx.term(ctx.mem.a)}, reaches ${ctx.mem.b} only.` },
    { after: 30, act: (ctx) => { const m = ctx.mem; ctx.crash(m.a); ctx.partition([[m.a, ...m.rest], [], [m.b]]); },
      hold: true,
      say: (ctx) => `(b) ${ctx.mem.a} crashes and ${ctx.mem.b} is cut off: ${and(ctx.mem.rest)} elect a leader among themselves.` },
    { when: (ctx) => ctx.mem.rest.some((id) => ctx.node(id).role === 'leader'),
      // Crashed and cut off at once: the copies of its entry already on the way are lost.
      act: (ctx) => {
        const m = ctx.mem;
        m.w = m.rest.find((id) => ctx.node(id).role === 'leader');
        m.wTerm = ctx.term(m.w);
        ctx.crash(m.w);
        ctx.partition([[m.a, ...m.rest.filter((id) => id !== m.w)], [m.w], [m.b]]);
      },
      hold: true,
      say: (ctx) => `${ctx.mem.w} won term ${ctx.mem.wTerm} and put its first entry at index ${ctx.mem.i}, then crashed, cut off before any copy arrived. Two different entries ${ctx.mem.i} exist now: of term ${ctx.term(ctx.mem.b)} on ${ctx.mem.a} and ${ctx.mem.b}, of term ${ctx.mem.wTerm} on ${ctx.mem.w}.` },
    { after: 300, act: (ctx) => { ctx.heal(); ctx.restart(ctx.mem.a); },
      say: (ctx) => `(c) Heal the network and restart ${ctx.mem.a}. Only ${ctx.mem.a} or ${ctx.mem.b} can win now: their logs hold entry ${ctx.mem.i}, the other live ones end before it.` },
    { when: (ctx) => {
        const m = ctx.mem;
        m.l = [m.a, m.b].find((id) => ctx.node(id).role === 'leader');
        return m.l != null && ctx.why(m.l, m.i).uncommitted?.kind === 'earlier_term';
      },
      hold: true,
      pick: (ctx) => ({ node: ctx.mem.l, index: ctx.mem.i }),
      say: (ctx) => {
        const m = ctx.mem;
        const holders = ctx.live().filter((n) => n.log.some((e) => e.index === m.i && e.term < m.wTerm)).map((n) => n.id);
        return `${m.l} leads term ${ctx.term(m.l)}, and entry ${m.i} is on a majority (${and(holders)}). Yet ${m.l} does not count it committed: it is of an earlier term (picked in the log table; the line under it says why). Had ${m.l} committed it and crashed, ${m.w} could come back and win, its last entry being of the newer term ${m.wTerm}, and overwrite a committed entry ${m.i}: the paper's Figure 8.`;
      } },
    { when: (ctx) => ctx.node(ctx.mem.l).commit_index >= ctx.mem.i,
      say: (ctx) => `(e) ${ctx.mem.l}'s own first entry, ${ctx.mem.i + 1} of term ${ctx.term(ctx.mem.l)}, reached a majority: committing it commits entry ${ctx.mem.i} too. ${ctx.mem.w} can no longer win: a majority holds an entry newer than its last.` },
    { after: 400, act: (ctx) => ctx.restart(ctx.mem.w),
      say: (ctx) => `Restart ${ctx.mem.w}. Its entry ${ctx.mem.i} of term ${ctx.mem.wTerm} was never committed, and the leader overwrites it with the committed one.` },
    { when: (ctx) => ctx.node(ctx.mem.w).log.some((e) => e.index === ctx.mem.i && e.term !== ctx.mem.wTerm),
      say: (ctx) => `${ctx.mem.w}'s entry ${ctx.mem.i} is now the committed one, as on every node. Without the rule, Break Raft's "Commit old entries by count" finds runs that lose a committed entry.` },
  ],
};

/** The steps, in order: a story each (`fromStart`: the step plays from 0, intro included). */
export const TOUR = [
  { story: ELECTION, fromStart: true },
  { story: HEARTBEATS },
  { story: REPLICATION },
  { story: FIGURE_8 },
  { story: SCENARIOS['minority-partition'] },
  { story: SCENARIOS['rejoin-prevote'], title: 'PreVote on rejoin' },
  { story: SCENARIOS.membership, title: 'Membership change' },
  { story: SCENARIOS.transfer },
  { story: SCENARIOS.snapshot },
];

const KEYS = { ArrowRight: 'next', n: 'next', ArrowLeft: 'back', b: 'back', Escape: 'leave' };

export class TourMethods {
  /** Opens step `n` (1 to TOUR.length); anything else opens step 1 and says why. */
  _tourGo(n) {
    let k = Number(n);
    if (!Number.isInteger(k) || k < 1 || k > TOUR.length) {
      this._error(new Error(`There is no tour step "${String(n).slice(0, 20)}": the tour has steps 1 to ${TOUR.length}. Here is step 1.`));
      k = 1;
    }
    const rec = this._tourRecord(TOUR[k - 1]);
    this._tour = null;
    this.load(rec.run, rec.from);
    this._whyEntry = null;
    this._tour = { n: k, title: TOUR[k - 1].title ?? TOUR[k - 1].story.title, rec, sim: this.sim, beat: -1 };
    if (!this._tourKeys) {
      this._tourKeys = (e) => this._onTourKey(e);
      document.addEventListener('keydown', this._tourKeys, true);
    }
    if (!this._tourWired) {
      this._tourWired = true;
      this.$('.tour').addEventListener('click', (e) => {
        const b = e.target.closest('button[data-tour]');
        if (b) this._tourAct(b.dataset.tour);
      });
    }
    this.$('.tour').hidden = false;
    this._tourUrl(k);
    this._tourFrame(this.frame);
    this.play();
    this.dispatchEvent(new CustomEvent('tourstep', { detail: { step: k, title: this._tour.title } }));
    return this;
  }

  /** Leaves the tour; the run goes on as an ordinary one. */
  endTour() {
    if (!this._tour) return this;
    this._tour = null;
    this._stopAt = null;
    document.removeEventListener('keydown', this._tourKeys, true);
    this._tourKeys = null;
    this.$('.tour').hidden = true;
    this._caption(null);
    this._tourUrl(null);
    return this;
  }

  /**
   * While touring: `{step, steps, title, start, end, holds}` (the step's first and last
   * moments and where it pauses on the way, in virtual ms); else null.
   */
  get tour() {
    const t = this._tour;
    if (!t) return null;
    const beats = t.rec.beats;
    return {
      step: t.n, steps: TOUR.length, title: t.title, start: t.rec.from, end: beats.at(-1).at,
      holds: beats.filter((b, i) => b.hold && i < beats.length - 1).map((b) => b.at),
    };
  }

  _tourAct(what) {
    const t = this._tour;
    if (!t) return;
    if (what === 'leave') return this.endTour();
    if (what === 'back') return this._tourGo(Math.max(1, t.n - 1));
    // Next: held at a look inside the step, it goes on; otherwise to the next step.
    if (this._tourHeld()) return this.play();
    if (t.n < TOUR.length) return this._tourGo(t.n + 1);
    return this.endTour();
  }

  // Paused at a look inside the step (not at its end).
  _tourHeld() {
    const beats = this._tour.rec.beats;
    return !this.playing && beats.some((b, i) => b.hold && b.at === this.time && i < beats.length - 1);
  }

  _onTourKey(e) {
    const what = KEYS[e.key];
    if (!what || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    // Typing in a field, or arrows on a focused node (they move between nodes), are not ours.
    const target = e.composedPath()[0];
    if (target?.closest?.(e.key.startsWith('Arrow') ? 'input, select, textarea, .node' : 'input, select, textarea')) return;
    e.preventDefault();
    e.stopPropagation();
    this._tourAct(what);
  }

  // Records a step's story once: directed over fixed ticks, then kept as run text.
  _tourRecord(step) {
    const cache = (this._tourRuns ??= new Map());
    if (cache.has(step)) return cache.get(step);
    const story = step.story;
    this._tour = null;
    this._startStory(null, story, SEED);
    const d = this.director;
    while (this.director === d && this.time < RECORD_LIMIT) this._apply(this.sim.runUntil(this.time + TICK));
    this.director = null;
    const from = step.fromStart ? 0 : d.said[0]?.at ?? 0;
    const beats = step.fromStart && story.intro ? [{ at: 0, say: story.intro }] : [];
    // Captions said at the same moment read as one.
    for (const b of d.said) {
      if (beats.at(-1)?.at === b.at) beats.at(-1).say += ` ${b.say}`;
      else beats.push({ ...b });
    }
    const rec = { run: this.sim.scenario(), from, beats };
    cache.set(step, rec);
    return rec;
  }

  // Every frame while touring (from _apply): the caption of the moment, the next hold.
  _tourFrame(frame) {
    const t = this._tour;
    // Any other run (New run, a scenario, an import, a hunt) ends the tour.
    if (this.sim !== t.sim) { this.endTour(); return; }
    const now = frame.view.now;
    const beats = t.rec.beats;
    const last = beats.length - 1;
    const k = Math.max(0, beats.findLastIndex((b) => b.at <= now));
    // Holds: a step's end, and the looks it asks for. Past one, play goes on to the next.
    this._stopAt = beats.find((b, i) => (b.hold || i === last) && b.at > now)?.at ?? null;
    if (k !== t.beat) {
      t.beat = k;
      if (beats[k].pick) { this._whyEntry = beats[k].pick; this._logKey = null; }
      this._caption(`Tour ${t.n}/${TOUR.length} · ${t.title}`, beats[k].say);
    }
    setText(this.$('.tour [data-tour="next"]'), this._tourHeld() ? 'Go on →' : t.n < TOUR.length ? 'Next →' : 'Finish');
    this.$('.tour [data-tour="back"]').disabled = t.n === 1;
    setText(this.$('.tour-n'), `${t.n} / ${TOUR.length}`);
    toggle(this.$('.tour'), 'end', k === last && now >= beats[last].at);
  }

  // With url-state, the address says which step is open (`?tour=N`), so it can be shared.
  _tourUrl(n) {
    if (!this.hasAttribute('url-state')) return;
    const url = new URL(location.href);
    if (n == null) url.searchParams.delete('tour');
    else { url.searchParams.set('tour', String(n)); url.hash = ''; }
    history.replaceState(null, '', url);
  }
}
