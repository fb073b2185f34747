/**
 * The exposition is read with the CLI's own parser (src/metrics/parse.ts), so these tests also prove
 * the app and the CLI agree on the format.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DURATION_BUCKETS } from '../../src/app/metrics.js';
import { parsePrometheusText } from '../../src/metrics/parse.js';
import type { Sample } from '../../src/metrics/types.js';
import { http, pipelinedGets, postChaos, startApp, statusesOf, TEST_TOKEN, type RunningApp } from './app.harness.js';

async function scrape(url: string): Promise<Sample[]> {
  const res = await http(`${url}/metrics`);
  expect(res.status).toBe(200);
  return parsePrometheusText(res.text);
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found?.value;
}

/** Distinct series of the request metrics, ignoring `le` (a histogram's buckets are one series). */
function requestSeries(samples: Sample[]): Set<string> {
  const series = new Set<string>();
  for (const s of samples) {
    if (!s.name.startsWith('http_request')) continue;
    const { le: _le, ...labels } = s.labels;
    const family = s.name.replace(/_(bucket|sum|count)$/, '');
    series.add(`${family}${JSON.stringify(Object.entries(labels).sort())}`);
  }
  return series;
}

describe('app /metrics', () => {
  let running: RunningApp | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('counts exactly the requests made, by method, route template and status', async () => {
    running = await startApp({ mode: 'canary', chaosToken: TEST_TOKEN });
    const { url } = running;
    await statusesOf(`${url}/`, 7);
    await statusesOf(`${url}/healthz`, 3);
    await statusesOf(`${url}/no/such/page`, 4);
    await http(`${url}/`, { method: 'HEAD' });
    await http(`${url}/chaos`, { method: 'POST' }); // 401: no token
    await postChaos(url, '{"mode":"error","rate":2}'); // 400
    await http(`${url}/%zz`); // 400 from the router, outside Fastify's hooks
    await scrape(url); // this scrape is counted by the next one

    const samples = await scrape(url);
    const counts = samples.filter((s) => s.name === 'http_requests_total');
    const byKey = Object.fromEntries(
      counts.map((s) => [`${s.labels['method']} ${s.labels['path']} ${s.labels['status_code']}`, s.value]),
    );
    expect(byKey).toEqual({
      'GET / 200': 7,
      'GET /healthz 200': 3,
      'GET other 404': 4,
      'HEAD / 200': 1,
      'POST /chaos 401': 1,
      'POST /chaos 400': 1,
      'GET other 400': 1,
      'GET /metrics 200': 1,
    });
    expect(value(samples, 'app_mode')).toBe(1);
    expect(value(samples, 'chaos_active')).toBe(0);
    expect(value(samples, 'app_uptime_seconds')).toBeGreaterThan(0);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(value(samples, name), name).toBeGreaterThanOrEqual(0);
    }
  });

  it('histogram buckets are the documented ones, cumulative, and +Inf equals _count', async () => {
    running = await startApp({ mode: 'stable', chaosToken: TEST_TOKEN });
    const { url } = running;
    await statusesOf(`${url}/`, 5);
    await postChaos(url, '{"mode":"slow","duration":0.3}');
    await statusesOf(`${url}/`, 3, 3);
    await postChaos(url, '{"mode":"recover"}');

    const samples = await scrape(url);
    const buckets = samples.filter(
      (s) => s.name === 'http_request_duration_seconds_bucket' && s.labels['path'] === '/' && s.labels['method'] === 'GET',
    );
    expect(buckets.map((b) => b.labels['le'])).toEqual([...DURATION_BUCKETS.map(String), '+Inf']);
    for (let i = 1; i < buckets.length; i++) {
      expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    }
    const count = value(samples, 'http_request_duration_seconds_count', { method: 'GET', path: '/' });
    expect(count).toBe(8);
    expect(buckets.at(-1)!.value).toBe(count);
    // The 3 slowed requests took >= 0.3 s: outside le="0.25", inside le="1" (chaos delay is measured).
    expect(value(samples, 'http_request_duration_seconds_bucket', { method: 'GET', path: '/', le: '0.25' })).toBe(5);
    expect(value(samples, 'http_request_duration_seconds_bucket', { method: 'GET', path: '/', le: '1' })).toBe(8);
    const sum = value(samples, 'http_request_duration_seconds_sum', { method: 'GET', path: '/' })!;
    expect(sum).toBeGreaterThanOrEqual(0.9);
    expect(sum).toBeLessThan(3);
  });

  it('10,000 random URLs add only the two "other" series', async () => {
    running = await startApp({ mode: 'stable' });
    const { url } = running;
    await statusesOf(`${url}/`, 1);
    const before = await scrape(url);
    const seriesBefore = requestSeries(before);

    const paths = Array.from({ length: 10_000 }, (_, i) => randomPath(i));
    const statuses = await pipelinedGets(url, paths);
    expect(statuses.filter((s) => s === 404)).toHaveLength(10_000);

    const after = await scrape(url);
    const added = [...requestSeries(after)].filter((s) => !seriesBefore.has(s));
    // The scrape before was itself counted: GET /metrics adds a counter and a histogram series.
    const expected = new Set([
      'http_requests_total[["method","GET"],["path","other"],["status_code","404"]]',
      'http_request_duration_seconds[["method","GET"],["path","other"]]',
      'http_requests_total[["method","GET"],["path","/metrics"],["status_code","200"]]',
      'http_request_duration_seconds[["method","GET"],["path","/metrics"]]',
    ]);
    expect(new Set(added)).toEqual(expected);
    expect(value(after, 'http_requests_total', { method: 'GET', path: 'other', status_code: '404' })).toBe(10_000);
  });

  it('methods outside the known verbs are counted as OTHER', async () => {
    running = await startApp({ mode: 'stable' });
    const { url } = running;
    for (const method of ['PROPFIND', 'PURGE', 'MKCOL', 'LOCK', 'GET', 'OPTIONS']) {
      await http(`${url}/x`, { method });
    }
    const methods = new Set(
      (await scrape(url)).filter((s) => s.name === 'http_requests_total').map((s) => s.labels['method']),
    );
    expect(methods).toEqual(new Set(['OTHER', 'GET', 'OPTIONS']));
  });
});

/** Deterministic variety: near-miss routes, deep paths, encodings, query strings, long segments. */
function randomPath(i: number): string {
  const nearMisses = ['/healthz/', '/healthz/x', '/metrics.json', '/chaos/1', '/index.html', '/HEALTHZ', '/.env'];
  const segment = (n: number): string => Math.random().toString(36).slice(2, 2 + n);
  switch (i % 5) {
    case 0:
      return nearMisses[i % nearMisses.length]!;
    case 1:
      return `/${segment(8)}/${segment(6)}/${i}`;
    case 2:
      return `/u/${encodeURIComponent(`é ${segment(4)}`)}?q=${segment(10)}`;
    case 3:
      return `/${segment(10).repeat(20)}`;
    default:
      return `/api/v${i % 7}/items/${i}?page=${i}`;
  }
}
