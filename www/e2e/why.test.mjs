// "Why no goose?" and "why is this entry not committed?" (issue 13): the selected node's
// panel says why it is or is not the goose, and a click on a log entry says why it is or
// is not committed, both asked of the core (`sim.why`) and kept current as the run goes.
// The structured reason (`kind`) is asserted, not only the wording.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageServer, openPage, elementReady } from './helpers.mjs';

const EL = 'duck-duck-goose';

const env = pageServer();

test('why no goose: goose, follower, a goose cut off into a minority, a crashed node', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html?seed=7&nodes=5`);
  await elementReady(p);
  const r = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.pause();
    while (el.goose == null && el.time < 10000) el.run(50);
    const text = () => el.shadowRoot.querySelector('.why-goose')?.textContent ?? '';
    const goose = el.goose;
    const duck = el.view.nodes.find((n) => n.id !== goose).id;
    el.select(goose);
    const asGoose = { text: text(), why: el.sim.why(goose) };
    el.select(duck);
    const asDuck = { text: text(), why: el.sim.why(duck) };
    // The goose and one duck into zone 2: a minority of two.
    el.partition([el.view.nodes.map((n) => n.id).filter((id) => id !== goose && id !== duck), [goose, duck]]);
    el.select(goose);
    const reasons = new Set();
    for (let t = 0; t < 400 && el.sim.why(goose).notGoose?.kind !== 'not_leader'; t += 5) {
      el.run(5);
      const k = el.sim.why(goose).notGoose?.kind;
      if (k) reasons.add(k);
    }
    const cutOff = { text: text(), why: el.sim.why(goose), reasons: [...reasons] };
    el.crash(goose);
    el.run(1);
    const crashed = { text: text(), why: el.sim.why(goose) };
    let bad = null;
    try { el.sim.why(99); } catch (e) { bad = String(e.message ?? e); }
    return { goose, duck, asGoose, asDuck, cutOff, crashed, bad };
  }, EL);
  assert.equal(r.asGoose.why.notGoose ?? null, null, JSON.stringify(r.asGoose));
  assert.match(r.asGoose.text, /^Why goose\? \d+ is the goose/);
  assert.equal(r.asDuck.why.notGoose.kind, 'not_leader');
  assert.equal(r.asDuck.why.notGoose.leader, r.goose);
  assert.match(r.asDuck.text, new RegExp(`Why no goose\\? ${r.duck} is not the leader: it follows ${r.goose}`));
  // Cut off, the old goose first loses its lease while still leading, then steps down.
  assert.ok(r.cutOff.reasons.includes('lease_expired'), JSON.stringify(r.cutOff));
  assert.equal(r.cutOff.why.notGoose.kind, 'not_leader');
  assert.equal(r.crashed.why.status, 'down');
  assert.match(r.crashed.text, /is down/);
  assert.match(r.bad, /no node 99/);
  assert.deepEqual(p.problems, []);
});

test('why not committed: click an entry of a leader cut off from its majority, then heal', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html?seed=11`);
  await elementReady(p);
  const setup = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.pause();
    while (el.goose == null && el.time < 10000) el.run(50);
    const goose = el.goose;
    const others = el.view.nodes.map((n) => n.id).filter((id) => id !== goose);
    el.partition([others, [goose]]);
    el.write(goose, 'k', 'v');
    el.run(30);
    const node = el.view.nodes.find((n) => n.id === goose);
    const quorum = Math.floor(el.view.nodes.filter((n) => n.member).length / 2) + 1;
    return { goose, index: node.last_index, commit: node.commit_index, quorum };
  }, EL);
  assert.ok(setup.index > setup.commit, JSON.stringify(setup));
  // What a person does: click that entry's cell in the goose's row of the log table.
  await p.locator(`${EL} table.logs td[data-n="${setup.goose}"][data-i="${setup.index}"]`).click();
  const line = p.locator(`${EL} .why-entry`);
  await line.waitFor();
  const before = await line.textContent();
  assert.match(before, new RegExp(`^Entry ${setup.index} on node ${setup.goose}: entry ${setup.index} is on 1 of the ${setup.quorum} voters needed`));
  const after = await p.evaluate(([sel, s]) => {
    const el = document.querySelector(sel);
    const why = el.sim.why(s.goose, s.index);
    el.heal();
    for (let t = 0; t < 2000 && el.sim.why(s.goose, s.index).uncommitted; t += 10) el.run(10);
    return { during: why, text: el.shadowRoot.querySelector('.why-entry').textContent, now: el.sim.why(s.goose, s.index) };
  }, [EL, setup]);
  assert.equal(after.during.uncommitted.kind, 'too_few_replicas');
  assert.deepEqual([after.during.uncommitted.replicas, after.during.uncommitted.quorum], [1, setup.quorum]);
  // Healed, the entry is either committed by that leader or replaced under a new one;
  // either way the line follows the core's answer for that node and index.
  assert.match(after.text, new RegExp(`^Entry ${setup.index} on node ${setup.goose}: `));
  assert.ok(after.text.endsWith(after.now.entryText ?? after.now.gooseText), after.text);
  assert.deepEqual(p.problems, []);
});
