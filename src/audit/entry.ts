/**
 * A tolerant view of one history record for the report. The ledger validates what it writes; the
 * report must also read what older versions wrote (no `seq`, no hashes, a missing `kind`), so it
 * looks at records as plain data and never trusts a field's type without checking it.
 */
import type { EventPayload, StatusPayload } from '../history/types.js';

export interface AuditEntry {
  /** 1-based line number in history.jsonl when known (for messages), else the record's position. */
  line: number;
  tsMs: number;
  kind: 'status' | 'event';
  actor: string;
  policyVersion: string | null;
  payload: Partial<StatusPayload> | Partial<EventPayload>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Returns null for a line that is not a record at all (no usable time); the caller counts those as
 * skipped rather than guessing where in time they belong.
 */
export function toAuditEntry(raw: unknown, line: number): AuditEntry | null {
  if (!isObject(raw)) return null;
  const ts = typeof raw.ts === 'string' ? Date.parse(raw.ts) : typeof raw.ts === 'number' ? raw.ts : Number.NaN;
  if (!Number.isFinite(ts)) return null;
  const payload = isObject(raw.payload) ? raw.payload : raw;
  let kind: 'status' | 'event';
  if (raw.kind === 'status' || raw.kind === 'event') kind = raw.kind;
  // Old records carry no kind: an action makes it an event, anything else is an observation.
  else kind = typeof payload.action === 'string' ? 'event' : 'status';
  return {
    line,
    tsMs: ts,
    kind,
    actor: typeof raw.actor === 'string' ? raw.actor : 'unknown',
    policyVersion: typeof raw.policy_version === 'string' ? raw.policy_version : null,
    payload: payload as Partial<StatusPayload> | Partial<EventPayload>,
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
  if (!isObject(raw)) return null;
  const domain = typeof raw.domain === 'string' ? raw.domain : fallbackDomain;
  const enforcement = raw.enforcement === 'shadow' ? 'shadow' : 'enforce';
  if (typeof raw.unavailable === 'string') return { unavailable: raw.unavailable, domain, enforcement };
  if (typeof raw.allowed !== 'boolean') return null;
  const violations: ViolationView[] = Array.isArray(raw.violations)
    ? raw.violations.filter(isObject).map((v) => ({
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

export { isObject };
