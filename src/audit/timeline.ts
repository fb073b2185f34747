/**
 * The report's timeline, downsampled while streaming: memory stays bounded by the row target however
 * long the history is, and no violation is lost, because each row carries the set of rule ids that
 * fired anywhere inside it.
 *
 * The history's length is unknown until the stream ends, so rows start one status record wide; when
 * there are twice the target, neighbours merge pairwise (width doubles). At the end a last even merge
 * brings the count down to at most the target.
 */

export interface TimelineSample {
  tsMs: number;
  mode: string | null;
  chaos: string | null;
  requestsPerSecond: number | null;
  errorRate: number | null;
  p99Seconds: number | null;
  p99Capped: boolean;
  /** `domain/rule_id` (with ` (shadow)` when not enforced) for every violation in this tick. */
  violations: readonly string[];
  /** Domains whose policy engine was unavailable in this tick. */
  unavailable: readonly string[];
  scrapeFailed: boolean;
  /** Written before the hash chain. */
  legacy: boolean;
}

export interface TimelineRow {
  fromMs: number;
  toMs: number;
  ticks: number;
  /** Distinct modes in order of appearance (a promote inside a row shows as two). */
  modes: string[];
  chaos: string[];
  /** Mean of the ticks that had a rate. */
  rpsSum: number;
  rpsTicks: number;
  /** Worst value inside the row, so a downsampled spike still shows at full height. */
  peakErrorRate: number | null;
  worstP99: number | null;
  worstP99Capped: boolean;
  violations: Map<string, number>;
  unavailable: Map<string, number>;
  scrapeFailures: number;
  /** Records in the row written before the hash chain. */
  legacyTicks: number;
}

const MAX_DISTINCT_PER_ROW = 16;

function pushDistinct(list: string[], value: string | null): void {
  if (value === null || list.includes(value)) return;
  if (list.length < MAX_DISTINCT_PER_ROW) list.push(value);
}

function addCounts(into: Map<string, number>, from: Map<string, number> | readonly string[]): void {
  if (Array.isArray(from)) {
    for (const key of from as readonly string[]) into.set(key, (into.get(key) ?? 0) + 1);
  } else {
    for (const [key, n] of from as Map<string, number>) into.set(key, (into.get(key) ?? 0) + n);
  }
}

function rowFrom(sample: TimelineSample): TimelineRow {
  const row: TimelineRow = {
    fromMs: sample.tsMs,
    toMs: sample.tsMs,
    ticks: 1,
    modes: [],
    chaos: [],
    rpsSum: sample.requestsPerSecond ?? 0,
    rpsTicks: sample.requestsPerSecond === null ? 0 : 1,
    peakErrorRate: sample.errorRate,
    worstP99: sample.p99Seconds,
    worstP99Capped: sample.p99Seconds !== null && sample.p99Capped,
    violations: new Map(),
    unavailable: new Map(),
    scrapeFailures: sample.scrapeFailed ? 1 : 0,
    legacyTicks: sample.legacy ? 1 : 0,
  };
  pushDistinct(row.modes, sample.mode);
  pushDistinct(row.chaos, sample.chaos);
  addCounts(row.violations, sample.violations);
  addCounts(row.unavailable, sample.unavailable);
  return row;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** The hot path: one status record into an existing row, without building a row for it. */
function addSample(row: TimelineRow, sample: TimelineSample): void {
  row.toMs = sample.tsMs;
  row.ticks++;
  pushDistinct(row.modes, sample.mode);
  pushDistinct(row.chaos, sample.chaos);
  if (sample.requestsPerSecond !== null) {
    row.rpsSum += sample.requestsPerSecond;
    row.rpsTicks++;
  }
  row.peakErrorRate = maxOrNull(row.peakErrorRate, sample.errorRate);
  if (sample.p99Seconds !== null && (row.worstP99 === null || sample.p99Seconds >= row.worstP99)) {
    row.worstP99Capped = sample.p99Seconds === row.worstP99 ? row.worstP99Capped || sample.p99Capped : sample.p99Capped;
    row.worstP99 = sample.p99Seconds;
  }
  if (sample.violations.length > 0) addCounts(row.violations, sample.violations);
  if (sample.unavailable.length > 0) addCounts(row.unavailable, sample.unavailable);
  if (sample.scrapeFailed) row.scrapeFailures++;
  if (sample.legacy) row.legacyTicks++;
}

/** Folds `later` into `into` (which covers the earlier time span). */
function mergeInto(into: TimelineRow, later: TimelineRow): void {
  into.toMs = later.toMs;
  into.ticks += later.ticks;
  for (const m of later.modes) pushDistinct(into.modes, m);
  for (const c of later.chaos) pushDistinct(into.chaos, c);
  into.rpsSum += later.rpsSum;
  into.rpsTicks += later.rpsTicks;
  into.peakErrorRate = maxOrNull(into.peakErrorRate, later.peakErrorRate);
  if (later.worstP99 !== null && (into.worstP99 === null || later.worstP99 > into.worstP99)) {
    into.worstP99 = later.worstP99;
    into.worstP99Capped = later.worstP99Capped;
  } else if (later.worstP99 !== null && later.worstP99 === into.worstP99) {
    into.worstP99Capped ||= later.worstP99Capped;
  }
  addCounts(into.violations, later.violations);
  addCounts(into.unavailable, later.unavailable);
  into.scrapeFailures += later.scrapeFailures;
  into.legacyTicks += later.legacyTicks;
}

export class DownsampledTimeline {
  private rows: TimelineRow[] = [];
  private width = 1;
  private samples = 0;

  constructor(private readonly target: number) {
    if (!Number.isInteger(target) || target < 1) throw new RangeError(`timeline target must be a positive integer, got ${target}`);
  }

  add(sample: TimelineSample): void {
    this.samples++;
    const last = this.rows.at(-1);
    if (last !== undefined && last.ticks < this.width) {
      addSample(last, sample);
      return;
    }
    this.rows.push(rowFrom(sample));
    if (this.rows.length >= 2 * this.target) {
      this.rows = mergeEvenly(this.rows, this.target);
      this.width *= 2;
    }
  }

  /** Number of status records seen. */
  get sampleCount(): number {
    return this.samples;
  }

  /** The final rows: at most `target`, each as wide as the others give or take one merge. */
  finish(): TimelineRow[] {
    return this.rows.length > this.target ? mergeEvenly(this.rows, this.target) : this.rows.slice();
  }
}

/** Groups consecutive rows into `groups` runs whose sizes differ by at most one. */
function mergeEvenly(rows: TimelineRow[], groups: number): TimelineRow[] {
  const out: TimelineRow[] = [];
  for (let g = 0; g < groups; g++) {
    const start = Math.floor((g * rows.length) / groups);
    const end = Math.floor(((g + 1) * rows.length) / groups);
    const first = rows[start];
    if (first === undefined || end <= start) continue;
    const merged: TimelineRow = { ...first, modes: [...first.modes], chaos: [...first.chaos], violations: new Map(first.violations), unavailable: new Map(first.unavailable) };
    for (let i = start + 1; i < end; i++) {
      const row = rows[i];
      if (row !== undefined) mergeInto(merged, row);
    }
    out.push(merged);
  }
  return out;
}
