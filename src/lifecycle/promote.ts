import { EXIT, Interrupted, OperationFailed, UsageError, type ExitCode } from '../errors.js';
import { deferInterrupts } from './interrupts.js';
import type { AppMode } from '../manifest/schema.js';
import { waitReady } from '../policy/client.js';
import { canaryFactsFromWindow } from '../policy/canary-facts.js';
import { PolicyDecisionDenied } from '../policy/errors.js';
import { gate } from '../policy/gate.js';
import { canaryWindow, freshStatusWindow } from './canary-window.js';
import { alertDecision } from './alerts.js';
import { withProjectLock, type LockOptions } from './locking.js';
import { applyMode, liveMode, manifestLineChange, manifestWithMode, modeConfirmed } from './mode-switch.js';
import { assertCanAuthorise, Session, type Operator } from './session.js';
import { activeRollout, completeRollout, startRollout } from './rollout.js';
import { describeRollout } from './rollout-state.js';
import { connectEngine, type LifecycleDeps } from './engine.js';

/**
 * promote canary|stable: plan, gate (canary/pre_promote over a real window) BEFORE anything
 * changes, authorise, change one manifest line, recreate only the app, confirm the new mode through
 * nginx. Any failure after the manifest changed rolls back automatically.
 */
export async function promote(manifestPath: string, target: AppMode, operator: Operator, options: LockOptions = {}, deps: LifecycleDeps = {}): Promise<ExitCode> {
  // Refuse early when authorisation is impossible, before sampling a window for nothing.
  assertCanAuthorise(operator, `promote ${target}`);
  const session = await Session.open(manifestPath, operator, 'promote');
  // With a `canary:` section, promote canary starts a progressive rollout (src/lifecycle/rollout.ts).
  if (target === 'canary' && session.manifest.canary) return startRollout(manifestPath, operator, options, deps);
  return withProjectLock(session, `promote ${target}`, options, async () => {
    const { out } = session;
    const m = session.manifest;
    const from = m.services.mode;
    const active = await activeRollout(session);
    if (active) {
      if (target === 'stable') return completeRollout(session, active, deps);
      throw new UsageError(`a rollout is under way (${describeRollout(active)})`);
    }

    if (from === target) {
      const live = await liveMode(session.nginxUrl('/')).catch(() => undefined);
      const running = live && modeConfirmed(live, target);
      if (!running) out.warn(`the running app does not confirm ${target}; run \`swiftdeploy deploy\` to converge`);
      out.result(`already ${target}${running ? ' (confirmed through nginx)' : ' in the manifest'}: nothing to do`, { ok: true, action: 'promote', from, to: target, changed: false });
      return EXIT.OK;
    }

    const nextText = manifestWithMode(session, target);
    const change = manifestLineChange(session.loaded.text, nextText);
    out.info(`plan: promote ${from} -> ${target}`);
    if (change) {
      out.info(`  manifest.yaml line ${change.line}:`);
      out.info(`  - ${change.from.trim()}`, 'bad');
      out.info(`  + ${change.to.trim()}`, 'good');
    }
    out.info('  replaces: the app container only, start-before-stop (nginx and OPA keep running)');
    out.info(`  judged: canary window of ${m.policy.canary.window_seconds}s (policy.canary, ${m.policy.canary.mode})`);

    // A fresh status-loop window must be the newest record: look before this command records anything.
    const fresh = await freshStatusWindow(session);
    await session.event('requested', { from_mode: from, to_mode: target, detail: `promote ${from} -> ${target}` });

    // Gate before any change.
    const client = await session.policyClient();
    try {
      await waitReady(client, { timeoutMs: 10_000 });
      const { window, source } = fresh ?? (await canaryWindow(session));
      out.info(`canary window: ${source}: ${window.requests} requests, error rate ${fmtRate(window.error_rate)}, p99 ${fmtSeconds(window.p99_seconds)}`);
      const { mode, ...thresholds } = m.policy.canary;
      try {
        const record = await gate(
          { domain: 'canary', question: 'pre_promote', facts: canaryFactsFromWindow(window), thresholds, mode },
          {
            client,
            recorder: session.recorder,
            policyVersion: session.policyVersion('canary'),
            manifestSha256: session.loaded.sha256,
            actor: operator.actor,
            action: 'promote',
            ...(session.git ? { git: session.git } : {}),
            warn: (line) => out.info(line, 'warn'),
            onDenied: (record) => alertDecision(session, record, `promote ${target}`),
          },
        );
        if (record) out.decision(record, record.enforcement === 'shadow');
      } catch (err) {
        if (err instanceof PolicyDecisionDenied) {
          out.decision(err.decision);
          out.info(`manifest.yaml was not changed (still ${from}).`);
        }
        throw err;
      }
    } finally {
      await client.close();
    }

    const how = await session.authorise(`Promote ${m.project.name} from ${from} to ${target}? [y/N] `);
    if (!how) {
      await session.event('failed', { from_mode: from, to_mode: target, detail: 'not authorised' });
      out.info(`not authorised; manifest.yaml was not changed (still ${from}).`);
      throw new UsageError(`promote ${target} was not authorised`);
    }
    await session.event('authorised', { from_mode: from, to_mode: target, detail: `authorised by ${operator.actor} via ${how}` });

    const engine = await connectEngine(session, deps);
    const previousText = session.loaded.text;
    // From the first write of the manifest until the new mode is confirmed, Ctrl-C means "abort":
    // the Docker step in progress finishes, then the previous mode is restored (a second Ctrl-C
    // exits at once, through the lock's own cleanup).
    const interrupt = deferInterrupts(out, `rolling back to ${from}`);
    try {
      try {
        await applyMode(session, engine, target, nextText);
        interrupt.check();
      } catch (err) {
        const cause = err instanceof Interrupted ? err.message : (err as Error).message;
        out.error(`promote to ${target} failed: ${cause}`);
        out.info(`rolling back to ${from}`);
        // As the rollback command does: getting back matters more than recording it; an unwritable
        // ledger makes the records wait in a spool file (src/history/spool.ts), loudly.
        session.recordLater = true;
        try {
          await applyMode(session, engine, from, previousText);
          await session.event('rolled_back', { from_mode: target, to_mode: from, detail: `automatic rollback: ${cause}` });
          out.info(`rolled back: manifest.yaml restored, app confirmed in ${from} mode`);
        } catch (rollbackErr) {
          await session.event('failed', {
            from_mode: target,
            to_mode: from,
            detail: `automatic rollback failed: ${(rollbackErr as Error).message} (after: ${cause})`,
          });
          throw new OperationFailed(`promote failed (${cause}) and the automatic rollback failed too: ${(rollbackErr as Error).message}`);
        }
        if (err instanceof Interrupted) throw err;
        throw new OperationFailed(`promote to ${target} failed and was rolled back: ${cause}`);
      }
    } finally {
      interrupt.release();
    }
    await session.event('executed', { from_mode: from, to_mode: target, detail: 'manifest changed, app recreated' });
    await session.event('confirmed', { from_mode: from, to_mode: target, detail: `GET / confirms ${target}` });
    out.result(`promoted ${m.project.name}: ${from} -> ${target}`, { ok: true, action: 'promote', from, to: target, changed: true });
    return EXIT.OK;
  });
}

function fmtRate(r: number | null): string {
  return r === null ? 'no data' : `${(r * 100).toFixed(2)}%`;
}

function fmtSeconds(s: number | null): string {
  return s === null ? 'no data' : `${(s * 1000).toFixed(0)} ms`;
}
