/**
 * Groups lifecycle event records into operations. A promote writes several records (requested,
 * policy_decided, authorised, executed, confirmed...); an auditor wants one line per operation: who
 * did what, what the policy said, on which commit, and how it ended.
 *
 * Mutating commands hold the project lock, so one operation's records are never interleaved with
 * another's (status records may sit between them and are ignored here). A record continues the last
 * operation when it has the same action and actor and is not a new `requested`.
 */
import { stringOrNull, toVerdictView, isUnavailable, type AuditEntry, type DecisionView } from './entry.js';
import { isPlainObject } from '../util/is-plain-object.js';

export interface Operation {
  action: string;
  actor: string;
  startMs: number;
  /** When the change took effect (the `executed` stage, else the first terminal stage); null if it never did. */
  effectiveMs: number | null;
  lastMs: number;
  fromMode: string | null;
  toMode: string | null;
  stages: string[];
  decision: DecisionView | null;
  /** Set when the engine could not answer: the operation was refused for lack of a decision. */
  decisionUnavailable: string | null;
  git: { sha: string; dirty: boolean } | null;
  detail: string | null;
  /** Some of its records were written before the hash chain (nothing vouches for them). */
  legacy: boolean;
  /** Write-ahead intents this operation recorded (src/history/intent.ts), so a reconciled outcome finds its operation. */
  intentIds?: string[];
  /** Set when an outcome was recorded by reconciliation after the operation's process ended. */
  reconciled?: boolean;
  /** A progressive rollout's step analyses (canary/step decisions) by outcome: they judge steps, not the operation. */
  stepOutcomes?: Record<string, number>;
  /** The last `payload.rollout` status and reason this operation recorded (src/audit/rollouts.ts reads the rest). */
  rollout?: { id: string; status: string | null; reason: string | null };
}

const TERMINAL = new Set(['confirmed', 'rolled_back', 'failed']);
const CHANGE_ACTIONS = new Set(['deploy', 'promote', 'resume', 'abort', 'rollback']);
/** Write-ahead outcomes (src/history/intent.ts) that mean files or the stack changed. */
const CHANGED_OUTCOMES = new Set(['completed', 'partial']);
/** Actions whose whole job is one write-ahead change: its outcome is the operation's outcome. */
const SINGLE_CHANGE_ACTIONS = new Set(['init', 'lock_release']);

/** A rollout step's analysis (canary policy, question `step`): it judges a step, it does not authorise the operation. */
export function isStepDecision(decision: unknown): decision is Record<string, unknown> {
  return isPlainObject(decision) && decision.question === 'step' && decision.domain === 'canary';
}

export function isChangeAction(action: string): boolean {
  return CHANGE_ACTIONS.has(action);
}

/**
 * The last change after `op` was fed: `op` when it is a deploy, promote, resume, abort or rollback
 * that took effect, else `previous`. The report's correlation and the alerts' (src/notify/correlate.ts).
 */
export function lastChangeAfter(op: Operation, previous: Operation | null): Operation | null {
  return isChangeAction(op.action) && op.effectiveMs !== null ? op : previous;
}

/** true when an enforced policy decision stopped the operation. */
export function wasDenied(op: Operation): boolean {
  return op.decision !== null && !op.decision.allowed && op.decision.enforcement === 'enforce';
}

export function wouldHaveBlocked(op: Operation): boolean {
  return op.decision !== null && op.decision.enforcement === 'shadow' && (!op.decision.allowed || op.decision.wouldHaveBlocked.length > 0);
}

/** A one-phrase outcome: the last stage reached, and why when it did not succeed. */
export function outcomeOf(op: Operation): string {
  const last = op.stages.at(-1) ?? 'unknown';
  const why = op.detail !== null && op.detail !== '' ? `: ${op.detail}` : '';
  if (last === 'confirmed') return `confirmed${why}`;
  if (SINGLE_CHANGE_ACTIONS.has(op.action) || op.reconciled === true) {
    if (last === 'completed') return `completed${why}`;
    if (last === 'not_applied') return `not applied${why}`;
    if (last === 'partial') return `partly applied${why}`;
    if (last === 'unknown') return `outcome unknown${why}`;
    if (last === 'intent') return `intent recorded, no outcome yet${why}`;
  }
  // A promote that failed after changing the manifest is rolled back automatically, then marked failed.
  if (op.stages.includes('rolled_back')) return `rolled back${why}`;
  // A rollout left paused or running waits for a human (resume, abort), not for an outcome.
  if (last !== 'failed' && op.rollout !== undefined && (op.rollout.status === 'paused' || op.rollout.status === 'running')) {
    return `rollout ${op.rollout.id} ${op.rollout.status}${op.rollout.reason !== null ? `: ${op.rollout.reason}` : ''}`;
  }
  if (last === 'failed') return `failed${why}`;
  if (wasDenied(op)) return `denied by policy${why}`;
  if (op.decisionUnavailable !== null) return `policy engine unavailable${why}`;
  if (last === 'executed') return `executed, no confirmation recorded${why}`;
  return `incomplete: last stage ${last}${why}`;
}

/** The final stage in one word, for counting: a rollback's own `rolled_back` is its success. */
export function finalState(op: Operation): 'confirmed' | 'denied' | 'rolled_back' | 'failed' | 'open' {
  if (wasDenied(op)) return 'denied';
  const last = op.stages.at(-1);
  if (last === 'confirmed' || (op.action === 'rollback' && last === 'rolled_back')) return 'confirmed';
  if (SINGLE_CHANGE_ACTIONS.has(op.action) && last === 'completed') return 'confirmed';
  if (SINGLE_CHANGE_ACTIONS.has(op.action) && (last === 'not_applied' || last === 'partial')) return 'failed';
  if (op.stages.includes('rolled_back')) return 'rolled_back';
  if (last === 'failed') return 'failed';
  return 'open';
}

/** "promote canary", or "promote canary (rolled back)" when the change did not stay. */
export function describeChange(op: Operation): string {
  const state = finalState(op);
  const note = state === 'rolled_back' ? ' (rolled back)' : state === 'failed' ? ' (failed)' : state === 'open' ? ' (no outcome recorded)' : '';
  return `${describeAction(op)}${note}`;
}

/** "promote canary", "deploy", "rollback to stable". */
export function describeAction(op: Operation): string {
  if (op.action === 'promote' && op.toMode !== null) return `promote ${op.toMode}`;
  if (op.action === 'rollback' && op.toMode !== null) return `rollback to ${op.toMode}`;
  return op.action;
}

export class OperationTracker {
  private open: Operation | null = null;

  /**
   * Feeds one event record. Returns the operation it belongs to and whether that operation is new
   * (so the caller can count and list it once).
   */
  add(entry: AuditEntry): { op: Operation; isNew: boolean } {
    const p = entry.payload as Record<string, unknown>;
    const action = stringOrNull(p.action) ?? 'unknown';
    const stage = stringOrNull(p.stage) ?? 'unknown';
    // A shadow-mode decision is recorded with actor `shadow` and the person in `operator`.
    const actor = entry.actor === 'shadow' && typeof p.operator === 'string' ? p.operator : entry.actor;
    // An outcome recorded by reconciliation ends the operation whose intent it names, not a new one.
    const intentId = stringOrNull(p.intent_id);
    if (p.reconciled === true && intentId !== null && this.open?.intentIds?.includes(intentId)) {
      const op = this.open;
      op.lastMs = entry.tsMs;
      if (op.stages.at(-1) !== stage) op.stages.push(stage);
      op.reconciled = true;
      const detail = stringOrNull(p.detail);
      if (detail !== null && detail !== '') op.detail = detail;
      if (op.effectiveMs === null && CHANGED_OUTCOMES.has(stage)) op.effectiveMs = entry.tsMs;
      return { op, isNew: false };
    }
    let op = this.open;
    let isNew = false;
    if (op === null || stage === 'requested' || op.action !== action || op.actor !== actor) {
      op = {
        action,
        actor,
        startMs: entry.tsMs,
        effectiveMs: null,
        lastMs: entry.tsMs,
        fromMode: null,
        toMode: null,
        stages: [],
        decision: null,
        decisionUnavailable: null,
        git: null,
        detail: null,
        legacy: false,
      };
      if (p.reconciled === true) op.reconciled = true;
      this.open = op;
      isNew = true;
    }
    if (stage === 'intent' && intentId !== null) {
      op.intentIds ??= [];
      if (op.intentIds.length < 16) op.intentIds.push(intentId);
    }
    op.lastMs = entry.tsMs;
    if (entry.legacy) op.legacy = true;
    if (op.stages.at(-1) !== stage) op.stages.push(stage);
    if (op.stages.length > 12) op.stages.splice(1, op.stages.length - 12); // keep first + recent
    // The first modes named are the operation's intent; an automatic rollback records them reversed.
    op.fromMode ??= stringOrNull(p.from_mode);
    op.toMode ??= stringOrNull(p.to_mode);
    const detail = stringOrNull(p.detail);
    if (detail !== null && detail !== '') op.detail = detail;
    if (isPlainObject(p.git) && typeof p.git.sha === 'string') op.git = { sha: p.git.sha, dirty: p.git.dirty === true };
    if (isPlainObject(p.policy_unavailable)) {
      const u = p.policy_unavailable;
      op.decisionUnavailable = `${stringOrNull(u.domain) ?? 'policy'}: ${stringOrNull(u.failure) ?? 'unknown failure'}${u.enforcement === 'shadow' ? ' (shadow, not enforced)' : ''}`;
    }
    if (isPlainObject(p.rollout) && typeof p.rollout.id === 'string') {
      op.rollout = { id: p.rollout.id, status: stringOrNull(p.rollout.status), reason: stringOrNull(p.rollout.reason) };
    }
    if (isStepDecision(p.decision)) {
      const outcome = stringOrNull(p.decision.outcome) ?? (p.decision.allowed === true ? 'pass' : 'fail');
      op.stepOutcomes ??= {};
      op.stepOutcomes[outcome] = (op.stepOutcomes[outcome] ?? 0) + 1;
    } else if (p.decision !== undefined) {
      const verdict = toVerdictView(p.decision, 'unknown');
      if (verdict !== null && isUnavailable(verdict)) op.decisionUnavailable = verdict.unavailable;
      // The decision that was obeyed; a later denial outranks an earlier allow.
      else if (verdict !== null && (op.decision === null || op.decision.allowed || !verdict.allowed)) op.decision = verdict;
    }
    if (op.effectiveMs === null && (stage === 'executed' || TERMINAL.has(stage) || CHANGED_OUTCOMES.has(stage)) && !wasDenied(op)) {
      op.effectiveMs = entry.tsMs;
    }
    return { op, isNew };
  }
}
