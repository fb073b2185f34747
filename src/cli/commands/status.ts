import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { action } from '../context.js';
import { paintOf } from '../paint.js';
import { LiveRegion } from '../redraw.js';

interface StatusOptions {
  once: boolean;
  interval?: string;
}

/**
 * `status`: watch the stack. Dashboard on a TTY, a plain block per tick otherwise, NDJSON with --json.
 * Every tick appends one status record; Ctrl-C stops between ticks, so the last record is complete.
 */
export function register(program: Command): void {
  program
    .command('status')
    .description('watch the stack: traffic, errors, latency and both policy verdicts; one history record per tick')
    .option('--once', 'sample one canary window, judge it, print, exit 0 ok / 3 denied / 4 engine unavailable / 1 no metrics', false)
    .option('--interval <seconds>', 'seconds between ticks (default: observability.status_interval)')
    .addHelpText('after', '\nExamples:\n  $ swiftdeploy status\n  $ swiftdeploy status --once --json\n  $ swiftdeploy status --interval 2 | tee status.log\n')
    .action(
      action<StatusOptions>(async (ctx, opts) => {
        const [{ Session }, { operatorFrom }, { createStatusDeps }, { sessionStatusWiring }, { StatusMonitor }, { runStatusLoop }, render, { SignalHistory }, { onInterrupt, onCleanup }, { dockerDataRoot }] =
          await Promise.all([
            import('../../lifecycle/session.js'),
            import('../operator.js'),
            import('../../status/deps.js'),
            import('../../lifecycle/status-wiring.js'),
            import('../../status/tick.js'),
            import('../../status/loop.js'),
            import('../status-view.js'),
            import('../../status/sparkline.js'),
            import('../../util/signals.js'),
            import('../../runtime/docker-info.js'),
          ]);
        // Status writes only status records; the session's action name is never recorded.
        const session = await Session.open(ctx.manifestPath, operatorFrom(ctx, false), 'policy_check');
        const { manifest } = session;
        const intervalS = opts.interval === undefined ? manifest.observability.status_interval : Number(opts.interval);
        if (!Number.isFinite(intervalS) || intervalS < 0.5 || intervalS > 3600) {
          throw new UsageError(`--interval: expected a number of seconds from 0.5 to 3600, got ${JSON.stringify(opts.interval)}`);
        }
        const { mode: canaryMode, window_seconds: windowSeconds } = manifest.policy.canary;
        // Docker's data root is the disk that fills up; asked once, not every tick.
        const dataRoot = await dockerDataRoot();
        const { gatherHostFacts } = await import('../../policy/host-facts.js');
        // A progressive rollout under way: which step and weight, and whether its driver still runs.
        const { rolloutStatusLine } = await import('../../lifecycle/rollout.js');
        let rollout: { line: string; summary: Record<string, unknown> } | undefined;
        const refreshRollout = async (): Promise<void> => {
          rollout = await rolloutStatusLine(session).catch((err: unknown) => ({ line: `rollout: ${(err as Error).message}`, summary: { error: (err as Error).message } }));
        };
        await refreshRollout();
        const client = await session.policyClient();
        const deps = createStatusDeps(
          sessionStatusWiring(session, {
            actor: ctx.actor(),
            client,
            hostFacts: () => gatherHostFacts({ projectDir: session.loaded.projectDir, dockerDataRoot: dataRoot }),
            rolloutRunning: () => rollout !== undefined,
          }),
        );
        const monitor = new StatusMonitor(deps, { windowSeconds, canaryEnforcement: canaryMode });

        const out = ctx.out;
        const dashboard = !ctx.global.json && !opts.once && out.stdout.isTTY === true;
        const paint = paintOf(out.c);
        const width = 60;
        const series = { rps: new SignalHistory(width), errorRate: new SignalHistory(width), p99: new SignalHistory(width) };


        const abort = new AbortController();
        const stopListening = onInterrupt(() => abort.abort());
        const screen = dashboard ? new LiveRegion(out.stdout, { fullScreen: true, hideCursor: true }) : undefined;
        if (screen) onCleanup(() => screen.close());
        try {
          return await runStatusLoop({
            monitor,
            intervalMs: intervalS * 1000,
            windowMs: windowSeconds * 1000,
            once: opts.once,
            signal: abort.signal,
            onSampling: (ms) => {
              if (!ctx.global.json) out.info(`sampling ${(ms / 1000).toFixed(0)} s of traffic from ${manifest.runtime === 'swarm' ? `every replica of ${manifest.project.name}_app${rollout ? ` and ${manifest.project.name}_app-canary` : ''}` : session.nginxUrl('/metrics')} ...`);
            },
            onTick: (tick) => {
              const w = tick.payload.window;
              series.rps.push(w?.requests_per_second ?? null);
              series.errorRate.push(w?.error_rate ?? null);
              series.p99.push(w?.p99_seconds ?? null);
              const tracks = tick.payload.tracks;
              const replicas = tick.payload.replicas;
              const extra =
                (rollout ? `\n${rollout.line}` : '') + (tracks ? `\n${render.tracksLine(tracks)}` : '') + (replicas ? `\n${render.replicaLines(replicas).join('\n')}` : '');
              if (ctx.global.json) out.emit({ ...render.tickDocument(tick), ...(rollout ? { rollout: rollout.summary } : {}) });
              else if (screen) screen.draw(render.renderDashboard(tick, { rps: series.rps.all, errorRate: series.errorRate.all, p99: series.p99.all }, paint, width) + extra);
              else out.result(render.renderPlainBlock(tick) + extra);
              void refreshRollout();
            },
          });
        } finally {
          stopListening();
          screen?.close();
          await client.close();
        }
      }),
    );
}
