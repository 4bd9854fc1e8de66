// Live mode against real processes: `duckgoose cluster --nodes 5` with a token, HTTPS and
// mutual TLS between nodes; the page a node serves, in Chromium, as a person uses it.
// Dragging the goose and a duck into another zone partitions the real nodes; the page
// shows the minority without a goose and a new goose in the majority within 2 s, and
// `duckgoose find-goose` agrees; Heal reconnects them; Crash (kill -9 through the
// cluster's control API) gives a new goose; Restart, Pause and Resume work too; Put, Get and
// Goose? answer from the real nodes. Everything waits on conditions with deadlines.
//
// DDG_SCREENSHOTS=DIR saves PNGs of the page there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { browser, openPage, waitFor } from './helpers.mjs';
import { startLiveCluster } from './live-cluster.mjs';

const EL = 'duck-duck-goose';
const REACTION_BUDGET_MS = 2000;
let cluster, ctx, page;

before(async () => {
  cluster = await startLiveCluster({ nodes: 5 });
  // The test CA is not the browser's: trust it for this context only.
  ctx = await browser({ ignoreHTTPSErrors: true });
});

after(async () => {
  await ctx?.close();
  const logs = await cluster?.stop();
  if (process.env.DDG_LIVE_LOG) console.log(logs?.stdout);
});

async function shot(name) {
  if (!process.env.DDG_SCREENSHOTS) return;
  await page.screenshot({ path: path.join(process.env.DDG_SCREENSHOTS, `live-${name}.png`), fullPage: true });
}

// The page's view: {goose, zones, nodes: [{id, role, status}], error}.
const pageState = () => page.evaluate((sel) => {
  const el = document.querySelector(sel);
  const nodes = [...el.shadowRoot.querySelectorAll('[data-node-id]')].map((g) => ({
    id: Number(g.dataset.nodeId), role: g.dataset.role, status: g.dataset.status,
  }));
  return { goose: el.goose, zones: el.frame?.zones ?? [], nodes, error: el.shadowRoot.querySelector('.err')?.textContent ?? null };
}, EL);

// The page's view once it draws the cluster settled: all five nodes, one goose, and ducks
// that are up. A node's /status read can lag on a loaded machine, and the drawing catches
// up within a poll; a test that picks "a duck" must not pick from a half-drawn frame.
async function settledState(ms = 15_000) {
  await waitFor(page, (sel) => {
    const nodes = [...document.querySelector(sel).shadowRoot.querySelectorAll('g.node[data-node-id]')];
    return nodes.length === 5
      && nodes.filter((g) => g.dataset.role === 'goose').length === 1
      && nodes.some((g) => g.dataset.role === 'duck' && g.dataset.status === 'up');
  }, EL, ms);
  return pageState();
}

async function settle() {
  await waitFor(page, (sel) => {
    const el = document.querySelector(sel);
    return !el.drag && [...el.pos.values()].every((p) => p.x === p.tx && p.y === p.ty);
  }, EL);
}

// Drags node `id` into zone `zone` (0-2); resolves just after the mouse is released, with
// the time of the release.
async function drag(id, zone) {
  await settle();
  const node = await page.locator(`${EL} [data-node-id="${id}"] .body`).boundingBox();
  const target = await page.locator(`${EL} .zone.z${zone} rect`).boundingBox();
  await page.mouse.move(node.x + node.width / 2, node.y + node.height / 2);
  await page.mouse.down();
  await page.mouse.move(target.x + target.width / 2, target.y + target.height * 0.3, { steps: 12 });
  const released = Date.now();
  await page.mouse.up();
  return released;
}

async function oneGooseInPage(ms = 15_000) {
  return waitFor(page, (sel) => {
    const el = document.querySelector(sel);
    const geese = [...el.shadowRoot.querySelectorAll('[data-role="goose"]')];
    return geese.length === 1 && el.goose != null ? el.goose : null;
  }, EL, ms);
}

// find-goose until it names exactly `goose` as the goose (and nobody else), or the deadline.
async function cliAgrees(goose, deadlineMs = 5000) {
  const until = Date.now() + deadlineMs;
  let last;
  while (Date.now() < until) {
    last = await cluster.findGoose();
    const geese = Object.entries(last).filter(([, r]) => r === 'goose').map(([p]) => cluster.idOfPort(Number(p)));
    if (geese.length === 1 && geese[0] === goose) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`find-goose does not name ${goose} the only goose: ${JSON.stringify(last)}`);
}

test('a node serves the live page over HTTPS; it draws the real cluster', async () => {
  page = await openPage(ctx, cluster.page);
  assert.match(page.url(), /^https:\/\/127\.0\.0\.1:\d+\/\?live$/);
  await waitFor(page, (sel) => document.querySelector(sel)?.live === true && document.querySelector(sel).view?.nodes.length === 5, EL);
  const goose = await oneGooseInPage();
  await cliAgrees(goose);
  // The table of /status: one row per node, the goose's marked.
  const rows = await page.locator(`${EL} table.logs.live tbody tr`).count();
  assert.equal(rows, 5);
  await shot('connected');
});

test('without the token nothing changes; a wrong one is refused; the right one is kept in sessionStorage only', async () => {
  const s = await settledState();
  const duck = s.nodes.find((n) => n.role === 'duck').id;
  await drag(duck, 2);
  await waitFor(page, (sel) => /token/.test(document.querySelector(sel).shadowRoot.querySelector('.err')?.textContent ?? ''), EL);
  // The page's drawing returns to what the nodes say: nobody blocked anybody.
  for (let i = 1; i <= 5; i++) assert.deepEqual((await cluster.status(i))?.blocked, [], `node ${i}`);

  const tokenField = page.locator(`${EL} .live-token`);
  await tokenField.fill('not-the-token');
  await page.locator(`${EL} button[data-live="token"]`).click();
  await waitFor(page, (sel) => /refused/.test(document.querySelector(sel).shadowRoot.querySelector('.live-token-state').textContent), EL);

  await tokenField.fill(cluster.token);
  await tokenField.press('Enter');
  await waitFor(page, (sel) => /accepted/.test(document.querySelector(sel).shadowRoot.querySelector('.live-token-state').textContent), EL);
  assert.equal(await tokenField.inputValue(), '', 'the field is cleared');
  assert.ok(!page.url().includes(cluster.token), 'never in the URL');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('duckgoose-token')), cluster.token);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  // Wait until the zones are back to one (the failed drag is forgotten).
  await waitFor(page, (sel) => document.querySelector(sel).frame.zones.length === 0, EL, 10_000);
});

let minority;
test('dragging the goose and a duck into zone 2: within 2 s the minority has no goose and the majority a new one; find-goose agrees', async () => {
  const s = await settledState();
  const goose = s.goose;
  const duck = s.nodes.find((n) => n.role === 'duck').id;
  minority = [goose, duck];
  // The duck first (the goose keeps its majority of four), then the goose.
  await drag(duck, 1);
  await waitFor(page, ({ sel, duck }) => document.querySelector(sel).frame.zones[1]?.includes(duck), { sel: EL, duck });
  const released = await drag(goose, 1);
  const newGoose = await waitFor(page, ({ sel, minority }) => {
    const el = document.querySelector(sel);
    const zones = el.frame.zones;
    if (!minority.every((id) => zones[1]?.includes(id))) return null;
    const geese = [...el.shadowRoot.querySelectorAll('[data-role="goose"]')].map((g) => Number(g.dataset.nodeId));
    return geese.length === 1 && !minority.includes(geese[0]) && zones[0].includes(geese[0]) ? geese[0] : null;
  }, { sel: EL, minority }, REACTION_BUDGET_MS);
  const reaction = Date.now() - released;
  console.log(`# live mode: partition drop -> page shows the new goose ${newGoose} in ${reaction} ms`);
  assert.ok(reaction <= REACTION_BUDGET_MS, `${reaction} ms`);
  await cliAgrees(newGoose);
  // The nodes really are cut: each minority node blocks exactly the three others.
  const majority = [1, 2, 3, 4, 5].filter((id) => !minority.includes(id));
  for (const id of minority) assert.deepEqual((await cluster.status(id)).blocked, majority, `node ${id}`);
  await settle();
  await shot('partition');
});

test('Heal reconnects every node: one zone, one goose', async () => {
  await page.locator(`${EL} aside button[data-do="heal"]`).click();
  await waitFor(page, (sel) => document.querySelector(sel).frame.zones.length === 0, EL, 5000);
  for (let i = 1; i <= 5; i++) {
    const until = Date.now() + 5000;
    let blocked;
    while (Date.now() < until && (blocked = (await cluster.status(i))?.blocked)?.length !== 0) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(blocked, [], `node ${i} blocks nobody`);
  }
  const goose = await oneGooseInPage();
  await cliAgrees(goose);
});

test('Put and Get through the goose, and Goose? on a node, answer from the real cluster', async () => {
  const answers = await page.evaluate(async (sel) => {
    const el = document.querySelector(sel);
    const duck = el.view.nodes.find((n) => n.status === 'up' && !n.goose).id;
    const put = await el.put('live-key', 'quack quack');
    const get = await el.get('live-key');
    return { put, get, goose: await el.askGoose(el.goose), duck: await el.askGoose(duck) };
  }, EL);
  assert.equal(answers.put.outcome, 'written', JSON.stringify(answers.put));
  assert.equal(answers.get.value, 'quack quack', JSON.stringify(answers.get));
  assert.equal(typeof answers.goose.goose, 'number', JSON.stringify(answers.goose));
  assert.equal(answers.duck.duck, true, JSON.stringify(answers.duck));
});

test('Crash (kill -9 from the page) gives a new goose; Restart brings the node back', async () => {
  const old = (await settledState()).goose;
  await settle();
  await page.locator(`${EL} [data-node-id="${old}"] .body`).click();
  const crash = page.locator(`${EL} .node-panel button[data-do="node-crash"]`);
  assert.equal((await crash.textContent()).trim(), 'Crash');
  const clicked = Date.now();
  await crash.click();
  await waitFor(page, ({ sel, old }) => document.querySelector(sel).shadowRoot.querySelector(`[data-node-id="${old}"]`).dataset.role === 'down', { sel: EL, old }, 5000);
  const next = await waitFor(page, ({ sel, old }) => {
    const el = document.querySelector(sel);
    const geese = [...el.shadowRoot.querySelectorAll('[data-role="goose"]')].map((g) => Number(g.dataset.nodeId));
    return geese.length === 1 && geese[0] !== old ? geese[0] : null;
  }, { sel: EL, old }, 5000);
  console.log(`# live mode: crash click -> page shows the new goose ${next} in ${Date.now() - clicked} ms`);
  const cli = await cliAgrees(next);
  assert.equal(cli[cluster.base + old - 1], 'down', JSON.stringify(cli));
  await shot('crash');

  await waitFor(page, (sel) => document.querySelector(sel).shadowRoot.querySelector('.node-panel button[data-do="node-crash"]')?.textContent.trim() === 'Restart', EL, 5000);
  await page.locator(`${EL} .node-panel button[data-do="node-crash"]`).click();
  await waitFor(page, ({ sel, old }) => {
    const g = document.querySelector(sel).shadowRoot.querySelector(`[data-node-id="${old}"]`);
    return g.dataset.status === 'up' && g.dataset.role === 'duck';
  }, { sel: EL, old }, 15_000);
  assert.notEqual(await cluster.status(old), null, 'it answers again');
});

test('Pause (SIGSTOP) and Resume from the page', async () => {
  const s = await settledState();
  const duck = s.nodes.find((n) => n.role === 'duck' && n.status === 'up').id;
  await settle();
  await page.locator(`${EL} [data-node-id="${duck}"] .body`).click();
  await page.locator(`${EL} .node-panel button[data-do="node-pause"]`).click();
  await waitFor(page, ({ sel, duck }) => document.querySelector(sel).shadowRoot.querySelector(`[data-node-id="${duck}"]`).dataset.status === 'paused', { sel: EL, duck }, 5000);
  assert.equal(await cluster.status(duck), null, 'a paused node does not answer');
  await shot('paused');
  await page.locator(`${EL} .node-panel button[data-do="node-pause"]`).click();
  await waitFor(page, ({ sel, duck }) => document.querySelector(sel).shadowRoot.querySelector(`[data-node-id="${duck}"]`).dataset.status === 'up', { sel: EL, duck }, 10_000);
  assert.notEqual(await cluster.status(duck), null);
  await oneGooseInPage();
  // Failed requests to a crashed node are expected console noise; script errors are not.
  assert.deepEqual(page.problems.filter((p) => p.startsWith('pageerror')), []);
});

test('opened under another name (localhost), the page says which address to open', async () => {
  const other = await openPage(ctx, `https://localhost:${cluster.base}/?live`);
  const error = await waitFor(other, (sel) => document.querySelector(sel).shadowRoot.querySelector('.err')?.textContent, EL);
  assert.match(error, new RegExp(`open https://127\\.0\\.0\\.1:${cluster.base}/`));
  await other.close();
});
