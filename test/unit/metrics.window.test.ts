import { describe, expect, it } from 'vitest';
import type { Sample, Snapshot } from '../../src/metrics/types.js';
import { histogramQuantile, windowStats } from '../../src/metrics/window.js';

const INF = Number.POSITIVE_INFINITY;
const b = (pairs: Array<[number, number]>) => pairs.map(([le, count]) => ({ le, count }));

describe('histogramQuantile (PromQL semantics, hand-computed)', () => {
  // Cumulative: 10 obs <= 0.1, 30 <= 0.5, 40 <= 1, none above.
  const buckets = b([[0.1, 10], [0.5, 30], [1, 40], [INF, 40]]);

  it('interpolates linearly inside the bucket holding the rank', () => {
    // rank 20 lies in (0.1, 0.5]: 10 of its 20 observations -> 0.1 + 0.4 * 10/20
    expect(histogramQuantile(0.5, buckets).value).toBeCloseTo(0.3, 12);
    expect(histogramQuantile(0.5, buckets).capped).toBe(false);
    // rank 38 in (0.5, 1]: 8 of 10 -> 0.5 + 0.5 * 0.8
    expect(histogramQuantile(0.95, buckets).value).toBeCloseTo(0.9, 12);
    // rank 39.6 -> 0.5 + 0.5 * 0.96
    expect(histogramQuantile(0.99, buckets).value).toBeCloseTo(0.98, 12);
  });

  it('interpolates the lowest bucket from 0', () => {
    // rank 4 of the 10 in (0, 0.1] -> 0.04
    expect(histogramQuantile(0.1, buckets).value).toBeCloseTo(0.04, 12);
  });

  it('reports the highest finite bound, capped, when the rank falls in +Inf', () => {
    const slow = b([[0.1, 1], [0.5, 2], [INF, 10]]);
    expect(histogramQuantile(0.5, slow)).toEqual({ value: 0.5, capped: true });
    expect(histogramQuantile(0.2, slow)).toEqual({ value: 0.5, capped: false });
  });

  it('skips empty buckets', () => {
    const sparse = b([[0.1, 0], [0.25, 0], [0.5, 4], [1, 4], [INF, 4]]);
    // rank 2 of 4 in (0.25, 0.5] -> 0.25 + 0.25 * 0.5
    expect(histogramQuantile(0.5, sparse).value).toBeCloseTo(0.375, 12);
    expect(histogramQuantile(0.99, sparse).value).toBeCloseTo(0.4975, 12);
  });

  it('handles a single finite bucket', () => {
    const single = b([[2, 5], [INF, 5]]);
    expect(histogramQuantile(0.5, single).value).toBe(1);
    expect(histogramQuantile(0.99, single).value).toBeCloseTo(1.98, 12);
  });

  it('gives null for no observations, only a +Inf bucket, or no +Inf bucket', () => {
    expect(histogramQuantile(0.5, b([[0.1, 0], [INF, 0]]))).toEqual({ value: null, capped: false });
    expect(histogramQuantile(0.5, b([[INF, 5]]))).toEqual({ value: null, capped: false });
    expect(histogramQuantile(0.5, b([[0.1, 5], [1, 5]]))).toEqual({ value: null, capped: false });
    expect(histogramQuantile(0.5, [])).toEqual({ value: null, capped: false });
  });

  it('accepts buckets in any order and forces cumulative counts monotonic', () => {
    const shuffled = b([[INF, 40], [0.5, 30], [0.1, 10], [1, 39.999]]);
    expect(histogramQuantile(0.95, shuffled).value).toBeCloseTo(0.5 + 0.5 * (8 / 9.999), 12);
  });

  it('refuses a quantile outside [0, 1]', () => {
    expect(() => histogramQuantile(1.5, buckets)).toThrow(RangeError);
    expect(() => histogramQuantile(Number.NaN, buckets)).toThrow(RangeError);
  });
});

// --- windows between snapshots ---------------------------------------------------------------

type Counts = Record<string, number>;

/** `{"GET / 200": 5}` style request counters plus optional histogram buckets per "METHOD PATH". */
function snapshot(
  at: number,
  requests: Counts,
  histograms: Record<string, Array<[number, number]>> = {},
  processStart?: number,
): Snapshot {
  const samples: Sample[] = [];
  for (const [key, value] of Object.entries(requests)) {
    const [method, path, status_code] = key.split(' ') as [string, string, string];
    samples.push({ name: 'http_requests_total', labels: { method, path, status_code }, value });
  }
  for (const [key, pairs] of Object.entries(histograms)) {
    const [method, path] = key.split(' ') as [string, string];
    for (const [le, value] of pairs) {
      samples.push({ name: 'http_request_duration_seconds_bucket', labels: { method, path, le: le === INF ? '+Inf' : String(le) }, value });
    }
  }
  if (processStart !== undefined) samples.push({ name: 'process_start_time_seconds', labels: {}, value: processStart });
  return { at, samples };
}

describe('windowStats', () => {
  it('computes rate and error rate from counter increases, excluding swiftdeploy traffic', () => {
    const older = snapshot(1_000, { 'GET / 200': 100, 'GET / 500': 5, 'GET /metrics 200': 50, 'GET /healthz 200': 30, 'POST /chaos 200': 1 });
    const newer = snapshot(11_000, { 'GET / 200': 190, 'GET / 500': 15, 'GET /metrics 200': 60, 'GET /healthz 200': 40, 'POST /chaos 200': 2 });
    const w = windowStats(older, newer);
    expect(w).toMatchObject({ from: 1_000, to: 11_000, seconds: 10, requests: 100, errors: 10, requests_per_second: 10, error_rate: 0.1, counter_resets: 0 });
  });

  it('counts only 5xx as errors', () => {
    const w = windowStats(snapshot(0, {}), snapshot(1_000, { 'GET / 404': 3, 'GET / 499': 1, 'GET / 503': 4 }));
    expect(w.errors).toBe(4);
    expect(w.error_rate).toBe(0.5);
  });

  it('takes quantiles from bucket increases, not totals, and ignores excluded paths', () => {
    const older = snapshot(0, { 'GET / 200': 10 }, { 'GET /': [[0.1, 10], [1, 10], [INF, 10]], 'GET /metrics': [[0.1, 0], [1, 0], [INF, 0]] });
    // In the window: 10 more requests, all between 0.1 s and 1 s; /metrics got 100 very slow ones.
    const newer = snapshot(10_000, { 'GET / 200': 20 }, { 'GET /': [[0.1, 10], [1, 20], [INF, 20]], 'GET /metrics': [[0.1, 0], [1, 0], [INF, 100]] });
    const w = windowStats(older, newer);
    expect(w.p50_seconds).toBeCloseTo(0.55, 12); // rank 5 of 10 in (0.1, 1]
    expect(w.p99_seconds).toBeCloseTo(0.991, 12);
    expect(w.quantiles_capped).toBe(false);
  });

  it('sums buckets across series and flags a p99 that fell into +Inf', () => {
    const older = snapshot(0, {}, {});
    const newer = snapshot(
      1_000,
      { 'GET /a 200': 50, 'GET /b 200': 50 },
      { 'GET /a': [[0.5, 50], [INF, 50]], 'GET /b': [[0.5, 48], [INF, 50]] },
    );
    const w = windowStats(older, newer);
    expect(w.p50_seconds).toBeCloseTo(0.5 * (50 / 98), 12);
    expect(w.p99_seconds).toBe(0.5);
    expect(w.quantiles_capped).toBe(true);
  });

  it('zero traffic: rate 0 and no data (null), never 0 error rate', () => {
    const s = { 'GET / 200': 7 };
    const h = { 'GET /': [[0.1, 7], [INF, 7]] as Array<[number, number]> };
    const w = windowStats(snapshot(0, s, h), snapshot(5_000, s, h));
    expect(w).toMatchObject({ requests: 0, errors: 0, requests_per_second: 0, error_rate: null, p50_seconds: null, p95_seconds: null, p99_seconds: null });
  });

  it('the same snapshot twice is an empty window, not a rate of the cumulative count', () => {
    const s = snapshot(5_000, { 'GET / 200': 1_000 }, { 'GET /': [[0.1, 1_000], [INF, 1_000]] });
    expect(windowStats(s, s)).toMatchObject({ seconds: 0, requests: 0, requests_per_second: 0, error_rate: null, p99_seconds: null });
  });

  it('a counter that went down was reset: its new value is the increase (like increase())', () => {
    const older = snapshot(0, { 'GET / 200': 1_000, 'GET / 500': 10 });
    const newer = snapshot(10_000, { 'GET / 200': 40, 'GET / 500': 12 });
    const w = windowStats(older, newer);
    expect(w.requests).toBe(42);
    expect(w.errors).toBe(2);
    expect(w.counter_resets).toBe(1);
    expect(w.requests_per_second).toBeCloseTo(4.2, 12);
  });

  it('a histogram child that went down is reset as a whole', () => {
    const older = snapshot(0, {}, { 'GET /': [[0.1, 90], [1, 100], [INF, 100]] });
    // Restarted, then 4 fast and 100 very slow requests: the +Inf bucket alone grew (100 -> 104).
    const newer = snapshot(10_000, {}, { 'GET /': [[0.1, 4], [1, 4], [INF, 104]] });
    const w = windowStats(older, newer);
    // Judged bucket by bucket, +Inf would contribute 4 and p99 would look fast (~0.099 s).
    expect(w.p99_seconds).toBe(1);
    expect(w.quantiles_capped).toBe(true);
  });

  it('a histogram that restarted reports the new observations, never negative increases', () => {
    const older = snapshot(0, {}, { 'GET /': [[0.1, 90], [1, 100], [INF, 100]] });
    const newer = snapshot(10_000, {}, { 'GET /': [[0.1, 50], [1, 50], [INF, 50]] });
    // 50 fast requests since the restart: rank 25 of 50 in (0, 0.1].
    expect(windowStats(older, newer).p50_seconds).toBeCloseTo(0.05, 12);
  });

  it('a changed process start time is a restart even when counters already exceed their old values', () => {
    const older = snapshot(0, { 'GET / 200': 100 }, {}, 1_700_000_000);
    const newer = snapshot(10_000, { 'GET / 200': 150 }, {}, 1_700_000_005);
    const w = windowStats(older, newer);
    expect(w.requests).toBe(150);
    expect(w.counter_resets).toBe(1);
  });

  it('a series that appears inside the window counts its whole value', () => {
    const w = windowStats(snapshot(0, { 'GET / 200': 10 }), snapshot(1_000, { 'GET / 200': 10, 'GET / 502': 3 }));
    expect(w.requests).toBe(3);
    expect(w.error_rate).toBe(1);
  });

  it('refuses snapshots in the wrong order', () => {
    expect(() => windowStats(snapshot(2_000, {}), snapshot(1_000, {}))).toThrow(/out of order/);
  });
});
