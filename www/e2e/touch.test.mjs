// A phone: narrow screen (zones stacked), and a finger dragging a node (touch events,
// turned into pointer events by the browser).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, browser, openPage, waitFor, runUntil } from './helpers.mjs';

const EL = 'duck-duck-goose';
let server, ctx;
before(async () => { server = await serve(); ctx = await browser({ width: 400, height: 860, hasTouch: true, isMobile: true }); });
after(async () => { await ctx?.close(); await server?.close(); });

test('a touch drag partitions the network on a narrow screen', async () => {
  const page = await openPage(ctx, `${server.url}/index.html#seed=42&nodes=5`);
  await waitFor(page, (sel) => document.querySelector(sel)?.frame, EL);
  await page.evaluate((sel) => document.querySelector(sel).pause(), EL);
  const s0 = await runUntil(page, EL, (s) => s.goose != null);
  assert.ok(s0.ok);
  const portrait = await page.evaluate((sel) => document.querySelector(sel).portrait, EL);
  assert.equal(portrait, true, 'zones are stacked on a narrow screen');
  await waitFor(page, (sel) => document.querySelector(sel)._raf === 0, EL);
  // The guided scenarios' buttons wrap above the stage on a phone: scroll the drop zone
  // into view first, as a person would, so the drag starts and ends on screen.
  await page.locator(`${EL} .zone.z2 rect`).scrollIntoViewIfNeeded();
  const node = await page.locator(`${EL} [data-node-id="${s0.goose}"] .body`).boundingBox();
  const zone = await page.locator(`${EL} .zone.z2 rect`).boundingBox();
  assert.ok(zone.y > node.y, 'zone 3 is below zone 1');
  const cdp = await ctx.newCDPSession(page);
  const touch = (type, x, y) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y }] });
  const from = { x: node.x + node.width / 2, y: node.y + node.height / 2 };
  const to = { x: zone.x + zone.width / 2, y: zone.y + zone.height / 2 };
  await touch('touchStart', from.x, from.y);
  for (let i = 1; i <= 12; i++) await touch('touchMove', from.x + ((to.x - from.x) * i) / 12, from.y + ((to.y - from.y) * i) / 12);
  await touch('touchEnd');
  const zones = await page.evaluate((sel) => document.querySelector(sel).frame.zones, EL);
  assert.deepEqual(zones[2], [s0.goose], JSON.stringify(zones));
  const s = await runUntil(page, EL, (s, old) => s.goose != null && s.goose !== old, { arg: s0.goose });
  assert.ok(s.ok, 'the four others elect a new goose');
  assert.equal(await page.locator(`${EL} [data-node-id="${s0.goose}"]`).getAttribute('data-role'), 'duck');
  assert.deepEqual(page.problems, []);
  await page.close();
});
