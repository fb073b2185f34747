/**
 * `swiftdeploy guard` as a user runs it: the built CLI against a /metrics server on 127.0.0.1 (in
 * nginx's place) that answers only errors, and a real OPA named by `opa.url`. In shadow mode it
 * records and prints what it would do, runs nothing, and Ctrl-C ends it with exit 130.
 */
import { execa } from 'execa';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireOpa } from '../helpers/engines.js';
import { readEventRecords } from '../helpers/history.js';
import { testManifest } from '../helpers/manifest.js';
import { startOpa, type OpaServer } from '../helpers/opa.js';

const engine = requireOpa();
const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = process.env.SWIFTDEPLOY_BIN ?? path.join(ROOT, 'bin/swiftdeploy');

describe.skipIf(!engine.path)(`swiftdeploy guard (CLI)${engine.skipNote}`, () => {
  let opa: OpaServer;
  let dir: string;
  let server: http.Server;
  beforeAll(async () => {
    opa = await startOpa();
    dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-guard-cli-'));
    let n = 0;
    // 100 requests a scrape, every one a 500.
    server = http.createServer((_req, res) => {
      n += 100;
      res.end(
        [
          `http_requests_total{method="GET",path="/",status_code="500"} ${n}`,
          `http_request_duration_seconds_bucket{le="0.1",method="GET",path="/"} ${n}`,
          `http_request_duration_seconds_bucket{le="+Inf",method="GET",path="/"} ${n}`,
          'app_mode 0',
          'chaos_active 2',
          'app_uptime_seconds 10',
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await writeFile(
      path.join(dir, 'manifest.yaml'),
      testManifest({
        'nginx.port': (server.address() as AddressInfo).port,
        'opa.url': opa.url,
        'policy.infrastructure.min_disk_free_gb': 0,
        'policy.infrastructure.max_cpu_load': 1000,
        'policy.infrastructure.min_memory_available_mb': 0,
        'policy.canary.window_seconds': 5,
        'observability.status_interval': 0.5,
        guard: { sustain_ticks: 2, recover_ticks: 2 },
      }),
    );
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await opa?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shadow by default: prints [SHADOW] stages, records them with actors, runs nothing; Ctrl-C exits 130', async () => {
    const child = execa(BIN, ['guard', '--json'], { cwd: dir, reject: false, env: { NO_COLOR: '1' }, timeout: 30_000 });
    let stdout = '';
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('"stage":"proposed"')) resolve();
      });
      void child.then(() => resolve());
    });
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(130);
    const docs = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; stage?: string; summary?: string; guard?: { detected: boolean } });
    expect(docs.filter((d) => d.type === 'tick').length).toBeGreaterThanOrEqual(2);
    const stages = docs.filter((d) => d.type === 'stage');
    expect(stages.map((d) => d.stage)).toEqual(['detected', 'proposed']);
    expect(stages.every((d) => d.summary!.startsWith('[SHADOW] '))).toBe(true);
    expect(stages[1]!.summary).toMatch(/^\[SHADOW\] would have proposed rollback /);
    const records = (await readEventRecords(path.join(dir, 'history.jsonl'))).filter((x) => x.payload.action === 'guard');
    expect(records.map((x) => [x.payload.stage, x.actor])).toEqual([
      ['detected', 'policy'],
      ['proposed', 'guard'],
    ]);
    expect(records.every((x) => (x.payload.incident as { shadow: boolean }).shadow)).toBe(true);
  }, 40_000);
});
