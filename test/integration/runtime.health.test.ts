import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pollHealth, type HealthTick } from '../../src/runtime/health.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A real server on 127.0.0.1 answering the n-th request with statuses[n] (the last one repeats). */
async function serve(statuses: number[], delayMs = 0): Promise<string> {
  let n = 0;
  server = createServer((_req, res) => {
    const status = statuses[Math.min(n++, statuses.length - 1)] ?? 500;
    setTimeout(() => res.writeHead(status).end(String(status)), delayMs);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server?.address() as AddressInfo).port}/healthz`;
}

describe('pollHealth against a real HTTP server', () => {
  it('keeps polling through failures until a 2xx', async () => {
    const url = await serve([503, 502, 200]);
    const ticks: HealthTick[] = [];
    const outcome = await pollHealth(url, { intervalMs: 20, timeoutMs: 5_000, onTick: (t) => ticks.push(t) });
    expect(outcome).toMatchObject({ healthy: true, attempts: 3 });
    expect(ticks.map((t) => t.status)).toEqual([503, 502, 200]);
  });

  it('gives up at the deadline and reports the last answer', async () => {
    const url = await serve([500]);
    const started = Date.now();
    const outcome = await pollHealth(url, { intervalMs: 50, timeoutMs: 800 });
    expect(outcome.healthy).toBe(false);
    // The final attempt may be cut off by the deadline on a loaded machine; the status seen before stays.
    expect(outcome.lastStatus).toBe(500);
    expect(outcome.attempts).toBeGreaterThan(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reports a connection error when nothing listens', async () => {
    const url = await serve([200]);
    server?.close();
    server = undefined;
    const outcome = await pollHealth(url, { intervalMs: 50, timeoutMs: 300 });
    expect(outcome.healthy).toBe(false);
    expect(outcome.last?.error).toMatch(/ECONNREFUSED/);
  });

  it('does not let a hanging server outlive the deadline', async () => {
    const url = await serve([200], 10_000);
    const started = Date.now();
    const outcome = await pollHealth(url, { intervalMs: 50, timeoutMs: 500 });
    expect(outcome.healthy).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('stops when aborted', async () => {
    const url = await serve([503]);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const outcome = await pollHealth(url, { intervalMs: 50, timeoutMs: 10_000, signal: ac.signal });
    expect(outcome).toMatchObject({ healthy: false, aborted: true });
  });

  it('refuses a zero interval', async () => {
    await expect(pollHealth('http://127.0.0.1:1/', { intervalMs: 0, timeoutMs: 100 })).rejects.toThrow(RangeError);
  });
});
