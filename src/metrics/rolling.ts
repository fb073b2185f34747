import type { Snapshot, WindowStats } from './types.js';
import { prepareSnapshot, windowStatsOver, type PreparedSnapshot } from './window.js';

/** Default cap on retained snapshots: a 30 s window at 1 s ticks needs 32. */
const DEFAULT_MAX_SNAPSHOTS = 256;

/**
 * The canary window the status loop feeds: the last `windowSeconds` of snapshots, plus the newest one
 * older than that so a full window can be covered once the loop has run long enough (the window
 * reported may therefore be up to one tick longer than asked; `seconds` says exactly how long).
 *
 * Memory is bounded twice: snapshots are reduced to the series windows use, and at most
 * `maxSnapshots` are kept; past that, the interior snapshot whose removal leaves the smallest gap is
 * dropped. That coarsens where the window can start and, between the two neighbours left, reset detection
 falls back to comparing their values (a process start-time change is still seen).
 */
export class RollingWindow {
  private readonly snapshots: PreparedSnapshot[] = [];
  private readonly windowMs: number;
  private readonly maxSnapshots: number;

  constructor(windowSeconds: number, opts: { maxSnapshots?: number } = {}) {
    if (!(windowSeconds > 0) || !Number.isFinite(windowSeconds)) {
      throw new RangeError(`window must be a positive number of seconds, got ${windowSeconds}`);
    }
    this.windowMs = windowSeconds * 1000;
    this.maxSnapshots = Math.max(3, opts.maxSnapshots ?? DEFAULT_MAX_SNAPSHOTS);
  }

  add(s: Snapshot): void {
    const newest = this.snapshots[this.snapshots.length - 1];
    if (newest && s.at < newest.at) {
      throw new RangeError(`snapshot at ${new Date(s.at).toISOString()} is older than the newest one kept`);
    }
    this.snapshots.push(prepareSnapshot(s));
    this.evictExpired(s.at);
    while (this.snapshots.length > this.maxSnapshots) this.dropDensest();
  }

  /** null until two snapshots exist: one scrape's counters are totals, never a rate. */
  stats(): WindowStats | null {
    return this.snapshots.length < 2 ? null : windowStatsOver(this.snapshots);
  }

  /** Number of snapshots retained (for tests and diagnostics). */
  get size(): number {
    return this.snapshots.length;
  }

  private evictExpired(now: number): void {
    const cutoff = now - this.windowMs;
    // Keep exactly one snapshot at or before the cutoff: the newest such one.
    while (this.snapshots.length >= 2 && (this.snapshots[1] as PreparedSnapshot).at <= cutoff) {
      this.snapshots.shift();
    }
  }

  private dropDensest(): void {
    let best = 1;
    let bestGap = Number.POSITIVE_INFINITY;
    for (let i = 1; i < this.snapshots.length - 1; i++) {
      const gap = (this.snapshots[i + 1] as PreparedSnapshot).at - (this.snapshots[i - 1] as PreparedSnapshot).at;
      if (gap < bestGap) {
        bestGap = gap;
        best = i;
      }
    }
    this.snapshots.splice(best, 1);
  }
}
