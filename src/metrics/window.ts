/**
 * Window statistics of the app's own traffic from cumulative Prometheus counters.
 *
 * Semantics follow Prometheus so an SRE can check any figure against a PromQL query:
 * - counters: `increase()`: per series, a value that went down is a reset and its new value is the
 *   increase since the reset; a series absent from the older snapshot was created inside the window
 *   (prom-client creates series on first use), so its whole value is the increase;
 * - quantiles: `histogram_quantile()` over the summed bucket increases.
 * Over more than two snapshots, increases are summed pair by pair, as `increase()` does over the
 * samples in its range, so a restart between two intermediate snapshots is not lost.
 */
import type { Sample, Snapshot, WindowStats } from './types.js';

/** The app's metrics contract. */
export const REQUESTS_TOTAL = 'http_requests_total';
export const DURATION_BUCKET = 'http_request_duration_seconds_bucket';
/** prom-client's default process metric; when it changes between two scrapes, the app restarted. */
export const PROCESS_START = 'process_start_time_seconds';
/** swiftdeploy's own traffic (scrapes, health checks, chaos control) is not the app's. */
export const EXCLUDED_PATHS: ReadonlySet<string> = new Set(['/metrics', '/healthz', '/chaos']);

export interface HistogramBucket {
  /** Upper bound; the last bucket of a valid histogram is +Inf. */
  le: number;
  /** Cumulative count of observations <= le. */
  count: number;
}

export interface QuantileResult {
  /** null when there is no data (no observations, or no finite bucket to interpolate in). */
  value: number | null;
  /** true when the rank fell in the +Inf bucket and the highest finite bound is reported. */
  capped: boolean;
}

/**
 * PromQL `histogram_quantile` for one histogram: linear interpolation inside the bucket that holds
 * the rank; the lowest bucket interpolates from 0 (from its bound when that bound is <= 0); a rank in
 * the +Inf bucket reports the highest finite bound, flagged `capped` because the true value is larger.
 */
export function histogramQuantile(q: number, buckets: readonly HistogramBucket[]): QuantileResult {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within [0, 1], got ${q}`);
  const sorted = coalesce(buckets);
  const last = sorted[sorted.length - 1];
  // As in Prometheus: without a +Inf bucket, or without a finite one, there is nothing to interpolate.
  if (last === undefined || last.le !== Number.POSITIVE_INFINITY || sorted.length < 2) {
    return { value: null, capped: false };
  }
  const observations = last.count;
  if (!(observations > 0)) return { value: null, capped: false };
  let rank = q * observations;
  let b = sorted.findIndex((bucket, i) => i < sorted.length - 1 && bucket.count >= rank);
  if (b === -1) b = sorted.length - 1;
  if (b === sorted.length - 1) {
    return { value: (sorted[sorted.length - 2] as HistogramBucket).le, capped: true };
  }
  const bucket = sorted[b] as HistogramBucket;
  if (b === 0 && bucket.le <= 0) return { value: bucket.le, capped: false };
  let start = 0;
  let count = bucket.count;
  if (b > 0) {
    const below = sorted[b - 1] as HistogramBucket;
    start = below.le;
    count -= below.count;
    rank -= below.count;
  }
  // Only q = 0 can reach an empty bucket here (rank 0); its answer is the bucket's lower edge.
  if (count <= 0) return { value: start, capped: false };
  return { value: start + (bucket.le - start) * (rank / count), capped: false };
}

/** Sorts by bound, merges equal bounds and forces cumulative counts to be monotonic, as Prometheus does. */
function coalesce(buckets: readonly HistogramBucket[]): HistogramBucket[] {
  const sorted = buckets.filter((b) => !Number.isNaN(b.le) && !Number.isNaN(b.count)).sort((a, b) => a.le - b.le);
  const out: HistogramBucket[] = [];
  for (const b of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.le === b.le) prev.count += b.count;
    else out.push({ le: b.le, count: b.count });
  }
  let max = 0;
  for (const b of out) {
    if (b.count < max) b.count = max;
    max = b.count;
  }
  return out;
}

/**
 * The samples of one snapshot that windows need, indexed by series. RollingWindow keeps these instead
 * of whole snapshots so its memory does not grow with the app's other metrics.
 */
export interface PreparedSnapshot {
  at: number;
  processStart: number | null;
  /** series key -> { value, is5xx } for non-excluded request counters. */
  requests: Map<string, { value: number; error: boolean }>;
  /** histogram child key (labels minus le) -> (le -> cumulative count). */
  histograms: Map<string, Map<number, number>>;
}

export function prepareSnapshot(s: Snapshot): PreparedSnapshot {
  const prepared: PreparedSnapshot = { at: s.at, processStart: null, requests: new Map(), histograms: new Map() };
  for (const sample of s.samples) {
    if (Number.isNaN(sample.value)) continue;
    if (sample.name === PROCESS_START) {
      prepared.processStart = sample.value;
    } else if (sample.name === REQUESTS_TOTAL) {
      if (isExcluded(sample)) continue;
      const error = /^5\d\d$/.test(sample.labels.status_code ?? '');
      prepared.requests.set(seriesKey(sample.labels), { value: sample.value, error });
    } else if (sample.name === DURATION_BUCKET) {
      if (isExcluded(sample)) continue;
      const le = parseLe(sample.labels.le);
      if (le === null) continue;
      const { le: _le, ...child } = sample.labels;
      const key = seriesKey(child);
      let buckets = prepared.histograms.get(key);
      if (!buckets) prepared.histograms.set(key, (buckets = new Map()));
      buckets.set(le, sample.value);
    }
  }
  return prepared;
}

function isExcluded(sample: Sample): boolean {
  const path = sample.labels.path;
  return path !== undefined && EXCLUDED_PATHS.has(path);
}

function parseLe(le: string | undefined): number | null {
  if (le === undefined) return null;
  if (le === '+Inf' || le === 'Inf' || le === '+inf') return Number.POSITIVE_INFINITY;
  const n = Number(le);
  return le.trim() === '' || Number.isNaN(n) ? null : n;
}

function seriesKey(labels: Record<string, string>): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

/** The labels a series key was made from. */
export function seriesLabels(key: string): Record<string, string> {
  return Object.fromEntries(JSON.parse(key) as Array<[string, string]>);
}

/** Statistics between two snapshots (older first). */
export function windowStats(older: Snapshot, newer: Snapshot): WindowStats {
  return windowStatsOver([prepareSnapshot(older), prepareSnapshot(newer)]);
}

/** Statistics over consecutive prepared snapshots (oldest first, at least two), summing pairwise increases. */
export function windowStatsOver(snapshots: readonly PreparedSnapshot[]): WindowStats {
  const first = snapshots[0];
  const last = snapshots[snapshots.length - 1];
  if (first === undefined || last === undefined || snapshots.length < 2) {
    // One snapshot has no window: its counters are totals since the app started, never a rate.
    throw new RangeError('a window needs at least two snapshots');
  }
  let requests = 0;
  let errors = 0;
  let counterResets = 0;
  const bucketIncrease = new Map<number, number>();
  for (let i = 1; i < snapshots.length; i++) {
    const older = snapshots[i - 1] as PreparedSnapshot;
    const newer = snapshots[i] as PreparedSnapshot;
    if (newer.at < older.at) {
      throw new RangeError(`snapshots out of order: ${new Date(newer.at).toISOString()} after ${new Date(older.at).toISOString()}`);
    }
    const pair = pairIncreases(older, newer);
    counterResets += pair.resets;
    for (const { increase, error } of pair.requests.values()) {
      requests += increase;
      if (error) errors += increase;
    }
    for (const buckets of pair.histograms.values()) {
      for (const [le, increase] of buckets) bucketIncrease.set(le, (bucketIncrease.get(le) ?? 0) + increase);
    }
  }
  const seconds = (last.at - first.at) / 1000;
  const buckets = [...bucketIncrease].map(([le, count]) => ({ le, count }));
  const p50 = histogramQuantile(0.5, buckets);
  const p95 = histogramQuantile(0.95, buckets);
  const p99 = histogramQuantile(0.99, buckets);
  return {
    from: first.at,
    to: last.at,
    seconds,
    requests,
    errors,
    // Zero-length window (two scrapes in the same millisecond): no rate can be measured; report none.
    requests_per_second: seconds > 0 ? requests / seconds : 0,
    error_rate: requests > 0 ? errors / requests : null,
    p50_seconds: p50.value,
    p95_seconds: p95.value,
    p99_seconds: p99.value,
    quantiles_capped: p50.capped || p95.capped || p99.capped,
    counter_resets: counterResets,
  };
}

/** Per-series increases between two snapshots of one process (one replica); what windows sum. */
export interface PairIncreases {
  /** Request series key -> its increase, and whether the series counts 5xx answers. */
  requests: Map<string, { increase: number; error: boolean }>;
  /** Histogram child key -> (le -> increase of the cumulative bucket). */
  histograms: Map<string, Map<number, number>>;
  /** Series whose counters went down or vanished (the process restarted). */
  resets: number;
}

/**
 * The increases from `older` to `newer`, both of the same process, with `increase()`'s reset rules.
 * `older` undefined: the process was first seen at `newer`, so every series was created since, and
 * its whole value is the increase.
 */
export function pairIncreases(older: PreparedSnapshot | undefined, newer: PreparedSnapshot): PairIncreases {
  const out: PairIncreases = { requests: new Map(), histograms: new Map(), resets: 0 };
  // A changed process start time is a restart even when the new counters already exceed the old ones,
  // which value comparison alone (all Prometheus has) cannot see.
  const restarted = older !== undefined && older.processStart !== null && newer.processStart !== null && older.processStart !== newer.processStart;
  for (const [key, now] of newer.requests) {
    const { increase, reset } = counterIncrease(older?.requests.get(key)?.value, now.value, restarted);
    if (reset) out.resets++;
    out.requests.set(key, { increase, error: now.error });
  }
  // A series that vanished was reset to a value not yet re-exported (the app restarted).
  if (older !== undefined) for (const key of older.requests.keys()) if (!newer.requests.has(key)) out.resets++;
  for (const [key, buckets] of newer.histograms) {
    const before = older?.histograms.get(key);
    // A histogram child resets as a whole: judging buckets one by one could mix pre- and post-restart counts.
    const reset = restarted || (before !== undefined && [...buckets].some(([le, v]) => v < (before.get(le) ?? 0)));
    const increases = new Map<number, number>();
    for (const [le, v] of buckets) increases.set(le, reset || before === undefined ? v : v - (before.get(le) ?? 0));
    out.histograms.set(key, increases);
  }
  return out;
}

function counterIncrease(before: number | undefined, now: number, restarted: boolean): { increase: number; reset: boolean } {
  if (before === undefined) return { increase: now, reset: false };
  if (restarted || now < before) return { increase: now, reset: true };
  return { increase: now - before, reset: false };
}
