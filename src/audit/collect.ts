/**
 * One streaming pass over the history that keeps only what the report prints: counters, extremes,
 * a downsampled timeline, and the lists of operations and violation episodes.
 *
 * Memory: constant in the number of status records (the bulk of any history). The operation and
 * episode lists grow with the number of operations and distinct violation episodes, which the report
 * must print in full anyway; each is capped (`maxListed`) so a runaway script cannot exhaust memory,
 * and a capped list says so loudly in the report instead of silently shortening.
 */
import {
  isUnavailable,
  numberOrNull,
  stringOrNull,
  toAuditEntry,
  toVerdictView,
  type AuditEntry,
} from './entry.js';
import { isPlainObject } from '../util/is-plain-object.js';
import { OperationTracker, finalState, isStepDecision, lastChangeAfter, wouldHaveBlocked, type Operation } from './operations.js';
import { DownsampledTimeline, type TimelineRow } from './timeline.js';
import { EpisodeTracker, correlate, newEpisode, type ViolationEpisode } from './violations.js';
import { RolloutTracker, type RolloutData } from './rollouts.js';
import { GovernanceTracker, emptyGovernance, isGovernanceAction, type GovernanceData } from './governance.js';

export interface CollectOptions {
  /** Inclusive bounds in ms since the epoch; records outside are read (for context) but not reported. */
  sinceMs?: number | null;
  untilMs?: number | null;
  /** About this many timeline rows (default 200). */
  timelineRows?: number;
  /** Longest list of operations or violation episodes kept (default 10,000 each). */
  maxListed?: number;
  /** A gap between status records longer than this is "unobserved", not time in a mode (default 120 s). */
  maxObservationGapMs?: number;
}

export interface ActionCounts {
  total: number;
  confirmed: number;
  denied: number;
  failed: number;
  rolledBack: number;
  wouldHaveBlocked: number;
}

export interface Overflow {
  count: number;
  firstMs: number;
  lastMs: number;
}

export interface AuditData {
  sinceMs: number | null;
  untilMs: number | null;
  firstMs: number | null;
  lastMs: number | null;
  recordsRead: number;
  recordsInPeriod: number;
  statusRecords: number;
  eventRecords: number;
  /** Lines that were not records (no usable time); counted, never guessed at. */
  unreadable: number;
  /** Records in the period written before the hash chain (no `hash`), and the lines of the first and last. */
  legacy: { records: number; firstLine: number; lastLine: number } | null;
  /** Lines left out because they give a member name twice (readers disagree on them): how many, and the first few. */
  ambiguous: { count: number; first: Array<{ line: number; why: string }> };
  policyVersions: Map<string, { firstMs: number; lastMs: number; records: number }>;
  policyVersionsOverflow: number;
  operations: Operation[];
  operationsOverflow: Overflow | null;
  byAction: Map<string, ActionCounts>;
  ticksDenied: number;
  ticksWouldHaveBlock: number;
  ticksUnavailable: Map<string, number>;
  scrapeFailures: number;
  peakErrorRate: { value: number; atMs: number; requests: number | null } | null;
  worstP99: { value: number; capped: boolean; atMs: number } | null;
  modeTimeMs: Map<string, number>;
  unobservedMs: number;
  timeline: TimelineRow[];
  timelineTarget: number;
  episodes: ViolationEpisode[];
  episodesOverflow: Overflow | null;
  /** Progressive rollouts (src/audit/rollouts.ts); empty when the history has none. */
  rollouts: RolloutData;
  /** Approvals, guard incidents and webhook deliveries (src/audit/governance.ts). */
  governance: GovernanceData;
}

const MAX_POLICY_VERSIONS = 100;

function bumpOverflow(o: Overflow | null, atMs: number): Overflow {
  return o === null ? { count: 1, firstMs: atMs, lastMs: atMs } : { count: o.count + 1, firstMs: o.firstMs, lastMs: atMs };
}

export interface RawLine {
  line: number;
  record: unknown;
}

export async function collectAudit(
  lines: AsyncIterable<RawLine> | Iterable<RawLine>,
  options: CollectOptions = {},
): Promise<AuditData> {
  const collector = createAuditCollector(options);
  for await (const { line, record } of lines) collector.add(line, record);
  return collector.finish();
}

export interface AuditCollector {
  /** One record, in file order; `line` 0 when unknown (its position is used). */
  add(line: number, record: unknown): void;
  /** A line left out because it gives a member name twice (see RecordLines). */
  ambiguous(line: number, why: string): void;
  /** The data, once every record has been added. */
  finish(): AuditData;
}

/** The collector as a push interface, so a batched reader can feed it without an await per record. */
export function createAuditCollector(options: CollectOptions = {}): AuditCollector {
  const sinceMs = options.sinceMs ?? null;
  const untilMs = options.untilMs ?? null;
  const maxListed = options.maxListed ?? 10_000;
  const maxGap = options.maxObservationGapMs ?? 120_000;
  const timelineTarget = options.timelineRows ?? 200;
  const timeline = new DownsampledTimeline(timelineTarget);

  const data: AuditData = {
    sinceMs,
    untilMs,
    firstMs: null,
    lastMs: null,
    recordsRead: 0,
    recordsInPeriod: 0,
    statusRecords: 0,
    eventRecords: 0,
    unreadable: 0,
    legacy: null,
    ambiguous: { count: 0, first: [] },
    policyVersions: new Map(),
    policyVersionsOverflow: 0,
    operations: [],
    operationsOverflow: null,
    byAction: new Map(),
    ticksDenied: 0,
    ticksWouldHaveBlock: 0,
    ticksUnavailable: new Map(),
    scrapeFailures: 0,
    peakErrorRate: null,
    worstP99: null,
    modeTimeMs: new Map(),
    unobservedMs: 0,
    timeline: [],
    timelineTarget,
    episodes: [],
    episodesOverflow: null,
    rollouts: { rollouts: [], overflow: 0, weights: [] },
    governance: emptyGovernance(),
  };
  const rollouts = new RolloutTracker(maxListed, sinceMs, untilMs);
  const governance = new GovernanceTracker(maxListed);

  const keepEpisode = (episode: ViolationEpisode): void => {
    if (data.episodes.length < maxListed) data.episodes.push(episode);
    else data.episodesOverflow = bumpOverflow(data.episodesOverflow, episode.firstMs);
  };
  const episodes = new EpisodeTracker(keepEpisode);
  const tracker = new OperationTracker();
  let lastChange: Operation | null = null;
  let countedOp: Operation | null = null;
  const gateRecorded = new WeakSet<Operation>();
  let previousStatus: { tsMs: number; mode: string | null } | null = null;

  const countOperation = (op: Operation): void => {
    const counts = data.byAction.get(op.action) ?? { total: 0, confirmed: 0, denied: 0, failed: 0, rolledBack: 0, wouldHaveBlocked: 0 };
    counts.total++;
    const state = finalState(op);
    if (state === 'denied') counts.denied++;
    else if (state === 'confirmed') counts.confirmed++;
    else if (state === 'rolled_back') counts.rolledBack++;
    else if (state === 'failed') counts.failed++;
    if (wouldHaveBlocked(op)) counts.wouldHaveBlocked++;
    data.byAction.set(op.action, counts);
  };

  const notePolicyVersion = (version: string | null, atMs: number): void => {
    if (version === null) return;
    const seen = data.policyVersions.get(version);
    if (seen !== undefined) {
      seen.lastMs = atMs;
      seen.records++;
    } else if (data.policyVersions.size < MAX_POLICY_VERSIONS) {
      data.policyVersions.set(version, { firstMs: atMs, lastMs: atMs, records: 1 });
    } else data.policyVersionsOverflow++;
  };

  const onEvent = (entry: AuditEntry, inPeriod: boolean): void => {
    governance.add(entry, inPeriod);
    // Approval, guard and delivery records interleave with operations (another process writes them): not operations.
    if (isGovernanceAction((entry.payload as Record<string, unknown>).action)) return;
    rollouts.add(entry, inPeriod);
    const { op, isNew } = tracker.add(entry);
    if (isNew && inPeriod) {
      if (countedOp !== null) countOperation(countedOp);
      countedOp = op;
      if (data.operations.length < maxListed) data.operations.push(op);
      else data.operationsOverflow = bumpOverflow(data.operationsOverflow, op.startMs);
    } else if (isNew && countedOp !== null) {
      countOperation(countedOp);
      countedOp = null;
    }
    const decision = (entry.payload as Record<string, unknown>).decision;
    // Each rollout step is judged on its own, so each step's violations are listed; a gate's only once.
    const step = isStepDecision(decision);
    if (inPeriod && decision !== undefined && (step || !gateRecorded.has(op))) {
      const verdict = toVerdictView(decision, 'unknown');
      if (verdict !== null && !isUnavailable(verdict)) {
        if (verdict.policyVersion !== entry.policyVersion) notePolicyVersion(verdict.policyVersion, entry.tsMs);
        if (!verdict.allowed || verdict.violations.length > 0) {
          if (!step) gateRecorded.add(op);
          const source = step ? 'rollout step analysis' : `${op.action} gate`;
          for (const v of verdict.violations) {
            keepEpisode(newEpisode(verdict.domain, v, verdict.enforcement, `${source}${entry.legacy ? ' (legacy record)' : ''}`, entry.tsMs, correlate(entry.tsMs, lastChange)));
          }
        }
      }
    }
    lastChange = lastChangeAfter(op, lastChange);
  };

  const onStatus = (entry: AuditEntry): void => {
    const p = entry.payload as Record<string, unknown>;
    const mode = stringOrNull(p.mode);
    const chaos = isPlainObject(p.chaos) ? stringOrNull(p.chaos.mode) : null;
    const window = isPlainObject(p.window) ? p.window : null;
    const errorRate = window === null ? null : numberOrNull(window.error_rate);
    const p99 = window === null ? null : numberOrNull(window.p99_seconds);
    const capped = window !== null && window.quantiles_capped === true;
    const requests = window === null ? null : numberOrNull(window.requests);
    const scrapeFailed = typeof p.error === 'string';
    if (scrapeFailed) data.scrapeFailures++;

    if (previousStatus !== null) {
      const dt = entry.tsMs - previousStatus.tsMs;
      if (dt > 0 && dt <= maxGap && previousStatus.mode !== null) {
        data.modeTimeMs.set(previousStatus.mode, (data.modeTimeMs.get(previousStatus.mode) ?? 0) + dt);
      } else if (dt > 0) data.unobservedMs += dt;
    }
    previousStatus = { tsMs: entry.tsMs, mode };

    if (errorRate !== null && (data.peakErrorRate === null || errorRate > data.peakErrorRate.value)) {
      data.peakErrorRate = { value: errorRate, atMs: entry.tsMs, requests };
    }
    if (p99 !== null && (data.worstP99 === null || p99 > data.worstP99.value)) {
      data.worstP99 = { value: p99, capped, atMs: entry.tsMs };
    }

    const violations: string[] = [];
    const unavailable: string[] = [];
    let denied = false;
    let shadowBlock = false;
    const judged = new Set<string>();
    const decisions = isPlainObject(p.decisions) ? p.decisions : {};
    for (const [key, raw] of Object.entries(decisions)) {
      const verdict = toVerdictView(raw, key);
      if (verdict === null) continue;
      if (isUnavailable(verdict)) {
        unavailable.push(verdict.domain);
        data.ticksUnavailable.set(verdict.domain, (data.ticksUnavailable.get(verdict.domain) ?? 0) + 1);
        continue;
      }
      judged.add(verdict.domain);
      // Counted once per record: the record's own version is noted by the caller.
      if (verdict.policyVersion !== entry.policyVersion) notePolicyVersion(verdict.policyVersion, entry.tsMs);
      if (!verdict.allowed && verdict.enforcement === 'enforce') denied = true;
      if (!verdict.allowed && verdict.enforcement === 'shadow') shadowBlock = true;
      const suffix = verdict.enforcement === 'shadow' ? ' (shadow)' : '';
      for (const v of verdict.violations) violations.push(`${verdict.domain}/${v.id}${suffix}`);
      episodes.judged(verdict.domain, verdict.allowed ? [] : verdict.violations, verdict.enforcement, entry.tsMs, lastChange, entry.legacy ? 'status (legacy record)' : 'status');
    }
    for (const domain of episodes.domains()) if (!judged.has(domain)) episodes.notJudged(domain);
    if (denied) data.ticksDenied++;
    if (shadowBlock) data.ticksWouldHaveBlock++;

    timeline.add({
      tsMs: entry.tsMs,
      mode,
      chaos,
      requestsPerSecond: window === null ? null : numberOrNull(window.requests_per_second),
      errorRate,
      p99Seconds: p99,
      p99Capped: capped,
      violations,
      unavailable,
      scrapeFailed,
      legacy: entry.legacy,
    });
  };

  let position = 0;
  const add = (line: number, record: unknown): void => {
    position++;
    data.recordsRead++;
    const entry = toAuditEntry(record, line || position);
    if (entry === null) {
      data.unreadable++;
      return;
    }
    const inPeriod = (sinceMs === null || entry.tsMs >= sinceMs) && (untilMs === null || entry.tsMs <= untilMs);
    if (entry.kind === 'event') onEvent(entry, inPeriod);
    if (!inPeriod) return;
    data.recordsInPeriod++;
    if (entry.legacy) {
      if (data.legacy === null) data.legacy = { records: 1, firstLine: entry.line, lastLine: entry.line };
      else {
        data.legacy.records++;
        data.legacy.lastLine = entry.line;
      }
    }
    data.firstMs ??= entry.tsMs;
    data.lastMs = entry.tsMs;
    notePolicyVersion(entry.policyVersion, entry.tsMs);
    if (entry.kind === 'event') data.eventRecords++;
    else {
      data.statusRecords++;
      onStatus(entry);
    }
  };
  const finish = (): AuditData => {
    if (countedOp !== null) countOperation(countedOp);
    countedOp = null;
    episodes.closeAll();
    data.episodes.sort((a, b) => a.firstMs - b.firstMs);
    data.timeline = timeline.finish();
    data.rollouts = rollouts.finish();
    data.governance = governance.finish();
    return data;
  };
  const ambiguous = (line: number, why: string): void => {
    data.ambiguous.count++;
    if (data.ambiguous.first.length < 10) data.ambiguous.first.push({ line, why });
  };
  return { add, ambiguous, finish };
}
