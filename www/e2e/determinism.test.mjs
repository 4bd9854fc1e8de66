// Determinism across targets: the same seed and actions give the same trace hash in
// wasm (in Chromium) and natively (the `replay` binary of the simulator crate).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { serve, browser, openPage, waitFor, REPO } from './helpers.mjs';

let server, ctx;
before(async () => { server = await serve(); ctx = await browser(); });
after(async () => { await ctx?.close(); await server?.close(); });

function nativeReplay(file, until) {
  const bin = process.env.REPLAY_BIN;
  const args = ['--scenario', file, '--until', String(until)];
  const out = bin
    ? execFileSync(bin, args, { encoding: 'utf8' })
    : execFileSync('cargo', ['run', '-q', '--release', '-p', 'duckgoose-sim', '--features', 'cli', '--bin', 'replay', '--', ...args], { cwd: REPO, encoding: 'utf8' });
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ')));
}

test('a run made in the page replays to the same hash natively', async () => {
  const page = await openPage(ctx, `${server.url}/embed.html`);
  await waitFor(page, () => document.querySelector('#second')?.frame);
  // A busy run: loss and duplication, a partition, a crash, client traffic, a new node,
  // a removal, a per-link fault and a one-way cut.
  const run = await page.evaluate(async () => {
    const el = document.querySelector('#second');
    el.pause();
    el.reset({ nodes: 5, seed: 20240601 });
    el.run(1500);
    el.setNetwork({ loss: 5, latencyMin: 5, latencyMax: 40 });
    el.put('a', '1');
    el.run(400);
    el.partition([[1, 2], [3, 4, 5]]);
    el.run(1200);
    el.askGoose(1);
    el.askGoose(el.goose ?? 3);
    el.heal();
    el.run(800);
    el.crash(el.goose ?? 2);
    el.run(900);
    el.addNode();
    el.run(1500);
    el.cutLink(3, 4);
    el.setLink(4, 5, { loss: 50, latencyMin: 1, latencyMax: 90 });
    el.get('a');
    el.run(1000);
    el.removeNode(1);
    for (let i = 0; i < 40; i++) el.sim.frame(33.3); // uneven frame steps, like a real page
    el._apply(el.sim.frame(0));
    // The page's own module (the bundle's Sim), not a second, uninitialised copy of the glue.
    const Sim = el.sim.constructor;
    const text = el.scenarioData;
    return {
      text, time: el.time, hash: el.hash,
      replayed: Sim.replayHash(text, el.time),
    };
  });
  assert.ok(run.text.split('\n').length > 12, run.text);
  assert.equal(run.replayed.hash, run.hash, 'wasm replay equals the live run');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddg-replay-'));
  const txt = path.join(dir, 'run.txt');
  fs.writeFileSync(txt, run.text);
  const native = nativeReplay(txt, run.time);
  assert.equal(native.hash, run.hash, `native ${native.hash} vs wasm ${run.hash}`);
  assert.equal(Number(native.node_events), run.replayed.nodeEvents);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(page.problems, []);
  await page.close();
});
