/**
 * The progressive canary (manifest section `canary:`): the canary track runs beside the stable one,
 * nginx moves traffic to it in `steps`, and after each step's window the canary policy's `step`
 * question judges both tracks' own metrics. The pure state machine is rollout-state.ts; this module
 * does the I/O, write-ahead like every other change:
 *
 * - Every transition (start, weight change, pause, abort, completion) runs under the project lock,
 *   as one `changeFiles` of the re-rendered files and `.swiftdeploy/rollout.json` (intent, writes,
 *   outcome), then the effect (an nginx reload, a container started or removed) as `performEffect`.
 * - Between transitions (the analysis window) the lock is NOT held: `status`, `abort` and `rollback`
 *   work while a rollout runs. The driver re-reads the state before acting on an analysis, and stops
 *   if someone else paused, aborted or took it over.
 * - The rollout outlives the CLI: killed, the stack stays at the step's weight and the state file
 *   says `running` with a driver that is gone; `resume` continues it, `abort` ends it.
 * - Ctrl-C pauses (the safe default: the weight stays, nothing is torn down mid-step), exit 130.
 */
import { randomBytes } from 'node:crypto';
import { EXIT, Interrupted, OperationFailed, PolicyUnavailable, RolloutAborted, RolloutPaused, UsageError, type ExitCode } from '../errors.js';
import type { RolloutEventPhase, TrackFigure, TrackFigures } from '../events.js';
import { setServicesKeys } from '../manifest/edit.js';
import { parseManifest, sha256Hex, type LoadedManifest } from '../manifest/load.js';
import type { CanaryConfig } from '../manifest/schema.js';
import { scrapeMetrics } from '../metrics/scrape.js';
import type { Snapshot, WindowStats } from '../metrics/types.js';
import { windowStats } from '../metrics/window.js';
import { waitReady } from '../policy/client.js';
import { PolicyDecisionDenied } from '../policy/errors.js';
import { gate } from '../policy/gate.js';
import { stepFacts } from '../policy/step-facts.js';
import type { DecisionRecord, StepOutcome } from '../policy/types.js';
import { CANARY_HOST } from '../render/context.js';
import { planGenerate } from '../render/generate.js';
import type { Engine } from '../runtime/engine.js';
import { whyNotAlive } from '../lock/liveness.js';
import { pause, pollUntil } from '../util/poll-until.js';
import { onInterrupt } from '../util/signals.js';
import { connectEngine, type LifecycleDeps } from './engine.js';
import { alertDecision, alertRollout } from './alerts.js';
import { ROLLOUT_TRANSITION, withProjectLock, type LockOptions } from './locking.js';
import { confirmMode } from './mode-switch.js';
import { readRollout, renderedRollout, rolloutFileContent, rolloutFileIn } from './rollout-store.js';

export { renderedRollout };
import {
  abort as abortState,
  afterAnalysis,
  atStepWeight,
  complete as completeState,
  describeRollout,
  hasCanaryTrack,
  rolloutSummary,
  newRollout,
  pause as pauseState,
  resume as resumeState,
  type RolloutConfig,
  type RolloutDriver,
  type RolloutState,
} from './rollout-state.js';
import { assertCanAuthorise, Session, type Operator } from './session.js';
import { changeFiles, performEffect, thisWriter } from './wal.js';

export interface RolloutOptions extends LockOptions {
  /** Stops the driver as Ctrl-C does (pause). Tests use it; the CLI wires signals here itself. */
  signal?: AbortSignal;
}

/** The project's current rollout (undefined when none was ever started). */
export function currentRollout(session: Session): Promise<RolloutState | undefined> {
  return readRollout(rolloutFileIn(session.stateDir));
}

/** A rollout that has a canary track (running, paused or ready). */
export async function activeRollout(session: Session): Promise<RolloutState | undefined> {
  const state = await currentRollout(session);
  return hasCanaryTrack(state) ? state : undefined;
}

function configOf(c: CanaryConfig): RolloutConfig {
  return { steps: c.steps, failure_limit: c.failure_limit, inconclusive_limit: c.inconclusive_limit, on_inconclusive: c.on_inconclusive, max_duration: c.max_duration };
}

function requireCanary(session: Session): CanaryConfig {
  const c = session.manifest.canary;
  if (!c) throw new UsageError('the manifest has no `canary:` section: a progressive rollout needs one (see the README, manifest reference)');
  return c;
}

/** How a pause or abort is told to the webhooks: by whom, the decision behind it (an analysis). */
interface AlertOptions {
  actor?: string;
  decision?: DecisionRecord | null;
  /** An abort that is a `rollback` is told as one. */
  event?: 'rollback';
  reason?: string;
  /** When the operation began: what it is correlated with must precede it. */
  correlateAt?: Date;
}

function announce(session: Session, phase: RolloutEventPhase, state: RolloutState, text: string, extra: { outcome?: StepOutcome; tracks?: TrackFigures; alert?: AlertOptions } = {}): void {
  const { alert, ...shown } = extra;
  const rollout = rolloutSummary(state);
  session.out.rollout({ phase, rollout, text, ...shown });
  if (phase === 'paused' || phase === 'aborted') {
    const summary = `${session.manifest.project.name}: ${text}${alert?.reason !== undefined ? ` (${alert.reason})` : ''}`;
    alertRollout(session, alert?.event ?? (phase === 'paused' ? 'rollout_paused' : 'rollout_aborted'), summary, rollout, alert);
  }
}

/**
 * One write-ahead transition: re-render for `state`, write the changed files and the state file
 * (one intent), reload nginx if its config changed, then converge the containers if the compose
 * file changed in a way that removes the canary track. `manifestText` also rewrites the manifest.
 */
async function transition(
  session: Session,
  engine: Engine,
  state: RolloutState,
  detail: string,
  options: { manifestText?: string; analysis?: StepAnalysis } = {},
): Promise<void> {
  const current = session.loaded;
  const loaded: LoadedManifest =
    options.manifestText === undefined
      ? current
      : { ...current, text: options.manifestText, sha256: sha256Hex(options.manifestText), manifest: parseManifest(options.manifestText, current.file) };
  const plans = (await planGenerate(loaded, { rollout: renderedRollout(state) })).filter((p) => !p.unchanged);
  const manifestFile = options.manifestText === undefined ? [] : [{ abs: current.file, content: options.manifestText }];
  await changeFiles(session, [...manifestFile, ...plans, { abs: rolloutFileIn(session.stateDir), content: rolloutFileContent(state) }], {
    detail,
    command: session.action,
    extra: { rollout: rolloutSummary(state), ...(options.analysis ? { analysis: options.analysis } : {}) },
  });
  if (options.manifestText !== undefined) await session.reload();
  const nginxChanged = plans.some((p) => p.abs === session.files.nginxConf);
  const composeChanged = plans.some((p) => p.abs === session.files.compose);
  if (nginxChanged) {
    await performEffect(session, `reload nginx: canary weight ${hasCanaryTrack(state) ? state.weight : 0}%`, () => engine.reloadNginx(), { command: session.action });
  }
  // Only the canary's containers: converging the whole stack could recreate the stable app.
  if (composeChanged && !hasCanaryTrack(state)) {
    await performEffect(session, `stop and remove the ${CANARY_HOST} containers`, () => engine.removeService(CANARY_HOST), { command: session.action });
  }
}

/** Wait until the canary container reports healthy (Docker's healthcheck), or fail with its logs. */
async function waitCanaryHealthy(session: Session, engine: Engine): Promise<void> {
  const timeoutMs = session.manifest.services.health_timeout_seconds * 1000;
  const progress = session.out.progress(`waiting for ${CANARY_HOST} to become healthy`);
  const polled = await pollUntil({
    intervalMs: 500,
    timeoutMs,
    probe: async () => (await engine.services()).filter((c) => c.service === CANARY_HOST),
    onObservation: (cs) => progress.update(cs.map((c) => `${c.state}${c.health ? `/${c.health}` : ''}`).join(', ') || 'not created'),
    until: (cs) => cs.length > 0 && (cs.every((c) => c.health === 'healthy') || cs.some((c) => c.state === 'exited' || c.state === 'dead' || c.health === 'unhealthy')),
  });
  const cs = polled.last ?? [];
  if (polled.outcome === 'done' && cs.every((c) => c.health === 'healthy')) {
    progress.done(`${CANARY_HOST} is healthy`);
    return;
  }
  progress.done(`${CANARY_HOST} did not become healthy`);
  const logs = await engine.logs([CANARY_HOST], 20);
  throw new OperationFailed(`the canary container did not become healthy within ${timeoutMs / 1000}s. Last log lines:\n${logs}`);
}

/** What one step's analysis found, recorded with the transition it led to (the audit charts it). */
interface StepAnalysis {
  step: number;
  weight: number;
  outcome: StepOutcome;
  tracks: TrackFigures;
}

/** Per-track figures of a window, for the operator (the policy gets the raw window). */
function figures(w: WindowStats): TrackFigure {
  return { requests: w.requests, error_rate: w.error_rate, p99_seconds: w.p99_seconds };
}

/**
 * Sample both tracks' own metrics for `seconds` through nginx (`/__swiftdeploy/tracks/<track>/metrics`),
 * or the engine's own per-replica scrapes when it has them (swarm), showing per-track figures as
 * they come. Resolves undefined when `signal` aborts first.
 */
async function sampleTracks(session: Session, engine: Engine, seconds: number, label: string, signal: AbortSignal): Promise<{ stable: WindowStats; canary: WindowStats } | undefined> {
  const urls = session.trackMetricsUrls();
  // On swarm a track has replicas, each scraped on its own by the engine; through nginx otherwise.
  const viaNginx = async (): Promise<{ stable: Snapshot; canary: Snapshot }> => {
    const one = (url: string) =>
      scrapeMetrics(url, { timeoutMs: 3000 }).catch((err: unknown) => {
        throw new OperationFailed(`cannot scrape ${url} for the step window: ${(err as Error).message}`);
      });
    const [stable, canary] = await Promise.all([one(urls.stable), one(urls.canary)]);
    return { stable, canary };
  };
  const scrape = engine.trackScraper?.(seconds) ?? viaNginx;
  const progress = session.out.progress(label);
  // One failed scrape is not a failed measurement: a loaded task may miss one fetch's budget. The
  // window runs from the first good sample to the last, and only STEP_SCRAPE_ATTEMPTS failures in a
  // row make the step unmeasurable (the rollout then pauses).
  let failedInARow = 0;
  const sample = async (): Promise<{ stable: Snapshot; canary: Snapshot } | null> => {
    try {
      const snap = await scrape();
      failedInARow = 0;
      return snap;
    } catch (err) {
      failedInARow++;
      if (failedInARow >= STEP_SCRAPE_ATTEMPTS) {
        progress.done(`${label}: could not be measured`);
        throw err;
      }
      progress.update(`a sample failed (${failedInARow} in a row, ${STEP_SCRAPE_ATTEMPTS} end the step): ${(err as Error).message}`);
      return null;
    }
  };
  let first: { stable: Snapshot; canary: Snapshot } | null = null;
  while (first === null) {
    first = await sample();
    if (first === null) await pause(1000, signal);
    if (signal.aborted) break;
  }
  if (first === null) {
    progress.done(`${label}: interrupted`);
    return undefined;
  }
  const start = first;
  let latest = start;
  let lastFailed = false;
  const started = Date.now();
  const polled = await pollUntil({
    intervalMs: 1000,
    timeoutMs: seconds * 1000,
    signal,
    probe: sample,
    onObservation: (snap) => {
      lastFailed = snap === null;
      if (snap === null) return;
      latest = snap;
      const left = Math.max(0, Math.ceil(seconds - (Date.now() - started) / 1000));
      const s = windowStats(start.stable, snap.stable);
      const c = windowStats(start.canary, snap.canary);
      progress.update(`${left}s left | stable ${trackLine(s)} | canary ${trackLine(c)}`);
    },
    until: () => false,
  });
  // The window's last sample failed: take one more, so the window is not cut short by a miss.
  while (lastFailed && !signal.aborted) {
    await pause(1000, signal);
    if (signal.aborted) break;
    const snap = await sample();
    lastFailed = snap === null;
    if (snap !== null) latest = snap;
  }
  if (polled.outcome === 'aborted' || signal.aborted) {
    progress.done(`${label}: interrupted`);
    return undefined;
  }
  progress.done(`${label}: done`);
  return { stable: windowStats(start.stable, latest.stable), canary: windowStats(start.canary, latest.canary) };
}

/** Failed scrapes in a row that make a step unmeasurable (1 s apart). */
const STEP_SCRAPE_ATTEMPTS = 3;

function pct(r: number | null): string {
  if (r === null) return 'n/a';
  const v = Math.round(r * 1000) / 10;
  return `${v}%`;
}

function ms(s: number | null): string {
  return s === null ? 'n/a' : `${Math.round(s * 1000)} ms`;
}

function trackLine(w: WindowStats): string {
  return `${w.requests} req, errors ${pct(w.error_rate)}, p99 ${ms(w.p99_seconds)}`;
}

/** `promote canary` with a `canary:` section: start a rollout and drive it. */
export async function startRollout(manifestPath: string, operator: Operator, options: RolloutOptions = {}, deps: LifecycleDeps = {}): Promise<ExitCode> {
  assertCanAuthorise(operator, 'promote canary');
  const session = await Session.open(manifestPath, operator, 'promote');
  const canary = requireCanary(session);
  const m = session.manifest;
  const image = canary.image ?? m.services.image;
  const version = canary.version ?? m.services.version;
  const engine = await withProjectLock(session, 'promote canary', options, async () => {
    const existing = await activeRollout(session);
    if (existing) {
      throw new UsageError(`a rollout is already under way (${describeRollout(existing)}): \`swiftdeploy resume\`, \`swiftdeploy abort\` or \`swiftdeploy promote stable\``);
    }
    // A rollout starts from a stack converged on the manifest: otherwise its stable track would
    // change under it (and removing the canary later could recreate the stable app).
    const drift = (await planGenerate(session.loaded)).filter((p) => !p.unchanged);
    if (drift.length > 0) {
      const names = drift.map((p) => p.abs.slice(session.loaded.projectDir.length + 1)).join(', ');
      throw new UsageError(`the manifest changed since the last deploy (${names} would change): run \`swiftdeploy deploy\` first, then start the rollout`);
    }
    const { out } = session;
    out.info(`plan: progressive rollout of ${image} (${version}) beside the stable ${m.services.image} (${m.services.version})`);
    out.info(`  steps: ${canary.steps.map((w) => `${w}%`).join(' -> ')}, ${canary.step_seconds}s analysis per step (policy canary/step, ${m.policy.canary.mode})`);
    out.info(`  sticky: ${canary.sticky ? 'yes (cookie)' : 'no'}; failure_limit ${canary.failure_limit}; inconclusive: extend ${canary.inconclusive_limit}x, then ${canary.on_inconclusive}; max ${canary.max_duration}s`);
    await session.event('requested', { from_mode: 'stable', to_mode: 'canary', detail: `progressive rollout of ${image} (${version})` });
    const how = await session.authorise(`Start a progressive rollout of ${image} in ${m.project.name}? [y/N] `);
    if (!how) {
      await session.event('failed', { detail: 'not authorised' });
      throw new UsageError('promote canary was not authorised');
    }
    await session.event('authorised', { detail: `authorised by ${operator.actor} via ${how}` });
    const engine = await connectEngine(session, deps);
    const id = `r-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase()}-${randomBytes(3).toString('hex')}`;
    const state = newRollout(id, { image, version }, configOf(canary), driverOf(), new Date());
    // Weight 0 first: the canary container starts and becomes healthy before any request goes to it.
    await transition(session, engine, state, `rollout ${id}: add the ${CANARY_HOST} track at weight 0`);
    try {
      await performEffect(session, `start ${CANARY_HOST} (${image})`, async () => {
        await engine.startServices([CANARY_HOST]);
        await waitCanaryHealthy(session, engine);
      });
    } catch (err) {
      const aborted = abortState(state, `the canary did not start: ${(err as Error).message.split('\n')[0]}`, new Date());
      await transition(session, engine, aborted, `rollout ${id}: aborted before any traffic`);
      await session.event('failed', { detail: aborted.reason ?? '', rollout: rolloutSummary(aborted) });
      throw err;
    }
    announce(session, 'started', state, `rollout ${id} started: ${CANARY_HOST} healthy, no traffic yet`);
    return engine;
  });
  return drive(session, engine, options);
}

/** How long the driver waits, without --lock-wait, for another command between two of its transitions. */
const DRIVER_LOCK_WAIT_SECONDS = 300;

/** The process driving a rollout now. */
function driverOf(): RolloutDriver {
  const w = thisWriter();
  return { pid: w.pid, host: w.host, ...(w.boot_id !== undefined ? { boot_id: w.boot_id } : {}), ...(w.pid_start !== undefined ? { pid_start: w.pid_start } : {}) };
}

function isOurs(state: RolloutState | undefined, id: string): state is RolloutState {
  const me = driverOf();
  return state !== undefined && state.id === id && state.status === 'running' && state.driver?.pid === me.pid && state.driver.host === me.host;
}

/**
 * Drive a running rollout from its current step until it is ready, paused or aborted. Returns the
 * exit code: 0 ready, 3 aborted by the analysis, 8 paused for a human, 130 interrupted (paused).
 */
async function drive(session: Session, engine: Engine, driveOptions: RolloutOptions): Promise<ExitCode> {
  // Between its transitions another command (abort, rollback, chaos, status) may hold the lock for a
  // while: the driver waits for it, then sees what that command did.
  const options: RolloutOptions = { ...driveOptions, lockWaitSeconds: driveOptions.lockWaitSeconds ?? DRIVER_LOCK_WAIT_SECONDS };
  const canary = requireCanary(session);
  const config = configOf(canary);
  const interrupt = new AbortController();
  const stopListening = onInterrupt((signal) => {
    session.out.warn(`${signal} received: pausing the rollout at its current weight (send it again to exit at once; \`swiftdeploy resume\` continues)`);
    interrupt.abort();
  });
  const stop = options.signal ? AbortSignal.any([options.signal, interrupt.signal]) : interrupt.signal;
  const client = await session.policyClient();
  try {
    let id = (await currentRollout(session))?.id ?? '';
    for (;;) {
      // Set the current step's weight (a no-op when it is already in nginx.conf).
      const atWeight = await withProjectLock(session, ROLLOUT_TRANSITION, options, async () => {
        const state = await currentRollout(session);
        if (!isOurs(state, id)) return state;
        const next = atStepWeight(state, new Date());
        if (next.weight !== state.weight) {
          await transition(session, engine, next, `rollout ${id}: step ${next.step + 1}/${next.steps.length}, canary weight ${state.weight}% -> ${next.weight}%`);
          await session.event('executed', { detail: `canary weight ${next.weight}%`, rollout: rolloutSummary(next) });
        }
        announce(session, 'weight', next, `step ${next.step + 1}/${next.steps.length}: canary weight ${next.weight}%`);
        return next;
      });
      if (!isOurs(atWeight, id)) return stoppedElsewhere(session, atWeight, id);
      id = atWeight.id;

      const stepLabel = `step ${atWeight.step + 1}/${atWeight.steps.length} at ${atWeight.weight}%: analysis window ${canary.step_seconds}s`;
      let windows: Awaited<ReturnType<typeof sampleTracks>>;
      try {
        windows = await sampleTracks(session, engine, canary.step_seconds, stepLabel, stop);
      } catch (err) {
        // Another command may have ended the rollout meanwhile (its metrics locations are gone then).
        const now = await currentRollout(session);
        if (!isOurs(now, id)) return stoppedElsewhere(session, now, id);
        return pauseOnError(session, engine, id, options, err);
      }
      if (windows === undefined) return pauseOnInterrupt(session, engine, id, options);

      const after = await withProjectLock(session, ROLLOUT_TRANSITION, options, async () => {
        const state = await currentRollout(session);
        if (!isOurs(state, id)) return { state, code: undefined };
        const tracks = { stable: figures(windows.stable), canary: figures(windows.canary) };
        let decision: DecisionRecord | null;
        try {
          decision = await judge(session, client, state, windows, canary.step_seconds);
        } catch (err) {
          if (err instanceof PolicyUnavailable) {
            // Fail closed, and safe: the weight stays, a human decides (resume once the engine is back, or abort).
            const paused = pauseState(state, `policy engine unavailable: ${err.message}`, new Date());
            await transition(session, engine, paused, `rollout ${id}: paused, policy engine unavailable`);
            announce(session, 'paused', paused, `rollout paused at ${paused.weight}%: the policy engine is unavailable`);
          }
          throw err;
        }
        const outcome: StepOutcome = decision === null || decision.enforcement === 'shadow' ? 'pass' : (decision.outcome ?? (decision.allowed ? 'pass' : 'fail'));
        const next = afterAnalysis(state, outcome, config, new Date());
        const analysis: StepAnalysis = { step: state.step + 1, weight: state.weight, outcome, tracks };
        announce(session, 'analysed', state, `step ${state.step + 1}/${state.steps.length} at ${state.weight}%: ${outcome}`, { outcome, tracks });
        switch (next.kind) {
          case 'advance': {
            // One intent: the next step and its weight together (the loop's weight step is then a no-op).
            const weighted = atStepWeight(next.state, new Date());
            await transition(session, engine, weighted, `rollout ${id}: step ${state.step + 1} passed; canary weight ${state.weight}% -> ${weighted.weight}%`, { analysis });
            await session.event('executed', { detail: `canary weight ${weighted.weight}%`, rollout: rolloutSummary(weighted) });
            return { state: weighted, code: undefined };
          }
          case 'repeat':
            await transition(session, engine, next.state, `rollout ${id}: step ${state.step + 1} analysed again (${next.why})`, { analysis });
            announce(session, 'analysed', next.state, `step ${state.step + 1} again: ${next.why}`);
            return { state: next.state, code: undefined };
          case 'ready':
            await transition(session, engine, next.state, `rollout ${id}: every step passed; ready for promote stable`, { analysis });
            await session.event('confirmed', { detail: 'every step passed', rollout: rolloutSummary(next.state) });
            announce(session, 'ready', next.state, `every step passed: the canary serves 100%. \`swiftdeploy promote stable\` makes it the stable, \`swiftdeploy abort\` goes back`);
            return { state: next.state, code: EXIT.OK as ExitCode };
          case 'pause':
            await transition(session, engine, next.state, `rollout ${id}: paused (${next.state.reason ?? ''})`, { analysis });
            announce(session, 'paused', next.state, `rollout paused at ${next.state.weight}%: ${next.state.reason ?? ''}`, { alert: { actor: 'policy', decision } });
            return { state: next.state, code: EXIT.ROLLOUT_PAUSED as ExitCode };
          case 'abort':
            await transition(session, engine, next.state, `rollout ${id}: aborted (${next.state.reason ?? ''})`, { analysis });
            await session.event('rolled_back', { detail: `rollout aborted: ${next.state.reason ?? ''}`, rollout: rolloutSummary(next.state) });
            announce(session, 'aborted', next.state, `rollout aborted, canary removed, stable untouched: ${next.state.reason ?? ''}`, { alert: { actor: 'policy', decision } });
            return { state: next.state, code: EXIT.POLICY_DENIED as ExitCode };
        }
      });
      if (after.code !== undefined) return finish(session, after.state!, after.code);
      if (!isOurs(after.state, id)) return stoppedElsewhere(session, after.state, id);
    }
  } finally {
    stopListening();
    await client.close();
  }
}

/** Ask canary/step, recorded by the gate. A deny in enforce mode is an outcome here, not an error. */
async function judge(session: Session, client: Awaited<ReturnType<Session['policyClient']>>, state: RolloutState, windows: { stable: WindowStats; canary: WindowStats }, seconds: number): Promise<DecisionRecord | null> {
  const m = session.manifest;
  await waitReady(client, { timeoutMs: 10_000 });
  const { mode, window_seconds: _w, ...thresholds } = m.policy.canary;
  try {
    const record = await gate(
      { domain: 'canary', question: 'step', facts: stepFacts(state.step + 1, state.weight, seconds, windows.stable, windows.canary), thresholds, mode },
      {
        client,
        recorder: session.recorder,
        policyVersion: session.policyVersion('canary'),
        manifestSha256: session.loaded.sha256,
        actor: session.operator.actor,
        action: session.action,
        ...(session.git ? { git: session.git } : {}),
        warn: (line) => session.out.info(line, 'warn'),
        onDenied: (record) => alertDecision(session, record, `rollout ${state.id} step ${state.step + 1} at ${state.weight}%`),
      },
    );
    if (record) session.out.decision(record, record.enforcement === 'shadow');
    return record;
  } catch (err) {
    if (err instanceof PolicyDecisionDenied) {
      session.out.decision(err.decision);
      return err.decision;
    }
    throw err;
  }
}

function finish(session: Session, state: RolloutState, code: ExitCode): ExitCode {
  const document = { ok: code === EXIT.OK, action: 'rollout', rollout: rolloutSummary(state) };
  if (code === EXIT.ROLLOUT_PAUSED) throw new RolloutPaused(`${describeRollout(state)}: \`swiftdeploy resume\` or \`swiftdeploy abort\``);
  if (code === EXIT.POLICY_DENIED) throw new RolloutAborted(`${describeRollout(state)}`);
  session.out.result(describeRollout(state), document);
  return code;
}

function stoppedElsewhere(session: Session, state: RolloutState | undefined, id: string): never {
  if (state === undefined || state.id !== id) throw new OperationFailed(`rollout ${id} is no longer the project's rollout; nothing more to drive`);
  if (state.status === 'aborted') throw new OperationFailed(`rollout ${id} was aborted by another command (${state.reason ?? 'no reason given'}); the canary is removed`);
  if (state.status === 'paused') throw new RolloutPaused(`rollout ${id} was paused by another command: ${describeRollout(state)}`);
  throw new OperationFailed(`rollout ${id} is now driven by another process (${describeRollout(state)})`);
}

async function pauseOnInterrupt(session: Session, engine: Engine, id: string, options: RolloutOptions): Promise<never> {
  await withProjectLock(session, ROLLOUT_TRANSITION, options, async () => {
    const state = await currentRollout(session);
    if (!isOurs(state, id)) return;
    const paused = pauseState(state, 'interrupted (Ctrl-C)', new Date());
    await transition(session, engine, paused, `rollout ${id}: paused by an interrupt`);
    announce(session, 'paused', paused, `rollout paused at ${paused.weight}% (interrupted): \`swiftdeploy resume\` or \`swiftdeploy abort\``);
  });
  throw new Interrupted('interrupted: the rollout is paused at its current weight');
}

/** The step could not be measured: pause at the current weight (a human decides), then fail with the cause. */
async function pauseOnError(session: Session, engine: Engine, id: string, options: RolloutOptions, err: unknown): Promise<never> {
  await withProjectLock(session, ROLLOUT_TRANSITION, options, async () => {
    const state = await currentRollout(session);
    if (!isOurs(state, id)) return;
    const paused = pauseState(state, `the step could not be measured: ${(err as Error).message}`, new Date());
    await transition(session, engine, paused, `rollout ${id}: paused, the step could not be measured`);
    announce(session, 'paused', paused, `rollout paused at ${paused.weight}%: the step could not be measured; \`swiftdeploy resume\` or \`swiftdeploy abort\``);
  });
  throw err;
}

/** `resume`: continue a paused rollout, or one whose driver is gone, from its current step. */
export async function resumeRollout(manifestPath: string, operator: Operator, options: RolloutOptions = {}, deps: LifecycleDeps = {}): Promise<ExitCode> {
  assertCanAuthorise(operator, 'resume');
  const session = await Session.open(manifestPath, operator, 'resume');
  requireCanary(session);
  const engine = await withProjectLock(session, 'resume', options, async () => {
    const state = await currentRollout(session);
    if (!state || !(state.status === 'paused' || state.status === 'running')) {
      throw new UsageError(state ? `nothing to resume: ${describeRollout(state)}` : 'nothing to resume: no rollout was ever started here');
    }
    if (state.status === 'running' && state.driver !== null) {
      const d = state.driver;
      const busy = `rollout ${state.id} is being driven by pid ${d.pid} on ${d.host}; Ctrl-C there pauses it, \`swiftdeploy abort\` ends it`;
      // Another host's process cannot be checked from here: only a pause there (or abort) hands it over.
      if (d.host !== driverOf().host) throw new UsageError(busy);
      const gone = whyNotAlive({ pid: d.pid, ...(d.boot_id !== undefined ? { bootId: d.boot_id } : {}), ...(d.pid_start !== undefined ? { pidStartTime: d.pid_start } : {}) });
      if (gone === undefined) throw new UsageError(busy);
      session.out.info(`the rollout's driver is gone (${gone}); resuming at step ${state.step + 1}, weight ${state.weight}%`);
    }
    await session.event('requested', { detail: `resume ${describeRollout(state)}`, rollout: rolloutSummary(state) });
    const how = await session.authorise(`Resume ${describeRollout(state)}? [y/N] `);
    if (!how) {
      await session.event('failed', { detail: 'not authorised' });
      throw new UsageError('resume was not authorised');
    }
    await session.event('authorised', { detail: `authorised by ${operator.actor} via ${how}` });
    const engine = await connectEngine(session, deps);
    const resumed = resumeState(state, driverOf(), new Date());
    await transition(session, engine, resumed, `rollout ${state.id}: resumed by ${operator.actor}`);
    announce(session, 'resumed', resumed, `rollout resumed at step ${resumed.step + 1}/${resumed.steps.length}, weight ${resumed.weight}%`);
    return engine;
  });
  return drive(session, engine, options);
}

/**
 * `abort`, and `rollback` during a rollout: weight 0, the canary track removed, the stable track
 * untouched. Never gated (a failing canary is exactly when it is needed), but locked, authorised and
 * recorded. Works while a driver is running: the driver stops at its next transition.
 */
export async function abortRollout(
  manifestPath: string,
  operator: Operator,
  options: LockOptions & { reason?: string; action?: 'abort' | 'rollback' } = {},
  deps: LifecycleDeps = {},
): Promise<ExitCode> {
  const verb = options.action ?? 'abort';
  assertCanAuthorise(operator, verb);
  const session = await Session.open(manifestPath, operator, verb);
  session.recordLater = true; // as rollback: getting back matters more than recording it
  return withProjectLock(session, verb, options, async () => {
    const state = await activeRollout(session);
    if (!state) throw new UsageError(`nothing to ${verb}: no rollout is under way`);
    return abortLocked(session, state, verb, options.reason?.trim() || 'no reason given', deps);
  });
}

/** The abort itself, under the caller's lock (also used by `rollback`). */
export async function abortLocked(session: Session, state: RolloutState, verb: string, reason: string, deps: LifecycleDeps = {}): Promise<ExitCode> {
  const { operator } = session;
  const startedAt = new Date();
  session.out.info(`plan: ${verb} ${describeRollout(state)}: canary weight 0, remove ${CANARY_HOST}, stable untouched (not gated); reason: ${reason}`);
  await session.event('requested', { detail: `${verb}: ${reason}`, reason, rollout: rolloutSummary(state) });
  const how = await session.authorise(`Abort the rollout of ${state.canary.image} in ${session.manifest.project.name}? [y/N] `);
  if (!how) {
    await session.event('failed', { detail: 'not authorised', reason });
    throw new UsageError(`${verb} was not authorised`);
  }
  await session.event('authorised', { detail: `authorised by ${operator.actor} via ${how}`, reason });
  const engine = await connectEngine(session, deps);
  const aborted = abortState(state, `${verb} by ${operator.actor}: ${reason}`, new Date());
  await transition(session, engine, aborted, `rollout ${state.id}: ${verb}`);
  await session.event('rolled_back', { detail: `rollout aborted: ${reason}`, reason, rollout: rolloutSummary(aborted) });
  announce(session, 'aborted', aborted, `rollout ${state.id} aborted: canary removed, stable untouched`, { alert: { reason: `${verb} by ${operator.actor}: ${reason}`, correlateAt: startedAt, ...(verb === 'rollback' ? { event: 'rollback' } : {}) } });
  session.out.result(`aborted ${describeRollout(aborted)}`, { ok: true, action: verb, rollout: rolloutSummary(aborted) });
  return EXIT.OK;
}

/**
 * `promote stable` on a ready rollout: the canary's image and version become the stable's in the
 * manifest (two keys, comments kept), the stable app is replaced start-before-stop while the canary
 * still serves every request, then traffic returns to the stable track and the canary is removed.
 */
export async function completeRollout(session: Session, state: RolloutState, deps: LifecycleDeps = {}): Promise<ExitCode> {
  if (state.status !== 'ready') {
    throw new UsageError(`${describeRollout(state)}: only a rollout whose every step passed can be promoted; \`swiftdeploy resume\` or \`swiftdeploy abort\``);
  }
  const { out, operator } = session;
  const m = session.manifest;
  const text = setServicesKeys(session.loaded.text, { image: state.canary.image, version: state.canary.version }, session.loaded.file);
  out.info(`plan: promote the canary to stable: services.image ${m.services.image} -> ${state.canary.image}, services.version ${m.services.version} -> ${state.canary.version}`);
  out.info('  replaces: the stable app, start-before-stop, while the canary serves 100%; then nginx back to the stable track and the canary removed');
  await session.event('requested', { from_mode: 'canary', to_mode: 'stable', detail: `promote rollout ${state.id} to stable`, rollout: rolloutSummary(state) });
  const how = await session.authorise(`Make ${state.canary.image} (${state.canary.version}) the stable in ${m.project.name}? [y/N] `);
  if (!how) {
    await session.event('failed', { detail: 'not authorised' });
    throw new UsageError('promote stable was not authorised');
  }
  await session.event('authorised', { detail: `authorised by ${operator.actor} via ${how}` });
  const engine = await connectEngine(session, deps);
  // 1. The manifest and the stable app's definition change while nginx still sends everything to the canary.
  const previousText = session.loaded.text;
  await transition(session, engine, state, `rollout ${state.id}: services.image/version from the canary`, { manifestText: text });
  try {
    await performEffect(session, 'replace the stable app with the canary image, start-before-stop', () => engine.replaceApp(m.services.health_timeout_seconds * 1000));
  } catch (err) {
    // The old stable keeps running (a new one that is not healthy is removed): the manifest must
    // say so again, or the next deploy would ship the canary's version ungated. The canary still
    // serves 100%; the rollout stays ready.
    await transition(session, engine, state, `rollout ${state.id}: stable replacement failed; manifest restored`, { manifestText: previousText });
    await session.event('failed', { detail: `promote stable: ${(err as Error).message}; manifest restored, the rollout stays ready`, rollout: rolloutSummary(state) });
    throw new OperationFailed(`promote stable failed and manifest.yaml was restored (the canary still serves 100%; \`swiftdeploy promote stable\` again, or \`swiftdeploy abort\`): ${(err as Error).message}`, { cause: err });
  }
  // 2. Traffic back to the (new) stable track, canary removed.
  const completed = completeState(state, new Date());
  await transition(session, engine, completed, `rollout ${state.id}: complete; the canary track is removed`);
  await confirmMode(session, 'stable');
  await session.event('confirmed', { from_mode: 'canary', to_mode: 'stable', detail: `rollout ${state.id} complete`, rollout: rolloutSummary(completed) });
  announce(session, 'completed', completed, `rollout ${state.id} complete: ${state.canary.image} (${state.canary.version}) is the stable`);
  out.result(`promoted ${m.project.name}: ${state.canary.image} (${state.canary.version}) is the stable`, { ok: true, action: 'promote', to: 'stable', rollout: rolloutSummary(completed) });
  return EXIT.OK;
}

/**
 * For `status`: the rollout under way in one line ("rollout r-...: app:2 (2.0.0) step 2/4, canary
 * weight 25%, running"), saying when its driver is gone (`resume` continues it). Undefined when no
 * rollout has a canary track.
 */
export async function rolloutStatusLine(session: Session): Promise<{ line: string; summary: Record<string, unknown> } | undefined> {
  const state = await activeRollout(session);
  if (!state) return undefined;
  let line = describeRollout(state);
  let driverGone: string | undefined;
  if (state.status === 'running' && state.driver !== null && state.driver.host === driverOf().host) {
    const d = state.driver;
    driverGone = whyNotAlive({ pid: d.pid, ...(d.boot_id !== undefined ? { bootId: d.boot_id } : {}), ...(d.pid_start !== undefined ? { pidStartTime: d.pid_start } : {}) });
    line += driverGone === undefined ? ` (driven by pid ${d.pid})` : ` (driver gone: ${driverGone}; \`swiftdeploy resume\` continues it)`;
  }
  return { line, summary: { ...rolloutSummary(state), ...(driverGone !== undefined ? { driver_gone: driverGone } : {}) } };
}
