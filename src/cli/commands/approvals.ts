import type { Command } from 'commander';
import { EXIT, NotApproved } from '../../errors.js';
import { action } from '../context.js';
import { operatorFrom } from '../operator.js';

/** approve, deny, approvals, serve: the work in src/approvals/. */
export function register(program: Command): void {
  const decideCommand = (verdict: 'approve' | 'deny') =>
    action<{ reason?: string }, [string]>(async (ctx, opts, id) => {
      const [{ Session }, { decide }] = await Promise.all([import('../../lifecycle/session.js'), import('../../approvals/decide.js')]);
      const operator = operatorFrom(ctx, true);
      const session = await Session.open(ctx.manifestPath, operator, 'approval');
      const result = await decide(session, { via: 'terminal', id, verdict, actor: operator.actor, ...(opts.reason ? { reason: opts.reason } : {}) }).finally(() => session.settleNotifications());
      if (!result.ok) {
        // Refused and recorded; exit 9 like any approval that does not go through.
        throw new NotApproved(`${verdict} ${id}: ${result.message} (${result.why})`);
      }
      const end = result.outcome ? `; the request is ${result.outcome.outcome}` : `; ${result.pending} more approval${result.pending === 1 ? '' : 's'} needed`;
      ctx.out.emit({ ok: true, action: 'approval', approval_id: id, stage: result.stage, decided_by: result.approver, outcome: result.outcome?.outcome ?? 'pending', pending: result.pending });
      ctx.out.result(`${result.stage} ${id} as ${result.approver}${end}`);
      return EXIT.OK;
    });

  program
    .command('approve')
    .description('approve a requested action (you must be one of approvals.approvers)')
    .argument('<id>', 'the approval id (ap-...)')
    .option('--reason <text>', 'recorded with the decision')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy --actor alice@example.com approve ap-0123456789abcdef\n')
    .action(decideCommand('approve'));

  program
    .command('deny')
    .description('deny a requested action (ends the request at once)')
    .argument('<id>', 'the approval id (ap-...)')
    .requiredOption('--reason <text>', 'why, recorded with the decision')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy deny ap-0123456789abcdef --reason "not during the sale"\n')
    .action(decideCommand('deny'));

  program
    .command('approvals')
    .description('list the pending approval requests')
    .addHelpText('after', '\nExample:\n  $ swiftdeploy approvals\n  $ swiftdeploy --json approvals\n')
    .action(
      action(async (ctx) => {
        const [{ resolveProjectFiles }, { readLedgerView, outcomeOf }] = await Promise.all([import('../../util/project-paths.js'), import('../../approvals/store.js')]);
        const loaded = await ctx.loadManifest();
        const files = await resolveProjectFiles(loaded.projectDir, loaded.file, loaded.manifest.observability);
        const view = await readLedgerView(files.history);
        const pending = [...view.approvals.values()].filter((s) => !outcomeOf(s));
        const rows = pending.map((s) => ({
          id: s.request.id,
          summary: s.request.plan.summary,
          requested_by: s.request.requested_by,
          requested_at: s.requested_at,
          expires_at: s.request.expires_at,
          approved_by: s.decisions.filter((d) => d.stage === 'approved').map((d) => d.decided_by),
          required: s.request.required,
          executor: s.request.executor,
        }));
        ctx.out.emit({ ok: true, pending: rows });
        if (rows.length === 0) ctx.out.result('no pending approvals');
        for (const r of rows) {
          ctx.out.result(`${r.id}  ${r.summary}  by ${r.requested_by}  ${r.approved_by.length}/${r.required} approved  expires ${r.expires_at}`);
        }
        return EXIT.OK;
      }),
    );

  program
    .command('serve')
    .description('serve the one-tap approval links (approvals.serve); runs requests made with --request --detach once approved')
    .option('--insecure-listen', 'allow a non-loopback approvals.serve.listen without TLS', false)
    .addHelpText('after', '\nExample:\n  $ swiftdeploy serve\n')
    .action(
      action<{ insecureListen: boolean }>(async (ctx, opts) => {
        const [{ startServe }, { onInterrupt }] = await Promise.all([import('../../approvals/serve.js'), import('../../util/signals.js')]);
        const server = await startServe({ manifestPath: ctx.manifestPath, insecureListen: opts.insecureListen, log: (line) => ctx.out.info(`serve: ${line}`) });
        ctx.out.info(`serve: listening on ${server.url} (GET /healthz; Ctrl-C stops)`);
        ctx.out.emit({ ok: true, action: 'serve', url: server.url });
        // The first signal stops serve gracefully (running executions finish); a second exits at once.
        let stopListening: () => void = () => undefined;
        await new Promise<void>((resolve) => {
          stopListening = onInterrupt(() => resolve());
        });
        stopListening();
        await server.close();
        return EXIT.OK;
      }),
    );
}
