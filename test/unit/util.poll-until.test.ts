import { describe, expect, it } from 'vitest';
import { pause, pollUntil } from '../../src/util/poll-until.js';

describe('pollUntil', () => {
  it('stops at the first observation the judge accepts, having seen every one', async () => {
    const seen: number[] = [];
    const r = await pollUntil({
      intervalMs: 5,
      timeoutMs: 5_000,
      probe: async ({ attempt }) => attempt * 10,
      until: (n) => n >= 30,
      onObservation: (n) => seen.push(n),
    });
    expect(r).toMatchObject({ outcome: 'done', last: 30, attempts: 3 });
    expect(seen).toEqual([10, 20, 30]);
  });

  it('at the deadline returns timeout with the last observation, one probe landing on the deadline', async () => {
    const started = Date.now();
    const remaining: number[] = [];
    const r = await pollUntil({
      intervalMs: 40,
      timeoutMs: 200,
      probe: async ({ attempt, remainingMs }) => {
        remaining.push(remainingMs);
        return attempt;
      },
      until: () => false,
    });
    const took = Date.now() - started;
    expect(r.outcome).toBe('timeout');
    expect(r.last).toBe(r.attempts);
    expect(r.attempts).toBeGreaterThanOrEqual(3);
    expect(took).toBeGreaterThanOrEqual(195);
    expect(took).toBeLessThan(1_000);
    // Each probe is told how long it has left, shrinking to the deadline.
    expect(remaining[0]).toBeGreaterThan(150);
    expect(remaining.at(-1)!).toBeLessThan(40);
  });

  it('an abort during the pause ends the poll at once with the observation so far', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const started = Date.now();
    const r = await pollUntil({ intervalMs: 10_000, signal: abort.signal, probe: async () => 'seen', until: () => false });
    expect(r).toMatchObject({ outcome: 'aborted', last: 'seen', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('an already aborted signal probes nothing', async () => {
    let probes = 0;
    const r = await pollUntil({ intervalMs: 10, signal: AbortSignal.abort(), probe: async () => ++probes, until: () => false });
    expect(r).toMatchObject({ outcome: 'aborted', last: undefined, attempts: 0 });
    expect(probes).toBe(0);
  });

  it('refuses a zero interval or timeout', async () => {
    await expect(pollUntil({ intervalMs: 0, probe: async () => 1, until: () => true })).rejects.toThrow(RangeError);
    await expect(pollUntil({ intervalMs: 5, timeoutMs: 0, probe: async () => 1, until: () => true })).rejects.toThrow(RangeError);
  });
});

describe('pause', () => {
  it('waits, and resolves early (never rejects) when aborted', async () => {
    let t = Date.now();
    await pause(60);
    expect(Date.now() - t).toBeGreaterThanOrEqual(55);
    const abort = new AbortController();
    t = Date.now();
    setTimeout(() => abort.abort(), 20);
    await pause(10_000, abort.signal);
    expect(Date.now() - t).toBeLessThan(2_000);
  });
});
