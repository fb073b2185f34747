import { describe, expect, it } from 'vitest';
import { DownsampledTimeline, type TimelineSample } from '../../src/audit/timeline.js';

function sample(i: number, over: Partial<TimelineSample> = {}): TimelineSample {
  return {
    tsMs: 1_700_000_000_000 + i * 2_000,
    mode: 'stable',
    chaos: 'none',
    requestsPerSecond: 10,
    errorRate: 0.01,
    p99Seconds: 0.1,
    p99Capped: false,
    violations: [],
    unavailable: [],
    scrapeFailed: false,
    legacy: false,
    ...over,
  };
}

describe('DownsampledTimeline', () => {
  it('keeps short histories one row per record', () => {
    const t = new DownsampledTimeline(200);
    for (let i = 0; i < 150; i++) t.add(sample(i));
    const rows = t.finish();
    expect(rows).toHaveLength(150);
    expect(rows.every((r) => r.ticks === 1)).toBe(true);
  });

  it('bounds long histories to the target, accounts for every record, and keeps rows in time order', () => {
    for (const n of [201, 399, 400, 401, 12_345]) {
      const t = new DownsampledTimeline(200);
      for (let i = 0; i < n; i++) t.add(sample(i));
      const rows = t.finish();
      expect(rows.length, `n=${n}`).toBeLessThanOrEqual(200);
      expect(rows.length, `n=${n}`).toBeGreaterThanOrEqual(100);
      expect(rows.reduce((s, r) => s + r.ticks, 0), `n=${n}`).toBe(n);
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.fromMs).toBeGreaterThan(rows[i - 1]!.toMs);
      const widths = rows.map((r) => r.ticks);
      // Rows cover comparable spans: no row is more than about twice as wide as another.
      expect(Math.max(...widths) / Math.min(...widths), `n=${n}`).toBeLessThanOrEqual(3);
    }
  });

  it('never loses a single-record violation, spike or mode change inside a wide row', () => {
    const t = new DownsampledTimeline(200);
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      if (i === 31_337) t.add(sample(i, { violations: ['canary/error_rate_too_high'], errorRate: 0.9, p99Seconds: 4, p99Capped: true }));
      else if (i === 40_000) t.add(sample(i, { mode: 'canary', unavailable: ['infrastructure'] }));
      else t.add(sample(i));
    }
    const rows = t.finish();
    const withViolation = rows.filter((r) => r.violations.size > 0);
    expect(withViolation).toHaveLength(1);
    expect(withViolation[0]!.violations.get('canary/error_rate_too_high')).toBe(1);
    expect(withViolation[0]!.peakErrorRate).toBe(0.9);
    expect(withViolation[0]!.worstP99).toBe(4);
    expect(withViolation[0]!.worstP99Capped).toBe(true);
    const changed = rows.find((r) => r.modes.includes('canary'));
    expect(changed?.modes).toEqual(['stable', 'canary']);
    expect(changed?.unavailable.get('infrastructure')).toBe(1);
    // The mean req/s survives merging.
    expect(rows.every((r) => r.rpsSum / r.rpsTicks === 10)).toBe(true);
  });

  it('reports no data as no data after merging', () => {
    const t = new DownsampledTimeline(2);
    for (let i = 0; i < 8; i++) t.add(sample(i, { errorRate: null, p99Seconds: null, requestsPerSecond: null }));
    const rows = t.finish();
    expect(rows).toHaveLength(2);
    expect(rows[0]!.peakErrorRate).toBeNull();
    expect(rows[0]!.worstP99).toBeNull();
    expect(rows[0]!.rpsTicks).toBe(0);
  });
});
