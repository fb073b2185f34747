/**
 * The notices lifecycle operations send (src/notify delivers them): a denial, a shadow policy that
 * would have blocked, a rollout paused or aborted, a rollback. Each carries the decision and its
 * violations where there is one, and asks for the correlation with the last change before it
 * (looked up in the background by the notifier). Without `notifications:` each is a no-op.
 */
import type { NoticeViolation, Notice } from '../notify/types.js';
import type { DecisionRecord } from '../policy/types.js';
import type { Session } from './session.js';

export function noticeViolations(record: Pick<DecisionRecord, 'domain' | 'violations'>): NoticeViolation[] {
  return record.violations.map((v) => ({ domain: record.domain, id: v.id, message: v.message, observed: v.observed, threshold: v.threshold }));
}

/**
 * A gate's decision that did not allow: `deny` when enforced, `would_have_blocked` in shadow mode.
 * An enforced rollout-step denial is told as the rollout's pause or abort instead.
 */
export function decisionNotice(record: DecisionRecord, actor: string, what: string, at = new Date()): Notice | undefined {
  if (record.allowed) return undefined;
  if (record.enforcement === 'enforce' && record.question === 'step') return undefined;
  const shadow = record.enforcement === 'shadow';
  const ids = [...new Set(record.violations.map((v) => v.id))].join(', ') || record.reason;
  return {
    event: shadow ? 'would_have_blocked' : 'deny',
    summary: shadow ? `[SHADOW] ${record.domain} policy would have blocked ${what}: ${ids}` : `${what} denied by the ${record.domain} policy: ${ids}`,
    actor,
    ...(shadow ? { shadow: true } : {}),
    decision: record,
    violations: noticeViolations(record),
    correlate_at: at.toISOString(),
  };
}

export function alertDecision(session: Session, record: DecisionRecord, what: string): void {
  const notice = decisionNotice(record, session.operator.actor, what);
  if (notice !== undefined) session.notify(notice);
}

/** A rollout paused (for a human) or aborted; `event` says `rollback` when the abort was a `rollback`. */
export function alertRollout(
  session: Session,
  event: 'rollout_paused' | 'rollout_aborted' | 'rollback',
  summary: string,
  rollout: Record<string, unknown>,
  options: { actor?: string; decision?: DecisionRecord | null; correlateAt?: Date } = {},
): void {
  const { decision } = options;
  session.notify({
    event,
    summary,
    actor: options.actor ?? session.operator.actor,
    ...(decision ? { decision, violations: noticeViolations(decision) } : {}),
    // An abort is correlated with what came before it, not with itself.
    correlate_at: (options.correlateAt ?? new Date()).toISOString(),
    detail: { rollout },
  });
}

/** A rollback completed or failed; correlated with the last change before the rollback began. */
export function alertRollback(session: Session, startedAt: Date, detail: { from: string; outcome: 'rolled_back' | 'failed'; reason: string; error?: string }): void {
  const project = session.manifest.project.name;
  session.notify({
    event: 'rollback',
    summary:
      detail.outcome === 'rolled_back'
        ? `${project} rolled back ${detail.from} -> stable by ${session.operator.actor}: ${detail.reason}`
        : `rollback of ${project} to stable FAILED (${detail.error ?? 'unknown error'}); reason: ${detail.reason}`,
    actor: session.operator.actor,
    correlate_at: startedAt.toISOString(),
    detail: { ...detail, to: 'stable' },
  });
}
