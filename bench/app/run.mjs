#!/usr/bin/env node
// Benchmark: GET / throughput and p99 with prom-client metrics on, against the same server with
// metrics off, in one run. Each variant is its own process (one core each on a 2-core machine would
// be ideal; here the load generator shares them). Rounds alternate the order so drift in machine load
// hits both variants alike; figures are medians over rounds.
//
//   node bench/app/run.mjs [--rounds 5] [--duration 5] [--connections 32]
//
// Needs dist/app: `npx tsc -p src/app/tsconfig.json`.
import autocannon from 'autocannon';
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const connections = Number(values.connections);
if (![rounds, duration, connections].every((n) => Number.isInteger(n) && n > 0)) {
  console.error('bench/app: --rounds, --duration and --connections take positive integers');
  process.exit(2);
}
if (!existsSync(join(root, 'dist', 'app', 'server.js'))) {
  console.error('bench/app: dist/app is missing; run: npx tsc -p src/app/tsconfig.json');
  process.exit(2);
}

function start(variant) {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'serve.mjs'), [variant], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('message', (msg) => resolve({ child, url: `http://127.0.0.1:${msg.port}/` }));
    child.once('exit', (code) => reject(new Error(`${variant} server exited ${code}`)));
  });
}

const load = (url, seconds) => autocannon({ url, connections, duration: seconds });
/** Server CPU time (user + system) in microseconds, asked over IPC. */
const cpuOf = (child) =>
  new Promise((resolve) => {
    child.once('message', (msg) => resolve(msg.cpu.user + msg.cpu.system));
    child.send('cpu');
  });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const servers = { on: await start('on'), off: await start('off') };
try {
  // Warm-up: JIT, prom-client's label children, keep-alive sockets.
  await load(servers.on.url, 2);
  await load(servers.off.url, 2);
  const results = { on: [], off: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const variant of order) {
      const cpuBefore = await cpuOf(servers[variant].child);
      const r = await load(servers[variant].url, duration);
      const cpuUs = (await cpuOf(servers[variant].child)) - cpuBefore;
      if (r.errors > 0 || r.non2xx > 0) throw new Error(`${variant}: ${r.errors} errors, ${r.non2xx} non-2xx`);
      const cpuPerRequest = cpuUs / r.requests.total;
      results[variant].push({ rps: r.requests.average, p99: r.latency.p99, cpu_us_per_request: cpuPerRequest });
      console.log(
        `round ${round + 1} metrics ${variant.padEnd(3)}  ${r.requests.average.toFixed(0).padStart(6)} req/s  p99 ${String(r.latency.p99).padStart(4)} ms  server CPU ${cpuPerRequest.toFixed(1)} µs/req`,
      );
    }
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([variant, rs]) => [
      variant,
      {
        rps: median(rs.map((r) => r.rps)),
        p99_ms: median(rs.map((r) => r.p99)),
        cpu_us_per_request: median(rs.map((r) => r.cpu_us_per_request)),
      },
    ]),
  );
  const cost = 1 - summary.on.rps / summary.off.rps;
  // A CPU-bound server's throughput is 1 / (CPU per request), so this is the throughput cost the
  // metrics would have on an otherwise idle core.
  const cpuCost = 1 - summary.off.cpu_us_per_request / summary.on.cpu_us_per_request;
  console.log('');
  console.log(`GET /, ${connections} connections, ${rounds} rounds x ${duration} s, medians:`);
  for (const [label, variant] of [['metrics off (baseline)', 'off'], ['metrics on', 'on']]) {
    const v = summary[variant];
    console.log(
      `  ${label.padEnd(22)}  ${v.rps.toFixed(0).padStart(6)} req/s  p99 ${String(v.p99_ms).padStart(4)} ms  server CPU ${v.cpu_us_per_request.toFixed(1)} µs/req`,
    );
  }
  console.log(`  throughput cost of metrics, measured req/s:        ${(cost * 100).toFixed(1)}% (target < 15%)`);
  console.log(`  throughput cost of metrics, from server CPU/req:   ${(cpuCost * 100).toFixed(1)}%`);
  console.log(`  machine: ${cpus().length} cpus, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  mkdirSync(join(root, 'bench', 'out'), { recursive: true });
  writeFileSync(
    join(root, 'bench', 'out', 'app.json'),
    `${JSON.stringify({ at: new Date().toISOString(), connections, rounds, duration, results, summary, cost, cpuCost }, null, 2)}\n`,
  );
} finally {
  servers.on.child.kill('SIGTERM');
  servers.off.child.kill('SIGTERM');
}
