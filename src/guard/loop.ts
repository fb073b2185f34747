/**
 * The guard loop: a status tick, the guard policy over the last ticks, one step of the incident state
 * machine, its effects performed; then the next tick. The wait between ticks is cut short by an
 * approval's outcome, so an approved action starts at once. An interrupt is looked at between ticks
 * (as `status`), and cancels an approval being waited for. The guard holds no lock while it watches:
 * the action it runs takes the project lock like any command.
 */
import type { NoticeCorrelation } from '../notify/types.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { NoticeLink } from '../notify/types.js';
import type { TickResult } from '../status/tick.js';
import { pause } from '../util/poll-until.js';
import type { GuardDeps } from './deps.js';
import { step, WATCHING, type GuardEffect, type GuardEvent, type GuardSettings, type GuardState } from './incident.js';
import type { GuardDecision, GuardTick } from './policy.js';

export interface GuardLoopOptions {
  deps: GuardDeps;
  settings: GuardSettings;
  recoverTicks: number;
  intervalMs: number;
  signal: AbortSignal;
  /** Stop (exit 0) once the first incident is RECOVERED. */
  onceIncident?: boolean;
  /** Test bound: stop after this many ticks (exit 0). */
  maxTicks?: number;
  /** Each tick with the guard policy's answer (null: the policy could not be asked; `error` says why). */
  onTick?(tick: TickResult, decision: GuardDecision | null, error?: string): void;
  /** Each stage as recorded (a record effect). */
  onStage?(effect: Extract<GuardEffect, { kind: 'record' }>): void;
}

/** Ticks kept for the policy: enough for either count, plus room for ticks it will skip as unjudged. */
export function bufferSize(s: { sustainTicks: number }, recoverTicks: number): number {
  return 2 * Math.max(s.sustainTicks, recoverTicks) + 20;
}

export async function runGuard(o: GuardLoopOptions): Promise<ExitCode> {
  const { deps, settings } = o;
  const ticks: GuardTick[] = [];
  const keep = bufferSize(settings, o.recoverTicks);
  let state: GuardState = WATCHING;
  // Events that arrive between ticks (an approval's outcome), and a way to wake the wait for them.
  const queue: GuardEvent[] = [];
  let wake: (() => void) | undefined;
  let approval: AbortController | undefined;
  let recoveredOnce = false;
  let incidentCorrelation: NoticeCorrelation | null | undefined;
  let pendingApproval: string | undefined;

  const apply = async (event: GuardEvent): Promise<void> => {
    const next = step(state, event, settings);
    state = next.state;
    for (const effect of next.effects) await perform(effect);
  };

  const perform = async (effect: GuardEffect): Promise<void> => {
    switch (effect.kind) {
      case 'record': {
        let incident = effect.incident;
        if (effect.stage === 'detected' && deps.correlate) {
          incidentCorrelation = await deps.correlate().catch(() => null);
          incident = { ...incident, correlation: incidentCorrelation };
        }
        // Every alert of the incident says what changed before it (recorded once, on DETECTED).
        const done = { ...effect, incident, ...(incidentCorrelation !== undefined ? { correlation: incidentCorrelation } : {}) };
        await deps.record(done);
        o.onStage?.(done);
        if (effect.stage === 'recovered') recoveredOnce = true;
        return;
      }
      case 'request_approval': {
        approval = new AbortController();
        const signal = approval.signal;
        let requested: { id: string; links: NoticeLink[] };
        try {
          requested = await deps.propose.request(effect.plan);
        } catch (err) {
          approval = undefined;
          await apply({ kind: 'request_failed', detail: (err as Error).message });
          return;
        }
        pendingApproval = requested.id;
        await apply({ kind: 'requested', approvalId: requested.id, links: requested.links });
        // Waited for in the background: ticks go on (the stack may heal meanwhile).
        deps.propose.await(requested.id, signal).then(
          (outcome) => {
            if (signal.aborted) return;
            queue.push({ kind: 'decided', outcome });
            wake?.();
          },
          (err: unknown) => {
            if (signal.aborted) return;
            queue.push({ kind: 'decided', outcome: { id: requested.id, outcome: 'expired', by: [], reason: `the approval could not be awaited: ${(err as Error).message}` } });
            wake?.();
          },
        );
        return;
      }
      case 'cancel_approval':
        approval?.abort();
        approval = undefined;
        // The incident recovered while a human was asked: the request ends, so a late tap runs nothing.
        if (pendingApproval !== undefined) await deps.propose.withdraw?.(pendingApproval, 'the incident recovered before it was decided').catch(() => undefined);
        pendingApproval = undefined;
        return;
      case 'execute': {
        approval = undefined;
        let result: { outcome: 'ok' | 'failed'; detail: string };
        try {
          result = await deps.execute(effect.plan, { runAs: effect.runAs, authorisedBy: effect.authorisedBy, ...(effect.approval ? { approval: effect.approval } : {}) });
        } catch (err) {
          result = { outcome: 'failed', detail: (err as Error).message };
        }
        await apply({ kind: 'executed', ...result });
        return;
      }
    }
  };

  const drain = async (): Promise<void> => {
    while (queue.length > 0) await apply(queue.shift()!);
  };

  /** The pause between ticks, cut short by a queued event (handled at once) or the signal. */
  const wait = async (ms: number): Promise<void> => {
    const until = Date.now() + ms;
    for (;;) {
      await drain();
      const left = until - Date.now();
      if (left <= 0 || o.signal.aborted) return;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      await Promise.race([pause(left, o.signal), woken]);
      wake = undefined;
    }
  };

  try {
    try {
      await deps.monitor.prime();
      await wait(o.intervalMs);
    } catch {
      // Not fatal (the stack may be starting); the first tick records why.
    }
    let count = 0;
    while (!o.signal.aborted) {
      const tick = await deps.monitor.tick();
      count++;
      ticks.push(deps.guardTick(tick));
      if (ticks.length > keep) ticks.shift();
      let decision: GuardDecision | null = null;
      try {
        decision = await deps.policy.judge({ ticks, sustain_ticks: settings.sustainTicks, recover_ticks: o.recoverTicks });
      } catch (err) {
        // An engine that cannot answer decides nothing: no incident opens or closes on it.
        o.onTick?.(tick, null, (err as Error).message);
      }
      if (decision !== null) {
        o.onTick?.(tick, decision);
        // A plan for a new incident, or for proposing again after an action that did not happen.
        const planning = state.phase === 'watching' || (state.phase === 'awaiting_recovery' && state.incident.unresolved !== undefined);
        const opening = planning && decision.detected ? { id: state.phase === 'watching' ? deps.newId() : state.incident.id, plan: await deps.plan() } : undefined;
        await apply({ kind: 'judged', decision, ...(opening ? { opening } : {}) });
      }
      if (o.onceIncident && recoveredOnce) return EXIT.OK;
      if (o.maxTicks !== undefined && count >= o.maxTicks) return EXIT.OK;
      await wait(o.intervalMs);
    }
    return EXIT.INTERRUPTED;
  } finally {
    approval?.abort();
  }
}
