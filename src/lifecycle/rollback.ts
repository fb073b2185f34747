import { EXIT, OperationFailed, UsageError, type ExitCode } from '../errors.js';
import { alertRollback } from './alerts.js';
import { deferInterrupts } from './interrupts.js';
import { withProjectLock, type LockOptions } from './locking.js';
import { applyMode, confirmMode, liveMode, manifestWithMode, modeConfirmed } from './mode-switch.js';
import { assertCanAuthorise, Session, type Operator } from './session.js';
import { performEffect } from './wal.js';
import { connectEngine, type LifecycleDeps } from './engine.js';
import { abortLocked, activeRollout } from './rollout.js';

export interface RollbackOptions extends LockOptions {
  reason?: string;
}

/**
 * rollback: the fast way back to stable. Never gated by canary health (a failing canary is exactly
 * when it is needed), but still locked, authorised and recorded with actor and reason.
 */
export async function rollback(manifestPath: string, operator: Operator, options: RollbackOptions = {}, deps: LifecycleDeps = {}): Promise<ExitCode> {
  assertCanAuthorise(operator, 'rollback');
  const session = await Session.open(manifestPath, operator, 'rollback');
  // The one mutation that goes on when history cannot be written: records wait in a spool file,
  // said loudly, and the next mutating command appends them (exit 7 at the end says so too).
  session.recordLater = true;
  return withProjectLock(session, 'rollback', options, async () => {
    const { out } = session;
    const startedAt = new Date();
    const from = session.manifest.services.mode;
    const reason = options.reason?.trim() || 'no reason given';
    // During a progressive rollout, rollback is its abort: canary weight 0, canary removed, never gated.
    const active = await activeRollout(session);
    if (active) return abortLocked(session, active, 'rollback', reason, deps);
    const live = await liveMode(session.nginxUrl('/')).catch(() => undefined);
    if (from === 'stable' && live && modeConfirmed(live, 'stable')) {
      out.result('already stable (confirmed through nginx): nothing to roll back', { ok: true, action: 'rollback', from, to: 'stable', changed: false });
      return EXIT.OK;
    }
    out.info(`plan: rollback ${from} -> stable (not gated by canary policy); reason: ${reason}`);
    await session.event('requested', { from_mode: from, to_mode: 'stable', detail: reason, reason });
    const how = await session.authorise(`Roll ${session.manifest.project.name} back to stable? [y/N] `);
    if (!how) {
      await session.event('failed', { from_mode: from, to_mode: 'stable', detail: 'not authorised', reason });
      throw new UsageError('rollback was not authorised');
    }
    await session.event('authorised', { from_mode: from, to_mode: 'stable', detail: `authorised by ${operator.actor} via ${how}`, reason });
    // Stopping half way would leave the app between modes: a signal lets the rollback finish first.
    const interrupt = deferInterrupts(out, 'exiting once stable is confirmed');
    try {
      const engine = await connectEngine(session, deps);
      if (from === 'stable') {
        // The manifest already says stable but the app does not: converge the app only.
        await performEffect(session, 'replace the app container with one in stable mode and confirm it through nginx', async () => {
          await engine.replaceApp(session.manifest.services.health_timeout_seconds * 1000);
          await confirmMode(session, 'stable');
        });
      } else {
        await applyMode(session, engine, 'stable', manifestWithMode(session, 'stable'));
      }
    } catch (err) {
      await session.event('failed', { from_mode: from, to_mode: 'stable', detail: (err as Error).message, reason });
      alertRollback(session, startedAt, { from, outcome: 'failed', reason, error: (err as Error).message });
      throw err instanceof OperationFailed ? err : new OperationFailed(`rollback failed: ${(err as Error).message}`, { cause: err });
    } finally {
      interrupt.release();
    }
    await session.event('rolled_back', { from_mode: from, to_mode: 'stable', detail: reason, reason });
    alertRollback(session, startedAt, { from, outcome: 'rolled_back', reason });
    const done = `rolled back ${session.manifest.project.name}: ${from} -> stable`;
    try {
      interrupt.check(); // exit 130 if asked to stop, now that stable is confirmed
    } catch (err) {
      out.info(done); // said, but not as a result: the command ends interrupted
      throw err;
    }
    // A rollback that could not record all of it ends with exit 7 (withProjectLock), after this.
    out.result(done, { ok: true, action: 'rollback', from, to: 'stable', changed: true, reason, unrecorded: session.unrecorded });
    return EXIT.OK;
  });
}
