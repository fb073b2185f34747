/**
 * The guard's incident state machine. Pure: the loop (loop.ts) feeds it what happened (a judged tick,
 * an approval's outcome, an action's end) and performs what it returns (records with their actors and
 * notices, an approval to request or cancel, an action to run). One incident at a time: while one is
 * open, a detection opens nothing; after RECOVERED a new one may open.
 *
 * DETECTED (policy) -> PROPOSED (guard) -> AUTHORISED (a human, or policy under auto_abort_canary for
 * an abort) -> EXECUTED (the guard's operator) -> RECOVERED (policy). In shadow mode every stage the
 * guard would reach is recorded with shadow: true and "[SHADOW] " in its text; nothing is requested
 * or run. RECOVERED may also come before AUTHORISED (the stack healed while a human was asked).
 */
import type { ApprovalOutcome } from '../approvals/types.js';
import type { NotifyEventName } from '../manifest/schema.js';
import type { NoticeCorrelation, NoticeLink } from '../notify/types.js';
import type { GuardDecision } from './policy.js';
import type { IncidentPayload } from './types.js';

export type GuardPlan = NonNullable<IncidentPayload['plan']>;

/** The guard stages, and an approval's end other than approved. */
export type GuardStage = 'detected' | 'proposed' | 'authorised' | 'executed' | 'recovered' | 'denied' | 'expired' | 'voided';

export interface GuardSettings {
  mode: 'shadow' | 'enforce';
  autoAbortCanary: boolean;
  sustainTicks: number;
  /** The guard's operator: who runs an action a human authorised, and the EXECUTED record's actor. */
  operator: string;
}

interface Open {
  id: string;
  shadow: boolean;
  plan: GuardPlan;
  approvalId?: string;
  /**
   * Set when the incident's action did not happen (the approval could not be asked, was denied,
   * expired or voided, or the action failed): after another `sustain_ticks` failing ticks the guard
   * proposes again, so a stack that stays broken is never left silent.
   */
  unresolved?: { failingTicks: number };
}

export type GuardState =
  | { phase: 'watching' }
  | { phase: 'awaiting_decision'; incident: Open }
  | { phase: 'executing'; incident: Open }
  | { phase: 'awaiting_recovery'; incident: Open };

export const WATCHING: GuardState = { phase: 'watching' };

export type GuardEvent =
  /** A tick the policy judged; `opening` (a new id and the plan) is given when watching and detected. */
  | { kind: 'judged'; decision: GuardDecision; opening?: { id: string; plan: GuardPlan } }
  | { kind: 'requested'; approvalId: string; links: NoticeLink[] }
  | { kind: 'request_failed'; detail: string }
  | { kind: 'decided'; outcome: ApprovalOutcome }
  | { kind: 'executed'; outcome: 'ok' | 'failed'; detail: string };

export type GuardEffect =
  | {
      kind: 'record';
      stage: GuardStage;
      actor: string;
      incident: IncidentPayload;
      /** One line for a human; "[SHADOW] " first in shadow mode. */
      summary: string;
      /** The notice sent with it, when the stage has one. */
      event?: NotifyEventName;
      /** The incident's correlation for the notice (the loop adds it to every stage after DETECTED). */
      correlation?: NoticeCorrelation | null;
      links?: NoticeLink[];
    }
  | { kind: 'request_approval'; plan: GuardPlan }
  | { kind: 'cancel_approval' }
  /** `runAs`: the actor the lifecycle action runs as (`policy` under auto_abort_canary). */
  | { kind: 'execute'; plan: GuardPlan; runAs: string; authorisedBy: string[]; approval?: ApprovalOutcome };

export interface Step {
  state: GuardState;
  effects: GuardEffect[];
}

const SHADOW = '[SHADOW] ';

function base(o: Open): IncidentPayload {
  return { id: o.id, shadow: o.shadow, ...(o.approvalId !== undefined ? { approval_id: o.approvalId } : {}) };
}

function say(o: Open, text: string): string {
  return o.shadow ? `${SHADOW}${text}` : text;
}

function record(o: Open, stage: GuardStage, actor: string, summary: string, extra: Partial<IncidentPayload> = {}, event?: NotifyEventName, links?: NoticeLink[]): GuardEffect {
  return { kind: 'record', stage, actor, incident: { ...base(o), ...extra }, summary: say(o, summary), ...(event ? { event } : {}), ...(links ? { links } : {}) };
}

/**
 * Only the abort of a rollout's failing canary may be authorised by policy: the plan is an abort and
 * every violation is the canary's. A host (infrastructure) or unobservable-stack incident during a
 * rollout is not the canary's fault, and an incident on stable always needs a human.
 */
function policyMayAuthorise(plan: GuardPlan, s: GuardSettings, d: GuardDecision): boolean {
  return s.autoAbortCanary && plan.action === 'abort' && d.violations.length > 0 && d.violations.every((v) => v.domain === 'canary');
}

export function step(state: GuardState, event: GuardEvent, s: GuardSettings): Step {
  switch (event.kind) {
    case 'judged':
      return judged(state, event.decision, event.opening, s);
    case 'requested': {
      if (state.phase !== 'awaiting_decision') return { state, effects: [] };
      const incident = { ...state.incident, approvalId: event.approvalId };
      return {
        state: { phase: 'awaiting_decision', incident },
        effects: [record(incident, 'proposed', 'guard', `proposed ${incident.plan.summary}; waiting for approval ${event.approvalId}`, { plan: incident.plan }, 'guard_proposed', event.links)],
      };
    }
    case 'request_failed': {
      if (state.phase !== 'awaiting_decision') return { state, effects: [] };
      const o = state.incident;
      return {
        state: { phase: 'awaiting_recovery', incident: { ...o, unresolved: { failingTicks: 0 } } },
        effects: [record(o, 'proposed', 'guard', `proposed ${o.plan.summary}; approval could not be requested (${event.detail}): nothing will run`, { plan: o.plan, detail: event.detail }, 'guard_proposed')],
      };
    }
    case 'decided': {
      if (state.phase !== 'awaiting_decision') return { state, effects: [] };
      const o = state.incident;
      const { outcome } = event;
      if (outcome.outcome === 'approved') {
        const by = outcome.by.length > 0 ? outcome.by : ['unknown'];
        return {
          state: { phase: 'executing', incident: o },
          effects: [
            record(o, 'authorised', by[0]!, `${o.plan.action} authorised by ${by.join(', ')} (approval ${outcome.id})`, { authorised_by: by }),
            { kind: 'execute', plan: o.plan, runAs: s.operator, authorisedBy: by, approval: outcome },
          ],
        };
      }
      const why = outcome.reason !== undefined ? `: ${outcome.reason}` : '';
      return {
        state: { phase: 'awaiting_recovery', incident: { ...o, unresolved: { failingTicks: 0 } } },
        effects: [record(o, outcome.outcome, outcome.by[0] ?? 'guard', `${o.plan.action} not authorised: approval ${outcome.id} ${outcome.outcome}${why}; nothing runs`, { detail: `${outcome.outcome}${why}` })],
      };
    }
    case 'executed': {
      if (state.phase !== 'executing') return { state, effects: [] };
      const o = state.incident;
      const text = event.outcome === 'ok' ? `executed ${o.plan.summary}` : `${o.plan.action} failed: ${event.detail}`;
      return {
        state: { phase: 'awaiting_recovery', incident: event.outcome === 'ok' ? o : { ...o, unresolved: { failingTicks: 0 } } },
        effects: [record(o, 'executed', s.operator, text, { plan: o.plan, outcome: event.outcome, detail: event.detail }, 'guard_executed')],
      };
    }
  }
}

function judged(state: GuardState, d: GuardDecision, opening: { id: string; plan: GuardPlan } | undefined, s: GuardSettings): Step {
  if (state.phase === 'watching') {
    if (!d.detected || opening === undefined) return { state, effects: [] };
    const o: Open = { id: opening.id, shadow: s.mode === 'shadow', plan: opening.plan };
    const effects: GuardEffect[] = [
      record(o, 'detected', 'policy', `detected: ${d.reason}`, { violations: d.violations, ticks: s.sustainTicks }, 'guard_detected'),
    ];
    return propose(o, d, s, effects);
  }
  if (state.phase === 'executing') return { state, effects: [] };
  if (!d.recovered) {
    // An action that did not happen is proposed again once the violation has lasted another sustain window.
    const o = state.incident;
    if (state.phase !== 'awaiting_recovery' || o.unresolved === undefined || !d.detected) return { state, effects: [] };
    const failingTicks = o.unresolved.failingTicks + 1;
    if (failingTicks < s.sustainTicks || opening === undefined) return { state: { phase: 'awaiting_recovery', incident: { ...o, unresolved: { failingTicks } } }, effects: [] };
    const { unresolved: _done, approvalId: _old, ...rest } = o;
    return propose({ ...rest, plan: opening.plan }, d, s, []);
  }
  const o = state.incident;
  const effects: GuardEffect[] = [];
  if (state.phase === 'awaiting_decision') effects.push({ kind: 'cancel_approval' });
  effects.push(record(o, 'recovered', 'policy', `recovered: ${d.reason}`, {}, 'guard_recovered'));
  return { state: WATCHING, effects };
}

/** PROPOSED and what follows it: authorised by policy (auto_abort_canary), recorded only (shadow), or an approval requested. */
function propose(o: Open, d: GuardDecision, s: GuardSettings, effects: GuardEffect[]): Step {
  if (policyMayAuthorise(o.plan, s, d)) {
    effects.push(
      record(o, 'proposed', 'guard', o.shadow ? `would have proposed ${o.plan.summary}` : `proposed ${o.plan.summary}`, { plan: o.plan }, 'guard_proposed'),
      record(o, 'authorised', 'policy', o.shadow ? `policy would have authorised ${o.plan.action} (guard.auto_abort_canary)` : `${o.plan.action} authorised by policy (guard.auto_abort_canary)`, { authorised_by: ['policy'] }),
    );
    if (o.shadow) {
      effects.push(record(o, 'executed', s.operator, `would have run ${o.plan.summary}`, { plan: o.plan, detail: 'shadow: nothing was run' }, 'guard_executed'));
      return { state: { phase: 'awaiting_recovery', incident: o }, effects };
    }
    effects.push({ kind: 'execute', plan: o.plan, runAs: 'policy', authorisedBy: ['policy'] });
    return { state: { phase: 'executing', incident: o }, effects };
  }
  if (o.shadow) {
    effects.push(record(o, 'proposed', 'guard', `would have proposed ${o.plan.summary} (a human would be asked to approve)`, { plan: o.plan }, 'guard_proposed'));
    return { state: { phase: 'awaiting_recovery', incident: o }, effects };
  }
  // PROPOSED is recorded once the approval exists, so its notice carries the approval links.
  effects.push({ kind: 'request_approval', plan: o.plan });
  return { state: { phase: 'awaiting_decision', incident: o }, effects };
}
