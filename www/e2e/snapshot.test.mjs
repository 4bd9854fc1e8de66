// Log compaction in the playground (issue 10): the "Catch up by snapshot" scenario, where
// a duck sleeps through many writes, the others compact, and the goose sends it its
// snapshot. Asserts on what the page draws (the log view's snapshot block, the teal
// InstallSnapshot dots, the event log's snapshot lines) and on the structured view, never
// on caption wording alone. Simulated time is driven by el.run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageServer, openPage, waitFor, elementReady } from './helpers.mjs';

const EL = 'duck-duck-goose';

const env = pageServer();

test('catch up by snapshot: the sleeper gets the snapshot in chunks and catches up', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html`);
  await elementReady(p);
  await p.locator(`${EL} .scen button[data-scenario="snapshot"]`).click();
  const r = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.pause();
    const root = el.shadowRoot;
    const seen = { drawnSnapshotDots: 0, dotFill: null, sleeperBlockBefore: null, receiving: false };
    const start = el.time;
    while (el.director && el.time - start < 60000) {
      el.run(5);
      // What the stage draws for a snapshot chunk in flight: its own colour.
      for (const c of root.querySelectorAll('g.msgs circle')) {
        if (/InstallSnapshot/.test(c.querySelector('title')?.textContent ?? '')) {
          seen.drawnSnapshotDots += 1;
          seen.dotFill = c.getAttribute('fill');
        }
      }
      if (el.view.nodes.some((n) => n.receiving)) seen.receiving = true;
    }
    const sleeper = el.director ? null : Number(/Caught up: (\d+)/.exec(root.querySelector('.caption').textContent)?.[1]);
    const rows = [...root.querySelectorAll('table.logs tbody tr')].map((tr) => ({
      head: tr.querySelector('th').textContent,
      snap: tr.querySelector('td.snap')?.textContent ?? null,
    }));
    const legend = root.querySelector('.legend').textContent;
    return {
      done: !el.director, caption: root.querySelector('.caption').textContent, seen, rows, legend,
      view: el.view, sleeper, violations: el.view.violations, time: el.time,
    };
  }, EL);
  assert.ok(r.done, `did not finish: ${r.caption}`);
  assert.ok(!/another path/.test(r.caption), r.caption);
  assert.deepEqual(r.violations, []);

  // The sleeper caught up: it installed a snapshot and holds the goose's log.
  const sleeper = r.view.nodes.find((n) => n.id === r.sleeper);
  const goose = r.view.nodes.find((n) => n.id === r.view.goose);
  assert.ok(sleeper && goose, `sleeper ${r.sleeper}, goose ${r.view.goose}`);
  assert.notEqual(sleeper.id, goose.id);
  assert.ok(sleeper.snapshot, JSON.stringify(sleeper));
  assert.equal(sleeper.last_index, goose.last_index);
  assert.equal(sleeper.commit_index, goose.commit_index);
  assert.ok(sleeper.log.every((e) => e.index > sleeper.snapshot.index));

  // The log view shows each node's compacted prefix as one block, the sleeper's too.
  for (const row of r.rows) assert.match(row.snap ?? '', /^snapshot ≤ \d+ @ t\d+$/, JSON.stringify(r.rows));
  const sleeperRow = r.rows.find((row) => row.head.endsWith(`n${sleeper.id}`));
  assert.equal(sleeperRow.snap, `snapshot ≤ ${sleeper.snapshot.index} @ t${sleeper.snapshot.term}`);

  // Snapshot chunks were drawn in flight, in their own colour, and listed in the legend;
  // the view showed the sleeper receiving a partial snapshot on the way.
  assert.ok(r.seen.drawnSnapshotDots > 0, 'no InstallSnapshot drawn');
  assert.equal(r.seen.dotFill, '#0f9f8f');
  assert.ok(r.seen.receiving, 'no partial snapshot seen');
  assert.match(r.legend, /InstallSnapshot/);

  // The event log explains the transfer (lines are written in batches: wait for them).
  const lines = await waitFor(p, (sel) => {
    const texts = [...document.querySelector(sel).shadowRoot.querySelectorAll('.events div.k-snapshot')].map((d) => d.textContent);
    return texts.some((t) => / installed a snapshot through /.test(t)) && texts;
  }, EL);
  const s = sleeper.id, g = goose.id;
  assert.ok(lines.some((t) => new RegExp(`${g} sends ${s} its snapshot through \\d+ \\(term \\d+; \\d+ bytes in \\d+ chunks\\)`).test(t)), lines.join('\n'));
  assert.ok(lines.some((t) => new RegExp(`${s} holds 32 of \\d+ bytes of ${g}'s snapshot through \\d+ \\(chunk 1 of \\d+\\)`).test(t)), lines.join('\n'));
  assert.ok(lines.some((t) => new RegExp(`${s} installed a snapshot through ${sleeper.snapshot.index} `).test(t)), lines.join('\n'));
  assert.ok(lines.some((t) => / snapshots its store at \d+/.test(t)), lines.join('\n'));
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('the compaction option: Run panel, URL state and refusals', async () => {
  const p = await openPage(env.ctx, `${env.server.url}/index.html#seed=5&nodes=3&compact=4`);
  await elementReady(p);
  const r = await p.evaluate((sel) => {
    const el = document.querySelector(sel);
    el.pause();
    const root = el.shadowRoot;
    const fromUrl = { compaction: el.sim.config().compaction, field: root.querySelector('.compact').value };
    const refused = [];
    for (const bad of [{ compactEvery: 0 }, { compactEvery: 2.5 }, { snapshotChunk: 16 }, { compactEvery: 5, snapshotChunk: 0 }]) {
      try { el.reset({ seed: 1, ...bad }); refused.push(null); } catch (e) { refused.push(String(e.message)); }
    }
    // New run from the panel keeps what the field says; emptied, compaction is off.
    root.querySelector('.compact').value = '7';
    root.querySelector('[data-do="new-run"]').click();
    el.pause();
    const fromPanel = { compaction: el.sim.config().compaction, hash: location.hash, scenario: el.scenarioData };
    root.querySelector('.compact').value = '';
    root.querySelector('[data-do="new-run"]').click();
    el.pause();
    return { fromUrl, refused, fromPanel, off: el.sim.config().compaction ?? null, offHash: location.hash };
  }, EL);
  assert.equal(r.fromUrl.compaction.threshold, 4);
  assert.equal(r.fromUrl.field, '4');
  assert.deepEqual(r.refused, [
    'compactEvery: at least 1 entry',
    'compactEvery: expected a whole number',
    'snapshotChunk: only with compactEvery',
    r.refused[3],
  ]);
  assert.match(r.refused[3] ?? '', /^compact: chunks of 1 to \d+ bytes$/);
  assert.equal(r.fromPanel.compaction.threshold, 7);
  assert.match(r.fromPanel.hash, /&compact=7$/);
  assert.match(r.fromPanel.scenario, / compact=7\/0\/16/);
  assert.equal(r.off, null);
  assert.doesNotMatch(r.offHash, /compact/);
  await p.close();
});
