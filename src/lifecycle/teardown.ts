import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { EXIT, OperationFailed, UsageError, type ExitCode } from '../errors.js';
import { COMPOSE_FILE, NGINX_CONF, STACK_FILE } from '../util/project-paths.js';
import { withProjectLock, type LockOptions } from './locking.js';
import { assertCanAuthorise, Session, type Operator } from './session.js';
import { connectEngine, type LifecycleDeps } from './engine.js';
import { changeFiles, performEffect } from './wal.js';
import { planGenerate } from '../render/generate.js';
import { activeRollout } from './rollout.js';
import { abort as abortState, describeRollout } from './rollout-state.js';
import { rolloutFileContent, rolloutFileIn } from './rollout-store.js';

export interface TeardownOptions extends LockOptions {
  /** Also delete the generated files (never the manifest, history or audit report). */
  clean?: boolean;
}

/** teardown: compose down (orphans and the network removed; the log volume is kept), authorised and recorded. */
export async function teardown(manifestPath: string, operator: Operator, options: TeardownOptions = {}, deps: LifecycleDeps = {}): Promise<ExitCode> {
  assertCanAuthorise(operator, 'teardown');
  const session = await Session.open(manifestPath, operator, 'teardown');
  return withProjectLock(session, 'teardown', options, async () => {
    const { out } = session;
    const name = session.manifest.project.name;
    await session.event('requested', { detail: `teardown${options.clean ? ' --clean' : ''}` });
    const how = await session.authorise(`Stop and remove every container of ${name}? [y/N] `);
    if (!how) {
      await session.event('failed', { detail: 'not authorised' });
      throw new UsageError('teardown was not authorised');
    }
    await session.event('authorised', { detail: `authorised by ${operator.actor} via ${how}` });
    try {
      const engine = await connectEngine(session, deps);
      await performEffect(session, `compose down project ${name}`, () => engine.down(), { command: 'teardown' });
      const removed: string[] = [];
      // A rollout under way ends with its stack: recorded as aborted, files back to the stable track.
      const active = await activeRollout(session);
      if (active) {
        const aborted = abortState(active, `teardown by ${operator.actor}`, new Date());
        const plans = (await planGenerate(session.loaded, { force: true })).filter((p) => !p.unchanged);
        await changeFiles(session, [...plans, { abs: rolloutFileIn(session.stateDir), content: rolloutFileContent(aborted) }], {
          detail: `rollout ${active.id}: aborted by teardown`,
          command: 'teardown',
        });
        out.info(`the rollout of ${active.canary.image} was aborted with the stack (${describeRollout(aborted)})`);
      }
      if (options.clean) {
        // The paths the session resolved when it opened: a symlink leading out was refused then.
        const swarm = session.manifest.runtime === 'swarm';
        const planned = [session.files.nginxConf, session.files.compose, ...(swarm ? [session.files.stack] : [])].map((abs) => ({ abs, content: null }));
        const names = [NGINX_CONF, COMPOSE_FILE, ...(swarm ? [STACK_FILE] : [])];
        await changeFiles(session, planned, { detail: `delete ${names.join(', ')}`, command: 'teardown --clean' });
        removed.push(...names);
        // nginx/ held only the generated nginx.conf; leave it if someone put anything else there
        await rmdir(path.dirname(session.files.nginxConf)).catch(() => undefined);
      }
      await session.event('executed', { detail: `compose down${removed.length ? `; removed ${removed.join(', ')}` : ''}` });
      const left = await engine.services();
      if (left.length > 0) {
        throw new OperationFailed(`containers remain after compose down: ${left.map((c) => `${c.service} (${c.state})`).join(', ')}`);
      }
      await session.event('confirmed', { detail: 'no containers of the project remain' });
      out.result(`tore down ${name}${removed.length ? ` and removed ${removed.join(', ')}` : ''}`, { ok: true, action: 'teardown', project: name, removed });
      return EXIT.OK;
    } catch (err) {
      await session.event('failed', { detail: (err as Error).message }).catch(() => undefined);
      throw err;
    }
  });
}
