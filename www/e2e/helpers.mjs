// Shared by the end-to-end tests and the benchmarks: a static server for www/ on
// 127.0.0.1 and Debian's Chromium driven by playwright-core (no browser download).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

export const WWW = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(WWW, '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.css': 'text/css', '.json': 'application/json', '.png': 'image/png', '.md': 'text/plain; charset=utf-8',
};

/** Serves www/ on 127.0.0.1 (a free port); returns {url, close, served} where `served` logs every response. */
export async function serve({ gzip = false } = {}) {
  const served = [];
  const zlib = gzip ? await import('node:zlib') : null;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = path.normalize(path.join(WWW, decodeURIComponent(url.pathname)));
    if (!file.startsWith(WWW)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err, body) => {
      if (err) { served.push({ path: url.pathname, status: 404, bytes: 0 }); res.writeHead(404).end('not found'); return; }
      const headers = { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' };
      if (zlib && /gzip/.test(req.headers['accept-encoding'] ?? '')) {
        body = zlib.gzipSync(body, { level: 9 });
        headers['content-encoding'] = 'gzip';
      }
      served.push({ path: url.pathname, status: 200, bytes: body.length });
      res.writeHead(200, headers).end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, served, close: () => new Promise((r) => server.close(r)) };
}

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

/** Debian's Chromium with a fresh profile. Returns the persistent context (close it). */
export async function browser({ width = 1400, height = 1000, ...options } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddg-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width, height },
    ...options,
  });
  const close = ctx.close.bind(ctx);
  ctx.close = async () => { await close(); fs.rmSync(dir, { recursive: true, force: true }); };
  return ctx;
}

/** The page server and a browser for one test file: started before its tests, closed
 * after them. Read `env.server` and `env.ctx` inside the tests. */
export function pageServer() {
  const env = { server: null, ctx: null };
  before(async () => {
    env.server = await serve();
    env.ctx = await browser();
  });
  after(async () => {
    await env.ctx?.close();
    await env.server?.close();
  });
  return env;
}

/** A page that records console errors, page errors and failed requests. */
export async function openPage(ctx, url) {
  const page = await ctx.newPage();
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => page.problems.push(`request failed: ${r.url()}`));
  page.on('response', (r) => { if (r.status() >= 400) page.problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.goto(url);
  return page;
}

/** Waits until `fn()` (run in the page) returns a truthy value, up to `ms`. */
export async function waitFor(page, fn, arg, ms = 10_000) {
  const handle = await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
  return handle.jsonValue();
}

/** Waits until the page's `<duck-duck-goose>` element (or the one `selector` names) has drawn its first frame. */
export async function elementReady(page, selector = 'duck-duck-goose') {
  await waitFor(page, (sel) => document.querySelector(sel)?.frame != null, selector);
}

/**
 * Drives simulated time explicitly: runs the element `step` virtual ms at a time until
 * `check(state, arg)` holds or `limit` virtual ms have passed (`check` runs in the page,
 * so it can only use `arg`, not variables around it). Returns the last state.
 */
export async function runUntil(page, selector, check, { step = 100, limit = 5000, arg = null } = {}) {
  return page.evaluate(async ({ selector, check, step, limit, arg }) => {
    const el = document.querySelector(selector);
    const ok = new Function('s', 'arg', `return (${check})(s, arg);`);
    const state = () => {
      const nodes = [...el.shadowRoot.querySelectorAll('[data-node-id]')].map((g) => ({
        id: Number(g.dataset.nodeId), role: g.dataset.role,
        member: el.view.nodes.find((n) => n.id === Number(g.dataset.nodeId))?.member,
      }));
      return { time: el.time, goose: el.goose, zones: el.frame.zones, nodes, hash: el.hash };
    };
    const start = el.time;
    let s = state();
    while (!ok(s, arg) && el.time - start < limit) {
      el.run(step);
      s = state();
    }
    return { ...s, ok: ok(s, arg) };
  }, { selector, check: check.toString(), step, limit, arg });
}

/**
 * Replays a run's text natively with the `replay` binary (`REPLAY_BIN`, else cargo runs
 * it) until `until` ms; returns its `key value` lines as an object (`hash`, ...): what the
 * wasm in the page must match.
 */
export function replayNatively(text, until) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddg-replay-'));
  const file = path.join(dir, 'run.txt');
  try {
    fs.writeFileSync(file, text);
    const args = ['--scenario', file, '--until', String(until)];
    const bin = process.env.REPLAY_BIN;
    const out = bin
      ? execFileSync(bin, args, { encoding: 'utf8' })
      : execFileSync('cargo', ['run', '-q', '-p', 'duckgoose-tests', '--bin', 'replay', '--', ...args], { cwd: REPO, encoding: 'utf8' });
    return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
