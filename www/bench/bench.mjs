// Playground benchmarks, in headless Chromium (Debian's) driven by playwright-core.
//   node www/bench/bench.mjs            (after scripts/build-web.sh; REPLAY_BIN for the native side)
// Prints a Markdown report: page weight (gzipped), navigation to first drawn cluster,
// frame times with 9 nodes at 1x, and simulation speed in wasm vs native.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { serve, browser, WWW, REPO } from '../e2e/helpers.mjs';

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const ms = (x) => `${x.toFixed(1)} ms`;
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
const out = [];
const say = (line = '') => { out.push(line); console.log(line); };

const server = await serve();
const ctx = await browser({ width: 1400, height: 1000 });

// 1. Page weight: every file the playground page loads, gzipped (-9).
{
  const page = await ctx.newPage();
  const files = new Set();
  page.on('requestfinished', (r) => { const u = new URL(r.url()); if (u.origin === server.url) files.add(u.pathname); });
  await page.goto(`${server.url}/index.html#seed=1`);
  await page.waitForFunction(() => document.querySelector('duck-duck-goose')?.frame);
  await page.waitForTimeout(300);
  await page.close();
  say('## Page weight (index.html, everything it loads, gzip -9)');
  say();
  say('| file | raw | gzipped |');
  say('| --- | ---: | ---: |');
  let raw = 0, gz = 0;
  for (const f of [...files].sort()) {
    const body = fs.readFileSync(path.join(WWW, f === '/' ? 'index.html' : f));
    const z = zlib.gzipSync(body, { level: 9 }).length;
    raw += body.length; gz += z;
    say(`| ${f} | ${kb(body.length)} | ${kb(z)} |`);
  }
  say(`| **total** | **${kb(raw)}** | **${kb(gz)}** |`);
  say();
}

// 2. Navigation to the first drawn cluster (fresh page each time, nothing cached).
{
  const times = [];
  for (let i = 0; i < 12; i++) {
    const page = await ctx.newPage();
    await page.goto(`${server.url}/index.html#seed=${i + 1}`);
    await page.waitForFunction(() => performance.getEntriesByName('ddg-first-draw').length > 0);
    // The mark is set when the nodes are in the DOM; add the paint that follows.
    const t = await page.evaluate(() => new Promise((res) => requestAnimationFrame(() => res(performance.now()))).then((painted) => ({
      drawn: performance.getEntriesByName('ddg-first-draw')[0].startTime, painted,
    })));
    if (i > 1) times.push(t.drawn); // the first two warm up the browser process
    await page.close();
  }
  say('## Navigation to first drawn cluster (headless Chromium, localhost, 10 cold page loads)');
  say();
  say(`median ${ms(pct(times, 50))}, p95 ${ms(pct(times, 95))}, max ${ms(Math.max(...times))}`);
  say();
}

// 3. Frame times: 9 nodes at 1x speed for 10 s of real time. An observer of its own
// measures, per animation frame, the interval since the last one and the main-thread
// time from the frame's start until after its rendering (a message posted from
// requestAnimationFrame runs once style, layout and paint are done).
{
  const page = await ctx.newPage();
  await page.goto(`${server.url}/index.html#seed=9&nodes=9`);
  await page.waitForFunction(() => document.querySelector('duck-duck-goose')?.frame);
  const r = await page.evaluate(async () => {
    const el = document.querySelector('duck-duck-goose');
    el.speed = 1;
    el._syncSpeed();
    const work = [], gaps = [], loop = [];
    let last = 0, stop = false, t0 = 0;
    const ch = new MessageChannel();
    ch.port1.onmessage = () => work.push(performance.now() - t0);
    const tick = (ts) => {
      if (stop) return;
      if (last) gaps.push(ts - last);
      last = ts;
      t0 = performance.now();
      ch.port2.postMessage(0);
      requestAnimationFrame(tick);
    };
    const orig = el._loop;
    el._loop = (ts) => { const s = performance.now(); orig(ts); loop.push(performance.now() - s); };
    el.play();
    requestAnimationFrame(tick);
    // Some traffic: a partition and a heal.
    setTimeout(() => el.partition([[1, 2, 3, 4], [5, 6, 7], [8, 9]]), 3000);
    setTimeout(() => el.heal(), 6000);
    await new Promise((res) => setTimeout(res, 10000));
    stop = true;
    el.pause();
    return { work, gaps, loop, time: el.time };
  });
  await page.close();
  say('## Frame times, 9 nodes at 1x, 10 s (partition at 3 s, heal at 6 s)');
  say();
  say(`${r.gaps.length + 1} frames in 10 s of real time, ${(r.time / 1000).toFixed(1)} s simulated`);
  say();
  say('| | p50 | p95 | p99 | max |');
  say('| --- | ---: | ---: | ---: | ---: |');
  say(`| frame interval | ${ms(pct(r.gaps, 50))} | ${ms(pct(r.gaps, 95))} | ${ms(pct(r.gaps, 99))} | ${ms(Math.max(...r.gaps))} |`);
  say(`| main-thread time per frame (sim, draw, style, layout, paint) | ${ms(pct(r.work, 50))} | ${ms(pct(r.work, 95))} | ${ms(pct(r.work, 99))} | ${ms(Math.max(...r.work))} |`);
  say(`| of which the element's frame callback (wasm frame + DOM updates) | ${ms(pct(r.loop, 50))} | ${ms(pct(r.loop, 95))} | ${ms(pct(r.loop, 99))} | ${ms(Math.max(...r.loop))} |`);
  say();
}

// 4. Simulation speed: the same 10-minute faulty run replayed in wasm and natively.
{
  const text = fs.readFileSync(path.join(WWW, 'bench', 'scenario.txt'), 'utf8');
  const until = 600_000;
  const page = await ctx.newPage();
  await page.goto(`${server.url}/index.html#seed=1`);
  await page.waitForFunction(() => document.querySelector('duck-duck-goose')?.frame);
  const wasm = await page.evaluate(async ({ text, until }) => {
    const el = document.querySelector('duck-duck-goose');
    el.pause();
    const Sim = el.sim.constructor; // the page's own (bundled) module
    let best = Infinity, r;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      r = Sim.replayHash(text, until);
      best = Math.min(best, performance.now() - t0);
    }
    return { ...r, seconds: best / 1000 };
  }, { text, until });
  await page.close();
  const bin = process.env.REPLAY_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(REPO, 'target'), 'release', 'replay');
  const native = Object.fromEntries(execFileSync(bin, ['--scenario', path.join(WWW, 'bench', 'scenario.txt'), '--until', String(until), '--bench', '5'], { encoding: 'utf8' })
    .trim().split('\n').map((l) => l.split(' ')));
  const wasmRate = wasm.nodeEvents / wasm.seconds;
  const nativeRate = Number(native.node_events_per_second);
  say('## Simulation speed: www/bench/scenario.txt (5 nodes, 10 simulated minutes, loss, partitions, crashes), trace hashed not kept, best of 5');
  say();
  say('| | wall time | node events/s | simulated time / wall time | trace hash |');
  say('| --- | ---: | ---: | ---: | --- |');
  say(`| wasm in Chromium | ${ms(wasm.seconds * 1000)} | ${Math.round(wasmRate).toLocaleString('en')} | ${Math.round(until / 1000 / wasm.seconds)}x | ${wasm.hash} |`);
  say(`| native (release) | ${ms(Number(native.best_seconds) * 1000)} | ${Math.round(nativeRate).toLocaleString('en')} | ${Math.round(until / 1000 / Number(native.best_seconds))}x | ${native.hash} |`);
  say();
  say(`wasm runs at ${(wasmRate / nativeRate * 100).toFixed(0)}% of native speed; hashes ${wasm.hash === native.hash ? 'match' : 'DIFFER'}.`);
}

await ctx.close();
await server.close();
if (process.argv.includes('--write')) fs.writeFileSync(path.join(WWW, 'bench', 'last-run.md'), out.join('\n') + '\n');
