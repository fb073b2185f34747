#!/usr/bin/env node
// Failed requests and time to converge during `swiftdeploy promote` under steady load: compose's
// start-before-stop replacement of one app container, then a Swarm rolling start-first update of 3
// replicas, in the same run on the same host.
//
//   node bench/swarm/run.mjs [--rounds 2] [--concurrency 4] [--replicas 3]
//
// Needs what the e2e suites need (Docker, compose, the local base images, swiftdeploy-app:e2e) and
// an engine that may create a swarm: one is initialised (`docker swarm init --advertise-addr
// 127.0.0.1`) when the engine is in none, and left afterwards. Without IPVS in the kernel the
// routing mesh does not work, so nginx is published in host mode (docs/swarm.md).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { startBenchOpa } from '../opa.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '2' }, concurrency: { type: 'string', default: '4' }, replicas: { type: 'string', default: '3' } },
});
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const replicas = Number(values.replicas);
const publish = existsSync('/proc/net/ip_vs') ? 'ingress' : 'host';

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function manifestFor(name, nginxPort, opaUrl, runtime) {
  let text = readFileSync(path.join(repo, 'manifest.yaml'), 'utf8')
    .replace(/^( {2}name:) swiftdeploy\b/m, `$1 ${name}`)
    .replace(/^( {2}image:) swiftdeploy-app:[^\s]+/m, '$1 swiftdeploy-app:e2e')
    .replace(/^ {2}build:\n( {4}.*\n)+/m, '')
    .replace(/^( {2}log_volume:) .*/m, `$1 ${name}-logs`)
    .replace(/^( {2}image:) nginx:[^\s]+/m, '$1 swiftdeploy-nginx:local')
    .replace(/^( {2}port:) 8080/m, `$1 ${nginxPort}`)
    .replace(/^( {2}name:) swiftdeploy-net/m, `$1 ${name}-net`)
    .replace(/^( {2}timeout_ms: 2000)/m, `$1\n  url: ${opaUrl}`)
    .replace(/^( {4}min_disk_free_gb:) .*/m, '$1 1')
    .replace(/^( {4}max_cpu_load:) .*/m, '$1 1000')
    .replace(/^( {4}window_seconds:) 30/m, '$1 5')
    .replace(/^( {4}min_requests:) 20/m, '$1 5');
  if (runtime === 'swarm') text += `\nruntime: swarm\nswarm:\n  replicas: ${replicas}\n  publish: ${publish}\n  update:\n    monitor: 5\n`;
  return text;
}

function load(nginxPort) {
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
      } catch {
        counts.failed++;
        counts.byStatus.network = (counts.byStatus.network ?? 0) + 1;
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return { counts, stop: async () => { running = false; await Promise.all(workers); } };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench(runtime, opaUrl) {
  const nginxPort = await freePort();
  const name = `sdbench-${runtime}-${process.pid}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  writeFileSync(path.join(dir, 'manifest.yaml'), manifestFor(name, nginxPort, opaUrl, runtime));
  const cli = async (...args) => {
    const r = await execa(bin, args, { cwd: dir, reject: false, env: { NO_COLOR: '1', SWIFTDEPLOY_ACTOR: 'bench' } });
    if (r.exitCode !== 0) throw new Error(`${runtime}: swiftdeploy ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}`);
  };
  const results = [];
  try {
    await cli('deploy');
    const bg = load(nginxPort);
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < rounds; i++) {
      for (const target of ['canary', 'stable']) {
        const before = { ...bg.counts };
        const t0 = Date.now();
        await cli('promote', target, '--yes');
        const seconds = (Date.now() - t0) / 1000;
        const failed = bg.counts.failed - before.failed;
        const total = failed + bg.counts.ok - before.ok;
        results.push({ failed, total, seconds });
        console.log(`${runtime} round ${i + 1} promote ${target}: ${failed} of ${total} requests failed, ${seconds.toFixed(1)} s to converge`);
      }
    }
    await bg.stop();
    const f = results.map((r) => r.failed);
    const s = results.map((r) => r.seconds);
    const summary = `${runtime}: failed per promote median ${median(f)} (max ${Math.max(...f)}), requests ${results.reduce((a, r) => a + r.total, 0)}, seconds median ${median(s).toFixed(1)} (min ${Math.min(...s).toFixed(1)}, max ${Math.max(...s).toFixed(1)}), failures by status ${JSON.stringify(bg.counts.byStatus)}`;
    console.log(summary);
    return summary;
  } finally {
    await execa(bin, ['teardown', '--yes'], { cwd: dir, reject: false });
    // the last task's container can hold the log volume for a moment after the stack is gone
    for (let i = 0; i < 20; i++) {
      if ((await execa('docker', ['volume', 'rm', '-f', `${name}-logs`], { reject: false })).exitCode === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const opa = await startBenchOpa();
console.log(`policy engine: opa ${opa.version} at ${opa.url}; concurrency ${concurrency}; swarm replicas ${replicas}, nginx published ${publish}`);
const state = (await execa('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
let initialised = false;
try {
  const summaries = [await bench('compose', opa.url)];
  if (state === 'inactive') {
    await execa('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    initialised = true;
  }
  summaries.push(await bench('swarm', opa.url));
  console.log(summaries.join('\n'));
} finally {
  if (initialised) {
    await execa('docker', ['swarm', 'leave', '--force'], { reject: false });
    await execa('docker', ['network', 'rm', 'docker_gwbridge'], { reject: false });
  }
  await opa.close();
}
