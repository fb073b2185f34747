/**
 * `swiftdeploy status --once` as a user runs it: the built CLI against a scripted /metrics server
 * on 127.0.0.1 (standing in for nginx) and a real `opa run --server` named by `opa.url`.
 */
import { execa } from 'execa';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requireOpa } from '../helpers/engines.js';
import { testManifest } from '../helpers/manifest.js';
import { startOpa, type OpaServer } from '../helpers/opa.js';

const engine = requireOpa();

const ROOT = path.resolve(import.meta.dirname, '../..');
// SWIFTDEPLOY_BIN runs the suite against another build of the CLI.
const BIN = process.env.SWIFTDEPLOY_BIN ?? path.join(ROOT, 'bin/swiftdeploy');
// No skip: `npm test` builds first, so a missing build or an unregistered command is a failure.

function manifest(nginxPort: number, opaUrl: string): string {
  return testManifest({
    'services.mode': 'canary',
    'nginx.port': nginxPort,
    'opa.url': opaUrl,
    'policy.infrastructure.min_disk_free_gb': 0,
    'policy.infrastructure.max_cpu_load': 1000,
    'policy.infrastructure.min_memory_available_mb': 0,
    'policy.canary.max_error_rate': 0.05,
    'policy.canary.window_seconds': 5,
    'observability.status_interval': 1,
  });
}

let dir: string;
let server: http.Server;
let port: number;
let opa: OpaServer;
const started = Date.now();

const run = (args: string[]) => execa(BIN, args, { cwd: dir, reject: false, env: { NO_COLOR: '1' }, timeout: 30_000 });

describe.skipIf(!engine.path)(`swiftdeploy status --once (CLI)${engine.skipNote}`, () => {
  beforeAll(async () => {
    opa = await startOpa();
  });
  afterAll(async () => {
    await opa?.close();
  });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'swiftdeploy-status-cli-'));
    // 40 requests a second, all fast and successful, counted from when the server started.
    server = http.createServer((req, res) => {
      const n = Math.floor(((Date.now() - started) / 1000) * 40);
      res.end(
        [
          `http_requests_total{method="GET",path="/",status_code="200"} ${n}`,
          `http_request_duration_seconds_bucket{le="0.1",method="GET",path="/"} ${n}`,
          `http_request_duration_seconds_bucket{le="+Inf",method="GET",path="/"} ${n}`,
          'app_mode 1',
          'chaos_active 0',
          'app_uptime_seconds 10',
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    await writeFile(path.join(dir, 'manifest.yaml'), manifest(port, opa.url));
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('healthy stack: samples one window, both policies allow, exit 0, one record', async () => {
    const r = await run(['--json', 'status', '--once']);
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { mode: string; exit_code: number; window: { requests: number }; decisions: Record<string, { allowed: boolean }> };
    expect(doc).toMatchObject({ mode: 'canary', exit_code: 0 });
    expect(doc.window.requests).toBeGreaterThanOrEqual(150);
    expect(doc.decisions.canary?.allowed).toBe(true);
    expect((await readFile(path.join(dir, 'history.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('metrics cannot be scraped: exit 1 at once, and the record says why', async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = http.createServer();
    const r = await run(['status', '--once']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('metrics unavailable: cannot scrape');
    expect(await readFile(path.join(dir, 'history.jsonl'), 'utf8')).toContain('"error":"cannot scrape');
  });
});
