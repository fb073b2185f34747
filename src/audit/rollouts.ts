/**
 * Progressive rollouts (issue #13) as the report sees them, collected in the same streaming pass.
 * The driver (src/lifecycle/rollout.ts) puts `payload.rollout` = {id, step (1-based), steps, weight,
 * status, canary_image, canary_version, reason?} on every record of a rollout transition, and
 * `payload.analysis` = {step, weight, outcome, tracks: {stable, canary}} on the transition that
 * followed a step's analysis; the gate's `policy_decided` record (question `step`) comes just before.
 *
 * Memory: one entry per rollout, one row per analysis or status change, one point per weight change
 * (each list capped at `maxListed`); nothing per record.
 */
import { numberOrNull, stringOrNull, toVerdictView, isUnavailable, type AuditEntry } from './entry.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { isOutcomeStage } from '../history/intent.js';

export interface TrackView {
  requests: number | null;
  errorRate: number | null;
  p99Seconds: number | null;
}

export interface StepAnalysisView {
  outcome: string;
  stable: TrackView;
  canary: TrackView;
  /** Violation ids of the step decision recorded just before (the gate's `policy_decided`). */
  violations: string[];
  /** The decision was in shadow mode: recorded, not obeyed. */
  shadow: boolean;
}

/** One row of a rollout's table: a step's analysis, a change of status, or both (one record). */
export interface RolloutRow {
  tsMs: number;
  actor: string;
  step: number | null;
  steps: number | null;
  weight: number | null;
  analysis: StepAnalysisView | null;
  /** The new status when this record changed it (the first record: `running`, the start). */
  status: string | null;
  reason: string | null;
  first: boolean;
}

export interface RolloutView {
  id: string;
  canaryImage: string | null;
  canaryVersion: string | null;
  startedBy: string;
  startMs: number;
  lastMs: number;
  /** Time of the record that made it aborted or completed; null while it is not over. */
  endMs: number | null;
  status: string | null;
  reason: string | null;
  steps: number | null;
  /** Some record of it lies inside the requested period (only those rollouts are reported). */
  inPeriod: boolean;
  /** Rows inside the requested period, in file order. */
  rows: RolloutRow[];
  /** Last intent whose analysis was taken, so its outcome record does not add it twice. */
  lastAnalysisIntent: string | null;
}

export interface WeightPoint {
  tsMs: number;
  weight: number;
}

export interface RolloutData {
  rollouts: RolloutView[];
  /** Rollout records not listed because a cap was reached. */
  overflow: number;
  /** Canary weight changes in time order; the first may predate the period (the weight in effect at its start). */
  weights: WeightPoint[];
}

function trackOf(raw: unknown): TrackView {
  const t = isPlainObject(raw) ? raw : {};
  return { requests: numberOrNull(t.requests), errorRate: numberOrNull(t.error_rate), p99Seconds: numberOrNull(t.p99_seconds) };
}

export class RolloutTracker {
  private readonly byId = new Map<string, RolloutView>();
  private readonly list: RolloutView[] = [];
  private readonly weights: WeightPoint[] = [];
  private overflow = 0;
  private rowCount = 0;
  private pendingDecision: { violations: string[]; shadow: boolean } | null = null;

  constructor(
    private readonly maxListed: number,
    private readonly sinceMs: number | null,
    private readonly untilMs: number | null,
  ) {}

  /** Every event record, in file order, inside the period or not (`inPeriod`). */
  add(entry: AuditEntry, inPeriod: boolean): void {
    const p = entry.payload as Record<string, unknown>;
    const actor = entry.actor === 'shadow' && typeof p.operator === 'string' ? p.operator : entry.actor;
    if (p.stage === 'policy_decided' && isPlainObject(p.decision) && p.decision.question === 'step') {
      const verdict = toVerdictView(p.decision, 'canary');
      if (verdict !== null && !isUnavailable(verdict)) {
        this.pendingDecision = { violations: verdict.violations.map((v) => v.id), shadow: verdict.enforcement === 'shadow' };
      }
      return;
    }
    const r = p.rollout;
    if (!isPlainObject(r) || typeof r.id !== 'string') return;
    // A step decision belongs to the analysis recorded right after it, never to a later one.
    const decision = this.pendingDecision;
    this.pendingDecision = null;
    const status = stringOrNull(r.status);
    const weight = numberOrNull(r.weight);
    const reason = stringOrNull(r.reason);
    this.noteWeight(entry.tsMs, weight);

    let view = this.byId.get(r.id);
    const first = view === undefined;
    if (view === undefined) {
      if (this.list.length >= this.maxListed) {
        this.overflow++;
        return;
      }
      view = {
        id: r.id,
        canaryImage: stringOrNull(r.canary_image),
        canaryVersion: stringOrNull(r.canary_version),
        startedBy: actor,
        startMs: entry.tsMs,
        lastMs: entry.tsMs,
        endMs: null,
        status: null,
        reason: null,
        steps: numberOrNull(r.steps),
        inPeriod: false,
        rows: [],
        lastAnalysisIntent: null,
      };
      this.byId.set(r.id, view);
      this.list.push(view);
    }
    const changed = status !== null && status !== view.status;
    view.lastMs = entry.tsMs;
    if (inPeriod) view.inPeriod = true;
    if (status !== null) view.status = status;
    view.reason = reason;
    if (changed && (status === 'aborted' || status === 'completed')) view.endMs = entry.tsMs;

    // The analysis rides on a transition's intent; its outcome record (same intent_id) may repeat it.
    const intentId = stringOrNull(p.intent_id);
    let analysis: StepAnalysisView | null = null;
    let a: Record<string, unknown> | null = isPlainObject(p.analysis) ? p.analysis : null;
    if (a !== null && isOutcomeStage(p.stage) && intentId !== null && intentId === view.lastAnalysisIntent) a = null;
    if (a !== null) {
      view.lastAnalysisIntent = intentId;
      const tracks = isPlainObject(a.tracks) ? a.tracks : {};
      analysis = {
        outcome: stringOrNull(a.outcome) ?? 'unknown',
        stable: trackOf(tracks.stable),
        canary: trackOf(tracks.canary),
        violations: decision?.violations ?? [],
        shadow: decision?.shadow ?? false,
      };
    }
    if (!inPeriod || (analysis === null && !changed)) return;
    if (this.rowCount >= this.maxListed) {
      this.overflow++;
      return;
    }
    this.rowCount++;
    view.rows.push({
      tsMs: entry.tsMs,
      actor,
      // The analysis names the step it judged; the transition's own summary may already name the next.
      step: a !== null ? numberOrNull(a.step) : numberOrNull(r.step),
      steps: numberOrNull(r.steps),
      weight: a !== null ? numberOrNull(a.weight) : weight,
      analysis,
      status: changed ? status : null,
      reason,
      first,
    });
  }

  private noteWeight(tsMs: number, weight: number | null): void {
    if (weight === null) return;
    if (this.untilMs !== null && tsMs > this.untilMs) return;
    const last = this.weights.at(-1);
    if (last !== undefined && last.weight === weight) return;
    // Before the period only the weight in effect at its start matters: keep one point.
    if (this.sinceMs !== null && tsMs < this.sinceMs && last !== undefined && last.tsMs < this.sinceMs) {
      last.tsMs = tsMs;
      last.weight = weight;
      return;
    }
    if (this.weights.length >= this.maxListed) {
      this.overflow++;
      return;
    }
    this.weights.push({ tsMs, weight });
  }

  finish(): RolloutData {
    return { rollouts: this.list.filter((v) => v.inPeriod), overflow: this.overflow, weights: this.weights };
  }
}

/**
 * The canary weight per timeline row: the highest weight in effect at any time inside the row
 * (from its first to its last record), so a short step still shows; 0 before any rollout.
 */
export function weightPerRow(rows: ReadonlyArray<{ fromMs: number; toMs: number }>, weights: readonly WeightPoint[]): number[] {
  const out: number[] = [];
  let i = 0;
  let current = 0;
  for (const row of rows) {
    while (i < weights.length && (weights[i]?.tsMs ?? Infinity) <= row.fromMs) current = weights[i++]?.weight ?? current;
    let peak = current;
    while (i < weights.length && (weights[i]?.tsMs ?? Infinity) <= row.toMs) {
      current = weights[i++]?.weight ?? current;
      peak = Math.max(peak, current);
    }
    out.push(peak);
  }
  return out;
}
