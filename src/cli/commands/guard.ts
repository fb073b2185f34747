import type { Command } from 'commander';
import { action } from '../context.js';
import { paintOf } from '../paint.js';

interface GuardOptions {
  onceIncident: boolean;
}

/**
 * `guard`: the status loop as a guard. Each tick is judged by the guard policy (policies/guard.rego);
 * a sustained violation opens an incident whose stages (detected, proposed, authorised, executed,
 * recovered) are ledger records with their actors, and notices. Shadow mode (the default) records and
 * notifies what it would do and runs nothing. No lock is held while watching; an action takes it.
 */
export function register(program: Command): void {
  program
    .command('guard')
    .description('watch the stack under the guard policy; on a sustained violation propose (and, once authorised, run) rollback or abort')
    .option('--once-incident', 'exit 0 once the first incident has recovered', false)
    .addHelpText(
      'after',
      '\nguard.mode shadow (the default) records and notifies what the guard would do, "[SHADOW]" in every line, and runs nothing.\n' +
        'Exit: 0 with --once-incident after RECOVERED, 130 on Ctrl-C (between ticks).\n\nExamples:\n  $ swiftdeploy guard\n  $ swiftdeploy guard --once-incident --json\n',
    )
    .action(
      action<GuardOptions>(async (ctx, opts) => {
        const [{ Session }, { operatorFrom }, { createGuardDeps }, { runGuard }, { opaGuardPolicy }, render, { onInterrupt }, { dockerDataRoot }, { gatherHostFacts }, { guardSchema }] =
          await Promise.all([
            import('../../lifecycle/session.js'),
            import('../operator.js'),
            import('../../guard/deps.js'),
            import('../../guard/loop.js'),
            import('../../guard/policy.js'),
            import('../status-view.js'),
            import('../../util/signals.js'),
            import('../../runtime/docker-info.js'),
            import('../../policy/host-facts.js'),
            import('../../manifest/schema.js'),
          ]);
        const operator = operatorFrom(ctx, false);
        const session = await Session.open(ctx.manifestPath, operator, 'guard');
        const { manifest } = session;
        const out = ctx.out;
        const json = ctx.global.json;
        const paint = paintOf(out.c);
        // Without a `guard:` section the guard runs with the defaults: shadow, so it never acts unasked.
        const guard = manifest.guard ?? guardSchema.parse({});
        if (!manifest.guard && !json) out.info('no `guard:` section in the manifest: running with the defaults (mode shadow, sustain_ticks 3, recover_ticks 2)');
        const shadow = guard.mode === 'shadow';
        const dataRoot = await dockerDataRoot();
        const { rolloutStatusLine } = await import('../../lifecycle/rollout.js');
        let rollout: boolean = (await rolloutStatusLine(session).catch(() => undefined)) !== undefined;
        const client = await session.policyClient();
        const deps = createGuardDeps({
          session,
          operator,
          client,
          policy: opaGuardPolicy(client),
          metricsUrl: session.nginxUrl('/metrics'),
          hostFacts: () => gatherHostFacts({ projectDir: session.loaded.projectDir, dockerDataRoot: dataRoot }),
          rolloutRunning: () => rollout,
        });
        const abort = new AbortController();
        const stopListening = onInterrupt(() => abort.abort());
        if (!json) {
          out.info(
            `${shadow ? '[SHADOW] ' : ''}guard watching ${session.nginxUrl('/metrics')} every ${manifest.observability.status_interval} s: ` +
              `incident after ${guard.sustain_ticks} failing ticks, recovered after ${guard.recover_ticks} healthy ticks` +
              (shadow ? '; nothing will be run' : guard.auto_abort_canary ? '; a failing canary is aborted without a human (auto_abort_canary)' : '; every action needs an approval'),
          );
        }
        try {
          return await runGuard({
            deps,
            settings: { mode: guard.mode, autoAbortCanary: guard.auto_abort_canary, sustainTicks: guard.sustain_ticks, operator: operator.actor },
            recoverTicks: guard.recover_ticks,
            intervalMs: manifest.observability.status_interval * 1000,
            signal: abort.signal,
            onceIncident: opts.onceIncident,
            onTick: (tick, decision, error) => {
              void rolloutStatusLine(session).then(
                (r) => (rollout = r !== undefined),
                () => undefined,
              );
              if (json) {
                out.emit({ type: 'tick', ...render.tickDocument(tick), guard: decision ?? { unavailable: error } });
                return;
              }
              const w = tick.payload.window;
              const figures = w === null ? `metrics unavailable${tick.payload.error ? `: ${tick.payload.error}` : ''}` : `${w.requests} req, errors ${w.error_rate === null ? 'n/a' : `${(w.error_rate * 100).toFixed(1)}%`}`;
              const verdict = decision === null ? paint.warn(`guard policy unavailable: ${error ?? 'unknown'}`) : decision.detected ? paint.bad(decision.reason) : paint.dim(decision.reason);
              out.result(`${new Date(tick.at).toISOString().replace(/\.\d{3}Z$/, 'Z')}  ${figures}  ${verdict}`);
            },
            onStage: (s) => {
              if (json) {
                out.emit({ type: 'stage', stage: s.stage, actor: s.actor, summary: s.summary, incident: s.incident });
                return;
              }
              const colour = s.stage === 'recovered' ? paint.ok : s.stage === 'executed' && s.incident.outcome === 'failed' ? paint.bad : paint.warn;
              out.result(paint.bold(colour(`>>> GUARD ${s.stage.toUpperCase()} [${s.incident.id}] (${s.actor}) ${s.summary}`)));
            },
          });
        } finally {
          stopListening();
          await client.close();
          await session.settleNotifications();
        }
      }),
    );
}
