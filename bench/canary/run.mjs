#!/usr/bin/env node
// The progressive canary under steady load (issue 13's benchmark), on a real Docker stack driven
// through bin/swiftdeploy:
//
//   full   a 4-step rollout (steps [10, 25, 50, 100]) and then `promote stable`: requests sent,
//          failed (goal 0), answers per track, durations.
//   blast  a canary that answers every ordinary request with an error: seconds from the first
//          canary answer the load sees to the abort (goal: one step window + 5 s), the share of
//          requests it served (goal: at most the first step's weight), failed requests on stable
//          (goal 0).
//
//   npm run build && node bench/canary/run.mjs [--runs 3] [--step-seconds 10] [--concurrency 4]
//       [--delay-ms 10] [--no-build] [--only full|blast] [--json]
//
// Needs what test/e2e/rollout.e2e.test.ts needs: a Docker engine, compose v2, the local base images
// and swiftdeploy-opa:local (npm run setup). The app image swiftdeploy-app:e2e is built from this
// checkout first (scripts/stage-app.sh + docker build --target prebuilt) unless --no-build.
//
// The failing canary (blast): as soon as the new canary container answers, before it is healthy and
// so before the driver gives it any weight, the bench POSTs `{"mode":"error","rate":1}` to its own
// /chaos through nginx's per-track location with the project's token. From its first ordinary
// request on, it is a version that fails every one (/healthz is exempt from chaos, so it starts like
// any canary). The bench checks it: a canary 200 during a blast run is reported.
//
// The load: `concurrency` loops of GET / through nginx over keep-alive (fetch, no retries). A request
// whose connection the server closed with no answer counts as failed; it is also retried once on a
// new connection (as browsers retry an idempotent request), and both counts are printed. A rollout
// that ends otherwise than expected (paused, exit 1) is reported apart, not in the medians, and
// ended with `abort`.
//
// One compose project (sdbench-canary-<pid>), free ports, torn down at the end, on failure and on
// SIGINT/SIGTERM.
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { parseDocument } from 'yaml';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'bin/swiftdeploy');
const APP_IMAGE = 'swiftdeploy-app:e2e';
const STEPS = [10, 25, 50, 100];

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'step-seconds': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '4' },
    'delay-ms': { type: 'string', default: '10' },
    'no-build': { type: 'boolean', default: false },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const stepSeconds = Number(values['step-seconds']);
const concurrency = Number(values.concurrency);
const delayMs = Number(values['delay-ms']);
const scenarios = values.only ? [values.only] : ['full', 'blast'];
if (!scenarios.every((s) => s === 'full' || s === 'blast')) throw new Error('--only: full or blast');
if (!existsSync(path.join(repo, 'dist/bundle/main.js'))) {
  process.stderr.write('dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}

const log = (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load1 = () => os.loadavg()[0];

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const name = `sdbench-canary-${process.pid}`;
const dir = mkdtempSync(path.join(os.tmpdir(), `${name}-`));
const manifestFile = path.join(dir, 'manifest.yaml');
const rolloutFile = path.join(dir, '.swiftdeploy/rollout.json');
const nginxPort = await freePort();
const opaPort = await freePort();
const base = `http://127.0.0.1:${nginxPort}`;

/** Change the manifest key by key (yaml's Document API keeps the rest, comments included). */
function editManifest(text, changes) {
  const doc = parseDocument(text);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) doc.deleteIn(key.split('.'));
    else doc.setIn(key.split('.'), value);
  }
  return doc.toString();
}

/** The canary section for the next rollout: a new version of the same image. */
function setCanary(version) {
  const text = readFileSync(manifestFile, 'utf8');
  const doc = parseDocument(text);
  doc.set('canary', doc.createNode({ version, steps: STEPS, step_seconds: stepSeconds, inconclusive_limit: 2, max_duration: 900 }));
  doc.getIn(['canary', 'steps']).flow = true;
  writeFileSync(manifestFile, doc.toString());
}

const cli = (args, opts = {}) =>
  execa(bin, args, {
    cwd: dir,
    reject: false,
    stdin: 'ignore',
    env: { NO_COLOR: '1', SWIFTDEPLOY_ACTOR: 'bench@example.com', SWIFTDEPLOY_COMPOSE: 'plugin' },
    timeout: 600_000,
    ...opts,
  });

const readRollout = () => {
  try {
    return JSON.parse(readFileSync(rolloutFile, 'utf8'));
  } catch {
    return undefined; // absent, or mid-rename
  }
};

/**
 * Steady load through nginx: `concurrency` loops of GET / over keep-alive (fetch's pool, which never retries),
 * each answer timed and attributed to its X-Track; a request with no answer keeps the error's code.
 */
function startLoad() {
  let running = true;
  const answers = []; // { t, track, status, err?, retry? }; status 0: no answer within 5 s or a connection error
  const get = async () => {
    try {
      const res = await fetch(`${base}/`, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return { track: res.headers.get('x-track') ?? 'none', status: res.status };
    } catch (e) {
      return { track: 'none', status: 0, err: e.cause?.code ?? e.name };
    }
  };
  // One GET on a new connection (the pool's other idle connections may be closing too).
  const getFresh = () =>
    new Promise((resolve) => {
      const req = http.get(`${base}/`, { agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ track: res.headers['x-track'] ?? 'none', status: res.statusCode }));
        res.on('error', (e) => resolve({ track: 'none', status: 0, err: e.code ?? e.name }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve({ track: 'none', status: 0, err: e.code ?? e.message }));
    });
  const worker = async () => {
    while (running) {
      const a = await get();
      // A keep-alive connection the server closed with no answer (UND_ERR_SOCKET): counted as failed;
      // retried once on a new connection, as browsers retry an idempotent request there.
      const retry = a.err === 'UND_ERR_SOCKET' ? await getFresh() : undefined;
      answers.push({ t: Date.now(), ...a, ...(retry ? { retry } : {}) });
      if (delayMs > 0) await sleep(delayMs);
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    answers,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return answers;
    },
  };
}

/** Every change of the rollout state file (step, weight, status), with the time it was first seen (100 ms polls). */
function watchRollout() {
  const changes = [];
  let running = true;
  const loop = (async () => {
    let last = '';
    while (running) {
      const st = readRollout();
      const key = st ? `${st.id} ${st.step} ${st.weight} ${st.status}` : 'none';
      if (key !== last) {
        changes.push({ t: Date.now(), id: st?.id, step: st?.step, weight: st?.weight, status: st?.status });
        last = key;
      }
      await sleep(100);
    }
  })();
  return {
    changes,
    stop: async () => {
      running = false;
      await loop;
      return changes;
    },
  };
}

/** Each failed request, with the time since the last state change seen before it (a reload follows each). */
function failureDetails(answers, changes, t0) {
  return answers
    .filter((a) => a.status !== 200)
    .map((a) => {
      const before = changes.filter((c) => c.t <= a.t).at(-1);
      return { atSeconds: (a.t - t0) / 1000, track: a.track, status: a.status, err: a.err, retried: a.retry?.status, lastChange: before ? `${before.weight}% ${before.status}` : null, msSinceChange: before ? a.t - before.t : null };
    });
}

function tally(answers) {
  const byTrack = {};
  const failures = {};
  let failed = 0;
  let failedAfterRetry = 0;
  for (const a of answers) {
    if (a.status === 200) byTrack[a.track] = (byTrack[a.track] ?? 0) + 1;
    else {
      failed++;
      if (a.retry?.status !== 200) failedAfterRetry++;
      const k = `${a.track}:${a.status === 0 ? a.err : a.status}`;
      failures[k] = (failures[k] ?? 0) + 1;
    }
  }
  return { sent: answers.length, failed, failedAfterRetry, okByTrack: byTrack, failures };
}

/** Scenario 1: the whole rollout to 100%, then promote stable, under load. */
async function runFull(i) {
  setCanary(`full-${i}`);
  const load = startLoad();
  const watch = watchRollout();
  await sleep(2000);
  const t0 = Date.now();
  const p = await cli(['promote', 'canary', '--yes']);
  const t1 = Date.now();
  const s = p.exitCode === 0 ? await cli(['promote', 'stable', '--yes']) : undefined;
  const t2 = Date.now();
  await sleep(1000);
  const answers = await load.stop();
  const changes = await watch.stop();
  const during = answers.filter((a) => a.t >= t0 && a.t <= t2);
  const inPromoteStable = during.filter((a) => a.t > t1 && a.status !== 200).length;
  const problem =
    p.exitCode !== 0 ? `promote canary exited ${p.exitCode}: ${p.stderr.split('\n').slice(-3).join(' | ')}` : s.exitCode !== 0 ? `promote stable exited ${s.exitCode}: ${s.stderr.split('\n').slice(-3).join(' | ')}` : undefined;
  if (problem) {
    log(`full ${i}: ${problem}`);
    await cli(['abort', '--reason', 'bench cleanup', '--yes']);
  }
  const steps = [...p.stderr.matchAll(/step (\d)\/4 at (\d+)%: (pass|fail|inconclusive)\b/g)].map((m) => `${m[2]}%:${m[3]}`);
  return {
    scenario: 'full',
    run: i,
    problem,
    rolloutSeconds: (t1 - t0) / 1000,
    promoteStableSeconds: (t2 - t1) / 1000,
    steps,
    ...tally(during),
    failedInPromoteStable: inPromoteStable,
    failureDetails: failureDetails(answers, changes, t0),
    wholeRun: tally(answers),
  };
}

/** Make the canary of the rollout started after `previousId` fail every ordinary request, before it serves any. */
async function poisonCanary(previousId, stop) {
  const token = readFileSync(path.join(dir, '.swiftdeploy/chaos-token'), 'utf8').trim();
  for (;;) {
    if (stop.done) return undefined;
    const st = readRollout();
    if (st && st.id !== previousId && st.status === 'running') {
      try {
        const res = await fetch(`${base}/__swiftdeploy/tracks/canary/chaos`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ mode: 'error', rate: 1 }),
          signal: AbortSignal.timeout(2000),
        });
        await res.arrayBuffer();
        if (res.status === 200 && res.headers.get('x-track') === 'canary') return { t: Date.now(), weight: st.weight };
      } catch {
        // not up yet
      }
    }
    await sleep(50);
  }
}

/** Scenario 2: a canary failing every request is aborted by the analysis. */
async function runBlast(i) {
  setCanary(`blast-${i}`);
  const previousId = readRollout()?.id;
  const load = startLoad();
  await sleep(2000);
  const stop = { done: false };
  const poisoned = poisonCanary(previousId, stop);
  const watch = watchRollout();
  const t0 = Date.now();
  const p = await cli(['promote', 'canary', '--yes']);
  const tExit = Date.now();
  stop.done = true;
  const chaos = await poisoned;
  await sleep(1000);
  const answers = await load.stop();
  const changes = (await watch.stop()).filter((c) => c.id !== undefined && c.id !== previousId);
  const seen = { weight10: changes.find((c) => c.weight > 0)?.t, aborted: changes.find((c) => c.status === 'aborted')?.t, paused: changes.find((c) => c.status === 'paused')?.t };
  const canary = answers.filter((a) => a.track === 'canary');
  const first = canary[0]?.t;
  const last = canary.at(-1)?.t;
  const exposure = first === undefined ? [] : answers.filter((a) => a.t >= first && a.t <= last);
  const during = answers.filter((a) => a.t >= t0 && a.t <= tExit);
  const stableFailures = answers.filter((a) => a.status !== 200 && a.track !== 'canary');
  const stableFailed = stableFailures.length;
  // A retry the split sent to the (failing) canary is the canary's answer, not a stable failure.
  const stableFailedAfterRetry = stableFailures.filter((a) => a.retry?.status !== 200 && a.retry?.track !== 'canary').length;
  const reason = /canary_all_errors|error_rate_too_high|[a-z_]+_too_high/.exec(p.stderr)?.[0];
  const problems = [];
  if (p.exitCode !== 3) problems.push(`promote canary exited ${p.exitCode} (expected 3): ${p.stderr.split('\n').slice(-3).join(' | ')}`);
  if (chaos === undefined) problems.push('the canary was never made to fail');
  else if (first !== undefined && chaos.t > first) problems.push('the canary served a request before it was made to fail');
  if (canary.some((a) => a.status === 200)) problems.push(`${canary.filter((a) => a.status === 200).length} canary answers were 200`);
  for (const pr of problems) log(`blast ${i}: ${pr}`);
  // A paused rollout is not an automatic abort: the bench ends it, and the run is reported as such.
  if (p.exitCode !== 3) await cli(['abort', '--reason', 'bench cleanup', '--yes']);
  const sec = (a, b) => (a === undefined || b === undefined ? null : (b - a) / 1000);
  return {
    scenario: 'blast',
    run: i,
    problem: problems.join('; ') || undefined,
    exitCode: p.exitCode,
    reason,
    chaosAtWeight: chaos?.weight,
    canaryAnswers: canary.length,
    canaryOk: canary.filter((a) => a.status === 200).length,
    firstCanaryToAbortedState: sec(first, seen.aborted),
    firstCanaryToLastCanary: sec(first, last),
    firstCanaryToDriverExit: sec(first, tExit),
    weightToAbortedState: sec(seen.weight10, seen.aborted),
    shareInExposure: exposure.length ? canary.length / exposure.length : null,
    shareOfRollout: during.length ? during.filter((a) => a.track === 'canary').length / during.length : null,
    exposureRequests: exposure.length,
    stableFailed,
    stableFailedAfterRetry,
    driverStderr: p.exitCode === 3 ? undefined : p.stderr.split('\n').slice(-12),
    pausedInstead: seen.paused !== undefined,
    failureDetails: failureDetails(answers.filter((a) => a.track !== 'canary'), changes, t0),
    rolloutSeconds: (tExit - t0) / 1000,
    ...tally(during),
  };
}

async function cleanup() {
  const r = await cli(['teardown', '--yes'], { timeout: 180_000 });
  if (r.exitCode !== 0) log(`teardown exited ${r.exitCode}: ${r.stderr.split('\n').slice(-2).join(' | ')}`);
  // Whatever teardown left (it keeps the log volume), by the project's compose label.
  for (const kind of ['container', 'network', 'volume']) {
    try {
      const ids = execFileSync('docker', [kind, 'ls', ...(kind === 'container' ? ['-a'] : []), '-q', '--filter', `label=com.docker.compose.project=${name}`], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
      if (ids.length) execFileSync('docker', [kind, 'rm', '-f', ...ids], { stdio: 'ignore' });
    } catch (e) {
      log(`cleanup of ${kind}s: ${e.message.split('\n')[0]}`);
    }
  }
  try {
    execFileSync('docker', ['volume', 'rm', '-f', `${name}-logs`], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  rmSync(dir, { recursive: true, force: true });
}

let cleaning;
const cleanOnce = () => (cleaning ??= cleanup());
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: tearing down ${name}`);
    void cleanOnce().finally(() => process.exit(130));
  });
}

const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const spread = (xs) => {
  const v = xs.filter((x) => typeof x === 'number');
  return v.length ? `${fmt(median(v))} (${fmt(Math.min(...v))}-${fmt(Math.max(...v))})` : 'n/a';
};
const fmt = (x) => (x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(2));
const pct = (x) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);

const started = new Date();
const loadAtStart = load1();
const results = [];
try {
  if (!values['no-build']) {
    log(`building ${APP_IMAGE} from this checkout`);
    await execa('bash', [path.join(repo, 'scripts/stage-app.sh')], { cwd: repo });
    await execa('docker', ['build', '-q', '--target', 'prebuilt', '--build-arg', 'NODE_IMAGE=swiftdeploy-node:local', '-t', APP_IMAGE, '.'], { cwd: repo });
  }
  const reference = readFileSync(path.join(repo, 'manifest.yaml'), 'utf8');
  writeFileSync(
    manifestFile,
    editManifest(reference, {
      'project.name': name,
      'services.image': APP_IMAGE,
      'services.build': undefined,
      'services.log_volume': `${name}-logs`,
      'nginx.image': 'swiftdeploy-nginx:local',
      'nginx.port': nginxPort,
      'network.name': `${name}-net`,
      'opa.port': opaPort,
      'opa.image': 'swiftdeploy-opa:local',
      // The shared machine's load must not gate the deploy; these measure the rollout, not the host gate.
      'policy.infrastructure.min_disk_free_gb': 1,
      'policy.infrastructure.max_cpu_load': 1000,
      'policy.canary.window_seconds': 5,
      'policy.canary.min_requests': 5,
      // As in the rollout e2e: p99 on a loaded 2-core machine is noise; errors decide here.
      'policy.canary.max_p99_ratio': 1000,
      'policy.canary.max_p99_latency_seconds': 5,
    }),
  );
  // Deployed with a canary section: its track is rendered (at weight 0) from the first deploy on, so
  // later rollouts start from a converged stack; changing canary.version alone is no drift.
  setCanary('initial');
  log(`deploying ${name} (nginx on ${nginxPort}, OPA sidecar on ${opaPort}), load ${loadAtStart.toFixed(1)}`);
  const d = await cli(['deploy']);
  if (d.exitCode !== 0) throw new Error(`deploy exited ${d.exitCode}:\n${d.stderr}`);
  for (let i = 1; i <= runs; i++) {
    for (const s of scenarios) {
      const before = load1();
      const r = s === 'full' ? await runFull(i) : await runBlast(i);
      r.load = [before, load1()];
      results.push(r);
      if (s === 'full') {
        log(
          `full ${i}: ${r.failed} of ${r.sent} failed (${r.failedAfterRetry} after one retry); ok stable ${r.okByTrack.stable ?? 0}, canary ${r.okByTrack.canary ?? 0}; ` +
            `rollout ${r.rolloutSeconds.toFixed(1)} s [${r.steps.join(' ')}], promote stable ${r.promoteStableSeconds.toFixed(1)} s; load ${before.toFixed(1)}`,
        );
      } else {
        log(
          `blast ${i}: exit ${r.exitCode} (${r.reason ?? '?'}), first canary answer -> aborted state ${fmt(r.firstCanaryToAbortedState)} s, ` +
            `-> last canary answer ${fmt(r.firstCanaryToLastCanary)} s, -> driver exit ${fmt(r.firstCanaryToDriverExit)} s; ` +
            `canary share ${pct(r.shareInExposure)} of ${r.exposureRequests} in its exposure, ${pct(r.shareOfRollout)} of the rollout; ` +
            `stable failures ${r.stableFailed} (${r.stableFailedAfterRetry} after one retry); load ${before.toFixed(1)}`,
        );
      }
    }
  }
} finally {
  log(`tearing down ${name}`);
  await cleanOnce();
}

const loadAtEnd = load1();
const full = results.filter((r) => r.scenario === 'full');
const blast = results.filter((r) => r.scenario === 'blast');
const lines = [
  `${started.toISOString()}: ${runs} run(s), steps [${STEPS.join(', ')}] x ${stepSeconds} s, ${concurrency} clients (${delayMs} ms pause), ` +
    `load average ${loadAtStart.toFixed(1)} at start, ${loadAtEnd.toFixed(1)} at end, ${os.cpus().length} CPUs, node ${process.version}`,
];
// A rollout that did not reach `promote stable` (paused, say) is counted apart, not in the medians.
const fullDone = full.filter((r) => !r.problem);
if (full.length) {
  lines.push(
    `full rollout + promote stable: ${fullDone.length} of ${full.length} runs completed; over those: failed ${spread(fullDone.map((r) => r.failed))} (after one retry ${spread(fullDone.map((r) => r.failedAfterRetry))}) of ${spread(fullDone.map((r) => r.sent))} requests; ` +
      `ok stable ${spread(fullDone.map((r) => r.okByTrack.stable ?? 0))}, canary ${spread(fullDone.map((r) => r.okByTrack.canary ?? 0))}; ` +
      `rollout ${spread(fullDone.map((r) => r.rolloutSeconds))} s, promote stable ${spread(fullDone.map((r) => r.promoteStableSeconds))} s` +
      `; failed during promote stable ${spread(fullDone.map((r) => r.failedInPromoteStable))}; failures ${JSON.stringify(fullDone.map((r) => r.failures))}`,
  );
}
if (blast.length) {
  // Only automatic aborts (exit 3) measure the blast radius; a run the driver paused instead is counted apart.
  const auto = blast.filter((r) => r.exitCode === 3);
  lines.push(
    `blast radius: ${auto.length} of ${blast.length} runs aborted automatically (exits ${blast.map((r) => r.exitCode).join('/')}); over those: ` +
      `first canary answer -> aborted state ${spread(auto.map((r) => r.firstCanaryToAbortedState))} s, -> last canary answer ` +
      `${spread(auto.map((r) => r.firstCanaryToLastCanary))} s, -> driver exit ${spread(auto.map((r) => r.firstCanaryToDriverExit))} s ` +
      `(goal <= ${stepSeconds + 5} s); canary share in its exposure ${spread(auto.map((r) => r.shareInExposure && r.shareInExposure * 100))}%, ` +
      `of the whole promote ${spread(auto.map((r) => r.shareOfRollout && r.shareOfRollout * 100))}% (goal <= ${STEPS[0]}%); ` +
      `canary 200s ${spread(auto.map((r) => r.canaryOk))}; over all runs: stable failures ${spread(blast.map((r) => r.stableFailed))} (after one retry ${spread(blast.map((r) => r.stableFailedAfterRetry))}) ${JSON.stringify(blast.map((r) => r.failures))}`,
  );
}
const problems = results.filter((r) => r.problem).map((r) => `${r.scenario} ${r.run}: ${r.problem}`);
if (problems.length) lines.push(`problems: ${problems.join('; ')}`);
console.log(lines.join('\n'));
if (values.json) console.log(JSON.stringify({ started, loadAtStart, loadAtEnd, stepSeconds, concurrency, delayMs, results }, null, 1));
