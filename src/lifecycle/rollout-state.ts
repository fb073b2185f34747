/**
 * The progressive canary's state machine, pure: what a rollout is (the state file's shape) and what
 * comes after each step's analysis. The I/O (state file, nginx reloads, the ledger) is the driver's.
 *
 * A rollout walks `steps` (canary weights in %, strictly increasing, ending at 100). Each step holds
 * its weight for one analysis window; the canary policy's `step` question judges it:
 *   pass         -> the next step's weight; after the last step the rollout is `ready` for
 *                   `promote stable` (the canary serves everything until then);
 *   fail         -> counted; more than `failure_limit` failures abort (weight 0, canary removed),
 *                   otherwise the step is analysed again;
 *   inconclusive -> too little traffic to judge: the step is extended (analysed again) up to
 *                   `inconclusive_limit` times, then `on_inconclusive` decides: pause for a human
 *                   (`resume` / `abort`) or fail (counted as a failure, as above).
 * `max_duration` bounds the time the rollout is driven; time spent paused does not count, so a
 * human's deliberation never aborts it.
 */
import { z } from 'zod';

export type RolloutStatus = 'running' | 'paused' | 'ready' | 'aborted' | 'completed';
export type StepOutcome = 'pass' | 'fail' | 'inconclusive';

/** The parts of the manifest's `canary:` section the state machine needs. */
export interface RolloutConfig {
  steps: readonly number[];
  failure_limit: number;
  inconclusive_limit: number;
  on_inconclusive: 'pause' | 'fail';
  /** Seconds. */
  max_duration: number;
}

const statusSchema = z.enum(['running', 'paused', 'ready', 'aborted', 'completed']);

/** The rollout as the state file `.swiftdeploy/rollout.json` holds it (written with the rendered files, write-ahead). */
export const rolloutStateSchema = z.strictObject({
  version: z.literal(1),
  /** Unique per rollout; every ledger record of the rollout carries it. */
  id: z.string().regex(/^[a-z0-9-]{1,64}$/),
  canary: z.strictObject({ image: z.string().min(1), version: z.string().min(1) }),
  steps: z.array(z.number().int().min(1).max(100)).min(1),
  /** 0-based index of the current step in `steps`. */
  step: z.number().int().min(0),
  /** The canary's share in nginx.conf now, in %. */
  weight: z.number().int().min(0).max(100),
  status: statusSchema,
  /** Failed analyses so far (whole rollout). */
  failures: z.number().int().min(0),
  /** Times the current step was extended for too little traffic. */
  inconclusive: z.number().int().min(0),
  started_at: z.string(),
  /** Milliseconds driven before the current run began (paused time excluded). */
  driven_ms: z.number().min(0),
  /** When the current run began (start or last resume); null while not running. */
  running_since: z.string().nullable(),
  updated_at: z.string(),
  /** Why it paused, aborted or completed; the ledger has the whole story. */
  reason: z.string().nullable(),
  /**
   * The process driving the steps while `running` (null otherwise): a `running` rollout whose
   * driver is gone (killed) may be resumed by anyone; one with a live driver may not.
   */
  driver: z
    .strictObject({ pid: z.number().int(), host: z.string(), boot_id: z.string().optional(), pid_start: z.string().optional() })
    .nullable(),
});
export type RolloutState = z.infer<typeof rolloutStateSchema>;
export type RolloutDriver = NonNullable<RolloutState['driver']>;

/** What the driver does next. */
export type Next =
  | { kind: 'advance'; state: RolloutState }
  | { kind: 'ready'; state: RolloutState }
  | { kind: 'repeat'; state: RolloutState; why: string }
  | { kind: 'pause'; state: RolloutState }
  | { kind: 'abort'; state: RolloutState };

export function newRollout(
  id: string,
  canary: { image: string; version: string },
  config: RolloutConfig,
  driver: RolloutDriver,
  now: Date,
): RolloutState {
  const at = now.toISOString();
  return {
    version: 1,
    id,
    canary,
    steps: [...config.steps],
    step: 0,
    weight: 0,
    status: 'running',
    failures: 0,
    inconclusive: 0,
    started_at: at,
    driven_ms: 0,
    running_since: at,
    updated_at: at,
    reason: null,
    driver,
  };
}

/** Milliseconds this rollout has been driven (paused time excluded). */
export function drivenMs(state: RolloutState, now: Date): number {
  const running = state.running_since === null ? 0 : Math.max(0, now.getTime() - Date.parse(state.running_since));
  return state.driven_ms + running;
}

/** The state after the driver set the current step's weight in nginx. */
export function atStepWeight(state: RolloutState, now: Date): RolloutState {
  return { ...state, weight: state.steps[state.step] ?? 100, updated_at: now.toISOString() };
}

function stopped(state: RolloutState, status: 'paused' | 'aborted', reason: string, now: Date): RolloutState {
  return {
    ...state,
    status,
    reason,
    driven_ms: drivenMs(state, now),
    running_since: null,
    updated_at: now.toISOString(),
    driver: null,
    // An aborted rollout sends nothing to the canary.
    weight: status === 'aborted' ? 0 : state.weight,
  };
}

/** What follows one step's analysis outcome. */
export function afterAnalysis(state: RolloutState, outcome: StepOutcome, config: RolloutConfig, now: Date): Next {
  if (state.status !== 'running') throw new Error(`a ${state.status} rollout has no analysis to act on`);
  const at = now.toISOString();
  const stepLabel = `step ${state.step + 1}/${state.steps.length} (${state.steps[state.step]}%)`;

  const failed = (why: string): Next => {
    const failures = state.failures + 1;
    if (failures > config.failure_limit) {
      return { kind: 'abort', state: stopped({ ...state, failures }, 'aborted', `${stepLabel}: ${why}; failures ${failures} > failure_limit ${config.failure_limit}`, now) };
    }
    return { kind: 'repeat', state: { ...state, failures, inconclusive: 0, updated_at: at }, why: `${why}; failure ${failures} of ${config.failure_limit} allowed` };
  };

  let next: Next;
  if (outcome === 'pass') {
    if (state.step + 1 >= state.steps.length) {
      next = {
        kind: 'ready',
        state: { ...state, status: 'ready', inconclusive: 0, reason: 'every step passed', driven_ms: drivenMs(state, now), running_since: null, driver: null, updated_at: at },
      };
    } else {
      const step = state.step + 1;
      next = { kind: 'advance', state: { ...state, step, inconclusive: 0, updated_at: at } };
    }
  } else if (outcome === 'fail') {
    next = failed('the analysis failed');
  } else if (state.inconclusive < config.inconclusive_limit) {
    const inconclusive = state.inconclusive + 1;
    next = { kind: 'repeat', state: { ...state, inconclusive, updated_at: at }, why: `too little traffic to judge; extension ${inconclusive} of ${config.inconclusive_limit}` };
  } else if (config.on_inconclusive === 'pause') {
    next = {
      kind: 'pause',
      state: stopped(state, 'paused', `${stepLabel}: inconclusive after ${config.inconclusive_limit} extension(s); waiting for a human (resume or abort)`, now),
    };
  } else {
    next = failed(`inconclusive after ${config.inconclusive_limit} extension(s) (on_inconclusive: fail)`);
  }

  // The deadline is checked after the outcome, so a pass on the last step completes even at the limit.
  if ((next.kind === 'advance' || next.kind === 'repeat') && drivenMs(state, now) > config.max_duration * 1000) {
    return { kind: 'abort', state: stopped(state, 'aborted', `max_duration ${config.max_duration}s exceeded at ${stepLabel}`, now) };
  }
  return next;
}

/** A human (or Ctrl-C) pauses a running rollout at its current weight. */
export function pause(state: RolloutState, reason: string, now: Date): RolloutState {
  if (state.status !== 'running') throw new Error(`cannot pause a ${state.status} rollout`);
  return stopped(state, 'paused', reason, now);
}

/** `resume`: a paused rollout runs again from its current step, with the step's extensions reset. */
export function resume(state: RolloutState, driver: RolloutDriver, now: Date): RolloutState {
  if (state.status !== 'paused' && state.status !== 'running') throw new Error(`cannot resume a ${state.status} rollout`);
  // A `running` state whose driver died (the CLI was killed) is resumed as it stands; the dead run
  // counts as driven up to its last update, the time since as not driven.
  const driven = drivenMs(state, new Date(Date.parse(state.updated_at)));
  return { ...state, status: 'running', inconclusive: 0, reason: null, driven_ms: driven, running_since: now.toISOString(), updated_at: now.toISOString(), driver };
}

/** `abort` / `rollback`: weight 0, canary removed. Allowed from any state but `completed` and `aborted`. */
export function abort(state: RolloutState, reason: string, now: Date): RolloutState {
  if (state.status === 'completed' || state.status === 'aborted') throw new Error(`the rollout is already ${state.status}`);
  return stopped({ ...state, status: 'running' }, 'aborted', reason, now);
}

/** `promote stable` on a `ready` rollout: the canary became the stable. */
export function complete(state: RolloutState, now: Date): RolloutState {
  if (state.status !== 'ready') throw new Error(`only a ready rollout can complete (this one is ${state.status})`);
  return { ...state, status: 'completed', weight: 0, reason: 'promoted to stable', running_since: null, driver: null, updated_at: now.toISOString() };
}

/** Whether the stack has a canary track (an `app-canary` service) in this state. */
export function hasCanaryTrack(state: RolloutState | undefined): boolean {
  return state !== undefined && (state.status === 'running' || state.status === 'paused' || state.status === 'ready');
}

/** One line for humans: "step 2/4 at 25%, running" etc. */
export function describeRollout(state: RolloutState): string {
  const step = `step ${Math.min(state.step + 1, state.steps.length)}/${state.steps.length}`;
  const base = `rollout ${state.id}: ${state.canary.image} (${state.canary.version}) ${step}, canary weight ${state.weight}%, ${state.status}`;
  return state.reason !== null ? `${base} (${state.reason})` : base;
}

/** The state's summary every rollout record carries (the ledger says which rollout, step and weight). */
export function rolloutSummary(state: RolloutState): Record<string, unknown> {
  return {
    id: state.id,
    step: state.step + 1,
    steps: state.steps.length,
    weight: state.weight,
    status: state.status,
    canary_image: state.canary.image,
    canary_version: state.canary.version,
    ...(state.reason !== null ? { reason: state.reason } : {}),
  };
}
