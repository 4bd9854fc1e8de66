// A real `duckgoose cluster` for the live-mode tests and the live-page load check: the
// secure configuration (a token, HTTPS, mutual TLS between nodes, with a throwaway CA made
// by openssl), on five consecutive free ports, stopped and cleaned up by `stop()`.
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './helpers.mjs';

/** The duckgoose binary: $DUCKGOOSE_BIN, or the one `cargo test --workspace` builds. */
export function duckgooseBin() {
  const bin = process.env.DUCKGOOSE_BIN ?? path.join(process.env.CARGO_TARGET_DIR ?? path.join(REPO, 'target'), 'debug', 'duckgoose');
  if (!fs.existsSync(bin)) throw new Error(`no duckgoose binary at ${bin}: build it (cargo build -p duckgoose) or set DUCKGOOSE_BIN`);
  return bin;
}

const run = (cmd, args, opts = {}) => new Promise((resolve, reject) => {
  execFile(cmd, args, { timeout: 20_000, ...opts }, (err, stdout, stderr) => {
    if (err && err.code !== 1) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
    else resolve({ code: err ? err.code : 0, stdout, stderr });
  });
});

/** A CA and one certificate for 127.0.0.1, usable as server and client certificate. */
async function makeCerts(dir) {
  const p = (f) => path.join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=duckgoose live test CA', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  await run('openssl', ['req', ...ec, '-subj', '/CN=duckgoose', '-keyout', p('node.key'), '-out', p('node.csr')]);
  fs.writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n');
  await run('openssl', ['x509', '-req', '-in', p('node.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p('ext.cnf'), '-out', p('node.crt')]);
  return { ca: p('ca.crt'), cert: p('node.crt'), key: p('node.key') };
}

const portFree = (port) => new Promise((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

async function freeRange(n) {
  for (let tries = 0; tries < 200; tries++) {
    const base = 20000 + Math.floor(Math.random() * 40000);
    let ok = true;
    for (let i = 0; i < n && ok; i++) ok = await portFree(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports`);
}

/**
 * Starts `duckgoose cluster --nodes n` with a fresh token and TLS. Resolves once it printed
 * the page's URL: {page, token, ca, urls, hostports, controlUrl, bin, findGoose(), status(i),
 * get(url), stop()}.
 */
export async function startLiveCluster({ nodes = 5 } = {}) {
  const bin = duckgooseBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddg-live-'));
  const tls = await makeCerts(dir);
  const token = crypto.randomBytes(18).toString('base64url');
  const base = await freeRange(nodes);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DUCKGOOSE_')));
  const child = spawn(bin, [
    'cluster', '--nodes', String(nodes), '--base-port', String(base), '--data-dir', path.join(dir, 'data'),
    '--tls-cert', tls.cert, '--tls-key', tls.key, '--tls-ca', tls.ca,
  ], { env: { ...env, DUCKGOOSE_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGTERM');
  process.on('exit', killOnExit);
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const printed = new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`duckgoose cluster printed no page URL in 20 s:\n${out}\n${err}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d;
      const page = /^playground, live: (\S+)/m.exec(out)?.[1];
      const control = /^control API [^:]*: (\S+)\/nodes$/m.exec(out)?.[1];
      if (page && control) { clearTimeout(deadline); resolve({ page, control }); }
    });
    child.once('exit', (code) => { clearTimeout(deadline); reject(new Error(`duckgoose cluster exited (${code}):\n${out}\n${err}`)); });
  });
  const { page, control } = await printed;
  const hostports = Array.from({ length: nodes }, (_, i) => `127.0.0.1:${base + i}`);
  const caPem = fs.readFileSync(tls.ca);
  const cleanEnv = { ...env };

  /** GET over HTTPS trusting the test CA: {status, body}. */
  const get = (url, timeout = 3000) => new Promise((resolve, reject) => {
    const req = https.get(url, { ca: caPem, timeout }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });

  return {
    page, token, ca: tls.ca, base, hostports, bin, controlUrl: control, dir,
    urls: hostports.map((h) => `https://${h}`),
    get,
    /** `duckgoose find-goose` (the CLI): {port: 'goose'|'duck'|'down'|...}. */
    async findGoose() {
      const { stdout } = await run(bin, ['find-goose', '--tls-ca', tls.ca, ...hostports], { env: cleanEnv });
      return Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(': ')).map(([p, r]) => [Number(p), r]));
    },
    /** `duckgoose status` of node i (1-based) as JSON, or null if it does not answer. */
    async status(i) {
      const { code, stdout } = await run(bin, ['status', '--tls-ca', tls.ca, '--timeout-ms', '1500', `https://${hostports[i - 1]}`], { env: cleanEnv });
      return code === 0 ? JSON.parse(stdout) : null;
    },
    idOfPort: (port) => port - base + 1,
    /** SIGTERM (the cluster stops its nodes), SIGKILL after 15 s, then every node pid. */
    async stop() {
      process.off('exit', killOnExit);
      let pids = [];
      try { pids = JSON.parse((await get(`${control}/nodes`)).body).nodes.map((n) => n.pid).filter(Boolean); } catch { /* gone */ }
      if (child.exitCode == null && child.signalCode == null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
      fs.rmSync(dir, { recursive: true, force: true });
      return { stdout: out, stderr: err };
    },
  };
}
