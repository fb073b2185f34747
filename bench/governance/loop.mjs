#!/usr/bin/env node
// The governance loop's two latencies (issue 14):
//   A. detection -> signed alert delivered: the guard (dist/guard, shadow mode, real OPA deciding)
//      against a local /metrics endpoint that starts failing; a receiver on 127.0.0.1 verifies each
//      signature. Measured from the DETECTED stage to the receiver holding a verified
//      guard_detected, and from the metrics turning bad to that alert. Goal: <= one status
//      interval + 1 s.
//   B. approval POST -> action started: `--request` as the waiting CLI runs it (requestThenRun)
//      with a real `serve` (startServe) deciding the POST; measured from sending the POST to the
//      action being called with its approval. Goal: <= 1 s.
//
//   npm run build && node bench/governance/loop.mjs [--incidents 5] [--approvals 7] [--interval 1]
//
// No Docker: the metrics endpoint stands in for nginx (as in test/integration/guard.loop.test.ts).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchOpa } from '../opa.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p) => import(path.join(repo, 'dist', p));
const [{ Session }, { createGuardDeps }, { runGuard }, { opaGuardPolicy }, { OpaClient }, { requestThenRun }, { startServe }] = await Promise.all([
  dist('lifecycle/session.js'),
  dist('guard/deps.js'),
  dist('guard/loop.js'),
  dist('guard/policy.js'),
  dist('policy/client.js'),
  dist('approvals/request.js'),
  dist('approvals/serve.js'),
]);

const { values } = parseArgs({ options: { incidents: { type: 'string', default: '5' }, approvals: { type: 'string', default: '7' }, interval: { type: 'string', default: '1' } } });
const incidents = Number(values.incidents);
const approvalRounds = Number(values.approvals);
const intervalS = Number(values.interval);

const WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';
process.env.SD_BENCH_WEBHOOK_SECRET = WEBHOOK_SECRET;
process.env.SD_BENCH_APPROVAL_SECRET = 'bench-approval-secret-0123456789';

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (x) => `${x.toFixed(0)} ms`;

// The README's verifier: an alert counts only once its signature checks.
function verify(header, rawBody, secret) {
  const parts = Object.fromEntries(String(header).split(',').map((kv) => kv.split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

// A /metrics endpoint standing in for nginx: 100 requests a scrape, all good or all failing.
let failing = false;
let ok = 0;
let errors = 0;
const metrics = createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  if (failing) errors += 100;
  else ok += 100;
  const l = 'method="GET",path="/"';
  const total = ok + errors;
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(
    [
      '# TYPE http_requests_total counter',
      `http_requests_total{${l},status_code="200"} ${ok}`,
      `http_requests_total{${l},status_code="500"} ${errors}`,
      '# TYPE http_request_duration_seconds histogram',
      `http_request_duration_seconds_bucket{le="0.05",${l}} ${total}`,
      `http_request_duration_seconds_bucket{le="+Inf",${l}} ${total}`,
      `http_request_duration_seconds_sum{${l}} 1`,
      `http_request_duration_seconds_count{${l}} ${total}`,
      'app_mode 1',
      'chaos_active 0',
      'app_uptime_seconds 10',
      '',
    ].join('\n'),
  );
});
const metricsUrl = `http://127.0.0.1:${await listen(metrics)}/metrics`;

const alerts = [];
const receiver = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (c) => (raw += c));
  req.on('end', () => {
    if (verify(req.headers['x-swiftdeploy-signature'], raw, WEBHOOK_SECRET)) alerts.push({ at: performance.now(), event: JSON.parse(raw).event });
    res.writeHead(204).end();
  });
});
const hook = `http://127.0.0.1:${await listen(receiver)}/hook`;

const opa = await startBenchOpa();
const base = readFileSync(path.join(repo, 'manifest.yaml'), 'utf8');
const quiet = { emit: () => undefined };

function project(extra) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sdbench-gov-'));
  const file = path.join(dir, 'manifest.yaml');
  let text = base.replace(/^( {2}status_interval:).*$/m, `$1 ${intervalS}`);
  if (!/status_interval/.test(text)) text += `\nobservability:\n  status_interval: ${intervalS}\n`;
  text = text.replace(/^( {2}window_seconds:).*$/m, '$1 5').replace(/^( {2}min_requests:).*$/m, '$1 5');
  writeFileSync(file, `${text}\n${extra}`);
  return { dir, file };
}

// A. detection -> alert
const a = project(`notifications:\n  - url: ${hook}\n    format: generic\n    secret_env: SD_BENCH_WEBHOOK_SECRET\n    budget_seconds: 5\nguard:\n  mode: shadow\n  sustain_ticks: 2\n  recover_ticks: 2\n`);
const detectToAlert = [];
const badToAlert = [];
try {
  const operator = { actor: 'bench', events: quiet, yes: false };
  const session = await Session.open(a.file, operator, 'guard');
  const client = new OpaClient({ url: opa.url, timeoutMs: 2000 });
  const deps = createGuardDeps({
    session,
    operator,
    client,
    policy: opaGuardPolicy(client),
    metricsUrl,
    hostFacts: async () => ({ disk_free_gb: 100, disk_path: a.dir, cpu_load_1m: 0.1, cpu_cores: 2, cpu_load_per_core: 0.05, memory_available_mb: 4000, sources: {} }),
  });
  const guard = session.manifest.guard;
  let round = 0;
  let badAt = 0;
  let healthyTicks = 0;
  let armed = true;
  let decidedAt = 0;
  const stop = new AbortController();
  const waitAlert = async () => {
    const deadline = performance.now() + 10_000;
    while (performance.now() < deadline) {
      const hit = alerts.find((x) => x.event === 'guard_detected' && x.at >= decidedAt);
      if (hit) return hit.at;
      await new Promise((r) => setTimeout(r, 5));
    }
    return null;
  };
  const code = await runGuard({
    deps,
    settings: { mode: guard.mode, autoAbortCanary: guard.auto_abort_canary, sustainTicks: guard.sustain_ticks, operator: operator.actor },
    recoverTicks: guard.recover_ticks,
    intervalMs: intervalS * 1000,
    signal: stop.signal,
    onceIncident: false,
    maxTicks: incidents * 40,
    onTick: (tick, decision, error) => {
      if (process.env.SD_BENCH_DEBUG) console.error(new Date().toISOString(), 'tick', failing, decision?.reason ?? error, tick.payload.window?.error_rate);
      // The policy's answer is in: the moment of detection (the DETECTED record and its notice follow).
      if (decision?.detected && decidedAt === 0) decidedAt = performance.now();
      // Three healthy ticks at the start or after a recovery, then break it again.
      if (armed && !failing && ++healthyTicks >= 3 && round < incidents) {
        armed = false;
        failing = true;
        badAt = performance.now();
        healthyTicks = 0;
      }
    },
    onStage: (s) => {
      if (process.env.SD_BENCH_DEBUG) console.error(new Date().toISOString(), s.stage, s.summary);
      if (s.stage === 'detected') {
        const bad = badAt;
        const at = decidedAt;
        void waitAlert().then((got) => {
          if (got !== null) {
            detectToAlert.push(got - at);
            badToAlert.push(got - bad);
          }
        });
        failing = false;
      }
      if (s.stage === 'recovered') {
        armed = true;
        decidedAt = 0;
        if (++round >= incidents) stop.abort();
      }
    },
  });
  if (process.env.SD_BENCH_DEBUG) console.error('guard loop ended', code);
  await new Promise((r) => setTimeout(r, 300));
  await session.settleNotifications();
  await client.close();
} finally {
  rmSync(a.dir, { recursive: true, force: true });
}

// B. approval POST -> action started
const approvalToStart = [];
{
  const port = await freePort();
  const b = project(`approvals:\n  approvers: [alice@example.com]\n  secret_env: SD_BENCH_APPROVAL_SECRET\n  serve:\n    listen: 127.0.0.1\n    port: ${port}\n`);
  const server = await startServe({ manifestPath: b.file, executePollMs: 0 });
  try {
    for (let i = 0; i < approvalRounds; i++) {
      let postedAt = 0;
      let linksSeen;
      const shown = new Promise((resolve) => (linksSeen = resolve));
      const plan = { action: 'rollback', args: { reason: `bench ${i}` }, summary: `rollback (bench ${i})` };
      const running = requestThenRun(b.file, { actor: 'bench', events: quiet, yes: false }, plan, { detach: false, showLinks: (l) => linksSeen(l) }, async () => {
        approvalToStart.push(performance.now() - postedAt);
        return 0;
      });
      const [link] = await shown;
      const url = new URL(link.url);
      postedAt = performance.now();
      const res = await fetch(`${server.url}${url.pathname}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ t: url.searchParams.get('t'), decision: 'approve', reason: '' }).toString(),
      });
      if (res.status !== 200) throw new Error(`POST answered ${res.status}`);
      await running;
    }
  } finally {
    await server.close();
    rmSync(b.dir, { recursive: true, force: true });
  }
}

await opa.close();
metrics.close();
receiver.close();

const goalA = intervalS * 1000 + 1000;
console.log(`# governance loop: status interval ${intervalS} s, ${incidents} incidents, ${approvalRounds} approvals; load ${os.loadavg()[0].toFixed(1)}`);
console.log('| Measure | Median | Min | Max | Goal | Median / goal |');
console.log('|---|---|---|---|---|---|');
const row = (name, xs, goal) =>
  console.log(`| ${name} | ${ms(median(xs))} | ${ms(Math.min(...xs))} | ${ms(Math.max(...xs))} | ${goal === null ? '—' : ms(goal)} | ${goal === null ? '—' : (median(xs) / goal).toFixed(2)} |`);
row(`policy says detected -> verified alert at the receiver (n=${detectToAlert.length})`, detectToAlert, goalA);
row(`metrics turn bad -> verified alert (n=${badToAlert.length}; includes sustain_ticks 2)`, badToAlert, null);
row(`approval POST -> action started (n=${approvalToStart.length})`, approvalToStart, 1000);
process.exit(0);
