import type { Command } from 'commander';
import { EXIT } from '../../errors.js';
import { action } from '../context.js';
import { operatorFrom } from '../operator.js';

export function register(program: Command): void {
  const lock = program
    .command('lock')
    .description('inspect or release the project lock (.swiftdeploy/lock)')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy lock status\n  $ swiftdeploy lock release --force\n');

  lock
    .command('status')
    .description('who holds the lock, since when, for what; exit 0 free, 5 held')
    .action(
      action(async (ctx) => {
        const [{ lockStatus, lockHeldMessage }, { resolveStateDir }] = await Promise.all([
          import('../../lock/index.js'),
          import('../../util/project-paths.js'),
        ]);
        const status = await lockStatus(await resolveStateDir(ctx.projectDir));
        ctx.out.emit({ ok: true, lock: status });
        if (status.state === 'free') {
          ctx.out.result('free');
          return EXIT.OK;
        }
        ctx.out.result(lockHeldMessage(status));
        return EXIT.LOCKED;
      }),
    );

  lock
    .command('release')
    .description('remove a stale lock (its holder is dead); recorded in history')
    .requiredOption('--force', 'required: say you mean it')
    .action(
      action(async (ctx) => {
        const [{ describeHolder }, { Session }, { releaseStaleLock }] = await Promise.all([
          import('../../lock/index.js'),
          import('../../lifecycle/session.js'),
          import('../../lifecycle/lock-release.js'),
        ]);
        // The session first: the removal is recorded before it happens (exit 7 when it cannot be).
        const session = await Session.open(ctx.manifestPath, operatorFrom(ctx, true), 'lock_release');
        const result = await releaseStaleLock(session);
        const previous = result.previous?.state === 'held' ? describeHolder(result.previous.holder) : result.previous?.reason;
        ctx.out.emit({ ok: true, removed: result.removed, previous: result.previous ?? null });
        ctx.out.result(result.removed ? `released: ${previous}` : 'the lock was already free');
        return EXIT.OK;
      }),
    );
}
