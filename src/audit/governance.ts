/**
 * The governance loop as the report sees it (issue #14), collected in the same streaming pass:
 * approvals (`approval` records, and the lifecycle `authorised` record that consumed one), the
 * guard's incidents (`guard` records: detected, proposed, authorised, executed, recovered) and
 * webhook deliveries (`notify` records). These records interleave with lifecycle operations (a
 * `serve` process decides while a requester waits), so they are kept apart from OperationTracker.
 *
 * Memory: one entry per approval and per incident (each list capped at `maxListed`), counters for
 * deliveries; nothing per status record.
 */
import { numberOrNull, stringOrNull, type AuditEntry } from './entry.js';
import { isPlainObject } from '../util/is-plain-object.js';

/** The ledger actions this module reads; the operation tracker leaves them alone. */
const GOVERNANCE_ACTIONS = new Set(['approval', 'guard', 'notify']);

export function isGovernanceAction(action: unknown): boolean {
  return typeof action === 'string' && GOVERNANCE_ACTIONS.has(action);
}

export interface ApprovalDecisionView {
  by: string;
  outcome: 'approved' | 'denied';
  via: string | null;
  atMs: number;
  reason: string | null;
}

export interface ApprovalView {
  id: string;
  action: string | null;
  summary: string | null;
  requestedBy: string;
  requestedMs: number;
  expiresMs: number | null;
  required: number;
  executor: string | null;
  decisions: ApprovalDecisionView[];
  /** An end recorded as such (expired, voided); approved/denied are derived from `decisions`. */
  ended: { outcome: string; atMs: number; reason: string | null } | null;
  /** Attempts refused (forged, replayed, expired, wrong approver, plan changed...), by reason. */
  refused: Record<string, number>;
  /** When the approved action was authorised with it (the lifecycle `authorised` record), and its action. */
  usedMs: number | null;
  inPeriod: boolean;
}

export interface IncidentStageView {
  stage: string;
  actor: string;
  atMs: number;
}

export interface IncidentView {
  id: string;
  shadow: boolean;
  violations: string[];
  /** The last change before the incident, as the guard recorded it. */
  correlation: { label: string; afterMs: number | null; actor: string | null; commit: string | null } | null;
  plan: string | null;
  approvalId: string | null;
  authorisedBy: string[];
  outcome: string | null;
  detail: string | null;
  stages: IncidentStageView[];
  inPeriod: boolean;
}

export interface DeliveryCounts {
  delivered: number;
  undelivered: number;
}

export interface GovernanceData {
  approvals: ApprovalView[];
  incidents: IncidentView[];
  /** Webhook deliveries in the period, by notified event. */
  deliveries: Map<string, DeliveryCounts>;
  /** Approvals or incidents not listed because the cap was reached. */
  overflow: number;
}

export function emptyGovernance(): GovernanceData {
  return { approvals: [], incidents: [], deliveries: new Map(), overflow: 0 };
}

const stringList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);

export class GovernanceTracker {
  private readonly data = emptyGovernance();
  private readonly approvals = new Map<string, ApprovalView>();
  private readonly incidents = new Map<string, IncidentView>();

  constructor(private readonly maxListed: number) {}

  /** Every event record in file order; `inPeriod` says whether it lies in the requested period. */
  add(entry: AuditEntry, inPeriod: boolean): void {
    const p = entry.payload as Record<string, unknown>;
    const action = stringOrNull(p.action);
    const stage = stringOrNull(p.stage) ?? 'unknown';
    if (action === 'approval' && isPlainObject(p.approval)) this.approval(entry, stage, p.approval, inPeriod);
    else if (action === 'guard' && isPlainObject(p.incident)) this.incident(entry, stage, p.incident, inPeriod);
    else if (action === 'notify' && isPlainObject(p.notify) && inPeriod) {
      const event = stringOrNull(p.notify.event) ?? 'unknown';
      const counts = this.data.deliveries.get(event) ?? { delivered: 0, undelivered: 0 };
      if (stage === 'delivered') counts.delivered++;
      else counts.undelivered++;
      this.data.deliveries.set(event, counts);
    } else if (stage === 'authorised' && typeof p.approval_id === 'string') {
      // A lifecycle operation authorised by an approval: when it was used.
      const a = this.approvals.get(p.approval_id);
      if (a !== undefined && a.usedMs === null) a.usedMs = entry.tsMs;
    }
  }

  private approval(entry: AuditEntry, stage: string, a: Record<string, unknown>, inPeriod: boolean): void {
    const id = stringOrNull(a.id);
    if (stage === 'requested' && id !== null) {
      if (this.approvals.size >= this.maxListed) {
        this.data.overflow++;
        return;
      }
      const plan = isPlainObject(a.plan) ? a.plan : {};
      const expires = stringOrNull(a.expires_at);
      this.approvals.set(id, {
        id,
        action: stringOrNull(plan.action),
        summary: stringOrNull(plan.summary),
        requestedBy: stringOrNull(a.requested_by) ?? entry.actor,
        requestedMs: entry.tsMs,
        expiresMs: expires === null ? null : Date.parse(expires),
        required: numberOrNull(a.required) ?? 1,
        executor: stringOrNull(a.executor),
        decisions: [],
        ended: null,
        refused: {},
        usedMs: null,
        inPeriod,
      });
      return;
    }
    const view = id === null ? undefined : this.approvals.get(id);
    if (view === undefined) return;
    if (inPeriod) view.inPeriod = true;
    if (stage === 'approved' || stage === 'denied') {
      view.decisions.push({
        by: stringOrNull(a.decided_by) ?? entry.actor,
        outcome: stage,
        via: stringOrNull(a.via),
        atMs: entry.tsMs,
        reason: stringOrNull(a.reason),
      });
    } else if (stage === 'expired' || stage === 'voided') {
      view.ended ??= { outcome: stage, atMs: entry.tsMs, reason: stringOrNull(a.reason) };
    } else if (stage === 'refused') {
      const why = stringOrNull(a.why) ?? 'unknown';
      view.refused[why] = (view.refused[why] ?? 0) + 1;
    }
  }

  private incident(entry: AuditEntry, stage: string, i: Record<string, unknown>, inPeriod: boolean): void {
    const id = stringOrNull(i.id);
    if (id === null) return;
    let view = this.incidents.get(id);
    if (view === undefined) {
      if (this.incidents.size >= this.maxListed) {
        this.data.overflow++;
        return;
      }
      view = {
        id,
        shadow: i.shadow === true,
        violations: [],
        correlation: null,
        plan: null,
        approvalId: null,
        authorisedBy: [],
        outcome: null,
        detail: null,
        stages: [],
        inPeriod,
      };
      this.incidents.set(id, view);
    }
    if (inPeriod) view.inPeriod = true;
    view.stages.push({ stage, actor: entry.actor, atMs: entry.tsMs });
    if (Array.isArray(i.violations) && view.violations.length === 0) {
      for (const v of i.violations) {
        if (!isPlainObject(v)) continue;
        const domain = stringOrNull(v.domain);
        const rule = stringOrNull(v.id) ?? 'unknown';
        view.violations.push(domain === null ? rule : `${domain}/${rule}`);
      }
    }
    if (isPlainObject(i.correlation) && view.correlation === null) view.correlation = correlationLine(i.correlation);
    if (isPlainObject(i.plan)) view.plan = stringOrNull(i.plan.summary) ?? stringOrNull(i.plan.action);
    view.approvalId ??= stringOrNull(i.approval_id);
    const by = stringList(i.authorised_by);
    if (by.length > 0) view.authorisedBy = by;
    const outcome = stringOrNull(i.outcome);
    if (outcome !== null) view.outcome = outcome;
    const detail = stringOrNull(i.detail);
    if (detail !== null && detail !== '') view.detail = detail;
  }

  finish(): GovernanceData {
    this.data.approvals = [...this.approvals.values()].filter((a) => a.inPeriod);
    this.data.incidents = [...this.incidents.values()].filter((i) => i.inPeriod);
    return this.data;
  }
}

function correlationLine(c: Record<string, unknown>): IncidentView['correlation'] {
  const label = stringOrNull(c.label) ?? stringOrNull(c.action);
  if (label === null) return null;
  return { label, afterMs: numberOrNull(c.after_ms), actor: stringOrNull(c.actor), commit: stringOrNull(c.commit) };
}

/**
 * An approval's end in one word: denied at the first deny; a recorded end (expired, voided) is final
 * (an approval voided after it was approved stays void); approved at `required` distinct approvals;
 * expired when its expiry is before `endMs` (the report's last record) though nobody recorded it;
 * else pending.
 */
export function approvalOutcome(a: ApprovalView, endMs: number | null = null): { outcome: string; atMs: number | null; by: string[] } {
  const deny = a.decisions.find((d) => d.outcome === 'denied');
  if (deny !== undefined) return { outcome: 'denied', atMs: deny.atMs, by: [deny.by] };
  const approvedBy = [...new Set(a.decisions.filter((d) => d.outcome === 'approved').map((d) => d.by))];
  if (a.ended !== null) return { outcome: a.ended.outcome, atMs: a.ended.atMs, by: approvedBy };
  const approvers: string[] = [];
  for (const d of a.decisions) {
    if (d.outcome !== 'approved' || approvers.includes(d.by)) continue;
    approvers.push(d.by);
    if (approvers.length >= a.required) return { outcome: 'approved', atMs: d.atMs, by: approvers };
  }
  if (a.expiresMs !== null && endMs !== null && a.expiresMs <= endMs) return { outcome: 'expired', atMs: a.expiresMs, by: approvers };
  return { outcome: 'pending', atMs: null, by: approvers };
}
