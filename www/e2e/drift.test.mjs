// Clock drift in the playground (issue 13): per-node clock rates, the guided scenario in
// which a slow clock lets two nodes show as goose at once while "Goose?" stays safe, the
// node panel's slider, and a shared link that replays the rates. Reads the structured
// view (`nodes[i].goose`, `clock_rate`, `violations[].invariant`), the DOM's data-role and
// the answers' outcome codes; simulated time is driven by el.run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageServer, openPage, waitFor, elementReady, replayNatively } from './helpers.mjs';

const EL = 'duck-duck-goose';
const SHOTS = process.env.DDG_SHOTS ?? '/tmp';

const env = pageServer();

// What the page shows right now: geese in the view and on the stage, the invariants box,
// the caption, each node's clock mark.
function snapshot(el) {
  const root = el.shadowRoot;
  const v = el.view;
  return {
    time: el.time,
    geese: v.nodes.filter((n) => n.goose).map((n) => n.id),
    drawnGeese: [...root.querySelectorAll('[data-node-id][data-role="goose"]')].map((g) => Number(g.dataset.nodeId)),
    violations: v.violations.map((x) => x.invariant),
    bad: [...root.querySelectorAll('.inv li.bad')].map((li) => li.dataset.inv),
    offense: root.querySelector('.inv .offense').textContent,
    caption: root.querySelector('.caption').textContent,
    marks: Object.fromEntries([...root.querySelectorAll('[data-node-id]')].map((g) => [g.dataset.nodeId,
      g.querySelector('.rate').getAttribute('display') === 'none' ? '' : g.querySelector('.rate text').textContent])),
    card: root.querySelector('.goose-card').textContent,
    rates: Object.fromEntries(v.nodes.map((n) => [n.id, n.clock_rate])),
    terms: Object.fromEntries(v.nodes.map((n) => [n.id, n.term])),
  };
}

test('the Clock drift scenario: two geese show at once, "one goose at a time" fails, Goose? stays safe', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html`);
  await elementReady(p);
  await p.locator(`${EL} .scen button[data-scenario="clock-drift"]`).click();
  // Run 2 ms at a time until two nodes show as goose (or the story ends).
  const at = await p.evaluate(({ sel, snap }) => {
    const el = document.querySelector(sel);
    const look = new Function(`return (${snap})`)();
    // Still playing (the scenario autoplays): this loop runs between animation frames.
    window.__answers = [];
    el.addEventListener('answer', (e) => window.__answers.push(e.detail));
    const start = el.time;
    while (el.director && el.time - start < 30000) {
      el.run(2);
      const s = look(el);
      if (s.geese.length > 1) return { ...s, playing: el.playing, old: el.director.ctx.mem.old, fresh: el.director.ctx.mem.new };
    }
    return { ...look(el), none: true };
  }, { sel: EL, snap: snapshot.toString() });
  assert.ok(!at.none, `never two geese: ${at.caption}`);
  const { old, fresh } = at;
  assert.equal(at.geese.length, 2, JSON.stringify(at));
  assert.deepEqual([...at.geese].sort(), [old, fresh].sort());
  assert.deepEqual([...at.drawnGeese].sort(), [...at.geese].sort(), 'both drawn as geese on the stage');
  assert.ok(at.terms[fresh] > at.terms[old], JSON.stringify(at.terms));
  assert.equal(at.rates[old], 500, 'the old goose runs at half speed');
  assert.equal(at.marks[old], '0.5×');
  assert.match(at.card, new RegExp(`2 geese at once: node ${Math.min(old, fresh)} .* and node ${Math.max(old, fresh)}`));
  assert.equal(at.marks[fresh], '', 'a clock at 1× carries no mark');
  assert.ok(at.violations.includes('one_goose_at_a_time'), JSON.stringify(at.violations));
  assert.ok(at.bad.includes('one_goose_at_a_time'), 'the invariants box shows it failing');
  assert.ok(at.offense.includes('both show as goose') && at.offense.includes('clock at 0.5x'), at.offense);
  assert.match(at.caption, /Two geese at once/);
  assert.equal(at.playing, false, 'the story holds on the moment');
  await p.locator(EL).screenshot({ path: `${SHOTS}/ddg-drift-two-geese.png` });

  // On to the answers and the end of the story.
  const end = await p.evaluate(({ sel, snap }) => {
    const el = document.querySelector(sel);
    const look = new Function(`return (${snap})`)();
    const start = el.time;
    while (el.director && el.time - start < 30000) el.run(20);
    return { ...look(el), done: !el.director, answers: window.__answers, scenario: el.scenarioData };
  }, { sel: EL, snap: snapshot.toString() });
  assert.ok(end.done, end.caption);
  const fromOld = end.answers.find((a) => a.node === old);
  const fromNew = end.answers.find((a) => a.node === fresh);
  assert.ok(fromOld && fromNew, JSON.stringify(end.answers));
  assert.notEqual(fromOld.outcome, 'goose', `the old goose answered ${JSON.stringify(fromOld)}`);
  assert.equal(fromOld.duck, true);
  assert.equal(fromNew.outcome, 'goose');
  assert.equal(fromNew.goose, at.terms[fresh]);
  // The answers' invariants held all along; only the lease's broke.
  for (const inv of ['one_goose_per_term', 'goose_needs_a_quorum', 'no_stale_goose', 'linearizable_goose']) {
    assert.ok(!end.violations.includes(inv), `${inv}: ${JSON.stringify(end.violations)}`);
    assert.ok(!end.bad.includes(inv), inv);
  }
  assert.deepEqual([...new Set(end.violations)].sort(), ['no_minority_goose', 'one_goose_at_a_time']);
  assert.match(end.scenario, new RegExp(`\\n\\d+ clock ${old} 0\\.5\\n`));
  assert.match(end.scenario, new RegExp(`\\n\\d+ clock ${old} 1\\n`));
  assert.equal(end.rates[old], 1000, 'set back to 1×');
  assert.match(end.caption, /clock back to 1×/);
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('the node panel slider sets a node\'s clock rate; bad rates are refused; a shared link replays the rates', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html#seed=11&nodes=5`);
  await elementReady(p);
  await p.evaluate((sel) => { const el = document.querySelector(sel); el.pause(); el.run(2000); el.select(2); }, EL);
  const slider = p.locator(`${EL} .node-body input.clock-rate`);
  assert.equal(await slider.inputValue(), '1');
  assert.equal(await p.locator(`${EL} .node-body .clock-out`).textContent(), '1×');
  assert.match(await p.locator(`${EL} .node-body .clocknote`).textContent(), /trusts this clock[\s\S]*only a quorum round/);
  // Five steps down with the keyboard: 1 → 0.75 (each step is a recorded action).
  await slider.focus();
  for (let i = 0; i < 5; i++) await p.keyboard.press('ArrowLeft');
  const r = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    const n = () => el.view.nodes.find((x) => x.id === 2);
    const before = { clock: n().clock, now: el.time };
    el.run(1000);
    return {
      rate: n().clock_rate,
      ticked: n().clock - before.clock,
      passed: el.time - before.now,
      others: el.view.nodes.filter((x) => x.id !== 2).map((x) => x.clock_rate),
      out: el.shadowRoot.querySelector('.node-body .clock-out').textContent,
      mark: el.shadowRoot.querySelector('[data-node-id="2"] .rate text').textContent,
      label: el.shadowRoot.querySelector('[data-node-id="2"]').getAttribute('aria-label'),
      scenario: el.scenarioData,
    };
  }, EL);
  await p.locator(EL).screenshot({ path: `${SHOTS}/ddg-drift-slider.png` });
  assert.equal(r.rate, 750);
  assert.equal(r.passed, 1000);
  assert.ok(Math.abs(r.ticked - 750) <= 1, `node 2's clock ran ${r.ticked} ms in 1000`);
  assert.deepEqual(r.others, [1000, 1000, 1000, 1000]);
  assert.equal(r.out, '0.75×');
  assert.equal(r.mark, '0.75×');
  assert.match(r.label, /clock at 0\.75×/);
  assert.match(r.scenario, /\n\d+ clock 2 0\.75$/);
  assert.equal((r.scenario.match(/ clock 2 /g) ?? []).length, 5, r.scenario);

  // Refused with a message, nothing recorded: out of range, unknown node, not a number.
  const refusals = [];
  for (const [node, rate] of [[2, 5], [42, 1], [2, 'fast']]) {
    refusals.push(await p.evaluate(([sel, node, rate]) => {
      const el = document.querySelector(sel);
      const before = el.scenarioData;
      const ok = el.setClockRate(node, rate);
      return { ok, same: el.scenarioData === before, msg: el.shadowRoot.querySelector('.err')?.textContent };
    }, [EL, node, rate]));
  }
  assert.deepEqual(refusals.map((x) => [x.ok, x.same]), [[false, true], [false, true], [false, true]]);
  assert.match(refusals[0].msg, /clock rate of node 2: 5x is out of range \(0\.5 to 2\)/);
  assert.match(refusals[1].msg, /no node 42/);
  assert.match(refusals[2].msg, /clock rate: expected a number/);
  p.problems = p.problems.filter((x) => !/duck-duck-goose:/.test(x)); // the refusals' console.warn

  // Share: the link replays the rates, to the same moment and hash.
  const { url, hash, time, text } = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.setClockRate(4, 1.5);
    el.run(500);
    return { url: el.shareUrl(), hash: el.hash, time: el.time, text: el.scenarioData };
  }, EL);
  assert.equal(replayNatively(text, time).hash, hash, 'the same drifting run natively');
  const q = await openPage(env.ctx, url);
  await elementReady(q);
  await waitFor(q, ([sel, t]) => document.querySelector(sel).time === t, [EL, time]);
  const shared = await q.evaluate((sel) => {
    const el = document.querySelector(sel);
    return { hash: el.hash, rates: el.view.nodes.map((n) => [n.id, n.clock_rate]), mark: el.shadowRoot.querySelector('[data-node-id="4"] .rate text').textContent };
  }, EL);
  assert.equal(shared.hash, hash);
  assert.deepEqual(shared.rates, [[1, 1000], [2, 750], [3, 1000], [4, 1500], [5, 1000]]);
  assert.equal(shared.mark, '1.5×');
  await q.locator(EL).screenshot({ path: `${SHOTS}/ddg-drift-shared.png` });
  assert.deepEqual(p.problems, []);
  assert.deepEqual(q.problems, []);
  await p.close();
  await q.close();
});
