#!/usr/bin/env node
// How many client requests fail while `swiftdeploy promote` switches modes under steady load.
//
//   node bench/promote/run.mjs [--rounds 3] [--concurrency 4]
//
// Needs what the e2e suite needs: a Docker engine, compose, the local base images, and the app
// image swiftdeploy-app:e2e (built by the e2e suite or: scripts/stage-app.sh && docker build
// --target prebuilt --build-arg NODE_IMAGE=swiftdeploy-node:local -t swiftdeploy-app:e2e .).
// Deploys a throw-away project against a real `opa run --server` on policies/ (bench/opa.mjs: the
// pinned OPA from `npm run setup`; exits 1 naming it when absent), then alternates promote canary /
// stable while `concurrency` clients loop GET / through nginx, and prints failures per promote
// (median and each round) next to the total requests in the same interval. Tears the project down
// after.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { startBenchOpa } from '../opa.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '4' } } });
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const opa = await startBenchOpa();
console.log(`policy engine: opa run --server ${opa.version} (${opa.binary}) at ${opa.url}`);
const nginxPort = await freePort();
const name = `sdbench-${process.pid}`;
const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
const manifest = readFileSync(path.join(repo, 'manifest.yaml'), 'utf8')
  .replace(/^( {2}name:) swiftdeploy\b/m, `$1 ${name}`)
  .replace(/^( {2}image:) swiftdeploy-app:[^\s]+/m, '$1 swiftdeploy-app:e2e')
  .replace(/^ {2}build:\n( {4}.*\n)+/m, '')
  .replace(/^( {2}log_volume:) .*/m, `$1 ${name}-logs`)
  .replace(/^( {2}image:) nginx:[^\s]+/m, '$1 swiftdeploy-nginx:local')
  .replace(/^( {2}port:) 8080/m, `$1 ${nginxPort}`)
  .replace(/^( {2}name:) swiftdeploy-net/m, `$1 ${name}-net`)
  .replace(/^( {2}timeout_ms: 2000)/m, `$1\n  url: ${opa.url}`)
  .replace(/^( {4}min_disk_free_gb:) .*/m, '$1 1')
  .replace(/^( {4}max_cpu_load:) .*/m, '$1 1000')
  .replace(/^( {4}window_seconds:) 30/m, '$1 5')
  .replace(/^( {4}min_requests:) 20/m, '$1 5');
writeFileSync(path.join(dir, 'manifest.yaml'), manifest);

// Asynchronous on purpose: the load clients run on this process's event loop.
const cli = async (...args) => {
  const r = await execa(bin, args, { cwd: dir, reject: false, env: { NO_COLOR: '1', SWIFTDEPLOY_ACTOR: 'bench' } });
  if (r.exitCode !== 0) throw new Error(`swiftdeploy ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}`);
  return r;
};

function load() {
  let running = true;
  const counts = { ok: 0, failed: 0, byStatus: {} };
  const worker = async () => {
    while (running) {
      try {
        const res = await fetch(`http://127.0.0.1:${nginxPort}/`, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status === 200) counts.ok++;
        else {
          counts.failed++;
          counts.byStatus[res.status] = (counts.byStatus[res.status] ?? 0) + 1;
        }
      } catch (e) {
        counts.failed++;
        counts.byStatus.network = (counts.byStatus.network ?? 0) + 1;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
try {
  await cli('deploy');
  const bg = load();
  await new Promise((r) => setTimeout(r, 2000));
  for (let i = 0; i < rounds; i++) {
    for (const target of ['canary', 'stable']) {
      const before = { ...bg.counts, byStatus: { ...bg.counts.byStatus } };
      const t0 = Date.now();
      await cli('promote', target, '--yes');
      const seconds = (Date.now() - t0) / 1000;
      const failed = bg.counts.failed - before.failed;
      const total = failed + bg.counts.ok - before.ok;
      results.push({ round: i + 1, target, failed, total, seconds });
      console.log(`round ${i + 1} promote ${target}: ${failed} of ${total} requests failed during ${seconds.toFixed(1)} s`);
    }
  }
  await bg.stop();
  console.log(`failures by status over the run: ${JSON.stringify(bg.counts.byStatus)}`);
  const f = results.map((r) => r.failed);
  const share = results.map((r) => r.failed / Math.max(1, r.total));
  console.log(
    `median failed requests per promote: ${median(f)} (min ${Math.min(...f)}, max ${Math.max(...f)}), ` +
      `median share ${(median(share) * 100).toFixed(2)}%, concurrency ${concurrency}, ${results.length} promotes`,
  );
} finally {
  await execa(bin, ['teardown', '--yes'], { cwd: dir, reject: false });
  execFileSync('docker', ['volume', 'rm', '-f', `${name}-logs`], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
  await opa.close();
}
