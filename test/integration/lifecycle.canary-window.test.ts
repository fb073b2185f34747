/**
 * The core emits, the CLI draws: sampling a canary window through a real /metrics server on
 * 127.0.0.1 reports its progress as typed events to the sink it is given, and nothing else.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Reporter, type OperationEvent } from '../../src/events.js';
import { sampleWindow } from '../../src/lifecycle/canary-window.js';

let server: http.Server;
let url: string;
let requests = 0;

beforeEach(async () => {
  requests = 0;
  const started = Date.now();
  server = http.createServer((_req, res) => {
    requests++;
    const n = Math.floor(((Date.now() - started) / 1000) * 20);
    res.end(
      [
        `http_requests_total{method="GET",path="/",status_code="200"} ${n}`,
        `http_request_duration_seconds_bucket{le="0.1",method="GET",path="/"} ${n}`,
        `http_request_duration_seconds_bucket{le="+Inf",method="GET",path="/"} ${n}`,
        '',
      ].join('\n'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('sampleWindow', () => {
  it('samples for the window, emitting progress start, updates with a bar, and done', async () => {
    const events: OperationEvent[] = [];
    const started = Date.now();
    const { window, source } = await sampleWindow(url, 2, new Reporter({ emit: (e) => events.push(e) }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(source).toBe('sampled through nginx for 2s');
    expect(window.seconds).toBeGreaterThanOrEqual(1.9);
    expect(window.requests).toBeGreaterThanOrEqual(30);
    expect(requests).toBeGreaterThanOrEqual(3);
    expect(events[0]).toEqual({ kind: 'progress-start', id: 'p1', label: 'sampling the canary window' });
    const updates = events.filter((e) => e.kind === 'progress-update');
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.at(-1)).toMatchObject({ id: 'p1', detail: `[${'#'.repeat(30)}] 2/2s` });
    expect(events.at(-1)).toEqual({ kind: 'progress-done', id: 'p1', message: 'sampled the canary window' });
    expect(events.every((e) => e.kind.startsWith('progress-'))).toBe(true);
  });

  it('a metrics endpoint that cannot be scraped is an OperationFailed naming it, before any event', async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = http.createServer();
    const events: OperationEvent[] = [];
    await expect(sampleWindow(url, 2, new Reporter({ emit: (e) => events.push(e) }))).rejects.toThrow(/cannot scrape .* for the canary window/);
    expect(events).toEqual([]);
  });
});
