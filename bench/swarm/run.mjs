#!/usr/bin/env node
// Failed requests and time to converge under steady load, compose beside swarm in the same run on
// the same host and the same real OPA:
//
//   promote      `swiftdeploy promote canary|stable` (a mode switch): compose's start-before-stop
//                replacement of one app container, then a Swarm rolling start-first update of 3
//                replicas.
//   progressive  the progressive canary (a `canary:` section, steps [10, 50, 100], 5 s windows):
//                `promote canary` to 100% (each weight an in-place nginx reload), then `promote
//                stable` (compose: the app container replaced; swarm: the 3 replicas rolled).
//
//   node bench/swarm/run.mjs [--scenario promote|progressive|both] [--rounds 2] [--concurrency 4] [--replicas 3]
//
// Needs what the e2e suites need (Docker, compose, the local base images, swiftdeploy-app:e2e) and
// an engine that may create a swarm: one is initialised (`docker swarm init --advertise-addr
// 127.0.0.1`) when the engine is in none, and left afterwards. Without IPVS in the kernel the
// routing mesh does not work, so nginx is published in host mode (docs/swarm.md); the progressive
// canary on swarm needs host mode anyway.
//
// The load: `concurrency` loops of GET / through nginx over keep-alive (fetch, no retries). A request
// whose kept-alive connection the server closed with no answer (nginx's old workers do at a reload)
// counts as failed and is retried once on a new connection, as browsers retry an idempotent request;
// both counts are printed (bench/README.md, "canary").
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { parseDocument } from 'yaml';
import { startBenchOpa } from '../opa.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'both' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '4' },
    replicas: { type: 'string', default: '3' },
  },
});
if (!['promote', 'progressive', 'both'].includes(values.scenario)) throw new Error(`--scenario: promote, progressive or both, got ${values.scenario}`);
const scenarios = values.scenario === 'both' ? ['promote', 'progressive'] : [values.scenario];
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

/** True when the server closed a kept-alive connection without an answer (undici's UND_ERR_SOCKET). */
const closedWithoutAnswer = (err) => err?.cause?.code === 'UND_ERR_SOCKET';

function load(nginxPort) {
  let running = true;
  const counts = { ok: 0, failed: 0, failedAfterRetry: 0, byStatus: {} };
  const url = `http://127.0.0.1:${nginxPort}/`;
  const worker = async () => {
    while (running) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (res.status === 200) counts.ok++;
        else {
          counts.failed++;
          counts.failedAfterRetry++;
          counts.byStatus[res.status] = (counts.byStatus[res.status] ?? 0) + 1;
        }
      } catch (err) {
        counts.failed++;
        const key = closedWithoutAnswer(err) ? 'closed' : 'network';
        counts.byStatus[key] = (counts.byStatus[key] ?? 0) + 1;
        if (key !== 'closed') {
          counts.failedAfterRetry++;
          continue;
        }
        const again = await fetch(url, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) })
          .then(async (res) => (await res.arrayBuffer(), res.status === 200 ? null : `HTTP ${res.status}`))
          .catch((e) => e?.cause?.code ?? e?.cause?.message ?? e?.message ?? 'error');
        if (again !== null) {
          counts.failedAfterRetry++;
          const retryKey = `retry: ${again}`;
          counts.byStatus[retryKey] = (counts.byStatus[retryKey] ?? 0) + 1;
        }
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return { counts, stop: async () => { running = false; await Promise.all(workers); } };
}

/** The progressive canary's section and permissive latency rules (p99 is noise on this machine, as in bench/canary). */
function withCanary(text, version) {
  const doc = parseDocument(text);
  doc.setIn(['policy', 'canary', 'max_p99_ratio'], 1000);
  doc.setIn(['policy', 'canary', 'max_p99_latency_seconds'], 5);
  doc.set('canary', doc.createNode({ version, steps: [10, 50, 100], step_seconds: 5, inconclusive_limit: 1, max_duration: 600 }));
  doc.getIn(['canary', 'steps']).flow = true;
  return doc.toString();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench(runtime, scenario, opaUrl) {
  const nginxPort = await freePort();
  const name = `sdbench-${runtime}-${process.pid}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  const manifest = path.join(dir, 'manifest.yaml');
  const base = manifestFor(name, nginxPort, opaUrl, runtime);
  writeFileSync(manifest, scenario === 'progressive' ? withCanary(base, '2.0.0') : base);
  const cli = async (...args) => {
    const r = await execa(bin, args, { cwd: dir, reject: false, env: { NO_COLOR: '1', SWIFTDEPLOY_ACTOR: 'bench' } });
    if (r.exitCode !== 0) throw new Error(`${runtime}: swiftdeploy ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}`);
  };
  // promote: one command per measurement; progressive: `promote canary` to 100% then `promote stable`.
  const plans =
    scenario === 'promote'
      ? [[['promote', 'canary', '--yes']], [['promote', 'stable', '--yes']]]
      : [[['promote', 'canary', '--yes'], ['promote', 'stable', '--yes']]];
  const results = [];
  try {
    await cli('deploy');
    const bg = load(nginxPort);
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < rounds; i++) {
      for (const plan of plans) {
        // each progressive round rolls out a new version (promote stable made the last one the stable)
        if (scenario === 'progressive') writeFileSync(manifest, withCanary(readFileSync(manifest, 'utf8'), `${i + 2}.0.0`));
        const before = { ...bg.counts };
        const t0 = Date.now();
        const seconds = [];
        for (const argv of plan) {
          const t = Date.now();
          await cli(...argv);
          seconds.push(((Date.now() - t) / 1000).toFixed(1));
        }
        const took = (Date.now() - t0) / 1000;
        const failed = bg.counts.failed - before.failed;
        const afterRetry = bg.counts.failedAfterRetry - before.failedAfterRetry;
        const total = failed + bg.counts.ok - before.ok;
        results.push({ failed, afterRetry, total, seconds: took });
        const what = plan.map((a) => a.slice(0, 2).join(' ')).join(' + ');
        console.log(`${runtime} ${scenario} round ${i + 1} ${what}: ${failed} of ${total} requests failed (${afterRetry} after one retry), ${took.toFixed(1)} s (${seconds.join(' + ')})`);
      }
    }
    await bg.stop();
    const f = results.map((r) => r.failed);
    const fr = results.map((r) => r.afterRetry);
    const s = results.map((r) => r.seconds);
    const summary =
      `${runtime} ${scenario}: failed per measurement median ${median(f)} (max ${Math.max(...f)}), after one retry median ${median(fr)} (max ${Math.max(...fr)}), ` +
      `requests ${results.reduce((a, r) => a + r.total, 0)}, seconds median ${median(s).toFixed(1)} (min ${Math.min(...s).toFixed(1)}, max ${Math.max(...s).toFixed(1)}), failures by kind ${JSON.stringify(bg.counts.byStatus)}`;
    console.log(summary);
    return { runtime, scenario, seconds: median(s), summary };
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
  const results = [];
  for (const scenario of scenarios) results.push(await bench('compose', scenario, opa.url));
  if (state === 'inactive') {
    await execa('docker', ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    initialised = true;
  }
  for (const scenario of scenarios) results.push(await bench('swarm', scenario, opa.url));
  console.log(results.map((r) => r.summary).join('\n'));
  for (const scenario of scenarios) {
    const [c, w] = ['compose', 'swarm'].map((rt) => results.find((r) => r.runtime === rt && r.scenario === scenario));
    console.log(`${scenario}: swarm/compose time ratio ${(w.seconds / c.seconds).toFixed(2)}`);
  }
} finally {
  if (initialised) {
    await execa('docker', ['swarm', 'leave', '--force'], { reject: false });
    await execa('docker', ['network', 'rm', 'docker_gwbridge'], { reject: false });
  }
  await opa.close();
}
