import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import type { Plan } from '../../approvals/types.js';
import { UsageError, type ExitCode } from '../../errors.js';
import type { Operator } from '../../lifecycle/session.js';
import type { AppMode } from '../../manifest/schema.js';
import { action, type CliContext } from '../context.js';
import { operatorFrom } from '../operator.js';

const LOCK_WAIT = ['--lock-wait <seconds>', 'wait up to this long for another swiftdeploy operation instead of exiting 5'] as const;

function seconds(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > max) throw new InvalidArgumentError(`${name}: expected a number of seconds from 0 to ${max}`);
    return n;
  };
}

interface AuthorisationOptions {
  yes: boolean;
  request: boolean;
  detach: boolean;
  approval?: string;
}

/** --request, --detach and the hidden --approval (what `serve` runs) on every command that needs an authorisation. */
function approvalOptions(command: Command): Command {
  return command
    .option('--request', 'ask the approvers (approvals:) instead of authorising here; waits for the decision, then runs', false)
    .option('--detach', 'with --request: return at once with the request id; `swiftdeploy serve` runs it once approved', false)
    .addOption(new Option('--approval <id>', 'run with this approved request (used by serve)').hideHelp());
}

/**
 * Authorise here (--yes, a TTY), or ask the approvers: with --request, or off a TTY without --yes
 * when `approvals:` is configured. The links are secrets: shown only on the requester's terminal,
 * and only when no webhook carries them.
 */
async function authorised(ctx: CliContext, opts: AuthorisationOptions, plan: Plan, run: (operator: Operator) => Promise<ExitCode>): Promise<ExitCode> {
  const operator = operatorFrom(ctx, opts.yes);
  if (opts.approval !== undefined) {
    if (opts.request || opts.yes) throw new UsageError('--approval cannot be combined with --request or --yes');
    return run({ ...operator, approval: { id: opts.approval, plan } });
  }
  if (opts.request && opts.yes) throw new UsageError('--request asks the approvers; --yes authorises here: pass one of them');
  if (opts.detach && !opts.request) throw new UsageError('--detach needs --request');
  const ask = opts.request || (!opts.yes && !operator.confirm && (await ctx.loadManifest()).manifest.approvals !== undefined);
  if (!ask) return run(operator);
  const { requestThenRun } = await import('../../approvals/request.js');
  return requestThenRun(
    ctx.manifestPath,
    operator,
    plan,
    {
      detach: opts.detach,
      showLinks: (links) => {
        if (ctx.global.json) return;
        ctx.out.info('approval links (secrets: each is for one approver only; no webhook is configured to carry them):');
        for (const link of links) ctx.out.info(`  ${link.approver}: ${link.url}`);
      },
    },
    run,
  );
}

/** deploy, promote, rollback, teardown, chaos: flags here, the work in src/lifecycle/. */
export function register(program: Command): void {
  program
    .command('deploy')
    .description('render, ask policy (infrastructure/pre_deploy), compose up, and wait until healthy through nginx')
    .option('--force', 'overwrite hand-edited generated files', false)
    .option(LOCK_WAIT[0], LOCK_WAIT[1], seconds('--lock-wait', 3600))
    .addHelpText('after', '\nExample:\n  $ swiftdeploy deploy\n  $ swiftdeploy --actor alice@example.com deploy --lock-wait 60\n')
    .action(
      action<{ force: boolean; lockWait?: number }>(async (ctx, opts) => {
        const { deploy } = await import('../../lifecycle/deploy.js');
        return deploy(ctx.manifestPath, operatorFrom(ctx, true), { force: opts.force, lockWaitSeconds: opts.lockWait });
      }),
    );

  const promoteCommand = program
    .command('promote')
    .description('switch the app between stable and canary: gate first, then one manifest line, recreate the app only, confirm')
    .addArgument(new Argument('<mode>', 'target mode').choices(['canary', 'stable']))
    .option('-y, --yes', 'authorise without asking (required when not on a terminal)', false)
    .option(LOCK_WAIT[0], LOCK_WAIT[1], seconds('--lock-wait', 3600));
  approvalOptions(promoteCommand)
    .addHelpText('after', '\nExample:\n  $ swiftdeploy promote canary\n  $ swiftdeploy promote stable --yes\n  $ swiftdeploy promote stable --request\n')
    .action(
      action<AuthorisationOptions & { lockWait?: number }, [AppMode]>(async (ctx, opts, mode) => {
        const { promote } = await import('../../lifecycle/promote.js');
        const plan: Plan = { action: 'promote', args: { mode }, summary: `promote ${mode}` };
        return authorised(ctx, opts, plan, (operator) => promote(ctx.manifestPath, mode, operator, { lockWaitSeconds: opts.lockWait }));
      }),
    );

  const rollbackCommand = program
    .command('rollback')
    .description('back to stable now, without a canary gate (authorised and recorded)')
    .option('--reason <text>', 'why, recorded in history and the audit report')
    .option('-y, --yes', 'authorise without asking (required when not on a terminal)', false)
    .option(LOCK_WAIT[0], LOCK_WAIT[1], seconds('--lock-wait', 3600));
  approvalOptions(rollbackCommand)
    .addHelpText('after', '\nExample:\n  $ swiftdeploy rollback --reason "canary 5xx spike" --yes\n  $ swiftdeploy rollback --reason "canary 5xx spike" --request --detach\n')
    .action(
      action<AuthorisationOptions & { reason?: string; lockWait?: number }>(async (ctx, opts) => {
        const { rollback } = await import('../../lifecycle/rollback.js');
        const plan: Plan = { action: 'rollback', args: opts.reason !== undefined ? { reason: opts.reason } : {}, summary: `rollback${opts.reason ? ` (${opts.reason})` : ''}` };
        return authorised(ctx, opts, plan, (operator) => rollback(ctx.manifestPath, operator, { reason: opts.reason, lockWaitSeconds: opts.lockWait }));
      }),
    );

  const resumeCommand = program
    .command('resume')
    .description('continue a paused progressive rollout (or one whose driving process is gone) from its current step')
    .option('-y, --yes', 'authorise without asking (required when not on a terminal)', false)
    .option(LOCK_WAIT[0], LOCK_WAIT[1], seconds('--lock-wait', 3600));
  approvalOptions(resumeCommand)
    .addHelpText('after', '\nExample:\n  $ swiftdeploy resume --yes\n')
    .action(
      action<AuthorisationOptions & { lockWait?: number }>(async (ctx, opts) => {
        const { resumeRollout } = await import('../../lifecycle/rollout.js');
        const plan: Plan = { action: 'resume', args: {}, summary: 'resume the rollout' };
        return authorised(ctx, opts, plan, (operator) => resumeRollout(ctx.manifestPath, operator, { lockWaitSeconds: opts.lockWait }));
      }),
    );

  const abortCommand = program
    .command('abort')
    .description('end a progressive rollout: canary weight 0, canary removed, stable untouched (never gated; recorded)')
    .option('--reason <text>', 'why, recorded in history and the audit report')
    .option('-y, --yes', 'authorise without asking (required when not on a terminal)', false)
    .option(LOCK_WAIT[0], LOCK_WAIT[1], seconds('--lock-wait', 3600));
  approvalOptions(abortCommand)
    .addHelpText('after', '\nExample:\n  $ swiftdeploy abort --reason "p99 doubled on the canary" --yes\n')
    .action(
      action<AuthorisationOptions & { reason?: string; lockWait?: number }>(async (ctx, opts) => {
        const { abortRollout } = await import('../../lifecycle/rollout.js');
        const plan: Plan = { action: 'abort', args: opts.reason !== undefined ? { reason: opts.reason } : {}, summary: `abort the rollout${opts.reason ? ` (${opts.reason})` : ''}` };
        return authorised(ctx, opts, plan, (operator) => abortRollout(ctx.manifestPath, operator, { reason: opts.reason, lockWaitSeconds: opts.lockWait }));
      }),
    );

  const teardownCommand = program
    .command('teardown')
    .description('stop and remove the stack (compose down); --clean also deletes the generated files')
    .option('--clean', 'also delete nginx/nginx.conf and docker-compose.yml (never the manifest, history or report)', false)
    .option('-y, --yes', 'authorise without asking (required when not on a terminal)', false)
    .option(LOCK_WAIT[0], LOCK_WAIT[1], seconds('--lock-wait', 3600));
  approvalOptions(teardownCommand)
    .addHelpText('after', '\nExample:\n  $ swiftdeploy teardown --yes\n  $ swiftdeploy teardown --clean --yes\n')
    .action(
      action<AuthorisationOptions & { clean: boolean; lockWait?: number }>(async (ctx, opts) => {
        const { teardown } = await import('../../lifecycle/teardown.js');
        const plan: Plan = { action: 'teardown', args: opts.clean ? { clean: true } : {}, summary: `teardown${opts.clean ? ' --clean' : ''}` };
        return authorised(ctx, opts, plan, (operator) => teardown(ctx.manifestPath, operator, { clean: opts.clean, lockWaitSeconds: opts.lockWait }));
      }),
    );

  const chaos = program
    .command('chaos')
    .description("inject slowness or errors into the running app through nginx (uses the project's chaos token)")
    .addHelpText('after', '\nExample:\n  $ swiftdeploy chaos error --rate 0.5\n  $ swiftdeploy chaos slow --duration 2\n  $ swiftdeploy chaos recover\n');
  chaos.option('--track <track>', 'during a progressive rollout: only the stable or the canary track', (v: string) => {
    if (v !== 'stable' && v !== 'canary') throw new InvalidArgumentError('--track: expected stable or canary');
    return v;
  });
  const run = (command: import('../../lifecycle/chaos.js').ChaosCommand) =>
    action(async (ctx) => {
      const { chaos: inject } = await import('../../lifecycle/chaos.js');
      const track = chaos.opts<{ track?: 'stable' | 'canary' }>().track;
      return inject(ctx.manifestPath, operatorFrom(ctx, true), command, track ? { track } : {});
    });
  chaos
    .command('slow')
    .description('delay ordinary requests')
    .requiredOption('--duration <seconds>', 'delay per request, up to 30 s', seconds('--duration', 30))
    .action(async (opts: { duration: number }, cmd: Command) => run({ mode: 'slow', duration: opts.duration })(opts, cmd));
  chaos
    .command('error')
    .description('fail a fraction of ordinary requests with 500')
    .requiredOption('--rate <fraction>', 'from 0 to 1', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('--rate: expected a number from 0 to 1');
      return n;
    })
    .action(async (opts: { rate: number }, cmd: Command) => run({ mode: 'error', rate: opts.rate })(opts, cmd));
  chaos
    .command('recover')
    .description('stop injecting')
    .action(async (opts: object, cmd: Command) => run({ mode: 'recover' })(opts, cmd));
}
