// Policy path latency: p50/p99 of 1,000 sequential decisions over one keep-alive connection to a
// local OPA (a real `opa run --server` on policies/ started here, see bench/opa.mjs; or the one at
// --url), against two baselines measured in the same run: GET /health on the same connection (the
// transport floor) and the same decision with a new connection each time. Plus the cost of gathering
// host facts.
//
//   npm run build && node bench/policy/decisions.mjs [--url http://127.0.0.1:8181] [--rounds 5]
//
// Target (issue 4): p99 < 5 ms on loopback.
import os from 'node:os';
import { Agent, request } from 'undici';
import { OpaClient } from '../../dist/policy/client.js';
import { gatherHostFacts } from '../../dist/policy/host-facts.js';
import { startBenchOpa } from '../opa.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const ROUNDS = Number(flag('--rounds', '5'));
const N = 1000;

const input = {
  question: 'pre_deploy',
  facts: { disk_free_gb: 50.5, disk_path: '/var/lib/docker', cpu_load_1m: 1.2, cpu_cores: 4, cpu_load_per_core: 0.3,
    memory_available_mb: 4096, sources: { disk_free_gb: 'statfs:/var/lib/docker' } },
  thresholds: { min_disk_free_gb: 10, max_cpu_load: 2, min_memory_available_mb: 512 },
};

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
async function timeEach(n, fn) {
  const ms = [];
  for (let i = 0; i < n; i += 1) {
    const t = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) };
}
async function rounds(label, n, fn) {
  await timeEach(Math.min(100, n), fn); // warm up: JIT, connection
  const rs = [];
  for (let r = 0; r < ROUNDS; r += 1) rs.push(await timeEach(n, fn));
  const p50 = median(rs.map((x) => x.p50));
  const p99 = median(rs.map((x) => x.p99));
  console.log(`${label.padEnd(44)} p50 ${p50.toFixed(3)} ms   p99 ${p99.toFixed(3)} ms   (median of ${ROUNDS} rounds x ${n})`);
  return { p50, p99 };
}

let url = flag('--url', null);
const opa = url ? null : await startBenchOpa();
url ??= opa.url;
const engine = opa ? `opa run --server ${opa.version} (${opa.binary}), loaded with policies/` : 'the OPA given by --url';
console.log(`policy bench against ${url}: ${engine}; node ${process.version}`);
console.log(`host: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at start`);

const client = new OpaClient({ url });
const floorAgent = new Agent({ keepAliveTimeout: 10_000, connections: 1 });
try {
  const floor = await rounds('GET /health, keep-alive (transport floor)', N, async () => {
    const res = await request(`${url}/health`, { dispatcher: floorAgent });
    await res.body.text();
  });
  const decide = await rounds('decision, keep-alive (OpaClient.decide)', N, () => client.decide('infrastructure', input));
  const body = JSON.stringify({ input });
  const fresh = await rounds('decision, new connection each time', 200, async () => {
    const res = await request(client.decisionUrl('infrastructure'), { method: 'POST', body, reset: true,
      headers: { 'content-type': 'application/json' }, dispatcher: floorAgent });
    await res.body.text();
  });
  const facts = await rounds('gatherHostFacts (statfs, loadavg, meminfo)', 200, () => gatherHostFacts({ projectDir: process.cwd() }));
  console.log('');
  console.log(`decision p99 ${decide.p99.toFixed(3)} ms vs target 5 ms: ${decide.p99 < 5 ? 'within' : 'OVER'} target`);
  console.log(`decision / transport floor (p50): ${(decide.p50 / floor.p50).toFixed(2)}x`);
  console.log(`new connection / keep-alive (p50): ${(fresh.p50 / decide.p50).toFixed(2)}x`);
  console.log(`host facts p50 ${facts.p50.toFixed(3)} ms, p99 ${facts.p99.toFixed(3)} ms`);
  console.log(`load average at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  await client.close();
  await floorAgent.close();
  await opa?.close();
}
