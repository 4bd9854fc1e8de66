// Does an open live-mode page add load a node notices? A real `duckgoose cluster --nodes 5`
// (token, HTTPS, mutual TLS), measured with 0 and with 3 live pages open in headless
// Chromium, alternating, several rounds. With 0 live pages the same browser holds 3 blank
// tabs, so both sides pay for a running Chromium on the same cores:
//   - idle: the CPU time the five node processes use (from /proc), the browser's, and the
//     requests the pages send per second;
//   - load: `GET /goose` throughput and latency on the goose with wrk (-t2 -c32), and the
//     browser's CPU meanwhile.
// Usage (after `cargo build --release -p duckgoose` and scripts/build-web.sh, so the
// binary embeds the page; www/node_modules from scripts/ensure-web-tools.sh):
//   node node/bench/live_pages.mjs [--rounds 3] [--seconds 10] [--pages 3]
// DUCKGOOSE_BIN picks the binary (default: target/release/duckgoose, else target/debug).
// Prints a Markdown report.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, browser } from '../../www/e2e/helpers.mjs';
import { startLiveCluster } from '../../www/e2e/live-cluster.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 3);
const SECONDS = arg('seconds', 10);
const PAGES = arg('pages', 3);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!process.env.DUCKGOOSE_BIN) {
  const release = path.join(REPO, 'target', 'release', 'duckgoose');
  process.env.DUCKGOOSE_BIN = fs.existsSync(release) ? release : path.join(REPO, 'target', 'debug', 'duckgoose');
}

const TICK = 100; // clock ticks per second (getconf CLK_TCK on Linux)
function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
      const rest = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(rest[11]) + Number(rest[12]);
    } catch { /* gone */ }
  }
  return ticks / TICK;
}

// The browser's processes: the one started with our profile directory, and its children.
function browserPids(profileDir) {
  const procs = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return { pid: Number(pid), ppid: Number(stat.split(') ')[1].split(' ')[1]), cmd };
    } catch { return null; }
  }).filter(Boolean);
  const found = new Set(procs.filter((p) => p.cmd.includes(profileDir) && !p.cmd.includes('--type=')).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!found.has(p.pid) && found.has(p.ppid)) { found.add(p.pid); grew = true; }
  }
  return [...found];
}

function wrk(url) {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t2', '-c32', `-d${SECONDS}s`, '--latency', url], { timeout: (SECONDS + 30) * 1000 }, (err, out) => {
      if (err) { reject(err); return; }
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const ms = (label) => {
        const m = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out);
        if (!m) return NaN;
        return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
      };
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      resolve({ rps, p50: ms('50'), p99: ms('99'), non2xx });
    });
  });
}

const cluster = await startLiveCluster({ nodes: 5 });
let ctx;
try {
  const nodes = JSON.parse((await cluster.get(`${cluster.controlUrl}/nodes`)).body).nodes;
  const pids = nodes.map((n) => n.pid);
  // The goose now (find-goose, the CLI), waiting up to 10 s for one.
  const findGoose = async () => {
    for (let i = 0; i < 100; i++) {
      const found = Object.entries(await cluster.findGoose()).filter(([, r]) => r === 'goose');
      if (found.length === 1) return cluster.idOfPort(Number(found[0][0]));
      await sleep(100);
    }
    throw new Error('no goose');
  };

  const before = new Set(fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith('ddg-chromium-')));
  ctx = await browser({ ignoreHTTPSErrors: true });
  const profile = fs.readdirSync(os.tmpdir()).find((d) => d.startsWith('ddg-chromium-') && !before.has(d));
  let requests = 0;
  ctx.on('request', () => { requests++; });
  const tabs = [];
  for (let i = 0; i < PAGES; i++) tabs.push(await ctx.newPage());
  // `n` tabs show the live page, the others are blank.
  const setPages = async (n) => {
    for (const [i, tab] of tabs.entries()) {
      if (i < n) {
        await tab.goto(cluster.page);
        await tab.waitForFunction(() => document.querySelector('duck-duck-goose')?.goose != null, null, { timeout: 20_000 });
      } else await tab.goto('about:blank');
    }
    await sleep(1000); // past the pages' first burst of requests
  };
  const chromium = () => cpuSeconds(browserPids(profile));

  const rows = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const pages of [0, PAGES]) {
      await setPages(pages);
      const cpu0 = cpuSeconds(pids);
      const browser0 = chromium();
      const req0 = requests;
      await sleep(SECONDS * 1000);
      const idleCpu = (cpuSeconds(pids) - cpu0) / SECONDS;
      const idleBrowser = (chromium() - browser0) / SECONDS;
      const reqRate = (requests - req0) / SECONDS;
      const browser1 = chromium();
      // Against the goose of the moment: on a busy machine an election can move it.
      const goose = await findGoose();
      const w = await wrk(`${cluster.urls[goose - 1]}/goose`);
      const loadBrowser = (chromium() - browser1) / SECONDS;
      rows.push({ round, pages, idleCpu, idleBrowser, loadBrowser, reqRate, goose, ...w });
      console.error(`round ${round}, ${pages} pages: idle CPU nodes ${(idleCpu * 100).toFixed(1)} % browser ${(idleBrowser * 100).toFixed(1)} %, ${reqRate.toFixed(1)} page requests/s, /goose ${w.rps.toFixed(0)} req/s p50 ${w.p50} ms p99 ${w.p99} ms, browser ${(loadBrowser * 100).toFixed(1)} %`);
    }
  }
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const bin = path.relative(REPO, process.env.DUCKGOOSE_BIN);
  const pct = (x) => (x * 100).toFixed(1);
  console.log(`### Live pages and node load (${bin}; 5 nodes, token, HTTPS with mutual TLS between nodes; wrk -t2 -c32 -d${SECONDS}s on the goose's GET /goose; ${ROUNDS} rounds; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at the end)\n`);
  console.log('| round | live pages | idle: CPU of the 5 nodes (% of a core) | idle: browser CPU (%) | page requests/s (all pages) | /goose req/s | p50 ms | p99 ms | non-2xx | browser CPU under wrk (%) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const line = (round, pages, r) => console.log(`| ${round} | ${pages} | ${pct(r.idleCpu)} | ${pct(r.idleBrowser)} | ${r.reqRate.toFixed(1)} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.non2xx} | ${pct(r.loadBrowser)} |`);
  for (const r of rows) line(r.round, r.pages, r);
  // A run with non-2xx answers lost its goose midway (its /goose answered 503 duck, fast):
  // its throughput says nothing about the load, so the medians leave it out.
  for (const pages of [0, PAGES]) {
    const rs = rows.filter((r) => r.pages === pages && r.non2xx === 0);
    if (!rs.length) continue;
    const m = Object.fromEntries(['idleCpu', 'idleBrowser', 'reqRate', 'rps', 'p50', 'p99', 'non2xx', 'loadBrowser'].map((k) => [k, median(rs.map((r) => r[k]))]));
    line(`median of ${rs.length}`, pages, m);
  }
  const lost = rows.filter((r) => r.non2xx > 0).length;
  if (lost) console.log(`\n${lost} run(s) lost the goose during wrk (non-2xx > 0) and are left out of the medians.`);
} finally {
  await ctx?.close();
  await cluster.stop();
}
