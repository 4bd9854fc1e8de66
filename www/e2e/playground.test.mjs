// The playground as a person uses it, in headless Chromium: real mouse drags, clicks and
// keys. Simulated time is driven explicitly (el.run), never by sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pageServer, openPage, waitFor, runUntil, REPO, elementReady } from './helpers.mjs';

const EL = 'duck-duck-goose';
let page;

const oneGoose = (s) => s.nodes.filter((n) => n.role === 'goose').length === 1;

const env = pageServer();

async function settle(p) {
  // Node positions animate after a layout change; wait until the loop has stopped.
  await waitFor(p, (sel) => { const el = document.querySelector(sel); return el._raf === 0 && !el.playing; }, EL);
}

async function drag(p, id, zone) {
  await settle(p);
  const node = await p.locator(`${EL} [data-node-id="${id}"] .body`).boundingBox();
  const target = await p.locator(`${EL} .zone.z${zone} rect`).boundingBox();
  await p.mouse.move(node.x + node.width / 2, node.y + node.height / 2);
  await p.mouse.down();
  await p.mouse.move(target.x + target.width / 2, target.y + target.height * 0.3, { steps: 15 });
  await p.mouse.up();
}

test('the page loads with no console errors and draws a cluster', async () => {
  page = await openPage(env.ctx, `${env.server.url}/index.html#seed=42&nodes=5`);
  await elementReady(page);
  const count = await page.locator(`${EL} [data-node-id]`).count();
  assert.equal(count, 5);
  const roles = await page.locator(`${EL} [data-node-id]`).evaluateAll((els) => els.map((e) => e.dataset.role));
  assert.ok(roles.every((r) => ['goose', 'duck', 'down'].includes(r)), roles.join());
  assert.equal(await page.evaluate((sel) => document.querySelector(sel).seed, EL), 42);
  assert.deepEqual(page.problems, []);
});

test('exactly one goose appears', async () => {
  await page.evaluate((sel) => document.querySelector(sel).pause(), EL);
  const s = await runUntil(page, EL, oneGoose, { limit: 5000 });
  assert.ok(s.ok, `no single goose by ${s.time} ms`);
  assert.equal(await page.locator(`${EL} [data-role="goose"]`).count(), 1);
});

let before_drag;
test('dragging the goose and a duck into zone 2 leaves that minority without a goose', async () => {
  before_drag = await runUntil(page, EL, oneGoose);
  const goose = before_drag.goose;
  const duck = before_drag.nodes.find((n) => n.role === 'duck').id;
  await drag(page, goose, 1);
  await drag(page, duck, 1);
  const zones = await page.evaluate((sel) => document.querySelector(sel).frame.zones, EL);
  assert.deepEqual([...zones[1]].sort(), [goose, duck].sort(), JSON.stringify(zones));
  const minority = [goose, duck];
  const s = await runUntil(page, EL, (s) => {
    const geese = s.nodes.filter((n) => n.role === 'goose');
    return geese.length === 1 && !s.zones[1].includes(geese[0].id);
  }, { limit: 4000 });
  assert.ok(s.ok, `at ${s.time} ms: ${JSON.stringify(s.nodes)}`);
  const geese = s.nodes.filter((n) => n.role === 'goose').map((n) => n.id);
  assert.equal(geese.length, 1);
  assert.ok(!minority.includes(geese[0]), 'the majority has the goose');
  assert.ok(s.time - before_drag.time <= 4000, 'within a few simulated seconds');
  // And it stays that way: run on and look again.
  const later = await runUntil(page, EL, () => false, { limit: 2000 });
  assert.equal(later.nodes.filter((n) => n.role === 'goose' && minority.includes(n.id)).length, 0);
  assert.equal(later.nodes.filter((n) => n.role === 'goose').length, 1);
});

test('heal (one click) gives one goose, everyone in one zone', async () => {
  await page.locator(`${EL} aside button[data-do="heal"]`).click();
  const s = await runUntil(page, EL, (s) => s.zones.length === 0 && s.nodes.filter((n) => n.role === 'goose').length === 1);
  assert.ok(s.ok, JSON.stringify(s));
});

test('crashing the goose (click it, click Crash) gives a new goose', async () => {
  const s0 = await runUntil(page, EL, oneGoose);
  const old = s0.goose;
  await settle(page);
  await page.locator(`${EL} [data-node-id="${old}"] .body`).click();
  await page.locator(`${EL} .node-panel button[data-do="node-crash"]`).click();
  await waitFor(page, ({ sel, old }) => document.querySelector(sel).shadowRoot.querySelector(`[data-node-id="${old}"]`).dataset.role === 'down', { sel: EL, old });
  const s = await runUntil(page, EL, (s) => s.goose != null && s.nodes.filter((n) => n.role === 'goose').length === 1, { limit: 5000 });
  assert.ok(s.ok);
  assert.notEqual(s.goose, old);
  // Ask the crashed node and a duck "goose?" through the real request path.
  const answer = await page.evaluate(async (sel) => {
    const el = document.querySelector(sel);
    const duck = el.view.nodes.find((n) => n.status === 'up' && !n.goose).id;
    const asked = el.askGoose(duck);
    const goose = el.askGoose(el.goose);
    el.run(1000);
    return { duck: await asked, goose: await goose };
  }, EL);
  assert.equal(answer.duck.duck, true, JSON.stringify(answer));
  assert.equal(typeof answer.goose.goose, 'number', JSON.stringify(answer));
});

let shared;
test('a shared URL reproduces the same event trace', async () => {
  await page.evaluate((sel) => { const el = document.querySelector(sel); el.put('x', '1'); el.run(700); }, EL);
  await page.locator(`${EL} button[data-do="share"]`).click();
  const url = await page.locator(`${EL} .share-out`).inputValue();
  const here = await page.evaluate((sel) => { const el = document.querySelector(sel); return { time: el.time, hash: el.hash, actions: el.scenarioData.split('\n').length - 1 }; }, EL);
  assert.ok(here.actions >= 5, `recorded ${here.actions} actions`);
  const other = await openPage(env.ctx, url);
  await elementReady(other);
  const there = await other.evaluate((sel) => { const el = document.querySelector(sel); return { time: el.time, hash: el.hash, playing: el.playing }; }, EL);
  assert.equal(there.time, here.time);
  assert.equal(there.hash, here.hash);
  assert.equal(there.playing, false, 'a shared run opens paused at the shared moment');
  assert.deepEqual(other.problems, []);
  shared = { page: other, ...here };
});

test('export a run to a file and import it again', async () => {
  const p = shared.page;
  const [download] = await Promise.all([
    p.waitForEvent('download'),
    p.locator(`${EL} button[data-do="export"]`).click(),
  ]);
  const file = await download.path();
  const text = fs.readFileSync(file, 'utf8');
  assert.match(text, /^duckgoose 1 nodes=5 seed=42 /);
  await p.evaluate((sel) => document.querySelector(sel).reset({ seed: 1 }), EL);
  await p.locator(`${EL} input.import-file`).setInputFiles(file);
  await waitFor(p, (sel) => document.querySelector(sel).seed === 42, EL);
  const r = await p.evaluate((sel) => { const el = document.querySelector(sel); el.seek(el.frame.horizon); return el.scenarioData; }, EL);
  assert.equal(r.trim(), text.trim());
  // Back to the shared moment: the same trace hash again.
  const hash = await p.evaluate(({ sel, t }) => { const el = document.querySelector(sel); el.seek(t); return el.hash; }, { sel: EL, t: shared.time });
  assert.equal(hash, shared.hash);
});

test('scrubbing the timeline back and forth replays the same trace', async () => {
  const p = shared.page;
  const r = await p.evaluate(async ({ sel, t }) => {
    const el = document.querySelector(sel);
    const tl = el.shadowRoot.querySelector('.timeline');
    const scrub = (v) => new Promise((res) => { tl.value = String(v); tl.dispatchEvent(new Event('input')); requestAnimationFrame(() => requestAnimationFrame(res)); });
    await scrub(Math.floor(t / 3));
    const back = el.time;
    await scrub(t);
    return { back, time: el.time, hash: el.hash, max: Number(tl.max) };
  }, { sel: EL, t: shared.time });
  assert.equal(r.back, Math.floor(shared.time / 3));
  assert.equal(r.time, shared.time);
  assert.equal(r.hash, shared.hash);
  assert.equal(r.max, shared.time);
  await p.close();
});

test('keyboard partitioning: focus a node, press 3, arrow to the next, press 3', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html#seed=7&nodes=5`);
  await elementReady(p);
  await p.evaluate((sel) => document.querySelector(sel).pause(), EL);
  const s0 = await runUntil(p, EL, oneGoose);
  assert.ok(s0.ok);
  // Isolate the goose and its right neighbour (by id order) with keys only.
  await p.locator(`${EL} [data-node-id="${s0.goose}"]`).focus();
  await p.keyboard.press('3');
  await p.keyboard.press('ArrowRight');
  await p.keyboard.press('3');
  const zones = await p.evaluate((sel) => document.querySelector(sel).frame.zones, EL);
  assert.equal(zones[2].length, 2, JSON.stringify(zones));
  assert.ok(zones[2].includes(s0.goose));
  const s = await runUntil(p, EL, (s) => {
    const geese = s.nodes.filter((n) => n.role === 'goose');
    return geese.length === 1 && !s.zones[2].includes(geese[0].id);
  }, { limit: 4000 });
  assert.ok(s.ok, JSON.stringify(s));
  await p.keyboard.press('h');
  const healed = await p.evaluate((sel) => document.querySelector(sel).frame.zones, EL);
  assert.deepEqual(healed, []);
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('add and remove nodes, transfer, put/get and per-link faults from the panels', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html#seed=11&nodes=3`);
  await elementReady(p);
  await p.evaluate((sel) => document.querySelector(sel).pause(), EL);
  assert.ok((await runUntil(p, EL, oneGoose)).ok);
  await p.locator(`${EL} button[data-do="add"]`).click();
  let s = await runUntil(p, EL, (s) => s.nodes.length === 4 && s.nodes.every((n) => n.member) && s.nodes.filter((n) => n.role === 'goose').length === 1, { limit: 3000 });
  assert.ok(s.ok, JSON.stringify(s));
  // Transfer to a duck from its panel.
  const duck = s.nodes.find((n) => n.role === 'duck').id;
  await settle(p);
  await p.locator(`${EL} [data-node-id="${duck}"] .body`).click();
  await p.locator(`${EL} .node-panel button[data-do="node-transfer"]`).click();
  s = await runUntil(p, EL, (s, duck) => s.goose === duck, { limit: 3000, arg: duck });
  assert.ok(s.ok, `transfer to ${duck}: ${JSON.stringify(s)}`);
  // Put, then get, through the goose.
  await p.locator(`${EL} input.key`).fill('colour');
  await p.locator(`${EL} input.val`).fill('blue green');
  await p.locator(`${EL} button[data-do="put"]`).click();
  await runUntil(p, EL, () => false, { limit: 500 });
  const got = await p.evaluate(async (sel) => { const el = document.querySelector(sel); const a = el.get('colour'); el.run(500); return a; }, EL);
  assert.equal(got.text, 'value blue green');
  // Remove a node (not the goose).
  const victim = s.nodes.find((n) => n.role === 'duck').id;
  await p.locator(`${EL} [data-node-id="${victim}"] .body`).click();
  await p.locator(`${EL} .node-panel button[data-do="node-remove"]`).click();
  s = await runUntil(p, EL, (s) => s.nodes.length === 3, { limit: 3000 });
  assert.ok(s.ok, JSON.stringify(s));
  // Cut one direction of a link and set loss on another through the network panel.
  const ids = s.nodes.map((n) => n.id);
  await p.locator(`${EL} select.l-from`).selectOption(String(ids[0]));
  await p.locator(`${EL} select.l-to`).selectOption(String(ids[1]));
  await p.locator(`${EL} input.l-cut`).check();
  await p.locator(`${EL} input.l-loss`).fill('30');
  await p.locator(`${EL} button[data-do="link-set"]`).click();
  const info = await p.evaluate(({ sel, a, b }) => document.querySelector(sel).sim.linkInfo(a, b), { sel: EL, a: ids[0], b: ids[1] });
  assert.equal(info.cut, true);
  assert.equal(info.loss, 30);
  assert.equal(await p.locator(`${EL} .link.oneway`).count(), 1);
  // Global loss and latency.
  await p.locator(`${EL} input.g-lmax`).fill('40');
  await p.locator(`${EL} input.g-lmax`).dispatchEvent('change');
  const g = await p.evaluate(({ sel, a, b }) => document.querySelector(sel).sim.linkInfo(b, a), { sel: EL, a: ids[0], b: ids[2] });
  assert.equal(g.latencyMax, 40);
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('every guided scenario plays to its end', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html`);
  await elementReady(p);
  const names = await p.evaluate((sel) => [...document.querySelector(sel).shadowRoot.querySelectorAll('.scen button')].map((b) => b.dataset.scenario), EL);
  assert.equal(names.length, 9);
  for (const name of names) {
    const r = await p.evaluate(({ sel, name }) => {
      const el = document.querySelector(sel);
      el.startScenario(name, { autoplay: false });
      const start = el.time;
      while (el.director && el.time - start < 40000) el.run(50);
      const caption = el.shadowRoot.querySelector('.caption').textContent;
      return { done: !el.director, caption, time: el.time, geese: el.view.nodes.filter((n) => n.goose).length };
    }, { sel: EL, name });
    assert.ok(r.done, `${name} did not finish: ${r.caption}`);
    assert.ok(!/another path/.test(r.caption), `${name}: ${r.caption}`);
    assert.equal(r.geese, 1, `${name} ends with one goose`);
  }
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('the invariant panel turns red with the offending event', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html#seed=5`);
  await elementReady(p);
  const ok = await p.locator(`${EL} .inv .sum`).textContent();
  assert.equal(ok, 'All invariants hold');
  // Feed the renderer a frame as the checker would report a violation.
  await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.pause();
    const f = el.sim.frame(0);
    f.view.violations = [{ invariant: 'election_safety', detail: '1 and 2 both leaders of term 3' }];
    f.lines = [{ at: f.view.now, kind: 'violation', text: 'INVARIANT VIOLATED (election safety): 1 and 2 both leaders of term 3' }];
    el._apply(f);
  }, EL);
  assert.match(await p.locator(`${EL} .inv`).getAttribute('class'), /bad/);
  assert.match(await p.locator(`${EL} .inv .offense`).textContent(), /INVARIANT VIOLATED \(election safety\)/);
  assert.match(await p.locator(`${EL} .inv li.bad`).textContent(), /election safety/);
  await p.close();
});

test('no frames while paused or while the tab is hidden', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html#seed=3`);
  await elementReady(p);
  const r = await p.evaluate(async (sel) => {
    const el = document.querySelector(sel);
    const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
    let frames = 0;
    const orig = el.sim.frame.bind(el.sim);
    el.sim.frame = (dt) => { frames++; return orig(dt); };
    await sleep(300);
    const playing = frames;
    // Hidden tab: the loop stops although the run is still "playing".
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
    await sleep(100);
    frames = 0;
    const t0 = el.time;
    await sleep(400);
    const hidden = { frames, advanced: el.time - t0, playing: el.playing };
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange'));
    await sleep(200);
    const resumed = frames;
    // Paused: no animation frame is even requested once the view has settled.
    el.pause();
    await sleep(300);
    frames = 0;
    await sleep(400);
    return { playing, hidden, resumed, paused: frames, raf: el._raf };
  }, EL);
  assert.ok(r.playing > 3, JSON.stringify(r));
  assert.equal(r.hidden.frames, 0, JSON.stringify(r));
  assert.equal(r.hidden.advanced, 0);
  assert.equal(r.hidden.playing, true);
  assert.ok(r.resumed > 0, JSON.stringify(r));
  assert.equal(r.paused, 0);
  assert.equal(r.raf, 0);
  await p.close();
});

// Saved under target/e2e/ so test runs leave the tree clean; DDG_UPDATE_SCREENSHOT=1
// writes docs/screenshot.png, the README's picture, instead.
test('screenshot: a minority partition', async () => {
  const p = await env.ctx.newPage();
  await p.setViewportSize({ width: 1360, height: 1000 });
  await p.goto(`${env.server.url}/index.html#seed=42&nodes=5`);
  await elementReady(p);
  await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.startScenario('minority-partition', { autoplay: false });
    // Play the story up to the moment the old goose has answered "duck".
    const start = el.time;
    while (el.director && el.director.i < 5 && el.time - start < 30000) el.run(20);
    el.run(25);
    el.select(el.goose);
  }, EL);
  // Let the drawn positions settle: the animation loop stops once nothing moves.
  await waitFor(p, (sel) => [...document.querySelector(sel).pos.values()].every((q) => q.x === q.tx && q.y === q.ty), EL);
  await p.evaluate(() => new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res))));
  const file = process.env.DDG_UPDATE_SCREENSHOT
    ? path.join(REPO, 'docs', 'screenshot.png')
    : path.join(REPO, 'target', 'e2e', 'screenshot.png');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await p.locator(EL).screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 20_000);
  await p.close();
});
