// Fencing in the playground (issue 12): a paused ex-goose's fenced write is refused while
// its unfenced write goes through. Reads the structured answers (outcome codes) and the
// store the page exposes, never the narration. Simulated time is driven by el.run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pageServer, openPage, waitFor, REPO, elementReady, replayNatively } from './helpers.mjs';

const EL = 'duck-duck-goose';

const env = pageServer();

test('the fencing scenario: the fenced write is refused, the unfenced one applied', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html`);
  await elementReady(p);
  await p.locator(`${EL} .scen button[data-scenario="fencing"]`).click();
  const r = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.pause();
    const answers = [];
    el.addEventListener('answer', (e) => {
      const x = el.view.store?.entries.find(([k]) => k === 'x')?.[1] ?? null;
      answers.push({ ...e.detail, x, storeAt: el.view.store?.node ?? null });
    });
    const start = el.time;
    while (el.director && el.time - start < 40000) el.run(20);
    const caption = el.shadowRoot.querySelector('.caption').textContent;
    const store = el.shadowRoot.querySelector('.store').textContent;
    return { done: !el.director, caption, answers, store, view: el.view, scenario: el.scenarioData, time: el.time, hash: el.hash };
  }, EL);
  assert.ok(r.done, `did not finish: ${r.caption}`);
  assert.ok(!/another path/.test(r.caption), r.caption);
  // goose? (A takes its fence), B's write, A's fenced write, A's unfenced write.
  assert.equal(r.answers.length, 4, JSON.stringify(r.answers));
  const [honk, wroteB, fenced, unfenced] = r.answers;
  const a = honk.node;
  assert.equal(honk.outcome, 'goose');
  const fenceA = honk.goose;
  const b = wroteB.node;
  assert.notEqual(a, b);
  assert.equal(wroteB.outcome, 'written');
  assert.equal(wroteB.x, `from-${b}`);
  // A's fenced write went to A, which redirected it to the new goose; refused there.
  assert.deepEqual(fenced.via, [a, b]);
  assert.equal(fenced.outcome, 'stale_fence');
  assert.equal(fenced.ok, false);
  assert.equal(fenced.fence, fenceA);
  assert.ok(fenced.entry_term > fenceA, JSON.stringify(fenced));
  assert.equal(fenced.x, `from-${b}`, 'the refused write left x alone');
  // The same write unfenced goes through and overwrites B's value.
  assert.deepEqual(unfenced.via, [a, b]);
  assert.equal(unfenced.outcome, 'written');
  assert.equal(unfenced.ok, true);
  assert.equal(unfenced.x, `from-${a}`);
  assert.equal(r.view.store.node, b);
  assert.match(r.store, new RegExp(`x = from-${a}`));
  assert.deepEqual(r.view.violations, []);
  // Every act was an ordinary recorded action: the fenced request is in the run's text.
  assert.match(r.scenario, new RegExp(`request ${b} fenced ${fenceA} put x from%2D${a}`));
  assert.match(r.scenario, new RegExp(`request ${a} fenced ${fenceA} put x from%2D${a}`));
  // The same story replays natively to the same trace.
  assert.equal(replayNatively(r.scenario, r.time).hash, r.hash);
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('by hand: Goose? fills the fence; Put if fence from the old goose is refused, Put from app applied', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html#seed=11&nodes=3`);
  await elementReady(p);
  const run = (ms) => p.evaluate(({ sel, ms }) => document.querySelector(sel).run(ms), { sel: EL, ms });
  await p.evaluate((sel) => document.querySelector(sel).pause(), EL);
  let s = await run(0);
  for (let i = 0; i < 50 && s.goose == null; i++) s = await run(100);
  const a = s.goose;
  assert.ok(a != null);
  // Select the goose, ask it "goose?": its answer fills in the app's fence.
  await p.evaluate(({ sel, a }) => document.querySelector(sel).select(a), { sel: EL, a });
  await p.locator(`${EL} .node-panel button[data-do="node-goose"]`).click();
  // The goose confirms its lease with a quorum before it answers: a heartbeat round or so.
  for (let i = 0; i < 40 && (await p.locator(`${EL} input.fence`).inputValue()) === ''; i++) await run(25);
  const fence = Number(await p.locator(`${EL} input.fence`).inputValue());
  assert.equal(await p.locator(`${EL} select.w-from`).inputValue(), String(a));
  const termA = await p.evaluate(({ sel, a }) => document.querySelector(sel).view.nodes.find((n) => n.id === a).term, { sel: EL, a });
  assert.equal(fence, termA);
  // Pause it from its panel; the others elect a new goose.
  await p.locator(`${EL} .node-panel button[data-do="node-pause"]`).click();
  for (let i = 0; i < 50 && (s.goose == null || s.goose === a); i++) s = await run(100);
  const b = s.goose;
  assert.ok(b != null && b !== a, JSON.stringify(s));
  await p.locator(`${EL} .node-panel button[data-do="node-pause"]`).click(); // Resume
  const answers = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el._fencingAnswers = [];
    el.addEventListener('answer', (e) => el._fencingAnswers.push(e.detail));
    return true;
  }, EL);
  assert.ok(answers);
  await p.locator(`${EL} input.key`).fill('x');
  await p.locator(`${EL} input.val`).fill('stale');
  await p.locator(`${EL} button[data-do="write-fenced"]`).click();
  await run(300);
  await p.locator(`${EL} button[data-do="write"]`).click();
  await run(300);
  const got = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    return { answers: el._fencingAnswers, store: el.view.store };
  }, EL);
  assert.equal(got.answers.length, 2, JSON.stringify(got.answers));
  const [fenced, unfenced] = got.answers;
  assert.deepEqual(fenced.via, [a, b]);
  assert.equal(fenced.outcome, 'stale_fence');
  assert.equal(fenced.fence, fence);
  assert.equal(unfenced.outcome, 'written');
  assert.deepEqual(got.store.entries, [['x', 'stale']]);
  // A fenced put with no fence typed is refused by the page, not sent.
  await p.locator(`${EL} input.fence`).fill('');
  await p.locator(`${EL} button[data-do="write-fenced"]`).click();
  assert.match(await p.locator(`${EL} .err`).textContent(), /fence: a whole number/);
  // Nonsense through the script API is refused with an error, never a panic.
  const bad = await p.evaluate(async ({ sel, a }) => {
    const el = document.querySelector(sel);
    const errors = [];
    const showError = el._error;
    el._error = (e) => errors.push(String(e?.message ?? e));
    const out = [];
    for (const [node, fence] of [[42, null], [a, -1], [a, 1e300], [a, NaN], [0, 1]]) out.push(await el.write(node, 'x', 'y', { fence }));
    el._error = showError;
    el.run(200);
    return { out, errors, nodes: el.view.nodes.length };
  }, { sel: EL, a });
  assert.deepEqual(bad.out, [null, null, null, null, null], JSON.stringify(bad));
  assert.equal(bad.errors.length, 5, JSON.stringify(bad.errors));
  for (const e of bad.errors) assert.doesNotMatch(e, /unreachable|RuntimeError|panicked/, e);
  assert.match(bad.errors[0], /no node 42/);
  assert.equal(bad.nodes, 3, 'the run goes on');
  assert.deepEqual(p.problems, []);
  await p.close();
});

// Saved under target/e2e/ so test runs leave the tree clean; DDG_UPDATE_SCREENSHOT=1
// writes docs/fencing.png, the playground doc's picture, instead.
test('screenshot: the fenced write refused', async () => {
  const p = await env.ctx.newPage();
  await p.setViewportSize({ width: 1360, height: 1000 });
  await p.goto(`${env.server.url}/index.html`);
  await elementReady(p);
  const refused = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.startScenario('fencing', { autoplay: false });
    const start = el.time;
    while (el.director && el.director.ctx.mem.fenced == null && el.time - start < 30000) el.run(5);
    el.select(el.director?.ctx.mem.a ?? null);
    return el.director?.ctx.mem.fenced?.outcome;
  }, EL);
  assert.equal(refused, 'stale_fence');
  await waitFor(p, (sel) => [...document.querySelector(sel).pos.values()].every((q) => q.x === q.tx && q.y === q.ty), EL);
  await p.evaluate(() => new Promise((res) => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(res)), 200)));
  const file = process.env.DDG_UPDATE_SCREENSHOT
    ? path.join(REPO, 'docs', 'fencing.png')
    : path.join(REPO, 'target', 'e2e', 'fencing.png');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await p.locator(EL).screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 20_000);
  await p.close();
});
