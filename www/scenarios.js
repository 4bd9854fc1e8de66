// Guided scenarios: one click starts a fresh, seeded run and a small director that acts
// on the cluster when the story calls for it, narrating as it goes. Every act is an
// ordinary recorded action, so a guided run shares by URL like any other.
//
// `intro` shows at the start. A step waits `after` virtual ms since the previous step
// and until `when(ctx)` holds, then runs `act(ctx)` and shows `say` (a string, or a
// function of ctx).

import { quorumOf, isRoleChange } from './ddg/view-model.js';

const ducks = (ctx) => ctx.live().filter((n) => n.id !== ctx.goose());
const firstDuck = (ctx) => ducks(ctx)[0]?.id;
const isGoose = (ctx) => `Node ${ctx.goose()} is the goose of term ${ctx.term(ctx.goose())}: it leads, and a quorum has confirmed its lease.`;

export const SCENARIOS = {
  'leader-crash': {
    title: 'Leader crash',
    blurb: 'The goose dies; the ducks notice the silence and elect a new one.',
    options: { nodes: 5 },
    intro: 'Five nodes start as ducks. Wait for the first goose: a leader whose lease a quorum has confirmed.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 1500, act: (ctx) => { ctx.mem.old = ctx.goose(); ctx.crash(ctx.mem.old); },
        say: (ctx) => `Crash node ${ctx.mem.old}, the goose. The others stop hearing heartbeats; their election timers (the rings) run out.` },
      { when: (ctx) => ctx.goose() != null && ctx.goose() !== ctx.mem.old,
        say: (ctx) => `Node ${ctx.goose()} won the election and confirmed its lease: the new goose (term ${ctx.term(ctx.goose())}).` },
      { after: 1500, act: (ctx) => ctx.restart(ctx.mem.old),
        say: (ctx) => `Restart node ${ctx.mem.old}. It comes back as a duck and learns about the new term from the goose.` },
      { after: 1500, say: 'Done. Crash the goose again yourself, or try another scenario.' },
    ],
  },

  'split-vote': {
    title: 'Split vote',
    blurb: 'Two candidates at once, nobody wins the term, randomized timeouts break the tie.',
    // Four nodes and a narrow timeout range: after the leader dies, three are left and
    // every vote is needed, so two candidates split them.
    options: { nodes: 4, electionMin: 150, electionMax: 165 },
    findSeed: 'split',
    intro: 'Four nodes with nearly equal election timeouts (150–165 ms). Wait for a goose.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 800, act: (ctx) => { ctx.mem.old = ctx.goose(); ctx.crash(ctx.mem.old); },
        say: (ctx) => `Crash the goose (${ctx.mem.old}). Three nodes remain, and a candidate needs all three votes.` },
      { when: (ctx) => ctx.sawSplit(),
        say: (ctx) => `Split vote in term ${ctx.mem.splitTerm}: ${ctx.mem.splitBy.join(' and ')} both stood, each voted for itself, nobody got three votes. Their next timeouts are random, so one will go first.` },
      { when: (ctx) => ctx.goose() != null,
        say: (ctx) => `Node ${ctx.goose()} timed out first in a later term and won: the goose of term ${ctx.term(ctx.goose())}.` },
    ],
  },

  'minority-partition': {
    title: 'Minority partition',
    blurb: 'Cut the goose off with one duck: it stops being the goose; the majority elects another.',
    options: { nodes: 5 },
    intro: 'Five nodes. Wait for a goose.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 1200, act: (ctx) => {
          ctx.mem.old = ctx.goose();
          ctx.mem.buddy = firstDuck(ctx);
          ctx.partition([[...ctx.others([ctx.mem.old, ctx.mem.buddy])], [ctx.mem.old, ctx.mem.buddy]]);
        },
        say: (ctx) => `Drag the goose (${ctx.mem.old}) and duck ${ctx.mem.buddy} into zone 2: a minority of two.` },
      { when: (ctx) => ctx.goose() !== ctx.mem.old,
        say: (ctx) => `Within one heartbeat round ${ctx.mem.old} can no longer confirm its lease with a quorum: it stops showing goose, even before it steps down (CheckQuorum).` },
      { after: 400, act: (ctx) => ctx.askGoose(ctx.mem.old),
        say: (ctx) => `Ask ${ctx.mem.old} "goose?": it must answer duck, because only a quorum can confirm a goose.` },
      { when: (ctx) => ctx.goose() != null,
        say: (ctx) => `The majority elected ${ctx.goose()}: the only goose, in term ${ctx.term(ctx.goose())}.` },
      { after: 2500, act: (ctx) => ctx.heal(),
        say: (ctx) => `Heal. ${ctx.mem.old} and ${ctx.mem.buddy} hear the newer term and follow ${ctx.goose() ?? 'the new goose'}.` },
      { after: 1500, say: 'Still exactly one goose. Drag nodes between zones to try your own splits.' },
    ],
  },

  'rejoin-prevote': {
    title: 'Rejoin without disruption',
    blurb: 'An isolated duck times out again and again, but PreVote keeps its term from inflating.',
    options: { nodes: 5 },
    intro: 'Five nodes with PreVote on. Wait for a goose.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 1000, act: (ctx) => {
          ctx.mem.lone = ducks(ctx).at(-1).id;
          ctx.mem.term = ctx.term(ctx.goose());
          ctx.partition([ctx.others([ctx.mem.lone]), [], [ctx.mem.lone]]);
        },
        say: (ctx) => `Isolate duck ${ctx.mem.lone} in zone 3. It hears no leader, times out, and asks for pre-votes nobody can grant.` },
      { after: 2500, act: (ctx) => ctx.heal(),
        say: (ctx) => `Heal. Its term is still ${ctx.term(ctx.mem.lone)}: pre-votes never bump terms. It rejoins quietly.` },
      { after: 1500,
        say: (ctx) => (ctx.goose() != null && ctx.term(ctx.goose()) === ctx.mem.term
          ? `Goose ${ctx.goose()} kept term ${ctx.mem.term}: no disruption. Without PreVote (switch it off under Run) the lone node would return with a higher term and depose the goose.`
          : 'Done.') },
    ],
  },

  'membership': {
    title: 'Add and remove a node',
    blurb: 'Grow the cluster to six nodes, then shrink it, one change at a time.',
    options: { nodes: 5 },
    intro: 'Five nodes. Membership changes go through the goose: wait for one.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 1000, act: (ctx) => { ctx.mem.added = ctx.addNode(); },
        say: (ctx) => `Start node ${ctx.mem.added} and ask the goose to add it. The goose appends a config entry and replicates its log to the newcomer.` },
      { when: (ctx) => ctx.isMember(ctx.mem.added),
        say: (ctx) => `Committed: ${ctx.live().length} members, so a quorum is now ${quorumOf(ctx.node(ctx.mem.added))}.` },
      { after: 1500, act: (ctx) => { ctx.mem.removed = firstDuck(ctx); ctx.removeNode(ctx.mem.removed); },
        say: (ctx) => `Remove node ${ctx.mem.removed}. Once the change commits it is shut down.` },
      { when: (ctx) => !ctx.exists(ctx.mem.removed),
        say: (ctx) => `Node ${ctx.mem.removed} is gone; ${ctx.live().length} members remain, still one goose.` },
    ],
  },

  'transfer': {
    title: 'Leadership transfer',
    blurb: 'The goose hands over to a chosen duck, without waiting for a timeout.',
    options: { nodes: 5 },
    intro: 'Five nodes. Wait for a goose.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 1000, act: (ctx) => { ctx.mem.old = ctx.goose(); ctx.mem.to = firstDuck(ctx); ctx.transfer(ctx.mem.to); },
        say: (ctx) => `Ask goose ${ctx.mem.old} to hand over to ${ctx.mem.to}: it brings ${ctx.mem.to}'s log up to date, then sends TimeoutNow.` },
      { when: (ctx) => ctx.goose() === ctx.mem.to,
        say: (ctx) => `${ctx.mem.to} started an election at once and won: the goose of term ${ctx.term(ctx.mem.to)}. ${ctx.mem.old} is a duck.` },
    ],
  },

  'fencing': {
    title: 'Fencing a paused goose',
    blurb: 'A goose is paused mid-job and replaced. When it wakes, its app\'s fenced write is refused; the same write unfenced clobbers the new goose\'s data.',
    options: { nodes: 5 },
    intro: 'Five nodes, and next to each an app that does its job only while its node is the goose. Wait for a goose.',
    steps: [
      { when: (ctx) => ctx.goose() != null,
        act: (ctx) => { ctx.mem.a = ctx.goose(); ctx.askGoose(ctx.mem.a, (answer) => { ctx.mem.fence = answer.goose; }); },
        say: (ctx) => `Node ${ctx.mem.a} is the goose. The app next to it asks "goose?": the answer carries a fencing token, the goose's term.` },
      { when: (ctx) => ctx.mem.fence != null,
        say: (ctx) => `HONK: app ${ctx.mem.a} holds fence ${ctx.mem.fence} and will stamp its writes "If-Fence: ${ctx.mem.fence}".` },
      { after: 800, act: (ctx) => ctx.pause(ctx.mem.a),
        say: (ctx) => `Pause node ${ctx.mem.a} and its app (SIGSTOP, a long GC pause, a VM migration). It holds every message and has no idea time passes.` },
      { when: (ctx) => ctx.goose() != null && ctx.goose() !== ctx.mem.a,
        act: (ctx) => {
          ctx.mem.b = ctx.goose();
          ctx.mem.fenceB = ctx.term(ctx.mem.b);
          ctx.write(ctx.mem.b, 'x', `from-${ctx.mem.b}`, ctx.mem.fenceB, (answer) => { ctx.mem.wroteB = answer; });
        },
        say: (ctx) => `The others elected ${ctx.mem.b}, goose of term ${ctx.mem.fenceB}. Its app writes x = "from-${ctx.mem.b}" with If-Fence ${ctx.mem.fenceB}.` },
      { when: (ctx) => ctx.mem.wroteB != null,
        say: (ctx) => (ctx.mem.wroteB.outcome === 'written'
          ? `Written: the store at goose ${ctx.mem.b} has x = "from-${ctx.mem.b}".`
          : `App ${ctx.mem.b}'s write came back ${ctx.mem.wroteB.outcome}.`) },
      { after: 800,
        act: (ctx) => {
          ctx.resume(ctx.mem.a);
          ctx.write(ctx.mem.a, 'x', `from-${ctx.mem.a}`, ctx.mem.fence, (answer) => { ctx.mem.fenced = answer; });
        },
        say: (ctx) => `Resume ${ctx.mem.a}. Its app still believes it is the goose and writes x = "from-${ctx.mem.a}" with If-Fence ${ctx.mem.fence}.` },
      { when: (ctx) => ctx.mem.fenced != null,
        say: (ctx) => {
          const f = ctx.mem.fenced;
          const route = f.via.length > 1 ? `Node ${f.via[0]} had already heard ${f.via.at(-1)}'s heartbeats and redirected it to ${f.via.at(-1)}. ` : '';
          return f.outcome === 'stale_fence'
            ? `${route}Refused: fence ${f.fence} is stale, the write was ordered in term ${f.entry_term}. x is still "from-${ctx.mem.b}" (a real node answers 412).`
            : `${route}The fenced write came back ${f.outcome}.`;
        } },
      { after: 1500,
        act: (ctx) => ctx.write(ctx.mem.a, 'x', `from-${ctx.mem.a}`, null, (answer) => { ctx.mem.unfenced = answer; }),
        say: (ctx) => `Now app ${ctx.mem.a} sends the very same write without a fence.` },
      { when: (ctx) => ctx.mem.unfenced != null,
        say: (ctx) => (ctx.mem.unfenced.outcome === 'written'
          ? `Written: x = "from-${ctx.mem.a}". Unfenced, the ex-goose's stale write went through and overwrote goose ${ctx.mem.b}'s. Fence your writes.`
          : `The unfenced write came back ${ctx.mem.unfenced.outcome}.`) },
    ],
  },

  'snapshot': {
    title: 'Catch up by snapshot',
    blurb: 'A duck sleeps through many writes while the others compact their logs; when it wakes, the goose sends it a snapshot instead of the entries it no longer has.',
    // Compaction every 10 applied entries, snapshot chunks of 32 bytes: the store of six
    // keys written here takes about four chunks.
    options: { nodes: 5, compactEvery: 10, snapshotChunk: 32 },
    intro: 'Five nodes with log compaction on: once a node has applied 10 more entries, it snapshots its store and drops the log up to there. Wait for a goose.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 800, act: (ctx) => { ctx.mem.sleeper = ducks(ctx).at(-1).id; ctx.crash(ctx.mem.sleeper); },
        say: (ctx) => `Crash duck ${ctx.mem.sleeper}: it sleeps with its log through index ${ctx.node(ctx.mem.sleeper).last_index}.` },
      ...[1, 2, 3, 4].map((round) => ({
        after: 500,
        act: (ctx) => { for (let k = 0; k < 6; k++) ctx.write(ctx.goose() ?? firstDuck(ctx), `k${k}`, `v${round}`, null); },
        say: (ctx) => `Write round ${round} of 4: six puts through goose ${ctx.goose()}. ${ctx.mem.sleeper} misses them all.`,
      })),
      { when: (ctx) => ctx.live().every((n) => (n.snapshot?.index ?? 0) > ctx.node(ctx.mem.sleeper).last_index + 10),
        say: (ctx) => `The others have compacted: their logs now begin after a snapshot (the striped block in the log view) through index ${ctx.node(ctx.goose() ?? ctx.live()[0].id).snapshot.index}. The entries ${ctx.mem.sleeper} is missing exist on no live node any more.` },
      { after: 1000, act: (ctx) => ctx.restart(ctx.mem.sleeper),
        say: (ctx) => `Restart ${ctx.mem.sleeper}. It needs entry ${ctx.node(ctx.mem.sleeper).last_index + 1}, which the goose compacted away, so the goose sends its snapshot instead: InstallSnapshot chunks of 32 bytes (the teal dots), each acknowledged before the next.` },
      { when: (ctx) => ctx.node(ctx.mem.sleeper).snapshot != null,
        act: (ctx) => { ctx.mem.installed = ctx.node(ctx.mem.sleeper).snapshot.index; },
        say: (ctx) => `${ctx.mem.sleeper} installed the snapshot through index ${ctx.mem.installed}: its store jumped there without replaying a single entry.` },
      { when: (ctx) => {
          const s = ctx.node(ctx.mem.sleeper), g = ctx.node(ctx.goose());
          return g && s.last_index === g.last_index && s.commit_index === g.commit_index;
        },
        say: (ctx) => `Caught up: ${ctx.mem.sleeper} took the entries after ${ctx.mem.installed} as ordinary appends and now holds the same log as goose ${ctx.goose()}, through ${ctx.node(ctx.mem.sleeper).last_index}. No committed entry was lost.` },
    ],
  },

  'clock-drift': {
    title: 'Clock drift',
    blurb: 'The old goose\'s clock runs slow: cut off, it still shows as goose when the majority already has a new one. Asked "Goose?", it answers duck.',
    options: { nodes: 5 },
    intro: 'Five nodes, each on a clock of its own. A goose shows on a lease timed by its own clock, and the ducks keep their promise not to elect anyone else for a time measured on theirs: safe while the clocks run at the same rate. Wait for a goose.',
    steps: [
      { when: (ctx) => ctx.goose() != null, say: isGoose },
      { after: 800, act: (ctx) => { ctx.mem.old = ctx.goose(); ctx.clock(ctx.mem.old, 0.5); },
        say: (ctx) => `Slow node ${ctx.mem.old}'s clock to 0.5× (the small dial by it): it counts one millisecond for every two that pass. Its lease, 150 ms on its own clock, now lasts 300 ms of real time, while a duck waits only 150 ms of its own before it may vote for someone else.` },
      { after: 600, act: (ctx) => ctx.partition([ctx.others([ctx.mem.old]), [ctx.mem.old]]),
        say: (ctx) => `Cut ${ctx.mem.old} off alone in zone 2. Its last quorum-confirmed round lets it go on showing as goose until its slow clock says the lease is over.` },
      { when: (ctx) => ctx.view().nodes.some((n) => n.goose && n.id !== ctx.mem.old),
        act: (ctx) => {
          const geese = ctx.view().nodes.filter((n) => n.goose).map((n) => n.id);
          ctx.mem.new = geese.find((id) => id !== ctx.mem.old);
          ctx.mem.both = geese.includes(ctx.mem.old);
          ctx.askGoose(ctx.mem.old, (a) => { ctx.mem.oldAnswer = a; });
          ctx.askGoose(ctx.mem.new, (a) => { ctx.mem.newAnswer = a; });
          if (ctx.mem.both) ctx.hold();
        },
        say: (ctx) => (ctx.mem.both
          ? `Two geese at once: ${ctx.mem.old} still shows as goose of term ${ctx.term(ctx.mem.old)} on its slow clock, and ${ctx.mem.new}, elected by the majority, shows as goose of term ${ctx.term(ctx.mem.new)}. "One goose at a time" fails in the invariants box: the shown goose trusts clocks. Paused here, and both are asked "Goose?": press play for their answers.`
          : `${ctx.mem.new} is the new goose, and ${ctx.mem.old}'s lease ran out just before: this time the drift stayed within the lease's margin. Both are asked "Goose?".`) },
      { when: (ctx) => ctx.mem.oldAnswer != null && ctx.mem.newAnswer != null,
        say: (ctx) => {
          const o = ctx.mem.oldAnswer, n = ctx.mem.newAnswer;
          const old = o.outcome === 'goose' ? `${ctx.mem.old} answers goose of term ${o.goose}` : `${ctx.mem.old} answers duck (${o.text})`;
          const fresh = n.outcome === 'goose' ? `${ctx.mem.new} answers goose of term ${n.goose}` : `${ctx.mem.new} answers ${n.outcome}`;
          return `${old}: a goose answer needs a quorum to acknowledge a round started after the question, and no clock can stand in for that. ${fresh}. The shown goose trusts clocks (bounded drift); the "Goose?" answer trusts only a quorum round: act on the answer.`;
        } },
      { after: 1500, act: (ctx) => { ctx.clock(ctx.mem.old, 1); ctx.heal(); },
        say: (ctx) => `Heal, and set ${ctx.mem.old}'s clock back to 1×. It hears the newer term and follows. Try the clock slider in any node's panel (0.5× to 2×) to race leases yourself.` },
    ],
  },
};

// Searches seeds from `base` for one whose run shows what the scenario is about (for the
// split vote: two candidates in one term after the goose dies). Cheap: each try is a few
// virtual seconds without drawing.
export function findSeed(Sim, scenario, base) {
  if (scenario.findSeed !== 'split') return base;
  for (let seed = base; seed < base + 200; seed++) {
    const sim = new Sim({ ...scenario.options, seed });
    let f = sim.runUntil(3000);
    const goose = f.view.goose;
    if (goose == null) { sim.free(); continue; }
    sim.act(`crash ${goose}`);
    f = sim.runUntil(6000);
    sim.free();
    const byTerm = new Map();
    for (const l of f.lines) {
      if (isRoleChange(l, 'candidate')) {
        const s = byTerm.get(l.term) ?? new Set();
        s.add(l.node);
        byTerm.set(l.term, s);
      }
    }
    if ([...byTerm.values()].some((s) => s.size >= 2)) return seed;
  }
  return base;
}
