/**
 * Many replicas of the app (swarm tasks), one window: each replica's counters are followed on their
 * own, keyed by task id, and only their increases are summed into one cumulative aggregate Snapshot.
 * RollingWindow and windowStatsOver then judge that aggregate exactly as they judge compose's one app.
 *
 * Why increases and not a plain sum of the replicas' totals: when a task is replaced, its totals leave
 * the sum, which would go down; `increase()` reads a counter that went down as a reset and takes the
 * whole new sum as the increase, counting every other replica's lifetime traffic into the window. Here
 * a task that goes keeps what it served (it was counted as it happened), a new task id counts from
 * zero (its whole value, as a series created inside a window does), and a restart inside one task is
 * that task's reset only. The aggregate never goes down, so no rate can be negative.
 */
import { RollingWindow } from './rolling.js';
import type { Sample, Snapshot, WindowStats } from './types.js';
import { DURATION_BUCKET, pairIncreases, prepareSnapshot, REQUESTS_TOTAL, seriesLabels, type PreparedSnapshot } from './window.js';

/** One replica's scrape for one tick: a snapshot, or why there is none. */
export interface ReplicaScrape {
  /** Swarm's task id: a replaced task is a new id. */
  task: string;
  /** The task's name, `<stack>_app.<slot>`, for people. */
  name?: string;
  node?: string;
  snapshot: Snapshot | null;
  error?: string;
  /** Listed but not running yet (Swarm's Starting, Preparing...): a new task, not one that missed its scrape. */
  pending?: true;
}

/** One replica in the status payload: its own window (null until it has two scrapes, or when this tick's scrape failed). */
export interface ReplicaDetail {
  task: string;
  name?: string;
  node?: string;
  window: WindowStats | null;
  error?: string;
}

/** Gauges the status view reads (src/status/observe.ts): the aggregate says a value all replicas agree on. */
const UNANIMOUS_GAUGES = ['app_mode', 'chaos_active'] as const;
const UPTIME = 'app_uptime_seconds';

export class ReplicaAggregate {
  /** The last good scrape of each task still listed. */
  private readonly last = new Map<string, PreparedSnapshot>();
  private readonly windows = new Map<string, RollingWindow>();
  /** The cumulative sums: request series key -> value; histogram child key -> (le -> value). */
  private readonly requests = new Map<string, number>();
  private readonly histograms = new Map<string, Map<number, number>>();
  private at = Number.NEGATIVE_INFINITY;
  /** When the first tick with a good scrape was taken (its scrapes are the aggregate's baseline). */
  private firstAt: number | null = null;
  /** Tasks listed without a good scrape and never scraped before (a loaded task missing its budget). */
  private readonly listedUnscraped = new Set<string>();

  constructor(private readonly windowSeconds: number) {}

  /**
   * Adds one tick's scrapes (every task listed, scraped or not). Returns the aggregate, or null when
   * no replica was scraped, and each replica's detail. A task no longer listed is forgotten; a task
   * whose scrape failed keeps its last good scrape, so its increase is counted at the next good one.
   */
  add(scrapes: readonly ReplicaScrape[]): { snapshot: Snapshot | null; replicas: ReplicaDetail[] } {
    const listed = new Set(scrapes.map((s) => s.task));
    for (const task of [...this.last.keys()]) if (!listed.has(task)) this.last.delete(task);
    for (const task of [...this.windows.keys()]) if (!listed.has(task)) this.windows.delete(task);
    for (const task of [...this.listedUnscraped]) if (!listed.has(task)) this.listedUnscraped.delete(task);

    const scraped = scrapes.flatMap((s) => (s.snapshot === null ? [] : [s.snapshot]));
    // One time for the tick: the aggregate's, and each replica window's, so that every window spans the
    // same scrapes and, while no task changes, the replicas' windows add up to the aggregate's.
    if (scraped.length > 0) this.at = Math.max(this.at, ...scraped.map((s) => s.at));
    const baselineTick = this.firstAt === null;
    const replicas = scrapes.map((s): ReplicaDetail => {
      const who = { task: s.task, ...(s.name !== undefined ? { name: s.name } : {}), ...(s.node !== undefined ? { node: s.node } : {}) };
      if (s.snapshot === null) {
        if (!this.last.has(s.task) && s.pending !== true) this.listedUnscraped.add(s.task);
        return { ...who, window: null, error: s.error ?? 'not scraped' };
      }
      if (!baselineTick && !this.last.has(s.task) && this.startedBeforeFirstTick(s.task, s.snapshot)) {
        // Its first good scrape after the baseline tick, from a process that was already serving:
        // that scrape is its baseline, or its whole lifetime would count as traffic in the window.
        this.last.set(s.task, prepareSnapshot(s.snapshot));
      } else {
        this.accumulate(s.task, prepareSnapshot(s.snapshot));
      }
      this.listedUnscraped.delete(s.task);
      let window = this.windows.get(s.task);
      if (!window) this.windows.set(s.task, (window = new RollingWindow(this.windowSeconds)));
      window.add({ at: this.at, samples: s.snapshot.samples });
      return { ...who, window: window.stats() };
    });
    if (scraped.length === 0) return { snapshot: null, replicas };
    this.firstAt ??= this.at;
    return { snapshot: { at: this.at, samples: [...this.sums(), ...gauges(scraped)] }, replicas };
  }

  /**
   * Whether a task first scraped after the baseline tick was already serving before what is being
   * measured: by its process's uptime when it reports one (before the baseline tick, or before the
   * window's span when the aggregate is older than that), else by having been listed as running
   * without an answer. A task that started later (a replacement, the canary) counts its whole
   * value: all of it is new traffic.
   */
  private startedBeforeFirstTick(task: string, snapshot: Snapshot): boolean {
    const uptime = snapshot.samples.find((x) => x.name === UPTIME)?.value;
    if (uptime !== undefined && Number.isFinite(uptime) && this.firstAt !== null) {
      return snapshot.at - uptime * 1000 < Math.max(this.firstAt, snapshot.at - this.windowSeconds * 1000);
    }
    return this.listedUnscraped.has(task);
  }

  private accumulate(task: string, now: PreparedSnapshot): void {
    const inc = pairIncreases(this.last.get(task), now);
    this.last.set(task, now);
    for (const [key, { increase }] of inc.requests) this.requests.set(key, (this.requests.get(key) ?? 0) + increase);
    for (const [key, buckets] of inc.histograms) {
      let sum = this.histograms.get(key);
      if (!sum) this.histograms.set(key, (sum = new Map()));
      for (const [le, increase] of buckets) sum.set(le, (sum.get(le) ?? 0) + increase);
    }
  }

  private sums(): Sample[] {
    const out: Sample[] = [];
    for (const [key, value] of this.requests) out.push({ name: REQUESTS_TOTAL, labels: seriesLabels(key), value });
    for (const [key, buckets] of this.histograms) {
      const labels = seriesLabels(key);
      for (const [le, value] of buckets) out.push({ name: DURATION_BUCKET, labels: { ...labels, le: le === Number.POSITIVE_INFINITY ? '+Inf' : String(le) }, value });
    }
    return out;
  }
}

/** A progressive rollout's two tracks. */
export type Track = 'stable' | 'canary';

/** One track's tasks for one tick (swarm: service `app` or `app-canary`): each task's scrape, or why none could be listed. */
export interface TrackScrape {
  /** The stack service (`<stack>_app-canary`), for messages. */
  service: string;
  /** null when the service's tasks could not be listed (`error` says why). */
  scrapes: ReplicaScrape[] | null;
  error?: string;
}

/** One track's sum for one tick; null when none of its replicas was scraped (`why`). */
export interface TrackSum {
  service: string;
  snapshot: Snapshot | null;
  why?: string;
}

/**
 * Both tracks of a rollout, each summed on its own ReplicaAggregate: the step windows
 * (SwarmEngine.trackScraper) and status's per-track windows. A track whose tasks could not be listed
 * is not added to (its tasks keep their last scrape, so nothing is forgotten and counted again).
 */
export class TrackAggregates {
  private readonly sums: Record<Track, ReplicaAggregate>;

  constructor(windowSeconds: number) {
    this.sums = { stable: new ReplicaAggregate(windowSeconds), canary: new ReplicaAggregate(windowSeconds) };
  }

  add(scraped: Readonly<Record<Track, TrackScrape>>): Record<Track, TrackSum> {
    const one = (track: Track): TrackSum => {
      const { service, scrapes, error } = scraped[track];
      if (scrapes === null) return { service, snapshot: null, why: `cannot list its tasks: ${error ?? 'no answer'}` };
      const { snapshot } = this.sums[track].add(scrapes);
      if (snapshot !== null) return { service, snapshot };
      return { service, snapshot: null, why: scrapes.map((s) => `${s.name ?? s.task}: ${s.error ?? 'not scraped'}`).join('; ') || 'no task' };
    };
    return { stable: one('stable'), canary: one('canary') };
  }
}

function gauge(s: Snapshot, name: string): number | undefined {
  const v = s.samples.find((x) => x.name === name)?.value;
  return v === undefined || !Number.isFinite(v) ? undefined : v;
}

/**
 * Mode and chaos when every scraped replica says the same (during a rolling update they differ, and
 * the stack has no one mode); uptime of the youngest replica: how long the stack has run as it is.
 */
function gauges(scraped: readonly Snapshot[]): Sample[] {
  const out: Sample[] = [];
  for (const name of UNANIMOUS_GAUGES) {
    const values = new Set(scraped.map((s) => gauge(s, name)));
    const [only] = values;
    if (values.size === 1 && only !== undefined) out.push({ name, labels: {}, value: only });
  }
  const uptimes = scraped.map((s) => gauge(s, UPTIME)).filter((v): v is number => v !== undefined);
  if (uptimes.length === scraped.length && uptimes.length > 0) out.push({ name: UPTIME, labels: {}, value: Math.min(...uptimes) });
  return out;
}
