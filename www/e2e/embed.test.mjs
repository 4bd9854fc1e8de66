// The documentation page: two independent <duck-duck-goose> instances and a script that
// drives the second through the element's API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, browser, openPage, waitFor, runUntil } from './helpers.mjs';

let server, ctx;
before(async () => { server = await serve(); ctx = await browser({ width: 1000, height: 900 }); });
after(async () => { await ctx?.close(); await server?.close(); });

const oneGoose = (s) => s.nodes.filter((n) => n.role === 'goose').length === 1;

test('the embed page runs two independent instances', async () => {
  const page = await openPage(ctx, `${server.url}/embed.html`);
  await waitFor(page, () => ['#first', '#second'].every((s) => document.querySelector(s)?.frame));
  await page.evaluate(() => { for (const s of ['#first', '#second']) document.querySelector(s).pause(); });
  assert.equal(await page.locator('#first [data-node-id]').count(), 5);
  assert.equal(await page.locator('#second [data-node-id]').count(), 3);
  assert.equal(await page.evaluate(() => document.querySelector('#first').seed), 42);
  assert.equal(await page.evaluate(() => document.querySelector('#second').seed), 7);
  // The first plays its guided scenario; the second is driven by the page's own buttons.
  const a = await runUntil(page, '#first', oneGoose);
  const b = await runUntil(page, '#second', oneGoose);
  assert.ok(a.ok && b.ok);
  assert.notEqual(a.hash, b.hash);
  const firstBefore = await page.evaluate(() => { const el = document.querySelector('#first'); return { time: el.time, hash: el.hash }; });
  await page.locator('#crash-goose').click();
  await waitFor(page, (g) => document.querySelector('#second').shadowRoot.querySelector(`[data-node-id="${g}"]`).dataset.role === 'down', b.goose);
  const b2 = await runUntil(page, '#second', (s, old) => s.goose != null && s.goose !== old, { arg: b.goose });
  assert.ok(b2.ok);
  // The page's goosechange listener saw it.
  await waitFor(page, (g) => document.getElementById('out').textContent.includes(`node ${g} is the goose`), b2.goose);
  // The first instance did not move at all meanwhile (it is paused and independent).
  const firstAfter = await page.evaluate(() => { const el = document.querySelector('#first'); return { time: el.time, hash: el.hash }; });
  assert.deepEqual(firstAfter, firstBefore);
  assert.equal(await page.locator('#first [data-role="down"]').count(), 0);
  // "Ask node 2: goose?" from the page's script.
  await page.locator('#ask').click();
  await page.evaluate(() => document.querySelector('#second').run(1000));
  await waitFor(page, () => /node 2 answered/.test(document.getElementById('out').textContent));
  // The snippet on the page is the one the docs describe.
  const snippet = await page.locator('pre code').first().textContent();
  assert.match(snippet, /<script type="module" src=".*duck-duck-goose\.js"><\/script>/);
  assert.match(snippet, /<duck-duck-goose nodes="5" seed="42" scenario="minority-partition"/);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('an element created from script, sized by CSS, with controls="none"', async () => {
  const page = await openPage(ctx, `${server.url}/embed.html`);
  const r = await page.evaluate(async () => {
    const el = document.createElement('duck-duck-goose');
    el.setAttribute('nodes', '4');
    el.setAttribute('seed', '99');
    el.setAttribute('controls', 'none');
    el.style.width = '420px';
    document.body.appendChild(el);
    await el.ready;
    el.partition([[1, 2], [3, 4]]);
    el.run(3000);
    const w = el.getBoundingClientRect().width;
    return { w, goose: el.goose, zones: el.frame.zones, bar: getComputedStyle(el.shadowRoot.querySelector('.bar')).display };
  });
  assert.equal(r.w, 420);
  assert.equal(r.goose, null, 'a 2/2 split of four nodes has no majority: no goose');
  assert.deepEqual(r.zones, [[1, 2], [3, 4]]);
  assert.equal(r.bar, 'none');
  assert.deepEqual(page.problems, []);
  await page.close();
});
