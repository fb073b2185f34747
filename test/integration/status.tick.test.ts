/**
 * Status ticks against real local servers: a scripted /metrics endpoint on 127.0.0.1 (standing in
 * for nginx in front of the app), a real `opa run --server` loaded with policies/ (a closed port for
 * an engine that is down), and a real history file in a temp dir.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readRecords, verifyHistory } from '../../src/history/ledger.js';
import type { HistoryRecord, StatusPayload } from '../../src/history/types.js';
import { OpaClient } from '../../src/policy/client.js';
import { createStatusDeps, type StatusWiring } from '../../src/status/deps.js';
import { runStatusLoop } from '../../src/status/loop.js';
import { StatusMonitor } from '../../src/status/tick.js';
import { requireOpa } from '../helpers/engines.js';
import { deadOpaUrl, startOpa, type OpaServer } from '../helpers/opa.js';

const engine = requireOpa();

interface Traffic {
  ok: number;
  errors: number;
  /** Observations per bucket upper bound; the rest land in +Inf. */
  fast: number;
  slow: number;
  mode?: 0 | 1;
}

function exposition(t: Traffic): string {
  const total = t.ok + t.errors;
  const labels = 'method="GET",path="/"';
  return [
    '# TYPE http_requests_total counter',
    `http_requests_total{${labels},status_code="200"} ${t.ok}`,
    `http_requests_total{${labels},status_code="500"} ${t.errors}`,
    // swiftdeploy's own scrapes: must never count as traffic
    `http_requests_total{method="GET",path="/metrics",status_code="200"} 999`,
    '# TYPE http_request_duration_seconds histogram',
    `http_request_duration_seconds_bucket{le="0.05",${labels}} ${t.fast}`,
    `http_request_duration_seconds_bucket{le="1",${labels}} ${t.fast + t.slow}`,
    `http_request_duration_seconds_bucket{le="+Inf",${labels}} ${total}`,
    `http_request_duration_seconds_sum{${labels}} 1`,
    `http_request_duration_seconds_count{${labels}} ${total}`,
    `app_mode ${t.mode ?? 1}`,
    'chaos_active 2',
    'app_uptime_seconds 123.4',
    'process_start_time_seconds 1700000000',
    '',
  ].join('\n');
}

let dir: string;
let traffic: Traffic;
/** Called after each /metrics answer, for tests that change the traffic between two scrapes. */
let afterScrape: (() => void) | undefined;
let metrics: http.Server;
let metricsUrl: string;
let opa: OpaServer;

// One OPA for the file, for the describes that need it (they skip, or in CI fail, without one).
beforeAll(async () => {
  if (engine.path) opa = await startOpa();
});
afterAll(async () => {
  await opa?.close();
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-status-'));
  traffic = { ok: 0, errors: 0, fast: 0, slow: 0 };
  afterScrape = undefined;
  metrics = http.createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition(traffic));
    afterScrape?.();
  });
  await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
  metricsUrl = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;
});

afterEach(async () => {
  metrics.closeAllConnections();
  await new Promise((resolve) => metrics.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const WINDOW_S = 0.05;

function monitor(
  opaUrl: string,
  canaryMode: 'enforce' | 'shadow' = 'enforce',
  extra: Pick<StatusWiring, 'trackMetricsUrls'> = {},
): { monitor: StatusMonitor; historyFile: string } {
  const historyFile = path.join(dir, 'history.jsonl');
  const deps = createStatusDeps({
    ...extra,
    metricsUrl,
    client: new OpaClient({ url: opaUrl, timeoutMs: 500 }),
    thresholds: {
      infrastructure: { min_disk_free_gb: 0, max_cpu_load: 1000, min_memory_available_mb: 0 },
      canary: { max_error_rate: 0.05, max_p99_latency_seconds: 0.5, window_seconds: WINDOW_S, min_requests: 20 },
    },
    modes: { infrastructure: 'enforce', canary: canaryMode },
    policyVersions: { infrastructure: 'i'.repeat(64), canary: 'c'.repeat(64) },
    recordPolicyVersion: 'p'.repeat(64),
    projectDir: dir,
    historyFile,
    actor: 'alice@example.com',
    manifestSha256: 'm'.repeat(64),
  });
  return { monitor: new StatusMonitor(deps, { windowSeconds: WINDOW_S, canaryEnforcement: canaryMode }), historyFile };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function records(file: string): Promise<HistoryRecord[]> {
  const out: HistoryRecord[] = [];
  for await (const { record } of readRecords(file)) out.push(record);
  return out;
}

describe.skipIf(!engine.path)(`status tick${engine.skipNote}`, () => {
  it('healthy canary: both policies allow, exit 0, one complete record', async () => {
    const { monitor: m, historyFile } = monitor(opa.url);
    await m.prime();
    traffic = { ok: 200, errors: 0, fast: 200, slow: 0 };
    await pause(80);
    const tick = await m.tick();
    expect(tick.exit).toBe(0);
    expect(tick.payload).toMatchObject({ mode: 'canary', chaos: { mode: 'error' }, uptime_seconds: 123 });
    expect(tick.payload.window).toMatchObject({ requests: 200, errors: 0, error_rate: 0 });
    const saved = await records(historyFile);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ kind: 'status', actor: 'alice@example.com', seq: 1 });
    expect((saved[0]!.payload as StatusPayload).decisions.canary).toMatchObject({ allowed: true, enforcement: 'enforce' });
  });

  it('100% errors at low latency is a deny (each signal judged on its own), recorded, exit 3', async () => {
    const { monitor: m, historyFile } = monitor(opa.url);
    await m.prime();
    traffic = { ok: 0, errors: 100, fast: 100, slow: 0 };
    await pause(80);
    const tick = await m.tick();
    expect(tick.exit).toBe(3);
    const canary = tick.payload.decisions.canary as { allowed: boolean; violations: Array<{ id: string }> };
    expect(canary.allowed).toBe(false);
    expect(canary.violations.map((v) => v.id)).toContain('error_rate_too_high');
    expect(tick.payload.window?.p99_seconds).toBeLessThan(0.06);
    expect((await verifyHistory(historyFile)).ok).toBe(true);
  });

  it('metrics that cannot be scraped: exit 1, and the record says why', async () => {
    const { monitor: m, historyFile } = monitor(opa.url);
    await m.prime();
    metrics.closeAllConnections();
    await new Promise((resolve) => metrics.close(resolve));
    const tick = await m.tick();
    expect(tick.exit).toBe(1);
    expect(tick.payload.error).toMatch(/cannot scrape/);
    expect(tick.payload.decisions.canary).toMatchObject({ unavailable: 'no metrics window: the scrape failed' });
    const saved = await records(historyFile);
    expect((saved[0]!.payload as StatusPayload).error).toMatch(/cannot scrape/);
    metrics = http.createServer(); // afterEach closes it
  });
});

describe('status tick: policy engine down', () => {
  it('engine unavailable is shown per domain and exits 4, never read as an allow', async () => {
    const { monitor: m, historyFile } = monitor(await deadOpaUrl());
    await m.prime();
    traffic = { ok: 100, errors: 0, fast: 100, slow: 0 };
    await pause(80);
    const tick = await m.tick();
    expect(tick.exit).toBe(4);
    expect(tick.payload.decisions.infrastructure).toHaveProperty('unavailable');
    expect(tick.payload.decisions.canary).toHaveProperty('unavailable');
    expect(await records(historyFile)).toHaveLength(1);
  });
});

describe.skipIf(!engine.path)(`status loop${engine.skipNote}`, () => {
  it('--once samples a whole window, then exits with the tick code', async () => {
    const { monitor: m } = monitor(opa.url);
    const started = Date.now();
    traffic = { ok: 50, errors: 0, fast: 50, slow: 0 };
    // The second scrape sees 100 more requests, however late the scheduler runs it (a timer here
    // raced the window's second scrape on a loaded machine).
    afterScrape = () => {
      traffic = { ok: 150, errors: 0, fast: 150, slow: 0 };
      afterScrape = undefined;
    };
    const code = await runStatusLoop({ monitor: m, intervalMs: 10_000, windowMs: 100, once: true, signal: new AbortController().signal, onTick: () => undefined });
    expect(code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('an interrupt ends the loop between ticks: exit 130, every record complete', async () => {
    const { monitor: m, historyFile } = monitor(opa.url);
    const abort = new AbortController();
    let ticks = 0;
    const code = await runStatusLoop({
      monitor: m,
      intervalMs: 30,
      windowMs: 30,
      once: false,
      signal: abort.signal,
      maxTicks: 50,
      onTick: () => {
        traffic = { ...traffic, ok: traffic.ok + 30, fast: traffic.fast + 30 };
        if (++ticks === 3) abort.abort();
      },
    });
    expect(code).toBe(130);
    expect(ticks).toBe(3);
    const result = await verifyHistory(historyFile);
    expect(result).toMatchObject({ ok: true, records: 3 });
  });
});

describe.skipIf(!engine.path)(`status tick during a progressive rollout${engine.skipNote}`, () => {
  it("each track's own window from its own /metrics; a track that cannot be scraped is null; no rollout, no tracks", async () => {
    const per: Record<'stable' | 'canary', Traffic> = { stable: { ok: 0, errors: 0, fast: 0, slow: 0 }, canary: { ok: 0, errors: 0, fast: 0, slow: 0 } };
    let canaryUp = true;
    const server = http.createServer((req, res) => {
      const track = req.url === '/stable/metrics' ? 'stable' : req.url === '/canary/metrics' ? 'canary' : undefined;
      if (track === undefined || (track === 'canary' && !canaryUp)) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(exposition(per[track]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let rolloutOn = true;
    try {
      const { monitor: m, historyFile } = monitor(opa.url, 'enforce', {
        trackMetricsUrls: async () => (rolloutOn ? { stable: `${base}/stable/metrics`, canary: `${base}/canary/metrics` } : undefined),
      });
      await m.prime();
      const first = await m.tick();
      // one scrape per track so far: totals, not a window yet
      expect(first.payload.tracks).toEqual({ stable: null, canary: null });
      per.stable = { ok: 90, errors: 0, fast: 90, slow: 0 };
      per.canary = { ok: 7, errors: 3, fast: 10, slow: 0 };
      await pause(80);
      const second = await m.tick();
      expect(second.payload.tracks?.stable).toMatchObject({ requests: 90, errors: 0, error_rate: 0 });
      expect(second.payload.tracks?.canary).toMatchObject({ requests: 10, errors: 3, error_rate: 0.3 });
      canaryUp = false;
      await pause(80);
      const third = await m.tick();
      expect(third.payload.tracks?.canary).toBeNull();
      expect(third.payload.tracks?.stable).not.toBeNull();
      rolloutOn = false;
      const fourth = await m.tick();
      expect(fourth.payload.tracks).toBeUndefined();
      const saved = await records(historyFile);
      expect((saved[1]!.payload as StatusPayload).tracks?.canary).toMatchObject({ requests: 10 });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
