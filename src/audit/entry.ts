/**
 * A tolerant view of one history record for the report. The ledger validates what it writes; the
 * report must also read what older versions wrote (no `seq`, no hashes, a missing `kind`, and the
 * original Python swiftdeploy's records: see fromSeedRecord), so it looks at records as plain data
 * and never trusts a field's type without checking it.
 */
import type { EventPayload, StatusPayload } from '../history/types.js';
import { isPlainObject } from '../util/is-plain-object.js';

export interface AuditEntry {
  /** 1-based line number in history.jsonl when known (for messages), else the record's position. */
  line: number;
  tsMs: number;
  kind: 'status' | 'event';
  actor: string;
  policyVersion: string | null;
  payload: Partial<StatusPayload> | Partial<EventPayload>;
  /** Written before the hash chain (no `hash`): read, but nothing vouches for it. */
  legacy: boolean;
}

/** A record's time in ms: `ts` (ISO string, or ms), else the seed's `timestamp` (epoch seconds), else its `time` (ISO). */
function timeOf(raw: Record<string, unknown>): number {
  if (typeof raw.ts === 'string') return Date.parse(raw.ts);
  if (typeof raw.ts === 'number') return raw.ts;
  if (typeof raw.timestamp === 'number') return raw.timestamp * 1000;
  // A time without a zone would be read in the machine's zone: only a zoned one is a time.
  if (typeof raw.time === 'string' && /(?:Z|[+-]\d\d:?\d\d)$/i.test(raw.time)) return Date.parse(raw.time);
  return Number.NaN;
}

/**
 * Returns null for a line that is not a record at all (no usable time); the caller counts those as
 * skipped rather than guessing where in time they belong.
 */
export function toAuditEntry(raw: unknown, line: number): AuditEntry | null {
  if (!isPlainObject(raw)) return null;
  const ts = timeOf(raw);
  if (!Number.isFinite(ts)) return null;
  const legacy = typeof raw.hash !== 'string';
  const actor = typeof raw.actor === 'string' ? raw.actor : typeof raw.user === 'string' ? raw.user : 'unknown';
  if (legacy && typeof raw.event === 'string' && !isPlainObject(raw.payload)) {
    const seed = fromSeedRecord(raw);
    return { line, tsMs: ts, kind: seed.kind, actor, policyVersion: null, payload: seed.payload, legacy };
  }
  const payload = isPlainObject(raw.payload) ? raw.payload : raw;
  let kind: 'status' | 'event';
  if (raw.kind === 'status' || raw.kind === 'event') kind = raw.kind;
  // Old records carry no kind: an action makes it an event, anything else is an observation.
  else kind = typeof payload.action === 'string' ? 'event' : 'status';
  return {
    line,
    tsMs: ts,
    kind,
    actor,
    policyVersion: typeof raw.policy_version === 'string' ? raw.policy_version : null,
    payload: payload as Partial<StatusPayload> | Partial<EventPayload>,
    legacy,
  };
}

const SEED_STAGES: Record<string, string> = { success: 'confirmed', ok: 'confirmed', failed: 'failed', error: 'failed', blocked: 'denied', denied: 'denied' };

/**
 * A record of the original (Python) swiftdeploy, in the shapes today's records have. Its fields:
 * `time` (ISO 8601) and `timestamp` (epoch seconds), `event`, `action`, `mode`, `chaos`, `result`,
 * `message`, `policies: [{policy, decision: {allow, violations: [{rule, observed, threshold,
 * message}]}}]` and, for `status_scrape`, `metrics: {requests, error_rate, p99_ms,
 * requests_per_second}`. `status_scrape` becomes a status tick (its window from `metrics`, a verdict
 * per policy); `policy_check` the policy decision of the `action` it checked; any other event a
 * lifecycle step of `action` (else the event's name), its `result` the outcome.
 */
function fromSeedRecord(raw: Record<string, unknown>): { kind: 'status' | 'event'; payload: Record<string, unknown> } {
  const event = raw.event as string;
  const verdicts = Array.isArray(raw.policies) ? raw.policies.filter(isPlainObject).map(seedVerdict) : [];
  if (event === 'status_scrape') {
    const m = isPlainObject(raw.metrics) ? raw.metrics : null;
    const p99Ms = m === null ? null : numberOrNull(m.p99_ms);
    const decisions: Record<string, unknown> = {};
    for (const v of verdicts) decisions[v.domain] ??= v;
    return {
      kind: 'status',
      payload: {
        mode: stringOrNull(raw.mode),
        chaos: typeof raw.chaos === 'string' ? { mode: raw.chaos } : isPlainObject(raw.chaos) ? raw.chaos : null,
        window:
          m === null
            ? null
            : {
                requests: numberOrNull(m.requests),
                error_rate: numberOrNull(m.error_rate),
                p99_seconds: p99Ms === null ? numberOrNull(m.p99_seconds) : p99Ms / 1000,
                requests_per_second: numberOrNull(m.requests_per_second),
              },
        decisions,
        ...(typeof raw.error === 'string' ? { error: raw.error } : {}),
      },
    };
  }
  const action = stringOrNull(raw.action) ?? event;
  const detail = stringOrNull(raw.message) ?? stringOrNull(raw.result);
  const payload: Record<string, unknown> = { action, ...(detail !== null ? { detail } : {}) };
  if (event === 'policy_check') {
    payload.stage = 'policy_decided';
    // The decision that stopped it, else the first: a denial outranks the allows beside it.
    const decision = verdicts.find((v) => !v.allowed) ?? verdicts[0];
    if (decision !== undefined) payload.decision = decision;
    const to = stringOrNull(raw.target_mode);
    if (to !== null) payload.to_mode = to;
    return { kind: 'event', payload };
  }
  const result = stringOrNull(raw.result);
  payload.stage = (result !== null ? SEED_STAGES[result] : undefined) ?? result ?? 'recorded';
  const mode = stringOrNull(raw.mode);
  if (mode !== null && action !== 'deploy') payload.to_mode = mode;
  return { kind: 'event', payload };
}

interface SeedVerdict {
  domain: string;
  allowed: boolean;
  enforcement: 'enforce';
  reason: string;
  policy_version: null;
  violations: Array<{ id: string; message: string; observed: unknown; threshold: unknown }>;
}

function seedVerdict(entry: Record<string, unknown>): SeedVerdict {
  const d = entry.decision;
  const decision = isPlainObject(d) ? d : {};
  const allowed = d === 'allow' || decision.allow === true || decision.allowed === true;
  const list = Array.isArray(decision.violations) ? decision.violations : Array.isArray(entry.violations) ? entry.violations : [];
  const violations = list.filter(isPlainObject).map((v) => ({
    id: stringOrNull(v.rule) ?? stringOrNull(v.id) ?? 'unknown',
    message: stringOrNull(v.message) ?? '',
    observed: v.observed,
    threshold: v.threshold,
  }));
  return {
    domain: stringOrNull(entry.policy) ?? stringOrNull(entry.name) ?? 'policy',
    allowed,
    enforcement: 'enforce',
    reason: violations.map((v) => v.message).join('; '),
    policy_version: null,
    violations,
  };
}

/** A decision as found in a record, checked field by field. */
export interface DecisionView {
  domain: string;
  allowed: boolean;
  enforcement: 'enforce' | 'shadow';
  policyVersion: string | null;
  reason: string;
  violations: ViolationView[];
  wouldHaveBlocked: string[];
}

export interface ViolationView {
  id: string;
  message: string;
  observed: unknown;
  threshold: unknown;
}

export type VerdictView = { unavailable: string; domain: string; enforcement: 'enforce' | 'shadow' } | DecisionView;

export function toVerdictView(raw: unknown, fallbackDomain: string): VerdictView | null {
  if (!isPlainObject(raw)) return null;
  const domain = typeof raw.domain === 'string' ? raw.domain : fallbackDomain;
  const enforcement = raw.enforcement === 'shadow' ? 'shadow' : 'enforce';
  if (typeof raw.unavailable === 'string') return { unavailable: raw.unavailable, domain, enforcement };
  if (typeof raw.allowed !== 'boolean') return null;
  const violations: ViolationView[] = Array.isArray(raw.violations)
    ? raw.violations.filter(isPlainObject).map((v) => ({
        id: typeof v.id === 'string' ? v.id : 'unknown',
        message: typeof v.message === 'string' ? v.message : '',
        observed: v.observed,
        threshold: v.threshold,
      }))
    : [];
  return {
    domain,
    allowed: raw.allowed,
    enforcement,
    policyVersion: typeof raw.policy_version === 'string' ? raw.policy_version : null,
    reason: typeof raw.reason === 'string' ? raw.reason : '',
    violations,
    wouldHaveBlocked: Array.isArray(raw.would_have_blocked)
      ? raw.would_have_blocked.filter((x): x is string => typeof x === 'string')
      : [],
  };
}

export function isUnavailable(v: VerdictView): v is { unavailable: string; domain: string; enforcement: 'enforce' | 'shadow' } {
  return 'unavailable' in v;
}

export function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

