import { describe, expect, it } from 'vitest';
import { RollingWindow } from '../../src/metrics/rolling.js';
import type { Snapshot } from '../../src/metrics/types.js';

/** One request counter at `total`, scraped at second `t`. */
const snap = (t: number, total: number, processStart?: number): Snapshot => ({
  at: t * 1000,
  samples: [
    { name: 'http_requests_total', labels: { method: 'GET', path: '/', status_code: '200' }, value: total },
    ...(processStart === undefined ? [] : [{ name: 'process_start_time_seconds', labels: {}, value: processStart }]),
  ],
});

describe('RollingWindow', () => {
  it('has no stats from a single snapshot: a cumulative count is never a rate', () => {
    const w = new RollingWindow(30);
    expect(w.stats()).toBeNull();
    w.add(snap(0, 5_000));
    expect(w.stats()).toBeNull();
    w.add(snap(2, 5_010));
    expect(w.stats()).toMatchObject({ seconds: 2, requests: 10, requests_per_second: 5 });
  });

  it('covers the full window by keeping the newest snapshot at or before its start', () => {
    const w = new RollingWindow(10);
    // 3 s ticks, 1 request per second.
    for (let t = 0; t <= 21; t += 3) w.add(snap(t, t));
    // Window start 11 s: 9 s is the newest snapshot at or before it, so 12 s are covered.
    expect(w.stats()).toMatchObject({ from: 9_000, to: 21_000, seconds: 12, requests: 12, requests_per_second: 1 });
    expect(w.size).toBe(5);
  });

  it('covers exactly the window when a tick lands on its start', () => {
    const w = new RollingWindow(10);
    for (let t = 0; t <= 20; t += 2) w.add(snap(t, t * 4));
    expect(w.stats()).toMatchObject({ from: 10_000, seconds: 10, requests_per_second: 4 });
  });

  it('sums increases pair by pair, so a restart between two snapshots is not lost', () => {
    const w = new RollingWindow(60);
    w.add(snap(0, 100, 1_000));
    w.add(snap(10, 180, 1_000)); // +80
    w.add(snap(20, 30, 1_015)); // restarted: +30
    w.add(snap(30, 190, 1_015)); // +160, above the first value: endpoints alone would say +90
    expect(w.stats()).toMatchObject({ requests: 270, counter_resets: 1, seconds: 30 });
  });

  it('keeps memory bounded however fast snapshots arrive', () => {
    const w = new RollingWindow(3_600, { maxSnapshots: 50 });
    for (let i = 0; i < 5_000; i++) w.add({ at: i * 10, samples: [] });
    expect(w.size).toBe(50);
    // The ends survive thinning, so the window still spans all that was added.
    expect(w.stats()).toMatchObject({ from: 0, to: 49_990 });
  });

  it('drops snapshots other than the app metrics it needs', () => {
    const w = new RollingWindow(10);
    const noise = Array.from({ length: 1_000 }, (_, i) => ({ name: `other_${i}`, labels: {}, value: i }));
    w.add({ at: 0, samples: noise });
    w.add({ at: 1_000, samples: noise });
    expect(w.stats()).toMatchObject({ requests: 0, error_rate: null });
  });

  it('refuses a snapshot older than the newest one and an invalid window', () => {
    const w = new RollingWindow(10);
    w.add(snap(5, 1));
    expect(() => w.add(snap(4, 1))).toThrow(RangeError);
    expect(() => new RollingWindow(0)).toThrow(RangeError);
    expect(() => new RollingWindow(Number.NaN)).toThrow(RangeError);
  });
});
