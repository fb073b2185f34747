/**
 * Status ticks on `runtime: swarm`: three real app servers on 127.0.0.1 play the replicas, reached
 * by the real replica scraper through a scripted Docker CLI (test/helpers/swarm-replicas.ts, the
 * exec'd script runs for real), judged by a real OPA, recorded in a real history file. The policies
 * judge the sum of the replicas, never one of them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readRecords } from '../../src/history/ledger.js';
import type { StatusPayload } from '../../src/history/types.js';
import { OpaClient } from '../../src/policy/client.js';
import { replicaScraper } from '../../src/runtime/replica-scraper.js';
import { createStatusDeps } from '../../src/status/deps.js';
import { StatusMonitor } from '../../src/status/tick.js';
import { requireOpa } from '../helpers/engines.js';
import { startOpa, type OpaServer } from '../helpers/opa.js';
import { replicaDockerCli, type ScriptedTask } from '../helpers/swarm-replicas.js';
import { postChaos, startApp, statusesOf, TEST_TOKEN, type RunningApp } from './app.harness.js';

const engine = requireOpa();
const WINDOW_S = 0.05;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let opa: OpaServer;
beforeAll(async () => {
  if (engine.path) opa = await startOpa();
});
afterAll(async () => {
  await opa?.close();
});

let dir: string;
let apps: RunningApp[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-swarm-status-'));
  apps = await Promise.all([0, 1, 2].map(() => startApp({ mode: 'stable', chaosToken: TEST_TOKEN })));
});
afterEach(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await rm(dir, { recursive: true, force: true });
});

function swarmMonitor(tasks: () => readonly ScriptedTask[]) {
  const historyFile = path.join(dir, 'history.jsonl');
  const r = replicaDockerCli(tasks);
  const deps = createStatusDeps({
    // Never asked on swarm: a closed port, so a scrape through it could not pass unnoticed.
    metricsUrl: 'http://127.0.0.1:1/metrics',
    scrapeReplicas: replicaScraper({ stack: 'shop', port: 3000, run: r.run }),
    client: new OpaClient({ url: opa.url, timeoutMs: 2000 }),
    thresholds: {
      infrastructure: { min_disk_free_gb: 0, max_cpu_load: 1000, min_memory_available_mb: 0 },
      canary: { max_error_rate: 0.05, max_p99_latency_seconds: 0.5, window_seconds: WINDOW_S, min_requests: 20 },
    },
    modes: { infrastructure: 'enforce', canary: 'enforce' },
    policyVersions: { infrastructure: 'i'.repeat(64), canary: 'c'.repeat(64) },
    recordPolicyVersion: 'p'.repeat(64),
    projectDir: dir,
    historyFile,
    actor: 'alice@example.com',
    manifestSha256: 'm'.repeat(64),
  });
  return { monitor: new StatusMonitor(deps, { windowSeconds: WINDOW_S, canaryEnforcement: 'enforce' }), historyFile, runner: r };
}

const running = (i: number, node = 'manager'): ScriptedTask => ({
  id: `task${i}`,
  name: `shop_app.${i + 1}`,
  node,
  state: 'Running 1 minute ago',
  container: { id: String(i + 1).repeat(64), url: apps[i]!.url },
});

describe.skipIf(!engine.path)(`status on swarm${engine.skipNote}`, () => {
  it('10 requests on each of 3 replicas: the canary policy judges the 30 (min_requests 20), allowed; each replica shown', async () => {
    const { monitor, historyFile } = swarmMonitor(() => [running(0), running(1), running(2)]);
    await monitor.prime();
    await Promise.all(apps.map((a) => statusesOf(`${a.url}/`, 10)));
    await pause(80);
    const tick = await monitor.tick();

    expect(tick.payload.error).toBeUndefined();
    expect(tick.payload.window).toMatchObject({ requests: 30, errors: 0 });
    expect(tick.payload.replicas?.map((r) => [r.name, r.node, r.window?.requests])).toEqual([
      ['shop_app.1', 'manager', 10],
      ['shop_app.2', 'manager', 10],
      ['shop_app.3', 'manager', 10],
    ]);
    expect(tick.payload.mode).toBe('stable');
    expect(tick.payload.decisions.canary).toMatchObject({ allowed: true });
    expect(tick.exit).toBe(0);
    const saved: StatusPayload[] = [];
    for await (const { record } of readRecords(historyFile)) saved.push(record.payload as StatusPayload);
    expect(saved).toHaveLength(1);
    expect((saved[0]!.replicas as Array<{ task: string }>).map((r) => r.task)).toEqual(['task0', 'task1', 'task2']);
  });

  it('one replica failing every request: the aggregate error rate is denied (exit 3), a replica on another node is listed, not scraped', async () => {
    await postChaos(apps[2]!.url, '{"mode":"error","rate":1}');
    const { monitor } = swarmMonitor(() => [running(0), running(1), running(2), { id: 'task9', name: 'shop_app.4', node: 'worker-2', state: 'Running 1 minute ago' }]);
    await monitor.prime();
    await Promise.all(apps.map((a) => statusesOf(`${a.url}/`, 10)));
    await pause(80);
    const tick = await monitor.tick();

    expect(tick.payload.window).toMatchObject({ requests: 30, errors: 10 });
    expect(tick.payload.replicas?.[2]?.window).toMatchObject({ requests: 10, errors: 10 });
    expect(tick.payload.replicas?.[3]).toEqual({ task: 'task9', name: 'shop_app.4', node: 'worker-2', window: null, error: "not scraped: on node worker-2, and docker exec reaches this node's containers only" });
    expect(tick.payload.decisions.canary).toMatchObject({ allowed: false, violations: [expect.objectContaining({ id: 'error_rate_too_high' })] });
    expect(tick.exit).toBe(3);
  });

  it('no replica answers: the tick says why, exit 1; prime refuses the same way', async () => {
    const { monitor } = swarmMonitor(() => [{ id: 'task9', name: 'shop_app.1', node: 'worker-2', state: 'Running 1 minute ago' }]);
    await expect(monitor.prime()).rejects.toThrow(/no app replica could be scraped \(1 listed\): not scraped: on node worker-2/);
    const tick = await monitor.tick();
    expect(tick.payload.error).toMatch(/^no app replica could be scraped/);
    expect(tick.payload.window).toBeNull();
    expect(tick.exit).toBe(1);
  });
});
