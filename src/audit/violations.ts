/**
 * Violations as episodes. A canary that breaks its error budget for ten minutes produces three
 * hundred status ticks with the same violation; the auditor needs one row (from, to, ticks, worst
 * observed value), not three hundred. An episode ends when a tick of that domain no longer reports
 * the rule, or when the domain was not judged (engine unavailable, scrape failed): a gap in
 * observation is never reported as a continuous violation.
 */
import type { ViolationView } from './entry.js';
import type { Operation } from './operations.js';

export interface Correlation {
  /** The operation itself: it may still be in progress when the violation starts, so it is described at render time. */
  op: Operation;
  /** Milliseconds between the change taking effect and the violation starting. */
  afterMs: number;
}

export interface ViolationEpisode {
  domain: string;
  id: string;
  message: string;
  enforcement: 'enforce' | 'shadow';
  /** `status` for ticks of the status loop; otherwise the gate that raised it, e.g. `promote gate`. */
  source: string;
  firstMs: number;
  lastMs: number;
  ticks: number;
  /** The observed value furthest from its threshold. */
  worstObserved: unknown;
  threshold: unknown;
  correlation: Correlation | null;
}

export function correlate(atMs: number, lastChange: Operation | null): Correlation | null {
  if (lastChange === null || lastChange.effectiveMs === null || lastChange.effectiveMs > atMs) return null;
  return {
    op: lastChange,
    afterMs: atMs - lastChange.effectiveMs,
  };
}

function distance(observed: unknown, threshold: unknown): number | null {
  return typeof observed === 'number' && typeof threshold === 'number' ? Math.abs(observed - threshold) : null;
}

export function newEpisode(
  domain: string,
  violation: ViolationView,
  enforcement: 'enforce' | 'shadow',
  source: string,
  atMs: number,
  correlation: Correlation | null,
): ViolationEpisode {
  return {
    domain,
    id: violation.id,
    message: violation.message,
    enforcement,
    source,
    firstMs: atMs,
    lastMs: atMs,
    ticks: 1,
    worstObserved: violation.observed,
    threshold: violation.threshold,
    correlation,
  };
}

export function extendEpisode(episode: ViolationEpisode, violation: ViolationView, atMs: number): void {
  episode.lastMs = atMs;
  episode.ticks++;
  const now = distance(violation.observed, violation.threshold);
  const worst = distance(episode.worstObserved, episode.threshold);
  if (now !== null && (worst === null || now > worst)) {
    episode.worstObserved = violation.observed;
    episode.threshold = violation.threshold;
  }
}

/** Open status episodes, keyed by domain, then by `rule id + enforcement`. */
export class EpisodeTracker {
  private open = new Map<string, Map<string, ViolationEpisode>>();

  constructor(private readonly onClose: (episode: ViolationEpisode) => void) {}

  /** One judged tick of one domain: extends, opens and closes that domain's episodes. */
  judged(
    domain: string,
    violations: readonly ViolationView[],
    enforcement: 'enforce' | 'shadow',
    atMs: number,
    lastChange: Operation | null,
    source = 'status',
  ): void {
    const current = this.open.get(domain) ?? new Map<string, ViolationEpisode>();
    const next = new Map<string, ViolationEpisode>();
    for (const v of violations) {
      const key = `${v.id}\u0000${enforcement}`;
      if (next.has(key)) continue;
      const existing = current.get(key);
      if (existing !== undefined) {
        extendEpisode(existing, v, atMs);
        next.set(key, existing);
        current.delete(key);
      } else {
        next.set(key, newEpisode(domain, v, enforcement, source, atMs, correlate(atMs, lastChange)));
      }
    }
    for (const ended of current.values()) this.onClose(ended);
    this.open.set(domain, next);
  }

  /** The domain was not judged in this tick: whatever was open ends at its last observation. */
  notJudged(domain: string): void {
    const current = this.open.get(domain);
    if (current === undefined) return;
    for (const ended of current.values()) this.onClose(ended);
    this.open.delete(domain);
  }

  domains(): string[] {
    return [...this.open.keys()];
  }

  closeAll(): void {
    for (const domain of this.domains()) this.notJudged(domain);
  }
}
