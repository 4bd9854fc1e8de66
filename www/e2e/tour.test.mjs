// The narrated tour (issue 13): nine steps over the real simulator, walked with the
// keyboard and with the buttons. Each step's caption is checked, and so is a fact of its
// run, read from the structured view (and `sim.why`) while simulated time is driven with
// el.run: what the caption claims must happen in the run. Back replays a step from its
// start to the same hashes; `?tour=N` opens step N, and a bad N opens step 1 with a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageServer, openPage, elementReady, waitFor } from './helpers.mjs';

const EL = 'duck-duck-goose';

const env = pageServer();

// Each step's title and the start of its first caption.
const STEPS = [
  ['Election', /^Five nodes start as ducks \(followers\)\. Each has an election timer/],
  ['Heartbeats', /^Node \d is the goose\. Every 50 ms it sends each duck an AppendEntries/],
  ['Replication', /^Node \d is the goose, and duck \d is down\. Clients write through the goose/],
  ['The commit rule (Figure 8)', /^Node \d is the goose of term 1\. In this run an AppendEntries carries one entry at a time \(batch=1\)/],
  ['Minority partition', /^Node \d is the goose of term 1: it leads/],
  ['PreVote on rejoin', /^Node \d is the goose of term 1: it leads/],
  ['Membership change', /^Node \d is the goose of term 1: it leads/],
  ['Leadership transfer', /^Node \d is the goose of term 1: it leads/],
  ['Catch up by snapshot', /^Node \d is the goose of term 1: it leads/],
];

const caption = (p) => p.evaluate((sel) => {
  const c = document.querySelector(sel).shadowRoot.querySelector('.caption');
  return { hidden: c.hidden, title: c.querySelector('.title')?.textContent ?? '', text: c.lastChild?.textContent ?? '' };
}, EL);

// Waits for step `n`; checks its caption's title and (`fresh`: the step just began) its first words.
async function atStep(p, n, fresh = true) {
  await waitFor(p, ([sel, n]) => document.querySelector(sel).tour?.step === n, [EL, n]);
  const c = await caption(p);
  assert.equal(c.hidden, false);
  assert.equal(c.title, `Tour ${n}/9 · ${STEPS[n - 1][0]}`);
  if (fresh) assert.match(c.text, STEPS[n - 1][1]);
}

// Plays step `n`'s run from its start to 300 ms past its end in 5 ms steps (paused, so
// only el.run moves time), watching the view; returns what the step's caption claims,
// as the run shows it. Runs in the page.
function watchStep([sel, n]) {
  const el = document.querySelector(sel);
  el.pause();
  el.seek(el.tour.start);
  const { start, end, holds } = el.tour;
  const node = (id) => el.view.nodes.find((x) => x.id === id);
  const entry = (id, i) => node(id)?.log.find((e) => e.index === i);
  const geese = () => el.view.nodes.filter((x) => x.goose).map((x) => x.id);
  const text = () => el.shadowRoot.querySelector('.caption').lastChild.textContent;
  const first = { goose: el.goose, term: node(el.goose)?.term ?? null, nodes: el.view.nodes.map((x) => x.id) };
  const seen = { maxGeese: 0, texts: new Set() };
  const each = (fn) => {
    while (el.time < end + 300) {
      el.run(5);
      seen.maxGeese = Math.max(seen.maxGeese, geese().length);
      seen.texts.add(text());
      fn();
    }
  };
  const out = { n, start, end, holds, first, seen };
  if (n === 1) {
    const preCandidates = new Set();
    el.seek(0);
    each(() => { for (const x of el.view.nodes) if (x.role === 'pre_candidate') preCandidates.add(x.id); });
    el.seek(end);
    out.goose = el.goose;
    out.endText = text();
    out.preCandidates = [...preCandidates];
  } else if (n === 2) {
    // Until the crash: the same goose and terms, each duck's election timer restarted
    // again and again (by heartbeats) and never fired; after it, a new goose.
    const armed = new Map();
    const terms = new Set();
    let crashedAt = null, newGoose = null;
    each(() => {
      const down = el.view.nodes.find((x) => x.status === 'down');
      if (down && crashedAt == null) crashedAt = el.time;
      if (crashedAt == null) {
        for (const x of el.view.nodes) {
          terms.add(x.term);
          if (x.id !== first.goose) {
            const s = armed.get(x.id) ?? new Set();
            s.add(x.election_timer?.[0]);
            armed.set(x.id, s);
            if (x.role !== 'follower') out.duckStood = x.id;
          }
        }
      } else if (el.goose != null && el.goose !== first.goose && newGoose == null) newGoose = { id: el.goose, term: node(el.goose).term };
    });
    out.terms = [...terms];
    out.timerRestarts = [...armed.values()].map((s) => s.size);
    out.crashedAt = crashedAt;
    out.crashed = el.view.nodes.find((x) => x.status === 'down')?.id ?? null;
    out.newGoose = newGoose;
    out.endText = text();
  } else if (n === 3) {
    const g = first.goose;
    const off = el.view.nodes.find((x) => x.status === 'down')?.id;
    const i = node(g).last_index + 1;
    let atCommit = null;
    each(() => {
      if (atCommit == null && node(g).commit_index >= i) {
        atCommit = { offStatus: node(off).status, offLast: node(off).last_index, copies: el.view.nodes.filter((x) => x.status === 'up' && x.last_index >= i).length };
      }
    });
    out.g = g; out.off = off; out.i = i; out.atCommit = atCommit;
    out.final = el.view.nodes.map((x) => [x.id, x.status, x.last_index, x.commit_index]);
  } else if (n === 4) {
    // The paper's Figure 8: an entry of an earlier term on a quorum, not committed by the
    // leader until an entry of its own term commits with it.
    const events = [];
    let twoVersions = null, earlier = null, committed = null;
    each(() => {
      const terms3 = new Map();
      for (const x of el.view.nodes) {
        for (const e of x.log) { const s = terms3.get(e.index) ?? new Set(); s.add(e.term); terms3.set(e.index, s); }
      }
      for (const [i, s] of terms3) if (s.size > 1 && twoVersions == null) twoVersions = { at: el.time, index: i, terms: [...s] };
      const leader = el.view.nodes.find((x) => x.role === 'leader' && x.status === 'up');
      if (!leader || !twoVersions) return;
      const i = twoVersions.index;
      const why = el.sim.why(leader.id, i);
      if (why.uncommitted?.kind === 'earlier_term') {
        earlier ??= { at: el.time, leader: leader.id, term: leader.term, entryTerm: entry(leader.id, i).term, quorum: leader.quorum,
          onIt: el.view.nodes.filter((x) => x.status === 'up' && entry(x.id, i)?.term === entry(leader.id, i).term).length };
        if (leader.commit_index >= i) events.push(`committed while earlier_term at ${el.time}`);
      }
      if (earlier && committed == null && node(earlier.leader).commit_index >= i) {
        const l = node(earlier.leader);
        committed = { at: el.time, commit: l.commit_index, next: entry(l.id, i + 1), why: el.sim.why(l.id, i).uncommitted ?? null };
      }
    });
    // At the step's look at that moment the entry is picked: the line under the log table says why.
    el.seek(holds.at(-1));
    out.atHold = { text: text(), whyLine: el.shadowRoot.querySelector('.why-entry').textContent, picked: el.shadowRoot.querySelector('td.picked')?.dataset ?? null };
    out.twoVersions = twoVersions; out.earlier = earlier; out.committed = committed; out.events = events;
    el.seek(end);
    out.finalTerms = el.view.nodes.map((x) => entry(x.id, twoVersions?.index)?.term ?? null);
  } else if (n === 5) {
    // The old goose, partitioned into a minority, is not the goose there; the majority's is.
    let minority = null, oldGooseWhilePartitioned = false, majorityGoose = null;
    each(() => {
      const zones = el.frame.zones;
      const z = zones.find((zz) => zz.includes(first.goose));
      if (zones.length > 1 && z && z.length < 3) {
        minority ??= { at: el.time, ids: [...z] };
        if (el.time > minority.at + 400 && node(first.goose).goose) oldGooseWhilePartitioned = true;
        if (el.goose != null && !z.includes(el.goose)) majorityGoose ??= { id: el.goose, term: node(el.goose).term };
      }
    });
    out.minority = minority; out.oldGooseWhilePartitioned = oldGooseWhilePartitioned; out.majorityGoose = majorityGoose;
    el.seek(minority.at + 400);
    out.oldGooseAfter400 = { goose: node(first.goose).goose, why: el.sim.why(first.goose).notGoose?.kind ?? null };
  } else if (n === 6) {
    let lone = null;
    const roles = new Set();
    let maxLoneTerm = 0;
    each(() => {
      const z = el.frame.zones;
      if (z.length > 1) lone ??= z.find((g) => g.length === 1)?.[0] ?? null;
      if (lone != null) { roles.add(node(lone).role); maxLoneTerm = Math.max(maxLoneTerm, node(lone).term); }
    });
    out.lone = lone; out.roles = [...roles]; out.maxLoneTerm = maxLoneTerm;
    out.final = { goose: el.goose, term: node(el.goose)?.term, zones: el.frame.zones.length };
  } else if (n === 7) {
    let added = null, removed = null;
    each(() => {
      const fresh = el.view.nodes.find((x) => !first.nodes.includes(x.id));
      if (fresh && fresh.member && fresh.status === 'up') added ??= { id: fresh.id, at: el.time, quorum: fresh.quorum };
      const gone = first.nodes.find((id) => !node(id));
      if (gone != null) removed ??= { id: gone, at: el.time };
    });
    out.added = added; out.removed = removed;
    out.final = { ids: el.view.nodes.map((x) => x.id), goose: el.goose };
  } else if (n === 8) {
    each(() => {});
    out.final = { goose: el.goose, term: node(el.goose)?.term, oldRole: node(first.goose).role };
    out.endText = text();
  } else if (n === 9) {
    let sleeper = null, installed = null;
    const lines = [];
    each(() => {
      sleeper ??= el.view.nodes.find((x) => x.status === 'down')?.id ?? null;
      for (const l of el.frame.lines) if (l.kind === 'snapshot' && / installed a snapshot/.test(l.text)) lines.push(l.text);
      if (sleeper != null && node(sleeper).status === 'up' && node(sleeper).snapshot && !installed) {
        installed = { at: el.time, index: node(sleeper).snapshot.index, gooseSnapshot: node(el.goose)?.snapshot?.index };
      }
    });
    out.sleeper = sleeper; out.installed = installed;
    out.lines = lines;
    out.final = { sleeper: node(sleeper) && [node(sleeper).last_index, node(sleeper).commit_index], goose: [node(el.goose).last_index, node(el.goose).commit_index] };
  }
  return out;
}

// What each step's run must show.
function checkStep(r) {
  const why = JSON.stringify(r);
  assert.equal(r.seen.maxGeese <= 1, true, `never two geese at once: ${why}`);
  switch (r.n) {
    case 1:
      assert.ok(r.goose != null, `a goose at the end of the election: ${why}`);
      assert.ok(r.preCandidates.includes(r.goose), why);
      assert.match(r.endText, new RegExp(`^Node ${r.goose} won a majority`));
      break;
    case 2:
      assert.deepEqual(r.terms, [1], why);
      assert.equal(r.duckStood, undefined, `no duck stood while heartbeats came: ${why}`);
      // Over a second of 50 ms heartbeats, each duck's timer restarted at least ten times.
      for (const k of r.timerRestarts) assert.ok(k >= 10, why);
      assert.equal(r.crashed, r.first.goose);
      assert.ok(r.newGoose && r.newGoose.term > 1, why);
      assert.match(r.endText, new RegExp(`^Node ${r.newGoose.id}'s ring filled first and it won term ${r.newGoose.term}`));
      break;
    case 3:
      assert.ok(r.atCommit, why);
      assert.equal(r.atCommit.offStatus, 'down');
      assert.ok(r.atCommit.offLast < r.i, why);
      assert.ok(r.atCommit.copies >= 3, why);
      for (const [, status, last, commit] of r.final) assert.deepEqual([status, last, commit], ['up', r.i, r.i], why);
      break;
    case 4:
      assert.ok(r.twoVersions, `two different entries at one index: ${why}`);
      assert.ok(r.earlier, `an earlier-term entry on a quorum, uncommitted: ${why}`);
      assert.ok(r.earlier.entryTerm < r.earlier.term, why);
      assert.ok(r.earlier.onIt >= r.earlier.quorum, why);
      assert.deepEqual(r.events, [], why);
      // Committed only with the next entry, the leader's own term's.
      assert.ok(r.committed, why);
      assert.ok(r.committed.commit >= r.twoVersions.index + 1, why);
      assert.equal(r.committed.next.term, r.earlier.term, why);
      assert.equal(r.committed.why, null);
      assert.match(r.atHold.whyLine, new RegExp(`^Entry ${r.twoVersions.index} on node ${r.earlier.leader}: entry ${r.twoVersions.index} is on a quorum but from term ${r.earlier.entryTerm}`));
      assert.deepEqual({ ...r.atHold.picked }, { n: String(r.earlier.leader), i: String(r.twoVersions.index) });
      assert.match(r.atHold.text, new RegExp(`^${r.earlier.leader} leads term ${r.earlier.term}, and entry ${r.twoVersions.index} is on a majority`));
      // In the end every node holds the committed entry at that index.
      assert.deepEqual(new Set(r.finalTerms), new Set([r.earlier.entryTerm]), why);
      break;
    case 5:
      assert.ok(r.minority?.ids.includes(r.first.goose), why);
      assert.equal(r.oldGooseWhilePartitioned, false, why);
      assert.equal(r.oldGooseAfter400.goose, false);
      assert.ok(r.majorityGoose && !r.minority.ids.includes(r.majorityGoose.id) && r.majorityGoose.term > 1, why);
      break;
    case 6:
      assert.ok(r.lone != null, why);
      assert.ok(r.roles.includes('pre_candidate'), `the lone duck asked for pre-votes: ${why}`);
      assert.equal(r.maxLoneTerm, r.first.term, `its term never rose: ${why}`);
      assert.deepEqual(r.final, { goose: r.first.goose, term: r.first.term, zones: 0 }, why);
      break;
    case 7:
      assert.ok(r.added && r.added.quorum === 4, why);
      assert.ok(r.removed && r.removed.at > r.added.at, why);
      assert.equal(r.final.ids.length, 5);
      assert.ok(r.final.goose != null);
      break;
    case 8: {
      const [, to] = r.endText.match(/^(\d) started an election at once and won/) ?? [];
      assert.equal(r.final.goose, Number(to), why);
      assert.notEqual(r.final.goose, r.first.goose);
      assert.equal(r.final.term, r.first.term + 1);
      assert.equal(r.final.oldRole, 'follower');
      break;
    }
    case 9:
      assert.ok(r.installed, `the sleeper installed a snapshot: ${why}`);
      assert.equal(r.lines.length, 1, why);
      assert.match(r.lines[0], new RegExp(`${r.sleeper} installed a snapshot through ${r.installed.index}`));
      assert.deepEqual(r.final.sleeper, r.final.goose, why);
      break;
  }
}

test('the Tour button opens step 1; every step walked with the keyboard, its caption and its run checked', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html?seed=3`);
  await elementReady(p);
  await p.locator(`${EL} .scen-row button[data-do="tour"]`).click();
  for (let n = 1; n <= 9; n++) {
    await atStep(p, n);
    assert.equal(new URL(p.url()).searchParams.get('tour'), String(n));
    // Recording step 5's story asked a node "goose?"; that answer's bubble is not left
    // over on the played run, whose own question comes 1.7 virtual s after its start.
    if (n === 5) {
      const b = await p.evaluate((sel) => { const el = document.querySelector(sel); return { time: el.time, start: el.tour.start, bubbles: el.shadowRoot.querySelectorAll('g.bubbles > g').length }; }, EL);
      assert.ok(b.time < b.start + 1700, JSON.stringify(b));
      assert.equal(b.bubbles, 0, JSON.stringify(b));
    }
    const r = await p.evaluate(watchStep, [EL, n]);
    checkStep(r);
    // → and n both go on (alternately); the last step's → ends the tour.
    await p.keyboard.press(n % 2 ? 'ArrowRight' : 'n');
  }
  await waitFor(p, (sel) => document.querySelector(sel).tour === null, EL);
  const end = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    return { bar: el.shadowRoot.querySelector('.tour').hidden, caption: el.shadowRoot.querySelector('.caption').hidden };
  }, EL);
  assert.deepEqual(end, { bar: true, caption: true });
  assert.equal(new URL(p.url()).searchParams.has('tour'), false);
  assert.deepEqual(p.problems, []);
});

test('buttons: Next through every step, a look held inside a step goes on, Back replays from the start', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html?tour=1`);
  await elementReady(p);
  // Played, a step pauses exactly at its look, goes on with Next, and pauses at its end.
  await atStep(p, 1);
  const label = () => p.locator(`${EL} .tour button[data-tour="next"]`).textContent();
  await p.evaluate((sel) => document.querySelector(sel).setAttribute('speed', '1'), EL);
  const look = await waitFor(p, (sel) => { const el = document.querySelector(sel); return !el.playing && { time: el.time, tour: el.tour }; }, EL);
  assert.equal(look.time, look.tour.holds[0]);
  assert.equal(await label(), 'Go on →');
  await p.locator(`${EL} .tour button[data-tour="next"]`).click();
  const end = await waitFor(p, ([sel, t]) => { const el = document.querySelector(sel); return !el.playing && el.time > t && { time: el.time, tour: el.tour }; }, [EL, look.time]);
  assert.deepEqual([end.time, end.tour.step], [end.tour.end, 1]);
  assert.equal(await label(), 'Next →');
  assert.equal(await p.locator(`${EL} .tour.end`).count(), 1);
  await p.evaluate((sel) => document.querySelector(sel).setAttribute('speed', '0.1'), EL);
  const hashes = [];
  for (let n = 1; n <= 9; n++) {
    await atStep(p, n, n > 1);
    // From the step's start (not at a look), Next goes to the next step.
    const s = await p.evaluate((sel) => {
      const el = document.querySelector(sel);
      el.pause();
      el.seek(el.tour.start);
      const start = { time: el.time, hash: el.hash };
      el.run(el.tour.end - el.time);
      return { start, end: { time: el.time, hash: el.hash }, label: el.shadowRoot.querySelector('.tour [data-tour="next"]').textContent };
    }, EL);
    hashes.push(s);
    assert.equal(s.label, n < 9 ? 'Next →' : 'Finish');
    await p.locator(`${EL} .tour button[data-tour="next"]`).click();
  }
  await waitFor(p, (sel) => document.querySelector(sel).tour === null, EL);

  // Held at a look inside the Figure 8 step, Next goes on in the same step.
  await p.goto(`${env.server.url}/index.html?tour=4`);
  await atStep(p, 4);
  const held = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    // Where each step begins, taken as it is entered.
    window.entered = [];
    el.addEventListener('tourstep', (e) => window.entered.push({ step: e.detail.step, time: el.time, hash: el.hash }));
    el.pause();
    el.run(el.tour.holds.at(-1) - el.time);
    return { time: el.time, label: el.shadowRoot.querySelector('.tour [data-tour="next"]').textContent };
  }, EL);
  assert.equal(held.label, 'Go on →');
  await p.locator(`${EL} .tour button[data-tour="next"]`).click();
  await waitFor(p, ([sel, t]) => document.querySelector(sel).time > t, [EL, held.time]);
  assert.equal(await p.evaluate((sel) => document.querySelector(sel).tour.step, EL), 4);

  // Back (the button, then ←) re-enters the previous step from its start: the same run,
  // to the same hash at its start and at its end.
  await p.locator(`${EL} .tour button[data-tour="back"]`).click();
  await atStep(p, 3);
  await p.keyboard.press('ArrowLeft');
  await atStep(p, 2);
  const again = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.pause();
    el.run(el.tour.end - el.time);
    const { time, hash } = window.entered.at(-1);
    return { start: { time, hash }, end: { time: el.time, hash: el.hash } };
  }, EL);
  assert.deepEqual(again, { start: hashes[1].start, end: hashes[1].end });
  assert.deepEqual(await p.evaluate(() => window.entered.map((e) => e.step)), [3, 2]);
  // On step 1, Back is off.
  await p.keyboard.press('b');
  await atStep(p, 1);
  assert.equal(await p.locator(`${EL} .tour button[data-tour="back"]`).isDisabled(), true);
  assert.deepEqual(p.problems, []);
});

test('?tour=N opens step N; a step that does not exist opens step 1 with a message; Escape leaves', async () => {
  for (const n of [3, 9]) {
    const p = await openPage(env.ctx, `${env.server.url}/index.html?tour=${n}`);
    await elementReady(p);
    await atStep(p, n);
    const t = await p.evaluate((sel) => document.querySelector(sel).tour, EL);
    assert.equal(t.steps, 9);
    await p.close();
  }
  {
    // `?tour` with no number is the tour's start, said without a complaint.
    const p = await openPage(env.ctx, `${env.server.url}/index.html?tour=`);
    await elementReady(p);
    await atStep(p, 1);
    assert.equal(await p.locator(`${EL} .err`).count(), 0);
    await p.close();
  }
  for (const bad of ['99', '0', '-2', '2.5', 'abc', '%3Cb%3E']) {
    const p = await openPage(env.ctx, `${env.server.url}/index.html?tour=${bad}`);
    await elementReady(p);
    await atStep(p, 1);
    const err = await p.locator(`${EL} .err`).textContent();
    assert.match(err, /^There is no tour step ".*": the tour has steps 1 to 9\. Here is step 1\.$/);
    assert.deepEqual(p.problems, [], bad);
    await p.close();
  }
  const p = await openPage(env.ctx, `${env.server.url}/index.html?tour=5`);
  await elementReady(p);
  await atStep(p, 5);
  // A link shared during the tour is the run's, not the tour's.
  const share = await p.evaluate((sel) => document.querySelector(sel).shareUrl(), EL);
  assert.equal(new URL(share).searchParams.has('tour'), false);
  assert.match(new URL(share).hash, /^#run=/);
  // → on a focused node moves to the next node, as outside the tour; the step stays.
  await p.locator(`${EL} [data-node-id="1"]`).focus();
  await p.keyboard.press('ArrowRight');
  const focused = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    return { node: el.shadowRoot.activeElement?.dataset.nodeId, step: el.tour.step };
  }, EL);
  assert.deepEqual(focused, { node: '2', step: 5 });
  await p.keyboard.press('Escape');
  await waitFor(p, (sel) => document.querySelector(sel).tour === null, EL);
  assert.equal(new URL(p.url()).searchParams.has('tour'), false);
  assert.equal(await p.locator(`${EL} .tour`).isHidden(), true);
  // Back in the tour, one click on Next is one step; a new run while touring ends the tour.
  await p.locator(`${EL} .scen-row button[data-do="tour"]`).click();
  await atStep(p, 1);
  await p.evaluate((sel) => { const el = document.querySelector(sel); el.pause(); el.seek(el.tour.start); }, EL);
  await p.locator(`${EL} .tour button[data-tour="next"]`).click();
  await atStep(p, 2);
  await p.locator(`${EL} button[data-do="new-run"]`).click();
  await waitFor(p, (sel) => document.querySelector(sel).tour === null, EL);
  assert.deepEqual(p.problems, []);
});
